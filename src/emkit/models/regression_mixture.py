r"""K linear regressions as batched mixture components: a mixture of regressions.

A chunk of regression data is one array whose rows are :math:`z = (x_1, \dots, x_p, y)` (the
response in the last column), so every data source of the engine carries it unchanged. Each
component is :math:`y \mid x \sim N(x^\top\beta_k + \beta_{0k}, \sigma_k^2)`; its M-step is
weighted least squares with weights :math:`r_{nk}` (see
:func:`~emkit.distributions.linear_gaussian.weighted_least_squares`) and
:math:`\sigma_k^2 = \mathrm{RSS}_k / N_k`, or one pooled :math:`\sigma^2 = \sum_k
\mathrm{RSS}_k / N` with ``equal_variance``.

With a variance per component the likelihood is unbounded: a line through a few points drives
:math:`\sigma_k \to 0`. The M-step raises :class:`ComponentCollapse` instead of returning such
a component, so the estimator can re-seed it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from emkit.distributions.gaussian.stats import GaussianStats
from emkit.distributions.linear_gaussian import weighted_least_squares

LOG_2PI = float(np.log(2.0 * np.pi))


class ComponentCollapse(Exception):
    """A regression component collapsed (too few rows, or a vanishing variance)."""

    def __init__(self, component: int):
        super().__init__(f"regression component {component} collapsed")
        self.component = component


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
    variance_floor : a component variance at or below it counts as collapsed (negative: never).
    sigma_ratio : a component whose sigma falls below this fraction of the largest sigma counts
        as collapsed (Hathaway's 1985 constraint on the ratio of scales; 0: never).
    ridge : c in the prior -c / (2 sigma^2) on the shared variance (``equal_variance`` only),
        whose MAP is (RSS + c) / N: it keeps a fit whose lines pass through every row finite.
    """

    coef: np.ndarray
    intercept: np.ndarray
    variances: np.ndarray
    fit_intercept: bool = True
    equal_variance: bool = False
    variance_floor: float = 0.0
    ridge: float = 0.0
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

    def m_step(self, stats: GaussianStats, reg_covar: float = 0.0) -> LinearRegressions:
        """Weighted least squares per component; raises :class:`ComponentCollapse`."""
        coef, intercept, rss = weighted_least_squares(stats, self.fit_intercept)
        if self.equal_variance:
            pooled = (rss.sum() + self.ridge) / stats.weight.sum()
            variances = np.full(self.n_components, pooled)
            collapsed = variances <= self.variance_floor
        else:
            # Rows no more than the coefficients can be fitted exactly; a line through a few
            # more still drives sigma towards 0, far below the other components' scale.
            small = stats.weight < self.min_rows
            variances = np.divide(rss, stats.weight, out=np.zeros_like(rss), where=~small)
            narrow = variances < self.sigma_ratio**2 * variances.max()
            collapsed = small | narrow | (variances <= self.variance_floor)
        if collapsed.any():
            raise ComponentCollapse(int(np.flatnonzero(collapsed)[0]))
        return replace(self, coef=coef, intercept=intercept, variances=variances)

    def log_prior(self, reg_covar: float = 0.0) -> float:
        """The ridge prior on the shared variance, -c / (2 sigma^2) (0 without a ridge)."""
        return -0.5 * self.ridge / float(self.variances[0]) if self.ridge else 0.0

    def take(self, keep: np.ndarray) -> LinearRegressions:
        return replace(
            self,
            coef=self.coef[keep],
            intercept=self.intercept[keep],
            variances=self.variances[keep],
        )

    def degenerate(self, stats: GaussianStats) -> np.ndarray:
        """Components that hold fewer effective rows than free parameters + 1, bool (k,)."""
        return stats.weight < self.min_rows
