"""emkit: maximum likelihood, MAP and Expectation-Maximization on one engine."""

from emkit.estimators import GaussianMixture, MixtureSelection, load, select_mixture
from emkit.estimators import GaussianImputer
from emkit import bayes, mle
from emkit.exceptions import DataError, DegenerateFitWarning, MonotonicityWarning

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "DegenerateFitWarning",
    "GaussianImputer",
    "GaussianMixture",
    "MixtureSelection",
    "bayes",
    "mle",
    "MonotonicityWarning",
    "load",
    "select_mixture",
]
