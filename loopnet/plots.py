"""Loss curves drawn with matplotlib, an optional extra (``pip install 'loopnet[plot]'``).

``History.plot`` and ``loopnet train --plot`` draw a fit's loss (and validation
loss); ``loopnet demo NAME --plot`` draws a demo's error curve, as seed 001 does
after training. Figures are built without pyplot's global state (no window, no
GUI backend needed), so they work the same in scripts, servers and notebooks.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping

import numpy as np

INSTALL = "pip install 'loopnet[plot]'  (or: pip install matplotlib)"


def require_matplotlib() -> None:
    """Raise ImportError, saying how to install it, when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(f"plotting needs matplotlib, an optional extra of loopnet: {INSTALL}") from None


def curves(
    lines: Mapping[str, np.ndarray],
    *,
    title: str | None = None,
    xlabel: str = "epoch",
    ylabel: str = "loss",
    log: bool = False,
    ax=None,
):
    """Draw each named curve against its 1-based index; the matplotlib Figure.

    ``ax``: an existing matplotlib Axes to draw into; by default a new Figure.
    ``log``: a logarithmic y axis (non-positive values are not drawn).
    """
    require_matplotlib()
    if not isinstance(log, bool | np.bool_):
        raise TypeError(f"log must be True or False, got {log!r}")
    arrays = {name: np.asarray(values, dtype=float).ravel() for name, values in lines.items()}
    if not arrays or all(a.size == 0 for a in arrays.values()):
        raise ValueError("nothing to plot: no epochs were run")
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8, 5), layout="constrained")
        ax = fig.add_subplot()
    else:
        from matplotlib.axes import Axes

        if not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes (or None for a new Figure), got {ax!r}")
        fig = ax.figure
    for name, values in arrays.items():
        ax.plot(np.arange(1, values.size + 1), values, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    if len(arrays) > 1:
        ax.legend()
    ax.grid(True, alpha=0.3)
    return fig


def save(fig, path: str | os.PathLike) -> None:
    """Write ``fig`` to ``path`` (format from its suffix, PNG without one) through a temporary file.

    The temporary file sits in the same folder and is renamed over ``path`` when
    complete, so an interrupted save never leaves half an image under the name.
    """
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    folder, name = os.path.split(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save the plot to {path}: the folder {folder} does not exist")
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fig.savefig(tmp, format=fmt)
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(err, OSError) and err.errno is not None:  # name the user's path, not ours
            raise type(err)(err.errno, f"cannot save the plot: {err.strerror}", path) from None
        raise


def history(history, path=None, *, log: bool = False, title: str | None = None, ax=None):
    """``History.plot``: the loss curve, and the validation curve when there is one."""
    lines = {"loss": history.get("loss", ())}  # a History no fit has filled: "nothing to plot"
    if "val_loss" in history:
        lines["val_loss"] = history["val_loss"]
    fig = curves(lines, title=title, log=log, ax=ax)
    if path is not None:
        save(fig, path)
    return fig
