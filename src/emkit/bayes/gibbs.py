r"""Blocked Gibbs sampling of a finite mixture on the EM engine's E-step and statistics.

One sweep, for C chains at once:

.. math::

    \theta \mid z &\sim p(\theta \mid S(x, z))
        \quad\text{(the families' conjugate updates of complete-data statistics)},\\
    \pi \mid z &\sim \mathrm{Dir}(\alpha + N(z)),\\
    z_n \mid \theta, \pi, x &\sim \mathrm{Cat}(r_{n\cdot})
        \quad\text{(the E-step's responsibilities; labelled rows keep their label)}.

The E-step is one call for all chains: the C K components are one batch of components whose
``log_prob`` gives (n, C K), and the responsibilities come from the engine's assignments
(:data:`~emkit.models.mixture.SOFT`, :data:`~emkit.models.mixture.LABELLED`). Constraints make
the target the posterior restricted to a set: ``ordered`` (the first feature's means increase
over components, each mean drawn from its conditional truncated between its neighbours) and
``min_weight`` (every weight at least that value: the weights' Dirichlet conditional truncated,
drawn by Gibbs steps on pairs of weights, exact for K = 2).

When every row is labelled and every conditional is conjugate without constraints, the
posterior given the labels is the answer: :func:`sample_supervised` draws it directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

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


def label_step(
    conditional: Conditional,
    params: Params,
    weights: np.ndarray,
    x: np.ndarray,
    labels: np.ndarray | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    r"""New labels (C, n) given parameters, and each chain's log-likelihood (C,).

    The E-step of all chains at once: the C K components' ``log_prob`` (n, C K), plus log
    weights, normalised per chain into the responsibilities :math:`r_{nck}`, from which each
    unlabelled row's label is drawn; a labelled row keeps its label, as in
    :class:`~emkit.models.mixture.Labelled`. The log-likelihood counts
    :math:`\log p(x_n)` for unlabelled rows and :math:`\log \pi_{y_n} p_{y_n}(x_n)` for
    labelled ones, the per-row objective of that assignment.
    """
    c, k = weights.shape
    n = x.shape[0]
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights)  # (C, K)
    # Component-major (C, K, n): the reductions over K are then K elementwise passes.
    log_joint = conditional.log_prob(params, x) + log_weights[..., None]
    top = log_joint.max(axis=1)  # (C, n)
    unnormalised = np.exp(log_joint - top[:, None, :])  # responsibilities times their total
    total = unnormalised.sum(axis=1)  # (C, n)
    per_row = top + np.log(total)  # log p(x_n) for each chain, (C, n)
    u = rng.random((c, n)) * total
    z = np.zeros((c, n), dtype=np.intp)
    running = np.zeros((c, n))
    for j in range(k - 1):  # inverse CDF of each row's categorical distribution
        running += unnormalised[:, j]
        z += running < u
    if labels is not None:
        known = np.flatnonzero(labels != UNLABELLED)
        z[:, known] = labels[known]
        per_row[:, known] = np.take_along_axis(log_joint[:, :, known], z[:, None, known], axis=1)[
            :, 0
        ]
    return z, per_row.sum(axis=1)


def initial_labels(
    x: np.ndarray, k: int, labels: np.ndarray | None, chains: int, rng: np.random.Generator
) -> np.ndarray:
    """Starting labels (C, n): each chain's rows to the nearest of K centres (standardised),
    centres at random rows (or at the mean of a component's labelled rows), sorted along the
    first feature; labelled rows keep their labels."""
    scale = x.std(axis=0)
    u = (x - x.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    out = np.empty((chains, x.shape[0]), dtype=np.intp)
    for c in range(chains):
        centres = u[rng.choice(x.shape[0], size=k, replace=x.shape[0] < k)]
        if labels is None:
            centres = centres[np.argsort(centres[:, 0], kind="stable")]
        else:
            for j in range(k):
                mine = labels == j
                if mine.any():
                    centres[j] = u[mine].mean(axis=0)
        dist = ((u[:, None, :] - centres[None]) ** 2).sum(axis=2)  # (n, K)
        out[c] = dist.argmin(axis=1)
        if labels is not None:
            known = labels != UNLABELLED
            out[c, known] = labels[known]
    return out


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
    z = initial_labels(x, k, labels, chains, rng)
    stats = conditional.label_stats(x, z, k)
    params = conditional.start(stats, x)
    if constraints.ordered:
        params = _sorted_start(conditional, params)
    weights = np.full((chains, k), 1.0 / k)
    kept: dict[str, list] = {name: [] for name in params}
    kept_weights, kept_loglik = [], []
    for sweep in range(tune + draws_):
        stats = conditional.label_stats(x, z, k)
        params = conditional.draw(stats, params, rng, constraints.ordered)
        counts = conditional.weight(stats)
        weights = draw_weights(counts, alpha, weights, constraints.min_weight, rng)
        if resample_labels:
            z, loglik = label_step(conditional, params, weights, x, labels, rng)
        elif sweep >= tune:
            loglik = label_step(conditional, params, weights, x, labels, rng)[1]
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
    stats = conditional.label_stats(x, labels[None, :], k)
    params = conditional.draw(broadcast_batch(stats, total), None, rng, False)
    counts = np.broadcast_to(conditional.weight(stats), (total, k))
    weights = draws.dirichlet(alpha + counts, rng)
    loglik = np.empty(total)
    for start in range(0, total, 256):
        part = slice(start, start + 256)
        sub = {name: value[part] for name, value in params.items()}
        loglik[part] = label_step(conditional, sub, weights[part], x, labels, rng)[1]
    return Trace(
        {name: value.reshape((chains, draws_) + value.shape[1:]) for name, value in params.items()},
        weights.reshape(chains, draws_, k),
        loglik.reshape(chains, draws_),
    )
