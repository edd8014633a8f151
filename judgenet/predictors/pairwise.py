"""Pairwise (comparative) models that score SINGLE items: utility models trained on preferences.

P(a ≻ b) = σ(u(x_a) − u(x_b)); :meth:`predict` gives the per-item utility u, so a fitted model is
used by ``score`` exactly like a per-item regressor.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from ..errors import ConfigError

__all__ = ["BradleyTerry", "preference_from_choice"]


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


class BradleyTerry(BaseEstimator):
    """Linear Bradley–Terry scorer s(x) = w·x fitted on pairwise preferences.

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

    def fit(self, X, y):
        """Same as :meth:`fit_pairs` with ``y`` an (n_pairs, 3) array of ``(idx_a, idx_b, preference)``
        rows (so the scorer has the usual ``fit`` entry point); X is (n_items, n_features)."""
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 2 or y.shape[1] != 3:
            raise ConfigError(f"BradleyTerry.fit expects y of shape (n_pairs, 3) = (idx_a, idx_b, preference), "
                              f"got {y.shape}; or call fit_pairs(X, idx_a, idx_b, preference)")
        return self.fit_pairs(X, y[:, 0].astype(int), y[:, 1].astype(int), y[:, 2])

    def fit_pairs(self, X, idx_a, idx_b, preference):
        """X (n_items, n_features); idx_a, idx_b (n_pairs,) item indices; preference (n_pairs,) in
        [0, 1], P(a preferred) — 1 = a, 0 = b, 0.5 = tie. Returns self."""
        X = validate_data(self, X, dtype=np.float64)
        ia, ib = np.asarray(idx_a, dtype=int), np.asarray(idx_b, dtype=int)
        p = np.asarray(preference, dtype=np.float64)
        if not (ia.shape == ib.shape == p.shape) or ia.size == 0:
            raise ConfigError("idx_a, idx_b and preference must be non-empty and of equal length")
        if ((p < 0) | (p > 1)).any():
            raise ConfigError("preference must lie in [0, 1] (1 = a preferred, 0 = b, 0.5 = tie)")
        if min(ia.min(), ib.min()) < 0 or max(ia.max(), ib.max()) >= X.shape[0]:
            raise ConfigError(f"pair indices must lie in [0, {X.shape[0]})")
        self.scaler_ = StandardScaler().fit(X)
        Z = self.scaler_.transform(X)
        D = Z[ia] - Z[ib]
        # symmetrize so the intercept is 0 by construction
        Xd = np.vstack([D, -D, D, -D])
        yd = np.r_[np.ones(len(D)), np.zeros(len(D)), np.zeros(len(D)), np.ones(len(D))]
        w = np.r_[p, p, 1 - p, 1 - p]
        keep = w > 0
        self.clf_ = LogisticRegression(C=self.C, max_iter=self.max_iter, fit_intercept=False)
        self.clf_.fit(Xd[keep], yd[keep], sample_weight=w[keep])
        self.coef_ = self.clf_.coef_.ravel()
        return self

    def predict(self, X):
        """(n_items,) scores; higher = preferred."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.scaler_.transform(X) @ self.coef_

    def predict_proba_pairs(self, X, idx_a, idx_b):
        """(n_pairs,) P(a ≻ b)."""
        s = self.predict(X)
        return 1.0 / (1.0 + np.exp(-(s[np.asarray(idx_a)] - s[np.asarray(idx_b)])))
