"""Maximum likelihood by numerical optimisation, with the observed information."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import optimize

from emkit.mle.estimate import (
    Estimate,
    HessianWarning,
    OptimizationWarning,
    hessian,
    jacobian,
    step_sizes,
)

_RIDGE = 1e-6

Bounds = (
    Sequence[tuple[float | None, float | None]] | Mapping[str, tuple[float | None, float | None]]
)


def _names_and_start(start) -> tuple[list[str] | None, np.ndarray]:
    if isinstance(start, Mapping):
        return list(start), np.array([float(v) for v in start.values()])
    return None, np.atleast_1d(np.asarray(start, dtype=np.float64)).ravel()


def _params(names: list[str] | None, theta: np.ndarray, label: str) -> dict[str, Any]:
    if names is None:
        return {label: theta}
    return dict(zip(names, theta, strict=True))


def _bounds_array(bounds, names: list[str] | None, k: int) -> np.ndarray:
    """Bounds as an array of shape (k, 2) with -inf / inf for None."""
    if bounds is None:
        return np.tile([-np.inf, np.inf], (k, 1))
    if isinstance(bounds, Mapping):
        if names is None:
            raise ValueError("bounds can be a dict only when start is a dict of named parameters")
        unknown = set(bounds) - set(names)
        if unknown:
            raise ValueError(f"bounds name unknown parameter(s) {sorted(unknown)}")
        bounds = [bounds.get(name, (None, None)) for name in names]
    if len(bounds) != k:
        raise ValueError(f"bounds has {len(bounds)} pairs for {k} parameters")
    return np.array(
        [[-np.inf if lo is None else lo, np.inf if hi is None else hi] for lo, hi in bounds],
        dtype=np.float64,
    )


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
    names, theta0 = _names_and_start(start)
    k = theta0.size
    box = _bounds_array(bounds, names, k)
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

    bounded = np.isfinite(box).any()
    result = optimize.minimize(
        objective,
        theta0,
        jac=jac,
        method="L-BFGS-B" if bounded else "BFGS",
        bounds=[tuple(b) for b in box] if bounded else None,
        options={"gtol": 1e-10, "maxiter": 10_000}
        if not bounded
        else {"gtol": 1e-10, "ftol": 1e-15, "maxiter": 10_000},
    )
    theta = result.x
    # BFGS often stops on rounding ("precision loss") at a point that is the optimum to working
    # accuracy; judge by the gradient rather than by the optimiser's flag.
    g = jac(theta) if callable(jac) else jacobian(objective, theta)
    if not result.success and np.max(np.abs(g) * np.maximum(np.abs(theta), 1)) > 1e-6:
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
        _params(names, theta, "theta"), cov, total(theta), n, "Numerical maximum likelihood"
    )


def nonlinear_regression(
    f: Callable[..., Any],
    x: Any,
    y,
    p0,
    bounds: Bounds | None = None,
) -> Estimate:
    r"""Nonlinear least squares: the MLE of :math:`y = f(x, \theta) + \varepsilon`, Gaussian noise.

    Minimised with ``scipy.optimize.least_squares`` (Levenberg-Marquardt, or a trust region when
    bounded). :math:`\hat\sigma^2 = \mathrm{RSS}/N`; the covariance of the coefficients is
    :math:`\hat\sigma^2 (J^\top J)^{-1}` with J the Jacobian of f at the optimum (central
    differences), and :math:`\operatorname{Var}\hat\sigma^2 = 2\sigma^4/N`. scipy's ``curve_fit``
    divides the RSS by N - k instead.

    Parameters
    ----------
    f : callable ``f(x, *theta)`` returning predictions of shape (n,), as for ``curve_fit``.
    x : the independent variable, passed to ``f`` unchanged.
    y : array of shape (n,).
    p0 : start, array of shape (k,) or a dict mapping names to floats.
    bounds : optional (low, high) per parameter, or a dict by name.

    Returns
    -------
    Estimate with parameters ``coef`` of shape (k,) (or the names of ``p0``) and ``variance``.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import mle
    >>> x = np.linspace(0, 4, 30)
    >>> y = 3.0 * np.exp(-0.7 * x) + np.random.default_rng(0).normal(0, 0.05, size=30)
    >>> def decay(x, a, k):
    ...     return a * np.exp(-k * x)
    ...
    >>> est = mle.nonlinear_regression(decay, x, y, p0={"a": 1.0, "k": 1.0})
    >>> round(est.params["a"], 3), round(est.params["k"], 3)
    (3.017, 0.711)
    >>> round(est.stderr["a"], 3), round(est.stderr["k"], 3)
    (0.023, 0.008)
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-dimensional, got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError(f"y has {int((~np.isfinite(y)).sum())} NaN or infinite value(s)")
    names, theta0 = _names_and_start(p0)
    k = theta0.size
    n = y.size
    if n <= k:
        raise ValueError(
            f"nonlinear_regression needs more observations ({n}) than parameters ({k})"
        )
    box = _bounds_array(bounds, names, k)
    bounded = np.isfinite(box).any()

    def predict(theta: np.ndarray) -> np.ndarray:
        return np.asarray(f(x, *theta), dtype=np.float64)

    def resid(theta: np.ndarray) -> np.ndarray:
        return y - predict(theta)

    if not np.isfinite(resid(theta0)).all():
        raise ValueError("f is not finite at p0; choose another start")
    result = optimize.least_squares(
        resid,
        theta0,
        method="trf" if bounded else "lm",
        bounds=(box[:, 0], box[:, 1]) if bounded else (-np.inf, np.inf),
        x_scale="jac",
        xtol=1e-15,
        ftol=1e-15,
        gtol=1e-15,
    )
    if result.status <= 0:
        warnings.warn(f"nonlinear_regression: {result.message}", OptimizationWarning, stacklevel=2)
    theta = result.x
    r = resid(theta)
    var = r @ r / n
    J = jacobian(predict, theta)  # (n, k)
    cov = np.zeros((k + 1, k + 1))
    try:
        cov[:k, :k] = var * np.linalg.inv(J.T @ J)
    except np.linalg.LinAlgError:
        warnings.warn(
            "nonlinear_regression: J^T J is singular at the optimum; the parameters are not "
            "identified and have no standard errors",
            HessianWarning,
            stacklevel=2,
        )
        cov[:k, :k] = np.nan
    cov[k, k] = 2 * var**2 / n
    params = _params(names, theta, "coef")
    params["variance"] = var
    loglik = -0.5 * n * (np.log(2 * np.pi * var) + 1)
    return Estimate(params, cov, loglik, n, "Nonlinear least squares (Gaussian MLE)")
