"""TEMPORARY re-export shim: the feature builder moved to :mod:`judgenet.featurize` (it sits above
:mod:`judgenet.metrics`, while :mod:`judgenet.features` — extraction and the cache — sits below).

Use ``judgenet.featurize.FeatureBuilder(**settings).fit(real).transform(generated)``. This module
keeps ``FeatureReference``/``build_features`` as thin adapters over it only until ``api.py`` is
switched; it will be deleted then. Set-level columns keep their legacy names here
(``set.fid.<s>``/``set.kid.<s>``) for the old callers; the values are the corrected ones (raw
embeddings, see :mod:`judgenet.featurize.builder`).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..featurize.builder import (DEFAULT_GROUPS, FEATURE_GROUPS, FeatureBuilder, FeatureMatrix, embedded,
                                 set_metric_names)

__all__ = ["FEATURE_GROUPS", "DEFAULT_GROUPS", "FeatureMatrix", "FeatureBuilder", "FeatureReference",
           "build_features"]


class FeatureReference:
    """Deprecated adapter with the old call shapes (``fit(images, texts, ...)``,
    ``transform(images, texts, groups=..., generators=...)``) over a fitted :class:`FeatureBuilder`."""

    def __init__(self, builder: FeatureBuilder):
        self.builder = builder

    @classmethod
    def fit(cls, real_images: Mapping[str, np.ndarray], real_texts=None, *, text_source: str | None = None,
            fingerprints: Mapping | None = None, **settings) -> "FeatureReference":
        settings.pop("normalize", None)
        ts = text_source or (next(iter(real_images)) if real_texts is not None else None)
        fb = FeatureBuilder(**settings).fit(embedded(real_images, real_texts, ts, fingerprints))
        return cls(fb)

    def transform(self, images, texts=None, *, groups: Sequence[str] = DEFAULT_GROUPS, generators=None,
                  ref_embeddings=None, kid_subsets: int = 50, kid_subset_size: int = 1000, seed: int = 0):
        fb = self.builder
        fb.set_params(groups=tuple(groups), kid_subsets=kid_subsets, kid_subset_size=kid_subset_size)
        fm = fb.transform(embedded(images, texts, fb.text_source_ if texts is not None else None),
                          generators=generators, ref_embeddings=ref_embeddings)
        legacy = {}
        for s in fb.sources_:
            n = set_metric_names(s)
            legacy[n["fd"]], legacy[n["kd"]] = f"set.fid.{s}", f"set.kid.{s}"
        if not any(n in legacy for n in fm.names):
            return fm
        names = [legacy.get(n, n) for n in fm.names]
        return FeatureMatrix(fm.X, names, {g: [legacy.get(n, n) for n in c] for g, c in fm.groups.items()})

    @property
    def sources(self) -> list[str]:
        return list(self.builder.sources_)

    @property
    def text_source(self):
        return self.builder.text_source_

    @property
    def mid_ref(self):
        return self.builder.mid_ref_

    @property
    def fingerprints(self) -> dict:
        return self.builder.fingerprints_

    @property
    def hash(self) -> str:
        return self.builder.hash_

    def save(self, path):
        return self.builder.save(path)

    @classmethod
    def load(cls, path, *, fingerprints: Mapping | None = None) -> "FeatureReference":
        return cls(FeatureBuilder.load(path, expected_fingerprints=fingerprints))


def build_features(real_images, images, real_texts=None, texts=None, *, groups=DEFAULT_GROUPS, generators=None,
                   **fit_options):
    """Deprecated: fit on the real images and featurize ``images`` in one call."""
    ref = FeatureReference.fit(real_images, real_texts, **fit_options)
    if texts is None:
        groups = [g for g in groups if g != "alignment"]
    return ref.transform(images, texts, groups=groups, generators=generators), ref
