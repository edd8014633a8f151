"""Benchmark and validity study of intervals, label-efficiency curves and active selection
on the built-in SIMULATED world (not a timed test; run by hand).

    python benchmarks/conformal.py data      [--size fast|full]   # world + tiny features, cached
    python benchmarks/conformal.py coverage  [--size full] [--model ridge,hist_gb]
    python benchmarks/conformal.py efficiency [--size full] [--model hist_gb]
    python benchmarks/conformal.py selection [--size full] [--seeds 5]
    python benchmarks/conformal.py costs     [--size fast]        # seconds per call, interleaved runs
    python benchmarks/conformal.py shift     [--size full]        # item intervals vs the generator shift
    python benchmarks/conformal.py pairs     [--size full]        # win-rate intervals on side-by-side labels

Everything is cached under ``--cache`` (default ``$JUDGENET_BENCH_CACHE`` or
``/tmp/judgenet-conf-cache``): the world, its tiny-encoder features (``features-<size>.npz``).
Every timing line prints ``os.getloadavg()``; fits use one BLAS/OpenMP thread. Run with
``OMP_NUM_THREADS=1`` on a shared machine: under load 15-20 on 2 cores, HistGradientBoosting fits
on 180 items took minutes each without it and 0.17 s with it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZES = {  # the demo's world sizes
    "fast": {"n_real": 400, "n_per_generator": 8, "severities": (0.3, 0.8)},
    "full": {"n_real": 800, "n_per_generator": 25, "severities": (0.2, 0.5, 0.8)},
}
QUESTIONS = ("realism", "alignment", "overall")


def _cache(path=None) -> Path:
    p = Path(path or os.environ.get("JUDGENET_BENCH_CACHE", "/tmp/judgenet-conf-cache"))
    p.mkdir(parents=True, exist_ok=True)
    return p


def world_data(size: str = "fast", seed: int = 0, cache=None) -> dict:
    """The world's generated items as arrays: ``X`` (n, p) tiny-encoder features (alignment,
    realism, activations groups), ``names``, ``y`` {question: (n,) mean rater score},
    ``generators``, ``prompts`` (prompt ids), ``item_ids``, ``ceiling`` {question: rater-ceiling dict},
    ``raters_per_item``. Built once per (size, seed) and cached as ``features-<size>-<seed>.npz``."""
    cache = _cache(cache)
    f = cache / f"features-{size}-{seed}.npz"
    meta_f = f.with_suffix(".json")
    if f.is_file() and meta_f.is_file():
        z = np.load(f, allow_pickle=False)
        meta = json.loads(meta_f.read_text())
        return {"X": z["X"], "names": meta["names"], "y": {q: z[f"y_{q}"] for q in QUESTIONS},
                "generators": z["generators"].astype(str), "prompts": z["prompts"].astype(str),
                "item_ids": z["item_ids"].astype(str), "ceiling": meta["ceiling"],
                "raters_per_item": meta["raters_per_item"]}
    from judgenet.backbones import load_backbones
    from judgenet.jobs.prepare import embed_items, fit_reference
    from judgenet.labels import rater_ceiling
    from judgenet.world import make_world, simulate_raters

    world = make_world(cache / "world" / size, seed=seed, **SIZES[size])
    ratings = simulate_raters(world, n_raters=5, seed=seed)
    labels, _ = ratings.to_labelsets()
    bbs = load_backbones(["tiny"])
    real, gen = world.real, world.generated
    builder, _ = fit_reference(real["path"].tolist(), bbs, prompts=real["prompt"].tolist(), cache_dir=cache,
                               seed=seed)
    emb, _, _ = embed_items(gen["path"].tolist(), bbs, prompts=gen["prompt"].tolist(), cache_dir=cache)
    fm = builder.transform(emb)
    item_ids = gen["item_id"].astype(str).to_numpy()
    ys, ceiling = {}, {}
    for q in QUESTIONS:
        agg = labels.aggregate(q).set_index("item_id")["score"]
        ys[q] = agg.reindex(item_ids).to_numpy(dtype=np.float64)
        ceiling[q] = rater_ceiling(labels, q, n_resamples=200, seed=seed)
    np.savez(f, X=np.asarray(fm.X, dtype=np.float64), generators=gen["generator"].to_numpy().astype(str),
             prompts=np.asarray(gen["prompt_id"].astype(str), dtype=str), item_ids=np.asarray(item_ids, dtype=str),
             **{f"y_{q}": v for q, v in ys.items()})
    meta_f.write_text(json.dumps({"names": list(fm.names), "ceiling": ceiling, "raters_per_item": 5},
                                 default=float))
    return world_data(size, seed, cache)


def _model(name: str, seed: int = 0):
    from judgenet.predictors import make_predictor

    return make_predictor(name, random_state=seed)


def run_coverage(d, models, questions, coverage=0.9, difficulties=(None,), split="generator", out=None):
    from judgenet.evaluation.coverage import coverage_study

    rows = []
    for q in questions:
        for m in models:
            for diff in difficulties:
                t = time.perf_counter()
                s = coverage_study(_model(m), d["X"], d["y"][q], d["generators"], prompts=d["prompts"],
                                   coverage=coverage, difficulty=diff, split=split)
                sm = s.summary
                row = {"question": q, "model": m, "difficulty": diff or "none", "split": split, **{
                    k: sm[k] for k in ("pooled_item_coverage", "min_generator_coverage", "worst_generator",
                                       "generators_below", "mean_item_width", "median_item_width",
                                       "group_coverage", "mean_group_width")}, "seconds": time.perf_counter() - t,
                       "load": os.getloadavg()[0]}
                rows.append(row)
                print(json.dumps(row, default=str), flush=True)
                if out:
                    s.per_generator.assign(question=q, model=m, difficulty=diff or "none").to_csv(
                        Path(out) / f"coverage-{q}-{m}-{diff or 'none'}-{split}.csv", index=False)
    return pd.DataFrame(rows)


def run_efficiency(d, model, question, out, n_repeats=3, budgets=(50, 100, 200, 400, 800, 1600, 3200)):
    from judgenet.evaluation.efficiency import label_efficiency, new_generator_curve

    t = time.perf_counter()
    cur = label_efficiency(d["X"], d["y"][question], d["generators"], d["names"], _model(model),
                           prompts=d["prompts"], budgets=budgets, judgments_per_item=d["raters_per_item"],
                           n_repeats=n_repeats, ceiling=d["ceiling"][question], models={model: _model(model)},
                           n_resamples=200)
    t1 = time.perf_counter() - t
    t = time.perf_counter()
    ng = new_generator_curve(d["X"], d["y"][question], d["generators"], _model(model), n_repeats=n_repeats)
    t2 = time.perf_counter() - t
    Path(out).mkdir(parents=True, exist_ok=True)
    cur.table.to_csv(Path(out) / f"efficiency-{question}-{model}.csv", index=False)
    ng.to_csv(Path(out) / f"new-generator-{question}-{model}.csv", index=False)
    cur.plot(Path(out) / f"efficiency-{question}-{model}.png", new_generator=ng,
             title=f"{question}, {model} (SIMULATED world)")
    print(cur.to_markdown())
    print(ng.round(3).to_string(index=False))
    print(f"efficiency {t1:.1f} s, new generator {t2:.1f} s ({_load()})", flush=True)
    return cur, ng


def run_selection(d, model, questions, out, n_seeds=5, initial=20, batch=20, rounds=8):
    from judgenet.evaluation.active_study import active_learning_curve, compare_strategies

    for q in questions:
        t = time.perf_counter()
        curves = pd.concat([active_learning_curve(d["X"], d["y"][q], d["generators"], d["prompts"], _model(model),
                                                  strategy=s, initial=initial, batch=batch, rounds=rounds, seed=k)
                            for k in range(n_seeds) for s in ("random", "active")], ignore_index=True)
        curves.to_csv(Path(out) / f"selection-{q}-{model}.csv", index=False)
        c = compare_strategies(curves)
        jpi = d["raters_per_item"]
        print(f"## {q}, {model}: {n_seeds} seeds, initial {initial}, batch {batch}, {rounds} rounds "
              f"({time.perf_counter() - t:.1f} s, {_load()})")
        print(c["table"].round(3).to_string(index=False))
        print(c["differences"].round(3).to_string(index=False))
        la, lr = c["labels_active"], c["labels_random"]
        print(f"target tau-b {c['target']:.3f} (random at its largest budget): active reaches it with "
              f"{'never' if la is None else f'{la:.0f} items = {la * jpi:.0f} judgments'}, random with "
              f"{lr:.0f} items; saving {_pct(c['saving'])}",
              flush=True)


def run_costs(d, models, repeat=5):
    """Seconds per call, interleaved (A, B, A, B, ...), best and median of ``repeat``."""
    from judgenet.evaluation.conformal import ConformalPredictor
    from judgenet.evaluation.active import select

    X, y, g = d["X"], d["y"]["realism"], d["generators"]
    jobs = {}
    for m in models:
        jobs[f"{m} fit (plain)"] = lambda m=m: _model(m).fit(X, y)
        jobs[f"{m} ConformalPredictor.fit (difficulty none)"] = lambda m=m: ConformalPredictor(_model(m)).fit(X, y, g)
        jobs[f"{m} ConformalPredictor.fit (residual)"] = \
            lambda m=m: ConformalPredictor(_model(m), difficulty="residual").fit(X, y, g)
        cp = ConformalPredictor(_model(m)).fit(X, y, g)
        jobs[f"{m} predict_interval (n={len(y)})"] = lambda cp=cp: cp.predict_interval(X)
        jobs[f"{m} select 50 of {len(y) - 200} (200 labelled)"] = lambda m=m: select(
            _model(m), X[200:], 50, generators=g[200:], X_labelled=X[:200], y_labelled=y[:200],
            generators_labelled=g[:200])
    times = {k: [] for k in jobs}
    for _ in range(repeat):
        for k, fn in jobs.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    for k, v in times.items():
        print(f"{k}: best {min(v):.3f} s, median {float(np.median(v)):.3f} s ({_load()})", flush=True)


def _oof(d, model, question, split="generator"):
    """Held-out predictions of ``model`` (one fit per fold of ``split``), cached beside the features."""
    from judgenet.evaluation import make_folds

    f = _cache() / "out" / f"oof-{question}-{model}-{split}.npy"
    if f.is_file():
        return np.load(f)
    X, y = d["X"], d["y"][question]
    oof = np.full(y.size, np.nan)
    for fo in make_folds(d["generators"], d["prompts"], split=split, seed=0):
        oof[fo.test] = _model(model).fit(X[fo.train], y[fo.train]).predict(X[fo.test])
    f.parent.mkdir(parents=True, exist_ok=True)
    np.save(f, oof)
    return oof


def run_shift(d, models, questions, coverage=0.9):
    """Issue 15 item 3: can item intervals follow the generator shift? From one leave-one-generator-out run (not
    nested: each generator's intervals calibrated on the others' out-of-fold residuals, as the demo's table):
    ``none`` (one width), ``nearest`` / ``centroid`` (σ_g = a + b·D_g fitted on the calibration generators'
    RMS residuals, D_g = distance of the generator's standardized feature mean to the nearest other generator's
    mean / to the centroid of the others'), ``floor`` (one width, at least the K+1-rule 90% quantile over
    calibration generators of each one's own 80% residual quantile: targets "no generator below 80%")."""
    from judgenet.evaluation.conformal import conformal_quantile

    gens = d["generators"]
    uniq = list(pd.unique(gens))
    Z = (d["X"] - d["X"].mean(0)) / (d["X"].std(0) + 1e-12)
    means = {g: Z[gens == g].mean(0) for g in uniq}

    def dist(g, others, kind):
        if kind == "nearest":
            return min(np.linalg.norm(means[g] - means[h]) for h in others) / np.sqrt(Z.shape[1])
        return np.linalg.norm(means[g] - np.mean([means[h] for h in others], axis=0)) / np.sqrt(Z.shape[1])

    for q in questions:
        for m in models:
            r = np.abs(d["y"][q] - _oof(d, m, q))
            for kind in ("none", "nearest", "centroid", "floor"):
                cov, width = {}, []
                for g in uniq:
                    cal = [h for h in uniq if h != g]
                    ci, te = gens != g, gens == g
                    sig = {h: 1.0 for h in uniq}
                    if kind in ("nearest", "centroid"):
                        dh = np.array([dist(h, [k for k in cal if k != h], kind) for h in cal])
                        rms = np.array([np.sqrt(np.mean(r[gens == h] ** 2)) for h in cal])
                        a, b = np.linalg.lstsq(np.c_[np.ones_like(dh), dh], rms, rcond=None)[0]
                        lo = float(np.quantile(rms, 0.1))
                        sig = {h: max(a + b * v, lo) for h, v in zip(cal, dh)}
                        sig[g] = max(a + b * dist(g, cal, kind), lo)
                    sc = r[ci] / np.array([sig[h] for h in gens[ci]])
                    qq = conformal_quantile(sc, coverage, groups=gens[ci])
                    if kind == "floor":
                        own = np.array([np.quantile(r[gens == h], coverage - 0.1, method="inverted_cdf") for h in cal])
                        qq = max(qq, conformal_quantile(own, coverage))
                    cov[g] = float(np.mean(r[te] <= qq * sig[g]))
                    width += [2 * qq * sig[g]] * int(te.sum())
                cv = pd.Series(cov)
                pooled = float(np.mean([cov[g] for g in gens]))
                print(json.dumps({"question": q, "model": m, "variant": kind, "pooled": round(pooled, 4),
                                  "mean_width": round(float(np.mean(width)), 3), "min": round(cv.min(), 4),
                                  "worst": cv.idxmin(), "below": list(cv[cv < coverage - 0.1 - 1e-12].index),
                                  "per_generator": {k: round(v, 3) for k, v in cov.items()}}), flush=True)


def run_pairs(d, question="realism", coverage=0.9, seed=0, size="full"):
    """Win-rate intervals of a Bradley–Terry model on the world's simulated side-by-side judgments, nested: for
    each held-out generator g, calibration (inner leave-one-generator-out) and the model use only pairs without
    g; g's items are then predicted against their judged opponents (training generators) and checked against the
    share of judgments they won (items) and the generator's share (generator means)."""
    from scipy.special import expit as _sigmoid

    from judgenet.evaluation.conformal_pairs import calibrate_win_rates
    from judgenet.evaluation.pairwise import pairs_from_labels
    from judgenet.predictors.pairwise import BradleyTerry
    from judgenet.world import make_world
    from judgenet.world.side_by_side import simulate_side_by_side

    world = make_world(_cache() / "world" / size, seed=seed, **SIZES[size])
    sbs = simulate_side_by_side(world, n_raters=5, pairs_per_prompt=20, question=question, seed=seed)
    pairs = pairs_from_labels(sbs.labels, question, list(d["item_ids"])).pair_array()
    X, gens = d["X"], d["generators"]
    ia, ib = pairs[:, 0].astype(int), pairs[:, 1].astype(int)
    t = time.perf_counter()
    item_in, gen_in, widths, gwidths = [], [], [], []
    for g in pd.unique(gens):
        keep = (gens[ia] != g) & (gens[ib] != g)
        sel = ((gens[ia] == g) ^ (gens[ib] == g))
        if not sel.any():
            continue
        cal = calibrate_win_rates(BradleyTerry(), X, pairs[keep], gens, coverage=coverage)
        u = BradleyTerry().fit(X, pairs[keep]).predict(X)
        a_g = gens[ia[sel]] == g
        mine = np.where(a_g, ia[sel], ib[sel])
        other = np.where(a_g, ib[sel], ia[sel])
        won = np.where(a_g, pairs[sel, 2], 1 - pairs[sel, 2])
        w = pairs[sel, 3]
        p_hat = _sigmoid(u[mine] - u[other])
        items = np.unique(mine)
        obs = np.array([np.average(won[mine == i], weights=w[mine == i]) for i in items])
        pred = np.array([np.average(p_hat[mine == i], weights=w[mine == i]) for i in items])
        qi = cal.item_quantile()
        item_in += list(np.abs(obs - pred) <= qi)
        widths.append(2 * qi)
        half = cal.group_quantile() * float(cal.group_scale(items.size))
        gen_in.append(abs(obs.mean() - pred.mean()) <= half)
        gwidths.append(2 * half)
    print(json.dumps({"question": question, "n_pairs": int(len(pairs)), "item_coverage": float(np.mean(item_in)),
                      "item_width": float(np.mean(widths)), "generator_means_inside": int(np.sum(gen_in)),
                      "n_generators": len(gen_in), "generator_width": float(np.mean(gwidths)),
                      "seconds": round(time.perf_counter() - t, 1), "load": _load()}), flush=True)


def _pct(v) -> str:
    return "n/a" if v is None else f"{v:.0%}"


def _load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["data", "coverage", "efficiency", "selection", "costs", "shift", "pairs"])
    ap.add_argument("--size", default="fast", choices=list(SIZES))
    ap.add_argument("--cache", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="hist_gb", help="comma-separated model names")
    ap.add_argument("--question", default="realism,overall", help="comma-separated questions")
    ap.add_argument("--difficulty", default="none", help="comma-separated: none, residual, spread")
    ap.add_argument("--split", default="generator")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budgets", default="50,100,200,400,800,1600,3200,4500", help="judgments (efficiency)")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", default=None, help="folder for CSV/PNG outputs (default <cache>/out)")
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        t = time.perf_counter()
        d = world_data(args.size, args.seed, args.cache)
        print(f"data {args.size}: X {d['X'].shape}, {len(set(d['generators']))} generators, "
              f"{len(set(d['prompts']))} prompts, {time.perf_counter() - t:.1f} s ({_load()})", flush=True)
        out = Path(args.out or _cache(args.cache) / "out")
        out.mkdir(parents=True, exist_ok=True)
        models, questions = args.model.split(","), args.question.split(",")
        if args.what == "coverage":
            diffs = [None if x == "none" else x for x in args.difficulty.split(",")]
            run_coverage(d, models, questions, difficulties=diffs, split=args.split, out=out)
        elif args.what == "efficiency":
            for q in questions:
                run_efficiency(d, models[0], q, out, n_repeats=args.repeats,
                               budgets=[int(b) for b in args.budgets.split(",")])
        elif args.what == "selection":
            run_selection(d, models[0], questions, out, n_seeds=args.seeds)
        elif args.what == "costs":
            run_costs(d, models)
        elif args.what == "shift":
            run_shift(d, models, questions)
        elif args.what == "pairs":
            for q in questions:
                run_pairs(d, q, seed=args.seed, size=args.size)


if __name__ == "__main__":
    main()
