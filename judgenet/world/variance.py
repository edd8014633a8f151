"""Variance components of item scores: how much lies between prompts, between systems, and in the rest.

The estimator is the **ANOVA (expected-mean-squares, method-of-moments) estimator of random-effects
variance components** (Searle, Casella & McCulloch, *Variance Components*, 1992, ch. 4 and 5):

* **Two-way crossed, balanced** (every prompt × system cell holds the same number ``n`` of items):
  with ``a`` prompts and ``b`` systems, ``E[MS_prompt] = σ²_e + n σ²_ps + b n σ²_p``,
  ``E[MS_system] = σ²_e + n σ²_ps + a n σ²_s``, ``E[MS_interaction] = σ²_e + n σ²_ps``, ``E[MS_within] =
  σ²_e``. With ``n = 1`` (THumB: one caption per image and system; the world with system =
  generator × severity) the interaction is confounded with the error and the two form the residual. For
  balanced data and non-negative estimates this is also the REML estimate.
* **One-way, unbalanced** (no systems, e.g. Flickr8k: candidate captions grouped by query image):
  ``σ²_p = (MS_between − MS_within) / n0`` with ``n0 = (N − Σ n_i² / N) / (a − 1)``.

A negative moment estimate is set to 0 (the usual truncation) and reported as such in ``raw``. Shares
are each component over their sum: the share of an item score's variance that lies between prompts,
between systems, and in the residual (prompt × system interaction plus item-level noise, including the
raters' noise left in a mean score).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ConfigError

__all__ = ["VarianceComponents", "variance_components", "item_score_components"]


@dataclass
class VarianceComponents:
    """Estimated components (score units squared), their shares, and the design they came from."""

    components: dict
    shares: dict
    raw: dict
    design: dict = field(default_factory=dict)

    def row(self) -> dict:
        """One flat row: the shares in percent, then the design."""
        out = {f"{k}_%": round(100 * v, 1) for k, v in self.shares.items()}
        out.update({k: v for k, v in self.design.items() if k != "estimator"})
        return out


def _codes(values, what: str) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(pd.Series(values).astype(str), sort=True)
    if (codes < 0).any():
        raise ConfigError(f"{what} has missing values; every item needs one")
    return codes.astype(np.intp), len(uniques)


def _finish(raw: dict, design: dict) -> VarianceComponents:
    comp = {k: max(float(v), 0.0) for k, v in raw.items()}
    total = sum(comp.values())
    if not total > 0:
        raise ConfigError("the scores do not vary: no variance to decompose")
    return VarianceComponents(comp, {k: v / total for k, v in comp.items()}, {k: float(v) for k, v in raw.items()},
                              design)


def variance_components(y, prompts, systems=None) -> VarianceComponents:
    """ANOVA variance components of ``y`` (one score per item) by ``prompts`` and, optionally, ``systems``.

    With ``systems`` the design must be crossed and balanced (every prompt × system cell has the same
    number of items, at least one); the components are ``prompt``, ``system`` and ``residual`` (with more
    than one item per cell also ``interaction`` and ``within``, whose sum is the residual). Without
    ``systems``: ``prompt`` and ``residual`` (one-way, unbalanced allowed). See the module docstring.
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    if not np.isfinite(y).all():
        raise ConfigError(f"{int((~np.isfinite(y)).sum())} item score(s) are missing or not finite")
    N = len(y)
    p, a = _codes(prompts, "prompts")
    if len(p) != N:
        raise ConfigError(f"prompts has {len(p)} values for {N} scores")
    if a < 2:
        raise ConfigError(f"need at least 2 prompts, got {a}")
    m = y.mean()
    if systems is None:
        n_i = np.bincount(p, minlength=a).astype(np.float64)
        mean_i = np.bincount(p, weights=y, minlength=a) / n_i
        if N <= a:
            raise ConfigError(f"need more items ({N}) than prompts ({a}) for a within-prompt variance")
        ms_a = float(np.sum(n_i * (mean_i - m) ** 2)) / (a - 1)
        ms_w = float(np.sum((y - mean_i[p]) ** 2)) / (N - a)
        n0 = (N - np.sum(n_i ** 2) / N) / (a - 1)
        return _finish({"prompt": (ms_a - ms_w) / n0, "residual": ms_w},
                       {"estimator": "one-way random-effects ANOVA (unbalanced, Searle n0)", "n_items": N,
                        "n_prompts": a, "n0": float(n0)})
    s, b = _codes(systems, "systems")
    if len(s) != N:
        raise ConfigError(f"systems has {len(s)} values for {N} scores")
    if b < 2:
        raise ConfigError(f"need at least 2 systems, got {b}")
    cell = np.bincount(p * b + s, minlength=a * b)
    n = int(cell[0])
    if n < 1 or not (cell == n).all():
        raise ConfigError(f"the prompt x system design is not balanced: cells hold {int(cell.min())} to "
                          f"{int(cell.max())} items; keep the prompts every system judged equally often")
    mean_p = np.bincount(p, weights=y, minlength=a) / (b * n)
    mean_s = np.bincount(s, weights=y, minlength=b) / (a * n)
    mean_c = (np.bincount(p * b + s, weights=y, minlength=a * b) / n).reshape(a, b)
    ms_p = b * n * float(np.sum((mean_p - m) ** 2)) / (a - 1)
    ms_s = a * n * float(np.sum((mean_s - m) ** 2)) / (b - 1)
    ms_ps = n * float(np.sum((mean_c - mean_p[:, None] - mean_s[None, :] + m) ** 2)) / ((a - 1) * (b - 1))
    design = {"estimator": "two-way crossed random-effects ANOVA (balanced)", "n_items": N, "n_prompts": a,
              "n_systems": b, "per_cell": n}
    if n == 1:
        return _finish({"prompt": (ms_p - ms_ps) / b, "system": (ms_s - ms_ps) / a, "residual": ms_ps}, design)
    ms_e = float(np.sum((y - mean_c[p, s]) ** 2)) / (a * b * (n - 1))
    raw = {"prompt": (ms_p - ms_ps) / (b * n), "system": (ms_s - ms_ps) / (a * n),
           "interaction": (ms_ps - ms_e) / n, "within": ms_e}
    out = _finish(raw, design)
    out.shares["residual"] = out.shares["interaction"] + out.shares["within"]
    out.components["residual"] = out.components["interaction"] + out.components["within"]
    return out


def item_score_components(labels, question: str, *, prompt_column: str = "prompt_id", manifest=None,
                          system: str = "generator@severity") -> VarianceComponents:
    """Components of a world's item scores (mean of the simulated raters' scores per generated item).

    ``labels``: a :class:`~judgenet.labels.LabelSet` of the world's judgments; ``manifest``: the world's
    manifest (prompt ids, generators, severities). ``system``: ``generator@severity`` (each generator at
    each severity is one system; one item per prompt and system) or ``generator`` (severities are
    replicates within a cell).
    """
    m = manifest[manifest["generator"] != "real"].set_index(manifest["item_id"].astype(str)[manifest["generator"]
                                                                                             != "real"])
    agg = labels.aggregate(question).set_index("item_id")["score"]
    y = agg.reindex(m.index).to_numpy(np.float64)
    if system == "generator@severity":
        sys_ = m["generator"].astype(str) + "@" + m["severity"].map(lambda v: f"{float(v):g}")
    elif system == "generator":
        sys_ = m["generator"].astype(str)
    else:
        raise ConfigError(f"system must be 'generator@severity' or 'generator', got {system!r}")
    return variance_components(y, m[prompt_column].astype(str).to_numpy(), sys_.to_numpy())
