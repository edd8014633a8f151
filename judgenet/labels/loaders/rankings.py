"""XMC-GAN-style side-by-side rankings (Zhang et al., CVPR 2021): a rater sees the images that
several generators made for the same prompt and ranks them (1 = best), per question (e.g.
``realism`` and ``alignment``). See ``data_cards/xmcgan.md``.

Input (CSV / TSV / JSONL / Parquet), either

* long: one row per (prompt, rater, question, generator) with ``rank`` and optional ``image``
  (and ``prompt_id``); or
* wide: one row per (prompt, rater, question) with ``rank_<generator>`` columns and optional
  ``image_<generator>`` columns.

:func:`load_rankings` converts every ranking to all its generator pairs: a better (lower) rank
wins, equal ranks are a tie. ``item_a``/``item_b`` are the images when given, else
``"<prompt_id>|<generator>"``. :func:`rank_shares` gives the share of rankings in which each
generator came first — the figure the XMC-GAN paper reports.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ...errors import LabelError
from ..schema import PairwiseLabelSet, read_frame
from ._common import as_path, rename_aliases

__all__ = ["load_rankings", "rankings_to_pairs", "rank_shares", "read_rankings"]

_ALIASES = {"prompt": ("caption", "text"), "rater_id": ("rater", "worker", "worker_id", "annotator"),
            "generator": ("model", "system"), "question": ("aspect", "criterion")}


def read_rankings(path, *, question: str | None = None) -> pd.DataFrame:
    """The rankings of a long or wide file as a long frame: ``prompt, prompt_id, rater_id, question,
    generator, image, rank, __row__`` (validated: numeric ranks ≥ 1, one rank per generator)."""
    p = as_path(path)
    df, header = read_frame(p)
    df = rename_aliases(df, _ALIASES, str(p))
    rank_cols = [c for c in df.columns if str(c).startswith("rank_")]
    if "rank" not in df.columns and rank_cols:
        ids = [c for c in df.columns if c not in rank_cols and not str(c).startswith("image_")]
        parts = []
        for rc in rank_cols:
            g = str(rc)[len("rank_"):]
            part = df[ids].copy()
            part["generator"] = g
            part["rank"] = df[rc]
            part["image"] = df[f"image_{g}"] if f"image_{g}" in df.columns else None
            parts.append(part)
        df = pd.concat(parts, ignore_index=True)
    if "question" not in df.columns:
        if question is None:
            raise LabelError(f"{p}: no question column; pass question=... (e.g. 'realism')")
        df["question"] = question
    where = f"{p}, row {header}" if header else str(p)
    missing = [c for c in ("prompt", "generator", "rank") if c not in df.columns]
    if missing:
        raise LabelError(f"{where}, column(s) {missing}: missing; a rankings file needs prompt, generator and rank "
                         "(long) or prompt and rank_<generator> columns (wide)")
    if "rater_id" not in df.columns:
        df["rater_id"] = None
    if "image" not in df.columns:
        df["image"] = None
    if "prompt_id" not in df.columns:
        codes = {t: f"p{k}" for k, t in enumerate(dict.fromkeys(df["prompt"].astype(str)))}
        df["prompt_id"] = df["prompt"].astype(str).map(codes)
    rank = pd.to_numeric(df["rank"], errors="coerce")
    bad = np.flatnonzero((rank.isna() | (rank < 1)).to_numpy())
    if bad.size:
        i = int(bad[0])
        raise LabelError(f"{p}, row {df['__row__'].iloc[i]}, column 'rank': expected a rank >= 1 (1 = best), found "
                         f"{df['rank'].iloc[i]!r}")
    df["rank"] = rank.astype(np.float64)
    key = df[["prompt_id", "rater_id", "question", "generator"]].astype(str)
    dup = np.flatnonzero(key.duplicated().to_numpy())
    if dup.size:
        i = int(dup[0])
        raise LabelError(f"{p}, row {df['__row__'].iloc[i]}, column 'generator': generator {df['generator'].iloc[i]!r} "
                         f"ranked twice by rater {df['rater_id'].iloc[i]!r} for prompt {df['prompt'].iloc[i]!r} "
                         f"({df['question'].iloc[i]!r}); expected one rank per generator per ranking")
    return df[["prompt", "prompt_id", "rater_id", "question", "generator", "image", "rank", "__row__"]]


def rankings_to_pairs(ranks: pd.DataFrame) -> pd.DataFrame:
    """All generator pairs of every ranking (long frame from :func:`read_rankings`) in the pairwise schema."""
    rows = []
    for (pid, rid, q), g in ranks.groupby(["prompt_id", ranks["rater_id"].astype(str), "question"], sort=False):
        g = g.sort_values("generator")
        recs = g.to_dict("records")
        for x, y in itertools.combinations(recs, 2):
            pref = 1.0 if x["rank"] < y["rank"] else 0.0 if x["rank"] > y["rank"] else 0.5
            ia = x["image"] if x["image"] is not None and pd.notna(x["image"]) else f"{pid}|{x['generator']}"
            ib = y["image"] if y["image"] is not None and pd.notna(y["image"]) else f"{pid}|{y['generator']}"
            rows.append({"item_a": ia, "item_b": ib, "question": q, "preference": pref, "prompt": x["prompt"],
                         "generator_a": x["generator"], "generator_b": y["generator"],
                         "rater_id": x["rater_id"], "prompt_id": pid, "rank_a": x["rank"], "rank_b": y["rank"],
                         "__row__": int(min(x["__row__"], y["__row__"]))})
    if not rows:
        raise LabelError("no ranking has two or more generators; nothing to compare")
    return pd.DataFrame(rows)


def rank_shares(ranks: pd.DataFrame) -> pd.DataFrame:
    """Per (question, generator): share of rankings where it was ranked first (ties share first
    place), mean rank and number of rankings."""
    r = ranks.copy()
    r["_key"] = r["prompt_id"].astype(str) + "\x00" + r["rater_id"].astype(str) + "\x00" + r["question"].astype(str)
    r["_first"] = r["rank"] == r.groupby("_key")["rank"].transform("min")
    out = r.groupby(["question", "generator"]).agg(first_share=("_first", "mean"), mean_rank=("rank", "mean"),
                                                   n_rankings=("_key", "nunique")).reset_index()
    return out


def load_rankings(path, *, name: str | None = None, question: str | None = None,
                  lenient: bool = False) -> PairwiseLabelSet:
    """Rankings file → :class:`PairwiseLabelSet` (all pairs of each ranking; equal ranks = tie).

    ``meta["rank_shares"]`` holds :func:`rank_shares` as records; the long rankings are in
    ``meta["n_rankings"]``-sized form available again through :func:`read_rankings`.
    """
    p = as_path(path)
    ranks = read_rankings(p, question=question)
    pairs = rankings_to_pairs(ranks)
    n_rank = ranks.groupby(["prompt_id", ranks["rater_id"].astype(str), "question"]).ngroups
    meta = {"format": "rankings", "n_rankings": int(n_rank), "rank_shares": rank_shares(ranks).to_dict("records"),
            "question_wording": "Rank the images for this prompt from best (1) to worst",
            "protocol": "share of rankings where a generator is first; pairwise accuracy of a metric on the "
                        "implied pairs (ties excluded)"}
    if "rater_id" in pairs and pairs["rater_id"].isna().all():
        pairs["rater_id"] = None
    return PairwiseLabelSet.from_frame(pairs, name or p.stem, source=str(p), lenient=lenient, meta=meta)
