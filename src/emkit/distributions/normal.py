r"""Univariate normal family, one mean and variance per feature (independent features).

.. math:: \log p(x) = -\tfrac12\sum_j \log(2\pi v_j) + (x_j - \mu_j)^2 / v_j.

Statistics are the weight :math:`W`, weighted mean and centred scatter
:math:`S = \sum_n w_n (x_n - \bar x)^2`, merged with Chan, Golub and LeVeque's update. M-step:
:math:`\hat\mu = \bar x`, :math:`\hat v = S / W`, or the mode under a
:class:`~emkit.distributions.priors.NormalInverseGamma` prior.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import numpy as np

from emkit.distributions.base import LOG_2PI, IndependentFeatures, feature_pairs, merge_centred
from emkit.distributions.batched import LinearKernel, RowFeatures, as_float64, stacked
from emkit.distributions.priors import NormalInverseGamma
from emkit.distributions.regularization import Regularization

# (mu - c)^2 / v above this, for the shift c of the features: the expansion of (x - mu)^2 could
# lose more than ~1e-12 relative accuracy (as in emkit.backend.kernels); the members' own
# log_prob and suff_stats are used instead.
MAX_SPREAD = 1e4


@dataclass(frozen=True)
class NormalStats:
    """Weight W (float), weighted mean (d,) and centred scatter (d,)."""

    weight: float
    mean: np.ndarray
    scatter: np.ndarray

    def __add__(self, other: NormalStats) -> NormalStats:
        return NormalStats(*merge_centred(self.as_tuple(), other.as_tuple()))

    def as_tuple(self) -> tuple[float, np.ndarray, np.ndarray]:
        """(weight, mean, scatter), as :func:`~emkit.distributions.base.merge_centred` takes."""
        return self.weight, self.mean, self.scatter


@dataclass(frozen=True, eq=False)
class Normal(IndependentFeatures):
    """Independent normal features; ``mean`` and ``variance`` of shape (d,), or None.

    Attributes
    ----------
    mean : array of shape (d,); or None before fitting.
    variance : array of shape (d,), positive; or None before fitting.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import MixtureModel, Normal
    >>> Normal(mean=[0.0], variance=[4.0]).log_prob(np.array([[0.0], [2.0]])).round(4)
    array([-1.6121, -2.1121])
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(-2, 1, 150), rng.normal(3, 0.5, 100)])[:, None]
    >>> mm = MixtureModel([Normal(), Normal()], random_state=0).fit(x)
    >>> mm.weights_.round(3)
    array([0.6, 0.4])
    >>> [(c.mean.round(2), c.variance.round(2)) for c in mm.components_]
    [(array([-1.94]), array([0.92])), (array([2.95]), array([0.3]))]
    """

    name: ClassVar[str] = "normal"
    params: ClassVar[tuple[str, ...]] = ("mean", "variance")
    domains: ClassVar[dict[str, str]] = {"mean": "real", "variance": "nonnegative"}
    model_domains: ClassVar[dict[str, str]] = {"variance": "positive"}
    prior_type: ClassVar[type] = NormalInverseGamma
    fixed_support: ClassVar[bool] = True
    mean: np.ndarray | None = None
    variance: np.ndarray | None = None

    def in_support(self, x: np.ndarray) -> np.ndarray:
        """Every row, bool (n,): the support is the whole real line."""
        return np.ones(x.shape[0], dtype=bool)

    def check_support(self, x: np.ndarray) -> None:
        return None

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Log density of each row of ``x`` (n, d), shape (n,)."""
        mean, variance = self._fitted("mean"), self._fitted("variance")
        z2 = (x - mean) ** 2 / variance  # (n, d)
        return -0.5 * (LOG_2PI * x.shape[1] + np.log(variance).sum() + z2.sum(axis=1))

    def row_moments(self, stats: NormalStats, n_features: int) -> tuple:
        """The rows' weight, each column's mean and centred scatter, (d,) each: the
        statistics themselves."""
        return float(stats.weight), np.asarray(stats.mean), np.asarray(stats.scatter)

    def suff_stats(self, x: np.ndarray, w: np.ndarray) -> NormalStats:
        weight = float(w.sum())
        if weight <= 0:
            return NormalStats(0.0, np.zeros(x.shape[1]), np.zeros(x.shape[1]))
        mean = (w @ x) / weight
        deviation = x - mean
        # The rows' own sum of deviations corrects the mean's rounding (some ulps of the
        # values: for a column offset to 1e15, as much as its spread), and the scatter to the
        # corrected mean (the corrected two-pass formula); a constant column then has none.
        # Rounding may leave a tiny negative where the rows sit on one value (a column at
        # 1e20, whose deviations are its ulps), as in the kernel's statistics.
        first = w @ deviation
        step = first / weight
        return NormalStats(weight, mean + step, np.maximum(w @ deviation**2 - first * step, 0.0))

    @classmethod
    def kernel(cls, members: Sequence[Normal]) -> LinearKernel | None:
        r"""K normal components at once, in the rows' deviations :math:`y = x - c` from the
        components' average mean :math:`c`: :math:`T = (y, y^2)`, :math:`\eta = (g / v,
        -1/(2v))` with :math:`g = \mu - c`, :math:`c_k = -\tfrac12\sum_j \log(2\pi v_j) +
        g_j^2 / v_j`; the statistics are centred from the same sums. None where a variance is 0
        or a component lies too far from :math:`c` (``MAX_SPREAD``)."""
        mean, variance = stacked(members, "mean"), stacked(members, "variance")  # (k, d)
        if not np.all((variance > 0) & np.isfinite(variance) & np.isfinite(mean)):
            return None
        shift = mean.mean(axis=0)  # (d,)
        gap = mean - shift
        if np.max(gap**2 / variance) > MAX_SPREAD:
            return None
        coef = np.hstack([gap / variance, -0.5 / variance])  # (k, 2d)
        const = -0.5 * (LOG_2PI + np.log(variance) + gap**2 / variance).sum(axis=1)
        return LinearKernel(
            ("normal", shift.tobytes()),
            partial(_deviation_features, shift),
            coef,
            const,
            partial(_normal_stats, shift),
            rows_only=False,  # deviations from the components' average mean
        )

    def to_vector(self) -> np.ndarray:
        """(mean / sd, log variance), shape (2d,) (SQUAREM's unconstrained parameters).

        Unitless up to a shift: rescaling the data changes no difference of two such vectors,
        so SQUAREM's steps, and where a fit stops, do not depend on the data's units.
        """
        mean, variance = self._fitted("mean"), self._fitted("variance")
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.concatenate([mean / np.sqrt(variance), np.log(variance)])

    def from_vector(self, vector: np.ndarray) -> Normal:
        d = vector.shape[0] // 2
        variance = np.exp(vector[d:])
        return Normal(vector[:d] * np.sqrt(variance), variance)

    def local_scores(self, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""Each row's gradient of ``log_prob`` (n, 2d) and the Hessian of
        :math:`\sum_n w_n \log p(x_n)` (2d, 2d) in the local coordinates (t, log variance),
        :math:`t = (\mu - \hat\mu) / \hat\sigma` counted from the fitted mean in fitted
        standard deviations. With :math:`z = (x - \mu)/\sigma`: scores :math:`(z, (z^2 -
        1)/2)`, Hessian per feature :math:`-[[1, z], [z, z^2/2]]` summed. Unlike
        ``to_vector``'s mean / sd, whose differences at a mean of 1e6 sd move the variance
        direction too, these are orthogonal at the fit wherever the data sit."""
        mean, variance = self._fitted("mean"), self._fitted("variance")
        z = (as_float64(x) - mean) / np.sqrt(variance)  # (n, d)
        scores = np.hstack([z, 0.5 * (z * z - 1.0)])
        weight = np.full(mean.shape, -float(w.sum()))
        return scores, feature_pairs(weight, -(w @ z), -0.5 * (w @ (z * z)))

    def local_jacobian(self) -> np.ndarray:
        """Jacobian of (mean, variance) with respect to ``local_scores``' coordinates,
        (2d, 2d): diag(sd, variance)."""
        variance = self._fitted("variance")
        return np.diag(np.concatenate([np.sqrt(variance), variance]))

    def from_stats(self, stats: NormalStats, prior: NormalInverseGamma | None = None) -> Normal:
        if prior is not None:
            if stats.weight > 0:
                return Normal(*prior.mode(stats.weight, stats.mean, stats.scatter))
            # No rows (their weights underflow to 0): the prior's own mode where it has one;
            # the ridge's prior (reg_covar) has none, its variance would be c / 0.
            with np.errstate(divide="ignore", invalid="ignore"):
                mean, variance = prior.mode(stats.weight, stats.mean, stats.scatter)
            if np.all(np.isfinite(mean)) and np.all((variance > 0) & np.isfinite(variance)):
                return Normal(mean, variance)
            return self
        if stats.weight <= 0:
            return self
        return Normal(stats.mean, stats.scatter / stats.weight)

    def log_prior(self, prior: NormalInverseGamma) -> float:
        return prior.log_density(self._fitted("mean"), self._fitted("variance"))

    def degenerate(
        self,
        stats: NormalStats,
        prior: NormalInverseGamma | None = None,
        pooled: NormalStats | None = None,
    ) -> bool:
        """True if the rows it holds sit on (nearly) a single value in some feature.

        A variance at or below :attr:`~emkit.distributions.regularization.Regularization.TOLERANCE`
        of the ``pooled`` statistics' variance of that feature (the data's, as
        ``GaussianMixture`` judges its covariances), or at the level of the values' rounding.
        """
        if stats.weight <= 1e-10:
            return True
        variance = stats.scatter / stats.weight
        # At the level of the values' rounding: distinct values differ by at least half an
        # ulp, eps |mean| / 4, so values offset far from the origin (a column at 1e15 with a
        # spread of 1) are not nearly one value, and a collapse onto 0 leaves variance 0.
        floor = (0.25 * np.finfo(float).eps * stats.mean) ** 2
        if pooled is not None and pooled.weight > 0:
            # Relative to the data's spread, not to the values' magnitude or in absolute
            # terms, so the verdict is the same in any units and at any offset: rows a
            # millionth of the data's standard deviation apart are a spike whose likelihood
            # grows without bound.
            floor = np.maximum(floor, Regularization.TOLERANCE * pooled.scatter / pooled.weight)
        return bool(np.any(variance <= floor))

    def sample(self, n: int, rng: np.random.Generator, n_features: int | None = None):
        mean, variance = self._fitted("mean"), self._fitted("variance")
        return mean + np.sqrt(variance) * rng.standard_normal((n, mean.shape[0]))

    def asymptotic_covariance(self, scale: np.ndarray | None = None) -> np.ndarray:
        r"""Covariance of the MLE of (``mean``, ``variance``) raveled in that order from one row,
        (2d, 2d): the inverse Fisher information :math:`\operatorname{diag}(v, 2v^2)`,
        means and variances uncorrelated; divide by N for N rows. Divided by ``outer(scale,
        scale)`` when ``scale`` (2d,) is given, without forming :math:`v^2` (which leaves
        float64's range beyond about 1e154)."""
        variance = np.asarray(self.variance, dtype=float)  # (d,)
        if scale is None:
            return np.diag(np.concatenate([variance, 2 * variance**2]))
        d = variance.size
        sd = np.sqrt(variance)
        return np.diag(np.concatenate([(sd / scale[:d]) ** 2, 2 * (variance / scale[d:]) ** 2]))

    def conjugate_update(self, stats: NormalStats, hyper: dict) -> dict:
        r"""Posterior :class:`NormalInverseGamma` hyperparameters from prior ones and the
        statistics, keyed by its fields (``mean``, ``shrinkage``, ``shape``, ``scale``; (d,)).

        :math:`\kappa' = \kappa + W`, :math:`m' = (\kappa m + W\bar x)/\kappa'`,
        :math:`b' = b + S/2 + \kappa W(\bar x - m)^2/(2\kappa')` and
        :math:`a' = a + W/2 - [\kappa = 0 < \kappa']/2`: the prior's density carries the
        mean's :math:`v^{-1/2}` only when :math:`\kappa > 0`, the posterior's always, so the
        mode of the posterior is ``from_stats(stats, prior)``. Plain values, so that improper
        priors :class:`NormalInverseGamma` rejects are allowed here.
        """
        k, m = hyper["shrinkage"], hyper["mean"]
        k_n = k + stats.weight
        mean = (k * m + stats.weight * stats.mean) / k_n
        shrink = k * stats.weight * (stats.mean - m) ** 2 / (2 * k_n)
        scale = hyper["scale"] + stats.scatter / 2 + shrink
        shape = hyper["shape"] + stats.weight / 2 - np.where((k == 0) & (k_n > 0), 0.5, 0.0)
        d = stats.mean.shape
        return {
            "mean": mean,
            "shrinkage": np.full(d, k_n),
            "shape": np.full(d, shape),
            "scale": scale,
        }


def _deviation_features(shift: np.ndarray, x: np.ndarray) -> RowFeatures:
    """T = (x - c, (x - c)^2), shape (2d, m)."""
    centred = as_float64(x).T - shift[:, None]  # (d, m)
    return RowFeatures(np.vstack([centred, centred * centred]))


def _normal_stats(shift: np.ndarray, weight: np.ndarray, sums: np.ndarray) -> tuple:
    """Weight, mean and centred scatter from sums of (x - c, (x - c)^2), each (k, d)."""
    d = sums.shape[1] // 2
    first, second = sums[:, :d], sums[:, d:]
    out = []
    for w, f, s in zip(weight, first, second, strict=True):
        if w <= 0:
            out.append(NormalStats(0.0, np.zeros(d), np.zeros(d)))
            continue
        offset = f / w
        # Rounding may leave a tiny negative where the rows sit on one value.
        out.append(NormalStats(float(w), shift + offset, np.maximum(s - f * offset, 0.0)))
    return tuple(out)
