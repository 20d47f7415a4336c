"""scikit-learn style estimators over the EM engine."""

from emkit.estimators.gaussian_mixture import GaussianMixture
from emkit.estimators.generative_classifier import GenerativeClassifier
from emkit.estimators.imputer import GaussianImputer
from emkit.estimators.persist import load
from emkit.estimators.selection import MixtureSelection, select_mixture

__all__ = [
    "GaussianImputer",
    "GaussianMixture",
    "GenerativeClassifier",
    "MixtureSelection",
    "load",
    "select_mixture",
]
