"""Saving and loading a fitted :class:`~judgenet.features.builder.FeatureBuilder`: a directory of ``.npz`` files
(realism statistics, PCA, raw real features, the MID reference, the real captions' text PCA) and ``builder.json`` (settings, fitted metadata,
backbone fingerprints, every file's content hash and the builder's ``hash_``). No pickle; every file written
atomically; on load every hash and fingerprint is verified and any problem is one
:class:`~judgenet.errors.ArtifactError` naming the file and the fix."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

from sklearn.utils.validation import check_is_fitted

from ..backbones.base import describe_fingerprint
from ..errors import ArtifactError
from ..io import atomic_path, atomic_write_json, read_format_json
from ..metrics import MIDReference, RealStats
from ..metrics._util import content_hash, load_npz, save_npz

__all__ = ["save_builder", "load_builder", "FORMAT"]

FORMAT = "judgenet-feature-builder/2"


def save_builder(self, path: str | os.PathLike) -> Path:
    """Write the fitted builder ``self`` as a directory ``path``: one ``.npz`` per component and ``builder.json`` (settings, fitted
    metadata, fingerprints, the ``hash_`` and each file's content hash). Every file is written
    atomically. Returns ``path``."""
    check_is_fitted(self, "hash_")
    path = Path(path)
    files = {}
    for s, rs in self.realstats_.items():
        with atomic_path(path / f"realstats-{s}.npz") as tmp:
            rs.save(tmp)
        files[f"realstats-{s}.npz"] = rs.hash
        pmeta = {"kind": "PCA", "source": s}
        h = content_hash(self.pca_[s], pmeta)
        with atomic_path(path / f"pca-{s}.npz") as tmp:
            save_npz(tmp, self.pca_[s], {**pmeta, "hash": h})
        files[f"pca-{s}.npz"] = h
    for s, a in self.real_raw_.items():
        rmeta = {"kind": "RawReal", "source": s}
        h = content_hash({"real": a}, rmeta)
        with atomic_path(path / f"raw-{s}.npz") as tmp:
            save_npz(tmp, {"real": a}, {**rmeta, "hash": h})
        files[f"raw-{s}.npz"] = h
    if getattr(self, "text_pca_", None) is not None:
        tmeta = {"kind": "TextPCA"}
        h = content_hash(self.text_pca_, tmeta)
        with atomic_path(path / "text-pca.npz") as tmp:
            save_npz(tmp, self.text_pca_, {**tmeta, "hash": h})
        files["text-pca.npz"] = h
    if self.mid_ref_ is not None:
        with atomic_path(path / "mid.npz") as tmp:
            self.mid_ref_.save(tmp)
        files["mid.npz"] = self.mid_ref_.hash
    meta = {"kind": "FeatureBuilder", "format": FORMAT, "settings": self._settings(),
            "state": self._state_meta(), "fingerprints": self.fingerprints_, "files": files,
            "hash": self.hash_}
    atomic_write_json(path / "builder.json", meta)
    return path



def load_builder(cls, path: str | os.PathLike, *, expected_fingerprints: Mapping[str, dict] | None = None):
    """Read a directory written by :meth:`save`, verifying every file's content hash and the overall
    ``hash_``. ``expected_fingerprints`` ({source: fingerprint} of the backbones in use): every
    source the builder was fitted on must be there with an equal fingerprint. Any problem
    (missing/corrupt/truncated file, hash or fingerprint mismatch) raises :class:`ArtifactError`
    naming the file and the fix."""
    path = Path(path)
    mfile = path / "builder.json"
    if not mfile.is_file() and (path / "reference.json").is_file():
        raise ArtifactError(f"{path}: a feature reference written by an older judgenet (reference.json); "
                            "refit it (retrain the predictor) with this version")
    meta = read_format_json(mfile, FORMAT, what="feature builder",
                            make="build one with FeatureBuilder(...).fit(real).save(path)",
                            upgrade="refit the reference")
    try:
        state, settings = meta["state"], meta["settings"]
        fps, files = meta["fingerprints"], meta["files"]
        sources = list(state["sources"])
    except (KeyError, TypeError) as exc:
        raise ArtifactError(f"{mfile}: incomplete ({exc!r} missing); refit the reference") from exc
    if expected_fingerprints is not None:  # every image source, and a text-only encoder of the texts
        ts = state.get("text_source")
        _check_fingerprints(path, fps, expected_fingerprints, sources + ([ts] if ts and ts not in sources else []))

    def read(name, reader):
        f = path / name
        if not f.is_file():
            raise ArtifactError(f"{f}: missing from the feature reference; refit it")
        try:
            obj = reader(f)
        except ArtifactError:
            raise
        except Exception as exc:  # zipfile.BadZipFile, EOFError, ... from a truncated or corrupt file
            raise ArtifactError(f"{f}: corrupt or truncated ({type(exc).__name__}: {exc}); refit the "
                                "reference (retrain the predictor)") from exc
        return obj

    realstats, pca, raw = {}, {}, {}
    for s in sources:
        realstats[s] = read(f"realstats-{s}.npz", RealStats.load)
        pca[s] = read(f"pca-{s}.npz", lambda f: load_npz(f, "PCA")[0])
        if f"raw-{s}.npz" in files:
            raw[s] = read(f"raw-{s}.npz", lambda f: load_npz(f, "RawReal")[0])["real"]
    mid_ref = read("mid.npz", MIDReference.load) if "mid.npz" in files else None
    # a builder saved before the prompt group has no text-pca.npz: it loads without that group
    text_pca = read("text-pca.npz", lambda f: load_npz(f, "TextPCA")[0]) if "text-pca.npz" in files else None
    settings = dict(settings)
    if isinstance(settings.get("groups"), list):
        settings["groups"] = tuple(settings["groups"])
    try:
        self = cls(**settings)
    except TypeError as exc:
        raise ArtifactError(f"{mfile}: settings do not match this judgenet ({exc}); refit the reference") from exc
    self.sources_ = sources
    self.text_source_ = state["text_source"]
    self.mid_image_source_ = state["mid_image_source"]
    self.normalized_ = list(state["normalized"])
    self.realstats_, self.pca_, self.mid_ref_, self.real_raw_ = realstats, pca, mid_ref, raw
    self.text_pca_ = text_pca
    self.fingerprints_ = dict(fps)
    self.n_real_ = int(state["n_real"])
    self._finish()
    if self.hash_ != meta.get("hash"):
        raise ArtifactError(f"{mfile}: reference hash {self.hash_} does not match the recorded "
                            f"{meta.get('hash')}; the reference was edited or mixed with another one — refit it")
    return self


def _check_fingerprints(path, stored: Mapping, expected: Mapping, sources: Sequence[str]) -> None:
    for s in sources:
        if s not in expected:
            raise ArtifactError(f"{path}: the reference was fitted on source {s!r}, which is not among the backbones "
                                f"in use ({sorted(expected)}); add that backbone, or refit the reference")
        if s in stored and stored[s] != expected[s]:
            raise ArtifactError(f"{path}: source {s!r} was fitted with a different backbone (stored "
                                f"{describe_fingerprint(stored[s])}; in use {describe_fingerprint(expected[s])}); "
                                "use the same backbone or refit the reference")
