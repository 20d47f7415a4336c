r"""Point mass at a fixed value: :math:`p(x) = 1` if every feature equals ``value``, else 0.

No free parameter; its statistics are only the weight. With a count family it gives
zero inflation (``Poisson`` + ``PointMass(0)`` is the zero-inflated Poisson); its density is with
respect to counting measure, so pair it with discrete families.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from emkit.distributions.base import AdditiveStats, refuse_booleans


@dataclass(frozen=True)
class PointMassStats(AdditiveStats):
    """Weight W of the rows the component claims."""

    weight: float


@dataclass(frozen=True, eq=False)
class PointMass:
    """All probability on ``value`` (every feature equal to it).

    Attributes
    ----------
    value : float, the one value every feature takes (0 for the zeros of a zero-inflated
        model).

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import MixtureModel, PointMass, Poisson
    >>> PointMass(0).log_prob(np.array([[0.0], [1.0]]))
    array([  0., -inf])
    >>> rng = np.random.default_rng(0)
    >>> x = np.where(rng.uniform(size=500) < 0.3, 0, rng.poisson(2.5, size=500))[:, None]
    >>> zip_ = MixtureModel([PointMass(0), Poisson()], random_state=0).fit(x)  # ZIP
    >>> zip_.weights_.round(3), zip_.components_[1].rate.round(3)
    (array([0.262, 0.738]), array([2.381]))
    """

    name: ClassVar[str] = "point_mass"
    prior_type: ClassVar[type] = type(None)
    value: float = 0.0

    def __post_init__(self):
        refuse_booleans(self.value, "PointMass value")
        if not np.isfinite(self.value):
            raise ValueError(f"PointMass value must be finite; got {self.value!r}")
        object.__setattr__(self, "value", float(self.value))

    def for_data(self, x: np.ndarray) -> PointMass:
        """This family unchanged: it needs nothing from the data before fitting."""
        return self

    @property
    def fitted(self) -> bool:
        return True

    def in_support(self, x: np.ndarray) -> np.ndarray:
        """Rows equal to ``value`` in every feature, bool (n,)."""
        return np.all(x == self.value, axis=1)

    def check_support(self, x: np.ndarray) -> None:
        """Any finite data: a row that is not ``value`` has probability 0 here, and a mixture
        refuses only the rows no component holds. With no row equal to ``value`` the
        component is empty: its weight is fitted at the boundary 0, and the mixture warns
        (a DegenerateFitWarning)."""

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """0 where a row equals ``value`` in every feature, -inf elsewhere; shape (n,)."""
        return np.where(self.in_support(x), 0.0, -np.inf)

    def row_moments(self, stats: PointMassStats, n_features: int) -> tuple:
        """The rows' weight; every column of them is ``value`` (scatter 0)."""
        return float(stats.weight), np.full(n_features, self.value), np.zeros(n_features)

    def suff_stats(self, x: np.ndarray, w: np.ndarray) -> PointMassStats:
        return PointMassStats(float(w.sum()))

    def from_stats(self, stats: PointMassStats, prior: None = None) -> PointMass:
        return self

    def log_prior(self, prior: None) -> float:
        return 0.0

    def degenerate(
        self, stats: PointMassStats, prior: None = None, pooled: PointMassStats | None = None
    ) -> bool:
        """Never: with no parameter there is nothing to collapse (weight 0 is a valid fit)."""
        return False

    def n_parameters(self, n_features: int) -> int:
        return 0

    def parameter_widths(self) -> dict[str, int]:
        """None: ``value`` is every feature's, whatever the width."""
        return {}

    def to_vector(self) -> np.ndarray:
        """No free parameter: an empty vector (SQUAREM)."""
        return np.zeros(0)

    def from_vector(self, vector: np.ndarray) -> PointMass:
        return self

    def sample(self, n: int, rng: np.random.Generator, n_features: int | None = None):
        return np.full((n, n_features or 1), self.value)

    def to_dict(self) -> dict:
        return {"family": self.name, "value": self.value}
