"""The validated label types — :class:`LabelSet` (per-item judgments) and :class:`PairwiseLabelSet`
— and :func:`read_labels`, which reads a label file in chunks and checks it as it goes.

The columns are described in :mod:`.schema`, the checks in :mod:`.validation` (every problem
names the file, the row as numbered in the file, the column and the fix; ``lenient=True`` skips
bad rows and lists them in ``.skipped``), reading in :mod:`.files`.

``write(path)`` stores the frame plus a sidecar ``<path>.meta.json`` (kind, name, scales and the
JSON-serializable metadata) that :func:`read_labels` picks up again, so a round trip keeps the
declared scales.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from ..errors import LabelError
from .files import CHUNK_ROWS, iter_frames, read_sidecar, write_frame, write_sidecar
from .schema import JUDGMENT_COLUMNS, PAIRWISE_COLUMNS, Problem
from .validation import ColumnsChanged, check_judgments, check_pairs

__all__ = ["LabelSet", "PairwiseLabelSet", "read_labels"]


class _Base:
    kind = ""

    def __init__(self, frame: pd.DataFrame, name: str, source: str | None, skipped: list, meta: dict):
        self.frame = frame.reset_index(drop=True)
        self.name = name
        self.source = source
        self.skipped: list[Problem] = list(skipped)
        self.meta = dict(meta)

    @property
    def questions(self) -> list[str]:
        """Question names in order of first appearance."""
        return [str(q) for q in pd.unique(self.frame["question"].astype(str))]

    @property
    def references(self) -> dict | None:
        """Reference texts per image (``meta["references"]``) for sets that have them, else None."""
        return self.meta.get("references")

    @property
    def skipped_rows(self) -> list[int]:
        """Row numbers (as in the file) skipped in lenient mode."""
        return sorted({p.row for p in self.skipped})

    @property
    def simulated(self) -> bool:
        """True for labels produced by judgenet's simulated raters (never human)."""
        return bool(self.meta.get("simulated", False))

    def __len__(self) -> int:
        return len(self.frame)

    def _sidecar(self) -> dict:
        return {"kind": self.kind, "name": self.name, "scales": {q: list(s) for q, s in self.scales.items()},
                "meta": _jsonable(self.meta)}

    def write(self, path: str | os.PathLike, *, sidecar: bool = True) -> Path:
        """Write CSV / TSV / JSONL / Parquet (by extension) and, unless ``sidecar=False``, the
        ``<path>.meta.json`` sidecar with name, scales and JSON-serializable metadata (both atomically)."""
        path = write_frame(self.frame, path)
        if sidecar:
            write_sidecar(path, self._sidecar())
        return path

    def summary(self) -> dict:
        """Counts: rows, items, raters, judgments per question, skipped rows."""
        f = self.frame
        item_cols = ["item_id"] if "item_id" in f.columns else ["item_a", "item_b"]
        return {"name": self.name, "kind": self.kind, "rows": int(len(f)),
                "items": int(f[item_cols].drop_duplicates().shape[0]),
                "raters": int(f["rater_id"].dropna().nunique()) if "rater_id" in f.columns else 0,
                "per_question": {str(k): int(v) for k, v in f["question"].astype(str).value_counts(sort=False).items()},
                "skipped_rows": len(self.skipped_rows), "simulated": self.simulated}

    def __repr__(self) -> str:
        sk = f", {len(self.skipped_rows)} skipped" if self.skipped else ""
        return f"{type(self).__name__}({self.name!r}, {len(self)} rows, questions={self.questions}{sk})"


class LabelSet(_Base):
    """Per-item judgments in the long schema, validated.

    Attributes: ``frame`` (DataFrame with at least :data:`JUDGMENT_COLUMNS`, ``score`` float64,
    ``rater_id``/``prompt`` None where absent), ``name``, ``scales`` {question: (low, high)} —
    declared, or the observed range for undeclared questions (listed in ``inferred_scales``) —,
    ``skipped`` (list of :class:`Problem`, lenient mode), ``source`` and ``meta``.
    """

    kind = "judgments"

    def __init__(self, frame, name, source=None, skipped=None, meta=None, scales=None, inferred_scales=()):
        super().__init__(frame, name, source, skipped or [], meta or {})
        self.scales = {q: (float(lo), float(hi)) for q, (lo, hi) in (scales or {}).items()}
        self.inferred_scales = list(inferred_scales)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, name: str = "labels", *, scales: Mapping | None = None,
                   source: str | None = None, lenient: bool = False, images_root=None,
                   known_images: Iterable[str] | None = None, meta: Mapping | None = None,
                   row_numbers=None, header_row: int | None = None) -> "LabelSet":
        """Validate a DataFrame in the long schema and wrap it.

        Args:
            df: one judgment per row (see module docstring); extra columns are kept.
            name: the label set's name (reports and artifacts record it).
            scales: {question: (low, high)} declared scales; scores outside raise (or are skipped).
                Questions without a declared scale get their observed range (``inferred_scales``).
            source: file name used in error messages (default ``<DataFrame>``).
            lenient: skip bad rows, listing each problem in ``.skipped``, instead of raising.
            images_root / known_images: when given, every ``image`` must exist under the folder /
                be in the list (file name or full value).
            meta: free metadata (``references``, ``protocol``, ``simulated`` ...).
            row_numbers: row number of each record in its file (default 1-based position, or a
                ``__row__`` column as written by :func:`read_labels`).
            header_row: row of the header, used in missing-column errors (CSV: 1).
        """
        if not isinstance(df, pd.DataFrame):
            raise LabelError(f"LabelSet.from_frame needs a pandas DataFrame, got {type(df).__name__}")
        frame, problems, scales, inferred = check_judgments(
            [df], source=source, scales=scales, lenient=lenient, images_root=images_root, known_images=known_images,
            header_row=header_row, row_numbers=row_numbers)
        return cls._checked(frame, name, source, problems, meta, scales, inferred)

    @classmethod
    def _checked(cls, frame, name, source, problems, meta, scales, inferred) -> "LabelSet":
        cols = list(JUDGMENT_COLUMNS) + [c for c in frame.columns if c not in JUDGMENT_COLUMNS]
        return cls(frame[cols], name, source, problems, dict(meta or {}), scales, inferred)

    def select(self, question: str) -> "LabelSet":
        """The judgments of one question (same name, scales and metadata)."""
        sub = self.frame[self.frame["question"] == question]
        if sub.empty:
            raise LabelError(f"{self.name}: no judgments for question {question!r}; available: {self.questions}")
        return LabelSet(sub, self.name, self.source, self.skipped, self.meta,
                        {question: self.scales[question]} if question in self.scales else None)

    def aggregate(self, question: str, method: str = "mean") -> pd.DataFrame:
        """One row per item for ``question``; see :func:`judgenet.labels.aggregate.aggregate_scores`.

        Columns: ``item_id, image, prompt, generator, score, mean, median, std, n_raters``
        (plus ``zmean`` for ``method="zmean"``); ``score`` is the chosen ``method`` — ``mean``
        (mean opinion score), ``median`` or ``zmean`` (mean of per-rater z-scores).
        """
        from .aggregate import aggregate_scores

        if question not in self.questions:
            raise LabelError(f"{self.name}: no judgments for question {question!r}; available: {self.questions}")
        return aggregate_scores(self.frame, question, method=method)

    def znormalized(self) -> "LabelSet":
        """A copy whose scores are z-normalized per (rater, question); see ``aggregate.zscore_by_rater``."""
        from .aggregate import zscore_by_rater

        f = self.frame.copy()
        f["score"] = zscore_by_rater(f)
        return LabelSet(f, self.name, self.source, self.skipped, {**self.meta, "znormalized": True})


class PairwiseLabelSet(_Base):
    """Pairwise judgments (see module docstring), validated.

    ``frame`` has ``item_a, item_b, question, choice, preference, prompt, generator_a,
    generator_b, rater_id, weight`` (+ extra columns such as ``image_a``/``image_b``);
    ``preference`` is P(a preferred) in [0, 1] (a = 1, b = 0, tie = 0.5), ``choice`` its hard
    form (a / b / tie) and ``weight`` the judgment's weight (1; rankings: 2 / (k(k − 1))).
    """

    kind = "pairwise"

    def __init__(self, frame, name, source=None, skipped=None, meta=None):
        super().__init__(frame, name, source, skipped or [], meta or {})

    @property
    def scales(self) -> dict:
        """Every pairwise question is on the preference scale [0, 1]."""
        return {q: (0.0, 1.0) for q in self.questions}

    @classmethod
    def from_frame(cls, df: pd.DataFrame, name: str = "pairwise", *, source: str | None = None,
                   lenient: bool = False, meta: Mapping | None = None, images_root=None,
                   known_images: Iterable[str] | None = None, row_numbers=None,
                   header_row: int | None = None) -> "PairwiseLabelSet":
        """Validate a DataFrame in the pairwise schema and wrap it.

        Needs ``item_a, item_b, question`` and ``choice`` (a/b/tie, any case) or ``preference``
        (a number in [0, 1]); where both are present a non-empty ``preference`` wins. Checks:
        empty ids, invalid choice/preference, an item compared with itself, duplicate judgment
        (same pair in either order, rater and question), unknown ``image_a``/``image_b`` (or
        ``item_a``/``item_b`` when there are no image columns) if ``images_root``/``known_images``
        is given. Other arguments as :meth:`LabelSet.from_frame`.
        """
        if not isinstance(df, pd.DataFrame):
            raise LabelError(f"PairwiseLabelSet.from_frame needs a pandas DataFrame, got {type(df).__name__}")
        frame, problems = check_pairs([df], source=source, lenient=lenient, images_root=images_root,
                                      known_images=known_images, header_row=header_row, row_numbers=row_numbers)
        return cls._checked(frame, name, source, problems, meta)

    @classmethod
    def _checked(cls, frame, name, source, problems, meta) -> "PairwiseLabelSet":
        cols = list(PAIRWISE_COLUMNS) + [c for c in frame.columns if c not in PAIRWISE_COLUMNS]
        return cls(frame[cols], name, source, problems, dict(meta or {}))

    def items(self) -> pd.DataFrame:
        """One row per item named in a pair, in order of first appearance: ``item_id, image,
        prompt, generator`` (image = ``image_a``/``image_b`` when given, else None — e.g. caption
        pairs with text features only). Consistency across rows was checked on load."""
        f = self.frame
        parts = []
        for side in ("a", "b"):
            parts.append(pd.DataFrame({
                "item_id": f[f"item_{side}"].astype(str).to_numpy(),
                "image": f[f"image_{side}"].to_numpy(object) if f"image_{side}" in f.columns else None,
                "prompt": f["prompt"].to_numpy(object), "generator": f[f"generator_{side}"].to_numpy(object),
                "_order": np.arange(len(f)) * 2 + (side == "b")}))
        both = pd.concat(parts, ignore_index=True).sort_values("_order", kind="stable")
        out = both.groupby("item_id", sort=False)[["image", "prompt", "generator"]].first()
        return out.reset_index()

    def select(self, question: str) -> "PairwiseLabelSet":
        """The judgments of one question."""
        sub = self.frame[self.frame["question"] == question]
        if sub.empty:
            raise LabelError(f"{self.name}: no judgments for question {question!r}; available: {self.questions}")
        return PairwiseLabelSet(sub, self.name, self.source, self.skipped, self.meta)

    def aggregate(self, question: str) -> pd.DataFrame:
        """One row per unordered pair; see :func:`judgenet.labels.aggregate.aggregate_pairs`.

        Columns ``item_a, item_b, prompt, generator_a, generator_b, preference`` (soft label:
        mean P(a preferred), judgments given in the order (b, a) flipped), ``majority``
        (a / b / tie), ``n_a, n_b, n_tie, n_raters``.
        """
        from .aggregate import aggregate_pairs

        if question not in self.questions:
            raise LabelError(f"{self.name}: no judgments for question {question!r}; available: {self.questions}")
        return aggregate_pairs(self.frame, question)


def _jsonable(meta: Mapping) -> dict:
    out = {}
    for k, v in meta.items():
        try:
            json.dumps(v, allow_nan=True)
        except (TypeError, ValueError):
            continue
        out[str(k)] = v
    return out



def read_labels(path: str | os.PathLike, *, name: str | None = None, scales: Mapping | None = None,
                lenient: bool = False, images_root=None, known_images=None, kind: str | None = None,
                chunk_rows: int | None = CHUNK_ROWS):
    """Read a label file in the judgenet schema (CSV / TSV / JSONL / Parquet).

    Pairwise files are detected by an ``item_a`` column (or ``kind="pairwise"``). A sidecar
    ``<path>.meta.json`` written by ``.write()`` supplies the name, scales and metadata unless
    given here. The file is read ``chunk_rows`` rows at a time (None: in one piece) and checked as
    it is read: without ``lenient`` reading stops at the first bad row (see :mod:`.validation`).
    Returns a :class:`LabelSet` or :class:`PairwiseLabelSet`.
    """
    path = Path(path)
    chunks = iter_frames(path, chunk_rows)
    it = iter(chunks)
    first = next(it, None)
    side = read_sidecar(path)
    name = name or side.get("name") or path.stem
    meta = dict(side.get("meta") or {})
    kind = kind or ("pairwise" if first is not None and "item_a" in first.columns else "judgments")
    if kind not in ("judgments", "pairwise"):
        raise LabelError(f"kind must be 'judgments' or 'pairwise', got {kind!r}")
    if kind == "judgments" and scales is None and side.get("scales"):
        scales = {q: tuple(s) for q, s in side["scales"].items()}
    options = dict(source=str(path), lenient=lenient, images_root=images_root, known_images=known_images,
                   header_row=chunks.header_row)
    if kind == "judgments":
        options["scales"] = scales
    check, cls = (check_pairs, PairwiseLabelSet) if kind == "pairwise" else (check_judgments, LabelSet)
    try:
        result = check(_chain(first, it), chunk_rows=chunk_rows, retyped=chunks.retyped, **options)
    except ColumnsChanged:  # JSONL records whose keys change along the file: checked in one piece
        chunks = iter_frames(path, None)
        result = check(iter(chunks), **options)
    frame, problems, *scales = result
    return cls._checked(frame, name, str(path), problems, meta, *scales)


def _chain(first, rest):
    if first is not None:
        yield first
        yield from rest
