"""judgenet: learn to predict human judgments of generated images.

Pipeline: backbones → features (+ cache) → metrics → labels → predictors → evaluation.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import JudgenetError  # noqa: F401
