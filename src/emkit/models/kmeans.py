r"""k-means as a latent-variable model: classification EM of equal-weight unit Gaussians.

A :class:`CentroidMixture` is a :class:`~emkit.models.mixture.Mixture` of
:class:`~emkit.distributions.centroids.Centroids` with hard assignment and its equal weights
held fixed. Its E-step gives each row to its nearest centre and returns the clusters'
weights and sums with the chunk's classification log-likelihood

.. math:: \sum_n w_n \big(\log\tfrac1K - \tfrac d2 \log 2\pi\big)
          - \tfrac12 \sum_n w_n \min_k \lVert x_n - \mu_k\rVert^2,

all from one fused pass over the rows (:mod:`emkit.backend.nearest`), shared by every start
running in lockstep; the M-step and everything else are the mixture's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from emkit.distributions.base import LOG_2PI
from emkit.distributions.centroids import Centroids
from emkit.models.mixture import HARD, Mixture, MixtureStats


@dataclass(frozen=True, eq=False)
class CentroidMixture(Mixture):
    """A hard-assignment mixture of :class:`Centroids` with equal, fixed weights.

    Attributes
    ----------
    label_rows : the E-step's statistics also hold each row's cluster and squared distance
        to its centre (:class:`~emkit.distributions.centroids.CentroidStats`' ``labels`` and
        ``nearest``): the model :meth:`last_pass` gives, for the last evaluation of a run.
    """

    label_rows: bool = False

    def e_step(
        self, data: Any, sample_weight: np.ndarray | None = None
    ) -> tuple[MixtureStats, float]:
        """Cluster weights and sums of chunk ``data`` (n, d), and its classification
        log-likelihood (see the module)."""
        return self.e_step_many([self], data, sample_weight)[0]

    def last_pass(self) -> CentroidMixture:
        """This model, its E-step also labelling the rows (:class:`~emkit.em.LastPass`)."""
        return replace(self, label_rows=True)

    def m_step(self, stats: MixtureStats) -> Mixture:
        """The mixture's M-step (a model that does not label the rows)."""
        model = super().m_step(stats)
        if isinstance(model, CentroidMixture) and model.label_rows:
            return replace(model, label_rows=False)
        return model

    @staticmethod
    def e_step_many(
        models: list[Mixture], x: Any, sample_weight: np.ndarray | None
    ) -> list[tuple[MixtureStats, float]]:
        """``e_step`` of several k-means models in one pass over chunk ``x``."""
        labelled = [isinstance(m, CentroidMixture) and m.label_rows for m in models]
        out = Centroids.hard_e_step_many([m.components for m in models], x, sample_weight, labelled)
        d = x.shape[1]
        results = []
        for model, (stats, inertia) in zip(models, out, strict=True):
            per_weight = -np.log(model.n_components) - 0.5 * d * LOG_2PI
            loglik = per_weight * float(stats.weight.sum()) - 0.5 * inertia
            results.append((MixtureStats(stats.weight, stats), loglik))
        return results


def centroid_mixture(centres: np.ndarray, shift: np.ndarray | None = None) -> CentroidMixture:
    """k-means from ``centres`` (k, d): the :class:`CentroidMixture` there, distances taken
    from ``shift`` (d,), a point near the data (None: the centres' mean)."""
    k = centres.shape[0]
    return CentroidMixture(
        np.full(k, 1.0 / k),
        Centroids(np.asarray(centres, dtype=float), shift),
        0.0,
        assignment=HARD,
        fixed_weights=True,
    )
