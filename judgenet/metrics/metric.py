"""torchmetrics-style metric classes without a runtime dependency on torchmetrics.

:class:`Metric` mirrors the part of ``torchmetrics.Metric`` judgenet uses: ``add_state`` registers a
state with its default and how partial states combine (``"sum"`` for tensors, ``"cat"`` for lists,
``"merge"`` for :class:`Moments`), ``update`` accumulates, ``compute`` calls the functional twin,
``reset`` restores the defaults and ``merge_state`` folds in another instance's state (e.g. from a
different process or shard). Sums are float64 torch tensors; covariance-type states are
:class:`Moments` (O(D²) memory, exact Chan merge).
"""
from __future__ import annotations

import abc
import copy
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError, NumericalError
from . import functional as F
from ._util import as_2d, as_rows, l2_normalize
from .reference import MIDReference
from .streaming import Moments

__all__ = ["Metric", "MID", "CLIPScore", "FID", "KID"]


class Metric(abc.ABC):
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

    @abc.abstractmethod
    def update(self, *args, **kwargs) -> None:
        """Accumulate a batch into the state."""

    @abc.abstractmethod
    def compute(self):
        """The metric of everything accumulated so far."""

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


def _take_front(parts: list, k: int) -> np.ndarray:
    """Remove and return the first ``k`` rows of a list of row blocks (k ≤ total rows)."""
    out, need = [], k
    while need:
        head = parts[0]
        if head.shape[0] <= need:
            out.append(parts.pop(0))
            need -= head.shape[0]
        else:
            out.append(head[:need])
            parts[0] = head[need:]
            need = 0
    return out[0] if len(out) == 1 else np.concatenate(out)


class MID(Metric):
    """Streaming Mutual Information Divergence (Kim et al. 2022), set-level, nats.

    ``update(x_ref, y_ref, x_gen, y_gen=None)`` per batch; ``compute()`` equals
    :func:`judgenet.metrics.functional.mid` on the concatenated batches, and the official
    ``MutualInformationDivergence`` class when ``y_gen`` is omitted:

    * **``y_gen`` omitted** (the official convention): generated row j *overall* is paired with
      reference text j *overall* (not with the first texts of its own batch), whatever the batch sizes
      and in either order — texts that arrive before their generated rows, or generated rows that arrive
      before their texts, wait in a buffer of unpaired rows (at most ``min(N, limit) − M`` text rows of
      Dy floats when M < N). ``compute()`` fails if some generated row never got its text (M > N).
    * **``y_gen`` given** (the prompts' own text features): state is two :class:`Moments` only, O((Dx+Dy)²)
      memory. A metric uses one convention for all its batches.

    State: :class:`Moments` of reference z = [x; y] and of generated ẑ = [x̂; ŷ] (float64), never the
    reference features. ``limit``: only the first ``limit`` reference and generated rows count.
    ``merge_state`` of position-paired states is exact only when the first part is complete (as many
    generated as reference rows, nothing waiting) and ``limit`` was not reached; otherwise it refuses.
    """

    higher_is_better = True

    def __init__(self, dim_x: int = 512, dim_y: int | None = None, *, normalize: bool = True, eps: float = 0.0,
                 shrinkage: str | None = None, limit: int | None = 30000):
        super().__init__()
        self.dim_x, self.dim_y = int(dim_x), int(dim_y if dim_y is not None else dim_x)
        self.normalize, self.eps, self.shrinkage, self.limit = normalize, eps, shrinkage, limit
        higher = shrinkage == "ledoit_wolf"
        self.add_state("ref", Moments(self.dim_x + self.dim_y, higher=higher), "merge")
        self.add_state("gen", Moments(self.dim_x + self.dim_y, higher=False), "merge")
        self.add_state("n_ref_seen", torch.zeros((), dtype=torch.int64))
        self.add_state("n_gen_seen", torch.zeros((), dtype=torch.int64))
        self.add_state("texts_waiting", [], "cat")  # normalized reference texts not yet paired (y_gen omitted)
        self.add_state("gens_waiting", [], "cat")  # normalized generated images waiting for their text
        self._pairing: str | None = None

    def _cap(self, seen: int, rows: int) -> int:
        """How many of ``rows`` new rows, after ``seen`` earlier ones, fall inside ``limit``."""
        return rows if self.limit is None else max(0, min(rows, self.limit - seen))

    def _rows(self, a, name, dim, stop):
        """Rows ``:stop`` as float64, L2-normalized if ``normalize``, finite (checked)."""
        r = np.array(a[:stop], dtype=np.float64)
        if self.normalize and r.shape[0]:
            r = l2_normalize(as_2d(r, name), name)
        elif not np.isfinite(r).all():
            as_2d(r, name)  # raises the one-line NaN/inf error
        return r

    def update(self, x_ref, y_ref, x_gen, y_gen=None) -> None:
        """Add a batch: ``x_ref`` (n, Dx), ``y_ref`` (n, Dy) reference pairs, ``x_gen`` (m, Dx) generated
        features and, optionally, their prompts' text features ``y_gen`` (m, Dy); see the class docstring."""
        xr, yr = as_rows(x_ref, "x_ref", self.dim_x), as_rows(y_ref, "y_ref", self.dim_y)
        xg = as_rows(x_gen, "x_gen", self.dim_x)
        if xr.shape[0] != yr.shape[0]:
            raise ConfigError(f"x_ref and y_ref must be paired, got {xr.shape[0]} and {yr.shape[0]} rows")
        pairing = "position" if y_gen is None else "given"
        if self._pairing not in (None, pairing):
            raise ConfigError("MID.update: every batch must give y_gen, or none may (generated rows are paired "
                              "with reference texts by position when y_gen is omitted)")
        self._pairing = pairing
        r0, g0 = int(self.n_ref_seen), int(self.n_gen_seen)
        nr, ng = self._cap(r0, xr.shape[0]), self._cap(g0, xg.shape[0])
        higher = self.shrinkage == "ledoit_wolf"
        if nr:
            part = Moments.from_joint(xr, yr, 0, nr, normalize=self.normalize, higher=higher,
                                      names=("x_ref", "y_ref"))
            if not part.is_finite():
                as_2d(xr[:nr], "x_ref"), as_2d(yr[:nr], "y_ref")  # raise the one-line NaN/inf error
            self.ref.merge(part)
        if y_gen is not None:
            yg = as_rows(y_gen, "y_gen", self.dim_y)
            if yg.shape[0] != xg.shape[0]:
                raise ConfigError(f"x_gen and y_gen must be paired, got {xg.shape[0]} and {yg.shape[0]} rows")
            if ng:
                self.gen.update(np.hstack([self._rows(xg, "x_gen", self.dim_x, ng),
                                           self._rows(yg, "y_gen", self.dim_y, ng)]))
        else:
            if nr:
                self.texts_waiting.append(self._rows(yr, "y_ref", self.dim_y, nr))
            if ng:
                self.gens_waiting.append(self._rows(xg, "x_gen", self.dim_x, ng))
            k = min(sum(a.shape[0] for a in self.texts_waiting), sum(a.shape[0] for a in self.gens_waiting))
            if k:
                xs, ys = _take_front(self.gens_waiting, k), _take_front(self.texts_waiting, k)
                self.gen.merge(Moments.from_joint(xs, ys, higher=False))
        self.n_ref_seen = self.n_ref_seen + xr.shape[0]
        self.n_gen_seen = self.n_gen_seen + xg.shape[0]
        self._update_count += 1

    def reset(self) -> None:
        super().reset()
        self._pairing = None

    def merge_state(self, other: "MID") -> "MID":
        """Fold in ``other`` (the rows that come *after* this instance's). Exact for ``y_gen``-given states;
        for position-paired states only when ``self`` is complete (see the class docstring)."""
        if type(other) is not type(self):
            raise ConfigError(f"cannot merge a {type(other).__name__} into a {type(self).__name__}")
        if "position" in (self._pairing, other._pairing):
            total = int(self.n_ref_seen) + int(other.n_ref_seen), int(self.n_gen_seen) + int(other.n_gen_seen)
            complete = (self._pairing in (None, "position") and other._pairing in (None, "position")
                        and int(self.n_ref_seen) == int(self.n_gen_seen)
                        and not self.texts_waiting and not self.gens_waiting)
            if not complete or (self.limit is not None and max(total) > self.limit):
                raise ConfigError(
                    "cannot merge MID states that pair generated rows with reference texts by position (y_gen "
                    "omitted): the pairing depends on the global row order. Merge only parts whose earlier part "
                    "holds as many generated as reference rows (within limit), or pass y_gen to update()")
        super().merge_state(other)
        self._pairing = self._pairing or other._pairing
        return self

    def reference(self) -> MIDReference:
        """The :class:`MIDReference` fitted from the accumulated reference pairs."""
        return MIDReference.from_moments(self.ref, self.dim_x, eps=self.eps, shrinkage=self.shrinkage,
                                         normalize=self.normalize, limit=self.limit)

    def compute(self) -> torch.Tensor:
        """Set-level MID, a float64 scalar tensor."""
        waiting = sum(a.shape[0] for a in self.gens_waiting)
        if waiting:
            raise ConfigError(
                f"{waiting} generated rows have no reference text: with y_gen omitted, generated row j is paired "
                f"with reference text j overall (as the official MID class), so there must be at least as many "
                f"reference pairs as generated rows (got {int(self.n_ref_seen)} and {int(self.n_gen_seen)}); "
                "pass y_gen to update()")
        return torch.tensor(self.reference().mid_from_moments(self.gen), dtype=torch.float64)


class CLIPScore(Metric):
    """Mean CLIP-S (Hessel et al. 2021): **w·max(cos, 0) with w = 2.5** (the paper's scale, values in
    [0, 2.5]); states: float64 sum and count.

    Not the scale of ``torchmetrics.multimodal.CLIPScore``, which reports **100·max(cos, 0)** (values in
    [0, 100]) under the same name: ``CLIPScore(w=100)`` gives torchmetrics' numbers (on the same
    embeddings; this class takes embeddings, not images and captions). The repr says which scale is used.
    """

    higher_is_better = True

    def __init__(self, w: float = 2.5):
        super().__init__()
        self.w = float(w)
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

    def __repr__(self) -> str:
        note = "Hessel et al. CLIP-S scale" if self.w == 2.5 else ("torchmetrics' scale" if self.w == 100 else "custom")
        return (f"CLIPScore(w={self.w:g}: score = {self.w:g}·max(cos, 0), {note}; "
                "torchmetrics' CLIPScore = 100·max(cos, 0))")


class FID(Metric):
    """Streaming FID (Heusel et al. 2017) on given features; states: two :class:`Moments` (float64).

    ``update(features, real)`` as torchmetrics' ``FrechetInceptionDistance`` (but on features, not
    images). ``reset_real_features=False`` keeps the real statistics across :meth:`reset`.
    """

    higher_is_better = False

    def __init__(self, dim: int = 2048, reset_real_features: bool = True):
        super().__init__()
        self.dim, self.reset_real_features = int(dim), reset_real_features
        self.add_state("real", Moments(self.dim, higher=False), "merge")  # FID needs no 4th moments
        self.add_state("fake", Moments(self.dim, higher=False), "merge")

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
