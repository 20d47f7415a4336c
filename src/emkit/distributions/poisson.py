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

from emkit.distributions.base import IndependentFeatures, WeightedSums
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
        out = (xlogy(safe, rate) - rate - gammaln(safe + 1.0)).sum(axis=1)
        return np.where(inside, out, -np.inf)

    def suff_stats(self, x: np.ndarray, w: np.ndarray) -> PoissonStats:
        return PoissonStats(float(w.sum()), w @ x)

    @classmethod
    def kernel(cls, members: Sequence[Poisson]) -> LinearKernel | None:
        r"""K Poisson components at once: :math:`\eta = \log\lambda`, :math:`T(x) = x`,
        :math:`c = -\sum_j\lambda_j`, :math:`h(x) = -\sum_j\log x_j!`; None where a rate is 0
        (its log is -inf: the members' own ``log_prob`` handle it)."""
        rates = stacked(members, "rate")  # (k, d)
        if not np.all((rates > 0) & np.isfinite(rates)):
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
