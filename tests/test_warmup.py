"""``loopnet warmup`` and the note a fit prints before it compiles, in fresh processes on an empty cache.

One cache directory, three processes, float64 only (a cold compile of one dtype is the cost of this
file, a minute or two on two shared cores):

1. a tiny network's first fit compiles the tiny-network loops, so it prints the one-line note on stderr;
2. ``loopnet warmup --dtype float64`` compiles the rest, and finds the tiny fit's kernel already cached
   (the warmup's arguments have the very types a fit passes);
3. fits (tiny and blocked, with and without validation, on one and two threads), predict, loss and
   gradients compile nothing (Numba's own compile events and cache-miss counters) and print no note.

The subprocesses import a copy of the package, so edits to the working tree during the run do not
change the cache key under test.
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
from loopnet import cli

NOTE = "loopnet: compiling the training loops for float64"

FIRST_FIT = textwrap.dedent(
    """
    import numpy as np, loopnet
    X = np.array([[0.0, 0], [0, 1], [1, 0], [1, 1]]); Y = np.array([0.0, 0, 0, 1])
    net = loopnet.Network([2, 2, 1], seed=0)
    net.fit(X, Y, epochs=3, lr=2.0)
    net.fit(X, Y, epochs=3, lr=2.0)  # compiled now: no second note
    """
)

AFTER_WARMUP = textwrap.dedent(
    """
    import json, sys
    import numba, numpy as np
    from numba.core import event
    from numba.core.registry import CPUDispatcher

    with event.install_recorder("numba:compile") as compiles:
        import loopnet
        rng = np.random.default_rng(1)

        def data(rows, n_in, n_out):
            return rng.normal(size=(rows, n_in)), np.eye(n_out)[rng.integers(0, n_out, rows)]

        for threads in (1, 2):
            numba.set_num_threads(threads)
            X, Y = data(6, 3, 2)
            tiny = loopnet.Network([3, 5, 2], activation="tanh", output_activation="softmax",
                                   loss="cross_entropy", seed=0)
            tiny.fit(X, Y, epochs=2, optimizer=loopnet.Adam(), validation=(X, Y))
            tiny.predict(X), tiny.loss(X, Y), tiny.gradients(X, Y)
            X, Y = data(700, 50, 4)
            net = loopnet.Network([50, 96, 4], activation="relu", output_activation="softmax",
                                  loss="cross_entropy", seed=0)
            net.fit(X, Y, epochs=1, lr=0.01, batch_size=20)  # serial at both thread counts
            net.fit(X, Y, epochs=1, lr=0.01, batch_size=200)  # threaded on two threads
            net.fit(X, Y, epochs=1, lr=0.01, batch_size=200,
                    early_stopping=loopnet.EarlyStopping(patience=2), validation=(X[:300], Y[:300]))
            net.predict(X), net.loss(X, Y), net.gradients(X, Y)
            threaded = loopnet.fast.use_threads(True, 200, 50, 96)

    misses = {}
    for name, module in list(sys.modules.items()):
        if name.startswith("loopnet"):
            for obj in vars(module).values():
                if isinstance(obj, CPUDispatcher) and sum(obj.stats.cache_misses.values()):
                    misses[obj.py_func.__qualname__] = sum(obj.stats.cache_misses.values())
    hits = len(loopnet.fast.train_epochs_fast.stats.cache_hits)
    print("REPORT", json.dumps({"compiles": [str(e.data["dispatcher"].py_func.__qualname__)
                                             for _, e in compiles.buffer if e.is_start],
                                "misses": misses, "fast_hits": hits, "threaded": bool(threaded)}))
    """
)


def _run(args: list[str], root: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(PYTHONPATH=str(root / "src"), NUMBA_CACHE_DIR=str(root / "cache"), NUMBA_NUM_THREADS="2")
    done = subprocess.run([sys.executable, *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def processes(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("warmup")
    package = Path(loopnet.__file__).parent
    shutil.copytree(package, root / "src" / "loopnet", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "cache").mkdir()
    return {
        "first fit": _run(["-c", FIRST_FIT], root),
        "warmup": _run(["-m", "loopnet", "warmup", "--dtype", "float64"], root),
        "after": _run(["-c", AFTER_WARMUP], root),
    }


def test_a_fit_that_compiles_says_so_once_on_stderr(processes):
    first = processes["first fit"]
    assert first.stderr.count(NOTE) == 1, first.stderr
    assert "`loopnet warmup`" in first.stderr
    assert first.stdout == ""


def test_warmup_lists_what_it_compiled_and_finds_the_tiny_fit_cached(processes):
    lines = processes["warmup"].stdout.splitlines()
    steps = {line[9:57].strip(): int(line[57:].split()[0]) for line in lines if line.startswith("float64 ")}
    assert "float32" not in processes["warmup"].stdout
    assert steps["fit, tiny networks"] == 0, "warmup's tiny fit kernel is not the one a fit compiles"
    assert steps["fit, blocked loops"] > 0 and steps["fit, blocked loops, threaded"] > 0
    assert lines[-1].startswith("loopnet warmup: ") and "functions compiled" in lines[-1]
    assert NOTE not in processes["warmup"].stderr


def test_after_warmup_a_new_process_compiles_nothing(processes):
    after = processes["after"]
    report = json.loads(after.stdout.split("REPORT", 1)[1])
    assert report["threaded"], "the batch of 200 no longer reaches the threaded build"
    assert report["compiles"] == [] and report["misses"] == {}
    assert report["fast_hits"] == 4  # serial and threaded, each with and without validation
    assert NOTE not in after.stderr


def test_warmup_refuses_an_unknown_dtype(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["warmup", "--dtype", "float16"])
    assert exc.value.code == 2
    assert "invalid choice: 'float16'" in capsys.readouterr().err
