"""The built-in ``tiny`` image–text encoder, read straight from ``judgenet/assets``.

``judgenet/assets/tiny-clip.json`` is an open_clip model config (model name ``tiny-clip``) with an
extra top-level ``preprocess_cfg`` (size, mean, std, interpolation, resize_mode) reproducing the
training preprocessing; ``judgenet/assets/tiny-clip.pt`` is a plain ``state_dict`` of float16
tensors, cast to float32 on load. open_clip passes every top-level config key to ``CLIP(**cfg)``,
so ``preprocess_cfg`` is stripped before the config is registered. This is the one loader of the
tiny encoder: ``judgenet.world.load_tiny_clip`` calls :func:`load_tiny` (the world sits above the
backbones and may import them, never the reverse).

If the checkpoint is missing (or ``force_random``), a fixed-seed (0) random initialization of the
same architecture stands in. It is *named* ``tiny-random`` (name, fingerprint ``weights_sha256 =
"random-seed-0"``) and a ``UserWarning`` is emitted, so its numbers are never mistaken for the
trained encoder's.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

from ..errors import WeightsNotFoundError
from .base import Backbone, file_sha256
from .open_clip import clip_forward, clip_text

__all__ = ["load_tiny", "MODEL_NAME", "ASSETS"]

MODEL_NAME = "tiny-clip"
#: the package's asset folder: ``tiny-clip.json`` and ``tiny-clip.pt``
ASSETS = Path(__file__).resolve().parent.parent / "assets"

# Architecture of the stand-in used only when even the shipped tiny-clip.json is absent.
_TINY_FALLBACK_CFG = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": 64, "layers": 4, "width": 128, "head_width": 32, "patch_size": 8, "mlp_ratio": 4.0},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 4, "layers": 3},
    "preprocess_cfg": {"size": 64, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "interpolation": "bicubic",
                       "resize_mode": "squash"},
}


def _register(cfg: dict) -> None:
    import open_clip

    from ..io import atomic_write_text

    reg = Path(tempfile.gettempdir()) / f"judgenet-open-clip-{os.getpid()}"
    reg.mkdir(exist_ok=True)
    atomic_write_text(reg / f"{MODEL_NAME}.json", json.dumps(cfg))
    open_clip.add_model_config(reg / f"{MODEL_NAME}.json")


#: open_clip's ``PreprocessCfg`` defaults for the keys the tiny config does not set: the fingerprint of a lazy
#: backbone is computed without importing open_clip (tested equal to the fingerprint of the built model).
_OPEN_CLIP_PREPROCESS_DEFAULTS = {"mode": "RGB", "fill_color": 0}


def _preprocess_fingerprint(pp: dict) -> dict:
    keys = ("size", "mode", "mean", "std", "interpolation", "resize_mode", "fill_color")
    full = {**_OPEN_CLIP_PREPROCESS_DEFAULTS, **pp}
    return {k: (list(full[k]) if isinstance(full[k], (tuple, list)) else full[k]) for k in keys if k in full}


def load_tiny(*, device: str = "cpu", checkpoint=None, force_random: bool = False,
              assets_dir: str | os.PathLike | None = None) -> Backbone:
    """Build the ``tiny`` backbone (or its ``tiny-random`` stand-in), offline.

    The backbone is **lazy**: its fingerprint comes from the config and the weights file's hash, and the network
    (open_clip, ~3 s of imports) is built on first use, so a run whose features are all cached never builds it.

    Args:
        checkpoint: a ``state_dict`` file to use instead of ``<assets>/tiny-clip.pt``; must exist.
        force_random: build ``tiny-random`` even if the checkpoint exists.
        assets_dir: folder holding ``tiny-clip.json`` / ``tiny-clip.pt`` (default: the package's).
    Returns:
        Backbone with outputs ``("embedding",)`` of width ``embed_dim`` and a text tower.
    """
    d = Path(assets_dir) if assets_dir is not None else ASSETS
    cfg_path = d / f"{MODEL_NAME}.json"
    pt_path = Path(checkpoint).expanduser() if checkpoint is not None else d / f"{MODEL_NAME}.pt"
    if checkpoint is not None and not pt_path.is_file():
        raise WeightsNotFoundError(f"tiny: checkpoint file {pt_path} does not exist; pass an existing state_dict "
                                   "file, or omit checkpoint to use the shipped judgenet/assets/tiny-clip.pt")
    cfg = json.loads(cfg_path.read_text()) if cfg_path.is_file() else json.loads(json.dumps(_TINY_FALLBACK_CFG))
    pp = cfg.pop("preprocess_cfg")
    trained = pt_path.is_file() and cfg_path.is_file() and not force_random
    if not trained and not force_random:
        warnings.warn(f"{pt_path} not found: using a fixed-seed RANDOM tiny encoder ('tiny-random'); its "
                      "numbers mean nothing. Train one with `python -m training.tiny_clip`", stacklevel=3)
    name, weights = ("tiny", file_sha256(pt_path)) if trained else ("tiny-random", "random-seed-0")

    def build():
        import open_clip
        import torch
        from open_clip.transform import PreprocessCfg, image_transform_v2

        _register(cfg)
        oc_log = logging.getLogger()  # open_clip logs "No pretrained weights loaded" on the root logger
        level = oc_log.level
        oc_log.setLevel(max(level, logging.ERROR))
        try:
            if trained:
                model = open_clip.create_model(MODEL_NAME, pretrained=None, force_preprocess_cfg=pp)
                state = torch.load(pt_path, map_location="cpu", weights_only=True)
                model.load_state_dict({k: v.float() for k, v in state.items()})
            else:
                with torch.random.fork_rng():
                    torch.manual_seed(0)
                    model = open_clip.create_model(MODEL_NAME, pretrained=None, force_preprocess_cfg=pp)
        finally:
            oc_log.setLevel(level)
        transform = image_transform_v2(PreprocessCfg(**model.visual.preprocess_cfg), is_train=False)
        return model, transform, open_clip.get_tokenizer(MODEL_NAME)

    fp = {"backbone": name, "arch": cfg, "weights_sha256": weights, "preprocess": _preprocess_fingerprint(pp),
          "quick_gelu": bool(cfg.get("quick_gelu", False))}
    bb = Backbone(name, None, None, ("embedding",), fp, forward=clip_forward, encode_text=clip_text, device=device,
                  source="tiny", build=build)
    bb.embed_dim = int(cfg["embed_dim"])
    return bb
