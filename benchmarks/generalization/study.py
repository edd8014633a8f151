"""Generalization study helpers: run one configuration on both splits and tabulate it against raw MID.

Every number is a pooled held-out Kendall tau-b with a 95% prompt-bootstrap CI, and the paired
bootstrap difference model − raw MID (same resamples), from :func:`judgenet.evaluation.evaluate`.
"""
from __future__ import annotations

import os
import sys
import time

import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from data import QUESTIONS, load  # noqa: F401  (re-exported for the run_* scripts)

from judgenet.evaluation import evaluate

BASE = ("mid_pmi", "clip_score", "-realism.tiny.mahalanobis2")


def cols(d, drop_groups=(), keep=None):
    names = d["names"]
    idx = [i for i, n in enumerate(names) if d["groups"][i] not in drop_groups and (keep is None or keep(n))]
    return idx


def run(d, question, models, *, split="crossed", X=None, names=None, n_resamples=1000, seed=0, n_jobs=1,
        y=None):
    X = d["X"] if X is None else X
    names = d["names"] if names is None else names
    y = d[f"y_{question}"] if y is None else y
    from threadpoolctl import threadpool_limits

    t = time.perf_counter()
    with threadpool_limits(1):  # BLAS/OpenMP pools of 1: on the shared 2-core machine more threads only stall
        r = evaluate(X, y, d["generator"], names, models, prompts=d["prompt_id"], split=split, baselines=list(BASE),
                     n_resamples=n_resamples, seed=seed, per_generator_ci=False, threads=1, n_jobs=n_jobs,
                     measures=["kendall_tau_b", "pairwise_accuracy"], compare_measures=["kendall_tau_b"])
    r.settings["seconds"] = time.perf_counter() - t
    return r


def rows(r, question, label=""):
    out = []
    mid = r.metrics["mid_pmi"]["kendall_tau_b"]
    for m in r.models:
        e = r.metrics[m]["kendall_tau_b"]
        c = r.comparisons[(m, "mid_pmi", "kendall_tau_b")]
        out.append({"question": question, "split": r.settings["split"], "variant": label, "model": m,
                    "tau_b": e.value, "lo": e.low, "hi": e.high, "mid": mid.value, "mid_lo": mid.low,
                    "mid_hi": mid.high, "diff": c.value, "diff_lo": c.low, "diff_hi": c.high})
    return out


def show(r, question, label=""):
    """Print one run (time and load, within-generator tau-b of every model and raw MID, the table rows);
    returns its :func:`rows`."""
    out = rows(r, question, label)
    w = {m: r.metrics[m]["within_generator_kendall_tau_b"] for m in [*r.models, "mid_pmi"]}
    print(question, r.settings["split"], f"{r.settings['seconds']:.1f}s load {os.getloadavg()}", flush=True)
    print("  within-generator tau-b:", {m: f"{e.value:.3f} [{e.low:.3f}, {e.high:.3f}]" for m, e in w.items()},
          flush=True)
    print(fmt(pd.DataFrame(out)), flush=True)
    return out


def fmt(df):
    def ci(v, lo, hi):
        return f"{v:.3f} [{lo:.3f}, {hi:.3f}]"

    return "\n".join(
        f"| {r.question} | {r.split} | {r.variant} | {r.model} | {ci(r.tau_b, r.lo, r.hi)} | {ci(r.mid, r.mid_lo, r.mid_hi)} | "
        f"{r.diff:+.3f} [{r.diff_lo:+.3f}, {r.diff_hi:+.3f}] |" for r in df.itertuples())
