"""The ``prompt`` and ``caption`` feature groups: the prompt embedding's axes equal sklearn's PCA fitted on the
real captions' embeddings alone, caption statistics equal hand counts, a generated prompt changes only its own
row, and save/load keeps them."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from judgenet.errors import ArtifactError, ConfigError
from judgenet.features import DEFAULT_GROUPS, FeatureBuilder, embedded
from judgenet.features.text import CAPTION_STATISTICS, caption_statistics

pytestmark = pytest.mark.usefixtures("one_thread")

GROUPS = ("alignment", "realism", "prompt", "caption")
CAPTIONS = ["two red circles to the left of a blue square",
            "A red star and a red ring, on top of 3 green crosses",
            "a picture showing an orange hexagon",
            "four purple diamonds at the bottom and one white ring at the top"]
#: counted by hand: words, numbers, relations, colours, distinct colours, conjunctions
HAND = [[10, 1, 1, 2, 2, 0],
        [13, 1, 1, 3, 2, 2],
        [6, 0, 0, 1, 1, 0],
        [13, 2, 2, 2, 2, 1]]


def _data(seed=0, n_real=200, m=40, d=6, dt=6):
    rng = np.random.default_rng(seed)
    real_img = rng.normal(size=(n_real, d))
    real_txt = real_img[:, :dt] + 0.5 * rng.normal(size=(n_real, dt))
    gen_img = rng.normal(size=(m, d)) * 1.2
    gen_txt = gen_img[:, :dt] + rng.normal(size=(m, dt)) + 0.3
    prompts = [CAPTIONS[i % len(CAPTIONS)] for i in range(m)]
    return real_img, real_txt, gen_img, gen_txt, prompts


def _builder(real_img, real_txt, k=3):
    return FeatureBuilder(groups=GROUPS, pca_components=2, prompt_components=k, gmm_components=None).fit(
        embedded({"clip": real_img}, real_txt, "clip"))


def _unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_caption_statistics_equal_hand_counts():
    got = caption_statistics(CAPTIONS + [None])
    np.testing.assert_array_equal(got[:-1], np.asarray(HAND, dtype=np.float64))
    assert np.isnan(got[-1]).all() and got.dtype == np.float64 and got.shape == (5, len(CAPTION_STATISTICS))


def test_prompt_axes_equal_sklearn_pca_fitted_on_the_real_captions_only():
    real_img, real_txt, gen_img, gen_txt, prompts = _data()
    fb = _builder(real_img, real_txt)
    fm = fb.transform(embedded({"clip": gen_img}, gen_txt, "clip"), prompts=prompts)
    ours = fm.select(["prompt"]).X
    assert fm.groups["prompt"] == ["prompt.pc0", "prompt.pc1", "prompt.pc2"]
    ref = PCA(n_components=3, svd_solver="full").fit(_unit(real_txt)).transform(_unit(gen_txt))
    signs = np.sign((ours * ref).sum(axis=0))  # an axis's sign is a convention: ours is fixed, sklearn's flips
    np.testing.assert_allclose(ours, ref * signs, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(fm.select(["caption"]).X, caption_statistics(prompts))
    assert fm.groups["caption"] == [f"caption.{n}" for n in CAPTION_STATISTICS]


def test_a_generated_prompt_changes_only_its_own_row():
    real_img, real_txt, gen_img, gen_txt, prompts = _data()
    fb = _builder(real_img, real_txt)
    before = fb.transform(embedded({"clip": gen_img}, gen_txt, "clip"), prompts=prompts)
    txt2, p2 = gen_txt.copy(), list(prompts)
    txt2[7] = -3 * txt2[7] + 1.0
    p2[7] = "three black triangles below two yellow stars and a cross"
    after = fb.transform(embedded({"clip": gen_img}, txt2, "clip"), prompts=p2)
    cols = [i for i, n in enumerate(before.names) if n.startswith(("prompt.", "caption."))]
    changed = np.flatnonzero((before.X[:, cols] != after.X[:, cols]).any(axis=1))
    assert changed.tolist() == [7]
    np.testing.assert_array_equal(np.delete(before.X, 7, axis=0), np.delete(after.X, 7, axis=0))
    # fitted on the real captions: other real captions move the axes, the generated ones never reach the fit
    other = _builder(real_img, real_txt + np.random.default_rng(1).normal(size=real_txt.shape))
    assert not np.allclose(other.text_pca_["components"], fb.text_pca_["components"])


def test_missing_prompts_and_texts_are_one_line_errors_and_nan_rows():
    real_img, real_txt, gen_img, gen_txt, prompts = _data()
    fb = _builder(real_img, real_txt)
    gen = embedded({"clip": gen_img}, gen_txt, "clip")
    with pytest.raises(ConfigError, match="needs the prompts as text"):
        fb.transform(gen)
    with pytest.raises(ConfigError, match="3 prompts for 40 items"):
        fb.transform(gen, prompts=prompts[:3])
    with pytest.raises(ConfigError, match="dimension 4 here but 6 at fit"):
        fb.set_params(groups=("prompt",)).transform(embedded({"clip": gen_img}, gen_txt[:, :4], "clip"))
    txt = gen_txt.copy()
    txt[3] = np.nan
    p = list(prompts)
    p[5] = None
    fm = fb.set_params(groups=GROUPS).transform(embedded({"clip": gen_img}, txt, "clip"), prompts=p)
    assert np.isnan(fm.select(["prompt"]).X[3]).all() and np.isfinite(np.delete(fm.select(["prompt"]).X, 3, 0)).all()
    assert np.isnan(fm.select(["caption"]).X[5]).all()
    # the input's own .prompts attribute is read when prompts= is not given
    with_prompts = embedded({"clip": gen_img}, gen_txt, "clip")
    with_prompts.prompts = prompts
    np.testing.assert_array_equal(fb.transform(with_prompts).X, fb.transform(gen, prompts=prompts).X)
    # without real captions there are no prompt axes: the group is left out (as alignment is)
    no_txt = FeatureBuilder(groups=("realism", "prompt", "caption"), gmm_components=None).fit(embedded({"clip": real_img}))
    assert list(no_txt.transform(embedded({"clip": gen_img})).groups) == ["realism"]


def test_save_load_round_trip_keeps_the_prompt_axes(tmp_path):
    real_img, real_txt, gen_img, gen_txt, prompts = _data()
    fb = _builder(real_img, real_txt)
    fb.save(tmp_path / "ref")
    back = FeatureBuilder.load(tmp_path / "ref")
    assert back.hash_ == fb.hash_ and back.get_params() == fb.get_params()
    gen = embedded({"clip": gen_img}, gen_txt, "clip")
    a, b = fb.transform(gen, prompts=prompts), back.transform(gen, prompts=prompts)
    assert a.names == b.names and "prompt.pc0" in b.names
    np.testing.assert_array_equal(a.X, b.X)
    # the axes are part of the reference's identity
    other = _builder(real_img, real_txt, k=2)
    assert other.hash_ != fb.hash_
    f = tmp_path / "ref" / "text-pca.npz"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.raises(ArtifactError, match="text-pca.npz"):
        FeatureBuilder.load(tmp_path / "ref")


def test_embed_records_the_prompts_so_the_default_groups_build_the_caption_statistics(tmp_path):
    from PIL import Image

    from judgenet.backbones import load_backbones
    from judgenet.embeddings import embed

    rng = np.random.default_rng(0)
    paths = []
    for i in range(12):
        p = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 255, size=(32, 32, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    prompts = [CAPTIONS[i % len(CAPTIONS)] + f" number {i}" for i in range(12)]
    bbs = load_backbones(["tiny"])
    emb = embed(paths, bbs, prompts=prompts, cache_dir=tmp_path / "cache", progress=False)
    assert emb.prompts == prompts and emb.subset(np.arange(12) % 3 == 0).prompts == prompts[::3]
    assert embed(paths, bbs, cache_dir=tmp_path / "cache", progress=False).prompts is None
    fb = FeatureBuilder(pca_components=2, gmm_components=None, mid_eps=5e-4).fit(emb.subset(np.arange(8)))
    assert "caption" in DEFAULT_GROUPS and "caption" in fb.groups
    fm = fb.transform(emb.subset(np.arange(8, 12)))
    np.testing.assert_array_equal(fm.select(["caption"]).X, caption_statistics(prompts[8:]))
