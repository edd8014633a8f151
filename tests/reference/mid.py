"""MID references: the official code transcribed line by line, and a textbook numpy computation.

Source transcribed: https://github.com/naver-ai/mid.metric ``metrics/mid.py`` (commit 0813865, Apache-2.0),
functions ``log_det``, ``robust_inv``, ``exp_smd``, ``_compute_pmi`` and the class
``MutualInformationDivergence`` (its ``torchmetrics.Metric`` base replaced by plain lists, ``rank_zero_info``
logging dropped; every arithmetic line unchanged).
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import linalg as sla

__all__ = ["official_compute_pmi", "OfficialMID", "direct_mid"]


def _log_det(X):
    eigenvalues = X.svd()[1]
    return eigenvalues.log().sum()


def _robust_inv(x, eps=0):
    Id = torch.eye(x.shape[0]).to(x.device)
    return (x + eps * Id).inverse()


def _exp_smd(a, b, reduction=True):
    a_inv = _robust_inv(a)
    if reduction:
        assert b.shape[0] == b.shape[1]
        return (a_inv @ b).trace()
    else:
        return (b @ a_inv @ b.t()).diag()


def official_compute_pmi(x, y, x0, limit: int = 30000, reduction: bool = True, full: bool = False):
    """``_compute_pmi`` of the official code; inputs are converted to float64 torch tensors (the official
    class does ``.double()`` in ``update``). Returns a float64 tensor (scalar, or (M,) per sample)."""
    x, y, x0 = (torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a).double() for a in (x, y, x0))
    N = x.shape[0]
    excess = N - limit
    if 0 < excess:
        if not full:
            x = x[:-excess]
            y = y[:-excess]
        x0 = x0[:-excess]
    N = x.shape[0]
    M = x0.shape[0]

    assert N >= x.shape[1], "not full rank for matrix inversion!"

    z = torch.cat([x, y], dim=-1)
    z0 = torch.cat([x0, y[:x0.shape[0]]], dim=-1)
    x_mean = x.mean(dim=0, keepdim=True)
    y_mean = y.mean(dim=0, keepdim=True)
    z_mean = torch.cat([x_mean, y_mean], dim=-1)

    X = (x - x_mean).t() @ (x - x_mean) / (N - 1)
    Y = (y - y_mean).t() @ (y - y_mean) / (N - 1)
    Z = (z - z_mean).t() @ (z - z_mean) / (N - 1)
    X0 = (x0 - x_mean).t() @ (x0 - x_mean) / (M - 1)  # use the reference mean
    Z0 = (z0 - z_mean).t() @ (z0 - z_mean) / (M - 1)  # use the reference mean

    for _ in [X, Y, Z, X0, Z0]:
        assert _.dtype == torch.float64

    mi = (_log_det(X) + _log_det(Y) - _log_det(Z)) / 2
    if reduction:
        smd = (_exp_smd(X, X0) + _exp_smd(Y, Y) - _exp_smd(Z, Z0)) / 2
    else:
        smd = (_exp_smd(X, x0 - x_mean, False) + _exp_smd(Y, y - y_mean, False)
               - _exp_smd(Z, z0 - z_mean, False)) / 2
        mi = mi.unsqueeze(0)
    return mi + smd


class OfficialMID:
    """``MutualInformationDivergence`` of the official code: ``update(x, y, x0)`` appends the real image,
    text and fake image features of a batch (float64); ``compute()`` concatenates each list and calls
    :func:`official_compute_pmi` — so fake row j is paired with text row j *overall*."""

    def __init__(self, feature: int = 512, limit: int = 30000):
        self.limit = limit
        self.x_feat, self.y_feat, self.x0_feat = [], [], []

    def update(self, x, y, x0) -> None:
        x, y, x0 = (torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a) for a in (x, y, x0))
        assert x.shape[0] == y.shape[0] and x.shape[1] == y.shape[1]
        self.orig_dtype = x.dtype
        x, y, x0 = [a.double() for a in [x, y, x0]]
        self.x_feat.append(x)
        self.y_feat.append(y)
        self.x0_feat.append(x0)

    def compute(self, reduction: bool = True):
        feats = [torch.cat(getattr(self, f"{k}_feat"), dim=0) for k in ["x", "y", "x0"]]
        return official_compute_pmi(*feats, self.limit, reduction).to(self.orig_dtype)


def direct_mid(x, y, xg, yg, eps: float = 0.0, reduction: str = "mean"):
    """Textbook MID with explicit inverses and ``slogdet`` (numpy/scipy, float64), written from the paper:
    I = ½(log|Σx| + log|Σy| − log|Σz|); per sample I + ½[D²x + D²y − D²z]; set level with the generated
    second moments about the reference mean over M−1 and the text term tr(Σy⁻¹ S_y)."""
    z, zg = np.hstack([x, y]), np.hstack([xg, yg])
    dx = x.shape[1]
    mu = z.mean(0)
    S = np.cov(z, rowvar=False) + eps * np.eye(z.shape[1])
    Sx, Sy = S[:dx, :dx], S[dx:, dx:]
    I = 0.5 * (np.linalg.slogdet(Sx)[1] + np.linalg.slogdet(Sy)[1] - np.linalg.slogdet(S)[1])
    gx, gy, gz = xg - mu[:dx], yg - mu[dx:], zg - mu
    iX, iY, iZ = sla.inv(Sx), sla.inv(Sy), sla.inv(S)
    if reduction == "none":
        q = lambda g, inv: np.einsum("ij,jk,ik->i", g, inv, g)  # noqa: E731
        return I + 0.5 * (q(gx, iX) + q(gy, iY) - q(gz, iZ))
    M = xg.shape[0]
    X0, Z0 = gx.T @ gx / (M - 1), gz.T @ gz / (M - 1)
    Ty = np.trace(iY @ (np.cov(y, rowvar=False)))
    return I + 0.5 * (np.trace(iX @ X0) + Ty - np.trace(iZ @ Z0))
