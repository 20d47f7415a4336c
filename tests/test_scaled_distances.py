"""backend.linalg.scaled_distances (diagonal and spherical log densities, KMeans.transform):
against scipy, and each row's numbers alone as in any batch, on any number of threads."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from emkit.backend import threads as cpu_threads
from emkit.backend.linalg import scaled_distances


@pytest.mark.parametrize("n, d, k", [(35_178, 9, 3), (500, 40, 30), (3, 1, 1), (0, 4, 2)])
def test_each_row_alone_as_in_the_batch_on_one_and_two_threads(monkeypatch, n, d, k):
    # (35,178, 9, 3): blocks of 1,213 rows leave the last block one row, which NumPy's sum
    # over the features added in another order (a few ulps); (500, 40, 30): a centre at a time
    rng = np.random.default_rng(1)
    x = 1e3 + rng.normal(size=(n, d)) * 5
    centres = 1e3 + rng.normal(size=(k, d))
    scales = rng.uniform(0.5, 2.0, size=(k, d))
    monkeypatch.setattr(cpu_threads, "num_threads", lambda: 2)
    batch = scaled_distances(x, centres, scales)
    np.testing.assert_allclose(batch, _direct(x, centres, scales), rtol=1e-13)
    monkeypatch.setattr(cpu_threads, "num_threads", lambda: 1)
    np.testing.assert_array_equal(scaled_distances(x, centres, scales), batch)
    for row in {0, n // 2, n - 1} if n else set():
        np.testing.assert_array_equal(
            scaled_distances(x[row : row + 1], centres, scales)[0], batch[row]
        )
    np.testing.assert_allclose(
        scaled_distances(x, centres), cdist(x, centres, "sqeuclidean"), rtol=1e-12
    )


def _direct(x, centres, scales):
    """The distances in (n, k, d) at once: NumPy's own sum, not the function's."""
    return np.sum(((x[:, None, :] - centres) * scales) ** 2, axis=2)
