"""The judgenet label schema: long format, one judgment per row — the column vocabulary.

Per-item judgments (:class:`~judgenet.labels.LabelSet`)::

    item_id, image, prompt (optional), generator ("real" for real images), rater_id (optional),
    question (realism / alignment / overall / real_vs_fake / ...), score (number)

Pairwise judgments (:class:`~judgenet.labels.PairwiseLabelSet`), one judgment per row::

    item_a, item_b, question, choice (a / b / tie) or preference in [0, 1] (= P(a preferred)),
    optional image_a, image_b, prompt, generator_a, generator_b, rater_id, weight (default 1)

Each item of a pair carries its own image and generator (``image_a``/``generator_a`` for
``item_a`` …) and the pair its prompt; an item must have the same image, generator and prompt in
every row it appears in (:meth:`PairwiseLabelSet.items` lists them — what gets embedded). Ranking
files (``rankings``/``xmcgan`` format) expand to this schema with ``weight`` = 2 / (k(k − 1)) for a
ranking of k items, so that every ranking counts as much as one pairwise judgment, not k(k − 1)/2.

Any further columns (e.g. ``category``, ``caption_id``) are kept as they are.

The modules of this package, one job each: this one names the columns and words problems;
:mod:`.files` reads and writes label files (in chunks); :mod:`.validation` checks judgments
(vectorized, failing on the first bad row); :mod:`.labelset` holds the two validated types and
:func:`~judgenet.labels.read_labels`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import LabelError

__all__ = ["JUDGMENT_COLUMNS", "PAIRWISE_COLUMNS", "REQUIRED", "PAIR_REQUIRED", "QUESTIONS", "Problem",
           "schema_hint"]

JUDGMENT_COLUMNS = ("item_id", "image", "prompt", "generator", "rater_id", "question", "score")
REQUIRED = ("item_id", "image", "generator", "question", "score")
PAIRWISE_COLUMNS = ("item_a", "item_b", "question", "choice", "preference", "prompt", "generator_a",
                    "generator_b", "rater_id", "weight")
PAIR_REQUIRED = ("item_a", "item_b", "question")
QUESTIONS = ("realism", "alignment", "overall", "real_vs_fake")
"""Common question names; any other string is allowed."""

CHOICE = {"a": 1.0, "b": 0.0, "tie": 0.5}
"""A pairwise ``choice`` → P(a preferred)."""
STR_COLUMNS = ("item_id", "image", "prompt", "generator", "rater_id", "question", "item_a", "item_b", "choice",
               "generator_a", "generator_b", "image_a", "image_b")
"""Columns read as text from CSV (ids such as ``007`` keep their zeros)."""
ALIASES = {"score": ("rating", "value", "label", "mos", "human_score"), "item_id": ("id", "item", "uid"),
           "image": ("image_path", "path", "file", "filename", "img"), "generator": ("model", "system", "sys"),
           "rater_id": ("rater", "worker", "worker_id", "annotator", "user_id"), "question": ("aspect", "criterion"),
           "choice": ("winner", "label"), "item_a": ("image_0", "left"), "item_b": ("image_1", "right")}
"""Column names people use for a schema column (missing-column errors suggest the rename)."""


@dataclass(frozen=True)
class Problem:
    """One validation problem: the row as numbered in the file, the column and a full message."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return self.message


def _show(v) -> str:
    """A cell value for a message: quoted text, plain numbers, "an empty value" — never a numpy repr
    such as ``np.float64(nan)`` or ``np.str_('x')``."""
    if v is None or (isinstance(v, (float, np.floating)) and math.isnan(float(v))):
        return "an empty value"
    if isinstance(v, (str, np.str_)):
        return repr(str(v)) if str(v).strip() else "an empty value"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):g}"
    return repr(str(v))


def _where(source, row, column) -> str:
    return f"{source or '<DataFrame>'}, row {row}, column {column!r}"


def missing_columns(columns, required, source, kind, header_row) -> None:
    """Raise the one-line error for required columns that ``columns`` lacks (with rename hints)."""
    columns = list(columns)
    missing = [c for c in required if c not in columns]
    if not missing:
        return
    hints = []
    for c in missing:
        alias = next((a for a in ALIASES.get(c, ()) if a in columns), None)
        if alias:
            hints.append(f"rename column {alias!r} to {c!r}")
    hint = "; ".join(hints) if hints else "add the column(s) or rename yours"
    where = f"{source or '<DataFrame>'}, row {header_row}" if header_row else (source or "<DataFrame>")
    raise LabelError(f"{where}, column(s) {missing}: missing; a {kind} needs columns {', '.join(required)} "
                     f"(found {', '.join(map(str, columns)) or 'none'}); fix: {hint}")


def schema_hint(columns) -> str | None:
    """For a table that matches no label format: which judgenet-schema columns it lacks, when it is
    close to one (it has most of the per-item or pairwise columns), with alias hints — else None."""
    cols = {str(c) for c in columns if str(c) != "__row__"}
    lower = {c.lower() for c in cols}
    best = None
    for kind, required in (("per-item label file", REQUIRED), ("pairwise label file", PAIR_REQUIRED + ("choice",))):
        missing = [c for c in required if c not in lower]
        if kind.startswith("pairwise") and "preference" in lower and "choice" in missing:
            missing.remove("choice")
        have = len(required) - len(missing)
        if missing and have >= max(2, len(required) - 2) and (best is None or len(missing) < len(best[1])):
            best = (kind, missing)
    if best is None:
        return None
    kind, missing = best
    hints = []
    for c in missing:
        alias = next((a for a in ALIASES.get(c, ()) if a in lower), None)
        hints.append(f"rename column {alias!r} to {c!r}" if alias else f"add a {c!r} column")
    return f"looks like a {kind} without column(s) {missing}; fix: {'; '.join(hints)}"
