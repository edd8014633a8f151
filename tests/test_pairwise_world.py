"""Simulated side-by-side raters (world/side_by_side.py) and the demo's side-by-side evaluation."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from judgenet.errors import ConfigError
from judgenet.jobs.side_by_side import run_side_by_side
from judgenet.world.side_by_side import simulate_side_by_side


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny fits only lose from threads


def _manifest(n_prompts=24, gens=("clean", "blur", "noise", "swap"), sevs=(0.3, 0.8), seed=0):
    rng = np.random.default_rng(seed)
    base = {"clean": 0.95, "blur": 0.7, "noise": 0.55, "swap": 0.8}
    rows = []
    for p in range(n_prompts):
        for g in gens:
            for s in sevs:
                rows.append({"item_id": f"{g}-{s}-{p}", "image": f"{g}/{s}/{p}.png", "prompt": f"prompt {p}",
                             "prompt_id": f"p{p}", "generator": g, "severity": s,
                             "true_realism": float(np.clip(base[g] - 0.3 * s * (g != "clean") + 0.05 * rng.normal(),
                                                           0, 1)),
                             "true_alignment": float(np.clip(0.9 - (0.4 * s if g == "swap" else 0) + 0.05 *
                                                             rng.normal(), 0, 1))})
    return pd.DataFrame(rows)


def test_side_by_side_raters_are_calibrated_simulated_and_in_the_schema():
    m = _manifest()
    sbs = simulate_side_by_side(m, n_raters=5, pairs_per_prompt=3, seed=0)
    ls = sbs.labels
    assert ls.simulated and ls.meta["simulated"] is True and "SIMULATED" in ls.meta["description"]
    f = ls.frame
    assert f.groupby(["item_a", "item_b"]).size().eq(5).all()  # 5 raters per pair
    assert set(f["choice"]) <= {"a", "b", "tie"} and (f["choice"] == "tie").any()
    # same prompt, different generator or severity; generator names restored
    assert (f["prompt"].notna()).all() and set(f["generator_a"]) <= {"clean", "blur", "noise", "swap"}
    diff = (f["generator_a"] != f["generator_b"]) | (f["severity_a"] != f["severity_b"])
    assert diff.all() and (f["generator_a"] == f["generator_b"]).any()
    # calibration: measured independently from the frame
    agree = total = 0
    for _, g in f.groupby(["item_a", "item_b"]):
        c = g["choice"].tolist()
        for i in range(len(c)):
            for j in range(i + 1, len(c)):
                if c[i] != "tie" and c[j] != "tie":
                    total += 1
                    agree += c[i] == c[j]
    assert agree / total == pytest.approx(sbs.agreement["rater_pair_agreement"], abs=1e-4)
    assert abs(agree / total - 0.66) < 0.03
    # items() gives what must be embedded
    items = ls.items()
    assert set(items["image"]) <= set(m["image"])
    with pytest.raises(ConfigError):
        simulate_side_by_side(m, agreement_target=0.4)


@pytest.mark.slow
def test_run_side_by_side_answers_the_three_questions():
    m = _manifest(n_prompts=30)
    rng = np.random.default_rng(1)
    # features: a noisy realism signal (learnable), raw MID (weaker), CLIP score and a Mahalanobis distance
    X = np.c_[m["true_realism"] + 0.1 * rng.normal(size=len(m)), m["true_realism"] + 0.4 * rng.normal(size=len(m)),
              m["true_alignment"] + 0.2 * rng.normal(size=len(m)), -m["true_realism"] + 0.5 * rng.normal(size=len(m))]
    names = ["signal", "mid_pmi", "clip_score", "realism.tiny.mahalanobis2"]
    from judgenet.world.raters import simulate_raters

    likert = simulate_raters(m, n_raters=5, seed=0)
    res = run_side_by_side(m, X, names, likert=likert, n_resamples=200, seed=0)
    assert set(res.answers) == {"pairs_vs_mid", "pairs_vs_mid_cross", "pairs_vs_likert", "mixed_vs_pairs"}
    for a in res.answers.values():
        assert a["low"] <= a["difference"] <= a["high"]
    assert res.answers["pairs_vs_mid"]["difference"] > 0  # the learned scorer uses the better feature
    assert res.budget and all(b["likert_used"] <= b["likert_budget"] for b in res.budget)
    md = res.markdown()
    assert "SIMULATED" in md and "Budget assumption: " in md and "pair_cost=2)" in md  # the stated rater-time cost
    assert res.to_dict()["answers"]
