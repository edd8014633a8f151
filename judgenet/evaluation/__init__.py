"""judgenet.evaluation — the held-out-generator protocol, baselines and reports."""
from .protocol import DEFAULT_MEASURES, EvaluationResults, evaluate, logo_folds
from .report import load_results, write_report

__all__ = ["evaluate", "EvaluationResults", "logo_folds", "DEFAULT_MEASURES", "write_report", "load_results"]
