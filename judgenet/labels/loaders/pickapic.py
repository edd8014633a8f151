"""Pick-a-Pic-style pairwise preference tables (Kirstain et al., NeurIPS 2023). See ``data_cards/pickapic.md``.

Expected columns (the Hugging Face ``pickapic_v1``/``v2`` parquet layout, image bytes optional):
``caption`` (or ``prompt``), ``image_0_uid``/``image_1_uid`` (or ``image_0``/``image_1``, or the
``_url`` columns), ``label_0``/``label_1`` (1/0, 0/1 or 0.5/0.5 for a tie), optional ``model_0``,
``model_1``, ``user_id``, ``ranking_id``, ``has_label``, ``are_different``. Binary ``jpg_0``/``jpg_1``
columns are dropped on load (judgenet never keeps image bytes in label frames).

Mapping: ``item_a``/``item_b`` = image 0/1, ``preference`` = ``label_0`` (P(image 0 preferred)),
``choice`` a/b/tie, question ``overall`` (the user's pick), ``prompt`` = caption, ``generator_a``/
``generator_b`` = model_0/1, ``rater_id`` = user_id.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...errors import LabelError
from ..files import read_frame
from ..labelset import PairwiseLabelSet
from ..schema import Problem, _show
from ._common import as_path, rename_aliases

__all__ = ["load_pickapic", "PICKAPIC_COLUMNS"]

PICKAPIC_COLUMNS = ("caption", "image_0_uid", "image_1_uid", "label_0", "label_1")
_ALIASES = {"caption": ("prompt", "text"), "image_0_uid": ("image_0", "image_0_url", "image_0_path"),
            "image_1_uid": ("image_1", "image_1_url", "image_1_path")}


def load_pickapic(path, *, name: str | None = None, question: str = "overall", drop_unlabeled: bool = True,
                  drop_identical: bool = False, lenient: bool = False, images_root=None,
                  known_images=None) -> PairwiseLabelSet:
    """Read a Pick-a-Pic-style table (CSV / TSV / JSONL / Parquet) into a :class:`PairwiseLabelSet`.

    Args:
        drop_unlabeled: drop rows with ``has_label == False`` (no choice was made); their count
            is recorded in ``meta["dropped_unlabeled"]``.
        drop_identical: drop rows with ``are_different == False`` (both images identical);
            counted in ``meta["dropped_identical"]``.
        lenient, images_root, known_images: as :meth:`PairwiseLabelSet.from_frame`.

    ``label_0 + label_1`` must be 1 and each label 0, 0.5 or 1; violations name file, row and column.
    """
    p = as_path(path)
    df, header = read_frame(p)
    df = df.drop(columns=[c for c in ("jpg_0", "jpg_1") if c in df.columns])
    df = rename_aliases(df, _ALIASES, str(p))
    missing = [c for c in PICKAPIC_COLUMNS if c not in df.columns]
    if missing:
        where = f"{p}, row {header}" if header else str(p)
        raise LabelError(f"{where}, column(s) {missing}: missing; a Pick-a-Pic table needs "
                         f"{', '.join(PICKAPIC_COLUMNS)} (found {', '.join(map(str, df.columns))})")
    meta = {"format": "pickapic", "question_wording": "Which image do you prefer for this prompt? (or tie)",
            "protocol": "pairwise accuracy against the user's choice; ties excluded or counted 0.5 (state which)"}
    if drop_unlabeled and "has_label" in df.columns:
        keep = df["has_label"].astype(str).str.lower().isin(("true", "1", "1.0"))
        meta["dropped_unlabeled"] = int((~keep).sum())
        meta["dropped_unlabeled_rows"] = df.loc[~keep, "__row__"].astype(int).tolist()[:1000]
        df = df[keep]
    if drop_identical and "are_different" in df.columns:
        keep = df["are_different"].astype(str).str.lower().isin(("true", "1", "1.0"))
        meta["dropped_identical"] = int((~keep).sum())
        df = df[keep]
    l0 = pd.to_numeric(df["label_0"], errors="coerce")
    l1 = pd.to_numeric(df["label_1"], errors="coerce")
    problems = []
    rows = df["__row__"].to_numpy()
    for col, v in (("label_0", l0), ("label_1", l1)):
        for i in np.flatnonzero(~v.isin([0.0, 0.5, 1.0]).to_numpy()):
            problems.append(Problem(int(rows[i]), col, f"{p}, row {rows[i]}, column {col!r}: expected 0, 0.5 or 1, "
                                                       f"found {_show(df[col].iloc[i])}; fix the value"))
    both = l0.notna() & l1.notna() & l0.isin([0.0, 0.5, 1.0]) & l1.isin([0.0, 0.5, 1.0])
    for i in np.flatnonzero((both & ~np.isclose(l0 + l1, 1.0)).to_numpy()):
        problems.append(Problem(int(rows[i]), "label_1", f"{p}, row {rows[i]}, column 'label_1': expected label_0 + "
                                                         f"label_1 = 1 (1/0, 0/1 or 0.5/0.5), found {l0.iloc[i]:g} "
                                                         f"and {l1.iloc[i]:g}"))
    problems.sort(key=lambda q: (q.row, q.column))
    if problems and not lenient:
        raise LabelError(f"{problems[0].message}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
                         + "; or pass lenient=True to skip bad rows (they are listed in .skipped)")
    bad_rows = {pr.row for pr in problems}
    ok = ~np.isin(rows, list(bad_rows))
    df, l0 = df[ok], l0[ok]
    out = pd.DataFrame({"item_a": df["image_0_uid"].astype(str), "item_b": df["image_1_uid"].astype(str),
                        "question": question, "preference": l0.astype(np.float64), "prompt": df["caption"],
                        "generator_a": df["model_0"] if "model_0" in df.columns else None,
                        "generator_b": df["model_1"] if "model_1" in df.columns else None,
                        "rater_id": df["user_id"].astype(str) if "user_id" in df.columns else None,
                        "__row__": df["__row__"]})
    for extra in ("ranking_id", "created_at", "are_different", "image_0_url", "image_1_url"):
        if extra in df.columns:
            out[extra] = df[extra].to_numpy()
    ps = PairwiseLabelSet.from_frame(out, name or p.stem, source=str(p), lenient=lenient, meta=meta,
                                     images_root=images_root, known_images=known_images, header_row=header)
    ps.skipped = sorted(problems + ps.skipped, key=lambda q: (q.row, q.column))
    return ps
