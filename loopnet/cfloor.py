"""The C floor: the articles' tiny full-batch epoch as a plain C program, built with the system's compiler.

``cfloor.c`` (beside this file) is the same math as loopnet's loops, term for term
and in the same order (strict IEEE, libm's exp, tanh and log1p), with the
network's sizes as compile-time constants. It is the floor a tiny network's
epoch is raced against: ``loopnet bench``'s ``c`` contender and
``bench/cfloor.py`` use it, and tests/test_cfloor.py holds its final weights
equal to the loops' (so it is also an outside oracle for the tiny path).

Building needs a C compiler (``$CC``, else ``cc``); without one, :func:`compiler`
returns None and callers skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import numpy as np

SOURCE = Path(__file__).with_name("cfloor.c")
CFLAGS = ("-O3", "-march=native", "-ffp-contract=off", "-std=c11")
"""Optimised for this CPU, but strict: no fast-math, and no fused multiply-add (Numba's strict kernels round
a * b + c twice)."""
RTOL = 1e-12
"""How close loopnet's final weights are to the C program's, relative (they are equal in practice)."""
ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu")
LOSSES = ("sse", "mse", "bce")


class CResult(NamedTuple):
    ns_per_epoch: float  # the best repeat's CPU time of the training thread, per epoch
    loss: float  # the last epoch's loss
    params: np.ndarray  # the final parameters, loopnet's flat layout


def compiler() -> str | None:
    """The C compiler to use: ``$CC`` or ``cc`` on the PATH; None when there is none."""
    return shutil.which(os.environ.get("CC", "cc"))


def supports(sizes, activation: str, output_activation: str, loss: str) -> bool:
    """Whether cfloor.c implements this network: its activations and losses are a subset of loopnet's."""
    if loss == "bce" and output_activation != "sigmoid":
        return False
    return {activation, output_activation} <= set(ACTIVATIONS) and loss in LOSSES and len(sizes) >= 2


def build(sizes, rows: int, activation: str, output_activation: str, loss: str, out: Path) -> Path:
    """Compile cfloor.c for one network and row count into the file ``out``; returns it.

    Raises RuntimeError without a compiler, ValueError for a network cfloor.c does not implement.
    """
    cc = compiler()
    if cc is None:
        raise RuntimeError("no C compiler: set CC or install cc")
    if not supports(sizes, activation, output_activation, loss):
        raise ValueError(f"the C floor has no {activation}/{output_activation}/{loss} network")
    acts = [activation] * (len(sizes) - 2) + [output_activation]
    defines = {
        "ROWS": rows,
        "LAYERS": len(sizes) - 1,
        "SIZES": ",".join(map(str, sizes)),
        "ACTS": ",".join(name.upper() for name in acts),
        "LOSS": loss.upper(),
    }
    command = [cc, *CFLAGS, *(f"-D{k}={v}" for k, v in defines.items()), str(SOURCE), "-lm", "-o", str(out)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return out


def write_data(path: Path, X: np.ndarray, Y: np.ndarray, params: np.ndarray) -> None:
    """X, Y and the initial parameters as hex floats (exact), in the order cfloor.c reads them."""
    values = np.concatenate([np.ravel(X), np.ravel(Y), np.ravel(params)]).astype(np.float64)
    path.write_text(" ".join(float(v).hex() for v in values) + "\n")


def run(program: Path, data: Path, epochs: int, repeats: int, lr: float) -> CResult:
    """Run a built program: ``repeats`` trainings of ``epochs`` epochs from the file's parameters."""
    proc = subprocess.run(
        [str(program), str(data), str(epochs), str(repeats), float(lr).hex()],
        check=True,
        capture_output=True,
        text=True,
    )
    fields = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines() if line.strip()}
    return CResult(
        float(fields["ns_per_epoch"][0]),
        float.fromhex(fields["loss"][0]),
        np.array([float.fromhex(v) for v in fields["params"]]),
    )
