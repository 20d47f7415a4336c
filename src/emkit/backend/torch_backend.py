r"""The PyTorch array backend (see :class:`emkit.backend.namespace.ArrayNamespace`), CPU or CUDA.

Rows live on the tensors' device; what touches them (log densities, responsibilities, the
fused E-step's products and log-sum-exp) runs there, in the rows' dtype (float32 or float64).
Every chunk's statistics are reduced on the device, accumulated across blocks in float64,
and cross to the host once per chunk as a few K x D x D numbers (with the chunk's
log-likelihood, the scalar the convergence test needs); parameters, the M-step and SQUAREM
stay NumPy float64 on the host, written once for every backend.

The data sources at the end of this module put rows on a device: :class:`TensorChunks` reads
views of a resident tensor; :class:`HostToDevice` streams the chunks of any host source
(array, memory map, ``.npy`` or Parquet file) through pinned buffers, copying the next chunk
on a side stream while the current one is computed.

PyTorch is an optional extra (``pip install "emkit[torch]"``); ``import emkit`` never imports
this module.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

try:
    import torch
except ImportError as exc:  # pragma: no cover - exercised where torch is absent
    raise ImportError(
        'the PyTorch backend (device=...) needs PyTorch: pip install "emkit[torch]"'
    ) from exc

from emkit.backend.gaussian_pass import quadratic_pairs
from emkit.backend.nearest_pass import merge_top, top_rows
from emkit.backend.sources import SourceOf, WeightedRows

name = "torch"
float64 = torch.float64

# Bytes of features (and log joints) per block of the fused pass: large blocks keep a GPU
# busy; on the CPU a few MiB stay in cache.
CUDA_BLOCK_BYTES = 1 << 28
CPU_BLOCK_BYTES = 1 << 23
# Rows per chunk of a resident tensor: the direct (unfused) paths build (rows, k) arrays and
# the missing-value path (k, rows, d) ones, so a chunk bounds their memory.
DEVICE_CHUNK_ROWS = 1 << 21

exp = torch.exp
sqrt = torch.sqrt
log = torch.log
isnan = torch.isnan
isfinite = torch.isfinite
where = torch.where
einsum = torch.einsum
zeros_like = torch.zeros_like


def exp_normal(a: torch.Tensor, floor: float | None = None) -> torch.Tensor:
    """:math:`e^a` in place of ``a``, 0 where ``a < floor`` (by default where it would be
    subnormal), as :func:`emkit.backend.underflow.exp_normal`."""
    if floor is None:
        floor = math.log(torch.finfo(a.dtype).tiny)
    return a.masked_fill_(a < floor, -math.inf).exp_()


def owns(x: Any) -> bool:
    return isinstance(x, torch.Tensor)


def is_floating(x: torch.Tensor) -> bool:
    return bool(x.is_floating_point())


TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def _torch_dtype(dtype: Any) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return TORCH_DTYPES[np.dtype(dtype)]
    except (KeyError, TypeError):
        raise ValueError(f"dtype must be float32 or float64; got {dtype!r}") from None


def asarray(x: Any, dtype: Any = None, like: Any = None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        array = np.asarray(x)
        if not (array.flags.writeable and array.flags.c_contiguous):
            array = np.ascontiguousarray(array).copy()
        x = torch.from_numpy(array)
    target = None if dtype is None else _torch_dtype(dtype)
    if target is None and like is not None and x.is_floating_point() and like.is_floating_point():
        target = like.dtype
    device = like.device if like is not None else x.device
    x = x.to(device=device, dtype=target) if target is not None else x.to(device=device)
    return x.contiguous()


def require_dense(x: torch.Tensor) -> None:
    """Refuse a tensor ``x`` not stored as a dense array (sparse COO, CSR, CSC, BSR or BSC, or
    MKL-DNN's layout) with a TypeError, as scikit-learn's for a SciPy sparse matrix."""
    layout = str(x.layout).removeprefix("torch.")
    if layout != "strided":
        kind = "Sparse data" if layout.startswith("sparse") else f"Data of layout {layout}"
        raise TypeError(
            f"{kind} was passed for X (a {layout} tensor of shape {tuple(x.shape)}), but "
            "dense data is required. Use X.to_dense() to convert it to a dense tensor."
        )


def to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        require_dense(x)
        return x.detach().cpu().numpy()
    return np.asarray(x)


def logsumexp(a: torch.Tensor, axis: int) -> torch.Tensor:
    return torch.logsumexp(a, dim=axis)


def cholesky(a: torch.Tensor) -> tuple[torch.Tensor, bool]:
    chol, info = torch.linalg.cholesky_ex(a)
    ok = bool((info == 0).all() & torch.isfinite(chol).all())
    return chol, ok


def solve_triangular(factor: torch.Tensor, b: torch.Tensor, lower: bool) -> torch.Tensor:
    return torch.linalg.solve_triangular(factor, b, upper=not lower)


def eigvalsh(a: torch.Tensor) -> torch.Tensor:
    return torch.linalg.eigvalsh(a)


def argmax(a: torch.Tensor, axis: int) -> torch.Tensor:
    return torch.argmax(a, dim=axis)


def stack(arrays: Any) -> torch.Tensor:
    return torch.stack(list(arrays))


def empty(shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    return torch.empty(shape, dtype=like.dtype, device=like.device)


def flatnonzero(mask: torch.Tensor) -> torch.Tensor:
    return torch.nonzero(mask.ravel()).ravel()


def arange(n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.arange(n, device=like.device)


def stable_argsort_descending(a: torch.Tensor) -> torch.Tensor:
    return torch.sort(a, descending=True, stable=True).indices


def _centred(rows: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """``rows`` (m, d) minus ``shift`` (d,), a float64 tensor on their device, in the rows'
    dtype. Float32 rows are subtracted in float64 and the difference rounded once, as NumPy's
    float32 pass does (:func:`emkit.backend.gaussian_pass._write_features`): the host adds
    back to the sums the float64 shift, so that is the one to take off. ``float32(shift)``
    would leave its rounding, up to 2^-25 |shift| per column (4e-3 at 1e5), in every mean
    and log joint. The float64 copy is of one block only."""
    if rows.dtype == torch.float64:
        return rows - shift
    return rows.double().sub_(shift).to(rows.dtype)


def _block_rows(x: torch.Tensor, width: int) -> int:
    """Rows per block of a pass over ``x`` (n, d) that holds ``width`` numbers of the rows'
    dtype per row, and the float64 copy of the rows :func:`_centred` makes in float32."""
    budget = CUDA_BLOCK_BYTES if x.device.type == "cuda" else CPU_BLOCK_BYTES
    extra = 0 if x.dtype == torch.float64 else 8 * x.shape[1]
    return max(256, budget // (x.element_size() * width + extra))


def quadratic_sums(
    x: torch.Tensor, weights: torch.Tensor | None, forms: list
) -> tuple[list[np.ndarray], list[float], list[float]]:
    """The fused E-step's pass (:mod:`emkit.backend.kernels`) over rows ``x`` on their device.

    For each block of rows: the features :math:`\\phi(x - c)` (block, q + d), the log joints of
    every form in one product with the stacked coefficients, a log-sum-exp per form, and the
    responsibilities' product with the same features, and the sum of log max_k r_nk (hard
    ICL's term). Products and exponentials run in the rows' dtype; block sums and
    log-likelihoods are accumulated in float64 (each row's largest log joint and log total
    added there separately). One transfer to the host per call.

    In float32 the coefficients are rounded once per pass, an error ``e`` that moves every
    row's log joints alike, and with them the log-likelihood by ~1e-8 relative, from one pass
    to the next as the coefficients change: more than EM's gains near its end. The
    log-likelihood's derivative by the coefficients is the statistics ``S`` (sum_n r_nk
    [features, 1]), so ``sum(e * S)`` (on the host, in float64) restores it to first order,
    as NumPy's float32 pass does (:func:`emkit.backend.gaussian_pass._partial`); what is
    left is the rows' own rounding, of both signs, which adds up as its square root.
    """
    first = forms[0]
    device, dtype = x.device, x.dtype
    n, d = x.shape
    # [coefficients; constants] (q + d + 1, sum k), in float64 and as the pass uses them
    exact = np.vstack(
        [np.hstack([f.coef for f in forms]), np.concatenate([f.const for f in forms])]
    )
    with np.errstate(over="ignore"):  # beyond float32's range: inf, as torch rounds it
        used = exact.astype(np.float32) if dtype == torch.float32 else exact
    coef = torch.as_tensor(used[:-1], dtype=dtype, device=device)
    const = torch.as_tensor(used[-1], dtype=dtype, device=device)
    shift = torch.as_tensor(first.shift, dtype=torch.float64, device=device)
    sizes = [f.n_components for f in forms]
    bounds = np.cumsum([0] + sizes)
    n_feat, total_k = coef.shape
    if not first.diagonal:
        # copies: the cached pairs are read-only, which torch.as_tensor warns of
        pair_rows, pair_cols = (torch.tensor(a, device=device) for a in quadratic_pairs(d)[:2])
    # Per form: sums of r [phi, 1] (k, q + d + 1), then (in the form's first row) the
    # log-likelihood and the sum of log max_k r, in one buffer.
    acc = torch.zeros((total_k, n_feat + 3), dtype=torch.float64, device=device)
    block = _block_rows(x, n_feat + total_k + d)
    for start in range(0, n, block):
        xc = _centred(x[start : start + block], shift)  # (m, d)
        if first.diagonal:
            parts = [xc * xc, xc]
        else:  # each pair i, j once, in quadratic_pairs' order
            parts = [xc[:, pair_rows] * xc[:, pair_cols], xc]
        feats = torch.cat(parts, dim=1)  # (m, q + d)
        joint = torch.addmm(const, feats, coef)  # (m, sum k)
        w = None if weights is None else weights[start : start + block]
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            part = joint[:, lo:hi]
            top = part.amax(dim=1, keepdim=True)  # (m, 1)
            # Rows where every component has log joint -inf contribute -inf, as they should.
            top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
            # one exponential per entry (logsumexp takes two)
            part = exp_normal(part - top, math.log(torch.finfo(part.dtype).tiny * (hi - lo)))
            total = part.sum(dim=1)  # (m,)
            joint[:, lo:hi] = part / total[:, None]  # responsibilities
            log_total = torch.log(total)  # -log max_k r of each row
            if w is None:
                lt = log_total.sum(dtype=torch.float64)
                acc[lo, -2] += top.sum(dtype=torch.float64) + lt
            else:
                wd = w.double()
                lt = torch.dot(wd, log_total.double())
                acc[lo, -2] += torch.dot(wd, top[:, 0].double()) + lt
            acc[lo, -1] -= lt
        if w is not None:
            joint *= w[:, None]
        acc[:, :n_feat] += (joint.T @ feats).double()  # (sum k, q + d)
        acc[:, n_feat] += joint.sum(dim=0, dtype=torch.float64)
    host = acc.cpu().numpy()  # the one synchronisation
    sums = [host[lo:hi, :-2] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    loglik = [float(host[lo, -2]) for lo in bounds[:-1]]
    if used is not exact:  # the coefficients' rounding, to first order (see above)
        with np.errstate(invalid="ignore"):  # -inf for an empty component: no rounding
            rounding = np.where(np.isfinite(used) & np.isfinite(exact), exact - used, 0.0)
        for j, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            loglik[j] += float(np.einsum("fk,kf->", rounding[:, lo:hi], host[lo:hi, :-2]))
    return sums, loglik, [float(host[lo, -1]) for lo in bounds[:-1]]


def nearest_sums(x: torch.Tensor, weights: torch.Tensor | None, forms: list) -> list[tuple]:
    """The nearest-centre pass (:mod:`emkit.backend.nearest`) over rows ``x`` on their device.

    For each block: the shifted rows, the distances to every form's centres in one product,
    each row's nearest centre and the one-hot product with the rows; sums accumulate in
    float64 on the device, the few candidate farthest rows cross to the host per block.
    """
    device, dtype = x.device, x.dtype
    n, d = x.shape
    shift = torch.as_tensor(forms[0].shift, dtype=torch.float64, device=device)
    coef = torch.as_tensor(np.vstack([f.coef for f in forms]).T, dtype=dtype, device=device)
    const = torch.as_tensor(np.concatenate([f.const for f in forms]), dtype=dtype, device=device)
    bounds = np.cumsum([0] + [f.n_components for f in forms])
    total_k = coef.shape[1]
    acc = torch.zeros((total_k, d + 1), dtype=torch.float64, device=device)  # sums, weight
    inertia = torch.zeros(len(forms), dtype=torch.float64, device=device)
    tops = [(np.empty(0, dtype=np.intp), np.empty(0)) for _ in forms]
    block = _block_rows(x, 2 * total_k + 2 * d)
    for start in range(0, n, block):
        xs = _centred(x[start : start + block], shift)  # (m, d)
        m = xs.shape[0]
        norms = (xs * xs).sum(dim=1)  # (m,)
        joint = torch.addmm(const, xs, coef, alpha=-2.0)  # distances minus |x - s|^2
        w = None if weights is None else weights[start : start + block]
        for j, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            part = joint[:, lo:hi]
            label = torch.argmin(part, dim=1)  # the first nearest centre
            best = part.gather(1, label[:, None])[:, 0] + norms  # (m,)
            one = torch.zeros_like(part)
            one.scatter_(1, label[:, None], 1.0 if w is None else w[:, None])
            acc[lo:hi, :d] += (one.T @ xs).double()
            acc[lo:hi, d] += one.sum(dim=0, dtype=torch.float64)
            if w is None:
                inertia[j] += best.sum(dtype=torch.float64)
            else:
                inertia[j] += torch.dot(w.double(), best.double())
                best = torch.where(w > 0, best, torch.full_like(best, -1.0))
            k = hi - lo
            kth = torch.topk(best, min(k, m)).values[-1]
            cand = torch.nonzero(best >= kth).flatten()
            picked = top_rows(best[cand].double().cpu().numpy(), k)
            index = cand.cpu().numpy()[picked[0]] + start
            tops[j] = merge_top(tops[j], (index, picked[1]), k)
    host = acc.cpu().numpy()
    totals = inertia.cpu().numpy()
    out = []
    for j, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        k = hi - lo
        far_dist, far_rows, far_weight = np.full(k, -1.0), np.zeros((k, d)), np.zeros(k)
        got = tops[j][0].shape[0]
        far_dist[:got] = tops[j][1]
        if got:
            index = torch.as_tensor(tops[j][0], device=device)
            far_rows[:got] = x[index].double().cpu().numpy()
            far_weight[:got] = 1.0 if weights is None else weights[index].double().cpu().numpy()
        sums = (host[lo:hi, d], host[lo:hi, :d], float(totals[j]))
        out.append((*sums, far_dist, far_rows, far_weight))
    return out


def nearest_labels(
    x: torch.Tensor, form: Any, distances: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Nearest centre of each row of ``x`` (n, d) under ``form``, and the squared distance to
    it by direct differences in float64 (from the float64 centres: float32 ones would be off
    by up to 2^-25 of their size), both on ``x``'s device; no distances (None) where
    ``distances`` is False."""
    device, dtype = x.device, x.dtype
    n, d = x.shape
    shift = torch.as_tensor(form.shift, dtype=torch.float64, device=device)
    coef = torch.as_tensor(form.coef.T, dtype=dtype, device=device)
    const = torch.as_tensor(form.const, dtype=dtype, device=device)
    centres = torch.as_tensor(form.centres, dtype=torch.float64, device=device)
    block = _block_rows(x, 2 * form.n_components + 2 * d)
    labels, dist = [], []
    for start in range(0, n, block):
        rows = x[start : start + block]
        label = torch.argmin(torch.addmm(const, _centred(rows, shift), coef, alpha=-2.0), dim=1)
        labels.append(label)
        if distances:
            diff = rows.double() - centres[label]
            dist.append((diff * diff).sum(dim=1))
    if not labels:
        none = torch.empty(0, device=device) if distances else None
        return torch.empty(0, dtype=torch.long, device=device), none
    return torch.cat(labels), torch.cat(dist) if distances else None


# --- devices and data sources ---------------------------------------------------------------


def resolve(device: Any, dtype: Any = None) -> tuple[torch.device, torch.dtype]:
    """The torch device for ``device`` ("cpu", "cuda", "cuda:1" or a torch.device) and the
    dtype to compute in: ``dtype`` (float32 or float64), by default float32 on CUDA and
    float64 elsewhere. ValueError where the device is unknown, is not available in this
    PyTorch (CUDA, MPS, ...) or cannot hold ``dtype``, or is the meta device (no values)."""
    try:
        where_to = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be None, 'cpu', 'cuda', 'cuda:<index>' or a torch.device; got "
            f"{device!r} ({exc})"
        ) from None
    if where_to.type == "meta":
        raise ValueError(
            "device='meta' holds shapes without values, so nothing can be computed there; "
            "use device='cpu', 'cuda' or None"
        )
    if where_to.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but PyTorch sees no CUDA device (torch {torch.__version__}); "
            "use device='cpu' or None, or install a CUDA build of PyTorch"
        )
    if where_to.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            f"device={device!r} but PyTorch sees no MPS device (torch {torch.__version__}); "
            "use device='cpu' or None"
        )
    if dtype is None:
        chosen = torch.float32 if where_to.type == "cuda" else torch.float64
    else:
        chosen = _torch_dtype(dtype)
    if where_to.type != "cpu":
        # One empty tensor there: torch says why a device it names is not usable (not built
        # in, no such index, no float64 on MPS) only when something is put on it.
        try:
            torch.empty(0, device=where_to, dtype=chosen)
        except (RuntimeError, AssertionError, ImportError, TypeError) as exc:
            why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ValueError(
                f"device={device!r} cannot be used by this PyTorch (torch {torch.__version__}) "
                f"in {chosen}: {why.rstrip('.')}. Use device='cpu' or None, or another dtype"
            ) from None
    return where_to, chosen


def out_of_memory(exc: BaseException, rows: int, columns: int, dtype: torch.dtype) -> MemoryError:
    """A MemoryError for a CUDA out-of-memory error while holding ``rows`` x ``columns``,
    naming a size that fits."""
    free = 0
    if torch.cuda.is_available():
        try:
            free = torch.cuda.mem_get_info()[0]
        except RuntimeError:  # pragma: no cover
            free = 0
    item = torch.tensor([], dtype=dtype).element_size()
    # The E-step holds the rows, their quadratic features and log joints: about 4 rows' worth.
    if free:
        fits = max(1, free // (4 * max(columns, 1) * item))
        room = f"About {fits} rows fit at a time in the {free / 2**30:.1f} GiB free"
    else:
        room = "Fewer rows fit at a time"
    return MemoryError(
        f"CUDA ran out of memory fitting {rows} x {columns} rows in {dtype} ({exc}). {room}: "
        "pass a .npy path, a memory map or a NumPy array so that emkit streams chunks from "
        "the host, use dtype=float32, or fewer components."
    )


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is PyTorch's CUDA out-of-memory error."""
    return isinstance(exc, torch.cuda.OutOfMemoryError)


@contextlib.contextmanager
def memory_message(rows: int, columns: int, dtype: torch.dtype) -> Iterator[None]:
    """Turn a CUDA out-of-memory error inside the block into :func:`out_of_memory`'s."""
    try:
        yield
    except torch.cuda.OutOfMemoryError as exc:
        raise out_of_memory(exc, rows, columns, dtype) from exc


def rows_on_device(x: Any, device: torch.device, dtype: torch.dtype | None) -> torch.Tensor:
    """``x`` (a host array or a tensor anywhere) as a tensor of ``dtype`` on ``device``
    (``dtype`` None: the values keep their dtype, integer labels stay integers). A tensor that
    requires grad is detached, as :func:`to_numpy` detaches it: the fit reads its values only."""
    if isinstance(x, torch.Tensor):
        tensor = x.detach()
    else:
        tensor = torch.from_numpy(np.ascontiguousarray(x))
    if dtype is None:
        return tensor.to(device=device)
    return tensor.to(device=device, dtype=dtype)


def _moved(part: Any, device: torch.device, dtype: torch.dtype, non_blocking: bool) -> Any:
    if part is None:
        return None
    if isinstance(part, tuple):  # (x, labels) of labelled rows
        return (
            _moved(part[0], device, dtype, non_blocking),
            torch.as_tensor(np.asarray(part[1])).to(device, non_blocking=non_blocking),
        )
    if isinstance(part, torch.Tensor):
        return part.detach().to(device=device, dtype=dtype, non_blocking=non_blocking)
    array = np.ascontiguousarray(part)
    with warnings.catch_warnings():
        # A read-only block (a memory map opened "r"): the E-step never writes to its rows.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        host = torch.from_numpy(array)
    if device.type == "cuda":
        host = host.pin_memory()
    return host.to(device=device, dtype=dtype, non_blocking=non_blocking)


@dataclass(frozen=True)
class TensorChunks(WeightedRows):
    """Row blocks (views, no copies) of a tensor resident on its device.

    Attributes
    ----------
    x : tensor of shape (n, d), floating.
    sample_weight : tensor of shape (n,) in ``x``'s dtype and device, or None.
    labels : int tensor of shape (n,) (component index or -1) or None; chunks are then
        ``(x, labels)``.
    chunk_rows : rows per block.
    """

    x: Any
    sample_weight: Any = None
    labels: Any = None
    chunk_rows: int = DEVICE_CHUNK_ROWS

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        n = self.x.shape[0]
        for start in range(0, n, self.chunk_rows):
            stop = min(start + self.chunk_rows, n)
            x = self.x[start:stop]
            w = None if self.sample_weight is None else self.sample_weight[start:stop]
            yield (x if self.labels is None else (x, self.labels[start:stop])), w

    @property
    def n_rows(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.x.shape[1])

    @property
    def total_weight(self) -> float:
        if self.sample_weight is None:
            return float(self.n_rows)
        return float(self.sample_weight.sum(dtype=torch.float64))


@dataclass(frozen=True)
class HostToDevice(SourceOf):
    """The chunks of a host source, each copied to ``device`` as it is read.

    On CUDA, chunks go through pinned memory on a side stream, the copy of the next chunk
    overlapping the E-step of the current one; the device holds two chunks at a time, so data
    larger than its memory stream from the host.

    Attributes
    ----------
    source : a :class:`~emkit.backend.sources.DataSource` yielding NumPy chunks.
    device, dtype : where and in what the chunks are computed.
    """

    source: Any
    device: Any
    dtype: Any

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self.device.type != "cuda":
            for x, w in self.source:
                yield (
                    _moved(x, self.device, self.dtype, False),
                    _moved(w, self.device, self.dtype, False),
                )
            return
        stream = torch.cuda.Stream(device=self.device)
        chunks = iter(self.source)

        def prefetch():
            part = next(chunks, None)
            if part is None:
                return None
            with torch.cuda.stream(stream):
                moved = (
                    _moved(part[0], self.device, self.dtype, True),
                    _moved(part[1], self.device, self.dtype, True),
                )
            return moved

        ready = prefetch()
        while ready is not None:
            torch.cuda.current_stream(self.device).wait_stream(stream)
            current = ready
            ready = prefetch()  # the next copy overlaps this chunk's E-step
            yield current


# The DeviceBackend names of this backend's sources.
resident_source = TensorChunks
streamed_source = HostToDevice
