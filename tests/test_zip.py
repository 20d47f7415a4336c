"""ZeroInflatedPoisson against statsmodels and direct maximisation of the same likelihood."""

import warnings

import numpy as np
import pytest
from scipy import optimize, stats
from scipy.special import expit, logit
from sklearn.utils.estimator_checks import parametrize_with_checks
from statsmodels import datasets
from statsmodels.discrete.count_model import ZeroInflatedPoisson as SmZIP
from statsmodels.tools.numdiff import approx_hess

from emkit.distributions.poisson import Poisson
from emkit.estimators.persist import load
from emkit.estimators.zero_inflated import ZeroInflatedPoisson
from emkit.exceptions import DegenerateFitWarning

NON_INTEGER_X = {
    "check_sample_weight_equivalence_on_dense_data": (
        "the check draws non-integer X (it ignores the categorical tag), which a Poisson "
        "refuses; test_weights_and_save_load checks the property on counts"
    )
}


@parametrize_with_checks([ZeroInflatedPoisson()], expected_failed_checks=lambda e: NON_INTEGER_X)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _simulated(n=2000, pi=0.3, rate=2.0, seed=0):
    rng = np.random.default_rng(seed)
    return np.where(rng.random(n) < pi, 0, rng.poisson(rate, n)).astype(float)


def _doctor_visits():
    """RAND Health Insurance Experiment: outpatient visits (20190 people, 31% zeros)."""
    return datasets.randhie.load_pandas().data["mdvis"].to_numpy(dtype=float)


def _statsmodels_fit(y):
    one = np.ones((y.shape[0], 1))
    model = SmZIP(y, one, exog_infl=one, inflation="logit")
    # gtol 1e-8: at 1e-10 BFGS reports a precision loss on some machines (a 512 KiB-L2 EPYC),
    # stopped at the optimum all the same; at 1e-8 it converges, to within the checks below
    result = model.fit(method="bfgs", maxiter=2000, disp=0, gtol=1e-8)
    assert result.mle_retvals["converged"]
    return model, result


@pytest.mark.parametrize("data", [_simulated, _doctor_visits])
def test_agrees_with_statsmodels(data):
    y = data()
    ours = ZeroInflatedPoisson().fit(y[:, None])
    model, result = _statsmodels_fit(y)
    np.testing.assert_allclose(ours.zero_inflation_, expit(result.params[0]), atol=1e-4)
    np.testing.assert_allclose(ours.rate_[0], np.exp(result.params[1]), rtol=1e-4)
    np.testing.assert_allclose(ours.log_likelihood_, result.llf, rtol=1e-9)
    # Standard errors: delta method on statsmodels' numerical Hessian of its own likelihood.
    # (Its analytic ``hessian`` leaves out the inflation/count cross term, so ``bse`` is off.)
    theta = np.array([logit(ours.zero_inflation_), np.log(ours.rate_[0])])
    jac = np.diag([ours.zero_inflation_ * (1 - ours.zero_inflation_), ours.rate_[0]])
    cov = jac @ np.linalg.inv(-approx_hess(theta, model.loglike)) @ jac
    np.testing.assert_allclose(ours.stderr_, np.sqrt(np.diag(cov)), rtol=1e-4)


@pytest.mark.parametrize("data", [_simulated, _doctor_visits])
def test_agrees_with_direct_optimisation(data):
    y = data()
    ours = ZeroInflatedPoisson().fit(y[:, None])
    zero = y == 0

    def nll(t):
        pi, lam = expit(t[0]), np.exp(t[1])
        p0 = np.log(pi + (1 - pi) * np.exp(-lam))
        return -np.sum(np.where(zero, p0, np.log1p(-pi) + stats.poisson.logpmf(y, lam)))

    starts = [[0.0, 0.0], [logit(ours.zero_inflation_), np.log(ours.rate_[0])], [-2.0, 1.5]]
    best = min(
        (optimize.minimize(nll, s, method="BFGS", options={"gtol": 1e-8}) for s in starts),
        key=lambda r: r.fun,
    )
    np.testing.assert_allclose(ours.zero_inflation_, expit(best.x[0]), atol=1e-4)
    np.testing.assert_allclose(ours.rate_[0], np.exp(best.x[1]), rtol=1e-4)
    assert ours.log_likelihood_ >= -best.fun - 1e-6


def test_history_never_decreases_and_structural_zero_posteriors():
    y = _simulated()
    zip_ = ZeroInflatedPoisson().fit(y[:, None])
    assert np.all(np.diff(zip_.history_) >= 0)
    proba = zip_.predict_proba(np.array([[0.0], [3.0]]))
    pi, lam = zip_.zero_inflation_, zip_.rate_[0]
    np.testing.assert_allclose(proba[0, 0], pi / (pi + (1 - pi) * np.exp(-lam)), rtol=1e-12)
    assert proba[1, 0] == 0.0 and proba[1, 1] == 1.0


def test_weights_and_save_load(tmp_path):
    y = _simulated(500)
    values, counts = np.unique(y, return_counts=True)
    weighted = ZeroInflatedPoisson().fit(values[:, None], sample_weight=counts)
    plain = ZeroInflatedPoisson().fit(y[:, None])
    np.testing.assert_allclose(weighted.rate_, plain.rate_, rtol=1e-8)
    np.testing.assert_allclose(weighted.stderr_, plain.stderr_, rtol=1e-6)
    plain.save(tmp_path / "zip.json")
    again = load(tmp_path / "zip.json")
    assert again.zero_inflation_ == plain.zero_inflation_
    np.testing.assert_array_equal(again.stderr_, plain.stderr_)


def test_non_integer_counts_are_refused():
    with pytest.raises(ValueError, match="Non-integer values"):
        ZeroInflatedPoisson().fit(np.array([[1.5], [2.0], [0.0]]))
    with pytest.raises(ValueError, match="Non-integer"):
        Poisson().check_support(np.array([[0.25]]))
    assert not Poisson().in_support(np.array([[2.5]]))[0]


def test_no_excess_zeros_puts_pi_on_the_boundary_with_nan_stderr():
    # 5 zeros among 200 Poisson(3) counts: fewer than the Poisson alone expects (200 e^-3 = 10).
    rng = np.random.default_rng(0)
    y = rng.poisson(3.0, 400)
    y = np.r_[y[y > 0][:195], np.zeros(5)][:, None].astype(float)
    assert 5 * np.exp(y.mean()) <= 200
    with pytest.warns(DegenerateFitWarning, match="boundary"):
        zip_ = ZeroInflatedPoisson().fit(y)
    assert zip_.zero_inflation_ < 1e-3
    assert np.isnan(zip_.stderr_[0])
    # The rate is the Poisson MLE, with the Poisson's standard error sqrt(mean / n).
    np.testing.assert_allclose(zip_.rate_, y.mean(), rtol=1e-3)
    np.testing.assert_allclose(zip_.stderr_[1], np.sqrt(zip_.rate_[0] / 200), rtol=1e-12)
    with pytest.warns(DegenerateFitWarning, match="boundary"):
        none = ZeroInflatedPoisson().fit(y[y > 0][:, None])
    assert none.zero_inflation_ == 0.0 and np.isnan(none.stderr_[0])


def test_all_zero_counts_are_refused():
    with pytest.raises(ValueError, match="every count is 0"):
        ZeroInflatedPoisson().fit(np.zeros((10, 1)))


def test_one_row_is_refused_with_advice_for_this_model():
    """It advised "Use fewer components or more data" for a model without components."""
    import dask.array as da

    for one in ([[3]], da.from_array(np.array([[3.0]]))):
        with pytest.raises(ValueError, match="at least 2 rows") as caught:
            ZeroInflatedPoisson().fit(one)
        assert "n_samples = 1" in str(caught.value) and "component" not in str(caught.value)
    # two rows: P(0) = 1/2, and the rate that of a zero-truncated Poisson of mean 3,
    # rate / (1 - exp(-rate)) = 3
    fit = ZeroInflatedPoisson().fit([[0], [3]])
    rate = optimize.brentq(lambda r: r / -np.expm1(-r) - 3.0, 0.1, 3.0, xtol=1e-14)
    np.testing.assert_allclose(fit.rate_, [rate], rtol=1e-6)
    pi = fit.zero_inflation_
    np.testing.assert_allclose(pi + (1 - pi) * np.exp(-rate), 0.5, rtol=1e-6)


def test_negative_counts_are_refused():
    with pytest.raises(ValueError, match="Negative values"):
        ZeroInflatedPoisson().fit(np.array([[0.0], [-1.0], [2.0]]))


def test_sample_is_reproducible_from_random_state_and_has_the_fitted_moments():
    y = _simulated()[:, None]
    fit = ZeroInflatedPoisson(random_state=0).fit(y)
    a, labels = fit.sample(200_000)
    b, _ = ZeroInflatedPoisson(random_state=0).fit(y).sample(200_000)
    np.testing.assert_array_equal(a, b)
    c, _ = ZeroInflatedPoisson(random_state=1).fit(y).sample(200_000)
    assert not np.array_equal(a, c)
    # Closed forms: P(0) = pi + (1 - pi) e^-rate, E y = (1 - pi) rate,
    # Var y = (1 - pi) rate (1 + pi rate); tolerances of about four standard errors.
    pi, rate, n = fit.zero_inflation_, fit.rate_[0], a.shape[0]
    p0 = pi + (1 - pi) * np.exp(-rate)
    mean, var = (1 - pi) * rate, (1 - pi) * rate * (1 + pi * rate)
    assert np.mean(a == 0) == pytest.approx(p0, abs=4 * np.sqrt(p0 * (1 - p0) / n))
    assert a.mean() == pytest.approx(mean, abs=4 * np.sqrt(var / n))
    assert a.var() == pytest.approx(var, rel=0.03)
    np.testing.assert_array_equal(a[labels == 0], 0.0)
    assert np.mean(labels == 0) == pytest.approx(pi, abs=4 * np.sqrt(pi * (1 - pi) / n))


def test_huge_counts_fit_without_overflow():
    # Half zeros, half counts near 1e6: the boundary test took exp(mean) = exp(5e5), which
    # overflowed with a RuntimeWarning. pi is the share of zeros (every Poisson(1e6) zero
    # probability underflows), the rate the mean of the positive counts, and the
    # information is that of a Bernoulli and a Poisson apart.
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(50), rng.poisson(1e6, 50)][:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = ZeroInflatedPoisson().fit(y)
    positive = y[y > 0]
    assert fit.zero_inflation_ == pytest.approx(0.5, abs=1e-12)
    np.testing.assert_allclose(fit.rate_, positive.mean(), rtol=1e-12)
    np.testing.assert_allclose(fit.stderr_, [np.sqrt(0.25 / 100), np.sqrt(positive.mean() / 50)])
    np.testing.assert_allclose(
        fit.log_likelihood_,
        100 * np.log(0.5) + stats.poisson.logpmf(positive, positive.mean()).sum(),
    )


def test_positive_counts_of_weight_zero_are_named_in_the_error():
    y = np.array([[0.0], [0.0], [3.0]])
    with pytest.raises(ValueError, match=r"every count \(of the rows with positive weight\)"):
        ZeroInflatedPoisson().fit(y, sample_weight=[1.0, 1.0, 0.0])


def test_a_column_of_zeros_leaves_the_other_standard_errors_valid():
    # Its rate is 0 (sum / rate^2 = 0 / 0 in the Hessian): every standard error was NaN, with
    # numpy's 'invalid value' warning. The column changes no likelihood (e^-0 = 1), so the
    # other entries are those of the one-column fit, whose Hessian statsmodels checks.
    y = _simulated(500)
    wide = np.column_stack([y, np.zeros_like(y)])
    with pytest.warns(DegenerateFitWarning, match=r"columns \[1\] hold no positive count"):
        fit = ZeroInflatedPoisson().fit(wide)
    model, result = _statsmodels_fit(y)
    pi, rate = expit(result.params[0]), np.exp(result.params[1])
    theta = np.array([logit(fit.zero_inflation_), np.log(fit.rate_[0])])
    jac = np.diag([fit.zero_inflation_ * (1 - fit.zero_inflation_), fit.rate_[0]])
    cov = jac @ np.linalg.inv(-approx_hess(theta, model.loglike)) @ jac
    np.testing.assert_allclose(fit.zero_inflation_, pi, atol=1e-4)
    np.testing.assert_allclose(fit.rate_, [rate, 0.0], rtol=1e-4, atol=1e-12)
    np.testing.assert_allclose(fit.stderr_[:2], np.sqrt(np.diag(cov)), rtol=1e-4)
    assert np.isnan(fit.stderr_[2]) and np.isnan(fit.covariance_[2]).all()
    np.testing.assert_allclose(fit.log_likelihood_, result.llf, rtol=1e-9)


def _zip_maximum(y):
    """The maximum-likelihood (pi, rate) of an intercept-only ZIP and its log-likelihood, in
    closed form: rate / (1 - exp(-rate)) = sum(y) / n_pos (rows with y > 0), then
    pi = 1 - sum(y) / (n rate)."""
    n, total, positive = y.size, y.sum(), np.count_nonzero(y)
    mean = total / positive
    rate = optimize.brentq(lambda r: r / -np.expm1(-r) - mean, 1e-12, mean + 10, xtol=1e-15)
    pi = 1 - total / (n * rate)
    p0 = np.log(pi + (1 - pi) * np.exp(-rate))
    log_lik = np.sum(np.where(y == 0, p0, np.log1p(-pi) + stats.poisson.logpmf(y, rate)))
    return pi, rate, log_lik


def _random_counts(seed, rows=(50, 2000), zeros=(0.05, 0.7), rates=(0.3, 6.0)):
    """A QA draw: a random size, share of structural zeros and rate, then the counts."""
    rng = np.random.default_rng(seed)
    n, pi, rate = int(rng.integers(*rows)), rng.uniform(*zeros), rng.uniform(*rates)
    return np.where(rng.uniform(size=n) < pi, 0, rng.poisson(rate, size=n)).astype(float)


@pytest.mark.parametrize(
    "draw",
    [
        # EM's rate about 0.99998: the last plain step gained 5.8e-9 (below 1e-12 of the
        # objective), which SQUAREM judged alone as rounding and stopped 56 times tol * n
        # below the maximum (pi 0.4 relative off).
        dict(seed=1001, rows=(50, 20000), zeros=(0.02, 0.7), rates=(0.02, 0.5)),
        # n = 204, rate 0.9998: a step gaining 3.1e-11 of 87 stopped 3.9 times tol * n short.
        dict(seed=1097, rows=(50, 2000), zeros=(0.02, 0.7), rates=(0.05, 1.0)),
        dict(seed=1020, rows=(50, 20000), zeros=(0.02, 0.7), rates=(0.02, 0.5)),
        dict(seed=25),  # the QA's: pi 0.023, 1.4e-4 relative off at tol's meaning
        dict(seed=0),
    ],
)
def test_squarem_stops_within_tol_of_the_closed_form_maximum(draw):
    """The default (SQUAREM) stop leaves less than tol * n to gain, as documented."""
    y = _random_counts(**draw)
    *_, best = _zip_maximum(y)
    fit = ZeroInflatedPoisson().fit(y[:, None])
    assert fit.converged_
    gap = best - fit.log_likelihood_
    assert -1e-12 * abs(best) < gap < fit.tol * y.size, gap / (fit.tol * y.size)


@pytest.mark.parametrize("seed", [0, 16, 20, 22, 25, 26])
def test_a_tight_tol_reaches_the_closed_form_estimates(seed):
    """tol bounds the log-likelihood left to gain; the estimates are off by its square root
    over the information (the QA's seed 25: pi 1.4e-4 relative at the default 1e-10).
    tol=1e-14 puts them within 1e-7 of the closed form (statsmodels agrees, above); SQUAREM
    used to take a plain step under 1e-12 of the objective for rounding and stop whatever
    tol (seed 0: pi 1.2e-5 relative off)."""
    y = _random_counts(seed)
    pi, rate, _ = _zip_maximum(y)
    fit = ZeroInflatedPoisson(tol=1e-14).fit(y[:, None])
    assert fit.converged_ and fit.n_iter_ <= 20
    np.testing.assert_allclose(fit.zero_inflation_, pi, rtol=1e-7)
    np.testing.assert_allclose(fit.rate_[0], rate, rtol=1e-7)
