"""judgenet's version (read from the installed distribution: pyproject.toml is the one place it is written) and
:func:`versions`, the one helper that records library versions in fingerprints, caches and results files."""
from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__", "versions", "DEFAULT_PACKAGES"]

try:
    __version__ = version("judgenet")
except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
    __version__ = "0+unknown"

#: key in the returned dict -> distribution name on the package index
_DISTRIBUTIONS = {"judgenet": "judgenet", "numpy": "numpy", "scipy": "scipy", "sklearn": "scikit-learn",
                  "pandas": "pandas", "torch": "torch", "torchvision": "torchvision", "open_clip": "open_clip_torch",
                  "optuna": "optuna", "sentence_transformers": "sentence-transformers", "transformers": "transformers",
                  "pycocoevalcap": "pycocoevalcap"}
#: what a results file records when nothing narrower is asked for
DEFAULT_PACKAGES = ("judgenet", "python", "numpy", "scipy", "sklearn", "pandas", "torch", "torchvision", "open_clip")


def versions(*packages: str, local: bool = True) -> dict[str, str]:
    """Installed versions of ``packages`` (keys as in :data:`DEFAULT_PACKAGES`; ``"python"`` is the interpreter),
    read from package metadata — nothing is imported. Packages that are not installed are left out. ``local=False``
    drops a local version label (``2.14.1+cu130`` → ``2.14.1``), as fingerprints that must not depend on the build do.
    """
    out: dict[str, str] = {}
    for key in packages or DEFAULT_PACKAGES:
        if key == "python":
            out[key] = platform.python_version()
            continue
        try:
            v = version(_DISTRIBUTIONS.get(key, key))
        except PackageNotFoundError:
            continue
        out[key] = v if local else v.split("+")[0]
    return out
