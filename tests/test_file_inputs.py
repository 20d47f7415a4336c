"""Estimators reading files: a Fortran-ordered .npy, Parquet column names, predict on a path."""

import numpy as np
import pandas as pd
import pytest

import emkit


@pytest.fixture
def frame(faithful):
    return pd.DataFrame(faithful, columns=["eruptions", "waiting"])


def test_fortran_ordered_npy_fits_as_the_array(tmp_path, faithful):
    path = tmp_path / "f.npy"
    np.save(path, np.asfortranarray(faithful))
    assert not np.load(path, mmap_mode="r").flags.c_contiguous
    from_file = emkit.GaussianMixture(2, random_state=0).fit(path)
    in_memory = emkit.GaussianMixture(2, random_state=0).fit(faithful)
    np.testing.assert_allclose(from_file.means_, in_memory.means_, rtol=1e-10)
    assert from_file.log_likelihood_ == pytest.approx(in_memory.log_likelihood_, rel=1e-12)
    np.testing.assert_array_equal(from_file.predict(path), in_memory.predict(faithful))


def test_parquet_fit_names_features_and_predict_reads_them(tmp_path, frame):
    path = tmp_path / "f.parquet"
    frame.to_parquet(path)
    model = emkit.GaussianMixture(2, random_state=0).fit(path)
    assert model.feature_names_in_.tolist() == ["eruptions", "waiting"]
    reference = emkit.GaussianMixture(2, random_state=0).fit(frame)
    np.testing.assert_allclose(model.means_, reference.means_, rtol=1e-10)
    # another file: columns in another order, one more text column
    other = tmp_path / "g.parquet"
    frame[["waiting", "eruptions"]].assign(site="x").to_parquet(other)
    np.testing.assert_array_equal(model.predict(other), reference.predict(frame))
    np.testing.assert_allclose(model.predict_proba(str(other)), reference.predict_proba(frame))
    imputer = emkit.GaussianImputer().fit(path)
    assert imputer.feature_names_in_.tolist() == ["eruptions", "waiting"]


def test_predict_on_a_file_of_another_kind_says_what_to_do(tmp_path, frame):
    model = emkit.GaussianMixture(1).fit(frame.to_numpy())
    path = tmp_path / "f.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"must be \.npy or Parquet"):
        model.predict(path)


def test_an_index_pandas_stored_in_parquet_is_not_a_feature(tmp_path, frame):
    # A filtered frame keeps its row labels: pandas stores them as __index_level_0__ (a named
    # index under its name) and reads them back as the index. They were fitted as a feature.
    subset = frame[frame.waiting > 60]
    path = tmp_path / "sub.parquet"
    subset.to_parquet(path)
    named = tmp_path / "named.parquet"
    subset.rename_axis("visit").to_parquet(named)
    reference = emkit.GaussianMixture(2, random_state=0).fit(subset)
    for source in (path, named):
        model = emkit.GaussianMixture(2, random_state=0).fit(source)
        assert model.feature_names_in_.tolist() == ["eruptions", "waiting"]
        np.testing.assert_allclose(model.means_, reference.means_, rtol=1e-10)
        np.testing.assert_array_equal(model.predict(source), reference.predict(subset))
    selected = emkit.select_mixture(path, n_components=[2], covariance_types=["VVV"]).best_
    expected = emkit.select_mixture(subset, n_components=[2], covariance_types=["VVV"]).best_
    assert selected.feature_names_in_.tolist() == ["eruptions", "waiting"]
    np.testing.assert_allclose(selected.means_, expected.means_, rtol=1e-10)
    # a text index is the index too, not a column that fails the check for numbers
    text_index = tmp_path / "text_index.parquet"
    subset.set_axis([f"r{i}" for i in range(len(subset))]).to_parquet(text_index)
    model = emkit.GaussianMixture(2, random_state=0).fit(text_index)
    np.testing.assert_allclose(model.means_, reference.means_, rtol=1e-10)


def test_a_folder_of_parquet_files_fits_as_its_rows(tmp_path, frame):
    # A data set as Spark and Dask write it: part files, read in pandas' order, and a marker.
    folder = tmp_path / "rows"
    folder.mkdir()
    parts = [frame[:100], frame[100:200], frame[200:]]
    for i, part in zip((0, 1, 2), parts, strict=True):
        part.to_parquet(folder / f"part.{i}.parquet")
    (folder / "_SUCCESS").write_bytes(b"")
    reference = emkit.GaussianMixture(2, random_state=0).fit(frame)
    model = emkit.GaussianMixture(2, random_state=0).fit(folder)
    assert model.feature_names_in_.tolist() == ["eruptions", "waiting"]
    assert model.log_likelihood_ == pytest.approx(reference.log_likelihood_, rel=1e-12)
    np.testing.assert_allclose(model.means_, reference.means_, rtol=1e-10)
    np.testing.assert_array_equal(model.predict(str(folder)), reference.predict(frame))
    assert model.score(folder) == pytest.approx(reference.score(frame), rel=1e-12)
    in_memory = emkit.GaussianMixture(2, random_state=0).fit(frame.to_numpy())
    np.testing.assert_array_equal(in_memory.predict(folder), reference.predict(frame))
    assert emkit.GaussianImputer().fit(folder).feature_names_in_.tolist() == [
        "eruptions",
        "waiting",
    ]


def test_a_parquet_folder_fit_cannot_read_says_why(tmp_path, frame):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="a folder with no Parquet file in it"):
        emkit.GaussianMixture(1).fit(empty)
    other = tmp_path / "other"
    other.mkdir()
    frame.to_parquet(other / "a.parquet")
    frame.assign(extra=1.0).to_parquet(other / "b.parquet")
    with pytest.raises(ValueError, match=r"b\.parquet has the columns .* every file of a"):
        emkit.GaussianMixture(1).fit(other)
    hive = tmp_path / "hive"
    (hive / "site=1").mkdir(parents=True)
    frame.to_parquet(hive / "site=1" / "a.parquet")
    with pytest.raises(ValueError, match=r"partitioned into key=value folders \(site\)"):
        emkit.GaussianMixture(1).fit(hive)
    with pytest.raises(ValueError, match="no such file or folder"):
        emkit.GaussianMixture(1).fit(tmp_path / "absent")


def test_a_parquet_folder_queried_names_the_file_that_lacks_a_fitted_column(tmp_path):
    # The fitted names were looked for in the first file only: a later file without one of
    # them raised pyarrow's error from the read.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(100, 2)), columns=["a", "b"])
    model = emkit.GaussianMixture(2, random_state=0).fit(frame)
    folder = tmp_path / "rows"
    folder.mkdir()
    frame.to_parquet(folder / "0.parquet")
    frame.rename(columns={"b": "c"}).to_parquet(folder / "1.parquet")
    with pytest.raises(ValueError, match=r"1\.parquet has the columns \['a', 'c'\]"):
        model.predict(folder)
    frame.assign(extra=1.0).to_parquet(folder / "1.parquet")  # the fitted columns, and more
    np.testing.assert_array_equal(model.predict(folder), model.predict(pd.concat([frame] * 2)))


@pytest.mark.filterwarnings("ignore::emkit.exceptions.DegenerateFitWarning")  # 0/1 columns
def test_a_boolean_npy_fits_as_the_array_and_parquet_do(tmp_path, frame):
    # A bool .npy was refused as "not real numbers", while the same booleans fit in memory
    # and from a Parquet file (as 0 and 1).
    flags = frame.to_numpy() > frame.median().to_numpy()
    np.save(tmp_path / "b.npy", flags)
    pd.DataFrame(flags, columns=["u", "v"]).to_parquet(tmp_path / "b.parquet")
    options = dict(covariance_type="diag", reg_covar=1e-3, random_state=0)
    in_memory = emkit.GaussianMixture(2, **options).fit(flags)
    for path in ("b.npy", "b.parquet"):
        from_file = emkit.GaussianMixture(2, **options).fit(tmp_path / path)
        np.testing.assert_allclose(from_file.means_, in_memory.means_, rtol=1e-10)
        assert from_file.log_likelihood_ == pytest.approx(in_memory.log_likelihood_, rel=1e-12)


@pytest.mark.parametrize("name", ["KMeans", "MixtureModel", "GenerativeClassifier"])
def test_an_estimator_that_reads_no_files_says_so_for_a_path(tmp_path, faithful, name):
    # KMeans and GenerativeClassifier failed on a Path with NumPy's "float() argument must
    # be a string or a real number, not 'PosixPath'".
    path = tmp_path / "x.npy"
    np.save(path, faithful)
    make = {
        "KMeans": lambda: emkit.KMeans(2),
        "MixtureModel": lambda: emkit.MixtureModel([emkit.Normal(), emkit.Normal()]),
        "GenerativeClassifier": lambda: emkit.GenerativeClassifier(),
    }[name]
    labels = (faithful[:, 0] > 3).astype(int)
    for given in (path, str(path)):
        with pytest.raises(ValueError, match=f"{name} does not read files: load it first"):
            make().fit(given, labels)


def test_the_refusal_of_a_path_names_exactly_the_estimators_that_read_files(tmp_path, faithful):
    # It said "GaussianMixture and GaussianImputer read .npy and Parquet files chunk by chunk":
    # select_mixture reads them too, GaussianImputer.fit_transform as well, and their
    # predict, transform and score read a file into memory, not chunk by chunk. Then it left
    # out bootstrap (which reads a path into memory) and GaussianMixture.fit_predict (which
    # labels it chunk by chunk).
    path = tmp_path / "x.npy"
    np.save(path, faithful)
    readers = (
        "Only GaussianMixture, GaussianImputer, select_mixture and bootstrap take a path to a "
        ".npy or Parquet file: GaussianMixture.fit and fit_predict, GaussianImputer.fit and "
        "fit_transform, and select_mixture read it chunk by chunk; the other methods of "
        "GaussianMixture and GaussianImputer (predict, transform, score, ...) and bootstrap "
        "read it into memory"
    )
    counts = np.round(faithful[:, :1]) - 2  # 0 to 3
    others = {
        "KMeans": lambda: emkit.KMeans(2).fit(path),
        "MixtureModel": lambda: emkit.MixtureModel([emkit.Normal(), emkit.Normal()]).fit(path),
        "BayesianMixture": lambda: emkit.BayesianMixture([emkit.Normal(), emkit.Normal()]).fit(
            path
        ),
        "GenerativeClassifier": lambda: emkit.GenerativeClassifier().fit(path, faithful[:, 0] > 3),
        "MixtureOfRegressions": lambda: emkit.MixtureOfRegressions(2).fit(path, faithful[:, 1]),
        "ZeroInflatedPoisson": lambda: emkit.ZeroInflatedPoisson().fit(counts).predict(path),
    }
    for name, call in others.items():
        with pytest.raises(ValueError) as refusal:
            call()
        assert f"{name} does not read files: load it first" in str(refusal.value)
        assert readers in str(refusal.value)
    # each reader named reads the file as the same rows in memory
    options = dict(covariance_type="diag", random_state=0)
    memory = emkit.GaussianMixture(2, **options).fit(faithful)
    from_file = emkit.GaussianMixture(2, **options).fit(path)
    np.testing.assert_allclose(from_file.means_, memory.means_, rtol=1e-10)
    np.testing.assert_array_equal(from_file.predict(path), memory.predict(faithful))
    np.testing.assert_array_equal(
        emkit.GaussianMixture(2, **options).fit_predict(path), memory.predict(faithful)
    )
    assert from_file.score(path) == pytest.approx(memory.score(faithful), rel=1e-12)
    # complete rows come back unchanged
    np.testing.assert_allclose(emkit.GaussianImputer().fit_transform(path), faithful, rtol=0)
    imputer = emkit.GaussianImputer().fit(faithful)
    assert imputer.score(path) == pytest.approx(imputer.score(faithful), rel=1e-12)
    grid = dict(n_components=[1, 2], covariance_types=["diag"])
    selected = emkit.select_mixture(path, **grid)
    in_memory = emkit.select_mixture(faithful, **grid)
    np.testing.assert_allclose(selected.table_["bic"], in_memory.table_["bic"], rtol=1e-10)
    for kind in ("nonparametric", "parametric"):
        boot = dict(n_boot=3, kind=kind, random_state=0)
        np.testing.assert_array_equal(
            emkit.bootstrap(memory, path, **boot).replicates["means"],
            emkit.bootstrap(memory, faithful, **boot).replicates["means"],
        )


def test_the_refusal_of_a_re_iterable_names_the_methods_that_read_one(faithful):
    # It named GaussianMixture.fit and GaussianImputer.fit alone; fit_predict, fit_transform
    # and select_mixture read a re-iterable of chunks one at a time too.
    class Chunks:
        def __iter__(self):
            return iter([faithful[:100], faithful[100:]])

    with pytest.raises(ValueError) as refusal:
        emkit.KMeans(2).fit(Chunks())
    assert (
        "which only GaussianMixture.fit and fit_predict, GaussianImputer.fit and "
        "fit_transform, and select_mixture read one at a time (bootstrap stacks the chunks in "
        "memory): pass list(X)"
    ) in str(refusal.value)
    options = dict(covariance_type="diag", random_state=0)
    np.testing.assert_array_equal(
        emkit.GaussianMixture(2, **options).fit_predict(Chunks()),
        emkit.GaussianMixture(2, **options).fit_predict(faithful),
    )
    np.testing.assert_allclose(emkit.GaussianImputer().fit_transform(Chunks()), faithful, rtol=0)
    grid = dict(n_components=[1, 2], covariance_types=["diag"])
    np.testing.assert_allclose(
        emkit.select_mixture(Chunks(), **grid).table_["bic"],
        emkit.select_mixture(faithful, **grid).table_["bic"],
        rtol=1e-10,
    )
    fitted = emkit.GaussianMixture(2, **options).fit(faithful)
    np.testing.assert_array_equal(
        emkit.bootstrap(fitted, Chunks(), n_boot=3, random_state=0).replicates["means"],
        emkit.bootstrap(fitted, faithful, n_boot=3, random_state=0).replicates["means"],
    )


def _two_groups(n, seed=0):
    """n rows of two well-separated groups in 2-D: more rows than a chunk (65536)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    x[: n // 3] += 4.0
    return x


@pytest.mark.parametrize("suffix", [".npy", ".parquet"])
def test_fit_predict_of_a_path_labels_it_chunk_by_chunk_as_the_array(tmp_path, suffix):
    # fit_predict(path) fitted chunk by chunk, then read the whole file into memory to label
    # it; it now labels one chunk at a time: the labels of the array, in the file's order.
    x = _two_groups(150_000)
    path = tmp_path / f"x{suffix}"
    if suffix == ".npy":
        np.save(path, x)
    else:
        pd.DataFrame(x, columns=["a", "b"]).to_parquet(path, row_group_size=40_000)
    options = dict(covariance_type="diag", random_state=0)
    labels = emkit.GaussianMixture(2, **options).fit_predict(path)
    memory = emkit.GaussianMixture(2, **options).fit(x)
    assert labels.shape == (x.shape[0],) and labels.dtype == memory.predict(x[:5]).dtype
    np.testing.assert_array_equal(labels, memory.predict(x))
    np.testing.assert_array_equal(labels, emkit.GaussianMixture(2, **options).fit_predict(x))


@pytest.mark.parametrize("suffix", [".npy", ".parquet"])
def test_fit_transform_of_a_path_fills_it_as_the_array(tmp_path, suffix):
    # the rows of every chunk filled in the file's order, as transform fills the array
    x = _two_groups(150_000, seed=1)
    x[np.random.default_rng(2).random(x.shape) < 0.2] = np.nan
    x[7] = np.nan  # a row with nothing observed: the mean
    path = tmp_path / f"x{suffix}"
    if suffix == ".npy":
        np.save(path, x)
    else:
        pd.DataFrame(x, columns=["a", "b"]).to_parquet(path, row_group_size=40_000)
    filled = emkit.GaussianImputer().fit_transform(path)
    memory = emkit.GaussianImputer().fit(x)
    np.testing.assert_allclose(filled, memory.transform(x), rtol=1e-9, atol=1e-12)
    observed = ~np.isnan(x)
    np.testing.assert_array_equal(filled[observed], x[observed])
    np.testing.assert_allclose(filled[7], memory.mean_, rtol=1e-12)
