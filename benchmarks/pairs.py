"""Benchmark: how the held-out protocol for pairs grows with the number of pairs (not a timed test).

    python benchmarks/pairs.py [--sizes 1000,10000,100000] [--resamples 1000] [--repeat 5] [--threads 1]

Synthetic side-by-side data: 8 generators, each prompt rendered once by every generator, pairs
drawn within prompts (a prompt has ~8 items and ~n_pairs / n_prompts pairs), 3 judgments per pair,
16 features. One ``evaluate_pairs`` call = 8 held-out-generator folds, each fitting a
Bradley–Terry model on the training pairs and scoring two raw-feature baselines, then every
measure for all kinds (all / within / cross) with ``--resamples`` prompt-clustered bootstrap
resamples, the paired comparisons and the rater ceiling. Protocol (``benchmarks/protocol.py``):
sizes interleaved, best and median of ≥ 5, load average beside every row; the fitted exponent of
time vs pairs is printed.
"""
from __future__ import annotations

import argparse
import warnings

import numpy as np

import protocol as P  # noqa: E402  (puts the checkout on sys.path)
from judgenet.evaluation.pairwise import Pairs, evaluate_pairs  # noqa: E402


def make_data(n_pairs: int, n_gen: int = 8, d: int = 16, raters: int = 3, seed: int = 0):
    """(X, pairs, generators, prompts) with about ``n_pairs`` distinct pairs."""
    rng = np.random.default_rng(seed)
    n_prompts = max(4, n_pairs // 12)
    gens = np.tile(np.arange(n_gen), n_prompts)
    prompts = np.repeat(np.arange(n_prompts), n_gen)
    quality = np.linspace(-1, 1, n_gen)[gens] + 0.5 * rng.normal(size=gens.size)
    X = rng.normal(size=(gens.size, d))
    X[:, 0] = quality + 0.5 * rng.normal(size=gens.size)
    # distinct within-prompt pairs: generator pair (i, j), i < j, from the 28 per prompt
    iu, ju = np.triu_indices(n_gen, 1)
    per = int(np.ceil(n_pairs / n_prompts))
    pick = np.stack([rng.choice(iu.size, size=min(per, iu.size), replace=False) for _ in range(n_prompts)])
    base = (np.arange(n_prompts) * n_gen)[:, None]
    a = (base + iu[pick]).ravel()[:n_pairs]
    b = (base + ju[pick]).ravel()[:n_pairs]
    ra, rb = np.repeat(a, raters), np.repeat(b, raters)
    d_ = quality[ra] - quality[rb] + rng.normal(size=ra.size)
    pref = np.where(np.abs(d_) < 0.1, 0.5, (d_ > 0).astype(float))
    pairs = Pairs.from_judgments(ra, rb, pref, rater_id=np.tile(np.arange(raters), a.size), prompt=prompts[ra])
    return X, pairs, gens.astype(str), prompts.astype(str)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    P.add_arguments(ap, threads_default="1")
    ap.add_argument("--sizes", default="1000,10000,100000", help="numbers of distinct pairs")
    ap.add_argument("--resamples", type=int, default=1000)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    sizes = [int(s) for s in args.sizes.split(",")]
    info = P.header(args, extra=f"pairs {sizes}, {args.resamples} resamples, 8 generators, 16 features, "
                                f"3 judgments per pair, model bradley_terry + 2 baselines")
    data = {n: make_data(n) for n in sizes}
    names = [f"f{i}" for i in range(16)]

    def run(n):
        X, pairs, gens, prompts = data[n]
        return evaluate_pairs(X, pairs, gens, names, {"bt": "bradley_terry"}, prompts=prompts,
                              baselines=["f0", "f1"], n_resamples=args.resamples, seed=0)

    cases = {f"{n} pairs": (lambda n=n: run(n)) for n in sizes}
    rows = P.compare(cases, args)
    P.print_table(rows, title="evaluate_pairs: time vs number of pairs")
    for t in sorted({r.threads for r in rows}):
        sub = [r for r in rows if r.threads == t]
        expo = P.fit_exponent(sizes, [r.median for r in sub])
        acc = {r.name: round(r.value.metrics["bt"]["accuracy"].value, 3) for r in sub}
        print(f"threads={t}: time grows as pairs^{expo:.2f} (median times); 2AFC of bt: {acc}")
    if args.json:
        P.write_json(args.json, info, rows)
    return {"rows": rows}


if __name__ == "__main__":
    main()
