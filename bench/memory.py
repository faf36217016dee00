"""Peak memory of a fit: does a 1,000-epoch run reach a higher peak than a 10-epoch run?

    python bench/memory.py [--runs 3]

Each measurement is a fresh process that builds the network and its data, fits
one epoch twice (which loads the compiled kernels, starts Numba's thread pool
and lets the allocator settle), then reads the peak resident set size
(``ru_maxrss``) before and after the measured fit. The growth is what the
measured fit added to the process's peak; if nothing accumulates from epoch to
epoch it is the same for 10 and for 1000 epochs.

Why two warm-up fits: a fit copies X (920 KiB for digits); glibc's malloc
serves a block that large with mmap and, once it is freed, raises its mmap
threshold, so the *next* fit's copy comes from the heap and lifts the peak once
by 80-120 KiB (measured here; with ``MALLOC_MMAP_THRESHOLD_`` fixed it does
not happen). That is the allocator adapting once per process, whatever the
number of epochs; after the second fit the growth is exactly 0 KiB.

Networks: the tiny 2-4-1 XOR network (``fast.train_epochs_small``); a
digits-sized 64-128-10 relu/softmax/cross_entropy network on 1797 x 64 random
inputs at batch 32 (the blocked kernels, on one thread: its products are below
``fast.PARALLEL_MIN_WORK``); and the same network at batch 512, whose products
run on Numba's threads (two, set here).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import resource, sys
    import numpy as np, loopnet

    case, epochs = sys.argv[1], int(sys.argv[2])
    if case == "tiny":
        X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]]); Y = np.array([0, 1, 1, 0])
        net = loopnet.Network([2, 4, 1], activation="tanh", loss="bce", seed=0)
        kwargs = dict(lr=1.0)
    else:
        rng = np.random.default_rng(0)
        X = rng.random((1797, 64)); Y = np.eye(10)[rng.integers(0, 10, 1797)]
        net = loopnet.Network([64, 128, 10], activation="relu", output_activation="softmax",
                              loss="cross_entropy", seed=0)
        batch = 32 if case == "digits" else 512
        assert loopnet.fast.use_threads(True, batch, 64, 128) == (case == "digits-threaded")
        kwargs = dict(lr=0.01, batch_size=batch)

    for _ in range(2):  # load the kernels, start the threads, let malloc settle (see the docstring)
        net.fit(X, Y, epochs=1, **kwargs)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    net.fit(X, Y, epochs=epochs, **kwargs)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("KIB", before, after)
    """
)

CASES = ("tiny", "digits", "digits-threaded")
EPOCHS = (10, 1000)


def measure(case: str, epochs: int) -> tuple[int, int]:
    """The peak RSS before and after the measured fit, KiB (``ru_maxrss`` is KiB on Linux)."""
    env = {**os.environ, "NUMBA_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", CHILD, case, str(epochs)], env=env, capture_output=True,
                          text=True, check=True)  # fmt: skip
    before, after = map(int, done.stdout.split("KIB")[1].split())
    return before, after


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per case and epoch count")
    args = parser.parse_args(argv)
    measure("digits", 1)  # load or compile once, so no run below pays for writing the cache
    print("peak RSS (ru_maxrss) around one fit, after two 1-epoch warm-up fits in the same process; KiB")
    print(f"| {'network':<15} | {'epochs':>6} | {'peak before':>11} | {'peak after':>10} | {'growth':>6} |")
    print(f"|{'-' * 17}|{'-' * 8}|{'-' * 13}|{'-' * 12}|{'-' * 8}|")
    growth: dict[tuple[str, int], list[int]] = {}
    for case in CASES:
        for _ in range(args.runs):
            for epochs in EPOCHS:  # interleaved, so drift on a shared machine hits both alike
                before, after = measure(case, epochs)
                growth.setdefault((case, epochs), []).append(after - before)
                print(f"| {case:<15} | {epochs:>6} | {before:>11} | {after:>10} | {after - before:>6} |")
    for case in CASES:
        ten, thousand = (growth[case, e] for e in EPOCHS)
        print(f"{case}: growth of the peak over {args.runs} runs: 10 epochs {min(ten)}-{max(ten)} KiB, "
              f"1000 epochs {min(thousand)}-{max(thousand)} KiB")  # fmt: skip


if __name__ == "__main__":
    main()
