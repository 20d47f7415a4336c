"""The NumPy + SciPy array backend (see :class:`emkit.backend.namespace.ArrayNamespace`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import logsumexp as _logsumexp

name = "numpy"


def owns(x: Any) -> bool:
    return isinstance(x, np.ndarray)


def asarray(x: Any, dtype: Any = None) -> np.ndarray:
    return np.asarray(x, dtype=dtype)


def to_numpy(x: Any) -> np.ndarray:
    return np.asarray(x)


def logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    return _logsumexp(a, axis=axis)


def cholesky(a: np.ndarray) -> tuple[np.ndarray, bool]:
    try:
        chol = np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        return np.full_like(a, np.nan), False
    return chol, bool(np.all(np.isfinite(chol)))


def solve_triangular(factor: np.ndarray, b: np.ndarray, lower: bool) -> np.ndarray:
    # Batched: numpy.linalg.solve broadcasts over the leading axes (scipy's solve_triangular
    # does not); the triangle is exploited only for a single matrix.
    if factor.ndim == 2:
        from scipy.linalg import solve_triangular as _solve

        return _solve(factor, b, lower=lower)
    return np.linalg.solve(factor, b)


def eigvalsh(a: np.ndarray) -> np.ndarray:
    return np.linalg.eigvalsh(a)
