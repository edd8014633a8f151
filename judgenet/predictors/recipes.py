"""One recipe core: ONE table of model families and the :class:`Recipe` that is saved in artifacts.

:data:`FAMILIES` maps a family name to a :class:`Family` — its kind (``"pointwise"``: fit on per-item
scores; ``"pairwise"``: fit on preferences between items, registered by
:mod:`judgenet.predictors.pairwise`), the estimator factory, its default parameters, the small CV grid
(nested selection in :func:`judgenet.evaluation.evaluate`) and the Optuna search space
(:mod:`judgenet.tuning`). Nothing else lists families, defaults, grids or spaces.

A :class:`Recipe` is everything needed to rebuild a predictor exactly: family, parameters (defaults
overridden), PCA size, scaler and the feature groups it reads. It is saved in ``meta.json`` of a
predictor artifact and rebuilt from there with :meth:`Recipe.from_predictor_dir`, which reads
``meta.json`` only (the pickled model is never touched).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import ElasticNet, Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, RobustScaler, StandardScaler
from sklearn.svm import SVR

from ..errors import ArtifactError, ConfigError
from .mlp import MLPRegressor
from .models import ClippedPCA, OrdinalRegressor

__all__ = ["Family", "FAMILIES", "POINTWISE", "Recipe", "register", "get_family", "make_predictor",
           "default_param_grid", "column_pipeline", "SCALERS"]

SCALERS = ("standard", "robust", None)


@dataclass(frozen=True)
class Family:
    """One model family.

    Attributes:
        kind: ``"pointwise"`` or ``"pairwise"``.
        factory: ``factory(**params) -> unfitted estimator`` (``random_state=`` added when ``seeded``).
        defaults: judgenet's default parameters (override the estimator's own).
        grid: small CV grid, ``{param: [values]}`` (unprefixed parameter names).
        optuna_space: ``f(trial) -> params``; parameter names are unprefixed here — :mod:`judgenet.tuning`
            prefixes them with the family name in the study (``ridge.alpha``).
        seeded: whether the factory takes ``random_state``.
        bare: the estimator reads its input columns by position (e.g. ``anchored``: column 0 is the raw
            metric it is anchored on) and takes ``generators=``/``prompts=`` in ``fit``: it is built without
            scaler or PCA (a recipe asking for them is refused).
        label_units: whether the family predicts on the scale of the human labels it is fitted to. False
            for ``anchored`` (it predicts in the units of its raw metric, e.g. raw MID): its conformal
            calibration maps predictions to the label scale by a line fitted on held-out-generator
            predictions (:class:`~judgenet.evaluation.conformal.ConformalPredictor` ``rescale``). The one
            place that says which families predict in other units.
    """

    kind: str
    factory: Callable[..., Any]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    optuna_space: Callable[[Any], dict] | None = None
    seeded: bool = True
    bare: bool = False
    label_units: bool = True


def _mlp_space(trial) -> dict:
    width = trial.suggest_int("width", 16, 256, log=True)
    depth = trial.suggest_int("depth", 1, 3)
    return {"hidden_sizes": tuple([width] * depth), "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-1, log=True),
            "max_epochs": trial.suggest_int("max_epochs", 20, 200, log=True)}


def _anchored(**params):
    from .anchored import AnchoredRegressor

    return AnchoredRegressor(**params)


FAMILIES: dict[str, Family] = {
    "ridge": Family("pointwise", Ridge, {"alpha": 1.0}, {"alpha": [0.1, 1.0, 10.0, 100.0]},
                    lambda t: {"alpha": t.suggest_float("alpha", 1e-3, 1e3, log=True)}, seeded=False),
    "elasticnet": Family("pointwise", ElasticNet, {"alpha": 0.01, "l1_ratio": 0.5, "max_iter": 10000},
                         {"alpha": [0.001, 0.01, 0.1], "l1_ratio": [0.2, 0.8]},
                         lambda t: {"alpha": t.suggest_float("alpha", 1e-4, 10.0, log=True),
                                    "l1_ratio": t.suggest_float("l1_ratio", 0.05, 1.0)}),
    "svr": Family("pointwise", SVR, {"C": 1.0, "epsilon": 0.1}, {"C": [0.3, 1.0, 3.0], "epsilon": [0.05, 0.2]},
                  lambda t: {"C": t.suggest_float("C", 1e-2, 1e2, log=True),
                             "epsilon": t.suggest_float("epsilon", 1e-3, 1.0, log=True)}, seeded=False),
    "knn": Family("pointwise", KNeighborsRegressor, {"n_neighbors": 15, "weights": "distance"},
                  {"n_neighbors": [5, 15, 40]},
                  lambda t: {"n_neighbors": t.suggest_int("n_neighbors", 3, 50, log=True)}, seeded=False),
    "random_forest": Family("pointwise", RandomForestRegressor,
                            {"n_estimators": 200, "min_samples_leaf": 5, "n_jobs": 1},
                            {"min_samples_leaf": [2, 5, 20]},
                            lambda t: {"n_estimators": t.suggest_int("n_estimators", 50, 300, step=50),
                                       "max_depth": t.suggest_int("max_depth", 2, 16, log=True),
                                       "min_samples_leaf": t.suggest_int("min_samples_leaf", 1, 20, log=True)}),
    "hist_gb": Family("pointwise", HistGradientBoostingRegressor,
                      {"learning_rate": 0.05, "max_leaf_nodes": 15, "max_iter": 200, "l2_regularization": 1.0},
                      {"learning_rate": [0.03, 0.1], "max_leaf_nodes": [7, 15]},
                      lambda t: {"learning_rate": t.suggest_float("learning_rate", 0.01, 0.3, log=True),
                                 "max_leaf_nodes": t.suggest_int("max_leaf_nodes", 4, 64, log=True),
                                 "l2_regularization": t.suggest_float("l2_regularization", 1e-6, 10.0, log=True)}),
    "mlp": Family("pointwise", MLPRegressor, {"hidden_sizes": (64,)},
                  {"hidden_sizes": [(32,), (64, 64)], "weight_decay": [1e-4, 1e-2]}, _mlp_space),
    "ordinal": Family("pointwise", OrdinalRegressor, {}, {"C": [0.1, 1.0, 10.0]},
                      lambda t: {"C": t.suggest_float("C", 1e-2, 1e2, log=True)}, seeded=False),
    # [SPLIT] raw metric (column `anchor`, 0 = mid_pmi in the default column order) + shrunk correction
    "anchored": Family("pointwise", _anchored, {}, {"shrink": ["auto", 0.0]},
                       lambda t: {"inner_prompt_folds": t.suggest_int("inner_prompt_folds", 2, 5)}, bare=True,
                       label_units=False),
}
"""Family name → :class:`Family`. Pairwise families are added by :mod:`judgenet.predictors.pairwise`
through :func:`register` (imported at the end of this module)."""

POINTWISE = tuple(n for n, f in FAMILIES.items() if f.kind == "pointwise")
"""The pointwise family names (accepted by :func:`make_predictor`)."""


def register(name: str, family: Family) -> None:
    """Add (or replace) a family in :data:`FAMILIES`."""
    if family.kind not in ("pointwise", "pairwise"):
        raise ConfigError(f"family kind must be 'pointwise' or 'pairwise', got {family.kind!r}")
    FAMILIES[name] = family


def get_family(name: str) -> Family:
    """The :class:`Family` called ``name``, or a :class:`ConfigError` listing the choices."""
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown model {name!r}; choose from {', '.join(FAMILIES)}") from None


def _jsonable(v):
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def _tupled(v):
    """JSON lists back to tuples (sklearn parameters such as ``hidden_sizes`` are tuples)."""
    return tuple(_tupled(x) for x in v) if isinstance(v, list) else v


@dataclass(frozen=True)
class Recipe:
    """Everything that defines a predictor before fitting.

    Attributes:
        family: a name in :data:`FAMILIES`.
        params: estimator parameters overriding the family's defaults.
        pca: number of principal components after scaling (None/0 = none; clipped to the training
            fold's size, :class:`~judgenet.predictors.models.ClippedPCA`). Pointwise families only.
        scaler: ``"standard"``, ``"robust"`` or None. Pointwise families only.
        feature_groups: the feature groups the predictor reads (None = every column it is given).
    """

    family: str
    params: Mapping[str, Any] = field(default_factory=dict)
    pca: int | None = None
    scaler: str | None = "standard"
    feature_groups: tuple[str, ...] | None = None

    def __post_init__(self):
        fam = get_family(self.family)
        object.__setattr__(self, "params", {k: _tupled(v) for k, v in dict(self.params or {}).items()})
        object.__setattr__(self, "pca", int(self.pca) if self.pca else None)
        if self.scaler == "none":
            object.__setattr__(self, "scaler", None)
        if self.scaler not in SCALERS:
            raise ConfigError(f"scaler must be 'standard', 'robust' or None, got {self.scaler!r}")
        if self.feature_groups is not None:
            object.__setattr__(self, "feature_groups", tuple(self.feature_groups))
        if fam.kind == "pairwise" and self.pca:
            raise ConfigError(f"{self.family} is a pairwise family: PCA is not part of its recipe")
        if fam.bare:
            if self.pca:
                raise ConfigError(f"{self.family} reads its columns by position: PCA is not part of its recipe")
            object.__setattr__(self, "scaler", None)

    @property
    def kind(self) -> str:
        return get_family(self.family).kind

    def to_dict(self) -> dict:
        """JSON-able dict (tuples as lists); :meth:`from_dict` restores the recipe exactly."""
        return {"family": self.family, "params": {k: _jsonable(v) for k, v in self.params.items()},
                "pca": self.pca, "scaler": self.scaler,
                "feature_groups": None if self.feature_groups is None else list(self.feature_groups)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Recipe":
        """Inverse of :meth:`to_dict`; unknown keys or families are refused."""
        if not isinstance(d, Mapping) or "family" not in d:
            raise ConfigError(f"a recipe needs at least a 'family'; got {d!r}")
        extra = set(d) - {"family", "params", "pca", "scaler", "feature_groups"}
        if extra:
            raise ConfigError(f"unknown recipe keys {sorted(extra)}")
        return cls(d["family"], dict(d.get("params") or {}), d.get("pca"), d.get("scaler", "standard"),
                   d.get("feature_groups"))

    def build(self, random_state: int = 0):
        """The unfitted estimator. Pointwise: ``Pipeline([scale], [pca], model)`` (step names ``scale``,
        ``pca``, ``model``; hyperparameters addressed as ``model__alpha``); pairwise: the family's
        estimator (it standardizes its own inputs)."""
        fam = get_family(self.family)
        kw = {**fam.defaults, **self.params}
        if fam.seeded:
            kw.setdefault("random_state", random_state)
        try:
            est = fam.factory(**kw)
        except TypeError as exc:
            raise ConfigError(f"bad parameters for model {self.family!r}: {exc}") from None
        if fam.kind == "pairwise" or fam.bare:
            return est
        steps = []
        if self.scaler == "standard":
            steps.append(("scale", StandardScaler()))
        elif self.scaler == "robust":
            steps.append(("scale", RobustScaler()))
        if self.pca:
            steps.append(("pca", ClippedPCA(n_components=self.pca, random_state=random_state)))
        steps.append(("model", est))
        return Pipeline(steps)

    def columns(self, features=None, *, names: Sequence[str] | None = None,
                groups: Mapping[str, Sequence[str]] | None = None) -> np.ndarray:
        """Indices (int array, matrix order) of the columns this recipe reads from a feature matrix
        (anything with ``.names`` and ``.groups``, e.g. :class:`judgenet.features.FeatureMatrix`, or
        ``names=``/``groups=``). All columns when ``feature_groups`` is None."""
        names = list(features.names if features is not None else names)
        groups = dict(features.groups if features is not None else groups or {})
        if self.feature_groups is None:
            return np.arange(len(names))
        missing = [g for g in self.feature_groups if g not in groups]
        if missing:
            raise ConfigError(f"the recipe reads feature groups {list(self.feature_groups)} but {missing} are not "
                              f"in the features (have {list(groups)}); build those groups")
        keep = {n for g in self.feature_groups for n in groups[g]}
        idx = np.array([i for i, n in enumerate(names) if n in keep], dtype=int)
        if idx.size == 0:
            raise ConfigError(f"feature groups {list(self.feature_groups)} select no columns")
        return idx

    @classmethod
    def from_predictor_dir(cls, path: str | os.PathLike, *, with_meta: bool = False):
        """The recipe saved in a predictor artifact, from ``meta.json`` alone (verified; the model file
        is never opened). Returns the :class:`Recipe`, or ``(recipe, meta)`` with ``with_meta``."""
        from .artifact import read_meta

        meta = read_meta(path)
        if not isinstance(meta.get("recipe"), Mapping):
            raise ArtifactError(f"{Path(path) / 'meta.json'}: no recipe recorded (written by an older judgenet); "
                                "retrain the predictor with this version")
        try:
            recipe = cls.from_dict(meta["recipe"])
        except ConfigError as exc:
            raise ArtifactError(f"{Path(path) / 'meta.json'}: its recipe cannot be rebuilt ({exc})") from exc
        return (recipe, meta) if with_meta else recipe

    def __str__(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def make_predictor(name: str, *, pca: int | None = None, scaler: str | None = "standard", random_state: int = 0,
                   **params):
    """``Recipe(name, params, pca, scaler).build(random_state)`` — a pipeline by family name
    (``fit(X (n, p), y (n,))``, ``predict(X) -> (n,)``; works with ``clone`` and ``GridSearchCV``)."""
    return Recipe(name, params, pca, scaler).build(random_state)


def default_param_grid(name: str) -> dict:
    """The family's CV grid keyed as the built estimator addresses them: pipeline step names (``model__<param>``)
    for pointwise pipelines, plain names for pairwise and bare families — as GridSearchCV and
    :func:`judgenet.evaluation.evaluate`'s ``param_grid`` use them."""
    fam = get_family(name)
    prefix = "" if (fam.kind == "pairwise" or fam.bare) else "model__"
    return {prefix + k: list(v) for k, v in fam.grid.items()}


def _take(X, cols):
    return np.asarray(X)[:, cols]


def column_pipeline(columns: Sequence[int], estimator) -> Pipeline:
    """``Pipeline([("columns", select columns), ("recipe", estimator)])``: evaluates recipes that read
    different feature groups side by side on one feature matrix."""
    cols = np.asarray(columns, dtype=int)
    return Pipeline([("columns", FunctionTransformer(_take, kw_args={"cols": cols})), ("recipe", estimator)])


def _register_pairwise() -> None:
    from . import pairwise

    for name, spec in getattr(pairwise, "PAIRWISE_FAMILIES", {}).items():
        register(name, Family("pairwise", spec["factory"], dict(spec.get("defaults", {})),
                              dict(spec.get("grid", {})), spec.get("optuna_space"), bool(spec.get("seeded", True))))


_register_pairwise()
