"""Issue 15: the demo's intervals and label-efficiency sections (cheap: they reuse the evaluation's fits) and the
calibration the demo's predictors carry — on a small synthetic world; the full fast demo is a slow test."""
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from judgenet.evaluation import evaluate
from judgenet.evaluation.conformal import ConformalPredictor
from judgenet.evaluation.coverage import oof_coverage_study

# one BLAS/OpenMP thread: with torch's OpenMP runtime loaded beside scikit-learn's (any earlier test that imports
# torch), multi-threaded HistGradientBoosting fits stall for seconds each on a busy machine
pytestmark = pytest.mark.usefixtures("one_thread")


def _data(n_gen=6, n_prompts=12, seed=0):
    rng = np.random.default_rng(seed)
    gens = np.repeat([f"g{i}" for i in range(n_gen)], n_prompts)
    prompts = np.tile([f"p{j}" for j in range(n_prompts)], n_gen)
    X = rng.normal(size=(gens.size, 3))
    y = X @ [1.0, 0.5, -0.5] + np.repeat(rng.normal(0, 0.5, n_gen), n_prompts) + rng.normal(0, 0.5, gens.size)
    mid = X[:, 0] + rng.normal(0, 1.5, gens.size)
    return np.c_[mid, X, X[:, 0] * 0.5], y, gens, prompts, ["mid_pmi", "a", "b", "c", "clip_score"]


@pytest.mark.parametrize("split", ["generator", "crossed"])
def test_predictor_calibration_from_the_evaluation_equals_a_conformal_refit(split):
    """The demo stores the calibration built from the evaluation's out-of-fold predictions; it must be exactly what
    ConformalPredictor computes by refitting on the same split and seed (same folds, same residuals)."""
    from judgenet.jobs.demo import predictor_calibration

    X, y, g, p, names = _data()
    res = evaluate(X, y, g, names, {"ridge": Ridge(alpha=1.0)}, prompts=p, split=split, n_prompt_folds=3,
                   n_resamples=20, seed=3, baselines=("mid_pmi",))
    mine = predictor_calibration(res, "ridge", y, g)
    ref = ConformalPredictor(Ridge(alpha=1.0), split=split, n_prompt_folds=3, random_state=3).fit(X, y, g, p)
    ref = ref.calibration_dict()
    assert mine["group_names"] == ref["group_names"]
    for k in ("scores", "group_errors", "tau2", "within_var"):
        np.testing.assert_allclose(mine[k], ref[k], atol=1e-10, err_msg=k)


def test_intervals_and_efficiency_sections_write_the_table_beside_the_plot(tmp_path):
    from judgenet.features.builder import FeatureMatrix
    from judgenet.jobs.demo import efficiency_section, intervals_section
    from judgenet.predictors.recipes import Recipe

    X, y, g, p, names = _data(n_gen=6, n_prompts=20, seed=1)
    ys = {"realism": y, "overall": -y + 0.1 * X[:, 1]}
    res = {q: evaluate(X, v, g, names, {"ridge": Ridge()}, prompts=p, n_resamples=20, seed=0,
                     baselines=("mid_pmi",)) for q, v in ys.items()}
    lines = intervals_section(tmp_path, ys, g, res, {"realism": "ridge", "overall": "ridge"})
    text = "\n".join(lines)
    assert "Not nested: recipe fixed" in text and "| held-out generator | realism (ridge) | overall (ridge) |" in text
    cov = json.loads((tmp_path / "intervals" / "coverage.json").read_text())
    ref = oof_coverage_study(ys["overall"], res["overall"].predictions["ridge"].to_numpy(), g)
    assert cov["overall"]["summary"]["pooled_item_coverage"] == pytest.approx(ref.summary["pooled_item_coverage"])
    assert f"**{ref.summary['pooled_item_coverage']:.1%}**" in text
    for name in np.unique(g):  # one row per held-out generator
        assert f"| {name} | " in text
    detail = (tmp_path / "intervals" / "report.md").read_text()
    assert "## realism — ridge" in detail and "## overall — ridge" in detail

    fm = FeatureMatrix(X, names, {"alignment": names})
    lines = efficiency_section(tmp_path, fm, y, g, p, "ridge", Recipe("ridge"), {"loo_kendall_tau_b": 0.4},
                               fast=True, seed=0, n_resamples=50, n_raters=5)
    text = "\n".join(lines)
    i_table, i_png = text.index("| judgments"), text.index("![label efficiency](efficiency/efficiency.png)")
    assert i_table < i_png and "Not nested: recipe fixed" in text and "rater ceiling" in text
    assert (tmp_path / "efficiency" / "efficiency.png").stat().st_size > 1000
    eff = json.loads((tmp_path / "efficiency" / "efficiency.json").read_text())
    most = 5 * 20  # the largest fold's training part: 5 generators x 20 items
    assert eff["settings"]["budgets"] == [5 * round(s * most) for s in (0.1, 0.35, 1.0)]
    assert eff["settings"]["n_repeats"] == 2 and "raw mid_pmi" in text
    # a second run reads the curve and its plot from the cache: the same files
    (tmp_path / "again").mkdir()
    again = efficiency_section(tmp_path / "again", fm, y, g, p, "ridge", Recipe("ridge"), {"loo_kendall_tau_b": 0.4},
                               fast=True, seed=0, n_resamples=50, n_raters=5)
    assert again == lines
    for f in ("efficiency.png", "efficiency.md", "efficiency.json"):
        assert (tmp_path / "again" / "efficiency" / f).read_bytes() == (tmp_path / "efficiency" / f).read_bytes(), f
    import os
    from pathlib import Path

    assert len(list((Path(os.environ["JUDGENET_CACHE_DIR"]) / "plots").glob("*/efficiency.png"))) == 1


@pytest.mark.slow
def test_fast_demo_report_has_the_coverage_table_and_the_efficiency_plot(tmp_path):
    import judgenet as jn

    res = jn.demo(tmp_path / "d", fast=True, cache_dir=tmp_path / "c")
    report = (tmp_path / "d" / "report.md").read_text()
    assert "## Prediction intervals" in report and "## Label efficiency" in report
    assert report.index("| judgments") < report.index("![label efficiency](efficiency/efficiency.png)")
    assert (tmp_path / "d" / "efficiency" / "efficiency.png").is_file()
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert set(summary["intervals"]) == {"realism", "alignment", "overall"}
    meta = json.loads((tmp_path / "d" / "predictor-realism" / "meta.json").read_text())
    from judgenet.evaluation.calibration import _FORMAT, _FORMAT_SCALED
    from judgenet.predictors.recipes import get_family

    # a family predicting in other units (anchored: raw MID) stores its line to the label scale: the scaled format
    scaled = not get_family(meta["recipe"]["family"]).label_units
    assert meta["extra"]["conformal"]["format"] == (_FORMAT_SCALED if scaled else _FORMAT)
    assert res is not None


def test_rescaled_coverage_study_is_unit_free_and_anchored_predictors_store_the_line():
    """A model predicting in other units (anchored: raw-MID units) is studied on its line to the human scale fitted
    on the calibration generators: an affine change of its units changes nothing; its saved predictor stores that
    line with the calibration."""
    from judgenet.jobs.demo import predictor_calibration

    X, y, g, p, names = _data(n_gen=8, n_prompts=15, seed=2)
    oof = y + np.random.default_rng(0).normal(0, 0.7, y.size)
    a = oof_coverage_study(y, oof, g, rescale=True).per_generator
    b = oof_coverage_study(y, 40.0 * oof - 7.0, g, rescale=True).per_generator
    for c in ("item_coverage", "item_width", "mean_width", "pred_mean"):
        np.testing.assert_allclose(a[c], b[c], rtol=1e-8, err_msg=c)
    raw = oof_coverage_study(y, 40.0 * oof - 7.0, g).summary
    assert raw["mean_item_width"] > 10 * oof_coverage_study(y, oof, g).summary["mean_item_width"]

    class _Res:
        predictions = {"anchored": pd.Series(oof)}

    d = predictor_calibration(_Res(), "anchored", y, g)
    b, a = np.polyfit(oof, y, 1)  # independent least-squares line of the labels on the out-of-fold predictions
    assert d["format"] == "judgenet-conformal/2"
    np.testing.assert_allclose([d["scale"]["intercept"], d["scale"]["slope"]], [a, b], rtol=1e-10)

    class _Ridge:
        predictions = {"ridge": pd.Series(oof)}

    assert "scale" not in predictor_calibration(_Ridge(), "ridge", y, g)  # label units: no line stored
