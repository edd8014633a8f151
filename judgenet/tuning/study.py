"""Optuna studies: create or resume one, optimize an objective in one or several processes, read the best recipe.

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
Only Optuna's public API is used. Inspect a study with ``optuna-dashboard sqlite:///path/study.db``.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .objectives import Objective, _OverBudget

__all__ = ["tune", "best_recipe", "write_study_plots"]

log = logging.getLogger(__name__)


def _trial_seed(seed: int, number: int) -> int:
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(number)]).generate_state(1)[0])


def _sampler(seed: int, started: list | None = None, **tpe_options):
    """A TPE sampler re-seeded per trial from (seed, trial number). Trial numbers are unique across the
    processes sharing a study, so resumed and parallel runs explore new points, while a single-process
    study stays reproducible. ``started`` collects the numbers of the trials this process creates (Optuna calls
    ``before_trial`` as it creates a trial), so a Ctrl-C can fail the ones it leaves RUNNING."""
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
            if started is not None:
                started.append(trial.number)
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


def _open_study(optuna, storage, study_name, seed, pruner, heartbeat_interval, grace_period, max_retry, started):
    """Create or load the study. Several processes starting on one new database race to create its tables; the
    loser sees "table ... already exists" — it retries (the tables are there by then), a few times."""
    import time

    for attempt in range(5):
        try:
            st = _storage(storage, heartbeat_interval, grace_period, max_retry)
            return optuna.create_study(study_name=study_name, storage=st, direction="maximize",
                                       sampler=_sampler(seed, started), pruner=pruner, load_if_exists=True)
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
        n_jobs: worker processes tuning the study at once (as ``n_jobs`` means everywhere in judgenet; each
            runs one trial at a time with ``threads`` math threads). Above 1 the workers share ``storage``
            (an RDB URL; None: a temporary SQLite file, copied into memory at the end) and the objective is
            sent to them pickled (cloudpickle: closures are fine).
        seed: seeds the per-trial samplers (see module docstring); pruner defaults to
            ``MedianPruner(n_startup_trials=5, n_warmup_steps=2)``.
        threads: math-library threads per trial (BLAS/OpenMP and torch) while this process tunes;
            None leaves them alone; with ``n_jobs`` processes the limit holds in each.
        heartbeat_interval, grace_period, max_retry: stale-trial detection for RDB storages (seconds;
            grace defaults to twice the interval): a trial without heartbeat for ``grace_period`` is
            failed and re-queued up to ``max_retry`` times. None disables it.
    """
    import optuna
    from optuna.trial import TrialState

    if n_trials is not None and int(n_trials) < 1:
        raise ConfigError(f"n_trials must be >= 1, got {n_trials}")
    if int(n_jobs) < 1:
        raise ConfigError(f"n_jobs must be >= 1, got {n_jobs}")
    if int(n_jobs) > 1:
        return _tune_in_processes(objective, int(n_jobs), dict(
            n_trials=n_trials, study_name=study_name, storage=storage, timeout=timeout, seed=seed, pruner=pruner,
            progress=progress, threads=threads, heartbeat_interval=heartbeat_interval, grace_period=grace_period,
            max_retry=max_retry))
    url = storage
    pruner = pruner or optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    started: list[int] = []  # trials this process creates (a Ctrl-C between creation and the objective: fail them)
    try:
        study = _open_study(optuna, storage, study_name, seed, pruner, heartbeat_interval, grace_period, max_retry,
                            started)
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
    # Optuna's trial messages reach the handlers of the "optuna" logger (its default handler) or, propagated, the
    # root's: the filter sits on those handlers, which see the records of every optuna.* module.
    quiet = _QuietFailures()
    handlers = [*logging.getLogger("optuna").handlers, *logging.getLogger().handlers]
    for h in handlers:
        h.addFilter(quiet)
    verbosity = optuna.logging.get_verbosity()
    # Optuna's per-trial INFO lines would interleave with the progress bar (and --quiet must silence them):
    # the bar (``progress``) shows the trials and the best value; warnings still come through
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with _set_threads(threads):
            study.optimize(objective, n_trials=remaining, timeout=timeout, callbacks=callbacks,
                           show_progress_bar=progress, gc_after_trial=False, catch=(_OverBudget,))
    except KeyboardInterrupt:
        _fail_running(study, started)
        raise
    finally:
        for h in handlers:
            h.removeFilter(quiet)
        optuna.logging.set_verbosity(verbosity)
    return study


def _tune_in_processes(objective, n_jobs: int, options: dict):
    """:func:`tune` in ``n_jobs`` processes on one storage: this process and ``n_jobs - 1`` loky worker processes, each a
    one-process :func:`tune` (the study total and the per-trial seeds keep them apart). Returns the study."""
    import shutil
    import tempfile

    import optuna
    from loky import get_reusable_executor

    storage, tmp = options["storage"], None
    if storage is None:
        tmp = tempfile.mkdtemp(prefix="judgenet-study-")
        storage = f"sqlite:///{Path(tmp) / 'study.db'}"
    elif not isinstance(storage, str):
        raise ConfigError("n_jobs > 1 needs the storage as an RDB URL string (e.g. sqlite:///path/study.db), "
                          "which every worker process opens")
    options = {**options, "storage": storage}
    try:
        # the tables and the study exist before the workers start (no creation race)
        _open_study(optuna, storage, options["study_name"], options["seed"], None, None, None, 0, None)
        pool = get_reusable_executor(max_workers=n_jobs - 1)  # processes, even for one (joblib's n_jobs=1 is inline)
        others = [pool.submit(tune, objective, **{**options, "progress": False}) for _ in range(n_jobs - 1)]
        tune(objective, **options)
        for f in others:
            f.result()  # a worker's error is raised here
        study = optuna.load_study(study_name=options["study_name"], storage=storage)
        if tmp is None:
            return study
        memory = optuna.storages.InMemoryStorage()
        optuna.copy_study(from_study_name=options["study_name"], from_storage=storage, to_storage=memory)
        return optuna.load_study(study_name=options["study_name"], storage=memory)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _fail_running(study, numbers) -> None:
    """Record as FAIL the trials numbered ``numbers`` still RUNNING after a Ctrl-C (``study.tell``; their numbers in
    the study's user attr ``interrupted_trials``): Optuna fails a trial interrupted inside the objective, but not
    one interrupted between its creation and the objective's first line (seen under load), which would then count
    toward the total of every later run."""
    from optuna.trial import TrialState

    running = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
    failed = [n for n in numbers if n in running]
    for n in failed:
        try:
            study.tell(n, state=TrialState.FAIL)
        except Exception:  # noqa: BLE001 — best effort while exiting on Ctrl-C
            log.warning("could not record interrupted trial %s as failed", n)
    if failed:
        study.set_user_attr("interrupted_trials", sorted({*study.user_attrs.get("interrupted_trials", []), *failed}))


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
    from ..predictors.recipes import Recipe

    return Recipe.from_dict(study.best_trial.user_attrs["recipe"])


def write_study_plots(study, out_dir: str | os.PathLike) -> list[Path]:
    """Write ``optimization_history.png`` and ``param_importances.png`` into ``out_dir`` (atomically); a
    plot that cannot be drawn (e.g. importances need ≥ 2 completed trials) is replaced by a ``.txt`` saying
    why. Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    from ..io import atomic_path, atomic_write_text

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
