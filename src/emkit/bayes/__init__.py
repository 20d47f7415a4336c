r"""Conjugate posteriors you can query: mean, sd, credible intervals, MAP, draws, predictive.

Each function updates a conjugate prior with data and returns a :class:`Posterior` (one
parameter, a float or an array) or a :class:`JointPosterior` (a mean and a variance together).
Distributions are scipy.stats frozen objects underneath.

Improper limits of the priors are allowed wherever the posterior stays proper; the flat prior's
MAP is the MLE, so as a prior flattens every MAP here tends to the corresponding
:mod:`emkit.mle` estimate. With no data (n = 0) the posterior is the prior: a proper prior is
returned as it is, an improper one is refused (the message names what makes it improper).

Posterior sampling of mixtures (:class:`~emkit.BayesianMixture`) draws on the same conjugate
updates: :mod:`emkit.bayes.gibbs` (the sampler), :mod:`emkit.bayes.conditionals` (each
family's full conditionals), :mod:`emkit.bayes.priors` (non-conjugate normal priors) and
:mod:`emkit.bayes.draws` (vectorised random draws).
"""

from emkit.bayes.multivariate import (
    RidgePosterior,
    dirichlet_categorical,
    normal_inverse_wishart,
    ridge,
)
from emkit.bayes.posterior import JointPosterior, Posterior, Predictive
from emkit.bayes.priors import SemiConjugateNormal, UniformSDNormal
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
    "SemiConjugateNormal",
    "UniformSDNormal",
    "beta_bernoulli",
    "dirichlet_categorical",
    "gamma_poisson",
    "normal_inverse_gamma",
    "normal_inverse_wishart",
    "normal_known_variance",
    "ridge",
]
