"""Measuring active selection with a simulated oracle: labelling campaigns on a world whose scores are known
(:func:`active_learning_curve`) and active vs random compared over seeds (:func:`compare_strategies`)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..errors import ConfigError
from .active import select

__all__ = ["active_learning_curve", "compare_strategies"]


def _mean_ci(v: np.ndarray, n_resamples: int, seed: int) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean of ``v`` (seeds are the resampled units), vectorized through
    the same resampler as every other interval (:func:`judgenet.stats.resample_weights`)."""
    from ..stats import resample_weights

    means = resample_weights(v.size, None, n_resamples=n_resamples, seed=seed) @ v / v.size
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def active_learning_curve(X, y, generators, prompts, model, *, strategy: str = "active", test_generators=None,
                          n_test_generators: int = 4, initial: int = 20, batch: int = 20, rounds: int = 8,
                          weights=(1.0, 1.0, 1.0), n_members: int = 5, seed: int = 0) -> pd.DataFrame:
    """Simulated labelling campaign: ``y`` is the oracle (e.g. simulated raters' mean scores).

    ``n_test_generators`` generators (random under ``seed``, or ``test_generators``) are held out for
    evaluation; the pool is every other item. Start from ``initial`` random pool items; each round,
    label ``batch`` more — chosen by :func:`select` (``strategy="active"``) or at random
    (``"random"``) — refit ``model`` and score Kendall tau-b on the held-out generators' items.
    Returns one row per round: ``labels`` (items labelled), ``kendall_tau_b``, ``strategy``, ``seed``.
    """
    from ..stats import kendall_tau_b

    if strategy not in ("active", "random"):
        raise ConfigError(f"strategy must be 'active' or 'random', got {strategy!r}")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    gens = np.asarray(generators).astype(str)
    prs = np.asarray(prompts).astype(str)
    rng = np.random.default_rng([int(seed), 11])
    uniq = np.array(sorted(set(gens)))
    test_g = np.asarray(test_generators) if test_generators is not None else \
        rng.choice(uniq, size=int(n_test_generators), replace=False)
    test = np.isin(gens, test_g)
    pool = np.flatnonzero(~test)
    labelled = rng.choice(pool, size=int(initial), replace=False)
    rows = []
    for r in range(int(rounds) + 1):
        fitted = clone(model).fit(X[labelled], y[labelled])
        tau = kendall_tau_b(y[test], fitted.predict(X[test]))
        rows.append({"strategy": strategy, "seed": int(seed), "round": r, "labels": int(labelled.size),
                     "kendall_tau_b": float(tau)})
        if r == int(rounds):
            break
        rest = np.setdiff1d(pool, labelled)
        if strategy == "random":
            new = rng.choice(rest, size=min(int(batch), rest.size), replace=False)
        else:
            sel = select(fitted, X[rest], batch, generators=gens[rest], prompts=prs[rest], X_labelled=X[labelled],
                         y_labelled=y[labelled], generators_labelled=gens[labelled],
                         prompts_labelled=prs[labelled], weights=weights, n_members=n_members,
                         seed=int(seed) * 1000 + r)
            new = rest[sel.attrs["rows"]]
        labelled = np.concatenate([labelled, new])
    return pd.DataFrame(rows)


def compare_strategies(curves: pd.DataFrame, n_resamples: int = 2000, seed: int = 0) -> dict:
    """Summarize active vs random curves (rows of :func:`active_learning_curve` for several seeds).

    Returns ``table`` (labels, strategy, mean tau-b, 95% CI over seeds by bootstrap), ``target`` (random
    selection's mean tau-b at its largest budget), ``labels_active`` / ``labels_random`` (labels each
    needs to reach the target — linear interpolation of the mean curve; None if never) and ``saving``
    (1 − active/random).
    """
    rows = []
    for (s, lab), d in curves.groupby(["strategy", "labels"]):
        v = d["kendall_tau_b"].to_numpy()
        lo, hi = _mean_ci(v, n_resamples, seed)
        rows.append({"strategy": s, "labels": int(lab), "kendall_tau_b": float(v.mean()), "low": lo, "high": hi,
                     "n_seeds": int(v.size)})
    table = pd.DataFrame(rows).sort_values(["strategy", "labels"])
    rnd = table[table["strategy"] == "random"]
    act = table[table["strategy"] == "active"]
    target = float(rnd["kendall_tau_b"].iloc[-1])

    def reach(t):
        lab, val = t["labels"].to_numpy(), t["kendall_tau_b"].to_numpy()
        for i in range(len(val)):
            if val[i] >= target:
                if i == 0:
                    return float(lab[0])
                return float(lab[i - 1] + (target - val[i - 1]) * (lab[i] - lab[i - 1]) / (val[i] - val[i - 1]))
        return None

    la, lr = reach(act), reach(rnd)
    # paired per-seed difference at each budget
    wide = curves.pivot_table(index=["seed", "labels"], columns="strategy", values="kendall_tau_b").dropna()
    diff = (wide["active"] - wide["random"]).groupby(level="labels")
    dtab = []
    for lab, v in diff:
        v = v.to_numpy()
        lo, hi = _mean_ci(v, n_resamples, seed)
        dtab.append({"labels": int(lab), "active_minus_random": float(v.mean()), "low": lo, "high": hi})
    return {"table": table, "differences": pd.DataFrame(dtab), "target": target, "labels_active": la,
            "labels_random": lr, "saving": None if (la is None or lr is None) else 1.0 - la / lr}
