"""Hostile inputs to emkit.mle, emkit.bayes and the mixtures: hyperparameters that are not one
number, complex data, overflowing squares, bools for counts, a column at 1e20 and weights that
sum to less than a row."""

import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.utils._param_validation import InvalidParameterError

import emkit
from emkit import bayes, mle

X01 = np.array([0, 1, 1, 0, 1.0])


@pytest.mark.parametrize(
    "call",
    [
        lambda: bayes.beta_bernoulli(X01, a=[1, 2]),
        lambda: bayes.gamma_poisson([1, 2, 3], shape=[1, 2]),
        lambda: bayes.normal_known_variance([1.0, 2, 3], sigma=[1, 2]),
        lambda: bayes.normal_inverse_gamma([1.0, 2, 3], kappa0=[1, 2]),
        lambda: bayes.ridge(np.eye(3), [1.0, 2, 3], alpha=[1, 2]),
    ],
)
def test_a_list_hyperparameter_is_refused_not_read_by_its_first_entry(call):
    with pytest.raises(ValueError, match="must be one number"):
        call()


def test_a_text_hyperparameter_is_refused_and_a_number_gives_the_closed_form():
    with pytest.raises(ValueError, match="a must be a number, not text"):
        bayes.beta_bernoulli(X01, a="1")
    with pytest.raises(ValueError, match="not a bool"):
        bayes.beta_bernoulli(X01, a=True)
    post = bayes.beta_bernoulli(X01, a=np.int64(1), b=2.0)  # Beta(1 + 3, 2 + 2)
    assert post.mean == pytest.approx(stats.beta(4, 4).mean(), rel=1e-14)


@pytest.mark.parametrize(
    "call",
    [
        lambda z: mle.normal(z),
        lambda z: mle.exponential(z),
        lambda z: mle.poisson(z),
        lambda z: mle.gamma(z),
        lambda z: mle.categorical(z),
        lambda z: mle.binomial(z, n=5),
        lambda z: mle.multivariate_normal(np.c_[z, 2 * z]),
        lambda z: mle.linear_regression(np.c_[np.arange(3.0), [1.0, 0, 2]], z),
        lambda z: bayes.beta_bernoulli(z),
        lambda z: bayes.normal_inverse_gamma(z),
        lambda z: bayes.ridge(np.c_[np.arange(3.0), [1.0, 0, 2]], z, alpha=1.0),
    ],
)
def test_complex_data_is_refused_as_the_estimators_do(call):
    z = np.array([1 + 5j, 0 + 0j, 3 - 7j])
    with pytest.raises(ValueError, match="Complex data not supported.*real part or the modulus"):
        call(z)
    with pytest.raises(ValueError, match="Complex data not supported"):
        emkit.GaussianMixture(1).fit(z.reshape(-1, 1))


def test_complex_list_is_refused_and_real_data_gives_the_closed_form():
    with pytest.raises(ValueError, match="Complex data not supported"):
        mle.normal([1 + 1j, 2, 3])
    x = np.array([1.0, 2.0, 4.0])
    assert mle.normal(x).params["variance"] == pytest.approx(np.var(x), rel=1e-14)


def test_multivariate_normal_refuses_x_without_columns():
    with pytest.raises(ValueError, match="X needs at least 1 column"):
        mle.multivariate_normal(np.ones((10, 0)))


def test_normal_inverse_gamma_says_values_overflow_when_squared():
    x = np.array([1.0, 2.5, 3.1, 0.4, 2.2])
    with pytest.raises(ValueError, match="overflow float64 when squared.*rescale"):
        bayes.normal_inverse_gamma(x * 1e200)
    with pytest.raises(ValueError, match="overflow float64 when squared.*rescale"):
        bayes.normal_inverse_wishart(np.c_[x, x**2] * 1e200)
    # the same data rescaled: the reference prior's t interval, the classical one
    low, high = bayes.normal_inverse_gamma(x)["mean"].interval(0.95)
    half = stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    assert (low, high) == pytest.approx((x.mean() - half, x.mean() + half), rel=1e-12)


def test_bools_are_refused_as_counts():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, (20, 2)), rng.normal(5, 1, (20, 2))]
    with pytest.raises(InvalidParameterError, match="must be a number, not the bool True"):
        emkit.BayesianMixture(components=True, chains=1, draws=5, tune=2).fit(X)
    with pytest.raises(ValueError, match="n_categories must be a positive integer"):
        bayes.dirichlet_categorical([0, 0, 0], n_categories=True)
    post = bayes.dirichlet_categorical([0, 0, 0], n_categories=1)
    assert post.mean.tolist() == [1.0]


def test_normal_mixture_on_a_column_at_1e20_fits_without_a_negative_variance():
    X = np.c_[np.full(100, 1e20), np.arange(100.0)]
    with warnings.catch_warnings():  # the constant column collapses the components
        warnings.simplefilter("ignore")
        fit = emkit.MixtureModel([emkit.Normal(), emkit.Normal()], random_state=0).fit(X)
    for c in fit.components_:
        assert c.mean[0] == pytest.approx(1e20, rel=1e-15)
        assert c.variance[0] >= 0
    # the statistics of any weighting of a constant column: no scatter, never below 0
    w = np.random.default_rng(0).uniform(size=100)
    assert emkit.Normal().suff_stats(X, w).scatter[0] >= 0


def test_scaled_weights_summing_to_one_row_fit_the_same():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, (50, 2)), rng.normal(5, 1, (50, 2))]
    for make in (
        lambda: emkit.GaussianMixture(2, random_state=0),
        lambda: emkit.MixtureModel([emkit.Normal(), emkit.Normal()], random_state=0),
    ):
        plain = make().fit(X)
        # normalised weights, summing to one row: the unweighted fit's means
        scaled = make().fit(X, sample_weight=np.full(100, 0.01))
        assert np.sort(scaled.predict(X[:3])).tolist() == np.sort(plain.predict(X[:3])).tolist()
        assert scaled.score(X) == pytest.approx(plain.score(X), rel=1e-6)


def test_kmeans_weights_keep_their_scale_free_meaning_as_scikit_learns():
    # k-means has no ridge or prior to weigh the weights against: weights of 1e-10 a row give
    # scikit-learn's fit (the frequency rule of the mixtures does not apply), fit and score.
    from sklearn.cluster import KMeans as SkKMeans

    from emkit import KMeans

    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(5, 1, (60, 2))])
    w = np.full(len(x), 1e-10)
    start = x[[0, 60]]
    ours = KMeans(2, init=start, n_init=1).fit(x, sample_weight=w)
    theirs = SkKMeans(2, init=start, n_init=1).fit(x, sample_weight=w)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, atol=1e-12)
    np.testing.assert_allclose(ours.inertia_, theirs.inertia_, rtol=1e-10)
    np.testing.assert_allclose(
        ours.score(x, sample_weight=w), theirs.score(x, sample_weight=w), rtol=1e-10
    )


def test_tiny_weights_reach_the_ridges_variance_not_a_division_by_zero():
    # The ridge's prior (shape -1, scale c/2) adds 2a + 2 = 0 observations: a component's
    # weight of 1e-300 added to -2 before the +2 was lost, and the variance was c / 0 (a
    # MixtureModel on weights of 1e-10 a row failed with divide-by-zero and "collapsed"). The
    # mode is (2b + S) / W, as for any weight, and the fit now warns as GaussianMixture's.
    prior = emkit.NormalInverseGamma(shape=-1.0, scale=0.5e-6)
    for weight in (1e-300, 1e-10, 1.0):
        mean, variance = prior.mode(weight, np.array([2.0]), np.array([3.0 * weight]))
        assert mean == pytest.approx([2.0], rel=1e-15)
        assert variance == pytest.approx([(1e-6 + 3.0 * weight) / weight], rel=1e-12)
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, (50, 2)), rng.normal(5, 1, (50, 2))]
    for make in (
        lambda: emkit.GaussianMixture(2, random_state=0),
        lambda: emkit.MixtureModel([emkit.Normal(), emkit.Normal()], random_state=0),
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.simplefilter("error", RuntimeWarning)
            warnings.simplefilter("always", emkit.ScaleWarning)
            warnings.simplefilter("always", emkit.DegenerateFitWarning)
            make().fit(X, sample_weight=np.full(100, 1e-100))
        assert any(issubclass(w.category, emkit.ScaleWarning) for w in caught)


def test_kmeans_init_with_nan_and_bootstrap_n_jobs_zero_say_what_is_wrong():
    x = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(ValueError, match=r"finite array of shape \(2, 2\); got NaN or inf"):
        emkit.KMeans(2, init=np.array([[0.0, np.nan], [1.0, 1.0]]), n_init=1).fit(x)
    with pytest.raises(ValueError, match=r"finite array of shape \(2, 2\); got shape \(3, 2\)"):
        emkit.KMeans(2, init=np.zeros((3, 2)), n_init=1).fit(x)
    # joblib's own "n_jobs == 0 in Parallel has no meaning" came from inside the replicates
    for n_jobs in (0, 1.5, True):
        with pytest.raises(ValueError, match="n_jobs must be None"):
            emkit.bootstrap(emkit.GaussianMixture(1), x, n_boot=3, n_jobs=n_jobs)
