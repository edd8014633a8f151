"""Model families by name, the ordinal variant and the Bradley–Terry pairwise scorer."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import RobustScaler, StandardScaler
from sklearn.svm import SVR
from sklearn.utils.validation import check_is_fitted, validate_data

from ..errors import ConfigError
from .mlp import MLPRegressor

__all__ = ["MODELS", "make_predictor", "OrdinalRegressor", "BradleyTerry"]

MODELS = ("ridge", "elasticnet", "svr", "knn", "random_forest", "hist_gb", "mlp", "ordinal")


class OrdinalRegressor(RegressorMixin, BaseEstimator):
    """Likert labels as ordered classes: multinomial logistic regression over the rounded levels,
    predicting the *expected* level Σ_k k·p(k|x) (a continuous score that ranks well and stays in
    the scale). ``C`` is the inverse regularization strength."""

    def __init__(self, C=1.0, max_iter=1000):
        self.C = C
        self.max_iter = max_iter

    def fit(self, X, y):
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        levels = np.round(y).astype(int)
        self.levels_ = np.unique(levels)
        if self.levels_.size < 2:
            self.clf_ = None
            self.constant_ = float(self.levels_[0])
            return self
        self.clf_ = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(X, levels)
        return self

    def predict(self, X):
        check_is_fitted(self, "levels_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        if self.clf_ is None:
            return np.full(X.shape[0], self.constant_)
        return self.clf_.predict_proba(X) @ self.clf_.classes_.astype(np.float64)


class BradleyTerry(BaseEstimator):
    """Linear Bradley–Terry scorer s(x) = w·x fitted on pairwise preferences.

    P(a ≻ b) = σ(s(x_a) − s(x_b)); trained by L2-regularized logistic regression on feature
    differences with soft labels (ties 0.5, as PickScore): each pair contributes both
    (x_a − x_b, 1) with weight p and (x_a − x_b, 0) with weight 1 − p.
    """

    def __init__(self, C=1.0, max_iter=1000):
        self.C = C
        self.max_iter = max_iter

    def fit_pairs(self, X, idx_a, idx_b, preference):
        """X (n_items, n_features); idx_a, idx_b (n_pairs,); preference (n_pairs,) in [0, 1]."""
        X = validate_data(self, X, dtype=np.float64)
        ia, ib = np.asarray(idx_a, dtype=int), np.asarray(idx_b, dtype=int)
        p = np.asarray(preference, dtype=np.float64)
        if not (ia.shape == ib.shape == p.shape) or ia.size == 0:
            raise ConfigError("idx_a, idx_b and preference must be non-empty and of equal length")
        if ((p < 0) | (p > 1)).any():
            raise ConfigError("preference must lie in [0, 1] (1 = a preferred, 0 = b, 0.5 = tie)")
        self.scaler_ = StandardScaler().fit(X)
        Z = self.scaler_.transform(X)
        D = Z[ia] - Z[ib]
        # symmetrize so the intercept is 0 by construction
        Xd = np.vstack([D, -D, D, -D])
        yd = np.r_[np.ones(len(D)), np.zeros(len(D)), np.zeros(len(D)), np.ones(len(D))]
        w = np.r_[p, p, 1 - p, 1 - p]
        keep = w > 0
        self.clf_ = LogisticRegression(C=self.C, max_iter=self.max_iter, fit_intercept=False)
        self.clf_.fit(Xd[keep], yd[keep], sample_weight=w[keep])
        self.coef_ = self.clf_.coef_.ravel()
        return self

    def predict(self, X):
        """(n_items,) scores; higher = preferred."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.scaler_.transform(X) @ self.coef_

    def predict_proba_pairs(self, X, idx_a, idx_b):
        """(n_pairs,) P(a ≻ b)."""
        s = self.predict(X)
        return 1.0 / (1.0 + np.exp(-(s[np.asarray(idx_a)] - s[np.asarray(idx_b)])))


def _regressor(name: str, random_state: int, params: dict):
    if name == "ridge":
        return Ridge(**{"alpha": 1.0, **params})
    if name == "elasticnet":
        return ElasticNet(**{"alpha": 0.01, "l1_ratio": 0.5, "max_iter": 10000, "random_state": random_state,
                             **params})
    if name == "svr":
        return SVR(**{"C": 1.0, "epsilon": 0.1, **params})
    if name == "knn":
        return KNeighborsRegressor(**{"n_neighbors": 15, "weights": "distance", **params})
    if name == "random_forest":
        return RandomForestRegressor(**{"n_estimators": 200, "min_samples_leaf": 5, "n_jobs": 1,
                                        "random_state": random_state, **params})
    if name == "hist_gb":
        return HistGradientBoostingRegressor(**{"learning_rate": 0.05, "max_leaf_nodes": 15, "max_iter": 200,
                                                "l2_regularization": 1.0, "random_state": random_state, **params})
    if name == "mlp":
        return MLPRegressor(**{"hidden_sizes": (64,), "random_state": random_state, **params})
    if name == "ordinal":
        return OrdinalRegressor(**params)
    raise ConfigError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")


def make_predictor(name: str, *, pca: int | None = None, scaler: str | None = "standard", random_state: int = 0,
                   **params) -> Pipeline:
    """``Pipeline([scaler], [PCA(pca)], regressor)`` for a model family name.

    Args:
        name: one of :data:`MODELS`.
        pca: number of principal components after scaling (None/0 = no PCA).
        scaler: ``"standard"``, ``"robust"`` or None.
        random_state: seeds every random part.
        **params: regressor parameters (e.g. ``alpha`` for ridge, ``hidden_sizes``/``lr`` for mlp).
    """
    steps = []
    if scaler == "standard":
        steps.append(("scale", StandardScaler()))
    elif scaler == "robust":
        steps.append(("scale", RobustScaler()))
    elif scaler not in (None, "none"):
        raise ConfigError(f"scaler must be 'standard', 'robust' or None, got {scaler!r}")
    if pca:
        steps.append(("pca", PCA(n_components=int(pca), random_state=random_state)))
    try:
        reg = _regressor(name, random_state, dict(params))
    except TypeError as exc:
        raise ConfigError(f"bad parameters for model {name!r}: {exc}") from None
    steps.append(("model", reg))
    return Pipeline(steps)
