"""The fold-offset artifact of refitted models: subtract each fold's training-label mean from its
predictions (a constant per fold, absent when one model is fitted on all data for deployment) and
re-score against raw MID with the same paired prompt bootstrap.

    python benchmarks/generalization/fold_offset.py realism crossed
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from study import load, run

from judgenet.stats import MEASURES, paired_bootstrap

if __name__ == "__main__":
    q = sys.argv[1] if len(sys.argv) > 1 else "realism"
    split = sys.argv[2] if len(sys.argv) > 2 else "crossed"
    d = load("full")
    r = run(d, q, ["hist_gb"], split=split)
    p = r.predictions
    y = p["y"].to_numpy()
    floor = p["training_mean"].to_numpy()
    mid = p["mid_pmi"].to_numpy()
    print(f"{q} {split}: floor tau-b {MEASURES['kendall_tau_b'](y, floor):.3f}; "
          f"MID {MEASURES['kendall_tau_b'](y, mid):.3f}", flush=True)
    for label, s in (("hist_gb as evaluated", p["hist_gb"].to_numpy()),
                     ("hist_gb minus fold training mean", p["hist_gb"].to_numpy() - floor)):
        b = paired_bootstrap("kendall_tau_b", y, s, mid, groups=p["prompt"].to_numpy(), n_resamples=1000, seed=0)
        a, dd = b["a"], b["difference"]
        print(f"  {label}: tau-b {a.value:.3f} [{a.low:.3f}, {a.high:.3f}]; - MID {dd.value:+.3f} "
              f"[{dd.low:+.3f}, {dd.high:+.3f}]", flush=True)
