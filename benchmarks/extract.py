"""Benchmark: naive per-image loop vs ``judgenet.features.extract`` cold vs warm (not a timed test).

    python benchmarks/extract.py [--n 300] [--backbone tiny] [--batch-size 64] [--workers 0] [--threads 2]

(a) naive: for each file, PIL open → ``backbone.transform`` → forward of a batch of one;
(b) cold: ``extract`` into an empty cache (batched DataLoader, shards written);
(c) warm: ``extract`` again, everything cached (hash files + memory-mapped reads).
Prints images/s for each and the ratios b/a and c/b, and checks that (a) and (b) agree.
Images are procedurally generated 256×256 PNGs (shapes on gradients) in a temporary folder.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from judgenet.backbones import load_backbone  # noqa: E402
from judgenet.features import extract  # noqa: E402
from judgenet.images import load_rgb  # noqa: E402


def make_images(folder: Path, n: int, size: int = 256, seed: int = 0) -> list[str]:
    """``n`` distinct size×size RGB PNGs: a random colour gradient with a few random shapes."""
    rng = np.random.default_rng(seed)
    paths = []
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        t = (xx * rng.random() + yy * rng.random())[..., None] / 2
        img = Image.fromarray((c0 * (1 - t) + c1 * t).astype(np.uint8))
        d = ImageDraw.Draw(img)
        for _ in range(rng.integers(1, 5)):
            x0, y0 = rng.integers(0, size - 40, 2)
            w, h = rng.integers(20, size // 2, 2)
            fill = tuple(int(v) for v in rng.integers(0, 256, 3))
            (d.ellipse if rng.random() < 0.5 else d.rectangle)([x0, y0, x0 + w, y0 + h], fill=fill)
        p = folder / f"img_{i:04d}.png"
        img.save(p)
        paths.append(str(p))
    return paths


def naive(paths, bb) -> np.ndarray:
    rows = []
    with torch.inference_mode():
        for p in paths:
            x = bb.transform(load_rgb(p))[None]
            rows.append(bb.encode_images(x)[0].numpy())
    return np.stack(rows)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--backbone", default="tiny")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: extract's automatic choice)")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (the issue's target: 2 cores)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    bb = load_backbone(args.backbone, allow_random=True) if args.backbone.startswith("inception") \
        else load_backbone(args.backbone)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "img").mkdir()
        paths = make_images(tmp / "img", args.n)
        naive(paths[:4], bb)  # warm-up (allocator, kernels)
        t = time.perf_counter()
        ref = naive(paths, bb)
        ta = time.perf_counter() - t
        t = time.perf_counter()
        cold = extract(paths, bb, tmp / "cache", batch_size=args.batch_size, num_workers=args.workers,
                       progress=False)
        tb = time.perf_counter() - t
        t = time.perf_counter()
        warm = extract(paths, bb, tmp / "cache", batch_size=args.batch_size, num_workers=args.workers,
                       progress=False)
        tc = time.perf_counter() - t
        assert cold.n_computed == args.n and warm.n_computed == 0 and warm.n_cached == args.n
        err = float(np.abs(cold.images[bb.outputs[0]] - ref).max())
    fig = {"n": args.n, "backbone": bb.name, "threads": args.threads, "batch_size": args.batch_size,
           "workers": args.workers, "naive_img_s": args.n / ta, "cold_img_s": args.n / tb, "warm_img_s": args.n / tc,
           "max_abs_diff_naive_vs_extract": err, "cpu_count": os.cpu_count()}
    fig["ratio_cold_over_naive"] = fig["cold_img_s"] / fig["naive_img_s"]
    fig["ratio_warm_over_cold"] = fig["warm_img_s"] / fig["cold_img_s"]
    print(f"{bb.name}: {args.n} images, {args.threads} threads, batch {args.batch_size}, workers {args.workers}")
    print(f"  (a) naive loop      {fig['naive_img_s']:9.1f} images/s")
    print(f"  (b) extract, cold   {fig['cold_img_s']:9.1f} images/s   b/a = {fig['ratio_cold_over_naive']:.2f}")
    print(f"  (c) extract, warm   {fig['warm_img_s']:9.1f} images/s   c/b = {fig['ratio_warm_over_cold']:.1f}")
    print(f"  max |naive - extract| = {err:.2e}")
    return fig


if __name__ == "__main__":
    main()
