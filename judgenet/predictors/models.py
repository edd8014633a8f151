"""Estimators the model families need beyond scikit-learn: the ordinal regressor and a clipped PCA.

The family table (names, defaults, grids, Optuna spaces) is :data:`judgenet.predictors.families.FAMILIES`.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["OrdinalRegressor", "ClippedPCA"]


class OrdinalRegressor(RegressorMixin, BaseEstimator):
    """Likert labels as ordered classes, predicting the *expected* level.

    Choice (documented): multinomial logistic regression over the observed levels, with
    ``predict`` returning Σ_k level_k · p(k | x). A proportional-odds cumulative-link model would
    enforce the ordering of the levels, but it needs statsmodels/mord (not dependencies); with the
    3–7 levels of Likert scales the multinomial model loses little, and the expected value is a
    continuous score that ranks well (what every agreement measure uses) and stays inside the scale.

    Parameters:
        C: inverse L2 regularization strength of the logistic regression.
        resolution: spacing of the scale; ``y`` is snapped to the nearest multiple (1.0 for 1–5
            Likert; 0.25 for a 0–1 scale in quarter steps). Mean-of-raters scores are snapped too.
        max_iter: solver iterations.

    Fitted attributes: ``levels_`` (n_levels,) float levels seen in training, ``clf_`` the
    LogisticRegression (None if only one level was seen), ``n_iter_``.
    """

    def __init__(self, C=1.0, resolution=1.0, max_iter=1000):
        self.C = C
        self.resolution = resolution
        self.max_iter = max_iter

    def fit(self, X, y):
        """X (n_samples, n_features) float; y (n_samples,) Likert scores."""
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        if not (float(self.resolution) > 0):
            raise ValueError(f"resolution must be > 0, got {self.resolution!r}")
        codes = np.round(y / float(self.resolution)).astype(np.int64)
        self.levels_ = np.unique(codes) * float(self.resolution)
        if self.levels_.size < 2:
            self.clf_ = None
            self.constant_ = float(self.levels_[0])
            self.n_iter_ = np.zeros(1, dtype=int)
            return self
        self.clf_ = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(X, codes)
        self.n_iter_ = self.clf_.n_iter_
        return self

    def predict_level_proba(self, X):
        """(n_samples, n_levels) probabilities of ``levels_`` (not ``predict_proba``: sklearn regressors
        must not expose one)."""
        check_is_fitted(self, "levels_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        if self.clf_ is None:
            return np.ones((X.shape[0], 1))
        return self.clf_.predict_proba(X)

    def predict(self, X):
        """(n_samples,) expected level."""
        proba = self.predict_level_proba(X)
        if self.clf_ is None:
            return np.full(proba.shape[0], self.constant_)
        return proba @ (self.clf_.classes_.astype(np.float64) * float(self.resolution))


class ClippedPCA(PCA):
    """:class:`~sklearn.decomposition.PCA` whose integer ``n_components`` is clipped to
    ``min(n_samples, n_features)`` at fit time (a grid or Optuna trial may ask for more components
    than a small training fold has). ``n_components_`` records the number actually used."""

    def fit(self, X, y=None):
        return self._clipped(super().fit, X, y)

    def fit_transform(self, X, y=None):
        return self._clipped(super().fit_transform, X, y)

    def _clipped(self, method, X, y):
        k = self.n_components
        shape = np.shape(X)
        if isinstance(k, (int, np.integer)) and len(shape) == 2 and k > min(shape):
            self.n_components = int(min(shape))
            try:
                return method(X, y)
            finally:
                self.n_components = k  # keep the constructor parameter unchanged (sklearn convention)
        return method(X, y)
