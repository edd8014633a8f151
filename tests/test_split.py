"""Generalization tools: the anchored (raw metric + shrunk correction) regressor and its use by the
held-out protocol (generators/prompts passed to fit)."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression

from judgenet.evaluation import evaluate
from judgenet.predictors.anchored import AnchoredRegressor, accepts_groups


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny fits only lose from threads


def data(seed=0, G=6, P=12, signal=1.0):
    """y = anchor signal + (signal x) another column + noise; column 2 is pure noise."""
    rng = np.random.default_rng(seed)
    gens = np.repeat([f"g{i}" for i in range(G)], P)
    prompts = np.tile([f"p{j}" for j in range(P)], G)
    a, b = rng.normal(size=(2, gens.size))
    y = a + signal * b + 0.5 * rng.normal(size=gens.size)
    X = np.c_[a + 0.8 * rng.normal(size=gens.size), b, rng.normal(size=gens.size)]
    return X, y, gens, prompts


def test_zero_shrink_is_the_raw_anchor_and_the_correction_is_in_anchor_units():
    X, y, gens, prompts = data()
    m = AnchoredRegressor(anchor=0, estimator=LinearRegression(), shrink=0.0).fit(X, y)
    b, a = np.polyfit(X[:, 0], y, 1)  # independent least squares
    assert m.correction_ is None and m.slope_ == pytest.approx(b, abs=1e-12)
    assert np.array_equal(m.predict(X), X[:, 0])  # exactly the raw metric: no per-fold offset
    full = AnchoredRegressor(anchor=0, estimator=LinearRegression(), shrink=1.0).fit(X, y)
    g = LinearRegression().fit(X, (y - a - b * X[:, 0]) / b)
    assert np.allclose(full.predict(X), X[:, 0] + g.predict(X), atol=1e-9)
    neg = AnchoredRegressor(anchor=0, estimator=LinearRegression()).fit(-X, y)  # anchor falls with y
    assert neg.shrink_ == 0.0 and np.array_equal(neg.predict(-X), -X[:, 0])


def test_auto_shrink_uses_a_supported_correction_and_drops_an_unsupported_one():
    X, y, gens, prompts = data(signal=1.0)
    good = AnchoredRegressor(anchor=0, estimator=LinearRegression()).fit(X, y, generators=gens, prompts=prompts)
    assert good.shrink_ > 0 and good.inner_scores_[good.shrink_] > good.inner_scores_[0.0]
    Xn, yn, _, _ = data(signal=0.0)
    Xn = Xn[:, [0, 2]]  # only the anchor and noise: the correction has no support
    from sklearn.ensemble import RandomForestRegressor

    null = AnchoredRegressor(anchor=0, estimator=RandomForestRegressor(n_estimators=30, random_state=0))
    null.fit(Xn, yn, generators=gens, prompts=prompts)
    assert null.shrink_ == 0.0 and null.correction_ is None
    from scipy.stats import kendalltau

    # then its ranking is the raw metric's exactly
    assert kendalltau(yn, null.predict(Xn)).statistic == pytest.approx(kendalltau(yn, Xn[:, 0]).statistic, abs=1e-12)
    c = clone(good)
    assert c.get_params()["anchor"] == 0 and not hasattr(c, "shrink_")
    with pytest.raises(ValueError, match="shrink"):
        AnchoredRegressor(shrink=1.5).fit(X, y)


def test_inner_selection_is_crossed_when_groups_are_given():
    X, y, gens, prompts = data()
    m = AnchoredRegressor(anchor=0, estimator=LinearRegression(), inner_generator_groups=3, inner_prompt_folds=3)
    folds = m._inner_folds(y.size, gens, prompts)
    assert len(folds) == 9
    for tr, te in folds:
        assert not set(gens[tr]) & set(gens[te]) and not set(prompts[tr]) & set(prompts[te])


class _Recorder(AnchoredRegressor):
    calls: list = []

    def fit(self, X, y, generators=None, prompts=None):
        _Recorder.calls.append((None if generators is None else set(generators),
                                None if prompts is None else set(prompts)))
        return super().fit(X, y, generators=generators, prompts=prompts)


def test_evaluate_passes_training_generators_and_prompts_to_fit():
    X, y, gens, prompts = data()
    assert accepts_groups(AnchoredRegressor()) and not accepts_groups(LinearRegression())
    _Recorder.calls = []
    r = evaluate(X, y, gens, ["mid_pmi", "b", "noise"], {"anch": _Recorder(anchor=0, estimator=LinearRegression())},
                 prompts=prompts, split="crossed", n_prompt_folds=3, baselines=["mid_pmi"], n_resamples=20,
                 per_generator_ci=False)
    assert len(_Recorder.calls) == len(r.folds) == 18
    test_parts = r.predictions.groupby("fold_index")
    for (k, part), (g_seen, p_seen) in zip(test_parts, _Recorder.calls):
        assert g_seen and p_seen
        assert not g_seen & set(part.generator) and not p_seen & set(part.prompt)
    assert r.metrics["anch"]["kendall_tau_b"].value > r.metrics["mid_pmi"]["kendall_tau_b"].value


def test_center_folds_subtracts_each_folds_training_mean_from_models_only():
    X, y, gens, prompts = data()
    kw = dict(prompts=prompts, split="crossed", n_prompt_folds=3, baselines=["mid_pmi"], n_resamples=20,
              per_generator_ci=False)
    a = evaluate(X, y, gens, ["mid_pmi", "b", "noise"], {"lin": LinearRegression()}, **kw)
    b = evaluate(X, y, gens, ["mid_pmi", "b", "noise"], {"lin": LinearRegression()}, center_folds=True, **kw)
    pa, pb = a.predictions, b.predictions
    # independent: the training mean of each fold from the fold's own rows
    from judgenet.evaluation import make_folds

    want = pa["lin"].to_numpy().copy()
    for f in make_folds(gens, prompts, split="crossed", n_prompt_folds=3):
        want[f.test] -= y[f.train].mean()
    assert np.allclose(pb["lin"], want, atol=1e-12)
    assert np.array_equal(pa["mid_pmi"], pb["mid_pmi"]) and np.array_equal(pa["training_mean"], pb["training_mean"])
    assert b.settings["center_folds"] and not a.settings["center_folds"]
