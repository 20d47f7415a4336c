"""Starting values for mixtures: k-means++, k-means, random responsibilities, random rows."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

from emkit.distributions.gaussian import GaussianComponents, GaussianStats

INIT_METHODS = ("k-means++", "kmeans", "random", "random_from_data")


def squared_distances(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance of each row to each centre, shape (n, k).

    Direct differences rather than the expansion |x|^2 - 2 x.c + |c|^2, which loses the small
    distances to cancellation when the data sit far from the origin.
    """
    out = np.empty((x.shape[0], centres.shape[0]))
    for j, centre in enumerate(centres):
        diff = x - centre  # (n, d)
        out[:, j] = np.einsum("ij,ij->i", diff, diff)
    return out


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
    """Responsibilities (n, k) to start EM from, by ``method`` (one of INIT_METHODS)."""
    n = x.shape[0]
    if method == "random":
        resp = rng.uniform(size=(n, k))
        return resp / resp.sum(axis=1, keepdims=True)
    if method == "k-means++":
        labels = nearest(x, kmeans_plusplus(x, k, rng, sample_weight))
    elif method == "kmeans":
        km = KMeans(n_clusters=k, n_init=1, random_state=rng)
        labels = km.fit(x, sample_weight=sample_weight).labels_
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
    return weights / weights.sum(), structure.from_stats(stats, reg_covar)
