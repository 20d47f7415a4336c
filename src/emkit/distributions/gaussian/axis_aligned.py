"""mclust's axis-aligned constrained structures: EII, EEI, VEI, EVI.

Each is a diagonal layout (EII spherical, (k,); the others (k, d)) whose M-step is one of
:mod:`~emkit.distributions.gaussian.eigen`'s solvers (see :class:`Constrained`).
"""

from __future__ import annotations

import numpy as np

from emkit.distributions.gaussian import eigen
from emkit.distributions.gaussian.base import shape_spectra
from emkit.distributions.gaussian.constrained import Constrained
from emkit.distributions.gaussian.diag import DiagGaussian
from emkit.distributions.gaussian.spherical import SphericalGaussian


class EIIGaussian(Constrained, SphericalGaussian):
    """Equal spherical covariances, sigma^2 I (mclust's EII; "E" in one dimension)."""

    name = "EII"
    alias = "EII"
    solver = staticmethod(eigen.eii)
    counts_per_feature = True

    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        return 1

    @classmethod
    def niw_power(cls, dof: float, d: int, k: int, mean_term: float) -> np.ndarray:
        # One inverse-gamma on the shared sigma^2, a normal prior on each mean.
        return np.full(k, ((dof + 2.0) / d + k * mean_term) / k)

    @classmethod
    def niw_scale_weights(cls, k: int) -> np.ndarray:
        return np.full(k, 1.0 / k)

    @classmethod
    def mclust_scale(cls, cov: np.ndarray, k: int) -> np.ndarray:
        # mclust's EM for EII leaves the scale out (its Fortran meeiip), in more than one
        # dimension: its one-component fit (mnxiip) and its one-dimensional E (me1ep) keep it.
        if k > 1 and cov.shape[0] > 1:
            return np.zeros_like(cov)
        return super().mclust_scale(cov, k)


class EEIGaussian(Constrained, DiagGaussian):
    """One diagonal covariance shared by the components (mclust's EEI)."""

    name = "EEI"
    alias = "EEI"
    solver = staticmethod(eigen.eei)

    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        return d

    @classmethod
    def niw_power(cls, dof: float, d: int, k: int, mean_term: float) -> np.ndarray:
        if k == 1:
            return super().niw_power(dof, d, k, mean_term)
        # mclust's meeeip: dof + 1, and the means' prior counted once.
        return np.full(k, (dof + 1.0 + mean_term) / k)

    @classmethod
    def niw_scale_weights(cls, k: int) -> np.ndarray:
        return np.full(k, 1.0 / k)


class VEIGaussian(Constrained, DiagGaussian):
    """Volumes per component, one axis-aligned shape (mclust's VEI; iterative M-step)."""

    name = "VEI"
    alias = "VEI"
    solver = staticmethod(eigen.vei)
    iterative = True

    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        return k + d - 1

    @classmethod
    def niw_power(cls, dof: float, d: int, k: int, mean_term: float) -> np.ndarray:
        if k == 1:
            return super().niw_power(dof, d, k, mean_term)
        # mclust's meveip: an inverse-gamma's power on each volume (log|Sigma_k| = d log lambda_k).
        return np.full(k, (dof + 2.0 + mean_term) / d)


class EVIGaussian(Constrained, DiagGaussian):
    """Equal volumes, axis-aligned shapes per component (mclust's EVI)."""

    name = "EVI"
    alias = "EVI"
    solver = staticmethod(eigen.evi)

    @staticmethod
    def spectra(covariances: np.ndarray, k: int, variances: np.ndarray) -> np.ndarray:
        return shape_spectra(DiagGaussian.spectra(covariances, k, variances))

    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        return 1 + k * (d - 1)

    @classmethod
    def niw_power(cls, dof: float, d: int, k: int, mean_term: float) -> np.ndarray:
        if k == 1:
            return super().niw_power(dof, d, k, mean_term)
        # mclust's meevip: on the shared volume, dof + 1 and the means' prior counted once.
        return np.full(k, (dof + 1.0 + mean_term) / k)
