"""Flickr8k-Expert and Flickr8k-CrowdFlower (Hodosh, Young & Hockenmaier 2013).

Files (``<root>/flickr8k/``): ``ExpertAnnotations.txt`` / ``CrowdFlowerAnnotations.txt`` (tab-separated,
no header: image, caption id, scores) and ``Flickr8k.token.txt`` (``caption_id<TAB>caption``, the 5
references per image). See ``data_cards/flickr8k-expert.md`` and ``flickr8k-cf.md``.

Each judged item is an (image, candidate caption) pair: ``item_id = "<image>|<caption_id>"``,
``image`` the query image, ``prompt`` the candidate caption text, ``generator = "flickr8k-retrieval"``
(candidates come from Hodosh et al.'s retrieval systems' pools, not from generators), plus columns
``caption_id`` and ``own_reference`` (the candidate is one of the image's own 5 captions).
References: ``meta["references"]`` maps every image of the token file to its captions; caption ids
are split at the last ``#`` so the spurious ``2258277193_586949ec62.jpg.1`` key stays separate.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import LabelError
from ..labelset import LabelSet
from ._common import resolve_root

__all__ = ["load_flickr8k_expert", "load_flickr8k_cf", "read_flickr8k_tokens"]

GENERATOR = "flickr8k-retrieval"


def read_flickr8k_tokens(path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """``(caption by caption_id, captions by image)`` from ``Flickr8k.token.txt``."""
    caps: dict[str, str] = {}
    refs: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            if "\t" not in line:
                raise LabelError(f"{path}, row {n}, column 'caption': expected 'caption_id<TAB>caption', found no tab "
                                 "(a damaged mirror? see data_cards/flickr8k-expert.md for the checksums)")
            cid, cap = line.split("\t", 1)
            caps[cid] = cap
            refs.setdefault(cid.rsplit("#", 1)[0], []).append(cap)
    return caps, refs


def _read_table(path: Path, names: list[str], numeric: list[str]) -> pd.DataFrame:
    df = pd.read_csv(path, sep="\t", header=None, names=names, dtype=str, keep_default_na=False,
                     quoting=3)  # QUOTE_NONE: captions and ids are raw text
    if df.shape[1] != len(names) or df.iloc[:, -1].isna().any() or (df.iloc[:, -1] == "").any():
        bad = int(np.flatnonzero((df.iloc[:, -1].isna() | (df.iloc[:, -1] == "")).to_numpy())[0]) + 1
        raise LabelError(f"{path}, row {bad}, column {names[-1]!r}: expected {len(names)} tab-separated columns "
                         f"({', '.join(names)}); fix the line")
    for c in numeric:
        num = pd.to_numeric(df[c], errors="coerce")
        if num.isna().any():
            i = int(np.flatnonzero(num.isna().to_numpy())[0])
            raise LabelError(f"{path}, row {i + 1}, column {c!r}: expected a number, found {df[c].iloc[i]!r}")
        df[c] = num.astype(np.float64)
    df["__row__"] = np.arange(len(df), dtype=np.int64) + 1
    return df


def _caption_text(df: pd.DataFrame, caps: dict, path: Path) -> pd.Series:
    text = df["caption_id"].map(caps)
    if text.isna().any():
        i = int(np.flatnonzero(text.isna().to_numpy())[0])
        raise LabelError(f"{path}, row {df['__row__'].iloc[i]}, column 'caption_id': caption "
                         f"{df['caption_id'].iloc[i]!r} is not in Flickr8k.token.txt; use the unedited token file")
    return text


def _read_pairs(root, filename: str, name: str, columns, numeric, drop_own_references: bool):
    """Shared prelude of the Flickr8k loaders: read ``filename`` and the token file, attach the
    candidate caption as ``prompt``, flag (and optionally drop) own-reference candidates.
    Returns ``(path, frame, references, n_own_reference_pairs)``."""
    r = resolve_root(root, [f"flickr8k/{filename}", "flickr8k/Flickr8k.token.txt"], name)
    path = r / "flickr8k" / filename
    df = _read_table(path, columns, numeric)
    caps, refs = read_flickr8k_tokens(r / "flickr8k/Flickr8k.token.txt")
    df["prompt"] = _caption_text(df, caps, path)
    df["own_reference"] = df["caption_id"].str.rsplit("#", n=1).str[0] == df["image"]
    n_own = int(df["own_reference"].sum())
    if drop_own_references:
        df = df[~df["own_reference"]]
    return path, df, refs, n_own


def load_flickr8k_expert(root=None, *, drop_own_references: bool = True, lenient: bool = False) -> LabelSet:
    """Flickr8k-Expert: three expert scores 1–4 per (image, caption), question ``describes``.

    Long format: one row per expert score, raters ``expert1..3`` (the three score *columns*; the
    file does not say whether the same three people scored every pair). ``drop_own_references``
    (default, the SPICE / CLIPScore protocol) drops the 158 pairs whose candidate is one of the
    image's own captions: 5,664 pairs, 16,992 rows; without it 5,822 pairs, 17,466 rows.
    Literature protocol: Kendall tau-c over the 16,992 (candidate, score) rows.
    """
    path, df, refs, n_own = _read_pairs(root, "ExpertAnnotations.txt", "flickr8k-expert",
                                        ["image", "caption_id", "expert1", "expert2", "expert3"],
                                        ["expert1", "expert2", "expert3"], drop_own_references)
    long = df.melt(id_vars=["image", "caption_id", "prompt", "own_reference", "__row__"],
                   value_vars=["expert1", "expert2", "expert3"], var_name="rater_id", value_name="score")
    long = long.sort_values(["__row__", "rater_id"], kind="stable")
    long["item_id"] = long["image"] + "|" + long["caption_id"]
    long["generator"] = GENERATOR
    long["question"] = "describes"
    meta = {"references": refs, "protocol": "Kendall tau-c over all (candidate, expert score) rows",
            "drop_own_references": drop_own_references, "n_own_reference_pairs": n_own,
            "n_pairs_in_file": int(n_own + (~df["own_reference"]).sum()) if drop_own_references else int(len(df)),
            "question_wording": "1: does not describe the image at all; 2: describes minor aspects only; "
                                "3: almost describes the image, minor mistakes; 4: describes the image"}
    return LabelSet.from_frame(long, "flickr8k-expert", scales={"describes": (1, 4)}, source=str(path),
                               lenient=lenient, meta=meta)


def load_flickr8k_cf(root=None, *, drop_own_references: bool = False, lenient: bool = False) -> LabelSet:
    """Flickr8k-CrowdFlower: share of "yes" votes (≥ 3 CrowdFlower workers) per (image, caption).

    One row per pair (47,830), question ``describes`` on [0, 1], ``rater_id`` None (only the
    counts are published), columns ``n_yes``, ``n_no``, ``n_votes``. The literature keeps all
    pairs and removes a judged own caption from the references in one of two ways, named in
    :mod:`judgenet.captions.protocols`: ``clipscore-shared`` (the published Table 2: removed from
    a list shared by the whole image, so every candidate of that image loses it) and ``per-item``
    (only from that candidate's list, what :func:`judgenet.labels.item_references` does; 0.4-0.9
    tau-b points higher, not the published protocol). ``drop_own_references=True`` instead drops
    those 721 pairs. Literature measure: Kendall tau-b. See ``data_cards/flickr8k-cf.md``.
    """
    path, df, refs, n_own = _read_pairs(root, "CrowdFlowerAnnotations.txt", "flickr8k-cf",
                                        ["image", "caption_id", "score", "n_yes", "n_no"],
                                        ["score", "n_yes", "n_no"], drop_own_references)
    df["n_yes"] = df["n_yes"].astype(np.int64)
    df["n_no"] = df["n_no"].astype(np.int64)
    df["n_votes"] = df["n_yes"] + df["n_no"]
    df["item_id"] = df["image"] + "|" + df["caption_id"]
    df["generator"] = GENERATOR
    df["question"] = "describes"
    df["rater_id"] = None
    meta = {"references": refs, "protocol": "Kendall tau-b; a judged own caption removed from the image's shared "
                                            "reference list (clipscore-shared, the published protocol)",
            "drop_own_references": drop_own_references, "n_own_reference_pairs": n_own,
            "question_wording": "Does the caption describe the image (possibly with minor mistakes)? yes / no; "
                                "score = share of yes votes"}
    return LabelSet.from_frame(df, "flickr8k-cf", scales={"describes": (0, 1)}, source=str(path), lenient=lenient,
                               meta=meta)
