"""Registers ``judgenet benchmark <set>`` (imported by :func:`judgenet.cli._load_plugins`)."""
from __future__ import annotations

import argparse
import logging

from ..cli import register_command

log = logging.getLogger(__name__)

DESCRIPTION = """\
Caption metrics against real human judgments, our value beside the published one.

Sets: flickr8k-expert (Kendall tau-c, 16,992 instances), flickr8k-cf (Kendall tau-b; reference
protocols clipscore-shared = the published one, and per-item), pascal50s (accuracy per category
HC/HI/HM/MM over 5 reference draws; bundled 11-vote labels = CLIPScore Table 7), thumb (Pearson and
Kendall tau-b with human_score, P, R; all rows and machine rows; system level), or all.

Metrics: BLEU-1..4, ROUGE-L, CIDEr-D, METEOR (Java) via pycocoevalcap (pip install
'judgenet[captions]'), sentence-encoder similarity (--text-backbone, default all-MiniLM-L6-v2),
and with --images + a CLIP backbone: CLIP-S, RefCLIP-S, MID. SPICE is not available.
Label files: --label-root or $JUDGENET_LABEL_SETS (never downloaded).

  judgenet benchmark flickr8k-expert --label-root ../shared/label-sets --out runs/bench
  judgenet benchmark all --json                      # 1,000 image resamples per CI (default)
"""


def _add(p: argparse.ArgumentParser) -> None:
    from .benchmark import BENCHMARK_SETS
    p.add_argument("set", choices=BENCHMARK_SETS, help="which label set (or all)")
    p.add_argument("--label-root", default=None, help="folder of the public label-set files ($JUDGENET_LABEL_SETS)")
    p.add_argument("--out", default=None, help="write benchmark-<set>.md/.html/.json here")
    p.add_argument("--cf-protocol", action="append", choices=("clipscore-shared", "per-item"), default=None,
                   help="Flickr8k-CF reference protocol(s) (default: both; clipscore-shared is the published one)")
    p.add_argument("--metric", action="append", default=None,
                   help="reference metric(s) to compute (default: BLEU-1..4, ROUGE-L, CIDEr-D, METEOR)")
    p.add_argument("--text-backbone", default="text:all-MiniLM-L6-v2",
                   help="sentence encoder for candidate-reference similarity ('none' to skip)")
    p.add_argument("--images", default=None, help="folder with the set's image files (enables CLIP-S, RefCLIP-S, MID)")
    p.add_argument("--backbone", default=None, help="CLIP backbone for --images, e.g. open_clip:ViT-B-32")
    p.add_argument("--clip-checkpoint", default=None, help="local open_clip checkpoint file")
    p.add_argument("--weights-dir", default=None, help="folder searched for weight files ($JUDGENET_WEIGHTS_DIR)")
    p.add_argument("--n-resamples", type=int, default=1000, help="bootstrap resamples (whole images)")
    p.add_argument("--draws", type=int, default=5, help="Pascal-50S reference draws (default 5)")
    p.add_argument("--ties", choices=("half", "random"), default="half",
                   help="Pascal-50S metric ties: 0.5 (expectation of a coin flip) or a seeded coin flip")


def _run(a: argparse.Namespace) -> dict:
    from ..errors import ConfigError
    from .benchmark import run_benchmark, write_benchmark
    from .refmetrics import REFERENCE_METRICS
    if a.n_resamples < 1 or a.draws < 1:
        raise ConfigError("--n-resamples and --draws must be >= 1")
    cb = None
    if a.images is not None:
        from ..backbones import load_backbone
        cb = load_backbone(a.backbone or "open_clip:ViT-B-32", weights_dir=a.weights_dir, checkpoint=a.clip_checkpoint)
    tb = None if str(a.text_backbone).lower() == "none" else a.text_backbone
    res = run_benchmark(a.set, a.label_root, cf_protocols=tuple(a.cf_protocol or ("clipscore-shared", "per-item")),
                        metrics=tuple(a.metric or REFERENCE_METRICS), text_backbone=tb, images=a.images,
                        clip_backbone=cb, cache_dir=getattr(a, "cache_dir", None), n_resamples=a.n_resamples,
                        seed=getattr(a, "seed", 0) or 0, n_draws=a.draws, ties=a.ties)
    if not getattr(a, "quiet", False) and not getattr(a, "json", False):
        print(res.to_text())
    out = res.to_dict()
    if a.out:
        out["files"] = write_benchmark(res, a.out, stem=f"benchmark-{a.set}")
    return out


register_command("benchmark", help="caption metrics vs real human judgments, beside the published values",
                 description=DESCRIPTION, add_arguments=_add, run=_run)
