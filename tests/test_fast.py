"""The fast kernels' own pieces: exp and tanh, the product core, thread-count independence, the tiny path.

Their equality with the plain loops, kernel by kernel, is in test_kernels.py (over the registry);
their gradients face finite differences and PyTorch in test_gradients.py (backend "loops-blocked").
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest

import loopnet
from loopnet import _jit, fast

# --- exp ------------------------------------------------------------------------


@numba.njit
def _exp_all(x, out):
    for i in range(x.shape[0]):
        out[i] = fast.exp_approx(x[i])


def _ulps(got, want):
    return np.abs(got - want) / np.spacing(np.abs(want))


def test_exp_approx_is_within_two_ulp_over_the_whole_range():
    """Against math.exp (correctly rounded to within an ulp): the vectorised loop and scalar calls."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-708.0, 709.78, 20000), rng.uniform(-1.0, 1.0, 20000),
                        np.linspace(-1e-6, 1e-6, 101), [-708.0, 0.0, 709.78]])  # fmt: skip
    want = np.array([math.exp(v) for v in x])
    got = np.empty_like(x)
    _exp_all(x, got)  # a loop like the kernels', where LLVM vectorises exp_approx
    assert np.max(_ulps(got, want)) <= 2.0
    some = x[::997]
    assert np.max(_ulps(np.array([fast.exp_approx(v) for v in some]), want[::997])) <= 2.0


@pytest.mark.parametrize(
    "x, want",
    [(float("nan"), float("nan")), (float("inf"), float("inf")), (-float("inf"), 0.0), (-708.5, 0.0),
     (-1000.0, 0.0), (709.79, float("inf")), (1e4, float("inf")), (0.0, 1.0)],
)  # fmt: skip
def test_exp_approx_edges(x, want):
    """NaN stays NaN (no nnan flag), overflow is inf, underflow is 0, no garbage from bit tricks."""
    got = fast.exp_approx(x)
    if math.isnan(want):
        assert math.isnan(got)
    else:
        assert got == want


@numba.njit
def _tanh_rows(x, out):
    b = np.zeros(x.shape[0])
    fast.bias_activate_row(2, b, x.copy(), out)  # 2: tanh, the two-pass loop the kernels run


def test_tanh_approx_is_within_three_ulp_including_tiny_values():
    """Against math.tanh, relative to the value: also at 1e-300, where 1 - 2/(e^2x + 1) has no digits."""
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-20.0, 20.0, 20000), rng.uniform(-1.0, 1.0, 20000),
                        10.0 ** rng.uniform(-300, 0, 5000), -(10.0 ** rng.uniform(-300, 0, 5000)),
                        [0.5, -0.5, np.nextafter(0.5, 0.0), 19.1, -19.1, 40.0]])  # fmt: skip
    want = np.array([math.tanh(v) for v in x])
    got = np.empty_like(x)
    _tanh_rows(x, got)
    assert np.max(_ulps(got, want)) <= 3.0
    some = x[::499]
    assert np.max(_ulps(np.array([fast.tanh_approx(v) for v in some]), want[::499])) <= 3.0


@pytest.mark.parametrize(
    "x, want",
    [(float("nan"), float("nan")), (float("inf"), 1.0), (-float("inf"), -1.0), (0.0, 0.0), (1e-310, 1e-310)],
)
def test_tanh_approx_edges(x, want):
    got = fast.tanh_approx(x)
    assert (math.isnan(got) and math.isnan(want)) or got == want
    assert math.copysign(1.0, fast.tanh_approx(-0.0)) == -1.0  # -0.0 keeps its sign


def test_exp_approx_is_not_compiled_with_fastmath():
    """Reassociation would undo the two-part ln 2; the fast kernels' flags never include nnan/ninf."""
    for strict in (fast.exp_approx, fast.tanh_small, fast.tanh_large, fast.tanh_approx):
        assert strict.targetoptions["fastmath"] is False
    assert {"nnan", "ninf", "fast"}.isdisjoint(_jit.FASTMATH_FLAGS)
    assert fast.abt_rows4.targetoptions["fastmath"] == set(_jit.FASTMATH_FLAGS)


def test_a_strict_kernel_stays_strict_when_a_fastmath_kernel_compiles_it_first():
    """Numba lets an unset fastmath option be inherited from the first caller; JIT_OPTIONS sets it.

    A fresh (uncached) build of exp_approx with loopnet's strict options, compiled first through a
    fastmath caller, must still give exp(709) to the ulp: with reassoc it is 195 ulp off.
    """
    strict = numba.njit(**{**_jit.JIT_OPTIONS, "cache": False})(fast.exp_approx.py_func)

    @numba.njit(fastmath=set(_jit.FASTMATH_FLAGS))
    def caller(x):
        return strict(x)

    for x in (709.0, -650.1, 195.0):
        assert _ulps(np.array(caller(x)), np.array(math.exp(x))) <= 2.0
        assert _ulps(np.array(strict(x)), np.array(math.exp(x))) <= 2.0


# --- the product core ------------------------------------------------------------

SHAPES = [(1, 1, 1), (1, 5, 1), (4, 4, 4), (5, 3, 7), (3, 17, 2), (8, 1, 9), (37, 29, 23), (64, 130, 11)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("M, K, J", SHAPES)
def test_product_core_against_numpy(M, K, J, dtype):
    """C = A @ B.T against NumPy's BLAS, serial and threaded, every leftover row and column."""
    rng = np.random.default_rng(M * 1000 + K * 10 + J)
    A = rng.normal(size=(M, K)).astype(dtype)
    B = rng.normal(size=(J, K)).astype(dtype)
    want = A.astype(np.float64) @ B.T.astype(np.float64)
    scale = np.sqrt(K) * (1e-13 if dtype == "float64" else 1e-5)
    for product in (fast.abt_product, fast.abt_product_par):
        C = np.full((M, J), np.nan, dtype=dtype)
        product(A, B, C)
        np.testing.assert_allclose(C, want, rtol=0, atol=scale * max(1.0, np.abs(want).max()))


def test_float32_products_stay_float32():
    """Constants of the array's dtype: a float64 literal would promote every multiply-add."""
    A = np.ones((4, 8), dtype=np.float32)
    C = np.empty((4, 4), dtype=np.float32)
    fresh = numba.njit(**{**_jit.FAST_OPTIONS, "cache": False})(
        fast.abt_rows4.py_func
    )  # cached code can't be read
    fresh(A, A, C, 0, 0, 4)
    np.testing.assert_array_equal(C, 8.0)
    ir = fresh.inspect_llvm(fresh.signatures[0])
    assert "fmul double" not in ir and "fadd double" not in ir
    assert "<" in ir and "x float>" in ir  # and it is vectorised


# --- threads -----------------------------------------------------------------------


@pytest.fixture
def threads():
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two threads")
def test_results_do_not_depend_on_the_thread_count(threads):
    """Bit for bit: every output element is summed by one thread in one order, whatever the count.

    One thread takes the serial drivers, two the prange drivers, so this also holds the two
    builds of each product equal.
    """
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 64))
    Y = np.eye(10)[rng.integers(0, 10, 600)]
    params = {}
    for count in (1, 2):
        numba.set_num_threads(count)
        net = loopnet.Network([64, 96, 10], activation="tanh", output_activation="softmax",
                              loss="cross_entropy", seed=0)  # fmt: skip
        assert 256 * 64 * 96 >= fast.PARALLEL_MIN_WORK > 256 * 96 * 10  # threaded and serial products
        net.fit(X, Y, epochs=2, lr=0.1, batch_size=256)
        params[count] = net.params
    np.testing.assert_array_equal(params[1], params[2])
    A, B = rng.normal(size=(37, 29)), rng.normal(size=(23, 29))
    serial, threaded = np.empty((37, 23)), np.empty((37, 23))
    fast.abt_product(A, B, serial)
    fast.abt_product_par(A, B, threaded)
    np.testing.assert_array_equal(serial, threaded)


def test_the_threaded_drivers_are_parallel_builds():
    """Each prange driver is its own function compiled with parallel=True (no shared cache entry)."""
    drivers = [fast.abt_product_par, fast.dense_forward_par, fast.backprop_delta_par, fast.weight_grad_par]
    for driver in drivers:
        assert driver.targetoptions.get("parallel") is True, driver
    serial = [fast.abt_product, fast.dense_forward_fast, fast.backprop_delta_fast, fast.weight_grad_fast]
    for driver in serial:
        assert "parallel" not in driver.targetoptions, driver
    assert len({d.py_func.__code__ for d in drivers + serial}) == len(drivers + serial)


# --- the tiny-network path ------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "sizes, hidden, output, loss",
    [([2, 2, 1], "sigmoid", "sigmoid", "sse"), ([3, 5, 1], "tanh", "sigmoid", "bce"),
     ([3, 1], "tanh", "identity", "mse"), ([2, 3, 4, 3], ["relu", "leaky_relu"], "softmax", "cross_entropy"),
     ([3, 4, 2], "tanh", "exp", "poisson"), ([2, 3, 1], "relu", "exp", "mse")],
)  # fmt: skip
def test_tiny_path_equals_the_plain_loops_bit_for_bit(sizes, hidden, output, loss, dtype):
    """train_epochs_small sums in the plain kernels' order, without fastmath: identical weights, history."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(7, sizes[0]))
    if loss == "cross_entropy":
        Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], 7)]
    elif loss == "poisson":  # counts, zeros among them
        Y = rng.poisson(1.0, (7, sizes[-1])).astype(np.float64)
    else:
        Y = rng.random((7, sizes[-1]))
    result = {}
    for backend in ("loops", "plain"):
        net = loopnet.Network(sizes, activation=hidden, output_activation=output, loss=loss, backend=backend,
                              dtype=dtype, seed=3)  # fmt: skip
        history = net.fit(X, Y, epochs=40, lr=0.3, batch_size=3)
        result[backend] = (net.params, history["loss"])
    assert fast.is_small(np.array(sizes), 3)
    np.testing.assert_array_equal(result["loops"][0], result["plain"][0])
    np.testing.assert_array_equal(result["loops"][1], result["plain"][1])
    # and with an optimizer, sample weights (a zero among them), validation and early stopping
    w = np.array([1.0, 0.0, 2.0, 3.0, 1.0, 0.0, 1.0])
    for optimizer in (loopnet.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01), loopnet.AdamW(0.02)):
        for backend in ("loops", "plain"):
            net = loopnet.Network(sizes, activation=hidden, output_activation=output, loss=loss,
                                  backend=backend, dtype=dtype, seed=3)  # fmt: skip
            opt = type(optimizer)(**{k: v for k, v in optimizer._public().items()})
            history = net.fit(
                X,
                Y,
                epochs=30,
                batch_size=3,
                optimizer=opt,
                sample_weight=w,
                validation=(X[:4], Y[:4]),
                early_stopping=loopnet.EarlyStopping(patience=50),
            )
            result[backend] = (net.params, history["loss"], history["val_loss"])
        for got, want in zip(result["loops"], result["plain"]):
            np.testing.assert_array_equal(got, want)


def test_path_names_are_checked():
    with pytest.raises(ValueError, match="unknown path 'fastest'"):
        fast.forward_pass(np.zeros(3), np.array([1, 1]), np.array([0]), np.zeros((1, 1)), np.zeros(1),
                          np.zeros(1), path="fastest")  # fmt: skip
