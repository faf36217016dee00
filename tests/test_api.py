"""The public API of ``loopnet.Network`` and ``loopnet.load``: bad input, copies, persistence, seeds, dtypes.

Every bad input must come back as a ValueError or TypeError whose message names the problem -- never a
Numba typing error from the compiled code behind the API, and never a modified user array.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import loopnet

BACKENDS = ("loops", "numpy")
HIDDEN = ("identity", "sigmoid", "tanh", "relu", "leaky_relu")


def _raises(exc, match, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` raises ``exc`` matching ``match``, and the error is not Numba's."""
    with pytest.raises(exc, match=match) as info:
        fn(*args, **kwargs)
    assert not type(info.value).__module__.startswith("numba"), repr(info.value)
    return info.value


def _data(rng, N=4, n0=3, K=2):
    return rng.normal(size=(N, n0)), rng.random((N, K))


# --- bad X, through every entry point -----------------------------------------------------------

_nan_X = np.ones((4, 3))
_nan_X[1, 2] = np.nan
_inf_X = np.ones((4, 3))
_inf_X[2, 0] = np.inf
_ninf_X = np.ones((4, 3))
_ninf_X[3, 1] = -np.inf

BAD_X = [
    pytest.param(np.ones((4, 5)), ValueError, r"X must have 3 columns.*\(4, 5\)", id="wrong-columns"),
    pytest.param(np.ones(3), ValueError, r"X must be a 2-D array .*got 1-D.*reshape", id="1-D"),
    pytest.param(np.ones((4, 3, 1)), ValueError, r"X must be a 2-D array .*got 3-D", id="3-D"),
    pytest.param(np.float64(1.0), ValueError, r"X must be a 2-D array .*got 0-D", id="scalar"),
    pytest.param(np.empty((0, 3)), ValueError, r"X has no rows", id="empty"),
    pytest.param([], ValueError, r"X must be a 2-D array", id="empty-list"),
    pytest.param(_nan_X, ValueError, r"X must hold only finite numbers; X\[1, 2\] is nan", id="nan"),
    pytest.param(_inf_X, ValueError, r"X must hold only finite numbers; X\[2, 0\] is inf", id="inf"),
    pytest.param(_ninf_X, ValueError, r"X must hold only finite numbers; X\[3, 1\] is -inf", id="-inf"),
    pytest.param("abc", TypeError, r"X must be an array of numbers, got a string", id="str"),
    pytest.param(b"abc", TypeError, r"X must be an array of numbers, got a string", id="bytes"),
    pytest.param([["a", "b", "c"]] * 4, TypeError, r"X must hold numbers", id="str-array"),
    pytest.param(None, TypeError, r"X must be an array of numbers, got None", id="None"),
    pytest.param(np.ones((4, 3), complex), TypeError, r"X must be real; got complex", id="complex"),
    pytest.param(np.array([[1, {}, 2]] * 4, dtype=object), TypeError, r"X must hold numbers", id="object"),
    pytest.param(
        np.array([[1, None, 2]] * 4, dtype=object), TypeError, r"X must hold numbers only", id="None-in"
    ),
    pytest.param([["1", "2", "3"]] * 4, TypeError, r"X must hold numbers", id="numeric-strings"),
    pytest.param(np.zeros((4, 3), "datetime64[s]"), TypeError, r"X must hold numbers", id="datetime"),
]


def _call(net, method, X, Y):
    if method == "forward":
        return net.forward(X)
    if method == "predict":
        return net.predict(X)
    if method == "fit":
        return net.fit(X, Y, epochs=2, lr=0.1)
    return getattr(net, method)(X, Y)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["forward", "predict", "loss", "gradients", "fit"])
@pytest.mark.parametrize("X, exc, match", BAD_X)
def test_bad_X_is_rejected_with_a_clear_error(X, exc, match, method, backend):
    net = loopnet.Network([3, 4, 2], backend=backend, seed=0)
    before = net.weights
    _raises(exc, match, _call, net, method, X, np.zeros((4, 2)))
    for (W0, b0), (W1, b1) in zip(before, net.weights):  # a rejected fit trains nothing
        assert np.array_equal(W0, W1) and np.array_equal(b0, b1)


_nan_Y = np.zeros((4, 2))
_nan_Y[0, 1] = np.nan
_inf_Y = np.zeros((4, 2))
_inf_Y[3, 0] = np.inf

BAD_Y = [
    pytest.param(np.zeros((3, 2)), ValueError, r"same number of samples; got 4 and 3", id="fewer-rows"),
    pytest.param(np.zeros((5, 2)), ValueError, r"same number of samples; got 4 and 5", id="more-rows"),
    pytest.param(np.zeros((4, 3)), ValueError, r"Y must have 2 columns", id="wrong-columns"),
    pytest.param(
        np.zeros(4), ValueError, r"Y must be a 2-D .*only accepted for a network with one output", id="1-D"
    ),
    pytest.param(np.zeros((4, 2, 1)), ValueError, r"Y must be a 2-D array .*got 3-D", id="3-D"),
    pytest.param(np.empty((0, 2)), ValueError, r"Y has no rows", id="empty"),
    pytest.param(_nan_Y, ValueError, r"Y must hold only finite numbers; Y\[0, 1\] is nan", id="nan"),
    pytest.param(_inf_Y, ValueError, r"Y must hold only finite numbers; Y\[3, 0\] is inf", id="inf"),
    pytest.param("abc", TypeError, r"Y must be an array of numbers, got a string", id="str"),
    pytest.param(None, TypeError, r"Y must be an array of numbers, got None", id="None"),
    pytest.param(np.zeros((4, 2), complex), TypeError, r"Y must be real", id="complex"),
    pytest.param(np.array([[{}, 1]] * 4, dtype=object), TypeError, r"Y must hold numbers", id="object"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["loss", "gradients", "fit"])
@pytest.mark.parametrize("Y, exc, match", BAD_Y)
def test_bad_Y_is_rejected_with_a_clear_error(Y, exc, match, method, backend):
    net = loopnet.Network([3, 4, 2], backend=backend, seed=0)
    _raises(exc, match, _call, net, method, np.ones((4, 3)), Y)


@pytest.mark.parametrize("method", ["loss", "gradients", "fit"])
@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_bce_targets_outside_0_1_are_rejected(bad, method):
    net = loopnet.Network([3, 4, 2], output_activation="sigmoid", loss="bce", seed=0)
    Y = np.full((4, 2), 0.5)
    Y[2, 1] = bad
    _raises(ValueError, r"'bce' needs targets in \[0, 1\]", _call, net, method, np.ones((4, 3)), Y)
    Y[2, 1] = 1.0  # the boundary itself is fine: the loss is -mean(y ln a + (1 - y) ln(1 - a))
    a = net.forward(np.ones((4, 3)))
    want = -np.mean(Y * np.log(a) + (1 - Y) * np.log(1 - a))
    assert net.loss(np.ones((4, 3)), Y) == pytest.approx(want, rel=1e-12)


def test_cross_entropy_negative_targets_are_rejected():
    net = loopnet.Network([3, 4, 2], output_activation="softmax", loss="cross_entropy", seed=0)
    _raises(
        ValueError, r"cross_entropy' needs non-negative targets", net.loss, np.ones((2, 3)), [[1, 0], [-1, 2]]
    )


@pytest.mark.parametrize("method", ["loss", "gradients", "fit"])
def test_poisson_negative_targets_are_rejected(method):
    net = loopnet.Network([3, 4, 2], output_activation="exp", loss="poisson", seed=0)
    Y = np.array([[0.0, 3.0], [1.0, 2.0], [0.0, 0.0], [5.0, 1.0]])
    Y[1, 0] = -0.5
    _raises(ValueError, r"loss 'poisson' needs non-negative targets", _call, net, method, np.ones((4, 3)), Y)
    _raises(ValueError, r"'poisson' needs non-negative targets.*Y_val", net.fit, np.ones((4, 3)), abs(Y), 1,
            validation=(np.ones((4, 3)), Y))  # fmt: skip
    Y[1, 0] = 0.0  # zeros are counts like any other: the loss is mean(y ln(y / a) - y + a), 0 ln 0 = 0
    a = net.forward(np.ones((4, 3)))
    want = np.mean(np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1.0) / a), 0.0) - Y + a)
    assert net.loss(np.ones((4, 3)), Y) == pytest.approx(want, rel=1e-12)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_value_too_large_for_float32_is_a_clear_error():
    net = loopnet.Network([3, 2], dtype="float32", seed=0)
    X = np.array([[1.0, 1e300, 3.0]])  # finite in float64, inf in float32
    _raises(ValueError, r"X\[0, 1\] = 1e\+300 does not fit in float32", net.forward, X)
    _raises(
        ValueError, r"Y\[0, 0\] = 1e\+39 does not fit in float32", net.loss, np.ones((1, 3)), [[1e39, 0.0]]
    )
    # the float32 maximum itself fits, and gives what a float64 network with the same weights gives
    wide = loopnet.Network([3, 2], seed=0)
    wide.set_weights(net.weights)
    big = np.array([[1.0, 3e38, 3.0]])
    np.testing.assert_allclose(net.forward(big), wide.forward(big), rtol=1e-6)
    # the value too big for float32 is fine in a float64 network: W[1] * 1e300 saturates the sigmoid
    W = wide.weights[0][0]
    np.testing.assert_array_equal(wide.forward(X), (W[1] > 0).astype(float).reshape(1, 2))


def test_float32_overflow_check_raises_no_numpy_warning():
    net = loopnet.Network([3, 2], dtype="float32", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _raises(ValueError, r"does not fit in float32", net.forward, np.array([[1.0, 1e300, 3.0]]))


# --- bad network definitions -------------------------------------------------------------------

BAD_NETWORKS = [
    pytest.param(
        {"activation": "swish"}, ValueError, r"unknown activation 'swish'; expected one of", id="act"
    ),
    pytest.param(
        {"sizes": [3, 2], "activation": "swish"}, ValueError, r"unknown activation 'swish'", id="act-0"
    ),
    pytest.param(
        {"activation": ["tanh", "swish"], "sizes": [3, 4, 4, 2]},
        ValueError,
        r"unknown activation 'swish'",
        id="act-list",
    ),
    pytest.param({"activation": [5]}, TypeError, r"activation names must be strings, got int", id="act-int"),
    pytest.param(
        {"output_activation": "swish"}, ValueError, r"unknown activation 'swish'.*softmax", id="out"
    ),
    pytest.param({"output_activation": None}, TypeError, r"activation names must be strings", id="out-None"),
    pytest.param(
        {"loss": "hinge"}, ValueError, r"unknown loss 'hinge'; expected one of sse, mse, bce", id="loss"
    ),
    pytest.param({"loss": None}, TypeError, r"loss must be a string", id="loss-None"),
    pytest.param(
        {"backend": "cuda"}, ValueError, r"unknown backend 'cuda'; expected one of loops, numpy", id="backend"
    ),
    pytest.param({"backend": None}, ValueError, r"unknown backend None", id="backend-None"),
    pytest.param(
        {"activation": "softmax", "output_activation": "softmax", "loss": "cross_entropy"},
        ValueError,
        r"softmax is only allowed on the output layer",
        id="softmax-hidden",
    ),
    pytest.param(
        {"sizes": [3, 4, 4, 2], "activation": ["tanh", "softmax"]},
        ValueError,
        r"softmax is only allowed on the output layer",
        id="softmax-hidden-list",
    ),
    pytest.param(
        {"activation": "exp", "output_activation": "exp", "loss": "poisson"},
        ValueError,
        r"exp is only allowed on the output layer",
        id="exp-hidden",
    ),
    pytest.param(
        {"sizes": [3, 4, 4, 2], "activation": ["exp", "tanh"]},
        ValueError,
        r"exp is only allowed on the output layer .*use one of identity, sigmoid, tanh, relu, leaky_relu for",
        id="exp-hidden-list",
    ),
    pytest.param(
        {"output_activation": "identity", "loss": "poisson"},
        ValueError,
        r"loss 'poisson' needs output_activation='exp' \(got 'identity'\)",
        id="poisson-identity",
    ),
    pytest.param(
        {"sizes": [3, 4, 1], "output_activation": "softmax"},
        ValueError,
        r"softmax output needs at least 2 output units",
        id="softmax-1",
    ),
    pytest.param(
        {"output_activation": "tanh", "loss": "bce"},
        ValueError,
        r"loss 'bce' needs output_activation='sigmoid' \(got 'tanh'\)",
        id="bce-tanh",
    ),
    pytest.param(
        {"output_activation": "softmax", "loss": "bce"},
        ValueError,
        r"loss 'bce' needs output_activation='sigmoid'",
        id="bce-softmax",
    ),
    pytest.param(
        {"output_activation": "sigmoid", "loss": "cross_entropy"},
        ValueError,
        r"loss 'cross_entropy' needs output_activation='softmax' \(got 'sigmoid'\)",
        id="ce-sigmoid",
    ),
    pytest.param(
        {"sizes": [3, 4, 4, 2], "activation": ["tanh"]},
        ValueError,
        r"one name per hidden layer: 2 for sizes \[3, 4, 4, 2\]; got 1",
        id="too-few-acts",
    ),
    pytest.param(
        {"sizes": [3, 4, 2], "activation": ["tanh", "relu"]},
        ValueError,
        r"one name per hidden layer: 1 .*got 2",
        id="too-many-acts",
    ),
    pytest.param(
        {"sizes": [3, 2], "activation": ["tanh"]},
        ValueError,
        r"one name per hidden layer: 0",
        id="acts-no-hidden",
    ),
    pytest.param(
        {"sizes": [3]}, ValueError, r"sizes needs at least an input and an output size", id="sizes-1"
    ),
    pytest.param(
        {"sizes": []}, ValueError, r"sizes needs at least an input and an output size", id="sizes-0"
    ),
    pytest.param({"sizes": [3, 0, 1]}, ValueError, r"every layer needs at least one unit", id="sizes-zero"),
    pytest.param({"sizes": [3, -2]}, ValueError, r"every layer needs at least one unit", id="sizes-negative"),
    pytest.param({"sizes": [2.5, 1]}, TypeError, r"sizes must hold integers, got 2.5", id="sizes-float"),
    pytest.param({"sizes": [True, 1]}, TypeError, r"sizes must hold integers, got True", id="sizes-bool"),
    pytest.param({"sizes": "abc"}, TypeError, r"sizes must be a sequence of layer widths", id="sizes-str"),
    pytest.param({"sizes": 3}, TypeError, r"sizes must be a sequence of layer widths", id="sizes-int"),
    pytest.param({"sizes": None}, TypeError, r"sizes must be a sequence of layer widths", id="sizes-None"),
    pytest.param(
        {"dtype": "int32"}, ValueError, r"dtype must be 'float64' or 'float32', got 'int32'", id="int32"
    ),
    pytest.param(
        {"dtype": "float16"}, ValueError, r"dtype must be 'float64' or 'float32', got 'float16'", id="float16"
    ),
    pytest.param(
        {"dtype": "complex128"}, ValueError, r"dtype must be 'float64' or 'float32'", id="complex128"
    ),
    pytest.param(
        {"dtype": "floaty"}, TypeError, r"dtype must be 'float64' or 'float32', got 'floaty'", id="dtype-str"
    ),
    pytest.param(
        {"init": "zeros"}, ValueError, r"unknown init 'zeros'; expected one of auto, glorot, he", id="init"
    ),
    pytest.param({"seed": -1}, ValueError, r"seed must be >= 0", id="seed-negative"),
    pytest.param({"seed": 1.5}, TypeError, r"seed must be an integer, got float", id="seed-float"),
]


@pytest.mark.parametrize("kwargs, exc, match", BAD_NETWORKS)
def test_bad_network_definition_is_rejected(kwargs, exc, match):
    kwargs = {"sizes": [3, 4, 2], **kwargs}
    _raises(exc, match, loopnet.Network, **kwargs)


def test_backend_setter_validates():
    net = loopnet.Network([3, 4, 2], seed=0)
    _raises(ValueError, r"unknown backend 'gpu'", setattr, net, "backend", "gpu")
    assert net.backend == "loops"
    net.backend = "numpy"
    assert net.backend == "numpy" and net.config()["backend"] == "numpy"
    assert net._kernels is loopnet.network.BACKENDS["numpy"]  # the kernels switched, not only the name


UNCLEAR = [
    pytest.param(
        lambda: loopnet.Network([3, 4, 2], activation=5), TypeError, r"activation", id="activation-int"
    ),
    pytest.param(
        lambda: loopnet.Network([3, 4, 2], activation=None), TypeError, r"activation", id="activation-None"
    ),
    pytest.param(
        lambda: loopnet.Network([3, 4, 2], backend=["loops"]),
        (TypeError, ValueError),
        r"backend",
        id="backend-list",
    ),
    pytest.param(
        lambda: loopnet.Network([3, 4, 2]).set_weights(None),
        TypeError,
        r"weights|pairs",
        id="set_weights-None",
    ),
    pytest.param(
        lambda: loopnet.Network([3, 4, 2]).set_weights([1, 2]),
        (TypeError, ValueError),
        r"layer 0|pair",
        id="set_weights-ints",
    ),
    pytest.param(
        lambda: loopnet.Network([3, 2]).forward([[1, 2, 3], [1, 2]]),
        (TypeError, ValueError),
        r"\bX\b",
        id="ragged-X",
    ),
]


@pytest.mark.parametrize("make, exc, match", UNCLEAR)
def test_error_message_names_the_argument(make, exc, match):
    _raises(exc, match, make)


# --- fit arguments -----------------------------------------------------------------------------

BAD_FIT = [
    pytest.param({"epochs": -1}, ValueError, r"epochs must be >= 0, got -1", id="epochs-negative"),
    pytest.param({"epochs": 2.0}, TypeError, r"epochs must be an integer, got float", id="epochs-float"),
    pytest.param({"epochs": True}, TypeError, r"epochs must be an integer, got bool", id="epochs-bool"),
    pytest.param({"epochs": None}, TypeError, r"epochs must be an integer", id="epochs-None"),
    pytest.param({"lr": 0.0}, ValueError, r"lr must be a finite number > 0, got 0.0", id="lr-zero"),
    pytest.param({"lr": -0.1}, ValueError, r"lr must be a finite number > 0, got -0.1", id="lr-negative"),
    pytest.param({"lr": float("nan")}, ValueError, r"lr must be a finite number > 0, got nan", id="lr-nan"),
    pytest.param({"lr": float("inf")}, ValueError, r"lr must be a finite number > 0, got inf", id="lr-inf"),
    pytest.param({"lr": True}, TypeError, r"lr must be a real number, got bool", id="lr-bool"),
    pytest.param({"lr": "0.1"}, TypeError, r"lr must be a real number, got str", id="lr-str"),
    pytest.param({"lr": 1j}, TypeError, r"lr must be a real number, got complex", id="lr-complex"),
    pytest.param({"batch_size": 0}, ValueError, r"batch_size must be >= 1, got 0", id="batch-zero"),
    pytest.param({"batch_size": -4}, ValueError, r"batch_size must be >= 1, got -4", id="batch-negative"),
    pytest.param(
        {"batch_size": 2.0}, TypeError, r"batch_size must be an integer, got float", id="batch-float"
    ),
    pytest.param(
        {"batch_size": False}, TypeError, r"batch_size must be an integer, got bool", id="batch-bool"
    ),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kwargs, exc, match", BAD_FIT)
def test_bad_fit_arguments_are_rejected(kwargs, exc, match, backend):
    net = loopnet.Network([3, 4, 2], backend=backend, seed=0)
    before = net.weights
    X, Y = _data(np.random.default_rng(0))
    _raises(exc, match, net.fit, X, Y, **{"epochs": 3, "lr": 0.1, **kwargs})
    for (W0, b0), (W1, b1) in zip(before, net.weights):
        assert np.array_equal(W0, W1) and np.array_equal(b0, b1)


def test_fit_edge_values_that_are_valid():
    X, Y = _data(np.random.default_rng(0))
    net = loopnet.Network([3, 4, 2], seed=0)
    before = net.weights
    assert net.fit(X, Y, epochs=0, lr=0.1)["loss"].shape == (0,)  # zero epochs: nothing happens
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(before, net.weights))
    start = net.loss(X, Y)
    h = net.fit(X, Y, epochs=np.int64(2), lr=np.float32(0.1), batch_size=100)  # batch > N: full batch
    assert h["loss"].shape == (2,) and h["loss"][0] == start  # full batch: the loss before the first step
    assert not np.array_equal(before[0][0], net.weights[0][0])


# --- set_weights and load ----------------------------------------------------------------------


def test_set_weights_rejects_bad_structures():
    net = loopnet.Network([3, 4, 2], seed=0)
    w = net.weights
    (W0, b0), (W1, b1) = w
    _raises(ValueError, r"list of 2 \(W, b\) pairs, one per layer.*got 1 items", net.set_weights, w[:1])
    _raises(ValueError, r"list of 2 \(W, b\) pairs, one per layer.*got 3 items", net.set_weights, [*w, w[1]])
    _raises(
        ValueError, r"layer 0 W must have shape \(3, 4\), got \(4, 3\)", net.set_weights, [(W0.T, b0), w[1]]
    )
    _raises(
        ValueError, r"layer 1 b must have shape \(2,\), got \(1, 2\)", net.set_weights, [w[0], (W1, b1[None])]
    )
    _raises(
        ValueError,
        r"weights\[0\] must be a \(W, b\) pair; got 3 items",
        net.set_weights,
        [(W0, b0, b0), w[1]],
    )
    bad = W1.copy()
    bad[1, 1] = np.nan
    _raises(ValueError, r"layer 1 W must hold only finite numbers", net.set_weights, [w[0], (bad, b1)])
    bad = b0.copy()
    bad[0] = -np.inf
    _raises(ValueError, r"layer 0 b must hold only finite numbers", net.set_weights, [(W0, bad), w[1]])
    _raises(TypeError, r"layer 0 W must hold real numbers", net.set_weights, [(W0.astype(complex), b0), w[1]])
    _raises(TypeError, r"layer 0 W must hold real numbers", net.set_weights, [(W0.astype(str), b0), w[1]])
    # a rejected set_weights changes nothing, even when an earlier layer was fine
    for (Wa, ba), (Wb, bb) in zip(w, net.weights):
        assert np.array_equal(Wa, Wb) and np.array_equal(ba, bb)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_set_weights_too_large_for_float32():
    net = loopnet.Network([3, 2], dtype="float32", seed=0)
    _raises(
        ValueError,
        r"layer 0 W has values that do not fit in float32",
        net.set_weights,
        [(np.full((3, 2), 1e300), np.zeros(2))],
    )


def test_load_rejects_files_that_are_not_loopnet_networks(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, a=np.ones(3))
    _raises(ValueError, r"is not a loopnet model file", loopnet.load, other)
    # right keys, wrong format tag
    tagged = tmp_path / "tagged.npz"
    np.savez(tagged, params=np.ones(3), config=np.array(json.dumps({"format": "keras", "version": 1})))
    _raises(ValueError, r"is not a loopnet model file", loopnet.load, tagged)
    # a loopnet file from the future
    net = loopnet.Network([2, 1], seed=0)
    future = tmp_path / "future.npz"
    np.savez(
        future,
        params=net.params,
        config=np.array(json.dumps({"format": "loopnet", "version": 99, **net.config()})),
    )
    _raises(
        ValueError,
        r"file format version 99, newer than the versions this loopnet reads \(1, 2\)",
        loopnet.load,
        future,
    )
    # parameters that do not fit the configuration
    short = tmp_path / "short.npz"
    np.savez(
        short,
        params=np.ones(2),
        config=np.array(json.dumps({"format": "loopnet", "version": 1, **net.config()})),
    )
    _raises(ValueError, r"holds 2 parameters; its network \[2, 1\] needs 3", loopnet.load, short)


def test_load_of_a_npy_file_says_it_is_not_a_network(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.ones(3))
    _raises((ValueError, TypeError), r"not a loopnet model file", loopnet.load, path)


# --- nothing the user passes is modified or aliased ----------------------------------------------


def _user_arrays(rng):
    big_X = rng.normal(size=(8, 7))
    big_Y = rng.random((8, 5))
    return {
        "non-contiguous": (big_X[::2, 1::2], big_Y[::2, ::3]),  # (4, 3) and (4, 2) strided views
        "fortran": (np.asfortranarray(rng.normal(size=(4, 3))), np.asfortranarray(rng.random((4, 2)))),
        "integer": (rng.integers(-3, 4, size=(4, 3)), rng.integers(0, 2, size=(4, 2)).astype(np.int32)),
        "float32-arrays": (
            rng.normal(size=(4, 3)).astype(np.float32),
            rng.random((4, 2)).astype(np.float32),
        ),
        "lists": (rng.normal(size=(4, 3)).tolist(), rng.random((4, 2)).tolist()),
    }


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["non-contiguous", "fortran", "integer", "float32-arrays", "lists"])
def test_user_data_is_never_modified(kind, backend, dtype):
    X, Y = _user_arrays(np.random.default_rng(1))[kind]
    X0, Y0 = np.array(X, copy=True), np.array(Y, copy=True)
    base = X.base if isinstance(X, np.ndarray) else None
    base0 = None if base is None else base.copy()
    net = loopnet.Network([3, 4, 2], loss="bce", backend=backend, dtype=dtype, seed=0)
    ref = loopnet.Network([3, 4, 2], loss="bce", backend=backend, dtype=dtype, seed=0)
    out = net.forward(X)
    loss = net.loss(X, Y)
    grads = net.gradients(X, Y)
    hist = net.fit(X, Y, epochs=3, lr=0.5, batch_size=2)
    assert np.array_equal(np.asarray(X), X0) and np.array_equal(np.asarray(Y), Y0)
    if base is not None:
        assert np.array_equal(base, base0)
    # ... and the layout made no difference: the same calls on plain C-contiguous copies agree bit for bit
    Xc, Yc = np.ascontiguousarray(X0, dtype=dtype), np.ascontiguousarray(Y0, dtype=dtype)
    assert np.array_equal(ref.forward(Xc), out)
    assert ref.loss(Xc, Yc) == loss
    assert all(np.array_equal(g[0], r[0]) for g, r in zip(grads, ref.gradients(Xc, Yc)))
    assert np.array_equal(ref.fit(Xc, Yc, epochs=3, lr=0.5, batch_size=2)["loss"], hist["loss"])


def test_weights_returns_copies():
    net = loopnet.Network([3, 4, 2], seed=0)
    X = np.random.default_rng(0).normal(size=(5, 3))
    out = net.forward(X)
    w = net.weights
    w0 = [(W.copy(), b.copy()) for W, b in w]
    for W, b in w:
        W[...] = 123.0
        b[...] = -7.0
    for (Wa, ba), (Wb, bb) in zip(w0, net.weights):
        assert np.array_equal(Wa, Wb) and np.array_equal(ba, bb)
    assert np.array_equal(net.forward(X), out)


def test_set_weights_does_not_alias_its_arguments():
    rng = np.random.default_rng(0)
    net = loopnet.Network([3, 4, 2], seed=0)
    given_w = [(rng.normal(size=(3, 4)), rng.normal(size=4)), (rng.normal(size=(4, 2)), rng.normal(size=2))]
    kept = [(W.copy(), b.copy()) for W, b in given_w]
    net.set_weights(given_w)
    X = rng.normal(size=(5, 3))
    out = net.forward(X)
    for W, b in given_w:
        W[...] = 0.0
        b[...] = 0.0
    for (Wa, ba), (Wb, bb) in zip(kept, net.weights):
        assert np.array_equal(Wa, Wb) and np.array_equal(ba, bb)
    assert np.array_equal(net.forward(X), out)
    # plain nested lists and integer arrays are accepted too, and converted to the network's dtype
    net.set_weights([(np.ones((3, 4), dtype=np.int64), [0, 1, 2, 3]), ([[1, 2]] * 4, (0.5, -0.5))])
    (W, b), (W2, b2) = net.weights
    assert W.dtype == np.float64 and np.array_equal(W, np.ones((3, 4)))
    assert np.array_equal(b, [0.0, 1.0, 2.0, 3.0])
    assert np.array_equal(W2, [[1.0, 2.0]] * 4) and np.array_equal(b2, [0.5, -0.5])
    small = loopnet.Network([3, 4, 2], dtype="float32", seed=0)  # float64 weights into a float32 network
    small.set_weights([(np.full((3, 4), 0.1), np.zeros(4)), (np.full((4, 2), 0.1), np.zeros(2))])
    (W, _), _ = small.weights
    assert W.dtype == np.float32 and np.array_equal(W, np.full((3, 4), np.float32(0.1)))


# --- 1-D targets ----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loss", ["sse", "mse", "bce"])
def test_1d_Y_equals_a_column_Y_for_one_output(loss, backend):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6, 3))
    y = rng.integers(0, 2, size=6).astype(np.float64)
    nets = [loopnet.Network([3, 4, 1], loss=loss, backend=backend, seed=5) for _ in range(2)]
    a, b = nets
    assert a.loss(X, y) == b.loss(X, y.reshape(-1, 1))
    for (gW, gb), (hW, hb) in zip(a.gradients(X, y), b.gradients(X, y.reshape(-1, 1))):
        assert np.array_equal(gW, hW) and np.array_equal(gb, hb)
    ha = a.fit(X, y, epochs=4, lr=0.3, batch_size=4)
    hb = b.fit(X, y.reshape(-1, 1), epochs=4, lr=0.3, batch_size=4)
    assert np.array_equal(ha["loss"], hb["loss"])
    assert np.array_equal(a.forward(X), b.forward(X))
    # a 1-D Y of the wrong length is still a sample-count error
    _raises(ValueError, r"same number of samples; got 6 and 5", a.loss, X, y[:5])


# --- save / load -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_save_load_round_trip(tmp_path, dtype):
    rng = np.random.default_rng(0)
    net = loopnet.Network(
        [3, 5, 4, 2],
        activation=["relu", "tanh"],
        output_activation="softmax",
        loss="cross_entropy",
        backend="numpy",
        dtype=dtype,
        seed=7,
        init="he",
    )
    X = rng.normal(size=(10, 3))
    net.fit(X, np.eye(2)[rng.integers(0, 2, 10)], epochs=3, lr=0.1)  # not the initial weights
    path = tmp_path / "net.npz"
    net.save(path)
    back = loopnet.load(path)
    assert back.config() == net.config()
    assert back.config()["activation"] == ["relu", "tanh"] and back.config()["dtype"] == dtype
    assert (
        back.sizes == net.sizes and back.activations == net.activations and back.loss_name == "cross_entropy"
    )
    assert back.backend == "numpy" and back.dtype == np.dtype(dtype) and back.init == "he"
    for (Wa, ba), (Wb, bb) in zip(net.weights, back.weights):
        assert Wb.dtype == np.dtype(dtype) and np.array_equal(Wa, Wb) and np.array_equal(ba, bb)
    out, out_back = net.forward(X), back.forward(X)
    assert out_back.dtype == np.dtype(dtype) and np.array_equal(out, out_back)
    back.backend = "loops"
    net.backend = "loops"
    assert np.array_equal(net.forward(X), back.forward(X))
    # str paths work as well as Path objects
    assert np.array_equal(loopnet.load(str(path)).params, net.params)


def test_save_without_npz_suffix_writes_exactly_that_path(tmp_path):
    net = loopnet.Network([2, 3, 1], seed=0)
    path = tmp_path / "model"
    net.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    back = loopnet.load(path)
    X = np.array([[0.0, 1.0], [1.0, 1.0]])
    assert np.array_equal(back.forward(X), net.forward(X))
    net.save(str(tmp_path / "other.bin"))
    assert Path(tmp_path / "other.bin").is_file() and not (tmp_path / "other.bin.npz").exists()


# --- seeds and initialisation -------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_seed_same_weights_and_same_fit(backend):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(9, 3)), rng.random((9, 2))

    def trained(seed):
        net = loopnet.Network([3, 5, 2], backend=backend, seed=seed)
        init = net.weights
        hist = net.fit(X, Y, epochs=5, lr=0.5, batch_size=2)  # minibatches: the seeded shuffle matters
        return init, hist["loss"], net.weights

    init_a, hist_a, end_a = trained(42)
    init_b, hist_b, end_b = trained(42)
    init_c, hist_c, _ = trained(43)
    for (Wa, ba), (Wb, bb) in zip(init_a + end_a, init_b + end_b):
        assert np.array_equal(Wa, Wb) and np.array_equal(ba, bb)
    assert np.array_equal(hist_a, hist_b)
    assert not np.array_equal(init_a[0][0], init_c[0][0])
    assert not np.array_equal(hist_a, hist_c)
    # a Generator works as a seed, too
    g1 = loopnet.Network([3, 5, 2], seed=np.random.default_rng(9)).weights
    g2 = loopnet.Network([3, 5, 2], seed=np.random.default_rng(9)).weights
    assert np.array_equal(g1[0][0], g2[0][0])


def test_loops_and_numpy_shuffle_the_same_minibatches():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(9, 3)), rng.random((9, 2))
    hists = [
        loopnet.Network([3, 5, 2], backend=b, seed=1).fit(X, Y, epochs=4, lr=0.5, batch_size=2)["loss"]
        for b in BACKENDS
    ]
    np.testing.assert_allclose(hists[0], hists[1], rtol=1e-12)


# Statistical tolerances: a layer [500, 400] has n = 200,000 weights. The sample standard deviation of n
# normal draws has relative standard error 1/sqrt(2n) = 0.0016, so |std/sigma - 1| < 0.02 is > 12 standard
# errors (a false failure has probability < 1e-30), while a wrong scale (e.g. sqrt(1/fan_in), off by 29%, or
# the Glorot std, off by ~30%) fails by far. The mean of n draws has standard error sigma/sqrt(n) =
# 0.0022 sigma; |mean| < 0.02 sigma is 9 standard errors. A uniform(-c, c) sample of 200,000 has its
# maximum within c * (1 - 1e-4) with probability 1 - e^-20.
FAN_IN, FAN_OUT = 500, 400


def _W(init, activation="identity"):
    net = loopnet.Network([FAN_IN, FAN_OUT], output_activation=activation, init=init, seed=11)
    return net.weights[0]


def test_he_init_std():
    W, b = _W("he")
    sigma = np.sqrt(2.0 / FAN_IN)
    assert W.std() == pytest.approx(sigma, rel=0.02)
    assert abs(W.mean()) < 0.02 * sigma
    assert np.all(b == 0.0)


def test_glorot_init_is_uniform_within_its_limit():
    W, b = _W("glorot")
    limit = np.sqrt(6.0 / (FAN_IN + FAN_OUT))
    assert np.abs(W).max() <= limit
    assert np.abs(W).max() > limit * (1 - 1e-4)
    assert W.std() == pytest.approx(limit / np.sqrt(3.0), rel=0.02)  # std of uniform(-c, c) is c / sqrt(3)
    assert abs(W.mean()) < 0.02 * limit
    assert np.all(b == 0.0)


def test_normal_init_std_is_one():
    W, b = _W("normal")
    assert W.std() == pytest.approx(1.0, rel=0.02)
    assert abs(W.mean()) < 0.02
    # 400 biases: relative standard error of their std is 1/sqrt(800) = 0.035; 0.25 is 7 standard errors.
    assert b.std() == pytest.approx(1.0, rel=0.25)


@pytest.mark.parametrize("hidden", ["relu", "leaky_relu"])
def test_auto_init_is_he_for_relu_layers_and_glorot_otherwise(hidden):
    net = loopnet.Network([FAN_IN, FAN_OUT, 300], activation=hidden, output_activation="sigmoid", seed=3)
    (W1, _), (W2, _) = net.weights
    assert W1.std() == pytest.approx(np.sqrt(2.0 / FAN_IN), rel=0.02)
    limit = np.sqrt(6.0 / (FAN_OUT + 300))
    assert np.abs(W2).max() <= limit and W2.std() == pytest.approx(limit / np.sqrt(3.0), rel=0.02)


# --- float32 --------------------------------------------------------------------------------------


def test_float32_network_outputs_float32_and_backends_agree():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 4))
    Y = np.eye(3)[rng.integers(0, 3, 20)]
    nets = {}
    for backend in BACKENDS:
        net = loopnet.Network(
            [4, 6, 5, 3],
            activation=["tanh", "relu"],
            output_activation="softmax",
            loss="cross_entropy",
            backend=backend,
            dtype="float32",
            seed=2,
        )
        hist = net.fit(X, Y, epochs=5, lr=0.2, batch_size=8)
        out = net.forward(X)
        assert out.dtype == np.float32 and net.predict(X).dtype == np.float32
        assert all(W.dtype == np.float32 and b.dtype == np.float32 for W, b in net.weights)
        assert all(dW.dtype == np.float32 and db.dtype == np.float32 for dW, db in net.gradients(X, Y))
        assert type(net.loss(X, Y)) is float  # a Python float, not a NumPy scalar
        assert hist["loss"][-1] < hist["loss"][0]  # it trained
        nets[backend] = (hist["loss"], out, net.weights)
    (h1, o1, w1), (h2, o2, w2) = nets["loops"], nets["numpy"]
    # float32 epsilon is 1.2e-7; 5 epochs x 3 minibatches of differently ordered sums drift to ~1e-6.
    np.testing.assert_allclose(h1, h2, rtol=1e-5)
    assert np.abs(o1 - o2).max() <= 1e-5 * np.abs(o2).max()
    for (Wa, ba), (Wb, bb) in zip(w1, w2):
        assert np.abs(Wa - Wb).max() <= 1e-5 * np.abs(Wb).max()
        assert np.abs(ba - bb).max() <= 1e-5 * max(np.abs(bb).max(), 1e-3)


# --- properties ---------------------------------------------------------------------------------


@st.composite
def network_and_input(draw, output_activation):
    n0 = draw(st.integers(1, 6))
    hidden = draw(st.lists(st.integers(1, 6), min_size=0, max_size=2))
    K = draw(st.integers(2 if output_activation == "softmax" else 1, 5))
    N = draw(st.integers(1, 8))
    acts = draw(st.lists(st.sampled_from(HIDDEN), min_size=len(hidden), max_size=len(hidden)))
    X = draw(hnp.arrays(np.float64, (N, n0), elements=st.floats(-1e3, 1e3, allow_nan=False)))
    seed = draw(st.integers(0, 2**32 - 1))
    return [n0, *hidden, K], acts, X, seed


@settings(max_examples=30, deadline=None)
@given(case=network_and_input("softmax"))
def test_softmax_output_rows_are_distributions(case):
    sizes, acts, X, seed = case
    outs = []
    for backend in BACKENDS:
        net = loopnet.Network(
            sizes,
            activation=acts,
            output_activation="softmax",
            loss="cross_entropy",
            backend=backend,
            seed=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no overflow warnings, even for |z| in the thousands
            out = net.forward(X)
        assert out.shape == (X.shape[0], sizes[-1]) and out.dtype == np.float64
        assert np.all((out >= 0.0) & (out <= 1.0))
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=0, atol=1e-12)
        outs.append(out)
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-9, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(case=network_and_input("sigmoid"), scale=st.sampled_from([1.0, 1e2, 1e4]))
def test_sigmoid_outputs_lie_in_0_1(case, scale):
    sizes, acts, X, seed = case
    for backend in BACKENDS:
        net = loopnet.Network(sizes, activation=acts, output_activation="sigmoid", backend=backend, seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = net.forward(X * scale)
        assert out.shape == (X.shape[0], sizes[-1])
        assert np.all((out >= 0.0) & (out <= 1.0))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", [*BACKENDS, "plain"])
def test_data_already_of_the_networks_dtype_is_read_in_place_and_never_modified(backend, dtype):
    """A C-contiguous, writeable array of the network's dtype reaches the kernels without a copy (fit's
    fixed cost), and every call leaves it as it was: the kernels only read X and Y."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(9, 3)).astype(dtype)
    Y = rng.random((9, 2)).astype(dtype)
    X0, Y0 = X.copy(), Y.copy()
    net = loopnet.Network([3, 4, 2], loss="bce", backend=backend, dtype=dtype, seed=0)
    assert net._check_X(X) is X and net._check_XY(X, Y)[1] is Y
    net.forward(X), net.loss(X, Y), net.gradients(X, Y)
    net.fit(X, Y, epochs=3, lr=0.5, batch_size=2, validation=(X, Y))
    assert np.array_equal(X, X0) and np.array_equal(Y, Y0)


def test_a_read_only_array_is_copied_into_a_writeable_one_with_the_same_results():
    """Numba types a read-only array apart from a writeable one: passing it on would compile every
    kernel a second time, so it is copied (once) instead."""
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(6, 3)), rng.random((6, 2))
    Xr, Yr = X.copy(), Y.copy()
    Xr.flags.writeable = Yr.flags.writeable = False
    net = loopnet.Network([3, 4, 2], loss="bce", seed=0)
    Xc = net._check_X(Xr)
    assert Xc.flags.writeable and not np.shares_memory(Xc, Xr) and np.array_equal(Xc, X)
    ref = loopnet.Network([3, 4, 2], loss="bce", seed=0)
    assert np.array_equal(net.fit(Xr, Yr, epochs=3, lr=0.5)["loss"], ref.fit(X, Y, epochs=3, lr=0.5)["loss"])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_entry_of_an_uncopied_array_is_still_refused_by_position(bad):
    X = np.random.default_rng(4).normal(size=(5, 3))
    X[3, 1] = bad
    net = loopnet.Network([3, 2], seed=0)
    _raises(ValueError, r"X must hold only finite numbers; X\[3, 1\] is", net.fit, X, np.zeros((5, 2)))


def test_finite_entries_whose_sum_overflows_are_accepted():
    """The one-pass finiteness check sums the entries; a sum that overflows from finite entries alone
    must fall back to the exact test, not refuse the data."""
    X = np.full((4, 3), 1e308)
    with np.errstate(over="ignore"):
        assert not np.isfinite(X.sum()) and np.isfinite(X).all()  # the case this test is about
    net = loopnet.Network([3, 2], seed=0)
    assert net._check_X(X) is X
