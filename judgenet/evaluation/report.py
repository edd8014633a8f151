"""Write an evaluation report: ``report.md``, standalone ``report.html``, ``results.json`` and PNG plots.

Every number comes from the :class:`EvaluationResults` object; :func:`load_results` reads
``results.json`` back so ``judgenet report RUN_DIR`` can rebuild the report.
"""
from __future__ import annotations

import base64
import html
import os
from pathlib import Path

import numpy as np

from .protocol import EvaluationResults

__all__ = ["write_report", "load_results"]


def load_results(run_dir: str | os.PathLike) -> EvaluationResults:
    """Read ``<run_dir>/results.json``."""
    return EvaluationResults.from_json(Path(run_dir) / "results.json")


def _fmt(v) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.3f}"


def _plots(res: EvaluationResults, out: Path, best: str) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    p = res.predictions
    gens = list(dict.fromkeys(p["generator"]))
    # 1. predicted vs human per held-out generator
    cols = min(4, len(gens))
    rows = int(np.ceil(len(gens) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    for ax, g in zip(axes.ravel(), gens):
        sub = p[p["generator"] == g]
        ax.scatter(sub["y"], sub[best], s=8, alpha=0.6)
        ax.set_title(g, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(gens):]:
        ax.axis("off")
    fig.supxlabel("human score")
    fig.supylabel(f"{best} (held out)")
    fig.tight_layout()
    fig.savefig(out / "scatter_per_generator.png", dpi=90)
    plt.close(fig)
    made.append(("Predicted vs human score, per held-out generator", "scatter_per_generator.png"))
    # 2. per-generator tau-b bars: best model vs raw MID (+ ceiling line)
    pg = res.per_generator
    show = [best] + [b for b in ("mid_pmi",) if b in res.baselines]
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(gens)), 3.5))
    w = 0.8 / len(show)
    for k, name in enumerate(show):
        vals = [pg[(pg["predictor"] == name) & (pg["generator"] == g)]["kendall_tau_b"].iloc[0] for g in gens]
        ax.bar(np.arange(len(gens)) + k * w, vals, w, label=name)
    ceiling = (res.ceiling or {}).get("loo_kendall_tau_b")
    if ceiling is not None and np.isfinite(ceiling):
        ax.axhline(ceiling, color="k", ls="--", lw=1, label="rater ceiling (LOO tau-b)")
    ax.set_xticks(np.arange(len(gens)) + 0.4 - w / 2)
    ax.set_xticklabels(gens, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("within-generator Kendall tau-b")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "per_generator_tau.png", dpi=90)
    plt.close(fig)
    made.append(("Within-generator agreement: best model vs raw MID", "per_generator_tau.png"))
    # 3. pooled measures with CIs
    fig, ax = plt.subplots(figsize=(7, 3.5))
    preds = res.models + [b for b in res.baselines if b != "training_mean"]
    vals = [res.metrics[q]["kendall_tau_b"] for q in preds]
    ax.bar(range(len(preds)), [e.value for e in vals],
           yerr=[[e.value - e.low for e in vals], [e.high - e.value for e in vals]], capsize=3,
           color=["C0" if q in res.models else "C7" for q in preds])
    if ceiling is not None and np.isfinite(ceiling):
        ax.axhline(ceiling, color="k", ls="--", lw=1, label="rater ceiling")
        ax.legend(fontsize=8)
    ax.set_xticks(range(len(preds)))
    ax.set_xticklabels(preds, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("held-out Kendall tau-b (95% CI)")
    fig.tight_layout()
    fig.savefig(out / "pooled_tau_ci.png", dpi=90)
    plt.close(fig)
    made.append(("Held-out Kendall tau-b with bootstrap 95% CIs", "pooled_tau_ci.png"))
    # 4. system-level ranking
    hm = pg[pg["predictor"] == best].set_index("generator")
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(hm["human_mean"], hm["predicted_mean"])
    for g, r in hm.iterrows():
        ax.annotate(g, (r["human_mean"], r["predicted_mean"]), fontsize=7)
    ax.set_xlabel("human mean per generator")
    ax.set_ylabel(f"{best} mean per generator")
    ax.set_title(f"system-level tau-b = {_fmt(res.system[best])}")
    fig.tight_layout()
    fig.savefig(out / "system_ranking.png", dpi=90)
    plt.close(fig)
    made.append(("System-level ranking of generators", "system_ranking.png"))
    return made


def write_report(res: EvaluationResults, out_dir: str | os.PathLike, *, title: str = "judgenet evaluation",
                 extra_sections: list[str] | None = None) -> Path:
    """Write the report files into ``out_dir``; returns the path of ``report.md``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    res.to_json(out / "results.json")
    best = res.best_model("kendall_tau_b")
    images = _plots(res, out, best)
    measures = list(next(iter(res.metrics.values())).keys())
    md = [f"# {title}", "",
          f"Protocol: {res.settings.get('protocol')} over {res.settings.get('n_generators')} generators, "
          f"{res.settings.get('n_items')} items; {res.settings.get('n_resamples')} bootstrap resamples of "
          f"{res.settings.get('bootstrap_unit')}s; 95% percentile CIs. Best model by tau-b: **{best}**.", "",
          "| predictor | kind | " + " | ".join(measures) + " | system tau-b |",
          "|---|---|" + "---|" * (len(measures) + 1)]
    for p, ms in res.metrics.items():
        kind = "model" if p in res.models else "baseline"
        cells = [f"{_fmt(e.value)} [{_fmt(e.low)}, {_fmt(e.high)}]" for e in ms.values()]
        md.append(f"| {p} | {kind} | " + " | ".join(cells) + f" | {_fmt(res.system[p])} |")
    md += ["", "## Model vs baseline (paired bootstrap of the difference)", "",
           "| model | baseline | measure | difference [95% CI] | P(not better) |", "|---|---|---|---|---|"]
    for (a, b, m), e in res.comparisons.items():
        md.append(f"| {a} | {b} | {m} | {_fmt(e.value)} [{_fmt(e.low)}, {_fmt(e.high)}] | "
                  f"{_fmt(res.p_not_better[(a, b, m)])} |")
    if res.ceiling:
        md += ["", "## Rater ceiling", "", "| statistic | value |", "|---|---|"]
        for k, v in res.ceiling.items():
            md.append(f"| {k} | {_fmt(v) if isinstance(v, (int, float)) else html.escape(str(v))} |")
    md += ["", "## Plots", ""] + [f"![{cap}]({fn})\n\n*{cap}*\n" for cap, fn in images]
    md += list(extra_sections or [])
    text = "\n".join(md) + "\n"
    (out / "report.md").write_text(text)
    body = [f"<h1>{html.escape(title)}</h1>", "<pre style='white-space:pre-wrap'>",
            html.escape("\n".join(md[2:md.index('## Plots')])), "</pre>"]
    for cap, fn in images:
        b64 = base64.b64encode((out / fn).read_bytes()).decode()
        body.append(f"<figure><img src='data:image/png;base64,{b64}'/><figcaption>{html.escape(cap)}</figcaption>"
                    "</figure>")
    (out / "report.html").write_text("<!doctype html><meta charset='utf-8'><title>" + html.escape(title) +
                                     "</title><body style='font-family:sans-serif;max-width:1100px'>" +
                                     "\n".join(body) + "</body>")
    return out / "report.md"
