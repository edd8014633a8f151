"""Content-addressed feature cache.

Layout under ``root``::

    <fingerprint_hash>/fingerprint.json        the backbone fingerprint the features belong to
    <fingerprint_hash>/images/<shard>/         one finished batch: keys.json, <output>.npy, checksum.json
    <fingerprint_hash>/texts/<shard>/          the same for text embeddings

Keys are SHA-256 of the image file's bytes (renaming a file costs nothing) or of the UTF-8 text;
the fingerprint hash covers architecture, weights, preprocessing, dtype and library versions, so
changed preprocessing can never return stale features. Each shard is written to a temporary
directory and renamed into place (atomic), so a run killed at any point leaves only whole shards
and resumes without recomputing them. Every file's SHA-256 is recorded in ``checksum.json``; a
shard whose files don't match (truncated, corrupted) is discarded on load and its items are
recomputed. Writers take a file lock, so concurrent processes can share one cache. Arrays are
float32 ``.npy`` files read memory-mapped.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
from filelock import FileLock

from ..errors import CacheError

__all__ = ["FeatureCache", "sha256_file", "sha256_text"]


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _sha_bytes(path: Path) -> str:
    return sha256_file(path)


class FeatureCache:
    """Float32 features keyed by content hash, for one backbone fingerprint.

    Args:
        root: cache root directory.
        fingerprint: the backbone's fingerprint dict; ``fingerprint_hash`` its 16-hex hash.
    """

    def __init__(self, root: str | os.PathLike, fingerprint: Mapping, fingerprint_hash: str):
        self.root = Path(root)
        self.dir = self.root / fingerprint_hash
        self.dir.mkdir(parents=True, exist_ok=True)
        fp_file = self.dir / "fingerprint.json"
        text = json.dumps(fingerprint, sort_keys=True, indent=1, default=str)
        if fp_file.exists():
            if fp_file.read_text() != text:
                raise CacheError(f"{fp_file} records a different backbone fingerprint than {fingerprint_hash}; "
                                 "the cache directory is inconsistent — delete it to rebuild")
        else:
            tmp = self.dir / f".fingerprint.{uuid.uuid4().hex}.tmp"
            tmp.write_text(text)
            os.replace(tmp, fp_file)
        self._lock = FileLock(str(self.dir / ".lock"))
        self._index: dict[str, dict[str, tuple[Path, int]]] = {}
        self._arrays: dict[tuple[Path, str], np.ndarray] = {}

    # ------------------------------------------------------------------------------------------
    def _kind_dir(self, kind: str) -> Path:
        if kind not in ("images", "texts"):
            raise ValueError(kind)
        d = self.dir / kind
        d.mkdir(exist_ok=True)
        return d

    def _verify(self, shard: Path) -> list[str] | None:
        try:
            sums = json.loads((shard / "checksum.json").read_text())
            for name, digest in sums.items():
                if _sha_bytes(shard / name) != digest:
                    return None
            return json.loads((shard / "keys.json").read_text())
        except (OSError, ValueError):
            return None

    def _load_index(self, kind: str) -> dict[str, tuple[Path, int]]:
        idx = self._index.setdefault(kind, {})
        known = {p for p, _ in idx.values()}
        for shard in sorted(self._kind_dir(kind).glob("shard-*")):
            if shard in known or not shard.is_dir():
                continue
            keys = self._verify(shard)
            if keys is None:
                warnings.warn(f"feature cache: shard {shard} is corrupt or truncated; discarding it (its items "
                              "will be recomputed)", stacklevel=3)
                shutil.rmtree(shard, ignore_errors=True)
                continue
            for i, k in enumerate(keys):
                idx.setdefault(k, (shard, i))
        return idx

    def contains(self, kind: str, keys: Iterable[str]) -> np.ndarray:
        """Boolean mask: which ``keys`` are cached."""
        idx = self._load_index(kind)
        return np.array([k in idx for k in keys], dtype=bool)

    def get(self, kind: str, keys: Sequence[str], output: str) -> np.ndarray:
        """(len(keys), D) float32 array for cached ``keys`` (raises :class:`CacheError` for a missing key)."""
        idx = self._load_index(kind)
        rows = []
        for k in keys:
            if k not in idx:
                raise CacheError(f"key {k[:12]}… is not in the {kind} cache at {self.dir}")
            shard, i = idx[k]
            arr = self._arrays.get((shard, output))
            if arr is None:
                arr = np.load(shard / f"{output}.npy", mmap_mode="r")
                self._arrays[(shard, output)] = arr
            rows.append(arr[i])
        if not rows:
            return np.empty((0, 0), dtype=np.float32)
        return np.stack(rows).astype(np.float32, copy=False)

    def put(self, kind: str, keys: Sequence[str], arrays: Mapping[str, np.ndarray]) -> Path:
        """Write one shard atomically: ``arrays`` maps output name → (len(keys), D) array."""
        keys = list(keys)
        for name, a in arrays.items():
            if a.shape[0] != len(keys):
                raise CacheError(f"output {name!r} has {a.shape[0]} rows for {len(keys)} keys")
        d = self._kind_dir(kind)
        tmp = d / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        sums = {}
        for name, a in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(a, dtype=np.float32))
            sums[f"{name}.npy"] = _sha_bytes(tmp / f"{name}.npy")
        (tmp / "keys.json").write_text(json.dumps(keys))
        sums["keys.json"] = _sha_bytes(tmp / "keys.json")
        (tmp / "checksum.json").write_text(json.dumps(sums))
        for f in tmp.iterdir():  # durability before the rename makes the shard visible
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        final = d / f"shard-{uuid.uuid4().hex}"
        with self._lock:
            os.rename(tmp, final)
        idx = self._index.setdefault(kind, {})
        for i, k in enumerate(keys):
            idx.setdefault(k, (final, i))
        return final
