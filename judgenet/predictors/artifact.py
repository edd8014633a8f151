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
    """Write one artifact directory: ``path/model.joblib`` and ``path/meta.json``.

    ``meta.json`` records the feature list, backbone ``fingerprints`` ({source: fingerprint}),
    the reference-statistics hash, label set and question, ``cv_results`` (e.g.
    ``EvaluationResults.to_dict()``), ``extra``, package versions (judgenet, sklearn, torch,
    numpy, python), the creation time (UTC) and the model file's SHA-256, which
    :func:`load_predictor` verifies before unpickling. Returns ``path``.
    """
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


def _describe(fp) -> str:
    if isinstance(fp, Mapping):
        return (f"{fp.get('backbone', fp.get('name', '?'))!r}, weights "
                f"{str(fp.get('weights_sha256', ''))[:12] or '?'}")
    return repr(fp)


def load_predictor(path: str | os.PathLike, *, expected_fingerprints: Mapping | None = None,
                   expected_features: Sequence[str] | None = None, expected_reference_hash: str | None = None):
    """Load ``(model, meta)`` from an artifact directory written by :func:`save_predictor`.

    .. warning:: the model is unpickled with joblib — only load artifacts you trust.

    Checks, in this order and before unpickling anything: ``meta.json`` format; when given, that
    every source in ``expected_fingerprints`` ({source: fingerprint dict or hash}) matches the
    stored one; that ``expected_features`` equals the stored feature list (same names, same
    order); that ``expected_reference_hash`` equals the stored reference-statistics hash; and the
    model file's SHA-256. Any mismatch raises :class:`ArtifactError` saying what differs.

    Returns:
        (model, meta) — the fitted estimator and the ``meta.json`` dict.
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
            if stored is None:
                raise ArtifactError(
                    f"{path}: the predictor has no features from source {src!r} (it was trained on "
                    f"{sorted(meta['fingerprints'])}); score with the same backbones or retrain")
            if stored != fp:
                raise ArtifactError(
                    f"{path}: the predictor was trained on features of a different backbone for source {src!r} "
                    f"(stored {_describe(stored)}; in use {_describe(fp)}); score with the same backbone or retrain")
    if expected_features is not None and list(expected_features) != meta["feature_names"]:
        missing = [f for f in meta["feature_names"] if f not in expected_features]
        extra = [f for f in expected_features if f not in meta["feature_names"]]
        raise ArtifactError(f"{path}: feature list differs from the one the predictor was trained on "
                            f"(missing {missing[:5]}, unexpected {extra[:5]}"
                            f"{', same names in a different order' if not missing and not extra else ''}); "
                            "build the same feature groups")
    if expected_reference_hash is not None and expected_reference_hash != meta.get("reference_hash"):
        raise ArtifactError(f"{path}: reference statistics differ (stored {meta.get('reference_hash')!r}, in use "
                            f"{expected_reference_hash!r}); fit features with the same reference images or retrain")
    mfile = path / "model.joblib"
    if not mfile.is_file():
        raise ArtifactError(f"{path}: model.joblib is missing")
    if sha256_file(mfile) != meta.get("model_sha256"):
        raise ArtifactError(f"{mfile}: SHA-256 does not match meta.json; the file is corrupt or was replaced — "
                            "refusing to unpickle it")
    return joblib.load(mfile), meta
