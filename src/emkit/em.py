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
from collections.abc import Callable, Generator, Iterable
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
    accelerate: str | None = None,
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
    accelerate : None for plain EM, or "squarem" (:mod:`emkit.accel`; models without
        ``to_vector`` run plain EM).

    Returns
    -------
    EMResult whose ``model`` is the last parameters evaluated; ``history`` holds the objective
    (log-likelihood plus log-prior) before the first and after every accepted step, and
    ``log_likelihood`` is the log-likelihood alone at exactly the returned parameters.
    Iterations where the model changed size (pruning) or its objective (a raised ridge) are
    listed in ``structure_changes``; the ascent check skips them.
    """
    steps = em_iterations(
        model,
        tol=tol,
        max_iter=max_iter,
        total_weight=total_weight,
        callback=callback,
        accelerate=accelerate,
    )
    return run_batch([steps], data)[0]


def run_batch(runs: list[Generator], data: Iterable) -> list[EMResult]:
    """Drive several EM runs (from :func:`em_iterations`) in lockstep over one pass per round.

    Each run yields the model whose statistics it needs next; every round reads the data once
    for all runs still going (batched restarts: one pass, and shared work where the models
    offer ``e_step_many``).
    """
    results: list[EMResult | None] = [None] * len(runs)
    pending: dict[int, Any] = {}
    for i, run in enumerate(runs):
        _advance(run, None, i, pending, results)
    while pending:
        order = list(pending)
        answers = e_step_many([pending[i] for i in order], data)
        for i, answer in zip(order, answers, strict=True):
            _advance(runs[i], answer, i, pending, results)
    return results  # type: ignore[return-value]


def _advance(run: Generator, answer: Any, i: int, pending: dict, results: list) -> None:
    try:
        pending[i] = next(run) if answer is None else run.send(answer)
    except StopIteration as stop:
        pending.pop(i, None)
        results[i] = stop.value


def e_step_many(models: list[Any], data: Iterable) -> list[tuple[Any, float]]:
    """``e_step_all`` for several models in one pass over ``data``."""
    if len(models) == 1:
        return [e_step_all(models[0], data)]
    batched = getattr(type(models[0]), "e_step_many", None)
    same = all(type(m) is type(models[0]) for m in models)
    parts: list[list] = [[] for _ in models]
    for x, w in data:
        chunk = batched(models, x, w) if batched is not None and same else None
        if chunk is None:
            chunk = [m.e_step(x, w) for m in models]
        for store, part in zip(parts, chunk, strict=True):
            store.append(part)
    out = []
    for model, store in zip(models, parts, strict=True):
        stats = reduce(add, (s for s, _ in store))
        out.append((stats, float(sum(ll for _, ll in store)) + model.log_prior()))
    return out


def em_iterations(
    model: Any,
    *,
    tol: float,
    max_iter: int,
    total_weight: float,
    callback: Callable[[EMProgress], Any] | None = None,
    accelerate: str | None = None,
) -> Generator[Any, tuple[Any, float], EMResult]:
    """EM as a coroutine: yields each model to evaluate, receives ``(stats, objective)``.

    :func:`run_em` answers with :func:`e_step_all`; :func:`run_batch` answers several runs
    from one pass over the data. Returns the :class:`EMResult`.
    """
    if accelerate == "squarem":
        from emkit.accel import squarem_iterations, to_vector

        if to_vector(model) is not None:
            return (
                yield from squarem_iterations(
                    model, tol=tol, max_iter=max_iter, total_weight=total_weight, callback=callback
                )
            )
    if accelerate not in (None, "squarem"):
        raise ValueError(f"accelerate must be None or 'squarem'; got {accelerate!r}")
    history: list[float] = []
    changes: list[int] = []
    converged = False
    stats, loglik = yield model
    history.append(loglik)
    for iteration in range(1, max_iter + 1):
        candidate = model.m_step(stats)
        new_stats, new_loglik = yield candidate
        change = new_loglik - loglik
        if _structure_changed(model, candidate):
            # Pruning, or a ridge raised to keep a collapsed component non-singular, changes
            # the model or the objective: no ascent guarantee across that step.
            changes.append(iteration)
        else:
            check_ascent(loglik, new_loglik, iteration)
        model, stats, loglik = candidate, new_stats, new_loglik
        history.append(loglik)
        if callback is not None:
            callback(EMProgress(iteration, loglik, change, max_iter))
        if abs(change) < tol * total_weight or not np.isfinite(loglik):
            converged = bool(np.isfinite(loglik))
            break
    return finish(model, stats, loglik, history, converged, changes)


def check_ascent(old: float, new: float, iteration: int) -> None:
    """Warn (MonotonicityWarning) where an EM step lowered the objective beyond rounding."""
    if new - old < -ROUNDING * max(1.0, abs(old)):
        warnings.warn(
            f"EM objective decreased by {old - new:.3g} at iteration {iteration} "
            f"({old:.10g} -> {new:.10g})",
            MonotonicityWarning,
            stacklevel=4,
        )


def finish(
    model: Any, stats: Any, objective: float, history: list, converged: bool, changes: list
) -> EMResult:
    """The :class:`EMResult` of a run that ended at ``model``."""
    log_likelihood = objective - model.log_prior()
    n_iter = len(history) - 1
    return EMResult(
        model, log_likelihood, np.asarray(history), n_iter, converged, stats, tuple(changes)
    )


def _structure_changed(old: Any, new: Any) -> bool:
    """True where the step changed the model's size or the objective itself (a raised ridge)."""
    return any(
        getattr(old, name, None) != getattr(new, name, None)
        for name in ("n_components", "reg_covar")
    )
