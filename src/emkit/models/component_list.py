"""A Python list of single-component families, batched into the interface ``Mixture`` expects.

Each family (``Normal``, ``Poisson``, ``PointMass``, ...) implements
:class:`~emkit.distributions.family.Family`; :class:`ComponentList` stacks K of them behind
:class:`~emkit.distributions.family.Components` (``log_prob(x) -> (n, k)``,
``suff_stats(x, resp)``, ``m_step(stats, prior)``), so one mixture can hold families of
different kinds (a Poisson and a point mass at 0; a Normal and an Exponential). Per-component
conjugate priors turn the M-step into a MAP step.

The E-step dispatches once per family kind, not once per component: the components of each
kind are evaluated together by that family's kernel (:mod:`emkit.distributions.batched`), in
one blocked pass over the rows (:mod:`emkit.backend.family_pass`); the M-step is each family's
own exact ``from_stats``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from emkit.backend.family_pass import mixture_sums
from emkit.distributions.batched import EachKernel
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

    @property
    def weight(self) -> np.ndarray:
        """Each component's weight, shape (k,)."""
        return np.array([_weight(s) for s in self.parts])


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

    @cached_property
    def groups(self) -> tuple[tuple[Any, Any], ...]:
        """``(columns, kernel)`` for each family kind, in order of first appearance: the
        components of one kind at once (:mod:`emkit.distributions.batched`); ``columns`` is a
        slice where they are adjacent, else an index array."""
        kinds: dict[type, list[int]] = {}
        for i, family in enumerate(self.families):
            kinds.setdefault(type(family), []).append(i)
        out = []
        for kind, index in kinds.items():
            members = tuple(self.families[i] for i in index)
            kernel = None
            if hasattr(kind, "kernel") and all(f.fitted for f in members):
                kernel = kind.kernel(members)
            cols: Any = np.array(index)
            if index == list(range(index[0], index[-1] + 1)):
                cols = slice(index[0], index[-1] + 1)
            out.append((cols, EachKernel(members) if kernel is None else kernel))
        return tuple(out)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Log density of each row under each component, shape (n, k)."""
        out = np.empty((self.n_components, x.shape[0]))
        cache: dict = {}
        for cols, kernel in self.groups:
            out[cols] = kernel.log_density(x, cache)
        return out.T

    def suff_stats(self, x: np.ndarray, resp: np.ndarray) -> ListStats:
        """Statistics of rows ``x`` (n, d) under responsibilities ``resp`` (n, k), each
        component's own (exact two-pass moments: a hard assignment's fixed point stays
        fixed to the last bit)."""
        resp_t = np.ascontiguousarray(resp.T, dtype=np.float64)  # (k, n)
        return ListStats(
            tuple(f.suff_stats(x, r) for f, r in zip(self.families, resp_t, strict=True))
        )

    def _stats(self, weight: np.ndarray, sums: list) -> ListStats:
        """Per-component statistics from the weights (k,) and each group's kernel sums."""
        parts: list[Any] = [None] * self.n_components
        for (cols, kernel), group_sums in zip(self.groups, sums, strict=True):
            index = np.arange(self.n_components)[cols]
            for i, stats in zip(index, kernel.stats(weight[cols], group_sums), strict=True):
                parts[i] = stats
        return ListStats(tuple(parts))

    def fused_e_step(
        self, x: np.ndarray, log_weights: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> tuple[ListStats, float]:
        """Statistics and log-likelihood of chunk ``x`` (n, d) under the mixture with log
        weights ``log_weights`` (k,), in one blocked pass (:mod:`emkit.backend.family_pass`)."""
        return ComponentList.fused_e_step_many([self], [log_weights], x, sample_weight)[0]

    @staticmethod
    def fused_e_step_many(
        components: list[ComponentList],
        log_weights: list[np.ndarray],
        x: np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> list[tuple[ListStats, float]]:
        """``fused_e_step`` of several mixtures on one chunk, sharing the rows' statistics
        (batched restarts)."""
        mixtures = [
            (np.asarray(lw, dtype=np.float64), c.groups)
            for c, lw in zip(components, log_weights, strict=True)
        ]
        out = mixture_sums(x, sample_weight, mixtures)
        return [
            (c._stats(resp_sum, sums), loglik)
            for c, (resp_sum, sums, loglik) in zip(components, out, strict=True)
        ]

    def to_vector(self) -> np.ndarray | None:
        """Every component's unconstrained parameters (its ``to_vector``) end to end, for
        SQUAREM; None where some family has no vector form."""
        if not all(hasattr(f, "to_vector") and f.fitted for f in self.families):
            return None
        return np.concatenate([np.asarray(f.to_vector(), dtype=float) for f in self.families])

    def from_vector(self, vector: np.ndarray) -> ComponentList:
        """Components of the same kinds at ``vector`` (``to_vector``'s layout); ValueError
        where some parameter is invalid."""
        families = []
        offset = 0
        for f in self.families:
            size = np.asarray(f.to_vector()).shape[0]
            families.append(f.from_vector(vector[offset : offset + size]))
            offset += size
        return ComponentList(tuple(families), self.priors)

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
        """Components that have collapsed or emptied, bool (k,): each family's ``degenerate``
        under its own prior, given the statistics of every component of its kind added up
        (``pooled``). A row's responsibilities add up to its weight, so for a mixture of one
        family these are the whole data's statistics, the scale a collapse is judged against;
        in a mixture of several families they cover the rows that family's components hold
        (one Normal beside an Exponential is judged against its own spread, which no
        collapse falls below: only the rounding-level test then applies)."""
        pooled: dict[type, Any] = {}
        for family, part in zip(self.families, stats.parts, strict=True):
            kind = type(family)
            pooled[kind] = part if kind not in pooled else pooled[kind] + part
        parts = zip(self.families, stats.parts, self.priors, strict=True)
        return np.array([f.degenerate(s, p, pooled[type(f)]) for f, s, p in parts])

    def sample(self, counts: np.ndarray, rng: np.random.Generator, n_features: int):
        """Draw ``counts[k]`` rows from component k, stacked in component order."""
        blocks = [
            f.sample(int(n), rng, n_features) for f, n in zip(self.families, counts, strict=True)
        ]
        return np.vstack(blocks) if blocks else np.empty((0, n_features))
