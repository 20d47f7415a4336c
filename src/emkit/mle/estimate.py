"""The :class:`Estimate` every MLE function returns, and the finite differences behind it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from emkit.checks import check_level
from emkit.exceptions import DegenerateFitWarning, warn_user

Value = float | np.ndarray
Bounds = (
    Sequence[tuple[float | None, float | None]] | Mapping[str, tuple[float | None, float | None]]
)

_EPS = np.finfo(np.float64).eps
# Above this condition number (of the design or Jacobian with unit-length columns) a
# ConditionWarning says that digits are lost: 1e7 squared times eps is about 0.02, so on
# large-residual problems some coefficient can lose every digit.
CONDITION_WARN = 1e7


class HessianWarning(RuntimeWarning):
    """The observed information at an optimum is not positive definite: no valid standard errors.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from emkit import mle
    >>> def loglik(theta, x):  # only a + b is identified
    ...     a, b = theta
    ...     return -0.5 * (x - a - b) ** 2
    ...
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     est = mle.numerical(loglik, np.array([0.1, -0.3, 0.5]), start=[0.0, 0.0])
    ...
    >>> any(issubclass(w.category, mle.HessianWarning) for w in caught)
    True
    """


class OptimizationWarning(RuntimeWarning):
    """The optimiser stopped before it could certify a maximum of the log-likelihood.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from emkit import mle
    >>> def loglik(theta, x):  # rises without bound: there is no maximum to find
    ...     return theta[0] * x
    ...
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     est = mle.numerical(loglik, np.ones(3), start=[0.0])
    ...
    >>> sorted({w.category.__name__ for w in caught if w.category.__module__.startswith("emkit")})
    ['HessianWarning', 'OptimizationWarning']
    """


class ConditionWarning(RuntimeWarning):
    """The design (or Jacobian) is so ill-conditioned that the estimates lose correct digits.

    Issued by :func:`linear_regression` and :func:`nonlinear_regression` when the condition
    number with unit-length columns exceeds 1e7.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from emkit import mle
    >>> x = np.linspace(1000, 1001, 30)  # powers of x far from 0: nearly collinear columns
    >>> X = np.column_stack([x, x**2, x**3])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     est = mle.linear_regression(X, np.sin(x))
    ...
    >>> [w.category.__name__ for w in caught]
    ['ConditionWarning']
    """


# Residuals whose norm is below this many eps of y's norm are rounding of an exact fit: the
# residuals of NIST's exact Wampler1 and Wampler2 come to 0.2 eps, Lanczos1's (data rounded to
# 13 digits) to 390 eps.
EXACT_FIT = 16


def warn_exact_fit(who: str, resid_norm: float, y_norm: float, model: str) -> None:
    """A DegenerateFitWarning when the residuals (norm ``resid_norm``) are 0 up to rounding
    of y (norm ``y_norm``): ``y`` then fits ``model`` exactly and the noise variance MLE is 0."""
    if not resid_norm <= EXACT_FIT * _EPS * y_norm:
        return
    size = "exactly 0" if resid_norm == 0 else f"0 up to rounding ({resid_norm / y_norm:.1g} of y)"
    warn_user(
        f"{who}: the residuals are all {size}: y is exactly {model}, so the noise variance "
        "MLE is 0 and the standard errors (0 or rounding noise), intervals and log-likelihood "
        "(inf or huge) mean nothing; the coefficients interpolate y exactly. If y is measured "
        "with noise, check that it was not computed from x",
        DegenerateFitWarning,
    )


def _freeze(value: Any) -> Value:
    arr = np.array(value, dtype=np.float64)
    if arr.ndim == 0:
        return float(arr)
    arr.flags.writeable = False
    return arr


def flatten(params: Mapping[str, Value]) -> np.ndarray:
    """Concatenate the parameters, each raveled in C order, into one vector of shape (k,)."""
    if not params:
        return np.zeros(0)
    return np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for v in params.values()])


def unflatten(theta: np.ndarray, like: Mapping[str, Value]) -> dict[str, Value]:
    """Split a vector of shape (k,) into parameters shaped as in ``like``."""
    out: dict[str, Value] = {}
    start = 0
    for name, value in like.items():
        shape = np.shape(value)
        size = int(np.prod(shape, dtype=int))
        chunk = theta[start : start + size]
        out[name] = float(chunk[0]) if shape == () else chunk.reshape(shape).copy()
        start += size
    return out


def names_and_start(start) -> tuple[list[str] | None, np.ndarray]:
    """Parameter names (None when unnamed) and the start as a vector of shape (k,)."""
    if isinstance(start, Mapping):
        return list(start), np.array([float(v) for v in start.values()])
    return None, np.atleast_1d(np.asarray(start, dtype=np.float64)).ravel()


def named_params(names: list[str] | None, theta: np.ndarray, label: str) -> dict[str, Any]:
    """``theta`` as named scalars, or as one vector parameter ``label`` when unnamed."""
    if names is None:
        return {label: theta}
    return dict(zip(names, theta, strict=True))


def bounds_array(bounds, names: list[str] | None, k: int) -> np.ndarray:
    """Bounds as an array of shape (k, 2) with -inf / inf for None (a whole pair or either
    end); ValueError for a pair that is not two numbers or None, or with low above high."""
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
    box = np.empty((k, 2))
    for i, pair in enumerate(bounds):
        pair = (None, None) if pair is None else pair
        try:
            lo, hi = pair
            box[i] = [-np.inf if lo is None else float(lo), np.inf if hi is None else float(hi)]
        except (TypeError, ValueError):
            name = names[i] if names is not None else f"parameter {i}"
            raise ValueError(
                f"bounds for {name} must be a pair (low, high) of numbers or None, or None "
                f"for no bounds; got {pair!r}"
            ) from None
        if np.isnan(box[i]).any() or box[i, 0] > box[i, 1]:
            name = names[i] if names is not None else f"parameter {i}"
            raise ValueError(f"bounds for {name} must have low <= high; got {pair!r}")
    return box


def on_bound(theta: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Which entries of ``theta`` lie on one of their bounds ``box`` (k, 2), bool (k,): exactly,
    or so near that no step inside is representable (an optimiser with bounds stops a
    parameter there)."""
    distance = np.minimum(theta - box[:, 0], box[:, 1] - theta)
    with np.errstate(invalid="ignore"):  # inf - inf where a parameter is unbounded
        return np.asarray((theta + 0.5 * distance) - theta <= 0)


def warn_on_bound(who: str, names: list[str] | None, theta: np.ndarray, where: np.ndarray) -> None:
    """The :class:`HessianWarning` for the estimates ``theta[where]`` (bool (k,)) on a bound:
    they get a NaN standard error, the others those with them held there."""
    index = np.flatnonzero(where)
    labels = [names[i] if names is not None else f"theta[{i}]" for i in index]
    values = ", ".join(f"{label} = {theta[i]:g}" for label, i in zip(labels, index, strict=True))
    verb = "lies" if len(labels) == 1 else "lie"
    warn_user(
        f"{who}: {values} {verb} on the bound, where an estimate has no Wald standard "
        f"error: NaN for {', '.join(labels)}; the other standard errors are those with "
        f"{'it' if len(labels) == 1 else 'them'} held there (the inverse information of the "
        "free parameters)",
        HessianWarning,
    )


def rises_inward(
    total: Callable[[np.ndarray], float], theta: np.ndarray, box: np.ndarray, where: np.ndarray
) -> np.ndarray:
    """Which of the parameters ``where`` (bool (k,)), each on a bound of ``box`` (k, 2), raise
    ``total`` (a log-likelihood) beyond its rounding when moved a first-difference step into
    the bounds: the point is then no maximum. Bool (k,)."""
    f0 = total(theta)
    size = max(abs(f0), 1.0)
    rises = np.zeros(theta.size, dtype=bool)
    for i in np.flatnonzero(where):
        inward = 1.0 if theta[i] - box[i, 0] <= box[i, 1] - theta[i] else -1.0
        h = min(step_sizes(theta[i : i + 1], 1 / 3)[0], (box[i, 1] - box[i, 0]) / 2)
        moved = theta.copy()
        moved[i] += inward * h
        rises[i] = moved[i] != theta[i] and total(moved) > f0 + 64 * _EPS * size
    return rises


def row_labels(params: Mapping[str, Value]) -> list[str]:
    """One label per scalar entry: ``rate``, ``coef[0]``, ``covariance[0,1]``."""
    labels = []
    for name, value in params.items():
        shape = np.shape(value)
        if shape == ():
            labels.append(name)
        else:
            labels.extend(f"{name}[{','.join(map(str, idx))}]" for idx in np.ndindex(*shape))
    return labels


def _forg(x: float, prec: int = 3) -> str:
    """A number as statsmodels' ``forg`` writes it (``prec`` 3 or 4 decimals)."""
    if not np.isfinite(x):
        return str(x)
    x = x + 0.0  # -0.0 (a log-likelihood of all-zero counts) written as 0
    if abs(x) >= 1e4 or abs(x) < 1e-4:
        return f"{x:{prec + 6}.{prec}g}"
    return f"{x:{prec + 6}.{prec}f}"


def step_sizes(theta: np.ndarray, power: float) -> np.ndarray:
    """Finite-difference steps ``eps**power * |theta|`` relative to each parameter, shape (k,).

    A parameter at exactly zero gets ``eps**power``. ``power = 1/3`` balances truncation and
    rounding error for central first differences, ``1/4`` for central second differences. A
    step relative to the parameter matters for small parameters: a step of ``eps**(1/4)`` (1e-4)
    swamps a rate of 1e-7 and ruins its standard error.
    """
    theta = np.asarray(theta, dtype=np.float64)
    return _EPS**power * np.where(theta != 0, np.abs(theta), 1.0)


def jacobian(f: Callable[[np.ndarray], Any], theta: np.ndarray, h: np.ndarray | None = None):
    """Central-difference Jacobian of ``f`` at ``theta``: shape ``f(theta).shape + (k,)``."""
    theta = np.asarray(theta, dtype=np.float64)
    h = step_sizes(theta, 1 / 3) if h is None else h
    columns = []
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h[i]
        diff = np.asarray(f(theta + e), dtype=np.float64) - np.asarray(
            f(theta - e), dtype=np.float64
        )
        columns.append(diff / (2 * h[i]))
    return np.stack(columns, axis=-1)


def _inside_jacobian(f: Callable[[np.ndarray], Any], theta: np.ndarray, bounds: np.ndarray):
    """Central-difference Jacobian of ``f`` at ``theta`` whose points stay inside ``bounds``
    (k, 2), shape ``f(theta).shape + (k,)``.

    The step of an entry is ``eps**(1/3)`` times the smaller of its size and its distance to
    its nearer bound: a function of a bounded parameter (the logit of a probability, the log of
    a rate) varies on the scale of that distance, so the relative truncation error stays near
    ``eps**(2/3)`` (a probability of 1 - 1e-6 with the step 6e-6 of its size stepped past 1:
    NaN). The difference is divided by the step as represented. An entry on its bound gets a
    one-sided difference inward with step ``eps**(1/2)`` times its size.
    """
    theta = np.asarray(theta, dtype=np.float64)
    size = np.where(theta != 0, np.abs(theta), 1.0)
    with np.errstate(invalid="ignore"):  # inf - inf for an unbounded entry
        distance = np.minimum(theta - bounds[:, 0], bounds[:, 1] - theta)
    distance = np.where(np.isnan(distance), np.inf, distance)
    f0 = None
    columns = []
    for i in range(theta.size):
        up, down = theta.copy(), theta.copy()
        if distance[i] > 0:
            h = _EPS ** (1 / 3) * min(size[i], distance[i])
            up[i] += h
            down[i] -= h
        else:  # on its bound: forward inward, within the bounds' width
            inward = 1.0 if theta[i] - bounds[i, 0] <= bounds[i, 1] - theta[i] else -1.0
            width = bounds[i, 1] - bounds[i, 0]
            up[i] += inward * min(_EPS**0.5 * size[i], width / 2)
        if up[i] == down[i]:  # fixed by equal bounds: g cannot move with it
            if f0 is None:
                f0 = np.asarray(f(theta), dtype=np.float64)
            columns.append(np.zeros_like(f0))
            continue
        diff = np.asarray(f(up), dtype=np.float64) - np.asarray(f(down), dtype=np.float64)
        columns.append(diff / (up[i] - down[i]))
    return np.stack(columns, axis=-1)


def scaled_hessian(
    f: Callable[[np.ndarray], float], theta: np.ndarray, h: np.ndarray
) -> np.ndarray:
    """Central-difference Hessian of a scalar function in units of the steps, shape (k, k).

    The second derivatives with respect to ``v`` where ``theta = theta + h * v``, i.e.
    ``H * outer(h, h)`` for the Hessian H: differences of ``f`` without division by the steps,
    so that a Hessian whose entries leave float64's range (a rate of 1e200 has curvature 1e-400)
    is still represented.
    """
    k = theta.size
    H = np.empty((k, k))
    f0 = f(theta)
    steps = np.diag(h)
    for i in range(k):
        ei = steps[i]
        H[i, i] = f(theta + ei) - 2 * f0 + f(theta - ei)
        for j in range(i):
            ej = steps[j]
            H[i, j] = H[j, i] = (
                f(theta + ei + ej) - f(theta + ei - ej) - f(theta - ei + ej) + f(theta - ei - ej)
            ) / 4
    return H


def hessian(f: Callable[[np.ndarray], float], theta: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Central-difference Hessian of a scalar function, shape (k, k)."""
    return scaled_hessian(f, theta, h) / h[:, None] / h[None, :]


def _representable(full: np.ndarray, scaled: np.ndarray) -> bool:
    """Whether every finite nonzero entry of ``scaled`` stays a finite, normal float64 in
    ``full`` (its product with the scales)."""
    mask = np.isfinite(scaled) & (scaled != 0)
    values = np.abs(full[mask])
    return bool(np.all(np.isfinite(values) & (values >= np.finfo(np.float64).tiny)))


def bounded_wald(
    est: np.ndarray, se: np.ndarray, q: float, bounds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Wald intervals ``est -+ q * se`` (each (k,)) that stay inside ``bounds`` (k, 2).

    An entry bounded on one side is taken to the log of its distance from the bound, one
    bounded on both to the logit of its position between them; the interval on that scale,
    with the delta-method error (``se / distance``, ``se / (w u (1 - u))``), is mapped back.
    NaN where the estimate lies on a bound (no such scale there), except for an entry whose
    bounds are equal and whose error is not NaN: the model fixes it (the probability of the
    one category), and its interval is that one point. An entry held by equal bounds without
    an error (a parameter :func:`~emkit.mle.numerical` was told to hold) has NaN.
    """
    lo, hi = bounds[:, 0], bounds[:, 1]
    low, high = est - q * se, est + q * se
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        above = np.isfinite(lo) & ~np.isfinite(hi)
        d = est - lo
        low = np.where(above, lo + d * np.exp(-q * se / d), low)
        high = np.where(above, lo + d * np.exp(q * se / d), high)
        below = ~np.isfinite(lo) & np.isfinite(hi)
        d = hi - est
        low = np.where(below, hi - d * np.exp(q * se / d), low)
        high = np.where(below, hi - d * np.exp(-q * se / d), high)
        both = np.isfinite(lo) & np.isfinite(hi)
        w = hi - lo
        u = (est - lo) / w
        spread = q * se / (w * u * (1 - u))
        low = np.where(both, lo + w * special.expit(special.logit(u) - spread), low)
        high = np.where(both, lo + w * special.expit(special.logit(u) + spread), high)
    inside = (est > lo) | ~np.isfinite(lo)
    inside &= (est < hi) | ~np.isfinite(hi)
    fixed = (lo == hi) & ~np.isnan(se)
    low, high = np.where(inside, low, np.nan), np.where(inside, high, np.nan)
    return np.where(fixed, lo, low), np.where(fixed, hi, high)


def _scale_name(lo: float, hi: float) -> str:
    """The scale :func:`bounded_wald` takes an entry bounded by ``lo`` and ``hi`` to."""
    if np.isfinite(lo) and np.isfinite(hi):
        return "logit" if (lo, hi) == (0.0, 1.0) else f"logit((value - {lo:g}) / {hi - lo:g})"
    if np.isfinite(lo):
        return "log" if lo == 0 else f"log(value - {lo:g})"
    return f"log({hi:g} - value)"


@dataclass(frozen=True, eq=False)
class Estimate:
    """A point estimate with its asymptotic covariance.

    Parameters
    ----------
    params : dict mapping a name to a float or an array (e.g. ``coef`` of shape (p,),
        ``covariance`` of shape (d, d)).
    cov : array of shape (k, k)
        Asymptotic covariance of all parameters raveled in C order and concatenated in the
        order of ``params`` (k scalar entries in all), divided by ``outer(cov_scale,
        cov_scale)`` when ``cov_scale`` is given. It may be singular where parameters are
        constrained (probabilities summing to one, the two equal halves of a covariance).
    loglik : float
        Log-likelihood at the estimate.
    n : int
        Number of observations (trials for the binomial).
    method : str
        One line saying what was estimated, printed above the table.
    labels : names of the k scalar entries, for the rows of :meth:`summary` (e.g. ``probs[red]``
        or a regressor's column name); ``rate``, ``coef[0]``, ``covariance[0,1]`` when None.
    bounds : array of shape (k, 2), optional
        The parameter space of each scalar entry, (low, high) with -inf / inf where
        unbounded (a rate's is (0, inf), a probability's (0, 1)); None: all unbounded. The
        Wald intervals of entries with a finite bound respect it (see :meth:`conf_int`).
    cov_scale : array of shape (k,) of positive numbers, optional
        Units in which ``cov`` is given: the covariance is ``cov * outer(cov_scale,
        cov_scale)``. For covariances whose entries leave float64's range while the standard
        errors do not (a rate of 1e200 has a variance of 1e400): the estimate then keeps
        ``cov`` in these units (``cov_scale`` stays set), and ``stderr``, :meth:`conf_int`,
        :meth:`summary` and :meth:`transform` work from them. Where the product is
        representable it is stored as ``cov`` and ``cov_scale`` is None.
    reference_df : degrees of freedom of Student's t, the reference distribution of the Wald
        statistics and intervals (as for a regression with the unbiased variance, whose
        :meth:`transform` keeps it); None: the standard normal, that of an MLE.

    Examples
    --------
    >>> from emkit import mle
    >>> est = mle.exponential([0.5, 1.2, 0.3, 2.0, 0.9, 2.6])
    >>> round(est.params["rate"], 4), round(est.stderr["rate"], 4)
    (0.8, 0.3266)
    >>> print(est.summary().round(4).to_string())
               estimate  std_err       z  p_value  ci_low  ci_high
    parameter
    rate            0.8   0.3266  2.4495   0.0143  0.3594   1.7807
    >>> mean_wait = est.transform(lambda rate: 1 / rate, "mean")
    >>> round(mean_wait.params["mean"], 4), round(mean_wait.stderr["mean"], 4)
    (1.25, 0.5103)
    """

    params: dict[str, Value]
    cov: np.ndarray
    loglik: float
    n: int
    method: str = "Maximum likelihood"
    labels: tuple[str, ...] | None = None
    bounds: np.ndarray | None = None
    cov_scale: np.ndarray | None = None
    reference_df: float | None = None
    _labels: list[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        params = {name: _freeze(v) for name, v in self.params.items()}
        k = sum(int(np.size(v)) for v in params.values())
        cov = np.array(self.cov, dtype=np.float64).reshape(k, k)
        scale = None
        if self.cov_scale is not None:
            scale = np.array(self.cov_scale, dtype=np.float64).reshape(k)
            if not (np.isfinite(scale).all() and (scale > 0).all()):
                raise ValueError("cov_scale must hold positive finite numbers")
            with np.errstate(over="ignore", under="ignore", invalid="ignore"):
                full = cov * scale[:, None] * scale[None, :]
            if _representable(full, cov):
                cov, scale = full, None
            else:
                scale.flags.writeable = False
        cov.flags.writeable = False
        bounds = None
        if self.bounds is not None:
            bounds = np.array(self.bounds, dtype=np.float64).reshape(k, 2)
            bounds.flags.writeable = False
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "cov", cov)
        object.__setattr__(self, "cov_scale", scale)
        object.__setattr__(self, "bounds", bounds)
        object.__setattr__(self, "loglik", float(self.loglik))
        object.__setattr__(self, "n", int(self.n))
        labels = row_labels(params) if self.labels is None else [str(v) for v in self.labels]
        if len(labels) != k:
            raise ValueError(f"labels names {len(labels)} entries; the parameters have {k}")
        object.__setattr__(self, "_labels", labels)

    def _scaled(self) -> tuple[np.ndarray, np.ndarray]:
        """The scales (k,) and the covariance in their units (k, k)."""
        k = self.cov.shape[0]
        return (np.ones(k) if self.cov_scale is None else self.cov_scale), self.cov

    @property
    def stderr(self) -> dict[str, Value]:
        """Standard errors, shaped like ``params``; NaN where the variance is not positive."""
        scale, cov = self._scaled()
        var = np.diag(cov)
        with np.errstate(invalid="ignore"):
            se = np.where(var >= 0, np.sqrt(np.abs(var)), np.nan) * scale
        return unflatten(se, self.params)

    def _reference_df(self) -> float | None:
        """Degrees of freedom of the Student's t reference; None for the standard normal."""
        return self.reference_df

    def _reference(self) -> tuple[str, Any]:
        """The name of the Wald statistic and its reference distribution: ``("z", N(0, 1))``,
        the large-sample distribution of an MLE, or ``("t", t(df))`` (:attr:`reference_df`)."""
        df = self._reference_df()
        if df is not None:
            return "t", stats.t(df)
        return "z", stats.norm

    def _bounds(self) -> np.ndarray:
        if self.bounds is None:
            return np.tile([-np.inf, np.inf], (self.cov.shape[0], 1))
        return self.bounds

    def conf_int(self, level: float = 0.95) -> dict[str, tuple[Value, Value]]:
        """Wald intervals, shaped like the parameters, that stay inside the parameter space.

        For an unbounded entry, ``estimate -+ q_{(1+level)/2} * std_err`` with q the standard
        normal quantile (Student's t on ``df_resid`` degrees of freedom for a regression with
        the unbiased variance, see :class:`RegressionEstimate`). For an entry with a bound (see
        ``bounds``: a rate, a variance, a probability) the same interval is taken on the scale
        where the parameter is unbounded and mapped back: the log for a positive parameter
        (``rate * exp(-+ q * se / rate)``), the logit for a probability; such an interval is
        not symmetric about the estimate and never leaves the parameter space. NaN for an
        estimate on its bound.
        """
        check_level(level)
        q = self._reference()[1].ppf((1 + level) / 2)
        low, high = bounded_wald(flatten(self.params), flatten(self.stderr), q, self._bounds())
        lows, highs = unflatten(low, self.params), unflatten(high, self.params)
        return {name: (lows[name], highs[name]) for name in self.params}

    def _bounded_note(self) -> str | None:
        """A line naming the entries whose intervals respect a bound, and on what scale."""
        groups: dict[str, list[str]] = {}
        for label, (lo, hi) in zip(self._labels, self._bounds(), strict=True):
            if (np.isfinite(lo) or np.isfinite(hi)) and lo != hi:
                groups.setdefault(_scale_name(lo, hi), []).append(label)
        if not groups:
            return None
        parts = [f"of {', '.join(labels)} on the {scale} scale" for scale, labels in groups.items()]
        return f"Intervals {'; '.join(parts)}: Wald there, mapped back into the parameter space"

    def _held_note(self) -> str | None:
        """A line naming the entries held by equal bounds and not estimated (NaN error)."""
        se = flatten(self.stderr)
        held = [
            f"{label} = {value:g}"
            for label, value, (lo, hi), error in zip(
                self._labels, flatten(self.params), self._bounds(), se, strict=True
            )
            if lo == hi and np.isnan(error)
        ]
        if not held:
            return None
        note = f"Held by equal bounds, not estimated: {', '.join(held)} (no standard error or "
        if len(held) == len(se):
            return note + "interval: NaN); the log-likelihood is the one at these values"
        pronoun = "it" if len(held) == 1 else "them"
        return note + f"interval: NaN); the other errors are those with {pronoun} held"

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """One row per scalar parameter entry, as statsmodels prints them.

        Returns
        -------
        DataFrame indexed by ``rate``, ``coef[0]``, ... with columns ``estimate``, ``std_err``,
        ``z`` and ``p_value`` (the Wald test of a zero value; NaN for an entry with a standard
        error of 0, which the model fixes) and ``ci_low``, ``ci_high``
        (:meth:`conf_int`: inside the parameter space, so not symmetric for a bounded entry;
        ``attrs["intervals"]`` says which and on what scale; ``attrs["held"]`` names the
        entries held by equal bounds and not estimated, whose error and interval are NaN).
        For a regression with the unbiased variance the statistic is ``t``, referred to
        Student's t on ``df_resid`` degrees of freedom, as statsmodels' OLS and R's ``lm``
        print it.
        """
        est = flatten(self.params)
        se = flatten(self.stderr)
        ci = self.conf_int(level)
        name, reference = self._reference()
        # an entry the model fixes (the weight of a one-component mixture) has a standard error
        # of 0: no test of it (z and p NaN, not inf and 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(se > 0, est / se, np.nan)
        frame = pd.DataFrame(
            {
                "estimate": est,
                "std_err": se,
                name: z,
                "p_value": 2 * reference.sf(np.abs(z)),
                "ci_low": flatten({k: v[0] for k, v in ci.items()}),
                "ci_high": flatten({k: v[1] for k, v in ci.items()}),
            },
            index=pd.Index(self._labels, name="parameter"),
        )
        frame.attrs.update(method=self.method, n=self.n, loglik=self.loglik, level=level)
        note = self._bounded_note()
        if note is not None:
            frame.attrs["intervals"] = note
        held = self._held_note()
        if held is not None:
            frame.attrs["held"] = held
        return frame

    def __str__(self) -> str:
        return self.report()

    def report(self, level: float = 0.95) -> str:
        """The summary table under a header with the method, N and the log-likelihood.

        Numbers are printed as statsmodels prints its parameter tables (``forg``): estimates
        with 4 decimals, the other columns with 3, and 4 (3) significant digits in exponent
        notation beyond 1e4 or below 1e-4; p-values with 3 decimals. A line under the table
        names the intervals that respect a bound of the parameter space, and one the entries
        held by equal bounds (not estimated).
        """
        table = self.summary(level)
        alpha = 1 - level
        name = self._reference()[0]
        head = ["coef", "std err", name, f"P>|{name}|", f"[{alpha / 2:g}", f"{1 - alpha / 2:g}]"]
        stub = max([len(name) for name in table.index] + [9])
        rows = [
            [
                _forg(r.estimate, 4),
                _forg(r.std_err),
                _forg(getattr(r, name)),
                "nan" if np.isnan(r.p_value) else f"{r.p_value:#6.3f}",
                _forg(r.ci_low),
                _forg(r.ci_high),
            ]
            for r in table.itertuples()
        ]
        width = max([11] + [len(cell) + 1 for row in rows for cell in row])
        lines = [" " * stub + "".join(h.rjust(width) for h in head)]
        lines += [
            str(name).ljust(stub) + "".join(cell.strip().rjust(width) for cell in row)
            for name, row in zip(table.index, rows, strict=True)
        ]
        rule = max(len(line) for line in lines)
        note = [table.attrs[key] for key in ("intervals", "held") if key in table.attrs]
        return "\n".join(
            [
                *self._header(),
                "=" * rule,
                lines[0],
                "-" * rule,
                *lines[1:],
                "=" * rule,
                *note,
                *self._footer(),
            ]
        )

    def _header(self) -> list[str]:
        """The lines above the table: the method, N and the log-likelihood."""
        loglik = _forg(self.loglik, 4).strip()
        return [self.method, f"No. observations: {self.n}    Log-likelihood: {loglik}"]

    def _footer(self) -> list[str]:
        """Lines below the table (fit statistics of subclasses)."""
        return []

    def transform(
        self,
        g: Callable[..., Any],
        name: str,
        grad: Callable[..., Any] | None = None,
    ) -> Estimate:
        """The MLE of ``g(theta)`` by invariance, with a delta-method covariance.

        Parameters
        ----------
        g : callable taking the parameters as keyword arguments, e.g. ``lambda rate: 1 / rate``
            or ``lambda mean, variance: np.sqrt(variance)``; returns a float or an array.
        name : name of the new parameter.
        grad : optional callable with the same arguments returning the Jacobian of ``g`` with
            respect to the raveled parameters, shape ``g.shape + (k,)``. Central differences
            are used when it is None.

        Returns
        -------
        Estimate with one parameter ``name``, ``cov = J cov J^T``, the same ``loglik`` and ``n``;
        unbounded (its intervals are plain Wald intervals), with the same reference
        distribution (Student's t on ``df_resid`` degrees of freedom for a regression with the
        unbiased variance, as statsmodels' ``t_test``). The differences stay inside the
        parameters' bounds: the step of an entry near one shrinks with its distance to it.
        Entries on which ``g`` does not depend (a zero column of J) are left out of the
        product, so that one without an error (NaN: an estimate on its bound) leaves the
        others' transform its error.
        """
        theta = flatten(self.params)
        try:
            value = np.asarray(g(**self.params), dtype=np.float64)
        except ArithmeticError as exc:  # Python floats: 1 / 0 raises where NumPy gives inf
            at = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
            raise ValueError(
                f"transform: {name} cannot be computed at the estimate ({at}): {exc}. An "
                "estimate on the bound of its space (a rate of 0, a probability of 0 or 1) has "
                "no finite transform there, nor a Wald error"
            ) from None
        if grad is None:
            J = _inside_jacobian(lambda t: g(**unflatten(t, self.params)), theta, self._bounds())
        else:
            J = np.asarray(grad(**self.params), dtype=np.float64)
            if J.size != value.size * theta.size:
                raise ValueError(
                    f"transform: grad returned shape {J.shape}; it must be the Jacobian of "
                    f"{name} (shape {value.shape}) with respect to the {theta.size} scalar "
                    f"parameter entries ({', '.join(self._labels)}), shape "
                    f"{value.shape + (theta.size,)}"
                )
        scale, cov = self._scaled()
        J = J.reshape(value.size, theta.size) * scale  # the Jacobian in the units of cov
        # rows in units of their largest entry, so that J cov J^T stays in float64's range
        unit = np.max(np.abs(J), axis=1)
        unit = np.where(np.isfinite(unit) & (unit > 0), unit, 1.0)
        J = J / unit[:, None]
        # An entry g does not depend on adds nothing, even where its variance is NaN (an
        # estimate on its bound): 0 * NaN would make every error NaN.
        used = (J != 0).any(axis=0)
        J, cov = J[:, used], cov[np.ix_(used, used)]
        return Estimate(
            params={name: value},
            cov=J @ cov @ J.T,
            loglik=self.loglik,
            n=self.n,
            method=f"{self.method}, transformed to {name} (delta method)",
            cov_scale=unit,
            reference_df=self._reference_df(),
        )


@dataclass(frozen=True, eq=False)
class RegressionEstimate(Estimate):
    """An :class:`Estimate` of a regression with Gaussian noise, with its fit statistics.

    The parameters are the coefficients and ``variance``, the noise variance
    :math:`\\hat\\sigma^2`: RSS/N (the MLE) or RSS/(N - p) (unbiased; the convention of
    statsmodels, R and NIST), as the ``variance`` option of the fit chose. The coefficients'
    covariance is :math:`\\hat\\sigma^2 (J^\\top J)^{-1}` with J the design matrix (or the
    Jacobian at the optimum) and :math:`\\operatorname{Var}\\hat\\sigma^2 = 2\\hat\\sigma^4/m`
    with m = N or N - p. ``loglik`` is always the maximised log-likelihood (at RSS/N).

    Parameters
    ----------
    params, cov, loglik, n, method, labels, bounds, cov_scale, reference_df
        As for :class:`Estimate` (``reference_df`` is taken from ``df_resid`` where
        ``unbiased``).
    rss : float
        Residual sum of squares.
    df_resid : int
        Residual degrees of freedom N - p (p coefficients).
    r2, adj_r2 : float
        Coefficient of determination and its adjusted form; centred about the mean of y when
        the model has an intercept (or a constant column), about zero otherwise (as
        statsmodels). NaN for nonlinear regression.
    condition_number : float
        2-norm condition number of the design (or Jacobian) with columns scaled to unit
        length: roughly, about ``log10(condition_number)`` digits are lost in the coefficients.
    converged : bool
        Whether the fit is certified: always True for linear regression; for nonlinear
        regression, True only when the gradient and the Gauss-Newton step tests hold.
    message : str
        What stopped the solver (nonlinear) or how the system was solved (linear).
    nfev : int
        Number of evaluations of the model function (0 for linear regression).
    unbiased : bool
        Whether :math:`\\hat\\sigma^2` is RSS/(N - p). The Wald statistics of :meth:`summary`
        and the intervals of :meth:`conf_int` then refer to Student's t on ``df_resid``
        degrees of freedom (exact for a linear model's coefficients, the usual approximation
        for nonlinear ones), as statsmodels' OLS and R's ``lm`` and ``nls`` print them; with
        RSS/N, to the standard normal, as for every MLE.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import mle
    >>> x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    >>> y = np.array([2.1, 3.9, 6.2, 7.8, 10.1, 12.2])
    >>> est = mle.linear_regression(x, y, variance="unbiased")
    >>> round(est.rss, 4), est.df_resid, round(est.residual_sd, 4), round(est.r2, 5)
    (0.128, 4, 0.1789, 0.99821)
    """

    rss: float = np.nan
    df_resid: int = 0
    r2: float = np.nan
    adj_r2: float = np.nan
    condition_number: float = np.nan
    converged: bool = True
    message: str = ""
    nfev: int = 0
    unbiased: bool = False

    def _reference_df(self) -> float | None:
        if self.unbiased and self.df_resid > 0:
            return self.df_resid
        return super()._reference_df()

    def _footer(self) -> list[str]:
        lines = []
        fit = f"RSS: {self.rss:.10g}    Residual SD: {self.residual_sd:.6g} ({self.df_resid} df)"
        if np.isfinite(self.r2):
            fit += f"    R-squared: {self.r2:.6g}    Adj. R-squared: {self.adj_r2:.6g}"
        lines.append(fit)
        if np.isfinite(self.condition_number):
            lines.append(f"Condition number (unit columns): {self.condition_number:.3g}")
        if self.nfev:
            lines.append(f"{self.message} ({self.nfev} evaluations of f)")
        return lines

    @property
    def residual_sd(self) -> float:
        """Residual standard deviation :math:`\\sqrt{\\mathrm{RSS}/(N - p)}`, NIST's definition."""
        return float(np.sqrt(self.rss / self.df_resid)) if self.df_resid > 0 else np.nan
