"""Starting values for mixtures: k-means++, k-means, random responsibilities, random rows."""

from __future__ import annotations

import numpy as np

from emkit.backend import numpy_backend
from emkit.backend.nearest import shifted_source
from emkit.distributions.centroids import squared_distances
from emkit.distributions.gaussian import GaussianComponents, GaussianStats
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
    do, and the row order does not matter. The distances of the rows to a step's candidates
    are one matrix product per block of rows, taken from the data's mean (see
    :mod:`emkit.backend.nearest`), blocks split over threads.
    """
    n, d = x.shape
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    order = canonical_order(x)
    trials = 2 + int(np.log(k)) if n_local_trials is None else int(n_local_trials)
    shift = x.mean(axis=0)
    norms = np.concatenate(
        numpy_backend.over_threads(x, None, lambda rows, _, start: _shifted_norms(rows, shift))
    )  # |x - s|^2, (n,)
    centres = np.empty((k, d))
    first = order[draw_rows(w[order], 1, rng)[0]]
    centres[0] = x[first]
    d2 = np.full(n, np.inf)
    d2 = _nearest_candidate(x, w, norms, shift, centres[:1], d2)[0][0]  # (n,)
    for j in range(1, k):
        candidates = order[draw_rows((w * d2)[order], trials, rng)]
        cand_d2, potential = _nearest_candidate(x, w, norms, shift, x[candidates], d2)
        best = int(np.argmin(potential))
        centres[j] = x[candidates[best]]
        d2 = cand_d2[best]
    return centres


def _shifted_norms(x: np.ndarray, shift: np.ndarray, block: int = 8192) -> np.ndarray:
    """|x_n - shift|^2 of each row, shape (n,), a block of rows at a time."""
    out = np.empty(x.shape[0])
    for start in range(0, x.shape[0], block):
        diff = x[start : start + block] - shift
        np.einsum("ij,ij->i", diff, diff, out=out[start : start + block])
    return out


def _nearest_candidate(
    x: np.ndarray,
    w: np.ndarray,
    norms: np.ndarray,
    shift: np.ndarray,
    centres: np.ndarray,
    d2: np.ndarray,
    block: int = 8192,
) -> tuple[np.ndarray, np.ndarray]:
    """min(d2, squared distance to each of ``centres`` (t, d)) for rows ``x`` (n, d), shape
    (t, n): |x - s|^2 + |c - s|^2 - 2 (x - s).(c - s), at least 0; and its weighted sum
    over the rows (the potential of each candidate), shape (t,)."""
    gap = centres - shift  # (t, d)
    coef = -2.0 * gap  # (t, d)
    const = (np.einsum("td,td->t", gap, gap) + 2.0 * (gap @ shift))[:, None]  # (t, 1)
    out = np.empty((centres.shape[0], x.shape[0]))

    def rows(part: np.ndarray, _: object, offset: int) -> np.ndarray:
        potential = np.zeros(centres.shape[0])
        for start in range(0, part.shape[0], block):
            stop = min(start + block, part.shape[0])
            at = slice(offset + start, offset + stop)
            dist = np.matmul(coef, part[start:stop].T, out=out[:, at])
            dist += const
            dist += norms[at]
            np.maximum(dist, 0.0, out=dist)
            np.minimum(dist, d2[at], out=dist)
            potential += dist @ w[at]
        return potential

    parts = numpy_backend.over_threads(x, None, rows)
    return out, sum(parts[1:], parts[0])


def random_rows(
    x: np.ndarray, k: int, rng: np.random.RandomState, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """k rows drawn with probability proportional to their weight (with replacement), (k, d)."""
    w = np.ones(x.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    order = canonical_order(x)
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
    order = np.argsort(x[:, 0])
    first = x[order, 0]
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
    iterations stop after ``max_iter`` M-steps, or once the inertia per unit weight falls by
    less than ``tol`` times the data's mean (unweighted) variance. scikit-learn's ``KMeans``
    scales its ``tol`` the same way but applies it to the squared shift of the centres; emkit
    applies it to the objective, as :class:`~emkit.estimators.KMeans` does.

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
    fit = fit_starts([start], data, tol=inertia_tol(x, tol, variance), max_iter=max_iter)
    return fit.best.model.components.means


def inertia_tol(x: np.ndarray, tol: float, variance: np.ndarray | None = None) -> float:
    """The loop's tolerance for k-means' ``tol``, which is relative to the mean (unweighted)
    variance of ``x``'s columns (``variance``, shape (d,), where known); the objective is
    const - inertia / 2, so it halves."""
    spread = float(np.mean(column_moments(x)[1] if variance is None else variance))
    return max(0.5 * tol * spread, np.finfo(float).tiny)


def column_moments(x: np.ndarray, block: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unweighted, population) variance of each column of ``x`` (n, d): one pass
    over blocks of rows split over threads, in deviations from the first rows' mean (so
    that the sums of squares do not cancel), no copy of ``x``."""
    n, d = x.shape
    if n == 0:
        return np.full(d, np.nan), np.full(d, np.nan)
    shift = x[:block].mean(axis=0)

    def sums(rows: np.ndarray, _: object, start: int) -> np.ndarray:
        out = np.zeros((2, d))
        for at in range(0, rows.shape[0], block):
            diff = rows[at : at + block] - shift
            out[0] += diff.sum(axis=0)
            out[1] += np.einsum("ij,ij->j", diff, diff)
        return out

    parts = numpy_backend.over_threads(x, None, sums)
    first, second = sum(parts[1:], parts[0]) / n
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
    with fewer than k distinct rows fall back to k-means++).
    """
    n = x.shape[0]
    if method == "hc":
        cut = hierarchical_labels(x, k)
        if cut is not None:
            rows, labels = cut
            resp = np.zeros((n, k))
            resp[rows, labels] = 1.0
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
) -> tuple[np.ndarray, GaussianComponents]:
    """Weights (k,) and components from an initial assignment.

    A starting cluster with fewer rows than features plus one (a duplicate row picked twice as a
    seed, say) would start singular; it starts instead at its rows' mean with the covariance of
    all the data, which EM then shrinks to what the data support.
    """
    stats = GaussianStats.from_data(x, resp, structure.diagonal_stats)
    d = x.shape[1]
    pooled = GaussianStats.from_data(x, np.ones((x.shape[0], 1)), structure.diagonal_stats)
    too_small = stats.weight < d + 1
    if too_small.any() and x.shape[0] > d + 1:
        scatter = stats.scatter.copy()
        scatter[too_small] = (
            pooled.covariance()[0]
            * np.maximum(stats.weight[too_small], 1.0)[
                (slice(None),) + (None,) * (scatter.ndim - 1)
            ]
        )
        weight = np.maximum(stats.weight, too_small * 1.0)
        mean = np.where(stats.weight[:, None] > 0, stats.mean, x[:1])
        stats = GaussianStats(weight, mean, scatter)
    weights = np.maximum(stats.weight, np.finfo(float).eps)
    return weights / weights.sum(), structure.from_stats(stats, Regularization(reg_covar))
