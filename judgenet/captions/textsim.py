"""Candidate ↔ reference similarity with a sentence encoder (default all-MiniLM-L6-v2 through the
``text:`` backbone) and the text embeddings other steps reuse."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..metrics._util import l2_normalize

__all__ = ["DEFAULT_TEXT_BACKBONE", "TextEmbeddings", "embed_texts", "reference_similarity", "training_caveat"]

DEFAULT_TEXT_BACKBONE = "text:all-MiniLM-L6-v2"

#: Sentence encoders whose training data contains image captions: their similarity rows on caption benchmarks
#: (Flickr8k shares images with Flickr30k; THumB uses COCO images and captions) may be inflated.
_CAPTION_TRAINED = {
    "all-MiniLM-L6-v2": "all-MiniLM-L6-v2 was trained on caption paraphrase pairs (its model card lists Flickr30k "
                        "captions; the sentence-transformers training data includes COCO captions): its correlations "
                        "on Flickr8k and THumB may be inflated",
}


def training_caveat(name: str) -> str:
    """The caveat for a metric or backbone name built on a caption-trained sentence encoder, else ``""``."""
    return next((v for k, v in _CAPTION_TRAINED.items() if k.lower() in str(name).lower()), "")


class TextEmbeddings:
    """Distinct texts embedded once: ``vectors`` (U, D) float64 L2-normalized, ``index[text] -> row``."""

    def __init__(self, texts: Sequence[str], vectors: np.ndarray, source: str):
        self.texts = list(texts)
        self.index = {t: i for i, t in enumerate(self.texts)}
        self.vectors = l2_normalize(np.asarray(vectors, np.float64), "text embeddings")
        self.source = source

    def rows(self, texts: Sequence[str]) -> np.ndarray:
        return self.vectors[[self.index[t] for t in texts]]


def embed_texts(texts: Sequence[str], backbone, cache_dir=None) -> TextEmbeddings:
    """Embed the distinct ``texts`` with ``backbone`` (a :class:`judgenet.backbones.Backbone` with a text
    tower) through the feature cache (:func:`judgenet.embeddings.extract.extract_texts`)."""
    from ..embeddings.extract import extract_texts
    uniq = list(dict.fromkeys(str(t) for t in texts))
    vec = extract_texts(uniq, backbone, cache_dir)
    return TextEmbeddings(uniq, vec, backbone.source)


def reference_similarity(candidates: Sequence[str], references: Sequence[Sequence[str]],
                         emb: TextEmbeddings) -> dict[str, np.ndarray]:
    """Cosine similarity of each candidate with its references: ``max`` and ``mean`` over the
    references, (n,) float64 each, keyed ``"<source>-max"`` / ``"<source>-mean"``."""
    c = emb.rows(candidates)
    mx, mn = np.empty(len(c)), np.empty(len(c))
    for i, rs in enumerate(references):
        s = emb.rows(rs) @ c[i]
        mx[i], mn[i] = s.max(), s.mean()
    name = emb.source
    return {f"{name}-max": mx, f"{name}-mean": mn}
