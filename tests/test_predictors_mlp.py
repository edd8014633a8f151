"""scikit-learn's estimator checks on the torch MLP and the ordinal model.

Outcome: MLPRegressor and OrdinalRegressor pass every check that runs; ``check_array_api_input``
is skipped by sklearn itself unless SCIPY_ARRAY_API=1. MLPRegressor sets the ``poor_score`` tag
(a few epochs on sklearn's toy data are not meant to reach its R² thresholds); no check is
xfailed. Small settings keep the run short.
"""
from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from judgenet.predictors import MLPRegressor, OrdinalRegressor


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny fits only lose from threads


@parametrize_with_checks([MLPRegressor(hidden_sizes=(8,), max_epochs=3, batch_size=32, random_state=0),
                          OrdinalRegressor(max_iter=200)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
