"""GenerativeClassifier against QDA, LDA, GaussianNB, scipy.stats and its own contracts."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import logsumexp, softmax
from sklearn.datasets import load_iris
from sklearn.discriminant_analysis import (
    LinearDiscriminantAnalysis,
    QuadraticDiscriminantAnalysis,
)
from sklearn.naive_bayes import GaussianNB
from sklearn.utils.estimator_checks import parametrize_with_checks

import emkit
from emkit import GaussianImputer, GenerativeClassifier
from emkit.backend.sources import ArrayChunks
from emkit.exceptions import DegenerateFitWarning

TYPES = ["full", "tied", "diag", "spherical"]
X_IRIS, Y_IRIS = load_iris(return_X_y=True)


def _expected_failures(estimator):
    # scikit-learn exempts its own semi-supervised classifiers from this check by name; with
    # unlabelled=None every label is a class and the check holds.
    if estimator.unlabelled is None:
        return {}
    return {
        "check_classifiers_classes": (
            "y == -1 marks an unlabelled row (scikit-learn's semi-supervised convention), "
            "so labels {-1, 1} are one class plus unlabelled rows, which fit refuses"
        )
    }


@parametrize_with_checks(
    [GenerativeClassifier(t) for t in TYPES]
    + [GenerativeClassifier(missing="em"), GenerativeClassifier(unlabelled=None)],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_every_row_labelled_is_qda_on_iris():
    qda = QuadraticDiscriminantAnalysis().fit(X_IRIS, Y_IRIS)
    exact = GenerativeClassifier("full", reg_covar=0.0).fit(X_IRIS, Y_IRIS)
    np.testing.assert_array_equal(exact.predict(X_IRIS), qda.predict(X_IRIS))
    np.testing.assert_allclose(exact.predict_proba(X_IRIS), qda.predict_proba(X_IRIS), atol=1e-10)
    np.testing.assert_allclose(exact.means_, qda.means_, rtol=1e-12)
    default = GenerativeClassifier().fit(X_IRIS, Y_IRIS)
    np.testing.assert_array_equal(default.predict(X_IRIS), qda.predict(X_IRIS))
    assert default.n_iter_ == 1 and default.converged_
    priors = np.array([0.2, 0.3, 0.5])
    qda = QuadraticDiscriminantAnalysis(priors=priors).fit(X_IRIS, Y_IRIS)
    fixed = GenerativeClassifier(priors=priors, reg_covar=0.0).fit(X_IRIS, Y_IRIS)
    np.testing.assert_allclose(fixed.predict_proba(X_IRIS), qda.predict_proba(X_IRIS), atol=1e-10)
    np.testing.assert_array_equal(fixed.priors_, priors)


def test_tied_is_lda_on_iris():
    lda = LinearDiscriminantAnalysis(solver="lsqr").fit(X_IRIS, Y_IRIS)
    ours = GenerativeClassifier("tied", reg_covar=0.0).fit(X_IRIS, Y_IRIS)
    np.testing.assert_allclose(ours.covariances_, lda.covariance_, rtol=1e-10)
    np.testing.assert_allclose(ours.predict_proba(X_IRIS), lda.predict_proba(X_IRIS), atol=1e-10)
    svd = LinearDiscriminantAnalysis().fit(X_IRIS, Y_IRIS)
    np.testing.assert_array_equal(ours.predict(X_IRIS), svd.predict(X_IRIS))


def test_decision_function_is_lda_on_a_tied_fit():
    import dask.array as da

    lda = LinearDiscriminantAnalysis(solver="lsqr").fit(X_IRIS, Y_IRIS)
    ours = GenerativeClassifier("tied", reg_covar=0.0).fit(X_IRIS, Y_IRIS)
    scores = ours.decision_function(X_IRIS)
    assert scores.shape == (150, 3)
    # the same up to a constant per row
    gap = scores - lda.decision_function(X_IRIS)
    np.testing.assert_allclose(gap - gap[:, :1], 0.0, atol=1e-9)
    np.testing.assert_allclose(scores, ours.predict_log_proba(X_IRIS), rtol=1e-15)
    lazy = ours.decision_function(da.from_array(X_IRIS, chunks=40))
    np.testing.assert_allclose(lazy.compute(), scores, rtol=1e-15)

    two = Y_IRIS > 0  # versicolor and virginica: the log-odds of the second, exactly
    lda2 = LinearDiscriminantAnalysis(solver="lsqr").fit(X_IRIS[two], Y_IRIS[two])
    ours2 = GenerativeClassifier("tied", reg_covar=0.0).fit(X_IRIS[two], Y_IRIS[two])
    log_odds = ours2.decision_function(X_IRIS)
    assert log_odds.shape == (150,)
    np.testing.assert_allclose(log_odds, lda2.decision_function(X_IRIS), rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(ours2.classes_[(log_odds > 0).astype(int)], ours2.predict(X_IRIS))


def test_diag_is_gaussian_naive_bayes_and_spherical_matches_scipy():
    nb = GaussianNB(var_smoothing=0.0).fit(X_IRIS, Y_IRIS)
    diag = GenerativeClassifier("diag", reg_covar=0.0).fit(X_IRIS, Y_IRIS)
    np.testing.assert_allclose(diag.covariances_, nb.var_, rtol=1e-10)
    np.testing.assert_allclose(diag.predict_proba(X_IRIS), nb.predict_proba(X_IRIS), atol=1e-10)
    spherical = GenerativeClassifier("spherical", reg_covar=0.0).fit(X_IRIS, Y_IRIS)
    log_joint = np.column_stack(
        [
            np.log(np.mean(Y_IRIS == c))
            + stats.multivariate_normal(
                X_IRIS[Y_IRIS == c].mean(axis=0), X_IRIS[Y_IRIS == c].var(axis=0).mean()
            ).logpdf(X_IRIS)
            for c in range(3)
        ]
    )
    np.testing.assert_allclose(spherical.predict_proba(X_IRIS), softmax(log_joint, axis=1))


def _few_labels(per_class, seed):
    rng = np.random.default_rng(seed)
    chosen = np.concatenate(
        [rng.choice(np.flatnonzero(Y_IRIS == c), per_class, replace=False) for c in range(3)]
    )
    y = np.full_like(Y_IRIS, -1)
    y[chosen] = Y_IRIS[chosen]
    return chosen, y


@pytest.mark.parametrize(("name", "per_class"), [("full", 10), ("tied", 5)])
def test_unlabelled_rows_beat_the_labelled_rows_alone(name, per_class):
    gains = []
    for seed in range(5):
        chosen, y = _few_labels(per_class, seed)
        rest = np.setdiff1d(np.arange(len(Y_IRIS)), chosen)
        alone = GenerativeClassifier(name).fit(X_IRIS[chosen], y[chosen])
        semi = GenerativeClassifier(name).fit(X_IRIS, y)
        assert semi.n_iter_ > 1 and semi.converged_
        assert np.all(np.diff(semi.history_) >= -1e-9 * np.abs(semi.history_[1:]))
        gains.append(
            semi.score(X_IRIS[rest], Y_IRIS[rest]) - alone.score(X_IRIS[rest], Y_IRIS[rest])
        )
    # Fixed seeds: the unlabelled rows help on average and in the first draw.
    assert np.mean(gains) > 0.02
    assert gains[0] > 0


def test_objective_is_the_labelled_plus_unlabelled_likelihood():
    _, y = _few_labels(8, seed=1)
    clf = GenerativeClassifier("full", reg_covar=0.0).fit(X_IRIS, y)
    log_joint = np.column_stack(
        [
            np.log(clf.priors_[k])
            + stats.multivariate_normal(clf.means_[k], clf.covariances_[k]).logpdf(X_IRIS)
            for k in range(3)
        ]
    )
    labelled = y != -1
    expected = (
        log_joint[labelled, y[labelled]].sum() + logsumexp(log_joint[~labelled], axis=1).sum()
    )
    assert clf.log_likelihood_ == pytest.approx(expected, rel=1e-10)
    assert clf.history_[-1] == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("structure", ["full", "tied", "diag", "spherical", "VEV"])
@pytest.mark.parametrize("weighted", [False, True])
def test_closed_form_objective_is_the_rows_log_likelihood(structure, weighted):
    # Every row labelled: the objective comes from the classes' statistics, or, where a
    # covariance is held up by the ridge, from a pass over the rows; either way it is the
    # sum of the rows' own log densities.
    w = np.random.default_rng(3).uniform(0.2, 2.0, X_IRIS.shape[0]) if weighted else None
    plane = X_IRIS.copy()  # a class on a plane: singular but for the ridge (reg_covar=0)
    plane[Y_IRIS == 1, 3] = 2.0 * plane[Y_IRIS == 1, 0] + 1.0
    for x, reg_covar in [(X_IRIS, 1e-6), (plane, 0.0)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateFitWarning)
            clf = GenerativeClassifier(structure, reg_covar=reg_covar).fit(
                x, Y_IRIS, sample_weight=w
            )
        rows = clf.log_prob(x, Y_IRIS)
        expected = rows.sum() if w is None else w @ rows
        assert clf.log_likelihood_ == pytest.approx(expected, rel=1e-12)


def test_log_prob_reads_a_column_of_labels_as_fit_does():
    """y of shape (n, 1) is read by log_prob and the criteria as fit reads it, with its
    DataConversionWarning (it was refused), and gives the scipy log densities; another 2-D y
    is refused, as by fit."""
    from sklearn.exceptions import DataConversionWarning

    _, y = _few_labels(8, seed=1)
    with pytest.warns(DataConversionWarning, match="column-vector y") as fitted:
        clf = GenerativeClassifier("full", reg_covar=0.0).fit(X_IRIS, y[:, None])
    log_joint = np.column_stack(
        [
            np.log(clf.priors_[k])
            + stats.multivariate_normal(clf.means_[k], clf.covariances_[k]).logpdf(X_IRIS)
            for k in range(3)
        ]
    )
    labelled = y != -1
    expected = np.where(
        labelled, log_joint[np.arange(y.size), np.maximum(y, 0)], logsumexp(log_joint, axis=1)
    )
    with pytest.warns(DataConversionWarning) as asked:
        got = clf.log_prob(X_IRIS, y[:, None])
    assert str(asked[0].message) == str(fitted[0].message)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    with pytest.warns(DataConversionWarning):
        assert clf.bic(X_IRIS, y[:, None]) == pytest.approx(clf.bic(X_IRIS, y), rel=1e-12)
    with pytest.raises(ValueError, match="1-D array; got shape"):
        clf.log_prob(X_IRIS, y.reshape(-1, 2))


def test_unlabelled_rows_of_zero_weight_leave_the_labelled_fit():
    chosen, y = _few_labels(15, seed=2)
    weights = (y != -1).astype(float)
    alone = GenerativeClassifier("diag").fit(X_IRIS[chosen], y[chosen])
    weighted = GenerativeClassifier("diag").fit(X_IRIS, y, sample_weight=weights)
    np.testing.assert_allclose(weighted.means_, alone.means_, rtol=1e-10)
    np.testing.assert_allclose(weighted.covariances_, alone.covariances_, rtol=1e-8)
    np.testing.assert_allclose(weighted.priors_, alone.priors_, rtol=1e-12)


def test_missing_values_with_every_row_labelled_is_one_imputer_per_class():
    rng = np.random.default_rng(0)
    x = X_IRIS.copy()
    x[rng.random(x.shape) < 0.15] = np.nan
    keep = ~np.isnan(x).all(axis=1)
    x, y = x[keep], Y_IRIS[keep]
    clf = GenerativeClassifier(missing="em", tol=1e-12).fit(x, y)
    for k in range(3):
        imputer = GaussianImputer(tol=1e-12).fit(x[y == k])
        np.testing.assert_allclose(clf.means_[k], imputer.mean_, atol=1e-6)
        np.testing.assert_allclose(clf.covariances_[k], imputer.covariance_, atol=1e-6)
    np.testing.assert_allclose(clf.priors_, np.bincount(y) / len(y))
    assert np.mean(clf.predict(x) == y) > 0.9


def test_semi_supervised_with_missing_values():
    rng = np.random.default_rng(1)
    x = X_IRIS.copy()
    x[rng.random(x.shape) < 0.15] = np.nan
    x[5] = np.nan  # an empty row is left out of the fit, but predicting one gives the priors
    _, y = _few_labels(10, seed=3)
    x, y = x[np.arange(len(x)) != 5], y[np.arange(len(y)) != 5]
    clf = GenerativeClassifier("tied", missing="em").fit(x, y)
    assert np.all(np.diff(clf.history_) >= -1e-9 * np.abs(clf.history_[1:]))
    assert np.mean(clf.predict(x) == np.delete(Y_IRIS, 5)) > 0.85
    np.testing.assert_allclose(clf.predict_proba([[np.nan] * 4])[0], clf.priors_)
    with pytest.raises(ValueError, match=r"NaN in \d+ of 149 rows .*missing=\"em\""):
        GenerativeClassifier().fit(x, y)
    fitted = GenerativeClassifier().fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValueError, match=r"NaN in 1 of 1 rows \(columns \[0, 1, 2, 3\]\)"):
        fitted.predict([[np.nan] * 4])


def test_statistics_add_up_over_labelled_chunks():
    _, y = _few_labels(5, seed=4)
    x = X_IRIS.copy()
    x[::7, 1] = np.nan
    clf = GenerativeClassifier("full", missing="em").fit(x, y)
    model = clf._model()
    labels = np.searchsorted(clf.classes_, np.where(y == -1, 0, y))
    labels[y == -1] = -1
    whole, ll = model.e_step((x, labels))
    parts = [model.e_step(chunk, w) for chunk, w in ArrayChunks(x, chunk_rows=40, labels=labels)]
    merged = parts[0][0] + parts[1][0] + parts[2][0] + parts[3][0]
    assert sum(p[1] for p in parts) == pytest.approx(ll, rel=1e-13)
    np.testing.assert_allclose(merged.components.scatter, whole.components.scatter, rtol=1e-10)


def test_string_labels_bad_priors_and_no_labels():
    names = np.array(["setosa", "versicolor", "virginica"])[Y_IRIS]
    clf = GenerativeClassifier().fit(X_IRIS, names)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert clf.score(X_IRIS, names) > 0.95
    with pytest.raises(ValueError, match="priors must be 3 positive numbers"):
        GenerativeClassifier(priors=[0.5, 0.5]).fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValueError, match="every row is unlabelled"):
        GenerativeClassifier().fit(X_IRIS, np.full(len(Y_IRIS), -1))
    weights = (Y_IRIS != 2).astype(float)
    with pytest.raises(ValueError, match=r"classes \[2\] have no labelled row"):
        GenerativeClassifier().fit(X_IRIS, Y_IRIS, sample_weight=weights)


def test_a_class_too_small_for_its_covariance_warns():
    # A class of one row got reg_covar * I as its covariance without a word (GaussianMixture
    # warns of such components); scikit-learn's QDA refuses it.
    import warnings

    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis

    from emkit.exceptions import DegenerateFitWarning

    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (30, 2)), rng.normal(3, 1, (1, 2))])
    y = np.r_[np.zeros(30), np.ones(1)]
    with pytest.warns(DegenerateFitWarning, match=r"classes \[1.0\] have covariances singular"):
        fit = GenerativeClassifier().fit(x, y)
    np.testing.assert_allclose(fit.covariances_[1], fit.reg_covar * np.eye(2))
    with pytest.raises(ValueError, match="covariance is ill defined"):
        QuadraticDiscriminantAnalysis().fit(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateFitWarning)
        GenerativeClassifier(covariance_type="tied").fit(x, y)  # the class shares its covariance
        x5 = np.vstack([x, rng.normal(3, 1, (4, 2))])
        GenerativeClassifier().fit(x5, np.r_[y, np.ones(4)])


@pytest.mark.parametrize(
    "covariance_type, advised, not_advised",
    [
        ("full", ["tied", "diag"], []),
        ("diag", ["EEI", "tied"], ["diag"]),
        ("spherical", ["EEI", "tied"], ["diag", "spherical"]),
        ("VEV", ["tied", "diag"], []),
    ],
)
def test_degenerate_class_advice_names_structures_that_help(covariance_type, advised, not_advised):
    # The advice named 'tied' or 'diag' whatever the fit: a diag fit was told to use 'diag'.
    import warnings

    from emkit.exceptions import DegenerateFitWarning

    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (30, 2)), rng.normal(3, 1, (30, 2)), [[10.0, 10.0]]])
    y = np.r_[np.zeros(30), np.ones(30), 2]
    with pytest.warns(DegenerateFitWarning, match=r"classes \[2.0\]") as caught:
        GenerativeClassifier(covariance_type).fit(x, y)
    message = str(caught[0].message)
    for name in not_advised:
        assert f"'{name}'" not in message
    for name in advised:
        assert f"'{name}'" in message
        with warnings.catch_warnings():
            warnings.simplefilter("error", DegenerateFitWarning)
            if name == "diag":  # a class of two distinct rows
                GenerativeClassifier(name).fit(np.r_[x, [[11.0, 9.0]]], np.r_[y, 2])
            else:  # shares its covariance: takes the class of one row
                GenerativeClassifier(name).fit(x, y)


def test_degenerate_advice_where_the_covariance_is_shared():
    from emkit.distributions.gaussian import covariance_structure
    from emkit.estimators.generative_classifier import _degenerate_advice

    for name in ("tied", "EEI", "EII", "EEE"):
        advice = _degenerate_advice(covariance_structure(name), 3, 2)
        assert advice == "Give those classes more rows, or raise reg_covar."


def test_fewer_than_two_labelled_classes_are_refused_as_by_qda():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (30, 2)), rng.normal(3, 1, (30, 2))])
    # scikit-learn's discriminant analyses refuse one class too.
    for y in (np.zeros(60), np.full(60, "a")):
        with pytest.raises(ValueError, match="greater than one"):
            QuadraticDiscriminantAnalysis().fit(X, y)
        with pytest.raises(ValueError, match=r"y holds one class.*at least two classes"):
            GenerativeClassifier().fit(X, y)
    signs = np.where(np.arange(60) < 30, -1, 1)
    with pytest.raises(ValueError, match=r"one class, \[1\], and rows labelled -1.*=None"):
        GenerativeClassifier(unlabelled=-1).fit(X, signs)
    # As the message says, {-1, 1} is then QDA.
    clf = GenerativeClassifier(reg_covar=0.0, unlabelled=None).fit(X, signs)
    qda = QuadraticDiscriminantAnalysis().fit(X, signs)
    np.testing.assert_array_equal(clf.classes_, [-1, 1])
    np.testing.assert_allclose(clf.predict_proba(X), qda.predict_proba(X), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("labels", [[-1, 0, 1], [-1.0, 0.0, 2.0]])
def test_a_class_named_minus_one_is_a_class_with_unlabelled_none(labels):
    # {-1, 0, 1}: the rows of -1 were read as unlabelled without a word (classes_ [0, 1],
    # accuracy 0.65 against QDA's 0.97); now the default says so, and unlabelled=None fits
    # the three classes as QDA does.
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(m, 1, (100, 2)) for m in (-3, 0, 3)])
    y = np.repeat(labels, 100)
    with pytest.warns(UserWarning, match="100 rows labelled -1 are unlabelled") as record:
        semi = GenerativeClassifier().fit(X, y)
    assert len(record) == 1 and semi.classes_.tolist() == labels[1:]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert GenerativeClassifier(unlabelled=-1).fit(X, y).classes_.tolist() == labels[1:]
        clf = GenerativeClassifier(reg_covar=0.0, unlabelled=None).fit(X, y)
    qda = QuadraticDiscriminantAnalysis().fit(X, y)
    assert clf.classes_.tolist() == labels
    np.testing.assert_allclose(clf.predict_proba(X), qda.predict_proba(X), rtol=1e-8, atol=1e-12)
    assert clf.score(X, y) == qda.score(X, y) > 0.95
    # log_prob reads -1 as a class too: each row's own class's log joint
    own = clf.predict_log_proba(X)[np.arange(300), np.searchsorted(clf.classes_, y)]
    np.testing.assert_allclose(clf.log_prob(X, y) - clf.log_prob(X), own, rtol=1e-10, atol=1e-10)


def test_save_and_load(tmp_path):
    _, y = _few_labels(10, seed=0)
    clf = GenerativeClassifier("tied").fit(X_IRIS, y)
    clf.save(tmp_path / "clf.json")
    loaded = emkit.load(tmp_path / "clf.json")
    np.testing.assert_array_equal(loaded.predict_proba(X_IRIS), clf.predict_proba(X_IRIS))
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)


def _semi_supervised(seed=0):
    """Two classes in 2-D, about half the rows unlabelled: X, integer codes with -1."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(0, 1, (30, 2)), rng.normal(3, 1, (30, 2))])
    codes = np.repeat([0, 1], 30)
    codes[rng.uniform(size=60) < 0.5] = -1
    return X, codes


def test_string_classes_mark_unlabelled_rows_as_self_training_does():
    # An object array of string classes with the number -1: scikit-learn's convention
    # (SelfTrainingClassifier). fit raised "'<' not supported between 'int' and 'str'".
    from sklearn.linear_model import LogisticRegression
    from sklearn.semi_supervised import SelfTrainingClassifier

    X, codes = _semi_supervised()
    names = np.array(["neg", "pos"], dtype=object)
    y = np.where(codes == -1, -1, names[codes]).astype(object)
    assert all(type(v) is int for v in y[codes == -1])
    clf = GenerativeClassifier().fit(X, y)
    by_codes = GenerativeClassifier().fit(X, codes)
    assert list(clf.classes_) == ["neg", "pos"]
    np.testing.assert_allclose(clf.means_, by_codes.means_, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), names[by_codes.predict(X)])
    assert clf.n_iter_ > 1  # EM ran: the -1 rows were unlabelled, not a class
    # scikit-learn reads the same rows as labelled (labeled_iter_ 0) and the same classes.
    self_training = SelfTrainingClassifier(LogisticRegression()).fit(X, y)
    np.testing.assert_array_equal(self_training.labeled_iter_ == 0, codes != -1)
    assert list(self_training.classes_) == list(clf.classes_)
    # A pandas Series of the same values reads the same.
    np.testing.assert_allclose(
        GenerativeClassifier().fit(X, pd.Series(y)).means_, clf.means_, rtol=1e-12
    )


def test_labels_mixing_text_and_numbers_are_refused_by_name():
    # NumPy's sort raised "'<' not supported between instances of 'int' and 'str'" where the
    # first label is text (scikit-learn calls them "unknown" where it is a number).
    X, codes = _semi_supervised()
    y = np.full(codes.shape, -1, dtype=object)
    y[codes == 0] = "neg"
    y[codes == 1] = 7  # a number beside the text class "neg"
    first = np.flatnonzero(codes != -1)[0]
    y[first] = "neg"  # the first labelled row holds text
    with pytest.raises(ValueError, match=r"y mixes text and numbers as class labels \(e\.g\. "):
        GenerativeClassifier().fit(X, y)
    y[codes == 1] = "pos"  # one kind: fitted, -1 still unlabelled
    assert GenerativeClassifier().fit(X, y).classes_.tolist() == ["neg", "pos"]
    y[codes == 1] = b"pos"  # bytes beside text: NumPy's sort fails the same way
    with pytest.raises(ValueError, match=r"y mixes text and bytes as class labels"):
        GenerativeClassifier().fit(X, y)


def test_the_string_minus_one_is_refused_not_taken_as_a_class():
    # A string array with "-1" made "-1" a third class, silently; SelfTrainingClassifier
    # refuses string arrays outright.
    from sklearn.linear_model import LogisticRegression
    from sklearn.semi_supervised import SelfTrainingClassifier

    X, codes = _semi_supervised()
    text = np.where(codes == -1, "-1", np.where(codes == 0, "neg", "pos"))
    with pytest.raises(ValueError, match="y has dtype string"):
        SelfTrainingClassifier(LogisticRegression()).fit(X, text)
    for y in (text, text.astype(object), pd.Series(text)):
        with pytest.raises(ValueError, match=r'string "-1" in 27 rows.*number -1'):
            GenerativeClassifier().fit(X, y)
    # Recoded as the message says, it is the fit on integer codes.
    recoded = text.astype(object)
    recoded[recoded == "-1"] = -1
    np.testing.assert_allclose(
        GenerativeClassifier().fit(X, recoded).means_,
        GenerativeClassifier().fit(X, codes).means_,
        rtol=1e-12,
    )
    # Fully labelled string classes are plain QDA, as before.
    full = np.where(np.arange(60) < 30, "neg", "pos")
    qda = QuadraticDiscriminantAnalysis().fit(X, full)
    clf = GenerativeClassifier(reg_covar=0.0).fit(X, full)
    np.testing.assert_allclose(clf.predict_proba(X), qda.predict_proba(X), rtol=1e-8, atol=1e-12)


def test_missing_labels_are_refused_as_by_scikit_learn_with_the_way_to_mark_them():
    # pandas missing labels (a Categorical with NaN, Int64 with pd.NA, None, float NaN): as
    # scikit-learn's semi-supervised estimators, an error, which now says to use -1.
    from sklearn.semi_supervised import LabelPropagation

    X, codes = _semi_supervised()
    words = np.array(["neg", "pos"], dtype=object)[np.maximum(codes, 0)]
    categorical = pd.Series(pd.Categorical(np.where(codes == -1, None, words)))
    nullable = pd.Series(np.where(codes == -1, None, codes), dtype="Int64")
    for y in (
        categorical,
        nullable,
        np.where(codes == -1, np.nan, codes),
        np.where(codes == -1, None, words),
    ):
        with pytest.raises((ValueError, TypeError)):  # TypeError sorting None with str
            LabelPropagation().fit(X, y)
        with pytest.raises(ValueError, match=r"27 missing labels.*marked by -1"):
            GenerativeClassifier().fit(X, y)
    by_codes = GenerativeClassifier().fit(X, codes)
    marked = categorical.astype(object).where(categorical.notna(), -1)  # the message's recipe
    np.testing.assert_allclose(
        GenerativeClassifier().fit(X, marked).means_, by_codes.means_, rtol=1e-12
    )
    np.testing.assert_allclose(
        GenerativeClassifier().fit(X, nullable.fillna(-1)).means_, by_codes.means_, rtol=1e-12
    )


def _with_featureless_rows(seed=0):
    """40 complete rows of two classes, then 20 of class 1 with no observed value."""
    rng = np.random.default_rng(seed)
    x = np.vstack([rng.normal(0, 1, (20, 2)), rng.normal(3, 1, (20, 2))])
    y = np.repeat([0, 1], 20)
    return x, y, np.vstack([x, np.full((20, 2), np.nan)]), np.r_[y, np.ones(20, int)]


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "VEV"])
def test_labelled_rows_without_features_count_toward_the_priors(covariance_type):
    # Such a row adds w log pi_y to the log-likelihood: the MLE of the priors counts its label
    # (weighted label counts / total weight), its features count nowhere.
    x, y, x_all, y_all = _with_featureless_rows()
    w = np.r_[np.linspace(0.5, 2.0, 40), np.full(20, 1.5)]
    clf = GenerativeClassifier(covariance_type, missing="em").fit(x_all, y_all, sample_weight=w)
    np.testing.assert_allclose(clf.priors_, np.bincount(y_all, weights=w) / w.sum(), rtol=1e-12)
    assert clf.priors_[1] == pytest.approx((w[20:40].sum() + 30.0) / w.sum())
    without = GenerativeClassifier(covariance_type, missing="em").fit(x, y, sample_weight=w[:40])
    np.testing.assert_allclose(clf.means_, without.means_, rtol=1e-12)
    np.testing.assert_allclose(clf.covariances_, without.covariances_, rtol=1e-12)
    for k in range(2):
        np.testing.assert_allclose(
            clf.means_[k], np.average(x[y == k], axis=0, weights=w[:40][y == k]), rtol=1e-12
        )
    # the objective counts them: log pi_1 each, as log_prob does
    assert clf.log_likelihood_ == pytest.approx(np.sum(w * clf.log_prob(x_all, y_all)), rel=1e-12)


def test_labelled_rows_without_features_in_a_semi_supervised_fit():
    # At EM's fixed point the priors are the labelled weight of each class (those rows with no
    # feature too) plus the unlabelled rows' posterior probabilities, over all rows.
    x, y, x_all, y_all = _with_featureless_rows(1)
    y_all[:40:3] = -1
    clf = GenerativeClassifier(missing="em", tol=1e-14).fit(x_all, y_all)
    labelled = y_all != -1
    expected = np.bincount(y_all[labelled], minlength=2) + clf.predict_proba(x_all[~labelled]).sum(
        0
    )
    np.testing.assert_allclose(clf.priors_, expected / y_all.size, rtol=1e-9)
    assert clf.priors_[1] > 0.6  # the 20 rows of class 1 count (0.5 without them)
    assert clf.log_likelihood_ == pytest.approx(clf.log_prob(x_all, y_all).sum(), rel=1e-12)
    assert np.all(np.diff(clf.history_) >= -1e-9 * np.abs(clf.history_[1:]))


def test_rows_without_features_that_carry_nothing_are_refused():
    _, _, x_all, y_all = _with_featureless_rows()
    unlabelled = y_all.copy()
    unlabelled[[41, 45]] = -1
    with pytest.raises(ValueError, match=r"2 unlabelled rows .* no observed value .*row 41\)"):
        GenerativeClassifier(missing="em").fit(x_all, unlabelled)
    with pytest.raises(ValueError, match=r"20 labelled rows .*row 40\).*priors are given"):
        GenerativeClassifier(missing="em", priors=[0.4, 0.6]).fit(x_all, y_all)
    only = np.r_[y_all[:40], np.full(20, 2)]  # class 2 has no row with a feature
    with pytest.raises(ValueError, match=r"classes \[2\] have no labelled row .*observed value"):
        GenerativeClassifier(missing="em").fit(x_all, only)


def test_labelled_rows_without_features_on_dask_and_torch():
    da = pytest.importorskip("dask.array")
    x, y, x_all, y_all = _with_featureless_rows(2)
    order = np.random.default_rng(2).permutation(60)
    x_all, y_all = x_all[order], y_all[order]
    expected = GenerativeClassifier(missing="em").fit(x_all, y_all)
    np.testing.assert_allclose(expected.priors_, [1 / 3, 2 / 3], rtol=1e-12)
    lazy = GenerativeClassifier(missing="em").fit(
        da.from_array(x_all, chunks=17), da.from_array(y_all, chunks=17)
    )
    np.testing.assert_allclose(lazy.priors_, expected.priors_, rtol=1e-12)
    np.testing.assert_allclose(lazy.means_, expected.means_, rtol=1e-12)
    np.testing.assert_allclose(lazy.covariances_, expected.covariances_, rtol=1e-12)
    unlabelled = np.where(np.isnan(x_all).all(axis=1), -1, y_all)
    with pytest.raises(ValueError, match="20 unlabelled rows"):
        GenerativeClassifier(missing="em").fit(
            da.from_array(x_all, chunks=17), da.from_array(unlabelled, chunks=17)
        )
    torch = pytest.importorskip("torch")
    on_device = GenerativeClassifier(missing="em", device="cpu").fit(
        torch.tensor(x_all), torch.tensor(y_all)
    )
    np.testing.assert_allclose(on_device.priors_, expected.priors_, rtol=1e-12)
    np.testing.assert_allclose(on_device.means_, expected.means_, rtol=1e-12)


def test_em_stopped_at_max_iter_warns_as_the_other_estimators():
    """EM (missing values, or unlabelled rows) stopped by max_iter gave converged_=False with
    no ConvergenceWarning, where scikit-learn and every other EM estimator warn; a closed-form
    fit (every row labelled and complete) never warns."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (150, 2)), rng.normal(2, 1, (150, 2))])
    y = np.r_[np.zeros(150), np.ones(150)].astype(int)
    holes = X.copy()
    holes[rng.random(X.shape) < 0.3] = np.nan
    holes[np.isnan(holes).all(axis=1), 0] = 0.0
    partial = np.where(rng.random(300) < 0.8, -1, y)
    for model, data, labels in [
        (emkit.GenerativeClassifier(missing="em", max_iter=3), holes, y),
        (emkit.GenerativeClassifier(max_iter=3), X, partial),
    ]:
        with pytest.warns(ConvergenceWarning, match="max_iter=3"):
            model.fit(data, labels)
        assert not model.converged_ and model.n_iter_ == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert emkit.GenerativeClassifier(max_iter=0).fit(X, y).converged_


def _scipy_log_joint(clf, x):
    """log prior + scipy's Gaussian log density of each class (tied: one matrix; EII: one
    variance per class times the identity)."""
    d = x.shape[1]
    covariances = [
        clf.covariances_ if clf.covariances_.ndim == 2 else clf.covariances_[k] * np.eye(d)
        for k in range(clf.classes_.size)
    ]
    return np.column_stack(
        [
            np.log(clf.priors_[k]) + stats.multivariate_normal(clf.means_[k], cov).logpdf(x)
            for k, cov in enumerate(covariances)
        ]
    )


@pytest.mark.parametrize("structure", ["tied", "EII"])
def test_posterior_of_a_far_row_sums_to_one(structure):
    # Far from the data the log joint passes 1e41, where log p(x) rounds to the row's
    # maximum: the classes tied there each got posterior 1 (rows summing to 3).
    clf = GenerativeClassifier(structure).fit(X_IRIS, Y_IRIS)
    for s in [1e20, 1e100]:
        row = np.array([[-s, s, 0.0, 0.0]])
        proba, log_proba = clf.predict_proba(row), clf.predict_log_proba(row)
        assert abs(proba.sum() - 1.0) < 1e-12
        np.testing.assert_allclose(np.exp(log_proba), proba, rtol=1e-15)
        assert clf.predict(row)[0] == clf.classes_[proba.argmax()]
        log_joint = clf._log_joint(row)[0]
        if structure == "tied":
            # One covariance: the posterior is the linear discriminant's, exact where the log
            # joint has rounded the classes to a tie (1e41 - 1e20 is 1e41).
            precision_means = np.linalg.solve(clf.covariances_, clf.means_.T)  # (d, k)
            scores = (
                row @ precision_means
                - 0.5 * np.einsum("kd,dk->k", clf.means_, precision_means)
                + np.log(clf.priors_)
            )
            np.testing.assert_allclose(log_proba, scores - logsumexp(scores), rtol=1e-9)
        elif np.all(log_joint == log_joint[0]):  # tied in rounding: 1/k each, -log k in logs
            np.testing.assert_allclose(log_proba[0], -np.log(3.0), rtol=1e-15)
    # ordinary rows: Bayes' rule from scipy's densities, as before
    expected = _scipy_log_joint(clf, X_IRIS)
    np.testing.assert_allclose(
        clf.predict_log_proba(X_IRIS),
        expected - logsumexp(expected, axis=1)[:, None],
        rtol=1e-9,
        atol=1e-12,  # log posteriors near 0: relative error 1e-12 in the probability
    )
    np.testing.assert_allclose(clf.predict_proba(X_IRIS), softmax(expected, axis=1), atol=1e-12)
