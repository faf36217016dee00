"""The articles' examples learn their tasks; the perceptron replays seed 003 faithfully."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from loopnet import cli, datasets, demos


@pytest.mark.parametrize("backend", ["loops", "numpy"])
@pytest.mark.parametrize("name", list(demos.DEMOS))
def test_every_demo_learns_its_task(name, backend):
    results = demos.run(name, backend=backend, out=None)
    assert results
    for result in results:
        assert result.correct, result.title  # every prediction on the right side of 0.5
        assert result.history[-1] < 0.1 * result.history[0], result.title


def test_three_bit_predicts_rows_it_never_saw():
    (result,) = demos.run("three-bit", out=None)
    X_train, _, _, _ = datasets.three_bit()
    np.testing.assert_array_equal(result.inputs, [[1, 1, 0], [1, 1, 1]])  # 6 and 7, held out
    np.testing.assert_array_equal(result.targets, [[0], [1]])  # the last bit: 6 is even, 7 odd
    assert not any((row == X_train).all(axis=1).any() for row in result.inputs)
    assert result.correct


def test_xor_runs_two_depths():
    results = demos.run("xor", out=None)
    assert [r.network.sizes for r in results] == [(2, 4, 1), (2, 3, 3, 1)]


# --- seed 003 -------------------------------------------------------------------


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def _article_start():
    """Seed 003's start: the legacy generator seeded 42, three uniform weights then one uniform bias."""
    state = np.random.RandomState(42)
    return [float(v) for v in state.rand(3, 1).ravel()], float(state.rand(1)[0])


def _published_rule_by_hand(epochs):
    """Seed 003's rule re-derived with scalar loops, independently of loopnet.

    Each epoch: out_r = s(x_r . w + b); step_r = (out_r - y_r) s(out_r) (1 - s(out_r)),
    the derivative wrongly taken at the output; w_i -= 0.05 sum_r x_ri step_r;
    then b -= 0.05 step_r for each record in turn.
    """
    X, Y = datasets.perceptron_records()
    w, b = _article_start()
    for _ in range(epochs):
        outs = [_sigmoid(sum(X[r, i] * w[i] for i in range(3)) + b) for r in range(7)]
        steps = [(o - Y[r, 0]) * _sigmoid(o) * (1 - _sigmoid(o)) for r, o in enumerate(outs)]
        w = [w[i] - 0.05 * sum(X[r, i] * steps[r] for r in range(7)) for i in range(3)]
        for s in steps:
            b -= 0.05 * s
    return [_sigmoid(sum(p[i] * w[i] for i in range(3)) + b) for p in ([1, 0, 0], [0, 1, 0])]


def _correct_rule_by_hand(epochs):
    """The right gradient of 1/2 SSE, every parameter stepped together, from the same start."""
    X, Y = datasets.perceptron_records()
    w, b = _article_start()
    for _ in range(epochs):
        outs = [_sigmoid(sum(X[r, i] * w[i] for i in range(3)) + b) for r in range(7)]
        deltas = [(o - Y[r, 0]) * o * (1 - o) for r, o in enumerate(outs)]
        w = [w[i] - 0.05 * sum(X[r, i] * deltas[r] for r in range(7)) for i in range(3)]
        b -= 0.05 * sum(deltas)
    return [_sigmoid(sum(p[i] * w[i] for i in range(3)) + b) for p in ([1, 0, 0], [0, 1, 0])]


@pytest.fixture(scope="module")
def published_25000():
    return _published_rule_by_hand(25000)


def test_as_published_matches_the_rule_worked_by_hand(published_25000):
    result = demos.perceptron_as_published(25000)
    np.testing.assert_allclose(result.predictions.ravel(), published_25000, rtol=1e-10)
    assert result.network is None


ARTICLE_PRINTS = (0.01031463, 0.99440207)
"""Seed 003's printed outputs for [1,0,0] and [0,1,0], copied from the article's text (the outside oracle)."""


def test_the_articles_printed_digits_come_from_55000_epochs_of_its_rule():
    """The article says 25,000 epochs; its printed outputs are its rule's after 55,000 (not 25,000)."""
    by_hand = _published_rule_by_hand(55000)
    assert [round(v, 8) for v in by_hand] == list(ARTICLE_PRINTS)
    assert [round(v, 8) for v in _published_rule_by_hand(25000)] != list(ARTICLE_PRINTS)
    result = demos.perceptron_as_published(55000)
    assert [round(float(v), 8) for v in result.predictions.ravel()] == list(ARTICLE_PRINTS)
    np.testing.assert_allclose(result.predictions.ravel(), by_hand, rtol=1e-10)


def test_as_published_says_which_epochs_give_the_printed_digits(capsys, published_25000):
    assert cli.main(["demo", "perceptron", "--as-published"]) == 0
    out = capsys.readouterr().out
    section = out.split("AS PUBLISHED")[1].split("perceptron (seed 003), correct gradient")[0]
    (note,) = [line for line in section.splitlines() if line.strip().startswith("note:")]
    assert "25,000" in note and "55,000" in note
    assert note.count("0.01031463") == 2 and note.count("0.99440207") == 2  # printed, and what 55,000 give
    for value in published_25000:  # and what the article's 25,000 give
        assert f"{value:.8f}" in note
    # the corrected run says in one line why it differs from the article's numbers
    corrected = out.split("perceptron (seed 003), correct gradient")[1]
    (why,) = [line for line in corrected.splitlines() if line.strip().startswith("note:")]
    assert "0.01031463" in why and "derivative" in why


def test_corrected_perceptron_matches_the_right_gradient_by_hand():
    (result,) = demos.run("perceptron", epochs=3000, out=None)
    np.testing.assert_allclose(result.predictions.ravel(), _correct_rule_by_hand(3000), rtol=1e-10)


def test_the_published_rule_is_not_the_correct_one():
    published, correct = demos.run("perceptron", epochs=200, as_published=True, out=None)
    assert "AS PUBLISHED" in published.title and "correct" in correct.title
    assert published.history[0] == pytest.approx(correct.history[0], rel=1e-14)  # same start
    assert abs(published.predictions[0, 0] - correct.predictions[0, 0]) > 1e-3  # different rule


def test_readme_call_works_after_a_plain_import(published_25000):
    """The README's ``loopnet.demos.run("perceptron", as_published=True)`` after only ``import loopnet``.

    In a fresh interpreter: in this one, other tests have imported loopnet.demos already.
    """
    code = 'import loopnet; loopnet.demos.run("perceptron", as_published=True)'
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    section = done.stdout.split("AS PUBLISHED")[1].split("perceptron (seed 003), correct gradient")[0]
    for value in published_25000:
        assert f"{value:.8f}" in section


def test_import_loopnet_leaves_demos_and_benchmarks_until_used():
    """``import loopnet`` does not import the demos or the benchmarks (which pull in much more)."""
    code = (
        "import sys, loopnet\n"
        "lazy = ('loopnet.demos', 'loopnet.benchmarks', 'loopnet.cli')\n"
        "print([m for m in lazy if m in sys.modules])\n"
        "loopnet.demos\n"
        "print('loopnet.demos' in sys.modules)\n"
        "try:\n"
        "    loopnet.no_such_thing\n"
        "except AttributeError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "True", "module 'loopnet' has no attribute 'no_such_thing'"]


def test_cli_as_published_prints_eight_decimals(capsys, published_25000):
    assert cli.main(["demo", "perceptron", "--as-published"]) == 0
    out = capsys.readouterr().out
    section = out.split("AS PUBLISHED")[1].split("perceptron (seed 003), correct gradient")[0]
    for value in published_25000:
        assert f"{value:.8f}" in section
    assert "perceptron (seed 003), correct gradient" in out


def test_cli_epochs_and_errors(capsys):
    assert cli.main(["demo", "and", "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert "3 epochs" in out and "\n        3  " in out
    for bad in (["demo", "nope"], ["demo", "and", "--epochs", "0"], ["demo", "xor", "--as-published"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(bad)
        assert exc.value.code == 2
        assert "error" in capsys.readouterr().err


def test_module_entry_point_runs_all_demos():
    done = subprocess.run([sys.executable, "-m", "loopnet", "demo", "--epochs", "50"], capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for title in ("AND gate", "three-bit", "XOR", "perceptron"):
        assert title in done.stdout
