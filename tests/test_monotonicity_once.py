"""Falls of EM's objective: reported once a fit, and not where they are the rounding of a
ridge-held covariance's M-step (emkit.em.warn_falls, emkit.models.mixture.Mixture.rounding)."""

import contextlib
import warnings
from dataclasses import fields, replace
from typing import ClassVar

import numpy as np
import pytest
from tests.test_eigen_singular import EURO

import emkit
from emkit.backend.sources import IterableChunks
from emkit.distributions.gaussian import COVARIANCES
from emkit.em import run_em
from emkit.estimators import selection
from emkit.models.mixture import Mixture


def _fit(accelerate, k=7):
    gm = emkit.GaussianMixture(k, covariance_type="EVV", init_params="hc", accelerate=accelerate)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gm.fit(np.asfortranarray(EURO))  # as pandas' to_numpy gives it: the C-ordered fit
    return gm, [w for w in caught if w.category is emkit.MonotonicityWarning]


def test_ridge_held_evv_fit_stops_with_plain_em_and_without_warnings():
    # EuroUnemployment, EVV, K = 7 from hc: three components singular but for the ridge
    # (condition numbers about 1e9); mclust 6 returns NA for this cell. Its M-steps fall by
    # up to 5e-7 (the evaluation is exact to 1e-13, mpmath), within eps * sum_k N_k kappa_k
    # (9.1e-7 a model). SQUAREM ran 489 iterations, its plain steps' rates read at that
    # rounding (up to 101) keeping it going, with 443 MonotonicityWarnings; plain EM stopped
    # at 8 with one. (That was the Fortran-ordered array's fit, -146.89; every layout now
    # gives the C-ordered rows' fit, -145.40 in 11 plain iterations, see
    # test_layout_invariance.)
    plain, plain_warned = _fit(None)
    fast, fast_warned = _fit("squarem")
    assert plain.degenerate_ and fast.degenerate_  # mclust: NA
    assert plain_warned == [] and fast_warned == []
    assert plain.n_iter_ == 11
    assert fast.n_iter_ <= plain.n_iter_  # cycles of three M-steps
    # both at one maximum, to the rounding of its M-steps
    assert fast.history_[-1] == pytest.approx(plain.history_[-1], rel=0, abs=2e-6)
    assert plain.converged_ and fast.converged_


def test_a_fall_within_the_rounding_of_ridge_held_components_is_not_reported():
    # The same data, EVV under SQUAREM: an accepted step of a fit whose components are held
    # up by the ridge lowers the objective by 1e-8 to 1e-6, the rounding of their M-step
    # (see the test above); without Mixture.rounding's allowance it was a
    # MonotonicityWarning. Which K falls moves with the last bits of the E-step and the
    # M-step, and so with the BLAS's kernels (K = 8 fell by 2.5e-7 before the posterior's
    # maxima and sums were taken a column at a time; K = 7 fell by 1.4e-7 until EVV's M-step
    # read the features in their own units; K = 9 falls by 8.6e-8 with this machine's
    # OpenBLAS settings and climbs without them), so the cells K = 6..9 are fitted and at
    # least one must fall, none warning.
    fell = []
    for k in (6, 7, 8, 9):
        gm, warned = _fit("squarem", k=k)
        assert warned == [], k
        falls = -np.diff(gm.history_)
        if 1e-8 < falls.max() < 1e-6:
            assert gm.degenerate_ and gm.converged_
            fell.append(k)
        else:
            assert falls.max() <= 1e-8, (k, falls.max())  # no larger fall, reported or not
    assert fell, "no cell fell within rounding: the allowance went untested"


class _Shifted(Mixture):
    """Every other M-step (the first, third, ...) moves the means by ``SHIFT``: a real fall."""

    steps: ClassVar[list] = []
    shift: ClassVar[np.ndarray] = np.zeros(3)

    def m_step(self, stats):
        _Shifted.steps.append(None)
        model = super().m_step(stats)
        if len(_Shifted.steps) % 2 == 0:
            return model
        components = COVARIANCES["full"].from_covariances(
            model.components.means + _Shifted.shift, model.components.covariances
        )
        return replace(model, components=components)


def _shifted_run(x, shift, ridge):
    fit = emkit.GaussianMixture(1, covariance_type="full", reg_covar=0).fit(x)
    model = Mixture(
        np.ones(1),
        COVARIANCES["full"].from_covariances(fit.means_, fit.covariances_),
        ridge,
    )
    start = _Shifted(**{f.name: getattr(model, f.name) for f in fields(model)})
    _Shifted.steps.clear()
    _Shifted.shift = shift
    chunks = IterableChunks([x])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_em(start, chunks, tol=1e-12, max_iter=6, total_weight=chunks.total_weight)
    return result, [w for w in caught if w.category is emkit.MonotonicityWarning]


def test_falls_are_reported_once_with_their_count_and_the_largest():
    # Three M-steps (1, 3, 5) move the means by 0.5 and lower the objective; each used to be
    # a warning of its own.
    x = np.random.default_rng(0).normal(size=(200, 3))
    result, warned = _shifted_run(x, np.array([0.5, 0.0, 0.5]), 1e-6)
    falls = -np.diff(result.history)[[0, 2, 4]]
    assert (falls > 1.0).all()
    assert len(warned) == 1
    message = str(warned[0].message)
    largest = int(np.argmax(falls))
    assert f"decreased by {falls[largest]:.3g} at iteration {2 * largest + 1} " in message
    assert "the largest of 3 falls, the first at iteration 1" in message
    assert [f.iteration for f in result.falls] == [1, 3, 5]


def test_a_real_fall_is_still_reported_on_a_ridge_held_complete_covariance():
    # Rows on a plane through 3-D (condition number about 1e13 with the ridge 1e-10): the
    # allowance eps * N * kappa is about 0.45 nats a model (capped at 1e-3 a row); a shift of
    # 0.5 along the plane lowers the objective by more than that, and is reported.
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 300))
    x = np.c_[a, b, a + b]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emkit.DegenerateFitWarning)
        result, warned = _shifted_run(x, np.array([0.5, 0.0, 0.5]), 1e-10)
    model = result.model
    cov = model.components.full_covariances()[0]
    scale = np.sqrt(np.diag(cov))
    assert np.linalg.cond(cov / np.outer(scale, scale)) > 1e9
    allowed = 2 * model.rounding(result.stats)
    falls = [result.history[f.iteration - 1] - result.history[f.iteration] for f in result.falls]
    assert len(falls) >= 2 and 0.0 < allowed < min(falls)
    assert len(warned) == 1 and f"the largest of {len(falls)} falls" in str(warned[0].message)


@pytest.mark.parametrize("checkpoint", [False, True], ids=["lockstep", "checkpointed"])
def test_a_grid_names_the_fit_whose_objective_fell(monkeypatch, tmp_path, checkpoint):
    # A grid's MonotonicityWarning did not say which of its fits fell. With Mixture.rounding's
    # allowance at 0, EVV K = 8 under SQUAREM falls by 2.5e-7 (see the test above). That fit
    # is degenerate (mclust's NA), and the grid stops it where it collapses, before it falls:
    # here it runs on, as a grid's fits did before that stop.
    monkeypatch.setattr(Mixture, "rounding", lambda self, stats: 0.0)
    monkeypatch.setattr(selection, "collapse_stops", contextlib.nullcontext)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        emkit.select_mixture(
            np.asfortranarray(EURO),
            n_components=[2, 8],
            covariance_types=["EVV"],
            init_params="hc",
            accelerate="squarem",
            checkpoint=tmp_path if checkpoint else None,
        )
    warned = [str(w.message) for w in caught if w.category is emkit.MonotonicityWarning]
    assert len(warned) == 1
    assert warned[0].startswith("select_mixture, EVV K=8: EM objective decreased by ")
