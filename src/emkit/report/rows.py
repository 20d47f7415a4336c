"""Which rows the report's figures draw: the complete ones, a random sample of them for large
data. Apart from the figures, so that the command line can sample its rows and let the data go
before matplotlib is loaded."""

from __future__ import annotations

import numpy as np

from emkit.backend.sampling import sorted_unique

# Figures of the data draw at most this many rows, a random sample (scatter plots of millions
# of points take minutes and show no more); the report's captions say so.
FIGURE_ROWS = 10_000


def sample_rows(x: np.ndarray, size: int = FIGURE_ROWS, seed: int = 0) -> np.ndarray:
    """The rows of ``x`` (n, d) with no missing value; where there are more than ``size``, a
    random ``size`` of them (drawn without replacement, in their order; the same each time)."""
    n = x.shape[0]
    if n <= size:
        complete = np.isfinite(x).all(axis=1)
        return x if complete.all() else x[complete]
    rng = np.random.default_rng(seed)
    # a few more draws than needed, so that rows with a missing value can be dropped
    keep = sorted_unique(rng.integers(0, n, size=2 * size))
    keep = keep[np.isfinite(x[keep]).all(axis=1)]
    if keep.size < size:  # many rows with a missing value: draw among the complete ones
        keep = np.flatnonzero(np.isfinite(x).all(axis=1))
    if keep.size > size:
        keep = np.sort(rng.choice(keep, size=size, replace=False))
    return x[keep]


def as_fitted(model, x: np.ndarray):
    """Rows ``x`` (n, d) as ``model`` takes them: a DataFrame of its column names where it was
    fitted on named columns (a Dask DataFrame, with ``emkit fit --workers``), so that its
    predictions on the report's rows raise no scikit-learn warning about missing names;
    ``x`` itself otherwise."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return x
    import pandas as pd

    return pd.DataFrame(x, columns=list(names), copy=False)
