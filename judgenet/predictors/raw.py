"""A raw feature used as the prediction: the baseline a learned predictor has to beat, saved like any predictor.

``train --model auto`` keeps it when no learned candidate beats the best raw baseline on the held-out folds
(:mod:`judgenet.evaluation.verdict`): the saved predictor then scores images exactly as that baseline does —
:class:`RawFeature` for per-item labels (family ``raw``), :class:`RawUtility` as the utility of a pairwise
predictor (family ``raw_pairwise``).
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["RawFeature", "RawUtility"]


class RawFeature(RegressorMixin, BaseEstimator):
    """Predicts ``sign * X[:, column]`` — a raw feature column (e.g. raw MID, or minus a Mahalanobis distance).

    ``fit`` learns nothing (it checks the input and records ``n_features_in_``); the prediction is in the
    feature's own units, so the family is registered with ``label_units=False`` and its conformal calibration
    maps it to the label scale by a line (:class:`~judgenet.evaluation.conformal.ConformalPredictor`).
    """

    def __init__(self, column=0, sign=1.0):
        self.column = column
        self.sign = sign

    def fit(self, X, y=None):
        """X (n, p) float; y ignored. Returns self."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or not 0 <= int(self.column) < X.shape[1]:
            raise ValueError(f"column {self.column} is not a column of X with shape {X.shape}")
        if float(self.sign) not in (1.0, -1.0):
            raise ValueError(f"sign must be 1 or -1, got {self.sign}")
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        """(n,) ``sign * X[:, column]`` as float64."""
        check_is_fitted(self, "n_features_in_")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has shape {X.shape}; expected {self.n_features_in_} columns")
        return float(self.sign) * X[:, int(self.column)]


class RawUtility(RawFeature):
    """:class:`RawFeature` as a pairwise utility model: ``u(x) = sign * x[column]``, P(a ≻ b) = σ(u_a − u_b).
    ``fit(X, pair_array)`` learns nothing (the pair array is not read); ``predict`` gives the utilities."""

    _judgenet_kind = "pairwise"

    def predict_proba_pairs(self, X, idx_a, idx_b) -> np.ndarray:
        """(n_pairs,) σ(u_a − u_b)."""
        from scipy.special import expit

        u = self.predict(X)
        return expit(u[np.asarray(idx_a, dtype=np.intp)] - u[np.asarray(idx_b, dtype=np.intp)])
