"""judgenet.evaluation — the held-out-generator protocol, baselines and reports.

* :func:`evaluate` — leave-one-generator-out CV (optionally prompt-grouped, nested when a grid is
  given) → :class:`EvaluationResults` (``table()``, ``comparison_table()``, ``to_dict()``, ``to_json()``).
* :func:`logo_folds`, :func:`inner_splits` — the outer and inner splits, for inspection.
* :func:`write_report` / :func:`load_results` — report directory (md, html, json, PNGs) and its reload.
"""
from .protocol import (CEILING_KEYS, COMPARE_MEASURES, DEFAULT_BASELINES, DEFAULT_MEASURES, FLOOR, SYSTEM_MEASURE,
                       EvaluationResults, evaluate, inner_splits, logo_folds, resolve_baselines)
from .report import load_results, write_report

__all__ = ["evaluate", "EvaluationResults", "logo_folds", "inner_splits", "resolve_baselines", "DEFAULT_MEASURES",
           "COMPARE_MEASURES", "DEFAULT_BASELINES", "CEILING_KEYS", "FLOOR", "SYSTEM_MEASURE", "write_report",
           "load_results"]
