"""The user jobs — ``demo``, ``extract``, ``train``, ``evaluate``, ``score``, ``tune``, ``report`` — as
Python functions with the same parameter names as the CLI. This module only wires the lower boxes
together; each step lives in its own package.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import config as _config
from .errors import ConfigError

__all__ = ["demo", "extract", "train", "evaluate", "score", "tune", "report", "prepare", "embed", "run_dir",
           "DemoResult", "Prepared"]

BASELINES = ("mid_pmi", "clip_score", "-mahalanobis")


def run_dir(out: str | os.PathLike | None, prefix: str, overwrite: bool = False) -> Path:
    """A fresh run directory: ``out`` itself when given (refused if non-empty unless ``overwrite``),
    else ``./judgenet-runs/<prefix>-<timestamp>``. Earlier runs are never overwritten silently."""
    if out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = Path("judgenet-runs") / f"{prefix}-{stamp}"
        k = 1
        while path.exists():
            k += 1
            path = Path("judgenet-runs") / f"{prefix}-{stamp}-{k}"
    else:
        path = Path(out)
        if path.exists() and any(path.iterdir()) and not overwrite:
            raise ConfigError(f"output directory {path} exists and is not empty; choose another --out "
                              "or pass --overwrite to replace its contents")
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class DemoResult:
    """What :func:`demo` produced: the run directory, per-question results and the summary table."""

    run_dir: Path
    summary: pd.DataFrame
    results: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.summary.to_string(index=False)}\n\nreport: {self.run_dir / 'report.md'}"


_DEMO_SIZES = {
    # fast: the ≤1-minute variant the tests run; full: the README quick start.
    True: {"n_real": 400, "n_per_generator": 8, "severities": (0.3, 0.8), "n_resamples": 200,
           "models": ("ridge", "hist_gb")},
    False: {"n_real": 800, "n_per_generator": 25, "severities": (0.2, 0.5, 0.8), "n_resamples": 1000,
            "models": ("ridge", "hist_gb", "mlp")},
}


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(msg, flush=True)


def _source_name(backbone_name: str) -> str:
    """Feature-source name of a backbone: ``tiny``, ``clip`` (any open_clip model) or ``inception``."""
    if backbone_name.startswith("open_clip:"):
        return "clip"
    if backbone_name.startswith("inception"):
        return "inception"
    return backbone_name.split(":")[0].replace("-", "_")


@dataclass
class Embedded:
    """Image embeddings per source (aligned with ``paths``), prompt embeddings, fingerprints."""

    paths: list[str]
    images: dict[str, np.ndarray]
    texts: np.ndarray | None
    fingerprints: dict[str, dict]
    failures: list


def embed(paths: Sequence[str], backbones: Sequence, *, prompts: Sequence[str] | None = None, cache_dir=None,
          batch_size: int = 64, num_workers: int | None = None, strict: bool = False, quiet: bool = False) -> Embedded:
    """Embed images with every backbone (and prompts with the first one that has a text tower),
    through the feature cache. Returns float64 arrays; the main output of each backbone is used."""
    from .features import extract as _extract

    images, fps, failures, texts = {}, {}, [], None
    text_done = prompts is None
    for bb in backbones:
        give_text = (not text_done) and bb.has_text
        res = _extract(list(paths), bb, cache_dir=cache_dir, prompts=list(prompts) if give_text else None,
                      batch_size=batch_size, num_workers=num_workers, strict=strict, progress=not quiet)
        src = _source_name(bb.name)
        images[src] = np.asarray(res.images[bb.outputs[0]], dtype=np.float64)
        fps[src] = bb.fingerprint
        failures.extend(res.failures)
        if give_text:
            texts = np.asarray(res.texts, dtype=np.float64)
            text_done = True
    if not text_done:
        raise ConfigError("prompts were given but no backbone has a text tower; add an open_clip or tiny backbone")
    return Embedded(list(paths), images, texts, fps, failures)


def _baselines(sources: Sequence[str], has_text: bool) -> list[str]:
    base = ["mid_pmi", "clip_score"] if has_text else []
    return base + [f"-realism.{s}.mahalanobis2" for s in sources]


def _evaluate_question(fm, y, generators, prompts, models, ceiling, n_resamples, seed):
    from .evaluation import evaluate as _evaluate
    from .predictors import make_predictor

    from threadpoolctl import threadpool_limits

    has_text = "mid_pmi" in fm.names
    sources = sorted({n.split(".")[1] for n in fm.names if n.startswith("realism.")})
    # label sets are small (hundreds to thousands of items): one OpenMP thread per fit is faster than
    # oversubscribing a busy machine (HistGradientBoosting slowed ~50x under contention here)
    with threadpool_limits(limits=1, user_api="openmp"):
        return _evaluate(fm.X, y, generators, fm.names,
                         {m: make_predictor(m, random_state=seed) for m in models},
                         baselines=_baselines(sources, has_text), prompts=prompts, ceiling=ceiling,
                         n_resamples=n_resamples, seed=seed)


def _evaluation_key(X, names, y, generators, prompts, sizes, seed, question) -> str:
    """Content key of an evaluation: features, labels, folds, settings and the judgenet version."""
    import hashlib

    from . import __version__

    h = hashlib.sha256()
    for a in (np.ascontiguousarray(X, dtype=np.float64), np.ascontiguousarray(y, dtype=np.float64)):
        h.update(a.tobytes())
    h.update(json.dumps([list(names), list(map(str, generators)), list(map(str, prompts)), question, seed,
                         __version__, {k: list(v) if isinstance(v, tuple) else v for k, v in sizes.items()}],
                        default=str).encode())
    return h.hexdigest()[:24]


def _load_evaluation(cache: Path, key: str):
    """A cached ``(results, ceiling)`` for ``key``, or None (also when the file is unreadable)."""
    from .evaluation import EvaluationResults

    f = cache / "evaluations" / f"{key}.json"
    try:
        d = json.loads(f.read_text())
        return EvaluationResults.from_dict(d["results"]), d["ceiling"]
    except (OSError, ValueError, KeyError):
        return None


def _save_evaluation(cache: Path, key: str, res, ceiling) -> None:
    d = cache / "evaluations"
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".{key}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"results": res.to_dict(), "ceiling": ceiling}, default=_json_default))
    os.replace(tmp, d / f"{key}.json")


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _summary_row(question: str, res, ceiling: dict | None) -> dict:
    t = res.table()
    best = res.best_model("kendall_tau_b")

    def cell(pred, measure):
        r = t[(t["predictor"] == pred) & (t["measure"] == measure)]
        if r.empty:
            return "n/a"
        r = r.iloc[0]
        return f"{r['value']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"

    diff = res.comparisons.get((best, "mid_pmi", "kendall_tau_b")) if hasattr(res, "comparisons") else None
    row = {"question": question, "best model": best,
           "tau-b (model)": cell(best, "kendall_tau_b"), "tau-b (raw MID)": cell("mid_pmi", "kendall_tau_b"),
           "2AFC (model)": cell(best, "pairwise_accuracy"), "2AFC (raw MID)": cell("mid_pmi", "pairwise_accuracy")}
    if diff is not None:
        row["tau-b diff vs MID"] = str(diff)
    if ceiling:
        row["rater ceiling 2AFC"] = f"{ceiling.get('pairwise_agreement', float('nan')):.3f}"
    return row


def demo(out: str | os.PathLike | None = None, *, fast: bool = False, seed: int = 0, cache_dir=None,
         overwrite: bool = False, quiet: bool = False) -> DemoResult:
    """Run the whole pipeline offline on the built-in **simulated** world and tiny encoder.

    Generates (or reuses) the world and its simulated ratings, extracts and caches features with the
    ``tiny`` backbone, fits realism/MID references on the real images, trains predictors, evaluates
    them leave-one-generator-out against raw MID, CLIPScore and Mahalanobis distance, saves a
    predictor per question and writes the report. ``fast`` is the ≤1-minute variant used in tests.
    """
    from .backbones import load_backbone
    from .evaluation import write_report
    from .features.builder import FeatureReference
    from .labels import rater_ceiling
    from .predictors import make_predictor, save_predictor
    from .world import make_world, simulate_raters

    sizes = _DEMO_SIZES[bool(fast)]
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    root = run_dir(out, "demo", overwrite)
    cache = _config.cache_dir(cache_dir)
    _log(f"judgenet demo — SIMULATED world, tiny encoder; run directory {root}", quiet)

    world = make_world(cache / "world" / ("fast" if fast else "full"), n_real=sizes["n_real"],
                       n_per_generator=sizes["n_per_generator"], severities=sizes["severities"], seed=seed)
    ratings = simulate_raters(world, n_raters=5, seed=seed)
    labels, _pairs = ratings.to_labelsets()
    times["world"] = time.perf_counter() - t0

    t = time.perf_counter()
    bb = load_backbone("tiny")
    real, gen = world.real, world.generated
    emb_real = embed(real["path"].tolist(), [bb], prompts=real["prompt"].tolist(), cache_dir=cache, quiet=quiet)
    emb_gen = embed(gen["path"].tolist(), [bb], prompts=gen["prompt"].tolist(), cache_dir=cache, quiet=quiet)
    times["extract"] = time.perf_counter() - t

    t = time.perf_counter()
    ref = FeatureReference.fit(emb_real.images, emb_real.texts, fingerprints=emb_real.fingerprints, seed=seed)
    fm = ref.transform(emb_gen.images, emb_gen.texts)
    times["features"] = time.perf_counter() - t

    t = time.perf_counter()
    item_ids = gen["item_id"].astype(str).to_numpy()
    generators = gen["generator"].to_numpy()
    prompt_ids = gen["prompt_id"].astype(str).to_numpy() if "prompt_id" in gen else gen["prompt"].to_numpy()
    results, rows = {}, []
    for q in ("realism", "alignment", "overall"):
        agg = labels.aggregate(q).set_index("item_id")["score"]
        y = agg.reindex(item_ids).to_numpy(dtype=np.float64)
        if np.isnan(y).any():
            raise ConfigError(f"simulated labels miss {int(np.isnan(y).sum())} items for {q!r}")
        key = _evaluation_key(fm.X, fm.names, y, generators, prompt_ids, sizes, seed, q)
        hit = _load_evaluation(cache, key)
        if hit is None:
            ceiling = rater_ceiling(labels, q, n_resamples=sizes["n_resamples"], seed=seed)
            res = _evaluate_question(fm, y, generators, prompt_ids, sizes["models"], ceiling,
                                     sizes["n_resamples"], seed)
            _save_evaluation(cache, key, res, ceiling)
        else:
            res, ceiling = hit
        results[q] = res
        write_report(res, root / q, title=f"judgenet demo — {q} (SIMULATED world and raters)")
        rows.append(_summary_row(q, res, ceiling))
        best = res.best_model("kendall_tau_b")
        model = make_predictor(best, random_state=seed).fit(fm.X, y)
        save_predictor(model, root / f"predictor-{q}", feature_names=fm.names, fingerprints=ref.fingerprints,
                       reference_hash=ref.hash, label_set=labels.name, question=q,
                       cv_results=res.to_dict(), extra={"simulated": True, "model": best})
    ref.save(root / "reference")
    times["evaluate"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t0
    summary = pd.DataFrame(rows)
    _write_summary(root, summary, times, ratings.agreement, fast)
    result = DemoResult(root, summary, results, times)
    _log(str(result), quiet)
    return result


def _write_summary(root: Path, summary: pd.DataFrame, times: dict, agreement: dict, fast: bool) -> None:
    lines = ["# judgenet demo (SIMULATED world, simulated raters, tiny encoder)", "",
             "Held-out-generator evaluation (leave-one-generator-out); 95% bootstrap CIs.", "",
             summary.to_markdown(index=False) if _has_tabulate() else summary.to_string(index=False), "",
             "Per-question reports: " + ", ".join(f"[{q}]({q}/report.md)" for q in summary["question"]), "",
             f"Simulated inter-rater agreement: `{json.dumps(agreement, default=str)}`", "",
             "Timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()),
             f"Variant: {'fast' if fast else 'full'}"]
    (root / "report.md").write_text("\n".join(lines) + "\n")
    (root / "summary.json").write_text(json.dumps({"summary": summary.to_dict(orient="records"),
                                                   "timings": times, "agreement": agreement}, indent=2,
                                                  default=str))


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


# =============================================================================================
# user label sets: train / evaluate / tune share one preparation step
# =============================================================================================


def read_prompts(path: str | os.PathLike) -> dict[str, str]:
    """Read a prompts file: CSV/TSV/JSONL with columns ``image`` and ``prompt`` (``image`` relative to
    the image folder, or a bare file name). Returns ``{image: prompt}``."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"prompts file {p} not found; expected a CSV or JSONL with columns image,prompt")
    if p.suffix == ".jsonl":
        df = pd.read_json(p, lines=True, dtype=False)
    else:
        df = pd.read_csv(p, sep="\t" if p.suffix == ".tsv" else ",", dtype=str, keep_default_na=False)
    missing = {"image", "prompt"} - set(df.columns)
    if missing:
        raise ConfigError(f"{p}: missing column(s) {sorted(missing)}; expected columns image,prompt "
                          f"(found {list(df.columns)})")
    return dict(zip(df["image"].astype(str), df["prompt"].astype(str)))


def _list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files under a folder (see :func:`judgenet.images.list_images`); at least one."""
    from .images import IMAGE_EXTENSIONS, list_images

    d = Path(folder)
    if not d.is_dir():
        raise ConfigError(f"image folder {d} does not exist; give a directory of images")
    files = list_images(d)
    if not files:
        raise ConfigError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found under {d}")
    return files


def _prompts_for(files: Sequence[Path], root: Path, table: Mapping[str, str] | None) -> list[str] | None:
    if table is None:
        return None
    out, missing = [], []
    for f in files:
        rel = f.relative_to(root).as_posix()
        v = table.get(rel, table.get(f.name))
        if v is None:
            missing.append(rel)
        out.append(v)
    if missing:
        raise ConfigError(f"{len(missing)} image(s) under {root} have no prompt in the prompts file, e.g. "
                          f"{missing[:3]}; add rows image,prompt for them or drop the prompts file")
    return out


def _find_prompts_file(folder: Path) -> Path | None:
    for name in ("prompts.csv", "prompts.jsonl", "captions.csv", "captions.jsonl"):
        if (folder / name).is_file():
            return folder / name
    return None


def load_backbones(names: Sequence[str], *, weights_dir=None, clip_checkpoint=None, inception_weights=None,
                   quick_gelu=None) -> list:
    """Load each named backbone, routing the checkpoint options to the right one."""
    from .backbones import load_backbone

    out = []
    for n in names:
        kw = {"weights_dir": weights_dir}
        if n.startswith("open_clip:"):
            kw.update(checkpoint=clip_checkpoint, quick_gelu=quick_gelu)
        elif n.startswith("inception"):
            kw.update(checkpoint=inception_weights)
        out.append(load_backbone(n, **kw))
    return out


@dataclass
class Prepared:
    """A label set turned into an aligned feature matrix and targets."""

    features: object  # FeatureMatrix
    y: np.ndarray
    generators: np.ndarray
    prompts: np.ndarray | None
    item_ids: np.ndarray
    reference: object  # FeatureReference
    labels: object  # LabelSet
    question: str
    ceiling: dict | None
    backbones: list = field(default_factory=lambda: ["tiny"])


def prepare(labels, *, images=None, reference=None, reference_prompts=None, backbones: Sequence[str] = ("tiny",),
            question: str | None = None, label_root=None, cache_dir=None, weights_dir=None, clip_checkpoint=None,
            inception_weights=None, quick_gelu=None, feature_groups=None, group_by: str = "generator",
            ceiling_resamples: int = 200, seed: int = 0, quiet: bool = False, lenient: bool = False) -> Prepared:
    """Load labels, embed their images (relative to ``images``) and the real ``reference`` images,
    fit the real-image reference and build the feature matrix. ``question`` defaults to the first
    question of the label set."""
    from .features.builder import DEFAULT_GROUPS, FeatureReference
    from .labels import LabelSet, load_label_set, rater_ceiling

    ls = labels if isinstance(labels, LabelSet) else \
        load_label_set(labels, root=label_root, **({"lenient": True} if lenient else {}))
    if getattr(ls, "skipped", None) and not quiet:
        print(f"labels: skipped {len(ls.skipped)} bad row(s) (--lenient): " +
              "; ".join(str(p) for p in ls.skipped[:5]) + (" ..." if len(ls.skipped) > 5 else ""), flush=True)
    if not isinstance(ls, LabelSet):
        ls = ls[0] if isinstance(ls, tuple) else ls
    if not isinstance(ls, LabelSet):
        raise ConfigError(f"{labels}: a per-item label set is needed here (got {type(ls).__name__}); pairwise "
                          "sets are used through judgenet.predictors.BradleyTerry")
    question = question or ls.questions[0]
    agg = ls.aggregate(question)
    if reference is None:
        raise ConfigError("--reference REAL_DIR is required: a folder of real images (with a prompts.csv of "
                          "image,prompt for MID) that realism statistics are fitted on")
    img_root = Path(images) if images is not None else Path(".")
    paths = []
    for i, im in enumerate(agg["image"].astype(str)):
        p = Path(im)
        p = p if p.is_absolute() else img_root / p
        if not p.is_file():
            raise ConfigError(f"label row for item {agg['item_id'].iloc[i]!r}: image {p} not found; pass "
                              "--images DIR so that the label file's image column resolves under it")
        paths.append(str(p))
    has_prompts = "prompt" in agg and agg["prompt"].notna().all() and (agg["prompt"].astype(str) != "").all()
    prompts = agg["prompt"].astype(str).tolist() if has_prompts else None
    ref_root = Path(reference)
    ref_files = _list_images(ref_root)
    pf = reference_prompts or _find_prompts_file(ref_root)
    ref_prompts = _prompts_for(ref_files, ref_root, read_prompts(pf)) if (pf and has_prompts) else None
    bbs = load_backbones(backbones, weights_dir=weights_dir, clip_checkpoint=clip_checkpoint,
                         inception_weights=inception_weights, quick_gelu=quick_gelu)
    er = embed([str(f) for f in ref_files], bbs, prompts=ref_prompts, cache_dir=cache_dir, quiet=quiet)
    eg = embed(paths, bbs, prompts=prompts, cache_dir=cache_dir, quiet=quiet)
    ref = FeatureReference.fit(er.images, er.texts, fingerprints=er.fingerprints, seed=seed)
    groups = list(feature_groups or DEFAULT_GROUPS)
    if eg.texts is None or ref.mid_ref is None:
        groups = [g for g in groups if g != "alignment"]
    fm = ref.transform(eg.images, eg.texts, groups=groups)
    key = {"generator": "generator", "prompt": "prompt", "image": "image"}.get(group_by)
    if key is None:
        raise ConfigError(f"group_by must be generator, prompt or image; got {group_by!r}")
    gen = agg[key].astype(str).to_numpy()
    try:
        ceiling = rater_ceiling(ls, question, n_resamples=ceiling_resamples, seed=seed)
    except Exception as exc:  # fewer than 2 raters per item: no ceiling, say so
        ceiling = {"note": f"rater ceiling unavailable: {exc}"}
    return Prepared(fm, agg["score"].to_numpy(dtype=np.float64), gen,
                    agg["prompt"].astype(str).to_numpy() if has_prompts else None,
                    agg["item_id"].astype(str).to_numpy(), ref, ls, question, ceiling, list(backbones))


def _fit_and_save(prep: Prepared, model_name: str, params: dict, out: Path, *, seed: int, cv_results=None,
                  extra=None) -> Path:
    from .predictors import make_predictor, save_predictor

    model = make_predictor(model_name, random_state=seed, **params).fit(prep.features.X, prep.y)
    out.mkdir(parents=True, exist_ok=True)
    prep.reference.save(out / "reference")
    save_predictor(model, out, feature_names=prep.features.names, fingerprints=prep.reference.fingerprints,
                   reference_hash=prep.reference.hash, label_set=prep.labels.name, question=prep.question,
                   cv_results=cv_results, extra={"model": model_name, "params": params,
                                                 "feature_groups": list(prep.features.groups),
                                                 "backbones": list(prep.backbones), **(extra or {})})
    return out


def train(labels, *, images=None, reference=None, out=None, model: str = "auto", question=None,
          backbones: Sequence[str] = ("tiny",), overwrite: bool = False, n_resamples: int = 1000, seed: int = 0,
          quiet: bool = False, **prepare_options) -> Path:
    """Fit a predictor on a label set and save it as an artifact directory.

    ``model="auto"`` runs leave-one-generator-out CV over ridge, hist_gb and mlp and keeps the best by
    Kendall tau-b (the CV results are stored in the artifact; note they are optimistic for the
    chosen model — use ``evaluate`` for the unbiased nested estimate).
    """
    out_dir = run_dir(out, "predictor", overwrite)
    prep = prepare(labels, images=images, reference=reference, backbones=backbones, question=question,
                   seed=seed, quiet=quiet, **prepare_options)
    candidates = ("ridge", "hist_gb", "mlp") if model == "auto" else (model,)
    res = _evaluate_question(prep.features, prep.y, prep.generators, prep.prompts, candidates, prep.ceiling,
                             n_resamples, seed)
    best = res.best_model("kendall_tau_b") if model == "auto" else model
    _fit_and_save(prep, best, {}, out_dir, seed=seed, cv_results=res.to_dict())
    from .evaluation import write_report

    write_report(res, out_dir / "report", title=f"judgenet train — {prep.labels.name} / {prep.question}")
    _log(f"{res.table().to_string(index=False)}\n\npredictor ({best}) saved to {out_dir}", quiet)
    return out_dir


def evaluate(labels, *, images=None, reference=None, out=None, models: Sequence[str] = ("ridge", "hist_gb", "mlp"),
             predictor=None, question=None, backbones: Sequence[str] = ("tiny",), overwrite: bool = False,
             n_resamples: int = 1000, seed: int = 0, quiet: bool = False, **prepare_options):
    """Held-out-generator evaluation of model recipes (or of a saved predictor's recipe) on a label set,
    against raw MID, CLIPScore and Mahalanobis baselines; writes the report. Returns the results."""
    from .evaluation import write_report
    from .predictors import load_predictor

    if predictor is not None:
        _, meta = load_predictor(predictor)
        models = (meta["extra"]["model"],)
        question = question or meta.get("question")
    out_dir = run_dir(out, "evaluate", overwrite)
    prep = prepare(labels, images=images, reference=reference, backbones=backbones, question=question,
                   seed=seed, quiet=quiet, **prepare_options)
    res = _evaluate_question(prep.features, prep.y, prep.generators, prep.prompts, models, prep.ceiling,
                             n_resamples, seed)
    write_report(res, out_dir, title=f"judgenet evaluate — {prep.labels.name} / {prep.question}")
    _log(f"{res.table().to_string(index=False)}\n\nreport: {out_dir / 'report.md'}", quiet)
    return res


def report(run_dir_: str | os.PathLike, quiet: bool = False) -> list[Path]:
    """(Re)build every report under ``run_dir_`` from its saved ``results.json`` files."""
    from .evaluation import load_results, write_report

    root = Path(run_dir_)
    found = sorted(root.rglob("results.json"))
    if not found:
        raise ConfigError(f"no results.json under {root}; point at a directory written by demo/train/evaluate")
    out = []
    for f in found:
        res = load_results(f.parent)
        out.append(write_report(res, f.parent, title=f"judgenet report — {f.parent.name}"))
        _log(f"rebuilt {f.parent / 'report.md'}", quiet)
    return out


def score(generators: Sequence[str | os.PathLike], *, reference, prompts=None, reference_prompts=None,
          predictor=None, backbones: Sequence[str] | None = None, out=None, overwrite: bool = False,
          cache_dir=None, weights_dir=None, clip_checkpoint=None, inception_weights=None, quick_gelu=None,
          n_resamples: int = 1000, kid_subset_size: int = 1000, seed: int = 0, quiet: bool = False):
    """Score generator folders for realism (and alignment when prompts are known).

    Each folder in ``generators`` is one generator. ``prompts``: a CSV/JSONL ``image,prompt`` file
    (or a ``prompts.csv`` inside each folder). Without prompts only realism is scored; without a
    predictor only raw metrics are reported. Writes ``per_image.csv``/``.jsonl`` and
    ``per_generator.csv`` and returns ``(per_image, per_generator)`` DataFrames.
    """
    from .features.builder import FeatureReference
    from .stats import bootstrap_ci

    model = meta = None
    if predictor is not None:
        from .predictors import load_predictor

        model, meta = load_predictor(predictor)
        backbones = backbones or meta.get("extra", {}).get("backbones") or ["tiny"]
    backbones = list(backbones or ["tiny"])
    out_dir = run_dir(out, "score", overwrite)
    bbs = load_backbones(backbones, weights_dir=weights_dir, clip_checkpoint=clip_checkpoint,
                         inception_weights=inception_weights, quick_gelu=quick_gelu)
    table = read_prompts(prompts) if prompts else None
    files, gens, gprompts = [], [], []
    for g in generators:
        gdir = Path(g)
        fs = _list_images(gdir)
        t = table if table is not None else (read_prompts(p) if (p := _find_prompts_file(gdir)) else None)
        pr = _prompts_for(fs, gdir, t) if t is not None else [None] * len(fs)
        files += fs
        gens += [gdir.name] * len(fs)
        gprompts += pr
    have_prompts = all(p is not None for p in gprompts)
    ref_root = Path(reference)
    if predictor is not None and (Path(predictor) / "reference").is_dir():
        ref = FeatureReference.load(Path(predictor) / "reference",
                                    fingerprints={_source_name(b.name): b.fingerprint for b in bbs})
    else:
        ref_files = _list_images(ref_root)
        pf = reference_prompts or _find_prompts_file(ref_root)
        ref_prompts = _prompts_for(ref_files, ref_root, read_prompts(pf)) if (pf and have_prompts) else None
        er = embed([str(f) for f in ref_files], bbs, prompts=ref_prompts, cache_dir=cache_dir, quiet=quiet)
        ref = FeatureReference.fit(er.images, er.texts, fingerprints=er.fingerprints, seed=seed)
    eg = embed([str(f) for f in files], bbs, prompts=gprompts if have_prompts else None, cache_dir=cache_dir,
               quiet=quiet)
    groups = ["alignment", "realism", "activations", "set"] if (have_prompts and ref.mid_ref is not None) else \
        ["realism", "activations", "set"]
    fm = ref.transform(eg.images, eg.texts, groups=groups, generators=gens, kid_subset_size=kid_subset_size,
                       seed=seed)
    per_image = pd.DataFrame({"generator": gens, "image": [str(f) for f in files]})
    if have_prompts:
        per_image["prompt"] = gprompts
    keep = [n for n in fm.names if not n.startswith(("pca.", "act.", "set."))]
    for n in keep:
        per_image[n] = fm.column(n)
    if model is not None:
        want = meta["feature_names"]
        missing = [n for n in want if n not in fm.names]
        if missing:
            raise ConfigError(f"predictor {predictor} needs features {missing[:5]} that cannot be built here "
                              "(prompts missing for an alignment predictor?)")
        X = np.column_stack([fm.column(n) for n in want])
        per_image[f"predicted_{meta.get('question', 'score')}"] = model.predict(X)
    pred_col = next((c for c in per_image.columns if c.startswith("predicted_")), None)
    rows = []
    gens_arr = np.asarray(gens)
    for g in dict.fromkeys(gens):
        idx = np.flatnonzero(gens_arr == g)
        row = {"generator": g, "n_images": idx.size}
        if pred_col:
            v = per_image[pred_col].to_numpy()[idx]
            e = bootstrap_ci(np.mean, v, n_resamples=n_resamples, seed=seed)
            row.update({pred_col: e.value, f"{pred_col}_low": e.low, f"{pred_col}_high": e.high})
        if have_prompts and ref.mid_ref is not None:
            row["mid"] = fm.column("set.mid")[idx[0]] if "set.mid" in fm.names else np.nan
            row["clip_score"] = float(per_image["clip_score"].to_numpy()[idx].mean())
        for s in ref.sources:
            for name in ("fid", "kid", "precision", "recall"):
                row[f"{name}.{s}"] = fm.column(f"set.{name}.{s}")[idx[0]]
        rows.append(row)
    per_gen = pd.DataFrame(rows)
    sort_col = pred_col or ("mid" if "mid" in per_gen else next(c for c in per_gen.columns if c.startswith("fid.")))
    per_gen = per_gen.sort_values(sort_col, ascending=sort_col.startswith("fid.")).reset_index(drop=True)
    per_image.to_csv(out_dir / "per_image.csv", index=False)
    per_image.to_json(out_dir / "per_image.jsonl", orient="records", lines=True)
    per_gen.to_csv(out_dir / "per_generator.csv", index=False)
    if eg.failures:
        pd.DataFrame([{"path": str(f.path), "reason": f.reason} for f in eg.failures]).to_csv(
            out_dir / "failures.csv", index=False)
    _log(f"{per_gen.to_string(index=False, float_format=lambda v: f'{v:.4g}')}\n\nscores: {out_dir}", quiet)
    return per_image, per_gen


def tune(labels, *, images=None, reference=None, out=None, trials: int = 20, study_name: str = "judgenet",
         storage: str | None = None, n_jobs: int = 1, timeout: float | None = None, measure: str = "kendall_tau_b",
         families: Sequence[str] | None = None, question=None, backbones: Sequence[str] = ("tiny",),
         overwrite: bool = False, seed: int = 0, quiet: bool = False, prepared: Prepared | None = None,
         **prepare_options):
    """Optuna search over predictors with held-out-generator CV (see :mod:`judgenet.tuning`); the best
    configuration is refitted on all data and saved as a predictor artifact (with study name and trial
    number). Storage defaults to ``sqlite:///<out>/study.db``; rerunning continues the study."""
    from . import tuning

    out_dir = Path(out) if out is not None else run_dir(None, "tune")
    out_dir.mkdir(parents=True, exist_ok=True)
    storage = storage or f"sqlite:///{(out_dir / 'study.db').resolve()}"
    prep = prepared or prepare(labels, images=images, reference=reference, backbones=backbones,
                               question=question, seed=seed, quiet=quiet, **prepare_options)
    obj = tuning.Objective(prep.features.X, prep.y, prep.generators, prep.features.names, prep.features.groups,
                           measure=measure, families=tuple(families or tuning.MODEL_FAMILIES), seed=seed)
    study = tuning.tune(obj, n_trials=trials, study_name=study_name, storage=storage, n_jobs=n_jobs,
                        timeout=timeout, seed=seed, progress=not quiet)
    cfg = tuning.best_config(study)
    cols = tuning.feature_columns(prep.features.names, prep.features.groups, cfg["groups"])
    cfg = tuning.cap_pca(cfg, len(cols))
    sub = type(prep.features)(prep.features.X[:, cols], [prep.features.names[i] for i in cols],
                              {g: prep.features.groups[g] for g in cfg["groups"]})
    prep_best = Prepared(sub, prep.y, prep.generators, prep.prompts, prep.item_ids, prep.reference, prep.labels,
                         prep.question, prep.ceiling, prep.backbones)
    params = dict(cfg["params"])
    if "hidden_sizes" in params:
        params["hidden_sizes"] = tuple(params["hidden_sizes"])
    params.update(pca=cfg.get("pca") or None, scaler=cfg.get("scaler", "standard"))
    art = _fit_and_save(prep_best, cfg["model"], params, out_dir / "predictor", seed=seed,
                        extra={"study_name": study_name, "trial": study.best_trial.number,
                               "best_value": study.best_value, "measure": measure, "storage": storage})
    _study_plots(study, out_dir)
    _log(f"best {measure} {study.best_value:.4f} (trial {study.best_trial.number}): {json.dumps(cfg)}\n"
         f"predictor saved to {art}\ninspect: optuna-dashboard {storage}", quiet)
    return study, art


def _study_plots(study, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    for name, fn in (("optimization_history", ovm.plot_optimization_history),
                     ("param_importances", ovm.plot_param_importances)):
        try:
            ax = fn(study)
            ax.figure.savefig(out_dir / f"{name}.png", dpi=100, bbox_inches="tight")
            plt.close(ax.figure)
        except (ValueError, RuntimeError) as exc:  # e.g. importances need ≥2 completed trials
            (out_dir / f"{name}.txt").write_text(f"plot unavailable: {exc}\n")


def extract(images: Sequence[str | os.PathLike], *, backbones: Sequence[str] = ("tiny",), prompts=None, cache_dir=None,
            weights_dir=None, clip_checkpoint=None, inception_weights=None, quick_gelu=None, batch_size: int = 64,
            num_workers: int | None = None, strict: bool = False, quiet: bool = False) -> dict:
    """Embed image files/folders (and their prompts, from an ``image,prompt`` file) into the cache.
    Returns a summary dict: counts computed vs cached, failures, cache location."""
    files: list[Path] = []
    roots: list[Path] = []
    for item in images:
        p = Path(item)
        if p.is_dir():
            fs = _list_images(p)
            files += fs
            roots += [p] * len(fs)
        elif p.is_file():
            files.append(p)
            roots.append(p.parent)
        else:
            raise ConfigError(f"{p} is neither an image file nor a folder")
    texts = None
    if prompts is not None:
        table = read_prompts(prompts)
        texts = []
        for f, r in zip(files, roots):
            v = table.get(f.relative_to(r).as_posix(), table.get(f.name))
            if v is None:
                raise ConfigError(f"{prompts}: no prompt for image {f}; add a row image,prompt for it")
            texts.append(v)
    bbs = load_backbones(backbones, weights_dir=weights_dir, clip_checkpoint=clip_checkpoint,
                         inception_weights=inception_weights, quick_gelu=quick_gelu)
    from .features import extract as _extract

    summary = {"n_images": len(files), "cache": str(_config.cache_dir(cache_dir)), "backbones": {}}
    for bb in bbs:
        res = _extract([str(f) for f in files], bb, cache_dir=cache_dir,
                       prompts=texts if (texts is not None and bb.has_text) else None, batch_size=batch_size,
                       num_workers=num_workers, strict=strict, progress=not quiet)
        summary["backbones"][bb.name] = {"fingerprint": bb.fingerprint_hash, "computed": res.n_computed,
                                         "cached": res.n_cached, "failures": [
                                             {"path": str(f.path), "reason": f.reason} for f in res.failures]}
        _log(f"{bb.name}: {len(files)} images — {res.n_computed} computed, {res.n_cached} from cache, "
             f"{len(res.failures)} unreadable", quiet)
        for f in res.failures:
            _log(f"  skipped {f.path}: {f.reason}", quiet)
    return summary
