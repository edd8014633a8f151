"""Inter-rater agreement: the ceiling that any predictor of these labels can reach.

Every statistic takes ``(labels, question)`` — a :class:`~judgenet.labels.LabelSet` or a long
DataFrame — and returns a :class:`~judgenet.stats.Estimate` (value with a percentile bootstrap CI
over items: whole items are resampled, raters stay fixed). Passed an ``(n_items, n_raters)`` float
matrix with NaN where a rater did not judge an item (:func:`rating_matrix` builds it), each
returns just the point value, as a float.

* :func:`pairwise_agreement` — the measure behind the 66% human figure of Kolchinski et al.
  (2019). **Definition:** take every pair of raters (r, s) and every pair of items (i, j) that
  *both* raters judged. The two raters agree on (i, j) if they order the two items the same way
  (sign(R[i,r] − R[j,r]) == sign(R[i,s] − R[j,s])). Item pairs that either rater scores equal
  are excluded (a tie carries no ordering). The agreement is the number of agreeing item pairs
  divided by the number of compared item pairs, **pooled** over all rater pairs (so rater pairs
  that share more items weigh more). For one rater pair it equals (1 + Goodman–Kruskal γ) / 2.
  Chance level is 0.5. Computed exactly in O(n log n) per rater pair from Kendall pair counts.
* :func:`leave_one_rater_out` — for each rater, Kendall tau-b, tau-c and Spearman between the
  rater's scores and the mean of the *other* raters on the items the rater judged (items no
  other rater judged are left out), then the unweighted mean over raters. Raters with fewer
  than 3 such items, or constant scores, are left out. This is the human counterpart of a
  predictor's correlation with the (mean) label.
* :func:`split_half` — for each item its judgments are split at random into two halves
  (sizes ⌊m/2⌋ and ⌈m/2⌉; items with one judgment are left out); the correlation (Spearman by
  default) of the two half-means across items, averaged over ``n_splits`` random splits, is
  stepped up with Spearman–Brown 2r / (1 + r) to the reliability of the full mean. With odd
  numbers of raters the halves are unequal, so the step-up is approximate.
* :func:`krippendorff_alpha` — Krippendorff's alpha for ``interval`` (δ² = (c − k)²) or
  ``ordinal`` data (δ²_ck = (Σ_{g=c..k} n_g − (n_c + n_k)/2)², n_g the pooled frequency of value
  g), from the coincidence matrix of pairable values (items with ≥ 2 judgments), Krippendorff
  (2011) "Computing Krippendorff's alpha-reliability". α = 1 − D_o / D_e.

:func:`rater_ceiling` returns all of them with percentile bootstrap CIs over items (whole rows
of ``R`` are resampled, so the raters stay fixed), as the flat dict that evaluation reports next
to predictor results.

The bootstrap is vectorized: every resample is a vector of item counts and each statistic is
computed for a block of resamples at once from weighted pair counts — the same values as applying
the matrix function to each resampled matrix (tested), 30–36× faster for 975 items × 5 raters
(``benchmarks/bootstrap.py``). The resample weights are drawn in blocks of at most
:data:`BLOCK_VALUES` numbers (the same resamples as drawing them whole), and what depends only on
the data — the items each rater pair shares, the split-half splits — is computed once for the
point value and every block, so time and memory grow linearly with the items
(``benchmarks/labels.py``: a rater ceiling of 10⁶ judgments). One deliberate difference from the
loop over resampled matrices (:data:`VECTORIZE_MAX_N`): for split-half the random splits are drawn
once, on ``R`` (exactly as for the point value), and reused by every resample, so the interval
reflects item sampling only; the loop redraws the splits in each resample.
"""
from __future__ import annotations

import numpy as np

from ..errors import LabelError
from ..stats import (Estimate, _from_counts, _percentile, bootstrap_ci, resample_weight_blocks, weighted_corr,
                     weighted_kendall_counts)

VECTORIZE_MAX_N: int | None = None
"""Above this many items the bootstraps loop over resampled matrices (benchmarks set 0 to time the
loop); None: vectorized at every size."""
BLOCK_VALUES = 4_000_000
"""Resample weights held at once (resamples × items, or × rater pairs × scores², float64: 32 MB)."""

__all__ = ["rating_matrix", "pairwise_agreement", "pairwise_agreement_counts", "leave_one_rater_out", "split_half",
           "spearman_brown", "krippendorff_alpha", "rater_ceiling"]


def rating_matrix(labels, question: str, *, return_ids: bool = False):
    """``(n_items, n_raters)`` float64 matrix of scores for ``question``, NaN where a rater did not
    judge an item. ``labels`` is a LabelSet or a long-format DataFrame. With ``return_ids=True``
    returns ``(R, item_ids, rater_ids)``."""
    df = labels.frame if hasattr(labels, "frame") else labels
    sub = df[df["question"].astype(str) == question]
    name = getattr(labels, "name", "labels")
    if sub.empty:
        raise LabelError(f"{name}: no judgments for question {question!r}")
    if sub["rater_id"].isna().any():
        raise LabelError(f"{name}: rater agreement needs rater_id on every judgment of {question!r}; "
                         f"{int(sub['rater_id'].isna().sum())} have none (this set publishes aggregated scores only)")
    m = sub.pivot_table(index="item_id", columns="rater_id", values="score", aggfunc="mean", sort=False)
    R = m.to_numpy(dtype=np.float64)
    return (R, list(m.index), list(m.columns)) if return_ids else R


def _check(R) -> np.ndarray:
    R = np.asarray(R, dtype=np.float64)
    if R.ndim != 2:
        raise LabelError(f"expected an (items, raters) matrix, got shape {R.shape}")
    return R


def _ones(R) -> np.ndarray:
    """The single "resample" that is ``R`` itself: every point value below is its weighted
    statistic on these weights (one implementation for point values and bootstrap resamples)."""
    return np.ones((1, R.shape[0]))


def pairwise_agreement_counts(R) -> tuple[float, float, int]:
    """``(agreeing, compared, n_rater_pairs)`` item-pair counts behind :func:`pairwise_agreement`."""
    R = _check(R)
    agree, total, n_pairs = _boot_agreement_counts(R, _ones(R))
    return float(agree[0]), float(total[0]), n_pairs


def _pairwise_agreement(R) -> float:
    """Pooled share of item pairs two raters order the same way, ties excluded (module docstring);
    NaN if no rater pair shares two items with untied scores."""
    R = _check(R)
    return float(_boot_pairwise_agreement(R, _ones(R))[0])


def _leave_one_rater_out(R, *, min_items: int = 3) -> dict:
    """Mean over raters of tau-b, tau-c and Spearman between a rater and the mean of the others.

    Returns ``{"kendall_tau_b", "kendall_tau_c", "spearman", "n_raters_used"}``; NaNs if no rater
    qualifies (see module docstring)."""
    R = _check(R)
    res = {k: float(v[0]) for k, v in _boot_leave_one_rater_out(R, _ones(R), min_items).items()}
    res["n_raters_used"] = int(res["n_raters_used"])
    return res


def spearman_brown(r: float, factor: float = 2.0) -> float:
    """Spearman–Brown prophecy: reliability of a test ``factor`` times as long, ``f r / (1 + (f − 1) r)``."""
    r = float(r)
    den = 1.0 + (factor - 1.0) * r
    return float(factor * r / den) if den != 0 else float("nan")


def _half_means(R, m, seed: int, n_splits: int):
    """For each of ``n_splits`` random splits (drawn with ``seed``) of every row's judgments into
    halves of ⌊m/2⌋ and ⌈m/2⌉: the two half-means per row, ``(h1, h2)``. Rows need m >= 2."""
    rng = np.random.default_rng(seed)
    half = (m // 2)[:, None]
    pos = np.arange(R.shape[1])[None, :]
    first, second = pos < half, (pos >= half) & (pos < m[:, None])
    for _ in range(max(1, int(n_splits))):
        keys = rng.random(R.shape)
        keys[np.isnan(R)] = np.inf
        v = np.take_along_axis(R, np.argsort(keys, axis=1), axis=1)
        v0 = np.where(np.isnan(v), 0.0, v)
        yield (v0 * first).sum(1) / first.sum(1), (v0 * second).sum(1) / second.sum(1)


def _split_half(R, seed: int = 0, *, n_splits: int = 10, method: str = "spearman") -> float:
    """Spearman–Brown-corrected split-half reliability of the per-item mean (module docstring).

    ``method``: ``spearman`` or ``pearson`` correlation of the two half-means. NaN if fewer than 3
    items have ≥ 2 judgments or a half-mean vector is constant."""
    if method not in ("spearman", "pearson"):
        raise LabelError(f"method must be 'spearman' or 'pearson', got {method!r}")
    R = _check(R)
    return float(_boot_split_half(R, _ones(R), seed, n_splits=n_splits, method=method)[0])


def _krippendorff_alpha(R, level: str = "interval") -> float:
    """Krippendorff's alpha of an (items, raters) matrix with NaN for missing judgments.

    ``level``: ``interval`` or ``ordinal`` (module docstring). Items with fewer than 2 judgments
    are not pairable and are ignored. NaN if fewer than 2 distinct values are pairable."""
    if level not in ("interval", "ordinal"):
        raise LabelError(f"level must be 'interval' or 'ordinal', got {level!r}")
    R = _check(R)
    return float(_boot_krippendorff_alpha(R, _ones(R), level)[0])


# ---------------------------------------------------------------- the one implementation of each statistic
# Row r of W (B, items) says how often each item is in resample r; each statistic is computed for all
# resamples together from weighted pair counts (judgenet.stats.weighted_kendall_counts). The point
# value is the same function on W = ones((1, items)) — R itself (issue: one implementation). Tests
# compare both with independent computations (brute force, scipy, the krippendorff package).


def _rater_pairs(R) -> list[tuple[int, int, np.ndarray]]:
    """``(a, b, items)`` for every pair of raters a < b that shares at least 2 judged items."""
    ok = ~np.isnan(R)
    out = []
    for a in range(R.shape[1]):
        rows = np.flatnonzero(ok[:, a])
        share = ok[rows, a + 1:]
        for j in np.flatnonzero(share.sum(axis=0) >= 2):
            out.append((a, a + 1 + int(j), rows[share[:, j]]))
    return out


MAX_TABLE_VALUES = 16
"""Up to this many distinct scores (Likert scales), all rater pairs' contingency tables are counted
in one sparse product; above it, one pair at a time."""


def _pair_tables(R, pairs):
    """A sparse (items, pairs × V × V) indicator — item i of rater pair p in cell (p, score of a,
    score of b) — over the V distinct scores of R, or None above :data:`MAX_TABLE_VALUES`."""
    from scipy import sparse

    values = np.unique(R[~np.isnan(R)])
    V = values.size
    if V > MAX_TABLE_VALUES or not pairs:
        return None
    idx = np.searchsorted(values, np.where(np.isnan(R), values[0], R))
    items = np.concatenate([both for _, _, both in pairs])
    cells = np.concatenate([(p * V + idx[both, a]) * V + idx[both, b] for p, (a, b, both) in enumerate(pairs)])
    S = sparse.csc_matrix((np.ones(items.size), (cells, items)), shape=(len(pairs) * V * V, R.shape[0]))
    return S, V


def _boot_agreement_counts(R, W, pairs=None, tables=None) -> tuple[np.ndarray, np.ndarray, int]:
    """(agreeing, compared) item pairs pooled over rater pairs per resample, and the number of
    rater pairs sharing >= 2 items (``pairs``: :func:`_rater_pairs` of R and ``tables``:
    :func:`_pair_tables`, when computed already). Counts are whole numbers, exact in float64."""
    pairs = _rater_pairs(R) if pairs is None else pairs
    tables = _pair_tables(R, pairs) if tables is None else tables
    if tables:  # every pair's weighted contingency table at once; the counts of weighted_kendall_counts
        S, V = tables
        T = np.asarray(S @ W.T).T.reshape(W.shape[0] * len(pairs), V, V)
        k = {key: v.reshape(W.shape[0], len(pairs)) for key, v in _table_kendall_counts(T).items()}
        untied = k["n0"] - k["tx"] - k["ty"] + k["txy"]
        cmd = k["c_minus_d"]
        return (0.5 * (untied + cmd)).sum(axis=1), untied.sum(axis=1), len(pairs)
    agree = np.zeros(W.shape[0])
    total = np.zeros(W.shape[0])
    n_pairs = 0
    for a, b, both in pairs:
        k = weighted_kendall_counts(R[both, a], R[both, b], W[:, both])
        untied = k["n0"] - k["tx"] - k["ty"] + k["txy"]  # concordant + discordant
        agree += 0.5 * (untied + k["c_minus_d"])
        total += untied
        n_pairs += 1
    return agree, total, n_pairs


_INDICATORS: dict = {}


def _indicator(a: np.ndarray, b: np.ndarray):
    """``(S, ua, ub)``: the sparse (value pairs, items) indicator of each item's (a, b) cell, or None above
    4,096 value pairs. Depends only on the data, so every block of resamples reuses it (kept for the last
    few hundred inputs — one per rater and per split-half split)."""
    from scipy import sparse

    key = (a.size, hash(a.tobytes()), hash(b.tobytes()))
    if key not in _INDICATORS:
        ua, ia = np.unique(a, return_inverse=True)
        ub, ib = np.unique(b, return_inverse=True)
        S = None
        if ua.size * ub.size <= 4096:
            S = sparse.csc_matrix((np.ones(ia.size), (ia * ub.size + ib, np.arange(ia.size))),
                                  shape=(ua.size * ub.size, ia.size))
        if len(_INDICATORS) >= 256:
            _INDICATORS.pop(next(iter(_INDICATORS)))
        _INDICATORS[key] = None if S is None else (S, ua, ub)
    return _INDICATORS[key]


def _table(a, b, W):
    """``(T, ua, ub)``: the weighted contingency table (resamples, distinct a, distinct b) of every row of
    ``W`` from one sparse product, where a and b take at most 4,096 value pairs (Likert scores and their
    means), else None."""
    found = _indicator(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    if found is None:
        return None
    S, ua, ub = found
    return np.asarray(S @ W.T).T.reshape(W.shape[0], ua.size, ub.size), ua, ub


def _table_kendall_counts(T) -> dict[str, np.ndarray]:
    """:func:`judgenet.stats.weighted_kendall_counts` from the contingency tables ``T`` (its own formulas;
    whole-number counts, so equal exactly)."""
    Tx, Ty = T.sum(axis=2), T.sum(axis=1)
    N = Tx.sum(axis=1)
    G = np.cumsum(T[:, ::-1], axis=1)[:, ::-1] - T
    higher = np.cumsum(G[:, :, ::-1], axis=2)[:, :, ::-1] - G
    lower = np.cumsum(G, axis=2) - G

    def tied(t):
        return (t * (t - 1.0) / 2.0).sum(axis=1)

    return {"n": N, "n0": N * (N - 1.0) / 2.0, "tx": tied(Tx), "ty": tied(Ty), "txy": tied(T.reshape(T.shape[0], -1)),
            "c_minus_d": (T * (higher - lower)).sum(axis=(1, 2)), "kx": (Tx > 0).sum(axis=1).astype(np.float64),
            "ky": (Ty > 0).sum(axis=1).astype(np.float64)}


def _corr(a, b, W, ranks: bool, table=None) -> np.ndarray:
    """:func:`judgenet.stats.weighted_corr` (Pearson, or Spearman with average ranks) on every row of
    ``W``; where a and b take few distinct values through their weighted contingency table
    (:func:`_table`) — one sparse product instead of ~10 passes over (resamples × items) — the same
    value up to rounding (tested to 1e-10)."""
    table = _table(a, b, W) if table is None else table
    if table is None:
        return weighted_corr(a, b, W, ranks=ranks)
    T, ua, ub = table
    Ta, Tb = T.sum(axis=2), T.sum(axis=1)
    N = Ta.sum(axis=1)
    va = np.cumsum(Ta, axis=1) - (Ta - 1.0) / 2.0 if ranks else np.broadcast_to(ua, Ta.shape)
    vb = np.cumsum(Tb, axis=1) - (Tb - 1.0) / 2.0 if ranks else np.broadcast_to(ub, Tb.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        ca = va - ((Ta * va).sum(axis=1) / N)[:, None]
        cb = vb - ((Tb * vb).sum(axis=1) / N)[:, None]
        den = np.sqrt((Ta * ca * ca).sum(axis=1) * (Tb * cb * cb).sum(axis=1))
        ok = ((Ta > 0).sum(axis=1) >= 2) & ((Tb > 0).sum(axis=1) >= 2) & (den > 0)
        return np.where(ok, np.clip(np.einsum("rij,ri,rj->r", T, ca, cb) / den, -1.0, 1.0), np.nan)


def _boot_pairwise_agreement(R, W, pairs=None, tables=None) -> np.ndarray:
    agree, total, _ = _boot_agreement_counts(R, W, pairs, tables)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, agree / total, np.nan)


def _rater_vs_rest(R) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For each rater with >= 2 items that others judged too: ``(items, own scores, mean of the others)``."""
    ok = ~np.isnan(R)
    total = np.where(ok, R, 0.0).sum(axis=1)
    count = ok.sum(axis=1)
    out = []
    for r in range(R.shape[1]):
        sel = np.flatnonzero(ok[:, r] & (count > 1))
        if sel.size >= 2:
            own = R[sel, r]
            out.append((sel, own, (total[sel] - own) / (count[sel] - 1)))
    return out


def _boot_leave_one_rater_out(R, W, min_items: int = 3, raters=None) -> dict[str, np.ndarray]:
    """(``raters``: :func:`_rater_vs_rest` of R, when computed already.)"""
    acc = {k: np.zeros(W.shape[0]) for k in ("kendall_tau_b", "kendall_tau_c", "spearman")}
    used = np.zeros(W.shape[0])
    for sel, own, rest in _rater_vs_rest(R) if raters is None else raters:
        Ws = W[:, sel]
        table = _table(own, rest, Ws)
        k = weighted_kendall_counts(own, rest, Ws) if table is None else _table_kendall_counts(table[0])
        valid = (k["n"] >= min_items) & (k["kx"] >= 2) & (k["ky"] >= 2)
        values = _from_counts(k, ("kendall_tau_b", "kendall_tau_c"))
        values["spearman"] = _corr(own, rest, Ws, ranks=True, table=table)
        for key, v in values.items():
            acc[key] += np.where(valid, v, 0.0)
        used += valid
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {k: np.where(used > 0, v / used, np.nan) for k, v in acc.items()}
    out["n_raters_used"] = used
    return out


def _halves(R, seed: int, n_splits: int) -> tuple[np.ndarray, list]:
    """The rows with >= 2 judgments and their half-means for each split (:func:`_half_means`)."""
    m = (~np.isnan(R)).sum(axis=1)
    keep = m >= 2
    return keep, list(_half_means(R[keep], m[keep], seed, n_splits)) if keep.any() else []


def _boot_split_half(R, W, seed: int = 0, *, n_splits: int = 10, method: str = "spearman",
                     halves=None) -> np.ndarray:
    """The splits are drawn once, on ``R`` (exactly as :func:`_split_half` draws them for the point
    value), and each resample reuses its items' splits; only the items are resampled (``halves``:
    :func:`_halves` of R, when computed already)."""
    keep, halves = _halves(R, seed, n_splits) if halves is None else halves
    W = W[:, keep]
    rs_sum = np.zeros(W.shape[0])
    rs_n = np.zeros(W.shape[0])
    if W.shape[1] == 0:
        return np.full(W.shape[0], np.nan)
    for h1, h2 in halves:
        r = _corr(h1, h2, W, ranks=method == "spearman")  # NaN where a half-mean is constant
        rs_sum += np.where(np.isnan(r), 0.0, r)
        rs_n += ~np.isnan(r)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where((rs_n > 0) & (W.sum(axis=1) >= 3), rs_sum / rs_n, np.nan)
        return np.where(1.0 + r != 0, 2.0 * r / (1.0 + r), np.nan)


def _coincidences(R):
    """What alpha needs of the data: the pairable rows (>= 2 judgments), the distinct values and each
    pairable item's coincidences, flattened (items, V × V); None without pairable items."""
    ok = ~np.isnan(R)
    keep = ok.sum(1) >= 2
    R, ok = R[keep], ok[keep]
    if R.shape[0] == 0:
        return None
    values = np.unique(R[ok])
    V = values.size
    idx = np.searchsorted(values, np.where(ok, R, values[0]))
    C = np.zeros((R.shape[0], V))
    rows = np.broadcast_to(np.arange(R.shape[0])[:, None], R.shape)
    np.add.at(C, (rows[ok], idx[ok]), 1.0)
    w = 1.0 / (C.sum(1) - 1.0)
    per_item = (C * w[:, None])[:, :, None] * C[:, None, :]  # each item's coincidences (items, V, V)
    per_item[:, np.arange(V), np.arange(V)] -= C * w[:, None]
    return keep, values, per_item.reshape(R.shape[0], V * V)


def _boot_krippendorff_alpha(R, W, level: str = "interval", coincidences=False) -> np.ndarray:
    """(``coincidences``: :func:`_coincidences` of R, when computed already.)"""
    found = _coincidences(R) if coincidences is False else coincidences
    if found is None:
        return np.full(W.shape[0], np.nan)
    keep, values, per_item = found
    V = values.size
    o = (W[:, keep] @ per_item).reshape(-1, V, V)
    n_c = o.sum(axis=2)
    n = n_c.sum(axis=1)
    if level == "interval":
        delta = np.broadcast_to((values[:, None] - values[None, :]) ** 2, o.shape)
    else:
        cum = np.concatenate([np.zeros((W.shape[0], 1)), np.cumsum(n_c, axis=1)], axis=1)
        lo = np.minimum.outer(np.arange(V), np.arange(V))
        hi = np.maximum.outer(np.arange(V), np.arange(V))
        delta = (cum[:, hi + 1] - cum[:, lo] - (n_c[:, :, None] + n_c[:, None, :]) / 2.0) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        d_o = (o * delta).sum(axis=(1, 2)) / n
        d_e = (n_c[:, :, None] * n_c[:, None, :] * delta).sum(axis=(1, 2)) / (n * (n - 1.0))
        return np.where(d_e > 0, 1.0 - d_o / d_e, np.nan)


def _ceiling_resamples(R, W, seed: int, stats=None, *, min_items: int = 3, prepared=None) -> dict[str, np.ndarray]:
    """Each of :data:`CEILING_STATS` (or the named subset) on every resample → {name: (B,)}
    (``prepared``: :func:`_prepare` of R, when computed already)."""
    stats = set(CEILING_STATS if stats is None else stats)
    prepared = prepared or {}
    out: dict[str, np.ndarray] = {}
    if "pairwise_agreement" in stats:
        out["pairwise_agreement"] = _boot_pairwise_agreement(R, W, prepared.get("pairs"), prepared.get("tables"))
    if stats & {"loo_kendall_tau_b", "loo_kendall_tau_c", "loo_spearman"}:
        out.update({f"loo_{k}": v for k, v in _boot_leave_one_rater_out(R, W, min_items, prepared.get("raters")).items()
                    if k != "n_raters_used"})
    if "split_half_spearman_brown" in stats:
        out["split_half_spearman_brown"] = _boot_split_half(R, W, seed, halves=prepared.get("halves"))
    for level in ("interval", "ordinal"):
        if f"alpha_{level}" in stats:
            out[f"alpha_{level}"] = _boot_krippendorff_alpha(R, W, level, prepared.get("coincidences", False))
    return {k: v for k, v in out.items() if k in stats}


def _prepare(R, seed: int, n_splits: int = 10) -> dict:
    """What every block of resamples shares: the rater pairs' common items and contingency-table
    indicator, the split-half splits, alpha's coincidences."""
    pairs = _rater_pairs(R)
    return {"pairs": pairs, "tables": _pair_tables(R, pairs), "halves": _halves(R, seed, n_splits),
            "coincidences": _coincidences(R), "raters": _rater_vs_rest(R)}


def _in_blocks(boot, n: int, n_resamples: int, seed: int, width: int = 0):
    """``boot(W)`` for the resample weights of :func:`judgenet.stats.resample_weights` (same seed, same
    resamples), drawn in blocks of at most :data:`BLOCK_VALUES` numbers and concatenated."""
    rows = max(1, BLOCK_VALUES // max(n, width, 1))
    parts = [boot(W) for W in resample_weight_blocks(n, None, n_resamples, seed, rows=rows)]
    if isinstance(parts[0], dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)


# ---------------------------------------------------------------- public API: (labels, question) -> Estimate


def _matrix(labels, question) -> np.ndarray:
    if isinstance(labels, np.ndarray) or (question is None and not hasattr(labels, "frame")
                                          and not hasattr(labels, "columns")):
        return _check(labels)
    if question is None:
        qs = sorted(set(map(str, (labels.frame if hasattr(labels, "frame") else labels)["question"])))
        if len(qs) != 1:
            raise LabelError(f"{getattr(labels, 'name', 'labels')}: pass question=, one of {', '.join(qs)}")
        question = qs[0]
    return rating_matrix(labels, question)


def _estimate(fn, R, n_resamples, seed, confidence, boot=None) -> Estimate:
    """``fn(R)`` with a percentile CI over resampled items: vectorized through ``boot(R, W)`` (the
    statistic on every row of resample weights W, in blocks) when given (and R has at most
    :data:`VECTORIZE_MAX_N` items, where that is set), else a loop over resampled matrices; both see
    the same resamples."""
    if boot is None or (VECTORIZE_MAX_N is not None and R.shape[0] > VECTORIZE_MAX_N):
        return bootstrap_ci(lambda i: fn(R[i]), np.arange(R.shape[0]), n_resamples=n_resamples,
                            confidence=confidence, seed=seed)
    values = _in_blocks(lambda W: boot(R, W), R.shape[0], n_resamples, seed)
    return Estimate(float(fn(R)), *_percentile(values, confidence), n_resamples, confidence)


def _is_matrix(labels) -> bool:
    return not hasattr(labels, "frame") and not hasattr(labels, "columns")


def pairwise_agreement(labels, question: str | None = None, *, n_resamples: int = 1000, seed: int = 0,
                       confidence: float = 0.95):
    """Pooled share of item pairs that two raters order the same way (module docstring).

    For every pair of raters and every pair of items *both* rated, count whether the two raters
    order the items the same way; item pairs that **either** rater scores equal are excluded (a
    tie carries no order), so chance is 0.5. This is the "human agreement" of Kolchinski et al.
    (2019), who report 66% for per-image realism ratings of GAN samples.

    ``labels``: a :class:`~judgenet.labels.LabelSet` or long DataFrame (then ``question`` picks the
    judgments; it may be omitted when there is one question) → :class:`~judgenet.stats.Estimate`
    with a percentile bootstrap CI over items (``n_resamples`` resamples of whole items, raters
    fixed). An ``(items, raters)`` array with NaN for missing → the point value as a float (no CI).
    NaN if no rater pair shares two untied items.
    """
    if _is_matrix(labels):
        return _pairwise_agreement(labels)
    return _estimate(_pairwise_agreement, _matrix(labels, question), n_resamples, seed, confidence,
                     boot=_boot_pairwise_agreement)


def leave_one_rater_out(labels, question: str | None = None, *, n_resamples: int = 1000, seed: int = 0,
                        confidence: float = 0.95, min_items: int = 3) -> dict:
    """Each rater against the mean of the other raters, averaged over raters (module docstring).

    For a LabelSet / DataFrame returns ``{"kendall_tau_b": Estimate, "kendall_tau_c": Estimate,
    "spearman": Estimate, "n_raters_used": int}`` with bootstrap CIs over items; for an ``(items,
    raters)`` array the same keys with plain floats. Raters with fewer than ``min_items`` items
    shared with another rater, or with constant scores, are left out."""
    if _is_matrix(labels):
        return _leave_one_rater_out(labels, min_items=min_items)
    R = _matrix(labels, question)
    point = _leave_one_rater_out(R, min_items=min_items)
    out: dict = {}
    for key in ("kendall_tau_b", "kendall_tau_c", "spearman"):
        out[key] = _estimate(lambda M, k=key: _leave_one_rater_out(M, min_items=min_items)[k], R, n_resamples, seed,
                             confidence, boot=lambda M, W, k=key: _boot_leave_one_rater_out(M, W, min_items)[k])
    out["n_raters_used"] = point["n_raters_used"]
    return out


def split_half(labels, question: str | None = None, seed: int = 0, *, n_splits: int = 10,
               method: str = "spearman", n_resamples: int = 1000, confidence: float = 0.95):
    """Split-half reliability of the per-item mean, stepped up with Spearman–Brown (module docstring).

    Each item's judgments are split at random into two halves; the correlation of the half-means
    across items (averaged over ``n_splits`` splits drawn with ``seed``) is corrected with
    ``2r / (1 + r)``. LabelSet / DataFrame → :class:`~judgenet.stats.Estimate` with a bootstrap CI
    over items; ``(items, raters)`` array → float."""
    if _is_matrix(labels):
        if isinstance(question, (int, np.integer)) and not isinstance(question, bool):
            seed = int(question)  # split_half(R, seed) positional form
        return _split_half(labels, seed, n_splits=n_splits, method=method)
    return _estimate(lambda M: _split_half(M, seed, n_splits=n_splits, method=method), _matrix(labels, question),
                     n_resamples, seed, confidence,
                     boot=lambda M, W: _boot_split_half(M, W, seed, n_splits=n_splits, method=method))


def krippendorff_alpha(labels, question: str | None = None, level: str = "interval", *, n_resamples: int = 1000,
                       seed: int = 0, confidence: float = 0.95):
    """Krippendorff's alpha (``level`` ``interval`` or ``ordinal``) from the coincidence matrix.

    LabelSet / DataFrame → :class:`~judgenet.stats.Estimate` with a bootstrap CI over items;
    ``(items, raters)`` array with NaN for missing → float (``krippendorff_alpha(R, level="ordinal")``
    or ``krippendorff_alpha(R, "ordinal")``)."""
    if _is_matrix(labels):
        if isinstance(question, str):  # krippendorff_alpha(R, "ordinal")
            level = question
        return _krippendorff_alpha(labels, level)
    if level not in ("interval", "ordinal"):
        raise LabelError(f"level must be 'interval' or 'ordinal', got {level!r}")
    return _estimate(lambda M: _krippendorff_alpha(M, level), _matrix(labels, question), n_resamples, seed,
                     confidence, boot=lambda M, W: _boot_krippendorff_alpha(M, W, level))


CEILING_STATS = ("pairwise_agreement", "loo_kendall_tau_b", "loo_kendall_tau_c", "loo_spearman",
                 "split_half_spearman_brown", "alpha_interval", "alpha_ordinal")


def rater_ceiling(labels, question: str, n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Rater-agreement summary for ``question`` with bootstrap CIs over items.

    Returns a flat dict: ``question`` (the only string), then numbers ``n_items``, ``n_raters``, ``mean_raters_per_item``,
    ``n_judgments``, and for each of :data:`CEILING_STATS` the value with ``<name>_low`` and
    ``<name>_high`` (percentile CI at ``confidence`` from ``n_resamples`` resamples of whole items),
    plus ``n_resamples`` and ``confidence``. ``labels`` is a LabelSet, a long DataFrame or an
    (items, raters) matrix. Raises :class:`LabelError` without rater ids or with < 2 raters.
    """
    R = _matrix(labels, question)
    if R.shape[1] < 2:
        raise LabelError(f"rater agreement needs at least 2 raters for {question!r}, found {R.shape[1]}")
    cnt = (~np.isnan(R)).sum(axis=1)
    if (cnt >= 2).sum() < 3:
        raise LabelError(f"rater agreement needs at least 3 items judged by >= 2 raters for {question!r}, "
                         f"found {int((cnt >= 2).sum())}")

    memo: dict = {}

    def loo(key):  # the three leave-one-out measures share one computation per resample
        def fn(i):
            k = hash(i.tobytes())  # same seed -> the same resamples in each bootstrap_ci call
            if k not in memo:
                memo[k] = _leave_one_rater_out(R[i])
            return memo[k][key]
        return fn

    stats = {
        "pairwise_agreement": lambda i: _pairwise_agreement(R[i]),
        "loo_kendall_tau_b": loo("kendall_tau_b"),
        "loo_kendall_tau_c": loo("kendall_tau_c"),
        "loo_spearman": loo("spearman"),
        "split_half_spearman_brown": lambda i: _split_half(R[i], seed),
        "alpha_interval": lambda i: _krippendorff_alpha(R[i], "interval"),
        "alpha_ordinal": lambda i: _krippendorff_alpha(R[i], "ordinal"),
    }
    out = {"question": question, "n_items": int(R.shape[0]), "n_raters": int(R.shape[1]),
           "mean_raters_per_item": float(cnt.mean()), "n_judgments": int(cnt.sum())}
    idx = np.arange(R.shape[0])
    if VECTORIZE_MAX_N is not None and R.shape[0] > VECTORIZE_MAX_N:  # the loop over resampled matrices
        for name, fn in stats.items():
            e = bootstrap_ci(fn, idx, n_resamples=n_resamples, confidence=confidence, seed=seed)
            out[name], out[f"{name}_low"], out[f"{name}_high"] = e.value, e.low, e.high
    else:
        prepared = _prepare(R, seed)
        point = _ceiling_resamples(R, _ones(R), seed, prepared=prepared)
        width = prepared["tables"][0].shape[0] if prepared["tables"] else 0
        boots = _in_blocks(lambda W: _ceiling_resamples(R, W, seed, prepared=prepared), R.shape[0], n_resamples,
                           seed, width)
        for name in stats:
            out[name] = float(point[name][0])
            out[f"{name}_low"], out[f"{name}_high"] = _percentile(boots[name], confidence)
    out["n_resamples"] = int(n_resamples)
    out["confidence"] = float(confidence)
    return out
