"""mclust's constrained structures with orientations: VEE, EVE, VVE, EEV, VEV, EVV.

Each keeps the full (k, d, d) layout of :class:`FullGaussian` (E-step, sampling, files) and
takes its M-step from one of :mod:`~emkit.distributions.gaussian.eigen`'s solvers (see
:class:`Constrained`).
"""

from __future__ import annotations

import numpy as np

from emkit.distributions.gaussian import eigen
from emkit.distributions.gaussian.base import shape_spectra
from emkit.distributions.gaussian.constrained import Constrained
from emkit.distributions.gaussian.full import FullGaussian
from emkit.distributions.gaussian.stats import GaussianStats


class VEEGaussian(Constrained, FullGaussian):
    """Volumes per component, one shape and orientation (mclust's VEE; iterative)."""

    name = "VEE"
    alias = "VEE"
    solver = staticmethod(eigen.vee)
    iterative = True

    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        return k + (d - 1) + d * (d - 1) // 2


class EVEGaussian(Constrained, FullGaussian):
    """Equal volumes, shapes per component, one orientation (mclust's EVE; iterative)."""

    name = "EVE"
    alias = "EVE"
    solver = staticmethod(eigen.eve)
    iterative = True

    @staticmethod
    def spectra(covariances: np.ndarray, k: int, variances: np.ndarray) -> np.ndarray:
        return shape_spectra(FullGaussian.spectra(covariances, k, variances))

    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        return 1 + k * (d - 1) + d * (d - 1) // 2


class VVEGaussian(Constrained, FullGaussian):
    """Volumes and shapes per component, one orientation (mclust's VVE; iterative)."""

    name = "VVE"
    alias = "VVE"
    solver = staticmethod(eigen.vve)
    iterative = True

    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        return k * d + d * (d - 1) // 2


class EEVGaussian(Constrained, FullGaussian):
    """Equal volumes and shapes, orientations per component (mclust's EEV)."""

    name = "EEV"
    alias = "EEV"
    solver = staticmethod(eigen.eev)
    takes_own = True

    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        return d + k * d * (d - 1) // 2

    @classmethod
    def fused_stats_fall_short(cls, stats: GaussianStats) -> bool:
        """A held component of zero scatter (:func:`eigen.flat_components`) is oriented by
        what its responsibilities below rounding hold (1e-35 of a row: a scatter of 1e-35 of
        the data's), which the fused pass's rounding (1e-16 of the data's) hides."""
        weight = stats.weight
        pooled = np.linalg.eigvalsh(stats.exact_scatter().sum(axis=0))[::-1]
        pooled = pooled / max(float(weight.sum()), np.finfo(float).tiny)
        flat = eigen.flat_components(stats.scatter, weight, pooled)
        return bool(np.any(flat & (weight > 0)))

    @classmethod
    def niw_power(cls, dof: float, d: int, k: int, mean_term: float) -> np.ndarray:
        # mclust's meeevp: one inverse-Wishart's power on the shared volume and shape.
        return np.full(k, (dof + d + 1.0 + mean_term) / k)


class VEVGaussian(Constrained, FullGaussian):
    """Volumes per component, one shape, orientations per component (mclust's VEV)."""

    name = "VEV"
    alias = "VEV"
    solver = staticmethod(eigen.vev)
    iterative = True

    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        return k + (d - 1) + k * d * (d - 1) // 2

    @classmethod
    def niw_power(cls, dof: float, d: int, k: int, mean_term: float) -> np.ndarray:
        if k == 1:
            return super().niw_power(dof, d, k, mean_term)
        # mclust's mevevp adds the scale to each scatter and no power at all.
        return np.zeros(k)


class EVVGaussian(Constrained, FullGaussian):
    """Equal volumes, shapes and orientations per component (mclust's EVV)."""

    name = "EVV"
    alias = "EVV"
    solver = staticmethod(eigen.evv)

    @staticmethod
    def spectra(covariances: np.ndarray, k: int, variances: np.ndarray) -> np.ndarray:
        return shape_spectra(FullGaussian.spectra(covariances, k, variances))

    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        return 1 + k * (d * (d + 1) // 2 - 1)
