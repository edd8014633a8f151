"""Backbone names: the one parser (:func:`parse_backbone_name`) and the feature-source name each name gives.

Source names (``tiny``, ``clip-<arch>[-<tag>]``, ``inception``, ``text-<name>``) key a backbone's features
everywhere above the backbones and are stored in saved predictors, so they never change.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ConfigError

__all__ = ["BackboneName", "parse_backbone_name", "FAMILIES"]

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
    """The one parser of backbone names (used by :func:`~judgenet.backbones.load_backbone`, option routing and
    source naming).

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
