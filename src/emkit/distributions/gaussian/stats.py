"""Weighted, centred Gaussian statistics of K components that merge exactly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emkit.backend.namespace import centred, namespace_of
from emkit.distributions.base import merge_centred
from emkit.distributions.regularization import Regularization


@dataclass(frozen=True)
class GaussianStats:
    """Per-component weight, weighted mean and centred scatter.

    Attributes
    ----------
    weight : array of shape (k,), sum of responsibilities (times sample weights).
    mean : array of shape (k, d), weighted mean (0 where the weight is 0).
    scatter : array of shape (k, d, d) (full) or (k, d) (diagonal only),
        sum_n r_nk (x_n - mean_k)(x_n - mean_k)^T.
    """

    weight: np.ndarray
    mean: np.ndarray
    scatter: np.ndarray

    @classmethod
    def zero(cls, k: int, d: int, diagonal: bool) -> GaussianStats:
        """The identity of ``+``: K empty components of d features."""
        shape = (k, d) if diagonal else (k, d, d)
        return cls(np.zeros(k), np.zeros((k, d)), np.zeros(shape))

    @classmethod
    def from_data(cls, x: np.ndarray, resp: np.ndarray, diagonal: bool) -> GaussianStats:
        """Statistics of a chunk ``x`` (n, d) with responsibilities ``resp`` (n, k).

        ``x`` may also be of shape (k, n, d), the rows as each component completes them
        (rows with missing values, :mod:`emkit.models.missing`). ``x`` and ``resp`` are arrays
        of one backend (:mod:`emkit.backend.namespace`); the statistics are NumPy float64.
        """
        xp = namespace_of(x)
        weight = xp.to_numpy(resp.sum(axis=0, dtype=xp.float64))  # (k,)
        sums = resp.T @ x if x.ndim == 2 else (resp.T[:, None, :] @ x)[:, 0]  # (k, d)
        sums = np.asarray(xp.to_numpy(sums), dtype=np.float64)
        mean = np.divide(sums, weight[:, None], out=np.zeros_like(sums), where=weight[:, None] > 0)
        # Centre on each component's own mean: a shift shared by all components leaves a
        # difference of large numbers for narrow components far from it.
        k, d = mean.shape
        centre = xp.asarray(mean, dtype=xp.float64, like=x)
        parts, firsts = [], []
        for j in range(k):
            xc = centred(x if x.ndim == 2 else x[j], centre[j])  # (n, d)
            firsts.append(resp[:, j] @ xc)
            if diagonal:
                parts.append(resp[:, j] @ (xc * xc))
            else:
                parts.append((xc * resp[:, j : j + 1]).T @ xc)
        scatter = np.asarray(xp.to_numpy(xp.stack(parts)), dtype=np.float64)
        # sums / weight is off by the rounding of sums, some ulps of the values: for data far
        # from the origin (a column at 1e15, whose ulp is 0.125) as much as their spread, and a
        # constant column there would keep that error as a spread. The rows' own sum of
        # deviations, small and exact, corrects the mean to within rounding of it, and the
        # scatter to the one about the corrected mean (the corrected two-pass formula).
        first = np.asarray(xp.to_numpy(xp.stack(firsts)), dtype=np.float64)  # (k, d)
        step = np.divide(
            first, weight[:, None], out=np.zeros_like(first), where=weight[:, None] > 0
        )
        mean = mean + step
        scatter = scatter - (first * step if diagonal else first[:, :, None] * step[:, None, :])
        return cls(weight, mean, scatter)

    @classmethod
    def from_labels(
        cls,
        x: np.ndarray,
        labels: np.ndarray,
        k: int,
        sample_weight: np.ndarray | None,
        diagonal: bool,
    ) -> GaussianStats:
        """Statistics of NumPy rows ``x`` (n, d) whose components are known, ``labels`` (n,)
        in 0..k-1, weighted by ``sample_weight`` (n,) or None: :meth:`from_data` with
        one-hot responsibilities, each component's from its own rows alone.

        The rows are grouped by component once (a stable sort of the labels), so the pass
        costs what one component's :meth:`from_data` costs on all the rows, not k times it.
        """
        order = np.argsort(labels.astype(np.int16 if k < 2**15 else np.intp), kind="stable")
        rows = np.take(x, order, axis=0)  # (n, d), by component; ten times x[order]'s speed
        w = None if sample_weight is None else np.take(sample_weight, order)
        bounds = np.concatenate([[0], np.cumsum(np.bincount(labels, minlength=k))])
        d = x.shape[1]
        weight, mean = np.zeros(k), np.zeros((k, d))
        scatter = np.zeros((k, d) if diagonal else (k, d, d))
        for j in range(k):
            part = rows[bounds[j] : bounds[j + 1]]  # (n_j, d)
            v = None if w is None else w[bounds[j] : bounds[j + 1]]
            weight[j] = part.shape[0] if v is None else v.sum()
            if weight[j] <= 0:
                continue
            mean[j] = (part.sum(axis=0) if v is None else v @ part) / weight[j]
            xc = part - mean[j]  # (n_j, d)
            first = xc.sum(axis=0) if v is None else v @ xc
            if diagonal:
                scatter[j] = (xc * xc).sum(axis=0) if v is None else v @ (xc * xc)
            else:
                scatter[j] = (xc if v is None else xc * v[:, None]).T @ xc
            # the corrected two-pass formula, as in from_data
            step = first / weight[j]
            mean[j] += step
            scatter[j] -= first * step if diagonal else first[:, None] * step[None, :]
        return cls(weight, mean, scatter)

    def __add__(self, other: GaussianStats) -> GaussianStats:
        return GaussianStats(*merge_centred(self.as_tuple(), other.as_tuple()))

    def as_tuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weight, mean, scatter), as :func:`~emkit.distributions.base.merge_centred` takes."""
        return self.weight, self.mean, self.scatter

    def covariance(self, ridge: float = 0.0) -> np.ndarray:
        """(scatter + ridge I) / weight per component (or its diagonal); 0 for empty components.

        With ``ridge = 0`` this is the maximum-likelihood covariance; with ``ridge > 0`` it is the
        MAP estimate under the prior log p(Sigma) = -ridge/2 tr(Sigma^{-1}) (see
        :class:`~emkit.distributions.regularization.Regularization`).
        """
        return Regularization(ridge).covariance(self.exact_scatter(), self.weight)

    def feature_variances(self) -> np.ndarray:
        """The variance of each feature over all the rows the statistics hold, shape (d,).

        The responsibilities of a row add up to its weight, so the K components' statistics
        merged are those of the whole data: these are the data's scales, whatever the fit. A
        feature without spread (a constant column, or no weight at all) gets the largest
        variance, or 1 when every feature is constant, so that dividing by it is safe.
        """
        weight = self.weight.sum()
        d = self.mean.shape[1]
        if weight <= 0:
            return np.ones(d)
        mean = self.weight @ self.mean / weight  # (d,)
        spread = self.scatter if self.scatter.ndim == 2 else np.diagonal(self.scatter, 0, 1, 2)
        between = self.weight @ (self.mean - mean) ** 2  # (d,)
        variances = (spread.sum(axis=0) + between) / weight
        largest = variances.max(initial=0.0)
        fallback = largest if largest > 0 and np.isfinite(largest) else 1.0
        return np.where(variances > 0, variances, fallback)

    def exact_scatter(self) -> np.ndarray:
        """``scatter`` with spreads at the level of rounding set to exactly zero."""
        scatter = self.scatter.copy()
        variances = scatter if scatter.ndim == 2 else np.diagonal(scatter, axis1=1, axis2=2)
        # A spread below the rounding of the values themselves (a constant column: x - mean is
        # only rounding noise) is exactly zero, so the M-step sees the singularity it is. Rows
        # of distinct values differ by at least half an ulp, eps |mean| / 4, which a column
        # offset far from the origin (at 1e15, 0.06 against a spread of 1) must keep. A
        # variance, so the scatter's floor scales with the weight: a fixed one zeroed the
        # spread of 1 at 1e15 of 200 rows weighted 1e-5 (scatter 0.002 against 0.003).
        noise = self.weight[:, None] * (0.25 * np.finfo(float).eps * self.mean) ** 2
        flat = np.nonzero(variances <= noise)
        if scatter.ndim == 2:
            scatter[flat] = 0.0
        else:
            scatter[flat[0], flat[1], :] = 0.0
            scatter[flat[0], :, flat[1]] = 0.0
        return scatter


@dataclass(frozen=True)
class FusedGaussianStats(GaussianStats):
    """:class:`GaussianStats` of the fused E-step (:mod:`emkit.backend.kernels`), which also
    gathers, in the same pass over the rows, the classification term of mclust's hard ICL.

    Attributes
    ----------
    log_max_resp : sum_n w_n log max_k r_nk over the rows the statistics hold.
    mean_residual : array of shape (k, d), what ``mean`` lost to rounding (the rows' mean is
        ``mean + mean_residual``), or None (0). For data far from the origin (a column at
        1e15, whose ulp is 0.125) the rounding is as large as the rows' spread, and chunks
        merged from their rounded means alone differ from one array's statistics.

    Merged with plain statistics that hold rows, the term is unknown (NaN); plain statistics
    of no rows (:meth:`GaussianStats.zero`) leave it as it is.
    """

    log_max_resp: float = 0.0
    mean_residual: np.ndarray | None = None

    def __add__(self, other: GaussianStats) -> GaussianStats:
        return _merge_residuals(self, other, self.log_max_resp + _term(other))

    def __radd__(self, other: GaussianStats) -> GaussianStats:
        return _merge_residuals(other, self, _term(other) + self.log_max_resp)


def _residual(stats: GaussianStats) -> np.ndarray:
    found = getattr(stats, "mean_residual", None)
    return np.zeros_like(stats.mean) if found is None else found


def _merge_residuals(a: GaussianStats, b: GaussianStats, log_max_resp: float) -> GaussianStats:
    """``a + b`` (Chan, Golub and LeVeque) from the rows' means ``mean + mean_residual``:
    each in deviations from a's rounded mean, where the difference of the two is exact."""
    residual_a, residual_b = _residual(a), _residual(b)
    weight, local, scatter = merge_centred(
        (a.weight, residual_a, a.scatter),
        (b.weight, (b.mean - a.mean) + residual_b, b.scatter),
    )
    mean = a.mean + local
    residual = local - (mean - a.mean)
    # A component without rows in a takes b's mean as it is (a's is 0, far from it).
    only_b = (a.weight <= 0)[:, None]
    mean = np.where(only_b, b.mean, mean)
    residual = np.where(only_b, residual_b, residual)
    return FusedGaussianStats(weight, mean, scatter, log_max_resp, residual)


def _term(stats: GaussianStats) -> float:
    """``log_max_resp`` of statistics: 0 for plain ones of no rows, NaN for other plain ones."""
    if isinstance(stats, FusedGaussianStats):
        return stats.log_max_resp
    return 0.0 if not np.any(stats.weight) else float("nan")
