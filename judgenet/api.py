"""The user jobs — ``demo``, ``extract``, ``train``, ``evaluate``, ``score``, ``tune``, ``report`` — as Python
functions. Parameter names are the CLI's option names (``--prompt-folds`` → ``prompt_folds``; repeatable options
are plural: ``--backbone`` → ``backbones``, ``evaluate --model`` → ``models``); every job returns one small result
dataclass with the paths and tables it produced (``.to_json()`` is what ``--json`` prints).

This module only wires named steps together; each step lives in its own module:
:mod:`judgenet.jobs.inputs` (files and folders), :mod:`judgenet.backbones` / :mod:`judgenet.embeddings` (embedding and
cache), :mod:`judgenet.jobs.prepare` (reference fitting, label-set preparation), :mod:`judgenet.features` (features),
:mod:`judgenet.predictors` (recipes, artifacts), :mod:`judgenet.evaluation` (held-out protocol, cache, reports),
:mod:`judgenet.jobs.score` (per-generator tables), :mod:`judgenet.tuning` (Optuna).

Progress and results are reported through :mod:`logging` (logger ``judgenet``; the CLI configures it, ``--quiet``
shows warnings only). In Python, ``logging.basicConfig(level=logging.INFO)`` shows the same messages.
"""
from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Sequence


from . import config as _config
from .errors import ConfigError
from .jobs.results import (BenchmarkJobResult, DemoResult, EvaluateResult, ExtractResult, ReportResult,
                           SelectResult, TrainResult, TuneResult)
from .jobs.score import ScoreResult  # noqa: F401  (defined beside the job that makes it)
from .jobs.train import (DEFAULT_MODELS, DEFAULT_PAIRWISE_MODELS, check_model, fit_and_save, held_out,
                       label_efficiency_report, write_failures, write_results)

__all__ = ["demo", "extract", "train", "evaluate", "score", "tune", "report", "select", "benchmark", "load_predictor",
           "DemoResult", "ExtractResult", "TrainResult", "EvaluateResult", "ScoreResult", "TuneResult", "ReportResult",
           "SelectResult", "BenchmarkJobResult"]

log = logging.getLogger(__name__)


# =============================================================================================
# small wiring helpers
# =============================================================================================
@contextlib.contextmanager
def _output(out, prefix: str, overwrite: bool, *, job: dict | None = None, inputs=(), keep=()):
    """The output folder of a job (:func:`judgenet.jobs.inputs.open_run`): locked while the job writes, marked
    unfinished until it ends (the identical rerun resumes into it), refused inside an input folder; what a failed or
    interrupted job wrote is removed (except ``keep``), a folder it made and left empty too."""
    from .jobs.inputs import open_run

    with open_run(out, prefix, overwrite, job=job, inputs=inputs, keep=keep) as root:
        yield root


def _job(command: str, params: dict) -> dict:
    """What identifies a run for resuming: the command and its options (``out``/``overwrite`` aside; ``params`` is
    the job's ``locals()``, whose imported names are left out)."""
    from .io import to_jsonable

    opts = {k: v for k, v in params.items()
            if k not in ("out", "overwrite") and not callable(v) and not hasattr(v, "__path__")
            and type(v).__name__ != "module"}
    return {"command": command, "options": to_jsonable(opts)}


def _prepare_options(params: dict) -> dict:
    """The arguments of a job (its ``locals()``) that :func:`judgenet.jobs.prepare.prepare` takes, under its names."""
    import inspect

    from .jobs.prepare import prepare

    names = inspect.signature(prepare).parameters
    out = {k: v for k, v in params.items() if k in names and k != "labels"}
    out["seed"] = params["random_state"]
    return out


def _label_inputs(reference, images) -> list:
    return [("reference folder", reference), ("--images folder", images)]


# =============================================================================================
# the jobs
# =============================================================================================
def demo(out: str | os.PathLike | None = None, *, fast: bool = False, random_state: int = 0, cache_dir=None,
         overwrite: bool = False, n_jobs: int | None = None, inception: bool = False,
         world: str | None = None) -> DemoResult:
    """Run the whole pipeline offline on the built-in **simulated** world and tiny encoder.

    Generates (or reuses) the world and its simulated ratings, embeds it with the ``tiny`` backbone, fits the
    real-image reference, evaluates predictors on held-out generators against raw MID, CLIPScore and Mahalanobis
    distance on both splits (a new generator on labelled prompts; a new generator on new prompts), saves a
    predictor per question (chosen on the new-prompts split) and writes the report. ``fast`` is the small variant
    used in tests; ``inception`` adds the genuine FID-Inception's pool features (needs ``judgenet[real]``);
    ``world`` picks the simulated world's version (default ``v2``, prompt difficulty; ``v1`` reproduces older
    tables).
    """
    from .jobs.demo import run_demo

    with _output(out, "demo", overwrite, job=_job("demo", locals())) as root:
        summary, results, timings = run_demo(root, fast=fast, seed=random_state, cache_dir=cache_dir, n_jobs=n_jobs,
                                             inception=inception, world=world)
        return DemoResult(root, summary, results, timings)


def extract(images: Sequence[str | os.PathLike], *, backbones: Sequence[str] | None = None, prompts=None,
            cache_dir=None, weights_dir=None, clip_checkpoint=None, inception_weights=None, quick_gelu=None,
            resize=None, text_model=None, device: str = "cpu",
            batch_size: int = 64, workers: int | None = None, strict: bool = False) -> ExtractResult:
    """Embed image files/folders (and their prompts, from an ``image,prompt`` file) into the cache.

    ``backbones`` defaults to the backbones ``score``/``train`` use for user images
    (:func:`judgenet.jobs.prepare.default_backbones`), so extracting first warms the cache they read.
    ``device``: ``cpu`` (default), ``cuda``, ``cuda:N``, ``mps`` or ``auto``."""
    from .backbones import load_backbones
    from .jobs.prepare import default_backbones
    from .embeddings import extract as _extract
    from .jobs.inputs import image_folder, prompts_for, read_prompts

    files: list[Path] = []
    unlinked: list = []  # image-named links that cannot be followed: listed with every backbone's failures
    texts: list[str] | None = [] if prompts is not None else None
    table = read_prompts(prompts) if prompts is not None else None
    for item in images:
        p = Path(item)
        if p.is_dir():
            fs = image_folder(p, strict=strict)
            unlinked += fs.skipped
        elif p.is_file():
            fs = [p]
            p = p.parent
        else:
            raise ConfigError(f"{p} is neither an image file nor a folder")
        files += fs
        if table is not None:
            texts += prompts_for(fs, p, table)
    bbs = load_backbones(list(backbones or default_backbones()), weights_dir=weights_dir,
                         clip_checkpoint=clip_checkpoint, inception_weights=inception_weights, quick_gelu=quick_gelu,
                         resize=resize, text_model=text_model, device=device)
    summary = {}
    progress = logging.getLogger("judgenet").isEnabledFor(logging.INFO)
    for bb in bbs:
        res = _extract([str(f) for f in files], bb, cache_dir=cache_dir,
                       prompts=texts if (texts is not None and bb.has_text) else None, batch_size=batch_size,
                       num_workers=workers, strict=strict, progress=progress)
        summary[bb.name] = {"fingerprint": bb.fingerprint_hash, "computed": res.n_computed, "cached": res.n_cached,
                            "failures": [{"path": str(f.path), "reason": f.reason}
                                         for f in [*unlinked, *res.failures]]}
        log.info("%s: %d images — %d computed, %d from cache, %d unreadable", bb.name, len(files), res.n_computed,
                 res.n_cached, len(unlinked) + len(res.failures))
        for f in res.failures:
            log.warning("  skipped %s: %s", f.path, f.reason)
    return ExtractResult(len(files), _config.cache_dir(cache_dir), summary)


def train(labels, *, images=None, reference=None, out=None, model: str = "auto", question=None,
          backbones: Sequence[str] | None = None, overwrite: bool = False, n_resamples: int = 1000,
          random_state: int = 0, split: str = "generator", n_prompt_folds: int = 5, label_root=None, reference_prompts=None, group_by: str = "generator", lenient: bool = False,
          strict: bool = False, allow_outside_images: bool = False, cache_dir=None, weights_dir=None,
          clip_checkpoint=None, inception_weights=None, quick_gelu=None, resize=None, text_model=None,
          device: str = "cpu", batch_size: int = 64, mid_eps: float = 0.0, mid_shrinkage: str | None = None,
          feature_groups: Sequence[str] | None = None) -> TrainResult:
    """Fit a predictor on a label set and save it as an artifact directory.

    ``model="auto"`` evaluates ridge, hist_gb and mlp on held-out units (``split``) and keeps the best by Kendall
    tau-b (the CV results are stored in the artifact; they are optimistic for the chosen model — use
    :func:`evaluate` for the nested estimate). The chosen model is then compared with the best raw baseline (raw
    MID, CLIPScore, Mahalanobis) on the same held-out folds (:mod:`judgenet.evaluation.verdict`): when it is not
    better (paired-bootstrap CI) or not above chance, one warning line and the report say so, and with
    ``model="auto"`` the raw baseline itself is saved (family ``raw``). The label-set and embedding options
    (``label_root`` … ``feature_groups``) are :func:`judgenet.jobs.prepare.prepare`'s, documented there.
    """
    from .evaluation.verdict import summary_text
    from .jobs.prepare import prepare, training_record
    from .predictors.recipes import Recipe

    with _output(out, "predictor", overwrite, job=_job("train", locals()),
                 inputs=_label_inputs(reference, images)) as root:
        prep = prepare(labels, **_prepare_options(locals()))
        auto = DEFAULT_PAIRWISE_MODELS if prep.is_pairwise else DEFAULT_MODELS
        candidates = auto if model == "auto" else (model,)
        recipes = {m: Recipe(m, feature_groups=tuple(prep.features.groups)) for m in candidates}
        res = held_out(prep, recipes, split=split, prompt_folds=n_prompt_folds, resamples=n_resamples,
                       seed=random_state, cache_dir=cache_dir)
        evaluated = res.best_model() if model == "auto" else model
        best, recipe, check, section = check_model(prep, res, evaluated, recipes[evaluated],
                                                   keep_baseline=model == "auto")
        fit_and_save(prep, recipe, root, seed=random_state, cv_results=res.to_dict(), split=split,
                      prompt_folds=n_prompt_folds,
                      extra={"split": split, "labels": "pairwise" if prep.is_pairwise else "per-item",
                             "baseline_check": check.to_dict(), **training_record(prep)})
        (root / "report").mkdir(exist_ok=True)
        write_results(prep, res, root / "report", f"judgenet train — {prep.labels.name} / {prep.question}",
                      check=section)
        write_failures(root, prep.failures)
        log.info("%s\npredictor (%s) saved to %s", summary_text(res, prep.question, split, evaluated,
                                                                report=root / "report" / "report.md"), best, root)
        return TrainResult(root, recipe, res, prep.failures)


def evaluate(labels, *, images=None, reference=None, out=None, models: Sequence[str] | None = None, predictor=None,
             question=None, backbones: Sequence[str] | None = None, overwrite: bool = False, n_resamples: int = 1000,
             random_state: int = 0, split: str = "generator", n_prompt_folds: int = 5,
             budget: Sequence[int] | None = None, label_root=None, reference_prompts=None, group_by: str = "generator", lenient: bool = False,
             strict: bool = False, allow_outside_images: bool = False, cache_dir=None, weights_dir=None,
             clip_checkpoint=None, inception_weights=None, quick_gelu=None, resize=None, text_model=None,
             device: str = "cpu", batch_size: int = 64, mid_eps: float = 0.0, mid_shrinkage: str | None = None,
             feature_groups: Sequence[str] | None = None) -> EvaluateResult:
    """Held-out evaluation (``split``) of model recipes — or of the recipe saved in a predictor artifact, rebuilt
    exactly from its ``meta.json`` (family, tuned parameters, PCA, scaler, feature groups; the model file is never
    unpickled) — against raw MID, CLIPScore and Mahalanobis baselines; writes the report.

    ``budget`` (numbers of human judgments, e.g. ``[50, 100, 200, 400]``) adds a label-efficiency curve of the first
    recipe: held-out agreement vs judgments used for training (sampled by prompt clusters, repeated), with raw MID
    and CLIPScore as baselines (``efficiency.md``, ``efficiency.png``). The label-set and embedding options are
    :func:`judgenet.jobs.prepare.prepare`'s."""
    from .evaluation.verdict import summary_text
    from .jobs.prepare import prepare
    from .predictors.recipes import Recipe

    job = _job("evaluate", locals())
    recipes = {}
    if predictor is not None:
        if models:
            raise ConfigError("give either --predictor (evaluate its saved recipe) or --model, not both")
        recipe, meta = Recipe.from_predictor_dir(predictor, with_meta=True)
        recipes[recipe.family] = recipe
        question = question or meta.get("question")
        backbones = backbones or meta.get("extra", {}).get("backbones")
    with _output(out, "evaluate", overwrite, job=job, inputs=_label_inputs(reference, images)) as root:
        prep = prepare(labels, **_prepare_options(locals()))
        if not recipes:
            default = DEFAULT_PAIRWISE_MODELS if prep.is_pairwise else DEFAULT_MODELS
            recipes = {m: Recipe(m, feature_groups=tuple(prep.features.groups)) for m in (models or default)}
        res = held_out(prep, recipes, split=split, prompt_folds=n_prompt_folds, resamples=n_resamples,
                       seed=random_state, cache_dir=cache_dir)
        write_results(prep, res, root, f"judgenet evaluate — {prep.labels.name} / {prep.question}")
        if budget:
            label_efficiency_report(prep, recipes, budget, root, split=split, prompt_folds=n_prompt_folds,
                                    resamples=n_resamples, seed=random_state)
        write_failures(root, prep.failures)
        log.info("%s", summary_text(res, prep.question, split, report=root / "report.md"))
        return EvaluateResult(root, res, prep.failures)


def score(generators: Sequence[str | os.PathLike], *, reference=None, prompts=None, reference_prompts=None,
          predictor=None, backbones: Sequence[str] | None = None, out=None, overwrite: bool = False, cache_dir=None,
          weights_dir=None, clip_checkpoint=None, inception_weights=None, quick_gelu=None, resize=None, text_model=None,
          n_resamples: int = 1000,
          kid_subset_size: int = 1000, random_state: int = 0, strict: bool = False, mid_eps: float = 0.0,
          mid_shrinkage: str | None = None, coverage: float = 0.9, device: str = "cpu",
          batch_size: int = 64) -> ScoreResult:
    """Score generator folders for realism (and alignment where prompts are known).

    Each folder in ``generators`` is one generator (named by its folder, disambiguated by parent folders when two
    share a name). ``prompts``: an ``image,prompt`` file (or a ``prompts.csv`` inside each folder); a folder
    without prompts gets realism only (and is named in a notice). With a ``predictor``, its own fitted real-image
    reference and backbones are used; a ``reference`` given as well must give the same fitted reference (else an
    error says which differs). Unreadable images are skipped and listed in ``failures.csv``. A predictor saved with
    conformal calibration adds ``pred_low``/``pred_high`` per image and an interval for each generator's mean at
    ``coverage`` (calibrated on held-out generators, so the interval accounts for the shift to a new generator).
    A pairwise predictor (trained on side-by-side labels) gives ``p_win`` — the predicted probability that raters
    prefer an image (a generator's images) over those of the other scored generators on the same prompt — with
    ``p_win_low``/``p_win_high`` at ``coverage`` per image and per generator.
    """
    from .jobs.score import run_score

    job = _job("score", locals())
    inputs = [("reference folder", reference)] + [("generator folder", g) for g in generators]
    with _output(out, "score", overwrite, job=job, inputs=inputs) as root:
        return run_score(root, generators, reference=reference, prompts=prompts, reference_prompts=reference_prompts,
                         predictor=predictor, backbones=backbones, cache_dir=cache_dir, weights_dir=weights_dir,
                         clip_checkpoint=clip_checkpoint, inception_weights=inception_weights, quick_gelu=quick_gelu,
                         resize=resize, text_model=text_model,
                         n_resamples=n_resamples, kid_subset_size=kid_subset_size, random_state=random_state,
                         strict=strict,
                         mid_eps=mid_eps, mid_shrinkage=mid_shrinkage, coverage=coverage, device=device,
                         batch_size=batch_size)


def tune(labels, *, images=None, reference=None, out=None, n_trials: int = 20, study_name: str = "judgenet",
         storage: str | None = None, n_jobs: int = 1, timeout: float | None = None, measure: str = "kendall_tau_b",
         models: Sequence[str] | None = None, question=None, backbones: Sequence[str] | None = None,
         overwrite: bool = False, random_state: int = 0, split: str = "generator", n_prompt_folds: int = 5,
         label_root=None, reference_prompts=None, group_by: str = "generator", lenient: bool = False,
         strict: bool = False, allow_outside_images: bool = False, cache_dir=None, weights_dir=None,
         clip_checkpoint=None, inception_weights=None, quick_gelu=None, resize=None, text_model=None,
         device: str = "cpu", batch_size: int = 64, mid_eps: float = 0.0, mid_shrinkage: str | None = None,
         feature_groups: Sequence[str] | None = None) -> TuneResult:
    """Optuna search over predictors with held-out CV on ``split`` (see :mod:`judgenet.tuning`); the best
    configuration is refitted on all data and saved as a predictor artifact (with study name and trial number).
    Its recipe is evaluated on the held-out folds against the raw baselines (``report/``); when it is not better
    than the best one, or not above chance, a warning line and the report say so.

    Storage defaults to ``sqlite:///<out>/study.db``; ``out`` defaults to ``judgenet-runs/tune-<study_name>``. It
    behaves like the other jobs' (a non-empty folder needs ``overwrite``), except that the folder of an earlier
    ``tune`` run of the same study is reused, so rerunning the same command continues the study to its total. ``models`` limits the search to those model
    families; ``n_jobs`` worker processes tune the study at once (sharing its storage). The label-set and embedding
    options are :func:`judgenet.jobs.prepare.prepare`'s.
    """
    from . import tuning
    from .evaluation.verdict import summary_text
    from .jobs.prepare import prepare, training_record
    from .io import atomic_write_json

    job = _job("tune", locals())
    if out is None:  # one folder per study (not per run), so that rerunning the same command continues the study
        import re

        out = Path("judgenet-runs") / f"tune-{re.sub(r'[^A-Za-z0-9._-]+', '_', study_name)}"
    marker = "tune.json"
    resuming = out is not None and (Path(out) / marker).is_file() and _same_study(Path(out) / marker, study_name)
    with _output(out, "tune", overwrite or resuming, job=job, inputs=_label_inputs(reference, images),
                 keep=(marker, "study.db", "study.db-journal", "study.db-wal", "study.db-shm")) as root:
        storage = storage or f"sqlite:///{(root / 'study.db').resolve()}"
        prep = prepare(labels, **_prepare_options(locals()))
        atomic_write_json(root / marker, {"study_name": study_name})
        fm = prep.features
        if prep.is_pairwise:  # comparative labels: pairwise families, mean held-out 2AFC
            obj = tuning.PairwiseObjective(fm.X, prep.pairs, prep.generators, fm.names, fm.groups,
                                           prompts=prep.prompts, split=split, n_prompt_folds=n_prompt_folds,
                                           families=tuple(models) if models else None, seed=random_state)
        else:
            obj = tuning.Objective(fm.X, prep.y, prep.generators, fm.names, fm.groups, prompts=prep.prompts,
                                   split=split, n_prompt_folds=n_prompt_folds, measure=measure,
                                   families=tuple(models) if models else None, seed=random_state)
        study = tuning.tune(obj, n_trials=n_trials, study_name=study_name, storage=storage, n_jobs=n_jobs,
                            timeout=timeout, seed=random_state,
                            progress=logging.getLogger("judgenet").isEnabledFor(logging.INFO))
        recipe = tuning.best_recipe(study)
        # the tuned recipe against the raw baselines on the same held-out folds (the study's value is optimistic)
        res = held_out(prep, {recipe.family: recipe}, split=split, prompt_folds=n_prompt_folds, resamples=1000,
                       seed=random_state, cache_dir=cache_dir)
        _, _, check, section = check_model(prep, res, recipe.family, recipe, keep_baseline=False)
        (root / "report").mkdir(exist_ok=True)
        art = fit_and_save(prep, recipe, root / "predictor", seed=random_state, split=split,
                           prompt_folds=n_prompt_folds,
                            extra={"study_name": study_name, "trial": study.best_trial.number,
                                   "best_value": study.best_value, "measure": obj.measure, "storage": storage,
                                   "split": split, "baseline_check": check.to_dict(), **training_record(prep)})
        write_results(prep, res, root / "report", f"judgenet tune — {prep.labels.name} / {prep.question}: the best "
                      f"trial's recipe on held-out folds", check=section)
        tuning.write_study_plots(study, root)
        write_failures(root, prep.failures)
        log.info("best %s %.4f (trial %d): %s\n%s\npredictor saved to %s\ninspect: optuna-dashboard %s",
                 obj.measure, study.best_value, study.best_trial.number, recipe.to_dict(),
                 summary_text(res, prep.question, split, recipe.family, report=root / "report" / "report.md"), art,
                 storage)
        return TuneResult(root, study, art, recipe)


def _same_study(marker: Path, study_name: str) -> bool:
    import json

    try:
        return json.loads(marker.read_text()).get("study_name") == study_name
    except (OSError, ValueError):
        return False


def report(run_dir: str | os.PathLike) -> ReportResult:
    """(Re)build every report under ``run_dir`` from its saved ``results.json`` files."""
    from .evaluation import load_results, write_report

    root = Path(run_dir)
    found = sorted(root.rglob("results.json"))
    if not found:
        raise ConfigError(f"no results.json under {root}; point at a directory written by demo/train/evaluate")
    out = []
    for f in found:
        res = load_results(f.parent)
        title = _saved_title(f.parent, res) or f"judgenet report — {f.parent.relative_to(root)}"
        out.append(write_report(res, f.parent, title=title))
        log.info("rebuilt %s", f.parent / "report.md")
    return ReportResult(out)


def _saved_title(folder: Path, res) -> str | None:
    """The title the job gave the report in ``folder`` (its report.md's first heading, without the split suffix
    :func:`~judgenet.evaluation.report.report_title` appends again), or None."""
    from .evaluation.report import report_title

    try:
        first = (folder / "report.md").read_text(encoding="utf-8").split("\n", 1)[0]
    except OSError:
        return None
    if not first.startswith("# "):
        return None
    title, suffix = first[2:].strip(), report_title(res, "")
    return (title[:-len(suffix)] if suffix and title.endswith(suffix) else title) or None


# =============================================================================================
# a saved predictor as an object; the plug-in jobs (select, benchmark)
# =============================================================================================
def load_predictor(path: str | os.PathLike, **options):
    """A saved predictor as an object to call on images: ``p.predict(images)``, ``p.predict_embeddings(...)``,
    ``p.score(folders)``, ``p.meta``, ``p.recipe`` — see :func:`judgenet.jobs.predictor.load_predictor` for the
    options (the backbone options of :func:`score`, ``device``, ``batch_size``, ``cache_dir``)."""
    from .jobs.predictor import load_predictor as _load

    return _load(path, **options)


def select(predictor, images: Sequence[str | os.PathLike], budget: int, *, prompts=None, pairs: bool = False,
           out: str | os.PathLike | None = "selection.csv", weights: Sequence[float] = (1.0, 1.0, 1.0),
           cache_dir=None, random_state: int = 0, device: str = "cpu", batch_size: int = 64) -> SelectResult:
    """``judgenet select``: which of the unlabelled images in the pool folders ``images`` (one folder per
    generator) raters should label next, ranked with a saved ``predictor`` (uncertainty, disagreement, coverage of
    generators and prompts, weighted by ``weights``); ``pairs`` picks side-by-side pairs. Writes ``out`` (CSV)
    unless it is None. See :func:`judgenet.jobs.select.select_folder`."""
    from .jobs.select import select_folder

    sel = select_folder(predictor, list(images), budget, prompts=prompts, pairs=pairs, out=out, cache_dir=cache_dir,
                        weights=tuple(weights), seed=random_state, device=device, batch_size=batch_size)
    log.info("%s\n%d %s written to %s", sel.head(20).to_string(index=False), len(sel), "pairs" if pairs else "items",
             out)
    return SelectResult(Path(out) if out is not None else None, sel)


def benchmark(set_name: str, *, label_root=None, out=None, cf_protocols: Sequence[str] | None = None,
              metrics: Sequence[str] | None = None, text_backbone: str | None = "text:all-MiniLM-L6-v2",
              images=None, clip_backbone: str | None = None, clip_checkpoint=None, weights_dir=None,
              n_resamples: int = 1000, random_state: int = 0, n_draws: int = 5, ties: str = "half",
              cache_dir=None) -> BenchmarkJobResult:
    """``judgenet benchmark SET``: caption metrics against real human judgments, beside the published values
    (:func:`judgenet.captions.benchmark.run_benchmark`). ``cf_protocols`` default to both Flickr8k-CF protocols,
    ``metrics`` to BLEU-1..4, ROUGE-L, CIDEr-D, METEOR; ``text_backbone`` None (or ``"none"``) skips the
    sentence-encoder rows; ``images`` with ``clip_backbone`` (default ``open_clip:ViT-B-32``) adds CLIP-S,
    RefCLIP-S and MID. With ``out``, writes ``benchmark-<set>.md/.html/.json`` there; the table is logged."""
    from .captions.benchmark import run_benchmark, write_benchmark
    from .captions.refmetrics import REFERENCE_METRICS

    clip = None
    if images is not None:
        from .backbones import load_backbone

        clip = load_backbone(clip_backbone or "open_clip:ViT-B-32", weights_dir=weights_dir, checkpoint=clip_checkpoint)
    text = None if text_backbone is None or str(text_backbone).lower() == "none" else text_backbone
    res = run_benchmark(set_name, label_root, cf_protocols=tuple(cf_protocols or ("clipscore-shared", "per-item")),
                        metrics=tuple(metrics or REFERENCE_METRICS), text_backbone=text, images=images,
                        clip_backbone=clip, cache_dir=cache_dir, n_resamples=n_resamples, seed=random_state,
                        n_draws=n_draws, ties=ties)
    log.info("%s", res.to_text())
    files = write_benchmark(res, out, stem=f"benchmark-{set_name}") if out is not None else {}
    return BenchmarkJobResult(res, files)
