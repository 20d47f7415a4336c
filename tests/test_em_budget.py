"""A fit that ends on its ``max_iter`` budget (M-steps, counted inside SQUAREM's cycles) is
not converged: ``converged_`` is True only where the stop test passed, and a fit that ran out
warns once (docs/user_guide/large_data.rst)."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from emkit import GaussianMixture, MixtureModel, Normal

TOL = 1e-8  # the estimators' default


def _fit(estimator, X):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X)
    return estimator, [w for w in caught if issubclass(w.category, ConvergenceWarning)]


def _two_clusters() -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.vstack([rng.normal(0.0, 1.0, (300, 1)), rng.normal(2.5, 1.0, (300, 1))])


def test_budget_ending_inside_squarem_cycles_is_never_convergence():
    # Three components on two clusters: a slow fit (105 accelerated steps). Budgets of 153
    # to 209 M-steps end it at every phase of a cycle; before the fix five of them ended
    # on a plain step judged by its gain alone and reported converged_ up to 0.00018 (ten
    # times tol * n) below the maximum, with no warning.
    X = _two_clusters()
    reference, warned = _fit(GaussianMixture(3, random_state=0, max_iter=100_000), X)
    assert reference.converged_ and not warned
    ended_on_budget = 0
    for max_iter in range(153, 210, 7):
        fit, warned = _fit(GaussianMixture(3, random_state=0, max_iter=max_iter), X)
        gap = reference.log_likelihood_ - fit.log_likelihood_
        if fit.converged_:
            assert not warned
            # The documented stop: at most 3 * tol * n below the maximum.
            assert gap <= 3 * TOL * len(X), (max_iter, gap)
        else:
            ended_on_budget += 1
            assert len(warned) == 1
            assert f"max_iter={max_iter} M-steps ({fit.n_iter_} accepted" in str(warned[0].message)
    assert ended_on_budget >= 5


def test_mixture_model_that_ran_out_of_m_steps_warns():
    # 3,000 rows of one cluster, three Normal components: the fit needs about 4,400 M-steps
    # (1,532 accelerated steps). At max_iter=1000 it stopped after 353 steps, 0.0049 (160
    # times tol * n) below, and reported converged_ True.
    X = np.random.default_rng(4).normal(size=(3000, 1))
    reference, warned = _fit(MixtureModel([Normal()] * 3, random_state=0, max_iter=20_000), X)
    assert reference.converged_ and not warned
    for max_iter in (1000, 1100):
        fit, warned = _fit(MixtureModel([Normal()] * 3, random_state=0, max_iter=max_iter), X)
        assert not fit.converged_
        assert len(warned) == 1
        assert reference.log_likelihood_ - fit.log_likelihood_ > 3 * TOL * len(X)


@pytest.mark.parametrize("max_iter", [1000, 1500])
def test_gaussian_mixture_that_ran_out_of_m_steps_warns(max_iter):
    # The brief's second case: 10,000 rows of two clusters in 3-D, three components, about
    # 2,950 M-steps to converge; budgets of 1,000 and 1,500 reported converged_ True.
    rng = np.random.default_rng(4)
    rng.normal(size=(3000, 1))
    X = np.vstack([rng.normal(0, 1, (5000, 3)), rng.normal(3, 1, (5000, 3))])
    fit, warned = _fit(GaussianMixture(3, random_state=0, max_iter=max_iter), X)
    assert not fit.converged_
    assert len(warned) == 1
