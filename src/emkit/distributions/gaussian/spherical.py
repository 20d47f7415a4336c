"""Spherical covariance: one variance per component (mclust's VII)."""

from __future__ import annotations

import numpy as np

from emkit.backend.linalg import require_positive
from emkit.distributions.gaussian.diag import DiagGaussian
from emkit.distributions.gaussian.stats import GaussianStats


class SphericalGaussian(DiagGaussian):
    name = "spherical"
    alias = "VII"

    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        return k

    @staticmethod
    def parameter_shape(k: int, d: int) -> tuple[int, ...]:
        return (k,)

    @classmethod
    def from_covariances(cls, means: np.ndarray, covariances: np.ndarray) -> SphericalGaussian:
        return cls(means, covariances, 1.0 / np.sqrt(require_positive(covariances)))

    @staticmethod
    def niw_power(dof: float, d: int, k: int, mean_term: float) -> float:
        return dof + 2.0 + d * mean_term  # per unit of N d

    @staticmethod
    def niw_scale(scale: np.ndarray) -> np.ndarray:
        d = scale.shape[0]
        return np.trace(scale) / d * np.eye(d)

    @staticmethod
    def niw_covariances(
        numerators: np.ndarray, weight: np.ndarray, two_a: float, scale: np.ndarray
    ) -> np.ndarray:
        d = numerators.shape[1]
        return numerators.sum(axis=1) / (d * weight + two_a)

    @staticmethod
    def niw_log_density(logdet: np.ndarray, trace: np.ndarray, two_a: float, d: int) -> float:
        # log|Sigma| = d log sigma^2; the power two_a is per log sigma^2.
        return float(np.sum(-0.5 * two_a * logdet / d - 0.5 * trace))

    @classmethod
    def _covariances_from_stats(cls, stats: GaussianStats, reg: float) -> np.ndarray:
        return stats.covariance(reg).mean(axis=1)

    def variances(self) -> np.ndarray:
        return self.covariances[:, None]

    @classmethod
    def _covariances_from_vector(cls, vector: np.ndarray, k: int, d: int) -> np.ndarray:
        return np.exp(vector)

    def trace_precision(self) -> float:
        return float(self.n_features * np.sum(self.precisions_cholesky**2))

    def log_det_precision_cholesky(self) -> np.ndarray:
        return self.n_features * np.log(self.precisions_cholesky)

    @staticmethod
    def spectra(covariances: np.ndarray, k: int, variances: np.ndarray) -> np.ndarray:
        return covariances[:, None] / variances.max()
