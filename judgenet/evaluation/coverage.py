"""Validity studies of conformal intervals: empirical coverage per held-out generator and across generators.

:func:`coverage_study` is fully nested (the scored generator neither fits nor calibrates a
:class:`~judgenet.evaluation.conformal.ConformalPredictor`); :func:`oof_coverage_study` reuses one held-out
evaluation's predictions (no refits). Both return a :class:`CoverageStudy`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .calibration import calibration_from_residuals, interval_from_calibration
from .conformal import ConformalPredictor

__all__ = ["CoverageStudy", "coverage_study", "oof_coverage_study"]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# validity study
# ---------------------------------------------------------------------------------------------
@dataclass
class CoverageStudy:
    """Nested validity check of :class:`ConformalPredictor` (outer leave-one-generator-out).

    ``per_generator``: one row per held-out generator — n, item coverage (share of its items inside
    their interval), mean item width, human mean, predicted mean, group interval low/high, whether the
    human mean is inside, group width. ``summary``: pooled item coverage, mean item width, coverage of
    the per-generator intervals across generators, mean group width, the worst generator, generators
    below ``coverage − 0.10``, nominal level and difficulty.
    """

    per_generator: pd.DataFrame
    summary: dict
    predictions: pd.DataFrame = field(repr=False, default=None)

    def table(self) -> pd.DataFrame:
        """Report view of ``per_generator`` (rounded)."""
        return self.per_generator.round(3)

    def to_markdown(self) -> str:
        """The coverage table for reports: one sentence, then one row per held-out generator."""
        s = self.summary
        c = s["coverage"]
        below = ", ".join(s["generators_below"]) or "none"
        variant = s.get("variant") or "nested: the scored generator neither fits nor calibrates"
        head = (f"Nominal {c:.0%} intervals calibrated on held-out generators ({s['split']} split, difficulty "
                f"{s['difficulty'] or 'none'}; {variant}): per-item coverage {s['pooled_item_coverage']:.1%} pooled over "
                f"{s['n_items']} items (target {c - 0.03:.0%}–{c + 0.03:.0%}), lowest generator "
                f"{s['min_generator_coverage']:.1%} ({s['worst_generator']}); generators below {c - 0.10:.0%}: "
                f"{below}. Mean item width {s['mean_item_width']:.2f}. Per-generator mean intervals contain the "
                f"human mean for {s['group_coverage']:.0%} of {s['n_generators']} generators (mean width "
                f"{s['mean_group_width']:.2f}).")
        t = self.per_generator[["generator", "n", "item_coverage", "item_width", "human_mean", "pred_mean",
                                "mean_low", "mean_high", "mean_inside"]].copy()
        t.columns = ["generator", "items", "item coverage", "item width", "human mean", "predicted mean",
                     "mean low", "mean high", "mean inside"]
        from .report import frame_markdown

        body = frame_markdown(t)
        return head + "\n\n" + body


def coverage_study(estimator, X, y, groups, *, prompts=None, coverage: float = 0.9, difficulty: str | None = None,
                   method: str = "balanced", split: str = "generator", n_prompt_folds: int = 5,
                   n_members: int = 5, random_state: int = 0, progress: bool = False,
                   rescale: bool | str = "auto") -> CoverageStudy:
    """For each generator g: fit a :class:`ConformalPredictor` (fit **and** calibration) on the other
    generators, predict intervals for g's items and g's mean, and record whether they contain the
    human scores. X (n, p), y (n,), groups (n,) generators (≥ 4 distinct); prompts (n,) for
    ``split="crossed"``, where g's items on each held-out prompt fold are predicted by a predictor
    fitted and calibrated on the other generators × the other prompt folds (the generator-mean
    interval is then formed from all of g's items' predictions). ``rescale``: as in :class:`ConformalPredictor`
    (each fold's scale line is fitted on its own calibration generators); predictions and intervals are then on
    the label scale."""
    from .protocol import make_folds

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    gens = np.asarray(groups).astype(str).ravel()
    uniq = pd.unique(gens)
    if uniq.size < 4:
        raise ConfigError(f"a coverage study needs >= 4 generators (3 to calibrate on), got {uniq.size}")
    pr = None if prompts is None else np.asarray(prompts).astype(str).ravel()
    outer = make_folds(gens, pr, split=split, n_prompt_folds=n_prompt_folds, seed=random_state)
    if progress:
        from tqdm.auto import tqdm

        outer = tqdm(outer, desc="coverage study")
    p, lo, hi = (np.full(y.size, np.nan) for _ in range(3))
    group_half, rescaled = {}, False
    for f in outer:
        tr, te = f.train, f.test
        cp = ConformalPredictor(estimator, coverage=coverage, difficulty=difficulty, method=method, split=split,
                                n_prompt_folds=n_prompt_folds, n_members=n_members,
                                random_state=random_state, rescale=rescale).fit(X[tr], y[tr], gens[tr],
                                                               None if pr is None else pr[tr])
        p[te], lo[te], hi[te] = cp.predict_interval(X[te])
        cal, n_g = cp.calibration_, int((gens == f.held_generator).sum())
        group_half.setdefault(f.held_generator, []).append(cal.group_quantile() * float(cal.group_scale(n_g)))
        rescaled = cp.rescale_
    settings = {"coverage": float(coverage), "difficulty": difficulty, "method": method, "split": split}
    if rescaled:
        settings["variant"] = ("nested: the scored generator neither fits nor calibrates; predictions mapped to the "
                               "human scale by a line fitted on the calibration generators' held-out predictions")
    return _study(y, p, lo, hi, gens, {g: float(np.mean(v)) for g, v in group_half.items()}, settings)


def _study(y, p, lo, hi, gens, group_half: dict, settings: dict) -> CoverageStudy:
    """The per-generator rows and summary of a coverage study from per-item intervals ``lo``/``hi`` around
    predictions ``p`` (all (n,)) and each generator's mean half-width ``group_half[g]``."""
    coverage = settings["coverage"]
    rows, preds = [], []
    uniq = pd.unique(gens)
    for g in uniq:
        te = np.flatnonzero(gens == g)
        inside = (y[te] >= lo[te]) & (y[te] <= hi[te])
        half = group_half[g]
        m = float(p[te].mean())
        hm = float(y[te].mean())
        rows.append({"generator": g, "n": int(te.size), "item_coverage": float(inside.mean()),
                     "item_width": float(np.mean(hi[te] - lo[te])), "human_mean": hm, "pred_mean": m,
                     "mean_low": m - half, "mean_high": m + half, "mean_inside": bool(m - half <= hm <= m + half),
                     "mean_width": 2.0 * half})
        preds.append(pd.DataFrame({"item": te, "generator": g, "y": y[te], "pred": p[te], "low": lo[te],
                                   "high": hi[te], "inside": inside}))
    pg = pd.DataFrame(rows)
    allp = pd.concat(preds, ignore_index=True)
    low_bar = coverage - 0.10
    summary = {**settings, "n_items": int(y.size),
               "n_generators": int(uniq.size), "pooled_item_coverage": float(allp["inside"].mean()),
               "mean_item_width": float((allp["high"] - allp["low"]).mean()),
               "median_item_width": float((allp["high"] - allp["low"]).median()),
               "mean_of_generator_coverage": float(pg["item_coverage"].mean()),
               "min_generator_coverage": float(pg["item_coverage"].min()),
               "worst_generator": str(pg.loc[pg["item_coverage"].idxmin(), "generator"]),
               "generators_below": [str(v) for v in pg.loc[pg["item_coverage"] < low_bar - 1e-12, "generator"]],
               "group_coverage": float(pg["mean_inside"].mean()), "mean_group_width": float(pg["mean_width"].mean())}
    return CoverageStudy(pg, summary, allp)


def oof_coverage_study(y, oof_pred, groups, *, coverage: float = 0.9, method: str = "balanced",
                       split: str = "generator", rescale: bool = False) -> CoverageStudy:
    """A cheap coverage study from one held-out evaluation's predictions (no refitting).

    ``oof_pred`` (n,): each item predicted by the model of the fold that held its generator out (e.g.
    ``EvaluationResults.predictions[model]``). For each generator g, intervals for g's items and g's mean are
    calibrated (:func:`calibration_from_residuals`) on the *other* generators' out-of-fold residuals and checked
    against g's human scores. Unlike :func:`coverage_study` this is not fully nested: the other generators'
    residuals come from models that were trained on g's items (a cross-conformal / CV+-style estimate), and
    the model's recipe was fixed beforehand. Cost: O(n) per generator.

    ``rescale=True`` first maps predictions to the human scale by the line of :func:`scale_line` fitted on the
    calibration generators only — the other generators' out-of-fold predictions — through
    :func:`calibration_from_residuals` (for models that predict in other units, e.g. ``anchored`` in raw-MID
    units; a model already on the human scale gets a line close to the identity); the study is then on
    ``a + b·oof_pred``.
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    p = np.asarray(oof_pred, dtype=np.float64).ravel()
    gens = np.asarray(groups).astype(str).ravel()
    uniq = pd.unique(gens)
    if uniq.size < 4:
        raise ConfigError(f"a coverage study needs >= 4 generators (3 to calibrate on), got {uniq.size}")
    lo, hi, mapped = np.full(y.size, np.nan), np.full(y.size, np.nan), p.copy()
    half, flat = {}, []
    for g in uniq:
        te, tr = gens == g, gens != g
        cal = calibration_from_residuals(y[tr], p[tr], gens[tr], coverage=coverage, method=method, rescale=rescale,
                                         quiet=True)
        if cal.scale is not None and cal.scale[1] == 0:
            flat.append(str(g))
        mapped[te] = cal.to_label_scale(p[te])
        lo[te], hi[te] = interval_from_calibration(p[te], None, cal)
        half[g] = cal.group_quantile() * float(cal.group_scale(int(te.sum())))
    if flat:  # one line for the whole study, not one per held-out generator
        log.warning("coverage study: with %d of %d generators held out, the other generators' held-out predictions "
                    "do not rise with the labels: their intervals use a flat line (calibrated, but carrying no "
                    "information from the model)", len(flat), uniq.size)
    variant = "out-of-fold (recipe fixed, not nested)" + ("; predictions mapped to the human scale by a line "
                                                          "fitted on the calibration generators" if rescale else "")
    return _study(y, mapped, lo, hi, gens, half, {"coverage": float(coverage), "difficulty": None, "method": method,
                                                  "split": split, "variant": variant})
