"""Label-efficiency curves: leakage-free subsampling, values against an independent refit, the
answer sentence, the new-generator curve and the plot."""
import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, Ridge

from judgenet.errors import ConfigError
from judgenet.evaluation import make_folds
from judgenet.evaluation.efficiency import (budget_subsets, label_efficiency, new_generator_curve,
                                            subsample_by_prompt)

# one BLAS/OpenMP thread: with torch's OpenMP runtime loaded beside scikit-learn's (any earlier test that imports
# torch), multi-threaded HistGradientBoosting fits stall for seconds each on a busy machine
pytestmark = pytest.mark.usefixtures("one_thread")


def _data(n_gen=6, n_prompts=12, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    gens = np.repeat([f"g{i}" for i in range(n_gen)], n_prompts)
    prompts = np.tile([f"p{j}" for j in range(n_prompts)], n_gen)
    X = rng.normal(size=(gens.size, 4))
    offs = np.repeat(rng.normal(0, shift, n_gen), n_prompts)
    y = X @ [1.0, 0.5, -0.5, 0.0] + offs + rng.normal(0, 0.5, gens.size)
    mid = X[:, 0] + rng.normal(0, 1.5, gens.size)  # a weak raw baseline
    X = np.c_[mid, X]
    return X, y, gens, prompts, ["mid_pmi", "a", "b", "c", "d"]


@pytest.mark.parametrize("split", ["generator", "crossed"])
def test_subsampling_never_leaks_held_out_generators_or_prompts(split):
    X, y, gens, prompts, _ = _data()
    folds = make_folds(gens, prompts, split=split, n_prompt_folds=3, seed=1)
    seen = 0
    for r, b, k, idx in budget_subsets(folds, prompts, [5, 20, 10_000], judgments_per_item=1, n_repeats=2, seed=3):
        f = folds[k]
        assert set(idx) <= set(f.train)
        assert not set(idx) & set(f.test)
        assert f.held_generator not in set(gens[idx])
        if split == "crossed":
            assert not set(prompts[idx]) & set(prompts[f.test])
        assert idx.size == min(b, f.train.size)
        # whole prompt clusters except at most the last one drawn
        partial = [p for p in set(prompts[idx]) if (prompts[idx] == p).sum() < (prompts[f.train] == p).sum()]
        assert len(partial) <= 1
        seen += 1
    assert seen == 2 * 3 * len(folds)


def test_subsample_is_seeded_and_exact_size():
    prompts = np.repeat(np.arange(10), 4)
    pool = np.arange(40)
    a = subsample_by_prompt(pool, prompts, 13, np.random.default_rng(5))
    b = subsample_by_prompt(pool, prompts, 13, np.random.default_rng(5))
    assert a.size == 13 and np.array_equal(a, b)
    assert subsample_by_prompt(pool, prompts, 0, np.random.default_rng(0)).size == 0


def test_curve_values_match_an_independent_refit_and_rise_with_budget():
    X, y, gens, prompts, names = _data(n_gen=6, n_prompts=30, seed=2)
    budgets = [6, 24, 150]
    cur = label_efficiency(X, y, gens, names, Ridge(alpha=1.0), prompts=prompts, budgets=budgets, n_repeats=1,
                           n_resamples=200, seed=0)
    folds = make_folds(gens, prompts, split="generator")
    for b in budgets:
        pred = np.full(y.size, np.nan)
        for r, bb, k, idx in budget_subsets(folds, prompts, [b], n_repeats=1, seed=0):
            pred[folds[k].test] = clone(Ridge(alpha=1.0)).fit(X[idx], y[idx]).predict(X[folds[k].test])
        got = cur.table.query("budget == @b and measure == 'kendall_tau_b'")["value"].item()
        assert got == pytest.approx(kendalltau(y, pred).statistic, abs=1e-10)
    tau = cur.table.query("measure == 'kendall_tau_b'").sort_values("budget")["value"].to_numpy()
    assert tau[-1] > tau[0]
    base = cur.baselines.query("predictor == 'mid_pmi' and measure == 'kendall_tau_b'")["value"].item()
    assert base == pytest.approx(kendalltau(y, X[:, 0]).statistic, abs=1e-10)
    ans = cur.answer()["model"]
    assert ans["budget"] is not None and ans["budget"] <= 150 and "beats mid_pmi" in ans["sentence"]
    row = cur.table.query("budget == 150 and measure == 'kendall_tau_b'").iloc[0]
    assert row["diff_low"] > 0 and row["low"] <= row["value"] <= row["high"]
    md = cur.to_markdown()
    assert "judgments" in md and "raw mid_pmi" in md


def test_judgments_per_item_and_bad_budgets():
    X, y, gens, prompts, names = _data()
    cur = label_efficiency(X, y, gens, names, Ridge(), prompts=prompts, budgets=[50], judgments_per_item=5,
                           n_repeats=1, n_resamples=50)
    assert cur.table["n_items"].iloc[0] == 10
    with pytest.raises(ConfigError):
        label_efficiency(X, y, gens, names, Ridge(), prompts=prompts, budgets=[5], judgments_per_item=5)
    with pytest.raises(ConfigError, match="prompts"):
        label_efficiency(X, y, gens, names, Ridge(), prompts=None, budgets=[50])


def test_new_generator_curve_shift_correction_learns_the_offset():
    # generator offsets the features cannot explain: k labelled items fix the mean, not the ranking
    X, y, gens, prompts, names = _data(n_gen=5, n_prompts=40, seed=1, shift=2.0)
    ng = new_generator_curve(X, y, gens, LinearRegression(), ks=(0, 10, 100), n_repeats=2, n_resamples=100)
    assert list(ng["k"]) == [0, 10]  # k = 100 leaves fewer than min_test items: skipped
    r0, r10 = ng.iloc[0], ng.iloc[1]
    assert r0["mean_abs_error_shifted"] == pytest.approx(r0["mean_abs_error"])
    assert r10["mean_abs_error_shifted"] < 0.6 * r10["mean_abs_error"]
    assert r0["within_tau_b_low"] <= r0["within_tau_b"] <= r0["within_tau_b_high"]


def test_plot_writes_png(tmp_path):
    X, y, gens, prompts, names = _data()
    cur = label_efficiency(X, y, gens, names, Ridge(), prompts=prompts, budgets=[10, 40], n_repeats=2,
                           n_resamples=50, ceiling={"loo_kendall_tau_b": 0.5, "pairwise_agreement": 0.7})
    ng = pd.DataFrame({"k": [0, 5], "within_tau_b": [0.1, 0.2], "within_tau_b_low": [0.0, 0.1],
                       "within_tau_b_high": [0.2, 0.3], "mean_abs_error": [0.5, 0.5],
                       "mean_abs_error_shifted": [0.5, 0.2]})
    p = cur.plot(tmp_path / "eff.png", new_generator=ng, title="t")
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class _CountingRidge(Ridge):
    fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight)


def test_fits_on_a_whole_training_part_are_made_once_and_give_the_same_values():
    """A budget that covers a fold's whole training part refits nothing across repeats/budgets (the demo's
    cheap curve relies on it); values equal an independent refit."""
    X, y, gens, prompts, names = _data(n_gen=5, n_prompts=10, seed=4)
    _CountingRidge.fits = 0
    cur = label_efficiency(X, y, gens, names, _CountingRidge(alpha=1.0), prompts=prompts, budgets=[10, 40, 1000],
                           n_repeats=3, n_resamples=50, seed=1)
    n_folds = 5
    # budget 10 and 40: 3 repeats x 5 folds each; 40 items = the whole training part, so one fit per fold
    assert _CountingRidge.fits == 3 * n_folds + n_folds
    folds = make_folds(gens, prompts, split="generator")
    pred = np.full(y.size, np.nan)
    for f in folds:
        pred[f.test] = Ridge(alpha=1.0).fit(X[f.train], y[f.train]).predict(X[f.test])
    for b in (40, 1000):
        row = cur.table.query("budget == @b and measure == 'kendall_tau_b'").iloc[0]
        assert row["value"] == pytest.approx(kendalltau(y, pred).statistic, abs=1e-12) and row["repeat_sd"] < 1e-12
