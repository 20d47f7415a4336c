"""Reading tables from CSV or Parquet, with one clear error per problem."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import re
import tarfile
import warnings
import zipfile
from pathlib import Path
from typing import IO, Any, cast

import numpy as np
import pandas as pd

from emkit.exceptions import DataError
from emkit.filecheck import check_regular_file

# pandas' message for a row longer than the header (the C parser's)
LONG_ROW = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
# pandas' warning for a first data row longer than the header, read with index_col=False
_LONG_FIRST_ROW = "Length of header or names does not match length of data"


def long_row(path: object, line: int | None, fields: int, header: int, sep: str) -> str:
    """The message for line ``line`` of ``path`` (a row, where None) having ``fields`` fields,
    ``header`` in the header."""
    where = "a row" if line is None else f"line {line}"
    return (
        f"{path}: {where} has {fields} fields but the header has {header} (delimiter "
        f"{'tab' if sep == chr(9) else repr(sep)}); remove the extra delimiters (at the ends "
        "of lines?) or name every column in the header"
    )


def read_csv(
    source: str | Path | IO[Any], label: str | Path | None = None, lines: bool = True, **kwargs
) -> pd.DataFrame:
    """``pandas.read_csv(source, index_col=False, **kwargs)``, a row with more fields than the
    header refused: pandas would otherwise make the first field of every row the row index and
    shift the rest left where the first data row is such a row (with ``index_col=False`` it
    drops that row's extra values with a warning, and refuses later such rows itself).

    ``label`` names the file in messages (``source`` where None); ``lines`` False leaves line
    numbers out of them (a block of a file, as Dask reads one, numbers its own lines).

    Raises
    ------
    DataError
        Naming the row, its fields and the header's, where a row has more fields than the
        header. pandas' other errors and warnings (as errors) are raised as they are.
    """
    name = source if label is None else label
    sep = kwargs.get("sep", kwargs.get("delimiter")) or ","
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        # "mixed types ... set low_memory=False": a column read in blocks as numbers and then
        # text; the caller's checks of the columns name what is wrong, in its own terms
        warnings.simplefilter("ignore", pd.errors.DtypeWarning)
        try:
            frame = pd.read_csv(source, index_col=False, **kwargs)
            _refuse_short_rows(frame, source, name, lines, kwargs)
            return frame
        except pd.errors.ParserWarning as warning:
            if _LONG_FIRST_ROW not in str(warning):
                raise
            if isinstance(source, io.IOBase):
                source.seek(0)
            # the header and first data row as rows alike: pandas names the longer second
            first = {k: v for k, v in kwargs.items() if k in ("sep", "delimiter", "encoding")}
            try:
                pd.read_csv(source, header=None, nrows=2, dtype=str, **first)
            except pd.errors.ParserError as exc:
                longer = LONG_ROW.search(str(exc))
                if longer is not None:
                    header, line, fields = map(int, longer.groups())
                    raise DataError(
                        long_row(name, line if lines else None, fields, header, sep)
                    ) from None
            raise DataError(
                f"{name}: {'the first data row' if lines else 'a row'} has more fields than "
                "the header; remove the extra delimiters (at the ends of lines?) or name every "
                "column in the header"
            ) from None
        except pd.errors.ParserError as exc:
            longer = LONG_ROW.search(str(exc))
            if longer is None:
                raise
            header, line, fields = map(int, longer.groups())
            raise DataError(long_row(name, line if lines else None, fields, header, sep)) from None


def open_text(path: str | Path) -> io.TextIOWrapper:
    """The text of a table file, decompressed where its suffix says it is compressed (``.gz``,
    ``.bz2``, ``.xz``, ``.zip`` or ``.tar`` (``.tar.gz``, ...) holding one file, ``.zst``),
    as pandas reads it.

    Raises
    ------
    OSError
        When the file cannot be opened or decompressed (a ``.zip`` or ``.tar`` with other than
        one file, ``.zst`` without the ``zstandard`` package).
    """
    suffix = Path(path).suffix.lower()
    raw: IO[bytes]
    if str(path).lower().endswith(TAR_SUFFIXES):  # before .gz: pandas reads the archive
        raw = _TarMember(tarfile.open(path))
    elif suffix == ".gz":
        raw = cast(IO[bytes], gzip.open(path, "rb"))
    elif suffix == ".bz2":
        raw = bz2.open(path, "rb")
    elif suffix == ".xz":
        raw = lzma.open(path, "rb")
    elif suffix == ".zip":
        archive = zipfile.ZipFile(path)
        members = [m for m in archive.namelist() if not m.endswith("/")]
        if len(members) != 1:
            archive.close()
            raise OSError(f"a .zip archive must hold exactly one file; it holds {len(members)}")
        raw = archive.open(members[0])
    elif suffix == ".zst":
        try:
            import zstandard
        except ImportError:
            raise OSError(
                "reading .zst needs the zstandard package: pip install zstandard"
            ) from None
        raw = zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), closefd=True)
    else:
        raw = open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")


# pandas' suffixes of a tar archive (its extension_to_compression), compressed or not
TAR_SUFFIXES = (".tar", ".tar.gz", ".tar.bz2", ".tar.xz")


class _TarMember(io.BufferedReader):
    """The one file of the tar ``archive``, which closes the archive with it.

    Raises
    ------
    OSError
        Where the archive holds other than one file (pandas refuses it too).
    """

    def __init__(self, archive: tarfile.TarFile) -> None:
        self._archive = archive
        members = [m for m in archive.getmembers() if m.isfile()]
        member = archive.extractfile(members[0]) if len(members) == 1 else None
        if member is None:
            archive.close()
            raise OSError(f"a .tar archive must hold exactly one file; it holds {len(members)}")
        super().__init__(cast(Any, member))

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._archive.close()


def short_row(path: object, line: int | None, fields: int, header: int, row: str) -> str:
    """The message for line ``line`` of ``path`` (a row, where None) having ``fields``
    fields, ``row`` its text, where the header has ``header``."""
    where = "a row" if line is None else f"line {line}"
    shown = row if len(row) <= 60 else row[:57] + "..."
    return (
        f"{path}: {where} has {fields} field{'' if fields == 1 else 's'} but the header has "
        f"{header} ({shown!r}): a row cut short (the file truncated, or delimiters missing), "
        "which would be read with its last values missing; write every field, empty where a "
        "value is missing, or remove the row"
    )


def first_short_row(text: Any, sep: str, header: int) -> tuple[int, int, str] | None:
    """The first row of the delimited ``text`` (lines of text; after its header, empty lines
    and lines of spaces and tabs skipped as pandas skips them) with fewer than ``header``
    fields, or than the header's named ones where it ends in delimiters (``a,b,``: pandas
    reads its unnamed last column as missing values, every row's, written or not): its line
    (the last of a row that quotes span), fields and text; None where there is none, where
    the header row itself does not have ``header`` fields (quoting read otherwise: no
    verdict), or where a field is over the csv module's size limit (pandas reads it)."""
    reader = csv.reader(text, delimiter=sep)
    # a row of one field of spaces and tabs is such a line (pandas' C parser skips it)
    rows = (row for row in reader if len(row) > 1 or (row and row[0].strip(" \t")))
    try:
        names = next(rows, None)
        if names is None or len(names) != header:
            return None
        named = len(names)
        while named > 1 and names[named - 1] == "":
            named -= 1
        for row in rows:
            if len(row) < named:
                return reader.line_num, len(row), sep.join(row)
    except csv.Error:  # a field over csv's limit, say
        return None
    return None


# Encodings in which a delimiter, a newline, a quote and a space are the ASCII byte each, and
# no other character holds those bytes: a row's fields can be counted on the bytes.
ASCII_DELIMITED = {"utf-8", "utf8", "utf-8-sig", "ascii", "latin-1", "latin1", "iso-8859-1"}
SCAN_BYTES = 1 << 24
# Lines shorter than the header a block may hold, each looked at, before the csv module reads
# the rows instead (empty lines are such lines: pandas skips them, and they are no rows).
SHORT_LINES_MOST = 4096


def no_short_rows(binary: IO[bytes], sep: str) -> bool:
    """True where no row of the delimited file ``binary`` (bytes, in an encoding of
    :data:`ASCII_DELIMITED`) can be shorter than its header: every line that holds more than
    spaces and tabs has at least the header's named fields (:func:`first_short_row`), counted
    by its delimiters, in blocks of :data:`SCAN_BYTES` by NumPy. False where a line may be
    shorter, or where the bytes alone cannot say (a quote, whose field may hold delimiters
    and newlines; a carriage return alone, which the csv module reads as a line's end): the
    csv module then reads the rows."""
    delimiter, tail, named = ord(sep), b"", None
    while True:
        chunk = binary.read(SCAN_BYTES)
        data = tail + chunk
        if not chunk:
            data += b"\n"  # the last line, without its newline
        elif b"\n" not in chunk:
            tail = data
            continue
        end = data.rindex(b"\n") + 1
        lines, tail = data[:end], data[end:]
        if b'"' in lines or lines.count(b"\r") != lines.count(b"\r\n"):
            return False
        if named is None:
            lines = lines.removeprefix(b"\xef\xbb\xbf")
            for number, line in enumerate(lines.split(b"\n")):
                if line.strip(b" \t\r") or bytes([delimiter]) in line:
                    names = line.rstrip(b"\r").split(sep.encode())
                    named = len(names)
                    while named > 1 and not names[named - 1]:
                        named -= 1
                    lines = b"\n".join(lines.split(b"\n")[number + 1 :])
                    break
            else:
                if not chunk:
                    return True
                continue
        codes = np.frombuffer(lines, dtype=np.uint8)
        ends = np.flatnonzero(codes == ord("\n"))
        # each line's delimiters: those before its end less those before the line before's
        before = np.searchsorted(np.flatnonzero(codes == delimiter), ends)
        short = np.flatnonzero(np.diff(before, prepend=0) + 1 < named)
        if short.size > SHORT_LINES_MOST:
            return False
        starts = np.concatenate(([0], ends[:-1] + 1))
        for i in short:  # a line of one field of spaces and tabs is no row (first_short_row)
            line = lines[starts[i] : ends[i]]
            if line.strip(b" \t\r") or bytes([delimiter]) in line:
                return False
        if not chunk:
            return True


def _refuse_short_rows(
    frame: pd.DataFrame, source: Any, name: object, lines: bool, kwargs: dict
) -> None:
    """DataError where a row of the CSV ``source`` that pandas read into ``frame`` had fewer
    fields than the header: pandas fills the fields it lacks with NaN, as if they were
    missing values. Read again only where the last column holds a missing value (a short
    row leaves one there), as text, by the csv module."""
    sep = kwargs.get("sep", kwargs.get("delimiter")) or ","
    options = ("names", "usecols", "nrows", "skiprows", "comment", "quotechar")
    if frame.shape[1] < 2 or len(sep) != 1 or any(key in kwargs for key in options):
        return
    if kwargs.get("header", "infer") not in ("infer", 0):  # Dask passes pandas' default
        return
    if not frame.iloc[:, -1].isna().any():
        return
    encoding = kwargs.get("encoding") or "utf-8"
    bytewise = encoding.lower().replace("_", "-") in ASCII_DELIMITED
    if isinstance(source, (str, Path)):
        if bytewise:
            with open_text(source) as text:
                if no_short_rows(cast(IO[bytes], text.buffer), sep):
                    return
        with open_text(source) as text:
            found = first_short_row(text, sep, frame.shape[1])
    elif hasattr(source, "seek") and hasattr(source, "seekable") and source.seekable():
        source.seek(0)
        if isinstance(source, io.TextIOBase):
            found = first_short_row(source, sep, frame.shape[1])
        else:
            if bytewise:
                if no_short_rows(source, sep):
                    return
                source.seek(0)
            text = io.TextIOWrapper(source, encoding=encoding, errors="replace", newline="")
            try:
                found = first_short_row(text, sep, frame.shape[1])
            finally:
                text.detach()  # the caller's stream stays open
    else:
        return
    if found is not None:
        line, fields, row = found
        raise DataError(short_row(name, line if lines else None, fields, frame.shape[1], row))


READERS = {
    ".csv": read_csv,
    ".txt": read_csv,
    ".parquet": pd.read_parquet,
    ".pq": pd.read_parquet,
}


# Numbers written with thousands separators ("1,234.5", "12 345", "1'234", "1_234"; "1.234,5"
# with a decimal comma) or a decimal comma ("3,14", "-2,5e-3"): text to a CSV reader, numbers
# to the person who wrote them. A leading group of 0 ("0,125") is no thousands.
_THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2}([,' _\u00a0\u202f])\d{3}(?:\1\d{3})*(?:\.\d+)?")
_DOT_THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2}(?:\.\d{3})+(?:,\d+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?")
# French and much of Europe: spaces (often no-break ones) between thousands, a decimal comma
# ("1 234,50", "1\u202f234")
_SPACE_COMMA = re.compile(
    r"[+-]?[1-9]\d{0,2}(?P<space>[ \u00a0\u202f])\d{3}(?:(?P=space)\d{3})*(?:,\d+)?"
)


# Numbers marked as money or percents ("$1,234", "€12,50", "1 234 €", "-$3.50", "12,5 %") or
# written as accounting negatives ("(1,234)"): a symbol before the number (after its sign) or
# after it, or the number in parentheses. Symbols: Unicode's currency symbols (category Sc).
_SYMBOLS = (
    "$¢£¤¥\u058f\u060b\u07fe\u07ff\u09f2\u09f3\u09fb\u0af1\u0bf9\u0e3f\u17db\u20a0-\u20c0"
    "\ua838\ufdfc\ufe69\uff04\uffe0\uffe1\uffe5\uffe6\U00011fdd-\U00011fe0\U0001e2ff\U0001ecb0"
)
_MARKED = re.compile(
    rf"\A(?P<open>\(?)(?P<sign>[+-]?)(?P<before>[{_SYMBOLS}]?)\s*(?P<number>[^()%{_SYMBOLS}]*?)"
    rf"\s*(?P<after>[{_SYMBOLS}%]?)(?P<close>\)?)\Z"
)
_MARK = re.compile(rf"[()%{_SYMBOLS}]")
_PLAIN = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# plain or as the hints know (_THOUSANDS first: its back-reference is to group 1)
_NUMBER = re.compile(
    "|".join(p.pattern for p in (_THOUSANDS, _PLAIN, _DOT_THOUSANDS, _DECIMAL_COMMA, _SPACE_COMMA))
)


def _plain(text: pd.Series) -> np.ndarray:
    """Where ``text`` (stripped text, none missing) is a plain number: one
    ``pandas.to_numeric`` reads ("1.5", "-2e3", "inf"; not "1,234" or "?")."""
    return pd.to_numeric(text, errors="coerce").notna().to_numpy()


def not_plain_numbers(column: pd.Series) -> np.ndarray:
    """Where ``column`` holds a value (not missing) that is not a plain number, its text
    stripped (bool, (n,))."""
    present = column.notna().to_numpy()
    stray = np.zeros(len(column), dtype=bool)
    stray[present] = ~_plain(column[present].astype(str).str.strip())
    return stray


def _split(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The values of ``column`` (as stripped text) that are not plain numbers, and those
    that are."""
    text = column.dropna().astype(str).str.strip()
    plain = _plain(text)
    return text[~plain], text[plain]


def _not_plain(column: pd.Series) -> pd.Series:
    """The values of ``column`` (as stripped text) that are not plain numbers."""
    return _split(column)[0]


def _has_point(values: pd.Series) -> bool:
    return bool(values.str.contains(".", regex=False).any())


def _either_way(
    formatted: pd.Series, thousands: bool, decimal_comma: pd.Series, plain: pd.Series
) -> bool:
    """Whether the commas of ``formatted`` (numbers as the hints know them, none plain) may as
    well separate thousands as be decimal ones ("1,500": 1500 or 1.5), nothing in the column
    settling which: every value is thousands (``thousands``), each is one with a comma
    ("1,500"; ``decimal_comma`` marks those) or spaced ("1 234"), and no plain value
    (``plain``) has a decimal point ("12.50" beside "1,500": 1500). "12,5", "1 234,50" (only a
    decimal comma) or "1,234,567" (only thousands) settle it."""
    if not (thousands and bool(decimal_comma.any())):
        return False
    spaced = formatted[~decimal_comma.to_numpy(dtype=bool)]
    return bool(spaced.str.fullmatch(_SPACE_COMMA).all()) and not _has_point(plain)


def _unmarked(odd: pd.Series) -> tuple[pd.Series, list[str]]:
    """``odd`` (stripped text) with currency symbols, percent signs and accounting parentheses
    taken off ("-$1,234" and "($1,234)" as "-1,234"; NaN where marked otherwise, as "$5%"),
    and the marks taken off ("()" for parentheses), sorted."""
    has = odd.str.contains(_MARK).to_numpy(dtype=bool)
    if not has.any():
        return odd, []
    parts = odd[has].str.extract(_MARKED)
    matched = parts["number"].notna()
    parts = parts.fillna("")
    paren = parts["open"] == "("
    signed = (parts["sign"] != "") & (paren | parts["number"].str.match(r"[+-]"))
    valid = matched & (paren == (parts["close"] == ")")) & ~signed
    valid &= (parts["before"] == "") | (parts["after"] == "")
    bare = odd.copy()
    bare[has] = (parts["sign"].where(~paren, "-") + parts["number"]).where(valid).to_numpy()
    used = parts[valid.to_numpy()]
    found = [*used["before"], *used["after"], *(used["open"] + used["close"])]
    return bare, sorted(set(found) - {""})


def _numbers(bare: pd.Series) -> bool:
    """Whether every value of ``bare`` is a number, written plainly or as the hints know."""
    return bool(bare.str.fullmatch(_NUMBER).fillna(False).all())


def written_as_numbers(column: pd.Series) -> bool:
    """Whether every value of ``column`` is a number, written plainly or as
    :func:`number_format_hint` recognises (a cheap look at a column's first rows tells a
    column of names from one worth reading whole): the hint is what decides, so that a column
    let through always gets one."""
    return _not_plain(column).empty or number_format_hint(column) is not None


def _read_csv(thousands: str, decimal_comma: bool = False) -> str:
    """The ``pandas.read_csv`` call that reads numbers with ``thousands`` between groups;
    pandas' C parser takes a one-byte separator only (a no-break space is left as text), so
    others get the Python one."""
    comma = ", decimal=','" if decimal_comma else ""
    engine = "" if thousands.isascii() else ", engine='python'"
    return f"pandas.read_csv(..., thousands={thousands!r}{comma}{engine})"


def number_format_hint(column: pd.Series, cli: bool = False) -> str | None:
    """What a text column's values are where each that is not a number is one written with
    thousands separators or a decimal comma, a currency symbol or a percent sign, or in
    accounting parentheses (a phrase with an example and what to do), else None; ``cli``
    adds the command line's way out (``--decimal ,``, ``--thousands .``). A column with a
    decimal comma in some values and a decimal point in others ("3,5" beside "2.5") gets a
    hint that names one of each, and a pandas line only where it reads every value as its
    number."""
    odd, plain = _split(column)
    if odd.empty:
        return None
    example = odd.iloc[0]
    name = column.name if isinstance(column.name, str) else "col"
    bare, marks = _unmarked(odd)
    if marks:
        return _marked_hint(odd, bare, plain, marks, name) if _numbers(bare) else None
    grouped = odd.str.fullmatch(_THOUSANDS)
    thousands = bool(grouped.all())
    decimal_comma = odd.str.fullmatch(_DECIMAL_COMMA)
    comma = bool(decimal_comma.all())
    flag = " (or, where the file's delimiter is not a comma, give --decimal ,)" if cli else ""
    if _either_way(odd, thousands, decimal_comma, plain):  # "1,500": 1500 or 1.5
        if not comma:  # beside "1 234": no read_csv call reads both
            return _marked_hint(odd, odd, plain, [], name)
        return (
            f"numbers written with thousands separators or a decimal comma (such as "
            f"{example!r}): write them plainly in the file, or read it with "
            "pandas.read_csv(..., thousands=',') or (..., decimal=',') as they mean and save it "
            "again"
        )
    # "1 234,50" or "1 234" beside "12,5" (a comma beside spaced thousands is a decimal one,
    # unless a decimal point elsewhere says otherwise)
    spaced_comma = odd.str.fullmatch(_SPACE_COMMA)
    spaced = not comma and bool((spaced_comma | decimal_comma).all())
    if spaced and bool(odd.str.contains(",").any()) and not _has_point(plain):
        spaces = set(odd.str.extract(_SPACE_COMMA)["space"].dropna())
        if len(spaces) > 1:  # "1 234,50" beside "5\xa0678,00": read_csv takes one
            return _marked_hint(odd, odd, plain, [], name)
        read = _read_csv(spaces.pop(), decimal_comma=True)
        return (
            f"numbers written with thousands separators and a decimal comma (such as "
            f"{example!r}): write them plainly in the file, or read it with {read} and save "
            "it again"
        )
    if thousands:
        sep = _THOUSANDS.fullmatch(example).group(1)  # type: ignore[union-attr]
        others = re.escape("".join(sorted(set(",' _\u00a0\u202f") - {sep})))
        if bool(odd.str.contains(f"[{others}]").any()):  # "1 234" beside "5\xa0678"
            return _marked_hint(odd, odd, plain, [], name)
        return (
            f"numbers written with thousands separators (such as {example!r}): remove the "
            f"separators in the file, or read it with {_read_csv(sep)} "
            "and save it again"
        )
    if comma and not _has_point(plain):  # "1.234" beside "3,5": 1234, as beside "1.234,5"
        return (
            f"numbers written with a decimal comma (such as {example!r}): write decimal points "
            "in the file, or read it with pandas.read_csv(..., decimal=',') and save it again"
            + flag
        )
    dot = odd.str.fullmatch(_DOT_THOUSANDS)
    if not bool((grouped | decimal_comma | spaced_comma | dot).all()):
        return None
    mixed = _mixed_hint(odd, odd, plain, [], name)
    if mixed is not None:
        return mixed
    if bool((dot | decimal_comma).all()):
        return (
            f"numbers written with '.' thousands separators and a decimal comma (such as "
            f"{example!r}): write them plainly in the file, or read it with "
            "pandas.read_csv(..., thousands='.', decimal=',') and save it again"
            + (
                " (or, where the file's delimiter is not a comma, give --decimal , --thousands .)"
                if cli
                else ""
            )
        )
    return None


def _marked_hint(
    odd: pd.Series, bare: pd.Series, plain: pd.Series, marks: list[str], name: str
) -> str | None:
    """The hint for numbers ``odd`` with currency symbols, percent signs or accounting
    parentheses (``marks``; none for separators that no one ``read_csv`` call reads, as a space
    beside a no-break one), ``bare`` without them (``plain``: the column's plain numbers): a
    pandas line that converts the column."""
    mixed = _mixed_hint(odd, bare, plain, marks, name)
    if mixed is not None:
        return mixed
    example = odd.iloc[0]
    shaped = ~bare.str.fullmatch(_PLAIN).to_numpy(dtype=bool)
    formatted = bare[shaped]
    thousands = bool(formatted.str.fullmatch(_THOUSANDS).all())
    decimal_comma = formatted.str.fullmatch(_DECIMAL_COMMA)
    # "1,500" beside "12.50": the point is the decimal one, the comma separates thousands
    # ("3,5 €" beside "1.234": a '.' between thousands, as beside "1.234,5 €")
    points = _has_point(bare) or _has_point(plain)
    comma = not points and bool(decimal_comma.all())
    # "1 234,50 €" (and "1 234 €" beside "12,50 €"): spaced thousands, a decimal comma
    spaced = not points and bool((formatted.str.fullmatch(_SPACE_COMMA) | decimal_comma).all())
    dot = formatted.str.fullmatch(_DOT_THOUSANDS) | decimal_comma
    symbols = [m for m in marks if m != "()"]
    what = [
        *(["a currency symbol"] if any(m != "%" for m in symbols) else []),
        *(["a percent sign"] if "%" in symbols else []),
        *(["parentheses for negatives"] if "()" in marks else []),
    ]
    seps = set(formatted.str.extract(_THOUSANDS)[0].dropna()) - {" ", "\u00a0", "\u202f"}

    def line(removed: set[str], decimal_comma: bool) -> str:
        return _pandas_line(name, removed, "()" in marks, decimal_comma)

    if formatted.empty:
        ways = line(set(symbols), False)
    elif _either_way(formatted, thousands, decimal_comma, pd.concat([bare[~shaped], plain])):
        # "$1,500" (or "1,500 €" beside "1 234 €"): 1500 or 1.5
        what.append("thousands separators or a decimal comma")
        ways = (
            f"{line({*symbols, ','}, False)} where ',' separates thousands, or "
            f"{line(set(symbols), True)} where it is a decimal comma"
        )
    elif thousands:
        what.append("thousands separators")
        ways = line({*symbols, *seps}, False)
    elif comma:
        what.append("a decimal comma")
        ways = line(set(symbols), True)
    elif spaced:
        what.extend(["thousands separators", "a decimal comma"])
        ways = line(set(symbols), True)
    elif bool(dot.all()):
        what.extend(["'.' thousands separators", "a decimal comma"])
        ways = line({*symbols, "."}, True)
    else:
        return None
    words = ", ".join(what[:-1]) + " and " + what[-1] if len(what) > 1 else what[0]
    percent = _PERCENT if "%" in symbols else ""
    return (
        f"numbers written with {words} (such as {example!r}): write them plainly in the file, "
        f"or convert the column with pandas and save it again: {ways}{percent}"
    )


_PERCENT = " (this gives percents: divide by 100 for fractions)"


def _pandas_line(name: str, removed: set[str], paren: bool, decimal_comma: bool) -> str:
    """The pandas line that converts column ``name``: the characters ``removed`` and spaces
    taken off, parentheses (``paren``) read as a minus, a decimal comma as a point."""
    column = f"df[{name!r}]"
    body = "".join("\\" + c if c in "\\[]^-" else c for c in sorted(removed)) + r"\s"
    quote = '"' if "'" in body else "'"
    text = f"{column}.str.replace(r{quote}[{body}]{quote}, '', regex=True)"
    if paren:
        text += r".str.replace(r'^\((.*)\)$', r'-\1', regex=True)"
    if decimal_comma:
        text += ".str.replace(',', '.')"
    return f"{column} = pd.to_numeric({text})"


def _mixed_hint(
    odd: pd.Series, bare: pd.Series, plain: pd.Series, marks: list[str], name: str
) -> str | None:
    """The hint for numbers written two ways, a decimal comma or '.' between thousands in some
    ("3,5", "1.234,5", "1.234.567") and a decimal point in others ("2.5", "12.50", "1,234.5"),
    else None: ``odd`` as written, ``bare`` without their marks (``marks``, as
    :func:`_marked_hint` takes them), ``plain`` the column's plain numbers. No one reading of
    a point reads both, so the hint names one of each; its pandas line, where no value has
    thousands separated by a comma or a point ("1,500" may be either), reads each comma as a
    decimal point. "1.234" may be 1234 or 1.234: it is neither way alone."""
    values = pd.concat([bare, plain])
    point = values.str.contains(".", regex=False).to_numpy(dtype=bool, copy=True)
    if point.any():  # a point only where no '.' separates thousands
        point[point] = ~values[point].str.fullmatch(_DOT_THOUSANDS).to_numpy(dtype=bool)
    if not point.any():
        return None
    comma = bare.str.contains(",", regex=False) & ~bare.str.fullmatch(_THOUSANDS)
    dot = bare.str.fullmatch(_DOT_THOUSANDS) & ~bare.str.fullmatch(_PLAIN)
    either = (comma | dot).to_numpy(dtype=bool)
    if not either.any():
        return None
    first = odd[either].iloc[0]
    second = pd.concat([odd, plain])[point].iloc[0]
    which = "a decimal comma" if bool(comma.any()) else "'.' thousands separators"
    hint = (
        f"numbers written with {which} in some values and a decimal point in others (such as "
        f"{first!r} and {second!r}): write them one way in the file"
    )
    thousands = bare.str.contains(",", regex=False) & bare.str.fullmatch(_THOUSANDS)
    # "1.234" (plain to a reader) may be 1234 beside "3,5": no one reading of its point
    either = bool(values.str.fullmatch(_DOT_THOUSANDS).any())
    if bool((dot | thousands).any()) or either:
        return hint
    seps = set(bare.str.extract(_THOUSANDS)[0].dropna()) - {" ", "\u00a0", "\u202f"}
    symbols = {m for m in marks if m != "()"}
    line = _pandas_line(name, symbols | seps, "()" in marks, decimal_comma=True)
    percent = _PERCENT if "%" in symbols else ""
    return f"{hint}, or convert the column with pandas and save it again: {line}{percent}"


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
    reader = READERS.get(path.suffix.lower(), read_csv)
    try:
        frame = reader(path)
    except DataError:
        raise
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
            raise DataError(
                f"{path}: column {name!r} has {n_inf} infinite value(s) ('inf', or a number "
                "beyond float64's 1.8e308); correct those values or drop their rows first"
            )
    return frame.astype(np.float64)
