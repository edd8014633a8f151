"""judgenet.embeddings.embed and the backbone-name parser, through the Python API (issue 12, bugs 1-2).

Two open_clip backbones keep two sources; the texts are embedded by the first backbone with a text tower
whatever the order; unreadable images give ok=False rows. Open_clip models are 1-layer random configs saved to
local files (nothing downloaded).
"""

import numpy as np
import pytest
import torch
from PIL import Image

from judgenet.backbones import BackboneName, load_backbone, load_backbones, parse_backbone_name
from judgenet.errors import ConfigError
from judgenet.embeddings import Embedded, embed

ARCHS = {"jn-embed-a": 16, "jn-embed-b": 12}


@pytest.fixture(scope="module")
def clip_ckpts(tiny_open_clip, tmp_path_factory):
    import shutil

    d = tmp_path_factory.mktemp("embed-oc")
    out = {}
    for i, (arch, dim) in enumerate(ARCHS.items()):
        _, ckpt = tiny_open_clip(arch, seed=i, embed_dim=dim)
        out[arch] = d / ckpt.name  # both checkpoints in one weights folder
        shutil.copyfile(ckpt, out[arch])
    return d, out

@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("embed-img")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        p = d / f"im{i}.png"
        Image.fromarray(rng.integers(0, 256, (40 + 8 * i, 48, 3), dtype=np.uint8)).save(p)
        paths.append(str(p))
    bad = d / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return paths, str(bad)


@pytest.mark.parametrize("name, family, arch, tag, source", [
    ("tiny", "tiny", "tiny", None, "tiny"),
    ("tiny-random", "tiny", "tiny-random", None, "tiny"),
    ("open_clip:ViT-B-32", "open_clip", "ViT-B-32", None, "clip-ViT-B-32"),
    ("open_clip:ViT-B-32:laion2b_s34b_b79k", "open_clip", "ViT-B-32", "laion2b_s34b_b79k",
     "clip-ViT-B-32-laion2b_s34b_b79k"),
    ("inception:fid", "inception", "fid", None, "inception"),
    ("inception", "inception", "fid", None, "inception"),
    ("text:all-MiniLM-L6-v2", "text", "all-MiniLM-L6-v2", None, "text-all-MiniLM-L6-v2"),
    ("text:/models/st/my.model/", "text", "/models/st/my.model/", None, "text-my_model"),
])
def test_parse_backbone_name(name, family, arch, tag, source):
    bn = parse_backbone_name(name)
    assert isinstance(bn, BackboneName) and (bn.family, bn.arch, bn.tag, bn.source) == (family, arch, tag, source)
    assert "." not in bn.source  # feature names are <group>.<source>.<feature>


@pytest.mark.parametrize("bad", ["resnet", "open_clip:", "open_clip:A::", "text:", "clip:ViT-B-32", ""])
def test_parse_backbone_name_refuses(bad):
    with pytest.raises(ConfigError, match="backbone"):
        parse_backbone_name(bad)


def test_backbone_source_and_has_images(clip_ckpts):
    d, ck = clip_ckpts
    bb = load_backbone("open_clip:jn-embed-a:t0", weights_dir=d)
    assert bb.source == "clip-jn-embed-a-t0" and bb.has_images and bb.has_text
    assert load_backbone("open_clip:jn-embed-a", pretrained="t0", weights_dir=d).source == "clip-jn-embed-a-t0"
    assert load_backbone("open_clip:jn-embed-a", checkpoint=ck["jn-embed-a"]).source == "clip-jn-embed-a"
    inc = load_backbone("inception:fid-random")
    assert inc.source == "inception" and inc.has_images and not inc.has_text


def test_two_open_clip_backbones_keep_two_sources(clip_ckpts, images):
    d, _ = clip_ckpts
    paths, _ = images
    bbs = load_backbones(["open_clip:jn-embed-a:t0", "open_clip:jn-embed-b:t1"], weights_dir=d)
    prompts = ["a red circle", "two squares", "a dog"]
    e = embed(paths, bbs, prompts=prompts, progress=False)
    assert set(e.images) == {"clip-jn-embed-a-t0", "clip-jn-embed-b-t1"} == set(e.fingerprints)
    assert e.images["clip-jn-embed-a-t0"].shape == (3, 16) and e.images["clip-jn-embed-b-t1"].shape == (3, 12)
    assert e.images["clip-jn-embed-a-t0"].dtype == np.float64 and e.ok.all() and not e.failures
    # each source holds its own backbone's features (independent forward pass)
    for bb in bbs:
        x = torch.stack([bb.transform(Image.open(p).convert("RGB")) for p in paths])
        np.testing.assert_allclose(e.images[bb.source], bb.encode_images(x).double().numpy(), rtol=1e-5, atol=1e-6)
    # texts from the first text tower, recorded
    assert e.text_source == "clip-jn-embed-a-t0" and e.texts.shape == (3, 16)
    np.testing.assert_allclose(e.texts, bbs[0].encode_texts(prompts).double().numpy(), rtol=1e-5, atol=1e-6)
    # an explicit text backbone
    e2 = embed(paths, bbs, prompts=prompts, text_backbone="clip-jn-embed-b-t1", progress=False)
    assert e2.text_source == "clip-jn-embed-b-t1" and e2.texts.shape == (3, 12)
    with pytest.raises(ConfigError, match="not one of"):
        embed(paths, bbs, prompts=prompts, text_backbone="clip", progress=False)


def test_inception_first_still_pairs_texts_with_clip(clip_ckpts, images):
    d, ck = clip_ckpts
    paths, _ = images
    prompts = ["a", "b", "c"]
    first = load_backbones(["inception:fid-random", "open_clip:jn-embed-a"], clip_checkpoint=ck["jn-embed-a"])
    e = embed(paths[:2], first, prompts=prompts[:2], progress=False)
    assert list(e.images) == ["inception", "clip-jn-embed-a"]
    assert e.text_source == "clip-jn-embed-a"
    assert e.texts.shape[1] == e.images[e.text_source].shape[1] == 16 and e.images["inception"].shape == (2, 2048)
    with pytest.raises(ConfigError, match="no text tower"):
        embed(paths[:2], first, prompts=prompts[:2], text_backbone="inception", progress=False)
    with pytest.raises(ConfigError, match="no backbone has a text tower"):
        embed(paths[:2], first[:1], prompts=prompts[:2], progress=False)


def test_unreadable_image_gives_ok_false_rows(clip_ckpts, images):
    d, _ = clip_ckpts
    paths, bad = images
    bbs = load_backbones(["open_clip:jn-embed-a:t0", "open_clip:jn-embed-b:t1"], weights_dir=d)
    e = embed([paths[0], bad, paths[1]], bbs, prompts=["x", "y", "z"], progress=False)
    assert e.ok.tolist() == [True, False, True]
    assert [f.path for f in e.failures] == [bad]  # listed once, not once per backbone
    for a in e.images.values():
        assert np.isnan(a[1]).all() and np.isfinite(a[[0, 2]]).all()
    sub = e.subset(e.ok)
    assert isinstance(sub, Embedded) and len(sub) == 2 and sub.ok.all() and sub.texts.shape == (2, 16)


def test_load_backbones_refuses_duplicates_and_stray_options(clip_ckpts):
    d, ck = clip_ckpts
    with pytest.raises(ConfigError, match="both give the feature source 'tiny'"):
        load_backbones(["tiny", "tiny-random"])
    with pytest.raises(ConfigError, match="both give the feature source 'clip-jn-embed-a-t0'"):
        load_backbones(["open_clip:jn-embed-a:t0", "open_clip:jn-embed-a:t0"], weights_dir=d)
    with pytest.raises(ConfigError, match="clip_checkpoint.*no open_clip backbone"):
        load_backbones(["tiny"], clip_checkpoint=ck["jn-embed-a"])
    with pytest.raises(ConfigError, match="ambiguous"):
        load_backbones(["open_clip:jn-embed-a", "open_clip:jn-embed-b"], clip_checkpoint=ck["jn-embed-a"])
    with pytest.raises(ConfigError, match="resize"):
        load_backbone("tiny", resize="tf1")
    bb = load_backbone("tiny")
    with pytest.raises(ConfigError, match="source 'tiny'"):
        embed(["x.png"], [bb, bb], progress=False)


def test_world_and_backbone_tiny_give_identical_embeddings():
    from judgenet.world import load_tiny_clip

    model, preprocess, tokenizer = load_tiny_clip()
    bb = load_backbone("tiny")
    img = Image.fromarray(np.random.default_rng(3).integers(0, 256, (70, 50, 3), dtype=np.uint8))
    x = preprocess(img)[None]
    assert torch.equal(x, bb.transform(img)[None])
    with torch.no_grad():
        assert torch.equal(model.encode_image(x), bb.encode_images(x))
        assert torch.equal(model.encode_text(tokenizer(["two red squares"])), bb.encode_texts(["two red squares"]))
