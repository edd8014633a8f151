"""``judgenet select``: which images (or pairs) of a pool of folders raters should label next, ranked by a saved
predictor with :func:`judgenet.evaluation.active.select` (criteria, greedy batches and reasons are described there).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..evaluation.active import select, write_selection

__all__ = ["select_folder"]

log = logging.getLogger(__name__)


def select_folder(predictor, images: Sequence, budget: int, *, prompts=None, pairs: bool = False, out=None,
                  cache_dir=None, weights=(1.0, 1.0, 1.0), seed: int = 0, device: str = "cpu",
                  batch_size: int = 64) -> pd.DataFrame:
    """``judgenet select``: featurize the pool folders with a saved predictor's backbones and real-image
    reference, rank them with :func:`select` and write ``out`` (CSV). Each folder is one generator.

    A saved predictor carries no labelled features, so ``uncertainty`` is the distance to items
    already selected, ``disagreement`` needs a ConformalPredictor with ``difficulty="spread"`` (its
    members), and ``coverage`` balances generators and prompts within the batch.
    """
    from ..backbones import load_backbones
    from ..embeddings import embed
    from ..features import FeatureBuilder
    from .inputs import find_prompts_file, generator_names, image_folder, prompts_for, read_prompts
    from ..predictors import load_predictor
    from ..predictors.recipes import Recipe

    _, meta = Recipe.from_predictor_dir(predictor, with_meta=True)
    backbones = list(meta.get("extra", {}).get("backbones") or ["tiny"])
    bbs = load_backbones(backbones, device=device)
    fps = {b.source: b.fingerprint for b in bbs}
    builder = FeatureBuilder.load(Path(predictor) / "reference", expected_fingerprints=fps)
    model, meta = load_predictor(predictor, expected_fingerprints=fps, expected_reference_hash=builder.hash_)
    names = generator_names(images)
    table = read_prompts(prompts) if prompts else None
    files, gens, gprompts = [], [], []
    for g, name in zip(images, names):
        gdir = Path(g)
        fs = image_folder(gdir, "pool folder")
        t = table if table is not None else (read_prompts(pf) if (pf := find_prompts_file(gdir)) else None)
        files += [str(f) for f in fs]
        gens += [name] * len(fs)
        gprompts += prompts_for(fs, gdir, t) if t is not None else [None] * len(fs)
    have = all(p is not None for p in gprompts)
    if not have and "mid_pmi" in meta["feature_names"]:
        raise ConfigError(f"predictor {predictor} uses prompt features: give --prompts (image,prompt) for the pool")
    emb = embed(files, bbs, prompts=gprompts if have else None, cache_dir=cache_dir, batch_size=batch_size,
                progress=False)
    keep = np.asarray(emb.ok, dtype=bool)
    if not keep.all():
        log.warning("skipped %d unreadable image(s)", int((~keep).sum()))
        emb = emb.subset(keep)
    fm = builder.transform(emb, generators=[g for g, k in zip(gens, keep) if k])
    want = meta["feature_names"]
    missing = [c for c in want if c not in fm.names]
    if missing:
        raise ConfigError(f"predictor {predictor} needs features {missing[:5]} that cannot be built for the pool")
    X = np.column_stack([fm.X[:, fm.names.index(c)] for c in want])
    files = [f for f, k in zip(files, keep) if k]
    gens = [g for g, k in zip(gens, keep) if k]
    gprompts = [p for p, k in zip(gprompts, keep) if k] if have else None
    sel = select(model, X, budget, items=files, generators=gens, prompts=gprompts, weights=weights, pairs=pairs,
                 seed=seed)
    if out is not None:
        write_selection(sel, out)
    return sel
