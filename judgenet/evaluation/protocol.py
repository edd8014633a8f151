"""Leave-one-generator-out evaluation of predictors against raw-metric baselines.

For every generator g: fit on the items of all *other* generators (optionally also dropping
training items that share a prompt with g's items), predict g's items. Hyperparameters, when a
grid is given, are chosen by an inner leave-one-generator-out search on the training generators
only — the scored generator never reaches training or model selection.

Measures (named exactly, see :mod:`judgenet.stats`) on the pooled held-out predictions: Kendall
tau-b and tau-c, Spearman, Pearson, 2AFC pairwise accuracy (human ties excluded, predicted ties
0.5); each with a percentile bootstrap 95% CI resampling prompts (or items). Also the
system-level Kendall tau-b of per-generator means, per-generator (within-generator) values, and
a paired bootstrap of every model against every baseline.

Baselines are feature columns used directly as scores (``-name`` negates, for distances where
lower is better) and the ``training_mean`` floor (a constant: correlations undefined → NaN,
pairwise accuracy 0.5).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..errors import ConfigError
from ..stats import MEASURES, Estimate, bootstrap_ci, paired_bootstrap, system_level

__all__ = ["evaluate", "EvaluationResults", "logo_folds", "DEFAULT_MEASURES"]

DEFAULT_MEASURES = ("kendall_tau_b", "kendall_tau_c", "spearman", "pearson", "pairwise_accuracy")
COMPARE_MEASURES = ("kendall_tau_b", "pairwise_accuracy")


def logo_folds(generators, prompts=None, group_by_prompt: bool = False):
    """Yield ``(generator, train_idx, test_idx)`` for leave-one-generator-out CV.

    With ``group_by_prompt``, training items whose prompt appears among the held-out generator's
    items are dropped as well.
    """
    gens = np.asarray(generators)
    prompts = None if prompts is None else np.asarray(prompts)
    for g in pd.unique(gens):
        test = gens == g
        train = ~test
        if group_by_prompt:
            if prompts is None:
                raise ConfigError("group_by_prompt=True needs prompts")
            train &= ~np.isin(prompts, np.unique(prompts[test]))
        yield g, np.flatnonzero(train), np.flatnonzero(test)


def _inner_select(est, grid: Mapping, X, y, gens, seed: int):
    from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut
    from sklearn.metrics import make_scorer

    def tau(yt, yp):
        v = MEASURES["kendall_tau_b"](yt, yp)
        return v if np.isfinite(v) else -1.0

    gs = GridSearchCV(clone(est), grid, cv=LeaveOneGroupOut(), scoring=make_scorer(tau), n_jobs=1, refit=True)
    gs.fit(X, y, groups=gens)
    return gs.best_estimator_, gs.best_params_


@dataclass
class EvaluationResults:
    """Everything the held-out-generator protocol produced (JSON round-trippable).

    ``predictions``: DataFrame with ``generator``, ``prompt``, ``y`` and one column per predictor
    (models and baselines) holding held-out scores; ``metrics``: {predictor: {measure: Estimate}};
    ``system``: {predictor: system-level tau-b}; ``per_generator``: tidy DataFrame; ``comparisons``:
    {(model, baseline, measure): difference Estimate}; ``p_not_better`` likewise; ``ceiling``: rater
    ceiling dict passed in; ``models``/``baselines``: names; ``chosen_params``: per model per fold.
    """

    predictions: pd.DataFrame
    metrics: dict
    system: dict
    per_generator: pd.DataFrame
    comparisons: dict
    p_not_better: dict
    models: list
    baselines: list
    ceiling: dict | None = None
    chosen_params: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """Tidy table: predictor, kind (model/baseline), measure, value, low, high."""
        rows = []
        for p, ms in self.metrics.items():
            kind = "model" if p in self.models else "baseline"
            for m, e in ms.items():
                rows.append({"predictor": p, "kind": kind, "measure": m, "value": e.value, "low": e.low,
                             "high": e.high})
            rows.append({"predictor": p, "kind": kind, "measure": "system_kendall_tau_b", "value": self.system[p],
                         "low": np.nan, "high": np.nan})
        return pd.DataFrame(rows)

    def best_model(self, measure: str = "kendall_tau_b") -> str:
        vals = {m: self.metrics[m][measure].value for m in self.models}
        vals = {m: (v if np.isfinite(v) else -np.inf) for m, v in vals.items()}
        return max(vals, key=vals.get)

    def to_dict(self) -> dict:
        return {
            "predictions": self.predictions.to_dict(orient="list"),
            "metrics": {p: {m: e.to_dict() for m, e in ms.items()} for p, ms in self.metrics.items()},
            "system": self.system,
            "per_generator": self.per_generator.to_dict(orient="records"),
            "comparisons": [{"model": a, "baseline": b, "measure": m, **e.to_dict(),
                             "p_not_better": self.p_not_better[(a, b, m)]} for (a, b, m), e in self.comparisons.items()],
            "models": self.models, "baselines": self.baselines, "ceiling": self.ceiling,
            "chosen_params": self.chosen_params, "settings": self.settings,
        }

    def to_json(self, path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(_clean(self.to_dict()), indent=1, default=str))
        return path

    @classmethod
    def from_dict(cls, d: dict) -> "EvaluationResults":
        comps, pnb = {}, {}
        for c in d["comparisons"]:
            key = (c["model"], c["baseline"], c["measure"])
            comps[key] = Estimate(_f(c["value"]), _f(c["low"]), _f(c["high"]), c["n_resamples"], c["confidence"])
            pnb[key] = _f(c["p_not_better"])
        metrics = {p: {m: Estimate(_f(e["value"]), _f(e["low"]), _f(e["high"]), e["n_resamples"], e["confidence"])
                       for m, e in ms.items()} for p, ms in d["metrics"].items()}
        return cls(pd.DataFrame(d["predictions"]), metrics, {k: _f(v) for k, v in d["system"].items()},
                   pd.DataFrame(d["per_generator"]), comps, pnb, d["models"], d["baselines"], d.get("ceiling"),
                   d.get("chosen_params", {}), d.get("settings", {}))

    @classmethod
    def from_json(cls, path) -> "EvaluationResults":
        return cls.from_dict(json.loads(Path(path).read_text()))


def _f(v):
    return float("nan") if v is None else float(v)


def _clean(o):
    if isinstance(o, float) and not np.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, (np.floating,)):
        return _clean(float(o))
    if isinstance(o, np.integer):
        return int(o)
    return o


def evaluate(X, y, generators, feature_names: Sequence[str], models: Mapping, *, baselines=("mid_pmi", "clip_score"),
             prompts=None, group_by_prompt: bool = False, ceiling: Mapping | None = None, n_resamples: int = 1000,
             seed: int = 0, param_grids: Mapping | None = None, measures: Sequence[str] = DEFAULT_MEASURES,
             progress: bool = False) -> EvaluationResults:
    """Run the held-out-generator protocol.

    Args:
        X: (n_items, n_features) float features; ``feature_names`` its columns.
        y: (n_items,) human scores (e.g. mean opinion scores).
        generators: (n_items,) generator per item (≥ 3 distinct).
        models: {name: unfitted sklearn estimator}.
        baselines: feature column names used as scores (``-`` prefix negates); missing ones are skipped.
        prompts: (n_items,) prompt ids — bootstrap unit and, with ``group_by_prompt``, split unit.
        ceiling: rater-agreement ceiling reported next to the results.
        n_resamples: bootstrap resamples (≥ 1,000 for reported numbers).
        param_grids: {model name: sklearn param grid} → nested inner LOGO selection.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    gens = np.asarray(generators).astype(str)
    names = list(feature_names)
    if X.shape != (y.size, len(names)) or gens.size != y.size:
        raise ConfigError(f"shapes disagree: X {X.shape}, y {y.shape}, generators {gens.shape}, "
                          f"{len(names)} feature names")
    if len(np.unique(gens)) < 3:
        raise ConfigError(f"leave-one-generator-out needs at least 3 generators, got {sorted(set(gens))}")
    if not np.isfinite(y).all():
        raise ConfigError("y contains NaN/inf")
    unknown = [m for m in measures if m not in MEASURES]
    if unknown:
        raise ConfigError(f"unknown measures {unknown}; choose from {sorted(MEASURES)}")
    prompts_arr = None if prompts is None else np.asarray(prompts).astype(str)
    preds = pd.DataFrame({"generator": gens, "y": y, "fold": gens})
    if prompts_arr is not None:
        preds["prompt"] = prompts_arr
    chosen: dict = {m: {} for m in models}
    for name in models:
        preds[name] = np.nan
    preds["training_mean"] = np.nan
    for g, tr, te in logo_folds(gens, prompts_arr, group_by_prompt):
        preds.loc[te, "training_mean"] = y[tr].mean()
        for name, est in models.items():
            grid = (param_grids or {}).get(name)
            if grid:
                model, params = _inner_select(est, grid, X[tr], y[tr], gens[tr], seed)
                chosen[name][g] = params
            else:
                model = clone(est).fit(X[tr], y[tr])
            preds.loc[te, name] = model.predict(X[te])
    base_used = []
    for b in baselines:
        col = b.lstrip("-")
        if col not in names:
            continue
        preds[b] = -X[:, names.index(col)] if b.startswith("-") else X[:, names.index(col)]
        base_used.append(b)
    base_used.append("training_mean")
    predictors = list(models) + base_used
    boot_groups = prompts_arr
    metrics, system, per_gen = {}, {}, []
    for k, p in enumerate(predictors):
        s = preds[p].to_numpy()
        metrics[p] = {m: bootstrap_ci(MEASURES[m], y, s, groups=boot_groups, n_resamples=n_resamples,
                                      seed=seed + k) for m in measures}
        system[p] = system_level(y, s, gens, "kendall_tau_b")
        for g in pd.unique(gens):
            idx = gens == g
            row = {"generator": g, "predictor": p, "n": int(idx.sum()), "human_mean": float(y[idx].mean()),
                   "predicted_mean": float(s[idx].mean())}
            for m in ("kendall_tau_b", "pairwise_accuracy"):
                row[m] = float(MEASURES[m](y[idx], s[idx])) if idx.sum() > 1 else float("nan")
            per_gen.append(row)
    comps, pnb = {}, {}
    for a in models:
        for b in base_used:
            if b == "training_mean":
                continue
            for m in COMPARE_MEASURES:
                out = paired_bootstrap(m, y, preds[a].to_numpy(), preds[b].to_numpy(), groups=boot_groups,
                                       n_resamples=n_resamples, seed=seed)
                comps[(a, b, m)] = out["difference"]
                pnb[(a, b, m)] = out["p_not_better"]
    settings = {"n_items": int(y.size), "n_generators": int(len(np.unique(gens))), "n_resamples": n_resamples,
                "seed": seed, "group_by_prompt": group_by_prompt, "bootstrap_unit": "prompt" if prompts_arr is not None
                else "item", "measures": list(measures), "protocol": "leave-one-generator-out",
                "nested": bool(param_grids)}
    return EvaluationResults(preds, metrics, system, pd.DataFrame(per_gen), comps, pnb, list(models), base_used,
                             dict(ceiling) if ceiling else None, chosen, settings)
