"""Race loopnet's loops against NumPy, plain Python, scikit-learn and PyTorch on whole training runs.

``loopnet bench`` and ``bench/test_bench_training.py`` both run what this module
defines:

* :data:`CASES` -- the networks: the articles' tiny ones (AND, three-bit, the
  perceptron, XOR) up to a 784-1024-1024-10 network on 10,000 rows, trained by
  plain SGD; and Adam twins of the articles' networks, of digits at batch 32
  and of mnist-like 784-256-10 at batch 256 (the same network and rows, named
  with `` adam`` at the end: ``"digits 64-128-10 b32 adam"``).
* :data:`CONTENDERS` -- who trains them: ``loops`` and ``loops-1t`` (loopnet's
  compiled loops with the default and with one Numba thread), ``numpy`` and
  ``numpy-1t`` (loopnet's NumPy twin, default and one BLAS thread),
  ``numpy-lean`` (a minimal hand-written NumPy trainer, :class:`loopnet.contenders.LeanNumpy`),
  ``jax`` (the whole fit as one ``jax.jit`` program, :class:`loopnet.contenders.JaxMLP`),
  ``python`` (the very same loop kernels run as plain Python, tiny cases only),
  ``sklearn`` (``MLPClassifier`` / ``MLPRegressor``, solver ``"sgd"`` or
  ``"adam"``) and ``torch`` (a plain PyTorch training loop, ``optim.SGD`` or
  ``optim.Adam``). Each uses the case's optimizer (:attr:`Case.optimizer`).
* :func:`measure` -- seconds per epoch of one contender on one case: a warm-up
  fit first, so compile time is not counted, then one timed fit of enough
  epochs to last at least ``min_seconds`` (jax compiles a program per epoch
  count: that compile runs before the timer starts and is reported apart).
* :func:`run`, :func:`format_table`, :func:`plot`, :func:`environment`: a
  sweep, its table, its plot and the machine it ran on. Every ratio is quoted
  twice: against the loops, and against the fastest vectorized contender
  (:data:`VECTORIZED`) of the same case and dtype.
* :func:`estimator_race`, :func:`format_estimator_race` -- ``loopnet bench
  --estimators`` and ``bench/test_bench_estimators.py``: ``loopnet.MLPClassifier``
  against scikit-learn's ``MLPClassifier``, the same settings (:data:`ESTIMATOR_SETTINGS`),
  seconds per epoch of ``fit``, and a check that both reached the same ``loss_curve_``.

Only NumPy and Numba are needed; scikit-learn, PyTorch, JAX, threadpoolctl and
matplotlib are imported when first used, and a contender (or the plot) whose
library is missing is skipped with the reason.

Every contender trains the same network shape with the same batch size,
optimizer, learning rate and dtype. scikit-learn's and PyTorch's numbers differ
(initial weights, shuffling, and scikit-learn's regressor has an identity output:
see :func:`sklearn_trainer`). ``numpy-lean`` and ``jax`` compute loopnet's model, loss
and updates from loopnet's initial weights (tests/test_contenders.py holds their weights
equal to the loops' over the same batches; in the race jax draws its own batch order).
What is compared is the time an epoch takes.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import importlib
import itertools
import json
import math
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, NamedTuple

import numba
import numpy as np

import loopnet

from . import cfloor, datasets

DTYPES = ("float64", "float32")

OPTIMIZERS = ("sgd", "adam")
"""What a case trains with: see :attr:`Case.optimizer`."""

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
"""Adam's hyperparameters in every contender (``torch.optim.Adam``'s and ``loopnet.Adam``'s defaults)."""


class Unavailable(Exception):
    """A contender cannot run a case here; the message says why (a missing library, too slow...)."""


# --- the cases ---------------------------------------------------------------------------------------


class Data(NamedTuple):
    """Training rows of a case: X (N, n0), Y (N, nL) as float64, and where they came from."""

    X: np.ndarray
    Y: np.ndarray
    source: str


@dataclass(frozen=True)
class Case:
    """One network and its training data, trained by every contender.

    ``batch_size`` None means full batch (one gradient step per epoch).
    ``data`` makes the rows, as float64; contenders convert them to their dtype.
    ``optimizer`` is ``"sgd"``: plain gradient descent at ``lr`` (no momentum, no
    weight decay), or ``"adam"``: Adam at ``lr`` with betas :data:`ADAM_BETAS`, eps
    :data:`ADAM_EPS` and no weight decay (``loopnet.Adam``, ``torch.optim.Adam``,
    scikit-learn's ``solver="adam"``).
    """

    name: str
    sizes: tuple[int, ...]
    rows: int
    batch_size: int | None
    activation: str
    output_activation: str
    loss: str
    lr: float
    data: Callable[[], Data]
    optimizer: str = "sgd"

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; expected one of {', '.join(OPTIMIZERS)}")

    @property
    def slug(self) -> str:
        """The name with dashes for spaces: ``and-2-2-1``, for command lines and test ids."""
        return self.name.replace(" ", "-")

    def network(self, module: ModuleType = loopnet, **options: Any):
        """The case's network (``module.Network``: loopnet or its plain-Python copy), seed 0 unless given."""
        return module.Network(list(self.sizes), activation=self.activation,
                              output_activation=self.output_activation, loss=self.loss,
                              **{"seed": 0, **options})  # fmt: skip

    @property
    def n_params(self) -> int:
        """Weights and biases of the network."""
        return sum(i * j + j for i, j in zip(self.sizes[:-1], self.sizes[1:]))

    @property
    def flops(self) -> int:
        """Floating-point operations per epoch: :func:`flops_per_epoch` of this case."""
        return flops_per_epoch(self.sizes, self.rows)


def flops_per_epoch(sizes: Sequence[int], rows: int) -> int:
    """Floating-point operations in one epoch of training, counting the three matrix products only.

    For layer l with I = sizes[l-1] inputs and J = sizes[l] units, over the N rows of an
    epoch (whatever the batch size, every row goes through once), each multiply-add
    counts 2:

        F1  z = a_prev @ W + b              2 * N * I * J   every layer
        B3  dW = a_prev.T @ delta           2 * N * I * J   every layer
        B2  delta_prev = delta @ W.T * f'   2 * N * I * J   every layer but the first

        flops = sum over layers l = 1..L of 2 * N * I * J * (2 if l == 1 else 3)

    Activations, losses, bias gradients and the update are O(N * J) or O(parameters)
    and left out. A 2-2-1 network on 4 rows: 2*4*(2*2*2 + 2*1*3) = 112.
    """
    total = 0
    for l, (I, J) in enumerate(itertools.pairwise(sizes)):
        total += 2 * rows * I * J * (2 if l == 0 else 3)
    return total


def _and_data() -> Data:
    X, Y = datasets.and_gate()
    return Data(X, Y, "loopnet.datasets.and_gate (seed 000)")


def _three_bit_data() -> Data:
    X, Y, _, _ = datasets.three_bit()
    return Data(X, Y, "loopnet.datasets.three_bit, the 6 training rows (seed 001)")


def _perceptron_data() -> Data:
    X, Y = datasets.perceptron_records()
    return Data(X, Y, "loopnet.datasets.perceptron_records (seed 003)")


def _xor_data() -> Data:
    X, Y = datasets.xor_gate()
    return Data(X, Y, "loopnet.datasets.xor_gate (seed 002)")


def _teacher_data(rows: int, features: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows uniform in [0, 1]; one-hot labels from a random linear teacher (argmax of centred X @ T)."""
    rng = np.random.default_rng(seed)
    X = rng.random((rows, features))
    T = rng.normal(size=(features, classes))
    return X, np.eye(classes)[np.argmax((X - 0.5) @ T, axis=1)]


@functools.cache
def _digits_data() -> Data:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        X, Y = _teacher_data(1797, 64, 10, seed=64)
        return Data(X, Y, "SYNTHETIC stand-in of the digits' shape (scikit-learn is not installed)")
    digits = load_digits()
    return Data(digits.data / 16.0, np.eye(10)[digits.target], "scikit-learn load_digits, pixels / 16")


@functools.cache
def _mnist_like() -> Data:
    X, Y = _teacher_data(10_000, 784, 10, seed=784)
    return Data(X, Y, "synthetic, seeded: 10,000 rows uniform in [0, 1], labels from a random linear teacher")


_SIGMOID_SSE = {"activation": "sigmoid", "output_activation": "sigmoid", "loss": "sse"}
_CLASSIFIER = {"activation": "relu", "output_activation": "softmax", "loss": "cross_entropy"}


def adam_twin(case: Case, lr: float) -> Case:
    """The Adam twin of an SGD case: the same network, rows and batch, named ``"<name> adam"``."""
    return replace(case, name=f"{case.name} adam", optimizer="adam", lr=lr)


_AND = Case("and 2-2-1", (2, 2, 1), 4, None, **_SIGMOID_SSE, lr=2.0, data=_and_data)
_THREE_BIT = Case("three-bit 3-5-1", (3, 5, 1), 6, None, **_SIGMOID_SSE, lr=1.0, data=_three_bit_data)
_PERCEPTRON = Case("perceptron 3-1", (3, 1), 7, None, **_SIGMOID_SSE, lr=0.05, data=_perceptron_data)
_XOR = Case("xor 2-8-1", (2, 8, 1), 4, None, "tanh", "sigmoid", "bce", lr=1.0, data=_xor_data)
_DIGITS_B32 = Case("digits 64-128-10 b32", (64, 128, 10), 1797, 32, **_CLASSIFIER, lr=0.1, data=_digits_data)
_MNIST_B256 = Case("mnist-like 784-256-10 b256", (784, 256, 10), 10_000, 256, **_CLASSIFIER, lr=0.05,
                   data=_mnist_like)  # fmt: skip

# Adam's step is about lr per parameter whatever the gradient's scale, so the articles' full-batch
# networks take 0.01 (their SGD rates, up to 2, would be far too big) and the minibatch ones 1e-3.
_CASES = (
    _AND, adam_twin(_AND, lr=0.01),
    _THREE_BIT, adam_twin(_THREE_BIT, lr=0.01),
    _PERCEPTRON, adam_twin(_PERCEPTRON, lr=0.01),
    _XOR, adam_twin(_XOR, lr=0.01),
    _DIGITS_B32, adam_twin(_DIGITS_B32, lr=1e-3),
    Case("digits 64-128-10 full", (64, 128, 10), 1797, None, **_CLASSIFIER, lr=0.1, data=_digits_data),
    Case("mnist-like 784-256-10 b64", (784, 256, 10), 10_000, 64, **_CLASSIFIER, lr=0.05, data=_mnist_like),
    _MNIST_B256, adam_twin(_MNIST_B256, lr=1e-3),
    Case("mnist-like 784-1024-1024-10 b256", (784, 1024, 1024, 10), 10_000, 256, **_CLASSIFIER, lr=0.02,
         data=_mnist_like),
)  # fmt: skip
CASES: dict[str, Case] = {case.name: case for case in _CASES}
"""Every benchmark case by name, smallest work first (the articles' sizes, then digits and MNIST-like).

Each Adam case follows its SGD twin (:func:`adam_twin`): the same work per epoch but the update.
"""


def find_case(name: str) -> Case:
    """The case called ``name`` or with that slug (``"and 2-2-1"`` or ``"and-2-2-1"``)."""
    for case in CASES.values():
        if name in (case.name, case.slug):
            return case
    raise ValueError(f"unknown case {name!r}; expected one of {', '.join(c.slug for c in CASES.values())}")


# --- the contenders -------------------------------------------------------------------------------


class Trainer:
    """One contender set up to train one case in one dtype.

    ``new_model()`` builds fresh weights (not timed); ``fit(epochs)`` trains them for
    ``epochs`` epochs and returns how many epochs it ran (timed); ``warm_up()`` pays
    one-off costs (compilation, first calls) on a few rows.
    """

    def __init__(self, case: Case, dtype: str, data: Data) -> None:
        self.case = case
        self.dtype = np.dtype(dtype)
        self.X = np.ascontiguousarray(data.X, dtype=self.dtype)
        self.Y = np.ascontiguousarray(data.Y, dtype=self.dtype)
        self.batch_size = case.rows if case.batch_size is None else min(case.batch_size, case.rows)

    compile_seconds: float | None = None
    """Seconds compiling the program of the last ``prepare``d fit (jax only; None: nothing to compile)."""

    def new_model(self) -> None:
        raise NotImplementedError

    def prepare(self, epochs: int) -> None:
        """One-off work for a fit of ``epochs`` epochs on all rows, before the timer starts (default none)."""

    def _fit(self, X: np.ndarray, Y: np.ndarray, epochs: int) -> int:
        raise NotImplementedError

    def fit(self, epochs: int) -> int:
        """Train the current model for ``epochs`` epochs on all rows; returns the epochs run."""
        return self._fit(self.X, self.Y, epochs)

    def warm_up(self) -> None:
        """One epoch on at most two batches of rows, so compilation and first-call costs are paid."""
        self.new_model()
        rows = min(self.case.rows, 2 * self.batch_size)
        self._fit(self.X[:rows], self.Y[:rows], 1)


class LoopnetTrainer(Trainer):
    """``loopnet.Network`` from ``module`` (loopnet itself, or its plain-Python copy) on one backend.

    An ``"sgd"`` case fits with ``lr=case.lr`` (plain SGD); an ``"adam"`` case with
    ``optimizer=module.Adam(lr=case.lr)``, a fresh one with every new model (an
    optimizer keeps its state and belongs to one network).

    ``threads`` limits the threads for the fit: Numba's for the loops, BLAS's for the
    NumPy twin (None leaves the defaults).
    """

    def __init__(
        self, case: Case, dtype: str, data: Data, module: ModuleType, backend: str, threads: int | None = None
    ) -> None:
        super().__init__(case, dtype, data)
        self.module = module
        self.backend = backend
        self.threads = threads
        self.net = None
        self.optimizer = None
        if threads is not None and backend == "numpy":
            _threadpoolctl()  # fail now, with the reason, if it is missing

    def new_model(self) -> None:
        self.net = self.case.network(self.module, backend=self.backend, dtype=self.dtype.name)
        if self.case.optimizer == "adam":
            # module's own Adam: the plain-Python copy's fit accepts only the copy's optimizer classes
            self.optimizer = self.module.Adam(lr=self.case.lr, betas=ADAM_BETAS, eps=ADAM_EPS)
        else:
            self.optimizer = None

    def _limits(self) -> contextlib.AbstractContextManager:
        if self.threads is None:
            return contextlib.nullcontext()
        if self.backend == "numpy":
            return _threadpoolctl().threadpool_limits(limits=self.threads, user_api="blas")
        return numba_threads(self.threads)

    def _fit(self, X: np.ndarray, Y: np.ndarray, epochs: int) -> int:
        if self.optimizer is None:
            rule = {"lr": self.case.lr}
        else:
            rule = {"optimizer": self.optimizer}
        with self._limits():
            history = self.net.fit(X, Y, epochs=epochs, batch_size=self.batch_size, **rule)
        return len(history["loss"])


class PlainPythonTrainer(LoopnetTrainer):
    """The loops backend of loopnet's plain-Python copy (:func:`plain_python_loopnet`)."""

    def __init__(self, case: Case, dtype: str, data: Data) -> None:
        super().__init__(case, dtype, data, plain_python_loopnet(), "loops")

    def new_model(self) -> None:
        with _plain_python_active():
            super().new_model()

    def _fit(self, X: np.ndarray, Y: np.ndarray, epochs: int) -> int:
        with _plain_python_active():
            return super()._fit(X, Y, epochs)


@contextlib.contextmanager
def numba_threads(n: int) -> Iterator[None]:
    """Run the block with ``numba.set_num_threads(n)``; the previous count is restored afterwards."""
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _threadpoolctl() -> ModuleType:
    try:
        import threadpoolctl
    except ImportError:
        raise Unavailable(
            "threadpoolctl is not installed, so BLAS threads cannot be limited (pip install threadpoolctl)"
        ) from None
    return threadpoolctl


PYTHON_MAX_WORK = 20_000
"""The ``python`` contender runs a case only if rows x parameters is at most this (the articles' sizes)."""


def python_trainer(case: Case, dtype: str, data: Data) -> Trainer:
    """loopnet's loop kernels run as plain Python, on cases small enough to finish."""
    work = case.rows * case.n_params
    if work > PYTHON_MAX_WORK:
        raise Unavailable(
            f"plain Python is for tiny cases: rows x parameters = {work:,} > {PYTHON_MAX_WORK:,}"
        )
    return PlainPythonTrainer(case, dtype, data)


_SKLEARN_ACTIVATIONS = {"identity": "identity", "sigmoid": "logistic", "tanh": "tanh", "relu": "relu"}


class SklearnTrainer(Trainer):
    """scikit-learn's ``MLPClassifier`` or ``MLPRegressor``; see :func:`sklearn_trainer`."""

    def __init__(self, case: Case, dtype: str, data: Data) -> None:
        try:
            from sklearn.exceptions import ConvergenceWarning
            from sklearn.neural_network import MLPClassifier, MLPRegressor
        except ImportError:
            raise Unavailable("scikit-learn is not installed (pip install scikit-learn)") from None
        if case.activation not in _SKLEARN_ACTIVATIONS:
            raise Unavailable(f"scikit-learn's MLP has no {case.activation} activation")
        super().__init__(case, dtype, data)
        self._warning = ConvergenceWarning
        pair = (case.output_activation, case.loss)
        if pair == ("softmax", "cross_entropy"):
            self._estimator, self.y = MLPClassifier, np.argmax(data.Y, axis=1)
        elif pair == ("sigmoid", "bce") and case.sizes[-1] == 1:
            self._estimator, self.y = MLPClassifier, data.Y[:, 0].astype(np.int64)
        else:
            self._estimator = MLPRegressor
            self.y = self.Y[:, 0] if case.sizes[-1] == 1 else self.Y
        self.model = None

    def new_model(self) -> None:
        if self.case.optimizer == "adam":
            beta_1, beta_2 = ADAM_BETAS
            solver = {"solver": "adam", "beta_1": beta_1, "beta_2": beta_2, "epsilon": ADAM_EPS}
        else:
            solver = {"solver": "sgd", "learning_rate": "constant", "momentum": 0.0}
            solver["nesterovs_momentum"] = False
        self.model = self._estimator(
            hidden_layer_sizes=self.case.sizes[1:-1],
            activation=_SKLEARN_ACTIVATIONS[self.case.activation],
            **solver,
            batch_size=self.batch_size,
            learning_rate_init=self.case.lr,
            alpha=0.0,
            shuffle=True,
            tol=0.0,
            random_state=0,
        )

    def _fit(self, X: np.ndarray, Y: np.ndarray, epochs: int) -> int:
        # n_iter_no_change = max_iter with tol = 0: it cannot stop before the last epoch
        self.model.set_params(max_iter=epochs, n_iter_no_change=epochs)
        y = self.y[: X.shape[0]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", self._warning)  # "max_iter reached": that is the point
            self.model.fit(X, y)
        return self.model.n_iter_


def sklearn_trainer(case: Case, dtype: str, data: Data) -> Trainer:
    """scikit-learn's MLP with plain SGD or Adam, configured like loopnet's fit.

    An ``"sgd"`` case: solver "sgd", learning_rate_init = lr, constant, no momentum.
    An ``"adam"`` case: solver "adam", learning_rate_init = lr, beta_1 = 0.9,
    beta_2 = 0.999, epsilon = 1e-8 (:data:`ADAM_BETAS`, :data:`ADAM_EPS`). Both:
    alpha = 0 (no L2), shuffle, tol = 0 and n_iter_no_change = max_iter = epochs, so
    it runs every epoch; the same hidden sizes, batch size and activation
    ("logistic" for sigmoid).

    softmax + cross_entropy and sigmoid + bce cases use ``MLPClassifier`` (softmax or
    logistic output, log loss: the same model). Other cases, the articles' sigmoid +
    sse networks, use ``MLPRegressor``, whose output layer is the identity, not a
    sigmoid, and whose loss is half the *mean* squared error, not the sum: the same
    amount of work per epoch, but a different model and effective learning rate.
    Each ``fit`` re-initialises the weights (inside the timed call, a small cost).
    """
    return SklearnTrainer(case, dtype, data)


class TorchTrainer(Trainer):
    """A plain PyTorch CPU training loop; see :func:`torch_trainer`."""

    def __init__(self, case: Case, dtype: str, data: Data) -> None:
        try:
            import torch
        except ImportError:
            raise Unavailable("PyTorch is not installed (pip install torch)") from None
        super().__init__(case, dtype, data)
        self.torch = torch
        self.tdtype = {"float64": torch.float64, "float32": torch.float32}[self.dtype.name]
        pair = (case.output_activation, case.loss)
        self.Xt = torch.from_numpy(self.X)
        if pair == ("softmax", "cross_entropy"):
            self.loss_fn = torch.nn.CrossEntropyLoss()  # on the logits: softmax + cross entropy in one
            self.Yt = torch.from_numpy(np.argmax(data.Y, axis=1))
            self.out_activation = None
        elif case.loss in ("sse", "mse", "bce"):
            if case.loss == "sse":
                self.loss_fn = lambda a, y: 0.5 * ((a - y) ** 2).sum()
            elif case.loss == "mse":
                self.loss_fn = torch.nn.MSELoss()
            else:
                self.loss_fn = torch.nn.BCELoss()
            self.Yt = torch.from_numpy(self.Y)
            self.out_activation = case.output_activation
        else:
            raise Unavailable(f"no PyTorch loss here for {case.output_activation} + {case.loss}")
        self.model = None
        self.optimizer = None
        self.generator = torch.Generator().manual_seed(0)

    def _activation(self, name: str):
        nn = self.torch.nn
        modules = {"identity": nn.Identity, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}
        if name == "leaky_relu":
            return nn.LeakyReLU(0.01)
        if name not in modules:
            raise Unavailable(f"no PyTorch module here for activation {name}")
        return modules[name]()

    def new_model(self) -> None:
        nn = self.torch.nn
        self.torch.manual_seed(0)
        layers = []
        L = len(self.case.sizes) - 1
        for l, (I, J) in enumerate(zip(self.case.sizes[:-1], self.case.sizes[1:])):
            layers.append(nn.Linear(I, J, dtype=self.tdtype))
            if l < L - 1:
                layers.append(self._activation(self.case.activation))
            elif self.out_activation is not None:
                layers.append(self._activation(self.out_activation))
        self.model = nn.Sequential(*layers)
        if self.case.optimizer == "adam":
            self.optimizer = self.torch.optim.Adam(
                self.model.parameters(), lr=self.case.lr, betas=ADAM_BETAS, eps=ADAM_EPS
            )
        else:
            self.optimizer = self.torch.optim.SGD(self.model.parameters(), lr=self.case.lr)

    def _fit(self, X: np.ndarray, Y: np.ndarray, epochs: int) -> int:
        torch = self.torch
        Xt, Yt = self.Xt[: X.shape[0]], self.Yt[: X.shape[0]]
        N, B = Xt.shape[0], self.batch_size
        model, optimizer, loss_fn = self.model, self.optimizer, self.loss_fn
        for _ in range(epochs):
            order = torch.randperm(N, generator=self.generator) if B < N else None
            for start in range(0, N, B):
                if order is None:
                    xb, yb = Xt, Yt
                else:
                    rows = order[start : start + B]
                    xb, yb = Xt[rows], Yt[rows]
                optimizer.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                optimizer.step()
        return epochs


def torch_trainer(case: Case, dtype: str, data: Data) -> Trainer:
    """A plain PyTorch CPU loop: ``nn.Sequential`` of ``Linear`` + activation, ``optim.SGD`` or ``Adam``.

    The optimizer is ``torch.optim.SGD(lr)`` for an ``"sgd"`` case and
    ``torch.optim.Adam(lr, betas=(0.9, 0.999), eps=1e-8)`` (its defaults otherwise,
    so the for-loop implementation on CPU) for an ``"adam"`` case.

    Per batch: zero_grad, forward, loss, backward, step; rows reshuffled each epoch with
    ``torch.randperm`` (skipped for full batch, as loopnet does, where order changes
    nothing); parameters and data in the case's dtype; PyTorch's default thread count.
    softmax + cross_entropy uses ``CrossEntropyLoss`` on the logits; sse is
    ``0.5 * ((a - y) ** 2).sum()``, mse ``MSELoss`` and bce ``BCELoss`` on the output
    activation. (Not ``BCEWithLogitsLoss``: on this 2-core machine, with the other core
    busy, its multi-threaded reduction took 8 ms for 4 numbers against 20 µs for BCELoss.)
    """
    return TorchTrainer(case, dtype, data)


class LeanNumpyTrainer(Trainer):
    """``numpy-lean``: :class:`loopnet.contenders.LeanNumpy`, a fresh one (seed 0) with every new model."""

    def __init__(self, case: Case, dtype: str, data: Data) -> None:
        super().__init__(case, dtype, data)
        self.model = None

    def new_model(self) -> None:
        from .contenders import LeanNumpy

        c = self.case
        self.model = LeanNumpy(c.sizes, c.activation, c.output_activation, c.loss, c.lr, c.optimizer,
                               betas=ADAM_BETAS, eps=ADAM_EPS, dtype=self.dtype, seed=0)  # fmt: skip

    def _fit(self, X: np.ndarray, Y: np.ndarray, epochs: int) -> int:
        return len(self.model.fit(X, Y, epochs, self.batch_size))


def lean_trainer(case: Case, dtype: str, data: Data) -> Trainer:
    """A minimal NumPy trainer written by hand: loopnet's math, none of its code (see loopnet.contenders).

    Buffers allocated once per fit, products through ``np.matmul(..., out=)``, in-place
    ufuncs, flat parameters so an update is a few ufunc calls; loopnet's initial weights
    and batch order, so its weights equal the loops' (tests/test_contenders.py).
    """
    return LeanNumpyTrainer(case, dtype, data)


class JaxTrainer(Trainer):
    """``jax``: :class:`loopnet.contenders.JaxMLP`; see :func:`jax_trainer`."""

    def __init__(self, case: Case, dtype: str, data: Data) -> None:
        try:
            from .contenders import JaxMLP, import_jax

            import_jax()
        except ImportError:
            raise Unavailable("JAX is not installed (pip install jax)") from None
        super().__init__(case, dtype, data)
        c = self.case
        self.model = JaxMLP(c.sizes, c.activation, c.output_activation, c.loss, c.lr, c.optimizer,
                            betas=ADAM_BETAS, eps=ADAM_EPS, dtype=self.dtype, seed=0,
                            batch_size=self.batch_size)  # fmt: skip

    def new_model(self) -> None:
        self.model.reset()  # compiled programs are kept

    def prepare(self, epochs: int) -> None:
        self.model.compile(self.X, self.Y, epochs)
        self.compile_seconds = self.model.compile_seconds

    def warm_up(self) -> None:
        """One epoch on all rows: compiles (and first runs) the one-epoch program the timing starts with."""
        self.new_model()
        self.prepare(1)
        self._fit(self.X, self.Y, 1)

    def _fit(self, X: np.ndarray, Y: np.ndarray, epochs: int) -> int:
        return len(self.model.fit(X, Y, epochs))


def jax_trainer(case: Case, dtype: str, data: Data) -> Trainer:
    """A JAX trainer written for speed: one ``jax.jit`` program per fit (see loopnet.contenders).

    ``lax.scan`` over epochs and, inside, over minibatches (the last, smaller batch after
    the scan); ``jax.value_and_grad`` of loopnet's loss; SGD or Adam as a tree map; rows
    reshuffled each epoch by ``jax.random.permutation`` inside the program; the loss
    recorded every epoch. The program depends on the epoch count, so each new count is
    compiled before its fit is timed (:meth:`Trainer.prepare`), and that compile time
    goes to bench.json (``compile_seconds``) and the table's notes. float64 runs with
    ``jax_enable_x64``; XLA's default CPU threads.
    """
    return JaxTrainer(case, dtype, data)


class CFloorTrainer(Trainer):
    """``c``: the case's full-batch epoch as a plain C program (:mod:`loopnet.cfloor`); see c_trainer."""

    def __init__(self, case: Case, dtype: str, data: Data) -> None:
        super().__init__(case, dtype, data)
        self._dir = tempfile.TemporaryDirectory(prefix="loopnet-cfloor-")
        folder = Path(self._dir.name)
        self.program = cfloor.build(case.sizes, case.rows, case.activation, case.output_activation, case.loss,
                                    folder / "cfloor")  # fmt: skip
        self.data_file = folder / "data.txt"

    def new_model(self) -> None:
        cfloor.write_data(self.data_file, self.X, self.Y, self.case.network().params)

    def _fit(self, X: np.ndarray, Y: np.ndarray, epochs: int) -> int:
        self.result = cfloor.run(self.program, self.data_file, epochs, 1, self.case.lr)
        return epochs


def c_trainer(case: Case, dtype: str, data: Data) -> Trainer:
    """The C floor: the articles' tiny full-batch SGD epoch as plain C, built with the system's compiler.

    ``cc -O3 -march=native``, strict IEEE (no fast-math, no fused multiply-add), sizes as compile-time
    constants, the loss recorded every epoch: the same numbers as the loops (tests/test_cfloor.py). A
    fit is one run of the program, so its time includes starting a process (about a millisecond in
    fits of a fifth of a second or more).
    """
    if dtype != "float64":
        raise Unavailable("the C floor is written in double precision only")
    if case.batch_size is not None or case.optimizer != "sgd" or case.rows * case.n_params > PYTHON_MAX_WORK:
        raise Unavailable("the C floor is the articles' tiny full-batch SGD epoch only")
    if not cfloor.supports(case.sizes, case.activation, case.output_activation, case.loss):
        kind = f"{case.activation}/{case.output_activation}/{case.loss}"
        raise Unavailable(f"the C floor has no {kind} network")
    if cfloor.compiler() is None:
        raise Unavailable("no C compiler (set CC or install cc)")
    return CFloorTrainer(case, dtype, data)


@dataclass(frozen=True)
class Contender:
    """A way of training: ``make(case, dtype, data)`` returns a :class:`Trainer` or raises Unavailable."""

    name: str
    description: str
    make: Callable[[Case, str, Data], Trainer]


def _loops(case: Case, dtype: str, data: Data) -> Trainer:
    return LoopnetTrainer(case, dtype, data, loopnet, "loops")


def _loops_1t(case: Case, dtype: str, data: Data) -> Trainer:
    return LoopnetTrainer(case, dtype, data, loopnet, "loops", threads=1)


def _numpy(case: Case, dtype: str, data: Data) -> Trainer:
    return LoopnetTrainer(case, dtype, data, loopnet, "numpy")


def _numpy_1t(case: Case, dtype: str, data: Data) -> Trainer:
    return LoopnetTrainer(case, dtype, data, loopnet, "numpy", threads=1)


_CONTENDERS = (
    Contender("loops", "loopnet backend='loops', default Numba threads", _loops),
    Contender("loops-1t", "loopnet backend='loops', numba.set_num_threads(1)", _loops_1t),
    Contender("numpy", "loopnet backend='numpy', default BLAS threads", _numpy),
    Contender("numpy-1t", "loopnet backend='numpy', BLAS limited to 1 thread (threadpoolctl)", _numpy_1t),
    Contender("numpy-lean", "a minimal hand-written NumPy trainer (loopnet.contenders)", lean_trainer),
    Contender("jax", "JAX: the whole fit in one jax.jit, lax.scan over epochs and batches", jax_trainer),
    Contender("python", "loopnet's loop kernels as plain Python (JIT off), tiny cases only", python_trainer),
    Contender("c", "the C floor: the tiny full-batch epoch as plain C, cc -O3 -march=native", c_trainer),
    Contender("sklearn", "scikit-learn MLPClassifier/MLPRegressor, solver='sgd' or 'adam'", sklearn_trainer),
    Contender("torch", "PyTorch CPU: nn.Sequential, optim.SGD or optim.Adam, default threads", torch_trainer),
)
CONTENDERS: dict[str, Contender] = {c.name: c for c in _CONTENDERS}
"""Every contender by name; ``loops`` is the one every ratio is taken against."""

VECTORIZED = ("numpy", "numpy-lean", "jax")
"""The vectorized contenders: every ratio is also quoted against the fastest of these that ran."""


def make_trainer(case: Case, contender: str, dtype: str) -> Trainer:
    """Set ``contender`` up to train ``case`` in ``dtype``; raises :class:`Unavailable` with the reason."""
    if contender not in CONTENDERS:
        raise ValueError(f"unknown contender {contender!r}; expected one of {', '.join(CONTENDERS)}")
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}")
    return CONTENDERS[contender].make(case, dtype, case.data())


# --- the plain-Python copy of loopnet -----------------------------------------------------------------

_PLAIN: SimpleNamespace | None = None


def _is_loopnet(name: str) -> bool:
    return name == "loopnet" or name.startswith("loopnet.")


def compiled_objects(modules: Iterable[ModuleType]) -> list[str]:
    """Names of the Numba-compiled functions (Dispatchers) found in the modules' namespaces.

    Looks at module attributes and one level into the dicts, tuples and namespaces they
    hold (loopnet keeps its backends' kernels in a dict of namespaces).
    """
    from numba.core.dispatcher import Dispatcher

    found = []
    for module in modules:
        for attr, value in vars(module).items():
            inner = value
            if isinstance(value, SimpleNamespace):
                inner = vars(value)
            if isinstance(inner, dict):
                values = [(f"{attr}[{k!r}]", v) for k, v in inner.items()]
                values += [
                    (f"{attr}[{k!r}].{a}", w)
                    for k, v in inner.items()
                    if isinstance(v, SimpleNamespace)
                    for a, w in vars(v).items()
                ]
            elif isinstance(inner, tuple | list):
                values = [(f"{attr}[{i}]", v) for i, v in enumerate(inner)]
            else:
                values = []
            for label, v in [(attr, value), *values]:
                if isinstance(v, Dispatcher):
                    found.append(f"{module.__name__}.{label}")
    return found


def plain_python_loopnet() -> ModuleType:
    """A second copy of the ``loopnet`` package whose kernels are plain Python functions.

    Numba's ``njit`` returns the undecorated function when ``numba.config.DISABLE_JIT``
    is true *at decoration time*. So this takes every ``loopnet`` and ``loopnet.*``
    entry out of ``sys.modules``, sets the flag, imports ``loopnet`` afresh, and puts
    the original modules and the flag back. The copy is checked (no Numba Dispatcher
    in any of its modules; RuntimeError otherwise) and cached, so this happens once
    per process; the running ``loopnet`` is untouched and stays compiled.

    Use the copy inside :func:`_plain_python_active` (as the ``python`` contender
    does): that puts the copy's modules back in ``sys.modules``, with the JIT off, for
    the duration, so an import made lazily inside loopnet also gets plain Python.
    """
    global _PLAIN
    if _PLAIN is None:
        saved = {name: module for name, module in sys.modules.items() if _is_loopnet(name)}
        was_disabled = numba.config.DISABLE_JIT
        try:
            for name in saved:
                del sys.modules[name]
            numba.config.DISABLE_JIT = True
            package = importlib.import_module("loopnet")
            modules = {name: m for name, m in sys.modules.items() if _is_loopnet(name)}
        finally:
            numba.config.DISABLE_JIT = was_disabled
            for name in [name for name in sys.modules if _is_loopnet(name)]:
                del sys.modules[name]
            sys.modules.update(saved)
        compiled = compiled_objects(modules.values())
        if compiled:
            raise RuntimeError(
                "the plain-Python copy of loopnet still holds compiled functions: " + ", ".join(compiled)
            )
        _PLAIN = SimpleNamespace(package=package, modules=modules)
    return _PLAIN.package


@contextlib.contextmanager
def _plain_python_active() -> Iterator[None]:
    """Run the block with the plain-Python copy's modules in ``sys.modules`` and the JIT off."""
    plain_python_loopnet()
    saved = {name: module for name, module in sys.modules.items() if _is_loopnet(name)}
    was_disabled = numba.config.DISABLE_JIT
    try:
        for name in saved:
            del sys.modules[name]
        sys.modules.update(_PLAIN.modules)
        numba.config.DISABLE_JIT = True
        yield
    finally:
        numba.config.DISABLE_JIT = was_disabled
        for name in [name for name in sys.modules if _is_loopnet(name)]:
            _PLAIN.modules[name] = sys.modules.pop(name)  # keep any module imported lazily meanwhile
        sys.modules.update(saved)


# --- timing -------------------------------------------------------------------------------------------

MAX_EPOCHS = 10_000_000


def time_fit(trainer: Trainer, epochs: int) -> float:
    """Seconds for one ``fit`` of ``epochs`` epochs on fresh weights (building them, compiling, not timed)."""
    trainer.new_model()
    trainer.prepare(epochs)
    start = time.perf_counter()
    done = trainer.fit(epochs)
    elapsed = time.perf_counter() - start
    if done != epochs:
        raise RuntimeError(f"{type(trainer).__name__} ran {done} epochs, asked for {epochs}")
    return elapsed


def choose_epochs(trainer: Trainer, min_seconds: float) -> tuple[int, float]:
    """The epochs one fit needs to last at least ``min_seconds``, and that fit's seconds.

    Starts at one epoch and grows the count (at most 100-fold a step, since a short
    fit's fixed costs make an epoch look slower than it is) until a fit lasts
    ``min_seconds``; the last, long-enough fit is returned, so nothing is run twice.
    """
    epochs = 1
    while True:
        elapsed = time_fit(trainer, epochs)
        if elapsed >= min_seconds or epochs >= MAX_EPOCHS:
            return epochs, elapsed
        growth = 1.2 * min_seconds / max(elapsed, 1e-9)
        epochs = min(MAX_EPOCHS, max(epochs + 1, math.ceil(epochs * min(growth, 100.0))))


class Timing(NamedTuple):
    seconds_per_epoch: float
    epochs: int


def measure(trainer: Trainer, min_seconds: float = 0.2) -> Timing:
    """Seconds per epoch: warm up (one short fit, so compile time is excluded), then time one fit.

    The timed fit runs as many epochs as it takes to last at least ``min_seconds``
    (:func:`choose_epochs`), timed with ``time.perf_counter``.
    """
    trainer.warm_up()
    epochs, elapsed = choose_epochs(trainer, min_seconds)
    return Timing(elapsed / epochs, epochs)


# --- sweeps -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """A named set of cases x contenders x dtypes, each fit timed for at least ``min_seconds``."""

    name: str
    cases: tuple[str, ...]
    contenders: tuple[str, ...]
    dtypes: tuple[str, ...]
    min_seconds: float
    description: str


_ARTICLES = ("and 2-2-1", "three-bit 3-5-1", "perceptron 3-1", "xor 2-8-1")
_DIGITS_B32_BOTH = ("digits 64-128-10 b32", "digits 64-128-10 b32 adam")

_SWEEPS = (
    Sweep(
        "tiny",
        cases=("and 2-2-1", "xor 2-8-1", "perceptron 3-1"),
        contenders=("loops", "numpy", "python"),
        dtypes=("float64",),
        min_seconds=0.01,
        description="three article networks, loops / numpy / python, a few seconds (the CI smoke test)",
    ),
    Sweep(
        "quick",
        cases=(*_ARTICLES, "xor 2-8-1 adam", *_DIGITS_B32_BOTH, "mnist-like 784-256-10 b256"),
        contenders=tuple(CONTENDERS),
        dtypes=DTYPES,
        min_seconds=0.2,
        description="the article networks, digits b32 and mnist-like b256, xor and digits b32 with Adam too, "
        "every contender, about a minute",
    ),
    Sweep(
        "full",
        cases=tuple(CASES),
        contenders=tuple(CONTENDERS),
        dtypes=DTYPES,
        min_seconds=0.5,
        description="every case (SGD and Adam) and contender, about five minutes on 2 cores",
    ),
)
SWEEPS: dict[str, Sweep] = {sweep.name: sweep for sweep in _SWEEPS}
"""The sweeps ``loopnet bench --sweep`` runs."""


def run(
    cases: Sequence[Case],
    contenders: Sequence[str],
    dtypes: Sequence[str],
    min_seconds: float = 0.2,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Time every contender on every case in every dtype; returns the results (see :func:`save_json`).

    ``loops`` is always timed (every ratio is against it), first. Once a case and dtype
    are done, each of its records is also quoted against the fastest of the
    :data:`VECTORIZED` contenders that ran. ``log`` receives one line per timing (None: quiet).
    """
    order = ["loops", *(c for c in contenders if c != "loops")]
    for name in order:
        if name not in CONTENDERS:
            raise ValueError(f"unknown contender {name!r}; expected one of {', '.join(CONTENDERS)}")
    for dtype in dtypes:
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}")
    records: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    data_sources: dict[str, str] = {}
    for case in cases:
        data = case.data()
        data_sources[case.name] = data.source
        for dtype in dtypes:
            loops_seconds = None
            first = len(records)
            for name in order:
                try:
                    trainer = CONTENDERS[name].make(case, dtype, data)
                except Unavailable as why:
                    skipped.append({"case": case.name, "dtype": dtype, "contender": name, "reason": str(why)})
                    if log:
                        log(f"  {case.name:<34} {dtype:<8} {name:<10} skipped: {why}")
                    continue
                timing = measure(trainer, min_seconds)
                if name == "loops":
                    loops_seconds = timing.seconds_per_epoch
                records.append(
                    {
                        "case": case.name,
                        "sizes": list(case.sizes),
                        "rows": case.rows,
                        "batch_size": case.batch_size,
                        "optimizer": case.optimizer,
                        "dtype": dtype,
                        "contender": name,
                        "seconds_per_epoch": timing.seconds_per_epoch,
                        "epochs_timed": timing.epochs,
                        "flops_per_epoch": case.flops,
                        "gflops": case.flops / timing.seconds_per_epoch / 1e9,
                        "ratio": None if loops_seconds is None else timing.seconds_per_epoch / loops_seconds,
                        "compile_seconds": trainer.compile_seconds,
                    }
                )
                if log:
                    per_epoch = f"{format_seconds(timing.seconds_per_epoch):>9}/epoch"
                    compiled = ""
                    if trainer.compile_seconds is not None:
                        compiled = f" (+ {format_seconds(trainer.compile_seconds)} compile, not timed)"
                    timed = f"{per_epoch}, {_epochs(timing.epochs)}{compiled}"
                    log(f"  {case.name:<34} {dtype:<8} {name:<10} {timed}")
            _quote_against_vectorized(records[first:])
    return {
        "environment": environment(),
        "settings": {
            "cases": [case.name for case in cases],
            "contenders": order,
            "dtypes": list(dtypes),
            "min_seconds": min_seconds,
        },
        "data": data_sources,
        "records": records,
        "skipped": skipped,
    }


def _quote_against_vectorized(records: list[dict[str, Any]]) -> None:
    """Add ``fastest_vectorized`` and ``ratio_vs_vectorized`` to the records of one case and dtype.

    The fastest vectorized contender is the one of :data:`VECTORIZED` with the least
    seconds per epoch among these records; with none of them run, both are None.
    """
    timed = [r for r in records if r["contender"] in VECTORIZED]
    best = min(timed, key=lambda r: r["seconds_per_epoch"], default=None)
    for r in records:
        r["fastest_vectorized"] = None if best is None else best["contender"]
        r["ratio_vs_vectorized"] = (
            None if best is None else r["seconds_per_epoch"] / best["seconds_per_epoch"]
        )


def save_json(results: dict[str, Any], path: str | os.PathLike) -> None:
    """Write the results of :func:`run` as JSON.

    ``records``: one per timing, with case, sizes, rows, batch_size (null = full batch),
    optimizer ("sgd" or "adam"), dtype, contender, seconds_per_epoch, epochs_timed,
    flops_per_epoch, gflops, ratio (this contender's seconds per epoch / loops'
    for the same case and dtype), fastest_vectorized (the fastest of :data:`VECTORIZED`
    for that case and dtype, null if none ran), ratio_vs_vectorized (seconds per epoch /
    that one's) and compile_seconds (jax: compiling the timed fit's program, not in the
    timing; null for the others). ``skipped``: contender x case x dtype not run, with
    the reason. ``environment``: versions, CPU, threads, BLAS, date, and ``machine``
    (:func:`loopnet.machine.machine_info`, when that module exists). ``data``: where
    each case's rows came from.
    """
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=2)
        fh.write("\n")


# --- the environment ----------------------------------------------------------------------------------


def _version(module: str, distribution: str) -> str | None:
    """A module's version if imported, else its installed distribution's (importing torch takes seconds)."""
    if module in sys.modules:
        return getattr(sys.modules[module], "__version__", None)
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def versions() -> dict[str, str | None]:
    """Versions of Python, loopnet, NumPy, Numba, scikit-learn, PyTorch and JAX (None: not installed)."""
    return {
        "python": platform.python_version(),
        "loopnet": loopnet.__version__,
        "numpy": np.__version__,
        "numba": numba.__version__,
        "sklearn": _version("sklearn", "scikit-learn"),
        "torch": _version("torch", "torch"),
        "jax": _version("jax", "jax"),
    }


def environment() -> dict[str, Any]:
    """Versions, CPU model, threads, BLAS libraries, the date, the machine's peak: what a timing depends on.

    ``machine`` is :func:`loopnet.machine.machine_info` (cores, vector width, peak GFLOP/s
    measured), left out while that module does not exist; ``machine_error`` holds the
    reason if it exists but failed.
    """
    env: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **versions(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "numba_threading_layer": _threading_layer(),
        "blas": None,
        "blas_env": {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))},
    }
    if "torch" in sys.modules:
        env["torch_threads"] = sys.modules["torch"].get_num_threads()
    try:
        from threadpoolctl import threadpool_info

        env["blas"] = [
            {k: info.get(k) for k in ("internal_api", "version", "num_threads", "architecture", "filepath")}
            for info in threadpool_info()
            if info.get("user_api") == "blas"
        ]
    except ImportError:
        env["blas"] = "threadpoolctl is not installed"
    machine = _machine_module()
    if machine is not None:
        try:
            env["machine"] = machine.machine_info(measure=True)
        except Exception as exc:  # a failed peak measurement must not lose the sweep's timings
            env["machine_error"] = f"{type(exc).__name__}: {exc}"
    return env


def _machine_module() -> ModuleType | None:
    """loopnet.machine, or None where it does not exist yet."""
    try:
        from . import machine
    except ImportError:
        return None
    return machine


def _threading_layer() -> str | None:
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel code has run yet
        return None


# --- the table ----------------------------------------------------------------------------------------


def format_seconds(seconds: float) -> str:
    """Seconds in a unit that reads at a glance: ``812 ns``, ``2.20 µs``, ``6.90 ms``, ``1.24 s``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{_three_digits(seconds / scale)} {unit}"
    return f"{_three_digits(seconds / 1e-9)} ns"


def _three_digits(x: float) -> str:
    return f"{x:#.3g}" if x < 100 else f"{x:.0f}"


def format_count(n: float) -> str:
    """A count with an SI prefix: ``112``, ``24.6 k``, ``8.18 G``."""
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{_three_digits(n / scale)} {prefix}"
    return f"{n:.0f}"


LEGEND = (
    "ratio = the contender's time per epoch / loops' time per epoch, same case and dtype:\n"
    "above 1x (marked *) the loops were faster; - = not run (the reason is in bench.json)\n"
    "the line under each row, 'vs NAME', quotes every time against NAME, the fastest vectorized\n"
    f"contender ({' / '.join(VECTORIZED)}) of that case and dtype: 1.00x is NAME itself"
)


def format_table(results: dict[str, Any]) -> str:
    """One row per (case, dtype), one column per contender: seconds per epoch and the ratio vs loops.

    Under each row, a line quotes every contender's time against the fastest vectorized
    contender of that case and dtype. The machine's line (:func:`loopnet.machine.machine_line`)
    heads the table when bench.json has it; JAX's compile times follow the legend.
    """
    contenders = results["settings"]["contenders"]
    by_key = {(r["case"], r["dtype"], r["contender"]): r for r in results["records"]}
    header = ["case", "dtype", "FLOP/epoch", *contenders]
    rows = []
    for case in results["settings"]["cases"]:
        for dtype in results["settings"]["dtypes"]:
            flops = next((r["flops_per_epoch"] for r in results["records"] if r["case"] == case), None)
            cells = [case, dtype, "-" if flops is None else format_count(flops)]
            versus = None
            for name in contenders:
                record = by_key.get((case, dtype, name))
                if record is None:
                    cells.append("-")
                elif name == "loops":
                    cells.append(format_seconds(record["seconds_per_epoch"]))
                elif record["ratio"] is None:
                    cells.append(format_seconds(record["seconds_per_epoch"]))
                else:
                    mark = "*" if record["ratio"] > 1 else " "
                    cells.append(
                        f"{format_seconds(record['seconds_per_epoch'])} {_ratio(record['ratio'])}{mark}"
                    )
                if record is not None and record.get("fastest_vectorized"):
                    versus = record["fastest_vectorized"]
            rows.append(cells)
            if versus is not None:
                quoted = [by_key.get((case, dtype, name)) for name in contenders]
                rows.append([f"  vs {versus}", "", ""] + [
                    "-" if r is None else f"{_ratio(r['ratio_vs_vectorized'])} " for r in quoted
                ])  # fmt: skip
    widths = [max(len(str(row[c])) for row in [header, *rows]) for c in range(len(header))]
    lines = []
    for row in [header, *rows]:
        left = [f"{row[c]:<{widths[c]}}" for c in range(2)]
        right = [f"{row[c]:>{widths[c]}}" for c in range(2, len(row))]
        lines.append("  ".join(left + right).rstrip())
    lines.insert(1, "-" * len(lines[0]))
    machine = _machine_line(results["environment"])
    if machine:
        lines.insert(0, machine)
    lines.append("")
    lines.append(LEGEND)
    compiled = _compile_notes(results)
    if compiled:
        lines.append("")
        lines.extend(compiled)
    return "\n".join(lines)


def _machine_line(env: dict[str, Any]) -> str | None:
    """loopnet.machine's one-line summary of the machine in ``env``, if both exist."""
    info = env.get("machine")
    machine = _machine_module()
    if info is None or machine is None:
        return None
    return machine.machine_line(info)


def _compile_notes(results: dict[str, Any]) -> list[str]:
    """One line per case with compile times (jax): not in the times per epoch above."""
    times: dict[tuple[str, str], list[str]] = {}
    for r in results["records"]:
        if r.get("compile_seconds") is not None:
            times.setdefault((r["contender"], r["case"]), []).append(
                f"{r['dtype']} {format_seconds(r['compile_seconds'])}"
            )
    if not times:
        return []
    lines = ["compile time of the timed fit's program, not counted in its time per epoch:"]
    lines += [f"  {name}, {case}: {', '.join(parts)}" for (name, case), parts in times.items()]
    return lines


def _epochs(n: int) -> str:
    return f"{n} epoch timed" if n == 1 else f"{n} epochs timed"


def _ratio(r: float) -> str:
    if r < 0.1:
        return f"{r:.2g}x"
    if r < 10:
        return f"{r:.2f}x"
    return f"{r:.1f}x" if r < 100 else f"{r:.0f}x"


# --- the plot -----------------------------------------------------------------------------------------


def plot(results: dict[str, Any], path: str | os.PathLike) -> str | None:
    """Time per epoch against FLOPs per epoch, log-log, one line per contender, one panel per dtype.

    Cases of equal work (digits at two batch sizes) share an x and are joined by a
    vertical segment, smaller batch first; case names sit in grey under each x.

    Returns None once the PNG is written, or the reason it was not (matplotlib missing).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib), so no plot"
    dtypes = results["settings"]["dtypes"]
    contenders = results["settings"]["contenders"]
    fig, axes = plt.subplots(
        1, len(dtypes), figsize=(6.5 * len(dtypes), 5.6), sharey=True, squeeze=False, layout="constrained"
    )
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, dtype in zip(axes[0], dtypes):
        for c, name in enumerate(contenders):
            points = sorted(
                (r["flops_per_epoch"], r["batch_size"] or r["rows"], r["seconds_per_epoch"])
                for r in results["records"]
                if r["dtype"] == dtype and r["contender"] == name
            )
            if not points:
                continue
            x = [p[0] for p in points]
            y = [p[2] for p in points]
            style = {"linewidth": 2.6, "zorder": 3} if name == "loops" else {"linewidth": 1.3}
            ax.plot(x, y, marker="o", markersize=4, label=name, color=colors[c % len(colors)], **style)
        _label_cases(ax, [r for r in results["records"] if r["dtype"] == dtype])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{dtype}: lower is faster")
        ax.set_xlabel("work per epoch: FLOPs of F1 + B2 + B3")
        ax.grid(True, which="major", alpha=0.3)
    axes[0][0].set_ylabel("seconds per epoch")
    handles = {}
    for ax in axes[0]:
        for line in ax.get_lines():
            handles.setdefault(line.get_label(), line)
    order = [name for name in contenders if name in handles]
    fig.legend([handles[n] for n in order], order, loc="outside lower center", ncol=len(order), fontsize=9)
    env = results["environment"]
    fig.suptitle(
        f"loopnet bench: time per training epoch -- {env.get('cpu') or 'CPU ?'}, "
        f"{env.get('cpu_count')} cores, numba {env.get('numba')}",
        fontsize=10,
    )
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None


def _label_cases(ax, records: list[dict[str, Any]]) -> None:
    """Case names in light grey, vertical, under the fastest point of each case; close ones nudged apart."""
    lowest: dict[int, float] = {}
    names: dict[int, list[str]] = {}
    for r in records:
        x = r["flops_per_epoch"]
        lowest[x] = min(lowest.get(x, math.inf), r["seconds_per_epoch"])
        if r["case"] not in names.setdefault(x, []):
            names[x].append(r["case"])
    if not lowest:
        return
    gap = 0.2  # decades of x between two labels, about one line of 6.5-point text
    previous = -math.inf
    for x in sorted(lowest):
        at = max(math.log10(x), previous + gap)
        previous = at
        ax.annotate(
            " / ".join(names[x]),
            xy=(x, lowest[x]),
            xytext=(10**at, lowest[x] / 1.8),
            textcoords="data",
            rotation=90,
            ha="center",
            va="top",
            fontsize=6.5,
            color="0.5",
        )
    top = max(r["seconds_per_epoch"] for r in records)
    ax.set_ylim(min(lowest.values()) / 10**3.2, top * 3)
    ax.set_xlim(min(lowest) / 2, 10**previous * 2)


# --- the estimator race: loopnet.MLPClassifier against scikit-learn's ---------------------------------

ESTIMATORS = ("loopnet", "sklearn")
"""The estimator race's contenders: ``loopnet.MLPClassifier``, ``sklearn.neural_network.MLPClassifier``."""

ESTIMATOR_SOLVERS = ("adam", "sgd")

ESTIMATOR_SETTINGS: dict[str, Any] = {
    "hidden_layer_sizes": (64,),
    "batch_size": 64,
    "random_state": 0,
    "tol": 0.0,
}
"""What both classifiers get besides ``solver`` and the epochs: digits, 64 hidden units, batch 64.

Everything else is scikit-learn's default, as a user would leave it: relu, ``alpha=1e-4``,
``learning_rate_init=1e-3``, shuffled batches; Adam's betas (0.9, 0.999) and eps 1e-8; for
``"sgd"``, a constant learning rate with momentum 0.9, Nesterov.
"""

ESTIMATOR_EPOCHS = 20
"""Epochs of each timed fit (``max_iter``): about half a second of scikit-learn."""

ESTIMATOR_ROUNDS = 5
"""Timed fits of each estimator; the two take turns, and each reports the median."""

SAME_LOSS_RTOL = {"float64": 1e-9, "float32": 1e-3}
"""How close the two ``loss_curve_`` must be, relatively, for the race to count as the same training.

float64 agrees to about 1e-15; float32's 20 Adam epochs drift apart to about 2e-4 by rounding."""


def estimator_data(dtype: str = "float64") -> tuple[np.ndarray, np.ndarray]:
    """The race's rows: scikit-learn's digits, X (1797, 64) = pixels / 16 in ``dtype``, and the labels y."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise Unavailable("scikit-learn is not installed (pip install scikit-learn)") from None
    digits = load_digits()
    return np.ascontiguousarray(digits.data / 16.0, dtype=dtype), digits.target


def make_estimator(name: str, solver: str, epochs: int):
    """A fresh classifier of the race: :data:`ESTIMATOR_SETTINGS` and ``solver``, for ``epochs`` epochs.

    ``max_iter = n_iter_no_change = epochs`` with ``tol = 0``: the no-improvement count
    cannot pass ``epochs``, so neither stops early.
    """
    if name == "loopnet":
        cls = loopnet.MLPClassifier
    elif name == "sklearn":
        try:
            from sklearn.neural_network import MLPClassifier as cls
        except ImportError:
            raise Unavailable("scikit-learn is not installed (pip install scikit-learn)") from None
    else:
        raise ValueError(f"unknown estimator {name!r}; expected one of {', '.join(ESTIMATORS)}")
    return cls(solver=solver, max_iter=epochs, n_iter_no_change=epochs, **ESTIMATOR_SETTINGS)


class FitClock(NamedTuple):
    """Seconds of one ``fit``: wall clock, CPU of the process (every thread), CPU of the calling thread."""

    wall: float
    cpu: float
    thread_cpu: float


def timed_fit(estimator, X: np.ndarray, y: np.ndarray) -> FitClock:
    """``estimator.fit(X, y)`` timed three ways, with the "max_iter reached" ConvergenceWarning silenced."""
    from sklearn.exceptions import ConvergenceWarning

    from .estimators import ConvergenceWarning as LoopnetConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is reached: that is the point
        warnings.simplefilter("ignore", LoopnetConvergenceWarning)  # scikit-learn's own when installed
        wall, cpu, thread = time.perf_counter(), time.process_time(), time.thread_time()
        estimator.fit(X, y)
        thread = time.thread_time() - thread
        cpu = time.process_time() - cpu
        wall = time.perf_counter() - wall
    return FitClock(wall, cpu, thread)


def _blas_threads() -> int | None:
    """The most threads any BLAS loaded in this process may use (threadpoolctl), None if unknown."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(counts, default=None)


def _loss_curve_gap(a: Sequence[float], b: Sequence[float]) -> float:
    """The largest |a - b| / |b| over two loss curves (inf if their lengths differ)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return math.inf
    return float(np.max(np.abs(a - b) / np.abs(b)))


def estimator_race(
    solvers: Sequence[str] | None = None,
    dtypes: Sequence[str] = ("float64",),
    epochs: int | None = None,
    rounds: int | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Seconds per epoch of ``fit``: loopnet.MLPClassifier against scikit-learn's, on digits.

    None takes the module's :data:`ESTIMATOR_SOLVERS`, :data:`ESTIMATOR_EPOCHS` and
    :data:`ESTIMATOR_ROUNDS`. For each solver and dtype: one warm-up fit of each
    (``max_iter=1``: compilation and first calls, timed and reported apart), then ``rounds``
    rounds of one fit of each of ``epochs`` epochs (:func:`make_estimator`), the two taking
    turns first, so that a slow spell of a shared machine falls on both. A fit's time per
    epoch is its time / its ``n_iter_``; each estimator's is the median over the rounds, and
    ``ratio`` is scikit-learn's median over loopnet's (above 1 loopnet was faster), for the
    wall clock and (``cpu_ratio``) for the process's CPU time.

    Each estimator runs on its library's default threads (Numba's; BLAS's for scikit-learn):
    ``threads``. ``other_threads_cpu_per_epoch`` is the CPU the process spent outside the
    calling thread (Numba's or BLAS's workers) during the fits, and ``threads_used`` is 1
    where that is under 5 % of the fits' CPU, else ``threads``.

    ``loss_curve_gap``: the largest relative difference between the two estimators'
    ``loss_curve_`` of the last round, and ``same_loss_curve`` whether it is within
    :data:`SAME_LOSS_RTOL`: the two trained the same network the same way, so the race is fair.
    """
    solvers = ESTIMATOR_SOLVERS if solvers is None else solvers
    epochs = ESTIMATOR_EPOCHS if epochs is None else epochs
    rounds = ESTIMATOR_ROUNDS if rounds is None else rounds
    for solver in solvers:
        if solver not in ESTIMATOR_SOLVERS:
            raise ValueError(f"unknown solver {solver!r}; expected one of {', '.join(ESTIMATOR_SOLVERS)}")
    for dtype in dtypes:
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}")
    records = []
    for solver in solvers:
        for dtype in dtypes:
            X, y = estimator_data(dtype)
            first = {name: timed_fit(make_estimator(name, solver, 1), X, y) for name in ESTIMATORS}
            clocks: dict[str, list[FitClock]] = {name: [] for name in ESTIMATORS}
            fitted = {}
            for r in range(rounds):
                for name in ESTIMATORS if r % 2 == 0 else ESTIMATORS[::-1]:
                    est = make_estimator(name, solver, epochs)
                    clocks[name].append(timed_fit(est, X, y))
                    if est.n_iter_ != epochs:
                        raise RuntimeError(f"{name} ran {est.n_iter_} epochs, asked for {epochs}")
                    fitted[name] = est
            gap = _loss_curve_gap(fitted["loopnet"].loss_curve_, fitted["sklearn"].loss_curve_)
            record: dict[str, Any] = {
                "solver": solver,
                "dtype": dtype,
                "epochs": epochs,
                "rounds": rounds,
                "loss_curve_gap": gap,
                "same_loss_curve": gap <= SAME_LOSS_RTOL[dtype],
                "final_loss": {name: float(fitted[name].loss_curve_[-1]) for name in ESTIMATORS},
            }
            for name in ESTIMATORS:
                c = clocks[name]
                record[name] = {
                    "seconds_per_epoch": float(np.median([t.wall for t in c])) / epochs,
                    "best_seconds_per_epoch": min(t.wall for t in c) / epochs,
                    "cpu_seconds_per_epoch": float(np.median([t.cpu for t in c])) / epochs,
                    "other_threads_cpu_per_epoch": float(np.median([t.cpu - t.thread_cpu for t in c]))
                    / epochs,
                    "first_fit_seconds": first[name].wall,
                    "first_fit_cpu_seconds": first[name].cpu,
                }
            lp, sk = record["loopnet"], record["sklearn"]
            lp["threads"] = numba.get_num_threads()
            sk["threads"] = _blas_threads()
            for r in (lp, sk):
                busy = r["other_threads_cpu_per_epoch"] > 0.05 * r["cpu_seconds_per_epoch"]
                r["threads_used"] = r["threads"] if busy else 1
            record["ratio"] = sk["seconds_per_epoch"] / lp["seconds_per_epoch"]
            record["cpu_ratio"] = sk["cpu_seconds_per_epoch"] / lp["cpu_seconds_per_epoch"]
            records.append(record)
            if log:
                log(
                    f"  {solver:<5} {dtype:<8} loopnet {format_seconds(lp['seconds_per_epoch'])}/epoch, "
                    f"scikit-learn {format_seconds(sk['seconds_per_epoch'])}/epoch: {_ratio(record['ratio'])}"
                )
    return {
        "environment": environment(),
        "settings": {
            "data": "scikit-learn load_digits, X = pixels / 16 (1797 x 64), y = its 10 labels",
            **{k: list(v) if isinstance(v, tuple) else v for k, v in ESTIMATOR_SETTINGS.items()},
            "max_iter": epochs,
            "n_iter_no_change": epochs,
            "solvers": list(solvers),
            "dtypes": list(dtypes),
            "rounds": rounds,
            "numba_threads": numba.get_num_threads(),
        },
        "records": records,
    }


ESTIMATOR_LEGEND = (
    "ratio = scikit-learn's time per epoch / loopnet's (above 1x loopnet was faster); a fit's time per\n"
    "epoch is its time / n_iter_, the median of {rounds} fits of {epochs} epochs each, the two estimators\n"
    "taking turns; wall = time.perf_counter, CPU = time.process_time (the process: every thread).\n"
    "loss_curve_ same: the two estimators' loss_curve_ agree, relatively, to {rtol}\n"
    "(the largest relative gap is shown)."
)


def _threads_note(results: dict[str, Any]) -> list[str]:
    """Which threads each estimator had, and used (see :func:`estimator_race`'s ``threads_used``)."""
    env, records = results["environment"], results["records"]

    def used(name: str) -> str:
        counts = {r[name]["threads_used"] for r in records}
        most = max((r[name]["other_threads_cpu_per_epoch"] for r in records), default=0.0)
        if len(counts) == 1:
            return f"{counts.pop()} (at most {format_seconds(most)} CPU per epoch in other threads)"
        return ", ".join(f"{r['solver']} {r['dtype']} {r[name]['threads_used']}" for r in records)

    blas = env.get("blas")
    if isinstance(blas, list) and blas:
        pools = ", ".join(
            f"{b['internal_api']} {b['version']} {b['num_threads']} threads" for b in _unique_dicts(blas)
        )
    else:
        pools = str(blas)
    knobs = ", ".join(f"{k}={v}" for k, v in sorted(env.get("blas_env", {}).items())) or "none set"
    layer = env.get("numba_threading_layer") or "no parallel region run"
    return [
        f"threads: loopnet: Numba {results['settings']['numba_threads']} ({layer}); used {used('loopnet')}",
        f"         scikit-learn: BLAS {pools} (threadpoolctl);",
        f"           used {used('sklearn')}",
        f"         OPENBLAS_*, OMP_*, MKL_* variables: {knobs}",
    ]


def _unique_dicts(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for item in items:
        key = (item.get("internal_api"), item.get("version"), item.get("num_threads"))
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def format_estimator_race(results: dict[str, Any]) -> str:
    """The estimator race as text: the machine, the settings and versions, one row per solver and dtype.

    Each row: loopnet's and scikit-learn's seconds per epoch and their ratio, by the wall clock
    and by CPU time, and whether the two ``loss_curve_`` agree. Then the legend, the threads,
    and the first fits (compilation), which are not in the times.
    """
    env, settings, records = results["environment"], results["settings"], results["records"]
    lines = []
    machine = _machine_line(env)
    lines.append(machine or f"{env.get('cpu') or 'this CPU'}, {env.get('cpu_count')} cores")
    lines.append(
        "loopnet.MLPClassifier against sklearn.neural_network.MLPClassifier, measured in one run: "
        "seconds per epoch of fit"
    )
    hidden = tuple(settings["hidden_layer_sizes"])
    lines.append(
        f"digits (1797 x 64, X = pixels / 16), hidden_layer_sizes={hidden}, "
        f"batch_size={settings['batch_size']}, random_state={settings['random_state']},"
    )
    lines.append(
        f"tol={settings['tol']}, max_iter=n_iter_no_change={settings['max_iter']}, "
        "everything else scikit-learn's defaults"
    )
    lines.append(
        f"loopnet {env['loopnet']} (numba {env['numba']}), scikit-learn {env['sklearn']}, "
        f"numpy {env['numpy']}, Python {env['python']}"
    )
    lines.append("")
    header = ["solver", "dtype", "loopnet", "scikit-learn", "ratio",
              "loopnet CPU", "scikit-learn CPU", "ratio", "loss_curve_"]  # fmt: skip
    rows = []
    for r in records:
        lp, sk = r["loopnet"], r["sklearn"]
        same = "same" if r["same_loss_curve"] else "NOT the same"
        rows.append([
            r["solver"], r["dtype"],
            format_seconds(lp["seconds_per_epoch"]), format_seconds(sk["seconds_per_epoch"]),
            _ratio(r["ratio"]),
            format_seconds(lp["cpu_seconds_per_epoch"]), format_seconds(sk["cpu_seconds_per_epoch"]),
            _ratio(r["cpu_ratio"]), f"{same} ({r['loss_curve_gap']:.1g})",
        ])  # fmt: skip
    widths = [max(len(str(row[c])) for row in [header, *rows]) for c in range(len(header))]
    for row in [header, *rows]:
        left = [f"{row[c]:<{widths[c]}}" for c in range(2)]
        right = [f"{row[c]:>{widths[c]}}" for c in range(2, len(row) - 1)]
        lines.append("  ".join([*left, *right, f"{row[-1]:<{widths[-1]}}"]).rstrip())
    lines.insert(len(lines) - len(rows), "-" * len(lines[-1]))
    lines.append("")
    rtol = ", ".join(f"{k} {v:g}" for k, v in SAME_LOSS_RTOL.items() if k in settings["dtypes"])
    lines.append(ESTIMATOR_LEGEND.format(rounds=settings["rounds"], epochs=settings["max_iter"], rtol=rtol))
    lines.extend(_threads_note(results))
    lines.append(
        "first fit (max_iter=1, before the timed fits and not in them; loopnet's compiles, once per install):"
    )
    lines += [
        f"  {r['solver']} {r['dtype']}: loopnet {format_seconds(r['loopnet']['first_fit_seconds'])}, "
        f"scikit-learn {format_seconds(r['sklearn']['first_fit_seconds'])}"
        for r in records
    ]
    return "\n".join(lines)
