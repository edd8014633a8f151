"""Is the chosen model better than the raw features it was built from? The check ``train`` and ``tune`` run
before they save a predictor, and the summary ``train``/``evaluate``/``tune`` print (the demo's format).

:func:`check_against_baselines` compares a model with the **best raw baseline** (raw MID, CLIPScore,
Mahalanobis distance — whichever raw feature columns the held-out evaluation scored, by their pooled value on
the same held-out folds) through the evaluation's paired bootstrap. The model passes when the difference's CI
lies above zero *and* its pooled value is above chance (Kendall tau-b > 0; pairwise 2AFC > 0.5). It also says
when the split is too small to judge: fewer than :data:`MIN_GENERATORS` generators (held-out results rest on
that many folds), or a training-mean floor far below zero (pooled correlations are then dominated by the
level shift of each held-out generator, not by the ranking of its items).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import numpy as np

from ..stats import Estimate
from .results import FLOOR, LOWER_IS_BETTER, HeldOutResults
from .summary import ci_verdict

__all__ = ["BaselineCheck", "check_against_baselines", "best_raw_baseline", "summary_text", "MIN_GENERATORS",
           "FLOOR_FAR_BELOW_ZERO", "SYMBOLS"]

log = logging.getLogger(__name__)

MIN_GENERATORS = 6
"""Below this many generators a held-out comparison rests on too few folds to judge a model."""
FLOOR_FAR_BELOW_ZERO = -0.3
"""A training-mean floor (pooled tau-b) below this: between-generator level shifts dominate the pooled measure."""
SYMBOLS = {"kendall_tau_b": "tau-b", "accuracy": "2AFC", "pairwise_accuracy": "2AFC"}
CHANCE = {"kendall_tau_b": 0.0, "accuracy": 0.5, "pairwise_accuracy": 0.5}


def _value(res: HeldOutResults, predictor: str, measure: str) -> float:
    e = res.metrics.get(predictor, {}).get(measure)
    return float(e.value) if e is not None and np.isfinite(e.value) else float("nan")


def best_raw_baseline(res: HeldOutResults, measure: str | None = None) -> str | None:
    """The raw baseline (not the training-mean floor) with the best pooled ``measure``; None without one."""
    measure = measure or res.primary_measure
    sign = -1.0 if measure in LOWER_IS_BETTER else 1.0
    vals = {b: sign * _value(res, b, measure) for b in res.baselines if b != FLOOR}
    vals = {b: v for b, v in vals.items() if np.isfinite(v)}
    return max(vals, key=vals.get) if vals else None


def _verdict(e: Estimate | None) -> str:
    if e is None or not np.isfinite(e.low):
        return "not compared"
    return ci_verdict(e.low, e.high)


@dataclass
class BaselineCheck:
    """The outcome of :func:`check_against_baselines` (JSON-able through :meth:`to_dict`)."""

    model: str
    measure: str
    model_value: float
    baseline: str | None
    baseline_value: float = float("nan")
    difference: float = float("nan")
    low: float = float("nan")
    high: float = float("nan")
    p_not_better: float = float("nan")
    chance: float = 0.0
    n_generators: int = 0
    floor_value: float = float("nan")
    too_small: list = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """``better`` / ``worse`` / ``not distinguishable`` (the difference's CI) or ``not compared``."""
        return _verdict(Estimate(self.difference, self.low, self.high, 0, 0.95) if self.baseline else None)

    @property
    def above_chance(self) -> bool:
        return bool(np.isfinite(self.model_value) and self.model_value > self.chance)

    @property
    def passed(self) -> bool:
        """Better than the best raw baseline (CI above zero; vacuously so without a baseline) and above chance."""
        return self.above_chance and (self.baseline is None or self.verdict == "better")

    def warning(self) -> str | None:
        """One loud line when the check fails (None when it passes)."""
        if self.passed:
            return None
        sym = SYMBOLS.get(self.measure, self.measure)
        why = []
        if not self.above_chance:
            why.append(f"its pooled held-out {sym} {self.model_value:.3f} is not above chance ({self.chance:g})")
        if self.baseline is not None and self.verdict != "better":
            why.append(f"it is {self.verdict} than raw {self.baseline} ({sym} {self.model_value:.3f} vs "
                       f"{self.baseline_value:.3f}, difference {self.difference:+.3f} [{self.low:+.3f}, "
                       f"{self.high:+.3f}])")
        small = " — the split is too small to judge (see the report)" if self.too_small else ""
        return f"model {self.model!r} is no better than a raw feature: {'; '.join(why)}{small}"

    def markdown(self, kept: str | None = None) -> str:
        """A report section: the comparison, the verdict, what was saved and why, and the size caveats."""
        sym = SYMBOLS.get(self.measure, self.measure)
        lines = ["## Is the model better than the raw features?", ""]
        if self.baseline is None:
            lines.append(f"No raw baseline was scored; {self.model} has pooled held-out {sym} "
                         f"{self.model_value:.3f} (chance {self.chance:g}).")
        else:
            lines.append(f"{self.model}: pooled held-out {sym} {self.model_value:.3f}; best raw baseline on the same "
                         f"folds, {self.baseline}: {self.baseline_value:.3f}. Difference {self.difference:+.3f} "
                         f"(95% CI [{self.low:+.3f}, {self.high:+.3f}], paired bootstrap, p(not better) "
                         f"{self.p_not_better:.3f}): **{self.verdict}**.")
        lines += ["", "**Passed**: the model beats the best raw baseline and chance." if self.passed else
                  f"**Warning**: {self.warning()}."]
        if kept:
            lines += ["", kept]
        if self.too_small:
            lines += ["", "**The split is too small to judge:**", ""] + [f"- {t}" for t in self.too_small]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict:
        from ..io import to_jsonable

        return to_jsonable({**asdict(self), "verdict": self.verdict, "passed": self.passed})


def _n_generators(res: HeldOutResults) -> int:
    p = res.predictions
    cols = [c for c in ("generator", "generator_a", "generator_b") if c in p.columns]
    return int(len(set(np.concatenate([p[c].astype(str).to_numpy() for c in cols])))) if cols else 0


def check_against_baselines(res: HeldOutResults, model: str | None = None) -> BaselineCheck:
    """Compare ``model`` (default: the best model) of held-out results with the best raw baseline (module
    docstring). Logs nothing; :meth:`BaselineCheck.warning` is the line to log."""
    measure = res.primary_measure
    model = model or res.best_model()
    base = best_raw_baseline(res, measure)
    out = BaselineCheck(model=model, measure=measure, model_value=_value(res, model, measure), baseline=base,
                        chance=CHANCE.get(measure, 0.0), n_generators=_n_generators(res),
                        floor_value=_value(res, FLOOR, measure))
    if base is not None:
        out.baseline_value = _value(res, base, measure)
        e = res.comparisons.get((model, base, measure))
        if e is not None:
            out.difference, out.low, out.high = float(e.value), float(e.low), float(e.high)
            out.p_not_better = float(res.p_not_better.get((model, base, measure), np.nan))
    if out.n_generators < MIN_GENERATORS:
        out.too_small.append(f"only {out.n_generators} generators: every held-out figure rests on {out.n_generators} "
                             f"folds, and a model fitted on {max(out.n_generators - 1, 0)} of them has few examples of "
                             f"what separates generators (at least {MIN_GENERATORS} are needed to judge)")
    if np.isfinite(out.floor_value) and out.floor_value < FLOOR_FAR_BELOW_ZERO:
        out.too_small.append(f"the training-mean floor scores {SYMBOLS.get(measure, measure)} {out.floor_value:.3f}: "
                             "holding out a generator shifts the training mean against it, so pooled correlations "
                             "under this split mostly measure those level shifts, not the ranking of images")
    return out


def summary_text(res: HeldOutResults, question: str, split: str, model: str | None = None, *, report=None) -> str:
    """The terminal summary ``train``/``evaluate``/``tune`` print — the demo's format
    (:func:`judgenet.evaluation.summary.format_summary`): one line for ``question`` × ``split`` with the verdict of
    ``model`` (default the best) against raw MID (without a MID column: the best raw baseline) on the protocol's
    primary measure, then the report path."""
    from .summary import format_summary, summary_line

    base = "mid_pmi" if "mid_pmi" in res.baselines else best_raw_baseline(res)
    line = None if base is None else summary_line(res, f"{question} · {split}", model, baseline=base,
                                                  measure=res.primary_measure)
    return format_summary([line] if line is not None else [], report=report)
