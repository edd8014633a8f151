"""The blocked float32 k-NN kernel (judgenet.metrics.knn) against a float64 brute force (scipy cdist, written
from the definitions here and in tests/reference/distribution.py): k-NN distances, radii, coverage,
precision/recall and realism on random data with exact duplicates, near-ties and a large offset; the error
bound the float32 screen relies on; and the float64 re-search of rows the screen cannot prove."""
import numpy as np
import pytest
from scipy.spatial.distance import cdist

import judgenet.metrics.knn as K
from judgenet.errors import ConfigError
from judgenet.metrics import RealStats, functional as F
from reference.distribution import brute_precision_recall, brute_realism


def _data(n, m, d, seed, offset=0.0):
    """Real and query rows with traps: 12 copies of one real row, queries equal to real rows, a near-tie
    cluster (distances equal to ~1e-12 relative) and an optional common offset (cancellation in ‖q‖²−2q·r+‖r‖²)."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((d, d)) / np.sqrt(d)
    real = rng.standard_normal((n, d)) @ A + offset
    query = rng.standard_normal((m, d)) @ A * 1.1 + offset
    real[20:32] = real[20]  # exact duplicates
    query[:6] = real[[0, 1, 2, 20, 20, 40]]  # queries on real points (distance 0)
    real[40:46] = real[41] + 1e-7 * rng.standard_normal((6, d))  # near-ties
    query[6] = real[41] + 0.5 * rng.standard_normal(d)  # equidistant-ish to the near-tie cluster
    return real, query


def _brute_knn(q, r, k, exclude_self=False):
    d = cdist(q, r, "sqeuclidean")
    if exclude_self:
        np.fill_diagonal(d, np.inf)
    return np.sort(d, axis=1)[:, :k]


CASES = [(300, 170, 24, 64, 0.0), (257, 129, 40, 50, 30.0), (90, 60, 7, 2048, 0.0), (400, 300, 96, 128, 5.0)]


@pytest.mark.parametrize("n,m,d,block,offset", CASES)
def test_knn_distances_and_radii_equal_brute_force(n, m, d, block, offset):
    real, query = _data(n, m, d, seed=n + d, offset=offset)
    scale = cdist(query, real, "sqeuclidean").max()
    for k in (1, 3, 7):
        np.testing.assert_allclose(K.knn_sqdist(query, real, k, block=block), _brute_knn(query, real, k),
                                   rtol=1e-9, atol=1e-12 * scale)
        np.testing.assert_allclose(K.knn_radii_sq(real, k, block=block), _brute_knn(real, real, k, True)[:, -1],
                                   rtol=1e-9, atol=1e-12 * scale)
    assert np.all(K.knn_radii_sq(real, 3, block=block)[20:32] == 0.0)  # 11 other copies: the 3rd is at 0
    # every other row is a neighbour: k = n − 1 with the row itself excluded
    np.testing.assert_allclose(K.knn_sqdist(real[:30], real[:30], 29, exclude_self=True, block=block),
                               _brute_knn(real[:30], real[:30], 29, True), rtol=1e-9, atol=1e-12 * scale)


@pytest.mark.parametrize("n,m,d,block,offset", CASES)
def test_precision_recall_and_realism_equal_brute_force(n, m, d, block, offset):
    real, fake = _data(n, m, d, seed=7 * n + d, offset=offset)
    bp, br, rr = brute_precision_recall(real, fake, 3)
    assert F.precision_recall(real, fake, k=3, block=block) == (pytest.approx(bp, abs=0), pytest.approx(br, abs=0))
    want = brute_realism(real, fake, 3)
    np.testing.assert_allclose(F.realism_score(real, fake, k=3, block=block), want, rtol=1e-9)
    np.testing.assert_allclose(F.realism_score(real, fake, k=3, clamp_percentile=None, block=block),
                               brute_realism(real, fake, 3, clamp_percentile=100.0), rtol=1e-9)
    rs = RealStats.fit(real, k=3, gmm_components=None, block=block)
    np.testing.assert_allclose(rs.realism(fake, block=block), want, rtol=1e-9)
    np.testing.assert_allclose(rs.knn_dist(fake, block=block), np.sqrt(_brute_knn(fake, real, 3)[:, -1]), rtol=1e-9)


def test_coverage_on_ball_boundaries():
    """Queries placed exactly on a ball's boundary (distance² = radius² in exact arithmetic of the stored
    values) count as inside; just outside does not — decided in float64 from the original rows."""
    rng = np.random.default_rng(3)
    support = rng.standard_normal((50, 16))
    radii = np.full(50, 4.0)
    step = np.zeros(16)
    step[0] = 2.0  # ‖step‖² = 4 exactly
    query = np.vstack([support[:10] + step, support[10:20] + step * (1 + 1e-9), support[20:25] * 0 + 100.0])
    d = cdist(query, support, "sqeuclidean")
    want = (d <= radii[None, :]).any(axis=1)
    assert want[:10].all() and not want[20:].any()
    np.testing.assert_array_equal(K.coverage(query, support, radii, block=16), want)


def test_float32_error_stays_inside_the_stated_bound():
    """The screen's premise: |S32 − S| ≤ B_i for S = 2 q·r − ‖r‖² of the centred rows, S computed here in
    float64 from the same centred, float32-rounded values (independent of the kernel's product)."""
    real, query = _data(500, 200, 256, seed=11, offset=50.0)
    p = K._Prepared(query, real, np.arange(200), np.float32)
    S32 = (2 * p.q) @ p.r.T - p.rn  # the kernel's float32 arithmetic
    c = real.mean(0)
    qc, rc = query - c, real - c
    S = 2.0 * qc @ rc.T - np.einsum("ij,ij->i", rc, rc)
    err = np.abs(S32.astype(np.float64) - S)
    assert np.all(err <= p.bound[:, None])
    assert err.max() > 1e-4 * p.bound.max()  # the bound is not absurdly loose either


def test_rows_the_float32_screen_cannot_prove_are_searched_again_in_float64(monkeypatch):
    """Many exact duplicates at the k-th distance: the float32 screen cannot separate them, the float64
    re-search must run, and the answer is still exact."""
    dtypes = []
    real_scan = K._scan

    def spy(p, *a, **kw):
        dtypes.append(p.dtype)
        return real_scan(p, *a, **kw)

    monkeypatch.setattr(K, "_scan", spy)
    rng = np.random.default_rng(5)
    base = rng.standard_normal((3, 64)) * 10.0
    real = np.repeat(base, 40, axis=0) + 1e-6 * rng.standard_normal((120, 64))  # 3 tight clusters of 40
    query = base[[0, 1, 2, 0]] + 1e-6 * rng.standard_normal((4, 64))
    got = K.knn_sqdist(query, real, 3, block=32)
    np.testing.assert_allclose(got, _brute_knn(query, real, 3), rtol=1e-9, atol=1e-20)
    assert np.dtype(np.float64) in dtypes
    dtypes.clear()
    real2, query2 = _data(200, 50, 32, seed=1)
    K.knn_sqdist(query2[10:], real2, 3)  # generic rows: the float32 screen proves every answer
    assert dtypes == [np.dtype(np.float32)]


def test_bad_arguments_are_config_errors():
    real, query = _data(60, 10, 5, seed=2)
    with pytest.raises(ConfigError, match="dimensions differ"):
        K.knn_sqdist(query[:, :4], real, 3)
    with pytest.raises(ConfigError, match="k=70"):
        K.knn_sqdist(query, real, 70)
    with pytest.raises(ConfigError, match="block"):
        K.knn_sqdist(query, real, 3, block=0)
    with pytest.raises(ConfigError, match="radii_sq has 3"):
        K.coverage(query, real, np.ones(3))
    with pytest.raises(ConfigError, match="eps must be > 0"):
        K.realism_max(query, real, np.ones(60), eps=0.0)
