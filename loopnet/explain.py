"""``loopnet explain``: one training step of a network, printed in the matrix-only article's order.

>>> import loopnet
>>> from loopnet import datasets
>>> from loopnet.explain import explain
>>> net = loopnet.Network([2, 2, 1], activation="sigmoid", loss="sse", seed=0)
>>> X, Y = datasets.and_gate()
>>> record = explain(net, X, Y, lr=2.0)
>>> [step.tag for step in record.steps]
['F1', 'F2', 'F1', 'F2', 'L', 'B1', 'B3', 'B4', 'B2', 'B3', 'B4', 'U1', 'L']
>>> bool(record.loss_after < record.loss_before)
True

One step is full-batch plain SGD on (X, Y), run by the plain kernels of
``loopnet/kernels.py`` called one equation at a time on per-layer arrays, in
the order ``kernels.forward_pass`` and ``kernels.backward_pass`` call them:
F1 and F2 for every layer, the loss, B1 at the output, then from the last layer
down B3, B4 and (below the first layer) B2, then U1, the update of every
parameter at once, and the loss again with the new weights. That is the
article's order (seed 000: forward Steps 1-4, backprop Steps 1-13), except that
the article updates w2 at its Step 7, before Step 8 uses it; loopnet updates
after every gradient exists (docs/design.md).

The step runs on a copy of the parameters: the network is not changed. The
record holds a copy of every array each kernel read or wrote, the kernel's file
and line range (read from its source by ``inspect``, so they follow the code),
and prints them with :meth:`Explanation.format`. With ``sample=n`` the text also
follows row n of X unit by unit, each number written out.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from dataclasses import dataclass, field

import numpy as np

from . import kernels
from .activations import ACTIVATIONS, EXP, HIDDEN_ACTIVATIONS, SIGMOID, SOFTMAX, derivative_scalar
from .losses import BCE, CROSS_ENTROPY, LOSSES, MSE, OUTPUT_ACTIVATIONS, POISSON, SSE
from .losses import NAMES as LOSS_NAMES

DEFAULT_LR = 0.5
"""The learning rate of :func:`explain` when none is given: ``Network.fit``'s own default."""

AND_GATE_LR = 2.0
"""The learning rate of ``loopnet explain``: seed 000's AND demo (``loopnet demo and``)."""

DEFAULT_MAX_VALUES = 24
"""Arrays with more values than this are abbreviated when printed; also the most units, terms or
parameters written out one by one with ``sample``."""

DIGITS = 10
"""Significant digits of every printed number (a test reads them back at 1e-9 relative)."""

SYNTHETIC_ROWS = 4
"""Rows of the made-up data ``loopnet explain`` uses when --sizes do not fit the AND gate."""

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(kernels.__file__)))

_FORMULA = {
    "identity": "z",
    "sigmoid": "1 / (1 + exp(-z))",
    "tanh": "tanh(z)",
    "relu": "max(z, 0)",
    "leaky_relu": "z if z > 0 else 0.01 z",
    "exp": "exp(z)",
}
_DERIVATIVE = {
    "identity": "1",
    "sigmoid": "a (1 - a)",
    "tanh": "1 - a^2",
    "relu": "1 if z > 0 else 0",
    "leaky_relu": "1 if z > 0 else 0.01",
    "exp": "a",
}
_LOSS_EQUATION = {
    SSE: "L = 1/2 sum_n sum_k (a[n, k] - y[n, k])^2;  l[n] = 1/2 sum_k (a - y)^2, L = sum_n l[n]",
    MSE: "L = mean over n and k of (a[n, k] - y[n, k])^2;  l[n] = sum_k (a - y)^2 / K, L = mean_n l[n]",
    BCE: "L = -mean over n and k of [y ln a + (1 - y) ln(1 - a)];  l[n] = -sum_k [...] / K, L = mean_n l[n]  "
    "(computed from z: max(z, 0) - y z + ln(1 + exp(-|z|)))",
    CROSS_ENTROPY: "L = -1/N sum_n sum_k y[n, k] ln a[n, k];  l[n] = -sum_k y ln a, L = mean_n l[n]  "
    "(computed from z: y (logsumexp_k z - z))",
    POISSON: "L = mean over n and k of y ln(y / a) - y + a  (y ln(y / a) = 0 where y = 0);  "
    "l[n] = sum_k [...] / K, L = mean_n l[n]",
}


# --- the record ---------------------------------------------------------------------------------------------


@dataclass
class Step:
    """One kernel call of the step: what it computes, where its code is, and the arrays it read and wrote."""

    tag: str  # F1, F2, B1-B4 and U1 as in docs/design.md; L for the loss
    article: str  # the step of the matrix-only article (seed 000) it mirrors
    title: str  # the equation with this layer's names, e.g. "z1 = X @ W1 + b1"
    equation: str  # the equation in index form, as docs/design.md writes it
    kernel: str  # the function of loopnet/kernels.py that computed it
    file: str  # its file, relative to the directory holding the package: "loopnet/kernels.py"
    first_line: int  # the line of its ``def``
    last_line: int  # the last line of its body
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # name -> copy, in the order printed
    layer: int | None = None  # the weight layer, counted from 1 as the article does; None for U1

    @property
    def where(self) -> str:
        """``file:first-last``."""
        return f"{self.file}:{self.first_line}-{self.last_line}"


@dataclass
class Explanation:
    """One training step of a network, kernel by kernel. ``str()`` prints it (see :meth:`format`)."""

    sizes: tuple[int, ...]
    activations: tuple[str, ...]  # one per weight layer, the output's last
    loss: str
    X: np.ndarray  # (N, n0)
    Y: np.ndarray  # (N, nL)
    lr: float
    sample: int | None  # the row followed unit by unit, or None
    steps: list[Step]
    loss_before: float
    loss_after: float
    weights_before: list[tuple[np.ndarray, np.ndarray]]  # [(W, b), ...] as Network.weights
    gradients: list[tuple[np.ndarray, np.ndarray]]  # [(dW, db), ...] as Network.gradients
    weights_after: list[tuple[np.ndarray, np.ndarray]]

    def __str__(self) -> str:
        return self.format()

    def format(
        self, max_values: int = DEFAULT_MAX_VALUES, *, sample: int | None = None, digits: int = DIGITS
    ) -> str:
        """The step as text: each kernel call with its equation, code location and arrays.

        Arrays of at most ``max_values`` values are printed in full; bigger ones show their shape and
        their first rows and columns, with ``...`` for the rest. ``sample`` (default: the one the record
        was made with) follows one row of X unit by unit, every number written out; it shows at most
        ``max_values`` units, terms or parameters of each kind. Numbers have ``digits`` significant digits.
        """
        for name, value, low in (("max_values", max_values, 1), ("digits", digits, 1)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
        sample = self.sample if sample is None else _check_sample(sample, self.X.shape[0])
        text = _Text(self, int(max_values), int(digits), sample)
        return text.render()


# --- running the step ---------------------------------------------------------------------------------------


def kernel_source(fn) -> tuple[str, int, int]:
    """Where kernel ``fn`` is written: (file relative to the package's parent, def line, last line)."""
    py_func = getattr(fn, "py_func", fn)  # a Numba dispatcher, or the function itself under NUMBA_DISABLE_JIT
    lines, start = inspect.getsourcelines(py_func)
    skip = next(k for k, line in enumerate(lines) if line.lstrip().startswith("def "))  # decorators
    path = os.path.relpath(inspect.getsourcefile(py_func), _ROOT).replace(os.sep, "/")
    return path, start + skip, start + len(lines) - 1


def _check_sample(sample, rows: int) -> int:
    if isinstance(sample, bool) or not isinstance(sample, int | np.integer):
        raise TypeError(
            f"sample must be a row number of X (an integer), got {type(sample).__name__} {sample!r}"
        )
    if not 0 <= sample < rows:
        raise ValueError(f"sample must be a row of X, 0 to {rows - 1}; got {sample}")
    return int(sample)


def explain(net, X, Y, *, lr: float = DEFAULT_LR, sample: int | None = None) -> Explanation:
    """One step of full-batch plain SGD of ``net`` on (X, Y), kernel by kernel; ``net`` is not changed.

    Parameters
    ----------
    net : loopnet.Network
    X : array of shape (N, n0)
    Y : array of shape (N, nL), or (N,) for one output
    lr : float
        The learning rate of the update ``w -= lr * dw`` (default 0.5, as ``Network.fit``).
    sample : int, optional
        A row of X to follow unit by unit when the record is printed.

    Returns
    -------
    Explanation
        Its steps and their arrays; ``loss_before`` equals ``net.loss(X, Y)``, ``gradients`` equals
        ``net.gradients(X, Y)`` and ``weights_after`` the weights after
        ``net.fit(X, Y, epochs=1, lr=lr, shuffle=False)``. ``print(record)`` shows it.
    """
    from ._validation import check_positive_float
    from .network import Network

    if not isinstance(net, Network):
        raise TypeError(f"net must be a loopnet.Network, got {type(net).__name__}")
    X, Y = net._check_XY(X, Y)
    lr = check_positive_float(lr, "lr")
    N = X.shape[0]
    if sample is not None:
        sample = _check_sample(sample, N)
    sizes, acts, loss_code = net._sizes, net._acts, net._loss_code
    L = net.n_layers
    names = net.activations
    params = net.params.copy()  # the step's own copy: net.params is never written
    grads = np.zeros_like(params)
    sw = np.ones(N)  # no sample weights: each row counts once
    steps: list[Step] = []

    def add(tag, article, title, equation, fn, arrays, layer):
        path, first, last = kernel_source(fn)
        copies = {name: np.array(value, copy=True) for name, value in arrays.items()}
        steps.append(Step(tag, article, title, equation, fn.__name__, path, first, last, copies, layer))

    def a_name(l: int) -> str:  # the input of weight layer l (1-based)
        return "X" if l == 1 else f"a{l - 1}"

    # Forward: F1 then F2, layer by layer (kernels.forward_pass).
    zs, outs = [], []
    a_prev = X
    for l in range(1, L + 1):
        W, b = kernels.param_views(params, sizes, l - 1)
        z = np.empty((N, sizes[l]), dtype=params.dtype)
        kernels.dense_forward(a_prev, W, b, z)
        step1, step2 = _forward_steps(l, L)
        add("F1", step1, f"layer {l}: z{l} = {a_name(l)} @ W{l} + b{l}",
            "z[n, j] = b[j] + sum_i a_prev[n, i] * W[i, j]      (z = a_prev @ W + b)",
            kernels.dense_forward, {a_name(l): a_prev, f"W{l}": W, f"b{l}": b, f"z{l}": z}, l)  # fmt: skip
        a = np.empty_like(z)
        kernels.activate(acts[l - 1], z, a)
        add("F2", step2, f"layer {l}: a{l} = {names[l - 1]}(z{l})", _activation_equation(names[l - 1]),
            kernels.activate, {f"z{l}": z, f"a{l}": a}, l)  # fmt: skip
        zs.append(z)
        outs.append(a)
        a_prev = a

    # The loss of the batch, and each row's share (loss_value on that row alone).
    loss_before = float(kernels.loss_value(loss_code, zs[-1], outs[-1], Y, sw))
    rows = _row_losses(loss_code, zs[-1], outs[-1], Y)
    add("L", _loss_article(net.loss_name), f"loss {net.loss_name} of a{L} against Y",
        _LOSS_EQUATION[loss_code], kernels.loss_value,
        {f"z{L}": zs[-1], f"a{L}": outs[-1], "Y": Y, "l": rows, "loss": loss_before}, L)  # fmt: skip

    # Backward: B1 at the output, then B3, B4 and B2 from the last layer down (kernels.backward_pass).
    deltas: list[np.ndarray | None] = [None] * L
    deltas[-1] = np.empty_like(zs[-1])
    kernels.output_delta(loss_code, acts[-1], zs[-1], outs[-1], Y, sw, deltas[-1])
    add("B1", "backprop Steps 1-2", f"delta{L} = dL/da{L} * f'(z{L}) at the output",
        _output_delta_equation(loss_code, names[-1]), kernels.output_delta,
        {f"z{L}": zs[-1], f"a{L}": outs[-1], "Y": Y, f"delta{L}": deltas[-1]}, L)  # fmt: skip
    for l in range(L, 0, -1):
        delta = deltas[l - 1]
        dW, db = kernels.param_views(grads, sizes, l - 1)
        a_prev = X if l == 1 else outs[l - 2]
        kernels.weight_grad(a_prev, delta, dW)
        add("B3", _backprop_article("B3", l, L), f"layer {l}: dW{l} = {a_name(l)}^T @ delta{l}",
            "dW[i, j] = sum_n a_prev[n, i] * delta[n, j]      (dW = a_prev^T @ delta)", kernels.weight_grad,
            {a_name(l): a_prev, f"delta{l}": delta, f"dW{l}": dW}, l)  # fmt: skip
        kernels.bias_grad(delta, db)
        add("B4", _backprop_article("B4", l, L), f"layer {l}: db{l} = delta{l} summed over the samples",
            "db[j] = sum_n delta[n, j]      (dz/db = 1)", kernels.bias_grad,
            {f"delta{l}": delta, f"db{l}": db}, l)  # fmt: skip
        if l > 1:
            W, _ = kernels.param_views(params, sizes, l - 1)
            deltas[l - 2] = np.empty_like(zs[l - 2])
            kernels.backprop_delta(delta, W, acts[l - 2], zs[l - 2], outs[l - 2], deltas[l - 2])
            add("B2", _backprop_article("B2", l, L),
                f"delta{l - 1} = (delta{l} @ W{l}^T) * f'(z{l - 1}), back through layer {l}",
                "delta_prev[n, i] = (sum_j delta[n, j] * W[i, j]) * f'_prev(z_prev[n, i])   "
                f"(uses W BEFORE its update; f' of {names[l - 2]} = {_DERIVATIVE[names[l - 2]]})",
                kernels.backprop_delta,
                {f"delta{l}": delta, f"W{l}": W, f"z{l - 1}": zs[l - 2], f"a{l - 1}": outs[l - 2],
                 f"delta{l - 1}": deltas[l - 2]}, l - 1)  # fmt: skip

    # U1: every parameter at once, after every gradient exists.
    new = params.copy()
    kernels.sgd_update(new, grads, lr)
    update: dict[str, np.ndarray | float] = {"lr": lr}
    for l in range(1, L + 1):
        (W, b), (dW, db), (W_new, b_new) = (
            kernels.param_views(p, sizes, l - 1) for p in (params, grads, new)
        )
        update.update(
            {f"W{l}": W, f"dW{l}": dW, f"W{l}_new": W_new, f"b{l}": b, f"db{l}": db, f"b{l}_new": b_new}
        )
    add("U1", 'backprop Step 7 and the second "Step 12", done once at the end',
        "every layer: W_new = W - lr * dW, b_new = b - lr * db",
        "w -= lr * dw   for every weight and bias, once all of the step's gradients exist",
        kernels.sgd_update, update, None)  # fmt: skip

    # The loss again, after a forward pass with the new weights (kernels.forward_pass: F1, F2 per layer).
    zbuf = np.empty(N * int(sizes[1:].sum()), dtype=params.dtype)
    abuf = np.empty_like(zbuf)
    kernels.forward_pass(new, sizes, acts, X, zbuf, abuf)
    z_new = kernels.work_view(zbuf, sizes, L - 1, N)
    a_new = kernels.work_view(abuf, sizes, L - 1, N)
    loss_after = float(kernels.loss_value(loss_code, z_new, a_new, Y, sw))
    add("L", "not in the article: the loss again, after the update",
        f"loss {net.loss_name} of a{L}_new (forward_pass with the new weights) against Y",
        _LOSS_EQUATION[loss_code], kernels.loss_value,
        {f"z{L}_new": z_new, f"a{L}_new": a_new, "Y": Y, "l_new": _row_losses(loss_code, z_new, a_new, Y),
         "loss_new": loss_after}, L)  # fmt: skip

    def pairs(flat):
        return [tuple(v.copy() for v in kernels.param_views(flat, sizes, l)) for l in range(L)]

    return Explanation(
        sizes=tuple(net.sizes), activations=tuple(names), loss=net.loss_name, X=X.copy(), Y=Y.copy(),
        lr=lr, sample=sample, steps=steps, loss_before=loss_before, loss_after=loss_after,
        weights_before=pairs(params), gradients=pairs(grads), weights_after=pairs(new),
    )  # fmt: skip


def _row_losses(loss_code: int, z: np.ndarray, a: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """l[n]: loss_value of row n alone, whose L is the sum (sse) or the mean (the others) of these."""
    one = np.ones(1)
    return np.array([kernels.loss_value(loss_code, z[n : n + 1], a[n : n + 1], Y[n : n + 1], one)
                     for n in range(z.shape[0])])  # fmt: skip


def _forward_steps(l: int, L: int) -> tuple[str, str]:
    """The article's forward steps for F1 and F2 of weight layer l of L (it has one hidden layer)."""
    if L == 1:
        return "forward Step 1 (the only layer: also Step 3)", "forward Step 2 (the only layer: also Step 4)"
    if l == 1:
        return "forward Step 1", "forward Step 2"
    if l == L:
        return "forward Step 3", "forward Step 4"
    return (f"forward Step 3, for hidden layer {l} (the article has one)",
            f"forward Step 4's form, for hidden layer {l} (sigmoid in the article)")  # fmt: skip


def _backprop_article(tag: str, l: int, L: int) -> str:
    """The article's backprop steps for B2 (from layer l down), B3 and B4 (layer l), of L layers."""
    if tag == "B2":
        return "backprop Steps 8-9" if l == 2 else f"backprop Steps 8-9, from layer {l} to {l - 1}"
    output = {"B3": "backprop Steps 3 and 5", "B4": "backprop Steps 4 and 6"}[tag]
    first = {"B3": "backprop Steps 10 and 12", "B4": "backprop Steps 11 and 13"}[tag]
    if l == L:
        return output
    return first if l == 1 else f"{first}'s form, for hidden layer {l}"


def _loss_article(loss: str) -> str:
    if loss == "sse":
        return "Loss Function (the sum-of-squares error)"
    return f"Loss Function (here {loss}; the article's is the sum-of-squares error, sse)"


def _activation_equation(name: str) -> str:
    if name == "softmax":
        return "a[n, j] = exp(z[n, j] - m_n) / sum_k exp(z[n, k] - m_n),  m_n = max_k z[n, k]"
    return f"a[n, j] = f(z[n, j]),  f = {name}: f(z) = {_FORMULA[name]}"


def _output_delta_equation(loss_code: int, act: str) -> str:
    code = ACTIVATIONS[act]
    head = "delta_L = dL/da_L * f'(z_L); "
    if (loss_code == BCE and code == SIGMOID) or (loss_code == POISSON and code == EXP):
        return head + f"with {act} and {LOSS_NAMES[loss_code]}: delta[n, k] = (a[n, k] - y[n, k]) / (N K)"
    if loss_code == CROSS_ENTROPY and code == SOFTMAX:
        return head + ("with softmax and cross_entropy: delta[n, k] = (a[n, k] s_n - y[n, k]) / N,  "
                       "s_n = sum_k y[n, k]  (= (a - y) / N for one-hot rows)")  # fmt: skip
    scale = {SSE: "", MSE: " * 2 / (N K)"}.get(loss_code, "")
    g = f"(a[n, k] - y[n, k]){scale}"
    if code == SOFTMAX:
        return head + f"g = {g};  softmax's Jacobian: delta[n, k] = a[n, k] (g[n, k] - sum_q g[n, q] a[n, q])"
    return head + f"here delta[n, k] = {g} * f'(z[n, k]),  f' of {act} = {_DERIVATIVE[act]}"


# --- printing -----------------------------------------------------------------------------------------------


class _Text:
    """Builds the text of an Explanation (one object per format call)."""

    def __init__(self, record: Explanation, max_values: int, digits: int, sample: int | None):
        self.r = record
        self.max = max_values
        self.digits = digits
        self.sample = sample
        self.lines: list[str] = []
        self.previous: dict[str, np.ndarray] = {}  # the arrays the step above printed

    def num(self, x) -> str:
        return format(float(x), f".{self.digits}g")

    def par(self, x) -> str:
        """A number, in parentheses when negative (so it can follow an operator)."""
        s = self.num(x)
        return f"({s})" if s.startswith("-") else s

    def render(self) -> str:
        r = self.r
        N = r.X.shape[0]
        hidden = ", ".join(r.activations[:-1]) or "none"
        self.lines += [
            f"One training step of a {'-'.join(map(str, r.sizes))} network (hidden activation {hidden}, "
            f"output {r.activations[-1]}, loss {r.loss}):",
            f"full-batch plain SGD on {N} samples, lr {self.num(r.lr)}, step by step in the order of the "
            "matrix-only article (seed 000).",
            "Names: layer l has W{l}, b{l}; z{l} = a{l-1} @ W{l} + b{l} (a0 is X), a{l} = f(z{l}),",
            "delta{l} = dL/dz{l}; W{l}_new is W{l} after the update; l[n] is sample n's share of the loss.",
            "Arrays print row by row (row n is sample n); each kernel is a plain loop of loopnet/kernels.py.",
        ]
        if self.sample is not None:
            self.lines.append(f"Sample {self.sample} is followed unit by unit, its numbers written out.")
        self.lines.append("")
        for step in r.steps:
            self.step(step)
        change = r.loss_after - r.loss_before
        self.lines += [
            f"loss before the step: {self.num(r.loss_before)}",
            f"loss after the step:  {self.num(r.loss_after)}  (change {self.num(change)})",
        ]
        return "\n".join(self.lines) + "\n"

    def step(self, step: Step) -> None:
        self.lines += [
            f"[{step.tag}] {step.article} -- {step.title}",
            f"    equation  {step.equation}",
            f"    kernel    {step.kernel}, {step.file} lines {step.first_line}-{step.last_line}",
        ]
        printed = {}
        for name, value in step.arrays.items():
            seen = self.previous.get(name)  # only what the step above printed in full
            if seen is not None and seen.shape == value.shape and np.array_equal(seen, value):
                self.lines.append(f"    {name}  shape {self.shape(value)}: as in the step above")
            else:
                self.array(name, value)
                printed[name] = value
        self.previous = printed
        if self.sample is not None:
            entries = getattr(self, f"sample_{step.tag}_{step.kernel}")(step)
            if entries:
                self.lines.append(f"    sample {self.sample}:")
                for lhs, symbolic, numbers, value, note in entries:
                    self.lines.append(f"      {lhs} = {symbolic}")
                    pad = " " * (len(lhs) + 7)
                    if numbers != self.num(value):
                        self.lines.append(f"{pad}= {numbers}")
                    self.lines.append(f"{pad}= {self.num(value)}" + (f"    ({note})" if note else ""))
        self.lines.append("")

    @staticmethod
    def shape(arr: np.ndarray) -> str:
        return f"({arr.shape[0]},)" if arr.ndim == 1 else str(tuple(int(s) for s in arr.shape))

    def array(self, name: str, value) -> None:
        arr = np.asarray(value)
        if arr.ndim == 0:
            self.lines.append(f"    {name} = {self.num(arr)}")
            return
        shape = self.shape(arr)
        M = arr.reshape(1, -1) if arr.ndim == 1 else arr
        rows, cols = M.shape
        show_cols = min(cols, self.max)
        show_rows = rows if rows * show_cols <= self.max else max(1, self.max // show_cols)
        shown = "" if (show_rows, show_cols) == (rows, cols) else f", first {show_rows} x {show_cols} shown"
        self.lines.append(f"    {name}  shape {shape}{shown}")
        cells = [[self.num(v) for v in M[i, :show_cols]] for i in range(show_rows)]
        width = max(len(c) for row in cells for c in row)
        for row in cells:
            more = f"  ... {cols - show_cols} more" if show_cols < cols else ""
            self.lines.append("      [ " + "  ".join(c.rjust(width) for c in row) + more + " ]")
        if show_rows < rows:
            self.lines.append(f"      ... {rows - show_rows} more rows")

    # --- the sample, unit by unit: each method returns (lhs, symbolic, numbers, value, note) entries ---

    def terms(self, symbols: list[str], numbers: list[str], values: list[float]) -> tuple[str, str]:
        """A sum, the terms past max_values folded into one: "{k more terms: their sum}"."""
        if len(symbols) <= self.max:
            return " + ".join(symbols), " + ".join(numbers)
        k = len(symbols) - self.max
        rest = self.num(float(np.sum(values[self.max :])))
        return (" + ".join(symbols[: self.max]) + f" + ... ({k} more terms)",
                " + ".join(numbers[: self.max]) + f" + {{{k} more terms: {rest}}}")  # fmt: skip

    def fprime(self, act: str, z_sym: str, a_sym: str, z: float, a: float) -> tuple[str, str]:
        """f'(z) of one unit, symbolic and with numbers (the formulas of activations.derivative_scalar)."""
        if act == "sigmoid":
            return f"{a_sym} * (1 - {a_sym})", f"{self.par(a)} * (1 - {self.par(a)})"
        if act == "tanh":
            return f"(1 - {a_sym}^2)", f"(1 - {self.par(a)}^2)"
        if act == "exp":
            return a_sym, self.par(a)
        value = self.num(derivative_scalar(ACTIVATIONS[act], z, a))
        if act in ("relu", "leaky_relu"):  # the kink: which side z is on decides
            return f"{act}'({z_sym} = {self.num(z)})", value
        return "1", value  # identity

    def units(self, count: int) -> range:
        return range(min(count, self.max))

    def sample_F1_dense_forward(self, step: Step) -> list:
        n, l = self.sample, step.layer
        x_name = "X" if l == 1 else f"a{l - 1}"
        A, W, b, z = (step.arrays[k] for k in (x_name, f"W{l}", f"b{l}", f"z{l}"))
        out = []
        for j in self.units(z.shape[1]):
            symbols = [f"{x_name}[{n}, {i}] * W{l}[{i}, {j}]" for i in range(W.shape[0])]
            numbers = [f"{self.par(A[n, i])} * {self.par(W[i, j])}" for i in range(W.shape[0])]
            sym, num = self.terms(symbols, numbers, [A[n, i] * W[i, j] for i in range(W.shape[0])])
            out.append((f"z{l}[{n}, {j}]", f"b{l}[{j}] + {sym}", f"{self.par(b[j])} + {num}", z[n, j], ""))
        return out

    def sample_F2_activate(self, step: Step) -> list:
        n, l = self.sample, step.layer
        act = self.r.activations[l - 1]
        z, a = step.arrays[f"z{l}"], step.arrays[f"a{l}"]
        out = []
        m = float(np.max(z[n]))
        for j in self.units(z.shape[1]):
            zs = self.par(z[n, j])
            if act == "softmax":
                exps = [f"exp({self.num(z[n, k])} - {self.par(m)})" for k in range(z.shape[1])]
                total, total_num = self.terms([f"exp(z{l}[{n}, {k}] - m)" for k in range(z.shape[1])], exps,
                                              list(np.exp(z[n] - m)))  # fmt: skip
                sym = f"exp(z{l}[{n}, {j}] - m) / ({total}),  m = max_k z{l}[{n}, k] = {self.num(m)}"
                num = f"exp({self.num(z[n, j])} - {self.par(m)}) / ({total_num})"
            else:
                sym = f"{act}(z{l}[{n}, {j}])"
                num = {
                    "identity": zs,
                    "sigmoid": f"1 / (1 + exp(-{zs}))",
                    "tanh": f"tanh({self.num(z[n, j])})",
                    "relu": f"max({self.num(z[n, j])}, 0)",
                    "leaky_relu": zs if z[n, j] > 0 else f"0.01 * {zs}",
                    "exp": f"exp({self.num(z[n, j])})",
                }[act]
            out.append((f"a{l}[{n}, {j}]", sym, num, a[n, j], ""))
        return out

    def sample_L_loss_value(self, step: Step) -> list:
        n, L = self.sample, step.layer
        after = "loss_new" in step.arrays
        suffix = "_new" if after else ""
        a, Y = step.arrays[f"a{L}{suffix}"], step.arrays["Y"]
        rows = step.arrays["l_new" if after else "l"]
        K = a.shape[1]
        loss = self.r.loss
        sym_terms, num_terms = [], []
        for k in self.units(K):
            A, y = f"a{L}{suffix}[{n}, {k}]", f"Y[{n}, {k}]"
            av, yv = self.par(a[n, k]), self.par(Y[n, k])
            if loss in ("sse", "mse"):
                sym_terms.append(f"({A} - {y})^2")
                num_terms.append(f"({av} - {yv})^2")
            elif loss == "bce":
                sym_terms.append(f"{y} * ln({A}) + (1 - {y}) * ln(1 - {A})")
                num_terms.append(f"{yv} * ln({av}) + (1 - {yv}) * ln(1 - {av})")
            elif loss == "cross_entropy":
                sym_terms.append(f"{y} * ln({A})")
                num_terms.append(f"{yv} * ln({av})" if Y[n, k] != 0 else "0")
            else:  # poisson
                sym_terms.append(f"{y} * ln({y} / {A}) - {y} + {A}")
                num_terms.append(f"{yv} * ln({yv} / {av}) - {yv} + {av}" if Y[n, k] != 0 else av)
        if K > self.max:
            return []  # a row too wide to write out: the array l above holds it
        sym, num = " + ".join(sym_terms), " + ".join(num_terms)
        form = {
            "sse": (f"1/2 * ({sym})", f"1/2 * ({num})"),
            "mse": (f"({sym}) / {K}", f"({num}) / {K}"),
            "bce": (f"-({sym}) / {K}", f"-({num}) / {K}"),
            "cross_entropy": (f"-({sym})", f"-({num})"),
            "poisson": (f"({sym}) / {K}", f"({num}) / {K}"),
        }[loss]
        whole = "loss_new" if after else "loss"
        how = "the sum" if loss == "sse" else "the mean"
        note = (
            f"{whole} = {self.num(step.arrays[whole])} is {how} of l{suffix}[n] over the {a.shape[0]} samples"
        )
        return [(f"l{suffix}[{n}]", *form, rows[n], note)]

    def sample_B1_output_delta(self, step: Step) -> list:
        n, L = self.sample, step.layer
        z, a, Y, delta = (step.arrays[k] for k in (f"z{L}", f"a{L}", "Y", f"delta{L}"))
        N, K = a.shape
        act, code = self.r.activations[-1], LOSSES[self.r.loss]
        scale_sym = {SSE: "", MSE: " * 2 / (N K)"}.get(code, " / (N K)")
        scale_num = {SSE: "", MSE: f" * 2 / ({N} * {K})"}.get(code, f" / ({N} * {K})")
        out = []
        for k in self.units(K):
            A, y = f"a{L}[{n}, {k}]", f"Y[{n}, {k}]"
            av, yv = self.par(a[n, k]), self.par(Y[n, k])
            if (code == BCE and act == "sigmoid") or (code == POISSON and act == "exp"):
                sym, num = f"({A} - {y}){scale_sym}", f"({av} - {yv}){scale_num}"
            elif code == CROSS_ENTROPY and act == "softmax":
                s = self.num(np.sum(Y[n]))
                sym = f"({A} * s - {y}) / N,  s = sum_k Y[{n}, k] = {s}"
                num = f"({av} * {s} - {yv}) / {N}"
            elif act == "softmax":
                if K > self.max:
                    return []
                g = [f"({self.par(a[n, q])} - {self.par(Y[n, q])}){scale_num}" for q in range(K)]
                ga = " + ".join(f"{g[q]} * {self.par(a[n, q])}" for q in range(K))
                sym = (f"{A} * (g[{k}] - sum_q g[q] * a{L}[{n}, q]),  "
                       f"g[q] = (a{L}[{n}, q] - Y[{n}, q]){scale_sym}")  # fmt: skip
                num = f"{av} * ({g[k]} - ({ga}))"
            else:
                f_sym, f_num = self.fprime(act, f"z{L}[{n}, {k}]", A, z[n, k], a[n, k])
                sym = f"({A} - {y}){scale_sym} * {f_sym}"
                num = f"({av} - {yv}){scale_num} * {f_num}"
            out.append((f"delta{L}[{n}, {k}]", sym, num, delta[n, k], ""))
        return out

    def sample_B2_backprop_delta(self, step: Step) -> list:
        n, l = self.sample, step.layer  # l: the layer whose delta is computed, from layer l + 1
        act = self.r.activations[l - 1]
        d, W, z, a, out_delta = (step.arrays[k] for k in (f"delta{l + 1}", f"W{l + 1}", f"z{l}", f"a{l}",
                                                          f"delta{l}"))  # fmt: skip
        J = W.shape[1]
        out = []
        for i in self.units(W.shape[0]):
            symbols = [f"delta{l + 1}[{n}, {j}] * W{l + 1}[{i}, {j}]" for j in range(J)]
            numbers = [f"{self.par(d[n, j])} * {self.par(W[i, j])}" for j in range(J)]
            sym, num = self.terms(symbols, numbers, [d[n, j] * W[i, j] for j in range(J)])
            f_sym, f_num = self.fprime(act, f"z{l}[{n}, {i}]", f"a{l}[{n}, {i}]", z[n, i], a[n, i])
            out.append(
                (f"delta{l}[{n}, {i}]", f"({sym}) * {f_sym}", f"({num}) * {f_num}", out_delta[n, i], "")
            )
        return out

    def sample_B3_weight_grad(self, step: Step) -> list:
        n, l = self.sample, step.layer
        x_name = "X" if l == 1 else f"a{l - 1}"
        A, d, dW = step.arrays[x_name], step.arrays[f"delta{l}"], step.arrays[f"dW{l}"]
        I, J = dW.shape
        out = []
        for p in range(min(I * J, self.max)):
            i, j = divmod(p, J)
            note = f"dW{l}[{i}, {j}] = {self.num(dW[i, j])} sums the {A.shape[0]} samples' terms"
            out.append((f"sample {n}'s term of dW{l}[{i}, {j}]", f"{x_name}[{n}, {i}] * delta{l}[{n}, {j}]",
                        f"{self.par(A[n, i])} * {self.par(d[n, j])}", A[n, i] * d[n, j], note))  # fmt: skip
        return out

    def sample_B4_bias_grad(self, step: Step) -> list:
        n, l = self.sample, step.layer
        d, db = step.arrays[f"delta{l}"], step.arrays[f"db{l}"]
        out = []
        for j in self.units(db.shape[0]):
            note = f"db{l}[{j}] = {self.num(db[j])} sums the {d.shape[0]} samples' terms"
            out.append(
                (f"sample {n}'s term of db{l}[{j}]", f"delta{l}[{n}, {j}]", self.num(d[n, j]), d[n, j], note)
            )
        return out

    def sample_U1_sgd_update(self, step: Step) -> list:
        lr = self.num(step.arrays["lr"])
        out = []
        for l in range(1, len(self.r.sizes)):
            for name in (f"W{l}", f"b{l}"):
                old, grad, new = step.arrays[name], step.arrays[f"d{name}"], step.arrays[f"{name}_new"]
                for p in range(min(old.size, self.max)):
                    idx = np.unravel_index(p, old.shape)
                    at = ", ".join(map(str, idx))
                    numbers = f"{self.par(old[idx])} - {lr} * {self.par(grad[idx])}"
                    out.append(
                        (f"{name}_new[{at}]", f"{name}[{at}] - lr * d{name}[{at}]", numbers, new[idx], "")
                    )
        return out


# --- the command line ---------------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    parts = [part.strip() for part in text.split(",")]
    if any(part == "" for part in parts):
        raise argparse.ArgumentTypeError(
            f"expected layer widths separated by commas like 2,3,1; got {text!r}"
        )
    try:
        sizes = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected whole numbers separated by commas like 2,3,1; got {text!r}"
        ) from None
    if len(sizes) < 2:
        raise argparse.ArgumentTypeError(
            f"expected at least an input and an output width, like 2,1; got {text!r}"
        )
    if min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"every layer needs at least 1 unit; got {text!r}")
    return sizes


def _hidden_activations(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",")]
    for name in names:
        if name not in HIDDEN_ACTIVATIONS:
            raise argparse.ArgumentTypeError(
                f"{name!r} is not a hidden activation; expected one of {', '.join(HIDDEN_ACTIVATIONS)}"
            )
    return names


def _count(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected at least {minimum}, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def add_parser(sub) -> argparse.ArgumentParser:
    """Add the ``explain`` command to the CLI's subparsers; returns its parser."""
    p = sub.add_parser(
        "explain",
        help="print one training step, kernel by kernel, in the matrix-only article's order",
        description=(
            "Run one step of full-batch plain SGD (w -= lr * dw) with loopnet's plain kernels and print it "
            "in the order of the matrix-only article (seed 000): forward F1, F2 for each layer, the loss, "
            "backprop B1 at the output, then B3, B4 and B2 from the last layer down, the update U1 of "
            "every parameter, and the loss after it. Each step shows its tag (docs/design.md), the article's "
            "step, the equation, the kernel that computes it with its file and line range, and every array "
            "it reads and writes, with its shape (arrays with more than --max-values values abbreviated). "
            "By default: seed 000's AND network, Network([2, 2, 1], activation='sigmoid', loss='sse', "
            "seed=0) on the AND gate's 4 rows with lr 2.0, as `loopnet demo and` trains it."
        ),
        epilog=(
            "Data: the AND gate when the network has 2 inputs and 1 output; for any other --sizes, 4 rows "
            "made up from --seed (numpy default_rng(seed)): inputs 0 or 1, targets 0 or 1 for a sigmoid "
            "output, one-hot rows for softmax, counts 0-3 for exp, and numbers rounded to 2 decimals "
            "otherwise (uniform in [-1, 1] for tanh, normal for identity, relu and leaky_relu). "
            "Examples: loopnet explain --sample 3;  loopnet explain --sizes 2,3,3,1 --activation tanh "
            "--loss bce;  loopnet explain --sizes 4,5,3 --loss cross_entropy"
        ),
    )
    p.add_argument("--sizes", type=_sizes, default=[2, 2, 1], metavar="N0,N1,...",
                   help="units per layer, input first (default: 2,2,1)")  # fmt: skip
    p.add_argument(
        "--activation", type=_hidden_activations, default=["sigmoid"], metavar="NAME[,NAME...]",
        help=f"hidden activation, one for all hidden layers or one per hidden layer, of "
        f"{', '.join(HIDDEN_ACTIVATIONS)} (default: sigmoid)",
    )  # fmt: skip
    p.add_argument(
        "--output-activation", choices=list(ACTIVATIONS), metavar="NAME",
        help=f"output activation, of {', '.join(ACTIVATIONS)} (default: what --loss needs -- softmax for "
        "cross_entropy, exp for poisson -- else sigmoid)",
    )  # fmt: skip
    p.add_argument("--loss", choices=list(LOSSES), default="sse", metavar="NAME",
                   help=f"loss, of {', '.join(LOSSES)} (default: sse)")  # fmt: skip
    p.add_argument("--seed", type=lambda t: _count(t, 0), default=0,
                   help="seed of the initial weights (and of made-up data) (default: 0)")  # fmt: skip
    p.add_argument("--init", choices=["auto", "glorot", "he", "normal"], default="auto",
                   help="weight initialisation, as Network's init (default: auto)")  # fmt: skip
    p.add_argument("--lr", type=_positive_float, default=AND_GATE_LR,
                   help=f"learning rate of the step (default: {AND_GATE_LR:g}, the AND demo's)")  # fmt: skip
    p.add_argument(
        "--sample",
        type=lambda t: _count(t, 0),
        metavar="N",
        help="also follow row N of the data (from 0) unit by unit, numbers written out",
    )
    p.add_argument(
        "--max-values", type=lambda t: _count(t, 1), default=DEFAULT_MAX_VALUES, metavar="M",
        help=f"print arrays of at most M values in full, abbreviate bigger ones; with --sample, write out "
        f"at most M units, terms or parameters of each kind (default: {DEFAULT_MAX_VALUES})",
    )  # fmt: skip
    p.set_defaults(explain_parser=p)
    return p


def data_for(sizes, output_activation: str, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """The data ``loopnet explain`` steps on: (X, Y, a line saying what it is). See add_parser's epilog."""
    from . import datasets

    n0, nL = sizes[0], sizes[-1]
    if (n0, nL) == (2, 1):
        X, Y = datasets.and_gate()
        return X, Y, "data: the AND gate (seed 000), X (4, 2) and Y (4, 1)"
    rng = np.random.default_rng(seed)
    rows = SYNTHETIC_ROWS
    X = rng.integers(0, 2, (rows, n0)).astype(np.float64)
    if output_activation == "sigmoid":
        Y = rng.integers(0, 2, (rows, nL)).astype(np.float64)
    elif output_activation == "softmax":
        Y = np.eye(nL)[rng.integers(0, nL, rows)]
    elif output_activation == "exp":
        Y = rng.integers(0, 4, (rows, nL)).astype(np.float64)
    elif output_activation == "tanh":
        Y = np.round(rng.uniform(-1.0, 1.0, (rows, nL)), 2)
    else:
        Y = np.round(rng.standard_normal((rows, nL)), 2)
    note = (f"data: {rows} rows made up from seed {seed} (the AND gate needs 2 inputs and 1 output), "
            f"X ({rows}, {n0}) and Y ({rows}, {nL})")  # fmt: skip
    return X, Y, note


def main(args: argparse.Namespace) -> int:
    """Run ``loopnet explain``; the exit status (2, with the reason on stderr, for bad arguments)."""
    from .network import Network

    parser = getattr(args, "explain_parser", None)

    def fail(message: str) -> int:
        if parser is not None:
            parser.error(message)  # exits with status 2
        print(f"loopnet explain: error: {message}", file=sys.stderr)
        return 2

    output = args.output_activation
    if output is None:
        needed = OUTPUT_ACTIVATIONS[args.loss]
        output = needed[0] if needed else "sigmoid"
    activation = args.activation[0] if len(args.activation) == 1 else args.activation
    try:
        net = Network(args.sizes, activation=activation, output_activation=output, loss=args.loss,
                      seed=args.seed, init=args.init, backend="plain")  # fmt: skip
    except (TypeError, ValueError) as exc:
        return fail(str(exc))
    X, Y, note = data_for(net.sizes, output, args.seed)
    if args.sample is not None and args.sample >= X.shape[0]:
        return fail(f"--sample must be a row of the data, 0 to {X.shape[0] - 1}; got {args.sample}")
    record = explain(net, X, Y, lr=args.lr, sample=args.sample)
    try:
        print(note)
        print(record.format(max_values=args.max_values), end="")
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `loopnet explain | head`: stop quietly like other Unix tools
        sys.stderr.close()
    return 0


__all__ = ["Explanation", "Step", "add_parser", "data_for", "explain", "kernel_source", "main"]
