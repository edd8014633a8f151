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
metric (raw MID + a shrunk correction; :attr:`judgenet.predictors.families.Family.label_units` is False).
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

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

from ..errors import ConfigError
from .calibration import (Calibration, _apply_line, _group_table, calibration_from_residuals, conformal_quantile,
                          interval_from_calibration, scale_line, score_intervals)

__all__ = ["ConformalPredictor", "DIFFICULTIES", "conformal_quantile", "Calibration", "interval_from_calibration",
           "scale_line", "score_intervals", "calibration_from_residuals"]

log = logging.getLogger(__name__)

DIFFICULTIES = ("spread", "residual", None)


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

    from ..predictors.families import FAMILIES

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
            intervals at equal coverage (docs/intervals-and-selection.md, measured), so the default is None.
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
            a family of :data:`judgenet.predictors.families.FAMILIES` whose ``label_units`` is False (e.g.
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
