"""The NumPy + SciPy array backend (see :class:`emkit.backend.namespace.ArrayNamespace`).

NumPy's own functions under the namespace's names, and the passes over the rows on the CPU,
each in a module of its own: the Gaussian E-step's (``quadratic_sums``,
:mod:`emkit.backend.gaussian_pass`), k-means' (``nearest_sums``, ``nearest_labels``,
:mod:`emkit.backend.nearest_pass`) and ``exp_normal`` (:mod:`emkit.backend.underflow`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emkit.backend.gaussian_pass import quadratic_sums as quadratic_sums
from emkit.backend.nearest_pass import nearest_labels as nearest_labels
from emkit.backend.nearest_pass import nearest_sums as nearest_sums
from emkit.backend.underflow import exp_normal as exp_normal

name = "numpy"
float64 = np.float64

exp = np.exp
sqrt = np.sqrt
log = np.log
isnan = np.isnan
isfinite = np.isfinite
where = np.where
einsum = np.einsum
stack = np.stack
zeros_like = np.zeros_like
flatnonzero = np.flatnonzero


def owns(x: Any) -> bool:
    return isinstance(x, np.ndarray)


def is_floating(x: np.ndarray) -> bool:
    return bool(np.issubdtype(x.dtype, np.floating))


def asarray(x: Any, dtype: Any = None, like: Any = None) -> np.ndarray:
    return np.asarray(x, dtype=dtype, order="C")


def to_numpy(x: Any) -> np.ndarray:
    return np.asarray(x)


def logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    # scipy.special.logsumexp's array-API dispatch costs ~0.2 ms a call: most of an E-step on
    # a few hundred rows. Same numbers: shift by the maximum (0 where it is not finite).
    top = a.max(axis=axis, keepdims=True)
    top[~np.isfinite(top)] = 0.0
    with np.errstate(divide="ignore"):  # a row of -inf gives log(0) = -inf, as it should
        out = np.log(np.exp(a - top).sum(axis=axis))
    return out + np.squeeze(top, axis=axis)


def cholesky(a: np.ndarray) -> tuple[np.ndarray, bool]:
    try:
        chol = np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        return np.full_like(a, np.nan), False
    return chol, bool(np.isfinite(chol).all())


def solve_triangular(factor: np.ndarray, b: np.ndarray, lower: bool) -> np.ndarray:
    # Batched: numpy.linalg.solve broadcasts over the leading axes (scipy's solve_triangular
    # does not); the triangle is exploited only for a single matrix.
    if factor.ndim == 2:
        from scipy.linalg import solve_triangular as _solve

        return _solve(factor, b, lower=lower)
    return np.linalg.solve(factor, b)


def eigvalsh(a: np.ndarray) -> np.ndarray:
    return np.linalg.eigvalsh(a)


def argmax(a: np.ndarray, axis: int) -> np.ndarray:
    return a.argmax(axis=axis)


def empty(shape: tuple[int, ...], like: Any = None) -> np.ndarray:
    return np.empty(shape)


def arange(n: int, like: Any = None) -> np.ndarray:
    return np.arange(n)


def stable_argsort_descending(a: np.ndarray) -> np.ndarray:
    return np.argsort(-a, kind="stable")
