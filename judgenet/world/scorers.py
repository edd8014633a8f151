"""The two side-by-side experiment's scorers of the held-out pairwise protocol (used by
:mod:`judgenet.world.side_by_side`): a per-item model trained on Likert judgments with the same rater time
(:class:`LikertBudgetScorer`) and Bradley–Terry on pairs plus Likert-implied pairs (:class:`MixedEvidenceScorer`).
Both are :class:`~judgenet.evaluation.pairwise.FoldScorer` s: they see one fold's training items only.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import clone

from ..errors import ConfigError
from ..evaluation.pairwise import FoldScorer

__all__ = ["LikertBudgetScorer", "MixedEvidenceScorer"]


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
