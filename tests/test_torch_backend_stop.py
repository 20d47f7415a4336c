"""Where torch fits stop: float32 stops where the objective no longer rises by more than its
rounding (emkit.em.EMMap.stops); float64 fits of a slow problem are in test_em_stop.py."""

import numpy as np
import pytest

from emkit import GaussianMixture

pytest.importorskip("torch")


def _two_clusters(seed: int, n: int, d: int, spread: float, shift: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(0, 1, (n // 2, d)), rng.normal(shift, spread, (n // 2, d))])


def test_a_float32_fit_on_the_device_climbs_as_far_as_float32_resolves():
    """Three components on two clusters: the torch float32 fit used to stop after 17
    iterations 1.25 below the maximum (a step's gain under its rounding, 1e-7 |loglik|);
    it now ends within that rounding of NumPy's float32 fit."""
    x = _two_clusters(14, 2000, 2, 1.0, 3.0)
    numpy32 = GaussianMixture(3, random_state=0, dtype=np.float32).fit(x)
    torch32 = GaussianMixture(3, random_state=0, dtype=np.float32, device="cpu").fit(x)
    assert torch32.converged_
    rounding = 1e-7 * abs(numpy32.log_likelihood_)  # a tenth of FLOAT32_RESOLUTION
    assert abs(torch32.log_likelihood_ - numpy32.log_likelihood_) < 2 * rounding
    np.testing.assert_allclose(np.sort(torch32.weights_), np.sort(numpy32.weights_), atol=2e-3)
