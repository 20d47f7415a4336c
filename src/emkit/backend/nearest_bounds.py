r"""The k-means pass between whole passes: only the rows near a cluster's boundary.

A whole pass over the rows laid out for a fit (:class:`~emkit.backend.nearest_pass.ShiftedRows`)
can record, for each row, its label and the gap between its distances to its second-nearest and
nearest centres. When the centres then move by :math:`\delta_j`, a row's distance to centre j
moves by at most :math:`\delta_j` (the triangle inequality), so its gap shrinks by at most the
two largest :math:`\delta_j` (Hamerly's bound, Hamerly 2010, "Making k-means even faster"):
a row whose gap was at least the *reach* keeps its label until the centres have moved that far
from where the gaps were taken. The rows under the reach, the *near* rows, are copied out
once (:class:`RowBounds`), and the passes that follow (:func:`near_partial`) compute the
distances of those rows only, from their compact copy, moving the clusters' sums by the rows
that changed cluster. A whole pass runs again once the centres have moved past the reach, and
every ``BOUNDS_REFRESH`` passes (renewing the sums, moved since row by row).

The near rows' distances come from products in blocks of the whole pass's rows, but not in the
same places nor always of the same shapes (the whole pass's blocks hold every start's centres
in lockstep, and its last is shorter): a row within rounding of a tie between two centres
may go to the other of them than in a whole pass, both being nearest to rounding. Which rows
are near, and so the result, does not depend on the threads: the near rows are cut into
blocks from their first, whatever the threads' parts, and the moved rows' sums are one
product in row order.

The bounds are state kept between passes (in the fit's laid-out rows), an exception to the
passes' otherwise being functions of the rows and the centres: a pass finds them only by the
name its centres carry, and any pass may run whole instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emkit.backend.threads import scratch

# Passes from the near rows at most between two whole passes, which renew the sums (moved row
# by row since, each move rounding once).
BOUNDS_REFRESH = 16
# The reach of the near rows, in steps of the centres' last move (the sum of its two largest
# moves): each is tried, and the near rows kept where the sample says a cycle of a recording
# whole pass (RECORD_COST whole passes) and as many passes from the near rows as the reach
# has steps costs least per pass, and at most NEAR_GAIN_MOST of a whole pass. A pass from a
# share s of the rows costs about s whole passes (at (1e6, 10, 10) on the EPYC VM's two
# threads: 5.4 ms at s = 0.44 against 12.3; a recording pass 22-25).
REACH_STEPS = (2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)
RECORD_COST = 2.0
NEAR_GAIN_MOST = 0.9
# The near rows are copied out only where the sample says they are at most this share of the
# rows.
NEAR_SHARE_MOST = 0.6
# The sample that estimates the near rows' share: windows of rows spread evenly over the data.
SAMPLE_WINDOWS, SAMPLE_WINDOW_ROWS = 8, 1024
# Added to each row's least distance to find its second least with one more minimum.
FAR_AWAY = 1e300
# Rows moved into or out of a cluster since the record, in |w| (1 + |x - s|_1), at most this
# many times the cluster's W + |S|_1 now: each move rounds the sums once, and a heavy row
# leaving light ones would leave its rounding on theirs (a row of weight 1e9 out of 500 of
# weight 1: the sums to 3e-8 rather than 1e-16). Past it, a whole pass.
CHURN_MOST = 2.0**12


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
    (\max \lVert x - s\rVert^2 + \max \lVert c - s\rVert^2)` (the expansion's error, about
    :math:`(2d + 3) u N + (3d + 4) u C` with :math:`u = 2^{-53}`, with room to spare), for
    rows of ``d`` features: a distance's square root errs by at most
    this much, and two squared distances further apart than its square are ordered alike in
    their computed values."""
    return float(np.sqrt((d + 2) * 2.0**-51 * (norm_most + const_most)))


def two_largest_moves(a: np.ndarray, b: np.ndarray) -> float:
    """The most any row's gap can shrink as centres move from ``a`` to ``b`` (k, d): the sum
    of the two largest moves (one, for one centre), rounded up."""
    moves = np.sqrt(np.einsum("kd,kd->k", b - a, b - a))
    return float(np.sort(moves)[::-1][:2].sum()) * (1.0 + 2.0**-40)


def ranks_of(k: int) -> np.ndarray:
    """[index; 1] of k centres (2, k): against a one-hot assignment (k, m), each row's label
    and its count of nearest centres (above 1 on a tie), exactly, in one product."""
    return np.vstack([np.arange(k, dtype=np.float64), np.ones(k)])


@dataclass
class RowBounds:
    """One start's rows between k-means passes: every row's label, the clusters' sums at
    those labels, and the near rows (see the module) with their compact copy.

    Attributes
    ----------
    coef : array of shape (k, d), the centres of the start's last pass, minus the shift.
    labels : None, or int32 array of shape (n,): every row's label (None before the first
        whole pass that records them).
    gaps : None, or array of shape (n,): during a recording whole pass, each row's gap.
    totals : array of shape (k, d + 1), the clusters' (weighted) shifted sums and weights.
    counts : int array of shape (k,), the clusters' rows of positive weight, exactly (a
        cluster without any has weight and sums exactly 0, as a whole pass gives them).
    built : None, or array of shape (k, d): the centres the gaps were taken at.
    reach : float, every row not near had a gap of at least this at ``built``.
    near : int array of shape (m,), the near rows, in order.
    near_features, near_norms, near_labels : their features (d + 1, m), squared norms (m,)
        and labels (m,), a compact copy.
    norm_total : float, the rows' (weighted) squared norms' sum.
    error : float, :func:`rounding_scale` at ``built``.
    passes : int, passes from the near rows since the whole one.
    weights : None, or array of shape (n,): the rows' weights the sums were taken with.
    churn : array of shape (k,): the rows moved into or out of each cluster since the
        record, in |w| (1 + |x - s|_1) (see ``CHURN_MOST``).
    current : bool, ``labels`` are those of the start's last pass (a recording whole pass
        or a pass from the near rows since).
    last_moved : int, the rows that changed cluster in the last pass from the near rows.
    """

    coef: np.ndarray
    labels: np.ndarray | None = None
    gaps: np.ndarray | None = None
    totals: np.ndarray | None = None
    counts: np.ndarray | None = None
    built: np.ndarray | None = None
    reach: float = 0.0
    near: np.ndarray | None = None
    near_features: np.ndarray | None = None
    near_norms: np.ndarray | None = None
    near_labels: np.ndarray | None = None
    norm_total: float = 0.0
    error: float = 0.0
    passes: int = 0
    weights: np.ndarray | None = None
    churn: np.ndarray | None = None
    current: bool = False
    last_moved: int = 0

    @property
    def nbytes(self) -> int:
        held = [self.labels, self.gaps, self.near, self.near_features, self.near_norms]
        held.append(self.near_labels)
        return int(sum(a.nbytes for a in held if a is not None))

    def holds(self, coef: np.ndarray, margin: float) -> bool:
        """Whether the near rows alone can change cluster for the centres ``coef`` (k, d)
        (``margin``: the distances' rounding, see :func:`rounding_scale`)."""
        if self.built is None or self.passes >= BOUNDS_REFRESH:
            return False
        return two_largest_moves(self.built, coef) + margin < self.reach

    def start_recording(self, n: int, error: float) -> None:
        """Before a whole pass over ``n`` rows that records every row's label and gap (with
        the distances' :func:`rounding_scale` ``error``)."""
        if self.labels is None or self.labels.shape[0] != n:
            self.labels = np.empty(n, dtype=np.int32)
            self.current = False
        self.gaps = np.empty(n)
        self.error = error

    def forget(self, coef: np.ndarray) -> None:
        """After a whole pass that recorded nothing, for the centres ``coef`` (k, d): keep
        only them (the labels and near rows no longer hold)."""
        self.coef = np.array(coef, dtype=np.float64)
        self.labels = self.gaps = self.built = None
        self.current = False
        self.near = self.near_features = self.near_norms = self.near_labels = None

    def recorded(
        self,
        coef: np.ndarray,
        totals: np.ndarray,
        weights: np.ndarray | None,
        norm_total: float,
    ) -> None:
        """After a whole pass that wrote every row's labels and gaps for ``coef`` (k, d),
        with its sums ``totals`` (k, d + 1), over rows of ``weights`` (n,; None: all 1)."""
        assert self.labels is not None
        held = self.labels if weights is None else self.labels[weights > 0]
        self.coef = np.array(coef, dtype=np.float64)
        self.totals = np.array(totals, dtype=np.float64)
        self.counts = np.bincount(held, minlength=coef.shape[0]).astype(np.int64)
        self.norm_total, self.passes = norm_total, 0
        self.churn = np.zeros(coef.shape[0])
        self.current = True

    def keep_near(self, features: np.ndarray, norms: np.ndarray, reach: float, room: int) -> None:
        """Copy out the rows (of the laid-out ``features`` (d + 1, n) and ``norms`` (n,))
        whose gap is under ``reach``, and drop the gaps; where they would take more than
        ``room`` bytes, keep only the centres (:meth:`forget`)."""
        assert self.gaps is not None and self.labels is not None
        self.near = np.flatnonzero(self.gaps < reach)
        if self.near.shape[0] * (8 * features.shape[0] + 20) > room:
            self.forget(self.coef)
            return
        self.near_features = np.take(features, self.near, axis=1)
        self.near_norms = norms[self.near]
        self.near_labels = self.labels[self.near]
        self.built, self.reach, self.gaps = self.coef, reach, None

    def moved(
        self,
        coef: np.ndarray,
        changes: tuple[np.ndarray, np.ndarray, np.ndarray],
        weights: np.ndarray | None,
    ) -> None:
        """After a pass from the near rows for ``coef`` (k, d): move the sums by the rows
        that changed cluster, ``changes`` (their places among the near rows in order, old and
        new labels), in one product, and relabel them."""
        assert self.totals is not None and self.counts is not None
        assert self.near is not None and self.near_features is not None
        assert self.near_labels is not None and self.labels is not None
        assert self.churn is not None
        at, old, new = changes
        k = coef.shape[0]
        self.last_moved = int(at.shape[0])
        if at.shape[0]:
            rows = self.near[at]
            w = np.ones(at.shape[0]) if weights is None else weights[rows]
            change = np.zeros((k, at.shape[0]))
            place = np.arange(at.shape[0])
            change[new, place] = w
            change[old, place] -= w
            taken = self.near_features[:, at]
            self.totals += change @ taken.T
            size = np.abs(w) * np.abs(taken).sum(axis=0)  # the ones row adds |w|
            self.churn += np.bincount(old, size, k) + np.bincount(new, size, k)
            held = w > 0
            self.counts += np.bincount(new[held], minlength=k)
            self.counts -= np.bincount(old[held], minlength=k)
            self.totals[self.counts == 0] = 0.0
            self.near_labels[at] = new
            self.labels[rows] = new
        self.coef = np.array(coef, dtype=np.float64)
        self.passes += 1

    def tangled(self) -> bool:
        """Whether the rows moved since the record weigh too much against some cluster's
        own now (``CHURN_MOST``; an emptied cluster's sums are exactly 0): its sums then
        want a whole pass."""
        assert self.churn is not None and self.totals is not None and self.counts is not None
        d = self.totals.shape[1] - 1
        own = np.abs(self.totals[:, d]) + np.abs(self.totals[:, :d]).sum(axis=1)
        return bool(np.any((self.churn > CHURN_MOST * own) & (self.counts > 0)))


def record_rows(
    bounds: RowBounds,
    g: np.ndarray,
    low: np.ndarray,
    norms: np.ndarray,
    first_row: int,
    hot: np.ndarray,
    scratch: np.ndarray,
    second: np.ndarray,
) -> np.ndarray:
    """In a whole pass, write into ``bounds`` the labels and gaps of its m rows
    ``first_row`` on, from their distances minus norms ``g`` (k, m), least ``low`` (m,)
    and norms ``norms`` (m,); return their one-hot nearest centre (first nearest only), in
    ``hot``. ``hot``, ``scratch`` (k, m at least) and ``second`` (m at least) are
    overwritten; ``g`` is left as it is."""
    assert bounds.labels is not None and bounds.gaps is not None
    k, m = g.shape
    one = np.equal(g, low, out=hot[:k, :m])
    ranks = ranks_of(k)
    counts = ranks @ one
    ties = counts[1] > 1
    if ties.any():
        first_only(one)
        np.matmul(ranks, one, out=counts)
    rows = slice(first_row, first_row + m)
    bounds.labels[rows] = counts[0]
    record_gaps(g, low, norms, one, ties, bounds.gaps[rows], scratch[:k, :m], second[:m])
    return one


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
    first = np.add(low, norms, out=gaps)
    np.maximum(first, 0.0, out=first)
    np.sqrt(first, out=first)
    np.subtract(second, first, out=gaps)
    if ties.any():
        gaps[ties] = -np.inf


def best_reach(gaps: np.ndarray, step: float, margin: float) -> tuple[float, float]:
    """The reach (of ``REACH_STEPS`` steps of ``step``, plus ``margin``) whose cycle the
    sample's ``gaps`` say costs least per pass, and that cost in whole passes (inf where
    none keeps at most ``NEAR_SHARE_MOST`` of the rows)."""
    best = (0.0, np.inf)
    for steps in REACH_STEPS:
        if steps > BOUNDS_REFRESH:
            break
        reach = steps * step + margin
        share = float(np.mean(gaps < reach)) if gaps.shape[0] else 1.0
        cost = (RECORD_COST + steps * share) / (steps + 1)  # the recording pass's too
        if share <= NEAR_SHARE_MOST and cost < best[1]:
            best = (reach, cost)
    return best


def sample_gaps(features: np.ndarray, norms: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """The gaps of the sample's rows (``SAMPLE_WINDOWS`` windows of rows spread evenly; every
    row of fewer) of the laid-out ``features`` (d + 1, n) and ``norms`` (n,) for the centres
    ``coef`` ([-2 (c - s), |c - s|^2], (k, d + 1))."""
    n = features.shape[1]
    k = coef.shape[0]
    size = SAMPLE_WINDOWS * SAMPLE_WINDOW_ROWS
    if n <= size:
        windows = [slice(0, n)]
    else:
        starts = np.linspace(0, n - SAMPLE_WINDOW_ROWS, SAMPLE_WINDOWS).astype(np.intp)
        windows = [slice(int(a), int(a) + SAMPLE_WINDOW_ROWS) for a in starts]
    out = []
    for rows in windows:
        g = coef @ features[:, rows]
        low = g.min(axis=0)
        one = np.equal(g, low).astype(np.float64)
        ties = (ranks_of(k) @ one)[1] > 1
        if ties.any():
            first_only(one)
        m = low.shape[0]
        gaps = np.empty(m)
        record_gaps(g, low, norms[rows], one, ties, gaps, np.empty((k, m)), np.empty(m))
        out.append(gaps)
    return np.concatenate(out)


def near_partial(
    bounds: RowBounds, coef: np.ndarray, start: int, stop: int, block: int, batch: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The near rows ``start:stop`` (places among ``bounds.near``) for the centres ``coef``
    ([-2 (c - s), |c - s|^2], (k, d + 1)): their nearest centres from products of ``block``
    rows (``batch`` per NumPy call). Returns the places of the rows that changed cluster (in
    order), their old and new labels."""
    assert bounds.near_features is not None and bounds.near_labels is not None
    features = bounds.near_features
    k, d = coef.shape[0], coef.shape[1] - 1
    size = batch * block
    tail = scratch("tail", (d + 1, block))  # the last, shorter block, padded
    g = scratch("joint", (k, size))
    low = scratch("best", (size,))
    ranks = ranks_of(k)
    found = scratch("found", (2, size))
    moved, old, new = [], [], []
    for first in range(start, stop, size):
        last = min(first + size, stop)
        m = last - first
        blocks, rest = divmod(m, block)
        parts = []  # (features (blocks, d + 1, block), its columns of g)
        if blocks:
            whole = features[:, first : first + blocks * block]
            stacked = whole.reshape(d + 1, blocks, block).transpose(1, 0, 2)
            parts.append((stacked, g[:, : blocks * block], blocks))
        if rest:
            tail[:, :rest] = features[:, first + blocks * block : last]
            tail[:, rest:] = 0.0
            parts.append((tail[None], g[:, blocks * block : (blocks + 1) * block], 1))
        for stacked, out, count in parts:
            np.matmul(coef, stacked, out=by_block(out, count))
        least = np.minimum.reduce(g[:, :m], axis=0, out=low[:m])
        one = np.equal(g[:, :m], least, out=g[:, :m])
        got = np.matmul(ranks, one, out=found[:, :m])
        if np.any(got[1] > 1):
            first_only(one)
            np.matmul(ranks, one, out=got)
        label = got[0].astype(np.int32)
        before = bounds.near_labels[first:last]
        changed = np.flatnonzero(label != before)
        if changed.shape[0]:
            moved.append(changed + first)
            old.append(before[changed])
            new.append(label[changed])
    if not moved:
        none = np.empty(0, dtype=np.intp)
        return none, none.astype(np.int32), none.astype(np.int32)
    return np.concatenate(moved), np.concatenate(old), np.concatenate(new)
