"""Encoders built from a name, in the spirit of ``open_clip.create_model_and_transforms``.

``load_backbone(name, **options)`` returns a :class:`Backbone`:

* ``tiny`` — the built-in CLIP-style encoder trained on the simulated world
  (``judgenet/assets/tiny-clip.{json,pt}``). If the checkpoint is absent, a fixed-seed random
  initialization of the same architecture is used and *named* ``tiny-random`` (with a warning).
* ``open_clip:<arch>`` / ``open_clip:<arch>:<tag>`` — any open_clip architecture; weights from
  ``checkpoint=<file>`` or ``pretrained=<tag>`` resolved to
  ``<weights_dir>/<arch>-<tag>.{pt,bin,safetensors}``. A tag open_clip knows also sets the
  preprocessing and QuickGELU of those weights. Never downloads.
* ``inception:fid`` — Inception-v3 in the FID-Inception (TF 2015-12-05 port) layout, outputs
  ``pool`` (2048), ``logits`` (1008) and ``logits_unbiased`` (1008, no fc bias: what Inception
  Score implementations use); weights ``pt_inception-2015-12-05-6726825d.pth``; TF1-style
  bilinear resize to 299 as in torchmetrics' FID (see :mod:`judgenet.backbones.inception`).

Embeddings are returned float32 and *not* L2-normalized. ``fingerprint`` records everything that
changes the numbers; ``fingerprint_hash`` keys the feature cache.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..config import weights_dir as _weights_dir
from ..errors import ConfigError, WeightsNotFoundError

__all__ = ["Backbone", "load_backbone", "file_sha256", "INCEPTION_WEIGHTS_FILE", "ASSETS"]

ASSETS = Path(__file__).resolve().parent.parent / "assets"
INCEPTION_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
_SHA_CACHE: dict[tuple, str] = {}


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, memoized by (path, size, mtime)."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


def _versions() -> dict:
    import torchvision

    out = {"torch": torch.__version__.split("+")[0], "torchvision": torchvision.__version__.split("+")[0]}
    try:
        import open_clip

        out["open_clip"] = open_clip.__version__
    except ImportError:  # pragma: no cover
        pass
    return out


class Backbone:
    """An image (and optionally text) encoder with its preprocessing and fingerprint.

    Attributes:
        name: the name it was built from (``tiny-random`` for the untrained stand-in).
        transform: PIL RGB image → float tensor (3, H, W).
        outputs: names of the image outputs; the first is the main embedding.
        has_text: whether :meth:`encode_texts` works.
        embed_dim: width of the main image output.
        fingerprint: dict of everything that changes the numbers; ``fingerprint_hash``: 16 hex chars.
    """

    def __init__(self, name: str, model: torch.nn.Module, transform: Callable, outputs: Sequence[str],
                 fingerprint: dict, *, forward: Callable, tokenizer: Callable | None = None,
                 encode_text: Callable | None = None, device: str = "cpu"):
        self.name = name
        self.model = model.eval().to(device)
        self.transform = transform
        self.outputs = tuple(outputs)
        self.device = device
        self._forward = forward
        self._tokenizer = tokenizer
        self._encode_text = encode_text
        self.fingerprint = {**fingerprint, "outputs": list(self.outputs), "dtype": "float32", **_versions()}
        canon = json.dumps(self.fingerprint, sort_keys=True, separators=(",", ":"), default=str)
        self.fingerprint_hash = hashlib.sha256(canon.encode()).hexdigest()[:16]
        self.embed_dim = None

    @property
    def has_text(self) -> bool:
        return self._encode_text is not None

    @torch.inference_mode()
    def forward_images(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """(N, 3, H, W) preprocessed batch → ``{output: (N, D) float32}`` on CPU."""
        out = self._forward(self.model, batch.to(self.device, torch.float32))
        return {k: v.float().cpu() for k, v in out.items()}

    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) preprocessed batch → (N, D) float32 main embedding."""
        return self.forward_images(batch)[self.outputs[0]]

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """List of N strings → (N, D) float32 text embeddings."""
        if self._encode_text is None:
            raise ConfigError(f"backbone {self.name!r} has no text tower; use tiny or an open_clip model")
        tokens = self._tokenizer(list(texts)).to(self.device)
        return self._encode_text(self.model, tokens).float().cpu()

    def __repr__(self) -> str:
        return f"Backbone({self.name!r}, outputs={self.outputs}, fingerprint={self.fingerprint_hash})"


# ---------------------------------------------------------------------------------------------
def _clip_forward(model, batch):
    return {"embedding": model.encode_image(batch)}


def _clip_text(model, tokens):
    return model.encode_text(tokens)


def _preprocess_fp(model) -> dict:
    cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
    return {k: (list(v) if isinstance(v, (tuple, list)) else v) for k, v in cfg.items()}


def _resolve(what: str, checkpoint, candidates: Sequence[str], weights_dir, flag: str) -> Path:
    if checkpoint is not None:
        p = Path(checkpoint).expanduser()
        if not p.is_file():
            raise WeightsNotFoundError(f"{what}: checkpoint file {p} does not exist; pass an existing file to {flag}")
        return p
    wd = _weights_dir(weights_dir)
    if wd is not None:
        for c in candidates:
            if (wd / c).is_file():
                return wd / c
    where = f"in {wd}" if wd is not None else "(no weights directory set)"
    raise WeightsNotFoundError(
        f"{what}: no local weights found {where}. judgenet never downloads: put the file "
        f"{candidates[0]!r} in a folder given by --weights-dir or $JUDGENET_WEIGHTS_DIR, or pass the file with {flag}")


#: Preprocessing keys an open_clip pretrained tag may set differently from its architecture's
#: defaults (e.g. ViT-L-14 ``laion2b_s32b_b82k``: mean/std 0.5; SigLIP ``webli``: squash resize).
_TAG_PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode")


def _load_open_clip(arch: str, *, pretrained, checkpoint, weights_dir, quick_gelu, device) -> Backbone:
    """``open_clip:<arch>`` from a local file (see :func:`load_backbone`).

    A ``pretrained`` tag known to open_clip for ``arch`` contributes what open_clip would have
    used with the downloaded weights: its preprocessing (mean/std, interpolation, resize mode) and
    its QuickGELU flag. Loading the same weights from a path would otherwise silently fall back to
    the architecture's default preprocessing (58 of open_clip 3.3's 196 tags differ from it).
    """
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
    cands = [f"{arch}-{tag}{ext}" for ext in (".pt", ".bin", ".safetensors")] + \
            [f"{arch}{ext}" for ext in (".pt", ".bin", ".safetensors")]
    path = _resolve(f"open_clip:{arch}", checkpoint, cands, weights_dir, "--clip-checkpoint")
    qg = bool(quick_gelu) or arch_qg
    force_pp = {f"image_{k}": tag_cfg[k] for k in _TAG_PREPROCESS_KEYS if k in tag_cfg}
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            arch, pretrained=str(path), force_quick_gelu=qg, device="cpu", **force_pp)
    except RuntimeError as exc:  # state_dict does not fit the architecture
        first = str(exc).strip().splitlines()[0][:300]
        raise ConfigError(f"open_clip:{arch}: the weights in {path} do not fit this architecture ({first}); "
                          "check the architecture name and the checkpoint") from None
    fp = {"backbone": f"open_clip:{arch}", "arch": arch, "arch_cfg": open_clip.get_model_config(arch),
          "weights_sha256": file_sha256(path),
          "preprocess": _preprocess_fp(model), "quick_gelu": qg}
    bb = Backbone(f"open_clip:{arch}", model, preprocess, ("embedding",), fp, forward=_clip_forward,
                  tokenizer=open_clip.get_tokenizer(arch), encode_text=_clip_text, device=device)
    bb.embed_dim = int(getattr(model.visual, "output_dim", 0) or open_clip.get_model_config(arch)["embed_dim"])
    return bb


def load_backbone(name: str = "tiny", *, device: str = "cpu", weights_dir=None, checkpoint=None, pretrained=None,
                  quick_gelu: bool | None = None, allow_random: bool = False) -> Backbone:
    """Build a :class:`Backbone` from its name (see module docstring). Offline only.

    Args:
        name: ``tiny`` | ``tiny-random`` | ``open_clip:<arch>`` | ``open_clip:<arch>:<tag>`` (same as
            ``pretrained=<tag>``, so the tag can be given where only a name fits, e.g. ``--backbone``)
            | ``inception:fid``.
        weights_dir: folder searched for weight files (> ``$JUDGENET_WEIGHTS_DIR``).
        checkpoint: explicit local weights file (wins over ``weights_dir``; for ``tiny`` a
            ``state_dict`` replacing the shipped ``tiny-clip.pt``).
        pretrained: open_clip tag: names the file looked up in ``weights_dir``
            (``<arch>-<tag>.{pt,bin,safetensors}``) and, when open_clip knows the tag, sets the
            preprocessing and QuickGELU that go with those weights (also when ``checkpoint`` is given).
        quick_gelu: QuickGELU for open_clip models; required explicitly for OpenAI weights on a
            GELU architecture (``None`` there raises :class:`ConfigError` rather than guessing).
        allow_random: ``inception:fid`` only — random weights (tests; never for real numbers).
    Raises:
        WeightsNotFoundError: the weights file is not on disk (message says what to put where).
    """
    if name in ("tiny", "tiny-random"):
        from .tiny import load_tiny

        return load_tiny(device=device, checkpoint=checkpoint, force_random=(name == "tiny-random"))
    if name.startswith("open_clip:"):
        _, arch, *rest = name.split(":", 2)
        tag = rest[0] if rest else None
        if tag is not None and pretrained is not None and pretrained != tag:
            raise ConfigError(f"backbone {name!r} names the pretrained tag {tag!r} but pretrained={pretrained!r}; "
                              "give the tag once")
        return _load_open_clip(arch, pretrained=tag or pretrained, checkpoint=checkpoint,
                               weights_dir=weights_dir, quick_gelu=quick_gelu, device=device)
    if name in ("inception:fid", "inception"):
        from .inception import load_fid_inception

        return load_fid_inception(checkpoint=checkpoint, weights_dir=weights_dir, allow_random=allow_random,
                                  device=device, resolve=_resolve)
    raise ConfigError(f"unknown backbone {name!r}; use tiny, tiny-random, open_clip:<arch> or inception:fid")


def _np(x) -> np.ndarray:  # pragma: no cover - convenience
    return x.detach().cpu().numpy()
