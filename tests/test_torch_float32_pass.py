"""The torch float32 E-step pass's log-likelihood moves with the parameters as float64's does:
the coefficients' rounding to float32 is corrected to first order, as in NumPy's float32
pass (emkit.backend.gaussian_pass._partial)."""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from emkit.backend import kernels

torch = pytest.importorskip("torch")
from emkit.backend import torch_backend  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread: the pass on a few thousand rows is quicker without a second one
    waiting on a shared machine; the count is restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _rows(n: int, d: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (n // 2, d)), rng.normal(0.8, 1.1, (n // 2, d))])
    return x.astype(np.float32)


def _both(x32, means, covs, weights):
    """(torch float32 pass's log-likelihood, scipy's in float64) of rows x32."""
    x = x32.astype(np.float64)
    d = x.shape[1]
    log_norm = -0.5 * d * np.log(2 * np.pi) - 0.5 * np.linalg.slogdet(covs)[1]
    form = kernels.quadratic_form(
        means, np.linalg.inv(covs), log_norm, np.log(weights), weights @ means
    )
    ours = torch_backend.quadratic_sums(torch.from_numpy(x32), None, [form])[1][0]
    joints = [
        np.log(w) + multivariate_normal(m, c).logpdf(x)
        for w, m, c in zip(weights, means, covs, strict=True)
    ]
    return ours, logsumexp(np.column_stack(joints), axis=1).sum()


def test_the_float32_pass_follows_small_changes_of_the_parameters():
    """Near the maximum (the generating parameters of 20000 rows), steps of the size of
    EM's last ones: the float32 pass's change of the log-likelihood was off by ~1e-3 (the
    coefficients rounded anew on each pass, 5 tol n at tol=1e-8), more than EM's late gains."""
    n, d = 20000, 3
    x = _rows(n, d)
    means = np.array([[0.0] * d, [0.8] * d])
    covs = np.array([np.eye(d), 1.21 * np.eye(d)])
    weights = np.array([0.5, 0.5])
    ours0, ref0 = _both(x, means, covs, weights)
    rng = np.random.default_rng(1)
    errors = []
    for _ in range(12):
        moved = means + rng.normal(0, 1e-4, means.shape)
        scaled = covs * (1 + rng.normal(0, 1e-5))
        ours, ref = _both(x, moved, scaled, weights)
        errors.append(abs((ours - ours0) - (ref - ref0)))
    assert np.median(errors) < 2 * 1e-8 * n
    # and the log-likelihood itself within float32's rounding of the rows
    assert abs(ours0 - ref0) < 2e-9 * abs(ref0)
