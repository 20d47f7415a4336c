"""How many components a table can identify: ``emkit fit``'s ``-k`` list capped to them.

A mixture can be identified only with fewer free parameters than observed numbers, and with
no more components than distinct rows. The same rule serves rows in memory
(:func:`identifiable`) and a Dask DataFrame (:func:`capped`, from counts taken on the workers).

Only the standard library is imported at module level: ``emkit --help`` must not wait.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def identifiable(ks: list[int], types: list[str], x: np.ndarray) -> tuple[list[int], str | None]:
    """The numbers of components worth fitting to ``x`` (n, d; NaN where missing), and a note
    when some were dropped (see :func:`capped`)."""
    import numpy as np

    def distinct(prefix: int | None) -> int:
        return distinct_rows(x if prefix is None else x[:prefix])

    return capped(ks, types, x.shape, int(np.isfinite(x).sum()), distinct)


def capped(
    ks: list[int],
    types: list[str],
    shape: tuple[int, int],
    observed: int,
    distinct: Callable[[int | None], int],
) -> tuple[list[int], str | None]:
    """The numbers of components of ``ks`` worth fitting to a table of ``shape`` (n, d) with
    ``observed`` numbers (values not missing), and a note when some were dropped.

    K above the cap of the covariance type with the most parameters asked for is replaced by
    that cap, so that every fit is identifiable. ``distinct(m)`` counts the distinct complete
    rows among the first ``m`` rows (all rows for None).
    """
    from emkit.distributions.gaussian import mclust_alias

    n, d = shape
    # Distinct rows matter only up to max(ks) + 1: counted in a prefix where that settles it.
    found = distinct(64 * (max(ks) + 1))
    if found <= max(ks):
        found = distinct(None)
    caps = {t: cap(t, d, observed, found) for t in types}
    smallest = min(caps.values())
    kept = sorted({min(k, smallest) for k in ks})
    if kept == ks:
        return ks, None
    found = distinct(None)  # exact, for the message
    caps = {t: cap(t, d, observed, found) for t in types}
    if len(set(caps.values())) == 1:
        limits = f"{smallest} component{'s' if smallest > 1 else ''} in every model"
    else:
        limits = ", ".join(f"{c} ({mclust_alias(t, d)})" for t, c in caps.items())
        limits = f"K = {limits} components"
    message = (
        f"-k capped: {n} rows x {d} column{'s' if d > 1 else ''} ({observed} numbers, {found} "
        f"distinct rows) identify at most {limits} (a mixture needs fewer parameters than "
        "numbers); fitting K = " + _spec(kept)
    )
    return kept, message


def distinct_rows(x: np.ndarray) -> int:
    """Distinct complete rows of ``x`` (n, d); n when no row is complete."""
    import numpy as np

    complete = x[np.isfinite(x).all(axis=1)]
    return len(np.unique(complete, axis=0)) if len(complete) else x.shape[0]


def cap(covariance: str, d: int, observed: int, distinct: int) -> int:
    """The largest K with fewer parameters than ``observed`` numbers and K <= ``distinct``."""
    from emkit.distributions.gaussian import covariance_structure

    structure = covariance_structure(covariance)

    def n_parameters(k: int) -> int:
        return k - 1 + k * d + structure.n_covariance_parameters(k, d)

    k = 1
    while k < distinct and n_parameters(k + 1) < observed:
        k += 1
    return k


def _spec(ks: list[int]) -> str:
    if len(ks) > 2 and ks == list(range(ks[0], ks[-1] + 1)):
        return f"{ks[0]}-{ks[-1]}"
    return ",".join(map(str, ks))
