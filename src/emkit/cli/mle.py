"""``emkit mle FAMILY DATA``: maximum likelihood estimates with standard errors, as a table.

Every family of :mod:`emkit.mle`, and the linear and nonlinear regressions
written as formulas. Rows of the table are named by what they estimate: a category's name, a
column's name, a formula's parameter.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from typing import TYPE_CHECKING

from emkit.cli.fit import THOUSANDS_HELP, note
from emkit.exceptions import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from emkit.mle import Estimate

# families fitted from one column of the table
ONE_COLUMN = ("bernoulli", "binomial", "poisson", "exponential", "gamma", "normal", "categorical")
# families fitted from several columns
MANY_COLUMNS = ("multivariate_normal",)
REGRESSIONS = ("linear", "nonlinear")
FAMILIES = (*ONE_COLUMN, *MANY_COLUMNS, *REGRESSIONS)
# Each option (its argparse dest): its flag and the families it applies to.
OPTIONS = {
    "column": ("--column", (*ONE_COLUMN, *MANY_COLUMNS)),
    "columns": ("--columns", MANY_COLUMNS),
    "trials": ("--trials", ("binomial",)),
    "formula": ("--formula", REGRESSIONS),
    "response": ("--y", ("linear",)),
    "regressors": ("--x", ("linear",)),
    "start": ("--start", ("nonlinear",)),
    "variance": ("--variance", REGRESSIONS),
}


# What the command uses, loaded while Ctrl-C is held (emkit.cli.main).
MODULES = ("numpy", "pandas", "pyarrow.csv", "emkit.mle")


def register(subparsers) -> None:
    """Add the ``mle`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "mle",
        help="maximum likelihood estimate of a distribution's or a regression's parameters",
        description="Fit a distribution or a regression by maximum likelihood and print "
        "estimates, standard errors, z, p-values and Wald intervals, as statsmodels prints "
        "them. Examples: emkit mle poisson counts.csv --column visits; emkit mle categorical "
        "iris.csv --column species; emkit mle linear cars.csv --formula 'mpg ~ weight + hp'; "
        "emkit mle nonlinear decay.csv --formula 'y ~ a * exp(-k * t)' --start a=1,k=0.5",
    )
    parser.add_argument("family", choices=FAMILIES)
    parser.add_argument(
        "data", help="a .csv (any delimiter) or .parquet file, or a folder of .parquet files"
    )
    parser.add_argument("--column", help="the column to fit (families of one variable)")
    parser.add_argument(
        "--columns", help="comma-separated columns (multivariate_normal; all numeric by default)"
    )
    parser.add_argument(
        "--trials",
        help="binomial: the number of trials per row, a number or a column name (default 1)",
    )
    parser.add_argument(
        "--formula",
        help="regressions: 'log(y) ~ x1 * x2 + log(x3) + I(x1 ** 2)' (linear, read as R's lm "
        "reads it: columns, functions of them, arithmetic inside I(); a:b the product of "
        "numeric terms, a*b a + b + a:b, (a + b):c a:c + b:c; '- a' removes a term, '+ 0' the "
        "intercept; the response may be a function of columns) or 'y ~ a * exp(-k * x)' "
        "(nonlinear: names in --start are parameters, others columns)",
    )
    parser.add_argument("--y", dest="response", help="linear: the response column")
    parser.add_argument("--x", dest="regressors", help="linear: comma-separated regressors")
    parser.add_argument(
        "--start", help="nonlinear: starting values of the parameters, e.g. a=1,k=0.5"
    )
    parser.add_argument(
        "--variance",
        choices=("mle", "unbiased"),
        help="regressions: the noise variance RSS/N (mle, the default) or RSS/(N - p) "
        "(unbiased: standard errors, t statistics and intervals as statsmodels' OLS and R's lm)",
    )
    parser.add_argument("--sep", help="CSV delimiter (default: detected from the file)")
    parser.add_argument(
        "--decimal", choices=(".", ","), help="decimal mark (default: detected from the file)"
    )
    parser.add_argument("--thousands", help=THOUSANDS_HELP)
    parser.add_argument(
        "--level", type=float, default=0.95, help="confidence level of the intervals (0.95)"
    )
    parser.set_defaults(func=run, modules=MODULES)


def run(args: argparse.Namespace) -> int:
    """Read the data, fit, print the table; bad data raise DataError (exit status 2)."""
    from pathlib import Path

    from emkit.cli import out
    from emkit.cli.table import delimiter_and_decimal, is_parquet, read_raw, renamed_header

    if not 0 < args.level < 1:
        raise DataError(f"--level must lie strictly between 0 and 1, got {args.level}")
    frame = read_raw(args.data, args.sep, args.decimal, args.thousands)
    for line in frame.attrs.get("notes", []):
        note(line)
    path = Path(args.data)
    if not is_parquet(path):  # pandas' names for a header's repeated or empty ones, as fit
        sep = delimiter_and_decimal(path, args.sep, args.decimal)[0]
        names = [str(c) for c in frame.columns]
        renamed = renamed_header(path, sep, names, "--column, --columns, --y, --x or --formula")
        if renamed:
            note(renamed)
    frame = frame.rename(columns=str)
    if frame.shape[0] == 0:
        raise DataError(f"{args.data}: the table is empty (no rows)")
    check_options(args)
    if args.family in REGRESSIONS:
        estimate, where = regression(args, frame)
    elif args.family in MANY_COLUMNS:
        estimate, where = multivariate(args, frame)
    else:
        estimate, where = one_column(args, frame)
    out(where)
    out(estimate.report(args.level))
    return 0


def check_options(args: argparse.Namespace) -> None:
    """DataError for an option given that ``args.family`` does not use, naming those it does."""
    for dest, (flag, families) in OPTIONS.items():
        if getattr(args, dest, None) is None or args.family in families:
            continue
        which = ", ".join(families)
        if families == REGRESSIONS:
            which = f"the regressions ({which})"
        own = [f for f, fams in OPTIONS.values() if args.family in fams]
        raise DataError(
            f"{flag} applies to {which}, not {args.family}; {args.family} takes "
            f"{', '.join(own) if own else 'none of the family options'}"
        )
    if args.family == "linear" and args.formula and (args.response or args.regressors):
        raise DataError("linear takes --formula or --y and --x, not both")


def _names(frame: pd.DataFrame) -> str:
    from emkit.cli.table import listed

    return listed(frame.columns)


def _columns(frame: pd.DataFrame, names: list[str], path) -> pd.DataFrame:
    """Columns ``names`` of ``frame``, named as asked: a name matches a column with white
    space around it (``b`` the column ``' b'`` of a header ``a, b``; see
    :func:`emkit.cli.table.named`). A text table's header row that is a row of data is
    refused, as ``emkit fit`` refuses it (:func:`emkit.cli.table.check_header`)."""
    from pathlib import Path

    from emkit.cli.table import FrameColumns, check_header, comma_names, is_parquet, named

    found = [named(c, list(frame.columns)) for c in names]
    absent = [c for c, f in zip(names, found, strict=True) if f is None]
    if absent:
        raise DataError(
            f"{path}: no column {', '.join(map(repr, absent))}; columns are {_names(frame)}"
            + comma_names(list(frame.columns))
        )
    if not is_parquet(Path(path)):
        check_header(FrameColumns(frame), [str(f) for f in found], path)
    return frame[found].set_axis(names, axis=1)


def default_columns(
    frame: pd.DataFrame, path, flag: str, left_out: list[str | None] | None = None
) -> tuple[list[str], list[str]]:
    """The numeric columns of ``frame`` but ``left_out``, used where ``flag`` names none, and
    notes for the user, as ``emkit fit`` chooses them (:func:`emkit.cli.table.numeric_columns`:
    the columns skipped, numbers written with separators, a column of numbers with stray
    entries refused); columns with no value (a delimiter at the end of every line makes one)
    are left out, with a note.
    """
    import pandas as pd

    from emkit.cli.table import FrameColumns, listed, numeric_columns

    which = "the column" if flag == "--column" else "columns"
    for name in frame.columns.difference([c for c in left_out or [] if c is not None]):
        present = frame[name].dropna()
        # text of integers beyond int64, which emkit fit reads as numbers (and refuses)
        texts = frame[name].dtype.kind == "O" and len(present) > 0
        if texts and pd.to_numeric(present, errors="coerce").notna().all():
            _refuse_rounded(frame[name], name, path)
    names, notes, _, _ = numeric_columns(
        FrameColumns(frame),
        path,
        left_out=[c for c in left_out or [] if c is not None],
        emptied="rows with one are left out",
        instead=f"choose {which} with {flag}",
        choose=f"choose {which} with {flag}",
    )
    empty = [c for c in names if frame[c].isna().all()]
    if empty:
        one = len(empty) == 1
        notes.append(
            f"left out {len(empty)} column{'' if one else 's'} with no value ({listed(empty)})"
        )
    return [c for c in names if c not in empty], notes


def _complete(frame: pd.DataFrame, path) -> pd.DataFrame:
    """Rows with a value in every column of ``frame`` (a note when some are dropped)."""
    kept = frame.dropna()
    if len(kept) < len(frame):
        note(f"{path}: left out {len(frame) - len(kept)} rows with a missing value")
    if len(kept) == 0:
        raise DataError(f"{path}: no row has a value in every column used")
    return kept


def _refuse_rounded(column: pd.Series, name: str, path) -> None:
    """DataError where ``column`` holds integers that float64 cannot hold exactly (int64
    beyond 2**53, or text of integers beyond int64), in the words of ``emkit fit``
    (:func:`~emkit.cli.table.column_refusal`): converted, they were estimated rounded, or
    called not numeric."""
    from emkit.backend.integers import present_values
    from emkit.cli.table import column_refusal

    if getattr(column.dtype, "kind", None) in ("i", "u", "O"):
        refusal = column_refusal(present_values(column), name, path, "mle")
        if refusal is not None:
            raise DataError(refusal)


def _numbers(frame: pd.DataFrame, path, what: str) -> np.ndarray:
    """The columns as float64 (booleans as 0/1); DataError naming a column of integers that
    float64 cannot hold exactly, or a text column and, after ``what`` (the family), what to
    do."""
    import numpy as np
    import pandas as pd

    from emkit.cli.table import mostly_numbers, not_numbers, numbers_as_text
    from emkit.io import not_plain_numbers, number_format_hint

    for name in frame.columns:
        column = frame[name]
        _refuse_rounded(column, name, path)
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
            numbers = number_format_hint(column, cli=True)
            if numbers is not None:
                raise DataError(f"{path}: column {name!r} holds {numbers}")
            stray = not_plain_numbers(column)
            as_text = numbers_as_text(path, name, column, stray)
            if as_text is not None:
                raise DataError(as_text)
            if mostly_numbers(column, stray):
                hint = "correct those values, or empty their cells (rows with one are left out)"
            elif what in REGRESSIONS:
                hint = (
                    f"{what} regression takes numeric columns: code the categories as 0/1 "
                    "columns in the file (one per category but one)"
                )
            elif what in MANY_COLUMNS:
                hint = f"{what} takes numeric columns; choose them with --columns"
            else:
                hint = f"{what} takes numbers (emkit mle categorical takes names)"
            raise DataError(
                f"{path}: column {name!r} is not numeric ({not_numbers(column, stray)}); {hint}"
            )
    return frame.to_numpy(dtype=np.float64)


# The Python functions the command line runs as ``emkit mle FAMILY``, as messages name them.
COMMANDS = {
    **{f"mle.{name}": f"emkit mle {name}" for name in (*ONE_COLUMN, *MANY_COLUMNS)},
    "mle.linear_regression": "emkit mle linear",
    "mle.nonlinear_regression": "emkit mle nonlinear",
}


def as_command(message: str) -> str:
    """The message of an ``emkit.mle`` function, its advice naming the commands of the command
    line (``use emkit mle exponential``) where it names the Python functions."""
    return re.sub(r"\bmle\.[a-z_]+\b", lambda m: COMMANDS.get(m.group(0), m.group(0)), message)


def _fit(fit, where: str, *data, **options):
    try:
        return fit(*data, **options)
    except ValueError as exc:
        raise DataError(f"{where}: {as_command(str(exc))}") from None


def one_column(args: argparse.Namespace, frame: pd.DataFrame) -> tuple[Estimate, str]:
    """A family of one variable, from ``--column`` (or the one numeric column)."""
    from emkit import mle

    if args.column:
        from emkit.cli.table import named

        # absent: _columns' DataError, naming the columns
        column = str(named(args.column, list(frame.columns)) or args.column)
    else:
        candidates, notes = list(frame.columns), list[str]()
        if args.family != "categorical":  # which takes names
            candidates, notes = default_columns(frame, args.data, "--column")
        if len(candidates) != 1:
            if frame.shape[1] != 1:
                raise DataError(
                    f"{args.data}: {frame.shape[1]} columns; choose one with --column "
                    f"(columns are {_names(frame)})"
                )
            candidates, notes = list(frame.columns), []  # its own message, if not numbers
        for line in notes:
            note(line)
        column = candidates[0]
    where = f"{args.data}: column {column!r}"
    if args.family == "binomial":
        return binomial(args, frame, column), where
    values = _complete(_columns(frame, [column], args.data), args.data)[column]
    if args.family == "categorical":
        return categorical(values, where), where
    x = _numbers(values.to_frame(), args.data, args.family)[:, 0]
    return _fit(getattr(mle, args.family), where, x), where


def categorical(values: pd.Series, where: str) -> Estimate:
    """Category probabilities, one row per distinct value (sorted), named by it; a column of
    whole numbers (float because of a missing value) by the numbers, a categorical column
    (Parquet's dictionary columns) by its declared categories, observed or not."""
    import numpy as np
    import pandas as pd

    from emkit import mle

    if isinstance(values.dtype, pd.CategoricalDtype):
        return _fit(mle.categorical, where, values)
    if pd.api.types.is_float_dtype(values) and (values == np.round(values)).all():
        values = values.astype(np.int64)
    codes, categories = pd.factorize(values, sort=True)
    estimate = _fit(mle.categorical, where, codes, len(categories))
    return dataclasses.replace(estimate, labels=tuple(f"probs[{c}]" for c in categories))


def binomial(args: argparse.Namespace, frame: pd.DataFrame, column: str) -> Estimate:
    """Successes from ``column``, trials from ``--trials`` (a number or a column)."""
    import numpy as np

    from emkit import mle

    trials = args.trials or "1"
    try:
        n: object = float(trials)
        used = [column]
    except ValueError:
        n = None
        used = [column, trials]
    data = _complete(_columns(frame, used, args.data), args.data)
    values = _numbers(data, args.data, "binomial")
    k = values[:, 0]
    if n is None:
        n = values[:, 1]
    elif not float(str(n)).is_integer():
        raise DataError(f"--trials {trials}: a whole number or a column name")
    where = f"{args.data}: column {column!r}, trials {trials}"
    estimate = _fit(mle.binomial, where, k, np.broadcast_to(np.asarray(n), k.shape))
    # the observations are the table's rows, as statsmodels' GLM Binomial counts them (the
    # estimate's n is the trials, which the method line then names)
    method = f"{estimate.method} ({estimate.n} trials)"
    return dataclasses.replace(estimate, n=len(k), method=method)


def multivariate(args: argparse.Namespace, frame: pd.DataFrame) -> tuple[Estimate, str]:
    """A multivariate normal of ``--columns`` (default: every numeric column)."""
    import pandas as pd

    from emkit import mle
    from emkit.cli.fit import parse_list
    from emkit.cli.table import listed

    if args.column:
        names = [args.column]
    elif args.columns:
        names = parse_list(args.columns, "--columns") or []
    else:
        names, notes = default_columns(frame, args.data, "--columns")
        for line in notes:
            note(line)
        if not names:
            raise DataError(
                f"{args.data}: no numeric column to use (columns are {_names(frame)}); "
                "choose them with --columns"
            )
    data = _complete(_columns(frame, names, args.data), args.data)
    where = f"{args.data}: columns {listed(names)}"
    values = _numbers(data, args.data, "multivariate_normal")
    # a DataFrame: the estimate names its rows and the columns in messages by the names
    estimate = _fit(mle.multivariate_normal, where, pd.DataFrame(values, columns=names))
    return estimate, where


def regression(args: argparse.Namespace, frame: pd.DataFrame) -> tuple[Estimate, str]:
    """Linear (``--formula 'y ~ x1 + x2'`` or ``--y``/``--x``) or nonlinear regression."""
    from emkit.cli.fit import parse_list
    from emkit.cli.formula import column_key, linear_terms, parse_expression, split, term_key

    if args.family == "linear":
        if args.formula:
            response, terms, intercept = linear_terms(args.formula)
        elif args.response and args.regressors:
            response = args.response
            terms = [(t,) for t in parse_list(args.regressors, "--x") or []]
            intercept = True
            if (response,) in terms:
                raise DataError(f"--x names the response {response!r}, which cannot explain itself")
        else:
            raise DataError("linear needs --formula 'y ~ x1 + x2', or --y and --x")
        if (".",) in terms:  # y ~ . : every other numeric column
            from emkit.cli.table import named

            columns = list(frame.columns)
            _, outcome = _response(frame, response)
            left_out = [named(n, columns) for n in (outcome.names if outcome else [response])]
            others, notes = default_columns(frame, args.data, "--formula", left_out=left_out)
            for line in notes:
                note(line)
            at = terms.index((".",))
            # a column named on its own is not added twice (`a b` is the column a b)
            named_terms = {term_key(t[0], columns) for t in terms if len(t) == 1}
            dot = [(c,) for c in others if column_key(c) not in named_terms]
            terms = terms[:at] + dot + terms[at + 1 :]
        return linear(args, frame, response, terms, intercept)
    if not args.formula or not args.start:
        raise DataError(
            "nonlinear needs --formula 'y ~ a * exp(-k * x)' and --start a=1,k=0.5 "
            "(the names in --start are the parameters)"
        )
    response, right = split(args.formula)
    return nonlinear(args, frame, response, parse_expression(right), parse_start(args.start))


def _response(frame: pd.DataFrame, response: str):
    """A linear formula's response: its column's name and None, or, for a function of columns
    (``log(y) ~ x``, ``I(y / 10) ~ x``), its text and the expression."""
    from emkit.cli.formula import response_expression
    from emkit.cli.table import named

    if named(response, list(frame.columns)) is not None:
        return response, None
    expression = response_expression(response)
    if expression.column is not None:  # a name in backticks, or one that is not a column
        return expression.column, None
    return response, expression


def linear(args, frame, response: str, terms: list[tuple[str, ...]], intercept: bool):
    import numpy as np
    import pandas as pd

    from emkit import mle
    from emkit.cli.formula import linear_term

    response, outcome = _response(frame, response)
    # A term is a product of factors (x1:x2); a factor is a column, or an expression of
    # columns (log(x), I(x ** 2)).
    factors = list(dict.fromkeys(f for term in terms for f in term))
    expressions = {f: linear_term(f) for f in factors if f not in frame.columns}
    used = [*(outcome.names if outcome else [response])]
    used += [f for f in factors if f not in expressions and f not in used]
    used += [n for e in expressions.values() for n in e.names if n not in used]
    data = _complete(_columns(frame, used, args.data), args.data)
    values = _numbers(data, args.data, "linear")
    by_name = {name: values[:, j] for j, name in enumerate(data.columns)}

    def evaluate(text: str, expression, what: str):
        if expression is None:
            return by_name[text]
        with np.errstate(all="ignore"):
            value = np.broadcast_to(np.asarray(expression(by_name), float), (len(values),))
        bad = ~np.isfinite(value)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            at = ", ".join(f"{n} = {by_name[n][first]:g}" for n in expression.names)
            raise DataError(
                f"{args.data}: the {what} {text} is not finite on {int(bad.sum())} row(s) "
                f"(the first where {at}); change the {what} or leave those rows out"
            )
        return value

    y = evaluate(response, outcome, "response")
    factor = {f: evaluate(f, expressions.get(f), "term") for f in factors}
    labels = [":".join(term) for term in terms]
    design = np.empty((len(values), len(terms)))
    for j, term in enumerate(terms):
        with np.errstate(all="ignore"):
            design[:, j] = np.prod([factor[f] for f in term], axis=0)
        bad = int((~np.isfinite(design[:, j])).sum())
        if bad:
            raise DataError(
                f"{args.data}: the term {labels[j]} is not finite on {bad} row(s) (an infinite "
                "value, or a product too large); rescale its columns or leave those rows out"
            )
    right = " + ".join(labels) or ("1" if intercept else "0")
    if terms and not intercept:
        right += " + 0"
    where = f"{args.data}: {response} ~ {right}"
    # a DataFrame of the terms: the estimate names its rows, and dependent columns, by them
    estimate = _fit(
        mle.linear_regression,
        where,
        pd.DataFrame(design, columns=labels),
        y,
        intercept,
        variance=args.variance or "mle",
    )
    return estimate, where


def parse_start(spec: str) -> dict[str, float]:
    """``"a=1,k=0.5"`` -> ``{"a": 1.0, "k": 0.5}``."""
    start: dict[str, float] = {}
    for part in spec.split(","):
        name, _, written = part.partition("=")
        name = name.strip()
        try:
            if not name:  # "=1": a value for no parameter
                raise ValueError(written)
            value = float(written)
        except ValueError:
            raise DataError(f"--start {spec!r}: write name=value pairs, e.g. a=1,k=0.5") from None
        if name in start:
            raise DataError(f"--start {spec!r} gives {name} twice: give each one value")
        start[name] = value
    return start


def nonlinear(args, frame, response: str, expression, start: dict[str, float]):
    import numpy as np

    from emkit import mle
    from emkit.cli.table import named

    unused = [p for p in start if p not in expression.names]
    if unused:
        raise DataError(f"--start names {', '.join(unused)}, which the formula does not use")
    columns = [name for name in expression.names if name not in start]
    absent = [name for name in columns if named(name, list(frame.columns)) is None]
    if absent:
        raise DataError(
            f"{args.data}: {', '.join(map(repr, absent))} is neither a column ({_names(frame)}) "
            f"nor a parameter: give each parameter a starting value in --start, e.g. "
            f"--start {','.join(f'{n}=1' for n in [*start, *absent])}"
        )
    data = _complete(_columns(frame, [response, *columns], args.data), args.data)
    values = _numbers(data, args.data, "nonlinear")
    x = {name: values[:, j + 1] for j, name in enumerate(columns)}
    names = list(start)

    def f(x, *theta):
        return np.broadcast_to(
            expression({**x, **dict(zip(names, theta, strict=True))}), (len(values),)
        )

    where = f"{args.data}: {response} ~ {expression.text}"
    with np.errstate(all="ignore"):
        estimate = _fit(
            mle.nonlinear_regression,
            where,
            f,
            x,
            values[:, 0],
            start,
            variance=args.variance or "mle",
        )
    method = "Nonlinear least squares (maximum likelihood)"
    if args.variance == "unbiased":
        method = method[:-1] + ", variance RSS/(N - p))"
    return dataclasses.replace(estimate, method=method), where
