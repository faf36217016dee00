"""loopnet.MLPClassifier against scikit-learn's MLPClassifier: seconds per epoch of fit (pytest-benchmark).

    python -m pytest bench/test_bench_estimators.py --benchmark-only --benchmark-group-by=group

The issue's race, from ``loopnet.benchmarks`` (the same settings ``loopnet bench --estimators``
runs): scikit-learn's digits with X = pixels / 16, ``hidden_layer_sizes=(64,)``, ``batch_size=64``,
``random_state=0``, ``tol=0`` and ``max_iter = n_iter_no_change = EPOCHS``, so both run exactly
EPOCHS epochs (asserted); everything else is scikit-learn's default. Solvers ``adam`` (the issue's)
and ``sgd`` (momentum 0.9, Nesterov), in float64 and float32 (X cast; both estimators then train
in float32). Each library runs on its default threads (Numba's; BLAS's for scikit-learn).

Each group, ``digits 64-64-10 b64 SOLVER | DTYPE``, prints as one table of the two estimators.
A round is one ``fit`` of EPOCHS epochs on a fresh estimator. Before the rounds, one ``fit`` of
one epoch pays compilation (loopnet, once per install: seconds to a minute with a cold cache)
and first calls; its seconds go to ``extra_info["first_fit_seconds"]``, not into the rounds.
``extra_info["seconds_per_epoch"]`` is the median round / EPOCHS. loopnet's ``loss_curve_`` is
held to scikit-learn's (float64 to 1e-9, float32 to 1e-3, relative): the race compares the same
training.

    python -m pytest bench/test_bench_estimators.py --benchmark-only -k "adam and float64"
"""

from __future__ import annotations

import functools
import time

import numpy as np
import pytest

from loopnet import benchmarks

pytest.importorskip("sklearn", reason="the race is against scikit-learn (pip install scikit-learn)")

EPOCHS = 20
ROUNDS = 5


@functools.cache
def _data(dtype: str) -> tuple[np.ndarray, np.ndarray]:
    return benchmarks.estimator_data(dtype)


@functools.cache
def _sklearn_loss_curve(solver: str, dtype: str) -> tuple[float, ...]:
    """scikit-learn's loss_curve_ for the race's settings: what loopnet's must equal."""
    est = benchmarks.make_estimator("sklearn", solver, EPOCHS)
    benchmarks.timed_fit(est, *_data(dtype))
    return tuple(est.loss_curve_)


@pytest.mark.parametrize("dtype", benchmarks.DTYPES)
@pytest.mark.parametrize("solver", benchmarks.ESTIMATOR_SOLVERS)
@pytest.mark.parametrize("estimator", benchmarks.ESTIMATORS)
def test_fit_per_epoch(benchmark, estimator: str, solver: str, dtype: str) -> None:
    X, y = _data(dtype)
    first = benchmarks.timed_fit(benchmarks.make_estimator(estimator, solver, 1), X, y)
    benchmark.group = f"digits 64-64-10 b64 {solver} | {dtype}"
    benchmark.extra_info.update(
        {
            "estimator": estimator,
            "solver": solver,
            "dtype": dtype,
            "epochs_per_round": EPOCHS,
            **benchmarks.ESTIMATOR_SETTINGS,
            "first_fit_seconds": first.wall,
            "first_fit_cpu_seconds": first.cpu,
            **benchmarks.versions(),
        }
    )

    def fresh_estimator():
        return (benchmarks.make_estimator(estimator, solver, EPOCHS),), {}

    def fit(est):
        cpu = time.process_time()
        benchmarks.timed_fit(est, X, y)
        cpus.append(time.process_time() - cpu)
        return est

    cpus: list[float] = []
    est = benchmark.pedantic(fit, setup=fresh_estimator, rounds=ROUNDS, iterations=1)
    assert est.n_iter_ == EPOCHS
    assert len(est.loss_curve_) == EPOCHS
    if estimator == "loopnet":
        expected = np.array(_sklearn_loss_curve(solver, dtype))
        np.testing.assert_allclose(est.loss_curve_, expected, rtol=benchmarks.SAME_LOSS_RTOL[dtype], atol=0)
    if benchmark.stats is not None:  # None under --benchmark-disable: the fit ran once, untimed
        benchmark.extra_info["seconds_per_epoch"] = benchmark.stats.stats.median / EPOCHS
        benchmark.extra_info["cpu_seconds_per_epoch"] = float(np.median(cpus)) / EPOCHS
