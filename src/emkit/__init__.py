"""emkit: maximum likelihood, MAP and Expectation-Maximization on one engine.

Estimators (scikit-learn's API): :class:`GaussianMixture` (mclust's 14 covariance models),
:class:`MixtureModel` (mixtures of any families: :class:`Normal`, :class:`Poisson`, ...),
:class:`ZeroInflatedPoisson`, :class:`MixtureOfRegressions`, :class:`GaussianImputer`,
:class:`GenerativeClassifier`, :class:`KMeans` and :class:`BayesianMixture`;
:func:`select_mixture` chooses a Gaussian mixture as mclust's ``Mclust`` does, and
:func:`load` reads a saved model. :mod:`emkit.mle` gives maximum-likelihood estimates with
standard errors, :mod:`emkit.bayes` conjugate posteriors. ``emkit --help`` lists the commands.

Examples
--------
>>> import numpy as np
>>> import emkit
>>> X = np.random.default_rng(0).normal([[0, 0]] * 100 + [[5, 5]] * 100)
>>> emkit.GaussianMixture(2, random_state=0).fit(X).means_.round(1)
array([[ 4.9,  4.9],
       [-0.1,  0.1]])
"""

# The public names are imported when first used (PEP 562), so that ``import emkit`` and the
# ``emkit`` command's ``--help`` do not pay for SciPy, scikit-learn and pandas up front. A new
# public name goes into ``_LAZY`` (and ``__all__``), not into an eager import.

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from emkit.exceptions import (
    CheckpointError,
    DataError,
    DegenerateFitWarning,
    LocalMaximumWarning,
    ModelFileError,
    MonotonicityWarning,
    PrunedWarning,
    ScaleWarning,
)

__version__ = "0.1.0"

# public name -> the module that defines it
_LAZY = {
    **dict.fromkeys(
        [
            "BetaPrior",
            "DirichletPrior",
            "GammaPrior",
            "InverseGammaPrior",
            "NormalInverseGamma",
            "NormalInverseWishart",
        ],
        "emkit.distributions.priors",
    ),
    **dict.fromkeys(["SemiConjugateNormal", "UniformSDNormal"], "emkit.bayes.priors"),
    **dict.fromkeys(
        [
            "Bernoulli",
            "Categorical",
            "Exponential",
            "Gamma",
            "LinearGaussian",
            "Normal",
            "PointMass",
            "Poisson",
        ],
        "emkit.distributions.registry",
    ),
    **dict.fromkeys(
        [
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
        ],
        "emkit.estimators",
    ),
    **dict.fromkeys(["BootstrapResult", "bootstrap"], "emkit.resampling"),
}
_SUBMODULES = ("bayes", "mle")

if TYPE_CHECKING:
    from emkit import bayes, mle
    from emkit.bayes.priors import SemiConjugateNormal, UniformSDNormal
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
        BayesianMixture,
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
    from emkit.resampling import BootstrapResult, bootstrap


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"emkit.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'emkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    # The public names and the module's own dunders; not the helpers this file imports.
    return sorted({*__all__, *_SUBMODULES, *(n for n in globals() if n.startswith("__"))})


__all__ = [
    "BayesianMixture",
    "BootstrapResult",
    "SemiConjugateNormal",
    "UniformSDNormal",
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
    "CheckpointError",
    "DataError",
    "ModelFileError",
    "DegenerateFitWarning",
    "LocalMaximumWarning",
    "ScaleWarning",
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
    "PrunedWarning",
    "bootstrap",
    "load",
    "select_mixture",
]
