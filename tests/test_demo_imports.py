"""A warm demo imports no torch when nothing needs it: building the demo's models (for the evaluation cache's keys)
must not import torch — the MLP imports it when it fits or predicts."""
from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
from judgenet.evaluation.cache import estimator_key
from judgenet.jobs.demo import SIZES
from judgenet.predictors.recipes import Recipe
for m in SIZES[False]["models"]:
    estimator_key(Recipe(m).build(random_state=0, feature_names=["mid_pmi", "x"]))
print("torch" in sys.modules)
"""


def test_building_the_demo_models_imports_no_torch():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_mlp_still_fits_after_a_lazy_import():
    import numpy as np

    from judgenet.predictors.mlp import MLPRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X @ [1.0, -1.0, 0.5]
    m = MLPRegressor(hidden_sizes=(8,), max_epochs=30, random_state=0).fit(X, y)
    assert np.corrcoef(m.predict(X), y)[0, 1] > 0.5
