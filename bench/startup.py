"""Start-up cost of a fresh process: import plus a first tiny fit, with a warm and a cold Numba cache.

    python bench/startup.py

Deletes loopnet's cached machine code (``loopnet/__pycache__/*.nbi, *.nbc``) for the
cold run, so the next process recompiles once. Best of three for the warm timings.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import loopnet

FIRST_FIT = (
    "import numpy as np, loopnet; net = loopnet.Network([2, 2, 1], seed=0); "
    "net.fit(np.eye(2), np.ones(2), epochs=10, lr=0.1); net.predict(np.eye(2))"
)


def seconds(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main():
    seconds(FIRST_FIT)  # make sure the cache is warm
    base = min(seconds("import numba, numpy") for _ in range(3))
    warm = min(seconds(FIRST_FIT) for _ in range(3))
    cache = Path(loopnet.__file__).parent / "__pycache__"
    for path in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
        path.unlink()
    cold = seconds(FIRST_FIT)
    print(f"import numba + numpy:                     {base:.2f} s")
    print(f"import loopnet + first fit, warm cache:   {warm:.2f} s  (+{warm - base:.2f} s)")
    print(f"import loopnet + first fit, cold cache:   {cold:.2f} s  (+{cold - base:.2f} s)")


if __name__ == "__main__":
    main()
