"""A torch MLP regressor that is a proper scikit-learn estimator (and a pairwise scorer)."""
from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

if TYPE_CHECKING:
    import torch

__all__ = ["MLPRegressor"]


class MLPRegressor(RegressorMixin, BaseEstimator):
    """Multi-layer perceptron regressor in torch, with sklearn's estimator API.

    Fits ``X`` (n_samples, n_features) → ``y`` (n_samples,) with mean-squared error, AdamW and
    optional early stopping on a held-out validation split. Deterministic for a given
    ``random_state`` (torch RNG forked, so global state is untouched). Inputs are standardized
    internally (mean/std of the training split, stored as ``x_mean_``/``x_scale_``) and the target
    too, so the defaults work on raw features.

    Parameters:
        hidden_sizes: widths of the hidden layers (ReLU).
        lr, weight_decay: AdamW settings.  max_epochs, batch_size: training length.
        early_stopping: hold out ``validation_fraction`` of the rows and keep the best epoch;
            stop after ``patience`` epochs without improvement.
        random_state: seed of initialization, shuffling and the validation split.
        n_threads: None (default) leaves ``torch.set_num_threads`` untouched — the estimator does
            not change process-global state. An int opts in to that many torch intra-op threads
            while fitting/predicting (restored afterwards; not safe when several threads fit
            concurrently). These nets are tiny and extra threads only add contention: on a busy
            2-core machine ``n_threads=1`` (or ``OMP_NUM_THREADS=1``) was ~25× faster.

    Pairwise training: :meth:`fit_pairs` learns a per-item score s(x) from preferences between
    items with the soft Bradley–Terry loss (ties as 0.5, as PickScore), and :meth:`predict` then
    returns s(x). Early stopping then holds out pairs.

    Fitted attributes: ``net_`` (torch module, float64, eval mode), ``x_mean_``/``x_scale_``
    (n_features,), ``y_mean_``/``y_scale_``, ``n_features_in_``, ``loss_curve_`` (training loss per
    epoch), ``best_validation_loss_`` (None without early stopping), ``n_iter_`` (epochs run).

    sklearn compatibility: passes ``check_estimator`` (see ``tests/test_predictors_mlp.py``); the
    ``poor_score`` tag is set because the default schedule is short for sklearn's toy data.
    """

    def __init__(self, hidden_sizes=(64,), lr=1e-3, weight_decay=1e-4, max_epochs=200, batch_size=64,
                 early_stopping=True, validation_fraction=0.15, patience=20, random_state=None, n_threads=None):
        self.hidden_sizes = hidden_sizes
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state
        self.n_threads = n_threads

    # ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _threads(self):
        import torch  # imported on use: building or pickling an unfitted MLP needs no torch

        if self.n_threads is None:
            yield
            return
        old = torch.get_num_threads()
        torch.set_num_threads(max(1, int(self.n_threads)))
        try:
            yield
        finally:
            torch.set_num_threads(old)

    def _check_params(self) -> None:
        sizes = (self.hidden_sizes,) if np.isscalar(self.hidden_sizes) else tuple(self.hidden_sizes)
        if any(int(h) < 1 for h in sizes):
            raise ValueError(f"hidden_sizes must be positive integers, got {self.hidden_sizes!r}")
        if not float(self.lr) > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if float(self.weight_decay) < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if int(self.max_epochs) < 1 or int(self.batch_size) < 1:
            raise ValueError(f"max_epochs and batch_size must be >= 1, got {self.max_epochs!r}, {self.batch_size!r}")
        if not 0.0 < float(self.validation_fraction) < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        if int(self.patience) < 1:
            raise ValueError(f"patience must be >= 1, got {self.patience!r}")

    def _net(self, d_in: int) -> torch.nn.Module:
        import torch  # imported on use: building or pickling an unfitted MLP needs no torch

        sizes = (self.hidden_sizes,) if np.isscalar(self.hidden_sizes) else tuple(self.hidden_sizes)
        layers, w = [], d_in
        for h in sizes:
            layers += [torch.nn.Linear(w, int(h)), torch.nn.ReLU()]
            w = int(h)
        layers.append(torch.nn.Linear(w, 1))
        return torch.nn.Sequential(*layers).double()

    def _seed(self) -> int:
        rs = self.random_state
        if rs is None:
            return int(np.random.randint(0, 2**31 - 1))
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(0, 2**31 - 1))
        return int(rs)

    def _split(self, n: int, rng: np.random.Generator):
        if self.early_stopping and n >= 10:
            n_val = max(1, int(round(self.validation_fraction * n)))
            perm = rng.permutation(n)
            return perm[n_val:], perm[:n_val]
        return np.arange(n), None

    def _train(self, n_units: int, d_in: int, loss_fn, seed: int) -> None:
        """Generic loop over ``n_units`` training units (rows or pairs)."""
        import torch  # imported on use: building or pickling an unfitted MLP needs no torch

        self._check_params()
        rng = np.random.default_rng(seed)
        tr, va = self._split(n_units, rng)
        with torch.random.fork_rng(), self._threads():
            torch.manual_seed(seed)
            net = self._net(d_in)
            opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            best, best_state, bad = np.inf, None, 0
            self.loss_curve_ = []
            for epoch in range(int(self.max_epochs)):
                net.train()
                order = tr[rng.permutation(tr.size)]
                total = 0.0
                for s in range(0, order.size, int(self.batch_size)):
                    idx = order[s:s + int(self.batch_size)]
                    opt.zero_grad()
                    loss = loss_fn(net, idx)
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * idx.size
                self.loss_curve_.append(total / max(order.size, 1))
                if va is not None:
                    net.eval()
                    with torch.no_grad():
                        v = float(loss_fn(net, va))
                    if v < best - 1e-9:
                        best, bad = v, 0
                        best_state = {k: t.clone() for k, t in net.state_dict().items()}
                    else:
                        bad += 1
                        if bad >= self.patience:
                            break
            if best_state is not None:
                net.load_state_dict(best_state)
            self.best_validation_loss_ = best if va is not None else None
            self.n_epochs_ = self.n_iter_ = epoch + 1
        self.net_ = net.eval()

    def _standardize_fit(self, X):
        self.x_mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        self.x_scale_ = np.where(sd > 0, sd, 1.0)

    def fit(self, X, y):
        """Fit on X (n_samples, n_features) float, y (n_samples,) float; returns self."""
        import torch  # imported on use: building or pickling an unfitted MLP needs no torch

        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        self._standardize_fit(X)
        self.y_mean_, ys = float(y.mean()), float(y.std())
        self.y_scale_ = ys if ys > 0 else 1.0
        Xt = torch.from_numpy((X - self.x_mean_) / self.x_scale_)
        yt = torch.from_numpy((y - self.y_mean_) / self.y_scale_)

        def loss(net, idx):
            return torch.mean((net(Xt[idx]).squeeze(-1) - yt[idx]) ** 2)

        self._train(X.shape[0], X.shape[1], loss, self._seed())
        return self

    def fit_pairs(self, X, idx_a, idx_b, preference, sample_weight=None):
        """Fit a per-item scorer from pairwise preferences.

        Args:
            X: (n_items, n_features). idx_a, idx_b: (n_pairs,) item indices.
            preference: (n_pairs,) probability that a is preferred (1 = a, 0 = b, 0.5 = tie).
            sample_weight: (n_pairs,) optional pair weights (normalized to mean 1).
        Loss: soft binary cross-entropy of σ(s(x_a) − s(x_b)) against ``preference``.
        """
        import torch  # imported on use: building or pickling an unfitted MLP needs no torch

        X = validate_data(self, X, dtype=np.float64)
        if np.asarray(idx_a).size == 0:
            raise ValueError("fit_pairs needs at least one pair")
        ia, ib = np.asarray(idx_a, dtype=int), np.asarray(idx_b, dtype=int)
        p = np.asarray(preference, dtype=np.float64)
        if not (ia.shape == ib.shape == p.shape):
            raise ValueError("idx_a, idx_b and preference must have the same length")
        if ((p < 0) | (p > 1)).any():
            raise ValueError("preference must lie in [0, 1]")
        if min(ia.min(), ib.min()) < 0 or max(ia.max(), ib.max()) >= X.shape[0]:
            raise ValueError(f"pair indices must lie in [0, {X.shape[0]})")
        self._standardize_fit(X)
        self.y_mean_, self.y_scale_ = 0.0, 1.0
        Xt = torch.from_numpy((X - self.x_mean_) / self.x_scale_)
        ta, tb, tp = torch.from_numpy(ia), torch.from_numpy(ib), torch.from_numpy(p)
        sw = np.ones(ia.size) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).ravel()
        tw = torch.from_numpy(sw / sw.mean())

        def loss(net, idx):
            d = (net(Xt[ta[idx]]) - net(Xt[tb[idx]])).squeeze(-1)
            return torch.nn.functional.binary_cross_entropy_with_logits(d, tp[idx], weight=tw[idx])

        self._train(ia.size, X.shape[1], loss, self._seed())
        return self

    def predict(self, X):
        """(n_samples,) float64 predictions."""
        import torch  # imported on use: building or pickling an unfitted MLP needs no torch

        check_is_fitted(self, "net_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with torch.no_grad(), self._threads():
            out = self.net_(torch.from_numpy((X - self.x_mean_) / self.x_scale_)).squeeze(-1).numpy()
        return out * self.y_scale_ + self.y_mean_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True  # tiny default training on check_estimator's toy data
        return tags
