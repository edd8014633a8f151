"""The tiny CLIP-style encoder: the recipe runs, the export loads through open_clip offline with the
training preprocessing, and the shipped checkpoint matches its recorded fingerprint and retrieves
held-out world captions far above chance. (World data and encoder are simulated / built-in.)"""
from __future__ import annotations

import copy
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from training import tiny_clip as tc  # noqa: E402
from judgenet.world import load_tiny_clip, tiny_clip_paths  # noqa: E402

ASSETS = ROOT / "judgenet" / "assets"
RESULTS = ROOT / "training" / "tiny_clip_results.json"

TINY = {
    "seed": 0,
    "model_name": "tiny-clip-test",
    "model": {
        "embed_dim": 16,
        "vision_cfg": {"image_size": 64, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
        "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
    },
    "preprocess": {"size": 64, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25],
                   "interpolation": "bicubic", "resize_mode": "squash"},
    "data": {"n_train": 48, "image_size": 64, "hard_negatives": True},
    "train": {"batch_size": 16, "lr": 0.001, "weight_decay": 0.1, "warmup_steps": 2, "max_steps": 4,
              "time_budget_s": 60, "budget_clock": "wall", "threads": 1, "log_every": 2},
    "eval": {"seed": 3, "n_heldout": 40, "pool": 20},
}


def test_recipe_runs_and_exports(tmp_path):
    cfg = copy.deepcopy(TINY)
    model, tok, info = tc.train(cfg, tmp_path / "work", log=lambda *a, **k: None)
    assert info["steps"] == 4 and np.isfinite(info["final_loss"])
    metrics = tc.evaluate(model, tok, cfg)
    for k in ("i2t_r1", "i2t_r5", "t2i_r1", "t2i_r5", "swap_acc"):
        assert 0.0 <= metrics[k] <= 1.0
    files = tc.export(model, cfg, tmp_path / "assets")
    assert files["checkpoint_bytes"] > 0
    # the exported pair follows the backbone contract: model cfg + preprocess_cfg, fp16 state_dict
    (tmp_path / "assets" / "tiny-clip.json").write_bytes((tmp_path / "assets" / "tiny-clip-test.json").read_bytes())
    (tmp_path / "assets" / "tiny-clip.pt").write_bytes((tmp_path / "assets" / "tiny-clip-test.pt").read_bytes())
    state = torch.load(tmp_path / "assets" / "tiny-clip.pt", weights_only=True)
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())
    loaded, preprocess, tokenizer = load_tiny_clip(tmp_path / "assets")
    img = tc.make_dataset(4, 9, 11)[1]
    with torch.no_grad():
        a = model.encode_image(tc.to_tensor(img, cfg))
        b = loaded.encode_image(torch.stack([preprocess(Image.fromarray(x)) for x in img]))
    assert torch.allclose(a, b, atol=0.05, rtol=0.05)  # fp16 storage rounding only


def test_shipped_files_and_fingerprint():
    cfg_path, pt_path = tiny_clip_paths()
    assert pt_path.stat().st_size <= 20 * 1024 * 1024
    cfg = json.loads(cfg_path.read_text())
    assert {"embed_dim", "vision_cfg", "text_cfg", "preprocess_cfg"} <= set(cfg)
    assert set(cfg["preprocess_cfg"]) == {"size", "mean", "std", "interpolation", "resize_mode"}
    results = json.loads(RESULTS.read_text())
    assert hashlib.sha256(pt_path.read_bytes()).hexdigest() == results["export"]["checkpoint_sha256"]
    assert results["config"]["model"] == {k: v for k, v in cfg.items() if k != "preprocess_cfg"}
    state = torch.load(pt_path, map_location="cpu", weights_only=True)
    assert isinstance(state, dict) and all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())


def test_open_clip_transform_reproduces_training_preprocessing():
    _, preprocess, _ = load_tiny_clip()
    cfg = json.loads(RESULTS.read_text())["config"]
    img = tc.make_dataset(3, 5, 11)[1]
    ours = tc.to_tensor(img, cfg)
    theirs = torch.stack([preprocess(Image.fromarray(x)) for x in img])
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_shipped_checkpoint_retrieval_well_above_chance():
    model, _, tokenizer = load_tiny_clip()
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    cfg = json.loads(RESULTS.read_text())["config"]
    cfg = copy.deepcopy(cfg)
    cfg["eval"] = {"seed": 20240, "n_heldout": 200, "pool": 100}  # fresh held-out scenes
    m = tc.evaluate(model, tokenizer, cfg)
    assert m["i2t_r1"] > 0.25 and m["t2i_r1"] > 0.25, m  # chance: 0.01
    assert m["i2t_r5"] > 0.5 and m["t2i_r5"] > 0.5, m  # chance: 0.05
    assert m["swap_acc"] > 0.65, m  # chance: 0.5


def test_lazy_tiny_fingerprint_equals_the_built_models_and_cached_runs_never_build_it(tmp_path):
    """The tiny backbone's fingerprint is computed without open_clip; it must equal the one the built network gives
    (open_clip's preprocessing config, its version) — else a warm run would miss every cached feature."""

    from judgenet.backbones import load_backbone
    from judgenet.backbones.open_clip import preprocess_fingerprint as _preprocess_fp
    from judgenet.embeddings import extract

    bb = load_backbone("tiny")
    assert bb._build is not None  # not built yet
    fp = dict(bb.fingerprint)
    assert fp["preprocess"] == _preprocess_fp(bb.model)  # builds it: the eager definition
    import open_clip
    import torchvision

    assert fp["open_clip"] == open_clip.__version__
    assert fp["torchvision"] == torchvision.__version__.split("+")[0]
    # a second backbone whose features are all cached is never built
    for i in range(3):
        Image.new("RGB", (16, 16), (40 * i, 10, 200)).save(tmp_path / f"{i}.png")
    paths = [str(tmp_path / f"{i}.png") for i in range(3)]
    first = extract(paths, bb, cache_dir=tmp_path / "c", progress=False)
    again = load_backbone("tiny")
    assert again.fingerprint_hash == bb.fingerprint_hash
    second = extract(paths, again, cache_dir=tmp_path / "c", progress=False)
    assert again._build is not None  # cache hit: the network was not built
    np.testing.assert_array_equal(first.images["embedding"], second.images["embedding"])
