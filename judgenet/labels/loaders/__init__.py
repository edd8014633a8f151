"""Loaders for public human-judgment sets and common label-file formats.

judgenet never downloads label files; ``data_cards/<name>.md`` says where to obtain each.

Named sets (files under ``root`` > ``$JUDGENET_LABEL_SETS`` > ``../shared/label-sets`` beside a
source checkout), see :data:`PUBLIC_SETS`:

* ``flickr8k-expert``, ``flickr8k-cf`` — :mod:`.flickr8k`
* ``thumb`` — :mod:`.thumb`
* ``pascal50s`` — :mod:`.pascal50s` (pairwise)

File formats (``"<format>:<path>"``, or detected from the columns of a file that is not in the
judgenet schema), see :data:`FILE_FORMATS`: ``pickapic`` (pairwise), ``hype`` (real vs fake),
``likert`` (per-image ratings, Kolchinski et al.), ``rankings`` / ``xmcgan`` (side-by-side
rankings → pairwise).

Every loader returns a :class:`~judgenet.labels.LabelSet` or
:class:`~judgenet.labels.PairwiseLabelSet`; reference texts, where a set has them, are in
``.references`` (``meta["references"]``, keyed by image).
"""
from __future__ import annotations

import os
from pathlib import Path

from ...errors import LabelError
from ..files import read_frame
from ..labelset import read_labels
from .flickr8k import load_flickr8k_cf, load_flickr8k_expert, read_flickr8k_tokens
from .pascal50s import PASCAL_CATEGORIES, category_accuracy, load_pascal50s, sample_references
from .perimage import hype_infinity, load_hype, load_likert
from .pickapic import load_pickapic
from .rankings import load_rankings, rank_shares, rankings_to_pairs, read_rankings
from .thumb import load_thumb

__all__ = ["load_label_set", "PUBLIC_SETS", "FILE_FORMATS", "detect_format", "load_flickr8k_expert",
           "load_flickr8k_cf", "load_thumb", "load_pascal50s", "load_pickapic", "load_hype", "load_likert",
           "load_rankings", "read_rankings", "rankings_to_pairs", "rank_shares", "hype_infinity",
           "sample_references", "category_accuracy", "read_flickr8k_tokens", "PASCAL_CATEGORIES"]

PUBLIC_SETS = {"flickr8k-expert": load_flickr8k_expert, "flickr8k-cf": load_flickr8k_cf, "thumb": load_thumb,
               "pascal50s": load_pascal50s}
"""Name → loader(root=None, **options) for the sets whose files live in a label-sets folder."""

FILE_FORMATS = {"pickapic": load_pickapic, "hype": load_hype, "likert": load_likert, "rankings": load_rankings,
                "xmcgan": load_rankings, "judgenet": read_labels}
"""Format → loader(path, **options) for label files."""

_SIMULATED = ("world-simulated", "world")


def detect_format(columns) -> str | None:
    """Guess the file format from column names: ``judgenet`` (schema), ``pickapic``, ``rankings``,
    ``hype`` or ``likert``; None if nothing fits."""
    cols = {str(c).lower() for c in columns}
    if {"item_id", "image", "generator", "question", "score"} <= cols or {"item_a", "item_b", "question"} <= cols:
        return "judgenet"
    if {"label_0", "label_1"} <= cols:
        return "pickapic"
    if "rank" in cols or any(c.startswith("rank_") for c in cols):
        return "rankings"
    if cols & {"answer", "response", "judged_real", "is_real"}:
        return "hype"
    if cols & {"score", "rating", "likert", "mos"}:
        return "likert"
    return None


def load_label_set(name_or_path: str | os.PathLike, root=None, **options):
    """Load labels by set name, ``"<format>:<path>"`` or file path (the CLI's ``--labels``).

    * a name in :data:`PUBLIC_SETS` → that loader with ``root`` (the label-sets folder);
    * ``"pickapic:prefs.parquet"`` etc. → the format's loader (:data:`FILE_FORMATS`);
    * a file path → :func:`~judgenet.labels.read_labels` if it is in the judgenet schema, else
      the loader of the format its columns match (recorded in ``meta["format"]``).

    ``options`` go to the loader (e.g. ``drop_own_references=False``, ``lenient=True``).
    """
    key = os.fspath(name_or_path)
    if key in PUBLIC_SETS:
        return PUBLIC_SETS[key](root, **options)
    if key in _SIMULATED:
        raise LabelError(f"{key!r} labels are simulated and built in memory: use "
                         "judgenet.world.simulate_raters(make_world(...)).labels (see data_cards/world-simulated.md)")
    fmt, sep, rest = key.partition(":")
    if sep and fmt in FILE_FORMATS and not Path(key).exists():
        return FILE_FORMATS[fmt](rest, **options)
    p = Path(key).expanduser()
    if p.is_file():
        df, _ = read_frame(p)
        fmt = detect_format([c for c in df.columns if c != "__row__"])
        if fmt is None:
            from ..schema import schema_hint

            hint = schema_hint(df.columns)
            if hint:
                raise LabelError(f"{p}, row 1: {hint}")
            raise LabelError(f"{p}: columns {', '.join(c for c in df.columns if c != '__row__')} match no known label "
                             f"format; use the judgenet schema (item_id, image, generator, question, score) or prefix "
                             f"the path with a format: {', '.join(f'{f}:' for f in FILE_FORMATS)}")
        return FILE_FORMATS[fmt](p, **options)
    raise LabelError(f"{key!r} is neither an existing label file nor a known set; names: {', '.join(PUBLIC_SETS)}; "
                     f"formats: {', '.join(f'{f}:PATH' for f in FILE_FORMATS)}")
