r"""Categorical family: feature j takes one of :math:`C_j` categories 0, ..., :math:`C_j - 1`,
independently.

.. math:: \log p(x) = \sum_j \log p_{j, x_j}.

Probabilities are stored as one (d, C) array, C = :math:`\max_j C_j`, with :math:`p_{jc} = 0`
for :math:`c \ge C_j`; those entries are no parameters (feature j has :math:`C_j - 1`).

Statistics: weight :math:`W` and weighted category counts :math:`n_{jc}` (d, C); M-step
:math:`\hat p_{jc} = n_{jc} / W`, or under a :class:`~emkit.distributions.priors.DirichletPrior`
(:math:`\alpha`), :math:`(\alpha_c - 1 + n_{jc}) / \sum_{c < C_j}(\alpha_c - 1 + n_{jc})`
for :math:`c < C_j`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from emkit.distributions.base import AdditiveStats, fitted_value, refuse_booleans
from emkit.distributions.priors import DirichletPrior, check_mode

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
    """Independent categorical features, feature j over ``n_categories[j]`` codes.

    Attributes
    ----------
    n_categories : tuple of int (one per feature), or int (every feature), or None; None
        takes each feature's largest code in the data plus one at fitting
        (:meth:`for_data`), and an int becomes a tuple there. Given ``probs``, a tuple.
    probs : array of shape (d, C), C = max(n_categories), rows summing to 1 and 0 at codes
        at or above their feature's ``n_categories``; or None before fitting.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import Categorical, MixtureModel
    >>> Categorical(3, probs=[[0.2, 0.3, 0.5]]).log_prob(np.array([[0], [2]])).round(4)
    array([-1.6094, -0.6931])
    >>> x = np.random.default_rng(0).choice(3, p=[0.2, 0.3, 0.5], size=(400, 1))
    >>> MixtureModel([Categorical(3)]).fit(x).components_[0].probs.round(3)
    array([[0.202, 0.255, 0.542]])
    >>> two = np.column_stack([x[:, 0], x[:, 0] % 2])  # 3 and 2 categories
    >>> fit = MixtureModel([Categorical()]).fit(two)
    >>> fit.components_[0].n_categories, fit.n_parameters()
    ((3, 2), 3)
    """

    name: ClassVar[str] = "categorical"
    prior_type: ClassVar[type] = DirichletPrior
    n_categories: int | tuple[int, ...] | None = None
    probs: np.ndarray | None = None

    def __post_init__(self):
        n_categories = self.n_categories
        if n_categories is not None:
            n_categories = _counts(n_categories)
            object.__setattr__(self, "n_categories", n_categories)
        if self.probs is None:
            return
        refuse_booleans(self.probs, "Categorical probs")
        probs = np.atleast_2d(np.asarray(self.probs, dtype=float))
        if not ((probs >= 0).all() and np.allclose(probs.sum(axis=1), 1.0, atol=1e-6)):
            raise ValueError(
                "Categorical probs must be non-negative with rows summing to 1; "
                f"got {probs.tolist()}"
            )
        d, width = probs.shape
        if n_categories is None:
            n_categories = (width,) * d
        elif isinstance(n_categories, int):
            n_categories = (n_categories,) * d
        if len(n_categories) != d or max(n_categories) != width:
            raise ValueError(
                f"Categorical probs of shape {probs.shape} need one count per feature ({d}) "
                f"with the largest {width}; got n_categories = {self.n_categories}"
            )
        outside = np.arange(width) >= np.array(n_categories)[:, None]  # (d, C)
        if np.any(probs[outside] != 0):
            raise ValueError(
                "Categorical probs must be 0 at codes at or above their feature's "
                f"n_categories {n_categories}; got {probs.tolist()}"
            )
        object.__setattr__(self, "probs", probs)
        object.__setattr__(self, "n_categories", n_categories)

    @property
    def fitted(self) -> bool:
        return self.probs is not None

    def category_mask(self) -> np.ndarray:
        """The codes each feature takes, bool (d, C): ``c < n_categories[j]``. Needs the
        counts per feature (after :meth:`for_data`, or given ``probs``)."""
        counts = np.asarray(fitted_value(self, "n_categories", self.n_categories))
        if counts.ndim != 1:
            raise ValueError(
                "Categorical.category_mask needs the categories per feature: call for_data(x)"
            )
        return np.arange(counts.max()) < counts[:, None]

    def in_support(self, x: np.ndarray) -> np.ndarray:
        """Rows of integer codes within each feature's range, bool (n,); none where ``x``
        has another number of columns than the family has features."""
        inside = (x >= 0) & (x == np.round(x))
        if self.n_categories is not None:
            counts = np.asarray(self.n_categories)  # () or (d,)
            if counts.ndim == 1 and counts.shape[0] != x.shape[1]:
                return np.zeros(x.shape[0], dtype=bool)
            inside &= x < counts
        return np.all(inside, axis=1)

    def check_support(self, x: np.ndarray) -> None:
        if np.any(x < 0) or np.any(x != np.round(x)):
            words = "Negative values in data: " if np.any(x < 0) else ""  # scikit-learn's
            raise ValueError(
                f"{words}a Categorical component needs integer codes 0, 1, ..., C-1 in every "
                "feature; encode labels first (e.g. sklearn.preprocessing.OrdinalEncoder)"
            )
        if self.n_categories is None:
            return
        if isinstance(self.n_categories, tuple) and len(self.n_categories) != x.shape[1]:
            raise ValueError(
                f"a Categorical of {len(self.n_categories)} features (n_categories = "
                f"{self.n_categories}) got data of {x.shape[1]} columns"
            )
        counts = np.broadcast_to(np.asarray(self.n_categories), x.shape[1:])  # (d,)
        above = np.any(x >= counts, axis=0)  # (d,)
        if above.any():
            j = int(np.argmax(above))
            raise ValueError(
                f"codes in feature {j} must be below its n_categories = {int(counts[j])}; "
                f"got a maximum of {int(x[:, j].max())}"
            )

    def with_categories(self, x: np.ndarray) -> Categorical:
        """This family with ``n_categories`` per feature of ``x`` (n, d): each feature's largest
        code + 1 where it was None, an int repeated for every feature. Codes far beyond the
        rows' count (more than ``SPARSE_CODES`` and twice the rows) are refused: they are
        labels, not codes 0..C-1, and C of them would be parameters (a code of 1e9 asked for
        gigabytes)."""
        if self.probs is not None or isinstance(self.n_categories, tuple):
            return self
        if isinstance(self.n_categories, int):
            return Categorical((self.n_categories,) * x.shape[1])
        largest = x.max(axis=0)  # (d,)
        smallest = x.min(axis=0)  # (d,)
        if np.any(smallest >= 1):
            j = int(np.argmax(smallest >= 1))
            raise ValueError(
                f"Categorical: the codes of feature {j} run from {int(smallest[j])} to "
                f"{int(largest[j])}, with no 0; codes are 0..C-1 for C categories, and "
                "C = largest + 1 would hold a category no row takes (a free parameter of no "
                "data in n_parameters and the BIC). Subtract the smallest code (categories "
                "numbered 1..C, as poLCA numbers them: x - 1), or pass n_categories where "
                "code 0 is a category that no row happens to take"
            )
        n_categories = int(largest.max()) + 1
        if n_categories > max(SPARSE_CODES, 2 * x.shape[0]):
            raise ValueError(
                f"Categorical: the largest code is {n_categories - 1} on {x.shape[0]} rows; "
                "codes must be 0..C-1 for C categories. Recode the labels (e.g. with "
                "pandas.factorize or Series.cat.codes), or pass n_categories"
            )
        return Categorical(tuple(int(c) + 1 for c in largest))

    def for_data(self, x: np.ndarray) -> Categorical:
        """:meth:`with_categories`: the number of categories of each feature of ``x``."""
        return self.with_categories(x)

    def row_moments(self, stats: CategoricalStats, n_features: int) -> tuple:
        """The rows' weight, each column's mean code and centred scatter of the codes, (d,)
        each, from the counts of each code."""
        weight = float(stats.weight)
        counts = np.asarray(stats.counts, dtype=np.float64)  # (d, C)
        codes = np.arange(counts.shape[-1], dtype=np.float64)  # (C,)
        mean = counts @ codes / weight if weight > 0 else np.zeros(counts.shape[0])
        return weight, mean, np.einsum("dc,dc->d", counts, (codes - mean[:, None]) ** 2)

    def _one_hot(self, x: np.ndarray) -> np.ndarray:
        codes = x.astype(np.intp)  # (n, d)
        width = int(np.asarray(fitted_value(self, "n_categories", self.n_categories)).max())
        return codes[:, :, None] == np.arange(width)  # (n, d, C)

    def _mask(self, shape: tuple[int, ...]) -> np.ndarray:
        """:meth:`category_mask` for probabilities or counts of ``shape`` (d, C); all True
        where one count serves every feature."""
        if isinstance(self.n_categories, tuple):
            return self.category_mask()
        return np.ones(shape, dtype=bool)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Log probability of each row of ``x`` (n, d), shape (n,); -inf for codes outside a
        feature's categories or of probability 0."""
        inside = self.in_support(x)
        probs = fitted_value(self, "probs", self.probs)  # (d, C)
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
            probs = stats.counts / stats.counts.sum(axis=1, keepdims=True)
            return Categorical(self.n_categories, probs)
        alpha = np.broadcast_to(np.asarray(prior.concentration, dtype=float), stats.counts.shape)
        # Codes a feature does not take get no pseudo-counts: they keep probability 0.
        mask = self._mask(stats.counts.shape)
        post = np.where(mask, alpha + stats.counts, np.inf)  # inf: no parameter there
        check_mode("concentration", prior.concentration, post, "the component's (weighted) counts")
        numer = np.where(mask, alpha - 1.0 + stats.counts, 0.0)
        return Categorical(self.n_categories, numer / numer.sum(axis=1, keepdims=True))

    def to_vector(self) -> np.ndarray:
        """log ``probs`` raveled, shape (d C,) (SQUAREM's unconstrained parameters: each row
        is read back through a softmax); -inf at codes a feature does not take."""
        with np.errstate(divide="ignore"):
            return np.log(fitted_value(self, "probs", self.probs)).ravel()

    def from_vector(self, vector: np.ndarray) -> Categorical:
        probs = fitted_value(self, "probs", self.probs)
        logits = np.where(self._mask(probs.shape), vector.reshape(probs.shape), -np.inf)
        logits = logits - logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return Categorical(self.n_categories, weights / weights.sum(axis=1, keepdims=True))

    def log_prior(self, prior: DirichletPrior) -> float:
        probs = fitted_value(self, "probs", self.probs)
        # Codes a feature does not take are no parameters: read as probability 1 (log 1 = 0),
        # they add nothing, where their 0 would give (alpha - 1) log 0 = -inf.
        return prior.log_density(np.where(self._mask(probs.shape), probs, 1.0))

    def degenerate(
        self,
        stats: CategoricalStats,
        prior: DirichletPrior | None = None,
        pooled: CategoricalStats | None = None,
    ) -> bool:
        """True if the component holds (almost) no weight; ``pooled`` plays no part (a
        probability mass is at most 1: nothing to collapse)."""
        return bool(stats.weight <= 1e-10)

    def n_parameters(self, n_features: int) -> int:
        r""":math:`\sum_j (C_j - 1)` over the ``n_features`` features."""
        counts = np.asarray(fitted_value(self, "n_categories", self.n_categories))
        return int(np.sum(np.broadcast_to(counts, (n_features,)) - 1))

    def parameter_widths(self) -> dict[str, int]:
        """The features that ``probs`` (d, C), or ``n_categories`` as a tuple, are for."""
        if self.probs is not None:
            return {"probs": self.probs.shape[0]}
        if isinstance(self.n_categories, tuple):
            return {"n_categories": len(self.n_categories)}
        return {}

    def sample(self, n: int, rng: np.random.Generator, n_features: int | None = None):
        probs = fitted_value(self, "probs", self.probs)  # (d, C)
        cumulative = np.cumsum(probs, axis=1)  # (d, C)
        # Code c is drawn where u > cumulative[c - 1] and u <= cumulative[c]. From each row's
        # last code of positive probability on, the bound is infinite: a cumulative sum that
        # rounds below u (0.9999999 < u < 1) never lands on a code of probability 0 beyond it
        # (nor on one a feature does not take).
        last = probs.shape[1] - 1 - np.argmax(probs[:, ::-1] > 0, axis=1)  # (d,)
        cumulative[np.arange(probs.shape[1]) >= last[:, None]] = np.inf
        u = rng.random((n, probs.shape[0], 1))
        return (u > cumulative[None, :, :-1]).sum(axis=2).astype(float)

    def to_dict(self) -> dict:
        probs = None if self.probs is None else self.probs.tolist()
        n_categories: int | list[int] | None = (
            list(self.n_categories) if isinstance(self.n_categories, tuple) else self.n_categories
        )
        return {"family": self.name, "n_categories": n_categories, "probs": probs}

    def asymptotic_covariance(self, scale: np.ndarray | None = None) -> np.ndarray:
        r"""Covariance of the MLE of ``probs`` (raveled, d C entries) from one row, (dC, dC):
        per feature :math:`\operatorname{diag} p - pp^\top`, singular because each row of
        ``probs`` sums to one; divide by N for N rows. Codes a feature does not take have
        probability 0 and variance 0. Divided by ``outer(scale, scale)`` when ``scale`` (dC,)
        is given."""
        probs = np.asarray(self.probs, dtype=float)  # (d, C)
        d, c = probs.shape
        out = np.zeros((d * c, d * c))
        for j, p in enumerate(probs):
            out[j * c : (j + 1) * c, j * c : (j + 1) * c] = np.diag(p) - np.outer(p, p)
        return out if scale is None else out / np.outer(scale, scale)

    def conjugate_update(self, stats: CategoricalStats, hyper: dict) -> dict:
        r"""Posterior Dirichlet hyperparameters ``{"concentration"}`` (..., d, C) from the
        prior's (a float, (C,), or broadcasting to (..., d, C)) and the statistics:
        :math:`\alpha_c + n_{jc}`, and 0 at codes feature j does not take (a Dirichlet draw
        gives those probability 0). Plain values, so that the improper limits
        :class:`DirichletPrior` rejects (concentration 0) are allowed here."""
        concentration = hyper["concentration"] + stats.counts
        return {"concentration": np.where(self._mask(stats.counts.shape[-2:]), concentration, 0.0)}


def refuse_category_columns(X, families, name: str) -> None:
    """A ValueError naming the first pandas ``category`` column of ``X`` (a DataFrame) whose
    categories are not the codes 0, ..., C - 1, where one of ``families`` is
    :class:`Categorical`: the conversion to numbers reads a category column's values (10, 20,
    30), not its codes (0, 1, 2), so that the fit would count categories that no row takes."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not any(isinstance(f, Categorical) for f in families):
        return
    for column, dtype in dtypes.items():
        if getattr(dtype, "name", None) != "category":
            continue
        categories = list(dtype.categories)
        if categories == list(range(len(categories))):
            continue  # values and codes agree
        shown = ", ".join(repr(c) for c in categories[:5]) + (
            ", ..." if len(categories) > 5 else ""
        )
        raise ValueError(
            f"{name}: column {column!r} is a pandas category column of categories [{shown}], "
            "which a Categorical component would read as their values, not as codes "
            f"0..C-1. Pass its codes, X[{column!r}].cat.codes (X[{column!r}].cat.categories names "
            "them; give predict the same codes), or encode it with "
            "sklearn.preprocessing.OrdinalEncoder"
        )


def _counts(value) -> int | tuple[int, ...]:
    """``n_categories`` as an int or a tuple of ints, each at least 1; ValueError otherwise."""
    try:
        values = np.atleast_1d(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        values = np.zeros(0)
    whole = np.isfinite(values) & (values >= 1) & (values == np.round(values))
    if values.ndim != 1 or values.size == 0 or not whole.all():
        raise ValueError(
            f"n_categories must be a whole number at least 1, or one per feature; got {value!r}"
        )
    if np.ndim(value) == 0:
        return int(values[0])
    return tuple(int(v) for v in values)
