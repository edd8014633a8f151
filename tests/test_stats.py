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


def _loop_estimates(x, y, systems, groups, n, seed):
    """The reference: resample index arrays one at a time and call the plain measures."""
    out = {m: stats.bootstrap_ci(stats.MEASURES[m], x, y, groups=groups, n_resamples=n, seed=seed)
           for m in stats.MEASURES}
    out["system_kendall_tau_b"] = stats.bootstrap_ci(lambda h, p, s: stats.system_level(h, p, s), x, y, systems,
                                                     groups=groups, n_resamples=n, seed=seed)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_vectorized_bootstrap_equals_the_loop_over_resampled_arrays(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 250))
    x = rng.integers(0, 5, n).astype(float)  # Likert-like human scores: many ties
    y = np.round(x + rng.normal(0, 2, n), int(rng.integers(0, 2)))  # predictions with ties too
    groups = rng.integers(0, n // 3, n) if seed % 2 == 0 else None  # prompt clusters / single items
    systems = rng.integers(0, 6, n)
    with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        ref = _loop_estimates(x, y, systems, groups, 200, seed)
    fast = stats.bootstrap_measures(x, y, list(ref), systems=systems, groups=groups, n_resamples=200, seed=seed)
    for m, e in ref.items():
        for field in ("value", "low", "high"):
            assert getattr(fast[m], field) == pytest.approx(getattr(e, field), rel=1e-12, abs=1e-12), (m, field)
    for m in stats.MEASURES:  # the string form of bootstrap_ci and of paired_bootstrap take the same path
        assert stats.bootstrap_ci(m, x, y, groups=groups, n_resamples=200, seed=seed).low == fast[m].low
        z = y[::-1].copy()
        a = stats.paired_bootstrap(m, x, y, z, groups=groups, n_resamples=200, seed=seed)
        b = stats.paired_bootstrap(stats.MEASURES[m], x, y, z, groups=groups, n_resamples=200, seed=seed)
        assert a["difference"].low == pytest.approx(b["difference"].low, abs=1e-12)
        assert a["difference"].high == pytest.approx(b["difference"].high, abs=1e-12)
        assert a["p_not_better"] == b["p_not_better"]


def test_vectorized_bootstrap_undefined_values_and_blocks_of_resamples(monkeypatch):
    x = np.arange(20.0)
    const = np.full(20, 0.1)  # 0.1 is not exact in binary: centring must not leave a tiny non-zero spread
    r = stats.bootstrap_measures(x, const, ["kendall_tau_b", "spearman", "pearson", "pairwise_accuracy"],
                                 n_resamples=50)
    assert all(np.isnan(e.value) and np.isnan(e.low) for k, e in r.items() if k != "pairwise_accuracy")
    assert r["pairwise_accuracy"].value == 0.5 == r["pairwise_accuracy"].low  # every predicted pair ties
    with pytest.raises(ValueError, match="unknown measure"):
        stats.bootstrap_measures(x, x, ["kendal"])
    with pytest.raises(ValueError, match="systems="):
        stats.bootstrap_measures(x, x, ["system_kendall_tau_b"])
    rng = np.random.default_rng(0)
    y = x + rng.normal(0, 3, 20)
    fast = stats.bootstrap_measures(x, y, ["spearman", "system_pearson"], systems=x // 5, n_resamples=80)
    monkeypatch.setattr(stats, "BLOCK_VALUES", 7 * 20)  # blocks of 7 resamples: the same resamples, same values
    blocked = stats.bootstrap_measures(x, y, ["spearman", "system_pearson"], systems=x // 5, n_resamples=80, seed=0)
    loop = {"spearman": stats.bootstrap_ci(lambda a, b: st.spearmanr(a, b).statistic, x, y, n_resamples=80),
            "system_pearson": stats.bootstrap_ci(lambda a, b, s: stats.system_level(a, b, s, "pearson"), x, y,
                                                 x // 5, n_resamples=80)}
    for m in fast:
        assert (fast[m].low, fast[m].high) == pytest.approx((blocked[m].low, blocked[m].high), abs=1e-12)
        assert (fast[m].low, fast[m].high) == pytest.approx((loop[m].low, loop[m].high), abs=1e-12)


def test_resample_weights_are_the_resamples_of_the_loop():
    rng = np.random.default_rng(5)
    groups = rng.integers(0, 7, 40)
    W = stats.resample_weights(40, groups, n_resamples=30, seed=9)
    blocks = stats._group_index(40, groups)
    r = np.random.default_rng(9)
    for row in W:
        idx = stats._resample_indices(blocks, r)
        np.testing.assert_array_equal(row, np.bincount(idx, minlength=40))
        for g in np.unique(groups):  # whole groups are drawn: one count per group
            assert len(set(row[groups == g])) == 1


@pytest.mark.parametrize("kind", ["likert_likert", "likert_continuous", "continuous_continuous"])
def test_weighted_kendall_counts_equal_counts_of_the_repeated_data(kind):
    # likert_* take the contingency-table path; continuous_continuous the blocked sign-matrix path
    # (n = 1,500 > one block of 1,024 rows)
    rng = np.random.default_rng(len(kind))
    n = 1500 if kind == "continuous_continuous" else 200
    x = rng.normal(size=n) if kind == "continuous_continuous" else rng.integers(1, 6, n).astype(float)
    y = x + rng.normal(size=n)
    if kind == "likert_likert":
        y = np.clip(np.round(y), 1, 5)
    elif kind == "continuous_continuous":
        y[:10] = y[10:20]  # some ties anyway
    W = rng.poisson(1.0, (6, n)).astype(float)
    W[5] = 0
    W[5, :3] = [2, 0, 1]  # a resample with 3 observations of 2 items
    got = stats.weighted_kendall_counts(x, y, W)
    for r in range(W.shape[0]):
        idx = np.repeat(np.arange(n), W[r].astype(int))
        want = stats.kendall_counts(x[idx], y[idx])
        for key in ("n", "n0", "tx", "ty", "txy", "c_minus_d", "kx", "ky"):
            assert got[key][r] == want[key], (kind, r, key)


def test_pearson_of_a_constant_that_is_not_exact_in_binary_is_nan():
    # 0.1 * 20 / 20 != 0.1 in floating point: centring leaves ~1e-17 spread, which once gave 0.0
    assert np.isnan(stats.pearson(np.arange(20.0), np.full(20, 0.1)))
    assert np.isnan(stats.spearman(np.full(7, 0.3), np.arange(7.0)))



def test_c_minus_d_equals_a_brute_force_pair_count_with_ties():
    rng = np.random.default_rng(11)
    for n in (2, 3, 57, 400):
        x = rng.integers(0, 6, n).astype(float)
        y = np.round(x + rng.normal(0, 1.5, n))
        dx, dy = np.sign(x[:, None] - x[None]), np.sign(y[:, None] - y[None])
        assert stats.kendall_counts(x, y)["c_minus_d"] == int((dx * dy).sum()) // 2
    assert stats.kendall_counts(np.ones(5), np.arange(5.0))["c_minus_d"] == 0  # a constant: no comparable pairs


def test_bootstrap_ci_agrees_with_scipy_bootstrap():
    """An independent implementation: scipy.stats.bootstrap (paired percentile interval). Different random streams,
    so endpoints agree to the Monte Carlo error (≈ 3 % of the width at 4,000 resamples), not exactly."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=250)
    y = 0.5 * x + rng.normal(size=250)
    ours = stats.bootstrap_ci("spearman", x, y, n_resamples=4000, seed=0)
    ref = st.bootstrap((x, y), lambda a, b: st.spearmanr(a, b).statistic, paired=True, vectorized=False,
                       n_resamples=4000, method="percentile", random_state=np.random.default_rng(1)).confidence_interval
    width = ref.high - ref.low
    assert ours.value == pytest.approx(st.spearmanr(x, y).statistic, abs=1e-12)
    assert abs(ours.low - ref.low) < 0.1 * width and abs(ours.high - ref.high) < 0.1 * width


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_discordant_pairs_equal_a_brute_force_count(seed):
    """The merge-sort count of weighted discordant pairs (ties in x, in y and in both; zero weights) against the
    n × n sign matrix, and blocks of resamples give the same values."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    x = rng.integers(0, 6, n).astype(float)
    y = np.round(x + rng.normal(0, 2, n), int(rng.integers(0, 2)))
    W = rng.integers(0, 4, (9, n)).astype(float)
    disc = (np.sign(x[:, None] - x[None]) * np.sign(y[:, None] - y[None])) < 0
    brute = np.array([0.5 * w @ disc @ w for w in W])
    np.testing.assert_array_equal(stats._weighted_discordant(x, y, W), brute)  # exact integers in float64
    sign = np.sign(x[:, None] - x[None]) * np.sign(y[:, None] - y[None])
    got = stats.weighted_kendall_counts(x, y, W)["c_minus_d"]
    np.testing.assert_array_equal(got, np.array([0.5 * w @ sign @ w for w in W]))


@pytest.mark.parametrize("chunk,columns", [(8, 3), (64, 40), (4096, 40)])
def test_weighted_discordant_pairs_in_chunks_and_column_blocks_equal_a_brute_force_count(monkeypatch, chunk, columns):
    """The cache-sized pass over the low merge levels (chunks of items) and the blocks of resamples: exact against
    the n × n sign matrix, with ties, zero weights and an n that is no power of two."""
    monkeypatch.setattr(stats, "DISCORDANT_CHUNK", chunk)
    monkeypatch.setattr(stats, "DISCORDANT_COLUMNS", columns)
    stats.clear_caches()
    rng = np.random.default_rng(chunk)
    n = 1237
    x = rng.integers(0, 40, n).astype(float)
    y = np.round(x + rng.normal(0, 9, n))
    W = rng.integers(0, 3, (7, n)).astype(float)
    disc = ((np.sign(x[:, None] - x[None]) * np.sign(y[:, None] - y[None])) < 0).astype(float)
    np.testing.assert_array_equal(stats._weighted_discordant(x, y, W), 0.5 * np.einsum("ri,ij,rj->r", W, disc, W))


def test_intervals_of_one_prediction_share_their_resamples_and_are_not_writable(monkeypatch):
    rng = np.random.default_rng(4)
    h, p, q = rng.normal(size=60), rng.normal(size=60), rng.normal(size=60)
    seen = []
    real = stats.weighted_measures
    monkeypatch.setattr(stats, "weighted_measures", lambda names, x, y, W: seen.append(y.copy()) or real(names, x, y, W))
    a = stats.bootstrap_measures(h, p, ["kendall_tau_b", "system_kendall_tau_b"], systems=np.arange(60) % 4,
                                 n_resamples=50, seed=3)
    b = stats.paired_bootstrap("kendall_tau_b", h, p, q, n_resamples=50, seed=3)
    assert (a["kendall_tau_b"].low, a["kendall_tau_b"].high) == (b["a"].low, b["a"].high)
    # p's resampled values were computed once (by bootstrap_measures), q's once (by paired_bootstrap)
    assert sum(np.array_equal(y, p) for y in seen) == 1 and sum(np.array_equal(y, q) for y in seen) == 1
    boots = stats._resampled(*stats._pair(h, p), ["kendall_tau_b"], None, 50, 3)["kendall_tau_b"]
    assert not boots.flags.writeable


def test_system_level_tau_b_on_every_resample_with_tied_and_missing_systems():
    """The (B, k, k) sign computation of the system-level tau-b against :func:`system_level` on each resample's
    repeated items: systems whose means tie exactly (constant inside), systems absent from some resamples."""
    rng = np.random.default_rng(8)
    systems = np.repeat(np.arange(9), [1, 1, 6, 6, 6, 6, 6, 6, 6])
    x = (systems // 2).astype(float)  # systems 2k and 2k+1 have the same human mean
    y = np.where(systems % 3 == 0, 1.0, rng.normal(size=systems.size))
    W = stats.resample_weights(systems.size, None, 200, seed=2)
    got = stats._weighted_system("kendall_tau_b", x, y, systems, W)
    want = []
    for w in W.astype(int):
        idx = np.repeat(np.arange(systems.size), w)
        want.append(stats.system_level(x[idx], y[idx], systems[idx]) if np.unique(systems[idx]).size >= 2
                    else np.nan)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert (W[:, 0] == 0).any() and (W[:, 0] > 0).any()  # system 0 (one item) is absent from some resamples


@pytest.mark.parametrize("seed", range(3))
def test_the_contingency_table_and_the_merge_give_the_same_weighted_counts(monkeypatch, seed):
    """Both routes of weighted_kendall_counts, forced in turn on the same tied data and weights: exact integers."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 300))
    x = rng.integers(0, 5, n).astype(float)
    y = np.round(x + rng.normal(0, 1.5, n))
    W = rng.integers(0, 3, (11, n)).astype(float)
    got = {}
    for table in (True, False):
        monkeypatch.setattr(stats, "_use_table", lambda n, kx, ky, table=table: table)
        got[table] = stats.weighted_kendall_counts(x, y, W)
    for k in got[True]:
        np.testing.assert_array_equal(got[True][k], got[False][k], err_msg=k)


def test_kept_resampled_values_outlive_many_other_inputs(monkeypatch):
    """An evaluation computes per-generator intervals (dozens of other inputs) between a prediction's pooled
    intervals and its paired comparisons: the pooled values must still be there (they were recomputed when the cache
    kept only 16 inputs)."""
    stats.clear_caches()
    rng = np.random.default_rng(9)
    h, p, q = rng.normal(size=80), rng.normal(size=80), rng.normal(size=80)
    stats.bootstrap_measures(h, p, ["kendall_tau_b"], n_resamples=40, seed=1)
    stats.bootstrap_measures(h, q, ["kendall_tau_b"], n_resamples=40, seed=1)
    for k in range(60):  # e.g. 13 generators x 5 predictors
        stats.bootstrap_ci("kendall_tau_b", h[k % 7::3], p[k % 7::3] + k, n_resamples=40, seed=1)
    seen = []
    real = stats.weighted_measures
    monkeypatch.setattr(stats, "weighted_measures", lambda names, x, y, W: seen.append(1) or real(names, x, y, W))
    stats.paired_bootstrap("kendall_tau_b", h, p, q, n_resamples=40, seed=1)
    assert seen == []


def test_the_data_only_structures_are_bounded_by_bytes_too(monkeypatch):
    """Kept merge schedules and value structures: at most 32 inputs and CACHE_MAX_BYTES of arrays (one schedule of a
    large n can hold hundreds of MB), the newest always kept."""
    stats.clear_caches()
    rng = np.random.default_rng(3)
    x = rng.normal(size=3000)
    one = stats._nbytes(stats._merge_levels(x, x + 1.0))
    monkeypatch.setattr(stats, "CACHE_MAX_BYTES", int(2.5 * one))
    W = np.ones((2, x.size))
    for k in range(5):
        stats._weighted_discordant(x, x + k, W)
    kept = [key for key in stats._CACHE if key[0] == "merge"]
    assert len(kept) == 2 and stats._nbytes(list(stats._CACHE.values())) <= 2.5 * one
    assert ("merge",) + stats._key(x, x + 4) in stats._CACHE  # the newest
    monkeypatch.setattr(stats, "CACHE_MAX_BYTES", 2**40)
    for k in range(40):
        stats._cached("values", stats._values, x[:50] + k)
    assert len(stats._CACHE) == 32
