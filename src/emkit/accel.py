r"""SQUAREM: squared extrapolation of the EM map (Varadhan and Roland, 2008), safeguarded.

With :math:`F` the EM map (an E-step then an M-step) on a vector of unconstrained parameters
(log-weights, means, log-Cholesky covariances: the model's ``to_vector``), one cycle of scheme
S3 is

.. math::
    \theta_1 = F(\theta_0),\quad \theta_2 = F(\theta_1),\quad
    r = \theta_1 - \theta_0,\quad v = \theta_2 - 2\theta_1 + \theta_0,\quad
    \alpha = \min(-1, -\lVert r\rVert / \lVert v\rVert),

    \theta' = \theta_0 - 2\alpha r + \alpha^2 v,\qquad \theta_{new} = F(\theta').

:math:`\alpha = -1` gives :math:`\theta' = \theta_2`. The step length is capped by a bound that
grows fourfold each time a step reaches it and shrinks fourfold when a step fails. Safeguards:
where :math:`\theta'` is not a valid model (a covariance not positive definite) or its
objective is below :math:`\ell(\theta_0)`, the cycle ends at the plain EM iterate
:math:`\theta_2` instead; so every accepted step has an objective at least that of the one
before, and ``history`` never decreases. A cycle ends at :math:`\theta_1` (a plain step) where
that step already met the convergence rule or changed the model's structure.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import is_dataclass, replace
from typing import Any

import numpy as np

from emkit.em import EMProgress, EMResult, _structure_changed, check_ascent, finish

GROWTH = 4.0  # factor by which the step-length bound grows or shrinks


def squarem_iterations(
    model: Any,
    *,
    tol: float,
    max_iter: int,
    total_weight: float,
    callback: Callable[[EMProgress], Any] | None = None,
) -> Generator[Any, tuple[Any, float], EMResult]:
    """SQUAREM as a coroutine, with :func:`emkit.em.em_iterations`' protocol and result.

    ``max_iter`` bounds the M-steps (evaluations of the EM map); ``history`` and ``n_iter``
    count accepted steps. Convergence is plain EM's rule applied to each cycle's first plain
    step: the per-sample gain of one EM step below ``tol``.
    """
    history: list[float] = []
    changes: list[int] = []
    stats, objective = yield model
    history.append(objective)
    maps, step_max, converged = 0, 1.0, False

    def accept(new_model, new_stats, new_objective):
        nonlocal model, stats, objective
        change = new_objective - objective
        model, stats, objective = new_model, new_stats, new_objective
        history.append(objective)
        if callback is not None:
            callback(EMProgress(len(history) - 1, objective, change, max_iter))
        return change

    while maps < max_iter:
        first = model.m_step(stats)
        maps += 1
        first_stats, first_objective = yield first
        plain_only = maps + 2 > max_iter
        if _structure_changed(model, first):
            changes.append(len(history))
        else:
            check_ascent(objective, first_objective, len(history))
        gain = first_objective - objective
        if (
            abs(gain) < tol * total_weight
            or not np.isfinite(first_objective)
            or plain_only
            or _structure_changed(model, first)
        ):
            accept(first, first_stats, first_objective)
            if abs(gain) < tol * total_weight or not np.isfinite(first_objective):
                converged = bool(np.isfinite(first_objective))
                break
            continue
        second = first.m_step(first_stats)
        maps += 1
        if _structure_changed(first, second):
            accept(first, first_stats, first_objective)
            continue
        start, middle = to_vector(model), to_vector(first)
        r = middle - start
        v = to_vector(second) - 2.0 * middle + start
        norm_v = float(np.linalg.norm(v))
        alpha = min(step_max, float(np.linalg.norm(r)) / norm_v) if norm_v > 0 else 1.0
        new = None
        if alpha > 1.0:
            jump = _from_vector(model, start + 2.0 * alpha * r + alpha * alpha * v)
            if jump is not None and not _structure_changed(model, jump):
                jump_stats, jump_objective = yield jump
                if np.isfinite(jump_objective) and jump_objective >= objective:
                    settled = jump.m_step(jump_stats)
                    maps += 1
                    if not _structure_changed(jump, settled):
                        settled_stats, settled_objective = yield settled
                        check_ascent(jump_objective, settled_objective, len(history))
                        if settled_objective >= objective:
                            new = (settled, settled_stats, settled_objective)
        if new is None and alpha > 1.0:
            step_max = max(1.0, step_max / GROWTH)
        elif alpha >= step_max:
            step_max *= GROWTH
        if new is None:
            second_stats, second_objective = yield second
            check_ascent(first_objective, second_objective, len(history))
            new = (second, second_stats, second_objective)
        change = accept(*new)
        if abs(change) < tol * total_weight or not np.isfinite(objective):
            converged = bool(np.isfinite(objective))
            break
    return finish(model, stats, objective, history, converged, changes)


def to_vector(model: Any) -> np.ndarray | None:
    """The model's unconstrained parameter vector, or None where it has none.

    A model's own ``to_vector`` wins; otherwise a mixture value (a dataclass with ``weights``
    and ``components`` that have ``to_vector``) gets log-weights followed by its components.
    """
    own = getattr(model, "to_vector", None)
    if own is not None:
        return own()
    components = getattr(model, "components", None)
    weights = getattr(model, "weights", None)
    if weights is None or not hasattr(components, "to_vector") or not is_dataclass(model):
        return None
    log_weights = np.log(np.maximum(weights, np.finfo(float).tiny))
    return np.concatenate([log_weights, components.to_vector()])


def _from_vector(model: Any, vector: np.ndarray) -> Any | None:
    """The model at ``vector`` (layout of :func:`to_vector`), or None where that is invalid."""
    if not np.all(np.isfinite(vector)):
        return None
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            own = getattr(model, "from_vector", None)
            if own is not None:
                return own(vector)
            k = model.weights.shape[0]
            logits = vector[:k] - vector[:k].max()
            weights = np.exp(logits) / np.exp(logits).sum()
            components = model.components.from_vector(vector[k:])
            return replace(model, weights=weights, components=components)
    except (np.linalg.LinAlgError, ValueError, FloatingPointError):
        return None
