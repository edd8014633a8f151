"""THumB 1.0 for MS COCO (Kasai et al., NAACL 2022): ``thumb/mscoco_THumB-1.0.jsonl`` and
``thumb/mscoco_references.json`` (JSON Lines despite the extension). See ``data_cards/thumb.md``.

One row per (caption, question): questions ``human_score`` (the total (P+R)/2 + Fl + Con + Inc),
``precision`` (P) and ``recall`` (R). ``item_id = "<seg_id>|<SYS>"``, ``image`` the COCO file
name, ``prompt`` the candidate caption (``hyp``), ``generator`` the captioning system (``SYS``:
Up-Down, Unified-VLP, VinVL-base, VinVL-large, Human), ``rater_id`` None (scores are
adjudicated totals). Extra columns: ``seg_id``, ``set_id``, ``Fl``, ``Con``, ``Inc``.
``meta["references"]`` maps the COCO file name to its 4 references as published;
``meta["references_by_seg_id"]`` the same keyed by ``seg_id``. The 5th COCO caption was meant to
be the ``Human`` candidate, but in the corrected upstream file 39 ``Human`` captions (and 9 machine
captions) are verbatim among their own image's 4 references: remove a candidate from its own
references before scoring it (:func:`judgenet.captions.protocols.thumb_instances`, protocol
``own-removed``; ``data_cards/thumb.md``).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from ...errors import LabelError
from ..labelset import LabelSet
from ._common import resolve_root

__all__ = ["load_thumb", "THUMB_QUESTIONS"]

THUMB_QUESTIONS = {"human_score": "human_score", "precision": "P", "recall": "R"}
_KEYS = ("SYS", "seg_id", "set_id", "hyp", "image", "P", "R", "Fl", "Con", "Inc", "human_score")


def _jsonl(path):
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as exc:
                raise LabelError(f"{path}, row {n}: not valid JSON ({exc.msg}); the file is JSON Lines, one object "
                                 "per line") from None


def load_thumb(root=None, *, check_total: bool = True, lenient: bool = False) -> LabelSet:
    """THumB 1.0 MS COCO: 2,500 captions (500 images × 5 systems) × 3 questions = 7,500 rows.

    ``check_total`` verifies ``human_score == (P+R)/2 + Fl + Con + Inc`` on every row (true in
    the corrected 2022-01 file); a mismatch is reported with file, row and column.
    Literature protocol: Pearson at caption level, plus system level over the 5 systems.
    """
    r = resolve_root(root, ["thumb/mscoco_THumB-1.0.jsonl", "thumb/mscoco_references.json"], "thumb")
    path = r / "thumb/mscoco_THumB-1.0.jsonl"
    recs, lines = [], []
    for n, d in _jsonl(path):
        missing = [k for k in _KEYS if k not in d]
        if missing:
            raise LabelError(f"{path}, row {n}, column(s) {missing}: missing; expected keys {', '.join(_KEYS)}")
        recs.append(d)
        lines.append(n)
    raw = pd.DataFrame.from_records(recs)
    for c in ("P", "R", "Fl", "Con", "Inc", "human_score"):
        raw[c] = pd.to_numeric(raw[c], errors="coerce").astype(np.float64)  # "-0.0" compares equal to 0
    if check_total:
        total = (raw["P"] + raw["R"]) / 2 + raw["Fl"] + raw["Con"] + raw["Inc"]
        bad = np.flatnonzero(~np.isclose(total.to_numpy(), raw["human_score"].to_numpy(), atol=1e-9))
        if bad.size:
            i = int(bad[0])
            raise LabelError(f"{path}, row {lines[i]}, column 'human_score': expected (P+R)/2+Fl+Con+Inc = "
                             f"{total.iloc[i]:g}, found {raw['human_score'].iloc[i]:g} ({bad.size} rows differ); is "
                             "this the pre-2022-01 file? see data_cards/thumb.md")
    raw["seg_id"] = raw["seg_id"].astype(str)
    raw["__row__"] = lines
    frames = []
    for q, col in THUMB_QUESTIONS.items():
        frames.append(pd.DataFrame({"item_id": raw["seg_id"] + "|" + raw["SYS"].astype(str), "image": raw["image"],
                                    "prompt": raw["hyp"], "generator": raw["SYS"], "rater_id": None, "question": q,
                                    "score": raw[col], "seg_id": raw["seg_id"], "set_id": raw["set_id"],
                                    "Fl": raw["Fl"], "Con": raw["Con"], "Inc": raw["Inc"], "__row__": raw["__row__"]}))
    long = pd.concat(frames, ignore_index=True)
    img_of = dict(zip(raw["seg_id"], raw["image"]))
    by_seg = {}
    ref_path = r / "thumb/mscoco_references.json"
    for n, d in _jsonl(ref_path):  # JSON Lines despite .json
        if "seg_id" not in d or "refs" not in d:
            raise LabelError(f"{ref_path}, row {n}: expected keys seg_id, set_id, refs")
        by_seg[str(d["seg_id"])] = list(d["refs"])
    refs = {img_of[s]: v for s, v in by_seg.items() if s in img_of}
    meta = {"references": refs, "references_by_seg_id": by_seg,
            "protocol": "Pearson at caption level (human_score, P, R); system level over the 5 systems",
            "question_wording": "precision: how much of the caption is correct for the image; recall: how much of "
                                "the image's salient content it covers; human_score = (P+R)/2 minus penalties for "
                                "disfluency (Fl), verbosity (Con) and non-inclusive wording (Inc)"}
    return LabelSet.from_frame(long, "thumb", scales={"human_score": (0, 5), "precision": (1, 5), "recall": (1, 5)},
                               source=str(path), lenient=lenient, meta=meta)
