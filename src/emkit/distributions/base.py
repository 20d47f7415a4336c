"""What the single-component families share: statistics that add field by field, and
per-feature parameter arrays."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np


class AdditiveStats:
    """Base of a frozen dataclass of statistics that merge by adding every field.

    Fit for a weight and weighted sums; not for centred moments, which merge with a correction
    (see :class:`~emkit.distributions.normal.NormalStats`).
    """

    def __add__(self, other: Any) -> Any:
        names = [f.name for f in fields(self)]  # type: ignore[arg-type]
        return type(self)(*(getattr(self, n) + getattr(other, n) for n in names))


@dataclass(frozen=True)
class WeightedSums(AdditiveStats):
    """Weight W (float) and weighted sums of x, shape (d,)."""

    weight: float
    sum_x: np.ndarray


class IndependentFeatures:
    """Base of a family whose parameters ``params`` are each an array of shape (d,), or None.

    Gives the conversion to float arrays, ``fitted``, ``n_parameters`` and ``to_dict``.
    """

    name: ClassVar[str]
    params: ClassVar[tuple[str, ...]]

    def __post_init__(self) -> None:
        for attr in self.params:
            value = getattr(self, attr)
            if value is not None:
                object.__setattr__(self, attr, np.atleast_1d(np.asarray(value, dtype=float)))

    @property
    def fitted(self) -> bool:
        return all(getattr(self, attr) is not None for attr in self.params)

    def n_parameters(self, n_features: int) -> int:
        return len(self.params) * n_features

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"family": self.name}
        for attr in self.params:
            value = getattr(self, attr)
            out[attr] = None if value is None else value.tolist()
        return out
