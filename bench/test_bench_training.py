"""Whole training runs: loops against every contender (pytest-benchmark, outside the default test run).

    python -m pytest bench/test_bench_training.py --benchmark-only --benchmark-group-by=group

One test per case x contender x dtype, all taken from ``loopnet.benchmarks`` (the cases and
contenders ``loopnet bench`` runs; a case ending in ``adam`` trains with Adam, the others with
plain SGD). Each group, ``case | dtype``, prints as one table comparing
the contenders. A round is one ``fit`` of :func:`epochs_per_round` epochs on fresh weights -- the same
count for every contender of a case, so the times in a table compare directly -- after one
warm-up round, so compile time is not counted. ``extra_info`` holds the epochs per round, the
FLOPs per epoch, seconds per epoch and GFLOP/s from the median round, and the versions.

Every test takes about a second, except the mnist-like ones: the 784-1024-1024-10 network alone
runs for minutes. Pick with -k, by ids like ``and-2-2-1-loops-float64``:

    python -m pytest bench/test_bench_training.py --benchmark-only -k "and-2-2-1-loops-float64"
    python -m pytest bench/test_bench_training.py --benchmark-only -k "digits and float32"
"""

from __future__ import annotations

import pytest

from loopnet import benchmarks

ROUNDS = 3
WORK_PER_ROUND = 3e8
"""FLOPs a round aims at: about 0.03 s of the loops on a medium network."""


def epochs_per_round(case: benchmarks.Case) -> int:
    """Epochs in one timed fit: about WORK_PER_ROUND FLOPs, between 1 and 1000 epochs.

    1000 for the articles' networks (a few ms of the loops, a few tenths of a second of
    plain Python), 4 for digits, 1 for the mnist-like networks.
    """
    return max(1, min(1000, round(WORK_PER_ROUND / case.flops)))


@pytest.mark.parametrize("dtype", benchmarks.DTYPES)
@pytest.mark.parametrize("contender", list(benchmarks.CONTENDERS))
@pytest.mark.parametrize("case", list(benchmarks.CASES.values()), ids=lambda case: case.slug)
def test_training(benchmark, case: benchmarks.Case, contender: str, dtype: str) -> None:
    try:
        trainer = benchmarks.make_trainer(case, contender, dtype)
    except benchmarks.Unavailable as why:
        pytest.skip(str(why))
    trainer.warm_up()
    epochs = epochs_per_round(case)
    benchmark.group = f"{case.name} | {dtype}"
    benchmark.extra_info.update(
        {
            "sizes": list(case.sizes),
            "rows": case.rows,
            "batch_size": case.batch_size,
            "optimizer": case.optimizer,
            "epochs_per_round": epochs,
            "flops_per_epoch": case.flops,
            **benchmarks.versions(),
        }
    )

    def fresh_weights():
        trainer.new_model()
        return (epochs,), {}

    done = benchmark.pedantic(trainer.fit, setup=fresh_weights, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    assert done == epochs
    if benchmark.stats is not None:  # None under --benchmark-disable: the fit ran once, untimed
        seconds_per_epoch = benchmark.stats.stats.median / epochs
        benchmark.extra_info["seconds_per_epoch"] = seconds_per_epoch
        benchmark.extra_info["gflops"] = case.flops / seconds_per_epoch / 1e9
