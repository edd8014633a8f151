"""open_clip:<arch> loading from local files: tag-driven preprocessing and QuickGELU, clear errors.

Uses a 1-layer random-weight architecture registered for the test (fast, nothing downloaded).
"""
import shutil

import pytest
import torch
from PIL import Image

from judgenet.backbones import load_backbone
from judgenet.errors import ConfigError

ARCH = "jn-oc-tagtest"


@pytest.fixture(scope="module")
def arch_ckpt(tiny_open_clip):
    d, ckpt = tiny_open_clip(ARCH, seed=1)
    for tag in ("sq", "oai", "plain"):  # byte copies (torch.save embeds the file name in the archive)
        if not (d / f"{ARCH}-{tag}.pt").exists():
            shutil.copyfile(ckpt, d / f"{ARCH}-{tag}.pt")
    return d

@pytest.fixture()
def tags(monkeypatch):
    """Register open_clip pretrained tags for the test architecture (as open_clip's table does)."""
    from open_clip import pretrained as ocp

    monkeypatch.setitem(ocp._PRETRAINED, ARCH, {
        "sq": ocp._pcfg(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), resize_mode="squash", interpolation="bilinear"),
        "oai": ocp._pcfg(quick_gelu=True),
    })


def test_known_tag_sets_its_preprocessing(arch_ckpt, tags):
    plain = load_backbone(f"open_clip:{ARCH}", checkpoint=arch_ckpt / f"{ARCH}-sq.pt")  # no tag: arch defaults
    sq = load_backbone(f"open_clip:{ARCH}", pretrained="sq", weights_dir=arch_ckpt)
    pp = sq.fingerprint["preprocess"]
    assert pp["mean"] == [0.5, 0.5, 0.5] and pp["std"] == [0.5, 0.5, 0.5]
    assert pp["resize_mode"] == "squash" and pp["interpolation"] == "bilinear"
    assert plain.fingerprint["preprocess"]["resize_mode"] == "shortest"
    assert plain.fingerprint["weights_sha256"] == sq.fingerprint["weights_sha256"]
    assert plain.fingerprint_hash != sq.fingerprint_hash  # same weights, other preprocessing → other cache key
    # a white 64×16 image: squash keeps the whole frame (no crop); (1 - 0.5) / 0.5 = 1 everywhere
    x = sq.transform(Image.new("RGB", (64, 16), (255, 255, 255)))
    assert x.shape == (3, 32, 32) and torch.allclose(x, torch.ones_like(x))
    # tag + explicit checkpoint: the file comes from checkpoint, the preprocessing from the tag
    both = load_backbone(f"open_clip:{ARCH}", pretrained="sq", checkpoint=arch_ckpt / f"{ARCH}-plain.pt")
    assert both.fingerprint_hash == sq.fingerprint_hash


def test_tag_trained_with_quick_gelu_must_be_explicit(arch_ckpt, tags):
    with pytest.raises(ConfigError, match="QuickGELU.*quick_gelu=True"):
        load_backbone(f"open_clip:{ARCH}", pretrained="oai", weights_dir=arch_ckpt)
    qg = load_backbone(f"open_clip:{ARCH}", pretrained="oai", weights_dir=arch_ckpt, quick_gelu=True)
    gelu = load_backbone(f"open_clip:{ARCH}", pretrained="oai", weights_dir=arch_ckpt, quick_gelu=False)
    assert qg.fingerprint["quick_gelu"] is True and gelu.fingerprint["quick_gelu"] is False
    assert qg.fingerprint_hash != gelu.fingerprint_hash
    x = qg.transform(Image.new("RGB", (40, 40), (200, 30, 90)))[None]
    assert not torch.allclose(qg.encode_images(x), gelu.encode_images(x))


def test_quick_gelu_false_contradicting_arch(tmp_path):
    with pytest.raises(ConfigError, match="contradicts"):
        load_backbone("open_clip:ViT-B-32-quickgelu", checkpoint=tmp_path / "x.pt", quick_gelu=False)


def test_checkpoint_of_another_architecture_is_a_clear_error(arch_ckpt, tmp_path):
    state = torch.load(arch_ckpt / f"{ARCH}-sq.pt", weights_only=True)
    state["text_projection"] = torch.zeros(16, 8)  # another embed_dim
    bad = tmp_path / "other.pt"
    torch.save(state, bad)
    with pytest.raises(ConfigError, match="do not fit this architecture"):
        load_backbone(f"open_clip:{ARCH}", checkpoint=bad)


def test_tag_in_the_backbone_name(arch_ckpt, tags):
    by_name = load_backbone(f"open_clip:{ARCH}:sq", weights_dir=arch_ckpt)
    by_arg = load_backbone(f"open_clip:{ARCH}", pretrained="sq", weights_dir=arch_ckpt)
    assert by_name.fingerprint_hash == by_arg.fingerprint_hash
    assert by_name.fingerprint["preprocess"]["resize_mode"] == "squash"
    with pytest.raises(ConfigError, match="give the tag once"):
        load_backbone(f"open_clip:{ARCH}:sq", pretrained="oai", weights_dir=arch_ckpt)
    with pytest.raises(ConfigError, match="QuickGELU"):
        load_backbone(f"open_clip:{ARCH}:oai", weights_dir=arch_ckpt)
