"""The anchored model: generators/prompts reach its fit through scikit-learn's metadata routing wherever it is wrapped
(Pipeline, column pipeline, GridSearchCV, the conformal wrapper, the held-out protocol), it refuses to choose its
shrinkage without them, and it finds its anchor column by name (raw MID), refusing features without it."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from judgenet.errors import ConfigError
from judgenet.evaluation import evaluate
from judgenet.evaluation.conformal import ConformalPredictor
from judgenet.predictors.anchored import AnchoredRegressor, accepts_groups, fit_routed
from judgenet.predictors.recipes import Recipe, column_pipeline

pytestmark = pytest.mark.usefixtures("one_thread")

NAMES = ["clip_score", "mid_pmi", "noise"]  # raw MID deliberately NOT first


def data(seed=0, G=6, P=12):
    rng = np.random.default_rng(seed)
    gens = np.repeat([f"g{i}" for i in range(G)], P)
    prompts = np.tile([f"p{j}" for j in range(P)], G)
    a, b = rng.normal(size=(2, gens.size))
    y = a + b + 0.5 * rng.normal(size=gens.size)
    X = np.c_[b, a + 0.8 * rng.normal(size=gens.size), rng.normal(size=gens.size)]  # column 1 = the anchor
    return X, y, gens, prompts


class Recorder(AnchoredRegressor):
    """Records what each fit received (class-level list: clones share it)."""

    calls: list = []

    def fit(self, X, y, generators=None, prompts=None):
        Recorder.calls.append((np.asarray(X).shape[0], None if generators is None else list(generators),
                               None if prompts is None else list(prompts)))
        return super().fit(X, y, generators=generators, prompts=prompts)


def recorder(**kw):
    Recorder.calls = []
    return Recorder(anchor=0, estimator=LinearRegression(), **kw)


# -- bug 3: routing ---------------------------------------------------------------------------------------------
def test_a_column_pipeline_routes_generators_and_prompts_in_the_protocol():
    X, y, gens, prompts = data()
    model = column_pipeline([1, 0, 2], recorder())  # a recipe reading its columns from a wider matrix
    assert accepts_groups(model) and not accepts_groups(LinearRegression())
    res = evaluate(X, y, gens, NAMES, {"a": model}, prompts=prompts, split="crossed", n_prompt_folds=3,
                   n_resamples=20, per_generator_ci=False, baselines=["mid_pmi"])
    assert len(Recorder.calls) == len(res.folds)  # one fit per outer fold, in fold order (one process)
    for (n, g, p), f in zip(Recorder.calls, res.folds):  # each saw exactly its fold's training part
        assert g is not None and p is not None and n == f["n_train"] and set(g) == set(f["train_generators"])


def test_grid_search_and_pipelines_route_them_when_routing_is_on():
    X, y, gens, prompts = data()
    est = Pipeline([("id", FunctionTransformer()), ("m", recorder())])
    gs = GridSearchCV(est, {"m__shrink": ["auto", 0.0]}, cv=GroupKFold(3))
    with sklearn.config_context(enable_metadata_routing=True):
        gs.fit(X, y, groups=gens, generators=gens, prompts=prompts)
    assert Recorder.calls and all(g is not None for _, g, _ in Recorder.calls)
    assert gs.best_estimator_[-1].inner_split_ in ("crossed", None)


def test_the_conformal_wrapper_routes_them_through_a_column_pipeline():
    X, y, gens, prompts = data()
    ConformalPredictor(column_pipeline([1, 2], recorder()), split="crossed", n_prompt_folds=3).fit(
        X, y, gens, prompts)
    assert Recorder.calls and all(g is not None and p is not None for _, g, p in Recorder.calls)
    fitted = fit_routed(column_pipeline([1, 2], recorder()), X, y, generators=gens, prompts=prompts)
    assert fitted[-1].inner_split_ == "crossed"


def test_no_silent_fallback_to_row_folds():
    X, y, gens, prompts = data()
    with pytest.raises(ConfigError, match="generators"):
        AnchoredRegressor(anchor=0, estimator=LinearRegression()).fit(X, y)
    with pytest.raises(ConfigError, match="generators"):  # a wrapper that does not route: loud, not K-fold
        Pipeline([("m", AnchoredRegressor(anchor=0, estimator=LinearRegression()))]).fit(X, y)
    rows = AnchoredRegressor(anchor=0, estimator=LinearRegression(), inner="rows").fit(X, y)
    assert rows.inner_split_ == "rows"
    only_gens = AnchoredRegressor(anchor=0, estimator=LinearRegression()).fit(X, y, generators=gens)
    assert only_gens.inner_split_ == "generator"
    # a fixed shrink needs no inner split
    assert AnchoredRegressor(anchor=0, shrink=0.5, estimator=LinearRegression()).fit(X, y).shrink_ == 0.5


# -- bug 4: the anchor by name ----------------------------------------------------------------------------------
def test_the_anchor_is_found_by_name_not_position():
    X, y, gens, prompts = data()
    zero = Recipe("anchored", {"shrink": 0.0}).build(feature_names=NAMES).fit(X, y)
    assert zero.anchor_index_ == 1
    assert np.allclose(zero.predict(X), X[:, 1], rtol=0, atol=0)  # copies the column: no arithmetic
    # with a correction: z + g(x), against an independent least-squares computation
    full = Recipe("anchored", {"shrink": 1.0, "estimator": LinearRegression()}).build(feature_names=NAMES)
    full.fit(X, y)
    b, a = np.polyfit(X[:, 1], y, 1)
    g = LinearRegression().fit(X, (y - a - b * X[:, 1]) / b)
    assert np.allclose(full.predict(X), X[:, 1] + g.predict(X), rtol=0, atol=1e-9)
    # a DataFrame names its own columns
    df = pd.DataFrame(X, columns=NAMES)
    assert AnchoredRegressor(shrink=0.0).fit(df, y).anchor_index_ == 1
    # in the protocol, a model given by name is built knowing the columns
    res = evaluate(X, y, gens, NAMES, ["anchored"], prompts=prompts, split="generator", n_resamples=20,
                   per_generator_ci=False, baselines=["mid_pmi"])
    assert np.isfinite(res.predictions["anchored"]).all()


def test_features_without_raw_mid_are_refused_in_one_line():
    X, y, gens, prompts = data()
    names = ["clip_score", "realism.inception.mahalanobis2", "noise"]
    with pytest.raises(ConfigError, match="mid_pmi") as e:
        Recipe("anchored").build(feature_names=names).fit(X, y, generators=gens, prompts=prompts)
    assert "\n" not in str(e.value) and "text tower" in str(e.value)
    with pytest.raises(ConfigError, match="feature names"):
        AnchoredRegressor().fit(X, y, generators=gens, prompts=prompts)  # no names at all: refused, not column 0
    with pytest.raises(ConfigError, match="2 feature names for 3 columns"):
        AnchoredRegressor(feature_names=["mid_pmi", "x"]).fit(X, y, generators=gens, prompts=prompts)
    # an explicit stated alternative: another column by name
    alt = AnchoredRegressor(anchor="clip_score", feature_names=names, shrink=0.0).fit(X, y)
    assert np.array_equal(alt.predict(X), X[:, 0])


# -- the default correction -------------------------------------------------------------------------------------
def test_the_closed_form_ridge_equals_scikit_learns_scaler_and_ridge():
    from judgenet.predictors import make_predictor
    from judgenet.predictors.anchored import StandardRidge

    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 8)) * rng.uniform(0.01, 100, size=8) + rng.normal(size=8) * 50
    X[:, 5] = 7.0  # a constant column: scale 1, coefficient 0, as StandardScaler treats it
    y = X[:, :3] @ [0.3, -0.002, 0.01] + rng.normal(size=150)
    Xt = rng.normal(size=(40, 8)) * 30
    for alpha in (0.1, 100.0):
        ref = make_predictor("ridge", alpha=alpha).fit(X, y)  # independent: sklearn's StandardScaler + Ridge
        ours = StandardRidge(alpha).fit(X, y)
        np.testing.assert_allclose(ours.predict(Xt), ref.predict(Xt), rtol=1e-9, atol=1e-9)
    assert isinstance(AnchoredRegressor()._correction(), StandardRidge)
