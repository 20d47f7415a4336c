"""k-means' bounded passes (emkit.backend.nearest_bounds): the rows whose nearest centre
cannot have changed are skipped, against brute-force distances, the whole pass and
scikit-learn's Lloyd from the same start."""

import numpy as np
import pytest
from sklearn.cluster import KMeans as SkKMeans

from emkit import KMeans
from emkit.backend import nearest_bounds, nearest_pass
from emkit.backend.nearest import nearest_e_step, nearest_form, shifted_source


def overlapping(n=40_000, d=4, k=8, offset=0.0, seed=0):
    """Clusters that overlap, so that Lloyd takes tens of iterations and moves rows late."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=1.5, size=(k, d))
    return offset + centres[rng.integers(k, size=n)] + rng.standard_normal((n, d))


def counted_bounded_passes(monkeypatch) -> list:
    calls: list = []
    bounded = nearest_pass._bounded_pass

    def counting(*args, **kwargs):
        calls.append(1)
        return bounded(*args, **kwargs)

    monkeypatch.setattr(nearest_pass, "_bounded_pass", counting)
    return calls


def always_bounded(monkeypatch) -> None:
    """Every pass from complete bounds is bounded; every whole pass keeps every row's."""
    monkeypatch.setattr(nearest_pass, "BOUNDED_SHARE", 1.0)
    monkeypatch.setattr(nearest_pass, "RECORD_SHARE", 1.0)
    monkeypatch.setattr(nearest_pass, "BOUNDS_REFRESH", 100)


def brute(x, centres, w):
    d2 = ((x[:, None, :] - centres[None]) ** 2).sum(axis=2)
    labels = d2.argmin(axis=1)
    k = centres.shape[0]
    weight = np.bincount(labels, w, minlength=k)
    sums = np.array([(w[labels == j, None] * x[labels == j]).sum(axis=0) for j in range(k)])
    return labels, weight, sums


@pytest.mark.parametrize("weighted", [False, True])
def test_bounded_passes_follow_brute_force_as_the_centres_move(monkeypatch, weighted):
    # Every pass bounded (whatever the share of rows it computes) from the bounds of the one
    # before (the first keeps the sample's bounds, the second every row's), the centres
    # moving by steps of several sizes and one centre jumping far enough to empty its
    # cluster: labels, weights and sums as brute-force distances give them.
    always_bounded(monkeypatch)
    calls = counted_bounded_passes(monkeypatch)
    rng = np.random.default_rng(1)
    x = overlapping(n=6000, d=3, k=5, offset=50.0)
    w = rng.uniform(0.0, 2.0, size=x.shape[0]) * (rng.random(x.shape[0]) > 0.1)
    w = w if weighted else None
    ref_w = np.ones(x.shape[0]) if w is None else w
    source = shifted_source(x, x[:100].mean(axis=0), w)
    rows = source.rows
    centres = x[:5].copy()
    trail = None
    steps = [0.5, 0.05, 0.005, 0.0, 0.2, 1e-9, 0.1]
    for step, scale in enumerate(steps):
        centres = centres + rng.normal(scale=scale, size=centres.shape)
        if step == 4:
            centres[2] = 1e3  # no row is nearest it: its weight and sums exactly 0
        form = nearest_form(centres, rows.shift, trail)
        got = nearest_e_step(rows, [form], w)[0]
        trail = got.trail
        labels, weight, sums = brute(x, centres, ref_w)
        bounds = rows.bounds[trail]
        assert bounds.complete == (step > 0)
        if bounds.complete:
            np.testing.assert_array_equal(bounds.labels, labels)
        if w is None:
            np.testing.assert_array_equal(got.weight, weight)
        else:
            np.testing.assert_allclose(got.weight, weight, rtol=1e-12, atol=1e-12)
        held = weight > 0
        np.testing.assert_allclose(
            got.sums[held] + got.weight[held, None] * rows.shift, sums[held], rtol=1e-10
        )
        assert not np.any(got.weight[~held]) and not np.any(got.sums[~held])
        inertia = float(ref_w @ ((x - centres[labels]) ** 2).sum(axis=1))
        assert got.inertia == pytest.approx(inertia, rel=1e-10)
    assert len(calls) == len(steps) - 2  # all but the first two, which made the bounds


@pytest.mark.parametrize(
    ("offset", "weighted", "n_init"), [(0.0, False, 1), (1e6, False, 1), (0.0, True, 3)]
)
def test_a_fit_with_bounded_passes_is_the_fit_with_whole_ones(
    monkeypatch, offset, weighted, n_init
):
    x = overlapping(offset=offset)
    w = np.random.default_rng(2).uniform(0.5, 2.0, size=x.shape[0]) if weighted else None
    params = dict(n_clusters=8, init="random", n_init=n_init, random_state=0, tol=0.0)
    calls = counted_bounded_passes(monkeypatch)
    bounded = KMeans(**params).fit(x, sample_weight=w)
    assert len(calls) > bounded.n_iter_ // 2  # most passes bounded
    monkeypatch.setattr(nearest_pass, "BOUNDS_REFRESH", 0)  # never bounded
    whole = KMeans(**params).fit(x, sample_weight=w)
    np.testing.assert_array_equal(bounded.labels_, whole.labels_)
    assert bounded.n_iter_ == whole.n_iter_
    np.testing.assert_allclose(bounded.cluster_centers_, whole.cluster_centers_, rtol=1e-12)
    assert bounded.inertia_ == pytest.approx(whole.inertia_, rel=1e-12)


@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_bounded_passes_give_sklearn_lloyds_fit_from_the_same_start(monkeypatch, offset):
    x = overlapping(offset=offset, seed=4)
    start = x[np.random.default_rng(5).choice(x.shape[0], 8, replace=False)]
    calls = counted_bounded_passes(monkeypatch)
    ours = KMeans(8, init=start, n_init=1, max_iter=500, tol=1e-8).fit(x)
    ref = SkKMeans(8, init=start, n_init=1, max_iter=500, tol=1e-8, algorithm="lloyd").fit(x)
    assert len(calls) > ours.n_iter_ // 2 and ours.n_iter_ > 20
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10)


def test_bounded_passes_keep_the_fit_the_same_on_any_threads(monkeypatch, all_threads):
    x = overlapping(n=70_000, d=3, k=6)
    calls = counted_bounded_passes(monkeypatch)
    fits = []
    for threads in ("1", "2", "3"):
        monkeypatch.setenv("EMKIT_NUM_THREADS", threads)
        fits.append(KMeans(6, random_state=0, tol=0.0).fit(x))
    assert len(calls) > fits[0].n_iter_
    for other in fits[1:]:
        np.testing.assert_array_equal(other.labels_, fits[0].labels_)
        np.testing.assert_array_equal(other.cluster_centers_, fits[0].cluster_centers_)
        assert other.inertia_ == fits[0].inertia_
        assert other.n_iter_ == fits[0].n_iter_


def test_exact_ties_always_get_their_distances(monkeypatch):
    # Rows on a grid, centres on its half-points: many rows tie exactly, and their label is
    # the first nearest centre's, as a whole pass gives it, pass after pass.
    always_bounded(monkeypatch)
    grid = np.array(np.meshgrid(np.arange(20.0), np.arange(20.0))).reshape(2, -1).T
    x = np.repeat(grid, 10, axis=0)
    rows = shifted_source(x, np.zeros(2)).rows
    centres = np.array([[4.5, 4.5], [4.5, 14.5], [14.5, 4.5], [14.5, 14.5]])
    trail = None
    for _ in range(3):  # the first keeps the sample's bounds; then every row's
        got = nearest_e_step(rows, [nearest_form(centres, rows.shift, trail)])[0]
        trail = got.trail
        labels, weight, _ = brute(x, centres, np.ones(x.shape[0]))
        np.testing.assert_array_equal(got.weight, weight)
        assert np.isinf(rows.bounds[trail].gaps).sum() == 0  # grid points never tie here
    np.testing.assert_array_equal(rows.bounds[trail].labels, labels)
    centres = np.array([[4.0, 4.5], [5.0, 4.5], [14.5, 4.5], [14.5, 14.5]])  # x = 4.5 ties
    got = nearest_e_step(rows, [nearest_form(centres, rows.shift, trail)])[0]
    labels, weight, _ = brute(x, centres, np.ones(x.shape[0]))
    np.testing.assert_array_equal(rows.bounds[got.trail].labels, labels)
    np.testing.assert_array_equal(got.weight, weight)


def test_bounds_take_at_most_the_layouts_bytes():
    # One feature: the layout holds 16 bytes a row, each start's bounds 12, so of ten starts
    # one keeps bounds and the others run whole passes.
    x = overlapping(n=5000, d=1, k=3)
    rows = shifted_source(x, np.zeros(1)).rows
    rng = np.random.default_rng(0)
    forms = [nearest_form(rng.normal(size=(3, 1)), rows.shift) for _ in range(10)]
    got = nearest_e_step(rows, forms)
    kept = [sums.trail for sums in got if sums.trail is not None]
    assert len(kept) == 1
    assert sum(b.nbytes for b in rows.bounds.values()) <= rows.features.nbytes
    # a pass that names bounds drops those of the starts it does not name (ended)
    again = nearest_e_step(rows, [nearest_form(forms[0].centres, rows.shift, kept[0])])
    assert list(rows.bounds) == [again[0].trail]


def test_the_gap_bound_uses_the_two_largest_moves():
    bounds = nearest_bounds.RowBounds.empty(1, 3, 2)
    moved = np.array([[3.0, 4.0], [0.0, 1.0], [0.0, 0.0]])  # moves 5, 1, 0
    assert bounds.drift(moved) == pytest.approx(6.0, rel=1e-12)
    assert bounds.drift(moved) >= 6.0


def test_rows_within_rounding_of_a_tie_always_get_their_distances(monkeypatch):
    # Rows 1e6 from the shift the pass takes distances from: a squared distance errs by
    # about 1e-4 there, so rows near the centres' midpoint may be nearer either centre in
    # the computed distances, pass after pass as the centres move by less than that. Their
    # bounds must leave them to the product: the labels are then the whole pass's.
    always_bounded(monkeypatch)
    rng = np.random.default_rng(7)
    x = 1e6 + np.sort(rng.uniform(0.0, 1.0, size=(20_000, 1)), axis=0)
    rows = shifted_source(x, np.zeros(1)).rows
    whole = shifted_source(x, np.zeros(1)).rows
    centres = np.array([[1e6 + 0.3], [1e6 + 0.7]])
    trail = None
    for _ in range(6):
        centres = centres + rng.normal(scale=1e-9, size=centres.shape)
        got = nearest_e_step(rows, [nearest_form(centres, rows.shift, trail)])[0]
        trail = got.trail
        want = nearest_e_step(whole, [nearest_form(centres, whole.shift)], labelled=[True])[0]
        if rows.bounds[trail].complete:
            np.testing.assert_array_equal(rows.bounds[trail].labels, want.labels)
        np.testing.assert_array_equal(got.weight, want.weight)
