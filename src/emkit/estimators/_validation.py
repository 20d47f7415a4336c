"""Input checks at the estimator boundary: once, with messages that say what to do."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import _check_sample_weight, validate_data


def check_rows(estimator, x, *, reset: bool, min_rows: int = 1) -> np.ndarray:
    """Validate ``x`` as a finite 2-D float array with at least ``min_rows`` rows."""
    x = validate_data(
        estimator, x, reset=reset, dtype=[np.float64, np.float32], ensure_min_samples=1
    )
    if x.shape[0] < min_rows:
        raise ValueError(
            f"{type(estimator).__name__} needs at least {min_rows} rows (samples) here; "
            f"got n_samples = {x.shape[0]}. Use fewer components or more data."
        )
    return x


def check_weights(sample_weight, x: np.ndarray) -> np.ndarray | None:
    """Validate sample weights: finite, non-negative, one per row, not all zero."""
    if sample_weight is None:
        return None
    w = _check_sample_weight(sample_weight, x, dtype=np.float64, ensure_non_negative=True)
    if not w.sum() > 0:
        raise ValueError("sample_weight sums to zero: at least one row needs a positive weight")
    return w
