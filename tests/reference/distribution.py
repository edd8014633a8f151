"""Brute-force loops written from the papers' definitions (no judgenet code)."""
from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

__all__ = ["mmd2_loops", "brute_precision_recall", "brute_realism"]


def mmd2_loops(x, y, degree: int = 3, gamma: float | None = None, coef: float = 1.0) -> float:
    """Unbiased MMD² with the polynomial kernel (γ a·b + coef)^degree, γ = 1/D (Bińkowski et al. 2018), by loops."""
    m, d = len(x), x.shape[1]
    g = 1.0 / d if gamma is None else gamma
    k = lambda a, b: (g * float(a @ b) + coef) ** degree  # noqa: E731
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    syy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return sxx / (m * (m - 1)) + syy / (m * (m - 1)) - 2 * sxy / (m * m)


def brute_precision_recall(real, fake, k: int):
    """(precision, recall, real k-NN radii) of Kynkäänniemi et al. 2019 by explicit membership loops."""
    drr, dff, dfr = cdist(real, real), cdist(fake, fake), cdist(fake, real)
    rr = np.sort(drr, 1)[:, k]  # column 0 is the point itself
    rf = np.sort(dff, 1)[:, k]
    prec = np.mean([any(dfr[j, i] <= rr[i] for i in range(len(real))) for j in range(len(fake))])
    rec = np.mean([any(dfr[j, i] <= rf[j] for j in range(len(fake))) for i in range(len(real))])
    return prec, rec, rr


def brute_realism(real, fake, k: int, eps: float = 1e-5, clamp_percentile: float = 50.0):
    """Realism score as the official NVlabs code: max_i r_i²/(‖f − φ_i‖² + eps), radii above the percentile → 0."""
    _, _, rr = brute_precision_recall(real, fake, k)
    r2 = rr ** 2
    r2 = np.where(r2 > np.percentile(r2, clamp_percentile), 0.0, r2)
    d2 = cdist(fake, real, "sqeuclidean")
    return np.max(r2[None, :] / (d2 + eps), axis=1)
