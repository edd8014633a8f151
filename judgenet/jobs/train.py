"""The modelling steps of the jobs: held-out evaluation of model recipes on prepared data (per-item labels through
the evaluation cache, comparative labels through the pairwise protocol), the best model, its report, the
label-efficiency curve, and fitting + saving a predictor (with conformal calibration for per-item labels).

Used by :mod:`judgenet.api` (``train``, ``evaluate``, ``tune``) and :mod:`judgenet.jobs.demo`.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import pandas as pd

from ..errors import ConfigError

__all__ = ["DEFAULT_MODELS", "DEFAULT_PAIRWISE_MODELS", "held_out", "write_results", "label_efficiency_report",
           "fit_and_save", "write_failures", "evaluate_recipes", "check_kind", "check_model", "raw_recipe"]

log = logging.getLogger(__name__)

DEFAULT_MODELS = ("ridge", "hist_gb", "mlp")
#: Candidates of ``model="auto"`` and the default recipes of ``evaluate`` for comparative (pairwise) labels.
DEFAULT_PAIRWISE_MODELS = ("bradley_terry", "pairwise_gb", "pairwise_mlp")


def write_failures(root: Path, failures: Sequence) -> None:
    """``failures.csv`` (path, reason) of the skipped inputs, when there are any."""
    from ..io import atomic_write_text

    if failures:
        df = pd.DataFrame([{"path": str(f.path), "reason": f.reason} for f in failures])
        atomic_write_text(root / "failures.csv", df.to_csv(index=False))
        log.warning("%d unreadable image(s) skipped; listed in %s", len(failures), root / "failures.csv")


def evaluate_recipes(prep, models: dict, *, split: str, prompt_folds: int, resamples: int, seed: int,
                      n_jobs: int | None = 1, cache_dir=None):
    """Held-out evaluation of ``models`` ({name: estimator}) on prepared data, through the evaluation cache."""
    from ..evaluation.cache import cached_evaluate

    fm = prep.features
    return cached_evaluate(fm.X, prep.y, prep.generators, fm.names, models, cache_dir=cache_dir,
                           prompts=prep.prompts, ceiling=prep.ceiling, split=split, prompt_folds=prompt_folds,
                           resamples=resamples, seed=seed, n_jobs=n_jobs)


def check_kind(prep, recipes: dict) -> None:
    want = "pairwise" if prep.is_pairwise else "pointwise"
    bad = [m for m, r in recipes.items() if r.kind != want]
    if bad:
        other = DEFAULT_PAIRWISE_MODELS if prep.is_pairwise else DEFAULT_MODELS
        raise ConfigError(f"{prep.labels.name} has {'comparative (pairwise)' if prep.is_pairwise else 'per-item'} "
                          f"labels but model(s) {', '.join(bad)} are {'pointwise' if prep.is_pairwise else 'pairwise'}"
                          f"; choose e.g. {', '.join(other)}")


def held_out(prep, recipes: dict, *, split: str, prompt_folds: int, resamples: int, seed: int, cache_dir=None):
    """Held-out results of ``recipes`` ({name: Recipe}) on prepared data: per-item labels through the evaluation
    cache, comparative labels through the pairwise protocol. Each model reads its recipe's columns; the baselines
    (raw MID, CLIPScore, Mahalanobis) see the full matrix."""
    from ..predictors.recipes import column_pipeline

    check_kind(prep, recipes)
    n_cols = len(prep.features.names)
    models = {}
    for m, r in recipes.items():
        cols = r.columns(prep.features)
        est = r.build(random_state=seed, feature_names=[prep.features.names[i] for i in cols])
        models[m] = est if len(cols) == n_cols else column_pipeline(cols, est)
    if not prep.is_pairwise:
        return evaluate_recipes(prep, models, split=split, prompt_folds=prompt_folds, resamples=resamples,
                                 seed=seed, cache_dir=cache_dir)
    from ..evaluation.pairwise import evaluate_pairs

    fm = prep.features
    return evaluate_pairs(fm.X, prep.pairs, prep.generators, fm.names, models, prompts=prep.prompts, split=split,
                          n_prompt_folds=prompt_folds, n_resamples=resamples, seed=seed,
                          lenient=bool(prep.failures))


def raw_recipe(prep, baseline: str):
    """The recipe of a predictor that *is* the raw baseline ``baseline`` (a baseline label: a feature column,
    ``-name`` negated) on all columns: family ``raw`` (per-item labels) or ``raw_pairwise`` (its utility)."""
    from ..predictors.recipes import Recipe

    names = list(prep.features.names)
    return Recipe("raw_pairwise" if prep.is_pairwise else "raw",
                  {"column": names.index(baseline.lstrip("-")), "sign": -1.0 if baseline.startswith("-") else 1.0})


def check_model(prep, res, model: str, recipe, *, keep_baseline: bool):
    """Check ``model`` of the held-out results ``res`` against the best raw baseline on the same folds
    (:func:`~judgenet.evaluation.verdict.check_against_baselines`). When it fails, one loud line
    (``logging.warning``) says so; with ``keep_baseline`` (``train --model auto``) the raw baseline becomes the saved
    predictor (:func:`raw_recipe`).

    Returns ``(name, recipe, check, report section)``: the name and recipe to save."""
    from ..evaluation.verdict import check_against_baselines

    check = check_against_baselines(res, model)
    kept = None
    if not check.passed:
        line = check.warning()
        if keep_baseline and check.baseline is not None:
            recipe = raw_recipe(prep, check.baseline)
            kept = (f"**Saved predictor: raw `{check.baseline}`** (family `{recipe.family}`: the feature itself), not "
                    f"`{model}` — with `--model auto` the raw baseline is kept when no learned candidate beats it "
                    "on the held-out folds.")
            log.warning("%s; --model auto keeps raw %s as the saved predictor", line, check.baseline)
            return recipe.family, recipe, check, check.markdown(kept)
        if keep_baseline:
            kept = f"Saved predictor: `{model}` all the same — no raw baseline was scored to keep instead."
            line += "; saved all the same (no raw baseline to keep)"
        log.warning("%s", line)
    return model, recipe, check, check.markdown(kept)


def write_results(prep, res, out: Path, title: str, check: str | None = None) -> None:
    """The report of held-out results (pairwise results: markdown + pairwise_results.json); ``check``: the
    markdown section of :func:`check_model` (placed first)."""
    from ..evaluation import write_report
    from ..io import atomic_write_text

    notes = "\n".join(f"- **Note: {n}**" for n in prep.notes)
    if not prep.is_pairwise:
        lead = [("Is the model better than the raw features?", check.split("\n", 2)[2])] if check else None
        write_report(res, out, title=title, extra_sections=[("Notes", notes)] if notes else None, lead_sections=lead)
        return
    tail = f"\n## Notes\n\n{notes}\n" if notes else ""
    atomic_write_text(out / "report.md", f"# {title}\n\n{check + chr(10) if check else ''}{res.markdown()}\n{tail}")
    atomic_write_text(out / "pairwise_results.json", res.to_json())


def label_efficiency_report(prep, recipes: dict, budget, root: Path, *, split, prompt_folds, resamples, seed) -> None:
    """Label-efficiency curve of the first recipe (``evaluate --budget``)."""
    from ..evaluation.efficiency import label_efficiency
    from ..io import atomic_write_text

    if prep.is_pairwise:
        raise ConfigError("--budget is available for per-item labels only (pairwise budgets: see the demo's "
                          "side-by-side section)")
    if prep.prompts is None:
        raise ConfigError("--budget samples training judgments by prompt clusters: the label file needs a prompt "
                          "column")
    name, recipe = next(iter(recipes.items()))
    fm = prep.features
    cols = recipe.columns(fm)
    from ..predictors.recipes import column_pipeline

    est = recipe.build(random_state=seed, feature_names=[fm.names[i] for i in cols])
    est = est if len(cols) == len(fm.names) else column_pipeline(cols, est)
    f = prep.labels.frame
    per_item = f[f["question"].astype(str) == prep.question].groupby("item_id").size().median()
    curve = label_efficiency(fm.X, prep.y, prep.generators, fm.names, est, prompts=prep.prompts,
                             budgets=sorted(int(b) for b in budget), judgments_per_item=max(1, int(per_item)),
                             split=split, n_prompt_folds=prompt_folds, ceiling=prep.ceiling,
                             n_resamples=min(resamples, 500), seed=seed)
    curve.plot(root / "efficiency.png")
    atomic_write_text(root / "efficiency.md", f"# Label efficiency — {name}\n\n{curve.to_markdown()}\n")
    log.info("%s", curve.to_markdown())


def fit_and_save(prep, recipe, out: Path, *, seed: int, cv_results=None, extra=None, split: str = "generator",
                  prompt_folds: int = 5, calibrate: bool = True) -> Path:
    """Fit ``recipe`` on all prepared items and save the predictor artifact (model, recipe, fitted reference).

    Per-item predictors are fitted through :class:`~judgenet.evaluation.conformal.ConformalPredictor`: besides the
    model on all items, one model per held-out fold of ``split`` gives the residuals that calibrate prediction
    intervals on generators the model has not seen; they are stored in ``meta.json`` (``extra.conformal``) and
    ``score`` turns them into ``pred_low``/``pred_high`` columns. A family that predicts in other units than the
    labels (``Family.label_units`` False, e.g. ``anchored`` in raw-MID units) is calibrated with ``rescale``: the
    calibration stores the line that maps its predictions to the label scale, and the intervals are on that scale
    (the saved model still predicts in its own units). Pairwise (utility) predictors are calibrated on
    win rates over the same held-out generators (:func:`~judgenet.evaluation.conformal_pairs.calibrate_win_rates`,
    ``extra.conformal_pairs``): ``score`` gives ``p_win`` intervals."""
    from ..predictors import save_predictor

    cols = recipe.columns(prep.features)
    X = prep.features.X[:, cols]
    extra = {"backbones": list(prep.backbones), **({"notes": list(prep.notes)} if prep.notes else {}), **(extra or {})}
    names = [prep.features.names[i] for i in cols]
    if not calibrate:
        from ..predictors.anchored import fit_routed

        model = fit_routed(recipe.build(random_state=seed, feature_names=names), X, prep.target,
                           generators=prep.generators, prompts=prep.prompts)
    elif prep.is_pairwise:
        model = recipe.build(random_state=seed).fit(X, prep.target)
        cal = _win_rate_calibration(prep, recipe, X, seed=seed)
        if cal is not None:
            extra["conformal_pairs"] = cal
    else:
        from ..evaluation.conformal import ConformalPredictor
        from ..predictors.recipes import get_family

        cal_split = split if split in ("generator", "crossed") and (split == "generator" or prep.prompts is not None) \
            else "generator"
        cp = ConformalPredictor(recipe.build(random_state=seed, feature_names=names), coverage=0.9, split=cal_split,
                                n_prompt_folds=prompt_folds, random_state=seed,
                                rescale=not get_family(recipe.family).label_units)
        cp.fit(X, prep.y, prep.generators, prep.prompts)
        model = cp.estimator_
        extra["conformal"] = cp.calibration_dict()
    save_predictor(model, out, recipe=recipe, feature_names=[prep.features.names[i] for i in cols],
                   builder=prep.builder, label_set=prep.labels.name, question=prep.question,
                   cv_results=cv_results, extra=extra)
    return out


def _win_rate_calibration(prep, recipe, X, *, seed: int) -> dict | None:
    """Win-rate calibration dict of a pairwise recipe on held-out generators, or None (with a notice) when the
    comparisons span fewer than 3 generators."""
    from ..evaluation.conformal_pairs import calibrate_win_rates, win_rate_dict

    try:
        cal = calibrate_win_rates(recipe.build(random_state=seed), X, prep.target, prep.generators, coverage=0.9)
    except ConfigError as e:
        log.warning("no preference-probability intervals for this predictor: %s", e)
        return None
    return win_rate_dict(cal)
