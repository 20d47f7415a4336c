"""Starting values for mixtures: k-means++, k-means, random responsibilities, random rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

import numpy as np

from emkit.backend import nearest_pass, threads
from emkit.backend.nearest import shifted_source
from emkit.distributions.centroids import squared_distances
from emkit.distributions.gaussian import GaussianComponents, GaussianStats
from emkit.distributions.gaussian.base import own_spectra
from emkit.distributions.regularization import Regularization
from emkit.em import fit_starts
from emkit.hierarchical import hierarchical_labels
from emkit.models.kmeans import centroid_mixture

INIT_METHODS = ("k-means++", "kmeans", "random", "random_from_data", "hc")

# scikit-learn's KMeans defaults, which init_params="kmeans" follows.
KMEANS_MAX_ITER = 300
KMEANS_TOL = 1e-4


def kmeans_plusplus(
    x: np.ndarray,
    k: int,
    rng: np.random.RandomState,
    sample_weight: np.ndarray | None = None,
    n_local_trials: int | None = None,
) -> np.ndarray:
    """Greedy k-means++ seeds (Arthur and Vassilvitskii, 2007), shape (k, d).

    Each new centre is the best (lowest weighted potential) of ``n_local_trials`` (default
    2 + log k, as scikit-learn) candidates drawn with probability proportional to weight times
    squared distance to the nearest centre so far. Rows are drawn by inverse CDF over a
    canonical (lexicographic) row order, so a row of weight m draws exactly as m repeated rows
    do, and the row order does not matter (from ``MIN_BUCKETED`` rows up to the rounding of
    the sums of the masses: see :class:`_Buckets`). The rows are laid out once, shifted by the
    data's mean and feature-major (:func:`~emkit.backend.nearest_pass.shifted_rows`; below
    ``MIN_BUCKETED`` rows in that order, so that a step's draws read its distances in order),
    and the distances of the rows to a step's candidates are one matrix
    product per block of rows (see :mod:`emkit.backend.nearest`), blocks split over threads.
    """
    n, d = x.shape
    rows_of = _Buckets.of(x)
    order = rows_of.layout  # the rows' layout: sorted, or None (as given)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if w is not None and order is not None:
        w = w[order]
    trials = 2 + int(np.log(k)) if n_local_trials is None else int(n_local_trials)
    # From the rows' mean (one product; any point near the data serves, see
    # emkit.backend.nearest), laid out. On one BLAS thread: a product of all the rows, which
    # OpenBLAS's threads would run no faster and then spin on a core through the passes below.
    with threads.one_blas_thread():
        shift = np.ones(n) @ x / n if n else np.zeros(d)
    rows = nearest_pass.shifted_rows(x, shift, order=order)
    centres = np.empty((k, d))
    first = rows_of.draw(1, rng, lambda at: np.ones(n)[at] if w is None else w[at])[0]
    centres[0] = x[rows_of.index(first)]
    # Squared distances minus |x - s|^2 (the rows' norms), rows laid out: to each candidate
    # (``out``), and to the nearest centre so far (``near``), whose weighted sums by bucket
    # plus the norms' give the buckets' masses without forming every row's.
    out = np.empty((max(trials, 1), n))
    near = np.empty(n)
    _nearest_candidate(rows, w, centres[:1], None, out)
    np.copyto(near, out[0])
    base = rows_of.totals(rows.norms if w is None else w * rows.norms)

    def mass(at: slice | np.ndarray) -> np.ndarray:
        """Weight times squared distance to the nearest centre so far of rows ``at``."""
        got = np.add(near[at], rows.norms[at])
        np.maximum(got, 0.0, out=got)
        return got if w is None else np.multiply(got, w[at], out=got)

    for j in range(1, k):
        totals = None if base is None else rows_of.totals(near if w is None else w * near)
        candidates = rows_of.draw(trials, rng, mass, _sum_or_none(totals, base))
        potential = _nearest_candidate(rows, w, x[rows_of.index(candidates)], near, out)
        best = int(np.argmin(potential))
        centres[j] = x[rows_of.index(candidates[best])]
        np.copyto(near, out[best])
    return centres


# From this many rows k-means++ sorts the rows by buckets of their first column (a radix sort,
# about this many rows per bucket) and lexicographically only within the buckets it draws
# from, and leaves them in their order otherwise, instead of sorting and laying out all of
# them in lexicographic order (an argsort of a million values, and the gather, cost more
# than all of scikit-learn's seeding at (1e6, 2, 5)).
MIN_BUCKETED = 1 << 16
BUCKET_ROWS = 256


@dataclass
class _Buckets:
    """The rows' lexicographic order, sorted lazily, for inverse-CDF draws.

    Below ``MIN_BUCKETED`` rows they are laid out sorted (``layout`` (n,), the permutation).
    From there on they stay as given (``layout`` None) and fall into ``count`` buckets of
    increasing first column (every row of a bucket comes before every row of the next in
    lexicographic order), ``bucket`` (n,) each row's; a bucket's rows are found and sorted
    lexicographically when first drawn from. A draw takes the bucket by inverse CDF of the
    buckets' masses, then the row within it by the inverse CDF of its rows' masses in
    lexicographic order: the row the inverse CDF over all rows in lexicographic order gives,
    up to the rounding of those sums.
    """

    x: np.ndarray
    layout: np.ndarray | None
    bucket: np.ndarray | None = None
    count: int = 1
    sorted: dict = field(default_factory=dict)

    @classmethod
    def of(cls, x: np.ndarray) -> _Buckets:
        n = x.shape[0]
        count = min(n // BUCKET_ROWS, 1 << 16)
        if n < MIN_BUCKETED or count < 2:
            return cls(x, canonical_order(x))
        column = x[:, 0]
        low, high = float(column.min()), float(column.max())
        if not high > low:
            return cls(x, canonical_order(x))
        # Monotone in the first column: the floor of an increasing affine map, clipped.
        key = (column - low) * (count / (high - low))
        np.minimum(key, count - 1, out=key)
        return cls(x, None, key.astype(np.intp), count)

    def index(self, at: np.ndarray) -> np.ndarray:
        """The rows of ``x`` at layout positions ``at``."""
        return at if self.layout is None else self.layout[at]

    def totals(self, mass: np.ndarray) -> np.ndarray | None:
        """The sums of ``mass`` (n,) by bucket, (count,); None where laid out sorted."""
        if self.bucket is None:
            return None
        return np.bincount(self.bucket, weights=mass, minlength=self.count)

    def draw(
        self,
        size: int,
        rng: np.random.RandomState,
        mass: Callable[[Any], np.ndarray],
        totals: np.ndarray | None = None,
    ) -> np.ndarray:
        """Layout positions drawn by inverse CDF of the rows' masses (``mass(at)`` those of
        layout positions ``at``, an index array or a slice) over the rows in lexicographic
        order (a row of mass m draws as m rows of 1); ``totals``: those masses' sums by
        bucket where known."""
        if self.layout is not None:  # laid out sorted
            return draw_rows(mass(slice(None)), size, rng)
        assert self.bucket is not None
        if totals is None:
            totals = np.bincount(self.bucket, weights=mass(slice(None)), minlength=self.count)
        cumulative = np.cumsum(totals)
        u = rng.uniform(size=size) * cumulative[-1]
        last = int(np.flatnonzero(totals > 0)[-1]) if cumulative[-1] > 0 else self.count - 1
        picks = np.minimum(np.searchsorted(cumulative, u, side="right"), last)
        new = [int(b) for b in np.unique(picks) if int(b) not in self.sorted]
        if new:  # the rows of the buckets drawn from for the first time, in input order
            mark = np.zeros(self.count, dtype=bool)
            mark[new] = True
            rows = np.flatnonzero(mark[self.bucket])
            of = self.bucket[rows]
            for b in new:
                members = rows[of == b]
                self.sorted[b] = members[canonical_order(self.x[members])]
        out = np.empty(size, dtype=np.intp)
        for i, (ui, b) in enumerate(zip(u, picks, strict=True)):
            perm = self.sorted[int(b)]
            before = cumulative[b - 1] if b > 0 else 0.0
            inside = np.cumsum(mass(perm))
            at = min(int(np.searchsorted(inside, ui - before, side="right")), perm.shape[0] - 1)
            out[i] = perm[at]
        return out


def _sum_or_none(totals: np.ndarray | None, base: np.ndarray | None) -> np.ndarray | None:
    """Buckets' masses: ``totals + base``, at least 0 (rounding), or None."""
    if totals is None or base is None:
        return None
    return np.maximum(totals + base, 0.0)


def _nearest_candidate(
    rows: nearest_pass.ShiftedRows,
    w: np.ndarray | None,
    centres: np.ndarray,
    near: np.ndarray | None,
    out: np.ndarray,
    block: int = 8192,
) -> np.ndarray:
    """min(near, squared distance to each of ``centres`` (t, d) minus |x - s|^2) for the
    laid-out ``rows`` (n rows), written to ``out[:t]`` (t, n): |c - s|^2 - 2 (x - s).(c - s)
    (None: no ``near``); and its weighted sum over the rows (weights ``w`` (n,), None: 1),
    each candidate's potential less the rows' weighted norms, shape (t,)."""
    t = centres.shape[0]
    gap = centres - rows.shift  # (t, d)
    coef = np.hstack([-2.0 * gap, np.einsum("td,td->t", gap, gap)[:, None]])  # (t, d + 1)

    def partial(part: nearest_pass.ShiftedRows, _: object, offset: int) -> list[np.ndarray]:
        potentials = []  # each block's, added in row order whatever the parts
        for start in range(0, part.shape[0], block):
            stop = min(start + block, part.shape[0])
            at = slice(offset + start, offset + stop)
            dist = np.matmul(coef, part.features[:, start:stop], out=out[:t, at])
            if near is not None:
                np.minimum(dist, near[at], out=dist)
            potentials.append(dist.sum(axis=1) if w is None else dist @ w[at])
        return potentials

    parts = threads.over_threads(rows, None, partial, align=block)
    return reduce(np.add, [p for part in parts for p in part], np.zeros(t))


def random_rows(
    x: np.ndarray,
    k: int,
    rng: np.random.RandomState,
    sample_weight: np.ndarray | None = None,
    order: np.ndarray | None = None,
) -> np.ndarray:
    """k rows drawn with probability proportional to their weight (with replacement), (k, d);
    ``order``: :func:`canonical_order` of ``x`` where the caller has it (several starts)."""
    w = np.ones(x.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    order = canonical_order(x) if order is None else order
    return x[order[draw_rows(w[order], k, rng)]]


def canonical_rows(x: np.ndarray, sample_weight: np.ndarray | None):
    """Rows and weights in lexicographic row order: draws then ignore the input order."""
    w = np.ones(x.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    order = canonical_order(x)
    return x[order], w[order]


def canonical_order(x: np.ndarray) -> np.ndarray:
    """Indices putting the rows of ``x`` (n, d) in lexicographic order, equal rows in input
    order (as ``np.lexsort(x.T[::-1])``).

    Sorts by the first column, then re-sorts only the runs of rows that tie there.
    """
    n, d = x.shape
    if n < 2 or d == 0:
        return np.arange(n)
    column = np.ascontiguousarray(x[:, 0])
    order = np.argsort(column)
    first = column[order]
    tied = first[1:] == first[:-1]
    if not tied.any():
        return order
    run = np.zeros(n, dtype=bool)
    run[1:] |= tied
    run[:-1] |= tied
    rows = order[run]  # rows in runs of equal first values, each run contiguous
    keys = (rows,) + tuple(x[rows, j] for j in range(d - 1, -1, -1))
    order[run] = rows[np.lexsort(keys)]
    return order


def draw_rows(mass: np.ndarray, size: int, rng: np.random.RandomState) -> np.ndarray:
    """Row indices drawn by inverse CDF of ``mass`` (a row of mass m draws as m rows of 1)."""
    cumulative = np.cumsum(mass)
    u = rng.uniform(size=size) * cumulative[-1]
    return np.minimum(np.searchsorted(cumulative, u, side="right"), mass.shape[0] - 1)


def lloyd(
    x: np.ndarray,
    centres: np.ndarray,
    sample_weight: np.ndarray | None = None,
    *,
    tol: float = KMEANS_TOL,
    max_iter: int = KMEANS_MAX_ITER,
) -> np.ndarray:
    r"""Lloyd's k-means from ``centres`` (k, d): hard EM of a mixture of
    :class:`~emkit.distributions.centroids.Centroids`.

    Each iteration gives every row to its nearest centre and moves each centre to the weighted
    mean of its rows (an emptied cluster moves onto the row farthest from its centre). The
    iterations stop after ``max_iter`` M-steps, or by scikit-learn's rule
    (:class:`CentreShift`): once the squared shifts of the centres in one step sum to at most
    ``tol`` times the data's mean (unweighted) variance, as :class:`~emkit.KMeans` does.

    Parameters
    ----------
    x : array of shape (n, d).
    centres : array of shape (k, d), the starting centres.
    sample_weight : array of shape (n,), or None for unit weights.
    tol : float >= 0, relative to the mean variance of ``x``'s columns.
    max_iter : int, M-steps at most.

    Returns
    -------
    array of shape (k, d), the final centres.
    """
    mean, variance = column_moments(x)
    data = shifted_source(x, mean, sample_weight)
    start = centroid_mixture(centres, mean)
    rule = CentreShift(tol * float(np.mean(variance)))
    fit = fit_starts([start], data, tol=0.0, max_iter=max_iter, convergence=rule)
    return fit.best.model.components.means


@dataclass
class CentreShift:
    r"""scikit-learn's k-means stopping rule, a :data:`~emkit.em.ConvergenceRule` for the loop.

    A run of k-means (:class:`~emkit.models.kmeans.CentroidMixture`) has converged once the
    centres moved in one step by :math:`\sum_k \lVert \mu_k' - \mu_k \rVert^2 \le` ``tol``.
    A step that moves no centre at all is the M-step after the labels stopped changing
    (scikit-learn's "strict convergence"), so the rule stops there whatever ``tol``; the
    run's M-steps are then scikit-learn's ``n_iter_``.

    Attributes
    ----------
    tol : float >= 0, in the data's squared units: scikit-learn's ``tol`` times the mean
        (unweighted) variance of the data's columns.
    shifts : the last squared shift seen for each model that ended a step, by ``id`` of the
        model (for scikit-learn's verbose printout of how a run ended).
    """

    tol: float
    shifts: dict[int, float] = field(default_factory=dict)

    def __call__(self, old: Any, new: Any) -> bool:
        before, after = old.components.means, new.components.means
        if before.shape != after.shape:
            return False
        shift = float(np.sum((after - before) ** 2))
        self.shifts[id(new)] = shift
        return shift <= self.tol


def column_moments(x: np.ndarray, block: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unweighted, population) variance of each column of ``x`` (n, d): one pass
    over blocks of rows split over threads, in deviations from the first rows' mean (so
    that the sums of squares do not cancel), no copy of ``x``."""
    n, d = x.shape
    if n == 0:
        return np.full(d, np.nan), np.full(d, np.nan)
    shift = x[:block].mean(axis=0)

    def sums(rows: np.ndarray, _: object, start: int) -> list[np.ndarray]:
        out = []  # each block's, added in row order whatever the parts
        ones = np.ones(min(block, rows.shape[0]))
        buffer = np.empty((ones.shape[0], d))
        for at in range(0, rows.shape[0], block):
            part = rows[at : at + block]
            m = part.shape[0]
            diff = np.subtract(part, shift, out=buffer[:m])
            # Column sums as products with ones: row-major reductions over the rows run
            # across only d columns at a time.
            first = ones[:m] @ diff
            out.append(np.stack([first, ones[:m] @ np.multiply(diff, diff, out=diff)]))
        return out

    parts = threads.over_threads(x, None, sums, align=block)
    first, second = reduce(np.add, [p for part in parts for p in part], np.zeros((2, d))) / n
    return shift + first, np.maximum(second - first**2, 0.0)


def nearest(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (Euclidean) for each row, shape (n,)."""
    return np.argmin(squared_distances(x, centres), axis=1)


def initial_responsibilities(
    x: np.ndarray,
    k: int,
    method: str,
    rng: np.random.RandomState,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Responsibilities (n, k) to start EM from, by ``method`` (one of INIT_METHODS).

    "k-means++" assigns each row to the nearest of the k-means++ seeds; "kmeans" runs
    :func:`lloyd` from those seeds first (scikit-learn's ``KMeans(n_init=1)``);
    "random_from_data" to the nearest of k distinct rows drawn uniformly; "random" draws
    responsibilities uniformly and normalises them; "hc" cuts mclust's model-based
    hierarchical tree (:mod:`emkit.hierarchical`) at k groups, without drawing from ``rng``
    (rows outside the tree's fixed subset, above 2000 rows, start with no responsibility; data
    with fewer than k distinct rows of positive weight fall back to k-means++). The tree is
    built on the rows of positive weight alone, so that a row of weight 0 starts the fit as
    dropping it would; like mclust's ``hc``, which takes no weights, it reads each of those
    rows once whatever its weight (the weights enter from the first M-step on).
    """
    n = x.shape[0]
    if method == "hc":
        kept = np.arange(n) if sample_weight is None else np.flatnonzero(sample_weight > 0)
        cut = hierarchical_labels(x if kept.shape[0] == n else x[kept], k)
        if cut is not None:
            rows, labels = cut
            resp = np.zeros((n, k))
            resp[kept[rows], labels] = 1.0
            return resp
        method = "k-means++"
    if method == "random":
        resp = rng.uniform(size=(n, k))
        return resp / resp.sum(axis=1, keepdims=True)
    if method == "k-means++":
        labels = nearest(x, kmeans_plusplus(x, k, rng, sample_weight))
    elif method == "kmeans":
        labels = nearest(x, lloyd(x, kmeans_plusplus(x, k, rng, sample_weight), sample_weight))
    elif method == "random_from_data":
        labels = nearest(x, x[rng.choice(n, size=k, replace=False)])
    else:
        raise ValueError(f"init_params must be one of {', '.join(INIT_METHODS)}; got {method!r}")
    resp = np.zeros((n, k))
    resp[np.arange(n), labels] = 1.0
    return resp


def components_from_responsibilities(
    structure: type[GaussianComponents],
    x: np.ndarray,
    resp: np.ndarray,
    reg_covar: float,
    shared: dict | None = None,
    data: np.ndarray | None = None,
    component_prior: Any = None,
) -> tuple[np.ndarray, GaussianComponents]:
    """Weights (k,) and components from an initial assignment: the structure's M-step from
    the clusters' moments, as mclust's ``mstep`` from its starting partition (its MAP M-step
    under ``component_prior``, a :class:`~emkit.distributions.priors.NormalInverseWishart`,
    as mclust's ``mstep(..., prior = priorControl())``).

    Where that M-step leaves a cluster singular (a full covariance from fewer rows than features
    plus one, a variance from rows that are all the same: a duplicate row picked twice as a
    seed, say) or without rows, that cluster alone starts instead at its rows' mean with the
    covariance of all the data, which EM then shrinks to what the data support; mclust reports
    such a start singular (NA). A small cluster the structure can estimate (a variance from 5
    distinct rows in 6 dimensions) keeps its own moments. ``data`` (m, d): the rows whose
    covariance that is, where ``x`` are only some of them (a classifier's labelled rows, its
    unlabelled ones left out of ``resp``); None: ``x``. ``shared`` (a dict, or None) keeps
    the moments of ``x`` and ``resp`` for the next call with the same two arrays (the
    structures of a model-selection grid start from the same assignment).
    """
    diagonal = structure.diagonal_stats
    key = (id(x), id(resp), diagonal)
    found = None if shared is None or data is not None else shared.get(key)
    if found is not None and found[0] is x and found[1] is resp:
        stats, pooled = found[2:]
    else:  # products of all the rows: on one BLAS thread, as threads.one_blas_thread says
        rows = x if data is None else data
        with threads.one_blas_thread():
            stats = GaussianStats.from_data(x, resp, diagonal)
            pooled = GaussianStats.from_data(rows, np.ones((rows.shape[0], 1)), diagonal)
        if shared is not None and data is None:
            for a in (stats.weight, stats.mean, stats.scatter, pooled.scatter):
                a.flags.writeable = False  # every structure of the grid reads them
            shared[key] = (x, resp, stats, pooled)
    prior = Regularization(reg_covar, component_prior)
    # The covariance of all the data stands in for a cluster's only where it is regular (not
    # with a constant column: the M-step's own start then raises the ridge at step 1).
    rows_seen = x.shape[0] if data is None else data.shape[0]
    covariance = pooled.covariance()[0]  # (d, d), or (d,) where the stats hold diagonals
    rescue = rows_seen > x.shape[1] + 1 and _regular(covariance)
    empty = stats.weight <= 0
    if rescue and empty.any():
        stats = _pooled_start(stats, covariance, empty, x)
    try:
        components = structure.from_stats(stats, prior)
    except np.linalg.LinAlgError:
        if rescue or not empty.any():
            raise
        # A structure whose clusters own their covariance (VVV, VVI, VII) has none for a
        # cluster without rows, (S + cI) / 0, and no ridge mends that. Where the data's
        # covariance is singular too (fewer distinct rows than clusters, or a constant column),
        # the data's per-feature variances, always positive, stand in for it; the structures
        # that pool a part fit such a cluster as it is, and it stays empty.
        variances = pooled.feature_variances()
        stand_in = variances if covariance.ndim == 1 else np.diag(variances)
        stats = _pooled_start(stats, stand_in, empty, x)
        components = structure.from_stats(stats, prior)
    singular = components.degenerate(stats)
    if rescue and singular.any():
        # A structure that shares a part (EVE's orientation) is singular in every cluster
        # through the few whose own covariance is: those are the ones to replace.
        own = _singular_moments(stats)
        stats = _pooled_start(
            stats, covariance, singular & own if (singular & own).any() else singular, x
        )
        components = structure.from_stats(stats, prior)
        singular = components.degenerate(stats)
        if singular.any():
            stats = _pooled_start(stats, covariance, singular, x)
            components = structure.from_stats(stats, prior)
    weights = np.maximum(stats.weight, np.finfo(float).eps)
    return weights / weights.sum(), components


def _regular(covariance: np.ndarray) -> bool:
    """Whether the covariance (d, d) of all the data, or its diagonal (d,), is regular: every
    variance positive and, in units of them (the correlation matrix), its smallest eigenvalue
    above the singular threshold, as :meth:`GaussianComponents.degenerate` judges a
    component's; relative to its largest eigenvalue instead, a column at 1e-7 of another's
    scale read as singular, and a start was not rescued where the unscaled data's was."""
    variances = covariance if covariance.ndim == 1 else covariance.diagonal()
    if not np.all(variances > 0):
        return False
    spectrum = own_spectra(covariance[None], variances)
    return not bool(Regularization().singular(spectrum).any())


def _singular_moments(stats: GaussianStats) -> np.ndarray:
    """The clusters whose own covariance (full, or its diagonal where ``stats`` hold only
    that) is singular, in units of the data's variances; bool (k,)."""
    return Regularization().singular(own_spectra(stats.covariance(), stats.feature_variances()))


def _pooled_start(
    stats: GaussianStats, covariance: np.ndarray, clusters: np.ndarray, x: np.ndarray
) -> GaussianStats:
    """``stats`` with the scatter of ``clusters`` (bool (k,)) that of ``covariance`` ((d, d),
    or (d,) diagonal; all the data's) at the clusters' weight (at least 1); an empty cluster
    at the first row."""
    scatter = stats.scatter.copy()
    weight = np.maximum(stats.weight[clusters], 1.0)
    scatter[clusters] = covariance * weight[(slice(None),) + (None,) * (scatter.ndim - 1)]
    mean = np.where((stats.weight > 0)[:, None], stats.mean, x[:1])
    return GaussianStats(np.maximum(stats.weight, clusters * 1.0), mean, scatter)
