"""RealStats: per-image realism features against brute force, save/load round trip, hash stability."""
import numpy as np
import pytest
from scipy.spatial.distance import cdist

from judgenet.errors import ArtifactError, ConfigError, NumericalError
from judgenet.metrics import REALSTATS_FEATURES, RealStats, realism_score


def _real(n=120, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + 1.0


def test_features_against_brute_force_and_sklearn():
    from sklearn.mixture import GaussianMixture

    real = _real()
    gen = _real(40, seed=1) * 1.2
    rs = RealStats.fit(real, k=3, gmm_components=3, gmm_covariance="full", seed=0, shrinkage=None,
                       block=16, fingerprint={"backbone": "inception"})
    feats = rs.features(gen, block=16)
    assert tuple(feats) == REALSTATS_FEATURES
    assert all(v.shape == (40,) and v.dtype == np.float64 for v in feats.values())
    mu, S = real.mean(0), np.cov(real, rowvar=False)
    g = gen - mu
    np.testing.assert_allclose(feats["mahalanobis2"], np.einsum("ij,jk,ik->i", g, np.linalg.inv(S), g), rtol=1e-9)
    d = cdist(gen, real)
    np.testing.assert_allclose(feats["knn_dist"], np.sort(d, 1)[:, 2], rtol=1e-9)
    dr = cdist(real, real)
    radius = np.sort(dr, 1)[:, 3]  # column 0: the point itself
    np.testing.assert_allclose(feats["knn_ratio"], np.sort(d, 1)[:, 2] / np.median(radius), rtol=1e-9)
    np.testing.assert_allclose(feats["realism"], realism_score(real, gen, k=3), rtol=1e-12)
    gm = GaussianMixture(3, covariance_type="full", random_state=0).fit(real)
    np.testing.assert_allclose(feats["gmm_loglik"], gm.score_samples(gen), rtol=1e-9)


def test_diag_gmm_and_default_shrinkage_for_few_images(tmp_path):
    from sklearn.mixture import GaussianMixture

    real = _real(n=5, d=8, seed=2)  # N < D: plain covariance singular
    with pytest.raises(NumericalError, match="shrinkage"):
        RealStats.fit(real, shrinkage=None, gmm_components=None)
    rs = RealStats.fit(real, k=2, gmm_components=2, seed=1, gmm_options={"max_iter": 50})  # Ledoit–Wolf by default
    gen = _real(7, d=8, seed=3)
    assert np.all(np.isfinite(rs.mahalanobis2(gen)))
    gm = GaussianMixture(2, covariance_type="diag", random_state=1, max_iter=50).fit(real)
    np.testing.assert_allclose(rs.gmm_loglik(gen), gm.score_samples(gen), rtol=1e-9)
    assert "gmm_loglik" not in RealStats.fit(real, k=2, gmm_components=None).features(gen)
    rs.save(tmp_path / "rs.npz")
    back = RealStats.load(tmp_path / "rs.npz")
    assert back.gmm_options == {"max_iter": 50} and back.hash == rs.hash


def test_save_load_round_trip_and_hash(tmp_path):
    real, gen = _real(), _real(30, seed=4)
    fp = {"name": "clip-vit-b32", "pretrained": "openai"}
    rs = RealStats.fit(real, gmm_components=2, fingerprint=fp)
    h = rs.hash
    assert len(h) == 16 and int(h, 16) >= 0
    assert RealStats.fit(real, gmm_components=2, fingerprint=fp).hash == h  # stable across fits
    assert RealStats.fit(real[:-1], gmm_components=2, fingerprint=fp).hash != h
    assert RealStats.fit(real, gmm_components=2, fingerprint={"name": "x"}).hash != h
    path = tmp_path / "real_stats.npz"
    rs.save(path)
    back = RealStats.load(path, fingerprint=fp)
    assert back.hash == h and back.fingerprint == fp and back.k == rs.k
    a, b = rs.features(gen), back.features(gen)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    with pytest.raises(ArtifactError, match="fingerprint"):
        RealStats.load(path, fingerprint={"name": "other"})
    # tampering is detected through the recorded hash
    z = dict(np.load(path))
    z["radii_sq"] = z["radii_sq"] * 2
    bad = tmp_path / "bad.npz"
    with open(bad, "wb") as fh:
        np.savez(fh, **z)
    with pytest.raises(ArtifactError, match="hash"):
        RealStats.load(bad)


@pytest.mark.parametrize("init,n_init", [("kmeans", 1), ("kmeans", 3), ("k-means++", 2), ("random", 2)])
def test_mixture_equals_sklearn_on_overlapping_clusters(init, n_init):
    """RealStats' mixture is scikit-learn's GaussianMixture with the same options. The clusters overlap (centres
    one standard deviation apart), so a different initialization or stopping rule would end elsewhere."""
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(5)
    real = rng.standard_normal((600, 8)) + np.repeat(rng.standard_normal((4, 8)) * 0.6, 150, axis=0)
    opts = {"n_init": n_init, "init_params": init, "tol": 1e-4, "max_iter": 300}
    rs = RealStats.fit(real, gmm_components=4, seed=3, gmm_options=opts)
    gm = GaussianMixture(4, covariance_type="diag", random_state=3, **opts).fit(real)
    assert gm.converged_ and gm.n_iter_ > 5  # a real EM run, not a first-step stop
    np.testing.assert_allclose(rs.gmm["means"], gm.means_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rs.gmm["covariances"], gm.covariances_, rtol=1e-10)
    np.testing.assert_allclose(rs.gmm["weights"], gm.weights_, rtol=1e-10)
    gen = _real(30, d=8, seed=6)
    np.testing.assert_allclose(rs.gmm_loglik(gen), gm.score_samples(gen), rtol=1e-10)


def test_unknown_or_bad_gmm_options_are_one_line_config_errors():
    real = _real(n=50, d=4, seed=8)
    with pytest.raises(ConfigError, match=r"unknown gmm_options \['maxiter'\]; allowed: max_iter"):
        RealStats.fit(real, gmm_components=2, gmm_options={"maxiter": 10})
    with pytest.raises(ConfigError, match="gmm_options: .*init_params"):
        RealStats.fit(real, gmm_components=2, gmm_options={"init_params": "best"})


def test_gmm_not_converging_logs_a_fix_and_no_sklearn_warning(caplog, recwarn):
    real = _real(n=300, d=6, seed=7)
    with caplog.at_level("WARNING", logger="judgenet.metrics.reference"):
        RealStats.fit(real, gmm_components=5, gmm_options={"max_iter": 1})
        RealStats.fit(real, gmm_components=3, gmm_covariance="full", gmm_options={"max_iter": 1})
    msgs = [r.getMessage() for r in caplog.records]
    assert len(msgs) == 2 and all("did not converge" in m and "max_iter" in m for m in msgs)
    assert not [w for w in recwarn if "converge" in str(w.message).lower()]
