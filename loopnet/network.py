"""``loopnet.Network``: parameters, work buffers and the backend switch.

The network owns one flat, contiguous array of parameters; ``weights`` and the
kernels see per-layer views of it (layout in ``kernels.py``). That makes the
SGD update one loop over every parameter, save/load one array, and lets any
number of layers into compiled code without typed lists.

``backend="loops"`` runs the fast compiled loops of ``fast.py`` -- a whole
``fit`` is one call into compiled code. ``backend="numpy"`` runs the twins in
``kernels_np.py``, ``backend="plain"`` the reading-path loops of ``kernels.py``
that both are tested against. All three give the same numbers to rounding.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import secrets
import struct
import tokenize
import zipfile
import zlib
from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np

from . import fast as _fast
from . import kernels as _loops
from . import kernels_np as _numpy
from . import training as _training
from ._validation import (
    all_finite,
    as_matrix,
    check_dtype,
    check_int,
    check_same_rows,
)
from .activations import LEAKY_RELU, RELU
from .activations import code_of as _activation_code
from .losses import BCE, CROSS_ENTROPY, POISSON
from .losses import code_of as _loss_code

BACKENDS: dict[str, SimpleNamespace] = {
    "loops": SimpleNamespace(
        forward_pass=_fast.forward_pass,
        backward_pass=_fast.backward_pass,
        loss_value=_fast.loss_value,
        train_epochs=_fast.train_epochs,
    ),
    "numpy": SimpleNamespace(
        forward_pass=_numpy.forward_pass_np,
        backward_pass=_numpy.backward_pass_np,
        loss_value=_numpy.loss_value_np,
        train_epochs=_numpy.train_epochs_np,
    ),
    "plain": SimpleNamespace(
        forward_pass=_loops.forward_pass,
        backward_pass=_loops.backward_pass,
        loss_value=_loops.loss_value,
        train_epochs=_loops.train_epochs,
    ),
}
"""Backend name -> the four whole-network kernels it runs (same signatures)."""

INITS = ("auto", "glorot", "he", "normal")

FORMAT_VERSION = 2
"""The model-file format :meth:`Network.save` writes (layout above :func:`_read`)."""

READABLE_VERSIONS = (1, 2)
"""The format versions :func:`load` reads: 1 is loopnet 0.1.0's."""


class Network:
    """A feed-forward network (multi-layer perceptron) trained by gradient descent.

    Parameters
    ----------
    sizes : sequence of int
        Units per layer, input first: ``[n0, n1, ..., nL]``. ``[3, 1]`` is a
        perceptron; ``[2, 2, 1]`` the matrix-only article's AND network.
    activation : str or sequence of str
        Activation of every hidden layer, or one name per hidden layer. One of
        ``identity, sigmoid, tanh, relu, leaky_relu``.
    output_activation : str
        Activation of the output layer; ``softmax`` and ``exp`` are allowed here only.
    loss : {"sse", "mse", "bce", "cross_entropy", "poisson"}
        Definitions in docs/design.md and ``loopnet.losses``. ``bce`` needs a
        sigmoid output, ``cross_entropy`` a softmax output, ``poisson`` (the
        half Poisson deviance, targets >= 0) an exp output.
    backend : {"loops", "numpy", "plain"}
        The fast compiled loops (multi-threaded where that pays: set the
        thread count with ``numba.set_num_threads``), their NumPy twin, or the
        plain reading-path loops. Can be changed later.
    dtype : {"float64", "float32"}
    seed : int, numpy.random.Generator or None
        Seeds the initial weights and the minibatch shuffling.
    init : {"auto", "glorot", "he", "normal"}
        Weight initialisation. ``auto``: He (normal, std sqrt(2 / fan_in)) for
        layers with relu or leaky_relu, Glorot/Xavier (uniform, limit
        sqrt(6 / (fan_in + fan_out))) otherwise, biases zero. ``normal``: the
        articles' choice, every weight and bias drawn from N(0, 1).

    Examples
    --------
    >>> import numpy as np, loopnet
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    >>> Y = np.array([0, 0, 0, 1])
    >>> net = loopnet.Network([2, 2, 1], seed=0)
    >>> history = net.fit(X, Y, epochs=5000, lr=2.0)
    >>> bool(history["loss"][-1] < history["loss"][0])
    True
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str | Sequence[str] = "sigmoid",
        output_activation: str = "sigmoid",
        loss: str = "sse",
        backend: str = "loops",
        dtype: str | np.dtype = "float64",
        seed: int | np.random.Generator | None = None,
        init: str = "auto",
    ) -> None:
        self.sizes = _check_sizes(sizes)
        n_hidden = len(self.sizes) - 2
        if isinstance(activation, str):
            hidden = [activation] * n_hidden  # validated with the codes below
            if not n_hidden:  # no hidden layer: the name is unused, but a misspelling should still be caught
                _activation_code(activation, hidden=False)
        elif isinstance(activation, Sequence) and not isinstance(activation, bytes):
            hidden = list(activation)
            if len(hidden) != n_hidden:
                raise ValueError(
                    f"activation needs one name per hidden layer: {n_hidden} for sizes "
                    f"{list(self.sizes)}; got {len(hidden)}"
                )
        else:
            raise TypeError(
                f"activation must be a name like 'relu' or a list of names, one per hidden layer; "
                f"got {type(activation).__name__} {activation!r}"
            )
        codes = [_activation_code(name, hidden=True) for name in hidden]
        codes.append(_activation_code(output_activation, hidden=False))
        if output_activation == "softmax" and self.sizes[-1] < 2:
            raise ValueError("a softmax output needs at least 2 output units (1 unit is always 1.0)")
        self.activations: tuple[str, ...] = (*hidden, output_activation)
        self.loss_name = loss
        self._loss_code = _loss_code(loss, output_activation)
        self._acts = np.array(codes, dtype=np.int64)
        self._sizes = np.array(self.sizes, dtype=np.int64)
        self.backend = backend
        self.dtype = check_dtype(dtype)
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; expected one of {', '.join(INITS)}")
        self.init = init
        if seed is not None and not isinstance(seed, np.random.Generator):
            seed = check_int(seed, "seed", minimum=0)
        self._rng = np.random.default_rng(seed)
        self.params = np.empty(self.n_params, dtype=self.dtype)
        self._initialise()
        self.metadata: dict = {}
        """JSON values saved with the network (the CLI keeps its scaling and label names here)."""

    # --- structure --------------------------------------------------------------

    @property
    def backend(self) -> str:
        """``"loops"`` (fast compiled loops), ``"numpy"`` (their twin) or ``"plain"`` (reading-path loops)."""
        return self._backend

    @backend.setter
    def backend(self, name: str) -> None:
        if not isinstance(name, str) or name not in BACKENDS:
            raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
        self._backend = name
        self._kernels = BACKENDS[name]

    @property
    def n_layers(self) -> int:
        """Number of weight layers L (one less than ``len(sizes)``)."""
        return len(self.sizes) - 1

    @property
    def n_params(self) -> int:
        """Total number of weights and biases."""
        return sum(i * j + j for i, j in zip(self.sizes[:-1], self.sizes[1:]))

    def _views(self, flat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        return [_loops.param_views(flat, self._sizes, l) for l in range(self.n_layers)]

    def _initialise(self) -> None:
        for l, (W, b) in enumerate(self._views(self.params)):
            fan_in, fan_out = W.shape
            scheme = self.init
            if scheme == "auto":
                scheme = "he" if self._acts[l] in (RELU, LEAKY_RELU) else "glorot"
            if scheme == "normal":
                W[...] = self._rng.standard_normal(W.shape)
                b[...] = self._rng.standard_normal(b.shape)
            elif scheme == "he":
                W[...] = self._rng.normal(0.0, np.sqrt(2.0 / fan_in), W.shape)
                b[...] = 0.0
            else:
                limit = np.sqrt(6.0 / (fan_in + fan_out))
                W[...] = self._rng.uniform(-limit, limit, W.shape)
                b[...] = 0.0

    # --- parameters -------------------------------------------------------------

    @property
    def weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """A copy of the parameters: ``[(W, b), ...]``, W of shape (n_in, n_out), b (n_out,)."""
        return [(W.copy(), b.copy()) for W, b in self._views(self.params)]

    def set_weights(self, weights: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
        """Replace every parameter; ``weights`` has the structure of :attr:`weights`."""
        expected = f"a list of {self.n_layers} (W, b) pairs, one per layer, like net.weights"
        if not isinstance(weights, Sequence) or isinstance(weights, str | bytes):
            raise TypeError(f"weights must be {expected}; got {type(weights).__name__}")
        if len(weights) != self.n_layers:
            raise ValueError(f"weights must be {expected}; got {len(weights)} items")
        new = np.empty_like(self.params)
        for l, (pair, (W, b)) in enumerate(zip(weights, self._views(new))):
            is_pair = isinstance(pair, Sequence) and not isinstance(pair, str | bytes)
            if not is_pair or len(pair) != 2:
                got = f"{len(pair)} items" if is_pair else type(pair).__name__
                raise ValueError(f"weights[{l}] must be a (W, b) pair; got {got}")
            for name, src, dst in (("W", pair[0], W), ("b", pair[1], b)):
                try:
                    arr = np.asarray(src)
                except ValueError as exc:  # ragged nested lists
                    raise ValueError(
                        f"layer {l} {name} must be a rectangular array of numbers: {exc}"
                    ) from None
                if arr.dtype.kind not in "biuf":
                    raise TypeError(f"layer {l} {name} must hold real numbers, got dtype {arr.dtype}")
                if arr.shape != dst.shape:
                    raise ValueError(f"layer {l} {name} must have shape {dst.shape}, got {arr.shape}")
                if not np.all(np.isfinite(arr)):
                    at = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
                    raise ValueError(
                        f"layer {l} {name} must hold only finite numbers; {name}{list(at)} is {arr[at]}"
                    )
                with np.errstate(over="ignore"):
                    dst[...] = arr
                if not np.all(np.isfinite(dst)):
                    raise ValueError(f"layer {l} {name} has values that do not fit in {self.dtype.name}")
        self.params[...] = new

    # --- data -------------------------------------------------------------------

    def _check_X(self, X, name: str = "X") -> np.ndarray:
        return as_matrix(X, name, self.sizes[0], self.dtype)

    def _check_XY(self, X, Y, names: tuple[str, str] = ("X", "Y")) -> tuple[np.ndarray, np.ndarray]:
        X = self._check_X(X, names[0])
        Y = as_matrix(Y, names[1], self.sizes[-1], self.dtype, allow_1d=True)
        check_same_rows(X, Y, names)
        if self._loss_code == BCE and (Y.min() < 0 or Y.max() > 1):
            raise ValueError(f"loss 'bce' needs targets in [0, 1]; {_first(Y, (Y < 0) | (Y > 1), names[1])}")
        if self._loss_code == CROSS_ENTROPY:
            if Y.min() < 0:
                raise ValueError(
                    f"loss 'cross_entropy' needs non-negative targets (one-hot rows); "
                    f"{_first(Y, Y < 0, names[1])}"
                )
            _check_probability_rows(Y, names[1])
        if self._loss_code == POISSON and Y.min() < 0:
            raise ValueError(
                f"loss 'poisson' needs non-negative targets (counts or rates); {_first(Y, Y < 0, names[1])}"
            )
        return X, Y

    def _work(self, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Flat z, a and delta buffers with room for ``rows`` samples."""
        units = sum(self.sizes[1:])
        return tuple(np.empty(rows * units, dtype=self.dtype) for _ in range(3))

    def _forward(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        zbuf, abuf, dbuf = self._work(X.shape[0])
        with np.errstate(all="ignore"):  # the twin overflowing: forward, loss, gradients report it, unwarned
            self._kernels.forward_pass(self.params, self._sizes, self._acts, X, zbuf, abuf)
        return zbuf, abuf, dbuf

    def _output(self, buf: np.ndarray, rows: int) -> np.ndarray:
        return _loops.work_view(buf, self._sizes, self.n_layers - 1, rows)

    # --- the public API ---------------------------------------------------------

    def forward(self, X) -> np.ndarray:
        """Output activations for the rows of X: shape (N, nL).

        When the arithmetic overflowed on the way (a pre-activation z of any layer, or the output, is inf
        or NaN) it raises :class:`NonFiniteError`: even sigmoid(inf) = 1 stands on a number that is lost.
        """
        X = self._check_X(X)
        zbuf, abuf, _ = self._forward(X)
        out = self._output(abuf, X.shape[0]).copy()
        if not (all_finite(zbuf) and all_finite(out)):
            raise _not_finite(self, "forward: the output", X, "the output layer")
        return out

    def _forward_as_computed(self, X) -> np.ndarray:
        """forward's output, inf or NaN left in (the estimators return it, as scikit-learn does)."""
        X = self._check_X(X)
        _, abuf, _ = self._forward(X)
        return self._output(abuf, X.shape[0]).copy()

    def predict(self, X) -> np.ndarray:
        """The same as :meth:`forward` (estimators add labels and thresholds)."""
        return self.forward(X)

    def loss(self, X, Y, sample_weight=None) -> float:
        """The loss of the network on (X, Y), as defined in docs/design.md.

        With ``sample_weight`` (N non-negative numbers), a mean loss becomes
        ``sum_n w_n l_n / sum_n w_n`` and sse ``sum_n w_n l_n``: integer weights
        equal repeated rows. When the arithmetic overflowed on the way (as for :meth:`forward`, or in
        the loss's sums) it raises :class:`NonFiniteError`.
        """
        X, Y = self._check_XY(X, Y)
        sw = _training._sample_weight(sample_weight, X.shape[0])
        zbuf, abuf, _ = self._forward(X)
        N = X.shape[0]
        with np.errstate(all="ignore"):  # the twin overflowing: reported below, not warned about
            value = float(
                self._kernels.loss_value(self._loss_code, self._output(zbuf, N), self._output(abuf, N), Y, sw)
            )
        if not (np.isfinite(value) and all_finite(zbuf)):
            raise _not_finite(self, f"loss: the loss ({value})", X, "the loss's float64 sum")
        return value

    def gradients(self, X, Y, sample_weight=None) -> list[tuple[np.ndarray, np.ndarray]]:
        """The gradient of :meth:`loss` on (X, Y): ``[(dW, db), ...]`` shaped like :attr:`weights`.

        When the arithmetic overflowed on the way (as for :meth:`forward`, or in the backward pass)
        it raises :class:`NonFiniteError`.
        """
        X, Y = self._check_XY(X, Y)
        sw = _training._sample_weight(sample_weight, X.shape[0])
        zbuf, abuf, dbuf = self._forward(X)
        grads = np.empty_like(self.params)
        with np.errstate(all="ignore"):  # the twin overflowing: reported below, not warned about
            self._kernels.backward_pass(
                self.params, grads, self._sizes, self._acts, self._loss_code, X, Y, sw, zbuf, abuf, dbuf
            )
        if not (all_finite(grads) and all_finite(zbuf)):
            raise _not_finite(self, "gradients: the gradient", X, "the backward pass")
        return [(dW.copy(), db.copy()) for dW, db in self._views(grads)]

    def fit(
        self,
        X,
        Y,
        epochs: int = 1000,
        lr: float | None = None,
        batch_size: int | None = None,
        *,
        optimizer: _training.Optimizer | None = None,
        schedule=None,
        shuffle: bool = True,
        sample_weight=None,
        validation=None,
        early_stopping: _training.EarlyStopping | None = None,
        l2: float = 0.0,
        callbacks=(),
        progress: bool = False,
    ) -> _training.History:
        """Train by minibatch gradient descent; every epoch runs in compiled code.

        Parameters
        ----------
        X : array of shape (N, n0)
        Y : array of shape (N, nL), or (N,) for one output
        epochs : int
            Passes over the data.
        lr : float, optional
            Learning rate of plain SGD (``w -= lr * dL/dw``), 0.5 if not given.
            With an ``optimizer``, give the learning rate to the optimizer.
        batch_size : int or None
            Rows per gradient step; None (or >= N) is full batch.
        optimizer : loopnet.SGD, loopnet.Adam or loopnet.AdamW, optional
            The update rule (torch.optim's rules; weight decay on weights
            only). The object keeps its state, so a second fit with the same
            object continues where the first stopped.
        schedule : None, str or array of shape (epochs,)
            The learning rate of each epoch: ``"constant"``, ``"invscaling"``,
            ``"step"``, ``"cosine"`` (see ``loopnet.learning_rates``) or an
            array of positive numbers. None: the optimizer's lr throughout.
        shuffle : bool
            Shuffle the rows every epoch (by a generator seeded from ``seed``,
            identically on every backend); False takes batches in row order.
        sample_weight : array of shape (N,), optional
            Non-negative weights: a mean loss becomes ``sum_n w_n l_n / sum_n w_n``
            over each batch (sse: ``sum_n w_n l_n``), so integer weights equal
            repeated rows.
        validation : (X_val, Y_val) or (X_val, Y_val, weights), optional
            Rows whose loss is computed after every epoch (``history["val_loss"]``).
        early_stopping : loopnet.EarlyStopping, optional
            Stop when the monitored loss stops improving.
        l2 : float
            An L2 penalty on the weights (not the biases), scikit-learn's
            ``alpha``: each batch's loss gains ``l2 / 2 * sum(W**2) / S``, with S
            the batch's total sample weight (its rows, unweighted), and its
            gradient ``l2 * W / S``. Unlike an optimizer's ``weight_decay`` it is
            part of the loss, so ``history["loss"]`` includes it.
        callbacks : callable or sequence of callables
            Each called as ``f(network, history)`` between chunks of epochs
            (about every 0.1 s); returning True stops training.
        progress : bool
            Show a progress bar (tqdm: epochs, loss, val_loss, epochs/s).

        Returns
        -------
        loopnet.History
            A dict of per-epoch arrays ``"loss"`` (each batch measured before
            its update; for full batch, exactly ``loss(X, Y)`` before that
            epoch's step), ``"val_loss"``, ``"lr"``, ``"seconds"``, with
            ``history.stopped`` and ``history.best_epoch``.

        Raises
        ------
        loopnet.DivergenceError
            A loss or parameter became infinite or NaN: the network is put
            back at the last finite epoch first.

        Ctrl-C stops training at the end of the running chunk (at most about
        0.1 s later); the network keeps its last completed epoch and the
        history matches (``history.stopped == "interrupted"``).
        """
        return _training.fit(
            self, X, Y, epochs, lr, batch_size, optimizer=optimizer, schedule=schedule, shuffle=shuffle,
            sample_weight=sample_weight, validation=validation, early_stopping=early_stopping,
            l2=l2, callbacks=callbacks, progress=progress,
        )  # fmt: skip

    def explain(self, X, Y, **options):
        """One training step on (X, Y), every equation with its kernel, shapes and numbers.

        Returns the record ``loopnet explain`` prints (``print(record)`` shows
        it); the network itself is not changed. Options and the record are
        described in :func:`loopnet.explain.explain` and docs/explain.md.
        """
        from . import explain

        return explain.explain(self, X, Y, **options)

    # --- persistence ------------------------------------------------------------

    def config(self) -> dict:
        """Everything but the parameters needed to rebuild this network."""
        return {
            "sizes": list(self.sizes),
            "activation": list(self.activations[:-1]),
            "output_activation": self.activations[-1],
            "loss": self.loss_name,
            "backend": self.backend,
            "dtype": self.dtype.name,
            "init": self.init,
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write the configuration, :attr:`metadata` and parameters to ``path`` (a ``.npz`` file, no pickle).

        The file holds the parameters and a JSON header: the format version, the
        configuration, loopnet's version, the metadata and a SHA-256 checksum of
        the parameters (see :func:`load`). It is written atomically: to a
        temporary file in the same folder, flushed to disk, then renamed over
        ``path``. A crash or Ctrl-C during the save leaves the previous file
        (or none), never a partial one.
        """
        path = _check_path(path)
        if os.path.isdir(path):
            raise IsADirectoryError(
                errno.EISDIR, "is a directory; Network.save needs a file name", os.fspath(path)
            )
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(errno.ENOENT, "no such directory to save the model in", folder)
        header = _header(self)
        _write_atomically(path, params=self.params, header=np.array(header))

    def __repr__(self) -> str:
        c = self.config()
        return (
            f"Network({c['sizes']}, activation={c['activation']}, "
            f"output_activation={c['output_activation']!r}, "
            f"loss={c['loss']!r}, backend={c['backend']!r}, dtype={c['dtype']!r})"
        )


class NonFiniteError(ValueError, OverflowError):
    """``forward``, ``loss`` or ``gradients`` met a number its dtype cannot hold (inf, or NaN from inf - inf).

    The inputs are checked to be finite, so are the weights ``set_weights`` takes: the arithmetic
    overflowed. Raised instead of returning inf or NaN, or a number computed from one (sigmoid(inf) = 1
    is 1 only if the inf had the right sign, which an overflowed sum does not promise), the message
    naming the first layer's z (pre-activation) or a (activation) that is not finite. A ``ValueError``,
    like every bad-input error, and an ``OverflowError``.
    """


def _not_finite(net: Network, what: str, X, after: str) -> NonFiniteError:
    """The error for a result that is not finite, naming where it began: the first layer whose z or a
    is not (the forward pass run again), else ``after`` (the loss's sum, the backward pass)."""
    if not np.isfinite(net.params).all():
        cause = "the parameters hold inf or NaN (written into net.params directly?)"
    else:
        cause = f"the arithmetic overflowed in {after}"
        zbuf, abuf, _ = net._forward(X)
        for l in range(net.n_layers):
            z, a = (_loops.work_view(buf, net._sizes, l, X.shape[0]) for buf in (zbuf, abuf))
            name, v = ("z", z) if not np.isfinite(z).all() else ("a", a)
            if not np.isfinite(v).all():
                n, j = (int(i) for i in np.argwhere(~np.isfinite(v))[0])
                cause = (f"the arithmetic overflowed {net.dtype.name} in layer {l + 1}'s {name} "
                         f"({net.activations[l]}; row {n}, unit {j} is {v[n, j]})")  # fmt: skip
                break
    return NonFiniteError(
        f"{what} is not finite: {cause}. |X| is up to {float(np.abs(X).max()):.3g}, the parameters up "
        f"to {float(np.abs(net.params).max()):.3g}: scale the inputs (standardise them) or the weights down."
    )


def load(path: str | os.PathLike) -> Network:
    """Read a network written by :meth:`Network.save`, with its :attr:`~Network.metadata`.

    Reads format version 2 (this loopnet's) and 1 (loopnet 0.1.0's, which had
    no checksum or metadata). The file is read with pickling off: a file that
    holds pickled Python objects (which could run code when unpickled) is
    refused before anything is unpickled.

    Raises
    ------
    ValueError
        For an empty, truncated or corrupted file (the parameters' checksum
        catches flipped bytes), a file of another format version, or a file
        loopnet did not write; the message names the file and the problem.
    OSError
        When the file cannot be opened (``FileNotFoundError``, ``PermissionError``...).
    """
    header, params = _read(path)
    net = _network_from(header, path)
    if params.shape != net.params.shape:
        raise ValueError(
            f"{os.fspath(path)!r} holds {params.size} parameters; its network {list(net.sizes)} "
            f"needs {net.n_params}: the file is corrupted"
        )
    net.params[...] = params
    net.metadata = header.get("metadata", {})
    return net


def read_header(path: str | os.PathLike) -> dict:
    """The validated JSON header of a model file (checksum verified), without building the network.

    Keys: ``format``, ``version``, ``loopnet_version`` (None for version 1
    files), the :meth:`Network.config` keys, ``n_params``, ``checksum`` (None
    for version 1) and ``metadata``. Raises like :func:`load`.
    """
    header, params = _read(path)
    _network_from(header, path)  # the configuration must build a network
    return {
        "loopnet_version": None, "checksum": None, "metadata": {}, **header, "n_params": int(params.size),
    }  # fmt: skip


# --- the file format ----------------------------------------------------------------------------
#
# An uncompressed .npz (a zip of .npy files, whose entries zip protects with a CRC-32) of two entries:
#   params  the flat parameter vector (float64 or float32), layout in kernels.py
#   header  a 0-d unicode array holding one JSON object:
#           {"format": "loopnet", "version": 2, "loopnet_version": "0.1.0",
#            "sizes": [...], "activation": [...], "output_activation": ..., "loss": ..., "backend": ...,
#            "dtype": ..., "init": ..., "n_params": n, "checksum": "sha256:<hex>", "metadata": {...}}
#           checksum: SHA-256 of the parameters' bytes, little-endian.
# Version 1 (loopnet 0.1.0) named the header "config" and had no loopnet_version, n_params, checksum
# or metadata.

_CONFIG_KEYS = ("sizes", "activation", "output_activation", "loss", "backend", "dtype", "init")


def _checksum(params: np.ndarray) -> str:
    little = np.ascontiguousarray(params, dtype=params.dtype.newbyteorder("<"))
    return "sha256:" + hashlib.sha256(little.tobytes()).hexdigest()


def _header(net: Network) -> str:
    from . import __version__

    try:
        json.dumps(net.metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"network.metadata must hold only JSON values (str, finite numbers, bool, None, lists and "
            f"dicts with str keys): {exc}"
        ) from None
    if not isinstance(net.metadata, dict):
        raise TypeError(f"network.metadata must be a dict, got {type(net.metadata).__name__}")
    return json.dumps(
        {
            "format": "loopnet",
            "version": FORMAT_VERSION,
            "loopnet_version": __version__,
            **net.config(),
            "n_params": net.n_params,
            "checksum": _checksum(net.params),
            "metadata": net.metadata,
        },
        allow_nan=False,
    )


def _write_atomically(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """``np.savez(path, **arrays)``, but through a temporary file in the same folder, synced, then renamed."""
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:  # os.open inside: a Ctrl-C arriving during it is raised as it returns, before `fd` is bound
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for open()
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except FileExistsError:  # O_EXCL met a file of that name: not ours to remove
        raise
    except BaseException:  # KeyboardInterrupt included: never leave the temporary file behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX); not possible everywhere
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


_UNREADABLE = (
    ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, struct.error, UnicodeError,
    NotImplementedError,  # zip: "That compression method is not supported"
    RuntimeError,  # zip: "File is encrypted"
    MemoryError,  # a corrupted .npy header claiming an enormous shape
    OverflowError,  # ... or a dimension beyond 64 bits
    TypeError,  # ... or a shape of booleans with a structured dtype ("an integer is required")
    SyntaxError, tokenize.TokenError,  # ... or a header text NumPy's fallback parser cannot tokenize
)  # fmt: skip
"""What NumPy and zipfile raise for bytes that are not a whole, valid .npz."""


@np.errstate(all="ignore")  # a forged .npy shape overflows NumPy's count of elements: one error, no warning
def _entries(path, where: str, not_ours: str) -> tuple[str, np.ndarray, np.ndarray]:
    """The name of the header entry, the header and the parameters of a .npz, never unpickling."""
    with open(path, "rb") as fh:  # ours to close: np.load leaves the file it opens open when the zip is bad
        return _npz_entries(fh, path, where, not_ours)


def _npz_entries(fh, path, where: str, not_ours: str) -> tuple[str, np.ndarray, np.ndarray]:
    """:func:`_entries` of the open file ``fh`` (``path``'s)."""
    try:
        data = np.load(fh, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc):  # NumPy takes any file that is neither a .npz nor a .npy for a pickle
            head = _first_bytes(path)
            if head.startswith((b"\x80", b"\x93NUMPY")):  # a pickle (protocol >= 2), or a .npy of objects
                raise ValueError(f"{not_ours}: it holds pickled objects, which loopnet never loads") from None
            raise ValueError(f"{not_ours}: it is not a NumPy .npz file (it starts with {head!r})") from None
        raise ValueError(f"{not_ours}: {exc}") from None
    except (*_UNREADABLE, OSError) as exc:
        raise ValueError(
            f"{where} is not a whole loopnet model file (truncated or corrupted?): {exc}"
        ) from None
    if not isinstance(data, np.lib.npyio.NpzFile):  # a plain .npy array
        raise ValueError(not_ours)
    with data:
        key = "header" if "header" in data.files else "config"
        if key not in data.files or "params" not in data.files:
            raise ValueError(f"{not_ours}: it has no loopnet header and parameters")
        try:
            header, params = data[key], data["params"]
            for name in (key, "params"):  # zip checks CRC-32 at an entry's end, where NumPy may not read to
                member = name if name in data.zip.namelist() else f"{name}.npy"
                with data.zip.open(member) as entry:
                    while entry.read(1 << 20):
                        pass
        except ValueError as exc:
            if "pickle" in str(exc):  # an object array: loading it would unpickle
                raise ValueError(f"{not_ours}: it holds pickled objects, which loopnet never loads") from None
            raise ValueError(f"{where} is a corrupted loopnet model file: {exc}") from None
        except (*_UNREADABLE, OSError) as exc:  # e.g. zip's CRC-32 check: changed bytes
            raise ValueError(f"{where} is a corrupted loopnet model file: {exc}") from None
    # NumPy hands back an entry without .npy's magic number as its raw bytes
    if not (isinstance(header, np.ndarray) and isinstance(params, np.ndarray)):
        raise ValueError(f"{not_ours}: its entries have the wrong kind")
    return key, header, params


def _read(path: str | os.PathLike) -> tuple[dict, np.ndarray]:
    """The header and parameters of a model file, every check passed."""
    path = _check_path(path)
    where = repr(os.fspath(path))
    not_ours = f"{where} is not a loopnet model file (write one with Network.save)"
    if not os.path.isdir(path) and os.path.exists(path) and os.path.getsize(path) == 0:
        raise ValueError(f"{where} is empty (0 bytes), not a loopnet model file")
    key, raw_header, params = _entries(path, where, not_ours)
    if raw_header.dtype.kind != "U" or raw_header.ndim != 0 or params.dtype.kind != "f" or params.ndim != 1:
        raise ValueError(f"{not_ours}: its entries have the wrong kind")

    def no_constant(name: str):  # NaN and Infinity: Python's extensions to JSON, which save never writes
        raise ValueError(f"{name} is not a JSON number")

    try:
        header = json.loads(str(raw_header), parse_constant=no_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{not_ours}: its header is not valid JSON ({exc})") from None
    except (ValueError, RecursionError) as exc:  # a number of over 4300 digits; nesting Python cannot recurse
        raise ValueError(f"{not_ours}: its header cannot be read as JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != "loopnet" or "version" not in header:
        raise ValueError(not_ours)
    version = header["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValueError(f"{not_ours}: its format version is {version!r}, not a whole number")
    expected_key = "config" if version == 1 else "header"
    if version not in READABLE_VERSIONS:
        age = "newer" if version > FORMAT_VERSION else "older"
        raise ValueError(
            f"{where} has file format version {version}, {age} than the versions this loopnet reads "
            f"({', '.join(map(str, READABLE_VERSIONS))}); it was written by loopnet "
            f"{header.get('loopnet_version', 'of another version')}"
        )
    if key != expected_key:
        raise ValueError(f"{not_ours}: a version {version} file keeps its header in {expected_key!r}")
    if version >= 2:
        _check_v2(header, params, where)
    elif header.get("dtype") != params.dtype.name:  # no checksum in version 1: a changed .npy dtype loads
        raise ValueError(
            f"{where}: its header says dtype {header.get('dtype')!r} but the parameters are "
            f"{params.dtype.name}: the file is corrupted"
        )
    elif not isinstance(header.get("metadata", {}), dict):  # none in version 1; one added by hand
        raise ValueError(f"{where}: its metadata is not a JSON object: the file is corrupted")
    sizes = header.get("sizes")
    if isinstance(sizes, list) and all(type(s) is int for s in sizes):  # checked before that network is built
        needed = sum(sizes[l] * sizes[l + 1] + sizes[l + 1] for l in range(len(sizes) - 1))
        if needed != params.size:
            raise ValueError(
                f"{where} holds {params.size} parameters; its network {sizes} needs {needed}: "
                "the file is corrupted"
            )
    return header, params


def _check_v2(header: dict, params: np.ndarray, where: str) -> None:
    missing = [k for k in ("n_params", "checksum", "metadata", *_CONFIG_KEYS) if k not in header]
    if missing:
        raise ValueError(f"{where}: its header lacks {', '.join(missing)}: the file is corrupted")
    if header["dtype"] != params.dtype.name:
        raise ValueError(
            f"{where}: its header says dtype {header['dtype']!r} but the parameters are "
            f"{params.dtype.name}: the file is corrupted"
        )
    if header["n_params"] != params.size:
        raise ValueError(
            f"{where}: its header says {header['n_params']} parameters but the file holds {params.size}: "
            "the file is corrupted"
        )
    if header["checksum"] != _checksum(params):
        raise ValueError(
            f"{where}: its parameters do not match their checksum: the file is corrupted (changed bytes)"
        )
    if not isinstance(header["metadata"], dict):
        raise ValueError(f"{where}: its metadata is not a JSON object: the file is corrupted")


def _network_from(header: dict, path) -> Network:
    try:
        return Network(**{k: header[k] for k in _CONFIG_KEYS if k in header})
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{os.fspath(path)!r} describes no valid network ({exc}): the file is corrupted"
        ) from None


def _check_sizes(sizes) -> tuple[int, ...]:
    if isinstance(sizes, str) or not isinstance(sizes, Sequence | np.ndarray):
        raise TypeError(f"sizes must be a sequence of layer widths like [2, 2, 1], got {sizes!r}")
    out = []
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, int | np.integer):
            raise TypeError(f"sizes must hold integers, got {s!r} in {list(sizes)}")
        if s < 1:
            raise ValueError(f"every layer needs at least one unit; got sizes {list(sizes)}")
        out.append(int(s))
    if len(out) < 2:
        raise ValueError(f"sizes needs at least an input and an output size, like [3, 1]; got {out}")
    return tuple(out)


def _check_path(path) -> str | bytes | os.PathLike:
    if not isinstance(path, str | bytes | os.PathLike):
        raise TypeError(
            f"path must be a file name (a str or os.PathLike), got {type(path).__name__} {path!r}"
        )
    return path


def _first_bytes(path, n: int = 8) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(n)
    except OSError:
        return b""


def _first(Y: np.ndarray, bad: np.ndarray, name: str) -> str:
    """Where the first True of ``bad`` sits in ``Y`` and what it holds: ``"Y[2, 1] is -0.5"``."""
    n, k = np.argwhere(bad)[0]
    return f"{name}[{n}, {k}] is {Y[n, k]}"


def _check_probability_rows(Y: np.ndarray, name: str) -> None:
    """cross_entropy's targets: rows of non-negative numbers (checked by the caller) that sum to 1.

    A row computed in float32 (a teacher's softmax, say) sums to 1 only within about K float32
    roundings, so the tolerance grows with the number of classes K; a row of zeros, two ones or
    unnormalised scores is far outside it.
    """
    sums = Y.sum(axis=1, dtype=np.float64)
    tol = max(1e-6, Y.shape[1] * float(np.finfo(np.float32).eps))
    bad = np.abs(sums - 1.0) > tol
    if bad.any():
        n = int(np.argmax(bad))
        raise ValueError(
            f"loss 'cross_entropy' needs probability rows in {name} (one-hot, or non-negative numbers "
            f"summing to 1); {name}[{n}] sums to {float(sums[n])!r}"
        )
