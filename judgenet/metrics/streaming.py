"""One-pass, mergeable statistics and blocked nearest-neighbour search.

* :class:`Moments` — count, mean and centred scatter matrix Σ(x−x̄)(x−x̄)ᵀ of a stream of
  (n, d) batches, in float64, O(d²) memory. Batches and partial results from shards/processes
  are combined with the pairwise update of Chan, Golub & LeVeque (1979), which is exact in exact
  arithmetic and numerically stable (no "sum of squares minus n·mean²" cancellation).
* :func:`knn_sqdist` / :func:`knn_radii_sq` — re-exported from :mod:`judgenet.metrics.knn`, the one exact
  blocked k-NN kernel (float32 matrix products, float64 answers).
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError, NumericalError
from ._util import _row_norms, as_2d, as_rows, nonfinite_error
from .knn import knn_radii_sq, knn_sqdist

__all__ = ["Moments", "knn_sqdist", "knn_radii_sq"]


class Moments:
    """Streaming first and second moments of d-dimensional rows, in float64.

    Attributes: ``count`` (int), ``mean`` (d,), ``scatter`` (d, d) = Σ (x−mean)(x−mean)ᵀ.
    Also kept, for the Ledoit–Wolf shrinkage intensity only: ``m3`` = Σ‖x−mean‖²(x−mean) (d,) and
    ``m4`` = Σ‖x−mean‖⁴, both about the current mean and re-centred exactly on merge. They cost two
    more passes over every batch; ``higher=False`` skips them (they are then NaN, and
    :meth:`ledoit_wolf_shrinkage` says so).

    >>> m = Moments(3).update(np.ones((4, 3))); m.count
    4
    """

    def __init__(self, dim: int, *, higher: bool = True):
        if dim < 1:
            raise ConfigError(f"Moments needs a positive dimension, got {dim}")
        self.dim = int(dim)
        self.higher = bool(higher)
        self.count = 0
        self.mean = np.zeros(self.dim)
        self.scatter = np.zeros((self.dim, self.dim))
        self.m3 = np.zeros(self.dim) if higher else np.full(self.dim, np.nan)
        self.m4 = 0.0 if higher else float("nan")

    # -- accumulation -------------------------------------------------------------------------
    @classmethod
    def from_array(cls, x, *, higher: bool = True) -> "Moments":
        """Moments of one (n, d) array (single pass)."""
        x = as_2d(x, "x")
        m = cls(x.shape[1], higher=higher)
        m.update(x)
        return m

    @classmethod
    def from_owned(cls, z: np.ndarray, *, higher: bool = True) -> "Moments":
        """Moments of a float64 (n, d) array that the caller owns and no longer needs: ``z`` is centred
        *in place* (no second copy), then one symmetric product ``zᵀz`` (BLAS syrk) gives the scatter.
        Values are not checked: see :meth:`check_finite`. Peak extra memory: d² floats."""
        m = cls(z.shape[1], higher=higher)
        n = z.shape[0]
        if n == 0:
            return m
        mean = z.mean(axis=0)
        z -= mean
        m.count, m.mean, m.scatter = n, mean, z.T @ z
        if higher:
            sq = np.einsum("ij,ij->i", z, z)
            m.m3 = sq @ z
            m.m4 = float(sq @ sq)
        return m

    @classmethod
    def from_joint(cls, x: np.ndarray, y: np.ndarray, start: int = 0, stop: int | None = None, *,
                   normalize: bool = False, higher: bool = True, block_rows: int | None = None,
                   names: tuple[str, str] = ("x", "y")) -> "Moments":
        """Moments of the joint rows z = [x; y] (rows ``start:stop``) — MID's reference statistics — in one pass.

        ``x`` (n, Dx), ``y`` (n, Dy): numpy arrays of any float dtype (e.g. :func:`as_rows` views), never
        modified. Rows go through one reused float64 buffer of ``block_rows`` rows (default: 16 MiB): each
        block is converted, L2-normalized per half (``normalize``), shifted by a provisional centre s (the
        mean of the first block), summed, and added to Σ(z−s)(z−s)ᵀ by a symmetric rank-k update (BLAS
        syrk, accumulated in place); the scatter about the mean is that minus n·δδᵀ with δ = mean − s
        (small, so no cancellation of note). Total work: one read of the inputs and one syrk — the floor
        of an exact method; extra memory: the buffer and two (p, p) matrices, p = Dx+Dy.

        ``higher=True`` (the Ledoit–Wolf sums) centres each block exactly and merges blocks with
        :meth:`merge` instead. Values are not checked: see :meth:`is_finite`.
        """
        from scipy.linalg import blas

        stop = x.shape[0] if stop is None else stop
        n, dx = stop - start, x.shape[1]
        p = dx + y.shape[1]
        out = cls(p, higher=higher)
        if n <= 0:
            return out
        rows = int(block_rows) if block_rows else max(256, (1 << 24) // (8 * p))
        rows = min(rows, n)
        sub = max(16, (1 << 19) // (8 * p))  # ~512 KiB: element-wise steps run in cache
        buf = np.empty((rows, p), dtype=np.float64)
        syrk = getattr(blas, "dsyrk", None)  # scipy's float64 BLAS syrk
        acc = np.zeros((p, p), dtype=np.float64, order="F")  # upper triangle of Σ(z−s)(z−s)ᵀ
        shift, colsum = None, np.zeros(p)
        for i0 in range(start, stop, rows):
            k = min(rows, stop - i0)
            b = buf[:k]
            for j in range(0, k, sub):
                c = b[j:j + sub]
                for src, cols, name in ((x, slice(0, dx), names[0]), (y, slice(dx, p), names[1])):
                    rows_in = src[i0 + j:i0 + j + c.shape[0]]
                    if normalize:  # copy and normalize in one step, norms in float64
                        with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf: see is_finite()
                            np.divide(rows_in, _row_norms(rows_in, name, i0 + j)[:, None], out=c[:, cols])
                    else:
                        c[:, cols] = rows_in
                if higher:
                    continue
                if shift is None:
                    shift = c.mean(axis=0)
                c -= shift
                colsum += c.sum(axis=0)
            if higher:  # exact per-block centring; Chan merge re-centres the 3rd/4th-moment sums exactly
                part = cls.from_owned(b, higher=True)
                out = part if out.count == 0 else out.merge(part)
            elif syrk is not None:
                acc = syrk(1.0, b.T, beta=1.0, c=acc, trans=0, lower=0, overwrite_c=1)
            else:  # pragma: no cover - scipy without a float64 syrk
                acc += b.T @ b
        if higher:
            return out
        delta = colsum / n
        scatter = np.triu(acc) if syrk is not None else np.asarray(acc)
        if syrk is not None:
            scatter += np.triu(acc, 1).T
        scatter -= np.outer(delta, delta * n)
        out.count, out.mean, out.scatter = n, shift + delta, np.ascontiguousarray(scatter)
        return out

    def update(self, x) -> "Moments":
        """Add the rows of ``x`` ((n, d) array or tensor, any float dtype). Returns ``self``."""
        x = as_rows(x, "x", self.dim)
        if x.shape[0] == 0:
            return self
        part = Moments.from_owned(np.array(x, dtype=np.float64), higher=self.higher)  # the one float64 copy
        if not part.is_finite():
            raise nonfinite_error("x", x)
        return self.merge(part)

    def is_finite(self) -> bool:
        """Whether mean and scatter diagonal are finite — false as soon as any accumulated row had a
        NaN/inf entry (it spreads into the mean and the diagonal), at O(d) cost."""
        return bool(np.isfinite(self.mean).all() and np.isfinite(np.diagonal(self.scatter)).all())

    def merge(self, other: "Moments") -> "Moments":
        """Fold ``other`` (statistics of disjoint rows) into ``self`` exactly. Returns ``self``."""
        if other.dim != self.dim:
            raise ConfigError(f"cannot merge Moments of dimension {other.dim} into {self.dim}")
        if other.count == 0:
            return self
        if self.higher and not other.higher:
            self.higher, self.m3, self.m4 = False, np.full(self.dim, np.nan), float("nan")
        if self.count == 0:
            self.count, self.mean = other.count, other.mean.copy()
            self.scatter = other.scatter.copy()
            if self.higher:
                self.m3, self.m4 = other.m3.copy(), other.m4
            return self
        na, nb = self.count, other.count
        n = na + nb
        delta = other.mean - self.mean
        new_mean = self.mean + delta * (nb / n)
        if self.higher:
            m3a, m4a = _recentre(self.m3, self.m4, self.scatter, na, new_mean - self.mean)
            m3b, m4b = _recentre(other.m3, other.m4, other.scatter, nb, new_mean - other.mean)
            self.m3, self.m4 = m3a + m3b, m4a + m4b
        self.mean = new_mean
        self.scatter += other.scatter
        self.scatter += np.outer(delta, delta) * (na * nb / n)
        self.count = n
        return self

    @classmethod
    def merged(cls, parts) -> "Moments":
        """A new :class:`Moments` of the union of ``parts`` (inputs are not modified)."""
        parts = list(parts)
        if not parts:
            raise ConfigError("Moments.merged needs at least one part")
        out = cls(parts[0].dim, higher=all(p.higher for p in parts))
        for p in parts:
            out.merge(p)
        return out

    def copy(self) -> "Moments":
        out = Moments(self.dim, higher=self.higher)
        out.merge(self)
        return out

    # -- derived statistics -------------------------------------------------------------------
    def cov(self, ddof: int = 1) -> np.ndarray:
        """Sample covariance (d, d), divided by ``count − ddof`` (default unbiased, N−1)."""
        if self.count - ddof <= 0:
            raise NumericalError(f"a covariance with ddof={ddof} needs more than {ddof} rows, got {self.count}")
        return self.scatter / (self.count - ddof)

    def scatter_about(self, point) -> np.ndarray:
        """Σ (x−point)(x−point)ᵀ (d, d) = scatter + n (mean−point)(mean−point)ᵀ."""
        d = self.mean - np.asarray(point, dtype=np.float64)
        return self.scatter + self.count * np.outer(d, d)

    def block(self, start: int, stop: int) -> "Moments":
        """Moments of the coordinates ``start:stop`` (e.g. the x part of z = [x; y])."""
        out = Moments(stop - start, higher=False)  # the 4th-moment sums do not split by coordinates
        out.count = self.count
        out.mean = self.mean[start:stop].copy()
        out.scatter = self.scatter[start:stop, start:stop].copy()
        return out

    def ledoit_wolf_shrinkage(self) -> float:
        """Ledoit & Wolf (2004) shrinkage intensity δ ∈ [0, 1], identical to
        ``sklearn.covariance.ledoit_wolf_shrinkage`` on the (centred) rows.

        Uses the tracked Σ‖x−x̄‖⁴, so it is exact after :meth:`merge` too.
        """
        n, p = self.count, self.dim
        if n < 2:
            raise NumericalError(f"Ledoit–Wolf shrinkage needs at least 2 rows, got {n}")
        if not self.higher:
            raise NumericalError("these Moments were accumulated without the fourth-moment sums (higher=False, or "
                                 "sliced with block()); accumulate with higher=True to get the Ledoit–Wolf intensity")
        quart = self.m4
        emp = self.scatter / n  # biased (MLE) covariance, as sklearn
        tr = float(np.trace(emp))
        m = tr / p
        fro2 = float(np.sum(emp * emp))
        beta = (quart / n - fro2) / (p * n)
        delta = (fro2 - 2.0 * m * tr + p * m * m) / p
        beta = min(beta, delta)
        return 0.0 if beta <= 0 else float(beta / delta)

    def oas_shrinkage(self) -> float:
        """Oracle Approximating Shrinkage intensity δ ∈ [0, 1] (Chen, Wiesel, Eldar & Hero 2010), identical to
        ``sklearn.covariance.OAS().fit(x).shrinkage_``: with S the biased covariance, α = mean(S²) and
        μ = tr S / d, δ = min((α + μ²) / ((n+1)(α − μ²/d)), 1) (1 when the denominator is 0; 0 when d = 1).
        Needs only the scatter (no fourth moments); scale-free, so the same for the unbiased covariance."""
        n, p = self.count, self.dim
        if n < 2:
            raise NumericalError(f"OAS shrinkage needs at least 2 rows, got {n}")
        if p == 1:
            return 0.0
        emp = self.scatter / n
        alpha = float(np.mean(emp * emp))
        mu2 = (float(np.trace(emp)) / p) ** 2
        den = (n + 1) * (alpha - mu2 / p)
        return 1.0 if den == 0 else float(min((alpha + mu2) / den, 1.0))

    def shrunk_cov(self, ddof: int = 1, method: str = "ledoit_wolf") -> tuple[np.ndarray, float]:
        """(shrunk covariance, intensity δ): (1−δ) S + δ (tr S / d) I with S = :meth:`cov` and δ the
        Ledoit–Wolf (``method="ledoit_wolf"``) or OAS (``"oas"``) intensity."""
        s = self.cov(ddof)
        if method not in ("ledoit_wolf", "oas"):
            raise ConfigError(f"shrinkage method must be 'ledoit_wolf' or 'oas', got {method!r}")
        delta = self.ledoit_wolf_shrinkage() if method == "ledoit_wolf" else self.oas_shrinkage()
        out = (1.0 - delta) * s
        out[np.diag_indices_from(out)] += delta * np.trace(s) / self.dim
        return out, delta

    # -- (de)serialization ----------------------------------------------------------------------
    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        return {prefix + "count": np.array(self.count, dtype=np.int64), prefix + "mean": self.mean,
                prefix + "scatter": self.scatter, prefix + "m3": self.m3,
                prefix + "m4": np.array(self.m4)}

    @classmethod
    def from_arrays(cls, arrays, prefix: str = "") -> "Moments":
        mean = np.asarray(arrays[prefix + "mean"], dtype=np.float64)
        m4 = float(arrays[prefix + "m4"])
        out = cls(mean.shape[0], higher=bool(np.isfinite(m4)))
        out.count = int(arrays[prefix + "count"])
        out.mean = mean
        out.scatter = np.asarray(arrays[prefix + "scatter"], dtype=np.float64)
        out.m3 = np.asarray(arrays[prefix + "m3"], dtype=np.float64)
        out.m4 = float(arrays[prefix + "m4"])
        return out

    def __repr__(self) -> str:
        return f"Moments(dim={self.dim}, count={self.count})"


def _recentre(m3: np.ndarray, m4: float, scatter: np.ndarray, n: int, d: np.ndarray) -> tuple[np.ndarray, float]:
    """Σ‖v‖²v and Σ‖v‖⁴ for v = u − d, from the same sums of u (Σu = 0, Σuuᵀ = scatter)."""
    c = float(d @ d)
    sd = scatter @ d
    tr = float(np.trace(scatter))
    m4n = m4 + 4.0 * float(d @ sd) + n * c * c - 4.0 * float(d @ m3) + 2.0 * c * tr
    m3n = m3 - 2.0 * sd - d * (tr + n * c)
    return m3n, m4n
