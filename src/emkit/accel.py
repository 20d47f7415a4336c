r"""SQUAREM's extrapolation (Varadhan and Roland, 2008): the maths of one cycle, safeguarded.

With :math:`F` the EM map (an E-step then an M-step) on a vector of unconstrained parameters
(log-weights, means, log-Cholesky covariances: the model's ``to_vector``), one cycle of scheme
S3 is

.. math::
    \theta_1 = F(\theta_0),\quad \theta_2 = F(\theta_1),\quad
    r = \theta_1 - \theta_0,\quad v = \theta_2 - 2\theta_1 + \theta_0,\quad
    \alpha = \min(-1, -\lVert r\rVert / \lVert v\rVert),

    \theta' = \theta_0 - 2\alpha r + \alpha^2 v,\qquad \theta_{new} = F(\theta').

:math:`\alpha = -1` gives :math:`\theta' = \theta_2`. The step length is capped by a bound that
grows fourfold each time a step reaches it and shrinks fourfold when a step fails.

This module holds the vector algebra only; :class:`emkit.em.Squarem` is the step policy that
runs a cycle inside the one EM loop and applies the safeguards (an invalid :math:`\theta'`, or
one whose objective is below :math:`\ell(\theta_0)`, ends the cycle at the plain iterate
:math:`\theta_2`).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

GROWTH = 4.0  # factor by which the step-length bound grows or shrinks


@runtime_checkable
class VectorForm(Protocol):
    """A model that SQUAREM can extrapolate: its parameters as one unconstrained vector.

    Members
    -------
    to_vector() -> array of shape (p,) or None
        The unconstrained parameters; None where extrapolation has no meaning for this model
        (hard assignments, components without a vector form): the loop then runs plain EM.
    from_vector(vector) -> model
        The model at ``vector`` (``to_vector``'s layout); raises ``LinAlgError`` or
        ``ValueError`` where ``vector`` is not a valid model.
    """

    def to_vector(self) -> np.ndarray | None: ...

    def from_vector(self, vector: np.ndarray) -> Any: ...


def extrapolate(
    start: np.ndarray, middle: np.ndarray, end: np.ndarray, step_max: float
) -> tuple[float, np.ndarray | None]:
    r"""The step length :math:`|\alpha|` and the extrapolated :math:`\theta'` of one cycle.

    Parameters
    ----------
    start, middle, end : arrays of shape (p,), :math:`\theta_0, \theta_1, \theta_2`.
    step_max : the current bound on the step length.

    Returns
    -------
    ``(alpha, target)``: ``alpha`` = :math:`\min(\text{step\_max}, \lVert r\rVert/\lVert
    v\rVert)` (1 where :math:`v = 0`), and ``target`` = :math:`\theta'`, or None where
    ``alpha`` is at most 1 (:math:`\theta'` would be the plain iterate :math:`\theta_2`).

    Entries that are not finite in all three iterates (the log of a probability or rate that
    EM has set to 0, a logit at 0 or 1) have no direction to extrapolate: they are left out of
    :math:`r` and :math:`v` and keep their value in :math:`\theta_2` (a zero stays zero under
    EM). A finite entry whose extrapolation overflows is NaN in ``target``, which
    :func:`model_at` refuses.
    """
    finite = np.isfinite(start) & np.isfinite(middle) & np.isfinite(end)
    if not finite.all():
        alpha, moved = extrapolate(start[finite], middle[finite], end[finite], step_max)
        if moved is None:
            return alpha, None
        target = end.copy()
        target[finite] = moved
        return alpha, target
    r = middle - start
    v = end - 2.0 * middle + start
    norm_v = float(np.linalg.norm(v))
    alpha = min(step_max, float(np.linalg.norm(r)) / norm_v) if norm_v > 0 else 1.0
    if alpha <= 1.0:
        return alpha, None
    with np.errstate(over="ignore", invalid="ignore"):
        target = start + 2.0 * alpha * r + alpha * alpha * v
    target[~np.isfinite(target)] = np.nan
    return alpha, target


def contraction(start: np.ndarray, middle: np.ndarray, end: np.ndarray) -> float:
    r"""EM's rate of convergence as one cycle shows it, :math:`\rho = \lVert \theta_2 -
    \theta_1\rVert / \lVert \theta_1 - \theta_0\rVert` (0 where :math:`\theta_1 = \theta_0`).

    Near a maximum EM is linear, :math:`\theta_{t+1} - \theta^* \approx J(\theta_t -
    \theta^*)`, and :math:`\rho` estimates the largest eigenvalue of :math:`J` in the
    direction the step took. The objective's gains then shrink by :math:`\rho^2` a step, so a
    step that gained :math:`g` leaves about :math:`g\rho^2/(1 - \rho^2)` to gain, and
    :math:`g / (1 - \rho^2)` from where it started (:meth:`emkit.em.EMMap.stops`). Entries
    that are not finite in all three iterates are left out, as in :func:`extrapolate`.
    """
    finite = np.isfinite(start) & np.isfinite(middle) & np.isfinite(end)
    step = float(np.linalg.norm(middle[finite] - start[finite]))
    if step == 0.0:
        return 0.0
    return float(np.linalg.norm(end[finite] - middle[finite])) / step


def next_step_max(step_max: float, alpha: float, extrapolated: bool, accepted: bool) -> float:
    """The bound for the next cycle: shrunk where an extrapolation failed, grown where the
    step reached the bound."""
    if extrapolated and not accepted:
        return max(1.0, step_max / GROWTH)
    if alpha >= step_max:
        return step_max * GROWTH
    return step_max


def model_at(model: VectorForm, vector: np.ndarray) -> Any | None:
    r"""``model.from_vector(vector)``, or None where ``vector`` holds NaN or is not a model.

    Infinite entries are those :func:`extrapolate` keeps from :math:`\theta_2` (a probability
    or rate of 0); ``from_vector`` refuses them where they are no model."""
    if np.isnan(vector).any():
        return None
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            return model.from_vector(vector)
    except (np.linalg.LinAlgError, ValueError, FloatingPointError):
        return None
