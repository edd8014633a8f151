"""``judgenet select``: which images (or pairs) of a pool of folders raters should label next, ranked by a saved
predictor with :func:`judgenet.evaluation.active.select` (criteria, greedy batches and reasons are described there).
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from ..errors import ConfigError
from ..evaluation.active import select, write_selection

__all__ = ["select_folder"]


def select_folder(predictor, images: Sequence, budget: int, *, prompts=None, pairs: bool = False, out=None,
                  cache_dir=None, weights=(1.0, 1.0, 1.0), seed: int = 0, device: str = "cpu",
                  batch_size: int = 64) -> pd.DataFrame:
    """``judgenet select``: featurize the pool folders with a saved predictor's backbones and real-image
    reference, rank them with :func:`select` and write ``out`` (CSV). Each folder is one generator.

    A saved predictor carries no labelled features, so ``uncertainty`` is the distance to items
    already selected, ``disagreement`` needs a ConformalPredictor with ``difficulty="spread"`` (its
    members), and ``coverage`` balances generators and prompts within the batch.
    """
    from .predictor import Predictor
    from .prepare import embed_items, generator_inputs

    p = Predictor(predictor, cache_dir=cache_dir, device=device, batch_size=batch_size)
    _, files, gens, gprompts, _, _ = generator_inputs(images, prompts_file=prompts, what="pool folder")
    have = all(t is not None for t in gprompts)
    if not have and p.needs_prompts:
        raise ConfigError(f"predictor {predictor} uses prompt features: give --prompts (image,prompt) for the pool")
    emb, keep, _ = embed_items(files, p._backbones, prompts=gprompts if have else None, cache_dir=cache_dir,
                               batch_size=batch_size)
    files, gens = [f for f, k in zip(files, keep) if k], [g for g, k in zip(gens, keep) if k]
    gprompts = [t for t, k in zip(gprompts, keep) if k] if have else None
    X = p.features(p.feature_matrix(emb, generators=gens))
    sel = select(p.model, X, budget, items=files, generators=gens, prompts=gprompts, weights=weights, pairs=pairs,
                 seed=seed)
    if out is not None:
        write_selection(sel, out)
    return sel
