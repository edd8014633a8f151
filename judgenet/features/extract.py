"""Batched, cached, resumable extraction of image and text embeddings."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import config
from ..errors import ImageError
from ..images import ImageFailure, load_rgb
from .cache import FeatureCache, sha256_file, sha256_text

__all__ = ["extract", "ExtractResult"]


@dataclass
class ExtractResult:
    """Features aligned with the inputs.

    ``images[output]`` is (N, D) float32 in input order (rows of NaN for failed images),
    ``texts`` (N, D_t) float32 aligned with ``prompts`` or None, ``keys`` the content hashes
    (None for unreadable files), ``failures`` the skipped inputs with reasons.
    """

    paths: list[str]
    keys: list[str | None]
    images: dict[str, np.ndarray]
    texts: np.ndarray | None
    failures: list[ImageFailure] = field(default_factory=list)
    n_computed: int = 0
    n_cached: int = 0
    seconds: float = 0.0


class _Images(torch.utils.data.Dataset):
    def __init__(self, paths: Sequence[str], transform, strict: bool):
        self.paths, self.transform, self.strict = list(paths), transform, strict

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        try:
            return i, self.transform(load_rgb(self.paths[i])), None
        except ImageError as exc:
            if self.strict:
                raise
            return i, None, str(exc)


def _collate(batch):
    ok = [(i, x) for i, x, err in batch if x is not None]
    bad = [(i, err) for i, x, err in batch if x is None]
    idx = [i for i, _ in ok]
    xs = torch.stack([x for _, x in ok]) if ok else None
    return idx, xs, bad


def extract(paths: Sequence[str | os.PathLike], backbone, cache_dir=None, *, prompts: Sequence[str] | None = None,
            batch_size: int = 64, num_workers: int = 0, strict: bool = False, progress: bool = True) -> ExtractResult:
    """Embed image files (and prompts) with ``backbone``, reading from / writing to the cache.

    Each finished batch is written as its own shard, so an interrupted run resumes without
    recomputing finished batches; identical file contents are computed once.

    Args:
        paths: N image files. prompts: N texts (optional; needs a text tower).
        cache_dir: cache root (default ``$JUDGENET_CACHE_DIR`` or ``~/.cache/judgenet``) + ``/features``.
        strict: raise :class:`judgenet.errors.ImageError` on the first unreadable image instead of
            listing it in ``failures``.
    """
    t0 = time.perf_counter()
    paths = [str(p) for p in paths]
    cache = FeatureCache(config.cache_dir(cache_dir) / "features", backbone.fingerprint, backbone.fingerprint_hash)
    failures: list[ImageFailure] = []
    keys: list[str | None] = []
    for p in paths:
        try:
            keys.append(sha256_file(p))
        except OSError as exc:
            if strict:
                raise ImageError(f"{p}: cannot read ({exc.strerror or exc})") from None
            failures.append(ImageFailure(p, f"cannot read ({exc.strerror or exc})"))
            keys.append(None)
    valid = [k for k in keys if k is not None]
    have = dict(zip(valid, cache.contains("images", valid))) if valid else {}
    todo: dict[str, str] = {}
    for p, k in zip(paths, keys):
        if k is not None and not have[k] and k not in todo:
            todo[k] = p
    n_cached = sum(1 for k in keys if k is not None and have[k])
    bad_keys: set[str] = set()
    if todo:
        todo_keys, todo_paths = list(todo), list(todo.values())
        loader = torch.utils.data.DataLoader(_Images(todo_paths, backbone.transform, strict), batch_size=batch_size,
                                             num_workers=num_workers, collate_fn=_collate)
        bar = tqdm(total=len(todo_paths), desc=f"extract {backbone.name}", unit="img", disable=not progress)
        for idx, xs, bad in loader:
            for i, err in bad:
                failures.append(ImageFailure(todo_paths[i], err))
                bad_keys.add(todo_keys[i])
            if xs is not None:
                out = backbone.forward_images(xs)
                cache.put("images", [todo_keys[i] for i in idx], {k: v.numpy() for k, v in out.items()})
            bar.update(len(idx) + len(bad))
        bar.close()
    dims = None
    images: dict[str, np.ndarray] = {}
    good = [i for i, k in enumerate(keys) if k is not None and k not in bad_keys]
    for out_name in backbone.outputs:
        got = cache.get("images", [keys[i] for i in good], out_name)
        dims = got.shape[1] if got.size else (dims or 0)
        arr = np.full((len(paths), dims), np.nan, dtype=np.float32)
        if good:
            arr[good] = got
        images[out_name] = arr
    # failures also for duplicate paths of a failed content
    failed_paths = {f.path for f in failures}
    for p, k in zip(paths, keys):
        if k in bad_keys and p not in failed_paths:
            failures.append(ImageFailure(p, "same content as an unreadable file"))
    texts = None
    if prompts is not None:
        prompts = [str(t) for t in prompts]
        if len(prompts) != len(paths):
            raise ValueError(f"{len(prompts)} prompts for {len(paths)} images")
        tkeys = [sha256_text(t) for t in prompts]
        have_t = dict(zip(tkeys, cache.contains("texts", tkeys)))
        missing = list(dict.fromkeys(k for k in tkeys if not have_t[k]))
        by_key = dict(zip(tkeys, prompts))
        for s in range(0, len(missing), batch_size * 4):
            chunk = missing[s:s + batch_size * 4]
            emb = backbone.encode_texts([by_key[k] for k in chunk]).numpy()
            cache.put("texts", chunk, {"embedding": emb})
        texts = cache.get("texts", tkeys, "embedding")
    return ExtractResult(paths, keys, images, texts, failures, n_computed=len(todo) - len(bad_keys),
                         n_cached=n_cached, seconds=time.perf_counter() - t0)
