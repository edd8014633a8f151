"""The demo's **side-by-side** experiment on the world's simulated XMC-GAN-style raters
(:func:`judgenet.world.side_by_side.simulate_side_by_side`) — *simulated*, never human.

:func:`run_side_by_side` answers (1) does a model trained on pairs beat raw MID on held-out generators
(difference with a CI), (2) does a model trained on pairs beat one trained on Likert scores of the same budget of
rater time (stated assumption, ``pair_cost``; :class:`LikertBudgetScorer`), and (3) whether adding the Likert
scores to the pairs helps (mixed evidence, :class:`MixedEvidenceScorer`). Both scorers are
:class:`~judgenet.evaluation.pairwise.FoldScorer` s of the held-out pairwise protocol: they see one fold's
training items only.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone

from ..errors import ConfigError
from ..evaluation.pairwise import FoldScorer
from ..world.side_by_side import generated_items, simulate_side_by_side

__all__ = ["run_side_by_side", "SideBySideResult", "LikertBudgetScorer", "MixedEvidenceScorer"]


class LikertBudgetScorer(FoldScorer):
    """Pointwise model trained on Likert judgments with the **same rater time** as the fold's
    training pairs: ``pair_cost`` × (training pair judgments) Likert judgments drawn at random
    (seeded per fold) from those of the fold's training items, averaged per item (MOS), and a
    ``model`` (default standardize → ridge) fitted to the MOS. ``items`` / ``scores``: (n_judgments,)
    item row and rating of every Likert judgment. Each fold's draw is appended to ``log``."""

    def __init__(self, items, scores, *, pair_cost: float = 2.0, model=None, seed: int = 0, log: list | None = None):
        self.items = np.asarray(items, dtype=np.intp)
        self.scores = np.asarray(scores, dtype=np.float64)
        if self.items.shape != self.scores.shape:
            raise ConfigError("items and scores must have one entry per Likert judgment")
        if not pair_cost > 0:
            raise ConfigError(f"pair_cost must be > 0, got {pair_cost}")
        self.pair_cost, self.model, self.seed = float(pair_cost), model, int(seed)
        self.log = log if log is not None else []

    def fold_scores(self, X, pairs, train_items, train_pairs, fold_index):
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        elig = np.flatnonzero(np.isin(self.items, train_items))
        n_pair = float(pairs.n_votes[train_pairs].sum())
        budget = int(round(self.pair_cost * n_pair))
        rng = np.random.default_rng([self.seed, int(fold_index)])
        take = elig if budget >= elig.size else rng.choice(elig, budget, replace=False)
        if take.size == 0:
            raise ConfigError(f"fold {fold_index}: no Likert judgments of training items within the budget")
        it, inv = np.unique(self.items[take], return_inverse=True)
        mos = np.bincount(inv, self.scores[take]) / np.bincount(inv)
        model = clone(self.model) if self.model is not None else make_pipeline(StandardScaler(), Ridge(alpha=1.0))
        model.fit(X[it], mos)
        self.log.append({"fold_index": int(fold_index), "pair_judgments": n_pair, "likert_budget": budget,
                         "likert_used": int(take.size), "likert_available": int(elig.size), "items": int(it.size)})
        return np.asarray(model.predict(X), dtype=np.float64)


class MixedEvidenceScorer(FoldScorer):
    """Bradley–Terry on the fold's training pairs **plus** the soft pairs implied by the Likert
    judgments of its training items (:func:`judgenet.predictors.pairwise.likert_implied_pairs`,
    same prompt only, each implied pair with ``weight`` relative to one pairwise judgment): the
    documented combined loss. ``items``, ``scores``, ``prompts``: (n_judgments,) per Likert judgment."""

    calibrated = True

    def __init__(self, items, scores, prompts, *, weight: float = 1.0, C: float = 1.0):
        self.items = np.asarray(items, dtype=np.intp)
        self.scores = np.asarray(scores, dtype=np.float64)
        self.prompts = np.asarray(prompts, dtype=object)
        self.weight, self.C = float(weight), float(C)

    def fold_scores(self, X, pairs, train_items, train_pairs, fold_index):
        from ..predictors.pairwise import BradleyTerry, likert_implied_pairs

        keep = np.isin(self.items, train_items)
        implied = likert_implied_pairs(self.items[keep], self.scores[keep], self.prompts[keep], weight=self.weight)
        human = pairs.pair_array()[train_pairs]
        y = np.vstack([human, implied]) if len(implied) else human
        pos = np.full(X.shape[0], -1, dtype=np.intp)
        pos[train_items] = np.arange(np.asarray(train_items).size)
        y = np.c_[pos[y[:, 0].astype(np.intp)], pos[y[:, 1].astype(np.intp)], y[:, 2], y[:, 3]]
        model = BradleyTerry(C=self.C).fit(X[train_items], y)
        return model.predict(X)


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

    sbs = simulate_side_by_side(world, n_raters=n_raters, pairs_per_prompt=pairs_per_prompt, question=question,
                                seed=seed)
    gen = generated_items(world)
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
