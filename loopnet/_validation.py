"""Input checks run by the public functions before any compiled code.

Compiled kernels never validate, so every public entry point funnels user
input through here: a wrong shape, a NaN or a bad name becomes a ValueError or
TypeError that says what was wrong and what was expected, never a Numba typing
error. Nothing the caller handed in is modified: an array that is already what
the kernels take (C-contiguous, writeable, of the network's dtype) is passed on
as it is, since compiled code only reads X and Y, and anything else is copied
once. A read-only array is copied too: Numba would compile a second build of
every kernel for its read-only type.
"""

from __future__ import annotations

import numbers

import numpy as np

DTYPES = ("float64", "float32")


def check_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be 'float64' or 'float32', got {dtype!r}") from exc
    if dt.name not in DTYPES:
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dt.name!r}")
    return dt


INT64_MAX = 2**63 - 1
"""The largest count compiled code holds (its counters are 64-bit integers)."""


def check_int(value, name: str, *, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return int(value)


def check_positive_float(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def as_matrix(data, name: str, n_columns: int, dtype: np.dtype, *, allow_1d: bool = False) -> np.ndarray:
    """``data`` as a C-contiguous (N, n_columns) array of ``dtype``, checked: finite, the right shape.

    ``data`` itself (or a view of it) when it already is one and is writeable, else a copy; the
    caller's array is never written either way (see the module docstring). With ``allow_1d``
    (targets of a one-output network), a 1-D array of length N is taken as N rows of one column.
    """
    if data is None:
        raise TypeError(f"{name} must be an array of numbers, got None")
    if isinstance(data, str | bytes):
        raise TypeError(f"{name} must be an array of numbers, got a string")
    try:
        arr = np.asarray(data)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array of numbers: {exc}") from exc
    if arr.dtype.kind in "USV":
        raise TypeError(f"{name} must hold numbers; got an array of dtype {arr.dtype}")
    if arr.dtype.kind == "O":  # e.g. a list mixing Python and NumPy numbers
        if any(v is None or isinstance(v, str | bytes) for v in arr.flat):
            raise TypeError(f"{name} must hold numbers only; it holds None or strings")
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must hold numbers; got an array of dtype {arr.dtype}") from exc
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real; got complex dtype {arr.dtype}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers; got an array of dtype {arr.dtype}")
    if arr.ndim == 1 and allow_1d and n_columns == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        hint = ""
        if arr.ndim == 1:
            hint = (
                f"; for one sample use {name}.reshape(1, -1), for one feature {name}.reshape(-1, 1)"
                if not allow_1d
                else "; a 1-D array is only accepted for a network with one output"
            )
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, {n_columns}); "
            f"got {arr.ndim}-D array of shape {arr.shape}{hint}"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no rows: at least one sample is needed")
    if arr.shape[1] != n_columns:
        raise ValueError(
            f"{name} must have {n_columns} columns (the network's layer size); got shape {arr.shape}"
        )
    if arr.dtype == dtype and arr.flags.c_contiguous and arr.flags.writeable and arr.flags.aligned:
        out = arr
    else:
        with np.errstate(over="ignore"):  # a value too big for float32 is reported below, not warned about
            out = np.array(arr, dtype=dtype, order="C", copy=True)
    if not all_finite(out):
        bad = np.argwhere(~np.isfinite(out))[0]
        where = f"{name}[{bad[0]}, {bad[1]}]"
        if np.all(np.isfinite(arr.astype(np.float64))):
            raise ValueError(f"{where} = {arr[tuple(bad)]} does not fit in {dtype.name}")
        raise ValueError(f"{name} must hold only finite numbers; {where} is {arr[tuple(bad)]}")
    return out


def all_finite(arr: np.ndarray) -> bool:
    """Whether every entry of a float array is finite, in one pass that allocates nothing.

    A NaN or an infinity makes the sum NaN or infinite; a sum that overflows from finite entries
    alone is settled by the exact test.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(arr.sum()):
            return True
    return bool(np.isfinite(arr).all())


def check_same_rows(X: np.ndarray, Y: np.ndarray, names: tuple[str, str] = ("X", "Y")) -> None:
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same number of samples; "
            f"got {X.shape[0]} and {Y.shape[0]}"
        )
