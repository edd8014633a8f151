"""The demo talks while it works and ends with a short summary: progress lines through logging (silenced by --quiet),
one summary line per question x split within 100 columns, verdicts marked borderline within the measured CPU spread."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from judgenet.evaluation import evaluate
from judgenet.evaluation.summary import CPU_SPREAD, WIDTH, SummaryLine, format_summary, summary_line, verdict
from judgenet.jobs.demo import _Phases


@pytest.mark.parametrize("low, high, want", [
    (0.05, 0.2, "better"), (-0.2, -0.05, "worse"), (-0.1, 0.1, "not distinguishable"),
    (-0.041, 0.0, "borderline"), (-0.041, -0.001, "borderline"), (0.002, 0.3, "borderline"),
    (-0.041, -0.007, "worse"), (float("nan"), 0.1, "n/a")])
def test_verdicts_and_the_borderline_band(low, high, want):
    assert verdict(low, high, spread=0.004) == want
    assert verdict(-0.041, -CPU_SPREAD * 1.01) == "worse" and verdict(-0.041, -CPU_SPREAD) == "borderline"


def test_summary_lines_fit_100_columns_and_name_the_report(tmp_path):
    lines = [SummaryLine(f"{q} · {s}", m, 0.4391, 0.1942, d, d - 0.14, d + 0.13, verdict(d - 0.14, d + 0.13))
             for q in ("realism", "alignment", "overall") for s in ("labelled prompts", "new prompts")
             for m, d in [("anchored", 0.2451), ("hist_gb", -0.0004)]]
    text = format_summary(lines, report=tmp_path / "report.md", title="Held-out Kendall tau-b vs raw MID:")
    rows = text.splitlines()
    assert all(len(r) <= WIDTH for r in rows[:-1]) and rows[-1] == f"report: {tmp_path / 'report.md'}"
    assert len(rows) == 2 + len(lines) + 1
    assert "alignment · new prompts" in rows[8] and "+0.245 [+0.105, +0.375]" in rows[2]
    assert "-0.000" not in text  # a difference that rounds to zero prints as +0.000


def test_summary_line_reads_the_paired_comparison_of_held_out_results():
    rng = np.random.default_rng(0)
    gens = np.repeat([f"g{i}" for i in range(5)], 20)
    prompts = np.tile([f"p{j}" for j in range(20)], 5)
    y = rng.normal(size=100)
    X = np.c_[y + rng.normal(size=100), rng.normal(size=100)]
    from sklearn.linear_model import LinearRegression

    res = evaluate(X, y, gens, ["mid_pmi", "x"], {"lin": LinearRegression()}, prompts=prompts, n_resamples=50,
                   baselines=["mid_pmi"], per_generator_ci=False)
    s = summary_line(res, "q · split")
    d = res.comparisons[("lin", "mid_pmi", "kendall_tau_b")]
    assert (s.model, s.diff, s.low, s.high) == ("lin", d.value, d.low, d.high)
    assert s.verdict == verdict(d.low, d.high)
    assert summary_line(res, "q", baseline="clip_score") is None


def test_progress_lines_go_to_logging_and_quiet_silences_them(caplog):
    log = logging.getLogger("judgenet.jobs.demo")
    with caplog.at_level(logging.INFO, logger="judgenet"):
        p = _Phases(0.0, n_evaluations=2)
        p("world")
        p.start("evaluate 2 pairs")
        p.evaluated("a")
        p.evaluated("b")
    msgs = [r.getMessage() for r in caplog.records if r.name == log.name]
    assert len(msgs) == 4 and "[1/2] a done, ETA" in msgs[2] and "[2/2] b done" in msgs[3] and "ETA" not in msgs[3]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="judgenet"):  # --quiet
        _Phases(0.0, 1)("world")
    assert not [r for r in caplog.records if r.name == log.name]
