"""Multi-backbone embedding: every image with every image backbone, the prompts with one text tower.

:func:`embed` is the step between backbones and everything above them (featurizing, metrics, predictors):
it runs :func:`judgenet.embeddings.extract` once per image backbone (through the feature cache), embeds the
prompts with exactly one text tower, and returns an :class:`Embedded` keyed by *source* names
(:attr:`judgenet.backbones.Backbone.source`), so two backbones never overwrite each other and the
texts are paired with the right image features whatever order the backbones were given in.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..errors import ConfigError
from ..images import ImageFailure
from .extract import extract, extract_texts

__all__ = ["embed", "Embedded"]


@dataclass
class Embedded:
    """Embeddings of N items, aligned with ``paths``.

    Attributes:
        paths: the N inputs as strings.
        images: source name → (N, D_source) float64 main image embedding (NaN rows where ``ok`` is False).
        texts: (N, D_text) float64 prompt embeddings, or None without prompts.
        text_source: the source name of the backbone that embedded ``texts`` (None without prompts). Its
            image embeddings are ``images[text_source]`` when that backbone also has an image tower.
        fingerprints: source name → the backbone's fingerprint dict (every backbone, text-only ones too).
        failures: unreadable inputs (each listed once) with reasons.
        ok: (N,) bool — False for rows whose image could not be read (callers drop and list them).
        prompts: the N prompts as text (None without prompts), for the caption statistics of the features.
    """

    paths: list[str]
    images: dict[str, np.ndarray]
    texts: np.ndarray | None
    text_source: str | None
    fingerprints: dict[str, dict]
    failures: list[ImageFailure] = field(default_factory=list)
    ok: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    prompts: list | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, rows) -> "Embedded":
        """The rows ``rows`` (an index array or a boolean mask) as a new :class:`Embedded` (failures kept)."""
        idx = np.arange(len(self.paths))[np.asarray(rows)] if np.asarray(rows).dtype == bool else np.asarray(rows)
        return Embedded([self.paths[i] for i in idx], {s: a[idx] for s, a in self.images.items()},
                        None if self.texts is None else self.texts[idx], self.text_source, dict(self.fingerprints),
                        list(self.failures), self.ok[idx],
                        None if self.prompts is None else [self.prompts[i] for i in idx])


def embed(paths: Sequence[str | os.PathLike], backbones: Sequence, *, prompts: Sequence[str] | None = None,
          text_backbone: str | None = None, cache_dir=None, batch_size: int = 64, num_workers: int | None = None,
          strict: bool = False, progress: bool = True) -> Embedded:
    """Embed ``paths`` with every image backbone and ``prompts`` with one text tower, through the feature cache.

    Args:
        paths: N image files (or in-memory images, see :func:`judgenet.embeddings.extract`). With only text
            backbones they are not read (they only name the rows).
        backbones: loaded :class:`judgenet.backbones.Backbone` objects with distinct ``source`` names (e.g.
            from :func:`judgenet.backbones.load_backbones`).
        prompts: N texts, or None.
        text_backbone: the source name of the backbone that embeds ``prompts``. Default: the *first* backbone
            in ``backbones`` that has a text tower — whichever position the image-only backbones take.
        cache_dir, batch_size, num_workers, strict, progress: as for :func:`judgenet.embeddings.extract`.
    Returns:
        :class:`Embedded` (float64 arrays; each image backbone's main output, ``Backbone.outputs[0]``).
    Raises:
        ConfigError: duplicate source names, prompts of the wrong length, no text tower for the prompts, an
            unknown ``text_backbone``.
        ImageError: ``strict`` and an unreadable image.
    """
    backbones = list(backbones)
    if not backbones:
        raise ConfigError("embed needs at least one backbone")
    sources = [bb.source for bb in backbones]
    dup = sorted({s for s in sources if sources.count(s) > 1})
    if dup:
        raise ConfigError(f"two backbones give the feature source {dup[0]!r}; list each backbone once")
    items = list(paths)
    n = len(items)
    if prompts is not None:
        prompts = [str(t) for t in prompts]
        if len(prompts) != n:
            raise ConfigError(f"{len(prompts)} prompts for {n} images; give one prompt per image")
    text_bb = None
    if text_backbone is not None:
        by_source = {bb.source: bb for bb in backbones}
        if text_backbone not in by_source:
            raise ConfigError(f"text_backbone={text_backbone!r} is not one of the backbones' sources "
                              f"({', '.join(sources)})")
        text_bb = by_source[text_backbone]
        if not text_bb.has_text:
            raise ConfigError(f"text_backbone={text_backbone!r} has no text tower; choose one of "
                              f"{[bb.source for bb in backbones if bb.has_text]}")
    elif prompts is not None:
        text_bb = next((bb for bb in backbones if bb.has_text), None)
        if text_bb is None:
            raise ConfigError("prompts were given but no backbone has a text tower; add tiny, an open_clip model "
                              "or a text:<model> backbone")

    images: dict[str, np.ndarray] = {}
    fingerprints: dict[str, dict] = {}
    failures: dict[str, ImageFailure] = {}
    texts = None
    shown_paths = None
    for bb in backbones:
        fingerprints[bb.source] = bb.fingerprint
        if not bb.has_images:
            continue
        give_text = prompts is not None and bb is text_bb
        res = extract(items, bb, cache_dir=cache_dir, prompts=prompts if give_text else None, batch_size=batch_size,
                      num_workers=num_workers, strict=strict, progress=progress)
        shown_paths = res.paths
        images[bb.source] = np.asarray(res.images[bb.outputs[0]], dtype=np.float64)
        for f in res.failures:
            failures.setdefault(f.path, f)
        if give_text:
            texts = np.asarray(res.texts, dtype=np.float64)
    if prompts is not None and texts is None:  # a text-only encoder
        texts = np.asarray(extract_texts(prompts, text_bb, cache_dir=cache_dir, batch_size=batch_size),
                           dtype=np.float64)
    ok = np.ones(n, dtype=bool)
    for a in images.values():
        ok &= np.isfinite(a).all(axis=1)
    for a in images.values():
        a[~ok] = np.nan
    return Embedded(shown_paths if shown_paths is not None else [str(p) for p in items], images, texts,
                    text_bb.source if (text_bb is not None and prompts is not None) else None, fingerprints,
                    list(failures.values()), ok, None if prompts is None else list(prompts))
