r"""Fused, chunked nearest-centre kernels: the assignment step of k-means.

For rows :math:`x` and centres :math:`c_k`, with a shift :math:`s` near the data,

.. math:: \lVert x - c_k\rVert^2 = \lVert x - s\rVert^2 + \lVert c_k - s\rVert^2
          - 2 (x - s)^\top (c_k - s),

so for a block of rows every distance is one matrix product of the shifted rows with the
shifted centres; the nearest centre is the minimum of the last two terms, and the row's own
term is added once per row. The statistics of the M-step (weight and sum of the rows of each
cluster) are the product of the one-hot assignment with the same shifted rows, and the
inertia is the sum of the minima: all in one pass over the block, no (n, k, d) array formed.

Shifting by a point near the data (the data's mean, else the centres') keeps the expansion's
terms of the order of the distances themselves (as scikit-learn's centring of the data does):
the products lose about machine epsilon times :math:`\lVert x - s\rVert \lVert c_k - s\rVert`.

On the host the rows can be laid out once per fit, shifted and feature-major with their
squared norms (:class:`~emkit.backend.nearest_pass.ShiftedRows`, the one chunk of a
:class:`ShiftedSource`), so that an iteration only multiplies, compares and adds.

The pass over the rows is the array backend's ``nearest_sums`` / ``nearest_labels``
(NumPy: blocked and threaded, :mod:`emkit.backend.nearest_pass`; PyTorch: on the tensors'
device); the forms and the statistics are NumPy float64 on the host.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from emkit.backend import nearest_pass, numpy_backend
from emkit.backend.namespace import namespace_of
from emkit.backend.nearest_pass import ShiftedRows, laid_out_moments, rescaled, shifted_rows
from emkit.backend.sources import WeightedRows


@dataclass(frozen=True)
class NearestForm:
    """Squared distances to K centres as ``|x - shift|^2 + const - 2 (x - shift) @ coef.T``.

    Attributes
    ----------
    centres : array of shape (k, d).
    shift : array of shape (d,), the point s the rows and centres are taken from.
    coef : array of shape (k, d), the centres minus the shift.
    const : array of shape (k,), the squared norms of ``coef``.
    trail : None, or the name of the bounds the pass that led to these centres left
        (:func:`~emkit.backend.nearest_pass.nearest_sums`), for a bounded pass from them.
    """

    centres: np.ndarray
    shift: np.ndarray
    coef: np.ndarray
    const: np.ndarray
    trail: int | None = None

    @property
    def n_components(self) -> int:
        return self.const.shape[0]


@dataclass(frozen=True)
class NearestSums:
    """What one pass gives for one set of centres.

    Attributes
    ----------
    weight : array of shape (k,), the (weighted) number of rows nearest each centre.
    sums : array of shape (k, d), the (weighted) sum of those rows minus the shift.
    inertia : float, the weighted sum of each row's squared distance to its nearest centre.
    far_dist : array of shape (k,), the largest squared distances to the nearest centre among
        rows of positive weight, in decreasing order (ties: the earlier row first), -1 where
        fewer rows; all -1 where the pass ran over all the rows of a fit
        (:func:`shifted_source`) and left no cluster empty, the M-step's one use of them.
    far_rows : array of shape (k, d), those rows.
    far_weight : array of shape (k,), their sample weights (1 without; 0 where no row).
    labels : None, or int array of shape (n,): the nearest centre of each row (where the pass
        was asked for them), as :func:`nearest_labels` gives it.
    nearest : None, or array of shape (n,): the squared distance of each row to it, as
        :func:`nearest_labels` gives it.
    trail : None, or the name of the bounds the pass left for the next pass from the
        centres these statistics lead to (rows laid out for a whole fit, on the host).
    moved : None, or the rows whose label differs from the last pass of the same start
        (known where that start's bounds kept its labels: a pass from the near rows, or a
        whole pass that records them).
    """

    weight: np.ndarray
    sums: np.ndarray
    inertia: float
    far_dist: np.ndarray
    far_rows: np.ndarray
    far_weight: np.ndarray
    labels: np.ndarray | None = None
    nearest: np.ndarray | None = None
    trail: int | None = None
    moved: int | None = None


def nearest_form(centres: np.ndarray, shift: np.ndarray, trail: int | None = None) -> NearestForm:
    """The form of ``centres`` (k, d) taken from ``shift`` (d,), reached from the bounds
    named ``trail`` (see :class:`NearestForm`)."""
    centres = np.asarray(centres, dtype=np.float64)
    shift = np.asarray(shift, dtype=np.float64)
    coef = centres - shift
    return NearestForm(centres, shift, coef, np.einsum("kd,kd->k", coef, coef), trail)


def nearest_e_step(
    x: np.ndarray,
    forms: list[NearestForm],
    sample_weight: np.ndarray | None = None,
    labelled: list[bool] | None = None,
) -> list[NearestSums]:
    """Statistics of a chunk ``x`` (n, d) under several sets of centres sharing one shift.

    The shifted rows and their norms are computed once per block and serve every form
    (k-means' ``n_init`` starts in lockstep). Where ``labelled[j]``, form j's result also
    holds each row's label and distance (NumPy): on the host from the same pass, elsewhere
    from the backend's ``nearest_labels``.
    """
    xp = namespace_of(x)
    if not (labelled and any(labelled)):
        return [NearestSums(*out) for out in xp.nearest_sums(x, sample_weight, forms)]
    if xp is numpy_backend:
        return [
            NearestSums(*out)
            for out in nearest_pass.nearest_sums(x, sample_weight, forms, labelled)
        ]
    out = []
    for form, got, wanted in zip(
        forms, xp.nearest_sums(x, sample_weight, forms), labelled, strict=True
    ):
        labels = nearest = None
        if wanted:
            labels, nearest = (xp.to_numpy(a) for a in xp.nearest_labels(x, form))
        out.append(replace(NearestSums(*got), labels=labels, nearest=nearest))
    return out


def nearest_labels(
    x: Any, form: NearestForm, distances: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Index of the nearest centre of each row of ``x`` (n, d; or a
    :class:`~emkit.backend.nearest_pass.ShiftedRows` laid out from ``form``'s shift), int
    array of shape (n,) in ``x``'s namespace, and the squared distance to it, float64 array
    of shape (n,), accurate to rounding (by differences of the shifted rows and centres where
    the expansion above could lose more than 2^-43 of it); None where ``distances`` is False
    (the labels alone: a pass that takes no norms and corrects no distance)."""
    return namespace_of(x).nearest_labels(x, form, distances)


def rows_shift(x: Any) -> np.ndarray | None:
    """The shift the rows of chunk ``x`` were laid out from (ShiftedRows), else None."""
    return x.shift if isinstance(x, ShiftedRows) else None


@dataclass(frozen=True)
class ShiftedSource(WeightedRows):
    """The rows of an array laid out once for the nearest-centre pass: a
    :class:`~emkit.backend.sources.DataSource` of one chunk, a
    :class:`~emkit.backend.nearest_pass.ShiftedRows`, with optional sample weights (n,)."""

    rows: ShiftedRows
    sample_weight: np.ndarray | None = None

    def __iter__(self) -> Iterator[tuple[Any, np.ndarray | None]]:
        yield self.rows, self.sample_weight

    @property
    def n_rows(self) -> int:
        return int(self.rows.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.rows.shape[1])


def shifted_source(
    x: np.ndarray, shift: np.ndarray, sample_weight: np.ndarray | None = None, scale: float = 1.0
) -> ShiftedSource:
    """The source of rows ``x / scale`` (n, d, NumPy) laid out from ``shift`` (d,) (a point
    near the data), with their weights (n,): all the rows of a fit, so that the pass looks for
    the farthest rows only where a cluster empties."""
    return ShiftedSource(shifted_rows(x, shift, scale, complete=True), sample_weight)


def fit_source(
    x: np.ndarray, sample_weight: np.ndarray | None = None
) -> tuple[ShiftedSource, np.ndarray, float]:
    """The source of all the rows of ``x`` (n, d, NumPy) laid out from a point near the data
    (the mean of its first rows), with their weights (n,); the columns' means (d,) and mean
    (unweighted) variance, from the same pass over ``x``. :func:`rescale_source` then gives
    the rows ``x / scale``."""
    rows, mean, spread = laid_out_moments(x)
    return ShiftedSource(rows, sample_weight), mean, spread


def rescale_source(source: ShiftedSource, scale: float) -> ShiftedSource:
    """``source``'s rows divided by ``scale``, a power of two: exact, in place."""
    return ShiftedSource(rescaled(source.rows, scale), source.sample_weight)
