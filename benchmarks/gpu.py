"""The prepared accelerator check: extraction on an accelerator vs the CPU, and the metrics fed GPU tensors.

One command, a few minutes on a lent GPU::

    python benchmarks/gpu.py --device cuda                     # writes benchmarks/gpu.md and gpu.json
    python benchmarks/gpu.py --device cuda --clip-checkpoint ViT-B-32.pt --backbone open_clip:ViT-B-32

For every backbone (``tiny``; ``inception:fid`` when its genuine weights are installed; an open_clip model when
its weights are given) the same ``--n-images`` images are embedded on the CPU and on ``--device``, each into its
own empty cache: the features must agree to ``--tolerance`` (max |difference| / max |CPU feature|, default 1e-4;
float32 networks, different kernels) and the images/s of both are printed beside each other. Then FID, KID and
MID are computed from the device's features handed over as tensors *on the device* and compared with the
functional metrics on the CPU features (the metric classes copy to float64 on the CPU; equal to 1e-6 relative).

``--device cpu`` runs the whole harness CPU against CPU (what the test suite does: it checks the harness, not an
accelerator). With ``--device cuda`` on a machine without CUDA the script stops with one line.
Timings are single runs after one warm-up batch, at the machine's default thread count; the table states the
device names, torch version and load average.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _images(folder: Path, n: int, seed: int = 0) -> list[str]:
    """``n`` 96 × 96 PNGs of random coloured rectangles (deterministic)."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        im = Image.new("RGB", (96, 96), tuple(int(c) for c in rng.integers(0, 256, 3)))
        d = ImageDraw.Draw(im)
        for _ in range(3):
            x0, y0 = rng.integers(0, 64, 2)
            d.rectangle([int(x0), int(y0), int(x0 + rng.integers(8, 32)), int(y0 + rng.integers(8, 32))],
                        fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        p = folder / f"img{i:05d}.png"
        im.save(p)
        paths.append(str(p))
    return paths


def _embed(name: str, device: str, paths, cache: Path, options: dict) -> tuple[np.ndarray, float, str]:
    """(features, images/s, device description) of one backbone on one device, into an empty cache."""
    from judgenet.backbones import load_backbone
    from judgenet.embeddings import extract

    bb = load_backbone(name, device=device, **options)
    extract(paths[:8], bb, cache_dir=cache / "warmup", progress=False)  # kernels, allocator, lazy build
    t = time.perf_counter()
    res = extract(paths, bb, cache_dir=cache / "timed", progress=False)
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    dt = time.perf_counter() - t
    feats = np.asarray(res.images[bb.outputs[0]], dtype=np.float64)  # the main embedding (e.g. Inception pool3)
    return feats, len(paths) / dt, _describe(device)


def _describe(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    return platform.processor() or platform.machine()


def _metrics_on_device(cpu: np.ndarray, dev: np.ndarray, texts: np.ndarray | None, device: str) -> list[dict]:
    """FID / KID / MID from tensors on ``device`` vs the functional metrics on the CPU arrays."""
    import torch

    from judgenet.metrics import functional as F
    from judgenet.metrics.metric import FID, KID, MID

    half = cpu.shape[0] // 2
    real_c, fake_c = cpu[:half], cpu[half:2 * half]
    real_d, fake_d = (torch.as_tensor(dev[:half], device=device), torch.as_tensor(dev[half:2 * half], device=device))
    rows = []
    fid = FID(dim=cpu.shape[1])
    fid.update(real_d, real=True)
    fid.update(fake_d, real=False)
    rows.append(("FID", float(fid.compute()), F.fid(real_c, fake_c)))
    kid = KID(subsets=20, subset_size=min(half, 50), seed=0)
    kid.update(real_d, real=True)
    kid.update(fake_d, real=False)
    rows.append(("KID", float(kid.compute()[0]), float(F.kid(real_c, fake_c, subsets=20, subset_size=min(half, 50),
                                                            seed=0)[0])))
    if texts is not None:
        t_d = torch.as_tensor(texts, device=device)
        mid = MID(dim_x=cpu.shape[1], dim_y=texts.shape[1], eps=1e-6)
        mid.update(real_d, t_d[:half], fake_d, t_d[half:2 * half])
        ref = F.mid(real_c, texts[:half], fake_c, texts[half:2 * half], eps=1e-6)
        rows.append(("MID", float(mid.compute()), float(ref)))
    return [{"metric": m, "device_tensors": a, "cpu_functional": b,
             "relative_difference": abs(a - b) / max(abs(b), 1e-12)} for m, a, b in rows]


def run(device: str, n_images: int, backbones: list[str], tolerance: float, options: dict) -> dict:
    from judgenet.backbones import resolve_device
    from judgenet.errors import JudgenetError

    try:
        device = resolve_device(device)
    except JudgenetError as exc:
        raise SystemExit(f"gpu.py: {exc}") from None
    out = {"device": device, "n_images": n_images, "tolerance": tolerance, "extraction": [], "metrics": [],
           "torch": __import__("torch").__version__, "python": platform.python_version(),
           "loadavg": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        paths = _images(Path(tmp) / "images", n_images)
        kept = None
        for name in backbones:
            opts = options if name.startswith("open_clip") else {}
            cpu, cpu_rate, cpu_name = _embed(name, "cpu", paths, Path(tmp) / f"{name}-cpu", opts)
            dev, dev_rate, dev_name = _embed(name, device, paths, Path(tmp) / f"{name}-dev", opts)
            scale = float(np.abs(cpu).max()) or 1.0
            diff = float(np.abs(dev - cpu).max()) / scale
            out["extraction"].append({"backbone": name, "cpu": cpu_name, "device": dev_name,
                                      "cpu_images_per_s": cpu_rate, "device_images_per_s": dev_rate,
                                      "max_relative_difference": diff, "equal": diff <= tolerance})
            if kept is None:
                kept = (cpu, dev)
        texts = np.random.default_rng(1).normal(size=(n_images, 16)) if kept is not None else None
        if kept is not None:
            out["metrics"] = _metrics_on_device(kept[0], kept[1], texts, device)
    out["ok"] = all(r["equal"] for r in out["extraction"]) and all(r["relative_difference"] <= 1e-6
                                                                   for r in out["metrics"])
    return out


def to_markdown(res: dict) -> str:
    lines = [f"# Accelerator check: {res['device']} vs CPU", "",
             f"{res['n_images']} images, torch {res['torch']}, Python {res['python']}, load average "
             f"{', '.join(f'{v:.2f}' for v in res['loadavg'])}; single timed run after a warm-up batch.", "",
             "| backbone | CPU | device | CPU images/s | device images/s | speed-up | max rel. difference | equal |",
             "|---|---|---|---|---|---|---|---|"]
    for r in res["extraction"]:
        lines.append(f"| {r['backbone']} | {r['cpu']} | {r['device']} | {r['cpu_images_per_s']:.1f} | "
                     f"{r['device_images_per_s']:.1f} | {r['device_images_per_s'] / r['cpu_images_per_s']:.2f}× | "
                     f"{r['max_relative_difference']:.1e} | {'yes' if r['equal'] else 'NO'} (≤ {res['tolerance']:g}) |")
    lines += ["", "| metric (device tensors) | value | CPU functional | relative difference |", "|---|---|---|---|"]
    for r in res["metrics"]:
        lines.append(f"| {r['metric']} | {r['device_tensors']:.6f} | {r['cpu_functional']:.6f} | "
                     f"{r['relative_difference']:.1e} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", help="accelerator to compare with the CPU (cuda, cuda:N, mps, cpu)")
    ap.add_argument("--n-images", type=int, default=512, help="images embedded per backbone and device (default 512)")
    ap.add_argument("--backbone", action="append", default=None,
                    help="backbone(s) to check (default: tiny, and inception:fid when its weights are installed)")
    ap.add_argument("--clip-checkpoint", default=None, help="open_clip weights file for an open_clip backbone")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="largest relative feature difference (1e-4)")
    ap.add_argument("--out", default=str(HERE / "gpu.md"), help="markdown table to write (JSON beside it)")
    a = ap.parse_args(argv)
    backbones = a.backbone
    if backbones is None:
        from judgenet.backbones import genuine_inception_path

        backbones = ["tiny"] + (["inception:fid"] if genuine_inception_path() is not None else [])
    res = run(a.device, a.n_images, backbones, a.tolerance,
              {"checkpoint": a.clip_checkpoint} if a.clip_checkpoint else {})
    md = to_markdown(res)
    Path(a.out).write_text(md)
    Path(a.out).with_suffix(".json").write_text(json.dumps(res, indent=1, default=str))
    print(md)
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
