"""The multivariate Gaussian family, one class per covariance structure, behind a registry."""

from emkit.distributions.gaussian.axis_aligned import (
    EEIGaussian,
    EIIGaussian,
    EVIGaussian,
    VEIGaussian,
)
from emkit.distributions.gaussian.base import GaussianComponents
from emkit.distributions.gaussian.diag import DiagGaussian
from emkit.distributions.gaussian.full import FullGaussian
from emkit.distributions.gaussian.oriented import (
    EEVGaussian,
    EVEGaussian,
    EVVGaussian,
    VEEGaussian,
    VEVGaussian,
    VVEGaussian,
)
from emkit.distributions.gaussian.spherical import SphericalGaussian
from emkit.distributions.gaussian.stats import GaussianStats
from emkit.distributions.gaussian.tied import TiedGaussian

COVARIANCES: dict[str, type[GaussianComponents]] = {
    cls.name: cls
    for cls in (
        FullGaussian,
        TiedGaussian,
        DiagGaussian,
        SphericalGaussian,
        EIIGaussian,
        EEIGaussian,
        VEIGaussian,
        EVIGaussian,
        VEEGaussian,
        EVEGaussian,
        VVEGaussian,
        EEVGaussian,
        VEVGaussian,
        EVVGaussian,
    )
}
# mclust's names of scikit-learn's four, and its one-dimensional E (equal) and V (variable).
ALIASES: dict[str, str] = {
    **{cls.alias: cls.name for cls in COVARIANCES.values() if cls.alias != cls.name},
    "E": "EII",
    "V": "spherical",
}
# mclust's names of its models for one-dimensional data only.
ONE_DIMENSIONAL = ("E", "V")
# The 14 models in mclust's order, by mclust's names.
MCLUST_MODELS = (
    "EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
    "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV",
)  # fmt: skip


def covariance_structure(name: str, n_features: int = 1) -> type[GaussianComponents]:
    """The class for ``name``: full, tied, diag, spherical, or one of mclust's 14 names
    (EII, VII, EEI, VEI, EVI, VVI, EEE, VEE, EVE, VVE, EEV, VEV, EVV, VVV; E and V in 1-D:
    refused for ``n_features`` above 1, as by mclust)."""
    key = ALIASES.get(name, name)
    if key not in COVARIANCES:
        choices = ", ".join(list(COVARIANCES) + list(ALIASES))
        raise ValueError(f"covariance_type must be one of {choices}; got {name!r}")
    if name in ONE_DIMENSIONAL and n_features > 1:
        raise ValueError(
            f"covariance_type {name!r} is one of mclust's one-dimensional models (E, V), and "
            f"the data have {n_features} columns: use EII (spherical, equal volume) or VII "
            "(spherical)"
        )
    return COVARIANCES[key]


def mclust_alias(name: str, n_features: int) -> str:
    """mclust's name of the structure ``name`` on data of ``n_features`` columns: its three
    letters, or in one dimension E (equal variances) or V (varying), from its volume's letter."""
    alias = covariance_structure(name).alias
    if n_features == 1:
        return alias[0]
    return alias


__all__ = [
    "ALIASES",
    "COVARIANCES",
    "MCLUST_MODELS",
    "DiagGaussian",
    "FullGaussian",
    "GaussianComponents",
    "GaussianStats",
    "SphericalGaussian",
    "TiedGaussian",
    "covariance_structure",
    "mclust_alias",
]
