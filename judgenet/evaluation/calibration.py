"""Conformal calibration state and quantiles: the pieces that turn out-of-generator residuals into intervals.

:func:`conformal_quantile` (item- and group-balanced quantiles), :class:`Calibration` (the JSON-able state stored
in a predictor's ``meta.json``), :func:`scale_line` (predictions in other units → the label scale),
:func:`calibration_from_residuals` (a calibration from held-out predictions, no refit),
:func:`interval_from_calibration` and :func:`score_intervals` (intervals for ``judgenet score``). The method is
stated in :mod:`judgenet.evaluation.conformal`.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from ..errors import ConfigError

__all__ = ["conformal_quantile", "Calibration", "scale_line", "interval_from_calibration",
           "calibration_from_residuals", "score_intervals"]

log = logging.getLogger(__name__)

_FORMAT = "judgenet-conformal/1"
#: A calibration with a scale line (``Calibration.scale``) is written as format 2, so that a judgenet that predates
#: the line refuses it (one-line error) instead of silently forming intervals in the model's units; calibrations
#: without a line are still written as format 1, byte-for-byte as before. Both are read.
_FORMAT_SCALED = "judgenet-conformal/2"


# ---------------------------------------------------------------------------------------------
# the quantile
# ---------------------------------------------------------------------------------------------
def conformal_quantile(scores, coverage: float, groups=None, method: str = "balanced") -> float:
    """The conformal ``coverage`` quantile of calibration ``scores`` (n,) float.

    Without ``groups``: the ⌈(n+1)·coverage⌉-th smallest score (+∞ when that exceeds n) — a new
    exchangeable score falls at or below it with probability ≥ ``coverage``.

    With ``groups`` (n,) every group gets the same total weight, spread evenly over its scores;
    the result is the smallest score whose cumulative weight reaches ``coverage``:

    * ``method="conservative"`` — K groups get 1/(K+1) each and the new point 1/(K+1) at +∞
      (+∞ if the level is not reached): finite-sample valid for a random item of a new
      exchangeable group (Lee, Barber & Willett 2023), but with few groups it over-covers — with
      K = 12 generators a 90% interval is the calibration scores' 97.5% quantile.
    * ``method="balanced"`` (default) — weights 1/K per group, the new point's mass 1/(n+1) at +∞
      as in the item-level rule: the group-balanced quantile, exact as K grows; measured on the
      built-in world it is the one that lands on the nominal level (docs/intervals-and-selection.md).
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    if not 0.0 < float(coverage) < 1.0:
        raise ConfigError(f"coverage must lie in (0, 1), e.g. 0.9; got {coverage}")
    if s.size == 0:
        return math.inf
    if np.isnan(s).any():
        raise ConfigError("calibration scores contain NaN")
    if groups is None:
        k = math.ceil((s.size + 1) * float(coverage))
        return math.inf if k > s.size else float(np.sort(s)[k - 1])
    g = np.asarray(groups).ravel()
    if g.size != s.size:
        raise ConfigError(f"groups has {g.size} entries for {s.size} scores")
    if method not in ("balanced", "conservative"):
        raise ConfigError(f"method must be 'balanced' or 'conservative', got {method!r}")
    _, inv, counts = np.unique(g, return_inverse=True, return_counts=True)
    K = counts.size
    if method == "conservative":
        w = 1.0 / ((K + 1) * counts[inv])
    else:
        w = (s.size / (s.size + 1.0)) / (K * counts[inv])
    order = np.argsort(s, kind="stable")
    cum = np.cumsum(w[order])
    hit = np.flatnonzero(cum >= float(coverage) - 1e-12)
    return math.inf if hit.size == 0 else float(s[order][hit[0]])


# ---------------------------------------------------------------------------------------------
# calibration state (JSON-able)
# ---------------------------------------------------------------------------------------------
@dataclass
class Calibration:
    """Out-of-generator calibration scores; everything needed to form intervals at any coverage.

    Attributes:
        scores: (n,) item conformity scores |y − ŷ| / σ.
        groups: (n,) calibration generator of each score.
        group_names, group_sizes, group_errors: per calibration generator: name, n_g, signed
            error of the mean ȳ_g − mean(ŷ_g) (human score units).
        tau2, within_var: τ² and s_w² of the per-generator scale d(n) = sqrt(τ² + s_w²/n).
        difficulty: "spread", "residual" or None; sigma_floor: lower bound on σ.
        coverage: the default level; method: the item quantile's rule (:func:`conformal_quantile`).
        scale: ``(intercept, slope)`` of the line ``a + b·ŷ`` that maps the model's predictions to the label
            scale (:func:`scale_line`), or None (identity: the model predicts in label units). Scores,
            group errors, τ² and s_w² are those of the mapped predictions.
    """

    scores: np.ndarray
    groups: np.ndarray
    group_names: list
    group_sizes: np.ndarray
    group_errors: np.ndarray
    tau2: float
    within_var: float
    difficulty: str | None
    sigma_floor: float
    coverage: float = 0.9
    method: str = "balanced"
    scale: tuple[float, float] | None = None

    def to_label_scale(self, pred) -> np.ndarray:
        """(n,) float64: predictions ``pred`` (n,) in the model's units mapped to the label scale
        (``a + b·pred``; a copy of ``pred`` when the calibration has no scale line)."""
        return _apply_line(self.scale, pred)

    def item_quantile(self, coverage: float | None = None) -> float:
        return conformal_quantile(self.scores, coverage or self.coverage, groups=self.groups, method=self.method)

    def group_scale(self, n) -> np.ndarray:
        """d(n) = sqrt(τ² + s_w² / n) for group sizes n (array-like)."""
        n = np.asarray(n, dtype=np.float64)
        return np.sqrt(self.tau2 + self.within_var / np.maximum(n, 1.0))

    def group_quantile(self, coverage: float | None = None) -> float:
        u = np.abs(self.group_errors) / self.group_scale(self.group_sizes)
        return conformal_quantile(u, coverage or self.coverage)

    def to_dict(self) -> dict:
        """JSON-able dict (lists of floats); :meth:`from_dict` restores it exactly. Format
        ``judgenet-conformal/1`` without a scale line, ``judgenet-conformal/2`` (the same keys plus
        ``scale: {"intercept", "slope"}``) with one."""
        line = {} if self.scale is None else {"scale": {"intercept": float(self.scale[0]),
                                                        "slope": float(self.scale[1])}}
        return {"format": _FORMAT if self.scale is None else _FORMAT_SCALED, **line,
                "coverage": float(self.coverage), "method": self.method,
                "difficulty": self.difficulty,
                "sigma_floor": float(self.sigma_floor), "tau2": float(self.tau2),
                "within_var": float(self.within_var), "scores": [float(v) for v in self.scores],
                "groups": [str(v) for v in self.groups], "group_names": [str(v) for v in self.group_names],
                "group_sizes": [int(v) for v in self.group_sizes],
                "group_errors": [float(v) for v in self.group_errors]}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Calibration":
        """Inverse of :meth:`to_dict`; reads formats 1 (no scale line: identity) and 2 (with the line)."""
        fmt = d.get("format")
        if fmt not in (_FORMAT, _FORMAT_SCALED):
            raise ConfigError(f"not a judgenet conformal calibration (format {fmt!r}, expected {_FORMAT} or "
                              f"{_FORMAT_SCALED}); refit the ConformalPredictor")
        scale = None
        if fmt == _FORMAT_SCALED:
            line = d.get("scale")
            try:
                scale = (float(line["intercept"]), float(line["slope"]))
            except (TypeError, KeyError, ValueError):
                raise ConfigError(f"conformal calibration of format {fmt} without a valid scale line "
                                  f"({{'intercept': a, 'slope': b}}, got {line!r}); refit the predictor") from None
            if not (math.isfinite(scale[0]) and math.isfinite(scale[1]) and scale[1] >= 0.0):
                raise ConfigError(f"conformal calibration scale line {line!r} must be finite with slope >= 0; "
                                  "refit the predictor")
        elif "scale" in d:
            raise ConfigError(f"conformal calibration of format {fmt} carries a scale line (only format "
                              f"{_FORMAT_SCALED} may); refit the predictor")
        return cls(np.asarray(d["scores"], dtype=np.float64), np.asarray(d["groups"], dtype=str),
                   list(d["group_names"]), np.asarray(d["group_sizes"], dtype=np.int64),
                   np.asarray(d["group_errors"], dtype=np.float64), float(d["tau2"]), float(d["within_var"]),
                   d["difficulty"], float(d["sigma_floor"]), float(d["coverage"]), str(d.get("method", "balanced")),
                   scale)


def _group_stats(resid: np.ndarray, groups: np.ndarray):
    """Per-group (names, sizes, mean residual) and (τ², s_w²) by the method of moments."""
    names, inv, sizes = np.unique(groups, return_inverse=True, return_counts=True)
    means = np.bincount(inv, weights=resid) / sizes
    dev = resid - means[inv]
    dof = max(int(resid.size - names.size), 1)
    within = float((dev ** 2).sum() / dof)
    # Var(e_g) = τ² + s_w²/n_g  →  τ² ≈ mean(e_g²) − mean(s_w²/n_g) (errors are centred at 0
    # by the target, not by their sample mean: a systematic bias counts as shift)
    tau2 = max(float(np.mean(means ** 2) - np.mean(within / sizes)), 0.0)
    return names, sizes, means, tau2, within


def _apply_line(line, pred) -> np.ndarray:
    """(n,) float64 ``a + b·pred`` for ``line = (a, b)``; a copy of ``pred`` when ``line`` is None."""
    p = np.asarray(pred, dtype=np.float64).ravel()
    return p.copy() if line is None else line[0] + line[1] * p


def scale_line(pred, y, *, quiet: bool = False) -> tuple[float, float]:
    """``(a, b)``: the least-squares line ``y ≈ a + b·pred`` with the slope constrained to ``b ≥ 0`` — the map
    of a model's predictions (n,) to the label scale of ``y`` (n,) (used with out-of-generator predictions).

    Closed form: ``b = max(cov(pred, y) / var(pred), 0)``, ``a = mean(y) − b·mean(pred)``. When the
    predictions are constant or do not rise with ``y`` (unconstrained slope ≤ 0) the constrained optimum is the
    flat line ``b = 0, a = mean(y)``: every item is then mapped to the calibration mean and its interval is
    ``mean(y) ± q`` — still calibrated, but it carries no information from the model (a warning says so).
    A negative slope is never used: it would reverse the model's ranking on the label scale. ``quiet``: no
    warning (a caller that fits many lines says it once)."""
    p = np.asarray(pred, dtype=np.float64).ravel()
    t = np.asarray(y, dtype=np.float64).ravel()
    if p.size != t.size or p.size == 0:
        raise ConfigError(f"a scale line needs as many predictions as labels (> 0), got {p.size} and {t.size}")
    pc = p - p.mean()
    den = float(pc @ pc)
    b = float(pc @ (t - t.mean()) / den) if den > 0 else 0.0
    if not b > 0:
        (log.debug if quiet else log.warning)("the held-out predictions %s the labels: mapped to the label scale by the flat line "
                    "y = %.4g (intervals stay calibrated but no longer depend on the model)",
                    "are constant, so they cannot be matched to" if den <= 0 else "do not rise with", t.mean())
        b = 0.0
    return float(t.mean() - b * p.mean()), b


def interval_from_calibration(pred, sigma, calibration: Calibration | Mapping, coverage: float | None = None):
    """Per-item ``(low, high)`` arrays (n,) from predictions ŷ (n,) **in the model's own units**, difficulties σ
    (n,) (ones when the calibration has no difficulty model) and a stored :class:`Calibration` (or its dict).
    The interval is ``m ± q·σ`` around ``m = calibration.to_label_scale(ŷ)`` (ŷ itself without a scale line): on
    the label scale."""
    cal = calibration if isinstance(calibration, Calibration) else Calibration.from_dict(calibration)
    pred = cal.to_label_scale(pred)
    sigma = np.ones_like(pred) if sigma is None else np.maximum(np.asarray(sigma, dtype=np.float64).ravel(),
                                                                cal.sigma_floor)
    q = cal.item_quantile(coverage)
    return pred - q * sigma, pred + q * sigma


def calibration_from_residuals(y, oof_pred, groups, *, coverage: float = 0.9, method: str = "balanced", sigma=None,
                               difficulty: str | None = None, sigma_floor: float = 1.0,
                               rescale: bool = False, quiet: bool = False) -> Calibration:
    """A :class:`Calibration` from out-of-generator predictions: ``y`` (n,) human scores, ``oof_pred`` (n,) each
    item's prediction by a model that did not see its generator (e.g. a held-out evaluation's predictions),
    ``groups`` (n,) generators; ``sigma`` (n,) difficulties when ``difficulty`` is not None. This is the
    calibration :meth:`ConformalPredictor.fit` stores, without refitting anything.

    ``rescale=True`` (models that predict in other units, e.g. ``anchored``): the line ``a + b·oof_pred`` of
    :func:`scale_line` fitted on these predictions maps them to the label scale first; residuals are those of the
    mapped predictions and the line is stored (``Calibration.scale``); ``quiet`` as in :func:`scale_line`."""
    y = np.asarray(y, dtype=np.float64).ravel()
    oof = np.asarray(oof_pred, dtype=np.float64).ravel()
    gens = np.asarray(groups).astype(str).ravel()
    if not (y.size == oof.size == gens.size):
        raise ConfigError(f"shapes disagree: y {y.shape}, predictions {oof.shape}, groups {gens.shape}")
    if not (np.isfinite(y).all() and np.isfinite(oof).all()):
        raise ConfigError("y or the out-of-generator predictions contain NaN/inf")
    sig = np.ones(y.size) if sigma is None else np.asarray(sigma, dtype=np.float64).ravel()
    line = scale_line(oof, y, quiet=quiet) if rescale else None
    resid = y - _apply_line(line, oof)
    names, sizes, means, tau2, within = _group_stats(resid, gens)
    return Calibration(np.abs(resid) / sig, gens.copy(), list(names), sizes, means, tau2, within, difficulty,
                       float(sigma_floor), float(coverage), method, line)


def _group_table(pred, groups, calibration, coverage=None) -> pd.DataFrame:
    """Per-group mean of the predictions ``pred`` (n,, model units) mapped to the label scale, with its interval."""
    cal = calibration if isinstance(calibration, Calibration) else Calibration.from_dict(calibration)
    pred = cal.to_label_scale(pred)
    g = np.asarray(groups).astype(str).ravel()
    if g.size != pred.size:
        raise ConfigError(f"groups has {g.size} entries for {pred.size} predictions")
    q = cal.group_quantile(coverage)
    rows = []
    for name in pd.unique(g):
        v = pred[g == name]
        half = q * float(cal.group_scale(v.size))
        m = float(v.mean())
        rows.append({"group": name, "n": int(v.size), "pred_mean": m, "pred_mean_low": m - half,
                     "pred_mean_high": m + half})
    return pd.DataFrame(rows)


def score_intervals(pred, generators, calibration, sigma=None, coverage: float | None = None):
    """Interval columns for ``judgenet score``.

    Args:
        pred: (n,) predictions of the saved model, in its own units; sigma: (n,) difficulties
            (``ConformalPredictor.difficulty_of``; None for a calibration without a difficulty model);
            generators: (n,) folder/generator names.
        calibration: a :class:`Calibration` or its stored dict. coverage: level (default the stored one).
    Returns:
        ``(per_image, per_generator)`` DataFrames: per_image has ``pred`` (as given, model units), then — only when
        the calibration has a scale line — ``pred_label_scale`` (``pred`` mapped to the label scale), then
        ``pred_low``, ``pred_high`` (label scale, around ``pred_label_scale`` or ``pred``; row-aligned with the
        inputs); per_generator has ``generator``, ``n_images``, ``pred_mean`` (mean prediction on the label
        scale), ``pred_mean_low``, ``pred_mean_high`` and ``coverage``.
    """
    cal = calibration if isinstance(calibration, Calibration) else Calibration.from_dict(calibration)
    if cal.difficulty is not None and sigma is None:
        raise ConfigError(f"this calibration uses difficulty {cal.difficulty!r}: pass sigma= "
                          "(ConformalPredictor.difficulty_of(X))")
    low, high = interval_from_calibration(pred, sigma, cal, coverage)
    cols = {"pred": np.asarray(pred, dtype=np.float64).ravel()}
    if cal.scale is not None:
        cols["pred_label_scale"] = cal.to_label_scale(pred)
    per_image = pd.DataFrame({**cols, "pred_low": low, "pred_high": high})
    per_gen = _group_table(pred, generators, cal, coverage).rename(columns={"group": "generator", "n": "n_images"})
    per_gen["coverage"] = float(coverage or cal.coverage)
    return per_image, per_gen
