"""The path matrix: every route ``forward``, ``predict``, ``loss``, ``gradients`` and ``fit`` can take,
held to oracles that share no code with loopnet.

The routes (see ``loopnet/fast.py``): the plain loops (``backend="plain"``), the NumPy twin
(``backend="numpy"``) and, for ``backend="loops"``, the tiny path (``train_epochs_small`` and the plain
kernels) or the register-blocked kernels, whose products take short sums (``ab_band``) or 4 x 4 blocks
(``abt_band``, with leftover rows and columns), one panel of columns or several, and the serial or the
``prange`` drivers; each in float64 and float32. The rows of the matrix are sized from the kernels' own
constants (``PANEL``, ``SHORT_K``, ``PARALLEL_MIN_WORK``, ``SMALL_MAX_WORK``), so moving a threshold moves
the rows, and two tests fail when a route exists that no row covers:

* ``test_every_route_has_a_row``: the routes each row takes, derived from the kernels' decision
  functions, must cover every route the code has;
* ``test_every_kernel_line_runs_in_some_row``: the matrix run as plain Python (``NUMBA_DISABLE_JIT=1``,
  the constants scaled down so the rows stay small) must execute every line of the compiled modules
  that the public API can reach.

Every (row, dtype, hidden activation, output activation, loss) is held to:

* an independent NumPy forward pass and the loss as docs/design.md defines it (written out below);
* the gradient from an independent backward pass written out below (with relu's f'(0) = 0 and
  leaky_relu's f'(0) = 0.01, as the README says, at units that sit exactly on the kink), which is itself
  held to central finite differences, and directly central finite differences of the independent loss
  along random directions;
* the parameters and loss history after ``fit``: one SGD step ``p - lr * g`` by hand for full batches;
  for minibatches two epochs of steps replayed by hand, batch by batch in the shuffled order (uneven
  last batch included).
"""

from __future__ import annotations

import dis
import importlib
import inspect
import itertools
import json
import math
import os
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from functools import partial

import numba
import numpy as np
import pytest
from conftest import import_torch, next_fit_seed

import loopnet
from loopnet import fast

HIDDEN = ("identity", "sigmoid", "tanh", "relu", "leaky_relu")
OUTPUTS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax")
OUTPUT_LOSS = (
    *((out, loss) for loss in ("sse", "mse") for out in OUTPUTS),
    ("sigmoid", "bce"),
    ("softmax", "cross_entropy"),
    ("exp", "sse"),  # exp (output only) last: the pairs above keep their places, and their RULES
    ("exp", "mse"),
    ("exp", "poisson"),
)
COMBOS = [(h, out, loss) for h in HIDDEN for out, loss in OUTPUT_LOSS]
KINKED = ("relu", "leaky_relu")
LEAKY = 0.01  # docs/design.md: leaky_relu's slope for z <= 0


# --- the rows, from the kernels' constants ---------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    backend: str  # "plain", "numpy" or "loops"
    sizes: tuple[int, ...]
    N: int  # rows of X for forward, loss and gradients
    batch: int | None  # fit's batch_size (None: full batch)
    route: str  # "plain", "numpy", "tiny" or "blocked"


def constants() -> dict[str, int]:
    return {
        "P": fast.PANEL,
        "S": fast.SHORT_K,
        "T": fast.PARALLEL_MIN_WORK,
        "M": fast.SMALL_MAX_WORK,
    }


def matrix_rows(P: int, S: int, T: int, M: int) -> list[Row]:
    """The rows, sized from PANEL (P), SHORT_K (S), PARALLEL_MIN_WORK (T) and SMALL_MAX_WORK (M)."""
    # a batch of 8 rows of n0 inputs and h hidden units: 8 * 8 * n0 >= T threads the gather and
    # 8 * n0 * h >= T the update, while the products (8 * n0 * h multiply-adds) stay cheap
    n0 = -(-T // 64)
    h = -(-T // (8 * n0))
    at = -(-T // (P * 2 * P))  # rows that put P x 2P products at the thread threshold
    odd = -(-T // ((P + 1) * 2 * P)) | 1  # odd rows of P + 1 units: threaded bands with a leftover row
    short = (S - 3, S - 5, 5)  # every sum below SHORT_K terms
    wide = M // (S + 1) + 1  # a batch of one row above the tiny-path bound
    unit = S + 1  # a hidden layer of one unit: every row adds unit + 2 multiply-adds
    unit_batch = M // (unit + 2) + 1
    rows = [
        Row("plain", "plain", (3, 5, 4), 7, 3, "plain"),
        Row("plain-blocked-sizes", "plain", (S + 1, S + 7, S + 2), 19, 17, "plain"),
        Row("numpy", "numpy", (3, 5, 4), 7, 3, "numpy"),
        Row("numpy-blocked-sizes", "numpy", (S + 1, S + 7, S + 2), 19, 17, "numpy"),
        Row("tiny", "loops", (3, 5, 4), 7, 3, "tiny"),
        Row("tiny-deep-batch-1", "loops", (2, 3, 4, 3), 5, 1, "tiny"),
        Row("blocked-short-sums", "loops", short, S + 3, S - 1, "blocked"),
        # long sums, one panel, leftover rows (19 = 4 * 4 + 3) and columns (S + 7 = 23, S + 2 = 18)
        Row("blocked-4x4", "loops", (S + 1, S + 7, S + 2), 19, 17, "blocked"),
        # panels: P - 1 inputs, 2P + 1 hidden (three panels), P + 1 then 3 outputs
        Row("multi-panel", "loops", (P - 1, 2 * P + 1, P + 1, 3), S + 3, S + 1, "blocked"),
        Row("batch-of-one", "loops", (wide, S + 1, 3), 5, 1, "blocked"),
        Row("unit-width", "loops", (unit, 1, 2), unit_batch + 4, unit_batch, "blocked"),
        Row("threads-below", "loops", (P, 2 * P, P), at - 1, None, "blocked"),
        Row("threads-at", "loops", (P, 2 * P, P), at, None, "blocked"),
        Row("threads-odd", "loops", (P + 1, 2 * P, P + 1), odd, None, "blocked"),
        Row("threads-all", "loops", (n0, h, 3), 13, 8, "blocked"),
    ]
    return rows


ROWS = matrix_rows(**constants())


def _products(sizes, rows):
    """(kind, N, I, J) of every product one forward + backward pass of ``rows`` rows makes."""
    out = []
    for l, (I, J) in enumerate(itertools.pairwise(sizes)):
        out.append(("F1", rows, I, J))
        out.append(("B3", rows, I, J))
        if l > 0:
            out.append(("B2", rows, I, J))
    return out


def routes(row: Row) -> set[str]:
    """The routes a row takes, by the kernels' own decision functions."""
    taken = {f"backend:{row.backend}", f"route:{row.route}"}
    n_layers = len(row.sizes) - 1
    taken.add("layers:deep" if n_layers >= 3 else "layers:two")
    B = row.N if row.batch is None else min(row.batch, row.N)
    taken.add(
        "fit:full-batch" if B == row.N else "fit:uneven-minibatches" if row.N % B else "fit:minibatches"
    )
    if B == 1:
        taken.add("batch:one")
    if min(row.sizes[1:-1], default=2) == 1:
        taken.add("width:one")
    sizes = np.array(row.sizes, dtype=np.int64)
    if row.backend != "loops":
        return taken
    small_pass, small_fit = fast.is_small(sizes, row.N), fast.is_small(sizes, B)
    assert small_pass == small_fit == (row.route == "tiny"), f"{row.name} left its route"
    if row.route == "tiny":
        return taken
    batches = {B, row.N % B} - {0}
    for rows in (row.N, *batches):
        for kind, N, I, J in _products(row.sizes, rows):
            K, cols, height = {"F1": (I, J, N), "B2": (J, I, N), "B3": (N, J, I)}[kind]
            threaded = fast.use_threads(True, N, I, J)
            taken.add(f"{kind}:{'threaded' if threaded else 'serial'}")
            if threaded and height % 4:
                taken.add(f"{kind}:threaded-leftover-rows")
            if K < fast.SHORT_K:
                taken.add("sum:short")
                continue
            taken.add("sum:blocked")
            width = fast.panel_width(K, cols)
            taken.add("panels:several" if cols > width else "panels:one")
            if height % 4:
                taken.add("rows:leftover")
            if cols % width % 4 or min(width, cols) % 4:
                taken.add("columns:leftover")
    for m in batches:
        taken.add(f"gather:{'threaded' if fast.use_threads(True, 8, m, row.sizes[0]) else 'serial'}")
    for I, J in itertools.pairwise(row.sizes):
        taken.add(f"update:{'threaded' if fast.use_threads(True, 8, I, J) else 'serial'}")
    return taken


ALL_ROUTES = {
    *(f"backend:{b}" for b in ("plain", "numpy", "loops")),
    *(f"route:{r}" for r in ("plain", "numpy", "tiny", "blocked")),
    "layers:two", "layers:deep", "fit:full-batch", "fit:uneven-minibatches", "batch:one", "width:one",
    "sum:short", "sum:blocked", "panels:one", "panels:several", "rows:leftover", "columns:leftover",
    *(f"{k}:threaded-leftover-rows" for k in ("F1", "B2", "B3")),
    *(f"{k}:{t}" for k in ("F1", "B2", "B3", "gather", "update") for t in ("serial", "threaded")),
}  # fmt: skip
"""Every route the code has; a new branch in fast.py's decisions needs a name here and a row."""


def test_every_route_has_a_row():
    covered = set().union(*(routes(row) for row in ROWS))
    assert covered >= ALL_ROUTES, f"routes no row takes: {sorted(ALL_ROUTES - covered)}"


def test_rows_follow_the_constants():
    """The rows sit on the thresholds: moving a constant moves them."""
    P, S, T = fast.PANEL, fast.SHORT_K, fast.PARALLEL_MIN_WORK
    by_name = {row.name: row for row in ROWS}
    below, at = by_name["threads-below"], by_name["threads-at"]
    assert below.N * P * 2 * P < T <= at.N * P * 2 * P
    assert routes(at) >= {"F1:threaded", "B2:threaded", "B3:threaded"}
    assert routes(below).isdisjoint({"F1:threaded", "B2:threaded", "B3:threaded"})
    multi = by_name["multi-panel"].sizes
    assert multi[1] == 2 * P + 1 and multi[2] == P + 1 and multi[0] == P - 1
    assert max(by_name["blocked-short-sums"].sizes[:-1]) < S
    assert routes(by_name["threads-all"]) >= {"update:threaded", "gather:threaded"}


# --- the oracle: NumPy written from the definitions, nothing imported from loopnet -------------------


def ref_act(name, z):
    if name == "identity":
        return z.copy()
    if name == "sigmoid":
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, LEAKY * z)
    if name == "exp":
        return np.exp(z)
    e = np.exp(z - z.max(axis=1, keepdims=True))  # softmax
    return e / e.sum(axis=1, keepdims=True)


def ref_dact(name, z):
    """f'(z), with the README's choice at the kink: relu'(0) = 0, leaky_relu'(0) = 0.01."""
    if name == "sigmoid":
        s = ref_act("sigmoid", z)
        return s * (1.0 - s)
    if name == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if name == "relu":
        return np.where(z > 0, 1.0, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, LEAKY)
    if name == "exp":
        return np.exp(z)
    return np.ones_like(z)


def ref_forward(weights, acts, X):
    zs, As = [], [X]
    for (W, b), act in zip(weights, acts):
        zs.append(As[-1] @ W + b)
        As.append(ref_act(act, zs[-1]))
    return zs, As


def ref_loss(loss, z, a, Y, w=None):
    """docs/design.md's definitions; bce, cross_entropy, poisson through the logits (exactly equal, finite).

    With sample weights w, a mean loss is sum_n w_n l_n / sum_n w_n (0 if every w_n is 0), sse sum_n w_n l_n.
    """
    N, K = Y.shape
    w = np.ones(N) if w is None else w
    if loss in ("sse", "mse"):
        per_row = np.sum((a - Y) ** 2, axis=1)
    elif loss == "bce":  # -[y ln s(z) + (1 - y) ln(1 - s(z))] = log(1 + e^z) - y z
        per_row = np.sum(np.logaddexp(0.0, z) - Y * z, axis=1)
    elif loss == "poisson":  # y ln(y / e^z) - y + e^z = y (ln y - z) - y + e^z, with 0 ln 0 = 0
        y_ln = np.where(Y > 0, Y * (np.log(np.where(Y > 0, Y, 1.0)) - z), 0.0)
        per_row = np.sum(y_ln - Y + np.exp(z), axis=1)
    else:  # cross_entropy: -y ln softmax(z) = y (lse - z)
        per_row = np.sum(Y * (np.logaddexp.reduce(z, axis=1, keepdims=True) - z), axis=1)
    if loss == "sse":
        return 0.5 * (w @ per_row)
    if w.sum() == 0:
        return 0.0
    return (w @ per_row) / (w.sum() * (1 if loss == "cross_entropy" else K))


def ref_total_loss(weights, acts, loss, X, Y, w=None):
    zs, As = ref_forward(weights, acts, X)
    return ref_loss(loss, zs[-1], As[-1], Y, w)


def ref_output_delta(loss, out, z, a, Y, w=None):
    """dL/dz at the output, differentiated by hand from the definitions above."""
    N, K = Y.shape
    w = np.ones(N) if w is None else w
    S = w.sum()
    # dL/dl_n: the weight of row n in the loss
    if loss == "sse":
        c = w
    elif S == 0:
        c = np.zeros(N)
    else:
        c = w / (S * (1 if loss == "cross_entropy" else K))
    c = c[:, None]
    if loss == "bce":  # d/dz [log(1 + e^z) - y z] = s(z) - y
        return (a - Y) * c
    if loss == "poisson":  # d/dz [y (ln y - z) - y + e^z] = e^z - y
        return (np.exp(z) - Y) * c
    if loss == "cross_entropy":  # d/dz_j sum_k y_k (lse - z_k) = a_j sum_k y_k - y_j
        return (a * Y.sum(axis=1, keepdims=True) - Y) * c
    g = (a - Y) * c if loss == "sse" else 2.0 * (a - Y) * c  # dL/da
    if out == "softmax":  # da_k/dz_j = a_k (delta_kj - a_j)
        return a * (g - (g * a).sum(axis=1, keepdims=True))
    return g * ref_dact(out, z)


def ref_gradients(weights, acts, loss, X, Y, w=None):
    zs, As = ref_forward(weights, acts, X)
    delta = ref_output_delta(loss, acts[-1], zs[-1], As[-1], Y, w)
    grads = []
    for l in range(len(weights) - 1, -1, -1):
        grads.append((As[l].T @ delta, delta.sum(axis=0)))
        if l > 0:
            delta = (delta @ weights[l][0].T) * ref_dact(acts[l - 1], zs[l - 1])
    return grads[::-1]


def ref_shuffle(order: list[int], state: int) -> int:
    """docs/design.md's shuffle: Fisher-Yates driven by Park-Miller x <- 48271 x mod (2^31 - 1)."""
    for i in range(len(order) - 1, 0, -1):
        state = state * 48271 % 2147483647
        j = state % (i + 1)
        order[i], order[j] = order[j], order[i]
    return state


def ref_fit(weights, acts, loss, X, Y, epochs, lr, batch, state):
    """Minibatch SGD replayed by hand: (weights after, loss history)."""
    N = X.shape[0]
    B = N if batch is None else min(batch, N)
    order = list(range(N))
    weights = [(W.copy(), b.copy()) for W, b in weights]
    history = []
    for _ in range(epochs):
        if B < N:
            state = ref_shuffle(order, state)
        total = 0.0
        for start in range(0, N, B):
            rows = order[start : start + B]
            Xb, Yb = X[rows], Y[rows]
            batch_loss = ref_total_loss(weights, acts, loss, Xb, Yb)
            total += batch_loss if loss == "sse" else batch_loss * len(rows) / N
            grads = ref_gradients(weights, acts, loss, Xb, Yb)
            weights = [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(weights, grads)]
        history.append(total)
    return weights, np.array(history)


def ref_step(rule, weights, grads, state, lr):
    """One update by the textbook form of torch.optim's rules; weight decay on W only, never on b.

    SGD: g = dW + wd W; buf = g at step 1, else mu buf + (1 - dampening) g; step along g + mu buf
    (Nesterov) or buf. Adam: g = dW + wd W; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps). AdamW: W *= 1 - lr wd, then Adam with wd = 0.
    """
    t = state["t"] = state.get("t", 0) + 1
    new = []
    for l, ((W, b), (dW, db)) in enumerate(zip(weights, grads)):
        out = []
        for name, p, g in (("W", W, dW), ("b", b, db)):
            wd = rule.get("weight_decay", 0.0) if name == "W" else 0.0
            key = (l, name)
            if rule["kind"] == "sgd":
                g = g + wd * p
                mu = rule.get("momentum", 0.0)
                if mu:
                    buf = g if t == 1 else mu * state[key] + (1 - rule.get("dampening", 0.0)) * g
                    state[key] = buf
                    g = g + mu * buf if rule.get("nesterov") else buf
                out.append(p - lr * g)
                continue
            b1, b2 = rule["betas"]
            if rule["kind"] == "adamw":
                p = p * (1 - lr * wd)
            else:
                g = g + wd * p
            m0, v0 = state.get(key, (0.0, 0.0))
            m, v = b1 * m0 + (1 - b1) * g, b2 * v0 + (1 - b2) * g * g
            state[key] = (m, v)
            if rule.get("eps_hat"):  # Kingma and Ba's section 2 form, scikit-learn's: eps on sqrt(v)
                out.append(p - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + rule["eps"]))
                continue
            out.append(p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + rule["eps"]))
        new.append(tuple(out))
    return new


def ref_train(weights, acts, loss, X, Y, lrs, batch, state, rule, w, shuffle=True, Xv=None, Yv=None):
    """A fit replayed by hand with an optimizer, per-epoch learning rates, sample weights and validation.

    Returns (weights after each epoch, loss history, validation loss history).
    """
    N = X.shape[0]
    B = N if batch is None else min(batch, N)
    order = list(range(N))
    weights = [(W.copy(), b.copy()) for W, b in weights]
    opt_state: dict = {}
    after, history, val = [], [], []
    for lr in lrs:
        if shuffle and B < N:
            state = ref_shuffle(order, state)
        total = 0.0
        for start in range(0, N, B):
            rows = order[start : start + B]
            Xb, Yb, wb = X[rows], Y[rows], w[rows]
            batch_loss = ref_total_loss(weights, acts, loss, Xb, Yb, wb)
            grads = ref_gradients(weights, acts, loss, Xb, Yb, wb)
            l2 = rule.get("l2", 0.0)
            if l2 and wb.sum() > 0:  # the L2 penalty: (l2 / 2) sum W^2 / S in the loss, l2 W / S in dW
                batch_loss += 0.5 * l2 * sum(np.sum(W * W) for W, _ in weights) / wb.sum()
                grads = [(dW + l2 * W / wb.sum(), db) for (W, _), (dW, db) in zip(weights, grads)]
            total += batch_loss if loss == "sse" else batch_loss * wb.sum() / w.sum()
            weights = ref_step(rule, weights, grads, opt_state, lr)
        after.append(weights)
        history.append(total)
        if Xv is not None:
            val.append(ref_total_loss(weights, acts, loss, Xv, Yv))
    return after, np.array(history), np.array(val)


# --- one case -------------------------------------------------------------------------------------


def make_case(row: Row, hidden: str, out: str, loss: str, dtype: str, draw: int = 0):
    """(weights, X, Y, acts, dead): random data in ``dtype``'s values, with one unit per layer on the kink.

    The last unit of every layer wider than one has zero weights and zero bias, so its pre-activation is
    exactly 0 for every sample in any summation order: relu and leaky_relu sit on their kink there, and
    the gradient must use the README's f'(0). ``dead`` lists those (layer, unit) pairs.
    """
    acts = [hidden] * (len(row.sizes) - 2) + [out]
    seed = zlib.crc32(f"{row}{hidden}{out}{loss}{dtype}{draw or ''}".encode())
    for attempt in range(20):  # a draw whose relu units are all off has no gradient to check: draw again
        weights, X, Y, dead = _draw(np.random.default_rng([seed, attempt]), row, loss, dtype)
        grads = ref_gradients(weights, acts, loss, X, Y)
        if all(np.abs(g).max() > 0 for pair in grads for g in pair if g.size > 1):
            return weights, X, Y, acts, dead
    raise AssertionError("no draw with a gradient in every layer")  # pragma: no cover


def _draw(rng, row, loss, dtype):
    sizes = row.sizes
    weights, dead = [], []
    for l, (I, J) in enumerate(itertools.pairwise(sizes)):
        W = rng.normal(0.0, 1.0 / math.sqrt(I), (I, J))
        b = rng.normal(0.0, 0.5, J)
        if J > 1:
            W[:, -1] = 0.0
            b[-1] = 0.0
            dead.append((l, J - 1))
        weights.append((W, b))
    X = rng.normal(size=(row.N, sizes[0]))
    K = sizes[-1]
    if loss == "cross_entropy":  # soft rows (probabilities) and one-hot rows, alternating
        Y = rng.dirichlet(np.ones(K), row.N)
        Y[::2] = np.eye(K)[rng.integers(0, K, (row.N + 1) // 2)]
    elif loss == "bce":
        Y = rng.random((row.N, K))
        Y[::3] = rng.integers(0, 2, Y[::3].shape)
    elif loss == "poisson":  # counts, zeros among them
        Y = rng.poisson(1.5, (row.N, K)).astype(np.float64)
    else:
        Y = rng.normal(size=(row.N, K))
    cast = lambda v: np.asarray(v, dtype=dtype).astype(np.float64)  # noqa: E731  (the network's values)
    return [(cast(W), cast(b)) for W, b in weights], cast(X), cast(Y), dead


def tolerances(dtype: str) -> dict[str, float]:
    """Relative to the largest magnitude of the expected array.

    float64: the kernels sum in other orders (fastmath reassoc on the blocked path) and the fast exp is
    within 2 ulp, so values agree to ~1e-15 of their scale; two epochs of steps stay within 1e-12.
    float32 (eps 1.2e-7): sums of up to a few hundred float32 terms and float32 activations, measured
    below 2e-5 of the scale; a wrong factor, sign, term or bound is off by 1e-3 or (far) more.
    """
    if dtype == "float64":
        return {"value": 1e-11, "grad": 1e-10, "fit": 1e-9}
    return {"value": 1e-4, "grad": 2e-4, "fit": 2e-4}


def rel_err(got, want) -> float:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    scale = np.abs(want).max() if want.size else 0.0
    return float(np.abs(got - want).max() / (scale if scale > 0 else 1.0))


def output_shift(weights, acts, X, v) -> float:
    """The largest change of an output pre-activation per unit step along v (forward mode, first order)."""
    zs, As = ref_forward(weights, acts, X)
    dz = np.zeros_like(X)
    for l, ((W, _), (vW, vb)) in enumerate(zip(weights, v)):
        dz = (dz * ref_dact(acts[l - 1], zs[l - 1]) if l else dz) @ W + As[l] @ vW + vb
    return float(np.abs(dz).max())


def exp_safe(lr, out, weights, acts, X, v, scale=1.0) -> float:
    """lr, or less for an exp output: e^z overflows where a step moves some z by hundreds, which a step
    sized by the largest gradient entry does on the widest rows (thousands of entries move together).
    Caps the first-order move of every output z along v (scale: how much larger a batch's step is) at 0.5."""
    if out != "exp":
        return lr
    return min(lr, 0.5 / (scale * output_shift(weights, acts, X, v)))


def directional_fd(weights, acts, loss, X, Y, v):
    """Central difference of the independent loss along direction v, with a step that crosses no kink."""
    zs, As = ref_forward(weights, acts, X)
    dz_prev = np.zeros_like(X)  # forward-mode derivative of each layer's z along v
    h = 1e-6
    for l, ((W, _), (vW, vb)) in enumerate(zip(weights, v)):
        dz = dz_prev @ W + As[l] @ vW + vb
        if acts[l] in KINKED:
            moving = np.abs(dz) > 0
            if moving.any():  # keep every moving pre-activation on its side of 0
                h = min(h, 0.25 * float(np.min(np.abs(zs[l][moving]) / np.abs(dz[moving]))))
        dz_prev = dz * ref_dact(acts[l], zs[l]) if acts[l] != "softmax" else dz
    assert h > 1e-10, "a pre-activation too close to the kink for a finite difference"
    up = [(W + h * vW, b + h * vb) for (W, b), (vW, vb) in zip(weights, v)]
    down = [(W - h * vW, b - h * vb) for (W, b), (vW, vb) in zip(weights, v)]
    fd = (ref_total_loss(up, acts, loss, X, Y) - ref_total_loss(down, acts, loss, X, Y)) / (2 * h)
    return fd, h


def directions(weights, dead, rng):
    """Random unit directions: one per layer's W, one per layer's b, one through everything.

    Zero on the units that sit on the kink, so the loss along them is smooth at the point.
    """
    full = []
    for l, (W, b) in enumerate(weights):
        vW, vb = rng.normal(size=W.shape), rng.normal(size=b.shape)
        for layer, unit in dead:
            if layer == l:
                vW[:, unit] = 0.0
                vb[unit] = 0.0
        full.append((vW, vb))
    out = [full]
    zeros = [(np.zeros_like(W), np.zeros_like(b)) for W, b in weights]
    for l, (vW, vb) in enumerate(full):
        only_W, only_b = list(zeros), list(zeros)
        only_W[l] = (vW, zeros[l][1])
        only_b[l] = (zeros[l][0], vb)
        out += [only_W, only_b]
    unit = []  # unit length, so the step h is the distance moved whatever the number of parameters
    for v in out:
        norm = math.sqrt(sum(np.sum(vW**2) + np.sum(vb**2) for vW, vb in v))
        unit.append([(vW / norm, vb / norm) for vW, vb in v])
    return unit


def build(row: Row, hidden, out, loss, dtype, weights, seed=0):
    gen = np.random.default_rng(seed)
    net = loopnet.Network(list(row.sizes), activation=hidden, output_activation=out, loss=loss,
                          backend=row.backend, dtype=dtype, seed=gen)  # fmt: skip
    net.set_weights(weights)
    return net, gen


def check_case(row: Row, hidden: str, out: str, loss: str, dtype: str) -> None:
    """Hold every public method of one network on one route to the oracles."""
    tol = tolerances(dtype)
    where = f"{row.name} {dtype} {hidden}/{out}/{loss}"
    weights, X, Y, acts, dead = make_case(row, hidden, out, loss, dtype)
    net, gen = build(row, hidden, out, loss, dtype, weights)
    want = ref_gradients(weights, acts, loss, X, Y)
    gmax = max(np.abs(g).max() for pair in want for g in pair)
    # The first step moves the largest parameter by about 0.1, a wrong step is plain to see; a batch of B
    # rows can have a gradient up to N / B times the full one (mean losses), hence the factor.
    epochs = 1 if row.batch is None else 2
    lr = 0.1 / gmax if row.batch is None else 0.1 * min(row.batch, row.N) / (row.N * gmax)
    lr = exp_safe(lr, out, weights, acts, X, want, row.N / min(row.batch or row.N, row.N))
    state = next_fit_seed(gen)
    want_w, want_h = ref_fit(weights, acts, loss, X, Y, epochs, lr, row.batch, state)
    if dtype == "float32":
        # How far float32 arithmetic alone moves this case: the same oracle computed in float32. Long sums
        # that cancel (thousands of terms) amplify float32's rounding; a slip moves numbers far more.
        f32 = [(W.astype(np.float32), b.astype(np.float32)) for W, b in weights]
        X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
        noise_g = max(rel_err(g32, g) for p32, p in zip(ref_gradients(f32, acts, loss, X32, Y32), want)
                      for g32, g in zip(p32, p))  # fmt: skip
        w32, _ = ref_fit(f32, acts, loss, X32, Y32, epochs, np.float32(lr), row.batch, state)
        noise_w = max(rel_err(a, b) for p32, p in zip(w32, want_w) for a, b in zip(p32, p))
        tol = {**tol, "grad": max(tol["grad"], 20 * noise_g), "fit": max(tol["fit"], 20 * noise_w)}

    # forward, predict, loss
    zs, As = ref_forward(weights, acts, X)
    got = net.forward(X)
    assert got.dtype == np.dtype(dtype), where
    assert rel_err(got, As[-1]) <= tol["value"], f"{where}: forward {rel_err(got, As[-1]):.2e}"
    np.testing.assert_array_equal(net.predict(X), got, err_msg=where)
    want_loss = ref_loss(loss, zs[-1], As[-1], Y)
    assert abs(net.loss(X, Y) - want_loss) <= tol["value"] * abs(want_loss), f"{where}: loss"

    # gradients: entry by entry against the independent backward pass, and along directions against
    # central differences of the independent loss
    grads = net.gradients(X, Y)
    assert gmax > 0, where
    for l, ((dW, db), (wW, wb)) in enumerate(zip(grads, want)):
        assert dW.dtype == np.dtype(dtype) and dW.shape == wW.shape and db.shape == wb.shape, where
        for name, g, w in (("dW", dW, wW), ("db", db, wb)):
            err = np.abs(g.astype(np.float64) - w).max() / gmax
            assert err <= tol["grad"], f"{where}: layer {l} {name} off by {err:.2e} of max |grad|"
    rng = np.random.default_rng(1)
    for v in directions(weights, dead, rng):
        fd, h = directional_fd(weights, acts, loss, X, Y, v)
        dot = sum(np.sum(g.astype(np.float64) * vv) for pair, vpair in zip(grads, v)
                  for g, vv in zip(pair, vpair))  # fmt: skip
        scale = sum(np.sum(np.abs(g * vv)) for pair, vpair in zip(want, v) for g, vv in zip(pair, vpair))
        # the difference quotient's own error: the loss is computed to some 100 ulp (sums of many
        # terms), divided by 2h; its truncation error, h^2 |L'''| / 6, is below 1e-12 here
        fd_err = 1e-14 * max(1.0, abs(want_loss)) / h
        assert abs(dot - fd) <= tol["grad"] * scale + fd_err, (
            f"{where}: directional derivative {dot:.10e} vs finite difference {fd:.10e}"
        )

    # fit: one full-batch step by hand, or two epochs of shuffled minibatches replayed by hand
    history = net.fit(X, Y, epochs=epochs, lr=lr, batch_size=row.batch)
    assert rel_err(history["loss"], want_h) <= tol["fit"], f"{where}: loss history"
    assert_weights(net, want_w, tol["fit"], f"{where}: after fit")

    check_training(row, hidden, out, loss, dtype, weights, X, Y, acts, gmax)


def assert_weights(net, want, tol, where):
    scale = max(np.abs(W).max() for pair in want for W in pair)
    for l, ((W, b), (wW, wb)) in enumerate(zip(net.weights, want)):
        for name, p, w in (("W", W, wW), ("b", b, wb)):
            err = np.abs(p.astype(np.float64) - w).max() / scale
            assert err <= tol, f"{where}: layer {l} {name} off by {err:.2e}"


# --- training beyond plain SGD, on every route ------------------------------------------------------

RULES = (
    {"kind": "sgd", "momentum": 0.9, "nesterov": True, "weight_decay": 0.05},
    {"kind": "adam", "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.05},
    {"kind": "sgd", "momentum": 0.5, "dampening": 0.2, "l2": 0.3},
    {"kind": "adamw", "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1},
    {"kind": "sgd", "weight_decay": 0.05},
    {"kind": "adam", "betas": (0.9, 0.99), "eps": 1e-3, "weight_decay": 0.0, "eps_hat": True, "l2": 0.5},
)
"""The update rules check_training holds to the textbook formulas; each case takes one in turn."""


def make_optimizer(rule, lr):
    if rule["kind"] == "sgd":
        return loopnet.SGD(
            lr,
            momentum=rule.get("momentum", 0.0),
            nesterov=rule.get("nesterov", False),
            weight_decay=rule.get("weight_decay", 0.0),
            dampening=rule.get("dampening", 0.0),
        )
    if rule.get("eps_hat"):
        return loopnet.Adam(lr, betas=rule["betas"], eps=rule["eps"], eps_hat=True)
    cls = loopnet.Adam if rule["kind"] == "adam" else loopnet.AdamW
    return cls(lr, betas=rule["betas"], eps=rule["eps"], weight_decay=rule["weight_decay"])  # fmt: skip


def check_training(row: Row, hidden, out, loss, dtype, weights, X, Y, acts, gmax) -> None:
    """Two epochs with an optimizer, a per-epoch learning rate, integer sample weights (zeros included),
    validation rows and early stopping's restore_best, replayed by hand."""
    k = COMBOS.index((hidden, out, loss))
    rule = RULES[(HIDDEN.index(hidden) + OUTPUT_LOSS.index((out, loss))) % len(RULES)]  # each row meets all
    if dtype == "float32" and "eps" in rule:
        # Adam divides by sqrt(v): a gradient entry at float32's rounding level (a sum that cancels) takes
        # a step of about lr in a direction set by rounding, in the oracle and in loopnet alike. An eps well
        # above that level keeps such entries' steps small; float64 keeps the rule's own eps.
        rule = {**rule, "eps": max(rule["eps"], 1e-4 * gmax)}
    where = f"{row.name} {dtype} {hidden}/{out}/{loss} {rule}"
    rng = np.random.default_rng(k)
    w = rng.integers(0, 4, row.N).astype(np.float64)
    w[k % row.N] = 3.0
    Xv, Yv = X[::-1] * 0.5, Y[::-1]
    if OUTPUT_LOSS.index((out, loss)) % 2:  # a few validation rows: the tiny path's loops, on any route
        Xv, Yv = Xv[:2], Yv[:2]
    B = row.N if row.batch is None else min(row.batch, row.N)
    base = 0.01 if rule["kind"] != "sgd" else 0.05 * B / (row.N * gmax)
    if out == "exp":
        grads = ref_gradients(weights, acts, loss, X, Y, w)
        if "eps" in rule:  # Adam's first steps go along sign(g), each entry by about lr
            base = exp_safe(base, out, weights, acts, X, [(np.sign(gW), np.sign(gb)) for gW, gb in grads])
        else:
            base = exp_safe(base, out, weights, acts, X, grads, row.N / B)
    lrs = np.array([base, base / 2])
    net, gen = build(row, hidden, out, loss, dtype, weights)
    state = next_fit_seed(gen)
    after, want_h, want_v = ref_train(weights, acts, loss, X, Y, lrs, row.batch, state, rule, w, Xv=Xv, Yv=Yv)
    tol = tolerances(dtype)["fit"]
    if dtype == "float32":  # how far float32 arithmetic alone moves the oracle (see check_case)
        f32 = [(W.astype(np.float32), b.astype(np.float32)) for W, b in weights]
        X32, Y32, w32 = X.astype(np.float32), Y.astype(np.float32), w.astype(np.float32)
        a32, _, _ = ref_train(f32, acts, loss, X32, Y32, lrs.astype(np.float32), row.batch, state, rule, w32)
        tol = max(tol, 20 * max(rel_err(a, b) for p32, p in zip(a32[-1], after[-1]) for a, b in zip(p32, p)))
    history = net.fit(X, Y, epochs=2, batch_size=row.batch, optimizer=make_optimizer(rule, lrs[0]),
                      schedule=lrs, sample_weight=w, validation=(Xv, Yv), l2=rule.get("l2", 0.0),
                      early_stopping=loopnet.EarlyStopping(patience=5))  # fmt: skip
    assert history.stopped == "completed", where
    np.testing.assert_array_equal(history["lr"], lrs, err_msg=where)
    assert rel_err(history["loss"], want_h) <= tol, f"{where}: loss history"
    assert rel_err(history["val_loss"], want_v) <= tol, f"{where}: validation loss history"
    best = int(np.argmin(history["val_loss"]))
    assert history.best_epoch == best, where
    assert_weights(net, after[best], tol, f"{where}: restored best epoch {best}")


def check_early_stop(row: Row, dtype: str) -> None:
    """A min_delta no epoch can beat: stops after epoch 1 (patience 1), back at epoch 0's parameters."""
    weights, X, Y, acts, _ = make_case(row, "tanh", "identity", "mse", dtype)
    net, gen = build(row, "tanh", "identity", "mse", dtype, weights)
    state = next_fit_seed(gen)
    rule = RULES[1]
    ones = np.ones(row.N)
    after, want_h, _ = ref_train(weights, acts, "mse", X, Y, [0.01] * 2, row.batch, state, rule, ones)
    stop = loopnet.EarlyStopping(patience=1, min_delta=1e300, monitor="loss")
    history = net.fit(X, Y, epochs=5, batch_size=row.batch, optimizer=make_optimizer(rule, 0.01),
                      early_stopping=stop)  # fmt: skip
    tol = 20 * tolerances(dtype)["fit"]
    assert history.stopped == "early_stopping" and history.best_epoch == 0, row.name
    assert rel_err(history["loss"], want_h) <= tol, f"{row.name}: loss history"
    assert_weights(net, after[0], tol, f"{row.name} {dtype}: early stopping's restore")


def check_divergence(row: Row, dtype: str) -> None:
    """A learning rate of 1e30 from the third epoch on: DivergenceError, back at the last finite epoch."""
    weights, X, Y, acts, _ = make_case(row, "identity", "identity", "mse", dtype)
    net, gen = build(row, "identity", "identity", "mse", dtype, weights)
    state = next_fit_seed(gen)
    lrs = np.array([1e-3, 1e-3] + [1e30] * 8)
    with pytest.raises(loopnet.DivergenceError) as caught:
        net.fit(X, Y, epochs=len(lrs), batch_size=row.batch, schedule=lrs, optimizer=loopnet.SGD(1e-3))
    err = caught.value
    assert 2 <= err.epoch < len(lrs) and err.history.stopped == "diverged", row.name
    assert "epoch" in str(err) and "smaller learning rate" in str(err)
    assert len(err.history["loss"]) == err.epoch and np.all(np.isfinite(err.history["loss"]))
    assert np.all(np.isfinite(net.params)), f"{row.name}: the diverged parameters were kept"
    rule = {"kind": "sgd"}
    ones = np.ones(row.N)
    after, _, _ = ref_train(weights, acts, "mse", X, Y, lrs[: err.epoch], row.batch, state, rule, ones)
    assert_weights(net, after[-1], 20 * tolerances(dtype)["fit"], f"{row.name} {dtype}: after divergence")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_early_stopping_and_divergence_on_every_route(row, dtype):
    check_early_stop(row, dtype)
    check_divergence(row, dtype)


@pytest.mark.parametrize("hidden, out, loss", COMBOS, ids=["/".join(c) for c in COMBOS])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_route_against_the_oracles(row, dtype, hidden, out, loss):
    check_case(row, hidden, out, loss, dtype)


def torch_gradients(weights, acts, loss, X, Y):
    """PyTorch autograd on the same network in float64, the losses as docs/design.md writes them in torch."""
    torch = import_torch()
    F = torch.nn.functional
    act = {"identity": lambda z: z, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
           "leaky_relu": lambda z: F.leaky_relu(z, LEAKY),
           "softmax": lambda z: torch.softmax(z, dim=1), "exp": torch.exp}  # fmt: skip
    params = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)) for W, b in weights]
    a = torch.tensor(X)
    for (W, b), name in zip(params, acts):
        z = a @ W + b
        a = act[name](z)
    target = torch.tensor(Y)
    L = {
        "sse": lambda: 0.5 * F.mse_loss(a, target, reduction="sum"),
        "mse": lambda: F.mse_loss(a, target),
        "bce": lambda: F.binary_cross_entropy(a, target),
        "cross_entropy": lambda: F.cross_entropy(z, target),  # logits, class probabilities as targets
        # on the logits; the half deviance's constant mean(y ln y - y) moves the value, not the gradient
        "poisson": lambda: F.poisson_nll_loss(z, target, log_input=True, full=False),
    }[loss]()
    L.backward()
    return [(W.grad.numpy(), b.grad.numpy()) for W, b in params]


@pytest.mark.parametrize("hidden, out, loss", COMBOS, ids=["/".join(c) for c in COMBOS])
@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_route_against_pytorch_and_the_twin(row, hidden, out, loss):
    """float64 gradients of every route against PyTorch's autograd (skipped without it) and the twin's."""
    weights, X, Y, acts, _ = make_case(row, hidden, out, loss, "float64")
    want = torch_gradients(weights, acts, loss, X, Y)
    twin_row = Row(row.name, "numpy", row.sizes, row.N, row.batch, "numpy")
    twin, _ = build(twin_row, hidden, out, loss, "float64", weights)
    net, _ = build(row, hidden, out, loss, "float64", weights)
    gmax = max(np.abs(g).max() for pair in want for g in pair)
    for got in (net.gradients(X, Y), twin.gradients(X, Y)):
        for (dW, db), (tW, tb) in zip(got, want):
            assert np.abs(dW - tW).max() <= 1e-10 * gmax and np.abs(db - tb).max() <= 1e-10 * gmax


def test_the_oracle_backward_pass_is_the_gradient_of_the_oracle_loss():
    """The independent backward pass above against central differences, every parameter, every combination.

    Small networks [3, 4, 3] and [2, 3, 3, 2], data clear of the kinks by the step used (checked).
    """
    for sizes, (hidden, out, loss) in itertools.product(((3, 4, 3), (2, 3, 3, 2)), COMBOS):
        row = Row("oracle", "numpy", sizes, 5, None, "numpy")
        weights, X, Y, acts, _ = make_case(row, hidden, out, loss, "float64")
        weights = [(W + 0.05, b + 0.05) for W, b in weights]  # no unit on the kink here
        want = ref_gradients(weights, acts, loss, X, Y)
        h = 1e-6
        zs, _ = ref_forward(weights, acts, X)
        assert all(np.abs(z).min() > 1e-4 for z, act in zip(zs, acts) if act in KINKED), "too near a kink"
        for l, q in itertools.product(range(len(weights)), (0, 1)):
            for idx in np.ndindex(weights[l][q].shape):
                step = [[W.copy(), b.copy()] for W, b in weights]
                step[l][q][idx] += h
                up = ref_total_loss(step, acts, loss, X, Y)
                step[l][q][idx] -= 2 * h
                down = ref_total_loss(step, acts, loss, X, Y)
                fd = (up - down) / (2 * h)
                assert abs(want[l][q][idx] - fd) <= 1e-7 * max(1.0, abs(fd)), (sizes, hidden, out, loss, l, q)


# --- threads, for real ---------------------------------------------------------------------------

THREADED = [row for row in ROWS if any(r.endswith(":threaded") for r in routes(row))]


@pytest.fixture
def restore_threads():
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


def _cpu_of_other_threads(call) -> tuple[float, float]:
    """(CPU seconds of this thread, CPU seconds of every other thread of the process) spent in ``call``."""
    own, total = time.thread_time(), time.process_time()
    call()
    own, total = time.thread_time() - own, time.process_time() - total
    return own, total - own


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="NUMBA_NUM_THREADS < 2: no second thread")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("row", THREADED, ids=[row.name for row in THREADED])
def test_threaded_routes_run_on_two_threads_and_equal_one_thread_bit_for_bit(row, dtype, restore_threads):
    combo = ("tanh", "softmax", "cross_entropy")
    weights, X, Y, _, _ = make_case(row, *combo, dtype)
    results = {}
    for threads in (1, 2):
        numba.set_num_threads(threads)
        net, _ = build(row, *combo, dtype, weights)
        history = net.fit(X, Y, epochs=2, lr=0.05, batch_size=row.batch)
        results[threads] = (net.forward(X), net.gradients(X, Y), net.params.copy(), history["loss"])
        # Long enough to measure: CPU time that other threads spent inside the call means Numba's pool ran
        # the prange drivers (only compiled parallel code starts it; a one-thread fit never does).
        own, others = _cpu_of_other_threads(partial(net.fit, X, Y, epochs=60, lr=1e-9, batch_size=row.batch))
        if threads == 2:
            assert others > 0.1 * own, f"other threads ran {others:.4f} s against {own:.4f} s: one thread?"
    (f1, g1, p1, h1), (f2, g2, p2, h2) = results[1], results[2]
    np.testing.assert_array_equal(f1, f2)  # every element summed by one thread in one order, any count
    for (dW1, db1), (dW2, db2) in zip(g1, g2):
        np.testing.assert_array_equal(dW1, dW2)
        np.testing.assert_array_equal(db1, db2)
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(h1, h2)
    twin, _ = build(Row(row.name, "numpy", row.sizes, row.N, row.batch, "numpy"), *combo, dtype, weights)
    twin_history = twin.fit(X, Y, epochs=2, lr=0.05, batch_size=row.batch)["loss"]
    tol = tolerances(dtype)["fit"]
    assert rel_err(p2, twin.params) <= tol and rel_err(h2, twin_history) <= tol


# --- every line of the kernels runs in some row ------------------------------------------------------

SCALED = {"P": 20, "S": 12, "T": 4096, "M": 256}
"""The constants for the plain-Python run: the same routes, at sizes plain Python gets through quickly."""

KERNEL_MODULES = ("fast", "kernels", "kernels_np", "activations")

NOT_REACHED = {
    # function: why no call of the public API reaches it (each is tested on its own elsewhere)
    "fast.abt_product": "the product core alone, for benchmarks and test_fast.py's BLAS comparison",
    "fast.abt_product_par": "the product core alone, threaded, for benchmarks and test_fast.py",
    "fast.tanh_approx": "tanh for one number; the kernels run its two halves as two passes (test_fast.py)",
    "fast.dense_forward": "registry adapter: the fast F1 with plain F1's signature (test_kernels.py)",
    "fast.activate": "registry adapter (test_kernels.py)",
    "fast.backprop_delta": "registry adapter (test_kernels.py)",
    "fast.weight_grad": "registry adapter (test_kernels.py)",
    "fast.bias_grad": "registry adapter (test_kernels.py)",
    "fast.sgd_update": "registry adapter (test_kernels.py)",
    "fast.momentum_update": "registry adapter (test_kernels.py)",
    "fast.adam_update": "registry adapter (test_kernels.py)",
    "fast._update_flat": "the registry adapters' common part (test_kernels.py)",
    "activations.code_of": "name validation, before any kernel (test_api.py)",
}
VALUE_BRANCHES = {
    ("kernels.batch_penalty", "run.batch_losses[b, 0] = batch_loss"):
        "batch losses are recorded for the estimators only: test_kernels.py (train_epochs records them in "
        "its registry entry) and test_estimators.py (loss_curve_ against scikit-learn's, both backends)",
    ("kernels.batch_penalty", "run.batch_losses[b, 1] = penalty"): "as the line above",
    ("kernels_np.train_epochs_np", "run.batch_losses[start // B] = batch_loss, penalty"):
        "as the lines above",
    # (function, line): a branch taken by values, not by sizes, threads or dtypes; where it is tested
    ("fast.exp_approx", "t = _EXP_MIN"): "x < -708: test_fast.py::test_exp_approx_edges",
    ("fast.exp_approx", "t = _EXP_MAX"): "x > 709.78: test_fast.py::test_exp_approx_edges",
    ("fast.exp_approx", "y = 0.0"): "x < -708: test_fast.py::test_exp_approx_edges",
    ("fast.exp_approx", "y = np.inf"): "x > 709.78: test_fast.py::test_exp_approx_edges",
    ("fast._small", "raise ValueError(f\"unknown path {path!r}; expected one of {', '.join(PATHS)}\")"):
        "a bad path name: test_fast.py::test_path_names_are_checked",
    ("kernels.all_finite", "return False"):
        "an overflow with a finite loss: test_training.py::test_an_overflowing_parameter_stops_training",
}  # fmt: skip

COVERAGE_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
import numba
from loopnet import fast
import test_paths as tp
assert numba.config.DISABLE_JIT and numba.get_num_threads() >= 2
scaled = json.loads(sys.argv[2])
fast.PANEL, fast.SHORT_K, fast.PARALLEL_MIN_WORK, fast.SMALL_MAX_WORK = (scaled[k] for k in "PSTM")
files = {sys.modules["loopnet." + name].__file__ for name in tp.KERNEL_MODULES}
ran = set()

def local(frame, event, arg):
    if event == "line":
        ran.add((frame.f_code.co_filename, frame.f_lineno))
    return local

def tracer(frame, event, arg):
    return local if frame.f_code.co_filename in files else None

rows = tp.matrix_rows(**scaled)
sys.settrace(tracer)
for row in rows:  # every output/loss pair once per row, the hidden activations in turn
    for k, (out, loss) in enumerate(tp.OUTPUT_LOSS):
        tp.check_case(row, tp.HIDDEN[k % len(tp.HIDDEN)], out, loss, "float64")
    tp.check_early_stop(row, "float64")
    tp.check_divergence(row, "float64")
sys.settrace(None)
print("RAN", json.dumps({"ran": sorted(ran), "routes": sorted(set().union(*map(tp.routes, rows)))}))
"""


def kernel_lines() -> dict[tuple[str, int], tuple[str, str]]:
    """(file, line) -> (function, source text) for every line of every function of the kernel modules."""
    out = {}
    for name in KERNEL_MODULES:
        module = importlib.import_module(f"loopnet.{name}")
        source = inspect.getsource(module).splitlines()
        for attr, obj in vars(module).items():
            fn = getattr(obj, "py_func", obj)
            if not inspect.isfunction(fn) or fn.__module__ != module.__name__:
                continue
            if f"{name}.{attr}" in NOT_REACHED:
                continue
            code = fn.__code__
            for _, line in dis.findlinestarts(code):
                if line and line != code.co_firstlineno:
                    out[(code.co_filename, line)] = (f"{name}.{attr}", source[line - 1].strip())
    return out


def test_every_kernel_line_runs_in_some_row():
    """The matrix, run as plain Python at scaled-down constants, executes every line the public API can reach.

    A new branch (a new path, a new threshold, a new driver) that no row takes fails here with its lines.
    """
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "NUMBA_NUM_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-c", COVERAGE_SCRIPT, os.path.dirname(__file__), json.dumps(SCALED)],
        env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.split("RAN", 1)[1])
    ran = {tuple(item) for item in report["ran"]}
    assert set(report["routes"]) >= ALL_ROUTES, "the scaled rows left a route"
    missed = {
        key: where for key, where in kernel_lines().items() if key not in ran and where not in VALUE_BRANCHES
    }
    listing = "\n".join(f"  {func} line {line}: {text}" for (_, line), (func, text) in sorted(missed.items()))
    assert not missed, f"lines of the kernels no row of the matrix runs:\n{listing}"
    assert all(where in {v for k, v in kernel_lines().items() if k not in ran} for where in VALUE_BRANCHES)


def test_no_compiled_function_reads_the_threshold_the_tests_patch():
    """Numba freezes a global's value when it compiles, and cache=True keeps it on disk: a compiled
    function reading fast.SMALL_MAX_WORK, first compiled while a loops-blocked test had patched it to -1,
    sent every tiny validation set down the blocked loops in every later process (found when
    test_properties' float32 test failed on a val_loss one float32 rounding off loss())."""
    from numba.core.registry import CPUDispatcher

    readers = []
    for module in (fast, importlib.import_module("loopnet.kernels")):
        for name, obj in vars(module).items():
            if isinstance(obj, CPUDispatcher) and "SMALL_MAX_WORK" in obj.py_func.__code__.co_names:
                readers.append(f"{module.__name__}.{name}")
    assert readers == []
    assert fast._SMALL_MAX_WORK_COMPILED == fast.SMALL_MAX_WORK  # the same threshold when nothing patches it
