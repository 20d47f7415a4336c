"""emkit: maximum likelihood, MAP and Expectation-Maximization on one engine."""

from emkit import bayes, mle
from emkit.distributions.priors import (
    BetaPrior,
    DirichletPrior,
    GammaPrior,
    InverseGammaPrior,
    NormalInverseGamma,
    NormalInverseWishart,
)
from emkit.distributions.registry import (
    Bernoulli,
    Categorical,
    Exponential,
    Gamma,
    LinearGaussian,
    Normal,
    PointMass,
    Poisson,
)
from emkit.estimators import (
    GaussianImputer,
    GaussianMixture,
    GenerativeClassifier,
    KMeans,
    MixtureModel,
    MixtureOfRegressions,
    MixtureSelection,
    ZeroInflatedPoisson,
    load,
    select_mixture,
)
from emkit.exceptions import DataError, DegenerateFitWarning, MonotonicityWarning

__version__ = "0.1.0"

__all__ = [
    "Bernoulli",
    "BetaPrior",
    "Categorical",
    "DirichletPrior",
    "Exponential",
    "Gamma",
    "GammaPrior",
    "InverseGammaPrior",
    "LinearGaussian",
    "Normal",
    "NormalInverseGamma",
    "NormalInverseWishart",
    "PointMass",
    "Poisson",
    "DataError",
    "DegenerateFitWarning",
    "GaussianImputer",
    "GaussianMixture",
    "GenerativeClassifier",
    "KMeans",
    "MixtureModel",
    "MixtureOfRegressions",
    "MixtureSelection",
    "ZeroInflatedPoisson",
    "bayes",
    "mle",
    "MonotonicityWarning",
    "load",
    "select_mixture",
]
