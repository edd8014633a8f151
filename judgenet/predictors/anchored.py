"""A learned predictor anchored on a raw metric: a shrunk correction on top of it.

``AnchoredRegressor`` predicts, in the units of the raw metric ``z = X[:, anchor]`` (e.g. raw MID),

    z + shrink * g(x)

where ``g`` is a regressor fitted on the feature columns to the residual of the human scores after
their least-squares line on the anchor, expressed in anchor units: ``(y - a - b z) / b``. With
shrink 0 the prediction *is* the raw metric — not a per-fold refit of it: under cross-validation,
refitted lines differ in intercept from fold to fold, and those offsets alone scramble the pooled
ranking (measured on the built-in world's crossed split: a per-fold line on raw MID scored an inner
pooled tau-b of -0.13 to -0.30 where raw MID itself scores +0.13). When the anchor does not increase
with the scores on the training data (b <= 0), the correction is not used. With
``shrink="auto"`` the shrinkage is chosen on the training data by an inner **crossed** split (held-out
generators x held-out prompt folds, via :func:`judgenet.evaluation.make_folds`) when ``fit`` receives
``generators=`` and ``prompts=`` (:func:`judgenet.evaluation.evaluate` passes them to estimators whose
``fit`` accepts them), else by plain K-fold over rows. The grid includes 0, so when the correction has no
support in the inner folds the model falls back to the anchor itself: it never ranks worse than the raw
metric on its own selection folds, and on new data it differs from the raw metric only by what the
inner folds supported.

Settings: ``anchor`` (column index), ``estimator`` (the correction model; None = the ``hist_gb``
recipe), ``shrink`` ("auto" or a number in [0, 1]), ``shrink_grid``, ``inner_prompt_folds``,
``inner_generator_groups`` (inner generator folds: generators are dealt into this many groups, so the
inner search costs groups x prompt folds fits, not generators x prompt folds), ``random_state``.
Fitted: ``intercept_``, ``slope_``, ``correction_`` (None when the chosen shrink is 0), ``shrink_``,
``inner_scores_`` ({shrink: inner pooled Kendall tau-b}).

Registered as the ``anchored`` family (``make_predictor("anchored")``); there it sits in a scaler
Pipeline whose ``fit`` does not take groups, so the shrinkage falls back to row K-fold — pass the bare
estimator to :func:`judgenet.evaluation.evaluate` for the crossed inner selection. Do not combine with
PCA: the anchor must stay a raw column.
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

__all__ = ["AnchoredRegressor", "accepts_groups"]


def accepts_groups(estimator) -> bool:
    """Whether ``estimator.fit`` takes ``generators=`` and ``prompts=`` keyword arguments."""
    try:
        params = inspect.signature(estimator.fit).parameters
    except (TypeError, ValueError):
        return False
    return "generators" in params and "prompts" in params


def _tau(y, p) -> float:
    from ..stats import MEASURES

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = MEASURES["kendall_tau_b"](y, p)
    return float(v) if np.isfinite(v) else -1.0


class AnchoredRegressor(RegressorMixin, BaseEstimator):
    """Raw metric + shrunk learned correction (see the module docstring)."""

    def __init__(self, anchor=0, estimator=None, shrink="auto", shrink_grid=(0.0, 0.25, 0.5, 0.75, 1.0),
                 inner_prompt_folds=3, inner_generator_groups=3, random_state=0):
        self.anchor = anchor
        self.estimator = estimator
        self.shrink = shrink
        self.shrink_grid = shrink_grid
        self.inner_prompt_folds = inner_prompt_folds
        self.inner_generator_groups = inner_generator_groups
        self.random_state = random_state

    # -- parts -----------------------------------------------------------------------------------
    def _correction(self):
        if self.estimator is not None:
            return clone(self.estimator)
        from .recipes import make_predictor

        return make_predictor("hist_gb", random_state=self.random_state)

    @staticmethod
    def _line(z, y) -> tuple[float, float]:
        zc = z - z.mean()
        den = float(zc @ zc)
        b = float(zc @ (y - y.mean()) / den) if den > 0 else 0.0
        return float(y.mean() - b * z.mean()), b

    def _inner_folds(self, n, generators, prompts):
        if generators is not None and prompts is not None:
            from ..folds import make_folds

            gens = np.asarray(generators).astype(str)
            uniq = np.unique(gens)
            k = max(2, min(int(self.inner_generator_groups), uniq.size))
            deal = np.random.default_rng(self.random_state).permutation(uniq.size) % k
            group_of = dict(zip(uniq, deal.astype(str)))
            n_p = min(int(self.inner_prompt_folds), np.unique(np.asarray(prompts).astype(str)).size)
            if n_p >= 2:
                return [(f.train, f.test) for f in make_folds([group_of[g] for g in gens], prompts, split="crossed",
                                                             n_prompt_folds=n_p, seed=self.random_state)
                        if f.train.size > 2]
        from sklearn.model_selection import KFold

        return list(KFold(5, shuffle=True, random_state=self.random_state).split(np.arange(n)))

    # -- sklearn API -----------------------------------------------------------------------------
    def fit(self, X, y, generators=None, prompts=None):
        """Fit on X (n, p) float, y (n,) scores; ``generators``/``prompts`` (n,) enable the crossed
        inner selection of the shrinkage."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).ravel()
        if X.ndim != 2 or X.shape[0] != y.size:
            raise ValueError(f"X {X.shape} and y {y.shape} disagree")
        z = X[:, int(self.anchor)]
        self.intercept_, self.slope_ = self._line(z, y)
        if not self.slope_ > 0:  # the anchor does not rise with the scores: keep it as it is
            self.shrink_, self.inner_scores_, self.correction_ = 0.0, {}, None
            self.n_features_in_ = X.shape[1]
            return self
        grid = [float(s) for s in (self.shrink_grid if self.shrink == "auto" else (self.shrink,))]
        if any(not 0.0 <= s <= 1.0 for s in grid):
            raise ValueError(f"shrink values must lie in [0, 1], got {grid}")
        scores = {}
        if len(grid) > 1:
            corr = np.full(y.size, np.nan)
            for tr, te in self._inner_folds(y.size, generators, prompts):
                a, b = self._line(z[tr], y[tr])
                if not b > 0:
                    corr[te] = 0.0
                    continue
                r = (y[tr] - (a + b * z[tr])) / b
                corr[te] = np.asarray(self._correction().fit(X[tr], r).predict(X[te]), dtype=np.float64)
            ok = np.isfinite(corr)
            scores = {s: _tau(y[ok], z[ok] + s * corr[ok]) for s in grid}
            best = max(scores.values())
            self.shrink_ = min(s for s in grid if scores[s] >= best - 1e-12)  # ties: the smaller correction
        else:
            self.shrink_ = grid[0]
        self.inner_scores_ = scores
        resid = (y - (self.intercept_ + self.slope_ * z)) / self.slope_
        self.correction_ = self._correction().fit(X, resid) if self.shrink_ > 0 else None
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        check_is_fitted(self, "shrink_")
        X = np.asarray(X, dtype=np.float64)
        out = X[:, int(self.anchor)].copy()
        if self.correction_ is not None:
            out = out + self.shrink_ * np.asarray(self.correction_.predict(X), dtype=np.float64).ravel()
        return out
