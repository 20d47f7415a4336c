"""Fits read chunk by chunk from disk or a re-iterable give the in-memory answer, in bounded
memory, and check every chunk."""

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.base import clone

from emkit import GaussianImputer, GaussianMixture, KMeans
from emkit.backend.sources import IterableChunks, as_chunks
from emkit.estimators import gaussian_mixture


def blobs(n, d=3, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=6.0, size=(k, d))
    return centres[rng.integers(k, size=n)] + rng.normal(size=(n, d))


class Restarting:
    """A re-iterable whose ``__iter__`` starts over, as a reader of a database would."""

    def __init__(self, x, rows):
        self.x, self.rows = x, rows

    def __iter__(self):
        for start in range(0, len(self.x), self.rows):
            yield self.x[start : start + self.rows]


def sources(x, tmp_path):
    np.save(tmp_path / "x.npy", x)
    pq.write_table(pa.table({f"f{i}": x[:, i] for i in range(x.shape[1])}), tmp_path / "x.parquet")
    return {
        "npy path": str(tmp_path / "x.npy"),
        "parquet path": tmp_path / "x.parquet",
        "memmap": np.load(tmp_path / "x.npy", mmap_mode="r"),
        "list of chunks": [x[:1234], x[1234:5000], x[5000:]],
        "re-iterable": Restarting(x, 999),
    }


@pytest.mark.parametrize("name", ["full", "diag"])
def test_every_source_gives_the_in_memory_fit(tmp_path, name):
    x = blobs(8000)
    # Chunks of other sizes round differently; a tight tol makes both runs reach the optimum.
    options = dict(covariance_type=name, random_state=0, tol=1e-12)
    reference = GaussianMixture(3, **options).fit(x)
    for label, source in sources(x, tmp_path).items():
        fitted = GaussianMixture(3, **options).fit(source)
        assert fitted.log_likelihood_ == pytest.approx(reference.log_likelihood_, rel=1e-10), label
        np.testing.assert_allclose(fitted.means_, reference.means_, rtol=1e-7, err_msg=label)
        np.testing.assert_allclose(
            fitted.covariances_, reference.covariances_, rtol=1e-6, err_msg=label
        )
        assert fitted.n_features_in_ == 3
        np.testing.assert_allclose(fitted.predict_proba(x), reference.predict_proba(x), atol=1e-6)


def with_holes(x, fraction=0.3, seed=0):
    """``x`` with a ``fraction`` of its values NaN, and no row entirely NaN."""
    x = x.copy()
    x[np.random.default_rng(seed).random(x.shape) < fraction] = np.nan
    x[np.isnan(x).all(axis=1), 0] = 1.0
    return x


def test_missing_data_estimators_read_every_source(tmp_path):
    x = with_holes(blobs(6000, seed=4))
    imputer = GaussianImputer(tol=1e-14)
    mixture = GaussianMixture(2, missing="em", random_state=0, tol=1e-12)
    for estimator in (imputer, mixture):
        reference = clone(estimator).fit(x)
        for label, source in sources(x, tmp_path).items():
            fitted = clone(estimator).fit(source)
            assert fitted.log_likelihood_ == pytest.approx(reference.log_likelihood_, rel=1e-10)
            for name in ("mean_", "covariance_", "means_", "covariances_"):
                if hasattr(reference, name):
                    np.testing.assert_allclose(
                        getattr(fitted, name),
                        getattr(reference, name),
                        rtol=1e-8,
                        atol=1e-12,
                        err_msg=f"{label}: {name}",
                    )
            assert fitted.n_features_in_ == 3


def test_missing_data_chunks_keep_the_in_memory_rules(tmp_path):
    x = with_holes(blobs(3000, seed=5))
    w = np.random.default_rng(1).uniform(0.0, 3.0, size=len(x))
    np.save(tmp_path / "x.npy", x)
    reference = GaussianImputer().fit(x, sample_weight=w)
    fitted = GaussianImputer().fit(tmp_path / "x.npy", sample_weight=w)
    assert fitted.log_likelihood_ == pytest.approx(reference.log_likelihood_, rel=1e-10)
    empty = x.copy()
    empty[[10, 2500]] = np.nan  # no information: the imputer leaves such rows out
    reference = GaussianImputer().fit(empty)
    fitted = GaussianImputer().fit([empty[:2000], empty[2000:]])
    assert fitted.log_likelihood_ == pytest.approx(reference.log_likelihood_, rel=1e-10)
    np.testing.assert_allclose(fitted.covariance_, reference.covariance_, rtol=1e-8)
    with pytest.raises(ValueError, match="have no observed value.*row 10"):
        GaussianMixture(2, missing="em").fit([empty[:2000], empty[2000:]])
    infinite = np.where(np.isnan(x), np.inf, x)
    for estimator in (GaussianImputer(), GaussianMixture(2, missing="em")):
        with pytest.raises(ValueError, match="infinite"):
            estimator.fit([x[:2000], infinite[2000:]])
    unseen = x.copy()
    unseen[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"columns \[1\] have no observed value"):
        GaussianImputer().fit([unseen[:2000], unseen[2000:]])


def test_large_sources_start_from_the_same_sample(tmp_path, monkeypatch):
    monkeypatch.setattr(gaussian_mixture, "INIT_ROWS", 2000)
    x = blobs(9000, seed=1)
    reference = GaussianMixture(3, random_state=0, n_init=2, tol=1e-12).fit(x)
    for label, source in sources(x, tmp_path).items():
        fitted = GaussianMixture(3, random_state=0, n_init=2, tol=1e-12).fit(source)
        assert fitted.log_likelihood_ == pytest.approx(reference.log_likelihood_, rel=1e-10), label


def test_sample_weight_with_a_file(tmp_path):
    x = blobs(3000, seed=2)
    w = np.random.default_rng(0).uniform(0.0, 3.0, size=len(x))
    np.save(tmp_path / "x.npy", x)
    reference = GaussianMixture(2, random_state=0).fit(x, sample_weight=w)
    fitted = GaussianMixture(2, random_state=0).fit(tmp_path / "x.npy", sample_weight=w)
    assert fitted.log_likelihood_ == pytest.approx(reference.log_likelihood_, rel=1e-10)


def test_float32_file(tmp_path):
    x = blobs(4000, seed=3)
    np.save(tmp_path / "x32.npy", x.astype(np.float32))
    reference = GaussianMixture(3, random_state=0).fit(x)
    fitted = GaussianMixture(3, random_state=0, dtype=np.float32).fit(tmp_path / "x32.npy")
    assert fitted.log_likelihood_ == pytest.approx(reference.log_likelihood_, rel=1e-4)


def test_each_chunk_is_checked(tmp_path):
    x = blobs(3000)
    bad = x.copy()
    bad[2500, 1] = np.nan
    with pytest.raises(
        ValueError, match=r"row 2000 contains NaN in 1 of 1000 rows \(columns \[1\]\)"
    ):
        GaussianMixture(2).fit([x[:2000], bad[2000:]])
    with pytest.raises(ValueError, match="columns"):
        GaussianMixture(2).fit([x[:2000], x[2000:, :2]])
    with pytest.raises(ValueError, match="one-shot"):
        GaussianMixture(2).fit(iter([x[:2000], x[2000:]]))
    with pytest.raises(ValueError, match="no such file"):
        GaussianMixture(2).fit(str(tmp_path / "missing.npy"))
    (tmp_path / "x.csv").write_text("1,2\n")
    with pytest.raises(ValueError, match="npy or Parquet"):
        GaussianMixture(2).fit(str(tmp_path / "x.csv"))
    with pytest.raises(ValueError, match="at least 5 rows"):
        GaussianMixture(5).fit([x[:3]])
    fitted = GaussianMixture(2, random_state=0).fit(x)
    with pytest.raises(ValueError, match="features"):
        fitted.set_params(warm_start=True).fit([x[:, :2]])


def test_array_likes_stay_in_memory():
    assert as_chunks(np.zeros((3, 2))) is None
    assert as_chunks([[1.0, 2.0], [3.0, 4.0]]) is None
    assert isinstance(as_chunks([np.zeros((3, 2)), np.zeros((2, 2))]), IterableChunks)


def test_peak_memory_does_not_grow_with_the_file(tmp_path):
    # 2e6 rows x 10 columns = 160 MB on disk; the fit may hold a few chunks, not the file.
    script = textwrap.dedent(
        f"""
        import resource, numpy as np
        from emkit import GaussianImputer, GaussianMixture
        path = {str(tmp_path / "big.npy")!r}
        rng = np.random.default_rng(0)
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(2_000_000, 10))
        for start in range(0, 2_000_000, 100_000):
            out[start : start + 100_000] = rng.normal(size=(100_000, 10)) + (start // 500_000)
        out.flush()
        del out
        GaussianMixture(2, random_state=0, max_iter=2).fit(rng.normal(size=(1000, 10)))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        GaussianMixture(4, random_state=0, max_iter=3).fit(path)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) / 1024)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=600
    )
    grown_mb = float(out.stdout.strip().splitlines()[-1])
    assert grown_mb < 80, f"peak resident memory grew by {grown_mb:.0f} MB for a 160 MB file"


def test_a_list_of_chunks_is_its_rows_for_every_method():
    x = blobs(4000, seed=2)
    chunks = [x[:1500], x[1500:]]
    options = dict(random_state=0, tol=1e-12)
    reference = GaussianMixture(3, **options).fit(x)
    fitted = GaussianMixture(3, **options).fit(chunks)
    np.testing.assert_allclose(fitted.means_, reference.means_, rtol=1e-7)
    np.testing.assert_array_equal(fitted.predict(chunks), reference.predict(x))
    np.testing.assert_allclose(fitted.predict_proba(chunks), reference.predict_proba(x), atol=1e-9)
    assert fitted.score(chunks) == pytest.approx(reference.score(x), rel=1e-9)
    assert fitted.bic(chunks) == pytest.approx(reference.bic(x), rel=1e-9)
    labels = GaussianMixture(3, **options).fit_predict(chunks)
    np.testing.assert_array_equal(labels, reference.fit_predict(x))
    # equal-sized chunks, which NumPy would stack into a 3-D array
    halves = [x[:2000], x[2000:]]
    np.testing.assert_array_equal(fitted.predict(halves), reference.predict(x))
    kmeans = KMeans(3, random_state=0).fit(x)
    from_chunks = KMeans(3, random_state=0).fit(halves)
    np.testing.assert_allclose(from_chunks.cluster_centers_, kmeans.cluster_centers_)
    np.testing.assert_array_equal(from_chunks.predict(chunks), kmeans.predict(x))


def test_a_list_of_data_frames_is_its_rows_with_their_names():
    x = blobs(3000, seed=3)
    frame = pd.DataFrame(x, columns=["u", "v", "w"])
    chunks = [frame[:1000], frame[1000:2000], frame[2000:]]
    options = dict(random_state=0, tol=1e-12)
    reference = GaussianMixture(3, **options).fit(frame)
    fitted = GaussianMixture(3, **options).fit(chunks)
    assert fitted.feature_names_in_.tolist() == ["u", "v", "w"]
    np.testing.assert_allclose(fitted.means_, reference.means_, rtol=1e-7)
    np.testing.assert_array_equal(fitted.predict(chunks), reference.predict(frame))
    assert fitted.score(chunks) == pytest.approx(reference.score(frame), rel=1e-9)
    swapped = [c[["w", "v", "u"]] for c in chunks]
    with pytest.raises(ValueError, match="feature names"):
        fitted.predict(swapped)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda x: [x[:3999], x[3999]], r"element 1 is of shape \(3,\).*X\[i:i \+ 1\]"),
        (lambda x: [x[:2000], x[2000:, :2]], "element 1 has 2 columns where the first has 3"),
        (lambda x: [x[:2000], x[2000:].tolist()], "element 1 is not an array"),
        (
            lambda x: [pd.DataFrame(x[:2000]), x[2000:]],
            "element 1 is a ndarray where element 0 is a DataFrame",
        ),
        (
            lambda x: [pd.DataFrame(x[:2000], columns=list("abc")), pd.DataFrame(x[2000:])],
            r"element 1 has the columns \[0, 1, 2\] where the first has \['a', 'b', 'c'\]",
        ),
        (
            # read as in memory: text that is not numbers is refused where it is converted
            lambda x: [
                pd.DataFrame(x[:2000], columns=list("abc")),
                pd.DataFrame({"a": ["t"] * 5, "b": 1.0, "c": 1.0}),
            ],
            "not (real )?numbers.*could not convert string to float: 't'",
        ),
    ],
    ids=["1-D element", "other width", "list element", "mixed kinds", "other names", "text"],
)
def test_a_malformed_list_of_chunks_names_the_element(make, expected):
    x = blobs(4000, seed=2)
    fitted = GaussianMixture(2, random_state=0).fit(x)
    chunks = make(x)
    for call in (GaussianMixture(2).fit, fitted.predict, fitted.score, KMeans(2).fit):
        with pytest.raises(ValueError, match=expected):
            call(chunks)


class Replaying:
    """A re-iterable that yields the same given chunks on every pass."""

    def __init__(self, chunks):
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)


def test_a_re_iterable_of_data_frames_is_its_rows_with_their_names():
    # A list of DataFrames set feature_names_in_ and refused other columns; a re-iterable of
    # the same DataFrames dropped their names and fitted columns of other names silently.
    x = blobs(3000, seed=4)
    frame = pd.DataFrame(x, columns=["u", "v", "w"])
    options = dict(random_state=0, tol=1e-12)
    reference = GaussianMixture(3, **options).fit(frame)
    fitted = GaussianMixture(3, **options).fit(Replaying([frame[:1000], frame[1000:]]))
    assert fitted.feature_names_in_.tolist() == ["u", "v", "w"]
    np.testing.assert_allclose(fitted.means_, reference.means_, rtol=1e-7)
    renamed = Replaying([frame[:1000], frame[1000:].set_axis(["a", "b", "c"], axis=1)])
    with pytest.raises(ValueError, match=r"columns \['a', 'b', 'c'\] as element 1"):
        GaussianMixture(3).fit(renamed)
    with pytest.raises(ValueError, match="a ndarray as element 1 where its first"):
        GaussianMixture(3).fit(Replaying([frame[:1000], x[1000:]]))


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        (lambda x: [x[:2000].astype(complex), x[2000:]], r"element 0 .*complex numbers"),
        # text that is not numbers (text of numbers is read as numbers, as in memory)
        (lambda x: [x[:2000], np.full((2000, 3), "t")], r"element 1 .*not real numbers"),
        (lambda x: [x[0], x[1:]], r"first chunk of the re-iterable has shape \(3,\)"),
        (lambda x: [], "yielded no chunk"),
    ],
    ids=["complex", "text", "1-D first", "none"],
)
def test_a_malformed_re_iterable_is_refused(chunks, expected):
    # A complex chunk lost its imaginary part (cast to float64), text was parsed as numbers
    # where a list of the same chunks refuses it, and a 1-D first chunk or no chunk at all
    # gave "got 0 rows of -1 columns".
    with pytest.raises(ValueError, match=expected):
        GaussianMixture(2).fit(Replaying(chunks(blobs(4000, seed=5))))


def test_queries_and_other_estimators_say_how_to_pass_a_re_iterable():
    # GaussianMixture.fit and fit_predict, GaussianImputer.fit and fit_transform, and
    # select_mixture read a re-iterable one chunk at a time (bootstrap stacks it); predict,
    # score and KMeans failed with NumPy's "float() argument must be ... not 'Replaying'".
    x = blobs(2000, seed=6)
    fitted = GaussianMixture(2, random_state=0).fit(x)
    chunks = Replaying([x[:1000], x[1000:]])
    for call in (fitted.predict, fitted.score, fitted.bic, KMeans(2).fit):
        with pytest.raises(ValueError, match=r"iterable of chunks.*pass list\(X\)"):
            call(chunks)
    np.testing.assert_array_equal(fitted.predict(list(chunks)), fitted.predict(x))


def test_a_parquet_pass_holds_about_one_batch_of_arrow_memory(tmp_path):
    """pyarrow's default pre_buffer buffered the column chunks a pass reads, so that Arrow
    held the whole file while iter_batches went through it (88 MiB for a 61 MiB file, growing
    with the rows: 50 MB for this 32 MB file). A pass now holds a few row groups (14 MB)."""
    from emkit.backend.sources import ParquetChunks

    rows = 1_000_000
    path = tmp_path / "big.parquet"
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(rows, 4)), columns=list("abcd"))
    frame.to_parquet(path, row_group_size=100_000)
    source = ParquetChunks(path, chunk_rows=65_536)
    before = pa.total_allocated_bytes()
    peak, seen = 0, 0
    for x, _ in source:
        peak = max(peak, pa.total_allocated_bytes() - before)
        seen += x.shape[0]
    assert seen == rows
    assert peak < 0.5 * frame.to_numpy().nbytes, peak


def _peak_bytes(call) -> int:
    """The most memory NumPy and Python held at once during ``call()`` (tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_fit_transform_of_a_file_fills_one_preallocated_result(tmp_path):
    """GaussianImputer.fit_transform(path) kept the filled chunks in a list and then joined
    them: a peak of twice the result (2.00x for this 24 MB file). It now writes each chunk
    into the result allocated up front: the result and a chunk's work (1.3x)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1_500_000, 2))
    x[rng.random(x.shape) < 0.1] = np.nan
    path, small = tmp_path / "holes.npy", tmp_path / "small.npy"
    np.save(path, x)
    np.save(small, x[:1000])
    del x
    GaussianImputer(max_iter=2).fit_transform(small)  # modules loaded before the count
    peak = _peak_bytes(lambda: GaussianImputer(max_iter=2).fit_transform(path))
    result = 1_500_000 * 2 * 8
    assert peak < 1.5 * result, f"peak {peak / result:.2f}x the result"


def test_fit_predict_of_a_file_never_holds_the_file(tmp_path):
    """GaussianMixture.fit_predict(path) fitted chunk by chunk, then read the whole file into
    memory to label it (a peak of 4.5x this 32 MB file). It now labels one chunk at a time:
    the labels (a quarter of the file) and a chunk's work (0.6x)."""
    x = blobs(1_000_000, d=4, k=2, seed=7)
    path, small = tmp_path / "rows.npy", tmp_path / "small.npy"
    np.save(path, x)
    np.save(small, x[:1000])
    del x
    options = dict(max_iter=2, init_params="random", random_state=0)
    GaussianMixture(2, **options).fit_predict(small)  # modules loaded before the count
    peak = _peak_bytes(lambda: GaussianMixture(2, **options).fit_predict(path))
    size = 1_000_000 * 4 * 8
    assert peak < size, f"peak {peak / size:.2f}x the file"
