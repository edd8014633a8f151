"""``open_clip:<arch>[:<tag>]`` — any open_clip architecture, with its weights from a file or by name.

Weights, first found wins (see :mod:`judgenet.backbones.weights`): ``checkpoint=`` (``--clip-checkpoint``) >
``<weights_dir>/<arch>-<tag>.{pt,bin,safetensors}`` (or ``<arch>.*``) > for a tag open_clip knows, open_clip's own
pretrained mechanism (:func:`open_clip.pretrained.download_pretrained`: the Hugging Face hub cache or
``~/.cache/clip``), which downloads the file once when online and returns the cached file afterwards, also
offline. The fingerprint holds the SHA-256 of the file that was loaded, whichever way it came.

A tag open_clip knows also contributes what open_clip would use with those weights: the preprocessing (mean/std,
interpolation, resize mode) and QuickGELU. Loading the same weights from a path would otherwise silently fall back
to the architecture's default preprocessing (58 of open_clip 3.3's 196 tags differ from it).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from ..errors import ConfigError, WeightsNotFoundError
from .base import Backbone, file_sha256
from .weights import offline, resolve_local, where_to_put

__all__ = ["load_open_clip", "clip_forward", "clip_text", "preprocess_fingerprint", "NO_TEXT_TOWER", "CLIP_EXAMPLE"]

log = logging.getLogger(__name__)

#: The CLIP named in messages: a common open_clip model, downloaded by name when online.
CLIP_EXAMPLE = "open_clip:ViT-B-32:laion2b_s34b_b79k"
#: What a run says, in one line, when none of its backbones has a text tower.
NO_TEXT_TOWER = ("MID and CLIPScore need a backbone with a text tower and were left out: add --backbone "
                 f"{CLIP_EXAMPLE} (downloaded once when online; offline pass its file with --clip-checkpoint FILE)")

#: Preprocessing keys an open_clip pretrained tag may set differently from its architecture's
#: defaults (e.g. ViT-L-14 ``laion2b_s32b_b82k``: mean/std 0.5; SigLIP ``webli``: squash resize).
_TAG_PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode")


def clip_forward(model, batch):
    return {"embedding": model.encode_image(batch)}


def clip_text(model, tokens):
    return model.encode_text(tokens)


def preprocess_fingerprint(model) -> dict:
    """The preprocessing open_clip attached to ``model.visual`` (lists instead of tuples)."""
    cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
    return {k: (list(v) if isinstance(v, (tuple, list)) else v) for k, v in cfg.items()}


def _not_a_checkpoint(exc: BaseException) -> bool:
    """Whether ``exc`` from ``torch.load`` means the file is no checkpoint at all (rather than one of another
    layout): torch's unpickling / zip-archive errors, whose text advises ``weights_only=False`` — advice that
    must never reach a user (it runs arbitrary code from the file)."""
    text = str(exc)
    return any(m in text for m in ("weights_only", "Unpickl", "PytorchStreamReader", "invalid load key",
                                   "zip archive", "central directory", "magic number"))


def _source_of(cfg: dict) -> tuple[str, str]:
    """(where open_clip fetches the tag's weights, the file name) from its pretrained config."""
    if cfg.get("hf_hub"):
        repo, fname = cfg["hf_hub"].rstrip("/"), None
        if not cfg["hf_hub"].endswith("/"):
            repo, fname = cfg["hf_hub"].rsplit("/", 1)
        return f"hf-hub:{repo}", fname or "open_clip_pytorch_model.bin"
    url = cfg.get("url", "")
    return url, url.rsplit("/", 1)[-1]


def _download(arch: str, tag: str, cfg: dict, cands: Sequence[str], weights_dir) -> Path:
    """The tag's weights through open_clip's pretrained mechanism (cached file, or a download when online)."""
    import open_clip.pretrained as ocp

    where, fname = _source_of(cfg)
    what = f"open_clip:{arch}:{tag}"
    if offline() and not cfg.get("hf_hub"):  # URL weights: use open_clip's cached file only
        cached = Path("~/.cache/clip").expanduser() / fname
        if cached.is_file():
            return cached
        raise WeightsNotFoundError(f"{what}: its weights ({fname}) are not in open_clip's cache and downloads are "
                                   f"off ($JUDGENET_OFFLINE or $HF_HUB_OFFLINE); "
                                   f"{where_to_put(cands, weights_dir, '--clip-checkpoint')}")
    log.debug("%s: weights through open_clip's pretrained mechanism (%s; downloaded once, then cached)", what, where)
    try:
        path = ocp.download_pretrained(cfg)
    except Exception as exc:  # noqa: BLE001 - hub, HTTP, checksum and file errors all mean "not available here"
        why = " ".join(str(exc).split()).rsplit("Last error: ", 1)[-1][:200] or type(exc).__name__
        raise WeightsNotFoundError(f"{what}: its weights ({fname} from {where}) are not cached here and "
                                   f"downloading them failed ({why}); "
                                   f"{where_to_put(cands, weights_dir, '--clip-checkpoint')}") from None
    if not path or not Path(path).is_file():
        raise WeightsNotFoundError(f"{what}: open_clip gave no weights file for this tag; "
                                   f"{where_to_put(cands, weights_dir, '--clip-checkpoint')}")
    return Path(path)


def load_open_clip(arch: str, *, pretrained, checkpoint, weights_dir, quick_gelu, device, source: str) -> Backbone:
    """``open_clip:<arch>`` (see the module docstring and :func:`judgenet.backbones.load_backbone`)."""
    import open_clip

    if arch not in open_clip.list_models():
        raise ConfigError(f"unknown open_clip architecture {arch!r}; see open_clip.list_models()")
    tag_cfg = open_clip.get_pretrained_cfg(arch, pretrained) if pretrained else {}
    arch_qg = arch.endswith("-quickgelu") or bool((open_clip.get_model_config(arch) or {}).get("quick_gelu"))
    wants_qg = bool(tag_cfg.get("quick_gelu")) or pretrained == "openai" or "openai" in str(checkpoint or "").lower()
    if quick_gelu is None and wants_qg and not arch_qg:
        raise ConfigError(f"OpenAI CLIP weights were trained with QuickGELU but {arch!r} uses GELU: pass "
                          f"quick_gelu=True (--quick-gelu) or use '{arch}-quickgelu'; pass quick_gelu=False "
                          "(--no-quick-gelu) only if you know the checkpoint uses GELU. judgenet never guesses "
                          "this silently.")
    if quick_gelu is False and arch_qg:
        raise ConfigError(f"quick_gelu=False contradicts the architecture {arch!r}, which is defined with QuickGELU; "
                          f"use the architecture without '-quickgelu' for GELU weights")
    tag = pretrained or "weights"
    exts = (".pt", ".bin", ".safetensors")
    cands = [f"{arch}-{tag}{ext}" for ext in exts] + [f"{arch}{ext}" for ext in exts]
    path = resolve_local(f"open_clip:{arch}", checkpoint, cands, weights_dir, "--clip-checkpoint")
    if path is None and tag_cfg:
        path = _download(arch, pretrained, tag_cfg, cands, weights_dir)
    if path is None:
        known = ("" if not pretrained else f" ({pretrained!r} is not a pretrained tag open_clip knows for {arch}: "
                 "see open_clip.list_pretrained())")
        raise WeightsNotFoundError(f"open_clip:{arch}: no local weights found{known}; name a tag open_clip knows "
                                   f"(open_clip:{arch}:<tag>, downloaded once when online) or "
                                   f"{where_to_put(cands, weights_dir, '--clip-checkpoint')}")
    qg = bool(quick_gelu) or arch_qg
    force_pp = {f"image_{k}": tag_cfg[k] for k in _TAG_PREPROCESS_KEYS if k in tag_cfg}
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            arch, pretrained=str(path), force_quick_gelu=qg, device="cpu", **force_pp)
    except RuntimeError as exc:  # state_dict does not fit the architecture
        if _not_a_checkpoint(exc):
            raise ConfigError(f"open_clip:{arch}: {path} is not a checkpoint of the expected layout (a torch "
                              "state_dict, .safetensors or open_clip checkpoint); pass the model's weights file to "
                              "--clip-checkpoint") from None
        first = str(exc).strip().splitlines()[0][:300]
        raise ConfigError(f"open_clip:{arch}: the weights in {path} do not fit this architecture ({first}); "
                          "check the architecture name and the checkpoint") from None
    except Exception as exc:  # noqa: BLE001 - unpickling / zip / safetensors errors on a file that is no checkpoint
        raise ConfigError(f"open_clip:{arch}: {path} is not a checkpoint of the expected layout (a torch "
                          f"state_dict, .safetensors or open_clip checkpoint; reading it failed with "
                          f"{type(exc).__name__}); pass the model's weights file to --clip-checkpoint") from None
    fp = {"backbone": f"open_clip:{arch}", "arch": arch, "arch_cfg": open_clip.get_model_config(arch),
          "weights_sha256": file_sha256(path),
          "preprocess": preprocess_fingerprint(model), "quick_gelu": qg}
    bb = Backbone(f"open_clip:{arch}", model, preprocess, ("embedding",), fp, forward=clip_forward,
                  tokenizer=open_clip.get_tokenizer(arch), encode_text=clip_text, device=device, source=source)
    bb.embed_dim = int(getattr(model.visual, "output_dim", 0) or open_clip.get_model_config(arch)["embed_dim"])
    bb.weights_path = path
    return bb
