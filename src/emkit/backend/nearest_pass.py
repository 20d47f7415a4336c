"""The k-means pass on the CPU: the nearest centre of every row, the clusters' sums and the
rows farthest from their centres (:func:`nearest_sums`, :func:`nearest_labels`; see
:mod:`emkit.backend.nearest` for the forms they take and the namespace that calls them).

A fit lays its rows out once (:class:`ShiftedRows`: shifted, feature-major, with their squared
norms); each pass takes the distances of a block to every centre as one matrix product, the
nearest centre and the one-hot sums from it, in blocks that fit in cache, several blocks per
NumPy call, split over threads as :mod:`emkit.backend.threads` says and added up in fixed
groups, so that the results do not depend on the threads or scheduling.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cached_property, reduce
from typing import Any

import numpy as np

from emkit.backend.nearest_bounds import (
    NEAR_GAIN_MOST,
    RowBounds,
    best_reach,
    by_block,
    first_only,
    near_partial,
    ranks_of,
    record_rows,
    rounding_scale,
    sample_gaps,
    two_largest_moves,
)
from emkit.backend.threads import (
    MIN_ROWS_PER_THREAD,
    TimedThreads,
    l2_cache_bytes,
    num_threads,
    over_threads,
    row_groups,
    scratch,
)

# Parts per kernel thread of the rows' layout (over_threads' parts_per_thread).
NEAREST_PARTS_PER_THREAD = 4
# Parts per kernel thread of the k-means pass and labelling: parts of whole groups (blocks)
# that the threads, the calling one among them, take as they come free (over_threads'
# part_rows). Handed out by the pool (4 parts per thread), the calling thread slept on each
# part's result and woke to take the GIL from the kernel threads: at (1e6, 10, 10) a pass
# took 13.5-18 ms on two threads (CPU 21-28 ms) against 12.0-12.8 (CPU 21-24) pulled in 2 or
# 4 parts, 21 on one thread, on the 2-vCPU AMD EPYC VM shared with other work. 2 per thread
# keeps the threads within a quarter of the pass of each other where one is slowed.
NEAREST_PULLED_PARTS = 2
# Bytes per block of the rows' layout (shifted_rows), and its rows per block at least and most.
NEAREST_BLOCK_BYTES = 1 << 20
MIN_LAYOUT_ROWS, MAX_LAYOUT_ROWS = 256, 8192
# Share of a core's L2 cache one block of the k-means pass fills (nearest_block_rows): the
# rest holds the statistics, the centres and the rows streaming in.
NEAREST_CACHE_SHARE = 0.5
MIN_NEAREST_ROWS = 256
# OpenBLAS (0.3.x) runs products of at most 100^3 multiply-adds on its small-matrix kernels,
# which run the pass's short, wide products about twice as fast as its blocked path does:
# (10, m) @ (m, 11) took 13 ns per row up to m = 9000 and 25 from m = 9500.
SMALL_PRODUCT = 100**3
# Rows per chunk whose maximum bounds the search for the farthest rows (top_rows).
TOP_CHUNK = 1024
# Bytes of distances and nearest distances per batch of blocks of the k-means pass
# (_nearest_partial) and labelling (_labels_partial), whose NumPy calls each take a batch
# whole: with a call per block, two threads waited on each other for the GIL between the
# many short calls (about 700 hand-offs per pass of 1e6 x 10 rows, 10 centres: 31-39 ms on
# two threads against 23 on one, on an idle 2-vCPU AMD EPYC VM); with 2 MiB batches (7
# blocks there) 14-18 ms on two, 23-24 on one. 1 MiB batches gained little on two threads;
# 4 MiB ran slower on one.
NEAREST_BATCH_BYTES = 2 << 20
# Centres at most that starts in lockstep share a pass for: the pass's blocks are cut so that
# every centre's distances stay in cache, so more centres make shorter blocks, each start's
# calls on them shorter and more. 10 starts of 10 centres on 1e6 x 10 rows: 236 ms sharing
# one pass, 124 in groups of two (20 centres), 179 in groups of five; 10 starts of 3 on 2e5 x
# 10 rows: 17.8 in one, 16.9-17.6 in groups of 6-15 centres (EPYC VM, two threads).
LOCKSTEP_CENTRES = 24
# The thread counts of the k-means passes, chosen by timing them: a second thread gains
# little where the pass's calls are short (few rows or features) or another process holds
# the second core.
NEAREST_THREADS = TimedThreads()
# Rows below which a pass keeps no bounds between passes (every pass a whole one): there the
# bounds' own bookkeeping (sampling the gaps, choosing a reach, recording near rows) costs
# more than the distances it saves.
NEAR_MIN_ROWS = 16384
# Rows below which bounds are kept only where each row's distances take at least
# NEAR_FEW_ROWS_PRODUCTS multiply-adds (k (d + 1), what a near pass saves on a row that is
# not near): on fewer, cheaper rows the gaps' sample each pass (8192 rows, a twelfth of 1e5),
# the recording pass (1.8 whole passes at (1e5, 10, 10), 6 at (1e5, 2, 5), one thread) and the
# near passes' share (half the rows and more while the centres still move) cost more than
# they saved: (1e5, 10, 10), 20 iterations from one start, took 97 ms with bounds and 61
# without, (1e5, 2, 5) 41 and 28; (1e5, 20, 10) 55 and 54; (1e5, 10, 25) 155 and 139 (to
# tol=1e-4: 228 and 306); (1e5, 30, 20) 129 and 191; (1e5, 50, 20) 122 and 287 (the EPYC VM,
# one thread). From (5e5, 10, 10) on they pay (227 ms against 299).
NEAR_FEW_ROWS = 1 << 18
NEAR_FEW_ROWS_PRODUCTS = 200
# Names for the bounds a pass leaves (ShiftedRows.bounds): the next pass of the same start
# finds its bounds by the name its centres carry (NearestForm.trail).
_TRAILS = itertools.count(1)


@dataclass(frozen=True)
class ShiftedRows:
    """Rows laid out once per fit for the nearest-centre pass (k-means): shifted,
    feature-major, with their squared norms, so that no pass shifts, transposes or squares
    them again.

    Attributes
    ----------
    features : array of shape (d + 1, n), the rows minus ``shift``, one feature per row,
        then a row of ones.
    norms : array of shape (n,), :math:`\\lVert x - s\\rVert^2` of each row.
    shift : array of shape (d,).
    complete : bool, every row of the data (the rows of one fit, not a chunk of them): the
        pass then finds the rows farthest from their centres only for a set of centres that
        leaves a cluster empty (the M-step's one use of them), and keeps each start's
        :class:`~emkit.backend.nearest_bounds.RowBounds` for its next pass.
    bounds : dict, the bounds the last pass of each running start left, by name
        (:func:`nearest_sums`); at most as many bytes as ``features`` holds.
    """

    features: np.ndarray
    norms: np.ndarray
    shift: np.ndarray
    complete: bool = False
    bounds: dict[int, RowBounds] = field(default_factory=dict, compare=False, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """(n, d), as the rows'."""
        return self.features.shape[1], self.features.shape[0] - 1

    @cached_property
    def norm_total(self) -> float:
        """The sum of ``norms``: the same for every pass over these rows."""
        return float(self.norms.sum())

    @cached_property
    def norm_most(self) -> float:
        """The largest of ``norms`` (0 without rows)."""
        return float(self.norms.max()) if self.norms.shape[0] else 0.0

    def __getitem__(self, rows: slice) -> ShiftedRows:
        """The rows ``rows`` (a slice)."""
        return ShiftedRows(self.features[:, rows], self.norms[rows], self.shift)  # a chunk

    def take(self, index: np.ndarray) -> np.ndarray:
        """The rows at ``index`` (m,) as an array (m, d) (to rounding of the shift)."""
        return self.features[:-1, index].T + self.shift


def shifted_rows(
    x: np.ndarray,
    shift: np.ndarray,
    scale: float = 1.0,
    order: np.ndarray | None = None,
    complete: bool = False,
) -> ShiftedRows:
    """:class:`ShiftedRows` of ``x / scale`` (n, d) taken from ``shift`` (d,); of the rows
    ``x[order]`` where ``order`` (n,) is given; ``complete``: they are all the data's rows
    (see :class:`ShiftedRows`)."""
    return _laid_out(x, shift, scale, order, complete)[0]


def laid_out_moments(x: np.ndarray, block: int = 8192) -> tuple[ShiftedRows, np.ndarray, float]:
    """All the rows of ``x`` (n, d, n > 0) laid out (``complete``) from the mean of its first
    ``block`` rows, with the columns' means (d,) and their mean (unweighted, population)
    variance from the same pass: the sums of the shifted rows and of their norms."""
    n, d = x.shape
    shift = x[:block].mean(axis=0)
    rows, column_sums = _laid_out(x, shift, 1.0, None, True)
    first = column_sums / n  # the mean minus the shift
    spread = float(rows.norms.sum()) / n - float(first @ first)
    return rows, shift + first, max(spread, 0.0) / max(d, 1)


def rescaled(rows: ShiftedRows, scale: float) -> ShiftedRows:
    """``rows`` (laid out from x) as the layout of ``x / scale``, ``scale`` a power of two:
    exactly, in place (the returned rows share and change ``rows``' arrays)."""
    if scale == 1.0:
        return rows
    d = rows.shape[1]
    rows.features[:d] *= 1.0 / scale
    np.multiply(rows.norms, 1.0 / scale**2, out=rows.norms)
    return ShiftedRows(rows.features, rows.norms, rows.shift / scale, rows.complete)


def _laid_out(
    x: np.ndarray,
    shift: np.ndarray,
    scale: float,
    order: np.ndarray | None,
    complete: bool,
) -> tuple[ShiftedRows, np.ndarray]:
    """:func:`shifted_rows`, and the sums of the shifted rows' columns (d,)."""
    n, d = x.shape
    features = np.empty((d + 1, n))
    norms = np.empty(n)
    block = int(min(MAX_LAYOUT_ROWS, max(MIN_LAYOUT_ROWS, NEAREST_BLOCK_BYTES // (16 * d + 8))))

    def fill(rows: np.ndarray, _: object, start: int) -> list[np.ndarray]:
        sums = []  # each block's, added in row order whatever the parts
        for at in range(0, rows.shape[0], block):
            part = slice(start + at, start + min(at + block, rows.shape[0]))
            out = features[:d, part]
            got = rows[at : at + block] if order is None else x.take(rows[at : at + block], 0)
            if scale == 1.0:
                np.subtract(got.T, shift[:, None], out=out)
            else:
                np.divide(got.T, scale, out=out)
                out -= shift[:, None]
            features[d, part] = 1.0
            np.einsum("ij,ij->j", out, out, out=norms[part])
            sums.append(np.add.reduce(out, axis=1))
        return sums

    parts = over_threads(
        x if order is None else order, None, fill, NEAREST_PARTS_PER_THREAD, align=block
    )
    rows = ShiftedRows(features, norms, np.asarray(shift, dtype=np.float64), complete)
    return rows, reduce(np.add, [sums for part in parts for sums in part], np.zeros(d))


def nearest_sums(
    x: Any, weights: np.ndarray | None, forms: list, labelled: list[bool] | None = None
) -> list[tuple]:
    """Per form (:class:`~emkit.backend.nearest.NearestForm`, all with one shift) the fields
    of :class:`~emkit.backend.nearest.NearestSums` for rows ``x`` (n, d; an array or
    :class:`ShiftedRows`), in float64.

    On :class:`ShiftedRows` that are ``complete`` the farthest rows are found (by a second
    pass) only for forms that leave a cluster empty; the others' ``far_dist`` are all -1.
    There each form's pass also leaves its start's bounds for the next
    (:mod:`~emkit.backend.nearest_bounds`, in ``x.bounds``, its tuple ending with their name;
    else None), and a form whose ``trail`` names bounds whose near rows alone can change
    cluster runs a pass over those rows only. Where ``labelled[j]``, form j's tuple has the
    labels (n,) and the distances to them (n,) that :func:`nearest_labels` gives, from the
    same (whole) pass; else two Nones.
    """
    lazy = isinstance(x, ShiftedRows) and x.complete
    if not lazy:
        return [(*got, None, None) for got in _nearest_pass(x, weights, forms, True, labelled)]
    wanted = labelled or [False] * len(forms)
    plans = _bounds_plans(x, weights, forms, wanted)
    out: list[Any] = [None] * len(forms)
    # The rows that changed label since the start's last pass, where its labels are known
    # (the M-step then keeps the centres where none did: scikit-learn's strict convergence,
    # whatever the rounding of sums taken anew or moved row by row).
    moved: list[int | None] = [None] * len(forms)
    before: list[np.ndarray | None] = [None] * len(forms)
    for j, plan in enumerate(plans):
        if plan is not None and plan.kind == "near":
            out[j] = _near_pass(x, weights, forms[j], plan.bounds)
            moved[j] = plan.bounds.last_moved
            if plan.bounds.tangled():  # sums moved too far from their record: a whole pass
                plan.kind = "whole"
        elif plan is not None and plan.kind == "record" and plan.bounds.current:
            before[j] = np.array(plan.bounds.labels)
    whole = [j for j, plan in enumerate(plans) if plan is None or plan.kind != "near"]
    if whole:
        passed = _nearest_pass(
            x,
            weights,
            [forms[j] for j in whole],
            False,
            [wanted[j] for j in whole],
            [_recorded(plans[j]) for j in whole],
        )
        for j, sums in zip(whole, passed, strict=True):
            out[j] = sums
    for j, plan in enumerate(plans):
        if plan is None or plan.kind == "near":
            continue
        if (previous := before[j]) is not None:
            moved[j] = int(np.count_nonzero(previous != plan.bounds.labels))
        if plan.kind == "record":
            plan.bounds.keep_near(x.features, x.norms, plan.reach, plan.room)
        else:
            plan.bounds.forget(forms[j].coef)
    empty = [j for j, got in enumerate(out) if not np.all(got[0] > 0)]
    if empty:
        again = _nearest_pass(x, weights, [forms[j] for j in empty], far=True)
        for j, got in zip(empty, again, strict=True):
            out[j] = (*got[:6], *out[j][6:])  # the first pass's labels
    named = []
    for got, plan, changed in zip(out, plans, moved, strict=True):
        trail = None
        if plan is not None:
            trail = next(_TRAILS)
            x.bounds[trail] = plan.bounds
        named.append((*got, trail, changed))
    return named


@dataclass
class _Plan:
    """What one form's pass does with its start's bounds (:func:`_bounds_plans`).

    Attributes
    ----------
    bounds : the start's :class:`~emkit.backend.nearest_bounds.RowBounds`.
    kind : "near": a pass over the bounds' near rows alone; "record": a whole pass that
        records every row's label and gap and keeps the rows under ``reach``; "whole": a
        whole pass that keeps only the centres.
    reach : float, where ``kind`` is "record".
    room : int, the bytes the near rows may take, where ``kind`` is "record".
    """

    bounds: RowBounds
    kind: str
    reach: float = 0.0
    room: int = 0


def _recorded(plan: _Plan | None) -> RowBounds | None:
    return plan.bounds if plan is not None and plan.kind == "record" else None


def _bounds_plans(
    x: ShiftedRows, weights: np.ndarray | None, forms: list, labelled: list[bool]
) -> list[_Plan | None]:
    """Per form: None (a whole pass that keeps no bounds: a labelling pass, or rows too few
    for bounds to pay, :func:`_bounds_pay`), or its
    :class:`_Plan`: "near" where its bounds' near rows alone can change cluster, "record"
    where the sample says a reach pays and there is room, else "whole". Bounds of other
    weights than ``weights`` are not used. A call that names bounds drops those it does not
    (the starts that ended); bounds hold at most as many bytes in all as ``x.features``
    (besides each recording pass's gaps, 8 bytes a row, while it runs)."""
    n, d = x.shape
    named = [x.bounds.pop(form.trail, None) for form in forms]
    if any(bounds is not None for bounds in named):
        x.bounds.clear()
    named = [b if b is not None and b.weights is weights else None for b in named]
    held = sum(b.nbytes for b in named if b is not None)
    plans: list[_Plan | None] = []
    for form, bounds, wants_labels in zip(forms, named, labelled, strict=True):
        if wants_labels or not _bounds_pay(n, d, form.n_components):
            plans.append(None)  # a whole pass that leaves no bounds
            continue
        if bounds is None or bounds.coef.shape != form.coef.shape:
            plans.append(_Plan(RowBounds(np.array(form.coef), weights=weights), "whole"))
            continue
        error = rounding_scale(d, x.norm_most, float(form.const.max()))
        if bounds.holds(form.coef, 2.0 * bounds.error + 2.0 * error):
            plans.append(_Plan(bounds, "near"))
            continue
        held -= bounds.nbytes
        if x.features.nbytes - held - n * 4 <= 0:
            plans.append(_Plan(bounds, "whole"))  # no room (other starts hold it): no sample
            continue
        coef = np.hstack([-2.0 * form.coef, form.const[:, None]])
        gaps = sample_gaps(x.features, x.norms, coef)
        step = two_largest_moves(bounds.coef, form.coef)
        reach, cost = best_reach(gaps, step, 4.0 * error)
        share = float(np.mean(gaps < reach))
        # the near rows' bytes, half again the sample's estimate at most, after the labels
        room = min(x.features.nbytes - held - n * 4, int(1.5 * share * n) * (8 * d + 28))
        if cost <= NEAR_GAIN_MOST and share * n * (8 * d + 28) <= room:
            held += n * 4 + room
            bounds.start_recording(n, error)
            plans.append(_Plan(bounds, "record", reach, room))
        else:
            plans.append(_Plan(bounds, "whole"))
    return plans


def _bounds_pay(n: int, d: int, k: int) -> bool:
    """Whether a start's passes over ``n`` rows of ``d`` features with ``k`` centres keep
    bounds between them (``NEAR_MIN_ROWS``, ``NEAR_FEW_ROWS``)."""
    if n < NEAR_MIN_ROWS:
        return False
    return n >= NEAR_FEW_ROWS or k * (d + 1) >= NEAR_FEW_ROWS_PRODUCTS


def _near_pass(x: ShiftedRows, weights: np.ndarray | None, form: Any, bounds: RowBounds) -> tuple:
    """:func:`nearest_sums`' fields of one form by a pass over ``bounds``' near rows, which
    it moves to the form's centres."""
    assert bounds.near is not None and bounds.totals is not None
    n, d = x.shape
    k = form.n_components
    coef = np.hstack([-2.0 * form.coef, form.const[:, None]])
    block = min(nearest_block_rows(d, k, k), max(n, 1))  # the whole pass's products
    batch = max(1, NEAREST_BATCH_BYTES // (8 * (k + 1) * block))
    near = bounds.near.shape[0]
    key = ("near", k.bit_length(), d, int(near).bit_length())
    parts = NEAREST_THREADS.run(
        key,
        lambda: over_threads(
            bounds.near,
            None,
            lambda rows, _, start: near_partial(
                bounds, coef, start, start + rows.shape[0], block, batch
            ),
            part_rows=_part_rows(near, block),
        ),
    )
    changes = tuple(np.concatenate([part[i] for part in parts]) for i in range(3))
    bounds.moved(form.coef, changes, weights)  # type: ignore[arg-type]
    weight, sums = bounds.totals[:, d].copy(), bounds.totals[:, :d].copy()
    inertia = bounds.norm_total + float(
        weight @ form.const - 2.0 * np.einsum("kd,kd->", sums, form.coef)
    )
    no_far_rows = np.full(k, -1.0), np.zeros((k, d)), np.zeros(k)  # see nearest_sums
    return (weight, sums, inertia, *no_far_rows, None, None)


def _nearest_pass(
    x: Any,
    weights: np.ndarray | None,
    forms: list,
    far: bool,
    labelled: list[bool] | None = None,
    kept: list[RowBounds | None] | None = None,
) -> list[tuple]:
    """:func:`nearest_sums`' fields of each form (but the bounds' name) by a whole pass;
    where ``kept[j]``, the pass writes form j's labels and gaps there and renews them. Forms
    of more than ``LOCKSTEP_CENTRES`` centres in all share passes in groups of at most that
    many (a group of one form where it alone has more)."""
    groups = _lockstep_groups([f.n_components for f in forms])
    if len(groups) > 1:
        out: list[tuple] = []
        for first, last in groups:
            out += _nearest_pass(
                x,
                weights,
                forms[first:last],
                far,
                None if labelled is None else labelled[first:last],
                None if kept is None else kept[first:last],
            )
        return out
    k_total = sum(f.n_components for f in forms)
    block = nearest_block_rows(x.shape[1], k_total, max(f.n_components for f in forms))
    group = row_groups(x.shape[0], block)
    # The groups' sums do not depend on the threads, so their count is chosen by timing, per
    # kind of pass: its centres to a power of two (n_init starts in lockstep end one by one),
    # features, and rows to a power of two.
    key = (k_total.bit_length(), x.shape[1], int(x.shape[0]).bit_length(), far)
    # a pass that records the rows (a few a fit) runs as the plain pass does, untimed
    keeps = kept is not None and any(b is not None for b in kept)
    parts = (NEAREST_THREADS.run_as if keeps else NEAREST_THREADS.run)(
        key,
        lambda: over_threads(
            x,
            weights,
            lambda xs, ws, start: _nearest_partial(
                xs, ws, forms, start, far, group, labelled, kept
            ),
            part_rows=_part_rows(x.shape[0], group),
        ),
    )
    d = x.shape[1]
    # the unweighted laid-out rows' |x - s|^2, added once per pass (see _nearest_partial)
    norms = x.norm_total if not far and weights is None and isinstance(x, ShiftedRows) else 0.0
    out = []
    for j, form in enumerate(forms):
        k = form.n_components
        added = [sums for part in parts for sums in part[j][0]]  # the groups, in row order
        joint = reduce(np.add, [sums for sums, _ in added])
        inertia = sum(part for _, part in added)
        weight, sums = joint[:, d], joint[:, :d]
        bounds = None if kept is None else kept[j]
        if bounds is not None:  # the laid-out rows' norms: inertia holds the weighted ones
            bounds.recorded(form.coef, joint, weights, float(inertia) + norms)
        if not far:  # the rows nearest c_k add W_k |c_k - s|^2 - 2 S_k.(c_k - s) to the norms
            inertia += norms + float(
                weight @ form.const - 2.0 * np.einsum("kd,kd->", sums, form.coef)
            )
        top = parts[0][j][1]
        for part in parts[1:]:
            top = merge_top(top, part[j][1], k)
        far_dist = np.full(k, -1.0)
        far_rows = np.zeros((k, x.shape[1]))
        far_weight = np.zeros(k)
        m = top[0].shape[0]
        if m:  # a pass that looked for them (far)
            far_dist[:m] = top[1]
            far_rows[:m] = x.take(top[0]) if isinstance(x, ShiftedRows) else x[top[0]]
            far_weight[:m] = 1.0 if weights is None else weights[top[0]]
        labelled_rows = [part[j][2] for part in parts if part[j][2] is not None]
        labels = nearest = None
        if len(labelled_rows) == 1:
            labels, nearest = labelled_rows[0]
        elif labelled_rows:
            labels = np.concatenate([got[0] for got in labelled_rows])
            nearest = np.concatenate([got[1] for got in labelled_rows])
        out.append((weight, sums, float(inertia), far_dist, far_rows, far_weight, labels, nearest))
    return out


def _lockstep_groups(sizes: list[int]) -> list[tuple[int, int]]:
    """The forms (of ``sizes`` centres each, in order) cut into runs of at most
    ``LOCKSTEP_CENTRES`` centres in all (a form of more alone), as (first, last) pairs."""
    groups: list[tuple[int, int]] = []
    first, total = 0, 0
    for j, size in enumerate(sizes):
        if j > first and total + size > LOCKSTEP_CENTRES:
            groups.append((first, j))
            first, total = j, 0
        total += size
    groups.append((first, len(sizes)))
    return groups


def _part_rows(n: int, unit: int) -> int:
    """Rows per part of a pass over ``n`` rows on the kernel threads: whole units
    of ``unit`` rows (groups, blocks), ``NEAREST_PULLED_PARTS`` per thread; all the rows on
    one thread."""
    threads = min(num_threads(), n // MIN_ROWS_PER_THREAD)
    if threads <= 1:
        return max(n, 1)
    return unit * max(1, -(-n // (threads * NEAREST_PULLED_PARTS * unit)))


def nearest_block_rows(d: int, k_total: int, k_most: int) -> int:
    """Rows per block of the k-means pass over ``d`` features against ``k_total`` centres
    (every form's), the largest form having ``k_most``: the block's features, distances,
    nearest distances and one-hot bools fill ``NEAREST_CACHE_SHARE`` of a core's L2 cache,
    and the statistics product (k_most, m) @ (m, d + 1) stays on OpenBLAS's small-matrix
    path (``SMALL_PRODUCT``). The same for rows laid out or not, so that both give the same
    sums to the last bit."""
    per_row = 8 * (d + 1 + k_total + 1) + k_most
    rows = int(NEAREST_CACHE_SHARE * l2_cache_bytes()) // per_row
    rows = min(rows, SMALL_PRODUCT // (k_most * (d + 1)))
    return max(MIN_NEAREST_ROWS, rows)


def _nearest_partial(
    x: Any,
    weights: np.ndarray | None,
    forms: list,
    offset: int,
    far: bool = True,
    group: int | None = None,
    labelled: list[bool] | None = None,
    bounds_kept: list[RowBounds | None] | None = None,
) -> list:
    """Per form: the groups' (shifted sums and weights (k, d + 1), part of the inertia), one
    per ``group`` rows of ``x`` (an array, or :class:`ShiftedRows`; all its rows where None)
    in row order, the top (row index + ``offset``, distance; none unless ``far``), and where
    ``labelled[j]`` the rows' labels and distances (:func:`_labels_partial`'s, from the same
    one-hot), else None: one
    product per block for all forms; where ``bounds_kept[j]``, the rows' labels and gaps are
    written there (rows ``offset`` on). Where ``far`` the part is the group's inertia; else its
    rows' (weighted) norms' sum (0 for unweighted :class:`ShiftedRows`, whose sum
    :func:`_nearest_pass` adds once), to which the pass adds the statistics' part.

    A block does only what needs its products (the nearest centre and the one-hot sums);
    where ``far``, every row's nearest distance is kept and the farthest rows found from them
    at the end. Each NumPy call takes a batch of blocks (``NEAREST_BATCH_BYTES``), its
    products one per block as a block alone would give them, so that the Python work between
    calls, which threads cannot share, and the GIL hand-offs stay few.
    Otherwise the inertia comes from the statistics: the rows nearest centre k add
    :math:`W_k \\lVert c_k - s\\rVert^2 - 2 S_k^\\top (c_k - s)` to their norms' sum (weight
    :math:`W_k`, shifted sum :math:`S_k`), the sum of their nearest distances minus norms.
    """
    n, d = x.shape
    shift = forms[0].shift
    prepared = isinstance(x, ShiftedRows)
    if prepared and x.shift is not shift and not np.array_equal(x.shift, shift):
        raise ValueError("the centres' forms must be taken from the rows' own shift")
    # [-2 (c - s), |c - s|^2] against [x - s; 1]: distances minus |x - s|^2 in one product.
    coef = _joint_coef(forms)
    sizes = [f.n_components for f in forms]
    ends = list(itertools.accumulate(sizes))
    # each form's rows of the product
    spans = [(end - size, end) for end, size in zip(ends, sizes, strict=True)]
    block = min(nearest_block_rows(d, coef.shape[0], max(sizes)), max(n, 1))
    group = max(n, 1) if group is None else group
    # Blocks per batch: each NumPy call takes a batch whole; a batch may span groups where
    # they are whole numbers of blocks (as row_groups cuts them), else stays in its group.
    k_total = coef.shape[0]
    batch = max(1, NEAREST_BATCH_BYTES // (8 * (k_total + 1) * block))
    runs = (
        [(0, n)]
        if group % block == 0
        else [(first, min(first + group, n)) for first in range(0, n, group)]
    )
    # Buffers of a batch of blocks: every product is a block's, of the same shapes as one
    # block alone, so the batch moves no bit. The distances are centre-major (sum k, rows of
    # the batch), so that the minimum and the comparison with it run along the whole batch,
    # not a block at a time (NumPy's broadcast loops pay per row of the array).
    features = scratch("features", (d + 1, 0 if prepared else batch * block))
    features[d] = 1.0
    joint = scratch("joint", (k_total, batch * block))
    # per form, the group's sums so far, then each block's statistics
    stats = scratch("stats", (len(forms), batch + 1, max(sizes), d + 1))
    # each row's nearest distance minus |x - s|^2: every row's where far, else a batch's
    best = scratch("best", (len(forms), n if far else batch * block))
    norms = x.norms if prepared else scratch("norms", (n,))  # |x - s|^2, (n,)
    # per group (no rows: one group of zeros) and form, the shifted sums and weights
    sums = [
        [np.zeros((f.n_components, d + 1)) for f in forms] for _ in range(max(1, -(-n // group)))
    ]
    # per labelled form, its rows' labels and distances and the [index; risk] it reads them
    # with (as _labels_partial); a batch's products with the one-hot and bounds
    labellers = [
        _RowLabels(f, n) if labelled and labelled[j] else None for j, f in enumerate(forms)
    ]
    found = scratch("found", (3, batch * block if any(labellers) else 0))
    bound = scratch("bound", (found.shape[1],))
    # per kept form: the one-hot apart from the distances (whose second least gives the gap)
    keeps = [None] * len(forms) if bounds_kept is None else bounds_kept
    width = batch * block if any(b is not None for b in keeps) else 0
    hot = scratch("hot", (max(sizes), width))
    spare = scratch("spare", (max(sizes), width))
    second = scratch("second", (width,))
    for first, last in runs:
        start = first
        while start < last:
            # a batch of whole blocks, or the run's last, shorter block alone
            blocks = min(batch, (last - start) // block)
            m = block if blocks else last - start
            blocks = max(blocks, 1)
            stop = start + blocks * m
            if prepared:  # laid out once per fit
                feats = x.features[:, start:stop]
            else:
                feats = features[:, : stop - start]  # [x - s; 1], feature-major (d + 1, .)
                for col in range(start, stop, m):
                    part = feats[:d, col - start : col - start + m]
                    np.subtract(x[col : col + m].T, shift[:, None], out=part)
                    np.einsum("ij,ij->j", part, part, out=norms[col : col + m])
            # (blocks, d + 1, m): block b's features
            stacked = feats.reshape(d + 1, blocks, m).transpose(1, 0, 2)
            g = joint[:, : stop - start]  # (sum k, blocks m)
            np.matmul(coef, stacked, out=by_block(g, blocks))
            w = None if weights is None else weights[start:stop]
            at = slice(start, stop) if far else slice(0, stop - start)
            for j, (lo, hi) in enumerate(spans):
                low = np.minimum.reduce(g[lo:hi], axis=0, out=best[j, at])
                added = stats[j, : blocks + 1, : hi - lo]
                added[0] = sums[start // group][j]
                labeller = labellers[j]
                got = found[:, : stop - start]
                one, assigned = g[lo:hi], False  # the distances, turned one-hot in place
                bounds = keeps[j]
                if bounds is not None:
                    one = record_rows(
                        bounds, one, low, norms[start:stop], offset + start, hot, spare, second
                    )
                    assigned = True
                _assign_blocks(one, low, stacked, w, added[1:], labeller, got, assigned)
                if labeller is not None:
                    labeller.label(start, stop, low, norms[start:stop], feats, got, bound)
                # Each group's sums so far plus its blocks one by one, in row order: a
                # reduction over the first axis adds its rows in turn, from +0.
                i = 0
                while i < blocks:
                    index = (start + i * m) // group
                    end = min(blocks, ((index + 1) * group - start) // m)
                    np.add.reduce(added[i + (i > 0) : end + 1], axis=0, out=sums[index][j])
                    i = end
            start = stop
    groups: list[list[tuple]] = [[] for _ in forms]
    for index, first in enumerate(range(0, max(n, 1), group)):
        last = min(first + group, n)
        kept = slice(first, last)
        w = None if weights is None else weights[kept]
        # the rows' norms (laid-out rows': the pass adds them all at once), and where far
        # their nearest distances minus norms: the group's inertia but for its statistics' part
        total = 0.0
        if far or not prepared or w is not None:
            total = float(norms[kept].sum() if w is None else w @ norms[kept])
        for j in range(len(forms)):
            inertia = total
            if far:
                near = best[j, kept]
                inertia += float(near.sum() if w is None else w @ near)
            groups[j].append((sums[index][j], inertia))
    out = []
    for j, form in enumerate(forms):
        labeller = labellers[j]
        rows = None if labeller is None else (labeller.labels, labeller.dist)
        if not far:
            out.append((groups[j], (np.empty(0, dtype=np.intp), np.empty(0)), rows))
            continue
        near = best[j]
        near += norms  # squared distance to the nearest centre
        if weights is not None:
            near[weights <= 0] = -1.0  # rows of no weight are never re-seeded on
        out.append((groups[j], top_rows(near, form.n_components, offset), rows))
    return out


class _RowLabels:
    """The labels of one form's rows and their distances, filled batch by batch by a pass
    (:func:`_nearest_partial`, :func:`_labels_partial`) from each batch's one-hot assignment.

    The distance |x - s|^2 + min_k (|c_k - s|^2 - 2 (x - s).(c_k - s)) errs by at most
    (d + 1) 2^-52 (|x - s|^2 + |c - s|^2); rows where that could pass 2^-43 of it (near their
    centre, far from the shift) get theirs by differences instead.

    Attributes
    ----------
    index : array of shape (3, k), [index; 1; risk] of each centre: against a one-hot
        assignment (k, m), each row's label, its count of nearest centres (above 1 on a tie)
        and its centre's part of the bound, exactly (one term of each sum), in one product.
    gaps : array of shape (d, k), the centres minus the shift.
    labels : int array of shape (n,).
    dist : array of shape (n,), each row's squared distance to its centre (of no rows where
        the distances are not wanted).
    """

    def __init__(self, form: Any, n: int, distances: bool = True) -> None:
        k, d = form.coef.shape
        risk = (d + 1) * 2.0**-9 * form.const  # (k,)
        self.index = np.vstack([ranks_of(k), risk])  # [index; 1] and the risk
        self.gaps = np.ascontiguousarray(form.coef.T)
        self.labels = np.empty(n, dtype=np.intp)
        self.distances = distances
        self.dist = np.empty(n if distances else 0)

    def label(
        self,
        start: int,
        stop: int,
        low: np.ndarray,
        norm: np.ndarray,
        feats: np.ndarray,
        got: np.ndarray,
        bound: np.ndarray,
    ) -> None:
        """Rows ``start:stop``: ``index`` times their one-hot assignment ``got`` (3, m),
        their least distances minus norms ``low`` (m,), norms ``norm`` (m,) and shifted
        features ``feats`` (d + 1, m); ``bound`` (m at least,) a buffer."""
        d = feats.shape[0] - 1
        label = self.labels[start:stop]
        label[:] = got[0]
        if not self.distances:
            return
        near = np.add(low, norm, out=self.dist[start:stop])
        limit = np.multiply(norm, (d + 1) * 2.0**-9, out=bound[: stop - start])
        limit += got[2]
        redo = np.flatnonzero(limit >= near)
        if redo.shape[0]:
            diff = feats[:d, redo] - self.gaps[:, label[redo]]  # (d, r)
            near[redo] = np.einsum("ij,ij->j", diff, diff)


def _joint_coef(forms: list) -> np.ndarray:
    """[-2 (c - s), |c - s|^2] of every form's centres, in order: (sum k, d + 1), filled in
    place (NumPy's stacking of a few small arrays took longer than a small data set's
    product)."""
    d = forms[0].coef.shape[1]
    coef = np.empty((sum(f.n_components for f in forms), d + 1))
    at = 0
    for f in forms:
        rows = slice(at, at + f.n_components)
        np.multiply(f.coef, -2.0, out=coef[rows, :d])
        coef[rows, d] = f.const
        at = rows.stop
    return coef


def _assign_blocks(
    part: np.ndarray,
    best: np.ndarray,
    feats: np.ndarray,
    w: np.ndarray | None,
    out: np.ndarray,
    rows: _RowLabels | None = None,
    found: np.ndarray | None = None,
    assigned: bool = False,
) -> np.ndarray:
    """Turn ``part`` (k, b m), the distances of b blocks of m rows, into the one-hot
    assignment to each row's first nearest centre (scaled by the weights ``w``, (b m,)) and
    return, per block, its product with the block's ``feats`` (b, d + 1, m) in ``out``
    (b, k, d + 1): the clusters' sums and, last, their weights. ``best``: the rows' least
    distances (b m,). Where ``rows`` is given, ``found`` (3, b m) receives ``rows.index``
    times the (unweighted) one-hot (see :class:`_RowLabels`). ``assigned``: ``part`` is
    already the one-hot assignment."""
    blocks, m = feats.shape[0], feats.shape[2]
    if not assigned:
        np.equal(part, best, out=part)
    one = by_block(part, blocks)  # (b, k, m)
    feats_t = feats.transpose(0, 2, 1)  # (b, m, d + 1)
    # Every row has a nearest centre: the ones add up to the rows but where rows tie.
    if w is None:
        np.matmul(one, feats_t, out=out)
        counts = np.add.reduce(out[:, :, -1], axis=1)  # (b,)
        total = np.add.reduce(counts)
    else:
        total = part.sum()
    if total != blocks * m:
        if w is not None:
            counts = np.add.reduce(part, axis=0).reshape(blocks, m).sum(axis=1)
        for b in np.flatnonzero(counts != m):  # the first nearest centre, as argmin
            first_only(one[b])
            if w is None:
                np.matmul(one[b], feats_t[b], out=out[b])
    if rows is not None:
        np.matmul(rows.index, part, out=found)
    if w is not None:
        part *= w
        np.matmul(one, feats_t, out=out)
    return out


def top_rows(dist: np.ndarray, k: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (plus ``offset``) and values of the ``k`` largest of ``dist`` (1-D), in
    decreasing order, ties broken by the lower index (fewer where ``dist`` is shorter)."""
    m = dist.shape[0]
    chunks = m // TOP_CHUNK
    if chunks > k:
        # At least k rows reach the k-th largest of the chunks' maxima, so the k largest rows
        # are among those that do, in the chunks that reach it or past the last whole chunk.
        maxima = dist[: chunks * TOP_CHUNK].reshape(chunks, TOP_CHUNK).max(axis=1)
        floor = np.partition(maxima, chunks - k)[chunks - k]
        starts = np.flatnonzero(maxima >= floor) * TOP_CHUNK
        idx = np.concatenate(
            [(starts[:, None] + np.arange(TOP_CHUNK)).ravel(), np.arange(chunks * TOP_CHUNK, m)]
        )
        idx = idx[dist[idx] >= floor]
    else:
        idx = np.arange(m)
    if idx.shape[0] > k:
        held = dist[idx]
        idx = idx[held >= np.partition(held, held.shape[0] - k)[held.shape[0] - k]]
    idx = idx[np.argsort(-dist[idx], kind="stable")][:k]
    return idx + offset, dist[idx]


def merge_top(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest of two (index, value) lists from :func:`top_rows`, ``a``'s first on
    ties (its rows come earlier in the data)."""
    idx = np.concatenate([a[0], b[0]])
    dist = np.concatenate([a[1], b[1]])
    keep = np.argsort(-dist, kind="stable")[:k]
    return idx[keep], dist[keep]


def nearest_labels(
    x: Any, form: Any, distances: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Nearest centre of each row of ``x`` (n, d; an array, or :class:`ShiftedRows` laid out
    from ``form``'s shift) under ``form``, shape (n,), and the squared distance to it, shape
    (n,), to 2^-43 relative: from the pass's expansion, or by differences of the shifted rows
    and centres where the expansion could lose more; None where ``distances`` is False (the
    labels come from the expansion either way)."""
    block = nearest_block_rows(x.shape[1], form.n_components, form.n_components)
    key = ("labels", form.n_components.bit_length(), x.shape[1], int(x.shape[0]).bit_length())
    parts = NEAREST_THREADS.run(
        key,
        lambda: over_threads(  # blocks where one thread has them, whatever the threads
            x,
            None,
            lambda xs, ws, start: _labels_partial(xs, form, distances),
            part_rows=_part_rows(x.shape[0], block),
        ),
    )
    if len(parts) == 1:
        return parts[0]
    labels = np.concatenate([p[0] for p in parts])
    return labels, np.concatenate([p[1] for p in parts]) if distances else None


def _labels_partial(
    x: Any, form: Any, distances: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`nearest_labels` of rows ``x`` (an array, or :class:`ShiftedRows`), a batch of
    blocks per NumPy call (``NEAREST_BATCH_BYTES``), each block's product as a block alone
    gives it (as in :func:`_nearest_partial`)."""
    n, d = x.shape
    k = form.n_components
    prepared = isinstance(x, ShiftedRows)
    if prepared and x.shift is not form.shift and not np.array_equal(x.shift, form.shift):
        raise ValueError("the centres' form must be taken from the rows' own shift")
    coef = _joint_coef([form])
    rows = _RowLabels(form, n, distances)
    block = min(nearest_block_rows(d, k, k), max(n, 1))
    # distances, the [index; 1; risk] products, nearest distances, bounds and norms per row
    batch = max(1, NEAREST_BATCH_BYTES // (8 * (k + 6) * block))
    features = scratch("features", (d + 1, 0 if prepared else batch * block))
    features[d] = 1.0
    joint = scratch("joint", (k, batch * block))  # centre-major, as in _nearest_partial
    found = scratch("found", (3, batch * block))
    best = scratch("best", (batch * block,))
    bound = scratch("bound", (batch * block,))
    norms = x.norms if prepared else scratch("norms", (batch * block,))  # |x - s|^2
    start = 0
    while start < n:
        # a batch of whole blocks, or the last, shorter block alone
        blocks = min(batch, (n - start) // block)
        m = block if blocks else n - start
        blocks = max(blocks, 1)
        stop = start + blocks * m
        size = stop - start
        if prepared:
            feats, norm = x.features[:, start:stop], norms[start:stop]
        else:
            feats, norm = features[:, :size], norms[:size]
            for col in range(0, size, m):
                part = feats[:d, col : col + m]
                np.subtract(x[start + col : start + col + m].T, form.shift[:, None], out=part)
                if distances:
                    np.einsum("ij,ij->j", part, part, out=norm[col : col + m])
        stacked = feats.reshape(d + 1, blocks, m).transpose(1, 0, 2)  # (blocks, d + 1, m)
        g = joint[:, :size]
        np.matmul(coef, stacked, out=by_block(g, blocks))  # a product per block
        low = np.minimum.reduce(g, axis=0, out=best[:size])
        np.equal(g, low, out=g)  # one-hot, as floats
        got = np.matmul(rows.index, g, out=found[:, :size])  # exact: one term of each sum
        if got[1].sum() != size:
            first_only(g)  # a tie: the first nearest centre, as argmin
            np.matmul(rows.index, g, out=got)
        rows.label(start, stop, low, norm, feats, got, bound)
        start = stop
    return rows.labels, rows.dist if distances else None
