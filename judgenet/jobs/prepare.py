"""The dataset step: real-image reference → fitted feature builder; label set → aligned features and targets.

* :func:`reference_inputs` — the image files (and prompts) of a real-image folder.
* :func:`generator_inputs` — the image files (and prompts) of generator folders, one generator each.
* :func:`fit_reference` — embed real images and fit the :class:`~judgenet.features.FeatureBuilder` on them. The
  ONE place a real-image reference is fitted (``demo``, ``train``/``evaluate``/``tune`` and ``score`` use it).
* :func:`embed_items` — embed generated items, dropping (and listing) the unreadable ones.
* :func:`prepare` — a label set → :class:`Prepared` (features, targets, generators, prompts, item ids, the fitted
  builder, the rater ceiling), for one question.

Unreadable images never stop a run: they are skipped and listed (``Prepared.failures``, written to
``failures.csv`` by the jobs); ``strict=True`` turns the first one into a one-line error naming the file.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ConfigError

__all__ = ["Prepared", "training_record", "reference_inputs", "generator_inputs", "fit_reference", "embed_items", "prepare", "builder_options",
           "default_backbones", "TINY_WARNING"]

log = logging.getLogger(__name__)


def _progress() -> bool:
    return logging.getLogger("judgenet").isEnabledFor(logging.INFO)


TINY_WARNING = ("the built-in tiny encoder only knows the simulated world: its FID/KID/precision/recall and realism "
                "numbers are not meaningful for real images; pass --backbone inception:fid (the genuine FID-Inception, "
                "downloaded once when online; or install judgenet[real]) and --backbone open_clip:ARCH:TAG for MID")


def default_backbones() -> list[str]:
    """Backbones for user images when none are named — the one default of ``extract``, ``score``, ``train``,
    ``evaluate`` and ``tune`` (so ``extract`` warms the cache the next ``score`` reads): the genuine FID-Inception
    when its weights are on this machine (``judgenet[real]``, or downloaded earlier by ``--backbone inception:fid``),
    else the built-in tiny encoder (with a loud warning: see :data:`TINY_WARNING`)."""
    from ..backbones import genuine_inception_path

    return ["inception:fid"] if genuine_inception_path() is not None else ["tiny"]


def builder_options(*, mid_eps: float = 0.0, mid_shrinkage: str | None = None, seed: int = 0, **other) -> dict:
    """FeatureBuilder settings from job options (``mid_shrinkage="none"`` → None)."""
    shrink = None if mid_shrinkage in (None, "none") else mid_shrinkage
    return {"mid_eps": float(mid_eps), "mid_shrinkage": shrink, "seed": seed, **other}


def reference_inputs(folder: str | os.PathLike, *, prompts_file=None, want_prompts: bool = True,
                     strict: bool = False) -> tuple[list[str], list[str] | None, list]:
    """Files of a real-image folder and, when ``want_prompts`` and a prompts file exists (``prompts_file`` or a
    ``prompts.csv`` inside the folder), their prompts, and the skipped inputs (:class:`~judgenet.images.ImageFailure`):
    links that cannot be followed, and images without a prompt row (when some have one; none having one is an
    error). ``strict``: the first skipped input is an :class:`~judgenet.errors.ImageError` instead."""
    from ..errors import ImageError
    from ..images import ImageFailure
    from .inputs import find_prompts_file, image_folder, prompts_for, read_prompts

    root = Path(folder)
    files = image_folder(root, "reference folder", strict=strict)
    skipped = list(files.skipped)
    pf = prompts_file or find_prompts_file(root)
    if not (pf and want_prompts):
        return [str(f) for f in files], None, skipped
    table = read_prompts(pf)
    prompts = prompts_for(files, root, table, require_all=not any(
        table.get(Path(f).relative_to(root).as_posix(), table.get(Path(f).name)) for f in files))
    lost = [f for f, t in zip(files, prompts) if t is None]
    if lost and strict:
        raise ImageError(f"{lost[0]}: no prompt row in {pf}; add a row image,prompt for it, or drop --strict to skip "
                         "and list it")
    for f in lost:
        log.warning("skipped %s: no prompt row in %s", f, pf)
    skipped += [ImageFailure(str(f), f"no prompt row in {pf} (MID needs the prompt of every reference image)")
                for f in lost]
    kept = [(str(f), t) for f, t in zip(files, prompts) if t is not None]
    return [f for f, _ in kept], [t for _, t in kept], skipped


def generator_inputs(folders: Sequence[str | os.PathLike], *, prompts_file=None, what: str = "generator folder",
                     strict: bool = False):
    """The images of generator folders (``score``'s generators, ``select``'s pool), one generator per folder:
    ``(names, files, generators, prompts, unprompted, skipped)`` — the unique generator names
    (:func:`~judgenet.jobs.inputs.generator_names`), per file its generator and prompt (from ``prompts_file``, else
    the folder's own prompts file; None without one), the names of the folders without prompts, and the links that
    cannot be followed (:func:`~judgenet.jobs.inputs.image_folder`)."""
    from .inputs import find_prompts_file, generator_names, image_folder, prompts_for, read_prompts

    names = generator_names(folders)
    table = read_prompts(prompts_file) if prompts_file else None
    files, gens, prompts, unprompted, skipped = [], [], [], [], []
    for g, name in zip(folders, names):
        gdir = Path(g)
        fs = image_folder(gdir, what, strict=strict)
        skipped += list(fs.skipped)
        t = table if table is not None else (read_prompts(pf) if (pf := find_prompts_file(gdir)) else None)
        if t is None:
            unprompted.append(name)
        files += [str(f) for f in fs]
        gens += [name] * len(fs)
        prompts += prompts_for(fs, gdir, t) if t is not None else [None] * len(fs)
    return names, files, gens, prompts, unprompted, skipped


def embed_items(paths: Sequence[str], backbones, *, prompts=None, cache_dir=None, strict: bool = False,
                batch_size: int = 64, workers: int | None = None):
    """Embed images (and prompts) with every backbone; returns ``(embedded_ok_rows, keep_mask, failures)``."""
    from ..embeddings import embed

    emb = embed(list(paths), backbones, prompts=prompts, cache_dir=cache_dir, batch_size=batch_size,
                num_workers=workers, strict=strict, progress=_progress())
    keep = np.asarray(emb.ok, dtype=bool)
    for f in emb.failures:
        log.warning("skipped %s: %s", f.path, f.reason)
    return (emb.subset(keep) if not keep.all() else emb), keep, list(emb.failures)


def fit_reference(paths: Sequence[str], backbones, *, prompts=None, cache_dir=None, strict: bool = False,
                  groups=None, batch_size: int = 64, **options):
    """Embed the real images (and their prompts) and fit a :class:`~judgenet.features.FeatureBuilder` on them.

    ``options`` are FeatureBuilder settings (see :func:`builder_options`). Unreadable reference images are skipped
    and listed. Returns ``(builder, failures)``.
    """
    from ..features import DEFAULT_GROUPS, FeatureBuilder

    emb, keep, failures = embed_items(paths, backbones, prompts=prompts, cache_dir=cache_dir, strict=strict,
                                      batch_size=batch_size)
    if keep.sum() < 2:
        raise ConfigError(f"only {int(keep.sum())} readable reference image(s); the real-image reference needs many "
                          "(hundreds or more)")
    builder = FeatureBuilder(groups=tuple(groups or DEFAULT_GROUPS), **options).fit(emb)
    return builder, failures


@dataclass
class Prepared:
    """A label set turned into aligned arrays for one question.

    Attributes:
        features: FeatureMatrix ``X`` (n_items, n_features) float64 with ``names`` and ``groups``.
        y: (n_items,) mean human score per item. generators: (n_items,) the unit held out (``group_by`` column).
        prompts: (n_items,) prompt per item, or None. item_ids: (n_items,).
        builder: the FeatureBuilder fitted on the real images. labels: the LabelSet. question: its name.
        ceiling: the rater ceiling dict (or a note). backbones: backbone names. failures: skipped images.
        image_paths: the image file of each item (resolved), aligned with ``features``.
        notes: warnings the outputs must carry (e.g. :data:`TINY_WARNING` when the tiny encoder embedded the images).
        pairs: for a comparative (pairwise / ranking) label set, the judgments as
            :class:`~judgenet.evaluation.pairwise.Pairs` over the rows of ``features`` (then ``y`` is None and the
            rater ceiling is computed by the pairwise protocol); None for per-item labels.
    """

    features: object
    y: np.ndarray
    generators: np.ndarray
    prompts: np.ndarray | None
    item_ids: np.ndarray
    builder: object
    labels: object
    question: str
    ceiling: dict | None
    backbones: list = field(default_factory=lambda: ["tiny"])
    failures: list = field(default_factory=list)
    pairs: object = None
    notes: list = field(default_factory=list)
    image_paths: list = field(default_factory=list)

    @property
    def is_pairwise(self) -> bool:
        return self.pairs is not None

    @property
    def target(self):
        """What a model is fitted on: ``y`` (n_items,) or the pair array (n_pairs, 4) of comparative labels."""
        return self.pairs.pair_array() if self.pairs is not None else self.y

    def select(self, columns) -> "Prepared":
        """The same items with only the feature columns ``columns`` (indices)."""
        fm = self.features
        cols = [int(i) for i in columns]
        names = [fm.names[i] for i in cols]
        groups = {g: [n for n in ns if n in names] for g, ns in fm.groups.items()}
        sub = type(fm)(fm.X[:, cols], names, {g: ns for g, ns in groups.items() if ns})
        return dataclasses.replace(self, features=sub)


def _load_labels(labels, label_root, lenient):
    from ..labels import LabelSet, PairwiseLabelSet, load_label_set
    from .inputs import check_path

    if isinstance(labels, (str, os.PathLike)):
        check_path(labels, "label file")
    ls = labels if isinstance(labels, (LabelSet, PairwiseLabelSet)) else \
        load_label_set(labels, root=label_root, **({"lenient": True} if lenient else {}))
    if isinstance(ls, tuple):
        ls = next((x for x in ls if isinstance(x, LabelSet)), ls[0])
    if getattr(ls, "skipped", None):
        log.warning("labels: skipped %d bad row(s) (--lenient): %s%s", len(ls.skipped),
                    "; ".join(str(p) for p in ls.skipped[:5]), " ..." if len(ls.skipped) > 5 else "")
    if not isinstance(ls, (LabelSet, PairwiseLabelSet)):
        raise ConfigError(f"{labels}: not a label set judgenet can train on (got {type(ls).__name__})")
    return ls


def _featurize_items(items, *, images, reference, reference_prompts, backbones, cache_dir, weights_dir,
                     clip_checkpoint, inception_weights, quick_gelu, resize, text_model, feature_groups, seed, strict,
                     allow_outside_images, mid_eps, mid_shrinkage, device, batch_size):
    """Rated items (a frame with ``item_id, image, prompt``) → ``(items_kept, FeatureMatrix, builder, backbones,
    failures)``: images resolved under ``images`` (confined to it), the reference fitted on ``reference``, items
    whose image cannot be read dropped and listed."""
    from ..backbones import load_backbones
    from ..features import DEFAULT_GROUPS
    from .inputs import resolve_label_images

    if reference is None:
        raise ConfigError("--reference REAL_DIR is required: a folder of real images (with a prompts.csv of "
                          "image,prompt for MID) that realism statistics are fitted on")
    if items["image"].isna().any():
        missing = items.loc[items["image"].isna(), "item_id"].iloc[0]
        raise ConfigError(f"label item {missing} has no image; every rated item needs an image file (caption sets "
                          "without images are evaluated with `judgenet benchmark`)")
    paths = resolve_label_images(items["image"].astype(str).tolist(), items["item_id"].astype(str).tolist(), images,
                                 allow_outside=allow_outside_images)
    has_prompts = ("prompt" in items and items["prompt"].notna().all()
                   and (items["prompt"].astype(str).str.strip() != "").all())
    prompts = items["prompt"].astype(str).tolist() if has_prompts else None
    backbones = list(backbones or default_backbones())
    bbs = load_backbones(backbones, weights_dir=weights_dir, clip_checkpoint=clip_checkpoint,
                         inception_weights=inception_weights, quick_gelu=quick_gelu,
                         resize=resize, text_model=text_model, device=device)
    notes = [TINY_WARNING] if any(b.source == "tiny" for b in bbs) else []
    for note in notes:
        log.warning("note: %s", note)
    if prompts is not None and not any(b.has_text for b in bbs):
        from ..backbones import NO_TEXT_TOWER

        log.warning("note: %s", NO_TEXT_TOWER)
        notes.append(NO_TEXT_TOWER)
        prompts, has_prompts_for_text = None, False
    else:
        has_prompts_for_text = has_prompts
    ref_paths, ref_prompts, ref_skipped = reference_inputs(reference, prompts_file=reference_prompts,
                                                           want_prompts=has_prompts_for_text, strict=strict)
    groups = list(feature_groups or DEFAULT_GROUPS)
    if prompts is None or ref_prompts is None:  # the groups that read the prompts
        groups = [g for g in groups if g not in ("alignment", "prompt", "caption")]
    builder, ref_failures = fit_reference(ref_paths, bbs, prompts=ref_prompts, cache_dir=cache_dir, strict=strict,
                                          groups=groups, batch_size=batch_size, **builder_options(mid_eps=mid_eps,
                                                                           mid_shrinkage=mid_shrinkage, seed=seed))
    emb, keep, failures = embed_items(paths, bbs, prompts=prompts, cache_dir=cache_dir, strict=strict,
                                      batch_size=batch_size)
    items = items.assign(_path=paths)[keep].reset_index(drop=True)
    if len(items) < 3:
        raise ConfigError(f"only {len(items)} rated item(s) have readable images; see the skipped files above")
    return (items, builder.transform(emb), builder, backbones, ref_skipped + ref_failures + failures, has_prompts,
            notes)


def prepare(labels, *, images=None, reference=None, reference_prompts=None, backbones: Sequence[str] | None = None,
            question: str | None = None, label_root=None, cache_dir=None, weights_dir=None, clip_checkpoint=None,
            inception_weights=None, quick_gelu=None, resize=None, text_model=None, feature_groups=None,
            group_by: str = "generator", ceiling_resamples: int = 200, seed: int = 0, lenient: bool = False,
            strict: bool = False, allow_outside_images: bool = False, mid_eps: float = 0.0,
            mid_shrinkage: str | None = None, device: str = "cpu", batch_size: int = 64) -> Prepared:
    """Load labels, embed their images (relative to ``images``, confined to it) and the real ``reference`` images,
    fit the feature builder on the real images and featurize the rated items. ``question`` defaults to the first
    question of the label set. Per-item (Likert) labels give targets ``y``; comparative labels (pairwise choices or
    rankings) give ``pairs`` over the items. ``device`` (``cpu``, ``cuda``, ``cuda:N``, ``mps``, ``auto``) runs the
    backbones; ``batch_size`` images per forward pass and cache shard."""
    from ..labels import PairwiseLabelSet, rater_ceiling

    if group_by not in ("generator", "prompt", "image"):
        raise ConfigError(f"group_by must be generator, prompt or image; got {group_by!r}")
    ls = _load_labels(labels, label_root, lenient)
    question = question or ls.questions[0]
    if question not in ls.questions:
        raise ConfigError(f"question {question!r} is not in {ls.name} (has {', '.join(map(str, ls.questions))})")
    pairwise = isinstance(ls, PairwiseLabelSet)
    if pairwise:
        items = ls.items().reset_index(drop=True)
    else:
        items = ls.aggregate(question).reset_index(drop=True)
        scores = items["score"].to_numpy(dtype=np.float64)
        if np.ptp(scores) == 0:
            raise ConfigError(f"all {len(scores)} items have the same {question} score ({scores[0]:g}): there is "
                              "nothing to learn or rank; check the label file's score column")
    items, fm, builder, backbones, failures, has_prompts, notes = _featurize_items(
        items, images=images, reference=reference, reference_prompts=reference_prompts, backbones=backbones,
        cache_dir=cache_dir, weights_dir=weights_dir, clip_checkpoint=clip_checkpoint,
        inception_weights=inception_weights, quick_gelu=quick_gelu, resize=resize, text_model=text_model,
        feature_groups=feature_groups, seed=seed, strict=strict, allow_outside_images=allow_outside_images,
        mid_eps=mid_eps, mid_shrinkage=mid_shrinkage, device=device, batch_size=batch_size)
    units = items[group_by].astype(str).to_numpy()
    prompts = items["prompt"].astype(str).to_numpy() if has_prompts else None
    item_ids = items["item_id"].astype(str).to_numpy()
    if pairwise:
        from ..evaluation.pairwise import pairs_from_labels

        pairs = pairs_from_labels(ls, question, item_ids.tolist(), lenient=lenient or bool(failures))
        for msg in getattr(pairs, "skipped", None) or []:
            log.warning("skipped judgment: %s", msg)
        return Prepared(fm, None, units, prompts, item_ids, builder, ls, question, None, backbones, failures, pairs,
                        notes=notes, image_paths=items["_path"].tolist())
    try:
        ceiling = rater_ceiling(ls, question, n_resamples=ceiling_resamples, seed=seed)
    except Exception as exc:  # fewer than 2 raters per item: no ceiling, say so
        ceiling = {"note": f"rater ceiling unavailable: {' '.join(str(exc).split())}"}
    return Prepared(fm, items["score"].to_numpy(dtype=np.float64), units, prompts, item_ids, builder, ls, question,
                    ceiling, backbones, failures, notes=notes, image_paths=items["_path"].tolist())


def training_record(prep: Prepared) -> dict:
    """What a saved predictor keeps about its training data for ``score`` to check against: ``training_images``,
    the first 16 hex characters of each training image's SHA-256 (a scored image among them gets in-sample
    predictions), and for per-item labels ``label_range``, the lowest and highest rating of the question (the label
    scale that prediction intervals are kept within)."""
    from ..io import sha256_file

    out: dict = {"training_images": sorted({sha256_file(p)[:16] for p in prep.image_paths})}
    if not prep.is_pairwise:
        f = prep.labels.frame
        s = f.loc[f["question"].astype(str) == str(prep.question), "score"].astype(float)
        if len(s):
            out["label_range"] = [float(s.min()), float(s.max())]
    return out
