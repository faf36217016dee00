"""``loopnet bench --estimators``: the race of loopnet.MLPClassifier against scikit-learn's, its plumbing.

Both contenders are timed and reported with their ratio; both ran exactly the epochs asked; and the
race checks that the two reached the same ``loss_curve_`` (a race between different trainings would
not be fair), saying so when they did not. Runs are kept short (a few epochs, two rounds).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from loopnet import benchmarks, cli

pytest.importorskip("sklearn", reason="the estimator race is against scikit-learn")

EPOCHS = 3
ROUNDS = 2


@pytest.fixture(scope="module")
def race() -> dict:
    return benchmarks.estimator_race(solvers=("adam",), dtypes=("float64",), epochs=EPOCHS, rounds=ROUNDS)


def test_the_race_times_both_estimators_and_quotes_sklearn_over_loopnet(race):
    (record,) = race["records"]
    assert (record["solver"], record["dtype"], record["epochs"], record["rounds"]) == (
        "adam",
        "float64",
        3,
        2,
    )
    lp, sk = record["loopnet"], record["sklearn"]
    for timing in (lp, sk):
        assert 0 < timing["best_seconds_per_epoch"] <= timing["seconds_per_epoch"]
        assert timing["cpu_seconds_per_epoch"] > 0
        assert timing["first_fit_seconds"] > 0
        assert timing["threads_used"] in (1, timing["threads"])
    assert record["ratio"] == pytest.approx(sk["seconds_per_epoch"] / lp["seconds_per_epoch"], rel=1e-12)
    assert record["cpu_ratio"] == pytest.approx(sk["cpu_seconds_per_epoch"] / lp["cpu_seconds_per_epoch"])


def test_both_estimators_reached_the_same_loss_curve(race):
    (record,) = race["records"]
    assert record["same_loss_curve"] is True
    assert record["loss_curve_gap"] < 1e-9  # float64: the same numbers, to rounding
    final = record["final_loss"]
    assert final["loopnet"] == pytest.approx(final["sklearn"], rel=1e-9)
    assert 0 < final["loopnet"] < np.log(10)  # trained: below the loss of a uniform guess over 10 digits


def test_the_settings_are_the_issues_and_sklearns_defaults_otherwise():
    for name in benchmarks.ESTIMATORS:
        est = benchmarks.make_estimator(name, "adam", EPOCHS)
        params = est.get_params()
        assert params["hidden_layer_sizes"] == (64,)
        assert (params["batch_size"], params["random_state"], params["tol"]) == (64, 0, 0.0)
        assert params["max_iter"] == params["n_iter_no_change"] == EPOCHS
        assert (params["alpha"], params["learning_rate_init"], params["activation"]) == (1e-4, 1e-3, "relu")
    X, y = benchmarks.estimator_data("float32")
    assert X.shape == (1797, 64) and X.dtype == np.float32 and X.max() == 1.0 and len(np.unique(y)) == 10


def test_a_race_between_different_trainings_is_flagged(monkeypatch):
    make = benchmarks.make_estimator

    def other_seed(name, solver, epochs):
        est = make(name, solver, epochs)
        return est.set_params(random_state=1) if name == "loopnet" else est

    monkeypatch.setattr(benchmarks, "make_estimator", other_seed)
    results = benchmarks.estimator_race(solvers=("adam",), epochs=2, rounds=1)
    (record,) = results["records"]
    assert record["same_loss_curve"] is False and record["loss_curve_gap"] > 1e-3
    assert "NOT the same" in benchmarks.format_estimator_race(results)


def test_the_table_has_the_machine_both_contenders_the_ratio_and_the_threads(race):
    text = benchmarks.format_estimator_race(race)
    lines = text.splitlines()
    (record,) = race["records"]
    env = race["environment"]
    if env.get("machine"):
        from loopnet import machine

        assert lines[0] == machine.machine_line(env["machine"])
    assert "measured in one run" in lines[1]
    assert f"scikit-learn {env['sklearn']}" in text and f"numba {env['numba']}" in text
    row = next(line for line in lines if line.startswith("adam"))
    assert benchmarks.format_seconds(record["loopnet"]["seconds_per_epoch"]) in row
    assert benchmarks.format_seconds(record["sklearn"]["seconds_per_epoch"]) in row
    assert benchmarks._ratio(record["ratio"]) in row and row.endswith(
        f"same ({record['loss_curve_gap']:.1g})"
    )
    threads = next(line for line in lines if line.startswith("threads: loopnet: Numba"))
    assert f"Numba {race['settings']['numba_threads']}" in threads
    assert f"used {record['loopnet']['threads_used']} (at most " in threads


def test_cli_estimators_prints_the_race_and_writes_estimators_json(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(benchmarks, "ESTIMATOR_EPOCHS", EPOCHS)
    monkeypatch.setattr(benchmarks, "ESTIMATOR_ROUNDS", 1)
    monkeypatch.setattr(benchmarks, "ESTIMATOR_SOLVERS", ("adam",))
    assert cli.main(["bench", "--estimators", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    saved = json.loads((tmp_path / "estimators.json").read_text())
    assert [p.name for p in tmp_path.iterdir()] == ["estimators.json"]  # no bench.json, no plot
    (record,) = saved["records"]
    assert (record["solver"], record["dtype"], record["epochs"]) == ("adam", "float64", EPOCHS)
    assert saved["settings"]["max_iter"] == EPOCHS and saved["environment"]["sklearn"]
    assert "loopnet.MLPClassifier against sklearn.neural_network.MLPClassifier" in out
    assert out.splitlines()[-1].startswith("wrote estimators.json in ")


@pytest.mark.parametrize("extra", [["--cases", "and-2-2-1"], ["--contenders", "numpy"]])
def test_cli_estimators_refuses_sweep_choices(extra, tmp_path, capsys):
    assert cli.main(["bench", "--estimators", "--out", str(tmp_path), *extra]) == 2
    assert f"drop {extra[0]}" in capsys.readouterr().err
    assert not (tmp_path / "estimators.json").exists()
