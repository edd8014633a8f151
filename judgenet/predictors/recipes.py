"""One recipe core: the :class:`Recipe` that is saved in artifacts, built from the family table.

The families (kind, factory, defaults, CV grid, Optuna space) are listed once, in
:mod:`judgenet.predictors.families` (:data:`FAMILIES`, re-exported here).

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
from typing import Any, Mapping, Sequence

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, RobustScaler, StandardScaler

from ..errors import ArtifactError, ConfigError
from .families import FAMILIES, PAIRWISE, POINTWISE, Family, get_family
from .meta import read_meta
from .models import ClippedPCA

__all__ = ["Family", "FAMILIES", "POINTWISE", "PAIRWISE", "Recipe", "get_family", "make_predictor", "make_pairwise",
           "default_param_grid", "column_pipeline", "SCALERS"]

SCALERS = ("standard", "robust", None)


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
                raise ConfigError(f"{self.family} reads raw columns by name: PCA is not part of its recipe")
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

    def build(self, random_state: int = 0, feature_names: Sequence[str] | None = None):
        """The unfitted estimator. Pointwise: ``Pipeline([scale], [pca], model)`` (step names ``scale``,
        ``pca``, ``model``; hyperparameters addressed as ``model__alpha``); pairwise: the family's
        estimator (it standardizes its own inputs). ``feature_names``: the names of the columns the estimator
        will be given (those of :meth:`columns`); bare families (``anchored``) find their raw column by name."""
        fam = get_family(self.family)
        kw = {**fam.defaults, **self.params}
        if fam.seeded:
            kw.setdefault("random_state", random_state)
        try:
            est = fam.factory(**kw)
        except TypeError as exc:
            raise ConfigError(f"bad parameters for model {self.family!r}: {exc}") from None
        if fam.bare and feature_names is not None and "feature_names" in est.get_params(deep=False):
            est.set_params(feature_names=[str(n) for n in feature_names])
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


def make_pairwise(name: str, *, random_state: int = 0, **params):
    """``Recipe(name, params).build(random_state)`` for a pairwise family (its estimator standardizes its own
    inputs); other kinds are refused."""
    get_family(name, "pairwise")
    return Recipe(name, params, scaler=None).build(random_state)


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

