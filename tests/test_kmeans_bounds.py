"""k-means' passes over the near rows (emkit.backend.nearest_bounds): only the rows whose
nearest centre can have changed get their distances, against brute-force distances, the
whole passes and scikit-learn's Lloyd from the same start."""

import numpy as np
import pytest
from sklearn.cluster import KMeans as SkKMeans

from emkit import KMeans
from emkit.backend import nearest_bounds, nearest_pass
from emkit.backend.nearest import nearest_e_step, nearest_form, shifted_source


@pytest.fixture(autouse=True)
def bounds_on_any_rows(monkeypatch):
    """Bounds kept between passes whatever the rows' count: the tests' small data sets (from
    NEAR_MIN_ROWS on, in use) take the near passes they check."""
    monkeypatch.setattr(nearest_pass, "NEAR_MIN_ROWS", 0)
    monkeypatch.setattr(nearest_pass, "NEAR_FEW_ROWS", 0)


def overlapping(n=40_000, d=4, k=8, offset=0.0, seed=0):
    """Clusters that overlap, so that Lloyd takes tens of iterations and moves rows late."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=1.5, size=(k, d))
    return offset + centres[rng.integers(k, size=n)] + rng.standard_normal((n, d))


def counted_near_passes(monkeypatch) -> list:
    """The near rows' share of each pass from them."""
    calls: list = []
    near_pass = nearest_pass._near_pass

    def counting(x, weights, form, bounds):
        calls.append(bounds.near.shape[0] / x.shape[0])
        return near_pass(x, weights, form, bounds)

    monkeypatch.setattr(nearest_pass, "_near_pass", counting)
    return calls


def eager(monkeypatch) -> None:
    """Every whole pass after the first records the rows and keeps the near ones."""
    monkeypatch.setattr(nearest_pass, "NEAR_GAIN_MOST", np.inf)
    monkeypatch.setattr(nearest_bounds, "NEAR_SHARE_MOST", 1.0)


def never(monkeypatch) -> None:
    """No pass records the rows: every pass is whole."""
    monkeypatch.setattr(nearest_pass, "NEAR_GAIN_MOST", -1.0)


def brute(x, centres, w):
    d2 = ((x[:, None, :] - centres[None]) ** 2).sum(axis=2)
    labels = d2.argmin(axis=1)
    k = centres.shape[0]
    weight = np.bincount(labels, w, minlength=k)
    sums = np.array([(w[labels == j, None] * x[labels == j]).sum(axis=0) for j in range(k)])
    return labels, weight, sums


@pytest.mark.parametrize("weighted", [False, True])
def test_near_passes_follow_brute_force_as_the_centres_move(monkeypatch, weighted):
    # The centres move by steps that shrink, then one jumps far enough to empty its cluster
    # (past the near rows' reach: a whole pass), then they shrink again: each pass's labels,
    # weights, sums and inertia as brute-force distances give them.
    eager(monkeypatch)
    calls = counted_near_passes(monkeypatch)
    rng = np.random.default_rng(1)
    x = overlapping(n=6000, d=3, k=5, offset=50.0)
    w = rng.uniform(0.0, 2.0, size=x.shape[0]) * (rng.random(x.shape[0]) > 0.1)
    w = w if weighted else None
    ref_w = np.ones(x.shape[0]) if w is None else w
    rows = shifted_source(x, x[:100].mean(axis=0), w).rows
    centres = x[:5].copy()
    trail = None
    steps = [0.5, 0.05, 0.01, 0.005, 0.001, None, 0.05, 0.01, 0.0, 1e-9]
    for step in steps:
        if step is None:
            centres[2] = 1e3  # no row is nearest it: its weight and sums exactly 0
        else:
            centres = centres + rng.normal(scale=step, size=centres.shape)
        got = nearest_e_step(rows, [nearest_form(centres, rows.shift, trail)], w)[0]
        trail = got.trail
        labels, weight, sums = brute(x, centres, ref_w)
        bounds = rows.bounds[trail]
        if bounds.labels is not None:
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
    assert len(calls) >= 4 and max(calls) < 1.0  # passes from some of the rows only


@pytest.mark.parametrize(
    ("offset", "weighted", "n_init"), [(0.0, False, 1), (1e6, False, 1), (0.0, True, 3)]
)
def test_a_fit_with_near_passes_is_the_fit_with_whole_ones(monkeypatch, offset, weighted, n_init):
    x = overlapping(offset=offset)
    w = np.random.default_rng(2).uniform(0.5, 2.0, size=x.shape[0]) if weighted else None
    params = dict(n_clusters=8, init="random", n_init=n_init, random_state=0, tol=0.0)
    calls = counted_near_passes(monkeypatch)
    near = KMeans(**params).fit(x, sample_weight=w)
    assert len(calls) > near.n_iter_ // 3  # many passes from the near rows alone
    never(monkeypatch)
    whole = KMeans(**params).fit(x, sample_weight=w)
    np.testing.assert_array_equal(near.labels_, whole.labels_)
    assert near.n_iter_ == whole.n_iter_
    np.testing.assert_allclose(near.cluster_centers_, whole.cluster_centers_, rtol=1e-12)
    assert near.inertia_ == pytest.approx(whole.inertia_, rel=1e-12)


@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_near_passes_give_sklearn_lloyds_fit_from_the_same_start(monkeypatch, offset):
    x = overlapping(offset=offset, seed=4)
    start = x[np.random.default_rng(5).choice(x.shape[0], 8, replace=False)]
    calls = counted_near_passes(monkeypatch)
    ours = KMeans(8, init=start, n_init=1, max_iter=500, tol=1e-8).fit(x)
    ref = SkKMeans(8, init=start, n_init=1, max_iter=500, tol=1e-8, algorithm="lloyd").fit(x)
    assert len(calls) > ours.n_iter_ // 3 and ours.n_iter_ > 20
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10)


def test_near_passes_keep_the_fit_the_same_on_any_threads(monkeypatch, all_threads):
    x = overlapping(n=70_000, d=3, k=6)
    calls = counted_near_passes(monkeypatch)
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


def test_exact_ties_go_to_the_first_centre_in_near_passes(monkeypatch):
    # Rows on a grid and two centres on either side of the column x = 4.5, moving together
    # along y: that column's rows tie between them, pass after pass, and their label is the
    # first nearest centre's, as a whole pass gives it.
    eager(monkeypatch)
    calls = counted_near_passes(monkeypatch)
    grid = np.array(np.meshgrid(np.arange(0.0, 20.0, 0.5), np.arange(20.0))).reshape(2, -1).T
    x = np.repeat(grid, 5, axis=0)
    rows = shifted_source(x, np.zeros(2)).rows
    whole = shifted_source(x, np.zeros(2)).rows
    centres = np.array([[4.0, 4.5], [5.0, 4.5], [14.5, 4.5], [14.5, 14.5]])
    trail = None
    ties = 0
    for _ in range(6):
        centres[:2, 1] += 0.001
        got = nearest_e_step(rows, [nearest_form(centres, rows.shift, trail)])[0]
        trail = got.trail
        want = nearest_e_step(whole, [nearest_form(centres, whole.shift)], labelled=[True])[0]
        np.testing.assert_array_equal(got.weight, want.weight)
        bounds = rows.bounds[trail]
        if bounds.labels is not None:
            np.testing.assert_array_equal(bounds.labels, want.labels)
            if bounds.near is not None:
                ties = max(ties, int(np.isin(bounds.near, np.flatnonzero(x[:, 0] == 4.5)).sum()))
    assert calls and ties >= 50  # the tied rows (10 grid points, 5 times each) stay near


def test_rows_within_rounding_of_a_tie_always_get_their_distances(monkeypatch):
    # Rows 1e6 from the shift the pass takes distances from: a squared distance errs by
    # about 1e-4 there, so rows near the centres' midpoint may be nearer either centre in
    # the computed distances, pass after pass as the centres move by less than that. The
    # reach and the margin must keep them near: the labels are then the whole pass's.
    eager(monkeypatch)
    calls = counted_near_passes(monkeypatch)
    rng = np.random.default_rng(7)
    x = 1e6 + np.sort(rng.uniform(0.0, 1.0, size=(20_000, 1)), axis=0)
    rows = shifted_source(x, np.zeros(1)).rows
    whole = shifted_source(x, np.zeros(1)).rows
    centres = np.array([[1e6 + 0.3], [1e6 + 0.7]])
    trail = None
    for _ in range(8):
        centres = centres + rng.normal(scale=1e-9, size=centres.shape)
        got = nearest_e_step(rows, [nearest_form(centres, rows.shift, trail)])[0]
        trail = got.trail
        want = nearest_e_step(whole, [nearest_form(centres, whole.shift)], labelled=[True])[0]
        if rows.bounds[trail].labels is not None:
            np.testing.assert_array_equal(rows.bounds[trail].labels, want.labels)
        np.testing.assert_array_equal(got.weight, want.weight)
    assert calls


def test_bounds_take_at_most_the_layouts_bytes(monkeypatch):
    # One feature: the layout holds 16 bytes a row; each start's labels take 4 and its near
    # rows 36 each, so of ten starts few keep rows, and never more bytes than the layout
    # (the recording pass's gaps, 8 bytes a row, aside).
    eager(monkeypatch)
    x = overlapping(n=5000, d=1, k=3)
    rows = shifted_source(x, np.zeros(1)).rows
    rng = np.random.default_rng(0)
    centres = [rng.normal(size=(3, 1)) for _ in range(10)]
    trails = [None] * 10
    for step in range(4):
        forms = [
            nearest_form(c + 0.01 * step, rows.shift, t)
            for c, t in zip(centres, trails, strict=True)
        ]
        got = nearest_e_step(rows, forms)
        trails = [sums.trail for sums in got]
        assert sum(b.nbytes for b in rows.bounds.values()) <= rows.features.nbytes
    assert any(b.labels is not None for b in rows.bounds.values())
    assert not all(b.labels is not None for b in rows.bounds.values())
    # a pass that names bounds drops those of the starts it does not name (ended)
    again = nearest_e_step(rows, [nearest_form(centres[0], rows.shift, trails[0])])
    assert list(rows.bounds) == [again[0].trail]


def test_the_gap_bound_uses_the_two_largest_moves():
    before = np.zeros((3, 2))
    after = np.array([[3.0, 4.0], [0.0, 1.0], [0.0, 0.0]])  # moves 5, 1, 0
    assert nearest_bounds.two_largest_moves(before, after) == pytest.approx(6.0, rel=1e-12)
    assert nearest_bounds.two_largest_moves(before, after) >= 6.0
    assert nearest_bounds.two_largest_moves(before[:1], after[:1]) >= 5.0  # one centre


def test_a_cluster_emptied_by_a_near_pass_has_weight_and_sums_exactly_zero(monkeypatch):
    # Its rows leave it in a pass from the near rows: moved out one by one, their weights
    # would leave rounding behind (0.1 + 0.7 + 0.2 - 0.1 - 0.7 - 0.2 is not 0 in floats).
    eager(monkeypatch)
    monkeypatch.setattr(nearest_bounds, "REACH_STEPS", (5.0,))  # near: the first two groups
    calls = counted_near_passes(monkeypatch)
    rng = np.random.default_rng(3)
    v = np.concatenate([rng.normal(0.0, 0.5, 500), [4.0, 4.0, 4.0], rng.normal(10.0, 0.5, 500)])
    x = np.zeros((v.shape[0], 3))
    x[:, 0] = v
    w = np.ones(x.shape[0])
    w[500:503] = [0.1, 0.7, 0.2]
    rows = shifted_source(x, np.zeros(3), w).rows
    trail = None
    for c in ([4.0, 0.0], [3.0, 0.0], [3.0, 4.5]):  # the last leaves its three rows to A
        centres = np.array([[0.0, 0.0, 0.0], [*c, 0.0], [10.0, 0.0, 0.0]])
        got = nearest_e_step(rows, [nearest_form(centres, rows.shift, trail)], w)[0]
        trail = got.trail
    assert len(calls) == 1
    assert got.weight[1] == 0.0 and np.all(got.sums[1] == 0.0)
    labels, weight, sums = brute(x, centres, w)
    np.testing.assert_allclose(got.weight, weight, rtol=1e-13)
    np.testing.assert_allclose(got.sums + got.weight[:, None] * rows.shift, sums, atol=1e-9)


def test_a_heavy_row_leaving_light_ones_sends_the_sums_to_a_whole_pass(monkeypatch):
    # Moved out of a cluster of 500 rows of weight 1, a row of weight 1e9 left its rounding
    # on their sums (3e-8 relative): the pass notices and its sums come from a whole pass.
    eager(monkeypatch)
    monkeypatch.setattr(nearest_bounds, "REACH_STEPS", (5.0,))
    calls = counted_near_passes(monkeypatch)
    rng = np.random.default_rng(4)
    v = np.concatenate([rng.normal(0.0, 0.5, 500), [1.5], rng.normal(10.0, 0.5, 500)])
    x = np.zeros((v.shape[0], 3))
    x[:, 0] = v
    w = np.ones(x.shape[0])
    w[500] = 1e9
    rows = shifted_source(x, np.zeros(3), w).rows
    trail = None
    for c in (4.0, 3.0, 2.5):  # the heavy row at 1.5 leaves A's centre (0) for the middle one
        centres = np.array([[0.0, 0.0, 0.0], [c, 0.0, 0.0], [10.0, 0.0, 0.0]])
        got = nearest_e_step(rows, [nearest_form(centres, rows.shift, trail)], w)[0]
        trail = got.trail
    labels, weight, sums = brute(x, centres, w)
    assert labels[500] == 1 and len(calls) == 1
    np.testing.assert_allclose(got.weight, weight, rtol=1e-13)
    np.testing.assert_allclose(got.sums + got.weight[:, None] * rows.shift, sums, rtol=1e-12)


def test_no_bounds_outlive_the_fit(monkeypatch):
    import gc
    import weakref

    made = []

    class Tracked(nearest_bounds.RowBounds):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(weakref.ref(self))

    monkeypatch.setattr(nearest_pass, "RowBounds", Tracked)
    x = overlapping(n=20_000, d=3, k=5)
    fit = KMeans(5, init="random", n_init=3, random_state=0).fit(x)
    gc.collect()
    assert len(made) >= 3 and fit.n_iter_ > 3
    assert all(ref() is None for ref in made)


@pytest.mark.parametrize("n_init", [1, 4])
def test_near_labels_differ_from_whole_ones_only_within_rounding_of_a_tie(monkeypatch, n_init):
    # 33 features, rows shuffled onto the bisector of two centres: the near rows' products
    # sit in other blocks than the whole pass's (and, in lockstep, of other shapes), so a row
    # within rounding of the tie may go to the other centre; never a row farther from it.
    eager(monkeypatch)
    rng = np.random.default_rng(9)
    d, n = 33, 20_000
    a, b = rng.normal(size=d), rng.normal(size=d)
    mid, axis = (a + b) / 2, (b - a) / np.linalg.norm(b - a)
    x = rng.normal(size=(n, d))
    x -= np.outer(x @ axis, axis)  # onto the bisector's hyperplane, through the origin
    x += mid + np.outer(rng.normal(scale=1e-9, size=n) * (rng.random(n) < 0.5), axis)
    x = np.vstack([x, rng.normal(size=(n, d)) * 3])[rng.permutation(2 * n)]
    rows = shifted_source(x, x.mean(axis=0)).rows
    whole = shifted_source(x, x.mean(axis=0)).rows
    first = np.vstack([a, b, rng.normal(size=(1, d)) * 5])
    others = [rng.normal(size=(3, d)) * 3 for _ in range(n_init - 1)]
    trails = [None] * n_init
    differed = near = 0
    for step in range(6):
        centres = [c + 1e-6 * step for c in [first, *others]]
        forms = [nearest_form(c, rows.shift, t) for c, t in zip(centres, trails, strict=True)]
        got = nearest_e_step(rows, forms)
        trails = [sums.trail for sums in got]
        bounds = rows.bounds[trails[0]]
        if bounds.labels is None:
            continue
        want = nearest_e_step(whole, [nearest_form(centres[0], whole.shift)], labelled=[True])
        differ = np.flatnonzero(bounds.labels != want[0].labels)
        d2 = ((x[differ, None, :] - centres[0][None]) ** 2).sum(axis=2)
        pair = np.sort(d2, axis=1)[:, :2]
        assert np.all(pair[:, 1] - pair[:, 0] <= 1e-12 * pair[:, 1])
        differed += differ.shape[0]
        near += bounds.near is not None and bounds.passes > 0
    assert near >= 3  # passes from the near rows, the tied rows among them


def test_small_data_keeps_no_bounds_and_matches_scikit_learn(monkeypatch):
    # Below NEAR_MIN_ROWS every pass is a whole one (the bounds' bookkeeping cost more than
    # it saved: 1000 x 2 rows, 3 centres, 4.8 times scikit-learn's time): no near pass, and
    # the same fit as Lloyd's from the same start.
    monkeypatch.setattr(nearest_pass, "NEAR_MIN_ROWS", 16384)
    calls = counted_near_passes(monkeypatch)
    x = overlapping(n=5000)
    start = x[:8]
    fit = KMeans(8, init=start, n_init=1, max_iter=300).fit(x)
    reference = SkKMeans(8, init=start, n_init=1, max_iter=300, algorithm="lloyd").fit(x)
    assert calls == []
    assert fit.n_iter_ == reference.n_iter_ > 10
    np.testing.assert_array_equal(fit.labels_, reference.labels_)
    assert fit.inertia_ == pytest.approx(reference.inertia_, rel=1e-12)


@pytest.mark.parametrize(("d", "k", "kept"), [(3, 5, False), (24, 8, True)])
def test_fewer_rows_keep_bounds_only_for_costly_distances(monkeypatch, d, k, kept):
    # Between NEAR_MIN_ROWS and NEAR_FEW_ROWS rows, bounds are kept only where each row's
    # distances take NEAR_FEW_ROWS_PRODUCTS multiply-adds at least (k (d + 1)): (3, 5)
    # (20) takes whole passes only, (24, 8) (200) passes from the near rows; both the same
    # fit as Lloyd's from the same start.
    monkeypatch.setattr(nearest_pass, "NEAR_MIN_ROWS", 1000)
    monkeypatch.setattr(nearest_pass, "NEAR_FEW_ROWS", 100_000)
    calls = counted_near_passes(monkeypatch)
    x = overlapping(n=20_000, d=d, k=k, seed=4)
    start = x[:k]
    fit = KMeans(k, init=start, n_init=1, max_iter=300).fit(x)
    reference = SkKMeans(k, init=start, n_init=1, max_iter=300, algorithm="lloyd").fit(x)
    assert bool(calls) == kept
    assert fit.n_iter_ == reference.n_iter_ > 10
    np.testing.assert_array_equal(fit.labels_, reference.labels_)
    assert fit.inertia_ == pytest.approx(reference.inertia_, rel=1e-12)
