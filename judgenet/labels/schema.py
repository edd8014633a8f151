"""The judgenet label schema: long format, one judgment per row.

Per-item judgments (:class:`LabelSet`)::

    item_id, image, prompt (optional), generator ("real" for real images), rater_id (optional),
    question (realism / alignment / overall / real_vs_fake / ...), score (number)

Pairwise judgments (:class:`PairwiseLabelSet`)::

    item_a, item_b, question, choice (a / b / tie) or preference in [0, 1] (P(a preferred)),
    optional prompt, generator_a, generator_b, rater_id

Files: CSV, JSONL, Parquet (pyarrow). Validation errors name the file, the row number as it
appears in the file (CSV: the header is line 1, so the first record is row 2; JSONL: line
number), the column, what was expected and how to fix it. ``lenient=True`` skips bad rows but
records every one in ``.skipped`` — nothing is dropped silently.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from ..errors import LabelError

__all__ = ["LabelSet", "PairwiseLabelSet", "read_labels", "JUDGMENT_COLUMNS", "PAIRWISE_COLUMNS"]

JUDGMENT_COLUMNS = ("item_id", "image", "prompt", "generator", "rater_id", "question", "score")
REQUIRED = ("item_id", "image", "generator", "question", "score")
PAIRWISE_COLUMNS = ("item_a", "item_b", "question", "choice", "preference", "prompt", "generator_a",
                    "generator_b", "rater_id")
PAIR_REQUIRED = ("item_a", "item_b", "question")
_CHOICE = {"a": 1.0, "b": 0.0, "tie": 0.5}


def _row_numbers(df: pd.DataFrame, source: str | None) -> np.ndarray:
    if "__row__" in df:
        return df["__row__"].to_numpy()
    offset = 2 if (source or "").endswith((".csv", ".tsv")) else 1
    return np.arange(len(df)) + offset


def _where(source, row, column) -> str:
    return f"{source or '<frame>'}, row {row}, column {column!r}"


class _Base:
    _required: tuple = ()

    def __init__(self, frame: pd.DataFrame, name: str, source: str | None, skipped: list, meta: dict):
        self.frame = frame.reset_index(drop=True)
        self.name = name
        self.source = source
        self.skipped = skipped
        self.meta = meta

    @property
    def questions(self) -> list[str]:
        return list(dict.fromkeys(self.frame["question"].astype(str)))

    def __len__(self) -> int:
        return len(self.frame)

    def write(self, path: str | os.PathLike) -> Path:
        """Write CSV / JSONL / Parquet by extension."""
        path = Path(path)
        df = self.frame
        if path.suffix == ".csv":
            df.to_csv(path, index=False)
        elif path.suffix in (".jsonl", ".ndjson"):
            df.to_json(path, orient="records", lines=True)
        elif path.suffix == ".parquet":
            _need_pyarrow(path)
            df.to_parquet(path, index=False)
        else:
            raise LabelError(f"{path}: unknown label file extension; use .csv, .jsonl or .parquet")
        return path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {len(self)} rows, questions={self.questions})"


class LabelSet(_Base):
    """Per-item judgments in the long schema, validated.

    Attributes: ``frame`` (DataFrame), ``name``, ``scales`` {question: (low, high)}, ``skipped``
    (list of (row, reason) dropped in lenient mode), ``meta``.
    """

    def __init__(self, frame, name, source=None, skipped=None, meta=None, scales=None):
        super().__init__(frame, name, source, skipped or [], meta or {})
        self.scales = dict(scales or {})

    @classmethod
    def from_frame(cls, df: pd.DataFrame, name: str = "labels", *, scales: Mapping | None = None,
                   source: str | None = None, lenient: bool = False, images_root=None, meta=None) -> "LabelSet":
        """Validate a DataFrame in the long schema (see module docstring)."""
        missing = [c for c in REQUIRED if c not in df.columns]
        if missing:
            raise LabelError(f"{source or '<frame>'}: missing column(s) {missing}; a label file needs columns "
                             f"{', '.join(JUDGMENT_COLUMNS)} (prompt and rater_id optional)")
        df = df.copy()
        rows = _row_numbers(df, source)
        bad: list[tuple[int, str]] = []
        score = pd.to_numeric(df["score"], errors="coerce")
        for i in np.flatnonzero(score.isna().to_numpy()):
            bad.append((int(rows[i]), f"{_where(source, rows[i], 'score')}: expected a number, found "
                                      f"{df['score'].iloc[i]!r}"))
        scales = dict(scales or {})
        for q, (lo, hi) in scales.items():
            sel = (df["question"].astype(str) == q).to_numpy() & score.notna().to_numpy()
            out = sel & ((score < lo) | (score > hi)).to_numpy()
            for i in np.flatnonzero(out):
                bad.append((int(rows[i]), f"{_where(source, rows[i], 'score')}: {score.iloc[i]} is outside the "
                                          f"declared {q!r} scale [{lo}, {hi}]; fix the value or the scale"))
        if images_root is not None:
            root = Path(images_root)
            for i, im in enumerate(df["image"].astype(str)):
                p = Path(im) if Path(im).is_absolute() else root / im
                if not p.is_file():
                    bad.append((int(rows[i]), f"{_where(source, rows[i], 'image')}: unknown image {im!r} "
                                              f"(not found under {root})"))
        if "rater_id" not in df:
            df["rater_id"] = None
        if "prompt" not in df:
            df["prompt"] = None
        key = df[["item_id", "rater_id", "question"]].astype(str)
        dup = key.duplicated(keep="first").to_numpy() & df["rater_id"].notna().to_numpy()
        for i in np.flatnonzero(dup):
            bad.append((int(rows[i]), f"{_where(source, rows[i], 'rater_id')}: duplicate judgment of item "
                                      f"{df['item_id'].iloc[i]!r} by rater {df['rater_id'].iloc[i]!r} for "
                                      f"question {df['question'].iloc[i]!r}; remove the repeated row"))
        if bad and not lenient:
            bad.sort()
            more = f" (and {len(bad) - 1} more problems)" if len(bad) > 1 else ""
            raise LabelError(bad[0][1] + more + "; pass lenient=True / --lenient to skip bad rows (they are listed)")
        drop = {r for r, _ in bad}
        keep = ~np.isin(rows, list(drop))
        df["score"] = score
        df = df.loc[keep, [c for c in df.columns if c != "__row__"]]
        df["item_id"] = df["item_id"].astype(str)
        return cls(df, name, source, sorted(bad), meta, scales)

    def aggregate(self, question: str, method: str = "mean") -> pd.DataFrame:
        """One row per item: ``item_id, image, prompt, generator, score, n_raters``.

        ``method``: ``mean`` (mean opinion score), ``median``, or ``zmean`` (mean of per-rater
        z-normalized scores, removing rater bias and scale).
        """
        sub = self.frame[self.frame["question"].astype(str) == question]
        if sub.empty:
            raise LabelError(f"{self.name}: no judgments for question {question!r}; available: {self.questions}")
        s = sub["score"].astype(float)
        if method == "zmean":
            g = sub.groupby(sub["rater_id"].astype(str))["score"]
            sd = g.transform("std").replace(0, np.nan).fillna(1.0)
            s = (s - g.transform("mean")) / sd
        elif method not in ("mean", "median"):
            raise LabelError(f"unknown aggregation {method!r}; use mean, median or zmean")
        sub = sub.assign(_s=s)
        grp = sub.groupby("item_id", sort=False)
        out = grp[["image", "prompt", "generator"]].first()
        out["score"] = grp["_s"].median() if method == "median" else grp["_s"].mean()
        out["n_raters"] = grp["_s"].size()
        return out.reset_index()


class PairwiseLabelSet(_Base):
    """Pairwise judgments (see module docstring); ``preference`` is P(a preferred) in [0, 1]."""

    @classmethod
    def from_frame(cls, df: pd.DataFrame, name: str = "pairwise", *, source: str | None = None,
                   lenient: bool = False, meta=None) -> "PairwiseLabelSet":
        missing = [c for c in PAIR_REQUIRED if c not in df.columns]
        if "choice" not in df.columns and "preference" not in df.columns:
            missing.append("choice|preference")
        if missing:
            raise LabelError(f"{source or '<frame>'}: missing column(s) {missing}; a pairwise label file needs "
                             "item_a, item_b, question and choice (a/b/tie) or preference in [0, 1]")
        df = df.copy()
        rows = _row_numbers(df, source)
        bad = []
        if "preference" in df.columns and df["preference"].notna().any():
            pref = pd.to_numeric(df["preference"], errors="coerce")
        else:
            pref = df["choice"].astype(str).str.lower().map(_CHOICE)
        col = "preference" if "preference" in df.columns and df["preference"].notna().any() else "choice"
        for i in np.flatnonzero((pref.isna() | (pref < 0) | (pref > 1)).to_numpy()):
            bad.append((int(rows[i]), f"{_where(source, rows[i], col)}: expected a/b/tie or a number in [0, 1], "
                                      f"found {df[col].iloc[i]!r}"))
        if bad and not lenient:
            raise LabelError(bad[0][1] + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""))
        df["preference"] = pref
        df = df.loc[~np.isin(rows, [r for r, _ in bad]), [c for c in df.columns if c != "__row__"]]
        return cls(df, name, source, sorted(bad), meta or {})

    def aggregate(self, question: str) -> pd.DataFrame:
        """Per (item_a, item_b): soft ``preference`` (mean), ``majority`` (a/b/tie), ``n_raters``."""
        sub = self.frame[self.frame["question"].astype(str) == question]
        g = sub.groupby(["item_a", "item_b"], sort=False)["preference"]
        out = g.mean().rename("preference").to_frame()
        out["n_raters"] = g.size()
        out["majority"] = np.where(out["preference"] > 0.5, "a", np.where(out["preference"] < 0.5, "b", "tie"))
        return out.reset_index()


def _need_pyarrow(path):
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise LabelError(f"{path}: Parquet needs pyarrow; `pip install judgenet[parquet]` or use CSV/JSONL") from None


def read_labels(path: str | os.PathLike, *, name: str | None = None, scales: Mapping | None = None,
                lenient: bool = False, images_root=None):
    """Read a label file (CSV / TSV / JSONL / Parquet); pairwise files are detected by their columns."""
    path = Path(path)
    if not path.is_file():
        raise LabelError(f"label file {path} not found")
    if path.suffix in (".csv", ".tsv"):
        df = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", dtype={"item_id": str, "rater_id": str},
                         keep_default_na=False, na_values=[""])
        df["__row__"] = np.arange(len(df)) + 2
    elif path.suffix in (".jsonl", ".ndjson"):
        try:
            df = pd.read_json(path, lines=True, dtype={"item_id": str, "rater_id": str})
        except ValueError as exc:
            raise LabelError(f"{path}: not valid JSON Lines ({exc})") from None
        df["__row__"] = np.arange(len(df)) + 1
    elif path.suffix == ".parquet":
        _need_pyarrow(path)
        df = pd.read_parquet(path)
        df["__row__"] = np.arange(len(df)) + 1
    else:
        raise LabelError(f"{path}: unknown label file type; use .csv, .tsv, .jsonl or .parquet")
    name = name or path.stem
    if "item_a" in df.columns:
        return PairwiseLabelSet.from_frame(df, name, source=str(path), lenient=lenient)
    return LabelSet.from_frame(df, name, scales=scales, source=str(path), lenient=lenient, images_root=images_root)
