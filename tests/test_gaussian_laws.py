"""The laws of STYLE.md for the Gaussian family: statistics add up, equivalent
parametrisations agree, log densities match scipy.stats."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from emkit.distributions.gaussian import COVARIANCES, GaussianStats, covariance_structure

TYPES = list(COVARIANCES)


def _random_components(name, k=3, d=2, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(k, d)) * 3
    a = rng.normal(size=(k, d, d))
    full = a @ np.swapaxes(a, 1, 2) + np.eye(d)
    diag = rng.uniform(0.5, 2.0, size=(k, d))
    structure = covariance_structure(name)
    covariances = {  # by layout, so that every registered structure is covered
        (k, d, d): full,
        (d, d): full[0],
        (k, d): diag,
        (k,): diag[:, 0],
    }[structure.parameter_shape(k, d)]
    return structure.from_covariances(means, covariances)


@settings(max_examples=40, deadline=None)
@given(
    split=st.integers(min_value=0, max_value=60),
    seed=st.integers(min_value=0, max_value=10_000),
    diagonal=st.booleans(),
)
def test_statistics_add_up_over_any_split(split, seed, diagonal):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, 3)) * rng.uniform(0.1, 100) + rng.normal(size=3) * 1000
    resp = rng.dirichlet(np.ones(4), size=60)
    whole = GaussianStats.from_data(x, resp, diagonal)
    parts = GaussianStats.from_data(x[:split], resp[:split], diagonal) + GaussianStats.from_data(
        x[split:], resp[split:], diagonal
    )
    zero = GaussianStats.zero(4, 3, diagonal)
    for merged in (parts, zero + whole, whole + zero):
        np.testing.assert_allclose(merged.weight, whole.weight, rtol=1e-12)
        np.testing.assert_allclose(merged.mean, whole.mean, rtol=1e-10, atol=1e-9)
        np.testing.assert_allclose(merged.scatter, whole.scatter, rtol=1e-8, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=10_000),
    diagonal=st.booleans(),
    weighted=st.booleans(),
)
def test_statistics_of_labelled_rows_are_those_of_one_hot_responsibilities(
    seed, diagonal, weighted
):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 40)), 4  # classes without rows, or of zero weight, too
    x = rng.normal(size=(n, 3)) * rng.uniform(0.1, 100) + rng.normal(size=3) * 1000
    labels = rng.integers(k - 1, size=n)
    w = rng.uniform(0.0, 3.0, size=n) * (labels != 1) if weighted else None
    onehot = np.eye(k)[labels] * (1.0 if w is None else w[:, None])
    want = GaussianStats.from_data(x, onehot, diagonal)
    got = GaussianStats.from_labels(x, labels, k, w, diagonal)
    np.testing.assert_allclose(got.weight, want.weight, rtol=1e-14)
    np.testing.assert_allclose(got.mean, want.mean, rtol=1e-14, atol=0)
    scale = np.abs(want.scatter).max(initial=0.0)
    np.testing.assert_allclose(got.scatter, want.scatter, rtol=1e-12, atol=1e-12 * scale)


def test_statistics_match_weighted_moments():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 3))
    resp = rng.dirichlet(np.ones(2), size=50)
    s = GaussianStats.from_data(x, resp, diagonal=False)
    for k in range(2):
        np.testing.assert_allclose(s.mean[k], np.average(x, axis=0, weights=resp[:, k]))
        cov = np.cov(x.T, aweights=resp[:, k], bias=True)
        np.testing.assert_allclose(s.scatter[k] / s.weight[k], cov, rtol=1e-10)


@pytest.mark.parametrize("name", TYPES)
def test_log_prob_matches_scipy(name):
    comps = _random_components(name)
    x = np.random.default_rng(2).normal(size=(20, 2)) * 3
    full = comps.full_covariances()
    expected = np.column_stack(
        [stats.multivariate_normal(comps.means[k], full[k]).logpdf(x) for k in range(3)]
    )
    np.testing.assert_allclose(comps.log_prob(x), expected, rtol=1e-10)


def test_equivalent_parametrisations_agree():
    x = np.random.default_rng(3).normal(size=(30, 2))
    diag = _random_components("diag")
    as_full = covariance_structure("full").from_covariances(diag.means, diag.full_covariances())
    np.testing.assert_allclose(as_full.log_prob(x), diag.log_prob(x), rtol=1e-12)
    sph = _random_components("spherical")
    as_diag = covariance_structure("diag").from_covariances(
        sph.means, np.repeat(sph.covariances[:, None], 2, axis=1)
    )
    np.testing.assert_allclose(as_diag.log_prob(x), sph.log_prob(x), rtol=1e-12)
    tied = _random_components("tied")
    as_full = covariance_structure("full").from_covariances(tied.means, tied.full_covariances())
    np.testing.assert_allclose(as_full.log_prob(x), tied.log_prob(x), rtol=1e-12)


def test_mclust_aliases():
    for alias, name in {"VVV": "full", "EEE": "tied", "VVI": "diag", "VII": "spherical"}.items():
        assert covariance_structure(alias) is covariance_structure(name)
    with pytest.raises(ValueError, match="covariance_type must be one of"):
        covariance_structure("VXV")
