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

The pass over the rows (features, the two products, the log-sum-exp) is the array backend's
:func:`quadratic_sums` (NumPy: blocked and threaded on the CPU,
:mod:`emkit.backend.gaussian_pass`; PyTorch: on the tensors' device); building the forms and
turning the sums into moments is written once, here, in float64 on the host.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emkit.backend.gaussian_pass import quadratic_pairs
from emkit.backend.namespace import namespace_of

# rho_k above this: the expansion could lose more than ~1e-12 relative accuracy.
MAX_SPREAD = 1e4
# The same for a component's own rows (see _ill_conditioned).
MAX_SELF_SPREAD = 1e6


@dataclass(frozen=True)
class QuadraticForm:
    """Log joints of K Gaussian components as ``features(x - shift) @ coef + const``.

    Attributes
    ----------
    shift : array of shape (d,), the centre c.
    coef : array of shape (q + d, k); q = d(d+1)/2 (the pairs i, j in
        :func:`~emkit.backend.gaussian_pass.quadratic_pairs`' order) or d (diagonal).
    const : array of shape (k,), log weight + log normaliser - (mu_k - c)^T P_k (mu_k - c) / 2.
    diagonal : True when the quadratic features are the squares only.
    peak : array of shape (k,), log weight + log normaliser: each component's largest log
        joint (at its mean), an upper bound of its log joints; None where not known.
    """

    shift: np.ndarray
    coef: np.ndarray
    const: np.ndarray
    diagonal: bool
    peak: np.ndarray | None = None

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
    # Reductions as ufunc methods and np.concatenate for vstack: the same bits without the
    # Python layers of ndarray.max / .sum / np.vstack, which cost more than the arithmetic on
    # a few components (a model-selection grid makes a form per fit and pass).
    diagonal = precisions.ndim == 2
    gap = means - shift  # (k, d)
    if diagonal:
        prec_gap = precisions * gap  # (k, d)
        largest = np.maximum.reduce(precisions, axis=1)
        quad = -0.5 * precisions.T  # (d, k)
    else:
        prec_gap = np.einsum("kij,kj->ki", precisions, gap)
        # bounds lambda_max
        largest = np.maximum.reduce(np.add.reduce(np.abs(precisions), axis=2), axis=1)
        rows, cols, doubled = quadratic_pairs(means.shape[1])
        quad = -0.5 * (precisions[:, rows, cols] * doubled).T  # (q, k)
    spread = np.einsum("kd,kd->k", gap, gap) * largest
    if not np.isfinite(spread).all() or np.maximum.reduce(spread, initial=0.0) > MAX_SPREAD:
        return None
    if not diagonal and _ill_conditioned(precisions):
        return None
    peak = log_weights + log_norm
    const = peak - 0.5 * np.einsum("kd,kd->k", gap, prec_gap)
    coef = np.concatenate([quad, prec_gap.T])  # C-contiguous
    return QuadraticForm(np.asarray(shift, dtype=np.float64), coef, const, diagonal, peak)


def _ill_conditioned(precisions: np.ndarray) -> bool:
    r"""True where a component's own rows would lose accuracy in the expansion.

    A row at a typical distance from its component's mean has :math:`|x_i - \mu_i| \approx
    \sigma_i = \Sigma_{ii}^{1/2}`, and the expansion adds terms :math:`P_{ij}(x_i - c_i)(x_j -
    c_j)` that cancel to a distance of order 1; their size :math:`\sum_{ij} |P_{ij}|
    \sigma_i\sigma_j` is about d for independent features and grows with the condition of
    the correlation (a duplicated column with a ridge: 1e10), where rounding would make EM's
    objective fall.
    """
    try:
        sigma = np.sqrt(np.abs(np.linalg.inv(precisions).diagonal(0, 1, 2)))
    except np.linalg.LinAlgError:
        return True
    size = np.einsum("kij,ki,kj->k", np.abs(precisions), sigma, sigma)
    return bool(
        not np.isfinite(size).all() or np.maximum.reduce(size, initial=0.0) > MAX_SELF_SPREAD
    )


def gaussian_e_step(
    x: np.ndarray, forms: list[QuadraticForm], sample_weight: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float, float, np.ndarray]]:
    r"""Responsibility-weighted Gaussian statistics of a chunk under each of several mixtures.

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
    forms, the chunk's log-likelihood, :math:`\sum_n w_n \log\max_k r_{nk}` (the term of
    mclust's hard ICL, gathered in the same pass), and what the mean lost to rounding (k, d):
    the mean is the shift plus the rows' mean offset from it, rounded at the size of the data,
    and the two add up to that sum exactly enough for chunks' statistics to merge as one's.
    """
    sums, loglik, log_max_resp = namespace_of(x).quadratic_sums(x, sample_weight, forms)
    out = []
    for s, f, ll, lm in zip(sums, forms, loglik, log_max_resp, strict=True):
        weight, mean, scatter, residual = _moments(s, f)
        out.append((weight, mean, scatter, ll, lm, residual))
    return out


def _moments(sums: np.ndarray, form: QuadraticForm):
    d = form.n_features
    q = sums.shape[1] - d - 1
    weight = sums[:, -1].copy()  # (k,)
    first = sums[:, q : q + d]  # sum r (x - c), (k, d)
    positive = weight[:, None] > 0
    held = bool(positive.all())  # no component empty: the masks below change nothing
    if held:
        offset = first / weight[:, None]
        mean = form.shift + offset
    else:
        offset = np.divide(first, weight[:, None], out=np.zeros_like(first), where=positive)
        mean = np.where(positive, form.shift + offset, 0.0)
    # For data far from the origin (a column at 1e15, whose ulp is 0.125) the mean rounds
    # by as much as the rows' spread; mean - shift is exact, and so is what it lost.
    residual = offset - (mean - form.shift)
    if not held:
        residual = np.where(positive, residual, 0.0)
    if form.diagonal:
        scatter = sums[:, :d] - first * offset
    else:
        k = weight.shape[0]
        rows, cols, _ = quadratic_pairs(d)
        second = np.empty((k, d, d))
        second[:, rows, cols] = sums[:, :q]
        second[:, cols, rows] = sums[:, :q]
        scatter = second - first[:, :, None] * offset[:, None, :]
        scatter = 0.5 * (scatter + scatter.transpose(0, 2, 1))
    if not held:
        scatter = np.where(positive if form.diagonal else positive[:, :, None], scatter, 0.0)
    return weight, mean, scatter, residual
