"""The procedural world (simulated): determinism, generators, severity monotonicity, caching."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from judgenet.world import (
    GENERATORS,
    caption_variants,
    describe,
    load_world,
    make_world,
    prompt_scene,
    real_scene,
    render,
    sample_caption,
    sample_scene,
    swap_attribute,
)
from judgenet.world.generators import WorldContext
from judgenet.world.scenes import alignment

SMALL = dict(n_real=12, n_per_generator=3, severities=(0.3, 0.9), seed=3)

REALISM_GENERATORS = ["blur", "noise", "jpeg", "checkerboard", "color_cast", "texture_incoherence", "sloppy"]
ALIGNMENT_GENERATORS = ["attribute_swap", "wrong_count", "flipped_relation", "memorized", "mode_collapse", "sloppy"]


def _digest(root):
    h = hashlib.sha256()
    h.update((root / "manifest.jsonl").read_bytes())
    for p in sorted((root / "images").glob("*.png")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes(tmp_path):
    a = make_world(tmp_path / "a", **SMALL)
    b = make_world(tmp_path / "b", **SMALL)
    assert len(a) == 12 + len(GENERATORS) * 2 * 3
    assert _digest(a.root) == _digest(b.root)
    c = make_world(tmp_path / "c", **{**SMALL, "seed": 4})
    assert _digest(c.root) != _digest(a.root)


def test_render_is_pure_function_of_scene():
    sc = sample_scene(np.random.default_rng(5))
    again = json.loads(json.dumps(sc))
    assert np.array_equal(render(sc), render(again))
    img = render(sc)
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    # anti-aliased edges: intermediate values exist between object and background
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 20


def test_scene_grammar_and_counts():
    for i in range(200):
        sc = sample_scene(np.random.default_rng([1, i]))
        n = len(sc["objects"])
        assert 1 <= n <= 4
        assert n == sum(g["count"] for g in sc["groups"])
        assert alignment(sc, sc) == 1.0
        caps = caption_variants(sc)
        assert len(caps) >= 3, caps  # several phrasings per scene
        for g in sc["groups"]:
            assert any(g["color"] in c and g["shape"] in c for c in caps)
        if sc["relation"] is not None:
            assert len(sc["groups"]) == 2
            assert sc["groups"][0] != sc["groups"][1]
    cap, v = sample_caption(sample_scene(np.random.default_rng(0)), np.random.default_rng(1))
    assert isinstance(cap, str) and cap


def test_swap_attribute_makes_false_caption():
    for i in range(100):
        sc = sample_scene(np.random.default_rng([2, i]))
        groups, kind = swap_attribute(sc, np.random.default_rng(i))
        assert kind in ("color", "shape")
        a = describe(sc["groups"], sc["relation"], sc["background"]["color"], 17)
        b = describe(groups, sc["relation"], sc["background"]["color"], 17)
        assert a != b
        swapped = {**sc, "groups": groups}
        assert alignment(swapped, sc) < 1.0


def test_registry():
    assert len(GENERATORS) >= 10
    for name in ["near_perfect", "attribute_swap", "wrong_count", "flipped_relation", "blur", "noise", "jpeg",
                 "checkerboard", "color_cast", "texture_incoherence", "mode_collapse", "memorized"]:
        assert name in GENERATORS
        g = GENERATORS[name]
        assert g.name == name and g.description
    with pytest.raises(ValueError):
        GENERATORS["blur"].generate(prompt_scene(0, 0), 1.5, np.random.default_rng(0))


def _means(name, severities, n=60):
    ctx = WorldContext(real_scenes=[real_scene(0, i) for i in range(100)], seed=0)
    out = []
    for s in severities:
        r, a = [], []
        for j in range(n):
            o = GENERATORS[name].generate(prompt_scene(0, j), s, np.random.default_rng([j, 11]), ctx)
            assert o.image.shape == (64, 64, 3) and o.image.dtype == np.uint8
            assert 0.0 <= o.true_realism <= 1.0 and 0.0 <= o.true_alignment <= 1.0
            r.append(o.true_realism)
            a.append(o.true_alignment)
        out.append((np.mean(r), np.mean(a)))
    return np.array(out)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_severity_monotone(name):
    sev = [0.0, 0.33, 0.66, 1.0]
    m = _means(name, sev)
    # no latent quality improves with severity (common random numbers per item)
    assert np.all(np.diff(m[:, 0]) <= 1e-9), m
    assert np.all(np.diff(m[:, 1]) <= 0.02), m
    if name in REALISM_GENERATORS:
        assert m[0, 0] - m[-1, 0] > 0.3, m
    if name in ALIGNMENT_GENERATORS:
        assert m[0, 1] - m[-1, 1] > 0.1, m
    if name not in ALIGNMENT_GENERATORS:
        assert m[-1, 1] > 0.9, m  # realism-only profiles keep the content
    if name in ("attribute_swap", "wrong_count", "flipped_relation", "memorized"):
        assert m[-1, 0] == 1.0  # clean renderings


def test_zero_severity_is_clean():
    sc = prompt_scene(0, 1)
    for name in ["blur", "noise", "jpeg", "checkerboard", "color_cast", "texture_incoherence", "attribute_swap"]:
        o = GENERATORS[name].generate(sc, 0.0, np.random.default_rng(0))
        assert np.array_equal(o.image, render(sc)), name
        assert o.true_alignment == 1.0


def test_memorized_copies_real_pixels():
    reals = [real_scene(0, i) for i in range(30)]
    ctx = WorldContext(real_scenes=reals, seed=0)
    o = GENERATORS["memorized"].generate(prompt_scene(0, 0), 1.0, np.random.default_rng(0), ctx)
    assert any(np.array_equal(o.image, render(r)) for r in reals)


def test_manifest_and_cache(tmp_path):
    root = tmp_path / "w"
    w = make_world(root, **SMALL)
    m = w.manifest
    for col in ["item_id", "path", "image", "prompt", "prompt_id", "generator", "severity", "true_realism",
                "true_alignment", "scene", "prompt_scene", "simulated", "sha256"]:
        assert col in m.columns
    assert m["item_id"].is_unique and m["simulated"].all()
    assert set(m["generator"]) == set(GENERATORS) | {"real"}
    real = m[m.generator == "real"]
    assert (real.true_realism == 1.0).all() and (real.true_alignment == 1.0).all()
    # same prompt for item j of every generator and severity
    gen = m[m.generator != "real"]
    assert gen.groupby("prompt_id")["prompt"].nunique().max() == 1
    assert gen.groupby("prompt_id")["generator"].nunique().min() == len(GENERATORS)
    im = Image.open(m["path"].iloc[0])
    assert im.size == (64, 64) and im.mode == "RGB"
    meta = json.loads((root / "world.json").read_text())
    assert meta["simulated"] is True
    # cached: second call reuses (no rewrite)
    mt = (root / "manifest.jsonl").stat().st_mtime_ns
    w2 = make_world(root, **SMALL)
    assert (root / "manifest.jsonl").stat().st_mtime_ns == mt
    assert w2.manifest.equals(w.manifest)
    assert load_world(root).manifest.equals(w.manifest)
    # different arguments rebuild in place
    w3 = make_world(root, **{**SMALL, "n_real": 5})
    assert (w3.manifest.generator == "real").sum() == 5
    assert len(list((root / "images").glob("*.png"))) == len(w3)
    # a missing image invalidates the cache
    (root / "images" / "real-00000.png").unlink()
    w4 = make_world(root, **{**SMALL, "n_real": 5})
    assert (root / "images" / "real-00000.png").is_file() and len(w4) == len(w3)


@pytest.mark.parametrize("damage", ["truncate", "flip_byte", "swap"])
def test_corrupt_cached_image_is_detected_and_regenerated(tmp_path, damage, caplog):
    """Issue 17 item 8: completeness was checked by file count only. Every image is now checked
    against the SHA-256 recorded in the manifest (computed independently here with hashlib)."""
    import hashlib
    import logging

    root = tmp_path / "w"
    w = make_world(root, **SMALL)
    for p, h in zip(w.manifest["path"], w.manifest["sha256"]):
        assert hashlib.sha256(open(p, "rb").read()).hexdigest() == h
    victim = root / "images" / f"{w.manifest.item_id.iloc[3]}.png"
    good = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(good[: len(good) // 2])
    elif damage == "flip_byte":
        victim.write_bytes(good[:-20] + bytes([good[-20] ^ 0xFF]) + good[-19:])
    else:  # same size, valid PNG, wrong content: another item's image
        other = root / "images" / f"{w.manifest.item_id.iloc[-1]}.png"
        victim.write_bytes(other.read_bytes())
    with caplog.at_level(logging.WARNING, logger="judgenet.world.dataset"):
        w2 = make_world(root, **SMALL)
    assert victim.read_bytes() == good and w2.manifest.equals(w.manifest)
    assert "missing or damaged" in caplog.text and victim.name in caplog.text


def test_bad_arguments(tmp_path):
    from judgenet.errors import ConfigError

    with pytest.raises(ConfigError):
        make_world(tmp_path, n_real=1, n_per_generator=1, severities=(1.2,))
    with pytest.raises(ConfigError):
        make_world(tmp_path, n_real=1, n_per_generator=1, size=32)
    with pytest.raises(ConfigError, match="unknown generator .nope.; known: "):
        make_world(tmp_path, n_real=1, n_per_generator=1, generators=["nope"])


def test_size_128(tmp_path):
    w = make_world(tmp_path, n_real=2, n_per_generator=1, generators=["blur"], severities=(0.5,), size=128)
    assert Image.open(w.manifest["path"].iloc[-1]).size == (128, 128)


def test_refuses_to_delete_foreign_images(tmp_path):
    from judgenet.errors import ConfigError

    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "mine.png").write_bytes(b"x")
    with pytest.raises(ConfigError, match="refusing"):
        make_world(tmp_path, n_real=1, n_per_generator=1, generators=["blur"], severities=(0.5,))
    assert (tmp_path / "images" / "mine.png").is_file()
