"""judgenet.features — cached extraction of embeddings and the per-item feature builder.

* :func:`extract` embeds images/prompts with a backbone through the :class:`FeatureCache`.
* :mod:`judgenet.features.builder` turns embeddings into named per-item features.
"""
from .cache import FeatureCache, sha256_file, sha256_text
from .extract import ExtractResult, extract

__all__ = ["extract", "ExtractResult", "FeatureCache", "sha256_file", "sha256_text"]
