"""Reference-based caption metrics through the field's reference implementation, ``pycocoevalcap``.

BLEU-1…4, ROUGE-L and CIDEr-D are pure Python; the PTB tokenizer and METEOR 1.5 run Java
(``java`` on ``PATH``). SPICE needs Stanford CoreNLP model downloads and is not offered.

Conventions, as in CLIPScore's released evaluation code (``jmhessel/clipscore``,
``generation_eval_utils.py``): whitespace is collapsed (``" ".join(s.split())``), candidates and
references go through ``PTBTokenizer`` (lower-cases, drops punctuation), one corpus entry per
judged instance — CIDEr-D's document frequencies are computed over exactly the entries it is given,
so the corpus composition (e.g. an Expert pair repeated for its 3 ratings) is part of the protocol.
Without Java a Python approximation of the PTB tokenizer is used and METEOR is skipped; both are
reported in :attr:`RefMetrics.notices`.
"""
from __future__ import annotations

import logging
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Sequence

import numpy as np

from ..errors import ConfigError

__all__ = ["REFERENCE_METRICS", "RefMetrics", "reference_metrics", "java_available", "pycocoevalcap_available",
           "simple_tokenize", "normalize_whitespace", "SPICE_NOTICE"]

log = logging.getLogger(__name__)

REFERENCE_METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr-D", "METEOR")
"""Names of the reference-based metrics :func:`reference_metrics` computes (METEOR needs Java)."""

SPICE_NOTICE = "SPICE not computed: it needs Stanford CoreNLP model downloads (not available offline)"

# PTBTokenizer's punctuation list (pycocoevalcap/tokenizer/ptbtokenizer.py)
_PUNCT = {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"}


@lru_cache(maxsize=1)
def java_available() -> bool:
    """True when ``java -version`` runs (the PTB tokenizer and METEOR need it)."""
    exe = shutil.which("java")
    if exe is None:
        return False
    try:
        return subprocess.run([exe, "-version"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def pycocoevalcap_available() -> bool:
    try:
        import pycocoevalcap  # noqa: F401
    except ImportError:
        return False
    return True


def normalize_whitespace(s: str) -> str:
    return " ".join(str(s).split())


def simple_tokenize(s: str) -> str:
    """A Python approximation of the PTB tokenizer as pycocoevalcap uses it (lower-case, split off
    punctuation and clitics, drop punctuation tokens); used only when Java is absent."""
    s = str(s).lower()
    for br, tok in (("(", "-lrb-"), (")", "-rrb-"), ("[", "-lsb-"), ("]", "-rsb-"), ("{", "-lcb-"), ("}", "-rcb-")):
        s = s.replace(br, f" {tok} ")  # PTB escapes brackets, then lower-cases: "-lrb-" survives the filter
    s = re.sub(r"([.,!?;:\"`])", r" \1 ", s)
    s = re.sub(r"(\w)('s|'re|'ve|'ll|'d|'m|n't)\b", r"\1 \2", s)
    s = re.sub(r"(\w)'(?=\s|$)", r"\1 ' ", s)
    return " ".join(t for t in s.split() if t not in _PUNCT and not re.fullmatch(r"[-.'`\"]+", t))


@dataclass
class RefMetrics:
    """Per-instance scores ``scores[name]`` (n,) float64 and the notices of what was skipped/approximated."""

    scores: dict[str, np.ndarray]
    notices: list[str] = field(default_factory=list)
    tokenizer: str = "ptb"


def _tokenize(refs: list[list[str]], cands: list[str], tokenizer: str):
    if tokenizer == "ptb":
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
        tok = PTBTokenizer()
        g = tok.tokenize({i: [{"caption": r} for r in rs] for i, rs in enumerate(refs)})
        c = tok.tokenize({i: [{"caption": x}] for i, x in enumerate(cands)})
        return g, c
    return ({i: [simple_tokenize(r) for r in rs] for i, rs in enumerate(refs)},
            {i: [simple_tokenize(x)] for i, x in enumerate(cands)})


def reference_metrics(candidates: Sequence[str], references: Sequence[Sequence[str]],
                      metrics: Sequence[str] = REFERENCE_METRICS, *, tokenizer: str = "auto") -> RefMetrics:
    """Score each candidate against its references with pycocoevalcap.

    Args:
        candidates: n candidate captions (one corpus entry each — keep repeats, CIDEr-D's IDF counts them).
        references: n lists of reference captions (each non-empty).
        metrics: names from :data:`REFERENCE_METRICS`.
        tokenizer: ``"ptb"`` (Java), ``"simple"`` (Python approximation) or ``"auto"`` (PTB when Java runs).
    Returns :class:`RefMetrics` with (n,) float64 arrays; BLEU/ROUGE-L/METEOR are computed once per
    distinct (candidate, references) entry and broadcast (they do not depend on the corpus),
    CIDEr-D on all n entries.
    """
    if not pycocoevalcap_available():
        raise ConfigError("caption metrics need pycocoevalcap: pip install 'judgenet[captions]'")
    unknown = [m for m in metrics if m not in REFERENCE_METRICS]
    if unknown:
        raise ConfigError(f"unknown caption metric(s) {unknown}; choose from {', '.join(REFERENCE_METRICS)}")
    cands = [normalize_whitespace(c) for c in candidates]
    refs = [[normalize_whitespace(r) for r in rs] for rs in references]
    if len(cands) != len(refs):
        raise ConfigError(f"{len(cands)} candidates but {len(refs)} reference lists")
    empty = [i for i, r in enumerate(refs) if not r]
    if empty:
        raise ConfigError(f"instance {empty[0]} has no references ({len(empty)} such); every candidate needs one")
    notices = []
    java = java_available()
    if tokenizer == "auto":
        tokenizer = "ptb" if java else "simple"
    if tokenizer == "ptb" and not java:
        raise ConfigError("tokenizer='ptb' needs Java on PATH; install a JRE or use tokenizer='simple'")
    if tokenizer == "simple":
        notices.append("PTB tokenizer not used (no Java): a Python approximation tokenized the captions; "
                       "values may differ slightly from pycocoevalcap's")
    metrics = list(metrics)
    if "METEOR" in metrics and not java:
        metrics.remove("METEOR")
        notices.append("METEOR not computed: it needs Java (METEOR 1.5 jar); the other metrics are shown")
    # distinct entries for the corpus-independent metrics
    key_of: dict = {}
    inverse = np.empty(len(cands), dtype=np.intp)
    for i, (c, r) in enumerate(zip(cands, refs)):
        inverse[i] = key_of.setdefault((c, tuple(r)), len(key_of))
    uniq = list(key_of)
    u_refs, u_cands = [list(k[1]) for k in uniq], [k[0] for k in uniq]
    gts_u, res_u = _tokenize(u_refs, u_cands, tokenizer)
    out: dict[str, np.ndarray] = {}
    if any(m.startswith("BLEU") for m in metrics):
        from pycocoevalcap.bleu.bleu import Bleu
        _, per = Bleu(4).compute_score(gts_u, res_u, verbose=0)
        for n in range(4):
            if f"BLEU-{n + 1}" in metrics:
                out[f"BLEU-{n + 1}"] = np.asarray(per[n], np.float64)[inverse]
    if "ROUGE-L" in metrics:
        from pycocoevalcap.rouge.rouge import Rouge
        _, per = Rouge().compute_score(gts_u, res_u)
        out["ROUGE-L"] = np.asarray(per, np.float64)[inverse]
    if "METEOR" in metrics:
        from pycocoevalcap.meteor.meteor import Meteor
        scorer = Meteor()
        try:
            _, per = scorer.compute_score(gts_u, res_u)
        finally:
            del scorer
        out["METEOR"] = np.asarray(per, np.float64)[inverse]
    if "CIDEr-D" in metrics:
        from pycocoevalcap.cider.cider import Cider
        gts = {i: gts_u[int(inverse[i])] for i in range(len(cands))}
        res = {i: res_u[int(inverse[i])] for i in range(len(cands))}
        _, per = Cider().compute_score(gts, res)
        out["CIDEr-D"] = np.asarray(per, np.float64)
    for n in notices:
        log.info(n)
    return RefMetrics({m: out[m] for m in REFERENCE_METRICS if m in out}, notices, tokenizer)
