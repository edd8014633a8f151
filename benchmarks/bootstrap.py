"""Benchmark: vectorized bootstrap vs the loop over resampled arrays (not a timed test).

    python benchmarks/bootstrap.py [--n 975] [--resamples 1000] [--raters 5]

(1) the evaluation protocol's CIs for one predictor — the five measures of ``judgenet.stats.MEASURES``
    plus system-level tau-b, resampling ~n/2.5 prompt clusters — ``bootstrap_measures`` vs one
    ``bootstrap_ci(MEASURES[m], ...)`` loop per measure;
(2) the rater ceiling of an (n, raters) Likert matrix — ``rater_ceiling`` vectorized vs its loop
    (``VECTORIZE_MAX_N`` set to 0).
One process, same seeds; prints the largest difference between the two. Protocol
(``benchmarks/protocol.py``): contenders interleaved, best and median of ≥ 5, 1 thread and all threads,
load average beside every row.
"""
from __future__ import annotations

import argparse
import warnings

import numpy as np

import protocol as P  # noqa: E402  (puts the checkout on sys.path)
from judgenet import stats  # noqa: E402
from judgenet.labels import agreement  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    P.add_arguments(ap)
    ap.add_argument("--n", type=int, default=975, help="items (the full demo evaluates 975)")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--raters", type=int, default=5)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    info = P.header(args, extra=f"n={args.n}, {args.resamples} resamples, {args.raters} raters")
    rng = np.random.default_rng(0)
    truth = rng.normal(size=args.n)
    R = np.clip(np.round(3 + truth[:, None] + rng.normal(0, 1.0, (args.n, args.raters))), 1, 5)
    human = R.mean(axis=1)
    pred = truth + rng.normal(0, 1.5, args.n)
    prompts = rng.integers(0, int(args.n / 2.5), args.n)
    systems = rng.integers(0, 13, args.n)
    names = list(stats.MEASURES) + ["system_kendall_tau_b"]
    kw = dict(groups=prompts, n_resamples=args.resamples, seed=0)

    def loop():
        out = {m: stats.bootstrap_ci(stats.MEASURES[m], human, pred, **kw) for m in stats.MEASURES}
        out["system_kendall_tau_b"] = stats.bootstrap_ci(lambda h, p, s: stats.system_level(h, p, s), human, pred,
                                                         systems, **kw)
        return out

    def ceiling_loop():
        limit = agreement.VECTORIZE_MAX_N
        agreement.VECTORIZE_MAX_N = 0
        try:
            return agreement.rater_ceiling(R, "q", n_resamples=args.resamples)
        finally:
            agreement.VECTORIZE_MAX_N = limit

    rows = P.compare({"protocol CIs: loop": loop,
                      "protocol CIs: vectorized": lambda: stats.bootstrap_measures(human, pred, names, systems=systems,
                                                                                   **kw)}, args)
    rows_c = P.compare({"rater ceiling: loop": ceiling_loop,
                        "rater ceiling: vectorized": lambda: agreement.rater_ceiling(R, "q", n_resamples=args.resamples)},
                       args)
    fast, slow = rows[1].value, rows[0].value
    d_measures = max(abs(getattr(fast[m], f) - getattr(slow[m], f)) for m in names for f in ("value", "low", "high"))
    cf, cs = rows_c[1].value, rows_c[0].value
    same = [k for k in agreement.CEILING_STATS if k != "split_half_spearman_brown"]
    d_ceiling = max(abs(cf[f"{k}{s}"] - cs[f"{k}{s}"]) for k in same for s in ("", "_low", "_high"))
    P.print_table(rows, baseline="protocol CIs: loop", title="protocol CIs (6 measures)")
    P.print_table(rows_c, baseline="rater ceiling: loop", title="rater ceiling (7 stats)")
    print(f"max diff: protocol CIs {d_measures:.1e}; rater ceiling {d_ceiling:.1e} "
          "(split-half excluded: the loop redraws splits)")
    if args.json:
        P.write_json(args.json, info, rows + rows_c, max_diff={"measures": d_measures, "ceiling": d_ceiling})
    return {"rows": rows + rows_c, "max_diff": (d_measures, d_ceiling)}


if __name__ == "__main__":
    main()
