"""Wald intervals of a Gaussian mixture's weights and variances stay in their parameter
space: taken on the logit and log scales (the delta method), as ``emkit.mle`` takes them."""

from __future__ import annotations

import numpy as np
from scipy import special, stats

import emkit


def test_a_small_components_weight_and_variance_keep_positive_intervals():
    """Four rows far out: their component has weight 0.013 (error 0.0065) and variance 0.01
    (error 0.007). ``estimate -+ 1.96 se`` put the variance's lower end at -0.004; the
    interval is the logit-scale one for a weight, ``expit(logit(w) -+ q se / (w (1 - w)))``,
    and the log-scale one for a variance, ``v exp(-+ q se / v)``."""
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (300, 1)), rng.normal(6, 0.05, (4, 1))])
    gm = emkit.GaussianMixture(2, random_state=0).fit(x)
    se = gm.standard_errors(x)
    q = stats.norm.ppf(0.975)
    low, high = gm.conf_int(x)["weights"]
    w = gm.weights_
    spread = q * se["weights"] / (w * (1 - w))
    np.testing.assert_allclose(low, special.expit(special.logit(w) - spread), rtol=1e-12)
    np.testing.assert_allclose(high, special.expit(special.logit(w) + spread), rtol=1e-12)
    low, high = gm.conf_int(x)["covariances"]
    v, s = gm.covariances_, se["covariances"]
    assert v[1, 0, 0] - q * s[1, 0, 0] < 0  # the plain Wald interval leaves the space
    np.testing.assert_allclose(low, v * np.exp(-q * s / v), rtol=1e-12)
    np.testing.assert_allclose(high, v * np.exp(q * s / v), rtol=1e-12)
    # the means keep the plain interval
    low, high = gm.conf_int(x)["means"]
    np.testing.assert_allclose(high - gm.means_, q * se["means"], rtol=1e-12)


def test_only_the_diagonal_of_a_covariance_is_bounded():
    """Full and tied layouts: variances on the log scale, covariances off the diagonal on the
    plain one (they may be negative); a single weight, fixed at 1, keeps [1, 1]."""
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(0, 1, (150, 2)), rng.normal(4, 1, (100, 2))])
    q = stats.norm.ppf(0.95)
    for covariance_type in ("full", "tied"):
        gm = emkit.GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(x)
        v, s = gm.covariances_, gm.standard_errors(x)["covariances"]
        low, high = gm.conf_int(x, level=0.9)["covariances"]
        diagonal = np.broadcast_to(np.eye(2, dtype=bool), v.shape)
        np.testing.assert_allclose(low[diagonal], (v * np.exp(-q * s / v))[diagonal])
        np.testing.assert_allclose(low[~diagonal], (v - q * s)[~diagonal])
    one = emkit.GaussianMixture(1).fit(x)
    low, high = one.conf_int(x)["weights"]
    assert low[0] == high[0] == 1.0
