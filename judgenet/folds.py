"""The one fold maker: which items train and which are held out, for every split judgenet evaluates.

Used by held-out evaluation and its nested model selection (:mod:`judgenet.evaluation`), tuning, the pairwise
protocol, label budgets and estimators that select their own regularization on held-out units
(:mod:`judgenet.predictors.anchored`). It sits low in the layering (numpy only) so that all of them can share it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import ConfigError

__all__ = ["SPLITS", "SPLIT_TITLES", "Fold", "prompt_fold_ids", "make_folds"]

SPLITS = {
    "generator": "a new generator on prompts with human labels from other generators",
    "prompt": "new prompts from generators with human labels on other prompts",
    "crossed": "a new generator on new prompts",
}
"""What each split models (the report states it)."""
SPLIT_TITLES = {"generator": "leave-one-generator-out", "prompt": "leave-one-prompt-fold-out",
                "crossed": "crossed: held-out generator x held-out prompt fold"}


@dataclass(frozen=True)
class Fold:
    """One outer (or inner) fold: integer row indices into the arrays given to :func:`make_folds`.

    Attributes:
        name: ``"<generator>"`` (generator split), ``"prompts <f>"`` (prompt split) or
            ``"<generator> x prompts <f>"`` (crossed).
        train, test: int64 index arrays (disjoint; test non-empty).
        held_generator: the held-out generator (None for the prompt split).
        held_prompt_fold: the held-out prompt fold 0..n_prompt_folds-1 (None for the generator split).
    """

    name: str
    train: np.ndarray
    test: np.ndarray
    held_generator: str | None = None
    held_prompt_fold: int | None = None


def prompt_fold_ids(prompts, n_prompt_folds: int = 5, seed: int = 0) -> np.ndarray:
    """(n_items,) prompt fold 0..n_prompt_folds-1 of each item: the distinct prompts (sorted, then
    permuted by ``seed``) are dealt round-robin into folds, so fold sizes differ by at most one prompt
    and all items of a prompt share a fold."""
    pr = np.asarray(prompts).astype(str).ravel()
    uniq = np.unique(pr)
    k = int(n_prompt_folds)
    if k < 2:
        raise ConfigError(f"n_prompt_folds must be >= 2, got {n_prompt_folds}")
    if uniq.size < k:
        raise ConfigError(f"{uniq.size} distinct prompts cannot fill {k} prompt folds; pass n_prompt_folds <= "
                          f"{uniq.size} (--prompt-folds)")
    order = np.random.default_rng(seed).permutation(uniq.size)
    fold_of = np.empty(uniq.size, dtype=np.int64)
    fold_of[order] = np.arange(uniq.size) % k
    return fold_of[np.searchsorted(uniq, pr)]


def make_folds(generators, prompts=None, *, split: str = "generator", n_prompt_folds: int = 5,
               seed: int = 0) -> list[Fold]:
    """The ONE fold maker (outer evaluation folds, nested selection, tuning, pairs, budgets).

    Args:
        generators: (n_items,) generator of each item; generator folds follow first appearance.
        prompts: (n_items,) prompt (id or text) of each item; required for ``"prompt"``/``"crossed"``.
        split: ``"generator"`` — leave one generator out; the held-out generator's prompts stay in
            training (rendered by the other generators, with their labels): models *a new generator on
            prompts with human labels from other generators*. ``"prompt"`` — leave one prompt fold out
            (all generators). ``"crossed"`` — hold out generator g AND prompt fold f: train on the other
            generators x the other prompt folds, test on g x f; models *a new generator on new prompts*.
            Items of other generators on prompt fold f and of g on other folds are in neither part.
        n_prompt_folds: number of prompt folds (distinct prompts dealt at random, ``seed``).
        seed: seeds the prompt-fold assignment.

    Returns:
        list of :class:`Fold`; every item is in the test part of exactly one fold (folds with an
        empty test part are omitted).
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose generator, prompt or crossed")
    gens = np.asarray(generators).astype(str).ravel()
    if split != "generator" and prompts is None:
        raise ConfigError(f"split={split!r} needs the prompt of every item (prompts=...)")
    if prompts is not None and len(prompts) != gens.size:
        raise ConfigError(f"prompts has {len(prompts)} entries for {gens.size} items")
    folds: list[Fold] = []
    if split == "generator":
        for g in pd.unique(gens):
            te = gens == g
            folds.append(Fold(str(g), np.flatnonzero(~te), np.flatnonzero(te), str(g), None))
        return folds
    pf = prompt_fold_ids(prompts, n_prompt_folds, seed)
    k = int(n_prompt_folds)
    if split == "prompt":
        for f in range(k):
            te = pf == f
            folds.append(Fold(f"prompts {f}", np.flatnonzero(~te), np.flatnonzero(te), None, f))
        return folds
    for g in pd.unique(gens):
        is_g = gens == g
        for f in range(k):
            te = is_g & (pf == f)
            if te.any():
                folds.append(Fold(f"{g} x prompts {f}", np.flatnonzero(~is_g & (pf != f)), np.flatnonzero(te),
                                  str(g), f))
    return folds
