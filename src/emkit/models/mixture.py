"""A finite mixture of K components of one (batched) family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp


@dataclass(frozen=True)
class MixtureStats:
    """Responsibility totals (k,) and the components' own statistics; adds up over chunks."""

    resp_sum: np.ndarray
    components: Any

    def __add__(self, other: MixtureStats) -> MixtureStats:
        return MixtureStats(self.resp_sum + other.resp_sum, self.components + other.components)


@dataclass(frozen=True, eq=False)
class Mixture:
    r"""Mixture model :math:`p(x) = \sum_k \pi_k p_k(x)`; an immutable value.

    Attributes
    ----------
    weights : array of shape (k,), mixing proportions summing to 1.
    components : batched family with ``log_prob(x) -> (n, k)``, ``suff_stats(x, resp)``
        and ``m_step(stats, reg_covar)``.
    reg_covar : ridge the Gaussian M-step adds to covariance diagonals.
    """

    weights: np.ndarray
    components: Any
    reg_covar: float = 0.0

    @property
    def n_components(self) -> int:
        return self.weights.shape[0]

    def log_joint(self, x: np.ndarray) -> np.ndarray:
        """log pi_k + log p_k(x_n), shape (n, k)."""
        with np.errstate(divide="ignore"):
            log_weights = np.log(self.weights)
        return self.components.log_prob(x) + log_weights

    def log_resp(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log responsibilities (n, k) and log p(x_n) (n,)."""
        log_joint = self.log_joint(x)
        log_norm = logsumexp(log_joint, axis=1)  # (n,)
        return log_joint - log_norm[:, None], log_norm

    def e_step(self, x: np.ndarray, sample_weight: np.ndarray | None = None):
        """Statistics of chunk ``x`` (n, d) and its observed-data log-likelihood."""
        log_resp, log_norm = self.log_resp(x)
        resp = np.exp(log_resp)  # (n, k)
        if sample_weight is not None:
            resp *= sample_weight[:, None]
            loglik = float(sample_weight @ log_norm)
        else:
            loglik = float(log_norm.sum())
        stats = MixtureStats(resp.sum(axis=0), self.components.suff_stats(x, resp))
        return stats, loglik

    def m_step(self, stats: MixtureStats) -> Mixture:
        weights = stats.resp_sum / stats.resp_sum.sum()
        components = self.components.m_step(stats.components, self.reg_covar)
        # The M-step may have had to raise the ridge to keep a collapsed component non-singular.
        reg_covar = max(self.reg_covar, getattr(components, "ridge", 0.0))
        return Mixture(weights, components, reg_covar)

    def log_prior(self) -> float:
        """Log-density of the covariance ridge prior (0 when ``reg_covar`` is 0)."""
        return self.components.log_prior(self.reg_covar)
