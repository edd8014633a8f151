"""Label-efficiency curves: held-out agreement as a function of the human judgments spent.

Two questions:

1. **How many judgments until a learned predictor beats raw MID?** (:func:`label_efficiency`)
   For each outer fold of :func:`judgenet.evaluation.make_folds` (held-out generator, or generator ×
   prompt fold on the crossed split) and each budget B (in judgments), a training subset is drawn
   from the fold's *training part only*, by whole prompt clusters in random order (a label campaign
   rates all renderings of a prompt together; the last cluster is cut at random to hit the budget),
   with ``B // judgments_per_item`` items. The model fitted on it predicts the fold's test items;
   pooled out-of-fold predictions are scored (Kendall tau-b, 2AFC) against the human scores. This is
   repeated ``n_repeats`` times with different draws; the point value is the mean over repeats, the
   95% CI a prompt-cluster bootstrap of that mean (the same resamples for every budget, baseline and
   repeat, so differences are paired). Raw baselines (feature columns, e.g. ``mid_pmi``) need no
   training: horizontal lines. A budget covering a fold's whole training part is fitted once and reused
   for every repeat and larger budget (estimators are taken to be deterministic given their
   ``random_state``). The answer is the smallest budget from which on the model − MID
   tau-b difference has a CI above zero.
2. **How fast does a new generator get learned?** (:func:`new_generator_curve`) For each generator,
   a model trained on all other generators plus k labelled items of the new one (k = 0, 5, 10, …)
   predicts the new generator's remaining items: within-generator tau-b and the error of the
   generator's mean score (also after shifting predictions by the k items' mean residual).

Everything is float64; repeats and bootstrap are seeded.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..errors import ConfigError
from ..predictors.anchored import fit_routed
from ..stats import MEASURES, resample_weights, weighted_measures

__all__ = ["subsample_by_prompt", "budget_subsets", "label_efficiency", "EfficiencyCurve", "new_generator_curve",
           "DEFAULT_BUDGETS", "DEFAULT_KS"]

log = logging.getLogger(__name__)

DEFAULT_BUDGETS = (50, 100, 200, 400, 800, 1600, 3200)
DEFAULT_KS = (0, 5, 10, 25, 50)
_MEASURES = ("kendall_tau_b", "pairwise_accuracy")


def subsample_by_prompt(pool: np.ndarray, prompts: np.ndarray, n_items: int, rng: np.random.Generator) -> np.ndarray:
    """``n_items`` indices from ``pool`` (int array of candidate rows), taking whole prompt clusters
    in random order; the last cluster is cut to a random subset. Sorted int64 array."""
    pool = np.asarray(pool, dtype=np.int64)
    n_items = int(min(n_items, pool.size))
    if n_items <= 0:
        return np.empty(0, dtype=np.int64)
    p = np.asarray(prompts)[pool]
    clusters = pd.unique(p)
    out, have = [], 0
    for c in rng.permutation(clusters):
        members = pool[p == c]
        take = min(members.size, n_items - have)
        out.append(members if take == members.size else rng.choice(members, size=take, replace=False))
        have += take
        if have >= n_items:
            break
    return np.sort(np.concatenate(out))


def budget_subsets(folds, prompts, budgets: Sequence[int], *, judgments_per_item: int = 1, n_repeats: int = 3,
                   seed: int = 0) -> Iterator[tuple[int, int, int, np.ndarray]]:
    """Yield ``(repeat, budget, fold_index, train_subset)`` — the exact training rows
    :func:`label_efficiency` fits on. Subsets are drawn from ``fold.train`` only; a budget larger
    than the fold's training part takes all of it."""
    prompts = np.asarray(prompts)
    for r in range(int(n_repeats)):
        for b in budgets:
            n_items = int(b) // int(judgments_per_item)
            for k, f in enumerate(folds):
                rng = np.random.default_rng([int(seed), r, int(b), k])
                yield r, int(b), k, subsample_by_prompt(f.train, prompts, n_items, rng)


@dataclass
class EfficiencyCurve:
    """Result of :func:`label_efficiency`.

    Attributes:
        table: one row per (budget, predictor, measure) — ``budget`` (judgments), ``n_items``
            (mean training items per fold), ``predictor``, ``measure``, ``value`` (mean over
            repeats), ``low``/``high`` (95% CI), ``repeat_sd``; for models also ``diff_vs_<ref>``,
            its ``_low``/``_high`` and ``excludes_zero`` (model − reference baseline, paired).
        baselines: predictor, measure, value, low, high of the raw baselines (no training).
        ceiling: the rater-ceiling dict (or None).
        settings: split, repeats, resamples, judgments per item, reference baseline, notes.
    """

    table: pd.DataFrame
    baselines: pd.DataFrame
    ceiling: dict | None = None
    settings: dict = field(default_factory=dict)

    def answer(self, measure: str = "kendall_tau_b") -> dict:
        """The smallest budget from which on every larger budget's model − reference difference
        has a CI above zero: ``{"model", "reference", "budget" (None if never), "sentence"}``."""
        ref = self.settings.get("reference")
        t = self.table[(self.table["measure"] == measure) & self.table["predictor"].isin(self.settings["models"])]
        out = {}
        for m, d in t.groupby("predictor", sort=False):
            d = d.sort_values("budget")
            ok = (d["diff_low"] > 0).to_numpy()
            first = None
            for i in range(len(ok)):
                if ok[i:].all():
                    first = int(d["budget"].iloc[i])
                    break
            if ref is None:
                s = f"{m}: no reference baseline"
            elif first is None:
                best = d.iloc[int(np.nanargmax(d["value"].to_numpy()))]
                s = (f"{m} does not beat {ref} with a CI excluding zero within {int(d['budget'].max())} judgments "
                     f"(best {measure} {best['value']:.3f} at {int(best['budget'])}; difference "
                     f"{best['diff']:+.3f} [{best['diff_low']:+.3f}, {best['diff_high']:+.3f}])")
            else:
                r = d[d["budget"] == first].iloc[0]
                s = (f"{m} beats {ref} from {first} judgments on ({int(r['n_items'])} items per fold; difference "
                     f"{r['diff']:+.3f} [{r['diff_low']:+.3f}, {r['diff_high']:+.3f}])")
            out[m] = {"model": m, "reference": ref, "budget": first, "sentence": s}
        return out

    def plot(self, path, new_generator: pd.DataFrame | None = None, title: str | None = None) -> Path:
        """Write a PNG: tau-b and 2AFC vs judgments (log x) with CI bands, the baselines as
        horizontal lines with their CI, the rater ceiling dotted; a third panel with the
        new-generator curve when given. Returns the path."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        n_panels = 3 if new_generator is not None else 2
        fig, axes = plt.subplots(1, n_panels, figsize=(5.2 * n_panels, 4.2))
        ceil_key = {"kendall_tau_b": "loo_kendall_tau_b", "pairwise_accuracy": "pairwise_agreement"}
        for ax, m in zip(axes, _MEASURES):
            t = self.table[self.table["measure"] == m]
            for p, d in t.groupby("predictor", sort=False):
                d = d.sort_values("budget")
                line, = ax.plot(d["budget"], d["value"], marker="o", label=p)
                ax.fill_between(d["budget"], d["low"], d["high"], alpha=0.2, color=line.get_color())
            n_models = t["predictor"].nunique()
            for j, (_, b) in enumerate(self.baselines[self.baselines["measure"] == m].iterrows()):
                color = f"C{n_models + j}"
                ax.axhline(b["value"], linestyle="--", label=f"{b['predictor']} (raw)", color=color)
                ax.axhspan(b["low"], b["high"], alpha=0.08, color=color)
            c = (self.ceiling or {}).get(ceil_key[m])
            if isinstance(c, (int, float)) and np.isfinite(c):
                ax.axhline(c, linestyle=":", color="k", label="rater ceiling (one rater vs rest)")
            ax.set_xscale("log")
            ax.set_xlabel("human judgments used for training")
            ax.set_ylabel({"kendall_tau_b": "Kendall tau-b", "pairwise_accuracy": "2AFC accuracy"}[m])
            ax.set_title(f"held-out {self.settings.get('split', 'generator')} split")
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=7, loc="best")
        if new_generator is not None:
            ax = axes[2]
            d = new_generator.sort_values("k")
            ax.errorbar(d["k"], d["within_tau_b"], yerr=[d["within_tau_b"] - d["within_tau_b_low"],
                                                         d["within_tau_b_high"] - d["within_tau_b"]],
                        marker="o", capsize=3, label="within-generator tau-b")
            ax2 = ax.twinx()
            ax2.plot(d["k"], d["mean_abs_error"], "s--", color="tab:red", label="|mean error| (model)")
            ax2.plot(d["k"], d["mean_abs_error_shifted"], "^:", color="tab:purple",
                     label="|mean error| (shifted by k labels)")
            ax2.set_ylabel("|predicted − human| generator mean")
            ax.set_xlabel("labelled items of the new generator (k)")
            ax.set_ylabel("Kendall tau-b on its other items")
            ax.set_title("a new generator")
            ax.grid(alpha=0.3)
            h1, l1 = ax.get_legend_handles_labels()
            h2, l2 = ax2.get_legend_handles_labels()
            ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="best")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        from ..io import atomic_path

        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
        plt.close(fig)
        return path

    def to_markdown(self, measure: str = "kendall_tau_b") -> str:
        """A compact table for reports: budget, items, each model's value [CI] and difference vs
        the reference, then the baselines and the answer sentences."""
        t = self.table[self.table["measure"] == measure]
        rows = []
        for b, d in t.groupby("budget"):
            row = {"judgments": int(b), "items/fold": int(round(d["n_items"].iloc[0]))}
            for _, r in d.iterrows():
                row[r["predictor"]] = f"{r['value']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"
                if np.isfinite(r.get("diff", np.nan)):
                    row[f"{r['predictor']} − {self.settings.get('reference')}"] = \
                        f"{r['diff']:+.3f} [{r['diff_low']:+.3f}, {r['diff_high']:+.3f}]"
            rows.append(row)
        df = pd.DataFrame(rows)
        lines = [_md(df), ""]
        for _, b in self.baselines[self.baselines["measure"] == measure].iterrows():
            lines.append(f"* raw {b['predictor']}: {b['value']:.3f} [{b['low']:.3f}, {b['high']:.3f}]")
        for a in self.answer(measure).values():
            lines.append(f"* {a['sentence']}")
        return "\n".join(lines)


def _md(df: pd.DataFrame) -> str:
    from .report import frame_markdown

    return frame_markdown(df)


def _check(X, y, generators, prompts):
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    gens = np.asarray(generators).astype(str).ravel()
    if X.ndim != 2 or X.shape[0] != y.size or gens.size != y.size:
        raise ConfigError(f"shapes disagree: X {X.shape}, y {y.shape}, generators {gens.shape}")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ConfigError("X or y contains NaN/inf; drop those items first")
    pr = None if prompts is None else np.asarray(prompts).astype(str).ravel()
    if pr is not None and pr.size != y.size:
        raise ConfigError(f"prompts has {pr.size} entries for {y.size} items")
    return X, y, gens, pr


def label_efficiency(X, y, generators, feature_names: Sequence[str], model, *, prompts,
                     budgets: Sequence[int] = DEFAULT_BUDGETS, judgments_per_item: int = 1, n_repeats: int = 3,
                     split: str = "generator", n_prompt_folds: int = 5, baselines: Sequence[str] = ("mid_pmi",
                                                                                                    "clip_score"),
                     reference: str | None = "mid_pmi", ceiling: dict | None = None, n_resamples: int = 500,
                     seed: int = 0, models: dict | None = None) -> EfficiencyCurve:
    """Held-out agreement vs human judgments spent on training (see the module docstring).

    Args:
        X: (n, p) features with column names ``feature_names``; y: (n,) human scores (mean of
            ``judgments_per_item`` ratings); generators, prompts: (n,) each (prompts are the
            subsampling clusters and the bootstrap unit).
        model: an unfitted sklearn regressor (or pass several as ``models={name: estimator}``).
        budgets: numbers of judgments; each becomes ``budget // judgments_per_item`` items per fold.
        split, n_prompt_folds: the outer folds (:func:`judgenet.evaluation.make_folds`).
        baselines: feature columns used as raw scores (``"-name"`` negates); missing ones are noted.
        reference: the baseline the models are compared with (paired bootstrap).
        ceiling: ``judgenet.labels.rater_ceiling`` dict shown as a line.
    """
    from .protocol import make_folds

    X, y, gens, pr = _check(X, y, generators, prompts)
    if pr is None:
        raise ConfigError("label_efficiency needs prompts= (the clusters judgments are bought in)")
    if int(judgments_per_item) < 1 or int(n_repeats) < 1:
        raise ConfigError("judgments_per_item and n_repeats must be >= 1")
    budgets = sorted({int(b) for b in budgets})
    if not budgets or budgets[0] < int(judgments_per_item) * 2:
        raise ConfigError(f"budgets must be >= 2 items' worth of judgments ({2 * int(judgments_per_item)}), "
                          f"got {budgets}")
    models = dict(models) if models else {"model": model}
    names = list(feature_names)
    folds = make_folds(gens, pr, split=split, n_prompt_folds=n_prompt_folds, seed=seed)
    test_of = np.full(y.size, -1)
    for k, f in enumerate(folds):
        test_of[f.test] = k
    notes = []
    if (test_of < 0).any():
        raise ConfigError("some items are in no fold's test part")
    W = resample_weights(y.size, groups=pr, n_resamples=n_resamples, seed=seed)
    point = {m: MEASURES[m] for m in _MEASURES}

    def stats(pred):
        with warnings.catch_warnings(), np.errstate(invalid="ignore"):
            warnings.simplefilter("ignore")
            return ({m: float(point[m](y, pred)) for m in _MEASURES}, weighted_measures(list(_MEASURES), y, pred, W))

    base_rows, base_boot = [], {}
    for spec in baselines:
        col = spec.lstrip("-")
        if col not in names:
            notes.append(f"baseline {spec!r} skipped: no feature column {col!r}")
            continue
        v, boot = stats((-1.0 if spec.startswith("-") else 1.0) * X[:, names.index(col)])
        base_boot[spec] = boot
        for m in _MEASURES:
            lo, hi = np.nanpercentile(boot[m], [2.5, 97.5])
            base_rows.append({"predictor": spec, "measure": m, "value": v[m], "low": lo, "high": hi})
    if reference is not None and reference not in base_boot:
        notes.append(f"reference {reference!r} unavailable: no differences computed")
        reference = None

    preds = {(name, r, b): np.full(y.size, np.nan) for name in models for r in range(n_repeats) for b in budgets}
    n_items = {b: [] for b in budgets}
    full_fits = {}  # (model, fold) -> held-out predictions of the model fitted on the fold's whole training part
    for r, b, k, idx in budget_subsets(folds, pr, budgets, judgments_per_item=judgments_per_item,
                                       n_repeats=n_repeats, seed=seed):
        f = folds[k]
        if r == 0:
            n_items[b].append(idx.size)
        for name, est in models.items():
            if idx.size < 2:
                raise ConfigError(f"budget {b} gives {idx.size} training items in fold {f.name!r}; raise it")
            everything = idx.size == f.train.size  # the whole training part: the same fit for every repeat/budget
            if everything and (name, k) in full_fits:
                preds[(name, r, b)][f.test] = full_fits[(name, k)]
                continue
            fitted = fit_routed(clone(est), X[idx], y[idx], generators=gens[idx],  # anchored: its inner split
                                prompts=None if pr is None else pr[idx])
            preds[(name, r, b)][f.test] = np.asarray(fitted.predict(X[f.test]), dtype=np.float64).ravel()
            if everything:
                full_fits[(name, k)] = preds[(name, r, b)][f.test]
    rows = []
    for name in models:
        for b in budgets:
            vals, boots = [], []
            for r in range(n_repeats):
                v, boot = stats(preds[(name, r, b)])
                vals.append(v)
                boots.append(boot)
            for m in _MEASURES:
                per_rep = np.array([v[m] for v in vals])
                mean_boot = np.mean([bt[m] for bt in boots], axis=0)
                lo, hi = np.nanpercentile(mean_boot, [2.5, 97.5])
                row = {"budget": b, "n_items": float(np.mean(n_items[b])), "predictor": name, "measure": m,
                       "value": float(per_rep.mean()), "low": lo, "high": hi,
                       "repeat_sd": float(per_rep.std(ddof=1)) if n_repeats > 1 else 0.0}
                if reference is not None:
                    d = mean_boot - base_boot[reference][m]
                    dl, dh = np.nanpercentile(d, [2.5, 97.5])
                    ref_v = [x for x in base_rows if x["predictor"] == reference and x["measure"] == m][0]["value"]
                    row.update(diff=row["value"] - ref_v, diff_low=dl, diff_high=dh,
                               excludes_zero=bool(dl > 0 or dh < 0))
                rows.append(row)
    settings = {"split": split, "n_prompt_folds": n_prompt_folds if split != "generator" else None,
                "n_folds": len(folds), "n_repeats": int(n_repeats), "n_resamples": int(n_resamples),
                "judgments_per_item": int(judgments_per_item), "budgets": budgets, "reference": reference,
                "models": list(models), "seed": int(seed), "bootstrap_unit": "prompt", "notes": notes,
                "sampling": "whole prompt clusters from each fold's training part, last cluster cut at random"}
    return EfficiencyCurve(pd.DataFrame(rows), pd.DataFrame(base_rows), ceiling, settings)


def new_generator_curve(X, y, generators, model, *, ks: Sequence[int] = DEFAULT_KS, n_repeats: int = 3,
                        min_test: int = 10, n_resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Agreement on a new generator after labelling k of its items (see the module docstring).

    For every generator g, repeat and k (skipped when g has fewer than ``k + min_test`` items): fit on
    all other generators plus k random items of g, predict g's other items. Returns one row per k:
    ``k``, ``n_generators`` (that had enough items), ``within_tau_b`` (mean over generators and repeats)
    with a 95% CI bootstrapping generators, ``mean_abs_error`` (|mean prediction − mean human score|
    on the remaining items, averaged over generators) and ``mean_abs_error_shifted`` (predictions
    shifted by the k items' mean residual; equal to the former at k = 0).
    """
    X, y, gens, _ = _check(X, y, generators, None)
    uniq = pd.unique(gens)
    tau = MEASURES["kendall_tau_b"]
    rows = []
    for k in sorted({int(v) for v in ks}):
        per_gen = {}
        for gi, g in enumerate(uniq):
            idx_g = np.flatnonzero(gens == g)
            if idx_g.size < k + min_test:
                continue
            others = np.flatnonzero(gens != g)
            vals = []
            for r in range(int(n_repeats)):
                rng = np.random.default_rng([int(seed), gi, k, r])
                lab = rng.choice(idx_g, size=k, replace=False) if k else np.empty(0, dtype=np.int64)
                rest = np.setdiff1d(idx_g, lab)
                tr = np.concatenate([others, lab])
                fitted = fit_routed(clone(model), X[tr], y[tr], generators=gens[tr])
                p = np.asarray(fitted.predict(X[rest]), dtype=np.float64).ravel()
                shift = float(np.mean(y[lab] - fitted.predict(X[lab]))) if k else 0.0
                with warnings.catch_warnings(), np.errstate(invalid="ignore"):
                    warnings.simplefilter("ignore")
                    t = float(tau(y[rest], p))
                vals.append((t, abs(p.mean() - y[rest].mean()), abs(p.mean() + shift - y[rest].mean())))
            per_gen[g] = np.nanmean(np.array(vals, dtype=np.float64), axis=0)
        if not per_gen:
            continue
        a = np.array(list(per_gen.values()))
        rng = np.random.default_rng([int(seed), 7, k])
        boot = [np.nanmean(a[rng.integers(0, len(a), len(a)), 0]) for _ in range(int(n_resamples))]
        lo, hi = np.nanpercentile(boot, [2.5, 97.5])
        rows.append({"k": k, "n_generators": len(per_gen), "within_tau_b": float(np.nanmean(a[:, 0])),
                     "within_tau_b_low": lo, "within_tau_b_high": hi, "mean_abs_error": float(a[:, 1].mean()),
                     "mean_abs_error_shifted": float(a[:, 2].mean())})
    return pd.DataFrame(rows)
