r"""Conjugate posteriors you can query: mean, sd, credible intervals, MAP, draws, predictive.

Each function updates a conjugate prior with data and returns a :class:`Posterior` (one
parameter, a float or an array) or a :class:`JointPosterior` (a mean and a variance together).
Distributions are scipy.stats frozen objects underneath.

Improper limits of the priors are allowed wherever the posterior stays proper; the flat prior's
MAP is the MLE, so as a prior flattens every MAP here tends to the corresponding
:mod:`emkit.mle` estimate.
"""

from emkit.bayes.multivariate import (
    RidgePosterior,
    dirichlet_categorical,
    normal_inverse_wishart,
    ridge,
)
from emkit.bayes.posterior import JointPosterior, Posterior, Predictive
from emkit.bayes.univariate import (
    beta_bernoulli,
    gamma_poisson,
    normal_inverse_gamma,
    normal_known_variance,
)

__all__ = [
    "JointPosterior",
    "Posterior",
    "Predictive",
    "RidgePosterior",
    "beta_bernoulli",
    "dirichlet_categorical",
    "gamma_poisson",
    "normal_inverse_gamma",
    "normal_inverse_wishart",
    "normal_known_variance",
    "ridge",
]
