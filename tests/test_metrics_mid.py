"""MID (Kim et al. 2022): equality with an independent computation and with a transcription of the
official code, Gaussian limit, per-sample vs set-level conventions, invariances, errors, regularization."""
import numpy as np
import pytest
import torch

from judgenet.errors import ArtifactError, ConfigError, NumericalError
from judgenet.metrics import MID, MIDReference, Moments, functional as F
from reference.mid import OfficialMID, direct_mid, official_compute_pmi


def _data(n=400, m=150, dx=6, dy=5, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dx)) + 2.0
    A = rng.standard_normal((dx, dy))
    y = x @ A * 0.3 + rng.standard_normal((n, dy)) * scale
    xg = x[:m] * 0.9 + 0.2 * rng.standard_normal((m, dx))
    return x, y, xg


def _norm(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def test_mid_equals_direct_inverse_logdet_computation():
    x, y, xg = _data()
    got = F.mid(x, y, xg, normalize=False)
    want = direct_mid(x, y, xg, y[:xg.shape[0]])
    assert rel(got, want) < 1e-8
    got_n = F.mid(x, y, xg, reduction="none", normalize=False)
    want_n = direct_mid(x, y, xg, y[:xg.shape[0]], reduction="none")
    assert got_n.shape == (xg.shape[0],) and got_n.dtype == np.float64
    assert rel(got_n, want_n) < 1e-8


def test_mid_matches_official_transcription_normalized_and_torch_inputs():
    x, y, xg = _data(n=300, m=120, dx=8, dy=8, seed=1)
    xn, yn, xgn = _norm(x), _norm(y), _norm(xg)
    want = official_compute_pmi(xn, yn, xgn)
    # judgenet normalizes by default; official expects normalized input: same numbers
    got = F.mid(torch.tensor(x, dtype=torch.float32).double(), torch.tensor(y), torch.tensor(xg))
    assert rel(got, want) < 1e-8
    # per-sample: the official code needs M == N
    want_n = official_compute_pmi(xn, yn, _norm(x * 1.1 + 0.1), reduction=False)
    got_n = F.mid(xn, yn, _norm(x * 1.1 + 0.1), reduction="none")
    assert rel(got_n, want_n) < 1e-8


def test_limit_follows_official_when_m_equals_n():
    x, y, _ = _data(n=260, m=10, dx=4, dy=4, seed=2)
    xg = x * 0.8 + 0.3
    want = official_compute_pmi(x, y, xg, limit=200)
    assert rel(F.mid(x, y, xg, normalize=False, limit=200), want) < 1e-8
    assert F.mid(x, y, xg, normalize=False, limit=200) != pytest.approx(F.mid(x, y, xg, normalize=False, limit=None))


def test_mid_tends_to_analytic_gaussian_mi():
    rng = np.random.default_rng(3)
    d = 3
    A = rng.standard_normal((d, d))
    Sx = np.eye(d) + 0.5 * np.ones((d, d))
    Sy = A @ Sx @ A.T + np.eye(d)
    Sxy = Sx @ A.T
    S = np.block([[Sx, Sxy], [Sxy.T, Sy]])
    true_mi = 0.5 * (np.linalg.slogdet(Sx)[1] + np.linalg.slogdet(Sy)[1] - np.linalg.slogdet(S)[1])
    Lc = np.linalg.cholesky(S)
    errs = []
    for n in (200, 200_000):
        z = rng.standard_normal((n, 2 * d)) @ Lc.T
        zg = rng.standard_normal((n, 2 * d)) @ Lc.T  # generated pairs from the true joint
        errs.append(abs(F.mid(z[:, :d], z[:, d:], zg[:, :d], zg[:, d:], normalize=False, limit=None) - true_mi))
    assert errs[1] < 0.01 * true_mi
    assert errs[1] < errs[0]


def test_mean_pmi_vs_set_level_documented_conventions():
    x, y, xg = _data(n=500, m=80, seed=4)
    m = xg.shape[0]
    ref = MIDReference.fit(x, y, normalize=False)
    yg = y[:m]
    p = F.mid(x, y, xg, reduction="none", normalize=False)
    s = F.mid(x, y, xg, normalize=False)
    # independent d²_y of the generated texts
    mu_y = y.mean(0)
    d2y = np.einsum("ij,jk,ik->i", yg - mu_y, np.linalg.inv(np.cov(y, rowvar=False)), yg - mu_y)
    mean_dx_minus_dz = 2 * (p.mean() - ref.mi) - d2y.mean()
    assert rel(s, ref.mi + 0.5 * (ref.dim_y + m / (m - 1) * mean_dx_minus_dz)) < 1e-10
    assert ref.text_term == ref.dim_y
    # and they are *not* simply equal (the conventions matter)
    assert abs(p.mean() - s) > 1e-6


def test_rotation_invariance():
    x, y, xg = _data(n=300, m=100, dx=6, dy=5, seed=5)
    Q, _ = np.linalg.qr(np.random.default_rng(6).standard_normal((6, 6)))
    a = F.mid(x, y, xg)
    b = F.mid(x @ Q, y, xg @ Q)
    assert rel(b, a) < 1e-9
    assert rel(F.mid(x @ Q, y, xg @ Q, reduction="none"), F.mid(x, y, xg, reduction="none")) < 1e-9


def test_errors_for_too_few_pairs_and_singular_covariance():
    x, y, xg = _data(n=11, m=5, dx=6, dy=5)
    with pytest.raises(NumericalError, match=r"N=11.*eps=5e-4 \(CLI: --mid-eps 5e-4.*--mid-shrinkage ledoit_wolf") as e:
        F.mid(x, y, xg)
    assert "\n" not in str(e.value)
    # a regularization already in use is never suggested again
    from judgenet.metrics.reference import _mid_fix
    msg = _mid_fix(0.0, "ledoit_wolf", 11)
    assert "--mid-shrinkage" not in msg and "--mid-eps 5e-4" in msg
    assert "--mid-eps 0.01" in _mid_fix(1e-3, None, 11) and "5e-4" not in _mid_fix(1e-3, None, 11)
    x, y, xg = _data(n=400, m=50, dx=6, dy=5)
    x[:, 1] = 2 * x[:, 0]  # exactly collinear columns -> singular Σx and Σz
    with pytest.raises(NumericalError, match="singular"):
        F.mid(x, y, xg, normalize=False)
    # the suggested fix works
    assert np.isfinite(F.mid(x, y, xg, normalize=False, eps=1e-3))


def test_eps_ridge_equals_direct():
    x, y, xg = _data(n=9, m=6, dx=6, dy=5, seed=7)  # N < Dx + Dy
    x, y, xg = _norm(x), _norm(y), _norm(xg)
    got = F.mid(x, y, xg, eps=5e-4)
    assert rel(got, direct_mid(x, y, xg, y[:6], eps=5e-4)) < 1e-8
    got_n = F.mid(x, y, xg, eps=5e-4, reduction="none")
    assert rel(got_n, direct_mid(x, y, xg, y[:6], eps=5e-4, reduction="none")) < 1e-8


def test_ledoit_wolf_matches_sklearn():
    from sklearn.covariance import ledoit_wolf_shrinkage

    x, y, xg = _data(n=15, m=8, dx=6, dy=5, seed=8)
    ref = MIDReference.fit(x, y, shrinkage="ledoit_wolf")
    z = np.hstack([_norm(x), _norm(y)])
    delta = ledoit_wolf_shrinkage(z - z.mean(0), assume_centered=True)
    assert ref.shrinkage_intensity == pytest.approx(delta, rel=1e-9)
    S = np.cov(z, rowvar=False)
    S_lw = (1 - delta) * S + delta * np.trace(S) / S.shape[0] * np.eye(S.shape[0])
    assert rel(ref.cov, S_lw) < 1e-9
    # the MID itself, checked against the direct formula with that covariance
    dx = 6
    zg = np.hstack([_norm(xg), _norm(y[:8])])
    mu = z.mean(0)
    iS = np.linalg.inv(S_lw)
    I = 0.5 * (np.linalg.slogdet(S_lw[:dx, :dx])[1] + np.linalg.slogdet(S_lw[dx:, dx:])[1] - np.linalg.slogdet(S_lw)[1])
    g = zg - mu
    Z0 = g.T @ g / 7
    T = np.trace(np.linalg.inv(S_lw[dx:, dx:]) @ S[dx:, dx:])
    want = I + 0.5 * (np.trace(np.linalg.inv(S_lw[:dx, :dx]) @ Z0[:dx, :dx]) + T - np.trace(iS @ Z0))
    assert rel(F.mid(x, y, xg, shrinkage="ledoit_wolf"), want) < 1e-8


def test_reference_reuse_save_load_hash_fingerprint(tmp_path):
    x, y, xg = _data(seed=9)
    fp = {"name": "clip-vit-b32", "hash": "abc"}
    ref = MIDReference.fit(x, y, fingerprint=fp)
    yg = y[:xg.shape[0]]
    assert rel(ref.mid(xg, yg), F.mid(x, y, xg)) < 1e-12
    path = tmp_path / "ref.npz"
    ref.save(path)
    back = MIDReference.load(path, fingerprint=fp)
    assert back.hash == ref.hash and len(ref.hash) == 16
    assert back.fingerprint == fp
    np.testing.assert_array_equal(back.pmi(xg, yg), ref.pmi(xg, yg))
    with pytest.raises(ArtifactError, match="fingerprint"):
        MIDReference.load(path, fingerprint={"name": "other"})
    assert MIDReference.fit(x, y, fingerprint=fp).hash == ref.hash
    assert MIDReference.fit(x[1:], y[1:], fingerprint=fp).hash != ref.hash


def test_streamed_reference_and_metric_class_match_functional():
    x, y, _ = _data(n=600, m=10, dx=5, dy=4, seed=10)
    xg = x * 1.05 + 0.05
    want = F.mid(x, y, xg)
    metric = MID(dim_x=5, dim_y=4)
    other = MID(dim_x=5, dim_y=4)
    for i in range(0, 600, 64):  # the first part is complete (as many generated as reference rows): exact merge
        (metric if i < 320 else other).update(torch.tensor(x[i:i + 64]), y[i:i + 64], xg[i:i + 64])
    metric.merge_state(other)
    got = metric.compute()
    assert got.dtype == torch.float64
    assert rel(got.item(), want) < 1e-9
    metric.reset()
    assert metric.ref.count == 0 and metric.gen.count == 0 and not metric.texts_waiting
    # shards merged exactly
    parts = [Moments.from_array(np.hstack([_norm(x[i::3]), _norm(y[i::3])])) for i in range(3)]
    r = MIDReference.from_moments(Moments.merged(parts), 5)
    assert rel(r.mid(xg, y), want) < 1e-9


def _official_class(x, y, xg, batches, limit=30000):
    off = OfficialMID(feature=x.shape[1], limit=limit)
    for (a, b), (c, d) in batches:
        off.update(torch.tensor(x[a:b]), torch.tensor(y[a:b]), torch.tensor(xg[c:d]))
    return float(off.compute())


@pytest.mark.parametrize("order", ["texts_first", "generated_first"])
def test_metric_class_pairs_generated_rows_with_first_texts_overall(order):
    """M < N spread over batches: generated row j pairs with reference text j overall, as the official
    class (and the one-shot function) — not with the first texts of its own batch."""
    dx = dy = 8
    x, y, _ = _data(n=1200, m=10, dx=dx, dy=dy, seed=12)
    x, y = _norm(x), _norm(y)
    xg = _norm(x[:300] * 0.9 + 0.3 * np.random.default_rng(13).standard_normal((300, dx)))
    if order == "texts_first":  # 6 batches: 200 reference rows, 50 generated rows each
        batches = [((i * 200, (i + 1) * 200), (i * 50, (i + 1) * 50)) for i in range(6)]
    else:  # all generated rows in the first two batches, texts still to come
        batches = [((0, 100), (0, 200)), ((100, 150), (200, 300))] + [((a, a + 150), (300, 300))
                                                                     for a in range(150, 1200, 150)]
    metric = MID(dim_x=dx)
    for (a, b), (c, d) in batches:
        metric.update(x[a:b], y[a:b], xg[c:d])
    want = F.mid(x, y, xg)
    assert rel(metric.compute().item(), want) < 1e-9
    assert rel(metric.compute().item(), _official_class(x, y, xg, batches)) < 1e-8
    # the old per-batch pairing would give a clearly different number
    per_batch = np.vstack([y[a:a + (d - c)] for (a, b), (c, d) in batches if d > c])
    assert abs(F.mid(x, y, xg, per_batch) - want) > 0.1


def test_metric_class_refuses_what_it_cannot_pair_or_merge():
    x, y, _ = _data(n=300, m=10, dx=4, dy=4, seed=14)
    xg = x * 0.9
    metric = MID(dim_x=4)
    metric.update(x[:50], y[:50], xg[:80])  # 30 generated rows still wait for texts
    with pytest.raises(ConfigError, match="no reference text"):
        metric.compute()
    metric.update(x[50:100], y[50:100], xg[80:80])
    assert rel(metric.compute().item(), F.mid(x[:100], y[:100], xg[:80])) < 1e-9
    with pytest.raises(ConfigError, match="y_gen"):
        metric.update(x[:10], y[:10], xg[:5], y[:5])
    a, b = MID(dim_x=4), MID(dim_x=4)
    a.update(x[:100], y[:100], xg[:40])  # 60 texts waiting: b's rows would pair differently
    b.update(x[100:], y[100:], xg[40:80])
    with pytest.raises(ConfigError, match="global row order"):
        a.merge_state(b)
    # with y_gen given, any split merges exactly
    a, b = MID(dim_x=4), MID(dim_x=4)
    a.update(x[:100], y[:100], xg[:40], y[200:240])
    b.update(x[100:], y[100:], xg[40:80], y[240:280])
    a.merge_state(b)
    assert rel(a.compute().item(), F.mid(x, y, xg[:80], y[200:280])) < 1e-9


def test_metric_limit():
    x, y, _ = _data(n=300, m=10, dx=4, dy=4, seed=11)
    xg = x * 0.9
    m = MID(dim_x=4, limit=250)
    for i in range(0, 300, 40):
        m.update(x[i:i + 40], y[i:i + 40], xg[i:i + 40])
    assert m.ref.count == 250
    assert rel(m.compute().item(), F.mid(x, y, xg, limit=250)) < 1e-9


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_chunked_reference_equals_one_shot(dtype):
    x, y, xg = _data(n=1000, m=100, dx=6, dy=5, seed=15)
    x, y = x.astype(dtype), y.astype(dtype)
    one = MIDReference.fit(x, y)
    for chunk in (1, 7, 333, 999):
        ch = MIDReference.fit(x, y, chunk_size=chunk)
        assert rel(ch.cov, one.cov) < 1e-12 and rel(ch.mean, one.mean) < 1e-12
        assert rel(ch.mid(xg, y[:100]), one.mid(xg, y[:100])) < 1e-11
    assert rel(F.pmi(x, y, xg, chunk_size=64), F.pmi(x, y, xg)) < 1e-11
    lw = MIDReference.fit(x, y, shrinkage="ledoit_wolf")
    assert rel(MIDReference.fit(x, y, shrinkage="ledoit_wolf", chunk_size=100).cov, lw.cov) < 1e-12
    # inputs are not modified, float32 rows are normalized in float64
    assert x.dtype == dtype and not np.allclose(np.linalg.norm(x, axis=1), 1.0)
    ref64 = MIDReference.fit(x.astype(np.float64), y.astype(np.float64))
    assert rel(one.cov, ref64.cov) < 1e-12


def test_nonfinite_and_zero_rows_are_named():
    x, y, xg = _data(n=400, m=20, dx=4, dy=4, seed=16)
    x[123, 2] = np.nan
    with pytest.raises(NumericalError, match=r"x_ref contains NaN.*rows \[123\]"):
        MIDReference.fit(x, y)
    x[123, 2] = 0.5
    y[7] = 0.0
    with pytest.raises(NumericalError, match=r"y_ref has 1 all-zero rows \(first: row 7\)"):
        MIDReference.fit(x, y)
    y[7] = 1.0
    xg[3, 0] = np.inf
    with pytest.raises(NumericalError, match="x_gen contains NaN or inf"):
        F.mid(x, y, xg)
