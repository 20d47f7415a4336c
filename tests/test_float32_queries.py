"""Queries of a model fitted in float32 (``dtype='float32'``, on the host or on a torch device)
read integers beyond 2**24 exactly.

A fit in float32 refuses integers that float32 cannot hold (beyond 2**24), which it would
round. Queries are not computed in the fit's dtype: every query method reads its rows in
float64 (the fitted parameters are float64, a KMeans' float32 centres are held exactly in
float64), so such integers are not rounded there and are answered, not refused. These tests
hold every query method to that: its answer for integer rows is its answer for the same
rows in float64, and not the one for the rows rounded to float32.
"""

import numpy as np
import pandas as pd
import pytest

from emkit import GaussianMixture, KMeans

torch = pytest.importorskip("torch")

BASE = 2**25  # float32's spacing here is 4: 2**25 + 1 is stored as 2**25


def rows_near_base(seed: int = 0) -> np.ndarray:
    """Two groups 20 apart on the first column (spread 3), about 2**25."""
    rng = np.random.default_rng(seed)
    first = BASE + np.concatenate([rng.normal(0, 3, 100), rng.normal(20, 3, 100)])
    return np.column_stack([first, rng.normal(0, 1, 200)])


# integer rows that float32 rounds (odd offsets from 2**25), across both groups
QUERY = np.column_stack([BASE + np.arange(1, 40, 2), np.zeros(20, dtype=np.int64)])

MODELS = {
    "GaussianMixture-float32": lambda: GaussianMixture(2, dtype="float32", random_state=0),
    "GaussianMixture-torch-cpu-float32": lambda: GaussianMixture(
        2, dtype="float32", device="cpu", random_state=0
    ),
    "KMeans-float32": lambda: KMeans(2, dtype="float32", random_state=0),
    "KMeans-torch-cpu-float32": lambda: KMeans(2, dtype="float32", device="cpu", random_state=0),
}
QUERIES = {
    GaussianMixture: ["predict", "predict_proba", "score_samples", "score", "bic", "aic", "icl"],
    KMeans: ["predict", "transform", "score"],
}
CASES = [(name, query) for name, make in MODELS.items() for query in QUERIES[type(make())]]


def host(value) -> np.ndarray:
    """``value`` (a NumPy array or number, or a tensor) as a float64 NumPy array."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


@pytest.fixture(scope="module")
def fitted():
    x = rows_near_base()
    return {name: make().fit(x) for name, make in MODELS.items()}


def crossing_rows(model, m: int = 20) -> np.ndarray:
    """``m`` integer rows about 2**25 whose float32 rounding lies across ``model``'s decision
    boundary from them (its label of the float64 rows differs from its label of the rounded
    ones), with QUERY: rows whose labels the rounding changes. The boundary between the
    groups is slanted or curved, so that its crossing of the first column moves as the
    second one goes from -2000 to 2000 and passes between some integer and its rounding."""
    first, second = np.meshgrid(BASE + np.arange(41), np.arange(-2000, 2001))
    grid = np.column_stack([first.ravel(), second.ravel()])
    labels = host(model.predict(grid.astype(np.float64)))
    rounded = host(model.predict(grid.astype(np.float32)))
    crossing = grid[labels != rounded]
    assert len(crossing) >= m, "no row whose float32 rounding changes its label"
    picks = np.random.default_rng(0).choice(len(crossing), m, replace=False)
    return np.vstack([QUERY, crossing[np.sort(picks)]])


def test_fits_in_float32_refuse_such_integers():
    # the refusal the queries are contrasted with (KMeans(dtype='float32') on the host reads
    # its rows in float64: it has none)
    for name, make in MODELS.items():
        if name == "KMeans-float32":
            continue
        with pytest.raises(ValueError, match="beyond 2\\*\\*24 that float32 cannot hold exactly"):
            make().fit(np.vstack([QUERY, QUERY + 7]))


@pytest.mark.parametrize(("name", "query"), CASES)
@pytest.mark.parametrize("given", ["array", "frame", "tensor"])
def test_queries_read_integers_beyond_2_24_exactly(fitted, name, query, given):
    model = fitted[name]
    ask = getattr(model, query)
    # labels change only across the decision boundary: rows chosen to cross it
    query_rows = crossing_rows(model) if query == "predict" else QUERY
    exact = host(ask(query_rows.astype(np.float64)))
    rounded = host(ask(query_rows.astype(np.float32)))
    # the rounding would show: the answers for the rows rounded to float32 differ
    if query == "predict":
        assert np.count_nonzero(rounded != exact) >= 20
    else:
        assert np.max(np.abs(rounded - exact)) > 1e-3 * (1 + np.max(np.abs(exact)))
    rows = {
        "array": query_rows,
        "frame": pd.DataFrame(query_rows),
        "tensor": torch.from_numpy(query_rows),
    }[given]
    if given == "frame":  # fitted on an array: names neither way
        answer = host(ask(rows.to_numpy()))
        np.testing.assert_allclose(host(ask(rows.set_axis([0, 1], axis=1))), answer)
    answer = host(ask(rows))
    # float64 sums in another order (a tensor's); far below the rounding's effect
    np.testing.assert_allclose(answer, exact, rtol=1e-12, atol=1e-9)
    assert query_rows.dtype == np.int64 and np.any(query_rows != query_rows.astype(np.float32))
