"""Predictors of human judgments: one recipe core, sklearn pipelines, a torch MLP, pairwise models, artifacts.

* :mod:`.families` — :data:`FAMILIES`, the one table of every model family (pointwise and pairwise: kind,
  factory, defaults, CV grid, Optuna space); nothing is registered at import time.
* :mod:`.recipes` — :class:`Recipe` (family, params, PCA, scaler, feature groups) with ``build``/``columns``/
  ``to_dict``/``from_dict``/``from_predictor_dir``; :func:`make_predictor`, :func:`make_pairwise` and
  :func:`default_param_grid` are thin wrappers.
* :class:`MLPRegressor` — torch MLP with the sklearn estimator API (``fit_pairs`` trains it pairwise).
* :class:`BradleyTerry` (:mod:`.pairwise`) — linear Bradley–Terry scorer from
  pairwise preferences with soft labels; :func:`preference_from_choice` maps a/b/tie → 1/0/0.5.
* :class:`OrdinalRegressor` — Likert labels as ordered classes, predicting the expected level.
* :func:`save_predictor` / :func:`load_predictor` / :func:`load_reference` / :func:`read_meta` — one
  artifact directory; ``meta.json`` is integrity-checked. The model is a joblib pickle: **only load
  artifacts you trust**; reading a recipe or metadata never unpickles.
"""
from __future__ import annotations

from .artifact import load_predictor, load_reference, save_predictor
from .families import FAMILIES, PAIRWISE, POINTWISE
from .meta import read_meta
from .mlp import MLPRegressor
from .models import OrdinalRegressor
from .pairwise import BradleyTerry, preference_from_choice
from .recipes import Recipe, default_param_grid, make_pairwise, make_predictor

__all__ = ["make_predictor", "make_pairwise", "default_param_grid", "FAMILIES", "POINTWISE", "PAIRWISE", "Recipe",
           "MLPRegressor", "BradleyTerry", "OrdinalRegressor", "preference_from_choice", "save_predictor", "load_predictor",
           "load_reference", "read_meta"]
