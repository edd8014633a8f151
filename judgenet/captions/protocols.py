"""The published evaluation protocols of the caption-judgment sets, as instance tables.

Each builder returns a :class:`Instances`: one row per scored instance (candidate, its references,
the human score, the image used as the bootstrap cluster) plus the :class:`Protocol` that says how
the rows were formed and which measure the literature reports. The protocol names are stable (they
appear in reports and the CLI ``--protocol``).

* ``flickr8k-expert`` — ``spice-16992``: the 158 pairs whose candidate is one of the image's own 5
  captions are dropped; each of the 3 expert scores is its own instance (16,992); Kendall tau-c.
* ``flickr8k-cf`` — ``clipscore-shared`` (the published one): a judged candidate that is one of the
  image's captions is removed from a reference list *shared by the whole image*, so every candidate
  of that image loses it (what CLIPScore's released ``download.py`` does, reproducing Table 2);
  ``per-item``: removed only from that candidate's own list. Kendall tau-b over 47,830 pairs.
* ``pascal50s`` — ``5-refs-x5``: per pair, 5 references drawn without replacement from the image's
  50, never one of the two candidate sentences; accuracy per category over 5 draws.
* ``thumb`` — ``own-removed``: a candidate equal to one of its image's 4 references is removed from
  that list (39 Human captions, 9 machine captions); rows ``all`` or ``machine`` (Human excluded).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .refmetrics import normalize_whitespace

__all__ = ["Protocol", "Instances", "PROTOCOLS", "flickr8k_expert_instances", "flickr8k_cf_instances",
           "thumb_instances", "pascal50s_pairs", "pascal_reference_draws", "SETS"]

SETS = ("flickr8k-expert", "flickr8k-cf", "pascal50s", "thumb")


@dataclass(frozen=True)
class Protocol:
    name: str
    set: str
    measure: str
    description: str
    published: bool = True


PROTOCOLS = {
    ("flickr8k-expert", "spice-16992"): Protocol(
        "spice-16992", "flickr8k-expert", "kendall_tau_c",
        "158 own-caption pairs dropped; each of the 3 expert scores one instance (16,992); 5 references; "
        "Kendall tau-c (SPICE / CLIPScore protocol, method A)"),
    ("flickr8k-cf", "clipscore-shared"): Protocol(
        "clipscore-shared", "flickr8k-cf", "kendall_tau_b",
        "all 47,830 pairs; a judged own caption is removed from the reference list shared by the whole image "
        "(every candidate of that image loses it), as CLIPScore's released download.py does; Kendall tau-b"),
    ("flickr8k-cf", "per-item"): Protocol(
        "per-item", "flickr8k-cf", "kendall_tau_b",
        "all 47,830 pairs; a candidate that is its image's own caption is removed only from its own reference "
        "list (judgenet.labels.item_references); Kendall tau-b; NOT the protocol of the published tables", False),
    ("pascal50s", "5-refs-x5"): Protocol(
        "5-refs-x5", "pascal50s", "accuracy",
        "per pair 5 references drawn without replacement from the image's 50 (never a candidate sentence), "
        "5 draws averaged; human label = majority of the bundled 10-11 votes (pair_pascal.mat), NOT the "
        "48-vote consensus; a metric tie counts 0.5 (the expectation of the paper's random tie-break)"),
    ("thumb", "own-removed"): Protocol(
        "own-removed", "thumb", "pearson",
        "candidate removed from its own image's 4 references (39 Human + 9 machine captions equal a reference); "
        "Pearson and Kendall tau-b with human_score, P and R; all 2,500 rows and the 2,000 machine rows"),
}


@dataclass
class Instances:
    """Scored instances of one protocol: ``frame`` has columns ``candidate``, ``image`` (cluster),
    ``human`` (float), ``system`` and set-specific extras; ``references`` one list per row."""

    set: str
    protocol: Protocol
    frame: pd.DataFrame
    references: list[list[str]]
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.frame)


def _check_protocol(set_name: str, name: str) -> Protocol:
    key = (set_name, name)
    if key not in PROTOCOLS:
        names = [p for s, p in PROTOCOLS if s == set_name]
        raise ConfigError(f"{set_name}: unknown protocol {name!r}; choose from {', '.join(names)}")
    return PROTOCOLS[key]


def flickr8k_expert_instances(root=None) -> Instances:
    """16,992 (candidate, expert score) instances with the image's 5 captions as references."""
    from ..labels import load_flickr8k_expert
    ls = load_flickr8k_expert(root, drop_own_references=True)
    f = ls.frame
    refs = ls.references
    frame = pd.DataFrame({"candidate": f["prompt"].astype(str).to_numpy(), "image": f["image"].astype(str).to_numpy(),
                          "human": f["score"].to_numpy(np.float64), "system": "flickr8k-retrieval",
                          "item_id": f["item_id"].astype(str).to_numpy()})
    references = [list(refs[im]) for im in frame["image"]]
    notes = [] if len(frame) == 16992 else [
        f"{len(frame):,} instances, not the published 16,992: is ExpertAnnotations.txt the complete, unedited file? "
        "(data_cards/flickr8k-expert.md)"]
    return Instances("flickr8k-expert", PROTOCOLS[("flickr8k-expert", "spice-16992")], frame, references, notes)


def flickr8k_cf_instances(root=None, protocol: str = "clipscore-shared") -> Instances:
    """47,830 CrowdFlower pairs with references formed by ``protocol`` (module docstring)."""
    proto = _check_protocol("flickr8k-cf", protocol)
    from ..labels import load_flickr8k_cf
    ls = load_flickr8k_cf(root, drop_own_references=False)
    f = ls.frame
    refs = ls.references
    cands = f["prompt"].astype(str).tolist()
    images = f["image"].astype(str).tolist()
    if protocol == "clipscore-shared":
        shared: dict[str, list[str]] = {}
        for im, c in zip(images, cands):  # file order, like download.py
            pool = shared.setdefault(im, list(refs[im]))
            if c in pool:
                pool.remove(c)
        references = [shared[im] for im in images]
    else:
        references = []
        for im, c in zip(images, cands):
            pool = list(refs[im])
            if c in pool:
                pool.remove(c)
            references.append(pool)
    frame = pd.DataFrame({"candidate": cands, "image": images, "human": f["score"].to_numpy(np.float64),
                          "system": "flickr8k-retrieval", "item_id": f["item_id"].astype(str).to_numpy()})
    counts = np.bincount([len(r) for r in references], minlength=6)
    notes = ["reference-list sizes: " + ", ".join(f"{k} refs: {int(counts[k]):,}" for k in range(6) if counts[k])]
    return Instances("flickr8k-cf", proto, frame, references, notes)


def thumb_instances(root=None, rows: str = "all") -> Instances:
    """THumB 2,500 captions (``rows="all"``) or the 2,000 machine captions (``"machine"``), each with
    its image's references minus the candidate itself; human columns ``human`` (total), ``P``, ``R``."""
    if rows not in ("all", "machine"):
        raise ConfigError(f"thumb rows must be 'all' or 'machine', got {rows!r}")
    from ..labels import load_thumb
    ls = load_thumb(root)
    f = ls.frame
    wide = f.pivot_table(index=["item_id", "image", "prompt", "generator", "seg_id"], columns="question",
                         values="score", aggfunc="first").reset_index()
    order = {iid: k for k, iid in enumerate(pd.unique(f["item_id"]))}  # file order
    wide = wide.assign(_row=wide["item_id"].map(order)).sort_values("_row", kind="stable").reset_index(drop=True)
    if rows == "machine":
        wide = wide[wide["generator"].astype(str) != "Human"].reset_index(drop=True)
    by_seg = ls.meta["references_by_seg_id"]
    references, n_removed = [], {}
    for seg, cand, sys_ in zip(wide["seg_id"].astype(str), wide["prompt"].astype(str), wide["generator"].astype(str)):
        pool = list(by_seg[seg])
        norm = [normalize_whitespace(r) for r in pool]
        if normalize_whitespace(cand) in norm:
            del pool[norm.index(normalize_whitespace(cand))]
            n_removed[sys_] = n_removed.get(sys_, 0) + 1
        references.append(pool)
    frame = pd.DataFrame({"candidate": wide["prompt"].astype(str), "image": wide["image"].astype(str),
                          "human": wide["human_score"].to_numpy(np.float64), "P": wide["precision"].to_numpy(np.float64),
                          "R": wide["recall"].to_numpy(np.float64), "system": wide["generator"].astype(str).tolist(),
                          "item_id": wide["item_id"].astype(str)})
    notes = ["candidate removed from its own references: " + ", ".join(f"{k} {v}" for k, v in sorted(n_removed.items()))]
    return Instances("thumb", PROTOCOLS[("thumb", "own-removed")], frame, references, notes)


def pascal50s_pairs(root=None):
    """The Pascal-50S :class:`~judgenet.labels.PairwiseLabelSet` (bundled votes)."""
    from ..labels import load_pascal50s
    return load_pascal50s(root)


def pascal_reference_draws(pairs, n_draws: int = 5, k: int = 5, seed: int = 0) -> list[list[list[str]]]:
    """``n_draws`` lists of per-pair references (``k`` each, via
    :func:`judgenet.labels.sample_references`, which never picks a candidate sentence)."""
    from ..labels import sample_references
    return [sample_references(pairs, k=k, seed=seed + d) for d in range(n_draws)]
