"""torchmetrics-style metric classes without a runtime dependency on torchmetrics.

:class:`Metric` mirrors the part of ``torchmetrics.Metric`` judgenet uses: ``add_state`` registers a
state with its default and how partial states combine (``"sum"`` for tensors, ``"cat"`` for lists,
``"merge"`` for :class:`Moments`), ``update`` accumulates, ``compute`` calls the functional twin,
``reset`` restores the defaults and ``merge_state`` folds in another instance's state (e.g. from a
different process or shard). Sums are float64 torch tensors; covariance-type states are
:class:`Moments` (O(D²) memory, exact Chan merge).
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError, NumericalError
from . import functional as F
from ._util import as_2d, l2_normalize
from .reference import MIDReference
from .streaming import Moments

__all__ = ["Metric", "MID", "CLIPScore", "FID", "KID"]


class Metric:
    """Minimal torchmetrics-like base: ``add_state`` / ``update`` / ``compute`` / ``reset`` / ``merge_state``."""

    higher_is_better: bool | None = None
    full_state_update: bool = False

    def __init__(self) -> None:
        self._defaults: dict[str, Any] = {}
        self._reduce: dict[str, str] = {}
        self._update_count = 0

    def add_state(self, name: str, default: Any, dist_reduce_fx: str = "sum") -> None:
        """Register state ``name``: a tensor (``"sum"``), a list (``"cat"``) or a :class:`Moments` (``"merge"``)."""
        kinds = {"sum": torch.Tensor, "cat": list, "merge": Moments}
        if dist_reduce_fx not in kinds or not isinstance(default, kinds[dist_reduce_fx]):
            raise ConfigError(f"state {name!r}: dist_reduce_fx {dist_reduce_fx!r} does not fit a {type(default).__name__}")
        self._defaults[name] = copy.deepcopy(default)
        self._reduce[name] = dist_reduce_fx
        setattr(self, name, copy.deepcopy(default))

    def update(self, *args, **kwargs) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def compute(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, *args, **kwargs):
        """torchmetrics' ``metric(batch)``: update the accumulated state and return the metric of
        this batch alone (computed on a fresh copy; the batch must be large enough on its own)."""
        self.update(*args, **kwargs)
        batch = copy.deepcopy(self)
        Metric.reset(batch)
        batch.update(*args, **kwargs)
        return batch.compute()

    __call__ = forward

    def reset(self) -> None:
        """Restore every state to its default."""
        for name, default in self._defaults.items():
            setattr(self, name, copy.deepcopy(default))
        self._update_count = 0

    def merge_state(self, other: "Metric") -> "Metric":
        """Fold ``other``'s states (same class, disjoint data) into ``self``; returns ``self``."""
        if type(other) is not type(self):
            raise ConfigError(f"cannot merge a {type(other).__name__} into a {type(self).__name__}")
        for name, how in self._reduce.items():
            mine, theirs = getattr(self, name), getattr(other, name)
            if how == "sum":
                setattr(self, name, mine + theirs)
            elif how == "cat":
                mine.extend(theirs)
            else:
                mine.merge(theirs)
        self._update_count += other._update_count
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MID(Metric):
    """Streaming Mutual Information Divergence (Kim et al. 2022), set-level, nats.

    State: :class:`Moments` of reference z = [x; y] and of generated ẑ = [x̂; ŷ] (float64, O((Dx+Dy)²)
    memory), never the features. ``compute()`` equals :func:`judgenet.metrics.functional.mid` on the
    concatenated batches (with the functional's ``y_gen``; per batch ``y_gen`` defaults to the first
    rows of that batch's ``y_ref``, identical to the official "first M rows" when every batch has as
    many generated as reference rows). ``limit``: only the first ``limit`` reference and generated rows
    are accumulated.
    """

    higher_is_better = True

    def __init__(self, dim_x: int = 512, dim_y: int | None = None, *, normalize: bool = True, eps: float = 0.0,
                 shrinkage: str | None = None, limit: int | None = 30000):
        super().__init__()
        self.dim_x, self.dim_y = int(dim_x), int(dim_y if dim_y is not None else dim_x)
        self.normalize, self.eps, self.shrinkage, self.limit = normalize, eps, shrinkage, limit
        self.add_state("ref", Moments(self.dim_x + self.dim_y), "merge")
        self.add_state("gen", Moments(self.dim_x + self.dim_y), "merge")

    def _take(self, m: Moments, rows: int) -> int:
        return rows if self.limit is None else max(0, min(rows, self.limit - m.count))

    def update(self, x_ref, y_ref, x_gen, y_gen=None) -> None:
        """Add a batch: ``x_ref`` (n, Dx), ``y_ref`` (n, Dy) reference pairs, ``x_gen`` (m, Dx) generated
        features and their prompts' text features ``y_gen`` (m, Dy) (default ``y_ref[:m]``)."""
        xr, yr = as_2d(x_ref, "x_ref", self.dim_x), as_2d(y_ref, "y_ref", self.dim_y)
        xg = as_2d(x_gen, "x_gen", self.dim_x)
        if xr.shape[0] != yr.shape[0]:
            raise ConfigError(f"x_ref and y_ref must be paired, got {xr.shape[0]} and {yr.shape[0]} rows")
        if y_gen is None:
            if xg.shape[0] > yr.shape[0]:
                raise ConfigError("y_gen defaults to the first rows of y_ref, which is shorter than x_gen; pass y_gen")
            yg = yr[:xg.shape[0]]
        else:
            yg = as_2d(y_gen, "y_gen", self.dim_y)
        nr, ng = self._take(self.ref, xr.shape[0]), self._take(self.gen, xg.shape[0])
        for mom, x, y, n in ((self.ref, xr, yr, nr), (self.gen, xg, yg, ng)):
            if n:
                x, y = x[:n], y[:n]
                if self.normalize:
                    x, y = l2_normalize(x, "x"), l2_normalize(y, "y")
                mom.update(np.hstack([x, y]))
        self._update_count += 1

    def reference(self) -> MIDReference:
        """The :class:`MIDReference` fitted from the accumulated reference pairs."""
        return MIDReference.from_moments(self.ref, self.dim_x, eps=self.eps, shrinkage=self.shrinkage,
                                         normalize=self.normalize, limit=self.limit)

    def compute(self) -> torch.Tensor:
        """Set-level MID, a float64 scalar tensor."""
        return torch.tensor(self.reference().mid_from_moments(self.gen), dtype=torch.float64)


class CLIPScore(Metric):
    """Mean CLIP-S (Hessel et al. 2021), w·max(cos, 0) with w = 2.5; states: float64 sum and count."""

    higher_is_better = True

    def __init__(self, w: float = 2.5):
        super().__init__()
        self.w = w
        self.add_state("score_sum", torch.zeros((), dtype=torch.float64))
        self.add_state("n", torch.zeros((), dtype=torch.int64))

    def update(self, img, txt) -> None:
        """Add paired (m, D) image and text embeddings."""
        s = F.clip_score(img, txt, w=self.w, reduction="none")
        self.score_sum = self.score_sum + float(s.sum())
        self.n = self.n + s.shape[0]
        self._update_count += 1

    def compute(self) -> torch.Tensor:
        if int(self.n) == 0:
            raise NumericalError("CLIPScore.compute() called before any update")
        return self.score_sum / self.n.double()


class FID(Metric):
    """Streaming FID (Heusel et al. 2017) on given features; states: two :class:`Moments` (float64).

    ``update(features, real)`` as torchmetrics' ``FrechetInceptionDistance`` (but on features, not
    images). ``reset_real_features=False`` keeps the real statistics across :meth:`reset`.
    """

    higher_is_better = False

    def __init__(self, dim: int = 2048, reset_real_features: bool = True):
        super().__init__()
        self.dim, self.reset_real_features = int(dim), reset_real_features
        self.add_state("real", Moments(self.dim), "merge")
        self.add_state("fake", Moments(self.dim), "merge")

    def update(self, features, real: bool) -> None:
        """Add (n, D) features of real (``real=True``) or generated images."""
        (self.real if real else self.fake).update(features)
        self._update_count += 1

    def reset(self) -> None:
        keep = self.real
        super().reset()
        if not self.reset_real_features:
            self.real = keep

    def compute(self) -> torch.Tensor:
        return torch.tensor(F.fid(self.real, self.fake), dtype=torch.float64)


class KID(Metric):
    """KID (Bińkowski et al. 2018) over stored features (lists of float64 tensors; KID needs the rows).

    ``compute()`` returns (mean, std) float64 tensors from :func:`judgenet.metrics.functional.kid`.
    """

    higher_is_better = False

    def __init__(self, subsets: int = 100, subset_size: int = 1000, degree: int = 3, gamma: float | None = None,
                 coef: float = 1.0, seed: int | None = 0):
        super().__init__()
        self.kw = dict(subsets=subsets, subset_size=subset_size, degree=degree, gamma=gamma, coef=coef, seed=seed)
        self.add_state("real_features", [], "cat")
        self.add_state("fake_features", [], "cat")

    def update(self, features, real: bool) -> None:
        f = torch.from_numpy(np.array(as_2d(features, "features")))
        (self.real_features if real else self.fake_features).append(f)
        self._update_count += 1

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.real_features or not self.fake_features:
            raise NumericalError("KID.compute() needs real and generated features")
        r = torch.cat(self.real_features).numpy()
        f = torch.cat(self.fake_features).numpy()
        m, s = F.kid(r, f, **self.kw)
        return torch.tensor(m, dtype=torch.float64), torch.tensor(s, dtype=torch.float64)
