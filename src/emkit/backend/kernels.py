r"""Fused, chunked E-step kernels for Gaussian mixtures.

A Gaussian log density is linear in the quadratic features of the data,

.. math:: \log \pi_k + \log\mathcal N(x \mid \mu_k, P_k^{-1})
          = -\tfrac12 (x-c)^\top P_k (x-c) + (x-c)^\top P_k(\mu_k - c) + b_k,

so for a block of rows the whole (n, k) matrix of log joints is one matrix product of the
features :math:`\phi(x) = [(x-c)(x-c)^\top_{i \le j},\ x-c]` (shape (n, d(d+1)/2 + d), or
(n, 2d) for diagonal precisions) with a (features, k) coefficient matrix, and the statistics
of the M-step are the product of the responsibilities with the same features. The features do
not depend on k: the work that grows with n k is two matrix products with long inner
dimensions and n k exponentials; no (n, k, d) array is ever formed.

The expansion subtracts numbers of size :math:`\rho_k = |\mu_k - c|^2 \lambda_{\max}(P_k)` to
get distances of order 1; with the shift :math:`c` at the mixture's mean this is small unless a
narrow component sits far from the others. :func:`quadratic_form` refuses (returns None) when
any :math:`\rho_k` exceeds :data:`MAX_SPREAD`, and the caller then takes the direct path.

Rows are processed in blocks whose features fit in cache, split over threads (NumPy and BLAS
release the GIL); each thread runs single-threaded BLAS, which is faster than threaded BLAS
on these tall, skinny products and does not collapse when other processes share the cores.
Partial sums are added in a fixed order, so results do not depend on scheduling.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import reduce

import numpy as np

# rho_k above this: the expansion could lose more than ~1e-12 relative accuracy.
MAX_SPREAD = 1e4
# Bytes of features per block: a few blocks stay in a core's L2 cache with the products.
BLOCK_BYTES = 1 << 21
MIN_BLOCK_ROWS, MAX_BLOCK_ROWS = 256, 8192
# Fewer rows than this per thread and threads cost more than they save.
MIN_ROWS_PER_THREAD = 16_384

_pool: tuple[int, ThreadPoolExecutor] | None = None
_controller = None


def num_threads() -> int:
    """Kernel threads: ``EMKIT_NUM_THREADS`` if set, else the cores this process may use."""
    env = os.environ.get("EMKIT_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class QuadraticForm:
    """Log joints of K Gaussian components as ``features(x - shift) @ coef + const``.

    Attributes
    ----------
    shift : array of shape (d,), the centre c.
    coef : array of shape (q + d, k); q = d(d+1)/2 (upper triangle, row-major) or d (diagonal).
    const : array of shape (k,), log weight + log normaliser - (mu_k - c)^T P_k (mu_k - c) / 2.
    diagonal : True when the quadratic features are the squares only.
    """

    shift: np.ndarray
    coef: np.ndarray
    const: np.ndarray
    diagonal: bool

    @property
    def n_features(self) -> int:
        return self.shift.shape[0]

    @property
    def n_components(self) -> int:
        return self.const.shape[0]


def quadratic_form(
    means: np.ndarray,
    precisions: np.ndarray,
    log_norm: np.ndarray,
    log_weights: np.ndarray,
    shift: np.ndarray,
) -> QuadraticForm | None:
    """The quadratic form of K Gaussians, or None where the expansion would lose accuracy.

    Parameters
    ----------
    means : array of shape (k, d).
    precisions : array of shape (k, d, d) (symmetric), or (k, d) for diagonal precisions.
    log_norm : array of shape (k,), log normalising constant of each density.
    log_weights : array of shape (k,), may hold -inf for empty components.
    shift : array of shape (d,), the centre c of the features.
    """
    diagonal = precisions.ndim == 2
    gap = means - shift  # (k, d)
    if diagonal:
        prec_gap = precisions * gap  # (k, d)
        largest = precisions.max(axis=1)
        quad = -0.5 * precisions.T  # (d, k)
    else:
        prec_gap = np.einsum("kij,kj->ki", precisions, gap)
        largest = np.abs(precisions).sum(axis=2).max(axis=1)  # bounds lambda_max
        rows, cols = np.triu_indices(means.shape[1])
        doubled = np.where(rows == cols, 1.0, 2.0)
        quad = -0.5 * (precisions[:, rows, cols] * doubled).T  # (q, k)
    spread = np.einsum("kd,kd->k", gap, gap) * largest
    if not np.all(np.isfinite(spread)) or spread.max(initial=0.0) > MAX_SPREAD:
        return None
    const = log_weights + log_norm - 0.5 * np.einsum("kd,kd->k", gap, prec_gap)
    coef = np.ascontiguousarray(np.vstack([quad, prec_gap.T]))
    return QuadraticForm(np.asarray(shift, dtype=np.float64), coef, const, diagonal)


def _block_rows(n_columns: int) -> int:
    rows = BLOCK_BYTES // (8 * n_columns)
    return int(min(MAX_BLOCK_ROWS, max(MIN_BLOCK_ROWS, rows)))


def _fill_features(rows: np.ndarray, shift: np.ndarray, out: np.ndarray, diagonal: bool) -> None:
    """Write [quadratic features; x - c; 1] of ``rows`` (m, d) feature-major into ``out``.

    ``out`` has shape (q + d + 1, m): each feature is one contiguous row, so every product
    below is a long vector operation rather than m short ones.
    """
    d = rows.shape[1]
    q = d if diagonal else d * (d + 1) // 2
    centred = out[q : q + d]
    np.subtract(rows.T, shift[:, None], out=centred)
    if diagonal:
        np.multiply(centred, centred, out=out[:d])
    else:
        offset = 0
        for i in range(d):
            np.multiply(centred[i], centred[i:], out=out[offset : offset + d - i])
            offset += d - i
    out[q + d] = 1.0


def _partial(
    x: np.ndarray, weights: np.ndarray | None, forms: list[QuadraticForm]
) -> tuple[list[np.ndarray], list[float]]:
    """Sums r^T [features, 1] (k, q + d + 1) and log-likelihoods of rows ``x`` for each form."""
    first = forms[0]
    width = first.coef.shape[0] + 1
    coef_t = np.ascontiguousarray(np.hstack([f.coef for f in forms]).T)  # (sum k, q + d)
    const = np.concatenate([f.const for f in forms])
    bounds = np.cumsum([0] + [f.n_components for f in forms])
    sums = [np.zeros((width, f.n_components)) for f in forms]
    loglik = [0.0] * len(forms)
    block = _block_rows(width)
    buffer = np.empty((width, min(block, x.shape[0])))
    for start in range(0, x.shape[0], block):
        rows = x[start : start + block]
        m = rows.shape[0]
        feats = buffer[:, :m]
        _fill_features(rows, first.shift, feats, first.diagonal)
        joint = (coef_t @ feats[:-1]).T  # (m, sum k), F-ordered
        joint += const
        w = None if weights is None else weights[start : start + m]
        for j, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            part = joint[:, lo:hi]
            top = part.max(axis=1, keepdims=True)  # (m, 1)
            # Rows where every component has log joint -inf contribute -inf, as they should.
            top[~np.isfinite(top)] = 0.0
            part -= top
            np.exp(part, out=part)
            total = part.sum(axis=1)  # (m,)
            part /= total[:, None]  # responsibilities (m, k)
            log_norm = np.log(total) + top[:, 0]
            if w is None:
                loglik[j] += float(log_norm.sum())
            else:
                loglik[j] += float(w @ log_norm)
                part *= w[:, None]
            sums[j] += feats @ part
    return [s.T for s in sums], loglik


def _threaded(
    x: np.ndarray, weights: np.ndarray | None, forms: list[QuadraticForm]
) -> tuple[list[np.ndarray], list[float]]:
    global _pool, _controller
    threads = max(1, min(num_threads(), x.shape[0] // MIN_ROWS_PER_THREAD))
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    if threads > 1 and (_pool is None or _pool[0] != threads):
        _pool = (threads, ThreadPoolExecutor(threads, thread_name_prefix="emkit-kernel"))
    edges = np.linspace(0, x.shape[0], threads + 1).astype(int)
    # Threaded BLAS on these tall, skinny products is slower than one thread, and collapses
    # when other processes share the cores: one BLAS thread per kernel thread.
    with _controller.limit(limits=1, user_api="blas"):
        if threads == 1 or _pool is None:
            return _partial(x, weights, forms)
        parts = list(
            _pool[1].map(
                lambda i: _partial(
                    x[edges[i] : edges[i + 1]],
                    None if weights is None else weights[edges[i] : edges[i + 1]],
                    forms,
                ),
                range(threads),
            )
        )
    sums = [reduce(np.add, (p[0][j] for p in parts)) for j in range(len(forms))]
    loglik = [float(sum(p[1][j] for p in parts)) for j in range(len(forms))]
    return sums, loglik


def gaussian_e_step(
    x: np.ndarray, forms: list[QuadraticForm], sample_weight: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
    """Responsibility-weighted Gaussian statistics of a chunk under each of several mixtures.

    All forms must share the shift and the feature layout; the features of each row are built
    once and serve every form (batched restarts).

    Parameters
    ----------
    x : array of shape (n, d), float32 or float64 (computed in float64).
    forms : quadratic forms from :func:`quadratic_form`.
    sample_weight : array of shape (n,) or None.

    Returns
    -------
    For each form: weight (k,), mean (k, d), centred scatter (k, d, d) or (k, d) for diagonal
    forms, and the chunk's log-likelihood.
    """
    sums, loglik = _threaded(x, sample_weight, forms)
    return [_moments(s, f, ll) for s, f, ll in zip(sums, forms, loglik, strict=True)]


def _moments(sums: np.ndarray, form: QuadraticForm, loglik: float):
    d = form.n_features
    q = sums.shape[1] - d - 1
    weight = sums[:, -1].copy()  # (k,)
    first = sums[:, q : q + d]  # sum r (x - c), (k, d)
    positive = weight[:, None] > 0
    offset = np.divide(first, weight[:, None], out=np.zeros_like(first), where=positive)
    mean = np.where(positive, form.shift + offset, 0.0)
    if form.diagonal:
        scatter = sums[:, :d] - first * offset
    else:
        k = weight.shape[0]
        rows, cols = np.triu_indices(d)
        second = np.empty((k, d, d))
        second[:, rows, cols] = sums[:, :q]
        second[:, cols, rows] = sums[:, :q]
        scatter = second - first[:, :, None] * offset[:, None, :]
        scatter = 0.5 * (scatter + np.swapaxes(scatter, 1, 2))
    scatter = np.where(positive if form.diagonal else positive[:, :, None], scatter, 0.0)
    return weight, mean, scatter, loglik
