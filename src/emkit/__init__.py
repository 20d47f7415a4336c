"""emkit: maximum likelihood, MAP and Expectation-Maximization on one engine."""

from emkit.estimators import GaussianMixture, load
from emkit.exceptions import DataError, DegenerateFitWarning, MonotonicityWarning

__version__ = "0.1.0"

__all__ = ["DataError", "DegenerateFitWarning", "GaussianMixture", "MonotonicityWarning", "load"]
