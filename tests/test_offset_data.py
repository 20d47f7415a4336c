"""Data far from the origin fit as the same data centred.

A column offset by 1e15 holds values 0.125 apart (its ulp), and ``y - y.mean(0)`` is exact: the
centred fit sees the very same values and is the reference. A fit of ``y`` can only hold its
means rounded to that ulp, so its log-likelihood is compared with the centred model's at those
rounded means; everything else (partition, covariances, the E-step's numbers) must agree to
rounding.
"""

import copy
import warnings

import numpy as np
import pytest

import emkit
from emkit.distributions.gaussian import GaussianStats

STRUCTURES = ["full", "tied", "diag", "spherical", "VEV", "EEI"]


def _two_clusters() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(5, 1, (200, 2))])


def _offset(offset: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y, its column means, y centred), the centring exact."""
    y = _two_clusters()
    y[:, 0] += offset
    centre = y.mean(axis=0)
    return y, centre, y - centre


def _quiet_fit(model, data):
    """``model.fit(data)``, failing on any warning about the fit's numbers."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", emkit.MonotonicityWarning)
        warnings.simplefilter("error", emkit.DegenerateFitWarning)
        return model.fit(data)


def _rounded_through(model, centre: np.ndarray):
    """``model`` (fitted to centred data) with its means as they round at ``+ centre``."""
    rounded = copy.deepcopy(model)
    rounded.means_ = (model.means_ + centre) - centre
    return rounded


@pytest.mark.parametrize("structure", STRUCTURES)
@pytest.mark.parametrize("offset", [1e12, 1e15])
def test_an_offset_column_fits_as_the_centred_data(structure, offset):
    y, centre, centred = _offset(offset)
    got = _quiet_fit(emkit.GaussianMixture(2, covariance_type=structure, random_state=0), y)
    ref = emkit.GaussianMixture(2, covariance_type=structure, random_state=0).fit(centred)
    np.testing.assert_array_equal(got.predict(y), ref.predict(centred))
    np.testing.assert_allclose(got.means_, ref.means_ + centre, rtol=0, atol=np.spacing(offset))
    # variances of about 1: the covariances agree to what the means' rounding moves
    np.testing.assert_allclose(got.covariances_, ref.covariances_, rtol=0, atol=1e-4)
    # 1e-9 relative: what the means' rounding to 0.125 leaves at 1e15 (measured 1.5e-9 at
    # most); before, 0.37 with a degenerate flag (full), 2e-8 at 1e12.
    expected = _rounded_through(ref, centre).score(centred)
    assert got.score(y) == pytest.approx(expected, rel=1e-8 if offset > 1e12 else 1e-9)
    assert got.log_likelihood_ / len(y) == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_densities_of_offset_rows_equal_the_centred_ones(structure):
    # The same model on both sides (means that round-trip through the offset): the E-step
    # at 1e15 must give the centred numbers to rounding (before, x U - mu U cancelled, up to
    # 0.3 per row for full and tied).
    y, centre, centred = _offset(1e15)
    ref = _rounded_through(
        emkit.GaussianMixture(2, covariance_type=structure, random_state=0).fit(centred), centre
    )
    moved = copy.deepcopy(ref)
    moved.means_ = ref.means_ + centre
    np.testing.assert_allclose(moved.score_samples(y), ref.score_samples(centred), atol=1e-12)
    np.testing.assert_allclose(moved.predict_proba(y), ref.predict_proba(centred), atol=1e-12)
    assert moved.bic(y) == pytest.approx(ref.bic(centred), rel=1e-13)
    drawn, labels = moved.sample(2000)
    for k in range(2):
        spread = np.sqrt(np.diagonal(moved._mixture().components.full_covariances()[k]))
        # deviations first: a mean of values at 1e15 rounds by more than their spread
        away = np.abs((drawn[labels == k] - moved.means_[k]).mean(axis=0)) / spread
        assert np.all(away < 0.2)  # about 4 standard errors of a mean of ~1000 draws


@pytest.mark.parametrize("structure", ["full", "diag"])
def test_chunks_of_offset_rows_fit_as_one_array(structure):
    # Chunks' statistics merged from means rounded at 1e14 differed from one array's by 1e-5
    # of the log-likelihood; with what the rounding lost carried along they agree.
    y, _, _ = _offset(1e14)
    whole = emkit.GaussianMixture(2, covariance_type=structure, random_state=0).fit(y)
    chunks = _quiet_fit(
        emkit.GaussianMixture(2, covariance_type=structure, random_state=0), [y[:150], y[150:]]
    )
    assert chunks.log_likelihood_ == pytest.approx(whole.log_likelihood_, rel=1e-13)
    np.testing.assert_allclose(chunks.covariances_, whole.covariances_, rtol=1e-9)
    # to 1e-13 of each mean, or of the spread of a column whose means lie near 0 (the
    # responsibilities carry the rounding of the offset column into them)
    spread = np.ptp(y - y.mean(axis=0), axis=0)
    error = np.abs(chunks.means_ - whole.means_)
    np.testing.assert_array_less(error, 1e-13 * (np.abs(whole.means_) + spread))


def test_missing_values_at_an_offset_fit_as_the_centred_data():
    y, centre, centred = _offset(1e15)
    holes = y.copy()
    holes[::7, 1] = np.nan
    got = _quiet_fit(emkit.GaussianMixture(2, missing="em", random_state=0), holes)
    ref = emkit.GaussianMixture(2, missing="em", random_state=0).fit(holes - centre)
    np.testing.assert_array_equal(got.predict(holes), ref.predict(holes - centre))
    np.testing.assert_allclose(got.means_, ref.means_ + centre, rtol=0, atol=np.spacing(1e15))
    np.testing.assert_allclose(got.covariances_, ref.covariances_, rtol=0, atol=1e-3)


def test_torch_on_the_cpu_fits_offset_rows_as_numpy():
    pytest.importorskip("torch")
    y, _, _ = _offset(1e15)
    want = emkit.GaussianMixture(2, random_state=0).fit(y)
    got = _quiet_fit(emkit.GaussianMixture(2, random_state=0, device="cpu"), y)
    assert got.log_likelihood_ == pytest.approx(want.log_likelihood_, rel=1e-12)
    np.testing.assert_allclose(got.means_, want.means_, rtol=0, atol=np.spacing(1e15))


def test_statistics_of_offset_rows_keep_a_spread_of_one_and_zero_a_constant():
    # The mean of rows at 1e15 was off by several ulps (0.125 each); a constant column kept
    # that as a spread, and the constant-column test (16 ulps) zeroed a real spread of 1.
    x = _two_clusters()[:200]
    rows = np.column_stack([x[:, 0] + 1e15, np.full(200, 1e15 + 0.375)])
    stats = GaussianStats.from_data(rows, np.ones((200, 1)), diagonal=False)
    assert stats.mean[0, 1] == 1e15 + 0.375
    assert stats.scatter[0, 1, 1] == 0.0
    spread = 200 * np.var(rows[:, 0] - 1e15)  # the subtraction is exact
    assert stats.exact_scatter()[0, 0, 0] == pytest.approx(spread, rel=1e-12)


def test_normal_components_at_an_offset_are_not_one_value():
    # Normal.degenerate flagged a spread below 1e-6 of the mean: every component of a column
    # offset by 1e6 or more with a spread of 1.
    from emkit import MixtureModel, Normal

    y, centre, centred = _offset(1e12)
    got = _quiet_fit(MixtureModel([Normal(), Normal()], random_state=0), y)
    ref = MixtureModel([Normal(), Normal()], random_state=0).fit(centred)
    assert not got.degenerate_
    np.testing.assert_array_equal(got.predict(y), ref.predict(centred))
    assert got.score(y) == pytest.approx(ref.score(centred), rel=1e-9)
    constant = np.column_stack([y[:, 0], np.full(len(y), 1e15 + 0.375)])
    stats = Normal().suff_stats(constant, np.ones(len(y)))
    assert stats.mean[1] == 1e15 + 0.375 and stats.scatter[1] == 0.0
    assert Normal().degenerate(stats)
