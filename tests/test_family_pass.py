"""The family pass over rows kept for a fit (their statistics computed once) gives the answers
of the block-by-block pass and of scipy: whole arrays, views of their rows, sample weights,
threads, short blocks, rows outside a support, and whole MixtureModel fits."""

import contextlib
import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.special import gammaln, logsumexp

import emkit
from emkit.backend import family_pass
from emkit.backend import threads as cpu_threads
from emkit.backend.sources import ArrayChunks
from emkit.distributions.bernoulli import Bernoulli
from emkit.distributions.exponential import Exponential
from emkit.distributions.gamma import Gamma
from emkit.distributions.normal import Normal
from emkit.distributions.point_mass import PointMass
from emkit.distributions.poisson import Poisson
from emkit.estimators import mixture_model
from emkit.models.component_list import ComponentList

RNG = np.random.default_rng(11)
N = 3001  # not a multiple of any block or of the logarithm's groups

# Three components of each family, rows drawn near them, and each component's scipy log density.
CASES = {
    "poisson": (
        [Poisson([1.0, 4.0]), Poisson([6.0, 0.5]), Poisson([2.0, 2.0])],
        RNG.poisson(3.0, size=(N, 2)).astype(float),
        lambda f, x: stats.poisson.logpmf(x, f.rate).sum(axis=1),
    ),
    "bernoulli": (
        [Bernoulli([0.2, 0.9]), Bernoulli([0.5, 0.5]), Bernoulli([0.7, 0.1])],
        (RNG.random((N, 2)) < 0.4).astype(float),
        lambda f, x: stats.bernoulli.logpmf(x, f.probs).sum(axis=1),
    ),
    "exponential": (
        [Exponential([0.5]), Exponential([3.0]), Exponential([1.0])],
        RNG.exponential(1.5, size=(N, 1)),
        lambda f, x: stats.expon.logpdf(x, scale=1.0 / f.rate).sum(axis=1),
    ),
    "gamma": (
        [Gamma([2.0, 0.7], [1.5, 0.5]), Gamma([9.0, 3.0], [1.0, 2.0])],
        RNG.gamma(3.0, 1.0, size=(N, 2)),
        lambda f, x: stats.gamma.logpdf(x, f.shape, scale=1.0 / f.rate).sum(axis=1),
    ),
    "normal": (
        [Normal([0.0], [1.0]), Normal([3.0], [0.5])],
        RNG.normal(1.0, 2.0, size=(N, 1)),
        lambda f, x: stats.norm.logpdf(x, f.mean, np.sqrt(f.variance)).sum(axis=1),
    ),
}


def scipy_e_step(families, logpdf, weights, x, w):
    """Responsibility totals, weighted sums of x and the log-likelihood, from scipy."""
    joint = np.column_stack(
        [np.log(p) + logpdf(f, x) for p, f in zip(weights, families, strict=True)]
    )
    log_norm = logsumexp(joint, axis=1)
    resp = np.exp(joint - log_norm[:, None]) * w[:, None]
    return resp.sum(axis=0), resp.T @ x, float(w @ log_norm)


def e_step(components, log_weights, x, w):
    stats_, loglik = components.fused_e_step(x, log_weights, w)
    return stats_, loglik


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("weighted", [False, True])
def test_kept_rows_give_the_block_by_block_pass_and_scipy(name, weighted, monkeypatch):
    families, x, logpdf = CASES[name]
    w = RNG.uniform(0.0, 2.0, size=N) if weighted else None
    weights = np.linspace(1.0, 2.0, len(families))
    weights /= weights.sum()
    components = ComponentList(tuple(families))
    plain, plain_ll = e_step(components, np.log(weights), x, w)
    # Short blocks and three threads: tails, several blocks per part, parts added in order.
    monkeypatch.setattr(family_pass, "MAX_BLOCK_ROWS", 256)
    monkeypatch.setattr(family_pass, "LINEAR_MAX_ROWS", 256)
    monkeypatch.setattr(family_pass, "MIN_BLOCK_ROWS", 256)
    monkeypatch.setattr(cpu_threads, "MIN_ROWS_PER_THREAD", 500)
    monkeypatch.setenv("EMKIT_NUM_THREADS", "3")
    with family_pass.rows_kept(x):
        kept, kept_ll = e_step(components, np.log(weights), x, w)
    ones = np.ones(N) if w is None else w
    resp_sum, sum_x, loglik = scipy_e_step(families, logpdf, weights, x, ones)
    assert kept_ll == pytest.approx(plain_ll, rel=1e-13)
    assert kept_ll == pytest.approx(loglik, rel=1e-12)
    np.testing.assert_allclose(kept.weight, plain.weight, rtol=1e-12)
    np.testing.assert_allclose(kept.weight, resp_sum, rtol=1e-10)
    for k, (a, b) in enumerate(zip(kept.parts, plain.parts, strict=True)):
        mine = a.sum_x if name != "normal" else a.mean * a.weight
        np.testing.assert_allclose(mine, sum_x[k], rtol=1e-10)
        for field in vars(b):
            np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-11, atol=1e-12)


def test_views_of_kept_rows_use_their_own_rows():
    families, x, _ = CASES["poisson"]
    components = ComponentList(tuple(families))
    log_weights = np.log(np.full(3, 1 / 3))
    whole, whole_ll = components.fused_e_step(x, log_weights)
    with family_pass.rows_kept(x):
        chunks = list(ArrayChunks(x, chunk_rows=700))
        assert family_pass._kept_rows(chunks[2][0])[1] == 1400
        assert family_pass._kept_rows(x[5:9, :1]) is None  # other columns: not the rows
        assert family_pass._kept_rows(x.copy()) is None
        parts = [components.fused_e_step(c, log_weights) for c, _ in chunks]
    total = parts[0][0]
    for p, _ in parts[1:]:
        total = total + p
    assert sum(ll for _, ll in parts) == pytest.approx(whole_ll, rel=1e-13)
    np.testing.assert_allclose(total.weight, whole.weight, rtol=1e-12)
    assert not family_pass._KEPT  # dropped when the block ends


def test_rows_outside_a_support_and_mixed_kinds_keep_their_answers():
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.poisson(4.0, 500), np.zeros(200), [-1.0, 2.5]])[:, None]
    mixed = ComponentList((Poisson([4.0]), PointMass(0.0), Normal([0.0], [4.0])))
    alone = ComponentList((Poisson([4.0]), Poisson([1.0])))
    log_weights = np.log([0.5, 0.3, 0.2])
    for components, lw in [(mixed, log_weights), (alone, np.log([0.5, 0.5]))]:
        plain, plain_ll = components.fused_e_step(x, lw)
        with family_pass.rows_kept(x):
            kept, kept_ll = components.fused_e_step(x, lw)
        assert kept_ll == pytest.approx(plain_ll, rel=1e-13) or kept_ll == plain_ll == -np.inf
        np.testing.assert_allclose(kept.weight, plain.weight, rtol=1e-12)


# (Mixtures of Bernoulli rows over two binary features are not identified: rounding moves a
# fit along a ridge of optima, so only their E-step is compared above.)
@pytest.mark.parametrize("name", ["poisson", "exponential", "gamma"])
def test_a_fit_on_kept_rows_is_the_fit_block_by_block(name, monkeypatch):
    families, x, _ = CASES[name]
    w = np.random.default_rng(4).uniform(0.5, 1.5, size=N)
    model = emkit.MixtureModel(families[:2], max_iter=20, tol=0.0, accelerate="squarem")
    fast = model.fit(x, sample_weight=w)
    monkeypatch.setattr(mixture_model, "rows_kept", lambda x: contextlib.nullcontext())
    slow = emkit.MixtureModel(families[:2], max_iter=20, tol=0.0, accelerate="squarem").fit(
        x, sample_weight=w
    )
    # With tol = 0 a fit stops where a step gains exactly nothing: rounding decides when.
    assert abs(fast.n_iter_ - slow.n_iter_) <= 1
    common = min(len(fast.history_), len(slow.history_))
    np.testing.assert_allclose(fast.history_[:common], slow.history_[:common], rtol=1e-12)
    np.testing.assert_allclose(fast.weights_, slow.weights_, rtol=1e-9)
    for a, b in zip(fast.component_params_, slow.component_params_, strict=True):
        for key in a:
            if key != "family":
                np.testing.assert_allclose(a[key], b[key], rtol=1e-9)


@pytest.mark.parametrize("weighted", [False, True])
def test_far_components_set_subnormal_responsibilities_to_zero_on_kept_rows(weighted):
    # Rates 1 and 1000: for x near 1 the second component's log responsibility lies between
    # -745 and -708 (subnormal), which the pass sets to 0, as the block-by-block pass does.
    rng = np.random.default_rng(8)
    x = np.concatenate([rng.uniform(0.7, 0.76, 2000), rng.exponential(0.001, 500)])[:, None]
    w = rng.uniform(0.5, 1.5, size=len(x)) if weighted else None
    far = ComponentList((Exponential([1.0]), Exponential([1000.0])))
    near = ComponentList((Exponential([1.0]), Exponential([2.0])))
    size = np.array([x.max(), 1.0])
    lw = np.log([0.5, 0.5])
    assert not family_pass._normal_exp(np.column_stack([[-1.0, -1000.0], [0.0, 6.9]]), size)
    assert family_pass._normal_exp(np.column_stack([[-1.0, -2.0], [0.0, 0.7]]), size)
    for components in (far, near):
        plain, plain_ll = components.fused_e_step(x, lw, w)
        with family_pass.rows_kept(x):
            kept, kept_ll = components.fused_e_step(x, lw, w)
        assert kept_ll == pytest.approx(plain_ll, rel=1e-13)
        np.testing.assert_allclose(kept.weight, plain.weight, rtol=1e-12)
        for a, b in zip(kept.parts, plain.parts, strict=True):
            np.testing.assert_allclose(a.sum_x, b.sum_x, rtol=1e-12)


def test_distinct_rows_are_numpy_unique_with_counts_and_weight_totals():
    rng = np.random.default_rng(5)
    n = family_pass.DISTINCT_MIN_ROWS + 7
    x = np.column_stack([rng.poisson(3.0, n), rng.integers(-2, 2, n)]).astype(float)
    w = rng.uniform(0.0, 2.0, n)
    reference, inverse, counts = np.unique(x, axis=0, return_inverse=True, return_counts=True)
    rows, totals = family_pass.distinct_rows(x, None)
    np.testing.assert_array_equal(rows, reference)
    np.testing.assert_array_equal(totals, counts)
    rows, totals = family_pass.distinct_rows(x, w)
    np.testing.assert_array_equal(rows, reference)
    np.testing.assert_allclose(totals, np.bincount(inverse.ravel(), weights=w), rtol=1e-13)
    # Not integer, too few rows, too many distinct rows, too wide a grid: left as they are.
    assert family_pass.distinct_rows(x + 0.5, None) is None
    assert family_pass.distinct_rows(x[: n // 2], None) is None
    assert family_pass.distinct_rows(np.arange(n, dtype=float)[:, None], None) is None
    wide = x.copy()
    wide[0, 0] = 2.0**40
    assert family_pass.distinct_rows(wide, None) is None


@pytest.mark.parametrize("weighted", [False, True])
def test_a_fit_on_distinct_rows_is_the_fit_on_all_rows(weighted, monkeypatch):
    rng = np.random.default_rng(6)
    n = family_pass.DISTINCT_MIN_ROWS + 3
    first = rng.uniform(size=n) < 0.4
    x = np.where(first, rng.poisson(1.0, n), rng.poisson(7.0, n)).astype(float)[:, None]
    w = rng.uniform(0.5, 1.5, n) if weighted else None
    seen = []
    distinct = mixture_model.distinct_rows
    monkeypatch.setattr(
        mixture_model, "distinct_rows", lambda x, w: seen.append(distinct(x, w)) or seen[-1]
    )

    def fit():
        # Plain EM, stopped before it settles: the iterates themselves are compared.
        model = emkit.MixtureModel(
            [Poisson(), Poisson()], max_iter=15, tol=0.0, random_state=0, accelerate=None
        )
        return model.fit(x, sample_weight=w)

    fast = fit()
    assert seen[0] is not None and seen[0][0].shape[0] < 30  # the fit ran on distinct rows
    monkeypatch.setattr(mixture_model, "distinct_rows", lambda x, w: None)
    slow = fit()
    assert fast.n_iter_ == slow.n_iter_ == 15
    np.testing.assert_allclose(fast.history_, slow.history_, rtol=1e-13)
    np.testing.assert_allclose(fast.weights_, slow.weights_, rtol=1e-12)
    for a, b in zip(fast.component_params_, slow.component_params_, strict=True):
        np.testing.assert_allclose(a["rate"], b["rate"], rtol=1e-12)
    # Per-row answers stay per row, and agree with scipy's densities at the fitted values.
    rates = [c.rate[0] for c in fast.components_]
    density = sum(
        p * stats.poisson.pmf(x[:, 0], r) for p, r in zip(fast.weights_, rates, strict=True)
    )
    np.testing.assert_allclose(fast.score_samples(x), np.log(density), rtol=1e-12)
    assert fast.predict(x).shape == (n,)
    loglik = np.log(density).sum() if w is None else w @ np.log(density)
    assert fast.log_likelihood_ == pytest.approx(loglik, rel=1e-12)


@pytest.mark.parametrize(
    "rates, log_product, group", [([30.0, 0.5], 700.0, 2), ([30.0, 0.5, 3.0], 250.0, 1)]
)
@pytest.mark.parametrize("weighted", [False, True])
def test_log_joints_relative_to_the_first_component_give_scipy(
    rates, log_product, group, weighted, monkeypatch
):
    # Log joints up to ~300 above the first component's: the pass takes them relative to it
    # (no maximum per row); some products of 32 totals overflow, and those groups alone are
    # taken again as products of two totals, or of one (a lower bound on the products); the
    # answers are scipy's.
    monkeypatch.setattr(family_pass, "LOG_PRODUCT", log_product)
    groups = []
    sum_log_safe = family_pass._sum_log_safe
    monkeypatch.setattr(
        family_pass,
        "_sum_log_safe",
        lambda t, safe: groups.append((safe, t.shape)) or sum_log_safe(t, safe),
    )
    rng = np.random.default_rng(9)
    x = rng.exponential(1.0, size=(N, 1))
    x[0] = 10.0
    w = rng.uniform(0.0, 2.0, size=N) if weighted else np.ones(N)
    families = [Exponential([r]) for r in rates]
    weights = np.linspace(1.0, 2.0, len(rates))
    weights /= weights.sum()
    components = ComponentList(tuple(families))
    kernel = components.groups[0][1]
    coef = np.column_stack([kernel.coef, kernel.const + np.log(weights)])
    reference = family_pass._reference(coef, np.array([x.max(), 1.0]))[0]
    assert reference is not None
    assert family_pass._reference(coef, np.array([x.max(), 1.0]))[1] == group
    with family_pass.rows_kept(x):
        kept, kept_ll = components.fused_e_step(x, np.log(weights), w if weighted else None)
        # The exponentials are taken in base 2: the exponents are the log joints' times log2 e.
        (one,) = family_pass._chunk_features(x, [(np.log(weights), components.groups)])[1]
        if len(rates) > 2:
            np.testing.assert_allclose(one.reference, reference * np.log2(np.e), rtol=1e-15)
    if weighted:
        assert groups == []
    else:  # the overflowing groups of 32 totals only, each taken again
        assert len(groups) == 1
        ((safe, (size, overflowing)),) = groups
        assert (safe, size) == (group, family_pass.LOG_GROUP)
        assert 0 < overflowing < N // family_pass.LOG_GROUP
    logpdf = CASES["exponential"][2]
    resp_sum, sums, loglik = scipy_e_step(families, logpdf, weights, x, w)
    assert kept_ll == pytest.approx(loglik, rel=1e-13)
    np.testing.assert_allclose(kept.weight, resp_sum, rtol=1e-12)
    for part, s in zip(kept.parts, sums, strict=True):
        np.testing.assert_allclose(part.sum_x, s, rtol=1e-12)


@pytest.mark.parametrize("name", ["exponential", "gamma"])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_two_components_relative_to_either_one_give_scipy(name, swap, weighted, monkeypatch):
    # Two components: the log joints are taken relative to the one with the larger constant
    # (the pivot), either one as the order of the components says; the answers are scipy's.
    # Chunks of 1000 rows: the whole rows' statistics in one go where they are the rows.
    monkeypatch.setattr(family_pass, "FEATURE_ROWS", 1000)
    pivots = []
    pair = family_pass._pair
    monkeypatch.setattr(
        family_pass, "_pair", lambda c, s: (lambda r: pivots.append(r[1]) or r)(pair(c, s))
    )
    families, x, logpdf = CASES[name]
    families = families[:2][::-1] if swap else families[:2]
    w = RNG.uniform(0.0, 2.0, size=N) if weighted else np.ones(N)
    weights = np.array([0.3, 0.7])
    components = ComponentList(tuple(families))
    with family_pass.rows_kept(x):
        kept, kept_ll = components.fused_e_step(x, np.log(weights), w if weighted else None)
        found = family_pass._KEPT[id(x)]
        key = components.groups[0][1].key
        # Exponential statistics are the rows: kept as a view of them. Relative to the pivot
        # no pass reads a row of ones, so none is written; Gamma's statistics are computed
        # with room for one below, which a pass that reads it fills (no copy).
        values = found.features[key].values
        assert np.may_share_memory(values, x) == (name == "exponential")
        assert key not in found.augmented
        if name == "gamma":
            assert np.shares_memory(values, found.room[key])
            augmented = found.augmented_of(key)
            assert np.shares_memory(values, augmented)
            np.testing.assert_array_equal(augmented[-1], 1.0)
            np.testing.assert_array_equal(augmented[:-1], values)
    kernel = components.groups[0][1]
    constants = kernel.const + np.log(weights)
    assert pivots == [int(constants[1] > constants[0])]
    resp_sum, sum_x, loglik = scipy_e_step(families, logpdf, weights, x, w)
    assert kept_ll == pytest.approx(loglik, rel=1e-12)
    np.testing.assert_allclose(kept.weight, resp_sum, rtol=1e-12)
    for part, s in zip(kept.parts, sum_x, strict=True):
        np.testing.assert_allclose(part.sum_x, s, rtol=1e-12)
    if name == "gamma":
        log_x = np.log(x)
        joint = np.column_stack(
            [np.log(p) + logpdf(f, x) for p, f in zip(weights, families, strict=True)]
        )
        resp = np.exp(joint - logsumexp(joint, axis=1, keepdims=True)) * w[:, None]
        for part, r in zip(kept.parts, resp.T, strict=True):
            np.testing.assert_allclose(part.sum_log_x, r @ log_x, rtol=1e-12)


def test_rows_outside_the_support_in_a_later_chunk_are_marked(monkeypatch):
    # Gamma statistics written chunk by chunk into the kept array: a chunk with a zero (out of
    # a Gamma's support; a point mass at 0 takes it) falls back to the marked statistics.
    monkeypatch.setattr(family_pass, "FEATURE_ROWS", 1000)
    rng = np.random.default_rng(12)
    x = rng.gamma(2.0, 1.0, size=(N, 1))
    x[[1500, 2999]] = 0.0
    components = ComponentList((Gamma([2.0], [1.0]), Gamma([5.0], [2.0]), PointMass(0.0)))
    lw = np.log([0.5, 0.4, 0.1])
    plain, plain_ll = components.fused_e_step(x, lw)
    with family_pass.rows_kept(x):
        kept, kept_ll = components.fused_e_step(x, lw)
        f = family_pass._KEPT[id(x)].features[components.groups[0][1].key]
        np.testing.assert_array_equal(f.inside, x[:, 0] > 0)
        np.testing.assert_array_equal(
            f.values[:, f.inside], np.vstack([np.log(x.T), x.T])[:, f.inside]
        )
    assert kept_ll == pytest.approx(plain_ll, rel=1e-13)
    np.testing.assert_allclose(kept.weight, plain.weight, rtol=1e-12)
    assert kept.weight[2] == pytest.approx(2.0)
    for a, b in zip(kept.parts[:2], plain.parts[:2], strict=True):
        np.testing.assert_allclose(a.sum_x, b.sum_x, rtol=1e-12)
        np.testing.assert_allclose(a.sum_log_x, b.sum_log_x, rtol=1e-12)


@pytest.mark.parametrize("name", ["exponential", "gamma", "poisson"])
def test_a_fit_is_the_same_to_the_last_bit_on_any_number_of_threads(name, monkeypatch, all_threads):
    # The pass adds parts of PART_ROWS rows in order, whatever the thread count (it was one
    # part per thread): the thread count can then be chosen by timing without moving a bit.
    monkeypatch.setattr(family_pass, "PART_ROWS", 5000, raising=False)  # the last shorter
    components, x, _ = CASES[name]
    x = np.tile(x, (17, 1))  # rows for three threads (MIN_ROWS_PER_THREAD each)
    fits = []
    for threads in (1, 2, 3):
        with cpu_threads.kernel_threads(threads):
            model = emkit.MixtureModel(components[:2], max_iter=8, tol=0.0).fit(x)
        fits.append(model)
    for other in fits[1:]:
        assert other.log_likelihood_ == fits[0].log_likelihood_
        np.testing.assert_array_equal(other.history_, fits[0].history_)
        np.testing.assert_array_equal(other.weights_, fits[0].weights_)


def test_parts_of_fixed_rows_run_on_the_caller_too_and_stop_after_an_error():
    # Parts of fixed rows (the family pass) were one pool task each: the caller slept on each
    # part's result and took the GIL from the kernel threads 16 times a pass. Now the caller
    # and threads - 1 pool threads take the next part as they come free.
    import threading

    x = np.arange(140.0)[:, None]  # 20 parts of 7 rows
    ran: list[tuple[int, int]] = []
    both = threading.Barrier(2, timeout=30)  # the first two parts wait for each other

    def part_sum(rows, w, start):
        ran.append((threading.get_ident(), start))
        if start < 14:
            both.wait()
        return float(rows.sum())

    with cpu_threads.kernel_threads(2):
        sums = cpu_threads.over_threads(x, None, part_sum, min_rows_per_thread=1, part_rows=7)
    assert sums == [float(x[i : i + 7].sum()) for i in range(0, 140, 7)]
    assert sorted(start for _, start in ran) == list(range(0, 140, 7))
    assert threading.get_ident() in {ident for ident, _ in ran}

    # Every part raises: each thread starts one, then no other part starts (all 20 ran).
    started: list[int] = []

    def fails(rows, w, start):
        started.append(start)
        raise ValueError(f"part at {start}")

    with cpu_threads.kernel_threads(2), pytest.raises(ValueError, match="part at"):
        cpu_threads.over_threads(x, None, fails, min_rows_per_thread=1, part_rows=7)
    assert 1 <= len(started) <= 2


class _RecordedProducts:
    """numpy, with the operand shapes of every np.matmul call recorded, and the np.dot calls
    counted (family_pass reads np.matmul and np.dot at call time)."""

    def __init__(self):
        self.shapes: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        self.dots = 0

    def matmul(self, a, b, *args, **kwargs):
        self.shapes.append((np.shape(a), np.shape(b)))
        return np.matmul(a, b, *args, **kwargs)

    def dot(self, a, b, *args, **kwargs):
        self.dots += 1
        return np.dot(a, b, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.mark.parametrize("name", ["exponential", "gamma"])
def test_the_linear_pass_on_threads_takes_no_long_product_that_keeps_the_gil(
    name, monkeypatch, all_threads
):
    # np.matmul keeps the GIL for a product whose output is small (the statistics, (k, q)),
    # however long its rows (numpy issue 11821): 26 us of every block of 65,536 rows on the
    # 2-vCPU VM, in which the other kernel thread waited. On threads the pass takes those
    # products with np.dot (the same BLAS call, the GIL released), to the last bit the same.
    monkeypatch.setattr(family_pass, "PART_ROWS", 2048)
    families, x, logpdf = CASES[name]
    families = families[:2]
    x = np.tile(x, (11, 1))  # 33,011 rows: 17 units, the last shorter
    components = ComponentList(families)
    log_weights = np.log([0.3, 0.7])
    recorded = _RecordedProducts()
    out = {}
    for threads in (1, 2):
        with family_pass.rows_kept(x), cpu_threads.kernel_threads(threads):
            if threads == 2:
                monkeypatch.setattr(family_pass, "np", recorded)
            out[threads] = components.fused_e_step(x, log_weights)
            monkeypatch.setattr(family_pass, "np", np)
    long_and_small = [
        (a, b) for a, b in recorded.shapes if a[-1] >= 500 and np.prod(a[:-1] + b[1:]) < 500
    ]
    assert recorded.dots >= 17 and not long_and_small  # a product per block
    (one, ll_one), (two, ll_two) = out[1], out[2]
    assert ll_two == ll_one
    np.testing.assert_array_equal(two.weight, one.weight)
    for a, b in zip(two.parts, one.parts, strict=True):
        np.testing.assert_array_equal(a.sum_x, b.sum_x)
    resp_sum, sum_x, expected = scipy_e_step(
        families, logpdf, np.exp(log_weights), x, np.ones(len(x))
    )
    assert ll_two == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(two.weight, resp_sum, rtol=1e-11)
    np.testing.assert_allclose([p.sum_x for p in two.parts], sum_x, rtol=1e-11)


class StandIn:
    """A pass that takes ``slow`` seconds on the thread count ``slow_count`` and ``fast``
    seconds on the other, on a clock of its own (emkit.backend.threads reads it): no timing of the
    machine's, which a loaded CI runner stretches, enters the test."""

    def __init__(self, monkeypatch, slow_count: int, slow: float = 0.02, fast: float = 0.001):
        import types

        self.now, self.counts = 0.0, []
        self.slow_count, self.slow, self.fast = slow_count, slow, fast
        clock = types.SimpleNamespace(perf_counter=lambda: self.now)
        monkeypatch.setattr(cpu_threads, "time", clock)
        monkeypatch.setattr(cpu_threads, "num_threads", lambda: 2)

    def __call__(self) -> None:
        here = cpu_threads._threads_here.get()  # what kernel_threads set for this call
        self.counts.append(here)
        self.now += self.slow if here == self.slow_count else self.fast


def test_timed_threads_keep_the_faster_count(monkeypatch):
    # Close timings: TIMED_CALLS calls on each count, then the faster.
    timed = 2 * cpu_threads.TIMED_CALLS
    for slow, fast in ((2, 1), (1, 2)):
        chooser = cpu_threads.TimedThreads()
        stand_in = StandIn(monkeypatch, slow, slow=0.0011, fast=0.001)
        for _ in range(timed + 3):
            chooser.run("kind", stand_in)
        counts = stand_in.counts
        assert sorted(counts[:timed]) == [1] * (timed // 2) + [2] * (timed // 2)
        assert counts[timed:] == [fast] * 3


def test_timed_threads_stop_timing_where_one_count_is_clearly_faster(monkeypatch):
    # One call on each count, then the faster: the slower's further timing calls cost more
    # than they tell ((2e5, 50, 20) full ran 0.73 s per iteration untimed, 1.15 timed).
    for slow, fast in ((2, 1), (1, 2)):
        chooser = cpu_threads.TimedThreads()
        ratio = cpu_threads.DECISIVE_RATIO
        stand_in = StandIn(monkeypatch, slow, slow=0.001 * ratio * 1.01, fast=0.001)
        for _ in range(8):
            chooser.run("kind", stand_in)
        assert stand_in.counts == [2, 1] + [fast] * 6


def test_timed_threads_follow_a_change_of_the_machine(monkeypatch):
    # The count was chosen once, from the first calls, for the life of the process: a choice
    # made while another process held the cores stuck. Now one call in REVISIT_CALLS runs on
    # the other count and the latest timings decide.
    chooser, stand_in = cpu_threads.TimedThreads(), StandIn(monkeypatch, slow_count=2)
    first = 2 * cpu_threads.TIMED_CALLS + 5
    for _ in range(first):
        chooser.run("kind", stand_in)
    assert stand_in.counts[-5:] == [1] * 5
    stand_in.slow_count = 1  # the machine changes: two threads are now the faster
    revisit = cpu_threads.REVISIT_CALLS
    for _ in range(3 * revisit):
        chooser.run("kind", stand_in)
    after = stand_in.counts[first:]
    # One thread until its latest timings are no better than two threads' (or a revisit
    # times two threads again); then two threads but for the revisits of one: the calls
    # numbered a multiple of REVISIT_CALLS where the two counts are close, of
    # DECIDED_REVISIT_FACTOR times that where two threads are clearly the faster (each call
    # on them is timed, so a load that slows them moves the choice by itself).
    switch = after.index(2)
    assert after[:switch] == [1] * switch and switch <= revisit
    calls = range(first + switch + 2, first + len(after) + 1)  # numbered from 1
    ones = [n for n in calls if stand_in.counts[n - 1] == 1]
    every = revisit * cpu_threads.DECIDED_REVISIT_FACTOR
    assert ones == [n for n in calls if n % every == 0]
    # two threads slowed by a load: one thread from their own timings, within TIMED_CALLS
    stand_in.slow_count = 2
    loaded = len(stand_in.counts)
    for _ in range(cpu_threads.TIMED_CALLS + 3):
        chooser.run("kind", stand_in)
    assert stand_in.counts[loaded:].count(2) <= cpu_threads.TIMED_CALLS + 1
    assert stand_in.counts[-2:] == [1, 1]


def test_timed_threads_revisit_one_thread_every_few_calls_where_counts_are_close(monkeypatch):
    chooser = cpu_threads.TimedThreads()
    stand_in = StandIn(monkeypatch, slow_count=1, slow=0.0011, fast=0.001)
    revisit = cpu_threads.REVISIT_CALLS
    for _ in range(3 * revisit):
        chooser.run("kind", stand_in)
    calls = range(2 * cpu_threads.TIMED_CALLS + 1, 3 * revisit + 1)  # numbered from 1
    ones = [n for n in calls if stand_in.counts[n - 1] == 1]
    assert ones == [n for n in calls if n % revisit == 0]


def _two_scales(seed):
    """300 positive rows from exponentials of scale 1 and 20: far enough apart that a log
    joint relative to one component makes totals whose products overflow."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.exponential(1.0, 150), rng.exponential(20.0, 150)])[:, None]


@pytest.mark.parametrize("name", ["exponential", "gamma"])
def test_two_component_fits_raise_no_float_warning(name):
    # The product of totals overflowing is the pass's cue to take smaller products; it used to
    # leak a RuntimeWarning that fails a fit under -W error.
    families, _, logpdf = CASES[name]
    kind = type(families[0])
    for seed in (2, 3, 5):
        x = _two_scales(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fit = emkit.MixtureModel([kind(), kind()], random_state=0).fit(x)
        *_, expected = scipy_e_step(fit.components_, logpdf, fit.weights_, x, np.ones(len(x)))
        assert fit.log_likelihood_ == pytest.approx(expected, rel=1e-10)


def test_the_sum_of_logs_of_totals_survives_an_overflowing_product():
    totals = np.full(64, 1e300)
    totals[::7] = 1.5
    views = family_pass._Views(2, 2, 64, ones_first=False)
    views.total[:] = totals
    with warnings.catch_warnings(), np.errstate(over="ignore"):  # as _linear_partial sets
        warnings.simplefilter("error")
        out = views.sum_log_total(8, 1)
    assert out == pytest.approx(np.log(totals).sum(), rel=1e-14)


@pytest.mark.parametrize("weighted", [False, True])
def test_gamma_components_far_apart_read_one_copy_of_the_statistics_with_ones(weighted):
    # Log joints far apart (a rate of 50 against 0.01 on values up to ~1000): the pass takes
    # them relative to each row's largest, reading the statistics with a row of ones below,
    # made on first use; the computed statistics then move into it (one copy kept), and the
    # answers are scipy's.
    rng = np.random.default_rng(5)
    x = np.where(rng.random(N) < 0.5, rng.gamma(2.0, 100.0, N), rng.gamma(30.0, 0.02, N))
    x = x[:, None]
    families = [Gamma([1.5], [0.01]), Gamma([30.0], [50.0])]
    logpdf = CASES["gamma"][2]
    w = RNG.uniform(0.0, 2.0, size=N) if weighted else np.ones(N)
    weights = np.array([0.4, 0.6])
    components = ComponentList(tuple(families))
    with family_pass.rows_kept(x):
        kept, kept_ll = components.fused_e_step(x, np.log(weights), w if weighted else None)
        found = family_pass._KEPT[id(x)]
        key = components.groups[0][1].key
        assert key in found.augmented
        values = found.features[key].values
        assert np.shares_memory(values, found.augmented[key])
        np.testing.assert_array_equal(values, np.vstack([np.log(x[:, 0]), x[:, 0]]))
        again, again_ll = components.fused_e_step(x, np.log(weights), w if weighted else None)
    assert again_ll == kept_ll
    resp_sum, sum_x, loglik = scipy_e_step(families, logpdf, weights, x, w)
    assert kept_ll == pytest.approx(loglik, rel=1e-12)
    np.testing.assert_allclose(kept.weight, resp_sum, rtol=1e-12)
    joint = np.column_stack(
        [np.log(p) + logpdf(f, x) for p, f in zip(weights, families, strict=True)]
    )
    resp = np.exp(joint - logsumexp(joint, axis=1, keepdims=True)) * w[:, None]
    for part, s, r in zip(kept.parts, sum_x, resp.T, strict=True):
        np.testing.assert_allclose(part.sum_x, s, rtol=1e-12)
        np.testing.assert_allclose(part.sum_log_x, r @ np.log(x), rtol=1e-12)


def test_a_fit_holds_blas_on_one_thread_and_gives_the_count_back():
    # Each pass set BLAS to one thread and back through threadpoolctl (~50 us, and OpenBLAS's
    # threads woken after it): a fit over kept rows holds the limit throughout, and its
    # answer is scipy's.
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads() -> set:
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    if not blas_threads():
        pytest.skip("threadpoolctl sees no BLAS library here")
    families, x, logpdf = CASES["gamma"]
    families = families[:2]
    weights = np.array([0.4, 0.6])
    components = ComponentList(tuple(families))
    seen = []
    pass_sums = family_pass.mixture_sums

    def watched(*args):
        seen.append(blas_threads())
        return pass_sums(*args)

    with threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(cpu_threads, "one_blas_thread", contextlib.nullcontext)
            patch.setattr("emkit.models.component_list.mixture_sums", watched)
            with family_pass.rows_kept(x):
                kept, loglik = components.fused_e_step(x, np.log(weights))
        after = blas_threads()
    assert seen == [{1}]
    assert after == before
    *_, expected = scipy_e_step(families, logpdf, weights, x, np.ones(len(x)))
    assert loglik == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", ["gamma", "poisson"])
def test_kept_statistics_are_the_same_on_any_number_of_threads(name, monkeypatch, all_threads):
    # The rows' statistics are computed a piece at a time on the kernel threads (a log of 1e6
    # rows took 6 ms on one); each piece's extremes and sums are added up in row order, so
    # every thread count keeps the same bits, and the statistics are scipy's own.
    monkeypatch.setattr(family_pass, "FEATURE_ROWS", 1000)
    monkeypatch.setattr(cpu_threads, "MIN_ROWS_PER_THREAD", 1)  # parts for every thread
    families, x, _ = CASES[name]
    x = np.tile(x, (5, 1))
    if name == "gamma":  # a row outside the support in a later piece: computed, not written
        x[4321, 0] = 0.0
    components = ComponentList(tuple(families[:2]))
    key = components.groups[0][1].key
    kept = []
    for threads in (1, 2, 3):
        with cpu_threads.kernel_threads(threads), family_pass.rows_kept(x):
            with np.errstate(divide="ignore", invalid="ignore"):  # the zero: density 0
                components.fused_e_step(x, np.log([0.5, 0.5]), None)
            found = family_pass._KEPT[id(x)]
            f = found.features[key]
            arrays = (f.values, f.base, f.inside, found.sizes[key])
            kept.append([None if a is None else np.array(a) for a in arrays])
            kept[-1].append(np.array(found.row_sums[key, 0, x.shape[0]]))
    for other in kept[1:]:
        for a, b in zip(other, kept[0], strict=True):
            if a is None:
                assert b is None
            else:
                np.testing.assert_array_equal(a, b)
    values, base, inside, sizes, sums = kept[0]
    if name == "gamma":  # (log x, x) of each feature where x > 0; the zero marked outside
        assert inside is not None and not inside[4321] and inside.sum() == x.shape[0] - 1
        np.testing.assert_allclose(
            values[:, inside], np.vstack([np.log(x[inside].T), x[inside].T]), rtol=1e-15
        )
    else:  # (x), base -sum log x!
        want = -gammaln(x + 1.0).sum(axis=1)
        np.testing.assert_allclose(base, want, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(sums[:-1], values.sum(axis=1), rtol=1e-12)
    assert sums[-1] == x.shape[0]


@pytest.mark.parametrize("name", ["exponential", "gamma"])
def test_row_sums_kept_with_the_statistics_are_those_a_pass_takes(name, monkeypatch):
    # The statistics' sums over each piece of FEATURE_ROWS rows are kept as they are computed
    # (the units of a pass, when they coincide), to the bit of the sums a pass would take.
    monkeypatch.setattr(family_pass, "FEATURE_ROWS", 512)
    families, x, _ = CASES[name]
    kernel = type(families[0]).kernel(families[:2])
    with family_pass.rows_kept(x):
        found = family_pass._KEPT[id(x)]
        values = found.features_of(kernel).values
        edges = [*range(0, N, 512), N]
        for start, stop in zip(edges[:-1], edges[1:], strict=True):
            kept = found.row_sums[kernel.key, start, stop]
            np.testing.assert_array_equal(kept, family_pass._row_sum(values[:, start:stop]))
        # the sums of rows that are no piece are taken when asked
        assert (kernel.key, 100, 700) not in found.row_sums
        np.testing.assert_array_equal(
            found.row_sum(kernel.key, 100, 700), family_pass._row_sum(values[:, 100:700])
        )
        np.testing.assert_allclose(found.row_sum(kernel.key, 0, N)[:-1], values.sum(axis=1))
