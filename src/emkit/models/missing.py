r"""Gaussian components and mixtures on rows with values missing at random (NaN).

For a row with observed coordinates :math:`o` and missing coordinates :math:`m`, component
:math:`k` gives (Little and Rubin; Ghahramani and Jordan, 1994)

.. math::

    \hat x_m = \mu_m + \Sigma_{mo}\Sigma_{oo}^{-1}(x_o - \mu_o), \qquad
    C_{mm} = \Sigma_{mm} - \Sigma_{mo}\Sigma_{oo}^{-1}\Sigma_{om},

and the row's observed-data density is the marginal :math:`\mathcal N(x_o \mid \mu_o, \Sigma_{oo})`.
The E-step replaces each row by its conditional mean :math:`\hat x` and adds the conditional
covariance :math:`C` to the scatter, so the statistics are ordinary
:class:`~emkit.distributions.gaussian.GaussianStats` and every covariance structure's M-step
applies unchanged. Rows are grouped by missingness pattern: the conditional formulas are
computed once per pattern and component. :class:`MissingMixture` is
:class:`~emkit.models.mixture.Mixture` with this completion as its evidence; the E-step's
ending and the M-step are the mixture's own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from emkit.backend import numpy_backend
from emkit.backend.namespace import centred, namespace_of
from emkit.distributions.base import LOG_2PI
from emkit.distributions.gaussian import GaussianStats
from emkit.models.mixture import Mixture, MixtureStats

# Where values are missing, a component whose smallest variance the ridge at least doubles is
# collapsed if the completed rows spread along that direction by at most this many times the
# ridge's share of the data's variances squared (what a collapse leaves them).
COMPLETED_SPREAD = 100.0


@dataclass(frozen=True)
class Pattern:
    """Rows sharing one missingness pattern and, per component, their conditional covariance.

    Attributes
    ----------
    rows : int array of shape (n_p,), row indices into the chunk (in the chunk's namespace).
    missing : bool array of shape (d,), the coordinates these rows lack.
    covariance : array of shape (k, m, m), Cov[x_m | x_o, z = k] (the same for every row).
    """

    rows: np.ndarray
    missing: np.ndarray
    covariance: np.ndarray


@dataclass(frozen=True, eq=False)
class Completion:
    """What K Gaussian components say about one chunk whose rows may lack values.

    Attributes
    ----------
    x : array of shape (n, d), the chunk, NaN where missing.
    components : the batched Gaussian components used.
    log_prob : array of shape (n, k), log marginal density of each row's observed coordinates.
    completed : array of shape (k, n, d), E[x_n | x_{n,o}, z = k]; None when nothing is missing.
    patterns : the incomplete patterns, with their conditional covariances.
    """

    x: np.ndarray
    components: Any
    log_prob: np.ndarray
    completed: np.ndarray | None
    patterns: tuple[Pattern, ...]

    def suff_stats(self, resp: np.ndarray) -> CompletedStats:
        """Expected complete-data statistics under responsibilities ``resp`` (n, k).

        The scatter of component k is
        sum_n r_nk [(x_hat_nk - mean_k)(x_hat_nk - mean_k)^T + C_nk].
        """
        if self.completed is None:
            plain = self.components.suff_stats(self.x, resp)
            return CompletedStats(
                plain.weight, plain.mean, plain.scatter, np.zeros_like(plain.scatter)
            )
        stats = GaussianStats.from_data(self.completed, resp, self.components.diagonal_stats)
        xp = namespace_of(resp)
        scatter = np.zeros_like(stats.scatter)  # sum_n r_nk C_nk, (k, d, d) or (k, d)
        components = np.arange(scatter.shape[0])
        for pattern in self.patterns:
            r = xp.to_numpy(resp[pattern.rows].sum(axis=0, dtype=xp.float64))  # (k,)
            miss = np.flatnonzero(pattern.missing)
            if scatter.ndim == 2:
                cond_var = np.diagonal(pattern.covariance, axis1=1, axis2=2)  # (k, m)
                scatter[:, miss] += r[:, None] * cond_var
            else:
                scatter[np.ix_(components, miss, miss)] += r[:, None, None] * pattern.covariance
        return CompletedStats(stats.weight, stats.mean, stats.scatter + scatter, scatter)


@dataclass(frozen=True)
class CompletedStats(GaussianStats):
    r""":class:`GaussianStats` of rows completed by their conditional means, which also keep
    apart the part of the scatter the conditional covariances make.

    The M-step reads ``weight``, ``mean`` and ``scatter`` as ever; the degeneracy verdict
    (:meth:`MissingMixture.degenerate`) reads :meth:`completed`.

    Attributes
    ----------
    conditional : array shaped as ``scatter``, :math:`\sum_n r_{nk} C_{nk}`: the conditional
        covariances of the missing coordinates (zero where nothing is missing). It adds up
        over chunks as it is; merged with plain statistics it is theirs plus zero.
    """

    conditional: np.ndarray

    def __add__(self, other: GaussianStats) -> CompletedStats:
        merged = GaussianStats.__add__(self, other)
        return CompletedStats(*merged.as_tuple(), self.conditional + _conditional_part(other))

    def __radd__(self, other: GaussianStats) -> CompletedStats:
        merged = GaussianStats.__add__(other, self)
        return CompletedStats(*merged.as_tuple(), _conditional_part(other) + self.conditional)

    def completed(self) -> GaussianStats:
        """The statistics of the completed rows alone: the scatter without ``conditional``."""
        return GaussianStats(self.weight, self.mean, self.scatter - self.conditional)


def _conditional_part(stats: GaussianStats) -> np.ndarray:
    """``conditional`` of statistics: zero for plain ones (rows with nothing missing)."""
    if isinstance(stats, CompletedStats):
        return stats.conditional
    return np.zeros_like(stats.scatter)


def complete(components: Any, x: np.ndarray) -> Completion:
    """Marginal log densities and conditional moments of ``x`` (n, d) under each component.

    ``components`` is any batched Gaussian (``means`` (k, d), ``full_covariances()``
    (k, d, d), ``log_prob``, ``suff_stats``, ``diagonal_stats``). A chunk without NaN takes
    the components' own complete-data path. A row with no observed value has log density 0
    and conditional moments equal to the component's mean and covariance.
    """
    xp = namespace_of(x)
    observed = ~xp.isnan(x)
    if observed.all():
        return Completion(x, components, components.log_prob(x), None, ())
    n, d = x.shape
    k = components.n_components
    means = components.means  # (k, d)
    factors, ok = numpy_backend.cholesky(components.full_covariances())  # (k, d, d), L L^T
    if not ok:
        raise np.linalg.LinAlgError("a component's covariance is not positive definite")
    log_prob = xp.empty((n, k), like=x)
    completed = xp.empty((k, n, d), like=x)
    patterns = []
    for obs, host_rows in _patterns(xp.to_numpy(observed)):
        rows = xp.asarray(host_rows, like=x)
        if obs.all():
            log_prob[rows] = components.log_prob(x[rows])
            completed[:, rows] = x[rows]
            continue
        miss = ~obs
        lp, filled, cond_cov = _conditional(means, factors, x[rows], obs, miss)
        log_prob[rows] = lp
        completed[:, rows] = filled
        patterns.append(Pattern(rows, miss, cond_cov))
    return Completion(x, components, log_prob, completed, tuple(patterns))


def _patterns(observed: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Distinct rows of the bool mask ``observed`` (n, d), each with the indices holding it."""
    # One integer key per row (the mask's bits) sorts far faster than rows as records.
    packed = np.packbits(observed, axis=1)  # (n, ceil(d / 8))
    if packed.shape[1] <= 7:
        keys = packed.astype(np.int64) @ (256 ** np.arange(packed.shape[1], dtype=np.int64))
    else:
        keys = np.unique(packed, axis=0, return_inverse=True)[1].ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse))[:-1]
    return list(zip(observed[first], np.split(order, bounds), strict=True))


def _conditional(
    means: np.ndarray, factors: np.ndarray, x: np.ndarray, obs: np.ndarray, miss: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""One pattern's log marginal densities (n_p, k), completed rows (k, n_p, d) and
    conditional covariances (k, m, m), from the covariances' Cholesky factors ``factors``
    (k, d, d).

    With :math:`\Sigma = LL^T`, the rows :math:`L_o` and :math:`L_m` of :math:`L` give
    :math:`\Sigma_{oo} = L_o L_o^T`. A QR factorisation :math:`L_o^T = [Q_1\ Q_2]
    \begin{bmatrix}R\\0\end{bmatrix}` then gives everything: :math:`R^T` is a Cholesky factor
    of :math:`\Sigma_{oo}`, the regression is
    :math:`\Sigma_{mo}\Sigma_{oo}^{-1}(x_o - \mu_o) = L_m Q_1 R^{-T}(x_o - \mu_o)`, and the
    conditional covariance is :math:`(L_m Q_2)(L_m Q_2)^T`, positive semi-definite by
    construction.
    """
    xp = namespace_of(x)
    k = means.shape[0]
    n_p = x.shape[0]
    l_m = factors[:, miss]  # (k, m, d)
    filled = xp.stack([x] * k)  # (k, n_p, d)
    on_miss = xp.asarray(miss, like=x)
    if not obs.any():
        filled[:, :, on_miss] = xp.asarray(means, like=x)[:, None, :]
        log_prob = xp.empty((n_p, k), like=x)
        log_prob[...] = 0.0
        return log_prob, filled, l_m @ l_m.swapaxes(1, 2)
    n_obs = int(obs.sum())
    # The (k, d, o) algebra on the host in float64; only the products with rows run in x's
    # namespace. Every pattern's marginal comes from one Cholesky factor L of Sigma
    # (`factors`, taken once per chunk in `complete`), so the objective is that of one
    # covariance, L L^T, to the rounding of L (condition number the square root of Sigma's).
    # A Cholesky factor of each Sigma_oo taken from its entries instead perturbs each
    # pattern's covariance by its own rounding, amplified by Sigma's condition number: with a
    # nearly singular covariance (data near a plane, held up by the ridge) the objective moved
    # by 1e-10 of itself between two evaluations, and EM's ascent check reported falls.
    q, r = np.linalg.qr(factors[:, obs].swapaxes(1, 2), mode="complete")  # (k, d, d), (k, d, o)
    chol = r[:, :n_obs].swapaxes(1, 2)  # (k, o, o), lower; Sigma_oo = chol chol^T
    on_obs = xp.asarray(obs, like=x)
    # Direct differences from the float64 means: float32 rows on a device get them to float32's
    # resolution of the difference (`centred`), not off by the means' rounding (2^-25 of their
    # size, 3e-3 at 1e5) in every distance; float64 rows as ever.
    rows_obs = x[:, on_obs]  # (n_p, o)
    diff = xp.stack([centred(rows_obs, means[j, obs]) for j in range(k)])  # (k, n_p, o)
    z = xp.solve_triangular(
        xp.asarray(chol, like=x), diff.swapaxes(1, 2), lower=True
    )  # (k, o, n_p)
    # QR leaves the signs of R's diagonal free; the determinant needs only their sizes.
    half_log_det = np.log(np.abs(np.diagonal(chol, axis1=1, axis2=2))).sum(axis=1)  # (k,)
    log_prob = -0.5 * (n_obs * LOG_2PI + (z * z).sum(axis=1)) - xp.asarray(
        half_log_det[:, None], like=x
    )  # (k, n_p)
    shift = xp.asarray(l_m @ q[:, :, :n_obs], like=x) @ z  # (k, m, n_p)
    # The means' rounding to x's dtype (exact in float64, 0 for float64 rows) goes with the
    # regression, so that float32 rows get mean + regression rounded once, not float32(mean)
    # + regression: the means' rounding would otherwise bias every filled value.
    near = xp.asarray(means[:, None, miss], like=x)  # (k, 1, m)
    regression = shift.swapaxes(1, 2)  # (k, n_p, m)
    if near.dtype != xp.float64:
        rest = means[:, None, miss] - xp.to_numpy(near).astype(np.float64)  # exact
        regression = regression + xp.asarray(rest, like=x)
    filled[:, :, on_miss] = near + regression
    spread = l_m @ q[:, :, n_obs:]  # (k, m, d - o)
    return log_prob.T, filled, spread @ spread.swapaxes(1, 2)


@dataclass(frozen=True, eq=False)
class MissingMixture(Mixture):
    r"""Gaussian mixture whose rows may lack values (NaN, missing at random); an immutable value.

    With soft assignment the objective is the observed-data log-likelihood
    :math:`\sum_n w_n \log \sum_k \pi_k \mathcal N(x_{n,o_n} \mid \mu_{k,o_n}, \Sigma_{k,o_n o_n})`
    plus the ridge prior's log-density. With one component it is the multivariate normal of
    :class:`~emkit.GaussianImputer`; with labelled assignment, the semi-supervised model of
    :class:`~emkit.GenerativeClassifier`; on complete rows it equals
    :class:`~emkit.models.mixture.Mixture`. Attributes are the mixture's; ``components`` are
    batched Gaussian components (any covariance structure).
    """

    complete_rows: ClassVar[bool] = False

    def evidence(self, x: np.ndarray) -> Completion:
        """Marginal log densities and conditional moments of rows ``x`` (n, d) with NaN."""
        return complete(self.components, x)

    def discriminant(self, x: np.ndarray) -> np.ndarray:
        """:meth:`Mixture.discriminant`, or the log joint where some row lacks a value."""
        if namespace_of(x).isnan(x).any():
            return self.log_joint(x)
        return super().discriminant(x)

    def degenerate(self, stats: MixtureStats) -> np.ndarray:
        """Collapsed components, bool (k,): :meth:`Mixture.degenerate` on the rows as
        completed, and, where values are missing, judged against the ridge too.

        The test reads the scatter of the completed rows without the conditional
        covariances: those are computed under the fitted, regularised covariance, so along a
        direction where the data have collapsed they hold a conditional variance of the
        ridge's order, and the scatter with them never reaches zero. Without them, the
        complete-data test (an eigenvalue at or below ``Regularization.TOLERANCE`` in units
        of the data's variances) applies unchanged. The conditional means are themselves
        computed under the regularised covariance, so the completed rows sit off a collapsed
        set by the ridge's share of the variance there: their scatter along it is of the order
        of that share squared, below the tolerance only while the ridge is small next to the
        component's weight times the data's variances. Hence, where the fit saw missing
        values, a component is also degenerate where the ridge lifts its smallest variance at
        least as much as the completed rows give it (the smallest eigenvalue of the
        unregularised covariance is at most that the ridge adds to it) and the completed rows
        spread along it by at most ``COMPLETED_SPREAD`` times that share squared, the ridge being
        below the data's variances: along that
        direction the covariance is the ridge's, not the data's. On complete rows the verdict is
        :class:`~emkit.models.mixture.Mixture`'s.
        """
        spread = stats.components
        if not isinstance(spread, CompletedStats):
            return super().degenerate(stats)
        completed = spread.completed()
        verdict = super().degenerate(replace(stats, components=completed))
        if self.component_prior is not None or not self.reg_covar or not spread.conditional.any():
            return verdict
        # The structure's own covariances (pooled where it is tied), with and without the
        # ridge, and their eigenvalues in the data's units.
        structure = type(self.components)
        k = self.components.n_components
        units = completed.feature_variances()
        bare = structure.spectra(structure._covariances_from_stats(completed, 0.0), k, units)
        ridged = structure.spectra(
            structure._covariances_from_stats(completed, self.reg_covar), k, units
        )
        # ... where the completed rows spread along that direction by no more than a collapse
        # leaves them (the ridge's share squared), and the ridge is below the data's variances:
        # a ridge that outweighs data of a tiny scale is a ScaleWarning, not a collapse.
        share = self.reg_covar / units.min()
        lifted = ridged.min(axis=1) >= 2.0 * bare.min(axis=1)
        spread = bare.min(axis=1) <= COMPLETED_SPREAD * share**2
        return verdict | (lifted & spread & (share < 1.0))


def fill_column_means(x: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """``x`` (n, d) with each NaN replaced by its column's (weighted) observed mean: a start."""
    observed = ~np.isnan(x)
    w = np.ones(x.shape[0]) if sample_weight is None else sample_weight
    weights = observed * w[:, None]  # (n, d)
    totals = weights.sum(axis=0)
    sums = (np.where(observed, x, 0.0) * weights).sum(axis=0)
    means = np.divide(sums, totals, out=np.zeros_like(sums), where=totals > 0)
    return np.where(observed, x, means)
