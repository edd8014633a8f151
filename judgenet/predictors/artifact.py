"""Save and load a trained predictor as one directory: ``model.joblib`` + ``meta.json``.

.. warning:: ``model.joblib`` is a pickle. Loading it runs code from the file, so **only load
   artifacts you trust**. judgenet records the file's SHA-256 in ``meta.json`` and refuses to
   unpickle a file that does not match it (this catches corruption and casual edits, not a
   deliberate attacker who also rewrites ``meta.json``). skops is not used because it is not
   available on the target machines.
"""
from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping, Sequence

import joblib

from .. import __version__
from ..errors import ArtifactError
from ..features.cache import sha256_file

__all__ = ["save_predictor", "load_predictor"]

FORMAT = "judgenet-predictor/1"


def _versions() -> dict:
    import numpy
    import sklearn
    import torch

    return {"judgenet": __version__, "sklearn": sklearn.__version__, "torch": torch.__version__,
            "numpy": numpy.__version__, "python": platform.python_version()}


def save_predictor(model, path: str | os.PathLike, *, feature_names: Sequence[str], fingerprints: Mapping,
                   reference_hash: str | None, label_set: str | None, question: str | None = None,
                   cv_results: Mapping | None = None, extra: Mapping | None = None) -> Path:
    """Write ``path/model.joblib`` and ``path/meta.json`` (feature list, backbone fingerprints,
    reference-statistics hash, label set, question, CV results, versions, model SHA-256)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / "model.joblib.tmp"
    joblib.dump(model, tmp)
    os.replace(tmp, path / "model.joblib")
    meta = {"format": FORMAT, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "feature_names": list(feature_names), "fingerprints": dict(fingerprints),
            "reference_hash": reference_hash, "label_set": label_set, "question": question,
            "model_class": type(model).__name__, "model_sha256": sha256_file(path / "model.joblib"),
            "versions": _versions(), "cv_results": cv_results, "extra": dict(extra or {})}
    tmp = path / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2, default=str))
    os.replace(tmp, path / "meta.json")
    return path


def load_predictor(path: str | os.PathLike, *, expected_fingerprints: Mapping | None = None,
                   expected_features: Sequence[str] | None = None):
    """Load ``(model, meta)`` from an artifact directory written by :func:`save_predictor`.

    Checks the model file's SHA-256 before unpickling, and, when given, that the backbone
    fingerprints and the feature list match; raises :class:`ArtifactError` otherwise.
    Only load artifacts you trust (see module warning).
    """
    path = Path(path)
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path}: not a judgenet predictor artifact (meta.json unreadable: {exc}); "
                            "create one with `judgenet train` or save_predictor()") from exc
    if meta.get("format") != FORMAT:
        raise ArtifactError(f"{path}: unknown artifact format {meta.get('format')!r} (expected {FORMAT})")
    if expected_fingerprints is not None:
        for src, fp in expected_fingerprints.items():
            stored = meta["fingerprints"].get(src)
            if stored is None or stored != fp:
                raise ArtifactError(
                    f"{path}: the predictor was trained on features of a different backbone for source {src!r} "
                    f"(stored {(stored or {}).get('backbone', 'none')!r}, weights "
                    f"{str((stored or {}).get('weights_sha256', ''))[:12]}; in use {fp.get('backbone')!r}, weights "
                    f"{str(fp.get('weights_sha256', ''))[:12]}); score with the same backbone or retrain")
    if expected_features is not None and list(expected_features) != meta["feature_names"]:
        missing = [f for f in meta["feature_names"] if f not in expected_features]
        extra = [f for f in expected_features if f not in meta["feature_names"]]
        raise ArtifactError(f"{path}: feature list differs from the one the predictor was trained on "
                            f"(missing {missing[:5]}, unexpected {extra[:5]}); build the same feature groups")
    mfile = path / "model.joblib"
    if not mfile.is_file():
        raise ArtifactError(f"{path}: model.joblib is missing")
    if sha256_file(mfile) != meta.get("model_sha256"):
        raise ArtifactError(f"{mfile}: SHA-256 does not match meta.json; the file is corrupt or was replaced — "
                            "refusing to unpickle it")
    return joblib.load(mfile), meta
