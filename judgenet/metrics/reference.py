"""Fitted reference statistics, reusable across many generators: :class:`MIDReference`, :class:`RealStats`.

Both are fitted once on reference data, saved to a single ``.npz`` (arrays + JSON metadata under
``__meta__``, never pickle) with a stable 16-hex-char content ``hash``, and record an optional
backbone ``fingerprint`` dict (see ``Backbone.fingerprint``) so that a user can check that new
features come from the same backbone before scoring them.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ..errors import ArtifactError, ConfigError, NumericalError
from ._util import (as_2d, as_rows, cholesky, content_hash, joint_rows, load_npz, logdet_chol, nonfinite_error,
                    save_npz, solve_lower)
from .knn import knn_radii_sq, knn_sqdist, realism_max
from .streaming import Moments

__all__ = ["MIDReference", "RealStats", "REALSTATS_FEATURES", "kynkaanniemi_realism"]

logger = logging.getLogger(__name__)

_FORMAT_VERSION = 1
_SHRINKAGES = (None, "ledoit_wolf", "oas")


def _regularized_cov(moments: Moments, eps: float, shrinkage: str | None) -> tuple[np.ndarray, float]:
    if shrinkage not in _SHRINKAGES:
        raise ConfigError(f"shrinkage must be one of {_SHRINKAGES}, got {shrinkage!r}")
    if eps < 0:
        raise ConfigError(f"eps must be >= 0, got {eps}")
    if shrinkage is not None:
        cov, delta = moments.shrunk_cov(ddof=1, method=shrinkage)
    else:
        cov, delta = moments.cov(ddof=1), 0.0
    if eps:
        cov = cov.copy()
        cov[np.diag_indices_from(cov)] += eps
    return cov, float(delta)


# =============================================================================================
# MID
# =============================================================================================
class _SavedStats:
    """Shared persistence of fitted statistics: subclasses provide ``_arrays()`` and ``_meta()``."""

    @property
    def hash(self) -> str:
        """16 hex chars of SHA-256 over all arrays and metadata (fingerprint included)."""
        return content_hash(self._arrays(), self._meta())

    def save(self, path) -> None:
        """Write one ``.npz`` (arrays + JSON metadata with the hash); no pickle."""
        meta = self._meta()
        meta["hash"] = content_hash(self._arrays(), meta)
        save_npz(path, self._arrays(), meta)


def _mid_fix(eps: float, shrinkage: str | None, p: int) -> str:
    """What a user can do about a singular MID covariance, given the regularization already in use
    (Python argument and the CLI flag; a shrinkage already in use is not suggested again)."""
    opts = []
    if not eps:
        opts.append("a ridge eps=5e-4 (CLI: --mid-eps 5e-4; the official README's suggestion)")
    else:
        opts.append(f"a larger ridge than eps={eps:g} (e.g. CLI: --mid-eps {eps * 10:g})")
    if shrinkage is None:
        opts.append("Ledoit–Wolf shrinkage shrinkage='ledoit_wolf' (CLI: --mid-shrinkage ledoit_wolf)")
    opts.append(f"more reference pairs (N > Dx+Dy={p} without regularization; the official setting is 30,000)")
    return "Fix: use " + ", or ".join(opts)


class MIDReference(_SavedStats):
    """Gaussian model of paired reference features z = [x; y] for Mutual Information Divergence.

    Kim et al. 2022, "Mutual Information Divergence: A Unified Metric for Multimodal Generative
    Models" (ECCV), official code ``naver-ai/mid.metric``, ``metrics/mid.py``. Fitted from N
    reference image features x (N, Dx) and their text features y (N, Dy); all float64:

    * mean μ = (μx, μy) and unbiased covariance Σz (divided by N−1) of z, whose diagonal blocks are
      Σx and Σy (optionally Ledoit–Wolf shrunk and/or ridged by ``eps``, see :meth:`fit`);
    * ``mi`` = I(X;Y) = ½(log det Σx + log det Σy − log det Σz), in nats;
    * per-sample ``pmi(x̂, ŷ)`` = I + ½[D²x(x̂) + D²y(ŷ) − D²z(ẑ)], D² the squared Mahalanobis
      distance to the reference mean;
    * set-level ``mid(x̂, ŷ)`` in the official closed (trace) form, see :meth:`mid`.

    Computation: one Cholesky factor Lz of Σz (its leading block is the factor of Σx) and one of
    Σy; log-determinants are 2Σlog diag; Mahalanobis terms are triangular solves. With
    Lz = [[Lx, 0], [C, Ls]], D²z − D²x = ‖Ls⁻¹(ŷ−μy − C·Lx⁻¹(x̂−μx))‖², so the difference is formed
    without cancellation. No matrix inverse, SVD or explicit generated covariance is formed.
    """

    def __init__(self, mean, cov, dim_x: int, *, n: int, text_term: float, eps: float = 0.0,
                 shrinkage: str | None = None, shrinkage_intensity: float = 0.0, normalize: bool = True,
                 limit: int | None = 30000, fingerprint: dict | None = None):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.cov = np.asarray(cov, dtype=np.float64)
        p = self.mean.shape[0]
        if self.cov.shape != (p, p) or not 0 < dim_x < p:
            raise ConfigError(f"inconsistent MIDReference: mean {self.mean.shape}, cov {self.cov.shape}, dim_x {dim_x}")
        self.dim_x, self.dim_y = int(dim_x), int(p - dim_x)
        self.n = int(n)
        self.text_term = float(text_term)
        self.eps, self.shrinkage = float(eps), shrinkage
        self.shrinkage_intensity = float(shrinkage_intensity)
        self.normalize, self.limit = bool(normalize), limit
        self.fingerprint = dict(fingerprint) if fingerprint else None
        fix = _mid_fix(self.eps, self.shrinkage, p)
        dx = self.dim_x
        self._Lz = cholesky(self.cov, "MID joint reference covariance Σz of z=[x;y]", self.n, fix)
        self._Ly = cholesky(self.cov[dx:, dx:], "MID text reference covariance Σy", self.n, fix)
        self._Lx = self._Lz[:dx, :dx]
        self._C = self._Lz[dx:, :dx]
        self._Ls = self._Lz[dx:, dx:]
        self.logdet_x = logdet_chol(self._Lx)
        self.logdet_y = logdet_chol(self._Ly)
        self.logdet_z = logdet_chol(self._Lz)
        # I = ½(ld Σx + ld Σy − ld Σz) = ½(ld Σy − ld S), S = Schur complement of Σx in Σz
        self.mi = 0.5 * (self.logdet_y - logdet_chol(self._Ls))

    # -- fitting --------------------------------------------------------------------------------
    @classmethod
    def fit(cls, x_ref, y_ref, *, normalize: bool = True, eps: float = 0.0, shrinkage: str | None = None,
            limit: int | None = 30000, fingerprint: dict | None = None,
            chunk_size: int | None = None) -> "MIDReference":
        """Fit on paired reference features.

        Args:
            x_ref: (N, Dx) reference image features (numpy or torch, any float dtype; float64 inside).
            y_ref: (N, Dy) text features of the same N pairs (row i describes image i).
            normalize: L2-normalize every row of x and y first (the official code expects
                L2-normalized CLIP features and does not normalize itself; with already normalized
                input both agree). The same choice is applied to generated features later.
            eps: ridge added to the diagonal of Σz (hence of Σx, Σy) after shrinkage; 0 = official.
            shrinkage: None (official, plain unbiased covariance), ``"ledoit_wolf"`` or ``"oas"``: Σz =
                (1−δ)S + δ·tr(S)/p·I with S the unbiased sample covariance and δ the Ledoit–Wolf (2004)
                intensity (as ``sklearn.covariance.ledoit_wolf_shrinkage``) or the OAS intensity of Chen et al.
                (2010) (as ``sklearn.covariance.OAS().shrinkage_``); Σx, Σy are its blocks.
            limit: keep only the first ``limit`` reference pairs (official default 30,000); None = all.
            fingerprint: optional backbone fingerprint dict, stored and saved.
            chunk_size: None (default) makes one float64 copy of the N × (Dx+Dy) joint matrix (peak extra
                memory ≈ 8·N·(Dx+Dy) bytes + one (Dx+Dy)² matrix); an int streams the rows in chunks of
                that many through :class:`Moments` (memory 8·chunk_size·(Dx+Dy) bytes; e.g. for
                memory-mapped float32 features that do not fit as float64). Same values to rounding.

        Cost: one pass copying the inputs into float64 (normalizing in place), one centring pass and
        one symmetric product zᵀz (BLAS syrk) — the floor of any exact method — plus two Cholesky
        factorizations of at most (Dx+Dy)². Finiteness is checked once, on the resulting statistics.

        Raises:
            NumericalError: N ≤ Dx+Dy without eps/shrinkage (Σz is then singular), a covariance is
                (numerically) singular, or an input has NaN/inf values; the message names the fix.
        """
        x = as_rows(x_ref, "x_ref")
        y = as_rows(y_ref, "y_ref")
        if x.shape[0] != y.shape[0]:
            raise ConfigError(f"x_ref and y_ref must be paired row by row, got {x.shape[0]} and {y.shape[0]} rows")
        n = x.shape[0] if limit is None else min(x.shape[0], int(limit))
        higher = shrinkage == "ledoit_wolf"  # the 4th-moment sums only serve the Ledoit–Wolf intensity
        step = n if not chunk_size or chunk_size >= n else int(chunk_size)
        if step < 1 and n > 0:
            raise ConfigError(f"chunk_size must be a positive number of rows, got {chunk_size}")
        mom = Moments(x.shape[1] + y.shape[1], higher=higher)
        for i in range(0, n, max(step, 1)):
            part = Moments.from_joint(x, y, i, min(i + step, n), normalize=normalize, higher=higher,
                                      names=("x_ref", "y_ref"))
            mom = part if mom.count == 0 else mom.merge(part)
        if not mom.is_finite():
            bad = "x_ref" if not np.isfinite(mom.mean[:x.shape[1]]).all() else "y_ref"
            raise nonfinite_error(bad, (x if bad == "x_ref" else y)[:n])
        return cls.from_moments(mom, x.shape[1], eps=eps, shrinkage=shrinkage, normalize=normalize,
                                limit=limit, fingerprint=fingerprint)

    @classmethod
    def from_moments(cls, moments: Moments, dim_x: int, *, eps: float = 0.0, shrinkage: str | None = None,
                     normalize: bool = True, limit: int | None = None,
                     fingerprint: dict | None = None) -> "MIDReference":
        """Fit from streamed :class:`Moments` of z = [x; y] (dimension Dx+Dy, first ``dim_x`` are x).

        ``normalize`` records whether the streamed rows were L2-normalized (so that generated features
        are treated the same way); the rows are not touched here.
        """
        n, p = moments.count, moments.dim
        if shrinkage is None and eps == 0 and n <= p:
            raise NumericalError(
                f"MID needs more reference pairs than the joint dimension Dx+Dy={p} (Dx={dim_x}, Dy={p - dim_x}) "
                f"for a non-singular covariance of z=[x;y]; got N={n}. " + _mid_fix(eps, shrinkage, p))
        if n < 2:
            raise NumericalError(f"MID needs at least 2 reference pairs, got {n}")
        cov, delta = _regularized_cov(moments, eps, shrinkage)
        dx = int(dim_x)
        if shrinkage is None and eps == 0:
            text_term = float(p - dx)  # official: tr(Σy⁻¹ Σy) = Dy exactly
        else:  # tr(Σy_model⁻¹ S_y) with S_y the plain sample covariance of the reference texts
            Ly = cholesky(cov[dx:, dx:], "MID text reference covariance Σy", n)
            W = solve_lower(Ly, moments.cov(1)[dx:, dx:])
            text_term = float(np.trace(solve_lower(Ly, W.T)))
        return cls(moments.mean, cov, dx, n=n, text_term=text_term, eps=eps, shrinkage=shrinkage,
                   shrinkage_intensity=delta, normalize=normalize, limit=limit, fingerprint=fingerprint)

    # -- scoring --------------------------------------------------------------------------------
    def _prep(self, x_gen, y_gen) -> tuple[np.ndarray, np.ndarray]:
        """Generated rows as one float64 copy (normalized if ``normalize``), centred on the reference mean
        in place; returns the x and y column blocks (views)."""
        x = as_rows(x_gen, "x_gen", self.dim_x)
        y = as_rows(y_gen, "y_gen", self.dim_y)
        if x.shape[0] != y.shape[0]:
            raise ConfigError(f"x_gen and y_gen must be paired, got {x.shape[0]} and {y.shape[0]} rows")
        z = joint_rows(x, y, 0, x.shape[0], normalize=self.normalize, names=("x_gen", "y_gen"))
        if not np.isfinite(z).all():
            bad = "x_gen" if not np.isfinite(z[:, :self.dim_x]).all() else "y_gen"
            raise nonfinite_error(bad, x if bad == "x_gen" else y)
        z -= self.mean
        return z[:, :self.dim_x], z[:, self.dim_x:]

    def _w(self, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
        u = solve_lower(self._Lx, gx.T)  # (Dx, M)
        return solve_lower(self._Ls, gy.T - self._C @ u)  # (Dy, M); ‖w_j‖² = D²z − D²x

    def mahalanobis(self, x_gen, y_gen) -> dict[str, np.ndarray]:
        """Squared Mahalanobis distances (M,) float64 of x̂, ŷ and ẑ to the reference mean: keys x, y, z."""
        gx, gy = self._prep(x_gen, y_gen)
        u = solve_lower(self._Lx, gx.T)
        w = solve_lower(self._Ls, gy.T - self._C @ u)
        v = solve_lower(self._Ly, gy.T)
        dx = np.einsum("ij,ij->j", u, u)
        return {"x": dx, "y": np.einsum("ij,ij->j", v, v), "z": dx + np.einsum("ij,ij->j", w, w)}

    def pmi(self, x_gen, y_gen) -> np.ndarray:
        """Point-wise mutual information (M,) float64, nats: I + ½[D²x(x̂_j) + D²y(ŷ_j) − D²z(ẑ_j)].

        Equals the official ``_compute_pmi(..., reduction=False)`` (which needs M = N and uses ŷ = y).
        """
        gx, gy = self._prep(x_gen, y_gen)
        w = self._w(gx, gy)
        v = solve_lower(self._Ly, gy.T)
        return self.mi + 0.5 * (np.einsum("ij,ij->j", v, v) - np.einsum("ij,ij->j", w, w))

    def mid(self, x_gen, y_gen) -> float:
        """Set-level MID (float, nats) exactly as the official ``_compute_pmi(..., reduction=True)``:

        MID = I + ½[tr(Σx⁻¹ X̂₀) + T − tr(Σz⁻¹ Ẑ₀)], where X̂₀, Ẑ₀ are the generated second moments
        about the *reference* means divided by M−1, and the text term T = tr(Σy⁻¹Σy) = Dy (with
        eps/shrinkage: tr(Σy⁻¹ S_y), S_y the plain sample covariance; ``self.text_term``). Hence
        MID − I = ½[T − Σ_j(D²z_j − D²x_j)/(M−1)], whereas mean_j PMI_j − I = ½ mean_j(D²x+D²y−D²z):
        the two differ by the M/(M−1) factor and by T replacing the mean of D²y(ŷ_j).
        Needs M ≥ 2.
        """
        gx, gy = self._prep(x_gen, y_gen)
        m = gx.shape[0]
        if m < 2:
            raise NumericalError(f"set-level MID divides by M−1 and needs M ≥ 2 generated samples, got {m}")
        w = self._w(gx, gy)
        return float(self.mi + 0.5 * (self.text_term - float(np.sum(w * w)) / (m - 1)))

    def mid_from_moments(self, gen: Moments) -> float:
        """Set-level MID from streamed :class:`Moments` of generated ẑ = [x̂; ŷ] (same preprocessing
        as the reference, i.e. L2-normalized rows if ``normalize``). Same value as :meth:`mid`."""
        if gen.dim != self.dim_x + self.dim_y:
            raise ConfigError(f"generated moments have dimension {gen.dim}, expected {self.dim_x + self.dim_y}")
        if gen.count < 2:
            raise NumericalError(f"set-level MID needs M ≥ 2 generated samples, got {gen.count}")
        s0 = gen.scatter_about(self.mean) / (gen.count - 1)
        p = gen.dim
        T = solve_lower(self._Lz, np.eye(p))[self.dim_x:]  # bottom rows of Lz⁻¹: [−Ls⁻¹C Lx⁻¹, Ls⁻¹]
        return float(self.mi + 0.5 * (self.text_term - float(np.sum((T @ s0) * T))))

    # -- persistence ----------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        return {"kind": "MIDReference", "format_version": _FORMAT_VERSION, "dim_x": self.dim_x,
                "n": self.n, "text_term": self.text_term, "eps": self.eps, "shrinkage": self.shrinkage,
                "shrinkage_intensity": self.shrinkage_intensity, "normalize": self.normalize,
                "limit": self.limit, "fingerprint": self.fingerprint}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "cov": self.cov}

    @classmethod
    def load(cls, path, *, fingerprint: dict | None = None) -> "MIDReference":
        """Read a file written by :meth:`save`; checks the hash, and the fingerprint when given."""
        arrays, meta = load_npz(path, "MIDReference")
        _check_version(meta, path)
        _check_fingerprint(meta.get("fingerprint"), fingerprint, path)
        return cls(arrays["mean"], arrays["cov"], meta["dim_x"], n=meta["n"], text_term=meta["text_term"],
                   eps=meta["eps"], shrinkage=meta["shrinkage"], shrinkage_intensity=meta["shrinkage_intensity"],
                   normalize=meta["normalize"], limit=meta["limit"], fingerprint=meta["fingerprint"])

    def __repr__(self) -> str:
        return (f"MIDReference(n={self.n}, dim_x={self.dim_x}, dim_y={self.dim_y}, mi={self.mi:.4f}, "
                f"eps={self.eps}, shrinkage={self.shrinkage!r}, hash={self.hash})")


def _check_version(meta, path):
    if meta.get("format_version") != _FORMAT_VERSION:
        raise ArtifactError(f"{path!s} has format version {meta.get('format_version')}, "
                            f"this judgenet reads version {_FORMAT_VERSION}; fit and save it again")


def _check_fingerprint(stored, expected, path):
    if expected is not None and stored != dict(expected):
        raise ArtifactError(f"{path!s} was fitted on features with backbone fingerprint {stored}, "
                            f"but {dict(expected)} was given; extract features with the same backbone")


# =============================================================================================
# Kynkäänniemi realism (shared with functional.realism_score)
# =============================================================================================
def kynkaanniemi_realism(query: np.ndarray, real: np.ndarray, radii_sq: np.ndarray, *,
                         clamp_percentile: float | None = 50.0, eps: float = 1e-5, block: int = 2048) -> np.ndarray:
    """Realism score (M,) of Kynkäänniemi et al. 2019, as their official code computes it:
    max_i r_i² / (‖q − φ_i‖² + eps) over real features φ_i with k-NN radius r_i, where radii above the
    ``clamp_percentile`` percentile of all radii are set to 0 (the paper discards the half of the
    hyperspheres with the largest radii). Note the official code uses *squared* distances; the paper's
    formula without squares is the square root of this (same ranking)."""
    r2 = np.array(radii_sq, dtype=np.float64)
    if clamp_percentile is not None:
        r2[r2 > np.percentile(r2, clamp_percentile)] = 0.0
    return realism_max(query, real, r2, eps=eps, block=block)


# =============================================================================================
# RealStats
# =============================================================================================
REALSTATS_FEATURES = ("mahalanobis2", "knn_dist", "knn_ratio", "realism", "gmm_loglik")
"""Names of the per-image features returned by :meth:`RealStats.features`, in order."""


class RealStats(_SavedStats):
    """Statistics of real-image features for per-image realism features of generated images.

    Fitted once on real features (N, D) and reused for any generator. Per query image
    (:meth:`features`, all (M,) float64):

    * ``mahalanobis2`` — squared Mahalanobis distance to the real mean under the real covariance
      (Ledoit–Wolf shrunk by default so that N ≤ D works, ``shrinkage="oas"`` for OAS; ``shrinkage=None, eps=0``
      for the plain one);
    * ``knn_dist`` — Euclidean distance to the k-th nearest real feature;
    * ``knn_ratio`` — ``knn_dist`` divided by the real manifold radius, the median over real images of
      their own k-NN radius (distance to the k-th nearest *other* real image);
    * ``realism`` — Kynkäänniemi et al. 2019 realism score (official-code convention, see
      :func:`kynkaanniemi_realism`);
    * ``gmm_loglik`` — log-likelihood (nats) under a Gaussian mixture fitted on the real features with
      scikit-learn ``GaussianMixture`` (GIQA-style, Gu et al. 2020); absent if ``gmm_components`` is None.

    The real features themselves are kept (float64) for the k-NN terms: memory N·D·8 bytes.
    Query images are treated as new points: a query that is itself one of the fitted real images
    counts itself (distance 0) among its nearest neighbours.
    """

    def __init__(self, real, mean, cov, radii_sq, *, k: int, eps: float, shrinkage: str | None,
                 shrinkage_intensity: float, clamp_percentile: float | None, realism_eps: float,
                 gmm: dict[str, np.ndarray] | None, gmm_covariance: str | None, seed: int | None,
                 fingerprint: dict | None, gmm_options: dict | None = None):
        self.real = np.asarray(real, dtype=np.float64)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.cov = np.asarray(cov, dtype=np.float64)
        self.radii_sq = np.asarray(radii_sq, dtype=np.float64)
        self.k, self.eps, self.shrinkage = int(k), float(eps), shrinkage
        self.shrinkage_intensity = float(shrinkage_intensity)
        self.clamp_percentile = clamp_percentile
        self.realism_eps = float(realism_eps)
        self.gmm = gmm
        self.gmm_covariance = gmm_covariance
        self.seed = seed
        self.gmm_options = dict(gmm_options) if gmm_options else None
        self.fingerprint = dict(fingerprint) if fingerprint else None
        self.manifold_radius = float(np.median(np.sqrt(self.radii_sq)))
        self._L = cholesky(self.cov, "RealStats real-feature covariance", self.n,
                           "Fix: use shrinkage='ledoit_wolf' or eps > 0, or more real images")
        self._gmm_prep = _gmm_prepare(gmm, gmm_covariance) if gmm is not None else None

    @property
    def n(self) -> int:
        return int(self.real.shape[0])

    @property
    def dim(self) -> int:
        return int(self.real.shape[1])

    @classmethod
    def fit(cls, features, *, k: int = 3, gmm_components: int | None = 8, gmm_covariance: str = "diag",
            seed: int | None = 0, shrinkage: str | None = "ledoit_wolf", eps: float = 0.0,
            clamp_percentile: float | None = 50.0, realism_eps: float = 1e-5, fingerprint: dict | None = None,
            gmm_options: dict | None = None, block: int = 2048) -> "RealStats":
        """Fit on real features (N, D), any float dtype (float64 inside).

        ``k``: neighbourhood size (Kynkäänniemi et al. use 3). ``gmm_components``/``gmm_covariance``
        (``"diag"`` or ``"full"``) and ``seed`` configure the Gaussian mixture (None disables it);
        ``gmm_options`` (JSON-able dict: ``max_iter`` 100, ``tol`` 1e-3, ``reg_covar`` 1e-6, ``n_init`` 1,
        ``init_params`` ``"kmeans"``, ``"k-means++"``, ``"random"`` or ``"random_from_data"``) are passed to
        scikit-learn's ``GaussianMixture``, which fits the mixture (judgenet's own diagonal EM was removed: it was
        only 1.05–1.15× faster, ``benchmarks/scaling.py --gmm``). A mixture that does not converge logs a warning
        with the fix.
        ``shrinkage``/``eps`` regularize the covariance as in :meth:`MIDReference.fit`.
        """
        x = as_2d(features, "features")
        if x.shape[0] < k + 1:
            raise ConfigError(f"RealStats with k={k} needs at least {k + 1} real images, got {x.shape[0]}")
        if shrinkage is None and eps == 0 and x.shape[0] <= x.shape[1]:
            raise NumericalError(f"the real covariance ({x.shape[1]}×{x.shape[1]}) is singular with N={x.shape[0]} "
                                 "≤ D real images; use shrinkage='ledoit_wolf' (default) or eps > 0, or more images")
        mom = Moments.from_array(x)
        cov, delta = _regularized_cov(mom, eps, shrinkage)
        radii_sq = knn_radii_sq(x, k, block=block)
        gmm = None
        if gmm_components:
            if gmm_covariance not in ("diag", "full"):
                raise ConfigError(f"gmm_covariance must be 'diag' or 'full', got {gmm_covariance!r}")
            if x.shape[0] < gmm_components:
                raise ConfigError(f"gmm_components={gmm_components} exceeds the {x.shape[0]} real images")
            gmm = _fit_gmm(x, gmm_components, gmm_covariance, seed, dict(gmm_options or {}))
        return cls(x, mom.mean, cov, radii_sq, k=k, eps=eps, shrinkage=shrinkage, shrinkage_intensity=delta,
                   clamp_percentile=clamp_percentile, realism_eps=realism_eps, gmm=gmm,
                   gmm_covariance=gmm_covariance if gmm else None, seed=seed, fingerprint=fingerprint,
                   gmm_options=gmm_options if gmm else None)

    # -- per-image features -----------------------------------------------------------------------
    def mahalanobis2(self, x) -> np.ndarray:
        """(M,) squared Mahalanobis distance to the real mean."""
        g = as_2d(x, "x", self.dim) - self.mean
        u = solve_lower(self._L, g.T)
        return np.einsum("ij,ij->j", u, u)

    def knn_dist(self, x, block: int = 2048) -> np.ndarray:
        """(M,) Euclidean distance to the k-th nearest real feature."""
        return np.sqrt(knn_sqdist(as_2d(x, "x", self.dim), self.real, self.k, block=block)[:, -1])

    def realism(self, x, block: int = 2048) -> np.ndarray:
        """(M,) Kynkäänniemi realism score (see :func:`kynkaanniemi_realism`)."""
        return kynkaanniemi_realism(as_2d(x, "x", self.dim), self.real, self.radii_sq,
                                    clamp_percentile=self.clamp_percentile, eps=self.realism_eps, block=block)

    def gmm_loglik(self, x) -> np.ndarray:
        """(M,) log-likelihood (nats) under the fitted Gaussian mixture; equals sklearn ``score_samples``."""
        if self._gmm_prep is None:
            raise ConfigError("this RealStats was fitted with gmm_components=None")
        return _gmm_loglik(as_2d(x, "x", self.dim), self.gmm, self.gmm_covariance, self._gmm_prep)

    def features(self, x, block: int = 2048) -> dict[str, np.ndarray]:
        """All per-image features of ``x`` (M, D) as ``{name: (M,) float64}``, names in
        :data:`REALSTATS_FEATURES` order (``gmm_loglik`` only when a mixture was fitted)."""
        x = as_2d(x, "x", self.dim)
        kd = self.knn_dist(x, block)
        out = {"mahalanobis2": self.mahalanobis2(x), "knn_dist": kd,
               "knn_ratio": kd / self.manifold_radius if self.manifold_radius > 0 else np.full_like(kd, np.inf),
               "realism": self.realism(x, block)}
        if self._gmm_prep is not None:
            out["gmm_loglik"] = self.gmm_loglik(x)
        return out

    # -- persistence ----------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        return {"kind": "RealStats", "format_version": _FORMAT_VERSION, "k": self.k, "eps": self.eps,
                "shrinkage": self.shrinkage, "shrinkage_intensity": self.shrinkage_intensity,
                "clamp_percentile": self.clamp_percentile, "realism_eps": self.realism_eps,
                "gmm_covariance": self.gmm_covariance, "gmm_options": self.gmm_options, "seed": self.seed,
                "fingerprint": self.fingerprint}

    def _arrays(self) -> dict[str, np.ndarray]:
        a = {"real": self.real, "mean": self.mean, "cov": self.cov, "radii_sq": self.radii_sq}
        if self.gmm is not None:
            a.update({"gmm_" + k: v for k, v in self.gmm.items()})
        return a

    @classmethod
    def load(cls, path, *, fingerprint: dict | None = None) -> "RealStats":
        """Read a file written by :meth:`save`; checks the hash, and the fingerprint when given."""
        a, meta = load_npz(path, "RealStats")
        _check_version(meta, path)
        _check_fingerprint(meta.get("fingerprint"), fingerprint, path)
        gmm = {k[4:]: a[k] for k in ("gmm_weights", "gmm_means", "gmm_covariances") if k in a} or None
        return cls(a["real"], a["mean"], a["cov"], a["radii_sq"], k=meta["k"], eps=meta["eps"],
                   shrinkage=meta["shrinkage"], shrinkage_intensity=meta["shrinkage_intensity"],
                   clamp_percentile=meta["clamp_percentile"], realism_eps=meta["realism_eps"], gmm=gmm,
                   gmm_covariance=meta["gmm_covariance"], seed=meta["seed"], fingerprint=meta["fingerprint"],
                   gmm_options=meta.get("gmm_options"))

    def __repr__(self) -> str:
        return f"RealStats(n={self.n}, dim={self.dim}, k={self.k}, hash={self.hash})"


def _warn_not_converged(n_iter: int, tol: float) -> None:
    logger.warning("RealStats: the Gaussian mixture for gmm_loglik did not converge in %d EM iterations (tol %.0e "
                   "on the change of the mean log-likelihood per image); its log-likelihoods are still usable. "
                   "To converge: gmm_options={'max_iter': %d} or fewer gmm_components.", n_iter, tol, 3 * n_iter)


_GMM_OPTIONS = ("max_iter", "tol", "reg_covar", "n_init", "init_params")


def _fit_gmm(x: np.ndarray, k: int, cov_type: str, seed, options: dict) -> dict[str, np.ndarray]:
    """Fit scikit-learn's ``GaussianMixture``; returns float64 ``weights`` (k,), ``means`` (k, D), ``covariances``
    ((k, D) or (k, D, D)). A mixture that does not converge logs a warning with the fix (no sklearn warning)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    unknown = sorted(set(options) - set(_GMM_OPTIONS))
    if unknown:
        raise ConfigError(f"unknown gmm_options {unknown}; allowed: {', '.join(_GMM_OPTIONS)}")
    gm = GaussianMixture(n_components=k, covariance_type=cov_type, random_state=seed, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            gm.fit(x)
        except ValueError as exc:  # sklearn's parameter validation (InvalidParameterError is a ValueError)
            if "parameter" not in str(exc):
                raise
            raise ConfigError(f"gmm_options: {str(exc).splitlines()[0]}") from None
    if not gm.converged_:
        _warn_not_converged(gm.n_iter_, gm.tol)
    return {"weights": gm.weights_.astype(np.float64), "means": gm.means_.astype(np.float64),
            "covariances": gm.covariances_.astype(np.float64)}


def _gmm_prepare(gmm, cov_type):
    if cov_type == "diag":
        return {"logdet": np.sum(np.log(gmm["covariances"]), axis=1)}
    chols = [cholesky(c, f"GMM component {i} covariance") for i, c in enumerate(gmm["covariances"])]
    return {"chols": chols, "logdet": np.array([logdet_chol(L) for L in chols])}


def _gmm_loglik(x, gmm, cov_type, prep) -> np.ndarray:
    from scipy.special import logsumexp

    d = x.shape[1]
    comps = []
    for i, (w, mu) in enumerate(zip(gmm["weights"], gmm["means"])):
        g = x - mu
        if cov_type == "diag":
            maha = np.sum(g * g / gmm["covariances"][i], axis=1)
        else:
            u = solve_lower(prep["chols"][i], g.T)
            maha = np.einsum("ij,ij->j", u, u)
        comps.append(np.log(w) - 0.5 * (d * np.log(2 * np.pi) + prep["logdet"][i] + maha))
    return logsumexp(np.stack(comps, axis=1), axis=1)
