"""Input types read as their values say: half-precision tensors, masked arrays, dates as y,
chunked weights.

Half-precision torch tensors are computed in the fitted model's precision (float16 overflows
on squared distances and log densities, and torch has no half triangular solve on the CPU);
masked entries of a NumPy masked array are missing values; dates and durations as a numeric
y are refused as they are in X; weights of a chunked X are one array, as y is.
"""

import numpy as np
import pytest

from emkit import GaussianImputer, GaussianMixture, GenerativeClassifier, KMeans

torch = pytest.importorskip("torch")

HALF_TYPES = [torch.float16, torch.bfloat16]


def _half_rows(dtype, n=400, d=50, seed=0):
    """Two clusters around 0 and 300: distances near 2e6, past float16's 65504. The rows are
    rounded to ``dtype`` on the host, so the NumPy reference sees the same values."""
    rng = np.random.default_rng(seed)
    x = np.vstack([rng.normal(0, 1, (n // 2, d)), rng.normal(3, 1, (n - n // 2, d))]) * 100
    tensor = torch.tensor(x).to(dtype)
    return tensor.double().numpy(), tensor


@pytest.mark.parametrize("dtype", HALF_TYPES)
def test_half_tensor_kmeans_matches_float64(dtype):
    x, t = _half_rows(dtype)
    km = KMeans(2, random_state=0).fit(x)
    distances = km.transform(t)
    assert distances.dtype == torch.float64
    np.testing.assert_allclose(distances.numpy(), km.transform(x), rtol=1e-12)
    np.testing.assert_array_equal(km.predict(t).numpy(), km.predict(x))
    np.testing.assert_allclose(km.score(t), km.score(x), rtol=1e-12)


@pytest.mark.parametrize("dtype", HALF_TYPES)
def test_half_tensor_kmeans_float32_model_computes_in_float32(dtype):
    x, t = _half_rows(dtype)
    km = KMeans(2, random_state=0, dtype="float32").fit(x)
    distances = km.transform(t)
    assert distances.dtype == torch.float32
    np.testing.assert_allclose(distances.numpy(), km.transform(x), rtol=1e-5)
    np.testing.assert_array_equal(km.predict(t).numpy(), km.predict(x))


@pytest.mark.parametrize("dtype", HALF_TYPES)
def test_half_tensor_gaussian_mixture_matches_float64(dtype):
    x, t = _half_rows(dtype)
    gm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(x)
    np.testing.assert_allclose(gm.score_samples(t).numpy(), gm.score_samples(x), rtol=1e-12)
    np.testing.assert_array_equal(gm.predict(t).numpy(), gm.predict(x))
    np.testing.assert_allclose(gm.predict_proba(t).numpy(), gm.predict_proba(x), atol=1e-12)


@pytest.mark.parametrize("dtype", HALF_TYPES)
def test_half_tensor_missing_values_match_float64(dtype):
    """missing="em" solves triangular systems per pattern: torch has none in half on the CPU."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 3))
    x[::4, 0] = np.nan
    t = torch.tensor(x).to(dtype)
    xh = t.double().numpy()
    imp = GaussianImputer().fit(x)
    np.testing.assert_allclose(imp.score_samples(t).numpy(), imp.score_samples(xh), rtol=1e-12)
    np.testing.assert_allclose(imp.transform(t).numpy(), imp.transform(xh), rtol=1e-12)
    gm = GaussianMixture(2, missing="em", random_state=0).fit(x)
    np.testing.assert_allclose(gm.score_samples(t).numpy(), gm.score_samples(xh), rtol=1e-12)
    np.testing.assert_array_equal(gm.predict(t).numpy(), gm.predict(xh))


@pytest.mark.parametrize("dtype", HALF_TYPES)
def test_half_tensor_generative_classifier_matches_float64(dtype):
    x, t = _half_rows(dtype, d=20)
    y = (x[:, 1] > 150).astype(int)
    gc = GenerativeClassifier().fit(x, y)
    proba = gc.predict_proba(t)
    assert proba.dtype == torch.float64
    np.testing.assert_allclose(proba.numpy(), gc.predict_proba(x), atol=1e-12)
    np.testing.assert_array_equal(gc.predict(t).numpy(), gc.predict(x))


# --- dates and durations as a numeric y ------------------------------------------------------


def _dated_regression(n=120, seed=0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 1))
    days = np.round(10 * x[:, 0] + rng.normal(size=n))
    t = pd.Series(pd.Timestamp("2020-01-01") + pd.to_timedelta(days, unit="D"))
    return x, t, days


def _date_responses():
    x, t, _ = _dated_regression()
    return [
        ("dates", t),
        ("durations", t - t.min()),
        ("dates", t.to_numpy()),
        ("durations", (t - t.min()).to_numpy()),
    ]


@pytest.mark.parametrize("kind, y", _date_responses())
def test_regression_mixture_fit_refuses_dates_as_y(kind, y):
    from emkit import MixtureOfRegressions

    x, _, _ = _dated_regression()
    with pytest.raises(ValueError, match=rf"needs real numbers, but y \({kind}\) is not"):
        MixtureOfRegressions(2, random_state=0, n_init=2).fit(x, y)


@pytest.mark.parametrize("kind, y", _date_responses())
def test_regression_mixture_queries_refuse_dates_as_y(kind, y):
    from emkit import MixtureOfRegressions

    x, _, days = _dated_regression()
    fitted = MixtureOfRegressions(2, random_state=0, n_init=2).fit(x, days)
    queries = [
        fitted.score,
        fitted.predict_proba,
        fitted.predict_component,
        fitted.log_prob,
        fitted.bic,
        fitted.aic,
        fitted.icl,
        fitted.estimate,
    ]
    for query in queries:
        with pytest.raises(ValueError, match=rf"y \({kind}\) is not: convert dates"):
            query(x, y)
    with pytest.raises(ValueError, match="y .durations. is not"):
        fitted.score(x, y - y.min() if kind == "dates" else y, sample_weight=np.ones(len(x)))


def test_regression_mixture_refuses_dates_as_y_of_other_types():
    """A pyarrow array and a Dask Series of dates (its X a Dask DataFrame) too; a Dask Series
    of numbers still fits."""
    import pandas as pd
    import pyarrow as pa

    from emkit import MixtureOfRegressions

    x, t, days = _dated_regression()
    for y in (pa.array(t), pa.chunked_array([pa.array(t - t.min())])):
        with pytest.raises(ValueError, match=r"y \((dates|durations)\) is not"):
            MixtureOfRegressions(2, random_state=0, n_init=2).fit(x, y)
    dd = pytest.importorskip("dask.dataframe")
    xd = dd.from_pandas(pd.DataFrame(x, columns=["x"]), npartitions=2)
    with pytest.raises(ValueError, match=r"y \(dates\) is not"):
        MixtureOfRegressions(2, random_state=0, n_init=2).fit(xd, dd.from_pandas(t, npartitions=2))
    yd = dd.from_pandas(pd.Series(days), npartitions=2)
    fitted = MixtureOfRegressions(2, random_state=0, n_init=2).fit(xd, yd)
    assert np.isfinite(fitted.score(xd, yd))


def test_regression_mixture_days_as_numbers_fit():
    """The conversion the message gives is accepted and fits the line in days."""
    import pandas as pd

    from emkit import MixtureOfRegressions

    x, t, days = _dated_regression()
    converted = (t - t.min()) / pd.Timedelta(days=1)
    a = MixtureOfRegressions(2, random_state=0, n_init=2).fit(x, converted)
    b = MixtureOfRegressions(2, random_state=0, n_init=2).fit(x, days - days.min())
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10)


# --- sample_weight of a chunked X: one array, as y ----------------------------------------


def _chunked_weights():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 2))
    return x, rng.uniform(1, 2, 120), (x[:, 0] > 0).astype(int)


def _regressions():
    from emkit import MixtureOfRegressions

    return MixtureOfRegressions(2, random_state=0, n_init=2)


# (estimator, what it takes as y, its fitted attribute to compare; None: it streams a list of
# chunks, and takes no weights with them)
CHUNKED_FITS = [
    (lambda: GaussianMixture(2, random_state=0), None, None),
    (lambda: GaussianImputer(), None, None),
    (lambda: KMeans(2, random_state=0), None, "cluster_centers_"),
    (lambda: GenerativeClassifier(), "labels", "means_"),
    (_regressions, "responses", "coef_"),
]


@pytest.mark.parametrize("split", [50, 60])  # ragged chunks, and chunks NumPy reads as 2-D
@pytest.mark.parametrize("make, takes_y, fitted", CHUNKED_FITS)
def test_chunked_sample_weight_is_refused_clearly(make, takes_y, fitted, split):
    x, w, labels = _chunked_weights()
    y = {None: None, "labels": labels, "responses": x[:, 0] + labels}[takes_y]
    chunks, weights = [x[:split], x[split:]], [w[:split], w[split:]]
    message = (
        r"sample_weight is a list of 2 arrays: sample_weight must be one array of weights, "
        r"one per row of X .* \(np\.concatenate\(sample_weight\)\)"
    )
    with pytest.raises(ValueError, match=message):
        make().fit(*((chunks,) if y is None else (chunks, y)), sample_weight=weights)
    if fitted is None:
        return
    # The advice works: the weights joined fit as the weighted rows joined.
    a = make().fit(
        *((chunks,) if y is None else (chunks, y)), sample_weight=np.concatenate(weights)
    )
    b = make().fit(*((x,) if y is None else (x, y)), sample_weight=w)
    np.testing.assert_allclose(getattr(a, fitted), getattr(b, fitted), rtol=1e-12)


def test_chunked_sample_weight_refused_in_scores():
    x, w, _ = _chunked_weights()
    gm = GaussianMixture(2, random_state=0).fit(x)
    with pytest.raises(ValueError, match="sample_weight is a list of 2 arrays"):
        gm.score(x, sample_weight=[w[:50], w[50:]])
    assert gm.score(x, sample_weight=list(w)) == pytest.approx(gm.score(x, sample_weight=w))


def test_chunked_y_message_unchanged():
    x, _, y = _chunked_weights()
    with pytest.raises(ValueError, match=r"X is a list of 2 chunks, and so is y: y must be one"):
        GenerativeClassifier().fit([x[:50], x[50:]], [y[:50], y[50:]])


# --- NumPy masked arrays: masked entries are missing values ---------------------------------


def _masked(dtype=np.float64):
    rng = np.random.default_rng(0)
    x = rng.multivariate_normal([0, 0, 1], [[1, 0.8, 0.2], [0.8, 1, 0.1], [0.2, 0.1, 1]], 200)
    x = (10 * x).round().astype(dtype)
    mask = np.zeros(x.shape, bool)
    mask[::5, 0] = True
    mask[1::7, 2] = True
    raw = x.copy()
    raw[mask] = -999  # a sentinel under the mask: NumPy's conversion reads it
    nan = x.astype(np.float64)
    nan[mask] = np.nan
    return np.ma.masked_array(raw, mask=mask), nan, mask


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_masked_array_imputer_equals_nan(dtype):
    masked, nan, mask = _masked(dtype)
    a, b = GaussianImputer().fit(masked), GaussianImputer().fit(nan)
    np.testing.assert_allclose(a.mean_, b.mean_, rtol=1e-10)
    np.testing.assert_allclose(a.covariance_, b.covariance_, rtol=1e-10)
    filled = np.asarray(b.transform(masked))
    np.testing.assert_allclose(filled, b.transform(nan), rtol=1e-10)
    assert not np.isin(-999, filled[mask])
    np.testing.assert_allclose(b.score_samples(masked), b.score_samples(nan), rtol=1e-10)


def test_masked_array_gaussian_mixture():
    masked, nan, _ = _masked()
    with pytest.raises(ValueError, match=r'Input X contains NaN in .* pass missing="em"'):
        GaussianMixture(1).fit(masked)
    a = GaussianMixture(2, missing="em", random_state=0).fit(masked)
    b = GaussianMixture(2, missing="em", random_state=0).fit(nan)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-10)
    np.testing.assert_allclose(b.score_samples(masked), b.score_samples(nan), rtol=1e-10)
    complete = GaussianMixture(1).fit(np.nan_to_num(nan))
    with pytest.raises(ValueError, match=r'Input X contains NaN in .* pass missing="em"'):
        complete.predict(masked)


def test_masked_array_without_masked_entries_is_its_values():
    _, nan, _ = _masked()
    x = np.nan_to_num(nan)
    a = KMeans(2, random_state=0).fit(np.ma.masked_array(x))
    b = KMeans(2, random_state=0).fit(x)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        KMeans(2, random_state=0).fit(np.ma.masked_array(x, mask=np.isnan(nan)))


# --- BayesianMixture.score with sample_weight -----------------------------------------------


def test_bayesian_mixture_score_weights_are_frequencies():
    from emkit import BayesianMixture

    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 1, 40), rng.normal(5, 1, 40)][:, None]
    model = BayesianMixture(2, draws=100, tune=50, chains=1, random_state=0).fit(x)
    counts = rng.integers(0, 4, x.shape[0])
    counts[0] = 3
    repeated = np.repeat(x, counts, axis=0)
    assert model.score(x, sample_weight=counts) == pytest.approx(model.score(repeated), rel=1e-12)
    w = rng.uniform(0.5, 2.0, x.shape[0])
    expected = np.average(model.score_samples(x), weights=w)
    assert model.score(x, sample_weight=w) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="sample_weight"):
        model.score(x, sample_weight=-w)
