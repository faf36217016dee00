"""``loopnet train``, ``predict`` and ``show`` on CSV files, held to an oracle computed here.

The oracle: the test standardises the held-out rows itself, with NumPy's mean and standard deviation
of the training rows, feeds them to ``loopnet.load(model).predict`` and maps the outputs to the
label names it sorted itself. ``loopnet predict`` must print exactly that. The CSV files carry what
real files do: quoted fields with commas, quotes and labels that sort differently from their order of
appearance, blank lines, the target column in the middle.

Most tests call ``loopnet.cli.main`` in this process; the Ctrl-C test and one end-to-end run start
``python -m loopnet``. The first training of a process compiles the loops (cached on disk after).
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import loopnet
from loopnet import cli, tabular
from loopnet.network import read_header

sklearn_datasets = pytest.importorskip("sklearn.datasets")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Labels whose sorted order ('Versi, color' < 'setosa' < 'virginica "v"', by code point) is neither
# the dataset's class order nor the order in which the shuffled rows first show them.
IRIS_LABELS = ["setosa", "Versi, color", 'virginica "v"']
IRIS_FEATURES = ["sepal length, cm", "sepal width", "petal length", "petal width"]


# --- helpers ----------------------------------------------------------------------------------------------


def run(capsys, *argv) -> tuple[int, str, str]:
    """``loopnet ARGV`` in this process: exit status, stdout, stderr."""
    try:
        status = cli.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse: --help and usage errors
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def words(template: str, **paths) -> list[str]:
    """A command line's words; ``{name}`` words are filled in after the split, so paths may hold spaces."""
    return [word.format(**{k: str(v) for k, v in paths.items()}) for word in template.split()]


def write_csv(path: Path, header: list[str], rows: list[list], blank_every: int = 0) -> Path:
    """A CSV file written by the csv module (quoting as needed), with blank lines every few rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    lines = [buffer.getvalue()]
    for n, row in enumerate(rows):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(row)
        lines.append(buffer.getvalue())
        if blank_every and n % blank_every == blank_every - 1:
            lines.append("\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def read_output(text: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def last_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def oracle_scaling(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The standardisation the docs promise, computed here: mean and std (ddof 0) per column."""
    std = X.std(axis=0)
    return X.mean(axis=0), np.where(std > 0, std, 1.0)


# --- data -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    """Iris, shuffled, split 120/30 (every 5th row held out); the target column in the middle."""
    folder = tmp_path_factory.mktemp("iris")
    data = sklearn_datasets.load_iris()
    order = np.random.default_rng(1).permutation(len(data.target))
    X, codes = data.data[order], data.target[order]
    test = np.arange(len(codes)) % 5 == 0
    header = [*IRIS_FEATURES[:2], "species", *IRIS_FEATURES[2:]]

    def rows(mask):
        return [[*x[:2], IRIS_LABELS[k], *x[2:]] for x, k in zip(X[mask], codes[mask])]

    train_csv = write_csv(folder / "train.csv", header, rows(~test), blank_every=17)
    test_csv = write_csv(folder / "test.csv", header, rows(test))
    return {
        "folder": folder,
        "train_csv": train_csv,
        "test_csv": test_csv,
        "X_train": X[~test],
        "X_test": X[test],
        "labels_test": [IRIS_LABELS[k] for k in codes[test]],
    }


@pytest.fixture(scope="module")
def iris_model(iris, tmp_path_factory):
    """``loopnet train`` on the iris training rows; the model file and what the command printed."""
    out = tmp_path_factory.mktemp("iris-model") / "iris.npz"
    argv = words("train {csv} --target species --epochs 150 --lr 0.01 --no-progress --out {out}",
                 csv=iris["train_csv"], out=out)  # fmt: skip
    status = cli.main(argv)
    assert status == 0
    return out


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("diabetes")
    data = sklearn_datasets.load_diabetes(scaled=False)
    X, y = data.data, data.target
    test = np.arange(len(y)) % 5 == 0
    header = [*data.feature_names, "progression"]
    train_csv = write_csv(folder / "train.csv", header, [[*x, t] for x, t in zip(X[~test], y[~test])])
    test_csv = write_csv(folder / "test.csv", header[:-1], [list(x) for x in X[test]])  # no target column
    model = folder / "diabetes.npz"
    argv = words("train {csv} --target progression --lr 0.01 --epochs 100 --no-progress --out {out}",
                 csv=train_csv, out=model)  # fmt: skip
    status = cli.main(argv)
    assert status == 0
    return {
        "train_csv": train_csv, "test_csv": test_csv, "model": model,
        "X_train": X[~test], "y_train": y[~test], "X_test": X[test], "y_test": y[test],
    }  # fmt: skip


# --- train and predict: the round trips -------------------------------------------------------------------


def test_iris_predictions_are_the_oracle_labels_and_mostly_right(iris, iris_model, capsys):
    status, out, err = run(capsys, "predict", iris_model, iris["test_csv"])
    assert status == 0, err
    header, rows = read_output(out)
    assert header == ["species"]
    predicted = [row[0] for row in rows]

    mean, scale = oracle_scaling(iris["X_train"])
    A = loopnet.load(iris_model).predict((iris["X_test"] - mean) / scale)  # (30, 3)
    labels = sorted(set(IRIS_LABELS))  # code-point order
    assert predicted == [labels[k] for k in np.argmax(A, axis=1)]
    accuracy = np.mean(np.array(predicted) == np.array(iris["labels_test"]))
    assert accuracy > 0.9


def test_iris_proba_rows_sum_to_one_and_agree_with_the_labels(iris, iris_model, capsys):
    _, out, _ = run(capsys, "predict", iris_model, iris["test_csv"])
    _, labels = read_output(out)
    status, out, err = run(capsys, "predict", iris_model, iris["test_csv"], "--proba")
    assert status == 0, err
    header, rows = read_output(out)
    names = sorted(IRIS_LABELS)
    assert header == [f"P({name})" for name in names]
    P = np.array(rows, dtype=float)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    assert [names[k] for k in P.argmax(axis=1)] == [row[0] for row in labels]
    mean, scale = oracle_scaling(iris["X_train"])
    np.testing.assert_array_equal(P, loopnet.load(iris_model).predict((iris["X_test"] - mean) / scale))


def test_the_model_file_holds_the_scaling_the_labels_and_the_training(iris, iris_model):
    meta = loopnet.load(iris_model).metadata
    mean, scale = oracle_scaling(iris["X_train"])
    assert meta["kind"] == "classifier"
    assert meta["features"] == IRIS_FEATURES
    assert meta["target"] == "species"
    assert meta["labels"] == sorted(IRIS_LABELS)
    np.testing.assert_allclose(meta["scaling"]["mean"], mean, rtol=1e-14)
    np.testing.assert_allclose(meta["scaling"]["scale"], scale, rtol=1e-14)
    t = meta["training"]
    assert (t["data"], t["rows"], t["validation_rows"], t["epochs"], t["stopped"]) == (
        "train.csv",
        120,
        0,
        150,
        "completed",
    )
    assert t["accuracy"] > 0.9 and t["loss"] < 0.5 and t["val_loss"] is None


def test_diabetes_regression_beats_the_mean_and_matches_the_oracle(diabetes, capsys):
    status, out, err = run(capsys, "predict", diabetes["model"], diabetes["test_csv"])
    assert status == 0, err
    header, rows = read_output(out)
    assert header == ["progression"]
    predicted = np.array([float(row[0]) for row in rows])

    mean, scale = oracle_scaling(diabetes["X_train"])
    y_mean, y_scale = diabetes["y_train"].mean(), diabetes["y_train"].std()
    a = loopnet.load(diabetes["model"]).predict((diabetes["X_test"] - mean) / scale)[:, 0]
    np.testing.assert_array_equal(predicted, a * y_scale + y_mean)  # repr precision: exact
    y = diabetes["y_test"]
    r2 = 1 - np.sum((predicted - y) ** 2) / np.sum((y - y.mean()) ** 2)
    assert r2 > 0.3


def test_regression_refuses_proba_as_usage(diabetes, tmp_path, capsys):
    out = tmp_path / "p.csv"
    status, _, err = run(capsys, "predict", diabetes["model"], diabetes["test_csv"], "--proba", "--out", out)
    assert status == 2
    assert "--proba" in last_line(err) and "regressor" in last_line(err)
    assert not out.exists()


def test_binary_whole_numbers_give_one_sigmoid_output_and_both_probabilities(tmp_path, capsys):
    """0/1 targets: sigmoid + bce, labels '0' and '1'; a constant column gets scale 1, not a NaN."""
    data = sklearn_datasets.load_breast_cancer()
    X, y = data.data[:, :8], data.target
    test = np.arange(len(y)) % 4 == 0
    header = [*data.feature_names[:8], "constant", "malignant"]
    train_csv = write_csv(tmp_path / "train.csv", header, [[*x, 7, t] for x, t in zip(X[~test], y[~test])])
    test_csv = write_csv(tmp_path / "test.csv", header[:-1], [[*x, 7] for x in X[test]])
    model = tmp_path / "bc.npz"
    argv = words(
        "train {csv} --target malignant --epochs 60 --no-progress --out {out}", csv=train_csv, out=model
    )
    status, out, err = run(capsys, *argv)
    assert status == 0, err
    assert "2 classes ('0', '1')" in err and "sigmoid output, bce loss" in err and "--loss" in err
    net = loopnet.load(model)
    assert net.sizes[-1] == 1 and net.activations[-1] == "sigmoid" and net.loss_name == "bce"
    assert net.metadata["labels"] == ["0", "1"]
    assert net.metadata["scaling"]["scale"][8] == 1.0 and net.metadata["scaling"]["mean"][8] == 7.0

    _, out, _ = run(capsys, "predict", model, test_csv)
    labels = [row[0] for row in read_output(out)[1]]
    status, out, _ = run(capsys, "predict", model, test_csv, "--proba")
    header, rows = read_output(out)
    assert header == ["P(0)", "P(1)"]
    P = np.array(rows, dtype=float)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    mean, scale = oracle_scaling(np.column_stack([X[~test], np.full((~test).sum(), 7.0)]))
    p1 = net.predict((np.column_stack([X[test], np.full(test.sum(), 7.0)]) - mean) / scale)[:, 0]
    np.testing.assert_array_equal(P[:, 1], p1)
    assert labels == ["1" if p >= 0.5 else "0" for p in p1]
    assert np.mean(np.array(labels, dtype=int) == y[test]) > 0.9


def test_validation_and_patience_stop_early_and_keep_the_best_epoch(diabetes, tmp_path, capsys):
    model = tmp_path / "m.npz"
    argv = words("train {csv} --target progression --lr 0.05 --validation 0.25 --patience 5 --epochs 100000 "
                 "--no-progress --out {out}", csv=diabetes["train_csv"], out=model)  # fmt: skip
    status, out, err = run(capsys, *argv)
    assert status == 0, err
    net = loopnet.load(model)
    t = net.metadata["training"]
    rows = len(diabetes["y_train"])
    assert t["validation_rows"] == round(0.25 * rows) and t["rows"] + t["validation_rows"] == rows
    assert t["stopped"] == "early_stopping" and t["epochs"] < 100000
    assert t["kept_epoch"] == t["epochs"] - 5  # the best epoch, then 5 without improvement
    assert t["val_loss"] > 0 and t["val_r2"] is not None
    assert f"kept the weights of epoch {t['kept_epoch']}" in out
    assert "validation rows" in out

    # docs/cli.md: the validation rows are the first round(f * N) of numpy's permutation seeded --seed;
    # the scaling comes from the other rows only, and val_loss is the saved network's loss on these.
    val = np.zeros(rows, dtype=bool)
    val[np.random.default_rng(0).permutation(rows)[: round(0.25 * rows)]] = True
    X, y = diabetes["X_train"], diabetes["y_train"]
    mean, scale = oracle_scaling(X[~val])
    np.testing.assert_allclose(net.metadata["scaling"]["mean"], mean, rtol=1e-13)
    np.testing.assert_allclose(net.metadata["scaling"]["scale"], scale, rtol=1e-13)
    y_mean, y_scale = y[~val].mean(), y[~val].std()
    assert net.metadata["target_scaling"] == pytest.approx({"mean": y_mean, "scale": y_scale}, rel=1e-13)
    val_loss = np.mean((net.predict((X[val] - mean) / scale)[:, 0] - (y[val] - y_mean) / y_scale) ** 2)
    assert t["val_loss"] == pytest.approx(val_loss, rel=1e-10)


def test_predict_writes_out_only_at_the_end_and_equals_stdout(iris, iris_model, tmp_path, capsys):
    _, expected, _ = run(capsys, "predict", iris_model, iris["test_csv"])
    target = tmp_path / "pred.csv"
    status, out, err = run(capsys, "predict", iris_model, iris["test_csv"], "--out", target)
    assert status == 0 and out == ""
    assert target.read_text() == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pred.csv"]  # no temporary file left
    assert "30 predictions" in err


def test_predict_ignores_the_target_column_and_takes_any_column_order(iris, iris_model, tmp_path, capsys):
    _, expected, _ = run(capsys, "predict", iris_model, iris["test_csv"])
    with open(iris["test_csv"], newline="") as fh:
        rows = [row for row in csv.reader(fh) if row]
    order = [4, 0, 3, 1]  # petal width, sepal length, petal length, sepal width: no species
    shuffled = write_csv(
        tmp_path / "shuffled.csv", [rows[0][j] for j in order], [[row[j] for j in order] for row in rows[1:]]
    )
    _, out, err = run(capsys, "predict", iris_model, shuffled)
    assert out == expected, err


# --- the target: classes or numbers -----------------------------------------------------------------------


def _table(values: list[str], name: str = "y") -> tabular.Table:
    return tabular.Table("t.csv", ["x", name], [["1", v] for v in values], list(range(2, len(values) + 2)))


@pytest.mark.parametrize(
    ("values", "loss", "kind", "output", "chosen", "labels"),
    [
        (["b", "a", "b", "c"], None, "classifier", "softmax", "cross_entropy", ["a", "b", "c"]),
        (["yes", "no", "no"], None, "classifier", "sigmoid", "bce", ["no", "yes"]),
        (["b", "B", "a"], None, "classifier", "softmax", "cross_entropy", ["B", "a", "b"]),  # code points
        (["1", "0", "1", "1"], None, "classifier", "sigmoid", "bce", ["0", "1"]),
        (["10", "2", "2", "10"], None, "classifier", "sigmoid", "bce", ["2", "10"]),  # numeric order
        (["3", "1", "2"] * 4, None, "classifier", "softmax", "cross_entropy", ["1", "2", "3"]),
        (["3", "1", "2"], None, "regressor", "identity", "mse", None),  # 3 values in 3 rows: not few
        (["0.5", "1.5", "0.5"], None, "regressor", "identity", "mse", None),  # not whole numbers
        ([str(v) for v in range(30)] * 3, None, "regressor", "identity", "mse", None),  # > 20 values
        (["1", "0", "1"], "mse", "regressor", "identity", "mse", None),
        (["1", "0", "1"], "cross_entropy", "classifier", "softmax", "cross_entropy", ["0", "1"]),
        (["1.5", "2.5", "7"], "bce", None, None, None, None),  # 3 classes: bce refuses
        (["1.5", "2.5", "2.5"], "bce", "classifier", "sigmoid", "bce", ["1.5", "2.5"]),
        (["a", "b"], "mse", None, None, None, None),  # text is not numbers
        (["a", "a"], None, None, None, None, None),  # one class
    ],
)
def test_target_of_chooses_classes_or_numbers(values, loss, kind, output, chosen, labels):
    table = _table(values)
    if kind is None:
        with pytest.raises(tabular.DataError) as info:
            tabular.target_of(table, "y", loss)
        assert "'y'" in str(info.value) or "--loss" in str(info.value)
        return
    target = tabular.target_of(table, "y", loss)
    assert (target.kind, target.output_activation, target.loss, target.labels) == (
        kind,
        output,
        chosen,
        labels,
    )
    assert target.note.startswith("--target y: ") and "--loss" in target.note
    if labels is not None:  # each row's code points at its own label
        assert [target.labels[k] for k in target.codes] == values


def test_whole_number_labels_keep_their_text_and_one_hot_rows():
    target = tabular.target_of(_table(["2", "7", "2", "5", "7", "5", "2", "7"]), "y")
    assert target.labels == ["2", "5", "7"]
    np.testing.assert_array_equal(target.matrix()[:3], [[1, 0, 0], [0, 0, 1], [1, 0, 0]])


def test_scaling_of_a_constant_column_is_one():
    mean, scale = tabular.scaling_of(np.array([[1.0, 5.0], [3.0, 5.0]]))
    np.testing.assert_array_equal(mean, [2.0, 5.0])
    np.testing.assert_array_equal(scale, [1.0, 1.0])  # std of column 0 is 1, of column 1 is 0 -> 1


# --- reading CSV files ------------------------------------------------------------------------------------


def test_read_csv_handles_quotes_blank_lines_and_a_bom(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('\ufeff\n"a, x",b\n\n"1",  2 \n   \n3,"multi\nline"\n4,5\n', encoding="utf-8")
    table = tabular.read_csv(path)
    assert table.columns == ["a, x", "b"]
    assert table.rows == [["1", "2"], ["3", "multi\nline"], ["4", "5"]]
    assert table.lines == [4, 6, 8]  # the 1-based line each row starts on
    with pytest.raises(tabular.DataError, match=r"line 6, column 'b': 'multi\\nline' is not a number"):
        table.numbers(["a, x", "b"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("\n\n  \n", "is empty"),
        ("a,b\n", "has a header (line 1) but no data rows"),
        ("a,b\n1,2\n\n3\n", "line 4 has 1 field; the header (line 1) has 2"),
        ("a,b\n1,2,3\n", "line 2 has 3 fields"),
        ("a,,c\n1,2,3\n", "line 1: column 2 of the header has no name"),
        ("a,b,a\n1,2,3\n", "names column 'a' twice"),
        ('a,b\n1,"2\n', "line 2: not valid CSV"),
        ('a,b\n1,"2"x\n', "line 2: not valid CSV"),
    ],
)
def test_read_csv_errors_name_the_line(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(tabular.DataError, match=r"'.*bad\.csv'") as info:
        tabular.read_csv(path)
    assert message in str(info.value)


def test_read_csv_refuses_bytes_that_are_not_utf8(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("a,b\n1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(tabular.DataError, match="not UTF-8"):
        tabular.read_csv(path)


# --- bad input: one line, the right status, nothing written -----------------------------------------------


@pytest.fixture
def small(tmp_path, monkeypatch):
    """A folder with a small valid CSV; the commands run there."""
    monkeypatch.chdir(tmp_path)
    rows = [[i % 7, (i * 3) % 5, "ab"[i % 2]] for i in range(40)]
    write_csv(tmp_path / "small.csv", ["x1", "x2", "label"], rows)
    return tmp_path


@pytest.mark.parametrize("command", ["train", "predict", "show"])
def test_every_command_has_help(command, capsys):
    status, out, _ = run(capsys, command, "--help")
    assert status == 0
    assert out.startswith(f"usage: loopnet {command}")
    out = " ".join(out.split())  # argparse wraps lines at the terminal's width
    if command == "train":
        for flag in (
            "--target",
            "--layers",
            "--loss",
            "--lr",
            "0.001 for adam",
            "0.1 for sgd",
            "--validation",
            "--patience",
            "--seed",
            "--dtype",
            "--out",
            "--plot",
            "130",
        ):
            assert flag in out


USAGE_ERRORS = [
    (["train", "missing.csv", "--target", "y"], "argument DATA.csv: no such file: 'missing.csv'"),
    (["train", "small.csv"], "the following arguments are required: --target"),
    (["train", "small.csv", "--target", "label", "--bogus"], "unrecognized arguments: --bogus"),
    (
        ["train", "small.csv", "--target", "label", "--lr", "abc"],
        "argument --lr: expected a number, got 'abc'",
    ),
    (
        ["train", "small.csv", "--target", "label", "--lr", "-1"],
        "argument --lr: expected a finite number > 0",
    ),
    (
        ["train", "small.csv", "--target", "label", "--layers", "16,,8"],
        "argument --layers: expected the hidden",
    ),
    (
        ["train", "small.csv", "--target", "label", "--layers", "16,0"],
        "argument --layers: every hidden layer",
    ),
    (["train", "small.csv", "--target", "label", "--epochs", "0"], "argument --epochs: expected at least 1"),
    (["train", "small.csv", "--target", "label", "--epochs", "1.5"], "argument --epochs: expected a whole"),
    (["train", "small.csv", "--target", "label", "--batch-size", "x"], "argument --batch-size"),
    (["train", "small.csv", "--target", "label", "--validation", "1"], "argument --validation: expected a"),
    (["train", "small.csv", "--target", "label", "--seed", "-3"], "argument --seed: expected 0 or more"),
    (["train", "small.csv", "--target", "label", "--loss", "hinge"], "argument --loss: invalid choice"),
    (["train", "small.csv", "--target", "label", "--optimizer", "lbfgs"], "argument --optimizer: invalid"),
    (["train", "small.csv", "--target", "label", "--activation", "softmax"], "argument --activation"),
    (["train", "small.csv", "--target", "label", "--dtype", "float16"], "argument --dtype"),
    (
        ["train", "small.csv", "--target", "label", "--out", "nowhere/m.npz"],
        "argument --out: no such directory",
    ),
    (["train", "small.csv", "--target", "label", "--out", "."], "argument --out: '.' is a directory"),
    (
        ["train", "small.csv", "--target", "label", "--out", "small.csv"],
        "argument --out: 'small.csv' is the input",
    ),
    (
        ["train", "small.csv", "--target", "label", "--plot", "loss.jpg"],
        "argument --plot: 'loss.jpg' does not end in .png",
    ),
    (["predict", "missing.npz", "small.csv"], "argument MODEL.npz: no such file: 'missing.npz'"),
    (["predict", "small.csv"], "the following arguments are required: DATA.csv"),
    (["show", "missing.npz"], "argument MODEL.npz: no such file"),
    (["show", "."], "argument MODEL.npz: '.' is a directory"),
]


@pytest.mark.parametrize(
    ("argv", "message"), USAGE_ERRORS, ids=[" ".join(a[2:] or a) for a, _ in USAGE_ERRORS]
)
def test_usage_errors_exit_2_with_one_line_naming_the_argument(small, capsys, argv, message):
    before = (small / "small.csv").read_bytes()
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert message in last_line(err), err
    assert last_line(err).startswith(("loopnet: error: ", f"loopnet {argv[0]}: error: "))
    assert "Traceback" not in err and out == ""
    assert sorted(p.name for p in small.iterdir()) == ["small.csv"]  # nothing written
    assert (small / "small.csv").read_bytes() == before


def _train_error(small, capsys, text: str, *extra, target: str = "label", alone: bool = True) -> str:
    (small / "bad.csv").write_text(text)
    argv = words("train bad.csv --target {target} --epochs 2 --no-progress --out m.npz", target=target)
    status, out, err = run(capsys, *argv, *extra)
    assert status == 1, err
    assert "Traceback" not in err and out == ""
    if alone:  # found before training: the error is all there is
        assert len(err.strip().splitlines()) == 1, err
    assert not (small / "m.npz").exists()
    assert sorted(p.name for p in small.iterdir()) == ["bad.csv", "small.csv"]  # no temporary file either
    assert (small / "bad.csv").read_text() == text
    line = last_line(err)
    assert line.startswith("loopnet train: error: ") and ("'bad.csv'" in line or "--" in line)
    return line


@pytest.mark.parametrize(
    ("text", "target", "message"),
    [
        ("x,label\n1,a\n2,b\n", "nope", "has no column 'nope'; its columns are 'x', 'label'"),
        ("", "label", "'bad.csv' is empty"),
        ("x,label\n", "label", "has a header (line 1) but no data rows"),
        ("x,label\n1,a\n2,b,3\n", "label", "line 3 has 3 fields; the header (line 1) has 2"),
        ("x,label\n1,a\n\nfive,b\n", "label", "line 4, column 'x': 'five' is not a number"),
        ("x,label\n1,a\n,b\n", "label", "line 3, column 'x': the cell is empty"),
        ("x,label\n1,a\nnan,b\n", "label", "line 3, column 'x': 'nan' is not a finite number"),
        ("x,label\n1,a\ninf,b\n", "label", "line 3, column 'x': 'inf' is not a finite number"),
        ("x,label\n1,a\n2,\n", "label", "line 3, column 'label': the target cell is empty"),
        ("x,label\n1,a\n2,a\n", "label", "holds one class only ('a')"),
        ("label\na\nb\n", "label", "has no column besides the target 'label'"),
        ("x,y\n1,1.5\n2,nan\n", "y", "line 3, column 'y': 'nan' is not a finite number"),
    ],
)
def test_data_errors_exit_1_naming_the_column_and_line(small, capsys, text, target, message):
    assert message in _train_error(small, capsys, text, target=target)


def test_loss_that_does_not_fit_the_target_exits_1(small, capsys):
    line = _train_error(small, capsys, "x,label\n1,a\n2,b\n3,c\n", "--loss", "bce")
    assert "--loss bce needs exactly 2 classes" in line and "'label'" in line
    line = _train_error(small, capsys, "x,label\n1,a\n2,b\n3,c\n", "--loss", "mse")
    assert "--loss mse needs numbers" in line and "line 2, column 'label': 'a' is not a number" in line


def test_too_few_rows_for_the_validation_fraction_exits_1(small, capsys):
    line = _train_error(small, capsys, "x,label\n1,a\n2,b\n3,a\n", "--validation", "0.1")
    assert "--validation 0.1 of 3 rows holds out 0" in line


def test_divergence_exits_1_and_writes_nothing(small, capsys):
    rows = "".join(f"{i},{i * 1000.0}\n" for i in range(50))
    line = _train_error(
        small, capsys, "x,y\n" + rows, *words("--optimizer sgd --lr 1e30"), target="y", alone=False
    )
    assert "diverged" in line and "--lr 1e+30" in line


def _model(small, capsys) -> Path:
    status, _, err = run(
        capsys, *words("train small.csv --target label --epochs 3 --no-progress --out m.npz")
    )
    assert status == 0, err
    return small / "m.npz"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (["x1", "x2", "label", "x3"], "has column 'x3', which 'm.npz' was not trained on"),
        (["x1", "extra", "x2", "more"], "has column 'extra', 'more', which"),
        (["x1"], "has no column 'x2', a feature of 'm.npz'"),
        (["label"], "has no column 'x1', 'x2', features of 'm.npz'"),
    ],
)
def test_predict_with_other_columns_exits_1_naming_them(small, capsys, header, message):
    _model(small, capsys)
    write_csv(small / "p.csv", header, [["1"] * len(header)])
    status, out, err = run(capsys, "predict", "m.npz", "p.csv", "--out", "pred.csv")
    assert status == 1 and out == ""
    assert message in last_line(err) and len(err.strip().splitlines()) == 1, err
    assert not (small / "pred.csv").exists()
    assert sorted(p.name for p in small.iterdir()) == ["m.npz", "p.csv", "small.csv"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty (0 bytes)"),
        (b"x1,x2\n1,2\n", "is not a loopnet model file"),
        ("truncated", "truncated or corrupted"),
        ("plain network", "it was not written by loopnet train"),
    ],
)
def test_bad_model_files_exit_1_with_load_message(small, capsys, content, message):
    path = small / "bad.npz"
    if content == "truncated":
        path.write_bytes(_model(small, capsys).read_bytes()[:300])
    elif content == "plain network":
        loopnet.Network([2, 1]).save(path)
    else:
        path.write_bytes(content)
    status, _, err = run(capsys, "predict", path, "small.csv", "--out", "pred.csv")
    assert status == 1
    assert message in last_line(err) and last_line(err).startswith("loopnet predict: error: ")
    assert "Traceback" not in err and not (small / "pred.csv").exists()
    if content != "plain network":
        status, _, err = run(capsys, "show", path)
        assert status == 1 and message in last_line(err) and "Traceback" not in err


def test_predict_out_may_not_replace_its_input(small, capsys):
    _model(small, capsys)
    before = (small / "small.csv").read_bytes()
    status, _, err = run(capsys, "predict", "m.npz", "small.csv", "--out", "small.csv")
    assert status == 2 and "is the input file" in last_line(err)
    assert (small / "small.csv").read_bytes() == before


def test_ctrl_c_before_training_writes_nothing_and_exits_130(small, capsys, monkeypatch):
    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(tabular, "read_csv", interrupted)
    monkeypatch.setattr("loopnet.commands.read_csv", interrupted)
    status, _, err = run(capsys, "train", "small.csv", "--target", "label", "--out", "m.npz")
    assert status == 130 and "interrupted by Ctrl-C; nothing written" in err
    assert not (small / "m.npz").exists()


# --- show -------------------------------------------------------------------------------------------------


def test_show_prints_what_the_file_holds(iris, iris_model, capsys):
    status, out, err = run(capsys, "show", iris_model)
    assert status == 0, err
    header = read_header(iris_model)
    mean, scale = oracle_scaling(iris["X_train"])
    assert f"format version {header['version']}, written by loopnet {loopnet.__version__}" in out
    assert "4-16-3: relu hidden layer, softmax output, loss cross_entropy, float64" in out
    assert f"parameters  {4 * 16 + 16 + 16 * 3 + 3}" in out
    assert f"checksum    {header['checksum']}, matches the parameters" in out
    assert "classifier of 'species' into 3 classes: 'Versi, color', 'setosa', 'virginica \"v\"'" in out
    for name, m, s in zip(IRIS_FEATURES, mean, scale):
        line = next(line for line in out.splitlines() if line.strip().startswith(name))
        assert line.split()[-2:] == [f"{m:.6g}", f"{s:.6g}"]
    assert "train.csv: 120 rows" in out and "150 epochs (completed)" in out

    status, out, _ = run(capsys, "show", iris_model, "--json")
    assert status == 0 and json.loads(out) == header


def test_show_describes_a_regressor(diabetes, capsys):
    status, out, _ = run(capsys, "show", diabetes["model"])
    y = diabetes["y_train"]
    assert status == 0
    assert f"regressor of 'progression', learned standardised: (y - {y.mean():.6g}) / {y.std():.6g}" in out
    assert "10-16-1: relu hidden layer, identity output, loss mse" in out and ", R^2 0." in out


def test_show_reads_format_1_files_and_metadata_written_by_hand(tmp_path, capsys):
    fixture = Path(__file__).parent / "data" / "format1-float64.npz"
    status, out, _ = run(capsys, "show", fixture)
    assert status == 0
    assert "format version 1" in out and "checksum    none" in out and "metadata    none" in out
    net = loopnet.Network([2, 3, 1], seed=0)
    net.metadata = {"features": ["a", 1], "scaling": {"mean": ["x", None], "scale": [1, 2]}, "note": "hi"}
    net.save(tmp_path / "hand.npz")
    status, out, err = run(capsys, "show", tmp_path / "hand.npz")
    assert status == 0 and "Traceback" not in err
    assert 'metadata    {"note": "hi"}' in out and "features    2" in out


def test_show_reports_a_changed_parameter_byte(iris_model, tmp_path, capsys):
    """A flipped byte in the parameters: the checksum (or zip's CRC) refuses it, in one line."""
    raw = bytearray(iris_model.read_bytes())
    net = loopnet.load(iris_model)
    at = bytes(raw).find(net.params[:4].tobytes())
    assert at > 0
    raw[at] ^= 0x01
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(raw))
    status, out, err = run(capsys, "show", bad)
    assert status == 1 and out == ""
    assert "corrupted" in last_line(err) and "Traceback" not in err


# --- plots ------------------------------------------------------------------------------------------------


def _plots():
    """loopnet.plots, or a skip while it is not there yet."""
    pytest.importorskip("matplotlib")
    try:
        from loopnet import plots

        plots.require_matplotlib
    except (ImportError, AttributeError):
        pytest.skip("loopnet.plots is not there yet")
    return plots


def test_plot_without_matplotlib_fails_before_training(small, capsys, monkeypatch):
    plots = _plots()

    def missing():
        raise ImportError("--plot needs matplotlib: pip install 'loopnet[plot]'")

    monkeypatch.setattr(plots, "require_matplotlib", missing)
    status, out, err = run(capsys, "train", "small.csv", "--target", "label", "--plot", "loss.png")
    assert status == 1 and out == ""
    assert "pip install 'loopnet[plot]'" in last_line(err) and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in small.iterdir()) == ["small.csv"]


def test_plot_draws_a_png_next_to_the_model(small, capsys):
    _plots()
    argv = words(
        "train small.csv --target label --epochs 5 --no-progress --validation 0.2 --plot loss.png --out m.npz"
    )
    status, out, err = run(capsys, *argv)
    assert status == 0, err
    assert (small / "loss.png").read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in small.iterdir()) == ["loss.png", "m.npz", "small.csv"]
    assert "wrote     m.npz and loss.png" in out


# --- subprocesses: end to end, and Ctrl-C -----------------------------------------------------------------


def _env() -> dict:
    env = dict(os.environ)
    root = str(Path(loopnet.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env


def test_end_to_end_in_a_subprocess(iris, tmp_path):
    model, pred = tmp_path / "m.npz", tmp_path / "pred.csv"
    train = subprocess.run(
        [
            sys.executable,
            *words(
                "-m loopnet train {csv} --target species --epochs 20 --out {out}",
                csv=iris["train_csv"],
                out=model,
            ),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(),
    )
    assert train.returncode == 0, train.stderr
    assert "20/20" in train.stderr  # the progress bar, on stderr
    assert "wrote" in train.stdout
    done = subprocess.run(
        [sys.executable, "-m", "loopnet", "predict", model, iris["test_csv"], "--out", pred],
        capture_output=True,
        text=True,
        timeout=600,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    header, rows = read_output(pred.read_text())
    assert header == ["species"] and len(rows) == 30 and {row[0] for row in rows} <= set(IRIS_LABELS)


def test_ctrl_c_saves_the_last_epoch_and_exits_130(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 8))
    y = X @ rng.normal(size=8) + 0.1 * rng.normal(size=4000)
    data = write_csv(
        tmp_path / "big.csv", [*(f"x{i}" for i in range(8)), "y"], [[*x, t] for x, t in zip(X, y)]
    )
    model = tmp_path / "m.npz"
    argv = words("-m loopnet train {csv} --target y --epochs 1000000 --out {out}", csv=data, out=model)
    proc = subprocess.Popen(
        [sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # even if started in the background
    )  # fmt: skip
    err = bytearray()

    def pump() -> None:  # stderr as it comes: the progress bar never ends a line
        while chunk := proc.stderr.read1(4096):
            err.extend(chunk)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    deadline = time.monotonic() + 600
    while b"loss=" not in err:  # the bar shows a loss once an epoch has run: compiled and training
        assert proc.poll() is None, err.decode()
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.2)
    time.sleep(1.0)  # some hundreds of epochs more
    assert not model.exists()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    reader.join(timeout=10)
    assert "interrupted by Ctrl-C" in proc.stdout.read().decode()  # the summary
    text = err.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "Warning" not in text
    assert "interrupted by Ctrl-C after epoch" in last_line(text)
    net = loopnet.load(model)
    t = net.metadata["training"]
    assert t["stopped"] == "interrupted" and 1 <= t["epochs"] < 1000000
    assert f"interrupted by Ctrl-C after epoch {t['epochs']};" in last_line(text)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv", "m.npz"]
    status, out, err = run(capsys, "predict", model, data)
    assert status == 0, err
    predicted = np.array([float(row[0]) for row in read_output(out)[1]])
    assert 1 - np.sum((predicted - y) ** 2) / np.sum((y - y.mean()) ** 2) > 0.5  # it learned something
