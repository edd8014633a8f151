"""Prompt difficulty of world ``v2``: harder scenes come out worse from every generator (**simulated**).

In real text-to-image studies a prompt's content makes it hard for every model: counting, spatial
relations, attributes bound to several objects, many objects (GenAI-Bench "advanced" prompts, TIFA,
T2I-CompBench). World ``v1`` had almost none of this (≈1% of item-score variance between prompts; THumB
has 31–49% between images, ``data_cards/world-simulated.md``). In ``v2``:

* :func:`content_score` weighs a scene's **content** in [0, 1] — the number of objects, a stated
  relation, attribute bindings (two groups whose colours and/or shapes must not be mixed up) and clutter
  (background pattern, textured objects). All of it is visible in the rendered image; all but the
  clutter is stated by every caption (count words, relation words, colour + shape of each group).
  :func:`scene_difficulty` is its smooth step ``d = c²(3 − 2c)``: moderate content stays moderate, the
  easy and the hard ends move apart (std 0.34 instead of 0.28 over prompt scenes, so the penalties below
  can stay smaller for the same between-prompt share).
* :func:`with_defects` attaches the defects a generator makes on such a scene, drawn in the image:
  object outlines wobble (amplitude ``WOBBLE · d`` of the object's radius) and, in scenes with two
  colours, each group's colour bleeds toward the other's (``BLEED · d``). A generator that draws the
  prompt scene draws these defects; one that draws something else (a memorized real image, a collapsed
  mode scene) does not.
* The latent qualities fall with the defect level drawn, multiplying each generator's own quality:
  ``realism · (1 − REALISM_PENALTY · d)`` and ``alignment · (1 − ALIGNMENT_PENALTY · d)`` — the chance an
  image passes as real (or states the facts right) is the chance its generator's own failures go unnoticed
  times the chance the scene's defects do. Multiplying keeps both in [0, 1] without clipping (an additive
  penalty clipped at the floor put a fifth of the items there and capped realism's between-prompt share);
  on a prompt, the generators that draw it keep their quality ratios.

The two penalties are calibrated (``benchmarks/generalization/calibrate_world.py``) to THumB's between-image
share of item-score variance (31.2% with the human captions, 48.8% among the machine systems; target 40%,
``benchmarks/generalization/variance.py``) at the full demo's size over seeds 0–5 — a property of the real
data, never of any predictor's result. Realism stays below the target (≈34%): the simulated raters'
noise grows with the latent spread to hold their 66% agreement and keeps about half of the item-score
variance in the residual, and a larger penalty would push most hard scenes' realism to 0. The same noise
shrinks the between-generator share (data card).
"""
from __future__ import annotations

import copy

import numpy as np

from .scenes import COLORS

__all__ = ["content_score", "scene_difficulty", "with_defects", "WOBBLE", "BLEED", "REALISM_PENALTY", "ALIGNMENT_PENALTY"]

#: Weights of the content terms of the difficulty (they sum to 1).
WEIGHTS = {"objects": 0.35, "relation": 0.25, "binding": 0.25, "clutter": 0.15}
_BACKGROUND_CLUTTER = {"plain": 0.0, "gradient": 0.25, "stripes": 0.5, "checker": 0.75, "noise": 1.0}
#: Outline wobble at d = 1, as a fraction of the object's radius.
WOBBLE = 0.22
#: Colour bleed toward the other group's colour at d = 1.
BLEED = 0.35
#: Latent penalties at d = 1 (calibrated: module docstring).
REALISM_PENALTY = 0.9
ALIGNMENT_PENALTY = 0.8


def content_score(scene: dict) -> float:
    """The weighted content of a scene in [0, 1] (weights :data:`WEIGHTS`).

    * objects: ``(n − 1) / 3`` for ``n`` objects (1–4);
    * relation: 1 if the caption states a spatial relation;
    * binding: for two groups, 0.5 per attribute (colour, shape) that differs between them — each one a
      binding the image must keep apart; 0 for one group;
    * clutter: half the background's pattern strength (plain 0 … noise 1), half the share of textured objects.
    """
    groups = scene["groups"]
    n = sum(int(g["count"]) for g in groups)
    objects = (min(max(n, 1), 4) - 1) / 3.0
    relation = float(scene.get("relation") is not None)
    binding = 0.0
    if len(groups) == 2:
        binding = 0.5 * float(groups[0]["color"] != groups[1]["color"]) + 0.5 * float(groups[0]["shape"] != groups[1]["shape"])
    objs = scene["objects"]
    textured = float(np.mean([o["texture"] != "solid" for o in objs])) if objs else 0.0
    clutter = 0.5 * _BACKGROUND_CLUTTER[scene["background"]["kind"]] + 0.5 * textured
    return float(WEIGHTS["objects"] * objects + WEIGHTS["relation"] * relation + WEIGHTS["binding"] * binding
                 + WEIGHTS["clutter"] * clutter)


def scene_difficulty(scene: dict) -> float:
    """The prompt difficulty in [0, 1]: the smooth step ``c²(3 − 2c)`` of :func:`content_score` ``c``."""
    c = content_score(scene)
    return float(c * c * (3.0 - 2.0 * c))


def with_defects(scene: dict, d: float) -> dict:
    """A copy of ``scene`` carrying the defects of difficulty ``d`` (``defect`` = d; per object ``wobble`` and a
    colour bleed folded into ``jitter``), rendered by :func:`judgenet.world.render`."""
    sc = copy.deepcopy(scene)
    sc["defect"] = float(d)
    colors = {g: np.asarray(COLORS[grp["color"]]) for g, grp in enumerate(sc["groups"])}
    for o in sc["objects"]:
        o["wobble"] = float(WOBBLE * d)
        other = colors.get(1 - o["group"]) if len(colors) == 2 else None
        if other is not None:
            shift = BLEED * d * (other - np.asarray(COLORS[o["color"]]))
            o["jitter"] = [float(j + s) for j, s in zip(o.get("jitter", (0.0, 0.0, 0.0)), shift)]
    return sc
