"""Predictors of human judgments: one recipe core, sklearn pipelines, a torch MLP, pairwise models, artifacts.

* :mod:`.recipes` — :data:`FAMILIES` (one table: kind, factory, defaults, CV grid, Optuna space per model
  family) and :class:`Recipe` (family, params, PCA, scaler, feature groups) with ``build``/``columns``/
  ``to_dict``/``from_dict``/``from_predictor_dir``; :func:`make_predictor` and :func:`default_param_grid`
  are thin wrappers.
* :class:`MLPRegressor` — torch MLP with the sklearn estimator API (``fit_pairs`` trains it pairwise).
* :class:`BradleyTerry` (:mod:`.pairwise`) — linear Bradley–Terry scorer from
  pairwise preferences with soft labels; :func:`preference_from_choice` maps a/b/tie → 1/0/0.5.
* :class:`OrdinalRegressor` — Likert labels as ordered classes, predicting the expected level.
* :func:`save_predictor` / :func:`load_predictor` / :func:`load_reference` / :func:`read_meta` — one
  artifact directory; ``meta.json`` is integrity-checked. The model is a joblib pickle: **only load
  artifacts you trust**; reading a recipe or metadata never unpickles.
"""
from __future__ import annotations

from .artifact import load_predictor, load_reference, read_meta, save_predictor
from .mlp import MLPRegressor
from .models import OrdinalRegressor
from .pairwise import BradleyTerry, preference_from_choice
from .recipes import FAMILIES, POINTWISE, Recipe, default_param_grid, make_predictor

__all__ = ["make_predictor", "default_param_grid", "FAMILIES", "POINTWISE", "Recipe", "MLPRegressor",
           "BradleyTerry", "OrdinalRegressor", "preference_from_choice", "save_predictor", "load_predictor",
           "load_reference", "read_meta"]
