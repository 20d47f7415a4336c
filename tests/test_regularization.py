"""Regularisation is one value (the MAP ridge), and degeneracy is judged against the data's
scale, never against the ridge."""

import warnings

import numpy as np
import pytest

import emkit
from emkit.distributions.gaussian import COVARIANCES, GaussianStats
from emkit.distributions.regularization import Regularization
from emkit.exceptions import DegenerateFitWarning

TYPES = list(COVARIANCES)


def _blobs(seed=0):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(size=(500, 2)), rng.normal(size=(500, 2)) + 10.0])


@pytest.mark.parametrize("name", TYPES)
def test_a_large_ridge_on_separated_blobs_is_not_degenerate(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateFitWarning)
        model = emkit.GaussianMixture(2, covariance_type=name, reg_covar=2.0, random_state=0)
        model.fit(_blobs())
    assert not model.degenerate_
    assert not model.degenerate_components_.any()


def _verdicts(x, name, k, reg_covar=1e-6):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateFitWarning)
        model = emkit.GaussianMixture(k, covariance_type=name, reg_covar=reg_covar, random_state=0)
        model.fit(x)
    return model.degenerate_components_


@pytest.mark.parametrize("name", TYPES)
def test_rescaling_the_data_leaves_degeneracy_verdicts_unchanged(faithful, name):
    duplicated = np.vstack([faithful, np.repeat(faithful[:3], 50, axis=0)])
    constant = np.column_stack([faithful, np.full(len(faithful), 3.0)])
    for x, k in [(_blobs(), 2), (duplicated, 5), (constant, 2)]:
        verdicts = _verdicts(x, name, k)
        # The same ridge on data a million times wider: a negligible ridge, the same verdicts.
        np.testing.assert_array_equal(_verdicts(x * 1e6, name, k), verdicts)
        # The ridge rescaled with the data (the same fit in other units): the same verdicts.
        for factor in (1e6, 1e-6):
            scaled = _verdicts(x * factor, name, k, reg_covar=1e-6 * factor**2)
            np.testing.assert_array_equal(scaled, verdicts)


@pytest.mark.parametrize("name", TYPES)
def test_degenerate_uses_the_unregularised_covariance_against_the_data_scales(name):
    structure = COVARIANCES[name]
    x = _blobs()
    resp = np.zeros((x.shape[0], 2))
    resp[:500, 0] = resp[500:, 1] = 1.0
    stats = GaussianStats.from_data(x, resp, structure.diagonal_stats)
    for reg_covar in (0.0, 2.0, 1e6):
        components = structure.from_stats(stats, Regularization(reg_covar))
        assert not components.degenerate(stats, Regularization(reg_covar)).any()
    # The data's scales are those of all the rows, whichever component holds them.
    pooled = GaussianStats.from_data(x, np.ones((x.shape[0], 1)), structure.diagonal_stats)
    variances = stats.feature_variances()
    np.testing.assert_allclose(variances, pooled.feature_variances(), rtol=1e-12)
    np.testing.assert_allclose(variances, x.var(axis=0), rtol=1e-12)


def test_the_ridge_is_a_map_prior_everywhere():
    scatter, weight = np.array([[4.0, 1.0]]), np.array([2.0])
    np.testing.assert_allclose(Regularization(0.5).covariance(scatter, weight), [[2.25, 0.75]])
    stats = GaussianStats(weight, np.zeros((1, 2)), scatter)
    np.testing.assert_allclose(stats.covariance(0.5), [[2.25, 0.75]])


def test_a_large_ridge_fit_is_the_closed_form_map_of_each_blob():
    # The blobs are 10 standard deviations apart: responsibilities are one-hot to ~1e-20, so
    # EM's fixed point is each blob's own MAP estimate, mean and (S_k + cI) / N_k.
    x = _blobs()
    model = emkit.GaussianMixture(2, reg_covar=2.0, random_state=0).fit(x)
    order = np.argsort(model.means_[:, 0])
    for k, rows in zip(order, (x[:500], x[500:]), strict=True):
        centred = rows - rows.mean(axis=0)
        expected = (centred.T @ centred + 2.0 * np.eye(2)) / len(rows)
        np.testing.assert_allclose(model.means_[k], rows.mean(axis=0), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(model.covariances_[k], expected, rtol=1e-7)
        np.testing.assert_allclose(model.weights_[k], 0.5, rtol=1e-9)


def test_a_ridge_that_outweighs_micro_scale_data_is_reported():
    """reg_covar is an absolute variance: on data in micro units the default 1e-6 swamps
    every covariance and select_mixture's choice collapses; a ScaleWarning says so. Without
    the ridge the fit is the unit-scale fit rescaled (the same start, means times the scale)."""
    from sklearn.datasets import make_blobs

    from emkit import ScaleWarning, select_mixture

    X, _ = make_blobs(600, 2, centers=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScaleWarning)  # none at unit or milli scale
        emkit.GaussianMixture(3, reg_covar=1e-6, random_state=0).fit(X)
        emkit.GaussianMixture(3, random_state=0).fit(X * 1e-3)
        chosen = select_mixture(X, n_components=range(1, 5))
    with pytest.warns(ScaleWarning, match="reg_covar=1e-06 is .* times the data's total scatter"):
        emkit.GaussianMixture(3, random_state=0).fit(X * 1e-6)
    with pytest.warns(ScaleWarning):
        swamped = select_mixture(X * 1e-6, n_components=range(1, 5))
    assert swamped.best_.n_components != chosen.best_.n_components  # what the warning is about
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScaleWarning)
        tight = {"reg_covar": 0.0, "tol": 1e-12, "max_iter": 2000, "random_state": 0}
        small = emkit.GaussianMixture(3, **tight).fit(X * 1e-6)
        rescaled = select_mixture(X * 1e-6, n_components=range(1, 5), reg_covar=0.0)
    plain = emkit.GaussianMixture(3, **tight).fit(X)
    # the same maximum (the paths there differ by rounding): log density per row less the
    # Jacobian of the rescaling, means and covariances rescaled
    assert small.score(X * 1e-6) + 2 * np.log(1e-6) == pytest.approx(plain.score(X), rel=1e-10)
    np.testing.assert_allclose(small.means_, plain.means_ * 1e-6, rtol=1e-4)
    scale = 1e-12 * np.abs(plain.covariances_).max()
    np.testing.assert_allclose(
        small.covariances_, plain.covariances_ * 1e-12, rtol=1e-4, atol=1e-4 * scale
    )
    assert (rescaled.best_.n_components, rescaled.best_.covariance_type) == (
        chosen.best_.n_components,
        chosen.best_.covariance_type,
    )
