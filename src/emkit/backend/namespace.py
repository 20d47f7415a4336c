r"""The array operations emkit's numerics call, one module per array backend.

Models and families write their E-steps, statistics and M-steps against these few operations
rather than against ``numpy.linalg`` or ``scipy.special`` directly, so that the same code runs
on another array library once that library has a module implementing :class:`ArrayNamespace`
(and one line in :data:`BACKENDS`). Elementwise maths, reductions and ``@`` are the arrays' own
and need no entry here.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Protocol

from emkit.backend import numpy_backend


class ArrayNamespace(Protocol):
    r"""What a backend module provides (NumPy + SciPy: :mod:`emkit.backend.numpy_backend`).

    Members
    -------
    name : str, the key of the backend in :data:`BACKENDS`.
    owns(x) -> bool
        Whether ``x`` is an array of this backend.
    asarray(x, dtype=None) -> array
        ``x`` as an array of this backend (no copy where it already is one).
    to_numpy(x) -> numpy.ndarray
        ``x`` as a NumPy array, for fitted attributes and files.
    logsumexp(a, axis) -> array
        :math:`\log\sum\exp` of ``a`` along ``axis``, stable for ``-inf`` entries.
    cholesky(a) -> (array, bool)
        Lower Cholesky factors of the symmetric matrices ``a`` of shape (..., d, d), and whether
        every factorisation succeeded with finite entries (no exception on failure).
    solve_triangular(factor, b, lower) -> array
        :math:`L^{-1} B` for triangular ``factor`` of shape (..., d, d), ``b`` (..., d, m).
    eigvalsh(a) -> array
        Ascending eigenvalues of the symmetric matrices ``a`` of shape (..., d, d), (..., d).
    """

    name: str

    def owns(self, x: Any) -> bool: ...

    def asarray(self, x: Any, dtype: Any = None) -> Any: ...

    def to_numpy(self, x: Any) -> Any: ...

    def logsumexp(self, a: Any, axis: int) -> Any: ...

    def cholesky(self, a: Any) -> tuple[Any, bool]: ...

    def solve_triangular(self, factor: Any, b: Any, lower: bool) -> Any: ...

    def eigvalsh(self, a: Any) -> Any: ...


BACKENDS: dict[str, ModuleType] = {numpy_backend.name: numpy_backend}


def namespace_of(x: Any) -> ArrayNamespace:
    """The backend whose arrays ``x`` is (NumPy for anything no other backend owns)."""
    for module in BACKENDS.values():
        if module is not numpy_backend and module.owns(x):
            return module  # type: ignore[return-value]
    return numpy_backend  # type: ignore[return-value]
