"""loopnet.MLPClassifier / MLPRegressor against scikit-learn's, the outside oracle.

For the same random_state the estimators draw the same initial weights,
shuffles and early-stopping split as scikit-learn and apply its update rules,
so after training ``coefs_`` and ``loss_curve_`` must equal scikit-learn's to
rounding (1e-8 relative here; the draws being identical, it holds far below).
Then the conveniences: real-data accuracy on held-out rows, pickling, the
extras, and the errors for bad input.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

import loopnet
from loopnet.estimators import MLPClassifier, MLPRegressor

sk_nn = pytest.importorskip("sklearn.neural_network")
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

RTOL = 1e-8


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X, y / 100.0


def _max_rel(ours, theirs) -> float:
    return max(float(np.max(np.abs(a - b)) / np.max(np.abs(b))) for a, b in zip(ours, theirs, strict=True))


def _both(ours_cls, theirs_cls, X, y, fit_kw=None, **params):
    fit_kw = fit_kw or {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = ours_cls(**params).fit(X, y, **fit_kw)
        theirs = theirs_cls(**params).fit(X, y, **fit_kw)
    return ours, theirs


def _assert_same(ours, theirs) -> None:
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    assert _max_rel(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_) < RTOL
    if hasattr(theirs, "loss_curve_"):
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=RTOL)
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=RTOL) if theirs.best_loss_ else True
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=RTOL)


BASE = {"hidden_layer_sizes": (32,), "random_state": 0, "max_iter": 10, "batch_size": 64}

CLASSIFIERS = {
    "adam": {},
    "adam-alpha-tanh": {"activation": "tanh", "alpha": 0.05, "beta_1": 0.8, "epsilon": 1e-6},
    "sgd-nesterov": {"solver": "sgd", "learning_rate_init": 0.1},
    "sgd-momentum": {"solver": "sgd", "nesterovs_momentum": False, "learning_rate_init": 0.05},
    "sgd-plain-logistic": {"solver": "sgd", "momentum": 0.0, "activation": "logistic",
                           "learning_rate_init": 0.5},
    "sgd-invscaling": {"solver": "sgd", "learning_rate": "invscaling", "learning_rate_init": 0.5,
                       "power_t": 0.3},
    "two-layers-no-shuffle": {"hidden_layer_sizes": (16, 8), "shuffle": False, "batch_size": 100},
    "batch-auto": {"batch_size": "auto"},
    "identity": {"activation": "identity", "alpha": 1.0},
}  # fmt: skip


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_equals_sklearn(digits, name):
    X, y = digits
    ours, theirs = _both(MLPClassifier, sk_nn.MLPClassifier, X, y, **{**BASE, **CLASSIFIERS[name]})
    _assert_same(ours, theirs)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize(
    "target",
    ["binary", "multilabel", "string-labels"],
)
def test_classifier_target_kinds_equal_sklearn(digits, target):
    X, y = digits
    Y = {
        "binary": y > 4,
        "multilabel": np.c_[y > 4, y % 2, y < 2].astype(int),
        "string-labels": np.array(["zero", "one", "two", "three", "four"] * 2)[y],
    }[target]
    ours, theirs = _both(MLPClassifier, sk_nn.MLPClassifier, X, Y, alpha=0.01, **BASE)
    _assert_same(ours, theirs)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-7, atol=1e-12)


REGRESSORS = {
    "adam-one-output": {"alpha": 0.1},
    "adam-two-outputs": {"alpha": 0.1, "two": True},
    "sgd-tanh": {"solver": "sgd", "activation": "tanh", "learning_rate_init": 0.01},
    "sgd-two-outputs-invscaling": {"solver": "sgd", "learning_rate": "invscaling", "learning_rate_init": 0.05,
                                   "two": True, "alpha": 0.3},
    "poisson": {"loss": "poisson", "activation": "tanh", "learning_rate_init": 0.01},
}  # fmt: skip


@pytest.mark.parametrize("name", REGRESSORS)
def test_regressor_equals_sklearn(diabetes, name):
    X, y = diabetes
    params = dict(REGRESSORS[name])
    if params.pop("two", False):
        y = np.c_[y, 0.5 * y + 1.0]
    if params.get("loss") == "poisson":
        y = np.abs(y)
    ours, theirs = _both(MLPRegressor, sk_nn.MLPRegressor, X, y, **{**BASE, **params})
    _assert_same(ours, theirs)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-7, atol=1e-10)


def test_sample_weight_equals_sklearn(digits):
    X, y = digits
    w = np.random.default_rng(1).integers(0, 4, len(y)).astype(float)
    ours, theirs = _both(
        MLPClassifier, sk_nn.MLPClassifier, X, y, fit_kw={"sample_weight": w}, alpha=0.01, **BASE
    )
    _assert_same(ours, theirs)


@pytest.mark.parametrize("cls", ["classifier", "regressor"])
def test_early_stopping_equals_sklearn(digits, diabetes, cls):
    X, y = digits if cls == "classifier" else diabetes
    ours_cls, theirs_cls = (
        (MLPClassifier, sk_nn.MLPClassifier) if cls == "classifier" else (MLPRegressor, sk_nn.MLPRegressor)
    )
    params = {
        **BASE,
        "max_iter": 40,
        "early_stopping": True,
        "n_iter_no_change": 3,
        "learning_rate_init": 0.01,
    }
    ours, theirs = _both(ours_cls, theirs_cls, X, y, **params)
    _assert_same(ours, theirs)
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-9)
    assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_, rel=1e-9)
    assert ours.best_loss_ is None and isinstance(ours.validation_scores_, list)


def test_adaptive_learning_rate_and_stopping_equal_sklearn(digits):
    X, y = digits
    params = {**BASE, "solver": "sgd", "learning_rate": "adaptive", "n_iter_no_change": 2, "tol": 0.05,
              "max_iter": 60}  # fmt: skip
    ours, theirs = _both(MLPClassifier, sk_nn.MLPClassifier, X, y, **params)
    assert ours.n_iter_ < 60  # the rule stopped it, as it stopped scikit-learn's
    _assert_same(ours, theirs)
    assert ours._optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate)


def test_lbfgs_equals_sklearn(digits):
    X, y = digits
    ours, theirs = _both(MLPClassifier, sk_nn.MLPClassifier, X[:400], y[:400], solver="lbfgs",
                         **{**BASE, "max_iter": 15})  # fmt: skip
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    assert _max_rel(ours.coefs_, theirs.coefs_) < 1e-5  # L-BFGS amplifies rounding over 15 iterations


def test_warm_start_and_partial_fit_equal_sklearn(digits):
    X, y = digits
    params = {**BASE, "warm_start": True, "max_iter": 3}
    ours, theirs = MLPClassifier(**params), sk_nn.MLPClassifier(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for est in (ours, theirs):
            est.fit(X, y).fit(X, y)
            for _ in range(3):
                est.partial_fit(X, y)
    _assert_same(ours, theirs)
    assert len(ours.loss_curve_) == 9


def test_partial_fit_classes_may_appear_later_and_equal_sklearn(digits):
    X, y = digits
    first = y < 5
    ours, theirs = MLPClassifier(**BASE), sk_nn.MLPClassifier(**BASE)
    for est in (ours, theirs):
        est.partial_fit(X[first], y[first], classes=np.arange(10))
        est.partial_fit(X[~first], y[~first])
    _assert_same(ours, theirs)


def test_float32_in_float32_weights_out(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(**BASE).fit(X.astype(np.float32), y)
        ref = sk_nn.MLPClassifier(**BASE).fit(X.astype(np.float32), y)
    assert all(W.dtype == np.float32 for W in est.coefs_ + est.intercepts_)
    assert est.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert _max_rel(est.coefs_, ref.coefs_) < 1e-3  # float32 rounding, 10 epochs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        forced = MLPClassifier(**BASE, dtype="float32").fit(X, y)
    assert forced.coefs_[0].dtype == np.float32


@pytest.mark.parametrize("container", ["csr_matrix", "csr_array", "csc_matrix"])
def test_sparse_input_gives_the_dense_results(digits, container):
    sparse = pytest.importorskip("scipy.sparse")
    X, y = digits
    Xs = getattr(sparse, container)(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = MLPClassifier(**BASE).fit(X, y)
        sp = MLPClassifier(**BASE).fit(Xs, y)
    for a, b in zip(dense.coefs_, sp.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dense.predict_proba(X), sp.predict_proba(Xs))


# --- real data: accuracy on held-out rows, against scikit-learn with the same settings -------------


def _scaled_split(X, y, seed):
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=seed)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


@pytest.mark.parametrize(
    "loader, params",
    [
        (load_digits, {"hidden_layer_sizes": (64,), "batch_size": 64, "max_iter": 60}),
        (
            load_wine,
            {"hidden_layer_sizes": (16,), "max_iter": 150, "solver": "sgd", "learning_rate_init": 0.05},
        ),
        (load_breast_cancer, {"hidden_layer_sizes": (32, 16), "max_iter": 80, "activation": "tanh"}),
        (load_iris, {"hidden_layer_sizes": (10,), "solver": "lbfgs", "max_iter": 200}),
    ],
    ids=["digits-adam", "wine-sgd", "breast-cancer-tanh", "iris-lbfgs"],
)
def test_held_out_accuracy_matches_sklearn(loader, params):
    X, y = loader(return_X_y=True)
    ours, theirs = [], []
    for seed in range(3):
        X_tr, X_te, y_tr, y_te = _scaled_split(X, y, seed)
        for cls, out in ((MLPClassifier, ours), (sk_nn.MLPClassifier, theirs)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                out.append(cls(random_state=seed, **params).fit(X_tr, y_tr).score(X_te, y_te))
    assert np.mean(ours) >= np.mean(theirs) - 0.01
    assert np.mean(ours) > 0.85  # and it learned: chance is at most one half on these


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "lbfgs", "alpha": 10.0, "max_iter": 200},
        {"alpha": 1.0, "learning_rate_init": 0.01, "max_iter": 300, "early_stopping": True},
    ],
    ids=["lbfgs", "adam-early-stopping"],
)
def test_held_out_r2_matches_sklearn(params):
    X, y = load_diabetes(return_X_y=True)
    ours, theirs = [], []
    for seed in range(3):
        X_tr, X_te, y_tr, y_te = _scaled_split(X, y, seed)
        for cls, out in ((MLPRegressor, ours), (sk_nn.MLPRegressor, theirs)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                est = cls(hidden_layer_sizes=(16,), random_state=seed, **params)
                out.append(est.fit(X_tr, y_tr / 100).score(X_te, y_te / 100))
    assert np.mean(ours) >= np.mean(theirs) - 0.01
    assert np.mean(ours) > 0.3  # and it learned: predicting the mean scores 0


# --- loopnet's extras -------------------------------------------------------------------------------


def test_one_activation_per_hidden_layer_trains_and_is_refused_when_miscounted(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(hidden_layer_sizes=(32, 16), activation=["relu", "tanh"], random_state=0,
                            max_iter=30).fit(X, y)  # fmt: skip
    assert est.score(X, y) > 0.9
    net = est._network()
    assert [int(a) for a in net._acts[:2]] == [loopnet.activations.RELU, loopnet.activations.TANH]
    with pytest.raises(ValueError, match="2 hidden layers"):
        MLPClassifier(hidden_layer_sizes=(32, 16), activation=["relu"]).fit(X, y)


def test_class_weight_equals_sample_weight(digits):
    X, y = digits
    weights = {c: 1.0 + c for c in range(10)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier(**BASE, class_weight=weights).fit(X, y)
        b = MLPClassifier(**BASE).fit(X, y, sample_weight=1.0 + y)
        counts = np.bincount(y)
        c = MLPClassifier(**BASE, class_weight="balanced").fit(X, y)
        d = MLPClassifier(**BASE).fit(X, y, sample_weight=len(y) / (10 * counts[y]))
    for p, q in ((a, b), (c, d)):
        for u, v in zip(p.coefs_, q.coefs_, strict=True):
            np.testing.assert_array_equal(u, v)


def test_validation_data_is_scored_every_epoch_and_drives_early_stopping(digits):
    X, y = digits
    X_tr, X_val, y_tr, y_val = train_test_split(X, y, test_size=0.2, random_state=0)
    est = MLPClassifier(**{**BASE, "max_iter": 50}, early_stopping=True, n_iter_no_change=3)
    est.fit(X_tr, y_tr, validation_data=(X_val, y_val))
    assert len(est.validation_scores_) == est.n_iter_ == len(est.history_["val_score"])
    best = int(np.argmax(est.validation_scores_))
    assert est.best_validation_score_ == est.validation_scores_[best]
    # the weights kept are those of the best epoch: their score on the validation rows is that score
    assert est.score(X_val, y_val) == pytest.approx(est.best_validation_score_)
    assert est.history_.best_epoch == best


def test_history_records_each_epoch(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(**BASE, solver="sgd", learning_rate="invscaling", learning_rate_init=0.5).fit(
            X, y
        )
    h = est.history_
    assert h["loss"] == est.loss_curve_
    assert len(h["lr"]) == len(h["seconds"]) == est.n_iter_
    expected = [0.5] + [0.5 / (len(y) * k + 1) ** 0.5 for k in range(1, est.n_iter_)]
    np.testing.assert_allclose(h["lr"], expected)


def test_numpy_backend_gives_the_same_numbers(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = MLPClassifier(**BASE).fit(X, y)
        b = MLPClassifier(**BASE, backend="numpy").fit(X, y)
    assert _max_rel(a.coefs_, b.coefs_) < 1e-10
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-12)


# --- pickling, cloning, no compiled state -----------------------------------------------------------


def test_pickle_and_clone_hold_no_compiled_code(digits):
    from sklearn.base import clone

    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPClassifier(**BASE).fit(X, y)
    est.predict(X)  # builds the cached network
    blob = pickle.dumps(est)
    assert b"numba" not in blob and b"Network" not in blob
    back = pickle.loads(blob)
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    assert clone(est).get_params() == est.get_params()
    assert not hasattr(clone(est), "coefs_")


def test_without_sklearn_the_estimators_still_work(tmp_path):
    """A subprocess where importing sklearn fails: fit, predict, score, get_params, the errors."""
    code = r"""
import sys, builtins, warnings
real_import = builtins.__import__
def fake(name, *a, **k):
    if name == "sklearn" or name.startswith("sklearn."):
        raise ImportError("no sklearn here")
    return real_import(name, *a, **k)
builtins.__import__ = fake
import numpy as np
from loopnet import estimators as E
assert not E.HAVE_SKLEARN
rng = np.random.default_rng(0)
X = rng.normal(size=(120, 4)); y = (X[:, 0] + X[:, 1] > 0).astype(int)
est = E.MLPClassifier(hidden_layer_sizes=(8,), random_state=0, max_iter=50, learning_rate_init=0.05)
try:
    est.predict(X)
except E.NotFittedError as e:
    print("notfitted", "not fitted" in str(e))
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    est.fit(X, y)
print("warned", any(issubclass(x.category, E.ConvergenceWarning) for x in w))
print("score", est.score(X, y) > 0.9)
print("params", est.get_params()["hidden_layer_sizes"] == (8,))
try:
    est.predict(X[:, :3])
except ValueError as e:
    print("features", "4 features" in str(e))
reg = E.MLPRegressor(hidden_layer_sizes=(8,), random_state=0, max_iter=200, early_stopping=True,
                     learning_rate_init=0.02)
reg.fit(X, X[:, 0] * 2)
print("r2", reg.score(X, X[:, 0] * 2) > 0.5)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        "notfitted", "True", "warned", "True", "score", "True", "params", "True", "features", "True",
        "r2", "True",
    ]  # fmt: skip


# --- bad input: clear errors before any compiled code --------------------------------------------------

BAD_PARAMS = [
    ({"solver": "rmsprop"}, ValueError, "solver"),
    ({"activation": "swish"}, ValueError, "activation"),
    ({"learning_rate": "cyclic"}, ValueError, "learning_rate"),
    ({"alpha": -1.0}, ValueError, "alpha"),
    ({"learning_rate_init": 0.0}, ValueError, "learning_rate_init"),
    ({"max_iter": 0}, ValueError, "max_iter"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": "big"}, ValueError, "batch_size"),
    ({"validation_fraction": 0.0}, ValueError, "validation_fraction"),
    ({"validation_fraction": 1.0}, ValueError, "validation_fraction"),
    ({"hidden_layer_sizes": (10, 0)}, ValueError, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": (10, 2.5)}, TypeError, "hidden_layer_sizes"),
    ({"momentum": 1.5}, ValueError, "momentum"),
    ({"beta_1": 1.0}, ValueError, "beta_1"),
    ({"epsilon": 0.0}, ValueError, "epsilon"),
    ({"n_iter_no_change": 0}, ValueError, "n_iter_no_change"),
    ({"shuffle": "yes"}, TypeError, "shuffle"),
    ({"dtype": "float16"}, ValueError, "dtype"),
    ({"backend": "gpu"}, ValueError, "backend"),
]


@pytest.mark.parametrize("params, error, fragment", BAD_PARAMS, ids=[str(p[0]) for p in BAD_PARAMS])
def test_bad_hyperparameters_are_refused_before_training(params, error, fragment):
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.arange(20) % 2
    X0 = X.copy()
    with pytest.raises(error, match=fragment):
        MLPClassifier(**params).fit(X, y)
    np.testing.assert_array_equal(X, X0)


def test_bad_data_is_refused_clearly(digits):
    X, y = digits
    with pytest.raises(ValueError, match="one class"):
        MLPClassifier().fit(X[:10], np.zeros(10))
    with pytest.raises(ValueError, match="NaN"):
        MLPRegressor().fit(X[:10], np.r_[np.nan, np.ones(9)])
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier().fit(X[:10], np.linspace(0, 1, 10))
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)
    est = MLPClassifier(**{**BASE, "max_iter": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    with pytest.raises(ValueError, match="64 features"):
        est.predict(X[:, :10])
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier().partial_fit(X, y)
    with pytest.raises(ValueError, match="classes not in"):
        MLPClassifier(**BASE).partial_fit(X[y < 5], y[y < 5], classes=[0, 1, 2, 3, 4]).partial_fit(X, y)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=np.arange(10))
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    with pytest.raises(ValueError, match="validation_data"):
        MLPClassifier(**BASE).fit(X, y, validation_data=(X[:5], y[:4]))


def test_partial_fit_with_a_changing_learning_rate_equals_sklearn(digits):
    """invscaling changes SGD's rate between partial_fit calls: the velocity must follow it."""
    X, y = digits
    params = {
        **BASE,
        "solver": "sgd",
        "learning_rate": "invscaling",
        "learning_rate_init": 0.2,
        "power_t": 0.4,
    }
    ours, theirs = MLPClassifier(**params), sk_nn.MLPClassifier(**params)
    for est in (ours, theirs):
        for _ in range(4):
            est.partial_fit(X, y, classes=np.arange(10))
    _assert_same(ours, theirs)


def test_partial_fit_takes_a_column_of_labels(digits):
    X, y = digits
    with pytest.warns(Warning):  # DataConversionWarning, as scikit-learn warns
        est = MLPClassifier(**BASE).partial_fit(X, y[:, None], classes=np.arange(10))
    np.testing.assert_array_equal(est.classes_, np.arange(10))
    assert est.predict(X).shape == y.shape


def test_a_float32_model_predicts_float64_rows_as_numpy_promotes(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPRegressor(**BASE).fit(X.astype(np.float32), y.astype(np.float32))
        ref = sk_nn.MLPRegressor(**BASE).fit(X.astype(np.float32), y.astype(np.float32))
    assert est.predict(X).dtype == ref.predict(X).dtype
    assert est.predict(X.astype(np.float32)).dtype == ref.predict(X.astype(np.float32)).dtype == np.float32


def test_a_first_fit_says_when_it_compiles(digits, monkeypatch):
    """The estimators ask the same question Network.fit asks before the compiled loop runs."""
    from loopnet import warmup

    asked = []
    monkeypatch.setattr(warmup, "note_if_compiling", lambda net, *args: asked.append(net.backend))
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(**{**BASE, "max_iter": 1}).fit(X, y)
        MLPClassifier(**{**BASE, "max_iter": 1}, backend="numpy").fit(X, y)
    assert asked == ["loops"]
