"""Gamma fits to data far from 0 relative to their spread: the shape is about mean^2 / var,
a legitimate MLE (1e16 at an offset of 1e8 and a spread of 1), not a collapse.

The shape equation's right side, log(mean) - mean(log x), is about var / (2 mean^2) (5e-15 at
1e7) and cancelled as a difference of two logarithms (the fit stopped at shape 1e10 and was
flagged degenerate from an offset of 1e5); the log density's terms are 1e11 and more.
"""

import warnings

import numpy as np
import pytest
from scipy import stats

import emkit
from emkit import Gamma, MixtureModel
from emkit.distributions.gamma import gamma_shape_newton

OFFSETS = [1e3, 1e4, 1e5, 1e6, 1e7, 1e8]


def _rows(offset: float, n: int = 400, seed: int = 0) -> np.ndarray:
    z = np.random.default_rng(seed).standard_normal(n)
    return (offset + z)[:, None]


def _exact_gap(x: np.ndarray) -> float:
    """log(mean) - mean(log x) of the float values ``x`` (n,), to 50 digits."""
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(50):
        values = [mpmath.mpf(float(v)) for v in x]
        mean = mpmath.fsum(values) / len(values)
        return mpmath.log(mean) - mpmath.fsum(mpmath.log(v) for v in values) / len(values)


def _fit_warnings(model, x):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x)
    return [w.category for w in caught]


@pytest.mark.parametrize("offset", OFFSETS)
def test_one_gamma_far_from_zero_is_the_mle(offset):
    x = _rows(offset)
    fitted = Gamma().from_stats(Gamma().suff_stats(x, np.ones(len(x))))
    shape = fitted.shape[0]
    # The exact root of log(a) - digamma(a) = s, s from the float data at 50 digits.
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(50):
        s = _exact_gap(x[:, 0])
        exact = mpmath.findroot(lambda a: mpmath.log(a) - mpmath.digamma(a) - s, 1 / (2 * s))
    assert shape == pytest.approx(float(exact), rel=1e-12)
    assert fitted.rate[0] == pytest.approx(shape / x.mean(), rel=1e-12)
    if offset <= 1e5:
        # scipy's fit computes s as the same difference of logarithms: its error is some
        # eps log(mean) in s = 1 / (2 a), about 4 eps log(mean) a relative (3e-8 at 1e3,
        # 1.6e-7 measured at 1e4; 0.4% at 1e6 and no root at 1e8).
        a, loc, scale = stats.gamma.fit(x[:, 0], floc=0)
        rel = 8 * np.finfo(float).eps * np.log(offset) * offset**2
        assert shape == pytest.approx(a, rel=rel)
        assert fitted.rate[0] == pytest.approx(1 / scale, rel=rel)
    # The normal limit: the method of moments' mean^2 / var, which the MLE approaches with
    # the coefficient of variation (measured 4e-2 / offset here).
    moments, _, _ = stats.gamma.fit(x[:, 0], floc=0, method="MM")
    assert shape == pytest.approx(moments, rel=1.0 / offset)


@pytest.mark.parametrize("offset", OFFSETS)
def test_mixtures_far_from_zero_are_not_flagged_and_reach_the_normal_limit(offset):
    rng = np.random.default_rng(1)
    z = np.concatenate([rng.normal(0, 1, 300), rng.normal(6, 1, 200)])
    x = (offset + z)[:, None]
    one = MixtureModel([Gamma()], random_state=0)
    two = MixtureModel([Gamma(), Gamma()], random_state=0)
    for model in (one, two):
        caught = _fit_warnings(model, x)
        assert emkit.DegenerateFitWarning not in caught
        assert emkit.MonotonicityWarning not in caught
        assert not model.degenerate_
    # A gamma of shape a is a normal to O(1 / sqrt(a)) = O(spread / offset): the fitted
    # log-likelihood tends to the normal MLE's (differences measured 0.18 at 1e3, 2e-6 at
    # 1e8 for these 500 rows, about 0.35 n / offset).
    mean, sd = stats.norm.fit(x[:, 0])
    normal = stats.norm.logpdf(x[:, 0], mean, sd).sum()
    assert one.log_likelihood_ == pytest.approx(normal, abs=len(x) / offset)
    assert one.log_likelihood_ >= normal - 1e-6 * len(x) / offset  # normal is the limit
    # Two clusters 6 sd apart: the components' weights, as a normal mixture finds them.
    reference = MixtureModel([emkit.Normal(), emkit.Normal()], random_state=0).fit(x)
    np.testing.assert_allclose(np.sort(two.weights_), np.sort(reference.weights_), atol=1e-4)
    assert two.log_likelihood_ == pytest.approx(reference.log_likelihood_, abs=len(x) / offset)


def test_log_density_at_huge_shapes_matches_mpmath():
    mpmath = pytest.importorskip("mpmath")
    for shape in [1e5, 1e10, 1e14, 1e16, 1e20, 1e22]:
        rate = shape / 2.0
        x = 2.0 + 2.0 / np.sqrt(shape) * np.array([-4.0, -1.0, -0.1, 0.0, 0.3, 1.0, 2.5])
        ours = Gamma([shape], [rate]).log_prob(x[:, None])
        with mpmath.workdps(60):
            a, b = mpmath.mpf(shape), mpmath.mpf(rate)
            for xi, value in zip(x, ours, strict=True):
                xv = mpmath.mpf(float(xi))
                exact = a * mpmath.log(b) - mpmath.loggamma(a) + (a - 1) * mpmath.log(xv) - b * xv
                # The textbook form loses ~1e11 here; the plain form of t, 2 eps sqrt(a) |z|
                # (1e-8 at 1e16, 1e-5 at 1e22).
                assert value == pytest.approx(float(exact), abs=1e-12)


@pytest.mark.parametrize("offset", [10.0, 1e4, 1e7])
def test_statistics_add_up_and_keep_the_gap(offset):
    x = _rows(offset, n=300, seed=2)
    w = np.random.default_rng(3).random(300)
    whole = Gamma().suff_stats(x, w)
    parts = [Gamma().suff_stats(x[i : i + 37], w[i : i + 37]) for i in range(0, 300, 37)]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged + part
    assert merged.weight == pytest.approx(whole.weight, rel=1e-14)
    np.testing.assert_allclose(merged.mean, whole.mean, rtol=1e-14)
    # the gap s, 5e-15 at 1e7, to 1e-10 of itself; the weighted exact value by mpmath
    np.testing.assert_allclose(merged.gap(), whole.gap(), rtol=1e-10)
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(50):
        ws = [mpmath.mpf(float(v)) for v in w]
        xs = [mpmath.mpf(float(v)) for v in x[:, 0]]
        total = mpmath.fsum(ws)
        mean = mpmath.fsum(a * b for a, b in zip(ws, xs, strict=True)) / total
        logs = mpmath.fsum(a * mpmath.log(b) for a, b in zip(ws, xs, strict=True)) / total
        exact = float(mpmath.log(mean) - logs)
    np.testing.assert_allclose(whole.gap(), exact, rtol=1e-10)
    np.testing.assert_allclose(merged.gap(), exact, rtol=1e-10)
    # sums of x and log x, as the statistics were before, derived
    np.testing.assert_allclose(whole.sum_x, w @ x, rtol=1e-14)
    np.testing.assert_allclose(whole.sum_log_x, w @ np.log(x), rtol=1e-13)


def test_rows_on_one_value_have_no_gap():
    x = np.full((7, 1), 1e7 + 0.375)
    stats_ = Gamma().suff_stats(x, np.linspace(0.1, 2.0, 7))
    assert stats_.log_gap[0] == 0.0
    assert (stats_ + stats_).log_gap[0] == 0.0
    assert gamma_shape_newton(stats_.weight, stats_.gap(), max_shape=np.inf)[0] == np.inf


def test_a_spike_is_flagged_relative_to_the_data_in_any_units():
    # Two values at m +- d have gamma variance ~d^2 (shape ~m^2 / d^2): flagged where d^2 is
    # at most 1e-12 of the data's variance, as Normal.degenerate judges a variance.
    base = np.random.default_rng(4).gamma(3.0, 2.0, 200)[:, None]
    for scale in (1.0, 1e-9, 1e6):
        data = Gamma().suff_stats(base * scale, np.ones(200))
        pooled_var = np.var(base * scale)  # the gamma fit's variance is close to it
        for share, flagged in [(3e-12, False), (0.3e-12, True)]:
            d = np.sqrt(share * pooled_var)
            pair = Gamma().suff_stats(
                np.array([[10.5 * scale - d], [10.5 * scale + d]]), np.ones(2)
            )
            assert Gamma().degenerate(pair, pooled=data) is flagged
    # no pooled statistics: judged at the values' rounding only
    assert not Gamma().degenerate(pair)
    assert Gamma().degenerate(Gamma().suff_stats(np.full((3, 1), 10.5), np.ones(3)))


def test_a_near_duplicate_spike_is_still_flagged():
    rng = np.random.default_rng(0)
    x = np.r_[rng.gamma(3.0, 2.0, 150), 10.5 + 1e-9 * np.arange(3)][:, None]
    start = [Gamma([3.0], [0.5]), Gamma([1e15], [1e15 / 10.5])]
    model = MixtureModel(start, n_init=1)
    assert emkit.DegenerateFitWarning in _fit_warnings(model, x)
    spike = int(np.argmax([c.shape[0] for c in model.components_]))
    assert model.degenerate_components_.tolist() == [spike == 0, spike == 1]
    assert model.weights_[spike] == pytest.approx(3 / 153, rel=1e-6)
    # the MLE it sits on: about mean^2 / var of the three rows (6.7e-19)
    spread = np.var(10.5 + 1e-9 * np.arange(3))
    assert model.components_[spike].shape[0] == pytest.approx(10.5**2 / spread, rel=1e-3)


def test_a_broad_start_on_a_tight_cluster_reaches_its_shape():
    # The first E-steps take the linear kernel (shapes <= LINEAR_SHAPE), whose sums of log x
    # resolve s only to ~1e-10 here (the tight cluster's s is 2e-12): its M-step stops at the
    # broadest shape they allow, and the next steps take the members' centred statistics.
    # Was held at the old cap (shape 1e10) and flagged degenerate.
    rng = np.random.default_rng(5)
    broad = rng.gamma(2.0, 1e3, 3000)
    tight = 5e3 + rng.normal(0, 0.01, 200)  # variance 1e-4: 5e-11 of the data's
    x = np.r_[broad, tight][:, None]
    start = [Gamma([2.0], [1e-3]), Gamma([100.0], [100 / 5e3])]
    model = MixtureModel(start, n_init=1, max_iter=500)
    caught = _fit_warnings(model, x)
    assert emkit.DegenerateFitWarning not in caught
    assert emkit.MonotonicityWarning not in caught
    assert model.weights_[1] == pytest.approx(200 / 3200, rel=1e-4)
    a, _, scale = stats.gamma.fit(broad, floc=0)
    assert model.components_[0].shape[0] == pytest.approx(a, rel=1e-4)
    moments, _, _ = stats.gamma.fit(tight, floc=0, method="MM")
    assert model.components_[1].shape[0] == pytest.approx(moments, rel=1e-3)
    # the fixed point of the M-step on the fit's own responsibilities
    resp = model.predict_proba(x)[:, 1]
    again = Gamma().from_stats(Gamma().suff_stats(x, resp))
    assert model.components_[1].shape[0] == pytest.approx(again.shape[0], rel=1e-6)


@pytest.mark.parametrize(("tiny", "scale"), [(1e-200, 1.0), (1e-290, 1.0), (1e-290, 1e9)])
def test_a_spike_of_tiny_values_is_flagged_without_overflow(tiny, scale):
    """Five copies of a tiny value beside Gamma(2, 1) rows: the spike's component is
    flagged and the other is the gamma MLE of the rest (scipy's). At 1e-290 its rate
    (shape / mean) overflowed: a ValueError blaming a Normal's variance and NumPy's
    overflow warnings. Its rate is held at 1e307, and rows where rate x overflows have
    density 0 there."""
    base = np.random.default_rng(16).gamma(2.0, 1.0, 100) * scale
    x = np.r_[np.full(5, tiny), base][:, None]
    model = MixtureModel([Gamma(), Gamma()], random_state=0)
    assert _fit_warnings(model, x) == [emkit.DegenerateFitWarning]  # no RuntimeWarning
    spike = int(np.argmax(model.degenerate_components_))
    assert model.degenerate_components_.sum() == 1
    assert model.weights_[spike] == pytest.approx(5 / 105, rel=1e-9)
    assert np.isfinite(model.components_[spike].rate[0])
    rest = model.components_[1 - spike]
    shape, _, theta = stats.gamma.fit(base, floc=0)
    assert rest.shape[0] == pytest.approx(shape, rel=1e-5)
    assert rest.rate[0] == pytest.approx(1 / theta, rel=1e-5)
    assert np.isfinite(model.log_likelihood_)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_spike_too_tiny_for_a_rate_is_refused_by_name():
    """Below about 1e-301 no shape that is still a collapse has a rate float64 holds: the
    Gamma and the values are named, not a Normal's variance."""
    base = np.random.default_rng(16).gamma(2.0, 1.0, 100)
    for tiny in (1e-305, 1e-310):
        x = np.r_[np.full(5, tiny), base][:, None]
        with pytest.raises(
            ValueError, match=f"a Gamma component collapsed onto values near {tiny:.3g}"
        ):
            MixtureModel([Gamma(), Gamma()], random_state=0).fit(x)
    # a GammaPrior on the rate keeps it finite: fitted, nothing collapses
    prior = emkit.GammaPrior(1.0, 1.0)
    model = MixtureModel([Gamma(), Gamma()], priors=[prior, prior], random_state=0).fit(x)
    assert not model.degenerate_components_.any()
    assert np.isfinite(model.log_likelihood_)
