"""The result dataclasses the user jobs of :mod:`judgenet.api` return: the paths and tables each job produced;
``.to_json()`` is what the command's ``--json`` prints. (``ScoreResult`` lives beside the job that makes it,
:mod:`judgenet.jobs.score`.)"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["DemoResult", "ExtractResult", "TrainResult", "EvaluateResult", "TuneResult", "ReportResult", "SelectResult", "BenchmarkJobResult"]


@dataclass
class DemoResult:
    """What :func:`demo` produced: run directory, summary table (one row per question and split), per-split and
    per-question results (``results[split][question]``), timings (s)."""

    run_dir: Path
    summary: pd.DataFrame
    results: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"run_dir": str(self.run_dir), "summary": self.summary.to_dict(orient="records"),
                "timings": self.timings}

    def __str__(self) -> str:
        return f"{self.summary.to_string(index=False)}\n\nreport: {self.run_dir / 'report.md'}"


@dataclass
class ExtractResult:
    """What :func:`extract` did: images seen, cache folder, per backbone ``{fingerprint, computed, cached,
    failures}``."""

    n_images: int
    cache: Path
    backbones: dict

    def to_json(self) -> dict:
        return {"n_images": self.n_images, "cache": str(self.cache), "backbones": self.backbones}


@dataclass
class TrainResult:
    """The saved predictor directory, the chosen recipe, the held-out results of the candidates, skipped files."""

    predictor: Path
    recipe: object
    results: object
    failures: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {"predictor": str(self.predictor), "recipe": self.recipe.to_dict(),
                "results": self.results.table().to_dict(orient="records"), "n_skipped": len(self.failures)}


@dataclass
class EvaluateResult:
    """The report directory and the evaluation results (:class:`judgenet.evaluation.EvaluationResults`)."""

    out: Path
    results: object
    failures: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {"out": str(self.out), "results": self.results.table().to_dict(orient="records"),
                "n_skipped": len(self.failures)}


@dataclass
class TuneResult:
    """The Optuna study, the refitted best predictor and its recipe."""

    out: Path
    study: object
    predictor: Path
    recipe: object

    def to_json(self) -> dict:
        states = [t.state.name for t in self.study.get_trials(deepcopy=False)]
        return {"best_value": self.study.best_value, "best_trial": self.study.best_trial.number,
                "predictor": str(self.predictor), "recipe": self.recipe.to_dict(),
                "n_trials": states.count("COMPLETE") + states.count("PRUNED"), "n_pruned": states.count("PRUNED"),
                "n_failed": states.count("FAIL")}


@dataclass
class ReportResult:
    """The rebuilt report files."""

    reports: list

    def to_json(self) -> dict:
        return {"reports": [str(p) for p in self.reports]}


@dataclass
class SelectResult:
    """The chosen items (or pairs), most useful first, and the CSV they were written to."""

    out: Path | None
    selection: pd.DataFrame

    def to_json(self) -> dict:
        return {"out": str(self.out) if self.out else None, "n_selected": int(len(self.selection)),
                "notes": list(self.selection.attrs.get("notes", []))}


@dataclass
class BenchmarkJobResult:
    """The benchmark's rows (:class:`~judgenet.captions.benchmark.BenchmarkResult`) and the report files written."""

    result: object
    files: dict

    def to_json(self) -> dict:
        return {**self.result.to_dict(), "files": self.files}
