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

:func:`run_side_by_side` is the demo's side-by-side evaluation: it answers (1) does a model
trained on pairs beat raw MID on held-out generators (difference with a CI), and (2) does a model
trained on pairs beat one trained on Likert scores of the same budget of rater time (stated
assumption, ``pair_cost``), and (3) whether adding the Likert scores to the pairs (mixed evidence)
helps.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ConfigError

__all__ = ["simulate_side_by_side", "SideBySide", "run_side_by_side", "SideBySideResult"]

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


def _manifest(world) -> pd.DataFrame:
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
    m = _manifest(world)
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


# ---------------------------------------------------------------------------------------------
# the demo's side-by-side evaluation
# ---------------------------------------------------------------------------------------------
@dataclass
class SideBySideResult:
    """What :func:`run_side_by_side` found (all on **simulated** raters).

    ``results``: :class:`~judgenet.evaluation.pairwise.PairwiseResults`; ``answers``: the three
    questions as {key: {difference, low, high, sentence}}; ``assumption``: the stated budget
    assumption; ``agreement``: the side-by-side raters' calibration.
    """

    results: object
    answers: dict
    assumption: str
    agreement: dict
    budget: list = field(default_factory=list)

    def markdown(self) -> str:
        lines = ["## Side-by-side judgments (XMC-GAN style, SIMULATED raters)", "",
                 f"{self.agreement['n_pairs']} pairs x {self.agreement['raters_per_pair']} simulated raters "
                 f"({self.agreement['question']}); two raters of a pair agree on "
                 f"{self.agreement['rater_pair_agreement']:.3f} of untied choices (target "
                 f"{self.agreement['target']}). Held-out generators ({self.results.settings['split']} split).", ""]
        lines += [f"* {a['sentence']}" for a in self.answers.values()]
        lines += ["", f"Budget assumption: {self.assumption}", "", self.results.markdown()]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        from ..io import to_jsonable

        return to_jsonable({"answers": self.answers, "assumption": self.assumption, "agreement": self.agreement,
                            "budget": self.budget, "results": self.results.to_dict()})


def _answer(results, a: str, b: str, kind: str, what: str) -> dict:
    e = results.comparisons_by_pairs.get((a, b, "accuracy", kind))
    if e is None:
        return {"difference": None, "sentence": f"{what}: not measurable (no {kind} test pairs)"}
    verdict = ("yes" if e.low > 0 else "no — worse" if e.high < 0 else "not distinguishable")
    return {"difference": e.value, "low": e.low, "high": e.high, "kind": kind,
            "p_not_better": results.p_not_better_by_pairs[(a, b, "accuracy", kind)],
            "sentence": f"{what}: {verdict} (2AFC difference {e.value:+.3f}, 95% CI [{e.low:+.3f}, {e.high:+.3f}], "
                        f"{kind} test pairs)"}


def run_side_by_side(world, X, feature_names, *, likert=None, item_ids=None, question: str = "realism",
                     n_raters: int = 5, pairs_per_prompt: int = 20, pair_cost: float = 2.0, split: str = "generator",
                     n_prompt_folds: int = 5, mid: str = "mid_pmi", bt_grid=(0.01, 0.1, 1.0), n_resamples: int = 1000,
                     seed: int = 0) -> SideBySideResult:
    """The demo's side-by-side evaluation on the world's generated images.

    Args:
        world: the :class:`~judgenet.world.World` the features were computed for.
        X: (n_generated, n_features) features of ``world.generated`` rows (in that order, or in
            the order of ``item_ids``); ``feature_names`` its columns (``mid`` must be one).
        likert: per-item Likert judgments of the same items (a LabelSet, a DataFrame in the label
            schema, or :class:`~judgenet.world.SimulatedRatings`) — for the budget comparison and
            the mixed-evidence model; None skips both.
        pair_cost: **stated assumption** — one side-by-side judgment costs as much rater time as
            ``pair_cost`` single-image Likert ratings (default 2: the rater looks at two images).
            The Likert model of each fold gets ``pair_cost`` x (its training pair judgments)
            Likert judgments, drawn at random from its training items.
        split, n_prompt_folds: the held-out protocol (``generator`` = held-out generators).
        mid: the raw-MID feature column.
        bt_grid: values of the Bradley–Terry ``C`` chosen by nested selection inside each fold
            (inner folds of the same split, training pairs only); empty: C = 1.
    """
    from ..evaluation.pairwise import evaluate_pairs, pairs_from_labels
    from ..predictors.pairwise import BradleyTerry
    from .scorers import LikertBudgetScorer, MixedEvidenceScorer

    sbs = simulate_side_by_side(world, n_raters=n_raters, pairs_per_prompt=pairs_per_prompt, question=question,
                                seed=seed)
    gen = _manifest(world)
    ids = gen["item_id"].astype(str).tolist() if item_ids is None else [str(i) for i in item_ids]
    X = np.asarray(X, dtype=np.float64)
    if X.shape[0] != len(ids):
        raise ConfigError(f"X has {X.shape[0]} rows for {len(ids)} generated items")
    info = gen.set_index(gen["item_id"].astype(str)).loc[ids]
    gens = info["generator"].astype(str).to_numpy()
    prompts = (info["prompt_id"] if "prompt_id" in info.columns else info["prompt"]).astype(str).to_numpy()
    pairs = pairs_from_labels(sbs.labels, question, ids)
    names = list(feature_names)
    if mid not in names:
        raise ConfigError(f"feature {mid!r} (raw MID) is not among the features; pass mid=...")
    models: dict = {"pairs: bradley_terry": BradleyTerry()}
    budget_log: list = []
    if likert is not None:
        frame = likert.judgments if hasattr(likert, "to_labelsets") else getattr(likert, "frame", likert)
        f = frame[frame["question"].astype(str) == question]
        pos = {k: i for i, k in enumerate(ids)}
        rows = f["item_id"].astype(str).map(pos)
        f = f[rows.notna()]
        items = rows[rows.notna()].to_numpy(np.intp)
        scores = f["score"].to_numpy(np.float64)
        models[f"likert: ridge (same rater time, pair_cost={pair_cost:g})"] = LikertBudgetScorer(
            items, scores, pair_cost=pair_cost, seed=seed, log=budget_log)
        models["pairs + likert: bradley_terry"] = MixedEvidenceScorer(items, scores, prompts[items])
    results = evaluate_pairs(X, pairs, gens, names, models, prompts=prompts, split=split,
                             n_prompt_folds=n_prompt_folds, n_resamples=n_resamples, seed=seed,
                             baselines=[mid, "clip_score", "-realism.tiny.mahalanobis2"],
                             param_grid={"pairs: bradley_terry": {"C": list(bt_grid)}} if bt_grid else None)
    pm = "pairs: bradley_terry"
    answers = {"pairs_vs_mid": _answer(results, pm, mid, "all",
                                       "Does the model trained on pairs beat raw MID on held-out generators")}
    if "cross" in results.by_pairs:
        answers["pairs_vs_mid_cross"] = _answer(results, pm, mid, "cross", "... on pairs against other generators")
    if likert is not None:
        lk = next(m for m in models if m.startswith("likert"))
        answers["pairs_vs_likert"] = _answer(results, pm, lk, "all", "Does the pairs model beat a Likert model "
                                                                     "trained with the same rater time")
        answers["mixed_vs_pairs"] = _answer(results, "pairs + likert: bradley_terry", pm, "all",
                                            "Does adding the Likert scores to the pairs (mixed evidence) help")
    assumption = (f"one side-by-side judgment = {pair_cost:g} single-image Likert ratings of rater time; each fold's "
                  f"Likert model gets {pair_cost:g} x its training pair judgments, drawn at random from the Likert "
                  "judgments of its training items")
    return SideBySideResult(results, answers, assumption, sbs.agreement, budget_log)
