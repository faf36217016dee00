"""scikit-learn's ``MLPClassifier`` and ``MLPRegressor``, trained by loopnet's compiled loops.

The same parameters, attributes and results as ``sklearn.neural_network``: for
the same ``random_state`` these draw what scikit-learn draws, in its order (the
Glorot-uniform initial weights, each epoch's shuffle, the early-stopping
split), and apply its update rules, so ``coefs_`` and ``loss_curve_`` match
scikit-learn's to rounding. Each epoch is one call of loopnet's compiled
training loop (``Network`` and ``loopnet.training``); the stopping rules,
learning-rate schedules and validation scores run here, in Python, between
epochs, exactly as scikit-learn orders them.

How scikit-learn's rules map onto loopnet's:

- its loss is loopnet's loss times a constant ``f`` and its gradient loopnet's
  times ``c`` (``f = c = 1`` for softmax + log loss; ``f = c = K`` for K
  logistic outputs, whose losses it sums; ``f = 1/2``, ``c = K/2`` for the
  squared error). So training runs with ``alpha / c`` as loopnet's ``l2``
  penalty, SGD at learning rate ``c * lr``, and Adam (whose step does not
  scale with the gradient) at ``lr`` with eps divided by ``c``; and the loss
  it reports is rebuilt from each batch's recorded loss and penalty,
  weighted by the batch's row count as scikit-learn weights them.
- its Adam adds eps to ``sqrt(v)`` before the bias corrections
  (``loopnet.Adam(eps_hat=True)``);
- its momentum keeps the learning rate inside the velocity
  (``v = momentum v - lr g``): when the learning rate changes between epochs,
  loopnet's velocity (``torch.optim.SGD``'s, without it) is rescaled by
  ``old / new``, which leaves scikit-learn's unchanged.

scikit-learn is optional: with it installed these classes are its estimators
(``BaseEstimator`` and the mixins, ``validate_data``, its ``NotFittedError`` and
``ConvergenceWarning``); without it, small stand-ins keep ``get_params``,
``set_params``, ``score`` and the same errors.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import math
import numbers
import time
import warnings
import weakref

import numpy as np

from . import training as _training
from ._validation import as_matrix, check_dtype, check_int
from .training import _check_range

try:  # scikit-learn is an optional extra: everything below works without it
    import sklearn  # noqa: F401
except ImportError:  # pragma: no cover - exercised by the no-sklearn test in a subprocess
    HAVE_SKLEARN = False
else:
    HAVE_SKLEARN = True

if HAVE_SKLEARN:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
    from sklearn.utils.multiclass import type_of_target
    from sklearn.utils.validation import check_is_fitted, validate_data
else:

    class ConvergenceWarning(UserWarning):
        """Training stopped before the stopping rule was met (scikit-learn's, when it is installed)."""

    class DataConversionWarning(UserWarning):
        """A column vector y was raveled (scikit-learn's, when it is installed)."""

    class NotFittedError(ValueError, AttributeError):
        """An estimator used before ``fit`` (scikit-learn's, when it is installed)."""

    class BaseEstimator:
        """``get_params`` / ``set_params`` / ``repr`` from ``__init__``'s signature, as scikit-learn's."""

        @classmethod
        def _get_param_names(cls) -> list[str]:
            sig = inspect.signature(cls.__init__)
            return sorted(p.name for p in sig.parameters.values() if p.name != "self")

        def get_params(self, deep: bool = True) -> dict:
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for key, value in params.items():
                if key not in valid:
                    raise ValueError(
                        f"Invalid parameter {key!r} for estimator {type(self).__name__}. "
                        f"Valid parameters are: {valid!r}."
                    )
                setattr(self, key, value)
            return self

        def __repr__(self) -> str:
            defaults = inspect.signature(type(self).__init__).parameters
            changed = [
                f"{k}={v!r}"
                for k, v in self.get_params().items()
                if not (k in defaults and _same(defaults[k].default, v))
            ]
            return f"{type(self).__name__}({', '.join(changed)})"

    class ClassifierMixin:
        _estimator_type = "classifier"

        def score(self, X, y, sample_weight=None) -> float:
            """Mean accuracy of ``predict(X)`` against ``y`` (subset accuracy for multilabel)."""
            return _accuracy(np.asarray(y), self.predict(X), sample_weight)

    class RegressorMixin:
        _estimator_type = "regressor"

        def score(self, X, y, sample_weight=None) -> float:
            """R^2 of ``predict(X)`` against ``y``, averaged over outputs."""
            return _r2(np.asarray(y, dtype=float), self.predict(X), sample_weight)

    def check_is_fitted(estimator) -> None:
        if not any(k.endswith("_") and not k.startswith("__") for k in vars(estimator)):
            raise NotFittedError(
                f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )


def _same(a, b) -> bool:
    try:
        return bool(a == b) if not isinstance(a, np.ndarray) else False
    except (ValueError, TypeError):
        return False


__all__ = ["ConvergenceWarning", "MLPClassifier", "MLPRegressor", "NotFittedError"]

_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
                "sigmoid": "sigmoid", "leaky_relu": "leaky_relu"}  # fmt: skip
"""scikit-learn's activation names (and loopnet's two extra) -> loopnet's."""
_OUTPUTS = {"softmax": ("softmax", "cross_entropy"), "logistic": ("sigmoid", "bce"),
            "identity": ("identity", "mse"), "exp": ("exp", "poisson")}  # fmt: skip
"""scikit-learn's out_activation_ -> loopnet's (output activation, loss)."""
_SOLVERS = ("sgd", "adam", "lbfgs")
_LEARNING_RATES = ("constant", "invscaling", "adaptive")
_NON_FINITE = (
    "Solver produced non-finite parameter weights. The input data may contain large values and need to "
    "be preprocessed."
)


# --- scores without scikit-learn ------------------------------------------------------------------


def _accuracy(y, pred, sample_weight) -> float:
    y = np.asarray(y)
    same = np.all(y == pred, axis=1) if y.ndim == 2 else (y == pred)
    return float(np.average(same, weights=sample_weight))


def _r2(y, pred, sample_weight) -> float:
    y = np.asarray(y, dtype=float)
    y = y.reshape(len(y), -1)
    pred = np.asarray(pred, dtype=float).reshape(y.shape)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    w = w[:, None]
    num = (w * (y - pred) ** 2).sum(axis=0)
    den = (w * (y - np.average(y, axis=0, weights=w[:, 0])) ** 2).sum(axis=0)
    good = den != 0
    scores = np.ones(y.shape[1])
    scores[good] = 1 - num[good] / den[good]
    scores[~good & (num != 0)] = 0.0
    return float(scores.mean())


# --- the optimizer state an estimator keeps (plain arrays: it pickles) -----------------------------


class _SolverState:
    """scikit-learn's ``_optimizer``: the learning rate now, and the update rule's state as arrays.

    The arrays are loopnet's optimizer state (velocity or moments, step count),
    handed to a ``loopnet.SGD`` / ``loopnet.Adam`` for each fit; this object holds
    no compiled code, so estimators pickle, clone and move between processes.
    """

    def __init__(self, solver: str, learning_rate: float, n_params: int, dtype) -> None:
        self.solver = solver
        self.learning_rate_init = float(learning_rate)
        self.learning_rate = float(learning_rate)
        self.velocity_lr = float(learning_rate)  # the rate SGD's velocity m is expressed at (see the module)
        self.m = np.zeros(n_params, dtype=dtype)
        self.v = np.zeros(n_params, dtype=dtype)
        self.step = np.zeros(1, dtype=np.int64)


# --- the estimators ---------------------------------------------------------------------------------


class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: checks, the network, the training loop."""

    _is_classifier = False

    # -- checks --------------------------------------------------------------------------------------

    def _hidden_sizes(self) -> list[int]:
        h = self.hidden_layer_sizes
        if isinstance(h, numbers.Integral) and not isinstance(h, bool):
            h = [h]
        try:
            h = list(h)
        except TypeError:
            raise TypeError(
                f"hidden_layer_sizes must be an int or a sequence of ints, got {self.hidden_layer_sizes!r}"
            ) from None
        for size in h:
            if isinstance(size, bool) or not isinstance(size, numbers.Integral):
                raise TypeError(f"hidden_layer_sizes must hold integers, got {self.hidden_layer_sizes!r}")
        if any(size <= 0 for size in h):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {h}.")
        return [int(size) for size in h]

    def _hidden_activations(self, n_hidden: int) -> list[str]:
        act = self.activation
        names = [act] * n_hidden if isinstance(act, str) else list(act) if _is_seq(act) else None
        if names is None:
            raise TypeError(f"activation must be a name or a list of names, got {act!r}")
        if len(names) != n_hidden:
            raise ValueError(
                f"activation has {len(names)} names for {n_hidden} hidden layers; "
                "give one name, or one per layer"
            )
        for name in names:
            if not isinstance(name, str) or name not in _ACTIVATIONS:
                raise ValueError(
                    f"The 'activation' parameter must be one of {', '.join(map(repr, _ACTIVATIONS))}; "
                    f"got {name!r}"
                )
        return names

    def _check_params(self) -> None:
        """Every hyperparameter, checked before any data is touched or compiled code runs."""
        hidden = self._hidden_sizes()
        self._hidden_activations(len(hidden))
        _choice(self.solver, "solver", _SOLVERS)
        _choice(self.learning_rate, "learning_rate", _LEARNING_RATES)
        _check_range(self.alpha, "alpha", 0.0, math.inf, high_open=True)
        _check_range(
            self.learning_rate_init, "learning_rate_init", 0.0, math.inf, low_open=True, high_open=True
        )
        _check_range(self.power_t, "power_t", 0.0, math.inf)
        check_int(self.max_iter, "max_iter", minimum=1)
        check_int(self.max_fun, "max_fun", minimum=1)
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            if isinstance(self.batch_size, str):
                raise ValueError(f"batch_size must be 'auto' or an integer >= 1, got {self.batch_size!r}")
            check_int(self.batch_size, "batch_size", minimum=1)
        _check_range(self.tol, "tol", 0.0, math.inf)
        _check_range(self.momentum, "momentum", 0.0, 1.0)
        _check_range(self.beta_1, "beta_1", 0.0, 1.0, high_open=True)
        _check_range(self.beta_2, "beta_2", 0.0, 1.0, high_open=True)
        _check_range(self.epsilon, "epsilon", 0.0, math.inf, low_open=True, high_open=True)
        _check_range(self.validation_fraction, "validation_fraction", 0.0, 1.0, low_open=True, high_open=True)
        if not (isinstance(self.n_iter_no_change, float) and self.n_iter_no_change == math.inf):
            check_int(self.n_iter_no_change, "n_iter_no_change", minimum=1)
        for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.dtype is not None:
            check_dtype(self.dtype)
        if self.backend not in ("loops", "numpy"):
            raise ValueError(f"backend must be 'loops' or 'numpy', got {self.backend!r}")
        _check_random_state(self.random_state)

    def _check_X(self, X, reset: bool):
        """X as a dense float array (sparse is densified), with scikit-learn's checks and messages."""
        _refuse_dates(X, "X")
        if HAVE_SKLEARN:
            X = validate_data(
                self, X, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32), reset=reset
            )
        else:
            X = _fallback_X(self, X, reset)
        return _dense(X)

    def _check_Xy(self, X, y, reset: bool):
        _refuse_dates(X, "X")
        if not self._is_classifier:  # dates are labels a classifier may take, not numbers to regress
            _refuse_dates(y, "y")
        if HAVE_SKLEARN:
            X, y = validate_data(
                self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                dtype=(np.float64, np.float32), y_numeric=not self._is_classifier, reset=reset,
            )  # fmt: skip
        else:
            X = _fallback_X(self, X, reset)
            y = _fallback_y(y, X.shape[0], numeric=not self._is_classifier)
        if y.ndim == 2 and y.shape[1] == 1:
            # scikit-learn's column_or_1d(y, warn=True): a column vector is one target, said so
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change the shape of y "
                "to (n_samples, ), for example using ravel().",
                DataConversionWarning,
                stacklevel=4,
            )
            y = y.ravel()
        return _dense(X), y

    def _dtype_for(self, X) -> np.dtype:
        if self.dtype is not None:
            return np.dtype(self.dtype)
        return X.dtype if X.dtype == np.float32 else np.dtype(np.float64)

    # -- the network -----------------------------------------------------------------------------------

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_net_cache", None)  # compiled code stays out of pickles and clones
        return state

    def _network(self, dtype=None):
        """A loopnet.Network shaped like coefs_, holding coefs_ and intercepts_ (built once, cached).

        In coefs_'s dtype, or in ``dtype`` (predict: float64 rows on float32 weights run in float64)."""
        from .network import Network

        sizes = [self.coefs_[0].shape[0]] + [W.shape[1] for W in self.coefs_]
        dtype = self.coefs_[0].dtype if dtype is None else np.dtype(dtype)
        # like scikit-learn's forward pass, the layers' functions come from the public state (activation,
        # out_activation_), so coefs_ and intercepts_ set by hand train and predict as its do
        acts = [_ACTIVATIONS[a] for a in self._hidden_activations(len(sizes) - 2)]
        out_act, loss = _OUTPUTS[self.out_activation_]
        key = (tuple(sizes), tuple(acts), out_act, dtype.name, self.backend)
        cached = getattr(self, "_net_cache", None)
        if cached is None or cached[0] != key:
            net = Network(sizes, activation=acts, output_activation=out_act, loss=loss,
                          backend=self.backend, dtype=dtype, seed=0)  # fmt: skip
            self._net_cache = cached = (key, net)
        net = cached[1]
        for (W, b), coef, intercept in zip(
            net._views(net.params), self.coefs_, self.intercepts_, strict=True
        ):
            W[...] = coef
            b[...] = intercept
        return net

    def _store(self, net) -> None:
        """coefs_ and intercepts_ from the network's parameters (fresh arrays)."""
        self.coefs_ = [W.copy() for W, _ in net._views(net.params)]
        self.intercepts_ = [b.copy() for _, b in net._views(net.params)]

    def _forward(self, X) -> np.ndarray:
        net = self._network(X.dtype)
        with np.errstate(all="ignore"):
            return net._forward_as_computed(X) if X.shape[0] else np.empty((0, net.sizes[-1]), net.dtype)

    def _scales(self) -> tuple[float, float]:
        """(f, c): scikit-learn's loss = f * loopnet's loss, its gradient = c * loopnet's (see the module)."""
        K = self.n_outputs_
        out = self.out_activation_
        if out == "softmax":
            return 1.0, 1.0
        if out == "logistic" or out == "exp":
            return float(K), float(K)
        return 0.5, K / 2.0

    def _initialize(self, y2d, layer_units, dtype, rng) -> None:
        """scikit-learn's _initialize: the counters, the output layer, Glorot-uniform weights in its order."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y2d.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        acts = self._hidden_activations(len(layer_units) - 2)
        self.coefs_, self.intercepts_ = [], []
        for i in range(self.n_layers_ - 1):
            # scikit-learn's factor 2 for logistic units; with one activation per layer, a layer's
            # factor follows the activation after it (the output layer: the last hidden layer's)
            act = self.activation if isinstance(self.activation, str) else acts[min(i, len(acts) - 1)]
            factor = 2.0 if _ACTIVATIONS[act] == "sigmoid" else 6.0
            bound = np.sqrt(factor / (layer_units[i] + layer_units[i + 1]))
            W = rng.uniform(-bound, bound, (layer_units[i], layer_units[i + 1]))
            b = rng.uniform(-bound, bound, layer_units[i + 1])
            self.coefs_.append(W.astype(dtype, copy=False))
            self.intercepts_.append(b.astype(dtype, copy=False))
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [i.copy() for i in self.intercepts_]
        if self.solver in ("sgd", "adam"):
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    # -- fit -------------------------------------------------------------------------------------------

    def _fit(self, X, y, sample_weight=None, incremental=False, validation_data=None):
        self._check_params()
        hidden = self._hidden_sizes()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._check_Xy(X, y, reset=first_pass)
        dtype = self._dtype_for(X)
        X = np.ascontiguousarray(X, dtype=dtype)
        sw = _sample_weights(sample_weight, X.shape[0])
        Y = self._encode(y, incremental, first_pass)  # (N, K) float targets
        cw = self._class_weight_rows(y)
        if cw is not None:
            sw = cw if sw is None else sw * cw
        val = None
        if validation_data is not None:
            val = self._validation_rows(validation_data, dtype, Y.shape[1])
        layer_units = [X.shape[1], *hidden, Y.shape[1]]
        rng = _check_random_state(self.random_state)
        self._random_state = rng
        if first_pass:
            self._initialize(Y, layer_units, dtype, rng)
        elif [W.shape for W in self.coefs_] != list(itertools.pairwise(layer_units)):
            raise ValueError(
                f"warm start and partial_fit need the same layer sizes: the fitted network has "
                f"{[self.coefs_[0].shape[0]] + [W.shape[1] for W in self.coefs_]}, these settings and data "
                f"give {layer_units}"
            )
        if self.coefs_[0].dtype != dtype:
            self.coefs_ = [c.astype(dtype) for c in self.coefs_]
            self.intercepts_ = [c.astype(dtype) for c in self.intercepts_]
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, Y, sw)
        else:
            self._fit_stochastic(X, Y, y, sw, incremental, val)
        if not all(np.isfinite(w).all() for w in (*self.coefs_, *self.intercepts_)):
            raise ValueError(_NON_FINITE)
        return self

    def _validation_rows(self, validation_data, dtype, n_outputs: int):
        if not (isinstance(validation_data, tuple | list) and len(validation_data) in (2, 3)):
            raise TypeError(
                "validation_data must be a pair (X_val, y_val) or a triple (X_val, y_val, sample_weight)"
            )
        Xv = self._check_X(validation_data[0], reset=False)
        yv = np.asarray(validation_data[1])
        if yv.ndim == 2 and yv.shape[1] == 1:
            yv = yv.ravel()
        if yv.ndim not in (1, 2):
            raise ValueError(
                f"validation_data: y_val must be a 1-D or 2-D array like y; got shape {yv.shape}"
            )
        if len(yv) != Xv.shape[0]:
            raise ValueError(f"validation_data: X_val has {Xv.shape[0]} rows but y_val has {len(yv)}")
        if self._is_classifier:
            _check_validation_labels(yv, self.classes_, self._y_type)
        else:
            as_float = None
            if yv.dtype.kind not in "mMc":  # dates and complex numbers convert, but are not targets
                with contextlib.suppress(TypeError, ValueError):
                    as_float = yv.astype(np.float64)
            if as_float is None:
                raise TypeError(f"validation_data: y_val must hold numbers; got an array of dtype {yv.dtype}")
            if not np.all(np.isfinite(as_float)):
                raise ValueError("validation_data: y_val contains NaN or infinity")
            outputs = 1 if yv.ndim == 1 else yv.shape[1]
            if outputs != n_outputs:
                raise ValueError(f"validation_data: y_val has {outputs} outputs; y has {n_outputs}")
        swv = None if len(validation_data) == 2 else _sample_weights(validation_data[2], Xv.shape[0])
        return np.ascontiguousarray(Xv, dtype=dtype), yv, swv

    def _optimizer_for(self, net, n_params, dtype, incremental):
        """The _SolverState (fresh per fit, kept across partial_fit) and a loopnet optimizer on its arrays."""
        state = getattr(self, "_optimizer", None)
        if not incremental or state is None or state.m.shape[0] != n_params or state.m.dtype != dtype:
            state = _SolverState(self.solver, self.learning_rate_init, n_params, dtype)
            self._optimizer = state
        _, c = self._scales()
        if self.solver == "adam":
            # Adam's step does not scale with the gradient: the same lr, and eps / c to keep it so
            opt = _training.Adam(lr=state.learning_rate, betas=(self.beta_1, self.beta_2),
                                 eps=self.epsilon / c, eps_hat=True)  # fmt: skip
        else:
            mu = float(self.momentum)
            opt = _training.SGD(lr=state.learning_rate * c, momentum=mu,
                                nesterov=bool(self.nesterovs_momentum) and mu > 0)  # fmt: skip
        opt._state = (state.m, state.v, state.step)
        opt._network = weakref.ref(net)
        return state, opt

    def _fit_stochastic(self, X, Y, y, sw, incremental, val):
        net = self._network()
        f, c = self._scales()
        state, opt = self._optimizer_for(net, net.n_params, net.dtype, incremental)
        early_stopping = self.early_stopping
        if early_stopping and val is None:
            X_train, X_val, Y_train, y_val, sw_train, sw_val = self._split(X, Y, y, sw)
        else:
            X_train, Y_train, sw_train = X, Y, sw
            X_val, y_val, sw_val = val if val is not None else (None, None, None)
        N = X_train.shape[0]
        B = min(200, N) if self.batch_size == "auto" else self.batch_size
        if B > N and self.batch_size != "auto":
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                stacklevel=4,
            )
        B = int(np.clip(B, 1, N))
        epochs = 1 if incremental else self.max_iter
        kernels_state, opt_t, run = _training._setup(
            net, X_train, Y_train, epochs, None, B, opt, None, False, sw_train, None, None,
            l2=self.alpha / c, record_batches=True,
        )  # fmt: skip
        if net.backend != "numpy":  # the first fit of an install compiles for tens of seconds: say so
            from .warmup import note_if_compiling

            note_if_compiling(net, kernels_state, opt_t, run)
        counts = np.full(-(-N // B), B, dtype=np.float64)
        counts[-1] = N - B * (len(counts) - 1)
        history = _training.History()
        history["loss"], history["lr"], history["seconds"] = [], [], []
        if X_val is not None:
            history["val_score"] = []
        sample_idx = np.arange(N, dtype=np.int64)
        try:
            self.n_iter_ = 0
            for it in range(epochs):
                if self.shuffle:
                    sample_idx = sample_idx[_permutation(self._random_state, N)]
                run.order[...] = sample_idx
                run.lrs[it] = state.learning_rate * (c if self.solver == "sgd" else 1.0)
                if state.learning_rate != state.velocity_lr and self.solver == "sgd":
                    # keep momentum * v - lr g (see the module), also across partial_fit calls
                    state.m *= state.velocity_lr / state.learning_rate
                state.velocity_lr = state.learning_rate
                start = time.perf_counter()
                with np.errstate(all="ignore"):
                    _, status = net._kernels.train_epochs(kernels_state, opt_t, run, it, 1)
                history["seconds"].append(time.perf_counter() - start)
                history["lr"].append(state.learning_rate)
                self.n_iter_ += 1
                parts = run.batch_losses
                self.loss_ = float((counts * (f * parts[:, 0] + c * parts[:, 1])).sum() / N)
                self.t_ += N
                self.loss_curve_.append(self.loss_)
                history["loss"].append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                if int(status) == _training._k.DIVERGED:
                    # scikit-learn trains on with non-finite weights; loopnet's loop has put back the
                    # last finite epoch. Early stopping keeps its best weights, anything else fails.
                    history.stopped = "diverged"
                    if X_val is None:
                        self._store(net)
                        raise ValueError(_NON_FINITE)
                    self.validation_scores_.append(float("nan"))
                    history["val_score"].append(float("nan"))
                    break
                self._update_no_improvement_count(early_stopping, X_val, y_val, sw_val, net, history)
                if self.solver == "sgd" and self.learning_rate == "invscaling":
                    state.learning_rate = self.learning_rate_init / (self.t_ + 1) ** self.power_t
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score" if early_stopping else "Training loss"
                    msg = (
                        f"{what} did not improve more than tol={self.tol:f} for "
                        f"{self.n_iter_no_change} consecutive epochs."
                    )
                    if self._trigger_stopping(state, msg):
                        history.stopped = "converged"
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                        "optimization hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=4,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=3)
            history.stopped = "interrupted"
        self._store(net)
        if early_stopping:
            self.coefs_ = self._best_coefs
            self.intercepts_ = self._best_intercepts
            if history.stopped == "completed":
                history.stopped = "early_stopping" if self.n_iter_ < epochs else "completed"
        self.history_ = history

    def _trigger_stopping(self, state, msg) -> bool:
        if self.solver == "sgd" and self.learning_rate == "adaptive":
            if state.learning_rate <= 1e-6:
                if self.verbose:
                    print(msg + " Learning rate too small. Stopping.")
                return True
            state.learning_rate /= 5.0
            if self.verbose:
                print(f"{msg} Setting learning rate to {state.learning_rate:f}")
            return False
        if self.verbose:
            print(msg + " Stopping.")
        return True

    def _update_no_improvement_count(self, early_stopping, X_val, y_val, sw_val, net, history) -> None:
        if X_val is not None:
            score = self._score_rows(net, X_val, y_val, sw_val)
            history["val_score"].append(score)
        if early_stopping:
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {self.validation_scores_[-1]:f}")
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_coefs = [W.copy() for W, _ in net._views(net.params)]
                self._best_intercepts = [b.copy() for _, b in net._views(net.params)]
                history.best_epoch = self.n_iter_ - 1
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]
                history.best_epoch = self.n_iter_ - 1

    def _score_rows(self, net, X, y, sw) -> float:
        with np.errstate(all="ignore"):
            out = net._forward_as_computed(X)  # NaN kept: scikit-learn scores it as NaN
        if not np.all(np.isfinite(out)):
            return float("nan")
        pred = self._decode(out)
        if HAVE_SKLEARN:
            from sklearn.metrics import accuracy_score, r2_score

            return float((accuracy_score if self._is_classifier else r2_score)(y, pred, sample_weight=sw))
        return float(_accuracy(y, pred, sw) if self._is_classifier else _r2(y, pred, sw))

    def _split(self, X, Y, y, sw):
        """scikit-learn's early-stopping split (stratified for one-output classifiers): its own call when
        installed, so the same rows for the same random_state; a stratified shuffle of loopnet's otherwise."""
        # scikit-learn stratifies one-output classifiers only, on the binarized column
        stratify = Y.astype(bool) if (self._is_classifier and Y.shape[1] == 1) else None
        arrays = (X, Y, y) if sw is None else (X, Y, y, sw)
        if HAVE_SKLEARN:
            from sklearn.model_selection import train_test_split

            parts = train_test_split(*arrays, random_state=self._random_state,
                                     test_size=self.validation_fraction,
                                     stratify=stratify)  # fmt: skip
        else:
            parts = _fallback_split(arrays, self._random_state, self.validation_fraction, stratify)
        X_tr, X_val, Y_tr, _, _, y_val = parts[:6]
        sw_tr, sw_val = (parts[6], parts[7]) if sw is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size of your dataset."
            )
        return (np.ascontiguousarray(X_tr), np.ascontiguousarray(X_val), np.ascontiguousarray(Y_tr), y_val,
                sw_tr, sw_val)  # fmt: skip

    def _fit_lbfgs(self, X, Y, sw) -> None:
        try:
            import scipy.optimize
        except ImportError:
            raise ImportError(
                "solver='lbfgs' uses scipy.optimize; install it with pip install 'loopnet[lbfgs]' (or scipy)"
            ) from None
        net = self._network()
        f, c = self._scales()
        N = X.shape[0]
        w = np.ones(N) if sw is None else sw
        S = float(w.sum())
        zbuf, abuf, dbuf = net._work(N)
        grads = np.empty_like(net.params)
        decay = np.zeros(net.n_params, dtype=np.float64)
        for Wd, _ in net._views(decay):
            Wd[...] = 1.0
        alpha = float(self.alpha)
        kern = net._kernels
        Y = np.ascontiguousarray(Y, dtype=net.dtype)

        def loss_grad(x):
            net.params[...] = x
            with np.errstate(all="ignore"):
                kern.forward_pass(net.params, net._sizes, net._acts, X, zbuf, abuf)
                out_z = net._output(zbuf, N)
                out_a = net._output(abuf, N)
                data = float(kern.loss_value(net._loss_code, out_z, out_a, Y, w))
                kern.backward_pass(net.params, grads, net._sizes, net._acts, net._loss_code, X, Y, w,
                                   zbuf, abuf, dbuf)  # fmt: skip
            p = net.params.astype(np.float64) * decay
            loss = f * data + 0.5 * alpha * float(p @ p) / S
            g = c * grads.astype(np.float64) + (alpha / S) * p
            return loss, g

        res = scipy.optimize.minimize(
            loss_grad, net.params.astype(np.float64), method="L-BFGS-B", jac=True,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol},
        )  # fmt: skip
        if res.status != 0:
            message = res.message.decode() if isinstance(res.message, bytes) else res.message
            warnings.warn(
                f"lbfgs failed to converge after {res.nit} iteration(s) (status={res.status}):\n{message}\n\n"
                f"Increase the number of iterations to improve the convergence (max_iter={self.max_iter}).\n"
                "You might also want to scale the data as shown in:\n"
                "    https://scikit-learn.org/stable/modules/preprocessing.html",
                ConvergenceWarning,
                stacklevel=3,
            )
        self.n_iter_ = min(int(res.nit), self.max_iter)
        self.loss_ = float(res.fun)
        net.params[...] = res.x.astype(net.dtype)
        self._store(net)
        self.history_ = _training.History(loss=[self.loss_])

    # -- predict ----------------------------------------------------------------------------------------

    def _fitted_forward(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        # NumPy's promotion, as scikit-learn's X @ W: float32 only when both X and the weights are
        # (a dtype chosen with the ``dtype`` parameter is kept)
        W_dtype = self.coefs_[0].dtype
        dtype = W_dtype if self.dtype is not None else np.result_type(X.dtype, W_dtype)
        return self._forward(np.ascontiguousarray(X, dtype=dtype))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class _stochastic_only:
    """partial_fit exists for solvers 'sgd' and 'adam' only (``hasattr`` is False for 'lbfgs')."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__

    def __get__(self, obj, owner=None):
        if obj is None:
            return self.fn
        if obj.solver not in ("sgd", "adam"):
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {obj.solver} is not stochastic."
            )
        return self.fn.__get__(obj, owner)


def _check_labels(y) -> None:
    """Class labels, not a regression target: scikit-learn's type_of_target when installed."""
    if np.ndim(y) == 2:
        yy = np.asarray(y)
        if yy.shape[1] < 2 or not np.all((yy == 0) | (yy == 1)):
            raise ValueError("a 2-D y must be a multilabel indicator: 0 and 1, one column per label")
        return
    if HAVE_SKLEARN:
        kind = type_of_target(y, input_name="y")
    else:
        yy = np.asarray(y)
        kind = "continuous" if yy.dtype.kind == "f" and np.any(yy != np.round(yy)) else "multiclass"
    if kind not in ("binary", "multiclass"):
        raise ValueError(
            f"Unknown label type: {kind}. Maybe you are trying to fit a classifier, which expects discrete "
            "classes on a regression target with continuous values."
        )


def _is_seq(x) -> bool:
    return isinstance(x, list | tuple)


def _choice(value, name, options) -> None:
    if not isinstance(value, str) or value not in options:
        raise ValueError(
            f"The '{name}' parameter must be one of {', '.join(map(repr, options))}; got {value!r}"
        )


def _check_random_state(seed):
    """scikit-learn's check_random_state: None -> NumPy's global RandomState, an int -> a new one."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if not 0 <= seed < 2**32:
            raise ValueError(f"random_state must be an int between 0 and 2**32 - 1, got {seed}")
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(
        f"random_state must be None, an int or a numpy.random.RandomState: {seed!r} cannot be used to seed a "
        "numpy.random.RandomState instance"
    )


def _refuse_dates(data, name: str) -> None:
    """Dates and durations are not numbers, though NumPy and scikit-learn convert them to some."""
    dtype = getattr(data, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind in "mM":
        raise TypeError(f"{name} must hold numbers; got an array of dtype {dtype}")


def _check_validation_labels(yv: np.ndarray, classes: np.ndarray, y_type: str) -> None:
    """validation_data's y_val holds the labels the classifier was fitted on, in y's form."""
    if y_type == "multilabel-indicator":
        if yv.ndim != 2 or yv.shape[1] != len(classes) or not np.all((yv == 0) | (yv == 1)):
            raise ValueError(
                f"validation_data: y_val must be a 0/1 indicator of {len(classes)} labels, like y; "
                f"got shape {yv.shape}"
            )
        return
    if yv.ndim != 1:
        raise ValueError(f"validation_data: y_val must hold one label per row, like y; got shape {yv.shape}")
    known = set(classes.tolist())
    unknown = sorted({label for label in yv.tolist() if label not in known}, key=repr)
    if unknown:
        raise ValueError(
            f"validation_data: y_val has labels the classifier was not fitted on: {unknown[:10]}; "
            f"its classes_ are {classes.tolist()}"
        )


def _permutation(rng, n: int) -> np.ndarray:
    """scikit-learn's shuffle(arange(n)): RandomState.shuffle of arange(n), as sklearn.utils.resample does."""
    idx = np.arange(n)
    rng.shuffle(idx)
    return idx


def _sample_weights(sample_weight, n: int):
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        sample_weight = np.full(n, float(sample_weight))  # checked below like any other: NaN, < 0, all zero
    return _training._sample_weight(sample_weight, n).copy()


def _dense(X):
    if hasattr(X, "toarray"):
        return X.toarray()
    return X


def _fallback_X(est, X, reset: bool) -> np.ndarray:
    names = getattr(X, "columns", None)
    if isinstance(X, list | tuple):
        X = np.asarray(X)
    if hasattr(X, "toarray"):
        X = X.toarray()
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(
            f"Expected 2D array, got {arr.ndim}D array instead. Reshape your data either using "
            "array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) if it "
            "contains a single sample."
        )
    dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    arr = as_matrix(arr, "X", arr.shape[1], np.dtype(dtype))
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"Found array with {arr.shape[0]} sample(s) and {arr.shape[1]} feature(s)")
    if reset:
        est.n_features_in_ = arr.shape[1]
        if names is not None and all(isinstance(c, str) for c in names):
            est.feature_names_in_ = np.asarray(list(names), dtype=object)
    elif arr.shape[1] != est.n_features_in_:
        raise ValueError(
            f"X has {arr.shape[1]} features, but {type(est).__name__} is expecting {est.n_features_in_} "
            "features as input."
        )
    return arr


def _fallback_y(y, n: int, numeric: bool) -> np.ndarray:
    if y is None:
        raise ValueError("This estimator requires y to be passed, but the target y is None.")
    y = np.asarray(y)
    if y.shape[0] != n:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: [{n}, {y.shape[0]}]")
    if numeric:
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError("Input y contains NaN or infinity.")
    return y


def _fallback_split(arrays, rng, fraction, stratify):
    """A (stratified) shuffle split: ceil(fraction * N) validation rows, each class in proportion."""
    n = arrays[0].shape[0]
    n_val = math.ceil(fraction * n)
    if stratify is None:
        perm = rng.permutation(n)
        val, train = perm[:n_val], perm[n_val:]
    else:
        labels, inverse, counts = np.unique(stratify, return_inverse=True, return_counts=True)
        if counts.min() < 2:
            raise ValueError(
                "The least populated classes in y have only 1 member, which is too few. The minimum number "
                f"of groups for any class cannot be less than 2. Classes with too few members are: "
                f"{[str(c) for c in labels[counts < 2]]}"
            )
        val_parts, train_parts = [], []
        for k in range(len(labels)):
            rows = rng.permutation(np.flatnonzero(inverse == k))
            take = max(1, round(n_val * counts[k] / n))
            val_parts.append(rows[:take])
            train_parts.append(rows[take:])
        val, train = np.concatenate(val_parts), np.concatenate(train_parts)
    out = []
    for a in arrays:
        out.extend((a[train], a[val]))
    return out


# --- the classifier ------------------------------------------------------------------------------------


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A multi-layer perceptron classifier: ``sklearn.neural_network.MLPClassifier`` on loopnet's loops.

    Every parameter and attribute of scikit-learn's class, with its meaning
    (see its documentation); for the same ``random_state`` the same initial
    weights, shuffles, split and update rules, so the same ``coefs_`` to
    rounding. The output is softmax with log loss for several classes, one
    logistic unit for two, and one logistic unit per label for multilabel
    targets (a 2-D 0/1 indicator ``y``).

    loopnet's extras (keyword arguments): ``activation`` may be a list with one
    name per hidden layer (``"identity"``, ``"logistic"``, ``"tanh"``, ``"relu"``,
    and ``"sigmoid"``, ``"leaky_relu"``); ``dtype`` (``"float32"`` or
    ``"float64"``; None follows X); ``backend`` (``"loops"`` or ``"numpy"``);
    ``class_weight`` (None, ``"balanced"`` or a dict class -> weight, multiplying
    the sample weights); ``fit(..., validation_data=(X_val, y_val))`` scores
    those rows every epoch instead of a random split (and early stopping uses
    them); ``history_``, a ``loopnet.History`` of per-epoch ``"loss"``, ``"lr"``,
    ``"seconds"`` and ``"val_score"``. Early stopping restores the weights of
    the best validation score, as scikit-learn's does.
    """

    _is_classifier = True

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dtype=None,
        backend="loops",
        class_weight=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.backend = backend
        self.class_weight = class_weight

    def _out_activation(self) -> str:
        return "softmax" if self._y_type == "multiclass" else "logistic"

    def fit(self, X, y, sample_weight=None, *, validation_data=None):
        """Fit to X (n_samples, n_features) and labels y (1-D, or a 2-D 0/1 multilabel indicator)."""
        return self._fit(X, y, sample_weight, incremental=False, validation_data=validation_data)

    def _class_weight_rows(self, y):
        cw = self.class_weight
        if cw is None:
            return None
        if np.ndim(y) != 1:
            raise ValueError("class_weight is for one label per row; multilabel targets take sample_weight")
        classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        if isinstance(cw, str):
            if cw != "balanced":
                raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {cw!r}")
            per_class = len(y) / (len(classes) * counts)
        elif isinstance(cw, dict):
            values = [cw.get(c, 1.0) for c in classes]
            for value in values:
                if not isinstance(value, numbers.Real):
                    raise TypeError(f"class_weight values must be numbers, got {value!r} in {cw!r}")
            per_class = np.array(values, dtype=np.float64)
            if np.any(per_class < 0) or not np.all(np.isfinite(per_class)):
                raise ValueError(f"class_weight values must be finite and >= 0, got {cw!r}")
        else:
            raise TypeError(f"class_weight must be None, 'balanced' or a dict, got {cw!r}")
        return per_class[inverse]

    def _set_classes(self, y) -> None:
        """classes_ and the target type from labels y (or partial_fit's classes): LabelBinarizer.fit."""
        if np.ndim(y) == 2:
            self.classes_ = np.arange(np.shape(y)[1])
            self._y_type = "multilabel-indicator"
            return
        classes = np.unique(y)
        if len(classes) < 2:
            # scikit-learn fits a target of one class (and predicts it); a classifier trained on one class
            # has learned nothing, so loopnet refuses it (docs/estimators.md lists the test this fails)
            raise ValueError(
                "Classifier can't train when only one class is present: y holds the one class "
                f"{classes[0]!r}; a classifier needs at least two."
                if len(classes)
                else "y holds no labels"
            )
        self.classes_ = classes
        self._y_type = "multiclass" if len(self.classes_) > 2 else "binary"

    def _encode(self, y, incremental, first_pass) -> np.ndarray:
        """scikit-learn's LabelBinarizer: 0/1 columns, one for two classes, one per class (or label) else."""
        _check_labels(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._set_classes(y)
        elif np.ndim(y) == 2:
            if np.shape(y)[1] != len(self.classes_) or self._y_type != "multilabel-indicator":
                raise ValueError(
                    f"y has {np.shape(y)[1]} labels; the estimator was fitted on {self.classes_}"
                )
        else:
            labels = np.unique(y)
            if self.warm_start:
                if set(labels) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the previous call "
                        f"to fit. Previously got {self.classes_}, `y` has {labels}"
                    )
            elif len(np.setdiff1d(labels, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                    f"'y' has {labels}."
                )
        if self._y_type == "multilabel-indicator":
            return np.ascontiguousarray(y, dtype=np.float64)
        idx = np.searchsorted(self.classes_, y)
        if self._y_type == "binary":
            return (idx == 1).astype(np.float64)[:, None]
        return np.eye(len(self.classes_))[idx]

    def _decode(self, out: np.ndarray) -> np.ndarray:
        if self._y_type == "multilabel-indicator":
            return (out > 0.5).astype(int)
        if len(self.classes_) == 1:
            return np.repeat(self.classes_, out.shape[0])
        if out.shape[1] == 1:
            return self.classes_[(out[:, 0] > 0.5).astype(int)]
        return self.classes_[np.argmax(out, axis=1)]

    @_stochastic_only
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch on (X, y); the first call needs ``classes`` (every label y may ever hold)."""
        if not hasattr(self, "classes_"):
            # a column vector y is one label per row (raveled in _fit, as scikit-learn does), not multilabel
            multilabel = np.ndim(y) == 2 and np.shape(y)[1] > 1
            if classes is None and not multilabel:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self._set_classes(y if multilabel else np.asarray(classes))
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"`classes={classes}` is not the same as on last call to partial_fit, was: {self.classes_}"
            )
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X) -> np.ndarray:
        """The predicted class (or label indicator row) of each row of X."""
        return self._decode(self._fitted_forward(X))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, (n_samples, n_classes); for multilabel, each label's probability."""
        out = self._fitted_forward(X)
        if out.shape[1] == 1 and self._y_type == "binary":
            p = out[:, 0]
            return np.vstack([1 - p, p]).T
        return out

    def predict_log_proba(self, X) -> np.ndarray:
        """The log of predict_proba."""
        p = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(p, out=p)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


# --- the regressor -------------------------------------------------------------------------------------


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A multi-layer perceptron regressor: ``sklearn.neural_network.MLPRegressor`` on loopnet's loops.

    ``loss="squared_error"`` (identity output, half the mean squared error) or
    ``"poisson"`` (exp output, half the Poisson deviance). The same parameters,
    attributes and numbers as scikit-learn's, and the extras of
    :class:`MLPClassifier` but ``class_weight``.
    """

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dtype=None,
        backend="loops",
    ):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.backend = backend

    def _check_params(self) -> None:
        _choice(self.loss, "loss", ("squared_error", "poisson"))
        super()._check_params()

    def _out_activation(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _class_weight_rows(self, y):
        return None

    def _encode(self, y, incremental, first_pass) -> np.ndarray:
        Y = np.asarray(y, dtype=np.float64)
        Y = Y.reshape(len(Y), -1)
        if not np.all(np.isfinite(Y)):
            raise ValueError("Input y contains NaN or infinity.")
        if self.loss == "poisson" and Y.min() < 0:
            raise ValueError("loss='poisson' needs non-negative targets; y has negative values")
        if not first_pass and Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs; the estimator was fitted on {self.n_outputs_}")
        return Y

    def _decode(self, out: np.ndarray) -> np.ndarray:
        return out.ravel() if out.shape[1] == 1 else out

    def fit(self, X, y, sample_weight=None, *, validation_data=None):
        """Fit the model to X (n_samples, n_features) and targets y (n_samples,) or (n_samples, n_outputs)."""
        return self._fit(X, y, sample_weight, incremental=False, validation_data=validation_data)

    @_stochastic_only
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch on (X, y), continuing from the last fit or partial_fit."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X) -> np.ndarray:
        """The predicted targets: (n_samples,) for one output, (n_samples, n_outputs) for several."""
        return self._decode(self._fitted_forward(X))
