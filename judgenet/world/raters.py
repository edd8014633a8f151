"""Simulated raters for the world — **simulated** human judgments in judgenet's label schema.

Every rater sees an item's latent ``true_realism`` / ``true_alignment`` (in [0, 1], from the
known degradations of the world's generators) through its own

* bias (per question, Likert units) and scale (stretch around the middle of the scale),
* perception noise: a global level ``noise`` (latent units) times a rater-specific multiplier,
* attention lapses: with a rater-specific probability the answer is uniformly random,
* a real-vs-fake threshold (HYPE-style binary question),
* a weight of realism vs alignment for the overall judgment and for pairwise preferences,
* a tie band for side-by-side comparisons (XMC-GAN-style).

Questions: ``realism`` (Likert 1–5), ``real_vs_fake`` (1 = judged real), ``alignment``
(Likert 1–5), ``overall`` (Likert 1–5), and pairwise ``overall`` preference between two
generators' images for the same prompt (choice a / b / tie).

Calibration: pairwise inter-rater agreement on realism — for two raters and two items, the
fraction of item pairs both raters order the same way among pairs neither rater ties — equals
``(1 + gamma) / 2`` with Goodman–Kruskal's gamma of the two raters' scores; it is computed by
:func:`judgenet.labels.agreement.pairwise_agreement` (pooled over rater pairs), the one
implementation the labels package reports. ``noise`` is found by bisection (common random numbers) so
that this agreement is ``agreement_target`` (default 0.66, the level
Kolchinski et al. measured for humans judging GAN images). The achieved value is measured and
returned; it is the ceiling any predictor of a single rater's realism ordering can expect.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..labels.agreement import pairwise_agreement, pairwise_agreement_counts
from ..labels.schema import JUDGMENT_COLUMNS, PAIRWISE_COLUMNS

__all__ = [
    "simulate_raters",
    "SimulatedRatings",
    "LABEL_SET_NAME",
]

_PREFERENCE = {"a": 1.0, "b": 0.0, "tie": 0.5}
LABEL_SET_NAME = "world-simulated"
_LIKERT = ("realism", "alignment", "overall")


@dataclass
class SimulatedRatings:
    """Output of :func:`simulate_raters`. All of it is **simulated**.

    Attributes:
        judgments: long-format DataFrame with exactly ``judgenet.labels.JUDGMENT_COLUMNS``.
        pairwise: DataFrame with exactly ``judgenet.labels.PAIRWISE_COLUMNS`` (``preference`` =
            P(a preferred): a 1, b 0, tie 0.5; ``weight`` 1).
        raters: one row per rater with its parameters.
        noise: the perception-noise level used (latent units).
        agreement: measured pairwise inter-rater agreement per Likert question, the target, and
            the number of rater pairs it was averaged over.
    """

    judgments: pd.DataFrame
    pairwise: pd.DataFrame
    raters: pd.DataFrame
    noise: float
    agreement: dict
    name: str = LABEL_SET_NAME
    simulated: bool = True
    meta: dict = field(default_factory=dict)

    def to_labelsets(self):
        """``(LabelSet, PairwiseLabelSet)`` named ``world-simulated``, validated by
        ``judgenet.labels`` (Likert questions on [1, 5], real_vs_fake on [0, 1])."""
        from ..labels import LabelSet, PairwiseLabelSet

        meta = {**self.meta, "simulated": True, "agreement": dict(self.agreement), "noise": self.noise}
        scales = {"realism": (1, 5), "alignment": (1, 5), "overall": (1, 5), "real_vs_fake": (0, 1)}
        return (LabelSet.from_frame(self.judgments, name=self.name, scales=scales, source="simulated", meta=meta),
                PairwiseLabelSet.from_frame(self.pairwise, name=self.name, source="simulated", meta=meta))

    @property
    def labels(self):
        """The judgments as a ``judgenet.labels.LabelSet`` named ``world-simulated``."""
        return self.to_labelsets()[0]

    @property
    def pairwise_labels(self):
        """The side-by-side choices as a ``judgenet.labels.PairwiseLabelSet`` named ``world-simulated``."""
        return self.to_labelsets()[1]


# --------------------------------------------------------------------------------------------
# simulation
# --------------------------------------------------------------------------------------------
def _as_manifest(manifest) -> pd.DataFrame:
    if isinstance(manifest, (str, os.PathLike)):
        from .dataset import load_world

        return load_world(Path(manifest)).manifest
    if hasattr(manifest, "manifest"):
        return manifest.manifest
    if isinstance(manifest, pd.DataFrame):
        return manifest
    raise ConfigError(f"manifest must be a World, a world root or a DataFrame, got {type(manifest).__name__}")


def _likert(latent: np.ndarray, scale: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Latent quality in [0, 1] (plus noise) → Likert 1..5 through a rater's scale and bias."""
    x = 3.0 + scale * (1.0 + 4.0 * latent - 3.0) + bias
    return np.clip(np.rint(x), 1, 5)


def _rater_params(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame({
        "rater_id": [f"sim-rater-{k:02d}" for k in range(n)],
        "bias_realism": rng.normal(0.0, 0.3, n),
        "bias_alignment": rng.normal(0.0, 0.3, n),
        "bias_overall": rng.normal(0.0, 0.3, n),
        "scale": np.exp(rng.normal(0.0, 0.15, n)),
        "noise_mult": np.exp(rng.normal(0.0, 0.25, n)),
        "lapse": rng.beta(1.0, 30.0, n),
        "fake_threshold": rng.normal(0.72, 0.06, n),
        "w_realism": rng.beta(4.0, 4.0, n),
        "tie_band": rng.uniform(0.02, 0.08, n),
    })


def calibrate_noise(agreement_at, target: float, *, steps: int = 40, lo: float = 1e-4, hi: float = 3.0,
                    what: str = "simulated raters", hint: str = "") -> float:
    """The rater noise level whose agreement ``agreement_at(sigma)`` (decreasing in sigma) meets ``target``, by
    bisection over [lo, hi] in ``steps`` steps; a target outside the attainable range warns and takes the closest
    end. Used by the Likert raters and the side-by-side raters (one calibration rule for both)."""
    a_lo, a_hi = agreement_at(lo), agreement_at(hi)
    if not a_hi <= target <= a_lo:
        warnings.warn(f"{what}: agreement target {target} is outside what this world allows "
                      f"({a_hi:.3f}..{a_lo:.3f}{hint}); using the closest noise level", stacklevel=3)
        return lo if target > a_lo else hi
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if agreement_at(mid) > target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def simulate_raters(
    manifest,
    n_raters: int = 5,
    seed: int = 0,
    agreement_target: float = 0.66,
    noise: float | None = None,
    raters_per_item: int | None = None,
    pairs_per_prompt: int = 3,
    raters_per_pair: int = 3,
    pairwise_questions: tuple[str, ...] = ("overall",),
) -> SimulatedRatings:
    """Simulate several raters judging every item of a world manifest (labelled *simulated*).

    Args:
        manifest: a :class:`~judgenet.world.World`, its root, or its manifest DataFrame (needs
            ``item_id, prompt, generator, true_realism, true_alignment`` and ``image`` or ``path``;
            ``prompt_id`` groups items for pairwise comparisons, else ``prompt`` is used).
        n_raters: size of the rater pool (>= 3).
        seed: everything random derives from it.
        agreement_target: pairwise inter-rater agreement on realism to calibrate to (in (0.5, 1)).
        noise: perception noise (latent units); ``None`` calibrates it to ``agreement_target``.
        raters_per_item: raters judging each item (default: all ``n_raters``; >= 3).
        pairs_per_prompt: side-by-side pairs drawn per prompt among its generated items.
        raters_per_pair: raters judging each pair.
        pairwise_questions: pairwise questions ("overall", "realism", "alignment").

    Returns:
        :class:`SimulatedRatings` with the judgments, pairwise choices, rater parameters, the
        noise level and the measured agreement.
    """
    if n_raters < 3:
        raise ConfigError(f"n_raters must be >= 3, got {n_raters}")
    rpi = n_raters if raters_per_item is None else int(raters_per_item)
    if not 3 <= rpi <= n_raters:
        raise ConfigError(f"raters_per_item must be in [3, n_raters={n_raters}], got {raters_per_item}")
    if not 0.5 < agreement_target < 1.0:
        raise ConfigError(f"agreement_target must be in (0.5, 1), got {agreement_target}")
    if not 1 <= raters_per_pair <= n_raters:
        raise ConfigError(f"raters_per_pair must be in [1, {n_raters}], got {raters_per_pair}")
    for q in pairwise_questions:
        if q not in _LIKERT:
            raise ConfigError(f"unknown pairwise question {q!r}; expected one of {_LIKERT}")
    m = _as_manifest(manifest).reset_index(drop=True)
    need = {"item_id", "prompt", "generator", "true_realism", "true_alignment"}
    missing = need - set(m.columns)
    if missing:
        raise ConfigError(f"manifest lacks columns {sorted(missing)}; expected a make_world manifest")
    image = m["image"] if "image" in m.columns else m["path"]
    n = len(m)
    if n < 2:
        raise ConfigError(f"need at least 2 items to simulate raters, got {n}")
    root = np.random.SeedSequence([int(seed), 4242])
    s_par, s_assign, s_eps, s_pair = (np.random.default_rng(s) for s in root.spawn(4))
    raters = _rater_params(n_raters, s_par)
    R = n_raters

    # who rates what
    rated = np.zeros((n, R), dtype=bool)
    if rpi == R:
        rated[:] = True
    else:
        for i in range(n):
            rated[i, s_assign.choice(R, size=rpi, replace=False)] = True

    # common random numbers, drawn once
    eps = {q: s_eps.standard_normal((n, R)) for q in ("realism", "alignment", "overall", "real_vs_fake")}
    lapse_u = {q: s_eps.random((n, R)) for q in eps}
    lapse_ans = {q: s_eps.integers(1, 6, size=(n, R)).astype(float) for q in eps}
    lapse_ans["real_vs_fake"] = s_eps.integers(0, 2, size=(n, R)).astype(float)
    tr = m["true_realism"].to_numpy(np.float64)[:, None]
    ta = m["true_alignment"].to_numpy(np.float64)[:, None]
    scale = raters["scale"].to_numpy()[None, :]
    mult = raters["noise_mult"].to_numpy()[None, :]
    lapse = raters["lapse"].to_numpy()[None, :]

    def perceive(sigma: float):
        pr = tr + sigma * mult * eps["realism"]
        pa = ta + sigma * mult * eps["alignment"]
        return pr, pa

    def realism_scores(sigma: float) -> np.ndarray:
        pr, _ = perceive(sigma)
        s = _likert(pr, scale, raters["bias_realism"].to_numpy()[None, :])
        s = np.where(lapse_u["realism"] < lapse, lapse_ans["realism"], s)
        return np.where(rated, s, np.nan)

    def agreement_at(sigma: float) -> float:
        return pairwise_agreement(realism_scores(sigma))

    calibrated = noise is None
    if calibrated:
        sigma = calibrate_noise(agreement_at, agreement_target, steps=40,
                                what="simulated raters", hint="; its items differ too little in true realism?")
    else:
        sigma = float(noise)
        if sigma < 0:
            raise ConfigError(f"noise must be >= 0, got {noise}")

    # final judgments
    pr, pa = perceive(sigma)
    po = raters["w_realism"].to_numpy()[None, :] * pr + (1 - raters["w_realism"].to_numpy()[None, :]) * pa
    po = po + 0.5 * sigma * mult * eps["overall"]
    scores = {
        "realism": _likert(pr, scale, raters["bias_realism"].to_numpy()[None, :]),
        "alignment": _likert(pa, scale, raters["bias_alignment"].to_numpy()[None, :]),
        "overall": _likert(po, scale, raters["bias_overall"].to_numpy()[None, :]),
        "real_vs_fake": ((pr + 0.5 * sigma * mult * eps["real_vs_fake"])
                         > raters["fake_threshold"].to_numpy()[None, :]).astype(float),
    }
    for q in scores:
        scores[q] = np.where(lapse_u[q] < lapse, lapse_ans[q], scores[q])
    agreement = {"target": float(agreement_target), "calibrated": calibrated, "noise": float(sigma)}
    for q in _LIKERT:
        R_q = np.where(rated, scores[q], np.nan)
        agreement[q] = round(pairwise_agreement(R_q), 4)
        npairs = pairwise_agreement_counts(R_q)[2]
    agreement["rater_pairs"] = npairs

    ii, kk = np.nonzero(rated)
    frames = []
    rid = raters["rater_id"].to_numpy()
    for q in ("realism", "real_vs_fake", "alignment", "overall"):
        frames.append(pd.DataFrame({
            "item_id": m["item_id"].to_numpy()[ii],
            "image": image.to_numpy()[ii],
            "prompt": m["prompt"].to_numpy()[ii],
            "generator": m["generator"].to_numpy()[ii],
            "rater_id": rid[kk],
            "question": q,
            "score": scores[q][ii, kk].astype(np.int64 if q != "real_vs_fake" else np.int64),
        }))
    judgments = pd.concat(frames, ignore_index=True)[list(JUDGMENT_COLUMNS)]

    pairwise = _pairwise(m, raters, sigma, s_pair, pairs_per_prompt, raters_per_pair, pairwise_questions)
    for df in (judgments, pairwise):
        df.attrs.update({"name": LABEL_SET_NAME, "simulated": True})
    meta = {"n_items": n, "n_raters": R, "raters_per_item": rpi, "seed": int(seed),
            "description": "SIMULATED judgments of judgenet's procedural world (not human data)"}
    return SimulatedRatings(judgments=judgments, pairwise=pairwise, raters=raters, noise=float(sigma),
                            agreement=agreement, meta=meta)


def _pairwise(m: pd.DataFrame, raters: pd.DataFrame, sigma: float, rng: np.random.Generator,
              pairs_per_prompt: int, raters_per_pair: int, questions) -> pd.DataFrame:
    key = "prompt_id" if "prompt_id" in m.columns else "prompt"
    gen = m[m["generator"] != "real"]
    rows = []
    R = len(raters)
    # plain arrays / dicts instead of DataFrame.at in the loop (same values, same random draws; ~20x faster)
    col = {c: m[c].to_numpy() for c in ("generator", "true_realism", "true_alignment", "item_id", "prompt")}
    rpar = raters.to_dict("records")
    for _, grp in gen.groupby(key, sort=True):
        idx = grp.index.to_numpy()
        gens = grp["generator"].to_numpy()
        if len(set(gens)) < 2:
            continue
        for _ in range(pairs_per_prompt):
            for _try in range(10):
                a, b = rng.choice(idx, size=2, replace=False)
                if col["generator"][a] != col["generator"][b]:
                    break
            else:
                continue
            who = rng.choice(R, size=raters_per_pair, replace=False)
            for k in who:
                r = rpar[k]
                for q in questions:
                    def util(i):
                        pr = col["true_realism"][i] + sigma * r["noise_mult"] * rng.standard_normal()
                        pa = col["true_alignment"][i] + sigma * r["noise_mult"] * rng.standard_normal()
                        return {"realism": pr, "alignment": pa,
                                "overall": r["w_realism"] * pr + (1 - r["w_realism"]) * pa}[q]
                    ua, ub = util(a), util(b)
                    if rng.random() < r["lapse"]:
                        choice = str(rng.choice(["a", "b", "tie"]))
                    elif abs(ua - ub) < r["tie_band"]:
                        choice = "tie"
                    else:
                        choice = "a" if ua > ub else "b"
                    rows.append({
                        "item_a": col["item_id"][a], "item_b": col["item_id"][b], "question": q,
                        "choice": choice, "preference": _PREFERENCE[choice], "prompt": col["prompt"][a],
                        "generator_a": col["generator"][a], "generator_b": col["generator"][b],
                        "rater_id": r["rater_id"], "weight": 1.0,
                    })
    return pd.DataFrame(rows, columns=list(PAIRWISE_COLUMNS))
