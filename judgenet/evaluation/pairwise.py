"""The held-out-generator protocol for pairwise (comparative) labels.

Data
----
``X_items`` (n_items, n_features) holds one row per judged item (an image — or a caption: nothing
here assumes images); ``pairs`` (:class:`Pairs`) the judgments between items, aggregated per
unordered item pair (soft preference = weighted mean of the judgments' P(a preferred), ties 0.5),
with the rater-level judgments kept for the rater ceiling. :func:`pairs_from_labels` builds it
from a :class:`~judgenet.labels.PairwiseLabelSet`.

Folds
-----
:func:`judgenet.evaluation.make_folds` on the items (``split="generator"``: leave one generator
out; ``"prompt"`` / ``"crossed"`` as for per-item labels). In a fold, the **test pairs** are the
pairs with an item in the fold's test part — for the generator split, the pairs that involve the
held-out generator: *within* pairs (both items from it) and *cross* pairs (against another
generator), reported separately and together. **Training** uses only pairs whose two items are
both in the fold's training part; models are fitted on the training items' rows of ``X_items``
only (the held-out generator's features never reach a scaler, PCA or model), and nested model
selection runs inner folds of the same split on those training pairs. A cross pair (g, h) is a
test pair of fold g and of fold h, predicted by two different models; pooled figures count it
once per fold.

Measures (each a ratio of sums over test pairs, so the bootstrap is exact and fast)
---------------------------------------------------------------------------------
* ``accuracy`` — 2AFC against the majority: the higher-scored item is the human majority → 1,
  the minority → 0, equal scores (predicted tie) → 0.5. Human ties (soft preference exactly 0.5):
  ``tie_policy="exclude"`` drops them, ``"half"`` scores them 0.5 whatever the prediction.
* ``margin_accuracy`` — the same, each pair weighted by its vote margin |2p − 1| (human ties
  weigh 0 under either policy).
* ``log_loss`` / ``brier`` — of the predicted P(a ≻ b) = q against the soft human preference p:
  −[p log q + (1 − p) log(1 − q)] (q clipped to [1e-12, 1 − 1e-12]) and (q − p)². Pairwise
  models give q = σ(u_a − u_b); raw-metric baselines have no probability scale, so for them
  q = σ(β (s_a − s_b)) with β ≥ 0 fitted by 1-D logistic regression on the fold's **training**
  pairs. Lower is better.
* ``vote_agreement`` — agreement with the per-pair vote split: the share of the pair's votes that
  go to the side the predictor prefers (a tie vote counts ½; a predicted tie gets ½), i.e. the
  expected agreement with one random rater of that pair (= p when a is preferred, 1 − p when b).
* ``system_accuracy`` — per (fold, generator pair) of cross pairs: does the generator the scorer
  prefers in most of the pairs (share of pairs won > ½) match the generator humans prefer (mean
  soft preference > ½)? 1 / 0, ½ when the scorer's share is exactly ½; human ties by
  ``tie_policy``.

Confidence intervals: percentile bootstrap resampling whole prompts (all test pairs of a prompt,
in every fold, enter or leave together; pairs without a prompt are their own cluster), and whole
unordered generator pairs for ``system_accuracy``. All predictors share the resamples, so every
model − baseline difference is a paired bootstrap (``p_not_better``: share of resamples where the
model is not better; for log-loss/Brier better = lower).

Rater ceiling (:func:`pairwise_rater_ceiling`): every judgment against the majority of the
*other* judgments of the same pair (pairs with ≥ 2 judgments; the rater's tie scores ½; an
others' tie follows ``tie_policy``), pooled, with a prompt-clustered CI; and the rater-pair
agreement (two raters of a pair make the same untied choice) — the 66% kind of figure.
"""
from __future__ import annotations

import logging
import warnings
from abc import ABC, abstractmethod
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid

from ..errors import ConfigError
from ..stats import Estimate, _percentile, resample_weights
from .pairs import TIE_POLICIES, Pairs, _clusters, _ratio, pairs_from_labels, pairwise_rater_ceiling
from .protocol import DEFAULT_BASELINES, make_folds, resolve_baselines
from .results import LOWER_IS_BETTER, PairwiseResults

log = logging.getLogger(__name__)

__all__ = ["Pairs", "pairs_from_labels", "evaluate_pairs", "PairwiseResults", "pair_measures",
           "pairwise_rater_ceiling", "cv_pairs", "FoldScorer", "PAIR_MEASURES", "LOWER_IS_BETTER", "TIE_POLICIES"]

PAIR_MEASURES = ("accuracy", "margin_accuracy", "log_loss", "brier", "vote_agreement")
SYSTEM = "system_accuracy"
KINDS = ("all", "within", "cross")
_EPS = 1e-12


# ---------------------------------------------------------------------------------------------
# per-pair contributions (numerator, denominator) — every measure is sum(num) / sum(den)
# ---------------------------------------------------------------------------------------------
def pair_measures(d, q, p, tie_policy: str = "exclude") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-pair ``(numerator, denominator)`` of each of :data:`PAIR_MEASURES`.

    d: (n,) predicted score difference s_a − s_b; q: (n,) predicted P(a ≻ b); p: (n,) soft human
    preference. A measure over a set of pairs is Σ num / Σ den (module docstring)."""
    from ..predictors.pairwise import pair_accuracy_terms  # the one definition (predictors stay lazy here)

    d, q, p = (np.asarray(v, dtype=np.float64) for v in (d, q, p))
    acc = pair_accuracy_terms(d, p, tie_policy)
    s = np.sign(d)
    correct = np.where(s == 0, 0.5, (s == np.sign(p - 0.5)).astype(np.float64))
    margin = np.abs(2.0 * p - 1.0)
    qc = np.clip(q, _EPS, 1 - _EPS)
    one = np.ones_like(d)
    vote = np.where(s > 0, p, np.where(s < 0, 1.0 - p, 0.5))
    return {"accuracy": acc, "margin_accuracy": (margin * correct, margin),
            "log_loss": (-(p * np.log(qc) + (1 - p) * np.log(1 - qc)), one), "brier": ((q - p) ** 2, one),
            "vote_agreement": (vote, one)}


def _fit_beta(d, p, w) -> float:
    """β >= 0 minimizing Σ w·BCE(σ(β d), p) (Newton on a 1-D convex problem)."""
    d, p, w = (np.asarray(v, dtype=np.float64) for v in (d, p, w))
    if not np.any(d != 0):
        return 0.0
    scale = np.std(d[d != 0]) or 1.0
    x = d / scale
    beta = 0.0
    for _ in range(50):
        q = expit(beta * x)
        g = np.sum(w * (q - p) * x)
        h = np.sum(w * q * (1 - q) * x * x) + 1e-12
        step = g / h
        beta = max(0.0, beta - step)
        if abs(step) < 1e-10:
            break
    return float(beta / scale)


# ---------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------
def _as_pairwise_estimator(name: str, spec, seed: int):
    from ..predictors.pairwise import is_pairwise
    from ..predictors.families import PAIRWISE
    from ..predictors.recipes import make_pairwise

    if isinstance(spec, str):
        if spec not in PAIRWISE:
            raise ConfigError(f"model {name!r}: {spec!r} is not a pairwise family; choose from {', '.join(PAIRWISE)}")
        est = make_pairwise(spec, random_state=seed)
    elif hasattr(spec, "fit") and hasattr(spec, "get_params") and not isinstance(spec, type):
        est = clone(spec)
    elif callable(spec):
        est = spec()
    else:
        raise ConfigError(f"model {name!r}: expected a pairwise estimator, a factory or a family name, got {spec!r}")
    if not is_pairwise(est):
        raise ConfigError(f"model {name!r}: {type(est).__name__} is not a pairwise utility model (fit(X, pair_array)); "
                          "use judgenet.predictors.pairwise (BradleyTerry, PairwiseMLP, PairwiseGB)")
    return est


def _fold_pairs(pairs: Pairs, train_items: np.ndarray, test_items: np.ndarray, n_items: int):
    """(training pairs: both items in train, test pairs: an item in test) as pair indices."""
    tr = np.zeros(n_items, bool)
    te = np.zeros(n_items, bool)
    tr[train_items] = True
    te[test_items] = True
    train = tr[pairs.a] & tr[pairs.b]
    test = te[pairs.a] | te[pairs.b]
    return np.flatnonzero(train), np.flatnonzero(test)


def _fit_on(est, X, pairs: Pairs, train_items: np.ndarray, sel: np.ndarray):
    """Fit ``est`` on the training items' rows only, pairs re-indexed into them."""
    pos = np.full(X.shape[0], -1, dtype=np.intp)
    pos[train_items] = np.arange(train_items.size)
    y = np.c_[pos[pairs.a[sel]], pos[pairs.b[sel]], pairs.preference[sel], pairs.weight[sel]].astype(np.float64)
    return est.fit(X[train_items], y)


def _predict_scores(model, X, items: np.ndarray) -> np.ndarray:
    s = np.full(X.shape[0], np.nan)
    s[items] = np.asarray(model.predict(X[items]), dtype=np.float64).ravel()
    return s


def cv_pairs(estimator, X_items, pairs: Pairs, generators, prompts=None, *, split: str = "generator",
             n_prompt_folds: int = 5, seed: int = 0, on_fold: Callable[[int, float], None] | None = None) -> float:
    """Mean pairwise 2AFC (human ties excluded) over the folds of ``split`` — the model-selection and
    tuning score. ``on_fold(k, running_mean)`` is called after each fold (raise from it to stop,
    e.g. Optuna's ``TrialPruned``). Folds without training or test pairs are skipped; NaN if none."""
    X = np.asarray(X_items, dtype=np.float64)
    gens = np.asarray(generators).astype(str)
    scores = []
    for k, fold in enumerate(make_folds(gens, prompts, split=split, n_prompt_folds=n_prompt_folds, seed=seed)):
        tr_p, te_p = _fold_pairs(pairs, fold.train, fold.test, X.shape[0])
        if tr_p.size == 0 or te_p.size == 0:
            continue
        model = _fit_on(clone(estimator), X, pairs, fold.train, tr_p)
        need = np.union1d(pairs.a[te_p], pairs.b[te_p])
        s = _predict_scores(model, X, need)
        num, den = pair_measures(s[pairs.a[te_p]] - s[pairs.b[te_p]], np.full(te_p.size, 0.5),
                                 pairs.preference[te_p])["accuracy"]
        if den.sum() > 0:
            scores.append(num.sum() / den.sum())
        if on_fold is not None:
            on_fold(k, float(np.mean(scores)) if scores else float("nan"))
    return float(np.mean(scores)) if scores else float("nan")


class FoldScorer(ABC):
    """A scorer that needs more than a fold's training pairs (e.g. per-item Likert labels): it gets
    the fold and returns a score for every item. Implement :meth:`fold_scores`; it must use labels of
    ``train_items`` only (the protocol cannot check what it reads). ``calibrated = True`` when
    σ(s_a − s_b) is already a preference probability (else β is fitted on the training pairs, as for
    baselines)."""

    calibrated = False

    @abstractmethod
    def fold_scores(self, X, pairs: Pairs, train_items: np.ndarray, train_pairs: np.ndarray,
                    fold_index: int) -> np.ndarray:
        """(n_items,) a score for every row of ``X``, from the labels of ``train_items`` only."""


def _select(est, grid, X, pairs, train_items, gens, prompts, split, n_prompt_folds, seed):
    """Nested selection on the training part only: the best grid point by :func:`cv_pairs` over
    inner folds of the same split on the training items (their pairs)."""
    sub = np.asarray(train_items)
    pos = np.full(X.shape[0], -1, dtype=np.intp)
    pos[sub] = np.arange(sub.size)
    keep = (pos[pairs.a] >= 0) & (pos[pairs.b] >= 0)
    inner = Pairs(pos[pairs.a[keep]], pos[pairs.b[keep]], pairs.preference[keep], pairs.n_votes[keep],
                  pairs.weight[keep], None if pairs.prompt is None else pairs.prompt[keep])
    pr = None if prompts is None else prompts[sub]
    k = n_prompt_folds if pr is None else max(2, min(n_prompt_folds, len(np.unique(pr))))
    best, best_score = None, -np.inf
    for params in ParameterGrid(grid):
        score = cv_pairs(clone(est).set_params(**params), X[sub], inner, gens[sub], pr, split=split,
                         n_prompt_folds=k, seed=seed + 1)
        if np.isfinite(score) and score > best_score:
            best, best_score = params, score
    if best is None:
        raise ConfigError("nested selection found no inner fold with training and test pairs; use split='generator' "
                          "with more generators, or no grid")
    return clone(est).set_params(**best), {"params": best, "inner_accuracy": float(best_score)}


# ---------------------------------------------------------------------------------------------
# the protocol
# ---------------------------------------------------------------------------------------------
def evaluate_pairs(X_items, pairs: Pairs, generators, feature_names: Sequence[str], models, *, prompts=None,
                   split: str = "generator", n_prompt_folds: int = 5, baselines=DEFAULT_BASELINES,
                   param_grid=None, tie_policy: str = "exclude", ceiling: bool = True,
                   compare_measures: Sequence[str] = ("accuracy", "log_loss"), n_resamples: int = 1000,
                   seed: int = 0, lenient: bool = False, confidence: float = 0.95) -> PairwiseResults:
    """Run the held-out protocol for pairs (module docstring).

    Args:
        X_items: (n_items, n_features) float64 features of every judged item (images or texts).
        pairs: :class:`Pairs` over the rows of ``X_items``.
        generators: (n_items,) generator (system) of each item — the held-out unit.
        feature_names: (n_features,) column names (for the baselines).
        models: {name: pairwise estimator | factory | family name | :class:`FoldScorer`} or a list
            of pairwise family names (:data:`judgenet.predictors.families.PAIRWISE`). Every model is
            compared with every baseline and with every other model (paired bootstrap).
        prompts: (n_items,) prompt of each item (needed for split prompt/crossed; the bootstrap
            unit is the prompt of each pair).
        baselines: feature columns used as pairwise scorers (``"-name"`` negates), e.g. raw MID
            ``mid_pmi``, ``clip_score``, ``-realism.<source>.mahalanobis2``.
        param_grid: {model: sklearn grid} for nested selection (inner folds, same split, training
            pairs only, scored by 2AFC).
        tie_policy: human ties ``"exclude"`` (default) or ``"half"`` (count 0.5).
        ceiling: compute the rater ceiling from ``pairs.judgments``.
        lenient: skip (and list in ``settings["skipped_folds"]``) generators that appear in no pair or
            have no pairs against other generators, instead of raising.
    """
    if tie_policy not in TIE_POLICIES:
        raise ConfigError(f"tie_policy must be one of {TIE_POLICIES}, got {tie_policy!r}")
    X = np.asarray(X_items, dtype=np.float64)
    gens = np.asarray(generators).astype(str).ravel()
    names = list(feature_names)
    if X.ndim != 2 or X.shape != (gens.size, len(names)):
        raise ConfigError(f"shapes disagree: X_items {X.shape}, generators {gens.shape}, {len(names)} feature names")
    if len(pairs) == 0:
        raise ConfigError("no pairs to evaluate")
    if max(pairs.a.max(), pairs.b.max()) >= X.shape[0] or min(pairs.a.min(), pairs.b.min()) < 0:
        raise ConfigError(f"pair indices must be rows of X_items [0, {X.shape[0]})")
    prompts_arr = None if prompts is None else np.asarray(prompts).astype(str).ravel()
    if prompts_arr is not None and prompts_arr.size != gens.size:
        raise ConfigError(f"prompts has {prompts_arr.size} entries for {gens.size} items")
    if pairs.prompt is None and prompts_arr is not None:
        pairs = Pairs(pairs.a, pairs.b, pairs.preference, pairs.n_votes, pairs.weight, prompts_arr[pairs.a],
                      pairs.judgments)
    if not isinstance(models, Mapping):
        models = {str(m): str(m) for m in models}
    if not models:
        raise ConfigError("no models to evaluate")
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = resolve_baselines(baselines, names, notes)
    for label, i, _ in base:
        if not np.isfinite(X[:, i]).all():
            raise ConfigError(f"baseline column {label!r} has NaN/inf values")
    grids = dict(param_grid or {})
    unknown = [m for m in grids if m not in models]
    if unknown:
        raise ConfigError(f"param grids for unknown models {unknown}")

    # -- bad input: generators without (cross) pairs --------------------------------------------
    ga, gb = gens[pairs.a], gens[pairs.b]
    skipped: list[str] = []
    skip_gens: set[str] = set()
    for g in map(str, pd.unique(gens)):
        involved = (ga == g) | (gb == g)
        problem = None
        if not involved.any():
            problem = (f"generator {g!r} appears in no pair; drop its items or add pairs that compare them "
                       "(lenient=True / --lenient skips it)")
        elif split == "generator" and not (involved & (ga != gb)).any():
            problem = (f"held-out generator {g!r} has no pairs against other generators, so it cannot be compared "
                       "with them; add such pairs (lenient=True / --lenient skips the fold)")
        if problem:
            if not lenient:
                raise ConfigError(problem)
            skipped.append(problem)
            skip_gens.add(g)

    folds = [f for f in make_folds(gens, prompts_arr, split=split, n_prompt_folds=n_prompt_folds, seed=seed)
             if f.held_generator not in skip_gens]
    predictors = list(models) + [b for b, _, _ in base]
    cols: dict[str, list] = {k: [] for k in ("fold", "fold_index", "pair")}
    dq = {f"{t}:{p}": [] for p in predictors for t in ("d", "q")}
    fold_info = []
    for k, fold in enumerate(folds):
        tr_p, te_p = _fold_pairs(pairs, fold.train, fold.test, X.shape[0])
        if te_p.size == 0:
            continue
        if tr_p.size == 0:
            msg = f"fold {fold.name!r}: no training pairs among the remaining items"
            if not lenient:
                raise ConfigError(msg + "; more generators or pairs are needed (lenient=True skips the fold)")
            skipped.append(msg)
            continue
        info = {"fold": fold.name, "fold_index": k, "held_generator": fold.held_generator,
                "n_train_items": int(fold.train.size), "n_train_pairs": int(tr_p.size), "n_test_pairs": int(te_p.size)}
        need = np.union1d(pairs.a[te_p], pairs.b[te_p])
        pa, pb = pairs.a[te_p], pairs.b[te_p]
        chosen = {}
        for name, spec in models.items():
            if isinstance(spec, FoldScorer):
                s = np.asarray(spec.fold_scores(X, pairs, fold.train, tr_p, k), dtype=np.float64)
                d = s[pa] - s[pb]
                dtr = s[pairs.a[tr_p]] - s[pairs.b[tr_p]]
                if not (np.isfinite(d).all() and np.isfinite(dtr).all()):
                    raise ConfigError(f"scorer {name!r} gave non-finite scores on fold {fold.name!r}")
                beta = 1.0 if spec.calibrated else _fit_beta(dtr, pairs.preference[tr_p], pairs.weight[tr_p])
                dq[f"d:{name}"].append(d)
                dq[f"q:{name}"].append(expit(beta * d))
                continue
            est = _as_pairwise_estimator(name, spec, seed)
            if name in grids:
                est, chosen[name] = _select(est, grids[name], X, pairs, fold.train, gens, prompts_arr, split,
                                            n_prompt_folds, seed)
            model = _fit_on(est, X, pairs, fold.train, tr_p)
            s = _predict_scores(model, X, need)
            d = s[pa] - s[pb]
            if not np.isfinite(d).all():
                raise ConfigError(f"model {name!r} gave non-finite scores on fold {fold.name!r}")
            dq[f"d:{name}"].append(d)
            dq[f"q:{name}"].append(expit(d))
        betas = {}
        tr_a, tr_b = pairs.a[tr_p], pairs.b[tr_p]
        for label, i, sign in base:
            s = sign * X[:, i]
            betas[label] = _fit_beta(s[tr_a] - s[tr_b], pairs.preference[tr_p], pairs.weight[tr_p])
            d = s[pa] - s[pb]
            dq[f"d:{label}"].append(d)
            dq[f"q:{label}"].append(expit(betas[label] * d))
        info["beta"] = betas
        if chosen:
            info["chosen_params"] = chosen
        fold_info.append(info)
        cols["fold"].append(np.full(te_p.size, fold.name, dtype=object))
        cols["fold_index"].append(np.full(te_p.size, k))
        cols["pair"].append(te_p)
    if not cols["pair"]:
        raise ConfigError("no fold has both training and test pairs")
    pidx = np.concatenate(cols["pair"])
    preds = pd.DataFrame({"fold": np.concatenate(cols["fold"]), "fold_index": np.concatenate(cols["fold_index"]),
                          "pair": pidx, "a": pairs.a[pidx], "b": pairs.b[pidx], "generator_a": ga[pidx],
                          "generator_b": gb[pidx]})
    preds["kind"] = np.where(preds["generator_a"] == preds["generator_b"], "within", "cross")
    preds["prompt"] = None if pairs.prompt is None else pairs.prompt[pidx]
    preds["preference"] = pairs.preference[pidx]
    preds["n_votes"] = pairs.n_votes[pidx]
    for key, parts in dq.items():
        preds[key] = np.concatenate(parts)

    metrics, comparisons, pnb = _measure_all(preds, pairs, list(models), [b for b, _, _ in base], tie_policy,
                                             compare_measures, n_resamples, seed, confidence)
    ceil = None
    if ceiling and pairs.judgments is not None:
        ceil = pairwise_rater_ceiling(pairs, tie_policy=tie_policy, n_resamples=n_resamples, seed=seed,
                                      confidence=confidence)
    settings = {"split": split, "n_prompt_folds": n_prompt_folds, "tie_policy": tie_policy, "n_resamples": n_resamples,
                "seed": seed, "confidence": confidence, "bootstrap_unit": "prompt" if pairs.prompt is not None
                else "pair", "system_bootstrap_unit": "generator pair", "notes": notes, "skipped_folds": skipped,
                "n_items": int(X.shape[0]), "n_pairs": len(pairs)}
    for s in skipped:
        log.warning("skipped: %s", s)
    return PairwiseResults.from_pairs(by_pairs=metrics, comparisons_by_pairs=comparisons, p_not_better_by_pairs=pnb,
                                      predictions=preds, models=list(models), baselines=[b for b, _, _ in base],
                                      ceiling=ceil, folds=fold_info, settings=settings)


def _system_rows(preds: pd.DataFrame, predictors, tie_policy):
    """Per (fold, unordered generator pair) of cross pairs: (num, den) per predictor and the cluster."""
    cross = preds[preds["kind"] == "cross"]
    if cross.empty:
        return None
    ga, gb = cross["generator_a"].to_numpy(str), cross["generator_b"].to_numpy(str)
    flip = ga > gb
    lo, hi = np.where(flip, gb, ga), np.where(flip, ga, gb)
    key = pd.MultiIndex.from_arrays([cross["fold"].to_numpy(str), lo, hi])
    codes, uniq = pd.factorize(key)
    n = len(uniq)
    cnt = np.bincount(codes, minlength=n)
    p = np.where(flip, 1 - cross["preference"].to_numpy(), cross["preference"].to_numpy())
    human = np.bincount(codes, p, n) / cnt
    out = {}
    for name in predictors:
        d = np.where(flip, -1, 1) * cross[f"d:{name}"].to_numpy()
        won = np.where(d > 0, 1.0, np.where(d < 0, 0.0, 0.5))
        share = np.bincount(codes, won, n) / cnt
        out[name] = pair_measures(share - 0.5, np.full(n, 0.5), human, tie_policy)["accuracy"]
    gpair = pd.factorize(pd.MultiIndex.from_arrays([[k[1] for k in uniq], [k[2] for k in uniq]]))[0]
    return out, gpair


def _measure_all(preds, pairs, models, baselines, tie_policy, compare_measures, n_resamples, seed, confidence):
    predictors = models + baselines
    cl_all = _clusters(pairs)
    cl = cl_all[preds["pair"].to_numpy()]
    K = int(cl_all.max()) + 1
    W = resample_weights(K, None, n_resamples, seed)
    p = preds["preference"].to_numpy()
    kinds = {"all": np.ones(len(preds), bool), "within": (preds["kind"] == "within").to_numpy(),
             "cross": (preds["kind"] == "cross").to_numpy()}
    metrics: dict = {}
    boots: dict = {}
    for kind, mask in kinds.items():
        if not mask.any():
            continue
        metrics[kind] = {}
        for name in predictors:
            per = pair_measures(preds[f"d:{name}"].to_numpy(), preds[f"q:{name}"].to_numpy(), p, tie_policy)
            metrics[kind][name] = {}
            for m, (num, den) in per.items():
                num_k = np.bincount(cl[mask], num[mask], K)
                den_k = np.bincount(cl[mask], den[mask], K)
                b = _ratio(W @ num_k, W @ den_k)
                boots[(kind, name, m)] = b
                metrics[kind][name][m] = Estimate(float(_ratio(num_k.sum(), den_k.sum())),
                                                  *_percentile(b, confidence), n_resamples, confidence)
    sysr = _system_rows(preds, predictors, tie_policy)
    if sysr is not None:
        rows, gpair = sysr
        G = int(gpair.max()) + 1
        Wg = resample_weights(G, None, n_resamples, seed)
        for name in predictors:
            num, den = rows[name]
            nk, dk = np.bincount(gpair, num, G), np.bincount(gpair, den, G)
            b = _ratio(Wg @ nk, Wg @ dk)
            boots[("all", name, SYSTEM)] = b
            metrics["all"][name][SYSTEM] = Estimate(float(_ratio(nk.sum(), dk.sum())), *_percentile(b, confidence),
                                                    n_resamples, confidence)
    comparisons, pnb = {}, {}
    for kind in metrics:
        for a in models:
            for bname in baselines + [m for m in models if m != a]:
                for m in compare_measures:
                    if (kind, a, m) not in boots:
                        continue
                    diff = boots[(kind, a, m)] - boots[(kind, bname, m)]
                    point = metrics[kind][a][m].value - metrics[kind][bname][m].value
                    comparisons[(a, bname, m, kind)] = Estimate(float(point), *_percentile(diff, confidence),
                                                                n_resamples, confidence)
                    fin = diff[np.isfinite(diff)]
                    worse = fin >= 0 if m in LOWER_IS_BETTER else fin <= 0
                    pnb[(a, bname, m, kind)] = float(worse.mean()) if fin.size else float("nan")
    return metrics, comparisons, pnb
