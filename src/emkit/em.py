r"""The one EM loop every latent-variable model runs.

Each iteration computes, for the current parameters :math:`\theta_t`, the statistics of every
chunk and the observed-data objective

.. math:: \ell(\theta_t) = \sum_n w_n \log p(x_n \mid \theta_t) + \log p(\theta_t),

then sets :math:`\theta_{t+1} = M(\sum_{chunks} S)`. By Dempster, Laird and Rubin (1977),
:math:`\ell` never decreases; a decrease beyond rounding is reported as a
:class:`~emkit.MonotonicityWarning` naming the iteration.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import reduce
from operator import add
from typing import Any

import numpy as np

from emkit.exceptions import MonotonicityWarning

# A decrease smaller than this fraction of |loglik| is floating-point rounding, not a bug.
ROUNDING = 1e-10


@dataclass(frozen=True)
class EMProgress:
    """What a callback receives after each iteration."""

    iteration: int
    objective: float  # log-likelihood plus log-prior, as recorded in history
    change: float
    max_iter: int


@dataclass(frozen=True)
class EMResult:
    model: Any
    log_likelihood: float
    history: np.ndarray
    n_iter: int
    converged: bool
    stats: Any
    structure_changes: tuple[int, ...] = ()


def e_step_all(model: Any, data: Iterable) -> tuple[Any, float]:
    """Statistics summed over every chunk, and the total objective, at ``model``."""
    parts = [model.e_step(x, w) for x, w in data]
    stats = reduce(add, (s for s, _ in parts))
    return stats, float(sum(ll for _, ll in parts)) + model.log_prior()


def run_em(
    model: Any,
    data: Iterable,
    *,
    tol: float,
    max_iter: int,
    total_weight: float,
    callback: Callable[[EMProgress], Any] | None = None,
) -> EMResult:
    """Run EM from ``model`` until the per-sample objective gains less than ``tol``.

    Parameters
    ----------
    model : a latent-variable model with ``e_step``, ``m_step`` and ``log_prior``.
    data : re-iterable of ``(x, sample_weight)`` chunks.
    tol : convergence threshold on the change of the objective divided by ``total_weight``.
    max_iter : number of M-steps at most.
    total_weight : number of rows (or sum of sample weights), the scale of ``tol``.
    callback : called with an :class:`EMProgress` after every iteration.

    Returns
    -------
    EMResult whose ``model`` is the last parameters evaluated; ``history`` holds the objective
    (log-likelihood plus log-prior) before the first and after every M-step, and
    ``log_likelihood`` is the log-likelihood alone at exactly the returned parameters.
    Iterations where the model changed size (pruning) or its objective (a raised ridge) are
    listed in ``structure_changes``; the ascent check skips them.
    """
    history: list[float] = []
    changes: list[int] = []
    converged = False
    stats, loglik = e_step_all(model, data)
    history.append(loglik)
    for iteration in range(1, max_iter + 1):
        candidate = model.m_step(stats)
        new_stats, new_loglik = e_step_all(candidate, data)
        change = new_loglik - loglik
        if _structure_changed(model, candidate):
            # Pruning, or a ridge raised to keep a collapsed component non-singular, changes
            # the model or the objective: no ascent guarantee across that step.
            changes.append(iteration)
        elif change < -ROUNDING * max(1.0, abs(loglik)):
            warnings.warn(
                f"EM objective decreased by {-change:.3g} at iteration {iteration} "
                f"({loglik:.10g} -> {new_loglik:.10g})",
                MonotonicityWarning,
                stacklevel=2,
            )
        model, stats, loglik = candidate, new_stats, new_loglik
        history.append(loglik)
        if callback is not None:
            callback(EMProgress(iteration, loglik, change, max_iter))
        if abs(change) < tol * total_weight or not np.isfinite(loglik):
            converged = bool(np.isfinite(loglik))
            break
    n_iter = len(history) - 1
    log_likelihood = loglik - model.log_prior()
    return EMResult(
        model, log_likelihood, np.asarray(history), n_iter, converged, stats, tuple(changes)
    )


def _structure_changed(old: Any, new: Any) -> bool:
    """True where the step changed the model's size or the objective itself (a raised ridge)."""
    return any(
        getattr(old, name, None) != getattr(new, name, None)
        for name in ("n_components", "reg_covar")
    )
