"""Inter-rater agreement: the ceiling any predictor of these labels can reach.

* ``pairwise_agreement`` — Kolchinski et al.'s measure (they report 66% for humans on GAN images):
  over every pair of raters and every pair of items both rated, the share of item pairs the two
  raters order the same way; item pairs either rater ties are excluded.
* ``leave_one_rater_out`` — each rater's scores vs the mean of the other raters on the same items
  (Kendall tau-b, tau-c, Spearman), averaged over raters.
* ``split_half`` — raters randomly split in two halves per item, Spearman of the half means,
  stepped up with Spearman–Brown 2r/(1+r).
* ``krippendorff_alpha`` — interval or ordinal, from the coincidence matrix (Krippendorff 2011).

Each comes with a bootstrap CI over items (:func:`rater_ceiling`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import LabelError
from ..stats import bootstrap_ci, kendall_tau_b, kendall_tau_c, spearman

__all__ = ["rating_matrix", "pairwise_agreement", "leave_one_rater_out", "split_half", "krippendorff_alpha",
           "rater_ceiling"]


def rating_matrix(labels, question: str) -> np.ndarray:
    """(n_items, n_raters) float matrix of scores, NaN where a rater did not judge an item."""
    df = labels.frame if hasattr(labels, "frame") else labels
    sub = df[df["question"].astype(str) == question]
    if sub.empty:
        raise LabelError(f"no judgments for question {question!r}")
    if sub["rater_id"].isna().all():
        raise LabelError("rater agreement needs rater_id: the label set has no rater identities")
    m = sub.pivot_table(index="item_id", columns="rater_id", values="score", aggfunc="mean")
    return m.to_numpy(dtype=np.float64)


def pairwise_agreement(R: np.ndarray) -> float:
    """Share of concordant item pairs over all rater pairs (ties by either rater excluded)."""
    agree = total = 0.0
    n_r = R.shape[1]
    for a in range(n_r):
        for b in range(a + 1, n_r):
            both = ~np.isnan(R[:, a]) & ~np.isnan(R[:, b])
            x, y = R[both, a], R[both, b]
            if x.size < 2:
                continue
            dx = np.sign(x[:, None] - x[None, :])
            dy = np.sign(y[:, None] - y[None, :])
            iu = np.triu_indices(x.size, 1)
            prod = (dx * dy)[iu]
            agree += float((prod > 0).sum())
            total += float((prod != 0).sum())
    return agree / total if total else float("nan")


def leave_one_rater_out(R: np.ndarray) -> dict:
    """Mean over raters of tau-b, tau-c and Spearman between a rater and the others' mean."""
    out = {"kendall_tau_b": [], "kendall_tau_c": [], "spearman": []}
    for r in range(R.shape[1]):
        own = R[:, r]
        others = np.delete(R, r, axis=1)
        cnt = (~np.isnan(others)).sum(axis=1)
        ok = ~np.isnan(own) & (cnt > 0)
        if ok.sum() < 3:
            continue
        rest = np.nansum(others[ok], axis=1) / cnt[ok]
        if np.ptp(own[ok]) == 0 or np.ptp(rest) == 0:
            continue
        out["kendall_tau_b"].append(kendall_tau_b(own[ok], rest))
        out["kendall_tau_c"].append(kendall_tau_c(own[ok], rest))
        out["spearman"].append(spearman(own[ok], rest))
    return {k: float(np.mean(v)) if v else float("nan") for k, v in out.items()}


def split_half(R: np.ndarray, seed: int = 0) -> float:
    """Spearman–Brown corrected split-half reliability (random halves of each item's raters)."""
    rng = np.random.default_rng(seed)
    h1, h2 = [], []
    for row in R:
        v = row[~np.isnan(row)]
        if v.size < 2:
            continue
        v = v[rng.permutation(v.size)]
        k = v.size // 2
        h1.append(v[:k].mean())
        h2.append(v[k:].mean())
    if len(h1) < 3 or np.ptp(h1) == 0 or np.ptp(h2) == 0:
        return float("nan")
    r = spearman(np.array(h1), np.array(h2))
    return float(2 * r / (1 + r))


def krippendorff_alpha(R: np.ndarray, level: str = "interval") -> float:
    """Krippendorff's alpha for an (items, raters) matrix with NaN for missing judgments.

    Built from the coincidence matrix of pairable values (units with ≥ 2 judgments);
    ``interval``: δ² = (c − k)²; ``ordinal``: δ² = (Σ_{g=c..k} n_g − (n_c + n_k)/2)².
    """
    values = np.unique(R[~np.isnan(R)])
    if values.size < 2:
        return float("nan")
    vi = {v: i for i, v in enumerate(values)}
    o = np.zeros((values.size, values.size))
    for row in R:
        v = row[~np.isnan(row)]
        m = v.size
        if m < 2:
            continue
        idx = np.array([vi[x] for x in v])
        counts = np.bincount(idx, minlength=values.size).astype(float)
        o += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    if level == "interval":
        delta = (values[:, None] - values[None, :]) ** 2
    elif level == "ordinal":
        cum = np.cumsum(n_c)
        delta = np.zeros_like(o)
        for c in range(values.size):
            for k in range(values.size):
                lo, hi = min(c, k), max(c, k)
                s = cum[hi] - (cum[lo - 1] if lo > 0 else 0.0)
                delta[c, k] = (s - (n_c[c] + n_c[k]) / 2.0) ** 2
    else:
        raise LabelError(f"level must be 'interval' or 'ordinal', got {level!r}")
    d_o = (o * delta).sum() / n
    d_e = (np.outer(n_c, n_c) * delta).sum() / (n * (n - 1))
    return float(1.0 - d_o / d_e) if d_e > 0 else float("nan")


def rater_ceiling(labels, question: str, n_resamples: int = 1000, seed: int = 0) -> dict:
    """Flat dict of agreement statistics with bootstrap CIs over items (``<name>_low/_high``)."""
    R = rating_matrix(labels, question)
    if R.shape[1] < 2:
        raise LabelError(f"rater agreement needs at least 2 raters for {question!r}, found {R.shape[1]}")
    idx = np.arange(R.shape[0])
    stats = {
        "pairwise_agreement": lambda i: pairwise_agreement(R[i]),
        "loo_kendall_tau_b": lambda i: leave_one_rater_out(R[i])["kendall_tau_b"],
        "loo_spearman": lambda i: leave_one_rater_out(R[i])["spearman"],
        "split_half_spearman_brown": lambda i: split_half(R[i], seed),
        "alpha_interval": lambda i: krippendorff_alpha(R[i], "interval"),
        "alpha_ordinal": lambda i: krippendorff_alpha(R[i], "ordinal"),
    }
    out = {"n_items": int(R.shape[0]), "n_raters": int(R.shape[1])}
    n_boot = max(1, n_resamples // 5) if R.shape[0] > 300 else n_resamples  # pairwise agreement is O(n²)
    for name, fn in stats.items():
        e = bootstrap_ci(fn, idx, n_resamples=n_boot, seed=seed)
        out[name], out[f"{name}_low"], out[f"{name}_high"] = e.value, e.low, e.high
    out["n_resamples"] = n_boot
    return out
