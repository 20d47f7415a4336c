"""The batched family kernels (one per family kind, all components and rows at once) against
scipy.stats densities and scipy MLEs, the fused E-step against the explicit one, Normal
mixtures against scikit-learn from the same start, and SQUAREM against plain EM."""

import warnings

import numpy as np
import pytest
from scipy import optimize, stats
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import emkit
from emkit.distributions.batched import EachKernel, LinearKernel
from emkit.distributions.bernoulli import Bernoulli
from emkit.distributions.exponential import Exponential
from emkit.distributions.gamma import LINEAR_SHAPE, Gamma
from emkit.distributions.normal import Normal
from emkit.distributions.point_mass import PointMass
from emkit.distributions.poisson import Poisson
from emkit.models.component_list import ComponentList
from emkit.models.mixture import Mixture

RNG = np.random.default_rng(3)

# Three components per family, the scipy log density of each, and rows with some outside the
# support (which must get -inf).
CASES = {
    "normal": (
        [Normal([0.0, 1.0], [1.0, 2.0]), Normal([2.0, -1.0], [0.5, 1.0]), Normal([1, 0], [3, 3])],
        lambda f, x: stats.norm.logpdf(x, f.mean, np.sqrt(f.variance)).sum(axis=1),
        RNG.normal(1.0, 2.0, size=(200, 2)),
    ),
    "poisson": (
        [Poisson([1.0, 4.0]), Poisson([6.0, 0.5]), Poisson([2.0, 2.0])],
        lambda f, x: stats.poisson.logpmf(x, f.rate).sum(axis=1),
        np.vstack([RNG.poisson(3.0, size=(197, 2)), [[-1, 2], [1.5, 0], [2000, 1]]]),
    ),
    "bernoulli": (
        [Bernoulli([0.2, 0.9]), Bernoulli([0.5, 0.5]), Bernoulli([0.7, 0.1])],
        lambda f, x: stats.bernoulli.logpmf(x, f.probs).sum(axis=1),
        np.vstack([(RNG.random((198, 2)) < 0.4), [[0.5, 1.0], [2.0, 0.0]]]).astype(float),
    ),
    "exponential": (
        [Exponential([0.5, 2.0]), Exponential([3.0, 0.2]), Exponential([1.0, 1.0])],
        lambda f, x: stats.expon.logpdf(x, scale=1.0 / f.rate).sum(axis=1),
        np.vstack([RNG.exponential(1.5, size=(198, 2)), [[-0.1, 1.0], [0.0, 0.0]]]),
    ),
    "gamma": (
        [Gamma([2.0, 0.7], [1.5, 0.5]), Gamma([9.0, 3.0], [1.0, 2.0]), Gamma([500.0, 1], [50, 1])],
        lambda f, x: stats.gamma.logpdf(x, f.shape, scale=1.0 / f.rate).sum(axis=1),
        np.vstack([RNG.gamma(3.0, 1.0, size=(198, 2)), [[0.0, 1.0], [-1.0, 2.0]]]),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_one_kernel_per_family_gives_scipy_log_densities(name):
    families, logpdf, x = CASES[name]
    components = ComponentList(tuple(families))
    ((cols, kernel),) = components.groups
    assert isinstance(kernel, LinearKernel) and cols == slice(0, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        ref = np.column_stack([logpdf(f, x) for f in families])
    ours = components.log_prob(x)
    np.testing.assert_array_equal(np.isneginf(ours), ~np.isfinite(ref))
    finite = np.isfinite(ref)
    np.testing.assert_allclose(ours[finite], ref[finite], rtol=1e-11, atol=1e-11)


def test_mixed_kinds_dispatch_once_per_kind_and_keep_their_columns():
    x = np.vstack([RNG.poisson(2.0, size=(150, 1)), np.zeros((50, 1))]).astype(float)
    families = (Poisson([1.0]), Normal([2.0], [4.0]), PointMass(0.0), Poisson([5.0]))
    components = ComponentList(families)
    assert len(components.groups) == 3
    poisson_cols = [cols for cols, k in components.groups if isinstance(k, LinearKernel)][0]
    np.testing.assert_array_equal(np.arange(4)[poisson_cols], [0, 3])
    ref = np.column_stack(
        [
            stats.poisson.logpmf(x[:, 0], 1.0),
            stats.norm.logpdf(x[:, 0], 2.0, 2.0),
            np.where(x[:, 0] == 0, 0.0, -np.inf),
            stats.poisson.logpmf(x[:, 0], 5.0),
        ]
    )
    np.testing.assert_allclose(components.log_prob(x), ref, rtol=1e-12)


def _scipy_mle(name, x):
    """Per-feature maximum-likelihood parameters of ``name`` from rows ``x`` by scipy."""
    if name == "normal":
        fits = [stats.norm.fit(col) for col in x.T]
        return {"mean": [m for m, _ in fits], "variance": [s**2 for _, s in fits]}
    if name == "exponential":
        return {"rate": [1.0 / stats.expon.fit(col, floc=0)[1] for col in x.T]}
    if name == "gamma":
        fits = [stats.gamma.fit(col, floc=0) for col in x.T]
        return {"shape": [a for a, _, _ in fits], "rate": [1.0 / s for _, _, s in fits]}
    dist, attr, bounds = {
        "poisson": (stats.poisson, "rate", (1e-6, 50.0)),
        "bernoulli": (stats.bernoulli, "probs", (1e-9, 1.0 - 1e-9)),
    }[name]
    return {
        attr: [
            optimize.minimize_scalar(
                lambda p, col=col: -dist.logpmf(col, p).sum(),
                bounds=bounds,
                method="bounded",
                options={"xatol": 1e-12},
            ).x
            for col in x.T
        ]
    }


@pytest.mark.parametrize("name", list(CASES))
def test_kernel_statistics_give_scipy_mles_on_labelled_rows(name):
    families, _, x = CASES[name]
    inside = np.all(np.isfinite(np.column_stack([f.log_prob(x) for f in families])), axis=1)
    if name == "poisson":
        x = x[:, :1]
        families = [Poisson(f.rate[:1]) for f in families]
        inside = np.all((x >= 0) & (x == np.floor(x)), axis=1)
    x = x[inside]
    labels = np.arange(x.shape[0]) % 3
    resp = np.eye(3)[labels].T  # (k, n), one row of ones per labelled group
    ((cols, kernel),) = ComponentList(tuple(families)).groups
    parts = kernel.stats(resp.sum(axis=1), kernel.sums(x, resp, {}))
    for k, (family, part) in enumerate(zip(families, parts, strict=True)):
        fitted = family.from_stats(part)
        for attr, value in _scipy_mle(name, x[labels == k]).items():
            np.testing.assert_allclose(getattr(fitted, attr), value, rtol=2e-5, err_msg=attr)


def _explicit_e_step(model, x, w):
    log_joint = model.components.log_prob(x) + np.log(model.weights)
    log_norm = logsumexp(log_joint, axis=1)
    resp = np.exp(log_joint - log_norm[:, None]) * w[:, None]
    return model.components.suff_stats(x, resp), float(w @ log_norm)


@pytest.mark.parametrize("name", list(CASES))
def test_fused_e_step_matches_the_explicit_e_step(name):
    # Rows enough for the threaded pass (two threads of at least 16384 rows, several blocks).
    families, _, _ = CASES[name]
    model = Mixture(np.array([0.5, 0.3, 0.2]), ComponentList(tuple(families)))
    rng = np.random.default_rng(1)
    x = model.components.sample(np.array([20_000, 12_000, 8_000]), rng, 2)
    w = rng.uniform(0.5, 2.0, size=x.shape[0])
    fused, loglik = model.e_step(x, w)
    explicit, ref = _explicit_e_step(model, x, w)
    assert loglik == pytest.approx(ref, rel=1e-12)
    for ours, theirs in zip(fused.components.parts, explicit.parts, strict=True):
        for attr, value in vars(theirs).items():
            np.testing.assert_allclose(getattr(ours, attr), value, rtol=1e-10, err_msg=attr)
    # Batched restarts: several mixtures on one pass give each one's own E-step.
    other = Mixture(np.array([0.2, 0.2, 0.6]), model.components)
    many = Mixture.e_step_many([model, other], x, w)
    assert many[0][1] == pytest.approx(loglik, rel=1e-13)
    assert many[1][1] == pytest.approx(other.e_step(x, w)[1], rel=1e-13)


def test_tight_gamma_and_boundary_parameters_take_the_members_own_densities():
    assert isinstance(Gamma.kernel([Gamma([2 * LINEAR_SHAPE], [1.0])]), type(None))
    assert Poisson.kernel([Poisson([0.0])]) is None
    assert Bernoulli.kernel([Bernoulli([1.0])]) is None
    ((_, kernel),) = ComponentList((Poisson([0.0]), Poisson([2.0]))).groups
    assert isinstance(kernel, EachKernel)
    x = np.array([[0.0], [3.0]])
    ref = np.column_stack([[0.0, -np.inf], stats.poisson.logpmf(x[:, 0], 2.0)])
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(ComponentList((Poisson([0.0]), Poisson([2.0]))).log_prob(x), ref)


def test_normal_mixture_follows_sklearn_from_the_same_start():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-1, 1, 300), rng.normal(2, 0.7, 200)])[:, None]
    means, variances = np.array([[-0.5], [0.5]]), np.array([[1.5], [1.5]])
    ours = emkit.MixtureModel(
        [Normal(m, v) for m, v in zip(means, variances, strict=True)],
        reg_covar=0.0,
        tol=0.0,
        max_iter=7,
        accelerate=None,
    )
    ref = SkGaussianMixture(
        2,
        covariance_type="diag",
        reg_covar=0.0,
        tol=0.0,
        max_iter=7,
        weights_init=[0.5, 0.5],
        means_init=means,
        precisions_init=1.0 / variances,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.fit(x)
        ref.fit(x)
    np.testing.assert_allclose(ours.weights_, ref.weights_, rtol=1e-10)
    np.testing.assert_allclose([c.mean for c in ours.components_], ref.means_, rtol=1e-10)
    np.testing.assert_allclose([c.variance for c in ours.components_], ref.covariances_, rtol=1e-10)


SQUAREM_CASES = {
    "poisson": ([Poisson(), Poisson()], lambda r: r.poisson(np.where(r.random(600) < 0.4, 1, 4))),
    "gamma": ([Gamma(), Gamma()], lambda r: r.gamma(np.where(r.random(600) < 0.5, 2, 6), 1.0)),
    "exponential": (
        [Exponential(), Exponential()],
        lambda r: r.exponential(np.where(r.random(600) < 0.5, 1, 5)),
    ),
    "normal+exponential": (
        [Normal(), Exponential()],
        lambda r: np.where(r.random(600) < 0.5, r.normal(6, 1, 600), r.exponential(2, 600)),
    ),
}


@pytest.mark.parametrize("name", list(SQUAREM_CASES))
def test_squarem_reaches_plain_ems_optimum_in_fewer_steps(name):
    families, draw = SQUAREM_CASES[name]
    x = np.asarray(draw(np.random.default_rng(4)), dtype=float)[:, None]
    fits = {}
    for accelerate in (None, "squarem"):
        model = emkit.MixtureModel(
            families, random_state=0, tol=1e-10, max_iter=5000, accelerate=accelerate
        )
        with warnings.catch_warnings():
            warnings.simplefilter("error", emkit.MonotonicityWarning)
            fits[accelerate] = model.fit(x)
    plain, fast = fits[None], fits["squarem"]
    # Plain EM crawls on these overlapping mixtures and stops a little short of the optimum.
    assert fast.log_likelihood_ == pytest.approx(plain.log_likelihood_, rel=1e-6)
    assert fast.log_likelihood_ >= plain.log_likelihood_ - 1e-9 * abs(plain.log_likelihood_)
    assert fast.n_iter_ < plain.n_iter_
    assert np.all(np.diff(fast.history_) >= -1e-10 * np.abs(fast.history_[1:]))


def test_vector_forms_round_trip():
    families = [
        Normal([1.0, -2.0], [0.5, 3.0]),
        Poisson([2.0]),
        Bernoulli([0.3, 0.8]),
        Exponential([0.4]),
        Gamma([2.0], [3.0]),
        PointMass(0.0),
    ]
    components = ComponentList(tuple(families))
    back = components.from_vector(components.to_vector())
    for a, b in zip(components.families, back.families, strict=True):
        assert a.to_dict().keys() == b.to_dict().keys()
        for key, value in a.to_dict().items():
            if key != "family":
                np.testing.assert_allclose(b.to_dict()[key], value, rtol=1e-13)


def test_zero_inflated_poisson_with_squarem_reaches_the_direct_maximum():
    rng = np.random.default_rng(0)
    y = np.where(rng.uniform(size=800) < 0.3, 0, rng.poisson(2.5, size=800))

    def negative_loglik(t):
        pi, rate = 1.0 / (1.0 + np.exp(-t[0])), np.exp(t[1])
        zero = np.log(pi + (1.0 - pi) * np.exp(-rate))
        return -np.where(y == 0, zero, np.log1p(-pi) + stats.poisson.logpmf(y, rate)).sum()

    direct = optimize.minimize(
        negative_loglik,
        [0.0, 0.0],
        method="Nelder-Mead",
        options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 10_000},
    )
    plain = emkit.ZeroInflatedPoisson(accelerate=None).fit(y[:, None])
    fast = emkit.ZeroInflatedPoisson().fit(y[:, None])
    assert fast.zero_inflation_ == pytest.approx(1.0 / (1.0 + np.exp(-direct.x[0])), rel=1e-6)
    np.testing.assert_allclose(fast.rate_, np.exp(direct.x[1]), rtol=1e-6)
    assert fast.log_likelihood_ == pytest.approx(-direct.fun, rel=1e-12)
    assert fast.n_iter_ < plain.n_iter_


def test_regression_components_fused_e_step_and_vector_form():
    from emkit.models.regression_mixture import LinearRegressions

    rng = np.random.default_rng(2)
    x = rng.uniform(0, 10, size=(40_000, 2))
    y = np.where(rng.uniform(size=40_000) < 0.5, 1 + x @ [2.0, -1.0], 8 - 0.5 * x[:, 0])
    z = np.column_stack([x, y + rng.normal(0, 0.5, 40_000)])
    components = LinearRegressions(
        np.array([[1.5, -0.5], [-0.3, 0.1]]), np.array([0.5, 7.0]), np.array([1.0, 2.0])
    )
    model = Mixture(np.array([0.4, 0.6]), components)
    w = rng.uniform(0.5, 2.0, size=z.shape[0])
    fused, loglik = model.e_step(z, w)
    # The explicit E-step, with scipy.stats' normal density of y given x.
    means = x @ components.coef.T + components.intercept
    log_joint = stats.norm.logpdf(z[:, -1:], means, np.sqrt(components.variances))
    log_joint += np.log(model.weights)
    log_norm = logsumexp(log_joint, axis=1)
    resp = np.exp(log_joint - log_norm[:, None]) * w[:, None]
    explicit = components.suff_stats(z, resp)
    assert loglik == pytest.approx(float(w @ log_norm), rel=1e-12)
    for attr in ("weight", "mean", "scatter"):
        np.testing.assert_allclose(
            getattr(fused.components, attr), getattr(explicit, attr), rtol=1e-10, err_msg=attr
        )
    back = components.from_vector(components.to_vector())
    np.testing.assert_allclose(back.coef, components.coef, rtol=1e-13)
    np.testing.assert_allclose(back.intercept, components.intercept, rtol=1e-13)
    np.testing.assert_allclose(back.variances, components.variances, rtol=1e-13)
