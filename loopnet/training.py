"""Training beyond plain SGD: optimizers, schedules, early stopping, callbacks, progress, Ctrl-C.

The arithmetic lives in the kernels: the updates U1-U3 (``kernels.sgd_update``,
``momentum_update``, ``adam_update``), the epoch loop (``kernels.train_epochs``
and its twin and fast forms) and the end-of-epoch rules (``end_of_epoch``:
divergence and early stopping). This module checks what the user hands in,
builds the three named tuples compiled code takes (``kernels.Net``, ``Optim``,
``Run``) and runs the epochs in chunks of about :data:`CHUNK_SECONDS`, returning
to Python between chunks for callbacks, the progress bar and Ctrl-C.
"""

from __future__ import annotations

import math
import numbers
import signal
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Sequence
from contextlib import contextmanager

import numpy as np

from . import kernels as _k
from ._validation import INT64_MAX, check_int, check_positive_float

CHUNK_SECONDS = 0.1
"""A chunk of epochs runs in one compiled call and returns to Python about this often."""

SCHEDULES = ("constant", "invscaling", "step", "cosine")

STOPPED = ("completed", "early_stopping", "interrupted", "diverged", "callback")
"""Why a fit ended: all epochs ran; early stopping; Ctrl-C; a non-finite loss or parameter; a callback."""


class DivergenceError(ValueError):
    """Training produced a non-finite loss or parameter.

    The network is left at the parameters of the last finite epoch (and the
    optimizer at its state then). ``epoch`` is the 0-based index, within the
    fit, of the epoch that diverged; ``history`` holds the epochs before it.
    """

    def __init__(self, message: str, epoch: int, history: History) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.history = history


class History(dict):
    """What ``Network.fit`` returns: one entry per epoch run, and why the run ended.

    Keys: ``"loss"`` (each epoch's training loss, every batch measured before
    its update), ``"val_loss"`` (with validation: the loss on the validation
    rows after the epoch), ``"lr"`` (the learning rate used) and ``"seconds"``
    (wall time; each epoch gets an equal share of its chunk's time).

    Attributes: ``stopped`` is one of ``"completed"``, ``"early_stopping"``,
    ``"interrupted"`` (Ctrl-C), ``"diverged"`` or ``"callback"``;
    ``best_epoch`` is the index of the best epoch (the one early stopping
    keeps; without it, the lowest val_loss, or loss without validation), None
    before any epoch.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stopped = "completed"
        self.best_epoch: int | None = None

    @property
    def epochs(self) -> int:
        """The number of epochs run."""
        return len(self["loss"])

    def plot(self, path=None, *, log: bool = False, title: str | None = None, ax=None):
        """Draw the loss per epoch, and ``val_loss`` when there is one; the matplotlib Figure.

        Parameters
        ----------
        path : str or path-like, optional
            Also save the figure there (PNG, or the format its suffix names),
            written through a temporary file so no half image is ever left.
        log : bool
            A logarithmic loss axis.
        title : str, optional
        ax : matplotlib Axes, optional
            Draw into this Axes instead of a new Figure.

        matplotlib is an optional extra: without it this raises ImportError
        saying how to install it (``pip install 'loopnet[plot]'``).
        """
        from . import plots

        return plots.history(self, path, log=log, title=title, ax=ax)

    def __repr__(self) -> str:
        return f"History(epochs={self.epochs}, stopped={self.stopped!r}, best_epoch={self.best_epoch})"


# --- optimizers ---------------------------------------------------------------------------------


def _check_range(
    value, name: str, low: float, high: float, *, high_open: bool = False, low_open: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    above = low < value if low_open else low <= value
    below = value < high if high_open else value <= high
    if not (above and below):  # NaN is neither
        raise ValueError(
            f"{name} must be in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}, "
            f"got {value}"
        )
    return value


class Optimizer:
    """Base of the optimizers: hyperparameters, and state kept in flat arrays shaped like the parameters.

    The state belongs to the first network the optimizer trains: passing the
    same object to another ``fit`` of that network continues where the last
    one stopped (two fits equal one longer run); a new object starts fresh.
    """

    _kind = _k.PLAIN_SGD

    def __init__(self, lr: float, weight_decay: float) -> None:
        self.lr = check_positive_float(lr, "lr")
        self.weight_decay = _check_range(weight_decay, "weight_decay", 0.0, math.inf, high_open=True)
        self.reset()

    def reset(self) -> None:
        """Forget the state (velocities, moments, step count): the next fit starts fresh."""
        self._network = None
        self._state: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def steps(self) -> int:
        """Updates taken so far."""
        return 0 if self._state is None else int(self._state[2][0])

    def _hyper(self) -> dict:
        return {"momentum": 0.0, "dampening": 0.0, "nesterov": False, "beta1": 0.0, "beta2": 0.0, "eps": 0.0,
                "eps_hat": False}  # fmt: skip

    def _tuple(self, net) -> _k.Optim:
        """The kernels' view of this optimizer for ``net``: its kind, hyperparameters and state."""
        owner = None if self._network is None else self._network()
        if owner is not None and owner is not net:
            raise ValueError(
                f"this {type(self).__name__} holds the state of another network; "
                "use one optimizer object per network (or call .reset() first)"
            )
        if self._state is None or owner is None:
            zeros = np.zeros(net.n_params, dtype=net.dtype)
            self._state = (zeros, zeros.copy(), np.zeros(1, dtype=np.int64))
            self._network = weakref.ref(net)
        m, v, step = self._state
        decay = np.zeros(net.n_params, dtype=net.dtype)
        for W, _ in net._views(decay):  # weight decay on weights, never on biases
            W[...] = self.weight_decay
        kind = self._kind
        if kind == _k.SGD and self._hyper()["momentum"] == 0.0 and self.weight_decay == 0.0:
            kind = _k.PLAIN_SGD  # the same numbers, by the plain update U1
        return _k.Optim(kind, **self._hyper(), decay=decay, m=m, v=v, step=step)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._public().items())
        return f"{type(self).__name__}({args})"

    def _public(self) -> dict:
        return {"lr": self.lr, "weight_decay": self.weight_decay}


class SGD(Optimizer):
    """Gradient descent with momentum, Nesterov momentum and weight decay: ``torch.optim.SGD``'s rule.

    U2 in the README's equation table (``kernels.momentum_update``). Weight decay
    applies to weights only, never to biases.
    """

    _kind = _k.SGD

    def __init__(
        self,
        lr: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
    ) -> None:
        self.momentum = _check_range(momentum, "momentum", 0.0, 1.0)
        self.dampening = _check_range(dampening, "dampening", 0.0, 1.0)
        if not isinstance(nesterov, bool | np.bool_):
            raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum == 0.0 or self.dampening != 0.0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(lr, weight_decay)

    def _hyper(self) -> dict:
        return {**super()._hyper(), "momentum": self.momentum, "dampening": self.dampening,
                "nesterov": self.nesterov}  # fmt: skip

    def _public(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay, "dampening": self.dampening}  # fmt: skip


class Adam(Optimizer):
    """Adam: ``torch.optim.Adam``'s rule (bias corrections, eps outside the square root).

    U3 in the README's equation table (``kernels.adam_update``); weight decay is
    added to the gradient of the weights (not the biases). ``eps_hat=True`` adds
    eps to ``sqrt(v)`` before the bias corrections instead, the form of Kingma and
    Ba's section 2 that scikit-learn uses (``kernels.adam_eps``).
    """

    _kind = _k.ADAM

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        eps_hat: bool = False,
    ) -> None:
        if not isinstance(eps_hat, bool | np.bool_):
            raise TypeError(f"eps_hat must be True or False, got {eps_hat!r}")
        self.eps_hat = bool(eps_hat)
        if not isinstance(betas, Sequence) or isinstance(betas, str) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (
            _check_range(betas[0], "beta1", 0.0, 1.0, high_open=True),
            _check_range(betas[1], "beta2", 0.0, 1.0, high_open=True),
        )
        self.eps = _check_range(eps, "eps", 0.0, math.inf, high_open=True)
        super().__init__(lr, weight_decay)

    def _hyper(self) -> dict:
        return {**super()._hyper(), "beta1": self.betas[0], "beta2": self.betas[1], "eps": self.eps,
                "eps_hat": self.eps_hat}  # fmt: skip

    def _public(self) -> dict:
        public = {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": self.weight_decay}
        return {**public, "eps_hat": True} if self.eps_hat else public


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay, ``torch.optim.AdamW``'s rule (weights only, not biases)."""

    _kind = _k.ADAMW

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(lr, betas, eps, weight_decay)


# --- schedules and early stopping ---------------------------------------------------------------


def learning_rates(
    schedule: str,
    lr: float,
    epochs: int,
    *,
    n_samples: int = 1,
    power_t: float = 0.5,
    step_size: int | None = None,
    gamma: float = 0.1,
) -> np.ndarray:
    """The learning rate of each of ``epochs`` epochs under a named schedule (epoch e counts from 0).

    * ``"constant"``: ``lr``.
    * ``"invscaling"``: scikit-learn's ``lr / (t + 1) ** power_t``, t the samples seen before the epoch
      (``e * n_samples``).
    * ``"step"``: ``lr * gamma ** (e // step_size)`` (``torch.optim.lr_scheduler.StepLR``); step_size
      defaults to a third of the epochs.
    * ``"cosine"``: ``lr * (1 + cos(pi * e / epochs)) / 2`` (``CosineAnnealingLR`` with T_max = epochs).

    Pass the array to ``fit(schedule=...)`` to use other settings than the defaults.
    """
    return _rates(schedule, lr, epochs, n_samples=n_samples, power_t=power_t, step_size=step_size,
                  gamma=gamma)(0, epochs)  # fmt: skip


def _rates(schedule: str, lr: float, epochs: int, *, n_samples: int = 1, power_t: float = 0.5,
           step_size: int | None = None, gamma: float = 0.1) -> Callable[[int, int], np.ndarray]:  # fmt: skip
    """:func:`learning_rates`'s arguments checked; a function giving the rates of epochs first..stop-1.

    ``fit`` asks for the rates as its history grows: a fit of 10**9 epochs that stops early never holds
    10**9 learning rates.
    """
    if not isinstance(schedule, str) or schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; expected one of {', '.join(SCHEDULES)} or an array")
    lr = check_positive_float(lr, "lr")
    epochs = check_int(epochs, "epochs", minimum=0, maximum=INT64_MAX)
    if schedule == "constant":
        return lambda first, stop: np.full(stop - first, lr)
    if schedule == "invscaling":
        n_samples = check_int(n_samples, "n_samples", minimum=1)
        power_t = _check_range(power_t, "power_t", 0.0, math.inf, high_open=True)
        return lambda first, stop: lr / (_epochs(first, stop) * n_samples + 1.0) ** power_t
    if schedule == "step":
        step = max(1, epochs // 3) if step_size is None else check_int(step_size, "step_size", minimum=1)
        gamma = _check_range(gamma, "gamma", 0.0, 1.0)
        if gamma == 0.0:
            raise ValueError("gamma must be > 0: a learning rate of 0 does not train")
        return lambda first, stop: lr * gamma ** (_epochs(first, stop) // step)
    return lambda first, stop: lr * (1.0 + np.cos(np.pi * _epochs(first, stop) / max(epochs, 1))) / 2.0


def _epochs(first: int, stop: int) -> np.ndarray:
    return np.arange(first, stop, dtype=np.float64)


class EarlyStopping:
    """Stop when the monitored loss has not improved for ``patience`` epochs in a row.

    An epoch improves when its value is below the best so far by more than
    ``min_delta``. ``monitor`` is ``"val_loss"`` (needs ``validation=``) or
    ``"loss"`` (the epoch's training loss). With ``restore_best`` the network
    ends at the parameters after the best epoch, whether the run stopped early
    or completed. Checked in compiled code after every epoch.
    """

    def __init__(
        self, patience: int = 10, min_delta: float = 0.0, restore_best: bool = True, monitor: str = "val_loss"
    ) -> None:
        self.patience = check_int(patience, "patience", minimum=1, maximum=INT64_MAX)
        self.min_delta = _check_range(min_delta, "min_delta", 0.0, math.inf, high_open=True)
        if not isinstance(restore_best, bool | np.bool_):
            raise TypeError(f"restore_best must be True or False, got {restore_best!r}")
        self.restore_best = bool(restore_best)
        if monitor not in ("val_loss", "loss"):
            raise ValueError(f"monitor must be 'val_loss' or 'loss', got {monitor!r}")
        self.monitor = monitor

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, "
            f"restore_best={self.restore_best}, monitor={self.monitor!r})"
        )


# --- checks ---------------------------------------------------------------------------------------


def _sample_weight(sample_weight, n: int, name: str = "sample_weight") -> np.ndarray:
    if sample_weight is None:
        return np.ones(n)
    if isinstance(sample_weight, str | bytes):
        raise TypeError(f"{name} must be an array of numbers, got a string")
    try:
        w = np.asarray(sample_weight)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{name} must be a 1-D array of {n} numbers: {exc}") from None
    if w.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {w.dtype}")
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},), one weight per row; got shape {w.shape}")
    w = w.astype(np.float64)  # a copy: the caller's array is never touched
    if not np.all(np.isfinite(w)):
        i = int(np.argmax(~np.isfinite(w)))
        raise ValueError(f"{name} must hold only finite numbers; {name}[{i}] is {w[i]}")
    if np.any(w < 0):
        i = int(np.argmax(w < 0))
        raise ValueError(f"{name} must be >= 0; {name}[{i}] is negative ({w[i]})")
    if not np.any(w > 0):
        raise ValueError(f"{name} is zero everywhere: at least one row needs a positive weight")
    return w


def _schedule(schedule, lr: float, epochs: int, n_samples: int) -> Callable[[int, int], np.ndarray]:
    """fit's ``schedule`` checked: a function giving the learning rates of epochs first..stop-1."""
    if schedule is None or isinstance(schedule, str):
        return _rates("constant" if schedule is None else schedule, lr, epochs, n_samples=n_samples)
    lrs = np.asarray(schedule)
    if lrs.dtype.kind not in "biuf":
        raise TypeError(f"schedule must be a name ({', '.join(SCHEDULES)}) or an array of learning rates")
    if lrs.shape != (epochs,):
        raise ValueError(
            f"a schedule array needs one learning rate per epoch: shape ({epochs},), got {lrs.shape}"
        )
    lrs = lrs.astype(np.float64)
    if not np.all(np.isfinite(lrs)) or np.any(lrs <= 0):
        raise ValueError("every learning rate in the schedule must be a finite number > 0")
    return lambda first, stop: lrs[first:stop]


def _callbacks(callbacks) -> list[Callable]:
    if callbacks is None:
        return []
    if callable(callbacks):
        return [callbacks]
    if isinstance(callbacks, str) or not isinstance(callbacks, Sequence):
        raise TypeError(f"callbacks must be a list of functions f(network, history), got {callbacks!r}")
    for cb in callbacks:
        if not callable(cb):
            raise TypeError(f"every callback must be callable as f(network, history); got {cb!r}")
    return list(callbacks)


@contextmanager
def _ctrl_c_ends_the_chunk():
    """While training, Ctrl-C sets a flag read between chunks; a second Ctrl-C interrupts as usual."""
    pressed = [False]
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    if previous is None or previous == signal.SIG_IGN:
        yield pressed  # not the main thread (signals reach only it), or Ctrl-C is ignored on purpose
        return

    def handler(signum, frame):
        if pressed[0] and callable(previous):
            previous(signum, frame)
        pressed[0] = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)


# --- the loop -------------------------------------------------------------------------------------


def fit(
    net,
    X,
    Y,
    epochs: int = 1000,
    lr: float | None = None,
    batch_size: int | None = None,
    *,
    optimizer: Optimizer | None = None,
    schedule=None,
    shuffle: bool = True,
    sample_weight=None,
    validation=None,
    early_stopping: EarlyStopping | None = None,
    l2: float = 0.0,
    callbacks=(),
    progress: bool = False,
    chunk_seconds: float = CHUNK_SECONDS,
) -> History:
    """``Network.fit`` (see its docstring); ``chunk_seconds`` sets how often compiled code returns.

    ``chunk_seconds=math.inf`` runs every epoch in one compiled call (no
    callbacks, progress or Ctrl-C until the end): the benchmarks' baseline.
    """
    callbacks = _callbacks(callbacks)
    if not isinstance(progress, bool | np.bool_):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    chunk_seconds = (
        check_positive_float(chunk_seconds, "chunk_seconds") if chunk_seconds != math.inf else math.inf
    )
    state, opt, run, rates = _prepare(net, X, Y, epochs, lr, batch_size, optimizer, schedule, shuffle,
                                      sample_weight, validation, early_stopping, l2,
                                      history_size=HISTORY_SIZE)  # fmt: skip
    epochs = int(epochs)  # checked by _prepare
    seconds = np.zeros(run.lrs.shape[0])  # measured here: compiled code has no clock
    history = History()
    _record(history, run, seconds, 0, validation is not None, early_stopping)
    if net.backend != "numpy":
        from .warmup import note_if_compiling

        note_if_compiling(net, state, opt, run)

    done, count, status = 0, 1, _k.RUNNING
    with _ctrl_c_ends_the_chunk() as pressed, _progress_bar(epochs, progress) as bar:
        while done < epochs:
            count = epochs - done if chunk_seconds == math.inf else min(count, epochs - done)
            if done + count > run.lrs.shape[0]:
                run, seconds = _grown(run, seconds, done, done + count, epochs, rates)
            start = time.perf_counter()
            with np.errstate(all="ignore"):  # the twin diverging: reported below, not warned about
                ran, status = net._kernels.train_epochs(state, opt, run, done, count)
            ran, status = int(ran), int(status)
            elapsed = time.perf_counter() - start
            kept = ran - 1 if status == _k.DIVERGED else ran
            seconds[done : done + ran] = elapsed / max(ran, 1)
            done += kept
            _record(history, run, seconds, done, validation is not None, early_stopping)
            if progress:
                bar.update(kept)
                post = {"loss": f"{run.losses[done - 1]:.4g}"} if done else {}
                if validation is not None and done:
                    post["val_loss"] = f"{run.val_losses[done - 1]:.4g}"
                bar.set_postfix(post, refresh=False)
            if status == _k.DIVERGED:
                history.stopped = "diverged"
                raise DivergenceError(
                    f"training diverged in epoch {done + 1} of this fit: the loss or a parameter became "
                    f"infinite or NaN (learning rate {run.lrs[done]:g}). The network is back at its "
                    f"parameters after epoch {done}. Try a smaller learning rate, or inputs and targets on a "
                    "smaller scale.",
                    done,
                    history,
                )
            if status == _k.EARLY_STOPPING:
                history.stopped = "early_stopping"
                break
            answers = [cb(net, history) for cb in callbacks]  # every callback sees every chunk
            if any(answer is not None and bool(answer) for answer in answers):
                history.stopped = "callback"
                break
            if pressed[0]:
                history.stopped = "interrupted"
                warnings.warn(
                    f"fit interrupted by Ctrl-C after epoch {done} of {epochs}; the network holds the "
                    "parameters of that epoch and the history matches",
                    stacklevel=3,
                )
                break
            count = _next_chunk(ran, elapsed, chunk_seconds)
    if (
        early_stopping is not None
        and early_stopping.restore_best
        and history.stopped == "completed"
        and run.best[0] < math.inf
    ):
        net.params[...] = run.best_params
    return history


def _setup(net, X, Y, epochs, lr, batch_size, optimizer, schedule, shuffle, sample_weight, validation,
           early_stopping, l2=0.0, record_batches=False) -> tuple[_k.Net, _k.Optim, _k.Run]:  # fmt: skip
    """Check fit's data and training arguments; the three tuples the compiled epoch loop takes, with the
    per-epoch arrays (learning rates, losses) for all ``epochs``.

    Every check runs here, before anything is allocated or compiled code runs.
    """
    return _prepare(net, X, Y, epochs, lr, batch_size, optimizer, schedule, shuffle, sample_weight,
                    validation, early_stopping, l2, record_batches)[:3]  # fmt: skip


def _prepare(net, X, Y, epochs, lr, batch_size, optimizer, schedule, shuffle, sample_weight, validation,
             early_stopping, l2=0.0, record_batches=False, history_size=None):  # fmt: skip
    """:func:`_setup`'s tuples with per-epoch arrays for the first ``history_size`` epochs only (None: all),
    and the schedule's function giving the learning rates of later epochs (see :func:`_grown`)."""
    X, Y = net._check_XY(X, Y)
    N = X.shape[0]
    epochs = check_int(epochs, "epochs", minimum=0, maximum=INT64_MAX)
    if optimizer is None:
        optimizer = SGD(lr=0.5 if lr is None else lr)
    elif not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be loopnet.SGD, loopnet.Adam or loopnet.AdamW, got {optimizer!r}")
    elif lr is not None:
        raise ValueError(
            f"pass the learning rate to the optimizer ({type(optimizer).__name__}(lr=...)), not to fit"
        )
    B = N if batch_size is None else min(check_int(batch_size, "batch_size", minimum=1), N)
    if not isinstance(shuffle, bool | np.bool_):
        raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
    rates = _schedule(schedule, optimizer.lr, epochs, N)
    sw = _sample_weight(sample_weight, N)
    if validation is None:
        Xv = np.empty((0, X.shape[1]), dtype=net.dtype)
        Yv = np.empty((0, Y.shape[1]), dtype=net.dtype)
        swv = np.empty(0)
    else:
        if not isinstance(validation, tuple | list) or len(validation) not in (2, 3):
            raise TypeError(
                "validation must be a pair (X_val, Y_val) or a triple (X_val, Y_val, sample_weight)"
            )
        Xv, Yv = net._check_XY(*validation[:2], names=("X_val", "Y_val"))
        swv = _sample_weight(
            validation[2] if len(validation) == 3 else None, Xv.shape[0], "validation weights"
        )
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise TypeError(f"early_stopping must be a loopnet.EarlyStopping, got {early_stopping!r}")
    if early_stopping is not None and early_stopping.monitor == "val_loss" and validation is None:
        raise ValueError(
            "EarlyStopping(monitor='val_loss') needs validation=(X_val, Y_val); or monitor='loss'"
        )

    l2 = _check_range(l2, "l2", 0.0, math.inf, high_open=True)
    opt = optimizer._tuple(net)  # may refuse: before anything is allocated or run
    rng_state = np.array([net._rng.integers(1, 2**31 - 1)], dtype=np.int64)
    lrs = np.array(rates(0, epochs if history_size is None else min(epochs, history_size)), dtype=np.float64)
    run = _run(net, X, Y, sw, Xv, Yv, swv, lrs, B, bool(shuffle), rng_state, early_stopping, opt)
    batches = -(-N // B) if record_batches else 0
    run = run._replace(l2=l2, batch_losses=np.zeros((batches, 2)))
    state = _k.Net(net.params, np.zeros_like(net.params), net._sizes, net._acts, net._loss_code)
    return state, opt, run, rates


HISTORY_SIZE = 1024
"""Epochs of per-epoch arrays (losses, learning rates, times) a fit allocates first. Each time the next
chunk would run past them they double (up to the epochs asked for), so a fit asked for 10**9 epochs that
stops early, by early stopping, a callback or Ctrl-C, holds memory for the epochs it ran."""


def _grown(run: _k.Run, seconds: np.ndarray, done: int, need: int, epochs: int, rates):
    """``run`` and ``seconds`` with per-epoch arrays for at least ``need`` epochs (at most ``epochs``):
    the first ``done`` entries kept, the learning rates of the new epochs from the schedule's ``rates``."""
    size = min(epochs, max(need, 2 * run.lrs.shape[0]))

    def longer(a: np.ndarray, fill: float) -> np.ndarray:
        b = np.full(size, fill)
        b[:done] = a[:done]
        return b

    lrs = np.concatenate((run.lrs, rates(run.lrs.shape[0], size))).astype(np.float64, copy=False)
    run = run._replace(lrs=lrs, losses=longer(run.losses, np.nan), val_losses=longer(run.val_losses, np.nan))
    return run, longer(seconds, 0.0)


class _NoBar:
    """What fit uses for a progress bar when there is none: importing tqdm costs a first fit 0.1-0.4 s."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def _progress_bar(epochs: int, progress: bool):
    if not progress:
        return _NoBar()
    from tqdm.auto import tqdm  # imported here: a plain import loopnet, and a fit without a bar, stay light

    return tqdm(total=epochs, unit="epoch")


def _next_chunk(ran: int, elapsed: float, chunk_seconds: float) -> int:
    """Epochs for the next chunk: about chunk_seconds' worth at the last chunk's pace, growing at most 10x."""
    if elapsed <= 0:
        return 10 * ran
    return int(max(1, min(10 * ran, ran * chunk_seconds / elapsed)))


def _record(history: History, run, seconds, done: int, validation: bool, early_stopping) -> None:
    """Point the history at the first ``done`` epochs (views: the run's arrays are this fit's own).

    The best epoch is updated from the epochs added since the last call only: a chunk's bookkeeping
    costs the same at epoch 10 and at epoch 10 million.
    """
    before = len(history.get("loss", ()))
    history["loss"] = run.losses[:done]
    if validation:
        history["val_loss"] = run.val_losses[:done]
    history["lr"] = run.lrs[:done]
    history["seconds"] = seconds[:done]
    if done <= before:
        return
    if early_stopping is not None:
        history.best_epoch = int(run.waits[1]) if run.best[0] < math.inf else None
        return
    watched = history["val_loss"] if validation else history["loss"]
    new = watched[before:done]
    if np.any(np.isfinite(new)):
        e = before + int(np.nanargmin(new))
        if history.best_epoch is None or watched[e] < watched[history.best_epoch]:
            history.best_epoch = e


def _run(net, X, Y, sw, Xv, Yv, swv, lrs, B, shuffle, rng_state, early_stopping, opt) -> _k.Run:
    """Every buffer one fit needs, allocated once: compiled code allocates nothing per epoch."""
    dt = net.dtype
    zbuf, abuf, dbuf = net._work(B)
    zv, av, _ = net._work(Xv.shape[0]) if Xv.shape[0] else (np.empty(0, dt),) * 3
    Xb = np.empty(B * X.shape[1], dtype=dt)
    epochs = lrs.shape[0]
    fast = net.backend == "loops"
    monitor = _k.NO_MONITOR
    restore_best = bool(early_stopping and early_stopping.restore_best)
    if early_stopping is not None:
        monitor = _k.MONITOR_VAL_LOSS if early_stopping.monitor == "val_loss" else _k.MONITOR_LOSS
    return _k.Run(
        X=X, Y=Y, sw=sw, Xv=Xv, Yv=Yv, swv=swv, lrs=lrs, batch_size=B, shuffle=shuffle,
        order=np.arange(X.shape[0], dtype=np.int64), rng_state=rng_state,
        Xb=Xb, Yb=np.empty(B * Y.shape[1], dtype=dt), wb=np.empty(B), zbuf=zbuf, abuf=abuf, dbuf=dbuf,
        zv=zv, av=av, losses=np.full(epochs, np.nan), val_losses=np.full(epochs, np.nan),
        monitor=monitor,
        patience=early_stopping.patience if early_stopping else 1,
        min_delta=early_stopping.min_delta if early_stopping else 0.0,
        restore_best=restore_best,
        best=np.array([np.inf]), waits=np.zeros(2, dtype=np.int64),
        best_params=net.params.copy() if restore_best else net.params[:0].copy(),
        last_params=net.params.copy(), last_m=opt.m.copy(), last_v=opt.v.copy(), last_step=opt.step.copy(),
        paramsT=np.empty_like(net.params) if fast else np.empty(0, dt),
        XbT=np.empty_like(Xb) if fast else np.empty(0, dt),
        aTbuf=np.empty_like(zbuf) if fast else np.empty(0, dt),
        dTbuf=np.empty_like(dbuf) if fast else np.empty(0, dt),
        l2=0.0, batch_losses=np.zeros((0, 2)),
    )  # fmt: skip
