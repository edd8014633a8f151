"""Held-out-generator protocol: folds, nesting, leakage, measures, baselines, results, report."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin

from judgenet.errors import ArtifactError, ConfigError
from judgenet.evaluation import (
    EvaluationResults,
    evaluate,
    load_results,
    make_folds,
    write_report,
)
from judgenet.evaluation.protocol import _inner_folds
from judgenet.predictors import make_predictor


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny fits only lose from threads


G, PER = 5, 24
NAMES = ["gen_code", "prompt_code", "q_obs", "junk", "mid_pmi", "realism.tiny.mahalanobis2"]
CEILING = {"n_items": 120, "loo_kendall_tau_b": 0.62, "loo_kendall_tau_b_low": 0.55,
           "loo_kendall_tau_b_high": 0.69, "pairwise_agreement": 0.8, "pairwise_agreement_low": 0.77,
           "pairwise_agreement_high": 0.83, "note": "simulated"}


def world(seed=0, per=PER):
    """Items of G generators over shared prompts; a latent quality q drives the human score.
    ``q_obs`` sees q with little noise (a good feature), ``mid_pmi`` with a lot (a noisy baseline)."""
    rng = np.random.default_rng(seed)
    gens = np.repeat([f"gen{i}" for i in range(G)], per)
    prompts = np.tile([f"p{j}" for j in range(per)], G)
    q = rng.normal(size=gens.size) + np.repeat(rng.normal(scale=0.7, size=G), per)
    y = q + 0.3 * rng.normal(size=q.size)
    X = np.c_[np.repeat(np.arange(G), per), np.tile(np.arange(per), G), q + 0.2 * rng.normal(size=q.size),
              rng.normal(size=q.size), q + 1.5 * rng.normal(size=q.size), np.abs(rng.normal(size=q.size))]
    return X, y, gens, prompts


def ridge():
    """Ridge on the informative columns only (gen/prompt codes are bookkeeping for the spies)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    return Pipeline([("cols", ColumnTransformer([("keep", "passthrough", [2, 3, 4, 5])])),
                     ("model", make_predictor("ridge", pca=3))])


@pytest.fixture(scope="module")
def res():
    X, y, gens, prompts = world()
    return evaluate(X, y, gens, NAMES, {"ridge": ridge()}, baselines=["mid_pmi", "-realism.tiny.mahalanobis2"],
                    prompts=prompts, ceiling=CEILING, n_resamples=100, seed=0, per_generator_resamples=50)


# ---------------------------------------------------------------------------------------------
# folds
# ---------------------------------------------------------------------------------------------
def test_generator_folds_hold_out_each_generator_once():
    X, y, gens, prompts = world()
    seen = np.zeros(y.size, int)
    folds = make_folds(gens)
    assert [f.name for f in folds] == [f"gen{i}" for i in range(G)]
    for f in folds:
        assert set(gens[f.test]) == {f.held_generator} and f.held_generator not in set(gens[f.train])
        assert f.train.size + f.test.size == y.size and f.held_prompt_fold is None
        seen[f.test] += 1
    assert np.all(seen == 1)


@pytest.mark.parametrize("k", [2, 5, 7])
def test_crossed_folds_brute_force(k):
    """Crossed folds against a brute-force definition: item i is in the training part of fold (g, f)
    iff its generator != g and its prompt's fold != f; in the test part iff both equal."""
    X, y, gens, prompts = world()
    folds = make_folds(gens, prompts, split="crossed", n_prompt_folds=k, seed=3)
    assert len(folds) == G * k
    # prompt folds: every prompt in exactly one fold, sizes within one prompt of each other
    pf = {}
    for f in folds:
        for p in set(prompts[f.test]):
            assert pf.setdefault(p, f.held_prompt_fold) == f.held_prompt_fold
    sizes = np.bincount(list(pf.values()), minlength=k)
    assert len(pf) == PER and sizes.max() - sizes.min() <= 1
    seen = np.zeros(y.size, int)
    for f in folds:
        want_tr = [i for i in range(y.size) if gens[i] != f.held_generator and pf[prompts[i]] != f.held_prompt_fold]
        want_te = [i for i in range(y.size) if gens[i] == f.held_generator and pf[prompts[i]] == f.held_prompt_fold]
        assert f.train.tolist() == want_tr and f.test.tolist() == want_te
        assert not set(prompts[f.train]) & set(prompts[f.test]) and not set(gens[f.train]) & set(gens[f.test])
        seen[f.test] += 1
    assert np.all(seen == 1)
    # the prompt split uses the same prompt folds, all generators
    pfolds = make_folds(gens, prompts, split="prompt", n_prompt_folds=k, seed=3)
    assert len(pfolds) == k
    for f in pfolds:
        assert {pf[p] for p in prompts[f.test]} == {f.held_prompt_fold}
        assert f.train.size + f.test.size == y.size and set(gens[f.test]) == set(gens)
    # another seed deals prompts differently
    other = make_folds(gens, prompts, split="prompt", n_prompt_folds=k, seed=4)
    assert any(not np.array_equal(a.test, b.test) for a, b in zip(pfolds, other))


def test_fold_input_errors():
    X, y, gens, prompts = world()
    with pytest.raises(ConfigError, match="needs the prompt"):
        make_folds(gens, split="crossed")
    with pytest.raises(ConfigError, match="unknown split"):
        make_folds(gens, prompts, split="prompts")
    with pytest.raises(ConfigError, match="cannot fill 30 prompt folds"):
        make_folds(gens, prompts, split="crossed", n_prompt_folds=30)
    with pytest.raises(ConfigError, match="cannot fill"):
        evaluate(X, y, gens, NAMES, ["ridge"], prompts=prompts, split="prompt", n_prompt_folds=PER + 1)


def test_inner_folds_never_contain_outer_held_out_items():
    X, y, gens, prompts = world()
    for split in ("generator", "crossed"):
        for f in make_folds(gens, prompts, split=split):
            g_tr, p_tr = gens[f.train], prompts[f.train]
            for inner in _inner_folds(g_tr, p_tr, split, 5, 0):
                used = set(inner.train) | set(inner.test)
                assert f.held_generator not in set(g_tr[list(used)])
                if split == "crossed":  # the generator split keeps held-out prompts in training by design
                    assert not set(p_tr[list(used)]) & set(prompts[f.test])
                assert not set(g_tr[inner.train]) & set(g_tr[inner.test])
                if split == "crossed":
                    assert not set(p_tr[inner.train]) & set(p_tr[inner.test])


class Spy(RegressorMixin, BaseEstimator):
    """Records, at every predict, which generators (column 0) and prompts (column 1) it was
    trained on and which it predicts. Clones share the class-level log."""

    log: list = []

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def fit(self, X, y):
        X = np.asarray(X)
        self.train_gens_ = set(X[:, 0].astype(int))
        self.train_prompts_ = set(X[:, 1].astype(int))
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        X = np.asarray(X)
        Spy.log.append((self.train_gens_, set(X[:, 0].astype(int)), self.train_prompts_, set(X[:, 1].astype(int))))
        return X[:, 2] * self.alpha + self.mean_


@pytest.mark.parametrize("split", ["generator", "prompt", "crossed"])
def test_held_out_items_never_reach_training_or_selection(split):
    """Spy models record what they were fitted on at every predict (outer fits and every inner
    selection fit): no held-out generator (generator/crossed) and no held-out prompt (prompt/crossed)
    is ever in a training set that predicts it, nor in the inner search of its fold."""
    X, y, gens, prompts = world(per=10)
    k = 5
    Spy.log = []
    r = evaluate(X, y, gens, NAMES, {"spy": Spy()}, baselines=[], prompts=prompts, split=split, n_prompt_folds=k,
                 param_grid={"alpha": [0.5, 1.0]}, n_resamples=5, per_generator_ci=False,
                 measures=["kendall_tau_b"], compare_measures=[])
    n_outer = {"generator": G, "prompt": k, "crossed": G * k}[split]
    assert len(r.folds) == n_outer
    for train_g, test_g, train_p, test_p in Spy.log:
        if split != "prompt":
            assert not train_g & test_g, "a held-out generator reached training"
        if split != "generator":
            assert not train_p & test_p, "a held-out prompt reached training"
    # the log comes in fold order (n_jobs=1): fold k's inner-selection fits, then its outer predict.
    # Every fit in fold k's segment must exclude fold k's held-out generator / prompts from training.
    p = r.predictions
    pos = 0
    for i in range(n_outer):
        te_g = set(X[(p["fold_index"] == i).to_numpy(), 0].astype(int))
        te_p = set(X[(p["fold_index"] == i).to_numpy(), 1].astype(int))
        end = next(j for j in range(pos, len(Spy.log)) if Spy.log[j][1] == te_g and Spy.log[j][3] == te_p)
        segment = Spy.log[pos:end + 1]
        assert len(segment) > 2, "no inner selection fits recorded"
        for j, (train_g, test_g, train_p, test_p) in enumerate(segment):
            inner = j < len(segment) - 1  # the last one is the outer predict of the held-out part
            if split != "prompt":
                assert not train_g & te_g and not (inner and test_g & te_g), "held-out generator reached selection"
            if split != "generator":
                assert not train_p & te_p and not (inner and test_p & te_p), "held-out prompt reached selection"
        pos = end + 1
    assert pos == len(Spy.log)
    for f in r.folds:  # the chosen configuration is recorded per fold
        assert f["chosen_params"]["spy"]["params"]["alpha"] in (0.5, 1.0)
    assert r.settings["nested"] and r.settings["split"] == split


def test_nested_selection_ignores_held_out_labels_on_every_split():
    """Scrambling the labels of one outer test part changes none of that part's predictions (its labels
    reach neither training nor selection), but does change other folds' (the test can fail)."""
    X, y, gens, prompts = world()
    grid = {"model__model__alpha": [0.01, 100.0]}
    kw = dict(baselines=[], n_resamples=5, per_generator_ci=False, measures=["kendall_tau_b"], compare_measures=[],
              prompts=prompts, param_grid=grid)
    for split in ("generator", "prompt", "crossed"):
        a = evaluate(X, y, gens, NAMES, {"ridge": ridge()}, split=split, **kw)
        held = (a.predictions["fold_index"] == 0).to_numpy()
        y3 = y.copy()
        y3[held] = np.random.default_rng(1).normal(size=held.sum()) * 10
        b = evaluate(X, y3, gens, NAMES, {"ridge": ridge()}, split=split, **kw)
        assert np.array_equal(a.predictions["ridge"][held], b.predictions["ridge"][held]), split
        assert not np.array_equal(a.predictions["ridge"][~held], b.predictions["ridge"][~held]), split


def test_parallel_folds_identical_to_serial():
    X, y, gens, prompts = world()
    kw = dict(prompts=prompts, split="crossed", n_prompt_folds=2, n_resamples=30, per_generator_ci=False, threads=1,
              param_grid={"hist_gb": {"model__max_iter": [5, 10]}})
    a = evaluate(X, y, gens, NAMES, ["ridge", "hist_gb"], n_jobs=1, **kw)
    b = evaluate(X, y, gens, NAMES, ["ridge", "hist_gb"], n_jobs=2, **kw)
    pd.testing.assert_frame_equal(a.predictions, b.predictions)
    assert a.folds == b.folds and a.table().equals(b.table())


def test_fitted_transforms_do_not_leak_across_items_or_folds():
    X, y, gens, prompts = world()
    kw = dict(baselines=[], n_resamples=5, per_generator_ci=False, measures=["kendall_tau_b"], compare_measures=[])
    base = evaluate(X, y, gens, NAMES, {"ridge": ridge()}, **kw).predictions["ridge"].to_numpy()
    # 1. a wild held-out item changes only its own prediction (scaler/PCA fitted on training rows only)
    X2 = X.copy()
    X2[0, 2:] = 1e3
    p2 = evaluate(X2, y, gens, NAMES, {"ridge": ridge()}, **kw).predictions["ridge"].to_numpy()
    fold0 = gens == "gen0"
    assert p2[0] != base[0]
    assert np.array_equal(p2[fold0][1:], base[fold0][1:])
    # 2. the held-out generator's labels never influence its own predictions, even with nesting
    y3 = y.copy()
    y3[fold0] = np.random.default_rng(1).normal(size=fold0.sum()) * 10
    grid = {"model__model__alpha": [0.1, 10.0]}
    a = evaluate(X, y, gens, NAMES, {"ridge": ridge()}, param_grid=grid, **kw).predictions["ridge"].to_numpy()
    b = evaluate(X, y3, gens, NAMES, {"ridge": ridge()}, param_grid=grid, **kw).predictions["ridge"].to_numpy()
    assert np.array_equal(a[fold0], b[fold0])
    assert not np.array_equal(a[~fold0], b[~fold0])  # the test can fail: other folds do train on them


# ---------------------------------------------------------------------------------------------
# measures, baselines, results
# ---------------------------------------------------------------------------------------------
def test_out_of_fold_predictions_cover_every_item(res):
    p = res.predictions
    assert len(p) == G * PER and (p["fold"] == p["generator"]).all() and res.settings["split"] == "generator"
    assert sorted(p["fold_index"].unique()) == list(range(G))
    assert np.isfinite(p[["ridge", "mid_pmi", "-realism.tiny.mahalanobis2", "training_mean"]]).all().all()
    X, y, gens, _ = world()
    assert np.allclose(p["-realism.tiny.mahalanobis2"], -X[:, 5])  # negated distance
    for g in np.unique(gens):  # the floor is the fold's training mean
        assert np.allclose(p.loc[gens == g, "training_mean"], y[gens != g].mean())


def test_measures_and_ci_shapes(res):
    t = res.table()
    measures = ["kendall_tau_b", "kendall_tau_c", "spearman", "pearson", "pairwise_accuracy",
                "system_kendall_tau_b", "within_generator_kendall_tau_b"]
    preds = ["ridge", "mid_pmi", "-realism.tiny.mahalanobis2", "training_mean"]
    assert list(res.metrics) == preds
    assert len(t) == len(preds) * len(measures) and set(t["measure"]) == set(measures)
    assert (t["n_resamples"] == 100).all()
    fin = t[np.isfinite(t["value"])]
    assert (fin["low"] <= fin["high"]).all()
    good = t[t["predictor"] != "training_mean"]
    assert ((good["low"] <= good["value"] + 1e-9) & (good["value"] <= good["high"] + 1e-9)).all()
    r = t.set_index(["predictor", "measure"])
    assert r.loc[("ridge", "kendall_tau_b"), "kind"] == "model"
    assert r.loc[("training_mean", "kendall_tau_b"), "kind"] == "floor"
    # tau-b and tau-c are both reported and differ (no ties here, so only by n/(n-1)-type factors)
    assert r.loc[("ridge", "kendall_tau_b"), "value"] != r.loc[("ridge", "kendall_tau_c"), "value"]
    # the ceiling sits next to every measure that has a counterpart
    assert r.loc[("ridge", "kendall_tau_b"), "ceiling"] == 0.62
    assert r.loc[("mid_pmi", "pairwise_accuracy"), "ceiling_high"] == 0.83
    assert np.isnan(r.loc[("ridge", "pearson"), "ceiling"])
    pg = res.per_generator
    assert len(pg) == G * len(preds)
    assert {"kendall_tau_b_low", "kendall_tau_b_high", "spearman", "pairwise_accuracy"} <= set(pg.columns)


def test_within_generator_measure_against_scipy(res):
    """within_generator_kendall_tau_b = mean over generators of scipy's tau-b inside each; its paired
    difference with a baseline is the difference of those means; the floor (constant inside) is NaN."""
    from scipy.stats import kendalltau

    p = res.predictions
    for pred in ("ridge", "mid_pmi"):
        want = np.mean([kendalltau(p.loc[p.generator == g, "y"], p.loc[p.generator == g, pred]).statistic
                        for g in p.generator.unique()])
        e = res.metrics[pred]["within_generator_kendall_tau_b"]
        assert e.value == pytest.approx(want, abs=1e-12) and e.low <= e.value <= e.high
    d = res.comparisons[("ridge", "mid_pmi", "within_generator_kendall_tau_b")]
    assert d.value == pytest.approx(res.metrics["ridge"]["within_generator_kendall_tau_b"].value
                                    - res.metrics["mid_pmi"]["within_generator_kendall_tau_b"].value, abs=1e-12)
    assert np.isnan(res.metrics["training_mean"]["within_generator_kendall_tau_b"].value)


def test_within_generator_bootstrap_equals_a_loop_over_resampled_prompts(monkeypatch):
    """The within-generator bootstrap (blocks of resample weights) against a loop that draws whole prompts with
    the same generator, rebuilds each resample's items and averages scipy's tau-b over its generators."""
    from scipy.stats import kendalltau

    from judgenet import stats
    from judgenet.evaluation.protocol import _within_generator

    monkeypatch.setattr(stats, "BLOCK_VALUES", 7 * 90)  # several blocks of resamples
    rng = np.random.default_rng(5)
    n, B = 90, 40
    gens, prompts = np.arange(n) % 3, np.arange(n) // 3 % 17
    y = rng.integers(1, 6, n).astype(float)
    scores = {"a": y + rng.normal(0, 2, n), "b": rng.normal(size=n)}
    got = _within_generator(y, scores, gens, prompts, B, seed=11)
    groups = [np.flatnonzero(prompts == u) for u in np.unique(prompts)]
    draw = np.random.default_rng(11)
    want = {p: [] for p in scores}
    for _ in range(B):
        idx = np.concatenate([groups[k] for k in draw.integers(0, len(groups), len(groups))])
        for p, s in scores.items():
            taus = [kendalltau(y[idx][gens[idx] == g], s[idx][gens[idx] == g]).statistic for g in range(3)]
            want[p].append(np.nanmean(taus))
    for p in scores:
        np.testing.assert_allclose(got[p][1], want[p], rtol=0, atol=1e-12)


def test_good_predictor_beats_noisy_mid(res):
    c = res.comparison_table().set_index(["model", "baseline", "measure"])
    for m in ("kendall_tau_b", "pairwise_accuracy"):
        row = c.loc[("ridge", "mid_pmi", m)]
        assert row["difference"] > 0 and row["low"] > 0 and row["excludes_zero"], m
        assert row["p_not_better"] < 0.025
    assert res.best_model() == "ridge"
    assert res.metrics["ridge"]["kendall_tau_b"].value > res.metrics["mid_pmi"]["kendall_tau_b"].value + 0.15


def test_floor_is_reported_honestly(res):
    pg = res.per_generator[res.per_generator["predictor"] == "training_mean"]
    assert pg["kendall_tau_b"].isna().all() and pg["spearman"].isna().all()  # undefined, not 0
    assert np.allclose(pg["pairwise_accuracy"], 0.5)  # predicted ties count 0.5
    # pooled over folds the leave-one-out mean shift makes it anti-correlated, and it is reported as computed
    assert res.metrics["training_mean"]["system_kendall_tau_b"].value < 0
    assert res.metrics["training_mean"]["pairwise_accuracy"].value < 0.5


def test_constant_model_gives_nan_correlation_and_half_accuracy():
    from sklearn.dummy import DummyRegressor

    X, y, gens, prompts = world()
    r = evaluate(X, y, gens, NAMES, {"const": DummyRegressor(strategy="constant", constant=1.0)}, baselines=[],
                 n_resamples=20, per_generator_ci=False)
    assert np.isnan(r.metrics["const"]["kendall_tau_b"].value)
    assert np.isnan(r.metrics["const"]["kendall_tau_b"].low)
    assert r.metrics["const"]["pairwise_accuracy"].value == 0.5
    assert r.best_model() == "const"  # the only model; NaN counts as worst but still returns a name


def test_models_as_names_and_factories_and_determinism():
    X, y, gens, prompts = world()
    kw = dict(baselines=None, prompts=prompts, n_resamples=30, per_generator_ci=False, seed=3)
    a = evaluate(X, y, gens, NAMES, {"r": lambda: make_predictor("ridge")}, **kw)
    b = evaluate(X, y, gens, NAMES, ["ridge"], **kw)
    assert np.array_equal(a.predictions["r"], b.predictions["ridge"])
    assert a.metrics["r"]["kendall_tau_b"] == b.metrics["ridge"]["kendall_tau_b"]
    from sklearn.linear_model import Ridge

    d = evaluate(X, y, gens, NAMES, {"cls": Ridge}, **kw)  # an estimator class is a factory too
    assert np.isfinite(d.predictions["cls"]).all()
    c = evaluate(X, y, gens, NAMES, ["ridge"], threads=1, **kw)  # opt-in thread limit changes nothing else
    assert np.array_equal(c.predictions["ridge"], b.predictions["ridge"]) and c.settings["threads"] == 1
    # defaults resolve mid_pmi and the Mahalanobis column (negated)
    assert a.baselines == ["mid_pmi", "-realism.tiny.mahalanobis2", "training_mean"]
    assert a.settings["bootstrap_unit"] == "prompt"


def test_input_errors():
    X, y, gens, prompts = world()
    with pytest.raises(ConfigError, match="at least 3 generators"):
        evaluate(X, y, np.where(gens == "gen0", "gen0", "gen1"), NAMES, ["ridge"])
    with pytest.raises(ConfigError, match="shapes disagree"):
        evaluate(X[:-1], y, gens, NAMES, ["ridge"])
    with pytest.warns(UserWarning, match="no feature column 'clip_score'"):
        r = evaluate(X, y, gens, NAMES, ["ridge"], baselines=["clip_score", "mid_pmi"], n_resamples=5,
                     per_generator_ci=False)
    assert r.baselines == ["mid_pmi", "training_mean"]  # missing baseline skipped, noted
    assert any("clip_score" in n for n in r.settings["notes"])
    r2 = evaluate(X, y, feature_names=NAMES, models=["ridge"], generators=gens, n_resamples=5, per_generator_ci=False)
    assert np.allclose(r2.predictions["ridge"], r.predictions["ridge"])
    with pytest.raises(ConfigError, match="unknown measures"):
        evaluate(X, y, gens, NAMES, ["ridge"], measures=["kendall_tau_z"])
    with pytest.raises(ConfigError, match="clash"):
        evaluate(X, y, gens, NAMES, {"mid_pmi": make_predictor("ridge")})
    with pytest.raises(ConfigError, match="not an estimator"):
        evaluate(X, y, gens, NAMES, {"bad": lambda: 3}, n_resamples=2)


def test_results_json_round_trip(res, tmp_path):
    text = res.to_json(tmp_path / "r.json")
    assert json.loads(text) == json.loads((tmp_path / "r.json").read_text())
    assert "NaN" not in text  # strict JSON: undefined values are null
    back = EvaluationResults.from_json(tmp_path / "r.json")
    pd.testing.assert_frame_equal(back.table(), res.table())
    pd.testing.assert_frame_equal(back.comparison_table(), res.comparison_table())
    pd.testing.assert_frame_equal(back.predictions, res.predictions, check_dtype=False)
    pd.testing.assert_frame_equal(back.per_generator, res.per_generator, check_dtype=False)
    assert back.ceiling == res.ceiling and back.settings == json.loads(json.dumps(res.settings))


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------
def _num(s):
    return None if s == "n/a" else float(s)


@pytest.fixture(scope="module")
def report_dir(res, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    write_report(res, out, title="synthetic", extra_sections=[("Notes", "hello")])
    return out


def test_report_files_and_numbers_match_results(report_dir):
    out = report_dir
    md_path = out / "report.md"
    for f in ("report.md", "report.html", "results.json", "scatter_per_generator.png", "per_generator_tau.png",
              "pooled_tau_ci.png", "system_ranking.png"):
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    saved = json.loads((out / "results.json").read_text())
    md = md_path.read_text()
    lines = md.splitlines()
    start = lines.index("## Held-out agreement with human scores")
    header = next(l for l in lines[start:] if l.startswith("| predictor"))
    cols = [c.strip().replace("\\", "") for c in header.strip("|").split("|")]
    i = lines.index(header) + 2
    checked = 0
    cell = re.compile(r"^(n/a|-?\d+\.\d{3}) \[(n/a|-?\d+\.\d{3}), (n/a|-?\d+\.\d{3})\]$")
    from judgenet.evaluation.report import predictor_label

    by_label = {predictor_label(p): p for p in saved["metrics"]}  # baselines are named in words
    while lines[i].startswith("|"):
        cells = [c.strip() for c in lines[i].strip("|").split("|")]
        name = cells[0] if cells[0] == "rater ceiling" else by_label[cells[0].replace("\\", "")]
        for m, txt in zip(cols[2:], cells[2:]):
            if name == "rater ceiling":
                continue
            e = saved["metrics"][name][m]
            got = cell.match(txt).groups()
            for g, key in zip(got, ("value", "low", "high")):
                want = e[key]
                assert (g == "n/a") == (want is None), (name, m, key)
                if want is not None:
                    assert _num(g) == pytest.approx(round(want, 3), abs=1e-12), (name, m, key)
                    checked += 1
        i += 1
    assert checked >= 4 * 6 * 3 - 12  # floor has some NaN cells at most
    ceiling_row = next(l for l in lines if l.startswith("| rater ceiling"))
    assert "0.620 [0.550, 0.690]" in ceiling_row and "0.800 [0.770, 0.830]" in ceiling_row
    for c in saved["comparisons"]:
        row = (f"| {c['model']} | {predictor_label(c['baseline'])} | {c['measure']} | "
               f"{c['value']:.3f} [{c['low']:.3f}, {c['high']:.3f}]")
        assert row in md, row
    html_text = (out / "report.html").read_text()
    assert html_text.count("data:image/png;base64,") == 4
    assert "src='scatter" not in html_text and "## " not in html_text  # standalone, rendered
    assert "## Notes" in md and "hello" in md


def test_report_rebuilds_from_saved_results(report_dir, tmp_path):
    again = load_results(report_dir)
    write_report(again, tmp_path / "b", title="synthetic", extra_sections=[("Notes", "hello")])
    assert (report_dir / "report.md").read_text() == (tmp_path / "b" / "report.md").read_text()
    assert (report_dir / "results.json").read_text() == (tmp_path / "b" / "results.json").read_text()
    with pytest.raises(ArtifactError, match="not a judgenet results file"):
        load_results(tmp_path / "missing")
