r"""The k-means pass between whole passes: rows whose nearest centre cannot have changed are
skipped.

A whole pass over the rows laid out for a fit (:class:`~emkit.backend.nearest_pass.ShiftedRows`)
can keep, for each row, its label and a lower bound on the gap between its distances to its
second-nearest and nearest centres (:class:`RowBounds`). When the centres then move by
:math:`\delta_j`, a row's distance to centre j moves by at most :math:`\delta_j` (the triangle
inequality), so its gap shrinks by at most the two largest :math:`\delta_j`; a row whose gap
stays above the rounding margin keeps its label (Hamerly's bound, Hamerly 2010, "Making k-means
even faster", with one number per row). A bounded pass (:func:`bounded_partial`) computes the
distances of the other rows only and moves the clusters' sums by the rows that changed
cluster.

The distances of the rows it computes come from products of the whole pass's shapes (blocks of
its rows, the last padded), and a row's column of such a product depends only on the shape
(OpenBLAS), whatever rows share it: for one start the labels are the whole pass's but for the
data's last, shorter block, which may differ from it within rounding. The sums differ from a
whole pass's in the last bits (moved, not added anew), and are renewed by a whole pass every
``BOUNDS_REFRESH`` passes. Which rows are computed, and so the result, does not depend on the
threads: the sample that chooses between a bounded and a whole pass is fixed rows, and the
moved rows' sums are one product in row order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Bounded passes at most between two whole passes, which renew the sums (moved row by row
# since, each move rounding once) and the bounds.
BOUNDS_REFRESH = 16
# A bounded pass computes distances for at most this share of the rows, else a whole pass
# runs. At (1e6, 10, 10) on one thread of the EPYC VM a bounded pass took 8 ms at a share of
# 0.04, 12-13 at 0.08-0.15 (gathering the rows' features), 24 at 0.39, 35 at 0.61 and 55 at
# 0.95; a whole pass 25, and 36 where it keeps every row's bounds.
BOUNDED_SHARE = 0.6
# A whole pass keeps every row's bounds where at most this share of the rows fell under
# their bounds this pass (the next pass is then likely to be bounded), else only the sample's.
RECORD_SHARE = 0.8
# The rows whose index is a multiple of this are the sample whose bounds estimate the share a
# pass would compute.
SHARE_SAMPLE_STEP = 16
# Added to each row's least distance to find its second least with one more minimum.
FAR_AWAY = 1e300


def by_block(part: np.ndarray, blocks: int) -> np.ndarray:
    """The columns of ``part`` (k, blocks m) as ``blocks`` blocks (blocks, k, m), a view."""
    k, size = part.shape
    return part.reshape(k, blocks, size // blocks).transpose(1, 0, 2)


def first_only(one: np.ndarray) -> None:
    """Keep in each column of the 0/1 array ``one`` (k, m) only its first 1."""
    many = np.flatnonzero(one.sum(axis=0) > 1)
    first = one[:, many].argmax(axis=0)
    one[:, many] = 0
    one[first, many] = 1


def rounding_scale(d: int, norm_most: float, const_most: float) -> float:
    r"""The square root of the bound on a distance's rounding, :math:`(d + 2) 2^{-51}
    (\max \lVert x - s\rVert^2 + \max \lVert c - s\rVert^2)` (the expansion's error, with a
    factor 4 to spare), for rows of ``d`` features: a distance's square root errs by at most
    this much, and two squared distances further apart than its square are ordered alike in
    their computed values."""
    return float(np.sqrt((d + 2) * 2.0**-51 * (norm_most + const_most)))


@dataclass
class RowBounds:
    """One start's rows between k-means passes: for the centres ``coef`` (minus the shift),
    each row's label and a lower bound on its gap, and the clusters' sums at those labels.

    Attributes
    ----------
    coef : array of shape (k, d), the centres the labels and gaps are for, minus the shift.
    labels : int32 array of shape (n,).
    gaps : array of shape (n,), at most the row's distance to its second-nearest centre
        minus that to its nearest, to the rounding of ``error`` (a tie: -inf).
    totals : array of shape (k, d + 1), the clusters' (weighted) shifted sums and weights.
    counts : int array of shape (k,), the clusters' rows of positive weight, exactly (a
        cluster without any has weight and sums exactly 0, as a whole pass gives them).
    complete : bool, the bounds hold for every row; else only the sample's gaps do (every
        ``SHARE_SAMPLE_STEP``-th row's), which estimate how many rows a bounded pass would
        compute.
    norm_total : float, the rows' (weighted) squared norms' sum.
    error : float, the largest :func:`rounding_scale` of the passes since the whole one.
    passes : int, bounded passes since the whole one.
    """

    coef: np.ndarray
    labels: np.ndarray
    gaps: np.ndarray
    totals: np.ndarray
    counts: np.ndarray
    complete: bool = False
    norm_total: float = 0.0
    error: float = 0.0
    passes: int = 0

    @classmethod
    def empty(cls, n: int, k: int, d: int) -> RowBounds:
        """Bounds of ``n`` rows against ``k`` centres of ``d`` features, to be filled by a
        whole pass."""
        return cls(
            np.zeros((k, d)),
            np.empty(n, dtype=np.int32),
            np.empty(n),
            np.zeros((k, d + 1)),
            np.zeros(k, dtype=np.int64),
        )

    @property
    def nbytes(self) -> int:
        return int(self.labels.nbytes + self.gaps.nbytes)

    def drift(self, coef: np.ndarray) -> float:
        """The most any row's gap can shrink as the centres move from ``coef`` (k, d) of the
        bounds to ``coef``: the sum of the two largest moves (rounded up)."""
        moves = np.sqrt(np.einsum("kd,kd->k", coef - self.coef, coef - self.coef))
        top = np.sort(moves)[::-1][:2]
        return float(top.sum()) * (1.0 + 2.0**-40)

    def renewed(
        self,
        coef: np.ndarray,
        totals: np.ndarray,
        weights: np.ndarray | None,
        norm_total: float,
        error: float,
    ) -> None:
        """After a whole pass that wrote the labels and gaps for ``coef`` (k, d), with its
        sums ``totals`` (k, d + 1), over rows of ``weights`` (n,; None: all 1)."""
        self.coef = np.array(coef, dtype=np.float64)
        self.norm_total, self.error, self.passes = norm_total, error, 0
        if self.complete:
            held = self.labels if weights is None else self.labels[weights > 0]
            self.totals = np.array(totals, dtype=np.float64)
            self.counts = np.bincount(held, minlength=coef.shape[0]).astype(np.int64)

    def share(self, drift: float, margin: float) -> float:
        """The share of the sample's rows whose gap falls under ``margin`` after shrinking
        by ``drift``."""
        sample = self.gaps[::SHARE_SAMPLE_STEP]
        return np.count_nonzero(sample < drift + margin) / max(sample.shape[0], 1)

    def moved(
        self,
        coef: np.ndarray,
        changes: tuple[np.ndarray, np.ndarray, np.ndarray],
        features: np.ndarray,
        weights: np.ndarray | None,
        error: float,
    ) -> None:
        """After a bounded pass for ``coef`` (k, d): move the sums by the rows that changed
        cluster, ``changes`` (their indices in order, old and new labels), of the laid-out
        ``features`` (d + 1, n) and ``weights`` (n,; None: all 1), in one product."""
        rows, old, new = changes
        k = coef.shape[0]
        if rows.shape[0]:
            w = np.ones(rows.shape[0]) if weights is None else weights[rows]
            change = np.zeros((k, rows.shape[0]))
            at = np.arange(rows.shape[0])
            change[new, at] = w
            change[old, at] -= w
            self.totals += change @ features[:, rows].T
            held = w > 0
            self.counts += np.bincount(new[held], minlength=k)
            self.counts -= np.bincount(old[held], minlength=k)
            self.totals[self.counts == 0] = 0.0
        self.coef = np.array(coef, dtype=np.float64)
        self.error = max(self.error, error)
        self.passes += 1


def record_rows(
    bounds: RowBounds,
    g: np.ndarray,
    low: np.ndarray,
    norms: np.ndarray,
    first_row: int,
    hot: np.ndarray,
    scratch: np.ndarray,
    second: np.ndarray,
) -> np.ndarray | None:
    """In a whole pass, write into ``bounds`` the labels and gaps of its rows ``first_row``
    on, from their distances minus norms ``g`` (k, m), least ``low`` (m,) and norms
    ``norms`` (m,): every row's where ``bounds.complete`` (and return their one-hot nearest
    centre, first nearest only, in ``hot``), else the sample's gaps (and return None).
    ``hot``, ``scratch`` (k, m at least) and ``second`` (m at least) are overwritten."""
    k, m = g.shape
    step = 1 if bounds.complete else SHARE_SAMPLE_STEP
    first = (-first_row) % step
    sub, near, norm = g[:, first::step], low[first::step], norms[first::step]
    size = near.shape[0]
    one = np.equal(sub, near, out=hot[:k, :size])
    ranks = np.vstack([np.arange(k, dtype=np.float64), np.ones(k)])
    counts = ranks @ one
    ties = counts[1] > 1
    if ties.any():
        first_only(one)
        np.matmul(ranks, one, out=counts)
    rows = slice(first_row + first, first_row + m, step)
    if bounds.complete:
        bounds.labels[rows] = counts[0]
    record_gaps(sub, near, norm, one, ties, bounds.gaps[rows], scratch[:k, :size], second[:size])
    return one if bounds.complete else None


def record_gaps(
    g: np.ndarray,
    low: np.ndarray,
    norms: np.ndarray,
    hot: np.ndarray,
    ties: np.ndarray,
    gaps: np.ndarray,
    scratch: np.ndarray,
    second: np.ndarray,
) -> None:
    """From the distances minus norms ``g`` (k, m) of m rows, their least ``low`` (m,),
    norms ``norms`` (m,), one-hot nearest centre ``hot`` (k, m) and ``ties`` (bool, m: more
    than one nearest): write each row's ``gaps`` (m,), the difference of the square roots of
    its second least and least distances (-inf at a tie). ``scratch`` (k, m) and ``second``
    (m,) are overwritten; ``g`` is left as it is."""
    np.multiply(hot, FAR_AWAY, out=scratch)
    scratch += g
    np.minimum.reduce(scratch, axis=0, out=second)
    second += norms
    np.maximum(second, 0.0, out=second)
    np.sqrt(second, out=second)
    near = np.add(low, norms, out=gaps)
    np.maximum(near, 0.0, out=near)
    np.sqrt(near, out=near)
    np.subtract(second, near, out=gaps)
    if ties.any():
        gaps[ties] = -np.inf


def bounded_partial(
    features: np.ndarray,
    norms: np.ndarray,
    coef: np.ndarray,
    bounds: RowBounds,
    start: int,
    stop: int,
    drift: float,
    margin: float,
    block: int,
    batch: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bounded pass over rows ``start:stop`` of the laid-out ``features`` (d + 1, n) and
    ``norms`` (n,) for the centres ``coef`` ([-2 (c - s), |c - s|^2], (k, d + 1)): shrink
    each row's gap by ``drift``; the rows whose gap falls under ``margin`` get their
    distances, in products of ``block`` rows (``batch`` per NumPy call), and new labels and
    gaps. Returns the rows that changed cluster (indices, in order), their old and new
    labels."""
    k, d = coef.shape[0], coef.shape[1] - 1
    gaps = bounds.gaps[start:stop]
    gaps -= drift
    rows = np.flatnonzero(gaps < margin)
    rows += start
    size = batch * block
    taken = np.zeros((d + 1, size))  # a batch of rows; the last batch's tail stays zero
    g = np.empty((k, size))
    hot = np.empty((k, size))
    scratch = np.empty((k, size))
    low = np.empty(size)
    second = np.empty(size)
    fresh = np.empty(size)  # the computed rows' new gaps
    index = np.vstack([np.arange(k, dtype=np.float64), np.ones(k)])
    found = np.empty((2, size))
    moved, old, new = [], [], []
    for first in range(0, rows.shape[0], size):
        chunk = rows[first : first + size]
        m = chunk.shape[0]
        blocks = -(-m // block)
        width = blocks * block
        np.take(features, chunk, axis=1, out=taken[:, :m])
        if m < width:
            taken[:, m:width] = 0.0
        stacked = taken[:, :width].reshape(d + 1, blocks, block).transpose(1, 0, 2)
        np.matmul(coef, stacked, out=by_block(g[:, :width], blocks))
        near = np.minimum.reduce(g[:, :m], axis=0, out=low[:m])
        one = np.equal(g[:, :m], near, out=hot[:, :m])
        got = np.matmul(index, one, out=found[:, :m])
        ties = got[1] > 1
        if ties.any():
            first_only(one)
            np.matmul(index, one, out=got)
        label = got[0].astype(np.int32)
        record_gaps(g[:, :m], near, norms[chunk], one, ties, fresh[:m], scratch[:, :m], second[:m])
        bounds.gaps[chunk] = fresh[:m]
        before = bounds.labels[chunk]
        changed = np.flatnonzero(label != before)
        if changed.shape[0]:
            moved.append(chunk[changed])
            old.append(before[changed])
            new.append(label[changed])
            bounds.labels[chunk[changed]] = label[changed]
    if not moved:
        none = np.empty(0, dtype=np.intp)
        return none, none.astype(np.int32), none.astype(np.int32)
    return np.concatenate(moved), np.concatenate(old), np.concatenate(new)
