"""Spherical covariance: one variance per component (mclust's VII)."""

from __future__ import annotations

import numpy as np

from emkit.backend.linalg import require_positive
from emkit.distributions.gaussian.diag import DiagGaussian
from emkit.distributions.gaussian.stats import GaussianStats


class SphericalGaussian(DiagGaussian):
    name = "spherical"
    alias = "VII"
    scale_requirement = "a positive trace"

    @classmethod
    def scale_faults(cls, scale: np.ndarray) -> np.ndarray | None:
        return None if np.trace(scale) > 0 else np.arange(scale.shape[0])

    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        return k

    @staticmethod
    def parameter_shape(k: int, d: int) -> tuple[int, ...]:
        return (k,)

    @classmethod
    def from_covariances(cls, means: np.ndarray, covariances: np.ndarray) -> SphericalGaussian:
        return cls(means, covariances, 1.0 / np.sqrt(require_positive(covariances)))

    @classmethod
    def niw_power(cls, dof: float, d: int, k: int, mean_term: float) -> np.ndarray:
        # IG(dof/2, tr(Lambda)/2) on each sigma^2, and log|Sigma| = d log sigma^2.
        return np.full(k, (dof + 2.0) / d + mean_term)

    @classmethod
    def mclust_scale(cls, cov: np.ndarray, k: int) -> np.ndarray:
        # mclust adds its scalar, the mean variance, once to each component's total scatter:
        # the scale whose trace it is.
        d = cov.shape[0]
        return np.trace(cov) / d**2 * np.eye(d) / k ** (2.0 / d)

    @classmethod
    def niw_covariances(cls, numerators: np.ndarray, m: np.ndarray) -> np.ndarray:
        d = numerators.shape[1]
        return numerators.sum(axis=1) / (d * m)

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
