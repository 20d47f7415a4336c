"""Tied covariance: one matrix shared by all components (mclust's EEE)."""

from __future__ import annotations

import numpy as np

from emkit.backend.linalg import cholesky, inverse_positive_definite, precision_cholesky
from emkit.backend.namespace import centred, namespace_of
from emkit.distributions.gaussian.base import (
    GaussianComponents,
    cholesky_from_log_vector,
    log_cholesky_vector,
)
from emkit.distributions.gaussian.stats import GaussianStats
from emkit.distributions.regularization import Regularization


class TiedGaussian(GaussianComponents):
    name = "tied"
    alias = "EEE"
    diagonal_stats = False
    per_component = False

    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        return d * (d + 1) // 2

    @staticmethod
    def parameter_shape(k: int, d: int) -> tuple[int, ...]:
        return (d, d)

    @classmethod
    def from_precisions(cls, means: np.ndarray, precisions: np.ndarray) -> TiedGaussian:
        return cls.from_covariances(means, inverse_positive_definite(precisions[None])[0])

    @classmethod
    def from_covariances(cls, means: np.ndarray, covariances: np.ndarray) -> TiedGaussian:
        return cls(means, covariances, precision_cholesky(cholesky(covariances[None]))[0])

    @classmethod
    def niw_power(cls, dof: float, d: int, k: int, mean_term: float) -> np.ndarray:
        # One inverse-Wishart on the shared matrix, and a normal prior on each mean.
        return np.full(k, (dof + d + 1.0 + k * mean_term) / k)

    @classmethod
    def niw_scale_weights(cls, k: int) -> np.ndarray:
        return np.full(k, 1.0 / k)

    @classmethod
    def niw_covariances(cls, numerators: np.ndarray, m: np.ndarray) -> np.ndarray:
        return numerators.sum(axis=0) / m.sum()

    @classmethod
    def _covariances_from_stats(cls, stats: GaussianStats, reg: float) -> np.ndarray:
        total = np.array([max(stats.weight.sum(), np.finfo(float).tiny)])
        pooled = stats.exact_scatter().sum(axis=0)[None]  # (1, d, d)
        return Regularization(reg).covariance(pooled, total)[0]

    def mahalanobis(self, x: np.ndarray) -> np.ndarray:
        xp = namespace_of(x)
        # From the means' centre, so that x U and mu U do not cancel for data far from the
        # origin; x - centre is exact there (in float32, to one rounding: see centred), the
        # rest as accurate as near the origin.
        centre = self.means.mean(axis=0)  # (d,)
        u = xp.asarray(self.precisions_cholesky, like=x)
        y = centred(x, centre) @ u  # (n, d), shared by every component
        centres = xp.asarray((self.means - centre) @ self.precisions_cholesky, like=x)  # (k, d)
        out = xp.empty((x.shape[0], self.n_components), like=x)
        for j in range(self.n_components):
            z = y - centres[j]
            out[:, j] = xp.einsum("ij,ij->i", z, z)
        return out

    def discriminant(self, x: np.ndarray, log_weights: np.ndarray) -> np.ndarray:
        r"""Linear discriminant analysis: with :math:`y = (x - c)U` and :math:`m_k = (\mu_k -
        c)U` (``mahalanobis``'s), :math:`-\tfrac12\lVert y - m_k\rVert^2 = -\tfrac12
        \lVert y\rVert^2 + y m_k^\top - \tfrac12\lVert m_k\rVert^2`, whose first term no
        component owns: :math:`(x - c)\,U m^\top + \log\pi_k - \tfrac12\lVert
        m_k\rVert^2`, one product with the rows, shape (n, k), laid out component by
        component (the transpose of a (k, n) array), whose columns the posterior reads."""
        xp = namespace_of(x)
        centre = self.means.mean(axis=0)  # (d,), see mahalanobis
        u = self.precisions_cholesky
        centres = (self.means - centre) @ u  # (k, d)
        intercept = log_weights - 0.5 * np.einsum("kd,kd->k", centres, centres)  # (k,)
        out = xp.asarray(centres @ u.T, like=x) @ centred(x, centre).T  # (k, n)
        out += xp.asarray(intercept[:, None], like=out)
        return out.T

    def precisions(self) -> np.ndarray:
        u = self.precisions_cholesky
        return np.broadcast_to(u @ u.T, (self.n_components,) + u.shape)

    def _covariance_vector(self) -> np.ndarray:
        return log_cholesky_vector(cholesky(self.covariances[None]))

    @classmethod
    def _covariances_from_vector(cls, vector: np.ndarray, k: int, d: int) -> np.ndarray:
        chol = cholesky_from_log_vector(vector, 1, d)[0]
        return chol @ chol.T

    def trace_precision(self) -> float:
        return float(np.sum(self.precisions_cholesky**2))

    def log_det_precision_cholesky(self) -> np.ndarray:
        value = np.log(np.diagonal(self.precisions_cholesky)).sum()
        return np.full(self.n_components, value)

    def full_covariances(self) -> np.ndarray:
        return np.broadcast_to(self.covariances, (self.n_components,) + self.covariances.shape)

    @staticmethod
    def spectra(covariances: np.ndarray, k: int, variances: np.ndarray) -> np.ndarray:
        root = np.sqrt(variances)
        values = np.linalg.eigvalsh(covariances / np.outer(root, root))
        return np.broadcast_to(values, (k, covariances.shape[0]))
