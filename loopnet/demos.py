"""The four articles' worked examples, runnable as ``loopnet demo NAME`` or from Python.

>>> from loopnet import demos
>>> results = demos.run("and", out=None)      # out=None: return results, print nothing
>>> [round(float(p), 1) for p in results[0].predictions.ravel()]
[0.0, 0.0, 0.0, 1.0]

Each demo trains loopnet's correct rule (docs/design.md: every parameter updated
after all gradients exist, dz/db = 1, one bias per neuron). ``perceptron`` can
also replay seed 003's published training rule, quirks included, for contrast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import datasets
from .network import Network

Printer = Callable[[str], None] | None


@dataclass
class DemoResult:
    """What one demo run produced."""

    title: str
    history: np.ndarray  # loss per epoch
    inputs: np.ndarray  # the rows predicted at the end
    targets: np.ndarray
    predictions: np.ndarray  # (rows, 1) output activations
    network: Network | None = None  # None for the as-published replay
    notes: list[str] = field(default_factory=list)  # one line each: where and why the article differs

    @property
    def correct(self) -> bool:
        """Every prediction is on the right side of 0.5."""
        return bool(np.all((self.predictions > 0.5) == (self.targets > 0.5)))


def _checkpoints(epochs: int) -> list[int]:
    """Epochs (counted from 1) at which to show the loss: 1, 2, 5, 10, 20, 50, ... and the last."""
    marks = {1, epochs}
    step = 1
    while step <= epochs:
        marks.update(m for m in (step, 2 * step, 5 * step) if m <= epochs)
        step *= 10
    return sorted(marks)


def report(result: DemoResult, out: Callable[[str], None] = print) -> None:
    """Print how the loss fell and the final predictions."""
    out(result.title)
    out(f"  {'epoch':>7}  {'loss':>12}   (measured during the epoch, before its update)")
    for e in _checkpoints(len(result.history)):
        out(f"  {e:>7}  {result.history[e - 1]:>12.8f}")
    out(f"  {'input':<12} {'target':>6}  {'prediction':>10}")
    for x, y, p in zip(result.inputs, result.targets, result.predictions):
        verdict = "ok" if (p[0] > 0.5) == (y[0] > 0.5) else "WRONG"
        bits = "[" + " ".join(f"{v:g}" for v in x) + "]"
        out(f"  {bits:<12} {y[0]:>6g}  {p[0]:>10.8f}  {verdict}")
    for note in result.notes:
        out(f"  note: {note}")
    out("")


def _train(title, net, X, Y, epochs, lr, X_pred=None, Y_pred=None) -> DemoResult:
    history = net.fit(X, Y, epochs=epochs, lr=lr)["loss"]
    X_pred = X if X_pred is None else X_pred
    Y_pred = Y if Y_pred is None else Y_pred
    return DemoResult(title, history, X_pred, Y_pred, net.predict(X_pred), net)


def and_gate(epochs: int = 5000, backend: str = "loops") -> list[DemoResult]:
    """Seed 000: the AND gate on a 2-2-1 sigmoid network, sum-of-squares error."""
    X, Y = datasets.and_gate()
    net = Network([2, 2, 1], activation="sigmoid", loss="sse", backend=backend, seed=0)
    title = f"AND gate (seed 000): 2-2-1 sigmoid, loss sse, lr 2.0, {epochs} epochs, full batch"
    return [_train(title, net, X, Y, epochs, 2.0)]


def three_bit(epochs: int = 1000, backend: str = "loops") -> list[DemoResult]:
    """Seed 001: 3-bit numbers, 3-5-1 sigmoid, trained on 6 rows, predicting the 2 held out."""
    X, Y, X_test, Y_test = datasets.three_bit()
    net = Network([3, 5, 1], activation="sigmoid", loss="sse", backend=backend, seed=0, init="normal")
    title = (
        f"three-bit (seed 001): 3-5-1 sigmoid, loss sse, lr 1.0, {epochs} epochs, "
        "6 training rows; predictions on the 2 held-out rows"
    )
    return [_train(title, net, X, Y, epochs, 1.0, X_test, Y_test)]


def xor_gate(epochs: int = 3000, backend: str = "loops") -> list[DemoResult]:
    """Seed 002: XOR through N-layer networks, 2-4-1 and 2-3-3-1 (tanh hidden, sigmoid out, bce)."""
    X, Y = datasets.xor_gate()
    results = []
    for sizes in ([2, 4, 1], [2, 3, 3, 1]):
        net = Network(sizes, activation="tanh", loss="bce", backend=backend, seed=0)
        shape = "-".join(map(str, sizes))
        title = f"XOR (seed 002): {shape} tanh hidden, sigmoid output, loss bce, lr 1.0, {epochs} epochs"
        results.append(_train(title, net, X, Y, epochs, 1.0))
    return results


PERCEPTRON_POINTS = np.array([[1, 0, 0], [0, 1, 0]], dtype=np.float64)
PERCEPTRON_LABELS = np.array([[0.0], [1.0]])
"""The two points seed 003 predicts, and their labels in the records."""


def _published_start() -> tuple[np.ndarray, np.ndarray]:
    """Seed 003's initial weights: np.random.seed(42), rand(3, 1), then rand(1)."""
    state = np.random.RandomState(42)  # the legacy generator, without touching the global one
    weights = state.rand(3, 1)
    bias = state.rand(1)
    return weights, bias


def _naive_sigmoid(x):
    return 1 / (1 + np.exp(-x))


ARTICLE_EPOCHS = 25000
"""The epochs seed 003's text and code say it trains for."""

PRINTED_EPOCHS = 55000
PRINTED_PREDICTIONS = (0.01031463, 0.99440207)
"""Seed 003's two printed outputs, for [1,0,0] and [0,1,0]: what its own rule gives after 55,000 epochs
from its own start (not the 25,000 its text says), as replaying the rule shows."""


def _replay(epochs: int, snapshots: tuple[int, ...] = ()) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Seed 003's published rule for ``epochs`` epochs: the loss per epoch, and the two points'
    predictions after each epoch count in ``snapshots``."""
    X, labels = datasets.perceptron_records()
    X = X.astype(np.int64)  # the article's records are integer arrays
    labels = labels.astype(np.int64)
    points = PERCEPTRON_POINTS.astype(np.int64)
    weights, bias = _published_start()
    lr = 0.05
    history = np.empty(epochs)
    taken = {}
    for epoch in range(epochs):
        out = _naive_sigmoid(np.dot(X, weights) + bias)
        history[epoch] = 0.5 * np.sum((out - labels) ** 2)
        s = _naive_sigmoid(out)  # the quirk: derivative taken at the output, not at XW
        step = (out - labels) * (s * (1 - s))
        weights = weights - lr * np.dot(X.T, step)
        for row in step:  # one bias step per record
            bias = bias - lr * row
        if epoch + 1 in snapshots:
            taken[epoch + 1] = np.array([_naive_sigmoid(np.dot(p, weights) + bias) for p in points])
    return history, taken


def perceptron_as_published(epochs: int = ARTICLE_EPOCHS) -> DemoResult:
    """Replay seed 003's training rule exactly as published -- NOT the correct gradient.

    Its quirks, kept on purpose: the sigmoid derivative is applied to the
    sigmoid's output (so the sigmoid is applied twice), the error is called MSE
    but the step is that of 1/2 SSE, the bias is stepped once per record, and
    the start is uniform (rand), not normal. The operations and their order
    follow the article so the digits match it.

    The article says 25,000 epochs, but the two outputs it prints are what the
    rule gives after 55,000 (:data:`PRINTED_EPOCHS`): the result's note says
    so and gives the predictions after both.
    """
    history, taken = _replay(max(epochs, PRINTED_EPOCHS), (epochs, ARTICLE_EPOCHS, PRINTED_EPOCHS))
    title = (
        f"perceptron AS PUBLISHED (seed 003's rule, quirks included -- not the correct gradient): "
        f"3-1 sigmoid, lr 0.05, {epochs} epochs, start np.random.seed(42) rand"
    )
    result = DemoResult(title, history[:epochs], PERCEPTRON_POINTS, PERCEPTRON_LABELS, taken[epochs])

    def pair(values) -> str:
        return " and ".join(f"{float(p):.8f}" for p in np.ravel(values))

    result.notes.append(
        f"the article says {ARTICLE_EPOCHS:,} epochs, but the outputs it prints "
        f"({pair(PRINTED_PREDICTIONS)}) are what this rule gives after {PRINTED_EPOCHS:,} epochs from the "
        "same start: "
        f"{pair(taken[PRINTED_EPOCHS])} (after {ARTICLE_EPOCHS:,}: {pair(taken[ARTICLE_EPOCHS])})"
    )
    return result


def perceptron(
    epochs: int = ARTICLE_EPOCHS, backend: str = "loops", as_published: bool = False
) -> list[DemoResult]:
    """Seed 003: a 3-1 sigmoid perceptron on 7 records, lr 0.05, predicting [1,0,0] and [0,1,0].

    The corrected run starts from the article's own initial weights, so with
    ``as_published=True`` the two runs differ only in the training rule.
    """
    X, Y = datasets.perceptron_records()
    net = Network([3, 1], output_activation="sigmoid", loss="sse", backend=backend)
    weights, bias = _published_start()
    net.set_weights([(weights, bias)])
    title = (
        f"perceptron (seed 003), correct gradient: 3-1 sigmoid, loss sse, lr 0.05, {epochs} epochs, "
        "same start as the article"
    )
    result = _train(title, net, X, Y, epochs, 0.05, PERCEPTRON_POINTS, PERCEPTRON_LABELS)
    printed = " and ".join(f"{p:.8f}" for p in PRINTED_PREDICTIONS)
    result.notes.append(
        f"differs from the article's {printed}: its rule takes the sigmoid's derivative at the output, "
        "applying the sigmoid twice (see --as-published); this run uses the true gradient"
    )
    results = [result]
    if as_published:
        results.insert(0, perceptron_as_published(epochs))
    return results


def plot(results: list[DemoResult], path, *, log: bool = False):
    """Draw each result's loss per epoch in one figure (seed 001's error curve) and save it to ``path``."""
    from . import plots

    def label(r: DemoResult) -> str:
        name = r.title.split(":")[0]
        return f"{name} {'-'.join(map(str, r.network.sizes))}" if r.network is not None else name

    lines = {label(r): r.history for r in results}
    title = label(results[0]) if len(results) == 1 else None
    fig = plots.curves(lines, title=title, ylabel="error (loss, before each epoch's update)", log=log)
    plots.save(fig, path)
    return fig


DEMOS: dict[str, Callable[..., list[DemoResult]]] = {
    "and": and_gate,
    "three-bit": three_bit,
    "xor": xor_gate,
    "perceptron": perceptron,
}
"""Demo name -> function returning its results."""


def run(
    name: str,
    *,
    epochs: int | None = None,
    backend: str = "loops",
    as_published: bool = False,
    out: Printer = print,
) -> list[DemoResult]:
    """Run demo ``name`` and print its report with ``out`` (None prints nothing)."""
    if not isinstance(name, str) or name not in DEMOS:
        raise ValueError(f"unknown demo {name!r}; expected one of {', '.join(DEMOS)}")
    if as_published and name != "perceptron":
        raise ValueError("--as-published exists only for the perceptron demo (seed 003)")
    kwargs: dict = {"backend": backend}
    if epochs is not None:
        kwargs["epochs"] = epochs
    if as_published:
        kwargs["as_published"] = True
    results = DEMOS[name](**kwargs)
    if out is not None:
        for result in results:
            report(result, out)
    return results
