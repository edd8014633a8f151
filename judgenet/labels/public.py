"""Loaders for public human-judgment sets (files are never downloaded; see ``data_cards/``).

``load_label_set(name_or_path, root=None)``: a file path → :func:`read_labels`; a name →
the loader below, reading from ``root`` > ``$JUDGENET_LABEL_SETS``. Loaders return a
:class:`LabelSet` / :class:`PairwiseLabelSet` whose ``meta["references"]`` maps an image to its
reference captions where the set has them.

* ``flickr8k-expert`` — ``flickr8k/ExpertAnnotations.txt`` + ``Flickr8k.token.txt``; three expert
  scores 1–4 per (image, caption) as raters ``expert1..3``. ``drop_own_references=True`` (default,
  the SPICE/CLIPScore protocol) drops the 158 candidates that are the image's own caption.
* ``flickr8k-cf`` — ``flickr8k/CrowdFlowerAnnotations.txt``: yes-fraction per pair (question
  ``describes``), raters aggregated (per-rater votes are not published).
* ``thumb`` — ``thumb/mscoco_THumB-1.0.jsonl``: questions ``human_score``, ``precision``,
  ``recall``; ``SYS`` → generator; references from ``mscoco_references.json`` (JSON Lines).
* ``pascal50s`` — ``pascal50s/pair_pascal.mat`` + ``pascal50S.mat``: 4,000 caption pairs with
  category HC/HI/HM/MM; preference = share of the 10–11 bundled votes for sentence 1 (NOT the
  48-vote consensus file used by published accuracies).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import label_sets_dir
from ..errors import LabelError
from .schema import LabelSet, PairwiseLabelSet, read_labels

__all__ = ["load_label_set", "PUBLIC_SETS", "load_flickr8k_expert", "load_flickr8k_cf", "load_thumb",
           "load_pascal50s"]


def _root(root, files: list[str], name: str) -> Path:
    r = Path(root) if root is not None else label_sets_dir()
    default = Path(__file__).resolve().parents[3] / "shared" / "label-sets"
    if r is None and default.is_dir():
        r = default
    if r is None:
        raise LabelError(f"{name}: no label-set folder; pass root=... (--label-root) or set $JUDGENET_LABEL_SETS "
                         f"to a folder containing {', '.join(files)}")
    for f in files:
        if not (r / f).is_file():
            raise LabelError(f"{name}: expected file {r / f} not found; judgenet never downloads label sets — "
                             f"see data_cards/{name}.md for where to obtain it")
    return r


def _flickr_refs(path: Path) -> dict[str, list[str]]:
    refs: dict[str, list[str]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            cid, cap = line.rstrip("\n").split("\t", 1)
            img = cid.rsplit("#", 1)[0]  # keeps the spurious '...jpg.1' key separate, as in the file
            refs.setdefault(img, []).append(cap)
    return refs


def _caption_lookup(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8") as fh:
        return dict(line.rstrip("\n").split("\t", 1) for line in fh)


def load_flickr8k_expert(root=None, *, drop_own_references: bool = True) -> LabelSet:
    r = _root(root, ["flickr8k/ExpertAnnotations.txt", "flickr8k/Flickr8k.token.txt"], "flickr8k-expert")
    df = pd.read_csv(r / "flickr8k/ExpertAnnotations.txt", sep="\t", header=None,
                     names=["image", "caption_id", "s1", "s2", "s3"], dtype=str)
    caps = _caption_lookup(r / "flickr8k/Flickr8k.token.txt")
    df["prompt"] = df["caption_id"].map(caps)
    df["own"] = df["caption_id"].str.rsplit("#", n=1).str[0] == df["image"]
    if drop_own_references:
        df = df[~df["own"]]
    long = df.melt(id_vars=["image", "caption_id", "prompt"], value_vars=["s1", "s2", "s3"], var_name="rater_id",
                   value_name="score")
    long["rater_id"] = long["rater_id"].str.replace("s", "expert")
    long["item_id"] = long["image"] + "|" + long["caption_id"]
    long["generator"] = "flickr8k-candidates"
    long["question"] = "describes"
    long["score"] = long["score"].astype(float)
    refs = _flickr_refs(r / "flickr8k/Flickr8k.token.txt")
    return LabelSet.from_frame(long, "flickr8k-expert", scales={"describes": (1, 4)}, source=str(r),
                               meta={"references": refs, "protocol": "Kendall tau-c"})


def load_flickr8k_cf(root=None) -> LabelSet:
    r = _root(root, ["flickr8k/CrowdFlowerAnnotations.txt", "flickr8k/Flickr8k.token.txt"], "flickr8k-cf")
    df = pd.read_csv(r / "flickr8k/CrowdFlowerAnnotations.txt", sep="\t", header=None,
                     names=["image", "caption_id", "score", "yes", "no"], dtype={"image": str, "caption_id": str})
    caps = _caption_lookup(r / "flickr8k/Flickr8k.token.txt")
    df["prompt"] = df["caption_id"].map(caps)
    df["item_id"] = df["image"] + "|" + df["caption_id"]
    df["generator"] = "flickr8k-candidates"
    df["question"] = "describes"
    df["rater_id"] = None
    refs = _flickr_refs(r / "flickr8k/Flickr8k.token.txt")
    return LabelSet.from_frame(df, "flickr8k-cf", scales={"describes": (0, 1)}, source=str(r),
                               meta={"references": refs, "protocol": "Kendall tau-b", "n_votes": (df["yes"] + df["no"]).tolist()})


def load_thumb(root=None) -> LabelSet:
    r = _root(root, ["thumb/mscoco_THumB-1.0.jsonl", "thumb/mscoco_references.json"], "thumb")
    rows = [json.loads(line) for line in open(r / "thumb/mscoco_THumB-1.0.jsonl", encoding="utf-8")]
    frames = []
    for q, col in (("human_score", "human_score"), ("precision", "P"), ("recall", "R")):
        frames.append(pd.DataFrame({"item_id": [f"{d['seg_id']}|{d['SYS']}" for d in rows],
                                    "image": [d["image"] for d in rows], "prompt": [d["hyp"] for d in rows],
                                    "generator": [d["SYS"] for d in rows], "rater_id": None, "question": q,
                                    "score": [float(d[col]) for d in rows]}))
    refs = {}
    for line in open(r / "thumb/mscoco_references.json", encoding="utf-8"):  # JSON Lines despite .json
        d = json.loads(line)
        refs[str(d["seg_id"])] = d["refs"]
    return LabelSet.from_frame(pd.concat(frames, ignore_index=True), "thumb",
                               scales={"human_score": (0, 5), "precision": (1, 5), "recall": (1, 5)},
                               source=str(r), meta={"references": refs, "protocol": "Pearson"})


_PASCAL_CATS = {1: "HC", 2: "HI", 3: "HM", 4: "MM"}


def load_pascal50s(root=None) -> PairwiseLabelSet:
    from scipy.io import loadmat

    r = _root(root, ["pascal50s/pair_pascal.mat", "pascal50s/pascal50S.mat"], "pascal50s")
    m = loadmat(r / "pascal50s/pair_pascal.mat")
    inp, res = m["new_input"][0], m["result"][0]
    cats = m["category"].ravel()
    rows = []
    for i in range(inp.shape[0]):
        name = str(inp[i]["name"].ravel()[0]).strip()
        s1, s2 = str(inp[i]["sent1"].ravel()[0]).strip(), str(inp[i]["sent2"].ravel()[0]).strip()
        votes = np.asarray(res[i]["result"]).ravel().astype(np.int64)  # uint8 and int16 mixed: cast first
        rows.append({"item_a": f"{name}|{i}|1", "item_b": f"{name}|{i}|2", "question": "better_caption",
                     "preference": float((votes > 0).mean()), "prompt": name, "caption_a": s1, "caption_b": s2,
                     "category": _PASCAL_CATS[int(cats[i])], "n_votes": int(votes.size)})
    refs_m = loadmat(r / "pascal50s/pascal50S.mat")["refs"][0]
    refs = {str(e["image"].ravel()[0]).strip(): [str(s.ravel()[0]).strip() for s in e["sent"].ravel()]
            for e in refs_m}
    return PairwiseLabelSet.from_frame(pd.DataFrame(rows), "pascal50s", source=str(r),
                                       meta={"references": refs, "protocol": "accuracy per category, 5 refs",
                                             "votes": "bundled 10-11 votes, not the 48-vote consensus file"})


PUBLIC_SETS = {"flickr8k-expert": load_flickr8k_expert, "flickr8k-cf": load_flickr8k_cf, "thumb": load_thumb,
               "pascal50s": load_pascal50s}


def load_label_set(name_or_path: str | os.PathLike, root=None, **options):
    """A public set by name (:data:`PUBLIC_SETS`) or a label file in the judgenet schema."""
    key = str(name_or_path)
    if key in PUBLIC_SETS:
        return PUBLIC_SETS[key](root, **options)
    p = Path(key)
    if p.suffix or p.exists():
        return read_labels(p, **options)
    raise LabelError(f"{key!r} is neither a label file nor a known set ({', '.join(PUBLIC_SETS)})")
