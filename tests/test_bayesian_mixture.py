"""BayesianMixture: posterior draws against closed forms, quadrature and PyMC's stored numbers.

Supervised fits are checked against the conjugate posterior written out here from the
textbook formulas (scipy's distributions for the moments), every parameter's posterior mean
and sd within 3 Monte Carlo standard errors; the semi-conjugate priors against 1-D quadrature.
Unsupervised and semi-supervised fits of the issue's model on Old Faithful's waiting times are
checked against PyMC's NUTS posterior, computed once by ``tests/reference/faithful_pymc.py``
and stored in ``tests/reference/faithful_pymc.json``.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from emkit import Bernoulli, Categorical, Normal, Poisson
from emkit.bayes.priors import SemiConjugateNormal, UniformSDNormal
from emkit.distributions.gaussian import ALIASES, MCLUST_MODELS
from emkit.distributions.priors import (
    BetaPrior,
    DirichletPrior,
    GammaPrior,
    NormalInverseGamma,
    NormalInverseWishart,
)
from emkit.estimators.bayesian_mixture import BayesianMixture

REFERENCE_PATH = Path(__file__).parent / "reference" / "faithful_pymc.json"
REFERENCE = json.loads(REFERENCE_PATH.read_text()) if REFERENCE_PATH.exists() else None
Z = 3.0  # Monte Carlo standard errors allowed


def mc_check(draws: np.ndarray, mean, sd, batches: int | None = None) -> None:
    """Posterior mean and sd of ``draws`` (S, ...) within Z Monte Carlo SEs of ``mean``/``sd``.

    Independent draws (``batches=None``): SE of the mean s/sqrt(S), of the sd by the delta
    method, sqrt((m4 - s^4)/S)/(2 s). A Markov chain: the same from ``batches`` batch means.
    """
    centre, sample_sd = draws.mean(axis=0), draws.std(axis=0, ddof=1)
    sq = (draws - centre) ** 2
    if batches is None:
        se_mean = sample_sd / np.sqrt(draws.shape[0])
        se_var = sq.std(axis=0, ddof=1) / np.sqrt(draws.shape[0])
    else:
        size = draws.shape[0] // batches
        group = (batches, size) + draws.shape[1:]
        se_mean = draws[: batches * size].reshape(group).mean(axis=1).std(axis=0, ddof=1)
        se_var = sq[: batches * size].reshape(group).mean(axis=1).std(axis=0, ddof=1)
        se_mean, se_var = se_mean / np.sqrt(batches), se_var / np.sqrt(batches)
    se_sd = se_var / (2 * sample_sd)
    np.testing.assert_array_less(np.abs(centre - mean), Z * se_mean)
    np.testing.assert_array_less(np.abs(sample_sd - sd), Z * se_sd)


def flat(samples: np.ndarray) -> np.ndarray:
    """(chains, draws, ...) -> (chains draws, ...)."""
    return samples.reshape((-1,) + samples.shape[2:])


@pytest.fixture(scope="module")
def labelled_normal():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], [30, 50])
    x = np.column_stack([rng.normal([0.0, 4.0][i], [1.0, 2.0][i]) for i in y]).T  # (80, 1)
    x = np.column_stack([x[:, 0], rng.normal(1.0, 0.5, y.size)])  # (80, 2)
    return x, y


def test_supervised_normal_inverse_gamma_is_the_conjugate_posterior(labelled_normal):
    x, y = labelled_normal
    priors = [NormalInverseGamma(1.0, 0.5, 2.0, 3.0), NormalInverseGamma(-1.0, 2.0, 3.0, 1.0)]
    model = BayesianMixture(
        [Normal(), Normal()], priors=priors, weight_prior=2.0, draws=2000, random_state=0
    )
    model.fit(x, labels=y)
    assert model.exact_ and model.fit_type_ == "supervised"
    for k, prior in enumerate(priors):
        rows = x[y == k]
        n, xbar, s = rows.shape[0], rows.mean(axis=0), ((rows - rows.mean(axis=0)) ** 2).sum(0)
        kappa = prior.shrinkage + n
        m = (prior.shrinkage * prior.mean + n * xbar) / kappa
        a = prior.shape + n / 2
        b = prior.scale + s / 2 + prior.shrinkage * n * (xbar - prior.mean) ** 2 / (2 * kappa)
        mean_post = stats.t(2 * a, loc=m, scale=np.sqrt(b / (a * kappa)))
        var_post = stats.invgamma(a, scale=b)
        mc_check(flat(model.samples_["mean"])[:, k], mean_post.mean(), mean_post.std())
        mc_check(flat(model.samples_["variance"])[:, k], var_post.mean(), var_post.std())
    w_post = stats.beta(2.0 + 30, 2.0 + 50)
    mc_check(flat(model.samples_["weights"])[:, 0], w_post.mean(), w_post.std())


def test_supervised_flat_mean_prior_takes_the_mean_power_out(labelled_normal):
    # shrinkage 0: the variance's posterior shape is shape + (N - 1)/2, the mean's t has 2a dof.
    x, y = labelled_normal
    prior = NormalInverseGamma(0.0, 0.0, 1.0, 1.0)
    model = BayesianMixture(2, priors=prior, draws=2000, random_state=1).fit(x, labels=y)
    rows = x[y == 1]
    n, xbar, s = rows.shape[0], rows.mean(axis=0), ((rows - rows.mean(axis=0)) ** 2).sum(0)
    a, b = 1.0 + (n - 1) / 2, 1.0 + s / 2
    var_post = stats.invgamma(a, scale=b)
    mean_post = stats.t(2 * a, loc=xbar, scale=np.sqrt(b / (a * n)))
    mc_check(flat(model.samples_["variance"])[:, 1], var_post.mean(), var_post.std())
    mc_check(flat(model.samples_["mean"])[:, 1], mean_post.mean(), mean_post.std())


@pytest.mark.parametrize(
    "family, prior, make",
    [
        (Poisson(), GammaPrior(2.0, 0.5), lambda rng, k: rng.poisson([2.0, 7.0][k], (1, 2))),
        (Bernoulli(), BetaPrior(1.5, 3.0), lambda rng, k: rng.random((1, 3)) < [0.2, 0.7][k]),
        (
            Categorical(4),
            DirichletPrior(1.5),
            lambda rng, k: rng.choice(4, (1, 2), p=[[0.1, 0.2, 0.3, 0.4], [0.4, 0.4, 0.1, 0.1]][k]),
        ),
    ],
    ids=["poisson-gamma", "bernoulli-beta", "categorical-dirichlet"],
)
def test_supervised_conjugate_families(family, prior, make):
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1], [40, 25])
    x = np.vstack([make(rng, k) for k in y]).astype(float)
    model = BayesianMixture([family, family], priors=prior, draws=2000, random_state=3).fit(
        x, labels=y
    )
    assert model.exact_
    for k in range(2):
        rows = x[y == k]
        if isinstance(family, Poisson):
            post = stats.gamma(prior.shape + rows.sum(0), scale=1 / (prior.rate + rows.shape[0]))
            drawn = flat(model.samples_["rate"])[:, k]
        elif isinstance(family, Bernoulli):
            post = stats.beta(prior.a + rows.sum(0), prior.b + rows.shape[0] - rows.sum(0))
            drawn = flat(model.samples_["probs"])[:, k]
        else:
            counts = (rows[:, :, None] == np.arange(4)).sum(0)  # (d, C)
            alpha = prior.concentration + counts
            post = stats.beta(alpha, alpha.sum(axis=1, keepdims=True) - alpha)
            drawn = flat(model.samples_["probs"])[:, k]
        mc_check(drawn, post.mean(), post.std())


def test_supervised_categorical_features_of_different_categories():
    # Features of 4 and 2 categories: each feature's posterior is a Dirichlet over its own
    # codes, and the second feature's codes 2 and 3 get probability 0 in every draw (one
    # count C = 4 gave them the prior's pseudo-counts and most of the mass).
    rng = np.random.default_rng(5)
    y = np.repeat([0, 1], [40, 25])
    p0 = [[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]]
    p1 = [[0.8, 0.2], [0.3, 0.7]]
    x = np.column_stack([[rng.choice(4, p=p0[k]) for k in y], [rng.choice(2, p=p1[k]) for k in y]])
    x = x.astype(float)
    prior = DirichletPrior(1.5)
    model = BayesianMixture([Categorical()] * 2, priors=prior, draws=2000, random_state=3)
    model.fit(x, labels=y)
    drawn = flat(model.samples_["probs"])  # (S, K, d, C)
    assert drawn.shape[1:] == (2, 2, 4)
    assert (drawn[:, :, 1, 2:] == 0).all()
    np.testing.assert_allclose(drawn.sum(axis=3), 1.0)
    for k in range(2):
        rows = x[y == k]
        for j, c in enumerate((4, 2)):
            alpha = prior.concentration + np.bincount(rows[:, j].astype(int), minlength=c)
            post = stats.beta(alpha, alpha.sum() - alpha)
            mc_check(drawn[:, k, j, :c], post.mean(), post.std())


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_supervised_normal_inverse_wishart(covariance_type):
    rng = np.random.default_rng(4)
    y = np.repeat([0, 1], [40, 60])
    cov = np.array([[1.0, 0.6], [0.6, 2.0]])
    x = np.vstack([rng.multivariate_normal([0.0, 0.0] if k == 0 else [3.0, -1.0], cov) for k in y])
    prior = NormalInverseWishart(np.array([0.5, 0.0]), 0.3, 4.0, np.array([[1.5, 0.2], [0.2, 1.0]]))
    model = BayesianMixture(
        2, covariance_type=covariance_type, priors=prior, draws=2000, random_state=0
    ).fit(x, labels=y)
    assert model.exact_
    d, nu, kappa0, lam, mu0 = 2, prior.dof, prior.shrinkage, prior.scale, prior.mean
    post = []
    for k in range(2):
        rows = x[y == k]
        n, xbar = rows.shape[0], rows.mean(axis=0)
        scatter = (rows - xbar).T @ (rows - xbar)
        gap = xbar - mu0
        post.append(
            (
                n,
                (kappa0 * mu0 + n * xbar) / (kappa0 + n),
                kappa0 + n,
                scatter + kappa0 * n / (kappa0 + n) * np.outer(gap, gap),
            )
        )
    means = flat(model.samples_["mean"])  # (S, K, d)
    covs = flat(model.samples_["covariance"])
    if covariance_type in ("full", "tied"):
        for k, (n, m, kap, extra) in enumerate(post):
            if covariance_type == "full":
                dof, psi = nu + n, lam + extra
                mc_check(
                    covs[:, k],
                    stats.invwishart(dof, psi).mean(),
                    np.sqrt(stats.invwishart(dof, psi).var()),
                )
            else:
                dof, psi = nu + x.shape[0], lam + post[0][3] + post[1][3]
            t_df = dof - d + 1
            t_cov = psi / (kap * t_df) * t_df / (t_df - 2)
            mc_check(means[:, k], m, np.sqrt(np.diag(t_cov)))
        if covariance_type == "tied":
            iw = stats.invwishart(dof, psi)
            mc_check(covs, iw.mean(), np.sqrt(iw.var()))
    else:
        for k, (n, m, kap, extra) in enumerate(post):
            diag = np.diag(lam) + np.diag(extra)
            if covariance_type == "diag":
                a, b = (nu + n) / 2, diag / 2
            else:
                a, b = (nu + d * n) / 2, diag.sum() / 2
            var_post = stats.invgamma(a, scale=b)
            mc_check(covs[:, k], var_post.mean(), var_post.std())
            mc_check(means[:, k], m, np.sqrt(b / (kap * (a - 1))))


@pytest.mark.parametrize("name", MCLUST_MODELS)
def test_mclust_names_are_the_sampled_structures_or_refused(name):
    """mclust's names of the four sampled structures draw the same numbers as emkit's; the
    other ten are refused before sampling, naming what is sampled and what fits them."""
    rng = np.random.default_rng(5)
    x = np.vstack([rng.normal(0.0, 1.0, (30, 2)), rng.normal(4.0, 1.0, (30, 2))])
    model = BayesianMixture(2, covariance_type=name, chains=1, draws=5, tune=5, random_state=0)
    structure = ALIASES.get(name, name)
    if structure not in ("full", "tied", "diag", "spherical"):
        message = rf"{name}'.*'full' \(VVV\).*'spherical' \(VII.*GaussianMixture"
        with pytest.raises(ValueError, match=message):
            model.fit(x)
        return
    same = BayesianMixture(
        2, covariance_type=structure, chains=1, draws=5, tune=5, random_state=0
    ).fit(x)
    model.fit(x)
    for key, value in same.samples_.items():
        np.testing.assert_array_equal(model.samples_[key], value)


def test_unknown_covariance_type_lists_the_sampled_ones():
    x = np.random.default_rng(6).normal(size=(20, 2))
    with pytest.raises(ValueError, match="covariance_type.*'VVV'"):
        BayesianMixture(2, covariance_type="VVX", draws=5, tune=5).fit(x)
    # mclust's one-dimensional V is spherical on one feature only, as in GaussianMixture
    with pytest.raises(ValueError, match="one-dimensional"):
        BayesianMixture(2, covariance_type="V", draws=5, tune=5).fit(x)


@pytest.mark.parametrize("kind", ["semi-conjugate", "uniform-sd"])
def test_supervised_semi_conjugate_priors_match_quadrature(kind):
    rng = np.random.default_rng(6)
    y = np.repeat([0, 1], [12, 30])
    x = np.where(y == 0, rng.normal(2.0, 1.5, y.size), rng.normal(6.0, 0.7, y.size))[:, None]
    if kind == "semi-conjugate":
        priors = [SemiConjugateNormal(0.0, 3.0, 2.0, 2.0), SemiConjugateNormal(5.0, 1.0, 3.0, 1.0)]

        def log_prior(v, p):
            return -(p.shape + 1) * np.log(v) - p.scale / v

        upper = [np.inf, np.inf]
    else:
        priors = [UniformSDNormal(0.0, 3.0, 4.0), UniformSDNormal(5.0, 1.0, 0.8)]

        def log_prior(v, p):  # sd uniform: density in v is 1 / (2 sqrt v) on (0, upper^2)
            return -0.5 * np.log(v)

        upper = [16.0, 0.64]
    model = BayesianMixture(
        [Normal(), Normal()], priors=priors, draws=4000, tune=200, chains=2, random_state=7
    ).fit(x, labels=y)
    assert not model.exact_
    for k, p in enumerate(priors):
        rows = x[y == k, 0]
        n, xbar = rows.size, rows.mean()
        ss = ((rows - xbar) ** 2).sum()

        def log_post_v(v, p=p, rows=rows, n=n, xbar=xbar, ss=ss):
            tot = p.mean_sd**2 + v / n
            return (
                log_prior(v, p)
                - (n - 1) / 2 * np.log(v)
                - ss / (2 * v)
                - 0.5 * np.log(tot)
                - (xbar - p.mean) ** 2 / (2 * tot)
            )

        top = min(upper[k], 50.0)
        grid = np.linspace(1e-4, top, 20001)
        logp = log_post_v(grid)
        dens = np.exp(logp - logp.max())
        z = integrate.trapezoid(dens, grid)
        ev = integrate.trapezoid(grid * dens, grid) / z
        ev2 = integrate.trapezoid(grid**2 * dens, grid) / z
        # mu | v ~ N(c(v), 1/prec(v)): E mu = E c(v), Var mu = E[1/prec] + Var c(v)
        prec = 1 / p.mean_sd**2 + n / grid
        c = (p.mean / p.mean_sd**2 + n * xbar / grid) / prec
        emu = integrate.trapezoid(c * dens, grid) / z
        emu2 = integrate.trapezoid((1 / prec + c**2) * dens, grid) / z
        # chains one after the other: batches never straddle two chains
        mc_check(flat(model.samples_["variance"])[:, k, 0], ev, np.sqrt(ev2 - ev**2), 40)
        mc_check(flat(model.samples_["mean"])[:, k, 0], emu, np.sqrt(emu2 - emu**2), 40)
    if kind == "uniform-sd":
        assert flat(model.samples_["sd"])[:, 1].max() <= 0.8


# --- the model on Old Faithful's waiting times, against PyMC ------------------------
def faithful_model(**options) -> BayesianMixture:
    prior = REFERENCE["prior"]
    priors = [
        UniformSDNormal(m, s, prior["sd_upper"])
        for m, s in zip(prior["means"], prior["means_sd"], strict=True)
    ]
    return BayesianMixture(
        [Normal(), Normal()],
        priors=priors,
        weight_prior=1.0,
        constraints={"ordered": True, "min_weight": prior["min_weight"]},
        **options,
    )


@pytest.fixture(scope="module")
def faithful_waiting(faithful):
    waiting = faithful[:, [1]]
    labels = (faithful[:, 0] > 3).astype(int)
    semi = np.where(np.arange(labels.size) % REFERENCE["semi_every"] == 0, labels, -1)
    return waiting, semi


@pytest.mark.parametrize("fit", ["unsupervised", "semi_supervised"])
def test_faithful_agrees_with_pymc(faithful_waiting, fit):
    """Posterior means and sds within 3 combined Monte Carlo SEs of PyMC's, R-hat < 1.01."""
    az = pytest.importorskip("arviz")
    waiting, semi = faithful_waiting
    model = faithful_model(chains=4, draws=1000, tune=300, random_state=11)
    model.fit(waiting, labels=None if fit == "unsupervised" else semi)
    post = model.posterior_.posterior
    mine = {
        "weight0": post["weights"].sel(component=0).values,
        "mean0": post["mean"].sel(component=0).values[..., 0],
        "mean1": post["mean"].sel(component=1).values[..., 0],
        "sd0": post["sd"].sel(component=0).values[..., 0],
        "sd1": post["sd"].sel(component=1).values[..., 0],
    }
    for name, draws in mine.items():
        ref = REFERENCE[fit][name]
        assert float(az.rhat(draws)) < 1.01, name
        se_mean = np.hypot(float(np.ravel(az.mcse(draws, method="mean"))[0]), ref["mcse_mean"])
        # arviz's mcse(method="sd") fails under NumPy 2 (arviz 0.23): the delta method on
        # squared deviations with their effective sample size, as the reference script does
        sq = (draws - draws.mean()) ** 2
        mcse_sd = np.sqrt(sq.var(ddof=1) / float(az.ess(sq, method="mean"))) / (2 * draws.std())
        se_sd = np.hypot(mcse_sd, ref["mcse_sd"])
        assert abs(draws.mean() - ref["mean"]) < Z * se_mean, (name, draws.mean(), ref)
        assert abs(draws.std(ddof=1) - ref["sd"]) < Z * se_sd, (name, draws.std(ddof=1), ref)


def test_posterior_is_inference_data_and_predictions_average_the_draws(faithful_waiting):
    az = pytest.importorskip("arviz")
    waiting, semi = faithful_waiting
    model = faithful_model(chains=2, draws=200, tune=100, random_state=12).fit(waiting, labels=semi)
    idata = model.posterior_
    assert {"posterior", "sample_stats", "observed_data"} <= set(idata.groups())
    assert idata.posterior.sizes["chain"] == 2 and idata.posterior.sizes["draw"] == 200
    assert "loglik" in idata.sample_stats
    np.testing.assert_array_equal(idata.observed_data["x"].values, waiting)
    assert "mean" in az.summary(idata, var_names=["mean"]).index[0]
    rows = waiting[:5]
    proba, spread = model.predict_proba(rows, return_std=True)
    # Brute force over the draws with scipy's normal densities.
    w = flat(model.samples_["weights"])  # (S, 2)
    mu, sd = flat(model.samples_["mean"])[..., 0], flat(model.samples_["sd"])[..., 0]
    joint = w[:, None, :] * stats.norm.pdf(rows[None, :, :], mu[:, None, :], sd[:, None, :])
    resp = joint / joint.sum(axis=2, keepdims=True)  # (S, n, 2)
    np.testing.assert_allclose(proba, resp.mean(axis=0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(spread, resp.std(axis=0), rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(
        model.score_samples(rows), np.log(joint.sum(axis=2).mean(axis=0)), rtol=1e-10
    )
    assert (np.diff(flat(model.samples_["mean"])[:, :, 0], axis=1) > 0).all()
    assert flat(model.samples_["weights"]).min() >= 0.1


def test_unsupervised_relabels_by_location():
    rng = np.random.default_rng(13)
    x = np.concatenate([rng.normal(-3, 1, 60), rng.normal(3, 1, 40)])[:, None]
    model = BayesianMixture(2, chains=3, draws=200, tune=100, random_state=14).fit(x)
    means = flat(model.samples_["mean"])[..., 0]
    assert (means[:, 0] < means[:, 1]).all()
    np.testing.assert_allclose(means.mean(axis=0), [-3, 3], atol=0.5)
    assert model.fit_type_ == "unsupervised"


@pytest.mark.parametrize(
    "kwargs, y, message",
    [
        ({}, np.array([0, 1, 2] * 10), "component indices 0, ..., 1"),
        ({"constraints": {"min_weight": 0.6}}, None, "min_weight"),
        ({"constraints": {"sorted": True}}, None, "keys"),
        ({"components": [Poisson(), Poisson()], "constraints": {"ordered": True}}, None, "relabel"),
        ({"components": [Poisson(), Normal()]}, None, "one family"),
        ({"priors": GammaPrior(2.0, 1.0)}, None, "Normal component takes"),
        ({"priors": [NormalInverseGamma(0, 1, 2, 1)] * 3}, None, "one prior per component"),
    ],
)
def test_bad_input_says_what_to_do(kwargs, y, message):
    x = np.arange(30, dtype=float)[:, None]
    with pytest.raises(ValueError, match=message):
        BayesianMixture(draws=5, tune=5, **kwargs).fit(x, labels=y)


def test_improper_posterior_is_an_error():
    # A flat prior on the mean and no row labelled with component 1: no posterior to draw from.
    x = np.arange(10, dtype=float)[:, None]
    model = BayesianMixture(2, priors=NormalInverseGamma(0.0, 0.0, 1.0, 1.0), draws=5, tune=5)
    with pytest.raises(ValueError, match="improper"):
        model.fit(x, labels=np.zeros(10, dtype=int))


def test_rows_all_equal_under_a_proper_semi_conjugate_prior_match_quadrature():
    # Five equal rows: the data have no spread, but the inverse gamma on the variance keeps
    # the posterior proper. The chain used to start from a variance of ~1e-314 and stop with
    # "improper (a flat prior on the mean of a component with no rows)".
    x = np.full((5, 1), 3.0)
    prior = SemiConjugateNormal(0.0, 3.0, 2.0, 2.0)
    model = BayesianMixture(
        [Normal()], priors=[prior], draws=4000, tune=100, chains=2, random_state=0
    ).fit(x)
    n, xbar = 5, 3.0
    grid = np.linspace(1e-4, 50.0, 40001)  # the variance; its posterior given mu integrated
    tot = prior.mean_sd**2 + grid / n
    logp = (
        -(prior.shape + 1) * np.log(grid)
        - prior.scale / grid
        - (n - 1) / 2 * np.log(grid)
        - 0.5 * np.log(tot)
        - (xbar - prior.mean) ** 2 / (2 * tot)
    )
    dens = np.exp(logp - logp.max())
    z = integrate.trapezoid(dens, grid)
    ev = integrate.trapezoid(grid * dens, grid) / z
    ev2 = integrate.trapezoid(grid**2 * dens, grid) / z
    prec = 1 / prior.mean_sd**2 + n / grid
    c = (prior.mean / prior.mean_sd**2 + n * xbar / grid) / prec
    emu = integrate.trapezoid(c * dens, grid) / z
    emu2 = integrate.trapezoid((1 / prec + c**2) * dens, grid) / z
    mc_check(flat(model.samples_["variance"])[:, 0, 0], ev, np.sqrt(ev2 - ev**2), 40)
    mc_check(flat(model.samples_["mean"])[:, 0, 0], emu, np.sqrt(emu2 - emu**2), 40)


def test_equal_rows_under_a_uniform_sd_prior_are_an_improper_posterior():
    # sd ~ U(0, u) and two equal rows: the density grows like sd^-1 as the sd goes to 0.
    x = np.full((4, 1), 3.0)
    model = BayesianMixture([Normal()], priors=[UniformSDNormal(0.0, 3.0, 4.0)], draws=5, tune=5)
    with pytest.raises(ValueError, match="equal rows in one component under a uniform prior"):
        model.fit(x)


def test_tied_rows_under_a_uniform_sd_prior_fit_whatever_the_seed():
    # Rounded data: sweeps that leave a component on tied rows alone draw its sd from a
    # proper conditional (given the mean); whether a fit succeeds must not depend on the seed
    # (seed 3 stopped mid-chain with an 'improper' error).
    rng = np.random.default_rng(0)
    x = np.round(np.r_[rng.normal(0, 1, 50), rng.normal(4, 1, 50)], 1)[:, None]
    priors = [UniformSDNormal(0.0, 100.0, 20.0)] * 3
    for seed in range(5):
        model = BayesianMixture([Normal()] * 3, priors=priors, draws=200, random_state=seed)
        assert np.all(model.fit(x).samples_["variance"] > 0)


@pytest.mark.parametrize("covariance_type", [None, "full", "tied", "diag"])
def test_default_prior_of_a_constant_feature_names_it(covariance_type):
    # The data-based prior's scale is 0 in a constant column: the draws used to be variances
    # of 1e-309 with overflow warnings (Normal components) or a raw LinAlgError.
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(size=20), np.ones(20), rng.normal(size=20)])
    model = BayesianMixture(2, covariance_type=covariance_type, draws=5, tune=5)
    with pytest.raises(ValueError, match=r"feature\(s\) \[1\]"):
        model.fit(x)


@pytest.mark.parametrize("scale", [1.0, 1e4, 1e9])
def test_features_on_far_apart_scales_are_not_a_singular_prior_scale(scale):
    # Column 0 times s, column 1 over s: the data covariance's eigenvalues are 1e8 and more
    # apart, but it is positive definite (numpy's Cholesky succeeds): the default prior fits.
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(5, 1, (60, 2))]) * [scale, 1 / scale]
    np.linalg.cholesky(np.cov(x.T))
    model = BayesianMixture(2, covariance_type="full", draws=50, tune=50, random_state=0)
    np.testing.assert_allclose(np.sort(model.fit(x).weights_), [0.5, 0.5], atol=0.05)


def test_singular_normal_inverse_wishart_scale_is_refused():
    x = np.random.default_rng(0).normal(size=(20, 2))
    prior = NormalInverseWishart(np.zeros(2), 0.1, 4.0, np.array([[1.0, 1.0], [1.0, 1.0]]))
    model = BayesianMixture(2, covariance_type="full", priors=prior, draws=5, tune=5)
    with pytest.raises(ValueError, match="scale must be positive definite"):
        model.fit(x)


def test_weight_prior_of_the_wrong_length_says_so():
    x = np.arange(30, dtype=float)[:, None]
    with pytest.raises(ValueError, match="one per component"):
        BayesianMixture(2, weight_prior=[1.0, 2.0, 3.0], draws=5, tune=5).fit(x)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("EMKIT_SLOW"), reason="slow: set EMKIT_SLOW=1")
def test_simulation_based_calibration_of_the_unsupervised_sampler():
    """Talts et al. (2018): the rank of a prior draw among posterior draws is uniform.

    Exchangeable priors with the ordering constraint: the constrained prior is the prior's
    draw with its components sorted by mean, so truths come from the model the sampler targets.
    """
    rng = np.random.default_rng(15)
    prior = NormalInverseGamma(0.0, 0.1, 3.0, 2.0)
    n_sims, kept, thin, n = 200, 99, 5, 20
    ranks: dict[str, list] = {"weight0": [], "mean0": [], "mean1": [], "variance0": []}
    for sim in range(n_sims):
        w = rng.dirichlet([2.0, 2.0])
        var = stats.invgamma(3.0, scale=2.0).rvs(2, random_state=rng)
        mu = rng.normal(0.0, np.sqrt(var / 0.1))
        order = np.argsort(mu)
        mu, var = mu[order], var[order]
        z = rng.choice(2, n, p=w)
        x = rng.normal(mu[z], np.sqrt(var[z]))[:, None]
        model = BayesianMixture(
            2,
            priors=prior,
            weight_prior=2.0,
            constraints={"ordered": True},
            chains=1,
            draws=kept * thin,
            tune=200,
            random_state=sim,
        ).fit(x)
        s = {k: v[0, ::thin] for k, v in model.samples_.items()}
        truth = {"weight0": w[0], "mean0": mu[0], "mean1": mu[1], "variance0": var[0]}
        drawn = {
            "weight0": s["weights"][:, 0],
            "mean0": s["mean"][:, 0, 0],
            "mean1": s["mean"][:, 1, 0],
            "variance0": s["variance"][:, 0, 0],
        }
        for name in ranks:
            ranks[name].append(int((drawn[name] < truth[name]).sum()))
    for name, r in ranks.items():
        counts = np.bincount(np.asarray(r) // 10, minlength=10)  # 10 bins of 10 ranks
        assert stats.chisquare(counts).pvalue > 0.001, (name, counts)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"covariance_type": "full"}, {"covariance_type": "diag"}, {"components": [Poisson()] * 4}],
    ids=["normal", "full", "diag", "poisson"],
)
def test_scikit_learn_estimator_checks(kwargs):
    from sklearn.utils.estimator_checks import check_estimator

    # The checks pass y, which the fit ignores: every fit is unsupervised (a Gibbs chain).
    # The multivariate ones take mclust's prior from the data (check_fit2d_1sample, and
    # the weighted checks on fewer rows than columns, refused it); Poisson components tag
    # their data positive and categorical (the checks sent negative and fractional values).
    expected = {
        "check_sample_weight_equivalence_on_dense_data": (
            "the check shuffles the weighted rows, and a chain's draws follow the rows' "
            "order: one seed gives other draws of the same posterior (in one order, "
            "test_whole_sample_weights_are_repeated_rows finds the same draws)"
        )
    }
    model = BayesianMixture(**{"components": 4, **kwargs}, chains=2, draws=10, tune=5)
    check_estimator(model.set_params(random_state=0), expected_failed_checks=expected)


@pytest.mark.parametrize("diagonal", [True, False])
def test_count_statistics_are_the_engines_weighted_statistics(diagonal):
    from emkit.bayes.conditionals import weighted_moments
    from emkit.distributions.gaussian import GaussianStats

    rng = np.random.default_rng(16)
    x = rng.normal(50.0, 3.0, (40, 3))
    counts = rng.integers(0, 4, (2, 3, 40)).astype(float)
    counts[1, 2] = 0.0  # an empty component
    weight, mean, scatter = weighted_moments(x, counts, diagonal)
    for b in range(2):
        ref = GaussianStats.from_data(x, counts[b].T, diagonal)
        np.testing.assert_allclose(weight[b], ref.weight)
        np.testing.assert_allclose(mean[b], ref.mean, rtol=1e-13)
        np.testing.assert_allclose(scatter[b], ref.scatter, rtol=1e-10, atol=1e-9)


def test_tied_rows_are_one_multinomial_draw():
    # Rows repeated 50 times: the sampler works on the 2 x 20 distinct rows, and its posterior
    # is the one of the expanded data (exact conjugate posterior when every row is labelled).
    from emkit.bayes.gibbs import DistinctRows

    rng = np.random.default_rng(18)
    base = np.r_[rng.normal(0, 1, 20), rng.normal(6, 1, 20)]
    x = np.repeat(base, 50)[:, None]
    rows = DistinctRows.of(x, None, 2)
    assert rows.x.shape == (40, 1) and not rows.single and rows.free.sum() == 2000
    prior = NormalInverseGamma(3.0, 0.1, 2.0, 2.0)
    model = BayesianMixture(2, priors=prior, chains=2, draws=1000, tune=200, random_state=19)
    means = flat(model.fit(x).samples_["mean"])[..., 0]  # relabelled by location
    labels = np.repeat(base > 3, 50).astype(int)
    exact = BayesianMixture(2, priors=prior, draws=2000, random_state=20).fit(x, labels=labels)
    # Well separated: the latent labels are known with certainty, so the two agree.
    mc_check(
        means,
        flat(exact.samples_["mean"])[..., 0].mean(axis=0),
        flat(exact.samples_["mean"])[..., 0].std(axis=0),
        batches=20,
    )


def test_posterior_without_arviz_says_how_to_get_it(monkeypatch):
    x = np.r_[np.zeros(5), np.ones(5) * 3][:, None] + np.arange(10)[:, None] * 0.01
    model = BayesianMixture(2, chains=1, draws=5, tune=5, random_state=0).fit(x)
    monkeypatch.setitem(__import__("sys").modules, "arviz", None)  # import arviz now fails
    with pytest.raises(ImportError, match=r"emkit\[bayes\]"):
        getattr(model, "posterior_")  # noqa: B009 (the property raises)
    assert model.samples_["weights"].shape == (1, 5, 2)  # the draws need no arviz


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag"])
def test_unsupervised_multivariate_posterior_centres_on_scikit_learns_mle(
    faithful, covariance_type
):
    # With 272 rows and mclust's weak prior the posterior mean of each component mean lies
    # within a fraction of a posterior sd of the maximum-likelihood estimate.
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    mle = SkGaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(faithful)
    mle_means = mle.means_[np.argsort(mle.means_[:, 0])]
    model = BayesianMixture(
        2, covariance_type=covariance_type, chains=2, draws=300, tune=100, random_state=17
    ).fit(faithful)
    draws = flat(model.samples_["mean"])  # (S, 2, 2), relabelled by the first feature
    assert np.all(np.abs(draws.mean(axis=0) - mle_means) < 0.5 * draws.std(axis=0))
    np.testing.assert_allclose(model.weights_[0], mle.weights_.min(), atol=0.02)


def test_feature_products_are_the_engines_log_densities_and_statistics():
    # The sampler's E-step (coefficients times features) and statistics (counts times
    # features) against the diagonal Gaussian's log densities and the weighted statistics.
    from emkit.bayes.conditionals import NormalConditional, weighted_moments

    rng = np.random.default_rng(21)
    x = rng.normal([50.0, -3.0], [3.0, 0.1], (40, 2))
    cond = NormalConditional((NormalInverseGamma(0.0, 0.1, 2.0, 1.0),) * 3, 2)
    params = {
        "mean": rng.normal([50.0, -3.0], 2.0, (2, 3, 2)),
        "variance": rng.gamma(2, size=(2, 3, 2)),
    }
    features, centre = cond.features(x)
    got = cond.natural(params, centre) @ features.T  # (B, K, n)
    want = stats.norm.logpdf(
        x[None, None], params["mean"][:, :, None], np.sqrt(params["variance"])[:, :, None]
    ).sum(axis=3)
    np.testing.assert_allclose(got, want, rtol=1e-11)
    counts = rng.integers(0, 4, (2, 3, 40)).astype(float)
    counts[1, 2] = 0.0  # an empty component
    got = cond.from_moments(counts @ features, centre)
    weight, mean, scatter = weighted_moments(x, counts, diagonal=True)
    np.testing.assert_allclose(got.weight[..., 0], weight)
    present = weight > 0
    np.testing.assert_allclose(got.mean[present], mean[present], rtol=1e-13)
    np.testing.assert_allclose(got.scatter, scatter, rtol=1e-10, atol=1e-9)


def test_log_likelihood_sums_each_rows_density_under_each_draw():
    rng = np.random.default_rng(22)
    x = np.r_[rng.normal(0, 1, 30), rng.normal(5, 1, 30)][:, None]
    y = np.full(60, -1)
    y[:5], y[-5:] = 0, 1  # semi-supervised: labelled rows count at their label
    model = BayesianMixture(2, chains=2, draws=50, tune=20, random_state=23).fit(x, labels=y)
    s = model.samples_
    w, mu, sd = s["weights"], s["mean"][..., 0], s["sd"][..., 0]  # (C, D, K)
    joint = w[:, :, None] * stats.norm.pdf(x[None, None], mu[:, :, None], sd[:, :, None])
    per_row = np.log(joint.sum(axis=3))  # (C, D, n)
    lab = y >= 0
    per_row[..., lab] = np.log(joint[:, :, lab, y[lab]])
    np.testing.assert_allclose(model.log_likelihood_, per_row.sum(axis=2), rtol=1e-12)


def test_three_components_with_ties_are_the_labelled_posterior():
    # K = 3 on rows repeated 40 times (multinomial draws of tied rows), one copy of a row per
    # cluster labelled (the labels identify the components); well separated, so the other
    # labels are known too and the posterior is the fully labelled one.
    rng = np.random.default_rng(24)
    base = np.r_[rng.normal(0, 1, 15), rng.normal(8, 1, 15), rng.normal(16, 1, 15)]
    x = np.repeat(base, 40)[:, None]
    labels = np.repeat(np.digitize(base, [4, 12]), 40)
    y = np.full(labels.size, -1)
    y[[0, 600, 1200]] = labels[[0, 600, 1200]]
    prior = NormalInverseGamma(8.0, 0.01, 2.0, 2.0)
    model = BayesianMixture(3, priors=prior, chains=2, draws=1000, tune=200, random_state=25)
    means = flat(model.fit(x, labels=y).samples_["mean"])[..., 0]
    exact = BayesianMixture(3, priors=prior, draws=2000, random_state=26).fit(x, labels=labels)
    ref = flat(exact.samples_["mean"])[..., 0]
    mc_check(means, ref.mean(axis=0), ref.std(axis=0), batches=20)


@pytest.mark.parametrize("labelled", [False, True])
def test_whole_sample_weights_are_repeated_rows(labelled):
    # Rows repeated 25 times and the same rows weighted 25 give the same distinct rows and
    # counts, so the same draws from the same seed: the unsupervised Gibbs chain, and the
    # exact supervised draws (the default prior from the weighted moments).
    rng = np.random.default_rng(27)
    base = np.r_[rng.normal(0, 1, 10), rng.normal(5, 1, 10)][:, None]
    y = np.repeat([0, 1], 10) if labelled else None
    weights = np.full(20, 25)
    weights[3] = 0  # left out
    keep = np.repeat(np.arange(20), weights)
    options = dict(chains=2, draws=100, tune=20, random_state=28)
    repeated = BayesianMixture(2, **options).fit(base[keep], labels=None if y is None else y[keep])
    weighted = BayesianMixture(2, **options).fit(base, labels=y, sample_weight=weights)
    assert repeated.fit_type_ == weighted.fit_type_
    for name in ("weights", "mean", "variance"):
        np.testing.assert_allclose(weighted.samples_[name], repeated.samples_[name], rtol=1e-9)
    np.testing.assert_allclose(weighted.log_likelihood_, repeated.log_likelihood_, rtol=1e-9)


def test_fractional_sample_weight_says_what_to_do():
    x = np.arange(10, dtype=float)[:, None]
    with pytest.raises(ValueError, match="whole numbers"):
        BayesianMixture(draws=5, tune=5).fit(x, sample_weight=np.full(10, 0.5))


def test_fitted_on_a_dataframe_reads_its_own_rows_without_a_feature_names_warning():
    # log_likelihood_ and posterior_ go over the rows fit() checked; they are no new input
    pd = pytest.importorskip("pandas")
    pytest.importorskip("arviz")
    rng = np.random.default_rng(24)
    x = np.vstack([rng.normal(0.0, 1.0, (30, 2)), rng.normal(4.0, 1.0, (30, 2))])
    settings = dict(chains=2, draws=20, tune=10, random_state=25)
    on_array = BayesianMixture(2, **settings).fit(x)
    model = BayesianMixture(2, **settings).fit(pd.DataFrame(x, columns=["a", "b"]))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*feature names")
        # the same draws; a DataFrame's columns are laid out otherwise, so sums differ in ulps
        np.testing.assert_allclose(model.log_likelihood_, on_array.log_likelihood_, rtol=1e-13)
        assert "loglik" in model.posterior_.sample_stats
        proba = model.predict_proba(pd.DataFrame(x[:3], columns=["a", "b"]))
    np.testing.assert_allclose(proba, on_array.predict_proba(x[:3]), rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, dims",
    [
        ({}, {"mean": ("component", "feature"), "sd": ("component", "feature")}),
        ({"covariance_type": "full"}, {"covariance": ("component", "feature", "feature_bis")}),
        ({"covariance_type": "tied"}, {"covariance": ("feature", "feature_bis")}),
        ({"covariance_type": "diag"}, {"covariance": ("component", "feature")}),
        ({"covariance_type": "spherical"}, {"covariance": ("component",)}),
        ({"components": [Poisson(), Poisson()]}, {"rate": ("component", "feature")}),
        (
            {"components": [Categorical(), Categorical()]},
            {"probs": ("component", "feature", "category")},
        ),
    ],
)
@pytest.mark.parametrize("named", [True, False])
def test_posterior_dims_name_components_and_features(kwargs, dims, named):
    """Every parameter shares the ``component`` and ``feature`` dims with the observed rows;
    features are the DataFrame's columns, else x0, x1 (scikit-learn's names)."""
    pd = pytest.importorskip("pandas")
    az = pytest.importorskip("arviz")
    rng = np.random.default_rng(26)
    x = rng.integers(0, 3, (60, 2)).astype(float)
    x[30:] += 2.0
    columns = ["height", "width"] if named else ["x0", "x1"]
    data = pd.DataFrame(x, columns=columns) if named else x
    settings = {"components": 2, "chains": 2, "draws": 10, "tune": 5, "random_state": 27}
    model = BayesianMixture(**{**settings, **kwargs}).fit(data)
    idata = model.posterior_
    post = idata.posterior
    assert list(post["component"].values) == [0, 1]
    assert list(post["feature"].values) == columns
    assert list(idata.observed_data["feature"].values) == columns
    assert idata.observed_data["x"].dims == ("row", "feature")
    for name, value in model.samples_.items():
        np.testing.assert_array_equal(post[name].values, value)
        assert not any("_dim_" in dim for dim in post[name].dims), (name, post[name].dims)
    for name, want in dims.items():
        assert post[name].dims == ("chain", "draw") + want
    if "feature_bis" in post.dims:
        assert list(post["feature_bis"].values) == columns
    if "category" in post.dims:
        assert list(post["category"].values) == [0, 1, 2, 3, 4]
    name, axes = next(iter(dims.items()))
    first = f"{name}[{', '.join(str(post[axis].values[0]) for axis in axes)}]"
    assert first in az.summary(idata, var_names=[name], kind="stats").index  # mean[0, height]


def _mixture_log_density(x, weights, means, covariances):
    """log sum_k w_k N(x | mu_k, Sigma_k) of each row of x, by scipy.stats."""
    parts = [
        np.log(w) + stats.multivariate_normal(m, c).logpdf(x)
        for w, m, c in zip(weights, means, covariances, strict=True)
    ]
    return np.logaddexp.reduce(parts, axis=0)


def test_posterior_has_the_pointwise_log_likelihood_for_loo_and_waic():
    # posterior_ had no log_likelihood group: az.loo and az.waic failed with "log likelihood
    # not found in inference data object".
    az = pytest.importorskip("arviz")
    rng = np.random.default_rng(3)
    x = np.vstack([rng.normal(0, 1, (40, 2)), rng.normal(4, 1, (30, 2))])
    model = BayesianMixture(
        2, covariance_type="full", chains=2, draws=40, tune=20, random_state=0
    ).fit(x)
    idata = model.posterior_
    pointwise = idata.log_likelihood["x"]
    assert pointwise.dims == ("chain", "draw", "row") and pointwise.shape == (2, 40, 70)
    s = model.samples_
    for chain, draw in [(0, 0), (1, 17), (1, 39)]:
        want = _mixture_log_density(
            x, s["weights"][chain, draw], s["mean"][chain, draw], s["covariance"][chain, draw]
        )
        np.testing.assert_allclose(pointwise.values[chain, draw], want, rtol=1e-12)
    np.testing.assert_allclose(pointwise.sum("row").values, model.log_likelihood_, rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # few draws: arviz's diagnostics warn
        waic, loo = az.waic(idata), az.loo(idata)
    assert np.isfinite(waic.elpd_waic) and np.isfinite(loo.elpd_loo)
    # The exact leave-nothing-out log predictive density bounds both from above.
    lppd = np.sum(np.log(np.exp(pointwise.values).mean(axis=(0, 1))))
    assert waic.elpd_waic < lppd and loo.elpd_loo < lppd


def test_pointwise_log_likelihood_of_labelled_and_weighted_rows():
    pytest.importorskip("arviz")
    x = np.concatenate([np.linspace(-4, -2, 6), np.linspace(2, 4, 6)])[:, None]
    y = np.array([0, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 1])
    weights = np.array([1, 2, 0, 1, 1, 3, 1, 1, 1, 1, 2, 1])
    model = BayesianMixture(2, chains=2, draws=10, tune=5, random_state=0)
    model.fit(x, labels=y, sample_weight=weights)
    pointwise = model.posterior_.log_likelihood["x"]
    # A row of weight m is m observations; a labelled row scores with its component.
    assert pointwise.dims == ("chain", "draw", "observation")
    assert pointwise.shape == (2, 10, weights.sum())
    s = model.samples_
    w, mean, sd = s["weights"][1, 4], s["mean"][1, 4, :, 0], s["sd"][1, 4, :, 0]
    joint = np.log(w) + stats.norm.logpdf(x, mean, sd)  # (n, 2)
    rows = np.logaddexp.reduce(joint, axis=1)
    rows[0], rows[-1] = joint[0, 0], joint[-1, 1]
    np.testing.assert_allclose(pointwise.values[1, 4], np.repeat(rows, weights), rtol=1e-12)
    np.testing.assert_allclose(pointwise.sum("observation"), model.log_likelihood_, rtol=1e-12)


def test_the_pointwise_log_likelihood_is_an_option(monkeypatch):
    pytest.importorskip("arviz")
    from emkit.estimators import bayesian_mixture

    x = np.arange(20, dtype=float)[:, None]
    model = BayesianMixture(2, chains=1, draws=5, tune=5, random_state=0, log_likelihood=False)
    assert "log_likelihood" not in model.fit(x).posterior_.groups()
    model.set_params(log_likelihood=True)  # asked for after the fit: built then
    assert model.posterior_.log_likelihood["x"].shape == (1, 5, 20)
    # "auto": up to chains x draws x rows = POINTWISE_AUTO_LIMIT values
    monkeypatch.setattr(bayesian_mixture, "POINTWISE_AUTO_LIMIT", 100)
    assert "log_likelihood" in model.set_params(log_likelihood="auto").fit(x).posterior_.groups()
    assert "log_likelihood" not in model.fit(np.arange(21.0)[:, None]).posterior_.groups()
    with pytest.raises(ValueError, match="log_likelihood"):
        BayesianMixture(log_likelihood="yes").fit(x)


def _ordered_reference(x, y):
    """Posterior means of (mu_0, mu_1) under the default prior, given the labels and mu_0 <
    mu_1: each mean's marginal is a Student t; their product restricted to the order, by
    quadrature on a fine grid (log scale)."""
    from scipy.special import logsumexp

    from emkit.estimators.bayesian_mixture import _default_prior

    prior = _default_prior(Normal(), x, 2, None)
    laws = []
    for k in range(2):
        d = x[y == k, 0]
        k0, m0, a0, b0 = prior.shrinkage, prior.mean[0], prior.shape, prior.scale[0]
        kn, an = k0 + d.size, a0 + d.size / 2
        mn = (k0 * m0 + d.sum()) / kn
        bn = b0 + 0.5 * ((d - d.mean()) ** 2).sum() + k0 * d.size * (d.mean() - m0) ** 2 / (2 * kn)
        laws.append(stats.t(2 * an, loc=mn, scale=np.sqrt(bn / (an * kn))))
    grid = np.linspace(-30, 30, 600_001)
    first = laws[0].logpdf(grid) + laws[1].logsf(grid)
    second = laws[1].logpdf(grid) + laws[0].logcdf(grid)
    return np.array([np.exp(lw - logsumexp(lw)) @ grid for lw in (first, second)])


@pytest.mark.parametrize("overrelaxation", [-0.7, 0.0])
def test_ordered_means_against_the_data_move_and_match_quadrature(overrelaxation):
    # The labelled data pull the means against the order (class 0 at 1, class 1 at 0): the
    # overrelaxed joint move left the order almost surely and was refused, so every draw of
    # every chain was its start (-0.45, 1.09).
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(1, 1, 10), rng.normal(0, 1, 10)][:, None]
    y = np.repeat([0, 1], 10)
    model = BayesianMixture(
        2,
        constraints={"ordered": True},
        overrelaxation=overrelaxation,
        chains=4,
        draws=2000,
        tune=200,
        random_state=0,
    ).fit(x, labels=y)
    mean = model.samples_["mean"][..., 0]  # (chains, draws, K)
    assert np.unique(mean[..., 0]).size > 1000
    assert np.all(mean[..., 0] < mean[..., 1])
    # Monte Carlo standard error from 40 batch means of the 8000 draws.
    batches = mean.reshape(4, 20, 100, 2).mean(axis=2).reshape(80, 2)
    se = batches.std(axis=0, ddof=1) / np.sqrt(80)
    np.testing.assert_array_less(
        np.abs(mean.mean(axis=(0, 1)) - _ordered_reference(x, y)), 4 * se + 0.01
    )


def test_labels_against_the_order_far_in_the_tail_give_finite_draws():
    # The ordered Gibbs draws of means 40 sd beyond a neighbour: the truncated normal returned
    # inf (and the fit kept NaN draws, 1000 of 2000, then predict raised a LinAlgError).
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(5, 1, 100), rng.normal(0, 1, 100)][:, None]
    y = np.full(200, -1)
    y[:3], y[100:103] = 0, 1
    model = BayesianMixture(
        2,
        constraints={"ordered": True},
        overrelaxation=0.0,
        chains=2,
        draws=500,
        tune=200,
        random_state=0,
    ).fit(x, labels=y)
    assert np.all(np.isfinite(model.samples_["mean"]))
    assert np.all(np.isfinite(model.predict_proba([[0.0], [5.0]])))


def test_non_finite_draws_are_refused_naming_the_parameter():
    from emkit.bayes.gibbs import Trace
    from emkit.estimators.bayesian_mixture import _check_finite

    mean = np.zeros((2, 3, 2, 1))
    mean[1, 2, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"non-finite values of 'mean' \(1 of 12.*chain 1, draw 2"):
        _check_finite(Trace({"mean": mean, "variance": np.ones((2, 3, 2, 1))}, np.ones((2, 3, 2))))


@pytest.mark.parametrize(
    ("families", "fit_rows", "rows"),
    [
        ([Poisson(), Poisson()], np.repeat([[0], [2], [3], [9], [11]], 4, axis=0), [[-1.0], [2.5]]),
        ([Categorical(3)] * 2, np.repeat([[0], [1], [2]], 5, axis=0), [[5]]),
    ],
)
def test_rows_outside_every_support_are_refused_as_by_mixture_model(families, fit_rows, rows):
    # predict_proba gave NaN and predict label 0 for them.
    from emkit import MixtureModel

    model = BayesianMixture(families, chains=1, draws=20, tune=5, random_state=0).fit(fit_rows)
    reference = MixtureModel(families, random_state=0).fit(fit_rows)
    with pytest.raises(ValueError) as expected:
        reference.predict_proba(rows)
    for method in (model.predict_proba, model.predict):
        with pytest.raises(ValueError, match="outside the support of every component") as got:
            method(rows)
        assert str(got.value) == str(expected.value)
    assert np.all(model.score_samples(rows) == -np.inf)


@pytest.mark.parametrize(
    ("kwargs", "fit_rows"),
    [
        ({"covariance_type": "full"}, np.arange(20.0).reshape(10, 2) ** 1.5),
        ({"components": [Poisson(), Poisson()]}, np.arange(10)[:, None]),
    ],
)
def test_ordered_other_than_normal_components_names_them(kwargs, fit_rows):
    # It said "for other components" of multivariate normal components too.
    model = BayesianMixture(**{"components": 2, **kwargs}, constraints={"ordered": True})
    expected = "multivariate normal" if "covariance_type" in kwargs else "other families"
    with pytest.raises(ValueError, match=rf"orders the means of Normal components .*{expected}"):
        model.fit(fit_rows)


@pytest.mark.parametrize(
    ("kwargs", "unlike"),
    [
        ({"weight_prior": [1.0, 50.0]}, "weight_prior differs"),
        (
            {"priors": [SemiConjugateNormal(-2, 1, 2, 2), SemiConjugateNormal(2, 1, 2, 2)]},
            "components 0 and 1 have different priors",
        ),
    ],
)
def test_relabelling_is_left_out_where_the_prior_is_not_symmetric(kwargs, unlike):
    # Sorting draws by location under an asymmetric prior gave component k the other's prior.
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(-2, 1, 50), rng.normal(2, 1, 50)][:, None]
    settings = dict(chains=2, draws=200, tune=100, random_state=0, **kwargs)
    with pytest.warns(UserWarning, match=rf"relabel=True left the draws as sampled: {unlike}"):
        model = BayesianMixture(2, **settings).fit(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = BayesianMixture(2, relabel=False, **settings).fit(x)
    for name in ("weights", "mean", "variance"):
        np.testing.assert_array_equal(model.samples_[name], plain.samples_[name])


def test_relabelling_under_one_prior_for_every_component_still_sorts():
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(-2, 1, 50), rng.normal(2, 1, 50)][:, None]
    prior = SemiConjugateNormal(0, 3, 2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = BayesianMixture(
            2,
            priors=[prior, SemiConjugateNormal(0, 3, 2, 2)],
            weight_prior=[2.0, 2.0],
            chains=2,
            draws=200,
            tune=100,
            random_state=0,
        ).fit(x)
    mean = model.samples_["mean"][..., 0]
    assert np.all(mean[..., 0] <= mean[..., 1])


def test_default_prior_of_normal_components_is_mclusts_and_diags():
    # The Normal components' default was the variance with divisor n over 2 K^2 whatever d
    # (and shape 1.5); "V" and "diag" took mclust's (divisor n - 1, K^(2/d), dof d + 2).
    from emkit.estimators.bayesian_mixture import _default_prior

    x = np.array([[0.1], [0.5], [1.9], [4.0], [4.4], [5.2]])
    y = np.repeat([0, 1], 3)
    # R: p <- mclust::defaultPrior(c(0.1, 0.5, 1.9, 4.0, 4.4, 5.2), G = 2, modelName = "V")
    # p$dof = 3, p$scale = 1.1534166666666668: sigma^2 ~ IG(dof/2, scale/2).
    prior = _default_prior(Normal(), x, 2, None)
    assert prior.shape == 1.5 and prior.shrinkage == 0.01
    np.testing.assert_allclose(prior.scale, 1.1534166666666668 / 2, rtol=1e-14)
    X = np.c_[x, x[::-1] * 2]
    settings = dict(chains=1, draws=200, random_state=0)
    for data, structure in ((x, "V"), (X, "diag")):
        normal = BayesianMixture(2, **settings).fit(data, labels=y)
        gaussian = BayesianMixture(2, covariance_type=structure, **settings).fit(data, labels=y)
        np.testing.assert_allclose(
            normal.samples_["variance"].reshape(200, -1),
            gaussian.samples_["covariance"].reshape(200, -1),
            rtol=1e-12,
        )


def test_y_is_ignored_as_by_scikit_learns_density_estimators():
    # scikit-learn's GaussianMixture ignores y in fit, so cross_val_score(model, X, y) and a
    # GridSearchCV scored by agreement with y judge the unsupervised model; labels go in
    # labels= (routed per fold as params={"labels": ...}).
    from sklearn.base import clone
    from sklearn.metrics import adjusted_rand_score
    from sklearn.mixture import GaussianMixture as SkGaussianMixture
    from sklearn.model_selection import KFold, cross_val_score

    rng = np.random.default_rng(40)
    x = np.r_[rng.normal(-1.0, 1, 40), rng.normal(1.0, 1, 40)][:, None]
    y = np.r_[np.zeros(40, dtype=int), np.ones(40, dtype=int)]
    folds = KFold(2, shuffle=True, random_state=0)
    reference = SkGaussianMixture(2, random_state=0)
    np.testing.assert_array_equal(
        cross_val_score(reference, x, y, cv=folds), cross_val_score(reference, x, cv=folds)
    )
    model = BayesianMixture(2, chains=1, draws=50, tune=20, random_state=0)
    np.testing.assert_array_equal(
        cross_val_score(model, x, y, cv=folds), cross_val_score(model, x, cv=folds)
    )
    fitted = clone(model).fit(x, y)
    assert fitted.fit_type_ == "unsupervised"
    np.testing.assert_array_equal(fitted.samples_["mean"], clone(model).fit(x).samples_["mean"])

    # y never reaches the fit: scoring by agreement with y is no leak of the labels
    def agreement(est, data, truth):
        return adjusted_rand_score(truth, est.predict(data))

    unsupervised = cross_val_score(model, x, y, cv=folds, scoring=agreement)
    supervised = cross_val_score(model, x, y, cv=folds, scoring=agreement, params={"labels": y})
    assert np.all(unsupervised < 0.8) and np.all(supervised > unsupervised)
    labelled = clone(model).fit(x, labels=y)
    assert labelled.fit_type_ == "supervised"
    pytest.importorskip("arviz")
    assert "labels" in labelled.posterior_.observed_data


def _two_clusters() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.r_[rng.normal(-3, 1, 50), rng.normal(3, 1, 50)][:, None]


@pytest.mark.parametrize(
    ("kwargs", "why", "fix"),
    [
        ({"priors": NormalInverseGamma(0.0, 0.0, 2.0, 1.0)}, "shrinkage=0", "shrinkage > 0"),
        ({"priors": NormalInverseGamma(0.0, 0.5, 2.0, 0.0)}, "scale of 0", "scale > 0"),
        ({"priors": SemiConjugateNormal(0.0, np.inf, 2.0, 1.0)}, "mean_sd=inf", "finite mean_sd"),
        ({"priors": UniformSDNormal(0.0, np.inf, 5.0)}, "mean_sd=inf", "finite mean_sd"),
        (
            {
                "covariance_type": "full",
                "priors": NormalInverseWishart(np.zeros(1), 0.0, 3.0, np.eye(1)),
            },
            "shrinkage=0",
            "shrinkage > 0",
        ),
    ],
)
def test_improper_prior_on_an_empty_component_is_refused_before_sampling(kwargs, why, fix):
    # Diebolt & Robert (1994): the allocations that leave a component empty make an
    # unsupervised posterior improper under a flat mean. K = 2 on 100 well separated rows
    # used to return draws (no sweep emptied a component), K = 3 to fail mid-chain.
    x = _two_clusters()
    for k in (2, 3):
        model = BayesianMixture(k, chains=2, draws=20, tune=5, random_state=0, **kwargs)
        with pytest.raises(ValueError, match=f"{why}.*no row is labelled.*{fix}"):
            model.fit(x)


def test_flat_gamma_prior_on_poisson_rates_is_refused_unsupervised():
    x = np.random.default_rng(0).poisson([[2.0], [9.0]], (2, 40)).reshape(-1, 1)
    model = BayesianMixture([Poisson(), Poisson()], priors=GammaPrior(1.0, 0.0), draws=20, tune=5)
    with pytest.raises(ValueError, match="rate=0.*rate > 0"):
        model.fit(x)


def test_flat_mean_semi_supervised_needs_a_labelled_row_in_every_component():
    x = _two_clusters()
    prior = SemiConjugateNormal(0.0, np.inf, 2.0, 1.0)
    model = BayesianMixture(2, priors=prior, chains=2, draws=200, tune=50, random_state=0)
    labels = np.full(100, -1)
    labels[:3] = 0  # component 1 has no labelled row: refused, naming it
    with pytest.raises(ValueError, match=r"component\(s\) \[1\] have no labelled row"):
        model.fit(x, labels=labels)
    # A labelled row of weight 0 is no row.
    labels[60] = 1
    weights = np.ones(100)
    weights[60] = 0
    with pytest.raises(ValueError, match=r"component\(s\) \[1\] have no labelled row"):
        model.fit(x, labels=labels, sample_weight=weights)
    # One labelled row in each: the posterior is proper and sampled; the means lie near the
    # clusters' sample means (each cluster's rows at sd 1: the mean's sd about 0.15).
    model.fit(x, labels=labels)
    means = model.samples_["mean"].mean(axis=(0, 1))[:, 0]
    np.testing.assert_allclose(means, [x[:50].mean(), x[50:].mean()], atol=0.3)


def test_flat_mean_supervised_with_every_component_labelled_is_sampled():
    x = _two_clusters()
    labels = np.repeat([0, 1], 50)
    prior = SemiConjugateNormal(0.0, np.inf, 2.0, 1.0)
    model = BayesianMixture(2, priors=prior, chains=2, draws=300, tune=50, random_state=0)
    model.fit(x, labels=labels)
    assert model.fit_type_ == "supervised"
    means = model.samples_["mean"].mean(axis=(0, 1))[:, 0]
    np.testing.assert_allclose(means, [x[:50].mean(), x[50:].mean()], atol=0.1)


@pytest.mark.parametrize("weight", [2.0**53 + 2, 2.0**63, 1e19])
def test_weights_beyond_exact_counting_are_refused_up_front(weight):
    x = np.random.default_rng(0).normal(size=(20, 1))
    model = BayesianMixture(2, chains=1, draws=10, tune=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # used to warn of an invalid cast, then "n < 0"
        with pytest.raises(ValueError, match=r"sample_weight must count rows exactly.*2\*\*53"):
            model.fit(x, sample_weight=np.r_[weight, np.ones(19)])


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_one_row_under_a_given_prior_starts_from_the_prior_without_warnings(covariance_type):
    prior = NormalInverseWishart(np.zeros(2), 0.1, 4.0, np.array([[1.0, 0.3], [0.3, 2.0]]))
    x = np.array([[1.0, 2.0]])
    model = BayesianMixture(
        2,
        covariance_type=covariance_type,
        priors=prior,
        chains=2,
        draws=20,
        tune=5,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # np.cov of one row warned thrice
        model.fit(x)
    assert np.isfinite(model.samples_["covariance"]).all()
    # The start: the inverse-Wishart's mode Lambda / (nu + d + 1), in the structure's layout.
    cond = model._conditional_
    stats = cond.count_stats(x, np.ones((1, 2, 1)))
    start = cond.start(stats, x)["covariance"]
    mode = prior.scale / (4.0 + 2 + 1)
    expected = {
        "full": mode,
        "tied": mode,
        "diag": np.diag(mode),
        "spherical": np.trace(mode) / 2,
    }[covariance_type]
    np.testing.assert_allclose(start, np.broadcast_to(expected, start.shape), rtol=1e-12)


def _two_clusters_apart_in_later_features(kind: str):
    """Rows of two clusters alike in feature 0 and apart in the others; the samples' name of
    the parameter that separates them."""
    rng = np.random.default_rng(0)
    z = np.repeat([0, 1], 100)
    if kind == "bernoulli":
        probs = np.array([[0.5, 0.9, 0.9, 0.9], [0.5, 0.1, 0.1, 0.1]])
        return (rng.random((200, 4)) < probs[z]).astype(float), "probs", [0.0, 1.0, 1.0, 1.0]
    x = np.c_[rng.normal(0, 1, 200), rng.normal(np.array([-5.0, 5.0])[z], 1)]
    return x, "mean", [0.0, -5.0]


@pytest.mark.parametrize(
    "kind, options",
    [
        ("bernoulli", {"components": [Bernoulli(), Bernoulli()]}),
        ("normal", {}),
        ("normal", {"covariance_type": "full"}),
    ],
)
def test_relabelling_follows_the_classification_not_the_first_feature(kind, options):
    # Sorting each draw by the first feature's location, where both components share it,
    # switched the labels of half the draws: Bernoulli probabilities [.41 .46 .41 .42] and
    # [.46 .53 .48 .49] for truth .9 and .1, normal means [4.14, -4.09] with sd 3.2 for -5
    # and 5, predict_proba [0.455, 0.545], and R-hat 1.001 said nothing.
    az = pytest.importorskip("arviz")
    x, name, row = _two_clusters_apart_in_later_features(kind)
    settings = dict(draws=300, tune=100, random_state=0, **options)
    settings.setdefault("components", 2)
    model = BayesianMixture(chains=4, **settings).fit(x)
    one = BayesianMixture(chains=1, relabel=False, **settings).fit(x)  # no switch in one chain
    draws, reference = flat(model.samples_[name])[..., 1], flat(one.samples_[name])[..., 1]
    ours = model.predict_proba([row])[0]
    by_value = np.argsort(draws.mean(axis=0))  # the components low, high in feature 1
    draws, ours = draws[:, by_value], ours[by_value]
    reference = reference[:, np.argsort(reference.mean(axis=0))]
    se = np.hypot(draws.std(axis=0) / np.sqrt(50), reference.std(axis=0) / np.sqrt(50))
    np.testing.assert_array_less(np.abs(draws.mean(axis=0) - reference.mean(axis=0)), 4 * se)
    np.testing.assert_allclose(draws.std(axis=0), reference.std(axis=0), rtol=0.3)
    for k in range(2):
        assert float(az.rhat(model.samples_[name][..., k, 1])) < 1.05
    if kind == "bernoulli":  # EM's fit is near the truth: 0.1^3 against 0.9^3
        em = np.array([0.1**3, 0.9**3]) / (0.1**3 + 0.9**3)
    else:
        from sklearn.mixture import GaussianMixture as SkGaussianMixture

        mixture = SkGaussianMixture(2, covariance_type="full", random_state=0).fit(x)
        em = mixture.predict_proba([row])[0][np.argsort(mixture.means_[:, 1])]
    np.testing.assert_allclose(ours, em, atol=0.05)


def test_semi_supervised_draws_are_relabelled_among_the_unlabelled_components():
    # Only component 0 has labelled rows: components 1 and 2 were left as sampled, and one
    # chain of four swapped them (pooled means [-5.92, 1.55, 4.48], R-hat 1.53).
    az = pytest.importorskip("arviz")
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(-6, 1, 60), rng.normal(0, 1, 60), rng.normal(6, 1, 60)][:, None]
    labels = np.full(180, -1)
    labels[:5] = 0
    settings = dict(chains=4, draws=200, tune=100, random_state=0)
    model = BayesianMixture(3, **settings).fit(x, labels=labels)
    plain = BayesianMixture(3, relabel=False, **settings).fit(x, labels=labels)
    mean = model.samples_["mean"][..., 0]  # (chains, draws, K)
    # The truth, within 4 posterior sds of a mean of 60 rows of sd 1.
    np.testing.assert_allclose(mean.mean(axis=(0, 1)), [-6, 0, 6], atol=4 / np.sqrt(60) + 0.2)
    for k in range(3):
        assert float(az.rhat(mean[..., k])) < 1.05
    for name in ("weights", "mean", "variance"):  # the labelled component keeps its draws
        np.testing.assert_array_equal(model.samples_[name][:, :, 0], plain.samples_[name][:, :, 0])
    assert np.abs(model.predict_proba([[6.0]])[0] - [0, 0, 1]).max() < 0.05


def _closest_permutations_cost(p, free, counts):
    """Brute force over every permutation of the ``free`` components: each draw's KL cost
    (Stephens' -sum_n counts_n sum_l p_{s pi(l) n} log q_{ln}, q the draws' mean
    classification) at the identity and at its best permutation, (S,) each, from the draws'
    classification probabilities ``p`` (S, K, n)."""
    import itertools

    log_q = np.log(p.mean(axis=0))[free] * counts  # (F, n)
    costs = np.stack(
        [
            -np.einsum("sln,ln->s", p[:, free[list(pi)]], log_q)
            for pi in itertools.permutations(range(free.size))
        ]
    )  # (F!, S), the identity first
    return costs[0], costs.min(axis=0)


@pytest.mark.parametrize("semi", [False, True])
def test_relabelled_draws_each_take_the_permutation_closest_to_their_mean_classification(semi):
    # Stephens' fixed point, checked by brute force over the K! permutations with scipy's
    # densities: each relabelled draw's classification is at least as close (KL) to the
    # draws' mean classification as any permutation of it; the draws as sampled are not.
    rng = np.random.default_rng(3)
    x = np.r_[rng.normal(-3, 1, 50), rng.normal(0, 1, 50), rng.normal(3, 1, 50)][:, None]
    counts = rng.integers(1, 3, size=150).astype(float)  # frequency weights
    labels = np.full(150, -1)
    if semi:
        labels[:3] = 0  # component 0 keeps its draws; 1, 2 and 3 are permuted
    free = np.arange(1, 4) if semi else np.arange(3)
    k = 4 if semi else 3
    model = BayesianMixture(k, chains=4, draws=60, tune=40, random_state=1).fit(
        x, sample_weight=counts, labels=labels
    )
    relabelled = [flat(model.samples_[n]).reshape(-1, k) for n in ("weights", "mean", "sd")]
    # The same draws with the free components of the first chain's in another order: label
    # switching as a chain started in another order would show it (the check can fail).
    order = np.tile(np.arange(k), (relabelled[0].shape[0], 1))
    order[:60, free] = np.roll(free, 1)
    switched = [np.take_along_axis(v, order, axis=1) for v in relabelled]
    rows = labels == -1
    gaps = []
    for weights, mean, sd in (relabelled, switched):
        joint = weights[..., None] * stats.norm.pdf(x[rows, 0], mean[..., None], sd[..., None])
        p = joint / joint.sum(axis=1, keepdims=True)  # (S, K, n), scipy's densities
        at_identity, best = _closest_permutations_cost(p, free, counts[rows])
        gaps.append(at_identity - best)
        assert np.all(best <= at_identity)
    np.testing.assert_allclose(gaps[0], 0.0, atol=1e-9 * np.abs(best).max())
    assert gaps[1].max() > 1.0


def test_assignment_of_each_draw_is_the_least_cost_permutation():
    # The relabelling's assignment (the rows' least costs where they fall in distinct columns
    # by more than rounding, else linear_sum_assignment) against every permutation, on
    # random costs and on rows whose least costs tie or share a column.
    import itertools

    from emkit.estimators.bayesian_mixture import _assign

    rng = np.random.default_rng(0)
    cost = rng.normal(size=(300, 4, 4))
    cost[:100] += 10 * np.eye(4)[rng.permutation(4)]  # a clear optimum off the row minima
    cost[100:150, :, 1] = cost[100:150, :, 0]  # two equal columns: ties
    cost[150:200, :, 0] = cost[150:200].min(axis=2) - 1  # every row's least cost in column 0
    cost[200:250, 0, 1] = cost[200:250, 0, 0] + 1e-14  # near ties within rounding
    columns = _assign(cost)
    np.testing.assert_array_equal(np.sort(columns, axis=1), np.tile(np.arange(4), (300, 1)))
    total = np.take_along_axis(cost, columns[..., None], axis=2).sum(axis=(1, 2))
    brute = np.stack(
        [cost[:, np.arange(4), list(pi)].sum(axis=1) for pi in itertools.permutations(range(4))]
    ).min(axis=0)
    np.testing.assert_allclose(total, brute, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kept", [0, 30 * 4 * 90])
def test_relabelling_with_classifications_recomputed_per_pass_matches_keeping_them(
    kept, monkeypatch
):
    # Past RELABEL_KEPT the draws' classification probabilities are computed again on each
    # pass instead of kept: the same draws, to the last bit, with none of the 240 draws kept
    # or the first 28 (whole batches of 7).
    import emkit.estimators.bayesian_mixture as bayesian_mixture

    rng = np.random.default_rng(4)
    x = np.r_[rng.normal(-2, 1, 30), rng.normal(0, 1, 30), rng.normal(2, 1, 30)][:, None]
    labels = np.full(90, -1)
    labels[:2] = 0
    settings = dict(chains=4, draws=60, tune=20, random_state=5)
    monkeypatch.setattr(bayesian_mixture, "PREDICT_BATCH", 7)
    for given in (None, labels):
        whole = BayesianMixture(4, **settings).fit(x, labels=given).samples_
        with monkeypatch.context() as patch:
            patch.setattr(bayesian_mixture, "RELABEL_KEPT", kept)
            part = BayesianMixture(4, **settings).fit(x, labels=given).samples_
        plain = BayesianMixture(4, relabel=False, **settings).fit(x, labels=given).samples_
        assert not np.array_equal(whole["mean"], plain["mean"])  # the draws were permuted
        for name, value in whole.items():
            np.testing.assert_array_equal(part[name], value)


def test_relabelling_where_the_first_feature_separates_the_components_sorts_each_draw():
    # Where the first feature's means never cross, relabelling is sorting each draw by it,
    # as relabel=True did before it matched classification probabilities.
    rng = np.random.default_rng(1)
    x = np.c_[np.r_[rng.normal(-4, 1, 60), rng.normal(4, 1, 40)], rng.normal(0, 1, 100)]
    settings = dict(chains=3, draws=200, tune=100, random_state=2)
    model = BayesianMixture(2, **settings).fit(x)
    plain = BayesianMixture(2, relabel=False, **settings).fit(x)
    order = np.argsort(plain.samples_["mean"][..., 0], axis=2)  # (chains, draws, K)
    for name in ("weights", "mean", "variance"):
        value = plain.samples_[name]
        at = order.reshape(order.shape + (1,) * (value.ndim - 3))
        np.testing.assert_array_equal(model.samples_[name], np.take_along_axis(value, at, 2))


def test_one_component_with_a_flat_prior_is_never_empty_and_is_sampled():
    # One component holds every row: its posterior under NormalInverseGamma() (flat mean,
    # scale 0) is proper for n >= 2, and the improper-prior refusal must not apply. The
    # posterior mean of the mean is the sample mean (flat prior, closed form).
    from emkit.distributions.priors import NormalInverseGamma

    x = np.random.default_rng(0).normal(2, 1, (100, 1))
    fit = BayesianMixture(
        1, priors=NormalInverseGamma(), chains=2, draws=400, tune=50, random_state=0
    ).fit(x)
    draws = np.asarray(fit.samples_["mean"]).ravel()
    assert abs(draws.mean() - x.mean()) < 4 * x.std() / np.sqrt(x.size) / np.sqrt(draws.size / 4)


@pytest.mark.parametrize(
    "weights, said",
    [
        (np.r_[1.0, np.zeros(19)], r"only row 0 has non-zero sample_weight; n_samples = 20"),
        (np.r_[0.0, 3.0, np.zeros(18)], r"only row 1 has non-zero sample_weight; n_samples = 20"),
        (
            np.r_[np.zeros(15), np.ones(5)],
            r"one value in the 5 rows of non-zero sample_weight; n_samples = 20",
        ),
    ],
)
def test_no_spread_under_the_weights_says_which_rows_have_weight(weights, said):
    # 20 different values: the spread is 0 only under the weights, and the error said "one
    # value in every row; n_samples = 20".
    x = np.r_[np.arange(15.0), np.full(5, 7.5)][:, None]
    assert np.ptp(x) > 0
    with pytest.raises(ValueError, match=said):
        BayesianMixture(2, chains=1, draws=5, tune=2).fit(x, sample_weight=weights)


def test_padded_categories_are_nan_in_the_posterior_and_arviz_summarises_quietly():
    # Feature x1 takes 2 codes, x0 takes 3: x1's code 2 is padding, its probability always 0
    # in samples_, and arviz divided by its zero spread (RuntimeWarnings, NaN r_hat). In
    # posterior_ it is NaN; the other entries are samples_' and arviz reads them as before.
    az = pytest.importorskip("arviz")
    rng = np.random.default_rng(0)
    x = np.r_[
        np.c_[rng.choice(3, 60, p=[0.8, 0.1, 0.1]), rng.choice(2, 60, p=[0.9, 0.1])],
        np.c_[rng.choice(3, 60, p=[0.1, 0.1, 0.8]), rng.choice(2, 60, p=[0.1, 0.9])],
    ]
    model = BayesianMixture([Categorical()] * 2, chains=2, draws=100, tune=50, random_state=0)
    model.fit(x)
    drawn = model.samples_["probs"]  # (chains, draws, K, d, C)
    assert np.all(drawn[..., 1, 2] == 0)
    posterior = model.posterior_.posterior["probs"].values
    assert np.all(np.isnan(posterior[..., 1, 2]))
    np.testing.assert_array_equal(posterior[..., 0, :], drawn[..., 0, :])
    np.testing.assert_array_equal(posterior[..., 1, :2], drawn[..., 1, :2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = az.summary(model.posterior_)
        rhat = az.rhat(model.posterior_)["probs"].values  # (K, d, C)
        az.ess(model.posterior_)
    assert np.isnan(table.loc["probs[0, x1, 2]", "r_hat"])
    assert np.all(np.isnan(rhat[:, 1, 2]))
    expected = az.rhat(drawn[:, :, 1, 0, 1])  # arviz on one entry of samples_ itself
    np.testing.assert_allclose(rhat[1, 0, 1], expected, rtol=1e-12)
