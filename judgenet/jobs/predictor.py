"""A saved predictor as an object to call: ``p = jn.load_predictor("my-predictor")``.

* :meth:`Predictor.predict` — images (files, a folder, PIL images or uint8 arrays) → one row per image with the
  predicted judgment (and ``pred_low``/``pred_high`` when the predictor was saved with its conformal calibration);
* :meth:`Predictor.predict_embeddings` — the same from embeddings you already hold;
* :meth:`Predictor.feature_matrix`, :meth:`Predictor.features`, :meth:`Predictor.predict_features` — the steps
  between (embeddings → reference features → the model's columns → predictions), which ``select`` and ``score``
  use too;
* :meth:`Predictor.score` — generator folders → per-image and per-generator tables, exactly ``judgenet score
  --predictor`` (:func:`judgenet.score`, which runs :func:`judgenet.jobs.score.run_score`);
* :attr:`Predictor.meta` (the verified ``meta.json``), :attr:`Predictor.recipe`, :attr:`Predictor.question`,
  :attr:`Predictor.backbones`.

Loading checks everything ``score`` checks before the model file is unpickled: ``meta.json``'s integrity, that the
backbones in use give the fingerprints the predictor was trained with, the saved real-image reference's hash and
the model file's SHA-256. ``model.joblib`` is a pickle: **only load predictors you trust**.

Per-image predictions use per-image features only (alignment, realism, activations), so a row does not depend on
which other images are passed with it: :meth:`Predictor.predict` on a folder equals the per-image column that
``judgenet score --predictor`` writes for that folder (tested).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError

__all__ = ["Predictor", "load_predictor"]

log = logging.getLogger(__name__)

_ALIGNMENT = ("mid_pmi", "clip_score", "ref_clip_score")


def _reads_prompt(name: str) -> bool:
    """Whether a feature column is built from the prompt (alignment, prompt embedding or caption statistics)."""
    return name in _ALIGNMENT or name.startswith(("prompt.", "caption."))


class Predictor:
    """A loaded predictor artifact (see the module docstring). Build it with :func:`load_predictor`.

    Attributes:
        path: the artifact directory. meta: its verified ``meta.json`` (dict). recipe: the
            :class:`~judgenet.predictors.recipes.Recipe` it was fitted from. question: the judgment it predicts.
        backbones: the backbone names its features come from (loaded, fingerprints checked).
        feature_names: the model's input columns, in order. model: the fitted estimator.
        builder: the fitted real-image reference (:class:`~judgenet.features.FeatureBuilder`).
        pred_column: the name of the prediction column (``predicted_<question>``), as in ``score``'s tables.
    """

    def __init__(self, path, *, backbones=None, cache_dir=None, weights_dir=None, clip_checkpoint=None,
                 inception_weights=None, quick_gelu=None, resize=None, text_model=None, device: str = "cpu",
                 batch_size: int = 64):
        from ..backbones import load_backbones
        from ..predictors.artifact import load_predictor as _load, load_reference
        from ..predictors.recipes import Recipe

        self.path = Path(path)
        self.recipe, meta = Recipe.from_predictor_dir(self.path, with_meta=True)
        saved = list(meta.get("extra", {}).get("backbones") or [])
        self.backbones = list(backbones or saved or ["tiny"])
        self._backbones = load_backbones(self.backbones, weights_dir=weights_dir, clip_checkpoint=clip_checkpoint,
                                         inception_weights=inception_weights, quick_gelu=quick_gelu, resize=resize,
                                         text_model=text_model, device=device)
        fps = {b.source: b.fingerprint for b in self._backbones}
        self.builder = load_reference(self.path, expected_fingerprints=fps)
        self.model, self.meta = _load(self.path, expected_fingerprints=fps, expected_reference_hash=self.builder.hash_)
        self.question = self.meta.get("question")
        self.feature_names = list(self.meta["feature_names"])
        self.pred_column = f"predicted_{self.question or 'score'}"
        self.cache_dir, self.batch_size = cache_dir, batch_size
        self._load_options = {"backbones": backbones, "cache_dir": cache_dir, "weights_dir": weights_dir,
                              "clip_checkpoint": clip_checkpoint, "inception_weights": inception_weights,
                              "quick_gelu": quick_gelu, "resize": resize, "text_model": text_model, "device": device,
                              "batch_size": batch_size}

    def __repr__(self) -> str:
        return (f"Predictor({str(self.path)!r}, question={self.question!r}, model={self.recipe.family!r}, "
                f"backbones={self.backbones})")

    @property
    def needs_prompts(self) -> bool:
        """Whether the model reads features of the prompt (MID, CLIPScore, prompt embedding, caption statistics): then
        every image needs its prompt."""
        return any(_reads_prompt(n) for n in self.feature_names)

    # ------------------------------------------------------------------------------------------ inputs
    def _inputs(self, images, prompts) -> tuple[list, list[str], list[str] | None]:
        """(items for :func:`~judgenet.embeddings.embed`, display names, prompts or None)."""
        from PIL import Image

        from .inputs import find_prompts_file, image_folder, prompts_for, read_prompts

        if isinstance(images, (str, os.PathLike)) and Path(images).is_dir():
            folder = Path(images)
            files = image_folder(folder, "image folder")
            if prompts is None and (pf := find_prompts_file(folder)) is not None:
                prompts = prompts_for(files, folder, read_prompts(pf))
            return [str(f) for f in files], [str(f) for f in files], prompts
        if isinstance(images, (str, os.PathLike, Image.Image, np.ndarray)):
            images = [images]
        items, names = [], []
        for i, x in enumerate(images):
            if isinstance(x, (str, os.PathLike)):
                if not Path(x).is_file():
                    raise ConfigError(f"{x}: not an image file (give image files, one folder, or PIL images)")
                items.append(str(x))
                names.append(str(x))
            elif isinstance(x, (Image.Image, np.ndarray)):
                items.append(x)
                names.append(f"<image {i}>")
            else:
                raise ConfigError(f"images[{i}] is a {type(x).__name__}; give file paths, one folder, PIL images or "
                                  "uint8 arrays (H, W, 3)")
        return items, names, prompts

    # ------------------------------------------------------------------------------------------ prediction
    def predict(self, images, prompts: Sequence[str] | None = None, *, coverage: float = 0.9,
                strict: bool = False) -> pd.DataFrame:
        """Predicted judgment per image.

        Args:
            images: image files, one folder (searched like ``score``'s generator folders; its ``prompts.csv`` is
                used when ``prompts`` is None), PIL images or uint8 arrays — or one of these alone.
            prompts: one prompt per image (needed when the predictor reads MID/CLIPScore: :attr:`needs_prompts`).
            coverage: coverage of ``pred_low``/``pred_high`` for a calibrated per-item predictor (default 0.9).
            strict: raise on the first unreadable image instead of leaving its row empty (logged).
        Returns:
            DataFrame, one row per input in order: ``image`` (the path, or ``<image i>`` for in-memory images),
            ``prompt`` (when given), :attr:`pred_column` and, when the predictor was saved with its conformal
            calibration, ``pred_low``/``pred_high`` (plus ``pred_label_scale`` for a predictor in other units
            than the labels) — clipped to the label scale, and left empty where they say nothing (unbounded, or
            the whole scale), with a logged note, exactly as ``score`` writes them. A pairwise predictor's column holds utilities (``p_win`` needs several generators:
            use :meth:`score`). Unreadable images give empty (NaN) predictions.
        """
        from ..embeddings import embed

        items, names, prompts = self._inputs(images, prompts)
        if not items:
            raise ConfigError("no images given")
        if prompts is not None:
            prompts = [str(t) for t in prompts]
            if len(prompts) != len(items):
                raise ConfigError(f"{len(prompts)} prompts for {len(items)} images; give one prompt per image")
        if self.needs_prompts and prompts is None:
            raise ConfigError(f"predictor {self.path} predicts from alignment features (MID, CLIPScore): give one "
                              "prompt per image (prompts=[...], or a prompts.csv of image,prompt in the folder)")
        use_prompts = prompts if any(b.has_text for b in self._backbones) and self.builder.mid_ref_ is not None \
            else None
        emb = embed(items, self._backbones, prompts=use_prompts, cache_dir=self.cache_dir, batch_size=self.batch_size,
                    strict=strict, progress=logging.getLogger("judgenet").isEnabledFor(logging.INFO))
        for f in emb.failures:
            log.warning("skipped %s: %s", f.path, f.reason)
        out = self.predict_embeddings(emb, coverage=coverage)
        out.insert(0, "image", names)
        if prompts is not None:
            out.insert(1, "prompt", prompts)
        return out

    def predict_embeddings(self, embedded, *, texts=None, text_source: str | None = None, prompts=None,
                           coverage: float = 0.9) -> pd.DataFrame:
        """Predicted judgment per row of embeddings you already hold.

        Args:
            embedded: an :class:`~judgenet.embeddings.Embedded` (from :func:`judgenet.embeddings.embed` with this
                predictor's backbones) or a mapping ``{source: (N, D) array}`` of image embeddings keyed by the
                backbones' source names (``tiny``, ``inception``, ``clip-<arch>-<tag>``).
            texts, text_source: for a mapping, the (N, D_text) prompt embeddings and the source that made them.
            prompts: for a mapping, the N prompts as text (the caption statistics read them).
            coverage: as in :meth:`predict`.
        Returns: DataFrame with :attr:`pred_column` (and the interval columns), one row per input row.
        """
        if isinstance(embedded, Mapping):
            from ..features.builder import embedded as _embedded

            fps = {b.source: b.fingerprint for b in self._backbones}
            embedded = _embedded({k: np.asarray(v, dtype=np.float64) for k, v in embedded.items()}, texts=texts,
                                 text_source=text_source, fingerprints=fps, prompts=prompts)
        out = pd.DataFrame({self.pred_column: self.predict_features(self.feature_matrix(embedded))})
        cal = self.meta.get("extra", {}).get("conformal")
        if cal:  # the same intervals, and the same emptied / clipped bounds, as score's per-image table
            from .score import interval_columns, usable_intervals

            out["generator"] = "images"
            out, _ = interval_columns(out, pd.DataFrame({"generator": ["images"]}), self.pred_column, cal, coverage)
            for reason in usable_intervals(out, pd.DataFrame(), self.pred_column, cal, coverage,
                                           label_range=self.meta.get("extra", {}).get("label_range")):
                log.warning("note: %s", reason)
            out = out.drop(columns="generator")
        return out

    def feature_matrix(self, embedded, *, generators=None):
        """The fitted reference's :class:`~judgenet.features.FeatureMatrix` of ``embedded`` (an
        :class:`~judgenet.embeddings.Embedded` of this predictor's backbones) with the groups these inputs allow:
        realism and activations, the prompt groups when the prompts were embedded, ``set`` when the model reads
        set-level columns (then ``generators``, one name per row, is needed)."""
        texts_ok = getattr(embedded, "texts", None) is not None and self.builder.mid_ref_ is not None
        groups = tuple(g for g in ("alignment", "realism", "activations", "prompt", "caption")
                       if g in ("realism", "activations") or (texts_ok and (
                           g != "caption" or getattr(embedded, "prompts", None) is not None)))
        if generators is not None and any(c.startswith("set.") for c in self.feature_names):
            groups += ("set",)
        return self.builder.set_params(groups=groups).transform(embedded, generators=generators)

    def features(self, fm) -> np.ndarray:
        """The model's input columns of a FeatureMatrix, in order: (N, p) float64 (a one-line error naming the
        columns these inputs cannot give)."""
        missing = [c for c in self.feature_names if c not in fm.names]
        if missing:
            raise ConfigError(f"predictor {self.path} needs features {missing[:5]} that cannot be built from these "
                              "inputs" + (" (it predicts from features of the prompts: give the prompts, --prompts)"
                                          if any(_reads_prompt(c) for c in missing) else ""))
        return np.column_stack([fm.column(c) for c in self.feature_names])

    def predict_features(self, fm) -> np.ndarray:
        """The model's prediction per row of a FeatureMatrix (in the model's units; NaN where a feature it needs is
        missing, e.g. an image without a prompt)."""
        X = self.features(fm)
        pred = np.full(X.shape[0], np.nan)
        ok = np.isfinite(X).all(axis=1)
        if ok.any():
            pred[ok] = self.model.predict(X[ok])
        if not ok.all():
            log.warning("%d image(s) lack features the predictor needs (no prompt?): predicted score left empty",
                        int((~ok).sum()))
        return pred

    def score(self, generators: Sequence[str | os.PathLike], *, reference=None, out=None, overwrite: bool = False,
              **options):
        """``judgenet score --predictor`` on generator folders (:func:`judgenet.jobs.score.run_score`, the body of
        :func:`judgenet.score`): writes ``out`` (default a new ``judgenet-runs/score-<time>`` folder) and returns the
        :class:`~judgenet.jobs.score.ScoreResult` (per-image and per-generator tables). ``options`` are
        :func:`judgenet.score`'s (``prompts``, ``n_resamples``, ``coverage``, ...); the backbone options this predictor
        was loaded with are used unless given again."""
        from ..io import to_jsonable
        from .inputs import open_run
        from .score import run_score

        kw = {k: v for k, v in self._load_options.items() if v is not None}
        kw.update(options)
        job = {"command": "score", "options": to_jsonable({"generators": [str(g) for g in generators],
                                                           "reference": reference, "predictor": str(self.path),
                                                           **kw})}
        inputs = [("reference folder", reference)] + [("generator folder", g) for g in generators]
        # the loaded predictor itself (not loaded a second time) unless a backbone option changed
        loading = set(self._load_options) - {"cache_dir", "batch_size"}
        same = all(options[k] == self._load_options[k] for k in loading & set(options))
        with open_run(out, "score", overwrite, job=job, inputs=inputs) as root:
            return run_score(root, list(generators), reference=reference, predictor=self if same else self.path,
                             **kw)


def load_predictor(path: str | os.PathLike, *, backbones: Sequence[str] | None = None, cache_dir=None,
                   weights_dir=None, clip_checkpoint=None, inception_weights=None, quick_gelu=None, resize=None,
                   text_model=None, device: str = "cpu", batch_size: int = 64) -> Predictor:
    """Load a predictor artifact (from ``train``, ``tune`` or ``demo``) as a :class:`Predictor` to call.

    The backbone options are ``score``'s: pass the same weights the predictor was trained with (its backbones are
    read from ``meta.json``; a different weights file or preprocessing is refused, naming what differs).
    ``device``: ``cpu`` (default), ``cuda``, ``cuda:N``, ``mps`` or ``auto``. Only load predictors you trust
    (``model.joblib`` is a pickle).

    Example::

        import judgenet as jn
        p = jn.load_predictor("my-predictor")
        p.predict("gen/model_a")            # a folder (with its prompts.csv), files, or PIL images
        p.score(["gen/model_a", "gen/model_b"], out="scores")
    """
    return Predictor(path, backbones=backbones, cache_dir=cache_dir, weights_dir=weights_dir,
                     clip_checkpoint=clip_checkpoint, inception_weights=inception_weights, quick_gelu=quick_gelu,
                     resize=resize, text_model=text_model, device=device, batch_size=batch_size)
