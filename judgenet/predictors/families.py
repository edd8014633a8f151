"""ONE table of model families: :data:`FAMILIES` maps a family name to a :class:`Family`.

Every family is listed here — per-item (``"pointwise"``: fit on per-item scores) and comparative
(``"pairwise"``: fit on preferences between items) — with its estimator factory, its default parameters,
the small CV grid (nested selection in :func:`judgenet.evaluation.evaluate`) and the Optuna search space
(:mod:`judgenet.tuning`). Nothing registers families at import time and nothing else lists families,
defaults, grids or spaces. :class:`~judgenet.predictors.recipes.Recipe` builds estimators from this table.

The table imports the estimators it lists (this module sits above them); the estimators do not import it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import ElasticNet, Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.svm import SVR

from ..errors import ConfigError
from .anchored import AnchoredRegressor
from .mlp import MLPRegressor
from .models import OrdinalRegressor
from .pairwise import BradleyTerry, PairwiseGB, PairwiseMLP
from .raw import RawFeature, RawUtility

__all__ = ["Family", "FAMILIES", "POINTWISE", "PAIRWISE", "KINDS", "get_family"]

KINDS = ("pointwise", "pairwise")


@dataclass(frozen=True)
class Family:
    """One model family.

    Attributes:
        kind: ``"pointwise"`` or ``"pairwise"``.
        factory: ``factory(**params) -> unfitted estimator`` (``random_state=`` added when ``seeded``).
        defaults: judgenet's default parameters (override the estimator's own).
        grid: small CV grid, ``{param: [values]}`` (unprefixed parameter names); empty for the raw families.
        optuna_space: ``f(trial) -> params``; parameter names are unprefixed here — :mod:`judgenet.tuning`
            prefixes them with the family name in the study (``ridge.alpha``). None: not tuned (raw families).
        seeded: whether the factory takes ``random_state``.
        bare: the estimator reads named or positioned raw columns (``anchored``: the column named ``mid_pmi``;
            ``raw``: a column index) and may take ``generators=``/``prompts=`` in ``fit``: it is built without
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

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"family kind must be 'pointwise' or 'pairwise', got {self.kind!r}")


def _mlp_space(trial) -> dict:
    width = trial.suggest_int("width", 16, 256, log=True)
    depth = trial.suggest_int("depth", 1, 3)
    return {"hidden_sizes": tuple([width] * depth), "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-1, log=True),
            "max_epochs": trial.suggest_int("max_epochs", 20, 200, log=True)}


def _pairwise_mlp_space(trial) -> dict:
    return {"hidden_sizes": (trial.suggest_int("width", 8, 128, log=True),),
            "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-1, log=True)}


def _pairwise_gb_space(trial) -> dict:
    return {"n_estimators": trial.suggest_int("n_estimators", 20, 400, log=True),
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "max_depth": trial.suggest_int("max_depth", 1, 5),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 2, 30, log=True),
            "l2": trial.suggest_float("l2", 1e-3, 10.0, log=True)}


FAMILIES: Mapping[str, Family] = {
    # -- pointwise: fitted on per-item scores --------------------------------------------------------------------
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
    # raw metric (column `anchor`, 0 = mid_pmi in the default column order) + shrunk correction
    "anchored": Family("pointwise", AnchoredRegressor, {}, {"shrink": ["auto", 0.0]},
                       lambda t: {"inner_prompt_folds": t.suggest_int("inner_prompt_folds", 2, 5)}, bare=True,
                       label_units=False),
    # a raw feature column as the prediction (column by position, sign ±1): the kept baseline of `train --model auto`
    "raw": Family("pointwise", RawFeature, {}, {}, None, seeded=False, bare=True, label_units=False),
    # -- pairwise: fitted on preferences between items (predict a per-item utility) --------------------------------
    "bradley_terry": Family("pairwise", BradleyTerry, {"C": 1.0}, {"C": [0.01, 0.1, 1.0, 10.0]},
                            lambda t: {"C": t.suggest_float("C", 1e-3, 1e2, log=True)}, seeded=False),
    "pairwise_mlp": Family("pairwise", PairwiseMLP, {"hidden_sizes": (32,), "max_epochs": 100, "lr": 3e-3},
                           {"hidden_sizes": [(16,), (64,)], "weight_decay": [1e-4, 1e-2]}, _pairwise_mlp_space),
    "pairwise_gb": Family("pairwise", PairwiseGB, {"n_estimators": 100, "learning_rate": 0.1, "max_depth": 3},
                          {"max_depth": [2, 3], "n_estimators": [50, 200]}, _pairwise_gb_space),
    # a raw feature column as the utility: the kept baseline of `train --model auto` for comparative labels
    "raw_pairwise": Family("pairwise", RawUtility, {}, {}, None, seeded=False, bare=True),
}
"""Family name → :class:`Family` (read-only; every family of both kinds)."""

POINTWISE = tuple(n for n, f in FAMILIES.items() if f.kind == "pointwise")
"""The pointwise family names."""
PAIRWISE = tuple(n for n, f in FAMILIES.items() if f.kind == "pairwise")
"""The pairwise family names."""


def get_family(name: str, kind: str | None = None) -> Family:
    """The :class:`Family` called ``name`` (of ``kind`` when given), or a :class:`ConfigError` listing the
    choices."""
    names = FAMILIES if kind is None else (POINTWISE if kind == "pointwise" else PAIRWISE)
    if not isinstance(name, str) or name not in names:
        what = "model" if kind is None else f"{kind} model"
        raise ConfigError(f"unknown {what} {name!r}; choose from {', '.join(names)}")
    return FAMILIES[name]
