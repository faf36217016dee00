"""loopnet/cfloor.c, the C floor of the tiny networks, computes what loopnet's loops compute.

The C program is an outside oracle: the articles' full-batch epoch written once more as plain C
(strict IEEE, libm's exp, tanh and log1p), so its final weights after many epochs must equal
loopnet's ``backend="loops"`` (the tiny path) from the same start. Skipped without a C compiler.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from loopnet import benchmarks, cfloor, fast, training

pytestmark = pytest.mark.skipif(cfloor.compiler() is None, reason="no C compiler (set CC or install cc)")

EPOCHS = 3000


NETWORKS = ("and 2-2-1", "three-bit 3-5-1", "perceptron 3-1", "xor 2-8-1")
"""The articles' tiny networks, full batch (the cases of loopnet.benchmarks)."""


def build(case: benchmarks.Case, tmp_path):
    return cfloor.build(case.sizes, case.rows, case.activation, case.output_activation, case.loss,
                        tmp_path / "cfloor")  # fmt: skip


@pytest.mark.parametrize("name", NETWORKS)
def test_c_floor_weights_equal_the_loops(name, tmp_path):
    case = benchmarks.CASES[name]
    data = case.data()
    assert fast.is_small(np.array(case.sizes), case.rows)  # the tiny path is what the floor is held against
    program = build(case, tmp_path)
    path = tmp_path / "data.txt"
    start = case.network(backend="loops").params
    cfloor.write_data(path, data.X, data.Y, start)
    c = cfloor.run(program, path, EPOCHS, 1, case.lr)
    net = case.network(backend="loops")
    history = training.fit(net, data.X, data.Y, EPOCHS, lr=case.lr, chunk_seconds=math.inf)
    assert not np.allclose(net.params, start, rtol=1e-3)  # training moved the weights: the check has teeth
    np.testing.assert_allclose(c.params, net.params, rtol=cfloor.RTOL, atol=0)
    assert c.loss == pytest.approx(history["loss"][-1], rel=cfloor.RTOL, abs=0)
    assert c.ns_per_epoch > 0


def test_c_floor_sees_a_different_learning_rate(tmp_path):
    """The oracle is not vacuous: the C program at another learning rate ends elsewhere."""
    case = benchmarks.CASES[NETWORKS[0]]
    data = case.data()
    program = build(case, tmp_path)
    path = tmp_path / "data.txt"
    cfloor.write_data(path, data.X, data.Y, case.network(backend="loops").params)
    a = cfloor.run(program, path, 200, 1, case.lr)
    b = cfloor.run(program, path, 200, 1, case.lr * 0.5)
    assert np.max(np.abs(a.params - b.params) / np.abs(b.params)) > 1e-3


def test_the_c_contender_races_only_the_tiny_full_batch_sgd_cases_in_float64():
    assert isinstance(benchmarks.make_trainer(benchmarks.CASES["xor 2-8-1"], "c", "float64"),
                      benchmarks.CFloorTrainer)  # fmt: skip
    refused = [("xor 2-8-1", "float32"), ("xor 2-8-1 adam", "float64"), ("digits 64-128-10 b32", "float64")]
    for name, dtype in refused:
        with pytest.raises(benchmarks.Unavailable):
            benchmarks.make_trainer(benchmarks.CASES[name], "c", dtype)


def test_the_c_floor_refuses_networks_it_does_not_implement(tmp_path):
    assert not cfloor.supports((2, 3, 2), "tanh", "softmax", "cross_entropy")
    assert not cfloor.supports((2, 1), "tanh", "tanh", "bce")  # its bce delta assumes a sigmoid output
    with pytest.raises(ValueError, match="no tanh/softmax/cross_entropy network"):
        cfloor.build((2, 3, 2), 4, "tanh", "softmax", "cross_entropy", tmp_path / "x")
    assert not cfloor.supports((2, 3, 1), "tanh", "exp", "poisson")  # no exp nor poisson in cfloor.c
    assert not cfloor.supports((2, 3, 1), "tanh", "exp", "mse")
    with pytest.raises(ValueError, match="no tanh/exp/poisson network"):
        cfloor.build((2, 3, 1), 4, "tanh", "exp", "poisson", tmp_path / "x")
