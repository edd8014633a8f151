"""The judgenet label schema: long format, one judgment per row.

Per-item judgments (:class:`LabelSet`)::

    item_id, image, prompt (optional), generator ("real" for real images), rater_id (optional),
    question (realism / alignment / overall / real_vs_fake / ...), score (number)

Pairwise judgments (:class:`PairwiseLabelSet`), one judgment per row::

    item_a, item_b, question, choice (a / b / tie) or preference in [0, 1] (= P(a preferred)),
    optional image_a, image_b, prompt, generator_a, generator_b, rater_id, weight (default 1)

Each item of a pair carries its own image and generator (``image_a``/``generator_a`` for
``item_a`` …) and the pair its prompt; an item must have the same image, generator and prompt in
every row it appears in (:meth:`PairwiseLabelSet.items` lists them — what gets embedded). Ranking
files (``rankings``/``xmcgan`` format) expand to this schema with ``weight`` = 2 / (k(k − 1)) for a
ranking of k items, so that every ranking counts as much as one pairwise judgment, not k(k − 1)/2.

Any further columns (e.g. ``category``, ``caption_id``) are kept as they are.

Files: CSV / TSV, JSONL and Parquet (Parquet needs pyarrow: ``pip install judgenet[parquet]``).
Validation errors name the file, the row number as it appears in the file (CSV: the header is
line 1, so the first record is row 2; JSONL: the line number; Parquet and DataFrames: the 1-based
record position), the column, what was expected and how to fix it. Checked: missing columns,
empty required values, non-numeric or non-finite scores, scores outside the declared scale of
their question, unknown images (when ``images_root`` or ``known_images`` is given), duplicate
judgments (same item, rater and question), rows without ``rater_id`` that repeat an earlier row
exactly (they would silently count twice), and items whose image/generator differ between rows.
Pairwise files also: an item compared with itself and contradictory duplicate judgments (one rater,
one pair, two different choices). Messages show values as plain text (never numpy reprs).

``lenient=True`` skips bad rows instead of raising, and records every problem in ``.skipped``
(a list of :class:`Problem`) — nothing is dropped silently. Missing columns are always fatal.

``write(path)`` stores the frame plus a sidecar ``<path>.meta.json`` (kind, name, scales and the
JSON-serializable metadata) that :func:`read_labels` picks up again, so a round trip keeps the
declared scales.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from ..errors import LabelError

__all__ = ["LabelSet", "PairwiseLabelSet", "Problem", "read_labels", "JUDGMENT_COLUMNS", "PAIRWISE_COLUMNS",
           "REQUIRED", "PAIR_REQUIRED", "QUESTIONS"]

JUDGMENT_COLUMNS = ("item_id", "image", "prompt", "generator", "rater_id", "question", "score")
REQUIRED = ("item_id", "image", "generator", "question", "score")
PAIRWISE_COLUMNS = ("item_a", "item_b", "question", "choice", "preference", "prompt", "generator_a",
                    "generator_b", "rater_id", "weight")
PAIR_REQUIRED = ("item_a", "item_b", "question")
QUESTIONS = ("realism", "alignment", "overall", "real_vs_fake")
"""Common question names; any other string is allowed."""

_CHOICE = {"a": 1.0, "b": 0.0, "tie": 0.5}
_STR_COLUMNS = ("item_id", "image", "prompt", "generator", "rater_id", "question", "item_a", "item_b", "choice",
                "generator_a", "generator_b", "image_a", "image_b")
_ALIASES = {"score": ("rating", "value", "label", "mos", "human_score"), "item_id": ("id", "item", "uid"),
            "image": ("image_path", "path", "file", "filename", "img"), "generator": ("model", "system", "sys"),
            "rater_id": ("rater", "worker", "worker_id", "annotator", "user_id"), "question": ("aspect", "criterion"),
            "choice": ("winner", "label"), "item_a": ("image_0", "left"), "item_b": ("image_1", "right")}


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


def _row_numbers(df: pd.DataFrame, row_numbers) -> np.ndarray:
    if row_numbers is not None:
        rows = np.asarray(row_numbers, dtype=np.int64)
        if rows.shape[0] != len(df):
            raise LabelError(f"row_numbers has {rows.shape[0]} entries for {len(df)} rows")
        return rows
    if "__row__" in df.columns:
        return df["__row__"].to_numpy(dtype=np.int64)
    return np.arange(len(df), dtype=np.int64) + 1


def _missing_columns(df, required, source, kind, header_row) -> None:
    missing = [c for c in required if c not in df.columns]
    if not missing:
        return
    hints = []
    for c in missing:
        alias = next((a for a in _ALIASES.get(c, ()) if a in df.columns), None)
        if alias:
            hints.append(f"rename column {alias!r} to {c!r}")
    hint = "; ".join(hints) if hints else "add the column(s) or rename yours"
    where = f"{source or '<DataFrame>'}, row {header_row}" if header_row else (source or "<DataFrame>")
    raise LabelError(f"{where}, column(s) {missing}: missing; a {kind} needs columns {', '.join(required)} "
                     f"(found {', '.join(map(str, df.columns)) or 'none'}); fix: {hint}")


def _blank(s: pd.Series) -> np.ndarray:
    return (s.isna() | (s.astype(str).str.strip() == "")).to_numpy()


def _clean_optional(df: pd.DataFrame, cols) -> None:
    for c in cols:
        if c not in df.columns:
            df[c] = None
        else:
            s = df[c].astype(object)
            df[c] = s.where(~_blank(s), None).map(lambda v: v if v is None else str(v))


def _known(images_root, known_images) -> tuple[Path | None, set | None]:
    root = Path(images_root) if images_root is not None else None
    known = None
    if known_images is not None:  # full values and their file names both count
        known = {str(k) for k in known_images}
        known |= {Path(k).name for k in known}
    if root is not None and not root.is_dir():
        raise LabelError(f"images_root {root} is not a folder; pass the folder the label file's image column "
                         "is relative to")
    return root, known


def _image_problems(values: pd.Series, rows, source, column, root, known) -> list[Problem]:
    out = []
    if root is None and known is None:
        return out
    for i, im in enumerate(values.astype(str)):
        ok = True
        if known is not None:
            ok = im in known or Path(im).name in known
        if root is not None and (known is None or not ok):
            p = Path(im) if Path(im).is_absolute() else root / im
            ok = p.is_file()
        if not ok:
            where = f"not found under {root}" if root is not None else "not in the given image list"
            out.append(Problem(int(rows[i]), column, f"{_where(source, rows[i], column)}: unknown image {_show(im)} "
                                                    f"({where}); fix the path or pass the right images folder"))
    return out


def _fail(problems: list[Problem], source, lenient) -> list[Problem]:
    problems = sorted(problems, key=lambda p: (p.row, p.column))
    if problems and not lenient:
        rows = sorted({p.row for p in problems})
        more = ""
        if len(problems) > 1:
            shown = ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
            more = f" (and {len(problems) - 1} more problem(s); bad rows: {shown})"
        raise LabelError(f"{problems[0].message}{more}; or pass lenient=True (CLI: --lenient) to skip bad rows — "
                         "skipped rows are counted and listed in .skipped")
    return problems


def _jsonable(meta: Mapping) -> dict:
    out = {}
    for k, v in meta.items():
        try:
            json.dumps(v, allow_nan=True)
        except (TypeError, ValueError):
            continue
        out[str(k)] = v
    return out


def _anonymous_repeats(df: pd.DataFrame, rows, source, anonymous: np.ndarray, what) -> list[Problem]:
    """Rows without rater_id that repeat an earlier row exactly (every column): they would silently
    count as a second judgment of the same item / pair. Listed as problems (fatal unless lenient)."""
    cols = [c for c in df.columns if c != "__row__"]
    if not anonymous.any() or not cols:
        return []
    key = df[cols].astype(str)
    dup = key.duplicated(keep="first").to_numpy() & anonymous
    if not dup.any():
        return []
    first_row = {}
    for i in range(len(df)):
        first_row.setdefault(tuple(key.iloc[i]), rows[i])
    out = []
    for i in np.flatnonzero(dup):
        ids = ", ".join(f"{c} {_show(df[c].iloc[i])}" for c in what)
        out.append(Problem(int(rows[i]), "rater_id",
                           f"{_where(source, rows[i], 'rater_id')}: this row repeats row "
                           f"{first_row[tuple(key.iloc[i])]} "
                           f"exactly ({ids}) and has no rater_id, so it would silently count as a second judgment; "
                           "if it is one, give the rows rater_ids, else delete the repeated row"))
    return out


def _item_conflicts(ids, attrs: dict, rows, source) -> list[Problem]:
    """One image / generator / prompt per item id. ``ids`` (n,) item ids; ``attrs`` {attribute:
    (values (n,), column label (n,))}; blank ids and blank values are not compared (blank ids are
    reported on their own)."""
    ids = pd.Series(np.asarray(ids, dtype=object))
    ok_id = ~_blank(ids)
    out = []
    for attr, (values, labels) in attrs.items():
        v = pd.Series(np.asarray(values, dtype=object))
        ok = ok_id & ~_blank(v)
        if not ok.any():
            continue
        key, val = ids[ok].astype(str), v[ok].astype(str)
        firsts = val.groupby(key, sort=False).transform("first")
        for j in np.flatnonzero((val != firsts).to_numpy()):
            i = int(np.flatnonzero(ok)[j])
            col = labels[i]
            out.append(Problem(int(rows[i]), col, f"{_where(source, rows[i], col)}: item {_show(ids.iloc[i])} has "
                                                  f"{attr} {_show(v.iloc[i])} here but {_show(firsts.iloc[j])} in an "
                                                  f"earlier row; expected one {attr} per item_id: give different items "
                                                  "different ids"))
    return out


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
        return list(dict.fromkeys(self.frame["question"].astype(str)))

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
        ``<path>.meta.json`` sidecar with name, scales and JSON-serializable metadata."""
        path = Path(path)
        df = self.frame
        suffix = path.suffix.lower()
        if suffix in (".csv", ".tsv"):
            df.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
        elif suffix in (".jsonl", ".ndjson"):
            df.to_json(path, orient="records", lines=True, force_ascii=False)
        elif suffix == ".parquet":
            _need_pyarrow(path)
            df.to_parquet(path, index=False)
        else:
            raise LabelError(f"{path}: unknown label file extension {path.suffix!r}; use .csv, .tsv, .jsonl or "
                             ".parquet")
        if sidecar:
            Path(str(path) + ".meta.json").write_text(json.dumps(self._sidecar(), indent=1, default=str))
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
        _missing_columns(df, REQUIRED, source, "label file", header_row)
        rows = _row_numbers(df, row_numbers)
        df = df.drop(columns=["__row__"], errors="ignore").reset_index(drop=True)
        problems: list[Problem] = []
        for col in ("item_id", "image", "generator", "question"):
            for i in np.flatnonzero(_blank(df[col])):
                problems.append(Problem(int(rows[i]), col, f"{_where(source, rows[i], col)}: expected a non-empty "
                                                           f"value, found {_show(df[col].iloc[i])}; fill it in"))
        score = pd.to_numeric(df["score"], errors="coerce").astype(np.float64)
        bad_num = (score.isna() | ~np.isfinite(score)).to_numpy()
        for i in np.flatnonzero(bad_num):
            problems.append(Problem(int(rows[i]), "score", f"{_where(source, rows[i], 'score')}: expected a finite "
                                                           f"number, found {_show(df['score'].iloc[i])}; fix or remove "
                                                           "the value"))
        scales = {str(q): (float(s[0]), float(s[1])) for q, s in (scales or {}).items()}
        for q, (lo, hi) in scales.items():
            if not lo <= hi:
                raise LabelError(f"{source or '<DataFrame>'}: scale of {q!r} is ({lo}, {hi}); low must be <= high")
        qs = df["question"].astype(str).to_numpy()
        for q, (lo, hi) in scales.items():
            out = (qs == q) & ~bad_num & ((score < lo) | (score > hi)).to_numpy()
            for i in np.flatnonzero(out):
                problems.append(Problem(int(rows[i]), "score",
                                        f"{_where(source, rows[i], 'score')}: expected a score on the declared "
                                        f"{q!r} scale [{lo:g}, {hi:g}], found {score.iloc[i]:g}; fix the value or "
                                        "declare the right scale (scales={...})"))
        root, known = _known(images_root, known_images)
        problems += _image_problems(df["image"], rows, source, "image", root, known)
        _clean_optional(df, ("rater_id", "prompt"))
        for c in ("item_id", "image", "generator", "question"):
            df[c] = df[c].astype(object).map(lambda v: v if v is None or (isinstance(v, float) and math.isnan(v))
                                             else str(v))
        has_rater = df["rater_id"].notna().to_numpy()
        key = df[["item_id", "rater_id", "question"]].astype(str)
        dup = key.duplicated(keep=False).to_numpy() & has_rater
        if dup.any():
            first = {}
            for i in np.flatnonzero(dup):
                k = tuple(key.iloc[i])
                if k not in first:
                    first[k] = rows[i]
                    continue
                problems.append(Problem(int(rows[i]), "rater_id",
                                        f"{_where(source, rows[i], 'rater_id')}: duplicate judgment — item "
                                        f"{_show(k[0])}, rater {_show(k[1])}, question {_show(k[2])} already "
                                        "judged in row "
                                        f"{first[k]}; expected one judgment per (item_id, rater_id, question): "
                                        "remove the repeated row or give it its own rater_id"))
        problems += _anonymous_repeats(df, rows, source, ~has_rater, ("item_id", "question"))
        problems += _item_conflicts(df["item_id"], {c: (df[c], [c] * len(df)) for c in ("image", "generator")}, rows,
                                    source)
        problems = _fail(problems, source, lenient)
        keep = ~np.isin(rows, [p.row for p in problems])
        df["score"] = score
        df = df.loc[keep].reset_index(drop=True)
        if df.empty:
            raise LabelError(f"{source or '<DataFrame>'}: no valid judgments"
                             + (f" ({len(problems)} problem(s), first: {problems[0].message})" if problems else ""))
        inferred = []
        for q in dict.fromkeys(df["question"]):
            if q not in scales:
                s = df.loc[df["question"] == q, "score"]
                scales[q] = (float(s.min()), float(s.max()))
                inferred.append(q)
        cols = list(JUDGMENT_COLUMNS) + [c for c in df.columns if c not in JUDGMENT_COLUMNS]
        return cls(df[cols], name, source, problems, dict(meta or {}), scales, inferred)

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
        required = list(PAIR_REQUIRED)
        if "choice" not in df.columns and "preference" not in df.columns:
            required.append("choice")  # reported as missing (preference is the alternative)
        try:
            _missing_columns(df, required, source, "pairwise label file", header_row)
        except LabelError as exc:
            raise LabelError(str(exc).replace("column(s) ['choice']", "column(s) ['choice' or 'preference']")) from None
        rows = _row_numbers(df, row_numbers)
        df = df.drop(columns=["__row__"], errors="ignore").reset_index(drop=True)
        problems: list[Problem] = []
        for col in PAIR_REQUIRED:
            for i in np.flatnonzero(_blank(df[col])):
                problems.append(Problem(int(rows[i]), col, f"{_where(source, rows[i], col)}: expected a non-empty "
                                                           f"value, found {_show(df[col].iloc[i])}; fill it in"))
        weight = pd.Series(1.0, index=df.index, dtype=np.float64)
        if "weight" in df.columns:
            wnum = pd.to_numeric(df["weight"], errors="coerce")
            for i in np.flatnonzero((wnum.isna() | ~np.isfinite(wnum) | (wnum < 0)).to_numpy()):
                problems.append(Problem(int(rows[i]), "weight",
                                        f"{_where(source, rows[i], 'weight')}: expected a finite weight >= 0, found "
                                        f"{_show(df['weight'].iloc[i])}; fix the value or drop the weight column"))
            weight = wnum.where(wnum.notna(), 1.0).astype(np.float64)
        pref = pd.Series(np.nan, index=df.index, dtype=np.float64)
        from_pref = np.zeros(len(df), bool)
        if "preference" in df.columns:
            raw = df["preference"]
            given = ~_blank(raw)
            num = pd.to_numeric(raw, errors="coerce")
            pref[given] = num[given]
            from_pref = given
            for i in np.flatnonzero(given & (num.isna() | (num < 0) | (num > 1)).to_numpy()):
                problems.append(Problem(int(rows[i]), "preference",
                                        f"{_where(source, rows[i], 'preference')}: expected a number in [0, 1] "
                                        f"(P(a preferred)), found {_show(raw.iloc[i])}; fix the value"))
        if "choice" in df.columns:
            use = ~from_pref
            mapped = df["choice"].astype(str).str.strip().str.lower().map(_CHOICE)
            pref[use] = mapped[use]
            for i in np.flatnonzero(use & mapped.isna().to_numpy()):
                problems.append(Problem(int(rows[i]), "choice",
                                        f"{_where(source, rows[i], 'choice')}: expected 'a', 'b' or 'tie', found "
                                        f"{_show(df['choice'].iloc[i])}; fix the value or give a preference in [0, 1]"))
        elif not from_pref.all():
            for i in np.flatnonzero(~from_pref):
                problems.append(Problem(int(rows[i]), "preference",
                                        f"{_where(source, rows[i], 'preference')}: expected a number in [0, 1], "
                                        "found an empty value; fill it in"))
        same = (df["item_a"].astype(str) == df["item_b"].astype(str)).to_numpy() & ~_blank(df["item_a"])
        for i in np.flatnonzero(same):
            problems.append(Problem(int(rows[i]), "item_b", f"{_where(source, rows[i], 'item_b')}: item "
                                                            f"{_show(df['item_b'].iloc[i])} is compared with itself; "
                                                            "expected two different items: fix the id or drop the row"))
        root, known = _known(images_root, known_images)
        if root is not None or known is not None:
            for col in (("image_a", "image_b") if "image_a" in df.columns else ("item_a", "item_b")):
                problems += _image_problems(df[col], rows, source, col, root, known)
        _clean_optional(df, ("rater_id", "prompt", "generator_a", "generator_b"))
        for c in PAIR_REQUIRED:
            df[c] = df[c].map(lambda v: v if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
        a, b = df["item_a"].astype(str), df["item_b"].astype(str)
        lo, hi = np.where(a < b, a, b), np.where(a < b, b, a)
        oriented = np.where(a < b, pref, 1.0 - pref)
        has_rater = df["rater_id"].notna().to_numpy()
        if has_rater.any():
            key = pd.DataFrame({"lo": lo, "hi": hi, "r": df["rater_id"].astype(str), "q": df["question"].astype(str)})
            dup = key.duplicated(keep="first").to_numpy() & has_rater
            first = {}
            for i in range(len(df)):
                first.setdefault(tuple(key.iloc[i]), i)
            for i in np.flatnonzero(dup):
                j = first[tuple(key.iloc[i])]
                what = ("contradictory duplicate judgment" if oriented[i] != oriented[j] else "duplicate judgment")
                problems.append(Problem(int(rows[i]), "rater_id",
                                        f"{_where(source, rows[i], 'rater_id')}: {what} — rater "
                                        f"{_show(df['rater_id'].iloc[i])} already compared {_show(lo[i])} and "
                                        f"{_show(hi[i])} on {_show(df['question'].iloc[i])} in row {rows[j]}; keep one "
                                        "of the two rows (or give them different rater_ids)"))
        problems += _anonymous_repeats(df, rows, source, ~has_rater, ("item_a", "item_b"))
        n = len(df)
        attrs = {}
        for attr, (ca, cb) in {"image": ("image_a", "image_b"), "generator": ("generator_a", "generator_b"),
                               "prompt": ("prompt", "prompt")}.items():
            if ca in df.columns and cb in df.columns:
                attrs[attr] = (np.r_[df[ca].to_numpy(object), df[cb].to_numpy(object)], [ca] * n + [cb] * n)
        if attrs:  # both sides interleaved in file order (row 2 a, row 2 b, row 3 a, ...)
            order = np.argsort(np.r_[np.arange(n) * 2, np.arange(n) * 2 + 1], kind="stable")
            ids = np.r_[df["item_a"].to_numpy(object), df["item_b"].to_numpy(object)][order]
            attrs = {k: (v[order], list(np.asarray(lab, dtype=object)[order])) for k, (v, lab) in attrs.items()}
            problems += _item_conflicts(ids, attrs, np.r_[rows, rows][order], source)
        problems = _fail(problems, source, lenient)
        keep = ~np.isin(rows, [p.row for p in problems])
        df["preference"] = pref
        df["choice"] = np.where(pref > 0.5, "a", np.where(pref < 0.5, "b", "tie"))
        df["weight"] = weight
        df = df.loc[keep].reset_index(drop=True)
        if df.empty:
            raise LabelError(f"{source or '<DataFrame>'}: no valid pairwise judgments"
                             + (f" ({len(problems)} problem(s), first: {problems[0].message})" if problems else ""))
        cols = list(PAIRWISE_COLUMNS) + [c for c in df.columns if c not in PAIRWISE_COLUMNS]
        return cls(df[cols], name, source, problems, dict(meta or {}))

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
        alias = next((a for a in _ALIASES.get(c, ()) if a in lower), None)
        hints.append(f"rename column {alias!r} to {c!r}" if alias else f"add a {c!r} column")
    return f"looks like a {kind} without column(s) {missing}; fix: {'; '.join(hints)}"


def _have_pyarrow() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyarrow") is not None


def _need_pyarrow(path):
    if not _have_pyarrow():
        raise LabelError(f"{path}: Parquet needs pyarrow, which is not installed; `pip install judgenet[parquet]` "
                         "(or `pip install pyarrow`), or use CSV / JSONL")


def _read_jsonl(path: Path) -> pd.DataFrame:
    from ..io import read_jsonl

    rows = read_jsonl(path, error=LabelError)
    df = pd.DataFrame.from_records([r for _, r in rows])
    df["__row__"] = np.asarray([n for n, _ in rows], dtype=np.int64)
    return df


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
        import logging

        logging.getLogger(__name__).info("%s: the header has no commas; reading it as %s-delimited", path,
                                         {";": "semicolon", "\t": "tab", "|": "pipe"}[best])
        return best
    return ","


def read_frame(path: str | os.PathLike) -> tuple[pd.DataFrame, int | None]:
    """Read a CSV / TSV / JSONL / Parquet table; returns the frame (with a ``__row__`` column of
    file row numbers) and the header row (1 for CSV/TSV, else None)."""
    path = Path(path)
    if not path.is_file():
        raise LabelError(f"label file {path} not found")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        sep = "\t" if suffix == ".tsv" else _sniff_delimiter(path)
        try:
            df = pd.read_csv(path, sep=sep, keep_default_na=False, na_values=[""],
                             dtype={c: str for c in _STR_COLUMNS})
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise LabelError(f"{path}: cannot parse as {suffix[1:].upper()} ({exc})") from None
        except pd.errors.EmptyDataError:
            raise LabelError(f"{path}: the file is empty; expected a header row and one judgment per row") from None
        df["__row__"] = np.arange(len(df), dtype=np.int64) + 2
        df.attrs["delimiter"] = sep
        return df, 1
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _read_jsonl(path), None
    if suffix == ".parquet":
        _need_pyarrow(path)
        df = pd.read_parquet(path)
        df["__row__"] = np.arange(len(df), dtype=np.int64) + 1
        return df, None
    raise LabelError(f"{path}: unknown label file type {path.suffix!r}; use .csv, .tsv, .jsonl or .parquet")


def read_labels(path: str | os.PathLike, *, name: str | None = None, scales: Mapping | None = None,
                lenient: bool = False, images_root=None, known_images=None, kind: str | None = None):
    """Read a label file in the judgenet schema (CSV / TSV / JSONL / Parquet).

    Pairwise files are detected by an ``item_a`` column (or ``kind="pairwise"``). A sidecar
    ``<path>.meta.json`` written by ``.write()`` supplies the name, scales and metadata unless
    given here. Returns a :class:`LabelSet` or :class:`PairwiseLabelSet`.
    """
    path = Path(path)
    df, header = read_frame(path)
    side = {}
    sp = Path(str(path) + ".meta.json")
    if sp.is_file():
        try:
            side = json.loads(sp.read_text())
        except json.JSONDecodeError as exc:
            raise LabelError(f"{sp}: not valid JSON ({exc}); delete or fix the sidecar") from None
    name = name or side.get("name") or path.stem
    meta = dict(side.get("meta") or {})
    kind = kind or ("pairwise" if "item_a" in df.columns else "judgments")
    if kind == "pairwise":
        return PairwiseLabelSet.from_frame(df, name, source=str(path), lenient=lenient, meta=meta,
                                           images_root=images_root, known_images=known_images, header_row=header)
    if kind != "judgments":
        raise LabelError(f"kind must be 'judgments' or 'pairwise', got {kind!r}")
    if scales is None and side.get("scales"):
        scales = {q: tuple(s) for q, s in side["scales"].items()}
    return LabelSet.from_frame(df, name, scales=scales, source=str(path), lenient=lenient, images_root=images_root,
                               known_images=known_images, meta=meta, header_row=header)
