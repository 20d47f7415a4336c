"""Maximum likelihood by numerical optimisation, with the observed information."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from emkit.exceptions import warn_user
from emkit.mle.estimate import (
    Bounds,
    Estimate,
    HessianWarning,
    OptimizationWarning,
    bounds_array,
    flatten,
    named_params,
    names_and_start,
    on_bound,
    rises_inward,
    scaled_hessian,
    step_sizes,
    warn_on_bound,
)
from emkit.mle.nonlinear import nonlinear_regression  # noqa: F401  (was defined here)

_RIDGE = 1e-6
_EPS = np.finfo(np.float64).eps
# The Newton decrement lambda^2 = g' I^{-1} g (g the gradient, I the observed information) is,
# to second order, the squared distance to the maximum in standard errors (in the metric of
# the estimate's own covariance), and twice the log-likelihood left to gain: a test that no
# rescaling or reparametrisation changes. Newton steps polish the optimiser's point while it
# exceeds _POLISH; beyond _CONVERGED (a thousandth of a standard error) after them the fit is
# not certified.
_POLISH = 1e-12
_CONVERGED = 1e-6
_NEWTON_STEPS = 5
# Where the information is not positive definite, a point is a maximum only if a first-difference
# step of each parameter (eps^(1/3) of it) changes the log-likelihood by less than this part
# of its size: rounding, not slope.
_FLAT = np.sqrt(_EPS)


def _rows(data: Any) -> int | None:
    """The rows of the data (of its first member with a length, for a tuple or a dict of
    arrays); None when nothing in it has a length."""
    if isinstance(data, (tuple, Mapping)):
        members = data.values() if isinstance(data, Mapping) else data
        for member in members:
            if hasattr(member, "__len__") and not isinstance(member, str):
                return len(member)
        return None
    return len(data) if hasattr(data, "__len__") and not isinstance(data, str) else None


def _refuse_nan(data: Any) -> None:
    """Raise the usual ValueError where ``data`` (or a member of a tuple or a dict of arrays)
    is an array of numbers holding NaN (pandas ``pd.NA`` included). Infinities pass: an
    interval-censored likelihood may take inf as an upper limit."""
    if isinstance(data, Mapping):
        members = [(f"data[{key!r}]", value) for key, value in data.items()]
    elif isinstance(data, tuple):
        members = [(f"data[{i}]", value) for i, value in enumerate(data)]
    else:
        members = [("data", data)]
    for name, value in members:
        if isinstance(value, (pd.Series, pd.DataFrame)):
            missing = int(np.sum(value.isna().to_numpy()))
        elif isinstance(value, (np.ndarray, list)):
            try:
                values = np.asarray(value)
            except ValueError:  # a ragged list: logpdf's to read
                continue
            missing = int(np.isnan(values).sum()) if values.dtype.kind in "fc" else 0
        else:
            continue
        if missing:
            raise ValueError(f"{name} has {missing} NaN value(s); drop or impute them first")


def _check_shapes(first: np.ndarray, data: Any, n: int | None, k: int, g0) -> int:
    """The number of observations, after checking that ``logpdf`` returned a scalar or one
    value per observation (``first``) and ``grad`` (``g0``, None without one) shape (k,)."""
    if first.ndim > 1:
        raise ValueError(
            f"numerical: logpdf returned shape {first.shape}; it must return the log-density "
            "of each observation, shape (n,), or their sum"
        )
    if first.ndim == 1 and n is not None and first.size != n:
        raise ValueError(
            f"numerical: logpdf returned {first.size} values but n={n}; it must return the "
            f"log-density of each of the n observations, shape ({n},), or their sum"
        )
    if g0 is not None:
        if g0.shape != (k,) and not (k == 1 and g0.shape == ()):  # a float for one parameter
            raise ValueError(
                f"numerical: grad returned shape {g0.shape}; it must return the gradient of the "
                f"total log-likelihood with respect to the {k} parameter(s), shape ({k},) "
                "(sum the gradients of the observations)"
            )
        if not np.isfinite(g0).all():
            raise ValueError("numerical: grad is not finite at start, where logpdf is")
    if first.ndim == 1:
        return first.size
    if n is not None:
        return n
    rows = _rows(data)
    return rows if rows is not None else 1


def numerical(
    logpdf: Callable[[np.ndarray, Any], Any],
    data: Any,
    start,
    bounds: Bounds | None = None,
    grad: Callable[[np.ndarray, Any], Any] | None = None,
    *,
    n: int | None = None,
) -> Estimate:
    r"""Maximise any log-likelihood numerically; standard errors from the observed information.

    The covariance is the inverse of :math:`-\nabla^2 \ell(\hat\theta)`, the Hessian taken by
    central differences of ``logpdf`` (or of ``grad`` when given), in units of the difference
    steps so that parameters of 1e-200 or 1e200 keep their standard errors. A
    :class:`HessianWarning` is issued, and the covariance is NaN, when that Hessian is not
    negative definite: the point is a saddle, or the model is not identifiable there.

    A parameter whose estimate lies on one of its ``bounds`` (the likelihood still rises
    beyond it) has no Wald theory there: its standard error is NaN, and a
    :class:`HessianWarning` names it. The other parameters get the errors of the fit with it
    held at that bound, the inverse of the information of the free parameters (their
    covariance with it is 0); every error is NaN only where all the parameters lie on bounds.

    A parameter whose bounds are equal, (c, c), is held at c and not estimated (as
    statsmodels' fixed parameters): the others are fitted with it held, their covariance is
    the inverse information of the free parameters alone, and its own standard error, its
    covariances and its interval are NaN, which :meth:`Estimate.summary` and the report say
    under the table.

    The search is BFGS over unbounded coordinates (the log of a parameter's distance to its
    one bound, the logit of its position between two), each in units of its curvature at the
    start rather than of its value (a mean of 1e8 known to +-0.1 moves in steps of 0.1), then,
    with bounds, L-BFGS-B over the parameters themselves, which stops one exactly on a bound
    the likelihood rises towards.

    Convergence is judged by the Newton decrement :math:`\lambda^2 = g^\top I^{-1} g` (g the
    gradient, I the observed information), the squared distance to the maximum in standard
    errors: free of the parameters' units and of the optimiser's own stopping rule. While it
    exceeds 1e-12, up to five Newton steps (halved to stay inside the bounds and never to
    lower the log-likelihood) polish the optimiser's point; an :class:`OptimizationWarning`
    says when it still exceeds 1e-6 (a thousandth of a standard error) after them, and where
    the information is not positive definite, when the log-likelihood still changes along a
    parameter (the point cannot be verified as a maximum).

    Parameters
    ----------
    logpdf : callable ``logpdf(theta, data)`` with ``theta`` an array of shape (k,); returns the
        log-density of each observation, shape (n,), or their sum.
    data : anything ``logpdf`` accepts (an array, a tuple or dict of arrays, ...).
    start : array of shape (k,), or a dict mapping names to floats to name the parameters
        (``theta`` still arrives as an array in the dict's order).
    bounds : optional (low, high) per parameter, None (or a None end) for no bound; or a dict
        by name. The Wald intervals of a bounded parameter stay inside its bounds (see
        :meth:`Estimate.conf_int`).
    grad : optional callable ``grad(theta, data)`` returning the gradient of the total
        log-likelihood, shape (k,) (not one row per observation).
    n : the number of observations, reported as the estimate's ``n``. By default the length
        of ``logpdf``'s output (a conditional likelihood may give fewer values than ``data``
        has rows), or when that is a sum, the rows of ``data`` (of its first member with a
        length for a tuple or a dict). Where ``n`` is given, a ``logpdf`` output of another
        length is refused.

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
    _refuse_nan(data)
    names, theta0 = names_and_start(start)
    k = theta0.size
    if k == 0:
        raise ValueError(
            "numerical: start is empty; give one starting value per parameter of logpdf "
            "(an array of shape (k,), or a dict mapping names to floats)"
        )
    if not np.isfinite(theta0).all():
        raise ValueError(f"start must hold finite numbers; got {theta0.tolist()}")
    box = bounds_array(bounds, names, k)
    if ((theta0 < box[:, 0]) | (theta0 > box[:, 1])).any():
        raise ValueError("start lies outside bounds")
    fixed = box[:, 0] == box[:, 1]
    if fixed.any() and not fixed.all():
        return _not_estimated(_with_fixed(logpdf, data, names, theta0, box, grad, n), fixed)

    def total(theta: np.ndarray) -> float:
        return float(np.sum(logpdf(theta, data)))

    first = np.asarray(logpdf(theta0, data))
    if not np.isfinite(first).all():
        where = ""
        if first.ndim == 1 and first.size > 1:
            bad = np.flatnonzero(~np.isfinite(first))
            shown = ", ".join(map(str, bad[:10])) + (", ..." if bad.size > 10 else "")
            where = f" for {bad.size} of the {first.size} observations ([{shown}])"
        raise ValueError(
            f"logpdf is not finite at start{where}; choose a start inside the support, or "
            "check those observations"
        )
    if n is not None and not (float(n).is_integer() and n >= 1):
        raise ValueError(f"n must be a positive whole number of observations, got {n!r}")
    g0 = None if grad is None else np.asarray(grad(theta0, data), dtype=np.float64)
    n = _check_shapes(first, data, None if n is None else int(n), k, g0)
    if n == 0:
        raise ValueError(
            "numerical: there are no observations (logpdf returned no values, or data has no "
            "rows), so there is nothing to estimate from; check that a filter did not remove "
            "every row"
        )
    if fixed.all():  # nothing to estimate: the log-likelihood at the values held
        cov = np.full((k, k), np.nan)
        method = "Numerical maximum likelihood"
        return Estimate(
            named_params(names, theta0, "theta"), cov, total(theta0), n, method, bounds=box
        )
    scale = max(n, 1)  # minimise the mean negative log-likelihood: tolerances then mean something

    def objective(theta: np.ndarray) -> float:
        value = total(theta)
        return -value / scale if np.isfinite(value) else np.inf

    def gradient_at(theta: np.ndarray) -> np.ndarray:
        return np.asarray(grad(theta, data), dtype=np.float64)  # type: ignore[misc]

    def jac(theta: np.ndarray) -> np.ndarray:
        return -gradient_at(theta) / scale

    with np.errstate(all="ignore"), warnings.catch_warnings():
        # far from the maximum logpdf may overflow: that is the search exploring
        warnings.simplefilter("ignore", RuntimeWarning)
        theta = _search(objective, None if grad is None else jac, theta0, box)
    # On a bound (L-BFGS-B stops a parameter there exactly) no central difference fits: the
    # others' errors are those with it held there.
    at_bound = on_bound(theta, box)
    if at_bound.any() and not at_bound.all():
        return _on_bound(logpdf, data, names, theta, box, grad, n, at_bound)

    power = 1 / 3 if grad is not None else 1 / 4

    def information(
        theta: np.ndarray, se: np.ndarray | None
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """The observed information in units of the difference steps h (k, k), and h (k,);
        None on a bound (no room for central differences).

        Steps relative to each parameter when its standard error ``se`` is not yet known; then
        a fraction of it, balancing the truncation error (the step squared, in standard
        errors) against the rounding of log-likelihoods of size |l| (eps |l| over the step
        squared): a parameter of 1.7e9 with an error of 2 gets steps of about 1e-3, not 2e5,
        and a log-likelihood of 1e3 (a rate of 1e100) is differenced with steps large enough.
        """
        if se is None:
            h = step_sizes(theta, power)
        else:
            size = max(abs(total(theta)), 1.0)
            h = (_EPS * size) ** power * se
        h = np.minimum(h, 0.5 * np.minimum(theta - box[:, 0], box[:, 1] - theta))
        h = (theta + h) - theta  # the step taken: a step below the spacing of 1.7e9 rounds
        if (h <= 0).any():
            return None, h
        if grad is None:
            return -scaled_hessian(total, theta, h), h

        def gradient(t: np.ndarray) -> np.ndarray:
            return np.asarray(grad(t, data), dtype=np.float64)

        # differences of the gradient times the steps on both sides: no division by them
        steps = np.diag(h)
        H = np.stack([h * (gradient(theta + e) - gradient(theta - e)) / 2 for e in steps], 1)
        return -(H + H.T) / 2, h

    def definite(info: np.ndarray | None) -> np.ndarray:
        """Eigenvalues of ``info`` scaled to unit diagonal; NaN where that is impossible.

        Finite differences are good to about 1e-7, so a scaled eigenvalue below _RIDGE is a
        flat direction as far as the data can tell."""
        if info is None or not np.isfinite(info).all():
            return np.array([np.nan])
        d = np.diag(info)
        if not (d > 0).all():
            return np.array([np.nan])
        root = np.sqrt(d)
        return np.linalg.eigvalsh(info / root[:, None] / root[None, :])

    def decrement(theta: np.ndarray, info: np.ndarray, h: np.ndarray):
        """The Newton step in units of h, and the Newton decrement."""
        if grad is not None:
            g = h * np.asarray(grad(theta, data), dtype=np.float64)
        else:  # the gradient in units of h, from steps h1 balanced for first differences
            h1 = np.minimum(step_sizes(theta, 1 / 3), h)
            h1 = (theta + h1) - theta
            g = np.empty(k)
            for i in range(k):
                e = np.zeros(k)
                e[i] = h1[i]
                g[i] = (total(theta + e) - total(theta - e)) / 2 * (h[i] / h1[i])
        step = np.linalg.solve(info, g)
        return step, float(g @ step)

    def measured(theta: np.ndarray, se: np.ndarray | None):
        """The information, its steps and the standard errors (None where the information
        is not positive definite), with steps from ``se`` (first found when None)."""
        info, h = information(theta, se)
        if se is not None and not (definite(info) > _RIDGE).all():
            info, h = information(theta, None)  # steps from errors that no longer hold
        if not (definite(info) > _RIDGE).all():
            # steps relative to a parameter much smaller than its error are lost in rounding
            # (a mean of 1e-5 known to +-0.1): steps from the curvature along each one
            guess = _typical_change(objective, theta, box) / np.sqrt(scale)
            info, h = information(theta, guess)
        if info is None or not (definite(info) > _RIDGE).all():
            return info, h, None
        found = np.sqrt(np.diag(np.linalg.inv(info))) * h
        if se is None:
            return measured(theta, found)
        return info, h, found

    lam2, se = None, None
    for newton in range(_NEWTON_STEPS + 1):
        info, h, se = measured(theta, se)
        if se is None:
            lam2 = None
            break
        step, lam2 = decrement(theta, info, h)
        if not np.isfinite(lam2) or lam2 <= _POLISH or newton == _NEWTON_STEPS:
            break
        f0, t, moved = total(theta), 1.0, False
        for _ in range(40):
            new = theta + t * h * step
            if ((new > box[:, 0]) & (new < box[:, 1])).all() and total(new) >= f0:
                theta, moved = new, True
                break
            t /= 2
        if not moved:
            break

    if lam2 is not None:
        converged = lam2 <= _CONVERGED
        why = (
            f"the optimiser stopped without converging (about {np.sqrt(lam2):.2g} standard "
            "errors from the maximum)"
        )
    elif at_bound.all():
        # a corner of the bounds: a maximum there if no step inside raises the log-likelihood
        rising = rises_inward(total, theta, box, at_bound)
        converged = not rising.any()
        why = "the log-likelihood rises inside the bounds from the point returned"
    else:
        # No information to measure the distance by: a maximum (of a model the data do not
        # identify) only if no parameter's difference step changes the log-likelihood to
        # first order beyond its rounding; a flag of the optimiser's proves nothing.
        change = _first_changes(total, None if grad is None else gradient_at, theta, box)
        size = max(abs(total(theta)), 1.0)
        converged = bool(np.isfinite(change).all() and np.max(np.abs(change)) <= _FLAT * size)
        why = (
            "the point returned could not be verified as a maximum: the information there is "
            "not positive definite and the log-likelihood still changes along "
            f"{'a parameter' if k == 1 else 'some parameters'}"
        )
    if not converged:
        warn_user(f"numerical: {why}; try another start or bounds", OptimizationWarning)

    eig = definite(info)
    if not (eig > _RIDGE).all():
        where = "on a bound" if info is None else f"smallest scaled eigenvalue {np.min(eig):.3g}"
        warn_user(
            f"numerical: the Hessian of the log-likelihood at the optimum is not negative "
            f"definite ({where}); the standard errors are not valid there (a saddle point, a "
            "boundary, or a parameter the data do not identify)",
            HessianWarning,
        )
        cov = np.full((k, k), np.nan)
    else:
        cov = np.linalg.inv(info)
        cov = (cov + cov.T) / 2
    return Estimate(
        named_params(names, theta, "theta"),
        cov,
        total(theta),
        n,
        "Numerical maximum likelihood",
        bounds=box,
        cov_scale=h if info is not None else None,
    )


def _kinds(box: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which parameters are bounded below only, above only, and on both sides: bool (k,) each."""
    low, high = np.isfinite(box[:, 0]), np.isfinite(box[:, 1])
    return low & ~high, high & ~low, low & high


def _to_free(theta: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The unbounded coordinates u of ``theta`` strictly inside ``box``: log(theta - low),
    log(high - theta), the logit of the position between both bounds, theta where unbounded."""
    below, above, both = _kinds(box)
    lo, hi = box[:, 0], box[:, 1]
    u = theta.copy()
    u[below] = np.log(theta[below] - lo[below])
    u[above] = np.log(hi[above] - theta[above])
    u[both] = np.log(theta[both] - lo[both]) - np.log(hi[both] - theta[both])
    return u


def _from_free(u: np.ndarray, box: np.ndarray) -> np.ndarray:
    """``theta`` from its unbounded coordinates (the inverse of :func:`_to_free`)."""
    below, above, both = _kinds(box)
    lo, hi = box[:, 0], box[:, 1]
    theta = u.copy()
    theta[below] = lo[below] + np.exp(u[below])
    theta[above] = hi[above] - np.exp(u[above])
    width = hi[both] - lo[both]
    ub = u[both]
    # from the nearer bound, so that a position near either keeps its digits
    theta[both] = np.where(
        ub <= 0, lo[both] + width * special.expit(ub), hi[both] - width * special.expit(-ub)
    )
    return np.clip(theta, lo, hi)


def _slopes(u: np.ndarray, box: np.ndarray) -> np.ndarray:
    """d theta / d u, shape (k,)."""
    below, above, both = _kinds(box)
    out = np.ones_like(u)
    out[below] = np.exp(u[below])
    out[above] = -np.exp(u[above])
    p = special.expit(u[both])
    out[both] = (box[both, 1] - box[both, 0]) * p * (1 - p)
    return out


def _typical_change(objective: Callable[[np.ndarray], float], x: np.ndarray, box: np.ndarray):
    """How far each coordinate of ``x`` must move to change ``objective`` by about 1/2, shape
    (k,): the inverse square root of its curvature where that is positive, from steps relative
    to ``x`` and then to this scale (steps a thousand times longer while a second difference is
    lost in rounding: a mean of 1e-5 with an error of 0.1); elsewhere the size of ``x`` (1 at 0).
    Next to a bound the second difference is taken on the side away from it.

    The optimiser works in units of these, not of the parameters' values: a location of 1e8
    known to +-0.1 must be moved in steps of 0.1, not 1e8.
    """
    scale = np.where(x != 0, np.abs(x), 1.0)
    f0 = objective(x)
    if not np.isfinite(f0):
        return scale
    noise = 64 * _EPS * max(abs(f0), _EPS)
    room = np.column_stack([x - box[:, 0], box[:, 1] - x])  # (k, 2): below and above

    def curvature(i: int, h: float) -> tuple[float, float]:
        """The second difference along i in units of the step, and the step taken (0: none)."""
        e = np.zeros_like(x)
        if h > min(room[i]):  # one-sided, away from the nearer bound
            side = 1.0 if room[i, 1] >= room[i, 0] else -1.0
            h = min(h, max(room[i]) / 2)
            e[i] = side * h
            e[i] = (x[i] + e[i]) - x[i]
            if e[i] == 0:
                return np.nan, 0.0
            return objective(x + 2 * e) - 2 * objective(x + e) + f0, abs(e[i])
        e[i] = h
        e[i] = (x[i] + e[i]) - x[i]
        if e[i] == 0:
            return np.nan, 0.0
        return objective(x + e) - 2 * f0 + objective(x - e), e[i]

    h = step_sizes(x, 1 / 4)
    todo = np.ones(x.size, dtype=bool)
    found = np.zeros(x.size, dtype=bool)
    for _ in range(6):
        for i in np.flatnonzero(todo):
            c, step = curvature(int(i), h[i])
            if not np.isfinite(c) or c < -noise:
                todo[i] = False  # not convex along it here: keep the size of x
            elif c > noise:
                scale[i] = step / np.sqrt(c)
                todo[i] = not found[i]  # measured again with steps from the first measure
                found[i] = True
        if not todo.any():
            break
        h = np.where(found, _EPS ** (1 / 4) * scale, 1e3 * h)
    return scale


def _inside(theta0: np.ndarray, box: np.ndarray, finite: Callable[[np.ndarray], bool]):
    """The start moved off any bound it lies on (by a thousandth of the width, or of the bound's
    size for a one-sided bound), for the unbounded coordinates; None when the log-likelihood is
    not finite there."""
    lo, hi = box[:, 0], box[:, 1]
    if not on_bound(theta0, box).any():
        return theta0
    width = np.where(np.isfinite(hi - lo), hi - lo, np.maximum(np.abs(theta0), 1.0))
    step = 1e-3 * width
    moved = np.where(theta0 <= lo, lo + step, np.where(theta0 >= hi, hi - step, theta0))
    moved = np.clip(moved, lo, hi)
    if on_bound(moved, box).any() or not finite(moved):
        return None
    return moved


def _search(objective, jac, theta0: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The maximum likelihood point found from ``theta0``: BFGS over the unbounded coordinates
    of :func:`_to_free` (log and logit of the bounded parameters), centred at the start and in
    units of each one's typical change there; then, with bounds, L-BFGS-B over the parameters
    themselves from that point, in units of their typical change there, which stops a
    parameter exactly on a bound the likelihood rises towards (BFGS only approaches it).

    ``objective`` is the mean negative log-likelihood (inf where not finite) and ``jac`` its
    gradient, None for differences.
    """
    bounded = bool(np.isfinite(box).any())
    start = _inside(theta0, box, lambda t: bool(np.isfinite(objective(t))))
    theta = theta0
    if start is not None:
        u0 = _to_free(start, box)
        free_box = np.tile([-np.inf, np.inf], (u0.size, 1))
        unit = _typical_change(lambda u: objective(_from_free(u, box)), u0, free_box)

        def objective_w(w: np.ndarray) -> float:
            return objective(_from_free(u0 + unit * w, box))

        jac_w: Any = "3-point"
        if jac is not None:

            def jac_w(w: np.ndarray) -> np.ndarray:
                u = u0 + unit * w
                return unit * _slopes(u, box) * jac(_from_free(u, box))

        result = optimize.minimize(
            objective_w,
            np.zeros(u0.size),
            jac=jac_w,
            method="BFGS",
            options={"gtol": 1e-10, "maxiter": 10_000},
        )
        found = _from_free(u0 + unit * result.x, box)
        if objective(found) <= objective(theta0):
            theta = found
    if not bounded:
        return theta
    unit = _typical_change(objective, theta, box)
    low, high = (box[:, 0] - theta) / unit, (box[:, 1] - theta) / unit

    def objective_v(v: np.ndarray) -> float:
        return objective(theta + unit * v)

    jac_v: Any = "3-point" if jac is None else (lambda v: unit * jac(theta + unit * v))
    result = optimize.minimize(
        objective_v,
        np.zeros(theta.size),
        jac=jac_v,
        method="L-BFGS-B",
        bounds=list(zip(low, high, strict=True)),
        # no test on the projected gradient: it counts the distance to a bound, so 1e-12 from
        # one the likelihood rises towards would pass it
        options={"gtol": 0.0, "ftol": 1e-15, "maxiter": 10_000},
    )
    # a parameter L-BFGS-B holds on a bound is on it exactly, whatever the rounding of the units
    polished = np.where(
        result.x <= low, box[:, 0], np.where(result.x >= high, box[:, 1], theta + unit * result.x)
    )
    polished = np.clip(polished, box[:, 0], box[:, 1])
    return polished if objective(polished) <= objective(theta) else theta


def _first_changes(total, gradient, theta: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The change of the log-likelihood to first order over a step of eps^(1/3) of each
    parameter (shorter near a bound), shape (k,); NaN where no step is representable."""
    h = np.minimum(step_sizes(theta, 1 / 3), 0.5 * np.minimum(theta - box[:, 0], box[:, 1] - theta))
    h = (theta + h) - theta
    if (h <= 0).any():
        return np.full(theta.size, np.nan)
    if gradient is not None:
        return h * gradient(theta)
    out = np.empty(theta.size)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h[i]
        out[i] = (total(theta + e) - total(theta - e)) / 2
    return out


def _on_bound(logpdf, data, names, theta, box, grad, n, on_bound) -> Estimate:
    """:func:`numerical`'s estimate where the parameters ``on_bound`` (bool (k,)) lie on a
    bound: the others' covariance is that of the fit with those held there, and those get
    a standard error of NaN (the interval too), with a HessianWarning that names them."""
    held = box.copy()
    held[on_bound] = theta[on_bound, None]
    inner = _with_fixed(logpdf, data, names, theta, held, grad, n)
    scale, cov = inner._scaled()
    cov = cov.copy()
    where = np.flatnonzero(on_bound)
    cov[where, where] = np.nan
    warn_on_bound("numerical", names, theta, on_bound)
    full = np.asarray(flatten(inner.params))

    def total(t: np.ndarray) -> float:
        return float(np.sum(logpdf(t, data)))

    rising = rises_inward(total, full, box, on_bound)
    if rising.any():
        labels = ", ".join(
            names[i] if names is not None else f"theta[{i}]" for i in np.flatnonzero(rising)
        )
        warn_user(
            f"numerical: the log-likelihood rises from the bound inwards along {labels}: the "
            "point returned is not a maximum; try another start",
            OptimizationWarning,
        )
    return Estimate(
        inner.params,
        cov,
        inner.loglik,
        inner.n,
        "Numerical maximum likelihood",
        bounds=box,
        cov_scale=scale,
    )


def _not_estimated(est: Estimate, fixed: np.ndarray) -> Estimate:
    """``est`` with NaN rows and columns of the covariance for the parameters ``fixed`` (bool
    (k,)) by equal bounds: held, not estimated, they have no standard error (a 0 would read as
    a value known exactly from the data)."""
    scale, cov = est._scaled()
    cov = cov.copy()
    cov[fixed, :] = np.nan
    cov[:, fixed] = np.nan
    return dataclasses.replace(est, cov=cov, cov_scale=scale)


def _with_fixed(logpdf, data, names, theta0, box, grad, n) -> Estimate:
    """:func:`numerical` where ``box`` holds some parameters (low == high): the others are
    estimated with those held (the Hessian over the free ones alone); the held ones' rows and
    columns of the covariance are 0 (:func:`_not_estimated` makes them NaN)."""
    free = box[:, 0] != box[:, 1]

    def full(theta_free: np.ndarray) -> np.ndarray:
        out = theta0.copy()
        out[free] = theta_free
        return out

    inner = numerical(
        lambda t, d: logpdf(full(t), d),
        data,
        theta0[free],
        [tuple(pair) for pair in box[free]],
        None if grad is None else (lambda t, d: np.asarray(grad(full(t), d))[free]),
        n=n,
    )
    k = theta0.size
    (theta_free,) = inner.params.values()
    scale, cov_free = inner._scaled()
    cov = np.zeros((k, k))
    cov[np.ix_(free, free)] = cov_free
    cov_scale = np.ones(k)
    cov_scale[free] = scale
    return Estimate(
        named_params(names, full(np.asarray(theta_free)), "theta"),
        cov,
        inner.loglik,
        inner.n,
        "Numerical maximum likelihood",
        bounds=box,
        cov_scale=cov_scale,
    )
