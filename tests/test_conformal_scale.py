"""Intervals for predictors that predict in other units than the labels (the ``anchored`` family predicts in raw-MID
units): the scale line fitted on held-out-generator predictions, its storage, the nested coverage where the truth
is known, and ``train --model anchored`` → ``score`` end to end."""
import json
import logging
import math
from typing import ClassVar

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, Ridge

from judgenet.errors import ConfigError
from judgenet.evaluation.conformal import (
    Calibration,
    ConformalPredictor,
    calibration_from_residuals,
    interval_from_calibration,
    scale_line,
    score_intervals,
)
from judgenet.evaluation.coverage import coverage_study, oof_coverage_study
from judgenet.predictors.anchored import AnchoredRegressor

pytestmark = pytest.mark.usefixtures("one_thread")

A0, B0, TAU, NOISE = 3.0, 0.02, 0.2, 0.5


def _world(n_gen=10, n_per=60, seed=0):
    """Known truth: y = A0 + B0·z + s_g + ε with z the raw metric (large units, generator-dependent location),
    s_g ~ N(0, TAU²) the generator shift, ε ~ N(0, NOISE²). X = [z, an irrelevant column]."""
    rng = np.random.default_rng(seed)
    g = np.repeat([f"g{i:02d}" for i in range(n_gen)], n_per)
    z = np.repeat(rng.normal(0, 30, n_gen), n_per) + rng.normal(0, 20, g.size)
    y = A0 + B0 * z + np.repeat(rng.normal(0, TAU, n_gen), n_per) + rng.normal(0, NOISE, g.size)
    return np.column_stack([z, rng.normal(size=g.size)]), y, g


def _anchor_only():
    return AnchoredRegressor(anchor=0, shrink=0.0)  # predicts z itself (column 0): in raw units, not on the label scale


# ---------------------------------------------------------------------------------------------------------------
# (a) nested coverage where the truth is known
# ---------------------------------------------------------------------------------------------------------------
def test_rescaled_intervals_cover_at_nominal_where_the_truth_is_known_and_raw_units_do_not():
    X, y, g = _world(n_gen=16, n_per=40)
    oracle_width = 2 * 1.6449 * math.sqrt(TAU ** 2 + NOISE ** 2)  # 90% width of the true residual s_g + ε

    def good(s):  # what calibrated intervals of the human score must satisfy (issue 15's ±3 points pooled)
        return (abs(s["pooled_item_coverage"] - 0.9) <= 0.03
                and 0.8 * oracle_width <= s["mean_item_width"] <= 1.25 * oracle_width)

    auto = coverage_study(_anchor_only(), X, y, g, coverage=0.9)  # rescale="auto" reads Family.label_units
    raw = coverage_study(_anchor_only(), X, y, g, coverage=0.9, rescale=False)
    sa, sr = auto.summary, raw.summary
    assert good(sa), sa
    assert "line fitted on the calibration generators" in auto.to_markdown()
    # the same checks fail in raw units (the bug this fixes): conformal validity still holds on average, but the
    # intervals are ~40x too wide and a generator's coverage depends on where its raw metric lies
    assert not good(sr)
    assert sr["mean_item_width"] > 20 * oracle_width
    assert sr["min_generator_coverage"] < 0.5
    # rescaled: no generator far below (its shift is real: ~0.7 is the expected low end for 16 generators), and
    # the per-generator mean intervals contain the human means
    assert sa["min_generator_coverage"] >= 0.6
    assert sa["group_coverage"] >= 0.8
    p = auto.predictions
    assert ((p["low"] <= p["pred"]) & (p["pred"] <= p["high"])).all()
    # label-scale predictions: close to the true line A0 + B0·z (each fold's own line; the noise sd is 0.5)
    assert np.abs(p["pred"] - (A0 + B0 * X[p["item"], 0])).mean() < 0.1


# ---------------------------------------------------------------------------------------------------------------
# (b) the stored line is the least-squares line of y on the out-of-generator predictions
# ---------------------------------------------------------------------------------------------------------------
def test_stored_line_equals_polyfit_on_the_out_of_generator_predictions():
    X, y, g = _world(n_gen=6, n_per=30, seed=1)
    cp = ConformalPredictor(_anchor_only(), coverage=0.9).fit(X, y, g)
    assert cp.rescale_ is True
    assert type(cp.estimator_) is AnchoredRegressor  # the bare fitted model, in raw units
    np.testing.assert_array_equal(cp.oof_pred_, X[:, 0])  # shrink 0: every fold predicts z itself
    b, a = np.polyfit(X[:, 0], y, 1)  # independent fit on the same out-of-fold predictions
    cal = cp.calibration_
    assert cal.scale == pytest.approx((a, b), rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(cal.scores, np.abs(y - (a + b * X[:, 0])), rtol=1e-10, atol=1e-12)
    e = np.array([np.mean(y[g == h] - (a + b * X[g == h, 0])) for h in cal.group_names])
    np.testing.assert_allclose(cal.group_errors, e, rtol=1e-9, atol=1e-12)
    # predict is on the label scale, centred in predict_interval's interval; estimator_ stays in raw units
    Xn, _, _ = _world(n_gen=2, n_per=5, seed=9)
    pred, lo, hi = cp.predict_interval(Xn)
    np.testing.assert_allclose(pred, a + b * Xn[:, 0], rtol=1e-10)
    np.testing.assert_allclose(cp.predict(Xn), pred)
    np.testing.assert_array_equal(cp.estimator_.predict(Xn), Xn[:, 0])
    q = np.sort(cal.scores)[math.ceil((y.size + 1) * 0.9) - 1]  # equal group sizes: the order statistic
    np.testing.assert_allclose(hi - pred, q, rtol=1e-10)
    np.testing.assert_allclose(pred - lo, q, rtol=1e-10)
    grp = cp.predict_group_interval(Xn, ["n0"] * 5 + ["n1"] * 5)
    np.testing.assert_allclose(grp["pred_mean"], [pred[:5].mean(), pred[5:].mean()], rtol=1e-10)
    assert (grp["pred_mean_low"] <= grp["pred_mean"]).all() and (grp["pred_mean"] <= grp["pred_mean_high"]).all()
    # the calibration from residuals alone (the demo's path) is the same calibration
    alone = calibration_from_residuals(y, cp.oof_pred_, g, rescale=True)
    assert alone.scale == cal.scale
    np.testing.assert_array_equal(alone.scores, cal.scores)


def test_oof_study_fits_each_generators_line_on_the_other_generators():
    X, y, g = _world(n_gen=6, n_per=20, seed=2)
    oof = X[:, 0] + np.random.default_rng(3).normal(0, 5, y.size)
    st = oof_coverage_study(y, oof, g, rescale=True, coverage=0.8)
    pg = st.per_generator.set_index("generator")
    for h in np.unique(g):
        te, tr = g == h, g != h
        b, a = np.polyfit(oof[tr], y[tr], 1)
        m = a + b * oof[te]
        q = np.sort(np.abs(y[tr] - (a + b * oof[tr])))[math.ceil((tr.sum() + 1) * 0.8) - 1]
        assert pg.loc[h, "pred_mean"] == pytest.approx(m.mean(), rel=1e-10)
        assert pg.loc[h, "item_coverage"] == pytest.approx(np.mean(np.abs(y[te] - m) <= q), abs=1e-12)
        assert pg.loc[h, "item_width"] == pytest.approx(2 * q, rel=1e-10)


def test_auto_reads_the_family_flag_and_rescale_is_validated_in_fit():
    from judgenet.predictors.recipes import FAMILIES, column_pipeline, make_predictor

    assert FAMILIES["anchored"].label_units is False
    assert FAMILIES["raw"].label_units is False  # a raw feature is in its own units too
    assert all(f.label_units for n, f in FAMILIES.items() if n not in ("anchored", "raw"))
    X, y, g = _world(n_gen=4, n_per=10, seed=4)
    assert ConformalPredictor(_anchor_only()).fit(X, y, g).rescale_ is True
    assert ConformalPredictor(column_pipeline([0, 1], _anchor_only())).fit(X, y, g).rescale_ is True
    assert ConformalPredictor(Ridge()).fit(X, y, g).rescale_ is False
    assert ConformalPredictor(make_predictor("ridge")).fit(X, y, g).calibration_.scale is None
    assert ConformalPredictor(Ridge(), rescale=True).fit(X, y, g).calibration_.scale is not None
    cp = ConformalPredictor(_anchor_only(), rescale="sometimes")  # sklearn: accepted in __init__, refused in fit
    with pytest.raises(ConfigError, match="rescale must be"):
        cp.fit(X, y, g)


@pytest.mark.parametrize("case", ["decreasing", "constant"])
def test_a_model_that_does_not_rise_with_the_labels_gets_the_flat_line(case, caplog):
    """Slope ≤ 0 (or constant predictions): the constrained least-squares line is y = mean(y); the interval is
    mean(y) ± the quantile of |y − mean(y)| — still valid, uninformative, with a warning."""
    rng = np.random.default_rng(5)
    g = np.repeat([f"g{i}" for i in range(5)], 8)
    y = rng.normal(size=g.size)
    pred = -3.0 * y + rng.normal(0, 0.1, y.size) if case == "decreasing" else np.full(y.size, 7.0)
    with caplog.at_level(logging.WARNING, logger="judgenet.evaluation.calibration"):
        cal = calibration_from_residuals(y, pred, g, rescale=True, coverage=0.8)
    assert "flat line" in caplog.text
    assert cal.scale == (pytest.approx(y.mean(), abs=1e-12), 0.0)
    lo, hi = interval_from_calibration([100.0, -100.0], None, cal)
    q = np.sort(np.abs(y - y.mean()))[math.ceil((y.size + 1) * 0.8) - 1]
    np.testing.assert_allclose(lo, y.mean() - q, rtol=1e-10)
    np.testing.assert_allclose(hi, y.mean() + q, rtol=1e-10)
    assert scale_line([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]) == pytest.approx((0.0, 2.0))


# ---------------------------------------------------------------------------------------------------------------
# (c) storage
# ---------------------------------------------------------------------------------------------------------------
def test_calibration_dict_round_trip_with_and_without_the_line():
    X, y, g = _world(n_gen=4, n_per=10, seed=6)
    scaled = ConformalPredictor(_anchor_only(), coverage=0.8).fit(X, y, g).calibration_
    d = json.loads(json.dumps(scaled.to_dict()))
    assert d["format"] == "judgenet-conformal/2" and set(d["scale"]) == {"intercept", "slope"}
    back = Calibration.from_dict(d)
    assert back.scale == scaled.scale and back.coverage == 0.8
    np.testing.assert_array_equal(back.scores, scaled.scores)
    z = X[:5, 0]
    for a, b in zip(interval_from_calibration(z, None, back), interval_from_calibration(z, None, scaled)):
        np.testing.assert_array_equal(a, b)
    # without a line: format 1 with exactly the keys written before the line existed (older readers still load it)
    plain = ConformalPredictor(LinearRegression()).fit(X, y, g).calibration_.to_dict()
    assert plain["format"] == "judgenet-conformal/1" and "scale" not in plain
    assert set(plain) == {"format", "coverage", "method", "difficulty", "sigma_floor", "tau2", "within_var",
                          "scores", "groups", "group_names", "group_sizes", "group_errors"}
    old = {k: v for k, v in plain.items() if k != "method"}  # an old stored dict (also predates ``method``)
    cal = Calibration.from_dict(old)
    assert cal.scale is None and cal.method == "balanced"
    np.testing.assert_array_equal(cal.to_label_scale(z), z)
    # inconsistent dicts are refused with a one-line error
    for bad, msg in [({**d, "scale": None}, "without a valid scale line"),
                     ({**d, "scale": {"intercept": 0.0, "slope": -1.0}}, "slope >= 0"),
                     ({**plain, "scale": {"intercept": 0.0, "slope": 1.0}}, "only format"),
                     ({**plain, "format": "judgenet-conformal/9"}, "not a judgenet conformal")]:
        with pytest.raises(ConfigError, match=msg):
            Calibration.from_dict(bad)


def test_score_intervals_with_a_line_add_the_label_scale_prediction():
    X, y, g = _world(n_gen=4, n_per=10, seed=7)
    cal = ConformalPredictor(_anchor_only(), coverage=0.8).fit(X, y, g).calibration_
    a, b = cal.scale
    z, gens = X[:12, 0], np.repeat(["u", "v", "w"], 4)
    img, gen = score_intervals(z, gens, cal.to_dict())
    assert list(img.columns) == ["pred", "pred_label_scale", "pred_low", "pred_high"]
    np.testing.assert_array_equal(img["pred"], z)
    np.testing.assert_allclose(img["pred_label_scale"], a + b * z, rtol=1e-12)
    assert ((img["pred_low"] <= img["pred_label_scale"]) & (img["pred_label_scale"] <= img["pred_high"])).all()
    np.testing.assert_allclose(gen["pred_mean"], [np.mean(a + b * z[gens == h]) for h in "uvw"], rtol=1e-12)
    plain = ConformalPredictor(LinearRegression()).fit(X, y, g).calibration_
    assert "pred_label_scale" not in score_intervals(z, gens, plain)[0]


# ---------------------------------------------------------------------------------------------------------------
# (d) train --model anchored → score
# ---------------------------------------------------------------------------------------------------------------
def test_train_anchored_then_score_gives_label_scale_intervals(userdata, tmp_path):
    import judgenet as jn
    from judgenet.evaluation.conformal import conformal_quantile

    cache = tmp_path / "cache"
    res = jn.train(userdata / "labels.csv", images=userdata / "gen", reference=userdata / "real",
                   out=tmp_path / "pred", model="anchored", question="realism", n_resamples=20, cache_dir=cache,
                   backbones=["tiny"])
    meta = json.loads((res.predictor / "meta.json").read_text())
    d = meta["extra"]["conformal"]
    assert d["format"] == "judgenet-conformal/2"
    a, b = d["scale"]["intercept"], d["scale"]["slope"]
    gens = sorted(p for p in (userdata / "gen").iterdir() if p.is_dir())
    out = jn.score(gens, predictor=res.predictor, prompts=userdata / "prompts.csv", out=tmp_path / "s",
                   n_resamples=20, cache_dir=cache, coverage=0.8)
    pi, pg = out.per_image, out.per_generator
    raw = pi["predicted_realism"].to_numpy()
    assert np.isfinite(raw).all()
    lab = pi["pred_label_scale"].to_numpy()
    np.testing.assert_allclose(lab, a + b * raw, rtol=1e-12)
    ok = pi["pred_low"].notna().to_numpy()  # intervals spanning the whole label scale are left empty (score)
    assert ok.any() and ((pi["pred_low"] <= lab) & (lab <= pi["pred_high"]))[ok].all()
    # independent recomputation from the stored scores: equal generator sizes → balanced quantile = order statistic
    s, sizes = np.asarray(d["scores"]), np.asarray(d["group_sizes"])
    assert (sizes == sizes[0]).all()
    q = np.sort(s)[math.ceil((s.size + 1) * 0.8) - 1]
    assert q == pytest.approx(conformal_quantile(s, 0.8, groups=d["groups"]), rel=1e-12)
    # bounds past the training ratings' range are clipped to it (score keeps the label scale)
    lo_r, hi_r = meta["extra"]["label_range"]
    np.testing.assert_allclose(pi["pred_high"][ok], np.minimum(lab + q, hi_r)[ok], rtol=1e-9)
    np.testing.assert_allclose(pi["pred_low"][ok], np.maximum(lab - q, lo_r)[ok], rtol=1e-9)
    # per generator: label-scale mean ± q_G·sqrt(τ² + s_w²/n), K+1 rule over the calibration generators
    e = np.abs(np.asarray(d["group_errors"])) / np.sqrt(d["tau2"] + d["within_var"] / sizes)
    qg = np.sort(e)[math.ceil((e.size + 1) * 0.8) - 1]
    for _, r in pg.iterrows():
        v = lab[pi["generator"].to_numpy() == r["generator"]]
        half = qg * math.sqrt(d["tau2"] + d["within_var"] / v.size)
        assert r["predicted_realism_label_scale"] == pytest.approx(v.mean(), rel=1e-9)
        if np.isfinite(r["predicted_realism_interval_low"]):  # empty when the interval spans the label scale
            assert r["predicted_realism_interval_low"] == pytest.approx(max(v.mean() - half, lo_r), rel=1e-9, abs=1e-12)
            assert r["predicted_realism_interval_high"] == pytest.approx(min(v.mean() + half, hi_r), rel=1e-9,
                                                                         abs=1e-12)
        assert r["interval_coverage"] == 0.8
    assert b > 0 and np.isfinite(qg) and np.isfinite(q)  # an informative line; finite intervals at 80%, K = 5
    cols = list(pg.columns)
    i = cols.index("predicted_realism_label_scale")
    assert cols[i + 1: i + 3] == ["predicted_realism_interval_low", "predicted_realism_interval_high"]


class _GroupSpy(LinearRegression):
    """LinearRegression whose fit requests ``generators=``/``prompts=`` (metadata routing, like ``anchored``) and
    records them."""

    __metadata_request__fit = {"generators": True, "prompts": True}
    seen: ClassVar[list] = []

    def fit(self, X, y, generators=None, prompts=None):
        _GroupSpy.seen.append((None if generators is None else sorted(set(generators)),
                               None if prompts is None else len(prompts)))
        return super().fit(X, y)


def test_calibration_folds_pass_the_training_parts_generators_and_prompts_like_evaluate():
    """The calibration models are fitted as the held-out evaluation fits them (``anchored`` selects its shrinkage
    on the training part's generators × prompts): each fold's fit sees the other generators only."""
    X, y, g = _world(n_gen=4, n_per=6, seed=8)
    prompts = np.tile(np.arange(6), 4)
    _GroupSpy.seen = []
    ConformalPredictor(_GroupSpy()).fit(X, y, g, prompts)
    names = sorted(set(g))
    assert [s for s, _ in _GroupSpy.seen[:4]] == [[h for h in names if h != out] for out in names]
    assert _GroupSpy.seen[4] == (names, y.size)  # the final model: every generator and prompt
    assert [n for _, n in _GroupSpy.seen[:4]] == [18] * 4


def test_a_coverage_study_says_the_flat_line_once_not_once_per_generator(caplog):
    from judgenet.evaluation.coverage import oof_coverage_study

    rng = np.random.default_rng(6)
    g = np.repeat([f"g{i}" for i in range(7)], 10)
    y = rng.normal(size=g.size)
    with caplog.at_level(logging.WARNING, logger="judgenet.evaluation"):
        oof_coverage_study(y, -2.0 * y + rng.normal(0, 0.1, y.size), g, rescale=True)
    flat = [r for r in caplog.records if "flat line" in r.getMessage()]
    assert len(flat) == 1 and "7 of 7 generators" in flat[0].getMessage()
