"""Pairwise (comparative) models that score SINGLE items: utility models trained on preferences.

Every model here learns a per-item utility ``u(x)`` such that ``P(a ≻ b) = σ(u(x_a) − u(x_b))``
(Bradley–Terry link) from pairwise preferences with soft labels (``preference`` = P(a preferred):
1 = a, 0 = b, 0.5 = tie, or a vote share). :meth:`predict` returns ``u`` for single items, so a
fitted model is used by ``score`` exactly like a per-item regressor, and saved with the usual
:func:`~judgenet.predictors.save_predictor`.

The sklearn entry point is ``fit(X, y)`` with ``X`` (n_items, n_features) the items and ``y`` a
**pair array** (n_pairs, 3 or 4) of ``(idx_a, idx_b, preference[, weight])`` rows (build it with
:func:`pair_array`). Because ``y`` rides along unchanged, these estimators can be the last step of a
``Pipeline`` (scaler → PCA → model): the transformers are fitted on the items only. ``score(X, y)``
is the weighted soft pairwise accuracy (2AFC; predicted ties 0.5), so ``GridSearchCV`` works too.

Families:

* :class:`BradleyTerry` — linear utility ``w·z`` (z standardized), L2-regularized logistic
  regression on feature differences.
* :class:`PairwiseMLP` — siamese utility network: :class:`~judgenet.predictors.MLPRegressor`
  trained through its ``fit_pairs`` (soft-label binary cross-entropy on σ(u_a − u_b)).
* :class:`PairwiseGB` — gradient-boosted regression trees on single items, fitted with the
  pairwise logistic objective (RankNet-style functional gradient boosting with Newton leaf values;
  sklearn has no pairwise objective and LightGBM/XGBoost are not dependencies).

Mixed evidence (Likert scores and pairs on the same items): :func:`likert_implied_pairs` turns
per-item Likert ratings into soft pairs among items of the same prompt; appended to the human
pairs with a weight, they make one combined Bradley–Terry loss (see its docstring).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor
from sklearn.utils.validation import check_is_fitted, validate_data

from ..errors import ConfigError
from .mlp import MLPRegressor

__all__ = ["BradleyTerry", "PairwiseMLP", "PairwiseGB", "preference_from_choice", "pair_array", "split_pairs",
           "pair_accuracy_terms", "pairwise_accuracy_soft", "likert_implied_pairs", "is_pairwise"]


def preference_from_choice(choice) -> np.ndarray:
    """Soft labels from pairwise choices: ``"a"`` → 1, ``"b"`` → 0, ``"tie"`` → 0.5 (as PickScore).

    Numbers in [0, 1] pass through (already a preference probability). Returns (n_pairs,) float64.
    """
    out = []
    for c in np.asarray(choice, dtype=object).ravel():
        if isinstance(c, str):
            key = c.strip().lower()
            if key not in ("a", "b", "tie"):
                raise ConfigError(f"pairwise choice must be 'a', 'b' or 'tie', got {c!r}")
            out.append({"a": 1.0, "b": 0.0, "tie": 0.5}[key])
        else:
            v = float(c)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"pairwise preference must lie in [0, 1], got {v}")
            out.append(v)
    return np.asarray(out, dtype=np.float64)


def pair_array(idx_a, idx_b, preference, weight=None) -> np.ndarray:
    """(n_pairs, 4) float64 ``[idx_a, idx_b, preference, weight]`` — the ``y`` of ``fit(X, y)``
    (weight 1 when not given)."""
    ia, ib = np.asarray(idx_a).ravel(), np.asarray(idx_b).ravel()
    p = np.asarray(preference, dtype=np.float64).ravel()
    w = np.ones_like(p) if weight is None else np.asarray(weight, dtype=np.float64).ravel()
    if not (ia.shape == ib.shape == p.shape == w.shape):
        raise ConfigError(f"idx_a, idx_b, preference and weight must have equal lengths, got "
                          f"{ia.size}, {ib.size}, {p.size}, {w.size}")
    return np.c_[ia.astype(np.float64), ib.astype(np.float64), p, w]


def split_pairs(y, n_items: int | None = None):
    """Check a pair array (n_pairs, 3 or 4) → ``(idx_a, idx_b, preference, weight)``.

    Raises :class:`~judgenet.errors.ConfigError` for a wrong shape, indices that are not
    integers in [0, n_items), an item paired with itself, preferences outside [0, 1] or negative /
    all-zero weights."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2 or y.shape[1] not in (3, 4) or y.shape[0] == 0:
        raise ConfigError(f"pairwise models expect y of shape (n_pairs, 3 or 4) = (idx_a, idx_b, preference"
                          f"[, weight]) with n_pairs >= 1, got {y.shape}; build it with pair_array()")
    if not np.isfinite(y).all():
        raise ConfigError("the pair array contains NaN/inf")
    ia, ib = y[:, 0], y[:, 1]
    if (ia != np.rint(ia)).any() or (ib != np.rint(ib)).any():
        raise ConfigError("pair indices (columns 0 and 1 of y) must be integers")
    ia, ib = ia.astype(np.intp), ib.astype(np.intp)
    hi = n_items if n_items is not None else np.inf
    if min(ia.min(), ib.min()) < 0 or max(ia.max(), ib.max()) >= hi:
        raise ConfigError(f"pair indices must lie in [0, {n_items}) (rows of X)")
    if (ia == ib).any():
        raise ConfigError(f"pair {int(np.flatnonzero(ia == ib)[0])} compares item {int(ia[ia == ib][0])} with "
                          "itself; expected two different items")
    p = y[:, 2]
    if ((p < 0) | (p > 1)).any():
        raise ConfigError("preference must lie in [0, 1] (1 = a preferred, 0 = b, 0.5 = tie)")
    w = y[:, 3] if y.shape[1] == 4 else np.ones(y.shape[0])
    if (w < 0).any() or not w.sum() > 0:
        raise ConfigError("pair weights must be >= 0 with a positive sum")
    return ia, ib, p, w


def pair_accuracy_terms(d, preference, tie_policy: str = "exclude") -> tuple[np.ndarray, np.ndarray]:
    """Per-pair ``(numerator, denominator)`` of 2AFC accuracy against the human majority — the one
    definition of pairwise accuracy for comparative labels. ``d`` (n,): predicted score difference
    s_a − s_b; ``preference`` (n,): soft human P(a preferred). A pair scores 1 when the higher-scored
    item is the human majority, 0 when it is the minority, 0.5 when the scores tie. Human ties
    (preference exactly 0.5): ``tie_policy="exclude"`` gives them denominator 0, ``"half"`` scores
    them 0.5 whatever the prediction. Accuracy over a set of pairs is Σ w·num / Σ w·den."""
    if tie_policy not in ("exclude", "half"):
        raise ConfigError(f"tie_policy must be one of ('exclude', 'half'), got {tie_policy!r}")
    d = np.asarray(d, dtype=np.float64)
    h = np.sign(np.asarray(preference, dtype=np.float64) - 0.5)
    s = np.sign(d)
    correct = np.where(s == 0, 0.5, (s == h).astype(np.float64))
    tie = h == 0
    if tie_policy == "exclude":
        return np.where(tie, 0.0, correct), (~tie).astype(np.float64)
    return np.where(tie, 0.5, correct), np.ones_like(d)


def pairwise_accuracy_soft(score_a, score_b, preference, weight=None) -> float:
    """Weighted 2AFC of utilities against soft labels (:func:`pair_accuracy_terms`, human ties
    excluded). NaN when every pair is a human tie."""
    d = np.asarray(score_a, dtype=np.float64) - np.asarray(score_b, dtype=np.float64)
    num, den = pair_accuracy_terms(d, preference)
    w = np.ones_like(d) if weight is None else np.asarray(weight, dtype=np.float64)
    if not (den > 0).any():
        return float("nan")
    return float((w * num).sum() / (w * den).sum())


class _PairwiseMixin:
    """``fit(X, pair_array)``, ``predict_proba_pairs``, pairwise ``score`` and the pairwise tag."""

    _judgenet_kind = "pairwise"

    def fit(self, X, y, sample_weight=None):
        """X (n_items, n_features); y the pair array (n_pairs, 3 or 4), see :func:`pair_array`;
        ``sample_weight`` (n_pairs,) multiplies the weight column. Returns self."""
        X = np.asarray(X, dtype=np.float64) if not hasattr(X, "iloc") else X
        ia, ib, p, w = split_pairs(y, len(X))
        if sample_weight is not None:
            w = w * np.asarray(sample_weight, dtype=np.float64).ravel()
        return self.fit_pairs(X, ia, ib, p, sample_weight=w)

    def predict_proba_pairs(self, X, idx_a, idx_b) -> np.ndarray:
        """(n_pairs,) P(a ≻ b) = σ(u_a − u_b)."""
        u = np.asarray(self.predict(X), dtype=np.float64)
        return expit(u[np.asarray(idx_a, dtype=np.intp)] - u[np.asarray(idx_b, dtype=np.intp)])

    def score(self, X, y, sample_weight=None) -> float:
        """Weighted pairwise accuracy (2AFC) of the utilities on the pair array ``y``."""
        ia, ib, p, w = split_pairs(y, len(X))
        if sample_weight is not None:
            w = w * np.asarray(sample_weight, dtype=np.float64).ravel()
        u = np.asarray(self.predict(X), dtype=np.float64)
        return pairwise_accuracy_soft(u[ia], u[ib], p, w)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.two_d_labels = True
        return tags


def is_pairwise(estimator) -> bool:
    """True for a pairwise utility model (or a Pipeline ending in one)."""
    last = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    return getattr(last, "_judgenet_kind", None) == "pairwise"


def _check_pairs(X, ia, ib, p, w):
    ia, ib = np.asarray(ia, dtype=np.intp).ravel(), np.asarray(ib, dtype=np.intp).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    w = np.ones_like(p) if w is None else np.asarray(w, dtype=np.float64).ravel()
    return split_pairs(pair_array(ia, ib, p, w), X.shape[0])


class BradleyTerry(_PairwiseMixin, BaseEstimator):
    """Linear Bradley–Terry scorer s(x) = w·z, z the standardized features, fitted on pairwise preferences.

    P(a ≻ b) = σ(s(x_a) − s(x_b)); trained by L2-regularized logistic regression on standardized
    feature differences with soft labels (ties 0.5, as PickScore): each pair contributes both
    (x_a − x_b, 1) with weight p and (x_a − x_b, 0) with weight 1 − p, and the mirrored pair, so
    the model is antisymmetric and needs no intercept. :meth:`predict` gives the per-item score.

    Parameters: ``C`` inverse regularization strength, ``max_iter`` solver iterations.
    Fitted attributes: ``scaler_``, ``clf_``, ``coef_`` (n_features,) in standardized units.
    """

    def __init__(self, C=1.0, max_iter=1000):
        self.C = C
        self.max_iter = max_iter

    def fit_pairs(self, X, idx_a, idx_b, preference, sample_weight=None):
        """X (n_items, n_features); idx_a, idx_b (n_pairs,) item indices; preference (n_pairs,) in
        [0, 1], P(a preferred) — 1 = a, 0 = b, 0.5 = tie; sample_weight (n_pairs,) optional.
        Returns self."""
        X = validate_data(self, X, dtype=np.float64)
        ia, ib, p, sw = _check_pairs(X, idx_a, idx_b, preference, sample_weight)
        self.scaler_ = StandardScaler().fit(X)
        Z = self.scaler_.transform(X)
        D = Z[ia] - Z[ib]
        # symmetrize so the intercept is 0 by construction
        Xd = np.vstack([D, -D, D, -D])
        yd = np.r_[np.ones(len(D)), np.zeros(len(D)), np.zeros(len(D)), np.ones(len(D))]
        w = np.r_[p, p, 1 - p, 1 - p] * np.r_[sw, sw, sw, sw]
        keep = w > 0
        if np.unique(yd[keep]).size < 2:  # cannot happen after mirroring, kept as a guard
            raise ConfigError("pairwise preferences carry no information (all weights zero)")
        self.clf_ = LogisticRegression(C=self.C, max_iter=self.max_iter, fit_intercept=False)
        self.clf_.fit(Xd[keep], yd[keep], sample_weight=w[keep])  # weight 2 = the pair judged twice
        self.coef_ = self.clf_.coef_.ravel()
        return self

    def predict(self, X):
        """(n_items,) scores; higher = preferred."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.scaler_.transform(X) @ self.coef_


class PairwiseMLP(_PairwiseMixin, MLPRegressor):
    """Siamese utility network: :class:`~judgenet.predictors.MLPRegressor` (same parameters)
    trained with :meth:`~judgenet.predictors.MLPRegressor.fit_pairs` — soft-label binary
    cross-entropy of σ(u(x_a) − u(x_b)) against the preference, pairs weighted by
    ``sample_weight``; early stopping holds out pairs. :meth:`predict` gives u(x)."""

    def fit_pairs(self, X, idx_a, idx_b, preference, sample_weight=None):
        X = np.asarray(X, dtype=np.float64)
        ia, ib, p, w = _check_pairs(X, idx_a, idx_b, preference, sample_weight)
        return MLPRegressor.fit_pairs(self, X, ia, ib, p, sample_weight=w)


class PairwiseGB(_PairwiseMixin, BaseEstimator):
    """Gradient-boosted utility u(x) = Σ_m ν·f_m(x) of regression trees on single items, fitted
    with the pairwise logistic (Bradley–Terry) loss L = Σ_pairs w·BCE(σ(u_a − u_b), p).

    Each round computes, per item, the gradient g_i = Σ_pairs ∂L/∂u_i and the Gauss–Newton
    Hessian h_i = Σ_pairs w·q(1 − q) (q = σ(u_a − u_b)); a tree (``max_depth``,
    ``min_samples_leaf``) is fitted to −g_i/h_i with weights h_i on the items that occur in
    pairs (a random ``subsample`` of them), and every leaf gets the Newton value
    −Σg/(Σh + ``l2``), scaled by ``learning_rate``. This is RankNet's objective with trees
    (LambdaMART without the NDCG reweighting): the documented alternative to a library pairwise
    objective, since sklearn has none.

    Fitted attributes: ``trees_`` (list of DecisionTreeRegressor), ``leaf_values_`` (list of
    arrays, tree node → value), ``train_loss_`` (weighted mean loss per round), ``n_features_in_``.
    """

    def __init__(self, n_estimators=200, learning_rate=0.1, max_depth=3, min_samples_leaf=5, l2=1.0,
                 subsample=1.0, random_state=None):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2 = l2
        self.subsample = subsample
        self.random_state = random_state

    def fit_pairs(self, X, idx_a, idx_b, preference, sample_weight=None):
        X = validate_data(self, X, dtype=np.float64)
        ia, ib, p, w = _check_pairs(X, idx_a, idx_b, preference, sample_weight)
        if int(self.n_estimators) < 1 or not float(self.learning_rate) > 0 or float(self.l2) < 0 \
                or not 0 < float(self.subsample) <= 1:
            raise ConfigError("PairwiseGB needs n_estimators >= 1, learning_rate > 0, l2 >= 0, 0 < subsample <= 1")
        n = X.shape[0]
        used = np.flatnonzero(np.bincount(ia, minlength=n) + np.bincount(ib, minlength=n))
        rng = np.random.default_rng(self.random_state if isinstance(self.random_state, (int, np.integer))
                                    else None)
        u = np.zeros(n)
        self.trees_, self.leaf_values_, self.train_loss_ = [], [], []
        for _ in range(int(self.n_estimators)):
            q = expit(u[ia] - u[ib])
            gp, hp = w * (q - p), w * q * (1.0 - q)
            g = np.bincount(ia, gp, n) - np.bincount(ib, gp, n)
            h = np.bincount(ia, hp, n) + np.bincount(ib, hp, n)
            rows = used if self.subsample >= 1 else rng.choice(used, max(2, int(self.subsample * used.size)),
                                                               replace=False)
            hr = np.maximum(h[rows], 1e-12)
            tree = DecisionTreeRegressor(max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf,
                                         random_state=int(rng.integers(2**31 - 1)))
            tree.fit(X[rows], -g[rows] / hr, sample_weight=hr)
            leaves = tree.apply(X[rows])
            size = tree.tree_.node_count
            values = -np.bincount(leaves, g[rows], size) / (np.bincount(leaves, h[rows], size) + float(self.l2))
            values *= float(self.learning_rate)
            u += values[tree.apply(X)]
            self.trees_.append(tree)
            self.leaf_values_.append(values)
            eps = 1e-12
            qn = np.clip(expit(u[ia] - u[ib]), eps, 1 - eps)
            self.train_loss_.append(float(np.sum(-w * (p * np.log(qn) + (1 - p) * np.log(1 - qn))) / w.sum()))
        return self

    def predict(self, X):
        """(n_items,) utilities; higher = preferred."""
        check_is_fitted(self, "trees_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        u = np.zeros(X.shape[0])
        for tree, values in zip(self.trees_, self.leaf_values_):
            u += values[tree.apply(X)]
        return u


def likert_implied_pairs(items, scores, prompts=None, *, weight: float = 1.0) -> np.ndarray:
    """Soft pairs implied by per-item Likert ratings, for the mixed-evidence loss.

    Args:
        items: (n_judgments,) item index (row of X) of each Likert judgment.
        scores: (n_judgments,) the ratings.
        prompts: (n_judgments,) prompt of each judgment's item; pairs are formed only among items
            of the same prompt (as side-by-side pairs are). None: all items form one group.
        weight: weight of each implied pair relative to one human pairwise judgment.

    For two items i, j the implied preference is P(R_i > R_j) + ½·P(R_i = R_j) with R_i a random
    rating of item i (the items' empirical rating distributions, independent): the chance a
    random Likert rating of i beats one of j. **Combined loss** (documented choice): the
    Bradley–Terry loss over the human pairs plus ``weight`` × the same loss over these implied
    pairs — one utility, one link, no extra scale parameter. Returns a pair array (n, 4).
    """
    items = np.asarray(items, dtype=np.intp).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    groups = np.zeros(items.size, dtype=object) if prompts is None else np.asarray(prompts, dtype=object).ravel()
    out = []
    for g in pd.unique(pd.Series(groups).astype(str)):
        sel = pd.Series(groups).astype(str).to_numpy() == g
        it, ii = np.unique(items[sel], return_inverse=True)
        if it.size < 2:
            continue
        lv, li = np.unique(scores[sel], return_inverse=True)
        H = np.zeros((it.size, lv.size))
        np.add.at(H, (ii, li), 1.0)
        H /= H.sum(axis=1, keepdims=True)  # each item's rating distribution over the levels
        below = np.cumsum(H, axis=1) - H  # P(R_j < level)
        pref = H @ below.T + 0.5 * (H @ H.T)  # P(R_i > R_j) + ½ P(R_i = R_j)
        x, y = np.triu_indices(it.size, 1)
        out.append(np.c_[it[x], it[y], pref[x, y], np.full(x.size, float(weight))])
    if not out:
        return np.empty((0, 4))
    return np.vstack(out).astype(np.float64)
