"""``loopnet train``, ``predict`` and ``show``: networks on CSV files from the shell.

loopnet train DATA.csv --target COLUMN [--layers 16,8] [--activation relu] [--loss mse|bce|cross_entropy]
              [--optimizer adam|adamw|sgd] [--lr LR] [--epochs 200] [--batch-size 32] [--validation 0.1]
              [--patience N] [--seed 0] [--dtype float64|float32] [--out model.npz] [--plot loss.png]
loopnet predict MODEL.npz DATA.csv [--proba] [--out FILE.csv]
loopnet show MODEL.npz [--json]

``train`` standardises every feature column, z = (x - mean) / scale with the mean and standard
deviation of the training rows (``tabular.scaling_of``), and a regression target the same way; it
stores the column names, the scaling and the class labels in the model file's metadata, so the file
is all ``predict`` needs. Exit status: 0 done; 1 bad data (the message names the file, the column and
the line) or a failed run; 2 bad usage; 130 Ctrl-C (``train`` first saves the model of the last
completed epoch); 143 SIGTERM, which does what Ctrl-C does. Files appear under ``--out`` and ``--plot``
only when the command succeeds (or ``train`` is interrupted): each is written to a temporary file in the
same folder, then renamed.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import os
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ._validation import DTYPES, INT64_MAX
from .activations import HIDDEN_ACTIVATIONS
from .network import Network, load, read_header
from .tabular import DataError, Target, read_csv, scaling_of, standardise, target_of
from .training import SGD, Adam, AdamW, DivergenceError, EarlyStopping

OPTIMIZERS = {"adam": Adam, "adamw": AdamW, "sgd": SGD}
DEFAULT_LR = {"adam": 1e-3, "adamw": 1e-3, "sgd": 0.1}
LOSSES = ("mse", "bce", "cross_entropy")
PLOT_FORMATS = (".png", ".svg", ".pdf")
"""--plot's file name suffixes: matplotlib draws each without extra packages."""
INTERRUPTED = 130
"""The exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it."""
TERMINATED = 143
"""The exit status of a command stopped by SIGTERM (128 + 15), which it handles as Ctrl-C."""


class Failed(Exception):
    """A command cannot go on: the one-line message to print, and the exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


# --- argument types: each error names what was expected ---------------------------------------------------


def _layers(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected the hidden layers' widths separated by commas, like 16,8; got {text!r}"
        ) from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"every hidden layer needs at least 1 unit; got {text!r}")
    return sizes


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    if value > INT64_MAX:  # compiled code counts in 64-bit integers
        raise argparse.ArgumentTypeError(f"expected at most {INT64_MAX}, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction of the rows like 0.1, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction of the rows in [0, 1), got {text!r}")
    return value


def _input_file(text: str) -> str:
    if not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"no such file: {text!r}")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is a directory, not a file")
    return text


# --- the parsers ------------------------------------------------------------------------------------------


def add_parsers(sub) -> None:
    """Add the ``train``, ``predict`` and ``show`` commands to the CLI's subparsers."""
    _add_train(sub)
    _add_predict(sub)
    _add_show(sub)


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a network on a CSV file",
        description=(
            "Train a network to predict one column of a CSV file from all the others. The file needs a "
            "header row; every column but the target must hold numbers. The features are standardised "
            "((x - mean) / std of the training rows) and the scaling, the column names and the class labels "
            "are stored in the model file, so `loopnet predict` needs nothing else. The target decides the "
            "task unless --loss says: text labels, or 2 distinct whole numbers, or up to 20 distinct whole "
            "numbers (fewer than half the rows), are classes (2: sigmoid output + bce; more: softmax + "
            "cross_entropy); other numbers are a regression (identity output + mse, the target "
            "standardised too). One line on stderr says which was chosen. Ctrl-C stops at the end of the "
            "running epochs, saves the model of the last completed epoch and exits with status 130; SIGTERM "
            "(kill, a container stopping) does the same and exits with status 143."
        ),
    )
    p.add_argument("data", metavar="DATA.csv", type=_input_file, help="the training data")
    p.add_argument("--target", required=True, metavar="COLUMN", help="the column to predict")
    p.add_argument(
        "--layers",
        type=_layers,
        default=[16],
        metavar="N,N,...",
        help="widths of the hidden layers, comma-separated (default: 16, one hidden layer)",
    )
    p.add_argument(
        "--activation",
        choices=HIDDEN_ACTIVATIONS,
        default="relu",
        help="of the hidden layers (default: relu)",
    )
    p.add_argument(
        "--loss",
        choices=LOSSES,
        help="mse: the target is numbers; bce (2 classes) or cross_entropy: it is class labels "
        "(default: chosen from the target, see above)",
    )
    p.add_argument("--optimizer", choices=list(OPTIMIZERS), default="adam", help="(default: adam)")
    p.add_argument(
        "--lr",
        type=_positive_float,
        help="learning rate (default: 0.001 for adam and adamw, 0.1 for sgd)",
    )
    p.add_argument("--epochs", type=_positive_int, default=200, help="passes over the data (default: 200)")
    p.add_argument(
        "--batch-size", type=_positive_int, default=32, metavar="N", help="rows per update (default: 32)"
    )
    p.add_argument(
        "--validation",
        type=_fraction,
        default=0.0,
        metavar="FRACTION",
        help="hold out this fraction of the rows (drawn with --seed) and report their loss; "
        "the scaling comes from the other rows (default: 0, none)",
    )
    p.add_argument(
        "--patience",
        type=_positive_int,
        metavar="N",
        help="stop when the validation loss (the training loss without --validation) has not improved "
        "for N epochs, and keep the best epoch's weights (default: no early stopping)",
    )
    p.add_argument(
        "--seed", type=_seed, default=0, help="seeds the weights, shuffling and split (default: 0)"
    )
    p.add_argument("--dtype", choices=DTYPES, default="float64", help="(default: float64)")
    p.add_argument(
        "--out", default="model.npz", metavar="MODEL.npz", help="the model file to write (default: model.npz)"
    )
    p.add_argument(
        "--plot",
        metavar="LOSS.png",
        help="also draw the loss per epoch (and the validation loss) to this .png (or .svg, .pdf); "
        "needs matplotlib: pip install 'loopnet[plot]'",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(command_parser=p)


def _add_predict(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="predict with a model file, one row per CSV row",
        description=(
            "Write one prediction per data row of DATA.csv, as CSV, to stdout or --out. The file needs the "
            "feature columns the model was trained on (in any order); its target column, if present, is "
            "ignored, and any other column is an error. A classifier writes the class labels, or with "
            "--proba one probability column per class, P(label); a regressor writes numbers in the "
            "target's units."
        ),
    )
    p.add_argument(
        "model", metavar="MODEL.npz", type=_input_file, help="a model file written by loopnet train"
    )
    p.add_argument("data", metavar="DATA.csv", type=_input_file, help="the rows to predict")
    p.add_argument("--proba", action="store_true", help="classifiers: the probability of every class")
    p.add_argument("--out", metavar="FILE.csv", help="write here instead of stdout (only if all went well)")
    p.set_defaults(command_parser=p)


def _add_show(sub) -> None:
    p = sub.add_parser(
        "show",
        help="print what a model file holds",
        description=(
            "Print a model file's format version, the loopnet that wrote it, the network, its loss and "
            "dtype, the number of parameters, whether they match their checksum, and what loopnet train "
            "stored: the features and their scaling, the target, the class labels and how training went."
        ),
    )
    p.add_argument("model", metavar="MODEL.npz", type=_input_file, help="a model file")
    p.add_argument("--json", action="store_true", help="print the whole header as JSON instead")
    p.set_defaults(command_parser=p)


# --- running a command ------------------------------------------------------------------------------------


def main(args: argparse.Namespace) -> int:
    """Run ``train``, ``predict`` or ``show``; the exit status. Errors are one line on stderr."""
    name = f"loopnet {args.command}"
    run = {"train": _train, "predict": _predict, "show": _show}[args.command]
    out = getattr(args, "out", None)
    before = _identity(out)
    with _sigterm_as_ctrl_c() as args.sigterm:
        try:
            return run(args)
        except Failed as exc:
            _error(name, str(exc))
            return exc.status
        except BrokenPipeError:  # e.g. `loopnet predict ... | head`: stop quietly like other Unix tools
            _silence_stdout()
            return 0
        except OSError as exc:
            _error(name, _os_message(exc))
            return 1
        except ValueError as exc:  # DataError, and loopnet's own checks: written for the user
            _error(name, str(exc))
            return 1
        except KeyboardInterrupt:
            stopped, status = args.sigterm.outcome()
            if out is not None and _identity(out) != before:  # after the rename: the new file is whole
                _error(name, f"{stopped} after writing {str(out)!r}", prefix="")
            else:
                _error(name, f"{stopped}; nothing written", prefix="")
            return status


class _Sigterm:
    """SIGTERM while a command runs. During ``train``'s fit (``training``) the first one ends the fit at
    the end of the running chunk, through :meth:`ends_the_fit`, a fit callback, so the last completed
    epoch is saved; any other time it raises KeyboardInterrupt, as Ctrl-C does."""

    def __init__(self) -> None:
        self.received = False
        self.training = False

    def handle(self, signum, frame) -> None:
        first, self.received = not self.received, True
        if not (first and self.training):
            raise KeyboardInterrupt

    def ends_the_fit(self, net, history) -> bool:
        return self.received

    def outcome(self) -> tuple[str, int]:
        """What stopped the command, in words, and the exit status."""
        if self.received:
            return "terminated by SIGTERM", TERMINATED
        return "interrupted by Ctrl-C", INTERRUPTED


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[_Sigterm]:
    """SIGTERM (``kill``; a container or a service stopping) handled as Ctrl-C while the block runs.

    Not where Python cannot set a handler (a thread other than the main one), nor over a handler that
    someone else installed.
    """
    sigterm = _Sigterm()
    in_main_thread = threading.current_thread() is threading.main_thread()
    if not in_main_thread or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield sigterm
        return
    signal.signal(signal.SIGTERM, sigterm.handle)
    try:
        yield sigterm
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _identity(path) -> tuple | None:
    """What tells the file at ``path`` from one renamed over it; None if there is none."""
    try:
        st = os.stat(path)
    except (OSError, TypeError, ValueError):
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def _error(name: str, message: str, prefix: str = "error: ") -> None:
    line = " ".join(message.split())  # one line, whatever a file name or a label held
    print(f"{name}: {prefix}{line}", file=sys.stderr, flush=True)


def _os_message(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename!r}: {exc.strerror}"
    return str(exc)


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so that the interpreter's last flush stays quiet."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _output_problem(path: str, expected: str = "a file name") -> str | None:
    """Why a file could not be written at ``path`` (a folder there, none to hold it, no permission), or
    None; ``expected`` says what to give instead of a folder."""
    out = Path(path)
    if out.is_dir():
        return f"{path!r} is a directory; give {expected}"
    folder = out.parent
    if not folder.is_dir():
        return f"no such directory {str(folder)!r}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write to directory {str(folder)!r}"
    return None


def _check_output(parser: argparse.ArgumentParser, flag: str, path: str, inputs: list[str]) -> Path:
    """``path`` as a Path, after a usage error if it cannot be written or would replace an input."""
    out = Path(path)
    problem = _output_problem(path)
    if problem:
        parser.error(f"argument {flag}: {problem}")
    for given in inputs:
        if out.exists() and os.path.samefile(out, given):
            parser.error(f"argument {flag}: {path!r} is the input file {given!r}; it would be overwritten")
    return out


@contextlib.contextmanager
def _replacing(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path in ``path``'s folder, renamed over ``path`` if the block succeeds, else removed.

    The file gets the permissions a plain ``open`` would give it (mkstemp's are 0600).
    """
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


# --- train ------------------------------------------------------------------------------------------------


def _train(args: argparse.Namespace) -> int:
    parser = args.command_parser
    out = _check_output(parser, "--out", args.out, [args.data])
    plot = None
    if args.plot is not None:
        plot = _check_output(parser, "--plot", args.plot, [args.data])
        if plot.suffix.lower() not in PLOT_FORMATS:
            parser.error(f"argument --plot: {args.plot!r} does not end in {', '.join(PLOT_FORMATS)}")
        if plot.resolve() == out.resolve():
            parser.error("argument --plot: the same file as --out")
        try:
            from . import plots

            plots.require_matplotlib()
        except ImportError as exc:
            raise Failed(f"--plot: {exc}") from None
    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr

    table = read_csv(args.data)
    target = target_of(table, args.target, args.loss)
    features = [name for name in table.columns if name != args.target]
    if not features:
        raise DataError(
            f"{args.data!r} has no column besides the target {args.target!r}: nothing to learn from"
        )
    X_all = table.numbers(features)  # (N, I)
    train, val = _split(len(table), args.validation, args.seed)
    print(f"loopnet train: {target.note}", file=sys.stderr, flush=True)

    mean, scale = scaling_of(X_all[train])
    X, Xv = standardise(X_all[train], mean, scale), standardise(X_all[val], mean, scale)
    Y, Yv = target.matrix(train), target.matrix(val)
    metadata: dict = {
        "kind": target.kind,
        "features": features,
        "target": target.name,
        "scaling": {"mean": mean.tolist(), "scale": scale.tolist()},
    }
    if target.kind == "classifier":
        metadata["labels"] = target.labels
    else:  # the network learns the standardised target; predict un-scales its output
        y_mean, y_scale = scaling_of(Y)
        Y, Yv = standardise(Y, y_mean, y_scale), standardise(Yv, y_mean, y_scale)
        metadata["target_scaling"] = {"mean": float(y_mean[0]), "scale": float(y_scale[0])}

    net = Network(
        [len(features), *args.layers, target.n_outputs], activation=args.activation,
        output_activation=target.output_activation, loss=target.loss, dtype=args.dtype, seed=args.seed,
    )  # fmt: skip
    validation = (Xv, Yv) if len(val) else None
    stopping = None
    if args.patience is not None:
        stopping = EarlyStopping(args.patience, monitor="val_loss" if validation else "loss")
    optimizer = OPTIMIZERS[args.optimizer](lr)
    sigterm = getattr(args, "sigterm", None) or _Sigterm()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sigterm.training = True
        try:
            history = net.fit(
                X, Y, epochs=args.epochs, batch_size=args.batch_size, optimizer=optimizer,
                validation=validation, early_stopping=stopping, progress=not args.no_progress,
                callbacks=[sigterm.ends_the_fit],
            )  # fmt: skip
        except DivergenceError as exc:
            raise Failed(f"{exc} (--lr {lr:g}); nothing written") from None
        finally:
            sigterm.training = False
    seconds = time.perf_counter() - start
    if history.stopped == "callback":  # SIGTERM's
        history.stopped = "interrupted"
    interrupted = history.stopped == "interrupted"
    stopped_by, status = sigterm.outcome()
    for warning in caught:
        if not (interrupted and "interrupted by Ctrl-C" in str(warning.message)):
            _error("loopnet train", str(warning.message), prefix="warning: ")

    kept = history.epochs
    if (
        stopping is not None
        and history.stopped in ("completed", "early_stopping")
        and history.best_epoch is not None
    ):
        kept = history.best_epoch + 1  # EarlyStopping put the best epoch's weights back
    report = _scores(net, target, metadata, (X, Y, train), (Xv, Yv, val) if validation else None)
    metadata["training"] = {
        "data": os.path.basename(args.data), "rows": len(train), "validation_rows": len(val),
        "epochs": history.epochs, "kept_epoch": kept, "stopped": history.stopped, **report,
        "layers": args.layers, "activation": args.activation, "optimizer": args.optimizer, "lr": lr,
        "batch_size": args.batch_size, "patience": args.patience, "seed": args.seed,
        "seconds": round(seconds, 3),
    }  # fmt: skip
    net.metadata = metadata

    if plot is not None:  # drawn first, renamed into place once the model is saved (atomically itself)
        with _replacing(plot, plot.suffix) as plot_tmp:
            history.plot(plot_tmp)
            net.save(out)
    else:
        net.save(out)

    for line in _summary(history, stopping, kept, metadata, seconds, out, plot, stopped_by):
        print(line, flush=True)
    if interrupted:
        print(
            f"loopnet train: {stopped_by} after epoch {history.epochs}; wrote {str(out)!r} with the "
            "weights of that epoch",
            file=sys.stderr,
            flush=True,
        )
        return status
    return 0


def _split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices for training and for validation: round(fraction * n) rows drawn at random."""
    if fraction == 0:
        return np.arange(n), np.arange(0)
    n_val = round(fraction * n)
    if n_val < 1 or n_val >= n:
        raise DataError(
            f"--validation {fraction:g} of {n} rows holds out {n_val}; both the training and the validation "
            "rows need at least one"
        )
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _decide(A: np.ndarray) -> np.ndarray:
    """Class indices from the outputs: p >= 0.5 for one sigmoid unit, else the most probable class."""
    if A.shape[1] == 1:
        return (A[:, 0] >= 0.5).astype(np.int64)
    return np.argmax(A, axis=1)


def _scores(net: Network, target: Target, metadata: dict, train, val) -> dict:
    """The saved network's loss on the training (and validation) rows, and accuracy or R^2."""
    report: dict = {}
    for prefix, part in (("", train), ("val_", val)):
        if part is None:
            report[f"{prefix}loss"] = None
            continue
        X, Y, rows = part
        report[f"{prefix}loss"] = net.loss(X, Y)
        A = net.predict(X)
        if target.kind == "classifier":
            report[f"{prefix}accuracy"] = float(np.mean(_decide(A) == target.codes[rows]))
        else:
            y = target.values[rows]
            s = metadata["target_scaling"]
            residual = np.sum((A[:, 0] * s["scale"] + s["mean"] - y) ** 2)
            total = np.sum((y - y.mean()) ** 2)
            report[f"{prefix}r2"] = float(1 - residual / total) if total > 0 else None
    return report


def _summary(
    history, stopping, kept: int, metadata: dict, seconds: float, out: Path, plot,
    stopped_by: str = "interrupted by Ctrl-C",
) -> list[str]:  # fmt: skip
    t = metadata["training"]
    stopped = {
        "completed": "all run",
        "early_stopping": f"stopped early: {stopping and stopping.monitor} did not improve for "
        f"{stopping and stopping.patience} epochs",
        "interrupted": stopped_by,
        "callback": "stopped",
    }[history.stopped]
    lines = [f"epochs    {history.epochs} ({stopped}) in {seconds:.1f} s"]  # "epochs" heads the column
    if kept != history.epochs:
        lines[0] += f"; kept the weights of epoch {kept}, the best"
    losses = f"loss      {t['loss']:.4g} on {t['rows']} training rows"
    if t["val_loss"] is not None:
        losses += f", {t['val_loss']:.4g} on {t['validation_rows']} validation rows"
    lines.append(losses)
    score, label = ("accuracy", "accuracy ") if metadata["kind"] == "classifier" else ("r2", "R^2      ")
    if t.get(score) is not None:
        line = f"{label} {t[score]:.4f} on the training rows"
        if t.get(f"val_{score}") is not None:
            line += f", {t[f'val_{score}']:.4f} on the validation rows"
        lines.append(line)
    lines.append(f"wrote     {out}" + (f" and {plot}" if plot else ""))
    return lines


# --- predict ----------------------------------------------------------------------------------------------


def _predict(args: argparse.Namespace) -> int:
    parser = args.command_parser
    out = None
    if args.out is not None:
        out = _check_output(parser, "--out", args.out, [args.data, args.model])
    net = load(args.model)
    meta = _trained_metadata(net, args.model)
    if args.proba and meta["kind"] != "classifier":
        parser.error(f"argument --proba: {args.model!r} is a regressor (of {meta['target']!r}): no classes")
    table = read_csv(args.data)
    features, target = meta["features"], meta["target"]
    missing = [name for name in features if name not in table.columns]
    if missing:
        what = "a feature" if len(missing) == 1 else "features"
        raise DataError(f"{args.data!r} has no column {_quoted(missing)}, {what} of {args.model!r}")
    extra = [name for name in table.columns if name not in features and name != target]
    if extra:
        raise DataError(
            f"{args.data!r} has column {_quoted(extra)}, which {args.model!r} was not trained on "
            f"(its features: {_quoted(features)}; its target {target!r} may be present and is ignored)"
        )
    scaling = meta["scaling"]
    X = standardise(table.numbers(features), scaling["mean"], scaling["scale"])  # (N, I)
    A = net.predict(X)  # (N, K)

    if meta["kind"] == "regressor":
        s = meta["target_scaling"]
        header = [target]
        rows = [[float(y)] for y in A[:, 0] * s["scale"] + s["mean"]]
    elif args.proba:
        labels = meta["labels"]
        P = np.column_stack([1.0 - A[:, 0], A[:, 0]]) if A.shape[1] == 1 else A
        header = [f"P({label})" for label in labels]
        rows = [[float(p) for p in row] for row in P]
    else:
        labels = meta["labels"]
        header = [target]
        rows = [[labels[k]] for k in _decide(A)]

    if out is None:
        _write_csv(sys.stdout, header, rows)
        sys.stdout.flush()
        return 0
    with _replacing(out) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            _write_csv(fh, header, rows)
            fh.flush()
            os.fsync(fh.fileno())
    print(f"loopnet predict: wrote {len(rows)} predictions to {str(out)!r}", file=sys.stderr)
    return 0


def _write_csv(fh, header: list[str], rows: list[list]) -> None:
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)


def _quoted(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _trained_metadata(net: Network, path: str) -> dict:
    """The model's metadata, checked to be what ``loopnet train`` writes and to fit the network."""
    meta = net.metadata
    if not meta:
        raise DataError(
            f"{path!r} holds a network but no column names or scaling: it was not written by loopnet train"
        )
    bad = f"{path!r} has metadata predict cannot use:"
    if meta.get("kind") not in ("classifier", "regressor"):
        raise DataError(f"{bad} kind {meta.get('kind')!r} is not 'classifier' or 'regressor'")
    features = meta.get("features")
    if not (isinstance(features, list) and all(isinstance(f, str) for f in features)):
        raise DataError(f"{bad} 'features' is not a list of column names")
    if len(features) != net.sizes[0]:
        raise DataError(f"{bad} {len(features)} features for a network of {net.sizes[0]} inputs")
    if not isinstance(meta.get("target"), str):
        raise DataError(f"{bad} 'target' is not a column name")
    scaling = meta.get("scaling")
    if not isinstance(scaling, dict) or not all(
        _numbers(scaling.get(key), len(features)) for key in ("mean", "scale")
    ):
        raise DataError(f"{bad} 'scaling' needs {len(features)} numbers in 'mean' and in 'scale'")
    if meta["kind"] == "classifier":
        labels = meta.get("labels")
        K = net.sizes[-1]
        if not (isinstance(labels, list) and all(isinstance(label, str) for label in labels)):
            raise DataError(f"{bad} 'labels' is not a list of class names")
        if len(labels) != (2 if K == 1 else K):
            raise DataError(f"{bad} {len(labels)} labels for a network of {K} outputs")
    else:
        s = meta.get("target_scaling")
        if not (isinstance(s, dict) and _numbers([s.get("mean"), s.get("scale")], 2)):
            raise DataError(f"{bad} 'target_scaling' needs a 'mean' and a 'scale'")
    return meta


def _numbers(values, n: int) -> bool:
    return (
        isinstance(values, list)
        and len(values) == n
        and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values)
    )


# --- show -------------------------------------------------------------------------------------------------


def _show(args: argparse.Namespace) -> int:
    header = read_header(args.model)  # checks the parameters against the checksum too
    if args.json:
        print(json.dumps(header, indent=2))
        return 0
    for line in _describe(args.model, header):
        print(line)
    return 0


def _describe(path: str, h: dict) -> list[str]:
    """``show``'s lines: the header, then what ``train`` stored; anything else in the metadata as JSON."""
    written = f"loopnet {h['loopnet_version']}" if h.get("loopnet_version") else "loopnet 0.1.0"
    hidden = h["activation"]
    if hidden and len(set(hidden)) == 1:
        hidden_text = f"{hidden[0]} hidden layer{'s' if len(hidden) > 1 else ''}"
    else:
        hidden_text = f"hidden layers {', '.join(hidden)}" if hidden else "no hidden layer"
    checksum = h.get("checksum")
    lines = [
        f"{path}: loopnet model file, format version {h['version']}, written by {written}",
        f"network     {'-'.join(map(str, h['sizes']))}: {hidden_text}, {h['output_activation']} output, "
        f"loss {h['loss']}, {h['dtype']}",
        f"parameters  {h['n_params']}",
        f"checksum    {checksum}, matches the parameters"
        if checksum
        else "checksum    none (format 1 has none)",
    ]
    meta = dict(h.get("metadata") or {})
    if not meta:
        return [*lines, "metadata    none (not written by loopnet train)"]
    kind, target, labels = meta.get("kind"), meta.get("target"), meta.get("labels")
    if kind == "classifier" and isinstance(labels, list):
        lines.append(f"task        classifier of {target!r} into {len(labels)} classes: {_quoted(labels)}")
        for key in ("kind", "target", "labels"):
            meta.pop(key, None)
    elif kind == "regressor" and isinstance(meta.get("target_scaling"), dict):
        s = meta.pop("target_scaling")
        lines.append(
            f"task        regressor of {target!r}, learned standardised: "
            f"(y - {_fmt(s.get('mean'))}) / {_fmt(s.get('scale'))}"
        )
        meta.pop("kind", None), meta.pop("target", None)
    features, scaling = meta.get("features"), meta.get("scaling")
    means, scales = (scaling.get("mean"), scaling.get("scale")) if isinstance(scaling, dict) else (0, 0)
    if isinstance(features, list) and isinstance(means, list) and isinstance(scales, list):
        width = max(len(str(name)) for name in [*features, "column"])
        lines.append(f"features    {len(features)}, standardised as (x - mean) / scale:")
        lines.append(f"              {'column':<{width}}  {'mean':>12}  {'scale':>12}")
        for name, m, s in zip(features, means, scales):
            lines.append(f"              {name!s:<{width}}  {_fmt(m):>12}  {_fmt(s):>12}")
        del meta["features"], meta["scaling"]
    t = meta.pop("training", None)
    if isinstance(t, dict):
        rows = f"{t.get('rows')} rows"
        if t.get("validation_rows"):
            rows += f" + {t['validation_rows']} for validation"
        layers = t.get("layers") or []
        layers = ",".join(map(str, layers)) if isinstance(layers, list) else str(layers)
        setup = f"{t.get('optimizer')} lr {t.get('lr')}, batch {t.get('batch_size')}, seed {t.get('seed')}"
        if t.get("patience"):
            setup += f", patience {t['patience']}"
        lines.append(f"training    {t.get('data')}: {rows}; {t.get('activation')} layers {layers}, {setup}")
        epochs = t.get("epochs")
        result = f"{epochs} epoch{'' if epochs == 1 else 's'} ({t.get('stopped')}"
        if t.get("kept_epoch") != t.get("epochs"):
            result += f", kept epoch {t.get('kept_epoch')}"
        result += f") in {t.get('seconds')} s; loss {_fmt(t.get('loss'), '.4g')}"
        scores = (("val_loss", "val_loss", ".4g"), ("accuracy", "accuracy", ".4f"),
                  ("val_accuracy", "val accuracy", ".4f"), ("r2", "R^2", ".4f"),
                  ("val_r2", "val R^2", ".4f"))  # fmt: skip
        for key, name, spec in scores:
            if t.get(key) is not None:
                result += f", {name} {_fmt(t[key], spec)}"
        lines.append(f"            {result}")
    elif t is not None:
        meta["training"] = t
    if meta:
        lines.append(f"metadata    {json.dumps(meta)}")
    return lines


def _fmt(value, spec: str = ".6g") -> str:
    """A number in ``spec``; anything else as it is (metadata written by hand may hold anything)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return format(value, spec)
