"""Build (and cache) the built-in world's features and labels for the generalization study.

Same steps as ``judgenet demo`` (full or fast world, 5 simulated raters, tiny encoder, the default
feature groups fitted on the real images), saved to ``<cache>/generalization/<variant>.npz`` so the
study scripts can reload them in a second::

    python benchmarks/generalization/data.py --variant full [--world v1]

``--world v1`` builds the world before issue 26's prompt difficulty (cached apart: ``<variant>-v1``), the
world every table in README.md sections 1-3 was measured on; the default is the calibrated ``v2``.

The npz holds X (n, p) float64, names, group of each column, generator, prompt_id, severity,
true_realism/true_alignment (the world's latent qualities), the mean score per question
(y_realism, y_alignment, y_overall) and the per-rater scores (r_<question>, (n, raters)).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

SIZES = {"fast": dict(n_real=400, n_per_generator=8, severities=(0.3, 0.8)),
         "full": dict(n_real=800, n_per_generator=25, severities=(0.2, 0.5, 0.8))}
QUESTIONS = ("realism", "alignment", "overall")


def build(variant: str = "full", seed: int = 0, cache=None, extra_backbones=(), world_kwargs=None,
          rater_kwargs=None, tag: str = "", world: str = "v2") -> Path:
    from judgenet import config
    from judgenet.backbones import load_backbones
    from judgenet.embeddings import embed
    from judgenet.features import FeatureBuilder
    from judgenet.world import make_world, simulate_raters

    cache = config.cache_dir(cache)
    suffix = "" if world == "v2" else f"-{world}"
    out = cache / "generalization" / f"{variant}{suffix}{tag}.npz"
    world = make_world(cache / "world" / f"{variant}{suffix}", seed=seed, world=world, **SIZES[variant],
                       **(world_kwargs or {}))
    ratings = simulate_raters(world, n_raters=5, seed=seed, **(rater_kwargs or {}))
    bbs = load_backbones(["tiny", *extra_backbones])
    real, gen = world.real, world.generated
    er = embed(real["path"].tolist(), bbs, prompts=real["prompt"].tolist(), cache_dir=cache, progress=False)
    eg = embed(gen["path"].tolist(), bbs, prompts=gen["prompt"].tolist(), cache_dir=cache, progress=False)
    fb = FeatureBuilder(seed=seed).fit(er)
    fm = fb.transform(eg)
    j = ratings.judgments
    ids = gen["item_id"].astype(str).to_numpy()
    arrays = {}
    for q in QUESTIONS:
        w = j[j["question"] == q].pivot_table(index="item_id", columns="rater_id", values="score")
        w = w.reindex(ids)
        arrays[f"r_{q}"] = w.to_numpy(np.float64)
        arrays[f"y_{q}"] = np.nanmean(arrays[f"r_{q}"], axis=1)
    group_of = {n: g for g, cols in fm.groups.items() for n in cols}
    np.savez(out.with_suffix(".tmp.npz"), X=fm.X, names=np.array(fm.names), groups=np.array([group_of[n] for n in fm.names]),
             generator=np.array(gen["generator"], dtype=str), prompt_id=np.array(gen["prompt_id"], dtype=str),
             prompt=np.array(gen["prompt"], dtype=str), severity=gen["severity"].to_numpy(np.float64),
             true_realism=gen["true_realism"].to_numpy(np.float64),
             true_alignment=gen["true_alignment"].to_numpy(np.float64), item_id=np.array(ids, dtype=str),
             agreement=np.array(repr(ratings.agreement)), **arrays)
    os.replace(out.with_suffix(".tmp.npz"), out)
    return out


def load(variant: str = "full", tag: str = "", cache=None, world: str = "v2") -> dict:
    from judgenet import config

    suffix = "" if world == "v2" else f"-{world}"
    f = config.cache_dir(cache) / "generalization" / f"{variant}{suffix}{tag}.npz"
    if not f.is_file():
        build(variant, tag=tag, cache=cache, world=world)
    d = dict(np.load(f, allow_pickle=False))
    d["names"] = [str(n) for n in d["names"]]
    return d


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", choices=sorted(SIZES), default="full")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--world", choices=("v1", "v2"), default="v2")
    a = ap.parse_args()
    print(build(a.variant, a.seed, world=a.world))
