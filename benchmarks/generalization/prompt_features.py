"""Do the prompt's features help a learned predictor on new prompts? (issue 26 item 3; SIMULATED world v2)

The demo's world (full or fast size, seed 0, 5 simulated raters, tiny encoder, labels aggregated as the demo does)
featurized by one :class:`judgenet.features.FeatureBuilder` fitted on the real images and their captions, with
every per-item group (``alignment``, ``realism``, ``activations``, ``prompt``, ``caption``). Each model family is
evaluated on column sets that differ only by the prompt groups — all of them in ONE
:func:`judgenet.evaluation.evaluate` call per (question, split), so every arm shares the folds and the bootstrap
resamples and the paired differences (arm − raw MID) are comparable; the arm − base difference is the paired
bootstrap of :func:`judgenet.stats.paired_bootstrap` over the same prompt resamples::

    python benchmarks/generalization/prompt_features.py --variant full --questions realism,alignment \\
        --splits crossed,generator --models hist_gb,ridge,anchored --arms base,prompt,caption,both

Prints one markdown row per (question, split, model, arm) and writes them to ``--out`` (CSV).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd

BASE_GROUPS = ("alignment", "realism", "activations")
ARMS = {"base": BASE_GROUPS, "prompt": BASE_GROUPS + ("prompt",), "caption": BASE_GROUPS + ("caption",),
        "both": BASE_GROUPS + ("prompt", "caption")}
SIZES = {"fast": dict(n_real=400, n_per_generator=8, severities=(0.3, 0.8)),
         "full": dict(n_real=800, n_per_generator=25, severities=(0.2, 0.5, 0.8))}


def features(variant: str = "full", seed: int = 0, cache=None):
    """(FeatureMatrix with every per-item group, {question: y}, generators, prompt ids) — the demo's steps."""
    from judgenet import config
    from judgenet.backbones import load_backbones
    from judgenet.embeddings import embed
    from judgenet.features import FeatureBuilder
    from judgenet.world import make_world, simulate_raters

    cache = config.cache_dir(cache)
    world = make_world(cache / "world" / variant, seed=seed, **SIZES[variant])
    labels = simulate_raters(world, n_raters=5, seed=seed).to_labelsets()[0]
    bbs = load_backbones(["tiny"])
    real, gen = world.real, world.generated
    er = embed(real["path"].tolist(), bbs, prompts=real["prompt"].tolist(), cache_dir=cache, progress=False)
    eg = embed(gen["path"].tolist(), bbs, prompts=gen["prompt"].tolist(), cache_dir=cache, progress=False)
    fb = FeatureBuilder(groups=ARMS["both"], seed=seed).fit(er)
    fm = fb.transform(eg, prompts=gen["prompt"].tolist())
    ids = gen["item_id"].astype(str).to_numpy()
    ys = {q: labels.aggregate(q).set_index("item_id")["score"].reindex(ids).to_numpy(np.float64)
          for q in ("realism", "alignment", "overall")}
    return fm, ys, gen["generator"].to_numpy(), gen["prompt_id"].astype(str).to_numpy()


def arm_models(fm, families, arms, seed=0):
    """{"<family>|<arm>": estimator reading the arm's columns} through the recipes (as the demo builds them)."""
    from judgenet.predictors.recipes import Recipe, column_pipeline

    out = {}
    for fam in families:
        for arm in arms:
            r = Recipe(fam, feature_groups=ARMS[arm])
            cols = r.columns(fm)
            out[f"{fam}|{arm}"] = column_pipeline(cols, r.build(random_state=seed,
                                                                feature_names=[fm.names[i] for i in cols]))
    return out


def run(fm, y, generators, prompts, families, arms, split, n_resamples=1000, seed=0, n_jobs=1):
    from threadpoolctl import threadpool_limits

    from judgenet.evaluation import evaluate

    t = time.perf_counter()
    with threadpool_limits(1):
        r = evaluate(fm.X, y, generators, fm.names, arm_models(fm, families, arms, seed), prompts=prompts,
                     split=split, n_resamples=n_resamples, seed=seed, per_generator_ci=False, threads=1,
                     n_jobs=n_jobs, measures=["kendall_tau_b", "pairwise_accuracy"],
                     compare_measures=["kendall_tau_b"])
    return r, time.perf_counter() - t


def rows(r, question, families, arms, n_resamples=1000, seed=0):
    """One row per (model, arm): tau-b, raw MID, model − MID and arm − base (paired, same prompt resamples)."""
    from judgenet.stats import paired_bootstrap

    pred = r.predictions
    mid = r.metrics["mid_pmi"]["kendall_tau_b"]
    out = []
    for fam in families:
        for arm in arms:
            m = f"{fam}|{arm}"
            e = r.metrics[m]["kendall_tau_b"]
            c = r.comparisons[(m, "mid_pmi", "kendall_tau_b")]
            row = {"question": question, "split": r.settings["split"], "model": fam, "arm": arm,
                   "tau_b": e.value, "lo": e.low, "hi": e.high, "mid": mid.value, "mid_lo": mid.low,
                   "mid_hi": mid.high, "diff": c.value, "diff_lo": c.low, "diff_hi": c.high}
            if arm != "base" and "base" in arms:
                d = _vs_base(pred, m, f"{fam}|base", n_resamples, seed, paired_bootstrap)
                row.update({"vs_base": d.value, "vs_base_lo": d.low, "vs_base_hi": d.high})
            out.append(row)
    return out


def _vs_base(pred, a, b, n_resamples, seed, paired_bootstrap):
    # the prompt resamples of evaluate's own comparisons (same groups, same seed)
    return paired_bootstrap("kendall_tau_b", pred["y"].to_numpy(), pred[a].to_numpy(), pred[b].to_numpy(),
                            groups=pred["prompt"].to_numpy(), n_resamples=n_resamples, seed=seed)["difference"]


def fmt(df: pd.DataFrame) -> str:
    def ci(v, lo, hi, sign=""):
        return f"{v:{sign}.3f} [{lo:{sign}.3f}, {hi:{sign}.3f}]"

    return "\n".join(
        f"| {r.question} | {r.split} | {r.model} | {r.arm} | {ci(r.tau_b, r.lo, r.hi)} | "
        f"{ci(r.diff, r.diff_lo, r.diff_hi, '+')} | "
        f"{ci(r.vs_base, r.vs_base_lo, r.vs_base_hi, '+') if pd.notna(getattr(r, 'vs_base', np.nan)) else ''} |"
        for r in df.itertuples())


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", choices=sorted(SIZES), default="full")
    ap.add_argument("--questions", default="realism,alignment")
    ap.add_argument("--splits", default="crossed,generator")
    ap.add_argument("--models", default="hist_gb,ridge,anchored")
    ap.add_argument("--arms", default="base,prompt,caption,both")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", default=os.environ.get("OUT", "/tmp/prompt_features.csv"))
    a = ap.parse_args()
    fams, arms = a.models.split(","), a.arms.split(",")
    fm, ys, gens, prompts = features(a.variant)
    print(f"features {fm.shape}; prompt groups: {fm.groups['prompt'] + fm.groups['caption']}", flush=True)
    allr = []
    for q in a.questions.split(","):
        for split in a.splits.split(","):
            r, secs = run(fm, ys[q], gens, prompts, fams, arms, split, a.resamples, n_jobs=a.jobs)
            out = rows(r, q, fams, arms, a.resamples)
            allr += out
            print(f"{q} {split}: {secs:.0f} s, load {os.getloadavg()[0]:.1f}, raw MID "
                  f"{out[0]['mid']:.3f} [{out[0]['mid_lo']:.3f}, {out[0]['mid_hi']:.3f}]", flush=True)
            print(fmt(pd.DataFrame(out)), flush=True)
            pd.DataFrame(allr).to_csv(a.out, index=False)
    sys.exit(0)
