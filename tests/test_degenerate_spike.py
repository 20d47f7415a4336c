"""Constant-column floor of GaussianStats at large offsets, with any sample weights."""

import warnings

import numpy as np
import pytest

import emkit
from emkit.distributions.gaussian import GaussianStats


def _fit_warnings(model, *data, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(*data, **kw)
    return [w.category for w in caught]


def test_sample_weights_leave_an_offset_spread_alone():
    # The constant-column floor of GaussianStats compared a scatter (weight x variance) with
    # a variance: rows at 1e15 with spread 1 and weights 1e-5 had scatter 0.004 < 0.003 ...
    # and that column's covariance was zeroed (degenerate). The centred data are the reference.
    rng = np.random.default_rng(0)
    y = np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(5, 1, (200, 2))])
    y[:, 0] += 1e15
    centred = y - y.mean(axis=0)
    w = np.full(len(y), 1e-5)
    got = emkit.GaussianMixture(2, covariance_type="diag", random_state=0, reg_covar=0)
    assert emkit.DegenerateFitWarning not in _fit_warnings(got, y, sample_weight=w)
    ref = emkit.GaussianMixture(2, covariance_type="diag", random_state=0, reg_covar=0)
    ref.fit(centred, sample_weight=w)
    assert not got.degenerate_
    np.testing.assert_allclose(got.covariances_, ref.covariances_, rtol=0, atol=1e-4)
    # a constant column at 1e15 still has no spread, whatever the weight
    rows = np.column_stack([y[:, 0], np.full(len(y), 1e15 + 0.375)])
    for weight in [1e-8, 1.0, 1e6]:
        stats = GaussianStats.from_data(rows, np.full((len(y), 1), weight), diagonal=True)
        exact = stats.exact_scatter()
        assert exact[0, 1] == 0.0
        assert exact[0, 0] / stats.weight[0] == pytest.approx(np.var(y[:, 0] - 1e15), rel=1e-9)
