"""Lever: features that do not identify the scene — image embeddings with the prompt's expected
embedding removed.

The tiny encoder's image embedding of a generated image mixes *what is drawn* (the scene, i.e. the
prompt) with *how well* (the degradation). A ridge map from caption embedding to image embedding,
fitted on the REAL images and their captions only (no human labels, no generated items: no leakage
into any fold), predicts the scene part from the prompt; the residual ``e_img - W e_text`` keeps the
rest. Realism statistics of the residual (Mahalanobis distance and norm under the real images'
residual distribution, k-NN distance) are features a model can use on prompts it has never seen.

    python benchmarks/generalization/prompt_residual.py full realism,alignment,overall
"""
import os
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from study import load, run, show


def residual_features(variant="full", alpha=1.0):
    from data import SIZES

    from judgenet import config
    from judgenet.backbones import load_backbones
    from judgenet.embeddings import embed
    from judgenet.world import make_world

    cache = config.cache_dir(None)
    world = make_world(cache / "world" / variant, seed=0, **SIZES[variant])
    bb = load_backbones(["tiny"])
    real, gen = world.real, world.generated
    er = embed(real["path"].tolist(), bb, prompts=real["prompt"].tolist(), cache_dir=cache, progress=False)
    eg = embed(gen["path"].tolist(), bb, prompts=gen["prompt"].tolist(), cache_dir=cache, progress=False)
    src = er.text_source

    def unit(a):
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    xi, ti = unit(er.images[src]), unit(er.texts)
    gi, gt = unit(eg.images[src]), unit(eg.texts)
    # ridge from text to image embedding on the real pairs (closed form, intercept via centring)
    mt, mi = ti.mean(0), xi.mean(0)
    A = (ti - mt).T @ (ti - mt) + alpha * np.eye(ti.shape[1])
    W = np.linalg.solve(A, (ti - mt).T @ (xi - mi))
    r_real = xi - (mi + (ti - mt) @ W)
    r_gen = gi - (mi + (gt - mt) @ W)
    feats = {}
    mu = r_real.mean(0)
    cov = np.cov(r_real, rowvar=False) + 1e-3 * np.eye(r_real.shape[1])
    P = np.linalg.inv(cov)
    d = r_gen - mu
    feats["resid.mahalanobis2"] = np.einsum("ij,jk,ik->i", d, P, d)
    feats["resid.norm"] = np.linalg.norm(r_gen, axis=1)
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(n_neighbors=3).fit(r_real)
    feats["resid.knn"] = nn.kneighbors(r_gen)[0][:, -1]
    # explained share of the real images' embedding variance (how much of the image is "the prompt")
    share = 1 - r_real.var(0).sum() / xi.var(0).sum()
    return feats, float(share)


if __name__ == "__main__":

    from judgenet.predictors import make_predictor
    from judgenet.predictors.anchored import AnchoredRegressor
    from judgenet.predictors.recipes import column_pipeline

    variant = sys.argv[1] if len(sys.argv) > 1 else "full"
    questions = (sys.argv[2] if len(sys.argv) > 2 else "realism").split(",")
    splits = (sys.argv[3] if len(sys.argv) > 3 else "crossed,generator").split(",")
    d = load(variant)
    feats, share = residual_features(variant)
    print(f"share of the real images' embedding variance predicted from the caption: {share:.3f}", flush=True)
    names = list(d["names"]) + list(feats)
    X = np.c_[d["X"], np.column_stack(list(feats.values()))]
    noact = [i for i, n in enumerate(names) if not n.startswith(("pca.", "act."))]
    mid = names.index("mid_pmi")
    allr = []
    for q in questions:
        for split in splits:
            ms = {"hist_gb_resid_noact": column_pipeline(noact, make_predictor("hist_gb", random_state=0)),
                  "ridge_resid_noact": column_pipeline(noact, make_predictor("ridge", random_state=0)),
                  "anchored_resid_noact": AnchoredRegressor(anchor=mid, estimator=column_pipeline(
                      noact, make_predictor("hist_gb", random_state=0)))}
            r = run(d, q, ms, split=split, X=X, names=names)
            allr += show(r, q, "residual features")
    pd.DataFrame(allr).to_csv(os.environ.get("OUT", f"/tmp/gen_resid_{'_'.join(questions)}.csv"), index=False)
