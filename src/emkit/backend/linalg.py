"""Batched linear algebra on small K x D x D arrays, through the arrays' backend namespace."""

from __future__ import annotations

import functools

import numpy as np

from emkit.backend.namespace import namespace_of

# A feature whose variance left unexplained by the features before it is below this fraction
# of its own variance is a linear combination of them to within rounding.
SINGULAR_FRACTION = 1e-13
# Distances of a block of rows to every centre at once (scaled_distances): about this many
# differences (256 KiB), and at least this many rows (few NumPy calls per row where k x d is
# large).
BLOCK_VALUES = 1 << 15
MIN_BLOCK_ROWS = 256


def cholesky(covariances: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of (k, d, d) covariances.

    Raises LinAlgError where a matrix is not numerically positive definite: factorisation
    fails, or L_ii^2 / Sigma_ii (the share of feature i's variance that the earlier features do
    not explain, a scale-free quantity) falls below ``SINGULAR_FRACTION``. A matrix that is
    singular but for rounding would otherwise give precisions of order 1e30 and garbage
    densities.
    """
    chol, ok = namespace_of(covariances).cholesky(covariances)
    if not ok:
        raise np.linalg.LinAlgError("covariance is not positive definite")
    # ndarray methods, not np.diagonal / np.any: this runs on every M-step of every fit
    diagonal = chol.diagonal(0, -2, -1) ** 2
    variances = covariances.diagonal(0, -2, -1)
    if (diagonal < SINGULAR_FRACTION * variances).any():
        raise np.linalg.LinAlgError("covariance is not positive definite")
    return chol


def inverse_positive_definite(matrices: np.ndarray) -> np.ndarray:
    """Inverses of (k, d, d) symmetric positive definite ``matrices`` (precisions), as
    :math:`L^{-T}L^{-1}` from their Cholesky factors :math:`L`: symmetric and positive definite
    but for rounding of the order of the largest eigenvalue's, where ``np.linalg.inv`` of an
    ill-conditioned matrix (a nearly collapsed component) can return one that is not.

    Raises LinAlgError where a matrix is not numerically positive definite.
    """
    chol, ok = namespace_of(matrices).cholesky(matrices)
    if not ok:
        raise np.linalg.LinAlgError("precision is not positive definite")
    inv_l = precision_cholesky(chol)  # L^{-T}
    return inv_l @ np.swapaxes(inv_l, 1, 2)


def require_positive(variances: np.ndarray) -> np.ndarray:
    """``variances`` unchanged if all are finite and > 0; LinAlgError otherwise."""
    if not np.all((variances > 0) & np.isfinite(variances)):
        raise np.linalg.LinAlgError("variance is not positive")
    return variances


@functools.lru_cache(maxsize=64)
def _identity(d: int) -> np.ndarray:
    """``np.eye(d)``, made once per dimension (every M-step of a fit reads it); read-only."""
    eye = np.eye(d)
    eye.setflags(write=False)
    return eye


def precision_cholesky(chol: np.ndarray) -> np.ndarray:
    """U = L^{-T} for each lower Cholesky factor L of shape (k, d, d): then Sigma^{-1} = U U^T."""
    eye = np.broadcast_to(_identity(chol.shape[-1]), chol.shape)
    inv_l = namespace_of(chol).solve_triangular(chol, eye, lower=True)  # L^{-1}, batched
    return np.ascontiguousarray(np.swapaxes(inv_l, 1, 2))


def scaled_distances(
    x: np.ndarray, centres: np.ndarray, scales: np.ndarray | None = None
) -> np.ndarray:
    r""":math:`\sum_j ((x_{nj} - c_{kj}) s_{kj})^2` of NumPy rows ``x`` (n, d) and centres
    ``centres`` (k, d), scales ``scales`` (k, d) or 1, shape (n, k), float64.

    Direct differences, not the expansion, which cancels catastrophically for narrow
    components far from the origin. Where k x d is small, every centre at once over blocks
    of rows laid out feature-major (k, d, rows), so that each NumPy loop runs along the rows
    (along d, ten values or so, it costs more to enter than to run), the rows split over the
    kernel threads; else a centre at a time over all the rows. Either way each row's
    distances are the same numbers whatever the rows around it and the number of threads
    (a block's d terms are added one feature at a time: NumPy's reduction over them would
    add a block of one row in another order).
    """
    from emkit.backend.threads import over_threads

    n, d = x.shape
    k = centres.shape[0]
    out = np.empty((n, k))
    if k * d > BLOCK_VALUES // MIN_BLOCK_ROWS:
        for j in range(k):
            z = x - centres[j]
            if scales is not None:
                z *= scales[j]
            out[:, j] = np.einsum("ij,ij->i", z, z)  # each row's d terms alone
        return out
    centres_t = centres[:, :, None]
    scales_t = None if scales is None else scales[:, :, None]

    def part(rows: np.ndarray, _: object, first: int) -> None:
        m_rows = rows.shape[0]
        step = min(BLOCK_VALUES // max(k * d, 1), max(m_rows, 1))
        diff = np.empty((k, d, step), dtype=np.result_type(rows, centres_t))
        total = np.empty((k, step))
        columns = np.empty((d, step), dtype=rows.dtype)  # the block's rows, feature-major
        for start in range(0, m_rows, step):
            m = min(step, m_rows - start)
            block = columns[:, :m]
            np.copyto(block, rows[start : start + m].T)
            z = np.subtract(block, centres_t, out=diff[:, :, :m])
            if scales_t is not None:
                z *= scales_t
            z *= z
            sums = total[:, :m]
            sums[:] = z[:, 0] if d else 0.0
            for column in range(1, d):
                sums += z[:, column]
            at = first + start
            out[at : at + m] = sums.T

    over_threads(x, None, part)
    return out
