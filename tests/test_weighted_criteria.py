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
