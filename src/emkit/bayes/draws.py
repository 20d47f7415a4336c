r"""Random draws the Gibbs sampler needs, vectorised over chains and components.

Every function takes a ``numpy.random.Generator`` and arrays that broadcast together; none
loops in Python over the batch. A truncated draw first proposes from the untruncated
distribution and keeps the proposal where it lands inside the bounds (the common case in a
sampler, where constraints rarely bind); only the others are drawn by the inverse CDF, on the
tail that keeps precision (upper regularised incomplete functions), so that a truncation far
in a tail is exact rather than NaN. The mixture of the two is exactly the truncated law:
:math:`P(Y \in A \cap I) + P(Y \notin I)\,P(A \cap I)/P(I) = P(A \cap I)/P(I)`.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def inverse_gamma(shape, scale, rng: np.random.Generator) -> np.ndarray:
    r"""Draws of :math:`v \sim \mathrm{IG}(a, b)`, density :math:`\propto v^{-a-1}e^{-b/v}`."""
    shape, scale = np.broadcast_arrays(np.asarray(shape, float), np.asarray(scale, float))
    return scale / rng.standard_gamma(shape)


def _inside(proposal: np.ndarray, low, high) -> np.ndarray:
    return (proposal > low) & (proposal < high)


def truncated_normal(mean, sd, low, high, rng: np.random.Generator) -> np.ndarray:
    """Draws of N(mean, sd^2) restricted to (low, high); bounds may be infinite."""
    proposal = mean + sd * rng.standard_normal(
        np.broadcast_shapes(*map(np.shape, (mean, sd, low, high)))
    )
    keep = _inside(proposal, low, high)
    if keep.all():
        return proposal
    return np.where(keep, proposal, _truncated_normal_cdf(mean, sd, low, high, rng))


def _truncated_normal_cdf(mean, sd, low, high, rng: np.random.Generator) -> np.ndarray:
    """Draws of N(mean, sd^2) restricted to (low, high); bounds may be infinite.

    Inverse CDF on the lower tail's CDF, or on the upper tail's survival function where the
    interval lies above the mean, so that intervals in either tail keep their precision.
    """
    a, b = (low - mean) / sd, (high - mean) / sd
    a, b = np.broadcast_arrays(a, b)
    upper = a > 0  # the interval lies above the mean: work with survival functions
    lo = np.where(upper, special.ndtr(-b), special.ndtr(a))
    hi = np.where(upper, special.ndtr(-a), special.ndtr(b))
    p = lo + rng.random(a.shape) * (hi - lo)
    z = np.where(upper, -special.ndtri(p), special.ndtri(p))
    return mean + sd * np.clip(z, a, b)


def gamma_above(shape, rate, lower, rng: np.random.Generator) -> np.ndarray:
    r"""Draws of :math:`\tau \sim \mathrm{Gamma}(a, b)` (shape, rate) restricted to
    :math:`\tau > c`, for :math:`a > 0`, :math:`b > 0` (c broadcasts to the shape of a and b).

    :math:`\tau = Q^{-1}(a, U\,Q(a, bc))/b` with Q the upper regularised incomplete gamma
    function and U uniform: exact in the far upper tail too.
    """
    if np.shape(shape) != np.shape(rate):
        shape = np.broadcast_to(shape, np.broadcast_shapes(np.shape(shape), np.shape(rate)))
    proposal = rng.standard_gamma(shape) / rate
    keep = proposal > lower
    if keep.all():
        return proposal
    return np.where(keep, proposal, _gamma_above_cdf(shape, rate, lower, rng))


def _gamma_above_cdf(shape, rate, lower, rng: np.random.Generator) -> np.ndarray:
    tail = special.gammaincc(shape, rate * lower)  # (…) P(tau > c)
    u = rng.random(tail.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = special.gammainccinv(shape, u * tail) / rate
    # Where P(tau > c) underflows, the density on (c, inf) is e^{-b tau} to first order.
    far = ~(tail > 0) | ~np.isfinite(tau) | (tau < lower)
    if far.any():
        tau = np.where(far, lower - np.log1p(-u) / rate, tau)
    return tau


def truncated_beta(a, b, low, high, rng: np.random.Generator) -> np.ndarray:
    """Draws of Beta(a, b) restricted to (low, high) (0 <= low < high <= 1)."""
    full = np.broadcast_shapes(*map(np.shape, (a, b, low, high)))
    if np.shape(a) != full or np.shape(b) != full:
        a, b = np.broadcast_to(a, full), np.broadcast_to(b, full)
    proposal = rng.beta(a, b)
    keep = _inside(proposal, low, high)
    if keep.all():
        return proposal
    return np.where(keep, proposal, _truncated_beta_cdf(a, b, low, high, rng))


def _truncated_beta_cdf(a, b, low, high, rng: np.random.Generator) -> np.ndarray:
    a, b, low, high = np.broadcast_arrays(*(np.asarray(v, float) for v in (a, b, low, high)))
    lo, hi = special.betainc(a, b, low), special.betainc(a, b, high)
    u = lo + (hi - lo) * rng.random(a.shape)
    p = special.betaincinv(a, b, u)
    return np.clip(p, low, high)


def dirichlet(concentration, rng: np.random.Generator) -> np.ndarray:
    """Draws of Dirichlet over the last axis of ``concentration`` (..., m), all batches at once."""
    g = rng.standard_gamma(np.asarray(concentration, float))
    return g / g.sum(axis=-1, keepdims=True)


def inverse_wishart(dof, scale, rng: np.random.Generator) -> np.ndarray:
    r"""Draws of :math:`\Sigma \sim \mathrm{IW}(\nu, \Psi)` batched over the leading axes.

    Bartlett: :math:`\Sigma^{-1} = LAA^\top L^\top` with :math:`LL^\top = \Psi^{-1}`, A lower
    triangular, :math:`A_{ii}^2 \sim \chi^2_{\nu - i}` and standard normal entries below.

    Parameters
    ----------
    dof : array of shape (...), :math:`\nu > d - 1`.
    scale : array of shape (..., d, d), symmetric positive definite.
    """
    scale = np.asarray(scale, float)
    d = scale.shape[-1]
    batch = scale.shape[:-2]
    dof = np.broadcast_to(np.asarray(dof, float), batch)
    chol_inv = np.linalg.cholesky(np.linalg.inv(scale))  # (..., d, d)
    a = np.tril(rng.standard_normal(batch + (d, d)), -1)
    idx = np.arange(d)
    a[..., idx, idx] = np.sqrt(rng.chisquare(dof[..., None] - idx))
    factor = chol_inv @ a  # (..., d, d): Sigma^{-1} = factor factor^T
    inv_factor = np.linalg.inv(factor)
    return np.swapaxes(inv_factor, -1, -2) @ inv_factor
