"""Inputs that are refused say what is wrong and what to do; those that can be read are read.

Dask weights of another length or partitioning, torch tensors in a sparse layout, and Parquet
decimal columns (read as float64).
"""

import decimal
import re
import warnings

import numpy as np
import pytest

from emkit import (
    GaussianImputer,
    GaussianMixture,
    GenerativeClassifier,
    KMeans,
    MixtureModel,
    MixtureOfRegressions,
    ZeroInflatedPoisson,
)
from emkit.backend.sources import ParquetChunks
from emkit.distributions.poisson import Poisson
from emkit.estimators._validation import weighted_total

RTOL = 1e-10


def _two_blobs(n=600, seed=0):
    rng = np.random.default_rng(seed)
    half = n // 2
    x = np.r_[rng.normal(size=(half, 2)), rng.normal(size=(n - half, 2)) + 4.0]
    return x, rng.uniform(0.5, 2.0, n)


# --- Dask: weights split as X is -----------------------------------------------------------


@pytest.fixture
def da():
    return pytest.importorskip("dask.array")


def _unknown_sizes(da, x, rows):
    """``x`` as a dask Array of partitions of ``rows`` rows whose sizes dask does not know."""
    xd = da.from_array(x, chunks=(rows,) + x.shape[1:])
    keep = xd[:, 0] > -np.inf if x.ndim == 2 else xd > -np.inf
    out = xd[keep]
    assert np.isnan(out.chunks[0]).all()
    return out


@pytest.mark.parametrize(
    "estimator", [GaussianMixture(2, random_state=0), KMeans(2, random_state=0)]
)
def test_dask_weights_one_short_name_the_lengths(da, estimator):
    x, w = _two_blobs()
    X = da.from_array(x, chunks=(100, 2))
    with pytest.raises(ValueError, match=r"599 entries but X has 600 rows.*partition 5: 99"):
        estimator.fit(X, sample_weight=da.from_array(w[:599], chunks=100))
    with pytest.raises(ValueError, match=r"599"):
        estimator.fit(X, sample_weight=w[:599])


@pytest.mark.parametrize("weights", ["numpy", "dask"])
@pytest.mark.parametrize(
    "estimator", [GaussianMixture(2, random_state=0), KMeans(2, random_state=0)]
)
def test_unknown_partition_sizes_fit_with_weights_split_as_x(da, estimator, weights):
    """X of unknown partition sizes (a filtered dask Array) with weights of known sizes: the
    rows of X's partitions are counted and the fit is the in-memory one; the caller's X keeps
    its unknown sizes."""
    x, w = _two_blobs()
    X = _unknown_sizes(da, x, 100)
    given = w if weights == "numpy" else da.from_array(w, chunks=150)
    fitted = estimator.__class__(**estimator.get_params()).fit(X, sample_weight=given)
    reference = estimator.__class__(**estimator.get_params()).fit(x, sample_weight=w)
    if isinstance(estimator, GaussianMixture):
        np.testing.assert_allclose(fitted.means_, reference.means_, rtol=RTOL)
        np.testing.assert_allclose(fitted.covariances_, reference.covariances_, rtol=RTOL)
    else:
        np.testing.assert_allclose(fitted.cluster_centers_, reference.cluster_centers_, rtol=RTOL)
    assert np.isnan(X.chunks[0]).all()


def test_unknown_partition_sizes_refusals_say_what_to_do(da):
    x, w = _two_blobs()
    model = GaussianMixture(2, random_state=0).fit(x)
    # weighted criteria count X's rows by partition (dask_source): the in-memory score
    got = model.score(_unknown_sizes(da, x, 100), sample_weight=w)
    assert got == pytest.approx(model.score(x, sample_weight=w), rel=1e-12)
    # both of unknown sizes, but not as many partitions: nothing to match them by
    with pytest.raises(ValueError, match=r"sample_weight has 3 partitions where X has 6"):
        GaussianMixture(2).fit(_unknown_sizes(da, x, 100), sample_weight=_unknown_sizes(da, w, 200))


def test_unknown_sizes_alike_still_fit(da):
    """Weights and X both of unknown sizes, partitioned alike: each partition is compared when
    read; the fit is the in-memory one."""
    x, w = _two_blobs()
    fitted = GaussianMixture(2, random_state=0).fit(
        _unknown_sizes(da, x, 100), sample_weight=_unknown_sizes(da, w, 100)
    )
    reference = GaussianMixture(2, random_state=0).fit(x, sample_weight=w)
    np.testing.assert_allclose(fitted.means_, reference.means_, rtol=RTOL)


# --- torch: sparse layouts -----------------------------------------------------------------

LAYOUTS = ["sparse_coo", "sparse_csr", "sparse_csc"]


def _sparse(torch, x, layout):
    dense = torch.as_tensor(x)
    return {
        "sparse_coo": dense.to_sparse,
        "sparse_csr": dense.to_sparse_csr,
        "sparse_csc": dense.to_sparse_csc,
    }[layout]()


SPARSE = r"Sparse data was passed for X .*dense data is required.*X\.to_dense\(\)"


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
@pytest.mark.parametrize("device", [None, "cpu"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "make", [lambda d: GaussianMixture(2, device=d), lambda d: KMeans(2, device=d)]
)
def test_sparse_tensor_refused_at_fit(layout, device, make):
    torch = pytest.importorskip("torch")
    x, _ = _two_blobs(60)
    with pytest.raises(TypeError, match=SPARSE):
        make(device).fit(_sparse(torch, x, layout))


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
@pytest.mark.parametrize("layout", LAYOUTS)
def test_sparse_tensor_refused_at_every_query(layout):
    torch = pytest.importorskip("torch")
    x, _ = _two_blobs(60)
    sparse = _sparse(torch, x, layout)
    mixture = GaussianMixture(2, device="cpu", random_state=0).fit(torch.as_tensor(x))
    kmeans = KMeans(2, device="cpu", random_state=0).fit(torch.as_tensor(x))
    imputer = GaussianImputer(device="cpu").fit(torch.as_tensor(x))
    queries = [
        mixture.predict,
        mixture.predict_proba,
        mixture.score_samples,
        mixture.score,
        kmeans.predict,
        kmeans.transform,
        kmeans.score,
        imputer.transform,
    ]
    for query in queries:
        with pytest.raises(TypeError, match=SPARSE):
            query(sparse)
    with pytest.raises(TypeError, match=SPARSE):
        GaussianImputer(device="cpu").fit(sparse)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
@pytest.mark.parametrize("layout", LAYOUTS)
def test_sparse_tensor_refused_by_estimators_that_compute_in_numpy(layout):
    # MixtureModel and ZeroInflatedPoisson have no device=: a tensor comes to the host
    # through the backend's to_numpy, which refuses a sparse one as device= does.
    torch = pytest.importorskip("torch")
    counts = np.random.default_rng(0).poisson(3.0, size=(60, 2)).astype(float)
    with pytest.raises(TypeError, match=SPARSE):
        MixtureModel([Poisson(), Poisson()], random_state=0).fit(_sparse(torch, counts, layout))
    with pytest.raises(TypeError, match=SPARSE):
        ZeroInflatedPoisson(random_state=0).fit(_sparse(torch, counts[:, :1], layout))


def test_scipy_sparse_refused_as_scikit_learn_does():
    sparse = pytest.importorskip("scipy.sparse")
    x, _ = _two_blobs(60)
    for estimator in (GaussianMixture(2), KMeans(2)):
        with pytest.raises(TypeError, match=r"Sparse data was passed for X.*toarray"):
            estimator.fit(sparse.csr_matrix(x))


# --- Parquet: decimal columns --------------------------------------------------------------


@pytest.mark.parametrize("width", ["decimal128", "decimal256"])
def test_parquet_decimal_columns_read_as_float64(tmp_path, width):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    x, _ = _two_blobs(200)
    text = [f"{v:.3f}" for v in x[:, 0]]
    column = pa.array([decimal.Decimal(t) for t in text], type=getattr(pa, width)(10, 3))
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"a": column, "b": x[:, 1]}), path)
    rows = np.c_[[float(t) for t in text], x[:, 1]]  # the decimals as Python reads them

    fitted = GaussianMixture(2, random_state=0).fit(path)
    reference = GaussianMixture(2, random_state=0).fit(rows)
    np.testing.assert_allclose(fitted.means_, reference.means_, rtol=RTOL)
    np.testing.assert_array_equal(fitted.feature_names_in_, ["a", "b"])


def test_parquet_decimal_nulls_and_digits_beyond_float64(tmp_path):
    """A null decimal is NaN (missing), and a decimal of more digits than float64 holds is
    the float64 nearest it."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    values = ["1.23456789012345678901", None, "-0.00000000000000000001", "12345.5"]
    column = pa.array(
        [None if v is None else decimal.Decimal(v) for v in values], type=pa.decimal256(40, 20)
    )
    path = tmp_path / "digits.parquet"
    pq.write_table(pa.table({"a": column}), path)
    (block, _), *rest = list(ParquetChunks(path))
    assert not rest
    expected = np.array([np.nan if v is None else float(v) for v in values])
    np.testing.assert_allclose(block[:, 0], expected, rtol=2.3e-16, equal_nan=True)
    assert block.dtype == np.float64


def _frame_with_nan():
    """A DataFrame with NaN in two of its four named columns, and a response for it."""
    import pandas as pd

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        rng.normal(size=(60, 4)) + [0.0, 3.0, 6.0, 9.0], columns=["age", "income", "size", "debt"]
    )
    y = frame.to_numpy() @ [1.0, -1.0, 0.5, 0.2] + rng.normal(size=60)
    holes = frame.copy()
    holes.loc[[3, 7], "income"] = np.nan
    holes.loc[7, "debt"] = np.nan
    return frame, holes, y


NAN_ESTIMATORS = {
    "GaussianMixture": lambda: GaussianMixture(2, random_state=0),
    "KMeans": lambda: KMeans(2, random_state=0),
    "MixtureOfRegressions": lambda: MixtureOfRegressions(2, n_init=2, random_state=0),
    "GenerativeClassifier": lambda: GenerativeClassifier(),
}


def _nan_calls(name, frame, holes, y):
    """The fit and the queries of ``name`` on ``holes`` (each a call), after a fit on ``frame``."""
    if name == "MixtureOfRegressions":
        model = NAN_ESTIMATORS[name]().fit(frame, y)
        return [
            lambda: NAN_ESTIMATORS[name]().fit(holes, y),
            lambda: model.predict(holes),
            lambda: model.score(holes, y),
        ]
    labels = (y > np.median(y)).astype(int)
    model = NAN_ESTIMATORS[name]().fit(frame, labels if name == "GenerativeClassifier" else None)
    return [
        lambda: NAN_ESTIMATORS[name]().fit(holes, labels),
        lambda: model.predict(holes),
        lambda: model.score(holes, labels if name == "GenerativeClassifier" else None),
    ]


@pytest.mark.parametrize("name", list(NAN_ESTIMATORS))
def test_nan_in_a_dataframe_is_named_by_its_columns(name):
    """The refusal of NaN names a DataFrame's columns, as pandas finds them, in a fit and in
    every query (it gave their positions, "columns [1, 3]"); an array's stay positions."""
    frame, holes, y = _frame_with_nan()
    columns = holes.columns[holes.isna().any()].tolist()  # pandas: ['income', 'debt']
    rows = int(holes.isna().any(axis=1).sum())
    named = re.escape(f"NaN in {rows} of 60 rows (columns {columns})")
    for call in _nan_calls(name, frame, holes, y):
        with pytest.raises(ValueError, match=named):
            call()
    positions = np.flatnonzero(holes.isna().any()).tolist()
    with pytest.raises(ValueError, match=re.escape(f"(columns {positions})")):
        NAN_ESTIMATORS[name]().fit(
            holes.to_numpy(), y if name == "MixtureOfRegressions" else (y > 0)
        )


def test_nan_in_dataframe_chunks_and_partitions_is_named_by_its_columns():
    """Chunks of DataFrames and a Dask DataFrame's partitions name the NaN columns too, as in
    memory (they gave their positions); chunks of arrays keep positions."""
    dd = pytest.importorskip("dask.dataframe")
    _, holes, _ = _frame_with_nan()
    with pytest.raises(ValueError, match=re.escape("the chunk at row 0 contains NaN in 2 of 30")):
        GaussianMixture(1).fit([holes.iloc[:30], holes.iloc[30:]])
    with pytest.raises(ValueError, match=re.escape("(columns ['income', 'debt'])")):
        GaussianMixture(1).fit([holes.iloc[:30], holes.iloc[30:]])
    with pytest.raises(ValueError, match=re.escape("(columns [1, 3])")):
        GaussianMixture(1).fit([holes.to_numpy()[:30], holes.to_numpy()[30:]])
    with pytest.raises(
        ValueError,
        match=re.escape("of X contains NaN in 2 of 20 rows (columns ['income', 'debt'])"),
    ):
        GaussianMixture(1).fit(dd.from_pandas(holes, npartitions=3))


# --- weights whose total overflows -------------------------------------------------------------

OVERFLOWING = [
    GaussianMixture(2, random_state=0),
    KMeans(2, random_state=0),
    GaussianImputer(),
    MixtureModel([Poisson(), Poisson()], random_state=0),
    GenerativeClassifier(),
    ZeroInflatedPoisson(),
    MixtureOfRegressions(2, random_state=0),
]


@pytest.mark.parametrize("estimator", OVERFLOWING, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("each", [1e307, 1e306])
def test_weights_whose_total_overflows_are_refused_saying_rescale(estimator, each):
    # 40 weights of 1e307 sum to inf: KMeans gave NaN centres, GaussianImputer a NaN
    # log-likelihood, GaussianMixture a LinAlgError blaming the data; 1e306 (total 4e307)
    # overflowed the statistics the same way
    rng = np.random.default_rng(0)
    x = np.r_[rng.poisson(1.5, size=(20, 2)), rng.poisson(9.0, size=(20, 2))].astype(float)
    args = (x, (x[:, 0] > 2).astype(int)) if isinstance(estimator, GenerativeClassifier) else (x,)
    if isinstance(estimator, (ZeroInflatedPoisson, MixtureModel)):
        args = (x[:, :1],)
    if isinstance(estimator, MixtureOfRegressions):
        args = (x[:, :1], x[:, 1])
    total = "inf" if each == 1e307 else r"4e\+307, beyond 1e\+300"
    with pytest.raises(ValueError, match=rf"sample_weight sums to {total}.*sample_weight.max\(\)"):
        estimator.fit(*args, sample_weight=np.full(40, each))
    scaled = estimator.__class__(**estimator.get_params()).fit(
        *args, sample_weight=np.full(40, 1e298)
    )
    unweighted = estimator.__class__(**estimator.get_params()).fit(*args)
    for name in ("means_", "cluster_centers_", "mean_", "coef_", "weights_"):
        if hasattr(unweighted, name):
            np.testing.assert_allclose(getattr(scaled, name), getattr(unweighted, name), rtol=1e-6)


def test_weights_whose_total_overflows_are_refused_on_dask(da):
    x, _ = _two_blobs(40)
    model = GaussianMixture(2, random_state=0).fit(x)
    w = da.from_array(np.full(40, 1e307), chunks=10)
    X = da.from_array(x, chunks=(10, 2))
    with pytest.raises(ValueError, match="sample_weight sums to inf"):
        GaussianMixture(2, random_state=0).fit(X, sample_weight=w)
    for query in (model.bic, model.score):
        with pytest.raises(ValueError, match="sample_weight sums to inf"):
            query(X, sample_weight=w)


@pytest.mark.parametrize("rows", [10, 20], ids=["partition sums finite", "partition sums inf"])
def test_weights_whose_total_overflows_on_dask_give_the_error_alone(da, rows):
    # finite weights of 1e308 each: the fit summed each partition's weights with numpy's
    # "overflow encountered in reduce" RuntimeWarning before the refusal, and bic, icl and
    # score warned in their weighted sums; only the ValueError is left
    x, _ = _two_blobs(40)
    model = GaussianMixture(2, random_state=0).fit(x)
    w = da.from_array(np.full(40, 1e308), chunks=rows)
    X = da.from_array(x, chunks=(rows, 2))
    calls = [
        lambda: GaussianMixture(2, random_state=0).fit(X, sample_weight=w),
        lambda: model.bic(X, sample_weight=w),
        lambda: model.icl(X, sample_weight=w),
        lambda: model.score(X, sample_weight=w),
        lambda: weighted_total(model.score_samples(X), w, X),
        lambda: KMeans(2, random_state=0).fit(x).score(X, sample_weight=w),
    ]
    for call in calls:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(ValueError, match="sample_weight sums to inf: each weight is"):
                call()


# --- integers beyond 2**53, which float64 rounds --------------------------------------------

# int64 timestamps in nanoseconds (about 2**60): a row apart by a few ns each
BEYOND = (2**60 + np.arange(120).reshape(60, 2) * 7).astype(np.int64)
ROUNDED = re.compile(r"X holds \d+ integer\(s\) beyond 2\*\*53 that float64 cannot hold exactly")


def _integer_fits():
    return [
        lambda X: GaussianMixture(2, random_state=0).fit(X),
        lambda X: KMeans(2, random_state=0).fit(X),
        lambda X: GaussianImputer().fit(X),
        lambda X: GenerativeClassifier().fit(X, np.arange(len(X)) % 2),
        lambda X: MixtureOfRegressions(2, random_state=0).fit(X, np.arange(len(X)) % 5),
        lambda X: MixtureModel([Poisson(1.0), Poisson(5.0)]).fit(_first_column(X)),
    ]


def _first_column(X):
    """The first column of ``X`` (an array, a DataFrame or a list of rows), as given."""
    if hasattr(X, "iloc"):
        return X.iloc[:, :1]
    return [row[:1] for row in X] if isinstance(X, list) else X[:, :1]


@pytest.mark.parametrize("fit", _integer_fits())
@pytest.mark.parametrize("kind", ["array", "uint64", "frame", "list"])
def test_integers_that_float64_rounds_are_refused(fit, kind):
    # They were converted to float64 without a word: 2**60 + 7 became 2**60, so rows that
    # differ came out equal (emkit.mle and emkit.bayes refused them already).
    pd = pytest.importorskip("pandas")
    x = {
        "array": BEYOND,
        "uint64": BEYOND.astype(np.uint64),
        "frame": pd.DataFrame({"t": BEYOND[:, 0], "v": BEYOND[:, 1].astype(float) - 2.0**60}),
        "list": BEYOND.tolist(),
    }[kind]
    with pytest.raises(ValueError, match=ROUNDED) as caught:
        fit(x)
    assert "convert to float yourself if that rounding is acceptable" in str(caught.value)
    assert "Subtract a common integer offset" in str(caught.value)


def test_a_numeric_y_that_float64_rounds_is_refused():
    x = np.arange(60.0)[:, None]
    y = 2**60 + np.arange(60) * 3
    with pytest.raises(ValueError, match=r"MixtureOfRegressions: y holds \d+ integer\(s\) beyond"):
        MixtureOfRegressions(2, random_state=0).fit(x, y)
    fitted = MixtureOfRegressions(2, random_state=0).fit(x, np.arange(60) % 7)
    with pytest.raises(ValueError, match=r"y holds \d+ integer\(s\) beyond 2\*\*53"):
        fitted.score(x, y)


def test_queries_refuse_integers_that_float64_rounds():
    fitted = KMeans(2, random_state=0).fit(np.arange(120.0).reshape(60, 2))
    for query in (fitted.predict, fitted.transform, fitted.score):
        with pytest.raises(ValueError, match=ROUNDED):
            query(BEYOND)


@pytest.mark.parametrize("device", [None, "cpu"])
def test_integer_tensors_that_float64_rounds_are_refused(device):
    torch = pytest.importorskip("torch")
    for cls in (GaussianMixture, KMeans):
        with pytest.raises(ValueError, match=ROUNDED):
            cls(2, random_state=0, device=device).fit(torch.from_numpy(BEYOND))


def test_dask_partitions_of_integers_that_float64_rounds_are_refused():
    da = pytest.importorskip("dask.array")
    with pytest.raises(ValueError, match=r"partition \d .*X holds \d+ integer\(s\) beyond 2\*\*53"):
        KMeans(2, random_state=0).fit(da.from_array(BEYOND, chunks=30))


def test_a_masked_integer_float64_would_round_is_a_missing_value():
    # a masked entry is missing, whatever its stored value: only the others are numbers
    values = np.random.default_rng(0).integers(0, 100, size=(60, 2))
    x = np.ma.masked_array(values, mask=np.zeros((60, 2), bool))
    x[7, 1] = 2**60 + 1
    x[7, 1] = np.ma.masked
    got = GaussianMixture(2, missing="em", random_state=0).fit(x)
    filled = values.astype(float)
    filled[7, 1] = np.nan
    want = GaussianMixture(2, missing="em", random_state=0).fit(filled)
    np.testing.assert_array_equal(got.means_, want.means_)
    x[8, 0] = 2**60 + 1  # not masked: refused
    with pytest.raises(ValueError, match=ROUNDED):
        GaussianMixture(2, missing="em", random_state=0).fit(x)


def test_a_category_column_is_judged_by_its_categories():
    pd = pytest.importorskip("pandas")
    near = pd.DataFrame({"c": pd.Categorical(np.arange(60) % 3), "v": np.arange(60.0)})
    fitted = KMeans(2, random_state=0).fit(near)
    want = KMeans(2, random_state=0).fit(near.astype(float))
    np.testing.assert_array_equal(fitted.cluster_centers_, want.cluster_centers_)
    far = near.assign(c=pd.Categorical(2**60 + 1 + np.arange(60) % 3))
    with pytest.raises(ValueError, match=ROUNDED):
        KMeans(2, random_state=0).fit(far)


def test_a_category_no_row_holds_is_not_refused():
    pd = pytest.importorskip("pandas")
    far = pd.Categorical(np.arange(60) % 3, categories=[0, 1, 2, 2**60 + 1])
    frame = pd.DataFrame({"c": far, "v": np.arange(60.0)})
    fitted = KMeans(2, random_state=0).fit(frame)
    want = KMeans(2, random_state=0).fit(frame.astype(float))
    np.testing.assert_array_equal(fitted.cluster_centers_, want.cluster_centers_)


def test_masked_objects_are_read_as_given_in_chunks():
    # an object array's masked entries are not missing values (NumPy's conversion reads them)
    x = np.empty((60, 2), dtype=object)
    x[:] = np.random.default_rng(0).integers(0, 100, size=(60, 2))
    x[7, 1] = 2**60 + 1
    mask = np.zeros((60, 2), bool)
    mask[7, 1] = True
    with pytest.raises(ValueError, match=ROUNDED):
        GaussianMixture(2, random_state=0).fit([np.ma.masked_array(x, mask=mask)] * 2)


def test_integers_float64_holds_exactly_are_fitted_as_floats():
    # up to 2**53, and multiples of their float64 spacing beyond it, convert exactly
    small = (2**53 - np.arange(120).reshape(60, 2) * 2**20).astype(np.int64)
    exact = (np.arange(120).reshape(60, 2) * 2**11 + 2**60).astype(np.int64)
    for x in (small, exact, -small):
        got = KMeans(2, random_state=0).fit(x)
        want = KMeans(2, random_state=0).fit(x.astype(np.float64))
        np.testing.assert_array_equal(got.cluster_centers_, want.cluster_centers_)


# Streamed and converted paths: each read its integers as float64 without a word (a file, a
# memory map or chunks read chunk by chunk; pd.NA or Python integers beyond int64 made objects,
# or NumPy float64, of them before the check saw them).


def _streamed(kind, x, tmp_path):
    """``x`` (n, 2) of integers as the streamed input ``kind`` of a fit."""
    pd = pytest.importorskip("pandas")
    if kind in ("npy", "npy-fortran", "memmap"):
        path = tmp_path / "x.npy"
        np.save(path, np.asfortranarray(x) if kind == "npy-fortran" else x)
        return np.load(path, mmap_mode="r") if kind == "memmap" else path
    if kind in ("parquet", "parquet-nulls"):
        pytest.importorskip("pyarrow")
        frame = pd.DataFrame({"t": x[:, 0], "v": x[:, 1] - x[:, 1].min()})
        if kind == "parquet-nulls":  # pyarrow reads an int64 column with nulls as float64
            frame["t"] = frame["t"].astype("Int64")
            frame.loc[3, "t"] = pd.NA
        frame.to_parquet(tmp_path / "x.parquet")
        return str(tmp_path / "x.parquet")
    if kind == "chunks":
        return [x[:30], x[30:]]
    if kind == "frame-chunks":
        return [pd.DataFrame(x[:30], columns=["a", "b"]), pd.DataFrame(x[30:], columns=["a", "b"])]
    assert kind == "iterable"
    return _Restarting([x[:20], x[20:]])


class _Restarting:
    """A re-iterable of chunks that is not a list."""

    def __init__(self, chunks):
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)


# integers beyond 2**53 that float64 holds: multiples of its spacing there (256), in two blobs
EXACT = (np.round(_two_blobs(60)[0] * 1e4) * 256).astype(np.int64) + 2**60
STREAMED = ["npy", "npy-fortran", "memmap", "parquet", "parquet-nulls", "chunks"]


@pytest.mark.parametrize("kind", [*STREAMED, "frame-chunks", "iterable"])
def test_streamed_integers_that_float64_rounds_are_refused(kind, tmp_path):
    x = _streamed(kind, BEYOND, tmp_path)
    with pytest.raises(ValueError, match=ROUNDED) as caught:
        GaussianMixture(2, random_state=0).fit(x)
    assert "Subtract a common integer offset" in str(caught.value)
    if kind in ("npy", "parquet"):  # GaussianImputer reads files chunk by chunk too
        with pytest.raises(ValueError, match=ROUNDED):
            GaussianImputer().fit(x)


@pytest.mark.parametrize("kind", [*STREAMED, "iterable"])
def test_streamed_integers_float64_holds_exactly_are_fitted_as_floats(kind, tmp_path):
    exact = EXACT
    x = _streamed(kind, exact, tmp_path)
    if kind == "parquet-nulls":  # the row with pd.NA is a missing value: the imputer's
        got = GaussianImputer().fit(x).mean_
        floats = np.c_[exact[:, 0], exact[:, 1] - exact[:, 1].min()].astype(np.float64)
        floats[3, 0] = np.nan
        np.testing.assert_array_equal(got, GaussianImputer().fit(floats).mean_)
        return
    if kind == "parquet":
        exact = np.c_[exact[:, 0], exact[:, 1] - exact[:, 1].min()]
    got = GaussianMixture(2, random_state=0).fit(x)
    want = GaussianMixture(2, random_state=0).fit(exact.astype(np.float64))
    np.testing.assert_allclose(got.means_, want.means_, rtol=1e-12)


def _nullable(values):
    """A DataFrame of ``values`` (n, 2) as nullable Int64 columns, row 3 of the first pd.NA."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(values, columns=["t", "u"]).astype("Int64")
    frame.loc[3, "t"] = pd.NA
    return frame


def test_nullable_integers_with_missing_values_that_float64_rounds_are_refused():
    # pd.NA made an array of objects of the Int64 column, which the check passed over
    frame = _nullable(BEYOND)
    for fit in (GaussianImputer().fit, GaussianMixture(2, random_state=0).fit):
        with pytest.raises(ValueError, match=ROUNDED):
            fit(frame)
    with pytest.raises(ValueError, match=r"y holds \d+ integer\(s\) beyond 2\*\*53"):
        # a nullable Series: not a NumPy dtype, so it was not looked at
        MixtureOfRegressions(2, random_state=0).fit(np.arange(60.0)[:, None], frame["u"])
    # the present values float64 holds: pd.NA is a missing value, as before
    floats = EXACT.astype(np.float64)
    floats[3, 0] = np.nan
    got = GaussianImputer().fit(_nullable(EXACT)).mean_
    np.testing.assert_array_equal(got, GaussianImputer().fit(floats).mean_)
    with pytest.raises(ValueError, match="NaN"):  # NaN refused where it is not missing data
        GaussianMixture(2, random_state=0).fit(_nullable(EXACT))


def test_dask_nullable_integers_that_float64_rounds_are_refused():
    pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    frame = dd.from_pandas(_nullable(BEYOND), npartitions=2)
    with pytest.raises(ValueError, match=r"partition \d .*X holds \d+ integer\(s\) beyond 2\*\*53"):
        GaussianImputer().fit(frame)


@pytest.mark.parametrize(
    "big",
    [2**70 + 1, 2**63 + 1, -(2**63) - 3, 10**400],
    ids=["2**70+1", "2**63+1", "-2**63-3", "10**400"],
)
def test_python_integers_beyond_int64_that_float64_rounds_are_refused(big):
    # NumPy made objects of them (or float64, 2**63 + 1 rounded) before the check saw them
    rows = [[float(i), i] for i in range(40)] + [[0.5, big]]
    for x in (rows, np.array(rows, dtype=object)):
        with pytest.raises(ValueError, match=ROUNDED):
            GaussianMixture(2, random_state=0).fit(x)
    with pytest.raises(ValueError, match=ROUNDED):
        GaussianMixture(2, random_state=0).fit([np.array(rows[:20]), np.array(rows[20:], object)])


def test_python_integers_float64_holds_exactly_are_read_as_floats():
    rows = [[float(i), 2**70 + (i % 7) * 2**20] for i in range(40)] + [[0.5, 2**60]]
    got = GaussianMixture(2, random_state=0).fit(rows)
    want = GaussianMixture(2, random_state=0).fit(np.array(rows, dtype=np.float64))
    np.testing.assert_array_equal(got.means_, want.means_)


def _as_text(values, kind):
    """``values`` (n, 2) of integers written as text, in the container ``kind``."""
    pd = pytest.importorskip("pandas")
    text = values.astype(str)
    return {
        "str": text,
        "bytes": text.astype(bytes),
        "objects": text.astype(object),
        "list": text.tolist(),
        "frame": pd.DataFrame(text, columns=["t", "u"]),
        "string-frame": pd.DataFrame(text, columns=["t", "u"]).astype("string"),
    }[kind]


@pytest.mark.parametrize("kind", ["str", "bytes", "objects", "list", "frame", "string-frame"])
def test_integers_written_as_text_that_float64_rounds_are_refused(kind):
    # "1152921504606846983" was parsed to 2**60 without a word (as a CSV's column of ids
    # read as text would be)
    with pytest.raises(ValueError, match=ROUNDED) as caught:
        GaussianMixture(2, random_state=0).fit(_as_text(BEYOND, kind))
    example = r"such as (\d+), which float64 stores as 1152921504606846976\)"
    assert int(re.search(example, str(caught.value)).group(1)) in BEYOND
    # the text of integers float64 holds, of fractions and of short numbers, parsed as before
    for values in (EXACT, _two_blobs(60)[0] * 1e4 + 1e15, _two_blobs(60)[0].round() + 50):
        got = GaussianMixture(2, random_state=0).fit(_as_text(values, kind))
        want = GaussianMixture(2, random_state=0).fit(values.astype(str).astype(np.float64))
        np.testing.assert_array_equal(got.means_, want.means_)


def test_dask_partitions_of_integers_written_as_text_that_float64_rounds_are_refused():
    dd = pytest.importorskip("dask.dataframe")
    frame = dd.from_pandas(_as_text(BEYOND, "frame"), npartitions=2)
    with pytest.raises(ValueError, match=r"partition \d .*X holds \d+ integer\(s\) beyond 2\*\*53"):
        GaussianMixture(2, random_state=0).fit(frame)


@pytest.mark.parametrize("where", ["memory", "dask", "dask-column"])
@pytest.mark.parametrize("dtype", ["Int64", "int64[pyarrow]"])
def test_nullable_integer_labels_that_float64_rounds_are_refused(where, dtype):
    # They are read as float64 (as scikit-learn reads them): the labels 2**53 and 2**53 + 1
    # came out one class ("y holds one class"), and 2**53 + 1 beside 5 a class 2**53
    pd = pytest.importorskip("pandas")
    if dtype.endswith("[pyarrow]"):
        pytest.importorskip("pyarrow")
    x, _ = _two_blobs(120)  # the second blob's rows labelled 2**53 + 1
    frame = pd.DataFrame(x, columns=["a", "b"])
    frame["y"] = pd.array(np.where(np.arange(120) >= 60, 2**53 + 1, 5), dtype=dtype)
    exact = frame.assign(y=frame["y"].astype("int64"))
    if where == "memory":
        X, y = frame[["a", "b"]], frame["y"]
    else:
        dd = pytest.importorskip("dask.dataframe")
        frame = dd.from_pandas(frame, npartitions=2)
        exact = dd.from_pandas(exact, npartitions=2)
        X = frame[["a", "b"]]
        y = frame["y"] if where == "dask-column" else frame["y"].compute()
        if where == "dask":  # a Series of its own, not a column of the frame X came from
            y = dd.from_pandas(y, npartitions=2)
    with pytest.raises(ValueError, match=r"y holds \d+ integer\(s\) beyond 2\*\*53") as caught:
        GenerativeClassifier().fit(X, y)
    assert "y.astype('int64')" in str(caught.value)
    # as int64 they are exact, and so are nullable integers within 2**53
    fitted = GenerativeClassifier().fit(exact[["a", "b"]], exact["y"])
    assert fitted.classes_.tolist() == [5, 2**53 + 1]
    small = GenerativeClassifier().fit(X, y - 2**53)
    assert small.classes_.tolist() == [5 - 2**53, 1]


# --- integers beyond 2**24, which float32 rounds (a fit in float32) ---------------------------

# beyond 2**24 in two blobs: odd values float32 rounds, and their doubles, which it holds
SINGLE_BEYOND = (np.round(_two_blobs(60)[0] * 100) * 2 + 1).astype(np.int64) + 2**24
SINGLE_EXACT = (SINGLE_BEYOND - 2**24) * 2 + 2**24
SINGLE_ROUNDED = re.compile(
    r"X holds \d+ integer\(s\) beyond 2\*\*24 that float32 cannot hold exactly \(such as "
    r"\d+, which float32 stores as \d+\): they would round to 7 significant digits"
)


def _single_input(kind, x, tmp_path):
    """``x`` (n, 2) of integers as the input ``kind`` of a fit in float32."""
    pd = pytest.importorskip("pandas")
    if kind in ("npy", "parquet", "chunks"):
        return _streamed(kind, x, tmp_path)
    if kind.startswith("dask"):
        dd = pytest.importorskip("dask.dataframe")
        frame = pd.DataFrame(x, columns=["a", "b"])
        if kind == "dask-array":
            return dd.from_pandas(frame, npartitions=2).to_dask_array(lengths=True)
        return dd.from_pandas(frame.astype("Int64") if kind == "dask-Int64" else frame, 2)
    return {
        "array": x,
        "frame": pd.DataFrame(x, columns=["a", "b"]),
        "list": x.tolist(),
        "text": x.astype(str),
    }[kind]


SINGLE_KINDS = ["array", "frame", "list", "text", "npy", "parquet", "chunks"]
SINGLE_KINDS += ["dask-array", "dask-frame", "dask-Int64"]


@pytest.mark.parametrize("kind", SINGLE_KINDS)
def test_integers_that_float32_rounds_are_refused_by_a_fit_in_float32(kind, tmp_path):
    # dtype=float32 converted them to float32 without a word: 2**24 + 1 became 2**24
    x = _single_input(kind, SINGLE_BEYOND, tmp_path)
    with pytest.raises(ValueError, match=SINGLE_ROUNDED) as caught:
        GaussianMixture(2, dtype="float32", random_state=0).fit(x)
    assert "Fit in float64 (dtype='float64'" in str(caught.value)
    # float64 holds them: fitted as before
    GaussianMixture(2, random_state=0, max_iter=5).fit(_single_input(kind, SINGLE_BEYOND, tmp_path))


@pytest.mark.parametrize("kind", ["array", "frame", "npy", "dask-frame"])
def test_integers_float32_holds_are_fitted_in_float32_as_floats(kind, tmp_path):
    x = _single_input(kind, SINGLE_EXACT, tmp_path)
    got = GaussianMixture(2, dtype="float32", random_state=0).fit(x)
    want = GaussianMixture(2, dtype="float32", random_state=0).fit(SINGLE_EXACT.astype(np.float32))
    np.testing.assert_allclose(got.means_, want.means_, rtol=1e-6)


def test_integer_tensors_that_float32_rounds_are_refused_on_a_float32_device():
    torch = pytest.importorskip("torch")
    x = torch.from_numpy(SINGLE_BEYOND)
    for cls in (GaussianMixture, KMeans):
        with pytest.raises(ValueError, match=SINGLE_ROUNDED):
            cls(2, random_state=0, device="cpu", dtype="float32").fit(x)
        with pytest.raises(ValueError, match=SINGLE_ROUNDED):  # rows from the host
            cls(2, random_state=0, device="cpu", dtype="float32").fit(SINGLE_BEYOND)
    exact = torch.from_numpy(SINGLE_EXACT)
    got = KMeans(2, random_state=0, device="cpu", dtype="float32").fit(exact)
    want = KMeans(2, random_state=0, device="cpu", dtype="float32").fit(exact.float())
    np.testing.assert_array_equal(got.cluster_centers_, want.cluster_centers_)


def test_kmeans_in_float32_on_the_host_reads_integers_in_float64():
    # its passes read the rows in float64 (only the centres are float32): nothing to round
    got = KMeans(2, dtype="float32", random_state=0).fit(SINGLE_BEYOND).cluster_centers_
    want = KMeans(2, random_state=0).fit(SINGLE_BEYOND).cluster_centers_
    np.testing.assert_array_equal(got, want.astype(np.float32))


@pytest.mark.parametrize("sign", [1, -1])
def test_a_list_of_integers_and_floats_whose_largest_float64_rounds_to_2_53_is_refused(sign):
    # NumPy makes float64 of the list: 2**53 + 1 becomes 2**53, not beyond 2**53, so the
    # numbers as given were never looked at and the fit took the rounded value
    x = [[float(i % 7) + 0.5, float(i % 3)] for i in range(40)]
    x[3][1] = sign * (2**53 + 1)
    with pytest.raises(ValueError, match="such as -?9007199254740993"):
        GaussianMixture(2, random_state=0).fit(x)
