"""One results interface (evaluation/results.py): per-item and pairwise results answer the same questions the
same way — metrics/comparisons on everything held out, table() and comparison_table() with the same columns,
best_model() by the protocol's primary measure, to_dict()/to_json() round trips."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau
from sklearn.linear_model import Ridge

from judgenet.evaluation import EvaluationResults, HeldOutResults, PairwiseResults, evaluate
from judgenet.evaluation.pairwise import Pairs, evaluate_pairs
from judgenet.predictors.pairwise import BradleyTerry
from judgenet.predictors.recipes import column_pipeline

pytestmark = pytest.mark.usefixtures("one_thread")

TABLE = ["predictor", "kind", "measure", "value", "low", "high", "n_resamples"]
COMPARISON = ["model", "baseline", "measure", "difference", "low", "high", "p_not_better", "excludes_zero"]


def _per_item():
    rng = np.random.default_rng(0)
    n = 80
    gens = np.repeat(["g0", "g1", "g2", "g3"], n // 4)
    prompts = np.tile([f"p{i}" for i in range(n // 4)], 4)
    X = rng.normal(size=(n, 3))
    y = X[:, 0] + 0.5 * rng.normal(size=n)
    res = evaluate(X, y, gens, ["a", "b", "c"], {"good": column_pipeline([0], Ridge()),
                                                 "bad": column_pipeline([2], Ridge())},
                   prompts=prompts, baselines=["a", "b"], n_resamples=50)
    return res, y


def _pairwise():
    rng = np.random.default_rng(1)
    n = 60
    gens = np.repeat(["g0", "g1", "g2", "g3"], n // 4)
    prompts = np.tile([f"p{i}" for i in range(n // 4)], 4)
    X = rng.normal(size=(n, 3))
    a, b = rng.integers(0, n, 600), rng.integers(0, n, 600)
    keep = a != b
    pref = (X[a[keep], 0] > X[b[keep], 0]).astype(float)
    pairs = Pairs.from_judgments(a[keep], b[keep], pref)
    res = evaluate_pairs(X, pairs, gens, ["s", "n1", "n2"], {"bt": BradleyTerry(), "noise": column_pipeline(
        [1], BradleyTerry())}, prompts=prompts, baselines=["s"], n_resamples=50, ceiling=False)
    return res


def test_both_protocols_honour_one_interface():
    per_item, y = _per_item()
    pairwise = _pairwise()
    for res in (per_item, pairwise):
        assert isinstance(res, HeldOutResults)
        t = res.table()
        assert set(TABLE) <= set(t.columns)
        assert set(t["kind"]) == {"model", "baseline"} | ({"floor"} if res is per_item else set())
        c = res.comparison_table()
        assert set(COMPARISON) <= set(c.columns)
        # metrics: {predictor: {measure: Estimate}}, comparisons keyed (model, baseline, measure)
        assert set(res.metrics) == set(res.models) | set(res.baselines)
        assert all(len(k) == 3 for k in res.comparisons) and set(res.comparisons) == set(res.p_not_better)
        json.loads(res.to_json())
    # best_model by the primary measure, checked against an independent computation
    taus = {m: kendalltau(y, per_item.predictions[m]).statistic for m in per_item.models}
    assert per_item.primary_measure == "kendall_tau_b" and per_item.best_model() == max(taus, key=taus.get) == "good"
    p = pairwise.predictions
    acc = {}
    for m in pairwise.models:
        h, d = np.sign(p["preference"] - 0.5), np.sign(p[f"d:{m}"])
        keep = h != 0
        acc[m] = np.mean(np.where(d[keep] == 0, 0.5, (d[keep] == h[keep]).astype(float)))
    assert pairwise.primary_measure == "accuracy" and pairwise.best_model() == max(acc, key=acc.get) == "bt"
    assert pairwise.metrics["bt"]["accuracy"].value == pytest.approx(acc["bt"], abs=1e-12)
    # lower is better for log-loss
    ll = {m: pairwise.metrics[m]["log_loss"].value for m in pairwise.models}
    assert pairwise.best_model("log_loss") == min(ll, key=ll.get)


def test_pairwise_views_and_round_trip():
    res = _pairwise()
    assert res.metrics is res.by_pairs["all"]
    for (a, b, m), e in res.comparisons.items():
        assert res.comparisons_by_pairs[(a, b, m, "all")] == e
    assert set(res.table()["pairs"]) == set(res.by_pairs)
    back = PairwiseResults.from_dict(json.loads(res.to_json()))
    pd.testing.assert_frame_equal(back.table(), res.table())
    pd.testing.assert_frame_equal(back.comparison_table(), res.comparison_table())
    assert back.best_model() == res.best_model()
    per_item, _ = _per_item()
    again = EvaluationResults.from_dict(json.loads(per_item.to_json()))
    pd.testing.assert_frame_equal(again.table(), per_item.table())
