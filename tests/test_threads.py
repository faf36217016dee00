"""Compiled code releases the GIL: Python threads train separate networks at the same time, correctly.

Two networks trained in two Python threads at once must end with exactly the
parameters (and loss histories) they get when trained one after the other:
nothing in a fit may be shared between networks (no module-level buffer, no
global random state). Pairs mix the tiny path (``fast.train_epochs_small``) and
the blocked path (``fast.train_epochs_fast``). Inside a worker thread Numba's own
pool is switched off with ``numba.set_num_threads(1)`` (a per-thread setting),
the way bench/threads.py runs them, except for the "threaded" network, whose
``prange`` drivers run on Numba's two threads while the other Python thread
trains; a second test, in a subprocess, lets both
threads launch the ``prange`` drivers at once, which needs a thread-safe
threading layer (Numba's ``workqueue`` layer aborts the process if two threads
enter it together).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import numba
import numpy as np
import pytest

import loopnet
from loopnet import fast

SPECS = {
    # name: (sizes, activation, output, loss, rows, epochs, batch)
    "tiny": ([2, 4, 1], "tanh", "sigmoid", "bce", 4, 3000, None),
    "blocked": ([64, 128, 10], "relu", "softmax", "cross_entropy", 300, 15, 32),
    "threaded": ([64, 128, 10], "relu", "softmax", "cross_entropy", 300, 15, None),  # prange drivers
}


def train(name: str, seed: int, numba_threads: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(params, loss history) of network ``name`` from ``seed``; ``numba_threads`` in Numba's pool."""
    sizes, act, out, loss, rows, epochs, batch = SPECS[name]
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, sizes[0]))
    if out == "softmax":
        Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], rows)]
    else:
        Y = rng.integers(0, 2, (rows, sizes[-1]))
    net = loopnet.Network(sizes, activation=act, output_activation=out, loss=loss, seed=seed)
    before = numba.get_num_threads()
    numba.set_num_threads(numba_threads or before)  # for the calling thread only
    if name == "threaded" and numba_threads is None:  # the prange drivers really get two threads
        assert numba.get_num_threads() >= 2 and fast.use_threads(True, rows, sizes[0], sizes[1])
    try:
        history = net.fit(X, Y, epochs=epochs, lr=0.05, batch_size=batch)
    finally:
        numba.set_num_threads(before)
    return net.params, history["loss"]


def train_in_threads(jobs: list[tuple[str, int]], numba_threads: int | dict | None) -> list:
    """Train every (name, seed) in its own Python thread, all released together by a barrier."""
    results: list = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def work(k: int) -> None:
        barrier.wait()
        name = jobs[k][0]
        results[k] = train(
            *jobs[k], numba_threads.get(name, 1) if isinstance(numba_threads, dict) else numba_threads
        )

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


PAIRS = [("blocked", "tiny"), ("blocked", "blocked"), ("tiny", "tiny"), ("threaded", "tiny")]


@pytest.mark.parametrize("pair", PAIRS, ids="+".join)
def test_two_threads_train_exactly_as_one_after_the_other(pair):
    # The "threaded" network keeps Numba's whole pool (its prange drivers run on two threads while the
    # other Python thread trains on one); every other network runs on one Numba thread.
    if "threaded" in pair and numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("NUMBA_NUM_THREADS < 2: the threaded network would run on one thread")
    threads = {"threaded": None}
    jobs = [(name, seed) for seed, name in enumerate(pair)]
    sequential = [train(name, seed, threads.get(name, 1)) for name, seed in jobs]
    concurrent = train_in_threads(jobs, numba_threads=threads)
    for (params, losses), (want_params, want_losses) in zip(concurrent, sequential):
        assert np.array_equal(params, want_params)
        assert np.array_equal(losses, want_losses)


def test_a_fit_lets_other_python_threads_run():
    """While a fit runs in compiled code, the main thread keeps running Python.

    Were the GIL held, the main thread would stand still for the whole compiled
    call (about a second here); released, it is never stopped for more than a
    thread switch or a scheduler tick. Half the fit's time is a wide margin.
    """
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    Y = np.array([0, 1, 1, 0])
    net = loopnet.Network([2, 4, 1], activation="tanh", loss="bce", seed=0)
    net.fit(X, Y, epochs=1, lr=1.0)  # load the kernel before timing
    start = time.perf_counter()
    net.fit(X, Y, epochs=20_000, lr=1.0)
    epochs = max(20_000, int(20_000 * 1.0 / max(time.perf_counter() - start, 1e-6)))  # about a second

    worker = threading.Thread(target=net.fit, args=(X, Y), kwargs={"epochs": epochs, "lr": 1.0})
    start = last = time.perf_counter()
    longest_stop = 0.0
    worker.start()
    while worker.is_alive():  # count how long the main thread ever went without running
        now = time.perf_counter()
        longest_stop = max(longest_stop, now - last)
        last = now
    elapsed = last - start
    assert longest_stop < elapsed / 2, f"main thread stopped {longest_stop:.2f} s of a {elapsed:.2f} s fit"


CONCURRENT_PRANGE = textwrap.dedent(
    """
    import sys, numba, numpy as np
    sys.path.insert(0, sys.argv[1])
    try:
        numba.get_num_threads()  # starts the pool: fails here if no thread-safe layer can be loaded
    except ValueError as exc:
        print("NOLAYER", exc)
        raise SystemExit(0)
    from loopnet import fast
    from test_threads import train, train_in_threads
    assert fast.use_threads(True, 300, 64, 128), "full batches of 300 rows no longer reach the *_par drivers"
    jobs = [("threaded", 0), ("threaded", 1)]
    sequential = [train(name, seed, None) for name, seed in jobs]
    concurrent = train_in_threads(jobs, numba_threads=None)
    same = all(np.array_equal(c[0], s[0]) and np.array_equal(c[1], s[1])
               for c, s in zip(concurrent, sequential))
    print("LAYER", numba.threading_layer(), "SAME", same)
    """
)


def test_two_threads_running_the_prange_drivers_at_once_train_exactly_as_one_after_the_other():
    env = {**os.environ, "NUMBA_NUM_THREADS": "2", "NUMBA_THREADING_LAYER": "threadsafe"}
    done = subprocess.run([sys.executable, "-c", CONCURRENT_PRANGE, os.path.dirname(__file__)], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    if done.stdout.startswith("NOLAYER"):
        pytest.skip(f"no thread-safe Numba threading layer here (tbb or omp): {done.stdout}")
    assert done.stdout.split()[-2:] == ["SAME", "True"], done.stdout
