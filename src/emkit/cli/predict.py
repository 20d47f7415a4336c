"""``emkit predict MODEL DATA``: labels and component probabilities for new rows."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from emkit.cli.fit import parse_columns, probability_table, read_data
from emkit.estimators import load
from emkit.exceptions import DataError
from emkit.io import READERS


def register(subparsers) -> None:
    """Add the ``predict`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "predict",
        help="label new rows with a model written by emkit fit",
        description="Load a model file and write, for each row of the data, its most probable "
        "component (label), that component's probability, and p0..p{K-1}, as CSV.",
    )
    parser.add_argument("model", help="a model.json written by emkit fit (or model.save)")
    parser.add_argument("data", help="a .csv or .parquet file with a header row")
    parser.add_argument(
        "--columns",
        help="comma-separated columns, as many as the model has features "
        "(default: the first numeric columns)",
    )
    parser.add_argument("--out", help="CSV file to write (default: standard output)")
    parser.set_defaults(func=run)


def model_columns(path: str | Path, n_features: int) -> list[str] | None:
    """The first ``n_features`` numeric columns of a table; None to take every column.

    None is also returned when the file cannot be read, so that :func:`emkit.io.read_table`
    reports the problem in its own words.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        raw = READERS.get(path.suffix.lower(), pd.read_csv)(path)
    except Exception:  # read_table turns the same failure into one clear line
        return None
    if raw.shape[1] <= n_features:
        return None
    numeric = [
        str(c)
        for c in raw.columns
        if pd.api.types.is_numeric_dtype(raw[c]) and not pd.api.types.is_bool_dtype(raw[c])
    ]
    if len(numeric) < n_features:
        raise DataError(
            f"{path}: the model needs {n_features} numeric columns but the table has "
            f"{len(numeric)} ({', '.join(numeric) or 'none'}); choose them with --columns"
        )
    return numeric[:n_features]


def run(args: argparse.Namespace) -> int:
    """Run ``emkit predict`` from parsed arguments."""
    try:
        model = load(args.model)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    n_features = int(model.n_features_in_)
    names = getattr(model, "feature_names_in_", None)
    columns = parse_columns(args.columns)
    if columns is None and names is not None:
        columns = [str(name) for name in names]  # the columns the model was fitted on, by name
    if columns is None:
        columns = model_columns(args.data, n_features)
    frame = read_data(args.data, columns)
    if frame.shape[1] != n_features:
        raise DataError(
            f"{args.data}: the model needs {n_features} columns, got {frame.shape[1]} "
            f"({', '.join(map(str, frame.columns))}); choose {n_features} with --columns"
        )
    if names is not None:
        frame.columns = list(names)  # --columns may name others; the model reads its own
        table = probability_table(model, frame)
    else:
        table = probability_table(model, frame.to_numpy())
    if args.out:
        try:
            table.to_csv(args.out, index=False)
        except OSError as exc:
            raise DataError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    else:
        table.to_csv(sys.stdout, index=False)
    return 0
