"""Regression MLE against NIST's certified values (StRD), read from NIST's own files.

Accuracy is counted in LRE, the number of correct significant digits. Everything runs with
emkit's default settings; no problem needs a user Jacobian.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

import nist_strd as strd
from emkit import mle

# ---- linear: all 11 problems, at least 7 digits of everything NIST certifies -----------------


@pytest.mark.parametrize("name", strd.LINEAR)
def test_linear_certified_digits(name):
    digits = strd.linear_digits(strd.load(name))
    assert min(digits.values()) >= 7, digits


def test_filip_is_solved_with_a_condition_warning():
    p = strd.load("Filip")
    X, _ = strd.design(p)
    with pytest.warns(mle.ConditionWarning, match="ill-conditioned"):
        est = mle.linear_regression(X, p.y, variance="unbiased")
    assert 1e9 < est.condition_number < 1e10
    assert strd.lre(est.params["coef"], p.params[1:]).min() >= 7


def test_well_conditioned_problems_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("Norris", "Pontius", "Longley", "Wampler5"):
            p = strd.load(name)
            X, intercept = strd.design(p)
            mle.linear_regression(X, p.y, fit_intercept=intercept)


def test_collinear_columns_are_named():
    x = np.arange(8.0)
    X = pd.DataFrame({"a": x, "b": x**2, "c": 2 * x - 3})
    with pytest.raises(ValueError, match=r"rank 3 < 4\): (c|a|intercept) is a linear combination"):
        mle.linear_regression(X, np.sin(x))
    with pytest.raises(ValueError, match="all zero"):
        mle.linear_regression(np.c_[x, np.zeros(8)], np.sin(x))


def test_r2_and_variance_conventions_match_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(7)
    X = rng.normal(size=(40, 2))
    y = 1.0 + X @ [0.5, -1.0] + rng.normal(size=40)
    for intercept in (True, False):
        est = mle.linear_regression(X, y, fit_intercept=intercept, variance="unbiased")
        ols = sm.OLS(y, sm.add_constant(X) if intercept else X).fit()
        se = np.r_[est.stderr["intercept"], est.stderr["coef"]] if intercept else est.stderr["coef"]
        np.testing.assert_allclose(se, ols.bse, rtol=1e-10)
        assert est.params["variance"] == pytest.approx(ols.scale, rel=1e-12)
        assert est.rss == pytest.approx(ols.ssr, rel=1e-12)
        assert est.r2 == pytest.approx(ols.rsquared, rel=1e-12)  # uncentred without intercept
        assert est.adj_r2 == pytest.approx(ols.rsquared_adj, rel=1e-12)
        assert est.residual_sd == pytest.approx(np.sqrt(ols.scale), rel=1e-12)
        assert est.loglik == pytest.approx(ols.llf, rel=1e-12)
    mle_est = mle.linear_regression(X, y)  # default: the MLE RSS / N
    assert mle_est.params["variance"] == pytest.approx(sm.OLS(y, sm.add_constant(X)).fit().ssr / 40)
    with pytest.raises(ValueError, match="variance must be"):
        mle.linear_regression(X, y, variance="sample")


# ---- nonlinear: all 27 problems from both starts ---------------------------------------------

CASES = [(name, start) for name in strd.NONLINEAR for start in (1, 2)]


@pytest.mark.parametrize("name, start", CASES, ids=[f"{n}-start{s}" for n, s in CASES])
def test_nonlinear_certified_digits(name, start):
    p = strd.load(name)
    if (name, start) == ("Lanczos3", 1):
        # On a 512 KiB-L2 EPYC the polished point's Gauss-Newton step is 3.3e-8 of the
        # parameters (elsewhere below the 1e-8 certificate), its digits as certified (6.8):
        # the one warning allowed there is that certificate's, missed by under 10 times.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = strd.nonlinear_fit(p, start)
        for warning in caught:
            assert issubclass(warning.category, mle.OptimizationWarning), warning
            step = float(str(warning.message).split("Gauss-Newton step is ")[1].split(" ")[0])
            assert step < 10 * 1e-8
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no warning at all with the defaults
            est = strd.nonlinear_fit(p, start)
        assert est.converged, est.message
    digits = strd.nonlinear_digits(p, est)
    assert digits["params"] >= 6, digits
    # never worse than NIST's own solution on the same (binary) data
    certified_rss = np.sum((p.y - strd.MODELS[name](p.x, *p.params)) ** 2)
    assert est.rss <= certified_rss * (1 + 1e-9)
    if name == "Lanczos1":
        # RSS 1.4e-25 from residuals of 1e-13: rounding the data to binary alone (2e-16 of
        # y ~ 2.5) moves the RSS by about 1e-3, so 3 digits are all float64 data hold; the
        # standard deviations scale with sqrt(RSS) and inherit the same limit.
        assert digits["rss"] >= 2.3 and digits["sd"] >= 2.6, digits
    else:
        assert digits["sd"] >= 5 and digits["rss"] >= 9, digits


def test_fit_short_of_two_digits_is_never_reported_converged_without_warning():
    seen_bad = 0
    for name, start in [("MGH17", 1), ("Bennett5", 1), ("BoxBOD", 1), ("MGH09", 1)]:
        p = strd.load(name)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = strd.nonlinear_fit(p, start, method="lm", max_nfev=4)
        if strd.lre(est.params["coef"], p.params).min() < 2:
            seen_bad += 1
            assert not est.converged
            assert any(issubclass(w.category, mle.OptimizationWarning) for w in caught)
            assert "not converged" in est.message
    assert seen_bad >= 2  # the limit really stopped some fits short


def test_user_jacobian_and_central_differences():
    p = strd.load("Misra1a")

    def jac(x, b1, b2):
        e = np.exp(-b2 * x)
        return np.column_stack([1 - e, b1 * x * e])

    est = strd.nonlinear_fit(p, 1, jac=jac)
    assert est.converged
    assert strd.lre(est.params["coef"], p.params).min() >= 9
    for name in ("Hahn1", "Kirby2", "MGH10"):
        q = strd.load(name)
        central = strd.nonlinear_fit(q, 1, derivatives="central")
        assert central.converged
        assert strd.nonlinear_digits(q, central)["params"] >= 6


def test_model_without_complex_support_falls_back_to_central_differences():
    rng = np.random.default_rng(5)
    x = np.linspace(0, 4, 60)

    def f(x, a, b):
        return np.abs(a) * np.exp(-b * x)  # abs drops a complex step

    y = 2.5 * np.exp(-0.8 * x) + rng.normal(scale=0.05, size=x.size)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = mle.nonlinear_regression(f, x, y, [1.0, 0.1], variance="unbiased")
    popt, pcov = optimize.curve_fit(f, x, y, p0=[1.0, 0.1])
    np.testing.assert_allclose(est.params["coef"], popt, rtol=1e-7)
    np.testing.assert_allclose(est.stderr["coef"], np.sqrt(np.diag(pcov)), rtol=1e-4)


def test_nonlinear_bad_options():
    x = np.arange(10.0)
    y = np.exp(-0.3 * x)
    f = lambda x, a, b: a * np.exp(-b * x)  # noqa: E731
    for kwargs, message in [
        ({"variance": "n"}, "variance must be"),
        ({"derivatives": "forward"}, "derivatives must be"),
        ({"method": "bfgs"}, "method must be"),
        ({"method": "lm", "bounds": [(0, None), (0, None)]}, "cannot take bounds"),
        ({"jac": lambda x, a, b: np.ones((3, 2))}, "jac returned shape"),
    ]:
        with pytest.raises(ValueError, match=message):
            mle.nonlinear_regression(f, x, y, [1.0, 0.1], **kwargs)


# ---- mle.numerical: Hessian steps relative to each parameter -------------------------------


def test_numerical_standard_errors_of_small_parameters():
    rng = np.random.default_rng(0)
    x = rng.exponential(2e6, size=100)  # rate about 5e-7
    num = mle.numerical(
        lambda t, d: stats.expon.logpdf(d, scale=1 / t[0]),
        x,
        {"rate": 1e-6},
        bounds=[(1e-12, None)],
    )
    closed = mle.exponential(x)
    assert num.params["rate"] == pytest.approx(closed.params["rate"], rel=1e-7)
    assert num.stderr["rate"] == pytest.approx(closed.stderr["rate"], rel=1e-5)


@pytest.mark.parametrize("name, start", [("MGH10", 1), ("BoxBOD", 1), ("Bennett5", 1)])
def test_bounds_that_do_not_bind_do_not_stop_the_fit(name, start):
    p = strd.load(name)
    wide = [(-1e6, 1e6)] * p.params.size
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = strd.nonlinear_fit(p, start, bounds=wide)
    assert est.converged
    assert strd.nonlinear_digits(p, est)["params"] >= 6


def test_report_shows_the_fit_statistics():
    p = strd.load("Longley")
    X, _ = strd.design(p)
    text = mle.linear_regression(X, p.y, variance="unbiased").report()
    assert "R-squared: 0.995479" in text and "Residual SD: 304.854 (9 df)" in text
    text = str(strd.nonlinear_fit(strd.load("Misra1a"), 1))
    assert "RSS: 0.1245513889" in text and "converged: Gauss-Newton step" in text


def test_ill_conditioned_nonlinear_fit_warns_and_agrees_with_linear():
    x = 1e7 + np.linspace(0, 1, 20)
    y = 2 + 3e-7 * x + np.random.default_rng(0).normal(0, 1e-3, 20)
    with pytest.warns(mle.ConditionWarning, match="linear_regression: the design"):
        lin = mle.linear_regression(x, y)
    with pytest.warns(mle.ConditionWarning, match="nonlinear_regression: the Jacobian"):
        nl = mle.nonlinear_regression(lambda x, a, b: a + b * x, x, y, [1.0, 1e-7])
    assert nl.converged
    assert nl.condition_number == pytest.approx(lin.condition_number, rel=1e-6)
    np.testing.assert_allclose(
        nl.params["coef"], [lin.params["intercept"], *lin.params["coef"]], rtol=1e-6
    )
