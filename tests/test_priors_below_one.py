"""Conjugate priors with shapes below 1: valid for sampling, checked for a mode where MAP needs one.

Gamma, beta and Dirichlet shapes take any value scipy.stats takes (> 0): Jeffreys'
Beta(0.5, 0.5) serves posterior sampling, whose 1-component posterior is the conjugate one
written out here (scipy's distributions for the moments), the draws' mean and sd within 4
Monte Carlo standard errors (batch means). MAP fits need the posterior's mode: where the data
lift each shape above 1 the fit is the closed-form mode; where they do not, a ValueError.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from emkit import (
    Bernoulli,
    BetaPrior,
    Categorical,
    DirichletPrior,
    Exponential,
    Gamma,
    GammaPrior,
    MixtureModel,
    Poisson,
)
from emkit.distributions.bernoulli import BernoulliStats
from emkit.distributions.poisson import PoissonStats
from emkit.distributions.priors import prior_from_dict
from emkit.estimators.bayesian_mixture import BayesianMixture

Z = 4.0  # Monte Carlo standard errors allowed
BATCHES = 40


def mc_check(draws: np.ndarray, mean, sd) -> None:
    """Mean and sd of ``draws`` (S, ...) within Z batch-means standard errors of ``mean``/``sd``."""
    size = draws.shape[0] // BATCHES
    draws = draws[: BATCHES * size]
    centre, sample_sd = draws.mean(axis=0), draws.std(axis=0, ddof=1)
    group = (BATCHES, size) + draws.shape[1:]
    se_mean = draws.reshape(group).mean(axis=1).std(axis=0, ddof=1) / np.sqrt(BATCHES)
    sq = ((draws - centre) ** 2).reshape(group).mean(axis=1)
    se_sd = sq.std(axis=0, ddof=1) / np.sqrt(BATCHES) / (2 * sample_sd)
    np.testing.assert_array_less(np.abs(centre - mean), Z * se_mean)
    np.testing.assert_array_less(np.abs(sample_sd - sd), Z * se_sd)


def flat(samples: np.ndarray) -> np.ndarray:
    """(chains, draws, ...) -> (chains draws, ...)."""
    return samples.reshape((-1,) + samples.shape[2:])


@pytest.mark.parametrize(
    "kind, args",
    [(BetaPrior, (0.5, 0.5)), (GammaPrior, (0.5, 0.1)), (DirichletPrior, ([1.0, 2.0, 0.5],))],
    ids=["jeffreys-beta", "gamma", "dirichlet"],
)
def test_shapes_below_one_are_valid_priors(kind, args):
    prior = kind(*args)
    assert prior_from_dict(prior.to_dict()) == prior


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda v: BetaPrior(v, 1.0), "a"),
        (lambda v: BetaPrior(1.0, v), "b"),
        (lambda v: GammaPrior(v, 1.0), "shape"),
        (lambda v: DirichletPrior([1.0, v]), "concentration"),
    ],
)
@pytest.mark.parametrize("value", [0.0, -0.5, np.nan, np.inf])
def test_shapes_outside_the_distributions_domain_are_refused(make, name, value):
    with pytest.raises(ValueError, match=f"{name} must be finite and > 0"):
        make(value)


def test_one_component_beta_posterior_under_jeffreys_prior():
    rng = np.random.default_rng(0)
    x = (rng.random((30, 3)) < [0.05, 0.4, 0.9]).astype(float)
    prior = BetaPrior(0.5, 0.5)
    model = BayesianMixture([Bernoulli()], priors=prior, draws=3000, random_state=1).fit(x)
    ones = x.sum(axis=0)
    post = stats.beta(prior.a + ones, prior.b + x.shape[0] - ones)
    mc_check(flat(model.samples_["probs"])[:, 0], post.mean(), post.std())


def test_one_component_gamma_posterior_under_a_shape_below_one():
    rng = np.random.default_rng(1)
    x = rng.poisson([0.2, 3.0], (25, 2)).astype(float)
    prior = GammaPrior(0.5, 0.1)
    model = BayesianMixture([Poisson()], priors=prior, draws=3000, random_state=2).fit(x)
    post = stats.gamma(prior.shape + x.sum(axis=0), scale=1 / (prior.rate + x.shape[0]))
    mc_check(flat(model.samples_["rate"])[:, 0], post.mean(), post.std())


def test_one_component_dirichlet_posterior_with_a_concentration_below_one():
    rng = np.random.default_rng(2)
    x = rng.choice(3, (40, 1), p=[0.5, 0.45, 0.05]).astype(float)
    prior = DirichletPrior([1.0, 2.0, 0.5])
    model = BayesianMixture([Categorical(3)], priors=prior, draws=3000, random_state=3).fit(x)
    alpha = np.asarray(prior.concentration) + np.bincount(x[:, 0].astype(int), minlength=3)
    post = stats.beta(alpha, alpha.sum() - alpha)  # each probability's marginal
    mc_check(flat(model.samples_["probs"])[:, 0, 0], post.mean(), post.std())


def test_map_where_the_data_give_the_posterior_a_mode_is_the_closed_form_mode():
    x = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 1.0]])
    a, b = 0.5, 0.5
    fit = MixtureModel([Bernoulli()], priors=[BetaPrior(a, b)]).fit(x).components_[0]
    ones, n = x.sum(axis=0), x.shape[0]
    np.testing.assert_allclose(fit.probs, (a + ones - 1) / (a + b + n - 2), rtol=1e-12)

    counts = np.array([[0.0], [2.0], [1.0], [0.0], [4.0]])
    fit = MixtureModel([Poisson()], priors=[GammaPrior(0.5, 0.1)]).fit(counts).components_[0]
    np.testing.assert_allclose(fit.rate, (0.5 + counts.sum() - 1) / (0.1 + 5), rtol=1e-12)

    times = np.array([[0.5], [2.0], [1.5]])
    fit = MixtureModel([Exponential()], priors=[GammaPrior(0.5, 0.1)]).fit(times).components_[0]
    np.testing.assert_allclose(fit.rate, (0.5 + 3 - 1) / (0.1 + times.sum()), rtol=1e-12)

    codes = np.array([[0.0], [1.0], [2.0], [2.0], [1.0]])
    alpha = np.array([1.0, 2.0, 0.5])
    prior = DirichletPrior(alpha)
    fit = MixtureModel([Categorical(3)], priors=[prior]).fit(codes).components_[0]
    excess = alpha + np.bincount(codes[:, 0].astype(int), minlength=3) - 1
    np.testing.assert_allclose(fit.probs[0], excess / excess.sum(), rtol=1e-12)


@pytest.mark.parametrize(
    "family, kind, args, x, name",
    [
        # no ones in the first feature: Beta(0.5, 4.5) is unbounded at p = 0
        (Bernoulli(), BetaPrior, (0.5, 0.5), [[0.0, 1.0], [0.0, 0.0], [0.0, 1.0], [0.0, 1.0]], "a"),
        # all ones: Beta(4.5, 0.5) is unbounded at p = 1
        (Bernoulli(), BetaPrior, (0.5, 0.5), [[1.0], [1.0], [1.0], [1.0]], "b"),
        # no counts: Gamma(0.5, 3.1) is unbounded at rate 0
        (Poisson(), GammaPrior, (0.5, 0.1), [[0.0], [0.0], [0.0]], "shape"),
        # code 2 never seen: its concentration stays at 0.5
        (
            Categorical(3),
            DirichletPrior,
            ([1.0, 2.0, 0.5],),
            [[0.0], [1.0], [1.0]],
            "concentration",
        ),
        # the joint posterior of a Gamma's shape and rate has no mode for any data
        (Gamma(), GammaPrior, (0.5, 0.1), [[0.5], [2.0], [1.5], [3.0]], "shape"),
    ],
    ids=["beta-a", "beta-b", "poisson", "dirichlet", "gamma-family"],
)
def test_map_without_a_posterior_mode_is_refused(family, kind, args, x, name):
    prior = kind(*args)
    with pytest.raises(ValueError, match=f"{name} must be >= 1 so that .*posterior mode exists"):
        MixtureModel([family], priors=[prior]).fit(np.array(x))


def test_m_step_without_a_mode_raises_rather_than_returning_nan_or_inf():
    with pytest.raises(ValueError, match="posterior mode exists"):
        Poisson().from_stats(PoissonStats(0.0, np.array([0.0])), GammaPrior(0.5, 0.0))
    with pytest.raises(ValueError, match="posterior mode exists"):
        Bernoulli().from_stats(BernoulliStats(0.4, np.array([0.2])), BetaPrior(0.5, 2.0))
    # A shape of 1 or more has a mode whatever the data (the flat prior gives the MLE).
    fit = Bernoulli().from_stats(BernoulliStats(3.0, np.array([0.0])), BetaPrior(1.0, 1.0))
    np.testing.assert_array_equal(fit.probs, [0.0])
