"""Data sources the EM loop reads: an array, a file on disk, or any re-iterable of chunks.

Every source iterates as ``(x, sample_weight)`` pairs, ``x`` of shape (m, d) and the weights
of shape (m,) or None, and can be iterated again for the next EM iteration. Sources read from
disk hold one chunk in memory at a time, so a fit's memory does not grow with the file.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_CHUNK_ROWS = 65_536
PARQUET_SUFFIXES = (".parquet", ".pq")


class WeightedRows:
    """``total_weight`` of a source with ``n_rows`` and optional ``sample_weight``."""

    @property
    def total_weight(self) -> float:
        if self.sample_weight is None:
            return float(self.n_rows)
        return float(self.sample_weight.sum())


@dataclass(frozen=True)
class ArrayChunks(WeightedRows):
    """Row blocks of an in-memory (or memory-mapped) array, with optional sample weights.

    Iterating yields ``(x, w)`` pairs: ``x`` of shape (m, d) in ``dtype``, ``w`` of shape (m,)
    or None. For a ``np.memmap``, the pages of each block are released from this process's
    resident memory once the next block is requested (they stay in the operating system's
    file cache), so a pass over a file larger than memory stays within a few blocks.
    """

    x: np.ndarray
    sample_weight: np.ndarray | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    dtype: Any = np.float64

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        n = self.x.shape[0]
        for start in range(0, n, self.chunk_rows):
            stop = min(start + self.chunk_rows, n)
            w = None if self.sample_weight is None else self.sample_weight[start:stop]
            block = self.x[start:stop]
            yield np.asarray(block, dtype=self.dtype), w
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

    Attributes
    ----------
    path : the file; C-ordered, of a float or integer dtype.
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
        mapped = np.load(self.path, mmap_mode="r")
        shape, dtype, offset = mapped.shape, mapped.dtype, mapped.offset
        fortran = mapped.ndim == 2 and not mapped.flags.c_contiguous
        del mapped
        if len(shape) != 2 or fortran or dtype.hasobject:
            raise ValueError(
                f"{self.path} must hold a C-ordered 2-D numeric array; got shape {shape}"
                f"{' in Fortran order' if fortran else ''} of dtype {dtype}"
            )
        object.__setattr__(self, "_header", (shape, dtype, offset))

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        (n, d), dtype, offset = self._header
        with open(self.path, "rb") as f:
            f.seek(offset)
            for start in range(0, n, self.chunk_rows):
                m = min(self.chunk_rows, n - start)
                block = np.fromfile(f, dtype=dtype, count=m * d).reshape(m, d)
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
    """Record batches of a Parquet file (pyarrow ``iter_batches``) as float blocks.

    Attributes
    ----------
    path : the file.
    columns : names of the numeric columns to read (default: all).
    sample_weight : array of shape (n,) or None.
    chunk_rows : rows per batch.
    dtype : dtype of the blocks yielded.
    """

    path: Path
    columns: tuple[str, ...] | None = None
    sample_weight: np.ndarray | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    dtype: Any = np.float64

    def _file(self):
        import pyarrow.parquet as pq

        return pq.ParquetFile(self.path)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        start = 0
        columns = list(self.columns) if self.columns is not None else None
        for batch in self._file().iter_batches(batch_size=self.chunk_rows, columns=columns):
            block = np.column_stack(
                [np.asarray(col.to_numpy(zero_copy_only=False), dtype=self.dtype) for col in batch]
            )
            m = block.shape[0]
            w = None if self.sample_weight is None else self.sample_weight[start : start + m]
            start += m
            yield block, w

    @property
    def n_rows(self) -> int:
        return int(self._file().metadata.num_rows)

    @property
    def n_features(self) -> int:
        if self.columns is not None:
            return len(self.columns)
        return len(self._file().schema_arrow.names)


@dataclass(frozen=True)
class IterableChunks:
    """A re-iterable of arrays (a list of chunks, or an object whose ``__iter__`` restarts)."""

    source: Iterable[np.ndarray]
    dtype: Any = np.float64

    def __iter__(self) -> Iterator[tuple[np.ndarray, None]]:
        for chunk in self.source:
            yield np.asarray(chunk, dtype=self.dtype), None

    @property
    def total_weight(self) -> float:
        return float(self.n_rows)

    @property
    def n_rows(self) -> int:
        return int(sum(np.shape(chunk)[0] for chunk in self.source))

    @property
    def n_features(self) -> int:
        for chunk in self.source:
            return int(np.shape(chunk)[1]) if np.ndim(chunk) == 2 else -1
        return -1


@dataclass(frozen=True)
class CheckedChunks:
    """A source whose every chunk is checked once per pass: 2-D, ``n_features`` wide, finite.

    Attributes
    ----------
    source : the chunk source checked.
    n_features : columns every chunk must have.
    allow_nan : NaN marks a missing value (inf stays an error). A row with no observed value
        is then an error, or, with ``drop_empty_rows``, left out with its weight (it carries
        no information); ``total_weight`` and ``n_rows`` still count it.
    drop_empty_rows : see ``allow_nan``.
    nan_hint : where NaN is an error, what the message suggests instead.
    """

    source: Any
    n_features: int
    allow_nan: bool = False
    drop_empty_rows: bool = False
    nan_hint: str = "drop or impute them before fitting"

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        row = 0
        for x, w in self.source:
            if x.ndim != 2 or x.shape[1] != self.n_features:
                raise ValueError(
                    f"the chunk at row {row} has shape {x.shape}; every chunk must be 2-D with "
                    f"{self.n_features} columns (features)"
                )
            start, row = row, row + x.shape[0]
            if np.isfinite(x).all():
                yield x, w
                continue
            if np.isinf(x).any():
                raise ValueError(
                    f"the chunk at row {start} contains infinite values; drop or replace them "
                    "before fitting"
                )
            if not self.allow_nan:
                raise ValueError(
                    f"the chunk at row {start} contains {nan_report(x)}; {self.nan_hint}"
                )
            empty = np.isnan(x).all(axis=1)  # (m,)
            if empty.any() and not self.drop_empty_rows:
                raise ValueError(
                    f"{int(empty.sum())} rows of the chunk at row {start} have no observed value "
                    f"(every entry is NaN; the first is row {start + int(np.argmax(empty))}). "
                    "They carry no information; drop them first."
                )
            if empty.any():
                x, w = x[~empty], None if w is None else w[~empty]
            if x.shape[0]:
                yield x, w

    @property
    def total_weight(self) -> float:
        return self.source.total_weight

    @property
    def n_rows(self) -> int:
        return self.source.n_rows


def nan_report(x: np.ndarray) -> str:
    """Where the NaN of ``x`` (n, d) are: "NaN in 3 of 100 rows (columns [0, 2])"."""
    nan = np.isnan(x)
    columns = np.flatnonzero(nan.any(axis=0)).tolist()
    shown = str(columns) if len(columns) <= 10 else f"{columns[:10]}"[:-1] + ", ...]"
    return f"NaN in {int(nan.any(axis=1).sum())} of {x.shape[0]} rows (columns {shown})"


def as_chunks(
    data: Any,
    sample_weight: np.ndarray | None = None,
    dtype: Any = np.float64,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
):
    """The chunk source for what ``fit`` received, or None for an in-memory array-like.

    Parameters
    ----------
    data : a path (str or Path) to a ``.npy`` or Parquet file; a ``np.memmap``; a chunk source
        of this module; or a re-iterable of 2-D arrays (a list of arrays, or an object whose
        ``__iter__`` starts over). Anything else (an ndarray, a DataFrame, a list of rows) is
        in memory, and None is returned.
    sample_weight : array of shape (n,) or None (not for re-iterables of arrays).
    dtype : dtype of the blocks yielded (float64 or float32).
    chunk_rows : rows per block, for files and memory maps.

    Raises
    ------
    ValueError
        A path that does not exist or is of another kind, a one-shot iterator, or weights
        given with a re-iterable of arrays.
    """
    if isinstance(data, (ArrayChunks, NpyChunks, ParquetChunks, IterableChunks, CheckedChunks)):
        return data
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if not path.is_file():
            raise ValueError(f"no such file: {path}")
        if path.suffix == ".npy":
            return NpyChunks(path, sample_weight, chunk_rows, dtype)
        if path.suffix in PARQUET_SUFFIXES:
            return ParquetChunks(path, None, sample_weight, chunk_rows, dtype)
        raise ValueError(
            f"{path}: a file to fit must be .npy or Parquet ({', '.join(PARQUET_SUFFIXES)}); "
            "load other formats into an array first"
        )
    if isinstance(data, np.memmap):
        return ArrayChunks(data, sample_weight, chunk_rows, dtype)
    if _is_array_like(data):
        return None
    if iter(data) is data:
        raise ValueError(
            "fit needs data it can read once per EM iteration: a one-shot iterator or generator "
            "can be read only once. Pass a list of arrays, or an object whose __iter__ starts over."
        )
    if sample_weight is not None:
        raise ValueError("sample_weight is not supported with a re-iterable of chunks")
    return IterableChunks(data, dtype)


def _is_array_like(data: Any) -> bool:
    from scipy import sparse

    if sparse.issparse(data) or hasattr(data, "__array__") or hasattr(data, "__array_interface__"):
        return True
    if isinstance(data, (list, tuple)):
        # A list of 2-D arrays is chunks; a list of rows (numbers or 1-D sequences) is data.
        chunks = len(data) > 0 and all(isinstance(c, np.ndarray) and c.ndim == 2 for c in data)
        return not chunks
    return not hasattr(data, "__iter__")


def sample_indices(n_rows: int, size: int, rng: np.random.RandomState) -> np.ndarray:
    """A uniform random subset of ``size`` of ``range(n_rows)``, sorted, in O(size) memory.

    Draws with replacement and tops up the duplicates; the procedure treats every index alike,
    so every subset of ``size`` is equally likely (``rng.choice(..., replace=False)`` would
    permute all ``n_rows``).
    """
    keep = np.unique(rng.randint(0, n_rows, size=size))
    while keep.size < size:
        extra = rng.randint(0, n_rows, size=size - keep.size)
        keep = np.unique(np.concatenate([keep, extra]))
    return keep


def sample_rows(
    source: Any, n_rows: int, size: int, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray | None]:
    """A uniform random subset of ``size`` rows (in file order) and their weights, in one pass."""
    keep = sample_indices(n_rows, size, rng)
    rows, weights, start = [], [], 0
    for x, w in source:
        stop = start + x.shape[0]
        lo, hi = np.searchsorted(keep, [start, stop])
        rows.append(np.array(x[keep[lo:hi] - start], dtype=np.float64))
        if w is not None:
            weights.append(np.asarray(w[keep[lo:hi] - start], dtype=np.float64))
        start = stop
    x = np.concatenate(rows) if rows else np.empty((0, 0))
    return x, (np.concatenate(weights) if weights else None)


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
