"""emkit: maximum likelihood, MAP and Expectation-Maximization on one engine."""

from emkit import bayes, mle
from emkit.estimators import (
    GaussianImputer,
    GaussianMixture,
    GenerativeClassifier,
    MixtureSelection,
    load,
    select_mixture,
)
from emkit.exceptions import DataError, DegenerateFitWarning, MonotonicityWarning

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "DegenerateFitWarning",
    "GaussianImputer",
    "GaussianMixture",
    "GenerativeClassifier",
    "MixtureSelection",
    "bayes",
    "mle",
    "MonotonicityWarning",
    "load",
    "select_mixture",
]
