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
