"""The fast paths give the answers of the plain ones: fused kernels, SQUAREM, float32, threads,
batched restarts."""

from dataclasses import replace

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from emkit import GaussianMixture
from emkit.backend import gaussian_pass
from emkit.backend import threads as cpu_threads
from emkit.backend.sources import ArrayChunks
from emkit.distributions.gaussian import COVARIANCES
from emkit.em import em_iterations, run_batch, run_em
from emkit.models.mixture import Mixture

TYPES = list(COVARIANCES)


def blobs(n=3000, d=3, k=3, spread=2.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=spread, size=(k, d))
    scales = rng.uniform(0.5, 1.5, size=(k, d))
    labels = rng.integers(k, size=n)
    return centres[labels] + rng.normal(size=(n, d)) * scales[labels]


def fitted_mixture(x, name, k=3, seed=0):
    gm = GaussianMixture(k, covariance_type=name, random_state=seed, max_iter=3).fit(x)
    return gm._mixture()


def direct_e_step(model, x, w=None):
    """The unfused path: log_prob, then suff_stats."""
    log_resp, log_norm = model.log_resp(x)
    resp = np.exp(log_resp)
    if w is not None:
        resp *= w[:, None]
    loglik = float(log_norm.sum() if w is None else w @ log_norm)
    return model.components.suff_stats(x, resp), loglik


def scipy_loglik(model, x):
    covs = model.components.full_covariances()
    dens = np.column_stack(
        [
            np.log(model.weights[k])
            + stats.multivariate_normal(model.components.means[k], covs[k]).logpdf(x)
            for k in range(model.n_components)
        ]
    )
    return logsumexp(dens, axis=1).sum()


@pytest.mark.parametrize("name", TYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_fused_e_step_equals_direct_path_and_scipy(name, weighted):
    x = blobs()
    w = np.random.default_rng(1).uniform(0, 2, size=len(x)) if weighted else None
    model = fitted_mixture(x, name)
    fused = model.components.fused_e_step(x, np.log(model.weights), w)
    assert fused is not None
    fused_stats, fused_loglik = fused
    direct_stats, direct_loglik = direct_e_step(model, x, w)
    assert fused_loglik == pytest.approx(direct_loglik, rel=1e-12)
    if not weighted:
        assert fused_loglik == pytest.approx(scipy_loglik(model, x), rel=1e-12)
    np.testing.assert_allclose(fused_stats.weight, direct_stats.weight, rtol=1e-11)
    np.testing.assert_allclose(fused_stats.mean, direct_stats.mean, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(fused_stats.scatter, direct_stats.scatter, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("d", [1, 2, 5, 8, 15, 16, 17, 22])
def test_fused_e_step_equals_direct_path_in_any_dimension(d):
    # The quadratic features by cyclic offset for odd and even d (for even d, half of the
    # largest offset's products are scratch), and the pairs' order against the precisions.
    x = blobs(n=600, d=d, k=3, spread=3.0, seed=d)
    model = fitted_mixture(x, "full")
    fused = model.components.fused_e_step(x, np.log(model.weights))
    assert fused is not None
    fused_stats, fused_loglik = fused
    direct_stats, direct_loglik = direct_e_step(model, x)
    assert fused_loglik == pytest.approx(direct_loglik, rel=1e-12)
    assert fused_loglik == pytest.approx(scipy_loglik(model, x), rel=1e-12)
    np.testing.assert_allclose(fused_stats.weight, direct_stats.weight, rtol=1e-11)
    np.testing.assert_allclose(fused_stats.mean, direct_stats.mean, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(fused_stats.scatter, direct_stats.scatter, rtol=1e-10, atol=1e-9)


def assert_fused_pass_is_scipys(model, x):
    """The fused pass's log-likelihood is scipy's and the direct E-step's, its statistics the
    direct E-step's."""
    fused = model.components.fused_e_step(x, np.log(model.weights))
    assert fused is not None
    fused_stats, fused_loglik = fused
    direct_stats, direct_loglik = direct_e_step(model, x)
    assert fused_loglik == pytest.approx(scipy_loglik(model, x), rel=1e-12)
    assert fused_loglik == pytest.approx(direct_loglik, rel=1e-12)
    np.testing.assert_allclose(fused_stats.weight, direct_stats.weight, rtol=1e-11)
    np.testing.assert_allclose(fused_stats.scatter, direct_stats.scatter, rtol=1e-10, atol=1e-9)


def test_wide_rows_take_blocks_of_a_few_l2_caches_and_match_scipy(monkeypatch):
    # Rows too wide for L2 (d = 40: 861 features) went in blocks of 1152 rows (8 MB here):
    # (2e5, 50, 20) full ran 8-20% slower per pass than in blocks of 3 MiB of features. The
    # pass over many such blocks, the last one short, gives scipy's log-likelihood.
    monkeypatch.setattr(gaussian_pass, "l2_cache_bytes", lambda: 512 << 10)
    x = blobs(n=1000, d=40, k=4, spread=3.0, seed=4)
    model = fitted_mixture(x, "full", k=4)
    width = gaussian_pass.feature_width(40, False)
    block = gaussian_pass._gaussian_block(width, 4, len(x))
    assert block < len(x) and len(x) % block
    assert block * (width + 4) * 8 <= 4 * (512 << 10)
    assert_fused_pass_is_scipys(model, x)


def test_blocks_of_few_cheap_rows_hold_enough_products_and_match_scipy(monkeypatch):
    # (1e6, 10, 10) full went in blocks of 1149 rows (the L2's): each block's ~20 NumPy calls
    # then cost as much as a third of its work, and on two threads each call's hand-over of
    # the GIL more (0.22-0.26 s per iteration against 0.16 in blocks of 3456 rows). Blocks now
    # hold MIN_BLOCK_FLOPS of products, still in slices of at most PRODUCT_ROWS rows; float32
    # keeps one product per block.
    monkeypatch.setattr(gaussian_pass, "l2_cache_bytes", lambda: 1 << 20)
    monkeypatch.setattr(gaussian_pass, "l2_cache_sharers", lambda: 1)
    x = blobs(n=7000, d=10, k=10, spread=3.0, seed=5)
    model = fitted_mixture(x, "full", k=10)
    width = gaussian_pass.feature_width(10, False)
    block = gaussian_pass._gaussian_block(width, 10, len(x))
    assert block == gaussian_pass.MIN_BLOCK_FLOPS // (4 * width * 10) > gaussian_pass.PRODUCT_ROWS
    assert gaussian_pass._product_rows(width, block) <= gaussian_pass.PRODUCT_ROWS
    assert gaussian_pass._gaussian_block(width, 10, len(x), itemsize=4) <= 2 * 1152
    # never more than WIDE_BLOCK_L2 caches' worth of features (d = 30, k = 2: 2016 rows by
    # flops alone, 7.7 MB)
    wide = gaussian_pass.feature_width(30, False)
    most = gaussian_pass.WIDE_BLOCK_L2 * (1 << 20) // (8 * (wide + 2))
    assert gaussian_pass._gaussian_block(wide, 2, 10**6) == most
    assert len(x) % block  # a short last block too
    assert_fused_pass_is_scipys(model, x)


def test_quadratic_pairs_are_each_unordered_pair_once():
    for d in range(1, 12):
        rows, cols, doubled = gaussian_pass.quadratic_pairs(d)
        pairs = {(min(i, j), max(i, j)) for i, j in zip(rows.tolist(), cols.tolist(), strict=True)}
        assert len(rows) == len(pairs) == d * (d + 1) // 2
        np.testing.assert_array_equal(doubled, np.where(rows == cols, 1.0, 2.0))


@pytest.mark.parametrize("name", TYPES)
def test_fused_statistics_add_up_over_any_split(name):
    x = blobs(n=1000)
    model = fitted_mixture(x, name)
    whole, whole_ll = model.e_step(x)
    left, left_ll = model.e_step(x[:377])
    right, right_ll = model.e_step(x[377:])
    merged = left + right
    assert left_ll + right_ll == pytest.approx(whole_ll, rel=1e-13)
    np.testing.assert_allclose(merged.components.mean, whole.components.mean, rtol=1e-12)
    np.testing.assert_allclose(merged.components.scatter, whole.components.scatter, rtol=1e-10)


@pytest.mark.parametrize("name", TYPES)
def test_narrow_component_far_away_takes_the_exact_path(name):
    rng = np.random.default_rng(2)
    x = np.vstack([rng.normal(size=(500, 2)), 1e4 + 1e-2 * rng.normal(size=(500, 2))])
    model = fitted_mixture(x, name, k=2)
    if name != "tied":
        # The expansion would cancel: the kernel refuses and e_step takes the direct path.
        assert model.components.fused_e_step(x, np.log(model.weights)) is None
    got, got_ll = model.e_step(x)
    want, want_ll = direct_e_step(model, x)
    assert got_ll == pytest.approx(want_ll, rel=1e-12)
    np.testing.assert_allclose(got.components.scatter, want.scatter, rtol=1e-8)


@pytest.mark.parametrize("single", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_threads_give_the_same_statistics_to_the_last_bit(
    monkeypatch, all_threads, single, weighted
):
    # The pass adds fixed groups of rows in row order, whatever the parts the threads take
    # (it added one sum per thread's part, which moved the last bits between thread counts).
    x = blobs(n=40_000, d=4, k=5)
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=x.shape[0]) if weighted else None
    monkeypatch.setattr(cpu_threads, "MIN_ROWS_PER_THREAD", 1000)  # the CPU pass
    monkeypatch.setattr(gaussian_pass, "MIN_GAUSSIAN_VALUES_PER_THREAD", 1000)
    got = []
    for threads in (1, 2, 3):
        forms = [form_of(fitted_mixture(x, name, k=5)) for name in ("full", "diag")]
        with cpu_threads.kernel_threads(threads):
            if single:
                with gaussian_pass.single_precision():
                    got.append([gaussian_pass.quadratic_sums(x, w, [f]) for f in forms])
            else:
                got.append([gaussian_pass.quadratic_sums(x, w, [f]) for f in forms])
    for other in got[1:]:
        for (sums, loglik, top), (sums0, loglik0, top0) in zip(other, got[0], strict=True):
            np.testing.assert_array_equal(sums[0], sums0[0])
            assert loglik == loglik0 and (single or top == top0)


def test_the_gaussian_pass_takes_its_thread_count_from_timing(monkeypatch):
    # On a 2-vCPU VM two threads ran (1e6, 2, 5) full 1.8x slower than one: the pass's thread
    # count is now timed (TimedThreads), which moves no bit of the fit.
    counts = []

    class Recording(cpu_threads.TimedThreads):
        def run_split(self, key, fn, rows, unit, min_rows=1, probe_rows=0):
            counts.append(key)
            return super().run_split(key, fn, rows, unit, min_rows, probe_rows)

    monkeypatch.setattr(gaussian_pass, "GAUSSIAN_THREADS", Recording())
    monkeypatch.setattr(cpu_threads, "MIN_ROWS_PER_THREAD", 1000)
    monkeypatch.setattr(gaussian_pass, "MIN_GAUSSIAN_VALUES_PER_THREAD", 1000)
    x = blobs(n=40_000, d=2, k=5)
    options = dict(n_init=1, random_state=0, max_iter=10, tol=0.0)
    with cpu_threads.kernel_threads(2):
        timed = GaussianMixture(5, **options).fit(x)
    assert len(counts) >= 2 * cpu_threads.TIMED_CALLS
    with cpu_threads.kernel_threads(1):
        alone = GaussianMixture(5, **options).fit(x)
    np.testing.assert_array_equal(timed.means_, alone.means_)
    assert timed.lower_bound_ == alone.lower_bound_


class SplitClock:
    """Rows of a pass that take ``per_row[count]`` seconds each on ``count`` threads, on a
    clock of its own (emkit.backend.threads reads it); records each call's (rows, count)."""

    def __init__(self, monkeypatch, per_row: dict):
        import types

        self.now, self.calls, self.per_row = 0.0, [], per_row
        clock = types.SimpleNamespace(perf_counter=lambda: self.now)
        monkeypatch.setattr(cpu_threads, "time", clock)
        monkeypatch.setattr(cpu_threads, "num_threads", lambda: 2)

    def __call__(self, lo: int, hi: int) -> list:
        here = cpu_threads._threads_here.get()
        self.calls.append((lo, hi, here))
        self.now += self.per_row[here] * (hi - lo)
        return list(range(lo, hi))


@pytest.mark.parametrize("slow", [1, 2])
def test_thread_timing_probes_a_share_of_the_rows_not_whole_passes(monkeypatch, slow):
    # A 3-iteration fit at (2e5, 50, 20) full ran one of its four passes whole on the slower
    # count (0.94 s per iteration against 0.73 untimed). Now a timing call runs two slices of
    # an eighth of the rows (whole groups), one on each count, and the rest on the chosen one.
    fast = 3 - slow
    clock = SplitClock(monkeypatch, {slow: 2e-6, fast: 1e-6})
    chooser, rows, unit = cpu_threads.TimedThreads(), 64_000, 1000
    for _ in range(4):
        assert chooser.run_split("kind", clock, rows, unit, 1000) == list(range(rows))
    # First call: 8 groups on one thread, 8 on all, the rest on all (the default); decided
    # (2x), then the faster only, untimed.
    assert clock.calls[:3] == [(0, 8000, 1), (8000, 16000, 2), (16000, rows, 2)]
    assert clock.calls[3:] == [(0, rows, fast)] * 3
    slow_rows = sum(hi - lo for lo, hi, count in clock.calls if count == slow)
    assert slow_rows == (8000 if slow == 1 else rows - 8000)


def test_thread_timing_compares_slices_alike(monkeypatch):
    # A short slice costs more per row than a whole pass (its start-up): the head on one count
    # was compared with the rest on the other, and one thread looked 39% slower than itself.
    # Each count is now timed on a slice of the same size.
    import types

    now = [0.0]

    def clock(lo, hi):
        now[0] += 1e-3 + 1e-6 * (hi - lo)  # the same on either count: a fixed cost per call
        return list(range(lo, hi))

    monkeypatch.setattr(cpu_threads, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    monkeypatch.setattr(cpu_threads, "num_threads", lambda: 2)
    chooser = cpu_threads.TimedThreads()
    for _ in range(2 * cpu_threads.TIMED_CALLS):
        chooser.run_split("kind", clock, 64_000, 1000, 1000)
    times = chooser._seconds[("kind", 2)]
    assert list(times[1]) == list(times[2])  # equal work, equal times: no count favoured


def test_thread_timing_slices_hold_min_rows_per_thread(monkeypatch):
    # A slice under two threads' minimum rows ran on one thread while timed as two.
    clock = SplitClock(monkeypatch, {1: 1e-6, 2: 1e-6})
    chooser = cpu_threads.TimedThreads()
    chooser.run_split("kind", clock, 64_000, 1000, min_rows=10_000)
    assert clock.calls[:2] == [(0, 20_000, 1), (20_000, 40_000, 2)]
    clock.calls.clear()
    chooser.run_split("other", clock, 64_000, 1000, min_rows=20_000)  # 2 x 40 groups > 64
    assert [(lo, hi) for lo, hi, _ in clock.calls] == [(0, 64_000)]


def test_thread_timing_slices_hold_probe_rows_per_thread(monkeypatch):
    # Slices of 18180 rows per thread timed two threads at (1e6, 10, 10) full as often one at
    # a time (the GIL) as together, and the timing kept one thread: the Gaussian pass asks for
    # longer slices where its rows are cheap.
    clock = SplitClock(monkeypatch, {1: 1e-6, 2: 1e-6})
    chooser = cpu_threads.TimedThreads()
    chooser.run_split("kind", clock, 64_000, 1000, min_rows=1000, probe_rows=12_000)
    assert clock.calls[:2] == [(0, 24_000, 1), (24_000, 48_000, 2)]


def test_probe_rows_leave_room_for_two_slices(monkeypatch):
    # probe_rows beyond half the rows per thread made every timing call a whole call on each
    # count (and every revisit a whole pass on the slower one) at (262144, 5, 5).
    clock = SplitClock(monkeypatch, {1: 1e-6, 2: 1e-6})
    chooser = cpu_threads.TimedThreads()
    chooser.run_split("kind", clock, 64_000, 1000, min_rows=1000, probe_rows=100_000)
    assert [(lo, hi) for lo, hi, _ in clock.calls] == [(0, 32_000), (32_000, 64_000)]


def test_thread_timing_of_a_few_groups_takes_whole_calls(monkeypatch):
    # Too few groups to leave the chosen count its threads' share: whole calls alternate.
    clock = SplitClock(monkeypatch, {1: 1e-6, 2: 1.05e-6})
    chooser = cpu_threads.TimedThreads()
    for _ in range(2 * cpu_threads.TIMED_CALLS + 2):
        assert chooser.run_split("kind", clock, 1500, 1000, 1) == list(range(1500))
    counts = [count for lo, hi, count in clock.calls]
    assert all((lo, hi) == (0, 1500) for lo, hi, _ in clock.calls)
    timed = 2 * cpu_threads.TIMED_CALLS
    assert sorted(counts[:timed]) == [1] * (timed // 2) + [2] * (timed // 2)
    assert counts[timed:] == [1, 1]
    # then one thread but for the revisits of two, whole calls too
    revisit = cpu_threads.REVISIT_CALLS
    for _ in range(revisit):
        chooser.run_split("kind", clock, 1500, 1000, 1)
    counts = [count for lo, hi, count in clock.calls]
    assert [n + 1 for n, count in enumerate(counts) if count == 2][-1] == revisit
    assert counts.count(2) == timed // 2 + 1 and len(counts) == timed + 2 + revisit


def test_fits_timed_by_split_passes_equal_one_thread_and_scikit_learn(monkeypatch):
    # Timing calls cut a pass at a group boundary: no bit moves, and the fit is scikit-learn's
    # from the same start.
    monkeypatch.setattr(cpu_threads, "MIN_ROWS_PER_THREAD", 1000)
    monkeypatch.setattr(gaussian_pass, "MIN_GAUSSIAN_VALUES_PER_THREAD", 1000)
    monkeypatch.setattr(gaussian_pass, "GAUSSIAN_THREADS", cpu_threads.TimedThreads())
    x = blobs(n=40_000, d=3, k=4, spread=1.5, seed=2)
    start = GaussianMixture(4, random_state=0, max_iter=0).fit(x)
    init = dict(
        weights_init=start.weights_,
        means_init=start.means_,
        precisions_init=np.linalg.inv(start.covariances_),
    )
    options = dict(max_iter=20, tol=0.0, reg_covar=0.0, **init)
    with cpu_threads.kernel_threads(2):
        split = GaussianMixture(4, accelerate=None, **options).fit(x)
    with cpu_threads.kernel_threads(1):
        alone = GaussianMixture(4, accelerate=None, **options).fit(x)
    np.testing.assert_array_equal(split.history_, alone.history_)
    np.testing.assert_array_equal(split.covariances_, alone.covariances_)
    theirs = SklearnGaussianMixture(4, **options).fit(x)
    np.testing.assert_allclose(split.lower_bounds_[:-1], theirs.lower_bounds_[1:], rtol=1e-11)
    np.testing.assert_allclose(split.means_, theirs.means_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(split.covariances_, theirs.covariances_, rtol=1e-9, atol=1e-12)


def form_of(mixture):
    return mixture.components.quadratic_form(np.log(mixture.weights))


@pytest.mark.parametrize("name", ["full", "diag"])
@pytest.mark.parametrize("n", [999, 1000, 2001])
def test_passes_under_and_over_one_thread_match_scipy(monkeypatch, all_threads, name, n):
    # Fewer rows than a thread's least take the pass without the thread machinery (a
    # selection grid on small data); at and above it, run_split and over_threads. Both give
    # each form's sums in coef's order ([quadratic, linear, 1]) and scipy's log-likelihood.
    monkeypatch.setattr(cpu_threads, "MIN_ROWS_PER_THREAD", 1000)
    monkeypatch.setattr(gaussian_pass, "MIN_GAUSSIAN_VALUES_PER_THREAD", 1000)
    x = blobs(n=n, d=3, k=3)
    model = fitted_mixture(x, name)
    sums, loglik, _ = gaussian_pass.quadratic_sums(x, None, [form_of(model)])
    assert loglik[0] == pytest.approx(scipy_loglik(model, x), rel=1e-12)
    covs = model.components.full_covariances()
    dens = np.column_stack(
        [
            np.log(model.weights[k])
            + stats.multivariate_normal(model.components.means[k], covs[k]).logpdf(x)
            for k in range(model.n_components)
        ]
    )
    resp = np.exp(dens - logsumexp(dens, axis=1, keepdims=True))
    np.testing.assert_allclose(sums[0][:, -1], resp.sum(axis=0), rtol=1e-12)
    shift = form_of(model).shift
    q = sums[0].shape[1] - 3 - 1
    np.testing.assert_allclose(sums[0][:, q : q + 3], resp.T @ (x - shift), rtol=1e-9)


@pytest.mark.parametrize(("d", "k"), [(3, 4), (10, 6)])  # (10, 6): blocks of MIN_BLOCK_FLOPS
def test_gaussian_fits_are_the_same_to_the_last_bit_on_any_number_of_threads(monkeypatch, d, k):
    x = blobs(n=40_000, d=d, k=k)
    monkeypatch.setattr(cpu_threads, "MIN_ROWS_PER_THREAD", 1000)
    monkeypatch.setattr(gaussian_pass, "MIN_GAUSSIAN_VALUES_PER_THREAD", 1000)
    monkeypatch.setattr(gaussian_pass, "l2_cache_bytes", lambda: 1 << 20)
    width = gaussian_pass.feature_width(d, False)
    if width >= gaussian_pass.PRODUCT_MIN_WIDTH:  # several products per block
        assert gaussian_pass._gaussian_block(width, k, len(x)) > gaussian_pass.PRODUCT_ROWS
    fits = []
    for threads in (1, 2, 3):
        with cpu_threads.kernel_threads(threads):
            fits.append(GaussianMixture(k, random_state=0, max_iter=20, tol=0).fit(x))
    for other in fits[1:]:
        np.testing.assert_array_equal(other.history_, fits[0].history_)
        np.testing.assert_array_equal(other.means_, fits[0].means_)
        np.testing.assert_array_equal(other.covariances_, fits[0].covariances_)


def test_statistics_do_not_depend_on_the_block_size(monkeypatch):
    x = blobs(n=5000, d=4, k=5)
    model = fitted_mixture(x, "full", k=5)
    whole, whole_ll = model.e_step(x)
    monkeypatch.setattr(gaussian_pass, "MIN_GAUSSIAN_ROWS", 97)
    monkeypatch.setattr(gaussian_pass, "MAX_GAUSSIAN_ROWS", 97)
    assert gaussian_pass.gaussian_block_rows(30) == 97
    blocked, blocked_ll = model.e_step(x)
    assert blocked_ll == pytest.approx(whole_ll, rel=1e-13)
    np.testing.assert_allclose(blocked.components.mean, whole.components.mean, rtol=1e-12)
    np.testing.assert_allclose(blocked.components.scatter, whole.components.scatter, rtol=1e-11)


@pytest.mark.parametrize("weighted", [False, True])
def test_subnormal_responsibilities_leave_the_statistics_unchanged(weighted):
    # Centres 38 standard deviations apart: many rows have log responsibilities between -745
    # and -708 for the other component (subnormal numbers, which the kernel sets to 0).
    rng = np.random.default_rng(5)
    x = np.vstack([rng.normal(size=(2000, 2)), [38.0, 0.0] + rng.normal(size=(2000, 2))])
    w = rng.uniform(0.5, 2.0, size=len(x)) if weighted else None
    model = fitted_mixture(x, "full", k=2)
    log_resp, _ = model.log_resp(x)
    assert np.sum((log_resp > -745) & (log_resp < -708)) > 100
    fused, fused_ll = model.components.fused_e_step(x, np.log(model.weights), w)
    direct, direct_ll = direct_e_step(model, x, w)
    assert fused_ll == pytest.approx(direct_ll, rel=1e-12)
    np.testing.assert_allclose(fused.weight, direct.weight, rtol=1e-12)
    np.testing.assert_allclose(fused.mean, direct.mean, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(fused.scatter, direct.scatter, rtol=1e-10, atol=1e-10)


def test_l2_cache_size_is_read_or_defaulted():
    size = cpu_threads.l2_cache_bytes()
    assert 1 << 16 <= size <= 1 << 30
    rows = gaussian_pass.gaussian_block_rows(1326)  # d = 50, k = 20
    assert gaussian_pass.MIN_GAUSSIAN_ROWS <= rows <= gaussian_pass.MAX_GAUSSIAN_ROWS


def test_kernel_threads_hold_for_the_calling_thread_only(monkeypatch):
    # A Dask task asks for one kernel thread; other threads keep the process's setting.
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("EMKIT_NUM_THREADS", "3")
    with cpu_threads.kernel_threads(1):
        assert cpu_threads.num_threads() == 1
        with ThreadPoolExecutor(1) as pool:
            assert pool.submit(cpu_threads.num_threads).result() == 3
    assert cpu_threads.num_threads() == 3


@pytest.mark.parametrize("name", TYPES)
def test_vector_round_trip(name):
    model = fitted_mixture(blobs(), name)
    back = model.from_vector(model.to_vector())
    np.testing.assert_allclose(back.weights, model.weights, rtol=1e-12)
    np.testing.assert_allclose(back.components.means, model.components.means)
    np.testing.assert_allclose(
        back.components.covariances, model.components.covariances, rtol=1e-12
    )


def test_mixture_vector_is_kept_read_only_and_equals_a_fresh_one():
    """SQUAREM reads the vector of a cycle's start, often the end of the cycle before: the
    mixture keeps it (read-only, so that no caller changes what the next one reads), and it
    is the vector an equal mixture computes afresh."""
    model = fitted_mixture(blobs(), "VVE")
    vector = model.to_vector()
    assert model.to_vector() is vector
    assert not vector.flags.writeable
    fresh = replace(model)  # a new instance: nothing kept
    np.testing.assert_array_equal(fresh.to_vector(), vector)
    with pytest.raises(ValueError, match="read-only"):
        vector[0] = 0.0


def test_estimator_parameters_are_read_from_the_signature_once(monkeypatch):
    """clone, set_params and the parameter check read the constructor's parameters (five
    times per fit of a select_mixture grid): the signature is read once per class, and
    get_params still gives scikit-learn's answer."""
    import inspect

    from sklearn.base import BaseEstimator, clone

    GaussianMixture._get_param_names()  # read once, before counting
    reads = []
    signature = inspect.signature
    monkeypatch.setattr(inspect, "signature", lambda *a, **k: reads.append(1) or signature(*a, **k))
    template = GaussianMixture(3, covariance_type="EVE", tol=1e-4)
    for _ in range(10):
        clone(template).set_params(n_components=2).get_params()
    assert reads == []
    monkeypatch.undo()
    expected = BaseEstimator._get_param_names.__func__(GaussianMixture)
    assert GaussianMixture._get_param_names() == expected
    assert clone(template).get_params() == template.get_params()


def test_select_mixture_limits_blas_threads_once_per_grid(monkeypatch):
    """Every pass over the rows runs BLAS on one thread (threadpoolctl); the lockstep grid
    sets the limit once for the screening's rounds and once for the refinement's, not once
    per pass (a thousand on iris). The starts of each number of components set their own."""
    from emkit import select_mixture

    applied = []
    apply = cpu_threads._ONE_BLAS_THREAD._apply
    monkeypatch.setattr(
        cpu_threads._ONE_BLAS_THREAD, "_apply", lambda: applied.append(1) or apply()
    )
    ks = [1, 2, 3]
    select_mixture(blobs(n=300, d=2, k=2), ks, covariance_types=["EVE", "VVE", "VVV"])
    assert len(applied) <= 2 + len(ks)


@pytest.mark.parametrize("name", TYPES)
def test_squarem_reaches_plain_em_optimum_in_fewer_steps(name):
    # Overlapping components: plain EM crawls, SQUAREM should not.
    x = blobs(n=4000, d=2, k=3, spread=1.0, seed=3)
    start = fitted_mixture(x, name)
    data = ArrayChunks(x)
    plain = run_em(start, data, tol=1e-12, max_iter=20_000, total_weight=len(x))
    fast = run_em(
        start, data, tol=1e-12, max_iter=20_000, total_weight=len(x), accelerate="squarem"
    )
    assert plain.converged and fast.converged
    assert fast.log_likelihood == pytest.approx(plain.log_likelihood, rel=1e-8)
    assert fast.log_likelihood >= plain.log_likelihood - 1e-8 * abs(plain.log_likelihood)
    # non-decreasing to the objective's last digit (the stop reads gains down to rounding)
    assert np.all(np.diff(fast.history) >= -4 * np.spacing(abs(plain.log_likelihood)))
    assert fast.n_iter < plain.n_iter


def test_squarem_agrees_with_scikit_learn_from_the_same_start():
    x = blobs(n=2000, d=2, k=3, spread=1.5, seed=4)
    start = GaussianMixture(3, random_state=0, max_iter=0).fit(x)
    theirs = SklearnGaussianMixture(
        3,
        tol=1e-12,
        max_iter=50_000,
        weights_init=start.weights_,
        means_init=start.means_,
        precisions_init=np.linalg.inv(start.covariances_),
    ).fit(x)
    ours = GaussianMixture(
        3,
        tol=1e-12,
        max_iter=50_000,
        weights_init=start.weights_,
        means_init=start.means_,
        precisions_init=np.linalg.inv(start.covariances_),
    ).fit(x)
    # Same ridge (reg_covar 1e-6), same optimum.
    assert ours.score(x) == pytest.approx(theirs.score(x), rel=1e-6)
    assert ours.score(x) >= theirs.score(x) - 1e-9


def test_squarem_respects_max_iter_and_records_accepted_steps():
    x = blobs(n=2000, d=2, k=3, spread=1.0, seed=5)
    start = fitted_mixture(x, "full")
    seen = []
    result = run_em(
        start,
        ArrayChunks(x),
        tol=0.0,
        max_iter=7,
        total_weight=len(x),
        accelerate="squarem",
        callback=seen.append,
    )
    assert len(result.history) == result.n_iter + 1 <= 8
    assert [p.iteration for p in seen] == list(range(1, result.n_iter + 1))
    assert not result.converged


def test_hard_assignment_runs_plain_em():
    x = blobs(n=500)
    soft = fitted_mixture(x, "spherical")
    hard = Mixture(soft.weights, soft.components, soft.reg_covar, assignment="hard")
    assert hard.to_vector() is None
    a = run_em(hard, ArrayChunks(x), tol=1e-10, max_iter=100, total_weight=500)
    b = run_em(
        hard, ArrayChunks(x), tol=1e-10, max_iter=100, total_weight=500, accelerate="squarem"
    )
    np.testing.assert_array_equal(a.history, b.history)


@pytest.mark.parametrize("name", TYPES)
def test_float32_data_give_float64_answers(name):
    x = blobs(n=5000, d=3, k=3, seed=6)
    wide = GaussianMixture(3, covariance_type=name, random_state=0).fit(x)
    narrow = GaussianMixture(3, covariance_type=name, random_state=0, dtype=np.float32).fit(x)
    assert narrow.log_likelihood_ == pytest.approx(wide.log_likelihood_, rel=1e-4)
    np.testing.assert_allclose(narrow.means_, wide.means_, rtol=1e-3, atol=1e-3)


def test_bad_dtype_is_rejected():
    with pytest.raises(ValueError, match="dtype"):
        GaussianMixture(2, dtype=np.int64).fit(blobs(n=100))


@pytest.mark.parametrize("name", ["full", "diag"])
def test_batched_restarts_equal_sequential_runs(name):
    x = blobs(n=3000, d=3, k=4, spread=1.5, seed=7)
    starts = [fitted_mixture(x, name, k=4, seed=s) for s in range(3)]
    data = ArrayChunks(x)
    options = dict(tol=1e-10, max_iter=2000, total_weight=len(x), accelerate="squarem")
    together = run_batch([em_iterations(s, **options) for s in starts], data)
    for start, batched in zip(starts, together, strict=True):
        alone = run_em(start, data, **options)
        assert batched.log_likelihood == pytest.approx(alone.log_likelihood, rel=1e-9)
        # The maximum is flat along some directions: the two runs add their products in
        # another order (OpenBLAS's kernels pick the order by the matrices' shapes) and stop
        # within tol of it up to 4e-5 apart in the means (Haswell kernels), on clusters of
        # spread 1.5.
        np.testing.assert_allclose(
            batched.model.components.means, alone.model.components.means, rtol=0, atol=1e-4
        )


def test_n_init_keeps_the_best_start():
    x = blobs(n=2000, d=2, k=4, spread=1.5, seed=8)
    many = GaussianMixture(4, n_init=4, random_state=0).fit(x)
    singles = []
    rng = np.random.RandomState(0)
    for _ in range(4):
        seed = rng.randint(2**31)
        singles.append(GaussianMixture(4, random_state=seed).fit(x).log_likelihood_)
    # The batch keeps the best of its own starts; no single start is far better.
    assert many.log_likelihood_ >= max(singles) - 1e-3 * abs(max(singles))


@pytest.mark.parametrize("order", ["C", "F"])
def test_one_pass_value_check_agrees_with_the_exact_checks(order):
    from emkit.estimators._validation import MAX_MAGNITUDE, check_magnitude, finite_and_moderate

    rng = np.random.default_rng(3)
    x = np.asarray(rng.normal(size=(300, 4)) * 1e3, order=order)
    assert finite_and_moderate(x) and finite_and_moderate(x.astype(np.float32))
    for bad in (np.nan, np.inf, -np.inf, 1.01 * MAX_MAGNITUDE, -1.01 * MAX_MAGNITUDE):
        y = x.copy(order=order)
        y[17, 2] = bad
        assert not finite_and_moderate(y)
    big = x.copy(order=order)
    big[5, 1] = 0.99 * MAX_MAGNITUDE  # allowed; the sum of squares is too large to show it
    assert not finite_and_moderate(big)
    check_magnitude(big)
    assert not finite_and_moderate(x[:, ::2])  # neither C nor F contiguous: checked one by one
    # values all below MIN_MAGNITUDE (squares that underflow) are refused; zeros are not
    assert not finite_and_moderate(x * 1e-160) and not finite_and_moderate(0 * x)
    check_magnitude(0 * x)
    assert finite_and_moderate(x * 1e-140)
    with pytest.raises(ValueError, match="no larger than"):
        check_magnitude(x * 1e-160)
    # rows only asked about (predict, score) have no variances to lose: they pass
    assert finite_and_moderate(x * 1e-160, fitting=False)
    check_magnitude(x * 1e-160, fitting=False)
    from emkit import GaussianMixture

    fit = GaussianMixture(2, random_state=0).fit(x)
    tiny = x[:3] * 1e-160
    np.testing.assert_array_equal(fit.predict(tiny), fit.predict(np.zeros_like(tiny)))
    with pytest.raises(ValueError, match="as large as"):
        from emkit import GaussianMixture

        y = x.copy(order=order)
        y[3, 3] = 1.01 * MAX_MAGNITUDE
        GaussianMixture(2).fit(y)
    with pytest.raises(ValueError, match="NaN"):
        y = x.copy(order=order)
        y[3, 0] = np.nan
        GaussianMixture(2).fit(y)
    with pytest.raises(ValueError, match="infinity"):
        y = x.copy(order=order)
        y[3, 0] = np.inf
        GaussianMixture(2).fit(y)


def test_the_one_pass_value_check_runs_blas_on_one_thread(monkeypatch):
    # A two-thread dot product of all the rows waits for a core other processes hold, and
    # OpenBLAS's threads then spin on it through the passes that follow: the check holds BLAS
    # to one thread, and gives back the count it found.
    from threadpoolctl import threadpool_info

    from emkit.backend import threads
    from emkit.estimators import _validation

    def blas_threads() -> set:
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    before = blas_threads()
    with threads.one_blas_thread():
        assert blas_threads() == {1}
    assert blas_threads() == before
    seen = []
    original = _validation.one_blas_thread

    def recording():
        seen.append(True)
        return original()

    monkeypatch.setattr(_validation, "one_blas_thread", recording)
    x = np.random.default_rng(0).normal(size=(1000, 3))
    assert _validation.finite_and_moderate(x)
    assert not seen  # a few rows: the limit would cost more than the product
    x = np.random.default_rng(0).normal(size=(_validation.ONE_BLAS_THREAD_VALUES, 2))
    assert _validation.finite_and_moderate(x)
    assert seen


def _blas_threads() -> set:
    from threadpoolctl import threadpool_info

    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


class _MatmulWatch(np.ndarray):
    """Rows that record the BLAS thread counts in force at each product they enter."""

    seen: list = []

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if ufunc is np.matmul:
            _MatmulWatch.seen.append(_blas_threads())
        plain = [np.asarray(a) if isinstance(a, _MatmulWatch) else a for a in inputs]
        return getattr(ufunc, method)(*plain, **kwargs)


def test_kmeans_plusplus_takes_the_rows_mean_on_one_blas_thread():
    # The product of all the rows outside the kernel threads left OpenBLAS's threads spinning
    # through the seeding's passes (20-30 ms of CPU per 1e6-row seeding): on one BLAS thread,
    # with the seeds of a fit where BLAS has one thread throughout.
    from threadpoolctl import threadpool_limits

    from emkit.init import kmeans_plusplus

    x = blobs(n=4000, d=3, k=4)
    with threadpool_limits(1, user_api="blas"):
        reference = kmeans_plusplus(x, 4, np.random.RandomState(0))
    _MatmulWatch.seen = []
    with threadpool_limits(2, user_api="blas"):
        got = kmeans_plusplus(x.view(_MatmulWatch), 4, np.random.RandomState(0))
    assert _MatmulWatch.seen and all(seen == {1} for seen in _MatmulWatch.seen)
    np.testing.assert_allclose(np.asarray(got), reference, rtol=0, atol=0)


def test_gaussian_starts_take_their_moments_on_one_blas_thread(monkeypatch):
    # The initial components' products of all the rows ran on OpenBLAS's threads, which then
    # spun through the first E-steps (60-100 ms of CPU per fit of 1e6 x 10 rows) while the
    # thread counts of the Gaussian pass were being timed: one BLAS thread, and scikit-learn's
    # start from the same responsibilities.
    from threadpoolctl import threadpool_limits

    from emkit import init

    seen = []
    original = init.GaussianStats.from_data

    def watched(x, resp, diagonal):
        seen.append(_blas_threads())
        return original(x, resp, diagonal)

    monkeypatch.setattr(init.GaussianStats, "from_data", staticmethod(watched))
    x = blobs(n=2000, d=3, k=3)
    resp = np.zeros((x.shape[0], 3))
    resp[np.arange(x.shape[0]), np.arange(x.shape[0]) % 3] = 1.0
    with threadpool_limits(2, user_api="blas"):
        weights, components = init.components_from_responsibilities(
            COVARIANCES["full"], x, resp, 0.0
        )
    assert seen and all(counts == {1} for counts in seen)
    reference = SklearnGaussianMixture(3, reg_covar=0.0)
    reference._initialize(x, resp)
    np.testing.assert_allclose(weights, reference.weights_, rtol=1e-12)
    np.testing.assert_allclose(components.means, reference.means_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(components.covariances, reference.covariances_, rtol=1e-10)


def test_overlapping_one_blas_thread_contexts_restore_the_count_found():
    # Two contexts overlapping, not nested (A in, B in, A out, B out, as two threads' fits
    # do): each restoring what it found on entry left BLAS on one thread for good (B found
    # 1); the shared limit restores the count found before both.
    from threadpoolctl import threadpool_info, threadpool_limits

    from emkit.backend import threads

    def blas_threads() -> set:
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        first, second = threads.one_blas_thread(), threads.one_blas_thread()
        first.__enter__()
        second.__enter__()
        first.__exit__(None, None, None)
        assert blas_threads() == {1}  # the second still holds the limit
        second.__exit__(None, None, None)
        assert blas_threads() == before == {2}


@pytest.mark.parametrize(("listed", "size"), [("0", 1), ("0-1", 2), ("0,2\n", 2), ("0-3,8-11", 8)])
def test_cpu_lists_are_counted(listed, size):
    assert cpu_threads.cpu_list_size(listed) == size


def test_a_shared_l2_gives_each_cpu_its_share(monkeypatch):
    # Blocks fill GAUSSIAN_CACHE_SHARE of the L2 a CPU has: half where two CPUs share it.
    monkeypatch.setattr(cpu_threads, "l2_cache_bytes", lambda: 1 << 20)
    monkeypatch.setattr(gaussian_pass, "l2_cache_bytes", lambda: 1 << 20)
    width, k = gaussian_pass.feature_width(6, False), 5
    monkeypatch.setattr(gaussian_pass, "l2_cache_sharers", lambda: 1)
    alone = gaussian_pass._gaussian_block(width, k, 10**6)
    monkeypatch.setattr(gaussian_pass, "l2_cache_sharers", lambda: 2)
    shared = gaussian_pass._gaussian_block(width, k, 10**6)
    rows = int(gaussian_pass.GAUSSIAN_CACHE_SHARE * (1 << 20)) // (8 * (width + k))
    assert alone == rows and shared == int(gaussian_pass.GAUSSIAN_CACHE_SHARE / 2 * (1 << 20)) // (
        8 * (width + k)
    )


def test_thread_timing_slices_are_whole_and_alternate_at_revisits(monkeypatch):
    # A partial last unit made the second slice short (timed per row as a whole one, and run
    # on one thread while recorded as two) and left a rest running backwards; at revisits
    # (calls 16, 32, ...) the chosen count always ran first.
    clock = SplitClock(monkeypatch, {1: 1e-6, 2: 1.1e-6})  # one thread faster, not decisive
    chooser = cpu_threads.TimedThreads()
    chooser.run_split("short", clock, 1101, 300, 1)  # 4 units, the last partial
    assert [(lo, hi) for lo, hi, _ in clock.calls] == [(0, 1101)]
    clock.calls.clear()
    firsts = []
    for _ in range(3 * cpu_threads.REVISIT_CALLS):
        before = len(clock.calls)
        chooser.run_split("kind", clock, 64_000, 1000, 1000)
        made = clock.calls[before:]
        assert all(lo <= hi for lo, hi, _ in made)
        if len(made) == 3:  # a probe: two slices of 8000 rows, then the rest
            assert [(lo, hi) for lo, hi, _ in made] == [(0, 8000), (8000, 16000), (16000, 64000)]
            firsts.append(made[0][2])
    assert len(set(firsts[-2:])) == 2  # the last two probes' first slices on different counts


@pytest.mark.parametrize("name", ["full", "tied", "diag", "spherical", "VEV", "EVE"])
def test_m_step_solves_the_covariances_once_and_equals_the_closed_form(monkeypatch, name):
    # The ridge's scale (for a rise on a singular covariance) is found only where a rise
    # happens: a regular M-step solves its covariances once, not twice.
    x = blobs(600, d=3)
    model = fitted_mixture(x, name)
    resp = np.exp(model.log_resp(x)[0])
    structure = type(model.components)
    calls = []
    solve = structure._covariances_from_stats.__func__

    def counted(cls, s, reg):
        calls.append(reg)
        return solve(cls, s, reg)

    monkeypatch.setattr(structure, "_covariances_from_stats", classmethod(counted))
    new = model.m_step(model.e_step(x)[0])
    assert len(calls) == 1
    if name == "full":  # scikit-learn's M-step, a closed form (the ridge, 1e-6 at most, aside)
        from sklearn.mixture._gaussian_mixture import _estimate_gaussian_parameters

        nk, means, covariances = _estimate_gaussian_parameters(x, resp, 0.0, "full")
        np.testing.assert_allclose(new.weights, nk / len(x), rtol=1e-12)
        np.testing.assert_allclose(new.components.means, means, rtol=1e-12)
        np.testing.assert_allclose(new.components.covariances, covariances, rtol=0, atol=2e-6)


def test_protocol_checks_found_once_per_class_agree_with_isinstance():
    # offers answers isinstance once per class (it inspects every member of a
    # runtime-checkable protocol on each call, on every E-step and SQUAREM step).
    from emkit import em
    from emkit.accel import VectorForm
    from emkit.distributions.family import FusedComponents, VectorComponents, offers

    x = blobs(300, d=2)
    mixtures = [fitted_mixture(x, name) for name in ["full", "spherical", "VEV", "EVE"]]
    objects = [*mixtures, *(m.components for m in mixtures), object(), x]
    protocols = [em.LastPass, em.BatchedEStep, VectorForm, FusedComponents, VectorComponents]
    for obj in objects:
        for protocol in protocols:
            assert offers(type(obj), protocol) == isinstance(obj, protocol), (obj, protocol)


def test_kernel_threads_ask_for_the_gil_within_the_kernel_switch_interval(monkeypatch):
    # Threads waiting for the GIL only at Python's 5 ms ran two kernel threads one at a time.
    # While parts run on several threads the interval is at most KERNEL_SWITCH_INTERVAL, and
    # the process's own is back after, also where two passes overlap from two threads.
    import sys
    import threading

    monkeypatch.setenv("EMKIT_NUM_THREADS", "2")
    seen = []
    inside, release = threading.Event(), threading.Event()

    def part(rows, weights, start):
        seen.append(sys.getswitchinterval())
        if start == 0:
            inside.set()
            release.wait(5)
        return rows.shape[0]

    found = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.004)
        release.set()  # the first passes run straight through
        x = np.zeros((4 * cpu_threads.MIN_ROWS_PER_THREAD, 1))
        assert cpu_threads.over_threads(x, None, part) == [x.shape[0] // 2] * 2
        assert seen == [cpu_threads.KERNEL_SWITCH_INTERVAL] * 2
        assert sys.getswitchinterval() == 0.004
        with cpu_threads.kernel_threads(1):  # one thread: nothing to hand over
            cpu_threads.over_threads(x, None, part)
        assert seen[2:] == [0.004]
        # overlapping: the first pass still runs while a second one ends
        seen.clear()
        inside.clear()
        release.clear()
        first = threading.Thread(target=cpu_threads.over_threads, args=(x, None, part))
        first.start()
        assert inside.wait(5)
        second = cpu_threads.over_threads(x[: x.shape[0] // 2], None, lambda r, w, s: s)
        assert sys.getswitchinterval() == cpu_threads.KERNEL_SWITCH_INTERVAL
        release.set()
        first.join(5)
        assert second == [0, x.shape[0] // 4]
        assert sys.getswitchinterval() == 0.004
        # an interval set by someone else while a pass runs is left as set
        seen.clear()
        inside.clear()
        release.clear()
        first = threading.Thread(target=cpu_threads.over_threads, args=(x, None, part))
        first.start()
        assert inside.wait(5)
        sys.setswitchinterval(0.02)
        release.set()
        first.join(5)
        assert sys.getswitchinterval() == 0.02
    finally:
        release.set()
        sys.setswitchinterval(found)


def test_a_shared_setting_whose_undo_raises_can_be_held_again():
    applied = []

    def apply():
        applied.append(True)

        def undo():
            raise RuntimeError("undo failed")

        return undo

    setting = cpu_threads.SharedSetting(apply)
    with pytest.raises(RuntimeError, match="undo failed"):
        with setting.held():
            pass
    with pytest.raises(RuntimeError):
        with setting.held():
            pass
    assert len(applied) == 2  # applied afresh: no holder and no undo left behind


@pytest.mark.parametrize("fast", [1, 2])
def test_a_rare_pass_runs_untimed_on_the_count_its_kind_favours(monkeypatch, fast):
    # A pass that records the k-means rows (a few a fit) ran as its own timed kind, so that
    # one in two of them ran on the slower count; run_as takes the count the plain pass's
    # timings favour and adds no timing of its own.
    import types

    now = [0.0]
    monkeypatch.setattr(cpu_threads, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    monkeypatch.setattr(cpu_threads, "num_threads", lambda: 2)

    def work():
        count = cpu_threads._threads_here.get() or 2  # the count kernel_threads set
        now[0] += 1.0 if count == fast else 2.0
        return count

    chooser = cpu_threads.TimedThreads()
    assert chooser.run_as("kind", work) == 2  # nothing timed yet: all the threads
    for _ in range(2 * cpu_threads.TIMED_CALLS):
        chooser.run("kind", work)
    before = {count: list(times) for count, times in chooser._seconds[("kind", 2)].items()}
    assert chooser.run_as("kind", work) == fast
    assert {c: list(t) for c, t in chooser._seconds[("kind", 2)].items()} == before


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_predictions_over_many_rows_run_blas_on_one_thread(monkeypatch, covariance_type):
    # Their tall, skinny products ran on OpenBLAS's threads, which waited for a core another
    # process held (a full predict of 1e5 x 10 rows: 0.153 s against 0.067 on one thread):
    # one BLAS thread from ONE_BLAS_THREAD_VALUES values, none below (the limit would cost
    # more than a few rows' products); the same labels and probabilities either way.
    from threadpoolctl import threadpool_limits

    from emkit import GaussianMixture, GenerativeClassifier
    from emkit.backend.threads import ONE_BLAS_THREAD_VALUES
    from emkit.distributions.gaussian import base

    seen = []
    original = base.GaussianComponents.log_prob

    def watched(self, x):
        seen.append(_blas_threads())
        return original(self, x)

    monkeypatch.setattr(base.GaussianComponents, "log_prob", watched)
    x = blobs(n=ONE_BLAS_THREAD_VALUES // 2, d=2, k=3)
    labels = np.arange(x.shape[0]) % 3
    mixture = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(x[:3000])
    classifier = GenerativeClassifier(covariance_type=covariance_type).fit(x[:3000], labels[:3000])
    with threadpool_limits(2, user_api="blas"):
        seen.clear()
        proba = mixture.predict_proba(x)
        assert seen and all(counts == {1} for counts in seen)
        seen.clear()
        mixture.predict(x[:100])  # a few rows: no limit
        assert seen and all(counts == {2} for counts in seen)
        got = classifier.predict_proba(x)
    with threadpool_limits(1, user_api="blas"):
        np.testing.assert_allclose(mixture.predict_proba(x), proba, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(classifier.predict_proba(x), got, rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(mixture.predict(x), proba.argmax(axis=1))
