"""Held-out-generator protocol for pairs (evaluation/pairwise.py): measures against direct
computations, folds, leakage, bad input, rater ceiling."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.base import BaseEstimator

from judgenet.errors import ConfigError
from judgenet.evaluation.pairwise import Pairs, cv_pairs, evaluate_pairs, pair_measures, pairwise_rater_ceiling
from judgenet.predictors.pairwise import BradleyTerry, _PairwiseMixin


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny fits only lose from threads


def _world(n_prompts=12, gens=("g0", "g1", "g2", "g3"), raters=3, seed=0, within=True):
    """Items = prompt x generator x 2 severities; pairs within a prompt; judgments from `raters`."""
    rng = np.random.default_rng(seed)
    quality = {g: q for g, q in zip(gens, np.linspace(-1, 1, len(gens)))}
    rows = []
    for p in range(n_prompts):
        for g in gens:
            for sev in (0, 1):
                rows.append((f"p{p}", g, quality[g] - 0.7 * sev + 0.3 * rng.normal()))
    prompts = np.array([r[0] for r in rows])
    generators = np.array([r[1] for r in rows])
    u = np.array([r[2] for r in rows])
    X = np.c_[u + 0.3 * rng.normal(size=u.size), rng.normal(size=u.size), -u + rng.normal(size=u.size)]
    ia, ib, pref, rater = [], [], [], []
    for p in range(n_prompts):
        idx = np.flatnonzero(prompts == f"p{p}")
        for i, j in itertools.combinations(idx, 2):
            if generators[i] == generators[j] and not within:
                continue
            if rng.random() < 0.5:
                continue
            for r in range(raters):
                d = u[i] - u[j] + 0.5 * rng.normal()
                ia.append(i), ib.append(j), rater.append(f"r{r}")
                pref.append(0.5 if abs(d) < 0.05 else float(d > 0))
    pairs = Pairs.from_judgments(ia, ib, pref, rater_id=rater, prompt=prompts[np.array(ia)])
    return X, pairs, generators, prompts, u


def test_measures_equal_a_direct_computation_on_a_small_case():
    d = np.array([1.0, -2.0, 0.0, 3.0, 0.5])
    p = np.array([1.0, 2 / 3, 1 / 3, 0.5, 0.0])
    q = np.array([0.9, 0.2, 0.5, 0.7, 0.4])
    m = pair_measures(d, q, p, "exclude")
    ratio = {k: num.sum() / den.sum() for k, (num, den) in m.items()}
    # by hand: human majorities a, a, b, tie, b; predicted a, b, tie, a, a
    assert ratio["accuracy"] == pytest.approx((1 + 0 + 0.5 + 0) / 4)
    num, den = pair_measures(d, q, p, "half")["accuracy"]
    assert num.sum() / den.sum() == pytest.approx((1 + 0 + 0.5 + 0.5 + 0) / 5)
    margins = np.array([1, 1 / 3, 1 / 3, 0, 1])
    assert ratio["margin_accuracy"] == pytest.approx((1 * 1 + 0 + 0.5 / 3 + 0 + 0) / margins.sum())
    ll = -np.mean([np.log(0.9), 2 / 3 * np.log(0.2) + 1 / 3 * np.log(0.8), 1 / 3 * np.log(0.5) + 2 / 3 * np.log(0.5),
                   0.5 * np.log(0.7) + 0.5 * np.log(0.3), np.log(0.6)])
    assert ratio["log_loss"] == pytest.approx(ll, rel=1e-12)
    assert ratio["brier"] == pytest.approx(np.mean((q - p) ** 2), rel=1e-12)
    assert ratio["vote_agreement"] == pytest.approx(np.mean([1.0, 1 / 3, 0.5, 0.5, 0.0]))


def test_from_judgments_aggregates_either_order_and_weights():
    P = Pairs.from_judgments([0, 1, 0, 2], [1, 0, 1, 0], [1.0, 1.0, 0.5, 0.0], weight=[1, 1, 2, 1],
                             rater_id=list("abcd"))
    assert len(P) == 2
    k = {(int(a), int(b)): (p, w, n) for a, b, p, w, n in zip(P.a, P.b, P.preference, P.weight, P.n_votes)}
    # (0,1): a prefers 0; (1,0) choice 1 -> prefers 1 -> 0 for item 0; tie weight 2
    assert k[(0, 1)] == (pytest.approx((1 + 0 + 2 * 0.5) / 4), 4.0, 3.0)
    assert k[(0, 2)] == (1.0, 1.0, 1.0)


def test_protocol_pairs_folds_and_measures_recomputed_from_predictions():
    X, pairs, gens, prompts, u = _world()
    res = evaluate_pairs(X, pairs, gens, ["signal", "noise", "anti"], {"bt": BradleyTerry()}, prompts=prompts,
                         baselines=["signal", "-anti"], n_resamples=200)
    pr = res.predictions
    # fold g tests exactly the pairs involving g; every cross pair is tested in two folds, within pairs in one
    for g in np.unique(gens):
        sub = pr[pr["fold"] == g]
        involved = np.flatnonzero((gens[pairs.a] == g) | (gens[pairs.b] == g))
        assert sorted(sub["pair"]) == sorted(involved)
    counts = pr.groupby("pair").size()
    cross = gens[pairs.a] != gens[pairs.b]
    assert (counts[np.flatnonzero(cross)] == 2).all() and (counts[np.flatnonzero(~cross)] == 1).all()
    # pooled accuracy equals a direct recomputation from the stored predictions
    for kind in ("all", "within", "cross"):
        sub = pr if kind == "all" else pr[pr["kind"] == kind]
        h, d = np.sign(sub["preference"] - 0.5), np.sign(sub["d:bt"])
        keep = h != 0
        direct = np.mean(np.where(d[keep] == 0, 0.5, (d[keep] == h[keep]).astype(float)))
        e = res.by_pairs[kind]["bt"]["accuracy"]
        assert e.value == pytest.approx(direct) and e.low <= e.value <= e.high
    assert res.metrics["bt"]["accuracy"].value > 0.7
    assert res.metrics["signal"]["accuracy"].value > 0.7
    assert "system_accuracy" in res.metrics["bt"]
    comp = res.comparisons[("bt", "signal", "accuracy")]
    assert comp == res.comparisons_by_pairs[("bt", "signal", "accuracy", "all")]
    assert comp.value == pytest.approx(res.metrics["bt"]["accuracy"].value
                                       - res.metrics["signal"]["accuracy"].value)
    assert "| all | bt |" in res.markdown()
    assert res.to_json()


def test_system_accuracy_direct():
    X, pairs, gens, prompts, u = _world(n_prompts=6)
    res = evaluate_pairs(X, pairs, gens, ["signal", "noise", "anti"], {"bt": BradleyTerry()}, prompts=prompts,
                         baselines=["signal"], n_resamples=50)
    pr = res.predictions[res.predictions["kind"] == "cross"]
    right = []
    rows = {}
    for r in pr.itertuples():
        lo, hi = sorted([r.generator_a, r.generator_b])
        sgn = 1 if r.generator_a == lo else -1
        rows.setdefault((r.fold, lo, hi), []).append((sgn, r.preference, r.Index))
    for key, items in rows.items():
        human = np.mean([p if s == 1 else 1 - p for s, p, _ in items])
        dd = [s * pr.loc[i, "d:signal"] for s, _, i in items]
        share = np.mean([1.0 if x > 0 else 0.0 if x < 0 else 0.5 for x in dd])
        if human == 0.5:
            continue
        right.append(0.5 if share == 0.5 else float((share > 0.5) == (human > 0.5)))
    assert res.metrics["signal"]["system_accuracy"].value == pytest.approx(np.mean(right))


class _Spy(_PairwiseMixin, BaseEstimator):
    """Records, per fit (folds in order), whether a marked row reached training."""

    seen: list = []

    def fit_pairs(self, X, ia, ib, p, sample_weight=None):
        _Spy.seen.append(bool((np.asarray(X)[:, 1] > 1e5).any()))
        return self

    def predict(self, X):
        return np.asarray(X)[:, 0]


def test_leakage_nothing_about_the_held_out_generator_reaches_training():
    X, pairs, gens, prompts, u = _world(n_prompts=5)
    order = list(dict.fromkeys(gens))
    for k, g in enumerate(order):
        Xm = X.copy()
        Xm[gens == g, 1] = 1e6  # marker on one generator's features
        _Spy.seen = []
        evaluate_pairs(Xm, pairs, gens, ["s", "n", "a"], {"spy": _Spy()}, prompts=prompts, baselines=[],
                       n_resamples=10, ceiling=False)
        # the marker reaches training in every fold except the one holding g out
        assert _Spy.seen == [j != k for j in range(len(order))]
        # same on the crossed split: no fold that tests g's items trains on any of g's items
        _Spy.seen = []
        res = evaluate_pairs(Xm, pairs, gens, ["s", "n", "a"], {"spy": _Spy()}, prompts=prompts, baselines=[],
                             n_resamples=10, ceiling=False, split="crossed", n_prompt_folds=2)
        held = [f["held_generator"] for f in res.folds]
        assert [s for s, h in zip(_Spy.seen, held) if h == g] == [False] * held.count(g)
    # the held-out generator's labels: flipping every judgment involving g leaves fold g's predictions unchanged
    g = "g1"
    inv = (gens[pairs.a] == g) | (gens[pairs.b] == g)
    flipped = Pairs(pairs.a, pairs.b, np.where(inv, 1 - pairs.preference, pairs.preference), pairs.n_votes,
                    pairs.weight, pairs.prompt)
    kw = dict(prompts=prompts, baselines=[], n_resamples=10, ceiling=False)
    r1 = evaluate_pairs(X, pairs, gens, ["s", "n", "a"], {"bt": BradleyTerry()}, **kw).predictions
    r2 = evaluate_pairs(X, flipped, gens, ["s", "n", "a"], {"bt": BradleyTerry()}, **kw).predictions
    assert np.allclose(r1.loc[r1["fold"] == g, "d:bt"], r2.loc[r2["fold"] == g, "d:bt"])
    assert not np.allclose(r1.loc[r1["fold"] != g, "d:bt"], r2.loc[r2["fold"] != g, "d:bt"])


def test_nested_selection_and_crossed_split_and_tuning_hook():
    X, pairs, gens, prompts, u = _world(n_prompts=10)
    res = evaluate_pairs(X, pairs, gens, ["s", "n", "a"], {"bt": BradleyTerry()}, prompts=prompts, baselines=[],
                         param_grid={"bt": {"C": [0.01, 1.0]}}, n_resamples=20)
    assert all("chosen_params" in f for f in res.folds)
    res = evaluate_pairs(X, pairs, gens, ["s", "n", "a"], {"bt": BradleyTerry()}, prompts=prompts, baselines=[],
                         split="crossed", n_prompt_folds=2, n_resamples=20)
    assert res.metrics["bt"]["accuracy"].value > 0.6
    assert cv_pairs(BradleyTerry(), X, pairs, gens, prompts) > 0.6
    pytest.importorskip("optuna")
    from judgenet.tuning import PairwiseObjective, tune

    names = ["s", "n", "a"]
    obj = PairwiseObjective(X, pairs, gens, names, {"all": names}, prompts=prompts, families=("bradley_terry",))
    study = tune(obj, n_trials=2, progress=False)
    assert study.best_value > 0.6


def test_bad_input_generators_without_pairs():
    X, pairs, gens, prompts, u = _world(n_prompts=4)
    gens2 = gens.copy()
    X2 = np.vstack([X, X[:2]])
    gens2 = np.r_[gens, ["lonely", "lonely"]]
    with pytest.raises(ConfigError, match="'lonely' appears in no pair"):
        evaluate_pairs(X2, pairs, gens2, ["s", "n", "a"], ["bradley_terry"], baselines=[], n_resamples=10)
    res = evaluate_pairs(X2, pairs, gens2, ["s", "n", "a"], ["bradley_terry"], baselines=[], n_resamples=10,
                         lenient=True)
    assert any("lonely" in s for s in res.settings["skipped_folds"])
    # a generator with only within pairs
    keep = ~(((gens[pairs.a] == "g0") | (gens[pairs.b] == "g0")) & (gens[pairs.a] != gens[pairs.b]))
    sub = Pairs(pairs.a[keep], pairs.b[keep], pairs.preference[keep], pairs.n_votes[keep], pairs.weight[keep],
                pairs.prompt[keep])
    with pytest.raises(ConfigError, match="'g0' has no pairs against other generators"):
        evaluate_pairs(X, sub, gens, ["s", "n", "a"], ["bradley_terry"], baselines=[], n_resamples=10)
    with pytest.raises(ConfigError, match="tie_policy"):
        evaluate_pairs(X, pairs, gens, ["s", "n", "a"], ["bradley_terry"], tie_policy="coin")
    with pytest.raises(ConfigError, match="not a pairwise family"):
        evaluate_pairs(X, pairs, gens, ["s", "n", "a"], ["ridge"], baselines=[])


def test_rater_ceiling_against_brute_force():
    # 3 pairs; votes: pair0 a,a,b ; pair1 a,tie ; pair2 b (single judgment: excluded)
    P = Pairs.from_judgments([0, 0, 0, 1, 1, 2], [1, 1, 1, 2, 2, 3], [1, 1, 0, 1, 0.5, 0],
                             rater_id=list("xyzxyx"), prompt=["p", "p", "p", "q", "q", "r"])
    c = pairwise_rater_ceiling(P, n_resamples=50)
    # pair0: x (a) vs others {a,b} -> tie: excluded; y likewise excluded; z (b) vs others {a,a} -> a: 0
    # pair1: x (a) vs other tie -> excluded; y (tie) vs other a -> 0.5
    assert c["rater_vs_majority"].value == pytest.approx((0 + 0.5) / 2)
    c2 = pairwise_rater_ceiling(P, tie_policy="half", n_resamples=50)
    assert c2["rater_vs_majority"].value == pytest.approx((0.5 + 0.5 + 0 + 0.5 + 0.5) / 5)
    # rater pairs with untied choices: pair0 (x,y) agree, (x,z),(y,z) disagree; pair1 none untied pair
    assert c["rater_pair_agreement"].value == pytest.approx(1 / 3)


def test_vote_count_rows_expand_to_judgments():
    import pandas as pd

    from judgenet.evaluation.pairwise import pairs_from_labels
    from judgenet.labels import PairwiseLabelSet

    f = pd.DataFrame({"item_a": ["x", "z"], "item_b": ["y", "y"], "question": ["q", "q"], "preference": [0.8, 0.0],
                      "image": ["i1", "i2"], "n_votes": [5, 3], "votes_a": [4, 0]})
    P = pairs_from_labels(PairwiseLabelSet.from_frame(f), "q", ["x", "y", "z"])
    k = {(int(a), int(b)): (p, n) for a, b, p, n in zip(P.a, P.b, P.preference, P.n_votes)}
    assert k[(0, 1)] == (pytest.approx(0.8), 5.0) and k[(1, 2)] == (1.0, 3.0)  # (z, y) flipped to (y, z)
    c = pairwise_rater_ceiling(P, n_resamples=20)
    # pair (x,y): 4 a-votes each vs others 3a/1b -> right; the b-vote vs 4a -> wrong: 4/5; pair 2: 3/3
    assert c["rater_vs_majority"].value == pytest.approx((4 + 3) / 8)
    assert list(P.prompt) == ["i1", "i2"]


def test_pascal50s_caption_pairs_with_text_features_only():
    """Image-free use: Pascal-50S caption pairs through the same protocol with text features."""
    from judgenet.evaluation.pairwise import pairs_from_labels
    from judgenet.labels import load_label_set

    try:
        ps = load_label_set("pascal50s")
    except Exception as exc:  # the shared label-sets folder is absent in a clean clone
        pytest.skip(f"Pascal-50S not available: {exc}")
    items = ps.items()
    text = {}
    for side in ("a", "b"):
        text.update(dict(zip(ps.frame[f"item_{side}"], ps.frame[f"caption_{side}"])))
    cap = items["item_id"].map(text).astype(str).str.strip()
    X = np.c_[cap.str.len(), cap.str.split().str.len()].astype(float)  # text-only features, no images
    assert items["image"].isna().all()
    pairs = pairs_from_labels(ps, "better_caption", items["item_id"].tolist())
    assert len(pairs) == 4000 and pairs.n_votes.min() >= 10
    res = evaluate_pairs(X, pairs, items["generator"].to_numpy(), ["length", "words"], ["bradley_terry"],
                         baselines=["length"], n_resamples=100)
    assert res.settings["bootstrap_unit"] == "prompt"  # clustered by image
    acc = res.metrics["bradley_terry"]["accuracy"]
    assert 0.4 < acc.value < 0.8 and acc.low < acc.value < acc.high
    assert 0.6 < res.ceiling["rater_vs_majority"].value < 1.0


def test_judgments_naming_items_without_features_are_refused_or_listed():
    import pandas as pd

    from judgenet.errors import LabelError
    from judgenet.evaluation.pairwise import pairs_from_labels
    from judgenet.labels import PairwiseLabelSet

    ls = PairwiseLabelSet.from_frame(pd.DataFrame({"item_a": ["x", "x", "w"], "item_b": ["y", "z", "y"],
                                                   "question": ["q"] * 3, "choice": ["a", "b", "tie"]}), source="p.csv")
    with pytest.raises(LabelError, match=r"p.csv: judgment 3 of 'q', column 'item_a': item 'w' has no features"):
        pairs_from_labels(ls, "q", ["x", "y", "z"])
    P = pairs_from_labels(ls, "q", ["x", "y", "z"], lenient=True)
    assert len(P) == 2 and len(P.skipped) == 1 and "'w'" in P.skipped[0]
