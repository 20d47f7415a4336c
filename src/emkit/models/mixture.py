"""A finite mixture of K components of one (batched) family."""

from __future__ import annotations

from dataclasses import dataclass, replace
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

    With the defaults EM climbs the log-likelihood. ``weight_concentration`` :math:`\alpha` puts
    a Dirichlet prior :math:`\sum_k(\alpha - 1)\log\pi_k` on the weights, whose mode is
    :math:`\pi_k \propto N_k + \alpha - 1`; a component whose :math:`N_k + \alpha - 1` is not
    positive (possible for :math:`\alpha < 1`) is removed. ``component_prior`` makes the
    component M-step a MAP step. With ``assignment="hard"`` (classification EM) each row goes
    wholly to its most probable component and EM climbs the classification log-likelihood
    :math:`\sum_n \max_k \log \pi_k p_k(x_n)`. ``prune_weight`` drops components whose
    weight falls below it; :func:`~emkit.em.run_em` records those steps.

    Attributes
    ----------
    weights : array of shape (k,), mixing proportions summing to 1.
    components : batched family with ``log_prob(x) -> (n, k)``, ``suff_stats(x, resp)``
        and ``m_step(stats, reg_covar)`` (and ``take(indices)`` for pruning).
    reg_covar : ridge the Gaussian M-step adds to covariance diagonals.
    assignment : "soft" (EM) or "hard" (classification EM).
    weight_concentration : float or array of shape (k,), Dirichlet :math:`\alpha > 0`.
    component_prior : None, or a prior with ``m_step(components, stats, reg_covar)`` and
        ``log_density(components, reg_covar)`` (e.g. a normal-inverse-Wishart).
    prune_weight : components whose weight falls below it are dropped (0: never).
    fixed_weights : keep ``weights`` as they are (k-means holds them equal).
    """

    weights: np.ndarray
    components: Any
    reg_covar: float = 0.0
    assignment: str = "soft"
    weight_concentration: Any = 1.0
    component_prior: Any = None
    prune_weight: float = 0.0
    fixed_weights: bool = False

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
        if self.assignment == "hard":
            log_joint = self.log_joint(x)
            best = log_joint.argmax(axis=1)  # (n,)
            log_norm = log_joint[np.arange(x.shape[0]), best]
            resp = np.zeros_like(log_joint)
            resp[np.arange(x.shape[0]), best] = 1.0
        else:
            fused = self._fused_e_step(x, sample_weight)
            if fused is not None:
                return fused
            log_resp, log_norm = self.log_resp(x)
            resp = np.exp(log_resp)  # (n, k)
        if sample_weight is not None:
            resp *= sample_weight[:, None]
            loglik = float(sample_weight @ log_norm)
        else:
            loglik = float(log_norm.sum())
        stats = MixtureStats(resp.sum(axis=0), self.components.suff_stats(x, resp))
        return stats, loglik

    def _fused_e_step(self, x: np.ndarray, sample_weight: np.ndarray | None):
        """The components' one-pass E-step (backend.kernels) where they offer one, else None."""
        fused = getattr(self.components, "fused_e_step", None)
        if fused is None:
            return None
        with np.errstate(divide="ignore"):
            log_weights = np.log(self.weights)
        out = fused(x, log_weights, sample_weight)
        if out is None:
            return None
        stats, loglik = out
        return MixtureStats(stats.weight, stats), loglik

    @staticmethod
    def e_step_many(models: list[Mixture], x: np.ndarray, sample_weight: np.ndarray | None):
        """``e_step`` of several soft mixtures in one fused pass (batched restarts), or None."""
        first = models[0].components
        many = getattr(type(first), "fused_e_step_many", None)
        if many is None or any(
            type(m) is not Mixture
            or m.assignment == "hard"
            or type(m.components) is not type(first)
            for m in models
        ):
            return None
        with np.errstate(divide="ignore"):
            log_weights = [np.log(m.weights) for m in models]
        out = many([m.components for m in models], log_weights, x, sample_weight)
        if out is None:
            return None
        return [(MixtureStats(stats.weight, stats), loglik) for stats, loglik in out]

    def to_vector(self) -> np.ndarray | None:
        """Unconstrained parameters for extrapolation (SQUAREM): log-weights, then components.

        None where extrapolation has no meaning here (hard assignments, or components without
        a vector form).
        """
        if self.assignment == "hard" or not hasattr(self.components, "to_vector"):
            return None
        parts = [self.components.to_vector()]
        if not self.fixed_weights:
            tiny = np.finfo(float).tiny
            parts.insert(0, np.log(np.maximum(self.weights, tiny)))
        return np.concatenate(parts)

    def from_vector(self, vector: np.ndarray) -> Mixture:
        """The mixture at ``to_vector``'s layout (weights by softmax); LinAlgError if invalid."""
        k = self.n_components
        weights = self.weights
        if not self.fixed_weights:
            logits = vector[:k] - vector[:k].max()
            weights = np.exp(logits) / np.exp(logits).sum()
            vector = vector[k:]
        return replace(self, weights=weights, components=self.components.from_vector(vector))

    def m_step(self, stats: MixtureStats) -> Mixture:
        if self.fixed_weights:
            weights = self.weights
        else:
            counts = np.maximum(stats.resp_sum + (self._alpha() - 1.0), 0.0)
            weights = counts / counts.sum()
        if self.component_prior is None:
            components = self.components.m_step(stats.components, self.reg_covar)
        else:
            components = self.component_prior.m_step(
                self.components, stats.components, self.reg_covar
            )
        # The M-step may have had to raise the ridge to keep a collapsed component non-singular.
        reg_covar = max(self.reg_covar, getattr(components, "ridge", 0.0))
        keep = weights >= self.prune_weight
        if np.any(self._alpha() < 1.0):
            keep &= weights > 0
        if keep.all():
            return replace(self, weights=weights, components=components, reg_covar=reg_covar)
        keep = np.flatnonzero(keep) if keep.any() else np.array([np.argmax(weights)])
        return replace(
            self,
            weights=weights[keep] / weights[keep].sum(),
            components=components.take(keep),
            reg_covar=reg_covar,
            weight_concentration=self._alpha()[keep],
        )

    def _alpha(self) -> np.ndarray:
        alpha = np.asarray(self.weight_concentration, dtype=float)
        return np.broadcast_to(alpha, self.weights.shape)

    def log_prior(self) -> float:
        """Log prior density (up to a constant): weights, then components (and the ridge)."""
        alpha = self._alpha()
        out = 0.0
        if np.any(alpha != 1.0) and not self.fixed_weights:
            out += float(np.sum((alpha - 1.0) * np.log(self.weights)))
        if self.component_prior is None:
            return out + self.components.log_prior(self.reg_covar)
        return out + self.component_prior.log_density(self.components, self.reg_covar)
