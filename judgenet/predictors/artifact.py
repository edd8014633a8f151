"""Save and load a trained predictor as one directory: ``model.joblib`` + ``meta.json`` (+ ``reference/``).

* ``meta.json`` — the :class:`~judgenet.predictors.recipes.Recipe`, the ordered feature names, the
  backbone fingerprints ({source: fingerprint}), the hash of the fitted real-image reference, label set,
  question, CV results, package versions, the model file's SHA-256 and ``meta_sha256``, the SHA-256 of
  the canonical JSON of everything else in ``meta.json`` — so an edited ``meta.json`` (reordered feature
  names, another fingerprint) is refused too.
* ``reference/`` — the fitted :class:`~judgenet.features.FeatureBuilder` (npz + JSON, no pickle) when
  one was given to :func:`save_predictor`.

.. warning:: ``model.joblib`` is a pickle. Loading it runs code from the file, so **only load
   artifacts you trust**. The recorded hashes catch corruption and casual edits, not a deliberate
   attacker who rewrites the files and their hashes. :meth:`Recipe.from_predictor_dir
   <judgenet.predictors.recipes.Recipe.from_predictor_dir>` and :func:`read_meta` never unpickle.
   skops is not used because it is not available on the target machines.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping, Sequence

from .._version import versions
from ..errors import ArtifactError, ConfigError
from ..io import atomic_path, atomic_write_json, sha256_file, to_jsonable
from .meta import FORMAT, read_meta
from .meta import meta_digest as _meta_digest
from .recipes import Recipe

__all__ = ["save_predictor", "load_predictor", "read_meta", "load_reference", "FORMAT"]

def save_predictor(model, path: str | os.PathLike, *, recipe, feature_names: Sequence[str], builder=None,
                   fingerprints: Mapping | None = None, reference_hash: str | None = None,
                   label_set: str | None = None, question: str | None = None, cv_results: Mapping | None = None,
                   extra: Mapping | None = None) -> Path:
    """Write one artifact directory ``path``: ``model.joblib``, ``meta.json`` and, with ``builder``,
    ``reference/`` (the fitted :class:`~judgenet.features.FeatureBuilder`).

    Args:
        model: the fitted estimator (``recipe.build(...).fit(X[:, recipe.columns(fm)], y)``).
        recipe: the :class:`~judgenet.predictors.recipes.Recipe` it was built from.
        feature_names: the columns the model was fitted on, in order.
        builder: the fitted FeatureBuilder the features came from; its ``fingerprints_`` and ``hash_``
            are recorded (then ``fingerprints``/``reference_hash`` must be None or equal).
        fingerprints: {source: backbone fingerprint} when no builder is given.
        reference_hash: the real-image reference hash when no builder is given.
    Every file is written atomically. Returns ``path``.
    """
    import joblib

    if not isinstance(recipe, Recipe):
        raise ConfigError(f"recipe must be a judgenet.predictors.recipes.Recipe, got {type(recipe).__name__}")
    path = Path(path)
    if builder is not None:
        if fingerprints is not None and dict(fingerprints) != builder.fingerprints_:
            raise ConfigError("fingerprints differ from the builder's; pass only builder=")
        if reference_hash is not None and reference_hash != builder.hash_:
            raise ConfigError("reference_hash differs from the builder's hash_; pass only builder=")
        fingerprints, reference_hash = builder.fingerprints_, builder.hash_
        builder.save(path / "reference")
    with atomic_path(path / "model.joblib") as tmp:
        joblib.dump(model, tmp)
    meta = to_jsonable({
        "format": FORMAT, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "recipe": recipe.to_dict(), "feature_names": list(feature_names), "fingerprints": dict(fingerprints or {}),
        "reference_hash": reference_hash, "has_reference": builder is not None, "label_set": label_set,
        "question": question, "model_class": type(model).__name__,
        "model_sha256": sha256_file(path / "model.joblib"), "versions": versions("judgenet", "sklearn", "torch", "numpy", "python"),
        "cv_results": cv_results, "extra": dict(extra or {})})
    meta["meta_sha256"] = _meta_digest(meta)
    atomic_write_json(path / "meta.json", meta)
    return path


def _check_fingerprints(path, stored: Mapping, expected: Mapping) -> None:
    gone = sorted(set(stored) - set(expected))
    if gone:
        raise ArtifactError(f"{path}: the predictor was trained on features of source(s) {gone}, not among the "
                            f"backbones in use ({sorted(expected)}); pass the predictor's backbones "
                            f"(--backbone for {gone}) or retrain")
    added = sorted(set(expected) - set(stored))
    if added:
        raise ArtifactError(f"{path}: backbone source(s) {added} are in use but the predictor was trained "
                            f"without them (on {sorted(stored)}); drop those --backbone options or retrain")
    for src in stored:
        if stored[src] != expected[src]:
            from ..backbones.base import describe_fingerprint  # here: importing predictors stays light

            raise ArtifactError(
                f"{path}: source {src!r} differs — predictor: {describe_fingerprint(stored[src])}; in use: "
                f"{describe_fingerprint(expected[src])}; load the same backbone weights (e.g. --clip-checkpoint/"
                "--inception-weights) or retrain")


def _check_features(path, stored: Sequence[str], expected: Sequence[str]) -> None:
    expected = list(expected)
    if expected == list(stored):
        return
    missing = [f for f in stored if f not in expected]
    extra = [f for f in expected if f not in stored]
    if not missing and not extra:
        first = next(i for i, (a, b) in enumerate(zip(stored, expected)) if a != b)
        raise ArtifactError(f"{path}: same feature names in a different order (first difference at column {first}: "
                            f"predictor {stored[first]!r}, in use {expected[first]!r}); pass the columns in the "
                            "predictor's meta.json feature_names order")
    raise ArtifactError(f"{path}: feature list differs — the predictor needs {missing[:5]} that the features in use "
                        f"lack, and the features in use have {extra[:5]} it was not trained on; build the same feature "
                        "groups with the same backbones (see meta.json feature_names) or retrain")


def load_predictor(path: str | os.PathLike, *, expected_fingerprints: Mapping | None = None,
                   expected_feature_names: Sequence[str] | None = None, expected_reference_hash: str | None = None):
    """Load ``(model, meta)`` from an artifact directory written by :func:`save_predictor`.

    .. warning:: the model is unpickled with joblib — only load artifacts you trust.

    Before unpickling anything: ``meta.json``'s format and integrity (:func:`read_meta`); when given,
    that ``expected_fingerprints`` ({source: fingerprint} of the backbones in use) has exactly the stored
    sources with equal fingerprints; that ``expected_feature_names`` equals the stored list (same names,
    same order); that ``expected_reference_hash`` (``FeatureBuilder.hash_`` of the reference in use)
    equals the stored one; and the model file's SHA-256. Any mismatch raises :class:`ArtifactError`
    saying which side differs and what to pass.
    """
    import joblib

    path = Path(path)
    meta = read_meta(path)
    if expected_fingerprints is not None:
        _check_fingerprints(path, meta["fingerprints"], dict(expected_fingerprints))
    if expected_feature_names is not None:
        _check_features(path, meta["feature_names"], expected_feature_names)
    if expected_reference_hash is not None and expected_reference_hash != meta.get("reference_hash"):
        raise ArtifactError(
            f"{path}: real-image reference differs — predictor {meta.get('reference_hash')!r}, in use "
            f"{expected_reference_hash!r}; featurize with the predictor's own reference "
            f"(load_reference('{path}')) or retrain on this reference")
    mfile = path / "model.joblib"
    if not mfile.is_file():
        raise ArtifactError(f"{mfile}: missing; the artifact is incomplete — retrain or restore it")
    if sha256_file(mfile) != meta.get("model_sha256"):
        raise ArtifactError(f"{mfile}: SHA-256 does not match meta.json; the file is corrupt or was replaced — "
                            "refusing to unpickle it")
    try:
        model = joblib.load(mfile)
    except Exception as exc:  # a truncated pickle with a matching hash cannot happen; versions can
        raise ArtifactError(f"{mfile}: cannot be loaded ({type(exc).__name__}: {exc}); saved with "
                            f"{meta.get('versions')} — use those package versions or retrain") from exc
    return model, meta


def load_reference(path: str | os.PathLike, *, expected_fingerprints: Mapping | None = None):
    """The artifact's fitted :class:`~judgenet.features.FeatureBuilder` (``path/reference``), verified
    against the ``reference_hash`` in ``meta.json`` (and ``expected_fingerprints`` when given)."""
    from ..features import FeatureBuilder

    path = Path(path)
    meta = read_meta(path)
    if not meta.get("has_reference") or not (path / "reference").is_dir():
        raise ArtifactError(f"{path}: has no reference/ (saved without builder=); give the real images "
                            "(--reference) to refit it, or retrain")
    builder = FeatureBuilder.load(path / "reference", expected_fingerprints=expected_fingerprints)
    if builder.hash_ != meta.get("reference_hash"):
        raise ArtifactError(f"{path / 'reference'}: hash {builder.hash_} differs from the predictor's "
                            f"reference_hash {meta.get('reference_hash')}; the folder was replaced — retrain")
    return builder
