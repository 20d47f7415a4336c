"""Starting values for mixtures: k-means++, k-means, random responsibilities, random rows."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus

from emkit.distributions.gaussian import GaussianComponents, GaussianStats

INIT_METHODS = ("k-means++", "kmeans", "random", "random_from_data")


def nearest(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (Euclidean) for each row, shape (n,)."""
    d2 = (x * x).sum(axis=1)[:, None] - 2.0 * x @ centres.T + (centres * centres).sum(axis=1)
    return np.argmin(d2, axis=1)


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
        centres, _ = kmeans_plusplus(x, k, sample_weight=sample_weight, random_state=rng)
        labels = nearest(x, centres)
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
