"""A Python list of single-component families, batched into the interface ``Mixture`` expects.

Each family (``Normal``, ``Poisson``, ``PointMass``, ...) implements
:class:`~emkit.distributions.family.Family`; :class:`ComponentList` stacks K of them behind
:class:`~emkit.distributions.family.Components` (``log_prob(x) -> (n, k)``,
``suff_stats(x, resp)``, ``m_step(stats, prior)``), so one mixture can hold families of
different kinds (a Poisson and a point mass at 0; a Normal and an Exponential). Per-component
conjugate priors turn the M-step into a MAP step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from emkit.distributions.priors import prior_from_dict

# A component holding at most this share of the total weight counts as empty in the M-step.
EMPTY_WEIGHT = 1e-10


def _weight(stats: Any) -> float:
    """The weight a component's statistics hold (LinearGaussian's is an array of shape (1,))."""
    return float(np.sum(stats.weight))


@dataclass(frozen=True)
class ListStats:
    """One statistics value per component; adds component by component."""

    parts: tuple

    def __add__(self, other: ListStats) -> ListStats:
        return ListStats(tuple(a + b for a, b in zip(self.parts, other.parts, strict=True)))


@dataclass(frozen=True, eq=False)
class ComponentList:
    """K single families behind the batched component interface.

    Attributes
    ----------
    families : tuple of K fitted families.
    priors : tuple of K priors (None for no prior), each of its family's ``prior_type``.
    """

    families: tuple
    priors: Any = None

    def __post_init__(self):
        object.__setattr__(self, "families", tuple(self.families))
        priors = self.priors
        if priors is None:
            priors = (None,) * len(self.families)
        priors = tuple(prior_from_dict(p) for p in priors)
        if len(priors) != len(self.families):
            raise ValueError(
                f"priors must list one prior (or None) per component: got {len(priors)} "
                f"for {len(self.families)} components"
            )
        for family, prior in zip(self.families, priors, strict=True):
            if prior is not None and not isinstance(prior, family.prior_type):
                raise ValueError(
                    f"a {type(family).__name__} component takes a "
                    f"{family.prior_type.__name__} prior; got {type(prior).__name__}"
                )
        object.__setattr__(self, "priors", priors)

    @property
    def n_components(self) -> int:
        return len(self.families)

    @property
    def ridge(self) -> float:
        """0: the families carry their own priors, never a covariance ridge."""
        return 0.0

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Log density of each row under each component, shape (n, k)."""
        return np.column_stack([f.log_prob(x) for f in self.families])

    def suff_stats(self, x: np.ndarray, resp: np.ndarray) -> ListStats:
        return ListStats(tuple(f.suff_stats(x, resp[:, k]) for k, f in enumerate(self.families)))

    def m_step(self, stats: ListStats, prior: Any = None) -> ComponentList:
        """Each family's (MAP) estimate from its own statistics under its own prior in
        ``priors``; the mixture-wide ``prior`` (a Gaussian regularisation) is unused.

        A component whose weight has vanished (hard EM empties components) keeps its previous
        parameters, as the Gaussian components do: under an improper prior (the variance
        ridge) its estimate would be 0/0. Keeping them never lowers the objective.
        """
        weights = np.array([_weight(s) for s in stats.parts])
        empty = weights <= EMPTY_WEIGHT * max(weights.sum(), np.finfo(float).tiny)
        families = tuple(
            f if gone else f.from_stats(s, p)
            for f, s, p, gone in zip(self.families, stats.parts, self.priors, empty, strict=True)
        )
        return ComponentList(families, self.priors)

    def log_prior(self, prior: Any = None) -> float:
        """Sum of the components' log prior densities in ``priors`` (0 without priors)."""
        pairs = zip(self.families, self.priors, strict=True)
        return float(sum(f.log_prior(p) for f, p in pairs if p is not None))

    def take(self, keep: np.ndarray) -> ComponentList:
        """The components at indices ``keep`` (pruning)."""
        return ComponentList(
            tuple(self.families[i] for i in keep), tuple(self.priors[i] for i in keep)
        )

    def n_parameters(self, n_features: int) -> int:
        return sum(f.n_parameters(n_features) for f in self.families)

    def degenerate(self, stats: ListStats, prior: Any = None) -> np.ndarray:
        """Components whose statistics alone collapse onto a point, bool (k,)."""
        parts = zip(self.families, stats.parts, self.priors, strict=True)
        return np.array([f.degenerate(s, p) for f, s, p in parts])

    def sample(self, counts: np.ndarray, rng: np.random.Generator, n_features: int):
        """Draw ``counts[k]`` rows from component k, stacked in component order."""
        blocks = [
            f.sample(int(n), rng, n_features) for f, n in zip(self.families, counts, strict=True)
        ]
        return np.vstack(blocks) if blocks else np.empty((0, n_features))
