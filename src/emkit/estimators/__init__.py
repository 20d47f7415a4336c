"""scikit-learn style estimators over the EM engine."""

from emkit.estimators.bayesian_mixture import BayesianMixture
from emkit.estimators.gaussian_mixture import GaussianMixture
from emkit.estimators.generative_classifier import GenerativeClassifier
from emkit.estimators.imputer import GaussianImputer
from emkit.estimators.kmeans import KMeans
from emkit.estimators.mixture_model import MixtureModel
from emkit.estimators.persist import load
from emkit.estimators.regression_mixture import MixtureOfRegressions
from emkit.estimators.selection import MixtureSelection, select_mixture
from emkit.estimators.zero_inflated import ZeroInflatedPoisson

__all__ = [
    "BayesianMixture",
    "GaussianImputer",
    "GaussianMixture",
    "GenerativeClassifier",
    "KMeans",
    "MixtureModel",
    "MixtureOfRegressions",
    "MixtureSelection",
    "ZeroInflatedPoisson",
    "load",
    "select_mixture",
]
