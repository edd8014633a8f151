"""Conformal intervals calibrated on held-out generators: quantile rule, coverage where the truth is
known, per-generator means, JSON round trip, pairwise preferences, errors."""
import json
import math

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression

from judgenet.errors import ConfigError, JudgenetError
from judgenet.evaluation.conformal import Calibration, ConformalPredictor, conformal_quantile, score_intervals
from judgenet.evaluation.conformal_pairs import cross_conformal_pairs
from judgenet.evaluation.coverage import coverage_study

# one BLAS/OpenMP thread: with torch's OpenMP runtime loaded beside scikit-learn's (any earlier test that imports
# torch), multi-threaded HistGradientBoosting fits stall for seconds each on a busy machine
pytestmark = pytest.mark.usefixtures("one_thread")


def _world(n_groups, n_per, tau, seed, beta=(1.0, -0.5)):
    """y = x·β + b_g + ε, b_g ~ N(0, τ²) shared by a group's items (generator shift), ε ~ N(0, 1)."""
    rng = np.random.default_rng(seed)
    beta = np.asarray(beta)
    X = rng.normal(size=(n_groups * n_per, beta.size))
    g = np.repeat([f"g{i}" for i in range(n_groups)], n_per)
    b = rng.normal(0, tau, n_groups)
    y = X @ beta + np.repeat(b, n_per) + rng.normal(size=X.shape[0])
    return X, y, g, np.repeat(b, n_per)


def test_quantile_item_rule_matches_order_statistic():
    s = np.array([0.3, 0.1, 0.9, 0.5, 0.7, 0.2, 0.8, 0.4, 0.6])  # n = 9
    # ⌈(9+1)·0.8⌉ = 8 → the 8th smallest
    assert conformal_quantile(s, 0.8) == pytest.approx(0.8)
    assert conformal_quantile(s, 0.95) == math.inf  # ⌈9.5⌉ = 10 > 9


def test_quantile_group_rules_by_enumeration():
    # group a has one score, group b three: each group weighs the same
    s = np.array([5.0, 1.0, 2.0, 3.0])
    g = np.array(["a", "b", "b", "b"])
    # conservative: weights 1/3 (a), 1/9 each (b), 1/3 at +inf; sorted 1,2,3,5 → cum 1/9, 2/9, 3/9, 6/9
    assert conformal_quantile(s, 0.3, g, method="conservative") == 3.0
    assert conformal_quantile(s, 0.6, g, method="conservative") == 5.0
    assert conformal_quantile(s, 0.7, g, method="conservative") == math.inf
    # balanced: weights (4/5)·(1/2) for a, (4/5)·(1/6) each for b → cum 2/15, 4/15, 6/15, 12/15
    assert conformal_quantile(s, 0.4, g) == 3.0
    assert conformal_quantile(s, 0.41, g) == 5.0
    assert conformal_quantile(s, 0.81, g) == math.inf
    # equal group sizes: balanced = the item rule's weights n/(n+1)·1/n
    s2, g2 = np.arange(10.0), np.repeat(["a", "b"], 5)
    for c in (0.5, 0.7, 0.85):
        assert conformal_quantile(s2, c, g2) == conformal_quantile(s2, c)


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5, -0.1])
def test_quantile_rejects_bad_coverage(bad):
    with pytest.raises(ConfigError):
        conformal_quantile([1.0, 2.0], bad)


def test_item_and_group_coverage_on_new_groups_where_truth_is_known():
    """Known model: the ideal 90% interval for an item of a NEW group is ±1.645·sqrt(τ² + 1)."""
    tau = 1.0
    item_cov, widths, group_in = [], [], []
    for seed in range(6):
        X, y, g, _ = _world(40, 25, tau, seed)
        cal = np.isin(g, [f"g{i}" for i in range(30)])
        cp = ConformalPredictor(LinearRegression(), coverage=0.9).fit(X[cal], y[cal], g[cal])
        p, lo, hi = cp.predict_interval(X[~cal])
        item_cov.append(np.mean((y[~cal] >= lo) & (y[~cal] <= hi)))
        widths.append(np.mean(hi - lo))
        t = cp.predict_group_interval(X[~cal], g[~cal])
        hm = {k: y[~cal][g[~cal] == k].mean() for k in t["group"]}
        group_in += [lo_ <= hm[k] <= hi_ for k, lo_, hi_ in zip(t["group"], t["pred_mean_low"], t["pred_mean_high"])]
    ideal = 2 * 1.6449 * math.sqrt(tau ** 2 + 1.0)
    assert abs(np.mean(item_cov) - 0.9) < 0.04, item_cov
    assert abs(np.mean(widths) / ideal - 1) < 0.15, (np.mean(widths), ideal)
    # 60 new groups: per-generator mean intervals calibrated across generators
    assert np.mean(group_in) >= 0.8, np.mean(group_in)


def test_item_level_calibration_would_undercover_generator_shift():
    """A model that can recognise training generators (here a per-generator code in the features)
    absorbs their shift: residuals of training items miss it and under-cover on new generators;
    calibration on held-out generators does not."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    X, y, g, _ = _world(30, 30, 1.5, 3)
    code = np.repeat(np.random.default_rng(9).uniform(size=30), 30)
    X = np.c_[X, code]
    cal = np.isin(g, [f"g{i}" for i in range(20)])
    est = HistGradientBoostingRegressor(max_iter=60, random_state=0)
    m = clone(est).fit(X[cal], y[cal])
    naive_q = conformal_quantile(np.abs(y[cal] - m.predict(X[cal])), 0.9)
    naive = np.mean(np.abs(y[~cal] - m.predict(X[~cal])) <= naive_q)
    cp = ConformalPredictor(est).fit(X[cal], y[cal], g[cal])
    _, lo, hi = cp.predict_interval(X[~cal])
    held = np.mean((y[~cal] >= lo) & (y[~cal] <= hi))
    assert naive < 0.75 and held > 0.85, (naive, held)


def test_group_interval_shrinks_with_group_size_but_not_below_the_shift():
    X, y, g, _ = _world(20, 20, 0.5, 1)
    cp = ConformalPredictor(LinearRegression()).fit(X, y, g)
    cal = cp.calibration_
    assert cal.group_scale(5) > cal.group_scale(500) >= math.sqrt(cal.tau2)
    # independent check of the moments: within-group variance of the out-of-generator residuals
    r = y - cp.oof_pred_
    means = {k: r[g == k].mean() for k in np.unique(g)}
    within = sum(((r[g == k] - means[k]) ** 2).sum() for k in means) / (r.size - len(means))
    assert cal.within_var == pytest.approx(within, rel=1e-10)


@pytest.mark.parametrize("difficulty", ["residual", "spread"])
def test_difficulty_normalization_adapts_width_to_heteroscedastic_noise(difficulty):
    rng = np.random.default_rng(0)
    n_g, n_per = 24, 40
    X = rng.uniform(-1, 1, size=(n_g * n_per, 2))
    g = np.repeat(np.arange(n_g).astype(str), n_per)
    noise = 0.1 + 2.0 * (X[:, 0] > 0)  # noisy where x0 > 0
    y = X @ [1.0, 1.0] + rng.normal(size=X.shape[0]) * noise
    from sklearn.ensemble import HistGradientBoostingRegressor

    est = HistGradientBoostingRegressor(max_iter=30, random_state=0)
    cp = ConformalPredictor(est, difficulty=difficulty, n_members=4).fit(X[:800], y[:800], g[:800])
    _, lo, hi = cp.predict_interval(X[800:])
    w = hi - lo
    assert w[X[800:, 0] > 0].mean() > 1.5 * w[X[800:, 0] <= 0].mean()
    assert np.mean((y[800:] >= lo) & (y[800:] <= hi)) > 0.8


def test_calibration_json_round_trip_and_score_columns():
    X, y, g, _ = _world(10, 12, 0.5, 2)
    cp = ConformalPredictor(LinearRegression(), coverage=0.8).fit(X, y, g)
    d = json.loads(json.dumps(cp.calibration_dict()))
    cal = Calibration.from_dict(d)
    p, lo, hi = cp.predict_interval(X, coverage=0.7)
    per_image, per_gen = score_intervals(p, g, d, coverage=0.7)
    np.testing.assert_allclose(per_image["pred_low"], lo, rtol=0, atol=1e-12)
    np.testing.assert_allclose(per_image["pred_high"], hi, rtol=0, atol=1e-12)
    ref = cp.predict_group_interval(X, g, coverage=0.7)
    np.testing.assert_allclose(per_gen["pred_mean_low"], ref["pred_mean_low"], atol=1e-12)
    assert list(per_gen.columns) == ["generator", "n_images", "pred_mean", "pred_mean_low", "pred_mean_high",
                                     "coverage"]
    assert cal.item_quantile(0.95) >= cal.item_quantile(0.7)
    with pytest.raises(ConfigError):
        Calibration.from_dict({"format": "other"})


def test_estimator_api_and_errors():
    cp = ConformalPredictor(LinearRegression(), coverage=0.8)
    assert clone(cp).get_params()["coverage"] == 0.8
    X, y, g, _ = _world(2, 10, 0.5, 0)
    with pytest.raises(ConfigError, match=">= 3 generators"):
        cp.fit(X, y, g)
    with pytest.raises(ConfigError, match="groups"):
        cp.fit(X, y)
    X, y, g, _ = _world(4, 10, 0.5, 0)
    y[0] = np.nan
    with pytest.raises(JudgenetError):
        cp.fit(X, y, g)
    with pytest.raises(ConfigError, match="difficulty"):
        ConformalPredictor(LinearRegression(), difficulty="magic").fit(X, np.nan_to_num(y), g)


def test_coverage_study_never_calibrates_on_the_scored_generator():
    X, y, g, b = _world(8, 15, 0.3, 4)
    y[g == "g7"] += 50.0  # one wildly shifted generator: it must not widen anyone's calibration...
    s = coverage_study(LinearRegression(), X, y, g)
    pg = s.per_generator.set_index("generator")
    assert pg.loc["g7", "item_coverage"] == 0.0  # ...and nobody's intervals could have anticipated it
    assert "g7" in s.summary["generators_below"]
    assert s.summary["n_generators"] == 8 and len(s.predictions) == y.size


class _LogisticBT:
    """Minimal pairwise estimator: utility w·x, P(a ≻ b) = σ(u_a − u_b) (independent of judgenet's)."""

    def __init__(self):
        self.clf = LogisticRegression(fit_intercept=False, C=10.0)

    def get_params(self, deep=True):
        return {}

    def set_params(self, **p):
        return self

    def fit(self, X, pairs):
        ia, ib, p = pairs[:, 0].astype(int), pairs[:, 1].astype(int), pairs[:, 2]
        D = X[ia] - X[ib]
        self.clf.fit(np.vstack([D, D]), np.r_[np.ones(len(D)), np.zeros(len(D))], sample_weight=np.r_[p, 1 - p])
        return self

    def predict_proba_pairs(self, X, ia, ib):
        return 1 / (1 + np.exp(-(X[ia] - X[ib]) @ self.clf.coef_.ravel()))


def test_pairwise_intervals_cover_observed_preference_shares():
    rng = np.random.default_rng(0)
    n_items, n_votes = 600, 5
    X = rng.normal(size=(n_items, 3))
    gens = np.repeat(np.arange(12).astype(str), 50)
    util = X @ [1.0, -1.0, 0.5]
    pairs = []
    for _ in range(1500):
        a, b = rng.choice(n_items, 2, replace=False)
        p = 1 / (1 + np.exp(-(util[a] - util[b])))
        pairs.append([a, b, rng.binomial(n_votes, p) / n_votes])
    pairs = np.array(pairs, dtype=np.float64)
    cal_rows = np.isin(gens[pairs[:, 0].astype(int)], list("0123456789")[:8]) & \
        np.isin(gens[pairs[:, 1].astype(int)], list("0123456789")[:8])
    cal, oof = cross_conformal_pairs(_LogisticBT(), X, pairs[cal_rows], gens, coverage=0.9)
    assert np.isfinite(oof).all() and len(oof) == cal_rows.sum()
    test = ~cal_rows
    model = _LogisticBT().fit(X, pairs[cal_rows])
    p_hat = model.predict_proba_pairs(X, pairs[test, 0].astype(int), pairs[test, 1].astype(int))
    lo, hi = cal.interval(p_hat)
    cov = np.mean((pairs[test, 2] >= lo) & (pairs[test, 2] <= hi))
    assert 0.85 <= cov <= 0.96, cov
    assert (lo >= 0).all() and (hi <= 1).all()


def test_coverage_study_markdown_names_the_failures():
    X, y, g, _ = _world(6, 10, 0.3, 5)
    y[g == "g5"] += 30.0
    head, body = coverage_study(LinearRegression(), X, y, g).to_markdown().split("\n\n", 1)
    assert "below 80%: g5." in head
    assert "item coverage" in body and body.count("\n") >= 6


def test_oof_coverage_study_equals_a_hand_computation():
    """The demo's cheap study: each generator's intervals from the other generators' out-of-fold residuals.
    Equal group sizes make the balanced item quantile the ⌈(n+1)c⌉-th order statistic; the generator-mean rule
    is the K+1 rule on |e_h| / sqrt(τ² + s_w²/n_h) — all recomputed here by hand."""
    from judgenet.evaluation.coverage import oof_coverage_study

    X, y, g, _ = _world(11, 20, 0.5, 7)
    rng = np.random.default_rng(1)
    oof = y + rng.normal(0, 1.0, y.size) + np.repeat(rng.normal(0, 0.4, 11), 20)  # stand-in held-out predictions
    c = 0.8
    s = oof_coverage_study(y, oof, g, coverage=c)
    pg = s.per_generator.set_index("generator")
    for name in np.unique(g):
        te, tr = g == name, g != name
        r = (y - oof)[tr]
        q = np.sort(np.abs(r))[math.ceil((r.size + 1) * c) - 1]
        inside = np.abs(y[te] - oof[te]) <= q
        assert pg.loc[name, "item_coverage"] == pytest.approx(inside.mean(), abs=1e-12)
        assert pg.loc[name, "item_width"] == pytest.approx(2 * q, abs=1e-12)
        gh = g[tr]
        means = np.array([r[gh == h].mean() for h in np.unique(gh)])
        within = sum(((r[gh == h] - r[gh == h].mean()) ** 2).sum() for h in np.unique(gh)) / (r.size - means.size)
        tau2 = max(np.mean(means ** 2) - within / 20, 0.0)
        d = math.sqrt(tau2 + within / 20)
        qg = np.sort(np.abs(means) / d)[math.ceil((means.size + 1) * c) - 1]
        assert pg.loc[name, "mean_width"] == pytest.approx(2 * qg * d, rel=1e-10)
        assert pg.loc[name, "n"] == 20
        assert pg.loc[name, "mean_inside"] == (abs(y[te].mean() - oof[te].mean()) <= qg * d)
    assert s.summary["pooled_item_coverage"] == pytest.approx(pg["item_coverage"].mean(), abs=1e-12)
    assert "not nested" in s.to_markdown()
