"""Small I/O helpers every layer shares: SHA-256 of files and text, atomic writes, JSON Lines, JSON cleaning.

One implementation each (the feature cache, artifacts, references, reports and the world all use these):

* :func:`sha256_file` / :func:`sha256_text` — content keys (64 hex chars).
* :func:`atomic_write_bytes` / :func:`atomic_write_text` / :func:`atomic_write_json` / :func:`atomic_path` —
  write to a uniquely named temporary file in the destination folder, ``fsync``, then ``os.replace``: a reader
  sees the old file or the new one, never a partial one; concurrent writers never share a temporary name.
  ``OSError`` (disk full, read-only, quota) becomes an :class:`~judgenet.errors.OutputError` naming the file.
* :func:`read_jsonl` — JSON Lines → list of dicts with the 1-based line number of each record.
* :func:`read_format_json` — a saved JSON object whose ``format`` field must name this version's format
  (artifact ``meta.json``, feature-builder ``builder.json``).
* :func:`to_jsonable` — numpy scalars/arrays, tuples, Paths and non-finite floats → plain JSON values.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import uuid
from pathlib import Path
from typing import Any, Iterator, Mapping

from .errors import ArtifactError, OutputError

__all__ = ["sha256_file", "sha256_text", "atomic_path", "atomic_write_bytes", "atomic_write_text", "atomic_write_csv",
           "atomic_write_json", "read_jsonl", "iter_jsonl", "read_format_json", "to_jsonable", "OutputError"]


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 (64 hex chars) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_text(text: str) -> str:
    """SHA-256 (64 hex chars) of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    The caller writes the temporary file (e.g. ``np.savez(tmp, ...)``, ``fig.savefig(tmp)``); if the block raises,
    the temporary file is removed and ``path`` is untouched. The temporary name keeps ``path``'s suffix (some
    writers choose the format from it) and is unique per call (pid + random), so concurrent writers never collide.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        with contextlib.suppress(OSError):  # fsync is best effort (not every filesystem supports it)
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OutputError(f"cannot write {path} ({_why(exc)}); free space or choose another output folder "
                          "(--out)") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`). Returns ``path``."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 2) -> Path:
    """Write ``to_jsonable(obj)`` as JSON to ``path`` atomically (non-finite floats become ``null``)."""
    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=indent, allow_nan=False) + "\n")


def _csvw_datatype(dtype) -> str:
    kind = getattr(dtype, "kind", "O")
    return {"i": "integer", "u": "integer", "f": "double", "b": "boolean"}.get(kind, "string")


def atomic_write_csv(path: str | os.PathLike, frame, *, title: str, notes=()) -> Path:
    """Write a DataFrame as a plain CSV (any CSV reader reads it: no comment lines) and, beside it, its header
    notes as W3C CSV-on-the-Web metadata, ``<name>.csv-metadata.json`` (the CSVW convention for a CSV's sidecar):
    ``dc:title``, the notes as ``rdfs:comment`` lines and the column names and types. Both atomically.
    Returns ``path``."""
    path = Path(path)
    atomic_write_text(path, frame.to_csv(index=False))
    meta = {"@context": "http://www.w3.org/ns/csvw", "url": path.name, "dc:title": title,
            "rdfs:comment": [str(n) for n in notes],
            "tableSchema": {"columns": [{"name": str(c), "titles": str(c), "datatype": _csvw_datatype(t)}
                                        for c, t in frame.dtypes.items()]}}
    atomic_write_json(path.with_name(path.name + "-metadata.json"), meta)
    return path


def read_jsonl(path: str | os.PathLike, *, error=ValueError) -> list[tuple[int, dict]]:
    """Read a JSON Lines file: ``[(line_number, record), ...]`` (1-based, blank lines skipped).

    A line that is not a JSON object raises ``error`` (an exception class) naming the file and line.
    """
    return list(iter_jsonl(path, error=error))


def iter_jsonl(path: str | os.PathLike, *, error=ValueError) -> Iterator[tuple[int, dict]]:
    """:func:`read_jsonl` one record at a time (a reader can stop at the first bad record)."""
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(f"{path}, row {n}: not valid JSON ({exc.msg} at character {exc.pos + 1}); each "
                            "line must be one JSON object") from None
            if not isinstance(rec, dict):
                raise error(f"{path}, row {n}: expected a JSON object per line, found {type(rec).__name__}")
            yield n, rec


def read_format_json(path: str | os.PathLike, fmt: str, *, what: str, make: str, upgrade: str,
                     error: type[Exception] = ArtifactError) -> dict:
    """The JSON object in ``path``, whose ``"format"`` must equal ``fmt``.

    An unreadable file or invalid JSON raises ``error`` "``path``: not a judgenet ``what`` (...); ``make``"; any
    other value than an object with ``format == fmt`` raises "``path``: unknown ``what`` format ... (this
    judgenet reads ``fmt``); ``upgrade``". ``make`` says how to create one, ``upgrade`` what to do with one
    written by another version.
    """
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise error(f"{path}: not a judgenet {what} ({exc}); {make}") from exc
    if not isinstance(obj, dict) or obj.get("format") != fmt:
        found = obj.get("format") if isinstance(obj, dict) else None
        raise error(f"{path}: unknown {what} format {found!r} (this judgenet reads {fmt}); {upgrade}")
    return obj


def to_jsonable(o: Any) -> Any:
    """A plain-JSON copy of ``o``: numpy scalars → Python numbers, arrays/tuples/sets → lists, mapping keys →
    str, non-finite floats → None, Paths and other objects → ``str``."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if isinstance(o, bool) or o is None or isinstance(o, str):
        return o
    if isinstance(o, int):
        return o
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if np is not None:
        if isinstance(o, np.bool_):
            return bool(o)
        if isinstance(o, np.integer):
            return int(o)
        if isinstance(o, np.floating):
            return to_jsonable(float(o))
        if isinstance(o, np.ndarray):
            return to_jsonable(o.tolist())
    if isinstance(o, Mapping):
        return {str(k): to_jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in o]
    return str(o)
