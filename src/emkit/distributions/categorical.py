r"""Categorical family: each feature takes one of C categories 0, ..., C-1, independently.

.. math:: \log p(x) = \sum_j \log p_{j, x_j}.

Statistics: weight :math:`W` and weighted category counts :math:`n_{jc}` (d, C); M-step
:math:`\hat p_{jc} = n_{jc} / W`, or under a :class:`~emkit.distributions.priors.DirichletPrior`
(:math:`\alpha`), :math:`(\alpha_c - 1 + n_{jc}) / (\sum_c(\alpha_c - 1) + W)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from emkit.distributions.base import AdditiveStats, fitted_value
from emkit.distributions.priors import DirichletPrior

# Codes up to this many categories are taken from the data whatever the rows' count
# (Categorical.with_categories).
SPARSE_CODES = 1024


@dataclass(frozen=True)
class CategoricalStats(AdditiveStats):
    """Weight W (float) and weighted counts, shape (d, C)."""

    weight: float
    counts: np.ndarray


@dataclass(frozen=True, eq=False)
class Categorical:
    """Independent categorical features over ``n_categories`` codes.

    Attributes
    ----------
    n_categories : int or None; None takes the largest code in the data plus one at fitting.
    probs : array of shape (d, C), rows summing to 1, or None before fitting.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import Categorical, MixtureModel
    >>> Categorical(3, probs=[[0.2, 0.3, 0.5]]).log_prob(np.array([[0], [2]])).round(4)
    array([-1.6094, -0.6931])
    >>> x = np.random.default_rng(0).choice(3, p=[0.2, 0.3, 0.5], size=(400, 1))
    >>> MixtureModel([Categorical(3)]).fit(x).components_[0].probs.round(3)
    array([[0.202, 0.255, 0.542]])
    """

    name: ClassVar[str] = "categorical"
    prior_type: ClassVar[type] = DirichletPrior
    n_categories: int | None = None
    probs: np.ndarray | None = None

    def __post_init__(self):
        if self.probs is not None:
            probs = np.atleast_2d(np.asarray(self.probs, dtype=float))
            if not ((probs >= 0).all() and np.allclose(probs.sum(axis=1), 1.0, atol=1e-6)):
                raise ValueError(
                    "Categorical probs must be non-negative with rows summing to 1; "
                    f"got {probs.tolist()}"
                )
            object.__setattr__(self, "probs", probs)
            object.__setattr__(self, "n_categories", probs.shape[1])
        elif self.n_categories is not None and int(self.n_categories) < 1:
            raise ValueError(f"n_categories must be at least 1; got {self.n_categories}")

    @property
    def fitted(self) -> bool:
        return self.probs is not None

    def in_support(self, x: np.ndarray) -> np.ndarray:
        """Rows of integer codes within range, bool (n,)."""
        inside = (x >= 0) & (x == np.round(x))
        if self.n_categories is not None:
            inside &= x < self.n_categories
        return np.all(inside, axis=1)

    def check_support(self, x: np.ndarray) -> None:
        if np.any(x < 0) or np.any(x != np.round(x)):
            raise ValueError(
                "a Categorical component needs integer codes 0, 1, ..., C-1 in every feature; "
                "encode labels first (e.g. sklearn.preprocessing.OrdinalEncoder)"
            )
        if self.n_categories is not None and np.any(x >= self.n_categories):
            raise ValueError(
                f"codes must be below n_categories = {self.n_categories}; "
                f"got a maximum of {int(x.max())}"
            )

    def with_categories(self, x: np.ndarray) -> Categorical:
        """This family with ``n_categories`` set from the data when it was None: the largest
        code + 1. Codes far beyond the rows' count (more than ``SPARSE_CODES`` and twice the
        rows) are refused: they are labels, not codes 0..C-1, and C of them would be
        parameters (a code of 1e9 asked for gigabytes)."""
        if self.n_categories is not None:
            return self
        n_categories = int(x.max()) + 1
        if n_categories > max(SPARSE_CODES, 2 * x.shape[0]):
            raise ValueError(
                f"Categorical: the largest code is {n_categories - 1} on {x.shape[0]} rows; "
                "codes must be 0..C-1 for C categories. Recode the labels (e.g. with "
                "pandas.factorize or Series.cat.codes), or pass n_categories"
            )
        return Categorical(n_categories)

    def for_data(self, x: np.ndarray) -> Categorical:
        """:meth:`with_categories`: the number of categories from the data when it is None."""
        return self.with_categories(x)

    def _one_hot(self, x: np.ndarray) -> np.ndarray:
        codes = x.astype(np.intp)  # (n, d)
        n_categories = fitted_value(self, "n_categories", self.n_categories)
        return codes[:, :, None] == np.arange(n_categories)  # (n, d, C)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Log probability of each row of ``x`` (n, d), shape (n,); -inf for unseen codes."""
        inside = self.in_support(x)
        probs = fitted_value(self, "probs", self.probs)  # (d, C)
        # C is probs.shape[1]: __post_init__ sets n_categories from the probabilities.
        safe = np.clip(np.where(inside[:, None], x, 0).astype(np.intp), 0, probs.shape[1] - 1)
        with np.errstate(divide="ignore"):
            log_probs = np.log(probs)  # (d, C)
        out = log_probs[np.arange(x.shape[1]), safe].sum(axis=1)
        return np.where(inside, out, -np.inf)

    def suff_stats(self, x: np.ndarray, w: np.ndarray) -> CategoricalStats:
        counts = np.einsum("n,ndc->dc", w, self._one_hot(x).astype(float))
        return CategoricalStats(float(w.sum()), counts)

    def from_stats(
        self, stats: CategoricalStats, prior: DirichletPrior | None = None
    ) -> Categorical:
        if prior is None:
            if stats.weight <= 0:
                return self
            return Categorical(probs=stats.counts / stats.counts.sum(axis=1, keepdims=True))
        alpha = np.broadcast_to(np.asarray(prior.concentration, dtype=float), stats.counts.shape)
        numer = alpha - 1.0 + stats.counts
        return Categorical(probs=numer / numer.sum(axis=1, keepdims=True))

    def to_vector(self) -> np.ndarray:
        """log ``probs`` raveled, shape (d C,) (SQUAREM's unconstrained parameters: each row
        is read back through a softmax)."""
        with np.errstate(divide="ignore"):
            return np.log(fitted_value(self, "probs", self.probs)).ravel()

    def from_vector(self, vector: np.ndarray) -> Categorical:
        probs = fitted_value(self, "probs", self.probs)
        logits = vector.reshape(probs.shape)
        logits = logits - logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return Categorical(self.n_categories, weights / weights.sum(axis=1, keepdims=True))

    def log_prior(self, prior: DirichletPrior) -> float:
        return prior.log_density(fitted_value(self, "probs", self.probs))

    def degenerate(self, stats: CategoricalStats, prior: DirichletPrior | None = None) -> bool:
        """True if the component holds (almost) no weight."""
        return bool(stats.weight <= 1e-10)

    def n_parameters(self, n_features: int) -> int:
        return n_features * (fitted_value(self, "n_categories", self.n_categories) - 1)

    def sample(self, n: int, rng: np.random.Generator, n_features: int | None = None):
        probs = fitted_value(self, "probs", self.probs)  # (d, C)
        cumulative = np.cumsum(probs, axis=1)  # (d, C)
        u = rng.random((n, probs.shape[0], 1))
        return (u > cumulative[None, :, :-1]).sum(axis=2).astype(float)

    def to_dict(self) -> dict:
        probs = None if self.probs is None else self.probs.tolist()
        return {"family": self.name, "n_categories": self.n_categories, "probs": probs}

    def asymptotic_covariance(self) -> np.ndarray:
        r"""Covariance of the MLE of ``probs`` (raveled, d C entries) from one row, (dC, dC):
        per feature :math:`\operatorname{diag} p - pp^\top`, singular because each row of
        ``probs`` sums to one; divide by N for N rows."""
        probs = np.asarray(self.probs, dtype=float)  # (d, C)
        d, c = probs.shape
        out = np.zeros((d * c, d * c))
        for j, p in enumerate(probs):
            out[j * c : (j + 1) * c, j * c : (j + 1) * c] = np.diag(p) - np.outer(p, p)
        return out

    def conjugate_update(self, stats: CategoricalStats, hyper: dict) -> dict:
        r"""Posterior Dirichlet hyperparameters ``{"concentration"}`` (d, C) from the prior's
        (a float or (C,)) and the statistics: :math:`\alpha_c + n_{jc}`. Plain values, so
        that priors :class:`DirichletPrior` rejects (below 1, no mode) are allowed here."""
        return {"concentration": hyper["concentration"] + stats.counts}
