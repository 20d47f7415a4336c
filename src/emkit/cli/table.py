"""Reading the tables people have: delimiter and decimal mark, id, text and constant columns.

:func:`read_raw` reads a CSV (delimiter and decimal mark detected unless given) or a Parquet
file as it is; :func:`select_features` picks the numeric columns a model uses, the id column
carried into the output, and says in :class:`Table.notes` what it left out and why.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from emkit.exceptions import DataError
from emkit.filecheck import check_regular_file

PARQUET_SUFFIXES = (".parquet", ".pq")
DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 64 * 1024
# a number written with a decimal comma: 3,14  -2,5e-3  ,5
COMMA_DECIMAL = re.compile(r"^[+-]?\d*,\d+([eE][+-]?\d+)?$")
DOT_DECIMAL = re.compile(r"^[+-]?\d*\.\d+([eE][+-]?\d+)?$")
ID_NAMES = {"id", "index", "key", "row", "rowid", "row_id", "unnamed: 0"}


@dataclass
class Table:
    """The columns a model reads, and what came with them.

    Attributes
    ----------
    features : DataFrame of float64 columns, the model's input, shape (n, d).
    ids : the id column (carried into the output), or None.
    notes : lines for the user: columns left out and why, the id column.
    """

    features: pd.DataFrame
    ids: pd.Series | None = None
    notes: list[str] = field(default_factory=list)


def sniff(path: Path) -> tuple[str, str]:
    """The delimiter and decimal mark of a text table, read from its first 64 KiB.

    The delimiter is the candidate (``, ; tab |``) that splits every sampled line into the same
    number (above one) of fields, the most fields winning; the decimal mark is a comma when the
    delimiter is not and fields such as ``3,14`` outnumber fields such as ``3.14``.
    """
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        text = f.read(SNIFF_BYTES)
    lines = [line for line in text.splitlines() if line.strip()]
    if len(text) == SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut in the middle
    lines = lines[:200]
    best, best_fields = ",", 1
    for delimiter in DELIMITERS:
        counts = {len(row) for row in csv.reader(lines, delimiter=delimiter)}
        if len(counts) == 1 and (n := counts.pop()) > best_fields:
            best, best_fields = delimiter, n
    decimal = "."
    if best != ",":
        fields = [v.strip() for row in csv.reader(lines[1:], delimiter=best) for v in row]
        commas = sum(bool(COMMA_DECIMAL.match(v)) for v in fields)
        dots = sum(bool(DOT_DECIMAL.match(v)) for v in fields)
        if commas > dots:
            decimal = ","
    return best, decimal


def read_raw(path: str | Path, sep: str | None = None, decimal: str | None = None) -> pd.DataFrame:
    """The whole table of a CSV (or TSV, ...) or Parquet file, columns as pandas reads them.

    Parameters
    ----------
    path : the file; ``.parquet``/``.pq`` is Parquet, anything else delimited text.
    sep : the delimiter; detected when None (see :func:`sniff`). ``\\t`` may be written ``tab``.
    decimal : the decimal mark, ``.`` or ``,``; detected when None.

    Raises
    ------
    DataError
        When the file is missing or cannot be parsed as a table.
    """
    path = Path(path)
    try:
        check_regular_file(path)  # a FIFO or a device would block or never end
    except OSError as exc:
        raise DataError(str(exc)) from None
    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            return pd.read_parquet(path)
        if sep is not None and sep.lower() in ("tab", "\\t"):
            sep = "\t"
        found_sep, found_decimal = sniff(path) if sep is None or decimal is None else (sep, decimal)
        sep = found_sep if sep is None else sep
        decimal = found_decimal if decimal is None else decimal
        return pd.read_csv(path, sep=sep, decimal=decimal, encoding="utf-8-sig")
    except DataError:
        raise
    except Exception as exc:  # pandas raises many types; one clear line is what the user needs
        raise DataError(f"{path}: cannot be read as a table ({exc})") from None


def is_boolean(column: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(column)


def is_number(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not is_boolean(column)


def _looks_like_id(name, column: pd.Series) -> bool:
    text = str(name).strip().lower()
    named = text in ID_NAMES or text.endswith(("_id", " id"))
    return named and column.notna().all() and column.is_unique


def find_id(frame: pd.DataFrame, id_column: str | None) -> str | None:
    """The id column: ``id_column``; else one named like an id (``id``, ``*_id``, ...) with
    unique values; else the first text column; else None."""
    if id_column is not None:
        if id_column not in frame.columns:
            raise DataError(
                f"--id {id_column!r}: no such column; columns are {_names(frame.columns)}"
            )
        return id_column
    for name in frame.columns:
        if _looks_like_id(name, frame[name]):
            return str(name)
    for name in frame.columns:
        if not is_number(frame[name]) and not is_boolean(frame[name]):
            return str(name)
    return None


def _names(names) -> str:
    return ", ".join(map(str, names))


def _example(column: pd.Series):
    bad = pd.to_numeric(column, errors="coerce").isna() & column.notna()
    return int(bad.sum()), (column[bad].iloc[0] if bad.any() else column.iloc[0])


def _as_numbers(frame: pd.DataFrame, path: Path, hint: str) -> pd.DataFrame:
    """The columns of ``frame`` as float64: numbers as they are, booleans as 0/1."""
    out = {}
    for name in frame.columns:
        column = frame[name]
        if is_boolean(column):
            out[name] = column.astype(np.float64)
        elif is_number(column):
            out[name] = column.astype(np.float64)
        else:
            count, example = _example(column)
            raise DataError(
                f"{path}: column {name!r} is not numeric ({count} rows such as {str(example)!r})"
                f"; {hint}"
            )
    return pd.DataFrame(out, index=frame.index)


def check_values(features: pd.DataFrame, path: Path, missing: str) -> None:
    """DataError for infinite values anywhere, and for NaN unless ``missing == "em"``."""
    values = features.to_numpy()
    for j, name in enumerate(features.columns):
        n_inf = int(np.isinf(values[:, j]).sum())
        if n_inf:
            raise DataError(f"{path}: column {name!r} has {n_inf} infinite value(s)")
        n_nan = int(np.isnan(values[:, j]).sum())
        if n_nan and missing != "em":
            raise DataError(
                f"{path}: column {name!r} has {n_nan} missing (NaN) value(s); pass --missing em "
                "to fit them as missing at random, or drop those rows"
            )
    if missing == "em":
        empty = np.isnan(values).all(axis=1)
        if empty.any():
            raise DataError(
                f"{path}: {int(empty.sum())} rows have no value in any column used (the first is "
                f"data row {int(np.argmax(empty)) + 1}); drop them first"
            )


def select_features(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    columns: list[str] | None = None,
    exclude: list[str] | None = None,
    id_column: str | None = None,
    missing: str = "error",
    drop_constant: bool = True,
) -> Table:
    """Pick a model's input columns from a raw table.

    Parameters
    ----------
    frame : the table as :func:`read_raw` returns it.
    path : its file, for messages.
    columns : the columns to use, in this order (booleans become 0/1); None for every numeric
        column but the id column and ``exclude``.
    exclude : columns never to use.
    id_column : the id column (``--id``); found by :func:`find_id` when None.
    missing : "error" (NaN is an error) or "em" (NaN stays, as a missing value).
    drop_constant : leave out (with a note) columns with a single value.

    Raises
    ------
    DataError
        When a named column is absent or not numeric, nothing numeric is left, the table is
        empty, or a value is infinite (or NaN, unless ``missing="em"``).
    """
    path = Path(path)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(f"{path}: the table is empty (no rows or no columns)")
    frame = frame.rename(columns=str)
    notes: list[str] = []
    absent = [c for c in [*(columns or []), *(exclude or [])] if c not in frame.columns]
    if absent:
        raise DataError(
            f"{path}: no column {', '.join(map(repr, absent))}; columns are {_names(frame.columns)}"
        )
    ident = find_id(frame, id_column)
    ids = frame[ident] if ident is not None else None
    if columns is not None:
        features = _as_numbers(frame[columns], path, "leave it out of --columns")
    else:
        left_out = {ident, *(exclude or [])}
        text = [c for c in frame.columns if c not in left_out and not is_number(frame[c])]
        chosen = [c for c in frame.columns if c not in left_out and c not in text]
        if text:
            kinds = [f"{c} ({'boolean' if is_boolean(frame[c]) else 'text'})" for c in text]
            notes.append(
                f"skipped {len(text)} non-numeric column{'s' if len(text) > 1 else ''}: "
                f"{', '.join(kinds)}; choose columns with --columns (booleans count as 0/1 there)"
            )
        if not chosen:
            raise DataError(
                f"{path}: no numeric column to use (columns are {_names(frame.columns)}); "
                "choose them with --columns"
            )
        features = frame[chosen].astype(np.float64)
    if ident is not None:
        how = "--id" if id_column is not None else "the first id-like or text column"
        notes.append(f"id column {ident!r} ({how}) is carried into the output")
    if drop_constant:
        constant = [c for c in features.columns if features[c].nunique(dropna=True) <= 1]
        if constant and len(constant) < features.shape[1]:
            values = [features[c].dropna() for c in constant]
            shown = [
                f"{c} = {v.iloc[0]:g}" if len(v) else f"{c} (all missing)"
                for c, v in zip(constant, values, strict=True)
            ]
            notes.append(
                f"warning: left out {len(constant)} constant column"
                f"{'s' if len(constant) > 1 else ''} ({', '.join(shown)}): a single value "
                "carries no information about clusters and would make every component singular"
            )
            features = features.drop(columns=constant)
        elif constant:
            raise DataError(
                f"{path}: every column used is constant ({_names(constant)}); "
                "there is nothing to cluster"
            )
    check_values(features, path, missing)
    return Table(features=features, ids=ids, notes=notes)
