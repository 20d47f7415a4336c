r"""Random draws the Gibbs sampler needs, vectorised over chains and components.

Every function takes a ``numpy.random.Generator`` and arrays that broadcast together; none
loops in Python over the batch. A truncated draw first proposes from the untruncated
distribution and keeps the proposal where it lands inside the bounds (the common case in a
sampler, where constraints rarely bind); only the others are drawn by the inverse CDF, on the
side that keeps precision (the normal's log CDF on its lower side, upper regularised incomplete
functions), so that a truncation far in a tail is exact rather than NaN or a bound. The
mixture of the two is exactly the truncated law:
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
    """Draws of N(mean, sd^2) restricted to (low, high) by the inverse CDF of uniforms."""
    a, b = (low - mean) / sd, (high - mean) / sd
    a, b = np.broadcast_arrays(a, b)
    flip, lo, hi = _lower_side(a, b)
    with np.errstate(divide="ignore"):  # u = 0: log 0 = -inf, the lower bound
        z = _quantile(lo, hi, np.log(rng.random(a.shape)))
    return mean + sd * np.where(flip, -z, z)


def _lower_side(a, b):
    """The interval (a, b) flipped to (-b, -a) where a + b > 0, so that it lies mostly below
    0, where the normal's log CDF keeps its precision: (flip, lo, hi)."""
    with np.errstate(invalid="ignore"):  # (-inf, inf): no flip
        flip = a + b > 0
    return flip, np.where(flip, -b, a), np.where(flip, -a, b)


def _quantile(lo, hi, log_u) -> np.ndarray:
    r"""The standard normal on (lo, hi) (with :math:`lo + hi \le 0`) at probability
    :math:`u`, given :math:`\log u`: :math:`p = \Phi(lo) + u(\Phi(hi) - \Phi(lo))` on the log
    scale, :math:`\log p = \log\Phi(hi) + \log(r + u(1 - r))`, :math:`r = \Phi(lo)/\Phi(hi)`,
    inverted by :func:`scipy.special.ndtri_exp`: exact however far in the tail the interval
    lies (``ndtr`` underflows below -38, where ``ndtri(0) = -inf``)."""
    log_lo, log_hi = special.log_ndtr(lo), special.log_ndtr(hi)
    with np.errstate(divide="ignore"):
        log_p = log_hi + np.logaddexp(log_lo - log_hi, log_u + np.log(-np.expm1(log_lo - log_hi)))
    return np.clip(special.ndtri_exp(log_p), lo, hi)


def truncated_normal_from_score(a, b, score) -> np.ndarray:
    r"""The standard normal restricted to (a, b) at the quantile whose normal score is
    ``score``: :math:`F^{-1}(\Phi(z))`, with :math:`\Phi(z)` kept on the log scale on
    whichever side it is small, so exact in both tails of z and of the interval."""
    flip, lo, hi = _lower_side(*np.broadcast_arrays(a, b))
    z = _quantile(lo, hi, special.log_ndtr(np.where(flip, -score, score)))
    return np.where(flip, -z, z)


def truncated_normal_score(a, b, t) -> np.ndarray:
    r"""The normal score :math:`\Phi^{-1}(F(t))` of t in (a, b) under the standard normal
    restricted to (a, b), F its CDF: the inverse of :func:`truncated_normal_from_score`.

    On the lower side (see :func:`_quantile`),
    :math:`F = (e^{\log\Phi(t) - \log\Phi(hi)} - r)/(1 - r)` and
    :math:`1 - F = (1 - e^{\log\Phi(t) - \log\Phi(hi)})/(1 - r)`; the smaller of the two is
    inverted on the log scale. A t at a bound has score -inf or inf."""
    flip, lo, hi = _lower_side(*np.broadcast_arrays(a, b))
    t = np.where(flip, -t, t)
    log_lo, log_hi = special.log_ndtr(lo), special.log_ndtr(hi)
    rest = np.log(-np.expm1(log_lo - log_hi))  # log(1 - r)
    log_t = np.minimum(special.log_ndtr(t) - log_hi, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_f = np.log(np.maximum(np.exp(log_t) - np.exp(log_lo - log_hi), 0.0)) - rest
        log_g = np.log(-np.expm1(log_t)) - rest  # log(1 - F)
    z = np.where(
        log_f < np.log(0.5),
        special.ndtri_exp(np.minimum(log_f, 0.0)),
        -special.ndtri_exp(np.minimum(log_g, 0.0)),
    )
    return np.where(flip, -z, z)


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
