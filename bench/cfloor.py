"""The C floor of the articles' tiny networks: loopnet's loops against a plain C program of the same epoch.

    python bench/cfloor.py [--epochs 200000] [--repeat 5] [--check-epochs 2000]

``loopnet/cfloor.c`` is one full-batch epoch (forward, the loss recorded every
epoch, backward, plain SGD) written as plain C with the network's sizes as
compile-time constants, built with ``cc -O3 -march=native -ffp-contract=off``
(strict IEEE: no fast-math, no fused multiply-add). Per network of
:data:`NETWORKS` (the activations, loss and learning rate of its
``loopnet.benchmarks`` case) this script

1. checks the C program's final weights and last loss equal loopnet's
   (``backend="loops"``, the same initial weights, ``--check-epochs`` epochs)
   to :data:`RTOL` relative: the floor computes what loopnet computes;
2. times both, ``--repeat`` rounds of one C run and one loopnet fit of
   ``--epochs`` epochs each, in turn, the best of each counting: the C
   program, and ``loopnet.training.fit(..., chunk_seconds=math.inf)`` (every
   epoch in one compiled call; a tiny network never starts threads) after a
   warm-up fit. Both count the CPU time of the thread
   that trains (``CLOCK_THREAD_CPUTIME_ID``, ``time.thread_time``), not the
   wall clock: on a shared machine a C run of 30 ms and a loopnet run of
   100 ms are interrupted unequally often, and the wall clock favours the
   shorter one;
3. prints nanoseconds per epoch of each and their ratio, under the machine line.

The target (measured, not asserted): loopnet's loops within 1.5x of the C
floor. Without a C compiler (``$CC`` or ``cc``) the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import loopnet
from loopnet import benchmarks, cfloor, machine, training

NETWORKS = ("and 2-2-1", "three-bit 3-5-1", "perceptron 3-1", "xor 2-8-1")
"""The articles' tiny networks, each trained full batch (the cases of ``loopnet.benchmarks``)."""
RTOL = cfloor.RTOL


def build(case: benchmarks.Case, directory: Path) -> Path:
    """Compile loopnet/cfloor.c for ``case`` into ``directory``; returns the program's path."""
    out = directory / f"cfloor-{case.slug}"
    return cfloor.build(case.sizes, case.rows, case.activation, case.output_activation, case.loss, out)


def loopnet_fit(case: benchmarks.Case, epochs: int) -> tuple[loopnet.Network, float, float]:
    """``epochs`` epochs in one compiled call from the seed-0 weights: (network, last loss, seconds)."""
    data = case.data()
    net = case.network(backend="loops")
    start = time.thread_time()
    history = training.fit(net, data.X, data.Y, epochs, lr=case.lr, chunk_seconds=math.inf)
    elapsed = time.thread_time() - start
    return net, float(history["loss"][-1]) if epochs else math.nan, elapsed


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|b|, tiny) over the entries."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), np.finfo(np.float64).tiny)))


def compare(case: benchmarks.Case, directory: Path, epochs: int, repeats: int, check_epochs: int) -> dict:
    """Build, check and time one network; the row of the table."""
    program = build(case, directory)
    data = case.data()
    path = directory / f"{case.slug}.txt"
    cfloor.write_data(path, data.X, data.Y, case.network(backend="loops").params)
    check = cfloor.run(program, path, check_epochs, 1, case.lr)
    net, loss, _ = loopnet_fit(case, check_epochs)
    error = max(relative_error(net.params, check.params), relative_error([loss], [check.loss]))
    loopnet_fit(case, 10)  # warm-up: the compiled kernels are loaded before anything is timed
    c_ns, loops_ns = [], []
    for _ in range(repeats):  # in turn, round after round: a slow spell of a shared machine hits both
        c_ns.append(cfloor.run(program, path, epochs, 1, case.lr).ns_per_epoch)
        loops_ns.append(1e9 * loopnet_fit(case, epochs)[2] / epochs)
    return {"name": case.name, "c_ns": min(c_ns), "loops_ns": min(loops_ns), "error": error}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=200_000, help="epochs of each timed run")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each; the best counts")
    parser.add_argument("--check-epochs", type=int, default=2000, help="epochs of the weights check")
    args = parser.parse_args(argv)
    print(machine.machine_line(machine.machine_info(measure=False)))
    cc = cfloor.compiler()
    if cc is None:
        print("no C compiler (set CC or install cc): the C floor is skipped")
        return 0
    print(
        f"C: {cc} {' '.join(cfloor.CFLAGS)}; loopnet {loopnet.__version__}, float64, full batch, "
        "loss every epoch"
    )
    header = f"{'network':18s} {'C ns/epoch':>11s} {'loops ns/epoch':>15s} {'loops / C':>10s}"
    print(f"{header} {'weights vs C':>13s}")
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for name in NETWORKS:
            row = compare(benchmarks.CASES[name], Path(tmp), args.epochs, args.repeat, args.check_epochs)
            ok = row["error"] <= RTOL
            failed |= not ok
            print(
                f"{row['name']:18s} {row['c_ns']:11.1f} {row['loops_ns']:15.1f} "
                f"{row['loops_ns'] / row['c_ns']:9.2f}x {row['error']:10.1e} {'ok' if ok else 'DIFFER'}",
                flush=True,
            )
    if failed:
        print(
            f"the C program's weights differ from loopnet's by more than {RTOL:g} relative", file=sys.stderr
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
