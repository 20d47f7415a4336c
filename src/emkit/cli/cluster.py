"""``emkit fit DATA --scheduler ADDRESS`` or ``--workers N``: the Dask side of ``emkit fit``.

The data (one Parquet or CSV file, or a glob of them) are read as a dask DataFrame and never
gathered: the columns are chosen by the rules of the in-memory run (:mod:`emkit.cli.table`)
from the frame's types and from counts taken on the workers in one pass (:func:`column_summary`),
every EM round runs on the workers (:mod:`emkit.backend.dask_source`), and each row's label
and probabilities are written by the workers (:func:`write_assignments`).
:func:`emkit.cli.fit.fit_on_cluster` puts these together.
"""

from __future__ import annotations

import argparse
import functools
import glob
import logging
import warnings
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emkit.exceptions import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def add_options(
    parser: argparse.ArgumentParser, *, action: str = "fit", data: str = "DATA"
) -> None:
    """The cluster options of ``emkit fit`` and ``emkit predict``: ``action`` says what the
    command does on the cluster ("fit", "label the rows"), ``data`` names its data argument."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--scheduler",
        help=f"address of a running Dask scheduler (tcp://host:8786): {action} on that "
        f"cluster; {data} may then be a glob such as 'data/*.parquet' larger than this "
        "machine's memory",
    )
    group.add_argument(
        "--workers",
        type=int,
        help=f"{action} on a local Dask cluster of this many single-threaded worker processes",
    )
    parser.add_argument(
        "--memory-limit",
        help="with --workers: memory per worker, e.g. 2GB (default: a share of this machine's)",
    )


def on_cluster(args: argparse.Namespace) -> bool:
    """Whether ``emkit fit`` or ``emkit predict`` was asked to run on a Dask cluster.

    Raises
    ------
    DataError
        Where ``--memory-limit`` is given without ``--workers``: it sizes the workers of the
        local cluster only, and would go unused.
    """
    scheduler = getattr(args, "scheduler", None)
    if getattr(args, "memory_limit", None) is not None and getattr(args, "workers", None) is None:
        where = (
            "the workers of a --scheduler are sized where they start (dask worker --memory-limit)"
            if scheduler is not None
            else "without --workers the command runs in this process"
        )
        raise DataError(
            f"--memory-limit {args.memory_limit} applies with --workers (the memory of each "
            f"local worker); {where}: add --workers N, or leave --memory-limit out"
        )
    return scheduler is not None or getattr(args, "workers", None) is not None


def connect(args: argparse.Namespace, stack: ExitStack):
    """The ``dask.distributed`` client of ``--scheduler`` or of a local cluster of
    ``--workers``, closed with ``stack``."""
    if getattr(args, "device", None):
        raise DataError("--device cannot be combined with --scheduler or --workers")
    if args.workers is not None and args.workers < 1:
        raise DataError(f"--workers must be at least 1; got {args.workers}")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise DataError(
            'fitting on a Dask cluster needs dask.distributed: pip install "emkit[dask]"'
        ) from None
    # The exact distinct counts (an id's check, the K cap) run as shuffles, which a local
    # scheduler announces with a logged warning each: noise on the user's terminal.
    chatter = logging.getLogger("distributed.shuffle")
    stack.callback(chatter.setLevel, chatter.level)
    chatter.setLevel(logging.ERROR)
    if args.scheduler is not None:
        return stack.enter_context(Client(args.scheduler))
    cluster = stack.enter_context(
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            memory_limit="auto" if args.memory_limit is None else args.memory_limit,
            dashboard_address=None,
        )
    )
    return stack.enter_context(Client(cluster))


def read(
    data: str,
    sep: str | None = None,
    decimal: str | None = None,
    thousands: str | None = None,
    as_text: Sequence[str] = (),
    types: dict | None = None,
) -> DaskColumns:
    """The columns of ``data`` (a Parquet or CSV file, a glob of them, or a folder of Parquet
    files) as a dask DataFrame; a CSV's as :func:`csv_frame` reads them (``types``: those a
    reading of it found, :attr:`DaskColumns.types`; None: found again).

    Raises
    ------
    DataError
        Where the CSV's numbers have a thousands separator (given, or found as the in-memory
        run finds it), which only the in-memory reading reads.
    """
    import dask.dataframe as dd

    from emkit.cli.table import check_not_stdin, check_parquet_columns, is_parquet

    check_not_stdin(data)
    files = sorted(glob.glob(data)) or [data]
    try:
        if Path(data).is_dir() or is_parquet(Path(files[0])):
            check_parquet_columns(data, None if Path(data).is_dir() else files)
            # a named index pandas stored, a column (as read_raw has it)
            frame, types = dd.read_parquet(data, index=False), None
        else:
            frame, types = csv_frame(data, files, sep, decimal, thousands, as_text, types)
    except DataError:
        raise
    except (OSError, ValueError) as exc:
        raise DataError(f"{data}: cannot be read as a table ({exc})") from None
    return DaskColumns(frame, types)


def csv_frame(
    data: str,
    files: list[str],
    sep: str | None = None,
    decimal: str | None = None,
    thousands: str | None = None,
    as_text: Sequence[str] = (),
    types: dict | None = None,
) -> tuple[Any, dict]:
    """The CSV files ``data`` (``files``, the paths it names) as a dask DataFrame, every
    field converted as the in-memory run converts it (:func:`arrow_block`): the delimiter
    and decimal mark as given, else detected from the first file as the in-memory run detects
    them; each column of the type the in-memory reading infers over the whole column, found
    in one pass over every block (:func:`block_types`, :func:`common_type`) where ``types``
    does not give them; the columns ``as_text`` read as text. And the types, for a reading
    again.

    Dask would take each column's type from the first rows (10) and fail, or read otherwise,
    where a later block holds a missing value, a fraction or text in a column of integers.

    Raises
    ------
    DataError
        Where the CSV's numbers have a thousands separator (given, or found as the in-memory
        run finds it), which only the in-memory reading reads.
    """
    import json

    from dask.dataframe.io.csv import read_pandas

    from emkit.cli.table import COMPRESSED_SUFFIXES, delimiter_and_decimal, thousands_mark

    sep, decimal = delimiter_and_decimal(Path(files[0]), sep, decimal)
    mark = thousands_mark(Path(files[0]), sep, decimal, thousands)
    if mark is not None:
        raise DataError(
            f"{data}: numbers with {mark!r} between thousands (such as 1{mark}234) "
            "are read in memory only: leave out --scheduler and --workers, or write "
            "the numbers plainly (e.g. pandas.read_csv(..., "
            f"sep={sep!r}, decimal={decimal!r}, thousands={mark!r}).to_parquet(...)) "
            "for the cluster"
        )
    # a compressed file cannot be split into blocks: one partition per file
    packed = Path(files[0]).suffix.lower() in COMPRESSED_SUFFIXES
    options = {"sep": sep, "encoding": "utf-8-sig", **({"blocksize": None} if packed else {})}
    reading = {"label": data, "sep": sep, "decimal": decimal}
    if types is None:
        found = read_pandas(named(block_types, **reading), data, **options)["types"].compute()
        types = {}
        for block in found:
            for name, kind in json.loads(block).items():
                types[name] = common_type(types.get(name, "null"), kind)
    given = {**types, **dict.fromkeys(as_text, "string")}
    return read_pandas(named(read_block, **reading, types=given), data, **options), types


def named(reader: Callable[..., pd.DataFrame], **bound: Any) -> Callable[..., pd.DataFrame]:
    """``reader`` with ``bound`` given, named as Dask names its reader's tasks."""
    partial = functools.partial(reader, **bound)
    partial.__name__ = "read_csv"  # type: ignore[attr-defined]
    return partial


# pyarrow's types of a CSV column (as it names them), and the type each is read as
ARROW_TYPES = {"null": "float64", "int64": "int64", "double": "float64", "bool": "bool"}


def common_type(one: str, other: str) -> str:
    """The type pyarrow infers for a column of two blocks it inferred ``one`` and ``other``
    for (names of :data:`ARROW_TYPES`, else "string"): integers and floats are floats; a
    block of missing values only takes the other's type; any other two are text."""
    if one == other or other == "null":
        return one
    if one == "null":
        return other
    return "double" if {one, other} == {"int64", "double"} else "string"


def arrow_block(
    source,
    *,
    label: str,
    sep: str,
    decimal: str,
    types: dict | None = None,
    nrows: int | None = None,
):
    """The block ``source`` of the CSV files ``label`` (bytes: its header, then rows, as Dask
    gives it) as a pyarrow Table, its fields converted as the in-memory reading of the file
    converts them (:func:`emkit.cli.table.arrow_conversion`), with ``types`` (column: a name
    of :data:`ARROW_TYPES` or "string"; None: inferred from the block), its columns named
    as pandas names them; with ``nrows``, its first rows only (Dask's sample, whose later
    rows are a block's too).

    Raises
    ------
    DataError
        Where a row has more fields than the header, or fewer (:func:`emkit.io.read_csv`).
    """
    import io
    import itertools

    import pyarrow as pa
    from pyarrow import csv

    from emkit.cli.table import arrow_conversion
    from emkit.io import read_csv

    if nrows is not None:
        source = io.BytesIO(b"".join(itertools.islice(source, nrows + 1)))
    names = [str(n) for n in read_csv(source, sep=sep, nrows=0, encoding="utf-8-sig").columns]
    given = (
        None
        if types is None
        else {n: pa.type_for_alias(ARROW_TYPES.get(t, "string")) for n, t in types.items()}
    )
    convert = arrow_conversion(decimal, types=given)
    source.seek(0)
    try:
        return csv.read_csv(
            source,
            read_options=csv.ReadOptions(column_names=names, skip_rows=1, use_threads=False),
            parse_options=csv.ParseOptions(delimiter=sep),
            convert_options=convert,
        )
    except pa.ArrowInvalid:
        # rows pandas splits otherwise (a line of spaces, which it skips; fewer fields than
        # a header ending in a delimiter; a quoted line break), or refuses (short, long):
        # split by pandas, its fields converted by pyarrow all the same
        source.seek(0)
        text = read_csv(source, label=label, lines=False, sep=sep, dtype=str, encoding="utf-8-sig")
        fields = io.BytesIO()
        csv.write_csv(
            pa.Table.from_pandas(text, preserve_index=False),
            fields,
            csv.WriteOptions(include_header=False),
        )
        fields.seek(0)
        return csv.read_csv(
            fields,
            read_options=csv.ReadOptions(column_names=names, use_threads=False),
            parse_options=csv.ParseOptions(newlines_in_values=True),
            convert_options=convert,
        )


def block_types(
    source, *, label: str, sep: str, decimal: str, nrows: int | None = None, **_: Any
) -> pd.DataFrame:
    """The types pyarrow infers for the columns of the block ``source`` (:func:`arrow_block`),
    as JSON in a frame of one column, "types", of one row; none where the block is refused
    (its reading says why). Dask's other arguments are pandas' own."""
    import json

    import pandas as pd

    try:
        table = arrow_block(source, label=label, sep=sep, decimal=decimal, nrows=nrows)
    except DataError:
        return pd.DataFrame({"types": pd.Series([], dtype=object)})
    kinds = {f.name: str(f.type) if str(f.type) in ARROW_TYPES else "string" for f in table.schema}
    return pd.DataFrame({"types": pd.Series([json.dumps(kinds)], dtype=object)})


def read_block(
    source, *, label: str, sep: str, decimal: str, types: dict, nrows: int | None = None, **_: Any
) -> pd.DataFrame:
    """The block ``source`` (:func:`arrow_block`) as a pandas DataFrame of its columns'
    ``types`` (integers nullable: ``Int64``, ``pd.NA`` where missing; booleans too); with
    ``nrows``, its first rows (Dask's sample). Dask's other arguments are pandas' own."""
    import pandas as pd
    import pyarrow as pa

    table = arrow_block(source, label=label, sep=sep, decimal=decimal, types=types, nrows=nrows)
    nullable = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    return table.to_pandas(types_mapper=nullable.get)


class DaskColumns:
    """The columns of a dask DataFrame, for :func:`emkit.cli.table.choose_columns`: kinds
    from the frame's types, the rest computed on the workers; ``types``: a CSV's column
    types (:func:`csv_frame`), None for a Parquet file's. ``text_header``: the names are a
    CSV's header row (not a Parquet file's metadata)."""

    def __init__(self, frame, types: dict | None = None) -> None:
        self.frame = frame.rename(columns=str)
        self.types = types
        self.text_header = types is not None
        self.names = [str(c) for c in self.frame.columns]
        # the first row shows what an object column holds (Arrow's times of day and
        # intervals are objects in pandas, and the frame's types have no values)
        self.head = first_rows(self.frame, 1) if self.names else None
        self.empty = self.head is None or len(self.head) == 0

    def kind(self, name: str) -> str:
        from emkit.cli.table import is_boolean, is_number, time_kind

        meta = self.frame._meta[name]
        if is_boolean(meta):
            return "boolean"
        if is_number(meta):
            return "number"
        head = self.head
        column = meta if head is None or len(head) == 0 or meta.dtype != object else head[name]
        return time_kind(column) or "text"

    def series(self, name: str) -> pd.Series:
        """The whole column, gathered (for a message about a column that cannot be used)."""
        return self.frame[name].compute()

    def first_values(self, name: str) -> pd.Series:
        """Its first values, from the first partition."""
        from emkit.cli.table import FIRST_VALUES

        return first_rows(self.frame[[name]], FIRST_VALUES)[name]

    def unique_complete(self, name: str) -> bool:
        import dask

        column = self.frame[name]
        rows, count, unique = dask.compute(column.size, column.count(), column.nunique())
        return bool(rows == count == unique)


@dataclass
class ColumnSummary:
    """Counts of the chosen columns, taken on the workers in one pass (:func:`column_summary`).

    Attributes
    ----------
    n_rows : int.
    count, nan, infinite : int arrays (d,), the values present, missing and infinite.
    low, high : float arrays (d,), the smallest and largest values (NaN when all missing).
    empty_rows : int, rows with no value in any column.
    mean, std : float arrays (d,), the columns' means and standard deviations (ddof 0).
    """

    n_rows: int
    count: np.ndarray
    nan: np.ndarray
    infinite: np.ndarray
    low: np.ndarray
    high: np.ndarray
    empty_rows: int
    mean: np.ndarray
    std: np.ndarray

    def subset(self, columns: list[int]) -> ColumnSummary:
        """The summary of the columns at ``columns`` (rows with no value: as counted over all
        the columns, a bound for these)."""
        return ColumnSummary(
            n_rows=self.n_rows,
            count=self.count[columns],
            nan=self.nan[columns],
            infinite=self.infinite[columns],
            low=self.low[columns],
            high=self.high[columns],
            empty_rows=self.empty_rows,
            mean=self.mean[columns],
            std=self.std[columns],
        )

    def single_values(self, names: list[str]) -> dict[str, float | None]:
        """For each column its one value (NaN when all missing), or None when it varies."""
        return {
            name: float("nan") if count == 0 else float(low) if low == high else None
            for name, count, low, high in zip(names, self.count, self.low, self.high, strict=True)
        }


@dataclass
class ClusterTable:
    """The columns a model reads from a table on a cluster (the in-memory ``Table``'s
    counterpart; nothing gathered).

    Attributes
    ----------
    frame : the table as read, a dask DataFrame.
    values : its model columns as float64 (NaN where missing), a lazy dask DataFrame.
    names : the model columns.
    ids : the id column (carried into the output), or None.
    notes : lines for the user: columns left out and why, the id column.
    summary : the :class:`ColumnSummary` of ``names``.
    """

    frame: Any
    values: Any
    names: list[str]
    ids: str | None
    notes: list[str]
    summary: ColumnSummary


def read_features(
    data: str,
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
) -> ClusterTable:
    """:func:`emkit.cli.fit.read_features` on a cluster: the same columns, notes and checks
    (:func:`emkit.cli.table.select_features`' rules) from the frame's types and one pass of
    counts on the workers (:func:`column_summary`). The options are
    :func:`emkit.cli.fit.read_features`' own.

    Raises
    ------
    DataError
        As the in-memory reading does.
    """
    from emkit.cli.table import (
        check_counts,
        check_rows,
        choose_columns,
        drop_constant_columns,
    )

    raw = read(data, sep, decimal, thousands)
    chosen, ident, notes = choose_columns(
        raw,
        data,
        columns=columns,
        exclude=exclude,
        id_column=id_column,
        excludable=excludable,
        text_header=raw.text_header,
    )
    verbatim = None
    if ident is not None and raw.text_header and raw.kind(ident) == "number":
        # an id of numbers read as the text it is, and written so where the numbers would be
        # written otherwise ("00012"), found in the pass that counts the columns
        import pandas as pd

        # integers (Int64 as read: read_block) as int64 where every id is one
        dtype = raw.frame[ident].dtype
        dtype = getattr(dtype, "numpy_dtype", dtype)
        raw = read(data, sep, decimal, thousands, as_text=[ident], types=raw.types)
        verbatim = raw.frame[ident].map_partitions(ids_kept_as_text, dtype, meta=(ident, bool))
    summary, otherwise = column_summary(as_floats(raw.frame, chosen, data), verbatim)
    check_read_as_floats(raw, chosen, summary, data, sep, decimal, thousands)
    if ident is not None and verbatim is not None and not otherwise:
        numbers = raw.frame[ident].map_partitions(
            lambda text: pd.to_numeric(text).astype(dtype), meta=(ident, dtype)
        )
        raw.frame = raw.frame.assign(**{ident: numbers})
    if summary.n_rows == 0:
        raise DataError(f"{data}: the table is empty (no rows or no columns)")
    names = chosen
    if drop_constant:
        check_rows(summary.n_rows, data)
        names, note = drop_constant_columns(summary.single_values(chosen), data)
        notes += [note] if note else []
        summary = summary.subset([chosen.index(name) for name in names])
    empty_note = check_counts(
        names,
        list(summary.infinite),
        list(summary.nan),
        data,
        missing,
        empty_rows=summary.empty_rows,
        keep_empty_rows=keep_empty_rows,
    )
    notes += [empty_note] if empty_note else []
    return ClusterTable(raw.frame, as_floats(raw.frame, names, data), names, ident, notes, summary)


def ids_kept_as_text(text: pd.Series, dtype: np.dtype) -> bool:
    """Whether a block ``text`` of an id column of numbers (of ``dtype``, :func:`csv_frame`)
    has the ids kept as the text the file holds, as the in-memory run keeps them: where an
    id is missing (the integers are float64 there, written otherwise: 12.0), where the
    column is float64 but an id is written as an integer (float64 writes 1000 as 1000.0: a
    fraction, or an integer beyond 64 bits, lies elsewhere in the column), or where an id
    would be written otherwise than the text (:func:`emkit.cli.table.written_otherwise`:
    "00012")."""
    import pandas as pd

    from emkit.cli.table import written_otherwise

    if text.isna().any():
        return True
    if dtype.kind == "f" and text.str.fullmatch(r"\s*[+-]?[0-9]+\s*").any():
        return True
    numbers = pd.to_numeric(text, errors="coerce")
    return bool(numbers.isna().any()) or written_otherwise(numbers.astype(dtype), text)


def check_read_as_floats(
    raw: DaskColumns,
    names: list[str],
    summary: ColumnSummary,
    data: str,
    sep: str | None,
    decimal: str | None,
    thousands: str | None,
) -> None:
    """DataError where a column of ``names`` that Dask read as float64 holds integers that
    float64 rounds: a CSV's integers with missing values, as its text writes them; a Parquet
    file's integer column with nulls, read again as nullable integers. Only columns with a
    value at or beyond 2**53 (``summary``) are read again, on the workers; partitions of integers
    :func:`as_floats` checks as it converts them."""
    import dask
    import numpy as np

    from emkit.backend.integers import EXACT_INTEGERS

    # 2**53 itself may be 2**53 + 1 rounded
    large = np.fmax(np.abs(summary.low), np.abs(summary.high)) >= EXACT_INTEGERS
    # all of them: Dask's types are the schema's, or the first rows', and a partition with
    # nulls (missing values) of an int64 column is float64 all the same
    suspects = [name for name, beyond in zip(names, large, strict=True) if beyond]
    if not suspects:
        return
    if raw.text_header:
        again = read(data, sep, decimal, thousands, as_text=suspects, types=raw.types).frame
    else:
        import dask.dataframe as dd

        again = dd.read_parquet(
            data, columns=suspects, index=False, dtype_backend="numpy_nullable"
        ).rename(columns=str)
    dask.compute(
        *[
            again[name].map_partitions(_refuse_rounded, name, str(data), meta=(name, bool))
            for name in suspects
        ]
    )


def _refuse_rounded(column: pd.Series, name: str, path: str) -> pd.Series:
    """DataError where ``column`` (a partition: integers or text) holds integers that
    float64 rounds; else an empty Series."""
    import pandas as pd

    from emkit.backend.integers import present_values
    from emkit.cli.table import column_refusal

    if column.dtype.kind in "iu":
        values = present_values(column)
    else:
        values = column.dropna().to_numpy(dtype=object)
    refusal = column_refusal(values, name, path)
    if refusal:
        raise DataError(refusal)
    return pd.Series([], dtype=bool, name=name)


def column_summary(values, flags=None) -> tuple[ColumnSummary, bool]:
    """The :class:`ColumnSummary` of ``values``, a dask DataFrame of float columns, and
    whether any of ``flags`` (a dask Series of booleans; None: False) is true, in one pass."""
    import dask
    import numpy as np

    absent = values.isna()
    *parts, flagged = dask.compute(
        values.min(),
        values.max(),
        absent.sum(),
        np.isinf(values).sum(),
        values.count(),
        absent.all(axis=1).sum(),
        values.mean(),
        values.std(ddof=0),
        False if flags is None else flags.any(),
    )
    low, high, nan, infinite, count, empty, mean, std = (np.asarray(p) for p in parts)
    summary = ColumnSummary(
        n_rows=int(count[0] + nan[0]),
        count=count.astype(np.int64),
        nan=nan.astype(np.int64),
        infinite=infinite.astype(np.int64),
        low=low.astype(float),
        high=high.astype(float),
        empty_rows=int(empty),
        mean=mean.astype(float),
        std=std.astype(float),
    )
    return summary, bool(flagged)


def distinct_counter(values, n_rows: int) -> Callable[[int | None], int]:
    """``distinct(m)`` for :func:`emkit.cli.capping.capped`: the distinct complete rows among
    the first ``m`` rows of ``values`` (a dask DataFrame of ``n_rows`` rows; all rows for
    None, counted once on the workers)."""
    from emkit.cli.capping import distinct_rows

    @functools.cache
    def distinct(prefix: int | None) -> int:
        if prefix is not None:
            return distinct_rows(first_rows(values, prefix).to_numpy())
        return int(values.dropna().drop_duplicates().shape[0].compute()) or n_rows

    return distinct


def first_rows(frame, m: int) -> pd.DataFrame:
    """The first ``m`` rows of the dask DataFrame ``frame`` (fewer where it has fewer), read
    from its first partition, or from all of them where that one holds fewer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dask: "Insufficient elements for head"
        rows = frame.head(m, npartitions=1)
        if len(rows) < m and frame.npartitions > 1:
            rows = frame.head(m, npartitions=-1)
    return rows


def write_assignments(frame, folder: Path, assign: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    """``assign(partition)`` of every partition of ``frame``, written by the workers into
    ``folder`` (Parquet, one file per partition)."""
    meta = assign(frame._meta)  # its result on no rows: the columns and their types
    frame.map_partitions(assign, meta=meta).to_parquet(folder, write_index=False)


def as_floats(frame, names: list[str], path: str) -> Any:
    """Columns ``names`` of ``frame`` as float64 (booleans 0/1, NaN where missing), lazily,
    as :meth:`emkit.cli.table.FrameColumns.floats` converts them; a DataError (as each
    partition is converted) where an integer column holds integers that float64 rounds
    (``path``, the table's, for the message)."""
    import numpy as np
    import pandas as pd

    meta = pd.DataFrame({name: np.empty(0) for name in names})
    return frame.map_partitions(_floats, names, str(path), meta=meta)


def _floats(part: pd.DataFrame, names: list[str], path: str) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    from emkit.backend.integers import present_values
    from emkit.cli.table import column_refusal

    for name in names:
        if getattr(part[name].dtype, "kind", None) in ("i", "u"):
            refusal = column_refusal(present_values(part[name]), name, path)
            if refusal:
                raise DataError(refusal)
    return pd.DataFrame(
        {name: part[name].to_numpy(dtype=np.float64, na_value=np.nan) for name in names},
        index=part.index,
    )
