"""The multivariate Gaussian family, one class per covariance structure, behind a registry."""

from emkit.distributions.gaussian.base import GaussianComponents
from emkit.distributions.gaussian.diag import DiagGaussian
from emkit.distributions.gaussian.full import FullGaussian
from emkit.distributions.gaussian.spherical import SphericalGaussian
from emkit.distributions.gaussian.stats import GaussianStats
from emkit.distributions.gaussian.tied import TiedGaussian

COVARIANCES: dict[str, type[GaussianComponents]] = {
    cls.name: cls for cls in (FullGaussian, TiedGaussian, DiagGaussian, SphericalGaussian)
}
ALIASES: dict[str, str] = {cls.alias: cls.name for cls in COVARIANCES.values()}


def covariance_structure(name: str) -> type[GaussianComponents]:
    """The class for ``name``: one of full, tied, diag, spherical or mclust's VVV, EEE, VVI, VII."""
    key = ALIASES.get(name, name)
    if key not in COVARIANCES:
        choices = ", ".join(list(COVARIANCES) + list(ALIASES))
        raise ValueError(f"covariance_type must be one of {choices}; got {name!r}")
    return COVARIANCES[key]


__all__ = [
    "ALIASES",
    "COVARIANCES",
    "DiagGaussian",
    "FullGaussian",
    "GaussianComponents",
    "GaussianStats",
    "SphericalGaussian",
    "TiedGaussian",
    "covariance_structure",
]
