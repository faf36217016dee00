"""numpy-lean and jax train exactly what loopnet's loops train: the proof the benchmark race is fair.

Each contender (loopnet/contenders.py) is written independently of loopnet's kernels; here
it starts from ``Network(..., seed=0)``'s weights (drawn by its own :func:`initial_weights`,
checked equal first), visits the same minibatches, and after a few epochs its weights and
its loss history must equal ``Network(..., backend="loops")``'s:

* float64: to 1e-10 of the largest weight (they differ only in summation order);
* float32: within 4x the gap between loopnet's own float32 and float64 runs of the same fit,
  i.e. to float32 rounding as the loops themselves experience it (Adam amplifies rounding in
  the parameters whose gradient is near zero, so a fixed tolerance would not say the same
  thing for SGD and Adam).

The jax tests are skipped when jax is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest

import loopnet
from loopnet import benchmarks, contenders

EPOCHS = 3

CASES = [
    "digits 64-128-10 b32",  # relu + softmax + cross_entropy, 57 minibatches with a last short one
    "digits 64-128-10 b32 adam",
    "xor 2-8-1",  # tanh + sigmoid + bce, full batch
    "xor 2-8-1 adam",
    "three-bit 3-5-1",  # sigmoid + sigmoid + sse, full batch
    "mnist-like 784-256-10 b256 adam",  # 40 batches, the last of 16 rows
]


def _flat(weights) -> np.ndarray:
    return np.concatenate([np.concatenate([W.ravel(), b]) for W, b in weights]).astype(np.float64)


def _loops(case: benchmarks.Case, dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Initial weights, weights after EPOCHS epochs and the loss history of the loops on the case."""
    data = case.data()
    net = case.network(backend="loops", dtype=dtype)
    start = _flat(net.weights)
    rule = {"optimizer": loopnet.Adam(lr=case.lr)} if case.optimizer == "adam" else {"lr": case.lr}
    history = net.fit(data.X, data.Y, epochs=EPOCHS, batch_size=case.batch_size, **rule)
    return start, _flat(net.weights), np.asarray(history["loss"])


_CACHE: dict = {}


def loops(case_name: str, dtype: str):
    if (case_name, dtype) not in _CACHE:
        _CACHE[case_name, dtype] = _loops(benchmarks.CASES[case_name], dtype)
    return _CACHE[case_name, dtype]


def _tolerance(case_name: str, dtype: str) -> float:
    """Largest allowed weight difference from the loops' (see the module docstring)."""
    _, after, _ = loops(case_name, dtype)
    if dtype == "float64":
        return 1e-10 * np.max(np.abs(after))
    _, after64, _ = loops(case_name, "float64")
    return 4 * np.max(np.abs(after - after64))


def _check(case_name: str, dtype: str, start, after, losses) -> None:
    start_l, after_l, losses_l = loops(case_name, dtype)
    np.testing.assert_array_equal(start, start_l)  # the same initial weights, to the bit
    assert losses_l[-1] < losses_l[0]  # it trained: equal weights mean something
    moved = np.max(np.abs(after_l - start_l))
    tol = _tolerance(case_name, dtype)
    assert tol < 1e-3 * moved  # the tolerance is far below what training changed
    assert np.max(np.abs(after - after_l)) <= tol
    rel = 1e-10 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(losses, losses_l, rtol=rel)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case_name", CASES)
def test_numpy_lean_trains_like_the_loops(case_name, dtype):
    case = benchmarks.CASES[case_name]
    data = case.data()
    lean = contenders.LeanNumpy(case.sizes, case.activation, case.output_activation, case.loss, case.lr,
                                case.optimizer, dtype=dtype, seed=0)  # fmt: skip
    start = _flat(lean.weights)
    losses = lean.fit(data.X, data.Y, EPOCHS, case.batch_size)
    _check(case_name, dtype, start, _flat(lean.weights), losses)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case_name", CASES)
def test_jax_trains_like_the_loops(case_name, dtype):
    pytest.importorskip("jax")
    case = benchmarks.CASES[case_name]
    data = case.data()
    model = contenders.JaxMLP(case.sizes, case.activation, case.output_activation, case.loss, case.lr,
                              case.optimizer, dtype=dtype, seed=0, batch_size=case.batch_size)  # fmt: skip
    start = _flat(model.weights)
    _, rng = contenders.initial_weights(case.sizes, case.activation, case.output_activation, 0, dtype)
    orders = contenders.loopnet_orders(contenders.shuffle_seed(rng), case.rows, EPOCHS)
    losses = model.fit(data.X, data.Y, EPOCHS, orders=orders)
    assert model.weights[0][0].dtype == np.dtype(dtype)  # float64 really is float64 (jax_enable_x64)
    _check(case_name, dtype, start, _flat(model.weights), losses)


def test_loopnet_orders_follow_park_miller_fisher_yates():
    """The orders against the generator written out here: x <- 48271 x mod (2^31 - 1), j = x mod (i + 1)."""
    seed, rows, epochs = 12345, 9, 4
    order, x, want = list(range(rows)), seed, []
    for _ in range(epochs):  # one array shuffled again every epoch, never reset
        for i in range(rows - 1, 0, -1):
            x = x * 48271 % (2**31 - 1)
            j = x % (i + 1)
            order[i], order[j] = order[j], order[i]
        want.append(list(order))
    np.testing.assert_array_equal(contenders.loopnet_orders(seed, rows, epochs), want)


def test_initial_weights_are_the_networks_for_every_init_rule():
    """He normal for relu and leaky_relu layers, else Glorot uniform, in draw order; then the shuffle seed."""
    for hidden, out in [("relu", "softmax"), ("tanh", "sigmoid"), ("leaky_relu", "identity")]:
        net = loopnet.Network([5, 4, 3, 2], activation=hidden, output_activation=out, loss="mse", seed=7)
        weights, rng = contenders.initial_weights([5, 4, 3, 2], hidden, out, 7, "float64")
        np.testing.assert_array_equal(_flat(weights), _flat(net.weights))
        assert contenders.shuffle_seed(rng) == net._rng.integers(1, 2**31 - 1)


def test_lean_refuses_what_it_does_not_implement():
    with pytest.raises(ValueError, match="needs output_activation 'softmax'"):
        contenders.LeanNumpy((2, 3, 2), "relu", "sigmoid", "cross_entropy", 0.1)
    with pytest.raises(ValueError, match="optimizer must be 'sgd' or 'adam'"):
        contenders.LeanNumpy((2, 3, 2), "relu", "softmax", "cross_entropy", 0.1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="loss 'poisson' is not one of"):  # loopnet's poisson: not here
        contenders.LeanNumpy((2, 3, 1), "relu", "exp", "poisson", 0.1)
    with pytest.raises(ValueError, match="output activation 'exp' with 'mse'"):
        contenders.LeanNumpy((2, 3, 1), "relu", "exp", "mse", 0.1)
