"""The one exact k-NN kernel of :mod:`judgenet.metrics`: k-NN distances and radii, manifold coverage
(precision/recall) and the realism score (Kynkäänniemi et al. 2019), all as float32 matrix products with
float64 answers.

How it stays exact. Rows are centred on the reference mean (distances do not change) and cast to float32;
each block of query rows × reference rows is one float32 matrix product G = Q·Rᵀ (numpy's BLAS: on the
machines measured, OpenBLAS sgemm beat torch's MKL sgemm by ~1.35× and FAISS's flat index; see
``benchmarks/metrics.py --only knn``), from which a per-row score is formed in place and only the best few
candidates per row are kept (``torch.topk``/``max``; at most ``block × block`` floats exist at a time).
The float32 squared distance differs from the exact one by at most
``B_i = (D + 32)·u·(‖q_i‖ + max_j ‖r_j‖)²`` (u = 2⁻²⁴: the worst-case error of any summation order of a
D-term float32 dot product, the rounding of the inputs and of the few element-wise steps, with a 2× margin).
The candidates' distances are then recomputed exactly in float64 from the original rows (Σ (q − r)², no
cancellation), and the bound proves, row by row, that no discarded reference row could change the answer.
Rows where it cannot (near-ties within B_i, e.g. many duplicates) are searched again with float64 products
and the same exact recomputation. Results equal a float64 brute force (``scipy.spatial.distance.cdist``) to
rounding, except where several reference rows tie exactly (only the values are returned, never indices).

Memory: float32 copies of the inputs (half their float64 size), one ``block × block`` float32 buffer and a
few candidates per query row.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import ConfigError
from ._util import as_2d

__all__ = ["knn_sqdist", "knn_radii_sq", "coverage", "realism_max"]

_EXTRA = 4  # candidates kept beyond k: the margin that lets the float32 screen prove the k-th distance
_EXACT_CHUNK = 1 << 18  # float64 elements per chunk of the exact recomputation (2 MiB: stays in cache)


class _Prepared:
    """Rows ``rows`` of ``query`` and all of ``ref``, centred on the reference mean, in ``dtype``, with their
    squared norms (float64, of the cast values) and the per-row error bound of a squared distance."""

    def __init__(self, query: np.ndarray, ref: np.ndarray, rows: np.ndarray, dtype, same: bool = False):
        centre = ref.mean(axis=0)
        self.dtype = np.dtype(dtype)
        self.r = _centred(ref, None, centre, dtype)
        self.q = self.r if same and rows.size == query.shape[0] else _centred(query, rows, centre, dtype)
        self.rn64 = np.einsum("ij,ij->i", self.r, self.r, dtype=np.float64)
        self.qn64 = self.rn64 if self.q is self.r else np.einsum("ij,ij->i", self.q, self.q, dtype=np.float64)
        self.rn = self.rn64.astype(dtype)
        self.u = float(np.finfo(dtype).eps) / 2
        self.r_max2 = float(self.rn64.max()) if self.rn64.size else 0.0
        self.bound = (query.shape[1] + 32) * self.u * (np.sqrt(self.qn64) + np.sqrt(self.r_max2)) ** 2


def _centred(a: np.ndarray, rows: np.ndarray | None, centre: np.ndarray, dtype) -> np.ndarray:
    """(a[rows] − centre) in ``dtype``, converted in chunks (no float64 temporary of the whole array)."""
    n = a.shape[0] if rows is None else rows.size
    out = np.empty((n, a.shape[1]), dtype=dtype)
    step = max(1, _EXACT_CHUNK // max(1, a.shape[1]))
    for i in range(0, n, step):
        part = a[i:i + step] if rows is None else a[rows[i:i + step]]
        np.subtract(part, centre, out=out[i:i + step], casting="same_kind")
    return out


def _scan(p: _Prepared, m: int, score: Callable, block: int) -> tuple[np.ndarray, np.ndarray]:
    """For each prepared query row, the ``m`` largest values of ``score`` over all reference rows and their
    reference indices: (n, m) values in ``p.dtype`` (unsorted) and int64 indices.

    Per block, S = 2·Q·Rᵀ − ‖R‖² (so that ‖q − r‖² = ‖q‖² − S) is one matrix product (2·Q is exact) and one
    pass; ``score(S, i0, j0)`` turns it into the score in place (i0: first prepared row, j0: first ref row)."""
    import torch  # imported on use: importing judgenet.metrics stays free of torch

    n_q, n_r = p.q.shape[0], p.r.shape[0]
    m = min(m, n_r)
    vals = np.empty((n_q, m), dtype=p.dtype)
    idx = np.empty((n_q, m), dtype=np.int64)
    buf = np.empty(min(block, n_q) * min(block, n_r), dtype=p.dtype)
    for i0 in range(0, n_q, block):
        q2 = p.q[i0:i0 + block] * 2
        best_v = best_i = None
        for j0 in range(0, n_r, block):
            rb = p.r[j0:j0 + block]
            S = buf[:q2.shape[0] * rb.shape[0]].reshape(q2.shape[0], rb.shape[0])
            np.matmul(q2, rb.T, out=S)
            S -= p.rn[j0:j0 + rb.shape[0]]
            score(S, i0, j0)
            t = torch.from_numpy(S)
            if m == 1:
                v, ix = torch.max(t, dim=1, keepdim=True)
            else:
                v, ix = torch.topk(t, min(m, t.shape[1]), dim=1, sorted=False)
            ix += j0
            if best_v is None:
                best_v, best_i = v, ix
                continue
            cat_v = torch.cat([best_v, v], 1)
            if m == 1:
                best_v, sel = torch.max(cat_v, dim=1, keepdim=True)
            else:
                best_v, sel = torch.topk(cat_v, m, dim=1, sorted=False)
            best_i = torch.gather(torch.cat([best_i, ix], 1), 1, sel)
        vals[i0:i0 + q2.shape[0]] = best_v.numpy()
        idx[i0:i0 + q2.shape[0]] = best_i.numpy()
    return vals, idx


def _exact_sqdist(query: np.ndarray, ref: np.ndarray, rows: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Σ (query[rows[a]] − ref[idx[a, b]])² in float64, from the original rows (no cancellation)."""
    out = np.empty(idx.shape)
    step = max(1, _EXACT_CHUNK // max(1, idx.shape[1] * query.shape[1]))
    for a0 in range(0, rows.size, step):
        diff = ref[idx[a0:a0 + step]] - query[rows[a0:a0 + step], None, :]
        out[a0:a0 + step] = np.einsum("abk,abk->ab", diff, diff)
    return out


def _pair(query, ref, name_q: str, name_r: str) -> tuple[np.ndarray, np.ndarray]:
    q = as_2d(query, name_q)
    r = as_2d(ref, name_r)
    if q.shape[1] != r.shape[1]:
        raise ConfigError(f"{name_q} and {name_r} dimensions differ: {q.shape[1]} vs {r.shape[1]}")
    return q, r


def _check_block(block: int) -> int:
    if int(block) < 1:
        raise ConfigError(f"block must be a positive number of rows, got {block}")
    return int(block)


def _two_pass(n_q: int, search: Callable) -> np.ndarray:
    """``search(dtype, rows) -> (values, proven)`` in float32 for all rows, then in float64 for the rows whose
    float32 screen could not prove the answer (their float64 answer is taken as is)."""
    out, ok = search(np.float32, np.arange(n_q))
    if not ok.all():
        bad = np.flatnonzero(~ok)
        out[bad] = search(np.float64, bad)[0]
    return out


# ---------------------------------------------------------------------------------------------
# k nearest distances
# ---------------------------------------------------------------------------------------------
def knn_sqdist(query, ref, k: int, *, exclude_self: bool = False, block: int = 2048) -> np.ndarray:
    """Squared Euclidean distances to the ``k`` nearest rows of ``ref``: (n_query, k) float64, ascending.

    With ``exclude_self=True`` (query is ref) each row's own index is skipped, so column k−1 is the
    distance to the k-th *other* point (Kynkäänniemi et al. 2019's neighbourhood radius); a duplicate of
    the row is another point at distance 0. Exact (see the module docstring); memory O(block² + n_query·k).
    """
    q, r = _pair(query, ref, "query", "ref")
    block = _check_block(block)
    n_avail = r.shape[0] - (1 if exclude_self else 0)
    if not 1 <= k <= n_avail:
        raise ConfigError(f"k={k} nearest neighbours requested but only {n_avail} reference rows available")
    if exclude_self and q.shape[0] != r.shape[0]:
        raise ConfigError("exclude_self=True needs query and ref to be the same rows")
    m = min(n_avail, k + max(_EXTRA, k))

    def search(dtype, rows):
        p = _Prepared(q, r, rows, dtype, same=exclude_self)

        def score(S, i0, j0):  # larger S = nearer; a row's own index never counts
            if exclude_self:
                g = rows[i0:i0 + S.shape[0]]
                a = np.flatnonzero((g >= j0) & (g < j0 + S.shape[1]))
                S[a, g[a] - j0] = -np.inf

        s, idx = _scan(p, m, score, block)
        d = np.sort(_exact_sqdist(q, r, rows, idx), axis=1)[:, :k]
        if m == n_avail:  # every reference row is a candidate
            return d, np.ones(rows.size, bool)
        # a discarded row j has S_j ≤ the smallest kept S, so ‖q − r_j‖² ≥ ‖q‖² − min kept S − B
        return d, d[:, -1] <= p.qn64 - s.min(axis=1).astype(np.float64) - p.bound

    return _two_pass(q.shape[0], search)


def knn_radii_sq(x, k: int = 3, *, block: int = 2048) -> np.ndarray:
    """(N,) squared distance of each row of ``x`` (N, D) to its k-th nearest *other* row: the radii of the
    k-NN manifold (precision/recall, realism score, ``RealStats``)."""
    return knn_sqdist(x, x, k, exclude_self=True, block=block)[:, -1]


# ---------------------------------------------------------------------------------------------
# manifold coverage (precision / recall)
# ---------------------------------------------------------------------------------------------
def coverage(query, support, radii_sq, *, block: int = 2048) -> np.ndarray:
    """(n_query,) bool: whether each query row lies in some ball ‖x − support_j‖² ≤ radii_sq[j] (boundary
    inside, as the official code). Exact (module docstring)."""
    q, r = _pair(query, support, "query", "support")
    block = _check_block(block)
    rad = np.asarray(radii_sq, dtype=np.float64).ravel()
    if rad.shape[0] != r.shape[0]:
        raise ConfigError(f"radii_sq has {rad.shape[0]} entries for {r.shape[0]} support rows")
    m_exact = min(r.shape[0], 1 + _EXTRA)

    def search(dtype, rows):
        p = _Prepared(q, r, rows, dtype)
        rad_t = rad.astype(dtype)
        if dtype == np.float32:  # screen: max_j (radius_j − ‖q − r_j‖²) = max_j (S_j + radius_j) − ‖q‖²
            slack = p.bound + 4 * p.u * (p.r_max2 + float(rad.max(initial=0.0)))
            s, _ = _scan(p, 1, lambda S, i0, j0: np.add(S, rad_t[j0:j0 + S.shape[1]], out=S), block)
            margin = s[:, 0].astype(np.float64) - p.qn64
            return margin >= 0, (margin >= slack) | (margin < -slack)
        s, idx = _scan(p, m_exact, lambda S, i0, j0: np.add(S, rad_t[j0:j0 + S.shape[1]], out=S), block)
        return (_exact_sqdist(q, r, rows, idx) <= rad[idx]).any(axis=1), None

    return _two_pass(q.shape[0], search)


# ---------------------------------------------------------------------------------------------
# realism score
# ---------------------------------------------------------------------------------------------
def realism_max(query, real, radii_sq, *, eps: float = 1e-5, block: int = 2048) -> np.ndarray:
    """(n_query,) float64 max_j radii_sq[j] / (‖q − real_j‖² + eps) — the realism score of Kynkäänniemi et al.
    2019 (official-code form) given the (already clamped) squared radii. Exact (module docstring)."""
    q, r = _pair(query, real, "query", "real")
    block = _check_block(block)
    rad = np.asarray(radii_sq, dtype=np.float64).ravel()
    if rad.shape[0] != r.shape[0]:
        raise ConfigError(f"radii_sq has {rad.shape[0]} entries for {r.shape[0]} real rows")
    if not eps > 0:
        raise ConfigError(f"eps must be > 0 (it keeps the ratio finite at distance 0), got {eps}")
    keep = np.flatnonzero(rad > 0)  # a zero radius scores 0 against every query: never the maximum
    if keep.size == 0:
        return np.zeros(q.shape[0])
    r, rad = r[keep], rad[keep]
    m = min(r.shape[0], 4)

    def search(dtype, rows):
        p = _Prepared(q, r, rows, dtype)
        rad_t = rad.astype(dtype)
        floor = (p.qn64 - p.bound + eps).astype(dtype)  # ‖q‖² − B + eps

        def score(S, i0, j0):  # an upper bound of radius_j / (‖q − r_j‖² + eps): the distance's lower bound
            np.subtract(floor[i0:i0 + S.shape[0], None], S, out=S)
            np.maximum(S, dtype(eps), out=S)
            np.divide(rad_t[j0:j0 + S.shape[1]], S, out=S)

        ub, idx = _scan(p, m, score, block)
        v = (rad[idx] / (_exact_sqdist(q, r, rows, idx) + eps)).max(axis=1)
        if m == r.shape[0]:
            return v, np.ones(rows.size, bool)
        # a discarded row's exact ratio is at most its upper bound ≤ the smallest kept one (+ its rounding)
        return v, v >= ub.min(axis=1).astype(np.float64) * (1 + 8 * p.u)

    return _two_pass(q.shape[0], search)
