r"""The array operations emkit's numerics call, one module per array backend.

Models and families write the parts of their E-steps that touch data rows against these few
operations rather than against NumPy directly, so that the same code runs on another array
library once that library has a module implementing :class:`ArrayNamespace` (and one line in
:data:`LAZY_BACKENDS`). Parameters and statistics are small (K x D x D) and stay NumPy float64
on the host; the M-step and its linear algebra are written once, in NumPy. What touches rows
(log densities, responsibilities, the statistics' sums) runs in the namespace of the rows and
comes back to the host as statistics. Elementwise arithmetic, indexing, ``.sum(axis=)``,
``.T`` and ``@`` are the arrays' own and need no entry here.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from emkit.backend import numpy_backend


class ArrayNamespace(Protocol):
    r"""What a backend module provides (NumPy + SciPy: :mod:`emkit.backend.numpy_backend`).

    Members
    -------
    name : str, the key of the backend in :data:`BACKENDS`.
    float64 : the backend's float64 dtype (for ``.sum(axis=, dtype=)``).
    owns(x) -> bool
        Whether ``x`` is an array of this backend.
    asarray(x, dtype=None, like=None) -> array
        ``x`` as a C-contiguous (row-major) array of this backend (no copy where it already
        is one; a fit's sums must not depend on how its rows are laid out). With ``like``
        (an array of this backend) a floating ``x`` takes ``like``'s float dtype and device;
        integer and bool arrays keep their dtype (index arrays).
    to_numpy(x) -> numpy.ndarray
        ``x`` as a NumPy array on the host, for statistics, fitted attributes and files.
    logsumexp(a, axis) -> array
        :math:`\log\sum\exp` of ``a`` along ``axis``, stable for ``-inf`` entries.
    cholesky(a) -> (array, bool)
        Lower Cholesky factors of the symmetric matrices ``a`` of shape (..., d, d), and whether
        every factorisation succeeded with finite entries (no exception on failure).
    solve_triangular(factor, b, lower) -> array
        :math:`L^{-1} B` for triangular ``factor`` of shape (..., d, d), ``b`` (..., d, m).
    eigvalsh(a) -> array
        Ascending eigenvalues of the symmetric matrices ``a`` of shape (..., d, d), (..., d).
    exp, log, sqrt, isnan, isfinite : elementwise, as NumPy's.
    exp_normal(a) -> array
        :math:`e^a` in place of ``a``, with 0 where it would be subnormal (below the dtype's
        smallest normal number): responsibilities that enter products, which subnormal
        operands slow 30x on Intel CPUs.
    is_floating(x) -> bool
        Whether ``x`` holds floating-point numbers.
    where(condition, a, b) -> array
        ``a`` where ``condition`` else ``b`` (either may be a Python scalar).
    einsum(subscripts, *operands) -> array
    argmax(a, axis) -> int array
    stack(arrays) -> array, along a new first axis.
    zeros_like(a) -> array
    empty(shape, like) -> array
        Uninitialised, in ``like``'s namespace (NumPy: float64; else ``like``'s dtype and
        device).
    flatnonzero(mask) -> int array of the indices where the 1-D ``mask`` is True.
    arange(n, like) -> int array 0..n-1 on ``like``'s device.
    stable_argsort_descending(a) -> int array
        Indices sorting the 1-D ``a`` from largest to smallest, ties in index order.
    quadratic_sums(x, weights, forms) -> (list of arrays (k, w), list of float, list of float)
        The fused Gaussian E-step's pass over rows ``x`` (n, d) for several
        :class:`~emkit.backend.kernels.QuadraticForm`: for each form the sums
        :math:`\sum_n w_n r_{nk} [\phi(x_n), 1]` as a NumPy float64 array of shape
        (k, q + d + 1), :math:`\sum_n w_n \log p(x_n)` and
        :math:`\sum_n w_n \log \max_k r_{nk}` (hard ICL's term; see
        :mod:`emkit.backend.kernels`).
    nearest_sums(x, weights, forms) -> list of tuples
        k-means' pass over rows ``x`` (n, d) for several
        :class:`~emkit.backend.nearest.NearestForm` sharing one shift: for each form the fields
        of :class:`~emkit.backend.nearest.NearestSums` (NumPy float64 on the host): weight (k,)
        and shifted sums (k, d) of the rows nearest each centre, the inertia, and the k rows
        farthest from their nearest centre with those distances and their weights (a backend
        may leave them out, distances -1, for rows that are all of a fit's and a form that
        leaves no cluster empty).
    nearest_labels(x, form, distances=True) -> (int array (n,), float64 array (n,) or None)
        Index of each row's nearest centre (the first on a tie) and the squared distance to it
        to rounding (by differences where the pass's expansion could lose digits), in ``x``'s
        namespace; no distances (None) where ``distances`` is False.
    """

    name: str
    float64: Any

    def owns(self, x: Any) -> bool: ...

    def asarray(self, x: Any, dtype: Any = None, like: Any = None) -> Any: ...

    def to_numpy(self, x: Any) -> Any: ...

    def logsumexp(self, a: Any, axis: int) -> Any: ...

    def cholesky(self, a: Any) -> tuple[Any, bool]: ...

    def solve_triangular(self, factor: Any, b: Any, lower: bool) -> Any: ...

    def eigvalsh(self, a: Any) -> Any: ...

    def is_floating(self, x: Any) -> bool: ...

    def exp(self, a: Any) -> Any: ...

    def exp_normal(self, a: Any) -> Any: ...

    def log(self, a: Any) -> Any: ...

    def sqrt(self, a: Any) -> Any: ...

    def isnan(self, a: Any) -> Any: ...

    def isfinite(self, a: Any) -> Any: ...

    def where(self, condition: Any, a: Any, b: Any) -> Any: ...

    def einsum(self, subscripts: str, *operands: Any) -> Any: ...

    def argmax(self, a: Any, axis: int) -> Any: ...

    def stack(self, arrays: Any) -> Any: ...

    def zeros_like(self, a: Any) -> Any: ...

    def empty(self, shape: tuple[int, ...], like: Any) -> Any: ...

    def flatnonzero(self, mask: Any) -> Any: ...

    def arange(self, n: int, like: Any) -> Any: ...

    def stable_argsort_descending(self, a: Any) -> Any: ...

    def quadratic_sums(
        self, x: Any, weights: Any, forms: list[Any]
    ) -> tuple[list[np.ndarray], list[float], list[float]]: ...

    def nearest_sums(self, x: Any, weights: Any, forms: list[Any]) -> list[tuple]: ...

    def nearest_labels(self, x: Any, form: Any, distances: bool = True) -> tuple[Any, Any]: ...


class DeviceBackend(ArrayNamespace, Protocol):
    r"""A backend that ``device=`` selects (PyTorch: :mod:`emkit.backend.torch_backend`): an
    :class:`ArrayNamespace` whose arrays live on a device, plus what puts rows there.

    Members
    -------
    resolve(device, dtype) -> (device, dtype)
        The backend's device for the user's ``device`` ("cpu", "cuda", "cuda:1", a device
        object) and the dtype to compute in (``dtype`` float32 or float64, or the device's
        default when None); ValueError for an unknown or unavailable device.
    rows_on_device(x, device, dtype) -> array
        ``x`` (a host array, or an array of this backend anywhere) on ``device`` in ``dtype``.
    resident_source : class, a :class:`~emkit.backend.sources.DataSource` of rows held on the
        device, built as ``resident_source(x, sample_weight, labels)``, with attributes ``x``
        and ``sample_weight``.
    streamed_source : class, ``streamed_source(host_source, device, dtype)``: the chunks of a
        host source, each copied to the device as it is read.
    is_out_of_memory(exc) -> bool
        Whether ``exc`` is the device's out-of-memory error.
    memory_message(rows, columns, dtype) -> context manager
        Turns the device's out-of-memory error inside it into a MemoryError naming a size
        that fits.
    """

    resident_source: Any
    streamed_source: Any

    def resolve(self, device: Any, dtype: Any) -> tuple[Any, Any]: ...

    def rows_on_device(self, x: Any, device: Any, dtype: Any) -> Any: ...

    def is_out_of_memory(self, exc: BaseException) -> bool: ...

    def memory_message(self, rows: int, columns: int, dtype: Any) -> Any: ...


BACKENDS: dict[str, ModuleType] = {numpy_backend.name: numpy_backend}

# Backends imported on first use: the top-level package of their array type -> the module.
# PyTorch is an optional extra; ``import emkit`` never imports it.
LAZY_BACKENDS: dict[str, str] = {"torch": "emkit.backend.torch_backend"}


def backend(name: str) -> ArrayNamespace:
    """The backend module called ``name`` ("numpy", "torch"), imported on first use."""
    if name not in BACKENDS:
        if name not in LAZY_BACKENDS:
            raise ValueError(f"no array backend {name!r}; known: numpy, {', '.join(LAZY_BACKENDS)}")
        BACKENDS[name] = importlib.import_module(LAZY_BACKENDS[name])
    return BACKENDS[name]  # type: ignore[return-value]


# The backend ``device=`` selects on the estimators.
DEVICE_BACKEND = "torch"


def device_backend() -> DeviceBackend:
    """The backend ``device=`` runs (imported on first use; ImportError naming the extra to
    install where its library is missing)."""
    return backend(DEVICE_BACKEND)  # type: ignore[return-value]


def namespace_of(x: Any) -> ArrayNamespace:
    """The backend whose arrays ``x`` is (NumPy for anything no other backend owns)."""
    if type(x) is np.ndarray:
        return numpy_backend  # type: ignore[return-value]
    root = type(x).__module__.partition(".")[0]
    if root in LAZY_BACKENDS:
        return backend(root)
    return numpy_backend  # type: ignore[return-value]


def centred(x: Any, centre: Any) -> Any:
    """Rows ``x`` (n, d) minus ``centre`` (d,) (NumPy float64, or float64 in ``x``'s
    namespace), in ``x``'s namespace and the dtype it computes ``x`` in.

    Float64 rows, and NumPy's float32 rows (which NumPy subtracts from a float64 centre in
    float64), give ``x - centre`` as ever. Rows of float32 on a device get the float64
    difference to float32's resolution of itself, as the float32 passes do
    (:func:`emkit.backend.gaussian_pass._write_features`, the torch backend's ``_centred``):
    ``x - float32(centre)`` alone would keep the centre's rounding, up to 2^-25 of its size
    per column (3e-3 at 1e5), in every distance taken from it, where the difference itself is
    of the rows' spread. The rounding ``centre - float32(centre)`` (exact in float64) comes
    off in a second float32 subtraction: where the rows are within a factor of 2 of the
    centre, the case where its rounding matters, the first is exact (Sterbenz) and the result
    is the difference rounded once (but for 2^-49 of the centre); elsewhere the difference is
    at least half the centre's size, and two roundings leave it within an ulp of itself. No
    float64 copy of the rows: the float64 difference and its rounding took 3.5 times the
    float32 subtraction on CPU (1e6 x 10 rows, one thread), and twice its memory.
    """
    xp = namespace_of(x)
    near = xp.asarray(centre, like=x)  # (d,), in x's dtype (NumPy: float64)
    out = x - near
    if out.dtype != xp.float64:
        rest = xp.asarray(centre, dtype=xp.float64, like=x) - near  # exact, (d,)
        out -= xp.asarray(rest, like=x)
    return out


def is_device_array(x: Any) -> bool:
    """Whether ``x`` is an array of a backend other than NumPy (a torch tensor)."""
    return namespace_of(x) is not numpy_backend
