"""mclust's axis-aligned constrained structures: EII, EEI, VEI, EVI.

Each is a diagonal layout (EII spherical, (k,); the others (k, d)) whose M-step is one of
:mod:`~emkit.distributions.gaussian.eigen`'s solvers (see :class:`Constrained`).
"""

from __future__ import annotations

from emkit.distributions.gaussian import eigen
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


class EEIGaussian(Constrained, DiagGaussian):
    """One diagonal covariance shared by the components (mclust's EEI)."""

    name = "EEI"
    alias = "EEI"
    solver = staticmethod(eigen.eei)

    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        return d


class VEIGaussian(Constrained, DiagGaussian):
    """Volumes per component, one axis-aligned shape (mclust's VEI; iterative M-step)."""

    name = "VEI"
    alias = "VEI"
    solver = staticmethod(eigen.vei)
    iterative = True

    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        return k + d - 1


class EVIGaussian(Constrained, DiagGaussian):
    """Equal volumes, axis-aligned shapes per component (mclust's EVI)."""

    name = "EVI"
    alias = "EVI"
    solver = staticmethod(eigen.evi)

    @staticmethod
    def n_covariance_parameters(k: int, d: int) -> int:
        return 1 + k * (d - 1)
