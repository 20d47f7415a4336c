"""MixtureOfRegressions on a list of chunks: the in-memory fit of their rows joined in order."""

import numpy as np
import pytest

from emkit import MixtureOfRegressions

CUTS = [0, 70, 71, 160, 240]  # uneven chunks, one of a single row


def _lines(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(240, 2))
    side = rng.uniform(size=240) < 0.4
    y = np.where(side, 1.0 + x @ [2.0, -1.0], -1.0 + x @ [-1.5, 0.5]) + rng.normal(0, 0.3, 240)
    w = rng.integers(1, 4, size=240).astype(float)
    return x, y, w


def _chunks(x):
    return [x[a:b] for a, b in zip(CUTS[:-1], CUTS[1:], strict=True)]


@pytest.mark.parametrize("weighted", [False, True])
def test_chunked_fit_and_queries_equal_the_array(weighted):
    x, y, w = _lines()
    w = w if weighted else None
    chunked = MixtureOfRegressions(2, random_state=0).fit(_chunks(x), y, sample_weight=w)
    whole = MixtureOfRegressions(2, random_state=0).fit(x, y, sample_weight=w)
    for name in ("weights_", "coef_", "intercept_", "sigmas_", "history_"):
        np.testing.assert_allclose(getattr(chunked, name), getattr(whole, name), rtol=1e-12)
    assert chunked.n_iter_ == whole.n_iter_
    np.testing.assert_allclose(chunked.predict(_chunks(x)), whole.predict(x), rtol=1e-12)
    np.testing.assert_allclose(
        chunked.predict_proba(_chunks(x), y), whole.predict_proba(x, y), atol=1e-12
    )
    assert chunked.bic(_chunks(x), y, sample_weight=w) == pytest.approx(
        whole.bic(x, y, sample_weight=w), rel=1e-12
    )
    assert chunked.score(_chunks(x), y) == pytest.approx(whole.score(x, y), rel=1e-12)
    errors = chunked.estimate(_chunks(x), y, sample_weight=w).stderr
    for name, value in whole.estimate(x, y, sample_weight=w).stderr.items():
        np.testing.assert_allclose(errors[name], value, rtol=1e-8)


def test_chunks_with_a_y_of_another_length_are_refused():
    x, y, _ = _lines()
    with pytest.raises(ValueError, match=r"y has 239 responses, but X has 240 rows in 4 chunks"):
        MixtureOfRegressions(2).fit(_chunks(x), y[:-1])
    with pytest.raises(ValueError, match="and so is y"):
        MixtureOfRegressions(2).fit(_chunks(x), _chunks(y[:, None]))
