"""Rank-aware exact FID: rank-deficient (N ≤ D) and full-rank sets against scipy's matrix square root of Σ1Σ2,
computed here from the definition (no judgenet code), through every entry point (rows, Moments, stats, class)."""
import warnings

import numpy as np
import pytest
import scipy.linalg as sl

from judgenet.metrics import FID, Moments, functional as F


def _sqrtm_fid(a, b):
    """‖μ1−μ2‖² + tr(Σ1 + Σ2 − 2·sqrtm(Σ1Σ2)), unbiased covariances, scipy.linalg.sqrtm (real part)."""
    m1, m2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # sqrtm warns on singular products; its trace is still right to ~1e-8
        warnings.simplefilter("ignore")
        root = sl.sqrtm(s1 @ s2)
    return float((m1 - m2) @ (m1 - m2) + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(root).real)


def _sets(n1, n2, d, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((d, d)) / np.sqrt(d)
    a = np.maximum(rng.standard_normal((n1, d)) @ A, 0.0)  # ReLU-like, as Inception pool features
    b = np.maximum(rng.standard_normal((n2, d)) @ A * 1.1 + 0.05, 0.0)
    return a, b


@pytest.mark.parametrize("n1,n2,d", [
    (10, 12, 40),    # both rank-deficient (N < D)
    (50, 50, 300),   # the small-set case of issue 25, scaled down
    (6, 6, 6),       # N = D: still rank N−1
    (30, 500, 40),   # one rank-deficient, one full rank
    (300, 400, 20),  # both full rank
])
def test_fid_equals_scipy_sqrtm(n1, n2, d):
    a, b = _sets(n1, n2, d, seed=n1 + n2 + d)
    want = _sqrtm_fid(a, b)
    rel = lambda v: abs(v - want) / abs(want)  # noqa: E731
    assert rel(F.fid(a, b)) < 1e-6
    assert rel(F.fid(b, a)) < 1e-6  # symmetric
    assert rel(F.fid(Moments.from_array(a), Moments.from_array(b, higher=False))) < 1e-6  # streamed statistics
    assert rel(F.fid(a, Moments.from_array(b))) < 1e-6  # mixed arguments
    assert rel(F.fid_from_stats(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))) < 1e-6
    metric = FID(dim=d)
    metric.update(a[: n1 // 2], real=True)
    metric.update(a[n1 // 2:], real=True)
    metric.update(b, real=False)
    assert rel(float(metric.compute())) < 1e-6


def test_fid_rank_deficient_against_eigendecomposition_at_inception_width():
    """50 × 2,048 vs 50 × 2,048 (issue 25) against the full eigendecomposition route: Σ1 = V Λ Vᵀ, B = V √Λ,
    tr √(Σ1Σ2) = Σ √eig(Bᵀ Σ2 B) — the computation judgenet used before, written out here."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((50, 2048)) @ np.diag(np.linspace(0.5, 2.0, 2048))
    b = rng.standard_normal((50, 2048)) * 1.05 + 0.02
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    lam, V = np.linalg.eigh(s1)
    B = V * np.sqrt(np.clip(lam, 0.0, None))
    ev = np.linalg.eigvalsh(B.T @ s2 @ B)
    dm = a.mean(0) - b.mean(0)
    want = dm @ dm + np.trace(s1) + np.trace(s2) - 2.0 * np.sqrt(np.clip(ev, 0.0, None)).sum()
    assert F.fid(a, b) == pytest.approx(want, rel=1e-6)
    assert F.fid(a, a) == pytest.approx(0.0, abs=1e-8 * np.trace(s1))


def test_fid_of_duplicated_and_constant_rows():
    """Degenerate sets: repeated rows (rank 1) and a constant set (rank 0) — the distance is still exact."""
    rng = np.random.default_rng(4)
    a = np.repeat(rng.standard_normal((2, 30)), 5, axis=0)  # rank 1 covariance
    b = np.full((7, 30), 0.3)  # zero covariance
    want = _sqrtm_fid(a, b)  # = ‖Δμ‖² + tr Σ1
    assert want == pytest.approx(float((a.mean(0) - 0.3) @ (a.mean(0) - 0.3) + np.trace(np.cov(a, rowvar=False))))
    assert F.fid(a, b) == pytest.approx(want, rel=1e-10)
    assert F.fid(Moments.from_array(a), Moments.from_array(b)) == pytest.approx(want, rel=1e-10)
