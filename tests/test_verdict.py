"""No silent bad predictor: the chosen model against the best raw baseline on the same held-out folds
(evaluation/verdict.py), train --model auto keeping the raw baseline, and the one-line summary."""
from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau
from sklearn.linear_model import Ridge

from judgenet.evaluation import evaluate
from judgenet.evaluation.verdict import MIN_GENERATORS, best_raw_baseline, check_against_baselines, summary_text
from judgenet.predictors.recipes import column_pipeline

pytestmark = pytest.mark.usefixtures("one_thread")


def _data(n_gens=4, per=30, seed=0):
    """y rises with the raw column `mid_pmi` (plus noise); the learned model reads noise columns only."""
    rng = np.random.default_rng(seed)
    n = n_gens * per
    gens = np.repeat([f"g{i}" for i in range(n_gens)], per)
    prompts = np.tile([f"p{i}" for i in range(per)], n_gens)
    mid = rng.normal(size=n)
    y = mid + 0.3 * rng.normal(size=n)
    X = np.c_[mid, rng.normal(size=(n, 3)), 0.2 * mid + rng.normal(size=n)]
    return X, y, gens, prompts, ["mid_pmi", "n1", "n2", "n3", "clip_score"]


def _evaluate(n_gens=4):
    X, y, gens, prompts, names = _data(n_gens)
    models = {"noise_ridge": column_pipeline([1, 2, 3], Ridge()), "good": column_pipeline([0, 4], Ridge())}
    return evaluate(X, y, gens, names, models, prompts=prompts, baselines=["mid_pmi", "clip_score"],
                    n_resamples=200, seed=0), y


def test_a_model_worse_than_a_raw_feature_fails_and_says_why():
    res, y = _evaluate()
    # independent: the best raw baseline by pooled tau-b from the stored held-out predictions (scipy)
    taus = {b: kendalltau(y, res.predictions[b]).statistic for b in ("mid_pmi", "clip_score")}
    assert best_raw_baseline(res) == max(taus, key=taus.get) == "mid_pmi"
    chk = check_against_baselines(res, "noise_ridge")
    assert chk.baseline == "mid_pmi"
    assert chk.model_value == pytest.approx(kendalltau(y, res.predictions["noise_ridge"]).statistic, abs=1e-12)
    assert chk.baseline_value == pytest.approx(taus["mid_pmi"], abs=1e-12)
    assert chk.difference == pytest.approx(chk.model_value - chk.baseline_value, abs=1e-12)
    assert chk.high < 0 and chk.verdict == "worse" and not chk.passed
    line = chk.warning()
    assert "\n" not in line and "no better than a raw feature" in line and "mid_pmi" in line
    assert "too small" in line  # 4 generators
    assert any("only 4 generators" in t for t in chk.too_small)
    assert "**Warning**" in chk.markdown() and "too small to judge" in chk.markdown()
    # a model that reads the raw column (and more) is not worse; the check passes only when its CI is above zero
    good = check_against_baselines(res, "good")
    assert good.passed == (good.low > 0 and good.model_value > 0)
    assert good.warning() is None if good.passed else "no better" in good.warning()
    assert json.dumps(chk.to_dict())


def test_enough_generators_are_not_flagged_too_small():
    res, _ = _evaluate(n_gens=MIN_GENERATORS)
    assert not any("generators" in t for t in check_against_baselines(res, "noise_ridge").too_small)


def test_summary_is_the_demo_format_within_100_columns_with_the_numbers(tmp_path):
    res, _ = _evaluate()
    text = summary_text(res, "realism", "generator", "noise_ridge", report=tmp_path / "report.md")
    e = res.comparisons[("noise_ridge", "mid_pmi", "kendall_tau_b")]
    lines = text.splitlines()
    assert all(len(x) <= 100 for x in lines) and lines[-1] == f"report: {tmp_path / 'report.md'}"
    row = next(x for x in lines if x.startswith("realism · generator"))
    assert "worse" in row and "noise_ridge" in row and f"{e.value:+.3f} [{e.low:+.3f}, {e.high:+.3f}]" in row
    # without a raw-MID column the line compares with the best raw baseline
    no_mid, _ = _evaluate()
    no_mid.baselines = ["clip_score"]
    c = no_mid.comparisons[("noise_ridge", "clip_score", "kendall_tau_b")]
    assert f"{c.value:+.3f} [{c.low:+.3f}, {c.high:+.3f}]" in summary_text(no_mid, "realism", "generator", "noise_ridge")


def test_train_auto_keeps_the_raw_baseline_when_the_learned_models_are_worse(userdata, tmp_path, caplog):
    """Labels that ARE the raw MID ranking: no learned candidate can beat raw MID (tau-b 1 on every resample), so
    ``train --model auto`` saves the raw feature, warns in one line and says so in the report."""
    import judgenet as jn
    from judgenet.jobs.prepare import prepare
    from judgenet.predictors import load_predictor

    cache = tmp_path / "cache"
    prep = prepare(userdata / "labels.csv", images=userdata / "gen", reference=userdata / "real",
                   backbones=["tiny"], question="realism", cache_dir=cache)
    mid = prep.features.X[:, list(prep.features.names).index("mid_pmi")]
    frame = prep.labels.frame
    items = frame.drop_duplicates("item_id").set_index("item_id")
    score = pd.Series(1.0 + 4.0 * (pd.Series(mid).rank().to_numpy() - 1) / (mid.size - 1),
                      index=[str(i) for i in prep.item_ids])
    rows = [{"item_id": i, "image": items.loc[i, "image"], "prompt": items.loc[i, "prompt"],
             "generator": items.loc[i, "generator"], "rater_id": r, "question": "realism", "score": score[i]}
            for i in score.index for r in ("r0", "r1")]
    labels = tmp_path / "labels.csv"
    pd.DataFrame(rows).to_csv(labels, index=False)
    with caplog.at_level(logging.WARNING, logger="judgenet"):
        tr = jn.train(labels, images=userdata / "gen", reference=userdata / "real", out=tmp_path / "t",
                      model="auto", question="realism", n_resamples=100, cache_dir=cache, backbones=["tiny"])
    assert tr.recipe.family == "raw" and tr.recipe.params == {"column": list(prep.features.names).index("mid_pmi"),
                                                              "sign": 1.0}
    loud = [r.getMessage() for r in caplog.records if "no better than a raw feature" in r.getMessage()]
    assert len(loud) == 1 and "keeps raw mid_pmi" in loud[0]
    report = (tr.predictor / "report" / "report.md").read_text()
    assert "Is the model better than the raw features?" in report and "Saved predictor: raw" in report
    meta = json.loads((tr.predictor / "meta.json").read_text())
    assert meta["extra"]["baseline_check"]["passed"] is False
    assert meta["extra"]["baseline_check"]["baseline"] == "mid_pmi"
    model, _ = load_predictor(tr.predictor)
    np.testing.assert_array_equal(model.predict(prep.features.X), mid)  # the saved predictor is raw MID itself


def test_auto_keeps_a_raw_utility_for_comparative_labels(caplog):
    """Pairwise labels: a Bradley–Terry model on a noise column loses to the raw feature the preferences follow;
    with keep_baseline the kept recipe is that column as a utility (family raw_pairwise)."""
    from types import SimpleNamespace

    from judgenet.evaluation.pairwise import Pairs, evaluate_pairs
    from judgenet.jobs.train import check_model
    from judgenet.predictors.pairwise import BradleyTerry
    from judgenet.predictors.recipes import Recipe

    rng = np.random.default_rng(3)
    n = 60
    gens = np.repeat([f"g{i}" for i in range(4)], n // 4)
    prompts = np.tile([f"p{i}" for i in range(n // 4)], 4)
    X = rng.normal(size=(n, 2))
    a, b = rng.integers(0, n, 600), rng.integers(0, n, 600)
    keep = a != b
    pairs = Pairs.from_judgments(a[keep], b[keep], (X[a[keep], 0] > X[b[keep], 0]).astype(float))
    res = evaluate_pairs(X, pairs, gens, ["s", "noise"], {"bt_noise": column_pipeline([1], BradleyTerry())},
                         prompts=prompts, baselines=["s"], n_resamples=100, ceiling=False)
    prep = SimpleNamespace(is_pairwise=True, features=SimpleNamespace(names=["s", "noise"]))
    with caplog.at_level(logging.WARNING, logger="judgenet"):
        name, recipe, chk, section = check_model(prep, res, "bt_noise", Recipe("bradley_terry"), keep_baseline=True)
    assert chk.measure == "accuracy" and chk.baseline == "s" and chk.verdict == "worse" and not chk.passed
    assert name == "raw_pairwise" and recipe == Recipe("raw_pairwise", {"column": 0, "sign": 1.0})
    assert "Saved predictor: raw `s`" in section
    assert sum("no better than a raw feature" in r.getMessage() for r in caplog.records) == 1


def test_a_floor_far_below_zero_is_explained():
    """Labels that are mostly a per-generator level: holding a generator out moves the training mean against it,
    so the training-mean floor's pooled tau-b is far below zero — the check says the split cannot judge."""
    from judgenet.evaluation.results import FLOOR

    rng = np.random.default_rng(5)
    n_gens, per = 6, 20
    gens = np.repeat([f"g{i}" for i in range(n_gens)], per)
    y = np.repeat(np.arange(n_gens, dtype=float), per) + 0.1 * rng.normal(size=n_gens * per)
    X = np.c_[y + rng.normal(size=y.size), rng.normal(size=y.size)]
    res = evaluate(X, y, gens, ["mid_pmi", "n1"], {"r": column_pipeline([1], Ridge())}, baselines=["mid_pmi"],
                   n_resamples=50)
    chk = check_against_baselines(res, "r")
    floor = kendalltau(y, res.predictions[FLOOR]).statistic  # independent
    assert floor < -0.3 and chk.floor_value == pytest.approx(floor, abs=1e-12)
    assert any("training-mean floor" in t for t in chk.too_small)
    assert not any("generators:" in t for t in chk.too_small)  # 6 generators are enough
