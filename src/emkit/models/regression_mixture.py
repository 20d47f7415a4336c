r"""K linear regressions as batched mixture components: a mixture of regressions.

A chunk of regression data is one array whose rows are :math:`z = (x_1, \dots, x_p, y)` (the
response in the last column), so every data source of the engine carries it unchanged. Each
component is :math:`y \mid x \sim N(x^\top\beta_k + \beta_{0k}, \sigma_k^2)`; its M-step is
weighted least squares with weights :math:`r_{nk}` (see
:func:`~emkit.distributions.linear_gaussian.weighted_least_squares`) and
:math:`\sigma_k^2 = \mathrm{RSS}_k / N_k`, or one pooled :math:`\sigma^2 = \sum_k
\mathrm{RSS}_k / N` with ``equal_variance``.

With a variance per component the likelihood is unbounded: a line through a few points drives
:math:`\sigma_k \to 0`. :class:`RegressionMixture` never returns such a component: its M-step
re-seeds it at a fresh random line (as mixtools restarts), a step the EM loop records as a
structure change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from emkit.backend.family_pass import mixture_sums
from emkit.distributions.base import LOG_2PI
from emkit.distributions.gaussian.stats import GaussianStats
from emkit.distributions.linear_gaussian import weighted_least_squares
from emkit.distributions.regularization import Regularization
from emkit.models.mixture import Mixture, MixtureStats

# A line narrower than sigma_ratio of the widest counts as collapsed only where it holds fewer
# effective rows than this many times its free parameters + 1: a few rows near a line by
# chance. With more, the narrow line is the data's: two regimes with noise 0.02 and 1 (150
# rows each) were re-seeded 400 times and ended on one shared sigma of 0.69.
NARROW_ROWS = 5.0


@dataclass(frozen=True, eq=False)
class LinearRegressions:
    """K regressions of y on x; an immutable value.

    Attributes
    ----------
    coef : array of shape (k, p).
    intercept : array of shape (k,).
    variances : array of shape (k,), residual variances (all equal with ``equal_variance``).
    fit_intercept : bool.
    equal_variance : bool, one residual variance shared by all components.
    exact_share : a component whose weighted residual sum of squares is at most this share of
        its response's weighted scatter (about its mean where lines have an intercept) fits
        its rows exactly, to rounding, and counts as collapsed (negative: never). A share of
        the component's own scatter, so a narrow line that many rows follow closely is the
        data's whatever the scale of the other lines.
    sigma_ratio : a component of fewer than ``NARROW_ROWS`` times ``min_rows`` effective rows
        whose sigma falls below this fraction of the largest sigma counts as collapsed (after
        Hathaway's 1985 constraint on the ratio of scales; 0: never).
    variance_ridge : c in the prior -c / (2 sigma^2) on the shared variance
        (``equal_variance`` only), whose MAP is (RSS + c) / N: it keeps a fit whose lines pass
        through every row finite.
    """

    coef: np.ndarray
    intercept: np.ndarray
    variances: np.ndarray
    fit_intercept: bool = True
    equal_variance: bool = False
    exact_share: float = 0.0
    variance_ridge: float = 0.0
    sigma_ratio: float = 0.0

    @property
    def n_components(self) -> int:
        return self.coef.shape[0]

    @property
    def n_coefficients(self) -> int:
        return self.coef.shape[1] + int(self.fit_intercept)

    @property
    def min_rows(self) -> float:
        """Effective rows a component needs: its free parameters (coefficients, sigma) + 1."""
        return self.n_coefficients + 2.0

    def means(self, x: np.ndarray) -> np.ndarray:
        """Mean of y under each component for covariates ``x`` (n, p), shape (n, k)."""
        return x @ self.coef.T + self.intercept

    def log_prob(self, z: np.ndarray) -> np.ndarray:
        """log N(y_n | x_n' beta_k + b_k, sigma_k^2) for rows z = (x, y), shape (n, k)."""
        resid = z[:, -1:] - self.means(z[:, :-1])  # (n, k)
        return -0.5 * (LOG_2PI + np.log(self.variances) + resid**2 / self.variances)

    def suff_stats(self, z: np.ndarray, resp: np.ndarray) -> GaussianStats:
        return GaussianStats.from_data(z, resp, diagonal=False)

    def log_density(self, z: np.ndarray, cache: dict) -> np.ndarray:
        """``log_prob`` component-major, shape (k, m): the kernel of the one-pass E-step."""
        resid = z[:, -1] - self.coef @ z[:, :-1].T - self.intercept[:, None]  # (k, m)
        resid *= resid
        resid /= self.variances[:, None]
        resid += (LOG_2PI + np.log(self.variances))[:, None]
        resid *= -0.5
        return resid

    def sums(self, z: np.ndarray, resp: np.ndarray, cache: dict) -> GaussianStats:
        """Statistics of rows ``z`` under weighted responsibilities ``resp`` (k, m)."""
        return GaussianStats.from_data(z, resp.T, diagonal=False)

    def stats(self, weight: np.ndarray, sums: GaussianStats) -> GaussianStats:
        return sums

    def fused_e_step(
        self, z: np.ndarray, log_weights: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> tuple[GaussianStats, float]:
        """Statistics and log-likelihood of rows ``z`` in one blocked pass
        (:mod:`emkit.backend.family_pass`), this object its own kernel."""
        return LinearRegressions.fused_e_step_many([self], [log_weights], z, sample_weight)[0]

    @staticmethod
    def fused_e_step_many(
        components: list[LinearRegressions],
        log_weights: list[np.ndarray],
        z: np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> list[tuple[GaussianStats, float]]:
        """``fused_e_step`` of several mixtures of regressions on one chunk."""
        mixtures = [
            (np.asarray(lw, dtype=np.float64), ((slice(None), c),))
            for c, lw in zip(components, log_weights, strict=True)
        ]
        return [(sums[0], loglik) for _, sums, loglik in mixture_sums(z, sample_weight, mixtures)]

    def to_vector(self) -> np.ndarray:
        """(coef / sigma, intercept / sigma, log variance) of every component (SQUAREM's
        unconstrained parameters; rescaling y only shifts them)."""
        sigma = np.sqrt(self.variances)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.concatenate(
                [(self.coef / sigma).ravel(), self.intercept / sigma[:, 0], np.log(self.variances)]
            )

    def from_vector(self, vector: np.ndarray) -> LinearRegressions:
        k, p = self.coef.shape
        variances = np.exp(vector[k * p + k :])
        sigma = np.sqrt(variances)
        coef = vector[: k * p].reshape(k, p) * sigma[:, None]
        intercept = vector[k * p : k * p + k] * sigma
        if not self.fit_intercept:
            intercept = self.intercept
        if self.equal_variance:
            variances = np.full(k, variances.mean())
        return replace(self, coef=coef, intercept=intercept, variances=variances)

    def _estimate(self, stats: GaussianStats):
        """Weighted least squares per component: coef, intercept, variances and which
        components collapsed, bool (k,)."""
        coef, intercept, rss = weighted_least_squares(stats, self.fit_intercept)
        scatter = stats.scatter[:, -1, -1]  # (k,) the response's, about its mean
        if not self.fit_intercept:
            scatter = scatter + stats.weight * stats.mean[:, -1] ** 2
        if self.equal_variance:
            pooled = (rss.sum() + self.variance_ridge) / stats.weight.sum()
            variances = np.full(self.n_components, pooled)
            exact = rss.sum() <= self.exact_share * scatter.sum()
            collapsed = np.full(self.n_components, exact)
        else:
            # Rows no more than the coefficients can be fitted exactly; a line through a few
            # more still drives sigma towards 0, far below the other components' scale. A
            # narrow line through many rows is the data's (one regime measured 50x more
            # precisely than another), not a collapse.
            small = stats.weight < self.min_rows
            variances = np.divide(rss, stats.weight, out=np.zeros_like(rss), where=~small)
            narrow = variances < self.sigma_ratio**2 * variances.max()
            few = stats.weight < NARROW_ROWS * self.min_rows
            exact = rss <= self.exact_share * scatter
            # Rows within a millionth of the data's spread of y from the line (near-duplicates
            # of y where it is flat), however many: their own scatter is as small, so the
            # share above misses them, and the likelihood has no bound (as GaussianMixture
            # judges a covariance against the data's variances).
            spike = variances <= Regularization.TOLERANCE * stats.feature_variances()[-1]
            collapsed = small | (narrow & few) | exact | (spike & ~small)
        return coef, intercept, variances, collapsed

    def collapsed(self, stats: GaussianStats) -> np.ndarray:
        """Components the M-step would collapse (too few rows, or a vanishing sigma), bool (k,)."""
        return self._estimate(stats)[3]

    @property
    def ridge(self) -> float:
        """0: no covariance ridge (``variance_ridge`` is part of the fixed objective)."""
        return 0.0

    def m_step(self, stats: GaussianStats, prior: Any = None) -> LinearRegressions:
        """Weighted least squares per component (collapsed ones included: see ``collapsed``)."""
        coef, intercept, variances, _ = self._estimate(stats)
        return replace(self, coef=coef, intercept=intercept, variances=variances)

    def log_prior(self, prior: Any = None) -> float:
        """The ridge prior on the shared variance, -c / (2 sigma^2) (0 without a ridge)."""
        if not self.variance_ridge:
            return 0.0
        return -0.5 * self.variance_ridge / float(self.variances[0])

    def take(self, keep: np.ndarray) -> LinearRegressions:
        return replace(
            self,
            coef=self.coef[keep],
            intercept=self.intercept[keep],
            variances=self.variances[keep],
        )

    def degenerate(self, stats: GaussianStats, prior: Any = None) -> np.ndarray:
        """Components that hold fewer effective rows than free parameters + 1, or whose
        residual variance is at most ``Regularization.TOLERANCE`` of the response's variance
        over all the rows (a variance per component only), bool (k,)."""
        few = stats.weight < self.min_rows
        if self.equal_variance:
            return few
        _, _, rss = weighted_least_squares(stats, self.fit_intercept)
        variances = np.divide(rss, stats.weight, out=np.zeros_like(rss), where=~few)
        spike = variances <= Regularization.TOLERANCE * stats.feature_variances()[-1]
        return few | spike


@dataclass(frozen=True, eq=False)
class RegressionMixture:
    """A mixture of :class:`LinearRegressions` whose M-step re-seeds a collapsed line; a value.

    Where the M-step would collapse a component (see :meth:`LinearRegressions.collapsed`),
    the M-step starts the run over instead, as mixtools does: the first such component of
    ``start`` gets a fresh line and variance from ``seed()`` and the weight 1/k (weights
    renormalised), the other components keep their starting values, and that is the next
    model (and the new ``start``). ``structure`` counts the re-seeds, so the EM loop lists
    that step in ``structure_changes`` and skips its ascent check (the climb starts over).
    After ``max_reseeds`` re-seeds the model stays where it is and every component is
    degenerate, so the driver ranks the start last.

    Attributes
    ----------
    mixture : Mixture of LinearRegressions components.
    seed : callable () -> (coef of shape (p,), intercept, variance), a fresh random line;
        None never re-seeds.
    max_reseeds : re-seeds allowed.
    n_reseeds : re-seeds made so far.
    exhausted : True once a collapse found no re-seed left.
    start : the model the climb started from (default: ``mixture``).
    """

    mixture: Mixture
    seed: Callable[[], tuple[np.ndarray, float, float]] | None = None
    max_reseeds: int = 0
    n_reseeds: int = 0
    exhausted: bool = False
    start: Mixture | None = None

    def __post_init__(self):
        if self.start is None:
            object.__setattr__(self, "start", self.mixture)

    @property
    def n_components(self) -> int:
        return self.mixture.n_components

    @property
    def structure(self) -> tuple:
        return self.mixture.structure, self.n_reseeds

    def e_step(self, z: np.ndarray, sample_weight: np.ndarray | None = None):
        """Statistics of rows ``z`` = (x, y), shape (n, p + 1), and their log-likelihood."""
        return self.mixture.e_step(z, sample_weight)

    def log_prior(self) -> float:
        return self.mixture.log_prior()

    @staticmethod
    def e_step_many(models: list[RegressionMixture], z: np.ndarray, sample_weight):
        """``e_step`` of several runs in one pass (batched restarts), or None."""
        return Mixture.e_step_many([m.mixture for m in models], z, sample_weight)

    def to_vector(self) -> np.ndarray | None:
        """The mixture's parameter vector (SQUAREM)."""
        return self.mixture.to_vector()

    def from_vector(self, vector: np.ndarray) -> RegressionMixture:
        return replace(self, mixture=self.mixture.from_vector(vector))

    def degenerate(self, stats: MixtureStats) -> np.ndarray:
        degenerate = self.mixture.degenerate(stats)
        return degenerate | self.exhausted

    def m_step(self, stats: MixtureStats) -> RegressionMixture:
        if self.exhausted:
            return self
        collapsed = self.mixture.components.collapsed(stats.components)
        if self.seed is None or not collapsed.any():
            return replace(self, mixture=self.mixture.m_step(stats))
        if self.n_reseeds >= self.max_reseeds:
            return replace(self, exhausted=True)
        return self.reseeded(int(np.flatnonzero(collapsed)[0]))

    def reseeded(self, j: int) -> RegressionMixture:
        """The run started over from ``start`` with component ``j`` at a fresh line."""
        coef, intercept, variance = self.seed()  # type: ignore[misc]
        start: Mixture = self.start  # type: ignore[assignment]
        c = start.components
        new_coef, new_intercept, new_var = c.coef.copy(), c.intercept.copy(), c.variances.copy()
        new_coef[j], new_intercept[j] = coef, intercept
        if not c.equal_variance:
            new_var[j] = variance
        weights = start.weights.copy()
        weights[j] = 1.0 / self.n_components
        components = replace(c, coef=new_coef, intercept=new_intercept, variances=new_var)
        mixture = replace(start, weights=weights / weights.sum(), components=components)
        return replace(self, mixture=mixture, n_reseeds=self.n_reseeds + 1, start=mixture)
