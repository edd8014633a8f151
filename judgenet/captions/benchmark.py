"""``judgenet benchmark <set>``: caption metrics against real human judgments, our value beside the
published one for every row, with bootstrap CIs clustered by image and the protocol used.

Library use::

    from judgenet.captions import run_benchmark, write_benchmark
    res = run_benchmark("flickr8k-expert", root="../shared/label-sets")
    write_benchmark(res, "runs/bench")          # benchmark.md / .html / .json
"""
from __future__ import annotations

import html
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ConfigError
from ..stats import Estimate, bootstrap_measures, resample_weights, _percentile
from .protocols import (PROTOCOLS, SETS, Instances, flickr8k_cf_instances, flickr8k_expert_instances,
                        pascal50s_pairs, pascal_reference_draws, thumb_instances)
from .published import PublishedValue, published_for
from .refmetrics import REFERENCE_METRICS, SPICE_NOTICE, reference_metrics
from .textsim import training_caveat

__all__ = ["BenchmarkRow", "BenchmarkResult", "run_benchmark", "write_benchmark", "score_instances",
           "pascal_accuracy", "BENCHMARK_SETS"]

log = logging.getLogger(__name__)

BENCHMARK_SETS = SETS + ("all",)


def signed(v: float, digits: int = 1) -> str:
    """``+1.2`` / ``-0.3``; a value that rounds to zero prints ``0.0``, never ``-0.0``."""
    s = f"{v:+.{digits}f}"
    return s[1:] if float(s) == 0 else s


def source_line(p: PublishedValue) -> str:
    """Author and year, table and row — and the source's caveat (the text after ``;``) when it has one."""
    caveat = p.source.split(";", 1)[1].strip() if ";" in p.source else ""
    return f"{p.source.split(',')[0]}, {p.table}, row {p.row}" + (f" ({caveat})" if caveat else "")
_PASCAL_CATS = ("HC", "HI", "HM", "MM", "mean")


@dataclass
class BenchmarkRow:
    set: str
    protocol: str
    subset: str           # "all", "machine", a Pascal category, or "system"
    target: str           # human column: human / P / R (THumB), describes (Flickr8k), majority (Pascal)
    metric: str
    measure: str
    ours: Estimate
    published: PublishedValue | None = None
    published_other: PublishedValue | None = None   # Pascal-50S 48-vote consensus value (different labels)
    note: str = ""

    def to_dict(self) -> dict:
        return {"set": self.set, "protocol": self.protocol, "subset": self.subset, "target": self.target,
                "metric": self.metric, "measure": self.measure, "ours": self.ours.to_dict(),
                "published": self.published.to_dict() if self.published else None,
                "published_48vote": self.published_other.to_dict() if self.published_other else None,
                "note": self.note, "caveat": training_caveat(self.metric)}


@dataclass
class BenchmarkResult:
    rows: list[BenchmarkRow] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    protocols: dict[str, str] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def extend(self, other: "BenchmarkResult") -> None:
        self.rows += other.rows
        self.notices += [n for n in other.notices if n not in self.notices]
        self.protocols.update(other.protocols)

    def to_dict(self) -> dict:
        from .._version import versions

        return {"conclusion": self.conclusion(), "rows": [r.to_dict() for r in self.rows], "notices": self.notices,
                "protocols": self.protocols, "settings": self.settings,
                "versions": versions("judgenet", "python", "numpy", "scipy", "sklearn", "torch",
                                     "sentence_transformers", "transformers", "pycocoevalcap")}

    # ------------------------------------------------------------------ rendering
    def _table(self):
        head = ["set", "protocol", "subset", "target", "metric", "measure", "ours ×100 [95% CI]", "published",
                "ours − published", "source", "note"]
        body = []
        for r in self.rows:
            o = r.ours
            ours = f"{100 * o.value:.1f} [{100 * o.low:.1f}, {100 * o.high:.1f}]" if np.isfinite(o.value) else "—"
            pub = f"{r.published.value:.1f}" if r.published else "—"
            diff = signed(100 * o.value - r.published.value) if r.published and np.isfinite(o.value) else ""
            src = source_line(r.published) if r.published else ""
            note = "; ".join(n for n in (r.note, training_caveat(r.metric)) if n)
            if r.published_other:
                note = (note + "; " if note else "") + (f"48-vote consensus labels (not these): "
                                                        f"{r.published_other.value:.1f} ({r.published_other.table})")
            body.append([r.set, r.protocol, r.subset, r.target, r.metric, r.measure, ours, pub, diff, src, note])
        return head, body

    def conclusion(self, within: float = 0.1) -> str:
        """One line: how many published values were reproduced within ``within`` (×100 points), how many could not
        be computed here, and the largest difference."""
        pub = [r for r in self.rows if r.published is not None]
        done = [r for r in pub if np.isfinite(r.ours.value)]
        if not pub:
            return "No published value exists for these rows (ours are shown alone)."
        d = [abs(100 * r.ours.value - r.published.value) for r in done]
        close = sum(x <= within + 1e-9 for x in d)
        line = f"{close}/{len(done)} computed published values reproduced within {within:g} points"
        if done:
            line += f" (largest difference {max(d):.1f})"
        if len(done) < len(pub):
            line += f"; {len(pub) - len(done)} published value(s) not computed here (see notes)"
        return line + "."

    def to_markdown(self) -> str:
        head, body = self._table()
        lines = ["# judgenet benchmark: caption metrics vs real human judgments", "", f"**{self.conclusion()}**", ""]
        lines += ["Our value beside the published one; 95% percentile bootstrap CIs resample whole images "
                  f"({self.settings.get('n_resamples')} resamples, seed {self.settings.get('seed')}).", ""]
        lines += ["## Protocols", ""] + [f"* **{k}**: {v}" for k, v in self.protocols.items()] + [""]
        if self.notices:
            lines += ["## Notices", ""] + [f"* {n}" for n in self.notices] + [""]
        lines += ["## Results", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in body]
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        head, body = self._table()
        e = html.escape
        parts = ["<!doctype html><html><head><meta charset='utf-8'><title>judgenet benchmark</title>",
                 "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}"
                 "table{border-collapse:collapse}</style></head><body>",
                 "<h1>judgenet benchmark: caption metrics vs real human judgments</h1>",
                 f"<p><b>{e(self.conclusion())}</b></p>",
                 f"<p>95% percentile bootstrap CIs resample whole images ({self.settings.get('n_resamples')} "
                 f"resamples, seed {self.settings.get('seed')}).</p><h2>Protocols</h2><ul>"]
        parts += [f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in self.protocols.items()] + ["</ul>"]
        if self.notices:
            parts += ["<h2>Notices</h2><ul>"] + [f"<li>{e(n)}</li>" for n in self.notices] + ["</ul>"]
        parts += ["<h2>Results</h2><table><tr>"] + [f"<th>{e(h)}</th>" for h in head] + ["</tr>"]
        for row in body:
            parts += ["<tr>"] + [f"<td>{e(c)}</td>" for c in row] + ["</tr>"]
        parts += ["</table></body></html>"]
        return "".join(parts)

    def to_text(self) -> str:
        head, body = self._table()
        keep = [0, 1, 2, 3, 4, 5, 6, 7, 8]
        rows = [[head[i] for i in keep]] + [[b[i] for i in keep] for b in body]
        w = [max(len(r[i]) for r in rows) for i in range(len(keep))]
        out = [self.conclusion()] + ["  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip() for r in rows]
        out += [f"note: {n}" for n in self.notices]
        caveats = sorted({c for r in self.rows if (c := training_caveat(r.metric))})
        out += [f"caveat: {c}" for c in caveats]
        return "\n".join(out)


def write_benchmark(result: BenchmarkResult, out_dir, stem: str = "benchmark") -> dict[str, str]:
    """Write ``<stem>.md``, ``.html`` and ``.json`` atomically into ``out_dir``; returns the paths."""
    from ..io import atomic_write_json, atomic_write_text
    d = Path(os.fspath(out_dir)).expanduser()
    d.mkdir(parents=True, exist_ok=True)
    paths = {"md": d / f"{stem}.md", "html": d / f"{stem}.html", "json": d / f"{stem}.json"}
    atomic_write_text(paths["md"], result.to_markdown())
    atomic_write_text(paths["html"], result.to_html())
    atomic_write_json(paths["json"], result.to_dict())
    return {k: str(v) for k, v in paths.items()}


# ---------------------------------------------------------------------------------- scoring
class _Scorer:
    """Scores (candidate, references) instances with every available metric; holds the encoders."""

    def __init__(self, metrics, text_backbone, clip_backbone, images_dir, cache_dir, tokenizer):
        self.metrics = list(metrics)
        self.text_backbone = text_backbone
        self.clip_backbone = clip_backbone
        self.images_dir = images_dir
        self.cache_dir = cache_dir
        self.tokenizer = tokenizer
        self.notices: list[str] = [SPICE_NOTICE]
        self._emb = None  # TextEmbeddings of every text embedded so far (see prepare_texts)

    def prepare_texts(self, texts) -> None:
        """Embed the distinct ``texts`` with the sentence encoder now, in one batched pass through the
        feature cache, so that later calls (e.g. Pascal-50S's 5 reference draws) only look rows up."""
        if self.text_backbone is not None:
            self._text_embeddings(texts)

    def forget_texts(self) -> None:
        self._emb = None

    def _text_embeddings(self, texts):
        from .textsim import TextEmbeddings, embed_texts
        have = self._emb.index if self._emb is not None else {}
        new = [t for t in dict.fromkeys(str(t) for t in texts) if t not in have]
        if new:
            e = embed_texts(new, self.text_backbone, self.cache_dir)
            self._emb = e if self._emb is None else TextEmbeddings(
                self._emb.texts + e.texts, np.vstack([self._emb.vectors, e.vectors]), e.source)
        return self._emb

    def _note(self, n):
        if n not in self.notices:
            self.notices.append(n)

    def __call__(self, candidates, references, images=None) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        if self.metrics:
            rm = reference_metrics(candidates, references, self.metrics, tokenizer=self.tokenizer)
            out.update(rm.scores)
            for n in rm.notices:
                self._note(n)
        if self.text_backbone is not None:
            from .textsim import reference_similarity
            emb = self._text_embeddings(list(candidates) + [r for rs in references for r in rs])
            out.update(reference_similarity(candidates, references, emb))
        if self.clip_backbone is not None and images is not None:
            from .imagemetrics import clip_embeddings, image_metrics
            iv, tv = clip_embeddings(images, list(candidates) + [r for rs in references for r in rs],
                                     self.images_dir, self.clip_backbone, self.cache_dir)
            out.update(image_metrics(images, candidates, references, iv, tv))
        return out


def score_instances(inst: Instances, scorer) -> dict[str, np.ndarray]:
    """Every metric of ``scorer`` on the instances of one protocol → {metric: (n,) float64}."""
    return scorer(inst.frame["candidate"].tolist(), inst.references,
                  inst.frame["image"].tolist() if getattr(scorer, "clip_backbone", None) is not None else None)


def _correlation_rows(inst, scores, measures, *, subset, target_col, target, n_resamples, seed, published=True,
                      note=""):
    rows = []
    human = inst.frame[target_col].to_numpy(np.float64)
    groups = inst.frame["image"].to_numpy()
    for metric, s in scores.items():
        est = bootstrap_measures(human, s, list(measures), groups=groups, n_resamples=n_resamples, seed=seed)
        for m in measures:
            pub = published_for(inst.set, metric, "all") if published else None
            if pub is not None and pub.measure != m:
                pub = None
            rows.append(BenchmarkRow(inst.set, inst.protocol.name, subset, target, metric, m, est[m], pub, None, note))
    return rows


def pascal_accuracy(category: np.ndarray, human_pref_a: np.ndarray, hits: np.ndarray, images, *,
                    n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95) -> dict[str, Estimate]:
    """Per-category accuracy (and the mean of the 4) from per-pair hit rates ``hits`` (n,) in [0, 1]
    (already averaged over reference draws), with a bootstrap over whole images. Pairs the humans
    tie on (``human_pref_a == 0.5``) are excluded."""
    ok = human_pref_a != 0.5
    W = resample_weights(len(hits), images, n_resamples, seed)
    point, boots = {}, {}
    for c in _PASCAL_CATS[:-1]:
        sel = (category == c) & ok
        point[c] = float(hits[sel].mean()) if sel.any() else float("nan")
        with np.errstate(invalid="ignore", divide="ignore"):
            boots[c] = (W[:, sel] @ hits[sel]) / W[:, sel].sum(axis=1)
    point["mean"] = float(np.mean([point[c] for c in _PASCAL_CATS[:-1]]))
    boots["mean"] = np.mean([boots[c] for c in _PASCAL_CATS[:-1]], axis=0)
    return {c: Estimate(point[c], *_percentile(boots[c], confidence), n_resamples, confidence) for c in _PASCAL_CATS}


def _pascal(root, scorer, n_resamples, seed, n_draws, ties) -> BenchmarkResult:
    pairs = pascal50s_pairs(root)
    f = pairs.frame
    proto = PROTOCOLS[("pascal50s", "5-refs-x5")]
    a, b = f["caption_a"].astype(str).tolist(), f["caption_b"].astype(str).tolist()
    human = np.sign(f["preference"].to_numpy(np.float64) - 0.5)
    n = len(f)
    hits: dict[str, np.ndarray] = {}
    rng = np.random.default_rng(seed)

    def add(metric, sa, sb):
        d = np.sign(sa - sb)
        if ties == "half":
            h = np.where(d == 0, 0.5, (d == human).astype(float))
        else:
            h = (np.where(d == 0, rng.choice([-1.0, 1.0], size=n), d) == human).astype(float)
        hits[metric] = hits.get(metric, 0.0) + h / n_draws

    la = np.array([len(x.split()) for x in a], np.float64)
    lb = np.array([len(x.split()) for x in b], np.float64)
    for _ in range(n_draws):
        add("length", la, lb)
    clip_backbone, scorer.clip_backbone = scorer.clip_backbone, None   # Pascal images: --images for VOC2008 only
    draws = pascal_reference_draws(pairs, n_draws=n_draws, seed=seed)
    # every distinct sentence (~8k candidates + the drawn references, up to the 50k pool) embedded once
    scorer.prepare_texts(a + b + [r for d in draws for rs in d for r in rs])
    try:
        for draw in draws:
            s = scorer(a + b, draw + draw)
            for metric, v in s.items():
                add(metric, v[:n], v[n:])
    finally:
        scorer.clip_backbone = clip_backbone
    res = BenchmarkResult()
    cats = f["category"].astype(str).to_numpy()
    imgs = f["image"].astype(str).to_numpy()
    pref = f["preference"].to_numpy(np.float64)
    for metric, h in hits.items():
        est = pascal_accuracy(cats, pref, h, imgs, n_resamples=n_resamples, seed=seed)
        for c in _PASCAL_CATS:
            note = ""
            if c in ("HC", "MM", "mean"):
                note = "HC/MM labels here are the bundled 10-11 votes; vs 48-vote results not comparable"
            res.rows.append(BenchmarkRow("pascal50s", proto.name, c, "majority", metric, "accuracy", est[c],
                                         published_for("pascal50s", metric, c),
                                         published_for("pascal50s", metric, c, labels="48-vote"), note))
    res.protocols[f"pascal50s/{proto.name}"] = proto.description + f"; {n_draws} draws; ties={ties}"
    res.notices.append("Pascal-50S: the bundled votes of pair_pascal.mat are not the 48-vote consensus of the "
                       "standard results; compare with CLIPScore Table 7 (same 11-vote labels), not Table 4 "
                       "(HC and MM are not comparable)")
    return res


def _thumb(root, scorer, n_resamples, seed) -> BenchmarkResult:
    res = BenchmarkResult()
    proto = PROTOCOLS[("thumb", "own-removed")]
    inst = thumb_instances(root, rows="all")
    scores = score_instances(inst, scorer)
    machine = (inst.frame["system"] != "Human").to_numpy()
    msub = Instances(inst.set, inst.protocol, inst.frame[machine].reset_index(drop=True),
                     [r for r, k in zip(inst.references, machine) if k])
    for sub, ins, sc in (("all", inst, scores), ("machine", msub, {k: v[machine] for k, v in scores.items()})):
        for col, target in (("human", "human_score"), ("P", "P"), ("R", "R")):
            res.rows += _correlation_rows(ins, sc, ("pearson", "kendall_tau_b"), subset=sub, target_col=col,
                                          target=target, n_resamples=n_resamples, seed=seed)
    h = inst.frame["human"].to_numpy(np.float64)
    systems = inst.frame["system"].to_numpy()
    for metric, s in scores.items():
        est = bootstrap_measures(h, s, ["system_kendall_tau_b"], systems=systems, groups=inst.frame["image"].to_numpy(),
                                 n_resamples=n_resamples, seed=seed)["system_kendall_tau_b"]
        res.rows.append(BenchmarkRow("thumb", proto.name, "system", "human_score", metric, "system_kendall_tau_b", est,
                                     None, None, "n = 5 systems: one swapped pair moves tau by 0.2"))
    res.protocols[f"thumb/{proto.name}"] = proto.description + "; " + "; ".join(inst.notes)
    res.notices.append("THumB: no published value is compared: the paper's Tables 2 and 4 used the pre-fix file "
                       "(51 misaligned Human captions); the author's corrections are screenshots in jungokasai/THumB "
                       "issue #1. Rows show '—' for published")
    return res


def _uncomputed_published(result: BenchmarkResult, names) -> None:
    """A row (our value NaN, with the reason) for every published value whose metric was not computed,
    so that every published row appears beside ours."""
    from .published import PUBLISHED
    have = {(r.set, r.metric, r.subset) for r in result.rows}
    nan = Estimate(float("nan"), float("nan"), float("nan"), 0, 0.95)
    for p in PUBLISHED:
        if p.set not in names or p.labels != "same" or (p.set, p.metric, p.subset) in have:
            continue
        why = ("not computed: SPICE needs Stanford CoreNLP models (not available)" if p.metric == "SPICE" else
               "not computed: image metrics are not wired for Pascal-50S pairs yet" if p.set == "pascal50s" else
               "not computed: needs the set's images (--images) and genuine CLIP weights")
        proto = {"flickr8k-expert": "spice-16992", "flickr8k-cf": "clipscore-shared",
                 "pascal50s": "5-refs-x5"}.get(p.set, "")
        other = published_for(p.set, p.metric, p.subset, labels="48-vote") if p.set == "pascal50s" else None
        result.rows.append(BenchmarkRow(p.set, proto, p.subset, "", p.metric, p.measure, nan, p, other, why))
    for p in PUBLISHED:  # 48-vote-only values (MID's Pascal mean)
        if p.set in names and p.labels == "48-vote" and (p.set, p.metric, p.subset) not in have \
                and published_for(p.set, p.metric, p.subset) is None:
            result.rows.append(BenchmarkRow(p.set, "5-refs-x5", p.subset, "", p.metric, p.measure, nan, None, p,
                                            "not computed: needs the set's images and genuine CLIP weights"))


def run_benchmark(set_name: str, root=None, *, cf_protocols: Sequence[str] = ("clipscore-shared", "per-item"),
                  metrics: Sequence[str] = REFERENCE_METRICS, text_backbone="text:all-MiniLM-L6-v2",
                  images=None, clip_backbone=None, cache_dir=None, n_resamples: int = 1000, seed: int = 0,
                  n_draws: int = 5, ties: str = "half", tokenizer: str = "auto") -> BenchmarkResult:
    """Run the benchmark of one set (or ``"all"``).

    Args:
        set_name: one of :data:`BENCHMARK_SETS`.
        root: the label-sets folder (``$JUDGENET_LABEL_SETS`` / ``../shared/label-sets`` when None).
        text_backbone: a backbone name or object with a text tower for the sentence-encoder
            similarity (None skips it).
        images, clip_backbone: a folder with the set's image files and a CLIP backbone (name or
            object) → CLIP-S, RefCLIP-S, MID rows. Not used for Pascal-50S.
        n_resamples, seed: bootstrap (whole images resampled).
        n_draws, ties: Pascal-50S reference draws and metric-tie rule (``half`` | ``random``).
    """
    if set_name not in BENCHMARK_SETS:
        raise ConfigError(f"unknown benchmark set {set_name!r}; choose from {', '.join(BENCHMARK_SETS)}")
    if ties not in ("half", "random"):
        raise ConfigError(f"ties must be 'half' or 'random', got {ties!r}")
    from ..backbones import load_backbone
    tb = load_backbone(text_backbone) if isinstance(text_backbone, str) else text_backbone
    cb = load_backbone(clip_backbone) if isinstance(clip_backbone, str) else clip_backbone
    if images is not None and cb is None:
        raise ConfigError("--images needs a CLIP backbone (--backbone open_clip:ViT-B-32 with --clip-checkpoint)")
    scorer = _Scorer(metrics, tb, cb if images is not None else None, images, cache_dir, tokenizer)
    settings = {"n_resamples": n_resamples, "seed": seed, "metrics": list(metrics),
                "text_backbone": getattr(tb, "source", None), "clip_backbone": getattr(cb, "source", None),
                "images": str(images) if images is not None else None}
    result = BenchmarkResult(settings=settings)
    names = SETS if set_name == "all" else (set_name,)
    for name in names:
        log.debug("benchmark %s", name)
        scorer.forget_texts()  # one set's sentence embeddings in memory at a time
        if name == "flickr8k-expert":
            inst = flickr8k_expert_instances(root)
            result.rows += _correlation_rows(inst, score_instances(inst, scorer), ("kendall_tau_c",), subset="all",
                                             target_col="human", target="describes", n_resamples=n_resamples, seed=seed)
            result.protocols[f"flickr8k-expert/{inst.protocol.name}"] = inst.protocol.description
            result.notices += inst.notes
        elif name == "flickr8k-cf":
            for p in cf_protocols:
                inst = flickr8k_cf_instances(root, p)
                note = "" if inst.protocol.published else "not the published protocol: compare clipscore-shared"
                result.rows += _correlation_rows(inst, score_instances(inst, scorer), ("kendall_tau_b",),
                                                 subset="all", target_col="human", target="describes",
                                                 n_resamples=n_resamples, seed=seed, published=inst.protocol.published,
                                                 note=note)
                result.protocols[f"flickr8k-cf/{p}"] = inst.protocol.description + "; " + "; ".join(inst.notes)
        elif name == "pascal50s":
            result.extend(_pascal(root, scorer, n_resamples, seed, n_draws, ties))
        else:
            result.extend(_thumb(root, scorer, n_resamples, seed))
    _uncomputed_published(result, names)
    for n in scorer.notices:
        if n not in result.notices:
            result.notices.insert(0, n)
    if images is None:
        result.notices.append("image-based metrics (CLIP-S, RefCLIP-S, MID) not computed: pass --images with the "
                              "set's images and a CLIP backbone with genuine weights")
    return result
