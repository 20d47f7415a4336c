"""Diagonal covariance: independent features, variances per component (mclust's VVI)."""

from __future__ import annotations

import numpy as np

from emkit.backend.linalg import require_positive, scaled_distances
from emkit.backend.namespace import centred, is_device_array, namespace_of
from emkit.distributions.gaussian.base import GaussianComponents
from emkit.distributions.gaussian.stats import GaussianStats


class DiagGaussian(GaussianComponents):
    name = "diag"
    alias = "VVI"
    diagonal_stats = True
    scale_requirement = "a positive diagonal"

    @classmethod
    def scale_faults(cls, scale: np.ndarray) -> np.ndarray | None:
        faults = np.flatnonzero(~(np.diag(scale) > 0))
        return faults if faults.size else None

    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        return k * d

    @staticmethod
    def parameter_shape(k: int, d: int) -> tuple[int, ...]:
        return (k, d)

    @classmethod
    def from_precisions(cls, means: np.ndarray, precisions: np.ndarray) -> DiagGaussian:
        return cls.from_covariances(means, 1.0 / precisions)

    @classmethod
    def from_covariances(cls, means: np.ndarray, covariances: np.ndarray) -> DiagGaussian:
        return cls(means, covariances, 1.0 / np.sqrt(require_positive(covariances)))

    @classmethod
    def niw_power(cls, dof: float, d: int, k: int, mean_term: float) -> np.ndarray:
        # An inverse-gamma IG(dof/2, Lambda_jj/2) on each variance: a power per feature.
        return np.full(k, dof + 2.0 + mean_term)

    @classmethod
    def mclust_scale(cls, cov: np.ndarray, k: int) -> np.ndarray:
        # mclust's one scalar for the axis-aligned models: the mean variance, on every feature.
        d = cov.shape[0]
        return np.trace(cov) / d * np.eye(d) / k ** (2.0 / d)

    @classmethod
    def niw_covariances(cls, numerators: np.ndarray, m: np.ndarray) -> np.ndarray:
        return numerators / m[:, None]

    @classmethod
    def _covariances_from_stats(cls, stats: GaussianStats, reg: float) -> np.ndarray:
        return stats.covariance(reg)

    def variances(self) -> np.ndarray:
        """Per-component, per-feature variances, shape (k, d)."""
        return self.covariances

    def sample(
        self, counts: np.ndarray, rng: np.random.Generator, n_features: int | None = None
    ) -> np.ndarray:
        """Draw ``counts[k]`` rows from component k, stacked in component order: the mean plus
        standard normals times the standard deviations, as scikit-learn draws diagonal and
        spherical components (the same generator gives its rows)."""
        scales = np.broadcast_to(np.sqrt(self.variances()), self.means.shape)
        blocks = [
            self.means[k] + rng.standard_normal((int(n), self.n_features)) * scales[k]
            for k, n in enumerate(counts)
        ]
        return np.vstack(blocks) if blocks else np.empty((0, self.n_features))

    def mahalanobis(self, x: np.ndarray) -> np.ndarray:
        if not is_device_array(x):
            # expanded from the means' median, differences where that could lose digits; a
            # spherical scale (k, 1) as it is
            return scaled_distances(x, self.means, self.variances() ** -0.5)
        xp = namespace_of(x)
        scales = np.broadcast_to(self.variances() ** -0.5, self.means.shape)  # (k, d)
        scales = xp.asarray(scales, like=x)
        means = xp.asarray(self.means, dtype=xp.float64, like=x)  # see centred
        # On a device, direct differences, not the expansion x^2/v - 2 x mu/v + mu^2/v,
        # which cancels catastrophically for narrow components far from the origin; a
        # component at a time over all the rows (few kernel launches).
        out = xp.empty((x.shape[0], self.n_components), like=x)
        for j in range(self.n_components):
            z = centred(x, means[j]) * scales[j]
            out[:, j] = xp.einsum("ij,ij->i", z, z)
        return out

    def precisions(self) -> np.ndarray:
        return np.broadcast_to(self.variances() ** -1.0, self.means.shape)

    def _covariance_vector(self) -> np.ndarray:
        return np.log(self.covariances).ravel()

    @classmethod
    def _covariances_from_vector(cls, vector: np.ndarray, k: int, d: int) -> np.ndarray:
        return np.exp(vector).reshape(k, d)

    def trace_precision(self) -> float:
        return float(np.sum(np.broadcast_to(self.precisions_cholesky**2, self.means.shape)))

    def log_det_precision_cholesky(self) -> np.ndarray:
        return np.log(self.precisions_cholesky).sum(axis=1)

    def full_covariances(self) -> np.ndarray:
        var = np.broadcast_to(np.atleast_2d(self.variances()), self.means.shape)
        return np.einsum("kd,de->kde", var, np.eye(self.n_features))

    @staticmethod
    def spectra(covariances: np.ndarray, k: int, variances: np.ndarray) -> np.ndarray:
        # Covariances a solver could not find (not finite; Constrained) count as singular.
        finite = np.isfinite(covariances).all(axis=-1, keepdims=True)
        return np.broadcast_to(
            np.where(finite, covariances / variances, 0.0), (k, variances.shape[0])
        )
