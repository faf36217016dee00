"""A grid search over loopnet.MLPClassifier on a Dask cluster, through joblib's dask backend.

    pip install ".[dask,sklearn]"                                # dask[distributed], joblib, scikit-learn
    python examples/dask_sweep.py                                # a LocalCluster: 2 worker processes here
    python examples/dask_sweep.py --scheduler tcp://HOST:8786    # a cluster already running elsewhere

scikit-learn's GridSearchCV runs its (candidate, fold) fits with joblib; inside
``joblib.parallel_backend("dask")`` joblib hands them to the Dask scheduler,
which runs them on its workers. Each fit travels as a pickle of the estimator
(parameters and arrays: a loopnet estimator holds no compiled code); the
worker unpickles it, imports loopnet and runs the compiled loops from the Numba
cache on its own machine. The results are the numbers ``n_jobs=1`` gives in
one process, bit for bit.

For a cluster on other machines, start a scheduler on one and workers on each,
every machine with the same loopnet version installed and ``loopnet warmup``
run once on it, so that no worker compiles during the sweep:

    dask scheduler                                                   # prints tcp://HOST:8786
    NUMBA_NUM_THREADS=1 dask worker tcp://HOST:8786 --nworkers 4 --nthreads 1   # 4 cores: 4 fits at once

docs/distributed.md says what a worker pays the first time; tests/test_distributed.py
runs :func:`connect` and :func:`sweep` and checks the results against ``n_jobs=1``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import joblib
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

import loopnet

PARAM_GRID = {"hidden_layer_sizes": [(16,), (32,)], "alpha": [1e-4, 1e-2]}
"""Four candidates; with cv=3, twelve fits."""


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits: X (1797, 64) scaled to [0, 1], y the labels 0-9."""
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def make_search(param_grid: dict = PARAM_GRID, max_iter: int = 30, n_jobs: int | None = None) -> GridSearchCV:
    """The sweep: GridSearchCV over a small MLPClassifier, 3 folds, every fit seeded the same."""
    clf = loopnet.MLPClassifier(learning_rate_init=0.01, max_iter=max_iter, random_state=0)
    return GridSearchCV(clf, param_grid, cv=3, n_jobs=n_jobs)


def connect(scheduler: str | None = None, workers: int = 2):
    """(cluster, client): a Client of the scheduler at ``scheduler`` (``tcp://HOST:8786``; cluster None),
    or of a new LocalCluster on this machine: ``workers`` processes of one thread, one fit at a time each."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return None, Client(scheduler)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)  # fmt: skip
    return cluster, Client(cluster)


def sweep(client, X, y, search: GridSearchCV | None = None) -> GridSearchCV:
    """Fit ``search`` (default: :func:`make_search`) on the workers of ``client``, a dask.distributed.Client.

    ``scatter`` sends X and y to every worker once, instead of once per fit.
    The refit of the best candidate on all of X runs here, in this process.
    """
    search = make_search() if search is None else search
    with joblib.parallel_backend("dask", client=client, scatter=[X, y]):
        search.fit(X, y)
    return search


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", help="address of a running scheduler, e.g. tcp://HOST:8786 "
                        "(default: start a LocalCluster here)")  # fmt: skip
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2)")
    parser.add_argument("--max-iter", type=int, default=30, help="epochs per fit (default 30)")
    args = parser.parse_args(argv)

    from sklearn.exceptions import ConvergenceWarning

    # 30 epochs stop short of convergence on purpose; scikit-learn hands this filter on to the workers
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    cluster, client = connect(args.scheduler, args.workers)
    try:
        print(f"{len(client.scheduler_info()['workers'])} workers at {client.scheduler.address}")
        X, y = digits()
        start = time.perf_counter()
        search = sweep(client, X, y, make_search(max_iter=args.max_iter))
        seconds = time.perf_counter() - start
        results = search.cv_results_
        for params, score in zip(results["params"], results["mean_test_score"], strict=True):
            print(f"  {params}  mean accuracy {score:.4f}")
        print(f"best {search.best_params_} ({search.best_score_:.4f}), {len(results['params']) * 3} fits "
              f"in {seconds:.1f} s")  # fmt: skip
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":  # the guard matters: LocalCluster's worker processes import this file
    main()
