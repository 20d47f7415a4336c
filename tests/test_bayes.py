"""emkit.bayes against closed forms, brute-force grids, scipy.stats and scikit-learn."""

import numpy as np
import pytest
from scipy import integrate, optimize, stats

import emkit
from emkit import bayes, mle
from emkit.bayes.priors import SemiConjugateNormal, UniformSDNormal

POISSON_SAMPLE = np.array([5, 0, 1, 1, 0, 3, 2, 3, 4, 1])


def test_normal_known_variance_worked_example():
    rng = np.random.default_rng(0)
    x = rng.normal(1.5, 2.0, size=25)
    sigma, mu_p, sigma_p = 2.0, -1.0, 0.5
    post = bayes.normal_known_variance(x, sigma, mu_p, sigma_p)
    n, xbar = x.size, x.mean()
    precision = 1 / sigma_p**2 + n / sigma**2
    assert post.sd == pytest.approx(1 / np.sqrt(precision), rel=1e-12)
    assert post.mean == pytest.approx((mu_p / sigma_p**2 + n * xbar / sigma**2) / precision)
    assert post.map == pytest.approx(post.mean)
    z = stats.norm.ppf(0.95)
    low, high = post.interval(0.9)
    assert (low, high) == pytest.approx((post.mean - z * post.sd, post.mean + z * post.sd))
    pred = post.predictive()
    assert pred.mean == pytest.approx(post.mean)
    assert pred.sd == pytest.approx(np.sqrt(post.sd**2 + sigma**2))
    assert pred.pdf(0.3) == pytest.approx(stats.norm(pred.mean, pred.sd).pdf(0.3))


def test_normal_known_variance_is_exact_at_extreme_scales():
    x, n, xbar = np.array([1.0, 2.0, 3.0]), 3, 2.0
    # a vague prior or a tiny sigma: the likelihood's answer, xbar with sd sigma / sqrt(n)
    # (prior_sd 1e155 overflowed, sigma 1e-200 divided by zero)
    vague = bayes.normal_known_variance(x, 1.0, prior_mean=7.0, prior_sd=1e155)
    assert vague.mean == xbar and vague.sd == pytest.approx(1 / np.sqrt(n), rel=1e-15)
    tiny = bayes.normal_known_variance(x, 1e-200, prior_sd=1.0)
    assert tiny.mean == xbar and tiny.sd == pytest.approx(1e-200 / np.sqrt(n), rel=1e-14)
    assert tiny.predictive().sd == pytest.approx(1e-200 * np.sqrt(1 + 1 / n), rel=1e-14)
    # a prior far tighter than the noise: the prior's answer
    tight = bayes.normal_known_variance(x, 1e200, prior_mean=7.0, prior_sd=1e-200)
    assert tight.mean == 7.0 and tight.sd == pytest.approx(1e-200, rel=1e-14)
    assert tight.predictive().sd == pytest.approx(1e200, rel=1e-14)
    # sigma = 10 c and prior_sd = c: in units of c the precision is 1 + n / 100 at every c
    precision = 1 + n / 100
    for c in (1e-200, 1e-100, 1.0, 1e150, 1e199):
        post = bayes.normal_known_variance(x, 10 * c, 7.0, c)
        assert post.mean == pytest.approx((7.0 + n * xbar / 100) / precision, rel=1e-14)
        assert post.sd == pytest.approx(c / np.sqrt(precision), rel=1e-14)
        assert post.predictive().sd == pytest.approx(c * np.sqrt(1 / precision + 100), rel=1e-14)
        assert post.interval(0.9) == pytest.approx(
            stats.norm(post.mean, post.sd).interval(0.9), rel=1e-14
        )


def test_beta_bernoulli_matches_brute_force_grid():
    x = np.array([1, 0, 1, 1, 0, 1, 1])
    post = bayes.beta_bernoulli(x, a=2.0, b=3.0)
    grid = np.linspace(1e-6, 1 - 1e-6, 200_001)
    dens = stats.beta(2, 3).pdf(grid) * grid**5 * (1 - grid) ** 2
    dens /= integrate.trapezoid(dens, grid)
    assert post.mean == pytest.approx(integrate.trapezoid(grid * dens, grid), rel=1e-6)
    assert post.map == pytest.approx(grid[np.argmax(dens)], abs=1e-5)
    assert post.hyper == {"a": 7.0, "b": 5.0}
    pred = post.predictive()
    assert pred.pmf(1) == pytest.approx(post.mean)
    assert pred.pmf(0) + pred.pmf(1) == pytest.approx(1.0)


def test_gamma_poisson_posterior_and_negative_binomial_predictive():
    post = bayes.gamma_poisson(POISSON_SAMPLE, shape=2.0, rate=0.5)
    a_n, b_n = 2.0 + 20, 0.5 + 10
    assert post.mean == pytest.approx(a_n / b_n)
    assert post.sd == pytest.approx(np.sqrt(a_n) / b_n)
    assert post.map == pytest.approx((a_n - 1) / b_n)
    assert post.interval(0.95) == pytest.approx(stats.gamma(a_n, scale=1 / b_n).interval(0.95))
    pred = post.predictive()
    for k in range(5):  # the predictive is the Poisson averaged over the posterior
        integrand = lambda lam, k=k: stats.poisson.pmf(k, lam) * post.dist.pdf(lam)  # noqa: E731
        assert pred.pmf(k) == pytest.approx(integrate.quad(integrand, 0, 50)[0], rel=1e-7)
    assert pred.mean == pytest.approx(post.mean)
    draws = post.sample(20_000, random_state=1)
    assert draws.shape == (20_000,)
    assert draws.mean() == pytest.approx(post.mean, rel=0.01)


def test_normal_inverse_gamma_reference_prior_gives_t_interval():
    rng = np.random.default_rng(2)
    x = rng.normal(3.0, 1.5, size=15)
    post = bayes.normal_inverse_gamma(x)
    n, s = x.size, x.std(ddof=1)
    t_int = stats.t(n - 1, loc=x.mean(), scale=s / np.sqrt(n)).interval(0.95)
    assert post.interval(0.95)["mean"] == pytest.approx(t_int, rel=1e-10)
    assert post["mean"].map == pytest.approx(x.mean())
    # marginal of the variance: scaled inverse chi-square, IG((n - 1)/2, S/2)
    S = ((x - x.mean()) ** 2).sum()
    assert post.mean["variance"] == pytest.approx((S / 2) / ((n - 1) / 2 - 1))
    draws = post.sample(40_000, random_state=3)
    assert draws["mean"].std() == pytest.approx(post.sd["mean"], rel=0.02)
    assert np.median(draws["variance"]) == pytest.approx(post["variance"].dist.median(), rel=0.02)


def test_normal_inverse_gamma_matches_brute_force_grid():
    x = np.array([0.3, 1.1, -0.4, 0.9, 2.0])
    mu0, kappa0, alpha0, beta0 = 0.5, 2.0, 3.0, 2.0
    post = bayes.normal_inverse_gamma(x, mu0, kappa0, alpha0, beta0)
    mu = np.linspace(-3, 4, 701)[:, None]
    var = np.linspace(1e-3, 8, 800)[None, :]
    log_prior = stats.invgamma(alpha0, scale=beta0).logpdf(var) + stats.norm.logpdf(
        mu, mu0, np.sqrt(var / kappa0)
    )
    log_post = log_prior + stats.norm.logpdf(x[:, None, None], mu, np.sqrt(var)).sum(0)
    i, j = np.unravel_index(np.argmax(log_post), log_post.shape)
    assert post.map["mean"] == pytest.approx(mu[i, 0], abs=0.01)
    assert post.map["variance"] == pytest.approx(var[0, j], abs=0.01)
    w = np.exp(log_post - log_post.max())
    assert post.mean["mean"] == pytest.approx((w * mu).sum() / w.sum(), abs=1e-3)
    pred = post.predictive()
    pdf = (w * stats.norm.pdf(0.7, mu, np.sqrt(var))).sum() / w.sum()
    assert pred.pdf(0.7) == pytest.approx(pdf, rel=1e-3)


def test_one_degree_of_freedom_leaves_the_mean_undefined_as_the_cauchys():
    # the reference prior on two values: the mean's marginal is t with 2 alpha_n = 1 degree of
    # freedom, a Cauchy, whose mean and sd do not exist (scipy.stats.t(1).mean() says inf)
    x = [3.0, 4.0]
    post = bayes.normal_inverse_gamma(x)
    scale = np.sqrt(post.hyper["beta"] / (post.hyper["alpha"] * post.hyper["kappa"]))
    cauchy = stats.cauchy(3.5, scale)
    assert np.isnan(cauchy.mean()) and np.isnan(post.mean["mean"]) and np.isnan(post.sd["mean"])
    assert post["mean"].interval(0.5) == pytest.approx(cauchy.interval(0.5), rel=1e-12)
    assert post.map["mean"] == 3.5  # the mode exists
    pred = post.predictive()
    assert np.isnan(pred.mean) and np.isnan(pred.sd)
    # the same model in d dimensions: nu_n - d + 1 = 1 (mean NaN), then 1.5 (finite mean, sd inf)
    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.5]])
    for nu0, mean_is_nan in ((0.0, True), (0.5, False)):
        niw = bayes.normal_inverse_wishart(X, nu0=nu0)
        df = niw.hyper["nu"] - 1
        assert np.isnan(niw.mean["mean"]).all() == mean_is_nan == np.isnan(stats.t(df).std())
        assert np.isnan(niw.predictive().mean).all() == mean_is_nan
        if not mean_is_nan:
            np.testing.assert_allclose(niw.mean["mean"], X.mean(0))
            assert np.isinf(niw.sd["mean"]).all() and np.isinf(stats.t(df).std())
    one = bayes.normal_inverse_wishart(np.array(x)[:, None])
    np.testing.assert_equal(one.sd["mean"][0], post.sd["mean"])
    np.testing.assert_equal(one.predictive().sd[0], pred.sd)


def test_normal_inverse_wishart_in_one_dimension_is_normal_inverse_gamma():
    rng = np.random.default_rng(4)
    x = rng.normal(size=12)
    nig = bayes.normal_inverse_gamma(x, mu0=0.2, kappa0=1.5, alpha0=2.0, beta0=0.7)
    niw = bayes.normal_inverse_wishart(x[:, None], mu0=[0.2], kappa0=1.5, nu0=4.0, psi0=[[1.4]])
    assert niw.map["mean"][0] == pytest.approx(nig.map["mean"])
    assert niw.map["covariance"][0, 0] == pytest.approx(nig.map["variance"])
    assert niw.mean["covariance"][0, 0] == pytest.approx(nig.mean["variance"])
    assert niw.sd["covariance"][0, 0] == pytest.approx(nig.sd["variance"])
    assert niw.sd["mean"][0] == pytest.approx(nig.sd["mean"])
    lo, hi = niw.interval(0.9)["mean"]
    assert (lo[0], hi[0]) == pytest.approx(nig.interval(0.9)["mean"])
    lo, hi = niw.interval(0.9)["covariance"]
    assert (lo[0, 0], hi[0, 0]) == pytest.approx(nig.interval(0.9)["variance"])
    assert niw.predictive().pdf([0.4]) == pytest.approx(nig.predictive().pdf(0.4))


def test_normal_inverse_wishart_moments_match_draws():
    rng = np.random.default_rng(5)
    X = rng.multivariate_normal([1.0, -1.0], [[1.0, 0.6], [0.6, 2.0]], size=40)
    post = bayes.normal_inverse_wishart(X, kappa0=1.0, nu0=5.0, psi0=np.eye(2))
    draws = post.sample(40_000, random_state=6)
    assert draws["mean"].shape == (40_000, 2) and draws["covariance"].shape == (40_000, 2, 2)
    np.testing.assert_allclose(draws["covariance"].mean(0), post.mean["covariance"], rtol=0.02)
    np.testing.assert_allclose(draws["covariance"].std(0), post.sd["covariance"], rtol=0.05)
    np.testing.assert_allclose(draws["mean"].mean(0), post.mean["mean"], atol=0.02)
    np.testing.assert_allclose(np.cov(draws["mean"].T), post["mean"].cov, rtol=0.05)
    pred = post.predictive()
    assert pred.cov.shape == (2, 2) and pred.sample(3, 0).shape == (3, 2)


def test_normal_inverse_wishart_scale_matrix_must_be_symmetric():
    X = np.random.default_rng(14).normal(size=(20, 2))
    # a clearly asymmetric psi0 gave an asymmetric posterior scale matrix
    with pytest.raises(ValueError, match=r"psi0 must be symmetric: psi0\[0, 1\] = 2 but"):
        bayes.normal_inverse_wishart(X, psi0=np.array([[1.0, 2.0], [0.0, 1.0]]))
    # symmetric up to rounding (an inverse computed in floating point), or singular with
    # rounding's tiny negative eigenvalue: symmetrised and taken, as the textbook update
    xbar, S = X.mean(0), (X - X.mean(0)).T @ (X - X.mean(0))
    v = np.array([[0.3], [0.7]])
    for psi0 in (np.linalg.inv([[2.0, 0.3], [0.3, 1.0]]) + [[0, 1e-14], [0, 0]], v @ v.T):
        post = bayes.normal_inverse_wishart(X, mu0=[1.0, -1.0], kappa0=2.0, nu0=4.0, psi0=psi0)
        psi = post.hyper["psi"]
        np.testing.assert_array_equal(psi, psi.T)
        d = xbar - [1.0, -1.0]
        expected = (psi0 + psi0.T) / 2 + S + 2.0 * 20 / 22 * np.outer(d, d)
        np.testing.assert_allclose(psi, expected, rtol=1e-12)


def test_dirichlet_categorical_against_scipy():
    x = np.array([0, 2, 2, 1, 2, 0, 2])
    post = bayes.dirichlet_categorical(x, alpha=[1.0, 2.0, 0.5])
    a = np.array([3.0, 3.0, 4.5])
    np.testing.assert_allclose(post.mean, stats.dirichlet(a).mean())
    np.testing.assert_allclose(post.sd, np.sqrt(stats.dirichlet(a).var()))
    np.testing.assert_allclose(post.cov, stats.dirichlet(a).cov())
    np.testing.assert_allclose(post.map, (a - 1) / (a - 1).sum())
    low, high = post.interval(0.95)
    np.testing.assert_allclose(low, stats.beta(a, a.sum() - a).ppf(0.025))
    pred = post.predictive()
    assert sum(pred.pmf(k) for k in range(3)) == pytest.approx(1.0)
    assert pred.pmf(2) == pytest.approx(4.5 / 10.5)
    assert post.sample(5, random_state=0).shape == (5, 3)


def test_dirichlet_categorical_with_one_category_is_certain():
    # Dir(a) of one category is a point mass at p = 1: its interval is (1, 1), as its mean,
    # sd, MAP and draws say (the Beta(a, a0 - a) marginal, with a0 - a = 0, gave NaN).
    post = bayes.dirichlet_categorical([0, 0, 0], alpha=0.5)
    assert (post.mean, post.sd, post.map) == ([1.0], [0.0], [1.0])
    for level in (0.5, 0.9, 0.99):
        low, high = post.interval(level)
        np.testing.assert_array_equal(low, [1.0])
        np.testing.assert_array_equal(high, [1.0])
    np.testing.assert_array_equal(post.sample(4, random_state=0), np.ones((4, 1)))
    # with more categories the intervals stay the Beta marginals'
    two = bayes.dirichlet_categorical([0, 1, 1], alpha=[1.0, 2.0])
    np.testing.assert_allclose(two.interval(0.9), stats.beta([2.0, 4.0], [4.0, 2.0]).interval(0.9))


def test_dirichlet_categorical_takes_names_as_mle_categorical_does():
    import pandas as pd

    names = ["red", "blue", "red", "green", "red", "blue"]
    post = bayes.dirichlet_categorical(names, alpha=[1.0, 2.0, 0.5])
    # the categories are the distinct names sorted, as mle.categorical's rows
    assert post.categories == ("blue", "green", "red")
    assert [r[6:-1] for r in mle.categorical(names).summary().index] == list(post.categories)
    a = np.array([1.0 + 2, 2.0 + 1, 0.5 + 3])
    np.testing.assert_allclose(post.mean, stats.dirichlet(a).mean(), rtol=1e-14)
    np.testing.assert_allclose(post.cov, stats.dirichlet(a).cov(), rtol=1e-14)
    codes = bayes.dirichlet_categorical([2, 0, 2, 1, 2, 0], alpha=[1.0, 2.0, 0.5])
    np.testing.assert_array_equal(post.mean, codes.mean)
    assert codes.categories == (0, 1, 2)
    # the predictive draws names at the posterior mean probabilities
    draws = post.predictive().sample(30_000, random_state=0)
    assert draws.shape == (30_000,) and set(draws) == set(post.categories)
    freq = np.array([(draws == c).mean() for c in post.categories])
    p = a / a.sum()
    assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / draws.size))
    # a pandas categorical declares categories that need not occur: b gets its prior alone
    declared = pd.Series(pd.Categorical(["a", "a", "c"], categories=["a", "b", "c"]))
    post = bayes.dirichlet_categorical(declared, alpha=0.5)
    assert post.categories == ("a", "b", "c")
    np.testing.assert_allclose(post.mean, stats.dirichlet([2.5, 0.5, 1.5]).mean(), rtol=1e-14)
    for missing in (["a", None], pd.Series(["a", pd.NA], dtype="string")):
        with pytest.raises(ValueError, match="1 missing value.*drop them first"):
            bayes.dirichlet_categorical(missing)
    with pytest.raises(ValueError, match=r"2 categories \(blue, red, in this order\)"):
        bayes.dirichlet_categorical(["red", "blue"], alpha=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="category b has neither prior"):
        bayes.dirichlet_categorical(declared, alpha=[1.0, 0.0, 1.0])


def test_ridge_matches_scikit_learn_and_states_its_prior():
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(7)
    X = rng.normal(size=(50, 3))
    y = 2.0 + X @ [1.0, 0.0, -1.0] + rng.normal(size=50)
    post = bayes.ridge(X, y, alpha=3.0)
    sk = Ridge(alpha=3.0).fit(X, y)
    np.testing.assert_allclose(post.map, sk.coef_, rtol=1e-10)
    assert post.intercept == pytest.approx(sk.intercept_)
    assert "sigma^2 / \\tau^2" in bayes.ridge.__doc__
    # the posterior covariance is sigma^2 (Xc^T Xc + alpha I)^-1
    Xc = X - X.mean(0)
    np.testing.assert_allclose(post.cov, post.variance * np.linalg.inv(Xc.T @ Xc + 3 * np.eye(3)))
    pred = post.predictive(X[:4])
    np.testing.assert_allclose(pred.mean, sk.predict(X[:4]))
    assert (pred.sd > np.sqrt(post.variance)).all()
    known = bayes.ridge(X, y, alpha=3.0, variance=2.0)
    np.testing.assert_allclose(known.cov, 2.0 * np.linalg.inv(Xc.T @ Xc + 3 * np.eye(3)))


# ---- predictive draws: one new observation per draw ------------------------------------------

PRED_X = np.random.default_rng(11).normal(size=(30, 2))
PRED_Y = 1.0 + PRED_X @ [2.0, -1.0] + np.random.default_rng(12).normal(size=30)
PREDICTIVES = {  # name: (predictive, shape of one observation)
    "beta_bernoulli": (lambda: bayes.beta_bernoulli([1, 0, 1], 2, 3).predictive(), ()),
    "gamma_poisson": (lambda: bayes.gamma_poisson(POISSON_SAMPLE, 2, 1).predictive(), ()),
    "normal_known_variance": (
        lambda: bayes.normal_known_variance([1.0, 2.0], 1.0, 0.0, 2.0).predictive(),
        (),
    ),
    "normal_inverse_gamma": (
        lambda: bayes.normal_inverse_gamma(PRED_Y, 0.0, 1.0, 3.0, 2.0).predictive(),
        (),
    ),
    "dirichlet_categorical": (
        lambda: bayes.dirichlet_categorical([0, 1, 1, 2], alpha=[1.0, 2.0, 0.5]).predictive(),
        (),
    ),
    "normal_inverse_wishart": (
        lambda: bayes.normal_inverse_wishart(PRED_X, [0.0, 0.0], 1.0, 8.0, np.eye(2)).predictive(),
        (2,),
    ),
    "ridge": (lambda: bayes.ridge(PRED_X, PRED_Y, 1.0).predictive(PRED_X[:3]), (3,)),
}


@pytest.mark.parametrize("kind", PREDICTIVES)
def test_predictive_draws_have_the_shape_and_moments_of_new_observations(kind):
    make, shape = PREDICTIVES[kind]
    pred = make()
    assert pred.sample(1, random_state=0).shape == (1, *shape)
    n = 40_000
    draws = pred.sample(n, random_state=1)
    assert draws.shape == (n, *shape)
    if kind == "dirichlet_categorical":  # labels: their one-hot vectors average to the probs
        probs = np.array([2.0, 4.0, 1.5]) / 7.5  # (alpha + counts) / sum
        draws = np.eye(3)[draws]
        np.testing.assert_allclose(pred.mean, probs)
        sd = np.sqrt(probs * (1 - probs))
    else:
        sd = np.asarray(pred.sd)
    # Monte Carlo: each coordinate's mean within 5 standard errors of the predictive's
    assert np.all(np.abs(draws.mean(0) - pred.mean) < 5 * sd / np.sqrt(n))
    assert np.all(np.abs(draws.std(0) - sd) < 0.05 * sd)


def test_categorical_predictive_draws_labels_at_the_posterior_mean_probabilities():
    post = bayes.dirichlet_categorical([0, 1, 1], alpha=1.0)
    draws = post.predictive().sample(30_000, random_state=0)
    assert draws.shape == (30_000,) and set(np.unique(draws)) == {0, 1}
    p1 = stats.dirichlet([2.0, 3.0]).mean()[1]  # P(next = 1) = E[p_1]
    assert abs(draws.mean() - p1) < 5 * np.sqrt(p1 * (1 - p1) / draws.size)
    with pytest.raises(ValueError, match="categories have no order.*pmf"):
        post.predictive().interval(0.9)


def test_ridge_predictive_draws_one_value_per_new_row():
    post = bayes.ridge(PRED_X, PRED_Y, 1.0)
    X_new = PRED_X[:3]
    draws = post.predictive(X_new).sample(50_000, random_state=2)
    assert draws.shape == (50_000, 3)
    # the predictive of the rows together: b + X_new beta + noise, with b and beta drawn from
    # their posterior (the intercept's sd is sigma / sqrt(n) about y_mean - x_mean beta)
    dx = X_new - PRED_X.mean(0)
    cov = dx @ post.cov @ dx.T + post.variance * (np.eye(3) + 1 / PRED_X.shape[0])
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(post.predictive(X_new).sd, sd, rtol=1e-12)
    assert np.all(np.abs(draws.std(0) - sd) < 5 * sd / np.sqrt(2 * draws.shape[0]))


def test_normal_inverse_wishart_predictive_interval_is_each_coordinates_marginal_t():
    rng = np.random.default_rng(13)
    X = rng.multivariate_normal([1.0, -1.0], [[1.0, 0.6], [0.6, 2.0]], size=12)
    # one dimension: the normal-inverse-gamma predictive, a Student t from scipy
    niw = bayes.normal_inverse_wishart(X[:, :1], mu0=[0.2], kappa0=1.5, nu0=4.0, psi0=[[1.4]])
    nig = bayes.normal_inverse_gamma(X[:, 0], mu0=0.2, kappa0=1.5, alpha0=2.0, beta0=0.7)
    low, high = niw.predictive().interval(0.9)
    assert (low[0], high[0]) == pytest.approx(nig.predictive().interval(0.9), rel=1e-12)
    # two dimensions: draws of Sigma ~ IW, mu | Sigma ~ N, y | mu, Sigma ~ N (scipy and NumPy)
    post = bayes.normal_inverse_wishart(X, kappa0=1.0, nu0=5.0, psi0=np.eye(2))
    h, n = post.hyper, 60_000
    sigma = stats.invwishart(df=h["nu"], scale=h["psi"]).rvs(size=n, random_state=rng)
    mu = h["mu"] + np.einsum(
        "nij,nj->ni", np.linalg.cholesky(sigma / h["kappa"]), rng.standard_normal((n, 2))
    )
    y = mu + np.einsum("nij,nj->ni", np.linalg.cholesky(sigma), rng.standard_normal((n, 2)))
    low, high = post.predictive().interval(0.8)
    inside = ((y > low) & (y < high)).mean(0)  # each coordinate's coverage
    assert np.all(np.abs(inside - 0.8) < 5 * np.sqrt(0.8 * 0.2 / n))
    np.testing.assert_allclose(np.cov(y.T), post.predictive().cov, rtol=0.05)


# ---- as the prior flattens, the MAP tends to the MLE -----------------------------------------

RNG = np.random.default_rng(8)
COINS = RNG.binomial(1, 0.3, size=40)
COUNTS = RNG.poisson(2.5, size=40)
Y = RNG.normal(1.0, 2.0, size=30)
LABELS = RNG.integers(0, 4, size=60)
XY = RNG.multivariate_normal([0, 1], [[1, 0.3], [0.3, 0.5]], size=30)
DESIGN = RNG.normal(size=(30, 2))
RESPONSE = DESIGN @ [1.0, -2.0] + RNG.normal(size=30)

FLATTENING = {
    "beta_bernoulli": (
        lambda eps: {"p": bayes.beta_bernoulli(COINS, 1 + eps, 1 + eps).map},
        mle.bernoulli(COINS),
    ),
    "gamma_poisson": (
        lambda eps: {"rate": bayes.gamma_poisson(COUNTS, 1 + eps, eps).map},
        mle.poisson(COUNTS),
    ),
    "normal_known_variance": (
        lambda eps: {"mean": bayes.normal_known_variance(Y, 2.0, 5.0, 1 / eps).map},
        mle.normal(Y),
    ),
    "normal_inverse_gamma": (
        lambda eps: bayes.normal_inverse_gamma(Y, 5.0, eps, -1.5 + eps, eps).map,
        mle.normal(Y),
    ),
    "dirichlet_categorical": (
        lambda eps: {"probs": bayes.dirichlet_categorical(LABELS, 1 + eps).map},
        mle.categorical(LABELS),
    ),
    "normal_inverse_wishart": (
        lambda eps: (
            bayes.normal_inverse_wishart(XY, [5.0, 5.0], eps, -4 + eps, eps * np.eye(2)).map
        ),
        mle.multivariate_normal(XY),
    ),
    "ridge": (
        lambda eps: {"coef": bayes.ridge(DESIGN, RESPONSE, eps).map},
        mle.linear_regression(DESIGN, RESPONSE),
    ),
}


@pytest.mark.parametrize("family", FLATTENING)
def test_map_tends_to_mle_as_prior_flattens(family):
    map_at, estimate = FLATTENING[family]
    errors = []
    for eps in (1e-1, 1e-3, 1e-5, 1e-7):
        maps = map_at(eps)
        errors.append(
            max(np.max(np.abs(np.asarray(v) - estimate.params[k])) for k, v in maps.items())
        )
    assert all(b < a for a, b in zip(errors, errors[1:], strict=False)) or errors[-1] < 1e-12
    assert errors[-1] < 1e-5


# ---- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: bayes.beta_bernoulli([0, 1, 3]), "0 and 1"),
        (lambda: bayes.beta_bernoulli([0, 1], a=-1), "a must be a finite number >= 0, got -1"),
        (lambda: bayes.gamma_poisson([1, -1]), "non-negative integer"),
        (lambda: bayes.gamma_poisson([0, 0], shape=0.0), "posterior shape"),
        (lambda: bayes.normal_known_variance([1.0, np.nan], 1.0), "NaN"),
        (lambda: bayes.normal_known_variance([1.0], 0.0), "sigma must be a finite number > 0"),
        (lambda: bayes.normal_inverse_gamma([1.0, 2.0], alpha0=-2), "alpha0"),
        (
            lambda: bayes.normal_inverse_gamma([1.0]),
            r"at least 2 values \(N > 1 - 2 alpha0 = 1\), got 1",
        ),
        (lambda: bayes.dirichlet_categorical([0, 1], alpha=[1, 1, -1]), "alpha must be finite"),
        (lambda: bayes.normal_inverse_wishart(np.ones((3, 2))), "singular"),
        (lambda: bayes.normal_inverse_wishart(np.eye(2), psi0=-np.eye(2)), "semi-definite"),
        (lambda: bayes.ridge(np.ones((4, 3)), np.ones(4), 0.0), "alpha > 0"),
        (lambda: emkit.NormalInverseGamma(mean=np.nan), "mean must be finite; got nan"),
        (lambda: SemiConjugateNormal(mean=np.inf), "mean must be finite; got inf"),
        (lambda: UniformSDNormal(mean=np.nan), "mean must be finite; got nan"),
    ],
)
def test_bad_input_raises_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


INF, NAN = np.inf, np.nan


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: bayes.beta_bernoulli([1], a=INF), r"a must be a finite number >= 0, got inf"),
        (lambda: bayes.beta_bernoulli([1], b=NAN), r"b must be a finite number >= 0, got nan"),
        (lambda: bayes.gamma_poisson([1], 1, rate=INF), r"rate must be a finite number >= 0"),
        (lambda: bayes.gamma_poisson([1], shape=INF), r"shape must be a finite number >= 0"),
        (lambda: bayes.normal_known_variance([1, 2], INF), r"sigma must be a finite number > 0"),
        (
            lambda: bayes.normal_known_variance([1, 2], 1, prior_mean=NAN, prior_sd=1),
            r"prior_mean must be a finite number, got nan",
        ),
        (
            lambda: bayes.normal_known_variance([1, 2], 1, prior_mean=INF),
            r"prior_mean must be a finite number, got inf",
        ),
        (
            lambda: bayes.normal_known_variance([1, 2], 1, prior_sd=NAN),
            r"prior_sd must be a finite number > 0, or inf \(the flat prior\), got nan",
        ),
        (lambda: bayes.normal_inverse_gamma([1, 2], mu0=INF), r"mu0 must be a finite number"),
        (lambda: bayes.normal_inverse_gamma([1, 2], kappa0=INF), r"kappa0 must be a finite"),
        (lambda: bayes.normal_inverse_gamma([1, 2], alpha0=INF), r"alpha0 must be a finite"),
        (lambda: bayes.normal_inverse_gamma([1, 2], alpha0=-2), r"alpha0 .* >= -1, got -2"),
        (lambda: bayes.normal_inverse_gamma([1, 2], beta0=NAN), r"beta0 must be a finite"),
        (lambda: bayes.dirichlet_categorical([0, 1], alpha=INF), r"alpha must be a finite"),
        (lambda: bayes.normal_inverse_wishart(np.eye(3), mu0=[0, NAN, 0]), r"mu0 must be finite"),
        (lambda: bayes.normal_inverse_wishart(np.eye(3), kappa0=INF), r"kappa0 must be a finite"),
        (lambda: bayes.normal_inverse_wishart(np.eye(3), nu0=INF), r"nu0 must be a finite"),
        (lambda: bayes.normal_inverse_wishart(np.eye(3), nu0=-6), r"nu0 .* >= -4, got -6"),
        (
            lambda: bayes.normal_inverse_wishart(np.eye(2), psi0=[[1, 0], [0, INF]]),
            r"psi0 must be finite numbers",
        ),
        (lambda: bayes.ridge(np.eye(3), [1, 2, 3], alpha=INF), r"alpha must be a finite"),
        (lambda: bayes.ridge(np.eye(3), [1, 2, 3], 1.0, variance=INF), r"variance must be a"),
    ],
)
def test_hyperparameters_must_be_finite_numbers_in_range(call, message):
    # inf and NaN gave NaN posteriors (a = inf: mean nan) with no error
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: bayes.dirichlet_categorical([0, 1], alpha=[1, 1, 1], n_categories=2),
            r"alpha has shape \(3,\) but there are 2 categories .* of shape \(2,\)",
        ),
        (
            lambda: bayes.dirichlet_categorical([0, 1], alpha=np.ones((2, 2))),
            r"alpha must be one number or of shape \(K,\), got shape \(2, 2\)",
        ),
        (
            lambda: bayes.dirichlet_categorical([0, 1], n_categories=2.5),
            r"n_categories must be a positive integer, got 2.5",
        ),
        (
            lambda: bayes.normal_inverse_wishart(np.eye(2), mu0=[1, 2, 3]),
            r"mu0 must have shape \(2,\), a value per column of X.*got shape \(3,\)",
        ),
        (
            lambda: bayes.normal_inverse_wishart(np.eye(2), psi0=np.eye(3)),
            r"psi0 must have shape \(2, 2\).*got shape \(3, 3\)",
        ),
    ],
)
def test_shape_mismatches_name_the_argument_and_the_shape_expected(call, message):
    # they raised NumPy's broadcast errors, naming no argument
    with pytest.raises(ValueError, match=message):
        call()


def test_one_number_stands_for_every_coordinate():
    X = np.random.default_rng(15).normal(size=(10, 2))
    one = bayes.normal_inverse_wishart(X, mu0=1.0, kappa0=2.0)
    both = bayes.normal_inverse_wishart(X, mu0=[1.0, 1.0], kappa0=2.0)
    np.testing.assert_allclose(one.hyper["mu"], (2.0 * 1.0 + 10 * X.mean(0)) / 12)
    np.testing.assert_array_equal(one.hyper["mu"], both.hyper["mu"])
    post = bayes.dirichlet_categorical([0, 1, 1], alpha=0.5, n_categories=3.0)
    np.testing.assert_allclose(post.mean, stats.dirichlet([1.5, 2.5, 0.5]).mean())


def test_levels_are_checked():
    post = bayes.gamma_poisson(POISSON_SAMPLE)
    with pytest.raises(ValueError, match="level"):
        post.interval(0)


# Standardised intervals at 0, 5, 40 and 100 sd, in either tail and two-sided: ndtr underflows
# below -38, where the inverse CDF on probabilities gave inf or the far bound.
TRUNCATIONS = [
    (a, b)
    for edge in (0.0, 5.0, 40.0, 100.0)
    for a, b in ((edge, np.inf), (-np.inf, -edge), (edge, edge + 1.0), (-edge - 0.5, -edge))
] + [(-1.0, 2.0), (-50.0, 50.0)]


@pytest.mark.parametrize(("a", "b"), TRUNCATIONS)
def test_truncated_normal_is_scipys_truncnorm_in_either_tail(a, b):
    from emkit.bayes import draws

    rng = np.random.default_rng(1)
    n, mean, sd = 4000, 3.0, 2.0
    x = draws.truncated_normal(
        np.full(n, mean), np.full(n, sd), np.full(n, mean + sd * a), np.full(n, mean + sd * b), rng
    )
    law = stats.truncnorm(a, b, loc=mean, scale=sd)
    assert np.all(np.isfinite(x)) and np.all((x > mean + sd * a) & (x < mean + sd * b))
    assert stats.kstest(x, law.cdf).pvalue > 1e-3
    assert abs(x.mean() - law.mean()) < 4 * law.std() / np.sqrt(n)


@pytest.mark.parametrize(("a", "b"), [(-1.0, 2.0), (40.0, np.inf), (-np.inf, -100.0), (3.0, 3.5)])
def test_truncated_normal_scores_are_scipys_and_invert(a, b):
    from emkit.bayes import draws

    law = stats.truncnorm(a, b)
    t = law.ppf(np.linspace(0.01, 0.99, 9))
    score = draws.truncated_normal_score(a, b, t)
    np.testing.assert_allclose(score, stats.norm.ppf(np.linspace(0.01, 0.99, 9)), atol=1e-6)
    np.testing.assert_allclose(draws.truncated_normal_from_score(a, b, score), t, rtol=1e-12)


def test_ordered_overrelaxation_leaves_the_truncated_normal_invariant():
    from emkit.bayes.conditionals import overrelaxed_normal

    # Two means pulled against their order: N(1, 0.3^2) and N(0, 0.4^2) restricted to
    # mu_0 < mu_1. Exact draws of that law (by rejection), one move each: the same law.
    rng = np.random.default_rng(2)
    loc, sd = np.array([1.0, 0.0]), np.array([0.3, 0.4])
    proposals = loc + sd * rng.standard_normal((200_000, 2))
    start = proposals[proposals[:, 0] < proposals[:, 1]][:5000, :, None]  # (B, 2, 1)
    b = start.shape[0]
    shape = (b, 2, 1)
    moved = overrelaxed_normal(
        np.broadcast_to(loc[:, None], shape),
        np.broadcast_to(sd[:, None], shape),
        start,
        -0.7,
        True,
        rng,
    )
    assert np.all(moved[:, 0, 0] < moved[:, 1, 0])
    assert np.mean(moved != start) > 0.99  # every draw moves
    for j in range(2):
        assert stats.ks_2samp(moved[:, j, 0], start[:, j, 0]).pvalue > 1e-3


@pytest.mark.parametrize("alpha", [0.0, 1e-12, 1e-9])
def test_ridge_on_collinear_columns_says_so(alpha):
    # Rounding let the Cholesky factor pass, then scipy's multivariate normal raised a raw
    # LinAlgError on the covariance.
    X = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    with pytest.raises(ValueError, match=r"ridge: .*nearly so .*collinear.*alpha > 0"):
        bayes.ridge(X, np.array([1.0, 2.0, 3.0]), alpha=alpha)


def test_ridge_on_collinear_columns_with_enough_alpha_is_scikit_learns():
    from sklearn.linear_model import Ridge

    X, y = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]]), np.array([1.0, 2.0, 4.0])
    post = bayes.ridge(X, y, alpha=1e-6)
    np.testing.assert_allclose(post.map, Ridge(alpha=1e-6).fit(X, y).coef_, rtol=1e-8)


# ---- no data: the posterior is the prior, when it is proper ----------------------------------

NO_DATA = {
    # name: (posterior with no data, the prior's scipy distribution, its predictive)
    "beta_bernoulli": (
        lambda: bayes.beta_bernoulli([], a=2.0, b=5.0),
        stats.beta(2.0, 5.0),
        stats.betabinom(1, 2.0, 5.0),
    ),
    "gamma_poisson": (
        lambda: bayes.gamma_poisson([], shape=3.0, rate=2.0),
        stats.gamma(3.0, scale=1 / 2.0),
        stats.nbinom(3.0, 2.0 / 3.0),
    ),
    "normal_known_variance": (
        lambda: bayes.normal_known_variance([], sigma=0.5, prior_mean=1.5, prior_sd=2.0),
        stats.norm(1.5, 2.0),
        stats.norm(1.5, np.hypot(2.0, 0.5)),
    ),
}


@pytest.mark.parametrize("name", NO_DATA)
def test_no_data_under_a_proper_prior_gives_the_prior(name):
    # gamma_poisson and normal_known_variance raised "needs at least 1 observation(s)"
    posterior, prior, predictive = NO_DATA[name]
    post = posterior()
    assert post.mean == pytest.approx(prior.mean(), rel=1e-12)
    assert post.sd == pytest.approx(prior.std(), rel=1e-12)
    np.testing.assert_allclose(post.interval(0.9), prior.interval(0.9), rtol=1e-10)
    pred = post.predictive()
    assert pred.mean == pytest.approx(predictive.mean(), rel=1e-12)
    assert pred.sd == pytest.approx(predictive.std(), rel=1e-12)


def test_no_data_normal_inverse_gamma_is_its_proper_prior():
    mu0, kappa0, alpha0, beta0 = 1.0, 2.0, 3.0, 4.0
    post = bayes.normal_inverse_gamma([], mu0=mu0, kappa0=kappa0, alpha0=alpha0, beta0=beta0)
    variance = stats.invgamma(alpha0, scale=beta0)
    mean = stats.t(2 * alpha0, loc=mu0, scale=np.sqrt(beta0 / (alpha0 * kappa0)))
    assert post["variance"].mean == pytest.approx(variance.mean(), rel=1e-12)
    assert post["variance"].sd == pytest.approx(variance.std(), rel=1e-12)
    assert post["mean"].sd == pytest.approx(mean.std(), rel=1e-12)
    np.testing.assert_allclose(post["mean"].interval(0.9), mean.interval(0.9), rtol=1e-10)
    # the joint mode of the NIG density (sigma^2)^-(alpha0 + 3/2) exp(-beta0 / sigma^2 ...)
    assert post.map == pytest.approx({"mean": mu0, "variance": beta0 / (alpha0 + 1.5)})


def test_no_data_dirichlet_and_normal_inverse_wishart_are_their_proper_priors():
    alpha = np.array([1.0, 2.0, 3.0])
    post = bayes.dirichlet_categorical([], alpha=alpha)
    np.testing.assert_allclose(post.mean, stats.dirichlet(alpha).mean(), rtol=1e-12)
    np.testing.assert_allclose(post.cov, stats.dirichlet(alpha).cov(), rtol=1e-12)
    flat = bayes.dirichlet_categorical([], n_categories=4)
    np.testing.assert_allclose(flat.mean, np.full(4, 0.25), rtol=1e-12)

    psi0 = np.array([[2.0, 0.5], [0.5, 1.0]])
    niw = bayes.normal_inverse_wishart(
        np.empty((0, 2)), mu0=[1.0, -1.0], kappa0=2.0, nu0=6.0, psi0=psi0
    )
    np.testing.assert_allclose(
        niw["covariance"].mean, stats.invwishart(6.0, psi0).mean(), rtol=1e-12
    )
    np.testing.assert_allclose(niw["mean"].mean, [1.0, -1.0], rtol=1e-12)


@pytest.mark.parametrize(
    "call, improper",
    [
        (
            lambda: bayes.beta_bernoulli([], a=0.0, b=1.0),
            r"Beta\(0, 1\), which is improper \(a = 0\)",
        ),
        (lambda: bayes.gamma_poisson([]), r"Gamma\(1, 0\), which is improper \(rate = 0\)"),
        (lambda: bayes.normal_known_variance([], sigma=1.0), r"improper \(prior_sd = inf"),
        (lambda: bayes.normal_inverse_gamma([]), r"improper \(kappa0 = 0, alpha0 = 0, beta0"),
        (
            lambda: bayes.normal_inverse_gamma([], kappa0=1.0, alpha0=1.0),
            r"improper \(beta0 = 0\)",
        ),
        (lambda: bayes.normal_inverse_wishart(np.empty((0, 2))), r"improper \(kappa0 = 0, nu0"),
        (lambda: bayes.dirichlet_categorical([], alpha=0.0, n_categories=2), r"improper"),
    ],
)
def test_no_data_under_an_improper_prior_is_refused(call, improper):
    # beta_bernoulli([], a=0) said only "posterior a (a + successes) must be ... > 0"
    with pytest.raises(ValueError, match=improper):
        call()


def test_no_data_dirichlet_needs_the_number_of_categories():
    with pytest.raises(ValueError, match="no data.*give n_categories, or alpha of shape"):
        bayes.dirichlet_categorical([])


# ---- normal_inverse_gamma: what makes the posterior improper ----------------------------------


def test_normal_inverse_gamma_names_equal_values_and_the_prior_that_helps():
    # said "posterior beta must be a finite number > 0, got 0.0"
    with pytest.raises(ValueError, match=r"the 2 values are all equal \(1\).*beta0 > 0"):
        bayes.normal_inverse_gamma([1.0, 1.0])
    post = bayes.normal_inverse_gamma([1.0, 1.0], beta0=0.5)  # proper with beta0 > 0
    # alpha_n = 0 + (2 - 1)/2, beta_n = beta0 + 0: the variance's marginal IG(1/2, 1/2)
    assert post.hyper["alpha"] == pytest.approx(0.5) and post.hyper["beta"] == pytest.approx(0.5)
    np.testing.assert_allclose(
        post["variance"].interval(0.9), stats.invgamma(0.5, scale=0.5).interval(0.9), rtol=1e-12
    )


def test_normal_inverse_gamma_says_how_many_values_the_prior_needs():
    # said "posterior alpha (alpha0 + N/2) must be a finite number > 0, got 0.0"
    with pytest.raises(ValueError, match=r"needs at least 2 values .*or alpha0 > 0"):
        bayes.normal_inverse_gamma([1.0])
    with pytest.raises(ValueError, match=r"at least 4 values \(N > 1 - 2 alpha0 = 3\), got 3"):
        bayes.normal_inverse_gamma([1.0, 2.0, 3.0], alpha0=-1)  # the flat prior
    with pytest.raises(ValueError, match=r"at least 2 values \(N > -2 alpha0 = 1\), got 1"):
        bayes.normal_inverse_gamma([1.0], kappa0=1.0, alpha0=-0.5)
    # four values under the flat prior: alpha_n = 1/2, the MAP is the MLE
    x = [1.0, 2.0, 3.0, 5.0]
    flat = bayes.normal_inverse_gamma(x, alpha0=-1)
    assert flat.map["variance"] == pytest.approx(np.var(x), rel=1e-12)


# ---- kappa0 = 0: the named prior with a flat mean, as the prior classes read it -------------


def test_normal_inverse_gamma_without_shrinkage_is_inverse_gamma_times_flat_mean():
    # kappa0 = 0 used IG(alpha0 + 1/2, beta0): MAP variance 0.3287, E[variance] 0.5342
    x = np.array([1.2, 0.4, 2.2, 1.9, 0.8, 1.5])
    alpha0, beta0 = 2.0, 1.0
    post = bayes.normal_inverse_gamma(x, mu0=0.0, kappa0=0.0, alpha0=alpha0, beta0=beta0)

    def log_post(mu, var):
        prior = stats.invgamma.logpdf(var, alpha0, scale=beta0)  # times a flat mean
        return prior + stats.norm.logpdf(x[:, None, None], mu, np.sqrt(var)).sum(0)

    best = optimize.minimize(
        lambda t: -log_post(t[0], np.exp(t[1])).item(),
        [1.0, 0.0],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-13},
    )
    assert post.map["mean"] == pytest.approx(best.x[0], abs=1e-7)
    assert post.map["variance"] == pytest.approx(np.exp(best.x[1]), rel=1e-7)
    # E[variance] on a grid in (mean, log variance): the truncated tails cost ~1e-6 of it
    mu = np.linspace(-4.0, 7.0, 1101)[:, None]
    var = np.exp(np.linspace(np.log(1e-3), np.log(100.0), 1101))[None, :]
    weight = np.exp(log_post(mu, var) - (-best.fun)) * var  # dv = v d(log v)
    assert post.mean["variance"] == pytest.approx((weight * var).sum() / weight.sum(), rel=1e-5)
    component = (
        emkit.MixtureModel(
            [emkit.Normal()],
            priors=[emkit.NormalInverseGamma(mean=0.0, shrinkage=0.0, shape=alpha0, scale=beta0)],
        )
        .fit(x[:, None])
        .components_[0]
    )
    assert component.mean[0] == pytest.approx(post.map["mean"], rel=1e-10)
    assert component.variance[0] == pytest.approx(post.map["variance"], rel=1e-10)


def test_normal_inverse_wishart_without_shrinkage_is_inverse_wishart_times_flat_mean():
    # kappa0 = 0 used IW(nu0 + 1, psi0): MAP covariance[0, 0] 0.5803 for 0.6093
    X = np.random.default_rng(0).multivariate_normal([0, 1], [[1, 0.5], [0.5, 2]], 12)
    nu0, psi0 = 5.0, np.eye(2)
    post = bayes.normal_inverse_wishart(X, kappa0=0.0, nu0=nu0, psi0=psi0)

    def negative_log_post(t):
        chol = np.array([[np.exp(t[2]), 0.0], [t[3], np.exp(t[4])]])
        cov = chol @ chol.T
        prior = stats.invwishart.logpdf(cov, nu0, psi0)  # times a flat mean
        return -(prior + stats.multivariate_normal.logpdf(X, t[:2], cov).sum())

    best = optimize.minimize(
        negative_log_post, [0, 1, 0, 0, 0], method="BFGS", options={"gtol": 1e-10}
    )
    chol = np.array([[np.exp(best.x[2]), 0.0], [best.x[3], np.exp(best.x[4])]])
    np.testing.assert_allclose(post.map["mean"], best.x[:2], atol=1e-6)
    np.testing.assert_allclose(post.map["covariance"], chol @ chol.T, rtol=1e-6)
    prior = {"mean": [0.0, 0.0], "shrinkage": 0.0, "dof": nu0, "scale": psi0}
    gm = emkit.GaussianMixture(1, covariance_prior=prior, reg_covar=0.0).fit(X)
    np.testing.assert_allclose(gm.covariances_[0], post.map["covariance"], rtol=1e-10)
    # in one dimension IW(nu0, psi0) is IG(nu0 / 2, psi0 / 2), flat mean or not
    nig = bayes.normal_inverse_gamma(X[:, 0], alpha0=nu0 / 2, beta0=0.5)
    one = bayes.normal_inverse_wishart(X[:, :1], nu0=nu0, psi0=[[1.0]])
    assert one.map["covariance"][0, 0] == pytest.approx(nig.map["variance"], rel=1e-12)
    assert one.mean["covariance"][0, 0] == pytest.approx(nig.mean["variance"], rel=1e-12)
