"""Issue 15: intervals for pairwise (comparative-label) predictors — win-rate calibration on held-out generators,
``win_rate_intervals`` and the ``score`` job's ``p_win`` columns through the Python API and the CLI."""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from judgenet.errors import ConfigError
from judgenet.evaluation.conformal import Calibration
from judgenet.evaluation.conformal_pairs import calibrate_win_rates, win_rate_dict, win_rate_intervals
from judgenet.predictors.pairwise import BradleyTerry

# one BLAS/OpenMP thread: with torch's OpenMP runtime loaded beside scikit-learn's (any earlier test that imports
# torch), multi-threaded HistGradientBoosting fits stall for seconds each on a busy machine
pytestmark = pytest.mark.usefixtures("one_thread")


def _sig(d):
    return 1.0 / (1.0 + np.exp(-np.asarray(d, dtype=np.float64)))


# ---------------------------------------------------------------------------------------------
# a synthetic world where the truth is known: utility = features + an unobservable generator shift
# ---------------------------------------------------------------------------------------------
def _world(seed, n_gen, n_prompts=10, tau=0.6, eps=0.4):
    rng = np.random.default_rng(seed)
    gens = np.repeat(np.arange(n_gen), n_prompts)
    prompts = np.tile(np.arange(n_prompts), n_gen)
    X = rng.normal(size=(n_gen * n_prompts, 3))
    shift = rng.normal(0.0, tau, n_gen)
    u = X @ [1.0, -0.7, 0.4] + shift[gens] + rng.normal(0.0, eps, gens.size)
    return rng, X, gens.astype(str), prompts.astype(str), u


def _panel(rng, u, gens, prompts, blocks, votes=5):
    """Side-by-side judgments: within each block of generators, every cross-generator pair of same-prompt
    items judged by ``votes`` raters (Bernoulli σ(u_a − u_b)). Rows [a, b, share preferring a, votes]."""
    rows = []
    for blk in blocks:
        for p in np.unique(prompts):
            items = [np.flatnonzero((gens == str(g)) & (prompts == p))[0] for g in blk]
            for i in range(len(items)):
                for j in range(i + 1, len(items)):
                    a, b = items[i], items[j]
                    rows.append([a, b, rng.binomial(votes, _sig(u[a] - u[b])) / votes, votes])
    return np.array(rows, dtype=np.float64)


def _shares(pairs, n):
    """Per item: share of its judgments it won (hand loop)."""
    won, seen = np.zeros(n), np.zeros(n)
    for a, b, pr, w in pairs:
        a, b = int(a), int(b)
        won[a] += w * pr
        won[b] += w * (1 - pr)
        seen[a] += w
        seen[b] += w
    return won / np.where(seen > 0, seen, np.nan)


def test_win_probabilities_equal_a_brute_force_average():
    rng = np.random.default_rng(3)
    u = rng.normal(size=9)
    g = np.array(list("aaabbbccc"))
    pr = np.array(["x", "y", "z", "x", "y", "q", "x", "x", "y"], dtype=object)
    cal = Calibration(np.array([0.1, 0.2, 0.3]), np.array(["a", "b", "c"]), ["a", "b", "c"], np.array([3, 3, 3]),
                      np.array([0.01, -0.02, 0.0]), 0.004, 0.02, None, 1.0, 0.5)
    for prompts in (None, pr):
        img, gen = win_rate_intervals(u, g, cal, prompts=prompts)
        for i in range(u.size):
            per_opp = []
            for h in sorted(set(g) - {g[i]}):
                opp = [j for j in range(u.size) if g[j] == h and (prompts is None or prompts[j] == prompts[i])]
                opp = opp or [j for j in range(u.size) if g[j] == h]  # no same-prompt image: all of h's
                per_opp.append(np.mean([_sig(u[i] - u[j]) for j in opp]))
            assert img["p_win"][i] == pytest.approx(np.mean(per_opp), abs=1e-12)
        assert list(gen["n_opponents"]) == [2, 2, 2]
        for _, r in gen.iterrows():
            sel = g == r["generator"]
            assert r["p_win"] == pytest.approx(img["p_win"][sel].mean(), abs=1e-12)
            half = cal.group_quantile(0.5) * np.sqrt(cal.tau2 * 1.5 + cal.within_var / 3)
            assert r["p_win_low"] == pytest.approx(max(r["p_win"] - half, 0.0), abs=1e-12)
            assert r["p_win_low"] <= r["p_win"] <= r["p_win_high"]
    # a single generator has no opponent: no win rate
    img, gen = win_rate_intervals(u[:3], g[:3], cal)
    assert img["p_win"].isna().all() and gen["p_win"].isna().all()


def test_win_rate_residuals_equal_a_hand_loop_over_held_out_generators():
    rng, X, gens, prompts, u = _world(1, 6, n_prompts=6)
    blocks = [b for _ in range(2) for b in rng.permutation(6).reshape(-1, 3)]
    pairs = _panel(rng, u, gens, prompts, blocks)
    pairs = np.r_[pairs, [[0, 1, 1.0, 3.0]]]  # a within-generator pair: fitted on, never a calibration score
    cal = calibrate_win_rates(BradleyTerry(), X, pairs, gens, coverage=0.8)
    num, den = {}, {}
    for g in np.unique(gens):
        keep = [r for r in pairs if gens[int(r[0])] != g and gens[int(r[1])] != g]
        m = BradleyTerry().fit(X, np.array(keep))
        ug = m.predict(X)
        for a, b, pr, w in pairs:
            a, b = int(a), int(b)
            if gens[a] == gens[b] or g not in (gens[a], gens[b]):
                continue
            mine, other, won = (a, b, pr) if gens[a] == g else (b, a, 1 - pr)
            num[mine] = num.get(mine, 0.0) + w * (won - _sig(ug[mine] - ug[other]))
            den[mine] = den.get(mine, 0.0) + w
    items = sorted(num)
    resid = np.array([num[i] / den[i] for i in items])
    np.testing.assert_allclose(np.sort(cal.scores), np.sort(np.abs(resid)), atol=1e-9)
    means = pd.Series(resid, index=gens[items]).groupby(level=0).mean()
    np.testing.assert_allclose(cal.group_errors, means.loc[cal.group_names].to_numpy(), atol=1e-9)
    d = Calibration.from_dict(win_rate_dict(cal))
    assert win_rate_dict(cal)["target"] == "win_rate"
    np.testing.assert_array_equal(d.scores, cal.scores)
    with pytest.raises(ConfigError, match=">= 3 generators"):
        calibrate_win_rates(BradleyTerry(), X, pairs[np.isin(gens[pairs[:, 0].astype(int)], ["0", "1"]) &
                                                      np.isin(gens[pairs[:, 1].astype(int)], ["0", "1"])], gens)


def test_win_rate_intervals_cover_new_generators_where_the_truth_is_known():
    """20 training generators; 60 new generators scored in blocks of 4 against each other (all new), judged by
    a fresh simulated panel: item and generator coverage near the nominal 90% (the K+1 rule with 20 calibration
    generators and the opponents' term make the generator level conservative). Intervals for the generator's mean
    that treat its images as independent (item quantile / √n: no shared generator shift) under-cover badly — the
    check can fail."""
    rng, X, gens, prompts, u = _world(0, 80)
    train_blocks = [b for _ in range(2) for b in rng.permutation(20).reshape(-1, 4)]
    cal = calibrate_win_rates(BradleyTerry(), X, _panel(rng, u, gens, prompts, train_blocks), gens, coverage=0.9)
    model = BradleyTerry().fit(X, _panel(rng, u, gens, prompts, train_blocks))
    item_cov, gen_in, gen_in_naive, widths = [], [], [], []
    for blk in np.arange(20, 80).reshape(-1, 4):
        idx = np.flatnonzero(np.isin(gens, blk.astype(str)))
        truth = _shares(_panel(rng, u, gens, prompts, [blk]), u.size)[idx]
        img, gen = win_rate_intervals(model.predict(X[idx]), gens[idx], cal, prompts=prompts[idx])
        assert ((img["p_win_low"] <= img["p_win"]) & (img["p_win"] <= img["p_win_high"])).all()
        item_cov.append(np.mean((truth >= img["p_win_low"]) & (truth <= img["p_win_high"])))
        for r in gen.itertuples():
            t = truth[gens[idx] == r.generator].mean()
            gen_in.append(r.p_win_low <= t <= r.p_win_high)
            gen_in_naive.append(abs(t - r.p_win) <= cal.item_quantile() / np.sqrt(r.n_images))
            widths.append(r.p_win_high - r.p_win_low)
    assert 0.84 <= np.mean(item_cov) <= 0.96, np.mean(item_cov)
    assert 0.85 <= np.mean(gen_in) <= 1.0, np.mean(gen_in)
    assert np.mean(widths) < 0.6  # informative, not [0, 1]
    assert np.mean(gen_in_naive) < 0.75, np.mean(gen_in_naive)


def test_higher_coverage_gives_wider_win_rate_intervals():
    rng, X, gens, prompts, u = _world(2, 12)
    pairs = _panel(rng, u, gens, prompts, [b for _ in range(2) for b in rng.permutation(12).reshape(-1, 4)])
    cal = calibrate_win_rates(BradleyTerry(), X, pairs, gens, coverage=0.9)
    uu = BradleyTerry().fit(X, pairs).predict(X)
    w = {c: win_rate_intervals(uu, gens, cal, prompts=prompts, coverage=c) for c in (0.5, 0.8)}
    for k in (0, 1):
        lo5, hi5 = (w[0.5][k][c].to_numpy() for c in ("p_win_low", "p_win_high"))
        lo8, hi8 = (w[0.8][k][c].to_numpy() for c in ("p_win_low", "p_win_high"))
        assert (lo8 <= lo5 + 1e-12).all() and (hi8 >= hi5 - 1e-12).all() and (hi8 - lo8).sum() > (hi5 - lo5).sum()


# ---------------------------------------------------------------------------------------------
# end to end: train on side-by-side labels, score with intervals (Python API and CLI)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def side_by_side(userdata, tmp_path_factory):
    """Side-by-side judgments derived from the userdata raters: per prompt and rater, every pair of items of
    different generators, the choice following that rater's two realism scores."""
    lab = pd.read_csv(userdata / "labels.csv")
    lab = lab[lab["question"] == "realism"][["item_id", "image", "generator", "prompt", "rater_id", "score"]]
    m = lab.merge(lab, on=["prompt", "rater_id"], suffixes=("_a", "_b"))
    m = m[(m["item_id_a"] < m["item_id_b"]) & (m["generator_a"] != m["generator_b"])]
    m["choice"] = np.where(m["score_a"] > m["score_b"], "a", np.where(m["score_a"] < m["score_b"], "b", "tie"))
    m["question"] = "realism"
    path = tmp_path_factory.mktemp("sbs") / "prefs.csv"
    m[["item_id_a", "item_id_b", "image_a", "image_b", "generator_a", "generator_b", "prompt", "rater_id",
       "question", "choice"]].rename(columns={"item_id_a": "item_a", "item_id_b": "item_b"}).to_csv(path, index=False)
    return path


def test_pairwise_predictor_scores_with_win_rate_intervals_api_and_cli(side_by_side, userdata, tmp_path):
    import judgenet as jn

    cache = tmp_path / "cache"
    res = jn.train(side_by_side, images=userdata / "gen", reference=userdata / "real", out=tmp_path / "p",
                   model="bradley_terry", n_resamples=20, cache_dir=cache, backbones=["tiny"])
    meta = json.loads((res.predictor / "meta.json").read_text())
    cal = meta["extra"]["conformal_pairs"]
    assert cal["target"] == "win_rate" and len(set(cal["groups"])) == 5 and "conformal" not in meta["extra"]
    gens = sorted(p for p in (userdata / "gen").iterdir() if p.is_dir())
    sc = jn.score(gens, predictor=res.predictor, prompts=userdata / "prompts.csv", out=tmp_path / "s",
                  n_resamples=20, cache_dir=cache, coverage=0.8)  # 5 calibration generators reach 5/6 at most
    pi, pg = sc.per_image, sc.per_generator
    assert "pred_low" not in pi  # utilities have no absolute scale: intervals are on win probabilities
    for t, lo, hi in ((pi, "p_win_low", "p_win_high"), (pg, "p_win_low", "p_win_high")):
        assert t["p_win"].between(0, 1).all()
        assert ((t[lo] <= t["p_win"]) & (t["p_win"] <= t[hi])).all()
        assert ((t[hi] - t[lo]) < 1.0).any()
    assert (pg["interval_coverage"] == 0.8).all() and (pg["n_opponents"] == len(gens) - 1).all()
    # independent: each image's p_win from its utility vs the same-prompt images of every other generator; the
    # generator's p_win is the mean of its images'
    u, g, pr = pi["predicted_realism"].to_numpy(), pi["generator"].to_numpy(), pi["prompt"].to_numpy()
    for i in range(len(pi)):
        opp = [np.mean(_sig(u[i] - u[(g == h) & (pr == pr[i])])) for h in pd.unique(g) if h != g[i]]
        assert pi["p_win"].iloc[i] == pytest.approx(np.mean(opp), abs=1e-12)
    for _, r in pg.iterrows():
        assert r["p_win"] == pytest.approx(pi.loc[pi["generator"] == r["generator"], "p_win"].mean(), abs=1e-12)
    # the CLI: --coverage sets the level; the per-generator CSV carries the interval columns
    env = {**os.environ, "JUDGENET_CACHE_DIR": str(cache)}
    p = subprocess.run([sys.executable, "-m", "judgenet.cli", "score", *map(str, gens), "--predictor",
                        str(res.predictor), "--prompts", str(userdata / "prompts.csv"), "--out", str(tmp_path / "c"),
                        "--coverage", "0.6", "--resamples", "20", "--quiet"], capture_output=True, text=True, env=env,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    cli = pd.read_csv(tmp_path / "c" / "per_generator.csv").set_index("generator")
    api = pg.set_index("generator")
    assert (cli["interval_coverage"] == 0.6).all()
    # another process, other BLAS threads: mid_pmi (a 6e12-conditioned covariance inverse) moves ~1e-5 relative,
    # the win probabilities ~1e-7
    np.testing.assert_allclose(cli.loc[api.index, "p_win"], api["p_win"], atol=1e-6)
    assert ((cli.loc[api.index, "p_win_high"] - cli.loc[api.index, "p_win_low"]).to_numpy()
            <= (api["p_win_high"] - api["p_win_low"]).to_numpy() + 1e-12).all()
