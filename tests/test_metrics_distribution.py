"""FID, KID, IS, precision/recall, realism, CLIPScore family, Moments and the streaming classes."""
import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from judgenet.errors import ConfigError, NumericalError
from judgenet.metrics import FID, Moments, functional as F, knn_sqdist
from judgenet.stats import Estimate
from reference.distribution import brute_precision_recall, brute_realism, mmd2_loops


def rel(a, b):
    return float(np.max(np.abs(np.asarray(a, float) - b) / np.maximum(np.abs(b), 1e-300)))


def _feats(n, d, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) * 0.3 + shift


# --- Moments -----------------------------------------------------------------------------------
def test_moments_merge_equals_single_pass():
    x = _feats(1000, 7, 0, shift=50.0)  # large offset: a naive sum-of-squares form would lose digits
    whole = Moments.from_array(x)
    parts = [Moments(7).update(x[a:b]) for a, b in ((0, 1), (1, 300), (300, 1000))]
    merged = Moments.merged(parts)
    assert merged.count == 1000
    np.testing.assert_allclose(merged.mean, x.mean(0), rtol=1e-13)
    np.testing.assert_allclose(merged.cov(), np.cov(x, rowvar=False), rtol=1e-10)
    np.testing.assert_allclose(merged.scatter, whole.scatter, rtol=1e-10)
    assert merged.ledoit_wolf_shrinkage() == pytest.approx(whole.ledoit_wolf_shrinkage(), rel=1e-10)
    from sklearn.covariance import ledoit_wolf_shrinkage
    assert merged.ledoit_wolf_shrinkage() == pytest.approx(ledoit_wolf_shrinkage(x - x.mean(0), assume_centered=True), rel=1e-10)
    # torch input, float32
    t = Moments(7).update(torch.tensor(x[:10], dtype=torch.float32))
    assert t.mean.dtype == np.float64


def test_moments_ledoit_wolf_matches_sklearn():
    from sklearn.covariance import ledoit_wolf_shrinkage

    x = _feats(30, 12, 1, shift=3.0)
    m = Moments.from_array(x)
    assert m.ledoit_wolf_shrinkage() == pytest.approx(ledoit_wolf_shrinkage(x - x.mean(0), assume_centered=True), rel=1e-9)


def test_knn_blocked_equals_brute_force():
    q, r = _feats(53, 4, 2), _feats(71, 4, 3)
    brute = np.sort(cdist(q, r, "sqeuclidean"), axis=1)[:, :5]
    np.testing.assert_allclose(knn_sqdist(q, r, 5, block=8), brute, rtol=1e-9, atol=1e-12)
    d = cdist(r, r, "sqeuclidean")
    np.fill_diagonal(d, np.inf)
    np.testing.assert_allclose(knn_sqdist(r, r, 3, exclude_self=True, block=16), np.sort(d, 1)[:, :3], rtol=1e-9, atol=1e-12)
    with pytest.raises(ConfigError):
        knn_sqdist(q, r[:2], 3)


# --- FID ---------------------------------------------------------------------------------------
def test_fid_equals_torchmetrics():
    from torchmetrics.image.fid import _compute_fid

    a, b = _feats(600, 64, 4), _feats(500, 64, 5, shift=0.2)
    m1, m2 = Moments.from_array(a), Moments.from_array(b)
    want = _compute_fid(torch.tensor(m1.mean), torch.tensor(m1.cov()), torch.tensor(m2.mean), torch.tensor(m2.cov())).item()
    assert rel(F.fid(a, b), want) < 1e-6
    # torchmetrics' own covariance (sum-of-outer-products form) gives the same too
    tm_cov = lambda f: (f.T @ f - len(f) * np.outer(f.mean(0), f.mean(0))) / (len(f) - 1)
    want2 = _compute_fid(*(torch.tensor(v) for v in (a.mean(0), tm_cov(a), b.mean(0), tm_cov(b)))).item()
    assert rel(F.fid(a, b), want2) < 1e-6
    assert F.fid(a, a) == pytest.approx(0.0, abs=1e-8)


def test_fid_singular_covariances_and_kept_real_statistics():
    from torchmetrics.image.fid import _compute_fid

    a, b = _feats(20, 64, 6), _feats(30, 64, 7)  # N < D: both covariances singular
    m1, m2 = Moments.from_array(a), Moments.from_array(b)
    want = _compute_fid(torch.tensor(m1.mean), torch.tensor(m1.cov()), torch.tensor(m2.mean), torch.tensor(m2.cov())).item()
    assert rel(F.fid(a, b), want) < 1e-6
    a = _feats(300, 16, 8)
    metric = FID(dim=16, reset_real_features=False)  # the other class behaviour: tests/test_metrics_classes.py
    metric.update(a, real=True)
    metric.update(a[:50], real=False)
    metric.reset()
    assert metric.real.count == 300 and metric.fake.count == 0


# --- KID ---------------------------------------------------------------------------------------
def test_kid_against_direct_unbiased_mmd_and_torchmetrics():
    from torchmetrics.image.kid import poly_mmd

    a, b = _feats(40, 6, 10), _feats(35, 6, 11, shift=0.5)
    mean, std = F.kid(a, b, subsets=4, subset_size=12, seed=3)
    rng = np.random.default_rng(3)
    vals = []
    for _ in range(4):
        xa = a[rng.permutation(40)[:12]]
        xb = b[rng.permutation(35)[:12]]
        vals.append(mmd2_loops(xa, xb))
        assert poly_mmd(torch.tensor(xa), torch.tensor(xb)).item() == pytest.approx(vals[-1], rel=1e-9)
    assert mean == pytest.approx(np.mean(vals), rel=1e-10)
    assert std == pytest.approx(np.std(vals), rel=1e-8)
    with pytest.raises(ConfigError):
        F.kid(a, b, subset_size=100)


# --- IS ----------------------------------------------------------------------------------------
def test_inception_score_by_hand():
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.5], [1.0, 1.0, 1.0], [-2.0, 3.0, 0.0]])
    scores = []
    for part in (logits[:2], logits[2:]):
        p = [[math.exp(v) / sum(math.exp(u) for u in row) for v in row] for row in part]
        py = [sum(r[c] for r in p) / len(p) for c in range(3)]
        kl = [sum(r[c] * math.log(r[c] / py[c]) for c in range(3)) for r in p]
        scores.append(math.exp(sum(kl) / len(kl)))
    mean, std = F.inception_score(logits, splits=2)
    assert mean == pytest.approx(np.mean(scores), rel=1e-12)
    assert std == pytest.approx(np.std(scores), rel=1e-10)
    # uniform predictions -> IS = 1, one-hot distinct classes -> IS = C
    assert F.inception_score(np.zeros((10, 5)), splits=1)[0] == pytest.approx(1.0)
    assert F.inception_score(np.eye(4) * 60, splits=1)[0] == pytest.approx(4.0, rel=1e-6)


# --- precision / recall / realism ---------------------------------------------------------------
def test_precision_recall_and_realism_brute_force():
    real, fake = _feats(90, 5, 12), _feats(70, 5, 13, shift=0.4)
    p, r = F.precision_recall(real, fake, k=3, block=16)
    bp, br, _ = brute_precision_recall(real, fake, 3)
    assert (p, r) == (pytest.approx(bp), pytest.approx(br))
    assert 0 < p < 1 and 0 < r < 1
    # realism, official-code convention: squared distances, radii above the median dropped
    np.testing.assert_allclose(F.realism_score(real, fake, k=3, block=16), brute_realism(real, fake, 3), rtol=1e-9)
    assert F.precision_recall(real, real, k=3) == (1.0, 1.0)
    # the reference's radii given (RealStats keeps them): the same numbers; wrong length refused
    from judgenet.metrics import RealStats

    rs = RealStats.fit(real, k=3)
    assert F.precision_recall(real, fake, k=3, real_radii_sq=rs.radii_sq) == (pytest.approx(bp), pytest.approx(br))
    with pytest.raises(ConfigError, match="real_radii_sq"):
        F.precision_recall(real, fake, k=3, real_radii_sq=rs.radii_sq[:-1])


# --- CLIPScore family ----------------------------------------------------------------------------
def test_clip_score_and_ref_clip_score():
    rng = np.random.default_rng(14)
    img, txt = rng.standard_normal((6, 8)), rng.standard_normal((6, 8))
    cos = np.array([img[i] @ txt[i] / np.linalg.norm(img[i]) / np.linalg.norm(txt[i]) for i in range(6)])
    per = F.clip_score(img, txt, reduction="none")
    np.testing.assert_allclose(per, 2.5 * np.maximum(cos, 0), rtol=1e-12)
    assert F.clip_score(torch.tensor(img), torch.tensor(txt)) == pytest.approx(per.mean())
    refs = [rng.standard_normal((k, 8)) for k in (1, 3, 2, 1, 2, 3)]
    hm = F.ref_clip_score(img, txt, refs, reduction="none")
    for j, r in enumerate(refs):
        best = max(max(img[j] @ q / np.linalg.norm(img[j]) / np.linalg.norm(q) for q in r), 0)
        c = per[j]
        assert hm[j] == pytest.approx(0 if c + best == 0 else 2 * c * best / (c + best), rel=1e-12)
    padded = np.zeros((6, 3, 8)); mask = np.zeros((6, 3), bool)
    for j, r in enumerate(refs):
        padded[j, :len(r)] = r; mask[j, :len(r)] = True
    np.testing.assert_allclose(F.ref_clip_score(img, txt, padded, mask=mask, reduction="none"), hm, rtol=1e-12)


def test_clip_r_precision():
    rng = np.random.default_rng(15)
    txt = rng.standard_normal((150, 16))
    est = F.clip_r_precision(txt + 0.01 * rng.standard_normal((150, 16)), txt, r=100, n_resamples=200)
    assert isinstance(est, Estimate) and est.value == 1.0
    noise = rng.standard_normal((150, 16))
    e1 = F.clip_r_precision(noise, txt, r=10, n_resamples=200, seed=1)
    assert e1 == F.clip_r_precision(noise, txt, r=10, n_resamples=200, seed=1)
    assert e1.low <= e1.value <= e1.high and e1.value < 0.3
    with pytest.raises(ConfigError, match="distractor"):
        F.clip_r_precision(noise, txt, r=200)
    with pytest.raises(NumericalError):
        F.clip_score(np.zeros((2, 3)), np.ones((2, 3)))


def test_fid_equals_torchmetrics_class_with_feature_stub():
    from torchmetrics.image.fid import FrechetInceptionDistance

    class Identity(torch.nn.Module):
        num_features = 32

        def forward(self, x):
            return x

    a, b = _feats(200, 32, 16), _feats(150, 32, 17, shift=0.3)
    tm = FrechetInceptionDistance(feature=Identity())
    for i in range(0, 200, 64):
        tm.update(torch.tensor(a[i:i + 64]), real=True)
    tm.update(torch.tensor(b), real=False)
    assert rel(F.fid(a, b), tm.compute().item()) < 1e-6


def test_clip_r_precision_text_ids_exclude_duplicate_prompts():
    rng = np.random.default_rng(18)
    base = rng.standard_normal((60, 8))
    txt = np.repeat(base, 2, axis=0)  # every prompt twice
    ids = np.repeat(np.arange(60), 2)
    plain = F.clip_r_precision(txt, txt, r=100, n_resamples=50)
    assert plain.value < 1.0  # the duplicate prompt, when drawn, ties for first
    assert F.clip_r_precision(txt, txt, r=100, n_resamples=50, text_ids=ids).value == 1.0
