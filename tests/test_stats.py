import itertools

import numpy as np
import pytest
from scipy import stats as st

from judgenet import stats


def brute_pairwise_accuracy(h, p):
    num = den = 0.0
    for i, j in itertools.combinations(range(len(h)), 2):
        if h[i] == h[j]:
            continue
        den += 1
        if p[i] == p[j]:
            num += 0.5
        elif (h[i] - h[j]) * (p[i] - p[j]) > 0:
            num += 1
    return num / den


@pytest.mark.parametrize("seed", range(5))
def test_pairwise_accuracy_matches_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    h = rng.integers(1, 5, size=60).astype(float)
    p = np.round(h + rng.normal(0, 1.5, size=60))  # many predicted ties
    assert stats.pairwise_accuracy(h, p) == pytest.approx(brute_pairwise_accuracy(h, p), abs=1e-12)


def test_pairwise_accuracy_edge_cases():
    assert np.isnan(stats.pairwise_accuracy([1, 1, 1], [1, 2, 3]))
    assert stats.pairwise_accuracy([1, 2, 3], [5, 5, 5]) == 0.5
    assert stats.pairwise_accuracy([1, 2, 3], [1, 2, 3]) == 1.0
    assert stats.pairwise_accuracy([1, 2, 3], [3, 2, 1]) == 0.0


def test_tau_b_and_c_differ_and_match_hand_count():
    # 2x3 table: tau-c differs from tau-b when the table is not square
    h = np.array([1, 1, 1, 2, 2, 2, 2])
    p = np.array([1, 2, 3, 1, 2, 3, 3])
    n = len(h)
    c = d = 0
    for i, j in itertools.combinations(range(n), 2):
        s = np.sign(h[i] - h[j]) * np.sign(p[i] - p[j])
        c += s > 0
        d += s < 0
    m = 2  # min(rows, cols)
    tau_c = 2 * m * (c - d) / (n**2 * (m - 1))
    assert stats.kendall_tau_c(h, p) == pytest.approx(tau_c)
    assert stats.kendall_tau_b(h, p) == pytest.approx(st.kendalltau(h, p).statistic)
    assert abs(stats.kendall_tau_b(h, p) - stats.kendall_tau_c(h, p)) > 1e-3


def test_system_level_uses_group_means():
    h = np.array([1, 2, 3, 4, 5, 6.0])
    p = np.array([6, 5, 4, 3, 2, 1.0])
    g = np.array(["a", "a", "b", "b", "c", "c"])
    assert stats.system_level(h, p, g, "pearson") == pytest.approx(-1.0)


def test_bootstrap_ci_contains_estimate_and_is_seeded():
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    y = x + rng.normal(size=300)
    e1 = stats.bootstrap_ci(stats.spearman, x, y, n_resamples=300, seed=1)
    e2 = stats.bootstrap_ci(stats.spearman, x, y, n_resamples=300, seed=1)
    assert e1 == e2
    assert e1.low < e1.value < e1.high
    # group resampling: duplicated rows in groups give a wider interval than treating them independent
    xg, yg = np.repeat(x[:60], 5), np.repeat(y[:60], 5)
    groups = np.repeat(np.arange(60), 5)
    wide = stats.bootstrap_ci(stats.pearson, xg, yg, groups=groups, n_resamples=300, seed=0)
    narrow = stats.bootstrap_ci(stats.pearson, xg, yg, n_resamples=300, seed=0)
    assert (wide.high - wide.low) > 1.5 * (narrow.high - narrow.low)


def test_paired_bootstrap_detects_better_predictor():
    rng = np.random.default_rng(0)
    h = rng.normal(size=400)
    good = h + rng.normal(scale=0.3, size=400)
    bad = h + rng.normal(scale=2.0, size=400)
    out = stats.paired_bootstrap("kendall_tau_b", h, good, bad, n_resamples=300, seed=0)
    assert out["difference"].low > 0
    assert out["p_not_better"] < 0.01
    out2 = stats.paired_bootstrap("kendall_tau_b", h, bad, good, n_resamples=300, seed=0)
    assert out2["difference"].high < 0


@pytest.mark.parametrize("seed", range(6))
def test_fast_measures_equal_scipy(seed):
    rng = np.random.default_rng(seed)
    n = [2, 3, 50, 400, 1000, 37][seed]
    h = rng.integers(1, 5, size=n).astype(float)
    p = np.round(h + rng.normal(0, 1.0, size=n), 1)
    for variant, fn in (("b", stats.kendall_tau_b), ("c", stats.kendall_tau_c)):
        ref = st.kendalltau(h, p, variant=variant).statistic
        got = fn(h, p)
        assert (np.isnan(ref) and np.isnan(got)) or got == pytest.approx(ref, rel=1e-12, abs=1e-15)
    if n > 2:
        assert stats.spearman(h, p) == pytest.approx(st.spearmanr(h, p).statistic, rel=1e-12)
        assert stats.pearson(h, p) == pytest.approx(st.pearsonr(h, p).statistic, rel=1e-12)
    if n <= 60:
        assert stats.pairwise_accuracy(h, p) == pytest.approx(brute_pairwise_accuracy(h, p), abs=1e-12)
