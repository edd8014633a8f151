"""Reference texts per judged item (captioning-style sets: Flickr8k, THumB, Pascal-50S)."""
from __future__ import annotations

from ..errors import LabelError

__all__ = ["item_references"]


def item_references(labels, *, exclude_candidate: bool = True) -> dict:
    """``{item_id: [reference texts]}`` for a LabelSet whose ``meta["references"]`` is keyed by image.

    With ``exclude_candidate`` a candidate caption (``prompt``) that is one of its image's
    references is removed from that item's list only (first exact match). For Flickr8k-CF this is
    the ``per-item`` protocol, **not** the one of the published tables (``clipscore-shared``:
    :func:`judgenet.captions.protocols.flickr8k_cf_instances`).
    """
    refs = labels.references
    if not refs:
        raise LabelError(f"{labels.name}: this label set has no references (meta['references'])")
    items = labels.frame.drop_duplicates("item_id")
    out = {}
    for iid, im, cand in zip(items["item_id"], items["image"].astype(str), items["prompt"]):
        pool = list(refs.get(im, []))
        if not pool:
            raise LabelError(f"{labels.name}: no references for image {im!r} (item {iid!r})")
        if exclude_candidate and cand in pool:
            pool.remove(cand)
        out[iid] = pool
    return out
