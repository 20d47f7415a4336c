"""Batched linear algebra on small K x D x D arrays, through the arrays' backend namespace."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np

from emkit.backend.namespace import namespace_of
from emkit.backend.threads import MIN_ROWS_PER_THREAD, TimedThreads, over_threads

# A feature whose variance left unexplained by the features before it is below this fraction
# of its own variance is a linear combination of them to within rounding.
SINGULAR_FRACTION = 1e-13
# scaled_distances: rows per block of its products, whatever the rows and threads (a power of
# two: see scaled_distances); bytes of features and distances per NumPy call (a batch of
# blocks); the relative error it lets a distance carry before taking it by differences.
EXPANSION_ROWS = 256
EXPANSION_BATCH_BYTES = 1 << 20
EXPANSION_TOLERANCE = 2.0**-40
# Features up to which scaled_distances' differences add a batch of pairs' terms a column at
# a time (2 features: 0.16 ms against NumPy's reduction along the rows' 3.1 ms, for 1 MiB of
# terms; 50: 0.36 against 0.24; 300: 0.46 against 0.11).
COLUMN_SUM_FEATURES = 32
# Its thread counts, chosen by timing it (its numbers are the same on any): on the 2-vCPU
# EPYC VM a second thread gained nothing at 1e5 x 10 rows, 5 centres (2.2-3.1 ms on two,
# 2.6-2.8 on one), nor at 1e6 x 10, 10 centres (28-44 ms, 39-40).
DISTANCE_THREADS = TimedThreads()


def cholesky(covariances: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of (k, d, d) covariances.

    Raises LinAlgError where a matrix is not numerically positive definite: factorisation
    fails, or L_ii^2 / Sigma_ii (the share of feature i's variance that the earlier features do
    not explain, a scale-free quantity) falls below ``SINGULAR_FRACTION``. A matrix that is
    singular but for rounding would otherwise give precisions of order 1e30 and garbage
    densities.
    """
    chol, ok = namespace_of(covariances).cholesky(covariances)
    if not ok:
        raise np.linalg.LinAlgError("covariance is not positive definite")
    # ndarray methods, not np.diagonal / np.any: this runs on every M-step of every fit
    diagonal = chol.diagonal(0, -2, -1) ** 2
    variances = covariances.diagonal(0, -2, -1)
    if (diagonal < SINGULAR_FRACTION * variances).any():
        raise np.linalg.LinAlgError("covariance is not positive definite")
    return chol


def inverse_positive_definite(matrices: np.ndarray) -> np.ndarray:
    """Inverses of (k, d, d) symmetric positive definite ``matrices`` (precisions), as
    :math:`L^{-T}L^{-1}` from their Cholesky factors :math:`L`: symmetric and positive definite
    but for rounding of the order of the largest eigenvalue's, where ``np.linalg.inv`` of an
    ill-conditioned matrix (a nearly collapsed component) can return one that is not.

    Raises LinAlgError where a matrix is not numerically positive definite.
    """
    chol, ok = namespace_of(matrices).cholesky(matrices)
    if not ok:
        raise np.linalg.LinAlgError("precision is not positive definite")
    inv_l = precision_cholesky(chol)  # L^{-T}
    return inv_l @ np.swapaxes(inv_l, 1, 2)


def require_positive(variances: np.ndarray) -> np.ndarray:
    """``variances`` unchanged if all are finite and > 0; LinAlgError otherwise."""
    if not np.all((variances > 0) & np.isfinite(variances)):
        raise np.linalg.LinAlgError("variance is not positive")
    return variances


@functools.lru_cache(maxsize=64)
def _identity(d: int) -> np.ndarray:
    """``np.eye(d)``, made once per dimension (every M-step of a fit reads it); read-only."""
    eye = np.eye(d)
    eye.setflags(write=False)
    return eye


def precision_cholesky(chol: np.ndarray) -> np.ndarray:
    """U = L^{-T} for each lower Cholesky factor L of shape (k, d, d): then Sigma^{-1} = U U^T."""
    eye = np.broadcast_to(_identity(chol.shape[-1]), chol.shape)
    inv_l = namespace_of(chol).solve_triangular(chol, eye, lower=True)  # L^{-1}, batched
    return np.ascontiguousarray(np.swapaxes(inv_l, 1, 2))


def scaled_distances(
    x: np.ndarray,
    centres: np.ndarray,
    scales: np.ndarray | None = None,
    shift: np.ndarray | None = None,
) -> np.ndarray:
    r""":math:`D_{nk} = \sum_j ((x_{nj} - c_{kj}) s_{kj})^2` of NumPy rows ``x`` (n, d) and
    centres ``centres`` (k, d), scales ``scales`` (k, d), (k, 1) or 1 (None), shape (n, k),
    float64, each within ``EXPANSION_TOLERANCE`` (2^-40) of itself; laid out component by
    component (the transpose of a (k, n) array), whose columns the posterior and
    :func:`~emkit.models.mixture.most_probable` read.

    By expansion from ``shift`` :math:`t` (d,), a point near the data (None: the centres'
    median): with :math:`z = x - t`, :math:`g_k = c_k - t`, :math:`p_k = s_k^2` (per feature),

    .. math:: D_{nk} = T_{nk} - 2 \textstyle\sum_j p_{kj} g_{kj} z_{nj}, \qquad
              T_{nk} = \textstyle\sum_j p_{kj} z_{nj}^2 + \sum_j p_{kj} g_{kj}^2,

    for a block of rows two matrix products, of :math:`z` and of :math:`z^2` (per-centre
    scales: the rows' :math:`|z|^2` times :math:`p_k`), no (n, k, d) array formed, as
    scikit-learn expands from the origin. The expansion cancels where a row
    is much nearer a centre than both are from the shift (a narrow component far from the
    others): the pairs whose rounding bound, :math:`(2d + 12)\,2^{-53}\,T_{nk}` (see
    :func:`_expanded_rows`), could pass 2^-40 of the result are taken again by direct
    differences :math:`(x - c_k) s_k`, squared and added in an order that depends on d alone.

    Each row's distances are the same numbers whatever the rows around it and the number of
    threads: the products run on blocks of ``EXPANSION_ROWS`` rows whatever n (the last one
    padded with zeros), on one BLAS thread each (:func:`~emkit.backend.threads.over_threads`),
    and OpenBLAS 0.3 gives a row of a product of fixed shape the same bits wherever it sits
    in it (measured: blocks of 3 or 7 rows moved rows' last bits with their place, a row on
    its own took another kernel, and two BLAS threads moved some of a (256, 300) @ (300, 300)
    product's); the differences are elementwise, each pair's features added in an order that
    depends on d alone (:func:`_differences`).
    """
    n, d = x.shape
    k = centres.shape[0]
    out = np.empty((k, n)).T
    if n == 0 or k == 0:
        return out
    centres = np.asarray(centres, dtype=np.float64)
    # float64 scales: float32 ones squared in float32 moved p by 2^-24 (the differences
    # multiply them into float64 rows)
    scales = None if scales is None else np.asarray(scales, dtype=np.float64)
    if shift is None:
        # the centres' median, feature by feature: their mean followed one far centre (a
        # junk component, an outlying cluster) and took every other centre's pairs by
        # differences (1e5 x 10 rows, 5 centres, one 1e5 away: 80% of the pairs, 3x the
        # time of the direct code). By a sort: np.median of (5, 10) takes 9 us, a sort 1.3.
        middle = np.sort(centres, axis=0)[(k - 1) // 2 : k // 2 + 1]
        shift = np.add.reduce(middle, axis=0) / middle.shape[0]
    gap = centres - shift  # (k, d)
    weight = np.ones((k, 1)) if scales is None else scales * scales  # p, (k, d) or (k, 1)
    # p per centre: T from the rows' squared norms, no product with p
    square = None if scales is None else weight[:, 0] if weight.shape[1] == 1 else weight
    weighted_gap = weight * gap
    linear = -2.0 * weighted_gap  # (k, d)
    const = np.add.reduce(weighted_gap * gap, axis=1)  # (k,)
    # kept where (2d + 12) 2^-53 T < EXPANSION_TOLERANCE D
    keep_ratio = EXPANSION_TOLERANCE * 2.0**53 / (2 * d + 12)

    def part(rows: np.ndarray, _: object, first: int) -> None:
        got = out[first : first + rows.shape[0]]
        batches = _expanded_rows(rows, shift, linear, square, const, keep_ratio, got.T)
        for start, held, redo in batches:
            # the pairs the expansion could lose, a batch at a time (at most size * k of them)
            step = max(1, EXPANSION_BATCH_BYTES // (16 * max(d, 1)))
            for at in range(0, redo.shape[0], step):
                centre, pair = np.divmod(redo[at : at + step], held)
                pair += start
                got[pair, centre] = _differences(
                    rows[pair], centres[centre], None if scales is None else scales[centre]
                )

    if n < 2 * MIN_ROWS_PER_THREAD:  # one thread whatever the count
        over_threads(x, None, part, align=EXPANSION_ROWS)
    else:
        key = ("distances", k.bit_length(), d, n.bit_length(), square is None)
        DISTANCE_THREADS.run(key, lambda: over_threads(x, None, part, align=EXPANSION_ROWS))
    return out


def _expanded_rows(
    rows: np.ndarray,
    shift: np.ndarray,
    linear: np.ndarray,
    square: np.ndarray | None,
    const: np.ndarray,
    keep_ratio: float,
    out: np.ndarray,
) -> Iterator[tuple[int, int, np.ndarray]]:
    r""":func:`scaled_distances` of ``rows`` (m, d) by expansion into ``out`` (k, m), a
    batch of rows at a time: with :math:`z` the rows minus ``shift`` (d,), ``linear`` (k, d)
    times :math:`z` plus :math:`T`, ``square`` (k, d) times :math:`z^2` (``square`` (k,):
    times the rows' :math:`|z|^2`; None: :math:`|z|^2`) plus ``const`` (k,). Yields, for
    each batch whose pairs' rounding bound could exceed ``1 / keep_ratio`` of the result (or
    whose result is not a number), its first row, its number of rows and those pairs, as
    flat indices (centre * rows + row) into its distances.

    The bound, to first order in :math:`u = 2^{-53}`, with :math:`A = \sum_j p_j z_j^2`,
    :math:`R = \sum_j p_j g_j^2` and :math:`2 \sum_j p_j |g_j z_j| \le A + R`:

    - the inputs: :math:`z`, :math:`g` each round once, moving :math:`z - g` by at most
      :math:`u(|z| + |g|)` per feature, so :math:`D` by at most
      :math:`2u\sqrt{D}\sqrt{2(A + R)} \le u(D + 2(A + R))`; :math:`p = s^2` rounds once:
      :math:`uD`;
    - :math:`T`: a dot product of d terms whose :math:`z^2` round, :math:`(d + 1)uA`; the
      constant :math:`R`'s own d + 1 roundings; their sum: :math:`(d + 2)u(A + R)`;
    - the linear part, d terms with :math:`-2pg` rounded once: :math:`(d + 1)u(A + R)`;
    - their sum rounds once: :math:`uD`.

    In all :math:`3uD + (2d + 5)u(A + R)`, and since :math:`D \le 2(A + R)` and the
    computed :math:`T` is :math:`A + R` to :math:`(d + 2)u`, at most :math:`(2d + 12) u T`
    (whatever the order BLAS adds in). Kept where that is at most 2^-40 of the result.
    """
    m, d = rows.shape
    k = linear.shape[0]
    block = EXPANSION_ROWS
    per_row = 8 * (3 * d + 3 * k + 1) + k  # bytes of the buffers below, the distances'
    size = min(max(1, EXPANSION_BATCH_BYTES // (per_row * block)), -(-m // block)) * block
    z = np.empty((size, d))  # the rows minus the shift
    squares = np.empty((size, d))
    # the shift tiled, to subtract from C-contiguous rows in one loop over their values (a
    # broadcast (d,) runs d values at a time)
    tiled = None
    if rows.flags.c_contiguous:
        tiled = np.empty((size, d))
        tiled[:] = shift
        tiled = tiled.reshape(-1)
    column = const[:, None]
    per_centre = None if square is None or square.ndim == 2 else square[:, None]  # (k, 1)
    ones = np.ones(d)
    norms = np.empty(size)  # |z|^2
    total = np.empty((k, size))  # T
    limit = np.empty((k, size))
    kept = np.empty((k, size), dtype=bool)
    spare = None  # the last block's distances, padded
    for start in range(0, m, size):
        stop = min(start + size, m)
        held = stop - start
        blocks = -(-held // block)
        padded = blocks * block
        if tiled is not None:
            np.subtract(rows[start:stop].reshape(-1), tiled[: held * d], out=z[:held].reshape(-1))
        else:
            np.subtract(rows[start:stop], shift, out=z[:held])
        if padded > held:
            z[held:padded] = 0.0
        np.multiply(z[:padded], z[:padded], out=squares[:padded])
        if padded == held:
            dist = out[:, start:stop]
        else:
            spare = np.empty((k, padded)) if spare is None else spare
            dist = spare
        # (k, d) @ (blocks, d, block) into (blocks, k, block): a product per block
        np.matmul(
            linear, _features_by_block(z, padded, block), out=_distances_by_block(dist, block)
        )
        t = total[:, :padded]
        if square is not None and per_centre is None:
            by_block = _features_by_block(squares, padded, block)
            np.matmul(square, by_block, out=_distances_by_block(t, block))
            t += column
        else:  # a product with ones per block: each row's norm as the row alone gives it
            blocks_of = squares[:padded].reshape(blocks, block, d)
            norm = np.matmul(blocks_of, ones, out=norms[:padded].reshape(blocks, block))
            norm = norm.reshape(1, padded)
            if per_centre is None:
                np.add(norm, column, out=t)
            else:
                np.multiply(per_centre, norm, out=t)
                t += column
        dist += t
        # strictly less: T overflowed where the true distance did not (rows near 1e154: T =
        # inf, D = inf - 2 p g z = inf), and inf <= inf kept inf; a T of 0 (a row on the
        # only centre) goes to differences, which give 0 too
        ok = np.less(t, np.multiply(dist, keep_ratio, out=limit[:, :padded]), out=kept[:, :padded])
        if padded > held:
            out[:, start:stop] = dist[:, :held]
            ok = ok[:, :held]
        if not ok.all():
            yield start, held, np.flatnonzero(~ok)


def _features_by_block(a: np.ndarray, padded: int, block: int) -> np.ndarray:
    """The first ``padded`` rows of ``a`` (rows, d) as (blocks, d, block): a view."""
    return a[:padded].reshape(padded // block, block, a.shape[1]).transpose(0, 2, 1)


def _distances_by_block(a: np.ndarray, block: int) -> np.ndarray:
    """``a`` (k, blocks * block), each row contiguous, as (blocks, k, block): a view (the
    rows' axis split in two)."""
    k, padded = a.shape
    return a.reshape(k, padded // block, block).transpose(1, 0, 2)


def _differences(rows: np.ndarray, centres: np.ndarray, scales: np.ndarray | None) -> np.ndarray:
    r""":math:`\sum_j ((x_j - c_j) s_j)^2` of paired ``rows``, ``centres`` (r, d) and
    ``scales`` (r, d) or (r, 1), shape (r,): the same numbers in any batch, each pair's d
    terms added in an order that depends on d alone: up to ``COLUMN_SUM_FEATURES`` features
    one column at a time (a reduction along rows that short costs more per row than the
    loop), past it along each pair's contiguous row (NumPy's pairwise sum; the loop made d
    NumPy calls per batch of 1 MiB / 16d pairs: 10 s for 2,000 rows of 8,192 features and
    10 centres, 0.7 s a centre at a time)."""
    z = rows - centres
    if scales is not None:
        z *= scales
    z *= z
    d = z.shape[1]
    if d > COLUMN_SUM_FEATURES:
        return np.add.reduce(z, axis=1)
    sums = z[:, 0].copy() if d else np.zeros(z.shape[0])
    for column in range(1, d):
        sums += z[:, column]
    return sums
