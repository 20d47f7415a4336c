"""Standard errors of a MixtureModel from Louis' observed information: against a
central-difference Hessian of the log-likelihood written here with scipy's densities, in the
families' own parameters, and against R flexmix's ``refit`` for a Poisson mixture."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import logsumexp

import emkit
from emkit import Categorical, Exponential, MixtureModel, Normal, Poisson
from emkit.mle.estimate import HessianWarning, hessian, jacobian, step_sizes

REFERENCE = Path(__file__).parent / "reference"


def _flat(params):
    return np.concatenate([np.ravel(v) for v in params.values()])


def _wald(loglik, theta, outputs=None):
    """Standard errors from the inverse negative central-difference Hessian at ``theta``
    (steps relative to max(|theta|, 1): a mean near 0 would get one lost in rounding)."""
    steps = step_sizes(np.maximum(np.abs(theta), 1.0), 1 / 4)
    cov = np.linalg.inv(-hessian(loglik, theta, steps))
    if outputs is not None:
        J = jacobian(outputs, theta)
        cov = J @ cov @ J.T
    return np.sqrt(np.diag(cov))


def _two_gamma_wald(x, model, est):
    """Wald errors of a two-Gamma mixture's (weights, shapes, rates) at its fit, from a
    central-difference Hessian of scipy's log-likelihood."""

    def loglik(theta):
        pi, shapes, rates = theta[0], theta[1:3], theta[3:5]
        logs = np.log([pi, 1 - pi]) + stats.gamma.logpdf(x, shapes, scale=1 / rates)
        return float(logsumexp(logs, axis=1).sum())

    theta = np.r_[model.weights_[0], est.params["shape"][:, 0], est.params["rate"][:, 0]]
    return _wald(loglik, theta, lambda t: np.r_[t[0], 1 - t[0], t[1:]])


def _poisson_counts():
    rng = np.random.default_rng(0)
    return np.r_[rng.poisson(2, 300), rng.poisson(9, 200)][:, None]


def test_poisson_mixture_matches_a_numerical_hessian_in_the_rates():
    x = _poisson_counts()
    model = MixtureModel([Poisson(), Poisson()], tol=1e-12, random_state=0).fit(x)
    est = model.estimate(x)
    rates = est.params["rate"][:, 0]
    assert est.params["rate"].shape == (2, 1)
    np.testing.assert_allclose(rates, [c.rate[0] for c in model.components_])

    def loglik(theta):
        logs = np.log([theta[0], 1 - theta[0]]) + stats.poisson.logpmf(x, theta[1:])
        return float(logsumexp(logs, axis=1).sum())

    theta = np.r_[model.weights_[0], rates]
    expected = _wald(loglik, theta, lambda t: np.r_[t[0], 1 - t[0], t[1:]])
    np.testing.assert_allclose(_flat(est.stderr), expected, rtol=1e-5)
    assert est.loglik == pytest.approx(model.log_likelihood_, rel=1e-12)
    # a rate's interval is Wald on the log scale: rate * exp(-+ q se / rate)
    low, high = model.conf_int(x, level=0.9)["rate"]
    q, rate, se = stats.norm.ppf(0.95), est.params["rate"], expected[2:, None]
    np.testing.assert_allclose(low, rate * np.exp(-q * se / rate), rtol=1e-5)
    np.testing.assert_allclose(high, rate * np.exp(q * se / rate), rtol=1e-5)


def test_a_rate_on_its_boundary_has_no_standard_error():
    """Component 0 holds no positive count of the second feature: its rate's MLE is 0, which
    EM reaches as 6e-12, and the estimate gave it a standard error of 6e-8 (an interval of
    [0, inf] on the log scale) without a word. Now NaN with a HessianWarning; the other
    errors are those of the likelihood with that rate held at 0 (numerical Hessian)."""
    rng = np.random.default_rng(0)
    first = np.r_[rng.poisson(3, 100), rng.poisson(9, 100)]
    x = np.column_stack([first, np.r_[np.zeros(100), rng.poisson(2, 100)]])
    model = MixtureModel([Poisson(), Poisson()], tol=1e-12, random_state=0).fit(x)
    rates = np.array([c.rate for c in model.components_])
    assert rates[0, 1] < 1e-9
    with pytest.warns(HessianWarning, match=r"boundary .*: rate\[0,1\] = "):
        est = model.estimate(x)
    se = est.stderr["rate"]
    assert np.isnan(se[0, 1]) and np.isnan(est.conf_int()["rate"][0][0, 1])

    def loglik(theta):
        rate = np.array([[theta[1], 0.0], [theta[2], theta[3]]])
        logs = np.log([theta[0], 1 - theta[0]]) + np.column_stack(
            [stats.poisson.logpmf(x, rate[j]).sum(axis=1) for j in range(2)]
        )
        return float(logsumexp(logs, axis=1).sum())

    theta = np.r_[model.weights_[0], rates[0, 0], rates[1]]
    expected = _wald(loglik, theta)
    np.testing.assert_allclose(
        np.r_[est.stderr["weights"][0], se[0, 0], se[1]], expected, rtol=1e-5
    )


def test_a_rate_of_exactly_zero_is_held_there():
    """Counts near 300 leave the other component no responsibility at all (z underflows to
    0), so its rate of the second feature is exactly 0, log rate -inf: estimate() stopped
    with 'Poisson rate must be non-negative; got [1.22, nan]'. The components are apart, so
    the others' errors are the complete-data ones: sqrt(rate / N_k) and sqrt(w (1 - w) / n)."""
    rng = np.random.default_rng(0)
    low = np.column_stack([rng.poisson(1, 100), np.zeros(100)])
    high = np.column_stack([rng.poisson(300, 100), rng.poisson(5, 100)])
    x = np.vstack([low, high])
    model = MixtureModel([Poisson(), Poisson()], random_state=0).fit(x)
    rates = np.array([c.rate for c in model.components_])
    assert rates[0, 1] == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no rounding noise from the -inf
        with pytest.warns(HessianWarning, match=r"boundary .*: rate\[0,1\] = 0 "):
            est = model.estimate(x)
    n_k = np.array([100.0, 100.0])[:, None]
    expected = np.sqrt(rates / n_k)
    expected[0, 1] = np.nan
    np.testing.assert_allclose(est.stderr["rate"], expected, rtol=1e-6)
    np.testing.assert_allclose(est.stderr["weights"], np.sqrt(0.25 / 200), rtol=1e-6)


def test_an_empty_component_leaves_every_error_undefined():
    """A component holding 1e-9 of the rows is empty, its weight on the boundary as well as
    its rate: not one parameter gets a Wald error (a boundary rate alone would leave the
    others theirs)."""
    from emkit.information import family_louis_estimate

    x = np.random.default_rng(0).poisson(4, (300, 1)).astype(float)
    families = [Poisson(np.array([4.0])), Poisson(np.array([50.0]))]
    with pytest.warns(HessianWarning, match="empty or degenerate"):
        est = family_louis_estimate(
            np.array([1 - 1e-9, 1e-9]), families, [{"rate": "rate"}] * 2, True, x, None, "two"
        )
    assert np.isnan(_flat(est.stderr)).all()


def test_family_parameter_intervals_stay_in_their_domains():
    """A small, tight component: the plain Wald interval of its variance (estimate -+ 1.96
    std_err) runs below 0, the log-scale one does not; means stay plain."""
    rng = np.random.default_rng(3)
    x = np.r_[rng.normal(0, 0.3, 6), rng.normal(5, 1, 300)][:, None]
    model = MixtureModel([Normal(), Normal()], tol=1e-12, random_state=0).fit(x)
    est = model.estimate(x)
    q = stats.norm.ppf(0.975)
    variance, se = est.params["variance"], est.stderr["variance"]
    assert (variance - q * se).min() < 0  # where the plain interval would leave the domain
    low, high = model.conf_int(x)["variance"]
    np.testing.assert_allclose(low, variance * np.exp(-q * se / variance), rtol=1e-12)
    np.testing.assert_allclose(high, variance * np.exp(q * se / variance), rtol=1e-12)
    low, high = model.conf_int(x)["mean"]
    np.testing.assert_allclose(high - est.params["mean"], q * est.stderr["mean"], rtol=1e-12)
    assert "variance[0,0], variance[1,0] on the log scale" in est.summary().attrs["intervals"]


def test_poisson_mixture_matches_flexmix_refit():
    """flexmix's coordinates: the log rate of each component and alpha = log(pi_2 / pi_1)."""
    x = pd.read_csv(REFERENCE / "poisson_mixture.csv")[["y"]].to_numpy()
    ref = pd.read_csv(REFERENCE / "flexmix_poisson_vcov.csv", index_col="parameter")
    model = MixtureModel([Poisson(), Poisson()], tol=1e-12, random_state=0).fit(x)
    est = model.estimate(x)

    # flexmix's first component has the larger rate, emkit's second (sorted by rate)
    def flexmix_coordinates(theta):
        weights, rates = theta[:2], theta[2:]
        return np.r_[np.log(rates[::-1]), np.log(weights[0] / weights[1])]

    theta = _flat(est.params)
    np.testing.assert_allclose(flexmix_coordinates(theta), ref["estimate"], rtol=1e-5)
    J = jacobian(flexmix_coordinates, theta)
    expected = ref.drop(columns="estimate").to_numpy()
    np.testing.assert_allclose(J @ est.cov @ J.T, expected, rtol=2e-5)


def test_normal_and_exponential_components_are_named_by_position():
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(10, 1, 200), rng.exponential(2, 250)][:, None]
    model = MixtureModel([Normal(), Exponential()], reg_covar=0, tol=1e-12, random_state=0)
    model.fit(x)
    est = model.estimate(x)
    assert list(est.params) == ["weights", "mean_0", "variance_0", "rate_1"]

    def loglik(theta):
        pi, mean, variance, rate = theta
        logs = np.column_stack(
            [
                np.log(pi) + stats.norm.logpdf(x[:, 0], mean, np.sqrt(variance)),
                np.log(1 - pi) + stats.expon.logpdf(x[:, 0], scale=1 / rate),
            ]
        )
        return float(logsumexp(logs, axis=1).sum())

    theta = np.r_[model.weights_[0], est.params["mean_0"], est.params["variance_0"]]
    theta = np.r_[theta, est.params["rate_1"]]
    expected = _wald(loglik, theta, lambda t: np.r_[t[0], 1 - t[0], t[1:]])
    np.testing.assert_allclose(_flat(est.stderr), expected, rtol=1e-5)


def test_two_dimensional_normals_with_sample_weights():
    """Independent normal features per component; a row of weight w counts w times."""
    rng = np.random.default_rng(2)
    x = np.vstack([rng.normal([0, 0], [1, 2], (150, 2)), rng.normal([4, 1], [0.5, 1], (100, 2))])
    w = rng.uniform(0.5, 2.0, x.shape[0])
    model = MixtureModel([Normal(), Normal()], reg_covar=0, tol=1e-12, random_state=0)
    model.fit(x, sample_weight=w)
    est = model.estimate(x, sample_weight=w)

    def unpack(theta):
        return theta[0], theta[1:5].reshape(2, 2), theta[5:].reshape(2, 2)

    def loglik(theta):
        pi, means, variances = unpack(theta)
        logs = np.log([pi, 1 - pi]) + np.column_stack(
            [stats.norm.logpdf(x, means[j], np.sqrt(variances[j])).sum(axis=1) for j in (0, 1)]
        )
        return float(w @ logsumexp(logs, axis=1))

    theta = np.r_[model.weights_[0], est.params["mean"].ravel(), est.params["variance"].ravel()]
    expected = _wald(loglik, theta, lambda t: np.r_[t[0], 1 - t[0], t[1:]])
    np.testing.assert_allclose(_flat(est.stderr), expected, rtol=1e-5)
    assert est.n == round(w.sum())


def test_constrained_families_and_hard_fits_are_refused():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 3, (200, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MixtureModel([Categorical(), Categorical()], random_state=0).fit(codes)
    with pytest.raises(ValueError, match="constrained parametrisation.*emkit.bootstrap"):
        model.estimate(codes)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 200)
    y = np.where(rng.random(200) < 0.5, 1 + 2 * x, 8 - x) + rng.normal(0, 0.3, 200)
    rows = np.column_stack([x, y])
    lines = MixtureModel([emkit.LinearGaussian(), emkit.LinearGaussian()], random_state=0)
    with pytest.raises(ValueError, match="LinearGaussian components have no vector.*bootstrap"):
        lines.fit(rows).estimate(rows)
    x = _poisson_counts()
    hard = MixtureModel([Poisson(), Poisson()], assignment="hard", random_state=0).fit(x)
    with pytest.raises(ValueError, match="soft-assignment fit"):
        hard.estimate(x)
    with pytest.raises(ValueError, match="sample_weight"):
        MixtureModel([Poisson(), Poisson()], random_state=0).fit(x).estimate(x, np.ones(3))


def test_zero_inflated_poisson_as_a_mixture_with_a_point_mass():
    """[PointMass(0), Poisson()] is the zero-inflated Poisson: the point mass has no free
    parameter, and the errors of (pi, rate) are ZeroInflatedPoisson's closed-form ones."""
    rng = np.random.default_rng(4)
    counts = np.where(rng.uniform(size=500) < 0.3, 0, rng.poisson(2.5, 500))[:, None]
    zip_fit = emkit.ZeroInflatedPoisson().fit(counts)
    model = MixtureModel([emkit.PointMass(0.0), Poisson()], tol=1e-12, random_state=0)
    est = model.fit(counts).estimate(counts)
    assert list(est.params) == ["weights", "rate_1"]
    np.testing.assert_allclose(est.params["rate_1"], zip_fit.rate_, rtol=1e-6)
    np.testing.assert_allclose(est.stderr["weights"][0], zip_fit.stderr_[0], rtol=1e-4)
    np.testing.assert_allclose(est.stderr["rate_1"], zip_fit.stderr_[1:], rtol=1e-4)


def test_an_empty_component_leaves_the_others_errors_those_of_the_mixture_without_it():
    """A PointMass no row takes, listed beside two Poissons: its weight is NaN (on the boundary
    0), and every other error is that of the two-Poisson mixture fitted alone (its likelihood
    is the same), where numpy's divide-by-zero warnings and a non-positive-definite
    information came out before."""
    rng = np.random.default_rng(0)
    x = np.r_[rng.poisson(2, 300), rng.poisson(9, 200)][:, None]
    kw = {"random_state": 0, "tol": 1e-12}
    with pytest.warns(emkit.DegenerateFitWarning, match=r"PointMass\(50.0\).*boundary 0"):
        model = MixtureModel([Poisson(), Poisson(), emkit.PointMass(50)], **kw).fit(x)
    alone = MixtureModel([Poisson(), Poisson()], **kw).fit(x)
    np.testing.assert_allclose(model.weights_[:2], alone.weights_, rtol=1e-6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = model.estimate(x)
    assert [w.category for w in caught] == [HessianWarning]
    ref = alone.estimate(x)
    assert np.isnan(est.stderr["weights"][2])
    np.testing.assert_allclose(est.stderr["weights"][:2], ref.stderr["weights"], rtol=1e-4)
    np.testing.assert_allclose(est.stderr["rate_0"], ref.stderr["rate"][0], rtol=1e-4)
    np.testing.assert_allclose(est.stderr["rate_1"], ref.stderr["rate"][1], rtol=1e-4)
    # the kept block is the reduced one, its correlations included
    np.testing.assert_allclose(est.cov[:2, :2], ref.cov[:2, :2], rtol=1e-4)


def test_a_fixed_weight_has_no_wald_test_in_the_summary():
    # a one-component mixture's weight is 1 by definition: standard error 0, and z = 1/0
    # would print inf with a p-value of 0, a test of nothing

    x = np.random.default_rng(0).poisson(3, size=(200, 1))
    fit = MixtureModel([Poisson()]).fit(x)
    table = fit.estimate(x).summary()
    weight = table.loc["weights[0]"]
    assert weight["estimate"] == 1.0 and weight["std_err"] == 0.0
    assert np.isnan(weight["z"]) and np.isnan(weight["p_value"])
    rate = table.loc["rate[0,0]"]
    se = np.sqrt(x.mean() / x.size)  # the Poisson rate's Fisher error
    assert rate["std_err"] == pytest.approx(se, rel=1e-6)
    assert rate["p_value"] == pytest.approx(2 * stats.norm.sf(x.mean() / se), rel=1e-6)


@pytest.mark.parametrize("offset", [0.0, 1e4, 1e6, 1e8])
def test_normal_mixture_errors_do_not_move_with_the_data_offset(offset):
    """Two normal components on data shifted by a constant: the errors are those of
    GaussianMixture(covariance_type="diag") on the same data (its information in closed form),
    at every offset. Differences in mean / sd coordinates drowned the variance from 1e4 on."""
    rng = np.random.default_rng(0)
    x = offset + np.r_[rng.normal(0, 1, (200, 1)), rng.normal(4, 1, (150, 1))]
    kw = {"random_state": 0, "reg_covar": 0, "tol": 1e-12}
    gm = emkit.GaussianMixture(2, covariance_type="diag", **kw).fit(x)
    model = MixtureModel([Normal(), Normal()], **kw).fit(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = model.estimate(x)
    ref = gm.standard_errors(x)
    mine, theirs = np.argsort(est.params["mean"][:, 0]), np.argsort(gm.means_[:, 0])
    # the same fit, to EM's tolerance (each stops on its own log-likelihood)
    np.testing.assert_allclose(
        est.params["mean"][mine] - offset, gm.means_[theirs] - offset, atol=1e-5
    )
    np.testing.assert_allclose(est.stderr["weights"][mine], ref["weights"][theirs], rtol=1e-5)
    np.testing.assert_allclose(est.stderr["mean"][mine], ref["means"][theirs], rtol=1e-5)
    np.testing.assert_allclose(est.stderr["variance"][mine], ref["covariances"][theirs], rtol=1e-5)


@pytest.mark.parametrize("shape", [2.0, 1e4, 1e6])
def test_one_gamma_matches_its_fisher_information(shape):
    """One gamma component: the observed information equals the expected one,
    n [[trigamma(a), -1/b], [-1/b, a/b^2]], whose inverse is written here in closed form
    (det = n^2 (a trigamma(a) - 1) / b^2). Differences in (log shape, log rate), which
    correlate to 1 - 1/(4a), were 5% off at a shape of 1e6."""
    from scipy.special import polygamma

    n = 400
    x = np.random.default_rng(0).gamma(shape, 5 / shape, (n, 1))  # mean 5
    model = MixtureModel([emkit.Gamma()], tol=1e-12).fit(x)
    est = model.estimate(x)
    a, b = model.components_[0].shape[0], model.components_[0].rate[0]
    # a trigamma(a) - 1 by its asymptotic series at a large shape (the plain form cancels)
    excess = (
        1 / (2 * a) + 1 / (6 * a**2) - 1 / (30 * a**4)
        if a > 100
        else a * float(polygamma(1, a)) - 1
    )
    var_a = a / (n * excess)
    var_b = b**2 * (excess + 1) / (n * a * excess)  # b^2 trigamma(a) / (n g), trigamma = (g+1)/a
    np.testing.assert_allclose(est.stderr["shape"][0], np.sqrt(var_a), rtol=1e-6)
    np.testing.assert_allclose(est.stderr["rate"][0], np.sqrt(var_b), rtol=1e-6)
    # and the closed-form MLE's errors (emkit.mle.gamma, its own Fisher information)
    ml = emkit.mle.gamma(x[:, 0])
    np.testing.assert_allclose(est.stderr["shape"][0], ml.stderr["shape"], rtol=1e-5)
    np.testing.assert_allclose(est.stderr["rate"][0], ml.stderr["rate"], rtol=1e-5)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_small_gamma_shape_with_rows_below_eps_times_the_mean_has_finite_errors():
    """At a shape of 0.1 some rows lie below eps times the mean (b x / a - 1 rounds to -1):
    their scores take log(b x / a) directly, as the fit does. Were all NaN, with NumPy's
    divide-by-zero warnings."""
    x = np.random.default_rng(0).gamma(0.1, 1.0, 400)
    assert (x < np.finfo(float).eps * x.mean()).sum() > 0
    est = MixtureModel([emkit.Gamma()], tol=1e-12).fit(x[:, None]).estimate(x[:, None])
    ml = emkit.mle.gamma(x)
    np.testing.assert_allclose(est.stderr["shape"][0], ml.stderr["shape"], rtol=1e-5)
    np.testing.assert_allclose(est.stderr["rate"][0], ml.stderr["rate"], rtol=1e-5)

    rng = np.random.default_rng(1)
    x = np.r_[rng.gamma(0.05, 1.0, 150), rng.gamma(5.0, 1.0, 100)][:, None]
    model = MixtureModel([emkit.Gamma(), emkit.Gamma()], tol=1e-12, random_state=0).fit(x)
    est = model.estimate(x)
    expected = _two_gamma_wald(x, model, est)
    np.testing.assert_allclose(_flat(est.stderr), expected, rtol=1e-4)


def test_gamma_and_bernoulli_mixtures_match_a_numerical_hessian():
    """The closed-form scores of Gamma (log shape at a fixed mean, log mean) and Bernoulli
    (logits) components against a central-difference Hessian in their own parameters."""
    rng = np.random.default_rng(5)
    x = np.r_[rng.gamma(2.0, 1.0, 250), rng.gamma(30.0, 0.5, 150)][:, None]
    model = MixtureModel([emkit.Gamma(), emkit.Gamma()], tol=1e-12, random_state=0).fit(x)
    est = model.estimate(x)
    expected = _two_gamma_wald(x, model, est)
    np.testing.assert_allclose(_flat(est.stderr), expected, rtol=1e-5)

    probs = np.array([[0.9, 0.8, 0.2], [0.1, 0.3, 0.7]])
    labels = rng.uniform(size=600) < 0.4
    binary = (rng.uniform(size=(600, 3)) < probs[labels.astype(int)]).astype(float)
    model = MixtureModel([emkit.Bernoulli(), emkit.Bernoulli()], tol=1e-12, random_state=0)
    est = model.fit(binary).estimate(binary)

    def loglik_b(theta):
        pi, p = theta[0], theta[1:].reshape(2, 3)
        logs = np.log([pi, 1 - pi]) + np.column_stack(
            [stats.bernoulli.logpmf(binary, p[j]).sum(axis=1) for j in (0, 1)]
        )
        return float(logsumexp(logs, axis=1).sum())

    theta = np.r_[model.weights_[0], est.params["probs"].ravel()]
    expected = _wald(loglik_b, theta, lambda t: np.r_[t[0], 1 - t[0], t[1:]])
    np.testing.assert_allclose(_flat(est.stderr), expected, rtol=1e-5)


def test_an_interval_wider_than_the_boundary_rule_allows_is_flagged():
    """A cluster of zeros: EM stops with its rate at 1.2e-3 (the MLE is 0), not flagged as on
    the boundary, with a standard error of 0.04: its 95% interval (1e-32, 1e26) spans a
    factor of 1e58. The warning names it; the numbers are kept."""
    rng = np.random.default_rng(0)
    rng.uniform(size=1500)  # the QA script's draws before these counts
    x = np.r_[np.zeros((50, 1)), rng.poisson(5, (100, 1))]
    model = MixtureModel([Poisson(), Poisson()], random_state=0).fit(x)
    rates = np.array([c.rate[0] for c in model.components_])
    assert 1e-4 < rates.min() < 1e-2  # short of the bound, where no boundary rule applies
    with pytest.warns(HessianWarning, match=r"rate\[0,0\] = [0-9.e-]+ .* not informative"):
        est = model.estimate(x)
    low, high = est.conf_int()["rate"]
    assert np.isfinite(est.stderr["rate"]).all()
    assert high[0, 0] / low[0, 0] > 1e34 and high[1, 0] / low[1, 0] < 2
    # an informative fit of the same kind says nothing
    counts = _poisson_counts()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MixtureModel([Poisson(), Poisson()], random_state=0).fit(counts).estimate(counts)


class _DifferencedPoisson(Poisson):
    """A Poisson without closed-form scores: a family of the user's own, which gets central
    differences of log_prob in to_vector's coordinates."""

    local_scores = None


def test_a_family_without_closed_forms_gets_the_same_errors_by_differences():
    x = _poisson_counts()
    model = MixtureModel([Poisson(), Poisson()], tol=1e-12, random_state=0).fit(x)
    exact = model.estimate(x)
    components = [_DifferencedPoisson(c.rate) for c in model.components_]
    weights = np.asarray(model.weights_)
    names = [{"rate": "rate"}] * 2
    from emkit.information import family_louis_estimate

    mixed = family_louis_estimate(weights, components, names, True, x.astype(float), None, "")
    np.testing.assert_allclose(_flat(mixed.stderr), _flat(exact.stderr), rtol=1e-6)
    one = family_louis_estimate(
        weights, [components[0], model.components_[1]], names, True, x.astype(float), None, ""
    )
    np.testing.assert_allclose(_flat(one.stderr), _flat(exact.stderr), rtol=1e-6)
