"""Plain metric functions on numpy arrays or torch tensors (any device/float dtype; float64 inside).

Scalars come back as Python floats, per-sample values as (M,) float64 numpy arrays, R-precision
as a :class:`judgenet.stats.Estimate`. The torchmetrics-style classes in :mod:`judgenet.metrics`
accumulate streaming statistics and call these functions (or their fitted-reference twins).

Papers followed:

* MID — Kim et al. 2022, "Mutual Information Divergence: A Unified Metric for Multimodal Generative
  Models", official code ``naver-ai/mid.metric`` ``metrics/mid.py`` (see :func:`mid`).
* CLIPScore / RefCLIPScore — Hessel et al. 2021, "CLIPScore: A Reference-free Evaluation Metric for
  Image Captioning".
* CLIP R-precision — Park et al. 2021, "Benchmark for Compositional Text-to-Image Synthesis".
* FID — Heusel et al. 2017, computed as torchmetrics / clean-fid.
* KID — Bińkowski et al. 2018, "Demystifying MMD GANs" (unbiased MMD², cubic polynomial kernel).
* IS — Salimans et al. 2016, "Improved Techniques for Training GANs".
* Precision / recall / realism — Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric
  for Assessing Generative Models".
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError, NumericalError
from ..stats import Estimate, bootstrap_ci
from ._util import as_2d, as_f64, as_rows, l2_normalize
from .reference import MIDReference, kynkaanniemi_realism
from .knn import coverage, knn_radii_sq
from .streaming import Moments

__all__ = ["mid", "pmi", "clip_score", "ref_clip_score", "clip_r_precision", "fid", "fid_from_stats",
           "kid", "inception_score", "precision_recall", "realism_score"]

_REDUCTIONS = ("mean", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ConfigError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


# =============================================================================================
# MID
# =============================================================================================
def mid(x_ref, y_ref, x_gen, y_gen=None, *, reduction: str = "mean", normalize: bool = True,
        eps: float = 0.0, shrinkage: str | None = None, limit: int | None = 30000, chunk_size: int | None = None):
    """Mutual Information Divergence (Kim et al. 2022), matching the official ``_compute_pmi``.

    Args:
        x_ref: (N, Dx) reference (real) image features.  y_ref: (N, Dy) their text features.
        x_gen: (M, Dx) generated image features.
        y_gen: (M, Dy) text features of the prompts of ``x_gen``. Default, as in the official code:
            the first M rows of ``y_ref`` (generated image j was made from reference prompt j).
            ``y_gen`` enters the per-sample values and the joint term; the set-level text term stays
            Dy as in the official code (which assumes the prompts are reference texts).
        reduction: ``"mean"`` — set-level MID (float) in the official closed trace form:
            I + ½[tr(Σx⁻¹X̂₀) + Dy − tr(Σz⁻¹Ẑ₀)], X̂₀/Ẑ₀ the generated second moments about the
            reference mean divided by M−1, the text term tr(Σy⁻¹Σy) = Dy a constant.
            ``"none"`` — per-sample PMI (M,) float64: I + ½[D²x(x̂_j) + D²y(ŷ_j) − D²z(ẑ_j)].
        normalize: L2-normalize rows of all inputs first (the official code does not normalize but
            expects normalized CLIP features; with normalized input the two agree).
        eps, shrinkage: covariance regularization (default none, as official); see
            :meth:`MIDReference.fit`.
        limit: official sample limit (default 30,000): only the first ``limit`` reference pairs and the
            first ``limit`` generated rows are used. The official code cuts ``N − limit`` rows off the end
            of *both* sets, which is the same when M = N (its setting) but not when M < N.
        chunk_size: stream the reference rows through :class:`Moments` in chunks of this many rows
            instead of one float64 copy of the N × (Dx+Dy) joint matrix (see :meth:`MIDReference.fit`).

    Cost: the reference fit is one copy into float64, one centring pass and one symmetric product
    zᵀz (the floor of an exact method; ``benchmarks/metrics.py``), then Cholesky factors; the
    generated rows add triangular solves, O(M·(Dx+Dy)²).

    Units: nats. All computation float64 (Cholesky + triangular solves, no inverse or SVD).
    Raises :class:`NumericalError` when N ≤ Dx+Dy (singular joint covariance) or a covariance is
    singular, naming the fix (``eps=5e-4``, ``shrinkage="ledoit_wolf"`` or more reference pairs).
    """
    _check_reduction(reduction)
    ref = MIDReference.fit(x_ref, y_ref, normalize=normalize, eps=eps, shrinkage=shrinkage, limit=limit,
                           chunk_size=chunk_size)
    xg = as_rows(x_gen, "x_gen", ref.dim_x)
    if limit is not None:
        xg = xg[:limit]
    m = xg.shape[0]
    if y_gen is None:
        yr = as_rows(y_ref, "y_ref")
        n_ref = yr.shape[0] if limit is None else min(yr.shape[0], limit)
        if m > n_ref:
            raise ConfigError(f"y_gen defaults to the first M={m} rows of y_ref, which has only {n_ref}; "
                              "pass y_gen explicitly")
        yg = yr[:m]
    else:
        yg = as_rows(y_gen, "y_gen", ref.dim_y)
        if limit is not None:
            yg = yg[:limit]
    return ref.pmi(xg, yg) if reduction == "none" else ref.mid(xg, yg)


def pmi(x_ref, y_ref, x_gen, y_gen=None, **kwargs) -> np.ndarray:
    """Per-sample PMI (M,) float64 — :func:`mid` with ``reduction="none"``."""
    return mid(x_ref, y_ref, x_gen, y_gen, reduction="none", **kwargs)


# =============================================================================================
# CLIPScore, RefCLIPScore, R-precision
# =============================================================================================
def _cos_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", l2_normalize(a, "a"), l2_normalize(b, "b"))


def clip_score(img, txt, w: float = 2.5, reduction: str = "mean"):
    """CLIP-S (Hessel et al. 2021) = w · max(cos(img_j, txt_j), 0), w = 2.5.

    ``img``, ``txt``: (M, D) paired embeddings (not necessarily normalized). Returns the mean (float)
    or, with ``reduction="none"``, the (M,) float64 per-sample scores. **Scale**: torchmetrics'
    ``CLIPScore`` reports 100·max(cos, 0) under the same name; pass ``w=100`` for its numbers.
    """
    _check_reduction(reduction)
    a, b = as_2d(img, "img"), as_2d(txt, "txt")
    if a.shape != b.shape:
        raise ConfigError(f"img and txt must be paired (M, D) arrays, got {a.shape} and {b.shape}")
    s = w * np.maximum(_cos_rows(a, b), 0.0)
    return s if reduction == "none" else float(s.mean())


def ref_clip_score(img, txt, refs, *, mask=None, w: float = 2.5, candidate: str = "img",
                   reduction: str = "mean"):
    """RefCLIP-S (Hessel et al. 2021) = harmonic mean of CLIP-S and max(max_r cos(candidate, r), 0).

    Args:
        img, txt: (M, D) paired image and text embeddings.
        refs: references of each item, either a list of M arrays (R_j, D) or an (M, R, D) array with
            ``mask`` (M, R) bool marking valid references (all valid if None).
        candidate: which embedding is compared with the references: ``"img"`` (generated image vs
            reference images, the text-to-image use) or ``"txt"`` (candidate caption vs reference
            captions, the paper's captioning use).
    Returns the mean (float) or (M,) float64 per sample; an item whose CLIP-S and reference term
    are both 0 scores 0.
    """
    _check_reduction(reduction)
    if candidate not in ("img", "txt"):
        raise ConfigError(f"candidate must be 'img' or 'txt', got {candidate!r}")
    a, b = as_2d(img, "img"), as_2d(txt, "txt")
    cs = clip_score(a, b, w=w, reduction="none")
    cand = l2_normalize(a if candidate == "img" else b, candidate)
    m = cand.shape[0]
    if isinstance(refs, (list, tuple)):
        if len(refs) != m:
            raise ConfigError(f"refs has {len(refs)} entries for {m} items")
        best = np.empty(m)
        for j, r in enumerate(refs):
            r = as_2d(r, f"refs[{j}]", cand.shape[1])
            if r.shape[0] == 0:
                raise ConfigError(f"item {j} has no references")
            best[j] = np.max(l2_normalize(r, f"refs[{j}]") @ cand[j])
    else:
        r = as_f64(refs, "refs")
        if r.ndim != 3 or r.shape[0] != m or r.shape[2] != cand.shape[1]:
            raise ConfigError(f"refs must be (M={m}, R, D={cand.shape[1]}), got {r.shape}")
        msk = np.ones(r.shape[:2], bool) if mask is None else np.asarray(mask, bool)
        if msk.shape != r.shape[:2]:
            raise ConfigError(f"mask must have shape {r.shape[:2]}, got {msk.shape}")
        if not msk.any(axis=1).all():
            raise ConfigError(f"items {np.flatnonzero(~msk.any(axis=1))[:10].tolist()} have no valid reference")
        nrm = np.linalg.norm(r, axis=2, keepdims=True)
        if np.any((nrm[..., 0] == 0) & msk):
            raise NumericalError("a valid reference embedding is all zeros")
        cos = np.einsum("mrd,md->mr", r / np.where(nrm == 0, 1.0, nrm), cand)
        best = np.where(msk, cos, -np.inf).max(axis=1)
    rs = np.maximum(best, 0.0)
    tot = cs + rs
    hm = np.divide(2.0 * cs * rs, tot, out=np.zeros_like(tot), where=tot > 0)
    return hm if reduction == "none" else float(hm.mean())


def clip_r_precision(img, txt, r: int = 100, *, seed: int | None = 0, n_resamples: int = 1000,
                     confidence: float = 0.95, text_ids=None) -> Estimate:
    """CLIP R-precision (Park et al. 2021; as in XMC-GAN): top-1 retrieval of each image's prompt.

    For image j, its own prompt txt_j and ``r − 1`` distractor prompts drawn (seeded, without
    replacement) from the other rows are ranked by cosine similarity; the hit is 1 if txt_j is
    strictly first, 1/(t+1) if it ties with t distractors for first, else 0. Distractors with the same
    ``text_ids`` entry (e.g. the same prompt string) as j are never drawn.

    Args: ``img``, ``txt`` (M, D) paired embeddings; ``r`` candidates per query (default 100).
    Returns an :class:`Estimate`: mean hit rate with a percentile bootstrap CI over images
    (``n_resamples``, ``confidence``, same ``seed``).
    """
    a, b = as_2d(img, "img"), as_2d(txt, "txt")
    if a.shape != b.shape:
        raise ConfigError(f"img and txt must be paired (M, D) arrays, got {a.shape} and {b.shape}")
    m = a.shape[0]
    ids = None if text_ids is None else np.asarray(text_ids)
    if ids is not None and ids.shape[0] != m:
        raise ConfigError(f"text_ids has {ids.shape[0]} entries for {m} items")
    if r < 2:
        raise ConfigError(f"r must be >= 2 (the prompt and at least one distractor), got {r}")
    a, b = l2_normalize(a, "img"), l2_normalize(b, "txt")
    rng = np.random.default_rng(seed)
    hits = np.empty(m)
    for j in range(m):
        if ids is None:  # any other row; O(r) sampling
            n_pool = m - 1
            if n_pool >= r - 1:
                dis = rng.choice(n_pool, size=r - 1, replace=False)
                dis = dis + (dis >= j)
        else:
            pool = np.flatnonzero(ids != ids[j])
            n_pool = pool.size
            if n_pool >= r - 1:
                dis = rng.choice(pool, size=r - 1, replace=False)
        if n_pool < r - 1:
            raise ConfigError(f"R-precision with r={r} needs ≥ {r - 1} distractor prompts per image; "
                              f"image {j} has {n_pool}. Lower r or add prompts")
        s_true = float(a[j] @ b[j])
        s_dis = b[dis] @ a[j]
        hits[j] = 0.0 if np.any(s_dis > s_true) else 1.0 / (1 + int(np.sum(s_dis == s_true)))
    return bootstrap_ci(np.mean, hits, n_resamples=n_resamples, confidence=confidence, seed=seed)


# =============================================================================================
# FID, KID, IS
# =============================================================================================
def _cov_factor(cov: np.ndarray) -> np.ndarray:
    """B (D, r) with Σ = B Bᵀ for a symmetric PSD Σ (D, D): rank-revealing pivoted Cholesky (LAPACK ``dpstrf``,
    stopping at pivots ≤ D·ε·max diag, i.e. rounding noise or a negative direction, which is dropped). A rank-r
    covariance costs O(D²·r) — ~D/r times less than a Cholesky or eigendecomposition of the full matrix."""
    from scipy.linalg import lapack

    c, piv, rank, info = lapack.dpstrf(cov, tol=-1.0, lower=1)
    if info < 0:  # pragma: no cover - LAPACK argument error
        raise NumericalError(f"pivoted Cholesky failed (LAPACK dpstrf info={info})")
    B = np.empty((cov.shape[0], rank))
    B[piv - 1] = np.tril(c[:, :rank])
    return B


class _Gaussian:
    """Mean, a factor B (D, r) with Σ = B Bᵀ, Σ itself when known, and tr Σ — what the Fréchet distance needs."""

    __slots__ = ("mean", "factor", "cov", "trace")

    def __init__(self, mean, factor, cov, trace):
        self.mean, self.factor, self.cov, self.trace = mean, factor, cov, float(trace)

    @classmethod
    def from_cov(cls, mean: np.ndarray, cov: np.ndarray) -> "_Gaussian":
        return cls(mean, _cov_factor(cov), cov, np.trace(cov))

    @classmethod
    def from_features(cls, feats, name: str) -> "_Gaussian":
        """Unbiased (N−1) statistics of a feature set (N, D) or :class:`Moments`. With N ≤ D rows the centred
        rows / √(N−1) are the factor (rank ≤ N−1) and no D × D matrix is formed."""
        if isinstance(feats, Moments):
            if feats.count < 2:
                raise NumericalError(f"FID needs at least 2 samples per set, got {feats.count} in {name}")
            return cls.from_cov(feats.mean, feats.cov(1))
        x = as_2d(feats, name)
        n, d = x.shape
        if n < 2:
            raise NumericalError(f"FID needs at least 2 samples per set, got {n} in {name}")
        if n > d:
            m = Moments.from_array(x, higher=False)
            return cls.from_cov(m.mean, m.cov(1))
        mean = x.mean(axis=0)
        B = (x - mean).T
        B /= np.sqrt(n - 1)
        return cls(mean, B, None, np.einsum("ij,ij->", B, B))


def _frechet(g1: _Gaussian, g2: _Gaussian) -> float:
    """‖μ1−μ2‖² + tr Σ1 + tr Σ2 − 2 tr √(Σ1Σ2), the one FID computation (functional and class).

    With Σi = Bi Biᵀ (Bi: D × ri), Σ1Σ2 has the nonzero eigenvalues of (B1ᵀB2)(B1ᵀB2)ᵀ, so tr √(Σ1Σ2) is the sum
    of the singular values of the r1 × r2 matrix B1ᵀB2 — exact, and for N ≪ D (rank-deficient covariances) a
    tiny problem instead of a D × D eigendecomposition. When one covariance has full rank the symmetric PSD
    B1ᵀΣ2B1 (r1 × r1, r1 the smaller rank) goes to a symmetric eigensolver instead (cheaper than an SVD at
    r = D; replaces torchmetrics' general ``eigvals(Σ1Σ2)``); tiny negative rounding is clipped to 0.
    """
    if g1.factor.shape[1] > g2.factor.shape[1]:
        g1, g2 = g2, g1
    B1 = g1.factor
    diff = g1.mean - g2.mean
    if g2.cov is None or g2.factor.shape[1] < g2.factor.shape[0]:
        from scipy.linalg import svdvals

        tr_sqrt = float(svdvals(B1.T @ g2.factor, check_finite=False).sum())
    else:
        A = B1.T @ g2.cov @ B1
        lam = np.linalg.eigvalsh((A + A.T) * 0.5)
        tr_sqrt = float(np.sqrt(np.clip(lam, 0.0, None)).sum())
    return float(diff @ diff + g1.trace + g2.trace - 2.0 * tr_sqrt)


def fid_from_stats(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance ‖μ1−μ2‖² + tr(Σ1 + Σ2 − 2√(Σ1Σ2)) between N(μ1, Σ1) and N(μ2, Σ2), float64.

    ``mu`` (D,), ``sigma`` (D, D) symmetric PSD. Same quantity as ``torchmetrics.image.fid._compute_fid``;
    rank-deficient covariances are handled exactly through their pivoted-Cholesky factors.
    """
    mu1, mu2 = as_f64(mu1, "mu1").ravel(), as_f64(mu2, "mu2").ravel()
    s1, s2 = as_f64(sigma1, "sigma1"), as_f64(sigma2, "sigma2")
    d = mu1.shape[0]
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ConfigError(f"shapes must be (D,), (D, D): got {mu1.shape}, {s1.shape}, {mu2.shape}, {s2.shape}")
    return _frechet(_Gaussian.from_cov(mu1, s1), _Gaussian.from_cov(mu2, s2))


def fid(feats1, feats2) -> float:
    """FID (Heusel et al. 2017) between two feature sets (N1, D), (N2, D), e.g. Inception pool3 (D=2048).

    Means and unbiased (N−1) covariances in float64 as torchmetrics / clean-fid; the Fréchet distance of
    :func:`fid_from_stats`, computed exactly at the covariances' rank: a set of N ≤ D rows enters through its
    centred rows (a rank-(N−1) factor; e.g. 50 × 2,048 vs 50 × 2,048 is an SVD of a 50 × 50 matrix, not a
    2,048² eigendecomposition). Accepts :class:`Moments` for either argument (streamed statistics; their
    covariance is factored by a rank-revealing pivoted Cholesky).
    """
    g1 = _Gaussian.from_features(feats1, "feats1")
    g2 = _Gaussian.from_features(feats2, "feats2")
    if g1.mean.shape != g2.mean.shape:
        raise ConfigError(f"feature dimensions differ: {g1.mean.shape[0]} vs {g2.mean.shape[0]}")
    return _frechet(g1, g2)


def _poly_kernel(a, b, degree, gamma, coef):
    k = a @ b.T
    k *= gamma
    k += coef
    if float(degree).is_integer() and 1 <= degree <= 8:  # repeated products: ~10x faster than a general power
        out = k.copy()
        for _ in range(int(degree) - 1):
            out *= k
        return out
    return k ** degree


def _mmd2_unbiased(kxx, kxy, kyy) -> float:
    m = kxx.shape[0]
    sxx = kxx.sum() - np.trace(kxx)
    syy = kyy.sum() - np.trace(kyy)
    return float((sxx + syy) / (m * (m - 1)) - 2.0 * kxy.sum() / (m * m))


def kid(feats1, feats2, subsets: int = 100, subset_size: int = 1000, degree: int = 3, gamma: float | None = None,
        coef: float = 1.0, seed: int | None = 0) -> tuple[float, float]:
    """KID (Bińkowski et al. 2018): unbiased MMD² with kernel k(a,b) = (γ a·b + coef)^degree,
    γ = 1/D by default, averaged over ``subsets`` random subsets of ``subset_size`` rows drawn
    without replacement from each set (seeded numpy ``default_rng(seed)``), as torchmetrics.

    ``feats1`` (N1, D), ``feats2`` (N2, D). Returns (mean, std) floats, std with ddof=0 as torchmetrics.
    """
    f1, f2 = as_2d(feats1, "feats1"), as_2d(feats2, "feats2", None)
    if f1.shape[1] != f2.shape[1]:
        raise ConfigError(f"feature dimensions differ: {f1.shape[1]} vs {f2.shape[1]}")
    if subset_size < 2 or subset_size > min(f1.shape[0], f2.shape[0]):
        raise ConfigError(f"subset_size={subset_size} must be in [2, min(N1, N2)={min(f1.shape[0], f2.shape[0])}]")
    g = 1.0 / f1.shape[1] if gamma is None else float(gamma)
    rng = np.random.default_rng(seed)
    vals = np.empty(subsets)
    for s in range(subsets):
        a = f1[rng.permutation(f1.shape[0])[:subset_size]]
        b = f2[rng.permutation(f2.shape[0])[:subset_size]]
        vals[s] = _mmd2_unbiased(_poly_kernel(a, a, degree, g, coef), _poly_kernel(a, b, degree, g, coef),
                                 _poly_kernel(b, b, degree, g, coef))
    return float(vals.mean()), float(vals.std())


def inception_score(logits, splits: int = 10, seed: int | None = None) -> tuple[float, float]:
    """Inception Score (Salimans et al. 2016) from classifier logits (N, C), float64.

    IS = exp(E_x KL(p(y|x) ‖ p(y))) per split, p(y) the split's mean of p(y|x) = softmax(logits);
    returns (mean, std over splits) with std ddof=0 as the original OpenAI code. Rows are split in
    order with ``numpy.array_split``; with ``seed`` they are shuffled first (torchmetrics shuffles).
    """
    from scipy.special import log_softmax

    z = as_2d(logits, "logits")
    if not 1 <= splits <= z.shape[0]:
        raise ConfigError(f"splits must be in [1, N={z.shape[0]}], got {splits}")
    if seed is not None:
        z = z[np.random.default_rng(seed).permutation(z.shape[0])]
    logp = log_softmax(z, axis=1)
    scores = []
    for part in np.array_split(logp, splits):
        p = np.exp(part)
        log_py = np.log(p.mean(axis=0))
        scores.append(np.exp(np.mean(np.sum(p * (part - log_py), axis=1))))
    s = np.asarray(scores)
    return float(s.mean()), float(s.std())


# =============================================================================================
# Precision / recall / realism (Kynkäänniemi et al. 2019)
# =============================================================================================
def precision_recall(real, fake, k: int = 3, *, block: int = 2048, real_radii_sq=None) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019), k-NN manifolds (k = 3 default).

    The manifold of a set is the union of balls around each of its points with radius the distance to
    its k-th nearest other point. Precision = share of ``fake`` (M, D) inside the real manifold;
    recall = share of ``real`` (N, D) inside the fake manifold. Distances are Euclidean, exact, searched by
    the blocked float32 kernel of :mod:`judgenet.metrics.knn` (``block`` rows at a time); a point on a ball's
    boundary counts as inside (as official).

    ``real_radii_sq`` (N,): the real set's squared k-NN radii when already known (``RealStats.radii_sq``,
    :func:`~judgenet.metrics.streaming.knn_radii_sq`): the real set's O(N²) k-NN search is then done once for
    many fake sets.
    """
    r, f = as_2d(real, "real"), as_2d(fake, "fake")
    if r.shape[1] != f.shape[1]:
        raise ConfigError(f"feature dimensions differ: {r.shape[1]} vs {f.shape[1]}")
    if real_radii_sq is None:
        rr = knn_radii_sq(r, k, block=block)
    else:
        rr = np.asarray(real_radii_sq, dtype=np.float64).ravel()
        if rr.shape[0] != r.shape[0]:
            raise ConfigError(f"real_radii_sq has {rr.shape[0]} entries for {r.shape[0]} real rows")
    rf = knn_radii_sq(f, k, block=block)
    precision = float(coverage(f, r, rr, block=block).mean())
    recall = float(coverage(r, f, rf, block=block).mean())
    return precision, recall


def realism_score(real, fake, k: int = 3, *, clamp_percentile: float | None = 50.0, eps: float = 1e-5,
                  block: int = 2048) -> np.ndarray:
    """Per-image realism score (M,) float64 of Kynkäänniemi et al. 2019 for ``fake`` (M, D) against
    ``real`` (N, D): max_i r_i²/(‖fake − real_i‖² + eps) with radii above the median dropped — the
    official code's squared-distance form (the paper's ratio of plain distances is its square root).
    Values ≥ 1 mean inside some kept real ball. For many generators fit :class:`RealStats` once."""
    r, f = as_2d(real, "real"), as_2d(fake, "fake")
    if r.shape[1] != f.shape[1]:
        raise ConfigError(f"feature dimensions differ: {r.shape[1]} vs {f.shape[1]}")
    rr = knn_radii_sq(r, k, block=block)
    return kynkaanniemi_realism(f, r, rr, clamp_percentile=clamp_percentile, eps=eps, block=block)
