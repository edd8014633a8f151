"""Prediction intervals calibrated on held-out generators (split / cross conformal prediction).

Why held-out generators
-----------------------
A predictor of human judgments is used on generators it has never seen. Its errors there have two
parts: item noise, and a *shift* shared by all items of the new generator (the model extrapolates).
Residuals measured on items of training generators miss the shift, so intervals calibrated on them
under-cover. Here every calibration residual is **out-of-generator**: for each generator g a model
is fitted on the other generators and predicts g's items (leave-one-generator-out, "cross
conformal"); intervals for new items use a model fitted on all generators.

Per-item intervals
------------------
Conformity score of calibration item i: ``s_i = |y_i − ŷ_i| / σ(x_i)``, with σ a difficulty
estimate (``difficulty=``):

* ``"spread"`` (default) — the standard deviation of an ensemble whose members are each fitted on a
  random half of the training *generators* (generator-level subbagging); their disagreement grows
  where predictions depend on which generators were seen, i.e. exactly under generator shift.
* ``"residual"`` — a small gradient-boosting model of ``|y − ŷ|`` fitted on the out-of-generator
  residuals of the *other* generators (so a generator's σ never uses its own residuals).
* ``None`` — σ ≡ 1 (plain absolute residuals, constant width).

Scores are weighted so that every calibration generator has the same total weight
(:func:`conformal_quantile` with ``groups``; Lee, Barber & Willett 2023, hierarchical conformal):
the guarantee is for a random item of a new generator drawn like the calibration generators,
however many items each has. The interval is ``ŷ(x) ± q · σ(x)`` with ``q`` the weighted
``coverage`` quantile, the test point's mass placed at +∞ (so with too few generators the interval
is infinite rather than falsely narrow).

Per-generator intervals
-----------------------
The mean human score of a new generator's n images differs from the mean prediction by the
generator shift plus the average of n item errors. For each calibration generator g the signed
error of its mean ``e_g = ȳ_g − mean(ŷ_g)`` (out-of-generator) is normalized by
``d(n_g) = sqrt(τ² + s_w² / n_g)`` — ``s_w²`` the pooled within-generator residual variance, ``τ²``
the between-generator variance of the shift beyond item noise (method of moments, ≥ 0) — and the
``coverage`` quantile ``q_G`` of ``|e_g| / d(n_g)`` over the K calibration generators (K+1 rule)
gives ``mean(ŷ) ± q_G · d(n)`` for a new generator with n images. With K generators the attainable
level is K/(K+1) at most (90% needs ≥ 9 calibration generators); beyond it the interval is infinite.

Predictions in other units
--------------------------
Some predictors do not predict on the human label scale: ``anchored`` predicts in the units of its raw
metric (raw MID + a shrunk correction; :attr:`judgenet.predictors.recipes.Family.label_units` is False).
With ``rescale=True`` (``"auto"``: read that flag) the out-of-generator predictions are first mapped to
the label scale by the least-squares line ``y ≈ a + b·ŷ`` fitted on them (:func:`scale_line`; the slope
is constrained to ``b ≥ 0``, so a model whose held-out predictions do not rise with the labels, or are
constant, gets the flat line ``a = mean(y)`` — still a valid interval, just an uninformative one, with a
warning). Residuals, scores and per-generator errors are those of ``a + b·ŷ``; the line is stored in the
:class:`Calibration` (``scale``) and every interval (per item, per generator) is formed around the mapped
prediction, so intervals are always on the label scale while the saved model keeps predicting in its own
units.

Pairwise preferences
--------------------
:func:`cross_conformal_pairs` calibrates ``|p_obs − p̂|`` (observed share of raters preferring a vs
the predicted probability) on pairs of held-out generators, for any pairwise estimator with
``fit(X, pair_array)`` and ``predict_proba_pairs(X, a, b)``; intervals are clipped to [0, 1]. The
target is the share a panel of the same size would give — panel noise is part of the width.

A pairwise predictor's utility has no absolute scale, so ``judgenet score`` gives its intervals on **win
rates** (:func:`calibrate_win_rates`, :func:`win_rate_intervals`): the probability that raters prefer an image
(or, averaged, a generator's images) over images of the other scored generators on the same prompt, calibrated
with the same held-out-generator folds — per item like the per-item residuals above, per generator with the
generator-shift scale, widened for opponents that are new generators too.

:func:`coverage_study` measures all of this (nested: the scored generator is never used for
fitting *or* calibration) — empirical coverage per held-out generator, across generators, and
mean widths.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

from ..errors import ConfigError

__all__ = ["conformal_quantile", "ConformalPredictor", "Calibration", "interval_from_calibration", "scale_line",
           "score_intervals", "coverage_study", "CoverageStudy", "PairCalibration", "cross_conformal_pairs",
           "DIFFICULTIES", "calibration_from_residuals", "oof_coverage_study", "calibrate_win_rates", "win_rate_intervals", "win_rate_dict"]

log = logging.getLogger(__name__)

DIFFICULTIES = ("spread", "residual", None)
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
      built-in world it is the one that lands on the nominal level (README).
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


def scale_line(pred, y) -> tuple[float, float]:
    """``(a, b)``: the least-squares line ``y ≈ a + b·pred`` with the slope constrained to ``b ≥ 0`` — the map
    of a model's predictions (n,) to the label scale of ``y`` (n,) (used with out-of-generator predictions).

    Closed form: ``b = max(cov(pred, y) / var(pred), 0)``, ``a = mean(y) − b·mean(pred)``. When the
    predictions are constant or do not rise with ``y`` (unconstrained slope ≤ 0) the constrained optimum is the
    flat line ``b = 0, a = mean(y)``: every item is then mapped to the calibration mean and its interval is
    ``mean(y) ± q`` — still calibrated, but it carries no information from the model (a warning says so).
    A negative slope is never used: it would reverse the model's ranking on the label scale."""
    p = np.asarray(pred, dtype=np.float64).ravel()
    t = np.asarray(y, dtype=np.float64).ravel()
    if p.size != t.size or p.size == 0:
        raise ConfigError(f"a scale line needs as many predictions as labels (> 0), got {p.size} and {t.size}")
    pc = p - p.mean()
    den = float(pc @ pc)
    b = float(pc @ (t - t.mean()) / den) if den > 0 else 0.0
    if not b > 0:
        log.warning("the held-out predictions %s the labels: mapped to the label scale by the flat line "
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
                               rescale: bool = False) -> Calibration:
    """A :class:`Calibration` from out-of-generator predictions: ``y`` (n,) human scores, ``oof_pred`` (n,) each
    item's prediction by a model that did not see its generator (e.g. a held-out evaluation's predictions),
    ``groups`` (n,) generators; ``sigma`` (n,) difficulties when ``difficulty`` is not None. This is the
    calibration :meth:`ConformalPredictor.fit` stores, without refitting anything.

    ``rescale=True`` (models that predict in other units, e.g. ``anchored``): the line ``a + b·oof_pred`` of
    :func:`scale_line` fitted on these predictions maps them to the label scale first; residuals are those of the
    mapped predictions and the line is stored (``Calibration.scale``)."""
    y = np.asarray(y, dtype=np.float64).ravel()
    oof = np.asarray(oof_pred, dtype=np.float64).ravel()
    gens = np.asarray(groups).astype(str).ravel()
    if not (y.size == oof.size == gens.size):
        raise ConfigError(f"shapes disagree: y {y.shape}, predictions {oof.shape}, groups {gens.shape}")
    if not (np.isfinite(y).all() and np.isfinite(oof).all()):
        raise ConfigError("y or the out-of-generator predictions contain NaN/inf")
    sig = np.ones(y.size) if sigma is None else np.asarray(sigma, dtype=np.float64).ravel()
    line = scale_line(oof, y) if rescale else None
    resid = y - _apply_line(line, oof)
    names, sizes, means, tau2, within = _group_stats(resid, gens)
    return Calibration(np.abs(resid) / sig, gens.copy(), list(names), sizes, means, tau2, within, difficulty,
                       float(sigma_floor), float(coverage), method, line)


# ---------------------------------------------------------------------------------------------
# the estimator
# ---------------------------------------------------------------------------------------------
def _default_residual_model():
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(max_iter=100, max_depth=3, min_samples_leaf=20, learning_rate=0.05,
                                         random_state=0)


def _fit_members(estimator, X, y, gens, n_members, fraction, rng) -> list:
    uniq = np.unique(gens)
    m = max(1, min(uniq.size - 1, int(round(fraction * uniq.size)))) if uniq.size > 1 else 1
    members = []
    for _ in range(int(n_members)):
        keep = rng.choice(uniq, size=m, replace=False)
        idx = np.flatnonzero(np.isin(gens, keep))
        members.append(clone(estimator).fit(X[idx], y[idx]))
    return members


def _spread(members, X) -> np.ndarray:
    P = np.column_stack([np.asarray(mb.predict(X), dtype=np.float64).ravel() for mb in members])
    return P.std(axis=1, ddof=1) if P.shape[1] > 1 else np.ones(P.shape[0])


def _resolve_rescale(rescale, estimator) -> bool:
    """``ConformalPredictor.rescale`` → bool. ``"auto"``: whether ``estimator`` (the last step of nested Pipelines)
    is an instance of a pointwise family's estimator whose ``Family.label_units`` is False."""
    if isinstance(rescale, (bool, np.bool_)):
        return bool(rescale)
    if rescale != "auto":
        raise ConfigError(f"rescale must be True, False or 'auto', got {rescale!r}")
    from sklearn.pipeline import Pipeline

    from ..predictors.recipes import FAMILIES

    est = estimator
    while isinstance(est, Pipeline):
        est = est.steps[-1][1]
    for name, fam in FAMILIES.items():
        if fam.kind != "pointwise" or fam.label_units:
            continue
        if isinstance(est, type(fam.factory(**fam.defaults))):
            log.info("%s predicts in other units than the labels (family %r): intervals on a line to the "
                     "label scale", type(est).__name__, name)
            return True
    return False


class ConformalPredictor(RegressorMixin, BaseEstimator):
    """Wrap a regressor with intervals calibrated on held-out generators (see the module docstring).

    Parameters:
        estimator: unfitted sklearn regressor (e.g. ``judgenet.predictors.make_predictor("hist_gb")``).
        coverage: default nominal level of :meth:`predict_interval` (0.9 = 90%).
        difficulty: None (default, constant width), ``"spread"`` (generator-subbagged ensemble std) or
            ``"residual"`` (model of |residual|). On the built-in world neither estimate narrowed the
            intervals at equal coverage (README, measured), so the default is None.
        method: ``"balanced"`` or ``"conservative"`` item quantile (:func:`conformal_quantile`).
        split: calibration folds from :func:`judgenet.evaluation.make_folds` — ``"generator"``
            (a new generator on prompts labelled for other generators) or ``"crossed"`` (a new
            generator on new prompts: wider, the honest choice for scoring a user's own prompts).
        n_prompt_folds: prompt folds of the crossed split.
        n_members: ensemble size for ``"spread"``; member_fraction: share of training generators
            each member sees.
        residual_estimator: model of |residual| for ``"residual"`` (default a small HistGradientBoosting).
        random_state: seeds member subsets.
        rescale: whether the estimator predicts in other units than ``y`` and its predictions are mapped to the
            label scale by the line fitted on the out-of-generator predictions (:func:`scale_line`, module
            docstring). ``"auto"`` (default): True when the estimator (the last step of a Pipeline) belongs to
            a family of :data:`judgenet.predictors.recipes.FAMILIES` whose ``label_units`` is False (e.g.
            ``anchored``), else False; or True / False.

    With a scale line, :meth:`predict` returns **label-scale** predictions ``a + b·estimator_.predict(X)`` — the
    centre of :meth:`predict_interval`'s interval (``low ≤ pred ≤ high``) and what ``score`` (R²) uses — while
    ``estimator_`` stays the bare fitted model predicting in its own units (that is what a saved predictor
    stores, beside ``calibration_dict()`` that carries the line).

    Fitted attributes: ``estimator_`` (on all data, bare), ``members_`` (spread) / ``residual_model_``,
    ``calibration_`` (:class:`Calibration`), ``oof_pred_`` (n,) out-of-generator predictions (model units),
    ``oof_sigma_`` (n,), ``rescale_`` (bool, the resolved ``rescale``), ``n_features_in_``.
    """

    def __init__(self, estimator=None, coverage: float = 0.9, difficulty: str | None = None,
                 method: str = "balanced", split: str = "generator", n_prompt_folds: int = 5,
                 n_members: int = 5, member_fraction: float = 0.5, residual_estimator=None,
                 random_state: int | None = 0, rescale: bool | str = "auto"):
        self.estimator = estimator
        self.coverage = coverage
        self.difficulty = difficulty
        self.method = method
        self.split = split
        self.n_prompt_folds = n_prompt_folds
        self.n_members = n_members
        self.member_fraction = member_fraction
        self.residual_estimator = residual_estimator
        self.random_state = random_state
        self.rescale = rescale

    def _base(self):
        if self.estimator is None:
            from ..predictors import make_predictor

            return make_predictor("ridge")
        return self.estimator

    def fit(self, X, y, groups=None, prompts=None):
        """X (n, p) float features; y (n,) human scores; groups (n,) generator of each item
        (≥ 3 distinct; the held-out unit); prompts (n,) prompt ids (needed for ``split="crossed"``).
        Fits one model per fold for calibration and one model on everything for prediction, as the held-out
        evaluation fits them: an estimator whose ``fit`` takes ``generators=``/``prompts=`` (``anchored``) gets
        the training part's."""
        from .protocol import _fit, make_folds

        if self.difficulty not in DIFFICULTIES:
            raise ConfigError(f"difficulty must be one of {DIFFICULTIES}, got {self.difficulty!r}")
        if not 0.0 < float(self.coverage) < 1.0:
            raise ConfigError(f"coverage must lie in (0, 1), got {self.coverage}")
        rescale = _resolve_rescale(self.rescale, self._base())
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).ravel()
        if groups is None:
            raise ConfigError("ConformalPredictor.fit needs groups= (the generator of each item): intervals are "
                              "calibrated on held-out generators")
        gens = np.asarray(groups).astype(str).ravel()
        if X.ndim != 2 or X.shape[0] != y.size or gens.size != y.size:
            raise ConfigError(f"shapes disagree: X {X.shape}, y {y.shape}, groups {gens.shape}")
        if not (np.isfinite(X).all() and np.isfinite(y).all()):
            raise ConfigError("X or y contains NaN/inf; drop those items first")
        uniq = pd.unique(gens)
        if uniq.size < 3:
            raise ConfigError(f"conformal calibration on held-out generators needs >= 3 generators, got "
                              f"{list(uniq)}")
        pr = None if prompts is None else np.asarray(prompts).astype(str).ravel()
        folds = make_folds(gens, pr, split=self.split, n_prompt_folds=self.n_prompt_folds,
                           seed=0 if self.random_state is None else int(self.random_state))
        if self.split == "prompt":
            raise ConfigError("split='prompt' does not hold generators out; use 'generator' or 'crossed'")
        base = self._base()
        rng = np.random.default_rng(self.random_state)
        oof = np.full(y.size, np.nan)
        sig = np.ones(y.size)
        for f in folds:
            te, tr = f.test, f.train
            model = _fit(clone(base), X[tr], y[tr], gens[tr], None if pr is None else pr[tr])
            oof[te] = np.asarray(model.predict(X[te]), dtype=np.float64).ravel()
            if self.difficulty == "spread":
                sig[te] = _spread(_fit_members(base, X[tr], y[tr], gens[tr], self.n_members,
                                               self.member_fraction, rng), X[te])
        if np.isnan(oof).any():
            raise ConfigError(f"{int(np.isnan(oof).sum())} items got no out-of-fold prediction")
        line = scale_line(oof, y) if rescale else None
        resid = y - _apply_line(line, oof)
        if self.difficulty == "residual":
            rmodel = self.residual_estimator if self.residual_estimator is not None else _default_residual_model()
            for f in folds:
                te, tr = f.test, f.train
                sig[te] = np.asarray(clone(rmodel).fit(X[tr], np.abs(resid[tr])).predict(X[te]), dtype=np.float64)
            self.residual_model_ = clone(rmodel).fit(X, np.abs(resid))
        floor = 1.0
        if self.difficulty is not None:
            pos = sig[np.isfinite(sig) & (sig > 0)]
            floor = max(float(np.quantile(pos, 0.05)) if pos.size else 1e-6, 1e-9)
            sig = np.maximum(np.nan_to_num(sig, nan=floor), floor)
        self.calibration_ = calibration_from_residuals(y, oof, gens, coverage=self.coverage, method=self.method,
                                                       sigma=sig, difficulty=self.difficulty, sigma_floor=floor,
                                                       rescale=rescale)
        self.oof_pred_, self.oof_sigma_, self.rescale_ = oof, sig, rescale
        self.estimator_ = _fit(clone(base), X, y, gens, pr)
        if self.difficulty == "spread":
            self.members_ = _fit_members(base, X, y, gens, self.n_members, self.member_fraction, rng)
        self.n_features_in_ = X.shape[1]
        return self

    def _raw_predict(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return np.asarray(self.estimator_.predict(np.asarray(X, dtype=np.float64)), dtype=np.float64).ravel()

    def predict(self, X) -> np.ndarray:
        """(n,) point predictions of the model fitted on all generators, on the label scale: mapped by the
        calibration's scale line when there is one (``estimator_.predict`` gives the model's own units)."""
        return self.calibration_.to_label_scale(self._raw_predict(X))

    def difficulty_of(self, X) -> np.ndarray:
        """(n,) σ(x) ≥ the calibration floor (ones without a difficulty model)."""
        check_is_fitted(self, "calibration_")
        X = np.asarray(X, dtype=np.float64)
        if self.difficulty == "spread":
            s = _spread(self.members_, X)
        elif self.difficulty == "residual":
            s = np.asarray(self.residual_model_.predict(X), dtype=np.float64)
        else:
            return np.ones(X.shape[0])
        return np.maximum(np.nan_to_num(s, nan=self.calibration_.sigma_floor), self.calibration_.sigma_floor)

    def predict_interval(self, X, coverage: float | None = None):
        """``(pred, low, high)``, each (n,) float64 in the units of y (label scale; ``pred`` = :meth:`predict`), at
        ``coverage`` (default ``self.coverage``) for items of a generator not seen in training."""
        raw = self._raw_predict(X)
        low, high = interval_from_calibration(raw, self.difficulty_of(X), self.calibration_, coverage)
        return self.calibration_.to_label_scale(raw), low, high

    def predict_group_interval(self, X, groups, coverage: float | None = None) -> pd.DataFrame:
        """Interval for each group's (generator's) mean human score: DataFrame with ``group``, ``n``,
        ``pred_mean``, ``pred_mean_low``, ``pred_mean_high`` (label scale; rows in order of first appearance)."""
        return _group_table(self._raw_predict(X), groups, self.calibration_, coverage)

    def calibration_dict(self) -> dict:
        """The calibration as a JSON-able dict (store it in the predictor's meta.json)."""
        check_is_fitted(self, "calibration_")
        return self.calibration_.to_dict()


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
    half = {}
    for g in uniq:
        te, tr = gens == g, gens != g
        cal = calibration_from_residuals(y[tr], p[tr], gens[tr], coverage=coverage, method=method, rescale=rescale)
        mapped[te] = cal.to_label_scale(p[te])
        lo[te], hi[te] = interval_from_calibration(p[te], None, cal)
        half[g] = cal.group_quantile() * float(cal.group_scale(int(te.sum())))
    variant = "out-of-fold (recipe fixed, not nested)" + ("; predictions mapped to the human scale by a line "
                                                          "fitted on the calibration generators" if rescale else "")
    return _study(y, mapped, lo, hi, gens, half, {"coverage": float(coverage), "difficulty": None, "method": method,
                                                  "split": split, "variant": variant})


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
    from ..predictors.pairwise import _sigmoid

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
        p_hat = _sigmoid(u[ia[sel]] - u[ib[sel]])
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
    from ..predictors.pairwise import _sigmoid

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
                    vals[j] = float(np.mean(_sigmoid(u[a] - ub)))
        todo = np.flatnonzero(np.isnan(vals))
        uh = u[idx_h]
        for s in range(0, todo.size, chunk):
            part = others[todo[s:s + chunk]]
            vals[todo[s:s + chunk]] = _sigmoid(u[part][:, None] - uh[None, :]).mean(axis=1)
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
