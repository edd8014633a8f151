"""Held-out evaluation of predictors against raw-metric baselines.

Splits (:func:`make_folds`, the one fold maker of the package)
--------------------------------------------------------------
* ``split="generator"`` — leave one generator out. When generators share prompts (the built-in
  world, most benchmarks), training still contains the held-out generator's *prompts* rendered by
  other generators, with their human labels: it models **a new generator on prompts with human
  labels from other generators**.
* ``split="prompt"`` — leave one prompt fold out (all generators): new prompts, known generators.
* ``split="crossed"`` — hold out generator g **and** prompt fold f; train on the other generators
  x the other prompt folds, predict g x f. It models **a new generator on new prompts** — the case
  of scoring a new generator on a user's own prompts.

For every fold, each model is fitted on the training part and predicts the test part; every item
gets exactly one out-of-fold prediction. When a hyperparameter grid is given, the configuration is
chosen by an *inner* run of the same split over the training part only (scored by the pooled inner
out-of-fold Kendall tau-b), then refitted on the whole training part: no held-out generator or
held-out prompt reaches training or model selection. Estimators (or Pipeline steps) that request ``generators=``
and ``prompts=`` through scikit-learn's metadata routing receive those of the training part (for their own inner
splits). Folds can run in parallel processes
(``n_jobs``) with identical results.

Measures
--------
On the pooled held-out predictions, each named exactly as in :mod:`judgenet.stats`: Kendall
tau-b and tau-c, Spearman, Pearson, 2AFC pairwise accuracy (human ties excluded, predicted ties
0.5), ``system_kendall_tau_b`` — Kendall tau-b between per-generator means of human and
predicted scores — and ``within_generator_kendall_tau_b``, the mean over generators of the tau-b
inside each generator (ranking one generator's images; paired with every baseline too). Each comes with a seeded percentile bootstrap 95% CI resampling prompts (when
``prompts`` are given; all items of a prompt enter or leave together) or items. All predictors
use the same resamples. Within-generator values (and a CI for tau-b) are in ``per_generator``.
Every model is compared with every feature baseline by a paired bootstrap (same resamples for
both), giving the difference, its CI and the share of resamples where the model is not better
(not with the floor, whose pooled value is an artifact, see below).

Baselines
---------
Evaluated on the same items and folds: feature columns used directly as scores (``"-name"``
negates, for distances where lower is better), e.g. ``mid_pmi`` (raw per-sample MID),
``clip_score`` and ``-realism.<source>.mahalanobis2``; and the ``training_mean`` floor, which
predicts the mean human score of the fold's training items. Within a generator the floor is
constant under the generator split: its within-generator correlations are undefined (NaN,
reported as such) and its pairwise accuracy is exactly 0.5. Pooled over folds it is *not*
constant — holding out a generator with high scores lowers the training mean — so its pooled
correlations are usually slightly **negative**; that is what "knowing nothing about the items"
scores under this protocol, and it is reported as computed rather than replaced by 0.

The rater ceiling (``labels.rater_ceiling``'s dict) is stored with the results and placed next
to every measure that has a counterpart (:data:`CEILING_KEYS`).
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..config import usable_cpus
from ..errors import ConfigError
from ..folds import SPLIT_TITLES, SPLITS, Fold, make_folds, prompt_fold_ids  # noqa: F401 (re-exported)
from ..io import to_jsonable as _clean
from ..stats import (
    MEASURES,
    Estimate,
    _percentile,
    bootstrap_ci,
    bootstrap_measures,
    paired_bootstrap,
    resample_weight_blocks,
    weighted_measures,
)
from .results import CEILING_KEYS, FLOOR, SYSTEM_MEASURE, WITHIN_MEASURE, EvaluationResults

__all__ = ["evaluate", "EvaluationResults", "make_folds", "Fold", "prompt_fold_ids", "SPLITS", "resolve_baselines",
           "DEFAULT_MEASURES", "WITHIN_MEASURE", "COMPARE_MEASURES", "DEFAULT_BASELINES", "CEILING_KEYS", "FLOOR",
           "SYSTEM_MEASURE"]

DEFAULT_MEASURES = ("kendall_tau_b", "kendall_tau_c", "spearman", "pearson", "pairwise_accuracy")
COMPARE_MEASURES = ("kendall_tau_b", "pairwise_accuracy")
DEFAULT_BASELINES = ("mid_pmi", "clip_score", "-realism.tiny.mahalanobis2")
"""Default baselines; ``-realism.tiny.mahalanobis2`` also matches ``-realism.<source>.mahalanobis2``."""



def _inner_folds(gens, prompts, split: str, n_prompt_folds: int, seed: int) -> list[Fold]:
    """Folds for model selection inside a training part: the same split, the prompt-fold count
    capped at the number of training prompts; folds with an empty training part are skipped."""
    k = n_prompt_folds
    if split != "generator":
        k = min(int(n_prompt_folds), len(np.unique(np.asarray(prompts).astype(str))))
    out = [f for f in make_folds(gens, prompts, split=split, n_prompt_folds=max(k, 2), seed=seed)
           if f.train.size]
    if len(out) < 2:
        raise ConfigError("nested model selection needs at least 2 inner folds with training items "
                          f"(split={split!r}); use fewer prompt folds or more generators/prompts")
    return out


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _quiet(fn: Callable) -> Callable:
    """Measure wrapper: constant inputs give NaN silently (the NaN is the honest answer)."""

    def wrapped(*a):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*a)

    return wrapped


def resolve_baselines(baselines, feature_names: Sequence[str],
                      notes: list | None = None) -> list[tuple[str, int, float]]:
    """Map baseline specs to ``(label, column index, sign)``.

    ``"name"`` uses the column as is, ``"-name"`` negates it. A spec that matches no column is
    skipped and a note saying so is appended to ``notes`` (and warned). With ``baselines=None``
    the :data:`DEFAULT_BASELINES` are used; a default that does not match exactly also matches
    columns ending in the same last component (``-realism.tiny.mahalanobis2`` matches
    ``realism.clip.mahalanobis2`` when the tiny backbone is absent).
    """
    names = list(feature_names)
    out, seen = [], set()
    defaults = baselines is None or tuple(baselines) == tuple(DEFAULT_BASELINES)
    for spec in (DEFAULT_BASELINES if baselines is None else baselines):
        sign = -1.0 if spec.startswith("-") else 1.0
        col = spec.lstrip("-")
        if col == FLOOR:
            continue
        hits = []
        if col in names:
            hits = [(spec, names.index(col))]
        elif defaults:
            last = col.rsplit(".", 1)[-1]
            hits = [(("-" if sign < 0 else "") + n, i) for i, n in enumerate(names)
                    if n == last or n.endswith("." + last)]
        if not hits:
            msg = (f"baseline {spec!r} skipped: no feature column {col!r} (available: "
                   f"{', '.join(names[:20])}{' ...' if len(names) > 20 else ''})")
            warnings.warn(msg, stacklevel=3)
            if notes is not None:
                notes.append(msg)
            continue
        for label, i in hits:
            if label not in seen:
                seen.add(label)
                out.append((label, i, sign))
    return out


def _as_estimator(name: str, spec, seed: int):
    if isinstance(spec, str):
        from ..predictors import make_predictor

        return make_predictor(spec, random_state=seed)
    if hasattr(spec, "fit") and hasattr(spec, "get_params") and not isinstance(spec, type):
        return clone(spec)
    if callable(spec):
        est = spec()
        if not hasattr(est, "fit"):
            raise ConfigError(f"model {name!r}: the factory returned {type(est).__name__}, not an estimator")
        return est
    raise ConfigError(f"model {name!r}: expected an sklearn estimator, a factory or a model name, got {spec!r}")


def _grids_for(param_grid, models: Mapping) -> dict:
    if not param_grid:
        return {}
    if isinstance(param_grid, Mapping) and set(param_grid) <= set(models):
        return {k: v for k, v in param_grid.items() if v}
    return {m: param_grid for m in models}  # one grid for every model


# ---------------------------------------------------------------------------------------------
# the protocol
# ---------------------------------------------------------------------------------------------
def _within_generator(y, scores: Mapping[str, np.ndarray], gens, unit, n_resamples: int, seed: int,
                      confidence: float = 0.95):
    """{predictor: (value, (B,) bootstrap values)} of :data:`WITHIN_MEASURE` — all predictors on the
    same resamples (the prompt bootstrap of the pooled measures), so differences are paired."""
    tau = _quiet(MEASURES["kendall_tau_b"])
    groups = [idx for g in pd.unique(gens) if (idx := np.flatnonzero(gens == g)).size >= 2]
    boots = {p: [[] for _ in groups] for p in scores}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for W in resample_weight_blocks(y.size, unit, n_resamples, seed):  # bounded memory at any n
            for k, idx in enumerate(groups):
                Wg, yg = W[:, idx], y[idx]
                for p, s in scores.items():
                    boots[p][k].append(weighted_measures(["kendall_tau_b"], yg, s[idx], Wg)["kendall_tau_b"])
        out = {}
        for p, s in scores.items():
            if not groups:
                out[p] = (float("nan"), np.full(n_resamples, np.nan))
                continue
            vals = [tau(y[idx], s[idx]) for idx in groups]
            out[p] = (float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan"),
                      np.nanmean(np.vstack([np.concatenate(b) for b in boots[p]]), axis=0))
    return out


def _fit(est, X, y, gens, prompts):
    """``est.fit(X, y)``; estimators (or Pipeline steps) that request ``generators=``/``prompts=`` through
    scikit-learn's metadata routing (e.g. :class:`judgenet.predictors.anchored.AnchoredRegressor`) also get the
    training part's (:func:`~judgenet.predictors.anchored.fit_routed`)."""
    from ..predictors.anchored import fit_routed

    return fit_routed(est, X, y, generators=gens, prompts=prompts)


def _fit_predict(est, Xtr, ytr, Xte, gens=None, prompts=None):
    model = _fit(est, Xtr, ytr, gens, prompts)
    return np.asarray(model.predict(Xte), dtype=np.float64).ravel()


def _select(est, grid, X, y, gens, prompts, split, n_prompt_folds, seed):
    """Nested model selection on one training part: for every grid point, pooled out-of-fold
    predictions over the inner folds (same split) scored by Kendall tau-b; ties keep the first point.
    Returns (refitted best estimator, chosen params, inner tau-b)."""
    from sklearn.model_selection import ParameterGrid

    inner = _inner_folds(gens, prompts, split, n_prompt_folds, seed)
    covered = np.zeros(y.size, bool)
    for f in inner:
        covered[f.test] = True
    best, best_params, best_tau = None, None, -np.inf
    for params in ParameterGrid(grid):
        pred = np.full(y.size, np.nan)
        for f in inner:
            pred[f.test] = _fit_predict(clone(est).set_params(**params), X[f.train], y[f.train], X[f.test],
                                        gens[f.train], None if prompts is None else prompts[f.train])
        tau = _quiet(MEASURES["kendall_tau_b"])(y[covered], pred[covered])
        tau = float(tau) if np.isfinite(tau) else -1.0
        if tau > best_tau:
            best, best_params, best_tau = params, params, tau
    model = _fit(clone(est).set_params(**best), X, y, gens, prompts)
    return model, best_params, best_tau


def _run_fold(k: int, fold: Fold, X, y, gens, prompts, models: Mapping, grids: Mapping, split: str,
              n_prompt_folds: int, seed: int, threads: int | None):
    """Fit every model on one outer fold's training part, predict its test part.
    Returns ``(k, {model: predictions}, info)``. Runs in the parent or a loky worker."""
    from threadpoolctl import threadpool_limits

    tr, te = fold.train, fold.test
    if tr.size == 0:
        raise ConfigError(f"fold {fold.name!r}: no training items left")
    info = {"fold_index": k, "name": fold.name, "generator": fold.held_generator,
            "prompt_fold": fold.held_prompt_fold, "n_train": int(tr.size), "n_test": int(te.size),
            "n_unused": int(y.size - tr.size - te.size), "train_generators": sorted(set(gens[tr]))}
    out, chosen = {}, {}
    with threadpool_limits(int(threads)) if threads is not None else contextlib.nullcontext():
        for name, spec in models.items():
            est = _as_estimator(name, spec, seed)
            if name in grids:
                model, params, tau = _select(est, grids[name], X[tr], y[tr], gens[tr],
                                             None if prompts is None else prompts[tr], split, n_prompt_folds, seed)
                chosen[name] = {"params": _clean(params), "inner_kendall_tau_b": tau}
                p = np.asarray(model.predict(X[te]), dtype=np.float64).ravel()
            else:
                p = _fit_predict(est, X[tr], y[tr], X[te], gens[tr], None if prompts is None else prompts[tr])
            if p.shape != te.shape or not np.isfinite(p).all():
                raise ConfigError(f"model {name!r} returned {p.shape} predictions with non-finite values on fold "
                                  f"{fold.name!r}; expected {te.shape} finite floats")
            out[name] = p
    if chosen:
        info["chosen_params"] = chosen
    return k, out, info


def evaluate(X, y, generators=None, feature_names: Sequence[str] = None, models=None, *,
             prompts=None, split: str = "generator", n_prompt_folds: int = 5,
             baselines: Sequence[str] | None = DEFAULT_BASELINES, ceiling: Mapping | None = None,
             n_resamples: int = 1000, seed: int = 0, param_grid=None, measures: Sequence[str] = DEFAULT_MEASURES,
             compare_measures: Sequence[str] = COMPARE_MEASURES, per_generator_ci: bool | Sequence[str] = True,
             per_generator_resamples: int = 200, n_jobs: int = 1, threads: int | None = None,
             center_folds: bool = False, progress: bool = False) -> EvaluationResults:
    """Run the held-out protocol (see the module docstring).

    Args:
        X: (n_items, n_features) float features; ``feature_names`` (n_features,) its columns.
        y: (n_items,) human scores (e.g. mean opinion scores).
        generators: (n_items,) generator of each item (>= 3 distinct).
        models: {name: unfitted estimator | zero-argument factory | model name for
            :func:`judgenet.predictors.make_predictor`}, or a sequence of model names.
        prompts: (n_items,) prompt ids — the bootstrap unit, and the split unit for ``split="prompt"``
            / ``"crossed"``.
        split: ``"generator"`` | ``"prompt"`` | ``"crossed"`` (see :func:`make_folds`); nested
            selection uses the same split inside each training part.
        n_prompt_folds: prompt folds for the prompt/crossed splits.
        baselines: feature columns used as scores (``"-name"`` negates); defaults
            :data:`DEFAULT_BASELINES`. Names not in ``feature_names`` are skipped with a note in
            ``settings["notes"]``. The ``training_mean`` floor is always added.
        ceiling: rater-ceiling dict (``judgenet.labels.rater_ceiling``) reported with every result.
        n_resamples: bootstrap resamples (use >= 1,000 for reported numbers).
        seed: seeds the bootstrap, the prompt folds and model names' ``random_state``.
        param_grid: nested model selection — an sklearn grid for every model, or {model: grid}
            (keys like ``model__alpha``). The inner search runs the same split over the fold's
            training part and scores each grid point by the pooled inner out-of-fold Kendall tau-b.
        measures: names in :data:`judgenet.stats.MEASURES`; ``system_kendall_tau_b`` is always added.
        compare_measures: measures of the paired bootstrap model − baseline.
        per_generator_ci: bootstrap CIs of the within-generator tau-b (True: the models and the
            raw-MID baseline, or the first baseline; a list names the predictors; False for none).
        n_jobs: outer folds fitted in this many loky worker processes (1: in this process). Each
            worker limits its BLAS/OpenMP pools to ``threads`` (default: cores // n_jobs, at least 1);
            results are identical to ``n_jobs=1`` with the same ``threads``.
        threads: None leaves BLAS/OpenMP pools alone when ``n_jobs=1``; an int limits them while models
            fit and predict and while the bootstrap runs (threadpoolctl). Pass 1 on a shared machine.
        center_folds: subtract each fold's training-label mean from the models' held-out predictions. A
            refitted model's level follows its training set, and under held-out splits that level is
            *anti*-correlated with the held-out labels (holding out a good generator lowers the training
            mean): the ``training_mean`` floor scores pooled tau-b -0.43 on the built-in world's crossed
            realism split. A model fitted once for deployment has no such per-fold offset; centring removes
            it from the comparison (raw baselines are never refitted and stay as they are). Measured there:
            hist_gb realism crossed 0.078 -> 0.120 tau-b (vs raw MID 0.135). Default off; the report says
            when it is on.
        progress: tqdm bar over the folds.

    Returns:
        :class:`EvaluationResults`.
    """
    if generators is None or feature_names is None or models is None:
        raise ConfigError("evaluate needs generators, feature_names and models")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    gens = np.asarray(generators).astype(str).ravel()
    names = list(feature_names)
    if X.ndim != 2 or X.shape != (y.size, len(names)) or gens.size != y.size:
        raise ConfigError(f"shapes disagree: X {X.shape}, y {y.shape}, generators {gens.shape}, "
                          f"{len(names)} feature names")
    if split != "prompt" and len(np.unique(gens)) < 3:
        raise ConfigError(f"held-out-generator evaluation needs at least 3 generators, got "
                          f"{', '.join(sorted(map(str, set(gens.tolist()))))}; with fewer use --split prompt (held-out "
                          "prompts) or --group-by prompt")
    if not np.isfinite(y).all():
        raise ConfigError("y contains NaN/inf; drop unlabelled items first")
    measures = list(measures)
    unknown = [m for m in [*measures, *compare_measures] if m not in MEASURES]
    if unknown:
        raise ConfigError(f"unknown measures {unknown}; choose from {sorted(MEASURES)}")
    if int(n_resamples) < 1:
        raise ConfigError(f"n_resamples must be >= 1, got {n_resamples}")
    n_jobs = 1 if n_jobs is None else n_jobs
    if int(n_jobs) < 1:
        raise ConfigError(f"n_jobs must be >= 1, got {n_jobs}")
    prompts_arr = None if prompts is None else np.asarray(prompts).astype(str).ravel()
    if prompts_arr is not None and prompts_arr.size != y.size:
        raise ConfigError(f"prompts has {prompts_arr.size} entries for {y.size} items")
    fold_list = make_folds(gens, prompts_arr, split=split, n_prompt_folds=n_prompt_folds, seed=seed)
    if not isinstance(models, Mapping):
        models = {str(m): str(m) for m in models}
    if any(isinstance(spec, str) for spec in models.values()):  # model names: built here, knowing the columns
        from ..predictors.recipes import Recipe

        models = {m: Recipe(spec).build(seed, feature_names=names) if isinstance(spec, str) else spec
                  for m, spec in models.items()}
    if not models:
        raise ConfigError("no models to evaluate")
    clash = [m for m in models if m in names or m in (FLOOR, "y", "generator", "prompt", "fold", "item")]
    notes: list[str] = []
    base = resolve_baselines(baselines, names, notes)
    clash += [m for m in models if m in {b for b, _, _ in base}]
    if clash:
        raise ConfigError(f"model names {clash} clash with baseline/column names; rename them")
    for label, i, _ in base:
        if not np.isfinite(X[:, i]).all():
            raise ConfigError(f"baseline column {label!r} has NaN/inf values")
    grids = _grids_for(param_grid, models)
    unknown = [m for m in grids if m not in models]
    if unknown:
        raise ConfigError(f"param grids for unknown models {unknown}")

    # -- out-of-fold predictions -----------------------------------------------------------------
    preds = pd.DataFrame({"item": np.arange(y.size), "generator": gens})
    if prompts_arr is not None:
        preds["prompt"] = prompts_arr
    preds["y"] = y
    out = {m: np.full(y.size, np.nan) for m in models}
    floor = np.full(y.size, np.nan)
    fold_name = np.empty(y.size, dtype=object)
    fold_index = np.full(y.size, -1)
    args = (X, y, gens, prompts_arr, models, grids, split, int(n_prompt_folds), seed)
    if int(n_jobs) == 1:
        it = (_run_fold(k, f, *args, threads) for k, f in enumerate(fold_list))
    else:
        from joblib import Parallel, delayed

        per = threads if threads is not None else max(1, usable_cpus() // int(n_jobs))
        it = Parallel(n_jobs=int(n_jobs), backend="loky", return_as="generator")(
            delayed(_run_fold)(k, f, *args, per) for k, f in enumerate(fold_list))
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, total=len(fold_list), desc=f"{split} folds")
    infos = []
    for k, p, info in it:
        te = fold_list[k].test
        for name in models:
            out[name][te] = p[name]
        floor[te] = y[fold_list[k].train].mean()
        fold_name[te] = fold_list[k].name
        fold_index[te] = k
        infos.append(info)
    folds = sorted(infos, key=lambda d: d["fold_index"])
    if center_folds:
        for name in models:
            out[name] = out[name] - floor
    preds["fold"] = fold_name.astype(str)
    preds["fold_index"] = fold_index
    for name in models:
        preds[name] = out[name]
    base_names = []
    for label, i, sign in base:
        preds[label] = sign * X[:, i]
        base_names.append(label)
    preds[FLOOR] = floor
    base_names.append(FLOOR)
    predictors = list(models) + base_names

    # -- measures with bootstrap CIs (under the same thread limit: on a busy machine multi-threaded BLAS in the
    # bootstrap stalled one evaluation from ~13 s to 385 s at load 11 on 2 cores) ---------------------------
    from threadpoolctl import threadpool_limits

    with threadpool_limits(int(threads)) if threads is not None else contextlib.nullcontext():
        return _measure(preds, y, gens, prompts_arr, models, base_names, predictors, measures, compare_measures,
                        per_generator_ci, per_generator_resamples, n_resamples, seed, split, n_prompt_folds,
                        fold_list, grids, threads, n_jobs, baselines, notes, ceiling, folds, center_folds)


def _measure(preds, y, gens, prompts_arr, models, base_names, predictors, measures, compare_measures,
             per_generator_ci, per_generator_resamples, n_resamples, seed, split, n_prompt_folds, fold_list, grids,
             threads, n_jobs, baselines, notes, ceiling, folds, center_folds=False) -> EvaluationResults:
    unit = prompts_arr
    metrics = {}
    for p in predictors:
        s = preds[p].to_numpy()
        metrics[p] = bootstrap_measures(y, s, list(measures) + [SYSTEM_MEASURE], systems=gens, groups=unit,
                                        n_resamples=n_resamples, seed=seed)
    within = _within_generator(y, {p: preds[p].to_numpy() for p in predictors}, gens, unit, int(n_resamples), seed)
    for p, (v, boots) in within.items():
        metrics[p][WITHIN_MEASURE] = Estimate(v, *_percentile(boots, 0.95), int(n_resamples), 0.95)
    per_gen = []
    n_pg = int(min(n_resamples, per_generator_resamples))
    if per_generator_ci is True:
        mid = [b for b in base_names if b.lstrip("-").split(".")[-1].startswith("mid")]
        ci_for = set(models) | set(mid[:1] or base_names[:1]) - {FLOOR}
    else:
        ci_for = set(per_generator_ci or ()) - {FLOOR}
    for p in predictors:
        s = preds[p].to_numpy()
        for g in pd.unique(gens):
            idx = np.flatnonzero(gens == g)
            row = {"generator": g, "predictor": p, "n": int(idx.size), "human_mean": float(y[idx].mean()),
                   "predicted_mean": float(s[idx].mean())}
            if idx.size > 1:
                if p in ci_for:
                    e = bootstrap_ci("kendall_tau_b", y[idx], s[idx], groups=None if unit is None else unit[idx],
                                     n_resamples=n_pg, seed=seed)
                    row.update(kendall_tau_b=e.value, kendall_tau_b_low=e.low, kendall_tau_b_high=e.high)
                else:
                    row["kendall_tau_b"] = _quiet(MEASURES["kendall_tau_b"])(y[idx], s[idx])
                row["spearman"] = _quiet(MEASURES["spearman"])(y[idx], s[idx])
                row["pairwise_accuracy"] = _quiet(MEASURES["pairwise_accuracy"])(y[idx], s[idx])
            per_gen.append(row)
    comps, pnb = {}, {}
    for a in models:
        for b in base_names:
            if b == FLOOR:  # its pooled value is the leave-one-out shift, not a reference level
                continue
            for m in compare_measures:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    r = paired_bootstrap(m, y, preds[a].to_numpy(), preds[b].to_numpy(), groups=unit,
                                         n_resamples=n_resamples, seed=seed)
                comps[(a, b, m)] = r["difference"]
                pnb[(a, b, m)] = r["p_not_better"]
            diff = within[a][1] - within[b][1]
            fin = diff[np.isfinite(diff)]
            comps[(a, b, WITHIN_MEASURE)] = Estimate(within[a][0] - within[b][0], *_percentile(diff, 0.95),
                                                     int(n_resamples), 0.95)
            pnb[(a, b, WITHIN_MEASURE)] = float(np.mean(fin <= 0)) if fin.size else float("nan")
    settings = {"protocol": SPLIT_TITLES[split], "split": split, "models_case": SPLITS[split],
                "n_prompt_folds": int(n_prompt_folds) if split != "generator" else None,
                "n_folds": len(fold_list),
                "nested": bool(grids), "inner_selection": (f"{SPLIT_TITLES[split]} inside the training part, pooled "
                                                           "Kendall tau-b") if grids else None,
                "n_items": int(y.size), "n_generators": int(len(np.unique(gens))),
                "n_prompts": None if prompts_arr is None else int(len(np.unique(prompts_arr))),
                "n_resamples": int(n_resamples), "confidence": 0.95,
                "per_generator_resamples": n_pg if per_generator_ci else 0, "seed": int(seed),
                "bootstrap_unit": "prompt" if prompts_arr is not None else "item",
                "measures": measures + [SYSTEM_MEASURE, WITHIN_MEASURE],
                "compare_measures": list(compare_measures) + [WITHIN_MEASURE],
                "tie_policy": "pairwise_accuracy: human-tied pairs excluded, predicted ties count 0.5",
                "param_grids": _clean(grids), "threads": threads, "n_jobs": int(n_jobs),
                "center_folds": bool(center_folds),
                "baseline_specs": None if baselines is None else list(baselines),
                "notes": notes}
    return EvaluationResults(predictions=preds, metrics=metrics, per_generator=pd.DataFrame(per_gen), comparisons=comps,
                             p_not_better=pnb, models=list(models), baselines=base_names,
                             ceiling=dict(ceiling) if ceiling else None, folds=folds, settings=settings)
