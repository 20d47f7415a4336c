"""emkit.mle against closed forms, scipy.stats, statsmodels and scipy.optimize.curve_fit."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from emkit import mle
from emkit.exceptions import DegenerateFitWarning

POISSON_SAMPLE = [5, 0, 1, 1, 0, 3, 2, 3, 4, 1]


# ---- worked examples -------------------------------------------------------------------------


def test_poisson_worked_example():
    est = mle.poisson(POISSON_SAMPLE)
    assert est.params["rate"] == 2.0
    # likelihood e^-20 2^20 / prod(x_i!) with prod(x_i!) = 207360
    assert math.prod(math.factorial(k) for k in POISSON_SAMPLE) == 207360
    assert est.loglik == pytest.approx(-20 + 20 * math.log(2) - math.log(207360), rel=1e-13)
    assert est.stderr["rate"] == pytest.approx(math.sqrt(2 / 10), rel=1e-13)
    assert est.n == 10


def test_binomial_worked_example_and_bernoulli_agree():
    est = mle.binomial(379, 1000)
    assert est.params["p"] == 0.379
    assert est.stderr["p"] == pytest.approx(math.sqrt(0.379 * 0.621 / 1000))
    assert est.loglik == pytest.approx(stats.binom.logpmf(379, 1000, 0.379))
    tosses = np.r_[np.ones(379), np.zeros(621)]
    b = mle.bernoulli(tosses)
    assert b.params["p"] == 0.379
    assert b.stderr["p"] == pytest.approx(est.stderr["p"])
    # the binomial coefficient is the only difference between the two likelihoods
    assert est.loglik - b.loglik == pytest.approx(
        stats.binom.logpmf(379, 1000, 0.5) + 1000 * np.log(2)
    )


def test_normal_variance_divides_by_n():
    x = np.array([1.0, 2.0, 4.0, 7.0])
    est = mle.normal(x)
    assert est.params["mean"] == 3.5
    assert est.params["variance"] == pytest.approx(np.var(x, ddof=0))
    assert est.params["variance"] == pytest.approx(((x - 3.5) ** 2).sum() / 4)
    assert est.loglik == pytest.approx(stats.norm.logpdf(x, 3.5, np.sqrt(np.var(x))).sum())
    v = est.params["variance"]
    assert est.stderr["mean"] == pytest.approx(np.sqrt(v / 4))
    assert est.stderr["variance"] == pytest.approx(np.sqrt(2 * v**2 / 4))


# ---- log-likelihoods against scipy.stats -----------------------------------------------------


def test_loglik_matches_scipy():
    rng = np.random.default_rng(1)
    x = rng.exponential(2.0, size=40)
    est = mle.exponential(x)
    assert est.params["rate"] == pytest.approx(1 / x.mean())
    assert est.loglik == pytest.approx(stats.expon.logpdf(x, scale=x.mean()).sum())
    assert est.stderr["rate"] == pytest.approx(est.params["rate"] / np.sqrt(40))

    X = rng.multivariate_normal([0, 1], [[2, 0.5], [0.5, 1]], size=60)
    mv = mle.multivariate_normal(X)
    S = np.cov(X.T, bias=True)
    np.testing.assert_allclose(mv.params["covariance"], S, rtol=1e-12)
    assert mv.loglik == pytest.approx(stats.multivariate_normal(X.mean(0), S).logpdf(X).sum())
    np.testing.assert_allclose(mv.stderr["mean"], np.sqrt(np.diag(S) / 60))
    # Var S_ij = (S_ii S_jj + S_ij^2) / N
    expected = np.sqrt((np.outer(np.diag(S), np.diag(S)) + S**2) / 60)
    np.testing.assert_allclose(mv.stderr["covariance"], expected)

    labels = rng.integers(0, 3, size=90)
    with pytest.warns(DegenerateFitWarning, match=r"probs\[3\] = 0"):
        cat = mle.categorical(labels, n_categories=4)  # category 3 never occurs
    p = np.bincount(labels, minlength=4) / 90
    np.testing.assert_allclose(cat.params["probs"], p)
    assert cat.loglik == pytest.approx(np.log(p[labels]).sum())
    np.testing.assert_allclose(cat.stderr["probs"][:3], np.sqrt(p * (1 - p) / 90)[:3])
    assert np.isnan(cat.stderr["probs"][3])  # on the boundary: no Wald error


# ---- linear regression against statsmodels ---------------------------------------------------


def test_linear_regression_matches_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 3))
    y = 0.5 + X @ [1.0, -2.0, 0.3] + rng.normal(scale=0.7, size=80)
    est = mle.linear_regression(X, y)
    ols = sm.OLS(y, sm.add_constant(X)).fit()
    assert est.params["intercept"] == pytest.approx(ols.params[0], abs=1e-8)
    np.testing.assert_allclose(est.params["coef"], ols.params[1:], atol=1e-8)
    n, p = 80, 4
    # statsmodels uses RSS / (N - p); ours is the MLE RSS / N, so the SEs differ by sqrt(N/(N-p))
    assert est.params["variance"] == pytest.approx(ols.scale * (n - p) / n)
    factor = np.sqrt(n / (n - p))
    se = np.r_[est.stderr["intercept"], est.stderr["coef"]]
    np.testing.assert_allclose(se * factor, ols.bse, rtol=1e-8)
    assert est.loglik == pytest.approx(ols.llf)

    no_int = mle.linear_regression(X, y, fit_intercept=False)
    ols0 = sm.OLS(y, X).fit()
    assert "intercept" not in no_int.params
    np.testing.assert_allclose(no_int.params["coef"], ols0.params, atol=1e-8)
    np.testing.assert_allclose(no_int.stderr["coef"] * np.sqrt(80 / 77), ols0.bse, rtol=1e-8)


def test_unbiased_regression_tests_with_student_t_as_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(4)
    X = rng.normal(size=(25, 2))
    y = 0.2 + X @ [0.6, -0.1] + rng.normal(scale=0.8, size=25)
    ols = sm.OLS(y, sm.add_constant(X)).fit()
    est = mle.linear_regression(X, y, variance="unbiased")
    table = est.summary(0.9).iloc[:3]  # the coefficients; statsmodels has no variance row
    assert "t" in table.columns and "z" not in table.columns
    np.testing.assert_allclose(table["std_err"], ols.bse, rtol=1e-10)
    np.testing.assert_allclose(table["t"], ols.tvalues, rtol=1e-10)
    np.testing.assert_allclose(table["p_value"], ols.pvalues, rtol=1e-8)
    np.testing.assert_allclose(table[["ci_low", "ci_high"]], ols.conf_int(0.1), rtol=1e-10)
    low, high = est.conf_int(0.9)["coef"]
    np.testing.assert_allclose(np.c_[low, high], ols.conf_int(0.1)[1:], rtol=1e-10)
    assert "P>|t|" in str(est) and "P>|z|" not in str(est)

    # the same model fitted nonlinearly (R's nls also refers to t on N - p degrees of freedom)
    nl = mle.nonlinear_regression(
        lambda x, b0, b1, b2: b0 + b1 * x[:, 0] + b2 * x[:, 1],
        X,
        y,
        [0.0, 0.0, 0.0],
        variance="unbiased",
    )
    np.testing.assert_allclose(nl.summary()["p_value"].iloc[:3], ols.pvalues, rtol=1e-5)

    # the MLE variance keeps the large-sample z, as for every other estimate
    mle_table = mle.linear_regression(X, y).summary()
    assert "z" in mle_table.columns
    se = mle_table["std_err"].iloc[:3]
    np.testing.assert_allclose(
        mle_table["p_value"].iloc[:3], 2 * stats.norm.sf(np.abs(ols.params / se)), rtol=1e-10
    )


# ---- numerical MLE agrees with the closed forms ----------------------------------------------


def test_numerical_matches_closed_forms():
    x = np.asarray(POISSON_SAMPLE, dtype=float)
    num = mle.numerical(
        lambda t, d: stats.poisson.logpmf(d, t[0]), x, {"rate": 1.0}, bounds={"rate": (1e-9, None)}
    )
    closed = mle.poisson(x)
    assert num.params["rate"] == pytest.approx(closed.params["rate"], abs=1e-5)
    assert num.stderr["rate"] == pytest.approx(closed.stderr["rate"], abs=1e-5)
    assert num.loglik == pytest.approx(closed.loglik, abs=1e-8)

    rng = np.random.default_rng(3)
    y = rng.normal(3.0, 2.0, size=100)
    num = mle.numerical(
        lambda t, d: stats.norm.logpdf(d, t[0], np.sqrt(t[1])),
        y,
        {"mean": 0.0, "variance": 1.0},
        bounds=[(None, None), (1e-9, None)],
    )
    closed = mle.normal(y)
    for name in ("mean", "variance"):
        assert num.params[name] == pytest.approx(closed.params[name], abs=1e-5)
        assert num.stderr[name] == pytest.approx(closed.stderr[name], abs=1e-5)
    np.testing.assert_allclose(num.cov, closed.cov, atol=1e-5)


def test_numerical_with_gradient_and_unnamed_parameters():
    rng = np.random.default_rng(4)
    x = rng.exponential(0.5, size=50)

    def logpdf(t, d):  # log-rate parametrisation: unconstrained
        return t[0] - np.exp(t[0]) * d

    def grad(t, d):
        return np.array([d.size - np.exp(t[0]) * d.sum()])

    num = mle.numerical(logpdf, x, [0.0], grad=grad)
    closed = mle.exponential(x).transform(lambda rate: np.log(rate), "log_rate")
    assert num.params["theta"][0] == pytest.approx(closed.params["log_rate"], abs=1e-6)
    assert num.stderr["theta"][0] == pytest.approx(closed.stderr["log_rate"], abs=1e-6)
    assert num.stderr["theta"][0] == pytest.approx(1 / np.sqrt(50), rel=1e-6)


def test_numerical_warns_when_hessian_not_negative_definite():
    x = np.array([0.1, -0.3, 0.5, 1.2])

    # a and b enter only through a + b: not identified, the Hessian is singular
    def logpdf(t, d):
        return stats.norm.logpdf(d, t[0] + t[1], 1.0)

    with pytest.warns(mle.HessianWarning, match="not negative definite"):
        est = mle.numerical(logpdf, x, {"a": 0.0, "b": 0.0})
    assert np.isnan(est.stderr["a"])
    assert est.params["a"] + est.params["b"] == pytest.approx(x.mean(), abs=1e-6)


def test_nonlinear_regression_matches_curve_fit():
    rng = np.random.default_rng(5)
    x = np.linspace(0, 4, 60)

    def f(x, a, b):
        return a * np.exp(-b * x)

    y = f(x, 2.5, 0.8) + rng.normal(scale=0.05, size=x.size)
    est = mle.nonlinear_regression(f, x, y, {"a": 1.0, "b": 0.1})
    popt, pcov = optimize.curve_fit(f, x, y, p0=[1.0, 0.1])
    assert est.params["a"] == pytest.approx(popt[0], rel=1e-6)
    assert est.params["b"] == pytest.approx(popt[1], rel=1e-6)
    resid = y - f(x, *popt)
    assert est.params["variance"] == pytest.approx(resid @ resid / 60, rel=1e-8)
    # curve_fit's pcov uses RSS / (N - k)
    se = np.array([est.stderr["a"], est.stderr["b"]])
    np.testing.assert_allclose(se * np.sqrt(60 / 58), np.sqrt(np.diag(pcov)), rtol=1e-4)

    # a linear model fitted nonlinearly is linear regression
    X = rng.normal(size=(40, 1))
    yl = 1.0 + 2.0 * X[:, 0] + rng.normal(size=40)
    nl = mle.nonlinear_regression(lambda x, b0, b1: b0 + b1 * x, X[:, 0], yl, [0.0, 0.0])
    lin = mle.linear_regression(X, yl)
    np.testing.assert_allclose(nl.params["coef"], [lin.params["intercept"], lin.params["coef"][0]])
    np.testing.assert_allclose(nl.cov, lin.cov, rtol=1e-6, atol=1e-12)


# ---- the Estimate object ---------------------------------------------------------------------


def test_transform_delta_method():
    est = mle.poisson(POISSON_SAMPLE)
    t = est.transform(lambda rate: np.exp(-rate), "p_zero")
    assert t.params["p_zero"] == pytest.approx(np.exp(-2))
    # d/d rate e^-rate = -e^-rate
    assert t.stderr["p_zero"] == pytest.approx(np.exp(-2) * np.sqrt(0.2), rel=1e-8)
    given = est.transform(lambda rate: np.exp(-rate), "p_zero", grad=lambda rate: -np.exp(-rate))
    assert given.stderr["p_zero"] == pytest.approx(t.stderr["p_zero"], rel=1e-8)

    est = mle.normal(np.array([1.0, 2.0, 4.0, 7.0, 3.0]))
    sd = est.transform(lambda mean, variance: np.sqrt(variance), "sd")
    v = est.params["variance"]
    # d sqrt(v)/dv = 1 / (2 sqrt v); Var = 2 v^2 / N / (4 v) = v / (2N)
    assert sd.stderr["sd"] == pytest.approx(np.sqrt(v / 10), rel=1e-8)


def test_conf_int_and_summary_shapes():
    rng = np.random.default_rng(6)
    est = mle.linear_regression(rng.normal(size=(30, 2)), rng.normal(size=30))
    ci = est.conf_int(0.9)
    z = stats.norm.ppf(0.95)
    low, high = ci["coef"]
    assert low.shape == (2,) and high.shape == (2,)
    np.testing.assert_allclose(high - low, 2 * z * est.stderr["coef"])
    assert isinstance(ci["variance"][0], float)
    table = est.summary()
    assert list(table.index) == ["intercept", "coef[0]", "coef[1]", "variance"]
    assert {"estimate", "std_err", "z", "p_value", "ci_low", "ci_high"} <= set(table.columns)
    text = str(est)
    assert "coef[1]" in text and "Log-likelihood" in text
    with pytest.raises(ValueError, match="level"):
        est.conf_int(1.5)
    with pytest.raises(ValueError):
        est.params["coef"][0] = 1.0  # read-only


# ---- coverage of Wald intervals --------------------------------------------------------------


@pytest.mark.parametrize(
    "family, draw, truth",
    [
        ("poisson", lambda rng, size: rng.poisson(3.0, size), 3.0),
        ("bernoulli", lambda rng, size: rng.binomial(1, 0.3, size), 0.3),
    ],
)
def test_wald_interval_coverage(family, draw, truth):
    rng = np.random.default_rng(20240601)
    reps, n = 2000, 200
    name = {"poisson": "rate", "bernoulli": "p"}[family]
    fit = getattr(mle, family)
    hits = 0
    for _ in range(reps):
        low, high = fit(draw(rng, n)).conf_int(0.95)[name]
        hits += low <= truth <= high
    assert 0.93 <= hits / reps <= 0.97


# ---- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: mle.poisson([1, -2, 3]), "non-negative integer"),
        (lambda: mle.poisson([1, 2.5]), "non-negative integer"),
        (lambda: mle.bernoulli([0, 1, 2]), "values 0 and 1"),
        (lambda: mle.normal([1.0]), "at least 2"),
        (lambda: mle.normal([1.0, np.nan, 2.0]), "NaN"),
        (lambda: mle.normal([2.0, 2.0, 2.0]), "not all equal"),
        (lambda: mle.exponential([1.0, -1.0]), "non-negative"),
        (lambda: mle.poisson([]), "at least 1"),
        (lambda: mle.binomial(5, 3), "k <= n"),
        (lambda: mle.multivariate_normal(np.ones((5, 2))), "singular"),
        (lambda: mle.multivariate_normal(np.eye(3)[:2]), "at least 4"),
        (lambda: mle.categorical([0, 1, 5], n_categories=3), "not below"),
        (
            lambda: mle.linear_regression(
                np.c_[np.arange(6.0), 2 * np.arange(6.0)], np.arange(6.0)
            ),
            "linearly dependent",
        ),
        (lambda: mle.linear_regression(np.ones((5, 1)), np.ones(4)), "rows"),
        (lambda: mle.normal(["a", "b"]), "x must hold numbers; could not convert"),
        (
            lambda: mle.numerical(lambda t, x: -0.5 * (x - t[0]) ** 2, np.ones(3), [np.nan]),
            r"start must hold finite numbers; got \[nan\]",
        ),
    ],
)
def test_bad_input_raises_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_no_spurious_warnings_on_well_posed_numerical():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mle.numerical(lambda t, d: stats.norm.logpdf(d, t[0], 1.0), np.arange(5.0), [0.0])


def test_numerical_counts_rows_of_a_data_tuple():
    rng = np.random.default_rng(3)
    x = rng.normal(size=50)
    y = 1.0 + 2.0 * x + rng.normal(size=50)

    def loglik(theta, data):
        a, b, log_s = theta
        xs, ys = data
        return float(stats.norm.logpdf(ys, a + b * xs, np.exp(log_s)).sum())

    est = mle.numerical(loglik, (x, y), start=[0.0, 0.0, 0.0])
    assert est.n == 50
    closed = mle.linear_regression(x[:, None], y)
    assert est.params["theta"][1] == pytest.approx(closed.params["coef"][0], abs=1e-5)


@pytest.mark.parametrize(
    "fit, names, interval",
    [
        (lambda: mle.bernoulli(np.ones(20)), ["p"], stats.binomtest(20, 20).proportion_ci()),
        (lambda: mle.binomial(0, 12), ["p"], stats.binomtest(0, 12).proportion_ci()),
        (lambda: mle.poisson(np.zeros(5)), ["rate"], (0.0, stats.chi2.ppf(0.975, 2) / 10)),
        (
            lambda: mle.categorical(pd.Categorical(["a"] * 9, categories=["a", "b"])),
            ["probs[a]", "probs[b]"],
            stats.binomtest(9, 9).proportion_ci(),
        ),
    ],
    ids=["bernoulli", "binomial", "poisson", "categorical"],
)
def test_estimates_on_the_boundary_have_no_wald_errors_and_name_the_exact_interval(
    fit, names, interval
):
    # At p = 0 or 1 (a rate of 0) the Fisher information gives a standard error of 0 and a
    # one-point Wald interval: NaN, and a warning with the exact interval instead.
    with pytest.warns(DegenerateFitWarning, match="boundary") as caught:
        est = fit()
    table = est.summary()
    for name in names:
        assert np.isnan(table.loc[name, "std_err"]) and np.isnan(table.loc[name, "ci_low"])
    low, high = interval
    assert f"[{low:.4g}, {high:.4g}]" in str(caught[0].message)
    # an interior estimate beside a boundary one keeps its own error
    with pytest.warns(DegenerateFitWarning, match=r"probs\[2\] = 0"):
        mixed = mle.categorical([0, 1, 1, 0, 1], n_categories=3)
    assert np.isfinite(mixed.stderr["probs"][:2]).all() and np.isnan(mixed.stderr["probs"][2])


# ---- extreme scales: results at 1e-200 .. 1e200 are those at 1, rescaled ---------------------

SCALES = [1e-200, 1e-100, 1.0, 1e100, 1e200]


@pytest.mark.parametrize("s", SCALES)
def test_exponential_standard_error_at_extreme_scales(s):
    base = np.array([0.5, 1.2, 0.3, 2.0, 0.9, 2.6])
    est = mle.exponential(base * s)
    rate = 1 / base.mean() / s  # closed form: 1 / mean, Var = rate^2 / N
    # (assert_allclose: pytest.approx would also accept anything within 1e-12 of 1e-200)
    np.testing.assert_allclose(est.params["rate"], rate, rtol=1e-14)
    np.testing.assert_allclose(est.stderr["rate"], rate / np.sqrt(6), rtol=1e-14)
    z = stats.norm.ppf(0.975)
    expected = rate * np.exp([-z / np.sqrt(6), z / np.sqrt(6)])
    np.testing.assert_allclose(est.conf_int()["rate"], expected, rtol=1e-14)
    assert est.loglik == pytest.approx(6 * np.log(rate) - 6, rel=1e-13)


def test_exponential_rate_beyond_float64_is_refused():
    with pytest.raises(ValueError, match="rate beyond float64.*rescale"):
        mle.exponential([1e-320, 2e-320])


def test_normal_variance_error_near_overflow():
    x = np.array([1e153, 2e153, 4e153])  # variance 1.6e306: its square overflows
    est = mle.normal(x)
    v = np.var(x / 1e153) * 1e306
    assert est.params["variance"] == pytest.approx(v, rel=1e-14)
    assert est.stderr["variance"] == pytest.approx(v * np.sqrt(2 / 3), rel=1e-14)  # 2 v^2 / N
    assert est.stderr["mean"] == pytest.approx(np.sqrt(v / 3), rel=1e-14)


@pytest.mark.parametrize("s", [1e-150, 1.0, 1e150])
def test_multivariate_normal_errors_at_extreme_scales(s):
    X = np.random.default_rng(7).multivariate_normal([1, 2], [[2, 0.6], [0.6, 1]], size=50)
    est = mle.multivariate_normal(X * s)
    S = np.cov(X.T, bias=True)  # at scale 1; the covariance scales by s^2
    np.testing.assert_allclose(est.params["covariance"], S * s * s, rtol=1e-12)
    np.testing.assert_allclose(est.stderr["mean"], np.sqrt(np.diag(S) / 50) * s, rtol=1e-12)
    expected = np.sqrt((np.outer(np.diag(S), np.diag(S)) + S**2) / 50) * s * s
    np.testing.assert_allclose(est.stderr["covariance"], expected, rtol=1e-12)
    ref = stats.multivariate_normal(X.mean(0), S).logpdf(X).sum() - 50 * 2 * np.log(s)
    assert est.loglik == pytest.approx(ref, rel=1e-12)


def _gamma_loglik(theta, x):
    return stats.gamma.logpdf(x, theta[0], scale=1 / theta[1])


@pytest.mark.parametrize("s", SCALES)
def test_numerical_standard_errors_at_extreme_scales(s):
    # The observed information of a gamma in (shape, rate) is n [[trigamma(a), -1/b],
    # [-1/b, a/b^2]]; at scale s the rate and its error scale by 1/s.
    from scipy import special

    base = np.array([1.0, 2.0, 3.0, 5.0, 2.5, 0.7])
    a, _, scale = stats.gamma.fit(base, floc=0)
    b = 1 / scale
    info = 6 * np.array([[special.polygamma(1, a), -1 / b], [-1 / b, a / b**2]])
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # HessianWarning, OptimizationWarning
        est = mle.numerical(
            _gamma_loglik,
            base * s,
            {"shape": a, "rate": b / s},
            bounds={"shape": (0, None), "rate": (0, None)},
        )
    np.testing.assert_allclose([est.params["shape"], est.params["rate"] * s], [a, b], rtol=1e-6)
    np.testing.assert_allclose([est.stderr["shape"], est.stderr["rate"] * s], se, rtol=1e-5)


@pytest.mark.parametrize(
    "sx, sy", [(1e160, 1.0), (1e-160, 1.0), (1.0, 1e150), (1.0, 1e-150), (1e-200, 1e100)]
)
def test_linear_regression_at_extreme_scales(sx, sy):
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = 1 + X @ [2.0, -1.0] + rng.normal(size=30)
    ols = sm.OLS(y, sm.add_constant(X)).fit()
    est = mle.linear_regression(X * sx, y * sy, variance="unbiased")
    coef = np.r_[est.params["intercept"], est.params["coef"]]
    se = np.r_[est.stderr["intercept"], est.stderr["coef"]]
    units = sy / np.r_[1.0, sx, sx]
    np.testing.assert_allclose(coef, ols.params * units, rtol=1e-12)
    np.testing.assert_allclose(se, ols.bse * units, rtol=1e-12)
    variance = ols.scale * sy * sy  # Var = 2 variance^2 / (N - p)
    np.testing.assert_allclose(est.params["variance"], variance, rtol=1e-12)
    np.testing.assert_allclose(est.stderr["variance"], variance * np.sqrt(2 / 27), rtol=1e-12)
    assert est.loglik == pytest.approx(ols.llf - 30 * np.log(sy), rel=1e-12)
    assert est.r2 == pytest.approx(ols.rsquared, rel=1e-12)


def test_linear_regression_variance_beyond_float64_is_refused():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = X @ [2.0, -1.0] + rng.normal(size=30)
    with pytest.raises(ValueError, match="noise variance.*outside float64's range.*rescale y"):
        mle.linear_regression(X, y * 1e160)
    with pytest.raises(ValueError, match="noise variance.*outside float64's range.*rescale y"):
        mle.linear_regression(X, y * 1e-170)


# ---- numerical: convergence judged by the Newton decrement -----------------------------------


def _normal_sd_loglik(t, y):
    return stats.norm.logpdf(y, t[0], t[1])


@pytest.mark.parametrize("bounds", [{"sd": (1e-9, None)}, None], ids=["bounded", "unbounded"])
def test_numerical_reaches_the_closed_form_far_from_zero(bounds):
    # Epoch seconds: a mean of 1.7e9 known to +-2. L-BFGS-B stopped 0.006 standard errors short
    # (sd 27.7267 for 27.7344) with no warning; BFGS reached it with a false warning.
    y = 1.7e9 + np.random.default_rng(1).normal(0, 30, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # OptimizationWarning, HessianWarning
        est = mle.numerical(_normal_sd_loglik, y, {"mu": 1.7e9, "sd": 10.0}, bounds=bounds)
    sd = y.std()  # closed form: the MLE divides by N
    assert est.params["mu"] == pytest.approx(y.mean(), abs=1e-6 * sd)
    assert est.params["sd"] == pytest.approx(sd, rel=1e-9)
    # the inverse Fisher information: Var mu = sd^2 / N, Var sd = sd^2 / (2N)
    assert est.stderr["mu"] == pytest.approx(sd / np.sqrt(200), rel=1e-6)
    assert est.stderr["sd"] == pytest.approx(sd / np.sqrt(400), rel=1e-6)


def test_numerical_location_far_from_zero_with_a_log_scale():
    y = np.random.default_rng(0).normal(1e6, 1e-3, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        est = mle.numerical(
            lambda t, y: stats.norm.logpdf(y, t[0], np.exp(t[1])), y, [1e6, np.log(1e-3)]
        )
    # within 1e-5 standard errors of the closed form (a few spacings of float64 at 1e6)
    assert est.params["theta"][0] == pytest.approx(y.mean(), abs=1e-5 * y.std() / np.sqrt(50))
    assert est.params["theta"][1] == pytest.approx(np.log(y.std()), abs=1e-7)
    se = [y.std() / np.sqrt(50), np.sqrt(1 / 100)]  # Var log sd = 1 / (2N)
    np.testing.assert_allclose(est.stderr["theta"], se, rtol=1e-6)


def test_numerical_bounds_take_none_per_parameter():
    x = np.array([2.1, 0.7, 1.5, 3.2, 1.1, 2.4, 0.9, 1.8])
    closed = mle.normal(x)
    est = mle.numerical(
        lambda t, d: stats.norm.logpdf(d, t[0], np.sqrt(t[1])),
        x,
        [3.0, 1.0],
        bounds=[None, (0, None)],
    )
    np.testing.assert_allclose(est.params["theta"], [x.mean(), x.var()], rtol=1e-8)
    np.testing.assert_allclose(est.cov, closed.cov, rtol=1e-5, atol=1e-8)
    with pytest.raises(ValueError, match="bounds for parameter 1 must be a pair"):
        mle.numerical(lambda t, d: -(t**2).sum(), x, [1.0, 1.0], bounds=[None, 5])
    with pytest.raises(ValueError, match="bounds for b must have low <= high"):
        mle.numerical(lambda t, d: -(t**2).sum(), x, {"a": 1.0, "b": 1.0}, bounds={"b": (2, 1)})


def test_numerical_counts_observations_of_a_dict_and_takes_n():
    x = np.array([2.1, 0.7, 1.5, 3.2, 1.1, 2.4, 0.9, 1.8])

    def loglik(t, d):  # returns the sum, so n comes from the data
        with np.errstate(divide="ignore"):  # L-BFGS-B may try the bound 0
            return np.sum(np.log(t[0]) - t[0] * d["x"])

    est = mle.numerical(loglik, {"x": x}, [1.0], bounds=[(0, None)])
    assert est.n == 8
    assert est.params["theta"][0] == pytest.approx(1 / x.mean(), rel=1e-8)
    assert est.stderr["theta"][0] == pytest.approx(mle.exponential(x).stderr["rate"], rel=1e-6)
    assert mle.numerical(loglik, {"x": x}, [1.0], bounds=[(0, None)], n=4).n == 4
    with pytest.raises(ValueError, match="n must be a positive whole number"):
        mle.numerical(loglik, {"x": x}, [1.0], n=0)


# ---- Wald intervals stay inside the parameter space ------------------------------------------


def test_intervals_of_a_rate_are_wald_on_the_log_scale_as_a_poisson_glm():
    sm = pytest.importorskip("statsmodels.api")
    counts = np.array(POISSON_SAMPLE)
    # the intercept of a Poisson GLM with the log link is log(rate), with the same
    # information; its Wald interval, exponentiated, is ours
    glm = sm.GLM(counts, np.ones((10, 1)), sm.families.Poisson()).fit(tol=1e-14)
    low, high = np.exp(glm.conf_int(0.05)[0])
    assert mle.poisson(counts).conf_int(0.95)["rate"] == pytest.approx((low, high), rel=1e-10)
    # one count of 3: the plain Wald interval was (-0.39, 6.39)
    z = stats.norm.ppf(0.975)
    expected = 3 * np.exp(np.array([-1, 1]) * z / np.sqrt(3))  # se(log rate) = 1/sqrt(N rate)
    assert mle.poisson([3]).conf_int()["rate"] == pytest.approx(tuple(expected), rel=1e-12)


def test_intervals_of_a_probability_are_wald_on_the_logit_scale_as_a_logistic_glm():
    sm = pytest.importorskip("statsmodels.api")
    from scipy.special import expit

    y = np.array([1, 1, 0])  # p = 2/3 from three tosses: the plain interval was [0.13, 1.20]
    glm = sm.GLM(y, np.ones((3, 1)), sm.families.Binomial()).fit(tol=1e-14)
    expected = tuple(expit(glm.conf_int(0.05)[0]))
    assert mle.bernoulli(y).conf_int()["p"] == pytest.approx(expected, rel=1e-10)
    assert mle.binomial(2, 3).conf_int()["p"] == pytest.approx(expected, rel=1e-10)
    cat = mle.categorical([0, 0, 1, 2])  # probs[1] = 1/4: the plain interval went below 0
    low, high = cat.conf_int()["probs"]
    glm = sm.GLM(np.array([0, 1, 0, 0]), np.ones((4, 1)), sm.families.Binomial()).fit(tol=1e-14)
    assert (low[1], high[1]) == pytest.approx(tuple(expit(glm.conf_int(0.05)[0])), rel=1e-10)
    assert (low > 0).all() and (high < 1).all()


def test_variance_intervals_are_positive_and_unbounded_entries_symmetric():
    x = np.array([1.5, 2.5, 3.5])  # the plain variance interval was [-0.400, 1.734]
    est = mle.normal(x)
    v, z = np.var(x), stats.norm.ppf(0.975)
    ci = est.conf_int()
    # log scale: Var log v = (2 v^2 / N) / v^2 = 2 / N
    assert ci["variance"] == pytest.approx(v * np.exp(np.array([-1, 1]) * z * np.sqrt(2 / 3)))
    assert ci["mean"] == pytest.approx(x.mean() + np.array([-1, 1]) * z * np.sqrt(v / 3))
    text = est.report()
    assert "Intervals of variance on the log scale" in text and "mean" not in text.splitlines()[-1]
    # regression coefficients are unbounded: plain Wald (as statsmodels); the variance is not
    reg = mle.linear_regression([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 5.0])
    low, high = reg.conf_int()["coef"]
    assert high - reg.params["coef"] == pytest.approx(reg.params["coef"] - low)
    assert reg.conf_int()["variance"][0] > 0


def test_numerical_intervals_respect_the_bounds():
    x = np.array([0.5, 1.2, 0.3, 2.0, 0.9, 2.6])
    est = mle.numerical(
        lambda t, d: np.log(t[0]) - t[0] * d, x, {"rate": 1.0}, bounds={"rate": (0, None)}
    )
    assert est.conf_int()["rate"] == pytest.approx(mle.exponential(x).conf_int()["rate"], rel=1e-6)
    both = mle.numerical(
        lambda t, d: stats.binom.logpmf(d, 10, t[0]), np.array([1, 0, 2]), [0.5], [(0, 1)]
    )
    low, high = both.conf_int()["theta"]
    assert 0 < low[0] < both.params["theta"][0] < high[0] < 1
    assert "logit scale" in both.report()


# ---- log-likelihoods of huge counts ----------------------------------------------------------


def test_poisson_loglik_of_huge_counts_matches_mpmath():
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 50

    def exact(counts):
        rate = mp.mpf(sum(counts)) / len(counts)
        return float(sum(k * mp.log(rate) - rate - mp.loggamma(k + 1) for k in map(mp.mpf, counts)))

    # k log(rate) - rate - log k! cancels terms of 4e19 at 2**60 (the old result was 0.0)
    for counts in ([2**60, 2**60 + 2**10], [10**15, 3 * 10**15 + 7, 0], [0, 1, 17, 40, 3]):
        assert mle.poisson(counts).loglik == pytest.approx(exact(counts), rel=1e-13)
    assert mle.poisson([2**60, 2**60 + 2**10]).loglik == pytest.approx(-43.4267079, rel=1e-9)
    # and scipy's own on ordinary counts
    rng = np.random.default_rng(2)
    x = rng.poisson(40.0, 300)
    assert mle.poisson(x).loglik == pytest.approx(
        stats.poisson.logpmf(x, x.mean()).sum(), rel=1e-13
    )


def test_binomial_loglik_of_huge_trials_matches_mpmath():
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 60

    def exact(k, n):
        p = mp.mpf(sum(k)) / sum(n)
        return float(
            sum(
                mp.loggamma(ni + 1)
                - mp.loggamma(ki + 1)
                - mp.loggamma(ni - ki + 1)
                + ki * mp.log(p)
                + (ni - ki) * mp.log(1 - p)
                for ki, ni in zip(map(mp.mpf, k), map(mp.mpf, n), strict=True)
            )
        )

    for k, n in (
        ([2**53 + 2], [2**54]),  # 2**53 + 1 is refused: float64 cannot hold it
        ([3, 0, 10], [10, 10, 10]),
        ([10**12, 7], [3 * 10**12, 20]),
        ([0, 20], [10**18, 10**18]),  # p of 1e-17: 1 - p rounds to 1
    ):
        assert mle.binomial(k, n).loglik == pytest.approx(exact(k, n), rel=1e-12)


# ---- categorical: missing values and declared categories -------------------------------------


@pytest.mark.parametrize(
    "x",
    [
        pd.Series(["a", pd.NA, "b", "a"], dtype="string"),
        pd.Series(["a", None, "b", "a"], dtype="string"),
        pd.Series(["a", None, "b"]),
        np.array(["a", np.nan, "b"], dtype=object),
        pd.Series(pd.Categorical(["a", None, "b"])),
    ],
    ids=["string-NA", "string-None", "object-None", "object-NaN", "categorical-NaN"],
)
def test_categorical_refuses_missing_values(x):
    with pytest.raises(ValueError, match="missing value.*drop them first"):
        mle.categorical(x)


def test_categorical_keeps_declared_categories_that_never_occur():
    s = pd.Series(pd.Categorical(["c", "a", "a"], categories=["c", "b", "a"]))
    with pytest.warns(DegenerateFitWarning, match=r"probs\[b\] = 0.*\[0, 0\.7076\]"):
        est = mle.categorical(s)
    np.testing.assert_allclose(est.params["probs"], [1 / 3, 0, 2 / 3])  # declared order
    assert est.summary().index.tolist() == ["probs[c]", "probs[b]", "probs[a]"]
    assert est.loglik == pytest.approx(np.log(1 / 3) + 2 * np.log(2 / 3))
    p = np.array([1 / 3, 2 / 3])
    np.testing.assert_allclose(est.stderr["probs"][[0, 2]], np.sqrt(p * (1 - p) / 3))
    assert np.isnan(est.stderr["probs"][1])
    assert stats.binomtest(0, 3).proportion_ci().high == pytest.approx(0.7076, abs=1e-4)
    with pytest.warns(DegenerateFitWarning):
        same = mle.categorical(s.array, n_categories=3)  # a bare Categorical, K given
    np.testing.assert_allclose(same.params["probs"], est.params["probs"])
    with pytest.raises(ValueError, match="declares 3 categories"):
        mle.categorical(s, n_categories=2)


# ---- models without coefficients, and names from DataFrames ----------------------------------


def test_linear_regression_without_columns_is_the_normal_with_mean_zero():
    y = np.array([1.0, 2, 3, 4, 6])
    est = mle.linear_regression(np.empty((5, 0)), y, fit_intercept=False)
    v = np.mean(y**2)  # closed form: y ~ N(0, v)
    assert est.params["coef"].shape == (0,)
    assert est.params["variance"] == pytest.approx(v)
    assert est.stderr["variance"] == pytest.approx(v * np.sqrt(2 / 5))
    assert est.loglik == pytest.approx(stats.norm.logpdf(y, 0, np.sqrt(v)).sum())
    assert "variance" in est.report()


def test_dataframe_columns_name_rows_and_messages():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"height": rng.normal(size=30), "weight": rng.normal(size=30)})
    y = 1 + X["height"] - X["weight"] + rng.normal(size=30)
    est = mle.linear_regression(X, y)
    assert est.summary().index.tolist() == ["intercept", "height", "weight", "variance"]
    with pytest.raises(ValueError, match="double is a linear combination of intercept, height"):
        mle.linear_regression(X.assign(double=2 * X["height"]), y)
    mv = mle.multivariate_normal(X)
    assert mv.summary().index.tolist()[:3] == [
        "mean[height]",
        "mean[weight]",
        "covariance[height,height]",
    ]
    with pytest.raises(ValueError, match="column.s. n are constant; drop them"):
        mle.multivariate_normal(X.assign(n=1.0))
    with pytest.raises(
        ValueError, match="rank 2 < 3.: sum is a linear combination of height, weight"
    ):
        mle.multivariate_normal(X.assign(sum=X["height"] + X["weight"] + 3))


def test_binomial_shape_mismatch_names_k_and_n():
    with pytest.raises(ValueError, match=r"k has shape \(3,\) and n has shape \(2,\); give n"):
        mle.binomial([1, 2, 3], [5, 5])
