"""The array backend namespace: every backend module implements ArrayNamespace's operations."""

import importlib.util

import numpy as np
import pytest
import scipy.linalg
import scipy.special

from emkit.backend.namespace import BACKENDS, LAZY_BACKENDS, backend, namespace_of


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


# Every backend, each where its library is installed (PyTorch is an optional extra).
NAMES = [
    pytest.param(name, marks=pytest.mark.skipif(not _installed(name), reason=f"{name} absent"))
    if name in LAZY_BACKENDS
    else name
    for name in sorted(set(BACKENDS) | set(LAZY_BACKENDS))
]


@pytest.fixture(params=NAMES)
def xp(request):
    return backend(request.param)


def spd(rng, k, d):
    a = rng.normal(size=(k, d, d))
    return a @ np.swapaxes(a, 1, 2) + d * np.eye(d)


def test_numpy_arrays_use_the_numpy_backend():
    assert namespace_of(np.zeros(3)).name == "numpy"


def test_logsumexp_matches_scipy_with_minus_inf(xp):
    a = np.array([[0.0, -np.inf, 2.0], [-np.inf, -np.inf, -np.inf]])
    got = xp.to_numpy(xp.logsumexp(xp.asarray(a), axis=1))
    np.testing.assert_array_equal(got, scipy.special.logsumexp(a, axis=1))


def test_exp_normal_is_exp_with_subnormal_results_set_to_zero(xp):
    # e^-708 is the last normal float64; e^-709 .. e^-745 are subnormal, then 0.
    a = np.array([[0.0, -1.0, -700.0, -708.0], [-709.0, -740.0, -800.0, -np.inf]])
    expected = np.exp(a)
    expected[expected < np.finfo(np.float64).tiny] = 0.0
    got = xp.to_numpy(xp.exp_normal(xp.asarray(a.copy(), like=xp.asarray(np.zeros(1)))))
    np.testing.assert_array_equal(got, expected)
    assert expected[0, 3] > 0 and expected[1, 0] == 0


def test_fused_pass_sums_no_subnormal_responsibilities():
    # Far components give responsibilities of 1e-310 and below: set to 0, the statistics
    # equal the direct (unblocked, exact) computation's to 1e-12.
    from emkit.backend import kernels

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) + 26.8])
    means = np.array([[0.0, 0.0], [26.8, 26.8]])
    precisions = np.repeat(np.eye(2)[None], 2, axis=0)
    log_norm = np.full(2, -np.log(2 * np.pi))
    form = kernels.quadratic_form(means, precisions, log_norm, np.log([0.5, 0.5]), means.mean(0))
    assert form is not None
    weight, mean, scatter, loglik, *_ = kernels.gaussian_e_step(x, [form])[0]
    log_joint = -0.5 * ((x[:, None, :] - means) ** 2).sum(-1) + log_norm + np.log(0.5)
    resp = np.exp(log_joint - scipy.special.logsumexp(log_joint, axis=1, keepdims=True))
    assert ((resp > 0) & (resp < np.finfo(float).tiny)).any()  # the case is exercised
    np.testing.assert_allclose(weight, resp.sum(0), rtol=1e-12)
    np.testing.assert_allclose(mean, (resp.T @ x) / resp.sum(0)[:, None], rtol=1e-12)
    np.testing.assert_allclose(loglik, scipy.special.logsumexp(log_joint, axis=1).sum(), rtol=1e-12)


def test_cholesky_flags_failure_instead_of_raising(xp):
    rng = np.random.default_rng(0)
    good = spd(rng, 3, 4)
    chol, ok = xp.cholesky(xp.asarray(good))
    assert ok
    np.testing.assert_allclose(xp.to_numpy(chol), np.linalg.cholesky(good), rtol=1e-12)
    bad = good.copy()
    bad[1] = -np.eye(4)
    assert not xp.cholesky(xp.asarray(bad))[1]


def test_solve_triangular_batched_and_single(xp):
    rng = np.random.default_rng(1)
    chol = np.linalg.cholesky(spd(rng, 3, 5))
    b = rng.normal(size=(3, 5, 2))
    got = xp.to_numpy(xp.solve_triangular(xp.asarray(chol), xp.asarray(b), lower=True))
    for j in range(3):
        want = scipy.linalg.solve_triangular(chol[j], b[j], lower=True)
        np.testing.assert_allclose(got[j], want, rtol=1e-10, atol=1e-12)
        single = xp.solve_triangular(xp.asarray(chol[j]), xp.asarray(b[j]), lower=True)
        np.testing.assert_allclose(xp.to_numpy(single), want, rtol=1e-12, atol=1e-14)


def test_eigvalsh_ascending(xp):
    rng = np.random.default_rng(2)
    a = spd(rng, 2, 4)
    got = xp.to_numpy(xp.eigvalsh(xp.asarray(a)))
    for j in range(2):
        np.testing.assert_allclose(got[j], scipy.linalg.eigvalsh(a[j]), rtol=1e-10)


def test_fused_pass_of_several_forms_equals_the_direct_computation():
    # One pass for three mixtures (K = 1, 2, 3; one with an empty component): rows are shifted
    # by each mixture's largest log peak, rows far below it (beyond PEAK_GAP) by their own
    # largest log joint. Every mixture's statistics, log-likelihood and sum of log max_k r
    # equal scipy's direct computation, with and without row weights.
    from scipy.stats import multivariate_normal

    from emkit.backend import gaussian_pass, kernels

    rng = np.random.default_rng(1)
    d = 3
    x = rng.normal(size=(2000, d)) * 2.0
    x[:5] = 45.0 * rng.normal(size=(5, d)) + 60.0  # far from every component
    weights = rng.uniform(0.5, 2.0, size=x.shape[0])
    mixtures = []
    for k in (1, 2, 3):
        means = rng.normal(size=(k, d))
        covariances = spd(rng, k, d) / d
        log_weights = np.log(rng.dirichlet(np.ones(k)))
        if k == 3:
            log_weights[1] = -np.inf  # an empty component
        mixtures.append((means, covariances, log_weights))
    forms = []
    for means, covariances, log_weights in mixtures:
        precisions = np.linalg.inv(covariances)
        log_norm = 0.5 * np.linalg.slogdet(precisions)[1] - 0.5 * d * np.log(2 * np.pi)
        forms.append(kernels.quadratic_form(means, precisions, log_norm, log_weights, x.mean(0)))
    assert all(f is not None for f in forms)
    for w in (None, weights):
        got = kernels.gaussian_e_step(x, forms, w)
        for (means, covariances, log_weights), form, out in zip(mixtures, forms, got, strict=True):
            log_joint = (
                np.column_stack(
                    [
                        multivariate_normal(m, c).logpdf(x)
                        for m, c in zip(means, covariances, strict=True)
                    ]
                )
                + log_weights
            )
            row_max = log_joint.max(axis=1)
            assert (row_max < form.peak.max() - gaussian_pass.PEAK_GAP).any()  # exercised
            log_total = scipy.special.logsumexp(log_joint, axis=1)
            resp = np.exp(log_joint - log_total[:, None])
            rw = np.ones(len(x)) if w is None else w
            weight, mean, scatter, loglik, log_max_resp, _ = out
            np.testing.assert_allclose(weight, rw @ resp, rtol=1e-12)
            live = weight > 0
            expected_mean = (resp[:, live] * rw[:, None]).T @ x / (rw @ resp[:, live])[:, None]
            np.testing.assert_allclose(mean[live], expected_mean, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(loglik, rw @ log_total, rtol=1e-12)
            expected_max = rw @ (row_max - log_total)
            np.testing.assert_allclose(log_max_resp, expected_max, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("diagonal", [False, True])
def test_lowest_log_joint_bound_holds_for_every_row(diagonal):
    # The pass skips its look for log joints below the subnormal floor where a bound from a
    # block's largest row norm r, a - h r^2 - g r, is above it: the bound must hold for every
    # row and component (rows near and far, narrow and broad components, an empty one).
    from emkit.backend import gaussian_pass, kernels

    rng = np.random.default_rng(2)
    d, k = 4, 6
    means = rng.normal(size=(k, d)) * 3.0
    if diagonal:
        precisions = rng.uniform(0.2, 20.0, size=(k, d))
        log_norm = 0.5 * np.log(precisions).sum(1) - 0.5 * d * np.log(2 * np.pi)
    else:
        precisions = np.linalg.inv(spd(rng, k, d) / rng.uniform(1.0, 30.0, size=(k, 1, 1)))
        log_norm = 0.5 * np.linalg.slogdet(precisions)[1] - 0.5 * d * np.log(2 * np.pi)
    log_weights = np.log(rng.dirichlet(np.ones(k)))
    log_weights[2] = -np.inf
    form = kernels.quadratic_form(means, precisions, log_norm, log_weights, means.mean(0))
    assert form is not None
    q = form.coef.shape[0] - d  # the pass's layout: quadratic, constant, linear
    coef = np.hstack([form.coef[:q].T, form.const[:, None], form.coef[q:].T])
    a, half, length = gaussian_pass._lowest_terms(coef, d, diagonal)
    x = rng.normal(size=(500, d)) * rng.uniform(0.1, 20.0, size=(500, 1)) + means.mean(0)
    buffer = np.empty((gaussian_pass.feature_rows(d, diagonal), x.shape[0]))
    feats = gaussian_pass._fill_features(x, form.shift, buffer, diagonal)
    log_joint = coef @ feats  # (k, n)
    r = np.linalg.norm(x - form.shift, axis=1)
    low = a[:, None] - half[:, None] * r**2 - length[:, None] * r
    live = np.isfinite(log_weights)
    assert np.all(log_joint[live] >= low[live] - 1e-9 * np.abs(low[live]))
    assert np.all(log_joint[~live] == -np.inf) and np.all(a[~live] == np.inf)
    # not vacuous: the bound is within a factor of the lowest log joints
    assert np.min(low[live]) > 50 * np.min(log_joint[live])


def test_fused_pass_without_log_max_equals_the_direct_computation(monkeypatch):
    # A grid's rounds leave out sum_n log max_k r_nk: where the bound shows no log joint near
    # the subnormal floor, the pass takes no row maxima at all. Statistics and
    # log-likelihoods equal scipy's direct computation; the left-out term is NaN.
    from scipy.stats import multivariate_normal

    from emkit.backend import gaussian_pass, kernels

    unshifted = []
    original = gaussian_pass._normalise_unshifted

    def spy(*args):
        unshifted.append(1)
        return original(*args)

    monkeypatch.setattr(gaussian_pass, "_normalise_unshifted", spy)
    rng = np.random.default_rng(4)
    d = 3
    x = rng.normal(size=(3000, d))
    weights = rng.uniform(0.5, 2.0, size=x.shape[0])
    mixtures, forms = [], []
    for k in (2, 3, 4):
        means = rng.normal(size=(k, d))
        covariances = spd(rng, k, d) / d
        log_weights = np.log(rng.dirichlet(np.ones(k)))
        precisions = np.linalg.inv(covariances)
        log_norm = 0.5 * np.linalg.slogdet(precisions)[1] - 0.5 * d * np.log(2 * np.pi)
        forms.append(kernels.quadratic_form(means, precisions, log_norm, log_weights, x.mean(0)))
        mixtures.append((means, covariances, log_weights))
    for w in (None, weights):
        with gaussian_pass.without_log_max():
            got = kernels.gaussian_e_step(x, forms, w)
        assert unshifted
        unshifted.clear()
        rw = np.ones(len(x)) if w is None else w
        for (means, covariances, log_weights), out in zip(mixtures, got, strict=True):
            log_joint = (
                np.column_stack(
                    [
                        multivariate_normal(m, c).logpdf(x)
                        for m, c in zip(means, covariances, strict=True)
                    ]
                )
                + log_weights
            )
            log_total = scipy.special.logsumexp(log_joint, axis=1)
            resp = np.exp(log_joint - log_total[:, None])
            weight, mean, scatter, loglik, log_max_resp, _ = out
            np.testing.assert_allclose(weight, rw @ resp, rtol=1e-12)
            np.testing.assert_allclose(
                mean, (resp * rw[:, None]).T @ x / (rw @ resp)[:, None], rtol=1e-10
            )
            np.testing.assert_allclose(loglik, rw @ log_total, rtol=1e-12)
            assert np.isnan(log_max_resp)
    assert np.isfinite(kernels.gaussian_e_step(x, forms)[0][4])  # gathered again outside
