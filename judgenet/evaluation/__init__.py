"""judgenet.evaluation — the held-out protocol, baselines and reports.

* :func:`make_folds` — the one fold maker: ``split="generator"`` (leave one generator out),
  ``"prompt"`` (leave one prompt fold out) or ``"crossed"`` (held-out generator x held-out prompt
  fold), used by :func:`evaluate` for the outer folds and for nested selection, and by tuning.
* :func:`evaluate` — out-of-fold predictions of models and raw-metric baselines, bootstrap CIs
  → :class:`EvaluationResults`; comparative labels: :func:`judgenet.evaluation.pairwise.evaluate_pairs` →
  :class:`PairwiseResults`. Both honour one interface (:mod:`.results`: ``metrics``, ``comparisons``,
  ``table()``, ``comparison_table()``, ``best_model()``, ``to_dict()``, ``to_json()``).
* :mod:`.verdict` — the chosen model against the best raw baseline, and the one-line summary.
* :func:`write_report` / :func:`load_results` — report directory (md, html, json, PNGs) and its
  reload; :func:`conclusion_sentence` — the one-sentence verdict a report opens with.
"""
from .protocol import (CEILING_KEYS, COMPARE_MEASURES, DEFAULT_BASELINES, DEFAULT_MEASURES, FLOOR, SPLITS,
                       SYSTEM_MEASURE, WITHIN_MEASURE, EvaluationResults, Fold, evaluate, make_folds, prompt_fold_ids,
                       resolve_baselines)
from .report import conclusion_sentence, load_results, write_report
from .results import HeldOutResults, PairwiseResults

__all__ = ["evaluate", "EvaluationResults", "HeldOutResults", "PairwiseResults", "make_folds", "Fold",
           "prompt_fold_ids", "SPLITS", "resolve_baselines", "DEFAULT_MEASURES", "COMPARE_MEASURES", "DEFAULT_BASELINES", "CEILING_KEYS", "FLOOR", "SYSTEM_MEASURE",
           "WITHIN_MEASURE", "write_report", "load_results", "conclusion_sentence"]
