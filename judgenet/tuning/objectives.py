"""Optuna objectives over predictor recipes, evaluated on the evaluation package's folds.

The objective cross-validates one :class:`~judgenet.predictors.recipes.Recipe` per trial on the folds of
:func:`judgenet.evaluation.make_folds` — the same fold maker (and ``split``: ``generator``, ``prompt`` or
``crossed``) that :func:`judgenet.evaluation.evaluate` uses, so tuning and evaluation cannot disagree on
what is held out — and maximizes an agreement measure of the pooled held-out predictions with the human
labels (default Kendall tau-b). After each fold it reports the running value so a pruner
(``MedianPruner`` by default) can stop bad trials early.

Search space: the model family, its parameters from :data:`judgenet.predictors.recipes.FAMILIES` (each
family's ``optuna_space``, parameter names prefixed with the family: ``ridge.alpha``), the feature groups
(``group.<name>``), the PCA size and the scaler. Replace it with ``search_space_fn(trial, objective) ->
Recipe``; subclass :class:`Objective` to score recipes another way.
"""
from __future__ import annotations

import logging
from dataclasses import KW_ONLY, dataclass
from typing import Callable, ClassVar, Container, Mapping, Sequence

import numpy as np

from ..errors import ConfigError
from ..stats import MEASURES

__all__ = ["Objective", "PairwiseObjective", "default_search_space", "PCA_CHOICES", "SCALER_CHOICES"]

log = logging.getLogger(__name__)

PCA_CHOICES = (0, 4, 8, 16, 32)
SCALER_CHOICES = ("standard", "robust")


class _Prefixed:
    """A trial whose ``suggest_*`` names are prefixed with the family (``alpha`` → ``ridge.alpha``)."""

    def __init__(self, trial, prefix: str):
        self._trial, self._prefix = trial, prefix

    def suggest_float(self, name, *a, **kw):
        return self._trial.suggest_float(f"{self._prefix}.{name}", *a, **kw)

    def suggest_int(self, name, *a, **kw):
        return self._trial.suggest_int(f"{self._prefix}.{name}", *a, **kw)

    def suggest_categorical(self, name, choices):
        return self._trial.suggest_categorical(f"{self._prefix}.{name}", choices)


def _family_params_groups(trial, objective) -> tuple[str, dict, list[str]]:
    """The part of the space both objectives share: the family (from ``objective.families``), its own
    parameters (the recipe table's ``optuna_space``, names prefixed with the family) and the feature groups
    (at least one: none chosen means all of them)."""
    from ..predictors.recipes import FAMILIES

    family = trial.suggest_categorical("model", list(objective.families))
    space = FAMILIES[family].optuna_space
    params = space(_Prefixed(trial, family)) if space is not None else {}
    groups = [g for g in objective.available_groups if trial.suggest_categorical(f"group.{g}", [True, False])]
    return family, params, groups or list(objective.available_groups)


def default_search_space(trial, objective: "Objective"):
    """The built-in space: family, the family's own parameters (from the recipe table), feature groups,
    PCA size and scaler. Returns a :class:`~judgenet.predictors.recipes.Recipe`."""
    from ..predictors.recipes import Recipe

    family, params, groups = _family_params_groups(trial, objective)
    pca = trial.suggest_categorical("pca", list(PCA_CHOICES))
    scaler = trial.suggest_categorical("scaler", list(SCALER_CHOICES))
    return Recipe(family, params, pca=pca or None, scaler=scaler, feature_groups=tuple(groups))


@dataclass
class _RecipeObjective:
    """The core both objectives share: keyword settings (fold settings of ``make_folds``, families, seed,
    measure, search space), input coercion, the family check, the feature groups, and the start of a trial
    (study total, recipe drawn and recorded). A subclass declares its positional data fields and sets
    ``_kind`` (the recipe table's kind it tunes), ``_labels`` (for messages), ``_measures`` (accepted names)
    and ``_default_measure``."""

    _kind: ClassVar[str]
    _labels: ClassVar[str]
    _measures: ClassVar[Container[str]]
    _default_measure: ClassVar[str]

    _: KW_ONLY
    prompts: np.ndarray | None = None
    split: str = "generator"
    n_prompt_folds: int = 5
    measure: str | None = None
    families: Sequence[str] | None = None
    seed: int = 0
    search_space_fn: Callable | None = None

    def __post_init__(self):
        from ..predictors.recipes import FAMILIES

        self.X = np.asarray(self.X, dtype=np.float64)
        self.generators = np.asarray(self.generators)
        self.feature_names = list(self.feature_names)
        self.measure = self._default_measure if self.measure is None else self.measure
        if self.measure not in self._measures:
            raise ConfigError(f"measure {self.measure!r} is not one of {sorted(self._measures)}")
        allowed = tuple(n for n, f in FAMILIES.items() if f.kind == self._kind)
        # bare families (anchored) read columns by position: not searched over feature groups/PCA by default
        self.families = tuple(self.families or (f for f in allowed if not FAMILIES[f].bare))
        bad = [f for f in self.families if f not in allowed]
        if bad:
            raise ConfigError(f"families {bad} cannot be tuned on {self._labels}; choose from {', '.join(allowed)}")

    @property
    def available_groups(self) -> list[str]:
        return [g for g in self.feature_groups if g != "set"]

    def search_space(self, trial):
        """Override to change what is searched; return a :class:`~judgenet.predictors.recipes.Recipe`."""
        if self.search_space_fn is not None:
            return self.search_space_fn(trial, self)
        return self._default_space(trial)

    def _start(self, trial):
        """Check the study total, draw this trial's recipe and record it; returns (recipe, its columns)."""
        _check_budget(trial)
        recipe = self.search_space(trial)
        trial.set_user_attr("recipe", recipe.to_dict())
        return recipe, recipe.columns(names=self.feature_names, groups=self.feature_groups)


def _report(trial, step: int, value: float) -> None:
    """Report a running value from the second fold on; raise ``TrialPruned`` when the pruner says so."""
    import optuna

    if trial is None or step < 1:
        return
    trial.report(value, step)
    if trial.should_prune():
        raise optuna.TrialPruned()


@dataclass
class Objective(_RecipeObjective):
    """Optuna objective: cross-validation of one recipe per trial on :func:`judgenet.evaluation.make_folds`.

    Model selection happens *across* trials on these folds, so the best value is optimistic for the
    chosen recipe; for an unbiased estimate evaluate it on data that was not part of the study (or with
    the nested protocol of :func:`judgenet.evaluation.evaluate`).

    Args:
        X: (n_items, n_features) float64 feature matrix; ``feature_names`` its columns;
           ``feature_groups`` maps group name → column names (as ``FeatureMatrix.groups``).
        y: (n_items,) human scores (e.g. mean opinion scores).
        generators: (n_items,) generator of each item.
    Keyword-only:
        prompts: (n_items,) prompt of each item (required for ``split="prompt"``/``"crossed"``).
        split, n_prompt_folds: passed to ``make_folds`` (with ``seed``), as ``evaluate`` does.
        measure: a name in :data:`judgenet.stats.MEASURES` to maximize on the pooled held-out predictions
            (None = ``kendall_tau_b``).
        families: pointwise families the default space chooses from (None = all but the bare ones).
        search_space_fn: optional ``f(trial, objective) -> Recipe`` replacing :func:`default_search_space`.
    """

    _kind: ClassVar[str] = "pointwise"
    _labels: ClassVar[str] = "per-item scores"
    _measures: ClassVar[Container[str]] = MEASURES
    _default_measure: ClassVar[str] = "kendall_tau_b"

    X: np.ndarray
    y: np.ndarray
    generators: np.ndarray
    feature_names: Sequence[str]
    feature_groups: Mapping[str, Sequence[str]]

    def __post_init__(self):
        super().__post_init__()
        self.y = np.asarray(self.y, dtype=np.float64)
        n_gen = len(np.unique(self.generators))
        if self.split in ("generator", "crossed") and n_gen < 3:
            raise ConfigError(f"held-out-generator tuning (split={self.split!r}) needs at least 3 generators "
                              f"(got {n_gen}); use split='prompt' or group items by prompt")
        self.folds = _folds(self.generators, self.prompts, self.split, self.n_prompt_folds, self.seed)

    def _default_space(self, trial):
        return default_search_space(trial, self)

    def cross_validate(self, recipe, trial=None) -> tuple[float, np.ndarray, list[float]]:
        """Out-of-fold predictions of ``recipe``; returns (pooled measure, predictions, per-fold values)."""
        cols = recipe.columns(names=self.feature_names, groups=self.feature_groups)
        X = self.X[:, cols]
        pred = np.full(self.y.shape, np.nan)
        per_fold: list[float] = []
        fn = MEASURES[self.measure]
        from sklearn.base import clone

        from ..predictors.anchored import fit_routed

        est = recipe.build(random_state=self.seed, feature_names=[self.feature_names[i] for i in cols])
        for step, fold in enumerate(self.folds):  # anchored gets the training part's generators and prompts
            model = fit_routed(clone(est), X[fold.train], self.y[fold.train], generators=self.generators[fold.train],
                               prompts=None if self.prompts is None else np.asarray(self.prompts)[fold.train])
            pred[fold.test] = model.predict(X[fold.test])
            per_fold.append(_quiet(fn, self.y[fold.test], pred[fold.test]) if fold.test.size > 1 else float("nan"))
            if trial is not None and step >= 1:
                done = ~np.isnan(pred)
                running = _quiet(fn, self.y[done], pred[done])
                _report(trial, step, running if np.isfinite(running) else -1.0)
        done = ~np.isnan(pred)  # crossed splits may leave no item unpredicted; others cover all
        value = _quiet(fn, self.y[done], pred[done])
        return value, pred, per_fold

    def __call__(self, trial) -> float:
        recipe, _ = self._start(trial)
        value, _, per_fold = self.cross_validate(recipe, trial)
        trial.set_user_attr("per_fold", [v if np.isfinite(v) else None for v in per_fold])
        return value if np.isfinite(value) else -1.0


@dataclass
class PairwiseObjective(_RecipeObjective):
    """Optuna objective for comparative labels: one pairwise recipe per trial (family from the recipe table's
    pairwise families, its own parameters, feature groups), scored by the mean held-out 2AFC over the folds of
    :func:`judgenet.evaluation.make_folds` (:func:`judgenet.evaluation.pairwise.cv_pairs`), reported after each
    fold so the pruner can stop it.

    Args:
        X: (n_items, n_features) features of every judged item; ``feature_names`` / ``feature_groups`` as for
            :class:`Objective`. pairs: :class:`~judgenet.evaluation.pairwise.Pairs` over the rows of ``X``.
        generators: as for :class:`Objective`.
    Keyword-only: prompts, split, n_prompt_folds, seed, search_space_fn as for :class:`Objective`;
        families: pairwise families to choose from (None = all of them); measure: ``pairwise_2afc`` (the only
        one).
    """

    _kind: ClassVar[str] = "pairwise"
    _labels: ClassVar[str] = "pairwise judgments"
    _measures: ClassVar[Container[str]] = ("pairwise_2afc",)
    _default_measure: ClassVar[str] = "pairwise_2afc"

    X: np.ndarray
    pairs: object
    generators: np.ndarray
    feature_names: Sequence[str]
    feature_groups: Mapping[str, Sequence[str]]

    def _default_space(self, trial):
        from ..predictors.recipes import Recipe

        family, params, groups = _family_params_groups(trial, self)
        return Recipe(family, params, scaler=None, feature_groups=tuple(groups))

    def __call__(self, trial) -> float:
        from ..evaluation.pairwise import cv_pairs

        recipe, cols = self._start(trial)

        def report(k, value):
            if np.isfinite(value):
                _report(trial, k, value)

        value = cv_pairs(recipe.build(random_state=self.seed), self.X[:, cols], self.pairs, self.generators,
                         self.prompts, split=self.split, n_prompt_folds=self.n_prompt_folds, seed=self.seed,
                         on_fold=report)
        return value if np.isfinite(value) else -1.0


def _quiet(fn, a, b) -> float:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(fn(a, b))


def _folds(generators, prompts, split, n_prompt_folds, seed):
    """The evaluation package's folds (one fold maker for evaluate, selection and tuning)."""
    from ..evaluation import make_folds

    folds = make_folds(generators, prompts, split=split, n_prompt_folds=n_prompt_folds, seed=seed)
    folds = [f for f in folds if f.train.size and f.test.size]
    if len(folds) < 2:
        raise ConfigError(f"split={split!r} gives {len(folds)} usable fold(s); tuning needs at least 2")
    return folds


class _OverBudget(Exception):
    """A trial started (in a race between workers) after the study total was already taken."""


def _check_budget(trial) -> None:
    total = trial.study.user_attrs.get("n_trials_total") if hasattr(trial, "study") else None
    if total is None:
        return
    from optuna.trial import TrialState

    counted = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    ahead = sum(1 for t in trial.study.get_trials(deepcopy=False, states=counted) if t.number < trial.number)
    if ahead >= total:
        trial.set_user_attr("over_budget", True)
        trial.study.stop()
        raise _OverBudget(f"trial {trial.number} started after the study total of {total} was reached")
