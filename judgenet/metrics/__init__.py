"""judgenet.metrics — MID, CLIPScore, R-precision, FID/KID/IS, precision/recall and per-image realism.

* :mod:`judgenet.metrics.functional` — plain functions (``mid``, ``pmi``, ``clip_score``,
  ``ref_clip_score``, ``clip_r_precision``, ``fid``, ``fid_from_stats``, ``kid``,
  ``inception_score``, ``precision_recall``, ``realism_score``).
* Fitted references reused across generators: :class:`MIDReference`, :class:`RealStats`
  (save/load ``.npz`` without pickle, content ``hash``, backbone ``fingerprint``).
* Streaming: :class:`Moments` (exact mergeable float64 mean/covariance).
* :mod:`judgenet.metrics.knn` — the one exact k-NN kernel (:func:`knn_sqdist`, radii, coverage, realism):
  blocked float32 matrix products, float64 answers.
* torchmetrics-style classes (no torchmetrics needed at run time): :class:`MID`,
  :class:`CLIPScore`, :class:`FID`, :class:`KID` on the small :class:`Metric` base.

All statistics are float64; inputs may be numpy arrays or torch tensors of any float dtype.
"""
from . import functional
from .functional import (clip_r_precision, clip_score, fid, fid_from_stats, inception_score, kid, mid, pmi,
                         precision_recall, realism_score, ref_clip_score)
from .reference import REALSTATS_FEATURES, MIDReference, RealStats, kynkaanniemi_realism
from .streaming import Moments, knn_sqdist

__all__ = [
    "functional", "mid", "pmi", "clip_score", "ref_clip_score", "clip_r_precision", "fid", "fid_from_stats",
    "kid", "inception_score", "precision_recall", "realism_score",
    "MIDReference", "RealStats", "REALSTATS_FEATURES", "kynkaanniemi_realism", "Moments", "knn_sqdist",
    "Metric", "MID", "CLIPScore", "FID", "KID",
]

_CLASSES = ("Metric", "MID", "CLIPScore", "FID", "KID")


def __getattr__(name):  # the torch-backed classes load on first use: importing judgenet.metrics imports no torch
    if name in _CLASSES:
        from . import metric

        return getattr(metric, name)
    raise AttributeError(f"module 'judgenet.metrics' has no attribute {name!r}")
