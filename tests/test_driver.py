"""The one fit driver: its best-start rule, the step policies, re-seeding, and the data-source
seam the loop maps the E-step over."""

from dataclasses import dataclass

import numpy as np
import pytest

from emkit.accel import extrapolate, next_step_max
from emkit.backend.sources import (
    ArrayChunks,
    DataSource,
    IterableChunks,
    array_source,
    as_chunks,
)
from emkit.backend.validation import CheckedChunks
from emkit.em import LatentModel, fit_groups, fit_starts, run_em
from emkit.models.mixture import Mixture
from emkit.models.regression_mixture import LinearRegressions, RegressionMixture


@dataclass(frozen=True)
class Fixed:
    """A model whose objective is ``value`` per row whatever the data; EM stops at once."""

    value: float
    collapsed: bool = False

    n_components = 1

    @property
    def structure(self):
        return 1

    def e_step(self, x, sample_weight=None):
        return 0.0, self.value * x.shape[0]

    def m_step(self, stats):
        return self

    def log_prior(self):
        return 0.0

    def degenerate(self, stats):
        return np.array([self.collapsed])


def test_best_start_rule_prefers_finite_then_non_degenerate_then_objective():
    data = ArrayChunks(np.zeros((10, 1)))
    starts = [Fixed(-np.inf), Fixed(5.0, collapsed=True), Fixed(1.0), Fixed(2.0), Fixed(2.0)]
    assert isinstance(starts[0], LatentModel)
    fit = fit_starts(starts, data, tol=1e-8, max_iter=10)
    assert fit.best is fit.runs[3]  # the earlier of the two best non-degenerate starts
    assert not fit.degenerate.any()
    assert len(fit.runs) == 5
    # Every start degenerate: the best objective among them.
    fit = fit_starts([Fixed(1.0, True), Fixed(3.0, True)], data, tol=1e-8, max_iter=10)
    assert fit.best is fit.runs[1] and fit.degenerate.all()
    with pytest.raises(ValueError, match="at least one start"):
        fit_starts([], data, tol=1e-8, max_iter=10)


def test_objectives_equal_but_for_rounding_tie_and_the_earlier_start_is_kept():
    # 10 rows of -33.264495236211894 against -33.2644952362119: objectives 6e-15 apart,
    # a 2e-16 share, as the same maximum summed in another order (Dask partitions).
    data = ArrayChunks(np.zeros((10, 1)))
    low, high = -33.264495236211906, -33.264495236211894
    fit = fit_starts([Fixed(low), Fixed(high), Fixed(high)], data, tol=1e-8, max_iter=10)
    assert fit.best is fit.runs[0]
    # Beyond 1e-12 of the objective a higher start wins, as scikit-learn's would.
    clear = low * (1.0 - 1e-11)
    fit = fit_starts([Fixed(low), Fixed(clear)], data, tol=1e-8, max_iter=10)
    assert fit.best is fit.runs[1]


def test_lockstep_and_one_after_another_give_the_same_fits():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(size=(200, 2)), rng.normal(4.0, 1.0, size=(200, 2))])
    from emkit import GaussianMixture

    starts = [GaussianMixture(2, random_state=s, max_iter=0).fit(x)._mixture() for s in range(3)]
    data = array_source(x)
    together = fit_starts(starts, data, tol=1e-10, max_iter=500, accelerate="squarem")
    alone = fit_starts(iter(starts), data, tol=1e-10, max_iter=500, lockstep=False)
    squarem_alone = fit_starts(
        iter(starts), data, tol=1e-10, max_iter=500, accelerate="squarem", lockstep=False
    )
    for a, b in zip(together.runs, squarem_alone.runs, strict=True):
        assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=1e-12)
        assert a.n_iter == b.n_iter
    assert together.best.log_likelihood == pytest.approx(alone.best.log_likelihood, rel=1e-8)


def test_a_grid_of_fits_in_lockstep_equals_each_fit_alone():
    """fit_groups runs a model-selection grid (five structures, among them the iterative VVE,
    K = 1..4, some fits with two starts) in one lockstep; every run equals the run of its
    start alone, and every fit keeps the start fit_starts keeps."""
    from emkit import GaussianMixture

    rng = np.random.default_rng(3)
    x = np.vstack(
        [
            rng.normal([0, 0, 0], 1.0, (300, 3)),
            rng.normal([4, 1, -2], 0.7, (200, 3)),
            rng.normal([-3, 5, 2], 1.5, (150, 3)),
        ]
    )
    grid = [(cov, k) for cov in ("EII", "VVI", "EEE", "VVE", "VVV") for k in (1, 2, 3, 4)]
    groups = [
        [
            GaussianMixture(k, covariance_type=cov, random_state=s, max_iter=0).fit(x)._mixture()
            for s in range(1 + k % 2)
        ]
        for cov, k in grid
    ]
    data = array_source(x)
    options = dict(tol=1e-10, max_iter=500, accelerate="squarem")
    ended = []
    together = fit_groups(groups, data, **options, on_fit=lambda g, fit: ended.append((g, fit)))
    assert sorted(g for g, _ in ended) == list(range(len(grid)))
    assert all(fit is together[g] for g, fit in ended)
    for starts, fit in zip(groups, together, strict=True):
        alone = fit_starts(iter(starts), data, **options, lockstep=False)
        assert len(fit.runs) == len(starts)
        for a, b in zip(fit.runs, alone.runs, strict=True):
            assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=1e-10, abs=0)
            assert a.n_iter == b.n_iter
        assert fit.runs.index(fit.best) == alone.runs.index(alone.best)
        np.testing.assert_array_equal(fit.degenerate, alone.degenerate)
    with pytest.raises(ValueError, match="at least one start"):
        fit_groups([starts, []], data, **options)


def test_squarem_extrapolation_maths():
    start, middle = np.zeros(2), np.ones(2)
    # No curvature (v = 0): the step length is 1 and the cycle keeps the plain iterate.
    assert extrapolate(start, middle, 2.0 * middle, 4.0) == (1.0, None)
    alpha, target = extrapolate(start, middle, 1.5 * middle, 4.0)
    assert alpha == 2.0  # |r| / |v| = 1 / 0.5
    np.testing.assert_allclose(target, start + 2 * alpha * middle + alpha**2 * -0.5 * middle)
    assert next_step_max(4.0, 2.0, extrapolated=True, accepted=False) == 1.0
    assert next_step_max(4.0, 4.0, extrapolated=True, accepted=True) == 16.0
    assert next_step_max(4.0, 2.0, extrapolated=True, accepted=True) == 4.0


def _collapsing_regression(max_reseeds):
    """Two lines on data where the second holds no row: its first M-step collapses it."""
    x = np.linspace(0.0, 1.0, 50)
    z = np.column_stack([x, 1.0 + 2.0 * x + 0.1 * np.sin(40 * x)])
    lines = LinearRegressions(
        np.array([[2.0], [0.0]]), np.array([1.0, 100.0]), np.array([0.01, 0.01]), sigma_ratio=0.05
    )
    draws = iter([(np.array([2.1]), 0.9, 0.02)] * 10)
    model = RegressionMixture(
        Mixture(np.array([0.5, 0.5]), lines), lambda: next(draws), max_reseeds
    )
    return model, array_source(z)


def test_collapsed_regression_component_is_reseeded_as_a_structure_change():
    model, data = _collapsing_regression(max_reseeds=5)
    assert isinstance(model, LatentModel) and isinstance(model.mixture, LatentModel)
    result = run_em(model, data, tol=1e-10, max_iter=200, total_weight=data.total_weight)
    assert result.model.n_reseeds > 0
    assert len(result.structure_changes) == result.model.n_reseeds
    assert not result.model.exhausted
    # The re-seeded line starts from the seed and its weight from 1/k.
    first = model.m_step(model.mixture.e_step(data.x)[0])
    assert first.n_reseeds == 1 and first.structure != model.structure
    np.testing.assert_allclose(first.mixture.components.coef[1], [2.1])


def test_a_start_without_reseeds_left_ranks_degenerate():
    model, data = _collapsing_regression(max_reseeds=0)
    fit = fit_starts([model], data, tol=1e-10, max_iter=200)
    assert fit.best.model.exhausted and fit.degenerate.all()


def test_sources_meet_the_data_source_protocol_and_map_reduce_adds_chunks():
    x = np.arange(30.0).reshape(10, 3)
    w = np.linspace(0.5, 2.0, 10)
    labels = np.arange(10) % 2
    sources = [
        ArrayChunks(x, w, chunk_rows=4),
        IterableChunks([x[:3], x[3:]]),
        CheckedChunks(ArrayChunks(x, chunk_rows=3), 3),
        ArrayChunks(x, w, chunk_rows=4, labels=labels),
    ]
    for source in sources:
        assert isinstance(source, DataSource)
        assert source.n_rows == 10 and source.n_features == 3
        total = source.map_reduce(
            lambda x, w: np.asarray(x[0] if isinstance(x, tuple) else x).sum()
        )
        assert total == pytest.approx(x.sum())
        rows = source.map_reduce(
            lambda x, w: [len(x[0] if isinstance(x, tuple) else x)], list.__add__
        )
        assert sum(rows) == 10 and len(rows) > 1
    assert as_chunks(x) is None  # in memory: the estimator validates first
    assert isinstance(array_source(x, w), ArrayChunks)
    labelled = array_source(x, w, labels=labels)
    assert isinstance(labelled, ArrayChunks) and labelled.total_weight == pytest.approx(w.sum())
    assert as_chunks(sources[0]) is sources[0]
    with pytest.raises(ValueError, match="no chunk"):
        IterableChunks([]).map_reduce(lambda x, w: 0)


def test_squarem_keeps_entries_that_are_not_finite_in_the_plain_iterate():
    # log p = -inf for a category EM set to 0 (in all three iterates, or from the second on):
    # the step length and target of the finite entries are those without them.
    start, middle, end = np.zeros(4), np.ones(4), 1.5 * np.ones(4)
    start[2:] = [-np.inf, 0.3]
    middle[2:] = [-np.inf, -np.inf]
    end[2:] = [-np.inf, -np.inf]
    with np.errstate(all="raise"):
        alpha, target = extrapolate(start, middle, end, 4.0)
    alone, expected = extrapolate(np.zeros(2), np.ones(2), 1.5 * np.ones(2), 4.0)
    assert alpha == alone == 2.0
    np.testing.assert_array_equal(target, [*expected, -np.inf, -np.inf])
    assert extrapolate(start, middle, 2.0 * middle, 4.0) == (1.0, None)
