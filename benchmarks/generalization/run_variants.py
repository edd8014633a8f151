"""Step 2 of the study: levers against prompt memorization, each on both splits vs raw MID.

    python benchmarks/generalization/run_variants.py full realism,alignment,overall  > log

Variants (all on the demo's tiny-encoder features):
* ``hist_gb`` / ``ridge`` — the demo's models on all features (reference);
* ``*_noact`` — without the activation group (16 PCA coordinates of the image embedding + 6 summaries:
  the features that identify the scene);
* ``anchored`` — :class:`judgenet.predictors.anchored.AnchoredRegressor`: raw MID + a hist_gb
  correction shrunk by an inner crossed split (all features);
* ``anchored_noact`` — the same with the correction on the non-activation features.
"""
import os
import sys

import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from study import load, run, show

from judgenet.predictors import make_predictor
from judgenet.predictors.anchored import AnchoredRegressor
from judgenet.predictors.recipes import column_pipeline


def models(names, which):
    noact = [i for i, n in enumerate(names) if not n.startswith(("pca.", "act."))]
    mid = names.index("mid_pmi")
    out = {
        "hist_gb": make_predictor("hist_gb", random_state=0),
        "hist_gb_noact": column_pipeline(noact, make_predictor("hist_gb", random_state=0)),
        "ridge_noact": column_pipeline(noact, make_predictor("ridge", random_state=0)),
        "anchored": AnchoredRegressor(anchor=mid),
        "anchored_lite": AnchoredRegressor(anchor=mid, inner_prompt_folds=2, inner_generator_groups=2),
        "anchored_noact": AnchoredRegressor(anchor=mid, estimator=column_pipeline(
            noact, make_predictor("hist_gb", random_state=0))),
    }
    return {k: out[k] for k in which}


if __name__ == "__main__":
    variant = sys.argv[1] if len(sys.argv) > 1 else "full"
    questions = (sys.argv[2] if len(sys.argv) > 2 else "realism").split(",")
    which = (sys.argv[3] if len(sys.argv) > 3 else "hist_gb_noact,ridge_noact,anchored,anchored_noact").split(",")
    splits = (sys.argv[4] if len(sys.argv) > 4 else "crossed,generator").split(",")
    d = load(variant)
    allr = []
    for q in questions:
        for split in splits:
            r = run(d, q, models(d["names"], which), split=split)
            allr += show(r, q, "levers")
    pd.DataFrame(allr).to_csv(os.environ.get("OUT", f"/tmp/gen_variants_{'_'.join(questions)}.csv"), index=False)
