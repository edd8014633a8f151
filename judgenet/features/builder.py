"""Turn embeddings into a named per-item feature matrix: :class:`FeatureBuilder`.

This layer sits **above** :mod:`judgenet.metrics` (it uses them) and above the extraction of
embeddings (:mod:`judgenet.embeddings`). Everything that is *fitted* (realism statistics, the MID
reference Gaussian, PCA bases) is fitted on **real images only** (:meth:`FeatureBuilder.fit`);
generated items are then featurized independently (:meth:`FeatureBuilder.transform`). A generated
item's per-item features depend only on that item and on the real reference set — never on other
generators, so a held-out generator cannot leak into the features of the training generators. The
optional ``set`` group is the exception by design: per-generator set statistics broadcast to items,
which identify the generator within a fold (its names start with ``set.``; leave it off for honest
evaluation).

Feature groups (select by name):

* ``alignment`` — ``mid_pmi`` (per-sample MID, Kim et al. 2022), ``clip_score`` (Hessel et al. 2021,
  w=2.5 on max(cos, 0); torchmetrics' ``CLIPScore`` uses 100·max(cos, 0) — same ranking, other scale),
  and ``ref_clip_score`` when reference embeddings are given. Needs text embeddings. Both use the
  image embeddings of the backbone that embedded the texts (``text_source`` of the input), never
  "the first source". ``clip_score`` exists only when that backbone has image embeddings in the same
  space; MID may pair the texts with another image source (``mid_image_source``).
* ``realism`` — for each image source ``s``: ``realism.s.mahalanobis2``, ``realism.s.knn_dist``,
  ``realism.s.knn_ratio``, ``realism.s.realism`` (Kynkäänniemi et al. 2019), ``realism.s.gmm_loglik``
  (GIQA-style), relative to the real images.
* ``activations`` — Kolchinski/Gordon-style raw activation statistics: ``pca.s.<i>`` projections on
  the real images' principal axes and ``act.s.{norm,mean,std,absmax,skew,kurtosis}`` summaries (the
  summaries always on the raw embedding).
* ``prompt`` — what the prompt says, so that a model can learn a prompt's difficulty and carry it to new
  prompts: ``prompt.pc<i>`` projections of the L2-normalized prompt embedding (the text tower's) on the
  principal axes of the **real** captions' embeddings (``prompt_components`` of them). Needs text embeddings.
* ``caption`` — counts of what the caption asks for (:func:`judgenet.features.text.caption_statistics`:
  ``caption.words``, ``caption.numbers``, ``caption.relations``, ``caption.colors``,
  ``caption.distinct_colors``, ``caption.conjunctions``); nothing fitted. Needs the prompts as text
  (``transform(..., prompts=)`` or the input's ``.prompts``, which :func:`judgenet.embeddings.embed` records); an
  item without a prompt (None) gets a NaN row. Left out, as ``alignment`` and ``prompt`` are, when the real set
  had no captions, so the paths that run without prompts drop all three together.
* ``set`` — per-generator set-level metrics broadcast to items (leaky), see below.

**Which features see which normalization** (the one place this is decided; recorded in
``normalized_`` and saved):

* per-item ``realism`` statistics and ``pca`` projections of a *spherical* source are computed on
  L2-normalized rows. With ``normalize="auto"`` the spherical sources are the CLIP-like ones —
  ``tiny`` and ``clip-*`` (their embeddings are compared by cosine). Every other source (``inception``
  pool features) is used **raw**. Pass a list of source names to choose explicitly.
* MID and CLIPScore normalize the image and text rows themselves (official definitions).
* ``set`` metrics always use the **raw** embeddings, whatever ``normalize`` says: FID/KID/precision/
  recall are defined on raw Inception pool3 features, and for CLIP features judgenet follows
  clean-fid's CLIP-FID convention (Fréchet distance of the raw ``encode_image`` output, no L2
  normalization; ``cleanfid/clip_features.py``). Column names say what they are:
  ``set.fid.inception`` / ``set.kid.inception`` for an Inception source, ``set.fd.<s>`` (Fréchet
  distance) / ``set.kd.<s>`` (kernel distance, KID's polynomial-kernel MMD²) for any other source,
  ``set.precision.<s>`` / ``set.recall.<s>`` (k-NN manifolds on raw features) and ``set.mid``.

Inputs are "Embedded-like": anything with ``.images`` ({source: (N, D_s)}), ``.texts`` ((N, D_t) or
None), ``.text_source`` (the source that embedded the texts) and ``.fingerprints`` ({source: dict});
:func:`judgenet.embeddings.embed` returns one. Rows that could not be embedded (non-finite image rows,
or ``ok == False``) are left out of fitting and come back as NaN rows from :meth:`transform`; an item
whose text row is non-finite (no prompt) gets NaN alignment features only. A plain (N, D) array is
also accepted (one source named ``x``, no texts); :meth:`transform` then returns a plain array, so the
builder works as an ordinary sklearn transformer in a ``Pipeline``.
"""
from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Iterable, Mapping

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..errors import ConfigError, NumericalError
from ..metrics import MIDReference, Moments, RealStats
from ..metrics import functional as F
from ..metrics._util import content_hash, l2_normalize
from ..metrics.streaming import knn_radii_sq
from .text import CAPTION_STATISTICS, caption_statistics, check_captions

__all__ = ["FEATURE_GROUPS", "DEFAULT_GROUPS", "FeatureMatrix", "FeatureBuilder", "set_metric_names",
           "is_spherical"]

log = logging.getLogger(__name__)

FEATURE_GROUPS = ("alignment", "realism", "activations", "prompt", "caption", "set")
#: ``caption`` is a default since issue 26: on the calibrated world's crossed split (new generator, new prompts) it
#: lifted every learned model (benchmarks/generalization/README.md, "Prompt features"); ``prompt`` did not add to it.
DEFAULT_GROUPS = ("alignment", "realism", "activations", "caption")
_ARRAY_SOURCE = "x"


@dataclass
class FeatureMatrix:
    """A float64 feature matrix ``X`` (n_items, n_features) with column ``names`` and ``groups``.

    ``groups`` maps a group name to its column names; ``leaky`` lists columns that encode generator
    identity (the ``set`` group). ``np.asarray(fm)`` gives ``X``.
    """

    X: np.ndarray
    names: list[str]
    groups: dict[str, list[str]] = field(default_factory=dict)

    def __array__(self, dtype=None, copy=None):
        return self.X if dtype is None else self.X.astype(dtype)

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape

    @property
    def leaky(self) -> list[str]:
        return list(self.groups.get("set", []))

    def column(self, name: str) -> np.ndarray:
        """(n_items,) float64 values of one named column."""
        try:
            return self.X[:, self.names.index(name)]
        except ValueError:
            raise ConfigError(f"no feature column {name!r}; available: {', '.join(self.names)}") from None

    def select(self, groups: Iterable[str]) -> "FeatureMatrix":
        """The columns of the given groups, in matrix order."""
        groups = list(groups)
        unknown = [g for g in groups if g not in self.groups]
        if unknown:
            raise ConfigError(f"feature groups {unknown} not in this matrix (has {list(self.groups)})")
        keep = {n for g in groups for n in self.groups[g]}
        idx = [i for i, n in enumerate(self.names) if n in keep]
        return FeatureMatrix(self.X[:, idx], [self.names[i] for i in idx],
                             {g: list(self.groups[g]) for g in groups})

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.X, columns=self.names)


def is_spherical(source: str) -> bool:
    """True for CLIP-like sources (``tiny``, ``clip``, ``clip-*``), whose embeddings are compared by
    cosine and are L2-normalized for per-item realism/PCA features under ``normalize="auto"``."""
    return source == "tiny" or source == "clip" or source.startswith("clip-")


def set_metric_names(source: str) -> dict[str, str]:
    """Column names of the set-level metrics of one source: keys ``fd``, ``kd``, ``precision``,
    ``recall``. FID/KID are named so only for Inception sources (the features their definitions use);
    other sources get ``set.fd.<s>`` / ``set.kd.<s>`` (Fréchet / kernel distance in that space)."""
    inception = source == "inception" or source.startswith("inception")
    return {"fd": f"set.{'fid' if inception else 'fd'}.{source}",
            "kd": f"set.{'kid' if inception else 'kd'}.{source}",
            "precision": f"set.precision.{source}", "recall": f"set.recall.{source}"}


def _summaries(a: np.ndarray) -> dict[str, np.ndarray]:
    mu = a.mean(axis=1)
    c = a - mu[:, None]
    sd = np.sqrt((c**2).mean(axis=1))
    safe = np.where(sd > 0, sd, 1.0)
    return {
        "norm": np.linalg.norm(a, axis=1),
        "mean": mu,
        "std": sd,
        "absmax": np.abs(a).max(axis=1),
        "skew": ((c / safe[:, None]) ** 3).mean(axis=1),
        "kurtosis": ((c / safe[:, None]) ** 4).mean(axis=1) - 3.0,
    }


_SUMMARIES = ("norm", "mean", "std", "absmax", "skew", "kurtosis")


def _as64(a, what: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ConfigError(f"{what} must be a 2-D (n_items, dim) array, got shape {a.shape}")
    return a


def _finite_rows(a: np.ndarray) -> np.ndarray:
    return np.isfinite(a).all(axis=1)


def _pca(x: np.ndarray, n_components: int) -> dict:
    """Principal axes of the rows of ``x`` (SVD of the centred rows): ``{mean, components (k, D),
    explained_variance (k,)}``, k = min(n_components, N−1, D); each axis signed so that its
    largest-magnitude loading is positive (deterministic)."""
    n_comp = int(min(n_components, x.shape[0] - 1, x.shape[1]))
    mean = x.mean(axis=0)
    _, sv, vt = np.linalg.svd(x - mean, full_matrices=False)
    comps = vt[:n_comp]
    signs = np.sign(comps[np.arange(n_comp), np.abs(comps).argmax(axis=1)])
    return {"mean": mean, "components": comps * signs[:, None],
            "explained_variance": sv[:n_comp] ** 2 / max(x.shape[0] - 1, 1)}


class FeatureBuilder(TransformerMixin, BaseEstimator):
    """sklearn-style featurizer: ``FeatureBuilder(**settings).fit(real).transform(generated)``.

    Settings (``__init__``; get/set_params, clonable, tunable):
        groups: feature groups :meth:`transform` builds (see module docstring); ``alignment`` is
            skipped (with a warning) when the real set had no texts.
        text_source: the source that embedded the texts. None = take it from the input's
            ``text_source`` (an input without one and with several image sources is refused). When
            given and the input names another one, refused.
        mid_image_source: image source MID pairs with the texts; None = ``text_source`` (which then
            must have image embeddings — a text-only encoder needs this set).
        normalize: ``"auto"`` (CLIP-like sources L2-normalized for realism/PCA, see
            :func:`is_spherical`) or an explicit list of source names.
        pca_components: principal axes kept per source (capped by N−1 and D).
        prompt_components: principal axes of the real captions' text embeddings kept for the ``prompt`` group
            (capped by N−1 and D).
        k: k of the k-NN realism features and of precision/recall. gmm_components: mixture size
            (None disables ``gmm_loglik``).
        mid_eps, mid_shrinkage: MID covariance regularization (official: none; then N > D_img + D_text).
        realism_shrinkage: covariance shrinkage of the Mahalanobis term (RealStats).
        kid_subsets, kid_subset_size: KID/KD subsets (capped by the set sizes).
        seed: seeds the GMM and the KID subsets.

    Fitted state: ``sources_``, ``text_source_``, ``mid_image_source_``, ``normalized_``,
    ``realstats_`` ({source: RealStats}), ``pca_`` ({source: {mean, components, explained_variance}}),
    ``mid_ref_`` (MIDReference or None), ``text_pca_`` ({mean, components, explained_variance} of the
    L2-normalized real text embeddings, or None without texts), ``real_raw_`` ({source: raw (N, D) real embeddings} for the
    set metrics), ``fingerprints_``, ``n_real_``, ``hash_`` (16 hex chars identifying the fitted
    reference: real data, settings, fingerprints).
    """

    def __init__(self, groups=DEFAULT_GROUPS, text_source=None, mid_image_source=None, normalize="auto",
                 pca_components=16, prompt_components=8, k=3, gmm_components=8, mid_eps=0.0, mid_shrinkage=None,
                 realism_shrinkage="ledoit_wolf", kid_subsets=50, kid_subset_size=1000, seed=0):
        self.groups = groups
        self.text_source = text_source
        self.mid_image_source = mid_image_source
        self.normalize = normalize
        self.pca_components = pca_components
        self.prompt_components = prompt_components
        self.k = k
        self.gmm_components = gmm_components
        self.mid_eps = mid_eps
        self.mid_shrinkage = mid_shrinkage
        self.realism_shrinkage = realism_shrinkage
        self.kid_subsets = kid_subsets
        self.kid_subset_size = kid_subset_size
        self.seed = seed

    # ------------------------------------------------------------------------------------------
    # input handling
    # ------------------------------------------------------------------------------------------
    def _unpack(self, data, *, fitting: bool):
        """(images {source: float64 (N, D)}, texts or None, text_source or None, fingerprints, is_array)."""
        if hasattr(data, "images"):
            images = {str(s): _as64(a, f"images[{s!r}]") for s, a in dict(data.images).items()}
            if not images:
                raise ConfigError("the input has no image embeddings; embed at least one image backbone")
            n = {a.shape[0] for a in images.values()}
            if len(n) != 1:
                raise ConfigError(f"image sources disagree on the number of items: "
                                  f"{ {s: a.shape[0] for s, a in images.items()} }")
            texts = getattr(data, "texts", None)
            texts = None if texts is None else _as64(texts, "texts")
            if texts is not None and texts.shape[0] != next(iter(n)):
                raise ConfigError(f"texts has {texts.shape[0]} rows for {next(iter(n))} items; they must be "
                                  "paired row by row")
            ok = getattr(data, "ok", None)
            ok = None if ok is None else np.asarray(ok, dtype=bool).ravel()
            n_rows = next(iter(images.values())).shape[0]
            if ok is not None and ok.size == n_rows and not ok.all():  # an empty ok means "not recorded"
                for s in images:
                    images[s] = images[s].copy()
                    images[s][~ok] = np.nan
            return (images, texts, getattr(data, "text_source", None),
                    dict(getattr(data, "fingerprints", None) or {}), False)
        if fitting:
            X = validate_data(self, data, dtype=np.float64)
        else:
            X = validate_data(self, data, dtype=np.float64, reset=False)
        return {_ARRAY_SOURCE: X}, None, None, {}, True

    def _resolve_text_source(self, images, texts, given) -> tuple[str | None, str | None]:
        if texts is None:
            return None, None
        ts = self.text_source
        if ts is not None and given is not None and ts != given:
            raise ConfigError(f"the texts were embedded by {given!r} but FeatureBuilder(text_source={ts!r}); "
                              "drop text_source= or embed the prompts with that backbone")
        ts = ts or given
        if ts is None:
            if len(images) != 1:
                raise ConfigError(f"the input has texts but does not say which backbone embedded them and there "
                                  f"are several image sources {list(images)}; pass text_source=<source>")
            ts = next(iter(images))
        mis = self.mid_image_source or ts
        if mis not in images:
            raise ConfigError(f"MID needs image embeddings paired with the texts of {ts!r}, but image source "
                              f"{mis!r} is not among {list(images)}; pass mid_image_source=<one of them>")
        return ts, mis

    def _normalized_sources(self, sources) -> list[str]:
        if isinstance(self.normalize, str):
            if self.normalize != "auto":
                raise ConfigError(f"normalize must be 'auto' or a list of source names, got {self.normalize!r}")
            return [s for s in sources if is_spherical(s)]
        chosen = list(self.normalize or [])
        unknown = [s for s in chosen if s not in sources]
        if unknown:
            raise ConfigError(f"normalize names sources {unknown} that are not among {list(sources)}")
        return [s for s in sources if s in chosen]

    # ------------------------------------------------------------------------------------------
    def fit(self, real, y=None):
        """Fit on the real reference set (Embedded-like, or an (N, D) array); ``y`` is ignored.

        Rows with non-finite image embeddings (unreadable images) are left out, with a warning. The
        real texts (captions of the same images, row i describes image i) are needed for MID.
        """
        groups = list(self.groups)
        unknown = [g for g in groups if g not in FEATURE_GROUPS]
        if unknown:
            raise ConfigError(f"unknown feature groups {unknown}; choose from {FEATURE_GROUPS}")
        images, texts, given_ts, fps, _ = self._unpack(real, fitting=True)
        good = np.logical_and.reduce([_finite_rows(a) for a in images.values()])
        if texts is not None:
            good &= _finite_rows(texts)
        if not good.all():
            log.warning("FeatureBuilder.fit: %d of %d real rows have no usable embedding and are left out",
                        int((~good).sum()), good.size)
            images = {s: a[good] for s, a in images.items()}
            texts = None if texts is None else texts[good]
        n_real = next(iter(images.values())).shape[0]
        if n_real < int(self.k) + 1:
            raise ConfigError(f"n_samples={n_real}: fitting needs at least k+1={int(self.k) + 1} usable real rows "
                              "(k-NN realism statistics); give more real images")
        sources = list(images)
        ts, mis = self._resolve_text_source(images, texts, given_ts)
        normalized = self._normalized_sources(sources)
        realstats, pca, raw = {}, {}, {}
        for s in sources:
            x = images[s]
            distinct = np.unique(x, axis=0).shape[0]
            if distinct < int(self.k) + 1:
                raise ConfigError(f"the real reference has only {distinct} distinct embedding(s) for source {s!r} "
                                  f"({x.shape[0]} rows — copies of the same images?); realism statistics need at "
                                  f"least k+1={int(self.k) + 1} different real images: give a varied reference set")
            if s in normalized:
                x = l2_normalize(x, s)
                raw[s] = images[s]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                realstats[s] = RealStats.fit(x, k=self.k, gmm_components=self.gmm_components, seed=self.seed,
                                             shrinkage=self.realism_shrinkage, fingerprint=fps.get(s))
            for w in {str(w.message).split(".")[0] for w in caught}:
                log.warning("fitting the realism statistics of source %r: %s", s, w)
            pca[s] = _pca(x, self.pca_components)
        # the prompt group's axes: the real captions' (normalized) text embeddings, never a generated prompt's
        text_pca = None if texts is None else _pca(l2_normalize(texts, "texts"), self.prompt_components)
        mid_ref = None
        if texts is not None:
            try:
                mid_ref = MIDReference.fit(images[mis], texts, normalize=True, eps=self.mid_eps,
                                           shrinkage=self.mid_shrinkage, limit=None, fingerprint=fps.get(mis))
            except NumericalError as exc:
                raise NumericalError(f"{exc} [FeatureBuilder settings: mid_eps=, mid_shrinkage=; CLI: --mid-eps, "
                                     "--mid-shrinkage]") from None
        self.sources_ = sources
        self.text_source_ = ts
        self.mid_image_source_ = mis
        self.normalized_ = normalized
        self.realstats_ = realstats
        self.pca_ = pca
        self.text_pca_ = text_pca
        self.mid_ref_ = mid_ref
        self.real_raw_ = raw
        self.fingerprints_ = {s: fps[s] for s in fps}
        self.n_real_ = int(next(iter(images.values())).shape[0])
        self._finish()
        if "alignment" in groups and mid_ref is None:
            log.warning("FeatureBuilder: the real set has no texts, so the 'alignment' group (MID, CLIPScore) "
                        "is left out; give the reference captions to build it")
        if {"prompt", "caption"} & set(groups) and text_pca is None:
            log.warning("FeatureBuilder: the real set has no texts, so the 'prompt' and 'caption' groups are left out "
                        "(as alignment is); give the reference captions to build them")
        return self

    def _finish(self) -> None:
        """Derived state shared by fit and load: the hash; raw real moments are computed on first use."""
        self._moments_cache: dict[str, Moments] = {}
        self.hash_ = self._compute_hash()

    def _raw_moments(self, s: str) -> Moments:
        if s not in self._moments_cache:
            self._moments_cache[s] = Moments.from_array(self._raw_real(s))
        return self._moments_cache[s]

    def _raw_real(self, s: str) -> np.ndarray:
        return self.real_raw_[s] if s in self.real_raw_ else self.realstats_[s].real

    # ------------------------------------------------------------------------------------------
    def _groups_out(self) -> list[str]:
        groups = [g for g in FEATURE_GROUPS if g in list(self.groups)]
        if self.mid_ref_ is None:
            groups = [g for g in groups if g != "alignment"]
        if getattr(self, "text_pca_", None) is None:
            groups = [g for g in groups if g not in ("prompt", "caption")]
        return groups

    def _has_clip_score(self) -> bool:
        return self.text_source_ is not None and self.text_source_ in self.sources_ \
            and self.mid_image_source_ == self.text_source_

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Column names :meth:`transform` produces (without ``ref_embeddings``), as an object array."""
        check_is_fitted(self, "hash_")
        names: list[str] = []
        for g in self._groups_out():
            if g == "alignment":
                names += ["mid_pmi"] + (["clip_score"] if self._has_clip_score() else [])
            elif g == "realism":
                for s in self.sources_:
                    names += [f"realism.{s}.{n}" for n in ("mahalanobis2", "knn_dist", "knn_ratio", "realism")]
                    if self.realstats_[s].gmm is not None:
                        names.append(f"realism.{s}.gmm_loglik")
            elif g == "activations":
                for s in self.sources_:
                    names += [f"pca.{s}.{i}" for i in range(self.pca_[s]["components"].shape[0])]
                    names += [f"act.{s}.{n}" for n in _SUMMARIES]
            elif g == "prompt":
                names += [f"prompt.pc{i}" for i in range(self.text_pca_["components"].shape[0])]
            elif g == "caption":
                names += [f"caption.{n}" for n in CAPTION_STATISTICS]
            elif g == "set":
                names += ["set.mid"] if self.mid_ref_ is not None else []
                for s in self.sources_:
                    names += list(set_metric_names(s).values())
        return np.asarray(names, dtype=object)

    def transform(self, generated, generators=None, *, ref_embeddings=None, prompts=None):
        """Featurize M items.

        Args:
            generated: Embedded-like (same image sources as at fit; texts for ``alignment``), or an
                (M, D) array when the builder was fitted on an array.
            generators: (M,) generator name per item; required for the ``set`` group.
            ref_embeddings: per item, an (R_j, D) array of reference embeddings for RefCLIP-S
                (compared with the item's image embedding); adds ``ref_clip_score``.
            prompts: (M,) the prompts as text, for the ``caption`` group (default: the input's
                ``.prompts`` attribute when it has one).
        Returns a :class:`FeatureMatrix` (float64, columns in :meth:`get_feature_names_out` order;
        items without a usable embedding are NaN rows), or a plain (M, p) array for array input.
        """
        check_is_fitted(self, "hash_")
        images, texts, given_ts, _, is_array = self._unpack(generated, fitting=False)
        missing = [s for s in self.sources_ if s not in images]
        if missing:
            raise ConfigError(f"image sources {missing} were fitted on the real images but are missing here "
                              f"(have {list(images)}); embed with the same backbones")
        arrays = {s: images[s] for s in self.sources_}
        for s, a in arrays.items():
            want = self.realstats_[s].dim
            if a.shape[1] != want:
                raise ConfigError(f"image source {s!r} has dimension {a.shape[1]} here but {want} at fit; "
                                  "embed with the same backbone")
        m = next(iter(arrays.values())).shape[0]
        groups = self._groups_out()
        for g in ("prompt", "alignment"):  # the groups built from the prompts' text embeddings
            if g not in groups:
                continue
            if texts is None:
                raise ConfigError(f"the {g!r} group needs text embeddings of the prompts; embed the prompts, or "
                                  f"build without it: set_params(groups=[...] without {g!r})")
            if given_ts is not None and given_ts != self.text_source_:
                raise ConfigError(f"the texts here were embedded by {given_ts!r} but the builder was fitted with "
                                  f"texts of {self.text_source_!r}; embed the prompts with the same backbone")
        if "caption" in groups:
            captions = check_captions(prompts if prompts is not None else getattr(generated, "prompts", None), m)
        ok = np.logical_and.reduce([_finite_rows(a) for a in arrays.values()])
        if not ok.all():
            log.warning("FeatureBuilder.transform: %d of %d items have no usable embedding; their rows are NaN",
                        int((~ok).sum()), m)
        idx_ok = np.flatnonzero(ok)
        if idx_ok.size == 0:
            raise ConfigError(f"none of the {m} items has a usable image embedding (all rows are NaN); check the "
                              "failures listed by the extraction")
        cols: dict[str, np.ndarray] = {}
        grp: dict[str, list[str]] = {}

        def add(group: str, name: str, values, rows=idx_ok) -> None:
            col = np.full(m, np.nan)
            col[rows] = np.asarray(values, dtype=np.float64).reshape(len(rows))
            cols[name] = col
            grp.setdefault(group, []).append(name)

        ok_arr = {s: a[idx_ok] for s, a in arrays.items()}
        normed = {s: (l2_normalize(a, s) if s in self.normalized_ else a) for s, a in ok_arr.items()}
        if "alignment" in groups:
            t_ok = _finite_rows(texts) & ok
            if not t_ok.all():
                log.warning("FeatureBuilder.transform: %d items have no prompt embedding; their alignment "
                            "features are NaN", int((ok & ~t_ok).sum()))
            rows = np.flatnonzero(t_ok)
            xi, t = arrays[self.mid_image_source_][rows], texts[rows]
            empty = rows.size == 0
            add("alignment", "mid_pmi", [] if empty else self.mid_ref_.pmi(xi, t), rows)
            if self._has_clip_score():
                add("alignment", "clip_score", [] if empty else F.clip_score(xi, t, reduction="none"), rows)
            if ref_embeddings is not None:
                refs = [ref_embeddings[i] for i in rows]
                add("alignment", "ref_clip_score",
                    [] if empty else F.ref_clip_score(xi, t, refs, candidate="img", reduction="none"), rows)
        if "realism" in groups:
            for s in self.sources_:
                for name, v in self.realstats_[s].features(normed[s]).items():
                    add("realism", f"realism.{s}.{name}", v)
        if "activations" in groups:
            for s in self.sources_:
                p = self.pca_[s]
                proj = (normed[s] - p["mean"]) @ p["components"].T
                for i in range(proj.shape[1]):
                    add("activations", f"pca.{s}.{i}", proj[:, i])
                for name, v in _summaries(ok_arr[s]).items():
                    add("activations", f"act.{s}.{name}", v)
        if "prompt" in groups:
            if texts.shape[1] != self.text_pca_["mean"].shape[0]:
                raise ConfigError(f"the prompt embeddings have dimension {texts.shape[1]} here but "
                                  f"{self.text_pca_['mean'].shape[0]} at fit; embed with the same text backbone")
            rows = np.flatnonzero(_finite_rows(texts) & ok)
            p = self.text_pca_
            proj = (l2_normalize(texts[rows], "texts") - p["mean"]) @ p["components"].T if rows.size else \
                np.empty((0, p["components"].shape[0]))
            for i in range(proj.shape[1]):
                add("prompt", f"prompt.pc{i}", proj[:, i], rows)
        if "caption" in groups:
            stats = caption_statistics([captions[i] for i in idx_ok])
            for j, name in enumerate(CAPTION_STATISTICS):
                add("caption", f"caption.{name}", stats[:, j])
        if "set" in groups:
            self._set_group(add, arrays, texts, ok, generators, m)
        names = list(cols)
        X = np.column_stack([cols[n] for n in names]) if names else np.empty((m, 0))
        if is_array:
            return X
        return FeatureMatrix(X, names, grp)

    def _set_group(self, add, arrays, texts, ok, generators, m) -> None:
        if generators is None:
            raise ConfigError("the 'set' group needs generators=(one name per item)")
        gens = np.asarray(generators)
        if gens.shape[0] != m:
            raise ConfigError(f"generators has {gens.shape[0]} entries for {m} items")
        t_ok = None if texts is None else _finite_rows(texts)
        set_cols: dict[str, np.ndarray] = {}

        def put(name, idx, v):
            set_cols.setdefault(name, np.full(m, np.nan))[idx] = v

        real_radii: dict[str, np.ndarray] = {}  # the reference's k-NN radii: one O(N²) search, not one per generator

        def radii(s: str) -> np.ndarray:
            if s not in real_radii:
                rs = self.realstats_[s]
                real_radii[s] = rs.radii_sq if s not in self.real_raw_ else knn_radii_sq(self._raw_real(s), rs.k)
            return real_radii[s]

        for g in dict.fromkeys(gens.tolist()):
            members = gens == g
            idx = np.flatnonzero(members & ok)
            if self.mid_ref_ is not None:
                tidx = idx if t_ok is None else np.flatnonzero(members & ok & t_ok)
                v = self.mid_ref_.mid(arrays[self.mid_image_source_][tidx], texts[tidx]) \
                    if texts is not None and tidx.size > 1 else np.nan
                put("set.mid", idx, v)
            for s in self.sources_:
                names = set_metric_names(s)
                gen_raw = arrays[s][idx]
                put(names["fd"], idx, F.fid(self._raw_moments(s), gen_raw) if idx.size > 1 else np.nan)
                real = self._raw_real(s)
                size = int(min(self.kid_subset_size, idx.size, real.shape[0]))
                put(names["kd"], idx, F.kid(real, gen_raw, subsets=self.kid_subsets, subset_size=size,
                                            seed=self.seed)[0] if size >= 2 else np.nan)
                k = self.realstats_[s].k
                pr = (F.precision_recall(real, gen_raw, k=k, real_radii_sq=radii(s)) if idx.size > k
                      else (np.nan, np.nan))
                put(names["precision"], idx, pr[0])
                put(names["recall"], idx, pr[1])
        rows = np.flatnonzero(ok)
        for name, col in set_cols.items():
            add("set", name, col[rows])

    # ------------------------------------------------------------------------------------------
    # persistence (npz + json, no pickle)
    # ------------------------------------------------------------------------------------------
    def _settings(self) -> dict:
        p = self.get_params()
        p["groups"] = list(p["groups"])
        if not isinstance(p["normalize"], str):
            p["normalize"] = list(p["normalize"] or [])
        return p

    def _state_meta(self) -> dict:
        return {"sources": self.sources_, "text_source": self.text_source_,
                "mid_image_source": self.mid_image_source_, "normalized": self.normalized_,
                "n_real": self.n_real_}

    def _compute_hash(self) -> str:
        parts = {f"rs_{s}": np.frombuffer(r.hash.encode(), dtype=np.uint8) for s, r in self.realstats_.items()}
        if self.mid_ref_ is not None:
            parts["mid"] = np.frombuffer(self.mid_ref_.hash.encode(), dtype=np.uint8)
        for s, p in self.pca_.items():
            parts[f"pca_{s}"] = p["components"]
        if getattr(self, "text_pca_", None) is not None:
            parts["text_pca"] = self.text_pca_["components"]
        for s, a in self.real_raw_.items():
            parts[f"raw_{s}"] = a
        # groups and kid settings do not change what is fitted: they are left out of the hash
        fitted = {k: v for k, v in self._settings().items() if k not in ("groups", "kid_subsets", "kid_subset_size")}
        return content_hash(parts, {"settings": fitted, "state": self._state_meta(),
                                    "fingerprints": self.fingerprints_})

    def save(self, path: str | os.PathLike) -> Path:
        """Write a directory ``path``: one ``.npz`` per component and ``builder.json`` (settings, fitted
        metadata, fingerprints, the ``hash_`` and each file's content hash), every file atomically; returns
        ``path`` (:func:`judgenet.features.persistence.save_builder`)."""
        from .persistence import save_builder

        return save_builder(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike, *, expected_fingerprints: Mapping[str, dict] | None = None
             ) -> "FeatureBuilder":
        """Read a directory written by :meth:`save`, verifying every file's content hash, the overall ``hash_``
        and, given ``expected_fingerprints`` ({source: fingerprint} of the backbones in use), that every source
        was fitted with the same backbone (:func:`judgenet.features.persistence.load_builder`); any problem
        raises :class:`~judgenet.errors.ArtifactError` naming the file and the fix."""
        from .persistence import load_builder

        return load_builder(cls, path, expected_fingerprints=expected_fingerprints)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def embedded(images: Mapping[str, np.ndarray], texts=None, text_source: str | None = None,
             fingerprints: Mapping | None = None, prompts=None) -> SimpleNamespace:
    """A minimal Embedded-like object from arrays (for tests and callers that hold raw arrays); ``prompts``: the
    prompts as text (the ``caption`` group reads them)."""
    return SimpleNamespace(images=dict(images), texts=texts, text_source=text_source,
                           fingerprints=dict(fingerprints or {}), prompts=None if prompts is None else list(prompts))
