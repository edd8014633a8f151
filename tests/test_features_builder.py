import numpy as np
import pytest

from judgenet.errors import ArtifactError, ConfigError
from judgenet.features.builder import FeatureReference, build_features
from judgenet.metrics import functional as F


def _data(seed=0, n_real=300, m=120, d=8, dt=8):
    rng = np.random.default_rng(seed)
    real_img = rng.normal(size=(n_real, d))
    real_txt = real_img[:, :dt] + 0.5 * rng.normal(size=(n_real, dt))
    gen_img = rng.normal(size=(m, d)) * 1.3
    gen_txt = gen_img[:, :dt] + rng.normal(size=(m, dt))
    incep = rng.normal(size=(n_real, 12))
    gen_incep = rng.normal(size=(m, 12)) + 0.2
    gens = np.repeat(["g0", "g1", "g2", "g3"], m // 4)
    return real_img, real_txt, gen_img, gen_txt, incep, gen_incep, gens


def test_columns_match_metric_functions():
    real_img, real_txt, gen_img, gen_txt, incep, gen_incep, gens = _data()
    fm, ref = build_features({"clip": real_img, "inception": incep}, {"clip": gen_img, "inception": gen_incep},
                             real_txt, gen_txt, pca_components=4, gmm_components=2)
    assert fm.X.shape[0] == 120 and fm.X.dtype == np.float64
    np.testing.assert_allclose(fm.column("mid_pmi"), F.mid(real_img, real_txt, gen_img, gen_txt, reduction="none"),
                               rtol=1e-10)
    np.testing.assert_allclose(fm.column("clip_score"), F.clip_score(gen_img, gen_txt, reduction="none"))
    assert {"alignment", "realism", "activations"} == set(fm.groups)
    assert "realism.inception.knn_dist" in fm.names and "pca.clip.3" in fm.names
    assert fm.select(["alignment"]).names == ["mid_pmi", "clip_score"]
    with pytest.raises(ConfigError, match="no feature column"):
        fm.column("nope")


def test_heldout_generator_never_changes_other_items_features():
    real_img, real_txt, gen_img, gen_txt, incep, gen_incep, gens = _data()
    ref = FeatureReference.fit({"clip": real_img, "inception": incep}, real_txt, pca_components=4, gmm_components=2)
    base = ref.transform({"clip": gen_img, "inception": gen_incep}, gen_txt)
    held = gens == "g3"
    gen_img2, gen_incep2 = gen_img.copy(), gen_incep.copy()
    gen_img2[held] = np.random.default_rng(9).normal(size=(held.sum(), gen_img.shape[1])) * 5
    gen_incep2[held] += 3.0
    changed = ref.transform({"clip": gen_img2, "inception": gen_incep2}, gen_txt)
    np.testing.assert_array_equal(base.X[~held], changed.X[~held])
    assert not np.allclose(base.X[held], changed.X[held])


def test_set_group_is_per_generator_and_marked_leaky():
    real_img, real_txt, gen_img, gen_txt, incep, gen_incep, gens = _data()
    ref = FeatureReference.fit({"clip": real_img}, real_txt, pca_components=4, gmm_components=None)
    fm = ref.transform({"clip": gen_img}, gen_txt, groups=["set"], generators=gens, kid_subsets=5)
    assert fm.leaky == fm.names and "set.mid" in fm.names
    sm = fm.column("set.mid")
    for g in np.unique(gens):
        idx = gens == g
        assert np.all(sm[idx] == sm[idx][0])
        assert sm[idx][0] == pytest.approx(F.mid(real_img, real_txt, gen_img[idx], gen_txt[idx]), rel=1e-9)
    with pytest.raises(ConfigError, match="generators"):
        ref.transform({"clip": gen_img}, gen_txt, groups=["set"])


def test_save_load_round_trip_and_fingerprint_check(tmp_path):
    real_img, real_txt, gen_img, gen_txt, incep, gen_incep, gens = _data()
    fp = {"clip": {"arch": "x", "weights": "abc"}}
    ref = FeatureReference.fit({"clip": real_img}, real_txt, pca_components=3, fingerprints=fp, gmm_components=2)
    ref.save(tmp_path / "ref")
    back = FeatureReference.load(tmp_path / "ref", fingerprints=fp)
    assert back.hash == ref.hash
    np.testing.assert_array_equal(back.transform({"clip": gen_img}, gen_txt).X,
                                  ref.transform({"clip": gen_img}, gen_txt).X)
    with pytest.raises(ArtifactError, match="different backbone"):
        FeatureReference.load(tmp_path / "ref", fingerprints={"clip": {"arch": "y"}})


def test_alignment_needs_texts():
    real_img, real_txt, gen_img, *_ = _data()
    ref = FeatureReference.fit({"clip": real_img}, real_txt, pca_components=3, gmm_components=None)
    with pytest.raises(ConfigError, match="text embeddings"):
        ref.transform({"clip": gen_img}, None)
    fm = ref.transform({"clip": gen_img}, None, groups=["realism"])
    assert all(n.startswith("realism.") for n in fm.names)
