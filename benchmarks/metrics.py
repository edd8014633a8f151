"""Benchmark judgenet.metrics against the official MID code, the matrix-product floor and torchmetrics' FID.

Protocol (``benchmarks/protocol.py``): one process, contenders interleaved, best and median of ≥ 5 runs,
at 1 thread and at all threads, load average printed beside every row.

1. **MID** (float64, L2-normalized CLIP-like features): ``functional.mid``, ``functional.pmi`` and
   ``MIDReference.fit`` vs the official ``naver-ai/mid.metric`` ``_compute_pmi`` (line-by-line
   transcription in ``tests/reference/mid.py``) and vs the **floor**: one product GᵀG of the centred
   N × 2D joint matrix, in numpy (OpenBLAS, syrk) and in torch (MKL, gemm) — the fastest of the two at
   each thread setting is the floor of any exact method.
2. **MID memory**: extra peak RSS of ``MIDReference.fit`` (one shot and ``chunk_size``) over the inputs,
   in a fresh subprocess, as a multiple of the float64 joint matrix; chunked == one-shot values.
3. **FID**: ``functional.fid`` vs ``torchmetrics.image.fid.FrechetInceptionDistance`` fed the same
   features through an identity extractor.

    python benchmarks/metrics.py                 # N=30,000 M=2,000 D=512 and N=100,000 D=768; FID 10,000 × 2,048
    python benchmarks/metrics.py --quick         # small sizes, well under a minute
    python benchmarks/metrics.py --only mid30k --threads 1
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
import torch

import protocol as P
from judgenet.metrics import MIDReference, functional as F
from reference.mid import official_compute_pmi

SIZES = {"mid30k": (30000, 2000, 512), "mid100k": (100000, 2000, 768)}
QUICK = {"mid30k": (4000, 500, 128), "mid100k": (8000, 500, 192)}


def clip_like(n, m, d, seed=0, dtype=np.float64):
    """L2-normalized, correlated image/text features (a CLIP-like joint) and m generated images, built in
    row chunks so that memory stays at the size of the outputs."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((d, d)) / np.sqrt(d)
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    x, y = np.empty((n, d), dtype), np.empty((n, d), dtype)
    for i in range(0, n, 8192):
        k = min(8192, n - i)
        xi = rng.standard_normal((k, d)) @ basis + 0.3
        yi = 0.6 * xi @ mix + 0.8 * rng.standard_normal((k, d)) / np.sqrt(d)
        x[i:i + k] = xi / np.linalg.norm(xi, axis=1, keepdims=True)
        y[i:i + k] = yi / np.linalg.norm(yi, axis=1, keepdims=True)
    xg = x[:m] + 0.05 * rng.standard_normal((m, d)) @ basis
    xg /= np.linalg.norm(xg, axis=1, keepdims=True)
    return x, y, xg.astype(dtype)


def rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def bench_mid(key, n, m, d, args):
    x, y, xg = clip_like(n, m, d)
    limit = None if n > 30000 else 30000
    G = np.hstack([x, y])
    G -= G.mean(0)
    T = torch.from_numpy(G)
    cases = {"floor numpy GᵀG": lambda: G.T @ G, "floor torch GᵀG": lambda: torch.mm(T.T, T)}
    with_official = n <= 30000 or args.official_large
    if with_official:
        tx, ty, txg = (torch.from_numpy(a) for a in (x, y, xg))
        cases["official _compute_pmi"] = lambda: float(official_compute_pmi(tx, ty, txg, limit=limit or n))
    cases.update({
        "MIDReference.fit": lambda: MIDReference.fit(x, y, limit=limit),
        "functional.mid": lambda: F.mid(x, y, xg, limit=limit),
        "functional.pmi": lambda: F.pmi(x, y, xg, limit=limit),
    })
    rows = P.compare(cases, args)
    title = f"MID {key}: N={n:,} reference pairs, M={m:,} generated, D={d} (joint {n:,} × {2 * d}), float64"
    P.print_table(rows, baseline="official _compute_pmi" if with_official else "floor numpy GᵀG", title=title)
    # ratios to the floor (fastest GᵀG at the same thread setting)
    out = {"rows": [r.to_dict() for r in rows], "n": n, "m": m, "d": d}
    print("\n| threads | contender | best / floor best | median / floor median |\n|---|---|---|---|")
    for t in sorted({r.threads for r in rows}):
        at = {r.name: r for r in rows if r.threads == t}
        fb = min(at["floor numpy GᵀG"].best, at["floor torch GᵀG"].best)
        fm = min(at["floor numpy GᵀG"].median, at["floor torch GᵀG"].median)
        for name in ("MIDReference.fit", "functional.mid", "functional.pmi", "official _compute_pmi"):
            if name in at:
                print(f"| {t} | {name} | {at[name].best / fb:.2f}× | {at[name].median / fm:.2f}× |")
                out[f"floor_ratio_{name}_{t}"] = at[name].best / fb
    if with_official:
        v_off = next(r.value for r in rows if r.name == "official _compute_pmi")
        v_jn = next(r.value for r in rows if r.name == "functional.mid")
        k = min(n, 4 * d)  # per-sample PMI: the official form needs M = N
        xs = x[:k] * 0.95 + 0.05
        p_off = official_compute_pmi(x[:k], y[:k], xs, reduction=False).numpy()
        p_jn = F.pmi(x[:k], y[:k], xs, normalize=False)
        out.update(rel_mid=abs(v_jn - v_off) / abs(v_off), rel_pmi=rel(p_jn, p_off))
        print(f"\nvalues: official {v_off:.12f}, judgenet {v_jn:.12f}; rel. diff {out['rel_mid']:.1e} "
              f"(per-sample PMI, N=M={k}: max diff / max |value| {out['rel_pmi']:.1e})")
    return out


def _status_kib(field):
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))


def _rss_child(n, d, chunk):
    """Run in a fresh process: extra peak RSS of MIDReference.fit over the inputs, in MiB (Linux: the
    peak, VmHWM, is reset to the current RSS through /proc/self/clear_refs just before the fit)."""
    x, y, _ = clip_like(n, 2, d)
    MIDReference.fit(x[:4 * d], y[:4 * d], limit=None)  # import/allocator warm-up outside the measurement
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    rss0 = _status_kib("VmRSS")
    ref = MIDReference.fit(x, y, limit=None, chunk_size=chunk or None)
    peak = _status_kib("VmHWM")
    print(json.dumps({"extra_mib": (peak - rss0) / 1024, "joint_mib": n * 2 * d * 8 / 2**20, "mi": ref.mi}))


def bench_memory(n, d, chunk):
    res = {}
    for c in (0, chunk):
        out = subprocess.run([sys.executable, __file__, "--rss-child", f"{n},{d},{c}"], capture_output=True,
                             text=True, check=True).stdout.strip().splitlines()[-1]
        res[c] = json.loads(out)
    one, ch = res[0], res[chunk]
    print(f"\nMID memory, N={n:,}, D={d}: float64 joint matrix {one['joint_mib']:.0f} MiB; extra peak RSS of "
          f"MIDReference.fit over the inputs: one shot {one['extra_mib']:.0f} MiB "
          f"({one['extra_mib'] / one['joint_mib']:.2f}× the joint matrix), chunk_size={chunk:,} "
          f"{ch['extra_mib']:.0f} MiB ({ch['extra_mib'] / one['joint_mib']:.2f}×); MI one shot {one['mi']:.12f} vs "
          f"chunked {ch['mi']:.12f} (rel. diff {abs(one['mi'] - ch['mi']) / abs(one['mi']):.1e})")
    return {"one_shot": one, "chunked": ch, "chunk_size": chunk}


class _Identity(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.num_features = d

    def forward(self, x):
        return x


def bench_fid(n, d, args):
    from torchmetrics.image.fid import FrechetInceptionDistance

    rng = np.random.default_rng(1)
    A = rng.standard_normal((d, d)) / np.sqrt(d)
    a = np.maximum(rng.standard_normal((n, d)) @ A, 0)  # ReLU-like, Inception pool3-ish
    b = np.maximum(rng.standard_normal((n, d)) @ A * 1.1 + 0.05, 0)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)

    def tm():
        metric = FrechetInceptionDistance(feature=_Identity(d))
        metric.update(ta, real=True)
        metric.update(tb, real=False)
        return float(metric.compute())

    rows = P.compare({"torchmetrics FID class": tm, "judgenet functional.fid": lambda: F.fid(a, b)}, args)
    P.print_table(rows, baseline="torchmetrics FID class", title=f"FID {n:,} × {d:,} per set, float64")
    v_tm = next(r.value for r in rows if r.name.startswith("torchmetrics"))
    v_jn = next(r.value for r in rows if r.name.startswith("judgenet"))
    print(f"values: torchmetrics {v_tm:.10f}, judgenet {v_jn:.10f}; rel. diff {abs(v_jn - v_tm) / abs(v_tm):.1e}")
    return {"rows": [r.to_dict() for r in rows], "rel": abs(v_jn - v_tm) / abs(v_tm)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    P.add_arguments(ap)
    ap.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    ap.add_argument("--only", default="mid30k,mid100k,memory,fid",
                    help="comma-separated parts: mid30k, mid100k, memory, fid (default: all)")
    ap.add_argument("--official-large", action="store_true", help="also time the official code at N=100,000")
    ap.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rss_child:
        n, d, c = (int(v) for v in args.rss_child.split(","))
        return _rss_child(n, d, c)
    info = P.header(args)
    parts = args.only.split(",")
    sizes = QUICK if args.quick else SIZES
    results = {}
    for key in ("mid30k", "mid100k"):
        if key in parts:
            results[key] = bench_mid(key, *sizes[key], args)
    if "memory" in parts:
        n, _, d = sizes["mid30k"]
        results["memory"] = bench_memory(n, d, max(1000, n // 8))
    if "fid" in parts:
        results["fid"] = bench_fid(*((2000, 256) if args.quick else (10000, 2048)), args)
    if args.json:
        P.write_json(args.json, info, [], results=results)
    return results


if __name__ == "__main__":
    main()
