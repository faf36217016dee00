"""CSV tables for ``loopnet train`` and ``predict``: cells, columns as numbers or class labels, scaling.

The standard library's ``csv`` module reads the files (headers, quoted fields with commas or newlines
inside, blank lines), strictly: a stray quote is an error, not a silently merged field. Every error
is a :class:`DataError` whose message names the file, the column and the 1-based line of the file, so
the command prints it as it is.

The rules for a target column (``loopnet train --target``) are in :func:`target_of`; the scaling of a
column is ``z = (x - mean) / scale`` with the mean and the standard deviation (ddof 0) of the training
rows, and scale 1 for a column that never changes.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass

import numpy as np

from ._validation import all_finite

MAX_CLASSES_GUESSED = 20
"""Whole numbers with at most this many distinct values (and fewer than half the rows) are class labels."""


CHOOSE_OTHERWISE = "--loss chooses otherwise: mse for numbers, bce or cross_entropy for classes"


class DataError(ValueError):
    """Bad data in an input file; the commands print the message and exit with status 1."""


@dataclass
class Table:
    """A CSV file's header and data rows, as text (whitespace around each cell stripped).

    ``lines[n]`` is the 1-based line of the file on which row ``n`` starts (quoted fields may span
    lines, and blank lines are skipped, so it is not ``n + 2``).
    """

    path: str
    columns: list[str]
    rows: list[list[str]]
    lines: list[int]

    def __len__(self) -> int:
        return len(self.rows)

    def index(self, name: str) -> int:
        """The position of column ``name``; a DataError listing the columns if there is none."""
        try:
            return self.columns.index(name)
        except ValueError:
            raise DataError(
                f"{self.path!r} has no column {name!r}; its columns are {_names(self.columns)}"
            ) from None

    def texts(self, name: str) -> list[str]:
        j = self.index(name)
        return [row[j] for row in self.rows]

    def numbers(self, names: list[str]) -> np.ndarray:
        """The columns ``names`` as an (N, len(names)) float64 matrix; every cell a finite number."""
        columns = [self.index(name) for name in names]
        X = np.empty((len(self.rows), len(columns)))
        for i, j in enumerate(columns):
            try:
                X[:, i] = [float(row[j]) for row in self.rows]
            except ValueError:
                pass  # the cell-by-cell pass below names the first bad one
            else:
                if all_finite(X[:, i]):
                    continue
            for n in range(len(self.rows)):
                X[n, i] = self.number(n, j)
        return X

    def number(self, n: int, j: int) -> float:
        """The cell of row ``n``, column ``j`` as a finite float, or a DataError naming where it is."""
        text = self.rows[n][j]
        try:
            value = float(text)
        except ValueError:
            value = None
        if value is not None and math.isfinite(value):
            return value
        if not text:
            why = "the cell is empty; a number is needed"
        elif value is None:
            why = f"{text!r} is not a number"
        else:
            why = f"{text!r} is not a finite number"
        raise DataError(f"{self.where(n, j)}: {why}")

    def where(self, n: int, j: int) -> str:
        return f"{self.path!r} line {self.lines[n]}, column {self.columns[j]!r}"


def read_csv(path: str | os.PathLike) -> Table:
    """Read a CSV file with a header row; DataError for an empty file, ragged rows or a bad header.

    The header is the first non-blank row. Blank lines (and lines of spaces only) are skipped. A
    byte-order mark is dropped. OSError (no such file, no permission) is left to the caller.
    """
    name = os.fspath(path)
    columns: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    header_line = 0
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, strict=True)
        end = 0  # the line the previous record ended on (blank lines are empty records): this one starts next
        try:
            for record in reader:
                start, end = end + 1, reader.line_num
                cells = [cell.strip() for cell in record]
                if not any(cells) and len(cells) <= 1:
                    continue  # a blank line
                if columns is None:
                    columns, header_line = _header(name, cells, start), start
                    continue
                if len(cells) != len(columns):
                    raise DataError(
                        f"{name!r} line {start} has {_count(len(cells), 'field')}; the header (line "
                        f"{header_line}) has {len(columns)}"
                    )
                rows.append(cells)
                lines.append(start)
        except csv.Error as exc:
            raise DataError(f"{name!r} line {reader.line_num}: not valid CSV: {exc}") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"{name!r} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    if columns is None:
        raise DataError(f"{name!r} is empty: it needs a header row and at least one data row")
    if not rows:
        raise DataError(f"{name!r} has a header (line {header_line}) but no data rows")
    return Table(name, columns, rows, lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _header(path: str, cells: list[str], line: int) -> list[str]:
    for j, name in enumerate(cells):
        if not name:
            raise DataError(f"{path!r} line {line}: column {j + 1} of the header has no name")
    seen: set[str] = set()
    for name in cells:
        if name in seen:
            raise DataError(f"{path!r} line {line}: the header names column {name!r} twice")
        seen.add(name)
    return cells


def _names(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


# --- scaling ------------------------------------------------------------------------------------------


def scaling_of(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column: the mean and standard deviation (ddof 0) of X's rows; scale 1 for a constant column."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[~(scale > 0)] = 1.0
    return mean, scale


def standardise(X: np.ndarray, mean, scale) -> np.ndarray:
    """z[n, i] = (X[n, i] - mean[i]) / scale[i]."""
    return (X - np.asarray(mean, dtype=np.float64)) / np.asarray(scale, dtype=np.float64)


# --- targets ------------------------------------------------------------------------------------------


@dataclass
class Target:
    """What ``train`` learns from the target column: classes or numbers, and how.

    A classifier has ``labels`` (the class names, as stored in the model file) and ``codes`` (each
    row's index into them); a regressor has ``values``. ``note`` is the line that says what was chosen
    and how to choose otherwise.
    """

    name: str
    kind: str  # "classifier" or "regressor"
    output_activation: str
    loss: str
    note: str
    labels: list[str] | None = None
    codes: np.ndarray | None = None
    values: np.ndarray | None = None

    @property
    def n_outputs(self) -> int:
        if self.kind == "regressor" or self.loss == "bce":
            return 1
        return len(self.labels)

    def matrix(self, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """The network's targets for ``rows``: 0/1 (bce), one-hot rows (cross_entropy) or the numbers."""
        if self.kind == "regressor":
            return self.values[rows].reshape(-1, 1)
        codes = self.codes[rows]
        if self.loss == "bce":
            return codes.reshape(-1, 1).astype(np.float64)
        return np.eye(len(self.labels))[codes]


def target_of(table: Table, name: str, loss: str | None = None) -> Target:
    """Read the target column and decide, unless ``loss`` says, whether it holds classes or numbers.

    * Text that is not a number in any cell: class labels, sorted by code point (as ``numpy.unique``
      sorts strings).
    * Whole numbers with exactly 2 distinct values: two classes. With 3 to ``MAX_CLASSES_GUESSED``
      distinct values, fewer than half the number of rows: that many classes. Labels are the numbers
      as written in the file, in numeric order.
    * Any other numbers: a regression target.

    Two classes get one sigmoid output and the ``bce`` loss, more a softmax output and
    ``cross_entropy``, numbers an identity output and ``mse``. ``loss`` overrides the guess: ``mse``
    makes numbers of the column (every cell must be one), ``bce`` or ``cross_entropy`` classes
    (``bce`` needs exactly two).
    """
    j = table.index(name)
    texts = table.texts(name)
    for n, text in enumerate(texts):
        if not text:
            raise DataError(f"{table.where(n, j)}: the target cell is empty")
    values = _floats(texts)
    if values is not None:
        for n, value in enumerate(values):
            if not math.isfinite(value):
                raise DataError(f"{table.where(n, j)}: {texts[n]!r} is not a finite number")
    flag = f"--target {name}"
    if loss == "mse" or (loss is None and values is not None and not _few_whole_numbers(values)):
        if values is None:
            bad = next(n for n, text in enumerate(texts) if _float(text) is None)
            raise DataError(
                f"--loss mse needs numbers in the target column; {table.where(bad, j)}: "
                f"{texts[bad]!r} is not a number"
            )
        y = np.array(values)
        distinct = len(np.unique(y))
        how = "as --loss mse asks" if loss else CHOOSE_OTHERWISE
        note = f"{flag}: numbers ({distinct} distinct values): a regressor, identity output, mse loss ({how})"
        return Target(name, "regressor", "identity", "mse", note, values=y)

    if values is None:
        labels = sorted(set(texts))
        where = {label: k for k, label in enumerate(labels)}
        codes = np.array([where[text] for text in texts], dtype=np.int64)
        what = "text labels"
    else:
        y = np.array(values)
        distinct, first, codes = np.unique(y, return_index=True, return_inverse=True)
        labels = [texts[n] for n in first]
        codes = codes.reshape(-1).astype(np.int64)
        what = "whole numbers" if _whole(y) else "numbers, as labels"
    if len(labels) < 2:
        raise DataError(
            f"target column {name!r} of {table.path!r} holds one class only ({labels[0]!r}): "
            "nothing to tell apart"
        )
    if loss == "bce" and len(labels) != 2:
        raise DataError(
            f"--loss bce needs exactly 2 classes; target column {name!r} holds {len(labels)} "
            f"({_names(labels, 6)}): use --loss cross_entropy"
        )
    how = f"as --loss {loss} asks" if loss else CHOOSE_OTHERWISE
    if loss is None:
        loss = "bce" if len(labels) == 2 else "cross_entropy"
    output = "sigmoid" if loss == "bce" else "softmax"
    note = (
        f"{flag}: {len(labels)} classes ({_names(labels, 6)}) from {what}: a classifier, {output} output, "
        f"{loss} loss ({how})"
    )
    return Target(name, "classifier", output, loss, note, labels=labels, codes=codes)


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _floats(texts: list[str]) -> list[float] | None:
    """Every cell as a float, or None if any is not a number."""
    out = []
    for text in texts:
        value = _float(text)
        if value is None:
            return None
        out.append(value)
    return out


def _whole(y: np.ndarray) -> bool:
    return bool(np.all(y == np.floor(y)))


def _few_whole_numbers(values: list[float]) -> bool:
    y = np.array(values)
    if not _whole(y):
        return False
    distinct = len(np.unique(y))
    return distinct == 2 or (3 <= distinct <= MAX_CLASSES_GUESSED and distinct < len(y) / 2)
