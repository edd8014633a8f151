"""Simulated raters (labelled simulated): schema, ranges, calibration of agreement, determinism."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from judgenet.errors import ConfigError
from judgenet.world import make_world
from judgenet.world.raters import (
    JUDGMENT_COLUMNS,
    PAIRWISE_COLUMNS,
    LABEL_SET_NAME,
    pairwise_agreement,
    simulate_raters,
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("world"), n_real=100, n_per_generator=20, severities=(0.2, 0.8), seed=1)


def test_agreement_matches_brute_force():
    rng = np.random.default_rng(0)
    s = rng.integers(1, 6, size=(40, 3)).astype(float)
    s[3, 1] = np.nan
    agree = []
    for k in range(3):
        for l in range(k + 1, 3):
            same = diff = 0
            for i in range(40):
                for j in range(i + 1, 40):
                    a = np.sign(s[i, k] - s[j, k])
                    b = np.sign(s[i, l] - s[j, l])
                    if np.isnan(a) or np.isnan(b) or a == 0 or b == 0:
                        continue
                    same += a == b
                    diff += a != b
            agree.append((same, same + diff))
    val, n = pairwise_agreement(s)
    assert n == 3 and val == pytest.approx(sum(a for a, _ in agree) / sum(t for _, t in agree), abs=1e-12)
    from judgenet.labels.agreement import pairwise_agreement as labels_agreement

    assert val == pytest.approx(labels_agreement(s), abs=1e-12)


def test_schema_and_ranges(world):
    r = simulate_raters(world, n_raters=4, seed=0)
    j, p = r.judgments, r.pairwise
    assert list(j.columns) == JUDGMENT_COLUMNS
    assert list(p.columns) == PAIRWISE_COLUMNS
    assert set(j.question) == {"realism", "real_vs_fake", "alignment", "overall"}
    for q in ("realism", "alignment", "overall"):
        s = j.loc[j.question == q, "score"]
        assert s.between(1, 5).all() and (s == s.round()).all()
    assert set(j.loc[j.question == "real_vs_fake", "score"]) <= {0, 1}
    assert j.rater_id.str.startswith("sim-").all()
    assert j.groupby(["item_id", "question"]).rater_id.nunique().min() == 4  # >= 3 raters per item
    assert set(j.generator) == set(world.manifest.generator)
    assert len(p) > 0 and set(p.choice) <= {"a", "b", "tie"}
    assert (p.generator_a != p.generator_b).all()
    assert "real" not in set(p.generator_a) | set(p.generator_b)
    man = world.manifest.set_index("item_id")
    assert (man.loc[p.item_a, "prompt"].to_numpy() == man.loc[p.item_b, "prompt"].to_numpy()).all()
    assert r.simulated and r.name == LABEL_SET_NAME == "world-simulated"
    assert j.attrs["simulated"] and p.attrs["simulated"]


@pytest.mark.parametrize("target", [0.66, 0.75])
def test_agreement_calibrated(world, target):
    r = simulate_raters(world, n_raters=6, seed=2, agreement_target=target)
    assert r.agreement["realism"] == pytest.approx(target, abs=0.01)
    assert r.agreement["rater_pairs"] == 15
    # re-measure from the output frame
    wide = r.judgments[r.judgments.question == "realism"].pivot(index="item_id", columns="rater_id", values="score")
    assert pairwise_agreement(wide.to_numpy(float))[0] == pytest.approx(r.agreement["realism"], abs=1e-4)


def test_raters_track_latent_quality(world):
    r = simulate_raters(world, n_raters=5, seed=3)
    j = r.judgments
    mos = j[j.question == "realism"].groupby("item_id").score.mean()
    man = world.manifest.set_index("item_id")
    assert np.corrcoef(mos, man.loc[mos.index, "true_realism"])[0, 1] > 0.5
    mos_a = j[j.question == "alignment"].groupby("item_id").score.mean()
    assert np.corrcoef(mos_a, man.loc[mos_a.index, "true_alignment"])[0, 1] > 0.5
    hype = j[j.question == "real_vs_fake"].groupby("generator").score.mean()
    assert hype["real"] > hype["blur"] and hype["real"] > hype["noise"]
    # pairwise: the better item (true overall) wins more often than it loses
    p = r.pairwise[r.pairwise.choice != "tie"]
    q = (man["true_realism"] + man["true_alignment"]) / 2
    better_a = q.loc[p.item_a].to_numpy() > q.loc[p.item_b].to_numpy() + 0.1
    worse_a = q.loc[p.item_a].to_numpy() < q.loc[p.item_b].to_numpy() - 0.1
    wins = ((p.choice == "a").to_numpy() & better_a).sum() + ((p.choice == "b").to_numpy() & worse_a).sum()
    assert wins / max(better_a.sum() + worse_a.sum(), 1) > 0.7


def test_seeded_and_options(world):
    a = simulate_raters(world, n_raters=3, seed=5)
    b = simulate_raters(world, n_raters=3, seed=5)
    pd.testing.assert_frame_equal(a.judgments, b.judgments)
    pd.testing.assert_frame_equal(a.pairwise, b.pairwise)
    c = simulate_raters(world, n_raters=3, seed=6)
    assert not a.judgments.score.equals(c.judgments.score)
    d = simulate_raters(world.manifest, n_raters=8, raters_per_item=3, noise=0.2, seed=0)
    assert d.noise == 0.2 and not d.agreement["calibrated"]
    assert d.judgments.groupby(["item_id", "question"]).rater_id.nunique().eq(3).all()
    with pytest.raises(ConfigError):
        simulate_raters(world, n_raters=2)
    with pytest.raises(ConfigError):
        simulate_raters(world, agreement_target=0.4)


def test_labelsets(world):
    r = simulate_raters(world, n_raters=3, seed=0)
    ls, ps = r.to_labelsets()
    assert ls.name == ps.name == "world-simulated"
    assert len(ls.frame) == len(r.judgments) and not ls.skipped
    assert len(ps.frame) == len(r.pairwise) and not ps.skipped
    assert ls.meta["simulated"] is True
