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
    late: dict | None = None,
) -> DaskColumns:
    """The columns of ``data`` (a Parquet or CSV file, a glob of them, or a folder of Parquet
    files) as a dask DataFrame; a CSV's as :func:`csv_frame` reads them.

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
            frame = dd.read_parquet(data, index=False)
            text = False
        else:
            frame = csv_frame(data, files, sep, decimal, thousands, as_text, late)
            text = True
    except DataError:
        raise
    except (OSError, ValueError) as exc:
        raise DataError(f"{data}: cannot be read as a table ({exc})") from None
    return DaskColumns(frame, text_header=text)


def csv_frame(
    data: str,
    files: list[str],
    sep: str | None = None,
    decimal: str | None = None,
    thousands: str | None = None,
    as_text: Sequence[str] = (),
    late: dict | None = None,
    survey: bool = False,
) -> Any:
    """The CSV files ``data`` (``files``, the paths it names) as a dask DataFrame: the
    delimiter and decimal mark as given, else detected from the first file as the in-memory
    run detects them; the columns ``as_text`` read as text, those of ``late`` as the type it
    gives them (found where Dask read them as integers: :class:`LateValues`), the others Dask
    types as integers from the first rows as nullable integers
    (:func:`nullable_integer_types`), and its numbers read as in memory
    (:func:`read_integer_block`). With ``survey``, a frame of one column, "late": for each
    block, the columns :class:`LateValues` would name there (JSON; none where it holds none).

    Raises
    ------
    DataError
        Where the CSV's numbers have a thousands separator (given, or found as the in-memory
        run finds it), which only the in-memory reading reads.
    """
    import numpy as np
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
    options = {
        "sep": sep,
        "decimal": decimal,
        "encoding": "utf-8-sig",
        **({"blocksize": None} if packed else {}),
    }
    types: dict[Any, Any] = {**(late or {}), **dict.fromkeys(as_text, str)}
    frame = read_pandas(block_reader(data), data, **options, dtype=types or None)
    # Dask takes each column's type from the first rows (sample_rows=10): a column of
    # integers there is int64, and a block with a missing value in it (float64 to
    # pandas) failed with Dask's "Mismatched dtypes". Read as nullable integers, a
    # missing value is pd.NA (NaN once converted, as in memory) and every integer exact.
    integers = nullable_integer_types(frame, types)
    # numbers written with 'NAN' (text to pandas) in the first rows: float64, as in
    # memory; and any float64 column may hold text in another block
    spelled = nan_spelled_numbers(frame, Path(files[0]), types, options)
    floats = {
        name: np.dtype(np.float64)
        for name, dtype in frame.dtypes.items()
        if (dtype == np.float64 and types.get(name) in (None, "float64")) or name in spelled
    }
    if integers or floats or survey:
        frame = read_pandas(
            block_reader(data, {**integers, **floats}, survey=survey),
            data,
            **options,
            dtype={**types, **integers, **spelled},
        )
    return frame


def late_in_every_block(
    data: str,
    sep: str | None = None,
    decimal: str | None = None,
    thousands: str | None = None,
    late: dict | None = None,
) -> dict:
    """The columns of the CSV files ``data``, read with the types of ``late``
    (:func:`csv_frame`), that :class:`LateValues` names in any of its blocks, found in one
    pass over them all, each with the type that reads it as in memory ("str" where any block
    holds text there), ``late``'s columns too."""
    import json

    files = sorted(glob.glob(data)) or [data]
    try:
        found = csv_frame(data, files, sep, decimal, thousands, late=late, survey=True)
        blocks = found["late"].compute()
    except DataError:
        raise
    except (OSError, ValueError) as exc:
        raise DataError(f"{data}: cannot be read as a table ({exc})") from None
    merged = dict(late or {})
    for columns in blocks:
        for name, kind in json.loads(columns).items():
            if merged.get(name) != "str":
                merged[name] = kind
    return merged


def block_reader(
    data: str, checked: dict | None = None, survey: bool = False
) -> Callable[..., pd.DataFrame]:
    """The reader of a block of the CSV files ``data``, for Dask: :func:`emkit.io.read_csv`,
    which refuses a row with more fields than the header (that begins a block, or any other)
    naming ``data``, where pandas would make the first field of every row of a block that
    begins with one the index and shift the rest left; with ``checked`` (the columns read as
    nullable integers, :func:`nullable_integer_types`, or as float64, each with its type), a
    block holding a value there that the type cannot hold is refused naming it
    (:func:`read_integer_block`); with ``survey``, its :func:`block_survey`."""
    from emkit.io import read_csv

    if survey:
        reader = functools.partial(block_survey, label=data, integers=checked or {})
    elif checked:
        reader = functools.partial(read_integer_block, label=data, integers=checked)
    else:
        reader = functools.partial(read_csv, label=data, lines=False)
    reader.__name__ = "read_csv"  # type: ignore[attr-defined]  # Dask names its reader so
    return reader


def nullable_integer_types(frame, given: Any = ()) -> dict:
    """The columns of the dask DataFrame ``frame`` (read from a CSV) that Dask typed as
    integers from the file's first rows, but for those ``given`` (a type of their own), each
    with pandas' nullable integer type of its sign (``Int64``, ``UInt64``), which also holds
    a missing value."""
    import numpy as np
    import pandas as pd

    return {
        name: pd.UInt64Dtype() if dtype.kind == "u" else pd.Int64Dtype()
        for name, dtype in frame.dtypes.items()
        if isinstance(dtype, np.dtype) and dtype.kind in "iu" and name not in given
    }


class LateValues(DataError):
    """A block of a CSV holds values that are not integers in ``columns``, which Dask read as
    integers from the first rows: each with the type that reads it as in memory, "float64"
    (fractions, inf, integers beyond 64 bits) or "str" (text: a column of text in memory).
    :func:`read_features` reads the file again so."""

    def __init__(self, message: str, columns: dict | None = None) -> None:
        super().__init__(message)
        self.columns = dict(columns or {})

    def __reduce__(self) -> Any:  # to and from the workers, with its columns
        return type(self), (str(self), self.columns)


def read_integer_block(source, *, label: str, integers: dict, **kwargs) -> pd.DataFrame:
    """:func:`emkit.io.read_csv` of a block ``source`` (a file-like object, as Dask gives it)
    of the CSV files ``label``, whose ``integers`` columns are read as their types: nullable
    integers, or float64 (a column of numbers in the first rows, or found to hold more than
    integers in another block), their fields read as the in-memory run reads them
    (:func:`csv_fields`: any case of 'nan' is missing, 'hello' and '1_000' are text).

    Raises
    ------
    LateValues
        Where values of some of ``integers`` are not values of their type (for integers:
        fractions, inf, beyond 64 bits, text; for float64: text), naming those columns and
        what reads them; its message names the first column and value
        (:func:`late_value_refusal`): Dask takes the column's type from the first rows, and
        a partition cannot change it.
    """
    from emkit.io import read_csv

    try:
        frame = read_csv(source, label=label, lines=False, **kwargs)
    except DataError:
        raise
    except (TypeError, ValueError, OverflowError):
        if not (hasattr(source, "seek") and hasattr(source, "seekable") and source.seekable()):
            raise
    else:
        # a float64 column pandas read as text here ('NAN', 'hello'), which Dask's
        # astype(float64) would read as Python's float() does ('1_000' as 1000) or fail on
        held = [n for n in integers if n in frame.columns and frame[n].dtype.kind not in "fiu"]
        if not held or not (hasattr(source, "seekable") and source.seekable()):
            return frame
    source.seek(0)
    types = {**(kwargs.get("dtype") or {}), **dict.fromkeys(integers, str)}
    text = read_csv(source, label=label, lines=False, **{**kwargs, "dtype": types})
    decimal = kwargs.get("decimal") or "."
    found = {
        name: late_value(text[name], dtype, decimal)
        for name, dtype in integers.items()
        if name in text.columns
    }
    late = {name: field for name, field in found.items() if field is not None}
    if late:
        name, (value, what) = next(iter(late.items()))
        message = late_value_refusal(name, value, what, integers[name], label)
        types = {n: "str" if w == NOT_A_NUMBER else "float64" for n, (_, w) in late.items()}
        raise LateValues(message, types) from None
    return text.assign(
        **{
            name: converted(text[name], dtype, decimal)
            for name, dtype in integers.items()
            if name in text.columns
        }
    )


def block_survey(source, *, label: str, integers: dict, **kwargs) -> pd.DataFrame:
    """The columns that :func:`read_integer_block` of the block ``source`` finds values of
    their type cannot hold in (:class:`LateValues`), as JSON in a frame of one column, "late"
    (a row, or none where there are none): what :func:`late_in_every_block` gathers."""
    import json

    import pandas as pd

    try:
        read_integer_block(source, label=label, integers=integers, **kwargs)
    except LateValues as found:
        return pd.DataFrame({"late": pd.Series([json.dumps(found.columns)], dtype=object)})
    return pd.DataFrame({"late": pd.Series([], dtype=object)})


NOT_A_NUMBER = "text, not a number"


def csv_fields(text: pd.Series, decimal: str = ".") -> tuple[np.ndarray, pd.Series, np.ndarray]:
    """The fields of ``text`` (a block of a CSV column read as text, NaN where missing;
    numbers with the decimal mark ``decimal``) as the in-memory run (pyarrow) reads a column
    of numbers: any case of 'nan', signed or not, is missing (pandas reads only some so),
    ASCII digits only, and with a decimal comma '2.5' is text.

    Returns
    -------
    at : int array (m,), the positions of the values present.
    present : their text, stripped (m,).
    numbers : float array (m,), their values; NaN where one is not a number (text).
    """
    import numpy as np
    import pandas as pd

    shown = text.notna().to_numpy()
    stripped = text[shown].astype(str).str.strip()
    value = ~stripped.str.fullmatch(r"[+-]?nan", case=False).to_numpy(dtype=bool)
    at = np.flatnonzero(shown)[value]
    present = stripped[value]
    # "1.0" and "1e3" are numbers; with a decimal comma, "2.5" is text to pandas
    marked = present
    if decimal != ".":
        marked = marked.mask(marked.str.contains(".", regex=False))
        marked = marked.str.replace(decimal, ".", regex=False)
    numbers = pd.to_numeric(marked, errors="coerce").to_numpy(dtype=np.float64)
    return at, present, numbers


def converted(text: pd.Series, dtype: Any, decimal: str = ".") -> Any:
    """``text`` (a block of a CSV column read as text, every value a value of ``dtype``:
    :func:`late_value` found none that is not) as ``dtype``, nullable integers or float64,
    read as the in-memory run reads it (:func:`csv_fields`)."""
    import numpy as np
    import pandas as pd

    at, present, numbers = csv_fields(text, decimal)
    if dtype.kind == "f":
        out = np.full(len(text), np.nan)
        out[at] = numbers
        return pd.Series(out, index=text.index, name=text.name)
    exact = np.dtype(dtype.numpy_dtype)
    values = np.zeros(len(text), dtype=exact)
    plain = present.str.fullmatch(r"[+-]?[0-9]+").to_numpy(dtype=bool)
    if plain.any():  # beyond 2**53 too
        values[at[plain]] = pd.to_numeric(present[plain]).to_numpy(dtype=exact)
    values[at[~plain]] = numbers[~plain]  # whole numbers written "1e3", "7.0"
    missing = np.ones(len(text), dtype=bool)
    missing[at] = False
    return pd.Series(pd.arrays.IntegerArray(values, missing), index=text.index, name=text.name)


def nan_spelled_numbers(frame, path: Path, given: Any, options: dict) -> dict:
    """The text columns of the dask DataFrame ``frame`` (read from the CSV file ``path``
    with ``options``, those ``given`` a type left out) whose first rows, which Dask took
    their types from, hold numbers and a spelling of 'nan' pandas reads as text ('NAN',
    'Nan'), each with float64: the in-memory run reads them as numbers, that one missing."""
    import numpy as np

    from emkit.io import read_csv

    names = [n for n, t in frame.dtypes.items() if t.kind not in "biufcmM" and n not in given]
    if not names:
        return {}
    sample = read_csv(
        path,
        label=path,
        usecols=names,
        nrows=10,  # Dask's sample_rows
        dtype=str,
        sep=options["sep"],
        encoding=options["encoding"],
    )
    spelled = {}
    for name in names:
        at, _, numbers = csv_fields(sample[name], options["decimal"])
        if len(at) and not np.isnan(numbers).any() and len(at) < sample[name].notna().sum():
            spelled[name] = np.dtype(np.float64)
    return spelled


def late_value(text: pd.Series, dtype: Any, decimal: str = ".") -> tuple[str, str] | None:
    """The field of ``text`` (a block of a CSV column read as text, NaN where missing; numbers
    with the decimal mark ``decimal``) that decides how a column of the nullable integer type
    ``dtype`` (or float64) that cannot hold it is read, and what it is: the first text
    (:data:`NOT_A_NUMBER`: the column is text, whatever numbers it also holds), else the
    first number the type cannot hold ("an infinite value", "a fraction", "beyond the range
    of Int64"); None where every field is a value of the type (:func:`csv_fields`: any case
    of 'nan' is missing)."""
    import numpy as np

    _, present, numbers = csv_fields(text, decimal)
    # ASCII digits: \d also matches other scripts' digits, which pandas reads as text
    plain = present.str.fullmatch(r"[+-]?[0-9]+").to_numpy(dtype=bool)
    words = ~plain & np.isnan(numbers)
    if words.any():
        return present.iloc[int(words.argmax())], NOT_A_NUMBER
    if dtype.kind == "f":
        return None
    low, high = (0, 2**64 - 1) if dtype.kind == "u" else (-(2**63), 2**63 - 1)
    bad = np.zeros(plain.shape, dtype=bool)
    # may lie beyond 64 bits, or below 0 for an unsigned type
    long = plain & (present.str.len().to_numpy() >= 19)
    if dtype.kind == "u":
        long |= plain & present.str.startswith("-").to_numpy(dtype=bool)
    bad[long] = [not low <= int(v) <= high for v in present[long]]
    # a fraction, inf or 1e30 are not integers of the type
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(numbers) & (numbers == np.floor(numbers))
        bad[~plain] = ~(whole & (numbers >= low) & (numbers <= high))[~plain]
    if not bad.any():
        return None
    at = int(bad.argmax())
    number = numbers[at]
    what = (
        f"beyond the range of {dtype}"
        if plain[at]
        else "an infinite value"
        if np.isinf(number)
        else "a fraction"
        if number != np.floor(number)
        else f"beyond the range of {dtype}"
    )
    return present.iloc[at], what


def late_value_refusal(name: str, value: str, what: str, dtype: Any, label: str) -> str:
    """The refusal of the column ``name`` of the CSV files ``label``, read as ``dtype``
    (nullable integers, or float64) from its first rows, where a later field is ``value``
    (``what``: :func:`late_value`)."""
    held = "integers" if dtype.kind in "iu" else "numbers"
    return (
        f"{label}: column {name!r} holds {value!r} ({what}) in a row past its first ones, "
        f"which hold {held} only: Dask takes each column's type from the first rows of the "
        f"file and reads this one as {dtype} ({held}, a missing value allowed), which "
        "cannot hold it. Leave out --scheduler and --workers to read the file in memory, "
        "which reads the column as the values it holds, or write the file as Parquet, which "
        "stores each column's type (e.g. pandas.read_csv(...).to_parquet(...))"
    )


class DaskColumns:
    """The columns of a dask DataFrame, for :func:`emkit.cli.table.choose_columns`: kinds
    from the frame's types (as pandas infers them from the start of each file), the rest
    computed on the workers; ``text_header``: the names are a CSV's header row (not a
    Parquet file's metadata)."""

    def __init__(self, frame, text_header: bool = False) -> None:
        self.frame = frame.rename(columns=str)
        self.text_header = text_header
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


def read_features(data: str, **options: Any) -> ClusterTable:
    """:func:`emkit.cli.fit.read_features` on a cluster: the same columns, notes and checks
    (:func:`emkit.cli.table.select_features`' rules) from the frame's types and one pass of
    counts on the workers (:func:`column_summary`). ``options``: ``columns``, ``exclude``,
    ``id_column``, ``sep``, ``decimal``, ``thousands``, ``missing``, ``drop_constant``,
    ``excludable`` and ``keep_empty_rows``, as :func:`emkit.cli.fit.read_features` takes them.

    A CSV column that Dask typed as integers from the first rows but that holds other values
    further on is read again as the in-memory run reads it (:class:`LateValues`): as float64
    where they are numbers (fractions, inf, integers beyond 64 bits), else as text. The pass
    that found one is cut short; one pass over every block finds them all
    (:func:`late_in_every_block`), and the passes are repeated once with them.

    Raises
    ------
    DataError
        As the in-memory reading does.
    """
    late: dict = {}
    while True:
        try:
            return _read_features(data, late=late, **options)
        except LateValues as found:
            # a column changes at most twice: integers, float64, text
            again = {n: k for n, k in found.columns.items() if late.get(n) not in (k, "str")}
            if not again:
                raise
            # every block's at once: a column's late values may lie in another block
            late = late_in_every_block(
                data,
                options.get("sep"),
                options.get("decimal"),
                options.get("thousands"),
                {**late, **again},
            )


def _read_features(
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
    late: dict | None = None,
) -> ClusterTable:
    """:func:`read_features`, the CSV columns of ``late`` read as the types it gives them."""
    from emkit.cli.table import (
        check_counts,
        check_rows,
        choose_columns,
        drop_constant_columns,
    )

    raw = read(data, sep, decimal, thousands, late=late)
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

        # integers (Int64 where read: nullable_integer_types) as int64 where every id is one
        dtype = raw.frame[ident].dtype
        dtype = getattr(dtype, "numpy_dtype", dtype)
        raw = read(data, sep, decimal, thousands, as_text=[ident], late=late)
        verbatim = raw.frame[ident].map_partitions(ids_kept_as_text, dtype, meta=(ident, bool))
    summary, otherwise = column_summary(as_floats(raw.frame, chosen, data), verbatim)
    check_read_as_floats(raw, chosen, summary, data, sep, decimal, thousands, late)
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
    """Whether a block ``text`` of an id column that Dask typed ``dtype`` (numbers) from the
    file's first rows has the ids kept as the text the file holds, as the in-memory run keeps
    them: where an id is missing (the integers are float64 there, written otherwise: 12.0),
    is not a number (a column of text there), is not a value of ``dtype`` (a fraction or an
    integer beyond 64 bits among integers: float64 or text there, where ``dtype`` would
    truncate or overflow), or would be written otherwise than the text
    (:func:`emkit.cli.table.written_otherwise`: "00012")."""
    import numpy as np
    import pandas as pd

    from emkit.cli.table import written_otherwise

    if text.isna().any():
        return True
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.isna().any() or numbers.dtype.kind not in "iuf":
        return True
    if dtype.kind in "iu":
        if numbers.dtype.kind not in "iu":
            return True
        info = np.iinfo(dtype)
        if len(numbers) and not info.min <= numbers.min() <= numbers.max() <= info.max:
            return True
    return written_otherwise(numbers, text)


def check_read_as_floats(
    raw: DaskColumns,
    names: list[str],
    summary: ColumnSummary,
    data: str,
    sep: str | None,
    decimal: str | None,
    thousands: str | None,
    late: dict | None = None,
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
        again = read(data, sep, decimal, thousands, as_text=suspects, late=late).frame
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
