"""The family pass over rows kept for a fit (their statistics computed once) gives the answers
of the block-by-block pass and of scipy: whole arrays, views of their rows, sample weights,
threads, short blocks, rows outside a support, and whole MixtureModel fits."""

import contextlib

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

import emkit
from emkit.backend import family_pass, numpy_backend
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
    monkeypatch.setattr(family_pass, "MIN_BLOCK_ROWS", 256)
    monkeypatch.setattr(numpy_backend, "MIN_ROWS_PER_THREAD", 500)
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
