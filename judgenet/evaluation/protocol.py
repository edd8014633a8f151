"""Leave-one-generator-out evaluation of predictors against raw-metric baselines.

Protocol
--------
For every generator g (one *fold*): fit each model on the items of all **other** generators and
predict g's items. With ``group_by_prompt=True`` (for data where prompts repeat across
generators), training items that share a prompt with any of g's items are dropped too, so
neither the held-out generator nor its prompts reach training. When a hyperparameter grid is
given, the configuration is chosen by an *inner* leave-one-generator-out search (same prompt
rule) on the training generators only, then refitted on all of them: the scored generator never
reaches training or model selection. Every item gets exactly one out-of-fold prediction.

Measures
--------
On the pooled held-out predictions, each named exactly as in :mod:`judgenet.stats`: Kendall
tau-b and tau-c, Spearman, Pearson, 2AFC pairwise accuracy (human ties excluded, predicted ties
0.5), and ``system_kendall_tau_b`` — Kendall tau-b between per-generator means of human and
predicted scores. Each comes with a seeded percentile bootstrap 95% CI resampling prompts (when
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
constant: its within-generator correlations are undefined (NaN, reported as such) and its
pairwise accuracy is exactly 0.5. Pooled over folds it is *not* constant — holding out a
generator with high scores lowers the training mean — so its pooled correlations are usually
slightly **negative**; that is what "knowing nothing about the items" scores under this
protocol, and it is reported as computed rather than replaced by 0.

The rater ceiling (``labels.rater_ceiling``'s dict) is stored with the results and placed next
to every measure that has a counterpart (:data:`CEILING_KEYS`).
"""
from __future__ import annotations

import contextlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..errors import ConfigError
from ..stats import MEASURES, Estimate, bootstrap_ci, bootstrap_measures, paired_bootstrap

__all__ = ["evaluate", "EvaluationResults", "logo_folds", "inner_splits", "resolve_baselines", "DEFAULT_MEASURES",
           "COMPARE_MEASURES", "DEFAULT_BASELINES", "CEILING_KEYS", "FLOOR", "SYSTEM_MEASURE"]

DEFAULT_MEASURES = ("kendall_tau_b", "kendall_tau_c", "spearman", "pearson", "pairwise_accuracy")
COMPARE_MEASURES = ("kendall_tau_b", "pairwise_accuracy")
SYSTEM_MEASURE = "system_kendall_tau_b"
FLOOR = "training_mean"
DEFAULT_BASELINES = ("mid_pmi", "clip_score", "-realism.tiny.mahalanobis2")
"""Default baselines; ``-realism.tiny.mahalanobis2`` also matches ``-realism.<source>.mahalanobis2``."""
CEILING_KEYS = {"kendall_tau_b": "loo_kendall_tau_b", "kendall_tau_c": "loo_kendall_tau_c",
                "spearman": "loo_spearman", "pairwise_accuracy": "pairwise_agreement"}
"""Measure → key of ``labels.rater_ceiling``'s dict reported next to it. These are human–human
agreements of *one* rater with the others (leave-one-rater-out: one rater vs the mean of the
rest; pairwise: rater vs rater), while predictors are scored against the mean of *all* raters —
a less noisy target — so a predictor can exceed them; read them as "as good as one more rater"."""


# ---------------------------------------------------------------------------------------------
# folds
# ---------------------------------------------------------------------------------------------
def logo_folds(groups, prompts=None, group_by_prompt: bool = False) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield ``(held_out_generator, train_idx, test_idx)`` for leave-one-generator-out CV.

    Args:
        groups: (n_items,) generator of each item; folds come in order of first appearance.
        prompts: (n_items,) prompt of each item; needed for ``group_by_prompt``.
        group_by_prompt: also drop training items whose prompt occurs among the held-out items.
    """
    gens = np.asarray(groups)
    if group_by_prompt and prompts is None:
        raise ConfigError("group_by_prompt=True needs prompts (one prompt id per item)")
    prompts = None if prompts is None else np.asarray(prompts)
    for g in pd.unique(gens):
        test = gens == g
        train = ~test
        if group_by_prompt:
            train &= ~np.isin(prompts, np.unique(prompts[test]))
        yield g, np.flatnonzero(train), np.flatnonzero(test)


def inner_splits(groups, prompts=None, group_by_prompt: bool = False) -> list[tuple[np.ndarray, np.ndarray]]:
    """Inner leave-one-generator-out splits (indices into the arrays given) for model selection,
    with the same prompt rule; splits whose training part would be empty are skipped."""
    out = [(tr, te) for _, tr, te in logo_folds(groups, prompts, group_by_prompt) if tr.size and te.size]
    if not out:
        raise ConfigError("nested model selection needs at least 2 training generators with a non-empty inner "
                          "training set (with group_by_prompt, prompts may cover every item)")
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


def _tau_scorer():
    from sklearn.metrics import make_scorer

    def tau(y_true, y_pred):
        v = _quiet(MEASURES["kendall_tau_b"])(y_true, y_pred)
        return v if np.isfinite(v) else -1.0

    return make_scorer(tau)


def _est(d: Mapping) -> Estimate:
    return Estimate(_f(d["value"]), _f(d["low"]), _f(d["high"]), int(d["n_resamples"]), float(d["confidence"]))


def _f(v):
    return float("nan") if v is None else float(v)


def _clean(o):
    if isinstance(o, (float, np.floating)):
        o = float(o)
        return o if np.isfinite(o) else None
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.ndarray):
        return _clean(o.tolist())
    if isinstance(o, Mapping):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, (str, int, bool)) or o is None:
        return o
    return str(o)


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------
@dataclass
class EvaluationResults:
    """Everything the held-out-generator protocol produced; JSON round-trippable.

    Attributes:
        predictions: DataFrame, one row per item: ``item`` (row index in the inputs),
            ``generator``, ``prompt`` (if given), ``y``, ``fold`` (held-out generator of the fold
            that predicted the item, = its generator), ``fold_index``, then one column per
            predictor (models, baselines, ``training_mean``) with its held-out score.
        metrics: {predictor: {measure: Estimate}} on pooled held-out predictions, measures
            :data:`DEFAULT_MEASURES` (or those asked for) plus ``system_kendall_tau_b``.
        per_generator: tidy DataFrame — generator, predictor, n, human_mean, predicted_mean,
            kendall_tau_b (+ _low/_high), spearman, pairwise_accuracy, within each generator.
        comparisons: {(model, baseline, measure): Estimate of model − baseline} (paired bootstrap).
        p_not_better: same keys; share of resamples where the model does not beat the baseline.
        models, baselines: predictor names (baselines include ``training_mean``).
        ceiling: the rater-ceiling dict passed in (or None).
        folds: one dict per fold — generator, fold_index, n_train, n_test, n_dropped_by_prompt,
            chosen_params {model: params} when nested selection ran.
        settings: protocol, seeds, resamples, bootstrap unit, measures, etc.
    """

    predictions: pd.DataFrame
    metrics: dict
    per_generator: pd.DataFrame
    comparisons: dict
    p_not_better: dict
    models: list
    baselines: list
    ceiling: dict | None = None
    folds: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    # -- views ----------------------------------------------------------------------------------
    @property
    def system(self) -> dict:
        """{predictor: system-level Kendall tau-b of per-generator means}."""
        return {p: ms[SYSTEM_MEASURE].value for p, ms in self.metrics.items() if SYSTEM_MEASURE in ms}

    @property
    def chosen_params(self) -> dict:
        """{model: {held-out generator: chosen params}} (empty without nested selection)."""
        out: dict = {}
        for f in self.folds:
            for m, p in (f.get("chosen_params") or {}).items():
                out.setdefault(m, {})[f["generator"]] = p
        return out

    @property
    def measures(self) -> list[str]:
        return list(next(iter(self.metrics.values())).keys()) if self.metrics else []

    def ceiling_for(self, measure: str) -> tuple[float, float, float]:
        """(value, low, high) of the rater ceiling matching ``measure``; NaNs if none."""
        key = CEILING_KEYS.get(measure)
        c = self.ceiling or {}

        def num(k):
            v = c.get(k)
            return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else float("nan")

        if key is None:
            return float("nan"), float("nan"), float("nan")
        return num(key), num(f"{key}_low"), num(f"{key}_high")

    def table(self) -> pd.DataFrame:
        """Tidy table: predictor, kind (model/baseline/floor), measure, value, low, high,
        n_resamples, and the rater ceiling for that measure (ceiling, ceiling_low, ceiling_high;
        NaN where the labels package has no counterpart)."""
        rows = []
        for p, ms in self.metrics.items():
            kind = "model" if p in self.models else ("floor" if p == FLOOR else "baseline")
            for m, e in ms.items():
                c, cl, ch = self.ceiling_for(m)
                rows.append({"predictor": p, "kind": kind, "measure": m, "value": e.value, "low": e.low,
                             "high": e.high, "n_resamples": e.n_resamples, "ceiling": c, "ceiling_low": cl,
                             "ceiling_high": ch})
        return pd.DataFrame(rows)

    def comparison_table(self) -> pd.DataFrame:
        """model, baseline, measure, difference, low, high, p_not_better, excludes_zero."""
        rows = [{"model": a, "baseline": b, "measure": m, "difference": e.value, "low": e.low, "high": e.high,
                 "p_not_better": self.p_not_better[(a, b, m)],
                 "excludes_zero": bool(np.isfinite(e.low) and (e.low > 0 or e.high < 0))}
                for (a, b, m), e in self.comparisons.items()]
        return pd.DataFrame(rows, columns=["model", "baseline", "measure", "difference", "low", "high",
                                           "p_not_better", "excludes_zero"])

    def best_model(self, measure: str = "kendall_tau_b") -> str:
        """The model with the highest pooled ``measure`` (NaN counts as worst)."""
        vals = {m: self.metrics[m][measure].value for m in self.models}
        vals = {m: (v if np.isfinite(v) else -np.inf) for m, v in vals.items()}
        return max(vals, key=vals.get)

    # -- serialization --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain JSON-ready dict (NaN → None)."""
        return _clean({
            "format": "judgenet-evaluation/1",
            "predictions": self.predictions.to_dict(orient="list"),
            "metrics": {p: {m: e.to_dict() for m, e in ms.items()} for p, ms in self.metrics.items()},
            "per_generator": self.per_generator.to_dict(orient="records"),
            "comparisons": [{"model": a, "baseline": b, "measure": m, **e.to_dict(),
                             "p_not_better": self.p_not_better[(a, b, m)]}
                            for (a, b, m), e in self.comparisons.items()],
            "models": self.models, "baselines": self.baselines, "ceiling": self.ceiling,
            "folds": self.folds, "settings": self.settings,
        })

    def to_json(self, path: str | Path | None = None) -> str:
        """JSON text of :meth:`to_dict`; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_dict(cls, d: Mapping) -> "EvaluationResults":
        comps, pnb = {}, {}
        for c in d["comparisons"]:
            key = (c["model"], c["baseline"], c["measure"])
            comps[key] = _est(c)
            pnb[key] = _f(c["p_not_better"])
        metrics = {p: {m: _est(e) for m, e in ms.items()} for p, ms in d["metrics"].items()}
        preds = pd.DataFrame(d["predictions"])
        for col in [*d["models"], *d["baselines"], "y"]:
            if col in preds:
                preds[col] = pd.to_numeric(preds[col], errors="coerce").astype(np.float64)
        per_gen = pd.DataFrame(d["per_generator"])
        for col in per_gen.columns:
            if col not in ("generator", "predictor"):
                per_gen[col] = pd.to_numeric(per_gen[col], errors="coerce")
        return cls(preds, metrics, per_gen, comps, pnb, list(d["models"]), list(d["baselines"]), d.get("ceiling"),
                   list(d.get("folds", [])), dict(d.get("settings", {})))

    @classmethod
    def from_json(cls, path: str | Path) -> "EvaluationResults":
        return cls.from_dict(json.loads(Path(path).read_text()))


# ---------------------------------------------------------------------------------------------
# the protocol
# ---------------------------------------------------------------------------------------------
def evaluate(X, y, generators=None, feature_names: Sequence[str] = None, models=None, *,
             baselines: Sequence[str] | None = DEFAULT_BASELINES, groups=None,
             prompts=None, group_by_prompt: bool = False, ceiling: Mapping | None = None, n_resamples: int = 1000,
             seed: int = 0, param_grid=None, param_grids=None, measures: Sequence[str] = DEFAULT_MEASURES,
             compare_measures: Sequence[str] = COMPARE_MEASURES, per_generator_ci: bool | Sequence[str] = True,
             per_generator_resamples: int = 200, threads: int | None = None,
             progress: bool = False) -> EvaluationResults:
    """Run the held-out-generator protocol (see the module docstring).

    Args:
        X: (n_items, n_features) float features; ``feature_names`` (n_features,) its columns.
        y: (n_items,) human scores (e.g. mean opinion scores).
        generators: (n_items,) generator of each item (≥ 3 distinct) — the held-out unit
            (``groups=`` is accepted as an alias).
        models: {name: unfitted estimator | zero-argument factory | model name for
            :func:`judgenet.predictors.make_predictor`}, or a sequence of model names.
        baselines: feature columns used as scores (``"-name"`` negates); defaults
            :data:`DEFAULT_BASELINES`. Names not in ``feature_names`` are skipped with a note in
            ``settings["notes"]``. The ``training_mean`` floor is always added.
        prompts: (n_items,) prompt ids — the bootstrap unit, and the split unit with ``group_by_prompt``.
        group_by_prompt: also drop training items sharing a prompt with the held-out generator.
        ceiling: rater-ceiling dict (``judgenet.labels.rater_ceiling``) reported with every result.
        n_resamples: bootstrap resamples (use ≥ 1,000 for reported numbers).
        seed: seeds the bootstrap (and model names' ``random_state``).
        param_grid: nested model selection — an sklearn grid for every model, or {model: grid}
            (keys like ``model__alpha``, see ``judgenet.predictors.default_param_grid``). The inner
            search is leave-one-generator-out over the fold's training generators, scored by
            Kendall tau-b. ``param_grids`` is an alias.
        measures: names in :data:`judgenet.stats.MEASURES`; ``system_kendall_tau_b`` is always added.
        compare_measures: measures of the paired bootstrap model − baseline.
        per_generator_ci: bootstrap CIs of the within-generator tau-b (the report's bars), with
            ``min(n_resamples, per_generator_resamples)`` resamples — one bootstrap per generator ×
            predictor, so by default (True) only for the models and the raw-MID baseline (or the
            first baseline); a list names the predictors; False for none. Never for the floor
            (constant within a generator: NaN).
        threads: None (default) leaves BLAS/OpenMP thread pools alone. An int opts in to that many
            threads while models fit and predict (threadpoolctl; process-global, restored
            afterwards). The per-fold fits are small: on a busy 2-core machine ``threads=1`` made
            HistGradientBoosting ~10× faster (13 folds: 158 s → 17 s).
        progress: tqdm bar over the folds.

    Returns:
        :class:`EvaluationResults`.
    """
    if generators is None:
        generators = groups
    elif groups is not None:
        raise ConfigError("pass the generators once (generators= or its alias groups=), not both")
    if generators is None or feature_names is None or models is None:
        raise ConfigError("evaluate needs generators, feature_names and models")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    gens = np.asarray(generators).astype(str).ravel()
    names = list(feature_names)
    if X.ndim != 2 or X.shape != (y.size, len(names)) or gens.size != y.size:
        raise ConfigError(f"shapes disagree: X {X.shape}, y {y.shape}, groups {gens.shape}, "
                          f"{len(names)} feature names")
    if len(np.unique(gens)) < 3:
        raise ConfigError(f"leave-one-generator-out needs at least 3 generators, got {sorted(set(gens))}")
    if not np.isfinite(y).all():
        raise ConfigError("y contains NaN/inf; drop unlabelled items first")
    measures = list(measures)
    unknown = [m for m in [*measures, *compare_measures] if m not in MEASURES]
    if unknown:
        raise ConfigError(f"unknown measures {unknown}; choose from {sorted(MEASURES)}")
    if int(n_resamples) < 1:
        raise ConfigError(f"n_resamples must be >= 1, got {n_resamples}")
    prompts_arr = None if prompts is None else np.asarray(prompts).astype(str).ravel()
    if prompts_arr is not None and prompts_arr.size != y.size:
        raise ConfigError(f"prompts has {prompts_arr.size} entries for {y.size} items")
    if not isinstance(models, Mapping):
        models = {str(m): str(m) for m in models}
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
    grids = _grids_for(param_grid or param_grids, models)
    unknown = [m for m in grids if m not in models]
    if unknown:
        raise ConfigError(f"param grids for unknown models {unknown}")

    # -- out-of-fold predictions -----------------------------------------------------------------
    preds = pd.DataFrame({"item": np.arange(y.size), "generator": gens})
    if prompts_arr is not None:
        preds["prompt"] = prompts_arr
    preds["y"] = y
    preds["fold"] = ""
    preds["fold_index"] = -1
    out = {m: np.full(y.size, np.nan) for m in models}
    floor = np.full(y.size, np.nan)
    folds = []
    fold_iter = list(logo_folds(gens, prompts_arr, group_by_prompt))
    if progress:
        from tqdm.auto import tqdm

        fold_iter = tqdm(fold_iter, desc="held-out generators")
    scorer = _tau_scorer()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(int(threads)) if threads is not None else contextlib.nullcontext():
        for k, (g, tr, te) in enumerate(fold_iter):
            if tr.size == 0:
                raise ConfigError(f"fold {g!r}: no training items left (with group_by_prompt every prompt of the "
                                  "held-out generator covers all other items)")
            n_dropped = int((gens != g).sum() - tr.size)
            preds.loc[te, "fold"] = g
            preds.loc[te, "fold_index"] = k
            floor[te] = y[tr].mean()
            info = {"fold_index": k, "generator": str(g), "n_train": int(tr.size), "n_test": int(te.size),
                    "n_dropped_by_prompt": n_dropped, "train_generators": sorted(set(gens[tr]))}
            chosen = {}
            for name, spec in models.items():
                est = _as_estimator(name, spec, seed)
                if name in grids:
                    from sklearn.model_selection import GridSearchCV

                    cv = inner_splits(gens[tr], None if prompts_arr is None else prompts_arr[tr], group_by_prompt)
                    gs = GridSearchCV(est, grids[name], cv=cv, scoring=scorer, n_jobs=1, refit=True,
                                      error_score="raise")
                    gs.fit(X[tr], y[tr])
                    model = gs.best_estimator_
                    chosen[name] = {"params": _clean(gs.best_params_), "inner_kendall_tau_b": float(gs.best_score_)}
                else:
                    model = est.fit(X[tr], y[tr])
                p = np.asarray(model.predict(X[te]), dtype=np.float64).ravel()
                if p.shape != te.shape or not np.isfinite(p).all():
                    raise ConfigError(f"model {name!r} returned {p.shape} predictions with non-finite values on fold "
                                      f"{g!r}; expected {te.shape} finite floats")
                out[name][te] = p
            if chosen:
                info["chosen_params"] = chosen
            folds.append(info)
    for name in models:
        preds[name] = out[name]
    base_names = []
    for label, i, sign in base:
        preds[label] = sign * X[:, i]
        base_names.append(label)
    preds[FLOOR] = floor
    base_names.append(FLOOR)
    predictors = list(models) + base_names

    # -- measures with bootstrap CIs --------------------------------------------------------------
    unit = prompts_arr
    metrics = {}
    for p in predictors:
        s = preds[p].to_numpy()
        metrics[p] = bootstrap_measures(y, s, list(measures) + [SYSTEM_MEASURE], systems=gens, groups=unit,
                                        n_resamples=n_resamples, seed=seed)
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
    settings = {"protocol": "leave-one-generator-out" + (" + prompt-grouped" if group_by_prompt else ""),
                "nested": bool(grids), "inner_selection": "leave-one-generator-out, Kendall tau-b" if grids else None,
                "n_items": int(y.size), "n_generators": int(len(np.unique(gens))),
                "n_prompts": None if prompts_arr is None else int(len(np.unique(prompts_arr))),
                "n_resamples": int(n_resamples), "confidence": 0.95,
                "per_generator_resamples": n_pg if per_generator_ci else 0, "seed": int(seed),
                "group_by_prompt": bool(group_by_prompt),
                "bootstrap_unit": "prompt" if prompts_arr is not None else "item",
                "measures": measures + [SYSTEM_MEASURE], "compare_measures": list(compare_measures),
                "tie_policy": "pairwise_accuracy: human-tied pairs excluded, predicted ties count 0.5",
                "param_grids": _clean(grids), "threads": threads,
                "baseline_specs": None if baselines is None else list(baselines),
                "notes": notes}
    return EvaluationResults(preds, metrics, pd.DataFrame(per_gen), comps, pnb, list(models), base_names,
                             dict(ceiling) if ceiling else None, folds, settings)
