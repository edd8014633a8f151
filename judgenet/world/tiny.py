"""Where the tiny CLIP-style encoder trained on the world lives, and a reference loader.

Contract with :mod:`judgenet.backbones` (backbone name ``tiny``): ``judgenet/assets/tiny-clip.json``
is an open_clip model config (model name ``tiny-clip``) with an extra top-level
``preprocess_cfg`` (size, mean, std, interpolation, resize_mode) that reproduces the training
preprocessing; ``judgenet/assets/tiny-clip.pt`` is a plain ``state_dict`` of float16 tensors
(cast to float32 on load).

open_clip passes every top-level key of a registered model config to ``CLIP(**cfg)``, so the
``preprocess_cfg`` key must be removed before the config is registered; :func:`load_tiny_clip`
does this by registering a stripped copy, and is the tested reference for the loader.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from ..errors import WeightsNotFoundError

__all__ = ["tiny_clip_paths", "load_tiny_clip", "MODEL_NAME"]

MODEL_NAME = "tiny-clip"


def tiny_clip_paths(assets_dir: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """``(config_json, state_dict_pt)`` of the shipped tiny encoder; raises if missing."""
    d = Path(assets_dir) if assets_dir is not None else Path(__file__).resolve().parent.parent / "assets"
    cfg, pt = d / f"{MODEL_NAME}.json", d / f"{MODEL_NAME}.pt"
    for p in (cfg, pt):
        if not p.is_file():
            raise WeightsNotFoundError(
                f"tiny encoder file missing: expected {p}; rebuild it with "
                f"`python -m training.tiny_clip --config training/tiny_clip.json --out {d}`"
            )
    return cfg, pt


def load_tiny_clip(assets_dir: str | os.PathLike | None = None):
    """Build the tiny encoder through open_clip, offline. Returns ``(model, preprocess, tokenizer)``.

    The model is in eval mode, float32, on CPU; ``preprocess`` is open_clip's inference transform
    built from the JSON's ``preprocess_cfg``.
    """
    import open_clip
    import torch
    from open_clip.transform import PreprocessCfg, image_transform_v2

    cfg_path, pt_path = tiny_clip_paths(assets_dir)
    cfg = json.loads(cfg_path.read_text())
    pp = cfg.pop("preprocess_cfg")
    reg = Path(tempfile.gettempdir()) / f"judgenet-open-clip-{os.getpid()}"
    reg.mkdir(exist_ok=True)
    (reg / f"{MODEL_NAME}.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(reg / f"{MODEL_NAME}.json")
    model = open_clip.create_model(MODEL_NAME, pretrained=None, force_preprocess_cfg=pp)
    state = torch.load(pt_path, map_location="cpu", weights_only=True)
    model.load_state_dict({k: v.float() for k, v in state.items()})
    model.eval()
    preprocess = image_transform_v2(PreprocessCfg(**model.visual.preprocess_cfg), is_train=False)
    tokenizer = open_clip.get_tokenizer(MODEL_NAME)
    return model, preprocess, tokenizer
