"""The :class:`Backbone` interface every encoder is wrapped in, and the memoized weights-file hash.

Nothing here imports torch at import time: ``import judgenet.backbones`` stays cheap, and torch is imported by
the first method that runs a network.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Mapping, Sequence

from .._version import versions
from ..errors import ConfigError
from ..io import sha256_file
from .names import parse_backbone_name

__all__ = ["Backbone", "file_sha256", "resolve_device", "DEVICES"]

_SHA_CACHE: dict[tuple, str] = {}

#: what ``device=`` / ``--device`` accepts (``cuda:N`` too)
DEVICES = ("auto", "cpu", "cuda", "mps")


def file_sha256(path: str | os.PathLike) -> str:
    """:func:`judgenet.io.sha256_file` memoized by (path, size, mtime): weights files are hashed once per process."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = sha256_file(p)
    return _SHA_CACHE[key]


def resolve_device(device: str | None) -> str:
    """``auto`` (or None) → ``cuda`` when a CUDA device is usable, else ``cpu``; ``cpu``, ``cuda``, ``cuda:N`` and
    ``mps`` are checked to exist.

    Raises:
        ConfigError: an unknown device name, or an accelerator this machine does not have (one line).
    """
    d = "auto" if device is None else str(device).strip().lower()
    base = d.split(":", 1)[0]
    if base not in DEVICES or (":" in d and (base != "cuda" or not d.split(":", 1)[1].isdigit())):
        raise ConfigError(f"device {device!r} is not one of auto, cpu, cuda, cuda:N, mps")
    if d == "cpu":
        return d
    import torch

    if d == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if base == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        idx = int(d.split(":", 1)[1]) if ":" in d else 0
        if idx >= n:
            raise ConfigError(f"device {device!r}: this machine has {n} usable CUDA device(s) (torch "
                              f"{torch.__version__}); use --device cpu or auto")
        return d
    if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"device {device!r}: MPS is not available here; use --device cpu or auto")
    return d


def _versions() -> dict:
    """Library versions in every fingerprint (without local build labels, so a CPU and a CUDA wheel of one release
    share cached features), read from package metadata: importing torchvision/open_clip to read them cost ~3 s."""
    return versions("torch", "torchvision", "open_clip", local=False)


class Backbone:
    """An image (and optionally text) encoder with its preprocessing and fingerprint.

    Attributes:
        name: the name it was built from (``tiny-random`` for the untrained stand-in).
        source: the unique feature-source name (:attr:`judgenet.backbones.BackboneName.source`).
        transform: PIL RGB image → float tensor (3, H, W); None for text-only encoders.
        outputs: names of the image outputs; the first is the main embedding.
        has_text: whether :meth:`encode_texts` works; has_images: whether images can be embedded.
        embed_dim: width of the main image output.
        device: where the network runs (``cpu``, ``cuda``, ``cuda:N``, ``mps``); not part of the fingerprint.
        fingerprint: dict of everything that changes the numbers; ``fingerprint_hash``: 16 hex chars.
    """

    def __init__(self, name: str, model, transform: Callable | None, outputs: Sequence[str],
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
    def model(self):
        """The network, a ``torch.nn.Module`` (built on first use for a lazy backbone)."""
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

    def forward_images(self, batch) -> dict:
        """(N, 3, H, W) preprocessed batch → ``{output: (N, D) float32 tensor}`` on CPU."""
        import torch

        if not self.has_images:
            raise ConfigError(f"backbone {self.name!r} encodes texts only; add an image backbone (tiny, "
                              "open_clip:<arch> or inception:fid) for images")
        with torch.inference_mode():
            out = self._forward(self.model, batch.to(self.device, torch.float32))
            return {k: v.float().cpu() for k, v in out.items()}

    def encode_images(self, batch):
        """(N, 3, H, W) preprocessed batch → (N, D) float32 main embedding."""
        return self.forward_images(batch)[self.outputs[0]]

    def encode_texts(self, texts: Sequence[str]):
        """List of N strings → (N, D) float32 text embeddings."""
        import torch

        if self._encode_text is None:
            raise ConfigError(f"backbone {self.name!r} has no text tower; use tiny, an open_clip model or text:<model>")
        with torch.inference_mode():
            if self.tokenizer is None:  # the encoder tokenizes itself (sentence-transformers)
                return self._encode_text(self.model, list(texts)).float().cpu()
            tokens = self.tokenizer(list(texts)).to(self.device)
            return self._encode_text(self.model, tokens).float().cpu()

    def __repr__(self) -> str:
        return f"Backbone({self.name!r}, source={self.source!r}, outputs={self.outputs}, fingerprint={self.fingerprint_hash})"


def describe_fingerprint(fp) -> str:
    """A short human description of a backbone fingerprint (name and weights hash) for mismatch messages."""
    if isinstance(fp, Mapping):
        return (f"{fp.get('backbone', fp.get('name', '?'))!r}, weights "
                f"{str(fp.get('weights_sha256', ''))[:12] or '?'}")
    return repr(fp)
