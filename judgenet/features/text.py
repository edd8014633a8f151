"""Caption statistics: what a prompt asks for, counted from its words (the ``prompt`` feature group).

Text-to-image studies find prompts hard for every model when they ask for several objects, counts, spatial
relations or attributes bound to objects (GenAI-Bench "advanced" prompts, TIFA, T2I-CompBench). These counts
say how much of that a caption asks for. Nothing is fitted: a caption's statistics depend on that caption
only. Words are lower-case runs of letters or digits; multi-word relations ("on top of", "to the left of")
are matched as phrases on word boundaries and count once each.

Columns (:data:`CAPTION_STATISTICS`, float64):

* ``words`` — number of words;
* ``numbers`` — number words (``one`` … ``twenty``, ``dozen``, ``several``, ``many``, ``pair``) and words
  with a digit (``3``, ``2nd``);
* ``relations`` — spatial relation phrases (:data:`RELATIONS`: left/right of, above/below, on top of,
  under, beside, between, behind, in front of, …);
* ``colors`` — colour words (:data:`COLORS`), each occurrence; ``distinct_colors`` — how many different ones;
* ``conjunctions`` — ``and``, ``with``, ``while``, ``or``, ``plus``, ``but`` and commas: how many parts the
  caption joins.
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from ..errors import ConfigError

__all__ = ["CAPTION_STATISTICS", "caption_statistics", "NUMBER_WORDS", "RELATIONS", "COLORS", "CONJUNCTIONS"]

CAPTION_STATISTICS = ("words", "numbers", "relations", "colors", "distinct_colors", "conjunctions")

NUMBER_WORDS = frozenset(("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                          "sixteen seventeen eighteen nineteen twenty dozen dozens several many multiple pair "
                          "couple few both").split())
#: Spatial relation phrases, longest first (a phrase is counted once, not also as its shorter parts).
RELATIONS = tuple(sorted((
    "left of", "right of", "to the left of", "to the right of", "on the left", "on the right", "above", "below",
    "over", "under", "beneath", "underneath", "on top of", "at the top", "at the bottom", "beside", "next to",
    "between", "behind", "in front of", "near", "inside", "around", "across from", "facing"),
    key=lambda p: (-len(p.split()), p)))
COLORS = frozenset(("red orange yellow green blue purple violet pink brown black white grey gray beige slate "
                    "sage silver gold golden cyan magenta teal navy maroon tan").split())
CONJUNCTIONS = frozenset(("and", "with", "while", "or", "plus", "but"))

_WORD = re.compile(r"[a-z0-9]+")
_RELATION = re.compile(r"\b(?:" + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in RELATIONS) + r")\b")


def caption_statistics(captions: Sequence[str]) -> np.ndarray:
    """(n, len(:data:`CAPTION_STATISTICS`)) float64 counts of ``captions`` (columns in that order).

    A caption that is not a string (a missing prompt, ``None`` or NaN) gets a NaN row."""
    out = np.full((len(captions), len(CAPTION_STATISTICS)), np.nan)
    for i, c in enumerate(captions):
        if not isinstance(c, str):
            continue
        low = c.lower()
        words = _WORD.findall(low)
        colors = [w for w in words if w in COLORS]
        out[i] = (len(words),
                  sum(w in NUMBER_WORDS or any(ch.isdigit() for ch in w) for w in words),
                  len(_RELATION.findall(low)),
                  len(colors), len(set(colors)),
                  sum(w in CONJUNCTIONS for w in words) + low.count(","))
    return out


def check_captions(captions, n: int, what: str = "prompts") -> list:
    """``captions`` as a list of n entries, or a :class:`ConfigError` naming the mismatch."""
    if captions is None:
        raise ConfigError(f"the 'caption' feature group needs the {what} as text (one per item): pass prompts= or "
                          "build without it")
    captions = list(captions)
    if len(captions) != n:
        raise ConfigError(f"{len(captions)} {what} for {n} items; they must be paired row by row")
    return captions
