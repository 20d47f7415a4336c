"""Every family implements the written-down Family protocol; ComponentList, the Gaussian
structures and the other batched components implement Components; the registry round-trips."""

import numpy as np
import pytest

from emkit.distributions.centroids import Centroids
from emkit.distributions.family import (
    Components,
    Family,
    FamilyKernel,
    FusedComponents,
    VectorComponents,
)
from emkit.distributions.gaussian import COVARIANCES, GaussianStats
from emkit.distributions.registry import FAMILIES, family_from_dict
from emkit.distributions.regularization import Regularization
from emkit.models.component_list import ComponentList
from emkit.models.regression_mixture import LinearRegressions


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_registered_family_is_a_family(name):
    family = FAMILIES[name]()
    assert isinstance(family, Family)
    assert family_from_dict(family.to_dict()).to_dict() == family.to_dict()


@pytest.mark.parametrize("name", list(COVARIANCES))
def test_gaussian_structures_are_components_with_one_from_stats(name):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    resp = rng.dirichlet([1.0, 1.0], size=60)
    structure = COVARIANCES[name]
    stats = GaussianStats.from_data(x, resp, structure.diagonal_stats)
    components = structure.from_stats(stats)
    assert isinstance(components, Components)
    # The optional members a mixture uses for its one-pass E-step and for SQUAREM.
    assert isinstance(components, FusedComponents)
    assert isinstance(components, VectorComponents)
    np.testing.assert_allclose(
        components.from_vector(components.to_vector()).covariances,
        components.covariances,
        rtol=1e-12,
    )
    # The same call as every family's: ML without a prior, MAP under a Regularization.
    ridged = components.from_stats(stats, Regularization(0.5))
    stepped = components.m_step(stats, Regularization(0.5))
    # Iterative M-steps (mclust's VEI, VEE, EVE, VVE, VEV) stop once their parameters move by
    # less than 1e-8 of their scale (mclust's inner tolerance is sqrt(eps)): started cold
    # (from_stats) or from the components (m_step), they agree to about that; the closed
    # forms agree to rounding.
    scale = np.abs(ridged.covariances).max()
    atol = 1e-6 * scale if getattr(structure, "iterative", False) else 0.0
    np.testing.assert_allclose(ridged.covariances, stepped.covariances, rtol=1e-12, atol=atol)
    assert components.degenerate(stats, Regularization(0.5)).shape == (2,)


def test_other_batched_components_are_components():
    families = tuple(FAMILIES[name]() for name in ("normal", "poisson"))
    assert isinstance(ComponentList(families), Components)
    # Kinds mixed freely, one kernel per kind: a one-pass E-step and a vector form (SQUAREM).
    assert isinstance(ComponentList(families), FusedComponents)
    assert isinstance(ComponentList(families), VectorComponents)
    fitted = ComponentList((FAMILIES["normal"]([0.0], [1.0]), FAMILIES["poisson"]([2.0])))
    for _, kernel in fitted.groups:
        assert isinstance(kernel, FamilyKernel)
    for components in (
        Centroids(np.zeros((2, 3))),
        LinearRegressions(np.zeros((2, 1)), np.zeros(2), np.ones(2)),
    ):
        for member in ("n_components", "ridge", "log_prob", "suff_stats", "m_step", "log_prior"):
            assert hasattr(components, member)
