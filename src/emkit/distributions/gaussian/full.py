"""Full covariance: every component its own matrix (mclust's VVV)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from emkit.backend.linalg import cholesky, inverse_positive_definite, precision_cholesky
from emkit.backend.namespace import centred, namespace_of
from emkit.distributions.gaussian.base import (
    GaussianComponents,
    cholesky_from_log_vector,
    log_cholesky_vector,
)
from emkit.distributions.gaussian.stats import GaussianStats


class FullGaussian(GaussianComponents):
    name = "full"
    alias = "VVV"
    diagonal_stats = False

    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        return k * d * (d + 1) // 2

    @staticmethod
    def parameter_shape(k: int, d: int) -> tuple[int, ...]:
        return (k, d, d)

    @classmethod
    def from_precisions(cls, means: np.ndarray, precisions: np.ndarray) -> FullGaussian:
        return cls.from_covariances(means, inverse_positive_definite(precisions))

    @classmethod
    def from_covariances(cls, means: np.ndarray, covariances: np.ndarray) -> FullGaussian:
        return cls(means, covariances, precision_cholesky(cholesky(covariances)))

    @classmethod
    def niw_power(cls, dof: float, d: int, k: int, mean_term: float) -> np.ndarray:
        return np.full(k, dof + d + 1.0 + mean_term)  # an inverse-Wishart on each

    @classmethod
    def niw_covariances(cls, numerators: np.ndarray, m: np.ndarray) -> np.ndarray:
        return numerators / m[:, None, None]

    @classmethod
    def _covariances_from_stats(cls, stats: GaussianStats, reg: float) -> np.ndarray:
        return stats.covariance(reg)

    def mahalanobis(self, x: np.ndarray) -> np.ndarray:
        out = namespace_of(x).empty((x.shape[0], self.n_components), like=x)
        for j, distances in self._distances(x):
            out[:, j] = distances
        return out

    def discriminant(self, x: np.ndarray, log_weights: np.ndarray) -> np.ndarray:
        """:meth:`GaussianComponents.discriminant`, laid out component by component (the
        transpose of a (k, n) array), whose columns the posterior reads."""
        xp = namespace_of(x)
        out = xp.empty((self.n_components, x.shape[0]), like=x)
        for j, distances in self._distances(x):
            out[j] = distances
        out *= -0.5
        out += xp.asarray(self._discriminant_offset(log_weights)[:, None], like=out)
        return out.T

    def _distances(self, x: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        """Each component's index and the squared distances to it of rows ``x`` (n, d), (n,)."""
        xp = namespace_of(x)
        chol = xp.asarray(self.precisions_cholesky, like=x)  # (k, d, d)
        means = xp.asarray(self.means, dtype=xp.float64, like=x)  # (k, d), see centred
        # Direct differences, not x U - mu U, whose two large terms cancel to the distance
        # (all of it lost for data far from the origin: a column at 1e15).
        for j in range(self.n_components):
            y = centred(x, means[j]) @ chol[j]
            yield j, xp.einsum("ij,ij->i", y, y)

    def precisions(self) -> np.ndarray:
        u = self.precisions_cholesky
        return u @ np.swapaxes(u, 1, 2)

    def _covariance_vector(self) -> np.ndarray:
        return log_cholesky_vector(cholesky(self.covariances))

    @classmethod
    def _covariances_from_vector(cls, vector: np.ndarray, k: int, d: int) -> np.ndarray:
        chol = cholesky_from_log_vector(vector, k, d)
        return chol @ np.swapaxes(chol, 1, 2)

    def trace_precision(self) -> float:
        return float(np.sum(self.precisions_cholesky**2))

    def log_det_precision_cholesky(self) -> np.ndarray:
        return np.log(np.diagonal(self.precisions_cholesky, axis1=1, axis2=2)).sum(axis=1)

    def full_covariances(self) -> np.ndarray:
        return self.covariances

    @staticmethod
    def spectra(covariances: np.ndarray, k: int, variances: np.ndarray) -> np.ndarray:
        root = np.sqrt(variances)
        # Covariances a solver could not find (not finite; Constrained) count as singular.
        finite = np.isfinite(covariances).all(axis=(1, 2))[:, None, None]
        return np.linalg.eigvalsh(np.where(finite, covariances / np.outer(root, root), 0.0))
