"""Predictors of human judgments: sklearn pipelines, a torch MLP estimator, pairwise models, artifacts.

* :func:`make_predictor` — ``scaler → optional PCA → regressor`` pipelines by name
  (:data:`MODELS`; step names ``scale``/``pca``/``model``, grids from :func:`default_param_grid`).
* :class:`MLPRegressor` — torch MLP with the sklearn estimator API (``fit_pairs`` trains it pairwise).
* :class:`BradleyTerry` (:mod:`.pairwise`) — linear Bradley–Terry scorer from
  pairwise preferences with soft labels; :func:`preference_from_choice` maps a/b/tie → 1/0/0.5.
* :class:`OrdinalRegressor` — Likert labels as ordered classes, predicting the expected level.
* :func:`save_predictor` / :func:`load_predictor` — one artifact directory with metadata.
  Artifacts are joblib pickles: **only load artifacts you trust** (the SHA-256 recorded in
  ``meta.json`` is verified before unpickling, which catches corruption, not a determined attacker).
"""
from __future__ import annotations

from .artifact import load_predictor, save_predictor
from .mlp import MLPRegressor
from .models import ALIASES, MODELS, OrdinalRegressor, default_param_grid, make_predictor
from .pairwise import BradleyTerry, PairwiseGB, PairwiseMLP, make_pairwise, pair_array, preference_from_choice

__all__ = ["make_predictor", "default_param_grid", "MODELS", "ALIASES", "MLPRegressor", "BradleyTerry",
           "PairwiseMLP", "PairwiseGB", "make_pairwise", "pair_array", "OrdinalRegressor", "preference_from_choice", "save_predictor",
           "load_predictor"]
