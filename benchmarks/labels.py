"""Benchmark: load and check label files of 1e5 / 1e6 / 1e7 judgments (not a timed test).

    python benchmarks/labels.py [--sizes 1e5,1e6] [--kinds judgments,pairwise,fail-fast,ceiling]
                                [--repeat 3] [--before] [--tmp DIR]

Files are generated into a temporary folder (CSV; ``judgments``: 5 raters per item out of 50, one
question; ``pairwise``: one judgment per pair, 40 raters; ``fail-fast``: the ``judgments`` file
with a duplicate on row 3; ``ceiling``: ``rater_ceiling`` (1,000 resamples) of the ``judgments``
set). Each measurement runs in a fresh process, which reports the wall time of the call (imports
excluded) and its peak resident memory: ``VmHWM`` of ``/proc/self/status`` (the high-water mark of
this process since it started; ``resource.getrusage``'s ``ru_maxrss`` is used where there is no
``/proc``, but on Linux it keeps the parent's high-water mark across fork + exec). It is the whole
process: ~250 MB of it is Python + pandas + scipy imported (``import MB``). ``--before`` also times the code before the split
(``labels/schema.py`` at commit a45ecf5, read from git) at sizes up to 1e5, interleaved with the new
code. Best and median over ``--repeat`` runs; the 1-minute load average before and after each row.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "a45ecf5"


def make_judgments(n: int, duplicate_row: int | None = None) -> pd.DataFrame:
    k = np.arange(n)
    item = k // 5
    gens = np.array(["real", "gan-a", "gan-b", "diffusion-c"])[item % 4]
    df = pd.DataFrame({"item_id": "i" + pd.Series(item).astype(str), "image": gens + "/" + pd.Series(item).astype(str)
                       + ".png", "prompt": "a photo of thing " + pd.Series(item // 3).astype(str), "generator": gens,
                       "rater_id": "r" + pd.Series((item + k % 5) % 50).astype(str), "question": "realism",
                       "score": np.random.default_rng(0).integers(1, 6, n)})
    if duplicate_row is not None:
        df.iloc[duplicate_row - 2] = df.iloc[duplicate_row - 3]
    return df


def make_pairs(n: int) -> pd.DataFrame:
    k = np.arange(n)
    return pd.DataFrame({"item_a": "a" + pd.Series(k).astype(str), "item_b": "b" + pd.Series(k // 2).astype(str),
                         "question": "overall", "choice": np.array(["a", "b", "tie"])[k % 3],
                         "rater_id": "r" + pd.Series(k % 40).astype(str)})


def _child(kind: str, path: str, before: bool) -> None:
    if before:
        import importlib.util

        code = subprocess.run(["git", "-C", str(ROOT), "show", f"{BEFORE}:judgenet/labels/schema.py"],
                              capture_output=True, text=True, check=True).stdout
        import judgenet.labels  # noqa: F401  (the package the old module's relative imports resolve in)

        spec = importlib.util.spec_from_loader("judgenet.labels._before_split", loader=None)
        mod = importlib.util.module_from_spec(spec)
        mod.__package__ = "judgenet.labels"
        sys.modules[spec.name] = mod
        exec(compile(code, "schema_before_split.py", "exec"), mod.__dict__)
        read = mod.read_labels
    else:
        from judgenet.labels import rater_ceiling, read_labels as read
    from judgenet.errors import LabelError

    base = _peak_mb()
    t, cpu = time.perf_counter(), time.process_time()
    note = ""
    try:
        ls = read(path)
        note = f"{len(ls)} rows"
        if kind == "ceiling":
            t, cpu = time.perf_counter(), time.process_time()
            c = rater_ceiling(ls, "realism", n_resamples=1000)
            note = f"{c['n_items']} items, agreement {c['pairwise_agreement']:.4f}"
    except LabelError as exc:
        note = str(exc)[:90]
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "peak_mb": _peak_mb(), "import_peak_mb": base, "note": note}))


def _peak_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(kind: str, path: Path, before: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, str(path)] + (["--before"] if before else [])
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1e5,1e6", help="comma-separated row counts (1e7 needs ~2 GB disk, ~5 GB RAM)")
    ap.add_argument("--kinds", default="judgments,pairwise,fail-fast,ceiling")
    ap.add_argument("--repeat", type=int, default=3, help="runs per row at sizes <= 1e5 (larger: 1)")
    ap.add_argument("--before", action="store_true", help="also time the pre-split code (sizes <= 1e5)")
    ap.add_argument("--tmp", default=None, help="folder for the generated files (default: a temporary one)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return _child(args.child[0], args.child[1], args.before)
    print(f"# labels benchmark — {os.cpu_count()} CPUs, pandas {pd.__version__}, numpy {np.__version__}, "
          f"load {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print("| kind | rows | code | best s | median s | best CPU s | peak MB | import MB | runs | load before/after | result |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    rows = []
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        for n in (int(float(s)) for s in args.sizes.split(",")):
            for kind in args.kinds.split(","):
                path = Path(tmp) / f"{kind}-{n}.csv"
                df = (make_pairs(n) if kind == "pairwise"
                      else make_judgments(n, duplicate_row=3 if kind == "fail-fast" else None))
                df.to_csv(path, index=False)
                del df
                codes = ["new"] + (["before"] if args.before and n <= 100_000 and kind != "ceiling" else [])
                runs = {c: [] for c in codes}
                load0 = os.getloadavg()[0]
                for _ in range(args.repeat if n <= 100_000 else 1):
                    for c in codes:  # interleaved
                        runs[c].append(_run(kind, path, c == "before"))
                load1 = os.getloadavg()[0]
                for c in codes:
                    w = [r["wall_s"] for r in runs[c]]
                    row = {"kind": kind, "rows": n, "code": c, "best_s": min(w), "median_s": statistics.median(w),
                           "best_cpu_s": min(r["cpu_s"] for r in runs[c]),
                           "peak_mb": max(r["peak_mb"] for r in runs[c]),
                           "import_mb": min(r["import_peak_mb"] for r in runs[c]), "runs": len(w), "load": (load0, load1),
                           "result": runs[c][0]["note"]}
                    rows.append(row)
                    print(f"| {kind} | {n:,} | {c} | {row['best_s']:.2f} | {row['median_s']:.2f} | {row['best_cpu_s']:.2f} | {row['peak_mb']:.0f} "
                          f"| {row['import_mb']:.0f} | {len(w)} | {load0:.1f}/{load1:.1f} | {row['result']} |", flush=True)
                path.unlink()
    return rows


if __name__ == "__main__":
    main()
