r"""Gamma family, shape :math:`\alpha` and rate :math:`\beta` per feature (independent features).

.. math:: \log p(x) = \sum_j \alpha_j\log\beta_j - \log\Gamma(\alpha_j)
          + (\alpha_j - 1)\log x_j - \beta_j x_j, \qquad x_j > 0.

Statistics: weight :math:`W`, :math:`\sum w x` and :math:`\sum w \log x`. The M-step has no
closed form in :math:`\alpha`: with :math:`\beta` profiled out
(:math:`\hat\beta = (W\alpha + a - 1)/(\sum w x + b)` under a
:class:`~emkit.distributions.priors.GammaPrior` (a, b) on the rate; a = 1, b = 0 without one) the
objective in :math:`\alpha`,

.. math:: g(\alpha) = (\alpha - 1)\textstyle\sum w\log x - c + c\log c - c\log(\sum w x + b)
          - W\log\Gamma(\alpha), \qquad c = W\alpha + a - 1,

is strictly concave (:math:`g'' = W^2/c - W\psi'(\alpha) < 0` because :math:`\psi'(\alpha) >
1/\alpha`), and Newton's method from Minka's (2002) approximation converges to its maximum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import digamma, gammaln, zeta

from emkit.distributions.base import AdditiveStats, IndependentFeatures
from emkit.distributions.batched import (
    LinearKernel,
    RowFeatures,
    as_float64,
    stacked,
    support_only,
)
from emkit.distributions.priors import GammaPrior

NEWTON_STEPS = 100
# The shape is kept at most MAX_SHAPE (a coefficient of variation of 1e-5): a component that
# collapses onto one value has an unbounded likelihood as the shape grows, and beyond this its
# density cannot be evaluated in float64. The M-step maximises exactly over shape <= MAX_SHAPE,
# so EM still climbs; a component at the bound is reported degenerate.
MAX_SHAPE = 1e10
# Above this shape the asymptotic series below are exact to rounding and avoid cancellation.
SERIES_SHAPE = 100.0
# Up to this shape the textbook form of the log density (linear in log x and x) loses at most
# about 1e-11 per row to cancellation; tighter components take the accurate form of log_prob.
LINEAR_SHAPE = 1e4


@dataclass(frozen=True)
class GammaStats(AdditiveStats):
    """Weight W (float), weighted sums of x and of log x, each of shape (d,)."""

    weight: float
    sum_x: np.ndarray
    sum_log_x: np.ndarray


def log_minus_digamma(alpha: np.ndarray) -> np.ndarray:
    r""":math:`\log\alpha - \psi(\alpha)` without cancellation at large :math:`\alpha`."""
    a = np.asarray(alpha, dtype=float)
    if np.all(a < SERIES_SHAPE):  # the direct form only (a few scalars each M-step)
        return np.log(a) - digamma(a)
    big = np.maximum(a, SERIES_SHAPE)
    inv2 = 1.0 / big**2
    series = 0.5 / big + inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 / 240)))
    return np.where(a >= SERIES_SHAPE, series, np.log(a) - digamma(np.minimum(a, SERIES_SHAPE)))


def trigamma_minus_inverse(alpha: np.ndarray) -> np.ndarray:
    r""":math:`\psi'(\alpha) - 1/\alpha` without cancellation at large :math:`\alpha`."""
    a = np.asarray(alpha, dtype=float)
    if np.all(a < SERIES_SHAPE):  # the direct form only (a few scalars each M-step)
        return zeta(2.0, a) - 1.0 / a
    big = np.maximum(a, SERIES_SHAPE)
    inv = 1.0 / big
    inv2 = inv * inv
    series = inv2 * (0.5 + inv * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 / 30))))
    small = np.minimum(a, SERIES_SHAPE)
    # The trigamma function is the Hurwitz zeta function zeta(2, a) (scipy's polygamma(1, a)
    # computes exactly this, with more overhead).
    return np.where(a >= SERIES_SHAPE, series, zeta(2.0, small) - 1.0 / small)


def stirling_remainder(alpha: np.ndarray) -> np.ndarray:
    r""":math:`\alpha\log\alpha - \alpha - \log\Gamma(\alpha) - \tfrac12\log(\alpha/2\pi)`,
    the (small) error of Stirling's formula, accurate at every :math:`\alpha > 0`."""
    a = np.asarray(alpha, dtype=float)
    big = np.maximum(a, SERIES_SHAPE)
    inv = 1.0 / big
    inv2 = inv * inv
    series = -inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)))
    small = np.minimum(a, SERIES_SHAPE)
    direct = small * np.log(small) - small - gammaln(small) - 0.5 * np.log(small / (2 * np.pi))
    return np.where(a >= SERIES_SHAPE, series, direct)


def gamma_shape_newton(
    weight: float,
    sum_x: np.ndarray,
    sum_log_x: np.ndarray,
    a: float = 1.0,
    b: float | np.ndarray = 0.0,
) -> np.ndarray:
    r"""Maximiser over shape in (0, MAX_SHAPE] of the (profiled) gamma log-posterior, shape (d,).

    The gradient and curvature are written in differences that stay accurate at large shapes:
    :math:`g'/W = (\log\alpha - \psi(\alpha)) - s + \log(1 + (a-1)/(W\alpha))` with
    :math:`s = \log((\sum w x + b)/W) - \sum w\log x/W`.
    """
    if np.shape(sum_x) == (1,):  # one feature: the same steps on Python floats (faster)
        rate = float(np.ravel(b)[0])  # b: one prior rate, or one per feature
        return np.array([_newton_one(float(weight), float(sum_x[0]), float(sum_log_x[0]), a, rate)])
    s = np.log((sum_x + b) / weight) - sum_log_x / weight
    # s >= 0 by Jensen (b >= 0); at s = 0 (all values equal) the maximum is at the bound.
    at_bound = s <= 0.5 / MAX_SHAPE
    s = np.maximum(s, 0.5 / MAX_SHAPE)
    alpha = (3.0 - s + np.sqrt((s - 3.0) ** 2 + 24.0 * s)) / (12.0 * s)  # Minka's start
    alpha = np.minimum(alpha, MAX_SHAPE)
    shift = a - 1.0
    for _ in range(NEWTON_STEPS):
        c = weight * alpha + shift
        grad = log_minus_digamma(alpha) - s + np.log1p(shift / (weight * alpha))
        hess = -shift / (c * alpha) - trigamma_minus_inverse(alpha)  # g''/W < 0
        new = alpha - grad / hess
        # Past the root Newton can overshoot below 0: halve towards 0 instead.
        new = np.where(new > 0, new, alpha / 2.0)
        new = np.minimum(new, MAX_SHAPE)
        done = np.abs(new - alpha) <= 1e-13 * alpha
        alpha = new
        if np.all(done):
            break
    return np.where(at_bound, MAX_SHAPE, alpha)


def _newton_one(weight: float, sum_x: float, sum_log_x: float, a: float, b: float) -> float:
    """:func:`gamma_shape_newton` for one feature, step for step on floats."""
    s = math.log((sum_x + b) / weight) - sum_log_x / weight
    at_bound = s <= 0.5 / MAX_SHAPE
    s = max(s, 0.5 / MAX_SHAPE)
    alpha = min((3.0 - s + math.sqrt((s - 3.0) ** 2 + 24.0 * s)) / (12.0 * s), MAX_SHAPE)
    shift = a - 1.0
    for _ in range(NEWTON_STEPS):
        c = weight * alpha + shift
        if alpha < SERIES_SHAPE:
            log_minus = math.log(alpha) - float(digamma(alpha))
            tri_minus = float(zeta(2.0, alpha)) - 1.0 / alpha
        else:
            log_minus = float(log_minus_digamma(np.array([alpha]))[0])
            tri_minus = float(trigamma_minus_inverse(np.array([alpha]))[0])
        grad = log_minus - s + math.log1p(shift / (weight * alpha))
        hess = -shift / (c * alpha) - tri_minus  # g''/W < 0
        new = alpha - grad / hess
        if not new > 0:  # past the root Newton can overshoot below 0: halve towards 0
            new = alpha / 2.0
        new = min(new, MAX_SHAPE)
        done = abs(new - alpha) <= 1e-13 * alpha
        alpha = new
        if done:
            break
    return MAX_SHAPE if at_bound else alpha


@dataclass(frozen=True, eq=False)
class Gamma(IndependentFeatures):
    """Independent gamma features; ``shape`` and ``rate`` of shape (d,), or None.

    Attributes
    ----------
    shape : array of shape (d,), positive shapes; or None before fitting.
    rate : array of shape (d,), positive rates (the mean is shape / rate); or None before
        fitting.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import Gamma, MixtureModel
    >>> Gamma(shape=[2.0], rate=[1.0]).log_prob(np.array([[1.0], [3.0]])).round(4)
    array([-1.    , -1.9014])
    >>> x = np.random.default_rng(0).gamma(3.0, 1 / 2.0, size=(500, 1))  # shape 3, rate 2
    >>> mm = MixtureModel([Gamma()]).fit(x)
    >>> g = mm.components_[0]
    >>> g.shape.round(2), g.rate.round(2)
    (array([3.24]), array([2.25]))
    """

    name: ClassVar[str] = "gamma"
    params: ClassVar[tuple[str, ...]] = ("shape", "rate")
    domains: ClassVar[dict[str, str]] = {"shape": "positive", "rate": "positive"}
    prior_type: ClassVar[type] = GammaPrior
    fixed_support: ClassVar[bool] = True
    shape: np.ndarray | None = None
    rate: np.ndarray | None = None

    def in_support(self, x: np.ndarray) -> np.ndarray:
        """Rows with every value strictly positive, bool (n,)."""
        return _positive_rows(x)

    def check_support(self, x: np.ndarray) -> None:
        if not _all_positive(x):
            found = "Negative values" if np.any(x < 0) else "Zeros"  # scikit-learn's words
            raise ValueError(
                f"{found} in data: a Gamma component needs strictly positive values (it uses "
                "log x); shift the data or use an Exponential component for values at 0"
            )

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Log density of each row of ``x`` (n, d), shape (n,); -inf outside x > 0."""
        positive = np.all(x > 0, axis=1)
        safe = np.where(x > 0, x, 1.0)
        a, b = self._fitted("shape"), self._fitted("rate")
        # With z = b x and t = z / a - 1: a log z - z - log Gamma(a) = a (log1p(t) - t)
        # + log(a / 2 pi) / 2 + stirling_remainder(a), which keeps its accuracy at a large shape
        # (a tight component) where the terms of the textbook form cancel.
        t = b * safe / a - 1.0
        out = a * (np.log1p(t) - t) + 0.5 * np.log(a / (2 * np.pi)) + stirling_remainder(a)
        out = (out - np.log(safe)).sum(axis=1)
        return np.where(positive, out, -np.inf)

    def suff_stats(self, x: np.ndarray, w: np.ndarray) -> GammaStats:
        # log x in float64 whatever the rows' dtype: the statistics accumulate in float64.
        logx = np.log(np.where(x > 0, x, 1.0).astype(np.float64, copy=False))
        return GammaStats(float(w.sum()), w @ x, w @ logx)

    @classmethod
    def kernel(cls, members: Sequence[Gamma]) -> LinearKernel | None:
        r"""K gamma components at once: :math:`\eta = (\alpha - 1, -\beta)`,
        :math:`T(x) = (\log x, x)`, :math:`c = \sum_j \alpha_j\log\beta_j -
        \log\Gamma(\alpha_j)`; None above ``LINEAR_SHAPE`` (the members' own ``log_prob``
        then keep their accuracy)."""
        shape, rate = stacked(members, "shape"), stacked(members, "rate")  # (k, d)
        if not np.all((shape <= LINEAR_SHAPE) & np.isfinite(rate)):
            return None
        coef = np.hstack([shape - 1.0, -rate])  # (k, 2d)
        const = (shape * np.log(rate) - gammaln(shape)).sum(axis=1)
        return LinearKernel(
            "positive",
            _positive_features,
            coef,
            const,
            _gamma_stats,
            write_features=_write_positive,
        )

    def to_vector(self) -> np.ndarray:
        """(log shape, log rate), shape (2d,) (SQUAREM's unconstrained parameters)."""
        return np.log(np.concatenate([self._fitted("shape"), self._fitted("rate")]))

    def from_vector(self, vector: np.ndarray) -> Gamma:
        """The gamma at ``to_vector``'s layout; ValueError beyond ``MAX_SHAPE``."""
        d = vector.shape[0] // 2
        shape = np.exp(vector[:d])
        if np.any(shape > MAX_SHAPE):
            raise ValueError(f"Gamma shape above {MAX_SHAPE:g}")
        return Gamma(shape, np.exp(vector[d:]))

    def from_stats(self, stats: GammaStats, prior: GammaPrior | None = None) -> Gamma:
        a, b = (1.0, 0.0) if prior is None else (prior.shape, prior.rate)
        if stats.weight <= 0:
            return self
        shape = gamma_shape_newton(stats.weight, stats.sum_x, stats.sum_log_x, a, b)
        rate = (stats.weight * shape + a - 1.0) / (stats.sum_x + b)
        return Gamma(shape, rate)

    def log_prior(self, prior: GammaPrior) -> float:
        return prior.log_density(self._fitted("rate"))

    def degenerate(
        self, stats: GammaStats, prior: GammaPrior | None = None, pooled: GammaStats | None = None
    ) -> bool:
        """True if the component holds (almost) no weight, or collapsed onto one value (its
        shape reached ``MAX_SHAPE``); ``pooled`` plays no part (the shape is already free of
        the data's units)."""
        if stats.weight <= 1e-10:
            return True
        return bool(np.any(self.from_stats(stats, prior)._fitted("shape") >= MAX_SHAPE))

    def sample(self, n: int, rng: np.random.Generator, n_features: int | None = None):
        shape, rate = self._fitted("shape"), self._fitted("rate")
        return rng.gamma(shape, 1.0 / rate, size=(n, shape.shape[0]))


def _positive_rows(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` (n, d) with every value strictly positive, bool (n,)."""
    return x[:, 0] > 0 if x.shape[1] == 1 else np.all(x > 0, axis=1)


def _all_positive(x: np.ndarray) -> bool:
    """True where every value of ``x`` is strictly positive (one reduction; NaN is not)."""
    return x.size == 0 or bool(x.min() > 0)


def _positive_features(x: np.ndarray) -> RowFeatures:
    """T(x) = (log x, x) (shape (2d, m)) for the rows with every value positive."""
    inside: np.ndarray | None = None
    if _all_positive(x):
        x = as_float64(x)
    else:
        x, inside = support_only(x, _positive_rows(x))
        x = as_float64(x) if inside is None else np.where(inside[:, None], x, 1.0)
    values = np.empty((2 * x.shape[1], x.shape[0]))
    _log_and_value(x, values)
    return RowFeatures(values, None, inside)


def _write_positive(x: np.ndarray, out: np.ndarray) -> bool:
    """(log x, x) into ``out`` (2d, m) where every value of ``x`` (m, d) is positive."""
    if not _all_positive(x):
        return False
    _log_and_value(as_float64(x), out)
    return True


def _log_and_value(x: np.ndarray, out: np.ndarray) -> None:
    """(log x, x) of positive float64 rows ``x`` (m, d) into ``out`` (2d, m)."""
    d = x.shape[1]
    np.log(x.T, out=out[:d])
    out[d:] = x.T


def _gamma_stats(weight: np.ndarray, sums: np.ndarray) -> tuple:
    d = sums.shape[1] // 2
    return tuple(GammaStats(float(w), s[d:], s[:d]) for w, s in zip(weight, sums, strict=True))
