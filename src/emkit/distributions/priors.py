r"""Conjugate priors for MAP estimation: each family's M-step becomes the posterior mode.

Every prior here is conjugate to the family it serves, so the MAP M-step is the MLE's closed form
with pseudo-counts added (dynamax's ``m_step`` with a prior, mclust's ``priorControl``). The
``log_density`` methods are the log prior density up to an additive constant: EM adds it to the
log-likelihood, so only differences between iterations matter.

Hyperparameters are checked when a prior is made against what the distribution allows (as
``scipy.stats`` does: gamma, beta and Dirichlet shapes > 0), so that posterior sampling
(:class:`~emkit.BayesianMixture`) takes Jeffreys' ``BetaPrior(0.5, 0.5)``; flat limits
(``GammaPrior(1, 0)``) are allowed too. Whether a posterior mode exists is checked where one is
needed, in the families' MAP M-steps (``from_stats`` with a prior), by :func:`check_mode` and
:func:`at_least_one`: a shape of 1 or more always has one, a smaller shape only where the data
lift the posterior's shape above 1 (a Poisson rate's Gamma(a, b) prior with a < 1 needs a
component's weighted sum of counts above 1 - a). With a shape below 1 a mixture's log-posterior
has no global maximum for K >= 2 (a component's rate or probability tending to 0 lifts the
prior without bound, its rows served by the others): EM may climb to a local mode, but where a
component's responsibilities leave its posterior shape at 1 or below (a component drifting
onto the zeros of zero-heavy counts) the M-step has no mode to take and the fit stops with
that error, naming the prior and the shape the data left. Such priors serve posterior
sampling; for MAP fits use shapes of 1 or more.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np
from scipy.special import xlog1py, xlogy

from emkit.distributions.gaussian import GaussianComponents, GaussianStats, covariance_structure


def _positive(name: str, value: Any, *, strict: bool = True) -> None:
    array = np.asarray(value, dtype=float)
    bad = ~np.isfinite(array) | ((array <= 0) if strict else (array < 0))
    if np.any(bad):
        bound = "> 0" if strict else ">= 0"
        raise ValueError(f"prior hyperparameter {name} must be finite and {bound}; got {value!r}")


def check_finite(name: str, value: Any) -> None:
    """ValueError unless the hyperparameter ``name`` holds finite numbers only."""
    if not np.all(np.isfinite(np.asarray(value, dtype=float))):
        raise ValueError(f"prior hyperparameter {name} must be finite; got {value!r}")


def at_least_one(name: str, value: Any, why: str = "so that the posterior mode exists") -> None:
    """ValueError unless the hyperparameter ``name`` is finite and >= 1 (where a MAP fit needs
    it whatever the data)."""
    array = np.asarray(value, dtype=float)
    if np.any(~np.isfinite(array) | (array < 1)):
        raise ValueError(
            f"prior hyperparameter {name} must be >= 1 {why} (1 is flat); got {value!r}. "
            "Values in (0, 1) serve posterior sampling (BayesianMixture), which needs no "
            "mode"
        )


def check_mode(name: str, value: Any, posterior: Any, data: str) -> None:
    r"""ValueError where a MAP M-step's posterior shape has no mode.

    A gamma, beta or Dirichlet posterior's mode (a rate or probability) takes
    :math:`a' - 1` of each shape :math:`a' = a +` (the data's count). A prior shape
    :math:`a \ge 1` keeps :math:`a' \ge 1`; below 1 the posterior density is unbounded at 0
    (no mode) unless the data lift :math:`a'` above 1. ``value`` is the prior's shape and
    ``posterior`` the posterior's, broadcasting together; ``data`` names the count added.
    """
    prior = np.asarray(value, dtype=float)
    post = np.asarray(posterior, dtype=float)
    bad = (prior < 1) & ~(post > 1)
    if np.any(bad):
        short = float(np.min(np.where(bad, post, np.inf)))
        raise ValueError(
            f"prior hyperparameter {name} must be >= 1 so that the posterior mode exists "
            f"(1 is flat); got {value!r}, and {data} leave the posterior's {name} at "
            f"{short:.6g}, not above 1, so the MAP estimate does not exist. Give {name} >= 1 "
            "for a MAP fit; values in (0, 1) serve posterior sampling (BayesianMixture)"
        )


def _at_least_minus_one(name: str, value: float) -> None:
    if not np.isfinite(value) or value < -1:
        raise ValueError(f"prior hyperparameter {name} must be >= -1; got {value!r}")


class _Prior:
    """Plain-dict round trip shared by the priors (for model files)."""

    kind: ClassVar[str]

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"prior": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = value.tolist() if isinstance(value, np.ndarray) else value
        return out


@dataclass(frozen=True)
class GammaPrior(_Prior):
    r"""Gamma(shape :math:`a`, rate :math:`b`) on a positive rate :math:`\lambda`.

    :math:`\log p(\lambda) = (a - 1)\log\lambda - b\lambda`. Serves :class:`Poisson`,
    :class:`Exponential` and the rate of :class:`Gamma`. ``GammaPrior(1, 0)`` is flat.

    Attributes
    ----------
    shape : float, :math:`a > 0` (a MAP fit needs a posterior mode: see :func:`check_mode`).
    rate : float or array of shape (d,), :math:`b \ge 0`.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import GammaPrior, MixtureModel, Poisson
    >>> x = np.array([[0], [0], [1]])
    >>> MixtureModel([Poisson()], priors=[GammaPrior(2.0, 1.0)]).fit(x).components_[0].rate.round(4)
    array([0.5])
    """

    kind: ClassVar[str] = "gamma"
    shape: float = 1.0
    rate: float | np.ndarray = 0.0  # or one per feature, shape (d,)

    def __post_init__(self):
        _positive("shape", self.shape)
        _positive("rate", self.rate, strict=False)

    def log_density(self, value: np.ndarray) -> float:
        return float(np.sum(xlogy(self.shape - 1.0, value) - self.rate * np.asarray(value)))


@dataclass(frozen=True)
class BetaPrior(_Prior):
    r"""Beta(:math:`a`, :math:`b`) on a probability :math:`p`; ``BetaPrior(1, 1)`` is flat.

    :math:`\log p(p) = (a - 1)\log p + (b - 1)\log(1 - p)`. Serves :class:`Bernoulli`.

    Attributes
    ----------
    a, b : float, the Beta's two shapes, > 0 (pseudo-counts a - 1 of ones, b - 1 of zeros;
        a MAP fit needs a posterior mode: see :func:`check_mode`).

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import Bernoulli, BetaPrior, MixtureModel
    >>> x = np.array([[1.0], [1.0], [1.0]])  # three successes: the MLE is p = 1
    >>> MixtureModel([Bernoulli()]).fit(x).components_[0].probs
    array([1.])
    >>> fit = MixtureModel([Bernoulli()], priors=[BetaPrior(2, 2)]).fit(x)
    >>> fit.components_[0].probs.round(4)  # the MAP (a + k - 1) / (a + b + n - 2) = 4 / 5
    array([0.8])
    """

    kind: ClassVar[str] = "beta"
    a: float = 1.0
    b: float = 1.0

    def __post_init__(self):
        _positive("a", self.a)
        _positive("b", self.b)

    def log_density(self, p: np.ndarray) -> float:
        return float(np.sum(xlogy(self.a - 1.0, p) + xlog1py(self.b - 1.0, -np.asarray(p))))


@dataclass(frozen=True)
class DirichletPrior(_Prior):
    r"""Symmetric (or per-category) Dirichlet(:math:`\alpha`) on probabilities.

    :math:`\log p(\pi) = \sum_c (\alpha_c - 1)\log\pi_c`. Serves :class:`Categorical`; the
    mixture weights take the same prior through ``weight_concentration``.

    Attributes
    ----------
    concentration : float or array of shape (C,), :math:`\alpha` (one value for every
        category, or one per category), > 0; 1 is flat (a MAP fit needs a posterior mode:
        see :func:`check_mode`).

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import Categorical, DirichletPrior, MixtureModel
    >>> x = np.array([[0], [0], [1]])  # category 2 never seen
    >>> prior = DirichletPrior(2.0)  # one pseudo-count per category
    >>> MixtureModel([Categorical(3)], priors=[prior]).fit(x).components_[0].probs.round(4)
    array([[0.5   , 0.3333, 0.1667]])
    """

    kind: ClassVar[str] = "dirichlet"
    concentration: Any = 1.0

    def __post_init__(self):
        _positive("concentration", self.concentration)

    def log_density(self, probs: np.ndarray) -> float:
        alpha = np.asarray(self.concentration, dtype=float)
        return float(np.sum(xlogy(alpha - 1.0, probs)))


@dataclass(frozen=True)
class InverseGammaPrior(_Prior):
    r"""Inverse-gamma(shape :math:`a`, scale :math:`b`) on a variance :math:`v`.

    :math:`\log p(v) = -(a + 1)\log v - b / v`; keeps the variance of a regression component
    away from 0. ``InverseGammaPrior(-1, 0)`` is the flat limit.

    Attributes
    ----------
    shape : float, :math:`a`.
    scale : float, :math:`b`.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import InverseGammaPrior, LinearGaussian, MixtureModel
    >>> rows = np.array([[0.0, 1.0], [1.0, 3.1], [2.0, 4.9], [3.0, 7.0]])  # (x, y)
    >>> plain = MixtureModel([LinearGaussian()]).fit(rows).components_[0]
    >>> shrunk = MixtureModel([LinearGaussian()], priors=[InverseGammaPrior(2.0, 1.0)]).fit(rows)
    >>> round(plain.variance, 4), round(shrunk.components_[0].variance, 4)
    (0.0045, 0.2018)
    """

    kind: ClassVar[str] = "inverse_gamma"
    shape: float = 1.0
    scale: float = 0.0

    def __post_init__(self):
        _at_least_minus_one("shape", self.shape)
        _positive("scale", self.scale, strict=False)

    def log_density(self, variance: float | np.ndarray) -> float:
        v = np.asarray(variance, dtype=float)
        return float(np.sum(-(self.shape + 1.0) * np.log(v) - self.scale / v))

    def mode(self, weight: float | np.ndarray, rss: float | np.ndarray) -> float | np.ndarray:
        """Posterior mode of v given the weight and residual sum of squares (Gaussian data)."""
        return (2.0 * self.scale + rss) / (weight + 2.0 * self.shape + 2.0)


@dataclass(frozen=True)
class NormalInverseGamma(_Prior):
    r"""Normal-inverse-gamma on a univariate mean and variance, per feature.

    :math:`v \sim \mathrm{IG}(a, b)` and, when ``shrinkage`` :math:`\kappa > 0`,
    :math:`\mu \mid v \sim N(m, v/\kappa)`; ``shrinkage = 0`` leaves the mean flat. Serves
    :class:`Normal`. The joint mode is

    .. math:: \hat\mu = \frac{\kappa m + W\bar x}{\kappa + W},\qquad
              \hat v = \frac{2b + S + \frac{\kappa W}{\kappa + W}(\bar x - m)^2}
                            {W + 2a + 2 + [\kappa > 0]}.

    Attributes
    ----------
    mean : float, :math:`m`, the prior mean.
    shrinkage : float, :math:`\kappa \ge 0`, the prior mean's weight in observations.
    shape, scale : float, :math:`a` and :math:`b` of the variance's inverse gamma.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import MixtureModel, Normal, NormalInverseGamma
    >>> x = np.array([[1.0], [1.0], [1.0], [1.2]])
    >>> prior = NormalInverseGamma(mean=0.0, shrinkage=1.0, shape=2.0, scale=1.0)
    >>> c = MixtureModel([Normal()], priors=[prior]).fit(x).components_[0]
    >>> c.mean.round(4), c.variance.round(4)
    (array([0.84]), array([0.2647]))
    """

    kind: ClassVar[str] = "normal_inverse_gamma"
    mean: float = 0.0
    shrinkage: float = 0.0
    shape: float = 1.0
    scale: float = 0.0

    def __post_init__(self):
        check_finite("mean", self.mean)
        _positive("shrinkage", self.shrinkage, strict=False)
        _positive("scale", self.scale, strict=False)
        _at_least_minus_one("shape", self.shape)

    def log_density(self, mean: np.ndarray, variance: np.ndarray) -> float:
        v = np.asarray(variance, dtype=float)
        out = -(self.shape + 1.0) * np.log(v) - self.scale / v
        if self.shrinkage > 0:
            out = out - 0.5 * np.log(v) - 0.5 * self.shrinkage * (mean - self.mean) ** 2 / v
        return float(np.sum(out))

    def mode(
        self, weight: float, mean: np.ndarray, scatter: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mode (mean, variance) from weight W, weighted mean and centred scatter S."""
        k = self.shrinkage
        mu = (k * self.mean + weight * mean) / (k + weight)
        shrink = k * weight / (k + weight) * (mean - self.mean) ** 2 if k > 0 else 0.0
        extra = 1.0 if k > 0 else 0.0
        # The prior's own count first: with the ridge's shape -1 it is 0, and a component's
        # weight of 1e-300 added to -2 before the +2 was lost (a variance of c / 0).
        var = (2.0 * self.scale + scatter + shrink) / (weight + (2.0 * self.shape + 2.0 + extra))
        return mu, var


@dataclass(frozen=True)
class NormalInverseWishart(_Prior):
    r"""Normal-inverse-Wishart prior on Gaussian components (Fraley and Raftery, 2007).

    The means take :math:`\mu_k \mid \Sigma_k \sim N(\mu_0, \Sigma_k/\kappa)` (``shrinkage``
    :math:`\kappa`; 0 leaves them flat) and the covariances the prior mclust's EM puts on each
    model, which every covariance structure writes as

    .. math:: \log p(\Sigma) = -\tfrac12 \sum_k \big[a_k \log|\Sigma_k|
              + w_k \operatorname{tr}(\Lambda\Sigma_k^{-1})\big] + \text{const}

    (:math:`a_k` includes the means' normalising power :math:`t = [\kappa > 0]`). The MAP
    means are :math:`\hat\mu_k = (N_k\bar x_k + \kappa\mu_0)/(N_k + \kappa)`, and the
    covariances minimise, within the model,
    :math:`\sum_k (N_k + a_k)\log|\Sigma_k| + \operatorname{tr}(B_k\Sigma_k^{-1})` with

    .. math:: B_k = w_k\Lambda + S_k + \frac{\kappa N_k}{\kappa + N_k}
              (\bar x_k - \mu_0)(\bar x_k - \mu_0)^\top,

    for the full structure :math:`\hat\Sigma_k = B_k / (N_k + \nu + d + 1 + t)`, which no
    data can make singular when :math:`\Lambda` is positive definite. With :math:`\nu` the
    ``dof``, K >= 2 components and d features:

    ==============================  ===================================  ==========
    model                           :math:`a_k`                          :math:`w_k`
    ==============================  ===================================  ==========
    VVV (full)                      :math:`\nu + d + 1 + t`              1
    EEE (tied)                      :math:`(\nu + d + 1 + Kt)/K`         1/K
    VVI (diag)                      :math:`\nu + 2 + t`                  1
    VII (spherical)                 :math:`(\nu + 2)/d + t`              1
    EII                             :math:`((\nu + 2)/d + Kt)/K`         1/K
    EEI                             :math:`(\nu + 1 + t)/K`              1/K
    VEI                             :math:`(\nu + 2 + t)/d`              1
    EVI                             :math:`(\nu + 1 + t)/K`              1
    EEV                             :math:`(\nu + d + 1 + t)/K`          1
    VEV                             0                                    1
    VEE, EVE, VVE, EVV              :math:`\nu + d + 1 + t` (as VVV)     1
    ==============================  ===================================  ==========

    That is an inverse-Wishart :math:`\mathrm{IW}(\nu, \Lambda)` on each full covariance (on
    the shared one for EEE), an inverse-gamma :math:`\mathrm{IG}(\nu/2, \Lambda_{jj}/2)` on
    each diagonal variance (VVI) and :math:`\mathrm{IG}(\nu/2, \operatorname{tr}\Lambda/2)` on
    each spherical variance (VII; the shared one, EII); the other rows are mclust's formulas as
    its EM (the Fortran ``me*p`` routines of mclust 6.0.0) computes them. Where the components
    share a volume (EII, EEI, EVI, EEV) only :math:`\sum_k a_k` matters, and the covariance's
    prior counts once whatever K (EEI, EVI and EEV count the means' prior once too, and EEI and
    EVI take :math:`\nu + 1` where VVI takes :math:`\nu + 2`); VEI's volumes :math:`\lambda_k`
    take an inverse-gamma's power :math:`\nu + 2 + t` of :math:`\lambda_k`; VEV's take no power
    from the prior, only its scale. With one component every model reads as VVV, VVI or VII, by
    the form of its covariance (mclust fits one component by ``mvn``, as its XXX, XXI or XII).

    Where emkit departs from mclust: mclust has no prior for VEE, EVE, VVE and EVV (its ``me``
    refuses one), which take VVV's here; and mclust's EM for EEI adds the means' shrinkage term
    to :math:`B_k` but leaves the means at :math:`\bar x_k`, which is the mode of no posterior
    (EM along it need not climb), where emkit shrinks them: emkit's EEI fits with K >= 2 differ
    from mclust's by 1e-7 to 1e-5 of the log-likelihood on iris and Old Faithful (without
    shrinkage they agree).

    A ridge ``reg_covar`` :math:`c` (the prior :math:`-\tfrac c2 \operatorname{tr}\Sigma^{-1}`
    on each covariance) adds :math:`cI` to each :math:`w_k\Lambda` (:math:`cI/K` for the tied
    structure's one covariance).

    Attributes
    ----------
    mean : array of shape (d,), prior mean :math:`\mu_0`.
    shrinkage : float, :math:`\kappa \ge 0`.
    dof : float, :math:`\nu > d - 1`, where the inverse-Wishart is a distribution (``d + 2``
        in mclust's default).
    scale : array of shape (d, d), :math:`\Lambda`, symmetric positive semi-definite.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import GaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(60, 2)), np.repeat([[3.0, 3.0]], 8, axis=0)])  # 8 copies
    >>> gm = GaussianMixture(2, covariance_prior="mclust", reg_covar=0, random_state=0).fit(X)
    >>> bool(gm.degenerate_), round(float(np.linalg.eigvalsh(gm.covariances_).min()), 4)
    (False, 0.0219)
    >>> prior = {"mean": [0, 0], "shrinkage": 0.01, "dof": 4, "scale": 0.1 * np.eye(2)}
    >>> gm = GaussianMixture(2, covariance_prior=prior, reg_covar=0, random_state=0).fit(X)
    >>> round(float(np.linalg.eigvalsh(gm.covariances_).min()), 4)
    0.0063
    """

    kind: ClassVar[str] = "normal_inverse_wishart"
    mean: np.ndarray = field(default_factory=lambda: np.zeros(1))
    shrinkage: float = 0.01
    dof: float = 3.0
    scale: np.ndarray = field(default_factory=lambda: np.eye(1))

    def __post_init__(self):
        mean = np.atleast_1d(np.asarray(self.mean, dtype=float))
        d = mean.shape[0]
        scale = np.asarray(self.scale, dtype=float)
        if scale.ndim == 0:
            scale = scale * np.eye(d)
        if scale.shape != (d, d):
            raise ValueError(
                f"prior scale must be a ({d}, {d}) matrix to match a prior mean of length {d}; "
                f"got shape {scale.shape}"
            )
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale))):
            raise ValueError("prior mean and scale must be finite")
        if not np.allclose(scale, scale.T):
            raise ValueError("prior scale must be symmetric")
        eig = np.linalg.eigvalsh(scale)
        # A rank-deficient scale (the covariance of fewer rows than columns) has eigenvalues
        # of round-off size, either sign: about eps * d * its largest.
        if eig[0] < -np.finfo(float).eps * d * np.abs(eig).max():
            raise ValueError(
                f"prior scale must be positive semi-definite; its smallest eigenvalue is "
                f"{eig[0]:.3g}"
            )
        _positive("shrinkage", self.shrinkage, strict=False)
        # An inverse-Wishart IW(nu, Lambda) on d x d covariances is a distribution for
        # nu > d - 1 only (its normalising constant needs it); mclust's default is d + 2.
        if not np.isfinite(self.dof) or self.dof <= d - 1:
            raise ValueError(
                f"prior dof must be > d - 1 = {d - 1} for d = {d} features (an inverse-Wishart's "
                f"degrees of freedom; mclust's default is d + 2 = {d + 2}); got {self.dof!r}"
            )
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "scale", scale)

    @classmethod
    def mclust(
        cls,
        x: np.ndarray,
        n_components: int,
        covariance_type: str = "full",
        sample_weight: np.ndarray | None = None,
    ):
        r"""mclust's default prior (``priorControl()``, its ``defaultPrior``) for data ``x``
        (n, d), K components and the structure ``covariance_type``.

        Prior mean the data mean, shrinkage 0.01, dof d + 2 (3 in one dimension), and scale
        (:meth:`~emkit.distributions.gaussian.GaussianComponents.mclust_scale`) over
        :math:`K^{2/d}`: for the ellipsoidal models the data covariance (its diagonal where
        n <= d); for the axis-aligned ones mclust's one scalar :math:`\varsigma^2`, the mean
        variance, as :math:`\varsigma^2 I` (VVI, EEI, VEI, EVI) or :math:`\varsigma^2 I/d`
        (VII, EII: trace :math:`\varsigma^2`, which mclust adds once to each total scatter);
        0 for EII with K >= 2 in more than one dimension, where mclust's EM leaves it out.
        ``sample_weight`` count each row that many times (a fraction of a row for a fraction):
        n is their total, the covariance :math:`\sum_n w_n (x_n - \bar x)(x_n - \bar x)^T /
        (n - 1)`, as of the rows repeated. ValueError for fewer than two rows.
        """
        d = x.shape[1]
        w = np.ones(x.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
        n = float(w.sum())
        if n < 2:
            raise ValueError(
                "mclust's data-based prior needs at least 2 rows (samples) to estimate the "
                f"data's covariance; got n_samples = {n:g}. Give the prior's scale yourself, or "
                "fit more rows"
            )
        mean = np.average(x, axis=0, weights=w)
        cov = np.atleast_2d(np.cov(x, rowvar=False, aweights=w, ddof=0)) * (n / (n - 1.0))
        if n <= d:  # mclust's variances alone where the covariance is singular
            cov = np.diag(np.diag(cov))
        scale = covariance_structure(covariance_type).mclust_scale(cov, n_components)
        return cls(mean, 0.01, d + 2.0, scale)

    @property
    def n_features(self) -> int:
        return self.mean.shape[0]

    def _power(self, structure: type[GaussianComponents], k: int) -> np.ndarray:
        """The powers :math:`a_k` (k,) of the class docstring."""
        mean_term = 1.0 if self.shrinkage > 0 else 0.0
        return structure.niw_power(self.dof, self.n_features, k, mean_term)

    def _scales(self, structure: type[GaussianComponents], k: int, reg_covar: float) -> np.ndarray:
        r"""Each component's :math:`w_k\Lambda` plus its ridge, shape (k, d, d)."""
        ridge = reg_covar if structure.per_component else reg_covar / k
        weights = structure.niw_scale_weights(k)[:, None, None]
        return weights * self.scale + ridge * np.eye(self.n_features)

    def mode(
        self,
        structure: type[GaussianComponents],
        stats: GaussianStats,
        reg_covar: float,
        empty_means: np.ndarray,
        previous: np.ndarray | None = None,
    ) -> GaussianComponents:
        r"""MAP components of ``structure`` from statistics (batched over K).

        ``empty_means`` (k, d) are the means of emptied components where the means are flat
        (:math:`\kappa = 0`): 0/0 otherwise. ``previous`` (the covariances the M-step replaces)
        are kept by an emptied component whose covariance the prior leaves without a mode
        (:math:`N_k + a_k = 0`: VEV's volumes), as by an emptied component without a prior.
        """
        k, d = stats.mean.shape
        flat = np.zeros((d, d))
        means, spread = niw_update(stats, self.mean, self.shrinkage, flat, empty_means)
        scales = self._scales(structure, k, reg_covar)
        if spread.ndim == 2:  # diagonal statistics
            scales = np.diagonal(scales, axis1=1, axis2=2)
        numerators = scales + spread
        m = stats.weight + self._power(structure, k)  # (k,)
        held = m > 0
        if held.all() or previous is None or not structure.per_component:
            covariances = structure.niw_covariances(numerators, m)
        else:
            covariances = np.array(previous, dtype=float)
            covariances[held] = structure.niw_covariances(numerators[held], m[held])
        return structure.from_covariances(means, covariances)

    def m_step(
        self, components: GaussianComponents, stats: GaussianStats, reg_covar: float
    ) -> GaussianComponents:
        """MAP components of ``type(components)`` from ``GaussianStats`` (batched over K)."""
        structure = type(components)
        return self.mode(structure, stats, reg_covar, components.means, components.covariances)

    def log_density(self, components: GaussianComponents, reg_covar: float) -> float:
        """Log prior of batched Gaussian ``components`` (up to a constant)."""
        structure = type(components)
        k = components.n_components
        power = self._power(structure, k)
        scales = self._scales(structure, k, reg_covar)
        precisions = np.linalg.inv(components.full_covariances())  # (k, d, d)
        logdet = -2.0 * components.log_det_precision_cholesky()  # (k,) log|Sigma_k|
        trace = np.einsum("kde,ked->k", scales, precisions)
        gap = components.means - self.mean
        maha = np.einsum("kd,kde,ke->k", gap, precisions, gap)
        return float(-0.5 * np.sum(power * logdet + trace) - 0.5 * self.shrinkage * maha.sum())


def niw_update(
    stats: GaussianStats,
    mean: np.ndarray,
    shrinkage: float,
    scale: np.ndarray,
    empty_means: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""The normal-inverse-Wishart conjugate update of K components' statistics.

    .. math:: \mu_k' = \frac{\kappa\mu_0 + N_k\bar x_k}{\kappa + N_k},\qquad
              \Lambda_k' = \Lambda + S_k + \frac{\kappa N_k}{\kappa + N_k}
              (\bar x_k - \mu_0)(\bar x_k - \mu_0)^\top;

    the posterior is :math:`\mathrm{NIW}(\mu_k', \kappa + N_k, \nu + N_k - [\kappa = 0],
    \Lambda_k')` (a flat mean, :math:`\kappa = 0`, costs the covariance one row).

    Parameters
    ----------
    stats : GaussianStats with weight (k,), mean (k, d), scatter (k, d, d) or (k, d).
    mean : array of shape (d,), prior mean :math:`\mu_0`.
    shrinkage : float, :math:`\kappa \ge 0`.
    scale : array of shape (d, d), :math:`\Lambda`.
    empty_means : array of shape (k, d), the means where :math:`\kappa + N_k = 0`; zeros when
        None.

    Returns
    -------
    means : array of shape (k, d), :math:`\mu_k'`.
    scales : array of shape (k, d, d), :math:`\Lambda_k'` (their diagonals (k, d) for
        diagonal statistics).
    """
    weight, kappa = stats.weight, shrinkage  # (k,)
    total = (weight + kappa)[:, None]
    fallback = np.zeros(stats.mean.shape) if empty_means is None else empty_means
    means = np.divide(
        weight[:, None] * stats.mean + kappa * mean,
        total,
        out=np.array(fallback, dtype=float),
        where=total > 0,
    )
    gap = stats.mean - mean  # (k, d)
    shrink = np.where(weight + kappa > 0, kappa * weight / np.maximum(weight + kappa, 1e-300), 0)
    if stats.scatter.ndim == 3:
        scales = scale + stats.scatter + shrink[:, None, None] * gap[:, :, None] * gap[:, None, :]
    else:
        scales = np.diag(scale) + stats.scatter + shrink[:, None] * gap**2  # (k, d)
    return means, scales


PRIORS: dict[str, type[_Prior]] = {
    cls.kind: cls
    for cls in (
        GammaPrior,
        BetaPrior,
        DirichletPrior,
        InverseGammaPrior,
        NormalInverseGamma,
        NormalInverseWishart,
    )
}


def prior_from_dict(
    spec: dict | _Prior | None, priors: dict[str, type[_Prior]] = PRIORS
) -> _Prior | None:
    """A prior from its ``to_dict`` form (or the prior itself, or None), of a kind in
    ``priors`` (by default those EM's M-step takes; :data:`emkit.bayes.priors.SAMPLING_PRIORS`
    adds posterior sampling's)."""
    if spec is None or isinstance(spec, _Prior):
        return spec
    if not isinstance(spec, dict) or spec.get("prior") not in priors:
        raise ValueError(
            f"a prior must be one of {', '.join(priors)} (or its dict form); got {spec!r}"
        )
    values = {key: value for key, value in spec.items() if key != "prior"}
    return priors[spec["prior"]](**values)
