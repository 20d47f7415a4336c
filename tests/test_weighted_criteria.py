"""score, bic, aic and icl with frequency weights equal those of the rows repeated, for every
mixture estimator that answers them (MixtureQueries), in memory and on Dask."""

import numpy as np
import pytest
from scipy import stats

from emkit import Exponential, GaussianMixture, MixtureModel, Poisson


def _counts_and_weights(seed=0):
    rng = np.random.default_rng(seed)
    x = np.r_[rng.poisson(1.5, 60), rng.poisson(9.0, 40)].astype(float)[:, None]
    w = rng.integers(0, 4, size=x.shape[0]).astype(float)  # zeros: rows left out
    return x, w


def _both(make, x, w):
    weighted = make().fit(x, sample_weight=w)
    return weighted, np.repeat(x, w.astype(int), axis=0)


@pytest.mark.parametrize("kind", ["hard", "soft"])
def test_poisson_mixture_criteria_are_those_of_the_repeated_rows(kind):
    x, w = _counts_and_weights()
    model, repeated = _both(lambda: MixtureModel([Poisson(), Poisson()], random_state=0), x, w)
    assert model.bic(x, sample_weight=w) == pytest.approx(model.bic(repeated), rel=1e-12)
    assert model.aic(x, sample_weight=w) == pytest.approx(model.aic(repeated), rel=1e-12)
    assert model.score(x, sample_weight=w) == pytest.approx(model.score(repeated), rel=1e-12)
    icl = model.icl(x, kind=kind, sample_weight=w)
    assert icl == pytest.approx(model.icl(repeated, kind=kind), rel=1e-12)
    assert model.bic(x, sample_weight=w) != pytest.approx(model.bic(x), rel=1e-3)


def test_weighted_bic_against_scipy_closed_form():
    x, w = _counts_and_weights(1)
    model = MixtureModel([Poisson(), Poisson()], random_state=0).fit(x, sample_weight=w)
    rates = [p["rate"][0] for p in model.component_params_]
    density = sum(
        pi * stats.poisson.pmf(x[:, 0], rate)
        for pi, rate in zip(model.weights_, rates, strict=True)
    )
    log_l, n = float(w @ np.log(density)), float(w.sum())
    expected = -2.0 * log_l + model.n_parameters() * np.log(n)
    assert model.bic(x, sample_weight=w) == pytest.approx(expected, rel=1e-12)
    hard = -2.0 * float(w @ np.log(model.predict_proba(x).max(axis=1)))
    assert model.icl(x, sample_weight=w) == pytest.approx(expected + hard, rel=1e-12)


def test_weighted_criteria_of_a_gaussian_mixture_including_icl():
    rng = np.random.default_rng(2)
    x = np.r_[rng.normal(0, 1, (50, 2)), rng.normal(4, 1, (50, 2))]
    w = rng.integers(1, 4, size=100).astype(float)
    model, repeated = _both(lambda: GaussianMixture(2, random_state=0), x, w)
    for kind in ("hard", "soft"):
        got = model.icl(x, kind=kind, sample_weight=w)
        assert got == pytest.approx(model.icl(repeated, kind=kind), rel=1e-12)
    assert model.score(x, sample_weight=w) == pytest.approx(model.score(repeated), rel=1e-12)


def test_weighted_criteria_on_dask_equal_in_memory():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(3)
    x = np.r_[rng.exponential(1.0, 70), rng.exponential(6.0, 50)][:, None]
    w = rng.integers(0, 3, size=x.shape[0]).astype(float)
    model = MixtureModel([Exponential(), Exponential()], random_state=0).fit(x, sample_weight=w)
    lazy_x, lazy_w = da.from_array(x, chunks=(35, 1)), da.from_array(w, chunks=35)
    for name in ("bic", "aic", "score"):
        got = getattr(model, name)(lazy_x, sample_weight=lazy_w)
        assert got == pytest.approx(getattr(model, name)(x, sample_weight=w), rel=1e-12)
    got = model.icl(lazy_x, sample_weight=lazy_w)
    assert got == pytest.approx(model.icl(x, sample_weight=w), rel=1e-12)


def test_weights_of_the_wrong_length_are_refused():
    x, w = _counts_and_weights()
    model = MixtureModel([Poisson(), Poisson()], random_state=0).fit(x)
    with pytest.raises(ValueError, match="sample_weight"):
        model.bic(x, sample_weight=w[:-1])


def test_rows_of_weight_zero_and_probability_zero_count_for_nothing():
    # counts 1..10 of weight 0 under a fit to zeros: probability 0, left out as if dropped
    x = np.r_[np.zeros(10), np.arange(1.0, 11.0), np.zeros(5) + 2][:, None]
    w = np.r_[np.ones(10), np.zeros(10), np.ones(5)]
    model = MixtureModel([Poisson(), Poisson()], random_state=0).fit(x, sample_weight=w)
    kept = x[w > 0]
    for name in ("bic", "aic", "score", "icl"):
        got = getattr(model, name)(x, sample_weight=w)
        assert got == pytest.approx(getattr(model, name)(kept), rel=1e-12)


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_bad_weights_are_refused_in_memory_and_on_dask(bad):
    da = pytest.importorskip("dask.array")
    x, w = _counts_and_weights()
    model = MixtureModel([Poisson(), Poisson()], random_state=0).fit(x)
    w = w.copy()
    w[7] = bad
    for rows, weights in ((x, w), (da.from_array(x, chunks=(50, 1)), da.from_array(w, chunks=50))):
        for name in ("bic", "icl"):
            with pytest.raises(ValueError, match="sample_weight|weight"):
                getattr(model, name)(rows, sample_weight=weights)
    zeros = np.zeros(x.shape[0])
    for rows, weights in (
        (x, zeros),
        (da.from_array(x, chunks=(50, 1)), da.from_array(zeros, chunks=50)),
    ):
        with pytest.raises(ValueError, match="sums to zero|non-zero"):
            model.bic(rows, sample_weight=weights)


def _summary_numbers(text):
    """log-likelihood, n, BIC and ICL (mclust's sign) and the clustering table of a summary."""
    lines = text.splitlines()
    at = lines.index(next(line for line in lines if line.startswith("log-likelihood")))
    loglik, n, _, bic, icl = (float(v) for v in lines[at + 1].split())
    table = lines.index("Clustering table:")
    counts = np.array([float(v) for v in lines[table + 2].split()])
    return loglik, n, bic, icl, counts


def _weighted_gaussian_fit(kind="hard"):
    rng = np.random.default_rng(18)
    x = np.vstack([rng.normal([0, 0], 1, (120, 2)), rng.normal([3, 2], [0.5, 1], (80, 2))])
    w = rng.integers(0, 4, 200).astype(float)  # zeros: rows left out
    return GaussianMixture(2, random_state=0).fit(x, sample_weight=w), x, w


@pytest.mark.parametrize("kind", ["hard", "soft"])
def test_summary_of_a_weighted_fit_is_that_of_the_repeated_rows(kind):
    model, x, w = _weighted_gaussian_fit()
    text = model.summary(x, parameters=True, icl=kind, sample_weight=w)
    assert text == model.summary(np.repeat(x, w.astype(int), axis=0), parameters=True, icl=kind)
    loglik, n, bic, icl, counts = _summary_numbers(text)
    density = sum(
        pi * stats.multivariate_normal(mean, cov).pdf(x)
        for pi, mean, cov in zip(model.weights_, model.means_, model.covariances_, strict=True)
    )
    assert loglik == pytest.approx(float(w @ np.log(density)), abs=1e-3)
    assert loglik == pytest.approx(model.log_likelihood_, abs=1e-3)
    assert n == w.sum()
    assert -bic == pytest.approx(model.bic(x, sample_weight=w), abs=1e-3)
    assert -icl == pytest.approx(model.icl(x, kind=kind, sample_weight=w), abs=1e-3)
    assert loglik / n == pytest.approx(model.score(x, sample_weight=w), abs=1e-5)
    labels = model.predict(x)
    assert counts.tolist() == [w[labels == j].sum() for j in range(2)]
    assert "Standard errors of the means:" in text  # those of the weighted fit's rows


def test_summary_with_fractional_weights_shows_the_total_weight():
    model, x, w = _weighted_gaussian_fit()
    w = w * 0.25 + 0.1
    model = GaussianMixture(2, random_state=0).fit(x, sample_weight=w)
    loglik, n, bic, _, counts = _summary_numbers(model.summary(x, sample_weight=w))
    assert n == pytest.approx(w.sum(), abs=1e-6)
    assert counts.sum() == pytest.approx(w.sum(), abs=1e-5)
    assert -bic == pytest.approx(model.bic(x, sample_weight=w), abs=1e-3)


def test_summary_with_weights_on_dask_equals_in_memory():
    da = pytest.importorskip("dask.array")
    model, x, w = _weighted_gaussian_fit()
    on_dask = model.summary(
        da.from_array(x, chunks=70), parameters=True, sample_weight=da.from_array(w, chunks=70)
    )
    assert on_dask == model.summary(x, parameters=True, sample_weight=w)
    assert _summary_numbers(on_dask)[1] == w.sum()
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    frame = pd.DataFrame(x, columns=["a", "b"])
    named = GaussianMixture(2, random_state=0).fit(frame, sample_weight=w)
    parts = dd.from_pandas(frame, npartitions=3)  # known divisions: weights taken by index
    expected = named.summary(frame, sample_weight=w)
    assert named.summary(parts, sample_weight=pd.Series(w)) == expected


def test_summary_refuses_bad_weights():
    model, x, w = _weighted_gaussian_fit()
    with pytest.raises(ValueError, match="sample_weight"):
        model.summary(x, sample_weight=w[:5])
    with pytest.raises(ValueError, match="non-zero|sums to zero"):
        model.summary(x, sample_weight=np.zeros_like(w))
    da = pytest.importorskip("dask.array")
    with pytest.raises(ValueError, match="sums to zero"):
        model.summary(da.from_array(x, chunks=70), sample_weight=da.zeros(200, chunks=70))
