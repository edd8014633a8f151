"""Per-item aggregation of judgments.

* :func:`aggregate_scores` — mean opinion score (MOS), median, standard deviation and the number
  of judgments per item (``n_raters``); optionally the mean of per-rater z-scores.
* :func:`zscore_by_rater` — each rater's scores on a question centred on that rater's mean and
  divided by that rater's standard deviation (ddof=1), removing rater leniency and scale use.
  A rater with one judgment or constant scores has no usable spread: the score is centred only.
* :func:`aggregate_pairs` — soft label (mean preference for a) and majority label per unordered
  pair; judgments given in the order (b, a) are flipped to the pair's first-seen orientation.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import LabelError

__all__ = ["aggregate_scores", "zscore_by_rater", "aggregate_pairs", "METHODS"]

METHODS = ("mean", "median", "zmean")


def zscore_by_rater(frame: pd.DataFrame) -> pd.Series:
    """Per-(rater, question) z-scores of ``frame["score"]`` (float64, aligned with ``frame``).

    Raises :class:`LabelError` if any row has no ``rater_id`` — z-normalization is per rater.
    """
    if frame["rater_id"].isna().any():
        n = int(frame["rater_id"].isna().sum())
        raise LabelError(f"per-rater z-normalization needs rater_id on every judgment; {n} row(s) have none — "
                         "use method='mean' or 'median' for anonymous judgments")
    s = frame["score"].astype(np.float64)
    g = s.groupby([frame["rater_id"].astype(str), frame["question"].astype(str)])
    mu = g.transform("mean")
    sd = g.transform("std")
    sd = sd.where(sd > 0, 1.0).fillna(1.0)
    return (s - mu) / sd


def aggregate_scores(frame: pd.DataFrame, question: str, method: str = "mean") -> pd.DataFrame:
    """One row per item of ``question``, in order of first appearance.

    Returns columns ``item_id, image, prompt, generator, score, mean, median, std, n_raters``
    (+ ``zmean`` when ``method="zmean"``), where ``score`` is the column named by ``method``,
    ``std`` the sample standard deviation (NaN for one judgment) and ``n_raters`` the number of
    judgments of the item (anonymous judgments count one each).
    """
    if method not in METHODS:
        raise LabelError(f"unknown aggregation {method!r}; use one of {', '.join(METHODS)}")
    sub = frame[frame["question"].astype(str) == question]
    if sub.empty:
        raise LabelError(f"no judgments for question {question!r}")
    grp = sub.groupby("item_id", sort=False)
    out = grp[["image", "prompt", "generator"]].first()
    sc = grp["score"]
    out["mean"] = sc.mean()
    out["median"] = sc.median()
    out["std"] = sc.std()
    out["n_raters"] = sc.size().astype(np.int64)
    if method == "zmean":
        z = zscore_by_rater(frame).loc[sub.index]
        out["zmean"] = z.groupby(sub["item_id"], sort=False).mean()
    out["score"] = out[method]
    cols = ["image", "prompt", "generator", "score", "mean", "median", "std", "n_raters"]
    cols += ["zmean"] if method == "zmean" else []
    return out[cols].reset_index()


def aggregate_pairs(frame: pd.DataFrame, question: str) -> pd.DataFrame:
    """Soft and majority labels per unordered pair of ``question`` (first-seen orientation).

    Columns: ``item_a, item_b, prompt, generator_a, generator_b, preference`` (mean P(a
    preferred) weighted by the judgments' ``weight`` — 1 each, 2 / (k(k − 1)) for pairs from a
    ranking of k —, ties count 0.5), ``majority`` (``a`` if preference > 0.5, ``b`` if < 0.5,
    else ``tie``), ``n_a, n_b, n_tie`` (hard choices), ``n_raters`` (judgments of the pair) and
    ``weight`` (their summed weight).
    """
    sub = frame[frame["question"].astype(str) == question].copy()
    if sub.empty:
        raise LabelError(f"no pairwise judgments for question {question!r}")
    a, b = sub["item_a"].astype(str).to_numpy(), sub["item_b"].astype(str).to_numpy()
    lo, hi = np.where(a < b, a, b), np.where(a < b, b, a)
    key = pd.Series([f"{x}\x00{y}" for x, y in zip(lo, hi)], index=sub.index)
    first_a = pd.Series(a, index=sub.index).groupby(key, sort=False).transform("first").to_numpy()
    flip = a != first_a
    pref = sub["preference"].astype(np.float64).to_numpy().copy()
    pref[flip] = 1.0 - pref[flip]
    ga, gb = sub["generator_a"].to_numpy(copy=True), sub["generator_b"].to_numpy(copy=True)
    ga[flip], gb[flip] = sub["generator_b"].to_numpy()[flip], sub["generator_a"].to_numpy()[flip]
    ia, ib = np.where(flip, b, a), np.where(flip, a, b)
    w = sub["weight"].astype(np.float64).to_numpy() if "weight" in sub.columns else np.ones(len(sub))
    t = pd.DataFrame({"key": key.to_numpy(), "item_a": ia, "item_b": ib, "prompt": sub["prompt"].to_numpy(),
                      "generator_a": ga, "generator_b": gb, "preference": pref, "w": w, "wp": w * pref,
                      "is_a": pref > 0.5, "is_b": pref < 0.5, "is_tie": pref == 0.5})
    g = t.groupby("key", sort=False)
    out = g[["item_a", "item_b", "prompt", "generator_a", "generator_b"]].first()
    wsum = g["w"].sum()
    out["preference"] = np.where(wsum > 0, g["wp"].sum() / wsum.where(wsum > 0, 1.0), 0.5)
    out["majority"] = np.where(out["preference"] > 0.5, "a", np.where(out["preference"] < 0.5, "b", "tie"))
    out["n_a"] = g["is_a"].sum().astype(np.int64)
    out["n_b"] = g["is_b"].sum().astype(np.int64)
    out["n_tie"] = g["is_tie"].sum().astype(np.int64)
    out["n_raters"] = g.size().astype(np.int64)
    out["weight"] = wsum
    return out.reset_index(drop=True)
