"""Dask collections whose partition sizes are unknown (``ddf.values``, a filtered array) fit as
those of known sizes and as NumPy do; pandas targets and weights are matched to a Dask
DataFrame by index; ``device=`` is refused alike by every estimator given a Dask collection.

Dask's local scheduler only (no cluster): what is checked here is where rows are counted,
read and matched, which does not depend on where the partitions live.
"""

import collections
import warnings

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")

import pandas as pd  # noqa: E402
from sklearn.base import clone  # noqa: E402

from emkit import (  # noqa: E402
    GaussianImputer,
    GaussianMixture,
    GenerativeClassifier,
    KMeans,
    MixtureOfRegressions,
    select_mixture,
)
from emkit.backend.dask_source import dask_source  # noqa: E402

RTOL = 1e-10


def two_blobs(n=600, seed=7):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(0, 1, (n // 2, 2)), rng.normal(3, 1, (n - n // 2, 2))])


def counted_frame(x, npartitions=4):
    """A Dask DataFrame of ``x`` and a Counter of how often each of its partitions is read."""
    reads = collections.Counter()

    def read(part, partition_info=None):
        if partition_info is not None:
            reads[partition_info["number"]] += 1
        return part

    frame = pd.DataFrame(x, columns=[f"x{j}" for j in range(x.shape[1])])
    return dd.from_pandas(frame, npartitions=npartitions).map_partitions(read), reads


def test_select_mixture_counts_rows_of_unknown_partition_sizes():
    x = two_blobs()
    ddf = dd.from_pandas(pd.DataFrame(x, columns=["a", "b"]), npartitions=4)
    assert np.isnan(ddf.values.shape[0])
    memory = select_mixture(x, n_components=[1, 2], covariance_types=["VVV"])
    unknown = select_mixture(ddf.values, n_components=[1, 2], covariance_types=["VVV"])
    assert (unknown.best_.n_components, unknown.best_.covariance_type) == (2, "full")
    table = unknown.table_
    np.testing.assert_allclose(table["bic"], memory.table_["bic"], rtol=RTOL)
    # BIC = -2 log L + p log n with the n rows of the data (not NaN)
    expected = -2 * table["log_likelihood"] + table["n_parameters"] * np.log(x.shape[0])
    np.testing.assert_allclose(table["bic"], expected, rtol=RTOL)


def test_select_mixture_caps_components_at_the_counted_rows():
    x = two_blobs(n=6)
    ddf = dd.from_pandas(pd.DataFrame(x, columns=["a", "b"]), npartitions=2)
    with pytest.warns(UserWarning, match=r"n_components \[7, 8\] left out.*6 rows"):
        found = select_mixture(ddf.values, n_components=[1, 7, 8], covariance_types=["EII"])
    assert list(found.table_["n_components"]) == [1]


@pytest.mark.parametrize("make", [lambda: GaussianMixture(2, missing="em", random_state=0)])
def test_missing_em_fits_unknown_partition_sizes_as_numpy(make):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 2))
    x[::2] += 1.5  # two overlapping clusters: about 50 steps (one cluster took 300)
    x[rng.uniform(size=x.shape) < 0.1] = np.nan
    x[np.isnan(x).all(axis=1), 0] = 0.0
    ddf = dd.from_pandas(pd.DataFrame(x, columns=["a", "b"]), npartitions=3)
    memory, known = make().fit(x), make().fit(ddf)
    unknown = make().fit(ddf.values)
    # the partitions' sums as those of known sizes; NumPy's in another order of additions
    np.testing.assert_allclose(unknown.log_likelihood_, known.log_likelihood_, rtol=RTOL)
    np.testing.assert_allclose(unknown.means_, known.means_, rtol=RTOL)
    np.testing.assert_allclose(unknown.log_likelihood_, memory.log_likelihood_, rtol=1e-7)
    weighted = make().fit(ddf.values, sample_weight=np.full(600, 2.0))
    np.testing.assert_allclose(weighted.log_likelihood_, 2 * known.log_likelihood_, rtol=1e-7)


def test_unknown_partition_sizes_are_persisted_after_the_first_pass():
    x = two_blobs(n=900)
    ddf, reads = counted_frame(x, npartitions=3)
    source = dask_source(ddf.values)
    assert source.prepared.persisted and source.n_rows == 900
    reads.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = GaussianMixture(3, random_state=0, init_params="hc", tol=1e-8).fit(ddf.values)
    assert fit.n_iter_ > 5
    # one read checks and counts the rows, one persists them: none per EM pass
    assert reads[0] <= 2
    reads.clear()
    select_mixture(ddf.values, n_components=[1, 2], covariance_types=["VVV", "EEE"])
    assert reads[0] <= 2


def shuffled_frame(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    x = np.vstack([rng.normal(0, 1, (n // 2, 2)), rng.normal(3, 1, (n // 2, 2))])
    df = pd.DataFrame(x, columns=["a", "b"])
    df["y"], df["w"] = y, np.where(y == 1, 10.0, 1.0)
    df = df.sample(frac=1, random_state=0)  # an unsorted index: from_pandas sorts the rows
    return df, dd.from_pandas(df, npartitions=4)


def test_pandas_target_or_weights_of_another_index_are_refused():
    df, ddf = shuffled_frame()
    with pytest.raises(ValueError, match=r"y is a pandas Series whose index differs.*ddf\["):
        GenerativeClassifier().fit(ddf[["a", "b"]], df["y"])
    with pytest.raises(ValueError, match="sample_weight is a pandas Series whose index"):
        GaussianMixture(2, random_state=0).fit(ddf[["a", "b"]], sample_weight=df["w"])
    with pytest.raises(ValueError, match="sample_weight is a pandas Series whose index"):
        KMeans(2, random_state=0).fit(ddf[["a", "b"]], sample_weight=df["w"])
    # aligned as the message says, the fits are those in memory
    order = ddf.index.compute()
    memory = GenerativeClassifier().fit(df[["a", "b"]], df["y"])
    aligned = GenerativeClassifier().fit(ddf[["a", "b"]], df["y"].loc[order])
    same = GenerativeClassifier().fit(ddf[["a", "b"]], ddf["y"])
    np.testing.assert_allclose(aligned.means_, memory.means_, rtol=1e-8)
    np.testing.assert_allclose(same.means_, memory.means_, rtol=1e-8)
    gm = GaussianMixture(2, random_state=0).fit(df[["a", "b"]], sample_weight=df["w"])
    gm_aligned = GaussianMixture(2, random_state=0).fit(
        ddf[["a", "b"]], sample_weight=df["w"].reindex(order)
    )
    np.testing.assert_allclose(gm_aligned.log_likelihood_, gm.log_likelihood_, rtol=1e-8)


def test_pandas_target_of_another_index_is_refused_by_queries():
    df, ddf = shuffled_frame()
    fit = GenerativeClassifier().fit(df[["a", "b"]], df["y"])
    with pytest.raises(ValueError, match="y is a pandas Series whose index differs"):
        fit.log_prob(ddf[["a", "b"]], df["y"])
    order = ddf.index.compute()
    lazy = fit.log_prob(ddf[["a", "b"]], df["y"].loc[order])
    expected = fit.log_prob(df[["a", "b"]].loc[order], df["y"].loc[order])
    np.testing.assert_allclose(lazy.compute(), expected, rtol=1e-12)


def test_pandas_target_of_the_same_index_is_split_by_position():
    df, _ = shuffled_frame()
    ddf = dd.from_pandas(df.sort_index(), npartitions=4)
    memory = GenerativeClassifier().fit(df[["a", "b"]], df["y"])
    fit = GenerativeClassifier().fit(ddf[["a", "b"]], df["y"].sort_index())
    np.testing.assert_allclose(fit.means_, memory.means_, rtol=1e-8)


DASK_X = da.from_array(two_blobs(n=200), chunks=60)
DASK_Y = da.from_array(np.repeat([0, 1], 100), chunks=60)


@pytest.mark.parametrize(
    "name, fit",
    [
        ("GaussianMixture", lambda: GaussianMixture(2, device="cpu").fit(DASK_X)),
        ("GaussianImputer", lambda: GaussianImputer(device="cpu").fit(DASK_X)),
        ("KMeans", lambda: KMeans(2, device="cpu").fit(DASK_X)),
        ("GenerativeClassifier", lambda: GenerativeClassifier(device="cpu").fit(DASK_X, DASK_Y)),
        ("select_mixture", lambda: select_mixture(DASK_X, n_components=[1], device="cpu")),
    ],
)
def test_device_with_a_dask_collection_is_refused_alike(name, fit):
    message = rf"^{name}\(device='cpu'\) cannot fit a Dask collection: .* Leave device=None\.$"
    with pytest.raises(ValueError, match=message):
        fit()


def test_weights_of_another_length_say_what_to_pass():
    x = two_blobs(n=400)
    ddf = dd.from_pandas(pd.DataFrame(x, columns=["a", "b"]), npartitions=4)
    short = dd.from_pandas(pd.Series(np.ones(392)), npartitions=4).values
    with pytest.raises(ValueError, match=r"of sample_weight has 98 rows but X has 100: .*ddf\["):
        GaussianMixture(2).fit(ddf.values, sample_weight=short)
    labels = dd.from_pandas(pd.Series(np.arange(392) % 2), npartitions=4).values
    with pytest.raises(ValueError, match=r"of y has 98 rows but X has 100: .*compute_chunk_s"):
        GenerativeClassifier().fit(ddf.values, labels)
    with pytest.raises(ValueError, match="sample_weight has 399 entries but X has 400 rows"):
        GaussianMixture(2).fit(ddf.values, sample_weight=np.ones(399))


def test_classifier_score_takes_what_its_fit_takes_on_unknown_partition_sizes():
    # fit counted the rows of X to split y and the weights in memory as X is; score refused
    # them ("y is an in-memory array ... the partition sizes of X are unknown").
    x = two_blobs(n=400)
    y = (x[:, 0] + x[:, 1] > 3).astype(int)
    w = np.random.default_rng(1).uniform(0.5, 2.0, 400)
    unknown = dd.from_pandas(pd.DataFrame(x, columns=["a", "b"]), npartitions=4).values
    fitted = GenerativeClassifier().fit(unknown, y, sample_weight=w)
    memory = GenerativeClassifier().fit(x, y, sample_weight=w)
    wrong = memory.predict(x) != y
    assert 0 < wrong.sum() < 40  # the score is no trivial 1
    for truth in (y, da.from_array(y, chunks=150)):
        for weights in (None, w, da.from_array(w, chunks=70)):
            expected = 1 - np.average(wrong, weights=None if weights is None else w)
            got = fitted.score(unknown, truth, sample_weight=weights)
            np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert np.isnan(unknown.chunks[0][0])  # the caller's array is not changed


def test_imputer_weights_of_unknown_partition_sizes_and_missing_values():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 2)) @ np.array([[1.0, 0.6], [0.0, 0.8]])
    x[rng.uniform(size=x.shape) < 0.15] = np.nan  # rows with nothing observed among them
    w = rng.uniform(0.5, 2.0, 300)
    values = dd.from_pandas(pd.DataFrame(x, columns=["a", "b"]), npartitions=3).values
    assert np.isnan(values.shape[0])
    memory = GaussianImputer().fit(x, sample_weight=w)
    unknown = GaussianImputer().fit(values, sample_weight=w)
    np.testing.assert_allclose(unknown.log_likelihood_, memory.log_likelihood_, rtol=1e-9)
    np.testing.assert_allclose(unknown.covariance_, memory.covariance_, rtol=1e-8)
    # the weights' length checked where they are split, as GaussianMixture's
    message = "sample_weight has 299 entries but X has 300 rows. Pass one entry"
    with pytest.raises(ValueError, match=message):
        GaussianImputer().fit(values, sample_weight=w[:-1])


def test_pandas_target_or_weights_of_another_index_are_refused_by_scores():
    df, ddf = shuffled_frame()
    cols = ["a", "b"]
    fit = GenerativeClassifier().fit(df[cols], df["y"])
    refused = "is a pandas Series whose index differs"
    with pytest.raises(ValueError, match="y " + refused):
        fit.score(ddf[cols], df["y"])
    with pytest.raises(ValueError, match="sample_weight " + refused):
        fit.score(ddf[cols], ddf["y"], sample_weight=df["w"])
    for criterion in (fit.bic, fit.aic):
        with pytest.raises(ValueError, match="sample_weight " + refused):
            criterion(ddf[cols], ddf["y"], sample_weight=df["w"])
    # aligned with X (or of its own DataFrame), the numbers in memory
    order = ddf.index.compute()
    y, w = df["y"].loc[order], df["w"].loc[order]
    wrong = np.where(fit.predict(df[cols]) != df["y"], df["w"], 0.0).sum() / df["w"].sum()
    assert wrong > 0  # two overlapping blobs: the weights change the accuracy
    np.testing.assert_allclose(fit.score(ddf[cols], y, w), 1 - wrong, rtol=1e-12)
    np.testing.assert_allclose(fit.score(ddf[cols], y), fit.score(df[cols], df["y"]), rtol=1e-12)
    expected = fit.bic(df[cols], df["y"], sample_weight=df["w"])
    np.testing.assert_allclose(fit.bic(ddf[cols], y, sample_weight=w), expected, rtol=1e-10)
    imputer = GaussianImputer().fit(df[cols])
    with pytest.raises(ValueError, match="sample_weight " + refused):
        imputer.score(ddf[cols], sample_weight=df["w"])
    expected = imputer.score(df[cols], sample_weight=df["w"])
    np.testing.assert_allclose(imputer.score(ddf[cols], sample_weight=w), expected, rtol=1e-10)
    np.testing.assert_allclose(
        imputer.score(ddf[cols], sample_weight=ddf["w"]), expected, rtol=1e-10
    )


def test_imputer_array_weights_read_a_dask_frame_twice():
    x = two_blobs(n=900)
    w = np.random.default_rng(2).uniform(0.5, 2.0, 900)
    ddf, reads = counted_frame(x, npartitions=3)
    fit = GaussianImputer().fit(ddf, sample_weight=w)
    # one read counts and checks the rows, one persists them: X is not counted twice
    assert reads[0] <= 2
    memory = GaussianImputer().fit(x, sample_weight=w)
    np.testing.assert_allclose(fit.log_likelihood_, memory.log_likelihood_, rtol=1e-9)
    # a pandas Series is still matched to the index of the Dask DataFrame
    df, shuffled = shuffled_frame()
    with pytest.raises(ValueError, match="sample_weight is a pandas Series whose index"):
        GaussianImputer().fit(shuffled[["a", "b"]], sample_weight=df["w"])


def test_regression_scores_refuse_pandas_weights_of_another_index():
    """MixtureOfRegressions' weighted criteria split a pandas weight by
    position against a Dask DataFrame (its rows reordered by from_pandas): refused as in a fit;
    aligned, the numbers in memory."""
    df, ddf = shuffled_frame()
    refused = "sample_weight is a pandas Series whose index differs"
    regression = MixtureOfRegressions(2, random_state=0).fit(df[["a"]], df["b"])
    with pytest.raises(ValueError, match=refused):
        regression.bic(ddf[["a"]], ddf["b"], sample_weight=df["w"])
    w = df["w"].loc[ddf.index.compute()]
    expected = regression.bic(df[["a"]], df["b"], sample_weight=df["w"])
    np.testing.assert_allclose(
        regression.bic(ddf[["a"]], ddf["b"], sample_weight=w), expected, rtol=1e-10
    )


def projecting_frame(df, npartitions=4):
    """A Dask DataFrame of ``df`` read as Parquet is (only the columns asked for: Dask pushes
    column selections into the reader), and a Counter of the reads of each partition."""
    reads = collections.Counter()
    bounds = np.linspace(0, len(df), npartitions + 1).astype(int)

    def load(i, tag, columns=None):
        reads[i] += 1
        part = df.iloc[bounds[i] : bounds[i + 1]]
        return part if columns is None else part[list(columns)]

    divisions = (*bounds[:-1].tolist(), len(df) - 1)
    # a name of its own (``tag``): Dask would otherwise reuse another test's reader, which
    # counts in another Counter
    tags = [id(reads)] * npartitions
    ddf = dd.from_map(load, range(npartitions), tags, meta=df.iloc[:0], divisions=divisions)
    return ddf, reads


def labelled_frame(n=800, seed=3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    df = pd.DataFrame(rng.normal(size=(n, 2)) + 3 * y[:, None], columns=["a", "b"])
    df["w"], df["y"] = rng.uniform(0.5, 2.0, n), y
    return df


def test_weights_and_labels_of_the_source_are_read_with_x():
    """Weights and labels that are columns of the DataFrame X came from are read in the tasks
    that read X: a fit with them reads each partition as often as one without (to count the
    rows, then to persist them), where each column used to be counted and persisted on its
    own (4 reads with weights, 5 with labels, 7 with both)."""
    df = labelled_frame()
    ddf, reads = projecting_frame(df)
    X, w, y = ddf[["a", "b"]], ddf["w"], ddf["y"]
    fits = {
        "none": lambda: GaussianMixture(2, random_state=0).fit(X),
        "weights": lambda: GaussianMixture(2, random_state=0).fit(X, sample_weight=w),
        "labels": lambda: GenerativeClassifier().fit(X, y),
        "both": lambda: GenerativeClassifier().fit(X, y, sample_weight=w),
    }
    counts, fitted = {}, {}
    for name, fit in fits.items():
        reads.clear()
        fitted[name] = fit()
        counts[name] = max(reads.values())
    assert counts["none"] <= 2
    assert counts == dict.fromkeys(fits, counts["none"])
    x = df[["a", "b"]]
    weighted = GaussianMixture(2, random_state=0).fit(x, sample_weight=df["w"])
    np.testing.assert_allclose(fitted["weights"].means_, weighted.means_, rtol=1e-9)
    np.testing.assert_allclose(
        fitted["weights"].log_likelihood_, weighted.log_likelihood_, rtol=1e-9
    )
    for name, memory in (
        ("labels", GenerativeClassifier().fit(x, df["y"])),
        ("both", GenerativeClassifier().fit(x, df["y"], sample_weight=df["w"])),
    ):
        np.testing.assert_array_equal(fitted[name].classes_, memory.classes_)
        np.testing.assert_allclose(fitted[name].means_, memory.means_, rtol=1e-9)
        np.testing.assert_allclose(fitted[name].priors_, memory.priors_, rtol=1e-9)


def test_sums_over_a_dask_frame_read_each_partition_once():
    """score, bic and aic of a Dask DataFrame are one pass over its partitions (they used to
    count the rows in a read of their own first), with or without weights of the same source,
    and equal the values in memory."""
    df = labelled_frame()
    ddf, reads = projecting_frame(df)
    X, w = ddf[["a", "b"]], ddf["w"]
    x = df[["a", "b"]]
    model = GaussianMixture(2, random_state=0).fit(x)
    for name in ("score", "bic", "aic"):
        for weights, given in ((None, None), (w, df["w"])):
            reads.clear()
            value = getattr(model, name)(X, sample_weight=weights)
            assert max(reads.values()) == 1, name
            expected = getattr(model, name)(x, sample_weight=given)
            np.testing.assert_allclose(value, expected, rtol=1e-12)


# --- columns of text, objects or categories read as numbers, as in memory -----------------


def text_frames(n=120, seed=5):
    """Frames the in-memory path reads as the numbers ``x`` (n, 2): objects of floats, objects
    with pd.NA (missing), and text of the numbers (each written in full)."""
    rng = np.random.default_rng(seed)
    x = two_blobs(n, seed)
    df = pd.DataFrame(x, columns=["a", "b"])
    gaps = np.zeros((n, 2), dtype=bool)
    gaps[rng.choice(n, 10, replace=False), rng.integers(0, 2, 10)] = True
    return (
        x,
        gaps,
        {
            "objects": df.astype(object),
            "objects with pd.NA": df.astype(object).mask(gaps, pd.NA),
            "text": df.map(repr),
        },
    )


@pytest.mark.parametrize("name", ["objects", "objects with pd.NA", "text"])
def test_dask_frame_of_text_or_objects_fits_as_in_memory(name):
    # Refused as "every column of X must hold real numbers; columns ['a', 'b'] are not (text,
    # categories, ...)", where the same frame in pandas fits (Dask makes an object column text).
    x, gaps, frames = text_frames()
    frame = frames[name]
    missing = "em" if "NA" in name else "error"
    memory = GaussianMixture(2, missing=missing, random_state=0).fit(frame)
    ddf = dd.from_pandas(frame, npartitions=3)
    fitted = GaussianMixture(2, missing=missing, random_state=0).fit(ddf)
    np.testing.assert_allclose(fitted.log_likelihood_, memory.log_likelihood_, rtol=1e-10)
    np.testing.assert_allclose(fitted.means_, memory.means_, rtol=1e-10)
    np.testing.assert_array_equal(fitted.feature_names_in_, ["a", "b"])
    # the numbers themselves, NaN for pd.NA: the fit of the float array
    numbers = np.where(gaps, np.nan, x) if missing == "em" else x
    floats = GaussianMixture(2, missing=missing, random_state=0).fit(numbers)
    np.testing.assert_allclose(fitted.log_likelihood_, floats.log_likelihood_, rtol=1e-10)
    one = GaussianMixture(1, missing=missing).fit(ddf)
    if missing == "error":  # one component: the sample mean and covariance (closed form)
        from scipy.stats import multivariate_normal

        mean, cov = x.mean(axis=0), np.cov(x.T, bias=True)
        np.testing.assert_allclose(one.means_[0], mean, rtol=1e-10)
        closed = multivariate_normal(mean, cov).logpdf(x).sum()
        np.testing.assert_allclose(one.log_likelihood_, closed, rtol=1e-10)
    for estimator in (KMeans(2, random_state=0), GaussianImputer()):
        if missing == "em" and isinstance(estimator, KMeans):
            continue
        a, b = clone(estimator).fit(frame), clone(estimator).fit(ddf)
        what = "inertia_" if isinstance(estimator, KMeans) else "log_likelihood_"
        np.testing.assert_allclose(getattr(b, what), getattr(a, what), rtol=1e-10)


def test_dask_frame_of_category_codes_fits_as_in_memory():
    # MixtureModel of Categorical fitted a pandas category column of codes 0..2 in memory
    # (log-likelihood -217.557 here) and refused the same column on Dask.
    from emkit import Categorical, MixtureModel

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 3, 200)
    c = pd.DataFrame({"c": pd.Categorical(codes)})
    model = MixtureModel([Categorical(), Categorical()], random_state=0)
    memory = clone(model).fit(c)
    on_dask = clone(model).fit(dd.from_pandas(c, npartitions=3))
    np.testing.assert_allclose(on_dask.log_likelihood_, memory.log_likelihood_, rtol=1e-10)
    # a mixture of categoricals fits the frequencies: log L = sum_c n_c log(n_c / n)
    counts = np.bincount(codes)
    closed = float(counts @ np.log(counts / counts.sum()))
    np.testing.assert_allclose(on_dask.log_likelihood_, closed, rtol=1e-8)


@pytest.mark.parametrize(
    "bad, value",
    [("text", "x"), ("category of text", "[uv]"), ("text with a comma", "1,5")],
)
def test_dask_frame_text_that_is_not_numbers_is_refused_as_in_memory(bad, value):
    x, _, frames = text_frames()
    frame = frames["objects"].copy()
    if bad == "category of text":
        frame["b"] = pd.Categorical(np.where(x[:, 1] > 1, "u", "v"))
    else:
        frame.loc[70, "b"] = value
    # the in-memory message, naming the column and the partition on Dask
    said = rf"holds values that are not numbers \(could not convert string to float: '{value}'\)"
    with pytest.raises(ValueError, match=said):
        GaussianMixture(2, random_state=0).fit(frame)
    with pytest.raises(ValueError, match=rf"column 'b' of partition \d \(of 3\) of X {said}"):
        GaussianMixture(2, random_state=0).fit(dd.from_pandas(frame, npartitions=3))


def test_dask_frame_of_text_is_read_once_per_pass_with_weights_of_its_source():
    """Text columns converted where each partition is read: a fit, with weights of the same
    source or without, reads each partition as often as one of float columns, and a sum
    (bic) reads it once."""
    df = labelled_frame()
    x = df[["a", "b"]]
    text = df.astype({"a": object}).assign(b=df["b"].map(repr))
    counts = {}
    for name, frame in (("floats", df), ("text", text)):
        ddf, reads = projecting_frame(frame)
        for weights in (None, ddf["w"]):
            reads.clear()
            fitted = GaussianMixture(2, random_state=0).fit(ddf[["a", "b"]], sample_weight=weights)
            counts[name, weights is None] = max(reads.values())
        reads.clear()
        bic = fitted.bic(ddf[["a", "b"]], sample_weight=ddf["w"])
        assert max(reads.values()) == 1, name
        np.testing.assert_allclose(bic, fitted.bic(x, sample_weight=df["w"]), rtol=1e-12)
    assert counts["text", True] == counts["floats", True] <= 2
    assert counts["text", False] == counts["floats", False] <= 2
    weighted = GaussianMixture(2, random_state=0).fit(x, sample_weight=df["w"])
    np.testing.assert_allclose(fitted.log_likelihood_, weighted.log_likelihood_, rtol=1e-9)


def test_dask_frame_of_time_objects_is_refused_by_name():
    # Objects that are times (Dask keeps them as objects where it does not make them text)
    # are refused as times, not read as numbers or as text that is not numbers.
    import datetime

    frame = pd.DataFrame({"a": np.arange(20.0), "t": [datetime.time(1, i) for i in range(20)]})
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = dd.from_pandas(frame, npartitions=2)
        with pytest.raises(
            ValueError,
            match=r"column 't' of partition \d \(of 2\) of X holds "
            "times of day",
        ):
            GaussianMixture(1).fit(ddf)


def test_dask_frame_of_bool_objects_made_text_says_how_to_read_them():
    """An object column of bools fits in memory (True and False as 1 and 0); Dask's default
    string conversion makes it the text "True"/"False", which is refused like any text, and
    the message's two ways out each give the in-memory fit."""
    import dask

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"a": rng.normal(size=200), "f": pd.Series(rng.integers(0, 2, 200) > 0).astype(object)}
    )
    frame.loc[3, "f"] = None
    in_memory = GaussianMixture(1, missing="em").fit(frame).means_
    floats = GaussianMixture(1, missing="em").fit(frame.astype({"f": float})).means_
    np.testing.assert_allclose(in_memory, floats, rtol=1e-12)  # True and False as 1 and 0
    with dask.config.set({"dataframe.convert-string": True}):
        text = dd.from_pandas(frame, npartitions=2)
    with pytest.raises(ValueError, match=r"Dask made it text: \['False', 'True'\]"):
        GaussianMixture(1, missing="em").fit(text)
    with dask.config.set({"dataframe.convert-string": False}):
        kept = dd.from_pandas(frame, npartitions=2)
    as_floats = dd.from_pandas(frame.astype({"f": float}), npartitions=2)
    for X in (kept, as_floats):
        np.testing.assert_allclose(GaussianMixture(1, missing="em").fit(X).means_, in_memory)


@pytest.mark.parametrize("name", ["GaussianImputer", "KMeans"])
def test_pandas_output_of_unknown_chunk_sizes_numbers_rows_from_0(name):
    # a boolean mask leaves the chunk sizes unknown (nan); the rows of the pandas output are
    # numbered 0..n-1 across the partitions, as pandas numbers the same rows in memory (each
    # partition used to start again from 0), lazily: each block is read once, when computed
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    if name == "GaussianImputer":
        x[rng.uniform(size=x.shape) < 0.1] = np.nan
        est = GaussianImputer().fit(x)
    else:
        est = KMeans(2, random_state=0).fit(x)
    est.set_output(transform="pandas")
    reads = collections.Counter()

    def read(block, block_info=None):
        reads[block_info[0]["chunk-location"][0]] += 1
        return block

    keep = ~np.isnan(x[:, 1])  # rows chosen by a mask: the chunk sizes are unknown
    arr = da.from_array(x, chunks=(30, 3)).map_blocks(read, dtype=float)
    X = arr[da.from_array(keep, chunks=30)]
    assert np.isnan(X.chunks[0]).all()
    out = est.transform(X)
    assert isinstance(out, dd.DataFrame) and not reads  # nothing computed yet
    expected = est.transform(x[keep])
    assert isinstance(expected, pd.DataFrame)
    pd.testing.assert_frame_equal(out.compute(), expected, rtol=RTOL)
    assert reads == {0: 1, 1: 1, 2: 1, 3: 1}
    assert out.partitions[2].compute().index[0] == keep[:60].sum()


def test_select_mixture_names_a_dask_frames_nan_columns_as_a_fit_does():
    # select_mixture said "(columns [1])" where GaussianMixture.fit of the same frame says
    # "(columns ['b'])".
    x = np.random.default_rng(0).normal(size=(600, 3))
    x[590, 1] = np.nan
    ddf = dd.from_pandas(pd.DataFrame(x, columns=list("abc")), npartitions=6)
    with pytest.raises(ValueError, match=r"NaN in 1 of 100 rows \(columns \['b'\]\)") as fit:
        GaussianMixture(2).fit(ddf)
    with pytest.raises(ValueError) as selection:
        select_mixture(ddf, n_components=[2], covariance_types=["VVV"])
    assert str(selection.value) == str(fit.value)


@pytest.mark.parametrize("kind", ["dask array", "dask frame", "pandas frame"])
@pytest.mark.parametrize("estimator", [GaussianMixture(2), KMeans(2)], ids=["gm", "kmeans"])
def test_two_dimensional_weights_are_refused_as_in_memory(kind, estimator):
    # A (n, 1) weight was taken from Dask (read as its column) where scikit-learn's check
    # refuses it in memory ("Sample weights must be 1D").
    x = np.random.default_rng(0).normal(size=(400, 2))
    df = pd.DataFrame(x, columns=["a", "b"]).assign(w=1.0)
    ddf = dd.from_pandas(df, npartitions=4)
    weights = {
        "dask array": da.ones((400, 1), chunks=(100, 1)),
        "dask frame": ddf[["w"]],
        "pandas frame": df[["w"]],
    }[kind]
    with pytest.raises(ValueError, match="Sample weights must be 1D"):
        clone(estimator).fit(x, sample_weight=np.ones((400, 1)))
    with pytest.raises(ValueError, match=r"(?i)sample.weights? must be 1-?D"):
        clone(estimator).fit(ddf[["a", "b"]], sample_weight=weights)
    # its column is taken, and fits as in memory
    column = weights[:, 0] if kind == "dask array" else weights["w"]
    fitted = clone(estimator).set_params(random_state=0).fit(ddf[["a", "b"]], sample_weight=column)
    memory = clone(estimator).set_params(random_state=0).fit(x, sample_weight=np.ones(400))
    np.testing.assert_allclose(fitted.score(df[["a", "b"]]), memory.score(x), rtol=1e-9)
