"""Data sources the EM loop reads: an array, a file on disk, or any re-iterable of chunks.

Every source iterates as ``(x, sample_weight)`` pairs, ``x`` of shape (m, d) and the weights
of shape (m,) or None, can be iterated again for the next EM iteration, and maps a function
over its chunks and adds the results (:meth:`DataSource.map_reduce`, the E-step of every
running start). Sources read from disk hold one chunk in memory at a time, so a fit's memory
does not grow with the file. :func:`as_chunks` is the one factory; a new kind of source (a
Dask array's partitions) is one new class that meets :class:`DataSource`.
"""

from __future__ import annotations

import mmap
import operator
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from emkit.backend.column_kinds import time_kind_of
from emkit.backend.integers import exact_integers, refuse_inexact_integers

DEFAULT_CHUNK_ROWS = 65_536
# Rows per chunk of an array already in memory (validated): the kernels block a chunk into
# cache-sized pieces themselves, so larger chunks only spread each chunk's fixed costs (forms,
# moments, handing rows to threads) over more rows; a direct E-step's (rows, k) temporaries
# stay at 2 MB per component.
IN_MEMORY_CHUNK_ROWS = 1 << 18
PARQUET_SUFFIXES = (".parquet", ".pq")

T = TypeVar("T")


@runtime_checkable
class DataSource(Protocol):
    """Data the EM loop reads once per iteration.

    Members
    -------
    n_rows : int, rows in the data (rows a checked source drops still count).
    n_features : int, columns of every chunk.
    feature_names : array of str of shape (n_features,), or None
        The columns' names, where the data name them as scikit-learn reads a DataFrame's
        (:func:`feature_names`): a fit sets its ``feature_names_in_`` from them, a query
        checks them against it.
    total_weight : float, number of rows, or the sum of the sample weights.
    __iter__() -> iterator of ``(x, sample_weight)``
        The chunks in order, from the start each time: ``x`` of shape (m, n_features) (or
        ``(x, labels)`` for labelled rows), ``sample_weight`` of shape (m,) or None.
    map_reduce(fn, combine=operator.add) -> T
        Map ``fn(x, sample_weight) -> T`` over the chunks and add the results with
        ``combine``, left to right; the loop's E-step of all running starts. A distributed
        source maps over its partitions and combines in a tree.
    """

    @property
    def n_rows(self) -> int: ...

    @property
    def n_features(self) -> int: ...

    @property
    def feature_names(self) -> np.ndarray | None: ...

    @property
    def total_weight(self) -> float: ...

    def __iter__(self) -> Iterator[tuple[Any, np.ndarray | None]]: ...

    def map_reduce(
        self,
        fn: Callable[[Any, np.ndarray | None], T],
        combine: Callable[[T, T], T] = operator.add,
    ) -> T: ...


class ChunkSource(ABC):
    """Base of the sources here (each a :class:`DataSource`): ``map_reduce`` over chunks
    read one after another."""

    @property
    @abstractmethod
    def n_rows(self) -> int:
        """Rows in the data."""

    @property
    @abstractmethod
    def n_features(self) -> int:
        """Columns of every chunk."""

    @property
    @abstractmethod
    def total_weight(self) -> float:
        """Number of rows, or the sum of the sample weights."""

    @property
    def feature_names(self) -> np.ndarray | None:
        """The columns' names (None: the chunks are arrays, whose columns have none)."""
        return None

    @abstractmethod
    def __iter__(self) -> Iterator[tuple[Any, np.ndarray | None]]:
        """The chunks ``(x, sample_weight)`` in order, from the start each time."""

    def map_reduce(
        self,
        fn: Callable[[Any, np.ndarray | None], T],
        combine: Callable[[T, T], T] = operator.add,
    ) -> T:
        """``fn`` of every chunk, added left to right with ``combine``; ValueError if the
        source yields no chunk."""
        parts = (fn(x, w) for x, w in self)
        try:
            out = next(parts)
        except StopIteration:
            raise ValueError("the data source yielded no chunk") from None
        for part in parts:
            out = combine(out, part)
        return out


class WeightedRows(ChunkSource):
    """A source of ``n_rows`` rows with optional ``sample_weight`` of shape (n_rows,)."""

    sample_weight: np.ndarray | None

    @property
    def total_weight(self) -> float:
        if self.sample_weight is None:
            return float(self.n_rows)
        return float(self.sample_weight.sum())


class SourceOf(ChunkSource):
    """A source read through another, ``source``: its rows, weights, width and names are
    those of ``source`` (a subclass changes how its chunks are read)."""

    source: DataSource

    @property
    def n_rows(self) -> int:
        return self.source.n_rows

    @property
    def n_features(self) -> int:
        return self.source.n_features

    @property
    def feature_names(self) -> np.ndarray | None:
        return self.source.feature_names

    @property
    def total_weight(self) -> float:
        return self.source.total_weight


def npy_refusal(path: Any, exc: Exception) -> str:
    """Why the ``.npy`` file ``path`` cannot be read, from NumPy's error ``exc`` (loaded with
    ``allow_pickle=False``: a file of Python objects is pickled, and unpickling runs code)."""
    text = str(exc)
    if "Python objects" in text or "Object arrays cannot be loaded" in text:
        return (
            f"{path} holds Python objects (pickled), which emkit never loads (unpickling a file "
            "can run any code): save an array of numbers with numpy.save"
        )
    # NumPy's advice for a file that is not .npy at all is to unpickle it: never.
    reason = "no .npy header" if "pickle" in text else text
    size = os.path.getsize(path)
    return (
        f"{path}: not a readable .npy file of {size} bytes (cut short, or not written by "
        f"numpy.save: {reason})"
    )


@dataclass(frozen=True)
class ArrayChunks(WeightedRows):
    """Row blocks of an in-memory (or memory-mapped) array, with optional sample weights.

    Iterating yields ``(x, w)`` pairs: ``x`` of shape (m, d) in ``dtype``, ``w`` of shape (m,)
    or None. With ``labels`` (int, shape (n,): a component index or
    :data:`~emkit.models.mixture.UNLABELLED`, -1, per row) each chunk is ``(x, labels)``, as
    the labelled assignment reads it. For a ``np.memmap``, the pages of each block are
    released from this process's resident memory once the next block is requested (they stay
    in the operating system's file cache), so a pass over a file larger than memory stays
    within a few blocks.
    """

    x: np.ndarray
    sample_weight: np.ndarray | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    dtype: Any = np.float64
    labels: np.ndarray | None = None

    def __iter__(self) -> Iterator[tuple[Any, np.ndarray | None]]:
        n = self.x.shape[0]
        for start in range(0, n, self.chunk_rows):
            stop = min(start + self.chunk_rows, n)
            w = None if self.sample_weight is None else self.sample_weight[start:stop]
            block = self.x[start:stop]
            exact_integers(block, "X", f"the chunk at row {start}", dtype=self.dtype)  # a map's
            # C order: a Fortran-ordered memory map's blocks are strided, and BLAS sums
            # their products in another order (another fit; no copy where C already)
            x = np.asarray(block, dtype=self.dtype, order="C")
            yield (x if self.labels is None else (x, self.labels[start:stop])), w
            _release(block)

    @property
    def n_rows(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.x.shape[1])


@dataclass(frozen=True)
class NpyChunks(WeightedRows):
    """Row blocks of a 2-D ``.npy`` file, read with plain file reads (no memory map).

    A Fortran-ordered file (``np.save`` of a transposed or ``order="F"`` array) stores
    columns one after the other, so its rows are read through a read-only memory map instead.

    Attributes
    ----------
    path : the file; C- or Fortran-ordered, of a float, integer or boolean dtype (booleans
        read as 0 and 1, as in memory and in Parquet).
    sample_weight : array of shape (n,) or None.
    chunk_rows : rows per block.
    dtype : dtype of the blocks yielded (float64, or float32 to keep float32 files small).
    """

    path: Path
    sample_weight: np.ndarray | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    dtype: Any = np.float64
    _header: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        try:
            mapped = np.load(self.path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise ValueError(npy_refusal(self.path, exc)) from None
        shape, dtype, offset = mapped.shape, mapped.dtype, mapped.offset
        fortran = mapped.ndim == 2 and not mapped.flags.c_contiguous
        del mapped
        if len(shape) != 2 or dtype.kind not in "fiub":
            raise ValueError(
                f"{self.path} must hold a 2-D array of real numbers (float, integer or "
                f"boolean); got shape {shape} of dtype {dtype}"
                + (
                    "; complex, date and text values are not data to fit: convert them first"
                    if dtype.kind in "cmMUSOV"
                    else ""
                )
            )
        object.__setattr__(self, "_header", (shape, dtype, offset, fortran))

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        (n, d), dtype, offset, fortran = self._header
        if fortran:
            mapped = np.load(self.path, mmap_mode="r", allow_pickle=False)
            for start in range(0, n, self.chunk_rows):
                stop = min(start + self.chunk_rows, n)
                w = None if self.sample_weight is None else self.sample_weight[start:stop]
                block = mapped[start:stop]
                exact_integers(
                    block, "X", f"rows {start} to {stop - 1} of {self.path}", dtype=self.dtype
                )
                yield np.ascontiguousarray(block, dtype=self.dtype), w
            del mapped
            return
        with open(self.path, "rb") as f:
            f.seek(offset)
            for start in range(0, n, self.chunk_rows):
                m = min(self.chunk_rows, n - start)
                block = np.fromfile(f, dtype=dtype, count=m * d).reshape(m, d)
                exact_integers(
                    block, "X", f"rows {start} to {start + m - 1} of {self.path}", dtype=self.dtype
                )
                w = None if self.sample_weight is None else self.sample_weight[start : start + m]
                yield np.asarray(block, dtype=self.dtype), w

    @property
    def n_rows(self) -> int:
        return int(self._header[0][0])

    @property
    def n_features(self) -> int:
        return int(self._header[0][1])


@dataclass(frozen=True)
class ParquetChunks(WeightedRows):
    """Record batches of a Parquet file, or of the files of a Parquet folder one after
    another (a data set as Spark and Dask write it), as float blocks.

    An index pandas stored in the file (``schema.pandas_metadata["index_columns"]``:
    ``__index_level_0__`` for a filtered frame, or the index's name) is not a feature: pandas
    reads it back as the index, and so do Dask and the ``emkit`` command.

    Attributes
    ----------
    path : the file, or a folder of Parquet files (read in the order pandas reads them).
    columns : names of the numeric columns to read (default: all but a stored index); a
        decimal column is read as float64, its digits beyond float64's 15 to 17 lost.
    sample_weight : array of shape (n,) or None.
    chunk_rows : rows per batch.
    dtype : dtype of the blocks yielded.
    """

    path: Path
    columns: tuple[str, ...] | None = None
    sample_weight: np.ndarray | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    dtype: Any = np.float64
    # (files, the columns read, rows), read from the files' footers once
    _layout: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        files = parquet_files(self.path)
        if self.columns is not None:
            columns = list(self.columns)
        else:
            columns = parquet_features(files, self.path)
        rows = sum(_parquet_file(f).metadata.num_rows for f in files)
        object.__setattr__(self, "_layout", (tuple(files), tuple(columns), int(rows)))

    @property
    def feature_names(self) -> np.ndarray:
        """The names of the columns read, in order (Parquet's are strings)."""
        return np.asarray(self._layout[1], dtype=object)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        files, columns, _ = self._layout
        start = 0
        for path in files:
            batches = _parquet_file(path).iter_batches(
                batch_size=self.chunk_rows, columns=list(columns)
            )
            for batch in batches:
                where = f"column {{!r}} of {path}, rows {start} to {start + batch.num_rows - 1}"
                block = np.column_stack(
                    [
                        np.asarray(
                            _parquet_numbers(batch.column(name), where.format(name), self.dtype),
                            dtype=self.dtype,
                        )
                        for name in columns
                    ]
                )
                m = block.shape[0]
                w = None if self.sample_weight is None else self.sample_weight[start : start + m]
                start += m
                yield block, w

    @property
    def n_rows(self) -> int:
        return self._layout[2]

    @property
    def n_features(self) -> int:
        return len(self._layout[1])


@dataclass(frozen=True)
class IterableChunks(WeightedRows):
    """A re-iterable of arrays (a list of chunks, or an object whose ``__iter__`` restarts);
    ``feature_names`` those of DataFrames with the same columns.

    The chunks are read as a table of the same values in memory is: a masked array's masked
    entries are NaN (missing), text of numbers is read as numbers, and dates, durations and
    complex numbers are refused.

    Attributes
    ----------
    source : the chunks, 2-D arrays or DataFrames.
    dtype : dtype of the blocks yielded.
    feature_names : see :class:`DataSource`.
    columns : the first chunk's column labels where it is a DataFrame (every chunk must then
        be a DataFrame with those columns, as in a list of chunks), else None (arrays).
    sample_weight : array of shape (n_rows,), one weight per row of the chunks in order, or
        None.
    """

    source: Iterable[np.ndarray]
    dtype: Any = np.float64
    feature_names: np.ndarray | None = None
    columns: list | None = None
    sample_weight: np.ndarray | None = None
    _rows: list = field(default_factory=list, repr=False, compare=False)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        rows = 0
        for i, chunk in enumerate(self.source):
            block = self._block(chunk, i)
            start, rows = rows, rows + (block.shape[0] if block.ndim else 0)
            w = self.sample_weight
            yield block, None if w is None else w[start:rows]
        if rows != self.n_rows:
            raise ValueError(
                f"the re-iterable of chunks yielded {rows} rows on this pass but {self.n_rows} "
                "on the first: every pass must yield the same rows"
            )

    def _block(self, chunk: Any, i: int) -> np.ndarray:
        """Element ``i`` of the chunks as an array of ``dtype``; ValueError where it is not a
        table of real numbers, or not a DataFrame with the first one's columns."""
        if hasattr(chunk, "columns") != (self.columns is not None):
            raise ValueError(
                f"the re-iterable of chunks yielded a {type(chunk).__name__} as element {i} "
                "where its first element is "
                + ("a DataFrame" if self.columns is not None else "not")
                + ": yield DataFrames with the same columns, or arrays"
            )
        if self.columns is not None and list(chunk.columns) != self.columns:
            raise ValueError(
                f"the re-iterable of chunks yielded a DataFrame with the columns "
                f"{list(chunk.columns)} as element {i} where the first has {self.columns}: "
                "every chunk needs the same columns in the same order"
            )
        if sparse_chunk(chunk):
            raise TypeError(sparse_refusal(i))
        # before float64 rounds them (a masked array's too: its entries as given)
        refuse_inexact_integers(
            chunk, "X", f"element {i} of the re-iterable of chunks", dtype=self.dtype
        )
        chunk = masked_as_nan(chunk)  # masked entries are missing, as in memory
        values = chunk if isinstance(chunk, np.ndarray) else np.asarray(chunk)
        what = not_real(chunk) or not_real(values)
        if what:  # dates, durations, complex numbers: as in memory
            raise ValueError(
                f"element {i} of the re-iterable of chunks holds {what}, which are not real "
                "numbers; convert them to numbers first (dates and durations in a unit of "
                "your choice, complex values to their real part or modulus), or drop those "
                "columns"
            )
        try:
            # C order, as in memory (a DataFrame's values are often Fortran-ordered)
            return np.asarray(values, dtype=self.dtype, order="C")
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"element {i} of the re-iterable of chunks holds values that are not real "
                f"numbers ({exc}); encode or convert them first"
            ) from None

    @property
    def n_rows(self) -> int:
        """Rows of the first pass (counted once, then remembered)."""
        if not self._rows:
            self._rows.append(int(sum(np.shape(chunk)[0] for chunk in self.source)))
        return self._rows[0]

    @property
    def n_features(self) -> int:
        """Columns of the first chunk; ValueError where there is none or it is not 2-D."""
        for chunk in self.source:
            if np.ndim(chunk) != 2:
                raise ValueError(
                    f"the first chunk of the re-iterable has shape {np.shape(chunk)}: every "
                    "chunk must be 2-D (rows x features), e.g. x.reshape(1, -1) for one row"
                )
            return int(np.shape(chunk)[1])
        raise ValueError("the re-iterable of chunks yielded no chunk: it has no rows to fit")


def as_chunks(
    data: Any,
    sample_weight: np.ndarray | None = None,
    dtype: Any = np.float64,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> ChunkSource | None:
    """The data source for what ``fit`` received: the one factory of sources.

    Parameters
    ----------
    data : a path (str or Path) to a ``.npy`` or Parquet file or a folder of Parquet files; a
        ``np.memmap``; a source of this module (returned as it is); or a re-iterable of 2-D
        arrays (a list of arrays or DataFrames, see :func:`chunk_list`, or an object whose
        ``__iter__`` starts over). Anything else (an ndarray, a DataFrame, a list of rows) is
        in memory: None is returned, so that the estimator validates it first and then reads
        the validated array through :func:`array_source`.
    sample_weight : array of shape (n,) or None; for chunks, one weight per row of the
        chunks in order (its length is the caller's to check).
    dtype : dtype of the blocks yielded (float64 or float32).
    chunk_rows : rows per block, for arrays, files and memory maps.

    Raises
    ------
    ValueError
        A path that does not exist or is of another kind, a one-shot iterator, a list of
        chunks of which an element is not 2-D or has other columns.
    """
    if isinstance(data, ChunkSource):
        return data
    if isinstance(data, (dict, set, bytes)) and not hasattr(data, "tocsr"):  # not sparse
        raise ValueError(
            f"X must be a 2-D array of numbers (rows x features), a path or chunks of rows; "
            f"got a {type(data).__name__}"
        )
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if path.is_dir():  # a Parquet data set, as Spark and Dask write it
            return ParquetChunks(path, None, sample_weight, chunk_rows, dtype)
        if not path.is_file():
            raise ValueError(f"no such file or folder: {path}")
        if path.suffix == ".npy":
            return NpyChunks(path, sample_weight, chunk_rows, dtype)
        if path.suffix in PARQUET_SUFFIXES:
            return ParquetChunks(path, None, sample_weight, chunk_rows, dtype)
        raise ValueError(
            f"{path}: a file to fit must be .npy or Parquet ({', '.join(PARQUET_SUFFIXES)}), "
            "or a folder of Parquet files; load other formats into an array first"
        )
    if isinstance(data, np.memmap):
        return ArrayChunks(data, sample_weight, chunk_rows, dtype)
    if isinstance(data, (list, tuple)):
        chunks = chunk_list(data)
        if chunks is None:  # a list of rows
            return None
        frames = hasattr(chunks[0], "columns")
        columns = list(chunks[0].columns) if frames else None
        return IterableChunks(chunks, dtype, _frame_columns(chunks), columns, sample_weight)
    if _is_array_like(data):
        return None
    if iter(data) is data:
        raise ValueError(
            "fit needs data it can read once per EM iteration: a one-shot iterator or generator "
            "can be read only once. Pass a list of arrays, or an object whose __iter__ starts over."
        )
    first: Any = next(iter(data), None)
    if hasattr(first, "columns"):  # DataFrames: their names, as a list of them gives
        names, columns = feature_names(first), list(first.columns)
        return IterableChunks(data, dtype, names, columns, sample_weight)
    return IterableChunks(data, dtype, sample_weight=sample_weight)


@dataclass(frozen=True, eq=False)
class MovedChunks(SourceOf):
    """The chunks of ``source`` less ``shift`` (d,), moved as each is read (a partition's
    block of rows on the worker that holds it), so that the source's own rows stay where they
    are (persisted on the workers, or on disk): a :class:`DataSource` whose rows are near the
    origin where those of ``source`` are far from it."""

    source: DataSource
    shift: np.ndarray

    def __iter__(self) -> Iterator[tuple[Any, np.ndarray | None]]:
        for x, w in self.source:
            yield x - self.shift, w

    def map_reduce(
        self,
        fn: Callable[[Any, np.ndarray | None], T],
        combine: Callable[[T, T], T] = operator.add,
    ) -> T:
        return self.source.map_reduce(partial(_moved, fn, self.shift), combine)


def _moved(fn: Callable[[Any, np.ndarray | None], T], shift: np.ndarray, x: Any, w: Any) -> T:
    """``fn`` of the rows ``x`` less ``shift`` (a module function: it travels to workers)."""
    return fn(x - shift, w)


def array_source(
    x: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    dtype: Any = np.float64,
    labels: np.ndarray | None = None,
) -> ChunkSource:
    """The source of an array the estimator has validated (``x`` of shape (n, d)), read in
    blocks; with ``labels`` (shape (n,)) each chunk carries its rows' component labels."""
    return ArrayChunks(x, sample_weight, IN_MEMORY_CHUNK_ROWS, dtype=dtype, labels=labels)


def parquet_files(path: Path) -> list[Path]:
    """The Parquet files ``path`` names: the file itself, or the files of a folder in the
    order pandas (and so the ``emkit`` command) reads them, skipping names that start with
    ``_`` or ``.`` (``_SUCCESS``, ``_metadata``, checksums) as pandas and Dask do.

    Raises
    ------
    ValueError
        A folder pyarrow cannot read as a data set, with no Parquet file, or partitioned
        into ``key=value`` folders (their keys are columns that no file holds).
    """
    if not path.is_dir():
        return [path]
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        dataset = ds.dataset(path, format="parquet", partitioning="hive")
    except (OSError, pa.ArrowException) as exc:
        raise ValueError(f"{path}: not a readable folder of Parquet files ({exc})") from None
    if not dataset.files:
        raise ValueError(
            f"{path}: a folder with no Parquet file in it (names starting with _ or . are "
            "skipped, as pandas and Dask skip them)"
        )
    files = [Path(f) for f in dataset.files]
    folders = {part for f in files for part in f.relative_to(path).parent.parts}
    keys = sorted({part.split("=", 1)[0] for part in folders if "=" in part})
    if keys:
        raise ValueError(
            f"{path} is partitioned into key=value folders ({', '.join(keys)}): those columns "
            "are in no file. Read it with pandas or Dask and pass the DataFrame, or write the "
            "rows as plain Parquet files in one folder"
        )
    return files


def parquet_features(files: list[Path], name: Path | None = None) -> list[str]:
    """The columns to fit of Parquet ``files`` (the one file, or a folder's, named ``name``):
    all but an index pandas stored, each of numbers (integer, float, boolean or decimal; a
    decimal is read as float64), the same in every file.

    Raises
    ------
    ValueError
        A file that is not Parquet, columns that do not hold numbers (text, lists, dates),
        or a file whose columns differ from the first file's (named).
    """
    import pyarrow as pa

    numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_decimal)
    features: list[str] | None = None
    for path in files:
        fields = _data_fields(path)
        bad = [f"{f.name} ({f.type})" for f in fields if not any(test(f.type) for test in numeric)]
        if bad:
            raise ValueError(
                f"{path}: columns {', '.join(bad)} do not hold numbers; select numeric columns "
                "(e.g. with pandas) and encode text or categories first"
            )
        names = [f.name for f in fields]
        if features is None:
            features = names
        elif sorted(names) != sorted(features):
            raise ValueError(
                f"{path} has the columns {names}, but {files[0]}, the first file of the folder "
                f"{name}, has {features}: every file of a Parquet folder needs the same columns"
            )
    assert features is not None  # parquet_files returns at least one file
    return features


def _parquet_numbers(column: Any, where: str, dtype: Any = np.float64) -> np.ndarray:
    """The values of a Parquet ``column`` (a pyarrow Array of numbers) as a NumPy array.

    A decimal column (``decimal32`` to ``decimal256``) is read as float64: its values to
    float64's 15 to 17 significant digits, digits beyond them lost; a null is NaN. (NumPy
    would otherwise get ``decimal.Decimal`` objects, as pandas does.) An integer column
    with values that float64 rounds is refused (:func:`exact_integers`, the error starting
    with ``where``), its nulls aside: pyarrow reads one with nulls as float64."""
    import pyarrow as pa

    if pa.types.is_integer(column.type):
        exact_integers(column.drop_null().to_numpy(), "X", where, dtype=dtype)

    if pa.types.is_decimal(column.type):
        column = column.cast(pa.float64())
    return column.to_numpy(zero_copy_only=False)


def parquet_columns(files: list[Path]) -> list[str]:
    """The columns of the first of Parquet ``files``, of any type, but an index pandas stored."""
    return [f.name for f in _data_fields(files[0])]


def _data_fields(path: Path) -> list:
    """The fields of the Parquet file ``path``, but an index pandas stored."""
    schema = _parquet_file(path).schema_arrow
    index = (schema.pandas_metadata or {}).get("index_columns", [])
    # a stored index is named by its column; a RangeIndex is metadata only (a dict)
    stored = {column for column in index if isinstance(column, str)}
    return [f for f in schema if f.name not in stored]


def _parquet_file(path: Path):
    """``pyarrow.parquet.ParquetFile`` of ``path``, read one batch at a time; ValueError where
    it is not Parquet. pyarrow's default ``pre_buffer=True`` buffers the column chunks it is
    to read, and ``iter_batches`` then held the whole file (88 MiB of Arrow memory for 61 MiB
    of data, growing with the rows); without it a pass holds about one batch."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path, pre_buffer=False)
    except (OSError, pa.ArrowException) as exc:
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from None


def chunk_list(data: Any) -> list | None:
    """The chunks of a list (or tuple) of 2-D arrays or DataFrames, each of shape (m_i, d);
    None where ``data`` is not such a list (a list of rows: numbers, or 1-D sequences).

    A list is chunks as soon as one element is 2-D (has ``ndim`` 2); then every element
    must be a 2-D table of numbers with the first's columns.

    Raises
    ------
    ValueError
        Naming the element that is not 2-D, not numbers, or of other columns than the first.
    """
    if not isinstance(data, (list, tuple)) or not any(_table(c) and np.ndim(c) == 2 for c in data):
        return None
    width = next(np.shape(c)[1] for c in data if _table(c) and np.ndim(c) == 2)
    for i, chunk in enumerate(data):
        if not _table(chunk) or np.ndim(chunk) != 2:
            shape = f"of shape {np.shape(chunk)}" if _table(chunk) else "not an array"
            raise ValueError(
                f"X is a list of chunks (2-D arrays or DataFrames of rows), but element {i} is "
                f"{shape} ({type(chunk).__name__}): pass each chunk as a 2-D array, e.g. "
                "X[i:i + 1] or x.reshape(1, -1) for a single row, or pass one 2-D array"
            )
        if np.shape(chunk)[1] != width:
            raise ValueError(
                f"X is a list of chunks, but element {i} has {np.shape(chunk)[1]} columns "
                f"where the first has {width}: every chunk needs the same columns"
            )
        if sparse_chunk(chunk):
            raise TypeError(sparse_refusal(i))
        # read as in memory: text of numbers is numbers; dates, durations, complex are not
        what = not_real(chunk)
        if what:
            raise ValueError(
                f"X is a list of chunks, but element {i} holds {what}, which are not real "
                "numbers; convert them to numbers first (dates and durations in a unit of "
                "your choice, complex values to their real part or modulus), or drop those "
                "columns"
            )
    _frame_columns(list(data))  # the same column names in every DataFrame
    return list(data)


def sparse_refusal(i: int) -> str:
    """The refusal of a sparse chunk, element ``i`` of the chunks: in memory's words."""
    return (
        f"Sparse data was passed for X (element {i} of the chunks), but dense data is "
        "required. Use '.toarray()' to convert each chunk to a dense numpy array."
    )


def sparse_chunk(chunk: Any) -> bool:
    """Whether ``chunk`` is a SciPy sparse matrix or array."""
    from scipy import sparse

    return sparse.issparse(chunk)


def not_real(chunk: Any) -> str | None:
    """What the columns of ``chunk`` (an array or a DataFrame) hold where some hold values
    that are not real numbers as a fit in memory reads them: "dates (datetime64[ns])",
    "durations (...)", "complex numbers (complex128)"; else None. Text, categories and
    other objects are read as numbers where they are numbers (NumPy's conversion), as in
    memory."""
    # a DataFrame's dtypes (pandas' own have a kind too), an array's dtype
    dtypes = getattr(chunk, "dtypes", [getattr(chunk, "dtype", None)])
    found = set()
    for t in dtypes:
        if t is None:
            continue
        kind = time_kind_of(t) or ("complex numbers" if getattr(t, "kind", None) == "c" else None)
        if kind:
            found.add(f"{kind} ({t})")
    return ", ".join(sorted(found)) or None


def join_chunks(chunks: list) -> Any:
    """The rows of :func:`chunk_list`'s ``chunks`` as one table, in order: a DataFrame where
    they are DataFrames (so that their column names are checked), else an array (n, d)."""
    if all(hasattr(c, "columns") for c in chunks):
        import pandas as pd

        return pd.concat(chunks, ignore_index=True)
    # masked entries are missing (NaN), as in a masked array in memory: np.concatenate would
    # read the values under the mask
    return np.concatenate([np.asarray(masked_as_nan(c)) for c in chunks])


def masked_as_nan(x):
    """A NumPy masked array of numbers as floats with NaN under its mask: masked entries are
    missing values (NumPy's conversion reads the values stored under the mask, such as a
    -999 sentinel). Estimators with ``missing="em"`` then fit around them and the others
    refuse them as they refuse NaN; so are the masked chunks of data read chunk by chunk.
    Anything else as it is (masked dates or text are refused as unmasked ones are)."""
    if not isinstance(x, np.ma.MaskedArray) or x.dtype.kind not in "biuf":
        return x
    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
    return x.astype(dtype).filled(np.nan)


def _table(chunk: Any) -> bool:
    """Whether ``chunk`` is an array or a DataFrame (has ``ndim`` and ``shape``), not a
    plain sequence (a row of numbers, or a list of rows)."""
    return hasattr(chunk, "ndim") and hasattr(chunk, "shape")


def _frame_columns(chunks: list) -> np.ndarray | None:
    """The :func:`feature_names` of ``chunks`` where every one is a DataFrame with the same
    columns; None where they are arrays.

    Raises
    ------
    ValueError
        DataFrames mixed with arrays, or a DataFrame whose columns differ from the first's.
    TypeError
        Column names that mix strings with other types, as scikit-learn refuses them.
    """
    frames = [hasattr(c, "columns") for c in chunks]
    if not any(frames):
        return None
    if not all(frames):
        i = frames.index(False) if frames[0] else frames.index(True)
        raise ValueError(
            f"X is a list of chunks, but element {i} is a {type(chunks[i]).__name__} where "
            f"element 0 is a {type(chunks[0]).__name__}: pass DataFrames with the same columns, "
            "or arrays"
        )
    names = list(chunks[0].columns)
    for i, chunk in enumerate(chunks):
        if list(chunk.columns) != names:
            raise ValueError(
                f"X is a list of DataFrames, but element {i} has the columns "
                f"{list(chunk.columns)} where the first has {names}: every chunk needs the "
                "same columns in the same order"
            )
    return feature_names(chunks[0])


def feature_names(table: Any) -> np.ndarray | None:
    """The feature names of ``table`` as scikit-learn reads them (``_get_feature_names``): a
    DataFrame's column names where they are all strings (an array of str, dtype object), else
    None (an array, or columns named by numbers). A Dask DataFrame's are those of the same
    DataFrame in memory (of the empty pandas DataFrame Dask keeps for it).

    Raises
    ------
    TypeError
        Column names that mix strings with other types, as scikit-learn refuses them.
    ValueError
        Column names that repeat: no column could be found by its name.
    """
    from sklearn.utils.validation import _get_feature_names

    dd = sys.modules.get("dask.dataframe")
    if dd is not None and isinstance(table, dd.DataFrame):
        table = table._meta
    columns: Any = getattr(table, "columns", None)
    if getattr(columns, "has_duplicates", False):  # a pandas Index (a Dask DataFrame's)
        repeated = sorted(set(columns[columns.duplicated()]), key=str)
        raise ValueError(
            f"X has more than one column named {', '.join(map(repr, repeated))}; columns "
            "are matched by name (fit to predict): give each column its own name (e.g. "
            "X.columns = [...]), or drop the repeats (X.loc[:, ~X.columns.duplicated()])"
        )
    return _get_feature_names(table)


def _is_array_like(data: Any) -> bool:
    from scipy import sparse

    if sparse.issparse(data) or hasattr(data, "__array__") or hasattr(data, "__array_interface__"):
        return True
    return not hasattr(data, "__iter__")


def _release(block: np.ndarray) -> None:
    """Drop the resident pages of a memory-mapped block (they remain in the file cache)."""
    mapping = getattr(block, "_mmap", None)
    if mapping is None or not hasattr(mapping, "madvise") or block.size == 0:
        return
    try:
        base = np.frombuffer(mapping, dtype=np.uint8).ctypes.data
    except (TypeError, ValueError):
        return
    begin = block.ctypes.data - base
    end = begin + block.nbytes
    page = mmap.PAGESIZE
    begin = (begin // page) * page
    try:
        mapping.madvise(mmap.MADV_DONTNEED, begin, end - begin)
    except (OSError, ValueError):
        pass
