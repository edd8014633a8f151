"""Pascal-50S (Vedantam, Zitnick & Parikh, CVPR 2015): ``pascal50s/pair_pascal.mat`` and
``pascal50s/pascal50S.mat`` as in ``vrama91/cider-matlab`` @ ``febe63b``. See ``data_cards/pascal50s.md``.

One pairwise row per caption pair (4,000): ``item_a = "<image>#<pair>#a"``, ``item_b = ...#b``,
question ``better_caption``, ``preference`` = share of the pair's 10–11 bundled votes for
sentence 1 (+1 votes), ``choice`` its majority (there are no ties in this file), ``image`` the
PASCAL file name, ``caption_a``/``caption_b`` the stripped sentences, ``category`` HC / HI / HM /
MM, ``source_a``/``source_b`` the ``new_data`` codes and ``generator_a``/``generator_b`` their
names (``machine1``–``machine5``, ``human``, ``human-other-image``), ``n_votes``, ``votes_a``.

These are **not** the 48-vote consensus labels (``consensus_pascal.mat``) that published
Pascal-50S accuracies use; accuracies computed with them are only approximately comparable.
``meta["references"]`` maps each image to its 50 stripped reference sentences; use
:func:`sample_references` for the usual 5-reference protocol.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...errors import LabelError
from ..labelset import PairwiseLabelSet
from ._common import resolve_root

__all__ = ["load_pascal50s", "sample_references", "PASCAL_CATEGORIES", "PASCAL_SOURCES", "category_accuracy"]

PASCAL_CATEGORIES = {1: "HC", 2: "HI", 3: "HM", 4: "MM"}
PASCAL_SOURCES = {**{k: f"machine{k}" for k in range(1, 6)}, 6: "human", 7: "human-other-image"}


def _str(x) -> str:
    return str(np.asarray(x).ravel()[0]) if np.asarray(x).size else ""


def load_pascal50s(root=None, *, lenient: bool = False) -> PairwiseLabelSet:
    """The 4,000 Pascal-50S caption pairs with their bundled votes (module docstring).

    Vote arrays are stored partly as uint8 (the unanimous +1 pairs) and partly as int16; they are
    cast to a signed type before counting. Categories are interleaved in the file; the frame keeps
    file order (``pair`` = 0-based index). Sentences are stripped of surrounding spaces.
    """
    from scipy.io import loadmat

    r = resolve_root(root, ["pascal50s/pair_pascal.mat", "pascal50s/pascal50S.mat"], "pascal50s")
    path = r / "pascal50s/pair_pascal.mat"
    m = loadmat(path)
    for k in ("new_input", "new_data", "category", "result"):
        if k not in m:
            raise LabelError(f"{path}: variable {k!r} missing; expected new_input, new_data, category, result "
                             "(the pair_pascal.mat of vrama91/cider-matlab@febe63b)")
    inp, res = m["new_input"].ravel(), m["result"].ravel()
    cats = np.asarray(m["category"]).ravel().astype(np.int64)
    src = np.asarray(m["new_data"]).astype(np.int64).reshape(-1, 2)
    n = inp.shape[0]
    if not (res.shape[0] == cats.shape[0] == src.shape[0] == n):
        raise LabelError(f"{path}: new_input has {n} pairs but result {res.shape[0]}, category {cats.shape[0]}, "
                         f"new_data {src.shape[0]}; expected equal lengths")
    rows = []
    for i in range(n):
        name = _str(inp[i]["name"]).strip()
        votes = np.asarray(res[i]["result"]).ravel().astype(np.int64)  # uint8 / int16 mixed: signed first
        if votes.size == 0 or not np.isin(votes, (-1, 1)).all():
            raise LabelError(f"{path}, row {i + 1}, column 'result': expected votes of +1 / -1, found {votes.tolist()}")
        if int(cats[i]) not in PASCAL_CATEGORIES:
            raise LabelError(f"{path}, row {i + 1}, column 'category': expected 1-4, found {int(cats[i])}")
        va = int((votes > 0).sum())
        rows.append({"item_a": f"{name}#{i}#a", "item_b": f"{name}#{i}#b", "question": "better_caption",
                     "preference": va / votes.size, "prompt": None,
                     "generator_a": PASCAL_SOURCES.get(int(src[i, 0]), str(src[i, 0])),
                     "generator_b": PASCAL_SOURCES.get(int(src[i, 1]), str(src[i, 1])), "rater_id": None,
                     "image": name, "pair": i, "category": PASCAL_CATEGORIES[int(cats[i])],
                     "caption_a": _str(inp[i]["sent1"]).strip(), "caption_b": _str(inp[i]["sent2"]).strip(),
                     "source_a": int(src[i, 0]), "source_b": int(src[i, 1]), "n_votes": int(votes.size),
                     "votes_a": va, "__row__": i + 1})
    ref_path = r / "pascal50s/pascal50S.mat"
    refs_m = loadmat(ref_path)
    if "refs" not in refs_m:
        raise LabelError(f"{ref_path}: variable 'refs' missing; expected the pascal50S.mat of vrama91/cider-matlab")
    refs = {_str(e["image"]).strip(): [_str(s).strip() for s in np.asarray(e["sent"]).ravel()]
            for e in refs_m["refs"].ravel()}
    meta = {"references": refs, "protocol": "2AFC accuracy per category (HC, HI, HM, MM) and their mean, 5 "
                                            "references sampled per pair, averaged over draws",
            "votes": "bundled 10-11 votes per pair, NOT the 48-vote consensus_pascal.mat of published results",
            "question_wording": "not documented for the bundled votes; read as: which of the two sentences "
                                "better describes the image?"}
    return PairwiseLabelSet.from_frame(pd.DataFrame(rows), "pascal50s", source=str(path), lenient=lenient,
                                       meta=meta)


def sample_references(pairs: PairwiseLabelSet, k: int = 5, seed: int = 0) -> list[list[str]]:
    """For each row of ``pairs.frame``, ``k`` references drawn without replacement from its image's pool,
    never one of the pair's two candidate sentences (``caption_a``/``caption_b``, compared with
    whitespace collapsed: 20 ``sent1`` and 29 ``sent2`` strings occur among their image's 50
    references, one of them only up to a doubled space). The Pascal-50S protocol uses 5 and averages
    results over several draws (seeds); the draw is per pair."""
    refs = pairs.references
    if not refs:
        raise LabelError(f"{pairs.name}: no references in meta['references']")
    rng = np.random.default_rng(seed)
    f = pairs.frame
    ca = f["caption_a"].astype(str).tolist() if "caption_a" in f else [None] * len(f)
    cb = f["caption_b"].astype(str).tolist() if "caption_b" in f else [None] * len(f)
    out = []
    def norm(x):
        return None if x is None else " ".join(str(x).split())

    for im, a, b in zip(f["image"].astype(str), ca, cb):
        cand = {norm(a), norm(b)}
        pool = [r for r in refs.get(im) or [] if norm(r) not in cand]
        if len(pool) < k:
            raise LabelError(f"{pairs.name}: image {im} has {len(pool)} references besides the candidates, need {k}")
        out.append([pool[j] for j in rng.choice(len(pool), size=k, replace=False)])
    return out


def category_accuracy(pairs: PairwiseLabelSet, score_a, score_b, *, ties: str = "half", seed: int = 0) -> dict:
    """Pascal-50S accuracy: share of pairs (human ties excluded) where the metric prefers the
    caption the human majority prefers, per category (HC, HI, HM, MM) and the mean of the four.

    ``score_a``/``score_b``: metric scores of ``caption_a``/``caption_b`` per row. Metric ties:
    ``ties="half"`` (default) counts a tie as 0.5 — the expected value of the random tie-break the
    papers use (CIDEr, CLIPScore: "ties are broken randomly"), without its noise; ``ties="random"``
    breaks each tie with a seeded coin flip, as published.
    """
    if ties not in ("half", "random"):
        raise LabelError(f"ties must be 'half' or 'random', got {ties!r}")
    f = pairs.frame
    sa, sb = np.asarray(score_a, np.float64), np.asarray(score_b, np.float64)
    if sa.shape != (len(f),) or sb.shape != (len(f),):
        raise LabelError(f"score_a and score_b need one value per pair ({len(f)})")
    human = np.sign(f["preference"].to_numpy() - 0.5)
    metric = np.sign(sa - sb)
    ok = human != 0
    if ties == "half":
        hit = np.where(metric == 0, 0.5, (metric == human).astype(float))
    else:
        coin = np.random.default_rng(seed).choice([-1.0, 1.0], size=metric.shape)
        hit = (np.where(metric == 0, coin, metric) == human).astype(float)
    out = {}
    for c in PASCAL_CATEGORIES.values():
        sel = ok & (f["category"].to_numpy() == c)
        out[c] = float(hit[sel].mean()) if sel.any() else float("nan")
    out["mean"] = float(np.nanmean([out[c] for c in PASCAL_CATEGORIES.values()]))
    return out
