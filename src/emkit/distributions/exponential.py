r"""Exponential family member with one rate per feature (independent features).

.. math:: \log p(x) = \sum_j \log\lambda_j - \lambda_j x_j, \qquad x_j \ge 0.

Statistics: weight :math:`W` and weighted sums :math:`\sum w x`; M-step
:math:`\hat\lambda = W / \sum w x`, or under a :class:`~emkit.distributions.priors.GammaPrior`
(a, b) on the rate, :math:`(a - 1 + W)/(b + \sum w x)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from emkit.distributions.base import IndependentFeatures, WeightedSums
from emkit.distributions.batched import (
    LinearKernel,
    RowFeatures,
    as_float64,
    stacked,
    support_only,
)
from emkit.distributions.priors import GammaPrior, check_mode


class ExponentialStats(WeightedSums):
    """Weight W (float) and weighted sums of x, shape (d,)."""


@dataclass(frozen=True, eq=False)
class Exponential(IndependentFeatures):
    """Independent exponential features; ``rate`` of shape (d,), or None before fitting.

    Attributes
    ----------
    rate : array of shape (d,), positive rates (1 / mean); or None before fitting.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import Exponential, MixtureModel, Normal
    >>> Exponential(rate=[0.5]).log_prob(np.array([[0.0], [2.0]])).round(4)
    array([-0.6931, -1.6931])
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(10, 1, 200), rng.exponential(2, 200)])[:, None]
    >>> mm = MixtureModel([Normal(), Exponential()], random_state=0).fit(x)  # a normal and a tail
    >>> mm.weights_.round(2), mm.components_[1].rate.round(2)
    (array([0.49, 0.51]), array([0.42]))
    """

    name: ClassVar[str] = "exponential"
    params: ClassVar[tuple[str, ...]] = ("rate",)
    domains: ClassVar[dict[str, str]] = {"rate": "positive"}
    prior_type: ClassVar[type] = GammaPrior
    fixed_support: ClassVar[bool] = True
    rate: np.ndarray | None = None

    def in_support(self, x: np.ndarray) -> np.ndarray:
        """Rows with every value non-negative, bool (n,)."""
        return _nonnegative_rows(x)

    def check_support(self, x: np.ndarray) -> None:
        if not _all_nonnegative(x):
            raise ValueError(
                "Negative values in data: an Exponential component needs non-negative values"
            )

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Log density of each row of ``x`` (n, d), shape (n,); -inf below 0."""
        rate = self._fitted("rate")
        out = (np.log(rate) - x * rate).sum(axis=1)
        return np.where(self.in_support(x), out, -np.inf)

    def suff_stats(self, x: np.ndarray, w: np.ndarray) -> ExponentialStats:
        return ExponentialStats(float(w.sum()), w @ x)

    @classmethod
    def kernel(cls, members: Sequence[Exponential]) -> LinearKernel | None:
        r"""K exponential components at once: :math:`\eta = -\lambda`, :math:`T(x) = x`,
        :math:`c = \sum_j\log\lambda_j`; None where a rate is infinite (a collapsed
        component: the members' own ``log_prob`` handle it)."""
        rates = stacked(members, "rate")  # (k, d)
        if not np.all(np.isfinite(rates)):
            return None
        return LinearKernel(
            "nonnegative",
            _nonnegative_features,
            -rates,
            np.log(rates).sum(axis=1),
            _exponential_stats,
        )

    def to_vector(self) -> np.ndarray:
        """log rate, shape (d,) (SQUAREM's unconstrained parameters)."""
        return np.log(self._fitted("rate"))

    def from_vector(self, vector: np.ndarray) -> Exponential:
        return Exponential(np.exp(vector))

    def from_stats(self, stats: ExponentialStats, prior: GammaPrior | None = None) -> Exponential:
        if prior is None:
            if stats.weight <= 0:
                return self
            return Exponential(stats.weight / stats.sum_x)
        shape = prior.shape + stats.weight  # the posterior's
        check_mode("shape", prior.shape, shape, "the component's (weighted) number of rows")
        return Exponential((prior.shape - 1.0 + stats.weight) / (prior.rate + stats.sum_x))

    def log_prior(self, prior: GammaPrior) -> float:
        return prior.log_density(self._fitted("rate"))

    def degenerate(
        self,
        stats: ExponentialStats,
        prior: GammaPrior | None = None,
        pooled: ExponentialStats | None = None,
    ) -> bool:
        """True if the component holds (almost) no weight, or only zeros (rate -> inf).

        ``pooled`` plays no part: at positive values the likelihood is bounded (by
        :math:`1/(e x)` a row), and a component of small values beside large ones is a
        scale of the data (lifetimes over decades), not a collapse.
        """
        return bool(stats.weight <= 1e-10 or np.any(stats.sum_x <= 0))

    def sample(self, n: int, rng: np.random.Generator, n_features: int | None = None):
        rate = self._fitted("rate")
        return rng.exponential(1.0 / rate, size=(n, rate.shape[0]))

    def asymptotic_covariance(self, scale: np.ndarray | None = None) -> np.ndarray:
        r"""Covariance of the MLE of ``rate`` from one row, (d, d): the inverse Fisher
        information :math:`\operatorname{diag}\lambda^2`; divide by N for N rows. Divided
        by ``outer(scale, scale)`` when ``scale`` (d,) is given, without forming
        :math:`\lambda^2` (which leaves float64's range beyond about 1e154)."""
        rate = np.asarray(self.rate, dtype=float)
        return np.diag((rate if scale is None else rate / scale) ** 2)

    def conjugate_update(self, stats: ExponentialStats, hyper: dict) -> dict:
        r"""Posterior Gamma hyperparameters ``{"shape", "rate"}`` (each (d,)) from prior ones and
        the statistics: :math:`a + W`, :math:`b + \sum w x`. Plain values, so that priors
        :class:`GammaPrior` rejects (shape 0, an improper limit) are allowed here."""
        shape = np.full(stats.sum_x.shape, hyper["shape"] + stats.weight)
        return {"shape": shape, "rate": hyper["rate"] + stats.sum_x}

    def local_scores(self, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row's gradient of ``log_prob`` (n, d) and the Hessian of sum_n w_n log p(x_n)
        (d, d) in ``to_vector``'s log rates: 1 - rate x and -diag(rate sum_n w_n x_n)."""
        rate = self._fitted("rate")
        x = as_float64(x)
        return 1.0 - rate * x, np.diag(-rate * (w @ x))

    def local_jacobian(self) -> np.ndarray:
        """Jacobian of the rates with respect to the log rates, (d, d): diag(rate)."""
        return np.diag(self._fitted("rate"))


def _nonnegative_rows(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` (n, d) with every value non-negative, bool (n,)."""
    return x[:, 0] >= 0 if x.shape[1] == 1 else np.all(x >= 0, axis=1)


def _all_nonnegative(x: np.ndarray) -> bool:
    """True where every value of ``x`` is non-negative (one reduction; NaN is not)."""
    return x.size == 0 or bool(x.min() >= 0)


def _nonnegative_features(x: np.ndarray) -> RowFeatures:
    """T(x) = x for the rows with every value non-negative."""
    if _all_nonnegative(x):
        return RowFeatures(as_float64(x).T)
    x, inside = support_only(x, _nonnegative_rows(x))
    return RowFeatures(as_float64(x).T, None, inside)


def _exponential_stats(weight: np.ndarray, sums: np.ndarray) -> tuple:
    return tuple(ExponentialStats(float(w), s) for w, s in zip(weight, sums, strict=True))
