"""The results of the held-out protocols, with one interface.

:class:`EvaluationResults` (per-item labels, :func:`judgenet.evaluation.evaluate`) and :class:`PairwiseResults`
(comparative labels, :func:`judgenet.evaluation.pairwise.evaluate_pairs`) share the :class:`HeldOutResults`
interface — the same attribute meanings and the same methods, so a caller never branches on the type:

* ``metrics``: {predictor: {measure: Estimate}} on the pooled held-out predictions (for pairs: all test pairs);
  ``comparisons`` / ``p_not_better``: {(model, baseline, measure): ...} of the paired bootstrap model − baseline.
* ``table()``: tidy DataFrame with at least ``predictor``, ``kind`` (model / baseline / floor), ``measure``,
  ``value``, ``low``, ``high``, ``n_resamples``; ``comparison_table()``: ``model``, ``baseline``, ``measure``,
  ``difference``, ``low``, ``high``, ``p_not_better``, ``excludes_zero``.
* ``best_model(measure=None)``: the model with the best pooled ``measure`` (default :attr:`primary_measure`:
  Kendall tau-b for per-item labels, 2AFC accuracy for pairs); ``to_dict()`` / ``to_json()``.
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Mapping, Sequence

import numpy as np
import pandas as pd

from ..io import to_jsonable as _clean
from ..stats import Estimate

__all__ = ["HeldOutResults", "EvaluationResults", "PairwiseResults", "FLOOR", "SYSTEM_MEASURE", "WITHIN_MEASURE",
           "CEILING_KEYS", "LOWER_IS_BETTER"]

SYSTEM_MEASURE = "system_kendall_tau_b"
WITHIN_MEASURE = "within_generator_kendall_tau_b"
"""Mean over generators of the Kendall tau-b *inside* each generator (how well a predictor ranks one
generator's images), with the same prompt bootstrap; generators where it is undefined are skipped."""
FLOOR = "training_mean"
CEILING_KEYS = {"kendall_tau_b": "loo_kendall_tau_b", "kendall_tau_c": "loo_kendall_tau_c",
                "spearman": "loo_spearman", "pairwise_accuracy": "pairwise_agreement"}
"""Measure → key of ``labels.rater_ceiling``'s dict reported next to it. These are human–human
agreements of *one* rater with the others (leave-one-rater-out: one rater vs the mean of the
rest; pairwise: rater vs rater), while predictors are scored against the mean of *all* raters —
a less noisy target — so a predictor can exceed them; read them as "as good as one more rater"."""
LOWER_IS_BETTER = frozenset({"log_loss", "brier"})
"""Measures where lower is better (pairwise log-loss and Brier score)."""


def _est(d: Mapping) -> Estimate:
    return Estimate(_f(d["value"]), _f(d["low"]), _f(d["high"]), int(d["n_resamples"]), float(d["confidence"]))


def _f(v):
    return float("nan") if v is None else float(v)


def _excludes_zero(e: Estimate) -> bool:
    return bool(np.isfinite(e.low) and (e.low > 0 or e.high < 0))


@dataclass(kw_only=True)
class HeldOutResults(ABC):
    """The interface both held-out protocols honour (module docstring); see the subclasses for the details."""

    predictions: pd.DataFrame
    metrics: dict
    comparisons: dict
    p_not_better: dict
    models: list
    baselines: list
    ceiling: dict | None = None
    folds: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    primary_measure: ClassVar[str] = "kendall_tau_b"
    """The measure that picks the best model and heads the summary."""

    def role(self, predictor: str) -> str:
        """``"model"``, ``"floor"`` (the training-mean floor) or ``"baseline"`` (a raw feature used as a score)."""
        return "model" if predictor in self.models else ("floor" if predictor == FLOOR else "baseline")

    @property
    def measures(self) -> list[str]:
        return list(next(iter(self.metrics.values())).keys()) if self.metrics else []

    def table(self) -> pd.DataFrame:
        """Tidy table: predictor, kind (model / baseline / floor), measure, value, low, high, n_resamples."""
        rows = [{"predictor": p, "kind": self.role(p), "measure": m, "value": e.value, "low": e.low, "high": e.high,
                 "n_resamples": e.n_resamples} for p, ms in self.metrics.items() for m, e in ms.items()]
        return pd.DataFrame(rows, columns=["predictor", "kind", "measure", "value", "low", "high", "n_resamples"])

    def comparison_table(self) -> pd.DataFrame:
        """model, baseline, measure, difference, low, high, p_not_better, excludes_zero."""
        rows = [{"model": a, "baseline": b, "measure": m, "difference": e.value, "low": e.low, "high": e.high,
                 "p_not_better": self.p_not_better[(a, b, m)], "excludes_zero": _excludes_zero(e)}
                for (a, b, m), e in self.comparisons.items()]
        return pd.DataFrame(rows, columns=["model", "baseline", "measure", "difference", "low", "high",
                                           "p_not_better", "excludes_zero"])

    def best_model(self, measure: str | None = None) -> str:
        """The model with the best pooled ``measure`` (default :attr:`primary_measure`; lower is better for
        log-loss and Brier; NaN counts as worst; ties: the first listed)."""
        measure = measure or self.primary_measure
        sign = -1.0 if measure in LOWER_IS_BETTER else 1.0
        vals = {m: sign * self.metrics[m][measure].value for m in self.models}
        vals = {m: (v if np.isfinite(v) else -np.inf) for m, v in vals.items()}
        return max(vals, key=vals.get)

    @abstractmethod
    def to_dict(self) -> dict:
        """Plain JSON-ready dict in the protocol's own format (NaN → None)."""

    def to_json(self, path: str | Path | None = None) -> str:
        """JSON text of the subclass's ``to_dict()`` (each protocol writes its own format) with the library
        ``versions`` that made it (what changes the last digits); also written (atomically) to ``path`` when given."""
        from .._version import versions

        text = json.dumps({**self.to_dict(), "versions": versions()}, indent=1)
        if path is not None:
            from ..io import atomic_write_text

            atomic_write_text(path, text)
        return text


@dataclass(kw_only=True)
class EvaluationResults(HeldOutResults):
    """Everything the held-out-generator protocol produced; JSON round-trippable.

    Attributes:
        predictions: DataFrame, one row per item: ``item`` (row index in the inputs),
            ``generator``, ``prompt`` (if given), ``y``, ``fold`` (held-out generator of the fold
            that predicted the item, = its generator), ``fold_index``, then one column per
            predictor (models, baselines, ``training_mean``) with its held-out score.
        metrics: {predictor: {measure: Estimate}} on pooled held-out predictions, measures
            :data:`judgenet.evaluation.DEFAULT_MEASURES` (or those asked for) plus ``system_kendall_tau_b``.
        per_generator: tidy DataFrame — generator, predictor, n, human_mean, predicted_mean,
            kendall_tau_b (+ _low/_high), spearman, pairwise_accuracy, within each generator.
        comparisons: {(model, baseline, measure): Estimate of model − baseline} (paired bootstrap).
        p_not_better: same keys; share of resamples where the model does not beat the baseline.
        models, baselines: predictor names (baselines include ``training_mean``).
        ceiling: the rater-ceiling dict passed in (or None).
        folds: one dict per fold — generator, fold_index, n_train, n_test, n_dropped_by_prompt,
            chosen_params {model: params} when nested selection ran.
        settings: protocol, seeds, resamples, bootstrap unit, measures, etc.
    """

    per_generator: pd.DataFrame

    # -- views ----------------------------------------------------------------------------------
    @property
    def system(self) -> dict:
        """{predictor: system-level Kendall tau-b of per-generator means}."""
        return {p: ms[SYSTEM_MEASURE].value for p, ms in self.metrics.items() if SYSTEM_MEASURE in ms}

    @property
    def chosen_params(self) -> dict:
        """{model: {fold name: chosen params}} (empty without nested selection)."""
        out: dict = {}
        for f in self.folds:
            for m, p in (f.get("chosen_params") or {}).items():
                out.setdefault(m, {})[f.get("name", f.get("generator"))] = p
        return out

    def ceiling_for(self, measure: str) -> tuple[float, float, float]:
        """(value, low, high) of the rater ceiling matching ``measure``; NaNs if none."""
        key = CEILING_KEYS.get(measure)
        c = self.ceiling or {}

        def num(k):
            v = c.get(k)
            return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else float("nan")

        if key is None:
            return float("nan"), float("nan"), float("nan")
        return num(key), num(f"{key}_low"), num(f"{key}_high")

    def table(self) -> pd.DataFrame:
        """Tidy table: predictor, kind (model/baseline/floor), measure, value, low, high,
        n_resamples, and the rater ceiling for that measure (ceiling, ceiling_low, ceiling_high;
        NaN where the labels package has no counterpart)."""
        rows = []
        for p, ms in self.metrics.items():
            kind = self.role(p)
            for m, e in ms.items():
                c, cl, ch = self.ceiling_for(m)
                rows.append({"predictor": p, "kind": kind, "measure": m, "value": e.value, "low": e.low,
                             "high": e.high, "n_resamples": e.n_resamples, "ceiling": c, "ceiling_low": cl,
                             "ceiling_high": ch})
        return pd.DataFrame(rows)

    # -- serialization --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain JSON-ready dict (NaN → None)."""
        return _clean({
            "format": "judgenet-evaluation/1",
            "predictions": self.predictions.to_dict(orient="list"),
            "metrics": {p: {m: e.to_dict() for m, e in ms.items()} for p, ms in self.metrics.items()},
            "per_generator": self.per_generator.to_dict(orient="records"),
            "comparisons": [{"model": a, "baseline": b, "measure": m, **e.to_dict(),
                             "p_not_better": self.p_not_better[(a, b, m)]}
                            for (a, b, m), e in self.comparisons.items()],
            "models": self.models, "baselines": self.baselines, "ceiling": self.ceiling,
            "folds": self.folds, "settings": self.settings,
        })

    @classmethod
    def from_dict(cls, d: Mapping) -> "EvaluationResults":
        comps, pnb = {}, {}
        for c in d["comparisons"]:
            key = (c["model"], c["baseline"], c["measure"])
            comps[key] = _est(c)
            pnb[key] = _f(c["p_not_better"])
        metrics = {p: {m: _est(e) for m, e in ms.items()} for p, ms in d["metrics"].items()}
        preds = pd.DataFrame(d["predictions"])
        for col in [*d["models"], *d["baselines"], "y"]:
            if col in preds:
                preds[col] = pd.to_numeric(preds[col], errors="coerce").astype(np.float64)
        per_gen = pd.DataFrame(d["per_generator"])
        for col in per_gen.columns:
            if col not in ("generator", "predictor"):
                per_gen[col] = pd.to_numeric(per_gen[col], errors="coerce")
        return cls(predictions=preds, metrics=metrics, per_generator=per_gen, comparisons=comps, p_not_better=pnb,
                   models=list(d["models"]), baselines=list(d["baselines"]), ceiling=d.get("ceiling"),
                   folds=list(d.get("folds", [])), settings=dict(d.get("settings", {})))

    @classmethod
    def from_json(cls, path: str | Path) -> "EvaluationResults":
        return cls.from_dict(json.loads(Path(path).read_text()))


@dataclass(kw_only=True)
class PairwiseResults(HeldOutResults):
    """Everything :func:`~judgenet.evaluation.pairwise.evaluate_pairs` produced.

    Attributes (the :class:`HeldOutResults` interface, on **all** test pairs):
        metrics: {predictor: {measure: Estimate}} — :data:`~judgenet.evaluation.pairwise.PAIR_MEASURES` and
            ``system_accuracy``.
        comparisons, p_not_better: {(model, baseline, measure): ...} of the paired bootstrap.
    Pairwise only:
        by_pairs: {pairs: {predictor: {measure: Estimate}}}, pairs in all / within / cross (within: both
            items from the held-out generator; cross: against another generator).
        comparisons_by_pairs, p_not_better_by_pairs: {(model, baseline, measure, pairs): ...}.
        predictions: one row per (fold, test pair): ``fold``, ``fold_index``, ``pair``, ``a``, ``b``,
            ``generator_a``, ``generator_b``, ``kind`` (within / cross), ``prompt``, ``preference``,
            ``n_votes``, then ``d:<predictor>`` (score difference s_a − s_b) and ``q:<predictor>``
            (predicted P(a ≻ b)).
        models, baselines: names. ceiling: :func:`~judgenet.evaluation.pairs.pairwise_rater_ceiling` dict (or None).
        folds: one dict per fold (held-out generator, pair counts, chosen params, beta per baseline).
        settings: split, tie policy, resamples, notes, skipped folds.
    """

    by_pairs: dict = field(default_factory=dict)
    comparisons_by_pairs: dict = field(default_factory=dict)
    p_not_better_by_pairs: dict = field(default_factory=dict)

    primary_measure: ClassVar[str] = "accuracy"

    @classmethod
    def from_pairs(cls, *, by_pairs: dict, comparisons_by_pairs: dict, p_not_better_by_pairs: dict,
                   **kw) -> "PairwiseResults":
        """The results with the interface's ``metrics``/``comparisons``/``p_not_better`` taken from all pairs."""
        return cls(metrics=by_pairs.get("all", {}),
                   comparisons={k[:3]: e for k, e in comparisons_by_pairs.items() if k[3] == "all"},
                   p_not_better={k[:3]: v for k, v in p_not_better_by_pairs.items() if k[3] == "all"},
                   by_pairs=by_pairs, comparisons_by_pairs=comparisons_by_pairs,
                   p_not_better_by_pairs=p_not_better_by_pairs, **kw)

    def table(self) -> pd.DataFrame:
        """The interface's table (predictor, kind, measure, value, low, high, n_resamples) with one more column,
        ``pairs`` (all / within / cross): every subset of test pairs."""
        rows = [{"pairs": k, "predictor": p, "kind": self.role(p), "measure": m, "value": e.value, "low": e.low,
                 "high": e.high, "n_resamples": e.n_resamples}
                for k, bp in self.by_pairs.items() for p, ms in bp.items() for m, e in ms.items()]
        return pd.DataFrame(rows, columns=["pairs", "predictor", "kind", "measure", "value", "low", "high",
                                           "n_resamples"])

    def comparison_table(self) -> pd.DataFrame:
        """The interface's comparison table with one more column, ``pairs`` (all / within / cross)."""
        rows = [{"pairs": k, "model": a, "baseline": b, "measure": m, "difference": e.value, "low": e.low,
                 "high": e.high, "p_not_better": self.p_not_better_by_pairs[(a, b, m, k)],
                 "excludes_zero": _excludes_zero(e)}
                for (a, b, m, k), e in self.comparisons_by_pairs.items()]
        return pd.DataFrame(rows, columns=["pairs", "model", "baseline", "measure", "difference", "low", "high",
                                           "p_not_better", "excludes_zero"])

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (NaN → None): ``metrics`` per subset of pairs, comparisons with their ``pairs``."""
        return _clean({
            "format": "judgenet-pairwise-evaluation/2",
            "predictions": self.predictions.to_dict(orient="list"),
            "metrics": {p: {m: e.to_dict() for m, e in ms.items()} for p, ms in self.metrics.items()},
            "metrics_by_pairs": {k: {p: {m: e.to_dict() for m, e in ms.items()} for p, ms in bp.items()}
                                 for k, bp in self.by_pairs.items()},
            "comparisons": [{"model": a, "baseline": b, "measure": m, "pairs": k, **e.to_dict(),
                             "p_not_better": self.p_not_better_by_pairs[(a, b, m, k)]}
                            for (a, b, m, k), e in self.comparisons_by_pairs.items()],
            "models": self.models, "baselines": self.baselines,
            "ceiling": None if self.ceiling is None else {k: (v.to_dict() if isinstance(v, Estimate) else v)
                                                          for k, v in self.ceiling.items()},
            "folds": self.folds, "settings": self.settings})

    @classmethod
    def from_dict(cls, d: Mapping) -> "PairwiseResults":
        """Inverse of :meth:`to_dict` (Estimates restored; the ceiling stays a dict of plain values)."""
        if d.get("format") != "judgenet-pairwise-evaluation/2":
            raise ValueError(f"not a judgenet pairwise evaluation (format {d.get('format')!r})")
        by_pairs = {k: {p: {m: _est(e) for m, e in ms.items()} for p, ms in bp.items()}
                    for k, bp in d["metrics_by_pairs"].items()}
        comps = {(c["model"], c["baseline"], c["measure"], c["pairs"]): _est(c) for c in d["comparisons"]}
        pnb = {(c["model"], c["baseline"], c["measure"], c["pairs"]): _f(c["p_not_better"]) for c in d["comparisons"]}
        return cls.from_pairs(by_pairs=by_pairs, comparisons_by_pairs=comps, p_not_better_by_pairs=pnb,
                              predictions=pd.DataFrame(d["predictions"]), models=list(d["models"]),
                              baselines=list(d["baselines"]), ceiling=d.get("ceiling"),
                              folds=list(d.get("folds", [])), settings=dict(d.get("settings", {})))

    def markdown(self, measures: Sequence[str] = ("accuracy", "log_loss", "vote_agreement")) -> str:
        """A markdown section: measures per subset of pairs, comparisons on accuracy, the rater ceiling."""
        lines = [f"Held-out protocol for pairs: split={self.settings.get('split')}, human ties "
                 f"{self.settings.get('tie_policy')}d" if self.settings.get('tie_policy') == "exclude" else
                 f"Held-out protocol for pairs: split={self.settings.get('split')}, human ties count 0.5", ""]
        head = "| kind | predictor | " + " | ".join(measures) + " |"
        lines += [head, "|" + "---|" * (len(measures) + 2)]
        for kind, bp in self.by_pairs.items():
            for p, ms in bp.items():
                cells = [str(ms[m]) if m in ms else "" for m in measures]
                lines.append(f"| {kind} | {p} | " + " | ".join(cells) + " |")
        if self.ceiling:
            c = self.ceiling
            lines += ["", f"Rater ceiling: rater vs majority of the others {c['rater_vs_majority']}; two raters "
                          f"agree {c['rater_pair_agreement']} ({c['n_judgments']} judgments)."]
        ct = self.comparison_table()
        if len(ct):
            sub = ct[(ct["measure"] == "accuracy") & ct["pairs"].isin(["all", "cross"])]
            lines += ["", "| model − baseline (accuracy) | kind | difference [95% CI] | p(not better) |",
                      "|---|---|---|---|"]
            for r in sub.itertuples():
                lines.append(f"| {r.model} − {r.baseline} | {r.pairs} | {r.difference:+.3f} [{r.low:+.3f}, "
                             f"{r.high:+.3f}] | {r.p_not_better:.3f} |")
        return "\n".join(lines)
