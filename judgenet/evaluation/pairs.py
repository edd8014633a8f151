"""Comparative (pairwise) judgments as data: :class:`Pairs` (judgments aggregated per unordered item pair, the
rater-level judgments kept), :func:`pairs_from_labels` (from a :class:`~judgenet.labels.PairwiseLabelSet`) and
the rater ceiling of pairwise labels (:func:`pairwise_rater_ceiling`).

``X_items`` (n_items, n_features) holds one row per judged item (an image — or a caption: nothing here assumes
images); a :class:`Pairs` indexes its rows. The soft preference of a pair is the weighted mean of its judgments'
P(a preferred) (ties 0.5).

Rater ceiling: every judgment against the majority of the *other* judgments of the same pair (pairs with ≥ 2
judgments; the rater's tie scores ½; an others' tie follows ``tie_policy``), pooled, with a prompt-clustered CI;
and the rater-pair agreement (two raters of a pair make the same untied choice) — the 66% kind of figure.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError, LabelError
from ..stats import Estimate, _percentile, resample_weights

__all__ = ["Pairs", "pairs_from_labels", "pairwise_rater_ceiling", "TIE_POLICIES"]

TIE_POLICIES = ("exclude", "half")


@dataclass
class Pairs:
    """Pairwise judgments aggregated per unordered item pair (``a < b`` as item indices).

    Attributes (n_pairs,): ``a``, ``b`` (int rows of ``X_items``), ``preference`` (weighted mean
    P(a ≻ b), float64), ``n_votes`` (judgments), ``weight`` (summed judgment weights — the
    training weight), ``prompt`` (str or None). ``judgments``: DataFrame ``pair, rater_id,
    preference, weight`` (one row per judgment, preference oriented to the pair's a) or None.
    """

    a: np.ndarray
    b: np.ndarray
    preference: np.ndarray
    n_votes: np.ndarray
    weight: np.ndarray
    prompt: np.ndarray | None = None
    judgments: pd.DataFrame | None = None
    skipped: list = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.a.size)

    @classmethod
    def from_judgments(cls, idx_a, idx_b, preference, *, rater_id=None, weight=None, prompt=None) -> "Pairs":
        """Aggregate judgments (one per row; a pair may be given in either order) per unordered pair."""
        ia, ib = np.asarray(idx_a, dtype=np.intp).ravel(), np.asarray(idx_b, dtype=np.intp).ravel()
        p = np.asarray(preference, dtype=np.float64).ravel()
        w = np.ones_like(p) if weight is None else np.asarray(weight, dtype=np.float64).ravel()
        if not (ia.shape == ib.shape == p.shape == w.shape) or ia.size == 0:
            raise ConfigError("idx_a, idx_b, preference (and weight) must be non-empty and of equal length")
        if (ia == ib).any():
            raise ConfigError(f"judgment {int(np.flatnonzero(ia == ib)[0])} compares an item with itself")
        if ((p < 0) | (p > 1) | ~np.isfinite(p)).any() or (w < 0).any():
            raise ConfigError("preferences must lie in [0, 1] and weights be >= 0")
        flip = ia > ib
        lo, hi = np.where(flip, ib, ia), np.where(flip, ia, ib)
        po = np.where(flip, 1.0 - p, p)
        key = pd.MultiIndex.from_arrays([lo, hi])
        codes, uniq = pd.factorize(key)
        n = len(uniq)
        wsum = np.bincount(codes, w, n)
        pref = np.divide(np.bincount(codes, w * po, n), wsum, out=np.full(n, 0.5), where=wsum > 0)
        a = np.asarray([k[0] for k in uniq], dtype=np.intp)
        b = np.asarray([k[1] for k in uniq], dtype=np.intp)
        pr = None
        if prompt is not None:
            prm = np.asarray(prompt, dtype=object).ravel()
            first = pd.Series(prm).groupby(codes, sort=True).first()
            pr = first.to_numpy(dtype=object)
        judg = pd.DataFrame({"pair": codes, "rater_id": None if rater_id is None else np.asarray(rater_id, object),
                             "preference": po, "weight": w})
        return cls(a, b, pref, np.bincount(codes, minlength=n).astype(np.float64), wsum, pr, judg)

    def pair_array(self) -> np.ndarray:
        """(n_pairs, 4) ``[a, b, preference, weight]`` for a pairwise model's ``fit``."""
        return np.c_[self.a, self.b, self.preference, self.weight].astype(np.float64)


def pairs_from_labels(labels, question: str | None = None, item_ids: Sequence[str] | None = None, *,
                      lenient: bool = False) -> Pairs:
    """A :class:`~judgenet.labels.PairwiseLabelSet` → :class:`Pairs` over ``item_ids`` (the rows of
    ``X_items``, in order; default: ``labels.items()["item_id"]``). A judgment naming an item not in
    ``item_ids`` is a :class:`LabelError` naming the item, its row and the fix; with ``lenient=True``
    such judgments are dropped and listed in ``Pairs.skipped`` (e.g. images that could not be read).

    The bootstrap cluster of a pair is its ``prompt`` (or, for caption sets without prompts, its
    ``image``). Rows without ``rater_id`` that carry vote counts (``n_votes``, ``votes_a``, optional
    ``votes_tie``; e.g. Pascal-50S) are expanded to one judgment per vote, each with the row's
    ``weight`` (as rater-level rows would be), so the rater ceiling can be computed from the vote
    split."""
    f = labels.frame
    question = question or labels.questions[0]
    f = f[f["question"].astype(str) == question]
    if f.empty:
        raise LabelError(f"{labels.name}: no pairwise judgments for question {question!r}")
    if item_ids is None:
        item_ids = labels.items()["item_id"].tolist()
    pos = {str(k): i for i, k in enumerate(item_ids)}
    src = labels.source or labels.name
    va, vb = f["item_a"].astype(str).map(pos), f["item_b"].astype(str).map(pos)
    unknown = (va.isna() | vb.isna()).to_numpy()
    skipped = []
    if unknown.any():
        for i in np.flatnonzero(unknown):
            col = "item_a" if pd.isna(va.iloc[i]) else "item_b"
            skipped.append(f"{src}: judgment {i + 1} of {question!r}, column {col!r}: item {f[col].iloc[i]!r} has no "
                           "features")
        if not lenient:
            raise LabelError(f"{skipped[0]} ({int(unknown.sum())} judgment(s) name items without features); give "
                             "every item an image (or text) that can be read, or drop its judgments (lenient=True / "
                             "--lenient skips and lists them)")
        f, va, vb = f[~unknown], va[~unknown], vb[~unknown]
        if f.empty:
            raise LabelError(f"{src}: no judgment of {question!r} names two items with features")
    idx = [va.to_numpy(dtype=np.intp), vb.to_numpy(dtype=np.intp)]
    w = f["weight"].to_numpy(np.float64) if "weight" in f.columns else np.ones(len(f))
    prompt = None
    for col in ("prompt", "image"):  # caption sets (Pascal-50S): the image plays the prompt's part
        if col in f.columns and f[col].notna().all():
            prompt = f[col].astype(str).to_numpy(object)
            break
    rater = f["rater_id"].to_numpy(object) if "rater_id" in f.columns else None
    pref = f["preference"].to_numpy(np.float64)
    if "n_votes" in f.columns and "votes_a" in f.columns and (rater is None or pd.isna(rater).all()):
        # one row per pair with its vote counts (e.g. Pascal-50S): expand to one judgment per vote
        n = f["n_votes"].to_numpy(np.int64)
        va = f["votes_a"].to_numpy(np.int64)
        vt = f["votes_tie"].to_numpy(np.int64) if "votes_tie" in f.columns else np.zeros_like(n)
        rep = np.repeat(np.arange(len(f)), n)
        k = np.arange(rep.size) - np.repeat(np.cumsum(n) - n, n)  # vote number within its pair
        vote = np.where(k < va[rep], 1.0, np.where(k < va[rep] + vt[rep], 0.5, 0.0))
        out = Pairs.from_judgments(idx[0][rep], idx[1][rep], vote, weight=w[rep],
                                   prompt=None if prompt is None else prompt[rep])
    else:
        out = Pairs.from_judgments(idx[0], idx[1], pref, rater_id=rater, weight=w, prompt=prompt)
    out.skipped = skipped
    return out


def _ratio(num, den):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _ceiling_contrib(pairs: Pairs, tie_policy: str):
    """Per judgment: (num, den) of rater-vs-majority-of-others, and per pair: (agreeing, compared)
    rater pairs; with each one's pair index."""
    j = pairs.judgments
    if j is None or j.empty:
        raise ConfigError("the rater ceiling needs the rater-level judgments (Pairs.judgments)")
    pair = j["pair"].to_numpy(np.intp)
    pref = j["preference"].to_numpy(np.float64)
    w = j["weight"].to_numpy(np.float64)
    n = len(pairs)
    wsum = np.bincount(pair, w, n)
    psum = np.bincount(pair, w * pref, n)
    cnt = np.bincount(pair, minlength=n)
    ok = cnt[pair] >= 2
    w_other = wsum[pair] - w
    m_other = _ratio(psum[pair] - w * pref, w_other)
    h = np.sign(np.nan_to_num(m_other - 0.5))
    r = np.sign(pref - 0.5)
    correct = np.where(r == 0, 0.5, (r == h).astype(np.float64))
    tie = (h == 0) | (w_other <= 0)
    if tie_policy == "exclude":
        num, den = np.where(tie, 0.0, correct), (~tie).astype(np.float64)
    else:
        num, den = np.where(tie, 0.5, correct), np.ones_like(correct)
    num, den = np.where(ok, num * w, 0.0), np.where(ok, den * w, 0.0)
    na = np.bincount(pair, (pref > 0.5).astype(float), n)
    nb = np.bincount(pair, (pref < 0.5).astype(float), n)
    agree = na * (na - 1) / 2 + nb * (nb - 1) / 2
    total = (na + nb) * (na + nb - 1) / 2
    return pair, num, den, agree, total


def _clusters(pairs: Pairs) -> np.ndarray:
    """Cluster id (prompt) of every pair; pairs without a prompt are their own cluster."""
    if pairs.prompt is None:
        return np.arange(len(pairs))
    return pd.factorize(pd.Series(pairs.prompt).astype(str))[0]


def pairwise_rater_ceiling(pairs: Pairs, *, tie_policy: str = "exclude", n_resamples: int = 1000, seed: int = 0,
                           confidence: float = 0.95) -> dict:
    """Rater ceiling for pairwise labels (module docstring) → ``{"rater_vs_majority": Estimate,
    "rater_pair_agreement": Estimate, "n_judgments": int, "n_pairs_multi": int, "tie_policy"}``.
    CIs resample prompts (or pairs without prompts)."""
    pair, num, den, agree, total = _ceiling_contrib(pairs, tie_policy)
    cl = _clusters(pairs)
    K = cl.max() + 1
    cj = cl[pair]
    sums = [np.bincount(cj, num, K), np.bincount(cj, den, K), np.bincount(cl, agree, K), np.bincount(cl, total, K)]
    W = resample_weights(K, None, n_resamples, seed)
    out = {}
    for name, (a, b) in {"rater_vs_majority": (sums[0], sums[1]), "rater_pair_agreement": (sums[2], sums[3])}.items():
        point = float(_ratio(a.sum(), b.sum()))
        out[name] = Estimate(point, *_percentile(_ratio(W @ a, W @ b), confidence), n_resamples, confidence)
    cnt = np.bincount(pair, minlength=len(pairs))
    out.update({"n_judgments": int(pair.size), "n_pairs_multi": int((cnt >= 2).sum()), "tie_policy": tie_policy})
    return out
