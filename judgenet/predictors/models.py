"""Model families by name and the ordinal variant (pairwise models: :mod:`.pairwise`)."""
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

__all__ = ["MODELS", "ALIASES", "make_predictor", "default_param_grid", "OrdinalRegressor"]

MODELS = ("ridge", "elasticnet", "svr", "knn", "random_forest", "hist_gb", "mlp", "ordinal")
"""Model family names accepted by :func:`make_predictor`."""

ALIASES = {"ordinal_logistic": "ordinal", "rf": "random_forest", "hgb": "hist_gb", "enet": "elasticnet"}


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
    raise ConfigError(f"unknown model {name!r}; choose from {', '.join(MODELS)} (aliases: "
                      f"{', '.join(f'{a}={b}' for a, b in ALIASES.items())})")



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

_GRIDS = {
    "ridge": {"model__alpha": [0.1, 1.0, 10.0, 100.0]},
    "elasticnet": {"model__alpha": [0.001, 0.01, 0.1], "model__l1_ratio": [0.2, 0.8]},
    "svr": {"model__C": [0.3, 1.0, 3.0], "model__epsilon": [0.05, 0.2]},
    "knn": {"model__n_neighbors": [5, 15, 40]},
    "random_forest": {"model__min_samples_leaf": [2, 5, 20]},
    "hist_gb": {"model__learning_rate": [0.03, 0.1], "model__max_leaf_nodes": [7, 15]},
    "mlp": {"model__hidden_sizes": [(32,), (64, 64)], "model__weight_decay": [1e-4, 1e-2]},
    "ordinal": {"model__C": [0.1, 1.0, 10.0]},
}


def default_param_grid(name: str) -> dict:
    """A small sklearn param grid for ``make_predictor(name)``, keyed with the pipeline's step
    names (``model__<param>``, ``pca__n_components``) — the naming GridSearchCV, Optuna configs and
    :func:`judgenet.evaluation.evaluate`'s ``param_grid`` use."""
    key = ALIASES.get(name, name)
    if key not in _GRIDS:
        raise ConfigError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return {k: list(v) for k, v in _GRIDS[key].items()}


def make_predictor(name: str, *, pca: int | None = None, scaler: str | None = "standard", random_state: int = 0,
                   **params) -> Pipeline:
    """``Pipeline([scaler], [PCA(pca)], regressor)`` for a model family name.

    Step names are ``scale``, ``pca`` and ``model``, so hyperparameters are addressed as
    ``model__alpha``, ``pca__n_components`` (see :func:`default_param_grid`). The pipeline is an
    unfitted sklearn estimator: ``fit(X (n, p), y (n,))``, ``predict(X) -> (n,)``; it works with
    ``clone``, ``GridSearchCV`` and :func:`judgenet.evaluation.evaluate`.

    Args:
        name: one of :data:`MODELS` or an alias in :data:`ALIASES` (``ordinal_logistic``).
        pca: number of principal components after scaling (None/0 = no PCA); clipped to
            ``min(n_samples, n_features)`` of the training data (:class:`ClippedPCA`).
        scaler: ``"standard"``, ``"robust"`` or None.
        random_state: seeds every random part.
        **params: regressor parameters (e.g. ``alpha`` for ridge, ``hidden_sizes``/``lr`` for mlp).
    """
    name = ALIASES.get(name, name)
    steps = []
    if scaler == "standard":
        steps.append(("scale", StandardScaler()))
    elif scaler == "robust":
        steps.append(("scale", RobustScaler()))
    elif scaler not in (None, "none"):
        raise ConfigError(f"scaler must be 'standard', 'robust' or None, got {scaler!r}")
    if pca:
        steps.append(("pca", ClippedPCA(n_components=int(pca), random_state=random_state)))
    try:
        reg = _regressor(name, random_state, dict(params))
    except TypeError as exc:
        raise ConfigError(f"bad parameters for model {name!r}: {exc}") from None
    steps.append(("model", reg))
    return Pipeline(steps)
