"""What the observed values of a missing-data fit leave undetermined, said the same way by
every estimator with ``missing="em"``; and criteria of fits with frequency weights."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

import emkit
from emkit import GaussianImputer, GaussianMixture, GenerativeClassifier
from emkit.estimators import _validation, gaussian_mixture, generative_classifier

COVARIANCE = np.array([[1.0, 0.5, 0.5], [0.5, 1.0, 0.5], [0.5, 0.5, 1.0]])


def _never_together(seed=0, n=200):
    """Rows of a 3-D normal; column 1 missing in the first half, column 2 in the second."""
    x = np.random.default_rng(seed).multivariate_normal(np.zeros(3), COVARIANCE, n)
    x[: n // 2, 1] = np.nan
    x[n // 2 :, 2] = np.nan
    return x


def _messages(fit) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit()
    return [str(w.message) for w in caught if issubclass(w.category, emkit.DegenerateFitWarning)]


def _observed_loglik(x, mean, cov, w=None):
    """sum_n w_n log N(x_n,o | mu_o, Sigma_oo) by scipy, row by row."""
    total = 0.0
    for n, row in enumerate(x):
        o = ~np.isnan(row)
        density = multivariate_normal(mean[o], cov[np.ix_(o, o)]).logpdf(row[o])
        total += density * (1.0 if w is None else w[n])
    return total


@pytest.mark.parametrize(
    "fit",
    [
        lambda x, y: GaussianImputer().fit(x),
        lambda x, y: GaussianMixture(1, missing="em").fit(x),
        lambda x, y: GaussianMixture(2, covariance_type="tied", missing="em").fit(x),
        lambda x, y: GenerativeClassifier(missing="em").fit(x, y),
    ],
    ids=["imputer", "mixture", "mixture-tied", "classifier"],
)
def test_every_missing_em_fit_warns_of_columns_never_observed_together(fit):
    x = _never_together()
    y = np.tile([0, 1], 100)
    found = _messages(lambda: fit(x, y))
    assert sum("columns (1, 2) are never observed in the same row," in m for m in found) == 1
    # the same data with ten rows observing both columns: no such warning
    x[:10, 1] = np.random.default_rng(1).normal(size=10)
    assert not [m for m in _messages(lambda: fit(x, y)) if "never observed" in m]


def test_the_covariance_of_such_columns_does_not_move_the_likelihood():
    # What the warning says, checked with scipy: Sigma_12 of GaussianMixture(1) is not the
    # data's; moving it leaves the observed-data log-likelihood where it is.
    x = _never_together()
    with pytest.warns(emkit.DegenerateFitWarning, match=r"\(1, 2\) are never observed"):
        fitted = GaussianMixture(1, missing="em", tol=1e-10).fit(x)
    mean, cov = fitted.means_[0], fitted.covariances_[0]
    moved = cov.copy()
    moved[1, 2] = moved[2, 1] = cov[1, 2] + 0.3 * np.sqrt(cov[1, 1] * cov[2, 2])
    assert np.all(np.linalg.eigvalsh(moved) > 0)
    np.testing.assert_allclose(
        _observed_loglik(x, mean, moved), _observed_loglik(x, mean, cov), rtol=1e-12
    )
    np.testing.assert_allclose(_observed_loglik(x, mean, cov), fitted.log_likelihood_, rtol=1e-9)


def test_diagonal_covariances_have_no_such_covariance_to_warn_of():
    x = _never_together()
    for covariance_type in ("diag", "spherical", "VVI"):
        fit = GaussianMixture(1, covariance_type=covariance_type, missing="em")
        assert not [m for m in _messages(lambda f=fit: f.fit(x)) if "never observed" in m]


def test_rows_of_weight_zero_do_not_observe():
    # Ten rows observe columns 1 and 2 together, but with weight 0: they count for nothing.
    x = _never_together()
    x[:10, 1] = np.random.default_rng(1).normal(size=10)
    w = np.r_[np.zeros(10), np.ones(190)]
    y = np.tile([0, 1], 100)
    fits = [
        lambda: GaussianImputer().fit(x, sample_weight=w),
        lambda: GaussianMixture(1, missing="em").fit(x, sample_weight=w),
        lambda: GenerativeClassifier(missing="em").fit(x, y, sample_weight=w),
    ]
    for fit in fits:
        assert any("(1, 2) are never observed" in m for m in _messages(fit))


def test_a_class_whose_rows_never_observe_two_columns_together_is_named():
    # Class "b" never sees columns 1 and 2 in one row; class "a" (labelled rows) does, so
    # the whole data are no excuse: b's own covariance of the pair is EM's, not the data's.
    rng = np.random.default_rng(2)
    x = rng.multivariate_normal(np.zeros(3), COVARIANCE, 300)
    y = np.repeat(np.array(["a", "b"], dtype=object), 150)
    x[150:225, 1] = np.nan
    x[225:, 2] = np.nan
    found = _messages(lambda: GenerativeClassifier(missing="em").fit(x, y))
    pairs = [m for m in found if "never observed" in m]
    assert len(pairs) == 1
    assert "(1, 2) are never observed in the same row in the rows of class 'b'" in pairs[0]
    # a tied covariance is shared: class a's rows identify it
    tied = _messages(lambda: GenerativeClassifier("tied", missing="em").fit(x, y))
    assert not [m for m in tied if "never observed" in m]
    # unlabelled rows that observe both count for every class
    y_semi = y.copy()
    y_semi[[0, 1, 2]] = -1
    x[[0, 1, 2]] = rng.normal(size=(3, 3))
    x_semi = np.vstack([x, rng.normal(size=(5, 3))])
    y_semi = np.r_[y_semi, np.full(5, -1, dtype=object)].astype(object)
    semi = _messages(lambda: GenerativeClassifier(missing="em").fit(x_semi, y_semi))
    assert not [m for m in semi if "never observed" in m]


def test_a_class_that_never_observes_a_column_is_named():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(60, 2))
    y = np.repeat([0, 1], 30)
    x[30:, 1] = np.nan  # class 1 never observes column 1: its mean there is EM's start
    found = _messages(lambda: GenerativeClassifier(missing="em").fit(x, y))
    assert any("columns [1] have no observed value in the rows of class 1" in m for m in found)


def test_a_column_observed_only_in_rows_of_weight_zero_is_refused(tmp_path):
    # It got "1 of 1 components are singular" from GaussianMixture (an error without weights).
    x = np.random.default_rng(5).normal(size=(30, 2))
    x[:20, 1] = np.nan
    w = np.r_[np.ones(20), np.zeros(10)]
    y = np.tile([0, 1], 15)
    np.save(tmp_path / "x.npy", x)  # read chunk by chunk
    fits = [
        lambda: GaussianImputer().fit(x, sample_weight=w),
        lambda: GaussianMixture(1, missing="em").fit(x, sample_weight=w),
        lambda: GaussianMixture(1, missing="em").fit(tmp_path / "x.npy", sample_weight=w),
        lambda: GenerativeClassifier(missing="em").fit(x, y, sample_weight=w),
    ]
    for fit in fits:
        with pytest.raises(ValueError, match=r"columns \[1\] have no observed value in a row of"):
            fit()
    # the same rows with weight 1 are a fit
    GaussianMixture(1, missing="em").fit(x, sample_weight=np.ones(30))


def test_criteria_with_frequency_weights_are_those_of_the_repeated_rows():
    rng = np.random.default_rng(6)
    x = np.vstack([rng.normal(0, 1, (30, 2)), rng.normal(4, 1, (30, 2))])
    w = rng.integers(0, 4, size=60).astype(float)
    repeated = np.repeat(x, w.astype(int), axis=0)
    options = {"n_components": 2, "random_state": 0, "tol": 1e-12}
    weighted = GaussianMixture(**options).fit(x, sample_weight=w)
    plain = GaussianMixture(**options).fit(repeated)
    np.testing.assert_allclose(weighted.means_, plain.means_, rtol=1e-8)
    # against the fitted parameters themselves: -2 sum w log p + p log sum w, by scipy
    log_p = np.log(
        sum(
            weighted.weights_[k]
            * multivariate_normal(weighted.means_[k], weighted.covariances_[k]).pdf(x)
            for k in range(2)
        )
    )
    p = weighted.n_parameters()
    expected = -2 * (w @ log_p) + p * np.log(w.sum())
    assert weighted.bic(x, sample_weight=w) == pytest.approx(expected, rel=1e-12)
    assert weighted.bic(x, sample_weight=w) == pytest.approx(plain.bic(repeated), rel=1e-9)
    assert weighted.aic(x, sample_weight=w) == pytest.approx(plain.aic(repeated), rel=1e-9)
    assert weighted.score(x, sample_weight=w) == pytest.approx(plain.score(repeated), rel=1e-9)
    assert weighted.bic(x) != pytest.approx(plain.bic(repeated), rel=1e-3)
    # missing values: the same, with the observed-data densities
    holes = x.copy()
    holes[::7, 1] = np.nan
    options["missing"] = "em"
    weighted = GaussianMixture(**options).fit(holes, sample_weight=w)
    plain = GaussianMixture(**options).fit(np.repeat(holes, w.astype(int), axis=0))
    repeated = np.repeat(holes, w.astype(int), axis=0)
    assert weighted.bic(holes, sample_weight=w) == pytest.approx(plain.bic(repeated), rel=1e-9)


def test_classifier_criteria_with_frequency_weights_are_those_of_the_repeated_rows():
    rng = np.random.default_rng(7)
    x = np.vstack([rng.normal(0, 1, (30, 2)), rng.normal(3, 1, (30, 2))])
    y = np.repeat([0, 1], 30)
    y[::4] = -1  # some unlabelled: EM
    w = rng.integers(1, 4, size=60).astype(float)
    counts = w.astype(int)
    weighted = GenerativeClassifier(tol=1e-12).fit(x, y, sample_weight=w)
    plain = GenerativeClassifier(tol=1e-12).fit(np.repeat(x, counts, 0), np.repeat(y, counts))
    for given in (y, None):
        repeated = None if given is None else np.repeat(given, counts)
        assert weighted.bic(x, given, sample_weight=w) == pytest.approx(
            plain.bic(np.repeat(x, counts, 0), repeated), rel=1e-9
        )
        assert weighted.aic(x, given, sample_weight=w) == pytest.approx(
            plain.aic(np.repeat(x, counts, 0), repeated), rel=1e-9
        )
    # on its training rows: -2 log_likelihood_ + p log sum w
    expected = -2 * weighted.log_likelihood_ + weighted.n_parameters() * np.log(w.sum())
    assert weighted.bic(x, y, sample_weight=w) == pytest.approx(expected, rel=1e-10)


def test_observed_counts_are_the_weights_of_the_rows_that_observe():
    # Against a count row by row: the columns are the diagonal of the pairs.
    rng = np.random.default_rng(8)
    x = rng.normal(size=(40, 4))
    x[rng.random(x.shape) < 0.3] = np.nan
    w = rng.integers(0, 3, size=40).astype(float)
    seen = ~np.isnan(x)
    pairs = sum(w[n] * np.outer(seen[n], seen[n]) for n in range(40))
    np.testing.assert_array_equal(_validation.observed_together(x, w), pairs)
    np.testing.assert_array_equal(_validation.observed_columns(x, w), np.diag(pairs))
    np.testing.assert_array_equal(_validation.observed_columns(x, None), seen.sum(axis=0))


def _spied(monkeypatch, module, name) -> list:
    """Calls of ``module.name`` from then on (it still computes)."""
    calls: list = []
    original = getattr(module, name)

    def spy(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "VVI", "EII"])
def test_a_diagonal_mixture_counts_columns_not_pairs(monkeypatch, covariance_type):
    pairs = _spied(monkeypatch, gaussian_mixture, "observed_together")
    x = _never_together()
    fitted = GaussianMixture(1, covariance_type=covariance_type, missing="em").fit(x)
    assert pairs == []
    # the observed-data MLE of a diagonal normal: each column's mean of its observed values
    mean = np.nanmean(x, axis=0)
    np.testing.assert_allclose(fitted.means_[0], mean, rtol=1e-6)
    # and an unseen column is still refused
    x[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"columns \[1\] have no observed value in a row of"):
        GaussianMixture(1, covariance_type=covariance_type, missing="em").fit(x)
    assert pairs == []


def test_a_selection_counts_what_is_observed_once(monkeypatch):
    x = _never_together()
    calls = {
        name: _spied(monkeypatch, gaussian_mixture, name)
        for name in ("observed_together", "observed_columns")
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        GaussianMixture(1, missing="em").fit(x)
        once = len(calls["observed_together"])  # the passes of one fit (one per chunk)
        calls["observed_together"].clear()
        emkit.select_mixture(
            x, n_components=[1, 2, 3], covariance_types=["VVI", "VVV", "EII"], missing="em"
        )
    # columns for VVI before any pairs, then the pairs once, for the screening and refinement
    assert len(calls["observed_together"]) == once
    assert len(calls["observed_columns"]) == once
    # the fits of a selection warn as one fit does
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        emkit.select_mixture(x, n_components=[1, 2], covariance_types=["VVV"], missing="em")
    assert any("(1, 2) are never observed" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    "covariance_type, pairs, by_class",
    [("diag", 0, 0), ("spherical", 0, 0), ("tied", 1, 0), ("full", 0, 1)],
)
def test_a_classifier_counts_pairs_only_where_its_covariances_need_them(
    monkeypatch, covariance_type, pairs, by_class
):
    calls = {
        name: _spied(monkeypatch, generative_classifier, name)
        for name in ("_pairs", "_class_pairs")
    }
    x = _never_together()
    y = np.tile([0, 1, -1, 1], 50)
    _messages(lambda: GenerativeClassifier(covariance_type, missing="em").fit(x, y))
    assert (len(calls["_pairs"]) > 0, len(calls["_class_pairs"]) > 0) == (pairs, by_class)


def test_unseen_columns_are_named_in_the_error_as_in_the_warning():
    x = pd.DataFrame(np.random.default_rng(9).normal(size=(30, 3)), columns=["a", "b", "c"])
    x.loc[:, "b"] = np.nan
    for fit in (
        lambda: GaussianMixture(1, missing="em").fit(x),
        lambda: GaussianMixture(1, covariance_type="diag", missing="em").fit(x),
        lambda: GenerativeClassifier(missing="em").fit(x, np.tile([0, 1], 15)),
    ):
        with pytest.raises(ValueError, match=r"columns \['b'\] have no observed value in a row"):
            fit()
    y = np.repeat([0, 1], 15)
    x = pd.DataFrame(np.random.default_rng(9).normal(size=(30, 3)), columns=["a", "b", "c"])
    x.loc[15:, "c"] = np.nan
    found = _messages(lambda: GenerativeClassifier("diag", missing="em").fit(x, y))
    assert any("columns ['c'] have no observed value in the rows of class 1" in m for m in found)
