r"""The CPU pass of the E-step of mixtures of component families (NumPy).

For each block of rows, each mixture's log joints :math:`\log\pi_k + \log p_k(x_n)` (shape
(k, m), component-major) are filled by one kernel call per family kind
(:mod:`emkit.distributions.batched`), normalised by a log-sum-exp into responsibilities, and
turned into the statistics by one more call per family kind. The rows' own statistics (counts,
logarithms, the base measure) are computed once per block and shared by every mixture evaluated
on it (batched restarts). Blocks are small enough to stay in cache, and are split over threads
as in :func:`emkit.backend.numpy_backend.quadratic_sums` (NumPy releases the GIL), each thread
with single-threaded BLAS; partial sums are added in a fixed order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from emkit.backend.numpy_backend import LOG_TINY, exp_normal, over_threads

# Bytes of the per-block arrays (log joints, row statistics): a few stay in a core's L2 cache.
BLOCK_BYTES = 1 << 20
MIN_BLOCK_ROWS, MAX_BLOCK_ROWS = 512, 16_384

# A mixture as the pass reads it: log weights (k,), and (columns, kernel) for each family kind.
Groups = tuple[tuple[Any, Any], ...]


def mixture_sums(
    x: np.ndarray,
    sample_weight: np.ndarray | None,
    mixtures: Sequence[tuple[np.ndarray, Groups]],
) -> list[tuple[np.ndarray, list[Any], float]]:
    r"""Responsibility totals, each family kind's sums and the log-likelihood of rows ``x``.

    Parameters
    ----------
    x : array of shape (n, d).
    sample_weight : array of shape (n,) or None.
    mixtures : for each mixture, its log weights (k,) and its groups: ``(columns, kernel)``
        pairs, ``columns`` a slice or index array of the components one kernel holds.

    Returns
    -------
    For each mixture: :math:`\sum_n w_n r_{nk}` (k,), the kernels' ``sums`` (one per group, in
    order) and :math:`\sum_n w_n \log p(x_n)`.
    """
    parts = over_threads(x, sample_weight, lambda rows, w, start: _partial(rows, w, mixtures))
    out = parts[0]
    for other in parts[1:]:
        out = [
            (r + r2, [s + s2 for s, s2 in zip(g, g2, strict=True)], ll + ll2)
            for (r, g, ll), (r2, g2, ll2) in zip(out, other, strict=True)
        ]
    return out


def _block_rows(n_components: int, n_features: int) -> int:
    rows = BLOCK_BYTES // (8 * (2 * n_components + 3 * n_features + 2))
    return int(min(MAX_BLOCK_ROWS, max(MIN_BLOCK_ROWS, rows)))


def _partial(
    x: np.ndarray, sample_weight: np.ndarray | None, mixtures: Sequence[tuple[np.ndarray, Groups]]
) -> list[tuple[np.ndarray, list[Any], float]]:
    widest = max(log_weights.shape[0] for log_weights, _ in mixtures)
    block = _block_rows(widest, x.shape[1])
    totals: list[Any] = [None] * len(mixtures)
    for start in range(0, x.shape[0], block):
        rows = x[start : start + block]
        w = None if sample_weight is None else sample_weight[start : start + block]
        cache: dict = {}  # row statistics of this block, shared by the mixtures
        for j, (log_weights, groups) in enumerate(mixtures):
            part = _block(rows, w, log_weights, groups, cache)
            total = totals[j]
            totals[j] = part if total is None else _add(total, part)
    return totals


def _block(rows, w, log_weights, groups, cache):
    k, m = log_weights.shape[0], rows.shape[0]
    joint = np.empty((k, m))
    for cols, kernel in groups:
        joint[cols] = kernel.log_density(rows, cache)
    joint += log_weights[:, None]
    top = joint.max(axis=0)  # (m,)
    # Rows where every component has log joint -inf contribute -inf, as they should.
    top[~np.isfinite(top)] = 0.0
    joint -= top
    exp_normal(joint, LOG_TINY + np.log(k))
    total = joint.sum(axis=0)  # (m,)
    joint /= total  # responsibilities (k, m)
    log_norm = np.log(total)
    log_norm += top
    if w is None:
        loglik = float(log_norm.sum())
    else:
        loglik = float(w @ log_norm)
        joint *= w
    sums = [kernel.sums(rows, joint[cols], cache) for cols, kernel in groups]
    return joint.sum(axis=1), sums, loglik


def _add(a, b):
    (r, g, ll), (r2, g2, ll2) = a, b
    return r + r2, [s + s2 for s, s2 in zip(g, g2, strict=True)], ll + ll2
