"""Start-up cost of a fresh process: import, first fit and first predict, with a warm and a cold Numba cache.

    python bench/startup.py [--repeat 7] [--cold-repeat 2]

Every timing is the wall time of a whole ``python -c`` process, interpreter
start included, so a row minus the baseline row is what loopnet adds:

* baseline: ``import numba, numpy``;
* Numba's floor: the first call of a one-line ``@njit(cache=True)`` function
  loaded from the cache. Numba's first call in a process sets up its typing and
  target contexts (importing SciPy for BLAS when SciPy is installed), and the
  interpreter then takes longer to exit; every Numba library pays this, so the
  tiny row minus this row is loopnet's own share;
* ``import loopnet`` alone;
* tiny: ``import loopnet``, then a first fit of the default 2-2-1 network (the
  ``loops`` backend, float64, 10 epochs on the AND table: the tiny-network
  kernels) and a predict;
* digits: a first fit of a 64-128-10 relu/softmax/cross_entropy network on
  1797 x 64 random inputs, one epoch at batch 32 (the register-blocked
  kernels, ``fast.train_epochs_fast``) and a predict of all rows (big enough for
  the ``*_par`` drivers, so Numba's thread pool starts too);
* digits Adam: the same with ``optimizer=loopnet.Adam()`` (cold only);
* warmup: ``python -m loopnet warmup --dtype float64`` (cold only), what a
  Docker build step pays so that the rows above start warm.

A first fit that compiles compiles only the variant it runs: the tiny-network
loops, or the blocked loops without the ``*_par`` drivers when no product of
the fit reaches the thread pool (the digits fit at batch 32) and without the
validation code when there are no validation rows.

Warm rows run against a cache a previous process filled; the runs are
interleaved round by round and the best is shown with the range across
rounds. Cold rows start from an empty cache directory, so they measure
compiling (and writing) every function the run needs: everything a default
network needs for the tiny row, the blocked path as well for the digits row.

The processes import a copy of the package made at the start, with its own
``NUMBA_CACHE_DIR`` in a temporary directory: the package's ``__pycache__`` is
neither read nor touched, and edits to the working tree during the run do not
invalidate the cache under measurement. The target of issue 3: a warm import
plus first tiny fit adds at most 0.5 s to importing numba.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import loopnet

TARGET = 0.5
"""Seconds a warm ``import loopnet`` + first tiny fit may add to ``import numba, numpy``."""

BASELINE = "import numba, numpy"
FLOOR = "import numba_floor; numba_floor.one(1)"
FLOOR_MODULE = """import numba


@numba.njit(cache=True)
def one(x):
    return x + 1
"""
IMPORT = "import loopnet"
TINY = (
    "import numpy as np, loopnet\n"
    "X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]]); Y = np.array([0, 0, 0, 1])\n"
    "net = loopnet.Network([2, 2, 1], seed=0)\n"
    "net.fit(X, Y, epochs=10, lr=2.0)\n"
    "net.predict(X)\n"
)
DIGITS = (
    "import numpy as np, loopnet\n"
    "rng = np.random.default_rng(0)\n"
    "X = rng.random((1797, 64)); Y = np.eye(10)[rng.integers(0, 10, 1797)]\n"
    "net = loopnet.Network([64, 128, 10], activation='relu', output_activation='softmax',\n"
    "                      loss='cross_entropy', seed=0)\n"
    "net.fit(X, Y, epochs=1, lr=0.05, batch_size=32)\n"
    "net.predict(X)\n"
)
DIGITS_ADAM = DIGITS.replace("lr=0.05, batch_size=32", "batch_size=32, optimizer=loopnet.Adam()")
WARMUP = "import sys, loopnet.cli; sys.exit(loopnet.cli.main(['warmup', '--dtype', 'float64']))"


class Sandbox:
    """A copy of the package and the environment that makes a subprocess import it."""

    def __init__(self, root: Path):
        self.root = root
        src = root / "src"
        shutil.copytree(Path(loopnet.__file__).parent, src / "loopnet",
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        (src / "numba_floor.py").write_text(FLOOR_MODULE)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
        self.env["PYTHONPATH"] = str(src)

    def cache(self, name: str) -> Path:
        """A new, empty cache directory."""
        path = self.root / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir()
        return path

    def seconds(self, code: str, cache: Path) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=self.root, check=True, stdout=subprocess.DEVNULL,
                       env={**self.env, "NUMBA_CACHE_DIR": str(cache)})  # fmt: skip
        return time.perf_counter() - start


def row(label: str, times: list[float], base: float | None) -> str:
    best = min(times)
    spread = f"{best:.2f}-{max(times):.2f}" if len(times) > 1 else ""
    added = f"+{best - base:.2f}" if base is not None else ""
    return f"| {label:<48} | {best:6.2f} | {spread:>11} | {added:>7} | {len(times):>4} |"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="rounds of warm runs (best is shown)")
    parser.add_argument("--cold-repeat", type=int, default=2, help="cold runs of each workload")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="loopnet-startup-") as tmp:
        box = Sandbox(Path(tmp))
        box.seconds(FLOOR, box.cache("floor"))  # fill its cache
        cold_tiny = [box.seconds(TINY, box.cache("tiny")) for _ in range(args.cold_repeat)]
        cold_digits = [box.seconds(DIGITS, box.cache("digits")) for _ in range(args.cold_repeat)]
        cold_adam = [box.seconds(DIGITS_ADAM, box.cache("adam")) for _ in range(args.cold_repeat)]
        cold_warmup = [box.seconds(WARMUP, box.cache("warmup")) for _ in range(args.cold_repeat)]
        tiny_cache, digits_cache = box.root / "tiny", box.root / "digits"
        warm: dict[str, list[float]] = {"base": [], "floor": [], "import": [], "tiny": [], "digits": []}
        for _ in range(args.repeat):
            warm["base"].append(box.seconds(BASELINE, tiny_cache))
            warm["floor"].append(box.seconds(FLOOR, box.root / "floor"))
            warm["import"].append(box.seconds(IMPORT, tiny_cache))
            warm["tiny"].append(box.seconds(TINY, tiny_cache))
            warm["digits"].append(box.seconds(DIGITS, digits_cache))

    base = min(warm["base"])
    print(f"fresh-process wall times, s (Python {sys.version.split()[0]}, {os.cpu_count()} cores)")
    print(f"| {'process':<48} | {'best':>6} | {'range':>11} | {'added':>7} | {'runs':>4} |")
    print(f"|{'-' * 50}|{'-' * 8}|{'-' * 13}|{'-' * 9}|{'-' * 6}|")
    print(row("(a) import numba, numpy", warm["base"], None))
    print(row("    Numba's floor: 1-line cached @njit, 1st call", warm["floor"], base))
    print(row("    import loopnet, warm cache", warm["import"], base))
    print(row("(b) + first tiny fit + predict, warm cache", warm["tiny"], base))
    print(row("(c) + first digits fit + predict, warm cache", warm["digits"], base))
    print(row("(d) + first tiny fit + predict, cold cache", cold_tiny, base))
    print(row("(d) + first digits fit + predict, cold cache", cold_digits, base))
    print(row("(d) + first digits Adam fit + predict, cold cache", cold_adam, base))
    print(row("(e) loopnet warmup --dtype float64, cold cache", cold_warmup, base))
    added = min(warm["tiny"]) - base
    verdict = "met" if added <= TARGET else "NOT met"
    print(f"target: warm import + first tiny fit adds <= {TARGET} s to importing numba: "
          f"+{added:.2f} s, {verdict}")  # fmt: skip
    own = min(warm["tiny"]) - min(warm["floor"])
    floor = min(warm["floor"]) - base
    print(f"of which Numba's floor (the first call of any cached @njit function) is +{floor:.2f} s "
          f"and loopnet's own share {own:+.2f} s")  # fmt: skip
    compile_blocked = min(cold_digits) - min(warm["digits"])
    print(f"compiling from an empty cache: {min(cold_tiny) - min(warm['tiny']):.1f} s for the tiny "
          f"network, {compile_blocked:.1f} s for the digits network (blocked path included)")  # fmt: skip


if __name__ == "__main__":
    main()
