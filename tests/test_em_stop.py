"""The EM loop's stop test: what is left to gain, not a step's gain (emkit.em.EMMap.stops).

A SQUAREM run used to stop on a whole cycle's gain, which an overshooting extrapolation makes
small far from the maximum: on a slow fit the in-memory, chunked and Dask runs stopped 0.009
below the maximum (300 times ``tol`` times the rows) and 1e-3 apart.
"""

import numpy as np
import pytest

import emkit
import emkit.em as em_module
from emkit import GaussianMixture
from emkit.accel import contraction
from emkit.em import EMMap, Point, _slowest, step_policy


def test_contraction_is_the_rate_of_a_linear_map():
    # theta_{t+1} = J theta_t with J = diag(0.9, 0.3): along an eigenvector the ratio of
    # successive steps is its eigenvalue; from (1, 1) it is |J^2 - J| / |J - I| applied to it.
    jac = np.array([0.9, 0.3])
    assert contraction(np.array([1.0, 0.0]), jac * [1, 0], jac**2 * [1, 0]) == pytest.approx(0.9)
    start = np.array([1.0, 1.0])
    expected = np.hypot(0.81 - 0.9, 0.09 - 0.3) / np.hypot(0.9 - 1.0, 0.3 - 1.0)
    assert contraction(start, jac * start, jac**2 * start) == pytest.approx(expected)
    # entries not finite in every iterate are left out; no step at all reads 0
    log_zero = np.array([1.0, -np.inf])  # a weight EM has set to 0, kept at 0
    assert contraction(log_zero, log_zero * [0.9, 1], log_zero * [0.81, 1]) == pytest.approx(0.9)
    assert contraction(start, start, start) == 0.0


def _point(objective: float) -> Point:
    return Point(None, None, objective)


@pytest.mark.parametrize(
    ("gain", "rate", "stops"),
    [
        (0.5, 0.0, True),  # no rate: the gain itself, below tol
        (0.5, 0.6, True),  # 0.5 / (1 - 0.36) = 0.78 left
        (0.5, 0.8, False),  # 0.5 / (1 - 0.64) = 1.39 left
        (1e-6, 1.0, False),  # not converging linearly
        (1.5, 0.0, False),
    ],
)
def test_the_stop_test_projects_the_gain_by_the_rate(gain, rate, stops):
    em = EMMap(tol_total=1.0, max_iter=10)
    assert em.stops(_point(-100.0), _point(-100.0 + gain), rate) is stops


def test_a_float32_objective_stops_on_its_rise_over_several_steps():
    # resolution 1e-6 at |objective| 1e4: rounding 1e-2, a tenth of it 1e-3 resolved
    em = EMMap(tol_total=1e-6, max_iter=10, resolution=1e-6)
    old, new = _point(-1e4), _point(-1e4 + 1e-4)
    assert not em.stops(old, new)  # no steps before to judge the rise from
    em.since = -1e4 - 5e-3  # still rising by more than the rounding over the window
    assert not em.stops(old, new)
    em.since = -1e4 - 5e-4
    assert em.stops(old, new)


def _slow_rows():
    # three components on two clusters: EM's slowest rate is about 0.998 at the maximum
    rng = np.random.default_rng(7)
    return np.vstack([rng.normal(0, 1, (1500, 3)), rng.normal(2.5, 1.2, (1500, 3))])


@pytest.fixture(scope="module")
def slow_fit():
    x = _slow_rows()
    kw = dict(random_state=0, init_params="hc")
    optimum = GaussianMixture(3, tol=1e-13, max_iter=20000, **kw).fit(x).log_likelihood_
    return x, kw, optimum


def test_squarem_fits_of_a_slow_problem_land_within_tol_of_its_maximum(slow_fit):
    """Every chunking (each its own rounding) stops within 10 tol * n of the maximum (the
    stop on a cycle's gain: 290)."""
    x, kw, optimum = slow_fit
    tol_total = 1e-8 * x.shape[0]
    gaps = []
    for rows in (None, 700, 1100):
        data = x if rows is None else [x[i : i + rows] for i in range(0, len(x), rows)]
        fit = GaussianMixture(3, **kw).fit(data)
        assert fit.converged_
        gaps.append(optimum - fit.log_likelihood_)
    assert max(gaps) < 10 * tol_total, gaps
    assert min(gaps) > -1e-9 * abs(optimum)  # nobody passes the maximum


def test_a_dask_fit_of_a_slow_problem_lands_within_tol_of_its_maximum(slow_fit):
    da = pytest.importorskip("dask.array")
    x, kw, optimum = slow_fit
    fit = GaussianMixture(3, **kw).fit(da.from_array(x, chunks=(700, 3)))
    assert fit.converged_
    assert 0 <= optimum - fit.log_likelihood_ < 10 * 1e-8 * x.shape[0]


def test_a_float64_fit_on_the_device_of_a_slow_problem_lands_within_tol_of_its_maximum(slow_fit):
    pytest.importorskip("torch")
    x, kw, optimum = slow_fit
    fit = GaussianMixture(3, device="cpu", **kw).fit(x)
    assert fit.converged_
    assert 0 <= optimum - fit.log_likelihood_ < 10 * 1e-8 * x.shape[0]


def test_the_slowest_rate_reads_rates_of_one_or_more_from_this_phase_of_the_run():
    rates, floor = (0.5, 1.0002, 0.9), 1e-9
    # a reading of 1 or more from a step of about this one's gain: not converging linearly
    assert _slowest(rates, (1e-6, 2e-6, 1e-6), 1e-6, floor) == 1.0002
    # ... from a step at the objective's rounding, or 100 times this one's gain: left out
    assert _slowest(rates, (1e-6, 1e-10, 1e-6), 1e-6, floor) == 0.9
    assert _slowest(rates, (1e-6, 1e-3, 1e-6), 1e-6, floor) == 0.9


def test_a_flat_likelihood_fit_stops_within_tol_of_its_maximum():
    """Two components on one Gaussian: EM's slow rate (about 0.9999) shows only every 5 to 40
    cycles, or as readings just above 1. Read over the last 9 cycles, below 1 only, it let
    the fit stop 1.4 below its maximum (140,000 times tol * n), in memory and in chunks."""
    x = np.random.default_rng(102).normal(size=(1000, 1))
    stopped = []
    for data in (x, [x[:400], x[400:700], x[700:]]):
        gm = GaussianMixture(2, max_iter=5000, random_state=0).fit(data)
        assert gm.converged_
        stopped.append(gm.history_[-1])
    # the maximum: EM run on from where the fit stopped, to a far tighter tol
    optimum = gm.set_params(tol=1e-14, max_iter=20000, warm_start=True).fit(x).history_[-1]
    assert gm.converged_
    gaps = optimum - np.array(stopped)
    assert np.all(gaps > -1e-9 * abs(optimum)), gaps
    assert np.all(gaps < 10 * 1e-8 * x.shape[0]), gaps


def test_a_grid_screens_as_mclust_stops_and_continues_the_chosen_to_tol(monkeypatch):
    """select_mixture's screened fits only rank the candidates: their SQUAREM stops on the
    rates below 1 of the last 9 cycles (over 49, the flat cells of a default grid ran to
    max_iter, twice the grid's time). The fits it refines, and every fit outside a grid, stop
    on _slowest over 49."""
    made = []

    def recorded(accelerate, model):
        policy = step_policy(accelerate, model)
        made.append(policy.screening)
        return policy

    monkeypatch.setattr(em_module, "step_policy", recorded)
    x = np.random.default_rng(102).normal(size=(1000, 1))
    emkit.select_mixture(x, n_components=[1, 2, 3, 4], covariance_types=["V"])
    grid = len(made)
    assert made[:4] == [True] * 4  # the four cells screened
    assert made[4:] == [False] * 3 and grid == 7  # the best three refined
    GaussianMixture(2, random_state=0).fit(x)
    assert made[-1] is False
