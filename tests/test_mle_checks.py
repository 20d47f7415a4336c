"""emkit.mle: intervals of nonlinear regression inside the parameter space, exact fits,
one-category fits, and the shapes numerical() accepts from logpdf and grad."""

import warnings

import numpy as np
import pytest
from scipy import optimize, stats

from emkit import mle
from emkit.exceptions import DegenerateFitWarning


def decay(t, a, k):
    return a * np.exp(-k * t)


T = np.linspace(0, 5, 5)
Y = 3 * np.exp(-0.7 * T) + np.random.default_rng(0).normal(0, 0.1, 5)


# ---- nonlinear regression: intervals inside the parameter space ------------------------------


@pytest.mark.parametrize("variance", ["mle", "unbiased"])
def test_nonlinear_variance_interval_is_wald_on_the_log_scale(variance):
    est = mle.nonlinear_regression(decay, T, Y, {"a": 1.0, "k": 0.5}, variance=variance)
    popt, _ = optimize.curve_fit(decay, T, Y, p0=[1.0, 0.5])
    rss = np.sum((Y - decay(T, *popt)) ** 2)
    m = 5 if variance == "mle" else 3
    v = rss / m
    assert est.params["variance"] == pytest.approx(v, rel=1e-8)
    # Var v = 2 v^2 / m, so on the log scale the error is sqrt(2 / m)
    q = stats.norm.ppf(0.975) if variance == "mle" else stats.t(3).ppf(0.975)
    expected = v * np.exp(np.array([-1, 1]) * q * np.sqrt(2 / m))
    low, high = est.conf_int()["variance"]
    assert low > 0  # the plain Wald interval was (-0.00033, 0.00309)
    assert (low, high) == pytest.approx(expected, rel=1e-6)
    assert "Intervals of variance on the log scale" in est.report()
    # the coefficients are unbounded: plain Wald intervals, symmetric
    lo_a, hi_a = est.conf_int()["a"]
    assert hi_a - est.params["a"] == pytest.approx(est.params["a"] - lo_a, rel=1e-12)


def test_nonlinear_intervals_honour_user_bounds_as_numerical():
    est = mle.nonlinear_regression(decay, T, Y, {"a": 1.0, "k": 0.5}, bounds={"k": (0, None)})
    k, se = est.params["k"], est.stderr["k"]
    z = stats.norm.ppf(0.975)
    assert est.conf_int()["k"] == pytest.approx(k * np.exp(np.array([-1, 1]) * z * se / k))
    assert "Intervals of k, variance on the log scale" in est.report()
    # a parameter bounded on both sides: the logit of its position, as mle.numerical does
    both = mle.nonlinear_regression(decay, T, Y, {"a": 1.0, "k": 0.5}, bounds={"k": (0, 2)})
    k, se = both.params["k"], both.stderr["k"]
    u = k / 2
    spread = z * se / (2 * u * (1 - u))
    expected = 2 * stats.logistic.cdf(stats.logistic.ppf(u) + np.array([-1, 1]) * spread)
    assert both.conf_int()["k"] == pytest.approx(expected, rel=1e-10)
    # the same bounded interval as numerical() gives from the same estimate and error
    x = np.array([0.5, 1.2, 0.3, 2.0, 0.9, 2.6])
    num = mle.numerical(lambda t, d: np.log(t[0]) - t[0] * d, x, {"k": 1.0}, {"k": (0, 2)})
    k, se = num.params["k"], num.stderr["k"]
    u = k / 2
    spread = z * se / (2 * u * (1 - u))
    expected = 2 * stats.logistic.cdf(stats.logistic.ppf(u) + np.array([-1, 1]) * spread)
    assert num.conf_int()["k"] == pytest.approx(expected, rel=1e-10)
