"""Agreement measures and bootstrap confidence intervals, shared by ``labels`` and ``evaluation``.

Every measure is named exactly as papers report it, because they differ a lot:

* ``kendall_tau_b`` — ties adjusted in both variables (Flickr8k-CF, most correlation tables).
* ``kendall_tau_c`` — Stuart's tau-c, for rectangular contingency tables (Flickr8k-Expert).
* ``spearman``, ``pearson`` — scipy's definitions.
* ``pairwise_accuracy`` — 2AFC accuracy with a declared tie policy: pairs the *human* scores tie
  are excluded; pairs only the *prediction* ties count as 0.5.

The bootstrap resamples whole groups (prompts, items or images) with replacement, seeded, and
reports percentile intervals. Everything is computed in float64.

For the named measures (and per-system means) the bootstrap is vectorized: resample ``r`` is a
count vector ``w_r`` (how often each item was drawn — the same draws, from the same random stream,
as the index-based loop), and every measure is computed from weighted pair counts for all
resamples at once. Discordant pairs are counted by a merge sort whose schedule depends only on the
data (items sorted by human score, then prediction): each merge level adds, for every right-half item,
its weight times the weight of the left-half items above it — O(B · n log n) for B resamples, exact in
float64. Tie counts come from per-value weight sums, average ranks from their cumulative sums. The result
equals the loop over resampled arrays to rounding (tested). Resamples are processed in blocks of at most
:data:`BLOCK_VALUES` weights, so memory stays bounded at any n, and the counts of one (human, prediction,
resamples) are computed once however many intervals need them. Memory traffic, not arithmetic, sets the speed at
large n: each merge level gathers by a permutation of the previous level's order (two sorted runs: nearly
sequential reads), the levels whose segments fit in :data:`DISCORDANT_CHUNK` items run chunk by chunk in cache,
and ties come straight from the weights when a variable has distinct values. The data-only structures (merge
schedule, distinct values) are kept per input; :func:`clear_caches` forgets them and the kept resampled values.
"""
from __future__ import annotations

import warnings
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
    "bootstrap_measures",
    "paired_bootstrap",
    "resample_weights",
    "resample_weight_blocks",
    "weighted_kendall_counts",
    "weighted_corr",
    "weighted_measures",
    "VECTORIZE_MAX_N",
    "clear_caches",
]

VECTORIZE_MAX_N = 10000
"""Kept as the switch ``benchmarks/bootstrap.py`` uses to time the loop over resampled arrays against the
vectorized rater-agreement bootstrap (:mod:`judgenet.labels.agreement`, which, like :func:`bootstrap_measures`
and :func:`paired_bootstrap`, vectorizes at any n in blocks of resamples)."""

BLOCK_VALUES = 4_000_000
"""Resample weights held at once (resamples × items, float64: 32 MB) by the blocked bootstrap."""


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
    # C − D through scipy's public O(n log n) kendalltau: tau_b · sqrt((n0 − tx)(n0 − ty)) is an integer, recovered
    # exactly by rounding (float64 error < 0.5 while n0 < 2**52 / 8); no pairs are comparable when either is constant.
    den = np.sqrt(float(n0 - tx) * float(n0 - ty))
    cmd = int(round(float(_st.kendalltau(x, y, variant="b").statistic) * den)) if den > 0 else 0
    return {"n": n, "n0": n0, "tx": tx, "ty": ty, "txy": txy, "c_minus_d": cmd,
            "kx": int(xr[-1]), "ky": int(yr.max())}


def _from_counts(k: dict, names) -> dict[str, np.ndarray]:
    """The Kendall-type measures among ``names`` from pair counts (:func:`kendall_counts`, scalars,
    or :func:`weighted_kendall_counts`, arrays); NaN where undefined."""
    n, n0, tx, ty, txy, cmd, kx, ky = (np.asarray(k[f], dtype=np.float64)
                                       for f in ("n", "n0", "tx", "ty", "txy", "c_minus_d", "kx", "ky"))
    out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        if "kendall_tau_b" in names:
            den = np.sqrt(n0 - tx) * np.sqrt(n0 - ty)
            out["kendall_tau_b"] = np.where(den > 0, cmd / den, np.nan)
        if "kendall_tau_c" in names:
            m = np.minimum(kx, ky)
            out["kendall_tau_c"] = np.where(m >= 2, 2.0 * m * cmd / (n ** 2 * (m - 1.0)), np.nan)
        if "pairwise_accuracy" in names:  # human-tied pairs excluded, predicted ties count 0.5
            usable = n0 - tx
            concordant = 0.5 * ((n0 - tx - ty + txy) + cmd)  # (concordant + discordant + (C − D)) / 2
            out["pairwise_accuracy"] = np.where(usable > 0, (concordant + 0.5 * (ty - txy)) / usable, np.nan)
    return out


def kendall_tau_b(x, y) -> float:
    """Kendall tau-b (ties adjusted in both variables); NaN if either is constant. Equals scipy's."""
    return float(_from_counts(kendall_counts(x, y), ["kendall_tau_b"])["kendall_tau_b"])


def kendall_tau_c(x, y) -> float:
    """Kendall tau-c (Stuart): 2m(C−D) / (n²(m−1)), m = min(#distinct x, #distinct y); NaN if m < 2."""
    return float(_from_counts(kendall_counts(x, y), ["kendall_tau_c"])["kendall_tau_c"])


def spearman(x, y) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    x, y = _pair(x, y)
    return pearson(_st.rankdata(x), _st.rankdata(y))


def pearson(x, y) -> float:
    """Pearson product-moment correlation (NaN if either input is constant)."""
    x, y = _pair(x, y)
    if np.ptp(x) == 0 or np.ptp(y) == 0:  # exact: a centred constant such as 0.1 need not be exactly 0
        return float("nan")
    xc, yc = x - x.mean(), y - y.mean()
    den = np.sqrt((xc @ xc) * (yc @ yc))
    return float(np.clip((xc @ yc) / den, -1.0, 1.0)) if den > 0 else float("nan")


def pairwise_accuracy(human, pred) -> float:
    """2AFC accuracy of ``pred`` against ``human`` over all item pairs, in O(n log n).

    Tie policy: pairs with equal human scores are excluded; among the rest, a pair the
    prediction orders the same way counts 1, the opposite way 0, a predicted tie 0.5.
    Returns NaN when every human score is equal.
    """
    return float(_from_counts(kendall_counts(human, pred), ["pairwise_accuracy"])["pairwise_accuracy"])


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


def resample_weights(n: int, groups=None, n_resamples: int = 1000, seed: int | None = 0) -> np.ndarray:
    """(n_resamples, n) float64 counts: row ``r`` says how often each observation is in the ``r``-th
    bootstrap resample (whole ``groups`` drawn with replacement). Same seed → the same resamples as
    :func:`bootstrap_ci` draws for a callable statistic."""
    return np.vstack(list(resample_weight_blocks(n, groups, n_resamples, seed, rows=n_resamples)))


def resample_weight_blocks(n: int, groups=None, n_resamples: int = 1000, seed: int | None = 0,
                           rows: int | None = None):
    """The rows of :func:`resample_weights` in consecutive blocks of ``rows`` (default: as many as
    :data:`BLOCK_VALUES` allows) — the same resamples, never all in memory at once."""
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    blocks = _group_index(n, groups)
    block_of = np.empty(n, dtype=np.intp)
    for b, idx in enumerate(blocks):
        block_of[idx] = b
    rng = np.random.default_rng(seed)
    rows = int(rows) if rows else max(1, BLOCK_VALUES // max(n, 1))
    for start in range(0, n_resamples, rows):
        W = np.empty((min(rows, n_resamples - start), n))
        for r in range(W.shape[0]):
            W[r] = np.bincount(rng.integers(0, len(blocks), size=len(blocks)), minlength=len(blocks))[block_of]
        yield W


_CACHE: dict = {}
CACHE_MAX_BYTES = 256 * 2**20
"""Data-only structures kept (at most 32 inputs and this many bytes, the newest always): a merge schedule of n
items holds ≈ 17 bytes × n × log2(n) (29 MB at n = 100,000; 340 MB at 1,000,000)."""


def _nbytes(obj) -> int:
    """Bytes of the arrays in ``obj`` (an array, or tuples, lists and dicts of them)."""
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, dict):
        return sum(_nbytes(v) for v in obj.values())
    if isinstance(obj, (tuple, list)):
        return sum(_nbytes(v) for v in obj)
    return 0


def _trim(cache: dict, max_bytes: int, max_items: int | None = None) -> None:
    """Drop the oldest entries of ``cache`` until it holds at most ``max_items`` entries and ``max_bytes`` of arrays;
    the newest entry always stays."""
    total = sum(_nbytes(v) for v in cache.values())
    while len(cache) > 1 and (total > max_bytes or (max_items is not None and len(cache) > max_items)):
        total -= _nbytes(cache.pop(next(iter(cache))))


def _cached(kind: str, fn, *arrays):
    """``fn(*arrays)`` kept for the last few inputs (content-keyed: the structures below depend only on the data,
    and every block of resamples, every measure and every interval of it reuses them)."""
    key = (kind,) + _key(*arrays)
    if key not in _CACHE:
        _CACHE[key] = value = fn(*arrays)
        _trim(_CACHE, CACHE_MAX_BYTES, max_items=32)
        return value
    return _CACHE[key]


def clear_caches() -> None:
    """Forget the kept merge schedules, value structures and resampled values (for cold timings)."""
    _CACHE.clear()
    _RESAMPLED.clear()


def _values(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """The distinct values of ``v`` (n,): the item order by value, where each value's run starts in it, each item's
    value index, and whether all values are distinct."""
    keys, inv = np.unique(v, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(inv[order])) + 1]
    return order, starts, inv, len(keys) == inv.size


def _value_sums(v: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct value of ``v`` (ascending): the summed weights (B, k), and each item's value index."""
    order, starts, inv, distinct = _cached("values", _values, v)
    return (W[:, order] if distinct else np.add.reduceat(W[:, order], starts, axis=1)), inv


def _ties(v: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B,) pairs tied in ``v`` and (B,) distinct values present, per row of ``W`` — without the value sums
    when all values are distinct (continuous predictions): then the ties are an item's repeats."""
    order, starts, _, distinct = _cached("values", _values, v)
    T = W if distinct else np.add.reduceat(W[:, order], starts, axis=1)
    return _tied_pairs(T), (T > 0).sum(axis=1).astype(np.float64)


def _tied_pairs(T: np.ndarray) -> np.ndarray:
    return (T * (T - 1.0) / 2.0).sum(axis=1)


def _use_table(n: int, kx: int, ky: int) -> bool:
    """Whether the contingency table (cost ∝ kx·ky per resample) beats the merge (∝ n log n): measured at
    B = 1,000, 1 thread, ~45 ns per cell against ~8–15 ns per item and level (e.g. 75 items with 15 × 75 values:
    table 49 ms, merge 7 ms; 975 items with 20 × 5 values: table 9 ms, merge 75 ms). At most 4,096 cells."""
    return kx * ky <= min(4096.0, max(64.0, n * np.log2(max(n, 2)) / 4.0))


def weighted_kendall_counts(x, y, W: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`kendall_counts` of the multisets that repeat observation ``i`` ``W[r, i]`` times, for
    every row ``r`` of ``W`` (B, n) at once → dict of (B,) float64 arrays (exact integers): ``n``,
    ``n0``, ``tx``, ``ty``, ``txy``, ``c_minus_d``, and ``kx``, ``ky`` (distinct values present).

    Few distinct values (Likert ratings; :func:`_use_table`) go through the weighted contingency table,
    O(B·kx·ky) after one product; otherwise the weighted discordant pairs come from a merge sort of the data
    (:func:`_weighted_discordant`), O(B·n log n), and ``C − D = n0 − tx − ty + txy − 2·discordant``."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    N = W.sum(axis=1)
    n0 = N * (N - 1.0) / 2.0
    ux, ix = np.unique(x, return_inverse=True)
    uy, iy = np.unique(y, return_inverse=True)
    kx, ky = ux.size, uy.size
    if _use_table(x.size, kx, ky):
        cells = np.zeros((x.size, kx * ky))
        cells[np.arange(x.size), ix * ky + iy] = 1.0
        T = (W @ cells).reshape(-1, kx, ky)  # weighted contingency table per resample
        Tx, Ty, Txy = T.sum(axis=2), T.sum(axis=1), T.reshape(T.shape[0], -1)
        G = np.cumsum(T[:, ::-1], axis=1)[:, ::-1] - T  # G[a, b] = sum over a' > a of T[a', b]
        higher = np.cumsum(G[:, :, ::-1], axis=2)[:, :, ::-1] - G  # a' > a, b' > b
        lower = np.cumsum(G, axis=2) - G  # a' > a, b' < b
        cmd = (T * (higher - lower)).sum(axis=(1, 2))
        tx, ty, txy = _tied_pairs(Tx), _tied_pairs(Ty), _tied_pairs(Txy)
        px, py = (Tx > 0).sum(axis=1).astype(np.float64), (Ty > 0).sum(axis=1).astype(np.float64)
    else:
        (tx, px), (ty, py) = _ties(x, W), _ties(y, W)
        # pairs tied in both: an item's repeats when either variable has distinct values, else ties of (x, y)
        txy = _tied_pairs(W) if kx == x.size or ky == y.size else _ties(ix * ky + iy, W)[0]
        cmd = n0 - tx - ty + txy - 2.0 * _weighted_discordant(x, y, W)
    return {"n": N, "n0": n0, "tx": tx, "ty": ty, "txy": txy, "c_minus_d": cmd, "kx": px, "ky": py}


def _key(*arrays) -> tuple:
    """A content key of arrays (shape, dtype, bytes) for the small caches here."""
    return tuple((a.shape, a.dtype.str, hash(np.ascontiguousarray(a).tobytes())) for a in arrays)


def _merge_levels(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, list]:
    """The bottom-up merge-sort schedule of the items sorted by (x, y), merging on y: the start order, then per
    level the merge as a permutation of the previous level's order (``merged``: two sorted runs per segment, so
    gathering by it reads memory almost in sequence), whether each item came from the left half (``left``) and
    where its pair-of-halves ends (``seg_end``). Depends only on the data."""
    order = np.lexsort((y, x))  # x-tied items ordered by y: never counted as discordant
    yv = y[order]
    n = yv.size
    slots = np.arange(n)
    cur = np.arange(n)
    levels, width = [], 1
    while width < n:
        segment = slots // (2 * width)
        left = (slots % (2 * width)) < width
        merged = np.lexsort((~left, yv[cur], segment))  # on equal y the left items first: "above" is strict
        cur = cur[merged]
        ends = np.r_[np.flatnonzero(np.diff(segment)), n - 1]
        levels.append((merged, left[merged], ends[segment]))
        width *= 2
    return order, levels


DISCORDANT_COLUMNS = 40
"""Resamples per pass of the merge (measured at n = 10k and 100k, 1 thread: 40 beat 8 and 80)."""
DISCORDANT_CHUNK = 4096
"""Merge levels whose pairs of halves fit in this many items run chunk by chunk, in cache (1.8× at n = 100k)."""


def _merge_level(Wm: np.ndarray, merged, left, seg_end, acc: np.ndarray) -> np.ndarray:
    """One merge level on weights ``Wm`` (items, resamples) in the previous level's order: adds to ``acc``, for
    every right-half item, its weight × the weight of its segment's left-half items with a larger y."""
    Wm = Wm[merged]
    cum = Wm * left[:, None]
    np.cumsum(cum, axis=0, out=cum)  # left-half weight at or before each position
    right = ~left
    acc += np.einsum("ij,ij->j", Wm[right], cum[seg_end[right]] - cum[right])
    return Wm


def _weighted_discordant(x: np.ndarray, y: np.ndarray, W: np.ndarray) -> np.ndarray:
    """(B,) weighted discordant pairs Σ w_i w_j over pairs with (x_i − x_j)(y_i − y_j) < 0, for every row of
    ``W`` (B, n): at each merge level, a right-half item of weight w adds w × (weight of the left-half items
    with a larger y). Exact in float64 (integer sums below 2**53). Resamples go :data:`DISCORDANT_COLUMNS` at a
    time; the low levels run per chunk of :data:`DISCORDANT_CHUNK` items (their segments never cross one)."""
    order, levels = _cached("merge", _merge_levels, x, y)
    n, chunk = x.size, DISCORDANT_CHUNK
    low = [lv for i, lv in enumerate(levels) if 2 ** (i + 1) <= chunk]
    out = np.zeros(W.shape[0])
    for s in range(0, W.shape[0], DISCORDANT_COLUMNS):
        Wm = np.ascontiguousarray(W[s:s + DISCORDANT_COLUMNS, order].T)  # (n, b): gathers move whole rows
        acc = np.zeros(Wm.shape[1])
        for c in range(0, n, chunk):
            Wc = Wm[c:c + chunk]
            for merged, left, seg_end in low:
                Wc = _merge_level(Wc, merged[c:c + chunk] - c, left[c:c + chunk], seg_end[c:c + chunk] - c, acc)
            Wm[c:c + chunk] = Wc
        for merged, left, seg_end in levels[len(low):]:
            Wm = _merge_level(Wm, merged, left, seg_end, acc)
        out[s:s + DISCORDANT_COLUMNS] = acc
    return out


def weighted_corr(a, b, W: np.ndarray, ranks: bool = False) -> np.ndarray:
    """Pearson (``ranks=False``) or Spearman (average ranks within each multiset) correlation of
    ``a`` and ``b`` (n,) on every row of weights ``W`` (B, n) → (B,); NaN where either is constant."""
    W = np.asarray(W, dtype=np.float64)
    N = W.sum(axis=1)
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    (Ta, ia), (Tb, ib) = _value_sums(a, W), _value_sums(b, W)
    # exact constancy test (a centred constant such as 0.1 need not be exactly 0 in floating point)
    varies = ((Ta > 0).sum(axis=1) >= 2) & ((Tb > 0).sum(axis=1) >= 2)
    if ranks:  # rank of value g = (weight below g) + (T_g + 1) / 2
        a = (np.cumsum(Ta, axis=1) - (Ta - 1.0) / 2.0)[:, ia]
        b = (np.cumsum(Tb, axis=1) - (Tb - 1.0) / 2.0)[:, ib]
    with np.errstate(invalid="ignore", divide="ignore"):
        ac = a - (W * a).sum(axis=1, keepdims=True) / N[:, None]
        bc = b - (W * b).sum(axis=1, keepdims=True) / N[:, None]
        den = np.sqrt((W * ac * ac).sum(axis=1) * (W * bc * bc).sum(axis=1))
        ok = varies & (den > 0)
        return np.where(ok, np.clip((W * ac * bc).sum(axis=1) / den, -1.0, 1.0), np.nan)


def weighted_measures(names: Sequence[str], x, y, W: np.ndarray) -> dict[str, np.ndarray]:
    """Each named measure (keys of :data:`MEASURES`) of (x, y) on every row of weights ``W`` (B, n)
    — row ``r`` stands for the multiset repeating observation ``i`` ``W[r, i]`` times → {name: (B,)};
    NaN where the measure is undefined (constant input, fewer than 2 observations)."""
    out: dict[str, np.ndarray] = {}
    nan = np.full(W.shape[0], np.nan)
    N = W.sum(axis=1)
    if {"kendall_tau_b", "kendall_tau_c", "pairwise_accuracy"} & set(names):
        out.update(_from_counts(weighted_kendall_counts(x, y, W), names))
    if "spearman" in names:
        out["spearman"] = weighted_corr(x, y, W, ranks=True)
    if "pearson" in names:
        out["pearson"] = weighted_corr(x, y, W)
    return {m: np.where(N >= 2, out[m], nan) for m in names}


def _weighted_system(measure: str, x: np.ndarray, y: np.ndarray, systems, W: np.ndarray) -> np.ndarray:
    """:func:`system_level` on every resample: per-system weighted means, systems absent from a
    resample left out → (B,)."""
    _, inv = np.unique(np.asarray(systems), return_inverse=True)
    onehot = np.zeros((inv.size, inv.max() + 1))
    onehot[np.arange(inv.size), inv] = 1.0
    cnt = W @ onehot
    with np.errstate(invalid="ignore", divide="ignore"):
        mx, my = (W * x) @ onehot / cnt, (W * y) @ onehot / cnt
    k = onehot.shape[1]
    if measure == "kendall_tau_b" and k <= 512:  # few systems: every pair's signs at once, (B, k, k)
        present = cnt > 0
        both = present[:, :, None] & present[:, None, :] & np.triu(np.ones((k, k), bool), 1)
        dx = np.where(both, np.sign(np.nan_to_num(mx[:, :, None] - mx[:, None, :])), 0.0)
        dy = np.where(both, np.sign(np.nan_to_num(my[:, :, None] - my[:, None, :])), 0.0)
        n0 = both.sum(axis=(1, 2))
        den = np.sqrt((n0 - (both & (dx == 0)).sum(axis=(1, 2))) * (n0 - (both & (dy == 0)).sum(axis=(1, 2))))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, (dx * dy).sum(axis=(1, 2)) / den, np.nan)
    fn = MEASURES[measure]
    out = np.full(W.shape[0], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(W.shape[0]):
            present = cnt[r] > 0
            if present.sum() >= 2:
                out[r] = fn(mx[r, present], my[r, present])
    return out


def _statistic(name: str) -> Callable[[np.ndarray, np.ndarray, np.ndarray], float]:
    """The plain (unweighted) statistic behind a measure name, as ``f(human, pred, systems)``."""
    if name.startswith("system_"):
        return lambda h, p, s: system_level(h, p, s, name[len("system_"):])
    return lambda h, p, s: float(MEASURES[name](h, p))


def _known(name: str) -> bool:
    return name in MEASURES or (name.startswith("system_") and name[len("system_"):] in MEASURES)


def bootstrap_measures(
    human,
    pred,
    measures: Sequence[str] = tuple(MEASURES),
    *,
    systems=None,
    groups=None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> dict[str, Estimate]:
    """Percentile bootstrap CIs of several named measures of ``(human, pred)`` from one set of resamples.

    ``measures``: names from :data:`MEASURES`, or ``"system_<name>"`` for :func:`system_level` over
    ``systems`` (length n, e.g. generator names). Vectorized at any n (blocks of resamples);
    identical (to rounding) to ``bootstrap_ci(MEASURES[name], human, pred, …)`` with the same seed.
    Returns ``{name: Estimate}``; undefined values (constant inputs) are NaN, silently.
    """
    for m in measures:
        if not _known(m):
            raise ValueError(f"unknown measure {m!r}; choose from {', '.join(MEASURES)} or system_<measure>")
        if m.startswith("system_") and systems is None:
            raise ValueError(f"{m} needs systems= (one system name per observation)")
    x, y = _pair(human, pred)
    sys_arr = np.asarray(systems) if systems is not None else np.zeros(x.size)  # aligned, unused without system_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boots = _resampled(x, y, list(measures), groups, n_resamples, seed, sys_arr)
        point = {m: _statistic(m)(x, y, sys_arr) for m in measures}
    return {m: Estimate(point[m], *_percentile(boots[m], confidence), n_resamples, confidence) for m in measures}


_RESAMPLED: dict = {}
RESAMPLED_MAX_VALUES = 8_000_000
"""Resampled values kept for reuse (float64: 64 MB), oldest input first out. An evaluation asks for several
intervals per prediction with per-generator intervals in between (dozens of inputs), so a cap on the number
of inputs (16, earlier) threw away the pooled values before the paired comparisons asked for them again."""


def _resampled(x, y, measures: list, groups, n_resamples: int, seed, systems=None) -> dict[str, np.ndarray]:
    """{measure: (n_resamples,)} values of the named measures on every bootstrap resample of (x, y), computed
    block by block of resamples (:func:`resample_weight_blocks`); values already computed for the same data,
    groups, resamples and seed (another interval of the same prediction, e.g. :func:`bootstrap_measures` and then
    :func:`paired_bootstrap`) are reused (up to :data:`RESAMPLED_MAX_VALUES`). Only ``system_*`` values depend on ``systems``."""
    g = None if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    base = (_key(x, y, *(() if g is None else (g,))), g is None, int(n_resamples), seed)
    sys_key = base if systems is None else base + _key(np.unique(np.asarray(systems), return_inverse=True)[1])

    def slot(m):  # unseeded: fresh resamples every call, nothing kept
        if seed is None:
            return {}
        return _RESAMPLED.setdefault(sys_key if m.startswith("system_") else base, {})

    have = {m: slot(m) for m in measures}
    missing = [m for m in measures if m not in have[m]]
    if missing:
        plain = [m for m in missing if not m.startswith("system_")]
        system = [m for m in missing if m.startswith("system_")]
        parts: dict[str, list] = {m: [] for m in missing}
        for W in resample_weight_blocks(x.size, groups, n_resamples, seed):
            for m, v in weighted_measures(plain, x, y, W).items():
                parts[m].append(v)
            for m in system:
                parts[m].append(_weighted_system(m[len("system_"):], x, y, systems, W))
        for m, v in parts.items():
            have[m][m] = np.concatenate(v)
            have[m][m].flags.writeable = False  # shared by every interval that asks for it
    _trim(_RESAMPLED, 8 * RESAMPLED_MAX_VALUES)
    return {m: have[m][m] for m in measures}


def bootstrap_ci(
    statistic: str | Callable[..., float],
    *arrays: Sequence,
    groups=None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> Estimate:
    """Percentile bootstrap CI of ``statistic(*arrays)``, resampling ``groups`` whole.

    ``arrays`` are aligned along axis 0 (n observations). ``groups`` (length n, optional) names the
    resampling unit — e.g. the prompt, so that all images of a prompt enter or leave together.
    ``statistic`` may be a measure name (see :func:`bootstrap_measures`, vectorized; ``arrays`` are
    then ``human, pred`` and, for ``system_*``, the systems) or any callable (a loop over resamples).
    """
    if isinstance(statistic, str):
        systems = arrays[2] if len(arrays) > 2 else None
        return bootstrap_measures(arrays[0], arrays[1], [statistic], systems=systems, groups=groups,
                                  n_resamples=n_resamples, confidence=confidence, seed=seed)[statistic]
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
    replicates where a does not beat b (a one-sided bootstrap p-value). A measure name is
    vectorized (blocks of resamples, any n); a callable runs a loop over resamples.
    """
    h = np.asarray(human, dtype=np.float64)
    a = np.asarray(pred_a, dtype=np.float64)
    b = np.asarray(pred_b, dtype=np.float64)
    if isinstance(measure, str) and measure in MEASURES:
        (h, a), (_, b) = _pair(h, a), _pair(h, b)
        va, vb = MEASURES[measure](h, a), MEASURES[measure](h, b)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ba, bb = (_resampled(h, p, [measure], groups, n_resamples, seed)[measure] for p in (a, b))
    else:
        fn = MEASURES[measure] if isinstance(measure, str) else measure
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
