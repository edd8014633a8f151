"""demo --inception's comparison (issue 18.6) on a synthetic feature matrix: column arms, and the paired
difference equal to an independent computation (scipy's Kendall tau-b of the same held-out predictions)."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

from judgenet.jobs.demo import INCEPTION_ARMS, SPLITS, compare_inception, inception_columns, inception_sentences
from judgenet.evaluation.cache import cached_evaluate
from judgenet.predictors.recipes import Recipe

pytestmark = pytest.mark.filterwarnings("ignore:baseline .* skipped")

NAMES = ["mid_pmi", "clip_score", "realism.tiny.knn_dist", "pca.tiny.0", "act.tiny.norm",
         "realism.inception.knn_dist", "pca.inception.0", "act.inception.norm"]


def test_arms_select_the_right_columns():
    got = {arm: [NAMES[i] for i in inception_columns(NAMES, arm)] for arm in INCEPTION_ARMS}
    assert got["tiny"] == NAMES[:5]
    assert got["tiny+inception"] == NAMES
    assert got["inception"] == ["mid_pmi", "clip_score"] + NAMES[5:]


@pytest.fixture
def world(tmp_path):
    """4 generators x 12 prompts; y depends on the 'inception' columns strongly, on the 'tiny' ones weakly."""
    rng = np.random.default_rng(0)
    gens = np.repeat(["g0", "g1", "g2", "g3"], 12)
    prompts = np.tile([f"p{i}" for i in range(12)], 4)
    X = rng.normal(size=(48, len(NAMES)))
    y = 0.2 * X[:, 2] + 1.0 * X[:, 5] + 0.7 * X[:, 6] + 0.3 * rng.normal(size=48)
    fm = SimpleNamespace(X=X, names=NAMES, groups={"realism": NAMES})
    recipes = {"ridge": Recipe("ridge")}
    results = {s: {"realism": cached_evaluate(X, y, gens, NAMES, {"ridge": recipes["ridge"].build(0)},
                                              cache_dir=tmp_path, prompts=prompts, split=s, resamples=50)}
               for s in SPLITS}
    return fm, y, gens, prompts, recipes, results


def test_paired_difference_equals_independent_tau(world, tmp_path):
    fm, y, gens, prompts, recipes, results = world
    table = compare_inception(fm, y, None, recipes, gens, prompts, results, tmp_path, cache=tmp_path,
                              n_resamples=50, seed=0, n_jobs=1)
    assert set(table["split"]) == set(SPLITS) and set(table["arm"]) == {"tiny+inception", "inception"}
    for split in SPLITS:
        tiny = cached_evaluate(fm.X[:, :5], y, gens, NAMES[:5], {"ridge": recipes["ridge"].build(0)},
                               cache_dir=tmp_path / "other", prompts=prompts, split=split, resamples=50)
        t_tiny = kendalltau(y, tiny.predictions["ridge"])[0]
        t_all = kendalltau(y, results[split]["realism"].predictions["ridge"])[0]
        row = table[(table["split"] == split) & (table["arm"] == "tiny+inception")].iloc[0]
        assert row["tau_tiny"] == pytest.approx(t_tiny, abs=1e-12)
        assert row["difference"] == pytest.approx(t_all - t_tiny, abs=1e-12)
        assert row["low"] <= row["difference"] <= row["high"]
        assert row["verdict"] == "better"  # the signal is in the inception columns
    assert (tmp_path / "inception" / "report.md").is_file()
    assert pd.read_csv(tmp_path / "inception" / "comparison.csv").shape[0] == len(table)
    sent = inception_sentences(table)
    assert len(sent) == len(SPLITS) and all("better" in s for s in sent)


def test_report_section_states_the_paired_comparison(world, tmp_path):
    from judgenet.jobs.demo import _append_inception_section

    fm, y, gens, prompts, recipes, results = world
    table = compare_inception(fm, y, None, recipes, gens, prompts, results, tmp_path, cache=tmp_path,
                              n_resamples=50, seed=0, n_jobs=1)
    (tmp_path / "report.md").write_text("# demo\n\nsummary\n")
    _append_inception_section(tmp_path, table)
    text = (tmp_path / "report.md").read_text()
    assert text.startswith("# demo\n\nsummary\n")
    assert "## Genuine FID-Inception vs the tiny encoder (realism)" in text
    row = table[(table["split"] == "generator") & (table["arm"] == "tiny+inception")].iloc[0]
    assert f"{row['difference']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}]" in text  # the paired CI is stated
