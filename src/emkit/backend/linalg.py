"""Batched linear algebra on small K x D x D arrays (NumPy + SciPy backend)."""

from __future__ import annotations

import numpy as np


def cholesky_regularised(
    covariances: np.ndarray, reg: float, max_tries: int = 12
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cholesky factors of ``covariances + reg * I``, raising the ridge where a matrix is not PD.

    Parameters
    ----------
    covariances : array of shape (k, d, d), symmetric.
    reg : ridge added to every diagonal.

    Returns
    -------
    chol : array of shape (k, d, d), lower-triangular factors.
    covariances : array of shape (k, d, d), the matrices actually factorised.
    escalated : bool array of shape (k,), True where ``reg`` alone did not make the matrix PD.
    """
    k, d, _ = covariances.shape
    eye = np.eye(d)
    out = covariances + reg * eye
    chol = np.empty_like(out)
    escalated = np.zeros(k, dtype=bool)
    for j in range(k):
        ridge = reg
        scale = max(float(np.trace(covariances[j])) / d, 1.0)
        for attempt in range(max_tries + 1):
            try:
                chol[j] = np.linalg.cholesky(out[j])
                break
            except np.linalg.LinAlgError:
                if attempt == max_tries:
                    raise
                escalated[j] = True
                ridge = max(ridge * 10.0, 1e-10 * scale)
                out[j] = covariances[j] + ridge * eye
    return chol, out, escalated


def precision_cholesky(chol: np.ndarray) -> np.ndarray:
    """U = L^{-T} for each lower Cholesky factor L of shape (k, d, d): then Sigma^{-1} = U U^T."""
    k, d, _ = chol.shape
    eye = np.eye(d)
    inv_l = np.linalg.solve(chol, np.broadcast_to(eye, chol.shape))  # L^{-1}, batched
    return np.swapaxes(inv_l, 1, 2)
