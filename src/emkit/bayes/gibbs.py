r"""Blocked Gibbs sampling of a finite mixture on the EM engine's E-step and statistics.

One sweep, for C chains at once:

.. math::

    \theta \mid z &\sim p(\theta \mid S(x, z))
        \quad\text{(the families' conjugate updates of complete-data statistics)},\\
    \pi \mid z &\sim \mathrm{Dir}(\alpha + N(z)),\\
    z_n \mid \theta, \pi, x &\sim \mathrm{Cat}(r_{n\cdot})
        \quad\text{(the E-step's responsibilities; labelled rows keep their label)}.

The E-step is one call for all chains: the C K components are one batch whose log densities
of the rows give the responsibilities of every chain, shared out as the engine's assignments
do (:class:`~emkit.models.mixture.Soft` for unlabelled rows,
:class:`~emkit.models.mixture.Labelled` rows keep theirs). Rows are taken once per distinct
value (:class:`DistinctRows`): the labels of m equal unlabelled rows are one multinomial draw
of their counts, and the statistics are weighted by the counts (the engine's statistics with
sample weights), so data with ties (measurements rounded to a unit) cost per distinct value,
not per row. Constraints make
the target the posterior restricted to a set: ``ordered`` (the first feature's means increase
over components, each mean drawn from its conditional truncated between its neighbours) and
``min_weight`` (every weight at least that value: the weights' Dirichlet conditional truncated,
drawn by Gibbs steps on pairs of weights, exact for K = 2).

When every row is labelled and every conditional is conjugate without constraints, the
posterior given the labels is the answer: :func:`sample_supervised` draws it directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from emkit.bayes import draws
from emkit.bayes.conditionals import Conditional, Params, broadcast_batch
from emkit.models.mixture import UNLABELLED


@dataclass(frozen=True)
class Constraints:
    """Restrictions of the posterior: increasing first-feature means; a least weight."""

    ordered: bool = False
    min_weight: float = 0.0


@dataclass(frozen=True)
class Trace:
    """Draws of C chains: parameters (C, D, K, ...), weights (C, D, K), log-likelihood (C, D)."""

    params: Params
    weights: np.ndarray
    log_likelihood: np.ndarray


def draw_weights(
    counts: np.ndarray,
    alpha: np.ndarray,
    current: np.ndarray,
    min_weight: float,
    rng: np.random.Generator,
) -> np.ndarray:
    r"""Weights (C, K) from Dirichlet(alpha + counts), every weight >= ``min_weight``.

    Without the bound this is one exact draw. With it, each neighbouring pair (i, i+1) in turn
    is redrawn given the others: their share :math:`\pi_i / (\pi_i + \pi_{i+1})` is
    Beta(alpha_i + N_i, alpha_{i+1} + N_{i+1}) truncated so both stay above the bound.
    """
    post = alpha + counts  # (C, K)
    if min_weight <= 0:
        return draws.dirichlet(post, rng)
    w = np.array(current, dtype=float)
    for i in range(post.shape[1] - 1):
        total = w[:, i] + w[:, i + 1]
        low = min_weight / total
        share = draws.truncated_beta(post[:, i], post[:, i + 1], low, 1 - low, rng)
        w[:, i], w[:, i + 1] = share * total, (1 - share) * total
    return w


@dataclass(frozen=True)
class DistinctRows:
    """The data as distinct rows with multiplicities: rows that are equal (and, if labelled,
    equally labelled) share their responsibilities, so the labels of the m unlabelled copies of
    a row are one multinomial draw of their counts, and the statistics need only the counts.

    Attributes
    ----------
    x : array of shape (U, d), the distinct rows.
    free : array of shape (U,), how many unlabelled rows equal each.
    fixed : array of shape (U, K), how many rows labelled k equal each.
    """

    x: np.ndarray
    free: np.ndarray
    fixed: np.ndarray
    single: bool = field(init=False)
    labelled: bool = field(init=False)

    def __post_init__(self):
        # Every unlabelled multiplicity is 0 or 1 (no ties): one categorical draw per row.
        object.__setattr__(self, "single", bool(np.all(self.free <= 1)))
        object.__setattr__(self, "labelled", bool(self.fixed.any()))

    @classmethod
    def of(cls, x: np.ndarray, labels: np.ndarray | None, k: int) -> DistinctRows:
        lab = np.full(x.shape[0], UNLABELLED) if labels is None else labels
        distinct, inverse = np.unique(x, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        unlabelled = lab == UNLABELLED
        free = np.bincount(inverse[unlabelled], minlength=distinct.shape[0]).astype(float)
        fixed = np.zeros((distinct.shape[0], k))
        np.add.at(fixed, (inverse[~unlabelled], lab[~unlabelled]), 1.0)
        return cls(distinct, free, fixed)


def label_step(
    conditional: Conditional,
    params: Params,
    weights: np.ndarray,
    rows: DistinctRows,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    r"""New component counts (C, K, U) given parameters, and each chain's log-likelihood (C,).

    The E-step of all chains at once: the C K components' log densities of the distinct rows
    (C, K, U), plus log weights, normalised per chain into the responsibilities
    :math:`r_{cuk}`; the :math:`m_u` unlabelled copies of row u are shared out by one draw from
    Multinomial(:math:`m_u`, :math:`r_{cu\cdot}`) (one categorical draw per row where there are
    no ties), labelled rows keep their labels, as in :class:`~emkit.models.mixture.Labelled`.
    The log-likelihood counts :math:`\log p(x_n)` for unlabelled rows and
    :math:`\log \pi_{y_n} p_{y_n}(x_n)` for labelled ones, the per-row objective of that
    assignment.
    """
    c, k = weights.shape
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights)  # (C, K)
    # Component-major (C, K, U): the reductions over K are then K elementwise passes.
    log_joint = conditional.log_prob(params, rows.x) + log_weights[..., None]
    top = log_joint.max(axis=1)  # (C, U)
    unnormalised = np.exp(log_joint - top[:, None, :])  # responsibilities times their total
    total = unnormalised.sum(axis=1)  # (C, U)
    loglik = (top + np.log(total)) @ rows.free  # (C,)
    if rows.labelled:
        known = np.where(rows.fixed.T > 0, log_joint, 0.0)  # (C, K, U)
        loglik = loglik + np.einsum("cku,uk->c", known, rows.fixed)
    counts = np.empty((c, k, rows.x.shape[0]))
    if rows.single:  # inverse CDF of each row's categorical distribution
        u = rng.random(total.shape) * total
        running = np.zeros(total.shape)
        chosen = np.zeros(total.shape, dtype=np.intp)
        for j in range(k - 1):
            running += unnormalised[:, j]
            chosen += running < u
        for j in range(k):
            counts[:, j] = (chosen == j) * rows.free
    else:  # multinomial counts as a chain of binomials
        remaining = np.broadcast_to(rows.free, total.shape).astype(np.int64)
        mass = total.copy()
        for j in range(k - 1):
            share = np.clip(
                np.divide(unnormalised[:, j], mass, where=mass > 0, out=np.zeros_like(mass)), 0, 1
            )
            drawn = rng.binomial(remaining, share)
            counts[:, j] = drawn
            remaining = remaining - drawn
            mass = mass - unnormalised[:, j]
        counts[:, k - 1] = remaining
    if rows.labelled:
        counts += rows.fixed.T  # labelled rows keep their components
    return counts, loglik


def initial_counts(rows: DistinctRows, k: int, chains: int, rng: np.random.Generator) -> np.ndarray:
    """Starting counts (C, K, U): each chain's unlabelled rows to the nearest of K centres
    (standardised), centres at random rows (or at the mean of a component's labelled rows),
    sorted along the first feature; labelled rows keep their labels."""
    x = rows.x
    scale = x.std(axis=0)
    u = (x - x.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    labelled = rows.fixed.sum(axis=1) > 0
    out = np.empty((chains, k, x.shape[0]))
    for c in range(chains):
        pick = rng.choice(x.shape[0], size=k, replace=x.shape[0] < k, p=None)
        centres = u[pick]
        if not labelled.any():
            centres = centres[np.argsort(centres[:, 0], kind="stable")]
        else:
            for j in range(k):
                mine = rows.fixed[:, j] > 0
                if mine.any():
                    centres[j] = rows.fixed[mine, j] @ u[mine] / rows.fixed[mine, j].sum()
        nearest = ((u[:, None, :] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)  # (U,)
        out[c] = (nearest[None, :] == np.arange(k)[:, None]) * rows.free
    return out + rows.fixed.T


def _sorted_start(conditional: Conditional, params: Params) -> Params:
    """The start with its first-feature means sorted over components (in the ordered set)."""
    mean = np.array(params["mean"], dtype=float)
    mean[:, :, 0] = np.sort(mean[:, :, 0], axis=1)
    return {**params, "mean": mean}


def sample_gibbs(
    conditional: Conditional,
    x: np.ndarray,
    labels: np.ndarray | None,
    alpha: np.ndarray,
    constraints: Constraints,
    chains: int,
    draws_: int,
    tune: int,
    rng: np.random.Generator,
    resample_labels: bool = True,
    callback: Callable[[int], None] | None = None,
) -> Trace:
    """C chains of blocked Gibbs sweeps; the last ``draws_`` of ``tune + draws_`` are kept.

    Parameters
    ----------
    conditional : the components' full conditionals.
    x : array of shape (n, d).
    labels : int array of shape (n,), a component or ``UNLABELLED`` per row; None: none.
    alpha : array of shape (K,), the weights' Dirichlet prior.
    resample_labels : False keeps every row's label (all rows labelled): a Gibbs chain on the
        parameters alone, for priors or constraints without an exact posterior draw.
    callback : called with the sweep number after each sweep.
    """
    k = alpha.shape[0]
    rows = DistinctRows.of(x, labels, k)
    counts = initial_counts(rows, k, chains, rng)
    stats = conditional.count_stats(rows.x, counts)
    params = conditional.start(stats, x)
    if constraints.ordered:
        params = _sorted_start(conditional, params)
    weights = np.full((chains, k), 1.0 / k)
    kept: dict[str, list] = {name: [] for name in params}
    kept_weights, kept_loglik = [], []
    # Threaded BLAS on the sweep's small, skinny products is slower than one thread, and
    # collapses when other processes share the cores (as in backend.kernels).
    with threadpool_limits(limits=1, user_api="blas"):
        for sweep in range(tune + draws_):
            stats = conditional.count_stats(rows.x, counts)
            params = conditional.draw(stats, params, rng, constraints.ordered)
            weights = draw_weights(counts.sum(axis=2), alpha, weights, constraints.min_weight, rng)
            if resample_labels:
                counts, loglik = label_step(conditional, params, weights, rows, rng)
            elif sweep >= tune:
                loglik = label_step(conditional, params, weights, rows, rng)[1]
            if sweep >= tune:
                for name, value in params.items():
                    kept[name].append(value)
                kept_weights.append(weights)
                kept_loglik.append(loglik)
            if callback is not None:
                callback(sweep)
    return Trace(
        {name: np.stack(values, axis=1) for name, values in kept.items()},
        np.stack(kept_weights, axis=1),
        np.stack(kept_loglik, axis=1),
    )


def sample_supervised(
    conditional: Conditional,
    x: np.ndarray,
    labels: np.ndarray,
    alpha: np.ndarray,
    chains: int,
    draws_: int,
    rng: np.random.Generator,
) -> Trace:
    """Independent draws from the conjugate posterior given every row's label.

    The statistics of the labelled rows are computed once; each of the C D draws is one joint
    draw of the parameters and weights from their posterior. Same layout as
    :func:`sample_gibbs`.
    """
    k = alpha.shape[0]
    total = chains * draws_
    rows = DistinctRows.of(x, labels, k)
    stats = conditional.count_stats(rows.x, rows.fixed.T[None])
    params = conditional.draw(broadcast_batch(stats, total), None, rng, False)
    counts = np.broadcast_to(rows.fixed.sum(axis=0), (total, k))
    weights = draws.dirichlet(alpha + counts, rng)
    loglik = np.empty(total)
    for start in range(0, total, 256):
        part = slice(start, start + 256)
        sub = {name: value[part] for name, value in params.items()}
        loglik[part] = label_step(conditional, sub, weights[part], rows, rng)[1]
    return Trace(
        {name: value.reshape((chains, draws_) + value.shape[1:]) for name, value in params.items()},
        weights.reshape(chains, draws_, k),
        loglik.reshape(chains, draws_),
    )
