"""Shared helpers of :mod:`judgenet.metrics`: float64 conversion, Cholesky with clear errors, hashing.

Private module; nothing here is part of the public API.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

import numpy as np
from scipy import linalg as _la

from ..errors import ArtifactError, ConfigError, NumericalError

__all__ = ["as_f64", "as_2d", "as_rows", "joint_rows", "nonfinite_error", "l2_normalize", "cholesky", "content_hash",
           "save_npz", "load_npz"]


def _numpy(a) -> np.ndarray:
    """numpy view of ``a`` without a dtype conversion where numpy can hold it (torch → ``.numpy()``)."""
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # torch.Tensor without importing torch
        a = a.detach().cpu()
        if str(a.dtype) in ("torch.bfloat16", "torch.float16"):
            a = a.float()
        return a.numpy()
    return np.asarray(a)


def nonfinite_error(name: str, arr) -> NumericalError:
    """The error for an input with NaN/inf entries (counted; call only once something is known to be wrong)."""
    bad = ~np.isfinite(np.asarray(arr, dtype=np.float64))
    if not bad.any():
        return NumericalError(f"{name} has values too large for float64 arithmetic (a product overflowed to inf); "
                              "rescale the features")
    rows = np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1)) if bad.ndim > 1 else np.flatnonzero(bad)
    return NumericalError(f"{name} contains NaN or inf values ({int(bad.sum())} entries, rows "
                          f"{rows[:5].tolist()}{'…' if rows.size > 5 else ''}); "
                          "remove or repair those rows before computing metrics")


def as_f64(a, name: str = "array") -> np.ndarray:
    """Any array-like (numpy, torch tensor on any device, list) → float64 numpy array (no copy if possible)."""
    arr = np.asarray(_numpy(a), dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise nonfinite_error(name, arr)
    return arr


def as_rows(a, name: str, dim: int | None = None) -> np.ndarray:
    """(n, d) numpy view of ``a`` *without* converting its dtype or checking its values (a 1-D input is
    one row); for code that copies the rows into float64 once itself (:func:`joint_rows`)."""
    arr = _numpy(a)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ConfigError(f"{name} must be a 2-D (n, d) array, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ConfigError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if dim is not None and arr.shape[1] != dim:
        raise ConfigError(f"{name} must have {dim} columns (feature dimension), got {arr.shape[1]}")
    return arr


def _row_norms(block: np.ndarray, name: str, first_row: int) -> np.ndarray:
    """Euclidean norms (n,) of the rows, accumulated in float64; raises on an all-zero row."""
    sq = np.einsum("ij,ij->i", block, block, dtype=np.float64)
    zero = sq == 0
    if zero.any():
        raise NumericalError(f"{name} has {int(zero.sum())} all-zero rows (first: row "
                             f"{first_row + int(np.flatnonzero(zero)[0])}), which cannot be L2-normalized")
    return np.sqrt(sq)


def _normalize_inplace(block: np.ndarray, name: str, first_row: int) -> None:
    block /= _row_norms(block, name, first_row)[:, None]


def joint_rows(x: np.ndarray, y: np.ndarray, start: int, stop: int, *, normalize: bool,
               names: tuple[str, str] = ("x", "y")) -> np.ndarray:
    """A new float64 (stop−start, Dx+Dy) array z = [x; y] of rows ``start:stop`` — the one copy MID needs —
    with each half L2-normalized in place when ``normalize``. Values are not checked for NaN/inf here:
    callers check the (much smaller) statistics they compute from z and call :func:`nonfinite_error`."""
    dx = x.shape[1]
    z = np.empty((stop - start, dx + y.shape[1]), dtype=np.float64)
    z[:, :dx] = x[start:stop]
    z[:, dx:] = y[start:stop]
    if normalize:
        with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf rows: reported by the caller's check
            _normalize_inplace(z[:, :dx], names[0], start)
            _normalize_inplace(z[:, dx:], names[1], start)
    return z


def as_2d(a, name: str = "features", dim: int | None = None) -> np.ndarray:
    """Float64 (n, d) array; a 1-D input is one row. Checks ``d == dim`` when given."""
    arr = as_f64(a, name)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ConfigError(f"{name} must be a 2-D (n, d) array, got shape {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        raise ConfigError(f"{name} must have {dim} columns (feature dimension), got {arr.shape[1]}")
    return arr


def l2_normalize(a: np.ndarray, name: str = "features") -> np.ndarray:
    """Rows divided by their Euclidean norm; raises on an all-zero row."""
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise NumericalError(f"{name} has {int((norms == 0).sum())} all-zero rows, which cannot be L2-normalized")
    return a / norms


def cholesky(cov: np.ndarray, what: str, n: int | None = None, fix: str = "") -> np.ndarray:
    """Lower Cholesky factor of a symmetric positive-definite matrix, or :class:`NumericalError`.

    Besides a failed factorization, a numerically singular matrix (smallest pivot² below
    ``p · 2.2e-16 · max diagonal``) is rejected too, because its inverse would be noise.
    """
    p = cov.shape[0]
    try:
        L = np.linalg.cholesky(cov)
        piv = np.diag(L) ** 2
        bad = piv.min() <= p * np.finfo(np.float64).eps * np.max(np.diag(cov))
    except np.linalg.LinAlgError:
        bad, L = True, None
    if bad:
        lam = np.linalg.eigvalsh(cov)
        msg = (f"{what} ({p}×{p}) is singular or numerically singular: eigenvalues range "
               f"[{lam[0]:.3e}, {lam[-1]:.3e}]")
        if n is not None:
            msg += f", estimated from N={n} samples (a p×p sample covariance needs N > p={p})"
        raise NumericalError(msg + ". " + (fix or "Use more samples or a regularized covariance."))
    return L


def solve_lower(L: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``L⁻¹ b`` for lower-triangular L (b may be a matrix, columns are right-hand sides)."""
    return _la.solve_triangular(L, b, lower=True, check_finite=False)


def logdet_chol(L: np.ndarray) -> float:
    """log det(L Lᵀ) = 2 Σ log diag(L)."""
    return float(2.0 * np.sum(np.log(np.diag(L))))


def _canonical(meta: Mapping[str, Any]) -> str:
    return json.dumps(meta, sort_keys=True, separators=(",", ":"), default=str)


def content_hash(arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> str:
    """Stable 16-hex-char SHA-256 of array names, dtypes, shapes, bytes and canonical-JSON metadata."""
    h = hashlib.sha256()
    h.update(_canonical(meta).encode("utf-8"))
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"|{name}|{a.dtype.str}|{a.shape}|".encode("utf-8"))
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def save_npz(path, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
    """One ``.npz`` file: the arrays plus the JSON metadata under ``__meta__`` (no pickle).

    ``meta["versions"]`` (judgenet, numpy) is added here and is not part of the content hash, so a
    file's hash does not change when the software is upgraded.
    """
    from .._version import versions

    payload = {k: np.asarray(v) for k, v in arrays.items()}
    meta = dict(meta)
    meta["versions"] = versions("judgenet", "numpy")
    payload["__meta__"] = np.array(_canonical(meta))
    with open(path, "wb") as fh:  # file handle: numpy won't append ".npz" to the user's name
        np.savez(fh, **payload)


def load_npz(path, kind: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Inverse of :func:`save_npz`; checks ``meta["kind"] == kind`` and the stored content hash."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != "__meta__"}
            meta = json.loads(str(z["__meta__"]))
    except (OSError, ValueError, KeyError) as exc:
        raise ArtifactError(f"cannot read {kind} file {path!s}: {exc}") from exc
    if meta.get("kind") != kind:
        raise ArtifactError(f"{path!s} holds a {meta.get('kind')!r}, expected a {kind!r}")
    meta.pop("versions", None)
    stored = meta.pop("hash", None)
    actual = content_hash(arrays, meta)
    if stored != actual:
        raise ArtifactError(f"{path!s}: content hash {actual} does not match the recorded {stored}; "
                            "the file is corrupt or was edited — fit and save it again")
    return arrays, meta
