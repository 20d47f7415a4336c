"""Starting values for mixtures: k-means++, k-means, random responsibilities, random rows."""

from __future__ import annotations

import numpy as np

from emkit.backend.sources import array_source
from emkit.distributions.centroids import Centroids, squared_distances
from emkit.distributions.gaussian import GaussianComponents, GaussianStats
from emkit.distributions.regularization import Regularization
from emkit.em import fit_starts
from emkit.hierarchical import hierarchical_labels
from emkit.models.mixture import HARD, Mixture

INIT_METHODS = ("k-means++", "kmeans", "random", "random_from_data", "hc")

# scikit-learn's KMeans defaults, which init_params="kmeans" follows.
KMEANS_MAX_ITER = 300
KMEANS_TOL = 1e-4


def kmeans_plusplus(
    x: np.ndarray,
    k: int,
    rng: np.random.RandomState,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Greedy k-means++ seeds (Arthur and Vassilvitskii, 2007), shape (k, d).

    Each new centre is the best (lowest weighted potential) of 2 + log k candidates drawn with
    probability proportional to weight times squared distance to the nearest centre so far.
    Rows are drawn by inverse CDF over a canonical (lexicographic) row order, so a row of
    weight m draws exactly as m repeated rows do, and the row order does not matter.
    """
    xs, ws = canonical_rows(x, sample_weight)
    trials = 2 + int(np.log(k))
    centres = np.empty((k, x.shape[1]))
    centres[0] = xs[draw_rows(ws, 1, rng)[0]]
    d2 = squared_distances(xs, centres[:1])[:, 0]  # (n,)
    for j in range(1, k):
        candidates = draw_rows(ws * d2, trials, rng)
        cand_d2 = np.minimum(d2[:, None], squared_distances(xs, xs[candidates]))  # (n, t)
        best = int(np.argmin(ws @ cand_d2))
        centres[j] = xs[candidates[best]]
        d2 = cand_d2[:, best]
    return centres


def random_rows(
    x: np.ndarray, k: int, rng: np.random.RandomState, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """k rows drawn with probability proportional to their weight (with replacement), (k, d)."""
    xs, ws = canonical_rows(x, sample_weight)
    return xs[draw_rows(ws, k, rng)]


def canonical_rows(x: np.ndarray, sample_weight: np.ndarray | None):
    """Rows and weights in lexicographic row order: draws then ignore the input order."""
    w = np.ones(x.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    order = np.lexsort(x.T[::-1])
    return x[order], w[order]


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
    r"""Lloyd's k-means from ``centres`` (k, d): hard EM of a mixture of :class:`Centroids`.

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
    data = array_source(x, sample_weight)
    fit = fit_starts([centroid_mixture(centres)], data, tol=inertia_tol(x, tol), max_iter=max_iter)
    return fit.best.model.components.means


def centroid_mixture(centres: np.ndarray) -> Mixture:
    """k-means as a latent-variable model: a hard-assignment mixture of :class:`Centroids`
    at ``centres`` (k, d), with equal weights held fixed."""
    k = centres.shape[0]
    return Mixture(
        np.full(k, 1.0 / k), Centroids(centres), 0.0, assignment=HARD, fixed_weights=True
    )


def inertia_tol(x: np.ndarray, tol: float) -> float:
    """The loop's tolerance for k-means' ``tol``, which is relative to the mean (unweighted)
    variance of ``x``'s columns; the objective is const - inertia / 2, so it halves."""
    spread = float(np.mean(np.var(x, axis=0)))
    return max(0.5 * tol * spread, np.finfo(float).tiny)


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
