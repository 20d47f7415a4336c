r"""Bernoulli family: independent binary features (a latent class model's component).

.. math:: \log p(x) = \sum_j x_j\log p_j + (1 - x_j)\log(1 - p_j), \qquad x_j \in \{0, 1\}.

Statistics: weight :math:`W` and weighted sums :math:`\sum w x`; M-step
:math:`\hat p = \sum w x / W`, or under a :class:`~emkit.distributions.priors.BetaPrior` (a, b),
:math:`(a - 1 + \sum w x)/(a + b - 2 + W)`, which keeps p off 0 and 1 when a, b > 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import expit, xlog1py, xlogy

from emkit.distributions.base import IndependentFeatures, WeightedSums
from emkit.distributions.batched import (
    LinearKernel,
    RowFeatures,
    as_float64,
    stacked,
    support_only,
)
from emkit.distributions.priors import BetaPrior, check_mode


class BernoulliStats(WeightedSums):
    """Weight W (float) and weighted sums of x, shape (d,)."""


@dataclass(frozen=True, eq=False)
class Bernoulli(IndependentFeatures):
    """Independent binary features; ``probs`` of shape (d,), or None before fitting.

    Attributes
    ----------
    probs : array of shape (d,), each feature's probability of a 1; or None before fitting.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import Bernoulli, MixtureModel
    >>> Bernoulli(probs=[0.9, 0.2]).log_prob(np.array([[1, 0], [0, 1]])).round(4)
    array([-0.3285, -3.912 ])
    >>> rng = np.random.default_rng(0)
    >>> p = np.where(rng.uniform(size=(300, 1)) < 0.5, [[0.9, 0.8, 0.1]], [[0.1, 0.3, 0.9]])
    >>> X = (rng.uniform(size=(300, 3)) < p).astype(float)  # a latent class model
    >>> lca = MixtureModel([Bernoulli(), Bernoulli()], n_init=3, random_state=0).fit(X)
    >>> lca.weights_.round(2)
    array([0.58, 0.42])
    >>> np.array([c.probs for c in lca.components_]).round(2)
    array([[0.11, 0.27, 0.91],
           [0.89, 0.85, 0.07]])
    """

    name: ClassVar[str] = "bernoulli"
    params: ClassVar[tuple[str, ...]] = ("probs",)
    domains: ClassVar[dict[str, str]] = {"probs": "unit"}
    prior_type: ClassVar[type] = BetaPrior
    fixed_support: ClassVar[bool] = True
    probs: np.ndarray | None = None

    def row_moments(self, stats: BernoulliStats, n_features: int) -> tuple:
        """The rows' weight, each column's mean m (d,) and centred scatter W m (1 - m): the
        values are 0 or 1, so the sums hold their squares too."""
        weight, mean, _ = super().row_moments(stats, n_features)
        return weight, mean, weight * mean * (1.0 - mean)

    def in_support(self, x: np.ndarray) -> np.ndarray:
        """Rows whose every value is 0 or 1, bool (n,)."""
        return np.all((x == 0) | (x == 1), axis=1)

    def check_support(self, x: np.ndarray) -> None:
        if not self.in_support(x).all():
            words = "Negative values in data: " if np.any(x < 0) else ""  # scikit-learn's
            raise ValueError(f"{words}a Bernoulli component needs binary data: every value 0 or 1")

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Log probability of each row of ``x`` (n, d), shape (n,); -inf off {0, 1}."""
        probs = self._fitted("probs")
        out = (xlogy(x, probs) + xlog1py(1.0 - x, -probs)).sum(axis=1)
        return np.where(self.in_support(x), out, -np.inf)

    def suff_stats(self, x: np.ndarray, w: np.ndarray) -> BernoulliStats:
        return BernoulliStats(float(w.sum()), w @ x)

    @classmethod
    def kernel(cls, members: Sequence[Bernoulli]) -> LinearKernel | None:
        r"""K Bernoulli components at once: :math:`\eta = \log p - \log(1 - p)`,
        :math:`T(x) = x`, :math:`c = \sum_j\log(1 - p_j)`; None where a probability is 0 or 1
        (infinite :math:`\eta`: the members' own ``log_prob`` handle it)."""
        probs = stacked(members, "probs")  # (k, d)
        if not np.all((probs > 0) & (probs < 1)):
            return None
        log_q = np.log1p(-probs)
        return LinearKernel(
            "binary",
            _binary_features,
            np.log(probs) - log_q,
            log_q.sum(axis=1),
            _bernoulli_stats,
        )

    def to_vector(self) -> np.ndarray:
        """logit of ``probs``, shape (d,) (SQUAREM's unconstrained parameters)."""
        probs = self._fitted("probs")
        with np.errstate(divide="ignore"):
            return np.log(probs) - np.log1p(-probs)

    def from_vector(self, vector: np.ndarray) -> Bernoulli:
        return Bernoulli(expit(vector))

    def from_stats(self, stats: BernoulliStats, prior: BetaPrior | None = None) -> Bernoulli:
        if prior is None:
            if stats.weight <= 0:
                return self
            return Bernoulli(np.clip(stats.sum_x / stats.weight, 0.0, 1.0))
        post = self.conjugate_update(stats, {"a": prior.a, "b": prior.b})
        check_mode("a", prior.a, post["a"], "the component's (weighted) counts of ones")
        check_mode("b", prior.b, post["b"], "the component's (weighted) counts of zeros")
        numer = prior.a - 1.0 + stats.sum_x
        return Bernoulli(numer / (prior.a + prior.b - 2.0 + stats.weight))

    def log_prior(self, prior: BetaPrior) -> float:
        return prior.log_density(self._fitted("probs"))

    def degenerate(
        self,
        stats: BernoulliStats,
        prior: BetaPrior | None = None,
        pooled: BernoulliStats | None = None,
    ) -> bool:
        """True if the component holds (almost) no weight; ``pooled`` plays no part (a
        probability mass is at most 1: nothing to collapse)."""
        return bool(stats.weight <= 1e-10)

    def sample(self, n: int, rng: np.random.Generator, n_features: int | None = None):
        probs = self._fitted("probs")
        return (rng.random((n, probs.shape[0])) < probs).astype(float)

    def asymptotic_covariance(self, scale: np.ndarray | None = None) -> np.ndarray:
        r"""Covariance of the MLE of ``probs`` from one row, (d, d): the inverse Fisher
        information :math:`\operatorname{diag} p(1 - p)`; divide by N for N rows. Divided by
        ``outer(scale, scale)`` when ``scale`` (d,) is given."""
        probs = np.asarray(self.probs, dtype=float)  # (d,)
        cov = np.diag(probs * (1.0 - probs))
        return cov if scale is None else cov / np.outer(scale, scale)

    def conjugate_update(self, stats: BernoulliStats, hyper: dict) -> dict:
        r"""Posterior Beta hyperparameters ``{"a", "b"}`` (each (d,)) from prior ones and the
        statistics: :math:`a + \sum w x`, :math:`b + W - \sum w x`. Plain values, so that
        the improper limits :class:`BetaPrior` rejects (a or b = 0, Haldane's) are allowed here."""
        return {
            "a": hyper["a"] + stats.sum_x,
            "b": hyper["b"] + stats.weight - stats.sum_x,
        }

    def local_scores(self, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row's gradient of ``log_prob`` (n, d) and the Hessian of sum_n w_n log p(x_n)
        (d, d) in ``to_vector``'s logits: x - p and -diag(p (1 - p) sum_n w_n)."""
        probs = self._fitted("probs")
        return as_float64(x) - probs, np.diag(-probs * (1.0 - probs) * float(w.sum()))

    def local_jacobian(self) -> np.ndarray:
        """Jacobian of the probabilities with respect to the logits, (d, d): diag(p (1 - p))."""
        probs = self._fitted("probs")
        return np.diag(probs * (1.0 - probs))


def _binary_features(x: np.ndarray) -> RowFeatures:
    """T(x) = x for the rows with every value 0 or 1."""
    x, inside = support_only(x, np.all((x == 0) | (x == 1), axis=1))
    return RowFeatures(as_float64(x).T, None, inside)


def _bernoulli_stats(weight: np.ndarray, sums: np.ndarray) -> tuple:
    return tuple(BernoulliStats(float(w), s) for w, s in zip(weight, sums, strict=True))
