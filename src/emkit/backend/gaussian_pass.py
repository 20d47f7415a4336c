"""The Gaussian E-step pass on the CPU (:func:`quadratic_sums`, the NumPy backend's; see
:mod:`emkit.backend.kernels` for the forms it takes).

Rows are processed in blocks whose features fit in cache, split over threads as
:mod:`emkit.backend.threads` says, and added up in fixed groups, so that the results do not
depend on the threads or scheduling. Model selection may ask a pass to leave out the hard
ICL's term (:func:`without_log_max`) or to screen in float32 (:func:`single_precision`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache, reduce
from typing import Any

import numpy as np

from emkit.backend import pass_processes
from emkit.backend import threads as cpu_threads
from emkit.backend.threads import (
    TimedThreads,
    l2_cache_bytes,
    l2_cache_sharers,
    over_threads,
    row_groups,
)
from emkit.backend.underflow import LOG_TINY, LOG_TINY_SINGLE, exp_normal

# The Gaussian pass in values of features and log joints per thread: below it (1e5 rows of 2
# features and 3 components) two threads took as long as one, or longer.
MIN_GAUSSIAN_VALUES_PER_THREAD = 1 << 20
# The same per thread of each slice that times the thread count (TimedThreads.run_split): at
# (1e6, 10, 10) full on the EPYC VM, slices of 36360 rows (18180 per thread) timed two threads
# at 88-184 ns per row, as often running one at a time for the GIL as together, against 70-83
# in whole calls of 262144 rows (one thread: 115-135), and the timing kept one thread.
PROBE_GAUSSIAN_VALUES_PER_THREAD = 1 << 22

# Whether the Gaussian pass called from this thread gathers sum_n log max_k r_nk (the hard
# ICL's term, a pass over every log joint); see without_log_max().
_log_max_wanted: ContextVar[bool] = ContextVar("emkit_gaussian_log_max", default=True)
# Whether the Gaussian pass called from this thread computes in float32; see single_precision().
_single_wanted: ContextVar[bool] = ContextVar("emkit_gaussian_single", default=False)


@contextmanager
def without_log_max() -> Iterator[None]:
    """Gaussian passes called from this thread leave out sum_n log max_k r_nk (NaN in its
    place) and with it, where a bound shows no log joint near the subnormal floor, the look
    for each row's largest log joint: a model-selection grid runs its rounds so and gathers
    the term once for its final models."""
    token = _log_max_wanted.set(False)
    try:
        yield
    finally:
        _log_max_wanted.reset(token)


@contextmanager
def single_precision() -> Iterator[None]:
    """Gaussian passes called from this thread compute their features, log joints,
    exponentials and products in float32 (twice the values per vector instruction) and add
    each block's sums in float64; the log-likelihood is corrected for the rounding of the
    coefficients to float32 (see ``_partial``). For a model-selection grid's screening,
    whose fits only rank the candidates: the log-likelihood is within 1e-8 relative of the
    float64 pass's (:data:`SINGLE_RESOLUTION`), the statistics within about 1e-6."""
    token = _single_wanted.set(True)
    try:
        yield
    finally:
        _single_wanted.reset(token)


def quadratic_sums(
    x: np.ndarray, weights: np.ndarray | None, forms: list
) -> tuple[list[np.ndarray], list[float], list[float]]:
    """Sums r^T [features, 1] of shape (k, q + d + 1), log-likelihoods and sums of
    log max_k r_nk of rows ``x`` (n, d) under each of ``forms``
    (:class:`~emkit.backend.kernels.QuadraticForm`), in float64."""
    return _threaded(x, weights, forms)


# The thread count of the pass, chosen by timing it: on a 2-vCPU AMD EPYC VM two threads
# gained 1.4x at (1e6, 10, 10) full but ran 1.8x slower at (1e6, 2, 5) full and 1.5x at
# (1e6, 10, 10) diag, whose blocks are short NumPy calls.
GAUSSIAN_THREADS = TimedThreads()
# Rows per block of the Gaussian pass: its features and log joints fill this share of the L2
# cache each CPU sharing it has (l2_cache_sharers), between these bounds (fewer rows: Python's
# cost per block dominates, and two kernel threads wait on each other for the GIL between
# short calls; more: the products slow down). The rest holds the rows read. Where two vCPUs
# shared a core's L2 (an Intel VM), (1e6, 10, 10) diag took 0.076 s per pass in blocks of
# 2818 rows against 0.105 in blocks of 8192 (one thread, a loaded machine). On a 2-vCPU AMD
# EPYC VM with an L2 per vCPU (1 MiB), a third of it made blocks of 574 rows at (1e6, 10,
# 10) full, where two threads took 0.188 s per iteration against 0.160 on one; in blocks of
# 1149 rows 0.113 against 0.147; (1e6, 2, 5) full 0.023 against 0.026 s on one thread.
GAUSSIAN_CACHE_SHARE = 2 / 3
MIN_GAUSSIAN_ROWS, MAX_GAUSSIAN_ROWS = 128, 8192
# Rows per matrix product at most, in equal slices of a block of at least PRODUCT_MIN_WIDTH
# features per row. OpenBLAS (0.3.31, SkylakeX kernels) runs the statistics product
# (k, m) @ (m, width) at about 13 GFLOP/s from m = 1600 on and at 22-26 below, at (k, width) =
# (10, 66): (1e6, 10, 10) full took 0.23 s per pass in slices of 1150 rows against 0.28 in
# blocks of 3449. Narrower features (d <= 4) only pay the extra calls.
PRODUCT_ROWS, PRODUCT_MIN_WIDTH = 1152, 32
# Blocks of rows too wide to stay in L2 hold this many L2 caches' worth of features and log
# joints (at most PRODUCT_ROWS rows). On the 2-vCPU AMD EPYC VM (1 MiB of L2 per core, 32 MiB
# of L3 shared with other jobs) (2e5, 50, 20) full took 0.66-0.68 CPU s per pass on one thread
# in blocks of 256-384 rows (2.8-4.1 MB of features) against 0.70-0.81 in blocks of 1152 (12 MB)
# and 0.72-0.74 in blocks of 128; on two threads 0.76-0.80 CPU s against 0.83-0.98.
WIDE_BLOCK_L2 = 3
# The same for the float32 pass's statistics of all forms at once (the lane of _partial):
# (45, m) @ (m, 10) took 0.30 ns per row and log joint in slices of 2048 rows against 0.66 whole.
LANE_PRODUCT_ROWS = 2048
# Blocks of features at least PRODUCT_MIN_WIDTH wide, not too wide for L2, hold at least this
# many flops of their two products (4 width k per row), in up to MAX_GAUSSIAN_ROWS rows: a
# block's ~20 NumPy calls cost ~40 us of Python on one thread, and on two each call that
# releases the GIL hands it to the other thread (~20 us across the vCPUs of the EPYC VM).
# There, (1e6, 10, 10) full took 0.26 s per iteration on one thread and 0.16 on two in blocks
# of 3456 rows (9 MFLOP) against 0.28 and 0.22-0.26 in blocks of 1149 (the L2's); (5e5, 20,
# 10) full 0.26 against 0.29-0.32 on two.
MIN_BLOCK_FLOPS = 8_000_000


def gaussian_block_rows(n_columns: int, share: float = GAUSSIAN_CACHE_SHARE) -> int:
    """Rows per block of the Gaussian pass for ``n_columns`` float64 values per row (features,
    log joints), filling ``share`` of the L2 cache."""
    rows = int(share * l2_cache_bytes()) // (8 * n_columns)
    return min(MAX_GAUSSIAN_ROWS, max(MIN_GAUSSIAN_ROWS, rows))


@cache
def quadratic_pairs(d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows i and columns j of the quadratic features :math:`(x_i - c_i)(x_j - c_j)` in the
    order :func:`_fill_features` writes them, and 2 off the diagonal (1 on it); read-only.

    Each unordered pair once, by cyclic offset s, from the largest offset down: the pairs
    (i, i + s mod d) for s = d // 2, ..., 1 (at s = d / 2 for even d only i >= d / 2), then
    the squares (s = 0), so that the features of all offsets are the product of the centred
    rows with windows of them: one long vector multiplication per block.
    """
    index = np.arange(d)
    rows, cols = [], []
    for s in range(d // 2, -1, -1):
        if s == 0:
            rows.append(index)
            cols.append(index)
            continue
        first = d // 2 if 2 * s == d else 0
        rows.append(index[first:])
        cols.append((index[first:] + s) % d)
    pairs = np.concatenate(rows), np.concatenate(cols)
    doubled = np.where(pairs[0] == pairs[1], 1.0, 2.0)
    for a in (*pairs, doubled):
        a.flags.writeable = False
    return pairs[0], pairs[1], doubled


def feature_rows(d: int, diagonal: bool) -> int:
    """Rows of the buffer that :func:`_fill_features` writes for ``d`` features: the
    features (:func:`feature_width`), a first row of scratch for even d and scratch after."""
    return feature_width(d, diagonal) + (0 if diagonal else d // 2 + _pad_rows(d))


def feature_width(d: int, diagonal: bool) -> int:
    """Features per row: the quadratic ones, the constant 1, the centred ones."""
    return (d if diagonal else d * (d + 1) // 2) + 1 + d


def _pad_rows(d: int) -> int:
    # For even d the offset d / 2 yields d products, of which the first d / 2 repeat the
    # others: they go to scratch rows before the features.
    return d // 2 if d % 2 == 0 else 0


def _feature_views(buffer: np.ndarray, d: int, m: int, diagonal: bool) -> tuple:
    """The views of ``buffer`` that :func:`_write_features` fills for blocks of ``m`` rows:
    (features (width, m), centred rows (d, m), scratch, products, windows)."""
    width = feature_width(d, diagonal)
    if diagonal:
        out = buffer[:width, :m]
        return out, out[d + 1 :], None, None, out[:d], None
    pad, half = _pad_rows(d), d // 2
    offsets = half + 1 if pad else (d + 1) // 2  # s = offsets - 1, ..., 0
    base = pad + width - d  # the first centred row
    step, col = buffer.strides
    out = buffer[pad : pad + width, :m]
    centred = buffer[base : base + d, :m]
    scratch = buffer[base + d : base + d + half, :m]
    # Offset s's products at rows (offsets - 1 - s) d; its window (centred rows s, ..., s + d
    # - 1, cyclically: centred rows followed by a copy of the first half) from row base + s.
    products = np.ndarray((offsets, d, m), buffer.dtype, buffer, 0, (d * step, step, col))
    windows = np.ndarray(
        (offsets, d, m), buffer.dtype, buffer, (base + offsets - 1) * step, (-step, step, col)
    )
    return out, centred, scratch, centred[:half], products, windows


def _write_features(rows: np.ndarray, shift: np.ndarray, views: tuple) -> np.ndarray:
    """Fill ``views`` (from :func:`_feature_views`, for ``rows.shape[0]`` rows) from ``rows``
    but for the constant row, and return the features; ``shift`` of shape (d, 1)."""
    out, centred, scratch, head, products, windows = views
    np.subtract(rows.T, shift, centred)
    if windows is None:
        np.multiply(centred, centred, products)
        return out
    if scratch.shape[0]:
        np.copyto(scratch, head)
    np.multiply(centred, windows, products)
    return out


def _fill_features(
    rows: np.ndarray, shift: np.ndarray, buffer: np.ndarray, diagonal: bool
) -> np.ndarray:
    """Write [quadratic features; 1; x - c] of ``rows`` (m, d) feature-major into the first m
    columns of ``buffer`` (C-contiguous, :func:`feature_rows` by at least m) and return them,
    a view of shape (:func:`feature_width`, m).

    Each feature is one contiguous row, so every product below is a long vector operation
    rather than m short ones; the quadratic features are in :func:`quadratic_pairs`' order.
    """
    m, d = rows.shape
    views = _feature_views(buffer, d, m, diagonal)
    views[0][feature_width(d, diagonal) - d - 1] = 1.0
    return _write_features(rows, shift[:, None], views)


def _gaussian_block(width: int, k: int, n: int, n_forms: int = 1, itemsize: int = 8) -> int:
    """Rows per block of the Gaussian pass over ``n`` rows of ``width`` features and ``k``
    log joints: from the L2 cache's size, and for wide features at most one product's rows
    (the features then stay in cache from their writing to the second product), but in float64
    at least ``MIN_BLOCK_FLOPS`` of products where the L2 holds fewer (rows not too wide for
    it; in at most ``WIDE_BLOCK_L2`` caches' worth of features). One form
    fills ``GAUSSIAN_CACHE_SHARE`` of the L2 each CPU sharing it has (``l2_cache_sharers``),
    leaving room for the rows read and for another kernel thread's block where two CPUs share
    one L2.

    Several forms (a grid's fits in lockstep) fill the whole L2: each form costs Python
    work per block, which two kernel threads do one at a time (the GIL); at a third of L2
    the default mclust grid on 3e5 rows of d = 3 took 41-44 s on two threads against 28 s.
    Values of ``itemsize`` bytes (4: float32) fit ``8 // itemsize`` times the rows."""
    wide = 8 // itemsize  # float32: twice the rows in the same bytes, half the calls per row
    share = GAUSSIAN_CACHE_SHARE / l2_cache_sharers() if n_forms == 1 else 1.0
    block = wide * gaussian_block_rows(width + k, share)
    if width >= PRODUCT_MIN_WIDTH:
        block = min(block, PRODUCT_ROWS)
        if int(share * l2_cache_bytes()) // (8 * (width + k)) < MIN_GAUSSIAN_ROWS:
            # Rows too wide for a block to stay in L2 (d >= 30 or so): the products are
            # compute-bound there, and a block's features fill WIDE_BLOCK_L2 caches' worth.
            wide_rows = int(WIDE_BLOCK_L2 * l2_cache_bytes()) // (itemsize * (width + k))
            block = min(PRODUCT_ROWS, max(MIN_GAUSSIAN_ROWS, wide_rows))
        elif itemsize == 8:  # float32 keeps one product per block (the lane of _partial)
            # as for rows too wide for L2: at most WIDE_BLOCK_L2 caches' worth of features
            most = min(
                MAX_GAUSSIAN_ROWS, int(WIDE_BLOCK_L2 * l2_cache_bytes()) // (8 * (width + k))
            )
            block = max(block, min(most, MIN_BLOCK_FLOPS // (4 * width * k)))
    return max(1, min(block, n))


def _product_rows(width: int, block: int) -> int:
    """Rows per matrix product in blocks of ``block`` rows of ``width`` features."""
    if width < PRODUCT_MIN_WIDTH:
        return block
    slices = -(-block // PRODUCT_ROWS)
    return -(-block // slices)


def _add_statistics(sums: np.ndarray, resp: np.ndarray, feats: np.ndarray, step: int) -> None:
    """``sums += resp @ feats.T``, (k, m) by (width, m), in slices of ``step`` rows."""
    for start in range(0, feats.shape[1], step):
        sums += resp[:, start : start + step] @ feats[:, start : start + step].T


# A row whose largest log joint under a form lies more than this below the form's bound (the
# largest log weight + log normaliser of its components) is shifted by its own largest log
# joint; every other row by the bound (see _partial). exp(-300) is far inside float64's range,
# and an entry zeroed below the bound's floor is then below exp(-400) of its row's largest.
PEAK_GAP = 300.0
# Relative rounding of the objective from a pass in float32 (single_precision), for the EM
# loop's ascent check and stop test: 3e-9 to 5e-9 measured (the default grid's fits at K = 1..9
# on 3e5 rows of 3 columns, against the float64 pass), with a margin.
SINGLE_RESOLUTION = 1e-7
# The same in float32, above its floor (LOG_TINY_SINGLE): a term zeroed below the floor is
# then below exp(-32) of its row's largest.
PEAK_GAP_SINGLE = 30.0


def _bound(form: Any) -> float | None:
    """The shift of ``form``'s log joints: its components' largest peak, at least each of
    their log joints (the quadratic part is at most 0); None where it is not known."""
    if form.peak is None:
        return None
    top = float(np.maximum.reduce(form.peak, initial=-np.inf))  # np.max's, without its layers
    return top if np.isfinite(top) else None


def _lowest_terms(coef: np.ndarray, d: int, diagonal: bool) -> tuple[np.ndarray, ...]:
    """(a, h, g) of each row of ``coef`` (sum k, width; quadratic, constant, linear) such that
    its log joint at a row ``r`` from the shift is at least ``a - h r^2 - g r``: a the
    constant, h half a bound of the precision's largest eigenvalue (its largest absolute row
    sum), g the length of the linear coefficients; ``a`` is +inf for an empty component (its
    log joints are -inf, whose exp is an exact 0)."""
    q = coef.shape[1] - d - 1
    quad = np.abs(coef[:, :q])
    if diagonal:
        half = quad.max(axis=1)  # the coefficients are -P_ii / 2
    else:
        # quadratic_pairs' order: -P_ii / 2 for i = j, -P_ij (both halves) otherwise.
        rows, cols, doubled = quadratic_pairs(d)
        full = np.zeros((coef.shape[0], d, d))
        full[:, rows, cols] = quad * (2.0 / doubled)
        full[:, cols, rows] = full[:, rows, cols]
        half = 0.5 * full.sum(axis=2).max(axis=1)
    linear = coef[:, q + 1 :]
    length = np.sqrt(np.einsum("ki,ki->k", linear, linear))
    const = np.where(coef[:, q] == -np.inf, np.inf, coef[:, q])
    return const, half, length


def _partial(
    x: np.ndarray,
    weights: np.ndarray | None,
    forms: list,
    log_max: bool = True,
    single: bool = False,
    group: int | None = None,
) -> list[tuple[list[np.ndarray], list[float], list[float]]]:
    """For each group of ``group`` rows of ``x`` (all of them where None), in row order, and
    each form: the sums r^T [quadratic features, 1, linear features] (k, q + 1 + d), the
    log-likelihood and the sum of log max_k r_nk (NaN where ``log_max`` is False); in float32
    where ``single`` (:func:`single_precision`), each block's sums added in float64.

    Each form's log joints are computed less a bound of them (the largest log peak of its
    components, folded into the constants), so that exp needs no subtraction of each row's
    largest log joint: only rows far below the bound (more than ``PEAK_GAP``), and forms with
    no bound, take that shift. Terms more than ``LOG_TINY + log k`` below the shift are set to
    0 rather than left subnormal (see ``exp_normal``); where a bound from the block's largest
    row norm shows that no term is that low, the pass skips looking for them, and without
    ``log_max`` also each row's largest log joint (no term is zeroed there, and every total is
    at least a normal number).

    In float32 the coefficients are rounded once per pass, an error ``e`` (sum k, width) that
    would move every row's log joints alike, and with them the log-likelihood by up to ~1e-6
    relative, from one pass to the next as the coefficients change: more than EM's gain per
    step near its end. The log-likelihood's derivative by the coefficients is the statistics
    ``S`` themselves (sum_n r_nk [features, 1]), so ``sum(e * S)`` restores it to first order;
    what is left is the rows' own rounding, of both signs, which adds up as its square root.
    """
    first = forms[0]
    d = first.n_features
    width = feature_width(d, first.diagonal)
    q = width - d - 1
    ups = [_bound(f) for f in forms]
    dtype = np.float32 if single else np.float64
    gap = PEAK_GAP_SINGLE if single else PEAK_GAP
    # Each form's constants (less its bound) against the row of ones: the log joints are one
    # product.
    # (np.concatenate: vstack's and hstack's values without their Python layers)
    coef = np.concatenate(
        [
            np.concatenate([f.coef[:q].T, (f.const - (u or 0.0))[:, None], f.coef[q:].T], 1)
            for f, u in zip(forms, ups, strict=True)
        ]
    )  # (sum k, width)
    coef_used = coef.astype(dtype) if single else coef
    if single and not np.array_equal(np.isfinite(coef_used), np.isfinite(coef)):
        # beyond float32's range: in float64
        return _partial(x, weights, forms, log_max, group=group)
    bounds = np.cumsum([0] + [f.n_components for f in forms])
    tiny = LOG_TINY_SINGLE if single else LOG_TINY
    # Python floats: a NumPy float64 would make every float32 operation with it one in float64
    floors = [tiny + float(np.log(f.n_components)) for f in forms]
    # The bound costs a few operations per block and a pass over the rows' d columns; a
    # look for low terms costs one pass over the sum k log joints.
    lowest = _lowest_terms(coef, d, first.diagonal) if coef.shape[0] >= d + 5 else None
    heads, margin = bounds[:-1], np.asarray(floors) + 1.0
    # In float32 most blocks have log joints below the floor (11 standard deviations from a
    # component), and looking for them per block costs as much as the rest. Instead every
    # log joint is raised to at least the floor + 1 and each row's total checked to be at
    # least exp(-gap): a raised term then adds at most exp(floor + 1 + gap) ~ 1e-13 of its
    # row's total. A form with an empty component (log joints -inf, which must stay an exact
    # 0) is not raised.
    clamps = [
        floor + 1.0 if single and np.all(np.isfinite(f.const)) else None
        for f, floor in zip(forms, floors, strict=True)
    ]
    least = float(np.exp(-gap))
    safe = [False] * len(forms)
    n = x.shape[0]
    group = max(n, 1) if group is None else group
    block = _gaussian_block(width, coef.shape[0], group, len(forms), np.dtype(dtype).itemsize)
    buffer = np.empty((feature_rows(d, first.diagonal), block), dtype)
    _feature_views(buffer, d, block, first.diagonal)[0][q] = 1.0  # the constant row, once
    joints = np.empty((coef.shape[0], block), dtype)
    ones = np.ones(max(f.n_components for f in forms), dtype)
    # Unweighted rows: each form's log totals and largest log joints (less the shifts), added
    # position by position and summed at the end.
    logs = np.zeros((len(forms), 2, block if weights is None else 0))
    pair = np.empty((2, block), dtype)
    step = _product_rows(width, block)
    spans = list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))
    shift_column = first.shift[:, None]
    # float32 without row maxima, every form bounded and raised to a floor: each block's
    # forms are normalised together (one exp, one product for the statistics), a few calls
    # per block and form rather than ten per form; a block where a row's total is below
    # exp(-gap) under some form goes through the form-by-form path.
    lane = single and not log_max and step >= block and None not in (*ups, *clamps)
    if lane:
        # at least each form's floor + 1, as a row (see _lane_block)
        floor = np.full(block, max(c for c in clamps if c is not None), dtype)
        totals_buffer = np.empty((len(forms), block), dtype)
        lane_sums = np.zeros((coef.shape[0], width))
        lane_logs = np.zeros((len(forms), block if weights is None else 1))
        lane_weight = 0.0
    if single:
        with np.errstate(invalid="ignore"):  # -inf for an empty component: no rounding
            rounding = np.where(np.isfinite(coef), coef - coef_used, 0.0)
    results = []  # each group's, from its own zero (see row_groups)
    m = 0  # the rows of the block the views are of
    for head in range(0, max(n, 1), group):
        stop = min(head + group, n)
        sums = [np.zeros((f.n_components, width)) for f in forms]
        loglik = [0.0] * len(forms)
        log_max_resp = [0.0] * len(forms)
        logs[:] = 0.0
        if lane:
            lane_sums[:] = 0.0
            lane_logs[:] = 0.0
            lane_weight = 0.0
        for start in range(head, stop, block):
            rows = x[start : min(start + block, stop)]
            if rows.shape[0] != m:  # the views of a block of m rows
                m = rows.shape[0]
                views = _feature_views(buffer, d, m, first.diagonal)
                joint = joints[:, :m]  # (sum k, m)
                log_total, top_out, pair_m = pair[0, :m], pair[1, :m], pair[:, :m]
                logs_m = [logs[j, :, :m] for j in range(len(forms))]
                parts = [joint[lo:hi] for lo, hi in spans]  # each form's (k, m)
            feats = _write_features(rows, shift_column, views)
            if step >= m:
                np.matmul(coef_used, feats, joint)
            else:
                for at in range(0, m, step):
                    np.matmul(coef_used, feats[:, at : at + step], out=joint[:, at : at + step])
            w = None if weights is None else weights[start : start + m]
            total_weight = m if w is None else float(w.sum())
            if lane:
                totals = totals_buffer[:, :m]  # (forms, m)
                if _lane_block(
                    joint, feats, w, spans, floor[:m], least, ones, totals, lane_logs, lane_sums
                ):
                    lane_weight += total_weight
                    continue
                np.matmul(coef_used, feats, joint)  # form by form, from the start
            if lowest is not None:
                centred = feats[q + 1 :]
                r2 = float(np.einsum("im,im->m", centred, centred).max())
                a, half, length = lowest
                low = a - half * r2 - length * np.sqrt(r2)
                safe = list(np.minimum.reduceat(low, heads) >= margin)
            for j, part in enumerate(parts):
                up = ups[j]
                clamp = None if safe[j] else clamps[j]
                if not log_max and (safe[j] or clamp is not None) and up is not None:
                    unit = ones if single else None
                    if _normalise_unshifted(
                        part, w, j, sums, loglik, feats, step, clamp, least, unit
                    ):
                        loglik[j] += up * total_weight
                        continue
                    lo = spans[j][0]
                    for at in range(0, m, step):  # a total out of range: from the start
                        np.matmul(
                            coef_used[lo : lo + part.shape[0]],
                            feats[:, at : at + step],
                            out=part[:, at : at + step],
                        )
                # each row's largest log joint less the bound
                top = np.maximum.reduce(part, axis=0, out=None if w is not None else top_out)
                shift = None
                if up is None or not top.min() >= -gap:
                    # Rows where every component has log joint -inf contribute -inf, as they should.
                    top[~np.isfinite(top)] = 0.0
                    shift = top.copy() if up is None else np.where(top < -gap, top, 0.0)
                    part -= shift
                    top -= shift
                    loglik[j] += float(shift.sum(dtype=np.float64) if w is None else w @ shift)
                if safe[j] and shift is None:
                    np.exp(part, part)
                else:
                    exp_normal(part, floors[j])
                # each row's total, at least its largest term, exp(top); the largest
                # responsibility of a row is exp(top) / total
                total = np.matmul(ones[: part.shape[0]], part)
                if w is None:
                    np.log(total, log_total)
                    logs_m[j] += pair_m
                else:
                    lt = float(w @ np.log(total))
                    loglik[j] += lt
                    log_max_resp[j] += float(w @ top) - lt
                scale = np.divide(1.0, total, total)
                if w is not None:
                    scale *= w
                loglik[j] += (up or 0.0) * total_weight
                part *= scale  # responsibilities (k, m) times the rows' weights
                if step >= m:
                    sums[j] += part @ feats.T
                else:
                    _add_statistics(sums[j], part, feats, step)
        for j, (log_totals, tops) in enumerate(logs.sum(axis=2)):
            loglik[j] += float(log_totals)
            log_max_resp[j] += float(tops - log_totals)
        if lane:
            for j, ((lo, hi), up) in enumerate(zip(spans, ups, strict=True)):
                sums[j] += lane_sums[lo:hi]
                loglik[j] += float(lane_logs[j].sum()) + (up or 0.0) * lane_weight
        if single:  # the coefficients' rounding, to first order (see above)
            for j, (lo, hi) in enumerate(spans):
                loglik[j] += float(np.einsum("kw,kw->", rounding[lo:hi], sums[j]))
        if not log_max:
            log_max_resp = [float("nan")] * len(forms)
        results.append((sums, loglik, log_max_resp))
    return results


def _lane_block(
    joint: np.ndarray,
    feats: np.ndarray,
    w: np.ndarray | None,
    spans: list[tuple[int, int]],
    floor: np.ndarray,
    least: float,
    ones: np.ndarray,
    totals: np.ndarray,
    logs: np.ndarray,
    sums: np.ndarray,
) -> bool:
    """One float32 block of every form at once (the lane of ``_partial``): the log joints
    ``joint`` (sum k, m), less each form's bound, raised to ``floor`` (m,) and exponentiated; each
    form's totals into ``totals`` (forms, m). Where every total is at least ``least`` the log
    totals are added to ``logs`` (by position, or weighted into its first column), the
    responsibilities' statistics (times the weights) to ``sums`` (sum k, width), and True is
    returned; else False, with ``joint`` overwritten and nothing added."""
    # against a row, not a scalar: NumPy 2.4's maximum with a scalar runs at 0.39 ns per
    # float32, against a row broadcast over the log joints at 0.11
    np.maximum(joint, floor, out=joint)
    np.exp(joint, out=joint)
    for (lo, hi), total in zip(spans, totals, strict=True):
        np.matmul(ones[: hi - lo], joint[lo:hi], out=total)
    if not np.minimum.reduce(totals, axis=None) >= least:
        return False
    log_totals = np.log(totals)
    if w is None:
        logs[:, : totals.shape[1]] += log_totals
    else:
        logs[:, 0] += log_totals @ w
    np.divide(1.0, totals, out=totals)
    if w is not None:
        totals *= w
    for (lo, hi), scale in zip(spans, totals, strict=True):
        np.multiply(joint[lo:hi], scale, out=joint[lo:hi])
    _add_statistics(sums, joint, feats, LANE_PRODUCT_ROWS)
    return True


def _normalise_unshifted(
    part: np.ndarray,
    w: np.ndarray | None,
    j: int,
    sums: list[np.ndarray],
    loglik: list[float],
    feats: np.ndarray,
    step: int,
    clamp: float | None = None,
    least: float = 0.0,
    ones: np.ndarray | None = None,
) -> bool:
    """Responsibilities from log joints ``part`` (k, m) less a bound with none near the
    subnormal floor (or, where ``clamp`` is given, raised to at least ``clamp``), their
    statistics added to ``sums[j]`` and log-likelihood (less the bound's) to ``loglik[j]``;
    False, with nothing added, where a total overflowed (the bound did not hold to rounding)
    or, with ``clamp``, a row's total is below ``least``. ``ones``: a vector of ones at least
    k long whose product with ``part`` gives the totals (float32; else they are its sum)."""
    if clamp is not None:  # against a row (see _lane_block)
        np.maximum(part, np.full(part.shape[1], clamp, part.dtype), out=part)
    np.exp(part, out=part)
    # (m,), at least a normal number: no term is below the floor
    total = part.sum(axis=0) if ones is None else np.matmul(ones[: part.shape[0]], part)
    if clamp is not None and not total.min() >= least:
        return False
    log_total = np.log(total)
    lt = float(log_total.sum(dtype=np.float64) if w is None else w @ log_total)
    if not np.isfinite(lt):
        return False
    scale = np.divide(1.0, total, out=total)
    if w is not None:
        scale *= w
    loglik[j] += lt
    part *= scale
    _add_statistics(sums[j], part, feats, step)
    return True


@cache
def _coef_order(width: int, d: int) -> np.ndarray:
    """The columns of the pass's sums [quadratic, 1, linear] in the order of
    ``QuadraticForm.coef`` and then 1 (read-only)."""
    q = width - d - 1
    order = np.r_[0:q, q + 1 : width, q]
    order.flags.writeable = False
    return order


def _threaded(
    x: np.ndarray, weights: np.ndarray | None, forms: list
) -> tuple[list[np.ndarray], list[float], list[float]]:
    values_per_row = forms[0].coef.shape[0] + 1 + sum(f.n_components for f in forms)
    least = MIN_GAUSSIAN_VALUES_PER_THREAD // values_per_row
    min_rows = max(cpu_threads.MIN_ROWS_PER_THREAD, least)
    # the kernel threads do not see this thread's context
    log_max, single = _log_max_wanted.get(), _single_wanted.get()
    width = feature_width(forms[0].n_features, forms[0].diagonal)
    k = sum(f.n_components for f in forms)
    itemsize = 4 if single else 8

    def group_of(n: int) -> int:
        """Rows per group of a chunk of n rows."""
        return row_groups(n, _gaussian_block(width, k, n, len(forms), itemsize))

    group = group_of(x.shape[0])
    # The groups' sums do not depend on the threads, so their count is chosen by timing, per
    # kind of pass: its features, its components to a power of two (in a lockstep grid the
    # forms change as fits end) and its rows to a power of two.
    key = (width, k.bit_length(), single, int(x.shape[0]).bit_length())

    def groups_of(lo: int, hi: int) -> list:
        """The groups' results of rows lo..hi (lo a multiple of the group), in row order."""
        parts = over_threads(
            x[lo:hi],
            None if weights is None else weights[lo:hi],
            lambda xs, ws, start: _partial(xs, ws, forms, log_max, single, group),
            min_rows_per_thread=min_rows,
            align=group,
        )
        return [sums for part in parts for sums in part]

    files = pass_processes.current()  # the fit's rows as its worker processes map them
    start = None if files is None else files.offset(x, weights)
    if files is not None and start is not None:
        with cpu_threads.one_blas_thread():
            groups = files.chunk_groups(
                _partial, x, weights, start, group_of, min_rows, (forms, log_max, single)
            )
    elif x.shape[0] < min_rows:
        # Too few rows for a second thread (run_split and over_threads would run them whole
        # on this one): the same call without their machinery, which costs as much as the
        # pass on a few hundred rows (a model-selection grid runs one per structure a round).
        with cpu_threads.one_blas_thread():
            groups = _partial(x, weights, forms, log_max, single, group)
    else:
        probe_rows = PROBE_GAUSSIAN_VALUES_PER_THREAD // values_per_row
        groups = GAUSSIAN_THREADS.run_split(key, groups_of, x.shape[0], group, min_rows, probe_rows)
    sums = [reduce(np.add, (g[0][j] for g in groups)) for j in range(len(forms))]
    # [quadratic, 1, linear] to the order of QuadraticForm.coef and then 1
    order = _coef_order(width, forms[0].n_features)
    sums = [np.take(s, order, axis=1) for s in sums]  # C-contiguous, as hstack's
    loglik = [float(sum(g[1][j] for g in groups)) for j in range(len(forms))]
    log_max_resp = [float(sum(g[2][j] for g in groups)) for j in range(len(forms))]
    return sums, loglik, log_max_resp
