"""The hierarchical start is mclust's ``mstep`` from ``hclass(hc(X), G)``, small clusters too."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import emkit
from emkit.distributions.gaussian import covariance_structure
from emkit.hierarchical import hierarchical_labels
from emkit.init import components_from_responsibilities

DATA = Path(__file__).parent / "data" / "mclust"


def test_banknote_spherical_start_and_fit_are_mclusts():
    # The hc cut of banknote (mclust's data, Status dropped) at 9 leaves a cluster of 5 rows in
    # 6 dimensions, whose variance VII estimates like any other. In R, mclust 6.0.0:
    #   X <- as.matrix(banknote[, -1]); z <- unmap(hclass(hc(X, "VVV", use = "SVD"), 9))
    #   ms <- mstep(data = X, modelName = "VII", z = z)
    #   estep(data = X, modelName = "VII", parameters = ms$parameters)$loglik   # -842.254391
    #   me(data = X, modelName = "VII", z = z,
    #      control = emControl(tol = c(1e-12, 1e-12)))$loglik                   # -755.226731
    # (emkit gave -836.557 and -764.638, from the covariance of all the data for that cluster.)
    x = pd.read_csv(DATA / "banknote.csv").to_numpy(dtype=float)
    assert np.bincount(hierarchical_labels(x, 9)[1]).min() < x.shape[1] + 1
    model = emkit.GaussianMixture(
        9, covariance_type="VII", init_params="hc", reg_covar=0.0, tol=1e-12, max_iter=5000
    ).fit(x)
    assert model.history_[0] == pytest.approx(-842.254391, abs=1e-5)
    assert model.log_likelihood_ == pytest.approx(-755.226731, abs=1e-5)


def _small_cluster_data() -> np.ndarray:
    # Three clusters of 40 rows and one of 3 rows (fewer than d + 1 = 4), far apart.
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0, 0], [10, 0, 0], [0, 10, 0], [0, 0, 30]])
    sizes = [40, 40, 40, 3]
    return np.vstack(
        [c + rng.normal(size=(m, 3)) * [1.0, 2.0, 0.5] for c, m in zip(centres, sizes, strict=True)]
    )


def _hand_mstep(x: np.ndarray, labels: np.ndarray, name: str):
    """Weights, means and covariances (k, d, d) of mclust's M-step for ``name`` by hand."""
    n, d = x.shape
    k = labels.max() + 1
    rows = [x[labels == j] for j in range(k)]
    counts = np.array([len(r) for r in rows], dtype=float)
    means = np.array([r.mean(axis=0) for r in rows])
    diag = np.array(
        [((r - m) ** 2).sum(axis=0) for r, m in zip(rows, means, strict=True)]
    )  # diag W_k
    if name == "EII":
        variances = np.full((k, d), diag.sum() / (n * d))
    elif name == "VII":
        variances = np.repeat((diag.sum(axis=1) / (counts * d))[:, None], d, axis=1)
    elif name == "EEI":
        variances = np.repeat(diag.sum(axis=0, keepdims=True) / n, k, axis=0)
    else:  # VVI
        variances = diag / counts[:, None]
    covariances = np.array([np.diag(v) for v in variances])
    return counts / n, means, covariances


@pytest.mark.parametrize("name", ["EII", "VII", "EEI", "VVI"])
def test_a_small_cluster_starts_from_its_own_moments(name):
    x = _small_cluster_data()
    labels = hierarchical_labels(x, 4)[1]
    assert sorted(np.bincount(labels)) == [3, 40, 40, 40]
    weights, means, covariances = _hand_mstep(x, labels, name)
    structure = covariance_structure(name, x.shape[1])
    got_weights, components = components_from_responsibilities(structure, x, np.eye(4)[labels], 0.0)
    np.testing.assert_allclose(got_weights, weights, rtol=1e-12)
    np.testing.assert_allclose(components.means, means, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(components.full_covariances(), covariances, rtol=1e-10)
    # The fit's first log-likelihood is that of the hand M-step's mixture (scipy's densities).
    density = np.column_stack(
        [multivariate_normal(m, c).logpdf(x) for m, c in zip(means, covariances, strict=True)]
    )
    expected = logsumexp(density + np.log(weights), axis=1).sum()
    model = emkit.GaussianMixture(4, covariance_type=name, init_params="hc", reg_covar=0.0)
    assert model.fit(x).history_[0] == pytest.approx(expected, rel=1e-10)


def test_a_cluster_too_small_for_its_own_covariance_starts_from_all_the_data():
    # VVV cannot estimate a covariance from 3 rows in 3 dimensions (mclust's mstep is
    # singular): that cluster alone starts at the covariance of all the rows.
    x = _small_cluster_data()
    labels = hierarchical_labels(x, 4)[1]
    weights, means, _ = _hand_mstep(x, labels, "VVI")
    _, components = components_from_responsibilities(
        covariance_structure("VVV", 3), x, np.eye(4)[labels], 0.0
    )
    small = int(np.argmin(weights))
    np.testing.assert_allclose(components.means, means, rtol=1e-12, atol=1e-12)
    covariances = components.full_covariances()
    np.testing.assert_allclose(covariances[small], np.cov(x.T, bias=True), rtol=1e-10)
    for j in np.flatnonzero(np.arange(4) != small):
        own = np.cov(x[labels == j].T, bias=True)
        np.testing.assert_allclose(covariances[j], own, rtol=1e-10)
