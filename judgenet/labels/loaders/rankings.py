"""XMC-GAN-style side-by-side rankings (Zhang et al., CVPR 2021): a rater sees the images that
several generators made for the same prompt and ranks them (1 = best), per question (e.g.
``realism`` and ``alignment``). See ``data_cards/xmcgan.md``.

Input (CSV / TSV / JSONL / Parquet), either

* long: one row per (prompt, rater, question, generator) with ``rank`` and optional ``image``
  (and ``prompt_id``); or
* wide: one row per (prompt, rater, question) with ``rank_<generator>`` columns and optional
  ``image_<generator>`` columns.

:func:`load_rankings` converts every ranking to all its generator pairs: a better (lower) rank
wins. ``item_a``/``item_b`` are the images when given, else ``"<prompt_id>|<generator>"``.

Validation (per ranking = prompt × rater × question): ranks must be 1..k, each once (k items
ranked). Equal ranks (ties) and gaps (1, 2, 4) are errors naming file, row and fix; with
``allow_ties=True`` equal ranks are ties (preference 0.5) and the ranks must be a standard
competition ranking (1, 1, 3) or a dense one (1, 1, 2); ``lenient=True`` skips a bad ranking
whole and lists it in ``.skipped``.

**Weighting** (documented choice): with ``weighting="ranking"`` (default) each of a ranking's
k(k − 1)/2 pairs gets ``weight`` 2 / (k(k − 1)), so every ranking counts as much as one pairwise
judgment in aggregation and training — a 4-way ranking does not outweigh a side-by-side choice
six times; ``weighting="pair"`` gives every derived pair weight 1.

:func:`rank_shares` gives the share of rankings in which each
generator came first — the figure the XMC-GAN paper reports.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ...errors import LabelError
from ..files import read_frame
from ..labelset import PairwiseLabelSet
from ..schema import Problem, _show
from ._common import as_path, rename_aliases

__all__ = ["load_rankings", "rankings_to_pairs", "rank_shares", "read_rankings"]

_ALIASES = {"prompt": ("caption", "text"), "rater_id": ("rater", "worker", "worker_id", "annotator"),
            "generator": ("model", "system"), "question": ("aspect", "criterion")}


def _ranking_problem(ranks: np.ndarray, allow_ties: bool) -> str | None:
    """Why a ranking's ranks (one per item) are not valid, or None."""
    r = np.sort(ranks)
    k = r.size
    if not allow_ties:
        if np.unique(r).size < k:
            return "has equal ranks (a tie); pass allow_ties=True to read equal ranks as ties, or fix the ranks"
        if not np.array_equal(r, np.arange(1, k + 1)):
            return (f"skips ranks (expected each of 1..{k} once); renumber the ranks 1..{k} or add the missing "
                    "item's row")
        return None
    better = np.searchsorted(r, r, side="left")  # items strictly better
    dense = np.searchsorted(np.unique(r), r) + 1
    if np.array_equal(r, better + 1) or np.array_equal(r, dense):
        return None
    return (f"skips ranks (expected a competition ranking such as 1, 1, 3 or a dense one such as 1, 1, 2 for "
            f"{k} items); renumber the ranks")


def read_rankings(path, *, question: str | None = None, allow_ties: bool = False,
                  lenient: bool = False) -> pd.DataFrame:
    """The rankings of a long or wide file as a long frame: ``prompt, prompt_id, rater_id, question,
    generator, image, rank, __row__`` (validated: numeric ranks ≥ 1, one rank per generator, no ties
    unless ``allow_ties``, no gaps). With ``lenient=True`` a bad ranking is dropped whole and listed
    (as :class:`~judgenet.labels.Problem`) in ``frame.attrs["skipped"]``."""
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
                         f"{_show(df['rank'].iloc[i])}")
    df["rank"] = rank.astype(np.float64)
    key = df[["prompt_id", "rater_id", "question", "generator"]].astype(str)
    dup = np.flatnonzero(key.duplicated().to_numpy())
    if dup.size:
        i = int(dup[0])
        raise LabelError(f"{p}, row {df['__row__'].iloc[i]}, column 'generator': generator "
                         f"{_show(df['generator'].iloc[i])} "
                         f"ranked twice by rater {_show(df['rater_id'].iloc[i])} for prompt {_show(df['prompt'].iloc[i])} "
                         f"({_show(df['question'].iloc[i])}); expected one rank per generator per ranking")
    problems, bad_rows = [], []
    groups = df.groupby([df["prompt_id"].astype(str), df["rater_id"].astype(str), df["question"].astype(str)],
                        sort=False)
    for (pid, rid, q), g in groups:
        why = _ranking_problem(g["rank"].to_numpy(), allow_ties)
        if why is None:
            continue
        row = int(g["__row__"].min())
        ranks = ", ".join(f"{x:g}" for x in g["rank"])
        who = "" if rid == "None" else f" by rater {rid!r}"
        problems.append(Problem(row, "rank", f"{p}, row {row}, column 'rank': the ranking of prompt "
                                             f"{str(g['prompt'].iloc[0])!r}{who} ({q}) has ranks {ranks} — it {why}"))
        bad_rows += g.index.tolist()
    if problems and not lenient:
        more = f" (and {len(problems) - 1} more bad ranking(s))" if len(problems) > 1 else ""
        raise LabelError(problems[0].message + more + "; or pass lenient=True (CLI: --lenient) to skip bad rankings")
    df = df.drop(index=bad_rows)
    if df.empty:
        raise LabelError(f"{p}: no valid ranking left ({len(problems)} skipped; first: {problems[0].message})")
    out = df[["prompt", "prompt_id", "rater_id", "question", "generator", "image", "rank", "__row__"]].copy()
    out.attrs["skipped"] = problems
    return out


def rankings_to_pairs(ranks: pd.DataFrame, weighting: str = "ranking") -> pd.DataFrame:
    """All generator pairs of every ranking (long frame from :func:`read_rankings`) in the pairwise
    schema, with ``weight`` 2 / (k(k − 1)) per pair of a k-item ranking (``weighting="ranking"``: each
    ranking counts once) or 1 (``"pair"``)."""
    if weighting not in ("ranking", "pair"):
        raise LabelError(f"weighting must be 'ranking' or 'pair', got {weighting!r}")
    rows = []
    for (pid, rid, q), g in ranks.groupby(["prompt_id", ranks["rater_id"].astype(str), "question"], sort=False):
        g = g.sort_values("generator")
        recs = g.to_dict("records")
        k = len(recs)
        w = 2.0 / (k * (k - 1)) if weighting == "ranking" and k > 1 else 1.0
        for x, y in itertools.combinations(recs, 2):
            pref = 1.0 if x["rank"] < y["rank"] else 0.0 if x["rank"] > y["rank"] else 0.5
            ia = x["image"] if x["image"] is not None and pd.notna(x["image"]) else f"{pid}|{x['generator']}"
            ib = y["image"] if y["image"] is not None and pd.notna(y["image"]) else f"{pid}|{y['generator']}"
            rows.append({"item_a": ia, "item_b": ib, "question": q, "preference": pref, "prompt": x["prompt"],
                         "generator_a": x["generator"], "generator_b": y["generator"],
                         "rater_id": x["rater_id"], "prompt_id": pid, "rank_a": x["rank"], "rank_b": y["rank"],
                         "weight": w,
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


def load_rankings(path, *, name: str | None = None, question: str | None = None, allow_ties: bool = False,
                  weighting: str = "ranking", lenient: bool = False) -> PairwiseLabelSet:
    """Rankings file → :class:`PairwiseLabelSet` (all pairs of each ranking, weighted as documented
    in the module; equal ranks are an error unless ``allow_ties=True``, then a tie).

    ``meta["rank_shares"]`` holds :func:`rank_shares` as records; the long rankings are in
    ``meta["n_rankings"]``-sized form available again through :func:`read_rankings`.
    """
    p = as_path(path)
    ranks = read_rankings(p, question=question, allow_ties=allow_ties, lenient=lenient)
    pairs = rankings_to_pairs(ranks, weighting)
    n_rank = ranks.groupby(["prompt_id", ranks["rater_id"].astype(str), "question"]).ngroups
    meta = {"format": "rankings", "n_rankings": int(n_rank), "rank_shares": rank_shares(ranks).to_dict("records"),
            "question_wording": "Rank the images for this prompt from best (1) to worst",
            "protocol": "share of rankings where a generator is first; pairwise accuracy of a metric on the "
                        "implied pairs (ties excluded)"}
    if "rater_id" in pairs and pairs["rater_id"].isna().all():
        pairs["rater_id"] = None
    meta["weighting"] = weighting
    ps = PairwiseLabelSet.from_frame(pairs, name or p.stem, source=str(p), lenient=lenient, meta=meta)
    ps.skipped = sorted(list(ranks.attrs.get("skipped", [])) + ps.skipped, key=lambda q: (q.row, q.column))
    return ps
