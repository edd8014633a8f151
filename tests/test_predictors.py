"""Predictors: pipelines by name, ordinal variant, pairwise models, artifacts."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold

from judgenet.errors import ArtifactError, ConfigError
from judgenet.predictors import (FAMILIES, POINTWISE, BradleyTerry, MLPRegressor, OrdinalRegressor, Recipe,
                                 default_param_grid, load_predictor, load_reference, make_predictor,
                                 preference_from_choice, read_meta, save_predictor)
from judgenet.stats import kendall_tau_b


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny fits only lose from threads


def _data(n=120, p=5, seed=0, noise=0.1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    w = np.linspace(1.0, -0.5, p)
    y = X @ w + noise * rng.normal(size=n)
    return X, y


FAST = {"mlp": {"max_epochs": 30, "hidden_sizes": (16,)}, "random_forest": {"n_estimators": 20},
        "hist_gb": {"max_iter": 30}}


@pytest.mark.parametrize("name", POINTWISE)
def test_every_family_fits_and_ranks(name):
    X, y = _data()
    yy = np.round(np.clip(y, -2, 2)) + 3 if name == "ordinal" else y  # Likert 1..5 for the ordinal model
    if name == "anchored":  # finds its raw column by name; no generators/prompts here: row folds for its shrinkage
        names = ["mid_pmi"] + [f"f{i}" for i in range(1, X.shape[1])]
        model = Recipe(name, {"inner": "rows"}).build(random_state=0, feature_names=names).fit(X[:90], yy[:90])
    else:
        model = make_predictor(name, random_state=0, **FAST.get(name, {})).fit(X[:90], yy[:90])
    pred = model.predict(X[90:])
    assert pred.shape == (30,) and np.isfinite(pred).all()
    assert kendall_tau_b(yy[90:], pred) > 0.4, name
    if FAMILIES[name].bare:  # reads its columns by position: built without scaler or PCA
        assert not hasattr(model, "named_steps")
    else:
        assert list(model.named_steps) == ["scale", "model"]


def test_pca_and_scaler_options_and_errors():
    X, y = _data()
    m = make_predictor("ridge", pca=3, scaler="robust").fit(X, y)
    assert list(m.named_steps) == ["scale", "pca", "model"] and m.named_steps["pca"].n_components_ == 3
    assert list(make_predictor("ridge", scaler=None).named_steps) == ["model"]
    big = make_predictor("ridge", pca=50).fit(X[:20], y[:20])  # more components than the fold allows
    assert big.named_steps["pca"].n_components_ == 5 and big.named_steps["pca"].n_components == 50
    assert np.isfinite(big.predict(X)).all()
    with pytest.raises(ConfigError, match="unknown model"):
        make_predictor("xgboost")
    with pytest.raises(ConfigError, match="bad parameters"):
        make_predictor("ridge", not_a_param=1)
    with pytest.raises(ConfigError, match="scaler"):
        make_predictor("ridge", scaler="minmax")
    assert type(make_predictor("ordinal").named_steps["model"]) is OrdinalRegressor


@pytest.mark.parametrize("name", POINTWISE)
def test_default_grids_address_pipeline_params(name):
    grid = default_param_grid(name)
    est = make_predictor(name)
    for k, values in grid.items():
        assert k.startswith("model__") != FAMILIES[name].bare
        est.set_params(**{k: values[0]})  # raises if the name is wrong
        assert est.get_params()[k] == values[0]


def test_ordinal_expected_level_and_resolution():
    X, y = _data(n=200, seed=1)
    lik = np.clip(np.round(y), -2, 2) + 3
    m = OrdinalRegressor(C=1.0).fit(X, lik)
    p = m.predict(X)
    assert np.all((p >= 1) & (p <= 5))
    assert np.allclose(m.predict_level_proba(X).sum(axis=1), 1.0)
    assert list(m.levels_) == [1.0, 2.0, 3.0, 4.0, 5.0]
    q = (lik - 1) / 4  # 0..1 in quarter steps
    m2 = OrdinalRegressor(resolution=0.25).fit(X, q)
    assert list(m2.levels_) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert np.allclose(m2.predict(X), (p - 1) / 4, atol=1e-6)
    const = OrdinalRegressor().fit(X, np.full(len(X), 3.0))
    assert np.all(const.predict(X) == 3.0)
    with pytest.raises(ValueError, match="resolution"):
        OrdinalRegressor(resolution=0).fit(X, lik)


# ---------------------------------------------------------------------------------------------
# torch MLP estimator
# ---------------------------------------------------------------------------------------------
def test_mlp_deterministic_and_learns():
    X, y = _data(n=200)
    kw = dict(hidden_sizes=(16,), max_epochs=60, random_state=3)
    state = torch_state()
    a = MLPRegressor(**kw).fit(X[:150], y[:150]).predict(X[150:])
    b = MLPRegressor(**kw).fit(X[:150], y[:150]).predict(X[150:])
    c = MLPRegressor(**{**kw, "random_state": 4}).fit(X[:150], y[:150]).predict(X[150:])
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert kendall_tau_b(y[150:], a) > 0.7
    assert torch_state().equal(state), "fit must not consume the global torch RNG"


def torch_state():
    import torch

    return torch.random.get_rng_state()


def test_mlp_early_stopping_and_attributes():
    X, y = _data(n=120)
    m = MLPRegressor(hidden_sizes=(8, 8), max_epochs=400, patience=3, lr=5e-2, random_state=0).fit(X, y)
    assert m.n_iter_ < 400 and len(m.loss_curve_) == m.n_iter_
    assert m.best_validation_loss_ is not None and m.n_features_in_ == 5
    m2 = MLPRegressor(max_epochs=5, early_stopping=False, random_state=0).fit(X, y)
    assert m2.best_validation_loss_ is None and m2.n_iter_ == 5
    for bad in ({"hidden_sizes": (0,)}, {"lr": 0}, {"validation_fraction": 1.5}, {"batch_size": 0}):
        with pytest.raises(ValueError):
            MLPRegressor(**bad).fit(X, y)


def test_mlp_leaves_torch_threads_untouched_unless_asked(monkeypatch):
    import torch

    X, y = _data(n=40)
    calls = []
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (calls.append(n), real(n)))
    MLPRegressor(hidden_sizes=(4,), max_epochs=2, random_state=0).fit(X, y).predict(X)
    assert calls == []  # default: process-global thread setting never changed
    before = torch.get_num_threads()
    MLPRegressor(hidden_sizes=(4,), max_epochs=2, random_state=0, n_threads=1).fit(X, y)
    assert calls[:2] == [1, before] and torch.get_num_threads() == before  # opt-in, restored


def test_mlp_in_pipeline_gridsearch_and_clone():
    X, y = _data(n=90)
    pipe = make_predictor("mlp", random_state=0, max_epochs=15, hidden_sizes=(8,))
    gs = GridSearchCV(pipe, {"model__hidden_sizes": [(4,), (8,)], "model__lr": [1e-3, 1e-2]},
                      cv=KFold(3), scoring="r2").fit(X, y)
    assert gs.best_params_["model__lr"] in (1e-3, 1e-2)
    c = clone(gs.best_estimator_)
    assert c.get_params()["model__hidden_sizes"] == gs.best_params_["model__hidden_sizes"]
    assert not hasattr(c.named_steps["model"], "net_")
    p1 = clone(pipe).fit(X, y).predict(X)
    p2 = clone(pipe).fit(X, y).predict(X)
    assert np.array_equal(p1, p2)


# ---------------------------------------------------------------------------------------------
# pairwise models
# ---------------------------------------------------------------------------------------------
def _pairs(n_items=80, n_pairs=600, seed=0, tie_band=0.15):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_items, 4))
    s = X @ np.array([1.5, -1.0, 0.0, 0.5])
    a = rng.integers(0, n_items, n_pairs)
    b = rng.integers(0, n_items, n_pairs)
    keep = a != b
    a, b = a[keep], b[keep]
    d = s[a] - s[b] + 0.3 * rng.normal(size=a.size)
    choice = np.where(np.abs(d) < tie_band, "tie", np.where(d > 0, "a", "b"))
    return X, s, a, b, choice


def test_preference_from_choice():
    assert preference_from_choice(["a", "B", "tie", 0.25]).tolist() == [1.0, 0.0, 0.5, 0.25]
    with pytest.raises(ConfigError):
        preference_from_choice(["left"])
    with pytest.raises(ConfigError):
        preference_from_choice([1.5])


def test_bradley_terry_soft_labels_recover_scores():
    X, s, a, b, choice = _pairs()
    p = preference_from_choice(choice)
    assert (p == 0.5).any(), "the fixture must contain ties"
    bt = BradleyTerry(C=1.0).fit_pairs(X, a, b, p)
    score = bt.predict(X)
    assert score.shape == (80,) and kendall_tau_b(s, score) > 0.8
    pa = bt.predict_proba_pairs(X, a, b)
    assert np.all((pa > 0) & (pa < 1))
    # antisymmetric: swapping a and b flips the probability
    assert np.allclose(bt.predict_proba_pairs(X, b, a), 1 - pa)
    with pytest.raises(ConfigError):
        BradleyTerry().fit_pairs(X, a, b, p * 2)
    same = BradleyTerry(C=1.0).fit(X, np.c_[a, b, p]).predict(X)
    assert np.allclose(same, score)


def test_mlp_pairwise_fit():
    X, s, a, b, choice = _pairs(seed=1)
    m = MLPRegressor(hidden_sizes=(16,), max_epochs=60, lr=5e-3, random_state=0)
    m.fit_pairs(X, a, b, preference_from_choice(choice))
    assert kendall_tau_b(s, m.predict(X)) > 0.7
    with pytest.raises(ValueError, match="indices"):
        MLPRegressor().fit_pairs(X, [0], [999], [1.0])


# ---------------------------------------------------------------------------------------------
# recipes
# ---------------------------------------------------------------------------------------------
def test_one_table_every_family_has_kind_defaults_grid_and_space():
    for name, fam in FAMILIES.items():
        assert fam.kind in ("pointwise", "pairwise"), name
        if name in ("raw", "raw_pairwise"):  # a raw feature as the prediction: nothing to select or tune
            assert not fam.grid and fam.optuna_space is None and fam.bare
            continue
        assert fam.grid and callable(fam.optuna_space), name
        params = fam.optuna_space(_AnyTrial())
        est = Recipe(name, params).build(random_state=0)  # every sampled point builds
        assert hasattr(est, "fit"), name
    assert set(POINTWISE) == {n for n, f in FAMILIES.items() if f.kind == "pointwise"}


def test_the_family_table_is_complete_without_import_time_registration():
    """Both kinds are in the one table as written in predictors/families.py (nothing registers into it), and the
    recipe module imports none of the modules that import it, nor do the estimators import the table (the former
    circle recipes <-> anchored / artifact / pairwise), checked on the source."""
    import ast
    from pathlib import Path

    import judgenet.predictors as pkg
    from judgenet.predictors import families

    assert {n for n, f in FAMILIES.items() if f.kind == "pairwise"} == {"bradley_terry", "pairwise_mlp",
                                                                       "pairwise_gb", "raw_pairwise"}
    src = Path(families.__file__).read_text()
    assert all(f'"{n}": Family(' in src for n in FAMILIES)  # every entry is written in the table itself
    root = Path(pkg.__file__).parent

    def imported(name):
        out = set()
        for node in ast.walk(ast.parse((root / f"{name}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                out.add(node.module.split(".")[0])
        return out

    assert not imported("recipes") & {"anchored", "artifact", "pairwise"}
    assert "recipes" not in imported("pairwise") and "recipes" not in imported("families")
    assert "recipes" not in imported("meta")
    assert not imported("anchored") & {"recipes", "families"}


def test_raw_family_predicts_the_signed_column():
    X, y = _data()
    for col, sign in ((0, 1.0), (3, -1.0)):
        m = Recipe("raw", {"column": col, "sign": sign}).build().fit(X, y)
        np.testing.assert_array_equal(m.predict(X), sign * X[:, col])
    with pytest.raises(ValueError, match="column"):
        Recipe("raw", {"column": 9}).build().fit(X, y)


class _AnyTrial:
    """Answers every suggest_* with the low end of its range (enough to build each family)."""

    def suggest_float(self, name, low, high, **kw):
        return low

    def suggest_int(self, name, low, high, **kw):
        return low

    def suggest_categorical(self, name, choices):
        return choices[0]


def test_recipe_round_trip_and_build_is_the_stated_pipeline():
    r = Recipe("mlp", {"hidden_sizes": (8, 8), "lr": 0.01}, pca=3, scaler="robust", feature_groups=("realism",))
    back = Recipe.from_dict(json.loads(json.dumps(r.to_dict())))
    assert back == r and back.params["hidden_sizes"] == (8, 8)
    est = back.build(random_state=4)
    # the pipeline written out by hand: robust scaling, PCA(3) (clipped to what a fold allows), the MLP with these params (defaults otherwise)
    assert [(k, type(v).__name__) for k, v in est.named_steps.items()] == [
        ("scale", "RobustScaler"), ("pca", "ClippedPCA"), ("model", "MLPRegressor")]
    assert est.named_steps["model"].get_params() == MLPRegressor(hidden_sizes=(8, 8), lr=0.01,
                                                                 random_state=4).get_params()
    assert est.named_steps["pca"].n_components == 3
    with pytest.raises(ConfigError, match="unknown model"):
        Recipe("xgboost")
    with pytest.raises(ConfigError, match="unknown recipe keys"):
        Recipe.from_dict({"family": "ridge", "alpha": 1})


def test_recipe_columns_follow_feature_groups():
    from judgenet.features import FeatureMatrix

    fm = FeatureMatrix(np.zeros((2, 4)), ["mid_pmi", "r.a", "pca.0", "r.b"],
                       {"alignment": ["mid_pmi"], "realism": ["r.a", "r.b"], "activations": ["pca.0"]})
    assert Recipe("ridge", feature_groups=("realism",)).columns(fm).tolist() == [1, 3]
    assert Recipe("ridge").columns(fm).tolist() == [0, 1, 2, 3]
    with pytest.raises(ConfigError, match="set"):
        Recipe("ridge", feature_groups=("set",)).columns(fm)


# ---------------------------------------------------------------------------------------------
# artifacts
# ---------------------------------------------------------------------------------------------
FP = {"tiny": {"backbone": "tiny", "weights_sha256": "ab" * 32, "image_size": 64}}
NAMES = [f"f{i}" for i in range(5)]
RECIPE = Recipe("ridge", {"alpha": 3.0}, pca=2, scaler="robust", feature_groups=("realism",))


def _saved(tmp_path, model=None, recipe=RECIPE):
    X, y = _data()
    model = model or recipe.build().fit(X, y)
    path = save_predictor(model, tmp_path / "pred", recipe=recipe, feature_names=NAMES, fingerprints=FP,
                          reference_hash="r" * 16, label_set="sim", question="overall",
                          cv_results={"kendall_tau_b": 0.5, "nan": float("nan")}, extra={"note": "x"})
    return path, model, X


@pytest.mark.parametrize("name", ["ridge", "mlp"])
def test_save_load_round_trip(tmp_path, name):
    X, y = _data()
    recipe = Recipe(name, FAST.get(name, {}))
    fitted = recipe.build(random_state=0).fit(X, y)
    path, model, X = _saved(tmp_path, fitted, recipe)
    loaded, meta = load_predictor(path, expected_fingerprints=FP, expected_feature_names=NAMES,
                                  expected_reference_hash="r" * 16)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    on_disk = json.loads((path / "meta.json").read_text())
    assert on_disk == meta
    for key in ("feature_names", "fingerprints", "reference_hash", "label_set", "cv_results", "extra", "created",
                "model_sha256", "meta_sha256", "recipe"):
        assert key in meta, key
    assert {"judgenet", "sklearn", "torch", "numpy", "python"} <= set(meta["versions"])
    assert meta["label_set"] == "sim" and meta["fingerprints"] == FP
    assert Recipe.from_predictor_dir(path) == recipe


def test_recipe_from_predictor_dir_never_unpickles(tmp_path):
    """A model.joblib whose unpickling would run code is never touched by from_predictor_dir."""
    import joblib

    path, _, _ = _saved(tmp_path)
    joblib.dump(_Boom(), path / "model.joblib")  # unpickling this raises
    with pytest.raises(RuntimeError, match="unpickled"):
        joblib.load(path / "model.joblib")
    recipe, meta = Recipe.from_predictor_dir(path, with_meta=True)
    assert recipe == RECIPE and meta["question"] == "overall"
    # the rebuilt recipe is the saved one exactly: params, PCA, scaler, feature groups
    est = recipe.build()
    assert est.get_params()["model__alpha"] == 3.0 and est.get_params()["pca__n_components"] == 2
    assert type(est.named_steps["scale"]).__name__ == "RobustScaler"
    with pytest.raises(ArtifactError, match="SHA-256"):  # load_predictor refuses the swapped file
        load_predictor(path)


def _explode():
    raise RuntimeError("unpickled")


class _Boom:
    def __reduce__(self):
        return (_explode, ())


def test_tampered_meta_is_refused(tmp_path):
    path, _, _ = _saved(tmp_path)
    meta = json.loads((path / "meta.json").read_text())
    for edit in ({"feature_names": NAMES[::-1]}, {"fingerprints": {"tiny": {"backbone": "other"}}},
                 {"recipe": {**meta["recipe"], "pca": 5}}, {"reference_hash": "x" * 16}):
        (path / "meta.json").write_text(json.dumps({**meta, **edit}))
        with pytest.raises(ArtifactError, match="meta_sha256"):
            load_predictor(path)
        with pytest.raises(ArtifactError, match="meta_sha256"):
            Recipe.from_predictor_dir(path)
    (path / "meta.json").write_text(json.dumps(meta))
    assert read_meta(path)["meta_sha256"] == meta["meta_sha256"]
    (path / "meta.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not a judgenet predictor"):
        read_meta(path)
    for other in ({**meta, "format": "judgenet-predictor-0"}, [meta]):  # another version's format; not an object
        (path / "meta.json").write_text(json.dumps(other))
        with pytest.raises(ArtifactError, match=r"meta.json: unknown predictor artifact format .*retrain"):
            read_meta(path)


def test_mismatched_artifacts_fail_clearly(tmp_path):
    path, _, _ = _saved(tmp_path)
    other = {"tiny": {**FP["tiny"], "weights_sha256": "cd" * 32}}
    with pytest.raises(ArtifactError, match="source 'tiny' differs — predictor: 'tiny', weights abababababab; "
                                            "in use: 'tiny', weights cdcdcdcdcdcd"):
        load_predictor(path, expected_fingerprints=other)
    with pytest.raises(ArtifactError, match=r"trained on features of source\(s\) \['tiny'\], not among"):
        load_predictor(path, expected_fingerprints={"clip": {"backbone": "clip"}})
    with pytest.raises(ArtifactError, match=r"\['clip'\] are in use but the predictor was trained without"):
        load_predictor(path, expected_fingerprints={**FP, "clip": {"backbone": "clip"}})
    with pytest.raises(ArtifactError, match=r"needs \['f4'\]"):
        load_predictor(path, expected_feature_names=NAMES[:4])
    with pytest.raises(ArtifactError, match="different order.*column 0: predictor 'f0', in use 'f4'"):
        load_predictor(path, expected_feature_names=NAMES[::-1])
    with pytest.raises(ArtifactError, match="reference differs — predictor 'rrrr"):
        load_predictor(path, expected_reference_hash="x" * 16)
    with pytest.raises(ArtifactError, match="not a judgenet predictor"):
        load_predictor(tmp_path / "nowhere")
    with pytest.raises(ArtifactError, match="no reference/"):
        load_reference(path)


def test_tampered_model_is_not_unpickled(tmp_path):
    path, _, _ = _saved(tmp_path)
    f = path / "model.joblib"
    f.write_bytes(f.read_bytes() + b"\0")
    with pytest.raises(ArtifactError, match="SHA-256"):
        load_predictor(path)


def test_predictor_carries_its_reference_and_refuses_another(tmp_path):
    from judgenet.features import FeatureBuilder, embedded

    rng = np.random.default_rng(0)
    fp = {"clip": {"backbone": "clip", "weights_sha256": "ab" * 32}}
    fb = FeatureBuilder(groups=("realism",), pca_components=2, gmm_components=None).fit(
        embedded({"clip": rng.normal(size=(60, 4))}, fingerprints=fp))
    gen = embedded({"clip": rng.normal(size=(40, 4))})
    fm = fb.transform(gen)
    y = fm.X[:, 0] + 0.1 * rng.normal(size=40)
    recipe = Recipe("ridge", feature_groups=("realism",))
    model = recipe.build().fit(fm.X[:, recipe.columns(fm)], y)
    path = save_predictor(model, tmp_path / "p", recipe=recipe, feature_names=fm.names, builder=fb)
    meta = read_meta(path)
    assert meta["reference_hash"] == fb.hash_ and meta["fingerprints"] == fp and meta["has_reference"]
    ref = load_reference(path, expected_fingerprints=fp)
    X = ref.transform(gen).X
    loaded, _ = load_predictor(path, expected_fingerprints=fp, expected_feature_names=fm.names,
                               expected_reference_hash=ref.hash_)
    assert np.array_equal(loaded.predict(X), model.predict(fm.X))
    other = clone(fb).fit(embedded({"clip": rng.normal(size=(60, 4))}, fingerprints=fp))  # another --reference
    with pytest.raises(ArtifactError, match="real-image reference differs"):
        load_predictor(path, expected_reference_hash=other.hash_)
    other.save(path / "reference")  # the folder swapped for another reference
    with pytest.raises(ArtifactError, match="differs from the predictor's reference_hash"):
        load_reference(path)
