"""How long ``judgenet demo`` takes, cold and warm, and whether the restructure made it slower.

Each contender runs ``judgenet demo`` in its own **subprocess** (a fresh interpreter: imports count, as
for a user) with its **own cache folder**: *cold* = an empty cache (world rendering, extraction and
evaluation all computed), *warm* = the same command again on that cache. Contenders are interleaved
through the protocol (``benchmarks/protocol.py``: best and median of ≥ 5, load and competing threads
printed). The phase timings each run writes to its ``summary.json`` are reported too (median over the runs).

``--old REF`` adds the same demo from another commit (e.g. ``5a552be``, the tree before the structural
issue) checked out as a git worktree under ``/tmp``: the restructure's cost at equal phases (world,
extraction, features, leave-one-generator-out evaluation) is read from the phase table — today's demo
also runs the crossed split, the anchored model, side-by-side judgments, intervals and label efficiency,
which the old demo did not.

    python benchmarks/demo.py --fast                      # fast demo, cold and warm
    python benchmarks/demo.py --fast --old 5a552be        # vs the pre-restructure tree
    python benchmarks/demo.py --cold-runs 2                # full demo (minutes per cold run): 2 cold, 5 warm
    python benchmarks/demo.py --anchored                   # old vs new anchored correction, held-out tau-b

``--anchored`` evaluates, on the full demo's world and features (tiny encoder), the anchored model with the
earlier correction (HistGradientBoosting, 200 trees, 3 x 3 inner crossed folds) and with today's default (ridge on
standardized features, alpha 100, same inner folds) on both splits and all three questions: pooled held-out Kendall
tau-b, raw MID's, the paired-bootstrap difference vs raw MID (1,000 resamples over prompts) and the seconds per
evaluation (one process, one thread).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import protocol as P

ROOT = Path(__file__).resolve().parent.parent

CODE_NEW = ("import sys, logging; logging.basicConfig(level=logging.WARNING)\n"
            "import judgenet as jn\n"
            "jn.demo(sys.argv[1], fast=sys.argv[2] == '1', cache_dir=sys.argv[3], overwrite=True)\n")
CODE_OLD = ("import sys\n"
            "from judgenet.api import demo\n"
            "demo(sys.argv[1], fast=sys.argv[2] == '1', cache_dir=sys.argv[3], overwrite=True, quiet=True)\n")


def worktree(ref: str) -> Path:
    """A git worktree of ``ref`` under /tmp (created once)."""
    path = Path(tempfile.gettempdir()) / f"judgenet-{ref}"
    if not (path / "judgenet").is_dir():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-f", str(path), ref], check=True,
                       capture_output=True)
    return path


def contender(name: str, key: str, code: str, src: Path, fast: bool, work: Path, warm: bool, phases: dict,
              cache: Path | None = None):
    """A callable running one demo in a subprocess; cold runs start from an empty cache (``work/cache-<name>``,
    which the warm runs of the same ``name`` reuse, unless ``cache`` names a filled one); phase timings are
    collected under ``key``."""
    cache = cache or work / f"cache-{name}"
    out = work / f"out-{name}"

    def run():
        if not warm:
            shutil.rmtree(cache, ignore_errors=True)
        env = dict(os.environ, PYTHONPATH=str(src), JUDGENET_CACHE_DIR=str(cache))
        subprocess.run([sys.executable, "-c", code, str(out), "1" if fast else "0", str(cache)], env=env, check=True,
                       cwd=work, stdout=subprocess.DEVNULL)
        times = json.loads((out / "summary.json").read_text())["timings"]
        phases.setdefault(key, []).append(times)
        return times["total"]
    return run


def anchored_table(cache: Path, n_resamples: int = 1000) -> list[dict]:
    """Old vs new anchored correction on the full demo's inputs (see the module docstring)."""
    import time

    import numpy as np
    from threadpoolctl import threadpool_limits

    from judgenet.backbones import load_backbones
    from judgenet.evaluation import evaluate
    from judgenet.jobs.demo import QUESTIONS, SIZES, SPLITS
    from judgenet.jobs.prepare import embed_items, fit_reference
    from judgenet.predictors import make_predictor
    from judgenet.predictors.anchored import AnchoredRegressor
    from judgenet.world import make_world, simulate_raters

    sizes = SIZES[False]
    world = make_world(cache / "world" / "full", n_real=sizes["n_real"], n_per_generator=sizes["n_per_generator"],
                       severities=sizes["severities"], seed=0)
    labels = simulate_raters(world, n_raters=5, seed=0).to_labelsets()[0]
    bbs = load_backbones(["tiny"])
    real, gen = world.real, world.generated
    builder, _ = fit_reference(real["path"].tolist(), bbs, prompts=real["prompt"].tolist(), cache_dir=cache, seed=0)
    emb, _, _ = embed_items(gen["path"].tolist(), bbs, prompts=gen["prompt"].tolist(), cache_dir=cache)
    fm = builder.transform(emb)
    items = gen["item_id"].astype(str).to_numpy()
    prompts = gen["prompt_id"].astype(str).to_numpy() if "prompt_id" in gen else gen["prompt"].to_numpy()
    variants = {"old (hist_gb correction)": lambda: AnchoredRegressor(
                    feature_names=fm.names, estimator=make_predictor("hist_gb", random_state=0)),
                "new (ridge correction)": lambda: AnchoredRegressor(feature_names=fm.names)}
    rows = []
    for split in SPLITS:
        for q in QUESTIONS:
            y = labels.aggregate(q).set_index("item_id")["score"].reindex(items).to_numpy(dtype=np.float64)
            for name, make in variants.items():
                t = time.perf_counter()
                with threadpool_limits(1):
                    r = evaluate(fm.X, y, gen["generator"].to_numpy(), fm.names, {"anchored": make()}, prompts=prompts,
                                 split=split, n_resamples=n_resamples, seed=0, per_generator_ci=False, threads=1)
                d = r.comparisons[("anchored", "mid_pmi", "kendall_tau_b")]
                rows.append({"split": split, "question": q, "variant": name,
                             "tau": r.metrics["anchored"]["kendall_tau_b"].value,
                             "tau_mid": r.metrics["mid_pmi"]["kendall_tau_b"].value, "diff": d.value, "low": d.low,
                             "high": d.high, "seconds": time.perf_counter() - t})
                x = rows[-1]
                print(f"{split:9} {q:9} {name:26} tau-b {x['tau']:.3f} raw MID {x['tau_mid']:.3f} difference "
                      f"{x['diff']:+.3f} [{x['low']:+.3f}, {x['high']:+.3f}] {x['seconds']:.1f} s", flush=True)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    P.add_arguments(ap, threads_default="all")
    ap.add_argument("--fast", action="store_true", help="the fast demo (what the tests run)")
    ap.add_argument("--old", default=None, help="also time the demo of this git commit (worktree under /tmp)")
    ap.add_argument("--no-warm", action="store_true", help="cold runs only")
    ap.add_argument("--warm-cache", type=Path, default=None,
                    help="warm runs only, on this cache folder (filled by an earlier run of the same demo)")
    ap.add_argument("--cold-runs", type=int, default=0,
                    help="cold runs per contender when fewer than the protocol's 5 fit the time (the full demo: "
                         "minutes per run): interleaved single runs, the table's runs column says how many")
    ap.add_argument("--anchored", action="store_true",
                    help="old vs new anchored correction: held-out tau-b on both splits (no timing protocol)")
    args = ap.parse_args(argv)
    if args.anchored:
        with tempfile.TemporaryDirectory(prefix="judgenet-anchored-") as tmp:
            rows = anchored_table(Path(tmp))
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
        return
    info = P.header(args, extra=f"demo {'--fast' if args.fast else '(full)'}; subprocesses, own cache each")
    tmp = tempfile.TemporaryDirectory(prefix="judgenet-demo-bench-")  # removed at exit, also after an error
    work = Path(tmp.name)
    srcs = {"today": (CODE_NEW, ROOT)}
    if args.old:
        srcs[f"old {args.old}"] = (CODE_OLD, worktree(args.old))
    phases: dict = {}
    rows = []
    for warm in ([True] if args.warm_cache else [False] if args.no_warm else [False, True]):
        label = "warm" if warm else "cold"
        cases = {f"{name} {label}": contender(name.replace(" ", "-"), f"{name} {label}", code, src, args.fast, work,
                                              warm, phases, cache=args.warm_cache)
                 for name, (code, src) in srcs.items()}
        # warm-up: the cold runs need none (each starts from nothing); a warm run needs its cache filled once
        if not warm and 0 < args.cold_runs < P.MIN_REPEAT:
            r = P.compare(cases, args, once=True)
            for _ in range(args.cold_runs - 1):  # interleaved single runs, merged per contender and thread count
                for row, more in zip(r, P.compare(cases, args, once=True)):
                    row.times += more.times
                    row.load_after = more.load_after
                    row.competing = (row.competing + more.competing) / 2
                    row.competing_niced = (row.competing_niced + more.competing_niced) / 2
        else:
            r = P.compare(cases, args, warmup=warm)
        P.print_table(r, title=f"judgenet demo{' --fast' if args.fast else ''}, {label} (seconds of wall time)")
        rows += r
    print("\nphase medians (s) from each run's summary.json:")
    for name, runs in phases.items():
        keys = list(dict.fromkeys(k for t in runs for k in t))
        print(f"  {name}: " + ", ".join(f"{k} {statistics.median(t.get(k, 0.0) for t in runs):.1f}" for k in keys))
    if args.json:
        P.write_json(args.json, info, rows, phases=phases)
    tmp.cleanup()


if __name__ == "__main__":
    main()
