"""Checks a data source applies to its chunks as they are read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from emkit.backend.sources import ChunkSource


@dataclass(frozen=True)
class CheckedChunks(ChunkSource):
    """A source whose every chunk is checked once per pass: 2-D, ``n_features`` wide, finite.

    Attributes
    ----------
    source : the chunk source checked.
    columns : columns every chunk must have (``n_features``).
    allow_nan : NaN marks a missing value (inf stays an error). A row with no observed value
        is then an error, or, with ``drop_empty_rows``, left out with its weight (it carries
        no information); ``total_weight`` and ``n_rows`` still count it.
    drop_empty_rows : see ``allow_nan``.
    nan_hint : where NaN is an error, what the message suggests instead.
    """

    source: Any
    columns: int
    allow_nan: bool = False
    drop_empty_rows: bool = False
    nan_hint: str = "drop or impute them before fitting"

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        row = 0
        for x, w in self.source:
            if x.ndim != 2 or x.shape[1] != self.n_features:
                raise ValueError(
                    f"the chunk at row {row} has shape {x.shape}; every chunk must be 2-D with "
                    f"{self.n_features} columns (features)"
                )
            start, row = row, row + x.shape[0]
            if np.isfinite(x).all():
                yield x, w
                continue
            if np.isinf(x).any():
                raise ValueError(
                    f"the chunk at row {start} contains infinite values; drop or replace them "
                    "before fitting"
                )
            if not self.allow_nan:
                raise ValueError(
                    f"the chunk at row {start} contains {nan_report(x)}; {self.nan_hint}"
                )
            empty = np.isnan(x).all(axis=1)  # (m,)
            if empty.any() and not self.drop_empty_rows:
                raise ValueError(
                    f"{int(empty.sum())} rows of the chunk at row {start} have no observed value "
                    f"(every entry is NaN; the first is row {start + int(np.argmax(empty))}). "
                    "They carry no information; drop them first."
                )
            if empty.any():
                x, w = x[~empty], None if w is None else w[~empty]
            if x.shape[0]:
                yield x, w

    @property
    def total_weight(self) -> float:
        return self.source.total_weight

    @property
    def n_rows(self) -> int:
        return self.source.n_rows

    @property
    def n_features(self) -> int:
        return self.columns

    @property
    def feature_names(self) -> np.ndarray | None:
        return self.source.feature_names


def nan_report(x: np.ndarray) -> str:
    """Where the NaN of ``x`` (n, d) are: "NaN in 3 of 100 rows (columns [0, 2])"."""
    nan = np.isnan(x)
    columns = np.flatnonzero(nan.any(axis=0)).tolist()
    shown = str(columns) if len(columns) <= 10 else f"{columns[:10]}"[:-1] + ", ...]"
    return f"NaN in {int(nan.any(axis=1).sum())} of {x.shape[0]} rows (columns {shown})"


def time_kind_of(dtype: Any, first: Any = None) -> str | None:
    """What a column of ``dtype`` holds where it holds times rather than numbers: "dates"
    (timestamps, dates, periods), "durations" (time deltas), "times of day" or "intervals"
    (calendar intervals: months, days and nanoseconds), else None.

    ``dtype`` is a NumPy dtype, a pandas dtype (``pd.ArrowDtype`` included) or a pyarrow
    ``DataType``; for an object column, ``first`` is its first present value, which says
    what pandas made of a pyarrow date, time or interval column (``datetime.date``,
    ``datetime.time``, ``pd.DateOffset``). NumPy casts dates and durations to float as
    counts of their unit, and fails on times of day and intervals with a bare ``float()``
    TypeError."""
    arrow = getattr(dtype, "pyarrow_dtype", dtype)  # pd.ArrowDtype wraps a pyarrow type
    if type(arrow).__module__.startswith("pyarrow"):
        import pyarrow as pa

        if pa.types.is_timestamp(arrow) or pa.types.is_date(arrow):
            return "dates"
        if pa.types.is_duration(arrow):
            return "durations"
        if pa.types.is_time(arrow):
            return "times of day"
        if pa.types.is_interval(arrow):
            return "intervals"
        return None
    if type(dtype).__name__ == "PeriodDtype":
        return "dates"
    kind = getattr(dtype, "kind", "O")
    if kind in "Mm":
        return "dates" if kind == "M" else "durations"
    if kind == "O" and first is not None:
        import datetime

        if isinstance(first, datetime.date):  # datetime.datetime too
            return "dates"
        if isinstance(first, datetime.time):
            return "times of day"
        if type(first).__name__ == "DateOffset":
            return "intervals"
    return None
