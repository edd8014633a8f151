"""Published correlations / accuracies of caption metrics with human judgments, with their source.

Values are as printed (×100). Sources:

* CLIPScore — Hessel et al., "CLIPScore: A Reference-free Evaluation Metric for Image Captioning",
  EMNLP 2021, arXiv 2104.08718v3 (March 2022, with the Pascal-50S erratum): Table 1
  (Flickr8K-Expert, tau-c), Table 2 (Flickr8K-CF, tau-b), Table 4 (Pascal-50S, 48-vote consensus
  labels), Table 7 (Pascal-50S with the 11 bundled votes of ``pair_pascal.mat`` — the labels judgenet
  has, so Table 7 is the one compared). Their "CIDEr" is pycocoevalcap's ``Cider`` = CIDEr-D.
* MID — Kim et al., "Mutual Information Divergence: A Unified Metric for Multimodal Generative
  Models", NeurIPS 2022 (arXiv 2205.13445), caption-evaluation table, MID (CLIP ViT-L/14) row:
  Flickr8K-Expert 54.9, Flickr8K-CF 37.3, Pascal-50S mean 85.2 (the 48-vote labels). These three
  values are as quoted to the project; the paper's table itself was not re-read here (the reports say so).
* THumB — Kasai et al., NAACL 2022: no value is entered (reports show "—"). The paper's metric tables
  (2 and 4) were computed on the pre-fix file with misaligned ``Human`` captions; the author's
  corrected tables exist only as screenshots in ``jungokasai/THumB`` issue #1 (2022-01-12), and the
  corrected file judgenet reads differs from the one the paper used in 51 ``Human`` rows.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["PublishedValue", "PUBLISHED", "published_for", "METRIC_ALIASES"]

CLIPSCORE = "Hessel et al. 2021 (CLIPScore), arXiv 2104.08718v3"
MID_PAPER = "Kim et al. 2022 (MID), NeurIPS 2022; as quoted, not re-read from the paper's table"


@dataclass(frozen=True)
class PublishedValue:
    set: str
    metric: str          # judgenet's metric name (CIDEr-D for the papers' pycocoevalcap "CIDEr")
    measure: str         # kendall_tau_c | kendall_tau_b | accuracy
    subset: str          # "all" or a Pascal category (HC, HI, HM, MM, mean)
    value: float         # as printed (×100)
    source: str
    table: str
    row: str
    labels: str = "same"  # "same": the labels judgenet has; "48-vote": Pascal-50S consensus labels (not here)

    def to_dict(self) -> dict:
        return asdict(self)


METRIC_ALIASES = {"CIDEr": "CIDEr-D", "CLIP-S (no refs)": "CLIP-S"}

_E = [("BLEU-1", 32.3), ("BLEU-4", 30.8), ("ROUGE-L", 32.3), ("METEOR", 41.8), ("CIDEr-D", 43.9), ("SPICE", 44.9),
      ("CLIP-S", 51.2), ("RefCLIP-S", 53.0)]
_CF = [("BLEU-4", 16.9), ("CIDEr-D", 24.6), ("METEOR", 22.2), ("ROUGE-L", 19.9), ("SPICE", 24.4), ("CLIP-S", 34.4),
       ("RefCLIP-S", 36.4)]
_CATS = ("HC", "HI", "HM", "MM", "mean")
_P7 = {"length": (65.4, 52.4, 63.0, 42.3, 55.8), "BLEU-4": (52.5, 90.4, 84.9, 55.3, 70.8),
       "SPICE": (56.9, 96.3, 87.1, 66.4, 76.7), "METEOR": (59.0, 97.7, 93.9, 62.0, 78.2),
       "ROUGE-L": (55.0, 95.3, 93.1, 58.7, 75.5), "CIDEr-D": (53.7, 98.1, 90.8, 63.7, 76.6),
       "CLIP-S": (60.3, 99.4, 97.9, 77.3, 83.7), "RefCLIP-S": (57.9, 99.5, 96.1, 80.8, 83.6)}
_P4 = {"length": (51.7, 52.3, 63.6, 49.6, 54.3), "BLEU-4": (60.4, 90.6, 84.9, 54.7, 72.6),
       "SPICE": (63.6, 96.3, 86.7, 68.3, 78.7), "METEOR": (63.8, 97.7, 93.7, 65.4, 80.1),
       "ROUGE-L": (63.7, 95.3, 92.3, 61.2, 78.1), "CIDEr-D": (65.1, 98.1, 90.5, 64.8, 79.6),
       "CLIP-S": (56.5, 99.3, 96.4, 70.4, 80.7), "RefCLIP-S": (64.5, 99.6, 95.4, 72.8, 83.1)}


def _row(m: str) -> str:
    return {"CIDEr-D": "CIDEr", "CLIP-S": "CLIP-S (no refs)"}.get(m, m)


PUBLISHED: list[PublishedValue] = (
    [PublishedValue("flickr8k-expert", m, "kendall_tau_c", "all", v, CLIPSCORE, "Table 1", _row(m)) for m, v in _E]
    + [PublishedValue("flickr8k-expert", "MID", "kendall_tau_c", "all", 54.9, MID_PAPER, "caption table", "MID")]
    + [PublishedValue("flickr8k-cf", m, "kendall_tau_b", "all", v, CLIPSCORE, "Table 2", _row(m)) for m, v in _CF]
    + [PublishedValue("flickr8k-cf", "MID", "kendall_tau_b", "all", 37.3, MID_PAPER, "caption table", "MID")]
    + [PublishedValue("pascal50s", m, "accuracy", c, v, CLIPSCORE, "Table 7 (11 bundled votes)", _row(m))
       for m, vals in _P7.items() for c, v in zip(_CATS, vals)]
    + [PublishedValue("pascal50s", m, "accuracy", c, v, CLIPSCORE, "Table 4 (48-vote consensus)", _row(m), "48-vote")
       for m, vals in _P4.items() for c, v in zip(_CATS, vals)]
    + [PublishedValue("pascal50s", "MID", "accuracy", "mean", 85.2, MID_PAPER, "caption table", "MID", "48-vote")]
)
"""Every published value judgenet compares with (module docstring for the sources)."""


def published_for(set_name: str, metric: str, subset: str = "all", labels: str = "same") -> PublishedValue | None:
    """The published value of ``metric`` on ``set_name`` (``subset``: a Pascal category or "all"), or None."""
    for p in PUBLISHED:
        if p.set == set_name and p.metric == metric and p.subset == subset and p.labels == labels:
            return p
    return None
