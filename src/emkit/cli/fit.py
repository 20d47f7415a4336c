"""``emkit fit DATA``: choose a Gaussian mixture by BIC/AIC/ICL, print a summary, write a report.

Only argparse is imported at module level: ``emkit --help`` must not wait for SciPy.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emkit.cli.capping import identifiable
from emkit.cli.cluster import add_options as add_cluster_options
from emkit.cli.cluster import on_cluster
from emkit.cli.zscores import (
    in_data_units,
    log_jacobian,
    selection_in_data_units,
    standardize,
    structure_note,
)
from emkit.exceptions import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from emkit.cli.table import Table

DEFAULT_COMPONENTS = "1-9"
DEFAULT_COVARIANCE = "all"
DEFAULT_OUT = "emkit-out"
# What a fit reads, fits and draws with, loaded while Ctrl-C is held (emkit.cli.main).
MODULES = ("numpy", "pandas", "pyarrow.csv", "emkit.estimators", "emkit.report")
STANDARDIZED_NOTE = (
    "Columns are z-scores (--standardize): each centred and divided by its standard deviation; "
    "model.json, the log-likelihoods and the criteria (BIC, ICL, AIC) are in the data's units."
)
# printed under the summary of a fit to z-scores: its numbers are those of the data
STANDARDIZED_FIGURES = (
    "Log-likelihood, BIC, ICL and AIC: in the data's units (as model.json's), comparable with "
    "a fit without --standardize."
)
CRITERIA = ("bic", "aic", "icl")  # emkit.estimators.selection.CRITERIA, without importing it
ACCELERATIONS = ("squarem", "none")  # GaussianMixture's accelerate: "squarem" or None
MAX_COMPONENTS = 1000  # -k beyond this is refused before anything is built
ASSIGN_BLOCK_ROWS = 1 << 16  # rows of posteriors computed and written at a time
THOUSANDS_HELP = (
    "thousands separator of numbers in a CSV, e.g. '.' for 1.234,5 with --decimal , (read in "
    "the columns whose every value is so written; default: '.' where the numbers have a "
    "decimal comma and those with a '.' all have groups of three digits after it)"
)


def add_table_options(parser: argparse.ArgumentParser, *, fitting: bool) -> None:
    """The flags that say how to read a table: shared by ``fit`` and ``predict``."""
    if fitting:
        parser.add_argument(
            "--columns",
            help="comma-separated columns to use, a name holding a comma in double quotes: "
            "'\"income, net\",age' (default: every numeric column but the id)",
        )
        parser.add_argument(
            "--exclude",
            help="comma-separated columns never to use, in the model or as the id found by "
            "default (--id still names one)",
        )
    parser.add_argument(
        "--id",
        dest="id_column",
        metavar="COLUMN",
        help="a column carried into the output to name each row (default: a unique column "
        "named like id, else the first text column whose values are unique, else none: rows "
        "are numbered)",
    )
    parser.add_argument(
        "--sep", help="CSV delimiter, e.g. ';' or tab (default: detected from the file)"
    )
    parser.add_argument(
        "--decimal", choices=(".", ","), help="decimal mark (default: detected from the file)"
    )
    parser.add_argument("--thousands", help=THOUSANDS_HELP)
    parser.add_argument(
        "--missing",
        choices=("error", "em"),
        default="error" if fitting else None,
        help="what an empty cell or NaN means: 'error' refuses the file, 'em' takes it as a "
        "value missing at random (the E-step integrates over it); default: "
        + ("'error'" if fitting else "the model's own (em for a model fitted with --missing em)"),
    )


def table_options(args: argparse.Namespace) -> dict:
    """The reading options :func:`add_table_options` parsed, as keywords of
    :func:`read_features` (and its cluster counterpart)."""
    return dict(
        id_column=args.id_column,
        sep=args.sep,
        decimal=args.decimal,
        thousands=args.thousands,
        missing=args.missing,
    )


def grid_options(args: argparse.Namespace) -> dict:
    """The options of the selection grid ``emkit fit`` parsed, as keywords of
    :func:`fit_and_report` and :func:`select_grid`."""
    return dict(
        criterion=args.criterion,
        n_init=args.n_init,
        seed=args.seed,
        quiet=args.quiet,
        progress=args.progress,
        checkpoint=args.checkpoint,
        accelerate=args.accelerate,
        give_up=args.give_up,
    )


def register(subparsers) -> None:
    """Add the ``fit`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "fit",
        help="choose and fit a Gaussian mixture (clustering) by BIC, AIC or ICL",
        description="Fit Gaussian mixtures for every number of components and covariance "
        "type, keep the best by the criterion, print a summary and write model.json, "
        "assignments.csv and report.html (one file, figures inside) to the output folder. "
        "Columns that are not numbers are skipped (and named); constant columns are left out.",
    )
    parser.add_argument(
        "data",
        help="a .csv (any delimiter) or .parquet file with a header row, or a folder of "
        ".parquet files",
    )
    parser.add_argument(
        "-k",
        "--components",
        default=DEFAULT_COMPONENTS,
        help="numbers of components: a range 1-9, one number 3, or a list 2,3,5 (default 1-9); "
        "capped at what the data can identify",
    )
    parser.add_argument(
        "--covariance",
        default=DEFAULT_COVARIANCE,
        help="all (mclust's 14 models, EII ... VVV; E and V for one column), sklearn "
        "(full, tied, diag, spherical), or a comma list of those names; default all",
    )
    add_table_options(parser, fitting=True)
    parser.add_argument(
        "--standardize",
        action="store_true",
        help="fit to z-scores (each column centred and divided by its standard deviation); "
        "model.json is written back in the data's units",
    )
    parser.add_argument(
        "--out", default=DEFAULT_OUT, help=f"output folder (default ./{DEFAULT_OUT})"
    )
    parser.add_argument("--criterion", choices=CRITERIA, default="bic", help="default bic")
    parser.add_argument(
        "--n-init", type=int, default=1, help="EM starts per model; the best is kept (default 1)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--accelerate",
        choices=ACCELERATIONS,
        default="squarem",
        help="squarem (default): EM's steps extrapolated by SQUAREM, fewer passes; none: plain "
        "EM, mclust's path from the same start. A SQUAREM fit that ends degenerate is fitted "
        "again by plain EM from its start, and kept where that fit is regular",
    )
    parser.add_argument(
        "--give-up",
        action="store_true",
        help="from 131,072 rows (BIC or AIC, squarem), stop screened fits that have fallen far "
        "behind the best (select_mixture's give_up): faster, but a fit that climbs again after "
        "a plateau can be given up below where it would have ranked, and the choice can change",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--progress",
        action="store_true",
        help="show the fits done and the time left on stderr, also when it is not a terminal "
        "(then one line per fit)",
    )
    parser.add_argument(
        "--no-report", action="store_true", help="write no report.html (saves the figures' time)"
    )
    parser.add_argument(
        "--device",
        help="run EM with PyTorch on this device: cpu, cuda or cuda:1 (needs "
        'pip install "emkit[torch]"; default: NumPy)',
    )
    add_cluster_options(parser)
    parser.add_argument(
        "--checkpoint",
        metavar="FOLDER",
        help="save each fit's state in FOLDER every few EM steps; run the same command again "
        "after an interruption to resume where it stopped",
    )
    parser.set_defaults(func=run, modules=MODULES)


def parse_components(spec: str) -> list[int]:
    """Numbers of components from ``"1-9"``, ``"3"``, ``"2,3,5"`` or a mix like ``"1-3,6"``.

    Raises
    ------
    DataError
        When the spec is not made of positive integers and increasing ranges.
    """
    usage = (
        f"-k {spec!r} is not a valid number of components; use a number (3), "
        "a range (1-9) or a comma list (2,3,5) of positive integers"
    )
    ks: set[int] = set()
    for part in spec.split(","):
        bounds = part.strip().split("-")
        if len(bounds) > 2 or not all(b.strip().isdigit() for b in bounds):
            raise DataError(usage)
        low, high = int(bounds[0]), int(bounds[-1])
        if low < 1 or high < low:
            raise DataError(usage)
        if high > MAX_COMPONENTS:
            raise DataError(
                f"-k {spec!r} asks for {high} components; emkit fits at most {MAX_COMPONENTS} "
                "(and at most one per row of data)"
            )
        ks.update(range(low, high + 1))
    return sorted(ks)


def parse_covariances(spec: str) -> list[str]:
    """Covariance types from ``"all"`` (mclust's 14 models, as ``select_mixture``'s default),
    ``"sklearn"`` (scikit-learn's four) or a comma list of names (mclust's too, any case).

    Raises
    ------
    DataError
        When a name is unknown.
    """
    from emkit.distributions.gaussian import ALIASES, COVARIANCES, MCLUST_MODELS

    if spec.strip().lower() == "all":
        return [ALIASES.get(name, name) for name in MCLUST_MODELS]
    if spec.strip().lower() == "sklearn":
        return ["spherical", "diag", "tied", "full"]
    names = []
    for part in spec.split(","):
        name = part.strip()
        if name.lower() in COVARIANCES:
            names.append(name.lower())
        elif name.upper() in COVARIANCES:
            names.append(name.upper())
        elif name.upper() in ALIASES:
            names.append(ALIASES[name.upper()])
        else:
            choices = ", ".join(["all", "sklearn", *COVARIANCES, *ALIASES])
            raise DataError(f"--covariance {name!r} is unknown; choose from {choices}")
    return list(dict.fromkeys(names))


def parse_columns(spec: str | None) -> list[str] | None:
    """``"a,b"`` -> ``["a", "b"]``; None stays None (all columns)."""
    return parse_list(spec, "--columns")


def parse_list(spec: str | None, flag: str) -> list[str] | None:
    """``"a,b"`` -> ``["a", "b"]`` for a comma-list flag, read as a CSV line: a name that holds
    a comma, or begins or ends with a space, is written in double quotes (``'"income, net",y'``,
    ``'"size ",y'``) and kept as quoted; spaces around an unquoted name are left out. None
    stays None.

    Raises
    ------
    DataError
        When the list names no column, has an empty name (a stray comma: ``",a"``, ``"a,,b"``,
        ``"a,"``), names one twice, or its quotes do not close.
    """
    if spec is None:
        return None
    fields = _fields(spec, flag)
    if not any(field.strip() for field in fields):
        raise DataError(f"{flag} {spec!r} names no column")
    items = []
    for at, field in enumerate(fields, start=1):
        if field.strip().startswith('"'):
            items.append(field.strip()[1:-1].replace('""', '"'))
        elif field.strip():
            items.append(field.strip())
        else:  # a stray comma: the name meant there is not known
            raise DataError(
                f"{flag} {spec!r} has an empty name at position {at} of {len(fields)}: remove "
                "the stray comma, or write the name meant there (in double quotes if it has "
                "spaces at its ends)"
            )
    twice = sorted({c for c in items if items.count(c) > 1})
    if twice:
        raise DataError(f"{flag} {spec!r} names {', '.join(map(repr, twice))} more than once")
    return items


def _fields(spec: str, flag: str) -> list[str]:
    """``spec`` split at the commas outside double quotes, each part as written."""
    fields, start, quoted = [], 0, False
    for at, char in enumerate(spec):
        if char == '"':
            quoted = not quoted  # "" inside quotes toggles twice
        elif char == "," and not quoted:
            fields.append(spec[start:at])
            start = at + 1
    fields.append(spec[start:])
    bad = quoted or any('"' in f and not re.fullmatch(r'\s*"(?:[^"]|"")*"\s*', f) for f in fields)
    if bad:
        raise DataError(
            f"{flag} {spec!r}: a quote is not closed, or stands inside a name; write a name "
            "that holds a comma or spaces at its ends in double quotes, e.g. "
            "'\"income, net\",y'"
        )
    return fields


def check_starts(n_init: int, seed: int) -> None:
    """DataError unless ``--n-init`` is at least 1 and ``--seed`` is a seed NumPy takes
    (0 to 2**32 - 1), before any data are read."""
    if n_init < 1:
        raise DataError(f"--n-init must be at least 1; got {n_init}")
    if not 0 <= seed < 2**32:
        raise DataError(f"--seed must be an integer from 0 to {2**32 - 1}; got {seed}")


def check_id_apart(id_column: str | None, columns: list[str] | None) -> None:
    """DataError where ``--id`` also names a model column in ``--columns``: assignments would
    carry two columns of one name (the id, and the column among the data's)."""
    if id_column is not None and columns is not None and id_column in columns:
        raise DataError(
            f"--id {id_column!r} is also in --columns; the id names rows in the output and is "
            "not a model column: leave it out of --columns, or choose another --id"
        )


def check_folder(path: str | Path, flag: str, purpose: str) -> None:
    """DataError where ``path`` (given by ``flag``) cannot be a folder: it, or the nearest of
    its parents that exists, is a file (``purpose`` says what the folder is for), or a folder
    nothing can be written into (read-only, not ours; found before any fit runs), or the path
    is empty (which would be the current folder, unasked)."""
    if not os.fspath(path):
        raise DataError(
            f"{flag} '': the path is empty; {flag} names a folder {purpose} ({flag} . for the "
            "current folder)"
        )
    path = Path(path)
    there = next((p for p in (path, *path.parents) if p.exists()), None)
    if there is None:
        return
    if there.is_dir():
        try:  # root passes os.access where the file system still refuses (/proc, read-only)
            os.rmdir(tempfile.mkdtemp(prefix=".emkit-write-check-", dir=there))
        except OSError as exc:
            raise DataError(
                f"{flag} {path}: cannot write into {there} ({exc.strerror or exc}); {flag} "
                f"names a folder {purpose}"
            ) from None
        return
    what = "exists and is not a folder" if there == path else f"{there} is not a folder"
    raise DataError(f"{flag} {path}: {what}; {flag} names a folder {purpose}")


def note(text: str) -> None:
    """One line for the user on stderr (standard output stays the result)."""
    print(f"emkit: {text}", file=sys.stderr)


def say(text: str) -> None:
    """Print ``text`` on standard output, flushed; where its reader has gone (``| head``),
    print nothing more and go on, and where it cannot be written (a full disk, which
    :class:`emkit.cli.StandardOutput` notes, for the command to end with), go on: the
    outputs being written are not lost with standard output, nor blamed on the output
    folder."""
    from emkit.cli import StandardOutputError, out, reader_gone

    try:
        out(text, flush=True)
    except BrokenPipeError:
        reader_gone()
    except StandardOutputError:
        pass


def read_features(
    path: str | Path,
    *,
    columns: list[str] | None = None,
    exclude: list[str] | None = None,
    id_column: str | None = None,
    sep: str | None = None,
    decimal: str | None = None,
    thousands: str | None = None,
    missing: str = "error",
    drop_constant: bool = True,
    excludable: bool = True,
    keep_empty_rows: bool = False,
) -> Table:
    """Read a table and pick its model columns (see :func:`emkit.cli.table.select_features`),
    printing what was left out; a text table's header row that looks like data is refused (a
    Parquet file's names are metadata, whatever they look like: see
    :func:`emkit.cli.table.check_header`)."""
    from emkit.cli.table import (
        ArrowFallback,
        FrameColumns,
        delimiter_and_decimal,
        is_parquet,
        open_columns,
        read_raw,
        renamed_header,
        select_features,
    )

    raw = open_columns(path, sep, decimal, thousands)
    options = dict(
        columns=columns,
        exclude=exclude,
        id_column=id_column,
        missing=missing,
        drop_constant=drop_constant,
        excludable=excludable,
        keep_empty_rows=keep_empty_rows,
        text_header=not is_parquet(Path(path)),
    )
    try:
        table = select_features(raw, path, **options)  # type: ignore[arg-type]
    except ArrowFallback:  # pyarrow met what only pandas reads (e.g. text late in a column)
        raw = FrameColumns(read_raw(path, sep, decimal, thousands))
        table = select_features(raw, path, **options)  # type: ignore[arg-type]
    if isinstance(raw, FrameColumns) and not is_parquet(Path(path)):  # pandas' names
        renamed = renamed_header(
            Path(path), delimiter_and_decimal(Path(path), sep, decimal)[0], raw.names
        )
        if renamed:
            note(renamed)
    for line in table.notes:
        note(line)
    return table


def probability_table(model, x, ids: pd.Series | None = None) -> pd.DataFrame:
    """Id (when given), label, probability of that label, and p0..p{K-1} for each row of
    ``x`` (shape (n, d), or a DataFrame with the model's column names); for a model without
    probabilities (k-means) the distance to the nearest centre and d0..d{K-1} instead."""
    import numpy as np
    import pandas as pd

    columns: dict[str, Any] = {}
    if not hasattr(model, "predict_proba"):  # k-means: distances to the centres
        dist = np.asarray(model.transform(x))  # (n, k)
        labels = dist.argmin(axis=1)
        columns["label"] = labels
        columns["distance"] = dist[np.arange(len(labels)), labels]
        columns.update({f"d{j}": dist[:, j] for j in range(dist.shape[1])})
    else:
        proba = model.predict_proba(x)  # (n, k)
        labels = proba.argmax(axis=1)
        classes = getattr(model, "classes_", None)  # a classifier: its classes, not indices
        columns["label"] = labels if classes is None else _class_labels(classes, labels)
        columns["probability"] = proba[np.arange(len(labels)), labels]
        names = [f"p{j}" for j in range(proba.shape[1])]
        if classes is not None:
            names = [f"p_{c}" for c in classes]
        columns.update({name: proba[:, j] for j, name in enumerate(names)})
    if ids is not None:  # first, under a name none of emkit's columns has
        (name,), _ = apart([str(ids.name)], list(columns))
        columns = {name: ids.to_numpy(), **columns}
    return pd.DataFrame(columns)  # built at once: no fragmented frame for large K


def posterior_blocks(model, x: np.ndarray, rows: int = ASSIGN_BLOCK_ROWS):
    """``(start, proba)`` for consecutive blocks of ``rows`` rows of ``x`` (n, d): the posteriors
    (m, k) of one block at a time, so that no (n, k) array is ever held."""
    for start in range(0, x.shape[0], rows):
        yield start, model.predict_proba(x[start : start + rows])


def write_assignments(
    path: Path,
    model,
    x: np.ndarray,
    names: list[str],
    ids: pd.Series | None = None,
    rows: int = ASSIGN_BLOCK_ROWS,
) -> np.ndarray:
    """Write ``assignments.csv`` (id, the data's columns, label, probability, p0..p{K-1}) block
    by block with pyarrow's CSV writer; return the cluster sizes (k,) (rows per label).

    Missing values are written as empty fields, as pandas writes NaN.
    """
    import csv
    import io

    import numpy as np
    import pyarrow as pa
    from pyarrow import csv as arrow_csv

    from emkit.atomic import atomic_write

    k = model.n_components
    id_name = [] if ids is None else [str(ids.name)]
    carried, renamed = carried_names([*id_name, *names], model)
    if renamed:
        note(renamed)
    header = [*carried, *output_columns(model)]
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow(header)
    # a ChunkedArray where pandas holds the ids in Arrow (a CSV read in blocks, a Parquet file
    # of several row groups, a folder of files), an Array otherwise: a Table takes either
    id_array = None if ids is None else pa.array(ids, from_pandas=True)
    sizes = np.zeros(k, dtype=np.int64)
    options = arrow_csv.WriteOptions(include_header=False, quoting_style="needed")
    with atomic_write(path, "wb") as f:
        f.write(line.getvalue().encode("utf-8"))
        for start, proba in posterior_blocks(model, x, rows):
            m = proba.shape[0]
            labels = proba.argmax(axis=1)
            sizes += np.bincount(labels, minlength=k)
            arrays = [] if id_array is None else [id_array.slice(start, m)]
            arrays += [
                pa.array(x[start : start + m, j], from_pandas=True) for j in range(len(names))
            ]
            arrays += [pa.array(labels), pa.array(proba[np.arange(m), labels])]
            arrays += [pa.array(proba[:, j]) for j in range(k)]
            block = pa.Table.from_arrays(arrays, names=[str(i) for i in range(len(arrays))])
            arrow_csv.write_csv(block, f, write_options=options)
    return sizes


def run(args: argparse.Namespace) -> int:
    """Run ``emkit fit`` from parsed arguments."""
    if on_cluster(args):
        return fit_on_cluster(args)
    return fit_and_report(
        args.data,
        components=args.components,
        covariance=args.covariance,
        columns=parse_list(args.columns, "--columns"),
        exclude=parse_list(args.exclude, "--exclude"),
        standardize_columns=args.standardize,
        out=args.out,
        report=not args.no_report,
        estimator_params=_with_device(getattr(args, "estimator_params", None), args.device),
        **table_options(args),
        **grid_options(args),
    )


def _with_device(params: dict | None, device: str | None) -> dict | None:
    """GaussianMixture parameters with ``--device`` added where it was given."""
    if device is None:
        return params
    return {**(params or {}), "device": device}


def fit_and_report(
    data: str | Path,
    *,
    components: str = DEFAULT_COMPONENTS,
    covariance: str = DEFAULT_COVARIANCE,
    columns: list[str] | None = None,
    exclude: list[str] | None = None,
    id_column: str | None = None,
    sep: str | None = None,
    decimal: str | None = None,
    thousands: str | None = None,
    missing: str = "error",
    standardize_columns: bool = False,
    out: str | Path = DEFAULT_OUT,
    criterion: str = "bic",
    n_init: int = 1,
    seed: int = 0,
    quiet: bool = False,
    progress: bool = False,
    title: str | None = None,
    source: str | None = None,
    report: bool = True,
    estimator_params: dict | None = None,
    checkpoint: str | Path | None = None,
    accelerate: str = "squarem",
    starts: str = "--n-init",
    give_up: bool = False,
) -> int:
    """Select a Gaussian mixture for a table, print its summary, write model, assignments, report.

    Parameters
    ----------
    data : path to a .csv (any delimiter) or .parquet file, or a folder of .parquet files.
    components : the ``-k`` spec, e.g. "1-9".
    covariance : the ``--covariance`` spec, e.g. "all" or "tied,VVV".
    columns : columns to use; every numeric column but the id when None.
    exclude : columns never to use.
    id_column : column carried into ``assignments.csv``; found when None.
    sep, decimal : delimiter and decimal mark of a CSV; detected when None.
    thousands : thousands separator of a CSV's numbers (:func:`emkit.cli.table.thousands_mark`).
    missing : "error" or "em" (NaN as missing at random).
    standardize_columns : fit to z-scores; the model file is in the data's units.
    out : output folder, created if missing.
    criterion : "bic", "aic" or "icl".
    n_init : EM starts per model.
    seed : random seed.
    quiet : no progress bar.
    progress : show the progress (fits done, time left) also when stderr is not a terminal.
    title : heading of the HTML report.
    source : how to name the data in the report; ``data`` when None.
    report : write ``report.html``.
    estimator_params : further GaussianMixture parameters for every fit (e.g. ``device``).
    checkpoint : folder for the fits' checkpoints (resumed where present), or None.
    accelerate : "squarem" or "none" (plain EM): every fit's ``accelerate``.
    starts : how warnings name the option for more EM starts (the Python ``n_init``).
    give_up : :func:`emkit.select_mixture`'s ``give_up``.

    Returns
    -------
    0, the exit status. Bad input raises :class:`emkit.DataError`.
    """
    import numpy as np

    from emkit.atomic import output_folder
    from emkit.report import summarize, write_report

    ks = parse_components(components)
    types = parse_covariances(covariance)
    check_starts(n_init, seed)
    check_id_apart(id_column, columns)
    check_folder(out, "--out", "to write into")  # before Path: Path("") is the current folder
    out = Path(out)
    if checkpoint is not None:
        check_folder(checkpoint, "--checkpoint", "to keep each fit's state in")
    table = read_features(
        data,
        columns=columns,
        exclude=exclude,
        id_column=id_column,
        sep=sep,
        decimal=decimal,
        thousands=thousands,
        missing=missing,
    )
    names = list(table.names)
    x_data = table.values  # (n, d): the one copy of the data kept
    if x_data.shape[1] == 1 and covariance.strip().lower() == "all":
        types = ["EII", "spherical"]  # mclust's E and V: in one dimension the 14 are these two
    ks, capped = identifiable(ks, types, x_data)
    if capped:
        note(capped)
    x = x_data
    if standardize_columns:
        x, centre, scale = standardize(x_data)
    selection, held = select_grid(
        x,
        ks,
        types,
        data=data,
        criterion=criterion,
        n_init=n_init,
        seed=seed,
        missing=missing,
        quiet=quiet,
        progress=progress,
        estimator_params=estimator_params,
        checkpoint=checkpoint,
        accelerate=accelerate,
        starts=starts,
        give_up=give_up,
    )
    shown = [f"{name} (z-score)" for name in names] if standardize_columns else names

    model = selection.best_
    if standardize_columns:
        model = in_data_units(model, centre, scale, x_data)
        observed = (~np.isnan(x_data)).sum(axis=0)  # (d,)
        selection = selection_in_data_units(selection, log_jacobian(observed, scale))
    k = model.n_components
    columns_written = "p0" if k == 1 else f"p0..p{k - 1}"
    carried = f"{table.ids.name}, " if table.ids is not None else ""
    units = " (in the data's units)" if standardize_columns else ""
    try:
        # Written into a private folder that then replaces `out` whole (emkit.atomic).
        with output_folder(out) as staging:
            named = copy.copy(model)  # the file records the columns, for emkit predict
            named.feature_names_in_ = np.asarray(names, dtype=object)
            named.save(staging / "model.json")
            sizes = write_assignments(staging / "assignments.csv", model, x_data, names, table.ids)
            summary = summarize(selection, x, shown, sizes=sizes)
            if standardize_columns:
                summary = with_units_line(summary, structure_note(selection.best_, model))
            say(summary)
            show_held(held, starts)
            written = [
                (out / "model.json", f"the fitted model{units} (emkit.load, emkit predict)"),
                (
                    out / "assignments.csv",
                    f"{carried}the data's columns, label, probability, {columns_written} per row",
                ),
            ]
            failed = None
            if report:
                drawn_from = figure_rows(x)
                # large data: the figures need only a sample, and the rows go before they are drawn
                selection = dataclasses.replace(selection, data_=None)
                del x, x_data, table
                report_call = functools.partial(
                    write_report,
                    selection,
                    drawn_from.x,
                    shown,
                    staging,
                    title=title or f"emkit report: {Path(data).name}",
                    source=source or str(data),
                    summary=summary,
                    units_note=STANDARDIZED_NOTE if standardize_columns else "",
                    sizes=sizes,
                    rows=drawn_from.rows,
                    missing=drawn_from.missing,
                )
                failed = drawn(report_call)
                if failed is None:
                    written.append((out / "report.html", "summary, tables and figures in one file"))
    except OSError as exc:
        raise DataError(f"cannot write to {out}: {exc.strerror or exc}") from None
    from emkit.cli import out as stdout_line

    stdout_line()
    stdout_line(f"Wrote to {out}{os.sep}")
    for path, what in written:
        stdout_line(f"  {path.name:<16} {what}")
    return report_failed(failed, "model.json and assignments.csv")


@dataclasses.dataclass(frozen=True)
class FigureRows:
    """What :func:`emkit.report.write_report` draws: all the rows, or where the bootstrap
    would not run on them (:data:`~emkit.report.BOOTSTRAP_MAX_VALUES`), the sample its figures
    draw, the number of rows and of those with a missing value."""

    x: np.ndarray
    rows: int | None = None
    missing: int | None = None


def figure_rows(x: np.ndarray) -> FigureRows:
    """:class:`FigureRows` of ``x`` (n, d), the data fitted (z-scores with
    ``--standardize``)."""
    import numpy as np

    from emkit.report import BOOTSTRAP_MAX_VALUES
    from emkit.report.rows import FIGURE_ROWS, sample_rows

    n, d = x.shape
    if n * d <= BOOTSTRAP_MAX_VALUES or n <= FIGURE_ROWS:
        return FigureRows(x)
    missing = n - int(np.isfinite(x).all(axis=1).sum())
    return FigureRows(sample_rows(x), rows=n, missing=missing)


def drawn(write: Callable[[], Any]) -> str | None:
    """Call ``write`` (the report's writer); where it fails other than on writing (a figure
    that cannot be drawn), what failed, so that the fit's other files are still written."""
    try:
        write()
    except OSError:
        raise
    except Exception as exc:  # whatever a figure raises, the fit is not lost with it
        return f"{type(exc).__name__}: {exc}"
    return None


def report_failed(failed: str | None, kept: str) -> int:
    """0 where the report was written (or not asked for); else say on stderr that the fit
    succeeded, which files hold it, and why report.html is missing, and return 1."""
    if failed is None:
        return 0
    print(
        f"emkit: error: the fit succeeded and {kept} were written, but report.html could not "
        f"be drawn ({failed}); --no-report skips it",
        file=sys.stderr,
    )
    return 1


def with_units_line(summary: str, structure: str = "") -> str:
    """The summary of a fit to z-scores with :data:`STANDARDIZED_FIGURES` under the legend of
    its fit statistics (at the end where it has none), then ``structure``
    (:func:`emkit.cli.zscores.structure_note`) where it is not empty."""
    lines = summary.split("\n")
    added = [STANDARDIZED_FIGURES, *([structure] if structure else [])]
    at = next((i for i, line in enumerate(lines) if line.startswith("BIC, ICL, AIC:")), None)
    if at is None:
        return "\n".join([summary, *added])
    return "\n".join([*lines[: at + 1], *added, *lines[at + 1 :]])


def select_grid(
    x,
    ks: list[int],
    types: list[str],
    *,
    data: str | Path,
    criterion: str,
    n_init: int,
    seed: int,
    missing: str,
    quiet: bool,
    progress: bool,
    estimator_params: dict | None,
    checkpoint: str | Path | None,
    accelerate: str = "squarem",
    starts: str = "--n-init",
    give_up: bool = False,
):
    """:func:`emkit.select_mixture` of ``x`` (rows in memory or a Dask collection) over
    ``ks`` by ``types`` from mclust's hierarchical start, with the progress bar; the best
    model comes back without the bar's callback, with the warnings the grid raised (for
    :func:`show_held`; ``starts`` as there)."""
    from emkit.cli.progress import ProgressBar
    from emkit.estimators import GaussianMixture, select_mixture

    bar = ProgressBar.for_grid(ks, types, quiet, progress)

    def on_iteration(progress) -> None:
        bar.em_iteration(progress)

    template = GaussianMixture(  # select_mixture's default: mclust's hierarchical start
        init_params="hc",
        n_init=n_init,
        random_state=seed,
        # only where drawn: each fit's steps are relayed from the worker processes (apart)
        callback=on_iteration if bar.draws_iterations else None,
        missing=missing,
        accelerate=None if accelerate == "none" else accelerate,
    )
    if estimator_params:
        template.set_params(**estimator_params)
    # The grid's warnings (fits at lower local maxima, degenerate fits) are shown after the
    # summary they concern (show_held), not as the first lines of the run; before an error.
    with warnings.catch_warnings(record=True) as held:
        try:
            with bar:
                selection = select_mixture(
                    x,
                    ks,
                    types,
                    criterion,
                    estimator=template,
                    callback=bar.models,
                    checkpoint=checkpoint,
                    give_up=give_up,
                )
        except (ValueError, ImportError) as exc:
            failure: Exception | None = DataError(f"{data}: {exc}")
        else:
            failure = None
    if failure is not None:
        show_held(held, starts)
        raise failure from None
    selection.best_.set_params(callback=None)
    return selection, held


def show_held(held: list, starts: str = "--n-init") -> None:
    """Show warnings recorded by ``warnings.catch_warnings(record=True)``, in order, their
    advice in the command's words: ``starts`` for the Python parameter ``n_init`` (``emkit
    demo``, which has no such option, names ``emkit fit``'s)."""
    for record in held:
        text = re.sub(r"\bn_init\b", starts, str(record.message))
        warnings.showwarning(text, record.category, record.filename, record.lineno)


def fit_on_cluster(args: argparse.Namespace) -> int:
    """``emkit fit`` with ``--scheduler`` or ``--workers``: the in-memory run's choices (columns,
    id, constant columns, checks, the K cap, z-scores) made from counts taken on the workers
    in one pass, the grid fitted on the workers; writes ``model.json`` and ``assignments/``
    (Parquet, one file per partition, written by the workers). Returns the exit status."""
    from contextlib import ExitStack

    import numpy as np

    from emkit.atomic import output_folder
    from emkit.cli import cluster
    from emkit.cli.capping import capped
    from emkit.cli.zscores import nonzero_scale
    from emkit.estimators._mixture_api import fit_numbers
    from emkit.report import summarize, write_report

    ks = parse_components(args.components)
    types = parse_covariances(args.covariance)
    check_starts(args.n_init, args.seed)
    check_id_apart(args.id_column, parse_list(args.columns, "--columns"))
    check_folder(args.out, "--out", "to write into")
    out = Path(args.out)
    if args.checkpoint is not None:
        check_folder(args.checkpoint, "--checkpoint", "to keep each fit's state in")
    with ExitStack() as stack:
        client = cluster.connect(args, stack)
        table = cluster.read_features(
            args.data,
            columns=parse_list(args.columns, "--columns"),
            exclude=parse_list(args.exclude, "--exclude"),
            **table_options(args),
        )
        for line in table.notes:
            note(line)
        names, ident, values, summary = table.names, table.ids, table.values, table.summary
        if len(names) == 1 and str(args.covariance).strip().lower() == "all":
            types = ["EII", "spherical"]  # mclust's E and V, as in memory
        shape = (summary.n_rows, len(names))
        observed = int(summary.count.sum())
        distinct = cluster.distinct_counter(values, summary.n_rows)
        ks, capped_note = capped(ks, types, shape, observed, distinct)
        if capped_note:
            note(capped_note)
        x = values
        if args.standardize:
            centre, scale = summary.mean, nonzero_scale(summary.std)
            x = (values - centre) / scale
        # mclust's hierarchical start, as in memory: the tree is cut on the rows of the
        # starting sample drawn on the workers (all rows up to 100 000, of which the tree
        # reads a fixed subset of 2000, as mclust does), so the start is the in-memory one.
        selection, held = select_grid(
            x,
            ks,
            types,
            data=args.data,
            missing=args.missing,
            estimator_params=getattr(args, "estimator_params", None),
            **grid_options(args),
        )
        model = selection.best_
        if args.standardize:
            model = in_data_units(model, centre, scale, values)
        shown = [f"{name} (z-score)" for name in names] if args.standardize else names
        # the rows and sizes counted on the workers, in one pass, for the summary and report
        _, n_rows, _, sizes = fit_numbers(selection.best_, x)
        if args.standardize:
            jacobian = log_jacobian(np.asarray(summary.count), scale)
            selection = selection_in_data_units(selection, jacobian)
        summary_text = summarize(selection, x, shown, sizes=sizes, rows=n_rows)
        if args.standardize:
            summary_text = with_units_line(summary_text, structure_note(selection.best_, model))
        say(summary_text)
        show_held(held)
        say(f"Fitted on {len(client.scheduler_info()['workers'])} Dask workers.")
        columns = [*([ident] if ident else []), *names]
        _, renamed = carried_names(columns, model)
        if renamed:
            note(renamed)
        assign = functools.partial(assignment_rows, model=model, names=names, ident=ident)
        try:
            with output_folder(out) as staging:
                named = copy.copy(model)  # the file records the columns, for emkit predict
                named.feature_names_in_ = np.asarray(names, dtype=object)
                named.save(staging / "model.json")
                cluster.write_assignments(table.frame[columns], staging / "assignments", assign)
                failed = None
                if not args.no_report:  # its figures draw a sample taken on the workers
                    report_call = functools.partial(
                        write_report,
                        selection,
                        selection.best_._report_rows(x, sample=True),
                        shown,
                        staging,
                        title=f"emkit report: {Path(args.data).name}",
                        source=str(args.data),
                        summary=summary_text,
                        units_note=STANDARDIZED_NOTE if args.standardize else "",
                        sizes=sizes,
                        rows=n_rows,
                    )
                    failed = drawn(report_call)
        except OSError as exc:
            raise DataError(f"cannot write to {out}: {exc.strerror or exc}") from None
    carried = f"{ident}, " if ident else ""
    units = " (in the data's units)" if args.standardize else ""
    from emkit.cli import out as stdout_line

    stdout_line()
    stdout_line(f"Wrote to {out}{os.sep}")
    stdout_line(f"  {'model.json':<16} the fitted model{units} (emkit.load, emkit predict)")
    stdout_line(
        f"  {'assignments/':<16} {carried}the data's columns, label, probability, p0.. per row "
        "(Parquet, one file per partition)"
    )
    if failed is None and not args.no_report:
        stdout_line(f"  {'report.html':<16} summary, tables and figures in one file")
    return report_failed(failed, "model.json and assignments/")


def assignment_rows(
    part: pd.DataFrame, model, names: list[str], ident: str | None, values: bool = True
) -> pd.DataFrame:
    """The rows of ``assignments`` for the rows ``part`` (a partition): the id, the data's
    columns (unless not ``values``, as ``emkit predict`` writes), label, probability and
    p0..p{K-1}, as ``assignments.csv`` has them."""
    import numpy as np
    import pandas as pd

    x = np.column_stack(
        [part[name].to_numpy(dtype=np.float64, na_value=np.nan) for name in names]
    ).reshape(len(part), len(names))
    known = getattr(model, "feature_names_in_", None)  # read by the model's own names
    rows = x if known is None else pd.DataFrame(x, columns=list(known), copy=False)
    table = probability_table(model, rows) if len(part) else _no_probabilities(model)
    carried, _ = carried_names([*([] if ident is None else [ident]), *names], model)
    columns = {} if ident is None else {carried[0]: part[ident].array}  # its own dtype
    if values:
        written = carried[len(carried) - len(names) :]
        columns.update({new: x[:, j] for j, new in enumerate(written)})
    columns.update({name: table[name].array for name in table.columns})  # dtypes kept
    return pd.DataFrame(columns, index=part.index)


def output_columns(model) -> list[str]:
    """The columns emkit writes for each row with ``model``: label, probability (or distance)
    and p0..p{K-1} (d0.. for k-means, p_<class> for a classifier)."""
    return [str(c) for c in _no_probabilities(model).columns]


def carried_names(names: list[str], model) -> tuple[list[str], str | None]:
    """The names under which the data's columns ``names`` (an id, the model's columns) are
    written beside emkit's own (:func:`output_columns`): a name emkit's columns use gets
    ``_data`` appended, so that no output has two columns of one name; and a note saying so
    (None when nothing was renamed)."""
    written, renamed = apart(names, output_columns(model))
    if not renamed:
        return written, None
    return written, (
        f"wrote the data's column{'s' if len(renamed) > 1 else ''} {', '.join(renamed)}: "
        "emkit's own output columns (label, probability, ...) have those names"
    )


def apart(names: list[str], reserved: list[str]) -> tuple[list[str], list[str]]:
    """``names`` with ``_data`` appended to each that ``reserved`` (or an earlier name) has,
    and ``"'old' as 'new'"`` for each renamed."""
    taken = set(reserved)
    written, renamed = [], []
    for name in names:
        new = str(name)
        while new in taken:
            new += "_data"
        taken.add(new)
        written.append(new)
        if new != name:
            renamed.append(f"{name!r} as {new!r}")
    return written, renamed


def _class_labels(classes: np.ndarray, index: np.ndarray) -> Any:
    """``classes[index]``; text classes as pandas' string dtype, which Parquet writes as
    strings even for a partition with no rows (an object column has no type to write)."""
    import pandas as pd

    values = classes[index]
    return pd.array(values, dtype="string") if values.dtype.kind in "OSU" else values


def _no_probabilities(model) -> pd.DataFrame:
    """:func:`probability_table`'s columns for no rows (an empty partition)."""
    import numpy as np
    import pandas as pd

    classes = getattr(model, "classes_", None)
    if not hasattr(model, "predict_proba"):
        first, names = "distance", [f"d{j}" for j in range(model.cluster_centers_.shape[0])]
    elif classes is not None:
        first, names = "probability", [f"p_{c}" for c in classes]
    else:
        first, names = "probability", [f"p{j}" for j in range(len(model.weights_))]
    empty = np.empty(0, dtype=np.int64)
    label = empty if classes is None else _class_labels(classes, empty)
    columns = {"label": label, first: np.empty(0)}
    columns.update({name: np.empty(0) for name in names})
    return pd.DataFrame(columns)
