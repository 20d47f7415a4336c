r"""Conjugate posteriors you can query: mean, sd, credible intervals, MAP, draws, predictive.

Each function updates a conjugate prior with data and returns a :class:`Posterior` (one
parameter, a float or an array) or a :class:`JointPosterior` (a mean and a variance together).
Distributions are scipy.stats frozen objects underneath.

Improper limits of the priors are allowed wherever the posterior stays proper; the flat prior's
MAP is the MLE, so as a prior flattens every MAP here tends to the corresponding
:mod:`emkit.mle` estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from emkit.mle.closed_form import _at_least, _finite, _integers

__all__ = [
    "JointPosterior",
    "Posterior",
    "Predictive",
    "beta_bernoulli",
    "dirichlet_categorical",
    "gamma_poisson",
    "normal_inverse_gamma",
    "normal_inverse_wishart",
    "normal_known_variance",
    "ridge",
]


def _rng(random_state) -> np.random.Generator:
    return np.random.default_rng(random_state)


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")


@dataclass(frozen=True, eq=False)
class Predictive:
    """A posterior predictive distribution of new observations.

    ``mean`` and ``sd`` (``cov`` too for vectors) are values; ``pdf`` / ``pmf``, ``logpdf`` /
    ``logpmf``, ``cdf`` and the rest come from the underlying scipy frozen distribution ``dist``.
    """

    dist: Any
    mean: Any
    sd: Any
    cov: np.ndarray | None = None

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.dist, name)

    def sample(self, n: int, random_state=None) -> np.ndarray:
        """``n`` draws, shape (n,) + the shape of one observation."""
        draws = np.asarray(self.dist.rvs(size=n, random_state=_rng(random_state)))
        return draws.reshape(n, *np.shape(self.mean))

    def interval(self, level: float = 0.95):
        """Equal-tailed predictive interval (univariate predictives)."""
        _check_level(level)
        return self.dist.interval(level)


@dataclass(frozen=True, eq=False)
class Posterior:
    """The posterior of one parameter, a float or an array.

    Attributes
    ----------
    name : the parameter's name, as in :mod:`emkit.mle` (``p``, ``rate``, ``mean``, ``probs``...).
    dist : scipy.stats frozen distribution of the parameter.
    mean, sd : posterior mean and standard deviation, shaped like the parameter.
    cov : posterior covariance for vector parameters, shape (k, k); None otherwise.
    map : posterior mode (maximum a posteriori).
    hyper : dict of the posterior's hyperparameters.
    """

    name: str
    dist: Any
    mean: Any
    sd: Any
    map: Any
    hyper: dict
    cov: np.ndarray | None = None
    _interval: Callable[[float], tuple] | None = field(default=None, repr=False)
    _predictive: Callable[..., Predictive] | None = field(default=None, repr=False)

    def interval(self, level: float = 0.95) -> tuple:
        """Equal-tailed credible interval (low, high), elementwise for array parameters."""
        _check_level(level)
        if self._interval is not None:
            return self._interval(level)
        return self.dist.interval(level)

    def sample(self, n: int, random_state=None) -> np.ndarray:
        """``n`` posterior draws, shape (n,) + the parameter's shape."""
        draws = np.asarray(self.dist.rvs(size=n, random_state=_rng(random_state)))
        return draws.reshape(n, *np.shape(self.mean))

    def predictive(self, *args, **kwargs) -> Predictive:
        """The posterior predictive distribution of a new observation."""
        if self._predictive is None:
            raise NotImplementedError(f"no predictive distribution for {self.name}")
        return self._predictive(*args, **kwargs)


@dataclass(frozen=True, eq=False)
class JointPosterior:
    """The joint posterior of a mean and a (co)variance.

    ``mean``, ``sd``, ``interval(level)`` and ``sample`` give dicts keyed by parameter name, from
    each parameter's marginal posterior (``posterior["mean"]`` is that :class:`Posterior`).
    ``map`` is the joint mode, which differs from the marginal modes.
    """

    marginals: dict[str, Posterior]
    map: dict[str, Any]
    hyper: dict
    _sample: Callable[[int, np.random.Generator], dict] = field(repr=False)
    _predictive: Callable[[], Predictive] = field(repr=False)

    def __getitem__(self, name: str) -> Posterior:
        return self.marginals[name]

    @property
    def mean(self) -> dict[str, Any]:
        return {k: m.mean for k, m in self.marginals.items()}

    @property
    def sd(self) -> dict[str, Any]:
        return {k: m.sd for k, m in self.marginals.items()}

    def interval(self, level: float = 0.95) -> dict[str, tuple]:
        """Marginal equal-tailed credible intervals, by parameter."""
        return {k: m.interval(level) for k, m in self.marginals.items()}

    def sample(self, n: int, random_state=None) -> dict[str, np.ndarray]:
        """``n`` joint draws: a dict of arrays of shape (n,) + each parameter's shape."""
        return self._sample(n, _rng(random_state))

    def predictive(self) -> Predictive:
        """The posterior predictive distribution of a new observation."""
        return self._predictive()


def _univariate(name, dist, map_, hyper, predictive) -> Posterior:
    return Posterior(
        name, dist, float(dist.mean()), float(dist.std()), map_, hyper, _predictive=predictive
    )


def _positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value}")


def _nonnegative(**values: float) -> None:
    for name, value in values.items():
        if not value >= 0:
            raise ValueError(f"{name} must be non-negative, got {value}")


def beta_bernoulli(x, a: float = 1.0, b: float = 1.0) -> Posterior:
    r"""Posterior of a success probability under a Beta(a, b) prior.

    Posterior :math:`\mathrm{Beta}(a + k, b + N - k)` with k successes in N trials; MAP
    :math:`(a + k - 1)/(a + b + N - 2)`. The default Beta(1, 1) is flat: its MAP is the MLE k/N.
    a = b = 0 (Haldane) is allowed when the posterior is proper.

    Parameters
    ----------
    x : array of shape (n,) of 0/1 outcomes.
    a, b : prior pseudo-counts of successes and failures, >= 0.

    Returns
    -------
    Posterior ``p``; ``predictive()`` is the next outcome, Beta-Binomial(1, a', b').
    """
    x = _finite(x, "x", 1)
    if ((x != 0) & (x != 1)).any():
        raise ValueError("beta_bernoulli needs values 0 and 1 only")
    _nonnegative(a=a, b=b)
    k = x.sum()
    a_n, b_n = a + k, b + x.size - k
    _positive(**{"posterior a (a + successes)": a_n, "posterior b (b + failures)": b_n})
    if a_n >= 1 and b_n >= 1 and a_n + b_n > 2:
        mode = (a_n - 1) / (a_n + b_n - 2)
    else:  # the density is unbounded at an end, or flat: the mode is that end (or undefined)
        mode = 0.0 if a_n < b_n else 1.0 if b_n < a_n else np.nan
    return _univariate(
        "p",
        stats.beta(a_n, b_n),
        mode,
        {"a": a_n, "b": b_n},
        lambda: _scalar_predictive(stats.betabinom(1, a_n, b_n)),
    )


def _scalar_predictive(dist) -> Predictive:
    return Predictive(dist, float(dist.mean()), float(dist.std()))


def gamma_poisson(x, shape: float = 1.0, rate: float = 0.0) -> Posterior:
    r"""Posterior of a Poisson rate under a Gamma(shape, rate) prior.

    Posterior :math:`\mathrm{Gamma}(\alpha + \sum x_i, \beta + N)` (shape, rate); MAP
    :math:`(\alpha + \sum x_i - 1)/(\beta + N)`. The default Gamma(1, 0) is the flat (improper)
    prior on the rate: its MAP is the MLE.

    Parameters
    ----------
    x : array of shape (n,) of non-negative integer counts.
    shape, rate : prior shape and rate, >= 0 (a prior worth ``rate`` observations totalling
        ``shape`` counts, roughly).

    Returns
    -------
    Posterior ``rate``; ``predictive()`` is the next count, negative binomial
    :math:`\mathrm{NB}(\alpha', \beta'/(\beta'+1))`.
    """
    x = _finite(x, "x", 1)
    _at_least(x.size, 1, "gamma_poisson")
    _integers(x, "counts", "gamma_poisson")
    _nonnegative(shape=shape, rate=rate)
    a_n, b_n = shape + x.sum(), rate + x.size
    _positive(**{"posterior shape": a_n})
    return _univariate(
        "rate",
        stats.gamma(a_n, scale=1 / b_n),
        max(a_n - 1, 0.0) / b_n,
        {"shape": a_n, "rate": b_n},
        lambda: _scalar_predictive(stats.nbinom(a_n, b_n / (b_n + 1))),
    )


def normal_known_variance(
    x, sigma: float, prior_mean: float = 0.0, prior_sd: float = np.inf
) -> Posterior:
    r"""Posterior of a normal mean when the noise sd :math:`\sigma` is known.

    With prior :math:`N(\mu_p, \sigma_p^2)` the posterior is normal with precision
    :math:`1/\sigma_p^2 + N/\sigma^2`, so sd :math:`1/\sqrt{1/\sigma_p^2 + N/\sigma^2}`, and mean
    :math:`(\mu_p/\sigma_p^2 + N\bar x/\sigma^2) / (1/\sigma_p^2 + N/\sigma^2)`. ``prior_sd=inf``
    (the default) is the flat prior: the posterior mean is then :math:`\bar x`.

    Parameters
    ----------
    x : array of shape (n,).
    sigma : known noise standard deviation, > 0.
    prior_mean, prior_sd : the prior's mean and sd (> 0, may be inf).

    Returns
    -------
    Posterior ``mean``; ``predictive()`` is :math:`N(\mu_n, \sigma_n^2 + \sigma^2)`.
    """
    x = _finite(x, "x", 1)
    _at_least(x.size, 1, "normal_known_variance")
    _positive(sigma=sigma, prior_sd=prior_sd)
    precision = 1 / prior_sd**2 + x.size / sigma**2
    mean = (prior_mean / prior_sd**2 + x.sum() / sigma**2) / precision
    sd = 1 / np.sqrt(precision)
    return _univariate(
        "mean",
        stats.norm(mean, sd),
        mean,
        {"mean": mean, "sd": sd},
        lambda: _scalar_predictive(stats.norm(mean, np.hypot(sd, sigma))),
    )


def normal_inverse_gamma(
    x, mu0: float = 0.0, kappa0: float = 0.0, alpha0: float = -0.5, beta0: float = 0.0
) -> JointPosterior:
    r"""Joint posterior of a normal mean and variance under a normal-inverse-gamma prior.

    Prior :math:`\sigma^2 \sim \mathrm{IG}(\alpha_0, \beta_0)`,
    :math:`\mu \mid \sigma^2 \sim N(\mu_0, \sigma^2/\kappa_0)`, i.e. the density
    :math:`\propto (\sigma^2)^{-(\alpha_0 + 3/2)}
    \exp(-(2\beta_0 + \kappa_0(\mu-\mu_0)^2)/(2\sigma^2))`.
    Posterior: :math:`\kappa_n = \kappa_0 + N`, :math:`\mu_n = (\kappa_0\mu_0 + N\bar x)/\kappa_n`,
    :math:`\alpha_n = \alpha_0 + N/2`, :math:`\beta_n = \beta_0 + S/2 +
    \kappa_0 N(\bar x - \mu_0)^2/(2\kappa_n)` with :math:`S = \sum(x_i - \bar x)^2`.
    Marginals: :math:`\mu \sim t_{2\alpha_n}(\mu_n, \beta_n/(\alpha_n\kappa_n))`,
    :math:`\sigma^2 \sim \mathrm{IG}(\alpha_n, \beta_n)`; joint mode
    :math:`(\mu_n, \beta_n/(\alpha_n + 3/2))`.

    The default ``kappa0=0, alpha0=-1/2, beta0=0`` is the reference prior
    :math:`p(\mu, \sigma^2) \propto 1/\sigma^2`, whose credible interval for the mean is the
    classical t interval. ``alpha0=-3/2`` (with kappa0 = beta0 = 0) is the flat prior, whose MAP
    is the MLE :math:`(\bar x, S/N)`.

    Parameters
    ----------
    x : array of shape (n,).
    mu0, kappa0 : prior mean and its weight in observations (kappa0 >= 0).
    alpha0, beta0 : prior shape (>= -3/2) and scale (>= 0) of the variance.

    Returns
    -------
    JointPosterior with marginals ``mean`` and ``variance``; ``predictive()`` is
    :math:`t_{2\alpha_n}(\mu_n, \beta_n(\kappa_n + 1)/(\alpha_n\kappa_n))`.
    """
    x = _finite(x, "x", 1)
    _at_least(x.size, 1, "normal_inverse_gamma")
    _nonnegative(kappa0=kappa0, beta0=beta0)
    if alpha0 < -1.5:
        raise ValueError(f"alpha0 must be >= -3/2 (the flat prior), got {alpha0}")
    n, xbar = x.size, x.mean()
    S = np.sum((x - xbar) ** 2)
    k_n = kappa0 + n
    m_n = (kappa0 * mu0 + n * xbar) / k_n
    a_n = alpha0 + n / 2
    b_n = beta0 + S / 2 + kappa0 * n * (xbar - mu0) ** 2 / (2 * k_n)
    _positive(**{"posterior alpha (alpha0 + N/2)": a_n, "posterior beta": b_n})
    hyper = {"mu": m_n, "kappa": k_n, "alpha": a_n, "beta": b_n}
    variance = stats.invgamma(a_n, scale=b_n)
    mean = stats.t(2 * a_n, loc=m_n, scale=np.sqrt(b_n / (a_n * k_n)))
    marginals = {
        "mean": _univariate("mean", mean, m_n, hyper, None),
        "variance": _univariate("variance", variance, b_n / (a_n + 1), hyper, None),
    }

    def sample(size: int, rng: np.random.Generator) -> dict:
        var = variance.rvs(size=size, random_state=rng)
        return {"mean": rng.normal(m_n, np.sqrt(var / k_n)), "variance": var}

    return JointPosterior(
        marginals,
        {"mean": m_n, "variance": b_n / (a_n + 1.5)},
        hyper,
        sample,
        lambda: _scalar_predictive(
            stats.t(2 * a_n, loc=m_n, scale=np.sqrt(b_n * (k_n + 1) / (a_n * k_n)))
        ),
    )


def dirichlet_categorical(x, alpha=1.0, n_categories: int | None = None) -> Posterior:
    r"""Posterior of category probabilities under a Dirichlet(alpha) prior.

    Posterior :math:`\mathrm{Dir}(\alpha_k + N_k)`; MAP
    :math:`(\alpha'_k - 1)/\sum_j(\alpha'_j - 1)` (all :math:`\alpha'_k \ge 1`; components with
    :math:`\alpha'_k < 1` have mode 0). The default alpha = 1 is flat: its MAP is the MLE.

    Parameters
    ----------
    x : array of shape (n,) of integer labels 0, ..., K - 1.
    alpha : float or array of shape (K,), prior pseudo-counts >= 0.
    n_categories : K; from ``alpha`` when it is an array, else ``max(x) + 1``.

    Returns
    -------
    Posterior ``probs`` of shape (K,), with ``cov`` (K, K); ``predictive()`` is the next label,
    a categorical distribution with probabilities :math:`\alpha'/\sum\alpha'` (its ``mean`` and
    ``sd`` are those of the one-hot vector).
    """
    x = _finite(x, "x", 1)
    _at_least(x.size, 1, "dirichlet_categorical")
    _integers(x, "labels", "dirichlet_categorical")
    if n_categories is None:
        n_categories = np.size(alpha) if np.ndim(alpha) else int(x.max()) + 1
    K = int(n_categories)
    if x.max() >= K:
        raise ValueError(f"dirichlet_categorical: label {x.max():g} is not below {K} categories")
    prior = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (K,))
    if (prior < 0).any():
        raise ValueError("alpha must be non-negative")
    a = prior + np.bincount(x.astype(np.intp), minlength=K)  # (K,)
    if (a <= 0).any():
        raise ValueError("posterior alpha must be positive: a category has neither prior nor data")
    a0 = a.sum()
    mean = a / a0
    cov = (np.diag(mean) - np.outer(mean, mean)) / (a0 + 1)
    excess = np.maximum(a - 1, 0)
    mode = excess / excess.sum() if excess.sum() > 0 else np.full(K, np.nan)

    def interval(level: float) -> tuple:
        marg = stats.beta(a, a0 - a)  # each p_k ~ Beta(a_k, a0 - a_k)
        return marg.interval(level)

    def predictive() -> Predictive:
        dist = stats.rv_discrete(values=(np.arange(K), mean))
        return Predictive(
            dist, mean, np.sqrt(mean * (1 - mean)), np.diag(mean) - np.outer(mean, mean)
        )

    return Posterior(
        "probs",
        stats.dirichlet(a),
        mean,
        np.sqrt(np.diag(cov)),
        mode,
        {"alpha": a},
        cov,
        interval,
        predictive,
    )


def normal_inverse_wishart(
    X, mu0=None, kappa0: float = 0.0, nu0: float | None = None, psi0=None
) -> JointPosterior:
    r"""Joint posterior of a multivariate normal mean and covariance under a NIW prior.

    Prior :math:`\Sigma \sim \mathrm{IW}(\nu_0, \Psi_0)`,
    :math:`\mu \mid \Sigma \sim N(\mu_0, \Sigma/\kappa_0)`. Posterior: :math:`\kappa_n = \kappa_0 +
    N`, :math:`\mu_n = (\kappa_0\mu_0 + N\bar x)/\kappa_n`, :math:`\nu_n = \nu_0 + N`,
    :math:`\Psi_n = \Psi_0 + S + \frac{\kappa_0 N}{\kappa_n}(\bar x-\mu_0)(\bar x-\mu_0)^\top`,
    S the scatter matrix. Marginals: :math:`\mu \sim t_{\nu_n-d+1}(\mu_n,
    \Psi_n/(\kappa_n(\nu_n-d+1)))`, :math:`\Sigma \sim \mathrm{IW}(\nu_n, \Psi_n)`; joint mode
    :math:`(\mu_n, \Psi_n/(\nu_n + d + 2))`.

    The defaults ``kappa0=0, nu0=-1, psi0=0`` are the reference prior
    :math:`p(\mu,\Sigma) \propto |\Sigma|^{-(d+1)/2}`; ``nu0=-(d+2)`` is the flat prior, whose
    MAP is the MLE :math:`(\bar x, S/N)`. In one dimension this is :func:`normal_inverse_gamma`
    with :math:`\alpha_0 = \nu_0/2`, :math:`\beta_0 = \Psi_0/2`.

    Parameters
    ----------
    X : array of shape (n, d).
    mu0 : array of shape (d,), zeros by default; kappa0 >= 0 its weight in observations.
    nu0 : prior degrees of freedom, >= -(d + 2); -1 by default.
    psi0 : array of shape (d, d), positive semi-definite; zeros by default.

    Returns
    -------
    JointPosterior with marginals ``mean`` (d,) and ``covariance`` (d, d); ``predictive()`` is
    the multivariate t :math:`t_{\nu_n-d+1}(\mu_n, \Psi_n(\kappa_n+1)/(\kappa_n(\nu_n-d+1)))`.
    The credible interval of an off-diagonal covariance has no closed form and is NaN: use
    ``sample``.
    """
    X = _finite(X, "X", 2)
    n, d = X.shape
    _at_least(n, 1, "normal_inverse_wishart")
    mu0 = np.zeros(d) if mu0 is None else np.broadcast_to(np.asarray(mu0, float), (d,))
    psi0 = np.zeros((d, d)) if psi0 is None else np.asarray(psi0, dtype=np.float64)
    nu0 = -1.0 if nu0 is None else float(nu0)
    _nonnegative(kappa0=kappa0)
    if nu0 < -(d + 2):
        raise ValueError(f"nu0 must be >= -(d + 2) = {-(d + 2)} (the flat prior), got {nu0}")
    if psi0.shape != (d, d) or np.linalg.eigvalsh((psi0 + psi0.T) / 2).min() < 0:
        raise ValueError(f"psi0 must be a positive semi-definite ({d}, {d}) matrix")
    xbar = X.mean(axis=0)
    centred = X - xbar  # (n, d)
    k_n = kappa0 + n
    m_n = (kappa0 * mu0 + n * xbar) / k_n  # (d,)
    nu_n = nu0 + n
    dev = xbar - mu0
    psi_n = psi0 + centred.T @ centred + kappa0 * n / k_n * np.outer(dev, dev)  # (d, d)
    if nu_n <= d - 1:
        raise ValueError(f"posterior nu (nu0 + N = {nu_n}) must exceed d - 1 = {d - 1}: more data")
    try:
        np.linalg.cholesky(psi_n)
    except np.linalg.LinAlgError:
        raise ValueError(
            "posterior scale matrix is singular: give psi0 > 0 or more linearly independent rows"
        ) from None
    hyper = {"mu": m_n, "kappa": k_n, "nu": nu_n, "psi": psi_n}

    df = nu_n - d + 1
    shape = psi_n / (k_n * df)
    mean_dist = stats.multivariate_t(loc=m_n, shape=shape, df=df)
    mean_cov = shape * df / (df - 2) if df > 2 else np.full((d, d), np.inf)
    t_marg = stats.t(df, loc=m_n, scale=np.sqrt(np.diag(shape)))
    mean_post = Posterior(
        "mean",
        mean_dist,
        m_n,
        np.sqrt(np.diag(mean_cov)),
        m_n,
        hyper,
        mean_cov,
        lambda level: t_marg.interval(level),
    )

    cov_dist = stats.invwishart(df=nu_n, scale=psi_n)
    q = nu_n - d
    diag = np.diag(psi_n)
    with np.errstate(divide="ignore", invalid="ignore"):
        cov_mean = psi_n / (q - 1) if q > 1 else np.full((d, d), np.inf)
        cov_var = ((q + 1) * psi_n**2 + (q - 1) * np.outer(diag, diag)) / (
            q * (q - 1) ** 2 * (q - 3)
        )
        cov_sd = np.sqrt(cov_var) if q > 3 else np.full((d, d), np.inf)

    def cov_interval(level: float) -> tuple:
        low, high = np.full((d, d), np.nan), np.full((d, d), np.nan)
        # Sigma_ii ~ IG((nu - d + 1) / 2, psi_ii / 2); off-diagonals have no closed form
        lo, hi = stats.invgamma((nu_n - d + 1) / 2, scale=diag / 2).interval(level)
        low[np.diag_indices(d)], high[np.diag_indices(d)] = lo, hi
        return low, high

    cov_post = Posterior(
        "covariance", cov_dist, cov_mean, cov_sd, psi_n / (nu_n + d + 1), hyper, None, cov_interval
    )

    def sample(size: int, rng: np.random.Generator) -> dict:
        sigma = np.asarray(cov_dist.rvs(size=size, random_state=rng)).reshape(size, d, d)
        chol = np.linalg.cholesky(sigma / k_n)  # (size, d, d)
        mean = m_n + np.einsum("sij,sj->si", chol, rng.standard_normal((size, d)))
        return {"mean": mean, "covariance": sigma}

    def predictive() -> Predictive:
        pshape = psi_n * (k_n + 1) / (k_n * df)
        pcov = pshape * df / (df - 2) if df > 2 else np.full((d, d), np.inf)
        dist = stats.multivariate_t(loc=m_n, shape=pshape, df=df)
        return Predictive(dist, m_n, np.sqrt(np.diag(pcov)), pcov)

    return JointPosterior(
        {"mean": mean_post, "covariance": cov_post},
        {"mean": m_n, "covariance": psi_n / (nu_n + d + 2)},
        hyper,
        sample,
        predictive,
    )


@dataclass(frozen=True, eq=False)
class RidgePosterior(Posterior):
    """Posterior of ridge regression coefficients, with the intercept and noise variance used."""

    intercept: float = 0.0
    variance: float = 1.0


def ridge(X, y, alpha: float, fit_intercept: bool = True, variance: float | None = None):
    r"""MAP linear regression under a Gaussian prior on the coefficients: ridge regression.

    Model :math:`y = b + X\beta + \varepsilon`, :math:`\varepsilon \sim N(0, \sigma^2)`, prior
    :math:`\beta \sim N(0, \tau^2 I)` and a flat prior on the intercept b. The posterior of
    :math:`\beta` is normal with mean (= MAP) :math:`(X_c^\top X_c + \alpha I)^{-1}X_c^\top y_c`
    and covariance :math:`\sigma^2 (X_c^\top X_c + \alpha I)^{-1}` (X_c, y_c centred when
    ``fit_intercept``), where

    .. math:: \alpha = \sigma^2 / \tau^2,

    the noise variance over the prior variance of each coefficient: the MAP minimises
    :math:`\lVert y - b - X\beta\rVert^2 + \alpha\lVert\beta\rVert^2`, as scikit-learn's ``Ridge``.
    alpha -> 0 is the flat prior and gives least squares, the MLE.

    Parameters
    ----------
    X : array of shape (n, p).
    y : array of shape (n,).
    alpha : float >= 0 (0 needs X of full column rank).
    fit_intercept : estimate an unpenalised intercept.
    variance : the noise variance :math:`\sigma^2`; when None, the plug-in RSS / N at the MAP.

    Returns
    -------
    RidgePosterior ``coef`` of shape (p,), with ``cov`` (p, p), ``intercept`` and ``variance``;
    ``predictive(X_new)`` is normal with mean :math:`b + X_{new}\beta` and the variance of the
    noise plus that of the fitted line, elementwise over the rows of ``X_new``.
    """
    X = _finite(X, "X", 2)
    y = _finite(y, "y", 1)
    if X.shape[0] != y.size:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.size} values")
    _nonnegative(alpha=alpha)
    n, p = X.shape
    _at_least(n, 2, "ridge")
    x_mean = X.mean(axis=0) if fit_intercept else np.zeros(p)
    y_mean = y.mean() if fit_intercept else 0.0
    Xc, yc = X - x_mean, y - y_mean  # (n, p), (n,)
    A = Xc.T @ Xc + alpha * np.eye(p)  # (p, p), the posterior precision times sigma^2
    try:
        L = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        raise ValueError("ridge: X^T X + alpha I is singular; use alpha > 0") from None
    A_inv = np.linalg.solve(L.T, np.linalg.solve(L, np.eye(p)))
    coef = A_inv @ Xc.T @ yc
    intercept = float(y_mean - x_mean @ coef)
    if variance is None:
        resid = yc - Xc @ coef
        variance = float(resid @ resid / n)
    _positive(variance=variance)
    cov = variance * A_inv

    def predictive(X_new) -> Predictive:
        X_new = _finite(X_new, "X_new", 2)
        dx = X_new - x_mean  # (m, p)
        line_var = np.einsum("mi,ij,mj->m", dx, cov, dx) + (variance / n if fit_intercept else 0)
        scale = np.sqrt(variance + line_var)
        loc = intercept + X_new @ coef
        return Predictive(stats.norm(loc, scale), loc, scale)

    normal = stats.norm(coef, np.sqrt(np.diag(cov)))
    return RidgePosterior(
        "coef",
        stats.multivariate_normal(coef, cov),
        coef,
        np.sqrt(np.diag(cov)),
        coef,
        {"mean": coef, "cov": cov},
        cov,
        lambda level: normal.interval(level),
        predictive,
        intercept=intercept,
        variance=variance,
    )
