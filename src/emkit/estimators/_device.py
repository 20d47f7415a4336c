"""``device=`` on the estimators: where the E-step runs, and rows put there once.

``device=None`` is NumPy on the host. Any other value ("cpu", "cuda", "cuda:1", a
``torch.device``), or rows given as a torch tensor, runs the PyTorch backend
(:mod:`emkit.backend.torch_backend`) there: the data source yields tensors on the device, the
E-step runs in their namespace, and parameters, statistics and fitted attributes stay NumPy
float64 on the host. PyTorch is imported only here, on first use.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Options

from emkit.backend.dask_source import is_dask_collection
from emkit.backend.integers import EXACT_INTEGERS, EXACT_SINGLE, refuse_inexact_integers
from emkit.backend.namespace import (
    DeviceBackend,
    device_backend,
    is_device_array,
    namespace_of,
)
from emkit.backend.sampling import sample_indices
from emkit.backend.validation import inf_refusal, nan_report
from emkit.em import ROUNDING
from emkit.estimators._validation import NAN_HINT, check_feature_names

# Relative rounding of a log-likelihood summed from float32 rows: each row's log density is
# off by about eps32 times the Mahalanobis terms it subtracts (observed: a few 1e-7).
FLOAT32_RESOLUTION = 1e-6


@dataclass(frozen=True)
class Placement:
    """Where a fit computes: the backend module, the torch device and the dtype."""

    xp: DeviceBackend
    device: Any
    dtype: Any

    @property
    def resolution(self) -> float:
        """Relative rounding of the objective computed in ``dtype`` (see emkit.em.EMMap)."""
        return FLOAT32_RESOLUTION if self.dtype.itemsize == 4 else ROUNDING

    def rows(self, x: Any) -> Any:
        """``x`` (host array or tensor) on the device in the dtype; a clear error on CUDA OOM."""
        rows, columns = (tuple(x.shape) + (1, 1))[:2]
        with self.xp.memory_message(rows, columns, self.dtype):
            return self.xp.rows_on_device(x, self.device, self.dtype)

    def memory_message(self, rows: int, columns: int) -> Any:
        """A context that turns a CUDA out-of-memory error during a fit of ``rows`` x
        ``columns`` into a MemoryError naming a size that fits."""
        return self.xp.memory_message(rows, columns, self.dtype)

    def weights(self, w: np.ndarray | None) -> Any:
        return None if w is None else self.xp.rows_on_device(w, self.device, self.dtype)

    def resident(self, x: Any, w: np.ndarray | None, labels: np.ndarray | None = None) -> Any:
        """The source of rows ``x`` (n, d) held on the device, with their labels (n,)."""
        on_device = None if labels is None else self.xp.rows_on_device(labels, self.device, None)
        return self.xp.resident_source(self.rows(x), self.weights(w), on_device)

    def hold(self, source: Any, x: Any, w: np.ndarray | None) -> Any:
        """The rows of the host ``source`` (whose rows are ``x``, weights ``w``) held on the
        device, or streamed from the host chunk by chunk where they do not fit there."""
        try:
            return self.resident(x, w)
        except MemoryError:
            return self.stream(source)

    def stream(self, source: Any) -> Any:
        """The chunks of a host ``source``, each copied to the device as it is read."""
        return self.xp.streamed_source(source, self.device, self.dtype)


def refuse_dask_device(name: str, device: Any, X: Any) -> None:
    """Refuse ``device=`` (not None) with a Dask collection ``X``: its partitions stay on the
    Dask workers, where the E-step runs in NumPy; a device would draw every partition to this
    machine on every pass. ``name`` is the estimator (or function) asked.

    Raises
    ------
    ValueError
        ``device`` is not None and ``X`` is a Dask collection.
    """
    if device is not None and is_dask_collection(X):
        raise ValueError(
            f"{name}(device={device!r}) cannot fit a Dask collection: its partitions stay on "
            "the Dask workers. Leave device=None."
        )


def float_dtype(dtype: Any) -> np.dtype:
    """The NumPy dtype an estimator's ``dtype=`` names: None (float64), float32 or float64 as a
    NumPy dtype or type, its name, or a torch dtype (read without importing torch).

    Raises ValueError naming the allowed values for anything else (float16, integers)."""
    if dtype is None:
        return np.dtype(np.float64)
    name = str(dtype).removeprefix("torch.") if type(dtype).__module__ == "torch" else dtype
    try:
        chosen = np.dtype(name)
    except (TypeError, ValueError):
        chosen = None
    if chosen not in (np.float32, np.float64):
        raise ValueError(
            "dtype must be None, float32 or float64 (a NumPy or torch dtype, or its name); "
            f"got {dtype!r}"
        )
    return chosen


class FloatDtypes(Options):
    """scikit-learn's parameter constraint for ``dtype=``: what :func:`float_dtype` takes."""

    def __init__(self) -> None:
        super().__init__(object, set())

    def is_satisfied_by(self, val: Any) -> bool:
        try:
            float_dtype(val)
        except ValueError:
            return False
        return True

    def __str__(self) -> str:
        return "None, float32 or float64 (a NumPy or torch dtype, or its name)"


def memory_message(place: Placement | None, data: Any) -> Any:
    """``place.memory_message`` for the rows of ``data`` (a no-op context without a device)."""
    if place is None:
        return contextlib.nullcontext()
    return place.memory_message(data.n_rows, data.n_features)


def resolution(place: Placement | None) -> float:
    """The driver's ``resolution`` for a fit placed at ``place`` (None: NumPy), that of the
    dtype its pass computes in: NumPy computes float32 rows in float64 (:data:`ROUNDING`), a
    device in the rows' dtype (:data:`FLOAT32_RESOLUTION` in float32, whose stop test then
    judges the objective's rise over several steps: :meth:`emkit.em.EMMap.stops`)."""
    return ROUNDING if place is None else place.resolution


def placement(device: Any, X: Any = None, dtype: Any = None) -> Placement | None:
    """The placement for ``device`` (None: NumPy, unless ``X`` is a tensor: its device).

    Raises ImportError naming ``pip install "emkit[torch]"`` when PyTorch is missing.
    """
    if device is None and (X is None or not is_device_array(X)):
        return None
    if X is not None and is_device_array(X):
        check_tensor_values(X)
    xp = device_backend()
    chosen = None if dtype is None else float_dtype(dtype)
    where, chosen = xp.resolve(X.device if device is None else device, chosen)
    if X is not None and chosen.itemsize == 4:  # float32, asked for or CUDA's default
        refuse_single_rounding(X)
    return Placement(xp, where, chosen)


def refuse_single_rounding(X: Any, what: str | None = None) -> None:
    """Refuse integers of ``X`` (an array, a DataFrame, a list or a tensor, as given) that
    float32 cannot hold exactly (beyond 2**24), before a fit in float32 converts them: the
    rule of :func:`~emkit.backend.integers.refuse_inexact_integers`, for float32."""
    if is_device_array(X):
        if X.dtype.is_floating_point or X.dtype.is_complex:
            return
        # found on the device, refused on the host
        if not bool(((X > EXACT_SINGLE) | (X < -EXACT_SINGLE)).any()):
            return
        X = namespace_of(X).to_numpy(X)
    refuse_inexact_integers(X, "X", what, np.float32)


def check_tensor_values(x: Any) -> None:
    """Refuse a tensor ``x`` whose values emkit cannot fit: complex ones (ValueError, as
    scikit-learn refuses a complex NumPy array; casting would drop the imaginary part),
    integers that float64 would round (ValueError, beyond 2**53), none at all (ValueError:
    a tensor on the meta device), or not stored as a dense array (TypeError:
    :func:`~emkit.backend.torch_backend.require_dense`). Every entry point that takes a tensor
    (fit, predict, predict_proba, score_samples, score, transform) comes through here, in NumPy
    or on a device."""
    from emkit.backend.torch_backend import require_dense  # x is a tensor: torch is there

    require_dense(x)
    if x.device.type == "meta":
        raise ValueError(
            f"X is a meta tensor of shape {tuple(x.shape)}: it has a shape but no values. "
            "Pass the rows themselves, on 'cpu' or 'cuda'."
        )
    if x.is_complex():
        raise ValueError(
            f"Complex data not supported: X is a {x.dtype} tensor of shape {tuple(x.shape)}. "
            "Pass real rows, e.g. X.real, or its real and imaginary parts as columns: "
            "torch.cat([X.real, X.imag], dim=1)."
        )
    # integers beyond 2**53, which float64 rounds: found on the device, refused on the host
    if not x.dtype.is_floating_point and bool(((x > EXACT_INTEGERS) | (x < -EXACT_INTEGERS)).any()):
        refuse_inexact_integers(namespace_of(x).to_numpy(x), "X", None)


def check_device_rows(
    estimator: Any,
    x: Any,
    *,
    reset: bool,
    min_rows: int = 1,
    allow_nan: bool = False,
    nan_hint: str | None = None,
    allow_empty_rows: bool = True,
) -> Any:
    """Validate a tensor of rows as :func:`~emkit.estimators._validation.check_rows` does a
    NumPy array: 2-D, ``n_features_in_`` wide, finite (NaN only where allowed), enough rows.
    Checks run on the device; only the verdicts cross to the host."""
    check_tensor_values(x)
    xp = namespace_of(x)
    if x.ndim != 2:
        raise ValueError(
            f"Expected a 2-D tensor of shape (n_samples, n_features); got shape {tuple(x.shape)}. "
            "Reshape it, e.g. x.reshape(-1, 1) for a single feature."
        )
    n, d = x.shape
    if d == 0:  # scikit-learn's words for a NumPy array
        raise ValueError(
            f"Found array with 0 feature(s) (shape={tuple(x.shape)}) while a minimum of 1 is "
            f"required by {type(estimator).__name__}."
        )
    if not xp.is_floating(x):
        x = xp.asarray(x, dtype=np.float64)
    elif x.dtype.itemsize < 4:
        # float16 / bfloat16: squared distances and log densities overflow there (65504) and
        # torch has no half triangular solve on the CPU. Promote to what a fit computes in, as
        # scikit-learn promotes a NumPy float16 array; both hold every half value exactly.
        chosen = getattr(estimator, "dtype", None)
        chosen = None if chosen is None else float_dtype(chosen)
        x = xp.asarray(x, dtype=device_backend().resolve(x.device, chosen)[1])
    # row-major, as a NumPy fit's rows (a transposed tensor's products sum in another order)
    x = xp.asarray(x)
    check_feature_names(estimator, None, reset=reset)  # a tensor's columns have no names
    if reset:
        estimator.n_features_in_ = d
    elif d != estimator.n_features_in_:
        raise ValueError(
            f"X has {d} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    if n < max(min_rows, 1):
        raise ValueError(
            f"{type(estimator).__name__} needs at least {max(min_rows, 1)} rows (samples) here; "
            f"got n_samples = {n}. Use fewer components or more data."
        )
    if not bool(xp.isfinite(x).all()):
        nan = xp.isnan(x)
        if bool((~xp.isfinite(x) & ~nan).any()):
            raise ValueError(inf_refusal(xp.to_numpy(x), allow_nan=allow_nan) + ".")
        if not allow_nan:
            hint = nan_hint or NAN_HINT  # a NumPy array's words
            raise ValueError(f"Input X contains {nan_report(xp.to_numpy(x))}; {hint}.")
        empty = nan.sum(axis=1) == d
        if not allow_empty_rows and bool(empty.any()):
            count = int(empty.sum())
            raise ValueError(
                f"{count} of {n} rows have no observed value (every entry is NaN; the first is "
                f"row {int(xp.argmax(empty * 1, axis=0))}). They carry no information; "
                "drop them first, e.g. X = X[~X.isnan().all(dim=1)]."
            )
    return x


def sample_host_rows(
    x: Any, w: np.ndarray | None, size: int, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray | None]:
    """At most ``size`` rows of the tensor ``x`` (a uniform sample, as in memory) as a NumPy
    float64 array on the host, for starting values; with their weights."""
    xp = namespace_of(x)
    n = x.shape[0]
    if n <= size:
        return np.asarray(xp.to_numpy(x), dtype=np.float64), w
    keep = sample_indices(n, size, rng)
    rows = np.asarray(xp.to_numpy(x[xp.asarray(keep, like=x)]), dtype=np.float64)
    return rows, None if w is None else w[keep]


def output_like(values: Any, X: Any) -> Any:
    """``values`` (computed from ``X``) in ``X``'s namespace: a tensor answers a tensor."""
    return values if is_device_array(X) else np.asarray(namespace_of(values).to_numpy(values))
