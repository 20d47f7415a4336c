"""The row reductions of the posterior (emkit.models.mixture): a column at a time, they give
NumPy's argmax and scipy's logsumexp on either layout, ties, NaN and infinities included."""

import numpy as np
import pytest
from scipy.special import logsumexp

from emkit.models.mixture import log_posterior, most_probable


def _scores(k: int, seed: int, order: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scores = np.round(rng.normal(size=(300, k)) * 3)  # ties in most rows of few classes
    scores[0] = -np.inf  # every class impossible
    scores[1, k // 2] = np.nan
    scores[2, -1] = np.inf
    scores[3] = 1e300
    return np.asarray(scores, order=order)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 17])
def test_most_probable_is_argmax(k, order):
    for seed in range(5):
        scores = _scores(k, seed, order)
        np.testing.assert_array_equal(most_probable(scores), scores.argmax(axis=1))


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 8, 17])
def test_log_posterior_is_bayes_rule(k, order):
    scores = _scores(k, 0, order)
    with np.errstate(invalid="ignore"):
        log_resp, log_density = log_posterior(scores)
    finite = slice(4, None)  # the rows above: NaN, as ever, but the one of 1e300
    want = logsumexp(scores[finite], axis=1)
    np.testing.assert_allclose(log_density[finite], want, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(log_resp[finite], scores[finite] - want[:, None], atol=1e-13)
    np.testing.assert_allclose(np.exp(log_resp[3]), np.full(k, 1.0 / k), rtol=1e-15)
    assert np.isnan(log_resp[:3]).any(axis=1).all()
