"""Pairwise utility models (predictors/pairwise.py): BT, siamese MLP, pairwise gradient boosting."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from judgenet.errors import ConfigError
from judgenet.predictors import load_predictor, save_predictor
from judgenet.predictors.families import FAMILIES, PAIRWISE
from judgenet.predictors.pairwise import (BradleyTerry, PairwiseGB, PairwiseMLP, is_pairwise, likert_implied_pairs,
                                          pair_array, pairwise_accuracy_soft, split_pairs)
from judgenet.predictors.recipes import make_pairwise
from judgenet.stats import kendall_tau_b


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny fits only lose from threads


def _data(n=80, n_pairs=400, seed=0, nonlinear=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    u = X[:, 0] - 0.5 * X[:, 1] + (1.5 * np.abs(X[:, 2]) if nonlinear else 0.0)
    a, b = rng.integers(0, n, n_pairs), rng.integers(0, n, n_pairs)
    keep = a != b
    a, b = a[keep], b[keep]
    p = (rng.random(a.size) < 1 / (1 + np.exp(-2 * (u[a] - u[b])))).astype(float)
    return X, u, pair_array(a, b, p)


def _brute_2afc(s, ia, ib, p, w=None):
    """2AFC pair by pair: 1 when the higher-scored item is the human majority, 0.5 on a score tie; human ties
    left out; weighted."""
    num = den = 0.0
    for k, (i, j) in enumerate(zip(ia, ib)):
        if p[k] == 0.5:
            continue
        wk = 1.0 if w is None else w[k]
        num += wk * (0.5 if s[i] == s[j] else float((s[i] > s[j]) == (p[k] > 0.5)))
        den += wk
    return num / den


def test_pairwise_accuracy_soft_by_hand():
    # pair 0: a scored higher, humans prefer a -> 1 (weight 1); pair 1: scores tie -> 0.5 (weight 2);
    # pair 2: a human tie, left out; pair 3: b scored higher, humans lean to a -> 0 (weight 3)
    got = pairwise_accuracy_soft([1, 2, 3, 0], [0, 2, 4, 1], [1.0, 0.0, 0.5, 0.7], weight=[1, 2, 5, 3])
    assert got == pytest.approx((1 * 1 + 2 * 0.5 + 3 * 0) / (1 + 2 + 3))
    assert pairwise_accuracy_soft([1, 2, 3, 0], [0, 2, 4, 1], [1.0, 0.0, 0.5, 0.7]) == pytest.approx(1.5 / 3)
    assert np.isnan(pairwise_accuracy_soft([1.0], [0.0], [0.5]))


@pytest.mark.parametrize("name", [n for n in PAIRWISE if not FAMILIES[n].bare])  # raw_pairwise learns nothing
def test_families_recover_the_utility_and_follow_the_api(name):
    X, u, y = _data(nonlinear=name == "pairwise_gb")
    m = make_pairwise(name, random_state=0, **({"max_epochs": 30, "lr": 1e-2} if name == "pairwise_mlp" else {}))
    assert is_pairwise(m)
    m.fit(X, y)
    assert kendall_tau_b(u, m.predict(X)) > 0.6
    ia, ib = y[:, 0].astype(int), y[:, 1].astype(int)
    q = m.predict_proba_pairs(X, ia, ib)
    assert np.allclose(m.predict_proba_pairs(X, ib, ia), 1 - q)  # antisymmetric
    s = m.predict(X)
    assert m.score(X, y) == pytest.approx(_brute_2afc(s, ia, ib, y[:, 2]), abs=1e-12)
    c = clone(m)
    assert c.get_params() == m.get_params()


def test_pipeline_passes_the_pair_array_through():
    X, u, y = _data()
    pipe = Pipeline([("scale", StandardScaler()), ("model", BradleyTerry())]).fit(X, y)
    assert is_pairwise(pipe) and kendall_tau_b(u, pipe.predict(X)) > 0.7


def test_weights_count_like_repeated_pairs():
    X, u, y = _data(n_pairs=120)
    doubled = np.vstack([y, y[:10]])
    w = np.ones(len(y))
    w[:10] = 2
    a = BradleyTerry().fit(X, doubled).predict(X)
    b = BradleyTerry().fit(X, np.c_[y[:, :3], w]).predict(X)
    assert np.allclose(a, b, atol=1e-4)
    g1 = PairwiseGB(n_estimators=5, random_state=0).fit(X, doubled).predict(X)
    g2 = PairwiseGB(n_estimators=5, random_state=0).fit(X, np.c_[y[:, :3], w]).predict(X)
    assert np.allclose(g1, g2)


def test_gb_training_loss_is_the_pairwise_log_loss_and_decreases():
    X, u, y = _data(n_pairs=300, nonlinear=True)
    m = PairwiseGB(n_estimators=30, learning_rate=0.2).fit(X, y)
    s = m.predict(X)
    ia, ib, p = y[:, 0].astype(int), y[:, 1].astype(int), y[:, 2]
    q = 1 / (1 + np.exp(-(s[ia] - s[ib])))
    direct = np.mean(-(p * np.log(q) + (1 - p) * np.log(1 - q)))
    assert m.train_loss_[-1] == pytest.approx(direct, rel=1e-9)
    assert m.train_loss_[-1] < m.train_loss_[0] < np.log(2)


def test_bad_pair_arrays_are_refused():
    X, u, y = _data(n_pairs=20)
    for bad in (y[:, :2], np.c_[y[:, 0], y[:, 0], y[:, 2]], np.c_[y[:, :2], y[:, 2] * 3],
                np.c_[y[:, 0], y[:, 1] + 1000, y[:, 2]]):
        with pytest.raises(ConfigError):
            BradleyTerry().fit(X, bad)
    with pytest.raises(ConfigError):
        split_pairs(np.c_[y[:, :3], -np.ones(len(y))])


def test_saved_with_the_artifact_functions(tmp_path):
    X, u, y = _data(n_pairs=100)
    from judgenet.predictors.recipes import Recipe

    recipe = Recipe("pairwise_gb", {"n_estimators": 10})
    m = recipe.build(random_state=0).fit(X, y)
    save_predictor(m, tmp_path / "p", recipe=recipe, feature_names=[f"f{i}" for i in range(4)], fingerprints={},
                   reference_hash=None, label_set="pairs")
    back = load_predictor(tmp_path / "p")
    m2 = back[0] if isinstance(back, tuple) else getattr(back, "model", back)
    assert isinstance(m2, PairwiseGB) and np.allclose(m2.predict(X), m.predict(X))
    assert Recipe.from_predictor_dir(tmp_path / "p") == recipe


def test_mlp_uses_fit_pairs_with_weights():
    X, u, y = _data(n_pairs=300)
    m = PairwiseMLP(hidden_sizes=(8,), max_epochs=40, lr=5e-3, random_state=0).fit(X, y)
    assert kendall_tau_b(u, m.predict(X)) > 0.6
    w0 = np.c_[y[:, :3], np.r_[np.zeros(150), np.ones(len(y) - 150)]]
    m0 = PairwiseMLP(hidden_sizes=(8,), max_epochs=5, random_state=0, early_stopping=False).fit(X, w0)
    m1 = PairwiseMLP(hidden_sizes=(8,), max_epochs=5, random_state=0, early_stopping=False).fit(X, y)
    assert not np.allclose(m0.predict(X), m1.predict(X))


def test_likert_implied_pairs_match_a_brute_force_count():
    items = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    scores = np.array([5, 3, 4, 4, 2, 1, 1, 5])
    prompts = np.array(["p"] * 8)
    out = likert_implied_pairs(items, scores, prompts, weight=0.5)
    r = {0: [5, 3, 4], 1: [4, 2], 2: [1, 1, 5]}

    def brute(i, j):
        return np.mean([1.0 if x > y else 0.5 if x == y else 0.0 for x in r[i] for y in r[j]])

    got = {(int(a), int(b)): (p, w) for a, b, p, w in out}
    assert set(got) == {(0, 1), (0, 2), (1, 2)}
    for (i, j), (p, w) in got.items():
        assert p == pytest.approx(brute(i, j)) and w == 0.5
    # different prompts are never paired
    assert len(likert_implied_pairs(items, scores, np.array(list("aaabbccc")))) == 0


def test_raw_pairwise_is_the_signed_column_as_a_utility():
    X, u, y = _data(n_pairs=50)
    m = make_pairwise("raw_pairwise", column=2, sign=-1.0)
    assert is_pairwise(m)
    m.fit(X, y)
    np.testing.assert_array_equal(m.predict(X), -X[:, 2])
    a, b = y[:, 0].astype(int), y[:, 1].astype(int)
    np.testing.assert_allclose(m.predict_proba_pairs(X, a, b), 1.0 / (1.0 + np.exp(X[:, 2][a] - X[:, 2][b])),
                               rtol=1e-12)
