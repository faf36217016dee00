"""scikit-learn's own MLP tests, run on loopnet's ``MLPClassifier`` and ``MLPRegressor``.

shared/DESIGN.md, "Estimators": the wheel ships ``sklearn/neural_network/tests/test_mlp.py``. This
module reads that file, rewrites its one import of scikit-learn's classes into an import of loopnet's,
executes it in a fresh namespace and hands its tests (with their parametrize marks), fixtures and data
to pytest. The assertions are scikit-learn's, unedited: an outside oracle, not loopnet checking itself.

The few tests that read or call scikit-learn's private internals are expected to fail, each with its
reason, in ``PRIVATE_INTERNALS`` below (the README lists them); ``strict=True`` turns an unexpected pass
into a failure, so the list cannot go stale.
"""

from __future__ import annotations

import importlib.util
import os
import types
from pathlib import Path

import pytest

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is not installed: its MLP tests need it")

SKLEARN_IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor\n"
LOOPNET_IMPORT = "from loopnet.estimators import MLPClassifier, MLPRegressor\n"

PRIVATE_INTERNALS = {
    "test_gradient": (
        "calls scikit-learn's private _loss_grad_lbfgs(theta, X, Y, sample_weight, activations, deltas, "
        "coef_grads, intercept_grads) with its per-layer buffers; loopnet's gradient is one compiled "
        "backward pass over a flat parameter vector (held to finite differences in tests/test_gradients.py)"
    ),
}
"""Tests of scikit-learn's private internals, which loopnet does not have: {test name: reason}.

Tests that only write private attributes (test_fit sets ``_coef_grads`` and friends by hand) or read the
ones loopnet keeps (``_optimizer.learning_rate``, ``_no_improvement_count``) are not here: they pass."""


def _test_mlp_source() -> tuple[str, str]:
    """(path, source) of the installed sklearn/neural_network/tests/test_mlp.py."""
    try:  # some distributions strip the tests package: then its parent import fails, or no spec
        spec = importlib.util.find_spec("sklearn.neural_network.tests.test_mlp")
    except ImportError:
        spec = None
    path = Path(spec.origin) if spec is not None and spec.origin else None
    if path is None or not path.is_file():
        path = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
    if not path.is_file():
        pytest.skip(f"this scikit-learn install ships no {path}", allow_module_level=True)
    return str(path), path.read_text(encoding="utf-8")


def _load_with_loopnet() -> types.ModuleType:
    """test_mlp.py executed with loopnet's classes in place of scikit-learn's."""
    path, source = _test_mlp_source()
    # exactly one import to rewrite: if scikit-learn changes it, fail here rather than test its own classes
    assert source.count(SKLEARN_IMPORT) == 1, f"{path} no longer has the line {SKLEARN_IMPORT!r}"
    source = source.replace(SKLEARN_IMPORT, LOOPNET_IMPORT)
    module = types.ModuleType(f"{__name__}._sklearn_test_mlp", f"scikit-learn's {path} on loopnet")
    module.__file__ = path
    exec(compile(source, path, "exec"), module.__dict__)  # the path keeps its line numbers in tracebacks
    return module


_test_mlp = _load_with_loopnet()

from loopnet.estimators import MLPClassifier, MLPRegressor  # noqa: E402

assert _test_mlp.MLPClassifier is MLPClassifier and _test_mlp.MLPRegressor is MLPRegressor

for _name, _value in vars(_test_mlp).items():
    if _name.startswith("__") or _name in globals():
        continue
    if _name in PRIVATE_INTERNALS:
        # AttributeError: the private attribute is absent; any other failure is a real one
        _xfail = pytest.mark.xfail(reason=PRIVATE_INTERNALS[_name], raises=AttributeError, strict=True)
        _value = _xfail(_value)
    globals()[_name] = _value

REFUSED_ON_PURPOSE = {
    "test_preserve_feature_names[MLPClassifier]": (
        "fits a classifier on a target of one class (y = 1 everywhere, to check feature names); scikit-learn "
        "fits it, loopnet refuses it with a ValueError: a one-class classifier has learned nothing"
    ),
}
"""Tests of behaviour loopnet changes on purpose: {test id: reason}, xfail(strict) with a ValueError."""


@pytest.fixture(autouse=True)
def _refused_on_purpose(request):
    reason = REFUSED_ON_PURPOSE.get(request.node.name)
    if reason is not None:
        request.applymarker(pytest.mark.xfail(reason=reason, raises=ValueError, strict=True))


_missing = set(PRIVATE_INTERNALS) - {n for n in vars(_test_mlp) if n.startswith("test_")}
assert not _missing, f"PRIVATE_INTERNALS names tests test_mlp.py does not have: {sorted(_missing)}"


def _global_random_seeds() -> list[int]:
    """scikit-learn's conftest: SKLEARN_TESTS_GLOBAL_RANDOM_SEED, an int, "a-b", "all" or unset (42)."""
    value = os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED")
    if value is None:
        return [42]
    if value == "all":
        return list(range(100))
    if "-" in value:
        start, stop = value.split("-")
        return list(range(int(start), int(stop) + 1))
    return [int(value)]


@pytest.fixture(params=_global_random_seeds())
def global_random_seed(request):
    """scikit-learn's conftest fixture, which its test_mlp.py takes but does not define."""
    return request.param
