"""Calibrate world v2's difficulty penalties to the real sets' between-prompt share (issue 26, item 1).

    python benchmarks/generalization/calibrate_world.py [--seeds 0,1,2] [--target 0.40]

For each seed, the demo's full-size v2 world (real and generated items) is generated once with the penalties set to 0 (the generators'
own latent qualities on the defect-laden prompts, and the defect each drew); then, for each pair of penalties
on a grid, the latent qualities are multiplied by 1 - penalty x defect (as make_world does), the 5 simulated raters are calibrated to
66% agreement on all items as in the demo, and the between-prompt share of the generated items' scores (mean of the raters) is
estimated (:func:`judgenet.world.variance.variance_components`, system = generator x severity). The target
is THumB's between-image share (31.2% with the human captions, 48.8% among the machine systems; printed by
``variance.py``): 0.40 by default. Penalties are bounded by 0.9 (the hardest scene keeps a tenth of its
quality; the default grid stops there). Nothing here looks at any predictor. Prints the grid and the pair
whose mean shares over the seeds are closest to the target (sum of squared differences).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from judgenet.world import dataset, simulate_raters  # noqa: E402
from judgenet.world.variance import variance_components  # noqa: E402


def base_items(seed: int, sizes: dict) -> pd.DataFrame:
    """The v2 world's generated items with the penalties at 0, plus the defect each drew (no files written)."""
    cfg = dataset._config(sizes["n_real"], sizes["n_per_generator"], None, sizes["severities"], seed, 64, "v2")
    saved = dataset.REALISM_PENALTY, dataset.ALIGNMENT_PENALTY
    dataset.REALISM_PENALTY = dataset.ALIGNMENT_PENALTY = 0.0
    try:
        rows = [{**row, "defect": float(row["scene"].get("defect", 0.0)), "image": row["item_id"]}
                for row, _ in dataset._iter_items(cfg)]
    finally:
        dataset.REALISM_PENALTY, dataset.ALIGNMENT_PENALTY = saved
    df = pd.DataFrame(rows).drop(columns=["scene", "prompt_scene"])
    df.loc[df["generator"] == "real", "defect"] = 0.0  # real images: clean, quality 1
    df["system"] = df["generator"] + "@" + df["severity"].map(lambda v: f"{v:g}")
    return df


def shares(base: pd.DataFrame, rho: float, alpha: float, seed: int) -> dict:
    m = base.copy()
    m["true_realism"] = base["true_realism"] * (1.0 - rho * base["defect"])
    m["true_alignment"] = base["true_alignment"] * (1.0 - alpha * base["defect"])
    r = simulate_raters(m, n_raters=5, seed=seed)  # real and generated items, as the demo rates them
    out = {"agreement": r.agreement["realism"]}
    j = r.judgments
    g = m[m["generator"] != "real"]
    for q in ("realism", "alignment"):
        y = j[j["question"] == q].groupby("item_id")["score"].mean().reindex(g["item_id"]).to_numpy()
        vc = variance_components(y, g["prompt_id"], g["system"])
        out[q] = vc.shares["prompt"]
        out[q + "_system"] = vc.shares["system"]
    return out


def main(argv=None) -> int:
    from judgenet.jobs.demo import SIZES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2,3,4,5")
    ap.add_argument("--target", type=float, default=0.40)
    ap.add_argument("--rho", default="0.6,0.75,0.9")
    ap.add_argument("--alpha", default="0.6,0.7,0.8,0.9")
    ap.add_argument("--fast", action="store_true", help="the fast demo's sizes instead of the full demo's")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    bases = {s: base_items(s, SIZES[bool(args.fast)]) for s in seeds}
    rows = []
    for rho in [float(v) for v in args.rho.split(",")]:
        for alpha in [float(v) for v in args.alpha.split(",")]:
            res = [shares(bases[s], rho, alpha, s) for s in seeds]
            row = {"rho": rho, "alpha": alpha}
            for k in res[0]:
                row[k] = float(np.mean([r[k] for r in res]))
            row["seed0_realism"], row["seed0_alignment"] = res[0]["realism"], res[0]["alignment"]
            rows.append(row)
            print(" ".join(f"{k}={v:.3f}" for k, v in row.items()), flush=True)
    df = pd.DataFrame(rows)
    best = df.loc[((df["realism"] - args.target) ** 2 + (df["alignment"] - args.target) ** 2).idxmin()]
    print("closest to the target:", best.to_dict())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
