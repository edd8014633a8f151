"""Optuna hyperparameter search over predictor recipes, evaluated on the evaluation package's folds.

The objective cross-validates one :class:`~judgenet.predictors.recipes.Recipe` per trial on the folds of
:func:`judgenet.evaluation.make_folds` — the same fold maker (and ``split``: ``generator``, ``prompt`` or
``crossed``) that :func:`judgenet.evaluation.evaluate` uses, so tuning and evaluation cannot disagree on
what is held out — and maximizes an agreement measure of the pooled held-out predictions with the human
labels (default Kendall tau-b). After each fold it reports the running value so a pruner
(``MedianPruner`` by default) can stop bad trials early.

Search space: the model family, its parameters from :data:`judgenet.predictors.recipes.FAMILIES` (each
family's ``optuna_space``, parameter names prefixed with the family: ``ridge.alpha``), the feature groups
(``group.<name>``), the PCA size and the scaler. Replace it with ``search_space_fn(trial, objective) ->
Recipe``.

Storage: ``sqlite:///path/study.db`` (resumable: running the same command again continues the study to its
total) or any Optuna RDB URL (several processes or machines share one study). With an RDB URL a heartbeat
is recorded for each running trial; a trial whose worker died (kill -9, lost machine) stops beating, is
marked failed by the next worker after ``grace_period`` seconds and re-queued once
(``RetryFailedTrialCallback``). Each trial's sampler is seeded from (``seed``, trial number): a
single-process study is reproducible, and resumed or parallel runs never replay each other's points.
The study total is honoured across workers: a worker stops when finished + running trials reach it, and a
trial that a race started beyond it is recorded FAIL (user attr ``over_budget``) without being evaluated.
Each trial runs with ``threads`` math-library threads (BLAS/OpenMP via threadpoolctl, and torch): label
sets are small, and several workers on one machine must not oversubscribe its cores.
Inspect a study with ``optuna-dashboard sqlite:///path/study.db``.
"""
from __future__ import annotations

import logging
import os
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Callable, ClassVar, Container, Mapping, Sequence

import numpy as np

from .errors import ConfigError
from .stats import MEASURES

__all__ = ["Objective", "PairwiseObjective", "default_search_space", "tune", "best_recipe", "write_study_plots",
           "PCA_CHOICES", "SCALER_CHOICES"]

log = logging.getLogger(__name__)

PCA_CHOICES = (0, 4, 8, 16, 32)
SCALER_CHOICES = ("standard", "robust")
_COUNTED = ("COMPLETE", "PRUNED", "RUNNING")


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
    from .predictors.recipes import FAMILIES

    family = trial.suggest_categorical("model", list(objective.families))
    space = FAMILIES[family].optuna_space
    params = space(_Prefixed(trial, family)) if space is not None else {}
    groups = [g for g in objective.available_groups if trial.suggest_categorical(f"group.{g}", [True, False])]
    return family, params, groups or list(objective.available_groups)


def default_search_space(trial, objective: "Objective"):
    """The built-in space: family, the family's own parameters (from the recipe table), feature groups,
    PCA size and scaler. Returns a :class:`~judgenet.predictors.recipes.Recipe`."""
    from .predictors.recipes import Recipe

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
        from .predictors.recipes import FAMILIES

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
        for step, fold in enumerate(self.folds):
            model = recipe.build(random_state=self.seed).fit(X[fold.train], self.y[fold.train])
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
        from .predictors.recipes import Recipe

        family, params, groups = _family_params_groups(trial, self)
        return Recipe(family, params, scaler=None, feature_groups=tuple(groups))

    def __call__(self, trial) -> float:
        from .evaluation.pairwise import cv_pairs

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
    from .evaluation import make_folds

    folds = make_folds(generators, prompts, split=split, n_prompt_folds=n_prompt_folds, seed=seed)
    folds = [f for f in folds if f.train.size and f.test.size]
    if len(folds) < 2:
        raise ConfigError(f"split={split!r} gives {len(folds)} usable fold(s); tuning needs at least 2")
    return folds


# ---------------------------------------------------------------------------------------------
# the study
# ---------------------------------------------------------------------------------------------
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


def _trial_seed(seed: int, number: int) -> int:
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(number)]).generate_state(1)[0])


def _sampler(seed: int, **tpe_options):
    """A TPE sampler re-seeded per trial from (seed, trial number). Trial numbers are unique across the
    processes sharing a study, so resumed and parallel runs explore new points, while a single-process
    study stays reproducible."""
    import optuna

    class PerTrialSeededTPE(optuna.samplers.BaseSampler):
        def __init__(self):
            self._by_trial: dict[int, optuna.samplers.TPESampler] = {}

        def _for(self, trial):
            s = self._by_trial.get(trial.number)
            if s is None:
                s = self._by_trial[trial.number] = optuna.samplers.TPESampler(
                    seed=_trial_seed(seed, trial.number), **tpe_options)
            return s

        def infer_relative_search_space(self, study, trial):
            return self._for(trial).infer_relative_search_space(study, trial)

        def sample_relative(self, study, trial, search_space):
            return self._for(trial).sample_relative(study, trial, search_space)

        def sample_independent(self, study, trial, param_name, param_distribution):
            return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

        def before_trial(self, study, trial):
            self._for(trial).before_trial(study, trial)

        def after_trial(self, study, trial, state, values):
            s = self._by_trial.pop(trial.number, None)
            if s is not None:
                s.after_trial(study, trial, state, values)

        def reseed_rng(self):  # seeds are derived per trial; nothing to reseed
            pass

    return PerTrialSeededTPE()


def _storage(storage, heartbeat_interval: int | None, grace_period: int | None, max_retry: int):
    if storage is None or not isinstance(storage, str) or heartbeat_interval is None:
        return storage
    import optuna

    if storage.split(":", 1)[0].split("+", 1)[0] not in ("sqlite", "postgresql", "mysql", "oracle", "mssql"):
        return storage  # e.g. a journal/redis URL: Optuna resolves it (no heartbeat there)
    import warnings

    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)  # optuna >= 4.9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if retry is not None:
            return optuna.storages.RDBStorage(storage, heartbeat_interval=int(heartbeat_interval),
                                              grace_period=grace_period,
                                              heartbeat_stale_trial_callback=retry(max_retry=max_retry))
        return optuna.storages.RDBStorage(
            storage, heartbeat_interval=int(heartbeat_interval), grace_period=grace_period,
            failed_trial_callback=optuna.storages.RetryFailedTrialCallback(max_retry=max_retry))


def _open_study(optuna, storage, study_name, seed, pruner, heartbeat_interval, grace_period, max_retry):
    """Create or load the study. Several processes starting on one new database race to create its tables; the
    loser sees "table ... already exists" — it retries (the tables are there by then), a few times."""
    import time

    for attempt in range(5):
        try:
            st = _storage(storage, heartbeat_interval, grace_period, max_retry)
            return optuna.create_study(study_name=study_name, storage=st, direction="maximize",
                                       sampler=_sampler(seed), pruner=pruner, load_if_exists=True)
        except Exception as exc:  # sqlalchemy.exc.OperationalError / IntegrityError from the creation race
            racy = "already exists" in str(exc) or "UNIQUE constraint failed" in str(exc) or "locked" in str(exc)
            if not racy or attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def _set_threads(threads: int | None):
    """Context: BLAS/OpenMP (threadpoolctl) and torch intra-op threads limited to ``threads``."""
    import contextlib

    @contextlib.contextmanager
    def ctx():
        if threads is None:
            yield
            return
        import torch
        from threadpoolctl import threadpool_limits

        old = torch.get_num_threads()
        torch.set_num_threads(max(1, int(threads)))
        try:
            with threadpool_limits(limits=max(1, int(threads))):
                yield
        finally:
            torch.set_num_threads(old)

    return ctx()


def tune(objective: Objective, *, n_trials: int | None = 20, study_name: str = "judgenet",
         storage: str | None = None, n_jobs: int = 1, timeout: float | None = None, seed: int = 0,
         pruner=None, progress: bool = True, threads: int | None = 1, heartbeat_interval: int | None = 10,
         grace_period: int | None = None, max_retry: int = 1):
    """Create or resume an Optuna study and optimize ``objective``; returns the study.

    Args:
        n_trials: the total number of finished (complete or pruned) trials the study should reach, over
            every worker and every run: rerunning after an interruption continues where it stopped; several
            workers on one storage stop together at the total (no overshoot).
        storage: None (in memory) or an RDB URL such as ``sqlite:///file.db`` (persistent, resumable,
            shareable by several processes/machines).
        n_jobs: trials run concurrently in this process (threads).
        seed: seeds the per-trial samplers (see module docstring); pruner defaults to
            ``MedianPruner(n_startup_trials=5, n_warmup_steps=2)``.
        threads: math-library threads per trial (BLAS/OpenMP and torch) while this process tunes;
            None leaves them alone. With ``n_jobs`` threads in one process the limit is shared by them.
        heartbeat_interval, grace_period, max_retry: stale-trial detection for RDB storages (seconds;
            grace defaults to twice the interval): a trial without heartbeat for ``grace_period`` is
            failed and re-queued up to ``max_retry`` times. None disables it.
    """
    import optuna
    from optuna.trial import TrialState

    if n_trials is not None and int(n_trials) < 1:
        raise ConfigError(f"n_trials must be >= 1, got {n_trials}")
    url = storage
    pruner = pruner or optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    try:
        study = _open_study(optuna, storage, study_name, seed, pruner, heartbeat_interval, grace_period, max_retry)
    except (ImportError, ValueError, RuntimeError, OSError) as exc:
        raise ConfigError(f"cannot open the study storage {url!r} ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:200]}); give an RDB URL such as sqlite:///path/study.db "
                          "in a writable folder") from None
    except Exception as exc:  # sqlalchemy.exc.* (unreachable database, unsupported URL)
        if type(exc).__module__.startswith("sqlalchemy"):
            raise ConfigError(f"cannot open the study storage {url!r} ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200]}); give an RDB URL such as sqlite:///path/study.db "
                              "in a writable folder") from None
        raise
    study.set_user_attr("measure", objective.measure)
    callbacks = []
    remaining = None
    if n_trials is not None:
        study.set_user_attr("n_trials_total", int(n_trials))
        if isinstance(storage, optuna.storages.RDBStorage) and heartbeat_interval is not None:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
        finished = (TrialState.COMPLETE, TrialState.PRUNED)
        counted = finished + (TrialState.RUNNING,)
        taken = len(study.get_trials(deepcopy=False, states=counted))
        if taken >= n_trials:
            return study
        remaining = int(n_trials) - len(study.get_trials(deepcopy=False, states=finished))
        # stop once finished + running trials (of every worker) reach the total
        callbacks.append(optuna.study.MaxTrialsCallback(int(n_trials), states=counted))
    trial_log = logging.getLogger("optuna.study._optimize")
    quiet = _QuietFailures()
    verbosity = optuna.logging.get_verbosity()
    trial_log.addFilter(quiet)
    if not progress:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    started: list[int] = []  # trials this process asked for (Ctrl-C between ask and the objective: fail them)
    ask = study.ask

    def ask_and_note(*args, **kwargs):
        t = ask(*args, **kwargs)
        started.append(t._trial_id)
        return t

    study.ask = ask_and_note
    try:
        with _set_threads(threads):
            study.optimize(objective, n_trials=remaining, n_jobs=n_jobs, timeout=timeout, callbacks=callbacks,
                           show_progress_bar=progress, gc_after_trial=False, catch=(_OverBudget,))
    except KeyboardInterrupt:
        _fail_running(study, started)
        raise
    finally:
        del study.ask
        trial_log.removeFilter(quiet)
        optuna.logging.set_verbosity(verbosity)
    return study


def _fail_running(study, trial_ids) -> None:
    """Record as FAIL the trials of ``trial_ids`` still RUNNING after a Ctrl-C: Optuna fails a trial interrupted
    inside the objective, but not one interrupted between its creation and the objective's first line (seen
    under load), which would then count toward the total of every later run."""
    from optuna.trial import TrialState

    storage = study._storage
    for tid in trial_ids:
        try:
            if storage.get_trial(tid).state == TrialState.RUNNING:
                storage.set_trial_user_attr(tid, "interrupted", True)
                storage.set_trial_state_values(tid, TrialState.FAIL)
        except Exception:  # noqa: BLE001 — best effort while exiting on Ctrl-C
            log.warning("could not record interrupted trial %s as failed", tid)


class _QuietFailures(logging.Filter):
    """Optuna logs a trial stopped by Ctrl-C (or started over the total) as failed, with a traceback;
    say what happened instead."""

    def __init__(self):
        super().__init__()
        self._over: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        msg = str(record.msg)
        if any(msg.startswith(f"Trial {n} failed with value None") for n in self._over):
            return False  # Optuna's second line about an over-budget trial
        if isinstance(exc, KeyboardInterrupt):
            record.msg, record.args = ("a trial was interrupted (Ctrl-C) and recorded as failed; rerun the same "
                                       "command to continue the study to its total"), ()
            record.exc_info = record.exc_text = None
        elif isinstance(exc, _OverBudget):
            self._over.add(str(exc).split()[1])
            record.msg, record.args = f"{exc}; recorded as failed, not evaluated", ()
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = record.exc_text = None
        return True


def best_recipe(study):
    """The :class:`~judgenet.predictors.recipes.Recipe` of the study's best trial."""
    from .predictors.recipes import Recipe

    return Recipe.from_dict(study.best_trial.user_attrs["recipe"])


def write_study_plots(study, out_dir: str | os.PathLike) -> list[Path]:
    """Write ``optimization_history.png`` and ``param_importances.png`` into ``out_dir`` (atomically); a
    plot that cannot be drawn (e.g. importances need ≥ 2 completed trials) is replaced by a ``.txt`` saying
    why. Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    from .io import atomic_path, atomic_write_text

    out = Path(out_dir)
    written = []
    for name, fn in (("optimization_history", ovm.plot_optimization_history),
                     ("param_importances", ovm.plot_param_importances)):
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # optuna's ExperimentalWarning for the matplotlib backend
                ax = fn(study)
            with atomic_path(out / f"{name}.png") as tmp:
                ax.figure.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
            plt.close(ax.figure)
            written.append(out / f"{name}.png")
        except (ValueError, RuntimeError) as exc:
            written.append(atomic_write_text(out / f"{name}.txt", f"plot unavailable: {exc}\n"))
    return written
