"""Sanity table of the world with the shipped tiny encoder: CLIPScore, MID and FID per generator.

    python -m training.world_sanity --out training/world_sanity.csv [--world v1]

The shipped ``training/world_sanity.csv`` was made on world v1 (before issue 26's prompt difficulty;
``--world v1`` reproduces it); the default is the calibrated world v2.

"clean" = clean renderings of the generators' prompt scenes (what a perfect generator would draw),
scored against the world's reference (real) images and captions. Expected, and tested in
``tests/test_world_sanity.py``: clean beats alignment-breaking generators on CLIPScore/MID, beats
realism-breaking generators on FID, and higher severity scores worse on the matching metric.

Embeddings: the tiny encoder's image and text embeddings (not normalized for FID; MID and
CLIPScore normalize). The tiny image tower plays the "Inception role" for FID on the world.
All data are **simulated**.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image

from judgenet.metrics.functional import clip_score, fid, mid
from judgenet.world import load_tiny_clip, make_world, prompt_scene, render

__all__ = ["encode_world", "sanity_table"]


@torch.no_grad()
def encode_world(model, preprocess, tokenizer, images: Sequence, texts: Sequence[str], batch: int = 256):
    """Image embeddings (from PIL images or paths, through open_clip's ``preprocess``) and text
    embeddings, float64 numpy, not normalized."""
    ims = []
    for i in range(0, len(images), batch):
        chunk = [im if isinstance(im, Image.Image) else Image.open(im).convert("RGB") for im in images[i:i + batch]]
        ims.append(model.encode_image(torch.stack([preprocess(im) for im in chunk])).double().numpy())
    txs = [model.encode_text(tokenizer(list(texts[i:i + batch]))).double().numpy() for i in range(0, len(texts), batch)]
    return np.concatenate(ims), np.concatenate(txs)


def sanity_table(
    root: str | Path | None = None,
    generators: Sequence[str] | None = None,
    n_real: int = 400,
    n_per_generator: int = 150,
    severities: Sequence[float] = (0.2, 0.5, 0.8),
    seed: int = 0,
    assets_dir: str | Path | None = None,
    world: str = "v2",
) -> pd.DataFrame:
    """One row per set ("clean" and each generator × severity): clip_score, mid, fid, and the mean
    latent true_realism / true_alignment."""
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    root = Path(root or tempfile.mkdtemp(prefix="jn-world-sanity-"))
    w = make_world(root, n_real=n_real, n_per_generator=n_per_generator, generators=generators,
                   severities=severities, seed=seed, world=world)
    model, preprocess, tok = load_tiny_clip(assets_dir)
    m = w.manifest
    real = m[m.generator == "real"]
    xr, yr = encode_world(model, preprocess, tok, list(real.path), list(real.prompt))
    gen = m[m.generator != "real"]
    xg, yg = encode_world(model, preprocess, tok, list(gen.path), list(gen.prompt))
    # clean renderings of the prompt scenes, with the same prompts
    first = gen[(gen.generator == gen.generator.iloc[0]) & (gen.severity == gen.severity.iloc[0])]
    clean_imgs = [Image.fromarray(render(prompt_scene(seed, int(pid[1:]), w.config["size"]))) for pid in first.prompt_id]
    xc, yc = encode_world(model, preprocess, tok, clean_imgs, list(first.prompt))
    rows = [{"set": "clean", "generator": "clean", "severity": 0.0, "n": len(xc),
             "clip_score": clip_score(xc, yc), "mid": mid(xr, yr, xc, yc), "fid": fid(xr, xc),
             "true_realism": 1.0, "true_alignment": 1.0}]
    gen = gen.reset_index(drop=True)
    for (g, s), grp in gen.groupby(["generator", "severity"], sort=False):
        ix = grp.index.to_numpy()
        rows.append({"set": f"{g}@{s:g}", "generator": g, "severity": float(s), "n": len(ix),
                     "clip_score": clip_score(xg[ix], yg[ix]), "mid": mid(xr, yr, xg[ix], yg[ix]),
                     "fid": fid(xr, xg[ix]), "true_realism": float(grp.true_realism.mean()),
                     "true_alignment": float(grp.true_alignment.mean())})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="World sanity table with the shipped tiny encoder (simulated data)")
    ap.add_argument("--out", default="training/world_sanity.csv")
    ap.add_argument("--n-real", type=int, default=400)
    ap.add_argument("--n-per-generator", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--world", choices=("v1", "v2"), default="v2")
    args = ap.parse_args(argv)
    t = sanity_table(n_real=args.n_real, n_per_generator=args.n_per_generator, seed=args.seed, world=args.world)
    t.to_csv(args.out, index=False, float_format="%.4f")
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(t.round(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
