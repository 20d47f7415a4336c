"""Maximum likelihood estimates with standard errors and Wald intervals.

Each function returns an :class:`Estimate`: ``params``, ``stderr``, ``cov``, ``loglik``, ``n``,
``conf_int(level)``, ``summary()`` and ``transform(g, name)`` (invariance and the delta method).

>>> from emkit import mle
>>> est = mle.poisson([5, 0, 1, 1, 0, 3, 2, 3, 4, 1])
>>> est.params["rate"], round(est.stderr["rate"] ** 2, 12)
(2.0, 0.2)
"""

from emkit.mle.closed_form import (
    bernoulli,
    binomial,
    categorical,
    exponential,
    gamma,
    multivariate_normal,
    normal,
    poisson,
)
from emkit.mle.estimate import (
    ConditionWarning,
    Estimate,
    HessianWarning,
    OptimizationWarning,
    RegressionEstimate,
)
from emkit.mle.linear import linear_regression
from emkit.mle.nonlinear import nonlinear_regression
from emkit.mle.numerical import numerical

__all__ = [
    "ConditionWarning",
    "Estimate",
    "HessianWarning",
    "OptimizationWarning",
    "bernoulli",
    "binomial",
    "categorical",
    "exponential",
    "gamma",
    "linear_regression",
    "multivariate_normal",
    "nonlinear_regression",
    "normal",
    "numerical",
    "poisson",
    "RegressionEstimate",
]
