"""Bounded numerical fits reach the maximum whatever the location and scale of the data, and
an estimate on its bound gets the same treatment from numerical and nonlinear_regression."""

import warnings

import numpy as np
import pytest
from scipy import optimize, stats

from emkit import mle


def _normal(t, y):
    return stats.norm.logpdf(y, t[0], t[1])


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
@pytest.mark.parametrize("loc", [0.0, 1e6, 1e8])
def test_bounded_sd_reaches_the_closed_form_at_any_location_and_scale(loc, scale):
    # The optimiser worked on theta / |start|: at a mean of 1e8 its difference steps were about
    # 1 in the mean, and it returned its start (sd 2 for 0.96) with no OptimizationWarning.
    y = np.random.default_rng(7).normal(loc, scale, 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # OptimizationWarning, HessianWarning
        est = mle.numerical(_normal, y, {"mu": loc, "sd": 1.0}, bounds={"sd": (0, None)})
    sd = y.std()  # the MLE divides by N, as scipy.stats.norm.fit
    se = sd / np.sqrt(y.size)
    assert est.params["mu"] == pytest.approx(y.mean(), abs=1e-3 * se)
    assert est.params["sd"] == pytest.approx(sd, rel=1e-7)
    assert est.loglik == pytest.approx(_normal([y.mean(), sd], y).sum(), rel=1e-10, abs=1e-8)
    assert est.stderr["mu"] == pytest.approx(se, rel=1e-5)
    assert est.stderr["sd"] == pytest.approx(sd / np.sqrt(2 * y.size), rel=1e-5)


@pytest.mark.parametrize("scale", [1e-3, 1e3])
def test_gamma_with_bounded_shape_and_rate_matches_scipy(scale):
    x = np.random.default_rng(2).gamma(2.5, scale, 80)
    shape, _, theta = stats.gamma.fit(x, floc=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        est = mle.numerical(
            lambda t, x: stats.gamma.logpdf(x, t[0], scale=1 / t[1]),
            x,
            {"shape": 1.0, "rate": 1.0},
            bounds={"shape": (0, None), "rate": (0, None)},
        )
    assert est.params["shape"] == pytest.approx(shape, rel=1e-5)
    assert est.params["rate"] == pytest.approx(1 / theta, rel=1e-5)
    ref = stats.gamma.logpdf(x, shape, scale=theta).sum()
    assert est.loglik >= ref - 1e-9 * abs(ref)


@pytest.mark.parametrize("loc", [0.0, 1e6])
def test_weibull_with_a_shape_bounded_on_both_sides_matches_the_profile_equation(loc):
    # The MLE of the shape c solves sum x^c log x / sum x^c - 1/c - mean log x = 0, and the
    # scale is mean(x^c)^(1/c); scipy.stats.weibull_min.fit stops 2e-5 short of it (and of
    # its log-likelihood), so it is the floor, not the reference.
    x = np.random.default_rng(4).weibull(1.7, 120) * 1e-2
    log_x = np.log(x)
    c = optimize.brentq(
        lambda c: np.sum(x**c * log_x) / np.sum(x**c) - 1 / c - log_x.mean(), 0.5, 5, xtol=1e-14
    )
    scale = np.mean(x**c) ** (1 / c)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        est = mle.numerical(
            lambda t, z: stats.weibull_min.logpdf(z - loc, t[0], scale=t[1]),
            x + loc,
            {"shape": 1.0, "scale": 1.0},
            bounds={"shape": (0.1, 10), "scale": (0, None)},
        )
    tol = 1e-6 if loc == 0 else 1e-4  # x + 1e6 - 1e6 keeps 6 fewer digits of x
    assert est.params["shape"] == pytest.approx(c, rel=tol)
    assert est.params["scale"] == pytest.approx(scale, rel=tol)
    c_scipy, _, scale_scipy = stats.weibull_min.fit(x, floc=0)
    floor = stats.weibull_min.logpdf(x, c_scipy, scale=scale_scipy).sum()
    assert est.loglik >= floor - (1e-6 if loc == 0 else 1e-3)


def test_all_parameters_on_their_bounds_are_a_verified_maximum():
    # the log-likelihood rises with the rate up to its bound: a maximum there, with no
    # Wald error, and nothing to say about convergence
    x = np.array([0.2, 0.5, 0.1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = mle.numerical(
            lambda t, x: np.log(t[0]) - t[0] * x, x, {"rate": 1.0}, bounds={"rate": (0, 2.0)}
        )
    assert est.params["rate"] == 2.0 and np.isnan(est.stderr["rate"])
    kinds = {w.category for w in caught}
    assert mle.HessianWarning in kinds and mle.OptimizationWarning not in kinds


# ---- nonlinear_regression: an estimate on its bound, as numerical --------------------------

T = np.linspace(0, 4, 30)
Y = 3.0 * np.exp(-0.7 * T) + np.random.default_rng(0).normal(0, 0.05, size=30)


def _decay(x, a, k):
    return a * np.exp(-k * x)


def test_nonlinear_estimate_on_its_bound_gets_a_nan_error_and_the_others_theirs():
    # k <= 0.3 where the data say 0.7: k stays at 0.3 and a is least squares on exp(-0.3 t),
    # with the error of a linear fit of known k, sqrt(variance / z'z). The fit stopped at
    # k = 0.29999999999999993 "not converged", with errors from the full information.
    z = np.exp(-0.3 * T)
    a = z @ Y / (z @ z)
    variance = np.sum((Y - a * z) ** 2) / T.size
    with pytest.warns(mle.HessianWarning, match=r"k = 0.3 lies on the bound.*NaN for k") as caught:
        est = mle.nonlinear_regression(_decay, T, Y, {"a": 1.0, "k": 0.2}, bounds={"k": (0, 0.3)})
    assert not any(issubclass(w.category, mle.OptimizationWarning) for w in caught)
    assert est.converged
    assert est.params["k"] == 0.3 and np.isnan(est.stderr["k"])
    assert est.params["a"] == pytest.approx(a, rel=1e-10)
    assert est.params["variance"] == pytest.approx(variance, rel=1e-10)
    assert est.stderr["a"] == pytest.approx(np.sqrt(variance / (z @ z)), rel=1e-8)
    # numerical() on the same Gaussian likelihood holds k there and gives a the same error
    with pytest.warns(mle.HessianWarning, match="k = 0.3 lies on the bound"):
        num = mle.numerical(
            lambda t, d: stats.norm.logpdf(d[1], _decay(d[0], t[0], t[1]), t[2]),
            (T, Y),
            {"a": 1.0, "k": 0.2, "sd": 1.0},
            bounds={"k": (0, 0.3), "sd": (0, None)},
        )
    assert num.params["k"] == 0.3
    assert num.params["a"] == pytest.approx(a, rel=1e-7)
    assert num.stderr["a"] == pytest.approx(est.stderr["a"], rel=1e-5)
