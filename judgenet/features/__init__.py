"""judgenet.features — cached extraction of embeddings and the per-item feature builder.

* :func:`extract` embeds images/prompts with a backbone through the :class:`FeatureCache`
  (batched, resumable, torchrun-sharded); :func:`read_features` reads aligned rows memory-mapped.
* :mod:`judgenet.features.builder` turns embeddings into named per-item features.
"""
from .cache import FeatureCache, read_features, sha256_file, sha256_image, sha256_text
from .extract import ExtractResult, extract

__all__ = ["extract", "ExtractResult", "FeatureCache", "read_features", "sha256_file", "sha256_image", "sha256_text"]
