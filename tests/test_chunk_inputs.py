"""Data given in chunks (lists or re-iterables of arrays or DataFrames, files, memory maps) are
read as the same rows in memory: the reference for each test is the in-memory fit."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.mixture import GaussianMixture as SklearnMixture

from emkit import (
    GaussianImputer,
    GaussianMixture,
    GenerativeClassifier,
    KMeans,
    MixtureModel,
    MixtureOfRegressions,
    Normal,
    ZeroInflatedPoisson,
)


class Replaying:
    """A re-iterable that yields the same chunks on every pass, counting the passes."""

    def __init__(self, chunks):
        self.chunks = chunks
        self.passes = 0

    def __iter__(self):
        self.passes += 1
        return iter(self.chunks)


def two_blobs(n=300, seed=1, gap=3.0):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(0, 1, (n, 2)), rng.normal(gap, 1, (n, 2))])


def masked_with_sentinels(x):
    """``x`` masked at every fourth row's second column, 1000 stored under the mask."""
    mask = np.zeros_like(x, bool)
    mask[::4, 1] = True
    stored = x.copy()
    stored[mask] = 1e3
    return np.ma.masked_array(stored, mask=mask), mask


# --- masked arrays --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["list", "re-iterable"])
def test_masked_chunks_are_missing_values_as_a_masked_array_in_memory(kind):
    # The mask was dropped and the 1000s under it fitted: means [[1.43, 1.49], [1.44, 1000]]
    # for [[-0.05, 0.07], [3.0, 2.99]].
    x = two_blobs()
    masked, mask = masked_with_sentinels(x)
    chunks = [masked[:250], masked[250:]]
    given = chunks if kind == "list" else Replaying(chunks)
    options = dict(n_components=2, random_state=0, missing="em", tol=1e-10)
    reference = GaussianMixture(**options).fit(np.where(mask, np.nan, x))
    fitted = GaussianMixture(**options).fit(given)
    np.testing.assert_allclose(fitted.means_, reference.means_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fitted.covariances_, reference.covariances_, rtol=1e-7)
    np.testing.assert_array_equal(fitted.predict(chunks), reference.predict(masked))
    imputer = GaussianImputer(tol=1e-12).fit(given)
    expected = GaussianImputer(tol=1e-12).fit(masked)
    np.testing.assert_allclose(imputer.mean_, expected.mean_, rtol=1e-9)
    assert np.abs(imputer.mean_ - np.nanmean(np.where(mask, np.nan, x), axis=0)).max() < 0.2


def test_masked_chunks_joined_in_memory_are_missing_values():
    x = two_blobs()
    y = np.repeat([0, 1], 300)
    masked, mask = masked_with_sentinels(x)
    chunks = [masked[:250], masked[250:]]
    # complete-data estimators refuse the masked entries, as they refuse the masked array
    for estimator in (KMeans(2, random_state=0), MixtureModel([Normal(), Normal()])):
        for data in (masked, chunks):
            with pytest.raises(ValueError, match="contains NaN in 150 of 600 rows"):
                estimator.fit(data)
    reference = GenerativeClassifier(missing="em").fit(masked, y)
    fitted = GenerativeClassifier(missing="em").fit(chunks, y)
    np.testing.assert_allclose(fitted.means_, reference.means_, rtol=1e-10)
    assert np.abs(fitted.means_ - [[0, 0], [3, 3]]).max() < 0.2  # not ~250 in column 1


def test_masked_weights_and_labels_are_refused_as_in_memory():
    x = two_blobs()
    weights = np.ma.masked_array(np.ones(600), mask=np.arange(600) == 0)
    weights.data[0] = 1e6  # what NumPy read under the mask
    labels = np.ma.masked_array(np.repeat([0, 1], 300), mask=np.arange(600) == 5)
    for data in (x, [x[:250], x[250:]]):
        with pytest.raises(ValueError, match="sample_weight is a masked array with 1 masked"):
            GaussianMixture(2).fit(data, sample_weight=weights)
        with pytest.raises(ValueError, match="sample_weight is a masked array with 1 masked"):
            KMeans(2).fit(data, sample_weight=weights)
        with pytest.raises(ValueError, match="y is a masked array with 1 masked"):
            GenerativeClassifier().fit(data, labels)
    # a mask that masks nothing is the array
    unmasked = np.ma.masked_array(np.ones(600))
    reference = GaussianMixture(2, random_state=0).fit(x)
    fitted = GaussianMixture(2, random_state=0).fit(x, sample_weight=unmasked)
    np.testing.assert_allclose(fitted.means_, reference.means_, rtol=1e-12)


# --- magnitude ------------------------------------------------------------------------------


def chunked_kinds(x, tmp_path):
    np.save(tmp_path / "x.npy", x)
    pd.DataFrame(x, columns=["a", "b"]).to_parquet(tmp_path / "x.parquet")
    return {
        "list": [x[:250], x[250:]],
        "re-iterable": Replaying([x[:250], x[250:]]),
        ".npy": str(tmp_path / "x.npy"),
        "parquet": str(tmp_path / "x.parquet"),
        "memmap": np.load(tmp_path / "x.npy", mmap_mode="r"),
    }


@pytest.mark.parametrize("estimator", [GaussianMixture, GaussianImputer])
def test_chunks_of_tiny_or_huge_values_are_refused_as_in_memory(tmp_path, estimator):
    # Values of 1e-170 have squares that underflow: in memory refused, from chunks both
    # components collapsed onto one mean (a DegenerateFitWarning); 1e200 gave a LinAlgError.
    x = two_blobs()
    huge = x.copy()
    huge[5, 0] = 1e200
    steps: list = []
    options = {"callback": steps.append} if estimator is GaussianMixture else {}
    for data, message in [(x * 1e-170, "no larger than 6.75e-170"), (huge, "as large as 1e")]:
        with pytest.raises(ValueError, match=message):
            estimator().fit(data)
        for given in chunked_kinds(data, tmp_path).values():
            with pytest.raises(ValueError, match=message + r".*Rescale the data"):
                estimator(**options).fit(given)
    assert steps == []  # refused before EM starts


def test_the_magnitude_of_chunks_is_checked_once_and_not_per_chunk():
    # A chunk of tiny values beside others of ordinary ones is data to fit; the whole fit of
    # a re-iterable equals the in-memory fit.
    x = two_blobs()
    x[:100] *= 1e-170
    reference = GaussianMixture(2, random_state=0, tol=1e-10).fit(x)
    fitted = GaussianMixture(2, random_state=0, tol=1e-10).fit(Replaying([x[:100], x[100:]]))
    np.testing.assert_allclose(fitted.means_, reference.means_, rtol=1e-8, atol=1e-12)


# --- fit_predict / fit_transform of a re-iterable -------------------------------------------


def test_fit_predict_labels_a_re_iterable_chunk_by_chunk():
    # fit_predict ran the whole fit, then refused the re-iterable and rolled the fit back.
    x = two_blobs(gap=2.5)
    x[::9, 1] = np.nan
    options = dict(n_components=2, random_state=0, missing="em")
    reference = GaussianMixture(**options).fit_predict(x)
    frames = Replaying([pd.DataFrame(x[:100], columns=["u", "v"]), pd.DataFrame(x[100:])])
    frames.chunks[1].columns = ["u", "v"]
    model = GaussianMixture(**options)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "valid feature names" per chunk
        labels = model.fit_predict(frames)
    np.testing.assert_array_equal(labels, reference)
    assert model.feature_names_in_.tolist() == ["u", "v"]
    sk = SklearnMixture(2, random_state=0).fit_predict(two_blobs(gap=6))
    ours = GaussianMixture(2, random_state=0).fit_predict(Replaying([two_blobs(gap=6)]))
    assert max((sk == ours).mean(), (sk != ours).mean()) == 1.0


def test_fit_transform_fills_a_re_iterable_chunk_by_chunk():
    # fit_transform fitted, then refused the re-iterable, leaving the estimator fitted.
    x = two_blobs()
    x[::5, 0] = np.nan
    reference = GaussianImputer(tol=1e-12).fit_transform(x)
    filled = GaussianImputer(tol=1e-12).fit_transform(Replaying([x[:100], x[100:]]))
    np.testing.assert_allclose(filled, reference, rtol=1e-9)
    assert not np.isnan(filled).any()


# --- warm starts: the names follow X --------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: GaussianMixture(2, random_state=0, warm_start=True),
        lambda: MixtureModel([Normal(), Normal()], random_state=0, warm_start=True),
    ],
    ids=["GaussianMixture", "MixtureModel"],
)
def test_a_warm_refit_on_an_array_drops_the_names_as_scikit_learn(make):
    x = np.random.default_rng(1).normal(size=(400, 3))
    frame = pd.DataFrame(x, columns=list("abc"))
    sk = SklearnMixture(2, random_state=0, warm_start=True).fit(frame).fit(x)
    model = make().fit(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.fit(x)
        model.predict(x)
    assert hasattr(sk, "feature_names_in_") is hasattr(model, "feature_names_in_") is False
    model.fit(frame)  # and take them from a DataFrame again
    assert model.feature_names_in_.tolist() == ["a", "b", "c"]
    with pytest.raises(ValueError, match="Feature names unseen at fit time"):
        model.fit(frame.set_axis(list("xyz"), axis=1))  # other names: still refused


def test_warm_refits_of_regressions_and_zero_inflation_drop_the_names():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 10, (300, 1))
    y = 1 + 2 * x[:, 0] + rng.normal(0, 0.5, 300)
    model = MixtureOfRegressions(2, random_state=0, n_init=1, warm_start=True)
    model.fit(pd.DataFrame(x, columns=["x"]), y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.fit(x, y)
    assert not hasattr(model, "feature_names_in_")
    counts = pd.DataFrame({"n": np.r_[np.zeros(60, int), rng.poisson(3, 240)]})
    zip_model = ZeroInflatedPoisson(warm_start=True).fit(counts)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        zip_model.fit(counts.to_numpy())
    assert not hasattr(zip_model, "feature_names_in_")


# --- what the chunks hold -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["text", "category", "decimal", "bytes", "str array"])
def test_chunks_of_number_text_are_read_as_in_memory(kind):
    # A list of such DataFrames was refused where one DataFrame and a re-iterable of them
    # were fitted.
    import decimal

    x = two_blobs(200, seed=0)
    frame = pd.DataFrame(x, columns=["a", "b"])
    if kind == "text":
        frame["b"] = frame["b"].map(lambda v: f"{v:.6f}")
    elif kind == "category":
        frame["b"] = pd.Categorical(np.round(frame["b"]))
    elif kind == "decimal":
        frame["b"] = frame["b"].map(lambda v: decimal.Decimal(f"{v:.3f}"))
    elif kind == "bytes":
        frame["b"] = frame["b"].map(lambda v: f"{v:.3f}".encode())
    table = x.astype(str) if kind == "str array" else frame
    reference = GaussianMixture(2, random_state=0).fit(table)
    chunks = [table[:200], table[200:]]
    for given in (chunks, Replaying(chunks)):
        fitted = GaussianMixture(2, random_state=0).fit(given)
        np.testing.assert_allclose(fitted.means_, reference.means_, rtol=1e-8)
    np.testing.assert_allclose(
        KMeans(2, random_state=0).fit(chunks).cluster_centers_,
        KMeans(2, random_state=0).fit(table).cluster_centers_,
        rtol=1e-10,
    )


def test_chunks_of_durations_or_sparse_matrices_are_refused_as_in_memory():
    x = two_blobs(200, seed=0)
    frame = pd.DataFrame(x, columns=["a", "b"])
    frame["b"] = pd.to_timedelta(frame["b"], unit="D")
    with pytest.raises(ValueError, match="durations"):
        GaussianMixture(2).fit(frame)
    chunks = [frame[:200], frame[200:]]
    for given in (chunks, Replaying(chunks)):
        with pytest.raises(ValueError, match=r"element 0 .*durations \(timedelta64"):
            GaussianMixture(2).fit(given)
    with pytest.raises(TypeError, match="Sparse data was passed for X"):
        GaussianMixture(2).fit(sp.csr_matrix(x))
    sparse = [sp.csr_matrix(x[:200]), sp.csr_matrix(x[200:])]
    for given in (sparse, Replaying(sparse)):
        for estimator in (GaussianMixture(2), KMeans(2)):
            if isinstance(given, Replaying) and isinstance(estimator, KMeans):
                continue  # KMeans reads arrays in memory, and says to pass list(X)
            with pytest.raises(TypeError, match=r"Sparse data was passed for X \(element 0"):
                estimator.fit(given)


# --- weights --------------------------------------------------------------------------------


@pytest.mark.parametrize("estimator", [GaussianMixture, GaussianImputer])
def test_chunks_take_sample_weight_as_the_rows_in_memory(estimator):
    # GaussianMixture and GaussianImputer refused sample_weight with a list of chunks, where
    # KMeans, MixtureModel and GenerativeClassifier take it.
    x = two_blobs()
    w = np.random.default_rng(3).uniform(0, 3, 600)
    reference = estimator(tol=1e-12).fit(x, sample_weight=w)
    for given in ([x[:250], x[250:]], Replaying([x[:250], x[250:]])):
        fitted = estimator(tol=1e-12).fit(given, sample_weight=w)
        for name in ("means_", "covariances_", "mean_", "covariance_"):
            if hasattr(reference, name):
                np.testing.assert_allclose(
                    getattr(fitted, name), getattr(reference, name), rtol=1e-9, atol=1e-12
                )
    # equal to the rows repeated (integer weights): scikit-learn's meaning of a weight
    counts = np.repeat([1, 2, 3], 200)
    repeated = estimator(tol=1e-12).fit(np.repeat(x, counts, axis=0))
    weighted = estimator(tol=1e-12).fit([x[:250], x[250:]], sample_weight=counts)
    name = "means_" if hasattr(repeated, "means_") else "mean_"
    np.testing.assert_allclose(getattr(weighted, name), getattr(repeated, name), rtol=1e-7)
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(10,\), expected \(600,\)"):
        estimator().fit([x[:250], x[250:]], sample_weight=w[:10])
    with pytest.raises(ValueError, match="must be one array of weights"):
        estimator().fit([x[:250], x[250:]], sample_weight=[w[:250], w[250:]])
