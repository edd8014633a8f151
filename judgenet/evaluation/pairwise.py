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
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid

from ..errors import ConfigError, LabelError
from ..io import to_jsonable as _clean
from ..stats import Estimate, _percentile, resample_weights
from .protocol import DEFAULT_BASELINES, HeldOutResults, make_folds, resolve_baselines

log = logging.getLogger(__name__)

__all__ = ["Pairs", "pairs_from_labels", "evaluate_pairs", "PairwiseResults", "pair_measures",
           "pairwise_rater_ceiling", "cv_pairs", "pairwise_objective", "FoldScorer", "LikertBudgetScorer",
           "MixedEvidenceScorer", "PAIR_MEASURES", "LOWER_IS_BETTER", "TIE_POLICIES"]

PAIR_MEASURES = ("accuracy", "margin_accuracy", "log_loss", "brier", "vote_agreement")
SYSTEM = "system_accuracy"
LOWER_IS_BETTER = frozenset({"log_loss", "brier"})
TIE_POLICIES = ("exclude", "half")
KINDS = ("all", "within", "cross")
_EPS = 1e-12


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
@dataclass
class Pairs:
    """Pairwise judgments aggregated per unordered item pair (``a < b`` as item indices).

    Attributes (n_pairs,): ``a``, ``b`` (int rows of ``X_items``), ``preference`` (weighted mean
    P(a ≻ b), float64), ``n_votes`` (judgments), ``weight`` (summed judgment weights — the
    training weight), ``prompt`` (str or None). ``judgments``: DataFrame ``pair, rater_id,
    preference, weight`` (one row per judgment, preference oriented to the pair's a) or None.
    """

    a: np.ndarray
    b: np.ndarray
    preference: np.ndarray
    n_votes: np.ndarray
    weight: np.ndarray
    prompt: np.ndarray | None = None
    judgments: pd.DataFrame | None = None
    skipped: list = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.a.size)

    @classmethod
    def from_judgments(cls, idx_a, idx_b, preference, *, rater_id=None, weight=None, prompt=None) -> "Pairs":
        """Aggregate judgments (one per row; a pair may be given in either order) per unordered pair."""
        ia, ib = np.asarray(idx_a, dtype=np.intp).ravel(), np.asarray(idx_b, dtype=np.intp).ravel()
        p = np.asarray(preference, dtype=np.float64).ravel()
        w = np.ones_like(p) if weight is None else np.asarray(weight, dtype=np.float64).ravel()
        if not (ia.shape == ib.shape == p.shape == w.shape) or ia.size == 0:
            raise ConfigError("idx_a, idx_b, preference (and weight) must be non-empty and of equal length")
        if (ia == ib).any():
            raise ConfigError(f"judgment {int(np.flatnonzero(ia == ib)[0])} compares an item with itself")
        if ((p < 0) | (p > 1) | ~np.isfinite(p)).any() or (w < 0).any():
            raise ConfigError("preferences must lie in [0, 1] and weights be >= 0")
        flip = ia > ib
        lo, hi = np.where(flip, ib, ia), np.where(flip, ia, ib)
        po = np.where(flip, 1.0 - p, p)
        key = pd.MultiIndex.from_arrays([lo, hi])
        codes, uniq = pd.factorize(key)
        n = len(uniq)
        wsum = np.bincount(codes, w, n)
        pref = np.divide(np.bincount(codes, w * po, n), wsum, out=np.full(n, 0.5), where=wsum > 0)
        a = np.asarray([k[0] for k in uniq], dtype=np.intp)
        b = np.asarray([k[1] for k in uniq], dtype=np.intp)
        pr = None
        if prompt is not None:
            prm = np.asarray(prompt, dtype=object).ravel()
            first = pd.Series(prm).groupby(codes, sort=True).first()
            pr = first.to_numpy(dtype=object)
        judg = pd.DataFrame({"pair": codes, "rater_id": None if rater_id is None else np.asarray(rater_id, object),
                             "preference": po, "weight": w})
        return cls(a, b, pref, np.bincount(codes, minlength=n).astype(np.float64), wsum, pr, judg)

    def pair_array(self) -> np.ndarray:
        """(n_pairs, 4) ``[a, b, preference, weight]`` for a pairwise model's ``fit``."""
        return np.c_[self.a, self.b, self.preference, self.weight].astype(np.float64)


def pairs_from_labels(labels, question: str | None = None, item_ids: Sequence[str] | None = None, *,
                      lenient: bool = False) -> Pairs:
    """A :class:`~judgenet.labels.PairwiseLabelSet` → :class:`Pairs` over ``item_ids`` (the rows of
    ``X_items``, in order; default: ``labels.items()["item_id"]``). A judgment naming an item not in
    ``item_ids`` is a :class:`LabelError` naming the item, its row and the fix; with ``lenient=True``
    such judgments are dropped and listed in ``Pairs.skipped`` (e.g. images that could not be read).

    The bootstrap cluster of a pair is its ``prompt`` (or, for caption sets without prompts, its
    ``image``). Rows without ``rater_id`` that carry vote counts (``n_votes``, ``votes_a``, optional
    ``votes_tie``; e.g. Pascal-50S) are expanded to one judgment per vote, each with the row's
    ``weight`` (as rater-level rows would be), so the rater ceiling can be computed from the vote
    split."""
    f = labels.frame
    question = question or labels.questions[0]
    f = f[f["question"].astype(str) == question]
    if f.empty:
        raise LabelError(f"{labels.name}: no pairwise judgments for question {question!r}")
    if item_ids is None:
        item_ids = labels.items()["item_id"].tolist()
    pos = {str(k): i for i, k in enumerate(item_ids)}
    src = labels.source or labels.name
    va, vb = f["item_a"].astype(str).map(pos), f["item_b"].astype(str).map(pos)
    unknown = (va.isna() | vb.isna()).to_numpy()
    skipped = []
    if unknown.any():
        for i in np.flatnonzero(unknown):
            col = "item_a" if pd.isna(va.iloc[i]) else "item_b"
            skipped.append(f"{src}: judgment {i + 1} of {question!r}, column {col!r}: item {f[col].iloc[i]!r} has no "
                           "features")
        if not lenient:
            raise LabelError(f"{skipped[0]} ({int(unknown.sum())} judgment(s) name items without features); give "
                             "every item an image (or text) that can be read, or drop its judgments (lenient=True / "
                             "--lenient skips and lists them)")
        f, va, vb = f[~unknown], va[~unknown], vb[~unknown]
        if f.empty:
            raise LabelError(f"{src}: no judgment of {question!r} names two items with features")
    idx = [va.to_numpy(dtype=np.intp), vb.to_numpy(dtype=np.intp)]
    w = f["weight"].to_numpy(np.float64) if "weight" in f.columns else np.ones(len(f))
    prompt = None
    for col in ("prompt", "image"):  # caption sets (Pascal-50S): the image plays the prompt's part
        if col in f.columns and f[col].notna().all():
            prompt = f[col].astype(str).to_numpy(object)
            break
    rater = f["rater_id"].to_numpy(object) if "rater_id" in f.columns else None
    pref = f["preference"].to_numpy(np.float64)
    if "n_votes" in f.columns and "votes_a" in f.columns and (rater is None or pd.isna(rater).all()):
        # one row per pair with its vote counts (e.g. Pascal-50S): expand to one judgment per vote
        n = f["n_votes"].to_numpy(np.int64)
        va = f["votes_a"].to_numpy(np.int64)
        vt = f["votes_tie"].to_numpy(np.int64) if "votes_tie" in f.columns else np.zeros_like(n)
        rep = np.repeat(np.arange(len(f)), n)
        k = np.arange(rep.size) - np.repeat(np.cumsum(n) - n, n)  # vote number within its pair
        vote = np.where(k < va[rep], 1.0, np.where(k < va[rep] + vt[rep], 0.5, 0.0))
        out = Pairs.from_judgments(idx[0][rep], idx[1][rep], vote, weight=w[rep],
                                   prompt=None if prompt is None else prompt[rep])
    else:
        out = Pairs.from_judgments(idx[0], idx[1], pref, rater_id=rater, weight=w, prompt=prompt)
    out.skipped = skipped
    return out


# ---------------------------------------------------------------------------------------------
# per-pair contributions (numerator, denominator) — every measure is sum(num) / sum(den)
# ---------------------------------------------------------------------------------------------
def _sigmoid(d):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(d, dtype=np.float64)))


def pair_measures(d, q, p, tie_policy: str = "exclude") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-pair ``(numerator, denominator)`` of each of :data:`PAIR_MEASURES`.

    d: (n,) predicted score difference s_a − s_b; q: (n,) predicted P(a ≻ b); p: (n,) soft human
    preference. A measure over a set of pairs is Σ num / Σ den (module docstring)."""
    if tie_policy not in TIE_POLICIES:
        raise ConfigError(f"tie_policy must be one of {TIE_POLICIES}, got {tie_policy!r}")
    d, q, p = (np.asarray(v, dtype=np.float64) for v in (d, q, p))
    h = np.sign(p - 0.5)
    s = np.sign(d)
    correct = np.where(s == 0, 0.5, (s == h).astype(np.float64))
    tie = h == 0
    if tie_policy == "exclude":
        acc = (np.where(tie, 0.0, correct), (~tie).astype(np.float64))
    else:
        acc = (np.where(tie, 0.5, correct), np.ones_like(d))
    margin = np.abs(2.0 * p - 1.0)
    qc = np.clip(q, _EPS, 1 - _EPS)
    one = np.ones_like(d)
    vote = np.where(s > 0, p, np.where(s < 0, 1.0 - p, 0.5))
    return {"accuracy": acc, "margin_accuracy": (margin * correct, margin),
            "log_loss": (-(p * np.log(qc) + (1 - p) * np.log(1 - qc)), one), "brier": ((q - p) ** 2, one),
            "vote_agreement": (vote, one)}


def _ratio(num, den):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _fit_beta(d, p, w) -> float:
    """β >= 0 minimizing Σ w·BCE(σ(β d), p) (Newton on a 1-D convex problem)."""
    d, p, w = (np.asarray(v, dtype=np.float64) for v in (d, p, w))
    if not np.any(d != 0):
        return 0.0
    scale = np.std(d[d != 0]) or 1.0
    x = d / scale
    beta = 0.0
    for _ in range(50):
        q = _sigmoid(beta * x)
        g = np.sum(w * (q - p) * x)
        h = np.sum(w * q * (1 - q) * x * x) + 1e-12
        step = g / h
        beta = max(0.0, beta - step)
        if abs(step) < 1e-10:
            break
    return float(beta / scale)


# ---------------------------------------------------------------------------------------------
# rater ceiling
# ---------------------------------------------------------------------------------------------
def _ceiling_contrib(pairs: Pairs, tie_policy: str):
    """Per judgment: (num, den) of rater-vs-majority-of-others, and per pair: (agreeing, compared)
    rater pairs; with each one's pair index."""
    j = pairs.judgments
    if j is None or j.empty:
        raise ConfigError("the rater ceiling needs the rater-level judgments (Pairs.judgments)")
    pair = j["pair"].to_numpy(np.intp)
    pref = j["preference"].to_numpy(np.float64)
    w = j["weight"].to_numpy(np.float64)
    n = len(pairs)
    wsum = np.bincount(pair, w, n)
    psum = np.bincount(pair, w * pref, n)
    cnt = np.bincount(pair, minlength=n)
    ok = cnt[pair] >= 2
    w_other = wsum[pair] - w
    m_other = _ratio(psum[pair] - w * pref, w_other)
    h = np.sign(np.nan_to_num(m_other - 0.5))
    r = np.sign(pref - 0.5)
    correct = np.where(r == 0, 0.5, (r == h).astype(np.float64))
    tie = (h == 0) | (w_other <= 0)
    if tie_policy == "exclude":
        num, den = np.where(tie, 0.0, correct), (~tie).astype(np.float64)
    else:
        num, den = np.where(tie, 0.5, correct), np.ones_like(correct)
    num, den = np.where(ok, num * w, 0.0), np.where(ok, den * w, 0.0)
    na = np.bincount(pair, (pref > 0.5).astype(float), n)
    nb = np.bincount(pair, (pref < 0.5).astype(float), n)
    agree = na * (na - 1) / 2 + nb * (nb - 1) / 2
    total = (na + nb) * (na + nb - 1) / 2
    return pair, num, den, agree, total


def _clusters(pairs: Pairs) -> np.ndarray:
    """Cluster id (prompt) of every pair; pairs without a prompt are their own cluster."""
    if pairs.prompt is None:
        return np.arange(len(pairs))
    return pd.factorize(pd.Series(pairs.prompt).astype(str))[0]


def pairwise_rater_ceiling(pairs: Pairs, *, tie_policy: str = "exclude", n_resamples: int = 1000, seed: int = 0,
                           confidence: float = 0.95) -> dict:
    """Rater ceiling for pairwise labels (module docstring) → ``{"rater_vs_majority": Estimate,
    "rater_pair_agreement": Estimate, "n_judgments": int, "n_pairs_multi": int, "tie_policy"}``.
    CIs resample prompts (or pairs without prompts)."""
    pair, num, den, agree, total = _ceiling_contrib(pairs, tie_policy)
    cl = _clusters(pairs)
    K = cl.max() + 1
    cj = cl[pair]
    sums = [np.bincount(cj, num, K), np.bincount(cj, den, K), np.bincount(cl, agree, K), np.bincount(cl, total, K)]
    W = resample_weights(K, None, n_resamples, seed)
    out = {}
    for name, (a, b) in {"rater_vs_majority": (sums[0], sums[1]), "rater_pair_agreement": (sums[2], sums[3])}.items():
        point = float(_ratio(a.sum(), b.sum()))
        out[name] = Estimate(point, *_percentile(_ratio(W @ a, W @ b), confidence), n_resamples, confidence)
    cnt = np.bincount(pair, minlength=len(pairs))
    out.update({"n_judgments": int(pair.size), "n_pairs_multi": int((cnt >= 2).sum()), "tie_policy": tie_policy})
    return out


# ---------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------
def _as_pairwise_estimator(name: str, spec, seed: int):
    from ..predictors.pairwise import PAIRWISE_FAMILIES, is_pairwise, make_pairwise

    if isinstance(spec, str):
        if spec not in PAIRWISE_FAMILIES:
            raise ConfigError(f"model {name!r}: {spec!r} is not a pairwise family; choose from "
                              f"{', '.join(PAIRWISE_FAMILIES)}")
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


def pairwise_objective(X_items, pairs: Pairs, generators, prompts=None, *, family: str = "bradley_terry",
                       split: str = "generator", n_prompt_folds: int = 5, seed: int = 0):
    """Optuna objective (maximize): samples the family's space (``PAIRWISE_FAMILIES[family]
    ["optuna_space"]``), scores it with :func:`cv_pairs` and reports the running mean after each
    fold so a pruner can stop it (``optuna.TrialPruned``)."""
    from ..predictors.pairwise import PAIRWISE_FAMILIES, make_pairwise

    if family not in PAIRWISE_FAMILIES:
        raise ConfigError(f"unknown pairwise family {family!r}; choose from {', '.join(PAIRWISE_FAMILIES)}")

    def objective(trial) -> float:
        params = PAIRWISE_FAMILIES[family]["optuna_space"](trial)
        est = make_pairwise(family, random_state=seed, **params)

        def report(k, value):
            if np.isfinite(value):
                trial.report(value, k)
                if trial.should_prune():
                    import optuna

                    raise optuna.TrialPruned()

        return cv_pairs(est, X_items, pairs, generators, prompts, split=split, n_prompt_folds=n_prompt_folds,
                        seed=seed, on_fold=report)

    return objective


class FoldScorer:
    """A scorer that needs more than a fold's training pairs (e.g. per-item Likert labels): it gets
    the fold and returns a score for every item. Implement :meth:`fold_scores`; it must use labels of
    ``train_items`` only (the protocol cannot check what it reads). ``calibrated = True`` when
    σ(s_a − s_b) is already a preference probability (else β is fitted on the training pairs, as for
    baselines)."""

    calibrated = False

    def fold_scores(self, X, pairs: Pairs, train_items: np.ndarray, train_pairs: np.ndarray,
                    fold_index: int) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


class LikertBudgetScorer(FoldScorer):
    """Pointwise model trained on Likert judgments with the **same rater time** as the fold's
    training pairs: ``pair_cost`` × (training pair judgments) Likert judgments drawn at random
    (seeded per fold) from those of the fold's training items, averaged per item (MOS), and a
    ``model`` (default standardize → ridge) fitted to the MOS. ``items`` / ``scores``: (n_judgments,)
    item row and rating of every Likert judgment. Each fold's draw is appended to ``log``."""

    def __init__(self, items, scores, *, pair_cost: float = 2.0, model=None, seed: int = 0, log: list | None = None):
        self.items = np.asarray(items, dtype=np.intp)
        self.scores = np.asarray(scores, dtype=np.float64)
        if self.items.shape != self.scores.shape:
            raise ConfigError("items and scores must have one entry per Likert judgment")
        if not pair_cost > 0:
            raise ConfigError(f"pair_cost must be > 0, got {pair_cost}")
        self.pair_cost, self.model, self.seed = float(pair_cost), model, int(seed)
        self.log = log if log is not None else []

    def fold_scores(self, X, pairs, train_items, train_pairs, fold_index):
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        elig = np.flatnonzero(np.isin(self.items, train_items))
        n_pair = float(pairs.n_votes[train_pairs].sum())
        budget = int(round(self.pair_cost * n_pair))
        rng = np.random.default_rng([self.seed, int(fold_index)])
        take = elig if budget >= elig.size else rng.choice(elig, budget, replace=False)
        if take.size == 0:
            raise ConfigError(f"fold {fold_index}: no Likert judgments of training items within the budget")
        it, inv = np.unique(self.items[take], return_inverse=True)
        mos = np.bincount(inv, self.scores[take]) / np.bincount(inv)
        model = clone(self.model) if self.model is not None else make_pipeline(StandardScaler(), Ridge(alpha=1.0))
        model.fit(X[it], mos)
        self.log.append({"fold_index": int(fold_index), "pair_judgments": n_pair, "likert_budget": budget,
                         "likert_used": int(take.size), "likert_available": int(elig.size), "items": int(it.size)})
        return np.asarray(model.predict(X), dtype=np.float64)


class MixedEvidenceScorer(FoldScorer):
    """Bradley–Terry on the fold's training pairs **plus** the soft pairs implied by the Likert
    judgments of its training items (:func:`judgenet.predictors.pairwise.likert_implied_pairs`,
    same prompt only, each implied pair with ``weight`` relative to one pairwise judgment): the
    documented combined loss. ``items``, ``scores``, ``prompts``: (n_judgments,) per Likert judgment."""

    calibrated = True

    def __init__(self, items, scores, prompts, *, weight: float = 1.0, C: float = 1.0):
        self.items = np.asarray(items, dtype=np.intp)
        self.scores = np.asarray(scores, dtype=np.float64)
        self.prompts = np.asarray(prompts, dtype=object)
        self.weight, self.C = float(weight), float(C)

    def fold_scores(self, X, pairs, train_items, train_pairs, fold_index):
        from ..predictors.pairwise import BradleyTerry, likert_implied_pairs

        keep = np.isin(self.items, train_items)
        implied = likert_implied_pairs(self.items[keep], self.scores[keep], self.prompts[keep], weight=self.weight)
        human = pairs.pair_array()[train_pairs]
        y = np.vstack([human, implied]) if len(implied) else human
        pos = np.full(X.shape[0], -1, dtype=np.intp)
        pos[train_items] = np.arange(np.asarray(train_items).size)
        y = np.c_[pos[y[:, 0].astype(np.intp)], pos[y[:, 1].astype(np.intp)], y[:, 2], y[:, 3]]
        model = BradleyTerry(C=self.C).fit(X[train_items], y)
        return model.predict(X)


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
# results
# ---------------------------------------------------------------------------------------------
@dataclass(kw_only=True)
class PairwiseResults(HeldOutResults):
    """Everything :func:`evaluate_pairs` produced.

    Attributes:
        predictions: one row per (fold, test pair): ``fold``, ``fold_index``, ``pair``, ``a``, ``b``,
            ``generator_a``, ``generator_b``, ``kind`` (within / cross), ``prompt``, ``preference``,
            ``n_votes``, then ``d:<predictor>`` (score difference s_a − s_b) and ``q:<predictor>``
            (predicted P(a ≻ b)).
        metrics: {kind: {predictor: {measure: Estimate}}}, kind in all / within / cross;
            ``system_accuracy`` under ``all``.
        comparisons: {(model, baseline, measure, kind): Estimate of model − baseline}.
        p_not_better: same keys.
        models, baselines: names. ceiling: :func:`pairwise_rater_ceiling` dict (or None).
        folds: one dict per fold (held-out generator, pair counts, chosen params, beta per baseline).
        settings: split, tie policy, resamples, notes, skipped folds.
    """

    def table(self) -> pd.DataFrame:
        """Tidy: kind, predictor, role (model / baseline), measure, value, low, high."""
        rows = []
        for kind, by_pred in self.metrics.items():
            for p, ms in by_pred.items():
                for m, e in ms.items():
                    rows.append({"kind": kind, "predictor": p, "role": "model" if p in self.models else "baseline",
                                 "measure": m, "value": e.value, "low": e.low, "high": e.high})
        return pd.DataFrame(rows)

    def comparison_table(self) -> pd.DataFrame:
        """model, baseline, measure, kind, difference, low, high, p_not_better, excludes_zero."""
        rows = [{"model": a, "baseline": b, "measure": m, "kind": k, "difference": e.value, "low": e.low,
                 "high": e.high, "p_not_better": self.p_not_better[(a, b, m, k)],
                 "excludes_zero": bool(np.isfinite(e.low) and (e.low > 0 or e.high < 0))}
                for (a, b, m, k), e in self.comparisons.items()]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        return _clean({
            "format": "judgenet-pairwise-evaluation/1",
            "predictions": self.predictions.to_dict(orient="list"),
            "metrics": {k: {p: {m: e.to_dict() for m, e in ms.items()} for p, ms in bp.items()}
                        for k, bp in self.metrics.items()},
            "comparisons": [{"model": a, "baseline": b, "measure": m, "kind": k, **e.to_dict(),
                             "p_not_better": self.p_not_better[(a, b, m, k)]}
                            for (a, b, m, k), e in self.comparisons.items()],
            "models": self.models, "baselines": self.baselines,
            "ceiling": None if self.ceiling is None else {k: (v.to_dict() if isinstance(v, Estimate) else v)
                                                          for k, v in self.ceiling.items()},
            "folds": self.folds, "settings": self.settings})

    def markdown(self, measures: Sequence[str] = ("accuracy", "log_loss", "vote_agreement")) -> str:
        """A markdown section: measures per kind, comparisons on accuracy, the rater ceiling."""
        lines = [f"Held-out protocol for pairs: split={self.settings.get('split')}, human ties "
                 f"{self.settings.get('tie_policy')}d" if self.settings.get('tie_policy') == "exclude" else
                 f"Held-out protocol for pairs: split={self.settings.get('split')}, human ties count 0.5", ""]
        head = "| kind | predictor | " + " | ".join(measures) + " |"
        lines += [head, "|" + "---|" * (len(measures) + 2)]
        for kind, bp in self.metrics.items():
            for p, ms in bp.items():
                cells = [str(ms[m]) if m in ms else "" for m in measures]
                lines.append(f"| {kind} | {p} | " + " | ".join(cells) + " |")
        if self.ceiling:
            c = self.ceiling
            lines += ["", f"Rater ceiling: rater vs majority of the others {c['rater_vs_majority']}; two raters "
                          f"agree {c['rater_pair_agreement']} ({c['n_judgments']} judgments)."]
        ct = self.comparison_table()
        if len(ct):
            sub = ct[(ct["measure"] == "accuracy") & ct["kind"].isin(["all", "cross"])]
            lines += ["", "| model − baseline (accuracy) | kind | difference [95% CI] | p(not better) |",
                      "|---|---|---|---|"]
            for r in sub.itertuples():
                lines.append(f"| {r.model} − {r.baseline} | {r.kind} | {r.difference:+.3f} [{r.low:+.3f}, "
                             f"{r.high:+.3f}] | {r.p_not_better:.3f} |")
        return "\n".join(lines)


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
            of family names (:data:`judgenet.predictors.pairwise.PAIRWISE_FAMILIES`). Every model is
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
                dq[f"q:{name}"].append(_sigmoid(beta * d))
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
            dq[f"q:{name}"].append(_sigmoid(d))
        betas = {}
        tr_a, tr_b = pairs.a[tr_p], pairs.b[tr_p]
        for label, i, sign in base:
            s = sign * X[:, i]
            betas[label] = _fit_beta(s[tr_a] - s[tr_b], pairs.preference[tr_p], pairs.weight[tr_p])
            d = s[pa] - s[pb]
            dq[f"d:{label}"].append(d)
            dq[f"q:{label}"].append(_sigmoid(betas[label] * d))
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
    return PairwiseResults(predictions=preds, metrics=metrics, comparisons=comparisons, p_not_better=pnb,
                           models=list(models), baselines=[b for b, _, _ in base], ceiling=ceil, folds=fold_info,
                           settings=settings)


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
