"""judgenet: learn to predict human judgments of generated images.

Pipeline: backbones → embeddings (extraction + cache) → metrics → features → labels → predictors → evaluation → jobs.
The user jobs are functions here with the CLI's option names as parameters (``--prompt-folds`` →
``prompt_folds``; repeatable options are plural)::

    import judgenet as jn
    jn.demo(fast=True)
    jn.train("labels.csv", images="gen/", reference="real/", model="auto", out="my-predictor")
    jn.score(["gen/model_a", "gen/model_b"], reference="real/", predictor="my-predictor")

Each job returns a small result dataclass (see :mod:`judgenet.api`). Progress goes through :mod:`logging`
(logger ``judgenet``): ``logging.basicConfig(level=logging.INFO)`` shows it in Python.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ._version import __version__  # noqa: F401  (one place: pyproject.toml)

from .errors import JudgenetError  # noqa: F401

if TYPE_CHECKING:  # editors and type checkers see the real signatures; at run time the imports stay lazy
    from .api import benchmark, demo, evaluate, extract, load_predictor, report, score, select, train, tune  # noqa: F401
    from .jobs.prepare import prepare  # noqa: F401

_API = {"demo": "api", "extract": "api", "train": "api", "evaluate": "api", "score": "api", "tune": "api",
        "report": "api", "select": "api", "benchmark": "api", "load_predictor": "api", "prepare": "jobs.prepare"}


def __getattr__(name):  # lazy: `import judgenet` stays cheap (no torch import)
    if name in _API:
        import importlib

        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'judgenet' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))


__all__ = ["JudgenetError", "__version__", *_API]
