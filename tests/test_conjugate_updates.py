"""The families' conjugate updates and asymptotic covariances that emkit.bayes and emkit.mle use,
and emkit's own k-means start (init_params="kmeans")."""

import numpy as np
import pytest

from emkit import KMeans
from emkit.distributions.bernoulli import Bernoulli
from emkit.distributions.categorical import Categorical
from emkit.distributions.centroids import Centroids
from emkit.distributions.exponential import Exponential
from emkit.distributions.family import Components
from emkit.distributions.normal import Normal
from emkit.distributions.poisson import Poisson
from emkit.distributions.priors import (
    BetaPrior,
    DirichletPrior,
    GammaPrior,
    NormalInverseGamma,
)
from emkit.init import initial_responsibilities, lloyd, nearest
from emkit.mle.estimate import hessian

RNG = np.random.default_rng(3)
W = RNG.uniform(0.2, 2.0, size=40)


def _gamma_mode(h):
    return (h["shape"] - 1) / h["rate"]


def _nig_mode(h):
    # The posterior always has shrinkage > 0: variance mode 2b / (2a + 3).
    return np.concatenate([h["mean"], 2 * h["scale"] / (2 * h["shape"] + 3)])


CASES = {
    "poisson": (
        Poisson(),
        RNG.poisson(3.0, size=(40, 2)).astype(float),
        GammaPrior(2.5, 0.7),
        _gamma_mode,
        lambda f: f.rate,
    ),
    "exponential": (
        Exponential(),
        RNG.exponential(2.0, size=(40, 2)),
        GammaPrior(3.0, 1.5),
        _gamma_mode,
        lambda f: f.rate,
    ),
    "bernoulli": (
        Bernoulli(),
        (RNG.random((40, 2)) < 0.3).astype(float),
        BetaPrior(2.0, 4.0),
        lambda h: (h["a"] - 1) / (h["a"] + h["b"] - 2),
        lambda f: f.probs,
    ),
    "categorical": (
        Categorical(4),
        RNG.integers(0, 4, size=(40, 2)).astype(float),
        DirichletPrior(np.array([1.5, 2.0, 1.0, 3.0])),
        lambda h: (h["concentration"] - 1) / (h["concentration"] - 1).sum(1, keepdims=True),
        lambda f: f.probs,
    ),
    "normal": (
        Normal(),
        RNG.normal(2.0, 3.0, size=(40, 2)),
        NormalInverseGamma(1.0, 0.5, 2.0, 3.0),
        _nig_mode,
        lambda f: np.concatenate([f.mean, f.variance]),
    ),
    "normal_flat_mean": (
        Normal(),
        RNG.normal(-1.0, 0.5, size=(40, 2)),
        NormalInverseGamma(0.0, 0.0, 1.5, 2.0),
        _nig_mode,
        lambda f: np.concatenate([f.mean, f.variance]),
    ),
}


def _hyper(prior):
    return {name: getattr(prior, name) for name in prior.__dataclass_fields__}


@pytest.mark.parametrize("name", CASES)
def test_mode_of_the_conjugate_update_is_the_map_step(name):
    family, x, prior, mode, params = CASES[name]
    stats = family.suff_stats(x, W)
    posterior = family.conjugate_update(stats, _hyper(prior))
    np.testing.assert_allclose(mode(posterior), params(family.from_stats(stats, prior)), rtol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_updating_chunk_by_chunk_equals_one_update(name):
    family, x, prior, _, _ = CASES[name]
    once = family.conjugate_update(family.suff_stats(x, W), _hyper(prior))
    first = family.conjugate_update(family.suff_stats(x[:15], W[:15]), _hyper(prior))
    twice = family.conjugate_update(family.suff_stats(x[15:], W[15:]), first)
    for key in once:
        np.testing.assert_allclose(twice[key], once[key], rtol=1e-12)


@pytest.mark.parametrize("name", ["poisson", "exponential", "bernoulli", "normal"])
def test_asymptotic_covariance_inverts_the_information_at_the_mle(name):
    family, x, _, _, params = CASES[name]
    fit = family.from_stats(family.suff_stats(x, np.ones(len(x))))
    theta = params(fit)
    d = x.shape[1]

    def loglik(t):
        if name == "normal":
            return Normal(t[:d], t[d:]).log_prob(x).sum()
        return type(family)(t).log_prob(x).sum()

    info = -hessian(loglik, theta, 1e-4 * np.maximum(np.abs(theta), 1e-2))
    np.testing.assert_allclose(
        info @ fit.asymptotic_covariance() / len(x), np.eye(theta.size), atol=1e-5
    )


def test_categorical_asymptotic_covariance_is_the_multinomial_one():
    fit = Categorical(probs=[[0.2, 0.3, 0.5], [0.6, 0.4, 0.0]])
    cov = fit.asymptotic_covariance()
    assert cov.shape == (6, 6)
    np.testing.assert_allclose(
        cov[:3, :3], np.diag([0.2, 0.3, 0.5]) - np.outer(*[[0.2, 0.3, 0.5]] * 2)
    )
    np.testing.assert_allclose(cov[:3, 3:], 0.0)
    np.testing.assert_allclose(cov.sum(axis=1), 0.0, atol=1e-15)


def _blobs():
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    labels = np.repeat(np.arange(3), 50)
    return centres[labels] + RNG.normal(size=(150, 2)), labels


def test_lloyd_ends_at_a_fixed_point():
    x, _ = _blobs()
    centres = lloyd(x, x[[0, 1, 2]], tol=0.0)
    labels = nearest(x, centres)
    means = np.array([x[labels == j].mean(axis=0) for j in range(3)])
    np.testing.assert_allclose(centres, means, rtol=1e-12)


def test_kmeans_start_finds_separated_clusters():
    x, truth = _blobs()
    resp = initial_responsibilities(x, 3, "kmeans", np.random.RandomState(0))
    labels = resp.argmax(axis=1)
    assert np.all(resp.sum(axis=1) == 1.0)
    pairs = {(int(a), int(b)) for a, b in zip(labels, truth, strict=True)}
    assert len(pairs) == 3  # one cluster per blob


def test_kmeans_start_counts_sample_weights_as_repeats():
    x, _ = _blobs()
    w = RNG.integers(1, 4, size=x.shape[0]).astype(float)
    weighted = initial_responsibilities(x, 3, "kmeans", np.random.RandomState(1), w)
    repeated = initial_responsibilities(
        np.repeat(x, w.astype(int), axis=0), 3, "kmeans", np.random.RandomState(1)
    )
    np.testing.assert_array_equal(np.repeat(weighted, w.astype(int), axis=0), repeated)


def test_kmeans_start_is_emkits_kmeans_with_scikit_learns_defaults():
    x, _ = _blobs()
    x = x + RNG.normal(scale=3.0, size=x.shape)  # overlapping: Lloyd takes several steps
    for seed in range(3):
        resp = initial_responsibilities(x, 4, "kmeans", np.random.RandomState(seed))
        fit = KMeans(4, tol=1e-4, random_state=np.random.RandomState(seed)).fit(x)
        np.testing.assert_array_equal(resp.argmax(axis=1), fit.labels_)


def test_centroids_are_components():
    centroids = Centroids(np.array([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]]))
    assert isinstance(centroids, Components)
    assert centroids.take(np.array([2, 0])).means.tolist() == [[-5.0, 5.0], [0.0, 0.0]]
    assert centroids.n_parameters(2) == 6
    rows = centroids.sample(np.array([4000, 0, 6000]), np.random.default_rng(0), 2)
    assert rows.shape == (10_000, 2)
    np.testing.assert_allclose(rows[:4000].mean(axis=0), [0.0, 0.0], atol=0.05)
    np.testing.assert_allclose(rows[4000:].mean(axis=0), [-5.0, 5.0], atol=0.05)
    np.testing.assert_allclose(np.cov(rows[4000:].T), np.eye(2), atol=0.05)
