"""World v2's calibration (issue 26): between-prompt share of item-score variance in the stated band at the
demo's sizes, rater agreement still 0.66, prompt difficulty from visible / captioned content — and world v1
still what it was before v2 existed."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from judgenet.errors import ConfigError
from judgenet.jobs.demo import SIZES
from judgenet.world import make_world, prompt_scene, scene_difficulty, simulate_raters
from judgenet.world.difficulty import ALIGNMENT_PENALTY, REALISM_PENALTY, WEIGHTS, content_score
from judgenet.world.variance import item_score_components

#: The stated band (issue 26): THumB's between-image share is 31.2% (5 systems) / 48.8% (machine systems).
BAND = (0.30, 0.45)

#: v1 at the fast demo's size (n_real=400, n_per_generator=8, severities (0.3, 0.8), seed 0), recorded at commit
#: a45ecf5 — before world v2 existed — with that commit's make_world (no ``world`` argument then): the
#: SHA-256 of manifest.jsonl (which holds every PNG's SHA-256), the sums of the latent qualities of the
#: generated items, and simulate_raters(world, n_raters=5, seed=0)'s calibrated noise and agreement.
V1_FAST = {"manifest_sha256": "1d7eaf3c9a07ee6c787795aa6642c4d220cd9fc4168e480efdf812a3ff5e33dd",
           "sum_true_realism": 159.987199, "sum_true_alignment": 183.299997,
           "noise": 0.29107470267731983, "agreement_realism": 0.6602, "agreement_alignment": 0.6198}


def _world(root, fast: bool, version: str):
    s = SIZES[fast]
    return make_world(root, n_real=s["n_real"], n_per_generator=s["n_per_generator"], severities=s["severities"],
                      seed=0, world=version)


@pytest.fixture(scope="module")
def fast_worlds(tmp_path_factory):
    return {v: _world(tmp_path_factory.mktemp(f"fast-{v}"), True, v) for v in ("v1", "v2")}


def test_v1_is_unchanged(fast_worlds):
    w = fast_worlds["v1"]
    assert hashlib.sha256((w.root / "manifest.jsonl").read_bytes()).hexdigest() == V1_FAST["manifest_sha256"]
    g = w.generated
    assert g["true_realism"].sum() == pytest.approx(V1_FAST["sum_true_realism"], abs=1e-6)
    assert g["true_alignment"].sum() == pytest.approx(V1_FAST["sum_true_alignment"], abs=1e-6)
    r = simulate_raters(w, n_raters=5, seed=0)
    assert r.noise == pytest.approx(V1_FAST["noise"], abs=1e-12)
    assert r.agreement["realism"] == V1_FAST["agreement_realism"]
    assert r.agreement["alignment"] == V1_FAST["agreement_alignment"]
    assert "difficulty" not in w.manifest.columns and w.config["version"] == 1


def _shares(w, seed: int = 0) -> dict:
    r = simulate_raters(w, n_raters=5, seed=seed)  # the demo's --seed seeds the world and the raters
    assert r.agreement["realism"] == pytest.approx(0.66, abs=0.005)  # the existing calibration still holds
    labels = r.to_labelsets()[0]
    out = {}
    for q in ("realism", "alignment"):
        vc = item_score_components(labels, q, manifest=w.manifest)
        assert vc.design["per_cell"] == 1 and vc.design["n_prompts"] == w.config["n_per_generator"]
        # generators still matter (v1: 69% realism / 28% alignment of the full demo's item-score variance; v2 adds a
        # prompt share at the same rater agreement, so the system share falls: 16% / 2%; THumB 1.5-17%)
        assert vc.shares["system"] > 0.01, (q, vc.shares)
        out[q] = vc.shares["prompt"]
    return out


def test_between_prompt_share_in_band_full_demo(tmp_path):
    """The full demo's world (25 prompts, seed 0): between-prompt share of item-score variance in the band."""
    w = _world(tmp_path, False, "v2")
    assert w.config["version"] == 2
    shares = _shares(w)
    for q, v in shares.items():
        assert BAND[0] <= v <= BAND[1], shares


def test_between_prompt_share_in_band_fast_demo(tmp_path, fast_worlds):
    """The fast demo's world has 8 prompts, so one seed's share is a noisy draw (seed 0: realism 0.33,
    alignment 0.53); the calibration is a property of the world, checked as the mean over seeds 0-5."""
    s = SIZES[True]
    per_seed = [_shares(fast_worlds["v2"])]
    for seed in range(1, 6):
        per_seed.append(_shares(make_world(tmp_path / str(seed), n_real=s["n_real"], seed=seed,
                                           n_per_generator=s["n_per_generator"], severities=s["severities"]), seed))
    for q in ("realism", "alignment"):
        mean = float(np.mean([p[q] for p in per_seed]))
        assert BAND[0] <= mean <= BAND[1], (q, per_seed)


def test_v2_is_v1_times_the_drawn_defects(fast_worlds):
    """Cross-version check: the generators draw the same items in both worlds (same random streams); v2's
    latent qualities are v1's multiplied by 1 - penalty x the defect level drawn into the image (0 where the
    generator drew another scene: a memorized real image, a collapsed mode scene)."""
    m1 = fast_worlds["v1"].generated.set_index("item_id")
    m2 = fast_worlds["v2"].generated.set_index("item_id").loc[m1.index]
    defect = np.array([float(sc.get("defect", 0.0)) for sc in m2["scene"]])
    assert (defect > 0).mean() > 0.8 and (defect == 0).any()
    d = m2["difficulty"].to_numpy()
    assert np.all((defect == 0) | np.isclose(defect, d, atol=1e-6))
    np.testing.assert_allclose(m2["true_realism"], m1["true_realism"] * (1 - REALISM_PENALTY * defect), atol=2e-6)
    np.testing.assert_allclose(m2["true_alignment"], m1["true_alignment"] * (1 - ALIGNMENT_PENALTY * defect),
                               atol=2e-6)
    assert (m2["prompt"] == m1["prompt"]).all()
    # the defects are in the pixels: where a prompt is hard, v2's image differs from v1's
    hard = m2.index[(defect > 0.3) & (m2["generator"] == "near_perfect").to_numpy()]
    assert len(hard)
    for i in hard:
        assert not np.array_equal(np.asarray(Image.open(m1.at[i, "path"])), np.asarray(Image.open(m2.at[i, "path"])))
    # real images are clean renderings in both (same pixels; v2 writes PNGs with faster compression)
    r1, r2 = fast_worlds["v1"].real, fast_worlds["v2"].real
    for p1, p2 in zip(r1["path"].iloc[:20], r2["path"].iloc[:20]):
        assert np.array_equal(np.asarray(Image.open(p1)), np.asarray(Image.open(p2)))


def test_difficulty_by_hand():
    sc = {"groups": [{"shape": "circle", "color": "red", "count": 2}, {"shape": "circle", "color": "blue", "count": 1}],
          "relation": "left of", "background": {"kind": "checker"},
          "objects": [{"texture": "solid"}, {"texture": "striped"}, {"texture": "solid"}]}
    # objects (3-1)/3, relation 1, binding 0.5 (colours differ, shapes equal), clutter 0.5*0.75 + 0.5*(1/3)
    c = 0.35 * 2 / 3 + 0.25 * 1 + 0.25 * 0.5 + 0.15 * (0.375 + 1 / 6)
    assert content_score(sc) == pytest.approx(c, abs=1e-12)
    assert scene_difficulty(sc) == pytest.approx(3 * c ** 2 - 2 * c ** 3, abs=1e-12)  # the smooth step
    one = {"groups": [{"shape": "star", "color": "red", "count": 1}], "relation": None,
           "background": {"kind": "plain"}, "objects": [{"texture": "solid"}]}
    assert scene_difficulty(one) == 0.0


def test_difficulty_is_stated_by_the_caption_up_to_clutter():
    """Everything but the clutter term is a function of what every caption states (groups: count, colour,
    shape; the relation): scenes stating the same facts differ in content score by at most the clutter weight
    (the difficulty is a smooth step of that score)."""
    by_facts: dict = {}
    d = []
    for j in range(3000):
        sc = prompt_scene(7, j)
        key = (tuple((g["shape"], g["color"], g["count"]) for g in sc["groups"]), sc["relation"])
        by_facts.setdefault(key, []).append(content_score(sc))
        d.append(scene_difficulty(sc))
    spreads = [max(v) - min(v) for v in by_facts.values() if len(v) > 1]
    assert spreads and max(spreads) <= WEIGHTS["clutter"] + 1e-12
    assert np.std(d) > 0.3  # and the difficulty varies between prompts


def test_unknown_world_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown world 'v3'; expected one of v1, v2"):
        make_world(tmp_path, n_real=1, n_per_generator=1, world="v3")
