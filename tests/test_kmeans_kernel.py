"""k-means' fused nearest-centre pass and vectorised k-means++ against brute force and
scikit-learn (same start: same labels, centres and inertia)."""

import numpy as np
import pytest
from sklearn.cluster import KMeans as SkKMeans
from sklearn.metrics import pairwise_distances_argmin_min

from emkit import KMeans
from emkit.backend import nearest_pass
from emkit.backend import threads as cpu_threads
from emkit.backend.nearest import (
    fit_source,
    nearest_e_step,
    nearest_form,
    nearest_labels,
    rescale_source,
    shifted_source,
)
from emkit.backend.nearest_pass import shifted_rows
from emkit.init import canonical_order, column_moments, draw_rows, kmeans_plusplus


def blobs(n=3000, d=3, k=4, offset=0.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(k, d))
    return offset + centres[rng.integers(k, size=n)] + rng.standard_normal((n, d))


def brute(x, centres, w):
    d2 = ((x[:, None, :] - centres[None]) ** 2).sum(axis=2)  # (n, k)
    labels = d2.argmin(axis=1)
    nearest = d2[np.arange(len(x)), labels]
    k = len(centres)
    weight = np.bincount(labels, w, minlength=k)
    sums = np.array([(w[labels == j, None] * x[labels == j]).sum(axis=0) for j in range(k)])
    return labels, nearest, weight, sums


@pytest.mark.parametrize("weighted", [False, True])
def test_pass_matches_brute_force(weighted):
    x = blobs()
    rng = np.random.default_rng(1)
    w = rng.integers(0, 3, size=len(x)).astype(float) if weighted else np.ones(len(x))
    centres = [x[:4], x[10:14] + 0.5]  # two sets of centres in lockstep, one shift
    shift = x.mean(axis=0)
    got = nearest_e_step(x, [nearest_form(c, shift) for c in centres], w if weighted else None)
    for c, g in zip(centres, got, strict=True):
        labels, nearest, weight, sums = brute(x, c, w)
        np.testing.assert_array_equal(g.weight, weight)
        np.testing.assert_allclose(g.sums + g.weight[:, None] * shift, sums, rtol=1e-12)
        assert g.inertia == pytest.approx(w @ nearest, rel=1e-13)
        far = np.where(w > 0, nearest, -1.0)
        top = np.argsort(-far, kind="stable")[:4]
        np.testing.assert_allclose(g.far_dist, far[top], rtol=1e-12)
        np.testing.assert_array_equal(g.far_rows, x[top])
        got_labels, got_nearest = nearest_labels(x, nearest_form(c, shift))
        np.testing.assert_array_equal(got_labels, labels)
        np.testing.assert_allclose(got_nearest, nearest, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_rows_laid_out_once_give_the_same_pass(weighted, monkeypatch):
    monkeypatch.setenv("EMKIT_NUM_THREADS", "2")
    x = blobs(n=70_000, d=3, k=4, offset=50.0)
    w = np.random.default_rng(2).integers(0, 3, size=len(x)).astype(float) if weighted else None
    scale = 4.0
    shift = x.mean(axis=0) / scale
    laid = shifted_rows(x, shift, scale)
    np.testing.assert_allclose(laid.features[:-1].T + shift, x / scale, rtol=1e-14)
    forms = [nearest_form(x[:4] / scale, shift), nearest_form(x[10:14] / scale, shift)]
    for plain, once in zip(
        nearest_e_step(x / scale, forms, w), nearest_e_step(laid, forms, w), strict=True
    ):
        np.testing.assert_array_equal(once.weight, plain.weight)
        np.testing.assert_array_equal(once.sums, plain.sums)
        assert once.inertia == pytest.approx(plain.inertia, rel=1e-13)
        np.testing.assert_array_equal(once.far_dist, plain.far_dist)
        np.testing.assert_allclose(once.far_rows, plain.far_rows, rtol=1e-14)


def test_a_fits_layout_gives_the_moments_and_rescales_exactly(monkeypatch):
    """The fit's one pass over the rows gives column_moments' means and mean variance (to
    rounding), and rescaling the layout by a power of two is the layout of x / scale."""
    monkeypatch.setenv("EMKIT_NUM_THREADS", "2")
    x = blobs(n=70_000, d=3, k=4, offset=1e4)
    x[:, 1] *= 1e-3  # columns of different spreads
    source, mean, spread = fit_source(x)
    want_mean, want_variance = column_moments(x)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-13)
    assert spread == pytest.approx(want_variance.mean(), rel=1e-9)
    shift = source.rows.shift
    np.testing.assert_allclose(source.rows.features[:-1].T + shift, x, rtol=1e-14)
    scaled = rescale_source(source, 0.25).rows
    direct = shifted_rows(x, shift / 0.25, 0.25)
    np.testing.assert_array_equal(scaled.features, direct.features)
    np.testing.assert_array_equal(scaled.shift, direct.shift)
    np.testing.assert_allclose(scaled.norms, direct.norms, rtol=1e-15)


@pytest.mark.parametrize("weighted", [False, True])
def test_a_fits_rows_look_for_the_farthest_rows_only_when_a_cluster_empties(weighted):
    x = blobs(n=5000, d=2, k=3, seed=4)
    w = np.random.default_rng(5).integers(0, 3, size=len(x)).astype(float) if weighted else None
    shift = x.mean(axis=0)
    complete = shifted_source(x, shift, w).rows  # all the rows of a fit
    chunk = shifted_rows(x, shift)  # the same rows as a chunk of some larger data
    far_away = np.vstack([x[:2], [[1e3, 1e3]]])  # its third centre gets no row
    for centres in (x[:3], far_away):
        form = nearest_form(centres, shift)
        got = nearest_e_step(complete, [form], w)[0]
        want = nearest_e_step(chunk, [form], w)[0]
        np.testing.assert_array_equal(got.weight, want.weight)
        np.testing.assert_allclose(got.sums, want.sums, rtol=1e-13, atol=1e-9)
        assert got.inertia == pytest.approx(want.inertia, rel=1e-13)
        assert np.all(want.far_dist > 0)
        if centres is far_away:
            np.testing.assert_array_equal(got.far_dist, want.far_dist)
            np.testing.assert_array_equal(got.far_rows, want.far_rows)
        else:
            np.testing.assert_array_equal(got.far_dist, -1.0)


def test_farthest_rows_are_the_largest_with_ties_to_the_earlier_row():
    rng = np.random.default_rng(9)
    for dist in (
        rng.standard_normal(50_000),
        rng.integers(0, 3, size=50_000).astype(float),  # ties everywhere
        np.full(20_000, -1.0),
        np.sort(rng.standard_normal(30_000)),  # the largest all in the last chunk
        rng.standard_normal(7),
    ):
        for k in (1, 5, 12):
            idx, values = nearest_pass.top_rows(dist, k, offset=3)
            want = np.argsort(-dist, kind="stable")[:k]
            np.testing.assert_array_equal(idx, want + 3)
            np.testing.assert_array_equal(values, dist[want])


def test_tie_goes_to_the_first_centre():
    x = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 0.0], [5.0, 5.0]])
    centres = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 0.0]])  # row 2 ties 0 and 1; 2 == 0
    form = nearest_form(centres, np.zeros(2))  # exact arithmetic: the ties are exact
    got = nearest_e_step(x, [form])[0]
    np.testing.assert_array_equal(got.weight, [2.0, 2.0, 0.0])
    labels, nearest = nearest_labels(x, form)
    np.testing.assert_array_equal(labels, [0, 1, 0, 1])
    np.testing.assert_array_equal(nearest, [0.0, 0.0, 1.0, 34.0])


@pytest.mark.parametrize("weighted", [False, True])
def test_threads_give_the_same_fit_to_the_last_bit(monkeypatch, all_threads, weighted):
    # The passes add fixed groups of rows in row order, whatever the parts the threads take
    # (they added one sum per part, which moved the last bits of the centres).
    x = blobs(n=70_000, d=2, k=5)  # enough rows for several threads and parts
    w = np.random.default_rng(3).uniform(0.5, 2.0, size=x.shape[0]) if weighted else None
    fits = []
    for threads in ("1", "2", "3"):
        monkeypatch.setenv("EMKIT_NUM_THREADS", threads)
        fits.append(KMeans(5, n_init=2, random_state=0).fit(x, sample_weight=w))  # k-means++
    for other in fits[1:]:
        np.testing.assert_array_equal(other.labels_, fits[0].labels_)
        np.testing.assert_array_equal(other.cluster_centers_, fits[0].cluster_centers_)
        assert other.inertia_ == fits[0].inertia_
        assert other.n_iter_ == fits[0].n_iter_
    assert cpu_threads.num_threads() == 3


def recorded_passes(monkeypatch) -> list:
    """The k-means passes' kinds in call order ("pass" or "labels"), each still run on the
    thread count TimedThreads chooses."""
    kinds: list = []

    class Recording(cpu_threads.TimedThreads):
        def run(self, key, fn):
            kinds.append("labels" if key[0] == "labels" else "pass")
            return super().run(key, fn)

        def run_as(self, key, fn):  # a pass that records the rows for the near passes
            kinds.append("pass")
            return super().run_as(key, fn)

    monkeypatch.setattr(nearest_pass, "NEAREST_THREADS", Recording())
    return kinds


def test_the_kmeans_passes_take_their_thread_count_from_timing(monkeypatch):
    # On a 2-vCPU VM the pass ran 1.75x slower on two threads than on one: its thread count,
    # and the final labelling's, are now timed (TimedThreads), which moves no bit of the fit.
    kinds = recorded_passes(monkeypatch)
    monkeypatch.setenv("EMKIT_NUM_THREADS", "2")
    x = blobs(n=70_000, d=2, k=5)
    # two starts: the best one's rows are labelled after the fit
    fit = KMeans(5, n_init=2, random_state=0, max_iter=12, tol=0.0).fit(x)
    assert kinds.count("pass") >= 2 * cpu_threads.TIMED_CALLS and "labels" in kinds
    monkeypatch.setenv("EMKIT_NUM_THREADS", "1")
    alone = KMeans(5, n_init=2, random_state=0, max_iter=12, tol=0.0).fit(x)
    np.testing.assert_array_equal(fit.cluster_centers_, alone.cluster_centers_)
    np.testing.assert_array_equal(fit.labels_, alone.labels_)
    assert fit.inertia_ == alone.inertia_


def test_the_threads_pull_parts_of_whole_groups(monkeypatch):
    # The pass's parts are whole groups that the threads, the calling one among them, take
    # as they come free (over_threads' part_rows): handed out by the pool, 4 per thread, the
    # caller slept on each part's result and woke to take the GIL from the kernel threads (a
    # pass of 1e6 x 10 rows, 10 centres: 13.2 ms on two threads against 12.2). The same sums
    # to the last bit on 1, 2 and 3 threads, and scikit-learn's labels and distances.
    x = blobs(n=90_000, d=3, k=4, seed=8)
    centres = x[:4]
    rows = shifted_rows(x, x.mean(axis=0))
    form = nearest_form(centres, rows.shift)
    group = cpu_threads.row_groups(len(x), nearest_pass.nearest_block_rows(3, 4, 4))
    cuts = []
    over_threads = nearest_pass.over_threads

    def recorded(*args, part_rows=None, **kwargs):
        cuts.append(part_rows)
        return over_threads(*args, part_rows=part_rows, **kwargs)

    monkeypatch.setattr(nearest_pass, "over_threads", recorded)
    monkeypatch.setattr(nearest_pass.NEAREST_THREADS, "run", lambda key, fn: fn())
    runs = []
    for threads in (1, 2, 3):
        with cpu_threads.kernel_threads(threads):
            runs.append(nearest_pass._nearest_pass(rows, None, [form], False, [True])[0])
        parts = -(-len(x) // cuts[-1])
        if threads == 1:
            assert parts == 1
        else:
            assert cuts[-1] % group == 0
            assert threads <= parts <= threads * nearest_pass.NEAREST_PULLED_PARTS
    for run in runs[1:]:
        for a, b in zip(run, runs[0], strict=True):
            np.testing.assert_array_equal(a, b)
    want_labels, want_nearest = pairwise_distances_argmin_min(x, centres)
    np.testing.assert_array_equal(runs[0][6], want_labels)
    np.testing.assert_allclose(runs[0][7], want_nearest**2, rtol=1e-10)
    assert runs[0][2] == pytest.approx(float((want_nearest**2).sum()), rel=1e-10)


@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_same_start_same_result_as_sklearn_lloyd(offset):
    """Far from the origin too: distances are taken from the data's mean, as scikit-learn
    centres the data."""
    x = blobs(n=4000, d=3, k=5, offset=offset, seed=2)
    start = x[[0, 1, 2, 3, 4]]
    ours = KMeans(5, init=start).fit(x)  # both with their default tol, 1e-4
    ref = SkKMeans(5, init=start, n_init=1, algorithm="lloyd").fit(x)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-12)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)
    assert ours.n_iter_ == ref.n_iter_


def test_duplicate_start_is_reseeded_on_the_farthest_row_as_sklearn():
    x = blobs(n=2000, d=2, k=3, seed=3)
    start = x[[0, 0, 1]]  # the second centre starts on the first: it gets no row
    ours = KMeans(3, init=start, tol=0.0).fit(x)
    ref = SkKMeans(3, init=start, n_init=1, tol=0.0, algorithm="lloyd").fit(x)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)


def test_canonical_order_is_lexicographic():
    rng = np.random.default_rng(4)
    for x in (
        rng.normal(size=(500, 3)),
        np.round(rng.normal(size=(500, 3))),  # many ties in the first column
        rng.integers(0, 2, size=(300, 2)).astype(float),  # many equal rows
    ):
        np.testing.assert_array_equal(canonical_order(x), np.lexsort(x.T[::-1]))


def reference_kmeans_plusplus(x, k, rng, w):
    """Greedy k-means++ written directly: sorted rows, distances by differences."""
    order = np.lexsort(x.T[::-1])
    xs, ws = x[order], w[order]
    trials = 2 + int(np.log(k))
    centres = [xs[draw_rows(ws, 1, rng)[0]]]
    d2 = ((xs - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        cand = draw_rows(ws * d2, trials, rng)
        cand_d2 = np.minimum(d2[:, None], ((xs[:, None] - xs[cand][None]) ** 2).sum(axis=2))
        best = int(np.argmin(ws @ cand_d2))
        centres.append(xs[cand[best]])
        d2 = cand_d2[:, best]
    return np.array(centres)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("many_rows", [False, True])
def test_kmeans_plusplus_is_the_greedy_algorithm(weighted, many_rows):
    """The seeds are the direct greedy algorithm's, whatever the rows' order; from MIN_BUCKETED
    rows the rows are sorted only within the buckets drawn from, which draws the same seeds as
    over all rows sorted (up to rounding of the masses' sums)."""
    n, d, k, seed = (70_000, 2, 4, 11) if many_rows else (2000, 3, 6, 5)
    x = blobs(n=n, d=d, k=k, seed=seed)
    if many_rows:
        x[:500, 0] = x[500:1000, 0]  # ties in the first column, sorted by the second
    w = np.random.default_rng(seed + 1).integers(0, 4 - many_rows, size=len(x)).astype(float)
    w = w if weighted else np.ones(len(x))
    got = kmeans_plusplus(x, k, np.random.RandomState(seed + 2), w if weighted else None)
    want = reference_kmeans_plusplus(x, k, np.random.RandomState(seed + 2), w)
    np.testing.assert_array_equal(got, want)
    perm = np.random.default_rng(seed + 3).permutation(len(x))
    again = kmeans_plusplus(
        x[perm], k, np.random.RandomState(seed + 2), w[perm] if weighted else None
    )
    np.testing.assert_array_equal(again, got)


@pytest.mark.parametrize("weighted", [False, True])
def test_batches_of_blocks_move_no_bit(monkeypatch, weighted):
    # The pass takes several blocks per NumPy call (so that two threads contend less for the
    # GIL); each block's products are the ones a block alone gives, so the batch size, and
    # batches that span groups, move no bit. Rows on a 0.1 grid: ties between centres.
    rng = np.random.default_rng(5)
    x = np.round(blobs(n=100_003, d=3, k=4, seed=5), 1)
    w = rng.integers(0, 3, size=len(x)).astype(float) if weighted else None
    rows = shifted_rows(x, np.round(x.mean(axis=0), 1))
    forms = [nearest_form(np.round(x[:4], 1), rows.shift), nearest_form(x[7:13], rows.shift)]
    block = nearest_pass.nearest_block_rows(3, 10, 6)
    group = cpu_threads.row_groups(len(x), block)
    per_block = 8 * (10 + 1) * block  # a block's distances and nearest distances
    assert group % block == 0 and group < len(x)
    # a batch one block longer than a group spans two groups (block and group sizes follow the
    # machine's caches and threads, so the batch is sized from them, not taken as the default)
    spanning = (group // block + 1) * per_block
    runs = []
    # one block a batch, two, one past a group, the default, all the rows
    sizes = (1, 2 * per_block, spanning, nearest_pass.NEAREST_BATCH_BYTES, 1 << 30)
    for size in sizes:
        monkeypatch.setattr(nearest_pass, "NEAREST_BATCH_BYTES", size)
        runs.append([nearest_pass._nearest_pass(rows, w, forms, far) for far in (False, True)])
    for run in runs[1:]:
        for got, want in zip(run, runs[0], strict=True):
            for got_form, want_form in zip(got, want, strict=True):
                for a, b in zip(got_form, want_form, strict=True):
                    np.testing.assert_array_equal(a, b)
    # against brute force, and scikit-learn's labels and inertia
    ww = np.ones(len(x)) if w is None else w
    x_cont = blobs(n=100_003, d=3, k=4, seed=6)
    rows_cont = shifted_rows(x_cont, x_cont.mean(axis=0))
    centres = x_cont[:4]
    got = nearest_pass._nearest_pass(rows_cont, w, [nearest_form(centres, rows_cont.shift)], True)
    labels, _, weight, sums = brute(x_cont, centres, ww)
    np.testing.assert_array_equal(got[0][0], weight)
    np.testing.assert_allclose(got[0][1] + weight[:, None] * rows_cont.shift, sums, rtol=1e-10)
    sk_labels, sk_dist = pairwise_distances_argmin_min(x_cont, centres)
    np.testing.assert_array_equal(sk_labels, labels)
    assert got[0][2] == pytest.approx(float(ww @ sk_dist**2), rel=1e-10)


def test_groups_cut_off_blocks_run_alone():
    # Groups that are not whole numbers of blocks: each group's blocks start at the group's
    # first row, as in a pass over that group alone.
    x = blobs(n=40_000, d=2, k=3, seed=7)
    rows = shifted_rows(x, x.mean(axis=0))
    forms = [nearest_form(x[:3], rows.shift)]
    block = nearest_pass.nearest_block_rows(2, 3, 3)
    group = 3 * block + 17
    got = nearest_pass._nearest_partial(rows, None, forms, 0, far=True, group=group)[0][0]
    assert len(got) == -(-len(x) // group)
    for i, (sums, inertia) in enumerate(got):
        alone = nearest_pass._nearest_partial(rows[i * group : (i + 1) * group], None, forms, 0)
        np.testing.assert_array_equal(sums, alone[0][0][0][0])
        assert inertia == alone[0][0][0][1]


@pytest.mark.parametrize("laid_out", [False, True])
def test_labelling_in_batches_of_blocks_moves_no_bit(monkeypatch, laid_out):
    # The final labelling takes a batch of blocks per NumPy call, as the pass does; the batch
    # size moves no bit of the labels or distances. Rows on a 0.1 grid and a repeated centre:
    # ties, which go to the first nearest centre as scikit-learn's argmin gives them.
    x = np.round(blobs(n=50_003, d=3, k=4, seed=8), 1)
    centres = np.round(x[[0, 1, 2, 0, 3]], 1)
    shift = np.round(x.mean(axis=0), 1)
    rows = shifted_rows(x, shift) if laid_out else x
    form = nearest_form(centres, shift)
    block = nearest_pass.nearest_block_rows(3, 5, 5)
    assert len(x) % block and len(x) > 4 * block  # a shorter last block; several batches
    runs = []
    for size in (1, 3 * 8 * (5 + 6) * block, nearest_pass.NEAREST_BATCH_BYTES, 1 << 30):
        monkeypatch.setattr(nearest_pass, "NEAREST_BATCH_BYTES", size)
        runs.append(nearest_pass._labels_partial(rows, form))
    for labels, dist in runs[1:]:
        np.testing.assert_array_equal(labels, runs[0][0])
        np.testing.assert_array_equal(dist, runs[0][1])
    sk_labels, sk_dist = pairwise_distances_argmin_min(x, centres)
    np.testing.assert_array_equal(runs[0][0], sk_labels)
    want = ((x - centres[sk_labels]) ** 2).sum(axis=1)
    np.testing.assert_allclose(runs[0][1], want, rtol=2.0**-40, atol=1e-12)
    np.testing.assert_allclose(np.sqrt(runs[0][1]), sk_dist, rtol=1e-10, atol=1e-7)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("max_iter", [4, 300])  # ends on max_iter; on scikit-learn's tol
def test_one_start_labels_its_rows_in_its_last_pass(monkeypatch, weighted, max_iter):
    # The driver evaluated the final centres (for history_ and the stopping rule), then the
    # labelling read every row again at the same centres: n_iter + 2 passes, as scikit-learn
    # takes n_iter + 1. The last evaluation now gives labels_ and inertia_, the same bits the
    # labelling gave.
    kinds = recorded_passes(monkeypatch)
    monkeypatch.setenv("EMKIT_NUM_THREADS", "2")
    x = blobs(n=70_000, d=3, k=5, offset=100.0, seed=11)
    w = np.random.default_rng(12).uniform(0.0, 2.0, size=len(x)) if weighted else None
    start = x[:5]
    ours = KMeans(5, init=start, max_iter=max_iter).fit(x, sample_weight=w)
    assert kinds == ["pass"] * (ours.n_iter_ + 1)
    assert ours.converged_ == (max_iter == 300)
    ref = SkKMeans(5, init=start, n_init=1, max_iter=max_iter, algorithm="lloyd")
    ref = ref.fit(x, sample_weight=w)
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)
    # the same bits as the labelling of the final centres on their own
    rows = fit_source(x, w)[0].rows  # x itself: x / scale's distances are exact multiples
    labels, nearest = nearest_labels(rows, nearest_form(ours.cluster_centers_, rows.shift))
    np.testing.assert_array_equal(ours.labels_, labels)
    assert ours.inertia_ == float((nearest if w is None else nearest * w).sum())


@pytest.mark.parametrize("laid_out", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_a_labelled_pass_gives_the_labellings_bits(monkeypatch, laid_out, weighted):
    # Rows on a 0.1 grid and a repeated centre: ties go to the first nearest centre, as
    # scikit-learn's argmin. Two forms in lockstep, one labelled: its labels and distances
    # are the labelling's to the last bit, its statistics the unlabelled pass's.
    monkeypatch.setenv("EMKIT_NUM_THREADS", "2")
    x = np.round(blobs(n=50_003, d=3, k=4, seed=8), 1)
    w = np.random.default_rng(13).integers(0, 3, size=len(x)).astype(float) if weighted else None
    shift = np.round(x.mean(axis=0), 1)
    rows = shifted_source(x, shift).rows if laid_out else x
    forms = [nearest_form(np.round(x[[0, 1, 2, 0, 3]], 1), shift), nearest_form(x[5:9], shift)]
    plain = nearest_e_step(rows, forms, w)
    got = nearest_e_step(rows, forms, w, [True, False])
    assert got[1].labels is None and got[1].nearest is None
    for a, b in zip(got, plain, strict=True):
        np.testing.assert_array_equal(a.weight, b.weight)
        np.testing.assert_array_equal(a.sums, b.sums)
        assert a.inertia == b.inertia
    labels, nearest = nearest_labels(rows, forms[0])
    np.testing.assert_array_equal(got[0].labels, labels)
    np.testing.assert_array_equal(got[0].nearest, nearest)
    sk_labels, sk_dist = pairwise_distances_argmin_min(x, forms[0].centres)
    np.testing.assert_array_equal(got[0].labels, sk_labels)
    np.testing.assert_allclose(np.sqrt(got[0].nearest), sk_dist, rtol=1e-10, atol=1e-7)


def test_labelled_statistics_add_up_in_row_order():
    from emkit.distributions.centroids import Centroids

    x = blobs(n=6000, d=2, k=3, seed=14)
    w = np.random.default_rng(15).uniform(0.5, 2.0, size=len(x))
    centroids = Centroids(x[:3], x.mean(axis=0))
    whole = Centroids.hard_e_step_many([centroids], x, w, [True])[0][0]
    a = Centroids.hard_e_step_many([centroids], x[:2500], w[:2500], [True])[0][0]
    b = Centroids.hard_e_step_many([centroids], x[2500:], w[2500:], [True])[0][0]
    added = a + b
    np.testing.assert_array_equal(added.labels, whole.labels)
    np.testing.assert_array_equal(added.nearest, whole.nearest)
    np.testing.assert_allclose(added.sums, whole.sums, rtol=1e-12)
    labels, nearest, weight, sums = brute(x, x[:3], w)
    np.testing.assert_array_equal(whole.labels, labels)
    np.testing.assert_allclose(whole.nearest, nearest, rtol=1e-12)
    unlabelled = Centroids.hard_e_step_many([centroids], x[:2500], w[:2500])[0][0]
    assert (unlabelled + b).labels is None


@pytest.mark.parametrize("lockstep", [True, False])
def test_the_driver_asks_for_the_last_pass_where_a_run_is_expected_to_end(monkeypatch, lockstep):
    from emkit.em import fit_starts
    from emkit.init import CentreShift, centroid_mixture
    from emkit.models.kmeans import CentroidMixture

    asked = []
    last_pass = CentroidMixture.last_pass
    monkeypatch.setattr(
        CentroidMixture, "last_pass", lambda self: asked.append(self) or last_pass(self)
    )
    x = blobs(n=3000, d=2, k=3, seed=16)
    data = shifted_source(x, x.mean(axis=0))
    starts = [centroid_mixture(x[i : i + 3], data.rows.shift) for i in (0, 10)]
    for max_iter, tol in ((3, 0.0), (300, 1e-4)):  # ends on max_iter; on the rule
        asked.clear()
        fit = fit_starts(
            starts,
            data,
            tol=0.0,
            max_iter=max_iter,
            convergence=CentreShift(tol),
            lockstep=lockstep,
            last_pass=True,
        )
        assert len(asked) == 2  # once per run, at its last model
        for run in fit.runs:
            assert run.converged == (max_iter == 300)
            final = run.model.components.means
            assert any(np.array_equal(final, a.components.means) for a in asked)
            labels, nearest = pairwise_distances_argmin_min(x, run.model.components.means)
            np.testing.assert_array_equal(run.stats.components.labels, labels)
            np.testing.assert_allclose(run.stats.components.nearest, nearest**2, rtol=1e-10)
    plain = fit_starts(starts, data, tol=0.0, max_iter=3, lockstep=lockstep)
    assert all(run.stats.components.labels is None for run in plain.runs)
    np.testing.assert_array_equal(
        plain.best.history,
        fit_starts(
            starts, data, tol=0.0, max_iter=3, lockstep=lockstep, last_pass=True
        ).best.history,
    )


def test_starts_in_lockstep_share_passes_in_groups_of_few_centres():
    # The pass's blocks shrink as the centres sharing it grow (their distances stay in
    # cache): 10 starts of 10 centres on 1e6 rows took 236 ms in one pass, 124 in pairs.
    groups = nearest_pass._lockstep_groups
    assert nearest_pass.LOCKSTEP_CENTRES == 24
    assert groups([10] * 5) == [(0, 2), (2, 4), (4, 5)]
    assert groups([3] * 10) == [(0, 8), (8, 10)]
    assert groups([30, 4, 40]) == [(0, 1), (1, 2), (2, 3)]  # a form of more alone
    assert groups([12, 12, 1]) == [(0, 2), (2, 3)]


@pytest.mark.parametrize("weighted", [False, True])
def test_many_starts_in_one_call_match_brute_force(weighted):
    x = blobs(n=20_000, d=4, k=6, offset=30.0)
    rng = np.random.default_rng(8)
    w = rng.uniform(0.5, 2.0, size=x.shape[0]) if weighted else np.ones(x.shape[0])
    source = shifted_source(x, x.mean(axis=0), w if weighted else None)
    starts = [x[rng.choice(x.shape[0], 10, replace=False)] for _ in range(7)]  # 70 centres
    starts[3][4] = starts[3][5]  # a duplicate centre: its cluster empties (the far pass)
    labelled = [j % 2 == 0 for j in range(7)]  # the groups split the labelled list too
    got = nearest_e_step(
        source.rows,
        [nearest_form(c, source.rows.shift) for c in starts],
        w if weighted else None,
        labelled,
    )
    for centres, sums, wanted in zip(starts, got, labelled, strict=True):
        labels, nearest, weight, want = brute(x, centres, w)
        assert (sums.labels is not None) == wanted
        if wanted:
            np.testing.assert_array_equal(sums.labels, labels)
        np.testing.assert_allclose(sums.weight, weight, rtol=1e-12)
        np.testing.assert_allclose(
            sums.sums + sums.weight[:, None] * source.rows.shift, want, rtol=1e-10, atol=1e-8
        )
        assert sums.inertia == pytest.approx(float(w @ nearest), rel=1e-10)


def test_random_starts_sort_the_rows_once(monkeypatch):
    # Each random start sorted the rows (draws that ignore the input order): 10 starts on 2e5
    # rows spent 0.14 s sorting. The fit sorts once; the draws are the same.
    from emkit.init import random_rows

    x = blobs(n=5000, d=3, k=4)
    order = canonical_order(x)
    for seed in range(3):
        plain = random_rows(x, 4, np.random.RandomState(seed))
        given = random_rows(x, 4, np.random.RandomState(seed), order=order)
        np.testing.assert_array_equal(plain, given)
    import emkit.estimators.kmeans as estimator

    sorts = []

    def counted(rows):
        sorts.append(rows.shape)
        return canonical_order(rows)

    monkeypatch.setattr(estimator, "canonical_order", counted)
    KMeans(4, init="random", n_init=5, random_state=0).fit(x)
    assert len(sorts) == 1


def test_a_threads_scratch_is_kept_between_passes_and_capped(monkeypatch):
    # The passes' buffers are kept per thread (fresh ones are faulted in anew each pass),
    # one per name, and no more bytes than SCRATCH_BYTES_MOST in all.
    monkeypatch.setattr(cpu_threads, "_LOCAL", cpu_threads.threading.local())
    a = cpu_threads.scratch("a", (3, 100))
    assert a.shape == (3, 100) and a.dtype == np.float64
    assert np.shares_memory(cpu_threads.scratch("a", (2, 50)), a)  # smaller: the same buffer
    b = cpu_threads.scratch("b", (3, 100))
    assert not np.shares_memory(a, b)
    bigger = cpu_threads.scratch("a", (4, 100))  # larger: a new buffer, kept in its place
    assert np.shares_memory(cpu_threads.scratch("a", (4, 100)), bigger)
    monkeypatch.setattr(cpu_threads, "SCRATCH_BYTES_MOST", 8 * 500)
    huge = cpu_threads.scratch("c", (1000,))
    assert not np.shares_memory(cpu_threads.scratch("c", (1000,)), huge)  # not kept
    seen = []
    thread = cpu_threads.threading.Thread(
        target=lambda: seen.append(cpu_threads.scratch("a", (3,)))
    )
    thread.start()
    thread.join()
    assert not np.shares_memory(seen[0], bigger)  # another thread's own


@pytest.mark.parametrize("laid_out", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_passes_read_nothing_left_in_their_scratch(monkeypatch, laid_out, weighted):
    # Whatever a thread's kept buffers hold (NaN here), a pass gives the same bits as with
    # fresh ones, and brute force's labels.
    x = blobs(n=20_011, d=3, k=4, seed=3)
    w = np.random.default_rng(2).uniform(0.5, 2.0, size=len(x)) if weighted else None
    shift = x.mean(axis=0)
    rows = shifted_source(x, shift).rows if laid_out else x
    forms = [nearest_form(x[[0, 1, 2, 3]], shift), nearest_form(x[5:8], shift)]
    monkeypatch.setattr(cpu_threads, "_LOCAL", cpu_threads.threading.local())
    fresh = nearest_e_step(rows, forms, w, [True, False])
    fresh_far = nearest_e_step(rows, [nearest_form(x[[0, 0, 1]], shift)], w)[0]
    for buffer in cpu_threads._LOCAL.scratch.values():
        buffer.fill(np.nan)
    again = nearest_e_step(rows, forms, w, [True, False])
    for a, b in zip(again, fresh, strict=True):
        np.testing.assert_array_equal(a.weight, b.weight)
        np.testing.assert_array_equal(a.sums, b.sums)
        assert a.inertia == b.inertia
    np.testing.assert_array_equal(again[0].labels, fresh[0].labels)
    np.testing.assert_array_equal(again[0].nearest, fresh[0].nearest)
    for buffer in cpu_threads._LOCAL.scratch.values():
        buffer.fill(np.nan)
    far = nearest_e_step(rows, [nearest_form(x[[0, 0, 1]], shift)], w)[0]  # a cluster empties
    np.testing.assert_array_equal(far.far_dist, fresh_far.far_dist)
    np.testing.assert_array_equal(far.far_rows, fresh_far.far_rows)
    labels = brute(x, x[[0, 1, 2, 3]], np.ones(len(x)) if w is None else w)[0]
    np.testing.assert_array_equal(again[0].labels, labels)
