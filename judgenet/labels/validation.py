"""Checks of label judgments: vectorized over rows, stopping at the first bad row.

Errors name the file, the row number as it appears in the file (CSV: the header is line 1, so the
first record is row 2; JSONL: the line number; Parquet and DataFrames: the 1-based record
position), the column, what was expected and how to fix it. Checked: missing columns, empty
required values, non-numeric or non-finite scores, scores outside the declared scale of their
question, unknown images (when ``images_root`` or ``known_images`` is given), duplicate judgments
(same item, rater and question), rows without ``rater_id`` that repeat an earlier row exactly (they
would silently count twice), and items whose image/generator differ between rows. Pairwise files
also: an item compared with itself and contradictory duplicate judgments (one rater, one pair, two
different choices). Messages show values as plain text (never numpy reprs).

``lenient=True`` skips bad rows instead of raising, and records every problem in ``.skipped``
(a list of :class:`~judgenet.labels.Problem`) — nothing is dropped silently. Missing columns are
always fatal.

How (linear time): every check is a vectorized operation over the rows; checks between rows
(duplicates, repeats, one image per item) compare integer group codes (``pandas.factorize``), and
each problem's message is worded only when it is shown. A file is read in chunks
(:mod:`.files`): checks within a row run on each chunk as it arrives, checks between rows on all
rows read so far each time their number has doubled, so a bad row stops reading within about
twice its row number (and at once when the row itself is bad), and the total work stays within
about twice that of one pass. Every check between rows compares a row with *earlier* rows only,
so the problems found in the rows read so far are exactly those one pass over the whole file
finds there; the first problem reported is the same. Where reading stopped early the error says
so (the count of further problems then covers the rows read).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from ..errors import LabelError
from .schema import CHOICE, PAIR_REQUIRED, REQUIRED, Problem, _show, _where, missing_columns

__all__ = ["check_judgments", "check_pairs", "ColumnsChanged"]


class ColumnsChanged(Exception):
    """A chunk of a file has other columns than the first (JSONL records with new keys): the file
    must be checked in one piece so that every row sees every column."""


class Findings:
    """Problems found by vectorized checks, as (file rows, column, wording); a message is worded
    only when it is needed — the first one when failing, all of them in lenient mode."""

    def __init__(self):
        self.parts: list[tuple[np.ndarray, str, np.ndarray, Callable[[int], str]]] = []

    def add(self, rows: np.ndarray, where: np.ndarray, column: str, word: Callable[[int], str]) -> None:
        """A problem in column ``column`` at each position ``where`` (of a frame whose file rows are
        ``rows``); ``word(i)`` words the message of position ``i``."""
        where = np.asarray(where, dtype=np.int64)
        if where.size:
            self.parts.append((np.asarray(rows)[where].astype(np.int64), column, where, word))

    def extend(self, other: "Findings") -> "Findings":
        out = Findings()
        out.parts = self.parts + other.parts
        return out

    def __len__(self) -> int:
        return sum(p[0].size for p in self.parts)

    def _order(self):
        rows = np.concatenate([p[0] for p in self.parts])
        cols = np.concatenate([np.full(p[0].size, p[1], dtype=object) for p in self.parts]).astype(str)
        part = np.concatenate([np.full(p[0].size, k) for k, p in enumerate(self.parts)])
        pos = np.concatenate([np.arange(p[0].size) for p in self.parts])
        order = np.lexsort((cols, rows))  # stable: ties keep the order the checks found them in
        return rows[order], part[order], pos[order]

    def problems(self) -> list[Problem]:
        """Every problem, sorted by (row, column)."""
        if not self.parts:
            return []
        rows, part, pos = self._order()
        out = []
        for r, k, j in zip(rows.tolist(), part.tolist(), pos.tolist()):
            _, col, where, word = self.parts[k]
            out.append(Problem(r, col, word(int(where[j]))))
        return out

    def bad_rows(self) -> np.ndarray:
        return np.unique(np.concatenate([p[0] for p in self.parts])) if self.parts else np.zeros(0, np.int64)

    def raise_first(self, stopped_at: int | None = None) -> None:
        """Raise the one-line error for the first problem (by row, then column), counting the others."""
        rows, part, pos = self._order()
        _, col, where, word = self.parts[part[0]]
        bad = self.bad_rows()
        more = ""
        if rows.size > 1:
            shown = ", ".join(map(str, bad[:10].tolist())) + (", ..." if bad.size > 10 else "")
            more = f" (and {rows.size - 1} more problem(s); bad rows: {shown})"
        stop = f" (reading stopped after row {stopped_at})" if stopped_at is not None else ""
        raise LabelError(f"{word(int(where[pos[0]]))}{more}{stop}; or pass lenient=True (CLI: --lenient) to skip bad "
                         "rows — skipped rows are counted and listed in .skipped")


# ---------------------------------------------------------------- vectorized helpers


def _blank(s: pd.Series) -> np.ndarray:
    """Missing, empty or whitespace only."""
    if _is_text(s):  # (str.isspace: the same characters as strip() == "", without new strings)
        return (s.isna() | s.eq("") | s.str.isspace()).to_numpy(dtype=bool, na_value=True)
    return (s.isna() | (s.astype(str).str.strip() == "")).to_numpy()


def _is_text(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.StringDtype)


def _as_str(s: pd.Series) -> pd.Series:
    """``s`` with every present value as ``str(v)`` and missing values left missing."""
    if _is_text(s):
        return s
    return s.astype(object).map(lambda v: v if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))


def _clean_optional(df: pd.DataFrame, cols) -> None:
    """Optional text columns: absent → None; blank → missing; other values → ``str``."""
    for c in cols:
        if c not in df.columns:
            df[c] = None
        elif _is_text(df[c]):
            df[c] = df[c].where(~_blank(df[c]))
        else:
            s = df[c].astype(object)
            df[c] = s.where(~_blank(s), None).map(lambda v: v if v is None else str(v))


def _codes(columns: Iterable) -> np.ndarray:
    """One integer per row, equal for rows whose values are equal in every column (missing values
    equal each other; values compared as text unless the column is integer)."""
    code, size = None, 1
    for c in columns:
        s = pd.Series(c) if not isinstance(c, pd.Series) else c
        if not (_is_text(s) or pd.api.types.is_integer_dtype(s.dtype)):
            s = s.astype(str)
        k, u = pd.factorize(s, use_na_sentinel=False)
        k = k.astype(np.int64)
        if code is not None and size * len(u) >= 1 << 62:  # renumber before the product could overflow
            code = pd.factorize(code)[0].astype(np.int64)
            size = int(code.max()) + 1
        code, size = (k, len(u)) if code is None else (code * len(u) + k, size * len(u))
    return code


def _first_same(code: np.ndarray) -> np.ndarray:
    """For each row, the position of the first row with the same code (codes number groups in
    order of first appearance, as ``pandas.factorize`` does)."""
    code = pd.factorize(code)[0]  # renumber in order of first appearance
    is_first = np.r_[True, code[1:] > np.maximum.accumulate(code)[:-1]] if code.size else np.zeros(0, bool)
    return np.flatnonzero(is_first)[code]


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


def _image_problems(F: Findings, values: pd.Series, rows, source, column, root, known) -> None:
    if root is None and known is None:
        return
    given = np.flatnonzero(~_blank(values))  # empty values are reported as empty
    codes, uniques = pd.factorize(values.iloc[given].astype(str))
    ok = np.empty(len(uniques), bool)
    for u, im in enumerate(uniques):
        good = True
        if known is not None:
            good = im in known or Path(im).name in known
        if root is not None and (known is None or not good):
            p = Path(im) if Path(im).is_absolute() else root / im
            good = p.is_file()
        ok[u] = good
    where = "not found under " + str(root) if root is not None else "not in the given image list"
    F.add(rows, given[~ok[codes]], column,
          lambda i: f"{_where(source, rows[i], column)}: unknown image {_show(str(values.iloc[i]))} ({where}); fix "
                    "the path or pass the right images folder")


def _blank_problems(F: Findings, df: pd.DataFrame, cols, rows, source) -> None:
    for col in cols:
        s = df[col]
        F.add(rows, np.flatnonzero(_blank(s)), col,
              lambda i, s=s, col=col: f"{_where(source, rows[i], col)}: expected a non-empty value, found "
                                      f"{_show(s.iloc[i])}; fill it in")


def _anonymous_repeats(F: Findings, df: pd.DataFrame, rows, source, anonymous: np.ndarray, what) -> None:
    """Rows without rater_id that repeat an earlier row exactly (every column): they would silently
    count as a second judgment of the same item / pair."""
    sub = np.flatnonzero(anonymous)
    cols = [c for c in df.columns if c != "__row__"]
    if not sub.size or not cols:
        return
    first = sub[_first_same(_codes(df[c].iloc[sub] for c in cols))]
    F.add(rows, sub[first != sub], "rater_id",
          lambda i: f"{_where(source, rows[i], 'rater_id')}: this row repeats row {rows[first[np.searchsorted(sub, i)]]} "
                    f"exactly ({', '.join(f'{c} {_show(df[c].iloc[i])}' for c in what)}) and has no rater_id, so it "
                    "would silently count as a second judgment; if it is one, give the rows rater_ids, else delete "
                    "the repeated row")


def _item_conflicts(F: Findings, ids: pd.Series, attrs: dict, rows, source) -> None:
    """One image / generator / prompt per item id. ``ids`` (n,) item ids; ``attrs`` {attribute:
    (values (n,), column label: one name or (n,) names)}; blank ids and blank values are not compared (blank ids are
    reported on their own)."""
    ok_id = ~_blank(ids)
    for attr, (values, labels) in attrs.items():
        ok = np.flatnonzero(ok_id & ~_blank(values))
        if not ok.size:
            continue
        first = _first_same(_codes([ids.iloc[ok]]))
        val = _codes([values.iloc[ok]])
        bad = ok[val != val[first]]
        first = ok[first]
        labels = np.full(len(values), labels, dtype=object) if isinstance(labels, str) else labels
        for col in pd.unique(labels[bad]) if bad.size else ():
            F.add(rows, bad[labels[bad] == col], col,
                  lambda i, attr=attr, col=col, ok=ok, first=first, values=values:
                  f"{_where(source, rows[i], col)}: item {_show(ids.iloc[i])} has {attr} {_show(values.iloc[i])} "
                  f"here but {_show(str(values.iloc[first[np.searchsorted(ok, i)]]))} in an earlier row; expected "
                  f"one {attr} per item_id: give different items different ids")


# ---------------------------------------------------------------- the driver: chunks in, checked frame out


def _row_numbers(df: pd.DataFrame, row_numbers) -> np.ndarray:
    if row_numbers is not None:
        rows = np.asarray(row_numbers, dtype=np.int64)
        if rows.shape[0] != len(df):
            raise LabelError(f"row_numbers has {rows.shape[0]} entries for {len(df)} rows")
        return rows
    if "__row__" in df.columns:
        return df["__row__"].to_numpy(dtype=np.int64)
    return np.arange(len(df), dtype=np.int64) + 1


def _drive(chunks, start, local, between, *, lenient, chunk_rows, row_numbers, retyped):
    """Run ``local(df, rows, F)`` on each chunk (it returns the chunk as kept) and
    ``between(frame, rows) -> Findings`` on all rows read so far each time their number doubles
    (strict mode) and at the end. Returns ``(frame, rows, findings)``."""
    parts, row_parts, F = [], [], Findings()
    columns, n, next_check, checked = None, 0, chunk_rows or math.inf, -1
    for k, chunk in enumerate(chunks):
        if columns is None:
            columns = list(chunk.columns)
            start(chunk)
        elif list(chunk.columns) != columns:
            raise ColumnsChanged
        rows = _row_numbers(chunk, row_numbers)
        df = chunk.drop(columns=["__row__"], errors="ignore").reset_index(drop=True)
        parts.append(local(df, rows, F))
        row_parts.append(rows)
        n += len(df)
        if not lenient and (len(F) or n >= next_check):
            frame, rows = _join(parts, row_parts)
            parts, row_parts = [frame], [rows]
            found = F.extend(between(frame, rows))
            if len(found):
                found.raise_first(int(rows[-1]) if chunk_rows and n >= chunk_rows else None)
            next_check, checked = 2 * n, n
    if columns is None:  # no records at all: an empty table
        start(pd.DataFrame())
        return None, np.zeros(0, np.int64), F
    frame, rows = _join(parts, row_parts)
    if retyped is not None:  # a column typed differently by two chunks: checked again, typed as one read types it
        whole = retyped(frame.assign(__row__=rows))
        if whole.attrs.get("retyped"):
            F = Findings()
            frame, checked = local(whole.drop(columns=[c for c in whole.columns if c.startswith("__")]), rows, F), -1
    found = F if checked == n else F.extend(between(frame, rows))  # (all rows were checked at the last doubling)
    if len(found) and not lenient:
        found.raise_first()
    return frame, rows, found


def _join(parts, row_parts):
    if len(parts) == 1:
        return parts[0], row_parts[0]
    return pd.concat(parts, ignore_index=True), np.concatenate(row_parts)


def _kept(frame, rows, found: Findings):
    return frame.loc[~np.isin(rows, found.bad_rows())].reset_index(drop=True)


def check_judgments(chunks, *, source=None, scales=None, lenient=False, images_root=None, known_images=None,
                    header_row=None, row_numbers=None, chunk_rows=None, retyped=None):
    """Check per-item judgments arriving as DataFrame chunks (see module docstring).

    Returns ``(frame, problems, scales, inferred)``: the kept rows in the schema (``score``
    float64, ``rater_id``/``prompt`` missing where absent), the problems (lenient mode; strict mode
    raises on the first), the scales (declared, plus the observed range of each undeclared
    question) and the names of the inferred ones."""
    scales = {str(q): (float(s[0]), float(s[1])) for q, s in (scales or {}).items()}
    ctx = {}

    def start(df):
        missing_columns([c for c in df.columns if c != "__row__"], REQUIRED, source, "label file", header_row)
        for q, (lo, hi) in scales.items():
            if not lo <= hi:
                raise LabelError(f"{source or '<DataFrame>'}: scale of {q!r} is ({lo}, {hi}); low must be <= high")
        ctx["known"] = _known(images_root, known_images)

    def local(df, rows, F):
        _blank_problems(F, df, ("item_id", "image", "generator", "question"), rows, source)
        raw = df["score"]
        score = pd.to_numeric(raw, errors="coerce").astype(np.float64)
        bad_num = (score.isna() | ~np.isfinite(score)).to_numpy()
        F.add(rows, np.flatnonzero(bad_num), "score",
              lambda i: f"{_where(source, rows[i], 'score')}: expected a finite number, found {_show(raw.iloc[i])}; "
                        "fix or remove the value")
        qs = df["question"].astype(str).to_numpy()
        for q, (lo, hi) in scales.items():
            out = (qs == q) & ~bad_num & ((score < lo) | (score > hi)).to_numpy()
            F.add(rows, np.flatnonzero(out), "score",
                  lambda i, q=q, lo=lo, hi=hi: f"{_where(source, rows[i], 'score')}: expected a score on the declared "
                  f"{q!r} scale [{lo:g}, {hi:g}], found {score.iloc[i]:g}; fix the value or declare the right scale "
                  "(scales={...})")
        _image_problems(F, df["image"], rows, source, "image", *ctx["known"])
        _clean_optional(df, ("rater_id", "prompt"))
        for c in ("item_id", "image", "generator", "question"):
            df[c] = _as_str(df[c])
        df["__score__"] = score
        return df

    def between(frame, rows):
        F = Findings()
        frame = frame.drop(columns="__score__")
        has_rater = frame["rater_id"].notna().to_numpy()
        sub = np.flatnonzero(has_rater)
        if sub.size:
            first = sub[_first_same(_codes(frame[c].iloc[sub] for c in ("item_id", "rater_id", "question")))]
            show = {c: frame[c] for c in ("item_id", "rater_id", "question")}
            F.add(rows, sub[first != sub], "rater_id",
                  lambda i: f"{_where(source, rows[i], 'rater_id')}: duplicate judgment — item "
                            f"{_show(show['item_id'].iloc[i])}, rater {_show(show['rater_id'].iloc[i])}, question "
                            f"{_show(show['question'].iloc[i])} already judged in row {rows[first[np.searchsorted(sub, i)]]}; "
                            "expected one judgment per (item_id, rater_id, question): remove the repeated row or give "
                            "it its own rater_id")
        _anonymous_repeats(F, frame, rows, source, ~has_rater, ("item_id", "question"))
        _item_conflicts(F, frame["item_id"], {c: (frame[c], c) for c in ("image", "generator")}, rows, source)
        return F

    frame, problems = _checked(chunks, start, local, between, "judgments", source=source, lenient=lenient,
                               chunk_rows=chunk_rows, row_numbers=row_numbers, retyped=retyped)
    frame["score"] = frame.pop("__score__")
    inferred = []
    for q in pd.unique(frame["question"]):
        if q not in scales:
            s = frame.loc[frame["question"] == q, "score"]
            scales[q] = (float(s.min()), float(s.max()))
            inferred.append(q)
    return frame, problems, scales, inferred


def _checked(chunks, start, local, between, what: str, *, source, lenient, chunk_rows, row_numbers, retyped):
    """Run the checks over every chunk (:func:`_drive`) and keep the rows without problems; no row left is a
    one-line :class:`LabelError` naming the first problem. Returns ``(frame, problems)``."""
    frame, rows, found = _drive(chunks, start, local, between, lenient=lenient, chunk_rows=chunk_rows,
                                row_numbers=row_numbers, retyped=retyped)
    problems = found.problems()
    frame = None if frame is None else _kept(frame, rows, found)
    if frame is None or frame.empty:
        raise LabelError(f"{source or '<DataFrame>'}: no valid {what}"
                         + (f" ({len(problems)} problem(s), first: {problems[0].message})" if problems else ""))
    return frame, problems


def check_pairs(chunks, *, source=None, lenient=False, images_root=None, known_images=None, header_row=None,
                row_numbers=None, chunk_rows=None, retyped=None):
    """Check pairwise judgments arriving as DataFrame chunks (see module docstring and
    :meth:`~judgenet.labels.PairwiseLabelSet.from_frame`). Returns ``(frame, problems)``."""
    ctx = {}

    def start(df):
        required = list(PAIR_REQUIRED)
        if "choice" not in df.columns and "preference" not in df.columns:
            required.append("choice")  # reported as missing (preference is the alternative)
        try:
            missing_columns([c for c in df.columns if c != "__row__"], required, source, "pairwise label file",
                            header_row)
        except LabelError as exc:
            raise LabelError(str(exc).replace("column(s) ['choice']", "column(s) ['choice' or 'preference']")) from None
        ctx["known"] = _known(images_root, known_images)

    def local(df, rows, F):
        _blank_problems(F, df, PAIR_REQUIRED, rows, source)
        weight = pd.Series(1.0, index=df.index, dtype=np.float64)
        if "weight" in df.columns:
            raw_w = df["weight"]
            wnum = pd.to_numeric(raw_w, errors="coerce")
            F.add(rows, np.flatnonzero((wnum.isna() | ~np.isfinite(wnum) | (wnum < 0)).to_numpy()), "weight",
                  lambda i: f"{_where(source, rows[i], 'weight')}: expected a finite weight >= 0, found "
                            f"{_show(raw_w.iloc[i])}; fix the value or drop the weight column")
            weight = wnum.where(wnum.notna(), 1.0).astype(np.float64)
        pref = pd.Series(np.nan, index=df.index, dtype=np.float64)
        from_pref = np.zeros(len(df), bool)
        if "preference" in df.columns:
            raw = df["preference"]
            given = ~_blank(raw)
            num = pd.to_numeric(raw, errors="coerce")
            pref[given] = num[given]
            from_pref = given
            F.add(rows, np.flatnonzero(given & (num.isna() | (num < 0) | (num > 1)).to_numpy()), "preference",
                  lambda i: f"{_where(source, rows[i], 'preference')}: expected a number in [0, 1] (P(a preferred)), "
                            f"found {_show(raw.iloc[i])}; fix the value")
        if "choice" in df.columns:
            use = ~from_pref
            raw_c = df["choice"]
            mapped = raw_c.astype(str).str.strip().str.lower().map(CHOICE)
            pref[use] = mapped[use]
            F.add(rows, np.flatnonzero(use & mapped.isna().to_numpy()), "choice",
                  lambda i: f"{_where(source, rows[i], 'choice')}: expected 'a', 'b' or 'tie', found "
                            f"{_show(raw_c.iloc[i])}; fix the value or give a preference in [0, 1]")
        elif not from_pref.all():
            F.add(rows, np.flatnonzero(~from_pref), "preference",
                  lambda i: f"{_where(source, rows[i], 'preference')}: expected a number in [0, 1], found an empty "
                            "value; fill it in")
        item_b = df["item_b"]
        same = (df["item_a"].astype(str) == item_b.astype(str)).to_numpy() & ~_blank(df["item_a"])
        F.add(rows, np.flatnonzero(same), "item_b",
              lambda i: f"{_where(source, rows[i], 'item_b')}: item {_show(item_b.iloc[i])} is compared with itself; "
                        "expected two different items: fix the id or drop the row")
        root, known = ctx["known"]
        if root is not None or known is not None:
            for col in (("image_a", "image_b") if "image_a" in df.columns else ("item_a", "item_b")):
                _image_problems(F, df[col], rows, source, col, root, known)
        _clean_optional(df, ("rater_id", "prompt", "generator_a", "generator_b"))
        for c in PAIR_REQUIRED:
            df[c] = _as_str(df[c])
        df["__preference__"] = pref
        df["__weight__"] = weight
        return df

    def between(frame, rows):
        F = Findings()
        pref = frame["__preference__"].to_numpy()
        frame = frame.drop(columns=["__preference__", "__weight__"])
        a, b = frame["item_a"].astype(str), frame["item_b"].astype(str)
        a_first = (a < b).to_numpy()
        lo, hi = pd.Series(np.where(a_first, a, b)), pd.Series(np.where(a_first, b, a))
        oriented = np.where(a_first, pref, 1.0 - pref)
        has_rater = frame["rater_id"].notna().to_numpy()
        sub = np.flatnonzero(has_rater)
        if sub.size:
            first = sub[_first_same(_codes([lo.iloc[sub], hi.iloc[sub], frame["rater_id"].iloc[sub],
                                            frame["question"].iloc[sub]]))]
            rater, question = frame["rater_id"], frame["question"]

            def word(i):
                j = first[np.searchsorted(sub, i)]
                what = "contradictory duplicate judgment" if oriented[i] != oriented[j] else "duplicate judgment"
                return (f"{_where(source, rows[i], 'rater_id')}: {what} — rater {_show(rater.iloc[i])} already "
                        f"compared {_show(lo.iloc[i])} and {_show(hi.iloc[i])} on {_show(question.iloc[i])} in row "
                        f"{rows[j]}; keep one of the two rows (or give them different rater_ids)")

            F.add(rows, sub[first != sub], "rater_id", word)
        _anonymous_repeats(F, frame, rows, source, ~has_rater, ("item_a", "item_b"))
        n = len(frame)
        attrs = {}
        order = np.argsort(np.r_[np.arange(n) * 2, np.arange(n) * 2 + 1], kind="stable")
        for attr, (ca, cb) in {"image": ("image_a", "image_b"), "generator": ("generator_a", "generator_b"),
                               "prompt": ("prompt", "prompt")}.items():
            if ca in frame.columns and cb in frame.columns:  # both sides interleaved in file order
                values = pd.concat([frame[ca], frame[cb]], ignore_index=True).iloc[order].reset_index(drop=True)
                attrs[attr] = (values, np.r_[np.full(n, ca, dtype=object), np.full(n, cb, dtype=object)][order])
        if attrs:
            ids = pd.concat([frame["item_a"], frame["item_b"]], ignore_index=True).iloc[order].reset_index(drop=True)
            _item_conflicts(F, ids, attrs, np.r_[rows, rows][order], source)
        return F

    frame, problems = _checked(chunks, start, local, between, "pairwise judgments", source=source, lenient=lenient,
                               chunk_rows=chunk_rows, row_numbers=row_numbers, retyped=retyped)
    pref = frame.pop("__preference__")
    frame["preference"] = pref
    frame["choice"] = np.where(pref > 0.5, "a", np.where(pref < 0.5, "b", "tie"))
    frame["weight"] = frame.pop("__weight__")
    return frame, problems
