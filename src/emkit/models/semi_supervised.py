"""Labelled rows for semi-supervised fits.

The model is :class:`~emkit.models.missing.MissingMixture` with the
:class:`~emkit.models.mixture.Labelled` assignment: labelled rows keep one-hot
responsibilities, unlabelled rows get their posteriors, and rows may lack values (NaN).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from emkit.backend.chunks import DEFAULT_CHUNK_ROWS


@dataclass(frozen=True)
class LabelledChunks:
    """Row blocks of features and component labels, with optional sample weights.

    Iterating yields ``((x, labels), w)``: ``x`` of shape (m, d), ``labels`` int of shape (m,)
    holding a component index or :data:`~emkit.models.mixture.UNLABELLED` (-1), and ``w`` of
    shape (m,) or None.
    """

    x: np.ndarray
    labels: np.ndarray
    sample_weight: np.ndarray | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS

    def __iter__(self) -> Iterator[tuple[tuple[np.ndarray, np.ndarray], np.ndarray | None]]:
        n = self.x.shape[0]
        for start in range(0, n, self.chunk_rows):
            stop = min(start + self.chunk_rows, n)
            w = None if self.sample_weight is None else self.sample_weight[start:stop]
            x = np.asarray(self.x[start:stop], dtype=np.float64)
            yield (x, self.labels[start:stop]), w

    @property
    def total_weight(self) -> float:
        if self.sample_weight is None:
            return float(self.x.shape[0])
        return float(self.sample_weight.sum())
