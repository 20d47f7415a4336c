"""Reading the tables people have: delimiter and decimal mark, id, text and constant columns.

:func:`read_raw` reads a CSV (delimiter and decimal mark detected unless given) or a Parquet
file as it is; :func:`select_features` picks the numeric columns a model uses, the id column
carried into the output, and says in :class:`Table.notes` what it left out and why.

A CSV is read by :class:`CsvColumns` with pyarrow's streaming reader: column kinds come from
its schema, and only the columns the model uses are converted, block by block, straight into
one float64 array (the one copy of the data kept); an id column is read on its own. Where
pyarrow cannot read the file as pandas would (a value later in a column that does not fit the
kind of its first block, duplicate or empty column names, a parse error), the file is read by
pandas instead (:class:`FrameColumns`), with the same result. A data row with more fields than
the header is refused (:func:`check_first_row` and pandas with ``index_col=False``), never read
with its first field as the row index and the rest shifted left.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import lzma
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol, cast

import numpy as np
import pandas as pd

from emkit.backend.integers import EXACT_INTEGERS, integer_refusal, present_values
from emkit.exceptions import DataError
from emkit.filecheck import check_regular_file
from emkit.io import (
    long_row,
    not_plain_numbers,
    number_format_hint,
    open_text,
    read_csv,
    written_as_numbers,
)

PARQUET_SUFFIXES = (".parquet", ".pq")
DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 64 * 1024
# a number written with a decimal comma: 3,14  -2,5e-3  ,5
COMMA_DECIMAL = re.compile(r"^[+-]?\d*,\d+([eE][+-]?\d+)?$")
DOT_DECIMAL = re.compile(r"^[+-]?\d*\.\d+([eE][+-]?\d+)?$")
# one as a thousands separator writes it too: 70,850 is 70.85 or 70850
COMMA_EITHER_WAY = re.compile(r"^[+-]?[1-9]\d{0,2},\d{3}$")
# the same with a point: 3.427 is 3.427 or 3427 (no vote for a decimal point)
DOT_EITHER_WAY = re.compile(r"^[+-]?[1-9]\d{0,2}\.\d{3}$")
# '.' between thousands, a decimal comma after: 1.234,50 (a vote for a decimal comma)
DOT_GROUPED_COMMA = re.compile(r"^[+-]?[1-9]\d{0,2}(\.\d{3})+,\d+$")
# '.' between thousands, with or without a decimal comma: 3.427  1.234.567  1.234,5
DOT_GROUPED = re.compile(r"^[+-]?[1-9]\d{0,2}(\.\d{3})+(,\d+)?$")
# Values of a column looked at to tell names from numbers written with separators.
FIRST_VALUES = 1000
ID_NAMES = {"id", "index", "key", "row", "rowid", "row_id", "unnamed: 0"}
# a column name that is a whole number, as years and pandas' names of an array's columns are
WHOLE_NAME = re.compile(r"^(0|[1-9]\d*)$")
# the strings pandas.read_csv reads as missing, given to pyarrow so both read the same
NULL_VALUES = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip
TRUE_VALUES, FALSE_VALUES = ["True", "TRUE", "true"], ["False", "FALSE", "false"]
# Byte order marks of the encodings a text table is refused in, with iconv's names for them;
# UTF-32's first: its little-endian mark begins with UTF-16's
BYTE_ORDER_MARKS = {
    codecs.BOM_UTF32_LE: "utf-32",
    codecs.BOM_UTF32_BE: "utf-32",
    codecs.BOM_UTF16_LE: "utf-16",
    codecs.BOM_UTF16_BE: "utf-16",
}
# Files that are not text tables, by their first bytes (their suffix where those are a .zip's,
# as an Excel workbook's are): what each is and what to do, ``{name}`` the file's name.
NUMPY_ADVICE = (
    "a NumPy array file, not a table: the library reads it, e.g. "
    "emkit.GaussianMixture().fit({name!r}); for emkit's commands save it as CSV or Parquet "
    "with column names, e.g. pandas.DataFrame(numpy.load({name!r})).add_prefix('x')"
    ".to_parquet('data.parquet')"
)
ARROW_ADVICE = (
    "a Feather (Arrow IPC) file; emkit reads CSV and Parquet: convert it, e.g. "
    "pandas.read_feather({name!r}).to_parquet('data.parquet')"
)
EXCEL_ADVICE = (
    "an Excel workbook; emkit reads CSV and Parquet: save the sheet as CSV (UTF-8) in Excel, "
    "or convert it, e.g. pandas.read_excel({name!r}).to_csv('data.csv', index=False)"
)
MAGIC_BYTES = {
    b"\x93NUMPY": NUMPY_ADVICE,
    b"ARROW1": ARROW_ADVICE,
    b"FEA1": ARROW_ADVICE,  # Feather version 1
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": EXCEL_ADVICE,  # .xls (OLE2; old Word files too)
    b"PAR1": "a Parquet file: give it the suffix .parquet, which emkit reads as Parquet",
}
ZIP_MAGIC = b"PK\x03\x04"
ZIPPED_FORMATS = {
    ".npz": "a NumPy archive (numpy.savez), not a table: save the array as CSV or Parquet "
    "with column names, e.g. pandas.DataFrame(numpy.load({name!r})['arr_0']).add_prefix('x')"
    ".to_parquet('data.parquet')",
    ".xlsx": EXCEL_ADVICE,
    ".xlsm": EXCEL_ADVICE,
    ".ods": "a spreadsheet (OpenDocument); emkit reads CSV and Parquet: save the sheet as "
    "CSV (UTF-8)",
}
# How to write the text of a compressed table to standard output, by suffix (for iconv).
DECOMPRESS = {
    ".gz": "gunzip -c",
    ".bz2": "bunzip2 -c",
    ".xz": "xz -dc",
    ".zip": "unzip -p",
    ".zst": "zstd -dc",
}
ARROW_BLOCK_BYTES = 1 << 19  # the reader holds about 36 of them ahead; bigger ones buy no speed
# Compressed text tables, by suffix, as pandas infers them; pyarrow's reader decompresses only
# some, so the others are read by pandas. The delimiter is sniffed in the decompressed text.
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zip", ".zst")
ARROW_COMPRESSED_SUFFIXES = (".gz", ".bz2")
# What to do about NaN in a column, for each `missing` that refuses it: "error" where the model
# can take NaN as missing at random (--missing em), "unsupported" where it cannot.
# How a note names a kind of column that is left out (ColumnKinds.kind).
KIND_WORDS = {
    "boolean": "boolean",
    "text": "text",
    "dates": "dates",
    "durations": "durations",
    "times of day": "times of day",
    "intervals": "intervals",
    "nested": "lists or records",
}
# Kinds whose values can name rows (an id column) but are not numbers to cluster.
NAME_KINDS = ("text", "dates", "durations", "times of day")
NAN_ADVICE = {
    "error": "pass --missing em to fit them as missing at random, or drop those rows",
    "unsupported": "the model cannot use rows with missing values; drop or fill those rows",
}
# the same, for rows a fitted model labels (emkit predict)
NAN_ADVICE_LABELLED = {
    **NAN_ADVICE,
    "error": "pass --missing em to label those rows as missing at random (each row's "
    "probabilities from the values it has), or drop them",
}


@dataclass
class Table:
    """The columns a model reads, and what came with them.

    Attributes
    ----------
    values : array of shape (n, d), float64, C-contiguous: the model's input (NaN where missing).
    names : the d column names.
    ids : the id column (carried into the output), or None.
    notes : lines for the user: columns left out and why, the id column.
    """

    values: np.ndarray
    names: list[str]
    ids: pd.Series | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def features(self) -> pd.DataFrame:
        """``values`` as a DataFrame with the column names (a view, no copy)."""
        return pd.DataFrame(self.values, columns=self.names, copy=False)


def sniff(path: Path, decimal: str | None = None, sep_given: bool = False) -> tuple[str, str]:
    """The delimiter and decimal mark of a text table, read from its first 64 KiB.

    The delimiter is the candidate (``, ; tab |``) that splits every sampled line into the same
    number (above one) of fields, the most fields winning; else one that splits the data lines
    evenly and the header into fewer (above one) fields (delimiters at the ends of lines); else a
    comma (``;`` where ``decimal``, the mark given, is a comma: a table of one column). The
    decimal mark is a comma when the delimiter is not and fields such as ``3,14`` or
    ``1.234,50`` outnumber fields such as ``3.14``; ``3.427`` (3.427, or 3427 with '.' between
    thousands) is no vote. A line with one more field than the header, empty (``5;6;``), does
    not stop a delimiter being found (reading the table then names that line).

    Raises
    ------
    DataError
        When the decimal mark is to be detected (``decimal`` None) and every field with a
        comma is one a thousands separator writes too (``70,850``: 70850 or 70.85): which it
        is cannot be told, and the wrong one is a thousand times off. And where the
        delimiter is to be detected (not ``sep_given``) and none splits a line, but spaces
        split every line into as many numbers (a header aside), as ``numpy.savetxt`` writes
        them.
    """
    with open_text(path) as f:
        text = f.read(SNIFF_BYTES)
    lines = [line for line in text.splitlines() if line.strip()]
    if len(text) == SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut in the middle
    lines = lines[:200]
    best, best_fields = ("," if decimal != "," else ";"), 1
    shorter = None  # one that splits the rows evenly and the header into fewer (above one)
    for delimiter in DELIMITERS:
        split = list(csv.reader(lines, delimiter=delimiter))
        widths = [len(row) for row in split]
        if len(set(widths)) == 1 and (n := widths[0]) > best_fields:
            best, best_fields = delimiter, n
        elif trailing_delimiters(split) and (n := widths[0]) > best_fields:
            # "5;6;": reading says which line, and what to do
            best, best_fields = delimiter, n
        elif len(set(widths[1:])) == 1 and 1 < widths[0] < widths[1] and shorter is None:
            shorter = delimiter  # read so, check_first_row names the row and the counts
    if best_fields == 1 and shorter is not None:
        best = shorter
    elif best_fields == 1 and not sep_given:
        spaced = spaced_numbers(path, lines)
        if spaced is not None:
            raise DataError(spaced)
    given, decimal = decimal, "."
    if best != ",":
        rows = list(csv.reader(lines[1:], delimiter=best))
        fields = [v.strip() for row in rows for v in row]
        commas = [v for v in fields if COMMA_DECIMAL.match(v) or DOT_GROUPED_COMMA.match(v)]
        dots = sum(bool(DOT_DECIMAL.match(v)) and not DOT_EITHER_WAY.match(v) for v in fields)
        if len(commas) > dots:
            decimal = ","
            if given is None and all(COMMA_EITHER_WAY.match(v) for v in commas):
                header = next(csv.reader(lines[:1], delimiter=best), [])
                raise DataError(comma_either_way(path, best, header, rows))
    return best, decimal


def trailing_delimiters(rows: list[list[str]]) -> bool:
    """Whether ``rows`` (a table's first lines, split) have the header's number of fields (above
    one), some with one more, empty (a delimiter at the end of the line)."""
    width = len(rows[0]) if rows else 0
    return width > 1 and all(
        len(row) == width or (len(row) == width + 1 and row[-1] == "") for row in rows
    )


def sniff_thousands(path: Path, sep: str, decimal: str) -> str | None:
    """``"."`` where the text table ``path`` (delimiter ``sep``) is read with a decimal comma
    and, in its first 64 KiB, some numbers have '.' between groups of three digits
    (``3.427``, ``1.234,50``) and none has a decimal point (``1.5``); else None. Only columns
    whose every value is so written are read with it (:func:`read_thousands`)."""
    if decimal != "," or sep == ".":
        return None
    with open_text(path) as f:
        text = f.read(SNIFF_BYTES)
    lines = [line for line in text.splitlines() if line.strip()]
    if len(text) == SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut in the middle
    fields = [v.strip() for row in csv.reader(lines[1:201], delimiter=sep) for v in row]
    if any(DOT_DECIMAL.match(v) and not DOT_EITHER_WAY.match(v) for v in fields):
        return None
    return "." if any(DOT_GROUPED.match(v) for v in fields) else None


def read_thousands(frame: pd.DataFrame, thousands: str, decimal: str) -> str | None:
    """Convert, in place, the text columns of ``frame`` whose every value is a number with
    ``thousands`` between groups of three digits (``1.234``, ``12.345.678,5``) or a plain one
    (``999``, ``3,5``), some of them grouped, to float64; a note naming them (None where none
    is).

    Stricter than ``pandas.read_csv(thousands=...)``, which drops the separator wherever it
    stands (``01.02.2020`` is read as 1022020, ``1.5`` as 15): a column with any other value
    stays text."""
    t, d = re.escape(thousands), re.escape(decimal)
    grouped = re.compile(rf"[+-]?[1-9]\d{{0,2}}(?:{t}\d{{3}})+(?:{d}\d+)?")
    number = re.compile(rf"[+-]?(?:[1-9]\d{{0,2}}(?:{t}\d{{3}})+|\d+)(?:{d}\d+)?|[+-]?{d}\d+")
    read: dict[str, str] = {}  # column: its first grouped value
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object and not pd.api.types.is_string_dtype(column):
            continue
        present = column.dropna()
        if present.empty or not present.map(lambda v: isinstance(v, str)).all():
            continue
        text = present.str.strip()
        is_grouped = text.str.fullmatch(grouped)
        if not is_grouped.any() or not text.str.fullmatch(number).all():
            continue
        plain = text.str.replace(thousands, "", regex=False).str.replace(decimal, ".", regex=False)
        values = pd.Series(np.nan, index=column.index, dtype=np.float64)
        values[present.index] = plain.astype(np.float64)
        frame[name] = values
        read[str(name)] = str(text[is_grouped].iloc[0])
    if not read:
        return None
    example = next(iter(read.values()))
    value = float(example.replace(thousands, "").replace(decimal, "."))
    one = len(read) == 1
    return (
        f"column{'' if one else 's'} {', '.join(map(repr, read))} read with {thousands!r} as "
        f"the thousands separator (such as {example!r} as {value:g})"
    )


def spaced_numbers(path: Path, lines: list[str]) -> str | None:
    """The message for a text table whose ``lines`` (its first, blank ones left out) white
    space splits into as many fields each, the data's all numbers: columns separated by
    spaces, which no delimiter emkit detects splits; None for any other table."""
    split = [line.split() for line in lines]
    widths = {len(fields) for fields in split}
    data = split[1:] or split
    if len(widths) != 1 or widths == {1} or not all(_is_number(v) for f in data for v in f):
        return None
    headerless = all(_is_number(v) for v in split[0])
    single = all(line == " ".join(f) for line, f in zip(lines, split, strict=True))
    sep = (
        "give --sep ' ' (one space between values, as here)"
        if single
        else "convert it, e.g. pandas.read_csv("
        f"{path.name!r}, sep=r'\\s+'{', header=None' if headerless else ''})"
        + (".add_prefix('x')" if headerless else "")
        + ".to_csv('data.csv', index=False)"
    )
    header = ", with no header row" if headerless else ""
    add = " and add a header row (a name for each column)" if headerless and single else ""
    return (
        f"{path}: the columns are separated by spaces (as numpy.savetxt writes them){header}; "
        f"emkit reads delimited text: {sep}{add}"
    )


def comma_either_way(path: Path, sep: str, header: list[str], rows: list[list[str]]) -> str:
    """The message for a text table whose fields with a comma (``rows``, under ``header``,
    split at ``sep``) are all ones such as ``70,850``, which a decimal comma and a thousands
    separator both write: the columns that hold them, the two readings and how to choose."""
    found: dict[str, str] = {}  # column: its first such value
    for row in rows:
        for j, value in enumerate(row):
            if COMMA_EITHER_WAY.match(value.strip()):
                name = header[j] if j < len(header) else f"field {j + 1}"
                found.setdefault(name, value.strip())
    example = next(iter(found.values()))
    whole, decimal = example.replace(",", ""), example.replace(",", ".")
    one = len(found) == 1
    columns = ", ".join(map(repr, found))
    return (
        f"{path}: column{'' if one else 's'} {columns} hold{'s' if one else ''} numbers "
        f"written with thousands separators or a decimal comma (such as {example!r}: {whole} "
        f"or {decimal}), which cannot be told apart; if the comma is the decimal mark, give "
        "--decimal , ; if it separates thousands, write the numbers plainly in the file, or "
        f"read it with pandas.read_csv(..., sep={sep!r}, thousands=',') and save it again"
    )


def blank_lines_note(path: Path, n_columns: int) -> str | None:
    """A note where the one-column table ``path`` has empty lines after its header, which
    both readers skip (pandas' ``skip_blank_lines``, pyarrow's ``ignore_empty_lines``) while
    in such a file each may be a row whose value is missing; None otherwise (a table of
    several columns, whose empty line is no row)."""
    if n_columns != 1:
        return None
    blank, tail, header = 0, b"", True
    with open_text(path) as text:
        binary = cast(IO[bytes], text.buffer)
        while chunk := binary.read(1 << 24):
            if header:  # the header line, and empty lines above it, are not data
                stripped = chunk.lstrip(b"\r\n")
                if b"\n" not in stripped:
                    continue
                chunk, header = stripped[stripped.index(b"\n") :], False
            both = tail + chunk.replace(b"\r\n", b"\n")
            blank += both.count(b"\n\n")
            tail = both[-1:]
    if blank == 0:
        return None
    return (
        f"skipped {blank} empty line{'' if blank == 1 else 's'}, as pandas and pyarrow do; in "
        "a one-column file an empty line may be a row whose value is missing: write NA there "
        "to keep it as one"
    )


def read_raw(
    path: str | Path,
    sep: str | None = None,
    decimal: str | None = None,
    thousands: str | None = None,
) -> pd.DataFrame:
    """The whole table of a CSV (or TSV, ...) or Parquet file, columns as pandas reads them.

    Parameters
    ----------
    path : the file; ``.parquet``/``.pq`` or a folder is Parquet, anything else delimited text.
    sep : the delimiter; detected when None (see :func:`sniff`). ``\\t`` may be written ``tab``.
    decimal : the decimal mark, ``.`` or ``,``; detected when None.
    thousands : the separator between groups of digits, read in the columns every value of
        which is so written (:func:`read_thousands`; a note in ``frame.attrs["notes"]``); when
        None, ``.`` in a table with a decimal comma where :func:`sniff_thousands` finds it.

    Raises
    ------
    DataError
        When the file is missing or cannot be parsed as a table.
    """
    check_not_stdin(path)
    path = Path(path)
    try:
        if not path.is_dir():  # a folder is a Parquet data set (as Spark and Dask write)
            check_regular_file(path)  # a FIFO or a device would block or never end
    except OSError as exc:
        raise DataError(str(exc)) from None
    try:
        if is_parquet(path):
            check_parquet_columns(path, None if path.is_dir() else [path])
            frame = nullable_integers(pd.read_parquet(path), path)
            if frame.shape[1] == 0 and path.is_dir():
                raise DataError(f"{path}: a folder with no Parquet file in it")
            # A named index pandas stored is a column of the file (a RangeIndex is metadata
            # only): a column here too, for --id and the id found, as dask's reader has it
            # (index=False; it leaves out unnamed ones, which Dask writes as __null_dask_index__)
            named = [n for n in frame.index.names if n not in (None, "__null_dask_index__")]
            if named and not isinstance(frame.index, pd.RangeIndex):
                frame = frame.reset_index(level=named)
            return decimals_as_floats(frame)
        sep, decimal = delimiter_and_decimal(path, sep, decimal)
        thousands = thousands_mark(path, sep, decimal, thousands)
        # a row longer than the header is refused, never read with its first field as the
        # index and the rest shifted left (a first such row delimiter_and_decimal has refused)
        frame = read_csv(path, sep=sep, decimal=decimal, encoding="utf-8-sig")
        note = None if thousands is None else read_thousands(frame, thousands, decimal)
        notes = [n for n in (note, blank_lines_note(path, frame.shape[1])) if n is not None]
        if notes:
            frame.attrs["notes"] = notes
        return frame
    except DataError:
        raise
    except UnicodeDecodeError as exc:
        suffix = path.suffix.lower()
        convert = f"iconv -f latin1 -t utf-8 {path.name} > utf8.csv"
        if suffix in DECOMPRESS:  # iconv reads the compressed bytes: decompress them first
            convert = f"{DECOMPRESS[suffix]} {path.name} | iconv -f latin1 -t utf-8 > utf8.csv"
        raise DataError(
            f"{path}: not UTF-8 text (it holds the byte 0x{exc.object[exc.start]:02x}, which "
            f"UTF-8 does not allow there); save the file as UTF-8, e.g. {convert}"
        ) from None
    except Exception as exc:  # pandas raises many types; one clear line is what the user needs
        raise DataError(f"{path}: cannot be read as a table ({exc})") from None


def check_not_stdin(path: str | Path, what: str = "data") -> None:
    """DataError where ``path`` is ``-``, which names standard input to many tools: emkit reads
    its ``what`` from a file only (a table is read more than once: its delimiter sniffed,
    pyarrow's pass, pandas' where pyarrow cannot read it)."""
    if str(path) == "-":
        raise DataError(
            f"'-': standard input is not read; save the {what} to a file and give its name, "
            f"e.g. ... > {'data.csv' if what == 'data' else 'model.json'}"
        )


def nullable_integers(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """``frame``, read from the Parquet file or folder ``path``, with the integer columns of
    the file that pandas read as float64 (those with nulls) read again as pandas' nullable
    integers (``Int64``, pd.NA where null): as float64 their values beyond 2**53 were
    rounded before anything could tell (:func:`integer_refusal_of` refuses them)."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    schema = ds.dataset(path, format="parquet").schema
    names = [
        field.name
        for field in schema
        if pa.types.is_integer(field.type)
        and field.name in frame.columns
        and frame[field.name].dtype == np.float64
    ]
    if not names:
        return frame
    nullable = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.uint8(): pd.UInt8Dtype(),
        pa.uint16(): pd.UInt16Dtype(),
        pa.uint32(): pd.UInt32Dtype(),
        pa.uint64(): pd.UInt64Dtype(),
    }
    table = pq.read_table(path, columns=names)
    for name in names:
        column = table.column(name).to_pandas(types_mapper=nullable.get)
        frame[name] = column.set_axis(frame.index)
    return frame


def decimals_as_floats(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its columns of ``decimal.Decimal`` (Parquet's decimal columns, which pandas
    reads as objects) as float64, as the library's Parquet source reads them
    (:func:`emkit.backend.sources._parquet_numbers`: 15 to 17 significant digits; a null NaN):
    numbers, not text columns left out of a fit."""
    import decimal

    import pyarrow as pa

    from emkit.backend.sources import _parquet_numbers

    for name in frame.columns:
        column = frame[name]
        at = column.first_valid_index() if column.dtype == object else None
        if at is not None and isinstance(column.loc[at], decimal.Decimal):
            try:
                values = pa.array(column.to_numpy(), from_pandas=True)  # decimal128 or 256
            except pa.ArrowException:  # not all Decimals: a text column, as pandas has it
                continue
            if pa.types.is_decimal(values.type):
                frame[name] = _parquet_numbers(values, f"column {name!r}").astype(np.float64)
    return frame


def check_first_row(path: Path, sep: str, decimal: str) -> None:
    """DataError where the first data row of the text table ``path`` has more fields than its
    header (pandas would make its first field the row index and shift the rest left; a later
    such row pandas refuses itself)."""
    with open_text(path) as f:
        reader = csv.reader(f, delimiter=sep)
        rows = (row for row in reader if row)  # blank lines skipped, as pandas skips them
        try:
            header, first = next(rows, []), next(rows, None)
        except csv.Error:  # a field over csv's limit, say: the readers say what they find
            return
        line = reader.line_num
    if first is None or len(first) <= len(header):
        return
    hint = ""
    value = sep.join(first).strip()
    if sep == "," and decimal != "," and len(header) == 1 and COMMA_DECIMAL.match(value):
        hint = (
            f"; if the comma is the decimal mark ({value} for {value.replace(',', '.')}), "
            "give --decimal ,"
        )
    raise DataError(long_row(path, line, len(first), len(header), sep) + hint)


def renamed_header(path: Path, sep: str, names: list[str], flags: str = "--columns") -> str | None:
    """A note naming the header's empty and repeated column names of the text table ``path``
    and the names pandas read them as (``a`` twice: ``a``, ``a.1``; an empty one:
    ``Unnamed: 2``), which ``flags`` (the command's options that name columns) and the output
    use; None when every name is read as written."""
    with open_text(path) as f:
        header = next(csv.reader(f, delimiter=sep), [])
    if len(header) != len(names):
        return None
    changed = [f"{old!r} as {new!r}" for old, new in zip(header, names, strict=True) if old != new]
    if not changed:
        return None
    return (
        f"the header has empty or repeated column names; read {', '.join(changed)} "
        f"(name them so in {flags})"
    )


def is_parquet(path: Path) -> bool:
    """Whether ``path`` is read as Parquet: a ``.parquet``/``.pq`` file or a folder."""
    return path.suffix.lower() in PARQUET_SUFFIXES or path.is_dir()


# Columns pandas and Dask write for an index: a file may have one and the next not.
INDEX_COLUMNS = re.compile(r"__index_level_\d+__|__null_dask_index__")


def check_parquet_columns(data: str | Path, files: Sequence[str | Path] | None = None) -> None:
    """Refuse a Parquet data set (the folder ``data``, or its ``files``) whose files do not
    all have the same columns: pandas and Dask take the first file's, and leave out a later
    file's other columns or fill the columns it lacks with missing values; and a file with
    two columns of one name, which pyarrow cannot read by that name.

    Raises
    ------
    DataError
        Naming a file whose columns differ from the first file's, and how, or the names a
        file repeats.
    """
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    try:
        found = list(files) if files is not None else ds.dataset(data, format="parquet").files
        columns = [
            (str(f), [n for n in pq.read_schema(f).names if not INDEX_COLUMNS.fullmatch(n)])
            for f in found
        ]
    except (OSError, ValueError) as exc:
        raise DataError(f"{data}: cannot be read as Parquet ({exc})") from None
    for file, its in columns:
        repeated = sorted({n for n in its if its.count(n) > 1})
        if repeated:  # pyarrow finds no column by such a name, pandas would keep one of them
            where = str(data) if str(file) == str(data) else f"{data}: {file}"
            raise DataError(
                f"{where}: the Parquet file has more than one column named "
                f"{listed(repeated)}; columns are read by name: write the file with unique "
                "column names (e.g. pyarrow's table.rename_columns)"
            )
    if not columns:
        return
    first, names = columns[0]
    for other, its in columns[1:]:
        if set(its) == set(names):
            continue
        lacks = [n for n in names if n not in its]
        extra = [n for n in its if n not in names]
        how = "; ".join(
            part
            for part in (
                f"it lacks {listed(lacks)}" if lacks else "",
                f"it has {listed(extra)}, which the first lacks" if extra else "",
            )
            if part
        )
        raise DataError(
            f"{data}: its Parquet files do not have the same columns: {other} differs from "
            f"{first} ({how}); a data set's files would be read with the first file's columns "
            "(others left out, those missing filled with missing values). Write every file "
            "with the same columns, or read the files apart"
        )


class ArrowFallback(Exception):
    """pyarrow cannot read this file as pandas would: read it with pandas."""


class ColumnKinds(Protocol):
    """What the choice of a model's columns reads of a raw table (:func:`choose_columns`).

    Members
    -------
    names : list of str, every column's name, in order.
    empty : bool, True when the table has no row or no column.
    kind(name) -> "number", "boolean", "text", "dates", "durations", "times of day",
        "intervals" or "nested"
        What pandas would read the column as (integers and floats are numbers; timestamps
        and dates are dates, time deltas durations, Arrow's time32 and time64 times of day,
        its month_day_nano_interval intervals; lists, arrays and records are nested).
    series(name) -> pandas Series
        The whole column as pandas reads it (ids, examples in messages).
    first_values(name) -> pandas Series
        Its first ``FIRST_VALUES`` values at most, read without another pass over the table.
    unique_complete(name) -> bool
        Whether the column has a value in every row, no two the same (an id's mark).
    """

    names: list[str]
    empty: bool

    def kind(self, name: str) -> str: ...

    def series(self, name: str) -> pd.Series: ...

    def first_values(self, name: str) -> pd.Series: ...

    def unique_complete(self, name: str) -> bool: ...


class Columns(ColumnKinds, Protocol):
    """The columns of a raw table in memory, converted only when asked for: the members of
    :class:`ColumnKinds` and

    floats(names) -> array of shape (n, len(names))
        Those columns as one float64 C-contiguous array (booleans 0/1, NaN where missing).
    text(name) -> pandas Series or None
        The column's values as the file writes them (None where missing), for ids of
        numbers; None where the file stores typed values (Parquet).
    is_integer(name) -> bool
        Whether the column is stored or inferred as integers (whose float64 values are exact
        only up to 2**53).
    notes : list of str, lines for the user on how the table was read (columns read with a
        thousands separator).
    """

    notes: list[str]

    def floats(self, names: list[str]) -> np.ndarray: ...

    def text(self, name: str) -> pd.Series | None: ...

    def is_integer(self, name: str) -> bool: ...


def _unique_complete(column: pd.Series) -> bool:
    return bool(column.notna().all() and column.is_unique)


class FrameColumns:
    """:class:`Columns` of a pandas DataFrame (Parquet, or a CSV pandas had to read, whose
    columns as text ``as_text`` reads: see :func:`csv_text`; ``thousands``, the thousands
    separator its numbers were read with)."""

    def __init__(
        self,
        frame: pd.DataFrame,
        as_text: Callable[[], pd.DataFrame] | None = None,
        thousands: str | None = None,
    ) -> None:
        self.frame = frame.rename(columns=str)
        self._as_text = as_text
        self.thousands = thousands
        self.names = [str(c) for c in self.frame.columns]
        self.notes = list(frame.attrs.get("notes", []))
        self.empty = frame.shape[0] == 0 or frame.shape[1] == 0

    def kind(self, name: str) -> str:
        column = self.frame[name]
        if is_boolean(column):
            return "boolean"
        if is_number(column):
            return "number"
        return time_kind(column) or ("nested" if is_nested(column) else "text")

    def series(self, name: str) -> pd.Series:
        return self.frame[name]

    def first_values(self, name: str) -> pd.Series:
        return self.frame[name].iloc[:FIRST_VALUES]

    def unique_complete(self, name: str) -> bool:
        return _unique_complete(self.frame[name])

    def floats(self, names: list[str]) -> np.ndarray:
        out = np.empty((self.frame.shape[0], len(names)))
        for j, name in enumerate(names):
            out[:, j] = self.frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        return out

    def is_integer(self, name: str) -> bool:
        return pd.api.types.is_integer_dtype(self.frame[name])

    def text(self, name: str) -> pd.Series | None:
        if self._as_text is None:
            return None
        return self._as_text().iloc[:, self.names.index(name)].rename(name)


class CsvColumns:
    """:class:`Columns` of a delimited text file, read by pyarrow's streaming CSV reader.

    The kinds come from the reader's schema (inferred from the first block, with pandas' missing
    and boolean spellings); :meth:`floats` converts the asked-for columns block by block into
    one array, grown in place; :meth:`series` reads one column. pyarrow errors (a later value
    that does not fit its column's kind, say) are raised as :class:`ArrowFallback`.
    """

    def __init__(self, path: Path, sep: str, decimal: str) -> None:
        import pyarrow as pa

        self.path, self.sep, self.decimal = path, sep, decimal
        self.notes: list[str] = []
        with self._arrow_errors():
            reader = self._reader()
            schema = reader.schema
            first = None
            try:
                first = reader.read_next_batch()
                self.empty = first.num_rows == 0
            except StopIteration:
                self.empty = True
            reader.close()
            self._first = None if first is None else first.slice(0, FIRST_VALUES)
            self.names = list(schema.names)  # decoded here: a header not UTF-8 fails here
        if any(not name for name in self.names) or len(set(self.names)) < len(self.names):
            raise ArrowFallback("pandas renames empty and repeated column names")
        self.types = {field.name: field.type for field in schema}
        self.empty = self.empty or not self.names
        self._pa = pa
        note = blank_lines_note(path, len(self.names))
        if note is not None:
            self.notes.append(note)

    def kind(self, name: str) -> str:
        types = self._pa.types
        kind = self.types[name]
        if types.is_boolean(kind):
            return "boolean"
        if types.is_integer(kind) or types.is_floating(kind) or types.is_null(kind):
            return "number"
        # dates stay text, as pandas' reader (the fallback) reads them
        return "text"

    def first_values(self, name: str) -> pd.Series:
        """The first block's first values; none where they are not UTF-8 text (bytes: the
        reads that need them say so)."""
        if self._first is not None:
            column = self._first.column(name)
            if not self._pa.types.is_binary(column.type):
                return column.to_pandas()
        return pd.Series([], dtype=object, name=name)

    def series(self, name: str) -> pd.Series:
        from pyarrow import csv

        types = None if self.kind(name) not in NAME_KINDS else {name: self._pa.string()}
        with self._arrow_errors():
            table = csv.read_csv(
                self.path,
                read_options=self._read_options(),
                parse_options=self._parse_options(),
                convert_options=self._convert_options([name], types),
            )
            column = table.column(0).to_pandas()
        if self.kind(name) == "number" and column.dtype == object:  # all missing
            column = column.astype(np.float64)
        return column.rename(name)

    def text(self, name: str) -> pd.Series | None:
        from pyarrow import csv

        with self._arrow_errors():
            table = csv.read_csv(
                self.path,
                read_options=self._read_options(),
                parse_options=self._parse_options(),
                convert_options=self._convert_options([name], {name: self._pa.string()}),
            )
        # Arrow-backed: no Python string per row while the ids are compared
        return table.column(0).to_pandas(types_mapper=pd.ArrowDtype).rename(name)

    def unique_complete(self, name: str) -> bool:
        return _unique_complete(self.series(name))

    def floats(self, names: list[str]) -> np.ndarray:
        import pyarrow.compute as pc

        pa = self._pa
        types = {n: pa.bool_() if self.kind(n) == "boolean" else pa.float64() for n in names}
        out = np.empty((self._estimated_rows(), len(names)))
        done = 0
        with self._arrow_errors():
            for batch in self._reader(names, types):
                m = batch.num_rows
                if done + m > out.shape[0]:  # realloc: in place where the allocator can grow it
                    out.resize((max(done + m, out.shape[0] * 3 // 2), len(names)), refcheck=False)
                for j, name in enumerate(names):
                    column = batch.column(name)
                    if column.type != pa.float64():
                        column = pc.cast(column, pa.float64())
                    out[done : done + m, j] = column.to_numpy(zero_copy_only=False)
                done += m
        out.resize((done, len(names)), refcheck=False)
        pa.default_memory_pool().release_unused()  # the parser's blocks, back to the system
        return out

    def is_integer(self, name: str) -> bool:
        return self._pa.types.is_integer(self.types[name])

    def _estimated_rows(self) -> int:
        """Rows in the file, from its size and the lines in its first 64 KiB (a little over)."""
        with open(self.path, "rb") as f:
            head = f.read(SNIFF_BYTES)
        lines = max(head.count(b"\n") - 1, 1)
        size = self.path.stat().st_size
        return int(size / (len(head) / lines) * 1.02) + 1024

    def _read_options(self):
        from pyarrow import csv

        return csv.ReadOptions(use_threads=True, block_size=ARROW_BLOCK_BYTES)

    def _parse_options(self):
        from pyarrow import csv

        return csv.ParseOptions(delimiter=self.sep)

    def _convert_options(self, include=None, types=None):
        return arrow_conversion(self.decimal, include, types)

    def _reader(self, include=None, types=None):
        from pyarrow import csv

        return csv.open_csv(
            self.path,
            read_options=self._read_options(),
            parse_options=self._parse_options(),
            convert_options=self._convert_options(include, types),
        )

    @staticmethod
    @contextlib.contextmanager
    def _arrow_errors() -> Iterator[None]:
        """Turn pyarrow's errors into :class:`ArrowFallback`, and its cancellation by Ctrl-C
        back into the KeyboardInterrupt it is."""
        import pyarrow as pa

        try:
            yield
        except pa.ArrowCancelled:
            raise KeyboardInterrupt from None
        except (pa.ArrowException, UnicodeError) as exc:
            raise ArrowFallback(str(exc)) from None


def arrow_conversion(decimal: str, include=None, types=None):
    """pyarrow's conversion of a CSV's fields, as every reading of one takes them: pandas'
    missing and boolean spellings, the decimal mark ``decimal``, dates left as text (as
    pandas' reader reads them); the columns ``include`` (None: all), of the pyarrow types
    ``types`` (a dict; None: inferred)."""
    from pyarrow import csv

    return csv.ConvertOptions(
        null_values=NULL_VALUES,
        true_values=TRUE_VALUES,
        false_values=FALSE_VALUES,
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        decimal_point=decimal,
        include_columns=include,
        column_types=types,
        timestamp_parsers=[],
    )


def open_columns(
    path: str | Path,
    sep: str | None = None,
    decimal: str | None = None,
    thousands: str | None = None,
) -> Columns:
    """The :class:`Columns` of a CSV or Parquet file (pyarrow for a CSV it can read as pandas
    would, else pandas: see :func:`read_raw`; pandas too where numbers have a thousands
    separator, given or found: see :func:`thousands_mark`).

    Raises
    ------
    DataError
        When the file is missing or cannot be parsed as a table.
    """
    check_not_stdin(path)
    path = Path(path)
    if is_parquet(path):
        return FrameColumns(read_raw(path))
    try:
        check_regular_file(path)
    except OSError as exc:
        raise DataError(str(exc)) from None
    sep, decimal = delimiter_and_decimal(path, sep, decimal)
    thousands = thousands_mark(path, sep, decimal, thousands)
    suffix = path.suffix.lower()
    as_text = functools.partial(csv_text, path, sep)
    if thousands is not None:  # pyarrow reads no thousands separator
        return FrameColumns(read_raw(path, sep, decimal, thousands), as_text, thousands)
    if suffix in COMPRESSED_SUFFIXES and suffix not in ARROW_COMPRESSED_SUFFIXES:
        # pyarrow would read the raw bytes
        return FrameColumns(read_raw(path, sep, decimal), as_text)
    try:
        return CsvColumns(path, sep, decimal)
    except ArrowFallback:
        return FrameColumns(read_raw(path, sep, decimal), as_text)


def csv_text(path: Path, sep: str) -> pd.DataFrame:
    """Every column of the delimited text file ``path`` as the text it holds (missing values
    as pandas reads them, NaN), its columns named as :func:`read_raw` names them."""
    return read_csv(path, sep=sep, dtype=str, encoding="utf-8-sig")


def verbatim_ids(ids: pd.Series, text: pd.Series | None) -> pd.Series:
    """The id column ``ids``, read as numbers, as the ``text`` the file holds where the
    numbers would be written otherwise (:func:`written_otherwise`); else the numbers."""
    if text is None or len(text) != len(ids) or not written_otherwise(ids, text):
        return ids
    return text.astype(object).where(text.notna(), np.nan).set_axis(ids.index).rename(ids.name)


def written_otherwise(numbers: pd.Series, text: pd.Series) -> bool:
    """Whether some of ``numbers``, an id column read as numbers, would be written otherwise
    than its ``text`` in the file holds them (leading zeros, ``0.10``, ``+7``: codes, not
    quantities)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    written = pa.array(numbers.to_numpy(), from_pandas=True).cast(pa.string())
    given = pa.array(text, from_pandas=True, type=pa.string())
    # a row missing on either side is null, and any() skips it
    return bool(pc.any(pc.not_equal(given, written)).as_py())


def delimiter_and_decimal(path: Path, sep: str | None, decimal: str | None) -> tuple[str, str]:
    """The delimiter and decimal mark of the text table ``path``: as given (``tab`` for a
    tab), else detected (:func:`sniff`).

    Raises
    ------
    DataError
        When the delimiter given is not one character, is the decimal mark, or splits the first
        data row into more fields than the header (:func:`check_first_row`).
    """
    if sep is not None and sep.lower() in ("tab", "\\t"):
        sep = "\t"
    if sep is not None and len(sep) != 1:  # pyarrow's reader and pandas' fast one take one
        raise DataError(
            f"--sep {sep!r}: the delimiter must be one character, such as ';', '|' or tab"
        )
    try:
        check_encoding(path)
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as exc:  # bad archives too
        raise DataError(f"{path}: cannot be read as a table ({exc})") from None
    if sep is None or decimal is None:
        try:
            given = sep is not None
            found_sep, found_decimal = sniff(path, None if given else decimal, sep_given=given)
        except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as exc:  # bad archives too
            raise DataError(f"{path}: cannot be read as a table ({exc})") from None
        sep = found_sep if sep is None else sep
        decimal = found_decimal if decimal is None else decimal
    if sep == decimal:
        raise DataError(
            f"{path}: {sep!r} cannot be both the delimiter and the decimal mark; give the "
            "delimiter with --sep (e.g. --sep ';' for numbers like 3,14) or the mark with "
            "--decimal"
        )
    try:
        check_first_row(path, sep, decimal)
    except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot be read as a table ({exc})") from None
    return sep, decimal


def thousands_mark(path: Path, sep: str, decimal: str, thousands: str | None) -> str | None:
    """The thousands separator of the text table ``path`` (delimiter ``sep``, decimal mark
    ``decimal``): as given (``--thousands``), else :func:`sniff_thousands`'s.

    Raises
    ------
    DataError
        When the separator given is not one character, or is a digit, the delimiter or the
        decimal mark.
    """
    if thousands is None:
        try:
            return sniff_thousands(path, sep, decimal)
        except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as exc:
            raise DataError(f"{path}: cannot be read as a table ({exc})") from None
    if len(thousands) != 1 or thousands.isdigit():
        raise DataError(
            f"--thousands {thousands!r}: the thousands separator must be one character that "
            "is not a digit, such as '.' (1.234,5) or ',' (1,234.5)"
        )
    for what, mark in (("delimiter", sep), ("decimal mark", decimal)):
        if thousands == mark:
            raise DataError(
                f"--thousands {thousands!r} is also the {what}; give the one that stands "
                f"between groups of three digits (--thousands . for 1.234,5 with --decimal ,)"
            )
    return thousands


def check_encoding(path: Path) -> None:
    """DataError where the text table ``path`` is a file of another kind (a NumPy array, a
    Feather file, an Excel workbook, ...: :data:`MAGIC_BYTES`, :data:`ZIPPED_FORMATS`), saying
    how to convert it, or begins with a UTF-16 or UTF-32 byte order mark (Excel's "Unicode
    text", PowerShell's default): it says how to convert it to UTF-8, which the readers take."""
    with open(path, "rb") as raw:
        first = raw.read(8)
    advice = next((a for magic, a in MAGIC_BYTES.items() if first.startswith(magic)), None)
    if advice is None and first.startswith(ZIP_MAGIC):
        advice = ZIPPED_FORMATS.get(path.suffix.lower())
    if advice is not None:
        raise DataError(f"{path}: {advice.format(name=path.name)}")
    with open_text(path) as f:
        head = bytes(f.buffer.read(4))
    for bom, name in BYTE_ORDER_MARKS.items():
        if head.startswith(bom):
            raise DataError(
                f"{path}: {name.upper()} text (it begins with the byte order mark "
                f"{bom.hex(' ')}); emkit reads UTF-8: convert it, e.g. "
                f"iconv -f {name} -t utf-8 {path.name} > utf8.csv"
            )


def is_boolean(column: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(column)


def is_number(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not is_boolean(column)


def time_kind(column: pd.Series) -> str | None:
    """The kind of a column of timestamps or periods ("dates"), of time deltas
    ("durations"), of times of day or of calendar intervals (Arrow's time32, time64 and
    month_day_nano_interval, objects in pandas), else None: NumPy reads the first two as
    counts of their unit and cannot read the others, none of them numbers to cluster."""
    from emkit.backend.column_kinds import time_kind_of

    first = None
    if column.dtype == object:
        at = column.first_valid_index()
        first = None if at is None else column.loc[at]
    return time_kind_of(column.dtype, first)


def is_nested(column: pd.Series) -> bool:
    """Whether a column holds lists, arrays or records (Parquet's list, struct and map types),
    which are neither numbers nor names of rows."""
    if column.dtype != object:
        return False
    present = column.dropna()
    return len(present) > 0 and isinstance(present.iloc[0], (list, tuple, dict, np.ndarray))


def _named_like_id(name) -> bool:
    text = str(name).strip().lower()
    return text in ID_NAMES or text.endswith(("_id", " id"))


def _looks_like_id(name, columns: ColumnKinds) -> bool:
    if not _named_like_id(name) or columns.kind(name) == "nested":
        return False
    return columns.unique_complete(name)


def find_id(columns: ColumnKinds, id_column: str | None, taken: Sequence[str] = ()) -> str | None:
    """The id column: ``id_column``; else one named like an id (``id``, ``*_id``, ...) with
    unique values; else the first text column with unique values (a value two rows share names
    neither: a column of group labels is no id); else None, the rows numbered. A column in
    ``taken`` (the model's columns named with ``--columns``, those ``--exclude`` names) is never
    found as the id."""
    if id_column is not None:
        id_column = named(id_column, columns.names) or id_column
        if id_column not in columns.names:
            raise DataError(
                f"--id {id_column!r}: no such column; columns are {listed(columns.names)}"
            )
        if columns.kind(id_column) == "nested":
            raise DataError(
                f"--id {id_column!r}: the column holds lists or records, which cannot name "
                "rows in the output; choose a column of names or numbers"
            )
        return id_column
    free = [name for name in columns.names if name not in taken]
    for name in free:
        if _looks_like_id(name, columns):
            return str(name)
    for name in free:
        if columns.kind(name) in NAME_KINDS and columns.unique_complete(name):
            return str(name)
    return None


def listed(names) -> str:
    """The names, comma-separated; in double quotes where they hold a comma or a double quote,
    as ``--columns`` takes them (``"income, net"``), else quoted where they begin or end with
    white space."""
    return ", ".join(_shown(str(n)) for n in names)


def _shown(name: str) -> str:
    if "," in name or '"' in name:
        return '"' + name.replace('"', '""') + '"'
    return repr(name) if name != name.strip() else name


def comma_names(names: Sequence[str]) -> str:
    """For a message naming the columns ``names``: how to write one that holds a comma in
    a comma-separated list of columns (empty where none does)."""
    with_comma = next((str(n) for n in names if "," in str(n)), None)
    if with_comma is None:
        return ""
    return f" (write a name that holds a comma in double quotes: {listed([with_comma])})"


def named(name: str, names: Sequence[str]) -> str | None:
    """The column of ``names`` that ``name`` (from --columns, --exclude, --id or a model's
    names) means: itself, else the one name equal to it once white space around both is
    stripped (a header ``a, b`` names the column ``' b'``); None where there is none.

    Raises
    ------
    DataError
        When several names are equal to ``name`` stripped.
    """
    if name in names:
        return name
    same = [n for n in names if str(n).strip() == name.strip()]
    if len(same) > 1:
        raise DataError(
            f"{name!r} names several columns once spaces around names are ignored "
            f"({', '.join(map(repr, same))}); give them distinct names in the header"
        )
    return same[0] if same else None


def thousands_advice(column: pd.Series) -> str:
    """For the message that a text column is not numeric: where its values are numbers some of
    which have '.' between groups of three digits (``1.081``, ``12.345,5``), the others plain
    (``999``, ``3,5``), what to give to read '.' as the thousands separator; else ""."""
    present = column.dropna()
    if present.empty or not present.map(lambda v: isinstance(v, str)).all():
        return ""
    text = present.str.strip()
    grouped = text.str.fullmatch(DOT_GROUPED.pattern.strip("^$"))
    plain = text.str.fullmatch(r"[+-]?(\d+(,\d+)?|,\d+)")
    if not grouped.any() or not (grouped | plain).all():
        return ""
    example = str(text[grouped].iloc[0])
    whole = example.replace(".", "").replace(",", ".")
    return (
        f"; if '.' separates thousands there ({example!r} for {whole}), give --thousands . "
        "(with --decimal , where the decimal mark is a comma)"
    )


def resolved(given: Sequence[str], names: Sequence[str], path: str | Path) -> list[str]:
    """The columns of ``names`` that the names ``given`` (each present: :func:`named`) mean.

    Raises
    ------
    DataError
        When two of ``given`` mean one column (``'a'`` and ``'a '`` where the table has only
        ``'a'``): one column would be read twice, as two.
    """
    found = [cast(str, named(c, names)) for c in given]
    for j, column in enumerate(found):
        first = found.index(column)
        if first < j:
            raise DataError(
                f"{path}: {given[first]!r} and {given[j]!r} both mean the column {column!r} "
                "once spaces around names are ignored, which would be read twice; give the "
                "file's columns distinct names, as the model's or the list's are (or name the "
                "columns to read, in order, with --columns)"
            )
    return found


def quote(name: str, listed_in: bool = False) -> str:
    """``name`` as a command line takes it, quoted for the shell (``shlex.quote``); where it is
    one of a comma-separated list (``listed_in``: --columns, --exclude), a name holding a
    comma or a double quote, or beginning or ending with a space, in double quotes first."""
    import shlex

    if listed_in and ("," in name or '"' in name or name != name.strip()):
        name = '"' + name.replace('"', '""') + '"'
    return shlex.quote(name)


def not_numbers(column: pd.Series, stray: np.ndarray | None = None) -> str:
    """How many values of ``column`` are not numbers, and the first of them, for a message:
    "1 value is not a number: '?'", "3 values are not numbers, such as 'n/k'" (the first
    value where every one is a number, as a column of dates is). ``stray``: the column's
    :func:`emkit.io.not_plain_numbers`, where known."""
    bad = not_plain_numbers(column) if stray is None else stray
    count = int(bad.sum())
    if count == 0:
        present = column.dropna()
        return f"such as {str(present.iloc[0] if len(present) else column.iloc[0])!r}"
    example = str(column[bad].iloc[0])
    if count == 1:
        return f"1 value is not a number: {example!r}"
    return f"{count} values are not numbers, such as {example!r}"


def numbers_as_text(
    path: str | Path, name: str, column: pd.Series, stray: np.ndarray
) -> str | None:
    """The refusal of the text column ``column`` (``name`` in the file ``path``) where every
    value it holds is a plain number (``stray``, its :func:`emkit.io.not_plain_numbers`, all
    False): a Parquet column of numbers stored as strings, whose values are right and whose
    type is not; else None. In a delimited text file a column is text where its type is
    right there (a '.' number in a file with a decimal comma, say): None for those."""
    present = column.dropna()
    if present.empty or stray.any() or not is_parquet(Path(str(path))):
        return None
    return (
        f"{path}: column {name!r} holds numbers stored as text (such as "
        f"{str(present.iloc[0])!r}), not as a numeric column; store it as numbers in the file "
        f"(with pandas: df[{name!r}] = pd.to_numeric(df[{name!r}]) before writing it)"
    )


def mostly_numbers(column: pd.Series, stray: np.ndarray | None = None) -> bool:
    """Whether more than half of the values ``column`` holds (missing ones aside) are plain
    numbers: a column of numbers with a few stray entries ('?', 'n/a.'), not one of names.
    ``stray``: the column's :func:`emkit.io.not_plain_numbers`, where known."""
    present = int(column.notna().sum())
    bad = not_plain_numbers(column) if stray is None else stray
    return present > 0 and int(bad.sum()) * 2 < present


def why_text(raw: ColumnKinds, name: str, column: pd.Series | None = None) -> str | None:
    """Why a text column that is mostly numbers is text (:func:`not_numbers`), else None: a
    look at its first values, and the whole column (``column``, where already read) only where
    those are mostly numbers."""
    stray = stray_values(raw, name, column)
    return None if stray is None else not_numbers(*stray)


def stray_values(
    raw: ColumnKinds, name: str, column: pd.Series | None = None
) -> tuple[pd.Series, np.ndarray] | None:
    """The text column ``name`` (``column``, where already read) and where its values are not
    plain numbers (:func:`emkit.io.not_plain_numbers`), where it is mostly numbers (judged as
    :func:`why_text` says), else None."""
    if raw.kind(name) != "text" or not mostly_numbers(raw.first_values(name)):
        return None
    column = raw.series(name) if column is None else column
    stray = not_plain_numbers(column)
    return (column, stray) if mostly_numbers(column, stray) else None


def check_values(
    values: np.ndarray, names: list[str], path: Path, missing: str, keep_empty_rows: bool = False
) -> str | None:
    """DataError for infinite values anywhere in ``values`` (n, d), and for NaN unless
    ``missing == "em"``; for rows with no value at all, see :func:`check_counts`."""
    empty = np.isnan(values).all(axis=1) if missing == "em" else np.zeros(0, dtype=bool)
    return check_counts(
        names,
        [int(np.isinf(values[:, j]).sum()) for j in range(len(names))],
        [int(np.isnan(values[:, j]).sum()) for j in range(len(names))],
        path,
        missing,
        empty_rows=int(empty.sum()),
        first_empty=int(np.argmax(empty)) if empty.any() else None,
        keep_empty_rows=keep_empty_rows,
    )


def check_counts(
    names: list[str],
    infinite: list[int],
    nan: list[int],
    path: str | Path,
    missing: str,
    empty_rows: int = 0,
    first_empty: int | None = None,
    keep_empty_rows: bool = False,
) -> str | None:
    """:func:`check_values` from the counts of infinite and NaN values of each column, and of
    the rows with no value at all (the first of them, from 0, where known). Those rows are a
    DataError where a model is fitted (they carry no information), and where
    ``keep_empty_rows`` (rows to label: each keeps its line in the output) the note to print:
    a model's probabilities for such a row are its weights (priors), as ``predict_proba``'s."""
    advice = NAN_ADVICE_LABELLED if keep_empty_rows else NAN_ADVICE
    for name, n_inf, n_nan in zip(names, infinite, nan, strict=True):
        if n_inf:
            raise DataError(
                f"{path}: column {name!r} has {n_inf} infinite value(s) ('inf', or a number "
                "beyond float64's 1.8e308); correct those values or drop their rows"
            )
        if n_nan and missing != "em":
            raise DataError(
                f"{path}: column {name!r} has {n_nan} missing (NaN) value(s); {advice[missing]}"
            )
    if missing != "em" or not empty_rows:
        return None
    first = "" if first_empty is None else f" (the first is data row {first_empty + 1})"
    if keep_empty_rows:
        return (
            f"{path}: {empty_rows} rows have no value in any column used{first}; with nothing "
            "observed, their probabilities are the model's weights (a classifier's class priors)"
        )
    raise DataError(
        f"{path}: {empty_rows} rows have no value in any column used{first}; they carry no "
        "information for the fit: drop them first"
    )


def check_header(raw: ColumnKinds, used: Sequence[str], path: str | Path) -> None:
    """DataError where the header row of a text table reads as a row of data: the names of
    the columns ``used`` (the model's, a family's) are all numbers, and not whole numbers
    heading columns of fractions (``2019`` over ``3.25``, or the names ``0, 1`` pandas writes
    for an array's columns), which only a header has. Read as names, that row would be lost
    from the data; whole-number names over whole numbers cannot be told from one."""
    # pandas names a repeated name's second column "name.1": a row "1.5,1.5" reads "1.5.1"
    spelt = [_first_spelling(str(name), raw.names) for name in used]
    if not used or not all(_is_number(name) for name in spelt):
        return
    if all(WHOLE_NAME.match(name.strip()) for name in spelt):
        for name in used:
            values = pd.to_numeric(raw.first_values(name), errors="coerce")
            values = values.to_numpy(np.float64, na_value=np.nan)
            values = values[np.isfinite(values)]
            if len(values) and (values != np.round(values)).any():
                return  # whole-number names over fractions: a header
        header = (
            "; if it is the header, give the columns names that are not numbers (y2019, "
            "not 2019): numbers over columns of whole numbers cannot be told from data"
        )
    else:
        header = ""
    first_row = ", ".join(map(str, raw.names))
    names = "" if set(used) == set(raw.names) else f" (names of the columns used: {listed(used)})"
    raise DataError(
        f"{path}: the first row ({first_row}) looks like data, not column names{names}; add a "
        f"header row{header}"
    )


def _first_spelling(name: str, names: Sequence[str]) -> str:
    """``name`` as the header wrote it where pandas renamed it as a repeat of another of
    ``names`` (``"1.5.1"`` beside ``"1.5"``: ``"1.5"``; a number is its own name), else
    ``name``."""
    repeated = None if _is_number(name) else re.fullmatch(r"(.+)\.\d+", name)
    return repeated.group(1) if repeated and repeated.group(1) in names else name


def _is_number(text) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return True


def _single_value(column: np.ndarray) -> float | None:
    """The one value of a constant column (NaN when all missing), or None when it varies."""
    low, high = np.fmin.reduce(column), np.fmax.reduce(column)  # NaN ignored
    if np.isnan(low) or low == high:
        return float(low)
    return None


def integer_refusal_of(raw: Columns, name: str, path: str | Path) -> str | None:
    """Why the model column ``name`` of the table ``raw`` (read from ``path``) cannot be
    fitted where it holds integers that float64 rounds (as the estimators refuse them: see
    :func:`~emkit.backend.integers.integer_refusal`), else None: its integers as read, or
    where it was read as float64 (a CSV's integers with missing values, or beyond int64),
    the integers its text writes; None where neither is known (a Parquet file's floats)."""
    column = raw.series(name) if raw.is_integer(name) else None
    if column is not None and getattr(column.dtype, "kind", None) in ("i", "u"):
        values = present_values(column)
    else:
        text = raw.text(name)
        if text is None:
            return None
        text = text.dropna()
        thousands = getattr(raw, "thousands", None)  # "9,007,199,254,740,993" is an integer
        if thousands is not None:
            text = text.astype(str).str.replace(thousands, "", regex=False)
        values = text.to_numpy(dtype=object)
    return column_refusal(values, name, path)


# What to do about a column of integers that float64 rounds, after what to do where it names
# rows: emkit fit's and predict's (--id or --exclude), and emkit mle's.
ROWS_ADVICE = {
    "fit": "use --id or --exclude",
    "mle": "it is no variable to estimate: choose another column (--column, --columns)",
}


def column_refusal(
    values: np.ndarray, name: str, path: str | Path, command: str = "fit"
) -> str | None:
    """:func:`~emkit.backend.integers.integer_refusal` of the model column ``name`` of the
    table ``path``, whose integers (or text) are ``values``, with the advice of ``command``
    (a key of :data:`ROWS_ADVICE`)."""
    return integer_refusal(
        values,
        f"column {name!r}",
        str(path),
        f"If it names rows, {ROWS_ADVICE[command]}; else subtract a common integer offset "
        "from it first, or convert it to float yourself if that rounding is acceptable",
    )


def select_features(
    frame: pd.DataFrame | Columns,
    path: str | Path,
    *,
    columns: list[str] | None = None,
    exclude: list[str] | None = None,
    id_column: str | None = None,
    missing: str = "error",
    drop_constant: bool = True,
    excludable: bool = True,
    keep_empty_rows: bool = False,
    text_header: bool = False,
) -> Table:
    """Pick a model's input columns from a raw table.

    Parameters
    ----------
    frame : the table as :func:`read_raw` or :func:`open_columns` returns it.
    path : its file, for messages.
    columns : the columns to use, in this order (booleans become 0/1); None for every numeric
        column but the id column and ``exclude``.
    exclude : columns never to use.
    id_column : the id column (``--id``); found by :func:`find_id` when None.
    missing : "error" (NaN is an error, which --missing em lifts), "unsupported" (NaN is an
        error: the model cannot take it) or "em" (NaN stays, as a missing value).
    drop_constant : leave out (with a note) columns with a single value.
    excludable : the command takes ``--exclude`` (the note on the id column names it).
    keep_empty_rows : with ``missing="em"``, rows with no value in any column are kept, with
        a note (rows to label), not refused (rows to fit).
    text_header : the names are a text table's header row, checked for one that is a row of
        data (:func:`check_header`); a Parquet file's names are metadata, whatever they are.

    Raises
    ------
    DataError
        When a named column is absent or not numeric, nothing numeric is left, the table is
        empty, or a value is infinite (or NaN, unless ``missing="em"``).
    """
    path = Path(path)
    raw = FrameColumns(frame) if isinstance(frame, pd.DataFrame) else frame
    chosen, ident, notes = choose_columns(
        raw,
        path,
        columns=columns,
        exclude=exclude,
        id_column=id_column,
        excludable=excludable,
        text_header=text_header,
    )
    notes[:0] = raw.notes
    values = raw.floats(chosen)
    if values.shape[0] == 0:
        raise DataError(f"{path}: the table is empty (no rows or no columns)")
    for j, c in enumerate(chosen):
        # else all exact (or NaN); 2**53 itself may be 2**53 + 1 rounded
        if np.fmax.reduce(np.abs(values[:, j])) >= EXACT_INTEGERS:
            refusal = integer_refusal_of(raw, c, path)
            if refusal:
                raise DataError(refusal)
    ids = None
    if ident is not None:
        ids = raw.series(ident)
        if raw.kind(ident) == "number":  # "00012" stays a code
            ids = verbatim_ids(ids, raw.text(ident))
    if drop_constant:
        check_rows(values.shape[0], path)
        single = {c: _single_value(values[:, j]) for j, c in enumerate(chosen)}
        keep, note = drop_constant_columns(single, path)
        if note:
            notes.append(note)
            values = np.ascontiguousarray(values[:, [chosen.index(c) for c in keep]])
            chosen = keep
    empty_note = check_values(values, chosen, path, missing, keep_empty_rows)
    if empty_note:
        notes.append(empty_note)
    return Table(values=values, names=chosen, ids=ids, notes=notes)


def choose_columns(
    raw: ColumnKinds,
    path: str | Path,
    *,
    columns: list[str] | None = None,
    exclude: list[str] | None = None,
    id_column: str | None = None,
    excludable: bool = True,
    text_header: bool = False,
) -> tuple[list[str], str | None, list[str]]:
    """The model's columns of ``raw``, its id column (or None) and notes for the user, by the
    rules of :func:`select_features` (before its constant columns and values are checked);
    ``excludable``: the command takes ``--exclude`` (the id note names it); ``text_header``:
    the names are a text table's header row (:func:`check_header`).

    Raises
    ------
    DataError
        When the table is empty, a named column is absent or not numeric, nothing numeric
        is left, or the header row is a row of data.
    """
    if raw.empty:
        raise DataError(f"{path}: the table is empty (no rows or no columns)")
    notes: list[str] = []
    absent = [c for c in [*(columns or []), *(exclude or [])] if named(c, raw.names) is None]
    if absent:
        raise DataError(
            f"{path}: no column {', '.join(map(repr, absent))}; columns are {listed(raw.names)}"
            + comma_names(raw.names)
        )
    # the names as the table has them: "b" is the column " b" of a header "a, b"
    columns = None if columns is None else resolved(columns, raw.names, path)
    exclude = None if exclude is None else resolved(exclude, raw.names, path)
    both = [c for c in columns or [] if c in (exclude or [])]
    if both:
        raise DataError(
            f"--columns and --exclude both name {', '.join(map(repr, both))}; name each column "
            "in one of them"
        )
    ident = find_id(raw, id_column, taken=[*(columns or []), *(exclude or [])])
    hints: dict[str, str] = {}  # text columns of numbers written as number_format_hint knows
    read: dict[str, pd.Series] = {}  # columns read whole for a hint (numeric_columns)
    if columns is not None:
        for name in columns:
            if raw.kind(name) == "nested":
                raise DataError(
                    f"{path}: column {name!r} holds lists or records, not numbers; name "
                    "numeric columns in --columns"
                )
            if raw.kind(name) in ("dates", "durations", "times of day", "intervals"):
                raise DataError(
                    f"{path}: column {name!r} holds {raw.kind(name)}, not numbers; convert it "
                    "to numbers in a unit of your choice (e.g. days since the first) in the "
                    "file, or name numeric columns in --columns"
                )
            if raw.kind(name) == "text":
                column = raw.series(name)
                hint = number_format_hint(column, cli=True)
                if hint is not None:
                    raise DataError(f"{path}: column {name!r} holds {hint}")
                stray = not_plain_numbers(column)
                as_text = numbers_as_text(path, name, column, stray)
                if as_text is not None:
                    raise DataError(as_text)
                what = (
                    "correct those values, or empty their cells (--missing em fits them as missing)"
                    if mostly_numbers(column, stray)
                    else "name numeric columns in --columns, or encode this one as numbers"
                )
                raise DataError(
                    f"{path}: column {name!r} is not numeric ({not_numbers(column, stray)}); {what}"
                    + thousands_advice(column)
                )
        chosen = list(columns)
    else:
        left_out = [*([ident] if ident is not None else []), *(exclude or [])]
        found_id = ident if id_column is None else None
        chosen, more, hints, read = numeric_columns(raw, path, left_out=left_out, found_id=found_id)
        notes.extend(more)
        like_ids = [c for c in chosen if _named_like_id(c)]
        if like_ids:  # not found as the id: a value repeats or is missing
            one = len(like_ids) == 1
            notes.append(
                f"column{'' if one else 's'} {listed(like_ids)}, named like an id but with "
                f"repeated or missing values, {'is' if one else 'are'} used as "
                f"{'a model feature' if one else 'model features'}; --exclude "
                f"{','.join(quote(c, listed_in=True) for c in like_ids)} if "
                f"{'it names' if one else 'they name'} rows"
            )
        if not chosen:
            also = "".join(f"; column {c!r} holds {hint}" for c, hint in hints.items())
            raise DataError(
                f"{path}: no numeric column to use (columns are {listed(raw.names)}); "
                f"choose them with --columns{also}"
            )
    if text_header:
        check_header(raw, chosen, path)
    if ident is not None and id_column is not None:
        notes.append(f"id column {ident!r} (--id) is carried into the output")
    elif ident is not None:
        # the first text column of unique values: a column of numbers with stray entries says which
        why = (
            None
            if ident in hints or _named_like_id(ident)
            else why_text(raw, ident, read.get(ident))
        )
        found = "the first id-like or text column of unique values" + (
            "" if why is None else f"; {why}"
        )
        carries_none = (
            f", --exclude {quote(ident, listed_in=True)} carries none" if excludable else ""
        )
        notes.append(
            f"id column {ident!r} ({found}) is carried into the output; --id names "
            f"another{carries_none}"
        )
    return chosen, ident, notes


def numeric_columns(
    raw: ColumnKinds,
    path: str | Path,
    *,
    left_out: Sequence[str] = (),
    found_id: str | None = None,
    emptied: str = "--missing em fits them as missing",
    instead: str = "leave the column out with --exclude {name}",
    choose: str = "choose columns with --columns (booleans count as 0/1 there)",
) -> tuple[list[str], list[str], dict[str, str], dict[str, pd.Series]]:
    """The numeric columns of ``raw`` but ``left_out``, when none are named: a command's default.

    Parameters
    ----------
    raw : the table's columns.
    path : its file, for messages.
    left_out : columns not to use (the id, ``--exclude``).
    found_id : an id column found (not named), refused as the others where it is a column
        of numbers with stray entries.
    emptied, instead, choose : the command's words in messages: what its empty cells are,
        the other way out for a column of numbers with stray entries (``{name}`` its name, as
        a comma-separated list on a command line takes it: :func:`quote`),
        how to choose columns.

    Returns
    -------
    chosen : the numeric columns, in the table's order.
    notes : the non-numeric columns skipped and the kinds of numbers written with separators
        (:func:`emkit.io.number_format_hint`) some of them hold.
    hints : those kinds, by column.
    read : the columns read whole to find them, by name.

    Raises
    ------
    DataError
        For a column that is numbers but for stray entries ('?', '.'), never skipped nor taken
        as the id for a few cells: it names them and what to do.
    """
    text = [c for c in raw.names if c not in left_out and raw.kind(c) != "number"]
    chosen = [c for c in raw.names if c not in left_out and c not in text]
    hints: dict[str, str] = {}  # text columns of numbers written as number_format_hint knows
    read: dict[str, pd.Series] = {}  # columns read whole for a hint
    # a column is read whole only where its first values are all numbers, plain or not (not
    # a column of names)
    looked = [*text, *([found_id] if found_id is not None else [])]
    for c in looked:
        if raw.kind(c) == "text" and written_as_numbers(raw.first_values(c)):
            read[c] = raw.series(c)  # read once: stray_values' too
            hint = number_format_hint(read[c], cli=True)
            if hint is not None:
                hints[c] = hint
    for c in looked:
        if c in hints or (c == found_id and _named_like_id(c)):
            continue
        stray = stray_values(raw, c, read.get(c))
        if stray is not None:
            why = not_numbers(*stray)
            as_id = f", or carry it into the output as the id with --id {quote(c)}"
            as_text = numbers_as_text(path, c, *stray)
            if as_text is not None:
                raise DataError(
                    f"{as_text}, or {instead.format(name=quote(c, listed_in=True))}"
                    + (as_id if c == found_id else "")
                )
            raise DataError(
                f"{path}: column {c!r} is not numeric ({why}); correct those values, or empty "
                f"their cells ({emptied}), or {instead.format(name=quote(c, listed_in=True))}"
                + (as_id if c == found_id else "")
                + thousands_advice(stray[0])
            )
    notes = []
    if text:
        kinds = [f"{c} ({KIND_WORDS[raw.kind(c)]})" for c in text]
        notes.append(
            f"skipped {len(text)} non-numeric column{'s' if len(text) > 1 else ''}: "
            f"{', '.join(kinds)}; {choose}"
        )
    notes.extend(f"column {c!r} holds {hint}" for c, hint in hints.items())
    return chosen, notes, hints, read


def check_rows(n_rows: int, path: str | Path) -> None:
    """DataError where a table to fit a model to has a single row (each column of it is
    constant, which would be the message otherwise)."""
    if n_rows == 1:
        raise DataError(
            f"{path}: the table has only one row; fitting a model takes many rows, one per "
            "observation"
        )


def drop_constant_columns(
    single: dict[str, float | None], path: str | Path
) -> tuple[list[str], str | None]:
    """The columns to keep of those in ``single`` (name: its one value, NaN when all missing,
    or None when it varies) and a warning line naming the constant ones left out (None when
    none is).

    Raises
    ------
    DataError
        When every column is constant.
    """
    constant = [c for c, v in single.items() if v is not None]
    if not constant:
        return list(single), None
    if len(constant) == len(single):
        raise DataError(
            f"{path}: every column used is constant ({listed(constant)}); "
            "there is nothing to cluster"
        )
    shown = [
        f"{c} (all missing)" if np.isnan(v) else f"{c} = {v:g}"  # type: ignore[arg-type]
        for c, v in single.items()
        if v is not None
    ]
    note = (
        f"warning: left out {len(constant)} constant column{'s' if len(constant) > 1 else ''} "
        f"({', '.join(shown)}): a single value carries no information about clusters and would "
        "make every component singular"
    )
    return [c for c in single if c not in constant], note
