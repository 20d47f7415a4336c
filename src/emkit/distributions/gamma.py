r"""Gamma family, shape :math:`\alpha` and rate :math:`\beta` per feature (independent features).

.. math:: \log p(x) = \sum_j \alpha_j\log\beta_j - \log\Gamma(\alpha_j)
          + (\alpha_j - 1)\log x_j - \beta_j x_j, \qquad x_j > 0.

Statistics: weight :math:`W`, weighted mean :math:`m` and
:math:`Q = \sum w\,[\log(x/m) - (x - m)/m] \le 0`, which merge as Chan, Golub and LeVeque's
centred moments do. The M-step has no closed form in :math:`\alpha`: with :math:`\beta` profiled
out (:math:`\hat\beta = (W\alpha + a - 1)/(\sum w x + b)` under a
:class:`~emkit.distributions.priors.GammaPrior` (a, b) on the rate; a = 1, b = 0 without one)
the objective in :math:`\alpha`,

.. math:: g(\alpha) = (\alpha - 1)\textstyle\sum w\log x - c + c\log c - c\log(\sum w x + b)
          - W\log\Gamma(\alpha), \qquad c = W\alpha + a - 1,

is strictly concave (:math:`g'' = W^2/c - W\psi'(\alpha) < 0` because :math:`\psi'(\alpha) >
1/\alpha`), and Newton's method from Minka's (2002) approximation converges to its maximum.
Its gradient holds the gap :math:`s = \log((\sum w x + b)/W) - \sum w\log x / W
= \log(1 + b/(Wm)) - Q/W`, about :math:`\mathrm{var}/(2m^2)`: written as a difference of the
two logarithms it would cancel for data far from 0 relative to their spread (at an offset of
1e7 and a spread of 1, s is 5e-15 and their rounding 2e-15); :math:`Q` is a sum of terms of
one sign and keeps it to rounding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import digamma, gammaln, zeta

from emkit.distributions.base import IndependentFeatures, feature_pairs
from emkit.distributions.batched import (
    LinearKernel,
    RowFeatures,
    as_float64,
    stacked,
    support_only,
)
from emkit.distributions.priors import GammaPrior, at_least_one
from emkit.distributions.regularization import Regularization

NEWTON_STEPS = 100
# The shape is kept at most MAX_SHAPE (a coefficient of variation of 1e-11; data up to about
# 3e10 times their spread from 0 fit exactly): a component on (nearly) one value has a
# likelihood that grows without bound with the shape, and at larger shapes the rounding of the
# parameters themselves (the mean shape / rate to half an ulp) moves a row's log density by
# about shape * eps^2, enough for EM's steps to seem to fall (measured: MonotonicityWarning at
# shapes of 1e24, none at 1e22). The M-step maximises exactly over shape <= MAX_SHAPE, so EM
# still climbs. Reaching it is no verdict: Gamma.degenerate judges the spread against the
# data's.
MAX_SHAPE = 1e22
# The rate is kept at most MAX_RATE (see _shape_and_rate), near float64's largest: a
# component collapsing onto values near 1e-290 stays a collapse (shape 1e17, which
# Gamma.degenerate flags) where shape / mean would overflow; legitimate rates (values near
# 1e-300 with a shape of 3) are far below it. Rows where rate x overflows have density 0.
MAX_RATE = 1e307
# Below this shape a rate held at MAX_RATE is no collapse any more (and above it the linear
# kernel, which would overflow at such rates, is not used): a component collapsing onto
# values under about 1e-301 is refused.
MIN_CAPPED_SHAPE = 1e6
# Where log1p(t) - t is summed as a series in u = t / (2 + t): below, the direct form would
# lose up to all of its digits to cancellation; above, it loses at most 2 eps / 0.01 relative.
LOG1PMX_SERIES = 0.01
# Above this shape log_prob takes t exactly and the series of log1p(t) - t.
EXACT_T_SHAPE = 1e8
# Relative rounding of the kernel's sums of log x (blocked sums of up to millions of rows).
KERNEL_ROUNDING = 1e-11
# Dekker's split of a float64 into two halves of 26 bits (products of halves are exact).
SPLIT = 134217729.0
# Above this shape the asymptotic series below are exact to rounding and avoid cancellation.
SERIES_SHAPE = 100.0
# Up to this shape the textbook form of the log density (linear in log x and x) loses at most
# about 1e-11 per row to cancellation; tighter components take the accurate form of log_prob.
LINEAR_SHAPE = 1e4


@dataclass(frozen=True)
class GammaStats:
    r"""Weight W (float), weighted mean m (d,) and :math:`Q = \sum w\,\mathrm{log1pmx}((x - m)
    / m)` (d,), the weighted sum of :math:`\log(x/m) - (x - m)/m \le 0`.

    :math:`Q` is a sum of terms of one sign, so it keeps its relative accuracy however tight
    the rows are; the sums of :math:`x` and :math:`\log x` (``sum_x``, ``sum_log_x``) are
    derived from it.
    """

    weight: float
    mean: np.ndarray
    log_gap: np.ndarray

    def __add__(self, other: GammaStats) -> GammaStats:
        r"""Merge as centred moments: about the merged mean :math:`m`,
        :math:`Q = Q_a + Q_b + \sum_i W_i\,\mathrm{log1pmx}((m_i - m)/m)`, with the
        differences taken from the rounded means themselves (so a mean rounded by an ulp adds
        nothing of first order)."""
        wa, wb = self.weight, other.weight
        weight = wa + wb
        if wb == 0:
            return GammaStats(weight, self.mean, self.log_gap + other.log_gap)
        if wa == 0:
            return GammaStats(weight, other.mean, self.log_gap + other.log_gap)
        mean = self.mean + (wb / weight) * (other.mean - self.mean)
        gap = (
            self.log_gap
            + other.log_gap
            + wa * log_ratio_gap((self.mean - mean) / mean, self.mean, mean)
            + wb * log_ratio_gap((other.mean - mean) / mean, other.mean, mean)
        )
        return GammaStats(weight, mean, gap)

    @property
    def sum_x(self) -> np.ndarray:
        """Weighted sum of x, shape (d,)."""
        return self.weight * self.mean

    @property
    def sum_log_x(self) -> np.ndarray:
        """Weighted sum of log x, shape (d,) (loses the relative accuracy of ``log_gap``)."""
        if self.weight <= 0:
            return np.zeros_like(self.mean)
        return self.log_gap + self.weight * np.log(self.mean)

    def gap(self, b: float | np.ndarray = 0.0) -> np.ndarray:
        r""":math:`s = \log((\sum w x + b)/W) - \sum w \log x / W \ge 0`, shape (d,), for
        a prior rate ``b`` (0 without a prior); W > 0."""
        return np.log1p(b / (self.weight * self.mean)) - self.log_gap / self.weight


def log1pmx(t: np.ndarray) -> np.ndarray:
    r""":math:`\log(1 + t) - t` for t > -1, accurate to rounding also where it is tiny.

    With :math:`u = t/(2 + t)`, :math:`\log(1 + t) = 2\operatorname{atanh} u` and
    :math:`t - 2u = tu`, so :math:`\log(1+t) - t = -tu + 2u^3(1/3 + u^2/5 + u^4/7 + \dots)`:
    terms of one sign, summed where :math:`|t| <` ``LOG1PMX_SERIES`` (:math:`u^2 < 2.6\cdot
    10^{-5}`: four terms reach rounding).
    """
    shape = np.shape(t)
    t = np.atleast_1d(np.asarray(t, dtype=float))
    u = np.add(t, 2.0)
    np.divide(t, u, out=u)
    u2 = u * u
    out = u2 / 9.0  # in place from here: these arrays are as long as the data
    out += 1 / 7
    out *= u2
    out += 1 / 5
    out *= u2
    out += 1 / 3
    out *= u2
    out *= u
    out *= 2.0
    u *= t
    out -= u
    far = np.abs(t) >= LOG1PMX_SERIES
    if far.any():
        tf = t[far]
        out[far] = np.log1p(tf) - tf
    return out.reshape(shape)


def log_ratio_gap(t: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    r""":math:`\log(x/m) - t` with :math:`t = (x - m)/m` (given, shape of ``x``; ``m`` broadcast
    against it): :func:`log1pmx` of t, and where :math:`x < m/2` the logarithms themselves,
    since t rounds to -1 where :math:`x <` eps m (:math:`\log(1 + t)` would be -inf)."""
    with np.errstate(divide="ignore"):  # t = -1 is replaced below
        out = log1pmx(t)
    low = t < -0.5
    if np.any(low):
        x_low = np.broadcast_to(x, out.shape)[low]
        m_low = np.broadcast_to(m, out.shape)[low]
        with np.errstate(under="ignore"):
            ratio = x_low / m_low
        # one rounding where the ratio is a normal number; the logarithms' difference (which
        # loses digits at magnitudes near 1e300) only where it underflows
        tiny = ratio < np.finfo(float).tiny
        logs = np.log(np.where(tiny, 1.0, ratio))
        if tiny.any():
            logs[tiny] = np.log(x_low[tiny]) - np.log(m_low[tiny])
        out[low] = logs - t[low]
    return out


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
    weight: float, gap: np.ndarray, a: float = 1.0, max_shape: float = MAX_SHAPE
) -> np.ndarray:
    r"""Maximiser over shape in (0, ``max_shape``] of the (profiled) gamma log-posterior,
    shape (d,).

    ``gap`` (d,) is :math:`s = \log((\sum w x + b)/W) - \sum w\log x/W`
    (:meth:`GammaStats.gap`), ``a`` the prior's shape (1 without a prior). The gradient and
    curvature are written in differences that stay accurate at large shapes:
    :math:`g'/W = (\log\alpha - \psi(\alpha)) - s + \log(1 + (a-1)/(W\alpha))`. Where
    :math:`s \le 1/(2\,` ``max_shape`` :math:`)` (the rows on one value) the objective rises
    to the bound: ``max_shape`` (which may be inf).
    """
    if np.shape(gap) == (1,):  # one feature: the same steps on Python floats (faster)
        return np.array([_newton_one(float(weight), float(gap[0]), a, max_shape)])
    s = np.asarray(gap, dtype=float)
    # s >= 0 by Jensen (b >= 0); at s = 0 (all values equal) the maximum is at the bound.
    at_bound = s <= 0.5 / max_shape
    s = np.where(at_bound, 1.0, s)  # (any positive value: replaced below)
    alpha = (3.0 - s + np.sqrt((s - 3.0) ** 2 + 24.0 * s)) / (12.0 * s)  # Minka's start
    alpha = np.minimum(alpha, max_shape)
    shift = a - 1.0
    for _ in range(NEWTON_STEPS):
        c = weight * alpha + shift
        grad = log_minus_digamma(alpha) - s + np.log1p(shift / (weight * alpha))
        hess = -shift / (c * alpha) - trigamma_minus_inverse(alpha)  # g''/W < 0
        new = alpha - grad / hess
        # Past the root Newton can overshoot below 0: halve towards 0 instead.
        new = np.where(new > 0, new, alpha / 2.0)
        new = np.minimum(new, max_shape)
        done = np.abs(new - alpha) <= 1e-13 * alpha
        alpha = new
        if np.all(done):
            break
    return np.where(at_bound, max_shape, alpha)


def _newton_one(weight: float, s: float, a: float, max_shape: float) -> float:
    """:func:`gamma_shape_newton` for one feature, step for step on floats."""
    if not s > 0.5 / max_shape:
        return max_shape
    alpha = min((3.0 - s + math.sqrt((s - 3.0) ** 2 + 24.0 * s)) / (12.0 * s), max_shape)
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
        new = min(new, max_shape)
        done = abs(new - alpha) <= 1e-13 * alpha
        alpha = new
        if done:
            break
    return alpha


@dataclass(frozen=True, eq=False)
class Gamma(IndependentFeatures):
    """Independent gamma features; ``shape`` and ``rate`` of shape (d,), or None.

    The support used is :math:`x > 0` in every feature: ``log_prob`` is -inf at 0 and below,
    whatever the shape (at 0 the density with shape < 1 is +inf, which no fit could use). In
    a :class:`~emkit.MixtureModel` a row holding a 0 or a negative value is outside this
    component's support (responsibility 0). Where another component takes it, it is fitted
    there (``[Gamma(), Exponential()]`` gives a 0 to the Exponential); where none does
    (``[Gamma(), Gamma()]``), ``fit`` refuses it with a ValueError ("Zeros in data: a Gamma
    component needs strictly positive values"), ``predict`` and ``predict_proba`` refuse it,
    and ``score_samples`` gives it -inf.

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
        safe = as_float64(np.where(x > 0, x, 1.0))
        a, b = self._fitted("shape"), self._fitted("rate")
        # With z = b x and t = z / a - 1: a log z - z - log Gamma(a) = a (log1p(t) - t)
        # + log(a / 2 pi) / 2 + stirling_remainder(a), which keeps its accuracy at a large shape
        # (a tight component) where the terms of the textbook form cancel (~1e11 at a = 1e10).
        # A row so far above a tight component's mean that b x overflows (a component
        # collapsed onto values near 1e-280 beside values of 1e9) has density 0 there: t is
        # inf, and its log density -inf (as a (log1p(t) - t) is where it overflows).
        with np.errstate(over="ignore", invalid="ignore"):
            if np.all(a <= EXACT_T_SHAPE):
                # t to about 2 eps: a row's log density to 2 eps sqrt(a) |z| for z standard
                # deviations from the mode, at most ~1e-11 here.
                t = b * safe / a - 1.0
                with np.errstate(divide="ignore"):  # t = -1 is replaced below
                    body = np.log1p(t) - t
                low = t < -0.5
                if low.any():  # t rounds to -1 where b x / a < eps / 2: log(b x / a) - t
                    z = np.broadcast_to(np.log(b / a), safe.shape)[low] + np.log(safe[low])
                    body[low] = z - t[low]
            else:
                t = _exact_t(safe, a, b)
                body = log_ratio_gap(t, safe, a / b)
            body = np.where(np.isposinf(t), -np.inf, body)
            out = a * body + 0.5 * np.log(a / (2 * np.pi)) + stirling_remainder(a)
        out = (out - np.log(safe)).sum(axis=1)
        return np.where(positive, out, -np.inf)

    def suff_stats(self, x: np.ndarray, w: np.ndarray) -> GammaStats:
        # In float64 whatever the rows' dtype: the statistics accumulate in float64.
        safe = as_float64(np.where(x > 0, x, 1.0))
        weight = float(w.sum())
        if weight <= 0:
            return GammaStats(0.0, np.zeros(x.shape[1]), np.zeros(x.shape[1]))
        mean = (w @ safe) / weight
        deviation = safe - mean
        # The rows' own deviations correct the mean's rounding (as Normal.suff_stats does):
        # rows on one value then give Q = 0 exactly, not the square of an ulp.
        step = (w @ deviation) / weight
        mean = mean + step
        deviation -= step
        deviation /= mean
        return GammaStats(weight, mean, w @ log_ratio_gap(deviation, safe, mean))

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

    def local_scores(self, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""Each row's gradient of ``log_prob`` (n, 2d) and the Hessian of
        :math:`\sum_n w_n \log p(x_n)` (2d, 2d) in the local coordinates (log shape at a fixed
        mean, log mean), rows in the support. With :math:`t = \beta x / \alpha - 1`: scores
        :math:`\alpha(\log(1 + t) - t + \log\alpha - \psi(\alpha))` and :math:`\alpha
        t`; Hessian per feature :math:`[[s_1 - \alpha^2(\psi'(\alpha) - 1/\alpha), \alpha t],
        [\alpha t, -\alpha(1 + t)]]` summed. The two are orthogonal at the fit, where (log
        shape, log rate) correlate to :math:`1 - 1/(4\alpha)`; the differences that cancel
        at a large shape are taken by :func:`log1pmx`, :func:`log_minus_digamma` and
        :func:`trigamma_minus_inverse`."""
        a, b = self._fitted("shape"), self._fitted("rate")
        x = as_float64(x)
        t = b * x / a - 1.0  # (n, d)
        # t rounds to -1 where x < eps a / b (a small shape puts rows there): log(b x / a) - t
        # is then taken from the logarithms, as in the fit's statistics.
        first = a * (log_ratio_gap(t, x, a / b) + log_minus_digamma(a))
        scores = np.hstack([first, a * t])
        weight = float(w.sum())
        hessian = feature_pairs(
            w @ first - weight * a**2 * trigamma_minus_inverse(a),
            a * (w @ t),
            -a * (weight + w @ t),
        )
        return scores, hessian

    def local_jacobian(self) -> np.ndarray:
        """Jacobian of (shape, rate) with respect to ``local_scores``' coordinates (2d, 2d):
        shape = e^u, rate = e^(u - m)."""
        a, b = self._fitted("shape"), self._fitted("rate")
        d = a.shape[0]
        i = np.arange(d)
        out = np.zeros((2 * d, 2 * d))
        out[i, i], out[i + d, i], out[i + d, i + d] = a, b, -b
        return out

    def from_stats(self, stats: GammaStats, prior: GammaPrior | None = None) -> Gamma:
        if stats.weight <= 0:
            return self
        return Gamma(*_shape_and_rate(stats, prior, MAX_SHAPE))

    def log_prior(self, prior: GammaPrior) -> float:
        return prior.log_density(self._fitted("rate"))

    def degenerate(
        self, stats: GammaStats, prior: GammaPrior | None = None, pooled: GammaStats | None = None
    ) -> bool:
        """True if the component holds (almost) no weight, or its rows sit on (nearly) a single
        value in some feature.

        As :meth:`Normal.degenerate <emkit.distributions.normal.Normal.degenerate>` judges a
        variance: the fitted gamma's variance (shape / rate^2, with the shape not held at
        ``MAX_SHAPE``) at or below
        :attr:`~emkit.distributions.regularization.Regularization.TOLERANCE` of the variance
        of the gamma fitted to the ``pooled`` statistics (the data's), or at the level of the
        values' rounding. Data far from 0 relative to their spread (a shape of 1e16 at an
        offset of 1e8 and a spread of 1) are not a collapse.
        """
        if stats.weight <= 1e-10:
            return True
        # A variance of eps |mean| / 4 squared: distinct values are at least half an ulp apart.
        floor = (0.25 * np.finfo(float).eps * stats.mean) ** 2
        if pooled is not None and pooled.weight > 0:
            floor = np.maximum(
                floor, Regularization.TOLERANCE * _variance(*_shape_and_rate(pooled, None, np.inf))
            )
        return bool(np.any(_variance(*_shape_and_rate(stats, prior, np.inf)) <= floor))

    def asymptotic_covariance(self, scale: np.ndarray | None = None) -> np.ndarray:
        r"""Covariance of the MLE of (``shape``, ``rate``) raveled in that order from one row,
        (2d, 2d): the inverse Fisher information. Per feature, with :math:`g = \alpha\psi'(\alpha)
        - 1`: :math:`\operatorname{Var}\hat\alpha = \alpha/g`, :math:`\operatorname{Cov} =
        \beta/g`, :math:`\operatorname{Var}\hat\beta = \beta^2\psi'(\alpha)/g`; features
        uncorrelated; divide by N for N rows. Divided by ``outer(scale, scale)`` when ``scale``
        (2d,) is given, without forming :math:`\beta^2` (which leaves float64's range beyond
        about 1e154).

        :math:`g` is taken as :math:`\alpha(\psi'(\alpha) - 1/\alpha)`
        (:func:`trigamma_minus_inverse`): formed as written it cancels (about
        :math:`1/(2\alpha)`, all of it lost beyond shapes of 1e16).
        """
        shape = np.asarray(self._fitted("shape"), dtype=float)
        rate = np.asarray(self._fitted("rate"), dtype=float)
        d = shape.size
        excess = trigamma_minus_inverse(shape)  # psi'(a) - 1/a = g / a
        # In units of (shape, rate): Var a / a^2 = Cov / (a b) = 1/(a^2 t), Var b / b^2 adds 1/a.
        relative = 1.0 / (shape**2 * excess)
        units = np.ones(2 * d) if scale is None else np.asarray(scale, dtype=float)
        factor = np.concatenate([shape / units[:d], rate / units[d:]])
        cov = np.zeros((2 * d, 2 * d))
        features = np.arange(d)
        cov[features, features] = relative
        cov[features, features + d] = cov[features + d, features] = relative
        cov[features + d, features + d] = relative + 1.0 / shape
        return cov * factor[:, None] * factor[None, :]

    def sample(self, n: int, rng: np.random.Generator, n_features: int | None = None):
        shape, rate = self._fitted("shape"), self._fitted("rate")
        return rng.gamma(shape, 1.0 / rate, size=(n, shape.shape[0]))


def _shape_and_rate(
    stats: GammaStats, prior: GammaPrior | None, max_shape: float
) -> tuple[np.ndarray, np.ndarray]:
    """The M-step's shape (at most ``max_shape``, which may be inf) and rate, each (d,);
    ``stats`` of positive weight."""
    a, b = (1.0, 0.0) if prior is None else (prior.shape, prior.rate)
    # Below a = 1 the joint posterior has no mode for any data: at shapes alpha below
    # (1 - a)/W the rate's power W alpha + a - 1 is negative and the density grows without
    # bound as the rate tends to 0.
    at_least_one("shape", a, "so that a Gamma family's posterior mode exists")
    shape = gamma_shape_newton(stats.weight, stats.gap(b), a, max_shape)
    if np.isfinite(max_shape):
        # The rate (W shape + a - 1) / (sum x + b) is kept at most MAX_RATE: a component
        # collapsing onto values near 1e-290 would reach MAX_SHAPE / mean = 1e312.
        # The objective is concave in the shape, so the maximum over the shapes whose rate
        # is at most MAX_RATE is the unbounded one clipped to them.
        with np.errstate(over="ignore"):
            most = (MAX_RATE * (stats.sum_x + b) - (a - 1.0)) / stats.weight
        if np.any((shape > most) & (most < MIN_CAPPED_SHAPE)):
            # Values so tiny (below about 1e-301) that even a shape of 1e6 puts the rate
            # past MAX_RATE: neither a collapse nor a spread can be written in float64.
            j = int(np.flatnonzero((shape > most) & (most < MIN_CAPPED_SHAPE))[0])
            raise ValueError(
                f"a Gamma component collapsed onto values near {stats.mean[j]:.3g} (feature "
                f"{j}): its rate (shape / mean) would pass {MAX_RATE:.0e} and overflow "
                "float64; drop those tiny values, give the Gamma components a GammaPrior on "
                "the rate (which keeps it finite), or use fewer components"
            )
        shape = np.minimum(shape, most)
    with np.errstate(invalid="ignore"):  # inf / inf where the shape is unbounded
        rate = (stats.weight * shape + a - 1.0) / (stats.sum_x + b)
    return shape, rate


def _variance(shape: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """shape / rate^2, shape (d,); 0 where the shape is inf (the rows on one value)."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isinf(shape), 0.0, shape / rate**2)


def _exact_t(x: np.ndarray, shape: np.ndarray, rate: np.ndarray) -> np.ndarray:
    r""":math:`t = \beta x/\alpha - 1` of rows ``x`` (n, d) to rounding of t itself.

    Dekker's exact product :math:`\beta x = p + e`: :math:`p - \alpha` is then exact near
    the mode (Sterbenz), where the plain form's 2 eps would be most of t.
    """
    p = rate * x
    with np.errstate(over="ignore", invalid="ignore"):
        c = SPLIT * rate
        rh = c - (c - rate)
        rl = rate - rh
        c = SPLIT * x
        xh = c - (c - x)
        xl = x - xh
        e = ((rh * xh - p) + rh * xl + rl * xh) + rl * xl
    e = np.where(np.isnan(e), 0.0, e)  # values beyond 1e300 (their split overflows)
    return ((p - shape) + e) / shape


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
    r"""K components' statistics from sums of (log x, x) (k, 2d).

    :math:`Q = \sum w\log x - W\log m - (\sum w x - Wm)/m` cancels to the rounding of the
    sum of :math:`\log x`; where it is below that (rows tighter than the kernel's shapes, at
    most ``LINEAR_SHAPE``, resolve), it is held there: the broadest shape the sums allow, still
    above the current ones (the objective is concave in the shape), and the next E-step takes
    the members' own centred statistics.
    """
    d = sums.shape[1] // 2
    out = []
    for w, s in zip(weight, sums, strict=True):
        if w <= 0:
            out.append(GammaStats(0.0, np.zeros(d), np.zeros(d)))
            continue
        mean = s[d:] / w
        gap = s[:d] - w * np.log(mean) - (s[d:] - w * mean) / mean
        resolution = KERNEL_ROUNDING * w * (1.0 + np.abs(np.log(mean)))
        out.append(GammaStats(float(w), mean, np.minimum(gap, -resolution)))
    return tuple(out)
