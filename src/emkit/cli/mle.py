"""``emkit mle FAMILY DATA``: maximum likelihood estimates with standard errors, as a table."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from emkit.exceptions import DataError

# families fitted from one column of the table (functions of emkit.mle, imported when run)
ONE_COLUMN = ("bernoulli", "poisson", "exponential", "normal", "categorical")
# families fitted from several columns
MANY_COLUMNS = ("multivariate_normal",)


def register(subparsers) -> None:
    """Add the ``mle`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "mle",
        help="maximum likelihood estimate of a distribution's parameters, with standard errors",
        description="Fit a distribution by maximum likelihood and print estimates, standard "
        "errors and Wald intervals.",
    )
    parser.add_argument("family", choices=[*ONE_COLUMN, *MANY_COLUMNS])
    parser.add_argument("data", help="a .csv or .parquet file")
    parser.add_argument("--column", help="the column to fit (families of one variable)")
    parser.add_argument(
        "--columns", help="comma-separated columns (multivariate_normal; all columns by default)"
    )
    parser.add_argument(
        "--level", type=float, default=0.95, help="confidence level of the intervals (0.95)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read the data, fit, print the table; bad data raise DataError (exit status 2)."""
    from emkit import mle
    from emkit.io import read_table

    if not 0 < args.level < 1:
        raise DataError(f"--level must lie strictly between 0 and 1, got {args.level}")
    if args.family in MANY_COLUMNS:
        columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
        if args.column:
            columns = [args.column]
        frame = read_table(args.data, columns)
        values = frame.to_numpy()
        fit: Callable[[Any], mle.Estimate] = getattr(mle, args.family)
        where = f"{args.data}: columns {', '.join(map(str, frame.columns))}"
    else:
        if args.columns:
            raise DataError(f"{args.family} takes one column: use --column, not --columns")
        frame = read_table(args.data, [args.column] if args.column else None)
        if frame.shape[1] != 1:
            raise DataError(
                f"{args.data}: {frame.shape[1]} columns; choose one with --column "
                f"(columns are {', '.join(map(str, frame.columns))})"
            )
        values = frame.iloc[:, 0].to_numpy()
        fit = getattr(mle, args.family)
        where = f"{args.data}: column {frame.columns[0]!r}"
    try:
        estimate = fit(values)
    except ValueError as exc:
        raise DataError(f"{where}: {exc}") from None
    print(estimate.report(args.level))
    return 0
