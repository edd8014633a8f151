"""judgenet.world — the built-in, **simulated** benchmark world.

* :func:`make_world` writes seeded procedural scenes (1–4 shapes with colours, textures and
  spatial relations, captioned by a small grammar) as "real" images plus the outputs of the
  flawed generators in :data:`GENERATORS`, each with its latent ``true_realism`` and
  ``true_alignment``. ``world="v2"`` (default) adds a per-prompt content difficulty
  (:func:`scene_difficulty`, drawn as defects, calibrated to real judgments' between-image share);
  ``world="v1"`` is the earlier world, byte-identical.
* :func:`variance_components` splits item scores into between-prompt, between-system and residual
  variance (random-effects ANOVA), for the world and for real label sets alike.
* :func:`simulate_raters` (in :mod:`judgenet.world.raters`) turns the latent qualities into
  human-like judgments in the label schema, labelled *simulated*.
* :func:`tiny_clip_paths` locates the tiny CLIP-style encoder trained on this world
  (``judgenet/assets/tiny-clip.json`` / ``tiny-clip.pt``, recipe in ``training/tiny_clip.py``).

Nothing here is real human data or real generator output.
"""
from __future__ import annotations

from .dataset import DEFAULT_WORLD, WORLDS, World, load_world, make_world, prompt_scene, real_scene
from .difficulty import scene_difficulty
from .generators import GENERATORS, Generator, GeneratorOutput, WorldContext, get_generator
from .raters import SimulatedRatings, simulate_raters
from .render import render
from .scenes import alignment, caption_variants, describe, sample_caption, sample_scene, swap_attribute
from .tiny import tiny_clip_paths, load_tiny_clip
from .variance import VarianceComponents, variance_components

__all__ = [
    "World",
    "make_world",
    "WORLDS",
    "DEFAULT_WORLD",
    "load_world",
    "real_scene",
    "prompt_scene",
    "GENERATORS",
    "Generator",
    "GeneratorOutput",
    "WorldContext",
    "get_generator",
    "render",
    "sample_scene",
    "sample_caption",
    "caption_variants",
    "describe",
    "swap_attribute",
    "alignment",
    "scene_difficulty",
    "variance_components",
    "VarianceComponents",
    "simulate_raters",
    "SimulatedRatings",
    "tiny_clip_paths",
    "load_tiny_clip",
]

