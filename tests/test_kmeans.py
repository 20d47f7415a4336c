"""KMeans as hard EM: scikit-learn compatibility and inertia against scikit-learn's KMeans."""

import re
import warnings

import numpy as np
import pytest
from sklearn.cluster import KMeans as SkKMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from emkit.estimators.kmeans import KMeans, kmeans_plusplus


@parametrize_with_checks([KMeans(3), KMeans(2, init="random", n_init=2)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_two_clusters_match_sklearn(faithful):
    ours = KMeans(2, n_init=10, random_state=0).fit(faithful)
    ref = SkKMeans(2, n_init=10, random_state=0).fit(faithful)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-12)
    order = np.argsort(ours.cluster_centers_[:, 0])
    ref_order = np.argsort(ref.cluster_centers_[:, 0])
    np.testing.assert_allclose(
        ours.cluster_centers_[order], ref.cluster_centers_[ref_order], rtol=1e-12
    )


@pytest.mark.parametrize("k", [3, 4, 5])
def test_same_start_same_fixed_point_as_lloyd(faithful, k):
    """From the same starting centres hard EM and Lloyd's algorithm are the same iteration."""
    start = kmeans_plusplus(faithful, k, np.random.RandomState(k))
    ours = KMeans(k, init=start).fit(faithful)
    ref = SkKMeans(k, init=start, n_init=1, tol=0.0).fit(faithful)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-10)
    assert ours.inertia_ <= ref.inertia_ * (1 + 1e-12)


@pytest.mark.parametrize("k", [3, 4, 5])
def test_inertia_no_worse_than_sklearn_at_same_n_init(faithful, k):
    """Over 10 seeds at n_init=10, the best and the mean inertia are no worse than sklearn's.

    Both run greedy k-means++ then Lloyd / hard EM; they differ only in their random draws, so
    the comparison is between the distributions of the results (0.5% slack on the mean).
    """
    ours = [KMeans(k, n_init=10, random_state=s).fit(faithful).inertia_ for s in range(10)]
    ref = [SkKMeans(k, n_init=10, random_state=s).fit(faithful).inertia_ for s in range(10)]
    assert min(ours) <= min(ref) * (1 + 1e-12)
    assert np.mean(ours) <= np.mean(ref) * 1.005


def test_history_is_minus_half_inertia_and_never_decreases(faithful):
    km = KMeans(4, random_state=1).fit(faithful)
    assert np.all(np.diff(km.history_) >= 0)
    n, d = faithful.shape
    const = -n * np.log(4) - 0.5 * n * d * np.log(2 * np.pi)
    np.testing.assert_allclose(km.history_[-1], const - 0.5 * km.inertia_, rtol=1e-12)
    np.testing.assert_array_equal(km.labels_, km.predict(faithful))


def test_empty_cluster_is_reseeded_without_losing_ascent(faithful):
    start = np.array([[2.0, 55.0], [4.5, 80.0], [100.0, 1000.0]])  # third starts empty
    km = KMeans(3, init=start).fit(faithful)
    assert np.all(np.diff(km.history_) >= 0)
    assert np.bincount(km.labels_, minlength=3).min() > 0


def test_weights_equal_repeated_rows(faithful):
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 3, size=faithful.shape[0])
    weighted = KMeans(3, random_state=0).fit(faithful, sample_weight=counts)
    repeated = KMeans(3, random_state=0).fit(np.repeat(faithful, counts, axis=0))
    np.testing.assert_allclose(weighted.inertia_, repeated.inertia_, rtol=1e-10)


def test_bad_input():
    x = np.arange(6.0).reshape(3, 2)
    with pytest.raises(ValueError, match="at least 4 rows"):
        KMeans(4).fit(x)
    with pytest.raises(ValueError, match="shape"):
        KMeans(2, init=np.zeros((3, 2))).fit(x)


def test_save_load(tmp_path, faithful):
    from emkit.estimators.persist import load

    km = KMeans(3, random_state=0).fit(faithful)
    km.save(tmp_path / "km.json")
    again = load(tmp_path / "km.json")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(again.predict(faithful), km.predict(faithful))


def test_save_load_after_a_fit_on_dask(tmp_path):
    """A fit on a dask Array leaves labels_ lazy: the model file holds the model without
    them, and the loaded model labels rows as the in-memory fit does (each the nearest
    centre, by scipy), without pretending to hold the training labels."""
    import json

    da = pytest.importorskip("dask.array")
    from scipy.spatial.distance import cdist

    from emkit.estimators.persist import load

    x = np.random.default_rng(0).normal(size=(1000, 3))
    memory = KMeans(2, random_state=0).fit(x)
    lazy = KMeans(2, random_state=0).fit(da.from_array(x, chunks=200))
    lazy.save(tmp_path / "km.json")
    assert "labels_" not in json.loads((tmp_path / "km.json").read_text())["attributes"]
    again = load(tmp_path / "km.json")
    assert not hasattr(again, "labels_")
    np.testing.assert_allclose(again.cluster_centers_, memory.cluster_centers_, rtol=1e-12)
    assert again.inertia_ == pytest.approx(memory.inertia_, rel=1e-12)
    np.testing.assert_array_equal(again.predict(x), memory.labels_)
    nearest = cdist(x, again.cluster_centers_).argmin(axis=1)
    np.testing.assert_array_equal(again.predict(x), nearest)
    # in memory the labels are there to write, and are written as before
    memory.save(tmp_path / "memory.json")
    np.testing.assert_array_equal(load(tmp_path / "memory.json").labels_, memory.labels_)


def test_transform_names_its_columns_as_sklearn_in_a_pandas_pipeline(faithful):
    import pandas as pd
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = pd.DataFrame(np.asarray(faithful), columns=["eruptions", "waiting"])
    ours = KMeans(3, random_state=0).fit(frame)
    ref = SkKMeans(3, n_init=1, random_state=0).fit(frame)
    assert list(ours.get_feature_names_out()) == list(ref.get_feature_names_out())
    pipe = make_pipeline(StandardScaler(), KMeans(3, random_state=0)).set_output(transform="pandas")
    out = pipe.fit_transform(frame)
    assert list(out.columns) == ["kmeans0", "kmeans1", "kmeans2"]
    np.testing.assert_allclose(out.to_numpy(), pipe[-1].transform(pipe[0].transform(frame)))


def test_n_init_auto_starts_as_sklearn_does(faithful):
    # scikit-learn's default: one start from k-means++ (or given centres), ten from random rows.
    assert KMeans(3).n_init == SkKMeans(3).n_init == "auto"
    assert KMeans(3)._n_starts() == 1
    assert KMeans(3, init="random")._n_starts() == 10
    assert KMeans(3, init=np.zeros((3, 2)), n_init=5)._n_starts() == 1
    ten = KMeans(3, init="random", n_init=10, random_state=0).fit(faithful)
    auto = KMeans(3, init="random", random_state=0).fit(faithful)
    np.testing.assert_array_equal(auto.cluster_centers_, ten.cluster_centers_)
    assert auto.inertia_ == ten.inertia_


def test_sklearn_parameters_algorithm_and_copy_x_give_the_same_fit(faithful):
    x = np.array(faithful, dtype=float)
    before = x.copy()
    base = KMeans(3, random_state=0).fit(x)
    for params in ({"algorithm": "elkan"}, {"algorithm": "lloyd", "copy_x": False}):
        fit = KMeans(3, random_state=0, **params).fit(x)
        np.testing.assert_array_equal(fit.cluster_centers_, base.cluster_centers_)
        np.testing.assert_array_equal(x, before)  # X is never written to
    ref = SkKMeans(3, algorithm="elkan", init=base.cluster_centers_, n_init=1, tol=0).fit(x)
    np.testing.assert_allclose(base.inertia_, ref.inertia_, rtol=1e-12)


def test_verbose_prints_the_inertias_sklearn_prints(faithful, capsys):
    # Same start, Lloyd: every iteration's inertia as scikit-learn prints it, at any data scale
    # (emkit fits on rows divided by a power of two and prints in the data's units).
    import re

    x = np.asarray(faithful) * 1e3
    start = x[[0, 100, 200]]
    KMeans(3, init=start, verbose=1).fit(x)
    ours = capsys.readouterr().out
    SkKMeans(3, init=start, n_init=1, tol=0, verbose=1).fit(x)
    theirs = capsys.readouterr().out
    pattern = r"Iteration (\d+), inertia ([0-9.e+]+)\."
    ours_by = {int(i): float(v) for i, v in re.findall(pattern, ours)}
    theirs_by = {int(i): float(v) for i, v in re.findall(pattern, theirs)}
    assert ours.splitlines()[0] == "Initialization complete"
    assert "strict convergence" in ours.splitlines()[-1]
    # the same iterations, from 0 (the start's inertia) to n_iter_ - 1
    assert sorted(ours_by) == sorted(theirs_by) and len(theirs_by) >= 3
    for i, inertia in theirs_by.items():
        assert ours_by[i] == pytest.approx(inertia, rel=1e-10)


def test_a_callable_init_starts_as_scikit_learns(faithful, tmp_path):
    # init=callable, as scikit-learn takes it, was refused by the parameter validation.
    calls = []

    def first_rows(x, k, random_state):
        calls.append((x.shape, k, type(random_state).__name__))
        return x[:k]

    ours = KMeans(3, init=first_rows, n_init=1, tol=0).fit(faithful)
    given = KMeans(3, init=faithful[:3], tol=0).fit(faithful)
    np.testing.assert_array_equal(ours.cluster_centers_, given.cluster_centers_)
    assert calls == [(faithful.shape, 3, "RandomState")]
    # the callable sees the rows as given (scikit-learn's sees them centred, an internal)
    ref = SkKMeans(3, init=faithful[:3], n_init=1, tol=0, algorithm="lloyd").fit(faithful)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)
    with pytest.raises(TypeError, match="parameter init is a function"):
        ours.save(tmp_path / "k.json")
    ours.set_params(init=ours.cluster_centers_).save(tmp_path / "k.json")
    sk = SkKMeans(3, init=first_rows, max_iter=1).fit(faithful)  # "auto": 10 starts for it
    assert KMeans(3, init=first_rows)._n_starts() == sk._n_init == 10


def test_a_callable_init_gets_random_state_by_keyword_as_sklearn(faithful):
    # init(X, n_clusters, rng) passed the RandomState by position: a callable with a
    # keyword-only random_state, which scikit-learn calls as init(X, n_clusters,
    # random_state=...), failed with TypeError: 3 positional arguments given.
    def drawn_rows(x, n_clusters, *, random_state):
        return x[random_state.choice(x.shape[0], n_clusters, replace=False)].copy()

    ours = KMeans(3, init=drawn_rows, n_init=2, random_state=5).fit(faithful)
    ref = SkKMeans(3, init=drawn_rows, n_init=2, random_state=5).fit(faithful)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)
    assert ours.n_iter_ == ref.n_iter_


def _three_blobs(seed=0):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(c, 0.5, (30, 2)) for c in ([0, 0], [4, 0], [2, 3])])


@pytest.mark.parametrize("tol", [0.0, 1e-4, 1e-2, 0.1, 1.0, 10.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_tol_is_scikit_learns_centre_shift(tol, weighted, capsys):
    # emkit's tol bounded the fall of the inertia (default 0), scikit-learn's the centres'
    # squared shift (default 1e-4): KMeans(3, init=X[:3], tol=0.1) stopped after 2
    # iterations at 239.26 where scikit-learn runs 3 to 238.53.
    x = _three_blobs()
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(x)) if weighted else None
    ours = KMeans(3, init=x[:3], tol=tol, verbose=1).fit(x, sample_weight=w)
    ours_out = capsys.readouterr().out
    ref = SkKMeans(3, init=x[:3], n_init=1, tol=tol, verbose=1).fit(x, sample_weight=w)
    ref_out = capsys.readouterr().out
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-12)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-12)
    # The last line says where and how it converged, as scikit-learn's does.
    ending = r"Converged at iteration (\d+): (strict convergence|center shift)"
    assert re.search(ending, ours_out).groups() == re.search(ending, ref_out).groups()


def test_default_tol_is_scikit_learns():
    assert KMeans().tol == SkKMeans().tol == 1e-4
    x = _three_blobs(seed=2)
    for init in ("k-means++", "random"):
        ours = KMeans(3, init=init, n_init=1, random_state=0).fit(x)
        start = ours.cluster_centers_  # scikit-learn from emkit's fixed point stays there
        ref = SkKMeans(3, init=start, n_init=1).fit(x)
        assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-12)


def test_fewer_distinct_points_than_clusters_warns_as_scikit_learn():
    x = np.array([[0.0, 0], [0, 0], [1, 1], [1, 1], [1, 1]])
    message = r"Number of distinct clusters \(2\) found smaller than n_clusters \(5\)"
    with pytest.warns(ConvergenceWarning, match=message):
        SkKMeans(5, random_state=0).fit(x)
    with pytest.warns(ConvergenceWarning, match=message):
        ours = KMeans(5, random_state=0).fit(x)
    assert np.unique(ours.labels_).size == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        KMeans(2, random_state=0).fit(x)


def test_explicit_centres_with_several_starts_warn_as_scikit_learn():
    x = _three_blobs()
    message = (
        r"Explicit initial center position passed: performing only one init in KMeans "
        r"instead of n_init=5\."
    )
    with pytest.warns(RuntimeWarning, match=message):
        SkKMeans(3, init=x[:3], n_init=5).fit(x)
    with pytest.warns(RuntimeWarning, match=message):
        ours = KMeans(3, init=x[:3], n_init=5).fit(x)
    np.testing.assert_array_equal(ours.labels_, KMeans(3, init=x[:3]).fit(x).labels_)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for n_init in ("auto", 1):
            SkKMeans(3, init=x[:3], n_init=n_init).fit(x)
            KMeans(3, init=x[:3], n_init=n_init).fit(x)
        KMeans(3, init="random", n_init=5, random_state=0).fit(x)


def test_dask_tolerance_is_scaled_by_every_rows_variance(monkeypatch):
    # scikit-learn scales tol by the mean variance of X's columns; on a Dask collection the
    # starts come from a sample, and the tolerance was scaled by the sample's variance.
    da = pytest.importorskip("dask.array")
    import emkit.estimators._inputs as inputs
    import emkit.estimators.kmeans as kmeans_module

    monkeypatch.setattr(inputs, "INIT_ROWS", 300)
    tolerances = []

    class Recorded(kmeans_module.CentreShift):
        def __init__(self, tol):
            super().__init__(tol)
            tolerances.append(tol)

    monkeypatch.setattr(kmeans_module, "CentreShift", Recorded)
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 1, (3000, 2)), rng.normal(3, 1, (3000, 2)) * [1, 20]]
    x[:50] *= 30
    KMeans(4, init=x[[0, 3500, 5000, 100]], n_init=1, tol=1e-3).fit(da.from_array(x, chunks=1000))
    assert tolerances == [pytest.approx(1e-3 * np.mean(x.var(axis=0)), rel=1e-12)]


@pytest.mark.parametrize("weighted", [False, True])
def test_an_emptied_cluster_is_relocated_as_scikit_learn_does(faithful, weighted):
    # The farthest row leaves its cluster for the empty one in the same M-step: from the same
    # start the iterates, and so n_iter_, labels_, centres and inertia_, are scikit-learn's.
    x = np.asarray(faithful)
    weights = np.random.default_rng(0).integers(1, 4, x.shape[0]).astype(float)
    w = weights if weighted else None
    start = np.array([[2.0, 55.0], [4.5, 80.0], [100.0, 1000.0]])  # the third starts empty
    ours = KMeans(3, init=start).fit(x, sample_weight=w)
    ref = SkKMeans(3, init=start, n_init=1).fit(x, sample_weight=w)
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)
    # four rows, the second centre far from all: three iterations, as scikit-learn's own test
    rows = np.array([[0.0, 0.0], [0.4, 0.0], [0.5, 1.0], [1.2, 1.0]])
    start = np.array([[0.5, 0.5], [3.0, 3.0]])
    w = np.array([1.0, 2.0, 1.0, 3.0]) if weighted else None  # the moved row weighs 3
    ours = KMeans(2, init=start).fit(rows, sample_weight=w)
    ref = SkKMeans(2, init=start, n_init=1).fit(rows, sample_weight=w)
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-12)


def _fit_both(x, w, start):
    """emkit's and scikit-learn's KMeans from ``start``, and each fit's warnings' texts."""
    fits = []
    for cls in (KMeans, SkKMeans):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = cls(start.shape[0], init=start, n_init=1).fit(x, sample_weight=w)
        fits.append((model, [str(c.message) for c in caught]))
    return fits


def test_cluster_of_zero_weight_is_empty_as_in_sklearn():
    # The centre [1, 1] holds only rows of weight 0: scikit-learn counts it empty; with every
    # row at its centre there is nothing to re-seed on, and it takes the heaviest centre.
    x = np.array([[0, 0], [0, 0], [1, 1], [1, 1], [5, 5]], dtype=float)
    w = np.array([1, 1, 0, 0, 1.0])
    (ours, our_warn), (ref, ref_warn) = _fit_both(x, w, x[[0, 2, 4]])
    np.testing.assert_array_equal(ours.labels_, ref.labels_)  # [0 0 0 0 2]
    assert ours.n_iter_ == ref.n_iter_ == 2
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, atol=1e-12)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, atol=1e-12)
    assert any("distinct clusters (2)" in m for m in our_warn)
    assert any("distinct clusters (2)" in m for m in ref_warn)


def test_float32_rows_give_float32_centres_and_int32_labels_as_sklearn(faithful):
    start = np.array([[2.0, 55.0], [4.5, 80.0]])
    for dtype in (np.float32, np.float64):
        x = faithful.astype(dtype)
        ours = KMeans(2, init=start).fit(x)
        ref = SkKMeans(2, init=start, n_init=1).fit(x)
        assert ours.cluster_centers_.dtype == ref.cluster_centers_.dtype == dtype
        assert ours.labels_.dtype == ref.labels_.dtype == np.int32
        assert ours.predict(x).dtype == ref.predict(x).dtype == np.int32
        assert ours.transform(x).dtype == ref.transform(x).dtype == dtype
        rtol = 1e-6 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=rtol)
        np.testing.assert_allclose(ours.transform(x), ref.transform(x), rtol=rtol, atol=1e-5)


def test_float32_dataframe_gives_float32_centres_as_sklearn(faithful):
    # A float32 DataFrame (no .dtype) gave float64 centres and distances where scikit-learn
    # gives float32 as for a float32 array; a DataFrame with a float64 column stays float64.
    pd = pytest.importorskip("pandas")
    start = np.array([[2.0, 55.0], [4.5, 80.0]])
    single = pd.DataFrame(faithful.astype(np.float32), columns=["eruptions", "waiting"])
    mixed = single.astype({"waiting": np.float64})
    for frame in (single, mixed):
        ours = KMeans(2, init=start).fit(frame)
        ref = SkKMeans(2, init=start, n_init=1).fit(frame)
        assert ours.cluster_centers_.dtype == ref.cluster_centers_.dtype
        assert ours.transform(frame).dtype == ref.transform(frame).dtype
        np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-6)
        np.testing.assert_allclose(ours.transform(frame), ref.transform(frame), atol=1e-4)
    assert KMeans(2, init=start).fit(single).cluster_centers_.dtype == np.float32
    assert KMeans(2, init=start).fit(mixed).cluster_centers_.dtype == np.float64


@pytest.mark.parametrize("device", [None, "cpu"])
@pytest.mark.parametrize("rows", [np.float32, np.float64])
def test_dtype_float32_gives_float32_centres_on_every_path(faithful, device, rows):
    # KMeans(device="cpu", dtype="float32") returned float64 centres, of float32 rows too,
    # where KMeans() returns float32 ones for float32 rows, as scikit-learn does.
    if device is not None:
        pytest.importorskip("torch")
    start = np.array([[2.0, 55.0], [4.5, 80.0]])
    x = faithful.astype(rows)
    ours = KMeans(2, init=start, device=device, dtype="float32").fit(x)
    ref = SkKMeans(2, init=start, n_init=1).fit(faithful.astype(np.float32))
    assert ours.cluster_centers_.dtype == ref.cluster_centers_.dtype == np.float32
    assert ours.labels_.dtype == np.int32
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-6)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-6)
    single = faithful.astype(np.float32)
    assert ours.transform(single).dtype == ref.transform(single).dtype == np.float32
    np.testing.assert_allclose(ours.transform(single), ref.transform(single), atol=1e-4)


@pytest.mark.parametrize("dtype", [None, "float64"])
def test_centres_follow_the_rows_or_dtype_on_a_device(faithful, dtype):
    # On a device the centres were float64 whatever the rows; without dtype they now follow
    # the rows as in NumPy (scikit-learn's rule), and dtype="float64" keeps float64.
    torch = pytest.importorskip("torch")
    start = np.array([[2.0, 55.0], [4.5, 80.0]])
    single = faithful.astype(np.float32)
    want = np.float32 if dtype is None else np.float64
    for x in (single, torch.from_numpy(single)):
        ours = KMeans(2, init=start, device="cpu", dtype=dtype).fit(x)
        assert ours.cluster_centers_.dtype == want
        host = KMeans(2, init=start, dtype=dtype).fit(single)
        assert host.cluster_centers_.dtype == want
        np.testing.assert_allclose(ours.cluster_centers_, host.cluster_centers_, rtol=1e-6)
    assert KMeans(2, init=start, device="cpu").fit(faithful).cluster_centers_.dtype == np.float64


def test_fewer_rows_than_clusters_names_clusters():
    with pytest.raises(ValueError, match=r"n_samples = 2\. Use fewer clusters or more data"):
        KMeans(3).fit(np.array([[0.0, 1.0], [2.0, 3.0]]))


def test_pandas_output_on_dask_is_a_lazy_frame_with_the_index_of_x(faithful):
    # scikit-learn's set_output wrapper computed a lazy result into a pandas DataFrame numbered
    # 0..n-1: a new index, which silently misaligns on a join with X.
    import pandas as pd
    from scipy.spatial.distance import cdist

    dd = pytest.importorskip("dask.dataframe")
    da = pytest.importorskip("dask.array")
    x = np.asarray(faithful)[:60]
    df = pd.DataFrame(x, columns=["eruptions", "waiting"], index=np.arange(1000, 1060))
    ddf = dd.from_pandas(df, npartitions=3)
    km = KMeans(3, random_state=0).set_output(transform="pandas").fit(df)
    expected = km.transform(df)
    assert list(expected.index) == list(df.index)
    np.testing.assert_allclose(expected.to_numpy(), cdist(x, km.cluster_centers_), rtol=1e-12)
    for out in (
        km.transform(ddf),
        KMeans(3, random_state=0).set_output(transform="pandas").fit_transform(ddf),
    ):
        assert isinstance(out, dd.DataFrame)  # lazy, not computed into pandas
        assert out.divisions == ddf.divisions
        pd.testing.assert_frame_equal(out.compute(), expected, rtol=1e-12)
    # a dask Array has no index: its rows are numbered from 0, as pandas numbers an array's
    unnamed = KMeans(3, random_state=0).set_output(transform="pandas").fit(x)
    for out in (
        unnamed.transform(da.from_array(x, chunks=(25, 2))),
        KMeans(3, random_state=0)
        .set_output(transform="pandas")
        .fit_transform(da.from_array(x, chunks=(25, 2))),
    ):
        assert isinstance(out, dd.DataFrame)
        pd.testing.assert_frame_equal(out.compute(), unnamed.transform(x), rtol=1e-12)
    # without pandas output (or with polars, which has no lazy Dask form) the lazy dask Array
    assert isinstance(KMeans(3, random_state=0).fit(df).transform(ddf), da.Array)
    assert isinstance(KMeans(3, random_state=0).fit(df).fit_transform(ddf), da.Array)
