"""judgenet: learn to predict human judgments of generated images.

Pipeline: backbones → features (+ cache) → metrics → labels → predictors → evaluation.
The user jobs are functions here with the CLI's parameter names::

    import judgenet as jn
    jn.demo(fast=True)
    jn.train("labels.csv", images="gen/", reference="real/", model="auto", out="my-predictor")
    jn.score(["gen/model_a", "gen/model_b"], reference="real/", predictor="my-predictor")
"""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import JudgenetError  # noqa: F401

_API = ("demo", "extract", "train", "evaluate", "score", "tune", "report", "prepare")


def __getattr__(name):  # lazy: `import judgenet` stays cheap (no torch import)
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'judgenet' has no attribute {name!r}")


__all__ = ["JudgenetError", "__version__", *_API]
