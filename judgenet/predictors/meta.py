"""A predictor artifact's ``meta.json``: its format name, its integrity digest and the verified reader.

Below both :mod:`.recipes` (a recipe is rebuilt from ``meta.json`` alone) and :mod:`.artifact` (which writes
it), so neither imports the other to read it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping

from ..errors import ArtifactError
from ..io import read_format_json, sha256_text

__all__ = ["FORMAT", "meta_digest", "read_meta"]

FORMAT = "judgenet-predictor/2"


def meta_digest(meta: Mapping) -> str:
    """SHA-256 of the canonical JSON of everything in ``meta`` but ``meta_sha256``."""
    body = {k: v for k, v in meta.items() if k != "meta_sha256"}
    return sha256_text(json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False))


def read_meta(path: str | os.PathLike) -> dict:
    """``meta.json`` of an artifact, verified (format and ``meta_sha256``); never opens the model file."""
    mfile = Path(path) / "meta.json"
    meta = read_format_json(mfile, FORMAT, what="predictor artifact",
                            make="create one with `judgenet train` or save_predictor()",
                            upgrade="retrain the predictor with this version")
    try:
        digest = meta_digest(meta)
    except ValueError as exc:  # NaN/inf smuggled into the JSON
        raise ArtifactError(f"{mfile}: not canonical JSON ({exc}); the file was edited — retrain") from exc
    if digest != meta.get("meta_sha256"):
        raise ArtifactError(f"{mfile}: contents do not match its recorded SHA-256 (meta_sha256); the file was "
                            "edited or is corrupt — refusing it; retrain or restore the original")
    return meta
