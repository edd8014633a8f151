"""judgenet.features — embeddings → named per-item features (above :mod:`judgenet.metrics`).

* :class:`FeatureBuilder` — sklearn-style ``FeatureBuilder(**settings).fit(real).transform(generated)``
  with realism, activation, alignment (MID, CLIPScore) and set-level feature groups; save/load as
  ``.npz`` + JSON (no pickle), hash-verified.
* :class:`FeatureMatrix` — the float64 matrix with column names and groups.
"""
from .builder import (DEFAULT_GROUPS, FEATURE_GROUPS, FeatureBuilder, FeatureMatrix, embedded, is_spherical,
                      set_metric_names)

__all__ = ["FeatureBuilder", "FeatureMatrix", "DEFAULT_GROUPS", "FEATURE_GROUPS", "embedded", "is_spherical",
           "set_metric_names"]
