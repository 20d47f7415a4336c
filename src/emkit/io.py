"""Reading tables from CSV or Parquet, with one clear error per problem."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from emkit.exceptions import DataError
from emkit.filecheck import check_regular_file

READERS = {
    ".csv": pd.read_csv,
    ".txt": pd.read_csv,
    ".parquet": pd.read_parquet,
    ".pq": pd.read_parquet,
}


# Numbers written with thousands separators ("1,234.5", "12 345", "1'234", "1_234"; "1.234,5"
# with a decimal comma) or a decimal comma ("3,14", "-2,5e-3"): text to a CSV reader, numbers
# to the person who wrote them. A leading group of 0 ("0,125") is no thousands.
_THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2}([,' _\u00a0\u202f])\d{3}(?:\1\d{3})*(?:\.\d+)?")
_DOT_THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2}(?:\.\d{3})+(?:,\d+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?")


def _not_plain(column: pd.Series) -> pd.Series:
    """The values of ``column`` (as stripped text) that are not plain numbers."""
    text = column.dropna().astype(str).str.strip()
    return text[pd.to_numeric(text, errors="coerce").isna()]


def written_as_numbers(column: pd.Series) -> bool:
    """Whether every value of ``column`` is a number, written plainly or as
    :func:`number_format_hint` recognises (a cheap look at a column's first rows tells a
    column of names from one worth reading whole)."""
    odd = _not_plain(column)
    formatted = (
        odd.str.fullmatch(_THOUSANDS)
        | odd.str.fullmatch(_DOT_THOUSANDS)
        | odd.str.fullmatch(_DECIMAL_COMMA)
    )
    return bool(formatted.all())


def number_format_hint(column: pd.Series, cli: bool = False) -> str | None:
    """What a text column's values are where each that is not a number is one written with
    thousands separators or a decimal comma (a phrase with an example and what to do), else
    None; ``cli`` adds the command line's way out (``--decimal ,``)."""
    odd = _not_plain(column)
    if odd.empty:
        return None
    example = odd.iloc[0]
    thousands = bool(odd.str.fullmatch(_THOUSANDS).all())
    comma = bool(odd.str.fullmatch(_DECIMAL_COMMA).all())
    flag = " (or, where the file's delimiter is not a comma, give --decimal ,)" if cli else ""
    if thousands and comma:  # "1,500": 1500 or 1.5
        return (
            f"numbers written with thousands separators or a decimal comma (such as "
            f"{example!r}): write them plainly in the file, or read it with "
            "pandas.read_csv(..., thousands=',') or (..., decimal=',') as they mean and save it "
            "again"
        )
    if thousands:
        sep = _THOUSANDS.fullmatch(example).group(1)  # type: ignore[union-attr]
        return (
            f"numbers written with thousands separators (such as {example!r}): remove the "
            f"separators in the file, or read it with pandas.read_csv(..., thousands={sep!r}) "
            "and save it again"
        )
    if comma:
        return (
            f"numbers written with a decimal comma (such as {example!r}): write decimal points "
            "in the file, or read it with pandas.read_csv(..., decimal=',') and save it again"
            + flag
        )
    if bool((odd.str.fullmatch(_DOT_THOUSANDS) | odd.str.fullmatch(_DECIMAL_COMMA)).all()):
        return (
            f"numbers written with '.' thousands separators and a decimal comma (such as "
            f"{example!r}): write them plainly in the file, or read it with "
            "pandas.read_csv(..., thousands='.', decimal=',') and save it again"
        )
    return None


def read_table(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file and return its numeric columns as float64.

    Parameters
    ----------
    path : path to a ``.csv`` or ``.parquet`` file.
    columns : names of the columns to keep; all columns when None.

    Raises
    ------
    DataError
        When the file is missing or unreadable, a column is absent or not numeric,
        the table is empty, or a value is NaN or infinite.
    """
    path = Path(path)
    try:
        check_regular_file(path)  # a FIFO or a device would block or never end
    except OSError as exc:
        raise DataError(str(exc)) from None
    reader = READERS.get(path.suffix.lower(), pd.read_csv)
    try:
        frame = reader(path)
    except Exception as exc:  # pandas raises many types; one clear line is what the user needs
        raise DataError(f"{path}: cannot be read as a table ({exc})") from None
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(
                f"{path}: no column {', '.join(map(repr, missing))}; "
                f"columns are {', '.join(map(str, frame.columns))}"
            )
        frame = frame[columns]
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(f"{path}: the table is empty (no rows or no columns)")
    for name in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[name]) or pd.api.types.is_bool_dtype(
            frame[name]
        ):
            hint = number_format_hint(frame[name])
            if hint is not None:
                raise DataError(f"{path}: column {name!r} holds {hint}")
            bad = pd.to_numeric(frame[name], errors="coerce").isna() & frame[name].notna()
            example = frame[name][bad].iloc[0] if bad.any() else frame[name].iloc[0]
            raise DataError(
                f"{path}: column {name!r} is not numeric ({int(bad.sum())} rows such as "
                f"{example!r}); choose numeric columns with --columns"
            )
    values = frame.to_numpy(dtype=np.float64)
    for j, name in enumerate(frame.columns):
        n_nan = int(np.isnan(values[:, j]).sum())
        n_inf = int(np.isinf(values[:, j]).sum())
        if n_nan:
            raise DataError(
                f"{path}: column {name!r} has {n_nan} missing (NaN) value(s); "
                "drop or impute those rows first"
            )
        if n_inf:
            raise DataError(f"{path}: column {name!r} has {n_inf} infinite value(s)")
    return frame.astype(np.float64)
