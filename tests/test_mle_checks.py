"""emkit.mle: intervals of nonlinear regression inside the parameter space, exact fits,
one-category fits, and the shapes numerical() accepts from logpdf and grad."""

import re
import warnings
from fractions import Fraction

import numpy as np
import pytest
from scipy import optimize, stats

from emkit import bayes, mle
from emkit.checks import MAX_CATEGORIES
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


# ---- an exact fit has no noise to estimate -------------------------------------------------


def test_exact_linear_fit_warns_that_the_residuals_are_zero():
    x = np.arange(10.0)
    with pytest.warns(DegenerateFitWarning, match="residuals are all exactly 0") as caught:
        est = mle.linear_regression(x[:, None], 2 * x + 1)
    assert "linear function of the columns" in str(caught[0].message)
    # the coefficients interpolate exactly (numpy's least squares agrees)
    coef = np.linalg.lstsq(np.c_[np.ones(10), x], 2 * x + 1, rcond=None)[0]
    assert [est.params["intercept"], est.params["coef"][0]] == pytest.approx(coef, abs=1e-12)
    assert est.params["variance"] == 0 and est.loglik == np.inf


def test_exact_fit_up_to_rounding_warns_for_both_regressions():
    # 1/3 is not a binary fraction: the residuals are rounding, not exactly 0
    x = np.linspace(0, 1, 12)
    with pytest.warns(DegenerateFitWarning, match="0 up to rounding"):
        mle.linear_regression(x[:, None], x / 3 + 0.1)
    y = 3 * np.exp(-0.7 * T)
    with pytest.warns(DegenerateFitWarning, match=r"0 up to rounding .*exactly f\(x, theta\)"):
        est = mle.nonlinear_regression(decay, T, y, {"a": 1.0, "k": 0.5})
    assert [est.params["a"], est.params["k"]] == pytest.approx([3.0, 0.7], rel=1e-12)


def test_noise_just_above_rounding_does_not_warn():
    # residuals of 1e-10 on y ~ 1 (Lanczos1 has 4e-14) are noise, not rounding
    rng = np.random.default_rng(3)
    x = np.linspace(0, 1, 20)
    y = 1 + 2 * x + rng.normal(0, 1e-10, 20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = mle.linear_regression(x[:, None], y)
        nl = mle.nonlinear_regression(lambda x, a, b: a + b * x, x, y, [0.0, 0.0])
    resid = y - np.polyval(np.polyfit(x, y, 1), x)
    assert est.rss == pytest.approx(resid @ resid, rel=1e-6)
    assert nl.rss == pytest.approx(resid @ resid, rel=1e-6)


def test_nist_exact_problems_warn_and_keep_their_certified_values():
    import nist_strd as strd

    for name in ("Wampler1", "Wampler2"):  # certified residual SD 0
        p = strd.load(name)
        X, _ = strd.design(p)
        with pytest.warns(DegenerateFitWarning, match="residuals are all"):
            est = mle.linear_regression(X, p.y, variance="unbiased")
        coef = np.r_[est.params["intercept"], est.params["coef"]]
        assert strd.lre(coef, p.params).min() >= 7


# ---- one category: its probability is 1 by definition ----------------------------------------


@pytest.mark.parametrize(
    "fit",
    [
        lambda: mle.categorical([0, 0, 0]),
        lambda: mle.categorical([0, 0, 0], n_categories=1),
        lambda: mle.categorical(["red"] * 4),
    ],
    ids=["inferred", "declared", "named"],
)
def test_one_category_is_certain_without_a_boundary_warning(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = fit()
        text = est.report()
    table = est.summary()
    assert table["estimate"].tolist() == [1.0] and table["std_err"].tolist() == [0.0]
    assert (table["ci_low"].iloc[0], table["ci_high"].iloc[0]) == (1.0, 1.0)
    assert "Intervals of" not in text  # no logit scale for a fixed probability


def test_one_observed_category_of_two_keeps_the_exact_interval_warning():
    with pytest.warns(DegenerateFitWarning, match="boundary") as caught:
        est = mle.categorical([0, 0, 0], n_categories=2)
    ci = stats.binomtest(3, 3).proportion_ci(0.95)
    assert (
        f"probs[0] = 1: the exact 95% interval (Clopper-Pearson, scipy.stats.binomtest) is "
        f"[{ci.low:.4g}, {ci.high:.4g}]" in str(caught[0].message)
    )
    assert np.isnan(est.stderr["probs"]).all()


# ---- numerical: the shapes of logpdf's and grad's output -------------------------------------

X40 = np.random.default_rng(1).normal(size=40)


def _normal_logpdf(t, x):
    return stats.norm.logpdf(x, t[0], 1.0)


def test_numerical_refuses_a_gradient_per_observation():
    with pytest.raises(ValueError, match=r"grad returned shape \(40,\); .* shape \(1,\)"):
        mle.numerical(_normal_logpdf, X40, [0.0], grad=lambda t, x: x - t[0])
    with pytest.raises(ValueError, match=r"grad returned shape \(40, 2\); .* shape \(2,\)"):
        mle.numerical(
            lambda t, x: stats.norm.logpdf(x, t[0], np.exp(t[1])),
            X40,
            [0.0, 0.0],
            grad=lambda t, x: np.c_[x - t[0], (x - t[0]) ** 2 - 1],
        )
    with pytest.raises(ValueError, match="grad is not finite at start"):
        mle.numerical(_normal_logpdf, X40, [0.0], grad=lambda t, x: np.array([np.nan]))
    # the total gradient, as an array of shape (1,) or a float, is the closed form
    for grad in (lambda t, x: np.array([np.sum(x - t[0])]), lambda t, x: np.sum(x - t[0])):
        est = mle.numerical(_normal_logpdf, X40, [0.0], grad=grad)
        assert est.params["theta"][0] == pytest.approx(X40.mean(), abs=1e-8)
        assert est.stderr["theta"][0] == pytest.approx(1 / np.sqrt(40), rel=1e-6)


def test_numerical_takes_n_from_logpdf_and_refuses_another_n():
    with pytest.raises(ValueError, match="logpdf returned 40 values but n=20"):
        mle.numerical(_normal_logpdf, X40, [0.0], n=20)
    with pytest.raises(ValueError, match=r"returned shape \(40, 1\)"):
        mle.numerical(lambda t, x: _normal_logpdf(t, x)[:, None], X40, [0.0])
    # a conditional likelihood: an AR(1) gives one value per row after the first; its
    # estimate is least squares of x_t on x_{t-1} (closed form), n the values given
    rng = np.random.default_rng(4)
    ar = np.zeros(300)
    for t in range(1, 300):
        ar[t] = 0.6 * ar[t - 1] + rng.normal()

    def ar1(theta, x):
        return stats.norm.logpdf(x[1:], theta[0] * x[:-1], np.exp(theta[1]))

    est = mle.numerical(ar1, ar, {"phi": 0.0, "log_sigma": 0.0})
    phi = float(ar[1:] @ ar[:-1] / (ar[:-1] @ ar[:-1]))
    assert est.n == 299 and est.params["phi"] == pytest.approx(phi, abs=1e-6)
    # dict data whose first member is not the observations
    data = {"k": np.array([1, 2]), "y": X40}
    assert mle.numerical(lambda t, d: _normal_logpdf(t, d["y"]), data, [0.0]).n == 40
    est = mle.numerical(lambda t, d: _normal_logpdf(t, d[:39]), X40, [0.0], n=39)
    assert est.n == 39 and est.params["theta"][0] == pytest.approx(X40[:39].mean(), abs=1e-6)


@pytest.mark.parametrize("with_grad", [False, True])
def test_numerical_holds_parameters_fixed_by_equal_bounds(with_grad):
    # the mean fixed at 1: sigma's MLE and error are the known-mean closed forms
    x = np.random.default_rng(5).normal(1.0, 2.0, 200)

    def grad(t, x):
        z = (x - t[0]) / t[1]
        return np.array([np.sum(z) / t[1], np.sum(z**2 - 1) / t[1]])

    est = mle.numerical(
        lambda t, x: stats.norm.logpdf(x, t[0], t[1]),
        x,
        {"mean": 1.0, "sd": 1.5},
        bounds={"mean": (1.0, 1.0), "sd": (1e-3, None)},
        grad=grad if with_grad else None,
    )
    sd = np.sqrt(np.mean((x - 1.0) ** 2))
    # held, not estimated: no standard error (it read 0, as if the data fixed the mean)
    assert est.params["mean"] == 1.0 and np.isnan(est.stderr["mean"])
    assert est.params["sd"] == pytest.approx(sd, rel=1e-8)
    assert est.stderr["sd"] == pytest.approx(sd / np.sqrt(2 * x.size), rel=1e-5)
    assert np.isnan(est.conf_int()["mean"]).all()
    assert est.loglik == pytest.approx(stats.norm.logpdf(x, 1.0, sd).sum(), rel=1e-12)


def test_numerical_parameter_held_by_bounds_has_no_error_and_the_others_the_held_fit_ones():
    # sigma held at 2 by bounds (2, 2) said its standard error was 0; the mean's error and
    # interval are those of the fit with sigma = 2 plugged into logpdf, sigma / sqrt(n)
    x = np.random.default_rng(7).normal(1.0, 2.0, 80)
    held = mle.numerical(
        lambda t, x: stats.norm.logpdf(x, t[0], t[1]),
        x,
        {"mean": 0.0, "sigma": 2.0},
        bounds={"sigma": (2.0, 2.0)},
    )
    plugged = mle.numerical(lambda t, x: stats.norm.logpdf(x, t[0], 2.0), x, {"mean": 0.0})
    assert held.params["mean"] == pytest.approx(x.mean(), rel=1e-8)
    assert held.params["mean"] == pytest.approx(plugged.params["mean"], rel=1e-10)
    assert held.stderr["mean"] == pytest.approx(plugged.stderr["mean"], rel=1e-6)
    assert held.stderr["mean"] == pytest.approx(2.0 / np.sqrt(x.size), rel=1e-5)
    np.testing.assert_allclose(held.conf_int()["mean"], plugged.conf_int()["mean"], rtol=1e-6)
    assert held.params["sigma"] == 2.0 and np.isnan(held.stderr["sigma"])
    assert np.isnan(held.cov[1]).all() and np.isnan(held.cov[:, 1]).all()
    assert np.isnan(held.conf_int()["sigma"]).all()
    table = held.summary()
    assert np.isnan(table.loc["sigma", ["std_err", "z", "p_value", "ci_low", "ci_high"]]).all()
    note = "Held by equal bounds, not estimated: sigma = 2 (no standard error"
    assert table.attrs["held"].startswith(note) and note in held.report()
    assert "held" not in plugged.summary().attrs
    # a transform of the free parameter keeps its error
    twice = held.transform(lambda mean, sigma: 2 * mean, "twice")
    assert twice.stderr["twice"] == pytest.approx(2 * plugged.stderr["mean"], rel=1e-6)


# ---- numerical: an estimate on its bound -----------------------------------------------------


@pytest.mark.parametrize("with_grad", [False, True])
def test_numerical_errors_beside_a_mean_on_its_bound_are_the_known_mean_ones(with_grad):
    # mean >= 0 with data of mean -0.5: the MLE holds the mean at 0, where it has no Wald
    # error; the sd's MLE and error are the closed forms with the mean known to be 0,
    # sqrt(mean x^2) and sd / sqrt(2n) (every error was NaN).
    x = np.random.default_rng(0).normal(-0.5, 2.0, 200)

    def grad(t, x):
        z = (x - t[0]) / t[1]
        return np.array([np.sum(z) / t[1], np.sum(z**2 - 1) / t[1]])

    with pytest.warns(mle.HessianWarning, match=r"mean = 0 lies on the bound.*NaN for mean"):
        est = mle.numerical(
            lambda t, x: stats.norm.logpdf(x, t[0], t[1]),
            x,
            {"mean": 1.0, "sd": 1.0},
            bounds={"mean": (0.0, None), "sd": (1e-6, None)},
            grad=grad if with_grad else None,
        )
    sd = np.sqrt(np.mean(x**2))
    assert est.params["mean"] == 0.0 and np.isnan(est.stderr["mean"])
    assert est.params["sd"] == pytest.approx(sd, rel=1e-8)
    assert est.stderr["sd"] == pytest.approx(sd / np.sqrt(2 * x.size), rel=1e-5)
    assert np.isnan(est.conf_int()["mean"]).all()
    # the sd's interval: Wald on the log scale (its lower bound is 1e-6), from that error
    q = stats.norm.ppf(0.975) * sd / np.sqrt(2 * x.size) / (sd - 1e-6)
    expected = 1e-6 + (sd - 1e-6) * np.exp([-q, q])
    assert est.conf_int()["sd"] == pytest.approx(expected, rel=1e-5)


def test_numerical_covariance_beside_a_bound_is_that_of_the_free_parameters():
    # y = a + b t + N(0, s^2) with s <= 0.5 where the residual sd is about 1: s stays at 0.5,
    # and (a, b) have the covariance of least squares with a known variance, 0.25 (T'T)^-1,
    # the inverse information of the free parameters; nothing ties them to s.
    rng = np.random.default_rng(3)
    t = np.linspace(0.0, 4.0, 60)
    y = 1.0 + 0.5 * t + rng.normal(0.0, 1.0, t.size)

    def loglik(theta, d):
        a, b, s = theta
        return stats.norm.logpdf(d[1], a + b * d[0], s)

    with pytest.warns(mle.HessianWarning, match="s = 0.5 lies on the bound"):
        est = mle.numerical(
            loglik, (t, y), {"a": 0.0, "b": 0.0, "s": 0.3}, bounds={"s": (1e-6, 0.5)}
        )
    design = np.column_stack([np.ones_like(t), t])
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    assert [est.params["a"], est.params["b"]] == pytest.approx(coef, rel=1e-7)
    assert est.params["s"] == 0.5 and np.isnan(est.stderr["s"])
    np.testing.assert_allclose(est.cov[:2, :2], 0.25 * np.linalg.inv(design.T @ design), rtol=1e-5)
    assert (est.cov[2, :2] == 0).all() and (est.cov[:2, 2] == 0).all()
    # a function of the free parameters alone keeps its delta-method error
    total = est.transform(lambda a, b, s: a + b, "a_plus_b")
    assert total.stderr["a_plus_b"] == pytest.approx(
        np.sqrt(0.25 * np.array([1, 1]) @ np.linalg.inv(design.T @ design) @ [1, 1]), rel=1e-5
    )


@pytest.mark.parametrize("bad", [2.7, 0, -3, True, np.inf, "3"])
def test_categorical_n_categories_must_be_a_positive_integer_as_in_bayes(bad):
    # mle.categorical([0, 1], n_categories=2.7) fitted K = 2; -3 and 0 said "label 1 is not
    # below n_categories=-3"
    message = f"n_categories must be a positive integer, got {bad!r}"
    with pytest.raises(ValueError, match=re.escape(message)):
        mle.categorical([0, 1], n_categories=bad)
    with pytest.raises(ValueError, match=re.escape(message)):
        bayes.dirichlet_categorical([0, 1], n_categories=bad)
    with pytest.raises(ValueError, match=re.escape(message)):
        mle.categorical(["a", "b"], n_categories=bad)


def test_categorical_n_categories_as_a_whole_float():
    with pytest.warns(DegenerateFitWarning, match=r"probs\[2\] = 0"):  # never observed
        est = mle.categorical([0, 1, 1], n_categories=3.0)
    np.testing.assert_allclose(est.params["probs"], [1 / 3, 2 / 3, 0.0], rtol=1e-15)


def test_multivariate_normal_reads_a_vector_as_one_column_as_normal_does():
    # documented (n, d) only; a vector is one column in every mle / bayes function taking X
    # (linear_regression, normal_inverse_wishart, ridge), so it is documented, not refused
    x = np.random.default_rng(3).normal(2.0, 1.5, size=40)
    vector, column, normal = (
        mle.multivariate_normal(x),
        mle.multivariate_normal(x[:, None]),
        mle.normal(x),
    )
    np.testing.assert_array_equal(vector.params["covariance"], column.params["covariance"])
    assert vector.params["mean"][0] == pytest.approx(np.mean(x), rel=1e-14)
    assert vector.params["covariance"][0, 0] == pytest.approx(np.var(x), rel=1e-13)
    assert vector.loglik == pytest.approx(normal.loglik, rel=1e-13)
    assert vector.loglik == pytest.approx(stats.norm(np.mean(x), np.std(x)).logpdf(x).sum())


# ---- integers float64 cannot hold ------------------------------------------------------------


def test_integers_float64_cannot_hold_are_refused_saying_subtract_an_offset():
    # distinct values said "normal needs values that are not all equal"; 2**62 + (0, 2000,
    # 4000) gave the variance 2796202.67 for 2666666.67 without a word
    for x in ([2**62, 2**62 + 2, 2**62 + 4], [2**62, 2**62 + 2000, 2**62 + 4000]):
        with pytest.raises(ValueError, match=r"beyond 2\*\*53 .*x - x.min\(\)"):
            mle.normal(np.array(x, dtype=np.int64))
    with pytest.raises(ValueError, match=r"18446744073709551615, which float64 stores as"):
        mle.poisson(np.array([2**64 - 1, 3], dtype=np.uint64))
    with pytest.raises(ValueError, match=r"mle.multivariate_normal: X holds 1 integer"):
        mle.multivariate_normal(np.array([[2**60 + 1, 0], [0, 1], [1, 1]], dtype=np.int64))
    with pytest.raises(ValueError, match=r"bayes.normal_inverse_gamma: x holds"):
        bayes.normal_inverse_gamma(np.array([2**62, 2**62 + 2], dtype=np.int64))
    # what float64 holds exactly is read: multiples of the spacing 1024 at 2**62, and the
    # offsets the message suggests, whose variance is the exact one
    x = np.array([2**62, 2**62 + 2000, 2**62 + 4000], dtype=np.int64)
    exact = mle.normal(x - x.min()).params["variance"]
    assert exact == pytest.approx(np.var([0.0, 2000.0, 4000.0]), rel=1e-15)
    spaced = mle.normal(np.array([2**62, 2**62 + 1024, 2**62 + 2048], dtype=np.int64))
    assert spaced.params["variance"] == pytest.approx(np.var([0.0, 1024.0, 2048.0]), rel=1e-12)
    assert mle.normal(np.array([2**53, -(2**53), 0])).params["mean"] == 0.0


# ---- values near float64's limit -------------------------------------------------------------


@pytest.mark.parametrize(
    "x", [[1e308, -1e308, 1e308], [1.5e308, 1.6e308], [1.7e308, -1.7e308], [1e200, 2e200, 3e200]]
)
def test_normal_near_float64s_limit_says_rescale(x):
    # near 1e308 said "Normal variance must be non-negative; got [nan]" or "Normal mean must
    # be finite; got [nan]", where 1e200 said to rescale
    largest = f"{np.max(np.abs(x)):.3g}".replace("+", r"\+")
    with pytest.raises(ValueError, match=rf"normal: values as large as {largest} .*rescale"):
        mle.normal(x)
    scaled = mle.normal(np.array(x) / 1e300)  # what the message asks for
    assert np.isfinite(scaled.params["mean"]) and np.isfinite(scaled.params["variance"])


# ---- pandas nullable columns: pd.NA is a missing value ---------------------------------------


def test_pd_na_in_nullable_dataframe_columns_is_read_as_missing():
    # two Float64 columns with one pd.NA said "X must hold numbers; float() argument must be
    # ... not 'NAType'", one column the NaN message
    pd = pytest.importorskip("pandas")
    y = np.array([1.1, 2.0, 2.9, 4.2, 5.1, 5.8])
    X = pd.DataFrame(
        {
            "a": pd.array([1.0, None, 3.0, 4.0, 5.0, 6.0], dtype="Float64"),
            "b": pd.array([0.5, 0.1, 0.9, 0.4, 0.2, 0.7], dtype="Float64"),
        }
    )
    for call in (
        lambda: mle.linear_regression(X, y),
        lambda: mle.linear_regression(X[["a"]], y),
        lambda: mle.multivariate_normal(X),
        lambda: bayes.normal_inverse_wishart(X),
        lambda: bayes.ridge(X, y, alpha=1.0),
    ):
        with pytest.raises(ValueError, match=r"X has 1 NaN value\(s\); drop or impute them first"):
            call()
    with pytest.raises(ValueError, match=r"y has 1 NaN value\(s\)"):
        mle.linear_regression(X.fillna(0.0), pd.Series(y, dtype="Float64").where(y < 5.5, pd.NA))
    # without pd.NA the nullable columns are the float64 ones; text is still not numbers
    full = X.fillna(2.0)
    expected = mle.multivariate_normal(full.to_numpy(dtype=float)).params["mean"]
    np.testing.assert_array_equal(mle.multivariate_normal(full).params["mean"], expected)
    with pytest.raises(ValueError, match="X must hold numbers"):
        mle.multivariate_normal(pd.DataFrame({"a": ["x", "y", "z"], "b": [1.0, 2.0, 3.0]}))


# ---- numerical: NaN in the data --------------------------------------------------------------


def test_numerical_refuses_nan_data_up_front_and_names_rows_not_finite_at_start():
    # NaN data said "logpdf is not finite at start; choose a start inside the support"
    x = np.array([0.3, 1.2, np.nan, 2.0, 0.7])

    def normal(theta, x):
        return stats.norm.logpdf(x, theta[0], theta[1])

    start, bounds = {"m": 0.0, "s": 1.0}, {"s": (1e-9, None)}
    with pytest.raises(ValueError, match=r"^data has 1 NaN value\(s\); drop or impute them"):
        mle.numerical(normal, x, start=start, bounds=bounds)
    with pytest.raises(ValueError, match=r"^data\['x'\] has 1 NaN value"):
        mle.numerical(lambda t, d: normal(t, d["x"]), {"x": list(x)}, start=start, bounds=bounds)
    with pytest.raises(ValueError, match=r"^data\[1\] has 1 NaN value"):
        mle.numerical(lambda t, d: normal(t, d[1]), (None, x), start=start, bounds=bounds)
    # outside the support at start: the observations are named
    negative = np.array([0.3, 1.2, -1.0, 2.0, 0.7])
    with pytest.raises(
        ValueError, match=r"not finite at start for 1 of the 5 observations \(\[2\]\)"
    ):
        mle.numerical(
            lambda t, x: stats.expon.logpdf(x, scale=t[0]),
            negative,
            start=[1.0],
            bounds=[(1e-9, None)],
        )
    # inf stays data (an upper limit of interval censoring): P(low < X < high)
    low, high = np.array([0.2, 1.0, 0.5, 2.0]), np.array([0.8, np.inf, 1.5, np.inf])

    def censored(theta, d):
        return np.log(stats.expon.sf(d[0], scale=theta[0]) - stats.expon.sf(d[1], scale=theta[0]))

    est = mle.numerical(censored, (low, high), start=[1.0], bounds=[(1e-6, None)])
    best = optimize.minimize_scalar(
        lambda s: -censored([s], (low, high)).sum(),
        bounds=(0.1, 50),
        method="bounded",
        options={"xatol": 1e-12},
    )
    assert est.params["theta"][0] == pytest.approx(best.x, rel=1e-6)


# ---- interval levels -------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["0.9", None, True, 0.9j])
def test_a_level_that_is_not_a_number_is_refused_clearly(level):
    # conf_int("0.9") raised "TypeError: '<' not supported between instances of 'int' and 'str'"
    est = mle.normal([1.0, 2.0, 4.0])
    post = bayes.beta_bernoulli([1, 0, 1])
    for call in (est.conf_int, est.summary, post.interval, post.predictive().interval):
        with pytest.raises(ValueError, match=r"level must be a number strictly between 0 and 1"):
            call(level)
    low, high = est.conf_int(np.float64(0.9))["mean"]
    z = stats.norm.ppf(0.95)
    assert (low, high) == pytest.approx(
        (est.params["mean"] - z * est.stderr["mean"], est.params["mean"] + z * est.stderr["mean"]),
        rel=1e-12,
    )


def test_binomial_refuses_counts_float64_cannot_hold():
    # k = 2**60 + 1 became 2**60 without a word: p = 0.5 from rounded counts
    k = np.array([2**60 + 1, 2**60], dtype=np.int64)
    with pytest.raises(ValueError, match=r"mle.binomial: k holds 1 integer.*convert k and n"):
        mle.binomial(k, n=2**61)
    with pytest.raises(ValueError, match=r"mle.binomial: n holds 1 integer.*beyond 2\*\*53"):
        mle.binomial([3, 5], n=np.array([2**60 + 1, 2**61], dtype=np.int64))
    # counts float64 holds exactly (multiples of its spacing there) give the exact proportion
    k = np.array([2**60, 3 * 2**58], dtype=np.int64)
    est = mle.binomial(k, n=2**61)
    assert est.params["p"] == float(Fraction(2**60 + 3 * 2**58, 2**62))


# closed-form MLEs near float64's limit: the statistics overflow before the fit
NEAR_LIMIT = [1.7e308, 1.6e308, 1.5e308]


@pytest.mark.parametrize(
    "fit, quantity",
    [
        (mle.exponential, "the sum"),
        (mle.gamma, "the mean"),
        (mle.poisson, "the total count"),
        (mle.normal, "the mean or the variance"),
    ],
)
def test_closed_forms_near_float64s_limit_say_rescale_without_warnings(fit, quantity):
    # exponential said "Exponential rate must be positive; got [0.0]", gamma "Gamma shape must
    # be positive; got [nan]" after RuntimeWarnings, poisson returned a rate of inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(
            ValueError,
            match=rf"values as large as 1.7e\+308 overflow float64 .*\({quantity} is not finite\)",
        ):
            fit(NEAR_LIMIT)
    # what the message asks for: the closed forms on the data divided by 1e300
    scaled = np.array(NEAR_LIMIT) / 1e300
    if fit is mle.exponential:
        assert fit(scaled).params["rate"] == pytest.approx(1 / scaled.mean(), rel=1e-15)
    if fit is mle.gamma:
        shape, _, scale = stats.gamma.fit(scaled, floc=0)
        est = fit(scaled)
        assert est.params["shape"] == pytest.approx(shape, rel=1e-4)
        assert est.params["rate"] == pytest.approx(1 / scale, rel=1e-4)


def test_binomial_and_poisson_of_counts_near_float64s_limit():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"binomial: .*\(the total of n is not finite\)"):
            mle.binomial([1e308, 1e308], [1.5e308, 1.5e308])
        # one count of 1.7e308 sums without overflow: its log-likelihood was NaN (k + rate
        # overflowed in Loader's bd0), now R's dpois(x, x, log = TRUE) = -0.5 log(2 pi x)
        est = mle.poisson([1.7e308])
    assert est.params["rate"] == 1.7e308
    assert est.loglik == pytest.approx(-0.5 * (np.log(2 * np.pi) + np.log(1.7e308)), rel=1e-12)


@pytest.mark.parametrize(
    "call",
    [
        lambda: mle.categorical([1e6, 0]),
        lambda: mle.categorical([1e308, 0]),
        lambda: mle.categorical([0, 1], n_categories=10**6),
        lambda: bayes.dirichlet_categorical([1e6, 0]),
        lambda: bayes.dirichlet_categorical([1e308, 0]),
        lambda: bayes.dirichlet_categorical([0, 1], n_categories=10**6),
    ],
)
def test_categorical_labels_far_beyond_a_code_are_refused_with_the_recoding(call):
    # Labels 0 and 1e6 made K = 1000001 categories and a K x K covariance: MemoryError asking
    # for 7.28 TiB (1e308: a 309-digit K in the message, or an OverflowError)
    with pytest.raises(ValueError, match=r"2 distinct label\(s\).*return_inverse=True"):
        call()


def test_categorical_takes_the_most_categories_it_allows():
    with pytest.warns(DegenerateFitWarning):  # categories never observed
        est = mle.categorical([MAX_CATEGORIES - 1, 0, 0])
    assert est.params["probs"].shape == (MAX_CATEGORIES,)
    assert est.params["probs"][[0, -1]].tolist() == pytest.approx([2 / 3, 1 / 3])


def test_numerical_with_every_parameter_held_gives_the_log_likelihood_there_without_a_word():
    # it ran the search and warned that the Hessian was not negative definite "on a bound"
    x = np.random.default_rng(0).normal(1.0, 2.0, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = mle.numerical(
            lambda theta, x: stats.norm.logpdf(x, theta[0], theta[1]),
            x,
            start=[1.0, 2.0],
            bounds=[(1.0, 1.0), (2.0, 2.0)],
        )
    assert est.loglik == pytest.approx(stats.norm.logpdf(x, 1.0, 2.0).sum(), rel=1e-14)
    assert np.isnan(est.cov).all() and est.params["theta"].tolist() == [1.0, 2.0]
    note = est.summary().attrs["held"]
    assert "theta[0] = 1, theta[1] = 2" in note and "the log-likelihood is the one at" in note


@pytest.mark.parametrize(
    "call, quantity",
    [
        (lambda: bayes.normal_known_variance([1.7e308, 1.6e308, 1.5e308], sigma=1.0), "mean"),
        (lambda: bayes.normal_inverse_gamma([1.7e308, 1.6e308, 1.5e308]), "scatter"),
        (lambda: bayes.gamma_poisson([1e308, 1e308, 5e307]), "total count"),
    ],
)
def test_conjugate_posteriors_near_float64s_limit_say_so_without_warnings(call, quantity):
    # normal_known_variance gave a NaN mean without a word; gamma_poisson said "posterior
    # shape must be a finite number > 0, got inf" after numpy's overflow warning
    message = f"overflow float64 when squared or summed .*{quantity}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=message):
            call()
    # rescaled as the message says: the flat prior's posterior mean is the sample mean
    scaled = bayes.normal_known_variance([1.7, 1.6, 1.5], sigma=1.0)
    assert scaled.mean == pytest.approx(1.6, rel=1e-15)


def test_named_labels_beyond_the_code_limit_are_categories_as_in_mle():
    # the limit is for integer codes: 5,000 distinct names are 5,000 categories
    names = [f"id{i}" for i in range(MAX_CATEGORIES + 904)]
    assert bayes.dirichlet_categorical(names).mean.shape == (len(names),)


def test_normal_known_variance_checks_only_the_mean_it_reads():
    # the scatter of [1e160, -1e160] overflows, but the posterior reads the mean alone
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        post = bayes.normal_known_variance([1e160, -1e160], sigma=1e160)
    assert post.mean == 0.0
