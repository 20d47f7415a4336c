"""Batched linear algebra on small K x D x D arrays (NumPy + SciPy backend)."""

from __future__ import annotations

import numpy as np


def cholesky(covariances: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of (k, d, d) covariances; LinAlgError if one is not PD."""
    chol = np.linalg.cholesky(covariances)
    if not np.all(np.isfinite(chol)):
        raise np.linalg.LinAlgError("covariance is not positive definite")
    return chol


def require_positive(variances: np.ndarray) -> np.ndarray:
    """``variances`` unchanged if all are finite and > 0; LinAlgError otherwise."""
    if not np.all((variances > 0) & np.isfinite(variances)):
        raise np.linalg.LinAlgError("variance is not positive")
    return variances


def precision_cholesky(chol: np.ndarray) -> np.ndarray:
    """U = L^{-T} for each lower Cholesky factor L of shape (k, d, d): then Sigma^{-1} = U U^T."""
    k, d, _ = chol.shape
    eye = np.eye(d)
    inv_l = np.linalg.solve(chol, np.broadcast_to(eye, chol.shape))  # L^{-1}, batched
    return np.ascontiguousarray(np.swapaxes(inv_l, 1, 2))
