"""KMeans against scikit-learn where QA found it apart: transform's dtype, the random_state
a model file keeps, and the strict-convergence stop with weights."""

import warnings

import numpy as np
import pytest
from sklearn.cluster import KMeans as SkKMeans

import emkit
from emkit import KMeans


@pytest.mark.parametrize("fit_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rows_dtype", [np.float64, np.float32, np.int64])
def test_transform_dtype_follows_rows_and_centres_as_sklearn(faithful, fit_dtype, rows_dtype):
    # After a float64 fit, float32 rows gave float32 distances; scikit-learn gives float64
    # there (float32 only where both the rows and the fitted centres are).
    start = np.array([[2.0, 55.0], [4.5, 80.0]])
    ours = KMeans(2, init=start).fit(faithful.astype(fit_dtype))
    ref = SkKMeans(2, init=start, n_init=1).fit(faithful.astype(fit_dtype))
    rows = np.round(faithful).astype(rows_dtype)
    assert ours.transform(rows).dtype == ref.transform(rows).dtype
    # a float32 fit: emkit's centres from float64 sums, scikit-learn's from float32 ones
    atol = 1e-4 if fit_dtype == np.float32 else 1e-10
    np.testing.assert_allclose(ours.transform(rows), ref.transform(rows), rtol=0, atol=atol)


def test_save_keeps_a_numpy_integer_random_state(tmp_path, faithful):
    model = KMeans(2, random_state=np.int64(3)).fit(faithful)
    model.save(tmp_path / "m.json")
    again = emkit.load(tmp_path / "m.json")
    assert again.random_state == 3 and type(again.random_state) is int
    refit = again.fit(faithful)
    np.testing.assert_array_equal(
        refit.cluster_centers_, KMeans(2, random_state=3).fit(faithful).cluster_centers_
    )


@pytest.mark.parametrize(
    "make",
    [lambda rs: KMeans(2, random_state=rs), lambda rs: emkit.GaussianMixture(2, random_state=rs)],
)
def test_save_warns_that_a_random_state_object_is_not_kept(tmp_path, faithful, make):
    model = make(np.random.RandomState(1)).fit(faithful)
    with pytest.warns(UserWarning, match="refit of the loaded model will not repeat.*Pass an int"):
        model.save(tmp_path / "m.json")
    assert emkit.load(tmp_path / "m.json").random_state is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make(7).fit(faithful).save(tmp_path / "n.json")
    assert emkit.load(tmp_path / "n.json").random_state == 7


@pytest.mark.parametrize("seed", [2, 4, 5])
def test_weighted_tol_zero_stops_on_unchanged_labels_as_sklearn(seed):
    # With tol=0 emkit stopped only where the centres moved by exactly 0, while scikit-learn
    # stops where no label changed: with weights, the sums of the same labels taken anew (a
    # whole pass) and moved row by row (a pass from the near rows) differ by rounding, and
    # n_iter_ came out one higher (20 against 21; 3 of these 120 runs).
    rng = np.random.default_rng(seed)
    for _ in range(40):
        n, d, k = rng.integers(100, 2000), rng.integers(1, 5), rng.integers(2, 9)
        X = rng.normal(size=(n, d)) * 3 + rng.normal(0, 5, size=d)
        init = X[rng.choice(n, k, replace=False)].copy()
        sw = rng.uniform(0.1, 3, n)
        ref = SkKMeans(k, init=init, n_init=1, tol=0).fit(X, sample_weight=sw)
        ours = KMeans(k, init=init, tol=0).fit(X, sample_weight=sw)
        assert ours.n_iter_ == ref.n_iter_
        np.testing.assert_array_equal(ours.labels_, ref.labels_)
        np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-10)
        np.testing.assert_allclose(
            ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10, atol=1e-12
        )


def test_predict_and_transform_over_many_blocks_far_from_the_origin():
    """predict takes the labels alone from the pass (no distances), transform the distances by
    differences over blocks of rows (20,000 rows of 12 features and 7 centres: 43 blocks):
    against scipy's cdist and its argmin, and the labels of the fit's own pass."""
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(11)
    centres = 1e7 + 4.0 * rng.normal(size=(7, 12))
    x = centres[rng.integers(7, size=20_000)] + rng.normal(size=(20_000, 12))
    model = KMeans(7, init=centres, n_init=1).fit(x)
    ref = cdist(x, model.cluster_centers_)
    np.testing.assert_allclose(model.transform(x), ref, rtol=1e-9)
    labels = model.predict(x)
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels, ref.argmin(axis=1))
    np.testing.assert_array_equal(labels, model.labels_)
