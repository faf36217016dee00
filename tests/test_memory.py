"""Peak memory: a 1000-epoch fit raises a process's peak RSS exactly as much as a 10-epoch fit.

Each count runs in a fresh process: the network fits one epoch twice (loading
the kernels, starting Numba's threads), then ``ru_maxrss`` is read before and
after the measured fit. Networks: 2-4-1 (``fast.train_epochs_small``), 64-128-10
at batch 32 (the blocked kernels, on one thread: the products are below
``fast.PARALLEL_MIN_WORK``) and the same at a full batch of 400 rows, whose
products run on Numba's threads. tests/test_network.py counts Numba's allocations
inside the epoch loop; this test looks at the whole process, Python, NumPy and
the thread pool included, so whatever grew with the epochs (a history kept per
epoch, a leak in the thread pool, a buffer allocated per batch and not freed)
would lift the peak of the long run above that of the short one.

Why two warm-up fits and not one: a fit copies X, and glibc's malloc serves a
copy above 128 KiB with mmap; once the first fit frees it, malloc raises its
mmap threshold, so the second fit's copy comes from the heap and lifts the peak
once, by 80-120 KiB here, whatever the number of epochs (with
``MALLOC_MMAP_THRESHOLD_`` fixed it does not happen). After the second fit the
allocator has settled and the growth is exactly equal: no slack is allowed.

The sensitivity of ``ru_maxrss`` is bounded: memory freed by the warm-up fits
can absorb a small growth without raising the peak. The allocation count test
catches the small cases; this one catches what reaches the operating system.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

resource = pytest.importorskip("resource")  # POSIX only

CHILD = textwrap.dedent(
    """
    import resource, sys
    import numpy as np, loopnet

    case, epochs = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(0)
    if case == "tiny":  # fast.train_epochs_small
        X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]]); Y = np.array([0, 1, 1, 0])
        net = loopnet.Network([2, 4, 1], activation="tanh", loss="bce", seed=0)
        kwargs = dict(lr=1.0)
    else:  # fast.train_epochs_fast; X is 400 x 64 = 200 KiB, above mmap's threshold
        X = rng.random((400, 64)); Y = np.eye(10)[rng.integers(0, 10, 400)]
        net = loopnet.Network([64, 128, 10], activation="relu", output_activation="softmax",
                              loss="cross_entropy", seed=0)
        batch = 32 if case == "digits" else 400  # a full batch of 400 rows runs the *_par drivers
        assert loopnet.fast.use_threads(True, batch, 64, 128) == (case == "digits-threaded")
        kwargs = dict(lr=0.01, batch_size=batch)
    for _ in range(2):
        net.fit(X, Y, epochs=1, **kwargs)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    history = net.fit(X, Y, epochs=epochs, **kwargs)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert history["loss"].shape == (epochs,)
    print("PEAK", before, after)
    """
)


def peak_growth(case: str, epochs: int) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["NUMBA_NUM_THREADS"] = "2"  # the threaded drivers run even on a one-core runner
    done = subprocess.run([sys.executable, "-c", CHILD, case, str(epochs)], env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    before, after = map(int, done.stdout.split("PEAK")[1].split())
    return after - before


@pytest.mark.parametrize("case", ["tiny", "digits", "digits-threaded"])
def test_the_peak_grows_no_more_for_1000_epochs_than_for_10(case):
    assert peak_growth(case, 1000) == peak_growth(case, 10)
