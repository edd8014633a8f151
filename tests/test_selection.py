"""Active selection: reproducible under a seed, reasons, criteria behave as documented, CSV, pairs,
the simulated-oracle harness and the CLI registration."""
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge

from judgenet.errors import ConfigError
from judgenet.evaluation.active import select, write_selection
from judgenet.evaluation.active_study import active_learning_curve, compare_strategies

# one BLAS/OpenMP thread: with torch's OpenMP runtime loaded beside scikit-learn's (any earlier test that imports
# torch), multi-threaded HistGradientBoosting fits stall for seconds each on a busy machine
pytestmark = pytest.mark.usefixtures("one_thread")


def _pool(seed=0, n_gen=5, per=20):
    rng = np.random.default_rng(seed)
    gens = np.repeat([f"g{i}" for i in range(n_gen)], per)
    prompts = np.tile([f"p{j}" for j in range(per)], n_gen)
    X = rng.normal(size=(gens.size, 3)) + np.repeat(np.arange(n_gen), per)[:, None] * 0.5
    y = X @ [1.0, -1.0, 0.5] + rng.normal(0, 0.3, gens.size)
    return X, y, gens, prompts


def _kw(X, y, gens, prompts, lab):
    return dict(generators=gens[~lab], prompts=prompts[~lab], X_labelled=X[lab], y_labelled=y[lab],
                generators_labelled=gens[lab], prompts_labelled=prompts[lab])


def test_reproducible_under_a_seed_and_seed_matters():
    X, y, gens, prompts = _pool()
    lab = np.zeros(len(y), bool)
    lab[:30] = True
    a = select(Ridge(), X[~lab], 10, **_kw(X, y, gens, prompts, lab), seed=3)
    b = select(Ridge(), X[~lab], 10, **_kw(X, y, gens, prompts, lab), seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert a["item"].is_unique and len(a) == 10 and list(a["rank"]) == list(range(1, 11))
    assert a["reason"].str.match(r"^(uncertainty|disagreement|coverage): ").all()
    # another seed draws other ensemble members: the disagreement of every pool item changes (whole pool ranked,
    # so both seeds report every item)
    n = int((~lab).sum())
    full3 = select(Ridge(), X[~lab], n, **_kw(X, y, gens, prompts, lab), seed=3).set_index("item").sort_index()
    full4 = select(Ridge(), X[~lab], n, **_kw(X, y, gens, prompts, lab), seed=4).set_index("item").sort_index()
    assert list(full3.index) == list(full4.index)
    assert not np.allclose(full3["disagreement"], full4["disagreement"])


def test_coverage_only_picks_unlabelled_generators_first_and_spreads():
    X, y, gens, prompts = _pool()
    lab = np.isin(gens, ["g0", "g1", "g2"])  # g3, g4 have no labels
    pool_g = gens[~lab]
    s = select(Ridge(), X[~lab], 4, weights=(0, 0, 1), **_kw(X, y, gens, prompts, lab))
    assert set(s["generator"]) == {"g3", "g4"}
    assert s["generator"].value_counts().max() == 2  # greedy update alternates generators
    assert s["prompt"].is_unique
    assert set(s["generator"]) <= set(pool_g)


def test_uncertainty_only_is_farthest_point_first():
    X, y, gens, prompts = _pool()
    lab = np.zeros(len(y), bool)
    lab[::3] = True
    s = select(Ridge(), X[~lab], 1, weights=(1, 0, 0), **_kw(X, y, gens, prompts, lab))
    # brute force: standardized distance to the nearest labelled item, over pool ∪ labelled moments
    allX = np.vstack([X[lab], X[~lab]])
    mu, sd = allX.mean(0), allX.std(0)
    Z, ZL = (X[~lab] - mu) / sd, (X[lab] - mu) / sd
    d = np.sqrt(((Z[:, None] - ZL[None]) ** 2).sum(-1)).min(1)
    assert s.attrs["rows"][0] == int(np.argmax(d))
    assert s["uncertainty"].iloc[0] == pytest.approx(d.max())


class _ScaledMean(RegressorMixin, BaseEstimator):
    """predict(X) = mean(y seen at fit) · X[:, 0]: members fitted on different generators disagree in proportion to
    |x0|, whichever generators each member drew — so the spread's ranking is known without the ensemble's draws."""

    def fit(self, X, y):
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return self.mean_ * np.asarray(X)[:, 0]


def test_disagreement_only_takes_largest_ensemble_spread():
    X, y, gens, prompts = _pool()
    y = y + np.repeat(np.arange(5.0), 20) * 3  # generators differ in mean: members fitted on other halves differ
    lab = np.zeros(len(y), bool)
    lab[:60] = True
    s = select(_ScaledMean(), X[~lab], 5, weights=(0, 1, 0), **_kw(X, y, gens, prompts, lab), seed=1)
    top = np.argsort(-np.abs(X[~lab][:, 0]))[:5]
    assert sorted(s.attrs["rows"]) == sorted(top.tolist())
    ratio = s["disagreement"].to_numpy() / np.abs(X[~lab][s.attrs["rows"], 0])
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)  # spread = |x0| · std of the members' means


def test_pairs_compare_generators_on_one_prompt(tmp_path):
    X, y, gens, prompts = _pool()
    lab = np.zeros(len(y), bool)
    lab[:30] = True
    s = select(Ridge(), X[~lab], 6, pairs=True, items=[f"img{i}.png" for i in range((~lab).sum())],
               **_kw(X, y, gens, prompts, lab))
    assert len(s) == 6 and (s["generator_a"] != s["generator_b"]).all()
    assert s["prompt"].is_unique
    assert set(s.columns) >= {"item_a", "item_b", "reason"}
    f = write_selection(s, tmp_path / "pairs.csv")
    back = pd.read_csv(f)
    assert list(back["item_a"]) == list(s["item_a"])
    with pytest.raises(ConfigError, match="generators and prompts"):
        select(Ridge(), X[~lab], 3, pairs=True, X_labelled=X[lab], y_labelled=y[lab])


def test_bad_inputs():
    X, y, gens, prompts = _pool()
    with pytest.raises(ConfigError, match="budget"):
        select(Ridge(), X, 0, X_labelled=X, y_labelled=y)
    with pytest.raises(ConfigError, match="unfitted"):
        select(Ridge(), X, 3)
    with pytest.raises(ConfigError, match="weights"):
        select(Ridge(), X, 3, X_labelled=X, y_labelled=y, weights=(1, -1, 0))
    with pytest.raises(ConfigError, match="generators has"):
        select(Ridge(), X, 3, X_labelled=X, y_labelled=y, generators=gens[:5])


def test_active_learning_harness_and_compare():
    X, y, gens, prompts = _pool(n_gen=6)
    curves = []
    for seed in range(2):
        for strat in ("random", "active"):
            c = active_learning_curve(X, y, gens, prompts, Ridge(), strategy=strat, n_test_generators=2,
                                      initial=10, batch=5, rounds=2, seed=seed)
            assert list(c["labels"]) == [10, 15, 20]
            curves.append(c)
    all_curves = pd.concat(curves)
    assert all_curves["kendall_tau_b"].between(-1, 1).all()
    res = compare_strategies(all_curves, n_resamples=200)
    # independent recomputation with pandas: means per (strategy, labels), paired differences, the target
    means = all_curves.groupby(["strategy", "labels"])["kendall_tau_b"].mean()
    for _, r in res["table"].iterrows():
        assert r["kendall_tau_b"] == pytest.approx(means[(r["strategy"], r["labels"])], abs=1e-12)
        assert r["low"] <= r["kendall_tau_b"] + 1e-12 and r["kendall_tau_b"] <= r["high"] + 1e-12
    wide = all_curves.pivot_table(index=["seed", "labels"], columns="strategy", values="kendall_tau_b")
    diff = (wide["active"] - wide["random"]).groupby(level="labels").mean()
    np.testing.assert_allclose(res["differences"]["active_minus_random"], diff.to_numpy(), atol=1e-12)
    assert res["target"] == pytest.approx(means[("random", 20)], abs=1e-12)
    if res["labels_active"] is not None and res["labels_random"] is not None:
        assert res["saving"] == pytest.approx(1 - res["labels_active"] / res["labels_random"])


def test_select_is_a_built_in_command_and_help_imports_nothing_heavy():
    import subprocess
    import sys

    from judgenet import cli

    parser = cli.build_parser()
    args = parser.parse_args(["select", "--predictor", "p", "--images", "pool", "--budget", "5", "--weights", "1,0,2"])
    assert args.budget == 5 and args.images == ["pool"] and args.weights == (1.0, 0.0, 2.0)
    code = ("import sys; from judgenet import cli; cli.build_parser(); "
            "print(sorted(m for m in ('sklearn', 'torch', 'scipy', 'pandas') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_select_command_end_to_end(userdata, tmp_path, capsys):
    """judgenet select on generator folders with a trained predictor writes a readable CSV."""
    import judgenet as jn
    from judgenet import cli

    cache = tmp_path / "cache"
    res = jn.train(userdata / "labels.csv", images=userdata / "gen", reference=userdata / "real",
                   out=tmp_path / "pred", model="ridge", question="realism", n_resamples=20, cache_dir=cache,
                   backbones=["tiny"])
    folders = sorted(p for p in (userdata / "gen").iterdir() if p.is_dir())
    out = tmp_path / "sel.csv"
    argv = ["select", "--predictor", str(res.predictor), "--budget", "6", "--out", str(out), "--quiet",
            "--prompts", str(userdata / "prompts.csv"), "--cache", str(cache)]
    for f in folders:
        argv += ["--images", str(f)]
    assert cli.main(argv) == 0
    sel = pd.read_csv(out)
    assert len(sel) == 6 and sel["item"].is_unique
    assert sel["generator"].nunique() >= 3  # coverage spreads the batch over generators
    assert all(p.endswith(".png") for p in sel["item"])
    bad = list(argv)
    bad[bad.index("--budget") + 1] = "0"
    with pytest.raises(SystemExit) as e:  # refused at parse time: a one-line error, not a traceback
        cli.main(bad)
    assert e.value.code == 2 and "--budget: expected a whole number >= 1" in capsys.readouterr().err
