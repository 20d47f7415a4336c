"""Single-component families: densities against scipy.stats, statistics that add up, M-steps
against direct maximisation (with and without conjugate priors), and plain-dict round trips."""

import numpy as np
import pytest
from scipy import optimize, special, stats

from emkit.distributions.bernoulli import Bernoulli
from emkit.distributions.categorical import Categorical
from emkit.distributions.exponential import Exponential
from emkit.distributions.gamma import Gamma, gamma_shape_newton
from emkit.distributions.linear_gaussian import LinearGaussian
from emkit.distributions.normal import Normal
from emkit.distributions.point_mass import PointMass
from emkit.distributions.poisson import Poisson
from emkit.distributions.priors import (
    BetaPrior,
    DirichletPrior,
    GammaPrior,
    InverseGammaPrior,
    NormalInverseGamma,
    prior_from_dict,
)
from emkit.distributions.registry import family_from_dict

RNG = np.random.default_rng(0)


def _data():
    x_reg = RNG.normal(size=(60, 2))
    y_reg = 1.0 + x_reg @ np.array([2.0, -1.0]) + 0.5 * RNG.normal(size=60)
    return {
        "normal": RNG.normal(3.0, 2.0, size=(60, 2)),
        "poisson": RNG.poisson(3.0, size=(60, 2)).astype(float),
        "bernoulli": (RNG.random((60, 3)) < 0.3).astype(float),
        "categorical": RNG.integers(0, 4, size=(60, 2)).astype(float),
        "exponential": RNG.exponential(2.0, size=(60, 1)),
        "gamma": RNG.gamma(2.5, 1.5, size=(60, 2)),
        "point_mass": np.zeros((60, 1)),
        "linear_gaussian": np.column_stack([x_reg, y_reg]),
    }


DATA = _data()
FAMILIES = {
    "normal": Normal(),
    "poisson": Poisson(),
    "bernoulli": Bernoulli(),
    "categorical": Categorical(4),
    "exponential": Exponential(),
    "gamma": Gamma(),
    "point_mass": PointMass(0.0),
    "linear_gaussian": LinearGaussian(),
}


def _fit(name, w=None):
    x = DATA[name]
    w = np.ones(x.shape[0]) if w is None else w
    family = FAMILIES[name]
    return family.from_stats(family.suff_stats(x, w))


def _flat(family):
    values = []
    for key, value in family.to_dict().items():
        if key != "family" and value is not None and not isinstance(value, bool):
            values.append(np.ravel(np.asarray(value, dtype=float)))
    return np.concatenate(values) if values else np.zeros(0)


def test_log_prob_matches_scipy():
    x = DATA["normal"]
    f = Normal([3.0, 1.0], [4.0, 0.5])
    ref = stats.norm.logpdf(x, [3.0, 1.0], np.sqrt([4.0, 0.5])).sum(axis=1)
    np.testing.assert_allclose(f.log_prob(x), ref, rtol=1e-12)

    x = DATA["poisson"]
    ref = stats.poisson.logpmf(x, [2.5, 4.0]).sum(axis=1)
    np.testing.assert_allclose(Poisson([2.5, 4.0]).log_prob(x), ref, rtol=1e-12)

    x = DATA["bernoulli"]
    p = np.array([0.2, 0.5, 0.9])
    ref = stats.bernoulli.logpmf(x, p).sum(axis=1)
    np.testing.assert_allclose(Bernoulli(p).log_prob(x), ref, rtol=1e-12)

    x = DATA["categorical"]
    probs = np.array([[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.4, 0.1]])
    ref = np.log(probs[0, x[:, 0].astype(int)]) + np.log(probs[1, x[:, 1].astype(int)])
    np.testing.assert_allclose(Categorical(probs=probs).log_prob(x), ref, rtol=1e-12)

    x = DATA["exponential"]
    ref = stats.expon.logpdf(x[:, 0], scale=1 / 0.7)
    np.testing.assert_allclose(Exponential([0.7]).log_prob(x), ref, rtol=1e-12)

    x = DATA["gamma"]
    ref = stats.gamma.logpdf(x, [2.0, 3.0], scale=1 / np.array([1.5, 0.5])).sum(axis=1)
    np.testing.assert_allclose(Gamma([2.0, 3.0], [1.5, 0.5]).log_prob(x), ref, rtol=1e-12)

    z = DATA["linear_gaussian"]
    f = LinearGaussian(True, [2.0, -1.0], 1.0, 0.3)
    ref = stats.norm.logpdf(z[:, 2], 1.0 + z[:, :2] @ [2.0, -1.0], np.sqrt(0.3))
    np.testing.assert_allclose(f.log_prob(z), ref, rtol=1e-12)

    pm = PointMass(2.0).log_prob(np.array([[2.0], [1.0]]))
    assert pm[0] == 0.0 and pm[1] == -np.inf


@pytest.mark.parametrize("name", list(FAMILIES))
def test_statistics_add_up(name):
    x = DATA[name]
    w = RNG.random(x.shape[0])
    family = FAMILIES[name]
    whole = family.suff_stats(x, w)
    parts = family.suff_stats(x[:17], w[:17]) + family.suff_stats(x[17:], w[17:])
    np.testing.assert_allclose(
        _flat(family.from_stats(whole)), _flat(family.from_stats(parts)), rtol=1e-10
    )


@pytest.mark.parametrize("name", list(FAMILIES))
def test_integer_weights_equal_repeated_rows(name):
    x = DATA[name]
    counts = RNG.integers(0, 3, size=x.shape[0])
    counts[0] = 1
    weighted = _fit(name, counts.astype(float))
    repeated = FAMILIES[name].from_stats(
        FAMILIES[name].suff_stats(np.repeat(x, counts, axis=0), np.ones(counts.sum()))
    )
    np.testing.assert_allclose(_flat(weighted), _flat(repeated), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in FAMILIES if n != "point_mass"])
def test_m_step_is_the_maximum_likelihood(name):
    """Perturbing the M-step's parameters never raises the weighted log-likelihood."""
    x = DATA[name]
    w = RNG.random(x.shape[0])
    fitted = _fit(name, w)
    best = w @ fitted.log_prob(x)
    spec = fitted.to_dict()
    for _ in range(20):
        trial = dict(spec)
        for key, value in spec.items():
            if key in ("family", "fit_intercept", "n_categories") or value is None:
                continue
            arr = np.asarray(value, dtype=float)
            arr = arr * np.exp(0.01 * RNG.normal(size=arr.shape))
            if key == "probs":
                arr = np.clip(arr, 1e-9, 1 - 1e-9)
                if name == "categorical":
                    arr = arr / arr.sum(axis=1, keepdims=True)
            trial[key] = arr.tolist() if arr.ndim else float(arr)
        assert w @ family_from_dict(trial).log_prob(x) <= best + 1e-9 * abs(best)


def test_gamma_m_step_matches_scipy_fit():
    x = DATA["gamma"][:, :1]
    fitted = Gamma().from_stats(Gamma().suff_stats(x, np.ones(x.shape[0])))
    a, _, scale = stats.gamma.fit(x[:, 0], floc=0, method="MLE")
    np.testing.assert_allclose(fitted.shape[0], a, rtol=1e-5)
    np.testing.assert_allclose(fitted.rate[0], 1 / scale, rtol=1e-5)


@pytest.mark.parametrize("shape", [0.3, 2.0, 80.0, 3e3, 1e7])
@pytest.mark.parametrize("prior", [(1.0, 0.0), (3.0, 2.0)])
def test_gamma_shape_of_one_feature_is_the_vector_newton(shape, prior):
    # One feature takes the Newton steps on floats: the maximiser of the vector form (two
    # copies of the feature), which is the root of the profiled gradient (scipy's digamma).
    x = np.random.default_rng(3).gamma(shape, 1.0, 200)
    w, sx, slx = 200.0, x.sum(), np.log(x).sum()
    a, b = prior
    gap = Gamma().suff_stats(x[:, None], np.ones(200)).gap(b)
    one = gamma_shape_newton(w, gap, a)
    two = gamma_shape_newton(w, np.r_[gap, gap], a)
    np.testing.assert_allclose(one, two[:1], rtol=1e-14)
    rate = (w * one[0] + a - 1.0) / (sx + b)
    gradient = w * np.log(rate) - w * special.digamma(one[0]) + slx  # d/d shape, rate fixed
    assert abs(gradient) <= 1e-7 * w * max(1.0, np.log(one[0]))


def test_linear_gaussian_matches_weighted_least_squares():
    z = DATA["linear_gaussian"]
    w = RNG.random(z.shape[0])
    for fit_intercept in (True, False):
        f = LinearGaussian(fit_intercept)
        fitted = f.from_stats(f.suff_stats(z, w))
        design = np.column_stack([z[:, :2], np.ones(z.shape[0])]) if fit_intercept else z[:, :2]
        sw = np.sqrt(w)
        beta, *_ = np.linalg.lstsq(design * sw[:, None], z[:, 2] * sw, rcond=None)
        np.testing.assert_allclose(fitted.coef, beta[:2], rtol=1e-10)
        if fit_intercept:
            np.testing.assert_allclose(fitted.intercept, beta[2], rtol=1e-10)
        rss = w @ (z[:, 2] - design @ beta) ** 2
        np.testing.assert_allclose(fitted.variance, rss / w.sum(), rtol=1e-10)


def _direct_map(family, x, w, prior, unpack, start):
    """Maximise weighted log-likelihood + log prior numerically from ``start``."""

    def objective(theta):
        f = unpack(theta)
        return -(w @ f.log_prob(x) + f.log_prior(prior))

    res = optimize.minimize(
        objective,
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
    )
    return res.x


@pytest.mark.parametrize(
    "name, prior, unpack, start",
    [
        ("poisson", GammaPrior(3.0, 2.0), lambda t: Poisson(np.exp(t)), [0.5, 0.5]),
        ("exponential", GammaPrior(2.0, 1.0), lambda t: Exponential(np.exp(t)), [0.0]),
        ("bernoulli", BetaPrior(2.0, 5.0), lambda t: Bernoulli(1 / (1 + np.exp(-t))), [0, 0, 0]),
        ("gamma", GammaPrior(3.0, 4.0), lambda t: Gamma(np.exp(t[:2]), np.exp(t[2:])), [0] * 4),
        (
            "normal",
            NormalInverseGamma(1.0, 2.0, 3.0, 4.0),
            lambda t: Normal(t[:2], np.exp(t[2:])),
            [0, 0, 0, 0],
        ),
        (
            "linear_gaussian",
            InverseGammaPrior(2.0, 3.0),
            lambda t: LinearGaussian(True, t[:2], t[2], float(np.exp(t[3]))),
            [0, 0, 0, 0],
        ),
    ],
)
def test_map_step_matches_direct_maximisation(name, prior, unpack, start):
    x = DATA[name]
    w = RNG.random(x.shape[0])
    family = FAMILIES[name]
    fitted = family.from_stats(family.suff_stats(x, w), prior)
    theta = _direct_map(family, x, w, prior, unpack, np.asarray(start, dtype=float))
    direct = unpack(theta)
    obj = w @ fitted.log_prob(x) + fitted.log_prior(prior)
    obj_direct = w @ direct.log_prob(x) + direct.log_prior(prior)
    assert obj >= obj_direct - 1e-7
    np.testing.assert_allclose(_flat(fitted), _flat(direct), rtol=1e-4, atol=1e-5)


def test_categorical_map_with_dirichlet():
    x = DATA["categorical"]
    w = RNG.random(x.shape[0])
    f = Categorical(4)
    s = f.suff_stats(x, w)
    fitted = f.from_stats(s, DirichletPrior(3.0))
    expected = (s.counts + 2.0) / (s.counts.sum(axis=1, keepdims=True) + 8.0)
    np.testing.assert_allclose(fitted.probs, expected, rtol=1e-12)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_dict_round_trip(name):
    fitted = _fit(name)
    again = family_from_dict(fitted.to_dict())
    x = DATA[name]
    np.testing.assert_array_equal(again.log_prob(x), fitted.log_prob(x))


def test_prior_round_trip_and_validation():
    for prior in (
        GammaPrior(2.0, 1.0),
        BetaPrior(2.0, 3.0),
        NormalInverseGamma(1.0, 2.0, 3.0, 4.0),
    ):
        assert prior_from_dict(prior.to_dict()) == prior
    with pytest.raises(ValueError, match="must be finite and > 0"):
        GammaPrior(0.0, 1.0)
    with pytest.raises(ValueError, match="Negative values"):
        Poisson().check_support(np.array([[-1.0]]))
    with pytest.raises(ValueError, match="binary"):
        Bernoulli().check_support(np.array([[0.5]]))


def test_sampling_moments():
    rng = np.random.default_rng(1)
    draws = Gamma([2.0], [0.5]).sample(20000, rng)
    np.testing.assert_allclose(draws.mean(), 4.0, rtol=0.03)
    draws = Categorical(probs=[[0.2, 0.8]]).sample(20000, rng)
    np.testing.assert_allclose(draws.mean(), 0.8, atol=0.02)


@pytest.mark.parametrize(
    ("family", "param"),
    [
        (Normal(), "mean"),
        (Poisson(), "rate"),
        (Exponential(), "rate"),
        (Gamma(), "shape"),
        (Bernoulli(), "probs"),
        (Categorical(3), "probs"),
        (LinearGaussian(), "coef"),
    ],
)
def test_unfitted_family_says_which_parameter_is_missing(family, param):
    x = np.ones((4, 2))
    name = type(family).__name__
    with pytest.raises(ValueError, match=f"{name} has no fitted {param}: fit it or give"):
        family.log_prob(x)


@pytest.mark.parametrize(
    "family, inside", [(Exponential(), np.greater_equal), (Gamma(), np.greater)]
)
def test_supports_by_one_reduction_agree_with_the_elementwise_test(family, inside):
    # One and two features; rows at 0, below it, NaN: the rows in the support are those with
    # every value inside it, and check_support refuses data with any row outside.
    rng = np.random.default_rng(3)
    for d in (1, 2):
        x = rng.exponential(1.0, size=(50, d))
        assert family.in_support(x).all()
        family.check_support(x)
        family.check_support(x[:0])
        for bad in (0.0, -1e-300, np.nan):
            y = x.copy()
            y[7, d - 1] = bad
            expected = np.all(inside(y, 0.0), axis=1)
            np.testing.assert_array_equal(family.in_support(y), expected)
            if not expected.all():
                with pytest.raises(ValueError, match="Negative values|strictly positive"):
                    family.check_support(y)
            else:
                family.check_support(y)
        # The kernel's statistics: rows outside the support marked, the others unchanged.
        kernel = type(family).kernel([family.from_stats(family.suff_stats(x, np.ones(50)))])
        y = x.copy()
        y[3] = -1.0
        f = kernel.features(y)
        np.testing.assert_array_equal(f.inside, np.arange(50) != 3)
        statistics = x.T if isinstance(family, Exponential) else np.vstack([np.log(x).T, x.T])
        np.testing.assert_array_equal(kernel.features(x).values, statistics)
        assert kernel.features(x).inside is None


class _TopDraws:
    """A generator whose uniforms are the largest below 1 (numpy's 1 - 2**-53)."""

    def random(self, size):
        return np.full(size, np.nextafter(1.0, 0.0))


def test_categorical_counts_each_features_categories():
    # Features of 4 and 2 categories: probabilities stored (2, 4), 0 beyond each feature's
    # codes; 3 + 1 free parameters; code 2 in the second feature outside the support.
    probs = [[0.1, 0.2, 0.3, 0.4], [0.3, 0.7, 0.0, 0.0]]
    f = Categorical((4, 2), probs)
    assert f.n_categories == (4, 2)
    assert f.n_parameters(2) == 4
    assert Categorical(4).n_parameters(2) == 6
    x = np.array([[3.0, 1.0], [3.0, 2.0]])
    np.testing.assert_array_equal(f.in_support(x), [True, False])
    assert f.log_prob(x)[0] == pytest.approx(np.log(0.4 * 0.7)) and f.log_prob(x)[1] == -np.inf
    with pytest.raises(ValueError, match="feature 1 must be below its n_categories = 2"):
        f.check_support(x)
    with pytest.raises(ValueError, match="must be 0 at codes"):
        Categorical((4, 2), [[0.1, 0.2, 0.3, 0.4], [0.3, 0.6, 0.1, 0.0]])
    with pytest.raises(ValueError, match="one count per feature"):
        Categorical((4, 2, 3), probs)
    assert Categorical().for_data(np.r_[x[:1], [[0.0, 0.0]]]).n_categories == (4, 2)
    with pytest.raises(ValueError, match="feature 0 run from 3 to 3, with no 0"):
        Categorical().for_data(x[:1])  # codes 1..C, or a label: no C to read
    assert family_from_dict(f.to_dict()).n_categories == (4, 2)
    # The Dirichlet's pseudo-counts go to each feature's own codes only; the log prior of a
    # feature's missing codes is no -inf.
    s = f.suff_stats(x[:1], np.ones(1))
    fitted = f.from_stats(s, DirichletPrior(3.0))
    np.testing.assert_allclose(fitted.probs[1], [2 / 5, 3 / 5, 0.0, 0.0])
    assert np.isfinite(fitted.log_prior(DirichletPrior(3.0)))


def test_categorical_draws_stay_within_each_features_categories():
    # Probabilities whose sums round below 1 (rows must sum to 1 within 1e-6): the largest
    # uniform numpy draws used to pass every cumulative sum and land on the last code, one
    # the second feature does not take, or one of probability 0.
    probs = [[0.25, 0.5, 0.2499999, 0.0], [0.3, 0.6999999, 0.0, 0.0]]
    draws = Categorical((4, 2), probs).sample(10, _TopDraws())
    np.testing.assert_array_equal(draws, [[2.0, 1.0]] * 10)
    draws = Categorical((4, 2), [[0.1, 0.2, 0.3, 0.4], [0.3, 0.7, 0.0, 0.0]]).sample(
        20000, np.random.default_rng(0)
    )
    assert draws.min() >= 0 and (draws.max(axis=0) == [3, 1]).all()
    np.testing.assert_allclose(draws[:, 1].mean(), 0.7, atol=0.02)


def test_categorical_refuses_labels_that_are_not_codes():
    # One stray code of 1e9 made a billion categories (a MemoryError from the one-hot array);
    # codes far beyond the rows are labels to recode. Codes up to SPARSE_CODES stay as given.
    from emkit import MixtureModel
    from emkit.distributions.categorical import SPARSE_CODES

    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (100, 1)).astype(float)
    stray = x.copy()
    stray[0, 0] = 1e9
    with pytest.raises(ValueError, match="largest code is 1000000000 on 100 rows.*factorize"):
        MixtureModel([Categorical(), Categorical()]).fit(stray)
    sparse = x.copy()
    sparse[0, 0] = SPARSE_CODES - 1  # a rare category with a high code: still counted
    fit = MixtureModel([Categorical()]).fit(sparse)
    assert fit.components_[0].n_categories == (SPARSE_CODES,)
    np.testing.assert_allclose(
        fit.components_[0].probs[0, :3], np.bincount(sparse[1:, 0].astype(int)) / 100
    )
