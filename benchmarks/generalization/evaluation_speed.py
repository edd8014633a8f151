"""Wall time of the full demo's evaluation step (one question's ``evaluate`` call: ridge, hist_gb, mlp;
leave-one-generator-out; 1,000 prompt resamples) at ``n_jobs=1`` vs ``n_jobs=2``, interleaved
(A, B, A, B, ...), best and median, load average before and after each run.

    python benchmarks/generalization/evaluation_speed.py [repeats] [question] [split]
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from data import load

from judgenet.evaluation import evaluate

if __name__ == "__main__":
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    q = sys.argv[2] if len(sys.argv) > 2 else "realism"
    split = sys.argv[3] if len(sys.argv) > 3 else "generator"
    d = load("full")
    times = {1: [], 2: []}
    ref = None
    for r in range(reps):
        for n_jobs in (1, 2):
            la0 = os.getloadavg()[0]
            t = time.perf_counter()
            res = evaluate(d["X"], d[f"y_{q}"], d["generator"], d["names"], ["ridge", "hist_gb", "mlp"],
                           prompts=d["prompt_id"], split=split, baselines=["mid_pmi", "clip_score",
                                                                           "-realism.tiny.mahalanobis2"],
                           n_resamples=1000, seed=0, n_jobs=n_jobs, threads=1)
            dt = time.perf_counter() - t
            times[n_jobs].append(dt)
            p = res.predictions[["ridge", "hist_gb", "mlp"]].to_numpy()
            same = "" if ref is None else f" identical={np.array_equal(p, ref)}"
            ref = p if ref is None else ref
            print(f"rep {r} n_jobs={n_jobs}: {dt:.1f} s (load {la0:.1f} -> {os.getloadavg()[0]:.1f}){same}", flush=True)
    for k, v in times.items():
        print(f"n_jobs={k}: best {min(v):.1f} s, median {np.median(v):.1f} s over {len(v)} runs")
