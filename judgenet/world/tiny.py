"""Where the tiny CLIP-style encoder trained on the world lives, and a reference loader.

Contract with :mod:`judgenet.backbones` (backbone name ``tiny``): ``judgenet/assets/tiny-clip.json``
is an open_clip model config (model name ``tiny-clip``) with an extra top-level
``preprocess_cfg`` (size, mean, std, interpolation, resize_mode) that reproduces the training
preprocessing; ``judgenet/assets/tiny-clip.pt`` is a plain ``state_dict`` of float16 tensors
(cast to float32 on load).

open_clip passes every top-level key of a registered model config to ``CLIP(**cfg)``, so the
``preprocess_cfg`` key must be removed before the config is registered. :func:`load_tiny_clip`
returns the pieces of :func:`judgenet.backbones.tiny.load_tiny` (the one loader).
"""
from __future__ import annotations

import os
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
    built from the JSON's ``preprocess_cfg``. Loading is :func:`judgenet.backbones.tiny.load_tiny`'s
    (one implementation); unlike it, a missing file is an error here, never a random stand-in.
    """
    from ..backbones.tiny import load_tiny

    tiny_clip_paths(assets_dir)  # both files must exist
    bb = load_tiny(assets_dir=assets_dir)
    return bb.model, bb.transform, bb.tokenizer
