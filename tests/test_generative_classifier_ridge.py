"""GenerativeClassifier's ridge: GaussianMixture's M-step and GaussianMixture's ScaleWarning."""

import warnings

import numpy as np
import pytest
from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
from sklearn.naive_bayes import GaussianNB

from emkit import GaussianMixture, GenerativeClassifier, ScaleWarning
from emkit.distributions.gaussian import COVARIANCES

RNG = np.random.default_rng(1)
X = np.vstack([RNG.normal(0, 1, (60, 3)), RNG.normal(1, 1.3, (70, 3))])
Y = np.repeat([0, 1], [60, 70])
W = RNG.uniform(0.5, 2.0, Y.size)  # frequency weights of no particular total


def _scale_warnings(fit) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit()
    return [str(w.message) for w in caught if issubclass(w.category, ScaleWarning)]


def test_a_ridge_that_outweighs_micro_scaled_data_warns_as_gaussian_mixture_does():
    # The QA case: data at 1e-4 (variances 1e-8), the default reg_covar=1e-6 is 100 times
    # each variance; GaussianMixture warned, the classifier changed its fit silently.
    micro = X * 1e-4
    assert _scale_warnings(lambda: GaussianMixture(2, random_state=0).fit(micro))
    ridged = GenerativeClassifier()
    (message,) = _scale_warnings(lambda: ridged.fit(micro, Y))
    assert message.startswith("reg_covar=1e-06 is") and "times the data's total scatter" in message
    exact = GenerativeClassifier(reg_covar=0.0)
    assert not _scale_warnings(lambda: exact.fit(micro, Y))
    # what the warning is about: the ridge more than doubles every class variance
    ratio = np.diagonal(ridged.covariances_, 0, 1, 2) / np.diagonal(exact.covariances_, 0, 1, 2)
    assert ratio.min() > 1.5
    semi = Y.copy()
    semi[::3] = -1
    assert _scale_warnings(lambda: GenerativeClassifier().fit(micro, semi))
    assert _scale_warnings(lambda: GenerativeClassifier("VEV").fit(micro, Y))
    assert not _scale_warnings(lambda: GenerativeClassifier().fit(X, Y))  # unit scale: quiet


def test_weights_totalling_far_below_the_rows_warn():
    # Frequency weights of 1e-9 make 130 rows count as 1.3e-7 of a row: the ridge's prior
    # outweighs them, as it does in GaussianMixture, and the warning says so.
    tiny = np.full(Y.size, 1e-9)
    (message,) = _scale_warnings(lambda: GenerativeClassifier().fit(X, Y, sample_weight=tiny))
    assert "over a weight of 1.3e-07" in message and "scale sample_weight up" in message
    assert not _scale_warnings(lambda: GenerativeClassifier().fit(X, Y, sample_weight=W))


@pytest.mark.parametrize("covariance_type", sorted(COVARIANCES))
@pytest.mark.parametrize("s", [1e-9, 1e-3, 1e3])
def test_without_ridge_the_weights_overall_scale_leaves_the_fit(covariance_type, s):
    # Maximum likelihood (reg_covar=0) is invariant to multiplying every weight by s, as
    # QDA and GaussianNB are; with a ridge it is not (see the test below).
    plain = GenerativeClassifier(covariance_type, reg_covar=0.0).fit(X, Y, sample_weight=W)
    scaled = GenerativeClassifier(covariance_type, reg_covar=0.0).fit(X, Y, sample_weight=W * s)
    np.testing.assert_allclose(scaled.priors_, plain.priors_, rtol=1e-12)
    np.testing.assert_allclose(scaled.means_, plain.means_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(scaled.covariances_, plain.covariances_, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(scaled.predict_proba(X), plain.predict_proba(X), atol=1e-10)


def test_reg_covar_zero_with_uniform_weights_is_qda_and_gaussian_nb():
    s = np.full(Y.size, 1e-9)
    qda = QuadraticDiscriminantAnalysis().fit(X, Y)
    full = GenerativeClassifier(reg_covar=0.0).fit(X, Y, sample_weight=s)
    np.testing.assert_allclose(full.predict_proba(X), qda.predict_proba(X), atol=1e-10)
    nb = GaussianNB(var_smoothing=0.0).fit(X, Y, sample_weight=s)
    diag = GenerativeClassifier("diag", reg_covar=0.0).fit(X, Y, sample_weight=s)
    np.testing.assert_allclose(diag.covariances_, nb.var_, rtol=1e-10)


def _weighted_scatter(w):
    """N_k (k,), weighted means (k, d) and scatters S_k (k, d, d) of the classes."""
    n = np.array([w[Y == k].sum() for k in (0, 1)])
    means = np.array([np.average(X[Y == k], axis=0, weights=w[Y == k]) for k in (0, 1)])
    scatter = np.array([np.cov(X[Y == k].T, aweights=w[Y == k], bias=True) * n[k] for k in (0, 1)])
    return n, means, scatter


@pytest.mark.parametrize("s", [1e-6, 1.0, 1e3])
def test_the_ridge_is_gaussian_mixtures_map_computed_by_hand(s):
    # reg_covar enters as GaussianMixture's does, (S_k + cI) / N_k with S_k and N_k the
    # weighted scatter and weight (a shared covariance: (sum_k S_k + cI) / N); scikit-learn's
    # S_k / N_k + cI it is not, and the weights' total sets how much the ridge weighs.
    c = 0.05
    w = W * s
    n, means, scatter = _weighted_scatter(w)
    eye = np.eye(X.shape[1])
    full = (scatter + c * eye) / n[:, None, None]
    expected = {
        "full": full,
        "tied": (scatter.sum(axis=0) + c * eye) / n.sum(),
        "diag": np.diagonal(full, 0, 1, 2),
        "spherical": np.diagonal(full, 0, 1, 2).mean(axis=1),
    }
    for covariance_type, covariances in expected.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScaleWarning)  # s=1e-6: the ridge outweighs
            fit = GenerativeClassifier(covariance_type, reg_covar=c).fit(X, Y, sample_weight=w)
        np.testing.assert_allclose(fit.means_, means, rtol=1e-12)
        np.testing.assert_allclose(fit.covariances_, covariances, rtol=1e-10)
    sklearn_convention = np.cov(X[Y == 0].T, aweights=w[Y == 0], bias=True) + c * eye
    assert not np.allclose(full[0], sklearn_convention, rtol=1e-6)


def test_a_singular_class_at_reg_covar_0_is_named_with_the_ridge_raised_for_it():
    # The warning said "singular but for reg_covar" where reg_covar was 0: the ridge is the
    # one the M-step raised from 1e-12 of the largest covariance entry (see reg_covar).
    from emkit import DegenerateFitWarning

    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(size=60), np.r_[np.ones(30), rng.normal(size=30)]]
    y = np.repeat([0, 1], 30)
    with pytest.warns(DegenerateFitWarning, match=r"classes \[0\] .* raised from reg_covar=0"):
        fitted = GenerativeClassifier(reg_covar=0).fit(x, y)
    variance = fitted.covariances_[0, 1, 1]
    assert 0 < variance < 1e-12 * np.abs(fitted.covariances_[0]).max()
    with pytest.warns(DegenerateFitWarning, match=r"rest on the ridge\. "):
        GenerativeClassifier(reg_covar=1e-9).fit(np.c_[x[:, :1], np.ones(60)], y)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical", "VEV"])
def test_classes_each_on_one_point_at_reg_covar_0_classify_by_the_nearest_point(covariance_type):
    # QA: where every class's rows coincide (one row per class, or copies of one prototype)
    # every covariance entry is 0, and the ridge rose from float64's smallest number, 2.2e-308:
    # any row off those points had log-density -inf in every class, so predict_proba gave NaN
    # and predict class 0; a semi-supervised fit on such rows failed with a LinAlgError
    # blaming non-finite values. The ridge now rises from 1e-12 of the data's largest
    # variance: with the classes' equal covariances that is the nearest-centroid rule.
    from sklearn.neighbors import NearestCentroid

    from emkit import DegenerateFitWarning

    rng = np.random.default_rng(3)
    points = rng.normal(size=(4, 3))
    x, y = np.repeat(points, 2, axis=0), np.repeat(np.arange(4), 2)
    new = rng.normal(0, 2, (200, 3))
    with pytest.warns(DegenerateFitWarning):
        fitted = GenerativeClassifier(covariance_type, reg_covar=0).fit(x, y)
    proba = fitted.predict_proba(new)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    nearest = NearestCentroid().fit(x, y).predict(new)
    np.testing.assert_array_equal(fitted.predict(new), nearest)
    np.testing.assert_array_equal(proba.argmax(axis=1), nearest)
    # the covariances are the ridge over each class's weight (all 8 rows' for "tied")
    scale = np.var(x, axis=0).max()
    assert 1e-12 * scale / 8 <= np.asarray(fitted.covariances_).max() < 1e-9 * scale
    # one labelled row per class and an unlabelled one, 4 rows in 3 dimensions
    semi = np.array([0, 1, 2, -1])
    with pytest.warns(DegenerateFitWarning):
        fitted = GenerativeClassifier(covariance_type, reg_covar=0, unlabelled=-1).fit(points, semi)
    assert np.isfinite(fitted.log_likelihood_)
    assert np.isfinite(fitted.predict_proba(new)).all()


def test_a_mixture_of_as_many_components_as_distinct_rows_at_reg_covar_0_has_finite_posteriors():
    rng = np.random.default_rng(4)
    points = rng.normal(size=(3, 2))
    new = rng.normal(0, 2, (50, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = GaussianMixture(3, reg_covar=0, random_state=0).fit(points)
    proba = fitted.predict_proba(new)
    assert np.isfinite(proba).all() and np.isfinite(fitted.score_samples(new)).all()
    centres = fitted.means_
    nearest = ((new[:, None, :] - centres[None]) ** 2).sum(axis=-1).argmin(axis=1)
    np.testing.assert_array_equal(fitted.predict(new), nearest)
