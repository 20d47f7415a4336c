r"""K components of one family kind at once: the kernels a mixture's E-step runs on row blocks.

Most families are exponential families whose log density is linear in a few statistics of each
row,

.. math:: \log p_k(x) = T(x)^\top \eta_k + c_k + h(x) \quad\text{on the support},

so for a block of rows the log densities of all K components are one matrix product of the
rows' statistics :math:`T` (shape (p, m), computed once per block and shared by every mixture
evaluated on it) with a (p, k) coefficient matrix, and the M-step's statistics are the product
of the responsibilities (k, m) with the same :math:`T`: :class:`LinearKernel`. A family
without such a form is evaluated member by member (:class:`EachKernel`), still vectorised over
the rows.

Arrays here are component-major: log densities and responsibilities have shape (k, m), so that
the reductions over components in the E-step are elementwise operations on contiguous rows.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from emkit.backend.family_pass import RowFeatures


def support_only(x: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``x`` with the rows outside ``inside`` (bool (m,)) set to 0, and ``inside``, or ``x``
    itself and None where every row is inside (no copy)."""
    if inside.all():
        return x, None
    return np.where(inside[:, None], x, 0.0), inside


@dataclass(frozen=True, eq=False)
class LinearKernel:
    r"""K components whose log densities are :math:`\eta_k^\top T(x) + c_k + h(x)`.

    Attributes
    ----------
    key : hashable, names ``features`` in a block's cache (the same key, the same features).
    features : callable ``x (m, d) -> RowFeatures``.
    coef : array of shape (k, p), the :math:`\eta_k`.
    const : array of shape (k,), the :math:`c_k`.
    to_stats : callable ``(weight (k,), sums (k, p)) -> tuple of K statistics``.
    rows_only : True where ``features`` depend on the rows alone (not on the parameters), so
        that a fit may compute them once for all its passes
        (:func:`emkit.backend.family_pass.rows_kept`).
    write_features : None, or a callable ``(x (m, d), out (p, m)) -> bool`` that writes the
        statistics of rows ``x`` into ``out`` and returns True where every row lies in the
        support (no base measure), else returns False and leaves ``out`` as it was: the kept
        statistics are then computed with no copy.
    """

    key: Hashable
    features: Callable[[np.ndarray], RowFeatures]
    coef: np.ndarray
    const: np.ndarray
    to_stats: Callable[[np.ndarray, np.ndarray], tuple]
    rows_only: bool = True
    write_features: Callable[[np.ndarray, np.ndarray], bool] | None = None

    def _features(self, x: np.ndarray, cache: dict) -> RowFeatures:
        found = cache.get(self.key)
        if found is None:
            found = cache[self.key] = self.features(x)
        return found

    def log_density(self, x: np.ndarray, cache: dict) -> np.ndarray:
        """Log density of each row of ``x`` (m, d) under each component, shape (k, m)."""
        f = self._features(x, cache)
        if f.values.shape[0] == 1:  # an outer product: BLAS is slow with an inner size of 1
            out = self.coef * f.values  # (k, m)
        else:
            out = self.coef @ f.values  # (k, m)
        out += self.const[:, None]
        if f.base is not None:
            out += f.base
        if f.inside is not None:
            out[:, ~f.inside] = -np.inf
        return out

    def sums(self, x: np.ndarray, resp: np.ndarray, cache: dict) -> np.ndarray:
        """Weighted sums of the row statistics, shape (k, p), for ``resp`` of shape (k, m)."""
        return resp @ self._features(x, cache).values.T

    def stats(self, weight: np.ndarray, sums: np.ndarray) -> tuple:
        """The K components' statistics from their weights (k,) and ``sums`` (k, p)."""
        return self.to_stats(weight, sums)


@dataclass(frozen=True)
class StatsTuple:
    """One statistics value per component; adds component by component."""

    parts: tuple

    def __add__(self, other: StatsTuple) -> StatsTuple:
        return StatsTuple(tuple(a + b for a, b in zip(self.parts, other.parts, strict=True)))


@dataclass(frozen=True, eq=False)
class EachKernel:
    """Components evaluated one by one with their own ``log_prob`` and ``suff_stats`` (families
    without a linear form, or parameters where it would be inexact)."""

    members: tuple

    def log_density(self, x: np.ndarray, cache: dict) -> np.ndarray:
        """Log density of each row of ``x`` (m, d) under each member, shape (k, m)."""
        return np.stack([f.log_prob(x) for f in self.members])

    def sums(self, x: np.ndarray, resp: np.ndarray, cache: dict) -> StatsTuple:
        """Each member's statistics under its row of ``resp`` (k, m)."""
        return StatsTuple(
            tuple(f.suff_stats(x, r) for f, r in zip(self.members, resp, strict=True))
        )

    def stats(self, weight: np.ndarray, sums: StatsTuple) -> tuple:
        return sums.parts


def stacked(members: Sequence[Any], attr: str) -> np.ndarray:
    """Parameter ``attr`` of every member stacked, shape (k, d); the members must be fitted."""
    return np.stack([np.asarray(getattr(f, attr), dtype=float) for f in members])


def as_float64(x: np.ndarray) -> np.ndarray:
    """``x`` in float64 (statistics accumulate in float64 whatever the rows' dtype)."""
    return np.asarray(x, dtype=np.float64)
