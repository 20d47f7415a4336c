"""A row of weight 0 counts for nothing, even where its log density is -inf.

A row given weight 0 (``sample_weight``) may still have no finite log density under the
current parameters (a count that a rate of 0 cannot give): its responsibilities are then 0/0
and its term in the weighted log-likelihood is 0 times -inf, NaN. Every weighted sum over rows
(the passes, the E-step, the ranking of starts, the weighted score) sets those rows to 0 with
these two functions, on NumPy arrays or on the arrays of another backend (torch).
"""

from __future__ import annotations

from typing import Any

from emkit.backend.namespace import namespace_of


def idle_rows(w: Any, values: Any) -> Any:
    """Mask (n,) of the rows of weight ``w`` (n,) 0 whose ``values`` (n,) are not finite, in
    the namespace of ``values``."""
    return (w == 0) & ~namespace_of(values).isfinite(values)


def without_idle(values: Any, w: Any) -> Any:
    """``values`` (n,) with 0 at the :func:`idle_rows` (a new array): ``w @ without_idle(values,
    w)`` is finite wherever every row of positive weight has a finite value."""
    xp = namespace_of(values)
    return xp.where(idle_rows(w, values), xp.zeros_like(values), values)
