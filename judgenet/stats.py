"""Agreement measures and bootstrap confidence intervals, shared by ``labels`` and ``evaluation``.

Every measure is named exactly as papers report it, because they differ a lot:

* ``kendall_tau_b`` — ties adjusted in both variables (Flickr8k-CF, most correlation tables).
* ``kendall_tau_c`` — Stuart's tau-c, for rectangular contingency tables (Flickr8k-Expert).
* ``spearman``, ``pearson`` — scipy's definitions.
* ``pairwise_accuracy`` — 2AFC accuracy with a declared tie policy: pairs the *human* scores tie
  are excluded; pairs only the *prediction* ties count as 0.5.

The bootstrap resamples whole groups (prompts, items or images) with replacement, seeded, and
reports percentile intervals. Everything is computed in float64.
"""
from __future__ import annotations

from dataclasses import dataclass, asdict
from typing import Callable, Sequence

import numpy as np
from scipy import stats as _st

__all__ = [
    "kendall_counts",
    "kendall_tau_b",
    "kendall_tau_c",
    "spearman",
    "pearson",
    "pairwise_accuracy",
    "MEASURES",
    "system_level",
    "Estimate",
    "bootstrap_ci",
    "paired_bootstrap",
]


def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    if x.size < 2:
        raise ValueError(f"need at least 2 observations, got {x.size}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite (found NaN or inf)")
    return x, y


try:  # the Cython discordant-pair counter behind scipy.stats.kendalltau (O(n log n))
    from scipy.stats._stats import _kendall_dis
except ImportError:  # pragma: no cover - future scipy layouts
    _kendall_dis = None


def _dense_ranks_sorted(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    perm = np.argsort(y, kind="mergesort")
    x, y = x[perm], y[perm]
    y = np.r_[True, y[1:] != y[:-1]].cumsum(dtype=np.intp)
    perm = np.argsort(x, kind="mergesort")
    x, y = x[perm], y[perm]
    x = np.r_[True, x[1:] != x[:-1]].cumsum(dtype=np.intp)
    return x, y


def _tie_pairs(ranks: np.ndarray) -> int:
    cnt = np.bincount(ranks).astype(np.int64)
    return int((cnt * (cnt - 1) // 2).sum())


def kendall_counts(x, y) -> dict:
    """Pair counts behind every Kendall-type measure, in O(n log n) (the algorithm of
    ``scipy.stats.kendalltau``): total pairs ``n0``, pairs tied in x ``tx``, in y ``ty``, in both
    ``txy``, ``c_minus_d`` (concordant − discordant), and the numbers of distinct values ``kx, ky``."""
    x, y = _pair(x, y)
    n = x.size
    n0 = n * (n - 1) // 2
    xr, yr = _dense_ranks_sorted(x, y)
    obs = np.r_[True, (xr[1:] != xr[:-1]) | (yr[1:] != yr[:-1]), True]
    cnt = np.diff(np.nonzero(obs)[0]).astype(np.int64)
    txy = int((cnt * (cnt - 1) // 2).sum())
    tx, ty = _tie_pairs(xr), _tie_pairs(yr)
    if _kendall_dis is not None:
        dis = int(_kendall_dis(xr, yr))
        cmd = n0 - tx - ty + txy - 2 * dis
    else:  # pragma: no cover
        tau = _st.kendalltau(x, y, variant="b").statistic
        cmd = float(tau) * np.sqrt(float(n0 - tx) * float(n0 - ty))
    return {"n": n, "n0": n0, "tx": tx, "ty": ty, "txy": txy, "c_minus_d": cmd,
            "kx": int(xr[-1]), "ky": int(yr.max())}


def kendall_tau_b(x, y) -> float:
    """Kendall tau-b (ties adjusted in both variables); NaN if either is constant. Equals scipy's."""
    k = kendall_counts(x, y)
    den = np.sqrt(float(k["n0"] - k["tx"])) * np.sqrt(float(k["n0"] - k["ty"]))
    return float(k["c_minus_d"] / den) if den > 0 else float("nan")


def kendall_tau_c(x, y) -> float:
    """Kendall tau-c (Stuart): 2m(C−D) / (n²(m−1)), m = min(#distinct x, #distinct y); NaN if m < 2."""
    k = kendall_counts(x, y)
    m = min(k["kx"], k["ky"])
    if m < 2:
        return float("nan")
    return float(2.0 * m * k["c_minus_d"] / (k["n"] ** 2 * (m - 1)))


def spearman(x, y) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    x, y = _pair(x, y)
    return pearson(_st.rankdata(x), _st.rankdata(y))


def pearson(x, y) -> float:
    """Pearson product-moment correlation (NaN if either input is constant)."""
    x, y = _pair(x, y)
    xc, yc = x - x.mean(), y - y.mean()
    den = np.sqrt((xc @ xc) * (yc @ yc))
    return float(np.clip((xc @ yc) / den, -1.0, 1.0)) if den > 0 else float("nan")


def pairwise_accuracy(human, pred) -> float:
    """2AFC accuracy of ``pred`` against ``human`` over all item pairs, in O(n log n).

    Tie policy: pairs with equal human scores are excluded; among the rest, a pair the
    prediction orders the same way counts 1, the opposite way 0, a predicted tie 0.5.
    Returns NaN when every human score is equal.
    """
    k = kendall_counts(human, pred)
    usable = k["n0"] - k["tx"]
    if usable == 0:
        return float("nan")
    both_untied = k["n0"] - k["tx"] - k["ty"] + k["txy"]  # concordant + discordant
    concordant = 0.5 * (both_untied + k["c_minus_d"])
    pred_only_ties = k["ty"] - k["txy"]
    return float((concordant + 0.5 * pred_only_ties) / usable)


MEASURES: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "kendall_tau_b": kendall_tau_b,
    "kendall_tau_c": kendall_tau_c,
    "spearman": spearman,
    "pearson": pearson,
    "pairwise_accuracy": pairwise_accuracy,
}
"""Name → ``f(human, predicted)``; the names are the ones reports and the CLI use."""


def system_level(human, pred, systems, measure: str | Callable = "kendall_tau_b") -> float:
    """Correlation of per-system (e.g. per-generator) means of ``human`` and ``pred``."""
    h, p = _pair(human, pred)
    systems = np.asarray(systems)
    keys, inv = np.unique(systems, return_inverse=True)
    if keys.size < 2:
        return float("nan")
    counts = np.bincount(inv)
    mh = np.bincount(inv, weights=h) / counts
    mp = np.bincount(inv, weights=p) / counts
    fn = MEASURES[measure] if isinstance(measure, str) else measure
    return float(fn(mh, mp))


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a percentile bootstrap interval."""

    value: float
    low: float
    high: float
    n_resamples: int
    confidence: float

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:  # 0.412 [0.380, 0.445]
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _group_index(n: int, groups) -> list[np.ndarray]:
    if groups is None:
        return [np.array([i]) for i in range(n)]
    groups = np.asarray(groups)
    if groups.shape[0] != n:
        raise ValueError(f"groups has {groups.shape[0]} entries for {n} observations")
    _, inv = np.unique(groups, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    bounds = np.flatnonzero(np.diff(inv[order])) + 1
    return np.split(order, bounds)


def _resample_indices(blocks: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    pick = rng.integers(0, len(blocks), size=len(blocks))
    return np.concatenate([blocks[i] for i in pick])


def _percentile(values: np.ndarray, confidence: float) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def bootstrap_ci(
    statistic: Callable[..., float],
    *arrays: Sequence,
    groups=None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> Estimate:
    """Percentile bootstrap CI of ``statistic(*arrays)``, resampling ``groups`` whole.

    ``arrays`` are aligned along axis 0 (n observations). ``groups`` (length n, optional) names the
    resampling unit — e.g. the prompt, so that all images of a prompt enter or leave together.
    """
    arrs = [np.asarray(a) for a in arrays]
    n = arrs[0].shape[0]
    if any(a.shape[0] != n for a in arrs):
        raise ValueError("all arrays must have the same length")
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    blocks = _group_index(n, groups)
    rng = np.random.default_rng(seed)
    value = float(statistic(*arrs))
    boots = np.empty(n_resamples)
    for b in range(n_resamples):
        idx = _resample_indices(blocks, rng)
        boots[b] = statistic(*(a[idx] for a in arrs))
    lo, hi = _percentile(boots, confidence)
    return Estimate(value, lo, hi, n_resamples, confidence)


def paired_bootstrap(
    measure: str | Callable[[np.ndarray, np.ndarray], float],
    human,
    pred_a,
    pred_b,
    groups=None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> dict:
    """Paired bootstrap of ``measure(human, pred_a) - measure(human, pred_b)``.

    The same resampled items are used for both predictions in each replicate. Returns a dict with
    ``a``, ``b`` and ``difference`` (each an :class:`Estimate`) and ``p_not_better``, the share of
    replicates where a does not beat b (a one-sided bootstrap p-value).
    """
    fn = MEASURES[measure] if isinstance(measure, str) else measure
    h = np.asarray(human, dtype=np.float64)
    a = np.asarray(pred_a, dtype=np.float64)
    b = np.asarray(pred_b, dtype=np.float64)
    blocks = _group_index(h.shape[0], groups)
    rng = np.random.default_rng(seed)
    va, vb = fn(h, a), fn(h, b)
    ba = np.empty(n_resamples)
    bb = np.empty(n_resamples)
    for r in range(n_resamples):
        idx = _resample_indices(blocks, rng)
        ba[r] = fn(h[idx], a[idx])
        bb[r] = fn(h[idx], b[idx])
    diff = ba - bb
    out = {
        "a": Estimate(float(va), *_percentile(ba, confidence), n_resamples, confidence),
        "b": Estimate(float(vb), *_percentile(bb, confidence), n_resamples, confidence),
        "difference": Estimate(float(va - vb), *_percentile(diff, confidence), n_resamples, confidence),
        "p_not_better": float(np.mean(diff[np.isfinite(diff)] <= 0)) if np.isfinite(diff).any() else float("nan"),
    }
    return out
