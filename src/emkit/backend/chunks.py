"""Data sources the EM loop reads: an array, or any re-iterable of chunks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

DEFAULT_CHUNK_ROWS = 65_536


@dataclass(frozen=True)
class ArrayChunks:
    """Row blocks of an in-memory (or memory-mapped) array, with optional sample weights.

    Iterating yields ``(x, w)`` pairs: ``x`` of shape (m, d), ``w`` of shape (m,) or None.
    """

    x: np.ndarray
    sample_weight: np.ndarray | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        n = self.x.shape[0]
        for start in range(0, n, self.chunk_rows):
            stop = min(start + self.chunk_rows, n)
            w = None if self.sample_weight is None else self.sample_weight[start:stop]
            yield np.asarray(self.x[start:stop], dtype=np.float64), w

    @property
    def total_weight(self) -> float:
        if self.sample_weight is None:
            return float(self.x.shape[0])
        return float(self.sample_weight.sum())


@dataclass(frozen=True)
class IterableChunks:
    """A re-iterable of arrays (a list of chunks, or an object whose ``__iter__`` restarts)."""

    source: Iterable[np.ndarray]

    def __iter__(self) -> Iterator[tuple[np.ndarray, None]]:
        for chunk in self.source:
            yield np.asarray(chunk, dtype=np.float64), None

    @property
    def total_weight(self) -> float:
        return float(sum(np.shape(chunk)[0] for chunk in self.source))
