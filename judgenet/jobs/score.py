"""Per-generator scoring: aggregate per-image scores into one row per generator, with bootstrap CIs.

Used by :func:`judgenet.score`. Per-image columns come from the feature builder (and a predictor); set-level
statistics (FID, KID, set MID, precision/recall) are computed once per generator by the feature builder's ``set``
group and carried over here without recomputation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["ScoreResult", "run_score", "per_generator_table", "sort_generators", "win_rate_columns", "interval_columns", "usable_intervals",
           "generators_needed", "provenance", "provenance_lines", "score_report"]


@dataclass
class ScoreResult:
    """What :func:`judgenet.score` made: per-image and per-generator tables (also written to ``out``) and the
    skipped files."""

    out: Path
    per_image: pd.DataFrame
    per_generator: pd.DataFrame
    failures: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {"out": str(self.out), "per_generator": self.per_generator.to_dict(orient="records"),
                "n_images": len(self.per_image), "skipped": [{"path": f.path, "reason": f.reason}
                                                             for f in self.failures]}


def provenance(backbones, *, predictor_meta=None) -> dict:
    """What made a set of scores, for ``score.json`` and the report's title block: per backbone its source, the
    fingerprint hash (the feature-cache key), the weights file's SHA-256 and the preprocessing (for
    ``inception:fid`` the resize convention ``tf1``/``antialias``/``clean``); the versions of judgenet and the
    libraries that compute the numbers; with a predictor, the versions it was trained with."""
    from .._version import versions

    out = {"backbone_fingerprints": {
        b.name: {"source": b.source, "fingerprint_hash": b.fingerprint_hash,
                 "weights_sha256": b.fingerprint.get("weights_sha256"),
                 "preprocess": b.fingerprint.get("preprocess")} for b in backbones},
        "versions": versions()}
    if predictor_meta is not None and predictor_meta.get("versions"):
        out["predictor_versions"] = predictor_meta["versions"]
    return out


def provenance_lines(prov: dict) -> list[str]:
    """The title block of :func:`provenance` as lines of text (markdown code spans): per backbone its fingerprint,
    weights SHA-256 and preprocessing; the versions; the predictor's training versions."""
    lines = []
    for name, b in prov["backbone_fingerprints"].items():
        pre = b.get("preprocess") or {}
        pre_s = ", ".join(f"{k} {v}" for k, v in pre.items()) if isinstance(pre, dict) else str(pre)
        lines.append(f"backbone {name} — fingerprint `{b['fingerprint_hash']}`, weights SHA-256 "
                     f"`{b.get('weights_sha256')}`" + (f", preprocessing: {pre_s}" if pre_s else ""))
    lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in prov["versions"].items()))
    if prov.get("predictor_versions"):
        lines.append("predictor trained with: " + ", ".join(f"{k} {v}" for k, v in prov["predictor_versions"].items()))
    return lines


def score_report(per_gen: pd.DataFrame, prov: dict, notes, *, n_skipped: int = 0) -> str:
    """``report.md`` of a score run: a title block (backbones with fingerprint, weights SHA-256 and preprocessing;
    versions), the notes, and the per-generator table."""
    lines = ["# judgenet score", ""] + [f"- {ln}" for ln in provenance_lines(prov)]
    if n_skipped:
        lines.append(f"- {n_skipped} input(s) skipped: see failures.csv")
    if notes:
        lines += ["", "## Notes", ""] + [f"- **Note: {n}**" for n in notes]
    table = per_gen.to_string(index=False, float_format=lambda v: f"{v:.4g}")
    return "\n".join(lines + ["", "## Per generator", "", "```", table, "```", ""])


def per_generator_table(per_image: pd.DataFrame, *, set_columns: Mapping[str, np.ndarray] | None = None,
                        pred_col: str | None = None, mean_columns: Sequence[str] = ("clip_score",),
                        n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95) -> pd.DataFrame:
    """One row per generator (in order of first appearance in ``per_image``).

    Args:
        per_image: one row per image with a ``generator`` column.
        set_columns: ``{name: (n_images,) values}`` of per-generator statistics broadcast to items (the feature
            builder's ``set.*`` columns); the value of the generator's first image is taken (they are constant
            within a generator). The ``set.`` prefix is dropped in the output.
        pred_col: a predicted-score column: its per-generator mean gets a percentile bootstrap CI over images
            (``<pred_col>_low`` / ``_high``).
        mean_columns: per-image columns averaged per generator when present (e.g. ``clip_score``).
    Returns a DataFrame with ``generator``, ``n_images`` and the columns above.
    """
    from ..stats import bootstrap_ci

    gens = per_image["generator"].to_numpy()
    rows = []
    for g in pd.unique(gens):
        idx = np.flatnonzero(gens == g)
        row: dict = {"generator": g, "n_images": int(idx.size)}
        if pred_col is not None:
            v = per_image[pred_col].to_numpy(dtype=np.float64)[idx]
            v = v[np.isfinite(v)]
            if v.size:
                e = bootstrap_ci(np.mean, v, n_resamples=n_resamples, seed=seed, confidence=confidence)
                row.update({pred_col: e.value, f"{pred_col}_low": e.low, f"{pred_col}_high": e.high})
            else:
                row.update({pred_col: np.nan, f"{pred_col}_low": np.nan, f"{pred_col}_high": np.nan})
        for c in mean_columns:
            if c in per_image:
                v = per_image[c].to_numpy(dtype=np.float64)[idx]
                row[c] = float(np.nanmean(v)) if np.isfinite(v).any() else np.nan
        for name, values in (set_columns or {}).items():
            row[name[4:] if name.startswith("set.") else name] = float(np.asarray(values)[idx[0]])
        rows.append(row)
    return pd.DataFrame(rows)


def win_rate_columns(per_image: pd.DataFrame, per_gen: pd.DataFrame, pred_col: str, calibration,
                     coverage: float | None = None) -> pd.DataFrame:
    """Preference-probability intervals of a pairwise predictor (its ``pred_col`` holds utilities): adds
    ``p_win``, ``p_win_low``, ``p_win_high`` to ``per_image`` in place (NaN where the utility is missing) and returns
    ``per_gen`` with ``p_win``, ``p_win_low``, ``p_win_high``, ``n_opponents`` and ``interval_coverage`` merged in.
    ``p_win`` = predicted probability that raters prefer the image (the generator's images) over an image of another
    scored generator on the same prompt (:func:`judgenet.evaluation.conformal_pairs.win_rate_intervals`)."""
    import logging

    from ..evaluation.conformal_pairs import win_rate_intervals

    u = per_image[pred_col].to_numpy(dtype=np.float64)
    ok = np.isfinite(u)
    prompts = per_image["prompt"].to_numpy(dtype=object)[ok] if "prompt" in per_image else None
    img, gen = win_rate_intervals(u[ok], per_image["generator"].to_numpy()[ok], calibration, prompts=prompts,
                                  coverage=coverage)
    for c in ("p_win", "p_win_low", "p_win_high"):
        per_image[c] = np.nan
        per_image.loc[ok, c] = img[c].to_numpy()
    if gen.empty or int(gen["n_opponents"].max()) == 0:
        logging.getLogger(__name__).warning("one generator scored: a pairwise predictor's win rate needs >= 2 "
                                            "generators (p_win left empty)")
    gen = gen.drop(columns="n_images").rename(columns={"coverage": "interval_coverage"})
    return per_gen.merge(gen, on="generator", how="left")


def interval_columns(per_image: pd.DataFrame, per_gen: pd.DataFrame, pred_col: str, calibration,
                     coverage: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Conformal prediction intervals of a per-item predictor (its predictions in ``per_image[pred_col]``, in the
    model's own units; NaN rows are left empty). Returns ``(per_image, per_gen)`` with, per image, ``pred_low`` /
    ``pred_high`` and, per generator, ``<pred_col>_interval_low`` / ``_interval_high`` and ``interval_coverage``.

    Scales: when the calibration carries a scale line (a predictor that predicts in other units than the labels,
    e.g. ``anchored`` in raw-MID units) the intervals are on the **label scale** around the mapped prediction —
    per image ``pred_label_scale`` = a + b·``<pred_col>`` (``pred_low ≤ pred_label_scale ≤ pred_high``), per
    generator ``<pred_col>_label_scale`` (mean of ``pred_label_scale``) beside the interval columns — while
    ``<pred_col>`` and its bootstrap CI stay in the model's units. Without a line, ``<pred_col>`` is already on the
    label scale and the intervals bracket it."""
    import logging

    from ..evaluation.conformal import Calibration, score_intervals

    cal = calibration if isinstance(calibration, Calibration) else Calibration.from_dict(calibration)
    ok = np.isfinite(per_image[pred_col].to_numpy(dtype=np.float64))
    img_iv, gen_iv = score_intervals(per_image[pred_col].to_numpy(dtype=np.float64)[ok],
                                     per_image["generator"].to_numpy()[ok], cal, coverage=coverage)
    img_cols = (["pred_label_scale"] if cal.scale is not None else []) + ["pred_low", "pred_high"]
    for c in img_cols:
        per_image[c] = np.nan
        per_image.loc[ok, c] = img_iv[c].to_numpy()
    names = {"pred_mean": f"{pred_col}_label_scale", "pred_mean_low": f"{pred_col}_interval_low",
             "pred_mean_high": f"{pred_col}_interval_high", "coverage": "interval_coverage"}
    keep = ["generator"] + [names[c] for c in ("pred_mean", "pred_mean_low", "pred_mean_high", "coverage")
                            if c != "pred_mean" or cal.scale is not None]
    gen_iv = gen_iv.rename(columns=names)[keep]
    if cal.scale is not None:
        logging.getLogger(__name__).info(
            "%s is in the predictor's own units; pred_label_scale, pred_low/pred_high and the per-generator "
            "%s_label_scale/_interval_low/_interval_high are on the label scale (line %.4g + %.4g x %s, fitted on "
            "held-out generators)", pred_col, pred_col, cal.scale[0], cal.scale[1], pred_col)
    return per_image, per_gen.merge(gen_iv, on="generator", how="left")


def generators_needed(coverage: float) -> int:
    """The fewest calibration generators for which a conformal ``coverage`` interval of a generator's mean is finite:
    the smallest n with ⌈(n + 1)·coverage⌉ ≤ n (9 at 0.9, 19 at 0.95)."""
    n = 1
    while math.ceil((n + 1) * coverage - 1e-12) > n:
        n += 1
    return n


def usable_intervals(per_image: pd.DataFrame, per_gen: pd.DataFrame, pred_col: str, calibration,
                     coverage: float | None = None, label_range=None) -> list[str]:
    """Leave empty (NaN, in place) the interval bounds of :func:`interval_columns` that say nothing, and return one
    line per kind saying why: per-generator intervals that are infinite (fewer calibration generators than
    ``coverage`` needs, :func:`generators_needed`) with their ``interval_coverage``; per-image intervals that are
    infinite or, with ``label_range`` (the training ratings' lowest and highest value), span the whole label scale.
    A bound past the label scale is clipped to it (the label lies within the scale, so the coverage is kept)."""
    from ..evaluation.conformal import Calibration

    cal = calibration if isinstance(calibration, Calibration) else Calibration.from_dict(calibration)
    c = float(coverage or cal.coverage)
    lo_r, hi_r = (float(label_range[0]), float(label_range[1])) if label_range else (-np.inf, np.inf)
    reasons = []

    def tidy(frame, low, high, extra=()):
        a, b = frame[low].to_numpy(dtype=np.float64), frame[high].to_numpy(dtype=np.float64)
        unbounded = np.isinf(a) | np.isinf(b)
        whole = ~unbounded & (a <= lo_r) & (b >= hi_r)
        clipped = ~unbounded & ~whole & ((a < lo_r) | (b > hi_r))
        frame[low], frame[high] = np.clip(a, lo_r, hi_r), np.clip(b, lo_r, hi_r)
        for col in (low, high, *extra):
            frame[col] = frame[col].astype(np.float64).where(~(unbounded | whole))
        return int(unbounded.sum()), int(whole.sum()), int(clipped.sum())

    k = len(cal.group_names)
    g_low, g_high = f"{pred_col}_interval_low", f"{pred_col}_interval_high"
    if g_low in per_gen:
        inf, whole, clipped = tidy(per_gen, g_low, g_high, [c_ for c_ in ("interval_coverage",) if c_ in per_gen])
        if inf:
            reasons.append(f"the predictor was calibrated on {k} held-out generator(s) and a {c:.0%} interval for a "
                           f"generator's mean needs at least {generators_needed(c)}: {g_low}/{g_high} and "
                           "interval_coverage left empty (train on more generators or lower --coverage)")
        if whole:
            reasons.append(f"the {c:.0%} interval of {whole} generator mean(s) spans the whole label scale "
                           f"[{lo_r:g}, {hi_r:g}]: {g_low}/{g_high} left empty")
        if clipped:
            reasons.append(f"{g_low}/{g_high} of {clipped} generator(s) clipped to the label scale "
                           f"[{lo_r:g}, {hi_r:g}]")
    if "pred_low" in per_image:
        inf, whole, clipped = tidy(per_image, "pred_low", "pred_high")
        if inf or whole:
            reasons.append(f"{inf + whole} image(s) have a {c:.0%} prediction interval that is unbounded or spans the "
                           f"whole label scale [{lo_r:g}, {hi_r:g}] (calibrated on {k} generator(s)): pred_low/"
                           "pred_high left empty")
        if clipped:
            reasons.append(f"pred_low/pred_high of {clipped} image(s) clipped to the label scale [{lo_r:g}, {hi_r:g}]")
    return reasons


def sort_generators(table: pd.DataFrame, pred_col: str | None = None) -> pd.DataFrame:
    """Best generator first: by the predicted score (higher is better) when there is one, else by set MID (higher
    is better), else by the first FID column (lower is better)."""
    if pred_col is not None and pred_col in table:
        key, ascending = pred_col, False
    elif "mid" in table and table["mid"].notna().any():
        key, ascending = "mid", False
    else:
        key = next((c for c in table.columns if c.startswith("fid")), None)
        ascending = True
        if key is None:
            return table.reset_index(drop=True)
    return table.sort_values(key, ascending=ascending, na_position="last", kind="stable").reset_index(drop=True)


# =============================================================================================
# the score job
# =============================================================================================
def run_score(root, generators, *, reference=None, prompts=None, reference_prompts=None, predictor=None,
              backbones=None, cache_dir=None, weights_dir=None, clip_checkpoint=None, inception_weights=None,
              quick_gelu=None, resize=None, text_model=None, n_resamples: int = 1000, kid_subset_size: int = 1000,
              random_state: int = 0, strict: bool = False, mid_eps: float = 0.0, mid_shrinkage=None,
              coverage: float = 0.9, device: str = "cpu", batch_size: int = 64) -> ScoreResult:
    """The body of :func:`judgenet.score` (see there; the same parameters); writes into the existing folder ``root``.
    ``predictor`` may also be a loaded :class:`~judgenet.jobs.predictor.Predictor` (used as it is)."""
    import logging

    from ..backbones import load_backbones
    from .prepare import (TINY_WARNING, builder_options, default_backbones, embed_items, fit_reference,
                          generator_inputs, reference_inputs)
    from .train import write_failures
    from ..errors import ArtifactError, ConfigError
    from ..io import atomic_write_csv, atomic_write_json, atomic_write_text

    log = logging.getLogger(__name__)
    names, files, gens, gprompts, unprompted, unlinked = generator_inputs(generators, prompts_file=prompts,
                                                                          strict=strict)
    notes: list[str] = []  # what the outputs must carry (score.json "notes", report.md), each also logged once

    def note(msg: str) -> None:
        log.warning("note: %s", msg)
        notes.append(msg)

    with_prompts = np.array([t is not None for t in gprompts])
    if unprompted and with_prompts.any():
        note(f"no prompts for generator(s) {', '.join(unprompted)}: only their realism is scored (MID and CLIPScore "
             "need an image,prompt file; add a prompts.csv to the folder or pass --prompts)")

    bb_options = dict(weights_dir=weights_dir, clip_checkpoint=clip_checkpoint, inception_weights=inception_weights,
                      quick_gelu=quick_gelu, resize=resize, text_model=text_model, device=device)
    meta = p = None
    if predictor is not None:  # its backbones, reference and model, checked against each other
        from .predictor import Predictor

        p = predictor if isinstance(predictor, Predictor) else Predictor(predictor, backbones=backbones, **bb_options)
        predictor, backbones, bbs, builder, meta = p.path, p.backbones, p._backbones, p.builder, p.meta
    else:
        backbones = list(backbones or default_backbones())
        bbs = load_backbones(backbones, **bb_options)
    ref_skipped, ref_failures = [], []
    if any(b.source == "tiny" for b in bbs):
        note(TINY_WARNING)
    if with_prompts.any() and not any(b.has_text for b in bbs):
        from ..backbones import NO_TEXT_TOWER

        note(NO_TEXT_TOWER)
        with_prompts[:] = False
    groups = ("alignment", "realism", "activations", "prompt", "caption", "set") if with_prompts.any() \
        else ("realism", "activations", "set")
    if p is not None:
        if reference is not None:
            ref_paths, ref_prompts, ref_skipped = reference_inputs(reference, prompts_file=reference_prompts,
                                                                   want_prompts=builder.mid_ref_ is not None,
                                                                   strict=strict)
            mine, ref_failures = fit_reference(ref_paths, bbs, prompts=ref_prompts, cache_dir=cache_dir, strict=strict,
                                               batch_size=batch_size, **builder.get_params())
            if mine.hash_ != builder.hash_:
                raise ArtifactError(f"--reference {reference} gives a different real-image reference than the one "
                                    f"predictor {predictor} was trained with (hash {mine.hash_} vs {builder.hash_}); "
                                    "drop --reference to use the predictor's own, or retrain on this reference")
        else:
            log.info("using the real-image reference saved with predictor %s", predictor)
        groups = tuple(g for g in groups if g != "alignment" or builder.mid_ref_ is not None)
        builder.set_params(groups=groups, kid_subset_size=kid_subset_size)
    else:
        if reference is None:
            raise ConfigError("--reference REAL_DIR is required without --predictor: a folder of real images "
                              "(with a prompts.csv of image,prompt for MID)")
        ref_paths, ref_prompts, ref_skipped = reference_inputs(reference, prompts_file=reference_prompts,
                                                               want_prompts=bool(with_prompts.any()), strict=strict)
        if ref_prompts is None:
            groups = tuple(g for g in groups if g != "alignment")
        builder, ref_failures = fit_reference(ref_paths, bbs, prompts=ref_prompts, cache_dir=cache_dir,
                                              strict=strict, groups=groups, batch_size=batch_size,
                                              **builder_options(mid_eps=mid_eps, mid_shrinkage=mid_shrinkage,
                                                                seed=random_state, kid_subset_size=kid_subset_size))
    emb, keep, emb_failures = embed_items(files, bbs, cache_dir=cache_dir, strict=strict,  # images of every folder
                                          batch_size=batch_size)
    failures = ref_skipped + ref_failures + unlinked + emb_failures
    gens_k, prompts_k = [g for g, k in zip(gens, keep) if k], [t for t, k in zip(gprompts, keep) if k]
    idx_p = np.flatnonzero(with_prompts[keep])
    if idx_p.size and "alignment" in groups:  # prompts where they are known; NaN rows elsewhere (no alignment)
        import dataclasses

        from ..embeddings import extract_texts

        text_bb = next(b for b in bbs if b.has_text)  # the same rule as embed(): the first text tower
        t = np.asarray(extract_texts([prompts_k[i] for i in idx_p], text_bb, cache_dir=cache_dir,
                                     batch_size=batch_size), dtype=np.float64)
        texts = np.full((len(gens_k), t.shape[1]), np.nan)
        texts[idx_p] = t
        emb = dataclasses.replace(emb, texts=texts, text_source=text_bb.source, prompts=prompts_k)
    if not gens_k:
        raise ConfigError("no readable images in the generator folders; see the skipped files above")
    lost = [n for n in names if n not in set(gens_k)]
    if lost:
        note(f"no readable image in generator folder(s) {', '.join(lost)} (each file is listed in failures.csv): "
             "they have a row with n_images 0 and no scores")
    smallest = min([pd.Series(gens_k).value_counts().min(), int(builder.n_real_)])
    if "set" in builder.groups and kid_subset_size > smallest:
        note(f"--kid-subset-size {kid_subset_size} is larger than the smallest image set here ({smallest} images): "
             "KID and KD use subsets of min(kid_subset_size, set size) per generator, so compare KID only between "
             "runs with the same set sizes")
    fm = builder.transform(emb, generators=gens_k)
    per_image = pd.DataFrame({"generator": gens_k, "image": [f for f, k in zip(files, keep) if k]})
    if with_prompts.any():
        per_image["prompt"] = prompts_k
    for c in fm.names:
        if not c.startswith(("pca.", "act.", "set.", "prompt.", "caption.")):
            per_image[c] = fm.column(c)
    pred_col = None
    if p is not None:
        pred_col = p.pred_column
        per_image[pred_col] = p.predict_features(fm)
        seen = set(meta.get("extra", {}).get("training_images") or [])
        if seen:
            from ..io import sha256_file

            n_in = sum(sha256_file(f)[:16] in seen for f in per_image["image"])
            if n_in:
                note(f"{n_in} of {len(per_image)} scored image(s) were training images of predictor {predictor}: "
                     "their predicted scores, and the generator means over them, are in-sample fits (optimistic); "
                     "score images the predictor was not trained on for an honest estimate")
    per_gen = per_generator_table(per_image, set_columns={c: fm.column(c) for c in fm.names if c.startswith("set.")},
                                  pred_col=pred_col, n_resamples=n_resamples, seed=random_state)
    cal = (meta or {}).get("extra", {}).get("conformal")
    win_cal = (meta or {}).get("extra", {}).get("conformal_pairs")
    if pred_col is not None and win_cal:
        per_gen = win_rate_columns(per_image, per_gen, pred_col, win_cal, coverage)
    elif pred_col is not None and cal:
        per_image, per_gen = interval_columns(per_image, per_gen, pred_col, cal, coverage)
        for reason in usable_intervals(per_image, per_gen, pred_col, cal, coverage,
                                       label_range=meta.get("extra", {}).get("label_range")):
            note(reason)
    elif pred_col is not None:
        log.info("predictor %s has no conformal calibration: no prediction intervals", predictor)
    if lost:
        per_gen = pd.concat([per_gen, pd.DataFrame({"generator": lost, "n_images": 0})], ignore_index=True)
    per_gen = sort_generators(per_gen, pred_col)
    prov = provenance(bbs, predictor_meta=meta)
    for stem, frame, what in (("per_image", per_image, "per image"), ("per_generator", per_gen, "per generator")):
        atomic_write_csv(root / f"{stem}.csv", frame, title=f"judgenet score: {what}",
                         notes=provenance_lines(prov) + ([f"predictor: {predictor}"] if predictor else [])
                         + [f"note: {n}" for n in notes] + ["full record: score.json"])
    atomic_write_text(root / "per_image.jsonl", per_image.to_json(orient="records", lines=True))
    write_failures(root, failures)
    atomic_write_json(root / "score.json", {"backbones": backbones, "predictor": str(predictor) if predictor else None,
                                            "reference": str(reference) if reference else None,
                                            "generators": dict(zip(names, map(str, generators))),
                                            "unprompted_generators": unprompted,
                                            "unreadable_generators": lost, "notes": notes,
                                            "n_skipped": len(failures), **prov})
    atomic_write_text(root / "report.md", score_report(per_gen, prov, notes, n_skipped=len(failures)))
    log.info("%s\n\nscores: %s", per_gen.to_string(index=False, float_format=lambda v: f"{v:.4g}"), root)
    return ScoreResult(root, per_image, per_gen, failures)
