"""Optuna hyperparameter search over predictors, evaluated on held-out generators.

The objective runs leave-one-generator-out cross-validation (each fold holds one generator out of
training *and* out of model fitting) and maximizes an agreement measure of the pooled held-out
predictions with the human labels (default Kendall tau-b). After each fold it reports the running
value so a pruner (``MedianPruner`` by default) can stop bad trials early.

Extending the search: subclass :class:`Objective` and override :meth:`Objective.search_space`, or
pass ``search_space=my_function(trial, objective) -> config`` to :func:`tune`. A config is a plain
dict::

    {"model": "ridge", "params": {"alpha": 1.0}, "groups": ["alignment", "realism"],
     "pca": 0, "scaler": "standard"}

Storage: ``sqlite:///path/study.db`` by default (resumable: running the same command again
continues the study). Any Optuna RDB URL (e.g. ``postgresql://...``) lets several processes or
machines share one study — Optuna's own distributed mode. Inspect a study with
``optuna-dashboard sqlite:///path/study.db`` (``pip install optuna-dashboard``).
"""
from __future__ import annotations

import logging

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from .errors import ConfigError
from .stats import MEASURES

__all__ = ["MODEL_FAMILIES", "default_search_space", "Objective", "tune", "config_to_estimator",
           "feature_columns"]

MODEL_FAMILIES = ("ridge", "elasticnet", "svr", "knn", "random_forest", "hist_gb", "mlp")


def default_search_space(trial, objective: "Objective") -> dict:
    """The built-in search space: model family with conditional parameters, feature groups, PCA
    size and scaling. Parameter names are those of :func:`judgenet.predictors.make_predictor`."""
    family = trial.suggest_categorical("model", list(objective.families))
    p: dict = {}
    if family == "ridge":
        p["alpha"] = trial.suggest_float("ridge.alpha", 1e-3, 1e3, log=True)
    elif family == "elasticnet":
        p["alpha"] = trial.suggest_float("elasticnet.alpha", 1e-4, 10.0, log=True)
        p["l1_ratio"] = trial.suggest_float("elasticnet.l1_ratio", 0.05, 1.0)
    elif family == "svr":
        p["C"] = trial.suggest_float("svr.C", 1e-2, 1e2, log=True)
        p["epsilon"] = trial.suggest_float("svr.epsilon", 1e-3, 1.0, log=True)
    elif family == "knn":
        p["n_neighbors"] = trial.suggest_int("knn.n_neighbors", 3, 50, log=True)
    elif family == "random_forest":
        p["n_estimators"] = trial.suggest_int("random_forest.n_estimators", 50, 300, step=50)
        p["max_depth"] = trial.suggest_int("random_forest.max_depth", 2, 16, log=True)
        p["min_samples_leaf"] = trial.suggest_int("random_forest.min_samples_leaf", 1, 20, log=True)
    elif family == "hist_gb":
        p["learning_rate"] = trial.suggest_float("hist_gb.learning_rate", 0.01, 0.3, log=True)
        p["max_leaf_nodes"] = trial.suggest_int("hist_gb.max_leaf_nodes", 4, 64, log=True)
        p["l2_regularization"] = trial.suggest_float("hist_gb.l2_regularization", 1e-6, 10.0, log=True)
    elif family == "mlp":
        width = trial.suggest_int("mlp.width", 16, 256, log=True)
        depth = trial.suggest_int("mlp.depth", 1, 3)
        p["hidden_sizes"] = tuple([width] * depth)
        p["lr"] = trial.suggest_float("mlp.lr", 1e-4, 1e-2, log=True)
        p["weight_decay"] = trial.suggest_float("mlp.weight_decay", 1e-6, 1e-1, log=True)
        p["max_epochs"] = trial.suggest_int("mlp.max_epochs", 20, 200, log=True)
    groups = [g for g in objective.available_groups if trial.suggest_categorical(f"group.{g}", [True, False])]
    if not groups:  # at least one group: fall back to all of them
        groups = list(objective.available_groups)
    pca = trial.suggest_categorical("pca", [0, 4, 8, 16, 32])
    scaler = trial.suggest_categorical("scaler", ["standard", "robust"])
    return {"model": family, "params": p, "groups": groups, "pca": pca, "scaler": scaler}


def config_to_estimator(config: Mapping, seed: int = 0):
    """Build the (unfitted) sklearn estimator a config describes."""
    from .predictors import make_predictor

    params = dict(config.get("params", {}))
    return make_predictor(config["model"], pca=config.get("pca", 0) or None,
                          scaler=config.get("scaler", "standard"), random_state=seed, **params)


def cap_pca(config: Mapping, n_features: int) -> dict:
    """The config with its PCA size capped at the number of selected features (a large PCA on a
    small feature group would otherwise fail)."""
    out = dict(config)
    if out.get("pca"):
        out["pca"] = int(min(out["pca"], n_features))
    return out


def feature_columns(feature_names: Sequence[str], feature_groups: Mapping[str, Sequence[str]],
                    groups: Sequence[str]) -> np.ndarray:
    """Column indices of the chosen feature groups, in matrix order."""
    keep = {n for g in groups for n in feature_groups[g]}
    idx = np.array([i for i, n in enumerate(feature_names) if n in keep], dtype=int)
    if idx.size == 0:
        raise ConfigError(f"feature groups {list(groups)} select no columns")
    return idx


@dataclass
class Objective:
    """Optuna objective: leave-one-generator-out CV of one configuration per trial.

    Model selection happens *across* trials on these folds, so the best value is optimistic for the
    chosen configuration; for an unbiased estimate evaluate the tuned configuration on generators
    that were not part of the study (or with the nested protocol of :mod:`judgenet.evaluation`).

    Args:
        X: (n_items, n_features) float64 feature matrix; ``feature_names`` its columns;
           ``feature_groups`` maps group name → column names (as :class:`FeatureMatrix.groups`).
        y: (n_items,) human scores (e.g. mean opinion scores).
        generators: (n_items,) generator of each item — the cross-validation groups.
        measure: a name in :data:`judgenet.stats.MEASURES` to maximize on the pooled held-out
            predictions.
        families: model families the default space may choose from.
        search_space: optional ``f(trial, objective) -> config`` replacing :meth:`search_space`.
    """

    X: np.ndarray
    y: np.ndarray
    generators: np.ndarray
    feature_names: Sequence[str]
    feature_groups: Mapping[str, Sequence[str]]
    measure: str = "kendall_tau_b"
    families: Sequence[str] = MODEL_FAMILIES
    seed: int = 0
    search_space_fn: Callable | None = None

    def __post_init__(self):
        self.X = np.asarray(self.X, dtype=np.float64)
        self.y = np.asarray(self.y, dtype=np.float64)
        self.generators = np.asarray(self.generators)
        if self.measure not in MEASURES:
            raise ConfigError(f"measure {self.measure!r} is not one of {sorted(MEASURES)}")
        if len(np.unique(self.generators)) < 3:
            raise ConfigError("leave-one-generator-out tuning needs at least 3 generators "
                              f"(got {len(np.unique(self.generators))})")
        bad = [f for f in self.families if f not in MODEL_FAMILIES]
        if bad:
            raise ConfigError(f"unknown model families {bad}; choose from {MODEL_FAMILIES}")

    @property
    def available_groups(self) -> list[str]:
        return [g for g in self.feature_groups if g != "set"]

    def search_space(self, trial) -> dict:
        """Override to change what is searched; return a config dict (see module docstring)."""
        if self.search_space_fn is not None:
            return self.search_space_fn(trial, self)
        return default_search_space(trial, self)

    def cross_validate(self, config: Mapping, trial=None) -> tuple[float, np.ndarray, list[float]]:
        """Out-of-fold predictions of ``config``; returns (pooled measure, predictions, per-fold values)."""
        import optuna
        from sklearn.base import clone

        cols = feature_columns(self.feature_names, self.feature_groups, config["groups"])
        X = self.X[:, cols]
        config = cap_pca(config, X.shape[1])
        est = config_to_estimator(config, self.seed)
        pred = np.full(self.y.shape, np.nan)
        per_fold: list[float] = []
        fn = MEASURES[self.measure]
        for step, g in enumerate(np.unique(self.generators)):
            test = self.generators == g
            model = clone(est).fit(X[~test], self.y[~test])
            pred[test] = model.predict(X[test])
            per_fold.append(float(fn(self.y[test], pred[test])) if test.sum() > 1 else float("nan"))
            done = ~np.isnan(pred)
            if trial is not None and len(np.unique(self.generators[done])) >= 2:
                running = float(fn(self.y[done], pred[done]))
                trial.report(running if np.isfinite(running) else -1.0, step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
        value = float(fn(self.y, pred))
        return value, pred, per_fold

    def __call__(self, trial) -> float:
        config = self.search_space(trial)
        trial.set_user_attr("config", _jsonable(config))
        value, _, per_fold = self.cross_validate(config, trial)
        trial.set_user_attr("per_fold", per_fold)
        return value if np.isfinite(value) else -1.0


def _jsonable(config: Mapping) -> dict:
    out = dict(config)
    out["params"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.get("params", {}).items()}
    return out


def tune(objective: Objective, *, n_trials: int | None = 20, study_name: str = "judgenet",
         storage: str | None = None, n_jobs: int = 1, timeout: float | None = None, seed: int = 0,
         pruner=None, progress: bool = True):
    """Create or resume an Optuna study and optimize ``objective``.

    ``storage`` None keeps the study in memory; a ``sqlite:///file.db`` (or any RDB URL) makes it
    persistent and resumable, and shareable by several worker processes. The sampler is a seeded
    TPE; the pruner defaults to ``MedianPruner(n_startup_trials=5, n_warmup_steps=2)``.
    ``n_trials`` is the total number of finished trials the study should reach, so rerunning the
    same command after an interruption continues where it stopped instead of starting over.
    Returns the study; :func:`best_config` gives the best configuration.
    """
    import optuna

    sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = pruner or optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    study = optuna.create_study(study_name=study_name, storage=storage, direction="maximize",
                                sampler=sampler, pruner=pruner, load_if_exists=True)
    study.set_user_attr("measure", objective.measure)
    callbacks = []
    if n_trials is not None:
        # n_trials is the study's total: a resumed study, or several workers sharing one storage,
        # stop together once that many trials have finished (complete or pruned).
        finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        done = len(study.get_trials(deepcopy=False, states=finished))
        if done >= n_trials:
            return study
        callbacks.append(optuna.study.MaxTrialsCallback(n_trials, states=finished))
    trial_log = logging.getLogger("optuna.study._optimize")
    quiet_interrupt = _InterruptWithoutTraceback()
    verbosity = optuna.logging.get_verbosity()
    trial_log.addFilter(quiet_interrupt)
    if not progress:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study.optimize(objective, n_trials=n_trials, n_jobs=n_jobs, timeout=timeout, callbacks=callbacks,
                       show_progress_bar=progress, gc_after_trial=False)
    finally:
        trial_log.removeFilter(quiet_interrupt)
        optuna.logging.set_verbosity(verbosity)
    return study


class _InterruptWithoutTraceback(logging.Filter):
    """Optuna logs a trial stopped by Ctrl-C as failed, with a traceback; say what happened instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt):
            record.msg, record.args = ("a trial was interrupted (Ctrl-C) and recorded as failed; rerun the same "
                                       "command to continue the study to its total"), ()
            record.exc_info = record.exc_text = None
        return True


def best_config(study) -> dict:
    """The configuration dict of the study's best trial."""
    return dict(study.best_trial.user_attrs["config"])
