"""Standard errors of a mixture of regressions from Louis' observed information: against R
flexmix's ``refit`` (optim's Hessian of the same likelihood) and a central-difference Hessian
of the log-likelihood written here with scipy's normal density."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import logsumexp

import emkit
from emkit.mle.estimate import hessian, jacobian, step_sizes

REFERENCE = Path(__file__).parent / "reference"


def _flat(params):
    return np.concatenate([np.ravel(v) for v in params.values()])


def test_covariance_matches_flexmix_refit():
    """flexmix's coordinates are (intercept, slope, log sigma) per line and alpha =
    log(pi_2 / pi_1); emkit's covariance carried there by the delta method is flexmix's."""
    data = pd.read_csv(REFERENCE / "regression_mixture.csv")
    ref = pd.read_csv(REFERENCE / "flexmix_regression_vcov.csv", index_col="parameter")
    x, y = data[["x"]].to_numpy(), data["y"].to_numpy()
    model = emkit.MixtureOfRegressions(2, tol=1e-12, random_state=0).fit(x, y)
    est = model.estimate(x, y)
    # flexmix's first line is the steep one
    first, second = np.argsort(-model.coef_[:, 0])

    def flexmix_coordinates(theta):
        p = emkit.mle.estimate.unflatten(theta, est.params)
        lines = [
            [p["intercept"][j], p["coef"][j, 0], np.log(p["sigmas"][j])] for j in (first, second)
        ]
        return np.r_[lines[0], lines[1], np.log(p["weights"][second] / p["weights"][first])]

    theta = _flat(est.params)
    np.testing.assert_allclose(flexmix_coordinates(theta), ref["estimate"], rtol=1e-6)
    J = jacobian(flexmix_coordinates, theta)
    expected = ref.drop(columns="estimate").to_numpy()
    np.testing.assert_allclose(J @ est.cov @ J.T, expected, rtol=1e-4)


def _lines(n=240, seed=2, equal=False):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 3, (n, 2))
    first = rng.random(n) < 0.45
    mean = np.where(first, 1 + x @ [1.5, -1.0], -2 + x @ [-0.5, 2.0])
    return x, mean + rng.normal(0, np.where(first | equal, 0.8, 0.5))


@pytest.mark.parametrize(
    ("fit_intercept", "equal_variance", "weighted"),
    [(True, False, False), (False, False, False), (True, True, False), (True, False, True)],
    ids=["intercept", "no_intercept", "equal_variance", "sample_weight"],
)
def test_errors_match_a_numerical_hessian(fit_intercept, equal_variance, weighted):
    """pi_1, each line's (intercept, coefficients) and log sigma per line (one shared with
    equal_variance): the inverse of the central-difference Hessian of sum_n w_n log sum_k
    pi_k N(y_n | x_n beta_k + b_k, sigma_k^2), carried to the reported parameters."""
    x, y = _lines(equal=equal_variance)
    n, q = x.shape
    w = np.random.default_rng(5).uniform(0.5, 2.0, n) if weighted else np.ones(n)
    model = emkit.MixtureOfRegressions(
        2, fit_intercept=fit_intercept, equal_variance=equal_variance, tol=1e-13, random_state=0
    ).fit(x, y, sample_weight=w if weighted else None)
    m = q + int(fit_intercept)
    n_sigma = 1 if equal_variance else 2

    def unpack(theta):
        weights = np.array([theta[0], 1 - theta[0]])
        lines = theta[1 : 1 + 2 * m].reshape(2, m)
        intercept = lines[:, 0] if fit_intercept else np.zeros(2)
        coef = lines[:, int(fit_intercept) :]
        sigmas = np.broadcast_to(np.exp(theta[1 + 2 * m :]), (2,))
        return weights, coef, intercept, sigmas

    def loglik(theta):
        weights, coef, intercept, sigmas = unpack(theta)
        logs = np.log(weights) + stats.norm.logpdf(y[:, None], x @ coef.T + intercept, sigmas)
        return float(w @ logsumexp(logs, axis=1))

    lines = np.column_stack([model.intercept_, model.coef_]) if fit_intercept else model.coef_
    theta = np.r_[model.weights_[0], lines.ravel(), np.log(model.sigmas_[:n_sigma])]

    def outputs(t):
        kept = (True, True, fit_intercept, True)
        return np.concatenate(
            [np.ravel(v) for v, keep in zip(unpack(t), kept, strict=True) if keep]
        )

    np.testing.assert_allclose(outputs(theta), _flat(model.estimate(x, y, w).params), rtol=1e-12)
    info = -hessian(loglik, theta, step_sizes(theta, 1 / 4))
    J = jacobian(outputs, theta)
    expected = np.sqrt(np.diag(J @ np.linalg.inv(info) @ J.T))
    est = model.estimate(x, y, sample_weight=w if weighted else None)
    assert list(est.params) == ["weights", "coef"] + ["intercept"] * fit_intercept + ["sigmas"]
    np.testing.assert_allclose(_flat(est.stderr), expected, rtol=1e-3)
    assert est.loglik == pytest.approx(loglik(theta), rel=1e-10)


def test_estimate_needs_y_and_in_memory_rows():
    x, y = _lines()
    model = emkit.MixtureOfRegressions(2, random_state=0).fit(x, y)
    # a sigma's interval is taken on the log scale: sigma exp(-+ q se / sigma)
    low, high = model.conf_int(x, y, level=0.9)["sigmas"]
    se = model.standard_errors(x, y)["sigmas"]
    np.testing.assert_allclose(
        low, model.sigmas_ * np.exp(-stats.norm.ppf(0.95) * se / model.sigmas_)
    )
    with pytest.raises(ValueError, match="needs the responses y"):
        model.estimate(x, None)
    with pytest.raises(ValueError, match="y must be 240 finite values"):
        model.estimate(x, y[:10])


@pytest.mark.parametrize("offset", [0.0, 1e4, 1e6])
def test_one_line_far_from_zero_matches_ols(offset):
    """One line is least squares: its errors are statsmodels' OLS errors with the MLE variance
    RSS / n, however far the covariate sits from 0 (raw, the intercept and slope columns of the
    information correlate to 1 - 1e-11 at 1e6 and were reported as not identified)."""
    import statsmodels.api as sm

    rng = np.random.default_rng(0)
    n = 300
    x = rng.uniform(0, 10, (n, 1)) + offset
    y = 1 + 2 * (x[:, 0] - offset) + rng.normal(0, 0.5, n)
    model = emkit.MixtureOfRegressions(1, random_state=0).fit(x, y)
    ols = sm.OLS(y, sm.add_constant(x)).fit()
    se = model.standard_errors(x, y)
    mle_se = ols.bse * np.sqrt((n - 2) / n)
    np.testing.assert_allclose(se["coef"].ravel(), mle_se[1:], rtol=1e-6)
    np.testing.assert_allclose(se["intercept"], mle_se[:1], rtol=1e-6)
    np.testing.assert_allclose(se["sigmas"], np.sqrt(ols.ssr / n) / np.sqrt(2 * n), rtol=1e-6)


@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_two_lines_far_from_zero_match_a_numerical_hessian(offset):
    """Two lines on a covariate at 1e6: the inverse of the central-difference Hessian of the
    log-likelihood in lines written about the covariate's mean (where it is well conditioned),
    carried to the reported intercepts by the delta method."""
    rng = np.random.default_rng(3)
    n = 300
    u = rng.uniform(0, 10, (n, 1))
    y = np.where(rng.random(n) < 0.5, 1 + 2 * u[:, 0], 8 - 0.5 * u[:, 0])
    y = y + rng.normal(0, 0.5, n)
    x = u + offset
    model = emkit.MixtureOfRegressions(2, tol=1e-10, random_state=0).fit(x, y)
    c = x.mean()

    def unpack(theta):
        heights, coef = theta[1:3], theta[3:5]
        return np.array([theta[0], 1 - theta[0]]), coef, heights, np.exp(theta[5:7])

    def loglik(theta):
        weights, coef, heights, sigmas = unpack(theta)
        mean = (x - c) @ coef[None, :] + heights
        return float(
            logsumexp(np.log(weights) + stats.norm.logpdf(y[:, None], mean, sigmas), 1).sum()
        )

    def outputs(theta):
        weights, coef, heights, sigmas = unpack(theta)
        return np.r_[weights, coef, heights - c * coef, sigmas]

    heights = model.intercept_ + model.coef_[:, 0] * c
    theta = np.r_[model.weights_[0], heights, model.coef_[:, 0], np.log(model.sigmas_)]
    info = -hessian(loglik, theta, step_sizes(theta, 1 / 4))
    J = jacobian(outputs, theta)
    expected = np.sqrt(np.diag(J @ np.linalg.inv(info) @ J.T))
    est = model.estimate(x, y)
    np.testing.assert_allclose(_flat(est.params), outputs(theta), rtol=1e-12)
    np.testing.assert_allclose(_flat(est.stderr), expected, rtol=1e-3)


def test_collinear_covariates_stay_unidentified():
    """A covariate that repeats another (rank-deficient X) leaves a direction the data cannot
    tell: reported, not inverted."""
    x, y = _lines()
    x = np.column_stack([x, x[:, 0] + 1e6])
    model = emkit.MixtureOfRegressions(2, random_state=0).fit(x, y)
    with pytest.warns(emkit.mle.HessianWarning, match="not identified"):
        se = model.standard_errors(x, y)
    assert np.isnan(se["coef"]).all()
    # an explicit column of ones beside the intercept: no information at all, said so
    ones = np.column_stack([np.ones(len(y)), x[:, :2]])
    model = emkit.MixtureOfRegressions(2, random_state=0).fit(ones, y)
    with pytest.warns(emkit.mle.HessianWarning, match="a parameter has no information"):
        assert np.isnan(model.standard_errors(ones, y)["intercept"]).all()
