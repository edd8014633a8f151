"""judgenet.labels — one label schema, readers/writers, public-set loaders and rater agreement."""
from .agreement import (krippendorff_alpha, leave_one_rater_out, pairwise_agreement, rater_ceiling,
                        rating_matrix, split_half)
from .public import PUBLIC_SETS, load_label_set
from .schema import JUDGMENT_COLUMNS, PAIRWISE_COLUMNS, LabelSet, PairwiseLabelSet, read_labels

__all__ = ["LabelSet", "PairwiseLabelSet", "read_labels", "load_label_set", "PUBLIC_SETS", "JUDGMENT_COLUMNS",
           "PAIRWISE_COLUMNS", "rater_ceiling", "pairwise_agreement", "leave_one_rater_out", "split_half",
           "krippendorff_alpha", "rating_matrix"]
