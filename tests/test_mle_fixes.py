"""Regression tests for named starts, transforms and refusals of the emkit.mle fits."""

import warnings

import numpy as np
import pytest
from scipy import optimize, stats

from emkit import mle


def _decay(x, a, k):
    return a * np.exp(-k * x)


def _decay_data():
    x = np.linspace(0, 4, 30)
    y = 3.0 * np.exp(-0.7 * x) + np.random.default_rng(0).normal(0, 0.05, size=30)
    return x, y


@pytest.mark.parametrize("p0", [{"a": 1.0, "k": 1.0}, {"k": 1.0, "a": 1.0}])
def test_nonlinear_dict_start_is_matched_to_f_by_name(p0):
    x, y = _decay_data()
    popt, pcov = optimize.curve_fit(_decay, x, y, p0=[1.0, 1.0])
    est = mle.nonlinear_regression(_decay, x, y, p0=p0, variance="unbiased")
    assert est.params["a"] == pytest.approx(popt[0], rel=1e-8)
    assert est.params["k"] == pytest.approx(popt[1], rel=1e-8)
    assert est.stderr["a"] == pytest.approx(np.sqrt(pcov[0, 0]), rel=1e-5)
    assert list(est.summary().index) == ["a", "k", "variance"]


def test_nonlinear_dict_bounds_are_matched_to_f_by_name():
    x, y = _decay_data()
    # k's bound binds below its optimum 0.711: the fit is curve_fit's with the same bound
    popt, _ = optimize.curve_fit(_decay, x, y, p0=[1.0, 0.9], bounds=([-np.inf, 0.8], np.inf))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        est = mle.nonlinear_regression(
            _decay, x, y, p0={"k": 0.9, "a": 1.0}, bounds={"k": (0.8, None)}
        )
    assert est.params["k"] == pytest.approx(popt[1], rel=1e-6)
    assert est.params["a"] == pytest.approx(popt[0], rel=1e-6)


@pytest.mark.parametrize(
    ("p0", "match"),
    [
        ({"a": 1.0, "rate": 1.0}, r"\['rate'\], which f does not take.*\['a', 'k'\]"),
        ({"a": 1.0}, r"no start for f's parameter\(s\) \['k'\]"),
        ([1.0, 1.0, 1.0], r"p0 has 3 value\(s\) but f takes 2 parameter\(s\) after x \(a, k\)"),
        ([1.0], r"p0 has 1 value\(s\) but f takes 2"),
    ],
)
def test_nonlinear_refuses_a_start_that_does_not_fit_f(p0, match):
    x, y = _decay_data()
    with pytest.raises(ValueError, match=match):
        mle.nonlinear_regression(_decay, x, y, p0)
    with pytest.raises(ValueError, match=match):  # before the count of observations
        mle.nonlinear_regression(_decay, x[:3], y[:3], p0)


@pytest.mark.parametrize("m", [2, 9])
def test_nonlinear_refuses_x_and_y_of_different_lengths(m):
    x, y = _decay_data()
    with pytest.raises(ValueError, match=f"x has 30 values but y has {m}"):
        mle.nonlinear_regression(_decay, x, y[:m], [1.0, 1.0])


def test_nonlinear_keeps_a_positional_start_for_varargs_f():
    x, y = _decay_data()
    popt, _ = optimize.curve_fit(_decay, x, y, p0=[1.0, 1.0])
    est = mle.nonlinear_regression(lambda x, *t: _decay(x, *t), x, y, [1.0, 1.0])
    np.testing.assert_allclose(est.params["coef"], popt, rtol=1e-8)


def test_transform_of_an_unbiased_regression_keeps_student_t():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(6)
    X = rng.normal(size=(12, 2))
    y = 1 + X @ [2, -1] + rng.normal(size=12)
    est = mle.linear_regression(X, y, variance="unbiased")
    diff = est.transform(lambda intercept, coef, variance: coef[0] - coef[1], "d")
    test = sm.OLS(y, sm.add_constant(X)).fit().t_test([0, 1, -1])
    row = diff.summary().loc["d"]
    assert "t" in row.index
    assert row["std_err"] == pytest.approx(float(test.sd[0, 0]), rel=1e-10)
    assert row["t"] == pytest.approx(float(test.tvalue[0, 0]), rel=1e-10)
    assert row["p_value"] == pytest.approx(float(test.pvalue), rel=1e-8)
    np.testing.assert_allclose([row["ci_low"], row["ci_high"]], test.conf_int()[0], rtol=1e-10)
    # an identity transform reproduces the coefficient's own row
    same = est.transform(lambda intercept, coef, variance: coef[0], "c0").summary().iloc[0]
    own = est.summary().loc["coef[0]"]
    for column in ["std_err", "t", "p_value", "ci_low", "ci_high"]:
        assert same[column] == pytest.approx(own[column], rel=1e-9)


@pytest.mark.parametrize(("failures", "n"), [(10, 100_000), (3, 1_000_000), (1, 1_000_000)])
def test_transform_differences_stay_inside_a_probability_near_one(failures, n):
    x = np.ones(n, dtype=np.int8)
    x[:failures] = 0
    est = mle.bernoulli(x)
    p = est.params["p"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        logit = est.transform(lambda p: np.log(p / (1 - p)), "logit")
        log_q = est.transform(lambda p: np.log1p(-p), "log_q")
    # delta method with the analytic derivatives
    assert logit.stderr["logit"] == pytest.approx(1 / np.sqrt(n * p * (1 - p)), rel=1e-7)
    assert log_q.stderr["log_q"] == pytest.approx(np.sqrt(p / (n * (1 - p))), rel=1e-7)


@pytest.mark.parametrize("gradient", [np.array([1.0, 0.0, 0.0]), np.array([1.0])])
def test_transform_refuses_a_gradient_of_the_wrong_shape(gradient):
    est = mle.normal([1.0, 2.0, 4.0, 7.0, 3.0])
    with pytest.raises(ValueError, match=r"grad returned shape .*2 scalar parameter entries"):
        est.transform(lambda mean, variance: mean, "m", grad=lambda mean, variance: gradient)


@pytest.mark.parametrize(("offset", "sd"), [(1e12, 1e-3), (1e15, 0.5), (0.0, 1.0)])
def test_normal_loglik_is_that_at_its_estimate_for_data_far_from_zero(offset, sd):
    from fractions import Fraction

    rng = np.random.default_rng(17)
    x = offset + rng.normal(size=20) * sd
    exact = [Fraction(v) for v in x]
    mean = sum(exact) / len(exact)
    var = sum((v - mean) ** 2 for v in exact) / len(exact)  # exact in rationals
    loglik = -len(x) / 2 * (np.log(2 * np.pi * float(var)) + 1)
    assert mle.normal(x).loglik == pytest.approx(loglik, rel=1e-12, abs=1e-12)
    assert mle.normal(x).loglik == pytest.approx(mle.multivariate_normal(x[:, None]).loglik)
    if offset == 0:  # the sum of scipy's log-densities where no digits are lost
        est = mle.normal(x)
        direct = stats.norm.logpdf(x, est.params["mean"], np.sqrt(est.params["variance"])).sum()
        assert est.loglik == pytest.approx(direct, rel=1e-13)


@pytest.mark.parametrize("summed", [False, True])
def test_numerical_refuses_data_without_rows_as_the_closed_forms_do(summed):
    def loglik(theta, x):
        values = stats.norm.logpdf(x, theta[0], theta[1])
        return values.sum() if summed else values

    x = np.array([])
    with pytest.raises(ValueError, match="at least 2 observation"):
        mle.normal(x)
    with pytest.raises(ValueError, match="no observations"):
        mle.numerical(loglik, x, start={"mean": 5.0, "sd": 2.0}, bounds={"sd": (1e-6, None)})


def test_numerical_refuses_an_empty_start():
    with pytest.raises(ValueError, match="start is empty"):
        mle.numerical(lambda theta, x: stats.norm.logpdf(x), np.ones(3), start=[])


def test_transform_that_cannot_be_computed_at_a_boundary_estimate_says_so():
    # params are Python floats: g = 1 / rate raised a raw ZeroDivisionError at rate 0
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = mle.poisson(np.zeros(20))
        with pytest.raises(ValueError, match=r"mean_wait cannot be computed at the estimate"):
            est.transform(lambda rate: 1 / rate, name="mean_wait")
        ones = mle.bernoulli(np.ones(50))
        with pytest.raises(ValueError, match="on the bound of its space"):
            ones.transform(lambda p: np.log(p / (1 - p)), name="logit")


def test_columns_named_as_parameters_keep_distinct_labels():
    # Regressors named "variance" and "intercept" gave summary() two rows of each name, so
    # that .loc["variance"] returned a slope and the noise variance.
    pd = pytest.importorskip("pandas")
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"variance": rng.normal(size=30), "intercept": rng.normal(size=30)})
    y = rng.normal(size=30) + 5 + 2 * X["variance"]
    summary = mle.linear_regression(X, y).summary()
    assert summary.index.is_unique
    assert list(summary.index) == ["intercept", "`variance`", "`intercept`", "variance"]
    ols = sm.OLS(y, sm.add_constant(X.to_numpy())).fit()
    np.testing.assert_allclose(summary["estimate"].iloc[:3], ols.params, rtol=1e-10)


def test_r2_of_the_mean_alone_is_0_as_statsmodels_gives_it():
    # y ~ 1: the fitted values' rounding gave R^2 = 7.2e-34 (adj_r2 exactly 0); statsmodels'
    # rsquared is 0 to rounding (2e-16 there, its own).
    import statsmodels.api as sm

    from emkit.mle import linear_regression

    y = np.random.default_rng(0).normal(3.0, 2.0, 50)
    reference = sm.OLS(y, np.ones((50, 1))).fit()
    for fit in (
        linear_regression(np.empty((50, 0)), y),
        linear_regression(np.ones((50, 1)), y, fit_intercept=False),
    ):
        assert fit.r2 == 0.0 and fit.adj_r2 == 0.0
        assert fit.r2 == pytest.approx(reference.rsquared, abs=1e-15)
        assert fit.loglik == pytest.approx(reference.llf, rel=1e-12)
