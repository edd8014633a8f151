"""Benchmark: vectorized bootstrap vs the loop over resampled arrays (not a timed test).

    python benchmarks/bootstrap.py [--n 975] [--resamples 1000] [--raters 5]

(1) the evaluation protocol's CIs for one predictor — the five measures of ``judgenet.stats.MEASURES``
    plus system-level tau-b, resampling ~n/2.5 prompt clusters — ``bootstrap_measures`` vs one
    ``bootstrap_ci(MEASURES[m], ...)`` loop per measure;
(2) the rater ceiling of an (n, raters) Likert matrix — ``rater_ceiling`` vectorized vs its loop
    (``VECTORIZE_MAX_N`` set to 0).
One process, same seeds; prints seconds, the ratio, and the largest difference between the two.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from judgenet import stats  # noqa: E402
from judgenet.labels import agreement  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=975, help="items (the full demo evaluates 975)")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--raters", type=int, default=5)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    truth = rng.normal(size=args.n)
    R = np.clip(np.round(3 + truth[:, None] + rng.normal(0, 1.0, (args.n, args.raters))), 1, 5)
    human = R.mean(axis=1)
    pred = truth + rng.normal(0, 1.5, args.n)
    prompts = rng.integers(0, int(args.n / 2.5), args.n)
    systems = rng.integers(0, 13, args.n)
    names = list(stats.MEASURES) + ["system_kendall_tau_b"]
    kw = dict(groups=prompts, n_resamples=args.resamples, seed=0)

    t = time.perf_counter()
    fast = stats.bootstrap_measures(human, pred, names, systems=systems, **kw)
    t_fast = time.perf_counter() - t
    t = time.perf_counter()
    slow = {m: stats.bootstrap_ci(stats.MEASURES[m], human, pred, **kw) for m in stats.MEASURES}
    slow["system_kendall_tau_b"] = stats.bootstrap_ci(lambda h, p, s: stats.system_level(h, p, s), human, pred,
                                                      systems, **kw)
    t_slow = time.perf_counter() - t
    d_measures = max(abs(getattr(fast[m], f) - getattr(slow[m], f)) for m in names for f in ("value", "low", "high"))

    t = time.perf_counter()
    cf = agreement.rater_ceiling(R, "q", n_resamples=args.resamples)
    tc_fast = time.perf_counter() - t
    limit = agreement.VECTORIZE_MAX_N
    agreement.VECTORIZE_MAX_N = 0
    try:
        t = time.perf_counter()
        cs = agreement.rater_ceiling(R, "q", n_resamples=args.resamples)
        tc_slow = time.perf_counter() - t
    finally:
        agreement.VECTORIZE_MAX_N = limit
    same = [k for k in agreement.CEILING_STATS if k != "split_half_spearman_brown"]
    d_ceiling = max(abs(cf[f"{k}{s}"] - cs[f"{k}{s}"]) for k in same for s in ("", "_low", "_high"))

    print(f"n = {args.n}, {args.resamples} resamples, {args.raters} raters")
    print(f"  protocol CIs (6 measures): loop {t_slow:7.2f} s  vectorized {t_fast:6.2f} s  "
          f"{t_slow / t_fast:6.1f}x  max diff {d_measures:.1e}")
    print(f"  rater ceiling (7 stats):   loop {tc_slow:7.2f} s  vectorized {tc_fast:6.2f} s  "
          f"{tc_slow / tc_fast:6.1f}x  max diff {d_ceiling:.1e} (split-half excluded: the loop redraws splits)")
    return {"measures": (t_slow, t_fast, d_measures), "ceiling": (tc_slow, tc_fast, d_ceiling)}


if __name__ == "__main__":
    main()
