"""Benchmark: naive per-image loop vs ``judgenet.embeddings.extract`` cold vs warm (not a timed test).

    python benchmarks/extract.py [--n 300] [--backbone tiny] [--batch-size 64] [--workers 0] [--threads 1,all]

Protocol (``benchmarks/protocol.py``): (a), (b), (c) interleaved, best and median of ≥ 5 runs each, at
1 thread and at all threads, load average printed beside every row (refused above the core count
unless ``--force``). Every (b) run extracts into a new, empty cache; (c) reuses the last (b)'s cache.

(a) naive: for each file, PIL open → ``backbone.transform`` → forward of a batch of one;
(b) cold: ``extract`` into an empty cache (batched DataLoader, shards written);
(c) warm: ``extract`` again, everything cached (hash files + memory-mapped reads).
Prints images/s for each and the ratios b/a and c/b, and checks that (a) and (b) agree.
Images are procedurally generated 256×256 PNGs (shapes on gradients) in a temporary folder.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

import protocol as P  # noqa: E402  (puts the checkout on sys.path)
from judgenet.backbones import load_backbone  # noqa: E402
from judgenet.embeddings import extract  # noqa: E402
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
    P.add_arguments(ap)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--backbone", default="tiny")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: extract's automatic choice)")
    args = ap.parse_args(argv)
    info = P.header(args, extra=f"{args.n} PNGs 256×256, backbone {args.backbone}, batch {args.batch_size}, "
                                f"workers {args.workers}")
    bb = load_backbone(args.backbone, allow_random=True) if args.backbone.startswith("inception") \
        else load_backbone(args.backbone)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "img").mkdir()
        paths = make_images(tmp / "img", args.n)
        state = {"runs": 0, "cache": None}

        def cold():
            state["runs"] += 1
            state["cache"] = tmp / f"cache{state['runs']}"
            out = extract(paths, bb, state["cache"], batch_size=args.batch_size, num_workers=args.workers,
                          progress=False)
            assert out.n_computed == args.n
            return out

        def warm():
            out = extract(paths, bb, state["cache"], batch_size=args.batch_size, num_workers=args.workers,
                          progress=False)
            assert out.n_computed == 0 and out.n_cached == args.n
            return out

        rows = P.compare({"(a) naive loop": lambda: naive(paths, bb), "(b) extract, cold": cold,
                          "(c) extract, warm": warm}, args)
        ref = next(r.value for r in rows if r.name.startswith("(a)"))
        got = next(r.value for r in rows if r.name.startswith("(b)"))
        err = float(np.abs(got.images[bb.outputs[0]] - ref).max())
    P.print_table(rows, baseline="(a) naive loop", title=f"{bb.name}: {args.n} images (seconds per {args.n} images)")
    print("\n| threads | (a) naive img/s | (b) cold img/s | (c) warm img/s | b/a | c/b | load before → after |")
    print("|---|---|---|---|---|---|---|")
    fig = {"n": args.n, "backbone": bb.name, "batch_size": args.batch_size, "workers": args.workers,
           "max_abs_diff_naive_vs_extract": err, "by_threads": {}}
    for t in sorted({r.threads for r in rows}):
        a, b, c = (next(r for r in rows if r.threads == t and r.name.startswith(k)) for k in ("(a)", "(b)", "(c)"))
        ips = [args.n / r.median for r in (a, b, c)]
        fig["by_threads"][t] = {"naive_img_s": ips[0], "cold_img_s": ips[1], "warm_img_s": ips[2]}
        print(f"| {t} | {ips[0]:.1f} | {ips[1]:.1f} | {ips[2]:,.0f} | {ips[1] / ips[0]:.2f} | {ips[2] / ips[1]:.1f} | "
              f"{a.load_before:.2f} → {c.load_after:.2f}{' LOADED' if a.loaded else ''} |")
    print(f"(images/s from the median run) max |naive - extract| = {err:.2e}")
    if args.json:
        P.write_json(args.json, info, rows, figures=fig)
    return fig


if __name__ == "__main__":
    main()
