"""Maximum likelihood by numerical optimisation, with the observed information."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import optimize

from emkit.mle.estimate import (
    Bounds,
    Estimate,
    HessianWarning,
    OptimizationWarning,
    bounds_array,
    hessian,
    jacobian,
    named_params,
    names_and_start,
    step_sizes,
)
from emkit.mle.nonlinear import nonlinear_regression  # noqa: F401  (was defined here)

_RIDGE = 1e-6


def numerical(
    logpdf: Callable[[np.ndarray, Any], Any],
    data: Any,
    start,
    bounds: Bounds | None = None,
    grad: Callable[[np.ndarray, Any], Any] | None = None,
) -> Estimate:
    r"""Maximise any log-likelihood numerically; standard errors from the observed information.

    The covariance is the inverse of :math:`-\nabla^2 \ell(\hat\theta)`, the Hessian taken by
    central differences of ``logpdf`` (or of ``grad`` when given). A :class:`HessianWarning` is
    issued, and the covariance is NaN, when that Hessian is not negative definite: the point is
    a saddle, on a boundary, or the model is not identifiable there.

    Parameters
    ----------
    logpdf : callable ``logpdf(theta, data)`` with ``theta`` an array of shape (k,); returns the
        log-density of each observation, shape (n,), or their sum.
    data : anything ``logpdf`` accepts (an array, a tuple of arrays, ...).
    start : array of shape (k,), or a dict mapping names to floats to name the parameters
        (``theta`` still arrives as an array in the dict's order).
    bounds : optional (low, high) per parameter, None for no bound; or a dict by name.
    grad : optional callable ``grad(theta, data)`` returning the gradient of the total
        log-likelihood, shape (k,).

    Returns
    -------
    Estimate with the named parameters, or one parameter ``theta`` of shape (k,).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> from emkit import mle
    >>> x = np.array([2.1, 0.7, 1.5, 3.2, 1.1, 2.4, 0.9, 1.8])
    >>> def loglik(theta, x):  # gamma with log-parameters, so no bounds are needed
    ...     shape, rate = np.exp(theta)
    ...     return stats.gamma.logpdf(x, shape, scale=1 / rate)
    ...
    >>> est = mle.numerical(loglik, x, start={"log_shape": 0.0, "log_rate": 0.0})
    >>> {name: round(value, 3) for name, value in est.params.items()}
    {'log_shape': 1.531, 'log_rate': 0.993}
    >>> shape = est.transform(lambda log_shape, log_rate: np.exp(log_shape), "shape")
    >>> round(shape.params["shape"], 3), round(shape.stderr["shape"], 3)
    (4.622, 2.232)
    """
    names, theta0 = names_and_start(start)
    k = theta0.size
    box = bounds_array(bounds, names, k)
    if ((theta0 < box[:, 0]) | (theta0 > box[:, 1])).any():
        raise ValueError("start lies outside bounds")

    def total(theta: np.ndarray) -> float:
        return float(np.sum(logpdf(theta, data)))

    first = np.asarray(logpdf(theta0, data))
    if not np.isfinite(first).all():
        raise ValueError("logpdf is not finite at start; choose a start inside the support")
    if first.ndim >= 1:
        n = first.shape[0]
    elif isinstance(data, tuple) and data and hasattr(data[0], "__len__"):
        n = len(data[0])  # data = (X, y, ...): observations are rows of the first
    else:
        n = len(data) if hasattr(data, "__len__") else 1
    scale = max(n, 1)  # minimise the mean negative log-likelihood: tolerances then mean something

    def objective(theta: np.ndarray) -> float:
        value = total(theta)
        return -value / scale if np.isfinite(value) else np.inf

    if grad is None:
        jac: Any = "3-point"
    else:

        def jac(theta: np.ndarray) -> np.ndarray:
            return -np.asarray(grad(theta, data), dtype=np.float64) / scale

    # Optimise over z = theta / unit with unit the size of the start, so that parameters of
    # 1e-7 and of 1e3 look alike to the optimiser's tolerances and difference steps.
    unit = np.where(theta0 != 0, np.abs(theta0), 1.0)

    def objective_z(z: np.ndarray) -> float:
        return objective(unit * z)

    jac_z: Any = jac if not callable(jac) else (lambda z: unit * jac(unit * z))
    bounded = np.isfinite(box).any()
    result = optimize.minimize(
        objective_z,
        theta0 / unit,
        jac=jac_z,
        method="L-BFGS-B" if bounded else "BFGS",
        bounds=[tuple(b) for b in box / unit[:, None]] if bounded else None,
        options={"gtol": 1e-10, "maxiter": 10_000}
        if not bounded
        else {"gtol": 1e-10, "ftol": 1e-15, "maxiter": 10_000},
    )
    z = result.x
    theta = unit * z
    # BFGS often stops on rounding ("precision loss") at a point that is the optimum to working
    # accuracy; judge by the gradient rather than by the optimiser's flag.
    g = jac_z(z) if callable(jac_z) else jacobian(objective_z, z)
    if not result.success and np.max(np.abs(g) * np.maximum(np.abs(z), 1)) > 1e-6:
        warnings.warn(
            f"numerical: the optimiser stopped without converging ({result.message}); "
            "try another start or bounds",
            OptimizationWarning,
            stacklevel=2,
        )

    # Central differences, with steps shrunk to stay inside the bounds.
    power = 1 / 3 if grad is not None else 1 / 4
    h = step_sizes(theta, power)
    room = np.minimum(theta - box[:, 0], box[:, 1] - theta)
    h = np.minimum(h, 0.5 * room)
    at_bound = h <= 0
    if at_bound.any():
        H = np.full((k, k), np.nan)
    elif grad is None:
        H = hessian(total, theta, h)
    else:
        H = jacobian(lambda t: np.asarray(grad(t, data), dtype=np.float64), theta, h)
        H = (H + H.T) / 2
    # Judge definiteness on the information scaled to unit diagonal, so that parameters on
    # different scales do not look singular; finite differences are good to about 1e-7, so a
    # scaled eigenvalue below _RIDGE is a flat direction as far as the data can tell.
    info = -H
    d = np.diag(info)
    if np.isfinite(info).all() and (d > 0).all():
        eig = np.linalg.eigvalsh(info / np.sqrt(np.outer(d, d)))
    else:
        eig = np.array([np.nan])
    if not (eig > _RIDGE).all():
        where = "on a bound" if at_bound.any() else f"smallest scaled eigenvalue {np.min(eig):.3g}"
        warnings.warn(
            f"numerical: the Hessian of the log-likelihood at the optimum is not negative "
            f"definite ({where}); the standard errors are not valid there (a saddle point, a "
            "boundary, or a parameter the data do not identify)",
            HessianWarning,
            stacklevel=2,
        )
        cov = np.full((k, k), np.nan)
    else:
        cov = np.linalg.inv(-H)
        cov = (cov + cov.T) / 2
    return Estimate(
        named_params(names, theta, "theta"), cov, total(theta), n, "Numerical maximum likelihood"
    )
