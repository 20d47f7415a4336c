"""GenerativeClassifier on a list of chunks: the in-memory fit of their rows joined in order."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis

from emkit import GenerativeClassifier

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
CUTS = [0, 40, 41, 97, 150]  # uneven chunks, one of a single row


def _chunks(x):
    return [x[a:b] for a, b in zip(CUTS[:-1], CUTS[1:], strict=True)]


def _assert_same_fit(a, b):
    np.testing.assert_array_equal(a.classes_, b.classes_)
    for name in ("priors_", "means_", "covariances_", "precisions_cholesky_", "history_"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12, atol=1e-12)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-12)
    assert (a.n_iter_, a.converged_) == (b.n_iter_, b.converged_)


def test_labelled_chunks_are_qda_of_their_rows():
    chunked = GenerativeClassifier(reg_covar=0.0).fit(_chunks(X_IRIS), Y_IRIS)
    _assert_same_fit(chunked, GenerativeClassifier(reg_covar=0.0).fit(X_IRIS, Y_IRIS))
    qda = QuadraticDiscriminantAnalysis().fit(X_IRIS, Y_IRIS)
    np.testing.assert_allclose(chunked.means_, qda.means_, rtol=1e-12)
    np.testing.assert_allclose(chunked.predict_proba(X_IRIS), qda.predict_proba(X_IRIS), atol=1e-10)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_semi_supervised_weighted_chunks_equal_the_array(covariance_type):
    rng = np.random.default_rng(0)
    y = Y_IRIS.copy()
    y[rng.uniform(size=y.size) < 0.7] = -1
    w = rng.integers(1, 4, size=y.size).astype(float)
    gc = GenerativeClassifier(covariance_type)
    chunked = gc.fit(_chunks(X_IRIS), y, sample_weight=w)
    _assert_same_fit(chunked, GenerativeClassifier(covariance_type).fit(X_IRIS, y, sample_weight=w))
    assert chunked.n_iter_ > 1  # EM ran, not only the closed form


def test_missing_em_chunks_equal_the_array():
    rng = np.random.default_rng(1)
    x = X_IRIS.copy()
    x[rng.uniform(size=x.shape) < 0.15] = np.nan
    x[np.isnan(x).all(axis=1), 0] = 5.0
    y = Y_IRIS.copy()
    y[rng.uniform(size=y.size) < 0.5] = -1
    chunked = GenerativeClassifier(missing="em").fit(_chunks(x), y)
    _assert_same_fit(chunked, GenerativeClassifier(missing="em").fit(x, y))


def test_dataframe_chunks_keep_feature_names():
    frame = pd.DataFrame(X_IRIS, columns=["a", "b", "c", "d"])
    chunks = [frame.iloc[a:b] for a, b in zip(CUTS[:-1], CUTS[1:], strict=True)]
    chunked = GenerativeClassifier().fit(chunks, pd.Series(Y_IRIS))
    assert chunked.feature_names_in_.tolist() == ["a", "b", "c", "d"]
    _assert_same_fit(chunked, GenerativeClassifier().fit(frame, Y_IRIS))


def test_methods_taking_x_read_chunks_as_their_rows():
    rng = np.random.default_rng(2)
    y = Y_IRIS.copy()
    y[rng.uniform(size=y.size) < 0.3] = -1
    gc = GenerativeClassifier().fit(X_IRIS, y)
    chunks = _chunks(X_IRIS)
    np.testing.assert_array_equal(gc.predict(chunks), gc.predict(X_IRIS))
    np.testing.assert_allclose(gc.predict_proba(chunks), gc.predict_proba(X_IRIS), rtol=1e-12)
    np.testing.assert_allclose(gc.log_prob(chunks, y), gc.log_prob(X_IRIS, y), rtol=1e-12)
    assert gc.score(chunks, Y_IRIS) == gc.score(X_IRIS, Y_IRIS)
    assert gc.bic(chunks, y) == pytest.approx(gc.bic(X_IRIS, y), rel=1e-12)
    assert gc.aic(chunks) == pytest.approx(gc.aic(X_IRIS), rel=1e-12)


def test_labels_of_another_length_than_the_chunks_rows_are_named():
    with pytest.raises(
        ValueError, match=r"149 labels.*150 rows in 4 chunks \(40 \+ 1 \+ 56 \+ 53\)"
    ):
        GenerativeClassifier().fit(_chunks(X_IRIS), Y_IRIS[:-1])
    with pytest.raises(ValueError, match="y must be one array of labels"):
        GenerativeClassifier().fit(_chunks(X_IRIS), _chunks(Y_IRIS))
