"""``judgenet`` command line: one subcommand per user job, mapping 1:1 to :mod:`judgenet.api`.

Exit codes: 0 success · 2 a judgenet error (bad input, missing file; one line on stderr, the
traceback with ``--debug``) · 130 interrupted (caches and studies stay resumable).

Other packages may add subcommands with :func:`register_command` (name, help, arguments, a ``run``
callable returning a JSON-able summary) instead of editing this file; judgenet's own are all built in, so
``--help`` imports nothing heavy.
"""
from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import sys
from dataclasses import dataclass
from typing import Callable

from ._version import __version__
from .errors import JudgenetError

DESCRIPTION = """\
judgenet — learn to predict human judgments of generated images.

The commands are listed below; `judgenet COMMAND --help` explains each. Option names are the Python
API's parameter names (--n-resamples → n_resamples).

Weights: a file you pass (--clip-checkpoint / --inception-weights), a file in --weights-dir (or
$JUDGENET_WEIGHTS_DIR), or for open_clip:ARCH:TAG and inception:fid a download by name, once, when
online ($JUDGENET_OFFLINE=1 forbids it). --device cpu|cuda|auto picks where networks run. The feature
cache lives in --cache (or $JUDGENET_CACHE_DIR, default ~/.cache/judgenet). Errors are one line with
exit status 2; unreadable images are skipped and listed (--strict stops instead); Ctrl-C exits 130
and the same command resumes.

Every command: judgenet COMMAND --help (it ends with an example). Documentation: README.md and docs/.
"""


EXTRACT_DESCRIPTION = """\
Embed images (and their prompts) once with a backbone and store the float32 features in the cache.

What is cached, and when it is reused:
  Features are keyed by the SHA-256 of each file's bytes and the backbone's fingerprint
  (architecture, weights-file hash, preprocessing incl. resize/crop and interpolation, dtype,
  QuickGELU, library versions). Renamed or copied files are not recomputed; another backbone,
  other weights or other preprocessing never return stale features. Prompts are keyed by their
  text. Everything lives under --cache/features/<fingerprint>/.

Interruptions and failures:
  Every finished batch is written atomically as a checksummed shard: a killed or interrupted run
  resumes where it stopped when the same command is run again; a corrupted or truncated shard is
  detected and recomputed; several processes may extract into one cache at once. Files that cannot
  be decoded (empty, truncated, corrupt, not an image) are listed with the reason and skipped;
  with --strict the first one aborts the run.

Decoding:
  EXIF orientation applied; grey, palette and CMYK converted to RGB; transparency composited on
  white; 16-bit images scaled to 8-bit (see judgenet.images).
"""

EXTRACT_EPILOG = """\
backbones (--backbone, repeatable; default the same as score/train: inception:fid when its weights are
on this machine, else tiny):
  tiny                     built-in image-text encoder trained on the simulated world; no files needed
  open_clip:ARCH[:TAG]     any open_clip architecture, e.g. open_clip:ViT-B-32:laion2b_s34b_b79k; weights
                           from --clip-checkpoint FILE, <weights-dir>/ARCH-TAG.pt (.bin, .safetensors), or for
                           a TAG open_clip knows its own download (once, when online; then its cache). The TAG
                           also sets that checkpoint's preprocessing. OpenAI weights on a GELU architecture
                           need an explicit --quick-gelu (or --no-quick-gelu).
  inception:fid            FID Inception-v3 (2048-d pool, 1008 logits), weights
                           pt_inception-2015-12-05-6726825d.pth from --inception-weights, --weights-dir,
                           judgenet[real], or downloaded once from pytorch-fid's release (SHA-256 checked)
  Offline, missing weights fail at once in one line naming the file to pass.

exit status: 0 done (unreadable files, if any, are listed) · 2 error (one line; --debug shows the traceback)
· 130 interrupted (finished batches stay cached).

examples:
  torchrun --nproc-per-node 2 -m judgenet.cli extract images/ --cache cache/   # ranks split the images
  judgenet extract gen/ --prompts gen/prompts.csv --backbone tiny --backbone inception:fid \\
      --weights-dir ~/weights --cache cache/ --json
  judgenet extract images/ --cache cache/

More: docs/backbones.md
"""


#: ``judgenet benchmark``'s sets (equal to judgenet.captions.protocols.SETS + "all"; a test checks it): written here so
#: that building the parser imports nothing heavy.
BENCHMARK_SETS = ("flickr8k-expert", "flickr8k-cf", "pascal50s", "thumb", "all")

BENCHMARK_DESCRIPTION = """\
Caption metrics against real human judgments, our value beside the published one.

Sets: flickr8k-expert (Kendall tau-c, 16,992 instances), flickr8k-cf (Kendall tau-b; reference
protocols clipscore-shared = the published one, and per-item), pascal50s (accuracy per category
HC/HI/HM/MM over reference draws; bundled 11-vote labels = CLIPScore Table 7), thumb (Pearson and
Kendall tau-b with human_score, P, R; all rows and machine rows; system level), or all.

Metrics: BLEU-1..4, ROUGE-L, CIDEr-D, METEOR (Java) via pycocoevalcap (pip install
'judgenet[captions]'), sentence-encoder similarity (--text-backbone, default all-MiniLM-L6-v2,
which was trained on caption pairs: its rows carry that caveat), and with --images + a CLIP backbone:
CLIP-S, RefCLIP-S, MID. SPICE is not available. Label files: --label-root or $JUDGENET_LABEL_SETS
(never downloaded).
"""


def _epilog(page: str, example: str) -> str:
    """The end of a subcommand's --help: one example and its documentation page (tests/test_docs.py checks both)."""
    return f"example:\n  {example}\n\nMore: {page}\n"


#: Each subcommand's epilog, plugins' included (keyed by command name).
EPILOGS = {
    "demo": _epilog("docs/results.md", "judgenet demo --fast --out runs/demo"),
    "extract": EXTRACT_EPILOG,
    "train": _epilog("docs/evaluation.md", "judgenet train --labels labels.csv --images gen/ --reference real/ "
                                           "--split crossed --out my-predictor"),
    "evaluate": _epilog("docs/evaluation.md", "judgenet evaluate --labels labels.csv --images gen/ --reference real/ "
                                              "--split crossed --models ridge anchored"),
    "score": _epilog("docs/files.md", "judgenet score gen/model_a gen/model_b --reference real/ --prompts prompts.csv "
                                      "--predictor my-predictor"),
    "tune": _epilog("docs/tune.md", "judgenet tune --labels labels.csv --images gen/ --reference real/ --n-trials 50 "
                                    "--out my-study"),
    "report": _epilog("docs/evaluation.md", "judgenet report runs/demo"),
    "benchmark": _epilog("docs/real-labels.md", "judgenet benchmark flickr8k-expert --label-root ../shared/label-sets "
                                                "--out runs/bench"),
    "select": _epilog("docs/intervals-and-selection.md", "judgenet select --predictor my-predictor --images pool/ "
                                                         "--budget 50"),
}


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps text with line breaks (lists, examples) as written and wraps one-paragraph descriptions as argparse
    does."""

    def _fill_text(self, text, width, indent):
        if "\n" in text.strip("\n"):
            return super()._fill_text(text, width, indent)
        return argparse.HelpFormatter._fill_text(self, text, width, indent)

log = logging.getLogger("judgenet")


# ------------------------------------------------------------------------------------------------
# argument types: bad values fail at parse time with one line (argparse exits 2)
# ------------------------------------------------------------------------------------------------
def _number(cast, low, *, inclusive: bool, what: str, high=None):
    """An argparse type: ``cast(v)`` that must be finite, > ``low`` (or >= with ``inclusive``) and <= ``high``."""

    def parse(v: str):
        try:
            x = cast(v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {v!r}") from None
        # also refuses NaN and infinities
        if not (x >= low if inclusive else x > low) or not x < float("inf") or (high is not None and x > high):
            raise argparse.ArgumentTypeError(f"expected {what}, got {x}")
        return x

    parse.__name__ = what  # argparse names the type in its messages
    return parse


#: An integer >= 1 (batch sizes, trials, resamples, folds, jobs).
positive_int = _number(int, 1, inclusive=True, what="a whole number >= 1")
#: An integer >= 0 (worker counts: 0 = in the main thread).
nonneg_int = _number(int, 0, inclusive=True, what="a whole number >= 0")
positive_float = _number(float, 0.0, inclusive=False, what="a positive number")
nonneg_float = _number(float, 0.0, inclusive=True, what="a number >= 0")
#: A random seed: what numpy, scikit-learn and torch accept (0 … 2**32 - 1); every command's --random-state.
seed_int = _number(int, 0, inclusive=True, high=2**32 - 1, what="a seed between 0 and 4294967295 (2**32 - 1)")


def fraction(v: str) -> float:
    """A number strictly between 0 and 1 (coverage levels)."""
    try:
        x = float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {v!r}") from None
    if not 0.0 < x < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {x}")
    return x


def criterion_weights(v: str) -> tuple[float, float, float]:
    """Three numbers >= 0 such as ``1,1,1`` (select's uncertainty, disagreement, coverage weights)."""
    try:
        w = tuple(float(x) for x in v.split(","))
    except ValueError:
        w = ()
    if len(w) != 3 or not all(0 <= x < float("inf") for x in w):
        raise argparse.ArgumentTypeError(f"expected three numbers >= 0 like 1,1,1, got {v!r}")
    return w


def budgets(v: str) -> list[int]:
    """A comma-separated list of whole numbers >= 1 (label budgets)."""
    out = [positive_int(x.strip()) for x in v.split(",") if x.strip()]
    if not out:
        raise argparse.ArgumentTypeError(f"expected numbers of judgments such as 50,100,200, got {v!r}")
    return out


def device_name(v: str) -> str:
    """Where networks run: ``auto`` (CUDA when usable), ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (whether the machine
    has it is checked when the backbones load: a one-line error, exit 2)."""
    d = v.strip().lower()
    if d in ("auto", "cpu", "cuda", "mps") or (d.startswith("cuda:") and d[5:].isdigit()):
        return d
    raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda, cuda:N or mps, got {v!r}")


def add_device_options(p: argparse.ArgumentParser, *, batch_size: bool = True) -> None:
    """``--device`` (and ``--batch-size``) for a command that embeds images; plugins call it too."""
    p.add_argument("--device", type=device_name, default="cpu", metavar="DEVICE",
                   help="where the backbones run: cpu (default), cuda, cuda:N, mps, or auto (CUDA when usable); "
                        "features are the same up to floating-point tolerance and share the cache")
    if batch_size:
        p.add_argument("--batch-size", type=positive_int, default=64, metavar="N",
                       help="images per forward pass and per cache shard (default 64; on CPU the forward runs 16 at "
                            "a time)")


def storage_url(v: str) -> str:
    """An Optuna RDB URL (``sqlite:///path.db``, ``postgresql://...``); a sqlite file's folder must exist."""
    from urllib.parse import urlparse

    u = urlparse(v)
    if not u.scheme or "://" not in v:
        raise argparse.ArgumentTypeError(f"{v!r} is not a storage URL; use sqlite:///path/to/study.db or an RDB URL "
                                         "such as postgresql://user@host/db")
    if u.scheme == "sqlite":
        path = v[len("sqlite:///"):] if v.startswith("sqlite:///") else ""
        if not path:
            raise argparse.ArgumentTypeError(f"{v!r}: give a file, e.g. sqlite:///study.db (three slashes + path)")
        folder = os.path.dirname(os.path.abspath(path)) or "."
        if not os.path.isdir(folder):
            raise argparse.ArgumentTypeError(f"{v!r}: folder {folder} does not exist; create it or choose another "
                                             "path")
    return v


def _common(p: argparse.ArgumentParser, *, seed: bool = True, cache: bool = True) -> None:
    p.add_argument("--quiet", action="store_true", help="only warnings and errors (no progress bars or tables)")
    p.add_argument("--json", action="store_true", help="print a machine-readable JSON summary on stdout")
    p.add_argument("--debug", action="store_true", help="debug logging and tracebacks")
    if seed:
        p.add_argument("--random-state", "--seed", dest="random_state", type=seed_int, default=0, metavar="SEED",
                       help="seed of everything random, 0 … 2**32 - 1 (default 0)")
    if cache:
        p.add_argument("--cache", dest="cache_dir", default=None,
                       help="feature cache directory ($JUDGENET_CACHE_DIR)")


def _backbone_opts(p: argparse.ArgumentParser, *, batch_size: bool = True) -> None:
    p.add_argument("--backbone", dest="backbones", action="append", default=None,
                   help="backbone name, repeatable: tiny (built-in), open_clip:<arch>[:<tag>] (e.g. "
                        "open_clip:ViT-B-32:laion2b_s34b_b79k, a text tower for MID and CLIPScore), inception:fid "
                        "(default, the same for every command: inception:fid when its weights are on this machine, "
                        "else tiny with a warning)")
    p.add_argument("--weights-dir", default=None, help="folder searched for weight files ($JUDGENET_WEIGHTS_DIR)")
    p.add_argument("--clip-checkpoint", default=None,
                   help="local open_clip checkpoint file (without it, a TAG open_clip knows is downloaded once when "
                        "online)")
    p.add_argument("--inception-weights", default=None,
                   help="local FID-Inception weights (pt_inception-2015-12-05-6726825d.pth; without it, "
                        "judgenet[real]'s or a verified download, once, when online)")
    p.add_argument("--quick-gelu", action=argparse.BooleanOptionalAction, default=None,
                   help="QuickGELU activations (required choice for OpenAI CLIP weights)")
    p.add_argument("--resize", default=None, choices=("tf1", "antialias", "clean"),
                   help="inception:fid resize to 299: tf1 (default; torch-fidelity, pytorch-fid, torchmetrics "
                        "antialias=False), antialias (torchmetrics' default), clean (clean-fid, PIL bicubic)")
    p.add_argument("--text-model", default=None,
                   help="sentence-transformers model directory for a text:<name> backbone")
    add_device_options(p, batch_size=batch_size)


def _mid_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mid-eps", type=nonneg_float, default=0.0,
                   help="ridge added to the MID reference covariance (default 0, the official estimator); use a "
                        "small value (e.g. 1e-6) when the reference has few image-prompt pairs")
    p.add_argument("--mid-shrinkage", choices=("none", "ledoit_wolf", "oas"), default="none",
                   help="shrinkage of the MID reference covariance (default none, the official estimator)")


def _resamples_opt(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n-resamples", "--resamples", dest="n_resamples", type=positive_int, default=1000,
                   help="bootstrap resamples for the CIs (default 1000)")


def _out_opts(p: argparse.ArgumentParser, out_help: str, overwrite_help: str = "allow writing into a non-empty --out"
              ) -> None:
    p.add_argument("--out", default=None, help=out_help)
    p.add_argument("--overwrite", action="store_true", help=overwrite_help)


def _split_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--split", default="generator", choices=("generator", "prompt", "crossed"),
                   help="what a test fold holds out: generator = a new generator on prompts that have human labels "
                        "from other generators; prompt = new prompts; crossed = a new generator on new prompts "
                        "(default generator)")
    p.add_argument("--n-prompt-folds", "--prompt-folds", dest="n_prompt_folds", type=positive_int, default=5,
                   help="number of prompt folds for --split prompt/crossed (default 5)")


def _label_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--labels", required=True, help="label file (CSV/JSONL/Parquet in the judgenet schema) or a "
                                                   "public set name (flickr8k-expert, thumb, ...)")
    p.add_argument("--label-root", default=None, help="folder of the public label-set files ($JUDGENET_LABEL_SETS)")
    p.add_argument("--images", default=None, help="folder the label file's image paths are relative to (image "
                                                  "paths outside it are refused)")
    p.add_argument("--allow-outside-images", action="store_true",
                   help="allow label image paths outside --images (only for label files you trust)")
    p.add_argument("--reference", required=True, help="folder of real images (prompts.csv inside for MID)")
    p.add_argument("--reference-prompts", default=None, help="image,prompt file for the reference images")
    p.add_argument("--question", default=None, help="which judgment to predict (default: the first in the file)")
    p.add_argument("--lenient", action="store_true",
                   help="skip bad label rows instead of failing (they are counted and listed)")
    p.add_argument("--strict", action="store_true",
                   help="stop (exit 2) at the first unreadable image instead of skipping and listing it")
    p.add_argument("--group-by", default="generator", choices=("generator", "prompt", "image"),
                   help="label column that names the unit held out in evaluation (default generator)")
    _out_opts(p, "output directory (default: a new timestamped judgenet-runs/ folder; tune: "
                 "judgenet-runs/tune-<study-name>, which a rerun continues)")
    _split_opts(p)
    _mid_opts(p)


@dataclass(frozen=True)
class Command:
    """A subcommand added with :func:`register_command`."""

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], dict | None]
    common: bool = True


_BUILTIN = ("demo", "extract", "train", "evaluate", "score", "tune", "select", "benchmark", "report")

#: Subcommands registered by other modules (built-in ones are defined in :func:`build_parser`).
COMMANDS: dict[str, Command] = {}


def register_command(name: str, *, help: str, description: str = "",
                     add_arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None,
                     run: Callable[[argparse.Namespace], dict | None], common: bool = True,
                     replace: bool = False) -> Command:
    """Add a ``judgenet <name>`` subcommand without editing this module.

    Args:
        add_arguments: adds the command's own arguments to its ``argparse`` subparser.
        run: called with the parsed namespace; returns a JSON-able summary dict (printed with
            ``--json``) or None. Raise :class:`judgenet.errors.JudgenetError` for user errors: ``main``
            turns them into one line on stderr and exit code 2.
        common: also add ``--quiet --json --debug --random-state --cache``.
        replace: allow re-registering ``name`` (otherwise a duplicate is a :class:`ValueError`).
    """
    if not replace and (name in COMMANDS or name in _BUILTIN):
        raise ValueError(f"judgenet subcommand {name!r} is already defined")
    cmd = Command(name, help, description or help, add_arguments, run, common)
    COMMANDS[name] = cmd
    return cmd


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="judgenet", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"judgenet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", epilog=EPILOGS["demo"], formatter_class=_HelpFormatter,
                       help="run everything offline on the built-in simulated world",
                       description="Generate the built-in SIMULATED world and raters, extract and cache tiny-encoder "
                                   "features, train predictors, evaluate them on held-out generators against raw "
                                   "MID (on both splits: new generator on labelled prompts, and new generator on "
                                   "new prompts), and write a report. --fast is the small variant the tests run.")
    _out_opts(p, "run directory (default: judgenet-runs/demo-<time>)")
    p.add_argument("--fast", action="store_true", help="small variant, used by the tests")
    p.add_argument("--n-jobs", type=positive_int, default=None,
                   help="worker processes running the evaluations at once (default: the number of usable CPU cores)")
    p.add_argument("--world", default="v2", choices=("v1", "v2"),
                   help="version of the simulated world: v2 (default; prompt difficulty from scene content, "
                        "calibrated to real variance structure) or v1 (the earlier world, for older tables)")
    p.add_argument("--inception", action="store_true",
                   help="also embed the world with the genuine FID-Inception (pip install 'judgenet[real]') and "
                        "add its realism and activation features")
    _common(p)

    p = sub.add_parser("extract", help="embed images (and prompts) into the feature cache",
                       description=EXTRACT_DESCRIPTION, epilog=EPILOGS["extract"],
                       formatter_class=_HelpFormatter)
    p.add_argument("images", nargs="+", help="image files, or folders searched recursively for image files "
                                             "(by extension: png, jpg, webp, bmp, tif, ...)")
    p.add_argument("--prompts", default=None, metavar="FILE",
                   help="CSV/TSV/JSONL with columns image,prompt (image relative to its folder argument, or its "
                        "file name): also embed each image's prompt with every backbone that has a text tower")
    p.add_argument("--batch-size", type=positive_int, default=64, metavar="N",
                   help="images per cache shard and per forward pass on a GPU (default 64; on CPU the forward runs "
                        "16 at a time); a killed run loses at most the shard in progress, Ctrl-C loses nothing")
    p.add_argument("--workers", type=nonneg_int, default=None, metavar="K",
                   help="DataLoader worker processes decoding images while the model runs; 0 decodes in the main "
                        "thread (default: on CPU one decoding thread beside a forward pass on the other cores; on "
                        "a GPU min(CPUs - 1, 8) processes)")
    p.add_argument("--strict", action="store_true",
                   help="abort (exit 2) on the first unreadable image instead of listing it and going on")
    _backbone_opts(p, batch_size=False)
    _common(p, seed=False)

    p = sub.add_parser("train", epilog=EPILOGS["train"], formatter_class=_HelpFormatter,
                       help="fit a predictor on a label set and save it",
                       description="Fit a predictor of human labels on cached features (MID, CLIPScore, realism "
                                   "distances, activation statistics) and save it with its CV results.")
    _label_opts(p)
    p.add_argument("--model", default="auto", help="a model family (ridge, hist_gb, mlp, ...; see "
                                                    "judgenet.predictors.families.FAMILIES) or auto (best of "
                                                    "ridge/hist_gb/mlp by held-out tau-b on --split; when it does "
                                                    "not beat the best raw baseline, that raw feature is saved)")
    _resamples_opt(p)
    _backbone_opts(p)
    _common(p)

    p = sub.add_parser("evaluate", epilog=EPILOGS["evaluate"], formatter_class=_HelpFormatter,
                       help="held-out-generator evaluation against raw MID",
                       description="Held-out evaluation (--split) of predictor recipes against raw MID, CLIPScore "
                                   "and Mahalanobis baselines, with bootstrap CIs and a report.")
    _label_opts(p)
    p.add_argument("--predictor", default=None, help="evaluate the recipe saved in a predictor artifact (its "
                                                     "meta.json only; the model file is never loaded)")
    p.add_argument("--models", "--model", dest="models", action="extend", nargs="+", default=None, metavar="MODEL",
                   help="model families to evaluate (default ridge, hist_gb, mlp); several after one --models, or "
                        "--model repeated")
    p.add_argument("--budget", type=budgets, default=None, metavar="N,N,...",
                   help="label-efficiency curve: held-out agreement of the first recipe vs the number of human "
                        "judgments used for training, e.g. 50,100,200,400 (writes efficiency.md / .png)")
    _resamples_opt(p)
    _backbone_opts(p)
    _common(p)

    p = sub.add_parser("score", epilog=EPILOGS["score"], formatter_class=_HelpFormatter,
                       help="score generator folders for realism and alignment",
                       description="Per-image scores (predicted human judgment, PMI, CLIPScore, realism distances) "
                                   "and a per-generator table (mean predicted score with CI, set MID, FID, KID, "
                                   "precision/recall). Works without prompts (realism only) and without a "
                                   "predictor (raw metrics only). Unreadable images are skipped and listed in "
                                   "failures.csv (--strict stops instead).")
    p.add_argument("generators", nargs="+", help="one folder of images per generator")
    p.add_argument("--reference", default=None,
                   help="folder of real images (required without --predictor; with --predictor its own fitted "
                        "reference is used, and a --reference given too must match it)")
    p.add_argument("--prompts", default=None, help="image,prompt file for the generated images")
    p.add_argument("--reference-prompts", default=None, help="image,prompt file for the reference images")
    p.add_argument("--predictor", default=None, help="predictor artifact directory (from train/tune/demo)")
    _out_opts(p, "output folder for per_image.csv, per_generator.csv, score.json (default: a new timestamped "
                 "judgenet-runs/score-<time> folder)",
              "allow writing into a non-empty --out (its earlier files are replaced)")
    p.add_argument("--strict", action="store_true", help="stop at the first unreadable image")
    _resamples_opt(p)
    p.add_argument("--kid-subset-size", type=positive_int, default=1000,
                   help="KID subset size (default 1000); a generator or reference with fewer images uses all of "
                        "them, and a note says so")
    p.add_argument("--coverage", type=fraction, default=0.9,
                   help="coverage of the prediction intervals of a calibrated predictor (default 0.9): pred_low/"
                        "pred_high per image and an interval for each generator's mean, calibrated on held-out "
                        "generators (pairwise predictors: p_win_low/p_win_high on the win probability)")
    _mid_opts(p)
    _backbone_opts(p)
    _common(p)

    p = sub.add_parser("tune", epilog=EPILOGS["tune"], formatter_class=_HelpFormatter,
                       help="Optuna search over predictors",
                       description="Optuna search (TPE, median pruning) over model family, feature groups, PCA size, "
                                   "scaling and MLP settings, scored by held-out agreement on --split. The study "
                                   "lives in --storage (default sqlite:///<out>/study.db): rerun the same command to "
                                   "continue; several workers may share one storage. Inspect with "
                                   "`optuna-dashboard <storage>`.")
    _label_opts(p)
    p.add_argument("--n-trials", "--trials", dest="n_trials", type=positive_int, default=20,
                   help="total finished trials the study should reach, counting earlier runs' (default 20)")
    p.add_argument("--study-name", default="judgenet",
                   help="name of the Optuna study in --storage (default judgenet); runs with the same name and "
                        "storage continue one study")
    p.add_argument("--storage", type=storage_url, default=None,
                   help="Optuna storage URL (sqlite:///..., postgresql://...)")
    p.add_argument("--n-jobs", type=positive_int, default=1,
                   help="worker processes tuning the study at once, each one trial at a time (default 1)")
    p.add_argument("--timeout", type=positive_float, default=None, help="stop after this many seconds")
    p.add_argument("--measure", default="kendall_tau_b",
                   choices=("kendall_tau_b", "kendall_tau_c", "spearman", "pearson", "pairwise_accuracy"),
                   help="held-out agreement measure to maximize (default kendall_tau_b)")
    _backbone_opts(p)
    _common(p)

    p = sub.add_parser("select", epilog=EPILOGS["select"], formatter_class=_HelpFormatter,
                       help="choose the images (or pairs) raters should label next",
                       description="Rank a pool of unlabelled images (one folder per generator) with a saved predictor "
                                   "by uncertainty, ensemble disagreement and coverage of generators and prompts, and "
                                   "write the most useful ones (or side-by-side pairs) to a CSV for raters.")
    p.add_argument("--predictor", required=True, help="predictor directory (judgenet train/tune/demo)")
    p.add_argument("--images", required=True, action="append",
                   help="pool folder of unlabelled images, repeatable (each folder is one generator)")
    p.add_argument("--budget", required=True, type=positive_int, help="number of items (or pairs) to select")
    p.add_argument("--prompts", default=None, help="image,prompt file for the pool (or prompts.csv per folder)")
    p.add_argument("--pairs", action="store_true", help="select side-by-side pairs instead of single images")
    p.add_argument("--weights", type=criterion_weights, default=(1.0, 1.0, 1.0), metavar="U,D,C",
                   help="uncertainty,disagreement,coverage weights (default 1,1,1)")
    p.add_argument("--out", default="selection.csv", help="CSV to write (default selection.csv)")
    add_device_options(p)
    _common(p)

    p = sub.add_parser("benchmark", epilog=EPILOGS["benchmark"], formatter_class=_HelpFormatter,
                       help="caption metrics vs real human judgments, beside the published values",
                       description=BENCHMARK_DESCRIPTION)
    p.add_argument("set_name", metavar="set", choices=BENCHMARK_SETS, help="which label set (or all)")
    p.add_argument("--label-root", default=None, help="folder of the public label-set files ($JUDGENET_LABEL_SETS)")
    p.add_argument("--out", default=None, help="write benchmark-<set>.md/.html/.json here")
    p.add_argument("--cf-protocols", "--cf-protocol", dest="cf_protocols", action="extend", nargs="+",
                   choices=("clipscore-shared", "per-item"), default=None,
                   help="Flickr8k-CF reference protocol(s) (default: both; clipscore-shared is the published one)")
    p.add_argument("--metrics", "--metric", dest="metrics", action="extend", nargs="+", default=None,
                   help="reference metric(s) to compute (default: BLEU-1..4, ROUGE-L, CIDEr-D, METEOR)")
    p.add_argument("--text-backbone", default="text:all-MiniLM-L6-v2",
                   help="sentence encoder for candidate-reference similarity ('none' to skip)")
    p.add_argument("--images", default=None, help="folder with the set's image files (enables CLIP-S, RefCLIP-S, MID)")
    p.add_argument("--clip-backbone", "--backbone", dest="clip_backbone", default=None,
                   help="CLIP backbone for --images (default open_clip:ViT-B-32)")
    p.add_argument("--clip-checkpoint", default=None, help="local open_clip checkpoint file")
    p.add_argument("--weights-dir", default=None, help="folder searched for weight files ($JUDGENET_WEIGHTS_DIR)")
    p.add_argument("--n-resamples", type=positive_int, default=1000, help="bootstrap resamples (whole images)")
    p.add_argument("--n-draws", "--draws", dest="n_draws", type=positive_int, default=5,
                   help="Pascal-50S reference draws (default 5)")
    p.add_argument("--ties", choices=("half", "random"), default="half",
                   help="Pascal-50S metric ties: 0.5 (expectation of a coin flip) or a seeded coin flip")
    _common(p)

    p = sub.add_parser("report", epilog=EPILOGS["report"], formatter_class=_HelpFormatter,
                       help="rebuild reports from saved results",
                       description="Rebuild report.md / report.html and plots from every results.json under RUN_DIR.")
    p.add_argument("run_dir")
    _common(p, seed=False, cache=False)
    for cmd in COMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.description, epilog=EPILOGS.get(cmd.name),
                           formatter_class=_HelpFormatter)
        cmd.add_arguments(p)
        if cmd.common:
            _common(p)
    return parser


#: Namespace entries that configure the CLI itself, not the job.
CLI_ONLY = frozenset({"command", "quiet", "json", "debug"})


def job_kwargs(fn, a: argparse.Namespace) -> dict:
    """The parsed options that are parameters of ``fn`` (CLI names = Python names; tests/test_cli_names.py checks
    both directions)."""
    params = inspect.signature(fn).parameters
    return {k: v for k, v in vars(a).items() if k in params and k not in CLI_ONLY}


def _run(a) -> dict:
    from . import api

    if a.command in COMMANDS:
        return COMMANDS[a.command].run(a) or {}
    fn = getattr(api, a.command)
    result = fn(**job_kwargs(fn, a))
    return result.to_json()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each message (tests and notebooks replace it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def _configure_logging(a) -> None:
    level = logging.DEBUG if getattr(a, "debug", False) else \
        logging.WARNING if (getattr(a, "quiet", False) or getattr(a, "json", False)) else logging.INFO
    log.setLevel(level)
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        h = _StderrHandler()
        h.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(h)
        log.propagate = False
    import warnings

    # library warnings (sklearn convergence, numerics) go through logging, one line each, not as tracebacks
    logging.captureWarnings(True)
    warnings.simplefilter("default")


def main(argv=None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    if a.command is None:
        parser.print_help()
        return 2
    _configure_logging(a)
    try:
        out = _run(a)
    except JudgenetError as exc:
        if getattr(a, "debug", False):
            raise
        print(f"judgenet {a.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"judgenet {a.command}: interrupted — finished work is cached; rerun the same command to resume",
              file=sys.stderr)
        return 130
    # under torchrun every rank returns the same summary: print it once
    if getattr(a, "json", False) and os.environ.get("RANK", "0") == "0":
        from .io import to_jsonable

        print(json.dumps(to_jsonable(out), indent=2))
    return 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":  # pragma: no cover - `python -m judgenet.cli`: the module that register_command fills
    from judgenet.cli import main as _main

    sys.exit(_main())
