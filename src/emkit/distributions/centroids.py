r"""Centroids: the components of k-means, K unit-covariance Gaussians that differ in their means.

k-means is classification (hard) EM for a mixture of K Gaussians with equal weights and the
identity covariance, :math:`\log p_k(x) = -\tfrac12(d\log 2\pi + \lVert x - \mu_k\rVert^2)`.
Statistics are the per-cluster weight and weighted sums (plus the rows farthest from their
centres, to re-seed a cluster that empties); the M-step moves each centre to its rows' mean.
With hard assignment and equal weights (k-means) the whole E-step is one fused pass over the
rows, :meth:`Centroids.hard_e_step_many` (:mod:`emkit.backend.nearest`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from emkit.backend.linalg import scaled_distances
from emkit.backend.namespace import is_device_array, namespace_of
from emkit.backend.nearest import nearest_e_step, nearest_form, rows_shift
from emkit.distributions.base import LOG_2PI


def squared_distances(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance of each row to each centre, shape (n, k).

    NumPy rows: the expansion from the centres' median, the pairs it could lose to cancellation
    taken by differences (:func:`~emkit.backend.linalg.scaled_distances`); a device's:
    direct differences rather than the expansion |x|^2 - 2 x.c + |c|^2, which loses the
    small distances to cancellation when the data sit far from the origin.
    """
    if not is_device_array(x):
        return scaled_distances(x, np.asarray(centres))
    xp = namespace_of(x)
    out = xp.empty((x.shape[0], centres.shape[0]), like=x)
    for j, centre in enumerate(xp.asarray(centres, like=x)):
        diff = x - centre  # (n, d)
        out[:, j] = xp.einsum("ij,ij->i", diff, diff)
    return out


@dataclass(frozen=True)
class CentroidStats:
    """Per-cluster weight (k,) and weighted sums (k, d), and the m rows farthest from their
    centres (m, d) with those squared distances (m,) and their weights (m,), kept to re-seed
    empty clusters; where the E-step was asked for them (:meth:`Centroids.hard_e_step_many`),
    each row's nearest centre ``labels`` (n,) and squared distance to it ``nearest`` (n,),
    the chunks' in row order (None otherwise); ``trail``: the name of the bounds the pass
    left (:class:`~emkit.backend.nearest.NearestSums`), which the M-step's centres carry;
    ``moved``: the rows whose label differs from the previous pass of the same run, where the
    pass knew them (None otherwise)."""

    weight: np.ndarray
    sums: np.ndarray
    far_rows: np.ndarray
    far_dist: np.ndarray
    far_weight: np.ndarray
    labels: np.ndarray | None = None
    nearest: np.ndarray | None = None
    trail: int | None = None
    moved: int | None = None

    def __add__(self, other: CentroidStats) -> CentroidStats:
        """The statistics of ``self``'s rows followed by ``other``'s."""
        rows = np.vstack([self.far_rows, other.far_rows])
        dist = np.concatenate([self.far_dist, other.far_dist])
        weight = np.concatenate([self.far_weight, other.far_weight])
        top = np.argsort(-dist, kind="stable")[: self.far_dist.shape[0]]
        labels = nearest = None
        if self.labels is not None and other.labels is not None:
            labels = np.concatenate([self.labels, other.labels])
            nearest = np.concatenate([self.nearest, other.nearest])
        moved = None
        if self.moved is not None and other.moved is not None:
            moved = self.moved + other.moved
        return CentroidStats(
            self.weight + other.weight,
            self.sums + other.sums,
            rows[top],
            dist[top],
            weight[top],
            labels,
            nearest,
            moved=moved,
        )


@dataclass(frozen=True, eq=False)
class Centroids:
    """K unit-covariance Gaussian components that differ only in their means (k, d).

    ``shift`` (d,), a point near the data (their mean), is where the fused E-step takes
    distances from (see :mod:`emkit.backend.nearest`); None: the centres' mean. ``trail``:
    the name of the bounds the E-step these centres came from left, for a bounded E-step
    from them (:func:`~emkit.backend.nearest_pass.nearest_sums`); None: a whole one.
    """

    means: np.ndarray
    shift: np.ndarray | None = None
    trail: int | None = None

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """log N(x_n | mu_k, I), shape (n, k)."""
        return -0.5 * (x.shape[1] * LOG_2PI + squared_distances(x, self.means))

    def suff_stats(self, x: np.ndarray, resp: np.ndarray) -> CentroidStats:
        """Statistics of rows ``x`` (n, d) given (hard, weighted) responsibilities (n, k)."""
        xp = namespace_of(x)
        k, d = self.means.shape
        weight = xp.to_numpy(resp.sum(axis=0, dtype=xp.float64))  # (k,)
        sums = np.asarray(xp.to_numpy(resp.T @ x), dtype=np.float64)  # (k, d)
        row_weight = resp.sum(axis=1)  # (n,)
        held = row_weight > 0
        labels = xp.argmax(resp, axis=1)
        # Only each row's distance to its own centre: O(n d), not the (n, k) matrix again.
        diff = x - xp.asarray(self.means, like=x)[labels]  # (n, d)
        dist = xp.where(held, xp.einsum("ij,ij->i", diff, diff), -1.0)
        top = xp.stable_argsort_descending(dist)[:k]
        far_rows = np.zeros((k, d))
        far_dist = np.full(k, -1.0)
        far_weight = np.zeros(k)
        m = int(top.shape[0])
        far_rows[:m], far_dist[:m] = xp.to_numpy(x[top]), xp.to_numpy(dist[top])
        far_weight[:m] = xp.to_numpy(row_weight[top])
        return CentroidStats(weight, sums, far_rows, far_dist, far_weight)

    @property
    def ridge(self) -> float:
        """0: unit covariances need no ridge."""
        return 0.0

    def m_step(self, stats: CentroidStats, prior: Any = None) -> Centroids:
        """Weighted means; an empty cluster takes the row farthest from its centre, as
        scikit-learn's k-means relocates it: the row leaves the cluster it was nearest, whose
        mean is then that of its other rows, and the emptied centre moves onto it. A cluster
        of total weight 0 is empty, whether or not rows of weight 0 are nearest it; one left
        empty takes the heaviest cluster's centre, as scikit-learn's.

        The new centres are the means of the clusters after the move, and the moved row is at
        distance 0 from its new centre, so the inertia of the new labels is at most that of the
        plain M-step's: the objective still cannot decrease. ``prior`` is unused: the
        covariances are fixed at the identity.

        Where the pass says no row changed cluster since the run's previous pass
        (``stats.moved`` 0), the centres stay where they are, to the last bit: the M-step of
        the same labels, whose sums, taken anew or moved row by row, may differ by rounding.
        The run then stops on scikit-learn's strict convergence, as Lloyd's does.
        """
        if stats.moved == 0:
            return Centroids(self.means, self.shift, stats.trail)
        weight, sums = np.array(stats.weight, dtype=float), np.array(stats.sums, dtype=float)
        empty = np.flatnonzero(weight <= 0)
        spare = np.flatnonzero(stats.far_dist > 0)[: empty.shape[0]]
        if spare.shape[0]:
            rows, row_weight = stats.far_rows[spare], stats.far_weight[spare]
            # the clusters the rows leave: their nearest of the centres the E-step used
            owners = np.argmin(squared_distances(rows, self.means), axis=1)
            for j, row, w, owner in zip(empty, rows, row_weight, owners, strict=False):
                sums[owner] -= w * row
                weight[owner] -= w
                sums[j], weight[j] = w * row, w
        filled = weight > 0
        means = np.array(self.means, dtype=float)
        means[filled] = sums[filled] / weight[filled, None]
        # A cluster still of weight 0 (no row to move, or the row moved had weight 0) goes
        # where scikit-learn's _average_centers puts it: onto the heaviest cluster's centre.
        if not filled.all() and filled.any():
            means[~filled] = means[np.argmax(weight)]
        return Centroids(means, self.shift, stats.trail)

    @staticmethod
    def hard_e_step_many(
        components: list[Centroids],
        x: np.ndarray,
        sample_weight: np.ndarray | None = None,
        labelled: list[bool] | None = None,
    ) -> list[tuple[CentroidStats, float]]:
        """Statistics and inertia of chunk ``x`` (n, d) for each of ``components``, each row
        given to its nearest centre, in one fused pass that shares the rows' work among them
        (the first's shift serves all); where ``labelled[j]``, the statistics of
        ``components[j]`` also hold the rows' labels and distances."""
        first = components[0]
        shift = rows_shift(x)  # rows laid out once per fit carry theirs
        if shift is None:
            shift = first.means.mean(axis=0) if first.shift is None else first.shift
        forms = [nearest_form(c.means, shift, c.trail) for c in components]
        out = []
        for got in nearest_e_step(x, forms, sample_weight, labelled):
            sums = got.sums + got.weight[:, None] * shift  # (k, d), no longer shifted
            stats = CentroidStats(
                got.weight,
                sums,
                got.far_rows,
                got.far_dist,
                got.far_weight,
                got.labels,
                got.nearest,
                got.trail,
                got.moved,
            )
            out.append((stats, got.inertia))
        return out

    def log_prior(self, prior: Any = None) -> float:
        """0: the centres have a flat prior."""
        return 0.0

    def take(self, keep: np.ndarray) -> Centroids:
        """The centres at indices ``keep``."""
        return Centroids(self.means[keep], self.shift)

    def n_parameters(self, n_features: int) -> int:
        """Free parameters: the K centres (the covariances are fixed)."""
        return self.n_components * n_features

    def sample(
        self, counts: np.ndarray, rng: np.random.Generator, n_features: int | None = None
    ) -> np.ndarray:
        """``counts[k]`` rows from N(mu_k, I), stacked in component order, (sum(counts), d)."""
        d = self.means.shape[1]
        blocks = [
            centre + rng.standard_normal((int(n), d))
            for centre, n in zip(self.means, counts, strict=True)
        ]
        return np.vstack(blocks) if blocks else np.empty((0, d))

    def degenerate(self, stats: CentroidStats, prior: Any = None) -> np.ndarray:
        """None, bool (k,): a centre has no spread to collapse, and the M-step moves an empty
        cluster onto a held row."""
        return np.zeros(self.n_components, dtype=bool)
