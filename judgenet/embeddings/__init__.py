"""judgenet.embeddings — embeddings: cached extraction, multi-backbone embedding, aligned reading.

* :func:`extract` embeds images/prompts with one backbone through the :class:`FeatureCache`
  (batched, resumable, torchrun-sharded); :func:`extract_texts` embeds texts only;
  :func:`read_features` reads aligned rows memory-mapped.
* :func:`embed` runs every backbone of a list and returns an :class:`Embedded` keyed by source name,
  with the prompts embedded by one recorded text tower.

This package sits *below* the metrics; turning embeddings into per-item features (which uses the
metrics) lives above them.
"""
from .cache import FeatureCache, read_features, sha256_file, sha256_image, sha256_text
from .embed import Embedded, embed
from .extract import ExtractResult, extract, extract_texts

__all__ = ["extract", "extract_texts", "ExtractResult", "embed", "Embedded", "FeatureCache", "read_features",
           "sha256_file", "sha256_image", "sha256_text"]
