r"""Linear-Gaussian regression: :math:`y \mid x \sim N(x^\top\beta + \beta_0, \sigma^2)`.

A row is :math:`z = (x_1, \dots, x_p, y)`: the response is the **last column**, so a chunk of
regression data is one array and every data source of the engine carries it unchanged.

Statistics are the weighted mean and centred scatter of :math:`z` (a one-component
:class:`~emkit.distributions.gaussian.GaussianStats`, merged with Chan's update). The M-step is
weighted least squares: with intercept,
:math:`\hat\beta = S_{xx}^{-1}S_{xy}`, :math:`\hat\beta_0 = \bar y - \bar x^\top\hat\beta`;
without, the same on uncentred moments. :math:`\hat\sigma^2 = \mathrm{RSS}/W`, or the mode
:math:`(2b + \mathrm{RSS})/(W + 2a + 2)` under an
:class:`~emkit.distributions.priors.InverseGammaPrior` (a, b) on :math:`\sigma^2`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from emkit.distributions.base import LOG_2PI, check_domain, fitted_value, refuse_booleans
from emkit.distributions.gaussian.stats import GaussianStats
from emkit.distributions.priors import InverseGammaPrior
from emkit.distributions.regularization import Regularization

# A column whose centred spread is at most this share of its mean square varies only by the
# rounding of its values (relative steps of eps): a constant column's centred scatter, left by
# rounding, is about 1e-46 of it.
COLLINEAR_SPREAD = (8 * np.finfo(float).eps) ** 2
# Directions of the columns' correlation matrix below this share of its largest eigenvalue
# are dependent (numpy's default for pinv, here in units of each column's spread).
RCOND = 1e-15


def weighted_least_squares(
    stats: GaussianStats, fit_intercept: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted least squares for K regressions from statistics of z = (x, y).

    Parameters
    ----------
    stats : GaussianStats with weight (k,), mean (k, p + 1), scatter (k, p + 1, p + 1).
    fit_intercept : whether each regression has its own intercept.

    Returns
    -------
    coef : array of shape (k, p).
    intercept : array of shape (k,), zeros without intercept.
    rss : array of shape (k,), weighted residual sum of squares at the solution.
    """
    p = stats.mean.shape[1] - 1
    w = stats.weight
    sxx = stats.scatter[:, :p, :p]  # (k, p, p)
    sxy = stats.scatter[:, :p, p]  # (k, p)
    syy = stats.scatter[:, p, p]  # (k,)
    mx, my = stats.mean[:, :p], stats.mean[:, p]
    if fit_intercept:
        # A column constant but for rounding (beside the intercept) says nothing: its row and
        # column of sxx are zeroed, so its coefficient is 0. numpy's pinv, relative to the
        # largest eigenvalue only, inverted that rounding where it was the only column
        # (coefficients of 1e15, the objective falling). The test is a ratio, free of the
        # weights' scale and the column's units.
        spread = np.diagonal(sxx, axis1=1, axis2=2)  # (k, p)
        flat = spread <= COLLINEAR_SPREAD * (spread + w[:, None] * mx**2)
        if flat.any():
            kept = ~flat
            sxx = np.where(kept[:, :, None] & kept[:, None, :], sxx, 0.0)
            sxy = np.where(kept, sxy, 0.0)
    else:
        sxx = sxx + w[:, None, None] * mx[:, :, None] * mx[:, None, :]
        sxy = sxy + w[:, None] * mx * my[:, None]
        syy = syy + w * my**2
    coef = np.stack([_minimum_norm_solution(a, b) for a, b in zip(sxx, sxy, strict=True)])
    rss = np.maximum(syy - np.einsum("ki,ki->k", coef, sxy), 0.0)
    intercept = my - np.einsum("ki,ki->k", mx, coef) if fit_intercept else np.zeros_like(my)
    return coef, intercept, rss


def _minimum_norm_solution(sxx: np.ndarray, sxy: np.ndarray) -> np.ndarray:
    """The least-squares coefficients (p,) of one component from its scatter ``sxx`` (p, p)
    and ``sxy`` (p,): of smallest Euclidean norm where the columns are dependent (fewer
    distinct rows than coefficients; any solution maximises the same likelihood), as
    scikit-learn's and numpy's pseudo-inverse give it.

    The rank is decided in units of each column's spread: numpy's pinv of ``sxx`` itself cuts
    at 1e-15 of the largest eigenvalue, so a real column 1e8 times narrower than another was
    dropped (the M-step then lowered the objective). The dependent directions found there are
    then projected out in the data's units, which makes the solution the minimum-norm one.
    """
    scale = np.sqrt(np.diagonal(sxx))
    scale = np.where(scale > 0, scale, 1.0)
    vals, vecs = np.linalg.eigh(sxx / np.outer(scale, scale))
    kept = vals > RCOND * max(vals.max(initial=0.0), 0.0)
    if not kept.any():
        return np.zeros_like(sxy)
    basis = vecs[:, kept]
    coef = basis @ ((basis.T @ (sxy / scale)) / vals[kept]) / scale
    if kept.all():
        return coef
    null = vecs[:, ~kept] / scale[:, None]  # the dependent directions, in the data's units
    return coef - null @ np.linalg.lstsq(null, coef, rcond=None)[0]


@dataclass(frozen=True, eq=False)
class LinearGaussian:
    """One linear regression; rows are (x, y) with y in the last column.

    Attributes
    ----------
    fit_intercept : bool.
    coef : array of shape (p,), or None before fitting.
    intercept : float.
    variance : float, residual variance :math:`\\sigma^2`.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import LinearGaussian, MixtureModel
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 10, 200)
    >>> y = np.where(rng.uniform(size=200) < 0.5, 1 + 2 * x, 8 - 0.5 * x) + rng.normal(0, 0.5, 200)
    >>> rows = np.column_stack([x, y])  # y in the last column
    >>> mm = MixtureModel([LinearGaussian(), LinearGaussian()], n_init=5, random_state=0).fit(rows)
    >>> sorted((round(c.intercept, 2), round(float(c.coef[0]), 2)) for c in mm.components_)
    [(0.91, 2.01), (8.1, -0.51)]
    """

    name: ClassVar[str] = "linear_gaussian"
    prior_type: ClassVar[type] = InverseGammaPrior
    fit_intercept: bool = True
    coef: np.ndarray | None = None
    intercept: float = 0.0
    variance: float | None = None

    def __post_init__(self):
        for attr in ("coef", "intercept", "variance"):
            refuse_booleans(getattr(self, attr), f"LinearGaussian {attr}")
        if self.coef is not None:
            object.__setattr__(self, "coef", np.atleast_1d(np.asarray(self.coef, dtype=float)))
            check_domain("LinearGaussian", "coef", self.coef, "real")
        check_domain("LinearGaussian", "intercept", np.asarray(self.intercept, float), "real")
        if self.variance is not None:
            check_domain("LinearGaussian", "variance", np.asarray(self.variance, float), "positive")

    def for_data(self, x: np.ndarray) -> LinearGaussian:
        """This family unchanged: it needs nothing from the data before fitting."""
        return self

    @property
    def fitted(self) -> bool:
        return self.coef is not None and self.variance is not None

    def in_support(self, x: np.ndarray) -> np.ndarray:
        """Every row, bool (n,): the support is the whole real line."""
        return np.ones(x.shape[0], dtype=bool)

    def check_support(self, x: np.ndarray) -> None:
        if x.shape[1] < 2:
            raise ValueError(
                "a LinearGaussian component needs rows (x_1, ..., x_p, y) with the response in "
                f"the last column: at least 2 columns; got {x.shape[1]}"
            )

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Mean of y for covariates ``x`` (n, p), shape (n,)."""
        return x @ fitted_value(self, "coef", self.coef) + self.intercept

    def log_prob(self, z: np.ndarray) -> np.ndarray:
        """Log density of y given x for each row of ``z`` = (x, y), shape (n,)."""
        resid = z[:, -1] - self.predict(z[:, :-1])
        variance = fitted_value(self, "variance", self.variance)
        return -0.5 * (LOG_2PI + np.log(variance) + resid**2 / variance)

    def row_moments(self, stats: GaussianStats, n_features: int) -> tuple:
        """The rows' weight, and each column's mean and centred scatter (of x and y), (d,)."""
        scatter = np.diagonal(stats.scatter[0]) if stats.scatter.ndim == 3 else stats.scatter[0]
        return float(stats.weight[0]), np.asarray(stats.mean[0]), np.asarray(scatter)

    def suff_stats(self, z: np.ndarray, w: np.ndarray) -> GaussianStats:
        return GaussianStats.from_data(z, w[:, None], diagonal=False)

    def from_stats(
        self, stats: GaussianStats, prior: InverseGammaPrior | None = None
    ) -> LinearGaussian:
        weight = float(stats.weight[0])
        if weight <= 0 and prior is None:
            return self
        if prior is None and self.fitted and self.degenerate(stats):
            # A line through the rows it holds has no residual variance: 0 would make every
            # density 0 or infinite. Keep the previous parameters (EM still cannot descend);
            # ``degenerate`` reports the collapse.
            return self
        coef, intercept, rss = weighted_least_squares(stats, self.fit_intercept)
        variance = rss[0] / weight if prior is None else prior.mode(weight, rss[0])
        return LinearGaussian(self.fit_intercept, coef[0], float(intercept[0]), float(variance))

    def log_prior(self, prior: InverseGammaPrior) -> float:
        return prior.log_density(fitted_value(self, "variance", self.variance))

    def degenerate(
        self,
        stats: GaussianStats,
        prior: InverseGammaPrior | None = None,
        pooled: GaussianStats | None = None,
    ) -> bool:
        """True if the residual variance has collapsed: a line through its rows to within
        rounding of their response's own scatter, or a residual variance at or below
        :attr:`~emkit.distributions.regularization.Regularization.TOLERANCE` of the response's
        variance over the ``pooled`` statistics (the data's)."""
        if stats.weight[0] <= 1e-10:
            return True
        _, _, rss = weighted_least_squares(stats, self.fit_intercept)
        scale = max(float(stats.scatter[0, -1, -1]), np.finfo(float).tiny)
        if rss[0] <= 1e-10 * scale:
            return True
        if pooled is None or pooled.weight[0] <= 0:
            return False
        # Rows a millionth of the data's spread of y from a line (near-duplicates of y where
        # the line is flat) give a likelihood without bound, whatever their own scatter.
        spread = float(pooled.scatter[0, -1, -1] / pooled.weight[0])
        return bool(rss[0] / stats.weight[0] <= Regularization.TOLERANCE * spread)

    def n_parameters(self, n_features: int) -> int:
        return (n_features - 1) + int(self.fit_intercept) + 1

    def parameter_widths(self) -> dict[str, int]:
        """``coef`` (p,) is for rows of p + 1 columns: the covariates and the response."""
        return {} if self.coef is None else {"coef": self.coef.shape[0] + 1}

    def sample(self, n: int, rng: np.random.Generator, n_features: int | None = None):
        raise ValueError(
            "a LinearGaussian component models y given x: it cannot draw the covariates x"
        )

    def to_dict(self) -> dict:
        return {
            "family": self.name,
            "fit_intercept": self.fit_intercept,
            "coef": None if self.coef is None else self.coef.tolist(),
            "intercept": self.intercept,
            "variance": self.variance,
        }
