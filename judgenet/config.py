"""Configuration precedence: explicit argument > environment variable (``JUDGENET_*``) > default."""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_CACHE_DIR = "JUDGENET_CACHE_DIR"
ENV_WEIGHTS_DIR = "JUDGENET_WEIGHTS_DIR"
ENV_LABEL_SETS = "JUDGENET_LABEL_SETS"


def cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Feature-cache root: ``explicit`` > ``$JUDGENET_CACHE_DIR`` > ``~/.cache/judgenet``."""
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("judgenet"))


def weights_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """Directory searched for backbone weights: ``explicit`` > ``$JUDGENET_WEIGHTS_DIR`` > None."""
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_WEIGHTS_DIR)
    return Path(env).expanduser() if env else None


def label_sets_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """Where public label-set files live: ``explicit`` > ``$JUDGENET_LABEL_SETS`` > None."""
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_LABEL_SETS)
    return Path(env).expanduser() if env else None


def usable_cpus() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one, else the core count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)
