"""Simulated XMC-GAN-style **side-by-side** raters for the built-in world — *simulated*, never human.

XMC-GAN's human evaluation shows raters two images for the same prompt and asks which is better
(here per question: ``realism``, ``alignment`` or ``overall``), 5 raters per pair, who may also
call a tie. :func:`simulate_side_by_side` reuses the world's simulated raters
(:func:`judgenet.world.simulate_raters` — the same rater model: bias, per-rater noise multiplier,
lapses, realism/alignment weight and tie band; its ``_pairwise`` step draws the pairs and the
choices) with two changes of setup:

* the pairs are two images of one prompt from **different generators or the same generator at
  different severities** (the simulated raters' pairing compares distinct ``generator`` labels;
  they are handed ``generator@severity`` labels and the true generator is restored afterwards);
* the perception noise is **calibrated** by bisection (common random numbers) so that two raters of
  the same pair make the same choice in ``agreement_target`` (default 0.66) of the rater pairs where
  neither calls a tie — the side-by-side counterpart of the ~66% pairwise agreement the Likert
  raters are calibrated to (Kolchinski et al. 2019). The achieved value is measured and returned.

The demo's side-by-side experiment on these raters is :func:`judgenet.jobs.side_by_side.run_side_by_side`.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ConfigError

__all__ = ["simulate_side_by_side", "SideBySide", "generated_items"]

log = logging.getLogger(__name__)


@dataclass
class SideBySide:
    """Output of :func:`simulate_side_by_side` (all **simulated**).

    Attributes: ``labels`` (:class:`~judgenet.labels.PairwiseLabelSet`, ``meta["simulated"]``
    True, with ``image_a``/``image_b``, ``severity_a``/``severity_b``), ``noise`` (perception noise
    used), ``agreement`` (measured rater-pair agreement, target, number of pairs / judgments).
    """

    labels: object
    noise: float
    agreement: dict
    simulated: bool = True


def generated_items(world) -> pd.DataFrame:
    """The rows of the generated (not real) images of a :class:`~judgenet.world.World` or its manifest."""
    m = world.manifest if hasattr(world, "manifest") else world
    if not isinstance(m, pd.DataFrame):
        raise ConfigError(f"expected a World or its manifest DataFrame, got {type(world).__name__}")
    return m[m["generator"] != "real"].reset_index(drop=True)


def _rater_pair_agreement(frame: pd.DataFrame) -> float:
    """Share of rater pairs of the same pair making the same untied choice."""
    key = frame["item_a"].astype(str) + "\x00" + frame["item_b"].astype(str) + "\x00" + frame["question"].astype(str)
    na = (frame["choice"] == "a").groupby(key).sum().to_numpy(float)
    nb = (frame["choice"] == "b").groupby(key).sum().to_numpy(float)
    agree = (na * (na - 1) + nb * (nb - 1)).sum() / 2
    total = ((na + nb) * (na + nb - 1)).sum() / 2
    return float(agree / total) if total else float("nan")


def simulate_side_by_side(world, *, n_raters: int = 5, pairs_per_prompt: int = 3, question: str = "realism",
                          agreement_target: float | None = 0.66, noise: float | None = None,
                          severity_pairs: bool = True, seed: int = 0) -> SideBySide:
    """Simulated side-by-side judgments of a world's generated images (module docstring).

    Args:
        world: a :class:`~judgenet.world.World` (or its manifest).
        n_raters: raters per pair (5 as in XMC-GAN); the pool has exactly these raters.
        pairs_per_prompt: pairs drawn per prompt.
        question: ``realism``, ``alignment`` or ``overall``.
        agreement_target: rater-pair agreement to calibrate the noise to (ties excluded); None
            with ``noise`` given uses that noise.
        severity_pairs: also pair a generator with itself at another severity.
        seed: everything random derives from it.
    """
    from ..labels import PairwiseLabelSet
    from .raters import simulate_raters

    if agreement_target is None and noise is None:
        raise ConfigError("give agreement_target or noise")
    if agreement_target is not None and not 0.5 < agreement_target < 1:
        raise ConfigError(f"agreement_target must lie in (0.5, 1), got {agreement_target}")
    m = generated_items(world)
    if m.empty:
        raise ConfigError("the world has no generated items to compare")
    sim = m.copy()
    if severity_pairs and "severity" in sim.columns:
        sim["generator"] = sim["generator"].astype(str) + "@" + sim["severity"].map(lambda v: f"{float(v):g}")
    if "prompt_id" not in sim.columns:
        sim["prompt_id"] = sim["prompt"]

    def run(sigma: float) -> pd.DataFrame:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = simulate_raters(sim, n_raters=max(3, n_raters), seed=seed, noise=sigma,
                                pairs_per_prompt=pairs_per_prompt, raters_per_pair=n_raters,
                                pairwise_questions=(question,))
        pw = r.pairwise
        # the raters' pair draw is with replacement: a pair drawn twice for a prompt would be judged
        # twice by the same raters; keep its first draw only
        a, b = pw["item_a"].astype(str), pw["item_b"].astype(str)
        key = pd.DataFrame({"lo": np.minimum(a, b), "hi": np.maximum(a, b), "r": pw["rater_id"].astype(str)})
        return pw[~key.duplicated(keep="first").to_numpy()].reset_index(drop=True)

    if agreement_target is not None:
        from .raters import calibrate_noise

        sigma = calibrate_noise(lambda s: _rater_pair_agreement(run(s)), agreement_target, steps=16,
                                what="side-by-side raters")
    else:
        sigma = float(noise)
    pw = run(sigma)
    if pw.empty:
        raise ConfigError("no side-by-side pairs: every prompt needs images from two generators or severities")
    info = m.set_index(m["item_id"].astype(str))
    image = info["image"] if "image" in info.columns else info["path"]
    for side in ("a", "b"):
        ids = pw[f"item_{side}"].astype(str)
        pw[f"generator_{side}"] = info.loc[ids, "generator"].to_numpy()
        pw[f"image_{side}"] = image.loc[ids].astype(str).to_numpy()
        if "severity" in info.columns:
            pw[f"severity_{side}"] = info.loc[ids, "severity"].to_numpy(np.float64)
    achieved = _rater_pair_agreement(pw)
    agreement = {"target": agreement_target, "rater_pair_agreement": round(achieved, 4), "noise": float(sigma),
                 "n_pairs": int(pw.groupby(["item_a", "item_b"]).ngroups), "n_judgments": int(len(pw)),
                 "raters_per_pair": int(n_raters), "question": question}
    meta = {"simulated": True, "format": "world-side-by-side", "agreement": agreement,
            "description": "SIMULATED side-by-side judgments (XMC-GAN style) of judgenet's procedural world",
            "question_wording": f"Which image is better for this prompt ({question})? (or tie)"}
    labels = PairwiseLabelSet.from_frame(pw, name="world-side-by-side", source="simulated", meta=meta)
    return SideBySide(labels, float(sigma), agreement)
