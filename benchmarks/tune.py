"""Optuna: trials per minute with 2 worker processes on one storage vs 1 (issue 16.5).

Labels: the fast demo world's realism scores (simulated raters), features from the tiny encoder, built once
into an ``.npz`` (``restructure.inputs``). Each contender runs ``judgenet.tuning.tune`` in fresh **subprocesses** on a fresh SQLite
storage for a study total of ``--trials`` trials: ``1 process`` (one worker), ``2 processes`` (two workers on
the same storage, started together). No thread environment variables are set: judgenet must size its own
thread pools. Interleaved through the protocol (best and median of ≥ 5, load and competing threads
printed). Reported beside the times: trials finished, distinct configurations, overshoot of the total, and
trials per minute *inside the study* (first trial start to last trial end, from the storage's timestamps: the
wall time also counts interpreter start-up and imports, ~3 s per process here).

    python benchmarks/tune.py                  # 30 trials
    python benchmarks/tune.py --trials 60
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import protocol as P
from restructure import inputs

ROOT = Path(__file__).resolve().parent.parent

WORKER = """
import json, logging, sys
import numpy as np
from judgenet import tuning
logging.disable(logging.WARNING)
d = np.load(sys.argv[1], allow_pickle=False)
obj = tuning.Objective(d["X"], d["y_realism"], d["generators"], list(d["names"]), json.loads(str(d["groups"])),
                       prompts=d["prompts"], seed=0)
tuning.tune(obj, n_trials=int(sys.argv[3]), study_name="bench", storage=sys.argv[2], seed=0, progress=False)
"""


def study_stats(url: str) -> dict:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = optuna.load_study(study_name="bench", storage=url).trials
    done = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    span = (max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)).total_seconds()
    return {"finished": len(done), "recorded": len(trials),
            "distinct": len({json.dumps(t.params, sort_keys=True) for t in done}),
            "span_s": span, "trials_per_min": 60.0 * len(done) / span}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    P.add_arguments(ap, threads_default="all")
    ap.add_argument("--trials", type=int, default=30, help="study total per run (default 30)")
    args = ap.parse_args(argv)
    info = P.header(args, extra=f"{args.trials} trials, SQLite, fast demo realism labels")
    tmp = tempfile.TemporaryDirectory(prefix="judgenet-tune-bench-")  # removed at exit, also after an error
    work = Path(tmp.name)
    data = work / "data.npz"
    inputs(data, work / "cache", fast=True)
    stats: dict[str, list] = {}
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                              "OPENBLAS_NUM_THREADS")}
    env["PYTHONPATH"] = str(ROOT)

    def contender(n_proc: int, name: str):
        def run():
            db = work / "study.db"
            db.unlink(missing_ok=True)
            url = f"sqlite:///{db}"
            procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(data), url, str(args.trials)], env=env)
                     for _ in range(n_proc)]
            if any(p.wait() for p in procs):
                raise RuntimeError(f"a tune worker failed ({name})")
            stats.setdefault(name, []).append(study_stats(url))
        return run

    rows = P.compare({"1 process": contender(1, "1 process"), "2 processes": contender(2, "2 processes")}, args,
                     warmup=False)
    P.print_table(rows, baseline="2 processes", title=f"tune, {args.trials} trials: wall seconds "
                                                      "(speed-up column = 2 processes' time / this time)")
    for r in rows:
        if r.name == "2 processes":
            one = next(x for x in rows if x.name == "1 process" and x.threads == r.threads)
            print(f"threads {r.threads}: 2 processes vs 1: {one.best / r.best:.2f}× (best), "
                  f"{one.median / r.median:.2f}× (median)")
    for name, s in stats.items():
        print(f"  {name}: finished {[x['finished'] for x in s]}, recorded {[x['recorded'] for x in s]}, "
              f"distinct configurations {[x['distinct'] for x in s]}, trials/min inside the study (first trial "
              f"start to last trial end) {[round(x['trials_per_min'], 1) for x in s]}")
    if len(stats) == 2:
        import statistics as st

        one, two = (st.median(x["trials_per_min"] for x in stats[k]) for k in ("1 process", "2 processes"))
        print(f"trials per minute inside the study (median): 1 process {one:.1f}, 2 processes {two:.1f}: "
              f"{two / one:.2f}× (the wall-time ratio above also counts each process's start-up and imports)")
    if args.json:
        P.write_json(args.json, info, rows, studies=stats)
    tmp.cleanup()


if __name__ == "__main__":
    main()
