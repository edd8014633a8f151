"""Learned vs raw on real judgments: THumB 1.0 (5 captioning systems x 500 COCO images).

Text features per caption (:func:`thumb_features`): the reference metrics (BLEU-1..4, ROUGE-L,
CIDEr-D, METEOR), sentence-encoder similarity to the references (max, mean, min, std), lengths
(candidate tokens, mean reference tokens, their ratio) and the candidate's sentence embedding
(reduced by a PCA fitted inside each training fold — see :func:`learned_models`).

Protocol (:func:`thumb_learned_vs_raw`): :func:`judgenet.evaluation.evaluate` with the captioning
system as the generator and the image as the prompt, for two splits —

* ``generator``: leave one system out; the held-out system's images stay in training with the
  *other* systems' human scores (a new system on images that already have human scores);
* ``crossed``: hold out the system **and** a fold of images (a new system on new images).

Nested model selection runs the same split inside each training part. The raw-metric competitor
(:class:`BestRawMetric`) picks, on each training part only, the raw metric with the highest
Kendall tau-b with the human scores, and is compared with each learned model by a paired
bootstrap over whole images; the raw sentence-encoder similarity (:data:`RAW_TEXTSIM`) is a second
competitor. The table in docs/real-labels.md is written by::

    python -m judgenet.captions.learned --label-root ../shared/label-sets --out runs/thumb-learned
"""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin

from ..errors import ConfigError
from ..stats import kendall_tau_b, paired_bootstrap

__all__ = ["BestRawMetric", "thumb_features", "learned_models", "thumb_learned_vs_raw", "within_system_comparison",
           "learned_table", "learned_markdown", "RAW_METRICS", "RAW_TEXTSIM"]

log = logging.getLogger(__name__)

RAW_METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr-D", "METEOR")
RAW_TEXTSIM = "textsim-mean"
"""The sentence-encoder similarity used raw (mean cosine of the caption with its references): the
strongest raw score on THumB, reported as a second competitor (not part of the best-raw choice)."""


class BestRawMetric(RegressorMixin, BaseEstimator):
    """The "best raw metric chosen on training folds only" competitor: on the data it is fitted on,
    picks the raw metric column with the highest Kendall tau-b with ``y`` and maps it linearly onto
    the human scale (least squares ``y ≈ a + b·x`` on the same data).

    The linear map changes nothing within a fold (``b > 0``), but the held-out predictions of
    different folds are pooled: without it a metric chosen differently per fold mixes scales (on
    THumB, METEOR in four folds and CIDEr-D in the Human fold gave a pooled tau-b of 0.28 against
    0.15 for either metric alone, and system-level tau 1.0, from the scales alone).

    Args:
        columns: indices of the candidate columns in X. names: their names (for reports).
        calibrate: ``"linear"`` (default) or ``"none"`` (the raw column).
    Fitted: ``column_`` (index into X), ``name_``, ``train_tau_``, ``coef_`` (a, b).
    """

    def __init__(self, columns: Sequence[int] = (), names: Sequence[str] = (), calibrate: str = "linear"):
        self.columns = columns
        self.names = names
        self.calibrate = calibrate

    def fit(self, X, y):
        if self.calibrate not in ("linear", "none"):
            raise ConfigError(f"calibrate must be 'linear' or 'none', got {self.calibrate!r}")
        X = np.asarray(X, np.float64)
        y = np.asarray(y, np.float64)
        cols = list(self.columns) or list(range(X.shape[1]))
        taus = [kendall_tau_b(y, X[:, c]) if np.ptp(X[:, c]) > 0 else -np.inf for c in cols]
        best = int(np.nanargmax(taus))
        self.column_ = cols[best]
        self.name_ = list(self.names)[best] if len(self.names) == len(cols) else str(self.column_)
        self.train_tau_ = float(taus[best])
        x = X[:, self.column_]
        if self.calibrate == "linear":
            b = float(np.cov(x, y, bias=True)[0, 1] / np.var(x))
            self.coef_ = (float(y.mean() - b * x.mean()), b)
        else:
            self.coef_ = (0.0, 1.0)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        a, b = self.coef_
        return a + b * np.asarray(X, np.float64)[:, self.column_]


def thumb_features(inst, scores: dict[str, np.ndarray], emb) -> tuple[np.ndarray, list[str]]:
    """Feature matrix (n, p) float64 and names from THumB instances, their metric ``scores`` and the
    sentence embeddings ``emb`` (:class:`~judgenet.captions.textsim.TextEmbeddings`)."""
    cands = inst.frame["candidate"].tolist()
    cols, names = [], []
    for m in RAW_METRICS:
        if m in scores:
            cols.append(scores[m])
            names.append(m)
    c = emb.rows(cands)
    sims = [emb.rows(rs) @ c[i] for i, rs in enumerate(inst.references)]
    for fn, nm in ((np.max, "max"), (np.mean, "mean"), (np.min, "min"), (np.std, "std")):
        cols.append(np.array([fn(s) for s in sims]))
        names.append(f"textsim-{nm}")
    cl = np.array([len(x.split()) for x in cands], np.float64)
    rl = np.array([np.mean([len(r.split()) for r in rs]) for rs in inst.references])
    cols += [cl, rl, cl / rl]
    names += ["len-candidate", "len-references", "len-ratio"]
    X = np.column_stack(cols + [c])
    names += [f"emb{j}" for j in range(c.shape[1])]
    return X, names


def learned_models(feature_names: Sequence[str], *, n_pca: int = 16, seed: int = 0) -> tuple[dict, dict]:
    """``({name: estimator}, {name: param_grid})``: ridge and gradient boosting on the scalar features
    plus a PCA (fitted per training fold) of the embedding columns, and the best-raw competitor."""
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    emb = [i for i, n in enumerate(feature_names) if n.startswith("emb")]
    scal = [i for i, n in enumerate(feature_names) if not n.startswith("emb")]
    raw = [i for i, n in enumerate(feature_names) if n in RAW_METRICS]

    def prep():
        return ColumnTransformer([("scalar", StandardScaler(), scal),
                                  ("emb", Pipeline([("pca", PCA(n_pca, svd_solver="full")),
                                                    ("scale", StandardScaler())]), emb)])

    models = {"ridge": Pipeline([("prep", prep()), ("model", Ridge())]),
              "gbr": Pipeline([("prep", prep()), ("model", HistGradientBoostingRegressor(random_state=seed))]),
              "best_raw": BestRawMetric(raw, [feature_names[i] for i in raw])}
    grids = {"ridge": {"model__alpha": [1.0, 10.0, 100.0, 1000.0]},
             "gbr": {"model__max_depth": [2, 4], "model__learning_rate": [0.1], "model__max_iter": [100]}}
    return models, grids


def thumb_learned_vs_raw(root=None, *, text_backbone="text:all-MiniLM-L6-v2", splits=("generator", "crossed"),
                         n_prompt_folds: int = 5, n_resamples: int = 1000, seed: int = 0, cache_dir=None,
                         n_jobs: int = 1, threads: int | None = 1, n_pca: int = 16) -> dict:
    """Run the THumB learned-vs-raw protocol (module docstring) for each split.

    ``threads`` (default 1) caps BLAS/OpenMP threads while models fit: on a shared machine
    gradient boosting's OpenMP pool otherwise spins against other processes (measured: many times
    slower under load).

    Returns ``{split: {"results": EvaluationResults, "vs_best_raw": {model: paired bootstrap dict},
    "within": within-system comparison vs best raw, "within_vs_textsim": the same vs the raw
    sentence-encoder similarity (:data:`RAW_TEXTSIM`), "chosen_raw": {fold: metric},
    "system": {predictor: system tau-b}}}`` plus ``"features"`` (names).
    """
    from ..backbones import load_backbone
    from ..evaluation import evaluate
    from .protocols import thumb_instances
    from .refmetrics import reference_metrics
    from .textsim import embed_texts

    inst = thumb_instances(root, rows="all")
    f = inst.frame
    rm = reference_metrics(f["candidate"].tolist(), inst.references, RAW_METRICS)
    tb = load_backbone(text_backbone) if isinstance(text_backbone, str) else text_backbone
    emb = embed_texts(f["candidate"].tolist() + [r for rs in inst.references for r in rs], tb, cache_dir)
    X, names = thumb_features(inst, rm.scores, emb)
    y = f["human"].to_numpy(np.float64)
    systems = f["system"].to_numpy().astype(str)
    images = f["image"].to_numpy().astype(str)
    models, grids = learned_models(names, n_pca=n_pca, seed=seed)
    baselines = [m for m in RAW_METRICS if m in names] + [RAW_TEXTSIM]
    out: dict = {"features": names, "notices": rm.notices, "n": int(len(y)), "text_backbone": tb.name}
    for split in splits:
        if split not in ("generator", "crossed"):
            raise ConfigError(f"split must be generator or crossed, got {split!r}")
        res = evaluate(X, y, systems, names, models, prompts=images, split=split, n_prompt_folds=n_prompt_folds,
                       baselines=baselines, n_resamples=n_resamples, seed=seed, param_grid=grids, n_jobs=n_jobs,
                       threads=threads)
        pr = res.predictions
        h = pr["y"].to_numpy(np.float64)
        grp = np.asarray(images)[pr["item"].to_numpy()]
        vs = {}
        for m in ("ridge", "gbr"):
            vs[m] = {meas: paired_bootstrap(meas, h, pr[m].to_numpy(np.float64), pr["best_raw"].to_numpy(np.float64),
                                            groups=grp, n_resamples=n_resamples, seed=seed)
                     for meas in ("kendall_tau_b", "pearson")}
        chosen = _chosen_raw(X, y, systems, images, names, split, n_prompt_folds, seed)
        preds = {m: pr[m].to_numpy(np.float64) for m in ("ridge", "gbr", "best_raw", RAW_TEXTSIM)}
        gen = pr["generator"].to_numpy().astype(str)
        within = within_system_comparison(h, preds, gen, grp, baseline="best_raw", n_resamples=n_resamples, seed=seed)
        within_textsim = within_system_comparison(h, preds, gen, grp, baseline=RAW_TEXTSIM, n_resamples=n_resamples,
                                                  seed=seed)
        out[split] = {"results": res, "vs_best_raw": vs, "within": within, "within_vs_textsim": within_textsim,
                      "chosen_raw": chosen, "system": res.system}
    return out


def within_system_comparison(human, preds: dict, systems, groups, *, baseline: str, n_resamples: int = 1000,
                             seed: int = 0, confidence: float = 0.95) -> dict:
    """Mean over systems of the within-system Kendall tau-b, per predictor, and each predictor minus
    ``baseline`` — a paired bootstrap resampling whole ``groups`` (images). Unlike the pooled tau-b
    it ignores how held-out folds are placed relative to each other (a model's training-set offset,
    a raw metric's scale), so it compares orderings *within* a new system only.
    Returns ``{name: {"value", "low", "high"[, "diff", "diff_low", "diff_high", "p_not_better"]}}``."""
    from ..stats import _group_index, _percentile
    h = np.asarray(human, np.float64)
    systems = np.asarray(systems)
    names = list(preds)
    P = np.column_stack([np.asarray(preds[n], np.float64) for n in names])
    levels = list(dict.fromkeys(systems.tolist()))

    def stat(idx):
        out = np.zeros(len(names))
        for s_ in levels:
            sel = idx[systems[idx] == s_]
            out += np.array([kendall_tau_b(h[sel], P[sel, j]) for j in range(len(names))])
        return out / len(levels)

    point = stat(np.arange(h.size))
    blocks = _group_index(h.size, groups)
    rng = np.random.default_rng(seed)
    boots = np.empty((n_resamples, len(names)))
    for r in range(n_resamples):
        pick = rng.integers(0, len(blocks), size=len(blocks))
        boots[r] = stat(np.concatenate([blocks[i] for i in pick]))
    b = names.index(baseline)
    res = {}
    for j, n in enumerate(names):
        lo, hi = _percentile(boots[:, j], confidence)
        res[n] = {"value": float(point[j]), "low": lo, "high": hi}
        if j != b:
            d = boots[:, j] - boots[:, b]
            dlo, dhi = _percentile(d, confidence)
            res[n].update({"diff": float(point[j] - point[b]), "diff_low": dlo, "diff_high": dhi,
                           "p_not_better": float(np.mean(d <= 0))})
    return res


def _chosen_raw(X, y, systems, images, names, split, n_prompt_folds, seed) -> dict:
    """Which raw metric the best-raw competitor picks on each outer training part."""
    from ..evaluation import make_folds
    raw = [i for i, n in enumerate(names) if n in RAW_METRICS]
    out = {}
    for fold in make_folds(systems, images, split=split, n_prompt_folds=n_prompt_folds, seed=seed):
        m = BestRawMetric(raw, [names[i] for i in raw]).fit(X[fold.train], y[fold.train])
        out[fold.name] = m.name_
    return out


def learned_table(out: dict) -> pd.DataFrame:
    """Tidy table: split, predictor, tau-b [CI], Pearson [CI], system tau-b, and vs best-raw."""
    rows = []
    for split in ("generator", "crossed"):
        if split not in out:
            continue
        res = out[split]["results"]
        for p, ms in res.metrics.items():
            r = {"split": split, "predictor": p}
            for meas in ("kendall_tau_b", "pearson", "system_kendall_tau_b"):
                if meas in ms:
                    e = ms[meas]
                    r[meas] = e.value
                    r[f"{meas}_low"], r[f"{meas}_high"] = e.low, e.high
            vs = out[split]["vs_best_raw"].get(p)
            if vs:
                d = vs["kendall_tau_b"]["difference"]
                r.update({"tau_b_minus_best_raw": d.value, "diff_low": d.low, "diff_high": d.high,
                          "p_not_better": vs["kendall_tau_b"]["p_not_better"]})
            rows.append(r)
    return pd.DataFrame(rows)


_SPLIT_TITLE = {"generator": "(a) new system, scored images", "crossed": "(b) new system, new images"}


def learned_markdown(out: dict, *, raw_rows: Sequence[str] = ("METEOR", "CIDEr-D")) -> str:
    """The held-out table (docs/real-labels.md, "THumB: learned vs raw") from :func:`thumb_learned_vs_raw`'s output:
    per split and predictor the pooled tau-b [CI] and Pearson, the mean within-system tau-b [CI], its
    difference from the best raw n-gram metric and from the raw sentence-encoder similarity (paired
    bootstrap over images, with the share of resamples where the predictor is not better) and the
    system-level tau-b (n = 5)."""
    from .benchmark import signed

    def ci(v, lo, hi, sign=False):
        f = (lambda x: signed(x, 3)) if sign else "{:.3f}".format
        return f"{f(v)} [{f(lo)}, {f(hi)}]"

    head = ["split", "predictor", "pooled tau-b [95% CI]", "pooled Pearson", "within-system tau-b, mean of 5 [95% CI]",
            "within − best raw [95% CI]", "p(not better)", f"within − {RAW_TEXTSIM} raw [95% CI]", "p(not better)",
            "system tau-b (n=5)"]
    from .textsim import training_caveat

    caveat = training_caveat(out.get("text_backbone", "all-MiniLM-L6-v2"))
    lines = ["# THumB: learned predictors vs raw caption metrics on held-out systems", "",
             "Predictors are fitted on four of THumB's five captioning systems and scored on the fifth (Kendall "
             "tau-b with the human total score; 95% CIs by bootstrap over images). Split (a) holds out a system on "
             "images whose other captions were seen in training; (b) holds out a system *and* its images. "
             "'within' is the mean of the five systems' own tau-b (ranking captions of one system); the differences "
             "are paired over the same resamples.", ""]
    if caveat:
        lines += [f"Caveat: {caveat} — the {RAW_TEXTSIM} row and the predictors using it carry that caveat.", ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    label = {"best_raw": "best raw n-gram (chosen on training part, linear map)",
             RAW_TEXTSIM: f"{RAW_TEXTSIM} (MiniLM, raw{'; caption-trained, may be inflated' if caveat else ''})"}
    for split in ("generator", "crossed"):
        if split not in out:
            continue
        res, w, wt = out[split]["results"], out[split]["within"], out[split].get("within_vs_textsim", {})
        for p in ["ridge", "gbr", "best_raw", RAW_TEXTSIM, *raw_rows]:
            if p not in res.metrics:
                continue
            ms = res.metrics[p]
            tb, pe = ms["kendall_tau_b"], ms.get("pearson")
            row = [_SPLIT_TITLE[split], label.get(p, p), ci(tb.value, tb.low, tb.high),
                   f"{pe.value:.3f}" if pe is not None else ""]
            if p in w:
                row.append(ci(w[p]["value"], w[p]["low"], w[p]["high"]))
                row += ([ci(w[p]["diff"], w[p]["diff_low"], w[p]["diff_high"], True), f"{w[p]['p_not_better']:.3f}"]
                        if "diff" in w[p] else ["—", ""])
                row += ([ci(wt[p]["diff"], wt[p]["diff_low"], wt[p]["diff_high"], True),
                         f"{wt[p]['p_not_better']:.3f}"] if p in wt and "diff" in wt[p] else ["—", ""])
            else:
                row += ["", "", "", "", ""]
            sy = ms.get("system_kendall_tau_b")
            row.append(f"{sy.value:.1f}" if sy is not None else "")
            lines.append("| " + " | ".join(row) + " |")
    chosen = {split: sorted(set(out[split]["chosen_raw"].values())) for split in ("generator", "crossed") if split in out}
    lines += ["", "Best raw metric chosen on the training parts: "
              + "; ".join(f"{_SPLIT_TITLE[k]}: {', '.join(v)}" for k, v in chosen.items())]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    """``python -m judgenet.captions.learned``: run :func:`thumb_learned_vs_raw` on the THumB files and
    write ``thumb-learned.md`` / ``.json`` (the table in docs/real-labels.md) into ``--out``."""
    import argparse
    import json
    import os
    import time
    from pathlib import Path

    from ..io import atomic_write_json, atomic_write_text, to_jsonable
    ap = argparse.ArgumentParser(prog="python -m judgenet.captions.learned", description=main.__doc__)
    ap.add_argument("--label-root", default=None, help="label-sets folder ($JUDGENET_LABEL_SETS)")
    ap.add_argument("--out", required=True, help="folder for thumb-learned.md / .json")
    ap.add_argument("--text-backbone", default="text:all-MiniLM-L6-v2")
    ap.add_argument("--prompt-folds", type=int, default=3, help="image folds of the crossed split (default 3)")
    ap.add_argument("--n-resamples", type=int, default=1000)
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", default=None, help="feature cache ($JUDGENET_CACHE_DIR)")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    out = thumb_learned_vs_raw(a.label_root, text_backbone=a.text_backbone, n_prompt_folds=a.prompt_folds,
                               n_resamples=a.n_resamples, seed=a.seed, cache_dir=a.cache, n_jobs=a.n_jobs)
    wall = time.perf_counter() - t0
    md = learned_markdown(out)
    settings = {"n_resamples": a.n_resamples, "prompt_folds": a.prompt_folds, "seed": a.seed, "n_jobs": a.n_jobs,
                "text_backbone": a.text_backbone, "wall_s": round(wall, 1), "loadavg_end": os.getloadavg()}
    d = Path(a.out)
    d.mkdir(parents=True, exist_ok=True)
    atomic_write_text(d / "thumb-learned.md", md + f"\nSettings: {json.dumps(settings)}\n")
    from .._version import versions

    atomic_write_json(d / "thumb-learned.json", to_jsonable({
        "settings": settings, "versions": versions("judgenet", "python", "numpy", "scipy", "sklearn", "torch",
                                                   "sentence_transformers", "transformers"), "features": out["features"], "table": learned_table(out).to_dict("records"),
        **{split: {k: out[split][k] for k in ("within", "within_vs_textsim", "chosen_raw", "system")}
           for split in ("generator", "crossed") if split in out}}))
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
