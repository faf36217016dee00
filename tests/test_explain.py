"""``loopnet explain``: each printed number is the kernels', each file and line range points at its kernel.

The printed text is parsed back and held against two oracles the explanation does not share code with: the
network's whole-network kernels (``kernels.forward_pass``, ``backward_pass``, ``sgd_update``, ``loss_value``
on flat buffers, as ``Network`` calls them) and a NumPy computation written here. The record itself is held
against ``Network.loss``, ``Network.gradients`` and one epoch of ``Network.fit``.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import numpy as np
import pytest

import loopnet
from loopnet import cli, datasets, demos, explain, kernels
from loopnet.activations import ACTIVATIONS
from loopnet.losses import LOSSES

ROOT = Path(explain.__file__).resolve().parent.parent

# (sizes, hidden activation, output activation, loss): the AND network, a deep tanh/bce one (seed 002's
# kind), softmax with cross-entropy, softmax under sse (its Jacobian in B1), a leaky_relu/identity mse
# regression, a poisson one and a one-layer perceptron.
CONFIGS = {
    "and": ([2, 2, 1], "sigmoid", "sigmoid", "sse"),
    "tanh-bce": ([2, 3, 3, 1], "tanh", "sigmoid", "bce"),
    "softmax-ce": ([4, 5, 3], "relu", "softmax", "cross_entropy"),
    "softmax-sse": ([3, 4, 3], "sigmoid", "softmax", "sse"),
    "leaky-mse": ([3, 4, 2], "leaky_relu", "identity", "mse"),
    "poisson": ([3, 2, 2], "tanh", "exp", "poisson"),
    "perceptron": ([3, 1], "sigmoid", "sigmoid", "sse"),
}


def make(name: str, seed: int = 0):
    """A network of CONFIGS[name] on plain loops, the data `loopnet explain` would use and a learning rate."""
    sizes, hidden, output, loss = CONFIGS[name]
    net = loopnet.Network(sizes, activation=hidden, output_activation=output, loss=loss, seed=seed,
                          backend="plain")  # fmt: skip
    X, Y, _ = explain.data_for(net.sizes, output, seed)
    return net, X, Y, 2.0 if name == "and" else 0.7


# --- oracle 1: the network's whole-network kernels, on flat buffers ------------------------------------


def kernel_arrays(net, X, Y, lr) -> dict[str, np.ndarray]:
    """Every array of the step by name, from forward_pass / loss_value / backward_pass / sgd_update."""
    sizes = np.array(net.sizes, dtype=np.int64)
    acts = np.array([ACTIVATIONS[a] for a in net.activations], dtype=np.int64)
    code = LOSSES[net.loss_name]
    N, L = X.shape[0], net.n_layers
    units = int(sizes[1:].sum())
    zbuf, abuf, dbuf = (np.empty(N * units) for _ in range(3))
    sw = np.ones(N)
    params = net.params.copy()
    grads = np.empty_like(params)
    kernels.forward_pass(params, sizes, acts, X, zbuf, abuf)
    kernels.backward_pass(params, grads, sizes, acts, code, X, Y, sw, zbuf, abuf, dbuf)
    new = params.copy()
    kernels.sgd_update(new, grads, lr)
    out: dict[str, np.ndarray] = {"X": X, "Y": Y, "lr": np.array(lr)}
    for l in range(1, L + 1):
        for prefix, flat in (("", params), ("d", grads)):
            W, b = kernels.param_views(flat, sizes, l - 1)
            out[f"{prefix}W{l}"], out[f"{prefix}b{l}"] = W, b
        out[f"W{l}_new"], out[f"b{l}_new"] = kernels.param_views(new, sizes, l - 1)
        for prefix, buf in (("z", zbuf), ("a", abuf), ("delta", dbuf)):
            out[f"{prefix}{l}"] = kernels.work_view(buf, sizes, l - 1, N).copy()
    out["loss"] = np.array(kernels.loss_value(code, out[f"z{L}"], out[f"a{L}"], Y, sw))
    kernels.forward_pass(new, sizes, acts, X, zbuf, abuf)
    out[f"z{L}_new"] = kernels.work_view(zbuf, sizes, L - 1, N).copy()
    out[f"a{L}_new"] = kernels.work_view(abuf, sizes, L - 1, N).copy()
    out["loss_new"] = np.array(kernels.loss_value(code, out[f"z{L}_new"], out[f"a{L}_new"], Y, sw))
    return out


def expected_for(net, X, Y, lr) -> dict[str, np.ndarray]:
    """Oracle 1's arrays, and each row's loss l[n] (before and after the step) from oracle 2."""
    by_numpy = numpy_step(net, X, Y, lr)
    return kernel_arrays(net, X, Y, lr) | {"l": by_numpy["l"], "l_new": by_numpy["l_new"]}


# --- oracle 2: the same step in NumPy, written from docs/design.md -------------------------------------


def f(name, z):
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "exp":
        return np.exp(z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return z


def f_prime(name, z, a):
    return {
        "sigmoid": a * (1 - a),
        "tanh": 1 - a**2,
        "relu": (z > 0) * 1.0,
        "leaky_relu": np.where(z > 0, 1.0, 0.01),
        "exp": a,
        "identity": np.ones_like(z),
    }[name]


def row_losses(loss, a, Y):
    K = a.shape[1]
    if loss == "sse":
        return 0.5 * ((a - Y) ** 2).sum(axis=1)
    if loss == "mse":
        return ((a - Y) ** 2).sum(axis=1) / K
    if loss == "bce":
        return -(Y * np.log(a) + (1 - Y) * np.log(1 - a)).sum(axis=1) / K
    if loss == "cross_entropy":
        return -(Y * np.log(a)).sum(axis=1)
    safe = np.where(Y > 0, Y, 1.0)
    return (np.where(Y > 0, Y * np.log(safe / a), 0.0) - Y + a).sum(axis=1) / K  # poisson


def numpy_step(net, X, Y, lr) -> dict[str, np.ndarray]:
    names, loss, L, N = net.activations, net.loss_name, net.n_layers, X.shape[0]
    K = Y.shape[1]
    Ws = net.weights
    out: dict[str, np.ndarray] = {}

    def forward(weights, suffix):
        a = X
        for l, (W, b) in enumerate(weights, start=1):
            z = a @ W + b
            a = f(names[l - 1], z)
            out[f"z{l}{suffix}"], out[f"a{l}{suffix}"] = z, a
        rows = row_losses(loss, a, Y)
        out[f"l{suffix}"] = rows
        out[f"loss{suffix}"] = np.array(rows.sum() if loss == "sse" else rows.mean())

    forward(Ws, "")
    a, z = out[f"a{L}"], out[f"z{L}"]
    scale = {"sse": 1.0, "mse": 2.0 / (N * K), "bce": 1.0 / (N * K), "poisson": 1.0 / (N * K)}
    if loss == "cross_entropy":
        delta = (a - Y) / N  # one-hot rows
    elif (loss, names[-1]) in (("bce", "sigmoid"), ("poisson", "exp")):
        delta = (a - Y) * scale[loss]
    elif names[-1] == "softmax":
        g = (a - Y) * scale[loss]
        delta = a * (g - (g * a).sum(axis=1, keepdims=True))
    else:
        delta = (a - Y) * scale[loss] * f_prime(names[-1], z, a)
    for l in range(L, 0, -1):
        out[f"delta{l}"] = delta
        a_prev = X if l == 1 else out[f"a{l - 1}"]
        W, b = Ws[l - 1]
        out[f"dW{l}"], out[f"db{l}"] = a_prev.T @ delta, delta.sum(axis=0)
        out[f"W{l}"], out[f"b{l}"] = W, b
        out[f"W{l}_new"], out[f"b{l}_new"] = W - lr * out[f"dW{l}"], b - lr * out[f"db{l}"]
        if l > 1:
            delta = (delta @ W.T) * f_prime(names[l - 2], out[f"z{l - 1}"], out[f"a{l - 1}"])
    forward([(out[f"W{l}_new"], out[f"b{l}_new"]) for l in range(1, L + 1)], "_new")
    out.update(X=X, Y=Y, lr=np.array(lr))
    return out


# --- reading the text back -----------------------------------------------------------------------------

STEP = re.compile(r"^\[(\w+)\] (.*?) -- (.*)$")
KERNEL = re.compile(r"^    kernel    (\w+), (\S+) lines (\d+)-(\d+)$")
ARRAY = re.compile(r"^    (\S+)  shape \(([\d, ]*)\)(?:, first (\d+) x (\d+) shown)?$")
SAME = re.compile(r"^    (\S+)  shape \(([\d, ]*)\): as in the step above$")
SCALAR = re.compile(r"^    (\S+) = (\S+)$")
ROW = re.compile(r"^      \[ (.*?)(?:  \.\.\. (\d+) more)? \]$")
MORE_ROWS = re.compile(r"^      \.\.\. (\d+) more rows$")
ENTRY = re.compile(r"^      (\S.*?) = (.*)$")
CONTINUED = re.compile(r"^ {7,}= (.*)$")
LOSSES_AT_END = re.compile(r"^loss (before|after) the step: +(\S+)")
NUMBER = r"-?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)"
NAMED_VALUE = re.compile(rf"(\w+)\[(\d+(?:, \d+)*)\] = ({NUMBER})(?![\d.e])")


def parse(text: str) -> dict:
    """The text as {"steps": [...], "loss before": x, "loss after": y}; each step has its tag, article,
    title, kernel location, arrays {name: {"shape", "rows", "same"}} and sample entries."""
    steps, losses = [], {}
    step = array = None
    in_sample = False
    for line in text.splitlines():
        if m := LOSSES_AT_END.match(line):
            losses[m[1]] = float(m[2])
        elif m := STEP.match(line):
            step = {"tag": m[1], "article": m[2], "title": m[3], "arrays": {}, "entries": []}
            steps.append(step)
            array, in_sample = None, False
        elif step is None or not line.strip():
            continue
        elif m := KERNEL.match(line):
            step["kernel"] = (m[1], m[2], int(m[3]), int(m[4]))
        elif re.fullmatch(r"    sample \d+:", line):
            in_sample = True
        elif in_sample and (m := CONTINUED.match(line)):
            step["entries"][-1]["values"].append(m[1])
        elif in_sample and (m := ENTRY.match(line)):
            step["entries"].append({"lhs": m[1], "symbolic": m[2], "values": []})
        elif m := SAME.match(line):
            step["arrays"][m[1]] = {"shape": _shape(m[2]), "same": True}
        elif m := ARRAY.match(line):
            array = {"shape": _shape(m[2]), "same": False, "rows": [], "cut": m[3] is not None}
            step["arrays"][m[1]] = array
        elif m := ROW.match(line):
            array["rows"].append([float(v) for v in m[1].split()])
        elif MORE_ROWS.match(line):
            pass
        elif m := SCALAR.match(line):
            step["arrays"][m[1]] = {"shape": (), "same": False, "rows": [[float(m[2])]], "cut": False}
        elif not line.startswith("    equation  "):
            raise AssertionError(f"unparsed line: {line!r}")
    return {"steps": steps, "loss before": losses["before"], "loss after": losses["after"]}


def _shape(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.replace(",", " ").split())


def evaluate(numbers: str) -> float:
    """A written-out line of numbers (`1/2 * ((0.6 - 1)^2)`, `tanh(0.5)`, `ln(0.4)`) as a float."""
    numbers = re.sub(r"\{\d+ more terms: (\S+)\}", r"(\1)", numbers)
    expr = numbers.replace("^", "**").replace("ln(", "log(")
    assert re.fullmatch(r"[\d\s.e+\-*/()a-z,]*", expr), expr
    return eval(expr, {"__builtins__": {}}, {"exp": math.exp, "log": math.log, "tanh": math.tanh, "max": max})


def assert_printed(printed: dict, expected: np.ndarray, name: str) -> None:
    """A printed array (possibly abbreviated) equals the leading block of the expected one at 10 digits."""
    expected = np.asarray(expected)
    assert printed["shape"] == expected.shape, name
    block = np.array(printed["rows"])
    full = expected.reshape(1, -1) if expected.ndim < 2 else expected
    if expected.ndim == 2 or expected.ndim == 1:
        assert block.shape[0] <= full.shape[0] and block.shape[1] <= full.shape[1], name
        assert printed["cut"] == (block.shape != full.shape), name
    np.testing.assert_allclose(
        block, full[: block.shape[0], : block.shape[1]], rtol=1e-9, atol=0, err_msg=name
    )


def check_text(text: str, expected: dict[str, np.ndarray]) -> dict:
    """Every array and sample number in ``text`` is the expected one; returns the parse."""
    parsed = parse(text)
    previous: dict = {}
    for step in parsed["steps"]:
        assert step["arrays"], step["title"]
        for name, printed in step["arrays"].items():
            if printed["same"]:  # "as in the step above": the step above printed these values in full
                assert name in previous and not previous[name]["same"], name
                assert printed["shape"] == previous[name]["shape"] == np.shape(expected[name]), name
            else:
                assert_printed(printed, expected[name], name)
        previous = step["arrays"]
        for entry in step["entries"]:
            check_entry(entry, expected)
    np.testing.assert_allclose(parsed["loss before"], expected["loss"], rtol=1e-9)
    np.testing.assert_allclose(parsed["loss after"], expected["loss_new"], rtol=1e-9)
    return parsed


def lookup(expected, name: str, index: str) -> float:
    return float(np.asarray(expected[name])[tuple(int(i) for i in index.split(","))])


def check_entry(entry: dict, expected) -> None:
    """One written-out unit: its numbers evaluate to its result, and every `name[i, j] = x` in it is right."""
    values = entry["values"]
    assert 1 <= len(values) <= 2, entry
    result_text = values[-1]
    result = float(result_text.split()[0])
    numbers = values[0] if len(values) == 2 else result_text.split()[0]
    scale = max([1.0] + [abs(float(v)) for v in re.findall(NUMBER, numbers) if v not in ("inf", "nan")])
    assert evaluate(numbers) == pytest.approx(result, rel=1e-7, abs=1e-9 * scale), entry
    if m := re.fullmatch(r"(\w+)\[(\d+(?:, \d+)*)\]", entry["lhs"]):
        assert result == pytest.approx(lookup(expected, m[1], m[2]), rel=1e-9, abs=0), entry
    elif m := re.fullmatch(r"sample (\d+)'s term of d(W|b)(\d+)\[(\d+)(?:, (\d+))?\]", entry["lhs"]):
        n, kind, l, i, j = m[1], m[2], int(m[3]), m[4], m[5]
        delta = expected[f"delta{l}"]
        if kind == "W":
            a_prev = expected["X"] if l == 1 else expected[f"a{l - 1}"]
            term = a_prev[int(n), int(i)] * delta[int(n), int(j)]
        else:
            term = delta[int(n), int(i)]
        assert result == pytest.approx(term, rel=1e-9, abs=1e-300), entry
    else:
        raise AssertionError(f"unknown entry {entry['lhs']!r}")
    for text in (entry["symbolic"], result_text):
        for name, index, value in NAMED_VALUE.findall(text):
            assert float(value) == pytest.approx(lookup(expected, name, index), rel=1e-9), (
                name,
                index,
                entry,
            )


# --- the record against the network's own answers ------------------------------------------------------


@pytest.mark.parametrize("name", list(CONFIGS))
def test_record_agrees_with_loss_gradients_and_one_epoch_of_fit(name):
    net, X, Y, lr = make(name)
    params = net.params.copy()
    record = explain.explain(net, X, Y, lr=lr)
    assert np.array_equal(net.params, params), "explain changed the network"
    assert record.loss_before == pytest.approx(net.loss(X, Y), rel=1e-12)
    for (dW, db), (gW, gb) in zip(record.gradients, net.gradients(X, Y)):
        np.testing.assert_allclose(dW, gW, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(db, gb, rtol=1e-12, atol=1e-15)
    for (W, b), (W0, b0) in zip(record.weights_before, net.weights):
        assert np.array_equal(W, W0) and np.array_equal(b, b0)
    history = net.fit(X, Y, epochs=1, lr=lr, shuffle=False)
    assert history["loss"][0] == pytest.approx(record.loss_before, rel=1e-12)
    for (W, b), (W1, b1) in zip(record.weights_after, net.weights):
        np.testing.assert_allclose(W, W1, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(b, b1, rtol=1e-12, atol=1e-15)
    assert record.loss_after == pytest.approx(net.loss(X, Y), rel=1e-12)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_two_oracles_agree(name):
    """The kernels' arrays (oracle 1) equal the NumPy step (oracle 2): the tests below may trust either."""
    net, X, Y, lr = make(name)
    by_kernels, by_numpy = kernel_arrays(net, X, Y, lr), numpy_step(net, X, Y, lr)
    for key, value in by_kernels.items():
        scale = max(1.0, float(np.max(np.abs(value))))
        np.testing.assert_allclose(value, by_numpy[key], rtol=1e-11, atol=1e-14 * scale, err_msg=key)


# --- the printed text ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_printed_number_is_the_kernels(name):
    net, X, Y, lr = make(name)
    record = explain.explain(net, X, Y, lr=lr)
    expected = expected_for(net, X, Y, lr)
    parsed = check_text(record.format(max_values=10_000), expected)
    printed = sum(1 for step in parsed["steps"] for a in step["arrays"].values() if not a["same"])
    assert printed >= 4 * net.n_layers + 8  # X, every W, b, z, a, delta, dW, db, the losses ...
    # the record's arrays are the ones printed: the same names in the same order
    for step, seen in zip(record.steps, parsed["steps"]):
        assert list(step.arrays) == list(seen["arrays"])
    assert len(record.steps) == len(parsed["steps"])


def test_default_text_is_seed_000_and_gate_and_matches_the_demo():
    """`loopnet explain` is the AND demo's first epoch: its loss and the weights after one full-batch step."""
    text = _run_cli([])
    net = loopnet.Network([2, 2, 1], activation="sigmoid", loss="sse", seed=0, backend="plain")
    X, Y = datasets.and_gate()
    check_text(text, expected_for(net, X, Y, 2.0))
    demo = demos.and_gate(epochs=1, backend="plain")[0]
    parsed = parse(text)
    assert parsed["loss before"] == pytest.approx(demo.history[0], rel=1e-9)
    update = next(step for step in parsed["steps"] if step["tag"] == "U1")
    for l, (W, b) in enumerate(demo.network.weights, start=1):
        assert_printed(update["arrays"][f"W{l}_new"], W, f"W{l}_new")
        assert_printed(update["arrays"][f"b{l}_new"], b, f"b{l}_new")
    assert text.startswith("data: the AND gate")
    assert "2-2-1 network (hidden activation sigmoid, output sigmoid, loss sse)" in text
    assert "lr 2," in text


def test_tags_and_article_steps_in_the_articles_order():
    record = explain.explain(*make("and")[:3], lr=2.0)
    assert [(s.tag, s.article, s.kernel, s.layer) for s in record.steps] == [
        ("F1", "forward Step 1", "dense_forward", 1),
        ("F2", "forward Step 2", "activate", 1),
        ("F1", "forward Step 3", "dense_forward", 2),
        ("F2", "forward Step 4", "activate", 2),
        ("L", "Loss Function (the sum-of-squares error)", "loss_value", 2),
        ("B1", "backprop Steps 1-2", "output_delta", 2),
        ("B3", "backprop Steps 3 and 5", "weight_grad", 2),
        ("B4", "backprop Steps 4 and 6", "bias_grad", 2),
        ("B2", "backprop Steps 8-9", "backprop_delta", 1),
        ("B3", "backprop Steps 10 and 12", "weight_grad", 1),
        ("B4", "backprop Steps 11 and 13", "bias_grad", 1),
        ("U1", 'backprop Step 7 and the second "Step 12", done once at the end', "sgd_update", None),
        ("L", "not in the article: the loss again, after the update", "loss_value", 2),
    ]
    text_tags = [step["tag"] for step in parse(str(record))["steps"]]
    assert text_tags == [s.tag for s in record.steps]


@pytest.mark.parametrize("name", ["tanh-bce", "perceptron"])
def test_deeper_and_shallower_networks_keep_the_order(name):
    net, X, Y, lr = make(name)
    tags = [(s.tag, s.layer) for s in explain.explain(net, X, Y, lr=lr).steps]
    L = net.n_layers
    backward = []
    for l in range(L, 0, -1):
        backward += [("B3", l), ("B4", l)] + ([("B2", l - 1)] if l > 1 else [])
    forward = [(tag, l) for l in range(1, L + 1) for tag in ("F1", "F2")]
    assert tags == [*forward, ("L", L), ("B1", L), *backward, ("U1", None), ("L", L)]


def _function_lines(path: Path, name: str) -> tuple[int, int]:
    """The def line and last line of top-level function ``name`` in ``path``, by ast."""
    tree = ast.parse(path.read_text())
    matches = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name]
    assert len(matches) == 1, f"{name} defined {len(matches)} times in {path}"
    return matches[0].lineno, matches[0].end_lineno


@pytest.mark.parametrize("name", ["and", "softmax-ce"])
def test_every_file_and_line_range_points_at_the_named_kernel(name):
    net, X, Y, lr = make(name)
    record = explain.explain(net, X, Y, lr=lr)
    parsed = parse(str(record))
    seen = set()
    for step, printed in zip(record.steps, parsed["steps"]):
        assert printed["kernel"] == (step.kernel, step.file, step.first_line, step.last_line)
        assert step.file == "loopnet/kernels.py"
        path = ROOT / step.file
        lines = path.read_text().splitlines()
        assert lines[step.first_line - 1].startswith(f"def {step.kernel}(")
        assert (step.first_line, step.last_line) == _function_lines(path, step.kernel)
        assert lines[step.last_line - 1].strip(), "the range ends on the body's last line, not a blank"
        seen.add(step.kernel)
    assert seen == {"dense_forward", "activate", "loss_value", "output_delta", "weight_grad", "bias_grad",
                    "backprop_delta", "sgd_update"}  # fmt: skip


def test_kernel_source_of_a_decorated_function():
    """kernel_source skips decorator lines: the range starts at `def` and ends at the body's last line."""
    start, end = _function_lines(ROOT / "loopnet" / "kernels.py", "output_delta")
    assert explain.kernel_source(kernels.output_delta) == ("loopnet/kernels.py", start, end)
    assert (ROOT / "loopnet/kernels.py").read_text().splitlines()[start - 2].startswith("@")


# --- following one sample ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CONFIGS))
def test_sample_is_followed_unit_by_unit_with_the_right_numbers(name):
    net, X, Y, lr = make(name)
    n = X.shape[0] - 1 if name != "and" else 2
    record = explain.explain(net, X, Y, lr=lr, sample=n)
    expected = expected_for(net, X, Y, lr)
    parsed = check_text(record.format(), expected)
    L = net.n_layers
    for step in parsed["steps"]:
        lhs = [entry["lhs"] for entry in step["entries"]]
        if step["tag"] in ("F1", "F2"):
            l = int(re.search(r"layer (\d+)", step["title"])[1])
            var = "z" if step["tag"] == "F1" else "a"
            assert lhs == [f"{var}{l}[{n}, {j}]" for j in range(net.sizes[l])]
        elif step["tag"] == "L":
            assert lhs == [f"l[{n}]"] or lhs == [f"l_new[{n}]"]
        elif step["tag"] == "B1":
            assert lhs == [f"delta{L}[{n}, {k}]" for k in range(net.sizes[-1])]
        elif step["tag"] == "B2":
            l = int(re.match(r"delta(\d+)", step["title"])[1])
            assert lhs == [f"delta{l}[{n}, {i}]" for i in range(net.sizes[l])]
        elif step["tag"] in ("B3", "B4"):
            assert lhs and all(s.startswith(f"sample {n}'s term of d") for s in lhs)
        else:
            assert len(lhs) == net.n_params
    # the AND gate's z1 for sample 2 (inputs [1, 0]) written out: b1[j] + 1 * W1[0, j] + 0 * W1[1, j]
    if name == "and":
        W1, b1 = net.weights[0]
        z_entries = parsed["steps"][0]["entries"]
        for j, entry in enumerate(z_entries):
            terms = entry["values"][0].split(" + ")
            assert [float(t.split(" * ")[0]) for t in terms[1:]] == [1.0, 0.0]
            assert float(terms[1].split(" * ")[1].strip("()")) == pytest.approx(W1[0, j], rel=1e-9)
            assert float(entry["values"][1]) == pytest.approx(b1[j] + W1[0, j], rel=1e-9)


def test_format_can_follow_another_sample_and_sums_past_max_values_are_folded():
    net = loopnet.Network([7, 6, 2], activation="tanh", output_activation="identity", loss="mse", seed=3,
                          backend="plain")  # fmt: skip
    X, Y, note = explain.data_for(net.sizes, "identity", 3)
    assert "made up from seed 3" in note and X.shape == (4, 7) and Y.shape == (4, 2)
    record = explain.explain(net, X, Y, lr=0.3)
    assert "    sample 1:" not in record.format()
    text = record.format(max_values=4, sample=1)
    expected = expected_for(net, X, Y, 0.3)
    parsed = check_text(text, expected)
    assert "{3 more terms: " in text  # z1 sums 7 inputs: 4 written out, the other 3 folded
    first = parsed["steps"][0]
    assert first["arrays"]["X"]["cut"] and len(first["arrays"]["X"]["rows"]) == 1
    assert len(first["entries"]) == 4  # 6 units, 4 written out
    assert all(entry["lhs"].startswith("z1[1, ") for entry in first["entries"])


def test_big_arrays_are_abbreviated_and_small_ones_are_not():
    net, X, Y, lr = make("softmax-ce")
    record = explain.explain(net, X, Y, lr=lr)
    parsed = parse(record.format(max_values=6))
    arrays = {name: a for step in parsed["steps"] for name, a in step["arrays"].items() if not a["same"]}
    assert arrays["W1"]["cut"] and np.array(arrays["W1"]["rows"]).shape == (1, 5)  # (4, 5): one row of 5
    assert not arrays["b2"]["cut"] and np.array(arrays["b2"]["rows"]).shape == (1, 3)
    text = record.format(max_values=6)
    assert "      ... 3 more rows" in text and "W1  shape (4, 5), first 1 x 5 shown" in text


# --- the public function's checks ----------------------------------------------------------------------


def test_explain_rejects_bad_arguments_naming_them():
    net, X, Y, _ = make("and")
    with pytest.raises(TypeError, match=r"loopnet\.Network"):
        explain.explain("net", X, Y)
    with pytest.raises(ValueError, match=r"X must have 2 columns"):
        explain.explain(net, X[:, :1], Y)
    with pytest.raises(ValueError, match=r"\bY\b"):
        explain.explain(net, X, Y[:3])
    with pytest.raises(ValueError, match=r"sample must be a row of X, 0 to 3; got 4"):
        explain.explain(net, X, Y, sample=4)
    with pytest.raises(ValueError, match="sample"):
        explain.explain(net, X, Y, sample=-1)
    with pytest.raises(TypeError, match="sample"):
        explain.explain(net, X, Y, sample=1.0)
    with pytest.raises(ValueError, match="lr"):
        explain.explain(net, X, Y, lr=0.0)
    record = explain.explain(net, X, Y)
    assert record.lr == explain.DEFAULT_LR == 0.5
    with pytest.raises(ValueError, match="max_values"):
        record.format(max_values=0)
    with pytest.raises(ValueError, match="sample must be a row of X"):
        record.format(sample=9)


def test_network_explain_method_returns_the_same_record():
    net, X, Y, lr = make("and")
    if not hasattr(net, "explain"):
        pytest.skip("Network.explain is not there yet")
    assert str(net.explain(X, Y, lr=lr, sample=1)) == str(explain.explain(net, X, Y, lr=lr, sample=1))


# --- the command line ----------------------------------------------------------------------------------


def _run_cli(args: list[str]) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["explain", *args]) == 0
    return out.getvalue()


def test_cli_other_networks_print_the_right_numbers():
    text = _run_cli(["--sizes", "2,3,3,1", "--activation", "tanh", "--loss", "bce", "--sample", "3"])
    net, X, Y, _ = make("tanh-bce")
    assert text.startswith("data: the AND gate")  # 2 inputs, 1 output: still the AND gate
    check_text(text, expected_for(net, X, Y, 2.0))
    text = _run_cli(["--sizes", "4,5,3", "--activation", "relu", "--loss", "cross_entropy", "--lr", "0.7"])
    assert "output softmax, loss cross_entropy" in text  # the output cross_entropy needs, by default
    assert "made up from seed 0" in text
    net, X, Y, lr = make("softmax-ce")
    check_text(text, expected_for(net, X, Y, lr))
    assert _run_cli(["--sizes", "4,5,3", "--loss", "cross_entropy", "--seed", "4"]) == _run_cli(
        ["--sizes", "4,5,3", "--loss", "cross_entropy", "--seed", "4"]
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--sizes", "2,,1"], "separated by commas"),
        (["--sizes", "abc"], "whole numbers"),
        (["--sizes", "0,1"], "at least 1 unit"),
        (["--sizes", "3"], "at least an input and an output"),
        (["--activation", "sigmoidal"], "'sigmoidal' is not a hidden activation"),
        (["--activation", "softmax"], "'softmax' is not a hidden activation"),
        (["--activation", "tanh,relu"], "one name per hidden layer"),
        (["--loss", "hinge"], "invalid choice: 'hinge'"),
        (["--output-activation", "swish"], "invalid choice: 'swish'"),
        (["--loss", "cross_entropy"], "softmax output needs at least 2 output units"),
        (["--loss", "bce", "--output-activation", "tanh"], "loss 'bce' needs output_activation='sigmoid'"),
        (["--sample", "4"], "--sample must be a row of the data, 0 to 3; got 4"),
        (["--sample", "-1"], "expected at least 0"),
        (["--lr", "0"], "expected a finite number > 0"),
        (["--lr", "nan"], "expected a finite number > 0"),
        (["--seed", "x"], "expected a whole number"),
        (["--max-values", "0"], "expected at least 1"),
    ],
)
def test_cli_bad_input_exits_2_with_a_message(args, fragment, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["explain", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err
    assert "Traceback" not in err and err.startswith("usage: loopnet explain")


def test_cli_help_describes_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["explain", "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for option in ("--sizes", "--activation", "--output-activation", "--loss", "--seed", "--init", "--lr",
                   "--sample", "--max-values"):  # fmt: skip
        assert option in out
    assert "AND" in out and "lr 2.0" in out and "made up from --seed" in out


def test_the_docs_excerpt_is_the_commands_output():
    """Each line of docs/explain.md's excerpt of `loopnet explain --sample 3` is in its output."""
    page = (ROOT / "docs" / "explain.md").read_text()
    excerpt = page.split("## What it prints", 1)[1].split("```\n", 2)[1]
    out = _run_cli(["--sample", "3"]).splitlines()
    where = re.compile(r"lines \d+-\d+$")
    printed = {where.sub("lines", line) for line in out}
    lines = [line for line in excerpt.splitlines() if line.strip() and line != "..."]
    assert len(lines) > 60
    for line in lines:
        assert where.sub("lines", line) in printed, line
