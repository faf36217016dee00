"""Numerics at the edges: inputs and weights at 1e4, 1e30 and 1e300 (both signs, both dtypes) through every
activation and loss, on every backend and route; and the divergence check stopping every kind of fit.

The contract: ``forward``, ``loss`` and ``gradients`` return finite numbers or raise
``loopnet.network.NonFiniteError`` (a ``ValueError`` and an ``OverflowError``) naming where the arithmetic
overflowed; never a RuntimeWarning, never inf or NaN handed back, and never a number computed from an
overflowed pre-activation (sigmoid of an inf whose sign rounding chose). Data that does not fit the dtype at
all (1e300 into float32) is a ``ValueError`` before any arithmetic.

"Finite results" is held to an oracle that shares no code with loopnet: the same network written out here
in long double (x87 extended precision, whose exponent reaches 1e4932, so nothing below overflows it; the
tests skip where long double is plain float64). Call a case *clean* when every number the network's own
arithmetic holds fits its type with room to spare: each product sum (bounded by the sum of its terms'
magnitudes, so in any order), activation, delta and gradient in the network's dtype, the loss's sums in
float64. Then

* clean, and the exact result fits: loopnet must return it, to rounding (no false overflow, no NaN from a
  form that should saturate: sigmoid of -1e300 is 0, tanh is +-1, bce and cross_entropy come from the
  logits, softmax subtracts the row maximum);
* the exact result does not fit (1e300 squared by mse, exp of 1e4): loopnet must raise;
* in between (some bound passes the room, or an intermediate overflows though the result fits: sigmoid
  of 1e600 is 1): either, and a returned number must still be the oracle's.

Divergence: a learning rate that blows up makes ``fit`` raise ``loopnet.DivergenceError`` on every backend
and every route of the fast loops (tiny, blocked, threaded; sized from ``fast``'s constants and checked by
watching which compiled kernel runs), for SGD, momentum and Adam, with and without validation and early
stopping; the network is back at the last finite epoch, equal bit for bit to a replay of the epochs before,
with the optimizer's state too.
"""

from __future__ import annotations

import itertools
import math
import warnings
from contextlib import contextmanager

import numba
import numpy as np
import pytest

import loopnet
from loopnet import fast
from loopnet import kernels as lk
from loopnet import kernels_np as nk
from loopnet.activations import ACTIVATIONS
from loopnet.losses import LOSSES
from loopnet.network import NonFiniteError

MAGNITUDES = (1e4, 1e30, 1e300)
SIGNED = tuple(s * m for m in MAGNITUDES for s in (1.0, -1.0))
HIDDEN = ("identity", "sigmoid", "tanh", "relu", "leaky_relu")
OUTPUTS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax", "exp")
OUTPUT_LOSS = (
    *((out, loss) for loss in ("sse", "mse") for out in OUTPUTS),
    ("sigmoid", "bce"),
    ("softmax", "cross_entropy"),
    ("exp", "poisson"),
)
BACKENDS = ("plain", "numpy", "loops", "loops-blocked")  # loops: the tiny path; loops-blocked: forced off it
LEAKY = 0.01  # docs/design.md: leaky_relu's slope
LD = np.longdouble
EXTENDED = np.finfo(LD).maxexp >= 16384
needs_long_double = pytest.mark.skipif(not EXTENDED, reason="long double is float64 here: no oracle")
SAFETY = 16  # times Oracle.error: sums of a few terms, exp and tanh within 3 ulp in the fast forms


@contextmanager
def strict():
    """Every warning an error, NumPy's floating-point reporting at its default (warn), for the block."""
    with warnings.catch_warnings(), np.errstate(over="warn", invalid="warn", divide="warn"):
        warnings.simplefilter("error")
        yield


# --- the oracle: long double, written from docs/design.md -----------------------------------------------


def ld_act(name, z):
    if name == "identity":
        return z
    if name == "sigmoid":  # 1 / (1 + e^-z), never exp of a positive number
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1, e) / (1 + e)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, LD(LEAKY) * z)
    if name == "exp":
        return np.exp(z)
    e = np.exp(z - z.max(axis=1, keepdims=True))  # softmax
    return e / e.sum(axis=1, keepdims=True)


def ld_dact(name, z, a):
    if name == "sigmoid":
        return a * (1 - a)
    if name == "tanh":
        return 1 - a * a
    if name == "relu":
        return np.where(z > 0, LD(1), LD(0))
    if name == "leaky_relu":
        return np.where(z > 0, LD(1), LD(LEAKY))
    if name == "exp":
        return a
    return np.ones_like(z)


CANONICAL = {("sigmoid", "bce"), ("softmax", "cross_entropy"), ("exp", "poisson")}


def rounding(name, a, eps):
    """How far the dtype's rounding alone can put f's value from the exact a = f(z), for an exact z.

    Relative eps, except where a saturates: sigmoid, tanh and softmax round to exactly 1 (or -1) when
    they are within eps of it, so their error is also at most their distance 1 - |a| from it (and f' =
    a (1 - a), 1 - a^2 stays as accurate as that distance); identity and relu copy z.
    """
    if name in ("identity", "relu"):
        return np.zeros_like(a)
    if name in ("sigmoid", "tanh", "softmax"):
        return np.minimum(eps * np.abs(a), 1 - np.abs(a))
    return eps * np.abs(a)


def moves(name, a, ea):
    """How far f'(z) (computed from a, as the kernels do) moves when a is off by ea."""
    if name == "sigmoid":
        return np.abs(1 - 2 * a) * ea
    if name == "tanh":
        return 2 * np.abs(a) * ea
    if name == "exp":
        return ea
    return np.zeros_like(a)


class Oracle:
    """forward, loss and gradients of a network in long double, how large their intermediates grow, and
    how far rounding in the network's dtype can move each result.

    ``reach[stage]`` is the largest magnitude a number the network holds in its dtype reaches up to that
    stage (sums bounded by their terms' magnitudes); ``reach["loss sums"]`` the same for the loss's float64
    sums. ``error[call]`` bounds the rounding error of each result (up to a small factor for the length of
    the sums): eps times the size of the terms summed, carried through the layers (an error e in z moves
    f(z) by |f'(z)| e, and f'(z) by |f''| e), so a gradient that cancels to almost nothing is held to the
    size of what cancelled. Nothing here overflows long double except exp of more than 11356 (then the
    result is inf anyway).
    """

    def __init__(self, weights, acts, loss, X, Y, dtype):
        with np.errstate(all="ignore"):
            self._run([(W.astype(LD), b.astype(LD)) for W, b in weights], acts, loss, X.astype(LD),
                      Y.astype(LD), LD(np.finfo(dtype).eps), LD(np.finfo(np.float64).eps))  # fmt: skip

    def _run(self, weights, acts, loss, X, Y, eps, eps64):
        A, Z, Ea = [X], [], [np.zeros_like(X)]  # Ea: each activation's error bound (X is exact)
        reach = np.abs(X).max()
        for (W, b), name in zip(weights, acts):
            bound = np.abs(A[-1]) @ np.abs(W) + np.abs(b)
            z = A[-1] @ W + b
            a = ld_act(name, z)
            ez = eps * bound + Ea[-1] @ np.abs(W)  # the sum's own rounding, and the error carried in
            if name == "softmax":  # a_j (e_j - sum_k a_k e_k) <= a_j sum_k!=j a_k (e_j + e_k)
                pairs = a[:, None, :] * (ez[:, :, None] + ez[:, None, :]) * (1 - np.eye(z.shape[1]))
                Ea.append(a * pairs.sum(axis=2) + rounding(name, a, eps))
            else:
                Ea.append(np.abs(ld_dact(name, z, a)) * ez + rounding(name, a, eps))
            reach = max(reach, bound.max(), np.abs(a).max())
            Z.append(z)
            A.append(a)
        self.out = A[-1]
        self.reach = {"forward": reach}
        self.error = {"forward": Ea[-1].max()}
        z, a, y, ea = Z[-1], A[-1], Y, Ea[-1]
        N, K = y.shape
        if loss in ("sse", "mse"):
            terms = (a - y) ** 2
            lbound = terms
        elif loss == "bce":  # -y ln s(z) - (1 - y) ln(1 - s(z)) = log(1 + e^z) - y z
            terms = np.logaddexp(0, z) - y * z
            lbound = np.maximum(z, 0) + np.abs(y * z) + np.log1p(np.exp(-np.abs(z)))
        elif loss == "poisson":  # y ln(y / e^z) - y + e^z, 0 ln 0 = 0
            pos = y > 0
            y_ln = np.where(pos, y * (np.log(np.where(pos, y, 1)) - z), 0)
            terms = y_ln - y + a
            lbound = np.abs(y_ln) + np.abs(y) + np.abs(a)
        else:  # cross_entropy: -y ln softmax(z) = y (lse - z); a class with y = 0 adds nothing
            lse = np.logaddexp.reduce(z, axis=1, keepdims=True)
            terms = np.where(y != 0, y * (lse - z), 0)
            lbound = np.abs(terms) + np.where(y != 0, np.abs(y * lse), 0)
        norm = {"sse": LD(0.5), "cross_entropy": 1 / LD(N)}.get(loss, 1 / LD(N * K))
        self.loss = terms.sum() * norm
        self.reach["loss sums"] = lbound.sum()
        c = {"sse": LD(1), "mse": 2 / LD(N * K), "cross_entropy": 1 / LD(N)}.get(loss, 1 / LD(N * K))
        out = acts[-1]
        if (out, loss) in CANONICAL:  # dL/dz = (a s - y) c, s = sum_k y = 1 but for cross_entropy
            s = y.sum(axis=1, keepdims=True) if loss == "cross_entropy" else 1
            delta = (a * s - y) * c
            ed = (s * ea + eps * (np.abs(a * s) + np.abs(y))) * c
            bound = (np.abs(a * s) + np.abs(y)) * c
        elif out == "softmax":  # its Jacobian a (g - sum_q g_q a_q), g = (a - y) c
            g = (a - y) * c
            ga = (g * a).sum(axis=1, keepdims=True)
            eg = c * (ea + eps * (np.abs(a) + np.abs(y)))
            ega = (eg * np.abs(a) + np.abs(g) * ea).sum(axis=1, keepdims=True) + eps * (np.abs(g * a)).sum(
                axis=1, keepdims=True)  # fmt: skip
            delta = a * (g - ga)
            ed = ea * np.abs(g - ga) + np.abs(a) * (eg + ega) + eps * np.abs(delta)
            bound = np.abs(a - y) + np.abs(a) * (np.abs(g) + (np.abs(g * a)).sum(axis=1, keepdims=True))
        else:  # (a - y) c f'(z)
            fp = ld_dact(out, z, a)
            delta = (a - y) * c * fp
            ed = c * (np.abs(fp) * (ea + eps * (np.abs(a) + np.abs(y))) + np.abs(a - y) * moves(out, a, ea))
            bound = (np.abs(a) + np.abs(y)) * (1 + c * np.abs(fp))
        # the loss moves by dL/dz = delta times z's error (and dL/da times a's), and its float64 sums round
        self.error["loss"] = ((np.abs(delta) * ez).sum() + (c * np.abs(a - y) * ea).sum()
                              + eps64 * lbound.sum() * norm)  # fmt: skip
        reach, error = max(self.reach["forward"], bound.max()), 0
        self.grads = [None] * len(weights)
        for l in reversed(range(len(weights))):
            self.grads[l] = (A[l].T @ delta, delta.sum(axis=0))
            terms = np.abs(A[l]).T @ np.abs(delta)
            reach = max(reach, terms.max(), np.abs(delta).sum(axis=0).max())
            error = max(error, (eps * terms + np.abs(A[l]).T @ ed + Ea[l].T @ np.abs(delta)).max(),
                        (eps * np.abs(delta) + ed).sum(axis=0).max())  # fmt: skip
            if l:
                W = weights[l][0]
                back = np.abs(delta) @ np.abs(W.T)
                name, a_prev = acts[l - 1], A[l]
                fp = ld_dact(name, Z[l - 1], a_prev)
                ed = (ed @ np.abs(W.T) + eps * back) * np.abs(fp) + back * moves(name, a_prev, Ea[l])
                delta = (delta @ W.T) * fp
                reach = max(reach, back.max(), np.abs(delta).max())
        self.reach["gradients"] = reach
        self.error["gradients"] = error


def result_of(oracle: Oracle, call: str):
    if call == "forward":
        return [oracle.out]
    if call == "loss":
        return [np.array(oracle.loss)]
    return [g for pair in oracle.grads for g in pair]


def clean(oracle: Oracle, call: str, dtype: str) -> bool:
    """Whether every number the network's arithmetic holds for ``call`` fits with room to spare."""
    room, room64 = LD(np.finfo(dtype).max) / 8, LD(np.finfo(np.float64).max) / 8
    if call == "loss":
        return oracle.reach["forward"] <= room and oracle.reach["loss sums"] <= room64
    return oracle.reach["forward" if call == "forward" else "gradients"] <= room


def fits(oracle: Oracle, call: str, dtype: str) -> bool:
    """Whether the exact result is a finite number of the type the call returns (the loss: a float)."""
    top = LD(np.finfo(np.float64 if call == "loss" else dtype).max)
    return all(np.all(np.isfinite(r)) and np.abs(r).max() <= top for r in result_of(oracle, call))


# --- the networks at the edges ------------------------------------------------------------------------------

N, SIZES = 3, (2, 3, 3)


def targets(loss: str) -> np.ndarray:
    """Y of shape (N, 3), valid for the loss: soft and exact targets, zeros among them."""
    if loss == "bce":
        return np.array([[1.0, 0.0, 0.3], [0.0, 1.0, 1.0], [0.5, 0.0, 1.0]])
    if loss == "cross_entropy":
        return np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.2, 0.8, 0.0]])
    if loss == "poisson":
        return np.array([[0.0, 1.0, 3.0], [2.0, 0.0, 0.5], [1.0, 1.0, 0.0]])
    return np.array([[0.5, -1.0, 0.25], [1.0, 0.0, -0.75], [-0.5, 0.8, 0.1]])


def pattern(shape, seed: int) -> np.ndarray:
    """Fixed values of magnitude 1/2 to 1 and both signs: no two of them cancel exactly."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.5, 1.0, shape) * rng.choice([-1.0, 1.0], shape)


def edge_case(hidden, out, loss, dtype, m, where):
    """The network (seeded, plain backend), X and Y with the inputs (where="X") or every parameter
    (where="W") at magnitude m."""
    net = loopnet.Network(list(SIZES), activation=hidden, output_activation=out, loss=loss, backend="plain",
                          dtype=dtype, seed=3)  # fmt: skip
    X = pattern((N, SIZES[0]), 1)
    if where == "X":
        X = m * X
    else:
        net.set_weights([(m * pattern(W.shape, 10 + l), m * pattern(b.shape, 20 + l))
                         for l, (W, b) in enumerate(net.weights)])  # fmt: skip
    return net, X, targets(loss)


CALLS = {
    "forward": lambda net, X, Y: [net.forward(X)],
    "loss": lambda net, X, Y: [np.array(net.loss(X, Y))],
    "gradients": lambda net, X, Y: [g for pair in net.gradients(X, Y) for g in pair],
}


def judge(net, X, Y, oracle: Oracle, call: str) -> tuple[str, str | None]:
    """Run one public call under strict(): "returned" or "raised", and what broke the contract (or None)."""
    dtype = net.dtype.name
    with strict():
        try:
            got = CALLS[call](net, X, Y)
        except NonFiniteError as exc:
            assert isinstance(exc, ValueError) and isinstance(exc, OverflowError)
            text = str(exc)
            assert text.startswith(f"{call}: ") and "is not finite: the arithmetic overflowed" in text, text
            if clean(oracle, call, dtype) and fits(oracle, call, dtype):
                return "raised", f"raised although nothing overflows and the result is finite: {text}"
            return "raised", None
    if not all(np.all(np.isfinite(g)) for g in got):
        return "returned", f"returned inf or NaN: {got}"
    if not fits(oracle, call, dtype):
        return "returned", f"returned {got} for a result that does not fit {dtype}: {result_of(oracle, call)}"
    want = result_of(oracle, call)
    err = max(np.abs(g.astype(LD) - w).max() for g, w in zip(got, want))
    if err > SAFETY * oracle.error[call] + LD(np.finfo(dtype).tiny):
        return "returned", f"returned {got}, the oracle {want}: off by {err:.3g} > {oracle.error[call]:.3g}"
    return "returned", None


@pytest.fixture
def blocked_calls(monkeypatch):
    """Counts the calls into the blocked kernels (forward_pass_fast, backward_pass_fast) by ``threaded``."""
    seen = {}

    def spy(name):
        real = getattr(fast, name)

        def counted(*args):
            seen[(name, args[-1])] = seen.get((name, args[-1]), 0) + 1
            return real(*args)

        monkeypatch.setattr(fast, name, counted)

    spy("forward_pass_fast")
    spy("backward_pass_fast")
    return seen


@needs_long_double
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_activation_and_loss_at_the_edges_is_finite_or_a_clear_error(dtype, hidden, monkeypatch):
    """Every output activation x loss after this hidden activation, inputs or parameters at +-1e4, +-1e30,
    +-1e300, forward / loss / gradients on each backend, held to the long double oracle (module docstring)."""
    failures, counts = [], {"returned": 0, "raised": 0, "clean": 0, "does not fit": 0}
    for (out, loss), m, where in itertools.product(OUTPUT_LOSS, SIGNED, ("X", "W")):
        if dtype == "float32" and abs(m) > 1e38:
            continue  # does not fit float32: test_values_too_big_for_float32_are_refused
        net, X, Y = edge_case(hidden, out, loss, dtype, m, where)
        oracle = Oracle(net.weights, net.activations, loss, X.astype(dtype), Y.astype(dtype), dtype)
        for label in BACKENDS:
            with monkeypatch.context() as patch:
                if label == "loops-blocked":
                    patch.setattr(fast, "SMALL_MAX_WORK", -1)
                net.backend = label.removesuffix("-blocked")
                for call in CALLS:
                    counts["clean"] += clean(oracle, call, dtype)
                    counts["does not fit"] += not fits(oracle, call, dtype)
                    outcome, problem = judge(net, X, Y, oracle, call)
                    counts[outcome] += 1
                    if problem:
                        failures.append(f"{label} {hidden}/{out}/{loss} {where}={m:g} {call}: {problem}")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:20])
    assert min(counts.values()) > 0, counts  # both sides of the contract were met


def test_the_blocked_label_takes_the_blocked_kernels(blocked_calls, monkeypatch):
    """The sweep's "loops-blocked" runs forward_pass_fast and backward_pass_fast (serial); "loops" neither."""
    net, X, Y = edge_case("tanh", "softmax", "cross_entropy", "float64", 1e4, "X")
    net.backend = "loops"
    net.gradients(X, Y)
    assert not blocked_calls
    monkeypatch.setattr(fast, "SMALL_MAX_WORK", -1)
    net.forward(X)
    net.gradients(X, Y)
    assert blocked_calls == {("forward_pass_fast", None): 2, ("backward_pass_fast", None): 1}


# --- the threaded drivers: the same results as one thread, at the edges too -----------------------------

T_IN, T_HIDDEN = 64, 128
T_ROWS = -(-fast.PARALLEL_MIN_WORK // (T_IN * T_HIDDEN))  # F1 of the first layer reaches the thread threshold


@pytest.fixture
def restore_threads():
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


def outcome(call, net, X, Y):
    """("ok", arrays) or ("raised", message) of a public call, under strict()."""
    with strict():
        try:
            return "ok", CALLS[call](net, X, Y)
        except NonFiniteError as exc:
            return "raised", str(exc)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="NUMBA_NUM_THREADS < 2: no second thread")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_threaded_route_at_the_edges_equals_one_thread(dtype, blocked_calls, restore_threads):
    """A network big enough for the prange drivers: finite or NonFiniteError, and the same outcome, bit for
    bit, as the serial blocked kernels on one thread (which the oracle sweep holds at small sizes)."""
    sizes = (T_IN, T_HIDDEN, 3)
    assert fast.threaded_arg(np.array(sizes), T_ROWS) and not fast.is_small(sizes, T_ROWS)
    pairs = (("identity", "mse"), ("sigmoid", "bce"), ("softmax", "cross_entropy"), ("exp", "poisson"))
    mags = [m for m in SIGNED if dtype == "float64" or abs(m) < 1e38]
    seen = {"ok": 0, "raised": 0}
    for hidden, (out, loss), m, where in itertools.product(("tanh", "relu"), pairs, mags, ("X", "W")):
        net = loopnet.Network(list(sizes), activation=hidden, output_activation=out, loss=loss, dtype=dtype,
                              seed=5)  # fmt: skip
        X = pattern((T_ROWS, T_IN), 2)
        Y = np.repeat(targets(loss), -(-T_ROWS // N), axis=0)[:T_ROWS]
        if where == "X":
            X = m * X
        else:
            net.set_weights([(m * pattern(W.shape, 30 + l), m * pattern(b.shape, 40 + l))
                             for l, (W, b) in enumerate(net.weights)])  # fmt: skip
        for call in CALLS:
            numba.set_num_threads(2)
            threaded = outcome(call, net, X, Y)
            numba.set_num_threads(1)
            serial = outcome(call, net, X, Y)
            case = f"{hidden}/{out}/{loss} {where}={m:g} {call}"
            assert threaded[0] == serial[0], f"{case}: {threaded[0]} on two threads, {serial[0]} on one"
            seen[threaded[0]] += 1
            if threaded[0] == "raised":
                assert threaded[1] == serial[1], case
                continue
            for a, b in zip(threaded[1], serial[1]):
                assert np.all(np.isfinite(a)), case
                np.testing.assert_array_equal(a, b, err_msg=case)
    assert min(seen.values()) > 0, seen
    assert blocked_calls[("forward_pass_fast", True)] > 0 and blocked_calls[("backward_pass_fast", True)] > 0


# --- what does not fit the dtype, and the kernels' own forms at the edges -------------------------------


@pytest.mark.parametrize("backend", ["plain", "numpy", "loops"])
def test_values_too_big_for_float32_are_refused(backend):
    """1e300 does not fit float32: a ValueError saying so from every public function, before any arithmetic,
    with no NumPy cast warning; the network is left as it was."""
    net = loopnet.Network([2, 3, 2], activation="tanh", output_activation="identity", loss="mse",
                          backend=backend, dtype="float32", seed=0)  # fmt: skip
    before = net.params.copy()
    X, Y = pattern((4, 2), 1), pattern((4, 2), 2)
    big, Ybig = X.copy(), Y.copy()
    big[1, 0] = Ybig[1, 0] = -1e300
    with strict():
        for call in (lambda: net.forward(big), lambda: net.loss(big, Y), lambda: net.gradients(big, Y),
                     lambda: net.fit(big, Y, epochs=2), lambda: net.loss(X, Ybig),
                     lambda: net.fit(X, Y, epochs=2, validation=(big, Y))):  # fmt: skip
            with pytest.raises(ValueError, match=r"\[1, 0\] = -1e\+300 does not fit in float32"):
                call()
        with pytest.raises(ValueError, match="do not fit in float32"):
            net.set_weights([(1e300 * W.astype(np.float64), b) for W, b in net.weights])
    np.testing.assert_array_equal(net.params, before)


FORMS = {"plain": lk.activate, "numpy": nk.activate_np, "fast": fast.activate}


def edge_row(dtype: str) -> np.ndarray:
    """One row of z: +-1e4, +-1e30, +-1e300 (float32: its largest number instead of 1e300), and 0."""
    top = 1e300 if dtype == "float64" else float(np.finfo(np.float32).max)
    return np.array([[s * m for m in (1e4, 1e30, top) for s in (1.0, -1.0)] + [0.0]], dtype=dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("form", FORMS)
def test_every_form_saturates_exactly_at_the_edges(form, dtype):
    """Each activation's plain loop, twin and fast form, at z of 1e4 to 1e300: the exact limits (sigmoid 0 or
    1, tanh +-1, softmax one-hot), relu and leaky_relu exact, exp 0 and inf (output-only: what the network
    then reports), without a warning."""
    z = edge_row(dtype)
    zz = z[0].astype(np.float64)
    want = {
        "identity": zz,
        "sigmoid": (zz > 0).astype(float) + (zz == 0) * 0.5,
        "tanh": np.sign(zz),
        "relu": np.maximum(zz, 0.0),
        "leaky_relu": np.where(zz > 0, zz, LEAKY * zz),
        "exp": np.where(zz > 0, np.inf, np.where(zz < 0, 0.0, 1.0)),
    }
    for name, expected in want.items():
        a = np.empty_like(z)
        with strict():
            FORMS[form](ACTIVATIONS[name], z.copy(), a)
        rtol = 0 if name != "leaky_relu" else 2 * np.finfo(dtype).eps  # 0.01 z rounds in the dtype
        np.testing.assert_allclose(a[0], expected, rtol=rtol, atol=0, err_msg=f"{form} {name} {dtype}")
    for row in (z[:, :4], z[:, [0, 1, 6]], -z[:, [2, 0, 6]]):  # softmax: the largest entry takes all
        a = np.empty_like(row)
        with strict():
            FORMS[form](ACTIVATIONS["softmax"], row.copy(), a)
        np.testing.assert_array_equal(a[0], (row[0] == row[0].max()).astype(dtype), err_msg=f"{form} {row}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("form", ["plain", "numpy"])
def test_losses_from_logits_are_exact_at_the_edges(form, dtype):
    """bce, cross_entropy and poisson (half deviance) from logits at +-1e4 .. 1e300: finite and equal to their
    closed forms, as is the canonical delta (a s - y) c; no warning."""
    loss_value = lk.loss_value if form == "plain" else nk.loss_value_np
    output_delta = lk.output_delta if form == "plain" else nk.output_delta_np
    for m in (1e4, 1e30, 1e300 if dtype == "float64" else 1e38):
        z = np.array([[m, -m, 0.0], [-m, 0.0, m]], dtype=dtype)
        sw = np.ones(2)
        M = float(np.asarray(m, dtype))  # m as the dtype holds it
        # loss: (output, its z, Y, its value, worked out: log(1 + e^-M) and e^-M are 0 next to M)
        cases = {
            # rows [M, -M, 0] and [-M, 0, M]: terms 0, 0, log 2 and 0, log 2, M; the mean over 6
            "bce": ("sigmoid", z, [[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]], (M + 2 * math.log(2)) / 6),
            # lse is M in both rows: 1 (M - M), then 0.5 (M - 0) + 0.5 (M - M); the mean over 2 rows
            "cross_entropy": ("softmax", z, [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]], 0.25 * M),
            # rows [-M, -M, 0] and [-M, 0, -M], a = e^z: terms 0, -2 + 2 (ln 2 + M), 0 and -3 + 3 (ln 3 + M),
            # 1, 0 (exp of +M would be inf: what the network then reports)
            "poisson": ("exp", -np.abs(z), [[0.0, 2.0, 1.0], [3.0, 0.0, 0.0]],
                        (5 * M + 2 * math.log(2) + 3 * math.log(3) - 4) / 6),
        }  # fmt: skip
        for loss, (out, zz, Y, value) in cases.items():
            Y = np.array(Y, dtype=dtype)
            a = np.empty_like(zz)
            lk.activate(ACTIVATIONS[out], zz, a)
            delta = np.empty_like(zz)
            with strict():
                got = loss_value(LOSSES[loss], zz, a, Y, sw)
                output_delta(LOSSES[loss], ACTIVATIONS[out], zz, a, Y, sw, delta)
            rel = 1e-6 if dtype == "float32" else 1e-14
            assert math.isfinite(got) and got == pytest.approx(value, rel=rel), f"{form} {loss} {m:g}"
            s = Y.sum(axis=1, keepdims=True) if loss == "cross_entropy" else 1.0
            c = 1 / 2 if loss == "cross_entropy" else 1 / 6
            np.testing.assert_allclose(delta, (a * s - Y) * c, rtol=1e-6, atol=0, err_msg=f"{form} {loss}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_cross_entropy_of_a_class_far_below_the_maximum_with_target_zero_is_zero(backend, monkeypatch):
    """Defect found here: logits 1e308 and -1e308 make lse - z overflow for the second class; its target 0
    multiplied that inf into NaN. A class with target 0 adds nothing to y (lse - z): the loss is 0, finite,
    on every backend (it raised NonFiniteError, and the kernels returned NaN, before)."""
    if backend == "loops-blocked":
        monkeypatch.setattr(fast, "SMALL_MAX_WORK", -1)
    net = loopnet.Network([1, 2], output_activation="softmax", loss="cross_entropy",
                          backend=backend.removesuffix("-blocked"))  # fmt: skip
    net.set_weights([(np.array([[1e8, -1e8]]), np.zeros(2))])
    X, Y = np.array([[1e300], [-1e300]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    with strict():
        assert net.loss(X, Y) == 0.0
        ((dW, db),) = net.gradients(X, Y)
        np.testing.assert_array_equal(net.forward(X), Y)
    np.testing.assert_array_equal(dW, 0.0)
    np.testing.assert_array_equal(db, 0.0)
    z = np.array([[1e308, -1e308]])
    a = np.array([[1.0, 0.0]])
    assert lk.loss_value(LOSSES["cross_entropy"], z, a, a, np.ones(1)) == 0.0
    with np.errstate(over="ignore"):  # the twin's z - max is -inf here (exp of it is the right 0)
        assert nk.loss_value_np(LOSSES["cross_entropy"], z, a, a, np.ones(1)) == 0.0


@pytest.mark.parametrize("backend", ["plain", "numpy", "loops"])
def test_the_error_names_the_first_layer_that_overflowed(backend):
    """An identity hidden layer holding 1e300 and output weights of +-1e10: the output's z overflows. Even a
    sigmoid output, which would take inf to 1, raises: an overflowed sum's sign is not promised (here
    1e310 - 1e310 + 5 is NaN without fused multiply-adds and inf with them; it is 5), so the 1 could have
    been anything. The error names layer 2's z and where in it; a row that does not overflow is fine."""
    weights = [(np.eye(2), np.zeros(2)), (np.array([[1e10, 1e10], [-1e10, 1e10]]), np.array([0.0, 5.0]))]
    X = np.array([[1.0, 2.0], [1e300, 1e300]])
    for out in ("sigmoid", "identity"):
        net = loopnet.Network([2, 2, 2], activation="identity", output_activation=out, loss="mse",
                              backend=backend)  # fmt: skip
        net.set_weights(weights)
        with strict():
            said = f"the arithmetic overflowed float64 in layer 2's z \\({out}; row 1, unit "
            for call, name in ((net.forward, "forward: the output"), (net.loss, "loss: the loss \\(.*\\)"),
                               (net.gradients, "gradients: the gradient")):  # fmt: skip
                with pytest.raises(NonFiniteError, match=f"^{name} is not finite: {said}"):
                    call(X) if call == net.forward else call(X, np.zeros((2, 2)))
            z = np.array([[-1e10, 3e10 + 5]])
            want = z if out == "identity" else np.array([[0.0, 1.0]])  # sigmoid of -1e10 and 3e10
            np.testing.assert_array_equal(net.forward(X[:1]), want)
    net.params[0] = np.nan
    with pytest.raises(NonFiniteError, match="the parameters hold inf or NaN"):
        net.forward(X[:1])


# --- divergence: every backend, every route of the fast loops, every optimizer ---------------------------

TINY_SIZES = (3, 5, 2)
BLOCKED_SIZES = (16, 24, 2)
BLOCKED_BATCH = fast.SMALL_MAX_WORK // (16 * 24 + 24 * 2) + 1  # the smallest batch off the tiny path
THREADED_SIZES = (T_IN, T_HIDDEN, 2)

ROUTES = {  # label: (backend, sizes, rows, batch_size, the compiled kernel fit must run, its threaded arg)
    "plain": ("plain", TINY_SIZES, 12, 5, None, None),
    "numpy": ("numpy", TINY_SIZES, 12, 5, None, None),
    "tiny": ("loops", TINY_SIZES, 12, 5, "train_epochs_small", None),
    "blocked": ("loops", BLOCKED_SIZES, 2 * BLOCKED_BATCH + 3, BLOCKED_BATCH, "train_epochs_fast", None),
    "threaded": ("loops", THREADED_SIZES, T_ROWS, None, "train_epochs_fast", True),
}
OPTIMIZERS = {  # the learning rate of the first epochs, then one that blows the network up
    "sgd": (lambda lr: loopnet.SGD(lr), 1e-3, 1e30),
    "momentum": (lambda lr: loopnet.SGD(lr, momentum=0.9, nesterov=True), 1e-3, 1e30),
    "adam": (lambda lr: loopnet.Adam(lr), 1e-3, 1e300),  # Adam's steps are about lr, whatever the gradient
}
GOOD_EPOCHS, EPOCHS = 2, 12
PARAMETERS_OVERFLOW = 1.7e308  # times a gradient entry above 1.06, an update past the largest float64
CASES = ("loss", "loss-validation-early-stopping", "parameters")
"""How the fit blows up: its loss overflows first (minibatches as the route has them), the same with
validation rows and early stopping, or the update itself overflows a parameter while the loss measured
before it was finite (full batch: one update per epoch, so only the parameter check can see it)."""


@pytest.fixture
def kernels_run(monkeypatch):
    """The compiled epoch kernels fit runs on the loops backend, with their ``threaded`` argument."""
    seen = []
    real = fast.train_kernel

    def spy(sizes, run, path="auto"):
        kernel, variant = real(sizes, run, path)
        seen.append((kernel.py_func.__name__, variant[0] if variant else None))
        return kernel, variant

    monkeypatch.setattr(fast, "train_kernel", spy)
    return seen


def fit_case(route, dtype, hidden="tanh", out="identity", loss="mse", seed=7, y_scale=1.0):
    backend, sizes, rows, batch, _, _ = ROUTES[route]
    net = loopnet.Network(list(sizes), activation=hidden, output_activation=out, loss=loss, backend=backend,
                          dtype=dtype, seed=seed)  # fmt: skip
    X = pattern((rows, sizes[0]), 4)
    Y = y_scale * pattern((rows, sizes[-1]), 5)
    if loss == "poisson":  # counts: non-negative
        Y = 3 * np.abs(Y)
    return net, X, Y, batch


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("route", ROUTES)
def test_a_blown_up_fit_raises_and_keeps_the_last_finite_epoch(route, optimizer, dtype, case, kernels_run):
    """Two good epochs, then a learning rate that overflows: DivergenceError naming the epoch, no warning,
    the network equal bit for bit to a replay of the epochs before it, and the optimizer's state too (its
    flat buffers: the parameters kept may be past continuing, docs/training.md says, so no second fit)."""
    make, good, huge = OPTIMIZERS[optimizer]
    if case == "parameters":  # targets of 100 make some gradient entry well above 1
        huge = PARAMETERS_OVERFLOW
    lrs = np.array([good] * GOOD_EPOCHS + [huge] * (EPOCHS - GOOD_EPOCHS))
    net, X, Y, batch = fit_case(route, dtype, y_scale=100.0 if case == "parameters" else 1.0)
    extra = {"batch_size": None if case == "parameters" else batch}
    if case == "loss-validation-early-stopping":
        extra |= {"validation": (X[:5] * 0.5, Y[:5]), "early_stopping": loopnet.EarlyStopping(patience=50)}
    opt = make(good)
    with strict(), pytest.raises(loopnet.DivergenceError) as caught:
        net.fit(X, Y, epochs=EPOCHS, optimizer=opt, schedule=lrs, **extra)
    err = caught.value
    assert isinstance(err, ValueError) and err.history.stopped == "diverged"
    assert GOOD_EPOCHS <= err.epoch < EPOCHS, err.epoch
    if case == "parameters":  # caught in the epoch whose update overflowed, not one later by its loss
        assert err.epoch == GOOD_EPOCHS
    assert f"diverged in epoch {err.epoch + 1} of this fit" in str(err), str(err)
    assert len(err.history["loss"]) == err.epoch and np.all(np.isfinite(err.history["loss"]))
    assert np.all(np.isfinite(net.params))
    # the replay: the same network and optimizer, the epochs before the diverged one, no early stopping
    replay, _, _, _ = fit_case(route, dtype, y_scale=100.0 if case == "parameters" else 1.0)
    replay_opt = make(good)
    extra.pop("early_stopping", None)
    with strict():
        history = replay.fit(X, Y, epochs=err.epoch, optimizer=replay_opt, schedule=lrs[: err.epoch], **extra)
    np.testing.assert_array_equal(net.params, replay.params)
    np.testing.assert_array_equal(err.history["loss"], history["loss"])
    if "validation" in extra:
        np.testing.assert_array_equal(err.history["val_loss"], history["val_loss"])
    assert opt.steps == replay_opt.steps
    for state, replayed in zip(opt._state, replay_opt._state):  # velocities or moments, and the step count
        np.testing.assert_array_equal(state, replayed)
    _, _, _, _, kernel, threaded = ROUTES[route]
    assert set(kernels_run) == (set() if kernel is None else {(kernel, threaded)})  # once per chunk


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("route", ROUTES)
def test_a_validation_loss_that_overflows_stops_the_fit(route, dtype, kernels_run):
    """The training rows are fine, the validation rows make exp overflow: DivergenceError in the first
    epoch, the network back at its starting parameters, on every route; the public loss on those rows says
    the same thing as a NonFiniteError."""
    net, X, Y, batch = fit_case(route, dtype, hidden="relu", out="exp", loss="poisson")
    before = net.params.copy()
    Xv = X[:4] * 1e4
    with strict():
        with pytest.raises(NonFiniteError, match="exp"):
            net.loss(Xv, Y[:4])
        with pytest.raises(loopnet.DivergenceError, match="diverged in epoch 1 ") as caught:
            net.fit(X, Y, epochs=3, batch_size=batch, optimizer=loopnet.Adam(1e-3), validation=(Xv, Y[:4]),
                    early_stopping=loopnet.EarlyStopping(patience=2))  # fmt: skip
    assert caught.value.epoch == 0 and caught.value.history.epochs == 0
    np.testing.assert_array_equal(net.params, before)
    _, _, _, _, kernel, threaded = ROUTES[route]
    assert set(kernels_run) == (set() if kernel is None else {(kernel, threaded)})
