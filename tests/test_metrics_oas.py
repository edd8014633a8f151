"""OAS covariance shrinkage (Chen, Wiesel, Eldar & Hero 2010) for MID and RealStats, against scikit-learn's
``sklearn.covariance.OAS`` (an independent implementation), with N < D and N > D."""
import numpy as np
import pytest

from judgenet.errors import ConfigError
from judgenet.metrics import MID, MIDReference, Moments, RealStats, functional as F


def _rows(n, d, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) + 0.5


def _sk_oas(x):
    from sklearn.covariance import OAS

    est = OAS().fit(x)
    return est.covariance_, float(est.shrinkage_)


def _unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


@pytest.mark.parametrize("n,d", [(12, 30), (200, 9), (3, 1), (40, 40)])
def test_moments_oas_shrinkage_equals_sklearn(n, d):
    x = _rows(n, d, seed=n + d)
    cov_sk, delta_sk = _sk_oas(x)
    m = Moments.from_array(x, higher=False)  # OAS needs no fourth moments
    assert m.oas_shrinkage() == pytest.approx(delta_sk, rel=1e-10, abs=1e-14)
    cov, delta = m.shrunk_cov(ddof=0, method="oas")  # biased covariance, sklearn's convention
    np.testing.assert_allclose(cov, cov_sk, rtol=1e-10, atol=1e-12 * np.abs(cov_sk).max())
    assert delta == pytest.approx(delta_sk, rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("n", [9, 300])  # N < Dx+Dy = 11 and N > Dx+Dy
def test_mid_reference_oas_equals_sklearn_and_direct_mid(n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, 6)) + 1.0
    y = x @ rng.standard_normal((6, 5)) * 0.3 + rng.standard_normal((n, 5))
    xg = x[:8] * 0.9 + 0.2 * rng.standard_normal((8, 6))
    ref = MIDReference.fit(x, y, shrinkage="oas")
    z = np.hstack([_unit(x), _unit(y)])
    cov_sk, delta_sk = _sk_oas(z)
    assert ref.shrinkage == "oas" and ref.shrinkage_intensity == pytest.approx(delta_sk, rel=1e-10)
    # judgenet shrinks the unbiased (N−1) covariance; sklearn the biased (N) one: same δ, scale (N−1)/N
    np.testing.assert_allclose(ref.cov * (n - 1) / n, cov_sk, rtol=1e-10, atol=1e-13)
    # MID with that covariance, by inverses and log-determinants (no judgenet code)
    S = cov_sk * n / (n - 1)
    dx, m = 6, 8
    zg = np.hstack([_unit(xg), _unit(y[:m])])
    g = zg - z.mean(0)
    Z0 = g.T @ g / (m - 1)
    mi = 0.5 * (np.linalg.slogdet(S[:dx, :dx])[1] + np.linalg.slogdet(S[dx:, dx:])[1] - np.linalg.slogdet(S)[1])
    T = np.trace(np.linalg.solve(S[dx:, dx:], np.cov(z[:, dx:], rowvar=False)))
    want = mi + 0.5 * (np.trace(np.linalg.solve(S[:dx, :dx], Z0[:dx, :dx])) + T - np.trace(np.linalg.solve(S, Z0)))
    assert F.mid(x, y, xg, shrinkage="oas") == pytest.approx(want, rel=1e-9)
    # the streaming class and the save/load round trip keep the choice
    metric = MID(dim_x=6, dim_y=5, shrinkage="oas")
    metric.update(x, y, xg)
    assert float(metric.compute()) == pytest.approx(want, rel=1e-9)


def test_mid_reference_oas_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((20, 6)), rng.standard_normal((20, 5))
    ref = MIDReference.fit(x, y, shrinkage="oas")
    ref.save(tmp_path / "mid.npz")
    back = MIDReference.load(tmp_path / "mid.npz")
    assert back.shrinkage == "oas" and back.hash == ref.hash


@pytest.mark.parametrize("n", [7, 200])  # N < D = 12 and N > D
def test_realstats_oas_mahalanobis_equals_sklearn(n):
    real = _rows(n, 12, seed=n)
    gen = _rows(5, 12, seed=99)
    rs = RealStats.fit(real, k=2, gmm_components=None, shrinkage="oas")
    cov_sk, delta_sk = _sk_oas(real)
    assert rs.shrinkage_intensity == pytest.approx(delta_sk, rel=1e-10)
    S = cov_sk * n / (n - 1)
    g = gen - real.mean(0)
    np.testing.assert_allclose(rs.mahalanobis2(gen), np.einsum("ij,ij->i", g, np.linalg.solve(S, g.T).T),
                               rtol=1e-9)


def test_unknown_shrinkage_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match="shrinkage must be one of"):
        MIDReference.fit(np.ones((20, 3)) + np.eye(20, 3), np.eye(20, 2) + 1, shrinkage="lw")
