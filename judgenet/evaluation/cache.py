"""A content-keyed cache of evaluation results (a second ``judgenet demo`` skips the refits and bootstraps).

The key covers everything that changes the numbers: the feature matrix and its column names, the targets,
generators and prompts (the folds), every setting, the library versions, and a hash of the **source code** that
computes the results (the evaluation protocol, statistics, predictors, rater agreement and tuning). A change to
any of them misses the cache; nothing is keyed on judgenet's version string alone. Unreadable or foreign
entries are treated as misses. Writes are atomic.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .._version import versions

__all__ = ["cached_evaluate", "cached_payload", "cached_folder", "evaluation_key", "estimator_key", "code_hash", "load",
           "save", "CODE_MODULES"]

log = logging.getLogger(__name__)

#: Modules (relative to the judgenet package) whose source code changes evaluation numbers.
CODE_MODULES = ("evaluation", "stats.py", "predictors", "labels/agreement.py", "tuning")


@functools.lru_cache(maxsize=None)
def code_hash(modules: Sequence[str] = CODE_MODULES) -> str:
    """SHA-256 over the source files of ``modules`` (files or folders of ``*.py`` under the judgenet package)."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for m in modules:
        p = root / m
        files = sorted(p.rglob("*.py")) if p.is_dir() else [p]
        for f in files:
            if f.name == "cache.py" and f.parent.name == "evaluation":
                continue  # this file only stores results
            h.update(f.relative_to(root).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def evaluation_key(arrays: Sequence[np.ndarray], labels: Sequence[Sequence[Any]], settings: Mapping[str, Any], *,
                   code: Sequence[str] = CODE_MODULES) -> str:
    """Content key: float64 bytes of ``arrays`` (features, targets, ...), the string lists in ``labels`` (column
    names, generators, prompts, ...), ``settings``, library versions and :func:`code_hash` of ``code``."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a, dtype=np.float64)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    from ..io import to_jsonable

    h.update(json.dumps([[list(map(str, x)) for x in labels], to_jsonable(dict(settings)), versions("numpy", "scipy", "sklearn", "torch"),
                         code_hash(tuple(code))], sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def estimator_key(estimator) -> str:
    """Content key of an unfitted estimator: its class and ``joblib.hash`` of ``get_params(deep=True)`` (every
    parameter, nested estimators and arrays included). Not ``repr``: scikit-learn shortens long reprs (and numpy
    summarizes long arrays), so two estimators differing in a parameter past the cut would share a key."""
    import joblib

    cls = type(estimator)
    return f"{cls.__module__}.{cls.__qualname__}:{joblib.hash(estimator.get_params(deep=True))}"


def _file(cache: Path, key: str) -> Path:
    return Path(cache) / "evaluations" / f"{key}.json"


def load(cache: str | os.PathLike, key: str) -> dict | None:
    """The payload stored under ``key`` (a dict), or None when absent or unreadable."""
    f = _file(Path(cache), key)
    try:
        d = json.loads(f.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(d, dict) or d.get("key") != key:
        return None
    return d.get("payload")


def save(cache: str | os.PathLike, key: str, payload: Mapping) -> None:
    """Store ``payload`` (JSON-able) under ``key``; a failure to write only logs a warning (it is a cache)."""
    from ..errors import OutputError
    from ..io import atomic_write_json

    try:
        atomic_write_json(_file(Path(cache), key), {"key": key, "payload": payload}, indent=None)
    except OutputError as exc:
        log.warning("evaluation cache not written: %s", exc)


def cached_evaluate(X, y, generators, feature_names, models: Mapping, *, cache_dir=None, prompts=None,
                    ceiling=None, split: str = "generator", prompt_folds: int = 5, resamples: int = 1000,
                    seed: int = 0, n_jobs: int | None = 1, baselines=None, progress: bool = False,
                    cached_only: bool = False):
    """:func:`judgenet.evaluation.evaluate` through the cache: the same results for the same inputs, settings and
    code, computed once. ``models`` maps a name to an unfitted estimator (:func:`estimator_key` — every
    parameter — is part of the key). Fits run with one BLAS/OpenMP thread per process (label sets are small; multi-threaded BLAS
    stalled the bootstrap on a busy machine: 385 s vs 13 s). ``progress``: a bar over the folds on stderr
    (not part of the key). ``cached_only``: None instead of computing on a miss. Returns :class:`~judgenet.evaluation.EvaluationResults`."""
    from .. import config
    from . import EvaluationResults, evaluate

    settings = {"models": {k: estimator_key(v) for k, v in models.items()}, "split": split, "prompt_folds": prompt_folds,
                "resamples": resamples, "seed": seed, "ceiling": ceiling, "baselines": baselines}
    key = evaluation_key([X, y], [feature_names, generators, [] if prompts is None else prompts], settings)
    root = config.cache_dir(cache_dir)
    hit = load(root, key)
    if hit is not None:
        log.debug("evaluation cache hit %s", key)
        return EvaluationResults.from_dict(hit)
    if cached_only:
        return None
    res = evaluate(X, y, generators, feature_names, dict(models), baselines=baselines, prompts=prompts,
                   ceiling=ceiling, n_resamples=resamples, seed=seed, split=split, n_prompt_folds=prompt_folds,
                   n_jobs=n_jobs, threads=1, progress=progress)
    save(root, key, res.to_dict())
    return res


def cached_payload(compute, arrays: Sequence[np.ndarray], labels: Sequence[Sequence[Any]], settings: Mapping[str, Any],
                   *, cache_dir=None, code: Sequence[str] = CODE_MODULES) -> dict:
    """``compute()`` (a dict) through the cache, keyed by :func:`evaluation_key` of the inputs, ``settings`` and the
    source code of ``code``. The result is always the JSON round trip of the dict (non-finite floats → None), so
    a first run and a cache hit return the same values."""
    from .. import config
    from ..io import to_jsonable

    key = evaluation_key(arrays, labels, settings, code=code)
    root = config.cache_dir(cache_dir)
    hit = load(root, key)
    if hit is not None:
        log.debug("cache hit %s", key)
        return hit
    payload = json.loads(json.dumps(to_jsonable(compute())))
    save(root, key, payload)
    return payload


def cached_folder(make, out, arrays: Sequence[np.ndarray], labels: Sequence[Sequence[Any]], settings: Mapping[str, Any],
                  *, cache_dir=None, code: Sequence[str] = CODE_MODULES) -> bool:
    """``make(out)`` — which writes the folder ``out`` (e.g. a saved predictor) — or a copy of the folder an earlier
    call made for the same key (:func:`evaluation_key` of the inputs, ``settings`` and the source code of
    ``code``). Files are copied, never unpickled. Returns True on a cache hit."""
    import shutil
    import uuid

    from .. import config

    key = evaluation_key(arrays, labels, settings, code=code)
    slot = config.cache_dir(cache_dir) / "folders" / key
    out = Path(out)
    if (slot / ".complete").is_file():
        try:
            shutil.copytree(slot / "data", out, dirs_exist_ok=True)
            return True
        except OSError as exc:
            log.warning("cached folder %s not copied (%s): making it", slot, exc)
    make(out)
    tmp = slot.parent / f".{key}.{uuid.uuid4().hex}.tmp"
    try:
        shutil.copytree(out, tmp / "data")
        (tmp / ".complete").write_text(key)
        shutil.rmtree(slot, ignore_errors=True)
        os.replace(tmp, slot)
    except OSError as exc:  # a cache that cannot be written only costs time
        log.warning("folder cache %s not written: %s", slot, exc)
        shutil.rmtree(tmp, ignore_errors=True)
    return False
