r"""Poisson family: independent counts, one rate per feature.

.. math:: \log p(x) = \sum_j x_j\log\lambda_j - \lambda_j - \log x_j!

Statistics are the weight :math:`W = \sum_n w_n` and the weighted sums
:math:`\sum_n w_n x_{nj}`; the M-step is :math:`\hat\lambda = \sum w x / W`, or under a
:class:`~emkit.distributions.priors.GammaPrior` (a, b), :math:`(a - 1 + \sum w x)/(b + W)`.
Values must be non-negative integers: a non-integer lies outside the support.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import gammaln, xlogy

from emkit.distributions.base import LOG_2PI, IndependentFeatures, WeightedSums
from emkit.distributions.batched import (
    LinearKernel,
    RowFeatures,
    as_float64,
    stacked,
    support_only,
)
from emkit.distributions.priors import GammaPrior, check_mode

# log x! for the counts below this, looked up rather than computed (gammaln is slow).
TABLE_SIZE = 1024
NEG_LOG_FACTORIAL = -gammaln(np.arange(TABLE_SIZE) + 1.0)
# From this rate on the components' log-pmfs are each computed in Loader's form (``log_pmf``),
# not by the batched kernel: its x log(rate) - rate - log x! cancels terms of about
# x log(rate), and loses eps * x log(rate) per row (3e-9 at a rate of 2**16, 4e-3 at 1e12).
KERNEL_MAX_RATE = 2.0**16


class PoissonStats(WeightedSums):
    """Weight W (float) and weighted sums of x, shape (d,)."""


@dataclass(frozen=True, eq=False)
class Poisson(IndependentFeatures):
    """Independent Poisson counts; ``rate`` of shape (d,), or None before fitting.

    Attributes
    ----------
    rate : array of shape (d,), positive means; or None before fitting.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import MixtureModel, Poisson
    >>> Poisson(rate=[2.0]).log_prob(np.array([[0], [3]])).round(4)
    array([-2.    , -1.7123])
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.poisson(1, 200), rng.poisson(8, 100)])[:, None]
    >>> mm = MixtureModel([Poisson(), Poisson()], random_state=0).fit(x)
    >>> mm.weights_.round(3), [c.rate.round(2) for c in mm.components_]
    (array([0.687, 0.313]), [array([1.27]), array([8.17])])
    """

    name: ClassVar[str] = "poisson"
    params: ClassVar[tuple[str, ...]] = ("rate",)
    domains: ClassVar[dict[str, str]] = {"rate": "nonnegative"}
    prior_type: ClassVar[type] = GammaPrior
    fixed_support: ClassVar[bool] = True
    rate: np.ndarray | None = None

    def in_support(self, x: np.ndarray) -> np.ndarray:
        """Rows whose every value is a non-negative integer, bool (n,)."""
        return np.all((x >= 0) & (x == np.floor(x)), axis=1)

    def check_support(self, x: np.ndarray) -> None:
        """Raise ``ValueError`` unless every value is a non-negative integer count."""
        if np.any(x < 0):
            raise ValueError(
                "Negative values in data: a Poisson component needs non-negative counts"
            )
        if not self.in_support(x).all():
            value = x[x != np.floor(x)][0]
            raise ValueError(
                f"Non-integer values in data (e.g. {value}): a Poisson component needs "
                "counts; round the data or use a continuous family (Gamma, Exponential)"
            )

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Log probability of each row of ``x`` (n, d), shape (n,); -inf below 0."""
        inside = self.in_support(x)
        safe = np.where(inside[:, None], x, 0.0)
        rate = self._fitted("rate")
        out = log_pmf(safe, rate).sum(axis=1)
        return np.where(inside, out, -np.inf)

    def suff_stats(self, x: np.ndarray, w: np.ndarray) -> PoissonStats:
        return PoissonStats(float(w.sum()), w @ x)

    @classmethod
    def kernel(cls, members: Sequence[Poisson]) -> LinearKernel | None:
        r"""K Poisson components at once: :math:`\eta = \log\lambda`, :math:`T(x) = x`,
        :math:`c = -\sum_j\lambda_j`, :math:`h(x) = -\sum_j\log x_j!`; None where a rate is 0
        (its log is -inf: the members' own ``log_prob`` handle it) or above
        ``KERNEL_MAX_RATE`` (the members' ``log_prob`` keep the digits it would lose)."""
        rates = stacked(members, "rate")  # (k, d)
        if not np.all((rates > 0) & (rates <= KERNEL_MAX_RATE)):
            return None
        return LinearKernel(
            "counts", _count_features, np.log(rates), -rates.sum(axis=1), _poisson_stats
        )

    def to_vector(self) -> np.ndarray:
        """log rate, shape (d,) (SQUAREM's unconstrained parameters)."""
        with np.errstate(divide="ignore"):
            return np.log(self._fitted("rate"))

    def from_vector(self, vector: np.ndarray) -> Poisson:
        return Poisson(np.exp(vector))

    def from_stats(self, stats: PoissonStats, prior: GammaPrior | None = None) -> Poisson:
        if prior is None:
            if stats.weight <= 0:
                return self
            return Poisson(stats.sum_x / stats.weight)
        shape = prior.shape + stats.sum_x  # the posterior's, (d,)
        check_mode("shape", prior.shape, shape, "the component's (weighted) counts")
        return Poisson((prior.shape - 1.0 + stats.sum_x) / (prior.rate + stats.weight))

    def log_prior(self, prior: GammaPrior) -> float:
        return prior.log_density(self._fitted("rate"))

    def degenerate(
        self,
        stats: PoissonStats,
        prior: GammaPrior | None = None,
        pooled: PoissonStats | None = None,
    ) -> bool:
        """True if the component holds (almost) no weight; ``pooled`` plays no part (a
        probability mass is at most 1: nothing to collapse)."""
        return bool(stats.weight <= 1e-10)

    def sample(self, n: int, rng: np.random.Generator, n_features: int | None = None):
        rate = self._fitted("rate")
        return rng.poisson(rate, size=(n, rate.shape[0])).astype(float)

    def asymptotic_covariance(self, scale: np.ndarray | None = None) -> np.ndarray:
        r"""Covariance of the MLE of ``rate`` from one row, (d, d): the inverse Fisher
        information :math:`\operatorname{diag}\lambda`; divide by N for N rows. Divided by
        ``outer(scale, scale)`` when ``scale`` (d,) is given."""
        rate = np.asarray(self.rate, dtype=float)
        return np.diag(rate if scale is None else (np.sqrt(rate) / scale) ** 2)

    def conjugate_update(self, stats: PoissonStats, hyper: dict) -> dict:
        r"""Posterior Gamma hyperparameters ``{"shape", "rate"}`` (each (d,)) from prior ones and
        the statistics: :math:`a + \sum w x`, :math:`b + W`. Plain values, so that priors
        :class:`GammaPrior` rejects (shape 0, an improper limit) are allowed here."""
        rate = np.full(stats.sum_x.shape, hyper["rate"] + stats.weight)
        return {"shape": hyper["shape"] + stats.sum_x, "rate": rate}

    def local_scores(self, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row's gradient of ``log_prob`` (n, d) and the Hessian of sum_n w_n log p(x_n)
        (d, d) in ``to_vector``'s log rates: x - rate and -diag(rate sum_n w_n)."""
        rate = self._fitted("rate")
        return as_float64(x) - rate, np.diag(-rate * float(w.sum()))

    def local_jacobian(self) -> np.ndarray:
        """Jacobian of the rates with respect to the log rates, (d, d): diag(rate)."""
        return np.diag(self._fitted("rate"))


def stirlerr(k: np.ndarray) -> np.ndarray:
    r""":math:`\log k! - [(k + \tfrac12)\log k - k + \tfrac12\log 2\pi]`, the error of
    Stirling's formula, for k >= 1 (Loader, 2000): :func:`scipy.gammaln` below 16
    (where nothing cancels), the asymptotic series above (good to 1e-17 there)."""
    k = np.asarray(k, dtype=np.float64)
    out = np.empty_like(k)
    small = k < 16
    ks = k[small]
    out[small] = gammaln(ks + 1) - (ks + 0.5) * np.log(ks) + ks - 0.5 * LOG_2PI
    kl = k[~small]
    inv2 = (1 / kl) ** 2  # not 1 / kl**2: kl**2 overflows beyond 1e154
    out[~small] = (
        1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 * (1 / 1680 - inv2 / 1188)))
    ) / kl
    return out


def bd0(k: np.ndarray, mean: np.ndarray | float) -> np.ndarray:
    r""":math:`k \log(k/m) + m - k \ge 0` without the cancellation of its terms when k is
    near m (Loader, 2000): the series :math:`(k - m) v + 2k\sum_j v^{2j+1}/(2j+1)` with
    :math:`v = (k - m)/(k + m)` where :math:`|v| < 0.1`."""
    k = np.asarray(k, dtype=np.float64)
    mean = np.broadcast_to(np.asarray(mean, dtype=np.float64), k.shape)
    # over: k + m and k log(k/m) + m pass float64's limit for counts beyond 9e307, where
    # the series below (for k near m) replaces them
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = k * np.log(k / mean) + mean - k
        # halves: k + m overflows beyond 9e307 (v is then used only where k and m are >= 1,
        # so the halving is exact and v the same to the bit)
        v = (0.5 * k - 0.5 * mean) / (0.5 * k + 0.5 * mean)
    near = np.abs(v) < 0.1
    vn, kn = v[near], k[near]
    total = np.zeros_like(vn)
    term = vn.copy()
    for j in range(1, 30):  # |v| < 0.1: v^(2j+1) below 1e-17 of v after 8 terms
        term = term * vn * vn
        total += term / (2 * j + 1)
    out[near] = (kn - mean[near]) * vn + kn * (2 * total)  # 2 k overflows beyond 9e307
    return out


def log_pmf(x: np.ndarray, rate: np.ndarray) -> np.ndarray:
    r"""Log-pmf of counts ``x`` (n, d) under ``rate`` (d,), elementwise, shape (n, d).

    :math:`x\log\lambda - \lambda - \log x!` for counts below ``TABLE_SIZE``; above, where
    those terms cancel (they are 4e19 at x = 2**60 and differ by -21.7), Loader's
    saddle-point form :math:`-\tfrac12\log 2\pi x - \mathrm{stirlerr}(x) -
    \mathrm{bd0}(x, \lambda)`, as R's ``dpois`` and :func:`emkit.mle.poisson`.
    """
    out = xlogy(x, rate) - rate - gammaln(x + 1.0)
    large = x >= TABLE_SIZE
    if large.any():
        rows, cols = np.nonzero(large)
        k = x[rows, cols]
        out[rows, cols] = -0.5 * (LOG_2PI + np.log(k)) - stirlerr(k) - bd0(k, rate[cols])
    return out


def _count_features(x: np.ndarray) -> RowFeatures:
    """Counts: T(x) = x and h(x) = -sum_j log x_j!, for the rows of non-negative integers."""
    ok = x >= 0
    ok &= x == np.floor(x)
    counts: np.ndarray = ok[:, 0] if x.shape[1] == 1 else np.all(ok, axis=1)
    x, inside = support_only(x, counts)
    x = as_float64(x)
    if x.size and x.max() < TABLE_SIZE:
        base = NEG_LOG_FACTORIAL[x.astype(np.intp)]
    else:
        base = -gammaln(x + 1.0)
    return RowFeatures(x.T, base[:, 0] if x.shape[1] == 1 else base.sum(axis=1), inside)


def _poisson_stats(weight: np.ndarray, sums: np.ndarray) -> tuple:
    return tuple(PoissonStats(float(w), s) for w, s in zip(weight, sums, strict=True))
