"""judgenet.features.FeatureBuilder: columns vs the metric functions, text-source pairing, raw set metrics,
persistence, unusable rows, and the sklearn estimator contract."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import linalg
from sklearn.base import clone

from judgenet.errors import ArtifactError, ConfigError
from judgenet.features import FeatureBuilder, embedded, set_metric_names
from judgenet.metrics import functional as F

FIXTURES = Path(__file__).parent / "fixtures"
#: the groups without ``caption`` (these inputs are arrays without prompt strings; tests/test_features_prompt.py)
BASE = ("alignment", "realism", "activations")


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny fits only lose from threads


def _data(seed=0, n_real=300, m=120, d=8, dt=8):
    rng = np.random.default_rng(seed)
    real_img = rng.normal(size=(n_real, d))
    real_txt = real_img[:, :dt] + 0.5 * rng.normal(size=(n_real, dt))
    gen_img = rng.normal(size=(m, d)) * 1.3
    gen_txt = gen_img[:, :dt] + rng.normal(size=(m, dt))
    incep = rng.normal(size=(n_real, 12)) * 3 + 1
    gen_incep = rng.normal(size=(m, 12)) * 3 + 1.5
    gens = np.repeat(["g0", "g1", "g2", "g3"], m // 4)
    return real_img, real_txt, gen_img, gen_txt, incep, gen_incep, gens


_FITTED = {}


def _fit(**kw):
    """A fitted builder on clip + inception sources (cached per settings: fitting is the slow part)."""
    key = tuple(sorted(kw.items()))
    if key not in _FITTED:
        _FITTED[key] = _fit_new(**kw)
    fb, gen, gens = _FITTED[key]
    return fb, gen, gens


def _fit_new(**kw):
    real_img, real_txt, gen_img, gen_txt, incep, gen_incep, gens = _data()
    kw.setdefault("groups", BASE)
    fb = FeatureBuilder(pca_components=4, gmm_components=2, **kw).fit(
        embedded({"clip": real_img, "inception": incep}, real_txt, "clip"))
    return fb, embedded({"clip": gen_img, "inception": gen_incep}, gen_txt, "clip"), gens


def test_same_features_as_before_the_move_for_the_tiny_backbone():
    """Golden values written by the pre-move FeatureReference on tiny-backbone embeddings of a small world."""
    g = np.load(FIXTURES / "featurize_tiny_golden.npz")
    fb = FeatureBuilder(groups=BASE, pca_components=8, gmm_components=4,
                        seed=0).fit(embedded({"tiny": g["real_images"]}, g["real_texts"], "tiny"))
    fm = fb.transform(embedded({"tiny": g["gen_images"]}, g["gen_texts"], "tiny"))
    assert fm.names == [str(n) for n in g["names"]]
    # The tolerance absorbs other BLAS kernels. MID's joint covariance of 200 tiny pairs has condition number ~6e12,
    # so its inverse carries a relative error up to cond * eps ≈ 6e12 * 2.2e-16 ≈ 1.3e-3 whatever the kernel
    # (measured: 5.4e-6 between OpenBLAS's Haswell and AVX-512 kernels on an AMD EPYC); every other column 1e-9.
    mid = fm.names.index("mid_pmi")
    np.testing.assert_allclose(fm.X[:, mid], g["X"][:, mid], rtol=1.3e-3, atol=0)
    np.testing.assert_allclose(np.delete(fm.X, mid, axis=1), np.delete(g["X"], mid, axis=1), rtol=1e-9, atol=0)


def test_columns_match_metric_functions():
    real_img, real_txt, gen_img, gen_txt, *_ = _data()
    fb, gen, _ = _fit()
    fm = fb.transform(gen)
    assert fm.X.shape[0] == 120 and fm.X.dtype == np.float64 and np.asarray(fm).shape == fm.X.shape
    np.testing.assert_allclose(fm.column("mid_pmi"), F.mid(real_img, real_txt, gen_img, gen_txt, reduction="none"),
                               rtol=1e-10)
    np.testing.assert_allclose(fm.column("clip_score"), F.clip_score(gen_img, gen_txt, reduction="none"))
    assert {"alignment", "realism", "activations"} == set(fm.groups)
    assert fm.names == list(fb.get_feature_names_out())
    assert "realism.inception.knn_dist" in fm.names and "pca.clip.3" in fm.names
    assert fm.select(["alignment"]).names == ["mid_pmi", "clip_score"]
    with pytest.raises(ConfigError, match="no feature column"):
        fm.column("nope")


def test_normalization_is_per_source_kind():
    """CLIP-like sources: realism on L2-normalized rows; Inception: on the raw pool features."""
    from judgenet.metrics import RealStats

    real_img, real_txt, gen_img, gen_txt, incep, gen_incep, _ = _data()
    fb, gen, _ = _fit()
    assert fb.normalized_ == ["clip"]
    fm = fb.transform(gen)
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    clip_rs = RealStats.fit(unit(real_img), k=3, gmm_components=None).mahalanobis2(unit(gen_img))
    inc_rs = RealStats.fit(incep, k=3, gmm_components=None).mahalanobis2(gen_incep)
    np.testing.assert_allclose(fm.column("realism.clip.mahalanobis2"), clip_rs, rtol=1e-10)
    np.testing.assert_allclose(fm.column("realism.inception.mahalanobis2"), inc_rs, rtol=1e-10)
    fb2 = clone(fb).set_params(normalize=[]).fit(embedded({"clip": real_img, "inception": incep}, real_txt, "clip"))
    assert fb2.normalized_ == [] and fb2.hash_ != fb.hash_


def test_text_source_pairs_mid_with_the_backbone_that_embedded_the_texts_whatever_the_order():
    real_img, real_txt, gen_img, gen_txt, incep, gen_incep, _ = _data()
    want = F.mid(real_img, real_txt, gen_img, gen_txt, reduction="none")
    for order in (("inception", "clip"), ("clip", "inception")):
        imgs = {"clip": real_img, "inception": incep}
        gimgs = {"clip": gen_img, "inception": gen_incep}
        fb = FeatureBuilder(groups=BASE, pca_components=4, gmm_components=None).fit(
            embedded({s: imgs[s] for s in order}, real_txt, "clip"))
        fm = fb.transform(embedded({s: gimgs[s] for s in order}, gen_txt, "clip"))
        np.testing.assert_allclose(fm.column("mid_pmi"), want, rtol=1e-10)
        assert fb.text_source_ == fb.mid_image_source_ == "clip"
    with pytest.raises(ConfigError, match="pass text_source"):
        FeatureBuilder().fit(embedded({"inception": incep, "clip": real_img}, real_txt, None))
    with pytest.raises(ConfigError, match="mid_image_source"):  # texts from a text-only encoder
        FeatureBuilder().fit(embedded({"inception": incep}, real_txt, "text-minilm"))
    fb = FeatureBuilder(groups=BASE, mid_image_source="inception", gmm_components=None, pca_components=2).fit(
        embedded({"inception": incep}, real_txt, "text-minilm"))
    fm = fb.transform(embedded({"inception": gen_incep}, gen_txt, "text-minilm"))
    assert "clip_score" not in fm.names  # no shared image-text space: no CLIPScore
    np.testing.assert_allclose(fm.column("mid_pmi"), F.mid(incep, real_txt, gen_incep, gen_txt, reduction="none"),
                               rtol=1e-10)
    with pytest.raises(ConfigError, match="embedded by 'clip'"):
        fb.transform(embedded({"inception": gen_incep}, gen_txt, "clip"))


def _fid_formula(a, b):
    """Heusel et al. FID straight from the definition (scipy sqrtm), independent of judgenet."""
    m1, m2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_set_metrics_use_raw_features_and_say_what_they_are():
    real_img, real_txt, gen_img, gen_txt, incep, gen_incep, gens = _data()
    fb, gen, _ = _fit(groups=("set",), kid_subsets=5)
    fm = fb.transform(gen, generators=gens)
    assert fm.leaky == fm.names
    assert set_metric_names("inception")["fd"] == "set.fid.inception"
    assert set_metric_names("clip")["fd"] == "set.fd.clip" and set_metric_names("clip")["kd"] == "set.kd.clip"
    assert {"set.mid", "set.fid.inception", "set.kid.inception", "set.fd.clip", "set.kd.clip",
            "set.precision.clip", "set.recall.inception"} <= set(fm.names)
    for g in np.unique(gens):
        idx = gens == g
        for name in fm.names:
            assert np.all(fm.column(name)[idx] == fm.column(name)[idx][0])
        i = np.flatnonzero(idx)[0]
        assert fm.column("set.fid.inception")[i] == pytest.approx(_fid_formula(incep, gen_incep[idx]), rel=1e-8)
        assert fm.column("set.fid.inception")[i] == pytest.approx(F.fid(incep, gen_incep[idx]), rel=1e-10)
        # CLIP: clean-fid's CLIP-FID convention, raw (not L2-normalized) embeddings
        assert fm.column("set.fd.clip")[i] == pytest.approx(_fid_formula(real_img, gen_img[idx]), rel=1e-8)
        assert fm.column("set.kid.inception")[i] == pytest.approx(
            F.kid(incep, gen_incep[idx], subsets=5, subset_size=int(idx.sum()), seed=0)[0], rel=1e-10)
        assert (fm.column("set.precision.inception")[i], fm.column("set.recall.inception")[i]) == pytest.approx(
            F.precision_recall(incep, gen_incep[idx], k=3))
        # CLIP's realism features are L2-normalized, its set metrics raw: the reference radii of the raw rows
        assert (fm.column("set.precision.clip")[i], fm.column("set.recall.clip")[i]) == pytest.approx(
            F.precision_recall(real_img, gen_img[idx], k=3))
        assert fm.column("set.mid")[i] == pytest.approx(F.mid(real_img, real_txt, gen_img[idx], gen_txt[idx]),
                                                        rel=1e-9)
    with pytest.raises(ConfigError, match="generators"):
        fb.transform(gen)


def test_heldout_generator_never_changes_other_items_features():
    fb, gen, gens = _fit()
    base = fb.transform(gen)
    held = gens == "g3"
    imgs = {s: a.copy() for s, a in gen.images.items()}
    imgs["clip"][held] = np.random.default_rng(9).normal(size=(held.sum(), 8)) * 5
    imgs["inception"][held] += 3.0
    changed = fb.transform(embedded(imgs, gen.texts, "clip"))
    # Other rows go through the same math in a batch of other contents: BLAS may block it differently (1 ulp on
    # AVX-512 OpenBLAS kernels), so equal to 1e-12, not bit for bit.
    np.testing.assert_allclose(changed.X[~held], base.X[~held], rtol=1e-12, atol=1e-12)
    assert not np.allclose(base.X[held], changed.X[held])


def test_unusable_rows_are_skipped_at_fit_and_nan_at_transform():
    real_img, real_txt, gen_img, gen_txt, incep, gen_incep, gens = _data()
    fb, gen, _ = _fit()
    base = fb.transform(gen)
    bad_real = {"clip": np.vstack([real_img, np.full((2, 8), np.nan)]), "inception": np.vstack([incep, np.zeros((2, 12))])}
    fb2 = clone(fb).fit(embedded(bad_real, np.vstack([real_txt, np.zeros((2, 8))]), "clip"))
    assert fb2.hash_ == fb.hash_ and fb2.n_real_ == 300  # the unusable rows are left out
    imgs = {s: a.copy() for s, a in gen.images.items()}
    imgs["inception"][5] = np.nan
    texts = gen.texts.copy()
    texts[7] = np.nan  # an item without a prompt
    fm = fb.transform(embedded(imgs, texts, "clip"))
    assert np.isnan(fm.X[5]).all()
    align = [fm.names.index(n) for n in fm.groups["alignment"]]
    assert np.isnan(fm.X[7, align]).all() and not np.isnan(np.delete(fm.X[7], align)).any()
    keep = np.setdiff1d(np.arange(120), [5, 7])
    # same math, other rows in the batch: 7 of 3,776 values differed by 1 ulp on an AMD EPYC (AVX-512 kernels)
    np.testing.assert_allclose(fm.X[keep], base.X[keep], rtol=1e-12, atol=1e-12)
    ok = np.ones(120, bool)
    ok[9] = False  # Embedded.ok marks an unreadable image
    e = embedded(gen.images, gen.texts, "clip")
    e.ok = ok
    assert np.isnan(fb.transform(e).X[9]).all()
    e.ok = np.zeros(0, bool)  # Embedded's default: not recorded
    np.testing.assert_array_equal(fb.transform(e).X, base.X)


def test_alignment_skipped_without_real_texts_and_needs_generated_texts():
    real_img, real_txt, gen_img, *_ = _data()
    fb = FeatureBuilder(pca_components=3, gmm_components=None).fit(embedded({"clip": real_img}))
    fm = fb.transform(embedded({"clip": gen_img}))
    assert "alignment" not in fm.groups and all(not n.startswith("mid") for n in fm.names)
    fb = FeatureBuilder(pca_components=3, gmm_components=None).fit(embedded({"clip": real_img}, real_txt, "clip"))
    with pytest.raises(ConfigError, match="text embeddings"):
        fb.transform(embedded({"clip": gen_img}))
    fm = fb.set_params(groups=("realism",)).transform(embedded({"clip": gen_img}))
    assert all(n.startswith("realism.") for n in fm.names)


def test_save_load_round_trip_fingerprints_and_corruption(tmp_path):
    fp = {"clip": {"backbone": "x", "weights_sha256": "abc"}, "inception": {"backbone": "i"}}
    real_img, real_txt, gen_img, gen_txt, incep, gen_incep, gens = _data()
    fb = FeatureBuilder(pca_components=3, gmm_components=2, groups=("alignment", "realism", "activations", "set"),
                        kid_subsets=3).fit(embedded({"clip": real_img, "inception": incep}, real_txt, "clip", fp))
    fb.save(tmp_path / "ref")
    back = FeatureBuilder.load(tmp_path / "ref", expected_fingerprints=fp)
    assert back.hash_ == fb.hash_ and back.get_params() == fb.get_params()
    gen = embedded({"clip": gen_img, "inception": gen_incep}, gen_txt, "clip")
    np.testing.assert_array_equal(back.transform(gen, generators=gens).X, fb.transform(gen, generators=gens).X)
    with pytest.raises(ArtifactError, match="different backbone"):
        FeatureBuilder.load(tmp_path / "ref", expected_fingerprints={**fp, "clip": {"backbone": "y"}})
    with pytest.raises(ArtifactError, match="not among the backbones in use"):
        FeatureBuilder.load(tmp_path / "ref", expected_fingerprints={"clip": fp["clip"]})
    meta = json.loads((tmp_path / "ref" / "builder.json").read_text())
    (tmp_path / "ref" / "builder.json").write_text(json.dumps({**meta, "state": {**meta["state"], "normalized": []}}))
    with pytest.raises(ArtifactError, match="does not match the recorded"):
        FeatureBuilder.load(tmp_path / "ref")
    (tmp_path / "ref" / "builder.json").write_text(json.dumps({**meta, "format": "judgenet-builder-0"}))
    with pytest.raises(ArtifactError, match=r"builder.json: unknown feature builder format 'judgenet-builder-0'"):
        FeatureBuilder.load(tmp_path / "ref")
    (tmp_path / "ref" / "builder.json").write_text(json.dumps(meta))
    f = tmp_path / "ref" / "realstats-inception.npz"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])  # truncated
    with pytest.raises(ArtifactError, match="realstats-inception.npz"):
        FeatureBuilder.load(tmp_path / "ref")
    f.unlink()
    with pytest.raises(ArtifactError, match="realstats-inception.npz: missing"):
        FeatureBuilder.load(tmp_path / "ref")
    with pytest.raises(ArtifactError, match="not a judgenet feature builder"):
        FeatureBuilder.load(tmp_path / "nowhere")


# ---------------------------------------------------------------------------------------------
# sklearn contract
# ---------------------------------------------------------------------------------------------
def test_clone_params_and_pipeline():
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline

    fb, gen, _ = _fit()
    c = clone(fb)
    assert c.get_params() == fb.get_params() and not hasattr(c, "hash_")
    assert c.set_params(k=5).k == 5 and fb.k == 3
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = X[:, 0] + 0.1 * rng.normal(size=60)
    pipe = Pipeline([("features", FeatureBuilder(groups=("realism", "activations"), pca_components=2,
                                                 gmm_components=2)), ("model", Ridge())]).fit(X, y)
    assert pipe.predict(X).shape == (60,)
    out = pipe.named_steps["features"].transform(X)
    assert isinstance(out, np.ndarray) and out.shape[1] == len(pipe.named_steps["features"].get_feature_names_out())


@pytest.mark.filterwarnings("ignore")
def test_sklearn_check_estimator_on_array_input():
    from sklearn.utils.estimator_checks import check_estimator

    est = FeatureBuilder(groups=("realism", "activations"), pca_components=2, gmm_components=None, k=2)
    # every check must pass; sklearn's toy data for the 1-sample check cannot fit k-NN realism statistics
    results = check_estimator(est, on_fail=None, expected_failed_checks={})
    failed = [r for r in results if r["status"] == "failed"]
    assert not failed, [(r["check_name"], str(r["exception"])[:200]) for r in failed]


def test_degenerate_or_small_reference_fails_with_the_fix(caplog):
    real_img, real_txt, *_ = _data()
    copies = np.repeat(real_img[:1], 50, axis=0)
    with pytest.raises(ConfigError, match="only 1 distinct embedding.*varied reference"):
        FeatureBuilder().fit(embedded({"clip": copies}))
    from judgenet.errors import NumericalError

    with pytest.raises(NumericalError, match="--mid-eps"):  # N=12 pairs < D_img + D_text: MID singular
        FeatureBuilder(gmm_components=None, pca_components=2).fit(embedded({"clip": real_img[:12]}, real_txt[:12],
                                                                           "clip"))
    fb = FeatureBuilder(gmm_components=None, pca_components=2, mid_eps=5e-4).fit(
        embedded({"clip": real_img[:12]}, real_txt[:12], "clip"))
    assert fb.mid_ref_ is not None
