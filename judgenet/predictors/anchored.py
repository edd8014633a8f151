"""A learned predictor anchored on a raw metric: a shrunk correction on top of it.

``AnchoredRegressor`` predicts, in the units of the raw metric ``z`` (the column named ``anchor``, by default
``mid_pmi``: raw per-sample MID),

    z + shrink * g(x)

where ``g`` is a regressor fitted on the feature columns to the residual of the human scores after their
least-squares line on the anchor, expressed in anchor units: ``(y - a - b z) / b``. With shrink 0 the prediction
*is* the raw metric — not a per-fold refit of it: under cross-validation, refitted lines differ in intercept from
fold to fold, and those offsets alone scramble the pooled ranking (measured on the built-in world's crossed split: a
per-fold line on raw MID scored an inner pooled tau-b of -0.13 to -0.30 where raw MID itself scores +0.13). When
the anchor does not increase with the scores on the training data (b <= 0), the correction is not used.

The correction ``g`` is by default a ridge regression on standardized features (``alpha`` 100): on the built-in
world it ranks held-out generators as well as or better than the earlier gradient-boosted correction on both
splits at ~1/50 of the cost (``benchmarks/README.md``, "Demo speed").

With ``shrink="auto"`` the shrinkage is chosen on the training data by an inner split over the training part's
generators: **crossed** (held-out generator groups x held-out prompt folds, :func:`judgenet.folds.make_folds`)
when ``fit`` gets ``generators=`` and ``prompts=``, held-out generator groups when it gets only ``generators=``.
Without them ``fit`` refuses (``inner="rows"`` asks for plain K-fold over rows explicitly). The grid includes 0,
so when the correction has no support in the inner folds the model falls back to the anchor itself.

``generators``/``prompts`` reach ``fit`` through scikit-learn's metadata routing: the estimator requests them by
default, so a :class:`~sklearn.pipeline.Pipeline`, ``GridSearchCV`` or the conformal wrapper routes them when
routing is on (``sklearn.set_config(enable_metadata_routing=True)``, or :func:`fit_routed`, which turns it on for
one fit). judgenet's held-out protocol and conformal calibration fit through :func:`fit_routed`.

The anchor is found **by name**: in ``feature_names`` (the names of the columns ``fit`` receives; set by
``Recipe.build(feature_names=...)``) or in the columns of a DataFrame ``X``. Features without that column are
refused with one line (raw MID needs a text tower); an int ``anchor`` selects a column by position explicitly.

Settings: ``anchor`` (column name, or an int position), ``feature_names``, ``estimator`` (the correction; None =
standardized ridge, ``alpha`` 100), ``shrink`` ("auto" or a number in [0, 1]), ``shrink_grid``, ``inner``
("groups" or "rows"), ``inner_prompt_folds``, ``inner_generator_groups`` (generators are dealt into this many
groups, so the inner search costs groups x prompt folds fits), ``random_state``. Fitted: ``anchor_index_``,
``intercept_``, ``slope_``, ``correction_`` (None when the chosen shrink is 0), ``shrink_``, ``inner_scores_``
({shrink: inner pooled Kendall tau-b}), ``inner_split_``.

Registered as the ``anchored`` family (``make_predictor("anchored")``, a bare estimator: no scaler, no PCA — the
anchor must stay a raw column).
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

from ..errors import ConfigError

__all__ = ["AnchoredRegressor", "StandardRidge", "accepts_groups", "fit_routed", "DEFAULT_ANCHOR"]

DEFAULT_ANCHOR = "mid_pmi"
"""The raw-MID column of judgenet's feature matrices."""
GROUP_PARAMS = ("generators", "prompts")


def accepts_groups(estimator) -> bool:
    """Whether fitting ``estimator`` consumes ``generators=`` and ``prompts=`` under scikit-learn's metadata routing
    (the estimator itself or a step of a Pipeline / a meta-estimator that routes them)."""
    import sklearn
    from sklearn.utils.metadata_routing import get_routing_for_object

    with sklearn.config_context(enable_metadata_routing=True):
        try:
            consumed = get_routing_for_object(estimator).consumes("fit", GROUP_PARAMS)
        except (AttributeError, TypeError, ValueError):  # not an sklearn estimator, or no routing for it
            return False
    return set(consumed) == set(GROUP_PARAMS)


def fit_routed(estimator, X, y, generators=None, prompts=None):
    """``estimator.fit(X, y)``, routing ``generators``/``prompts`` to every part that requests them (metadata
    routing switched on for this fit only); estimators that request neither are fitted as ``fit(X, y)``."""
    if generators is None or not accepts_groups(estimator):
        return estimator.fit(X, y)
    import sklearn

    with sklearn.config_context(enable_metadata_routing=True):
        return estimator.fit(X, y, generators=generators, prompts=prompts)


def _tau(y, p) -> float:
    from ..stats import MEASURES

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = MEASURES["kendall_tau_b"](y, p)
    return float(v) if np.isfinite(v) else -1.0


class StandardRidge(RegressorMixin, BaseEstimator):
    """Ridge regression (intercept not penalized) on standardized columns, in closed form: the same model as
    ``Pipeline([StandardScaler(), Ridge(alpha)])`` (``make_predictor("ridge", alpha=...)``) without its per-fit
    validation overhead — the anchored model's default correction, fitted once per inner and outer fold."""

    def __init__(self, alpha=100.0):
        self.alpha = alpha

    def fit(self, X, y):
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).ravel()
        self.mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.scale_ = np.where(scale > 10 * np.finfo(np.float64).eps * np.maximum(np.abs(self.mean_), 1.0), scale, 1.0)
        Z = (X - self.mean_) / self.scale_
        Z -= Z.mean(axis=0)  # exact centring after the division (as Ridge centres its input)
        yc = y - y.mean()
        self.coef_ = np.linalg.solve(Z.T @ Z + float(self.alpha) * np.eye(Z.shape[1]), Z.T @ yc)
        self.intercept_ = float(y.mean() - ((X - self.mean_) / self.scale_).mean(axis=0) @ self.coef_)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        check_is_fitted(self, "coef_")
        return ((np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_) @ self.coef_ + self.intercept_


class AnchoredRegressor(RegressorMixin, BaseEstimator):
    """Raw metric + shrunk learned correction (see the module docstring)."""

    # metadata routing: request the training part's generators and prompts by default (Pipelines, GridSearchCV and
    # the conformal wrapper route them when routing is on)
    __metadata_request__fit = {"generators": True, "prompts": True}

    def __init__(self, anchor=DEFAULT_ANCHOR, feature_names=None, estimator=None, shrink="auto",
                 shrink_grid=(0.0, 0.25, 0.5, 0.75, 1.0), inner="groups", inner_prompt_folds=3,
                 inner_generator_groups=3, random_state=0):
        self.anchor = anchor
        self.feature_names = feature_names
        self.estimator = estimator
        self.shrink = shrink
        self.shrink_grid = shrink_grid
        self.inner = inner
        self.inner_prompt_folds = inner_prompt_folds
        self.inner_generator_groups = inner_generator_groups
        self.random_state = random_state

    # -- parts -----------------------------------------------------------------------------------
    def _correction(self):
        return StandardRidge(100.0) if self.estimator is None else clone(self.estimator)

    def _anchor_index(self, X) -> int:
        """Position of the anchor column: ``anchor`` itself when an int, else its name's position in
        ``feature_names`` or in the DataFrame's columns."""
        p = X.shape[1]
        if isinstance(self.anchor, (int, np.integer)) and not isinstance(self.anchor, bool):
            if not 0 <= int(self.anchor) < p:
                raise ConfigError(f"anchored: anchor column {self.anchor} is outside the {p} feature columns")
            return int(self.anchor)
        names = self.feature_names
        if names is None and hasattr(X, "columns"):
            names = [str(c) for c in X.columns]
        if names is None:
            raise ConfigError(f"anchored finds its anchor column {self.anchor!r} by name but got no feature names: "
                              "build it with Recipe.build(feature_names=...) / AnchoredRegressor(feature_names=...), "
                              "or fit it on a DataFrame")
        names = [str(n) for n in names]
        if len(names) != p:
            raise ConfigError(f"anchored: {len(names)} feature names for {p} columns; feature_names must name the "
                              "columns fit receives")
        if self.anchor not in names:
            raise ConfigError(f"anchored anchors on the column {self.anchor!r} (raw MID), which these features lack "
                              f"(have {', '.join(names[:6])}{' ...' if len(names) > 6 else ''}): raw MID needs a "
                              "backbone with a text tower (e.g. --backbone tiny or open_clip); or choose another "
                              "model, or anchor=<another column name>")
        return names.index(self.anchor)

    @staticmethod
    def _line(z, y) -> tuple[float, float]:
        zc = z - z.mean()
        den = float(zc @ zc)
        b = float(zc @ (y - y.mean()) / den) if den > 0 else 0.0
        return float(y.mean() - b * z.mean()), b

    def _inner_split(self, generators, prompts) -> str:
        """The inner split the data allow: ``rows``, ``crossed`` or ``generator``."""
        if self.inner == "rows":
            return "rows"
        n_p = 0 if prompts is None else min(int(self.inner_prompt_folds),
                                            np.unique(np.asarray(prompts).astype(str)).size)
        return "crossed" if n_p >= 2 else "generator"

    def _inner_folds(self, n, generators, prompts):
        """Inner (train, test) index pairs (:meth:`_inner_split`)."""
        if self.inner == "rows":
            from sklearn.model_selection import KFold

            return list(KFold(5, shuffle=True, random_state=self.random_state).split(np.arange(n)))
        if self.inner != "groups":
            raise ConfigError(f"anchored: inner must be 'groups' or 'rows', got {self.inner!r}")
        if generators is None:
            raise ConfigError("anchored chooses its shrinkage on held-out generators: fit(X, y, generators=, "
                              "prompts=) (inside a Pipeline or GridSearchCV: sklearn.set_config("
                              "enable_metadata_routing=True), or judgenet.predictors.anchored.fit_routed); "
                              "inner='rows' for plain K-fold over rows")
        from ..folds import make_folds

        gens = np.asarray(generators).astype(str)
        if gens.size != n:
            raise ConfigError(f"anchored: {gens.size} generators for {n} rows")
        uniq = np.unique(gens)
        if uniq.size < 2:
            raise ConfigError(f"anchored: the inner split over generators needs >= 2 training generators, got "
                              f"{list(uniq)}; inner='rows' for plain K-fold over rows")
        k = max(2, min(int(self.inner_generator_groups), uniq.size))
        deal = np.random.default_rng(self.random_state).permutation(uniq.size) % k
        group_of = dict(zip(uniq, deal.astype(str)))
        groups = [group_of[g] for g in gens]
        if self._inner_split(generators, prompts) == "crossed":
            n_p = min(int(self.inner_prompt_folds), np.unique(np.asarray(prompts).astype(str)).size)
            folds = make_folds(groups, prompts, split="crossed", n_prompt_folds=n_p, seed=self.random_state)
        else:
            folds = make_folds(groups, None, split="generator", seed=self.random_state)
        return [(f.train, f.test) for f in folds if f.train.size > 2]

    # -- sklearn API -----------------------------------------------------------------------------
    def fit(self, X, y, generators=None, prompts=None):
        """Fit on X (n, p) float, y (n,) scores; ``generators``/``prompts`` (n,) of the rows drive the inner
        selection of the shrinkage (required unless ``shrink`` is a number or ``inner="rows"``)."""
        grid = [float(s) for s in (self.shrink_grid if self.shrink == "auto" else (self.shrink,))]
        if any(not 0.0 <= s <= 1.0 for s in grid):
            raise ConfigError(f"anchored: shrink values must lie in [0, 1], got {grid}")
        idx = self._anchor_index(X)
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).ravel()
        if X.ndim != 2 or X.shape[0] != y.size:
            raise ConfigError(f"anchored: X {X.shape} and y {y.shape} disagree")
        self.anchor_index_ = idx
        self.n_features_in_ = X.shape[1]
        z = X[:, idx]
        self.intercept_, self.slope_ = self._line(z, y)
        if not self.slope_ > 0:  # the anchor does not rise with the scores: keep it as it is
            self.shrink_, self.inner_scores_, self.correction_, self.inner_split_ = 0.0, {}, None, None
            return self
        scores, self.inner_split_ = {}, None
        if len(grid) > 1:
            folds = self._inner_folds(y.size, generators, prompts)
            self.inner_split_ = self._inner_split(generators, prompts)
            corr = np.full(y.size, np.nan)
            for tr, te in folds:
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
        return self

    def predict(self, X):
        check_is_fitted(self, "shrink_")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ConfigError(f"anchored: X has {X.shape[-1]} columns, the model was fitted on {self.n_features_in_}")
        out = X[:, self.anchor_index_].copy()
        if self.correction_ is not None:
            out = out + self.shrink_ * np.asarray(self.correction_.predict(X), dtype=np.float64).ravel()
        return out
