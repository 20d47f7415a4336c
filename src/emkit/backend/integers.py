"""Integers that float64 cannot hold exactly, refused before anything converts them.

Below :mod:`emkit.backend.sources` and :mod:`emkit.backend.validation` (it imports neither),
so that the sources check each integer chunk they read from a file, a memory map or an
iterable, as the estimators check an array in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

EXACT_INTEGERS = 2**53  # float64 holds every integer up to this, and not all beyond
EXACT_SINGLE = 2**24  # the same for float32 (a fit with dtype=float32, a device's default)
# pandas' infer_dtype of objects that may hold an integer (Python's or NumPy's)
INTEGER_KINDS = frozenset({"integer", "mixed-integer", "mixed-integer-float", "mixed"})
# infer_dtype of objects that are all text, which the conversion parses as numbers
TEXT_KINDS = frozenset({"string", "bytes"})


@dataclass(frozen=True)
class Precision:
    """What a float type holds exactly: every integer up to ``2**bits``, to ``digits``
    significant digits beyond; its ``largest`` finite value."""

    dtype: np.dtype
    bits: int
    digits: int
    largest: str

    @property
    def bound(self) -> int:
        return 2**self.bits

    @property
    def long_text(self) -> int:
        """Characters from which text may write an integer beyond :attr:`bound`."""
        return len(str(self.bound))


PRECISIONS = {
    np.dtype(np.float64): Precision(np.dtype(np.float64), 53, 16, "1.8e308"),
    np.dtype(np.float32): Precision(np.dtype(np.float32), 24, 7, "3.4e38"),
}


def integer_refusal(
    raw: np.ndarray | Sequence[np.ndarray],
    name: str,
    what: str | None,
    advice: str | None = None,
    dtype: Any = np.float64,
) -> str | None:
    """What a ValueError says where the integers of ``raw`` hold values that ``dtype``
    (float64, or float32) cannot hold exactly, else None: an integer array, an object array
    (its Python integers: those beyond int64 are objects), or a sequence of them (a table's
    columns, counted together). See :func:`exact_integers`."""
    precision = PRECISIONS[np.dtype(dtype)]
    parts = [raw] if isinstance(raw, np.ndarray) else list(raw)
    found = [r for r in (_rounded(part, precision) for part in parts) if r is not None]
    if not found:
        return None
    count, example, stored = sum(f[0] for f in found), found[0][1], found[0][2]
    kind = precision.dtype.name
    offset = f"subtract a common integer offset first (e.g. {name} - {name}.min(), exact in int64)"
    if advice is None and precision.bits < 53:
        advice = (
            "Fit in float64 (dtype='float64'; on CUDA dtype=None is float32), which holds "
            f"every integer up to 2**53, or {offset}"
        )
    return (
        (f"{what}: " if what else "")
        + f"{name} holds {count} integer(s) beyond 2**{precision.bits} that {kind} cannot "
        f"hold exactly (such as {example}, which {kind} {stored}): they would round to "
        f"{precision.digits} significant digits, losing the differences between values. "
        + (
            advice
            or f"{offset[0].upper()}{offset[1:]}, or convert to float yourself if that "
            "rounding is acceptable"
        )
    )


def exact_integers(
    raw: np.ndarray | Sequence[np.ndarray],
    name: str,
    what: str | None,
    advice: str | None = None,
    dtype: Any = np.float64,
) -> None:
    """Raise where the integer array ``raw`` holds values that float64 cannot hold exactly
    (beyond 2**53 and not a multiple of their float64 spacing): converted, they round to 16
    significant digits, so values that differ can come out equal and a variance off (int64
    timestamps in nanoseconds are about 2**60). ``what`` names the function (None: the message
    starts with ``name``); ``advice``, what to do, where subtracting a common offset (the
    default advice) would change the model (counts); ``dtype``, float32 where the values
    are converted to float32 (beyond 2**24, 7 digits). Free for a float array; one min/max
    pass for an integer one."""
    refusal = integer_refusal(raw, name, what, advice, dtype)
    if refusal:
        raise ValueError(refusal)


def refuse_inexact_integers(x: Any, name: str, what: str | None, dtype: Any = np.float64) -> None:
    """:func:`exact_integers` of the integers of ``x`` as given, before anything converts it
    to float64 (or ``dtype``, float32): an integer array's values, a DataFrame's (or
    Series') integer columns (those of a nullable ``Int64`` column with missing values,
    ``pd.NA``, left to the conversion) and Python integers in its object columns, or a
    list's or tuple's numbers. Floats, and a table with no integer or object column, are
    not read at all; integers cost one min/max pass. A Dask collection is checked partition
    by partition, as they are read (here, not at all)."""
    if type(x).__module__.startswith("dask"):
        return
    if isinstance(x, np.ma.MaskedArray):
        # a masked number is a missing value (masked_as_nan); under any other dtype the
        # conversion reads the values stored under the mask
        x = x.compressed() if x.dtype.kind in "biuf" else np.asarray(x)
    if hasattr(x, "to_frame") and hasattr(x, "dtype"):  # a pandas Series
        x = x.to_frame()
    dtypes: Any = getattr(x, "dtypes", None)
    if hasattr(dtypes, "items") and hasattr(x, "columns"):  # a pandas DataFrame
        kinds = [getattr(t, "kind", None) for t in dtypes]
        exact_integers(
            [
                present_values(x.iloc[:, j], dtype)
                for j, kind in enumerate(kinds)
                if kind in ("i", "u", "O")
            ],
            name,
            what,
            dtype=dtype,
        )
        return
    if isinstance(x, (list, tuple)):
        try:
            as_array = np.asarray(x)
        except (TypeError, ValueError):  # ragged or not numbers: the conversion's to say
            return
        # NumPy makes float64 of integers mixed with floats or beyond int64 (2**63 + 1
        # rounded): where a value is beyond 2**53, the numbers as given
        if as_array.dtype.kind == "f" and _beyond(as_array, PRECISIONS[np.dtype(dtype)].bound):
            as_array = np.asarray(x, dtype=object)
        x = as_array
    if isinstance(getattr(x, "dtype", None), np.dtype) and x.dtype.kind in "iuOUS":
        exact_integers(np.asarray(x), name, what, dtype=dtype)


# What to do with a target of nullable integers that float64 rounds: it is read as float64
# (as scikit-learn reads it), so that labels that differ would come out one class
TARGET_ADVICE = (
    "As class labels, give y as int64 (y.astype('int64')), which holds them exactly; as "
    "a response, subtract a common integer offset first (e.g. y - y.min())"
)


def refuse_rounded_target(y: Any, what: str | None) -> Any:
    """``y``, a target (or a partition of one), after :func:`exact_integers` of its values
    where it is a pandas Series of nullable (or pyarrow) integers, which are read as
    float64: labels 2**53 and 2**53 + 1 were one class. NumPy integers, read as they are,
    and other targets are not read."""
    dtype = getattr(y, "dtype", None)
    if hasattr(y, "to_frame") and not isinstance(dtype, np.dtype):
        if getattr(dtype, "kind", None) in ("i", "u"):
            exact_integers(present_values(y), "y", what, TARGET_ADVICE)
    return y


def present_values(column: Any, into: Any = np.float64) -> np.ndarray:
    """A pandas integer or object ``column`` (a Series) as a NumPy array, its missing values
    (pd.NA of a nullable column) left out: int64 or uint64 values, or objects (a categorical
    column's categories, where ``into`` holds them all exactly)."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):  # its values are among its categories
        categories = dtype.categories.to_numpy()
        if _rounded(categories, PRECISIONS[np.dtype(into)]) is None:  # the usual case
            return categories
        # only the categories some row holds (a filtered frame keeps the others), once a row
        codes = column.cat.codes.to_numpy()
        return categories[codes[codes >= 0]]
    if dtype.kind == "O":
        return column.to_numpy()
    if column.hasnans:
        column = column.dropna()
    return column.to_numpy(dtype=getattr(dtype, "numpy_dtype", dtype))


def _beyond(x: np.ndarray, bound: int = EXACT_INTEGERS) -> bool:
    """Whether the float array ``x`` holds a value beyond ``bound`` in magnitude, or at it
    (``bound`` itself may be ``bound + 1`` rounded); NaN skipped."""
    if x.size == 0:
        return False
    largest = np.fmax(np.abs(np.fmax.reduce(x, axis=None)), np.abs(np.fmin.reduce(x, axis=None)))
    return bool(largest >= bound)


def _rounded(raw: np.ndarray, precision: Precision) -> tuple[int, Any, str] | None:
    """How many integers of ``raw`` the float type of ``precision`` rounds, the first of
    them and what it makes of it ("stores as ..."); None where none."""
    if raw.size == 0:
        return None
    if raw.dtype.kind == "O":
        return _rounded_objects(raw, precision)
    if raw.dtype.kind in "US":  # text, which the conversion parses
        return _rounded_text(raw, precision)
    if raw.dtype.kind not in "iu":
        return None
    if -precision.bound <= raw.min() and raw.max() <= precision.bound:
        return None
    as_float = raw.astype(precision.dtype)
    # a float64 at or above 2**63 (2**64 unsigned) no longer fits the integer type: inexact
    top = 2.0 ** (8 * raw.dtype.itemsize - (raw.dtype.kind == "i"))
    fits = as_float < top
    inexact = ~fits | (np.where(fits, as_float, 0).astype(raw.dtype) != raw)
    if not inexact.any():
        return None
    example, stored = raw[inexact].flat[0], int(as_float[inexact].flat[0])
    return int(inexact.sum()), example, f"stores as {stored}"


def _rounded_objects(raw: np.ndarray, precision: Precision) -> tuple[int, Any, str] | None:
    """:func:`_rounded` of the integers (Python's or NumPy's) among the objects ``raw``;
    other objects (floats, text, pd.NA) are the conversion's to judge."""
    # pandas' reading of the types, in C: most object columns (text, floats) hold no integer,
    # and a Python loop over a million of them cost 0.075 s a query
    kind = infer_dtype(raw.ravel(), skipna=True)
    if kind in TEXT_KINDS:
        return _rounded_text(raw, precision)
    if kind not in INTEGER_KINDS:
        return None
    rounded = []
    for value in raw.flat:
        if isinstance(value, (str, bytes)) and len(value) >= precision.long_text:  # "mixed"
            value = _text_integer(value)
        if not isinstance(value, (int, np.integer)) or -precision.bound <= value <= precision.bound:
            continue
        value = int(value)
        try:
            with np.errstate(over="ignore"):  # beyond float32's range: inf
                as_float = precision.dtype.type(float(value))
            if not np.isfinite(as_float):
                raise OverflowError
        except OverflowError:
            largest = f"cannot hold at all (beyond its largest value, {precision.largest})"
            rounded.append((value, largest))
            continue
        if int(as_float) != value:
            rounded.append((value, f"stores as {int(as_float)}"))
    if not rounded:
        return None
    return len(rounded), rounded[0][0], rounded[0][1]


def _rounded_text(raw: np.ndarray, precision: Precision) -> tuple[int, Any, str] | None:
    """:func:`_rounded` of the integers written in the text (str or bytes) of ``raw``, as
    the conversion to float64 parses them ("9007199254740993" is read as 9007199254740992);
    text of fractions, or not of numbers, is the conversion's to judge. Only text of
    :attr:`Precision.long_text` characters or more is parsed: shorter text is within its
    bound."""
    flat = raw.ravel()
    if flat.dtype.kind == "O":
        lengths = pd.Series(flat).str.len().to_numpy(dtype=np.float64, na_value=0.0)
    else:
        lengths = np.char.str_len(flat)
    long = flat[lengths >= precision.long_text]
    integers = [value for value in map(_text_integer, long) if value is not None]
    if not integers:
        return None
    try:  # checked at once where they fit int64 (1e6 of them: 0.05 s, not 1.3 in a loop)
        values = np.array(integers, dtype=np.int64)
    except OverflowError:
        values = np.array(integers, dtype=object)
    return _rounded(values, precision)


def _text_integer(text: Any) -> int | None:
    """The integer that the text (str or bytes) ``text`` writes, as Python's ``int`` reads
    it (signs, spaces and underscores as ``float`` reads them too); None where it writes
    none (a fraction or an exponent, told by its mark without parsing it, a word)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(text, str) or "." in text or "e" in text or "E" in text:
        return None
    try:
        return int(text)
    except ValueError:
        return None
