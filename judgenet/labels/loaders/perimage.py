"""Per-image human judgments of generated images, one judgment per row:

* :func:`load_hype` — HYPE-style real-vs-fake judgments (Zhou et al., NeurIPS 2019): a rater sees
  one image (real or generated) and answers "real" or "fake". Question ``real_vs_fake``,
  ``score`` 1 = judged real, 0 = judged fake; ``generator`` is ``"real"`` for real images.
  :func:`hype_infinity` computes the HYPE∞ error rates from such a set.
* :func:`load_likert` — per-image Likert ratings (e.g. realism 1–5), the setup of Kolchinski et al.
  (2019), "Approximating Human Judgment of Generated Image Quality".

Both accept common column spellings (``worker_id`` → ``rater_id``, ``model`` → ``generator``,
``rating`` → ``score``, ``path`` → ``image`` ...); ``item_id`` defaults to ``image``. See
``data_cards/hype.md`` and ``data_cards/likert.md``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...errors import LabelError
from ..files import read_frame
from ..labelset import LabelSet
from ._common import as_path, rename_aliases

__all__ = ["load_hype", "load_likert", "hype_infinity", "PERIMAGE_ALIASES"]

PERIMAGE_ALIASES = {"image": ("image_path", "path", "file", "filename", "img", "url", "image_url"),
                    "rater_id": ("rater", "worker", "worker_id", "workerid", "annotator", "user_id", "evaluator"),
                    "generator": ("model", "system", "source", "gan"), "prompt": ("caption", "text"),
                    "score": ("rating", "likert", "value", "mos")}
_HYPE_ANSWER = ("answer", "response", "judgment", "judged", "label", "choice", "selection", "judged_real")
_REAL_WORDS = {"real": 1.0, "fake": 0.0, "true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0,
               "yes": 1.0, "no": 0.0}


def _prepare(path, extra_aliases=None):
    p = as_path(path)
    df, header = read_frame(p)
    df = rename_aliases(df, {**PERIMAGE_ALIASES, **(extra_aliases or {})}, str(p))
    if "image" in df.columns and "item_id" not in df.columns:
        df["item_id"] = df["image"]
    return p, df, header


def load_hype(path, *, name: str | None = None, real_label: str = "real", lenient: bool = False,
              images_root=None, known_images=None) -> LabelSet:
    """HYPE-style real-vs-fake judgments from CSV / TSV / JSONL / Parquet.

    Needs ``image``, ``rater_id``, the answer (``answer``/``response``/``judgment``/``judged_real``/
    ``score``: real / fake, true / false, yes / no or 1 / 0, 1 meaning "judged real") and the
    truth: ``generator`` (``real_label`` for real images, default ``"real"``) or ``is_real``
    (then generated images get generator ``"generated"``). Unknown answers are reported with
    file, row and column (``lenient=True`` skips and lists them).
    """
    p, df, header = _prepare(path)
    if "score" not in df.columns:
        ans = [c for c in df.columns if str(c).lower() in _HYPE_ANSWER]
        if len(ans) != 1:
            where = f"{p}, row {header}" if header else str(p)
            raise LabelError(f"{where}, column 'answer': missing; a HYPE file needs one answer column "
                             f"({', '.join(_HYPE_ANSWER)}) with real/fake or 1/0 (found {', '.join(map(str, df.columns))})")
        raw = df[ans[0]]
        mapped = raw.astype(str).str.strip().str.lower().map(_REAL_WORDS)
        df["score"] = mapped.where(mapped.notna(), raw.astype(object))  # unknown answers stay as text → reported
    else:
        raw = df["score"]
        mapped = raw.astype(str).str.strip().str.lower().map(_REAL_WORDS)
        df["score"] = mapped.where(mapped.notna(), raw.astype(object))
    if "generator" not in df.columns:
        if "is_real" not in df.columns:
            where = f"{p}, row {header}" if header else str(p)
            raise LabelError(f"{where}, column 'generator': missing; give the generator of each image ('real' for "
                             "real images) or an is_real column")
        real = df["is_real"].astype(str).str.strip().str.lower().map(_REAL_WORDS)
        df["generator"] = np.where(real == 1.0, "real", "generated")
    else:
        df["generator"] = df["generator"].astype(object).where(df["generator"].astype(str) != real_label, "real")
    df["question"] = "real_vs_fake"
    meta = {"format": "hype", "question_wording": "Is this image real or fake? (score 1 = judged real)",
            "protocol": "HYPE-infinity: human error rate on real and fake images; per-image: share judged real"}
    return LabelSet.from_frame(df, name or p.stem, scales={"real_vs_fake": (0, 1)}, source=str(p), lenient=lenient,
                               images_root=images_root, known_images=known_images, meta=meta, header_row=header)


def hype_infinity(labels: LabelSet) -> pd.DataFrame:
    """HYPE∞-style error rates per generator from ``real_vs_fake`` judgments.

    Columns: ``generator``, ``n_fake`` (judgments of its images), ``fake_judged_real`` (share of
    them judged real — the deception rate), ``n_real``, ``real_judged_fake`` (over all real
    images in the set) and ``hype_infinity`` = (fakes judged real + reals judged fake) /
    (n_fake + n_real): the total error rate when the generator's images are mixed with all the
    set's real images (HYPE∞ shows each evaluator 50 real + 50 fake; with a different mix the
    figure is comparable only approximately).
    """
    f = labels.frame[labels.frame["question"] == "real_vs_fake"]
    if f.empty:
        raise LabelError(f"{labels.name}: no real_vs_fake judgments")
    real = f[f["generator"] == "real"]
    n_real = len(real)
    e_real = float((real["score"] < 0.5).sum())
    rows = []
    for g, sub in f[f["generator"] != "real"].groupby("generator", sort=True):
        e_fake = float((sub["score"] >= 0.5).sum())
        rows.append({"generator": g, "n_fake": len(sub), "fake_judged_real": e_fake / len(sub), "n_real": n_real,
                     "real_judged_fake": e_real / n_real if n_real else float("nan"),
                     "hype_infinity": (e_fake + e_real) / (len(sub) + n_real)})
    return pd.DataFrame(rows)


def load_likert(path, *, name: str | None = None, question: str | None = "realism", scale=(1, 5),
                lenient: bool = False, images_root=None, known_images=None) -> LabelSet:
    """Per-image Likert ratings (Kolchinski et al. style) from CSV / TSV / JSONL / Parquet.

    Needs ``image``, ``generator`` (``"real"`` for real images) and ``score`` (or ``rating`` ...);
    ``rater_id`` is strongly recommended (agreement statistics need it). If the file has a
    ``question`` column it is used, else every row gets ``question`` (default ``realism``).
    ``scale`` (low, high) is declared for every question; ``None`` infers the observed range.
    """
    p, df, header = _prepare(path)
    if "question" not in df.columns:
        if question is None:
            raise LabelError(f"{p}: no question column; pass question=... (e.g. 'realism')")
        df["question"] = question
    scales = None
    if scale is not None:
        scales = {q: tuple(scale) for q in df["question"].dropna().astype(str).unique()}
    meta = {"format": "likert", "question_wording": f"Likert rating on {tuple(scale) if scale else 'observed'} scale",
            "protocol": "rank correlation (Kendall tau-b, Spearman) of predicted vs mean rating; pairwise "
                        "accuracy next to the raters' pairwise agreement"}
    return LabelSet.from_frame(df, name or p.stem, scales=scales, source=str(p), lenient=lenient,
                               images_root=images_root, known_images=known_images, meta=meta, header_row=header)
