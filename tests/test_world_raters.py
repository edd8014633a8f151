"""Simulated raters (labelled simulated): schema, ranges, calibration of agreement, determinism."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from judgenet.errors import ConfigError
from judgenet.labels import JUDGMENT_COLUMNS, PAIRWISE_COLUMNS
from judgenet.labels.agreement import pairwise_agreement
from judgenet.world import make_world
from judgenet.world.raters import LABEL_SET_NAME, simulate_raters


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("world"), n_real=100, n_per_generator=20, severities=(0.2, 0.8), seed=1)


def test_world_uses_the_labels_agreement_and_keeps_its_numbers(tmp_path):
    """The world's own agreement copy is gone: the calibration goes through
    judgenet.labels.agreement (brute-force tested there). Values recorded with the removed copy
    (commit 6342474) on two seeded worlds must not change (world v1, the world they were recorded on)."""
    import judgenet.world.raters as wr

    assert not hasattr(wr, "_concordance") and wr.pairwise_agreement is pairwise_agreement
    w = make_world(tmp_path, n_real=60, n_per_generator=6, severities=(0.2, 0.8), seed=1, world="v1")
    r = simulate_raters(w, n_raters=4, seed=0)
    assert r.noise == pytest.approx(0.3069263085383591, abs=1e-9)
    assert {k: r.agreement[k] for k in ("realism", "alignment", "overall", "rater_pairs")} == \
        {"realism": 0.6611, "alignment": 0.6885, "overall": 0.6064, "rater_pairs": 6}
    r2 = simulate_raters(w, n_raters=5, seed=3, raters_per_item=3)
    assert r2.noise == pytest.approx(0.30861595599343833, abs=1e-9)
    assert {k: r2.agreement[k] for k in ("realism", "alignment", "overall", "rater_pairs")} == \
        {"realism": 0.6597, "alignment": 0.6366, "overall": 0.6368, "rater_pairs": 10}
    # and the reported number is the labels package's on the judgments themselves
    wide = r.judgments[r.judgments.question == "alignment"].pivot(index="item_id", columns="rater_id", values="score")
    assert pairwise_agreement(wide.to_numpy(float)) == pytest.approx(r.agreement["alignment"], abs=5e-5)


def test_schema_and_ranges(world):
    r = simulate_raters(world, n_raters=4, seed=0)
    j, p = r.judgments, r.pairwise
    assert list(j.columns) == list(JUDGMENT_COLUMNS)
    assert list(p.columns) == list(PAIRWISE_COLUMNS)
    assert (p.preference == p.choice.map({"a": 1.0, "b": 0.0, "tie": 0.5})).all()
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
    assert pairwise_agreement(wide.to_numpy(float)) == pytest.approx(r.agreement["realism"], abs=1e-4)


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
