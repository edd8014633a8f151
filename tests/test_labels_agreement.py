"""Rater agreement: hand-computed small cases, brute force, and the `krippendorff` package (verified first)."""
import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from judgenet import stats
from judgenet.errors import LabelError
from judgenet.labels import (CEILING_STATS, LabelSet, krippendorff_alpha, leave_one_rater_out, pairwise_agreement,
                             pairwise_agreement_counts, rater_ceiling, rating_matrix, spearman_brown, split_half)

nan = np.nan
# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C: 4 observers x 12 units
KRIPP_2011 = np.array([[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
                       [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
                       [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
                       [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]])
PUBLISHED = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849}


def _brute_agreement(R):
    agree = total = 0
    for a, b in itertools.combinations(range(R.shape[1]), 2):
        for i, j in itertools.combinations(range(R.shape[0]), 2):
            vals = R[[i, j]][:, [a, b]]
            if np.isnan(vals).any():
                continue
            da, db = np.sign(vals[0, 0] - vals[1, 0]), np.sign(vals[0, 1] - vals[1, 1])
            if da == 0 or db == 0:
                continue
            total += 1
            agree += da == db
    return agree / total


def test_pairwise_agreement_hand_cases():
    assert pairwise_agreement(np.array([[1, 1], [2, 3], [3, 2]], float)) == pytest.approx(2 / 3)
    # a tie of rater 2 on items 1, 2 removes that item pair: 2 of 2 remaining agree
    assert pairwise_agreement(np.array([[1, 1], [2, 1], [3, 2]], float)) == 1.0
    # pooled over rater pairs: (r1, r2) 2/3, (r1, r3) 3/3, (r2, r3) 2/3  -> 7/9
    R = np.array([[1, 1, 1], [2, 3, 2], [3, 2, 3]], float)
    assert pairwise_agreement(R) == pytest.approx((2 + 3 + 2) / 9)
    assert pairwise_agreement_counts(R) == (7.0, 9.0, 3)
    # pooling weighs rater pairs by their compared item pairs: (r1, r2) share 3 items (2/3), (r1, r3) and (r2, r3) 2 items (1/1 each)
    R = np.array([[1, 1, 1], [2, 3, 2], [3, 2, nan]], float)
    assert pairwise_agreement(R) == pytest.approx((2 + 1 + 1) / (3 + 1 + 1))
    assert np.isnan(pairwise_agreement(np.array([[1, nan], [nan, 2]], float)))


def test_pairwise_agreement_equals_brute_force_with_missing():
    rng = np.random.default_rng(3)
    R = rng.integers(1, 6, size=(30, 4)).astype(float)
    R[rng.random(R.shape) < 0.3] = nan
    assert pairwise_agreement(R) == pytest.approx(_brute_agreement(R), abs=1e-12)


def test_leave_one_rater_out_hand_case():
    R = np.array([[1, 2, 1], [2, 1, 3], [3, 4, 2], [4, 3, 5], [5, 5, 4]], float)
    exp = {"kendall_tau_b": [], "kendall_tau_c": [], "spearman": []}
    for r in range(3):
        rest = np.delete(R, r, axis=1).mean(axis=1)
        exp["kendall_tau_b"].append(st.kendalltau(R[:, r], rest).statistic)
        exp["kendall_tau_c"].append(st.kendalltau(R[:, r], rest, variant="c").statistic)
        exp["spearman"].append(st.spearmanr(R[:, r], rest).statistic)
    got = leave_one_rater_out(R)
    for k, v in exp.items():
        assert got[k] == pytest.approx(np.mean(v), abs=1e-12)
    assert got["n_raters_used"] == 3
    # rater 0 scores items 0..3 and rater 1 only items 2..4: each compared with the mean of the others present
    R2 = np.array([[1, nan, 2], [2, nan, 1], [3, 4, 3], [4, 5, 5], [nan, 3, 4]], float)
    got2 = leave_one_rater_out(R2)
    rest0 = np.array([2, 1, (4 + 3) / 2, (5 + 5) / 2])
    t0 = st.kendalltau([1, 2, 3, 4], rest0).statistic
    t1 = st.kendalltau([4, 5, 3], [3, 5, 4]).statistic
    rest2 = np.array([1, 2, 3.5, 4.5, 3])
    t2 = st.kendalltau([2, 1, 3, 5, 4], rest2).statistic
    assert got2["kendall_tau_b"] == pytest.approx((t0 + t1 + t2) / 3)


def _split_half_loop(R, seed):
    """Reference: per item, a random order of its judgments (same random keys), first floor(m/2) vs rest."""
    rng = np.random.default_rng(seed)
    keys = rng.random(R.shape)
    h1, h2 = [], []
    for row, k in zip(R, keys):
        ok = ~np.isnan(row)
        if ok.sum() < 2:
            continue
        v = row[ok][np.argsort(k[ok])]
        h1.append(v[: v.size // 2].mean())
        h2.append(v[v.size // 2:].mean())
    r = st.spearmanr(h1, h2).statistic
    return 2 * r / (1 + r)


def test_split_half_hand_cases():
    R = np.array([[1, 1], [2, 2], [4, 4], [3, 3]], float)
    assert split_half(R) == pytest.approx(1.0)  # identical raters: any split correlates perfectly
    rng = np.random.default_rng(0)
    R = np.round(rng.normal(size=(30, 5)) * 2) + np.arange(30)[:, None] / 10
    R[rng.random(R.shape) < 0.3] = nan
    keep = (~np.isnan(R)).sum(1) >= 2
    for seed in (0, 1):
        assert split_half(R[keep], seed, n_splits=1) == pytest.approx(_split_half_loop(R[keep], seed), abs=1e-12)
    assert spearman_brown(0.5) == pytest.approx(2 / 3) and spearman_brown(0.5, 3) == pytest.approx(0.75)
    assert np.isnan(split_half(R[:2]))
    with pytest.raises(LabelError):
        split_half(R, method="kendall")


def test_split_half_more_raters_reasonable():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=200)
    R = truth[:, None] + rng.normal(size=(200, 6))
    R[rng.random(R.shape) < 0.2] = nan
    rel = split_half(R, n_splits=20)
    assert 0.7 < rel < 0.95  # 6 raters with unit noise: reliability of the mean ~ 6/(6+1)=0.86


def test_krippendorff_package_verified_on_textbook_example():
    krippendorff = pytest.importorskip("krippendorff")
    for level, val in PUBLISHED.items():
        got = krippendorff.alpha(reliability_data=KRIPP_2011, level_of_measurement=level)
        assert got == pytest.approx(val, abs=5e-4)


def test_krippendorff_alpha_textbook_values():
    R = KRIPP_2011.T  # ours is (items, raters)
    assert krippendorff_alpha(R, "interval") == pytest.approx(PUBLISHED["interval"], abs=5e-4)
    assert krippendorff_alpha(R, "ordinal") == pytest.approx(PUBLISHED["ordinal"], abs=5e-4)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("level", ["interval", "ordinal"])
def test_krippendorff_alpha_matches_package(seed, level):
    krippendorff = pytest.importorskip("krippendorff")
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, size=25)
    R = np.clip(truth[:, None] + rng.integers(-1, 2, size=(25, 5)), 1, 5).astype(float)
    R[rng.random(R.shape) < 0.25] = nan
    ref = krippendorff.alpha(reliability_data=R.T, level_of_measurement=level)
    assert krippendorff_alpha(R, level) == pytest.approx(ref, abs=1e-10)


def test_krippendorff_alpha_edge_cases():
    assert krippendorff_alpha(np.array([[1, 1], [2, 2], [3, 3]], float)) == 1.0
    assert np.isnan(krippendorff_alpha(np.array([[1, 1], [1, 1]], float)))
    assert np.isnan(krippendorff_alpha(np.array([[1, nan], [nan, 2]], float)))
    with pytest.raises(LabelError, match="interval' or 'ordinal"):
        krippendorff_alpha(np.ones((2, 2)), "ratio")


def _labelset(R, question="realism"):
    rows = [{"item_id": f"i{i}", "image": f"i{i}.png", "generator": "g", "rater_id": f"r{r}", "question": question,
             "score": R[i, r]} for i in range(R.shape[0]) for r in range(R.shape[1]) if not np.isnan(R[i, r])]
    return LabelSet.from_frame(pd.DataFrame(rows), scales={question: (1, 5)})


def test_rating_matrix_round_trip():
    R = np.array([[1, 2, nan], [3, nan, 4], [5, 5, 5]], float)
    M, items, raters = rating_matrix(_labelset(R), "realism", return_ids=True)
    np.testing.assert_array_equal(M, R)
    assert items == ["i0", "i1", "i2"] and raters == ["r0", "r1", "r2"]


def test_rater_ceiling_dict_and_cis():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=60)
    R = np.clip(np.round(3 + truth[:, None] + 0.8 * rng.normal(size=(60, 4))), 1, 5)
    ls = _labelset(R)
    c = rater_ceiling(ls, "realism", n_resamples=30, seed=0)
    assert c["question"] == "realism" and c["n_items"] == 60 and c["n_raters"] == 4 and c["n_judgments"] == 240
    for k in CEILING_STATS:
        assert c[f"{k}_low"] <= c[k] <= c[f"{k}_high"], k
    assert c["pairwise_agreement"] == pytest.approx(pairwise_agreement(R))
    assert c["alpha_interval"] == pytest.approx(krippendorff_alpha(R, "interval"))
    assert 0.5 < c["pairwise_agreement"] < 1 and c["loo_kendall_tau_b"] > 0.3
    assert c == rater_ceiling(ls, "realism", n_resamples=30, seed=0)  # seeded
    assert rater_ceiling(R, "realism", n_resamples=5)["n_items"] == 60  # a matrix works too


def test_rater_ceiling_errors():
    R = np.array([[1, 2], [2, 3], [3, 1]], float)
    ls = _labelset(R)
    with pytest.raises(LabelError, match="needs rater_id"):
        rater_ceiling(LabelSet.from_frame(ls.frame.assign(rater_id=None)), "realism")
    with pytest.raises(LabelError, match="at least 2 raters"):
        rater_ceiling(_labelset(R[:, :1]), "realism")
    with pytest.raises(LabelError, match="no judgments"):
        rater_ceiling(ls, "alignment")


def test_statistics_on_labelsets_return_estimates():
    """(labels, question) → stats.Estimate with a bootstrap CI over items; the point value equals the matrix form."""
    from judgenet.stats import Estimate

    rng = np.random.default_rng(5)
    truth = rng.normal(size=40)
    R = np.clip(np.round(3 + truth[:, None] + rng.normal(size=(40, 3))), 1, 5)
    ls = _labelset(R)
    e = pairwise_agreement(ls, "realism", n_resamples=20)
    assert isinstance(e, Estimate) and e.value == pytest.approx(pairwise_agreement(R)) and e.low <= e.value <= e.high
    a = krippendorff_alpha(ls, "realism", level="ordinal", n_resamples=20)
    assert a.value == pytest.approx(krippendorff_alpha(R, "ordinal"))
    loo = leave_one_rater_out(ls, "realism", n_resamples=20)
    assert loo["spearman"].value == pytest.approx(leave_one_rater_out(R)["spearman"]) and loo["n_raters_used"] == 3
    sh = split_half(ls, "realism", n_resamples=20)
    assert sh.value == pytest.approx(split_half(R, 0))
    assert pairwise_agreement(ls, n_resamples=5).value == e.value  # a single question may be omitted


def test_labelset_form_returns_estimates_matching_matrix_form():
    """(labels, question) → Estimate whose value equals the matrix point value, CI brackets it."""
    from judgenet.stats import Estimate

    rng = np.random.default_rng(3)
    truth = rng.normal(size=40)
    R = np.clip(np.round(3 + truth[:, None] + 0.7 * rng.normal(size=(40, 3))), 1, 5)
    R[rng.random(R.shape) < 0.1] = nan
    ls = _labelset(R)
    M = rating_matrix(ls, "realism")
    pa = pairwise_agreement(ls, "realism", n_resamples=50, seed=1)
    assert isinstance(pa, Estimate) and pa.value == pytest.approx(pairwise_agreement(M))
    assert pa.low <= pa.value <= pa.high and pa.n_resamples == 50
    assert pairwise_agreement(ls, n_resamples=5).value == pa.value  # the only question is implied
    loo = leave_one_rater_out(ls, "realism", n_resamples=30)
    assert loo["kendall_tau_b"].value == pytest.approx(leave_one_rater_out(M)["kendall_tau_b"])
    assert loo["n_raters_used"] == 3 and isinstance(loo["spearman"], Estimate)
    sh = split_half(ls, "realism", seed=2, n_resamples=30)
    assert sh.value == pytest.approx(split_half(M, 2))
    for level in ("interval", "ordinal"):
        ka = krippendorff_alpha(ls, "realism", level=level, n_resamples=30)
        assert ka.value == pytest.approx(krippendorff_alpha(M, level)) and ka.low <= ka.value <= ka.high
    with pytest.raises(LabelError, match="interval' or 'ordinal"):
        krippendorff_alpha(ls, "realism", level="nominal")
    with pytest.raises(LabelError, match="no judgments for question 'alignment'"):
        pairwise_agreement(ls, "alignment")


def _ratings(seed, n_items=60, n_raters=5, missing=0.3):
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=n_items)
    R = np.clip(np.round(3 + truth[:, None] + rng.normal(0, 1.0, (n_items, n_raters))), 1, 5)
    R[rng.random(R.shape) < missing] = np.nan
    return R


def _np_agreement(R):
    """Independent reference (item-pair sign matrices) of the pooled pairwise agreement."""
    agree = total = 0.0
    for a, b in itertools.combinations(range(R.shape[1]), 2):
        ok = ~np.isnan(R[:, a]) & ~np.isnan(R[:, b])
        x, y = R[ok, a], R[ok, b]
        s = np.sign(x[:, None] - x[None, :]) * np.sign(y[:, None] - y[None, :])
        agree += (s > 0).sum() / 2
        total += (s != 0).sum() / 2
    return agree / total if total else np.nan


def _scipy_loo(R, min_items=3):
    """Independent reference of leave-one-rater-out with scipy's tau-b, tau-c and Spearman."""
    out = {"kendall_tau_b": [], "kendall_tau_c": [], "spearman": []}
    for r in range(R.shape[1]):
        others = np.delete(R, r, axis=1)
        has = (~np.isnan(others)).sum(1) > 0
        sel = ~np.isnan(R[:, r]) & has
        if sel.sum() < min_items:
            continue
        own, rest = R[sel, r], np.nanmean(others[sel], axis=1)
        if np.ptp(own) == 0 or np.ptp(rest) == 0:
            continue
        out["kendall_tau_b"].append(st.kendalltau(own, rest).statistic)
        out["kendall_tau_c"].append(st.kendalltau(own, rest, variant="c").statistic)
        out["spearman"].append(st.spearmanr(own, rest).statistic)
    return {k: np.mean(v) if v else np.nan for k, v in out.items()}


@pytest.mark.parametrize("seed", range(3))
def test_vectorized_ceiling_equals_the_loop_over_resampled_matrices(seed):
    """Every resample of the one (weighted) implementation against independent computations on
    the resampled matrix: numpy sign matrices, scipy, the krippendorff package."""
    krippendorff = pytest.importorskip("krippendorff")
    from judgenet.labels import agreement as ag
    from judgenet.stats import _group_index, _resample_indices, resample_weights

    R = _ratings(seed)
    B = 150
    W = resample_weights(R.shape[0], None, B, seed)
    fast = ag._ceiling_resamples(R, W, seed)
    blocks, rng = _group_index(R.shape[0], None), np.random.default_rng(seed)
    ref = {k: [] for k in fast}
    # split-half: splits drawn once on R (as for the point value), resamples reuse their items' splits
    m = (~np.isnan(R)).sum(1)
    Rk, mk = R[m >= 2], m[m >= 2]
    keep_pos = np.cumsum(m >= 2) - 1
    srng = np.random.default_rng(seed)
    halves = []
    for _ in range(10):
        keys = srng.random(Rk.shape)
        keys[np.isnan(Rk)] = np.inf
        v = np.take_along_axis(Rk, np.argsort(keys, axis=1), axis=1)
        pos = np.arange(Rk.shape[1])[None, :]
        first, second = pos < (mk // 2)[:, None], (pos >= (mk // 2)[:, None]) & (pos < mk[:, None])
        v0 = np.nan_to_num(v)
        halves.append(((v0 * first).sum(1) / first.sum(1), (v0 * second).sum(1) / second.sum(1)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(B):
            idx = _resample_indices(blocks, rng)
            M = R[idx]
            ref["pairwise_agreement"].append(_np_agreement(M))
            loo = _scipy_loo(M)
            for k in ("kendall_tau_b", "kendall_tau_c", "spearman"):
                ref[f"loo_{k}"].append(loo[k])
            ref["alpha_interval"].append(krippendorff.alpha(reliability_data=M.T, level_of_measurement="interval"))
            ref["alpha_ordinal"].append(krippendorff.alpha(reliability_data=M.T, level_of_measurement="ordinal"))
            rows = keep_pos[idx[m[idx] >= 2]]
            rs = [stats.spearman(h1[rows], h2[rows]) for h1, h2 in halves
                  if np.ptp(h1[rows]) > 0 and np.ptp(h2[rows]) > 0]
            ref["split_half_spearman_brown"].append(ag.spearman_brown(np.mean(rs)) if rs else np.nan)
    for k, v in ref.items():
        np.testing.assert_allclose(fast[k], v, rtol=1e-10, atol=1e-12, err_msg=k)
    # the point value of the vectorized split-half is the matrix function's
    np.testing.assert_allclose(ag._boot_split_half(R, np.ones((1, R.shape[0])), seed)[0], ag._split_half(R, seed),
                               rtol=1e-12)


def test_rater_ceiling_vectorized_and_loop_paths_agree(monkeypatch):
    from judgenet.labels import agreement as ag

    R = _ratings(7, n_items=40, n_raters=4, missing=0.0)
    fast = ag.rater_ceiling(R, "q", n_resamples=100, seed=1)
    monkeypatch.setattr(ag, "VECTORIZE_MAX_N", 10)  # 40 items > 10: the loop path
    slow = ag.rater_ceiling(R, "q", n_resamples=100, seed=1)
    for k in ag.CEILING_STATS:
        assert fast[k] == pytest.approx(slow[k], rel=1e-12)
        if k != "split_half_spearman_brown":  # the loop redraws the splits in every resample
            assert (fast[f"{k}_low"], fast[f"{k}_high"]) == pytest.approx((slow[f"{k}_low"], slow[f"{k}_high"]),
                                                                         rel=1e-10)


def test_rater_ceiling_in_blocks_and_with_all_pair_tables_at_once_equals_one_block_pair_by_pair(monkeypatch):
    """The bounded-memory path (resample weights in blocks of one or a few resamples; every rater pair's
    contingency table from one sparse product) gives the same numbers as one block, pair by pair; the
    agreement counts are whole numbers, so they are equal exactly. Both are checked against brute force above."""
    from judgenet.labels import agreement as ag

    R = _ratings(11, n_items=70, n_raters=6, missing=0.4)
    W = np.vstack(list(ag.resample_weight_blocks(R.shape[0], None, 50, 3)))
    batched = ag._boot_agreement_counts(R, W)
    fast = ag.rater_ceiling(R, "q", n_resamples=50, seed=3)
    monkeypatch.setattr(ag, "MAX_TABLE_VALUES", 0)  # one rater pair at a time (weighted_kendall_counts)
    assert ag._pair_tables(R, ag._rater_pairs(R)) is None
    looped = ag._boot_agreement_counts(R, W)
    np.testing.assert_array_equal(batched[0], looped[0])
    np.testing.assert_array_equal(batched[1], looped[1])
    assert batched[2] == looped[2] == 15
    monkeypatch.setattr(ag, "BLOCK_VALUES", 150)  # one resample per block
    slow = ag.rater_ceiling(R, "q", n_resamples=50, seed=3)
    assert fast.pop("question") == slow.pop("question") == "q"
    for k, v in fast.items():
        assert v == pytest.approx(slow[k], rel=1e-12, nan_ok=True), k


def test_rater_ceiling_of_continuous_scores_uses_the_pair_by_pair_counts():
    from judgenet.labels import agreement as ag

    rng = np.random.default_rng(5)
    R = rng.normal(size=(40, 4)).round(2)
    R[rng.random(R.shape) < 0.2] = np.nan
    assert ag._pair_tables(R, ag._rater_pairs(R)) is None  # more than MAX_TABLE_VALUES distinct scores
    assert ag.pairwise_agreement(R) == pytest.approx(_np_agreement(R), rel=1e-12)


@pytest.mark.parametrize("ranks", [True, False])
def test_correlation_through_the_contingency_table_equals_weighted_corr(ranks):
    from judgenet import stats
    from judgenet.labels import agreement as ag

    rng = np.random.default_rng(2)
    a, b = rng.integers(1, 6, 300).astype(float), rng.integers(2, 11, 300) / 2.0
    W = np.vstack(list(stats.resample_weight_blocks(300, None, 40, 0)))
    W[0] = 0.0
    W[0, :3] = 1.0  # a resample with too few values: NaN in both
    W[1] = 0.0
    W[1, a == 3] = 1.0  # a constant: NaN
    np.testing.assert_allclose(ag._corr(a, b, W, ranks), stats.weighted_corr(a, b, W, ranks=ranks), rtol=1e-10,
                               atol=1e-12)
    assert np.isnan(ag._corr(a, b, W, ranks)[1])


def test_kendall_counts_through_the_contingency_table_equal_weighted_kendall_counts():
    from judgenet import stats
    from judgenet.labels import agreement as ag

    rng = np.random.default_rng(4)
    a, b = rng.integers(1, 6, 200).astype(float), rng.integers(2, 15, 200) / 3.0
    W = np.vstack(list(stats.resample_weight_blocks(200, None, 30, 1)))
    got, want = ag._table_kendall_counts(ag._table(a, b, W)[0]), stats.weighted_kendall_counts(a, b, W)
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
