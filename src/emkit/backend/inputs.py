"""What ``fit`` received, as a data source: the one place that tells a Dask collection from
an array, a file or chunks, checks its rows and draws the rows EM starts from."""

from __future__ import annotations

from typing import Any

import numpy as np

from emkit.backend.dask_source import DaskSource, dask_source, is_dask_collection
from emkit.backend.sampling import sample_rows
from emkit.backend.sources import DEFAULT_CHUNK_ROWS, DataSource, as_chunks
from emkit.backend.validation import CheckedChunks


def as_source(
    data: Any,
    sample_weight: Any = None,
    dtype: Any = np.float64,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> DataSource | None:
    """:func:`~emkit.backend.sources.as_chunks`, and a Dask Array or DataFrame as a
    :class:`~emkit.backend.dask_source.DaskSource` (its partitions stay on the workers).

    None for in-memory data, which the estimator validates and reads through
    :func:`~emkit.backend.sources.array_source`.
    """
    if isinstance(data, DaskSource):
        return data
    if is_dask_collection(data):
        return dask_source(data, sample_weight, dtype=dtype)
    return as_chunks(data, sample_weight, dtype, chunk_rows)


def checked(
    source: DataSource,
    columns: int,
    *,
    allow_nan: bool = False,
    drop_empty_rows: bool = False,
    nan_hint: str = "drop or impute them before fitting",
) -> DataSource:
    """``source`` with every chunk checked as it is read (see
    :class:`~emkit.backend.validation.CheckedChunks`); a Dask source checks its partitions on
    the workers, once, with the same errors naming the partition."""
    if isinstance(source, DaskSource):
        return source.checked(
            columns, allow_nan=allow_nan, drop_empty_rows=drop_empty_rows, nan_hint=nan_hint
        )
    return CheckedChunks(source, columns, allow_nan, drop_empty_rows, nan_hint)


def start_rows(
    source: DataSource, size: int, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray | None]:
    """Every row (and weight) of ``source`` where it has at most ``size``, else a uniform
    random ``size`` of them, in order: the rows EM starts from. A Dask source draws them on
    the workers; the rows are those an in-memory array of the same data gives."""
    if isinstance(source, DaskSource):
        return source.sample_rows(size, rng)
    n = source.n_rows
    if n > size:
        return sample_rows(source, n, size, rng)
    parts = list(source)
    x = np.concatenate([np.asarray(c, dtype=np.float64) for c, _ in parts])
    weights = [w for _, w in parts if w is not None]
    return x, (np.concatenate(weights) if weights else None)
