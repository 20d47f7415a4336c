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
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from emkit.backend.threads import num_threads
from emkit.bayes import draws
from emkit.bayes.conditionals import Conditional, Params, broadcast_batch
from emkit.models.mixture import UNLABELLED

TINY = np.finfo(float).tiny
# Equal rows are sampled together where they repeat this often on average: NumPy's binomial
# draw with per-element counts costs about as much as 20 rows' categorical draws.
TIES = 20.0
# Rows per block of the label step (each block its own random stream; blocks over threads).
BLOCK_ROWS = 32_768


@dataclass(frozen=True)
class Constraints:
    """Restrictions of the posterior: increasing first-feature means; a least weight."""

    ordered: bool = False
    min_weight: float = 0.0


@dataclass(frozen=True)
class Trace:
    """Draws of C chains: parameters (C, D, K, ...), weights (C, D, K)."""

    params: Params
    weights: np.ndarray


@dataclass
class _Kept:
    """The draws of the sweeps after ``tune``, stacked into a :class:`Trace` at the end."""

    tune: int
    params: dict[str, list] = field(default_factory=dict)
    weights: list = field(default_factory=list)

    def add(self, sweep: int, params: Params, weights: np.ndarray) -> None:
        if sweep >= self.tune:
            for name, value in params.items():
                self.params.setdefault(name, []).append(value)
            self.weights.append(weights)

    def trace(self) -> Trace:
        return Trace(
            {name: np.stack(values, axis=1) for name, values in self.params.items()},
            np.stack(self.weights, axis=1),
        )


def draw_weights(
    counts: np.ndarray,
    alpha: np.ndarray,
    current: np.ndarray,
    min_weight: float,
    rng: np.random.Generator,
) -> np.ndarray:
    r"""Weights (C, K) from Dirichlet(alpha + counts), every weight >= ``min_weight``.

    Without the bound this is one exact draw. With it, a chain whose draw has every weight
    above the bound keeps it (an exact draw from the truncated law); in the others each
    neighbouring pair (i, i+1) in turn is redrawn given the rest: their share
    :math:`\pi_i / (\pi_i + \pi_{i+1})` is Beta(alpha_i + N_i, alpha_{i+1} + N_{i+1})
    truncated so both stay above the bound, a Gibbs scan. Which of the two a chain takes does
    not depend on its current weights, so the mixture leaves the truncated law invariant.
    """
    post = alpha + counts  # (C, K)
    proposal = draws.dirichlet(post, rng)
    if min_weight <= 0:
        return proposal
    below = (proposal < min_weight).any(axis=1)
    if not below.any():
        return proposal
    w = np.array(current, dtype=float)
    w[~below] = proposal[~below]
    redo = np.flatnonzero(below)
    for i in range(post.shape[1] - 1):
        total = w[redo, i] + w[redo, i + 1]
        low = min_weight / total
        share = draws.truncated_beta(post[redo, i], post[redo, i + 1], low, 1 - low, rng)
        w[redo, i], w[redo, i + 1] = share * total, (1 - share) * total
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
    def of(
        cls,
        x: np.ndarray,
        labels: np.ndarray | None,
        k: int,
        least_ratio: float = 1.0,
        counts: np.ndarray | None = None,
    ) -> DistinctRows:
        """The distinct rows of ``x``, or every row on its own where there are more than
        ``n / least_ratio`` distinct ones (multinomial draws cost more per row than
        categorical ones: sharing rows pays only where they repeat often). ``counts`` (n,)
        of whole numbers: row i stands for ``counts[i]`` equal rows (frequency weights)."""
        lab = np.full(x.shape[0], UNLABELLED) if labels is None else labels
        times = np.ones(x.shape[0]) if counts is None else counts
        distinct, inverse = np.unique(x, axis=0, return_inverse=True)
        if distinct.shape[0] * least_ratio > times.sum():
            distinct, inverse = x, np.arange(x.shape[0])
        inverse = inverse.ravel()
        unlabelled = lab == UNLABELLED
        free = np.bincount(
            inverse[unlabelled], weights=times[unlabelled], minlength=distinct.shape[0]
        )
        fixed = np.zeros((distinct.shape[0], k))
        np.add.at(fixed, (inverse[~unlabelled], lab[~unlabelled]), times[~unlabelled])
        taken = (free > 0) | (fixed > 0).any(axis=1)  # rows of weight 0 are left out
        if not taken.all():
            distinct, free, fixed = distinct[taken], free[taken], fixed[taken]
        return cls(distinct, free, fixed)


def label_step(
    conditional: Conditional,
    params: Params,
    weights: np.ndarray,
    rows: DistinctRows,
    rng: np.random.Generator,
) -> np.ndarray:
    r"""New component counts (C, K, U) given parameters.

    The E-step of all chains at once: the C K components' log densities of the distinct rows
    (C, K, U), plus log weights, normalised per chain into the responsibilities
    :math:`r_{cuk}`; the :math:`m_u` unlabelled copies of row u are shared out by one draw from
    Multinomial(:math:`m_u`, :math:`r_{cu\cdot}`) (one categorical draw per row where there are
    no ties), labelled rows keep their labels, as in :class:`~emkit.models.mixture.Labelled`.
    """
    c, k = weights.shape
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights)  # (C, K)
    # Component-major (C, K, U): the reductions over K are then K elementwise passes.
    log_joint = conditional.log_prob(params, rows.x) + log_weights[..., None]
    top = log_joint.max(axis=1)  # (C, U)
    unnormalised = np.exp(log_joint - top[:, None, :])  # responsibilities times their total
    total = unnormalised.sum(axis=1)  # (C, U)
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
    return counts


def initial_counts(rows: DistinctRows, k: int, chains: int, rng: np.random.Generator) -> np.ndarray:
    """Starting counts (C, K, U): each chain's unlabelled rows to the nearest of K centres
    (standardised); labelled rows keep their labels.

    A component with labelled rows is centred at their mean; the others' centres are drawn
    k-means++ style, each row with probability proportional to its multiplicity times its
    squared distance to the nearest centre so far (the labelled components' first), so they
    spread away from the labelled components and from each other. Started at random rows
    instead, two centres could fall in one cluster, and a labelled component take the rest of
    the data, a far worse mode its chain may never leave. Without labelled rows the centres
    are sorted along the first feature. Each chain draws its own centres."""
    x = rows.x
    scale = x.std(axis=0)
    u = (x - x.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    mass = rows.free + rows.fixed.sum(axis=1)  # (U,) rows each distinct row stands for
    held = rows.fixed.sum(axis=0) > 0  # (K,) components with labelled rows
    given = (
        np.stack([rows.fixed[:, j] @ u / rows.fixed[:, j].sum() for j in np.flatnonzero(held)])
        if held.any()
        else np.empty((0, x.shape[1]))
    )
    out = np.empty((chains, k, x.shape[0]))
    for c in range(chains):
        centres = np.empty((k, x.shape[1]))
        centres[held] = given
        nearest_sq = (
            ((u[:, None, :] - given[None]) ** 2).sum(axis=2).min(axis=1)
            if held.any()
            else np.full(x.shape[0], np.inf)
        )
        for j in np.flatnonzero(~held):
            # Uniform over the rows for the first centre, and where every row sits on a centre.
            spread = np.isfinite(nearest_sq).all() and nearest_sq @ mass > 0
            p = mass * nearest_sq if spread else mass
            centres[j] = u[rng.choice(x.shape[0], p=p / p.sum())]
            nearest_sq = np.minimum(nearest_sq, ((u - centres[j]) ** 2).sum(axis=1))
        if not held.any():
            centres = centres[np.argsort(centres[:, 0], kind="stable")]
        nearest = ((u[:, None, :] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)  # (U,)
        out[c] = (nearest[None, :] == np.arange(k)[:, None]) * rows.free
    return out + rows.fixed.T


def _sorted_start(conditional: Conditional, params: Params) -> Params:
    """The start with its first-feature means sorted over components (in the ordered set)."""
    mean = np.array(params["mean"], dtype=float)
    mean[:, :, 0] = np.sort(mean[:, :, 0], axis=1)
    return {**params, "mean": mean}


@dataclass(frozen=True, eq=False)
class _Block:
    """Consecutive rows of the label step, with their random stream and buffers."""

    features: np.ndarray  # (b, F)
    transposed: np.ndarray  # (F, b)
    free_transposed: np.ndarray  # (F, b): features times the unlabelled copies
    free_int: np.ndarray  # (b,)
    buffer: np.ndarray  # (C, b) for K = 2, else (C, K, b)
    uniform: np.ndarray  # (C, b)
    rng: np.random.Generator


class FeatureLabels:
    r"""The label step of :func:`label_step` for components whose log densities are linear in
    features of the rows (:meth:`Conditional.features <emkit.bayes.conditionals.Conditional>`):
    the C K log joints of the U distinct rows are one matrix product of their coefficients
    with the features, and the drawn labels' statistics another (counts times features), so a
    sweep's cost per row is that of the two products, the draws and a few elementwise passes.

    For K = 2 the draw needs only the log-odds :math:`l = \eta_2 \cdot T - \eta_1 \cdot T`
    of the second component (one product): row u joins it when
    :math:`U_u (1 + e^{-l_u}) < 1`, and the first component's statistics are the rows' totals
    less the second's. Labelled rows enter through their summed features only.

    Rows are cut into blocks of ``BLOCK_ROWS``, each with its own random stream (spawned from
    the sampler's), and the blocks are shared by up to ``threads`` threads (NumPy and BLAS
    release the GIL), so the draws depend on the data and the seed, not on the threads.
    """

    def __init__(
        self,
        expanded: tuple[np.ndarray, np.ndarray],
        conditional: Conditional,
        rows: DistinctRows,
        chains: int,
        k: int,
        rng: np.random.Generator,
        threads: int = 1,
    ):
        features, centre = expanded
        self.conditional, self.centre, self.rows, self.k = conditional, centre, rows, k
        u = rows.x.shape[0]
        self.features = features  # (U, F)
        self.free_total = rows.free @ features  # (F,)
        self.fixed = rows.fixed.T @ features  # (K, F): labelled rows' summed features
        n_blocks = -(-u // BLOCK_ROWS)
        edges = np.linspace(0, u, n_blocks + 1).astype(int)
        streams = rng.spawn(n_blocks) if n_blocks > 1 else [rng]
        free = rows.free[:, None] * features
        self.blocks = [
            _Block(
                features[a:b],
                np.ascontiguousarray(features[a:b].T),
                np.ascontiguousarray(free[a:b].T),
                rows.free[a:b].astype(np.int64),
                np.empty((chains, b - a) if k == 2 else (chains, k, b - a)),
                np.empty((chains, b - a)),
                stream,
            )
            for a, b, stream in zip(edges[:-1], edges[1:], streams, strict=True)
        ]
        threads = min(threads, n_blocks)
        self.pool = ThreadPoolExecutor(threads, "emkit-gibbs") if threads > 1 else None

    def close(self) -> None:
        """Stop the threads."""
        if self.pool is not None:
            self.pool.shutdown()

    def moments(self, counts: np.ndarray) -> np.ndarray:
        """Summed features (C, K, F) of rows taken ``counts`` (C, K, U) times."""
        return counts @ self.features

    def step(self, params: Params, weights: np.ndarray) -> np.ndarray:
        """New summed features (C, K, F) of every row (labelled ones included) given the
        parameters and weights (C, K)."""
        natural = self.conditional.natural(params, self.centre)  # (C, K, F)
        # A weight that underflowed to 0 (below 1e-308) keeps a log above -709.
        natural[..., 0] += np.log(np.maximum(weights, TINY))
        if self.k == 2:
            # -l, so that e^{-l} is one pass.
            coef = natural[:, 0] - natural[:, 1]
            parts = self._map(lambda block: self._binary(block, coef))
            second = parts[0] if len(parts) == 1 else sum(parts[1:], parts[0])
            drawn = np.empty((second.shape[0], 2, second.shape[1]))
            drawn[:, 1] = second
            np.subtract(self.free_total, second, out=drawn[:, 0])
        else:
            parts = self._map(lambda block: self._categorical(block, natural))
            drawn = parts[0] if len(parts) == 1 else sum(parts[1:], parts[0])
        drawn += self.fixed
        return drawn

    def _map(self, fn: Callable[[_Block], np.ndarray]) -> list[np.ndarray]:
        if self.pool is None:
            return [fn(block) for block in self.blocks]
        return list(self.pool.map(fn, self.blocks))

    def _binary(self, block: _Block, coef: np.ndarray) -> np.ndarray:
        """Statistics (C, F) of the block's rows that join the second component."""
        odds = np.matmul(coef, block.transposed, out=block.buffer)  # (C, b)
        # e^{-l} may overflow to inf: a probability of 0 (0 * inf, at u = 0, is not < 1).
        with np.errstate(over="ignore", invalid="ignore"):
            np.exp(odds, out=odds)
            odds += 1.0  # 1 + e^{-l} = 1 / P(component 2)
            if self.rows.single:
                u = block.rng.random(out=block.uniform)
                u *= odds
                joined = np.less(u, 1.0, out=u)  # (C, b) 0 or 1
                return np.stack([joined @ row for row in block.free_transposed], axis=1)
            return block.rng.binomial(block.free_int, 1.0 / odds) @ block.features

    def _categorical(self, block: _Block, natural: np.ndarray) -> np.ndarray:
        """Statistics (C, K, F) of the block's rows drawn to each component."""
        c, k, f = natural.shape
        joint = np.matmul(natural, block.transposed, out=block.buffer)  # (C, K, b)
        joint -= joint.max(axis=1, keepdims=True)
        np.exp(joint, out=joint)
        cumulative = np.cumsum(joint, axis=1, out=joint)  # (C, K, b)
        total = cumulative[:, -1]
        if self.rows.single:  # inverse CDF of each row's categorical distribution
            u = block.rng.random(out=block.uniform)
            u *= total
            chosen = (cumulative[:, :-1] < u[:, None]).sum(axis=1)  # (C, b)
            onehot = (chosen[:, None, :] == np.arange(k)[:, None]).astype(float)
            return onehot @ block.free_transposed.T
        # Multinomial counts as a chain of binomials.
        remaining = np.broadcast_to(block.free_int, total.shape)
        counts = np.empty((c, k, total.shape[1]))
        below = np.zeros_like(total)
        for j in range(k - 1):
            mass = total - below
            share = np.divide(
                cumulative[:, j] - below, mass, where=mass > 0, out=np.zeros_like(mass)
            )
            counts[:, j] = block.rng.binomial(remaining, np.clip(share, 0.0, 1.0))
            remaining = remaining - counts[:, j].astype(np.int64)
            below = cumulative[:, j]
        counts[:, k - 1] = remaining
        return counts @ block.features


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
    counts: np.ndarray | None = None,
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
    counts : array of shape (n,) of whole numbers, or None: each row's multiplicity
        (frequency weights).
    """
    k = alpha.shape[0]
    rows = DistinctRows.of(x, labels, k, least_ratio=TIES, counts=counts)
    counts = initial_counts(rows, k, chains, rng)
    expanded = conditional.features(rows.x)
    if expanded is not None:
        labels_ = FeatureLabels(expanded, conditional, rows, chains, k, rng, num_threads())
        return _sample_features(
            labels_, counts, alpha, constraints, draws_, tune, rng, resample_labels, callback
        )
    stats = conditional.count_stats(rows.x, counts)
    params = conditional.start(stats, x)
    if constraints.ordered:
        params = _sorted_start(conditional, params)
    weights = np.full((chains, k), 1.0 / k)
    kept = _Kept(tune)
    # Threaded BLAS on the sweep's small, skinny products is slower than one thread, and
    # collapses when other processes share the cores (as in backend.kernels).
    with threadpool_limits(limits=1, user_api="blas"):
        for sweep in range(tune + draws_):
            stats = conditional.count_stats(rows.x, counts)
            params = conditional.draw(stats, params, rng, constraints.ordered)
            weights = draw_weights(counts.sum(axis=2), alpha, weights, constraints.min_weight, rng)
            if resample_labels:
                counts = label_step(conditional, params, weights, rows, rng)
            kept.add(sweep, params, weights)
            if callback is not None:
                callback(sweep)
    return kept.trace()


def _sample_features(
    labels: FeatureLabels,
    counts: np.ndarray,
    alpha: np.ndarray,
    constraints: Constraints,
    draws_: int,
    tune: int,
    rng: np.random.Generator,
    resample_labels: bool,
    callback: Callable[[int], None] | None,
) -> Trace:
    """:func:`sample_gibbs` on summed features (:class:`FeatureLabels`): the same chain."""
    chains, k = counts.shape[:2]
    conditional, rows = labels.conditional, labels.rows
    moments = labels.moments(counts)  # (C, K, F)
    stats = conditional.from_moments(moments, labels.centre)
    params = conditional.start(stats, rows.x)
    if constraints.ordered:
        params = _sorted_start(conditional, params)
    weights = np.full((chains, k), 1.0 / k)
    kept = _Kept(tune)
    with threadpool_limits(limits=1, user_api="blas"), closing(labels):
        for sweep in range(tune + draws_):
            params = conditional.draw(stats, params, rng, constraints.ordered)
            weights = draw_weights(moments[..., 0], alpha, weights, constraints.min_weight, rng)
            if resample_labels:
                moments = labels.step(params, weights)
                stats = conditional.from_moments(moments, labels.centre)
            kept.add(sweep, params, weights)
            if callback is not None:
                callback(sweep)
    return kept.trace()


def sample_supervised(
    conditional: Conditional,
    x: np.ndarray,
    labels: np.ndarray,
    alpha: np.ndarray,
    chains: int,
    draws_: int,
    rng: np.random.Generator,
    counts: np.ndarray | None = None,
) -> Trace:
    """Independent draws from the conjugate posterior given every row's label (rows taken
    ``counts`` times where given).

    The statistics of the labelled rows are computed once; each of the C D draws is one joint
    draw of the parameters and weights from their posterior. Same layout as
    :func:`sample_gibbs`.
    """
    k = alpha.shape[0]
    total = chains * draws_
    rows = DistinctRows.of(x, labels, k, counts=counts)
    stats = conditional.count_stats(rows.x, rows.fixed.T[None])
    params = conditional.draw(broadcast_batch(stats, total), None, rng, False)
    per_component = np.broadcast_to(rows.fixed.sum(axis=0), (total, k))
    weights = draws.dirichlet(alpha + per_component, rng)
    return Trace(
        {name: value.reshape((chains, draws_) + value.shape[1:]) for name, value in params.items()},
        weights.reshape(chains, draws_, k),
    )
