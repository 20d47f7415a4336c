r"""Gaussian class-conditional mixtures fitted to labelled and unlabelled rows together.

With labels :math:`z_i` on rows :math:`i \in L` and none on rows :math:`j \in U`, EM climbs

.. math::

    \ell(\theta) = \sum_{i \in L} w_i \log \pi_{z_i} p_{z_i}(x_i)
                 + \sum_{j \in U} w_j \log \sum_k \pi_k p_k(x_j)

(Nigam et al., 2000): labelled rows keep one-hot responsibilities, unlabelled rows get their
posteriors. Rows may lack values (NaN); their densities are then the marginals over the
observed coordinates, as in :mod:`emkit.models.missing`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.special import logsumexp

from emkit.backend.chunks import DEFAULT_CHUNK_ROWS
from emkit.models.missing import complete
from emkit.models.mixture import MixtureStats

UNLABELLED = -1


@dataclass(frozen=True)
class LabelledChunks:
    """Row blocks of features and component labels, with optional sample weights.

    Iterating yields ``((x, labels), w)``: ``x`` of shape (m, d), ``labels`` int of shape (m,)
    holding a component index or ``UNLABELLED`` (-1), and ``w`` of shape (m,) or None.
    """

    x: np.ndarray
    labels: np.ndarray
    sample_weight: np.ndarray | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS

    def __iter__(self) -> Iterator[tuple[tuple[np.ndarray, np.ndarray], np.ndarray | None]]:
        n = self.x.shape[0]
        for start in range(0, n, self.chunk_rows):
            stop = min(start + self.chunk_rows, n)
            w = None if self.sample_weight is None else self.sample_weight[start:stop]
            x = np.asarray(self.x[start:stop], dtype=np.float64)
            yield (x, self.labels[start:stop]), w

    @property
    def total_weight(self) -> float:
        if self.sample_weight is None:
            return float(self.x.shape[0])
        return float(self.sample_weight.sum())


@dataclass(frozen=True, eq=False)
class SemiSupervisedMixture:
    """Mixture of Gaussian components whose labelled rows have fixed components; a value.

    Attributes
    ----------
    weights : array of shape (k,), class priors summing to 1.
    components : batched Gaussian components, one per class.
    reg_covar : ridge the M-step adds to covariance diagonals.
    fixed_weights : keep ``weights`` (given priors) instead of re-estimating them.
    """

    weights: np.ndarray
    components: Any
    reg_covar: float = 0.0
    fixed_weights: bool = False

    @property
    def n_components(self) -> int:
        return self.weights.shape[0]

    def log_joint(self, x: np.ndarray) -> np.ndarray:
        """log pi_k + log p_k(x_{n,o}) for rows ``x`` (n, d) that may hold NaN, shape (n, k)."""
        return self._log_joint(complete(self.components, x).log_prob)

    def _log_joint(self, log_prob: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return log_prob + np.log(self.weights)

    def e_step(
        self, data: tuple[np.ndarray, np.ndarray], sample_weight: np.ndarray | None = None
    ) -> tuple[MixtureStats, float]:
        """Statistics of one chunk ``(x, labels)`` and its contribution to the objective."""
        x, labels = data
        completion = complete(self.components, x)
        log_joint = self._log_joint(completion.log_prob)  # (n, k)
        log_norm = logsumexp(log_joint, axis=1)  # (n,)
        resp = np.exp(log_joint - log_norm[:, None])  # (n, k)
        labelled = np.flatnonzero(labels != UNLABELLED)
        resp[labelled] = 0.0
        resp[labelled, labels[labelled]] = 1.0
        per_row = log_norm
        per_row[labelled] = log_joint[labelled, labels[labelled]]
        if sample_weight is not None:
            resp *= sample_weight[:, None]
            loglik = float(sample_weight @ per_row)
        else:
            loglik = float(per_row.sum())
        return MixtureStats(resp.sum(axis=0), completion.suff_stats(resp)), loglik

    def m_step(self, stats: MixtureStats) -> SemiSupervisedMixture:
        weights = self.weights if self.fixed_weights else stats.resp_sum / stats.resp_sum.sum()
        components = self.components.m_step(stats.components, self.reg_covar)
        # The M-step may have raised the ridge to keep a collapsed component non-singular.
        reg_covar = max(self.reg_covar, getattr(components, "ridge", 0.0))
        return replace(self, weights=weights, components=components, reg_covar=reg_covar)

    def log_prior(self) -> float:
        """Log-density of the covariance ridge prior (0 when ``reg_covar`` is 0)."""
        return self.components.log_prior(self.reg_covar)
