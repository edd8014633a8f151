"""Write an evaluation report: ``report.md``, standalone ``report.html``, ``results.json`` and PNG plots.

Every number in the report is read from the :class:`EvaluationResults` object (and written to
``results.json`` next to it); nothing is typed in. :func:`load_results` reads ``results.json``
back, so ``judgenet report RUN_DIR`` rebuilds the same report from a finished run.

Plots (matplotlib, Agg backend):

* ``scatter_per_generator.png`` — best model's held-out prediction vs human score, one panel
  per held-out generator;
* ``per_generator_tau.png`` — within-generator Kendall tau-b with bootstrap 95% CIs, best model
  vs raw MID (or the first baseline), with the rater ceiling;
* ``pooled_tau_ci.png`` — pooled held-out tau-b with CIs for every predictor, with the ceiling;
* ``system_ranking.png`` — generators ranked by human mean vs by predicted mean (best model and raw MID).
"""
from __future__ import annotations

import base64
import html
import logging
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from .protocol import FLOOR, EvaluationResults
from .summary import ci_verdict

log = logging.getLogger(__name__)

__all__ = ["write_report", "load_results", "render_markdown", "conclusion_sentence", "predictor_label"]

RESULTS_FILE = "results.json"


def load_results(run_dir: str | os.PathLike) -> EvaluationResults:
    """Read ``<run_dir>/results.json`` (or the file itself) back into :class:`EvaluationResults`."""
    from ..errors import ArtifactError

    p = Path(run_dir)
    f = p if p.is_file() else p / RESULTS_FILE
    try:
        return EvaluationResults.from_json(f)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{f}: not a judgenet results file ({type(exc).__name__}: {exc}); point at a directory "
                            "written by evaluate/train/demo") from exc


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "n/a" if not np.isfinite(v) else f"{v:.3f}"


def _ci(e) -> str:
    return f"{_fmt(e.value)} [{_fmt(e.low)}, {_fmt(e.high)}]"


_BASELINE_WORDS = {
    "mid_pmi": "raw MID (per-image pointwise mutual information)",
    "clip_score": "raw CLIPScore",
    "training_mean": "the training-mean floor",
}
_SPLIT_WORDS = {
    "generator": "On a new generator with prompts labelled for other generators (leave-one-generator-out)",
    "prompt": "On new prompts from known generators (leave-one-prompt-fold-out)",
    "crossed": "On a new generator with new prompts (crossed split)",
}


def predictor_label(name: str) -> str:
    """A baseline's (or model's) name in words: ``-realism.tiny.mahalanobis2`` → "Mahalanobis distance
    to the real images (tiny features, lower = more real)"; model names are returned as they are."""
    if name in _BASELINE_WORDS:
        return _BASELINE_WORDS[name]
    neg = name.startswith("-")
    parts = name.lstrip("-").split(".")
    if len(parts) == 3 and parts[0] == "realism":
        kind = {"mahalanobis2": "Mahalanobis distance to the real images",
                "knn": "k-NN distance to the real images"}.get(parts[2], parts[2].replace("_", " "))
        return f"{kind} ({parts[1]} features{', lower = more real' if neg else ''})"
    return ("minus " if neg else "") + name


def conclusion_sentence(res: EvaluationResults, question: str | None = None, *, model: str | None = None,
                        baseline: str | None = None, measure: str = "kendall_tau_b") -> str:
    """One plain-text sentence stating the verdict of ``res``: the best model (or ``model``) vs raw
    MID (or ``baseline``) by ``measure``, each with its 95% CI, and whether the paired-bootstrap CI
    of the difference says *better*, *worse* or *not distinguishable*. Every report opens with it;
    the demo summary uses it.

    Example: "On a new generator with new prompts (crossed split), realism: the best learned
    predictor (hist_gb) agrees with raters at tau-b 0.168 [0.120, 0.215] vs raw MID (...) 0.135
    [0.080, 0.190] — not distinguishable (difference +0.033 [-0.019, 0.078], paired prompt bootstrap)."
    """
    return "".join(p if isinstance(p, str) else p[1]
                   for p in _conclusion_parts(res, question, model=model, baseline=baseline, measure=measure))


def _conclusion_parts(res: EvaluationResults, question: str | None = None, *, model: str | None = None,
                      baseline: str | None = None, measure: str = "kendall_tau_b") -> list:
    """:func:`conclusion_sentence` as parts: prose strings and ``("t", data)`` for names from the data."""
    m = model or res.best_model(measure if measure in res.measures else res.measures[0])
    b = baseline or _mid_baseline(res)
    short = {"kendall_tau_b": "tau-b", "pairwise_accuracy": "2AFC accuracy"}.get(measure, measure)
    head = _SPLIT_WORDS.get(res.settings.get("split", "generator"), "On held-out data")
    q = [", ", ("t", str(question))] if question else []
    e = res.metrics[m].get(measure)
    if e is None:
        return [head, *q, f": {measure} was not measured."]
    out = [head, *q, ": the best learned predictor (", ("t", m), f") agrees with raters at {short} {_ci(e)}"]
    if b is None or b not in res.metrics or measure not in res.metrics[b]:
        return out + [" (no baseline to compare with)."]
    out += [" vs ", ("t", predictor_label(b)), f" {_ci(res.metrics[b][measure])}"]
    boot = "prompt" if res.settings.get("bootstrap_unit") == "prompt" else "item"
    d = res.comparisons.get((m, b, measure))
    if d is None or not np.isfinite(d.low):
        return out + [" (no paired comparison)."]
    return out + [f" — {_verdict(d)} (difference {d.value:+.3f} [{_fmt(d.low)}, {_fmt(d.high)}], "
                  f"paired {boot} bootstrap)."]


def _mid_baseline(res: EvaluationResults) -> str | None:
    cands = [b for b in res.baselines if b != FLOOR]
    for b in cands:
        if "mid" in b.lstrip("-").split(".")[-1]:
            return b
    return cands[0] if cands else None


# ---------------------------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------------------------
MAX_UNITS_PLOTTED = 40
"""Per-generator panels, bars and table rows are drawn only up to this many held-out units (e.g.
``--group-by image`` makes every image a unit); beyond it the report says so and shows pooled results."""


def _save(fig, out: Path, fn: str) -> None:
    import matplotlib.pyplot as plt

    from ..io import atomic_path

    with atomic_path(out / fn) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)


def _pg_col(pg, name: str) -> np.ndarray:
    return pg[name].to_numpy(dtype=float) if name in pg else np.full(len(pg), np.nan)


def _plots(res: EvaluationResults, out: Path, best: str) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    p = res.predictions
    gens = list(dict.fromkeys(p["generator"]))
    mid = _mid_baseline(res)
    tau_m = "kendall_tau_b" if "kendall_tau_b" in res.measures else res.measures[0]
    ceil, ceil_lo, ceil_hi = res.ceiling_for(tau_m)
    pg = res.per_generator
    few = len(gens) <= MAX_UNITS_PLOTTED

    # 1. predicted vs human per held-out generator (pooled scatter when there are many units)
    if few:
        cols = min(4, len(gens))
        rows = int(np.ceil(len(gens) / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
        for ax, g in zip(axes.ravel(), gens):
            sub = p[p["generator"] == g]
            ax.scatter(sub["y"], sub[best], s=8, alpha=0.6)
            r = pg[(pg["predictor"] == best) & (pg["generator"] == g)]
            tau = _pg_col(r, "kendall_tau_b")[0] if len(r) else np.nan
            ax.set_title(f"{g}  (tau-b {_fmt(tau)})", fontsize=9)
            ax.tick_params(labelsize=7)
        for ax in axes.ravel()[len(gens):]:
            ax.axis("off")
        cap = f"Held-out prediction of {best} vs human score, one panel per held-out generator"
    else:
        fig, ax = plt.subplots(figsize=(4.5, 4))
        ax.scatter(p["y"], p[best], s=6, alpha=0.4)
        cap = f"Held-out prediction of {best} vs human score ({len(gens)} held-out units pooled)"
    fig.supxlabel("human score")
    fig.supylabel(f"{best} (held out)")
    fig.tight_layout()
    _save(fig, out, "scatter_per_generator.png")
    made.append((cap, "scatter_per_generator.png"))

    # 2. per-generator tau-b bars with CIs: best model vs raw MID (+ ceiling)
    if few and "kendall_tau_b" in pg:
        show = [best] + ([mid] if mid else [])
        fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(gens) + 2), 3.8))
        w = 0.8 / len(show)
        x = np.arange(len(gens))
        for k, name in enumerate(show):
            sub = pg[pg["predictor"] == name].set_index("generator").reindex(gens)
            v = _pg_col(sub, "kendall_tau_b")
            if "kendall_tau_b_low" in sub:
                lo, hi = _pg_col(sub, "kendall_tau_b_low"), _pg_col(sub, "kendall_tau_b_high")
                err = np.nan_to_num(np.vstack([v - lo, hi - v]), nan=0.0).clip(min=0)
            else:
                err = None
            ax.bar(x + k * w, np.nan_to_num(v), w, yerr=err, capsize=2, label=predictor_label(name), color=f"C{k}")
        c, clo, chi = res.ceiling_for("kendall_tau_b")
        if np.isfinite(c):
            ax.axhline(c, color="k", ls="--", lw=1, label="rater ceiling (leave-one-rater-out tau-b)")
            if np.isfinite(clo) and np.isfinite(chi):
                ax.axhspan(clo, chi, color="k", alpha=0.08)
        ax.axhline(0, color="0.5", lw=0.5)
        ax.set_xticks(x + 0.4 - w / 2)
        ax.set_xticklabels(gens, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("within-generator Kendall tau-b\n(bootstrap 95% CI)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        _save(fig, out, "per_generator_tau.png")
        made.append(("Within-generator Kendall tau-b per held-out generator (95% CIs): "
                     f"{best} vs {predictor_label(mid) if mid else 'no baseline'}, dashed line the rater ceiling",
                     "per_generator_tau.png"))

    # 3. pooled measure with CIs for every predictor
    names = list(res.metrics)
    es = [res.metrics[q].get(tau_m) for q in names]
    if all(e is not None for e in es):
        fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(names) + 2), 3.6))
        v = np.array([e.value for e in es], dtype=float)
        lo = np.array([e.low for e in es], dtype=float)
        hi = np.array([e.high for e in es], dtype=float)
        err = np.nan_to_num(np.vstack([v - lo, hi - v]), nan=0.0).clip(min=0)
        ax.bar(range(len(names)), np.nan_to_num(v), yerr=err, capsize=3,
               color=["C0" if q in res.models else ("C3" if q == FLOOR else "C7") for q in names])
        if np.isfinite(ceil):
            ax.axhline(ceil, color="k", ls="--", lw=1, label="rater ceiling")
            ax.legend(fontsize=8)
        ax.axhline(0, color="0.5", lw=0.5)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels([_short_label(q) for q in names], rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(f"pooled held-out {tau_m} (95% CI)")
        fig.tight_layout()
        _save(fig, out, "pooled_tau_ci.png")
        made.append((f"Pooled held-out {tau_m} with bootstrap 95% CIs (models blue, baselines grey, floor red)",
                     "pooled_tau_ci.png"))

    # 4. system-level ranking: rank by human mean vs rank by predicted mean
    if few:
        show = [best] + ([mid] if mid else [])
        fig, axes = plt.subplots(1, len(show), figsize=(4.6 * len(show), 4.2), squeeze=False)
        for ax, name in zip(axes.ravel(), show):
            sub = pg[pg["predictor"] == name].set_index("generator").reindex(gens)
            hr = sub["human_mean"].rank(ascending=False)
            pr = sub["predicted_mean"].rank(ascending=False)
            ax.plot([0.5, len(gens) + 0.5], [0.5, len(gens) + 0.5], color="0.7", lw=0.8)
            ax.scatter(hr, pr)
            for g in gens:
                ax.annotate(g, (hr[g], pr[g]), fontsize=7, xytext=(3, 2), textcoords="offset points")
            ax.set_xlabel("rank by human mean (1 = best)")
            ax.set_ylabel(f"rank by {_short_label(name)} mean")
            ax.set_title(f"{_short_label(name)}: system tau-b {_fmt(res.system.get(name))}", fontsize=9)
            ax.invert_xaxis()
            ax.invert_yaxis()
        fig.tight_layout()
        _save(fig, out, "system_ranking.png")
        made.append(("System-level ranking of the generators: human vs predicted per-generator means",
                     "system_ranking.png"))
    return made


def _short_label(name: str) -> str:
    return {"mid_pmi": "raw MID", "clip_score": "raw CLIPScore", FLOOR: "training mean"}.get(
        name, "Mahalanobis (" + name.split(".")[1] + ")" if name.lstrip("-").startswith("realism.") else name)


# ---------------------------------------------------------------------------------------------
# document model: blocks rendered to markdown and HTML alike. Text from the data (generator names,
# prompts, model names, notes) is marked ("t", text) and escaped by each renderer; our own prose
# may use **bold** and `code`.
# ---------------------------------------------------------------------------------------------
_CEILING_ROWS = (("pairwise_agreement", "pairwise agreement (rater vs rater, ties excluded)"),
                 ("loo_kendall_tau_b", "leave-one-rater-out Kendall tau-b"),
                 ("loo_kendall_tau_c", "leave-one-rater-out Kendall tau-c"),
                 ("loo_spearman", "leave-one-rater-out Spearman"),
                 ("split_half_spearman_brown", "split-half reliability of the mean (Spearman-Brown)"),
                 ("alpha_interval", "Krippendorff's alpha (interval)"),
                 ("alpha_ordinal", "Krippendorff's alpha (ordinal)"))
_COUNT_KEYS = ("n_items", "n_raters", "n_judgments", "n_resamples")


def _ceiling_blocks(res: EvaluationResults) -> list[tuple]:
    c = res.ceiling or {}

    def num(k):
        v = c.get(k)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else float("nan")

    rows = []
    for key, words in _CEILING_ROWS:
        if key in c:
            rows.append([words, f"{_fmt(num(key))} [{_fmt(num(key + '_low'))}, {_fmt(num(key + '_high'))}]"])
    known = {k for k, _ in _CEILING_ROWS} | {f"{k}_{e}" for k, _ in _CEILING_ROWS for e in ("low", "high")}
    known |= set(_COUNT_KEYS) | {"question", "confidence", "mean_raters_per_item"}
    for k, v in c.items():  # statistics this report does not know yet are still shown
        if k not in known and isinstance(v, (int, float)) and not isinstance(v, bool) and not k.endswith(("_low", "_high")):
            rows.append([("t", k), f"{_fmt(v)} [{_fmt(num(k + '_low'))}, {_fmt(num(k + '_high'))}]"])

    def count(k):
        v = c.get(k)
        return f"{int(round(float(v))):,}" if isinstance(v, (int, float)) and np.isfinite(float(v)) else "n/a"

    n_eval = int(res.settings.get("n_items") or len(res.predictions))
    n_ceiling = c.get("n_items")
    cover = (f"The ceiling is computed on {count('n_items')} items ({count('n_judgments')} judgments by "
             f"{count('n_raters')} raters, {_fmt(num('mean_raters_per_item'))} per item on average; CIs from "
             f"{count('n_resamples')} bootstrap resamples of whole items). ")
    if isinstance(n_ceiling, (int, float)) and int(n_ceiling) != n_eval:
        cover += (f"That is every item rated for this question, which is not the same set as the {n_eval:,} "
                  "items evaluated above (e.g. the demo's raters also judged the real reference images, and "
                  "items without features are not evaluated).")
    else:
        cover += f"These are the {n_eval:,} items evaluated above."
    return [("h2", "Rater ceiling"), ("table", ["statistic", "value [95% CI]"], rows), ("p", cover)]


def _sections(sections) -> list[tuple]:
    B: list[tuple] = []
    for sec in sections or []:
        if isinstance(sec, (tuple, list)) and len(sec) == 2:
            B += [("h2", ("t", str(sec[0]))), ("md", str(sec[1]))]
        else:
            B.append(("md", str(sec)))
    return B


def _blocks(res: EvaluationResults, best: str, images: list[tuple[str, str]], title: str,
            extra_sections: Sequence | None, question: str | None = None, others: Sequence = (),
            lead_sections: Sequence | None = None) -> list[tuple]:
    s = res.settings
    mid = _mid_baseline(res)
    measures = res.measures
    B: list[tuple] = [("h1", ("t", title))]
    sentences = [_conclusion_parts(r, question) for r in [res, *others]]
    B.append(("conclusion", sentences))
    B += _sections(lead_sections)
    split = s.get("split", "generator")
    prompts = "" if s.get("n_prompts") is None else f" ({s['n_prompts']} prompts)"
    pf = f", {s.get('n_prompt_folds')} prompt folds" if s.get("n_prompt_folds") else ""
    nested = (f"nested model selection ({s.get('inner_selection')}) on each training part only; "
              if s.get("nested") else "")
    B.append(("p", [f"What this split models: **{s.get('models_case', 'held-out generators')}**. Protocol: "
                    f"{s.get('protocol')} ({s.get('n_folds', '?')} folds{pf}) over {s.get('n_generators')} "
                    f"generators and {s.get('n_items')} items{prompts}; {nested}{s.get('n_resamples')} bootstrap "
                    f"resamples of {s.get('bootstrap_unit')}s (seed {s.get('seed')}), 95% percentile CIs. Best "
                    "model by pooled Kendall tau-b: ", ("t", best), "."]))
    if split == "generator" and s.get("n_prompts") is not None:
        B.append(("p", "Note: under this split the held-out generator's prompts are in training, rendered by other "
                       "generators and labelled; a predictor can learn per-prompt label levels that it will not have "
                       "for a user's own prompts. The crossed split (`--split crossed`) measures that case."))
    if s.get("center_folds"):
        B.append(("p", "Models' held-out predictions are centred per fold (the fold's training-label mean "
                       "subtracted): a refitted model's level follows its training set and is anti-correlated "
                       "with the held-out labels; a model fitted once for deployment has no such offset. Raw "
                       "baselines are not refitted and are unchanged."))
    if int(s.get("n_resamples") or 0) < 1000:
        B.append(("p", f"Note: only {s.get('n_resamples')} bootstrap resamples — preliminary; use ≥ 1,000 for "
                       "reported numbers."))
    for note in s.get("notes") or []:
        B.append(("p", ["Note: ", ("t", str(note)), "."]))
    head = ["predictor", "kind"] + [("t", m) for m in measures]
    rows = []
    for p, ms in res.metrics.items():
        kind = "model" if p in res.models else ("floor" if p == FLOOR else "baseline")
        rows.append([("t", predictor_label(p)), kind] + [_ci(ms[m]) if m in ms else "n/a" for m in measures])
    if res.ceiling:
        crow = ["rater ceiling", "labels"]
        for m in measures:
            c, lo, hi = res.ceiling_for(m)
            crow.append("n/a" if not np.isfinite(c) else f"{_fmt(c)} [{_fmt(lo)}, {_fmt(hi)}]")
        rows.append(crow)
    B += [("h2", "Held-out agreement with human scores"),
          ("p", "Value [95% CI] on the pooled out-of-fold predictions; `system_kendall_tau_b` correlates "
                "per-generator means. The last row is the rater ceiling where the measure has a counterpart: "
                "one rater against the mean of the others (tau-b, tau-c, Spearman) or against another rater "
                "(pairwise agreement). Predictors are scored against the mean of all raters, a less noisy "
                "target, so they can exceed it: read it as the agreement of one more human rater."),
          ("table", head, rows)]
    if res.comparisons:
        B += [("h2", "Model vs baseline (paired bootstrap of the difference)"),
              ("table", ["model", "baseline", "measure", "difference [95% CI]", "verdict", "P(not better)"],
               [[("t", a), ("t", predictor_label(b)), m, _ci(e), _verdict(e), _fmt(res.p_not_better[(a, b, m)])]
                for (a, b, m), e in res.comparisons.items()])]
    pg = res.per_generator
    units = list(dict.fromkeys(pg["generator"])) if len(pg) else []
    if len(units) > MAX_UNITS_PLOTTED:
        B += [("h2", "Per held-out unit"),
              ("p", f"{len(units):,} held-out units (each with {int(pg['n'].median()) if 'n' in pg else '?'} items "
                    "on median): too many to list; within-unit agreement is in `results.json` "
                    "(`per_generator`).")]
    elif units:
        show = [best] + ([mid] if mid else []) + [FLOOR]
        head = ["generator", "n", "human mean"]
        for q in show:
            head += [("t", f"{_short_label(q)} tau-b"), ("t", f"{_short_label(q)} 2AFC")]
        rows = []
        for g in units:
            r0 = pg[pg["generator"] == g].set_index("predictor")
            row = [("t", str(g)), str(int(r0["n"].iloc[0])), _fmt(r0["human_mean"].iloc[0])]
            for q in show:
                if q in r0.index:
                    rq = r0.loc[q]
                    tau, lo, hi = (rq.get(k) for k in ("kendall_tau_b", "kendall_tau_b_low", "kendall_tau_b_high"))
                    ok = lo is not None and np.isfinite(float(lo)) if lo is not None else False
                    row += [_fmt(tau) + (f" [{_fmt(lo)}, {_fmt(hi)}]" if ok else ""),
                            _fmt(rq.get("pairwise_accuracy"))]
                else:
                    row += ["n/a", "n/a"]
            rows.append(row)
        B += [("h2", "Per held-out generator (within-generator agreement)"), ("table", head, rows),
              ("p", f"`{FLOOR}` predicts the fold's training mean: constant within a generator under the "
                    "generator split, so its within-generator correlations are undefined (n/a) and its 2AFC "
                    "accuracy is 0.5. Pooled over folds it is not constant — holding out a generator with high "
                    "scores lowers the training mean — so its pooled correlations above are typically negative: "
                    "the leave-one-out shift, not skill.")]
    if res.ceiling:
        B += _ceiling_blocks(res)
    cp = res.chosen_params
    if cp:
        rows = [[("t", m), ("t", str(g)), ("t", ", ".join(f"{k}={v}" for k, v in d["params"].items())),
                 _fmt(d["inner_kendall_tau_b"])] for m, per in cp.items() for g, d in per.items()]
        B += [("h2", "Nested model selection (chosen per outer fold)"),
              ("table", ["model", "held-out fold", "chosen parameters", "inner tau-b"], rows)]
    B.append(("p", f"Tie policy: {s.get('tie_policy')}."))
    if images:
        B.append(("h2", "Plots"))
    for cap, fn in images:
        B.append(("img", cap, fn))
    return B + _sections(extra_sections)


def _verdict(e) -> str:
    return "n/a" if not np.isfinite(e.low) else ci_verdict(e.low, e.high)


# -- rendering --------------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_escape(text: str) -> str:
    """Escape data text for markdown: HTML-significant characters as entities (so ``<script>`` in a
    generator name or prompt stays text in any markdown renderer) and markdown punctuation with a
    backslash (``\\ ` * _ [ ] | ~``: emphasis, code, links, table cells); newlines become spaces."""
    t = html.escape(str(text), quote=False).replace("\n", " ").replace("\r", " ")
    return _MD_SPECIAL.sub(r"\\\1", t)


def _md(x) -> str:
    if isinstance(x, tuple) and len(x) == 2 and x[0] == "t":
        return md_escape(x[1])
    if isinstance(x, list):
        return "".join(_md(v) for v in x)
    return str(x)


def _html(x) -> str:
    if isinstance(x, tuple) and len(x) == 2 and x[0] == "t":
        return html.escape(str(x[1]))
    if isinstance(x, list):
        return "".join(_html(v) for v in x)
    return _inline_html(str(x))


def _md_cell(v) -> str:
    if isinstance(v, (tuple, list)):  # data text: md_escape already escaped "|"
        return _md(v)
    return str(v).replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: list[tuple]) -> str:
    out = []
    for b in blocks:
        kind = b[0]
        if kind == "h1":
            out += [f"# {_md(b[1])}", ""]
        elif kind == "h2":
            out += [f"## {_md(b[1])}", ""]
        elif kind == "conclusion":
            out += ["**Conclusion.**", ""] + [f"* {_md(parts)}" for parts in b[1]] + [""]
        elif kind == "p":
            out += [_md(b[1]), ""]
        elif kind == "md":
            out += [b[1], ""]
        elif kind == "table":
            out.append("| " + " | ".join(_md_cell(h) for h in b[1]) + " |")
            out.append("|" + "---|" * len(b[1]))
            out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in b[2]]
            out.append("")
        elif kind == "img":
            out += [f"![{md_escape(b[1])}]({b[2]})", "", f"*{md_escape(b[1])}*", ""]
    return "\n".join(out).rstrip() + "\n"


def frame_markdown(df, floatfmt: str = ".3f") -> str:
    """A DataFrame as a markdown table (floats formatted with ``floatfmt``; no optional ``tabulate`` needed)."""
    def cell(v):
        return format(v, floatfmt) if isinstance(v, float) else str(v)

    return render_markdown([("table", [str(c) for c in df.columns],
                             [[cell(v) for v in row] for row in df.itertuples(index=False)])]).rstrip("\n")


def _inline_html(text: str) -> str:
    t = html.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", t)


def _render_html(blocks: list[tuple], out: Path, title: str) -> str:
    body = []
    for b in blocks:
        kind = b[0]
        if kind == "h1":
            body.append(f"<h1>{_html(b[1])}</h1>")
        elif kind == "h2":
            body.append(f"<h2>{_html(b[1])}</h2>")
        elif kind == "conclusion":
            body.append("<div class='conclusion' id='conclusion'><strong>Conclusion.</strong><ul>"
                        + "".join(f"<li>{_html(parts)}</li>" for parts in b[1]) + "</ul></div>")
        elif kind == "p":
            body.append(f"<p>{_html(b[1])}</p>")
        elif kind == "md":  # caller-supplied markdown: shown verbatim, escaped
            body.append(f"<div class='md'>{_inline_html(b[1]).replace(chr(10) + chr(10), '<br><br>')}</div>")
        elif kind == "table":
            head = "".join(f"<th>{_html(h)}</th>" for h in b[1])
            rows = "".join("<tr>" + "".join(f"<td>{_html(c)}</td>" for c in r) + "</tr>" for r in b[2])
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif kind == "img":
            b64 = base64.b64encode((out / b[2]).read_bytes()).decode()
            body.append(f"<figure><img alt='{html.escape(b[1], quote=True)}' src='data:image/png;base64,{b64}'/>"
                        f"<figcaption>{html.escape(b[1])}</figcaption></figure>")
    style = ("body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}"
             ".conclusion{background:#f5f8ff;border-left:4px solid #36c;padding:0.3em 1em}"
             "table{border-collapse:collapse;font-size:13px;margin:0.5em 0}"
             "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}th{background:#f3f3f3}"
             "img{max-width:100%}figcaption{font-style:italic;font-size:13px}")
    return (f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def report_title(res: EvaluationResults, title: str) -> str:
    """``title`` followed by what the split models, e.g. "… — a new generator on new prompts (crossed split)"."""
    split = res.settings.get("split", "generator")
    case = res.settings.get("models_case")
    return f"{title} — {case} ({split} split)" if case else title


def _cached_plots(results: EvaluationResults, out: Path, best: str, plot_cache: Path | None, text: str):
    """:func:`_plots`, or copies of the PNGs an earlier call made for the same results, model and plotting code
    (key: the results JSON, the model, the matplotlib version and this module's source)."""
    if plot_cache is None:
        return _plots(results, out, best)
    return cached_drawing(plot_cache, (text, best, Path(__file__).read_text()), out,
                          lambda: _plots(results, out, best))


def cached_drawing(plot_cache, key_parts, out: Path, draw):
    """``draw()`` — which writes files into ``out`` and returns ``[(caption, file name), ...]`` — or copies of
    the files an earlier call made for the same ``key_parts`` (strings: the data drawn and the drawing code's
    source) and matplotlib version (``plot_cache/<key>/``: the files and ``captions.json``, written last)."""
    import hashlib
    import json as _json
    import shutil

    import matplotlib

    from ..io import atomic_path, atomic_write_json

    h = hashlib.sha256()
    for part in (*key_parts, matplotlib.__version__):
        h.update(str(part).encode())
        h.update(b"\0")
    slot = Path(plot_cache) / h.hexdigest()[:32]
    try:
        made = [tuple(c) for c in _json.loads((slot / "captions.json").read_text())]
        for _, fn in made:
            with atomic_path(Path(out) / fn) as tmp:
                shutil.copyfile(slot / fn, tmp)
        return made
    except (OSError, ValueError, TypeError):
        pass  # no (complete) entry: draw
    made = draw()
    try:
        slot.mkdir(parents=True, exist_ok=True)
        for _, fn in made:
            with atomic_path(slot / fn) as tmp:
                shutil.copyfile(Path(out) / fn, tmp)
        atomic_write_json(slot / "captions.json", [list(c) for c in made])  # last: marks the entry complete
    except OSError as exc:  # a cache that cannot be written only costs time
        log.warning("plot cache %s not written: %s", slot, exc)
    return made


def _featured(results: EvaluationResults) -> str:
    """The model a report features by default: the best by pooled tau-b (or by its first measure)."""
    return results.best_model("kendall_tau_b" if "kendall_tau_b" in results.measures else results.measures[0])


def draw_plots(results: EvaluationResults, plot_cache: str | os.PathLike, *, model: str | None = None) -> None:
    """Draw the plots :func:`write_report` would draw for ``results`` into ``plot_cache`` only, so that a worker
    process draws them beside the others' work and the report then copies them (the demo's evaluations)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        _cached_plots(results, Path(tmp), model or _featured(results), Path(plot_cache), results.to_json())


def write_report(results: EvaluationResults, out_dir: str | os.PathLike, *, title: str = "judgenet evaluation",
                 extra_sections: Sequence | None = None, model: str | None = None, question: str | None = None,
                 others: Sequence[EvaluationResults] = (), plot_cache: str | os.PathLike | None = None,
                 lead_sections: Sequence | None = None) -> Path:
    """Write ``results.json``, the PNG plots, ``report.md`` and a standalone ``report.html``
    (images embedded as base64) into ``out_dir``; every file is written atomically.

    Args:
        results: an :class:`EvaluationResults` (from :func:`judgenet.evaluation.evaluate` or
            :func:`load_results`).
        out_dir: directory (created if missing).
        title: report title; the split and what it models are appended.
        extra_sections: markdown strings, or ``(heading, markdown)`` pairs, appended at the end.
        lead_sections: the same, placed right after the conclusion (e.g. the check against raw baselines).
        model: the model the plots and per-generator table feature; default the best by pooled tau-b.
        question: named in the conclusion sentence (e.g. ``"realism"``).
        others: results of the same question on other splits; their conclusion sentences open the
            report too (the demo passes the other split).
        plot_cache: a folder where the PNGs are kept by content (results, model, plotting code): a later
            call with the same results copies them instead of drawing (the demo's warm runs).

    Returns:
        Path of ``report.md``.
    """
    from ..io import atomic_write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = results.to_json()
    atomic_write_text(out / RESULTS_FILE, text)
    best = model or _featured(results)
    images = _cached_plots(results, out, best, plot_cache, text)
    full_title = report_title(results, title)
    blocks = _blocks(results, best, images, full_title, extra_sections, question, others, lead_sections)
    atomic_write_text(out / "report.md", render_markdown(blocks))
    atomic_write_text(out / "report.html", _render_html(blocks, out, full_title))
    return out / "report.md"
