"""Conformal intervals for pairwise (comparative) predictors, calibrated on held-out generators.

:func:`cross_conformal_pairs` — preference-probability intervals (:class:`PairCalibration`);
:func:`calibrate_win_rates` / :func:`win_rate_intervals` — intervals on win rates, the scale on which
``judgenet score`` reports a pairwise predictor (the method: :mod:`judgenet.evaluation.conformal`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import clone

from ..errors import ConfigError
from .calibration import _FORMAT, Calibration, _group_stats, conformal_quantile

__all__ = ["PairCalibration", "cross_conformal_pairs", "calibrate_win_rates", "win_rate_dict", "win_rate_intervals"]


# ---------------------------------------------------------------------------------------------
# pairwise preferences
# ---------------------------------------------------------------------------------------------
@dataclass
class PairCalibration:
    """Calibration of preference-probability intervals: scores |p_obs − p̂| (n_pairs,) and the
    calibration generator each pair was scored under. ``interval(p)`` → (low, high) in [0, 1]."""

    scores: np.ndarray
    groups: np.ndarray
    coverage: float = 0.9

    def quantile(self, coverage: float | None = None) -> float:
        return conformal_quantile(self.scores, coverage or self.coverage, groups=self.groups)

    def interval(self, p, coverage: float | None = None):
        p = np.asarray(p, dtype=np.float64).ravel()
        q = self.quantile(coverage)
        return np.clip(p - q, 0.0, 1.0), np.clip(p + q, 0.0, 1.0)

    def to_dict(self) -> dict:
        return {"format": _FORMAT + "-pairs", "coverage": float(self.coverage),
                "scores": [float(v) for v in self.scores], "groups": [str(v) for v in self.groups]}

    @classmethod
    def from_dict(cls, d: Mapping) -> "PairCalibration":
        if d.get("format") != _FORMAT + "-pairs":
            raise ConfigError(f"not a judgenet pairwise calibration (format {d.get('format')!r})")
        return cls(np.asarray(d["scores"], dtype=np.float64), np.asarray(d["groups"], dtype=str),
                   float(d["coverage"]))


def _held_out_pair_models(estimator, X, pairs, gens, fit):
    """Yield ``(g, model fitted on the pairs involving neither side's generator g)`` for every generator g
    (in order of first appearance) that appears in ``pairs``. ConfigError when holding g out leaves no pair."""
    ia, ib = pairs[:, 0].astype(np.intp), pairs[:, 1].astype(np.intp)
    ga, gb = gens[ia], gens[ib]
    for g in pd.unique(gens):
        involved = (ga == g) | (gb == g)
        if not involved.any():
            continue
        tr = ~involved
        if not tr.any():
            raise ConfigError(f"no training pairs left when generator {g!r} is held out; pairs must compare "
                              "items of >= 3 generators")
        yield g, involved, fit(clone(estimator), X, pairs[tr])


def _pair_inputs(X, pairs, item_generators):
    """Coerce the inputs of the pair calibrations: ``(X, pairs, a, b, preference, weight, generators)``."""
    from ..predictors.pairwise import split_pairs

    X = np.asarray(X, dtype=np.float64)
    pairs = np.asarray(pairs, dtype=np.float64)
    ia, ib, pref, w = split_pairs(pairs, X.shape[0])
    gens = np.asarray(item_generators).astype(str).ravel()
    if gens.size != X.shape[0]:
        raise ConfigError(f"item_generators has {gens.size} entries for {X.shape[0]} items")
    return X, pairs, ia, ib, pref, w, gens


def cross_conformal_pairs(estimator, X, pairs, item_generators, *, coverage: float = 0.9,
                          fit: Callable | None = None) -> tuple[PairCalibration, np.ndarray]:
    """Out-of-generator calibration of a pairwise model's preference probabilities.

    Args:
        estimator: unfitted pairwise estimator with ``fit(X, pair_array)`` and
            ``predict_proba_pairs(X, idx_a, idx_b)`` (e.g. ``judgenet.predictors.BradleyTerry``).
        X: (n_items, p) item features; pairs: (n_pairs, 3 or 4) ``[idx_a, idx_b, preference, (weight)]``
            with ``preference`` the observed share of raters preferring a.
        item_generators: (n_items,) generator of each item.
        fit: optional ``fit(estimator, X, pair_array) -> fitted`` (default ``estimator.fit``).
    For each generator g (in order of first appearance), the pairs involving g not yet scored are
    predicted by a model fitted on the pairs involving neither side's generator g, so every pair is
    scored once, out of generator. Returns ``(PairCalibration, oof_probabilities (n_pairs,))``.
    """
    X, pairs, ia, ib, pref, _, gens = _pair_inputs(X, pairs, item_generators)
    oof = np.full(ia.size, np.nan)
    grp = np.empty(ia.size, dtype=object)
    fit = fit or (lambda est, Xf, y: est.fit(Xf, y))
    for g, involved, model in _held_out_pair_models(estimator, X, pairs, gens, fit):
        te = involved & np.isnan(oof)
        if not te.any():
            continue
        oof[te] = np.asarray(model.predict_proba_pairs(X, ia[te], ib[te]), dtype=np.float64)
        grp[te] = g
    return PairCalibration(np.abs(pref - oof), grp.astype(str), float(coverage)), oof


# ---------------------------------------------------------------------------------------------
# win rates: intervals for pairwise predictors in ``judgenet score``
# ---------------------------------------------------------------------------------------------
_WIN_FORMAT = _FORMAT + "-winrate"


def calibrate_win_rates(estimator, X, pairs, item_generators, *, coverage: float = 0.9, method: str = "balanced",
                        fit: Callable | None = None) -> Calibration:
    """Calibrate intervals on **win rates** of a pairwise (utility) model on held-out generators.

    A pairwise model's utility ``u(x)`` has no absolute scale (only differences are fitted), so intervals are
    given on what its differences mean: the probability ``p_win`` that an image is preferred over an image of
    *another* generator (same prompt). For every generator g a model fitted on the pairs involving neither side's
    generator g (:func:`cross_conformal_pairs`' folds) predicts ``σ(u_a − u_b)`` for every judged pair between an
    item a of g and an item b of another generator; per item a the residual is ``r_a`` = (weighted share of a's
    cross-generator judgments that preferred a) − (mean predicted probability of those pairs). These residuals
    then play the role of the per-item residuals of :class:`ConformalPredictor`: item scores ``|r_a|`` (per-image
    intervals, group-balanced quantile) and per-generator signed mean errors with τ² and s_w² (per-generator
    intervals, :func:`win_rate_intervals`). Pairs within one generator carry no win-rate information and are
    not used for calibration (they are used for fitting).

    Args:
        estimator: unfitted pairwise utility model or Pipeline ending in one (``fit(X, pair_array)``,
            ``predict(X)`` → utilities; P(a ≻ b) = σ(u_a − u_b)).
        X: (n_items, p) features; pairs: (n_pairs, 3 or 4) ``[idx_a, idx_b, preference, (weight)]``, preference =
            share of judgments preferring a, weight = number (or summed weight) of judgments.
        item_generators: (n_items,) generator of each item (≥ 3 distinct among the compared items).
        fit: optional ``fit(estimator, X, pair_array) -> fitted``.
    Returns a :class:`Calibration` (difficulty None; ``to_dict()`` is stored in a pairwise predictor's meta.json
    as ``extra.conformal_pairs``).
    """
    X, pairs, ia, ib, pref, w, gens = _pair_inputs(X, pairs, item_generators)
    cross = gens[ia] != gens[ib]
    if pd.unique(np.r_[gens[ia[cross]], gens[ib[cross]]]).size < 3:
        raise ConfigError("win-rate intervals are calibrated on held-out generators: the pairs must compare items "
                          "of >= 3 generators")
    fit = fit or (lambda est, Xf, y: est.fit(Xf, y))
    num = np.zeros(X.shape[0])  # Σ w (observed − predicted), per item of the held-out side
    den = np.zeros(X.shape[0])
    for g, involved, model in _held_out_pair_models(estimator, X, pairs, gens, fit):
        sel = involved & cross
        if not sel.any():
            continue
        u = np.asarray(model.predict(X), dtype=np.float64).ravel()
        p_hat = expit(u[ia[sel]] - u[ib[sel]])
        a_is_g = gens[ia[sel]] == g
        item = np.where(a_is_g, ia[sel], ib[sel])
        r = np.where(a_is_g, pref[sel] - p_hat, p_hat - pref[sel])  # oriented to g's item
        np.add.at(num, item, w[sel] * r)
        np.add.at(den, item, w[sel])
    keep = den > 0
    resid = num[keep] / den[keep]
    g_items = gens[keep]
    names, sizes, means, tau2, within = _group_stats(resid, g_items)
    cal = Calibration(np.abs(resid), g_items, list(names), sizes, means, tau2, within, None, 1.0, float(coverage),
                      method)
    return cal


def win_rate_dict(calibration: Calibration) -> dict:
    """The stored form of a win-rate calibration (a :class:`Calibration` dict tagged ``target: win_rate``)."""
    return {**calibration.to_dict(), "target": "win_rate"}


def _win_probabilities(u, gens, prompts, chunk: int = 2048):
    """(n,) mean over the other generators h (equal weight) of the mean σ(u_a − u_b) over h's images b on the
    same prompt as a (all of h's images when h has none on that prompt, or without prompts); NaN when a's
    generator is the only one. Also returns the number of opponent generators."""
    u = np.asarray(u, dtype=np.float64).ravel()
    uniq = pd.unique(gens)
    out = np.full(u.size, np.nan)
    if uniq.size < 2:
        return out, 0
    acc = np.zeros(u.size)
    for h in uniq:
        idx_h = np.flatnonzero(gens == h)
        others = np.flatnonzero(gens != h)
        vals = np.full(others.size, np.nan)
        if prompts is not None:
            ph = prompts[idx_h]
            by_prompt = {p: u[idx_h[ph == p]] for p in pd.unique(ph)}
            for j, a in enumerate(others):
                ub = by_prompt.get(prompts[a])
                if ub is not None:
                    vals[j] = float(np.mean(expit(u[a] - ub)))
        todo = np.flatnonzero(np.isnan(vals))
        uh = u[idx_h]
        for s in range(0, todo.size, chunk):
            part = others[todo[s:s + chunk]]
            vals[todo[s:s + chunk]] = expit(u[part][:, None] - uh[None, :]).mean(axis=1)
        acc[others] += vals
    out = acc / (uniq.size - 1)
    return out, int(uniq.size - 1)


def win_rate_intervals(utilities, generators, calibration, *, prompts=None, coverage: float | None = None):
    """Preference-probability intervals of a pairwise predictor for ``judgenet score``.

    Args:
        utilities: (n,) the model's utilities ``u`` of the scored images; generators: (n,) their generators
            (≥ 2 distinct for a win rate); prompts: (n,) or None — opponents share the prompt where possible.
        calibration: :func:`calibrate_win_rates`' :class:`Calibration` (or its stored dict).
        coverage: level (default the stored one).
    Returns ``(per_image, per_generator)``: per_image (row-aligned) ``p_win``, ``p_win_low``, ``p_win_high`` — the
    predicted probability that raters prefer this image over an image of another scored generator (same prompt),
    each other generator weighted equally; per_generator ``generator``, ``n_images``, ``n_opponents``, ``p_win``
    (mean over its images), ``p_win_low``, ``p_win_high``, ``coverage``. Intervals are clipped to [0, 1].

    The per-generator half-width is ``q_G · sqrt(τ² (1 + 1/m) + s_w² / n)`` with n the generator's images and m the
    number of opponent generators: calibration opponents were training generators, whereas here every opponent
    may be new too, and the mean error of m new opponents adds ``τ²/m`` (opponent shifts taken as independent
    with the calibration generators' variance; conservative when opponents were in training).
    """
    cal = calibration if isinstance(calibration, Calibration) else Calibration.from_dict(calibration)
    u = np.asarray(utilities, dtype=np.float64).ravel()
    g = np.asarray(generators).astype(str).ravel()
    if g.size != u.size:
        raise ConfigError(f"generators has {g.size} entries for {u.size} utilities")
    pr = None if prompts is None else np.asarray(prompts, dtype=object).ravel()
    if pr is not None and pr.size != u.size:
        raise ConfigError(f"prompts has {pr.size} entries for {u.size} utilities")
    if pr is not None:
        pr = np.array([None if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v) for v in pr],
                      dtype=object)
    p, m = _win_probabilities(u, g, pr)
    q = cal.item_quantile(coverage)
    per_image = pd.DataFrame({"p_win": p, "p_win_low": np.clip(p - q, 0.0, 1.0), "p_win_high": np.clip(p + q, 0.0, 1.0)})
    qg = cal.group_quantile(coverage)
    rows = []
    for name in pd.unique(g):
        v = p[g == name]
        pm = float(np.mean(v)) if m else np.nan
        half = qg * math.sqrt(cal.tau2 * (1.0 + 1.0 / max(m, 1)) + cal.within_var / v.size) if m else np.nan
        rows.append({"generator": name, "n_images": int(v.size), "n_opponents": m, "p_win": pm,
                     "p_win_low": float(np.clip(pm - half, 0.0, 1.0)) if m else np.nan,
                     "p_win_high": float(np.clip(pm + half, 0.0, 1.0)) if m else np.nan})
    per_gen = pd.DataFrame(rows)
    per_gen["coverage"] = float(coverage or cal.coverage)
    return per_image, per_gen
