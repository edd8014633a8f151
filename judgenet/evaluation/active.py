"""Active selection: which images (or pairs) to send to raters next, with the reason for each.

:func:`select` ranks a pool of unlabelled items by three criteria, each rank-normalized to [0, 1]
over the pool and combined with ``weights``:

* ``uncertainty`` — how far the item lies from everything labelled (standardized Euclidean
  distance to the nearest labelled or already-selected item): the model is extrapolating there.
  With a fitted :class:`~judgenet.evaluation.conformal.ConformalPredictor` that has a difficulty
  model, its interval width is used instead.
* ``disagreement`` — standard deviation of an ensemble's predictions; members are fitted on random
  halves of the labelled *generators* (or use ``members_`` of a fitted ConformalPredictor with
  ``difficulty="spread"``).
* ``coverage`` — under-represented generators and prompts: 1/(1 + labelled items of the same
  generator) + 1/(1 + labelled items of the same prompt).

Selection is greedy: after each pick the picked item counts as labelled, so ``uncertainty`` and
``coverage`` are recomputed and a batch spreads over generators, prompts and feature space instead of
piling onto one region. Ties are broken by a seeded random order: the same inputs and seed give the
same list. Each row's ``reason`` names the criterion that contributed most, with its value.

``pairs=True`` selects side-by-side pairs (two items of one prompt from different generators)
whose preference the ensemble is least sure of (members split on which item is better), plus the
coverage term; output columns ``item_a``, ``item_b``.

:func:`write_selection` writes the CSV a rating tool reads (atomically). :func:`active_learning_curve`
measures the value of the selection on a world with a simulated oracle (held-out-generator tau-b vs
labels spent, active vs random; :mod:`judgenet.evaluation.active_study`). ``judgenet select`` is the folder job
(:mod:`judgenet.jobs.select`).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..errors import ConfigError

__all__ = ["select", "write_selection", "CRITERIA"]

log = logging.getLogger(__name__)

CRITERIA = ("uncertainty", "disagreement", "coverage")


def _rank01(v: np.ndarray) -> np.ndarray:
    """Average ranks scaled to [0, 1] (constant input → 0.5)."""
    from scipy.stats import rankdata

    v = np.asarray(v, dtype=np.float64)
    if v.size <= 1 or np.ptp(v) == 0:
        return np.full(v.size, 0.5)
    return (rankdata(v) - 1.0) / (v.size - 1.0)


def _members(estimator, X, y, groups, n_members, rng) -> list:
    uniq = np.unique(groups) if groups is not None else np.array([])
    members = []
    for _ in range(int(n_members)):
        if uniq.size >= 3:
            keep = rng.choice(uniq, size=max(2, uniq.size // 2), replace=False)
            idx = np.flatnonzero(np.isin(groups, keep))
        else:  # too few generators: item bootstrap
            idx = rng.integers(0, len(y), len(y))
        members.append(clone(estimator).fit(X[idx], y[idx]))
    return members


def _counts(values, labelled) -> dict:
    if values is None:
        return {}
    s = pd.Series(np.asarray(labelled).astype(str)).value_counts()
    return s.to_dict()


def select(model, X_pool, budget: int, *, items=None, generators=None, prompts=None, X_labelled=None,
           y_labelled=None, generators_labelled=None, prompts_labelled=None, weights=(1.0, 1.0, 1.0),
           pairs: bool = False, n_members: int = 5, seed: int = 0) -> pd.DataFrame:
    """Choose ``budget`` items (or pairs) of a pool to label next.

    Args:
        model: an unfitted sklearn regressor (fitted here on the labelled data, with an ensemble), or a
            fitted estimator (then ``X_labelled`` is still used for ``uncertainty`` and, with
            ``y_labelled``, to fit the ensemble); a fitted ConformalPredictor brings its own
            difficulty model and members.
        X_pool: (n_pool, p) features of the candidates; items: (n_pool,) their ids/paths (default the
            row numbers); generators, prompts: (n_pool,) each, optional (coverage, pairs).
        X_labelled, y_labelled, generators_labelled, prompts_labelled: what is labelled already.
        weights: (uncertainty, disagreement, coverage) weights; a criterion that cannot be computed
            gets weight 0 and a note in ``DataFrame.attrs["notes"]``.
        pairs: select pairs instead of items (needs prompts and generators).
        seed: seeds ensemble members and tie-breaking.

    Returns:
        DataFrame in selection order: ``rank``, ``item`` (or ``item_a``, ``item_b``), ``generator``,
        ``prompt``, ``reason``, ``score``, ``predicted``, and the three criteria's raw values.
    """
    X_pool = np.asarray(X_pool, dtype=np.float64)
    if X_pool.ndim != 2 or not np.isfinite(X_pool).all():
        raise ConfigError(f"X_pool must be a finite (n_pool, n_features) array, got shape {X_pool.shape}")
    n = X_pool.shape[0]
    budget = int(budget)
    if budget < 1:
        raise ConfigError(f"budget must be >= 1, got {budget}")
    items = np.arange(n).astype(str) if items is None else np.asarray(items).astype(str)
    gens = None if generators is None else np.asarray(generators).astype(str)
    prs = None if prompts is None else np.asarray(prompts).astype(str)
    for name, a in (("items", items), ("generators", gens), ("prompts", prs)):
        if a is not None and a.size != n:
            raise ConfigError(f"{name} has {a.size} entries for {n} pool rows")
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (3,) or (w < 0).any() or not w.sum() > 0:
        raise ConfigError(f"weights must be 3 non-negative numbers (uncertainty, disagreement, coverage), got {weights}")
    rng = np.random.default_rng(seed)
    notes = []
    XL = None if X_labelled is None else np.asarray(X_labelled, dtype=np.float64)
    yL = None if y_labelled is None else np.asarray(y_labelled, dtype=np.float64).ravel()
    gL = None if generators_labelled is None else np.asarray(generators_labelled).astype(str)
    pL = None if prompts_labelled is None else np.asarray(prompts_labelled).astype(str)

    fitted = hasattr(model, "n_features_in_") or hasattr(model, "estimator_")
    members = list(getattr(model, "members_", []) or [])
    if not fitted:
        if XL is None or yL is None or len(yL) < 2:
            raise ConfigError("an unfitted model needs X_labelled and y_labelled (>= 2 items) to be fitted")
        model = clone(model).fit(XL, yL)
    if not members and XL is not None and yL is not None and len(yL) >= 2 and w[1] > 0:
        members = _members(model if not hasattr(model, "estimator_") else model.estimator_, XL, yL, gL,
                           n_members, rng)
    pred = np.asarray(model.predict(X_pool), dtype=np.float64).ravel()
    P = np.column_stack([np.asarray(m.predict(X_pool), dtype=np.float64).ravel() for m in members]) if members \
        else None
    disagreement = P.std(axis=1, ddof=1) if P is not None and P.shape[1] > 1 else np.zeros(n)
    if P is None and w[1] > 0:
        notes.append("disagreement: no ensemble (give y_labelled or a ConformalPredictor with difficulty='spread')")
        w[1] = 0.0

    # uncertainty: interval width of a conformal predictor with a difficulty model, else novelty
    conformal_width = None
    if getattr(model, "difficulty", None) is not None and hasattr(model, "difficulty_of"):
        conformal_width = np.asarray(model.difficulty_of(X_pool), dtype=np.float64)
    mu = X_pool.mean(axis=0) if XL is None else np.vstack([XL, X_pool]).mean(axis=0)
    sd = (X_pool.std(axis=0) if XL is None else np.vstack([XL, X_pool]).std(axis=0))
    sd = np.where(sd > 0, sd, 1.0)
    Z = (X_pool - mu) / sd
    if XL is not None and len(XL):
        ZL = (XL - mu) / sd
        nearest = np.full(n, np.inf)
        for i in range(0, len(ZL), 2048):
            d = ((Z[:, None, :] - ZL[None, i:i + 2048, :]) ** 2).sum(axis=2)
            nearest = np.minimum(nearest, d.min(axis=1))
        nearest = np.sqrt(nearest)
    else:
        nearest = np.full(n, np.inf)
        if conformal_width is None:
            notes.append("uncertainty: nothing labelled; distance to the items selected so far is used")
    cntG = _counts(gens, gL if gL is not None else [])
    cntP = _counts(prs, pL if pL is not None else [])
    if gens is None and prs is None and w[2] > 0:
        notes.append("coverage: no generators or prompts given")
        w[2] = 0.0
    jitter = rng.random(n) * 1e-9

    def coverage_vals():
        c = np.zeros(n)
        if gens is not None:
            c += 1.0 / (1.0 + np.array([cntG.get(g, 0) for g in gens], dtype=np.float64))
        if prs is not None:
            c += 1.0 / (1.0 + np.array([cntP.get(p, 0) for p in prs], dtype=np.float64))
        return c

    if pairs:
        return _select_pairs(budget, items, gens, prs, pred, P, coverage_vals, w, rng, notes)

    taken = np.zeros(n, dtype=bool)
    rows = []
    r_dis = _rank01(disagreement)
    for k in range(min(budget, n)):
        unc = conformal_width if conformal_width is not None else \
            np.where(np.isfinite(nearest), nearest, 0.0)
        cov = coverage_vals()
        parts = np.vstack([_rank01(unc), r_dis, _rank01(cov)]) * w[:, None]
        total = parts.sum(axis=0) + jitter
        total[taken] = -np.inf
        i = int(np.argmax(total))
        taken[i] = True
        raw = {"uncertainty": float(unc[i]), "disagreement": float(disagreement[i]), "coverage": float(cov[i])}
        top = CRITERIA[int(np.argmax(parts[:, i]))]
        rows.append({"rank": k + 1, "item": items[i], "generator": None if gens is None else gens[i],
                     "prompt": None if prs is None else prs[i], "reason": _reason(top, raw, gens, prs, i, cntG, cntP),
                     "score": float(total[i]), "predicted": float(pred[i]), **raw, "_row": i})
        # the pick counts as labelled from now on
        if gens is not None:
            cntG[gens[i]] = cntG.get(gens[i], 0) + 1
        if prs is not None:
            cntP[prs[i]] = cntP.get(prs[i], 0) + 1
        d = np.sqrt(((Z - Z[i]) ** 2).sum(axis=1))
        nearest = np.minimum(np.where(np.isfinite(nearest), nearest, np.inf), d)
    out = pd.DataFrame(rows)
    out.attrs["notes"] = notes
    out.attrs["rows"] = out.pop("_row").to_numpy()
    if budget > n:
        notes.append(f"budget {budget} exceeds the pool ({n} items): all selected")
    return out


def _reason(top, raw, gens, prs, i, cntG, cntP) -> str:
    if top == "uncertainty":
        return f"uncertainty: far from labelled items (distance {raw['uncertainty']:.2f})"
    if top == "disagreement":
        return f"disagreement: ensemble members differ (sd {raw['disagreement']:.3f})"
    bits = []
    if gens is not None:
        bits.append(f"generator {gens[i]} has {cntG.get(gens[i], 0)} labelled")
    if prs is not None:
        bits.append(f"prompt {prs[i]} has {cntP.get(prs[i], 0)} labelled")
    return "coverage: " + ", ".join(bits)


def _select_pairs(budget, items, gens, prs, pred, P, coverage_vals, w, rng, notes) -> pd.DataFrame:
    if gens is None or prs is None:
        raise ConfigError("pairs=True needs generators and prompts (pairs compare two generators on one prompt)")
    cand = []
    for p in pd.unique(prs):
        idx = np.flatnonzero(prs == p)
        for a in range(idx.size):
            for b in range(a + 1, idx.size):
                if gens[idx[a]] != gens[idx[b]]:
                    cand.append((idx[a], idx[b]))
    if not cand:
        raise ConfigError("no candidate pairs: the pool needs two generators' images of the same prompt")
    cand = np.array(cand)
    ia, ib = cand[:, 0], cand[:, 1]
    if P is not None:
        share = ((P[ia] - P[ib]) > 0).mean(axis=1)
        split = 1.0 - np.abs(2.0 * share - 1.0)  # 1 = members split evenly, 0 = unanimous
    else:
        split = np.zeros(len(cand))
    closeness = -np.abs(pred[ia] - pred[ib])  # predicted near-tie
    cov = coverage_vals()
    pair_cov = cov[ia] + cov[ib]
    unc_rank = _rank01(split + 1e-6 * _rank01(closeness))
    parts = np.vstack([_rank01(closeness), unc_rank, _rank01(pair_cov)]) * w[:, None]
    total = parts.sum(axis=0) + rng.random(len(cand)) * 1e-9
    order = np.argsort(-total, kind="stable")
    used_prompt: dict = {}
    rows = []
    for j in order:  # at most one pair per prompt per pass, then the rest
        if len(rows) >= budget:
            break
        if used_prompt.get(prs[ia[j]], 0) >= 1 + len(rows) // max(len(set(prs)), 1):
            continue
        used_prompt[prs[ia[j]]] = used_prompt.get(prs[ia[j]], 0) + 1
        top = ("closeness", "disagreement", "coverage")[int(np.argmax(parts[:, j]))]
        reason = {"closeness": f"uncertainty: predicted near-tie (|Δ| {abs(pred[ia[j]] - pred[ib[j]]):.3f})",
                  "disagreement": f"disagreement: {split[j]:.0%} split of ensemble members on the winner",
                  "coverage": f"coverage: generators {gens[ia[j]]} vs {gens[ib[j]]} under-represented"}[top]
        rows.append({"rank": len(rows) + 1, "item_a": items[ia[j]], "item_b": items[ib[j]],
                     "generator_a": gens[ia[j]], "generator_b": gens[ib[j]], "prompt": prs[ia[j]],
                     "reason": reason, "score": float(total[j]), "predicted_a": float(pred[ia[j]]),
                     "predicted_b": float(pred[ib[j]]), "member_split": float(split[j])})
    out = pd.DataFrame(rows)
    out.attrs["notes"] = notes
    return out


def write_selection(selection: pd.DataFrame, path) -> Path:
    """Write the selection as CSV (UTF-8, header, one row per item or pair) atomically."""
    from ..io import atomic_write_text

    return atomic_write_text(Path(path), selection.to_csv(index=False))
