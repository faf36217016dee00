"""loopnet's estimators in other processes: joblib's loky workers, pickles, another Python, a Dask cluster.

An estimator crosses a process boundary as a pickle of its parameters and
fitted arrays (no compiled code), and the process on the other side runs the
same compiled loops from Numba's cache, so every number must come back equal,
bit for bit, to the same work done in one process: the grid search's scores,
the predictions of a round-tripped estimator, the weights after partial_fit
continues in another interpreter.

The Dask test runs ``connect`` and ``sweep`` from examples/dask_sweep.py, the
code docs/distributed.md shows (the last test holds the page to it), on a
two-worker LocalCluster; it is skipped without dask[distributed]
(``pip install ".[dask]"``; the test extra has it).

``local_search``, the one-process reference, runs first and compiles whatever
the cache lacks, so the worker processes load the kernels instead of each
compiling them on the two shared cores.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest

import loopnet
from loopnet import estimators
from loopnet.estimators import MLPClassifier, MLPRegressor

pytest.importorskip("sklearn")
from sklearn.base import clone

# The fits are a few epochs on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "dask_sweep.py"

WORKER_STATE = lambda: (os.getpid(), getattr(sys.modules.get("loopnet.estimators"), "__file__", None))  # noqa: E731
"""A worker's process id, and the estimators module it has imported (None before it ran a fit). A lambda, so
cloudpickle sends it by value: a function of this module would travel by reference and import this module (and
loopnet) on the worker."""


@pytest.fixture(scope="module")
def example():
    """examples/dask_sweep.py as a module (it imports dask only inside main)."""
    spec = importlib.util.spec_from_file_location("dask_sweep", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data(example):
    return example.digits()


@pytest.fixture(scope="module")
def local_search(example, data):
    """The reference: the example's grid search with n_jobs=1, every fit in this process."""
    return example.make_search(n_jobs=1).fit(*data)


def _assert_same_search(search, reference, X) -> None:
    assert search.best_params_ == reference.best_params_
    for key in ("mean_test_score", *(f"split{k}_test_score" for k in range(3))):
        np.testing.assert_array_equal(search.cv_results_[key], reference.cv_results_[key], err_msg=key)
    assert search.cv_results_["params"] == reference.cv_results_["params"]
    np.testing.assert_array_equal(search.predict_proba(X), reference.predict_proba(X))  # the refit best


# --- joblib's processes (loky) ------------------------------------------------------------------------------


def test_grid_search_on_two_processes_equals_one(example, data, local_search):
    X, y = data
    # the candidates score differently, so a wrong best_params_ would show
    assert len(set(local_search.cv_results_["mean_test_score"])) > 1
    search = example.make_search(n_jobs=2).fit(X, y)
    _assert_same_search(search, local_search, X[:50])
    # the fits ran in loky's worker processes (the ones the search used: joblib reuses its executor)
    states = joblib.Parallel(n_jobs=2)(joblib.delayed(WORKER_STATE)() for _ in range(4))
    assert os.getpid() not in {pid for pid, _ in states}
    assert {module for _, module in states} == {estimators.__file__}  # this loopnet ran the fits


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_clone_and_pickle_round_trips_give_the_same_numbers(data, kind):
    X, y = data
    if kind == "classifier":
        est = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0)
        outputs = ("predict", "predict_proba")
    else:
        est, y = MLPRegressor(hidden_layer_sizes=(16,), max_iter=5, random_state=0), y / 9.0
        outputs = ("predict",)
    X_fit, y_fit, X_new = X[:1200], y[:1200], X[1200:]
    unfitted_blob = pickle.dumps(est)
    fitted = est.fit(X_fit, y_fit)
    expected = {name: getattr(fitted, name)(X_new) for name in outputs}  # builds the cached network too
    blob = pickle.dumps(fitted)
    assert b"numba" not in blob and b"_net_cache" not in blob
    again = [
        pickle.loads(blob),  # fitted, round-tripped
        clone(fitted).fit(X_fit, y_fit),  # clone: the parameters only, fitted anew
        clone(pickle.loads(unfitted_blob)).fit(X_fit, y_fit),
        pickle.loads(unfitted_blob).fit(X_fit, y_fit),
        pickle.loads(pickle.dumps(clone(est))).fit(X_fit, y_fit),
    ]
    for other in again:
        for name in outputs:
            np.testing.assert_array_equal(getattr(other, name)(X_new), expected[name], err_msg=name)
        theirs, ours = [*other.coefs_, *other.intercepts_], [*fitted.coefs_, *fitted.intercepts_]
        for a, b in zip(theirs, ours, strict=True):
            np.testing.assert_array_equal(a, b)
    assert not hasattr(clone(fitted), "coefs_")


# --- another interpreter ------------------------------------------------------------------------------------

CONTINUE = textwrap.dedent(
    """
    import json, sys
    import joblib, numpy as np
    import loopnet

    data = np.load("data.npz")
    report = {"file": loopnet.__file__}
    for name in sys.argv[1:]:
        clf = joblib.load(f"{name}.joblib")
        for _ in range(3):
            clf.partial_fit(data["X"], data["y"])
        np.savez(f"{name}-there.npz", *clf.coefs_, *clf.intercepts_)
        report[name] = [clf.n_iter_, clf.t_]
    print(json.dumps(report))
    """
)


def test_partial_fit_continues_in_another_process_exactly_as_here(tmp_path, data):
    """joblib.dump, then three partial_fit epochs in a fresh Python and here: the same coefs_, bit for bit.

    The optimizer's state (Adam's moments and step count, SGD's velocity) travels in the pickle.
    """
    X, y = data
    fitted = {
        solver: MLPClassifier(hidden_layer_sizes=(16,), solver=solver, max_iter=4, random_state=0).fit(X, y)
        for solver in ("adam", "sgd")
    }
    for solver, clf in fitted.items():
        joblib.dump(clf, tmp_path / f"{solver}.joblib")
    np.savez(tmp_path / "data.npz", X=X, y=y)

    env = dict(os.environ)  # the same loopnet as this process, whatever the working directory
    env["PYTHONPATH"] = os.pathsep.join([str(Path(loopnet.__file__).parents[1]), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-c", CONTINUE, *fitted]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["file"] == loopnet.__file__

    for solver, clf in fitted.items():
        before = clf.coefs_[0].copy()
        for _ in range(3):
            clf.partial_fit(X, y)
        assert report[solver] == [clf.n_iter_, clf.t_]
        there = np.load(tmp_path / f"{solver}-there.npz")
        here = [*clf.coefs_, *clf.intercepts_]
        assert len(there.files) == len(here)
        for k, array in enumerate(here):
            np.testing.assert_array_equal(there[f"arr_{k}"], array, err_msg=f"{solver}, array {k}")
        assert not np.array_equal(clf.coefs_[0], before)  # the epochs did change the weights


# --- a Dask cluster -----------------------------------------------------------------------------------------


def test_dask_cluster_sweep_equals_one_process(example, data, local_search):
    """The example's sweep on two worker processes: the one-process scores; the fits ran on the workers."""
    distributed = pytest.importorskip("distributed")  # dask's scheduler and workers (it requires dask)
    X, y = data
    cluster, client = example.connect()  # a LocalCluster of two one-thread worker processes
    with cluster, client:
        workers = set(client.scheduler_info()["workers"])
        assert len(workers) == 2
        assert not any(module for _, module in client.run(WORKER_STATE).values())  # fresh processes
        with distributed.get_task_stream(client) as stream:
            search = example.sweep(client, X, y)
        fits = [task for task in stream.data if "fit_and_score" in str(task["key"])]
        ran_on = {task["worker"] for task in fits}
        states = client.run(WORKER_STATE)
    assert fits and ran_on == workers  # both workers ran fits, and nothing else ran them
    assert os.getpid() not in {pid for pid, _ in states.values()}
    assert {module for _, module in states.values()} == {estimators.__file__}  # this loopnet ran the fits
    _assert_same_search(search, local_search, X[:50])


def test_the_docs_show_the_example_code():
    """The functions docs/distributed.md shows are examples/dask_sweep.py's, verbatim: the tested code."""
    docs = (EXAMPLE.parent.parent / "docs" / "distributed.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", docs, flags=re.S)
    shown = [block.strip() for block in blocks if block.startswith("def ")]
    assert shown, "docs/distributed.md shows no function of the example"
    for block in shown:
        assert block in EXAMPLE.read_text(), block.splitlines()[0]
