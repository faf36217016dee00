"""scikit-learn's estimator checks on loopnet's ``MLPClassifier`` and ``MLPRegressor``.

``parametrize_with_checks`` runs every API and legacy check scikit-learn holds its own estimators to
(clone, pickle, get/set_params, input validation, fitted-state errors, dtypes, sparse input, sample
weights, ...). The estimators take the constructor arguments scikit-learn's own test suite gives its
MLPs (``max_iter=100``, sklearn/utils/_test_common/instance_generator.py); everything else is default.

A check expected to fail is listed in ``EXPECTED_FAILED_CHECKS`` with its reason; ``xfail_strict``
turns an unexpected pass into a failure, so the list cannot go stale.
"""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn", reason="scikit-learn is not installed: its estimator checks need it")

from sklearn.utils.estimator_checks import parametrize_with_checks

from loopnet.estimators import MLPClassifier, MLPRegressor

EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "MLPClassifier": {},
    "MLPRegressor": {},
}
"""{estimator class name: {check name: reason}}."""


def expected_failed_checks(estimator) -> dict[str, str]:
    return EXPECTED_FAILED_CHECKS[type(estimator).__name__]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # max_iter=100 on purpose
@parametrize_with_checks(
    [MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)],
    expected_failed_checks=expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
