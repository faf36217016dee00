"""Numba's on-disk cache: a second process loads every compiled function and compiles nothing.

The first fresh process compiles whatever a workload needs and writes it to an
empty cache directory; the second runs the same kinds of calls on networks of
other shapes, activations and losses (runtime values to the kernels, so the
same machine code) and must find all of it on disk. The workload reaches both
dtypes, the ``loops`` and ``plain`` backends, the tiny path
(``fast.train_epochs_small``), the blocked path (``train_epochs_fast``), the
``*_par`` drivers (compiled into every whole-network kernel that may call
them: the blocked fits' batches are big enough for the threaded build of
``train_epochs_fast``, and with two Numba threads, forced even on a one-core
runner, predict and gradients on the blocked networks' rows run them) and
``exp_approx`` with its ``@intrinsic``.

To keep a cold run near 45 s (two cores, shared), float32 is exercised on the
tiny path and the plain backend only: the blocked path costs about 20 s to
compile per dtype, and its float32 build is cached by the same mechanism.

The subprocesses import a copy of the package in a temporary directory, so
the test works on a clean checkout and is not disturbed by edits to the
working tree while it runs (Numba invalidates a file's cache entries when the
file's modification time changes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import loopnet

WORKLOAD = textwrap.dedent(
    """
    import json, sys
    import numba, numpy as np
    from numba.core import event
    from numba.core.registry import CPUDispatcher

    second = sys.argv[1] == "second"
    report = {}
    with event.install_recorder("numba:compile") as compiles:
        import loopnet
        from loopnet import fast

        report["file"] = loopnet.__file__

        def threading_layer():
            try:
                return numba.threading_layer()
            except ValueError:  # "Threading layer is not initialized."
                return None

        # Before anything else: only compiled parallel code starts Numba's thread pool.
        M, K, J = (41, 30, 19) if second else (40, 30, 20)
        A, B, C = np.ones((M, K)), np.ones((J, K)), np.empty((M, J))
        fast.abt_product(A, B, C)
        report["layer_after_serial"] = threading_layer()
        fast.abt_product_par(A, B, C)
        report["layer_after_parallel"] = threading_layer()
        fast.exp_approx(0.5)

        rng = np.random.default_rng(0)

        def run(sizes, act, out, loss, backend, dtype, batch, rows):
            X = rng.normal(size=(rows, sizes[0]))
            if out == "softmax":
                Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], rows)]
            else:
                Y = (rng.random((rows, sizes[-1])) > 0.5).astype(float)
            net = loopnet.Network(sizes, activation=act, output_activation=out, loss=loss,
                                  backend=backend, dtype=dtype, seed=0)
            net.fit(X, Y, epochs=2, lr=0.01, batch_size=batch)
            net.predict(X)
            net.gradients(X, Y)
            net.loss(X, Y)

        if not second:
            tiny = ([2, 3, 1], "sigmoid", "sigmoid", "bce", None, 4)
            blocked = ([64, 128, 10], "relu", "softmax", "cross_entropy", 64, 160)  # 64*64*128 = 2**19
        else:
            tiny = ([3, 5, 4, 2], ["tanh", "leaky_relu"], "identity", "mse", None, 6)
            blocked = ([50, 100, 30, 5], ["sigmoid", "tanh"], "sigmoid", "bce", 110, 220)
        sizes, act, out, loss, batch, rows = tiny
        run(sizes, act, out, loss, "loops", "float64", batch, rows)
        run(sizes, act, out, loss, "plain", "float64", batch, rows)
        run(sizes, act, out, loss, "loops", "float32", batch, rows)
        run(sizes, act, out, loss, "plain", "float32", batch, rows)
        sizes, act, out, loss, batch, rows = blocked
        report["threaded_rows"] = bool(fast.use_threads(True, rows, sizes[0], sizes[1]))
        run(sizes, act, out, loss, "loops", "float64", batch, rows)
        if second:  # a perceptron, and a batch of one
            run([3, 1], "sigmoid", "sigmoid", "sse", "loops", "float64", 1, 5)
            run([3, 1], "sigmoid", "sigmoid", "sse", "plain", "float64", 1, 5)

    report["compiles"] = [
        f"{e.data['dispatcher'].py_func.__qualname__}{e.data['args']}"
        for _, e in compiles.buffer
        if e.is_start
    ]
    report["hits"], report["misses"] = {}, {}
    dispatchers = {}
    for name, module in list(sys.modules.items()):
        if name == "loopnet" or name.startswith("loopnet."):
            for obj in vars(module).values():
                if isinstance(obj, CPUDispatcher):
                    dispatchers[id(obj)] = obj
    for d in dispatchers.values():
        name = f"{d.py_func.__module__}.{d.py_func.__name__}"
        report["hits"][name] = len(d.stats.cache_hits)
        report["misses"][name] = sum(d.stats.cache_misses.values())
        if name == "loopnet.fast.abt_product_par":
            report["cache_path"] = d.stats.cache_path
    print("REPORT", json.dumps(report))
    """
)


def run_workload(which: str, root: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(PYTHONPATH=str(root / "src"), NUMBA_CACHE_DIR=str(root / "cache"), NUMBA_NUM_THREADS="2")
    done = subprocess.run([sys.executable, "-c", WORKLOAD, which], cwd=root, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.split("REPORT", 1)[1])
    assert report["file"].startswith(str(root / "src")), "the subprocess imported another loopnet"
    return report


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[dict, dict]:
    """(first, second): the reports of a process on an empty cache and of one after it."""
    root = tmp_path_factory.mktemp("cache")
    package = Path(loopnet.__file__).parent
    shutil.copytree(package, root / "src" / "loopnet", ignore=shutil.ignore_patterns("__pycache__"))
    return run_workload("first", root), run_workload("second", root)


def test_the_first_process_compiles_into_the_empty_cache(runs):
    first, _ = runs
    assert first["compiles"], "nothing compiled: the cache directory was not empty, the test proves nothing"
    for name in (
        "fast.train_epochs_fast",
        "fast.train_epochs_small",
        "kernels.train_epochs",
        "fast.abt_product_par",
    ):
        assert first["misses"][f"loopnet.{name}"] >= 1, name


def test_a_second_process_compiles_nothing(runs):
    _, second = runs
    assert second["compiles"] == []
    assert {name: n for name, n in second["misses"].items() if n} == {}


def test_a_second_process_loads_each_entry_point_from_the_cache(runs):
    """Hits per entry point = the signatures loaded from disk (float64 and float32 where both ran)."""
    _, second = runs
    expected = {
        "fast.train_epochs_small": 2,
        "kernels.train_epochs": 2,
        "kernels.forward_pass": 2,
        "kernels.backward_pass": 2,
        "kernels.loss_value": 2,
        "fast.train_epochs_fast": 1,
        "fast.forward_pass_fast": 1,
        "fast.backward_pass_fast": 1,
        "fast.refresh_transposes": 1,
        "fast.abt_product": 1,
        "fast.abt_product_par": 1,
        "fast.exp_approx": 1,
    }
    assert {name: second["hits"][f"loopnet.{name}"] for name in expected} == expected


def test_the_parallel_driver_loaded_from_the_cache_is_the_parallel_build(runs):
    """It starts Numba's thread pool (the serial product does not), and its cached machine code
    holds a parfor gufunc, as do the whole-network kernels that call the ``*_par`` drivers."""
    first, second = runs
    assert first["threaded_rows"] and second["threaded_rows"], "predict no longer reaches the *_par drivers"
    assert second["layer_after_serial"] is None
    assert second["layer_after_parallel"] is not None
    cache = Path(second["cache_path"])

    def parfor_gufuncs(function: str) -> int:
        entries = sorted(cache.glob(f"fast.{function}-*.nbc"))
        assert entries, f"no cache entry for {function}"
        return sum(path.read_bytes().count(b"__numba_parfor_gufunc") for path in entries)

    assert parfor_gufuncs("abt_product") == 0
    for function in ("abt_product_par", "train_epochs_fast", "forward_pass_fast", "backward_pass_fast"):
        assert parfor_gufuncs(function) > 0, function
