"""scikit-learn style estimators over the EM engine."""

from emkit.estimators.gaussian_mixture import GaussianMixture
from emkit.estimators.persist import load

__all__ = ["GaussianMixture", "load"]
