"""The loop kernels against their NumPy twin, over the one registry, and their numerics."""

from __future__ import annotations

import copy
import math
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from loopnet import kernels as lk
from loopnet import kernels_np as nk
from loopnet.activations import ACTIVATIONS, EXP, SIGMOID, SOFTMAX, TANH
from loopnet.losses import BCE, CROSS_ENTROPY, POISSON
from loopnet.registry import BY_NAME, KERNELS

# (N, I, J): 1x1, a batch of one, odd primes, wide and narrow
SIZES = [(1, 1, 1), (1, 3, 2), (2, 1, 1), (1, 17, 3), (7, 5, 3), (13, 11, 17), (31, 2, 5)]
# float64: docs/design.md's 1e-12. float32 (eps 1.2e-7): the loops keep scalar intermediates
# in float64 while NumPy stays in float32, and train_epochs compounds six steps; the
# largest difference seen over many seeds was 3.4e-5 of the array's magnitude.
TOL = {"float64": 1e-12, "float32": 1e-4}


def _run_both(pair, size, dtype, variant, seed=0):
    args = pair.make_args(np.random.default_rng(seed), size, np.dtype(dtype), variant)
    loop_args, twin_args = copy.deepcopy(args), copy.deepcopy(args)
    r_loop = pair.loops(*loop_args)
    r_twin = pair.numpy(*twin_args)
    return args, loop_args, twin_args, r_loop, r_twin


def _out(args, index):
    """An output of a kernel call: args[index], or a field of a named-tuple argument for (index, field)."""
    if isinstance(index, tuple):
        return getattr(args[index[0]], index[1])
    return args[index]


def _same_result(r_loop, r_twin, tol):
    if isinstance(r_twin, tuple):  # train_epochs: (epochs run, status)
        return tuple(int(r) for r in r_loop) == tuple(int(r) for r in r_twin)
    return abs(r_loop - r_twin) <= tol * max(abs(r_twin), 1e-300)


def _rel_err(x, y):
    """Largest difference relative to the largest magnitude in the twin's array."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    scale = float(np.max(np.abs(y))) if y.size else 0.0
    return float(np.max(np.abs(x - y))) / (scale if scale > 0 else 1.0)


def test_registry_covers_every_kernel_with_a_twin():
    names = {pair.name for pair in KERNELS}
    assert {"dense_forward", "activate", "output_delta", "backprop_delta", "weight_grad", "bias_grad",
            "sgd_update", "momentum_update", "adam_update", "loss_value", "forward_pass", "backward_pass",
            "train_epochs"} <= names  # fmt: skip
    for pair in KERNELS:
        assert pair.numpy.__name__ == pair.name + "_np"
        assert getattr(nk, pair.name + "_np") is pair.numpy
        assert getattr(lk, pair.name) is pair.loops


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("pair", KERNELS, ids=lambda p: f"{p.tag}:{p.name}")
def test_loops_equal_twin(pair, dtype):
    """Every kernel and its twin agree, on every size and every activation/loss variant."""
    for size in SIZES:
        for variant in pair.variants:
            _, loop_args, twin_args, r_loop, r_twin = _run_both(pair, size, dtype, variant)
            where = f"{pair.name} size={size} variant={variant}"
            if r_twin is not None:  # a NaN or inf from the loops fails this comparison as well
                assert _same_result(r_loop, r_twin, TOL[dtype]), where
            for index in pair.outputs:
                out_loop, out_twin = np.asarray(_out(loop_args, index)), np.asarray(_out(twin_args, index))
                assert np.all(np.isfinite(out_loop)), f"{where}: output {index} not fully written"
                assert _rel_err(out_loop, out_twin) <= TOL[dtype], where


FAST = [pair for pair in KERNELS if pair.fast is not None]
# arguments a fast kernel must only read (the rest are outputs or work buffers)
READ_ONLY = {"dense_forward": (0, 1, 2), "activate": (1,), "backprop_delta": (0, 1, 3, 4),
             "weight_grad": (0, 1), "bias_grad": (0,), "sgd_update": (1,), "momentum_update": (1, 2),
             "adam_update": (1, 2), "forward_pass": (0, 1, 2, 3), "backward_pass": (0, 2, 3, 5, 6, 7, 8),
             "train_epochs": ((0, "sizes"), (0, "acts"), (1, "decay"), (2, "X"), (2, "Y"), (2, "sw"),
                              (2, "Xv"), (2, "Yv"), (2, "lrs"))}  # fmt: skip


def test_fast_forms_cover_the_three_products_and_the_whole_network():
    assert {"dense_forward", "backprop_delta", "weight_grad", "sgd_update", "momentum_update", "adam_update",
            "train_epochs"} <= {p.name for p in FAST}  # fmt: skip


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("pair", FAST, ids=lambda p: f"{p.tag}:{p.name}")
def test_fast_equals_plain(pair, dtype):
    """Every fast kernel gives its plain loop's numbers to rounding, on every size and variant.

    The sizes include 1 x 1, a batch of one and odd primes, so every leftover
    row and column of the 4 x 4 blocks is exercised. The fast kernels may sum
    in another order (fastmath reassoc), hence a tolerance, not equality.
    """
    for size in [*SIZES, (9, 13, 6), (37, 23, 11)]:
        for variant in pair.variants:
            args = pair.make_args(np.random.default_rng(1), size, np.dtype(dtype), variant)
            plain_args, fast_args = copy.deepcopy(args), copy.deepcopy(args)
            r_plain = pair.loops(*plain_args)
            r_fast = pair.fast(*fast_args)
            where = f"{pair.name} size={size} variant={variant}"
            if isinstance(r_plain, tuple):
                assert _same_result(r_fast, r_plain, 0.0), where
            for index in pair.outputs:
                out_fast = np.asarray(_out(fast_args, index))
                assert np.all(np.isfinite(out_fast)), f"{where}: output {index} not fully written"
                assert _rel_err(out_fast, _out(plain_args, index)) <= TOL[dtype], where
            for index in READ_ONLY.get(pair.name, ()):
                np.testing.assert_array_equal(
                    _out(args, index), _out(fast_args, index), err_msg=f"{where}: input written"
                )


@pytest.mark.parametrize("pair", KERNELS, ids=lambda p: p.name)
def test_kernels_write_their_outputs(pair):
    """The outputs really change: a kernel that did nothing would fail the twin test vacuously.

    Each output must change in some of the first variants (train_epochs' plain SGD has no moments to write).
    """
    unchanged = set(pair.outputs)
    for variant in pair.variants[:5]:
        args, loop_args, _, _, _ = _run_both(pair, (5, 4, 3), "float64", variant)
        for index in pair.outputs:
            before, after = np.asarray(_out(args, index)), np.asarray(_out(loop_args, index))
            if not np.array_equal(before, after, equal_nan=True):
                unchanged.discard(index)
    assert not unchanged, f"{pair.name}: outputs never written: {sorted(map(str, unchanged))}"


def test_dense_forward_against_explicit_formula():
    """F1 by the index formula written out in Python, an independent check of both forms."""
    rng = np.random.default_rng(3)
    a_prev, W, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=5)
    z = np.empty((4, 5))
    lk.dense_forward(a_prev, W, b, z)
    for n in range(4):
        for j in range(5):
            expected = b[j] + math.fsum(a_prev[n, i] * W[i, j] for i in range(3))
            assert z[n, j] == pytest.approx(expected, rel=1e-14, abs=1e-14)


# --- numerics ------------------------------------------------------------------

EXTREME = np.array([[-1e4, -1000.0, -40.0, -1e-8, 0.0, 1e-8, 40.0, 1000.0, 1e4]])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("form", ["loops", "numpy"])
def test_activations_stable_at_extremes(name, form, dtype):
    z = EXTREME.astype(dtype)
    a = np.empty_like(z)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        (lk.activate if form == "loops" else nk.activate_np)(ACTIVATIONS[name], z, a)
    zz = EXTREME[0]
    if name == "exp":  # e^z itself, without a warning: 0 far below, inf above log(max float)
        assert a[0, 0] == 0.0 and a[0, 4] == 1.0 and np.isinf(a[0, -1]) and np.isinf(a[0, -2])
        expected = [math.exp(v) if v < 700 else math.inf for v in zz]
        np.testing.assert_allclose(a[0], expected, rtol=1e-6 if dtype == "float32" else 1e-15, atol=0)
        return
    assert np.all(np.isfinite(a))
    if name == "sigmoid":  # against exact values: 1 / (1 + e^-z) in math, which saturates correctly
        expected = [0.0 if v < -700 else 1.0 / (1.0 + math.exp(-v)) for v in zz]
        np.testing.assert_allclose(a[0], expected, rtol=1e-6 if dtype == "float32" else 1e-15, atol=1e-300)
        assert a[0, 0] == 0.0 and a[0, -1] == 1.0
    elif name == "tanh":
        np.testing.assert_allclose(a[0], [math.tanh(v) for v in zz], rtol=1e-6)
    elif name == "softmax":  # one row: all the mass on the largest z
        assert a.sum() == pytest.approx(1.0) and a[0, -1] == pytest.approx(1.0)
    elif name == "relu":
        np.testing.assert_array_equal(a[0], np.maximum(zz, 0).astype(dtype))
    elif name == "leaky_relu":
        np.testing.assert_allclose(a[0], np.where(zz > 0, zz, 0.01 * zz), rtol=1e-6)
    else:  # identity: z itself, unchanged to the bit
        assert name == "identity"
        np.testing.assert_array_equal(a, z)


@pytest.mark.parametrize("form", ["loops", "numpy"])
def test_losses_finite_when_outputs_saturate(form):
    """bce and cross_entropy on logits of 1e4: finite, equal to the exact softplus/log-sum-exp values."""
    loss_value = lk.loss_value if form == "loops" else nk.loss_value_np
    z = np.array([[1e4], [-1e4], [30.0]])
    a = np.empty_like(z)
    lk.activate(SIGMOID, z, a)
    Y = np.array([[0.0], [1.0], [1.0]])
    # softplus(z) - y z: 1e4, 1e4, log1p(exp(-30))
    expected = (1e4 + 1e4 + math.log1p(math.exp(-30.0))) / 3
    assert loss_value(BCE, z, a, Y, np.ones(3)) == pytest.approx(expected, rel=1e-15)
    z = np.array([[1e4, -1e4, 0.0], [0.0, 0.0, 0.0]])
    a = np.empty_like(z)
    lk.activate(SOFTMAX, z, a)
    Y = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    expected = (2e4 + math.log(3.0)) / 2  # row 0: lse = 1e4, y picks z = -1e4; row 1: log 3
    assert loss_value(CROSS_ENTROPY, z, a, Y, np.ones(2)) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("form", ["loops", "numpy"])
def test_poisson_loss_finite_when_the_output_underflows(form):
    """poisson from the logits: y ln(y / a) = y (ln y - z) stays finite where a = e^z rounds to 0."""
    loss_value = lk.loss_value if form == "loops" else nk.loss_value_np
    z = np.array([[-1000.0, -1000.0], [30.0, 0.0]])
    a = np.empty_like(z)
    lk.activate(EXP, z, a)
    assert a[0, 0] == 0.0  # y ln(y / a) written literally would be inf here
    Y = np.array([[2.0, 0.0], [0.0, 1.0]])
    # per term (a - y) + y (ln y - z): -2 + 2 (ln 2 + 1000); 0 (y = 0 and a = 0); e^30; 1 - 1 + 0
    expected = (-2.0 + 2.0 * (math.log(2.0) + 1000.0) + math.exp(30.0)) / 4
    assert loss_value(POISSON, z, a, Y, np.ones(2)) == pytest.approx(expected, rel=1e-15)
    # weighted: row 1 counts three times, row 0 not at all
    assert loss_value(POISSON, z, a, Y, np.array([0.0, 3.0])) == pytest.approx(math.exp(30.0) / 2, rel=1e-15)


def test_exp_at_extremes_in_the_fast_form():
    """The fast form's exp (exp_approx) is e^z to a few ulp, 0 far below and inf above log(max float64)."""
    z = EXTREME.copy()
    a = np.empty_like(z)
    BY_NAME["activate"].fast(EXP, z, a)
    expected = [math.exp(v) if v < 700 else math.inf for v in EXTREME[0]]
    np.testing.assert_allclose(a[0], expected, rtol=1e-15, atol=0)


def test_tanh_derivative_uses_activation():
    """B2 with tanh: delta_prev = (delta @ W.T) * (1 - tanh(z)^2), checked by the formula."""
    rng = np.random.default_rng(5)
    delta, W, z_prev = rng.normal(size=(3, 2)), rng.normal(size=(4, 2)), rng.normal(size=(3, 4))
    out = np.empty((3, 4))
    lk.backprop_delta(delta, W, TANH, z_prev, np.tanh(z_prev), out)
    np.testing.assert_allclose(out, (delta @ W.T) * (1 - np.tanh(z_prev) ** 2), rtol=1e-13)


# --- plain Python: the kernels with the JIT off ---------------------------------

NO_JIT_SCRIPT = textwrap.dedent(
    """
    import copy, numpy as np
    import loopnet
    from loopnet import kernels
    from loopnet.registry import KERNELS
    assert not hasattr(kernels.dense_forward, "py_func"), "the JIT is still on"
    worst = 0.0
    for pair in KERNELS:
        for variant in pair.variants:
            args = pair.make_args(np.random.default_rng(0), (3, 2, 3), np.dtype("float64"), variant)
            a1, a2 = copy.deepcopy(args), copy.deepcopy(args)
            r1, r2 = pair.loops(*a1), pair.numpy(*a2)
            if isinstance(r2, tuple):
                assert tuple(r1) == tuple(r2), (pair.name, r1, r2)
            elif r2 is not None:
                assert abs(r1 - r2) <= 1e-12 * abs(r2), (pair.name, r1, r2)
            out = lambda args, i: getattr(args[i[0]], i[1]) if isinstance(i, tuple) else args[i]
            for i in pair.outputs:
                x, y = np.asarray(out(a1, i)), np.asarray(out(a2, i))
                err = np.max(np.abs(x - y)) / max(np.max(np.abs(y)), 1e-300)
                assert err <= 1e-12, (pair.name, variant, err)
                worst = max(worst, err)
            if pair.fast is not None:  # the fast loops, stepped through as Python too
                a3 = copy.deepcopy(args)
                pair.fast(*a3)
                for i in pair.outputs:
                    x, y = np.asarray(out(a3, i)), np.asarray(out(a1, i))
                    assert np.max(np.abs(x - y)) <= 1e-12 * max(np.max(np.abs(y)), 1e-300), pair.name
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]]); Y = np.array([0, 1, 1, 0])
    nets = [loopnet.Network([2, 3, 1], activation="tanh", loss="bce", seed=1, backend=b)
            for b in ("loops", "numpy")]
    for net in nets:
        net.fit(X, Y, epochs=20, lr=0.5, batch_size=3)
    np.testing.assert_allclose(nets[0].params, nets[1].params, rtol=1e-12)
    print("NO-JIT OK", worst)
    """
)


def test_kernels_run_as_plain_python():
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    done = subprocess.run(
        [sys.executable, "-c", NO_JIT_SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert "NO-JIT OK" in done.stdout


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_a_nan_stays_nan_through_every_activation(name, dtype):
    """A diverged network must show NaN, not hide it: relu written as `z if z > 0 else 0` turns NaN into 0.

    Plain loops, twin and fast form (from the registry), element-wise and softmax (whose whole row is lost).
    """
    z = np.array([[0.5, np.nan, -0.5, 2.0], [1.0, -1.0, 0.0, 3.0]], dtype=dtype)
    forms = {"loops": lk.activate, "numpy": nk.activate_np, "fast": BY_NAME["activate"].fast}
    for form, activate in forms.items():
        a = np.zeros_like(z)
        with np.errstate(invalid="ignore"):
            activate(ACTIVATIONS[name], z.copy(), a)
        assert np.isnan(a[0, 1]), f"{form}: {name}(NaN) = {a[0, 1]}"
        if name == "softmax":
            assert np.isnan(a[0]).all(), form
        assert np.isfinite(a[1]).all(), form  # the other row is untouched by it
