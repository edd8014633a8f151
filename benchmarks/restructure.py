"""Did the restructure (issue 12) make the demo's work slower? The same evaluation, old code vs today's.

The old demo (commit ``--old``, default ``5a552be``: the tree before the structural issue) evaluated each question
leave-one-generator-out with ridge and hist_gb against raw-metric baselines. This script times exactly that work
in both trees on the **same inputs** — today's tiny-encoder features of the fast demo world and its simulated
realism / alignment / overall labels, saved once to an ``.npz`` — each in a fresh subprocess (its own imports),
interleaved through the protocol (best and median of ≥ 5, load and competing threads printed), one BLAS/OpenMP
thread per fit in both (as both demos do). The values of the two are compared too (same folds, same seeds: the
pooled held-out tau-b of every model and baseline must agree).

    python benchmarks/restructure.py               # fast demo world, 200 resamples
    python benchmarks/restructure.py --full        # full demo world, 1,000 resamples
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import protocol as P
from demo import worktree

ROOT = Path(__file__).resolve().parent.parent

EVALUATE = """
import json, sys
import numpy as np
from threadpoolctl import threadpool_limits
from judgenet.evaluation import evaluate
{imports}
d = np.load(sys.argv[1]); out = {{}}
names = [str(n) for n in d["names"]]; base = json.loads(str(d["baselines"]))
with threadpool_limits(limits=1):
    for q in ("realism", "alignment", "overall"):
        r = evaluate(d["X"], d["y_" + q], d["generators"], names,
                     {{m: {build} for m in ("ridge", "hist_gb")}}, baselines=base,
                     prompts=d["prompts"], n_resamples=int(sys.argv[3]), seed=0)
        out[q] = {{p: r.metrics[p]["kendall_tau_b"].value for p in r.metrics}}
open(sys.argv[2], "w").write(json.dumps(out))
"""
TODAY = EVALUATE.format(imports="from judgenet.predictors.recipes import Recipe", build="Recipe(m).build(random_state=0)")
OLD = EVALUATE.format(imports="from judgenet.predictors import make_predictor", build="make_predictor(m, random_state=0)")


def inputs(path: Path, cache: Path, fast: bool = True) -> None:
    """Today's features and the three questions' labels of the demo world, saved as ``path`` (no pickle)."""
    from judgenet.backbones import load_backbones
    from judgenet.jobs.prepare import embed_items, fit_reference
    from judgenet.jobs.demo import SIZES
    from judgenet.world import make_world, simulate_raters

    s = SIZES[fast]
    world = make_world(cache / "world", n_real=s["n_real"], n_per_generator=s["n_per_generator"],
                       severities=s["severities"], seed=0)
    labels = simulate_raters(world, n_raters=5, seed=0).to_labelsets()[0]
    bbs = load_backbones(["tiny"])
    builder, _ = fit_reference(world.real["path"].tolist(), bbs, prompts=world.real["prompt"].tolist(),
                               cache_dir=cache)
    gen = world.generated
    emb, _, _ = embed_items(gen["path"].tolist(), bbs, prompts=gen["prompt"].tolist(), cache_dir=cache)
    fm = builder.transform(emb)
    ids = gen["item_id"].astype(str)
    ys = {f"y_{q}": labels.aggregate(q).set_index("item_id")["score"].reindex(ids).to_numpy(float)
          for q in ("realism", "alignment", "overall")}
    base = [b for b in ("mid_pmi", "clip_score") if b in fm.names]
    np.savez(path, X=fm.X, names=np.array(fm.names), generators=np.array(gen["generator"].astype(str).tolist()),
             prompts=np.array(gen["prompt_id"].astype(str).tolist()), baselines=np.array(json.dumps(base)),
             groups=np.array(json.dumps({g: list(c) for g, c in fm.groups.items()})), **ys)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    P.add_arguments(ap, threads_default="1")
    ap.add_argument("--old", default="5a552be", help="the commit to compare with (default: before issue 12)")
    ap.add_argument("--full", action="store_true", help="the full demo world (default: the fast one)")
    args = ap.parse_args(argv)
    resamples = 1000 if args.full else 200
    info = P.header(args, extra=f"{'full' if args.full else 'fast'} demo world, generator split, ridge + hist_gb, "
                                f"{resamples} resamples, 3 questions")
    tmp = tempfile.TemporaryDirectory(prefix="judgenet-restructure-")  # removed at exit, also after an error
    work = Path(tmp.name)
    data = work / "inputs.npz"
    inputs(data, work / "cache", not args.full)
    old = worktree(args.old)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    values = {}

    def contender(name, code, src):
        def run():
            out = work / f"{name}.json"
            subprocess.run([sys.executable, "-c", code, str(data), str(out), str(resamples)], check=True,
                           env=dict(env, PYTHONPATH=str(src)), stdout=subprocess.DEVNULL)
            values[name] = json.loads(out.read_text())
        return run

    rows = P.compare({f"old {args.old}": contender("old", OLD, old), "today": contender("today", TODAY, ROOT)}, args,
                     warmup=False)
    P.print_table(rows, baseline=f"old {args.old}", title="the old demo's evaluation work, wall seconds per run "
                                                           "(subprocess: imports included)")
    diffs = [abs(values["old"][q][p] - values["today"][q][p]) for q in values["old"] for p in values["old"][q]
             if p in values["today"][q]]
    print(f"pooled held-out tau-b, old vs today: {len(diffs)} values compared, max |difference| "
          f"{max(diffs):.3g}")
    if args.json:
        P.write_json(args.json, info, rows, values=values)
    tmp.cleanup()


if __name__ == "__main__":
    main()
