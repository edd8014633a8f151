"""judgenet.tuning — Optuna search over predictor recipes: objectives (:mod:`.objectives`: what a trial scores, on the
evaluation package's folds) and studies (:mod:`.study`: create/resume, several workers, best recipe, plots)."""
from .objectives import PCA_CHOICES, SCALER_CHOICES, Objective, PairwiseObjective, default_search_space
from .study import best_recipe, tune, write_study_plots

__all__ = ["Objective", "PairwiseObjective", "default_search_space", "tune", "best_recipe", "write_study_plots",
           "PCA_CHOICES", "SCALER_CHOICES"]
