"""The benchmark protocol every script in ``benchmarks/`` uses, so that a busy machine cannot fool a figure.

* **Interleaved runs** — the contenders run A, B, A, B, … in one process, so a burst of load hits
  all of them alike; one untimed warm-up call each first.
* **Best and median of ≥ 5** runs per contender (``--repeat``, minimum 5).
* **Thread settings** — every comparison runs at 1 thread and at all threads (``--threads 1,all``):
  ``threadpoolctl.threadpool_limits`` (numpy/scipy OpenBLAS, OpenMP) plus ``torch.set_num_threads``
  (torch's MKL/OpenMP), restored afterwards.
* **Load** — the 1-minute load average is read before and after each thread setting and printed
  beside every figure; so is the number of **other processes' threads ready to run at normal
  priority**, sampled from ``/proc`` between the timed calls (``competing``; threads at nice ≥ 10,
  e.g. a test suite run under ``nice -n 19``, are counted apart: the scheduler gives them ~1.5 % of a
  core against a nice-0 benchmark, but the load average counts them in full). With ``sched_autogroup``
  on (Linux desktops and these machines), the nice that counts is the *session's autogroup* nice
  (``/proc/<pid>/autogroup``): ``nice -n 19`` alone in another session still takes an equal share, and
  is counted as competing. When the load average
  is above the core count *and* normal-priority competitors are running, the script prints a loud
  warning and stops, unless ``--force`` is given; rows measured beside ≥ 0.5 competing threads on
  average — niced ones included when the run uses every core (a multi-threaded BLAS call waits for
  its slowest thread: the official MID code ran 15× slower at 2 threads beside two other runs,
  while 1-thread figures moved by ~5 %) — or above the core count without ``/proc``, are marked
  ``LOADED``.

Typical use::

    from protocol import add_arguments, compare, header, print_table

    ap = argparse.ArgumentParser(); add_arguments(ap); args = ap.parse_args()
    header(args)
    rows = compare({"official": f_off, "judgenet": f_jn}, args)
    print_table(rows, baseline="official")

Results are :class:`Timing` rows (JSON-able with :meth:`Timing.to_dict`); :func:`write_json` saves them.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import math
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT, ROOT / "tests"):  # run as `python benchmarks/x.py` from a checkout; tests/reference is shared
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

MIN_REPEAT = 5

__all__ = ["MIN_REPEAT", "Timing", "add_arguments", "cores", "load", "check_load", "threads", "thread_settings",
           "compare", "competing", "print_table", "header", "write_json", "fit_exponent", "peak_rss_mb"]


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def load() -> float:
    """1-minute load average (``os.getloadavg()[0]``); NaN where unavailable."""
    try:
        return float(os.getloadavg()[0])
    except OSError:  # pragma: no cover
        return float("nan")


def competing(samples: int = 1, interval: float = 0.0) -> tuple[float, float]:
    """Mean number of *other* processes' threads ready to run: ``(normal priority, nice ≥ 10)``.

    Read from ``/proc/*/task/*/stat`` (state ``R``); this process and its descendants (e.g. a timed
    subprocess) are excluded; ``(nan, nan)`` without ``/proc``. ``samples`` snapshots ``interval``
    seconds apart are averaged."""
    if not os.path.isdir("/proc/self/task"):  # pragma: no cover - not Linux
        return float("nan"), float("nan")
    tot_n = tot_low = 0
    for i in range(max(1, samples)):
        if i:
            time.sleep(interval)
        parent, running = {}, []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                try:
                    with open(f"/proc/{pid}/task/{tid}/stat", "rb") as fh:
                        fields = fh.read().rsplit(b")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                parent[int(pid)] = int(fields[1])
                if fields[0] == b"R":
                    running.append((int(pid), _effective_nice(pid, int(fields[16]))))
        mine = {os.getpid()}
        for pid, _nice in running:
            chain, p = [], pid
            while p > 1 and p not in mine and len(chain) < 64:
                chain.append(p)
                p = parent.get(p, 0)
            if p in mine:
                mine.update(chain)
        for pid, nice in running:
            if pid not in mine:
                if nice >= 10:
                    tot_low += 1
                else:
                    tot_n += 1
    k = max(1, samples)
    return tot_n / k, tot_low / k


def _autogroups() -> bool:
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled") as fh:
            return fh.read().strip() == "1"
    except OSError:
        return False


_AUTOGROUP = _autogroups()


def _effective_nice(pid: str, task_nice: int) -> int:
    """The nice that orders ``pid`` against this benchmark: with ``sched_autogroup`` on (each session its own
    group), the *autogroup's* nice — a task's own nice only orders it inside its session, so ``nice -n 19`` in
    another session still takes an equal share of the CPU unless its autogroup is reniced too."""
    if not _AUTOGROUP:
        return task_nice
    try:
        with open(f"/proc/{pid}/autogroup") as fh:
            return int(fh.read().rsplit("nice", 1)[1])
    except (OSError, ValueError, IndexError):
        return task_nice


class LoadError(SystemExit):
    """The machine is busier than it has cores; figures would be meaningless."""


def check_load(force: bool = False, what: str = "benchmark") -> float:
    """Return the load; above the core count: a loud warning, and :class:`LoadError` unless ``force``."""
    ld, nc = load(), cores()
    normal, low = competing(samples=10, interval=0.05)
    if ld > nc and not (normal < 0.5):  # NaN (no /proc) counts as busy
        bar = "!" * 78
        msg = (f"\n{bar}\n!! load average {ld:.2f} is above the {nc} cores and {normal:.1f} other threads are ready to "
               f"run at normal priority: other jobs are using this machine and a "
               f"{what} figure taken now measures them, not the code.\n")
        if not force:
            print(msg + f"!! Refusing. Wait for an idle machine, or pass --force (rows are then marked LOADED).\n{bar}",
                  file=sys.stderr)
            raise LoadError(3)
        print(msg + f"!! --force given: measuring anyway; every row below is marked LOADED.\n{bar}", file=sys.stderr)
    return ld


@contextlib.contextmanager
def threads(n: int | None):
    """Limit numpy/scipy BLAS, OpenMP and torch to ``n`` threads inside the block (None = all cores)."""
    import torch
    from threadpoolctl import threadpool_limits

    n = cores() if n is None else int(n)
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield n
    finally:
        torch.set_num_threads(before)


def thread_settings(spec: str) -> list[int]:
    """``"1,all"`` → ``[1, cores()]`` (duplicates dropped, order kept)."""
    out: list[int] = []
    for part in str(spec).split(","):
        part = part.strip().lower()
        if not part:
            continue
        n = cores() if part == "all" else int(part)
        if n < 1:
            raise ValueError(f"thread count must be >= 1, got {part!r}")
        if n not in out:
            out.append(n)
    return out


def add_arguments(ap, *, repeat: int = MIN_REPEAT, threads_default: str = "1,all") -> None:
    """Add ``--repeat``, ``--threads``, ``--force`` and ``--json`` to an ``argparse`` parser."""
    ap.add_argument("--repeat", type=int, default=repeat,
                    help=f"timed runs per contender, interleaved (minimum {MIN_REPEAT}; best and median reported)")
    ap.add_argument("--threads", default=threads_default,
                    help="comma-separated thread settings, 'all' = every core (default: %(default)s)")
    ap.add_argument("--force", action="store_true",
                    help="measure even when the load average is above the core count and normal-priority jobs compete "
                         "(rows marked LOADED)")
    ap.add_argument("--json", type=Path, default=None, help="also write the timing rows to this JSON file")


@dataclasses.dataclass
class Timing:
    """One contender at one thread setting: all run times (s), load around them, and its last output."""

    name: str
    threads: int
    times: list[float]
    load_before: float
    load_after: float
    cores: int
    value: Any = None
    note: str = ""
    competing: float = float("nan")  # mean other threads ready to run at normal priority (see competing())
    competing_niced: float = float("nan")  # ... at nice >= 10

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def loaded(self) -> bool:
        if self.competing == self.competing:  # measured: normal-priority competitors decide; niced ones too
            # when this run uses every core (an OpenMP barrier waits for a descheduled thread: measured
            # 15-30x slower official MID at 2 threads beside two other test runs)
            return self.competing >= 0.5 or (self.threads >= self.cores and self.competing_niced >= 0.5)
        return max(self.load_before, self.load_after) > self.cores

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("value")
        d.update(best=self.best, median=self.median, loaded=self.loaded)
        return d


def _get(args, name, default):
    return getattr(args, name, default) if args is not None else default


def compare(cases: Mapping[str, Callable[[], Any]], args=None, *, repeat: int | None = None,
            thread_list: Sequence[int] | None = None, warmup: bool = True, once: bool = False) -> list[Timing]:
    """Time every callable of ``cases`` interleaved (A, B, A, B, …) at each thread setting.

    ``repeat`` (≥ 5) and the thread settings come from ``args`` (see :func:`add_arguments`) unless given.
    ``once=True`` is the declared exception for runs too long to repeat (e.g. 100,000-image pipeline parts):
    one run per contender, no warm-up; the table's ``runs`` column says 1, so best = median is visible.
    Returns one :class:`Timing` per (thread setting, contender), in that order.
    """
    repeat = 1 if once else int(repeat if repeat is not None else _get(args, "repeat", MIN_REPEAT))
    warmup = warmup and not once
    if repeat < MIN_REPEAT and not once:
        raise ValueError(f"the protocol needs at least {MIN_REPEAT} runs per contender, got {repeat}")
    if thread_list is None:
        thread_list = thread_settings(_get(args, "threads", "1,all"))
    force = bool(_get(args, "force", False))
    rows: list[Timing] = []
    for n in thread_list:
        check_load(force)
        with threads(n):
            if warmup:
                for fn in cases.values():
                    fn()
            ld0 = load()
            times: dict[str, list[float]] = {k: [] for k in cases}
            values: dict[str, Any] = {}
            seen: list[tuple[float, float]] = []
            for _ in range(repeat):
                for name, fn in cases.items():
                    seen.append(competing())
                    t = time.perf_counter()
                    values[name] = fn()
                    times[name].append(time.perf_counter() - t)
            seen.append(competing())
            ld1 = load()
        normal = statistics.fmean(s[0] for s in seen)
        low = statistics.fmean(s[1] for s in seen)
        rows.extend(Timing(name, n, times[name], ld0, ld1, cores(), values.get(name), competing=normal,
                           competing_niced=low) for name in cases)
    return rows


def _fmt_s(t: float) -> str:
    return f"{t:.3g} s" if t >= 0.1 else f"{t * 1e3:.3g} ms"


def print_table(rows: Iterable[Timing], baseline: str | None = None, title: str = "", file=None) -> str:
    """Print (and return) a Markdown table: threads, contender, best, median, ratio to ``baseline``
    (its best / this best, same thread setting), load before → after, other threads ready to run
    (normal priority + niced, mean over the runs)."""
    rows = list(rows)
    base = {r.threads: r for r in rows if r.name == baseline}
    lines = []
    if title:
        lines.append(f"\n{title}")
    lines.append("| threads | contender | best | median | runs | " + ("speed-up vs " + baseline + " (best / median) | "
                                                                      if baseline else "") + "load before → after | competing (+niced) |")
    lines.append("|---" * (7 + bool(baseline)) + "|")
    for r in rows:
        cells = [str(r.threads), r.name, _fmt_s(r.best), _fmt_s(r.median), str(len(r.times))]
        if baseline:
            b = base.get(r.threads)
            cells.append(f"{b.best / r.best:.2f}× / {b.median / r.median:.2f}×" if b else "")
        cells.append(f"{r.load_before:.2f} → {r.load_after:.2f}" + (" LOADED" if r.loaded else ""))
        cells.append(f"{r.competing:.1f} (+{r.competing_niced:.1f})")
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text, file=file or sys.stdout, flush=True)
    return text


def header(args=None, extra: str = "") -> dict:
    """Print and return the conditions: date (UTC), machine, cores, library versions, BLAS, load."""
    import numpy as np
    import torch

    try:
        from threadpoolctl import threadpool_info

        blas = sorted({f"{i.get('internal_api')} {i.get('version') or ''} {i.get('architecture') or ''}".strip()
                       for i in threadpool_info() if i.get("user_api") == "blas"})
    except Exception:  # pragma: no cover
        blas = []
    info = {"date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
            "machine": platform.processor() or platform.machine(), "cores": cores(),
            "python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
            "numpy_blas": blas, "torch_blas": "mkl" if torch.backends.mkl.is_available() else "other",
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"), "load": load(),
            "competing": competing(samples=10, interval=0.05),
            "repeat": _get(args, "repeat", MIN_REPEAT), "threads": _get(args, "threads", "1,all")}
    print(f"# {info['date_utc']} UTC · {info['machine']} · {info['cores']} cores · numpy {info['numpy']} "
          f"({'; '.join(blas)}) · torch {info['torch']} ({info['torch_blas']}) · OPENBLAS_CORETYPE="
          f"{info['OPENBLAS_CORETYPE']} · load {info['load']:.2f} (other threads ready to run: "
          f"{info['competing'][0]:.1f} normal + {info['competing'][1]:.1f} niced) · repeat {info['repeat']} interleaved · "
          f"threads {info['threads']}" + (f" · {extra}" if extra else ""), flush=True)
    return info


def write_json(path, info: Mapping, rows: Iterable[Timing], **extra) -> None:
    """Write the header info, the timing rows and any extra JSON-able results atomically."""
    from judgenet.io import atomic_write_json

    atomic_write_json(path, {"conditions": dict(info), "rows": [r.to_dict() for r in rows], **extra})


def fit_exponent(sizes: Sequence[float], seconds: Sequence[float]) -> float:
    """Least-squares slope of log(seconds) on log(size): cost ∝ size^exponent."""
    import numpy as np

    xs, ys = np.log(np.asarray(sizes, float)), np.log(np.asarray(seconds, float))
    if xs.size < 2:
        return float("nan")
    return float(np.polyfit(xs, ys, 1)[0])


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (Linux ``ru_maxrss`` is in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def quiet_warnings():
    """Silence warnings in benchmark output (they are tested elsewhere)."""
    warnings.simplefilter("ignore")


if __name__ == "__main__":  # self-check: prints the conditions and one tiny interleaved comparison
    import argparse

    ap = argparse.ArgumentParser(description="benchmark protocol self-check")
    add_arguments(ap)
    a = ap.parse_args()
    header(a)
    print_table(compare({"sum_list": lambda: sum(range(200_000)), "sum_math": lambda: math.fsum(range(200_000))}, a),
                baseline="sum_list")
