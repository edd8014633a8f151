"""Content-addressed feature cache.

Layout under ``root``::

    <fingerprint_hash>/fingerprint.json        the backbone fingerprint the features belong to
    <fingerprint_hash>/images/<shard>/         one finished batch: keys.json, <output>.npy, checksum.json
    <fingerprint_hash>/texts/<shard>/          the same for text embeddings

Keys are SHA-256 of the image file's bytes (renaming a file costs nothing) or of the UTF-8 text;
the fingerprint hash covers architecture, weights, preprocessing, dtype and library versions, so
changed preprocessing can never return stale features. Each shard is written to a temporary
directory and renamed into place (atomic), so a run killed at any point leaves only whole shards
and resumes without recomputing them. Concurrent extractors split the work: each batch is claimed
(:meth:`FeatureCache.claim`, a ``.claims/<batch id>`` file created exclusively) before it is computed, and a
process that finds a batch claimed by a live process does the others first, then waits for it (or takes it
over if its owner died). Every file's SHA-256 is recorded in ``checksum.json``; a
shard whose files don't match (truncated, corrupted) is discarded on load and its items are
recomputed. Verification is lazy: a shard's ``keys.json`` is checked when the index is built, its
arrays the first time one of its keys is looked up in a process, so opening a huge cache costs
only what is read. Writers take a file lock, so concurrent processes can share one cache (two
writers computing the same item both write a shard; either copy is returned). Arrays are float32
``.npy`` files read memory-mapped.
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
from PIL import Image

from .. import config
from ..errors import CacheError
from ..io import sha256_file, sha256_text  # the content keys of image files and texts (re-exported)

__all__ = ["FeatureCache", "Claim", "read_features", "sha256_file", "sha256_text", "sha256_image"]


def sha256_image(image) -> str:
    """Key of an in-memory image (PIL or uint8 array): SHA-256 of ``b"rgb8:<W>x<H>:"`` followed by its
    8-bit RGB pixels after :func:`judgenet.images.to_rgb`. A file holding the same picture has a
    different key (files are keyed by their bytes)."""
    from ..images import to_rgb

    rgb = image if (isinstance(image, Image.Image) and image.mode == "RGB") else to_rgb(image)
    h = hashlib.sha256(f"rgb8:{rgb.width}x{rgb.height}:".encode())
    h.update(rgb.tobytes())
    return h.hexdigest()


class FeatureCache:
    """Float32 features keyed by content hash, for one backbone fingerprint.

    Args:
        root: cache root directory (``extract`` uses ``<cache_dir>/features``).
        fingerprint: a :class:`judgenet.backbones.Backbone` (its ``fingerprint`` and
            ``fingerprint_hash`` are used) or the fingerprint dict itself.
        fingerprint_hash: the 16-hex hash; required when ``fingerprint`` is a dict.
    Raises:
        CacheError: ``<root>/<fingerprint_hash>/fingerprint.json`` records another fingerprint.
    """

    def __init__(self, root: str | os.PathLike, fingerprint, fingerprint_hash: str | None = None):
        if hasattr(fingerprint, "fingerprint_hash"):
            fingerprint, fingerprint_hash = fingerprint.fingerprint, fingerprint.fingerprint_hash
        if not fingerprint_hash:
            raise CacheError("FeatureCache needs a backbone, or a fingerprint dict and its fingerprint_hash")
        self.root = Path(root)
        self.fingerprint_hash = fingerprint_hash
        self.dir = self.root / fingerprint_hash
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot create the feature cache directory {self.dir} ({exc.strerror or exc}); choose "
                             "another with --cache or $JUDGENET_CACHE_DIR") from None
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
        self._shards: dict[str, dict[Path, dict]] = {}  # kind → shard → {"keys", "sums", "ok": bool|None}
        self._arrays: dict[tuple[Path, str], np.ndarray] = {}
        self.prune_temporaries()

    def prune_temporaries(self, max_age_s: float = 6 * 3600) -> int:
        """Delete unfinished shard directories (``.tmp-*``, left by killed writers) older than ``max_age_s``.

        Younger ones may belong to a writer that is still running and are left alone. Returns the count.
        """
        import time

        n = 0
        for kind in ("images", "texts"):
            for tmp in (self.dir / kind).glob(".tmp-*") if (self.dir / kind).is_dir() else ():
                try:
                    if time.time() - tmp.stat().st_mtime > max_age_s:
                        shutil.rmtree(tmp, ignore_errors=True)
                        n += 1
                except OSError:
                    pass
        return n

    # ------------------------------------------------------------------------------------------
    def _kind_dir(self, kind: str) -> Path:
        if kind not in ("images", "texts"):
            raise ValueError(f"kind must be 'images' or 'texts', got {kind!r}")
        d = self.dir / kind
        d.mkdir(exist_ok=True)
        return d

    def _discard(self, kind: str, shard: Path, why: str) -> None:
        warnings.warn(f"feature cache: shard {shard} is corrupt or truncated ({why}); discarding it (its items "
                      "will be recomputed)", stacklevel=4)
        self._shards.get(kind, {}).pop(shard, None)
        for key in [k for k in self._arrays if k[0] == shard]:
            del self._arrays[key]
        trash = shard.parent / f".trash-{uuid.uuid4().hex}"
        try:
            os.rename(shard, trash)  # atomic: other processes stop seeing it at once
        except OSError:
            pass
        shutil.rmtree(trash, ignore_errors=True)
        # rebuild the key index from the remaining shards (another copy of a key may exist)
        idx: dict[str, tuple[Path, int]] = {}
        for s, info in sorted(self._shards.get(kind, {}).items()):
            for i, k in enumerate(info["keys"]):
                idx.setdefault(k, (s, i))
        self._index[kind] = idx

    def _load_index(self, kind: str) -> dict[str, tuple[Path, int]]:
        idx = self._index.setdefault(kind, {})
        shards = self._shards.setdefault(kind, {})
        d = self._kind_dir(kind)
        try:
            with os.scandir(d) as it:  # names only, and only the new shards sorted: this runs once per block
                names = [e.name for e in it if e.name.startswith("shard-")]
        except FileNotFoundError:
            names = []
        for shard in (d / n for n in sorted(n for n in names if d / n not in shards)):
            if not shard.is_dir():
                continue
            try:
                sums = json.loads((shard / "checksum.json").read_text())
                if sha256_file(shard / "keys.json") != sums.get("keys.json"):
                    raise ValueError("keys.json checksum mismatch")
                keys = json.loads((shard / "keys.json").read_text())
            except (OSError, ValueError) as exc:
                if not shard.exists():  # discarded meanwhile by another process
                    continue
                shards[shard] = {"keys": [], "sums": {}, "ok": False}
                self._discard(kind, shard, str(exc))
                idx = self._index[kind]
                continue
            shards[shard] = {"keys": keys, "sums": sums, "ok": None}
            for i, k in enumerate(keys):
                idx.setdefault(k, (shard, i))
        return idx

    def _verified_index(self, kind: str, keys: Iterable[str]) -> dict[str, tuple[Path, int]]:
        """Index after checking (once per process) every shard that holds one of ``keys``."""
        keys = list(keys)
        while True:
            idx = self._load_index(kind)
            bad = None
            for shard in dict.fromkeys(idx[k][0] for k in keys if k in idx):
                info = self._shards[kind][shard]
                if info["ok"] is None:
                    try:
                        info["ok"] = all(sha256_file(shard / n) == d for n, d in info["sums"].items())
                    except OSError:
                        info["ok"] = False
                if not info["ok"]:
                    bad = shard
                    break
            if bad is None:
                return idx
            self._discard(kind, bad, "checksum mismatch")

    def contains(self, kind: str, keys: Iterable[str]) -> np.ndarray:
        """(len(keys),) bool: which ``keys`` are cached in verified shards."""
        keys = list(keys)
        idx = self._verified_index(kind, keys)
        return np.array([k in idx for k in keys], dtype=bool)

    def _array(self, shard: Path, output: str) -> np.ndarray:
        arr = self._arrays.get((shard, output))
        if arr is None:
            f = shard / f"{output}.npy"
            if not f.is_file():
                raise CacheError(f"{shard} has no output {output!r}; outputs there: "
                                 f"{sorted(p.stem for p in shard.glob('*.npy'))}")
            arr = np.load(f, mmap_mode="r")
            self._arrays[(shard, output)] = arr
        return arr

    def lookup(self, keys: Sequence[str], output: str = "embedding", kind: str = "images", *,
               out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows for ``keys``: ``(found, array)``.

        Returns:
            found: (N,) bool mask. array: (N, D) float32, NaN rows where ``found`` is False
            (``D`` is 0 when nothing is found and ``out`` is None).
        Args:
            out: optional preallocated (N, D) float32 array (e.g. ``np.lib.format.open_memmap``)
                filled in place, shard by shard, so huge matrices never sit in memory at once.
        """
        keys = list(keys)
        idx = self._verified_index(kind, keys)
        found = np.array([k in idx for k in keys], dtype=bool)
        by_shard: dict[Path, tuple[list[int], list[int]]] = {}
        for j, k in enumerate(keys):
            if k in idx:
                shard, i = idx[k]
                dst, src = by_shard.setdefault(shard, ([], []))
                dst.append(j)
                src.append(i)
        dim = out.shape[1] if out is not None else None
        if dim is None:
            dim = self._array(next(iter(by_shard)), output).shape[1] if by_shard else 0
            out = np.empty((len(keys), dim), dtype=np.float32)
        out[~found] = np.nan
        for shard, (dst, src) in by_shard.items():
            arr = self._array(shard, output)
            if arr.shape[1] != dim:
                raise CacheError(f"{shard}/{output}.npy has width {arr.shape[1]}, expected {dim}")
            src_a = np.asarray(src)
            order = np.argsort(src_a, kind="stable")  # sequential reads from the memory map
            out[np.asarray(dst)[order]] = arr[src_a[order]]
        return found, out

    def get(self, kind: str, keys: Sequence[str], output: str) -> np.ndarray:
        """(len(keys), D) float32 array for cached ``keys``; :class:`CacheError` if one is missing."""
        found, arr = self.lookup(keys, output, kind)
        if not found.all():
            k = list(keys)[int(np.argmin(found))]
            raise CacheError(f"key {k[:12]}… is not in the {kind} cache at {self.dir}")
        return arr

    def claim(self, kind: str, batch_keys: Sequence[str], *, stale_after_s: float = 600.0) -> "Claim | None":
        """Try to claim the batch of work ``batch_keys`` (its id: SHA-256 of the keys) so that concurrent
        extractors on this cache split the work instead of each doing all of it.

        Returns a held :class:`Claim`, or None when another live process holds it. A claim whose owner died
        (same host, pid gone) or that was not refreshed for ``stale_after_s`` seconds is taken over.
        """
        import socket

        d = self._kind_dir(kind) / ".claims"
        d.mkdir(exist_ok=True)
        path = d / hashlib.sha256("\n".join(batch_keys).encode()).hexdigest()[:32]
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not _claim_is_stale(path, stale_after_s):
                    return None
                try:  # take over: remove, then race for O_EXCL again
                    path.unlink()
                except OSError:
                    pass
                continue
            except OSError as exc:
                raise CacheError(f"cannot write to the feature cache at {d} ({exc.strerror or exc}); choose another "
                                 "--cache / $JUDGENET_CACHE_DIR") from None
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{socket.gethostname()} {os.getpid()}\n")
            return Claim(path)
        return None

    def put(self, kind: str, keys: Sequence[str], arrays: Mapping[str, np.ndarray]) -> Path:
        """Write one shard atomically: ``arrays`` maps output name → (len(keys), D) array (stored float32).

        The shard is written to a temporary directory (files fsynced, SHA-256 of each recorded in
        ``checksum.json``) and renamed into place under the cache's file lock.
        """
        keys = list(keys)
        for name, a in arrays.items():
            if a.ndim != 2 or a.shape[0] != len(keys):
                raise CacheError(f"output {name!r} has shape {a.shape}; expected ({len(keys)}, D)")
        d = self._kind_dir(kind)
        tmp = d / f".tmp-{uuid.uuid4().hex}"
        final = d / f"shard-{uuid.uuid4().hex}"
        try:
            tmp.mkdir()
            sums = {}
            for name, a in arrays.items():
                np.save(tmp / f"{name}.npy", np.ascontiguousarray(a, dtype=np.float32))
                sums[f"{name}.npy"] = sha256_file(tmp / f"{name}.npy")
            (tmp / "keys.json").write_text(json.dumps(keys))
            sums["keys.json"] = sha256_file(tmp / "keys.json")
            (tmp / "checksum.json").write_text(json.dumps(sums))
            for f in tmp.iterdir():  # durability before the rename makes the shard visible
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
            with self._lock:
                os.rename(tmp, final)
        except OSError as exc:  # disk full, read-only, permissions: leave no partial files behind
            shutil.rmtree(tmp, ignore_errors=True)
            raise CacheError(f"cannot write to the feature cache at {d} ({exc.strerror or exc}); finished batches "
                             "are kept — free space, or choose another --cache / $JUDGENET_CACHE_DIR, and rerun") \
                from None
        self._shards.setdefault(kind, {})[final] = {"keys": keys, "sums": sums, "ok": True}
        idx = self._index.setdefault(kind, {})
        for i, k in enumerate(keys):
            idx.setdefault(k, (final, i))
        return final


class Claim:
    """A claim on one batch of work in a :class:`FeatureCache` (see :meth:`FeatureCache.claim`): the file
    ``<kind>/.claims/<batch id>`` holding ``host pid``. :meth:`refresh` keeps it alive, :meth:`release` drops it."""

    def __init__(self, path: Path):
        self.path = path
        self.held = True

    def refresh(self) -> None:
        if self.held:
            try:
                os.utime(self.path)
            except OSError:
                pass

    def release(self) -> None:
        if self.held:
            self.held = False
            try:
                self.path.unlink()
            except OSError:
                pass


def _claim_is_stale(path: Path, stale_after_s: float) -> bool:
    """A claim whose owner is a dead process on this host, or that nobody refreshed for ``stale_after_s``."""
    import socket
    import time

    try:
        age = time.time() - path.stat().st_mtime
        text = path.read_text()
    except OSError:
        return True  # vanished meanwhile: free
    try:
        host, pid = text.split()
    except ValueError:  # being written right now (created, not yet filled), or its writer died in between
        return age > min(stale_after_s, 30.0)
    if host == socket.gethostname():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, ValueError):
            pass
    return age > stale_after_s


def _is_key(s: str) -> bool:
    return len(s) == 64 and all(c in "0123456789abcdef" for c in s)


def read_features(items: Sequence[str | os.PathLike], backbone, cache_dir=None, output: str | None = None, *,
                  kind: str = "images", out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Aligned, memory-mapped read of cached features (nothing is computed).

    Args:
        items: N image paths (hashed by content), in-memory images (PIL / uint8 arrays, see
            :func:`sha256_image`), or 64-hex content keys (``ExtractResult.keys``);
            for ``kind="texts"`` the prompt strings themselves.
        backbone: the :class:`judgenet.backbones.Backbone` whose features to read.
        cache_dir: cache root as given to :func:`judgenet.embeddings.extract` (its ``features/`` subfolder is read).
        output: image output name (default: the backbone's main output).
        out: optional preallocated (N, D) float32 array, e.g. ``np.lib.format.open_memmap(...)``, filled
            shard by shard so that a million rows never have to be in memory at once.
    Returns:
        ``(found, features)``: (N,) bool and (N, D) float32 with NaN rows where not cached.
    """
    if kind == "images" and output is not None and hasattr(backbone, "check_output"):
        backbone.check_output(output)
    cache = FeatureCache(config.cache_dir(cache_dir) / "features", backbone)
    if kind == "texts":
        keys = [sha256_text(str(t)) for t in items]
    else:
        keys = [sha256_image(x) if not isinstance(x, (str, os.PathLike)) else
                str(x) if _is_key(str(x)) else sha256_file(x) for x in items]
    return cache.lookup(keys, output or (backbone.outputs[0] if kind == "images" else "embedding"), kind, out=out)
