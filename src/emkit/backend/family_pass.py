r"""The CPU pass of the E-step of mixtures of component families (NumPy).

For each block of rows, each mixture's log joints :math:`\log\pi_k + \log p_k(x_n)` (shape
(k, m), component-major) are filled by one kernel call per family kind
(:mod:`emkit.distributions.batched`), normalised by a log-sum-exp into responsibilities, and
turned into the statistics by one more call per family kind. The rows' own statistics (counts,
logarithms, the base measure) are computed once per block and shared by every mixture evaluated
on it (batched restarts). Blocks are small enough to stay in cache, and are split over threads
as in :func:`emkit.backend.gaussian_pass.quadratic_sums` (NumPy releases the GIL), each thread
with single-threaded BLAS; partial sums are added in a fixed order.

Within :func:`rows_kept` (a fit), the row statistics of an array that depend on the rows alone
(:attr:`~emkit.distributions.batched.LinearKernel.rows_only`) are computed once for all its
rows and reused by every pass over it, and by every chunk that is a view of its rows. A mixture
of one exponential family then costs per pass a product, a log-sum-exp and a product per block
(:func:`_linear_partial`): the base measure :math:`h(x)` is the same under every component, so
it cancels from the responsibilities and adds :math:`\sum_n w_n h(x_n)` to the log-likelihood.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from emkit.backend.idle_rows import idle_rows
from emkit.backend.threads import TimedThreads, num_threads, one_blas_thread, over_threads
from emkit.backend.underflow import LOG_TINY, exp_normal

# Bytes of the per-block arrays (log joints, row statistics): a few stay in a core's L2 cache.
BLOCK_BYTES = 1 << 20
MIN_BLOCK_ROWS, MAX_BLOCK_ROWS = 512, 16_384
# The same for the pass of one linear kernel, whose blocks may be longer: each costs ~15 us of
# calls (a dozen ufuncs) whatever its length, ~20% of a block of 16,384 rows. On the AMD EPYC
# VM (1 MiB of L2, a large L3) blocks of 65,536 rows (a whole part) made the pass of two
# Exponential or Gamma components 10-20% faster than blocks of 16,384 (measured best earlier
# on the Intel host, before the calls per block were counted; not measured there since).
LINEAR_BLOCK_BYTES = 3 << 21
LINEAR_MAX_ROWS = 1 << 16
# Rows per part of a pass (over_threads' part_rows): parts of fixed rows make the sums the
# same to the last bit on any number of threads, so the thread count is chosen by timing.
PART_ROWS = 1 << 16
# The pass of linear kernels adds its sums unit by unit (units of PART_ROWS rows, the same
# bits), and a kernel thread takes this many parts of whole units: fewer calls, fewer
# hand-overs of the GIL between the threads (on the 2-vCPU VM each costs ~20 us: the Gamma
# pass of 1e6 rows on two idle vCPUs took 3.5 ms with a part per unit, 3.2-3.3 with two
# parts per thread; one thread 3.7-3.8).
LINEAR_PARTS_PER_THREAD = 2
FAMILY_THREADS = TimedThreads()
# Row statistics kept for a fit take at most this many times the bytes of the rows (plus a
# little): beyond it they are computed block by block in every pass, as without rows_kept.
KEPT_BYTES_PER_ROW_BYTE = 4
KEPT_EXTRA_BYTES = 1 << 26
# Rows whose statistics are computed (and reduced) at once when they are kept: a few arrays
# of them stay in a core's L2 cache.
FEATURE_ROWS = 1 << 16
# Sums of logarithms of values in [1, k] take the logarithm of products of this many values.
LOG_GROUP = 32
# Products of values in [1, s] are kept below e^LOG_PRODUCT (far from overflow).
LOG_PRODUCT = 700.0
# The linear pass takes the log joints relative to the first component's (no maximum per row)
# where they differ from it by at most this much: the responsibilities and their products with
# the statistics then stay far from subnormal numbers.
REFERENCE_SPREAD = 350.0
# The exponentials relative to a component are taken in base 2 (np.exp2 is the faster).
LOG2E = 1.4426950408889634

# Repeated rows (counts, binary data): a fit runs on the distinct rows weighted by their
# totals where the rows lie on an integer grid of at most DISTINCT_GRID cells and the distinct
# rows are at most 1 / DISTINCT_SHARE of them; below DISTINCT_MIN_ROWS rows it is not worth it.
DISTINCT_MIN_ROWS = 16_384
DISTINCT_SHARE = 8
DISTINCT_GRID = 1 << 20
# Rows read first to rule out data that is not integer (continuous rows) at little cost.
DISTINCT_HEAD_ROWS = 4096

# A mixture as the pass reads it: log weights (k,), and (columns, kernel) for each family kind.
Groups = tuple[tuple[Any, Any], ...]


def distinct_rows(
    x: np.ndarray, sample_weight: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray] | None:
    r"""The distinct rows of ``x`` (n, d) and their total weights, where they are far fewer
    than the rows; else None.

    EM on the distinct rows :math:`u` weighted by :math:`W_u = \sum_{n: x_n = u} w_n` has
    the statistics, the log-likelihood and so the iterates of EM on all rows (up to the
    rounding of the sums), at a cost per iteration proportional to the distinct rows. They
    are looked for only in float64 rows holding integers on a grid of at most
    ``DISTINCT_GRID`` cells (counts, binary data; one counting pass), and kept where there
    are at most ``n / DISTINCT_SHARE`` of them and ``n >= DISTINCT_MIN_ROWS``.

    Returns
    -------
    (rows, weights): float64 arrays of shape (u, d) (in lexicographic order) and (u,), the
    number of copies of each row (``sample_weight`` None) or the sum of their weights.
    """
    n, d = x.shape
    if n < DISTINCT_MIN_ROWS or d == 0 or x.dtype != np.float64:
        return None
    head = x[:DISTINCT_HEAD_ROWS]
    if not np.array_equal(np.rint(head), head):
        return None
    low, high = x.min(axis=0), x.max(axis=0)
    span = high - low + 1.0  # finite: the rows are
    if float(np.prod(span)) > DISTINCT_GRID:
        return None
    sizes = span.astype(np.int64)
    strides = np.ones(d, dtype=np.int64)
    for j in range(d - 2, -1, -1):
        strides[j] = strides[j + 1] * sizes[j + 1]
    key = None
    for j in range(d):  # a column at a time: a few arrays of n values at most
        shifted = x[:, j] - low[j]  # integers in [0, span) where x holds integers; exact
        codes = shifted.astype(np.int64)
        if not np.array_equal(codes, shifted):
            return None
        if strides[j] != 1:
            codes *= strides[j]
        if key is None:
            key = codes
        else:
            key += codes
    assert key is not None
    cells = int(strides[0] * sizes[0])
    counts = np.bincount(key, minlength=cells)
    present = np.flatnonzero(counts)
    if present.shape[0] * DISTINCT_SHARE > n:
        return None
    if sample_weight is not None:
        counts = np.bincount(key, weights=sample_weight, minlength=cells)
    weights = counts[present].astype(np.float64)
    rows = low + (present[:, None] // strides % sizes).astype(np.float64)
    return rows, weights


@dataclass(frozen=True)
class RowFeatures:
    """Per-row statistics of a block of m rows for one family kind.

    Attributes
    ----------
    values : float64 array of shape (p, m), the statistics :math:`T(x)` (0 outside the support).
    base : array of shape (m,) or None, the base measure :math:`h(x)` (None: 0).
    inside : bool array of shape (m,) or None, rows in the support (None: every row).
    """

    values: np.ndarray
    base: np.ndarray | None = None
    inside: np.ndarray | None = None


def _keeps_rows(kernel: Any) -> bool:
    """True for a linear kernel (:class:`~emkit.distributions.batched.LinearKernel`: ``key``,
    ``features``, ``coef``, ``const``) whose row statistics depend on the rows alone."""
    return bool(getattr(kernel, "rows_only", False))


class _Kept:
    """An array whose row statistics are kept: the array, its statistics by kernel key (None:
    too large to keep), the largest magnitude of each, the same with a row of ones below
    (:meth:`augmented_of`), and how many ``rows_kept`` blocks hold it."""

    def __init__(self, x: np.ndarray):
        self.x = x
        self.address = x.__array_interface__["data"][0]  # of its first row (x is not moved)
        self.features: dict[Any, RowFeatures | None] = {}
        self.sizes: dict[Any, np.ndarray] = {}
        self.augmented: dict[Any, np.ndarray] = {}
        # Statistics computed into an array with room for a row of ones below, not yet
        # written (untouched memory costs nothing until a pass needs the row).
        self.room: dict[Any, np.ndarray] = {}
        self.base_sums: dict[tuple, float] = {}
        self.row_sums: dict[tuple, np.ndarray] = {}
        self.holders = 0
        self.lock = threading.Lock()

    def features_of(self, kernel: Any) -> RowFeatures | None:
        """All rows' statistics of ``kernel``'s kind (computed on first use), or None where
        they would take too much memory."""
        key = kernel.key
        if key not in self.features:
            with self.lock:
                if key not in self.features:
                    self._compute(kernel)
        return self.features[key]

    def augmented_of(self, key: Any) -> np.ndarray:
        """The kept statistics of ``key`` (p, n) with a row of ones below, (p + 1, n), made on
        first use by a pass that reads it (the pass relative to each row's largest log joint,
        where one product then gives the log densities with their constants): the ones
        written below statistics that were computed, else the statistics copied."""
        if key not in self.augmented:
            with self.lock:
                if key in self.room:
                    room = self.room.pop(key)
                    room[-1] = 1.0
                    self.augmented[key] = room
                if key not in self.augmented:
                    found = self.features[key]
                    assert found is not None
                    p, n = found.values.shape
                    out = np.empty((p + 1, n))
                    out[:-1] = found.values
                    out[-1] = 1.0
                    self.augmented[key] = out
                    if not np.may_share_memory(found.values, self.x):
                        # The statistics move into it: one copy kept, not two.
                        self.features[key] = RowFeatures(out[:-1], found.base, found.inside)
        return self.augmented[key]

    def _compute(self, kernel: Any) -> None:
        """The statistics of every row, and their largest magnitudes and sums. Statistics that
        are the rows themselves (:math:`T(x) = x`, every row in the support, one feature or
        rows stored feature by feature) are kept as a view of them, no copy; others are
        computed ``FEATURE_ROWS`` rows at a time (by the kernel's ``write_features`` where it
        has one) and reduced while they are in cache, into an array with room for a row of
        ones below (:meth:`augmented_of`). The sums of each piece of ``FEATURE_ROWS`` rows
        are kept too (:meth:`row_sum`)."""
        x, key = self.x, kernel.key
        n = x.shape[0]
        first = kernel.features(x[:FEATURE_ROWS])
        p = first.values.shape[0]
        if (p + 2) * n * 8 > KEPT_BYTES_PER_ROW_BYTE * x.nbytes + KEPT_EXTRA_BYTES:
            self.features[key] = None
            return
        if np.may_share_memory(first.values, x) and first.values.strides[-1] == 8:
            # A view of x where every row is in the support (each statistic contiguous).
            whole = first if n <= FEATURE_ROWS else kernel.features(x)
            if np.may_share_memory(whole.values, x):
                self._keep(key, whole, _Extremes.of(whole.values))
                return
        # With room for a row of ones below, where a pass reads them (augmented_of): no copy
        # then.
        augmented = np.empty((p + 1, n))
        out = augmented[:-1]
        extras: dict[str, np.ndarray] = {}  # "base", "inside": made where a piece has them
        made = threading.Lock()
        write = getattr(kernel, "write_features", None)

        def extra(name: str, fill: Any, dtype: Any) -> np.ndarray:
            with made:
                if name not in extras:
                    extras[name] = np.full(n, fill, dtype=dtype)
                return extras[name]

        def fill(rows: np.ndarray, _: object, offset: int) -> list[_Extremes]:
            pieces = []  # each piece's extremes, added up in row order after the parts
            for start in range(offset, offset + rows.shape[0], FEATURE_ROWS):
                stop = min(start + FEATURE_ROWS, n)
                piece = out[:, start:stop]
                if not (start and write is not None and write(x[start:stop], piece)):
                    f = first if start == 0 else kernel.features(x[start:stop])
                    piece[...] = f.values
                    if f.base is not None:
                        extra("base", 0.0, np.float64)[start:stop] = f.base
                    if f.inside is not None:
                        extra("inside", True, bool)[start:stop] = f.inside
                pieces.append(_Extremes.of(piece, start))
            return pieces

        # the pieces on the kernel threads (a log of 1e6 rows: 6 ms on one thread), two parts
        # a thread, taken as they come free
        parts = 2 * max(1, num_threads())
        per_part = FEATURE_ROWS * max(1, -(-n // (FEATURE_ROWS * parts)))
        extremes = _Extremes(p)
        for part in over_threads(x, None, fill, part_rows=per_part):
            for piece in part:
                extremes.merge(piece)
        features = RowFeatures(out, extras.get("base"), extras.get("inside"))
        self._keep(key, features, extremes)
        self.room[key] = augmented

    def _keep(self, key: Any, f: RowFeatures, extremes: _Extremes) -> None:
        """Keep ``f``, with the largest magnitude and the sum of each statistic, over all the
        rows and over each piece ``extremes`` added."""
        p, n = f.values.shape
        sums = np.zeros(p + 1)
        sums[:-1] = extremes.sums
        sums[-1] = n
        for start, stop, piece in extremes.pieces:
            self.row_sums[key, start, stop] = np.append(piece, float(stop - start))
        size = np.ones(p + 1)
        size[:-1] = np.maximum(extremes.high, -extremes.low) if n else 0.0
        self.sizes[key] = size
        self.row_sums[key, 0, n] = sums
        self.features[key] = f

    def row_sum(self, key: Any, start: int, stop: int, offset: int = 0) -> np.ndarray:
        r""":math:`\sum_n (T(x_n); 1)` over rows ``offset + start : offset + stop`` of the kept
        statistics of ``key``, shape (p + 1,)."""
        start, stop = offset + start, offset + stop
        if (key, start, stop) not in self.row_sums:
            found = self.features[key]
            assert found is not None
            self.row_sums[key, start, stop] = _row_sum(found.values[:, start:stop])
        return self.row_sums[key, start, stop]

    def base_sum(self, key: Any, start: int, stop: int) -> float:
        r""":math:`\sum_n h(x_n)` over rows ``start : stop`` of the kept statistics of ``key``."""
        if (key, start, stop) not in self.base_sums:
            found = self.features[key]
            assert found is not None
            self.base_sums[key, start, stop] = _base_sum(_sliced(found, start, stop), None)
        return self.base_sums[key, start, stop]


class _Extremes:
    """The largest and smallest value and the sum of each of p statistics, added up
    ``FEATURE_ROWS`` rows at a time (each piece read once from memory, or from cache just
    after it is written); and each piece's sums, with its first and last row (``pieces``:
    :meth:`_Kept.row_sum` of a pass's units, the same bits as summed there)."""

    def __init__(self, p: int):
        self.high, self.low = np.full(p, -np.inf), np.full(p, np.inf)
        self.sums = np.zeros(p)
        self.pieces: list[tuple[int, int, np.ndarray]] = []

    @classmethod
    def of(cls, values: np.ndarray, offset: int = 0) -> _Extremes:
        """The extremes of statistics ``values`` (p, m), rows ``offset`` on of the kept ones."""
        out = cls(values.shape[0])
        for start in range(0, values.shape[1], FEATURE_ROWS):
            out.add(values[:, start : start + FEATURE_ROWS], offset + start)
        return out

    def add(self, piece: np.ndarray, start: int) -> None:
        """Take in the statistics ``piece`` (p, m) of rows ``start`` on."""
        if piece.shape[1] == 0:
            return
        np.maximum(self.high, piece.max(axis=1), out=self.high)
        np.minimum(self.low, piece.min(axis=1), out=self.low)
        sums = np.add.reduce(piece, axis=1)  # as _row_sum
        self.sums += sums
        self.pieces.append((start, start + piece.shape[1], sums))

    def merge(self, other: _Extremes) -> None:
        """Take in ``other``'s (of the rows after these: its sums added as one piece's)."""
        np.maximum(self.high, other.high, out=self.high)
        np.minimum(self.low, other.low, out=self.low)
        self.sums += other.sums
        self.pieces += other.pieces


_KEPT: dict[int, _Kept] = {}
_KEPT_LOCK = threading.Lock()


@contextlib.contextmanager
def rows_kept(x: np.ndarray) -> Iterator[None]:
    """Within the block, passes over ``x`` (n, d), or over chunks that are views of its rows,
    compute the rows' own statistics once and keep them (a fit: the rows do not change).

    Only statistics that depend on the rows alone are kept, at most
    ``KEPT_BYTES_PER_ROW_BYTE`` times the bytes of ``x``; they are dropped when the last block
    holding ``x`` ends. ``x`` must not be modified within the block.

    BLAS runs on one thread within the block (:func:`~emkit.backend.threads.one_blas_thread`,
    as in every pass): the passes then find the limit set, instead of setting and restoring
    it each time (~50 us a pass through threadpoolctl, 1.2 ms of a 50 ms Gamma fit).
    """
    with _KEPT_LOCK:
        kept = _KEPT.get(id(x))
        if kept is None:
            kept = _KEPT[id(x)] = _Kept(x)
        kept.holders += 1
    try:
        with one_blas_thread():
            yield
    finally:
        with _KEPT_LOCK:
            kept.holders -= 1
            if kept.holders == 0:
                del _KEPT[id(x)]


def _kept_rows(x: np.ndarray) -> tuple[_Kept, int] | None:
    """The kept array whose rows ``offset : offset + len(x)`` are ``x`` (the same memory),
    and ``offset``; None where ``x`` is not such a view."""
    if not _KEPT or not isinstance(x, np.ndarray) or x.ndim != 2:
        return None
    address = x.__array_interface__["data"][0]
    for kept in list(_KEPT.values()):
        rows = kept.x
        if rows.dtype != x.dtype or rows.shape[1] != x.shape[1] or rows.shape[0] == 0:
            continue
        if x.shape[0] > 1 and rows.strides[0] != x.strides[0]:
            continue
        if x.shape[1] > 1 and rows.strides[1] != x.strides[1]:
            continue
        step = rows.strides[0]
        gap = address - kept.address
        if step == 0 or gap % step:
            continue
        offset = gap // step
        if 0 <= offset and offset + x.shape[0] <= rows.shape[0]:
            return kept, offset
    return None


def _row_sum(values: np.ndarray) -> np.ndarray:
    r""":math:`\sum_n (T_n; 1)` of statistics ``values`` (p, m), shape (p + 1,)."""
    return np.append(np.add.reduce(values, axis=1), float(values.shape[1]))


def _sliced(f: RowFeatures, start: int, stop: int) -> RowFeatures:
    return RowFeatures(
        f.values[:, start:stop],
        None if f.base is None else f.base[start:stop],
        None if f.inside is None else f.inside[start:stop],
    )


@dataclass(frozen=True)
class _Linear:
    r"""A mixture of one linear kernel on kept rows, as :func:`_linear_blocks` reads it.

    Attributes
    ----------
    kernel : the :class:`~emkit.distributions.batched.LinearKernel`.
    coef : array of shape (k, p + 1), :math:`(\eta_k, c_k + \log\pi_k)`.
    rows : array of shape (p + 1, m), the chunk's statistics with a row of ones below, where
        the blocks read it (the log joints relative to their maximum); else None.
    features : the chunk's kept :class:`RowFeatures` (its ``values`` the statistics (p, m)).
    normal_exp : True where no responsibility can be subnormal (:func:`_normal_exp`): the
        exponential needs no check (read only where ``reference`` is None).
    base_sum : :math:`\sum_n h(x_n)` over the chunk's rows (without sample weights).
    reference : array of shape (k - 1, p + 1), :math:`(A_j - A_0)\log_2 e` for j > 0 (the
        exponent of :math:`e^{\ell_j - \ell_0}` in base 2), where the log joints differ from
        the first component's by at most ``REFERENCE_SPREAD`` (:func:`_reference`); else
        None.
    group : how many totals :math:`\sum_k e^{\ell_k - \ell_0}` one product may take in the
        sum of their logarithms without overflow (1: a logarithm per row), where products of
        ``LOG_GROUP`` of them overflow.
    row_sum : callable ``(start, stop) -> (p + 1,)``, :math:`\sum_n (T(x_n); 1)` over the
        chunk's rows ``start : stop``.
    pivot : the component the log joints are taken relative to (0, or 1 in the pair form).
    lift : None, or the pair form of two components (:func:`_pair`): ``reference`` holds no
        constant's effect in the exponent, the totals are ``lift`` plus the exponential, and
        the pivot's sums come out divided by ``lift``.
    first : array of shape (p + 1,), the coefficients whose sum over rows the block
        log-likelihoods leave out (the pivot's log joints, in the pair form with the
        constant of the log totals added).
    """

    kernel: Any
    coef: np.ndarray
    rows: np.ndarray | None
    features: RowFeatures
    normal_exp: bool
    base_sum: float
    reference: np.ndarray | None = None
    group: int = LOG_GROUP
    row_sum: Any = None
    pivot: int = 0
    lift: float | None = None
    first: np.ndarray | None = None


def _chunk_features(
    x: np.ndarray, mixtures: Sequence[tuple[np.ndarray, Groups]]
) -> tuple[dict[Any, RowFeatures], list[_Linear] | None]:
    """The kept statistics of chunk ``x``'s rows by kernel key, for the kernels of
    ``mixtures`` that keep theirs (none where ``x`` is not kept); and where every mixture is
    one linear kernel whose rows all lie in its support, each as a :class:`_Linear`."""
    found = _kept_rows(x)
    if found is None:
        return {}, None
    kept, offset = found
    stop = offset + x.shape[0]
    features: dict[Any, RowFeatures] = {}
    for _, groups in mixtures:
        for _, kernel in groups:
            if not _keeps_rows(kernel):
                continue
            if kernel.key not in features:
                f = kept.features_of(kernel)
                if f is not None:
                    features[kernel.key] = _sliced(f, offset, stop)
    linear = []
    for log_weights, groups in mixtures:
        kernel = groups[0][1]
        f = features.get(getattr(kernel, "key", None))
        if len(groups) != 1 or not _keeps_rows(kernel) or f is None:
            return features, None
        if f.inside is not None:
            return features, None
        coef = np.empty((kernel.coef.shape[0], kernel.coef.shape[1] + 1))
        coef[:, :-1] = kernel.coef
        np.add(kernel.const, log_weights, out=coef[:, -1])
        size = kept.sizes[kernel.key]
        base = kept.base_sum(kernel.key, offset, stop)
        reference, group = _reference(coef, size, coef.shape[0] > 2)
        normal = reference is not None or _normal_exp(coef, size)  # read without reference
        pivot, lift, first = 0, None, coef[0]
        if reference is not None and coef.shape[0] == 2:
            reference, pivot, lift, group = _pair(coef, size)
            first = coef[pivot].copy()
            first[-1] += reference[0, -1]
        if reference is not None:
            # np.exp2 takes 0.68 ns a value where np.exp takes 0.80; scaling the exponents by
            # log2(e) rounds them once more (up to ~220 ulp of exp at |x| = 350), within the
            # rounding of the product that makes them (2.2e-14 relative against 1.7e-14).
            reference = reference * LOG2E
        rows = None
        if reference is None:
            rows = kept.augmented_of(kernel.key)[:, offset:stop]
        linear.append(
            _Linear(
                kernel,
                coef,
                rows,
                f,
                normal,
                base,
                reference,
                group,
                partial(kept.row_sum, kernel.key, offset=offset),
                pivot,
                lift,
                first,
            )
        )
    return features, linear


def _reference(
    coef: np.ndarray, size: np.ndarray, grouped: bool = True
) -> tuple[np.ndarray | None, int]:
    r"""The log joints relative to the first component's, :math:`\ell_j - \ell_0 = (A_j -
    A_0)(T; 1)`, where they are at most ``REFERENCE_SPREAD`` in magnitude
    (:math:`\sum_i |A_{ji} - A_{0i}|\,\max_n |T_{in}|`), as (k - 1, p + 1) coefficients; and
    how many totals :math:`s_n = 1 + \sum_{j>0} e^{\ell_j - \ell_0}` one product may take in
    the sum of their logarithms (0 without ``grouped``: two components take theirs from
    :func:`_pair`). (None, 0) for one component or larger differences."""
    k = coef.shape[0]
    if k < 2:
        return None, 0
    with np.errstate(invalid="ignore"):  # a weight of 0: -inf - finite, not finite
        reference = coef[1:] - coef[0]
        bound = np.abs(reference) @ size  # (k - 1,)
    if not (np.isfinite(reference).all() and bound.max() <= REFERENCE_SPREAD):
        return None, 0
    if not grouped:
        return reference, 0
    top = float(np.log1p(np.exp(bound).sum()))  # the totals lie in [1, e^top]
    group = LOG_GROUP if top <= 0.0 else int(min(LOG_GROUP, max(1, LOG_PRODUCT // top)))
    # A power of two: the blocks' rows (powers of two) then fall into whole groups.
    return reference, 1 << (group.bit_length() - 1)


def _pair(coef: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, int, float, int]:
    r""":func:`_reference` for two components, relative to the pivot :math:`p` whose constant
    :math:`c_p` (with its log weight) is the larger, :math:`o` the other: with :math:`a =
    \eta_o - \eta_p` and :math:`b = c_o - c_p \le 0` the totals are :math:`s_n = 1 + e^{b}
    u_n = e^{b}(\lambda + u_n)`, :math:`u_n = e^{a^\top T_n}`, :math:`\lambda = e^{-b} \ge 1`,
    so a block adds :math:`\lambda` once per row instead of :math:`b` and then 1. The
    responsibilities are :math:`u_n / (\lambda + u_n)` and :math:`\lambda / (\lambda +
    u_n)`, and :math:`\log s_n = b + \log(\lambda + u_n)`. Every factor stays a normal
    number: :math:`|a^\top T_n| + |b| \le` ``REFERENCE_SPREAD`` (checked by the caller).

    Returns
    -------
    (reference, pivot, lift, group): :math:`(a, b)` as an array of shape (1, p + 1), the pivot,
    :math:`\lambda`, and how many totals :math:`\lambda + u_n` one product may take in the sum
    of their logarithms (a power of two).
    """
    pivot = int(coef[1, -1] > coef[0, -1])
    reference = (coef[1 - pivot] - coef[pivot])[None, :]
    b = float(reference[0, -1])
    spread = float(np.abs(reference[0, :-1]) @ size[:-1])
    top = float(np.logaddexp(-b, spread))  # the totals lie in [1, e^top]
    group = int(min(LOG_GROUP, max(1, LOG_PRODUCT // top)))
    return reference, pivot, math.exp(-b), 1 << (group.bit_length() - 1)


def _normal_exp(coef: np.ndarray, size: np.ndarray) -> bool:
    r"""True where no responsibility :math:`e^{\ell_{jn} - \max_k \ell_{kn}}` can be
    subnormal: the log joints :math:`\ell = A (T; 1)` of two components differ by at most
    :math:`\max_{jk} \sum_i |A_{ji} - A_{ki}|\,\max_n |T_{in}|` (with a margin of 1)."""
    k = coef.shape[0]
    with np.errstate(invalid="ignore"):  # -inf (a weight of 0) - -inf: NaN, not normal
        spread = (np.abs(coef[:, None, :] - coef[None, :, :]) @ size).max()
    return bool(spread < -(LOG_TINY + np.log(k)) - 1.0)


def mixture_sums(
    x: np.ndarray,
    sample_weight: np.ndarray | None,
    mixtures: Sequence[tuple[np.ndarray, Groups]],
) -> list[tuple[np.ndarray, list[Any], float]]:
    r"""Responsibility totals, each family kind's sums and the log-likelihood of rows ``x``.

    Parameters
    ----------
    x : array of shape (n, d).
    sample_weight : array of shape (n,) or None.
    mixtures : for each mixture, its log weights (k,) and its groups: ``(columns, kernel)``
        pairs, ``columns`` a slice or index array of the components one kernel holds.

    Returns
    -------
    For each mixture: :math:`\sum_n w_n r_{nk}` (k,), the kernels' ``sums`` (one per group, in
    order) and :math:`\sum_n w_n \log p(x_n)`.
    """
    features, linear = _chunk_features(x, mixtures)
    # The kind of pass whose thread count is timed: its kernels (a linear kernel's components
    # and statistics: Exponential has one, Gamma two) and the size of the chunk.
    kinds = tuple(type(kernel).__name__ for _, groups in mixtures for _, kernel in groups)
    shapes = None if linear is None else tuple(one.coef.shape for one in linear)
    key = (kinds, shapes, x.shape[1], int(x.shape[0]).bit_length())

    def by_parts(fn: Any) -> list:
        return FAMILY_THREADS.run(
            key, lambda: over_threads(x, sample_weight, fn, part_rows=PART_ROWS)
        )

    if linear is None:
        parts = by_parts(lambda rows, w, start: _partial(rows, w, start, mixtures, features))
        out = parts[0]
        for other in parts[1:]:
            out = [_add(a, b) for a, b in zip(out, other, strict=True)]
        return out

    def linear_parts() -> list:
        units = -(-x.shape[0] // PART_ROWS)
        threads = num_threads()
        per_part = max(1, -(-units // (threads * LINEAR_PARTS_PER_THREAD)))
        return over_threads(
            x,
            sample_weight,
            lambda rows, w, start: _linear_partial(rows, w, start, linear, mixtures, threads > 1),
            part_rows=PART_ROWS * per_part,
        )

    sums = [unit for part in FAMILY_THREADS.run(key, linear_parts) for unit in part]
    out = []
    for j, one in enumerate(linear):
        stats = sums[0][0][j]
        loglik = sums[0][1][j]
        for other in sums[1:]:
            stats = stats + other[0][j]
            loglik += other[1][j]
        loglik += one.base_sum if sample_weight is None else _base_sum(one.features, sample_weight)
        out.append((stats[:, -1], [stats[:, :-1]], loglik))
    return out


def _base_sum(f: RowFeatures, w: np.ndarray | None) -> float:
    r""":math:`\sum_n w_n h(x_n)`."""
    if f.base is None:
        return 0.0
    return float(np.add.reduce(f.base) if w is None else w @ f.base)


def _block_rows(n_components: int, n_features: int) -> int:
    rows = BLOCK_BYTES // (8 * (2 * n_components + 3 * n_features + 2))
    return int(min(MAX_BLOCK_ROWS, max(MIN_BLOCK_ROWS, rows)))


def _linear_partial(
    x: np.ndarray,
    sample_weight: np.ndarray | None,
    offset: int,
    linear: list[_Linear],
    mixtures: Sequence[tuple[np.ndarray, Groups]],
    threaded: bool = False,
) -> list[tuple[list[np.ndarray], list[float]]]:
    r""":func:`_partial` for mixtures of one linear kernel each, on rows ``offset : offset +
    len(x)`` of the chunk (``offset`` a multiple of ``PART_ROWS``), for each unit of
    ``PART_ROWS`` rows in order: for each mixture :math:`(\sum_n w_n r_{nk} T(x_n), \sum_n
    w_n r_{nk})` as one array (k, p + 1), and the log-likelihood without the base measure
    (the caller adds it).

    Per block: the log joints :math:`(\eta, c + \log\pi)^\top (T; 1)` (one product), their
    log-sum-exp, and the statistics :math:`e\,((T; 1) / s)^\top` (one product, the
    normalisation :math:`s_n = \sum_k e_{kn}` applied to the rows' side). A block whose
    log-likelihood is not finite (a row of -inf under every component) is done again by
    :func:`_block`, which handles those rows. Each unit's blocks and sums are those of a
    call on that unit alone, whatever the rows of the call: a kernel thread takes several
    units at once (fewer calls, fewer hand-overs of the GIL) with the same answer to the
    last bit.
    """
    # Such blocks are done again; products of totals that overflow are taken again
    # (:meth:`_Views.sum_log_total`).
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return _linear_blocks(x, sample_weight, offset, linear, mixtures, threaded)


def _linear_blocks(x, sample_weight, offset, linear, mixtures, threaded):
    widest = max(one.coef.shape[0] for one in linear)
    n = x.shape[0]
    # Per block: the log joints (k, m), statistics (q, m) in and scaled, two rows (m,).
    q = max(one.coef.shape[1] for one in linear)
    rows = LINEAR_BLOCK_BYTES // (8 * (widest + 2 * q + 2))
    longest = min(max(MIN_BLOCK_ROWS, min(LINEAR_MAX_ROWS, rows)), PART_ROWS)
    units = [(lo, min(lo + PART_ROWS, n)) for lo in range(0, n, PART_ROWS)] or [(0, 0)]
    # Each unit's sums from zeros, in arrays over the units (their bookkeeping in one call).
    stats = [np.zeros((len(units), *one.coef.shape)) for one in linear]
    # The fast blocks' sums, rows in the order of the log joints (the pivot's first).
    fast = [np.zeros((len(units), *one.coef.shape)) for one in linear]
    logliks = [[0.0] * len(linear) for _ in units]
    for u, (lo, hi) in enumerate(units):
        block = min(longest, max(hi - lo, 1))
        for j, one in enumerate(linear):
            if one.reference is not None and sample_weight is None:
                # The pivot's log joints, summed once: sum_n A_p (T_n; 1).
                logliks[u][j] = float(one.first @ one.row_sum(offset + lo, offset + hi))
        for start in range(lo, hi, block):
            stop = min(start + block, hi)
            w = None if sample_weight is None else sample_weight[start:stop]
            for j, one in enumerate(linear):
                k, q = one.coef.shape
                tv = one.features.values[:, offset + start : offset + stop]  # (p, m)
                t = None if one.rows is None else one.rows[:, offset + start : offset + stop]
                if one.reference is not None:
                    v = _views(k, q, stop - start, True)
                    if threaded and k < q:
                        # Copied, contiguous for np.dot (which releases the GIL; matmul
                        # keeps it for a product this small, 26 us a block) and read from
                        # cache from here on.
                        np.copyto(v.features, tv)
                        tv = v.features
                    loglik = _reference_block(one, tv, w, v, tv is v.features)
                else:
                    v = _views(k, q, stop - start, False)
                    assert t is not None
                    loglik = _maximum_block(one, t, w, v)
                if math.isfinite(loglik):
                    into = fast[j][u]
                    if one.reference is not None and k < q:
                        # Fewer components than statistics: the responsibilities are
                        # scaled, their products with the statistics taken in one product
                        # and their totals summed, in cache (a row of ones in the product
                        # would be read from memory: 8 bytes a row).
                        np.multiply(v.others, v.rows[0], out=v.others)
                        if threaded:  # the same BLAS call (gemm: the same bits)
                            np.dot(v.joint, v.features_t, out=v.sums)
                        else:
                            np.matmul(v.joint, tv.T, out=v.sums)
                        np.add.reduce(v.joint, axis=1, out=v.totals)
                        into[:, :-1] += v.sums
                        into[:, -1] += v.totals
                    else:
                        if q == 2:
                            np.multiply(tv[0], v.inv, out=v.scaled[0])
                        else:
                            np.multiply(tv, v.inv, out=v.scaled[:-1])
                        if k > 1:
                            # np.dot, not matmul: the same BLAS call (gemm: the same bits),
                            # with the GIL released (matmul keeps it for a small output).
                            into += np.dot(v.joint, v.scaled_t, out=v.full)
                        else:  # one component: a vector-matrix product, left as it was
                            into += v.joint @ v.scaled_t
                    logliks[u][j] += loglik
                    continue
                log_weights, groups = mixtures[j]
                cache = {one.kernel.key: _sliced(one.features, offset + start, offset + stop)}
                resp_sum, sums, loglik = _block(x[start:stop], w, log_weights, groups, cache)
                stats[j][u] += np.column_stack([sums[0], resp_sum])
                logliks[u][j] += loglik - _base_sum(cache[one.kernel.key], w)  # caller adds
                if one.reference is not None and w is None:
                    logliks[u][j] -= float(one.first @ _row_sum(tv))  # added above
    for j, one in enumerate(linear):
        if one.lift is not None:
            fast[j][:, 0] *= one.lift
            if one.pivot:
                fast[j] = fast[j][:, ::-1]
        stats[j] += fast[j]
    return [([s[u] for s in stats], logliks[u]) for u in range(len(units))]


def _maximum_block(one: _Linear, t: np.ndarray, w: np.ndarray | None, v: _Views) -> float:
    r"""The unnormalised responsibilities :math:`e^{\ell_k - \max_j \ell_j}` of a block into
    ``v.joint``, their inverse totals (times the weights) into ``v.inv``; returns the block's
    log-likelihood (without the base measure)."""
    np.matmul(one.coef, t, out=v.joint)
    _fold(np.maximum, v.rows, v.top)
    np.subtract(v.joint, v.top, out=v.joint)
    if one.normal_exp:
        np.exp(v.joint, out=v.joint)
    else:
        exp_normal(v.joint, LOG_TINY + np.log(v.joint.shape[0]))
    _fold(np.add, v.rows, v.total)  # each in [1, k]
    np.divide(1.0, v.total, out=v.inv)  # the same bits as np.reciprocal, twice as fast
    if w is None:
        return v.sum_log_total(LOG_GROUP, LOG_GROUP) + float(np.add.reduce(v.top))
    np.log(v.total, out=v.total)
    v.total += v.top
    v.inv *= w
    return float(w @ v.total)


def _reference_block(
    one: _Linear, t: np.ndarray, w: np.ndarray | None, v: _Views, copied: bool = False
) -> float:
    r""":func:`_maximum_block` relative to the first component: :math:`e^{\ell_k - \ell_0}`
    (1 for the first, kept in ``v.joint``), normal numbers as the differences are bounded
    (:func:`_reference`). No maximum per row, one exponential fewer per row; the first
    component's log joints are summed by the caller (without weights) or here. With fewer
    components than statistics (k < q) the inverse totals (times the weights) go to the
    first row of ``v.joint`` instead, as the first component's responsibilities. ``t``: the
    block's statistics (p, m), without the row of ones; ``copied``: they are ``v.features``
    (contiguous), whose product np.dot takes with the GIL released (the same bits as
    matmul's, which keeps the GIL for a product this small)."""
    others, reference = v.others, one.reference
    assert reference is not None
    # The row of ones is added, not multiplied: cheaper than a product over it.
    if t.shape[0] == 1:
        np.multiply(reference[:, :1], t[0], out=others)
    elif copied:
        np.dot(reference[:, :-1], t, out=others)
    else:
        np.matmul(reference[:, :-1], t, out=others)
    if one.lift is None:
        others += reference[:, -1:]
        np.exp2(others, out=others)
        np.add(v.rows[1], 1.0, out=v.total)
        for row in v.rows[2:]:
            v.total += row
    else:  # the pair form (:func:`_pair`): the constant comes in with lift
        np.exp2(others, out=others)
        np.add(v.rows[1], one.lift, out=v.total)
    inv = v.joint[0] if v.joint.shape[0] <= t.shape[0] else v.inv
    np.divide(1.0, v.total, out=inv)  # as np.reciprocal, twice as fast (SIMD)
    if w is None:
        # Products of LOG_GROUP totals; the few that overflow are taken again.
        return v.sum_log_total(LOG_GROUP, one.group)
    np.log(v.total, out=v.total)
    assert one.first is not None
    out = float(w @ v.total) + float(one.first[:-1] @ (t @ w)) + one.first[-1] * float(w.sum())
    inv *= w
    return out


class _Views:
    """The buffers of :func:`_linear_blocks` for blocks of m rows and k components with q
    statistics (a row of ones included), and the views of them it uses, made once per thread;
    with ``ones_first`` the first row of the log joints holds 1 (:func:`_reference_block`).
    """

    def __init__(self, k: int, q: int, m: int, ones_first: bool):
        self.joint = np.empty((k, m))
        if ones_first:
            self.joint[0] = 1.0
        self.rows = list(self.joint)
        self.top, self.total = np.empty(m), np.empty(m)
        self.products = np.empty(m // 2)
        self.groups: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.scaled = np.empty((q, m))
        self.inv = self.scaled[-1]
        self.scaled_t = self.scaled.T
        self.full = np.empty((k, q))
        self.sums, self.totals = np.empty((k, q - 1)), np.empty(k)
        # A contiguous copy of the block's statistics (k < q on threads: _linear_blocks).
        self.features = np.empty((q - 1, m))
        # Views the blocks take, made once.
        self.others = self.joint[1:]
        self.features_t = self.features.T
        self.nbytes = 8 * m * (k + 2 * q + 1) + self.products.nbytes

    def sum_log_total(self, group: int, safe: int) -> float:
        r""":math:`\sum_n \log s_n` of the totals :math:`s_n \ge 1` in ``v.total``: the
        logarithm of products of ``group`` totals each, a logarithm per group instead of per
        row; the same sum up to rounding. The groups whose product overflows (every product
        is at least 1) are taken again as products of ``safe`` totals, which the caller keeps
        from overflow: a few rows far out cost their own groups, not the whole block's (an
        Exponential pass of 1e6 rows, 1% of its groups of 32 overflowing: 4.1-4.5 ms with
        each such block taken again whole, 3.7-4.1 ms). The caller ignores overflow
        (``np.errstate``: set once per call of :func:`_linear_partial`, not per block).
        ``v.total`` is left as it was, except where ``group`` is 1."""
        if group <= 1:
            return float(np.add.reduce(np.log(self.total, out=self.total)))
        found = self.groups.get(group)
        if found is None:
            m = self.total.shape[0]
            whole = m - m % group
            found = self.groups[group] = (
                self.total[:whole].reshape(group, -1),
                self.products[: whole // group],
                self.total[whole:],
            )
        grouped, products, rest = found
        out = 0.0
        if products.shape[0]:
            # An overflow (ignored by the caller) is the cue to take `safe` below.
            np.multiply.reduce(grouped, axis=0, out=products)
            np.log(products, out=products)
            out = float(np.add.reduce(products))
            if math.isinf(out):
                over = np.isinf(products)
                products[over] = 0.0
                out = float(np.add.reduce(products)) + _sum_log_safe(grouped[:, over], safe)
        if rest.shape[0]:
            out += float(np.add.reduce(np.log(rest)))
        return out


def _sum_log_safe(totals: np.ndarray, safe: int) -> float:
    r""":math:`\sum \log s` of ``totals`` (g, c), as products of ``safe`` totals each (a
    divisor of g, or 1: a logarithm per total)."""
    g = totals.shape[0]
    if safe > 1 and g % safe == 0:
        totals = np.multiply.reduce(totals.reshape(g // safe, safe, -1), axis=1)
    return float(np.add.reduce(np.log(totals, out=totals), axis=None))


_LOCAL = threading.local()


def _views(k: int, q: int, m: int, ones_first: bool) -> _Views:
    """This thread's :class:`_Views` for (k, q, m, ones_first): a few shapes kept (a fit's
    blocks and its last, shorter one), at most about two blocks' bytes, as the kernel threads
    hold them for the life of the process."""
    kept = getattr(_LOCAL, "views", None)
    if kept is None:
        kept = _LOCAL.views = {}
    found = kept.get((k, q, m, ones_first))
    if found is None:
        found = _Views(k, q, m, ones_first)
        held = sum(v.nbytes for v in kept.values())
        if len(kept) >= 8 or held + found.nbytes > 2 * LINEAR_BLOCK_BYTES:
            kept.clear()
        kept[k, q, m, ones_first] = found
    return found


def _fold(op: np.ufunc, rows: list[np.ndarray], out: np.ndarray) -> None:
    """``op`` of ``rows`` (k arrays of shape (m,)), first to last, into ``out`` (m,)."""
    if len(rows) == 1:
        np.copyto(out, rows[0])
        return
    op(rows[0], rows[1], out=out)
    for row in rows[2:]:
        op(out, row, out=out)


def _partial(
    x: np.ndarray,
    sample_weight: np.ndarray | None,
    offset: int,
    mixtures: Sequence[tuple[np.ndarray, Groups]],
    features: dict[Any, RowFeatures],
) -> list[tuple[np.ndarray, list[Any], float]]:
    widest = max(log_weights.shape[0] for log_weights, _ in mixtures)
    block = _block_rows(widest, x.shape[1])
    totals: list[Any] = [None] * len(mixtures)
    for start in range(0, x.shape[0], block):
        stop = min(start + block, x.shape[0])
        rows = x[start:stop]
        w = None if sample_weight is None else sample_weight[start:stop]
        # Row statistics of this block, shared by the mixtures: the kept ones sliced.
        cache: dict = {
            key: _sliced(f, offset + start, offset + stop) for key, f in features.items()
        }
        for j, (log_weights, groups) in enumerate(mixtures):
            part = _block(rows, w, log_weights, groups, cache)
            total = totals[j]
            totals[j] = part if total is None else _add(total, part)
    return totals


def _block(rows, w, log_weights, groups, cache):
    k, m = log_weights.shape[0], rows.shape[0]
    joint = np.empty((k, m))
    for cols, kernel in groups:
        joint[cols] = kernel.log_density(rows, cache)
    joint += log_weights[:, None]
    top = joint.max(axis=0)  # (m,)
    # Rows where every component has log joint -inf contribute -inf, as they should.
    top[~np.isfinite(top)] = 0.0
    joint -= top
    exp_normal(joint, LOG_TINY + np.log(k))
    total = joint.sum(axis=0)  # (m,)
    joint /= total  # responsibilities (k, m)
    log_norm = np.log(total)
    log_norm += top
    if w is None:
        loglik = float(log_norm.sum())
    else:
        loglik = float(w @ log_norm)
        if not math.isfinite(loglik):
            _drop_idle(joint, log_norm, w)
            loglik = float(w @ log_norm)
        joint *= w
    sums = [kernel.sums(rows, joint[cols], cache) for cols, kernel in groups]
    return joint.sum(axis=1), sums, loglik


def _drop_idle(joint: np.ndarray, log_norm: np.ndarray, w: np.ndarray) -> None:
    """The responsibilities in ``joint`` (k, m) and the ``log_norm`` (m,) of the
    :func:`~emkit.backend.idle_rows.idle_rows` set to 0, in place. Taken only for a block whose
    log-likelihood is not finite."""
    idle = idle_rows(w, log_norm)
    if idle.any():
        joint[:, idle] = 0.0
        log_norm[idle] = 0.0


def _add(a, b):
    (r, g, ll), (r2, g2, ll2) = a, b
    return r + r2, [s + s2 for s, s2 in zip(g, g2, strict=True)], ll + ll2
