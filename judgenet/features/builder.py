"""Turn cached embeddings into a named per-item feature matrix for predictors.

Everything that is *fitted* here (realism statistics, the MID reference Gaussian, PCA bases) is
fitted on **real images only** (:meth:`FeatureReference.fit`); generated items are then featurized
one by one (:meth:`FeatureReference.transform`). A generated item's per-item features therefore
depend only on that item and on the real reference set — never on other generators, so a held-out
generator cannot leak into the features of the training generators. The optional ``set`` group is
the exception by design: per-generator set statistics broadcast to items, which identify the
generator within a fold (its names start with ``set.``; leave it off for honest evaluation).

Feature groups (select by name):

* ``alignment`` — ``mid_pmi`` (per-sample MID, Kim et al. 2022), ``clip_score`` (Hessel et al. 2021,
  w=2.5), and ``ref_clip_score`` when reference captions/images are given. Needs text embeddings.
* ``realism`` — for each image source ``s``: ``realism.s.mahalanobis2``, ``realism.s.knn_dist``,
  ``realism.s.knn_ratio``, ``realism.s.realism`` (Kynkäänniemi et al. 2019), ``realism.s.gmm_loglik``
  (GIQA-style), relative to the real images.
* ``activations`` — Kolchinski/Gordon-style raw activation statistics: ``pca.s.<i>`` projections on
  the real images' principal axes and ``act.s.{norm,mean,std,absmax,skew,kurtosis}`` summaries.
* ``set`` — per-generator ``set.mid``, ``set.fid.s``, ``set.kid.s``, ``set.precision.s``,
  ``set.recall.s`` (Kynkäänniemi et al. 2019) broadcast to items (leaky).

Image sources are named arrays, e.g. ``{"clip": (N, 512), "inception": (N, 2048)}``; the source
paired with text (``text_source``) is the one MID and CLIPScore use.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..errors import ArtifactError, ConfigError
from ..metrics import MIDReference, RealStats
from ..metrics import functional as F
from ..metrics._util import content_hash, l2_normalize, load_npz, save_npz

__all__ = ["FEATURE_GROUPS", "DEFAULT_GROUPS", "FeatureMatrix", "FeatureReference", "build_features"]

FEATURE_GROUPS = ("alignment", "realism", "activations", "set")
DEFAULT_GROUPS = ("alignment", "realism", "activations")
_FORMAT_VERSION = 1


@dataclass
class FeatureMatrix:
    """A float64 feature matrix ``X`` (n_items, n_features) with column ``names`` and ``groups``.

    ``groups`` maps a group name to its column names; ``leaky`` lists columns that encode generator
    identity (the ``set`` group).
    """

    X: np.ndarray
    names: list[str]
    groups: dict[str, list[str]] = field(default_factory=dict)

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


def _as64(a, what: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2:
        raise ConfigError(f"{what} must be a 2-D (n_items, dim) array, got shape {a.shape}")
    return a


class FeatureReference:
    """Everything fitted on real images: per-source :class:`RealStats` and PCA, the MID reference.

    Build with :meth:`fit`, featurize generated items with :meth:`transform`, persist with
    :meth:`save` / :meth:`load` (``.npz`` + JSON, no pickle). ``hash`` identifies the reference
    (it changes with the real images, the settings and the backbone fingerprints).
    """

    def __init__(self, realstats: dict[str, RealStats], pca: dict[str, dict[str, np.ndarray]],
                 mid_ref: MIDReference | None, settings: dict, fingerprints: dict | None = None):
        self.realstats = realstats
        self.pca = pca
        self.mid_ref = mid_ref
        self.settings = settings
        self.fingerprints = dict(fingerprints or {})

    @property
    def sources(self) -> list[str]:
        return list(self.realstats)

    @property
    def text_source(self) -> str | None:
        return self.settings.get("text_source")

    @classmethod
    def fit(cls, real_images: Mapping[str, np.ndarray], real_texts: np.ndarray | None = None, *,
            text_source: str | None = None, normalize: Sequence[str] | None = None, pca_components: int = 16,
            k: int = 3, gmm_components: int | None = 8, mid_eps: float = 0.0, mid_shrinkage: str | None = None,
            realism_shrinkage: str | None = "ledoit_wolf", seed: int = 0,
            fingerprints: Mapping[str, dict] | None = None) -> "FeatureReference":
        """Fit on real images (and the captions of the same images, for MID).

        Args:
            real_images: ``{source: (N, D_s)}`` embeddings of the N real reference images.
            real_texts: (N, D_t) text embeddings of their captions (row i describes image i); needed
                for ``mid_pmi``. None for unconditional (realism-only) use.
            text_source: the image source paired with the text tower (default: the first source).
            normalize: sources whose rows are L2-normalized before realism statistics and PCA
                (default: the text source — CLIP-style embeddings live on the sphere).
            pca_components: number of principal axes kept per source (capped by N−1 and D).
            k: k of the k-NN features; gmm_components: mixture size (None disables GMM log-likelihood).
            mid_eps, mid_shrinkage: MID covariance regularization (official default: none; then N must
                exceed D_img + D_text). realism_shrinkage: for the Mahalanobis term of RealStats.
            seed: seeds the GMM. fingerprints: ``{source: backbone fingerprint}`` recorded and checked.
        """
        if not real_images:
            raise ConfigError("real_images is empty: give at least one {source: (N, D)} array of real embeddings")
        srcs = list(real_images)
        text_source = text_source or srcs[0]
        if text_source not in real_images:
            raise ConfigError(f"text_source {text_source!r} is not one of the image sources {srcs}")
        normalize = list(normalize) if normalize is not None else [text_source]
        fps = dict(fingerprints or {})
        realstats, pca = {}, {}
        for s in srcs:
            x = _as64(real_images[s], f"real_images[{s!r}]")
            if s in normalize:
                x = l2_normalize(x, s)
            realstats[s] = RealStats.fit(x, k=k, gmm_components=gmm_components, seed=seed,
                                         shrinkage=realism_shrinkage, fingerprint=fps.get(s))
            n_comp = int(min(pca_components, x.shape[0] - 1, x.shape[1]))
            mean = x.mean(axis=0)
            _, sv, vt = np.linalg.svd(x - mean, full_matrices=False)
            comps = vt[:n_comp]
            # deterministic sign: largest-magnitude loading of each axis positive
            signs = np.sign(comps[np.arange(n_comp), np.abs(comps).argmax(axis=1)])
            pca[s] = {"mean": mean, "components": comps * signs[:, None],
                      "explained_variance": sv[:n_comp] ** 2 / max(x.shape[0] - 1, 1)}
        mid_ref = None
        if real_texts is not None:
            t = _as64(real_texts, "real_texts")
            xi = np.asarray(real_images[text_source])
            if t.shape[0] != xi.shape[0]:
                raise ConfigError(f"real_texts has {t.shape[0]} rows but real_images[{text_source!r}] has "
                                  f"{xi.shape[0]}: they must be paired row by row")
            mid_ref = MIDReference.fit(xi, t, normalize=True, eps=mid_eps, shrinkage=mid_shrinkage,
                                       limit=None, fingerprint=fps.get(text_source))
        settings = {"text_source": text_source, "normalize": normalize, "pca_components": pca_components,
                    "k": k, "gmm_components": gmm_components, "mid_eps": mid_eps, "mid_shrinkage": mid_shrinkage,
                    "realism_shrinkage": realism_shrinkage, "seed": seed, "n_real": int(xi.shape[0])
                    if real_texts is not None else int(np.asarray(real_images[srcs[0]]).shape[0])}
        return cls(realstats, pca, mid_ref, settings, fps)

    # ------------------------------------------------------------------------------------------
    def transform(self, images: Mapping[str, np.ndarray], texts: np.ndarray | None = None, *,
                  groups: Sequence[str] = DEFAULT_GROUPS, generators: Sequence[str] | None = None,
                  ref_embeddings: Sequence[np.ndarray] | None = None, kid_subsets: int = 50,
                  kid_subset_size: int = 1000,
                  seed: int = 0) -> FeatureMatrix:
        """Featurize M items.

        Args:
            images: ``{source: (M, D_s)}`` embeddings of the items (same sources as at fit).
            texts: (M, D_t) embeddings of each item's prompt (None → no ``alignment`` group).
            groups: feature groups to build (see module docstring).
            generators: (M,) generator name per item; required for the ``set`` group.
            ref_embeddings: per item, an (R_j, D) array of reference embeddings for RefCLIP-S
                (optional; compared with the item's image embedding).
        Returns a :class:`FeatureMatrix` with float64 columns in a fixed order.
        """
        unknown = [g for g in groups if g not in FEATURE_GROUPS]
        if unknown:
            raise ConfigError(f"unknown feature groups {unknown}; choose from {FEATURE_GROUPS}")
        missing = [s for s in self.sources if s not in images]
        if missing:
            raise ConfigError(f"image sources {missing} were fitted on the real images but are missing here")
        arrays = {s: _as64(images[s], f"images[{s!r}]") for s in self.sources}
        m = {a.shape[0] for a in arrays.values()}
        if len(m) != 1:
            raise ConfigError(f"image sources disagree on the number of items: { {s: a.shape[0] for s, a in arrays.items()} }")
        m = m.pop()
        cols: dict[str, np.ndarray] = {}
        grp: dict[str, list[str]] = {}

        def add(group: str, name: str, values: np.ndarray) -> None:
            cols[name] = np.asarray(values, dtype=np.float64).reshape(m)
            grp.setdefault(group, []).append(name)

        normed = {s: (l2_normalize(a, s) if s in self.settings["normalize"] else a) for s, a in arrays.items()}
        ts = self.text_source
        t = None if texts is None else _as64(texts, "texts")
        if t is not None and t.shape[0] != m:
            raise ConfigError(f"texts has {t.shape[0]} rows for {m} items")
        if "alignment" in groups:
            if t is None:
                raise ConfigError("the 'alignment' group needs text embeddings of the prompts; pass texts=... "
                                  "or leave 'alignment' out for unconditional (realism-only) scoring")
            if self.mid_ref is None:
                raise ConfigError("this FeatureReference was fitted without real_texts, so it has no MID reference")
            add("alignment", "mid_pmi", self.mid_ref.pmi(arrays[ts], t))
            add("alignment", "clip_score", F.clip_score(arrays[ts], t, reduction="none"))
            if ref_embeddings is not None:
                add("alignment", "ref_clip_score",
                    F.ref_clip_score(arrays[ts], t, list(ref_embeddings), candidate="img", reduction="none"))
        if "realism" in groups:
            for s in self.sources:
                for name, v in self.realstats[s].features(normed[s]).items():
                    add("realism", f"realism.{s}.{name}", v)
        if "activations" in groups:
            for s in self.sources:
                p = self.pca[s]
                proj = (normed[s] - p["mean"]) @ p["components"].T
                for i in range(proj.shape[1]):
                    add("activations", f"pca.{s}.{i}", proj[:, i])
                for name, v in _summaries(arrays[s]).items():
                    add("activations", f"act.{s}.{name}", v)
        if "set" in groups:
            if generators is None:
                raise ConfigError("the 'set' group needs generators=(one name per item)")
            gens = np.asarray(generators)
            if gens.shape[0] != m:
                raise ConfigError(f"generators has {gens.shape[0]} entries for {m} items")
            set_cols = {}
            for g in np.unique(gens):
                idx = np.flatnonzero(gens == g)
                vals = {}
                if t is not None and self.mid_ref is not None and idx.size > 1:
                    vals["set.mid"] = self.mid_ref.mid(arrays[ts][idx], t[idx])
                for s in self.sources:
                    real = self.realstats[s].real
                    vals[f"set.fid.{s}"] = F.fid(real, normed[s][idx]) if idx.size > 1 else np.nan
                    size = int(min(kid_subset_size, idx.size, real.shape[0]))
                    vals[f"set.kid.{s}"] = (F.kid(real, normed[s][idx], subsets=kid_subsets, subset_size=size,
                                                  seed=seed)[0] if size >= 2 else np.nan)
                    k = self.realstats[s].k
                    vals[f"set.precision.{s}"], vals[f"set.recall.{s}"] = (
                        F.precision_recall(real, normed[s][idx], k=k) if idx.size > k else (np.nan, np.nan))
                for k, v in vals.items():
                    set_cols.setdefault(k, np.full(m, np.nan))[idx] = v
            for k, v in set_cols.items():
                add("set", k, v)
        names = list(cols)
        X = np.column_stack([cols[n] for n in names]) if names else np.empty((m, 0))
        return FeatureMatrix(X, names, grp)

    # ------------------------------------------------------------------------------------------
    @property
    def hash(self) -> str:
        """16 hex chars identifying the fitted reference (real data, settings, fingerprints)."""
        parts = {f"rs_{s}": np.frombuffer(r.hash.encode(), dtype=np.uint8) for s, r in self.realstats.items()}
        if self.mid_ref is not None:
            parts["mid"] = np.frombuffer(self.mid_ref.hash.encode(), dtype=np.uint8)
        for s, p in self.pca.items():
            parts[f"pca_{s}"] = p["components"]
        return content_hash(parts, {"settings": self.settings, "fingerprints": self.fingerprints})

    def save(self, path: str | os.PathLike) -> Path:
        """Write a directory ``path`` with one ``.npz`` per component and ``reference.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for s, rs in self.realstats.items():
            rs.save(path / f"realstats-{s}.npz")
            pmeta = {"kind": "PCA", "source": s}
            save_npz(path / f"pca-{s}.npz", self.pca[s], {**pmeta, "hash": content_hash(self.pca[s], pmeta)})
        if self.mid_ref is not None:
            self.mid_ref.save(path / "mid.npz")
        meta = {"kind": "FeatureReference", "format_version": _FORMAT_VERSION, "sources": self.sources,
                "settings": self.settings, "fingerprints": self.fingerprints, "hash": self.hash}
        tmp = path / "reference.json.tmp"
        tmp.write_text(json.dumps(meta, indent=2, default=str))
        os.replace(tmp, path / "reference.json")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, fingerprints: Mapping[str, dict] | None = None) -> "FeatureReference":
        """Read a directory written by :meth:`save`; verifies every component and the overall hash."""
        path = Path(path)
        try:
            meta = json.loads((path / "reference.json").read_text())
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"{path}: not a judgenet feature reference ({exc}); build one with "
                                "FeatureReference.fit(...).save(path)") from exc
        fps = meta.get("fingerprints", {})
        if fingerprints is not None:
            for s, fp in fingerprints.items():
                if s in fps and fps[s] != fp:
                    raise ArtifactError(f"{path}: source {s!r} was fitted with a different backbone "
                                        f"(stored fingerprint differs from the one in use); refit the reference")
        realstats, pca = {}, {}
        for s in meta["sources"]:
            realstats[s] = RealStats.load(path / f"realstats-{s}.npz")
            arrays, _ = load_npz(path / f"pca-{s}.npz", "PCA")
            pca[s] = arrays
        mid_ref = MIDReference.load(path / "mid.npz") if (path / "mid.npz").exists() else None
        ref = cls(realstats, pca, mid_ref, meta["settings"], fps)
        if ref.hash != meta.get("hash"):
            raise ArtifactError(f"{path}: reference hash {ref.hash} does not match the recorded {meta.get('hash')}")
        return ref


def build_features(real_images: Mapping[str, np.ndarray], images: Mapping[str, np.ndarray],
                   real_texts: np.ndarray | None = None, texts: np.ndarray | None = None, *,
                   groups: Sequence[str] = DEFAULT_GROUPS, generators: Sequence[str] | None = None,
                   **fit_options) -> tuple[FeatureMatrix, FeatureReference]:
    """Fit a :class:`FeatureReference` on the real images and featurize ``images`` in one call."""
    ref = FeatureReference.fit(real_images, real_texts, **fit_options)
    if texts is None and "alignment" in groups:
        groups = [g for g in groups if g != "alignment"]
    return ref.transform(images, texts, groups=groups, generators=generators), ref
