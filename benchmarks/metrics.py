"""Benchmark judgenet.metrics against reference implementations, in one process.

1. MID: N reference pairs, M generated, D dims, float64 — ``judgenet.metrics.functional.mid`` vs a
   direct transcription of the official ``naver-ai/mid.metric`` ``_compute_pmi`` (torch; SVD log-dets,
   explicit inverses, separate X/Y/Z covariances).
2. FID: two sets of n × d features — ``judgenet.metrics.functional.fid`` vs
   ``torchmetrics.image.fid.FrechetInceptionDistance`` fed the same features through an identity
   feature extractor (its float64 sum/outer-product states and ``eigvals(Σ1 Σ2)``).

Prints both times (best of ``--repeat``), the speed ratio and the max relative difference.

    python benchmarks/metrics.py            # N=30,000 M=2,000 D=512; FID 10,000 × 2,048
    python benchmarks/metrics.py --quick    # small sizes, seconds
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from judgenet.metrics import functional as F


def official_compute_pmi(x, y, x0, limit=30000, reduction=True):
    """Transcription of naver-ai/mid.metric metrics/mid.py::_compute_pmi (float64 torch tensors)."""
    N = x.shape[0]
    excess = N - limit
    if 0 < excess:
        x, y, x0 = x[:-excess], y[:-excess], x0[:-excess]
    N, M = x.shape[0], x0.shape[0]
    assert N >= x.shape[1], "not full rank for matrix inversion!"

    def log_det(X):
        return X.svd()[1].log().sum()

    def exp_smd(a, b, red=True):
        a_inv = (a + 0 * torch.eye(a.shape[0], dtype=a.dtype)).inverse()
        return (a_inv @ b).trace() if red else (b @ a_inv @ b.t()).diag()

    z = torch.cat([x, y], dim=-1)
    z0 = torch.cat([x0, y[:x0.shape[0]]], dim=-1)
    x_mean = x.mean(dim=0, keepdim=True)
    y_mean = y.mean(dim=0, keepdim=True)
    z_mean = torch.cat([x_mean, y_mean], dim=-1)
    X = (x - x_mean).t() @ (x - x_mean) / (N - 1)
    Y = (y - y_mean).t() @ (y - y_mean) / (N - 1)
    Z = (z - z_mean).t() @ (z - z_mean) / (N - 1)
    X0 = (x0 - x_mean).t() @ (x0 - x_mean) / (M - 1)
    Z0 = (z0 - z_mean).t() @ (z0 - z_mean) / (M - 1)
    mi = (log_det(X) + log_det(Y) - log_det(Z)) / 2
    if reduction:
        smd = (exp_smd(X, X0) + exp_smd(Y, Y) - exp_smd(Z, Z0)) / 2
    else:
        smd = (exp_smd(X, x0 - x_mean, False) + exp_smd(Y, y - y_mean, False) - exp_smd(Z, z0 - z_mean, False)) / 2
    return mi + smd


class _Identity(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.num_features = d

    def forward(self, x):
        return x


def _best(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _clip_like(n, m, d, seed):
    """L2-normalized, correlated image/text features (a CLIP-like joint), float64."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((d, d)) / np.sqrt(d)
    x = rng.standard_normal((n, d)) @ basis + 0.3
    y = 0.6 * x @ rng.standard_normal((d, d)) / np.sqrt(d) + 0.8 * rng.standard_normal((n, d)) / np.sqrt(d)
    xg = x[:m] + 0.05 * rng.standard_normal((m, d)) @ basis  # images for the first m prompts, noisier
    nrm = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)
    return nrm(x), nrm(y), nrm(xg)


def bench_mid(n, m, d, repeat):
    x, y, xg = _clip_like(n, m, d, 0)
    tx, ty, txg = (torch.from_numpy(a) for a in (x, y, xg))
    t_off, v_off = _best(lambda: float(official_compute_pmi(tx, ty, txg)), repeat)
    t_jn, v_jn = _best(lambda: F.mid(x, y, xg), repeat)
    # per-sample PMI, official form needs M = N: compare on a slice with M = N
    k = min(n, 4 * d)
    p_off = official_compute_pmi(tx[:k], ty[:k], tx[:k] * 0.95 + 0.05, reduction=False).numpy()
    p_jn = F.mid(x[:k], y[:k], x[:k] * 0.95 + 0.05, reduction="none", normalize=False)
    rel = abs(v_jn - v_off) / abs(v_off)
    rel_pmi = float(np.max(np.abs(p_jn - p_off) / np.abs(p_off)))
    print(f"MID  N={n:,} M={m:,} D={d} float64")
    print(f"  official (SVD/inverse): {t_off:8.3f} s   value {v_off:.10f}")
    print(f"  judgenet (Cholesky):    {t_jn:8.3f} s   value {v_jn:.10f}")
    print(f"  speed-up {t_off / t_jn:.2f}x   max rel diff {rel:.2e}   (per-sample PMI, N=M={k}: {rel_pmi:.2e})")
    return t_off, t_jn, rel


def bench_fid(n, d, repeat):
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

    t_tm, v_tm = _best(tm, repeat)
    t_jn, v_jn = _best(lambda: F.fid(a, b), repeat)
    rel = abs(v_jn - v_tm) / abs(v_tm)
    print(f"FID  {n:,} x {d:,} per set, float64")
    print(f"  torchmetrics:           {t_tm:8.3f} s   value {v_tm:.10f}")
    print(f"  judgenet:               {t_jn:8.3f} s   value {v_jn:.10f}")
    print(f"  speed-up {t_tm / t_jn:.2f}x   max rel diff {rel:.2e}")
    return t_tm, t_jn, rel


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (N=4,000, M=500, D=128; FID 2,000 × 256)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per implementation; the best time is reported")
    ap.add_argument("--skip-fid", action="store_true")
    args = ap.parse_args(argv)
    print(f"torch {torch.__version__}, numpy {np.__version__}, {platform.processor() or platform.machine()}, "
          f"torch threads {torch.get_num_threads()}")
    if args.quick:
        bench_mid(4000, 500, 128, args.repeat)
        if not args.skip_fid:
            bench_fid(2000, 256, args.repeat)
    else:
        bench_mid(30000, 2000, 512, args.repeat)
        if not args.skip_fid:
            bench_fid(10000, 2048, args.repeat)


if __name__ == "__main__":
    main()
