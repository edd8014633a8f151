"""judgenet.labels — one label schema, readers/writers, public-set loaders, aggregation and rater agreement.

* :class:`LabelSet` / :class:`PairwiseLabelSet` — validated long-format judgments
  (``from_frame``, :func:`read_labels`, ``.write``, ``.aggregate``).
* :func:`load_label_set` — a public set by name (``flickr8k-expert``, ``flickr8k-cf``, ``thumb``,
  ``pascal50s``), ``"<format>:<path>"`` (``pickapic``, ``hype``, ``likert``, ``rankings``) or a file.
* :func:`rater_ceiling` and the agreement statistics of :mod:`judgenet.labels.agreement`.

Data cards for every set are in ``data_cards/`` at the repository root.
"""
from .aggregate import aggregate_pairs, aggregate_scores, zscore_by_rater
from .agreement import (CEILING_STATS, krippendorff_alpha, leave_one_rater_out, pairwise_agreement,
                        pairwise_agreement_counts, rater_ceiling, rating_matrix, spearman_brown, split_half)
from .loaders import (FILE_FORMATS, PASCAL_CATEGORIES, PUBLIC_SETS, category_accuracy, detect_format, hype_infinity,
                      load_flickr8k_cf, load_flickr8k_expert, load_hype, load_label_set, load_likert, load_pascal50s,
                      load_pickapic, load_rankings, load_thumb, rank_shares, sample_references)
from .references import item_references
from .files import read_frame
from .labelset import LabelSet, PairwiseLabelSet, read_labels
from .schema import JUDGMENT_COLUMNS, PAIRWISE_COLUMNS, Problem

__all__ = ["LabelSet", "PairwiseLabelSet", "Problem", "read_labels", "read_frame", "load_label_set", "PUBLIC_SETS",
           "FILE_FORMATS", "detect_format", "JUDGMENT_COLUMNS", "PAIRWISE_COLUMNS", "aggregate_scores",
           "aggregate_pairs", "zscore_by_rater", "rater_ceiling", "CEILING_STATS", "pairwise_agreement",
           "pairwise_agreement_counts", "leave_one_rater_out", "split_half", "spearman_brown", "krippendorff_alpha",
           "rating_matrix", "load_flickr8k_expert", "load_flickr8k_cf", "load_thumb", "load_pascal50s",
           "load_pickapic", "load_hype", "load_likert", "load_rankings", "rank_shares", "hype_infinity",
           "sample_references", "category_accuracy", "PASCAL_CATEGORIES", "item_references"]
