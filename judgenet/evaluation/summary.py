"""The short terminal summary of held-out results: one line per result (e.g. question x split), at most 100 columns.

Each line says whether the chosen model ranks items better than a raw baseline (raw MID by default): its verdict,
the model, the pooled held-out Kendall tau-b of the model and of the baseline, and the paired-bootstrap difference
with its 95% CI. The full tables stay in the report (and ``--json``); ``demo``, ``train``, ``evaluate`` and ``tune``
print this instead of a metrics frame.

Verdicts (:func:`verdict`): ``better`` / ``worse`` when the CI of the difference excludes 0, ``not distinguishable``
when it contains 0, and ``borderline`` when a CI bound lies within ``spread`` of 0 — the bound moves by up to
:data:`CPU_SPREAD` between machines with other BLAS/oneDNN kernels (measured on the demo; ``benchmarks/README.md``,
"Demo speed"), so the verdict there would flip between ``not distinguishable`` and ``better``/``worse``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["SummaryLine", "ci_verdict", "verdict", "summary_line", "format_summary", "CPU_SPREAD", "WIDTH"]

WIDTH = 100
CPU_SPREAD = 0.007
"""Largest change of a demo CI bound measured between machines: 0.007 (Intel Xeon vs AMD EPYC, the same code and
seeds: realism on new prompts, upper bound +0.000 vs −0.007). On one machine, switching CPU kernels moves the fast
demo's numbers by at most 0.00076 (OpenBLAS SkylakeX vs Haswell: no change at all; torch's AVX-512 vs AVX2 kernels
for the tiny encoder's float32 forward: raw MID moves by up to 1.5 %). A verdict whose bound lies this close to 0 is
borderline."""


def ci_verdict(low: float, high: float) -> str:
    """The verdict of a difference's CI: ``better`` (it excludes 0 above), ``worse`` (below) or ``not
    distinguishable`` — the one rule every report, summary and baseline check uses."""
    return "better" if low > 0 else "worse" if high < 0 else "not distinguishable"


def verdict(low: float, high: float, spread: float = CPU_SPREAD) -> str:
    """``better`` | ``worse`` | ``not distinguishable`` | ``borderline`` (see the module docstring) | ``n/a``."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "n/a"
    if min(abs(low), abs(high)) <= spread:
        return "borderline"
    return ci_verdict(low, high)


@dataclass(frozen=True)
class SummaryLine:
    """One result: ``label`` (e.g. ``realism · new prompts``), the model, its tau-b and the baseline's, the
    difference model - baseline with its CI, and the verdict."""

    label: str
    model: str
    tau: float
    tau_baseline: float
    diff: float
    low: float
    high: float
    verdict: str
    baseline: str = "raw MID"


def summary_line(res, label: str, model: str | None = None, *, baseline: str = "mid_pmi",
                 measure: str = "kendall_tau_b", spread: float = CPU_SPREAD) -> SummaryLine | None:
    """The :class:`SummaryLine` of ``model`` (default: the best by ``measure``) in held-out results ``res``
    (:class:`~judgenet.evaluation.EvaluationResults`) against ``baseline``; None when the baseline is absent."""
    model = model or res.best_model(measure)
    d = res.comparisons.get((model, baseline, measure))
    if d is None:
        return None
    return SummaryLine(label, model, res.metrics[model][measure].value, res.metrics[baseline][measure].value,
                       d.value, d.low, d.high, verdict(d.low, d.high, spread),
                       "raw MID" if baseline == "mid_pmi" else baseline)


def _num(v: float, sign: bool = False) -> str:
    if not np.isfinite(v):
        return "  n/a "
    s = f"{v:+.3f}" if sign else f"{v:.3f}"
    return "+0.000" if sign and s == "-0.000" else s


def format_summary(lines: Sequence[SummaryLine], *, report=None, title: str | None = None,
                   width: int = WIDTH) -> str:
    """The lines as a fixed-width text block (every line <= ``width`` columns), then ``report: <path>``."""
    lines = [x for x in lines if x is not None]
    lw = max([len(x.label) for x in lines] + [5])
    mw = max([len(x.model) for x in lines] + [5])
    base = lines[0].baseline if lines else "raw MID"
    head = f"{'':{lw}}  {'verdict':19}  {'model':{mw}}  tau-b  {base[:7]:>7}  difference [95% CI]"
    out = [title] if title else []
    out.append(head)
    for x in lines:
        out.append(f"{x.label:{lw}}  {x.verdict:19}  {x.model:{mw}}  {_num(x.tau)}  {_num(x.tau_baseline):>7}  "
                   f"{_num(x.diff, True)} [{_num(x.low, True)}, {_num(x.high, True)}]")
    if report is not None:
        out.append(f"report: {report}")
    return "\n".join(s if len(s) <= width else s[: width - 1] + "…" for s in out)
