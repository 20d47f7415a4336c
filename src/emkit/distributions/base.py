"""What the families share: the constant of Gaussian densities, Chan's merge of centred
moments, statistics that add field by field, and per-feature parameter arrays."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

import numpy as np

LOG_2PI = float(np.log(2.0 * np.pi))

T = TypeVar("T")


def fitted_value(family: object, attr: str, value: T | None) -> T:
    """``value``, the parameter ``attr`` of ``family``; ``ValueError`` where it is None.

    A family's parameters are None before fitting; a method that needs one asks for it here.
    """
    if value is None:
        raise ValueError(
            f"{type(family).__name__} has no fitted {attr}: fit it or give the parameter"
        )
    return value


def merge_centred(
    a: tuple[Any, np.ndarray, np.ndarray], b: tuple[Any, np.ndarray, np.ndarray]
) -> tuple[Any, np.ndarray, np.ndarray]:
    r"""Merge two (weight, mean, centred scatter) triples without cancellation.

    Chan, Golub and LeVeque (1979): :math:`W = W_a + W_b`,
    :math:`\bar x = \bar x_a + (W_b / W)\delta` and
    :math:`S = S_a + S_b + (W_a W_b / W)\delta\delta^\top` with :math:`\delta = \bar x_b -
    \bar x_a`. Where the merged weight is 0 the mean stays :math:`\bar x_a`.

    Parameters
    ----------
    a, b : weight of shape (...), mean of shape (..., d) and scatter of shape (..., d)
        (per-feature spreads) or (..., d, d) (scatter matrices); ``...`` is () for one
        component or (k,) for K.

    Returns
    -------
    The merged (weight, mean, scatter), shaped as the inputs.
    """
    (weight_a, mean_a, scatter_a), (weight_b, mean_b, scatter_b) = a, b
    weight = weight_a + weight_b
    total = np.asarray(weight, dtype=float)
    frac = np.divide(weight_b, total, out=np.zeros_like(total), where=total > 0)
    delta = mean_b - mean_a  # (..., d)
    mean = mean_a + frac[..., None] * delta
    coef = weight_a * frac  # W_a W_b / W
    if scatter_a.ndim == delta.ndim:
        correction = coef[..., None] * delta**2
    else:
        correction = coef[..., None, None] * delta[..., :, None] * delta[..., None, :]
    return weight, mean, scatter_a + scatter_b + correction


# An M-step may reach a domain's edge (a variance of 0, a rate of inf where a component
# collapsed); that is a degenerate fit, flagged as such, not an invalid parameter. NaN and the
# wrong sign are.
DOMAINS = {
    "real": (lambda v: np.isfinite(v), "finite"),
    "positive": (lambda v: v > 0, "positive"),
    "nonnegative": (lambda v: v >= 0, "non-negative"),
    "unit": (lambda v: (v >= 0) & (v <= 1), "in [0, 1]"),
}


def holds_booleans(value: Any) -> bool:
    """Whether ``value`` (a number, a nested list or tuple, an array or a pandas object) holds
    a boolean: ``True``, ``np.True_``, or a boolean or object array holding one."""
    if isinstance(value, (bool, np.bool_)):
        return True
    if isinstance(value, (list, tuple)):
        return any(holds_booleans(v) for v in value)
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    if kind == "O":
        return any(isinstance(v, (bool, np.bool_)) for v in np.asarray(value).ravel())
    return kind == "b"


def refuse_booleans(value: Any, name: str) -> None:
    """``ValueError`` where the parameter or starting value ``value`` holds booleans, which
    NumPy's conversion to float reads as 1 and 0 without a word; ``name`` names it."""
    if holds_booleans(value):
        raise ValueError(
            f"{name} holds booleans (True/False), which would be read as 1 and 0 without a "
            "word: give it as numbers (1.0 and 0.0 where those are meant)"
        )


def check_domain(family: str, attr: str, value: np.ndarray, domain: str) -> None:
    """``ValueError`` where a parameter ``value`` of ``family`` leaves its ``domain``
    (a key of ``DOMAINS``)."""
    inside, words = DOMAINS[domain]
    if not np.all(inside(value)):
        raise ValueError(f"{family} {attr} must be {words}; got {value.tolist()}")


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
    # Where each parameter lives: "real", "positive" (> 0), "nonnegative" or "unit" ([0, 1]).
    domains: ClassVar[dict[str, str]] = {}
    # Narrower domains a fitted model's parameters keep, where an M-step may reach an edge
    # that no model is fit for (a Normal's variance of 0: every density 0 or infinite); a
    # model file is refused outside them.
    model_domains: ClassVar[dict[str, str]] = {}

    def __post_init__(self) -> None:
        for attr in self.params:
            value = getattr(self, attr)
            if value is not None:
                refuse_booleans(value, f"{type(self).__name__} {attr}")
                value = np.atleast_1d(np.asarray(value, dtype=float))
                check_domain(type(self).__name__, attr, value, self.domains.get(attr, "real"))
                object.__setattr__(self, attr, value)

    def _fitted(self, attr: str) -> np.ndarray:
        """Parameter ``attr``, shape (d,); ``ValueError`` where it is None (not fitted)."""
        return fitted_value(self, attr, getattr(self, attr))

    def for_data(self, x: np.ndarray) -> Any:
        """This family unchanged: it needs nothing from the data before fitting."""
        return self

    @property
    def fitted(self) -> bool:
        return all(getattr(self, attr) is not None for attr in self.params)

    def n_parameters(self, n_features: int) -> int:
        return len(self.params) * n_features

    def parameter_widths(self) -> dict[str, int]:
        """The length d of each parameter that is set (one value per column)."""
        return {a: getattr(self, a).shape[0] for a in self.params if getattr(self, a) is not None}

    def row_moments(self, stats: Any, n_features: int) -> tuple[float, np.ndarray, Any]:
        """The weight and each column's mean (d,) of the rows behind ``stats`` (a weight and
        ``sum_x``); their scatter is not in the statistics (None)."""
        weight = float(stats.weight)
        sum_x = np.asarray(stats.sum_x, dtype=np.float64)
        return weight, sum_x / weight if weight > 0 else np.zeros_like(sum_x), None

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"family": self.name}
        for attr in self.params:
            value = getattr(self, attr)
            out[attr] = None if value is None else value.tolist()
        return out


def feature_pairs(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The (2d, 2d) matrix of d independent features with two coordinates each, laid out as
    (first coordinates, second coordinates): [[diag(a), diag(b)], [diag(b), diag(c)]] for
    a, b, c of shape (d,)."""
    d = a.shape[0]
    out = np.zeros((2 * d, 2 * d))
    i = np.arange(d)
    out[i, i], out[i, i + d], out[i + d, i], out[i + d, i + d] = a, b, b, c
    return out
