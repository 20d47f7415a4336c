"""The one list of component families: adding a family is one file plus one line here."""

from __future__ import annotations

from typing import Any, cast

from emkit.distributions.bernoulli import Bernoulli
from emkit.distributions.categorical import Categorical
from emkit.distributions.exponential import Exponential
from emkit.distributions.family import Family
from emkit.distributions.gamma import Gamma
from emkit.distributions.linear_gaussian import LinearGaussian
from emkit.distributions.normal import Normal
from emkit.distributions.point_mass import PointMass
from emkit.distributions.poisson import Poisson

FAMILIES: dict[str, type[Family]] = {
    cls.name: cls
    for cls in (
        Normal,
        Poisson,
        Bernoulli,
        Categorical,
        Exponential,
        Gamma,
        PointMass,
        LinearGaussian,
    )
}


def family_from_dict(spec: Any) -> Family:
    """A family from its ``to_dict`` form (or the family itself)."""
    if isinstance(spec, tuple(FAMILIES.values())):
        return cast(Family, spec)
    if not isinstance(spec, dict) or spec.get("family") not in FAMILIES:
        raise ValueError(
            f"each component must be a family ({', '.join(c.__name__ for c in FAMILIES.values())})"
            f" or its dict form; got {spec!r}"
        )
    values = {key: value for key, value in spec.items() if key != "family"}
    return FAMILIES[spec["family"]](**values)


__all__ = [
    "FAMILIES",
    "Bernoulli",
    "Categorical",
    "Exponential",
    "Gamma",
    "LinearGaussian",
    "Normal",
    "PointMass",
    "Poisson",
    "family_from_dict",
]
