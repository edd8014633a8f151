"""Predictors of human judgments: sklearn pipelines, a torch MLP estimator, pairwise models, artifacts.

* :func:`make_predictor` — ``scaler → optional PCA → regressor`` pipelines by name.
* :class:`MLPRegressor` — torch MLP with the sklearn estimator API (also trains pairwise).
* :class:`BradleyTerry` — linear Bradley–Terry scorer from pairwise preferences (soft labels).
* :class:`OrdinalRegressor` — Likert labels as ordered classes, predicting the expected level.
* :func:`save_predictor` / :func:`load_predictor` — one artifact directory with metadata.
"""
from __future__ import annotations

from .artifact import load_predictor, save_predictor
from .mlp import MLPRegressor
from .models import MODELS, BradleyTerry, OrdinalRegressor, make_predictor

__all__ = ["make_predictor", "MODELS", "MLPRegressor", "BradleyTerry", "OrdinalRegressor", "save_predictor",
           "load_predictor"]
