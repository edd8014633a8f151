"""Label files: read CSV / TSV / JSONL / Parquet in chunks of rows, write them, and the sidecar.

:func:`iter_frames` yields the records of a file in chunks of at most ``chunk_rows`` rows, each
chunk a DataFrame with a ``__row__`` column of file row numbers (CSV/TSV: the header is row 1, so
the first record is row 2; JSONL: the line number, blank lines skipped; Parquet: the 1-based record
position), so that a check can stop at the first bad row without reading the rest of the file and
memory never holds more than the rows read so far plus one chunk. :func:`read_frame` reads a whole
file the same way. Reading in chunks gives the same values and dtypes as one read: CSV columns
whose inferred type differs between chunks are read again whole as text (what one read infers
when a column mixes numbers and text), integer and float chunks combine to float as in one read.

Parquet needs pyarrow (``pip install judgenet[parquet]``).
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from ..errors import LabelError
from ..io import atomic_path, atomic_write_text, iter_jsonl
from .schema import STR_COLUMNS

__all__ = ["read_frame", "iter_frames", "Chunks", "write_frame", "read_sidecar", "write_sidecar", "CHUNK_ROWS"]

logger = logging.getLogger(__name__)

CHUNK_ROWS = 1 << 16
"""Rows read (and checked) at a time."""
_CSV = dict(keep_default_na=False, na_values=[""], dtype={c: str for c in STR_COLUMNS})


def _have_pyarrow() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyarrow") is not None


def _need_pyarrow(path):
    if not _have_pyarrow():
        raise LabelError(f"{path}: Parquet needs pyarrow, which is not installed; `pip install judgenet[parquet]` "
                         "(or `pip install pyarrow`), or use CSV / JSONL")


def _sniff_delimiter(path: Path) -> str:
    """``,`` unless the header line has none and has ``;``, tab or ``|`` instead (European-locale
    spreadsheets write ``;``): then that one, with a log note."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            header = fh.readline()
    except OSError:
        return ","
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    if counts[","] > 0:
        return ","
    best = max((";", "\t", "|"), key=counts.get)
    if counts[best] > 0:
        logger.info("%s: the header has no commas; reading it as %s-delimited", path,
                    {";": "semicolon", "\t": "tab", "|": "pipe"}[best])
        return best
    return ","


def _csv_chunks(path: Path, sep: str, chunk_rows: int | None, dtypes: dict) -> Iterator[pd.DataFrame]:
    try:
        reader = pd.read_csv(path, chunksize=chunk_rows, sep=sep, **_CSV)
        start = 2
        for df in [reader] if chunk_rows is None else reader:
            df["__row__"] = np.arange(len(df), dtype=np.int64) + start
            start += len(df)
            df.attrs["delimiter"] = sep
            for c, t in df.dtypes.items():
                dtypes.setdefault(c, set()).add(t)
            yield df
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise LabelError(f"{path}: cannot parse as {path.suffix[1:].upper()} ({exc})") from None
    except pd.errors.EmptyDataError:
        raise LabelError(f"{path}: the file is empty; expected a header row and one judgment per row") from None


def _numeric(dtype) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _jsonl_chunks(path: Path, chunk_rows: int | None) -> Iterator[pd.DataFrame]:
    records, lines = [], []
    for n, rec in iter_jsonl(path, error=LabelError):
        records.append(rec)
        lines.append(n)
        if len(records) == chunk_rows:
            yield _records(records, lines)
            records, lines = [], []
    if records or chunk_rows is None:  # one read of an empty file: an empty frame
        yield _records(records, lines)


def _records(records, lines) -> pd.DataFrame:
    df = pd.DataFrame.from_records(records)
    df["__row__"] = np.asarray(lines, dtype=np.int64)
    return df


def _parquet_chunks(path: Path, chunk_rows: int | None) -> Iterator[pd.DataFrame]:
    _need_pyarrow(path)
    if chunk_rows is None:
        df = pd.read_parquet(path)
        df["__row__"] = np.arange(len(df), dtype=np.int64) + 1
        yield df
        return
    import pyarrow.parquet as pq

    import pyarrow as pa

    start, pf = 1, pq.ParquetFile(path)
    for batch in pf.iter_batches(batch_size=chunk_rows):  # with the file's schema (pandas metadata: index)
        df = pa.Table.from_batches([batch], schema=pf.schema_arrow).to_pandas()
        df["__row__"] = np.arange(len(df), dtype=np.int64) + start
        start += len(df)
        yield df


class Chunks:
    """The records of a label file in chunks (iterate once); see :func:`iter_frames`."""

    def __init__(self, path: str | os.PathLike, chunk_rows: int | None = CHUNK_ROWS):
        path = Path(path)
        if not path.is_file():
            raise LabelError(f"label file {path} not found")
        if chunk_rows is not None and not (isinstance(chunk_rows, (int, np.integer)) and chunk_rows >= 1):
            raise LabelError(f"chunk_rows must be a whole number >= 1 or None, got {chunk_rows!r}")
        self.path, self.header_row, self._dtypes = path, None, {}
        chunk_rows = None if chunk_rows is None else int(chunk_rows)
        suffix = path.suffix.lower()
        if suffix in (".csv", ".tsv"):
            self.header_row = 1
            self._sep = "\t" if suffix == ".tsv" else _sniff_delimiter(path)
            self._it = _csv_chunks(path, self._sep, chunk_rows, self._dtypes)
        elif suffix in (".jsonl", ".ndjson", ".json"):
            self._it = _jsonl_chunks(path, chunk_rows)
        elif suffix == ".parquet":
            _need_pyarrow(path)
            self._it = _parquet_chunks(path, chunk_rows)
        else:
            raise LabelError(f"{path}: unknown label file type {path.suffix!r}; use .csv, .tsv, .jsonl or .parquet")

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return self._it

    def retyped(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (the chunks read, concatenated) with the column types one read of the file gives:
        a CSV column that one chunk typed as numbers and another as text (or bool) is read again as
        text, as one read types it (integer and float chunks already combine to float)."""
        mixed = [c for c, ts in self._dtypes.items() if len(ts) > 1 and not all(map(_numeric, ts))]
        if not mixed:
            return frame
        text = pd.read_csv(self.path, sep=self._sep, usecols=mixed, **{**_CSV, "dtype": str})
        frame = frame.copy()
        for c in mixed:
            frame[c] = text[c].iloc[frame["__row__"].to_numpy() - 2].to_numpy()
        frame.attrs["retyped"] = mixed
        return frame


def iter_frames(path: str | os.PathLike, chunk_rows: int | None = CHUNK_ROWS) -> Chunks:
    """The records of a CSV / TSV / JSONL / Parquet file as DataFrames of at most ``chunk_rows``
    rows (None: the whole file as one), each with a ``__row__`` column of file row numbers; the
    returned :class:`Chunks` also has ``header_row`` (1 for CSV/TSV, else None) and ``retyped``.
    Reading errors are :class:`LabelError` naming the file (and the row, for JSONL)."""
    return Chunks(path, chunk_rows)


def read_frame(path: str | os.PathLike) -> tuple[pd.DataFrame, int | None]:
    """Read a CSV / TSV / JSONL / Parquet table; returns the frame (with a ``__row__`` column of
    file row numbers) and the header row (1 for CSV/TSV, else None)."""
    chunks = iter_frames(path, chunk_rows=None)
    return next(iter(chunks)), chunks.header_row


def write_frame(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``df`` as CSV / TSV / JSONL / Parquet (by the extension of ``path``), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv", ".jsonl", ".ndjson", ".parquet"):
        raise LabelError(f"{path}: unknown label file extension {path.suffix!r}; use .csv, .tsv, .jsonl or "
                         ".parquet")
    if suffix == ".parquet":
        _need_pyarrow(path)
    with atomic_path(path) as tmp:
        if suffix in (".csv", ".tsv"):
            df.to_csv(tmp, index=False, sep="\t" if suffix == ".tsv" else ",")
        elif suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_json(tmp, orient="records", lines=True, force_ascii=False)
    return path


def read_sidecar(path: str | os.PathLike) -> dict:
    """The ``<path>.meta.json`` sidecar written with a label file, or ``{}`` when there is none."""
    sp = Path(str(path) + ".meta.json")
    if not sp.is_file():
        return {}
    try:
        return json.loads(sp.read_text())
    except json.JSONDecodeError as exc:
        raise LabelError(f"{sp}: not valid JSON ({exc}); delete or fix the sidecar") from None


def write_sidecar(path: str | os.PathLike, content: dict) -> Path:
    return atomic_write_text(Path(str(path) + ".meta.json"), json.dumps(content, indent=1, default=str))
