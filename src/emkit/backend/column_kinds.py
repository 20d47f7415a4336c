"""What a column holds where NumPy's conversion to float would misread it: times (dates,
durations, times of day, calendar intervals), and pandas' missing value ``pd.NA`` in object
and text columns. Read by the sources, the Dask reader, the estimators' validation and the
CLI alike, so that each reads a column the same way."""

from __future__ import annotations

from typing import Any

import numpy as np


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


def na_as_nan(x):
    """``x`` with pandas' missing value ``pd.NA`` in object and text columns (of a DataFrame,
    or an object array) replaced by NaN, which NumPy's conversion to float cannot read; ``x``
    itself where it holds no such column. A text column (``string``, ``string[pyarrow]``,
    ``str``, a pyarrow string) is read as the object column of the same text: as objects,
    NaN where missing. None converts to NaN already, and a nullable numeric column (Float64,
    Int64) is scikit-learn's to convert."""
    if isinstance(x, np.ndarray) and x.dtype == object:
        import pandas as pd

        return np.where(pd.isna(x), np.nan, x)
    if not hasattr(x, "isetitem"):  # not a pandas DataFrame
        return x
    from pandas.api.types import is_string_dtype

    texts = [
        j
        for j, t in enumerate(x.dtypes)
        if (t.kind == "O" if isinstance(t, np.dtype) else is_string_dtype(t))
    ]
    if texts:
        x = x.copy()
        for j in texts:
            column = x.iloc[:, j].astype(object)
            x.isetitem(j, column.mask(column.isna(), np.nan))
    return x
