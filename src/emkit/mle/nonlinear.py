"""Nonlinear least squares to certified accuracy: the Gaussian MLE of a regression curve.

The fit runs scipy's ``least_squares`` on exact (complex-step or user) derivatives, restarts
with another method and scaling when a run is not certified, then polishes by Gauss-Newton.
A result is ``converged`` only when, at the returned point, the gradient and Gauss-Newton step
tests hold; otherwise an :class:`OptimizationWarning` says what stopped the solver.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
from scipy import optimize

from emkit.checks import real_numbers, rows_aligned
from emkit.exceptions import warn_user
from emkit.mle.estimate import (
    CONDITION_WARN,
    Bounds,
    ConditionWarning,
    HessianWarning,
    OptimizationWarning,
    RegressionEstimate,
    bounds_array,
    flatten,
    named_params,
    names_and_start,
    rises_inward,
    warn_exact_fit,
    warn_on_bound,
)

_EPS = np.finfo(np.float64).eps
_COMPLEX_STEP = 1e-20
# Certificate tolerances at the returned point, on the column-scaled Jacobian: the Gauss-Newton
# step relative to the parameters, and the cosine between the residual and the range of J.
STEP_TOL = 1e-8
GRAD_TOL = 1e-6

Derivatives = Literal["auto", "complex", "central"]


class _Model:
    """The residual ``y - f(x, *theta)`` and its Jacobian, counting evaluations of ``f``."""

    def __init__(self, f, x, y, jac, diff: str):
        self.f, self.x, self.y, self.user_jac, self.diff = f, x, y, jac, diff
        self.nfev = 0

    def predict(self, theta: np.ndarray) -> np.ndarray:
        self.nfev += 1
        return np.asarray(self.f(self.x, *theta), dtype=np.float64)

    def resid(self, theta: np.ndarray) -> np.ndarray:
        return self.y - self.predict(theta)

    def jac(self, theta: np.ndarray) -> np.ndarray:
        """Jacobian of the predictions, shape (n, k)."""
        if self.user_jac is not None:
            J = np.asarray(self.user_jac(self.x, *theta), dtype=np.float64)
            return J[:, None] if J.ndim == 1 and theta.size == 1 else J
        if self.diff == "complex":
            return complex_step_jacobian(self.f, self.x, theta, self)
        return central_jacobian(lambda t: self.predict(t), theta)

    def resid_jac(self, theta: np.ndarray) -> np.ndarray:
        return -self.jac(theta)


def complex_step_jacobian(f, x, theta: np.ndarray, counter: Any = None) -> np.ndarray:
    r"""Complex-step Jacobian :math:`\partial f/\partial\theta_j = \operatorname{Im} f(\theta +
    ih e_j)/h`, exact to rounding for any tiny h (no subtraction), shape (n, k).

    ``f(x, *theta)`` must be analytic in theta and written with functions that accept complex
    numbers (``np.exp``, ``**``, ``np.arctan``, ...; not ``abs``, comparisons or ``np.real``).
    """
    k = theta.size
    columns = []
    for j in range(k):
        t = theta.astype(np.complex128)
        h = _COMPLEX_STEP * max(abs(theta[j]), 1e-300)
        t[j] += 1j * h
        if counter is not None:
            counter.nfev += 1
        columns.append(np.imag(np.asarray(f(x, *t), dtype=np.complex128)) / h)
    return np.stack(columns, axis=-1)


def central_jacobian(predict: Callable[[np.ndarray], np.ndarray], theta: np.ndarray):
    r"""Central-difference Jacobian with steps relative to each parameter, shape (n, k).

    The step :math:`h_j = \epsilon^{1/3} |\theta_j|` (or :math:`\epsilon^{1/3}` at zero) balances
    truncation and rounding error whatever the parameter's scale: a step of fixed size would
    swamp a parameter of 1e-7.
    """
    columns = []
    for j in range(theta.size):
        h = _EPS ** (1 / 3) * (abs(theta[j]) if theta[j] != 0 else 1.0)
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        columns.append((predict(up) - predict(down)) / (up[j] - down[j]))
    return np.stack(columns, axis=-1)


def _complex_works(f, x, theta: np.ndarray, n: int) -> bool:
    """Whether ``f`` carries a complex step through (it is then used for exact derivatives)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            Jc = complex_step_jacobian(f, x, theta)
    except (TypeError, ValueError, ArithmeticError, np.exceptions.ComplexWarning):
        return False
    if Jc.shape != (n, theta.size) or not np.isfinite(Jc).all():
        return False
    Jd = central_jacobian(lambda t: np.asarray(f(x, *t), dtype=np.float64), theta)
    # a function that drops the imaginary part (abs, np.real, float()) gives zero columns
    size = np.maximum(np.linalg.norm(Jd, axis=0), 1e-300)
    return bool(np.all(np.linalg.norm(Jc - Jd, axis=0) <= 1e-3 * size + 1e-300))


def _certify(J: np.ndarray, r: np.ndarray, theta: np.ndarray, fitted: np.ndarray):
    """Gauss-Newton step, gradient cosine and scaled condition number at ``theta``.

    Returns ``(step, step_rel, grad_cos, cond, (V, s, d))`` with the SVD of the column-scaled
    Jacobian ``J / d = U diag(s) V^T`` for the covariance.
    """
    d = np.linalg.norm(J, axis=0)
    d = np.where(d > 0, d, 1.0)
    U, s, Vt = np.linalg.svd(J / d, full_matrices=False)
    cond = float(s[0] / s[-1]) if s[-1] > 0 else np.inf
    keep = s > s[0] * max(J.shape) * _EPS
    ur = U.T @ r
    step = (Vt.T[:, keep] @ (ur[keep] / s[keep])) / d
    scaled_theta = np.linalg.norm(theta * d)
    step_rel = float(np.linalg.norm(step * d) / scaled_theta) if scaled_theta > 0 else np.inf
    # the residual's component in the range of J, against its size; at rounding level for
    # (near) zero-residual fits, where the cosine itself is noise
    r_norm = np.linalg.norm(r)
    floor = 64 * _EPS * (np.linalg.norm(fitted) + np.linalg.norm(r))
    g = np.linalg.norm(ur[keep])
    grad_cos = 0.0 if g <= floor else float(g / r_norm)
    return step, step_rel, grad_cos, cond, (Vt.T, s, d)


def _newton_step(model: _Model, theta, J, r, gn_step):
    r"""Newton step on the RSS with the second-order term :math:`S = \sum_i r_i \nabla^2 f_i`,
    taken by central differences of the (exact) Jacobian; the Gauss-Newton step where the
    Hessian :math:`J^\top J - S` is not positive definite.

    Gauss-Newton alone converges only linearly on large-residual problems (ENSO, MGH09: a
    rate near 0.6); with S the convergence is quadratic.
    """
    k = theta.size
    d = np.linalg.norm(J, axis=0)
    d = np.where(d > 0, d, 1.0)
    S = np.empty((k, k))
    for j in range(k):
        h = _EPS ** (1 / 3) * (abs(theta[j]) if theta[j] != 0 else 1.0)
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        S[j] = r @ (model.jac(up) - model.jac(down)) / (up[j] - down[j])
    Js = J / d
    H = Js.T @ Js - (S + S.T) / 2 / np.outer(d, d)  # scaled Hessian of RSS/2
    g = Js.T @ r
    try:
        L = np.linalg.cholesky(H)
    except np.linalg.LinAlgError:
        return gn_step
    step = np.linalg.solve(L.T, np.linalg.solve(L, g)) / d
    return step if np.isfinite(step).all() else gn_step


def _polish(model: _Model, theta: np.ndarray, box: np.ndarray, iterations: int = 12):
    """Newton (or Gauss-Newton) steps from a point near the optimum, to full working accuracy.

    Near the optimum the RSS is flat to rounding (it changes with the square of the step), so a
    step is accepted when the RSS does not rise by more than rounding, and the point returned
    is the one with the smallest Gauss-Newton step, the certificate :func:`_certify` checks.
    """
    r = model.resid(theta)
    rss = float(r @ r)
    best, best_rel = theta, np.inf
    for _ in range(iterations):
        J = model.jac(theta)
        if not np.isfinite(J).all():
            break
        gn_step, step_rel, _, cond, _ = _certify(J, r, theta, model.y - r)
        if step_rel < best_rel:
            best, best_rel = theta, step_rel
        if not np.isfinite(gn_step).all() or step_rel <= 4 * _EPS or step_rel > 2 * best_rel:
            break
        step = _newton_step(model, theta, J, r, gn_step) if cond < 1e6 else gn_step
        for _ in range(8):
            trial = np.clip(theta + step, box[:, 0], box[:, 1])
            r_new = model.resid(trial)
            rss_new = float(r_new @ r_new)
            if np.isfinite(rss_new) and rss_new <= rss * (1 + 64 * _EPS):
                theta, r, rss = trial, r_new, rss_new
                break
            step = step / 2
        else:
            break
    return best


def _solve(model: _Model, theta0, box, method, x_scale, max_nfev, options):
    kwargs: dict[str, Any] = {"xtol": 1e-15, "ftol": 1e-15, "gtol": 1e-15}
    kwargs.update(options)
    if method != "lm":
        kwargs["bounds"] = (box[:, 0], box[:, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow while exploring far away
        return optimize.least_squares(
            model.resid,
            theta0,
            jac=model.resid_jac,
            method=method,
            x_scale=x_scale,
            max_nfev=max_nfev,
            **kwargs,
        )


def _held_on_bound(
    f, x, y, theta, box, names, jac, derivatives, variance, method, limit, options, model
) -> RegressionEstimate | None:
    """:func:`nonlinear_regression`'s estimate where parameters lie on a bound (within
    sqrt(eps) of it) and the RSS falls towards it: the fit of the others with those held there
    (their covariance, and the certificate, those of the free parameters), and NaN standard
    errors for the held ones with a HessianWarning that names them, as :func:`numerical` gives.
    None where no parameter is that near a bound, all are, or the RSS falls inwards."""
    k = theta.size
    distance = np.minimum(theta - box[:, 0], box[:, 1] - theta)
    near = distance <= np.sqrt(_EPS) * np.maximum(np.abs(theta), 1.0)
    if not near.any() or near.all():
        return None
    nearest = np.where(theta - box[:, 0] <= box[:, 1] - theta, box[:, 0], box[:, 1])
    full = np.where(near, nearest, theta)
    free = np.flatnonzero(~near)

    def expand(values) -> list:
        out = list(full)
        for j, i in enumerate(free):
            out[i] = values[j]
        return out

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inner = nonlinear_regression(
            lambda x_, *t: f(x_, *expand(t)),
            x,
            y,
            full[free],
            [tuple(pair) for pair in box[free]],
            jac=None if jac is None else (lambda x_, *t: np.asarray(jac(x_, *expand(t)))[:, free]),
            derivatives=derivatives,
            variance=variance,
            method=method,
            max_nfev=limit,
            solver_options=options,
        )
    theta_held = np.asarray(full, dtype=np.float64)
    theta_held[free] = flatten(inner.params)[: free.size]

    def rss_of(t: np.ndarray) -> float:
        r = model.resid(t)
        value = float(r @ r)
        return value if np.isfinite(value) else np.inf

    if (
        rss_of(theta_held) > rss_of(theta) * (1 + 1e-10)
        or rises_inward(lambda t: -rss_of(t), theta_held, box, near).any()
    ):
        return None
    for w in caught:  # the inner fit's own warnings (not converged, ill-conditioned)
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    warn_on_bound("nonlinear_regression", names, theta_held, near)
    n = y.size
    m = n if variance == "mle" else n - k
    rss = inner.rss
    var = rss / m
    cov = np.zeros((k + 1, k + 1))
    inner_var = inner.params["variance"]
    block = inner.cov[: free.size, : free.size]
    cov[np.ix_(free, free)] = block * (var / inner_var) if inner_var > 0 else block
    held = np.flatnonzero(near)
    cov[held, held] = np.nan
    cov[k, k] = 2 * var**2 / m
    params = named_params(names, theta_held, "coef")
    params["variance"] = var
    labels = ", ".join(names[i] if names is not None else f"coef[{i}]" for i in held)
    return RegressionEstimate(
        params,
        cov,
        inner.loglik,
        n,
        inner.method,
        rss=rss,
        df_resid=n - k,
        condition_number=inner.condition_number,
        converged=inner.converged,
        bounds=np.vstack([box, [0.0, np.inf]]),
        message=f"{inner.message} ({labels} held on the bound)",
        nfev=model.nfev + inner.nfev,
        unbiased=variance == "unbiased",
    )


def _signature_slots(f) -> tuple[list[str], int, bool] | None:
    """The names of ``f``'s positional parameters after ``x``, how many of them have no
    default, and whether it also takes ``*args``; None where the signature cannot be read or
    ``f`` takes no positional ``x``."""
    try:
        signature = inspect.signature(f)
    except (TypeError, ValueError):
        return None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = list(signature.parameters.values())
    varargs = any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in params)
    slots = [p for p in params if p.kind in positional]
    if not slots:
        return None if varargs else ([], 0, False)
    rest = slots[1:]
    required = sum(p.default is inspect.Parameter.empty for p in rest)
    return [p.name for p in rest], required, varargs


def _start_by_signature(f, p0) -> tuple[list[str] | None, np.ndarray]:
    """``p0`` as names and a start vector in the order ``f(x, *theta)`` takes them: a dict
    by ``f``'s parameter names, a sequence by position; ValueError for names ``f`` does not
    take, missing ones, or a start of the wrong length."""
    slots = _signature_slots(f)
    if isinstance(p0, Mapping):
        if slots is None or (slots[2] and not slots[0]):
            # f(x, *theta): no names to match, so the dict's order is the order of theta
            return names_and_start(p0)
        taken, required, varargs = slots
        given = list(p0)
        unknown = [name for name in given if name not in taken]
        if unknown and not varargs:
            raise ValueError(
                f"nonlinear_regression: p0 names {unknown}, which f does not take; f's "
                f"parameters after x are {taken}: name p0's entries after them"
            )
        missing = [name for name in taken[:required] if name not in p0]
        if missing:
            raise ValueError(
                f"nonlinear_regression: p0 has no start for f's parameter(s) {missing}; give "
                f"one for each of {taken[:required]}"
            )
        named = [name for name in taken if name in p0]
        if named != taken[: len(named)]:
            raise ValueError(
                f"nonlinear_regression: p0 gives {named} but not {taken[len(named)]!r} before "
                "them; f is called with the parameters by position, so give a start for each "
                f"of {taken[: taken.index(named[-1]) + 1]}"
            )
        order = named + [name for name in given if name not in taken]  # then f's *args
        try:
            theta0 = np.array([float(p0[name]) for name in order])
        except (TypeError, ValueError):
            raise ValueError(
                f"nonlinear_regression: p0 must map names to numbers; got {p0!r}"
            ) from None
        return order, theta0
    names, theta0 = names_and_start(p0)
    if slots is not None and not slots[2]:
        taken, required, _ = slots
        if not required <= theta0.size <= len(taken):
            wanted = f"{len(taken)}" if required == len(taken) else f"{required} to {len(taken)}"
            raise ValueError(
                f"nonlinear_regression: p0 has {theta0.size} value(s) but f takes {wanted} "
                f"parameter(s) after x ({', '.join(taken)}); give one start for each"
            )
    return names, theta0


def nonlinear_regression(
    f: Callable[..., Any],
    x: Any,
    y,
    p0,
    bounds: Bounds | None = None,
    *,
    jac: Callable[..., Any] | None = None,
    derivatives: Derivatives = "auto",
    variance: Literal["mle", "unbiased"] = "mle",
    method: Literal["auto", "lm", "trf", "dogbox"] = "auto",
    max_nfev: int | None = None,
    solver_options: Mapping[str, Any] | None = None,
) -> RegressionEstimate:
    r"""Nonlinear least squares: the MLE of :math:`y = f(x, \theta) + \varepsilon`, Gaussian noise.

    The default strategy (``method="auto"``) reaches NIST's certified values on all 27 StRD
    nonlinear problems from both of NIST's starts:

    1. Levenberg-Marquardt (MINPACK, Jacobian-based scaling; a trust region when bounded)
       from ``p0``;
    2. when that run is not certified (below), a trust-region-reflective run with unit scaling
       from ``p0``, then Levenberg-Marquardt again from the better of the two;
    3. from each run's end, Newton steps on the RSS (Gauss-Newton plus the second-order term
       from differences of the exact Jacobian; plain Gauss-Newton where that Hessian is not
       positive definite or the Jacobian's condition number exceeds 1e6), to full working
       accuracy; the point with the smallest RSS is returned.

    Derivatives are exact: ``jac`` when given, else complex-step differentiation when ``f``
    carries complex numbers through (NumPy ufuncs and arithmetic do), else central differences
    with steps relative to each parameter (``derivatives`` forces a choice).

    A fit is ``converged`` when, at the returned point, the Gauss-Newton step is below 1e-8 of
    the parameters (scaled norms) and the residual's component in the range of the Jacobian is
    below 1e-6 of the residual (or at rounding level); otherwise an
    :class:`OptimizationWarning` says which test failed and what stopped the solver.

    Standard errors are Gauss-Newton: the covariance of the coefficients is
    :math:`\hat\sigma^2 (J^\top J)^{-1}` with J the Jacobian of f at the optimum, and
    :math:`\hat\sigma^2` = RSS/N (the MLE, default) or RSS/(N - k) with ``variance="unbiased"``
    (the convention of R's ``nls``, scipy's ``curve_fit`` and NIST). A DegenerateFitWarning
    says when the residuals are all 0 up to rounding of y: the noise variance MLE is then 0
    and the standard errors and log-likelihood say nothing.

    Parameters
    ----------
    f : callable ``f(x, *theta)`` returning predictions of shape (n,), as for ``curve_fit``.
    x : the independent variable, passed to ``f`` unchanged; a 1-dimensional x holds one value
        per observation of y.
    y : array of shape (n,).
    p0 : start, array of shape (k,) in the order ``f`` takes the parameters, or a dict mapping
        ``f``'s parameter names to floats (in any order; names ``f`` does not take, or a
        parameter without a start, are refused).
    bounds : optional (low, high) per parameter (None for no bound), or a dict by name. The
        Wald intervals of a bounded parameter stay inside its bounds, as those of the variance
        stay above 0 (see :meth:`Estimate.conf_int`).
    jac : optional callable ``jac(x, *theta)`` returning the Jacobian of ``f`` with respect
        to theta, shape (n, k).
    derivatives : ``"auto"``, ``"complex"`` or ``"central"``; ignored when ``jac`` is given.
    variance : ``"mle"`` (RSS/N) or ``"unbiased"`` (RSS/(N - k)).
    method : ``"auto"`` (above), or one scipy ``least_squares`` method run once from ``p0``
        and then polished.
    max_nfev : evaluation limit for each solver run (default ``1000 * (k + 1)``).
    solver_options : further keyword arguments for ``scipy.optimize.least_squares`` (``xtol``,
        ``ftol``, ``gtol``, ``x_scale``, ``tr_solver``, ...); they apply to every run.

    Returns
    -------
    RegressionEstimate
        Parameters ``coef`` of shape (k,) (or the names of ``p0``) and ``variance``, with
        ``rss``, ``residual_sd``, ``converged``, ``message``, ``nfev`` and
        ``condition_number`` (of the column-scaled Jacobian).

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
    >>> est.converged, est.df_resid
    (True, 28)
    """
    rows_aligned("mle.nonlinear_regression", x=x, y=y)
    real_numbers(y, "y", "mle.nonlinear_regression")
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-dimensional, got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError(f"y has {int((~np.isfinite(y)).sum())} NaN or infinite value(s)")
    if variance not in ("mle", "unbiased"):
        raise ValueError(f"variance must be 'mle' or 'unbiased', got {variance!r}")
    if derivatives not in ("auto", "complex", "central"):
        raise ValueError(f"derivatives must be 'auto', 'complex' or 'central', got {derivatives!r}")
    if method not in ("auto", "lm", "trf", "dogbox"):
        raise ValueError(f"method must be 'auto', 'lm', 'trf' or 'dogbox', got {method!r}")
    n = y.size
    if np.ndim(x) == 1 and len(x) != n:
        raise ValueError(
            f"nonlinear_regression: x has {len(x)} values but y has {n}; give one x per "
            "observation of y"
        )
    names, theta0 = _start_by_signature(f, p0)
    k = theta0.size
    if k == 0:
        raise ValueError("nonlinear_regression: p0 is empty; give a start for each parameter")
    if n <= k:
        raise ValueError(
            f"nonlinear_regression needs more observations ({n}) than parameters ({k})"
        )
    box = bounds_array(bounds, names, k)
    if ((theta0 < box[:, 0]) | (theta0 > box[:, 1])).any():
        raise ValueError("p0 lies outside bounds")
    bounded = bool(np.isfinite(box).any())
    if method == "lm" and bounded:
        raise ValueError("method='lm' cannot take bounds; use 'trf' or 'dogbox'")
    pred0 = np.asarray(f(x, *theta0), dtype=np.float64)
    if pred0.shape != y.shape:
        raise ValueError(f"f returned shape {pred0.shape}; it must match y's {y.shape}")
    if not np.isfinite(pred0).all():
        raise ValueError("f is not finite at p0; choose another start")
    if jac is None and derivatives == "auto":
        derivatives = "complex" if _complex_works(f, x, theta0, n) else "central"
    model = _Model(f, x, y, jac, derivatives)
    if jac is not None:
        J0 = model.jac(theta0)
        if J0.shape != (n, k):
            raise ValueError(f"jac returned shape {J0.shape}; it must be (n, k) = {(n, k)}")
    limit = 1000 * (k + 1) if max_nfev is None else int(max_nfev)
    options = dict(solver_options or {})

    def certified(theta: np.ndarray) -> bool:
        r = model.resid(theta)
        J = model.jac(theta)
        if not (np.isfinite(r).all() and np.isfinite(J).all()):
            return False
        _, step_rel, grad_cos, cond, _ = _certify(J, r, theta, y - r)
        return step_rel <= STEP_TOL and grad_cos <= GRAD_TOL and cond < 1 / _EPS

    def rss_of(theta: np.ndarray) -> float:
        r = model.resid(theta)
        value = float(r @ r)
        return value if np.isfinite(value) else np.inf

    first = "trf" if bounded else "lm"
    x_scale = options.pop("x_scale", "jac")
    # Far from the optimum f may overflow; that is the solver exploring, not the user's concern.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        runs = [
            _solve(
                model, theta0, box, first if method == "auto" else method, x_scale, limit, options
            )
        ]
        candidates = [_polish(model, runs[0].x, box)]
        if method == "auto" and not certified(candidates[0]):
            # Jacobian scaling can lead into a flat region (BoxBOD from start 1): unit scaling
            # with a trust region from the same start, then LM again from the better point
            runs.append(_solve(model, theta0, box, "trf", 1.0, limit, options))
            candidates.append(_polish(model, runs[1].x, box))
            best = min(candidates, key=rss_of)
            runs.append(_solve(model, best, box, first, "jac", limit, options))
            candidates.append(_polish(model, runs[2].x, box))
            if bounded and not any(certified(c) for c in candidates):
                # bounds that do not bind at the optimum need not steer the search (MGH10
                # from start 1): unbounded LM, kept only if it ends inside the bounds
                runs.append(_solve(model, theta0, box, "lm", "jac", limit, options))
                end = runs[-1].x
                if ((end >= box[:, 0]) & (end <= box[:, 1])).all():
                    candidates.append(_polish(model, end, box))
        theta = min(candidates, key=rss_of)
    last = runs[-1]
    if bounded and not certified(theta):
        # a solver with bounds stops short of one the RSS falls towards (trf stays strictly
        # inside): the fit with such parameters held on it, if that is a constrained optimum
        held = _held_on_bound(
            f, x, y, theta, box, names, jac, derivatives, variance, method, limit, options, model
        )
        if held is not None:
            return held

    r = model.resid(theta)
    rss = float(r @ r)
    J = model.jac(theta)
    _, step_rel, grad_cos, cond, (V, s, d) = _certify(J, r, theta, y - r)
    converged = step_rel <= STEP_TOL and grad_cos <= GRAD_TOL
    hit_limit = any(res.status == 0 for res in runs)
    if converged:
        message = f"converged: Gauss-Newton step {step_rel:.1e}, gradient cosine {grad_cos:.1e}"
    else:
        stopped = (
            f"the evaluation limit (max_nfev={limit}) was reached"
            if hit_limit
            else f"the solver stopped: {last.message}"
        )
        message = (
            f"not converged: {stopped}; at the returned point the relative Gauss-Newton step "
            f"is {step_rel:.1e} (test {STEP_TOL:g}) and the gradient cosine {grad_cos:.1e} "
            f"(test {GRAD_TOL:g})"
        )
        warn_user(
            f"nonlinear_regression: {message}; raise max_nfev, pass jac=, or try another start",
            OptimizationWarning,
        )

    warn_exact_fit("nonlinear_regression", np.sqrt(rss), float(np.linalg.norm(y)), "f(x, theta)")
    df = n - k
    m = n if variance == "mle" else df
    var = rss / m
    cov = np.zeros((k + 1, k + 1))
    if cond >= 1 / (max(n, k) * _EPS) or not np.isfinite(cond):
        warn_user(
            "nonlinear_regression: the Jacobian is singular at the optimum (condition number "
            f"{cond:.2g} with unit-length columns); the parameters are not identified and have "
            "no standard errors",
            HessianWarning,
        )
        cov[:k, :k] = np.nan
    else:
        if cond > CONDITION_WARN:
            warn_user(
                f"nonlinear_regression: the Jacobian at the optimum is ill-conditioned "
                f"(condition number {cond:.2g} with unit-length columns); the parameters and "
                f"standard errors may have only about {max(0.0, 16 - np.log10(cond)):.0f} "
                "correct digits; reparametrise (centre x, or combine nearly redundant parameters)",
                ConditionWarning,
            )
        W = V / s  # (k, k): (J^T J)^{-1} = D^{-1} V S^{-2} V^T D^{-1}
        cov[:k, :k] = var * (W @ W.T) / np.outer(d, d)
    cov[k, k] = 2 * var**2 / m
    params = named_params(names, theta, "coef")
    params["variance"] = var
    with np.errstate(divide="ignore"):
        loglik = -0.5 * n * (np.log(2 * np.pi * rss / n) + 1)
    method_line = "Nonlinear least squares (Gaussian MLE)" + (
        ", variance RSS/(N - k)" if variance == "unbiased" else ""
    )
    return RegressionEstimate(
        params,
        cov,
        loglik,
        n,
        method_line,
        rss=rss,
        df_resid=df,
        condition_number=cond,
        converged=converged,
        bounds=np.vstack([box, [0.0, np.inf]]),  # intervals inside the bounds and above 0
        message=message,
        nfev=model.nfev,
        unbiased=variance == "unbiased",
    )
