"""Conjugate posteriors of vector parameters: categorical, multivariate normal, ridge.

The categorical posterior is the :class:`~emkit.distributions.categorical.Categorical` family's
statistics and ``conjugate_update``; the normal-inverse-Wishart posterior is the Gaussian
family's statistics and :func:`~emkit.distributions.priors.niw_update`, the update whose mode
the mixture's MAP M-step takes; ridge works from the weighted moments of the rows
:math:`(x, y)`, the statistics of the :class:`~emkit.distributions.linear_gaussian.LinearGaussian`
family.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from emkit.bayes.posterior import (
    JointPosterior,
    Posterior,
    Predictive,
    _plain,
    hyperparameter,
    no_data,
    nonnegative,
    positive,
    t_cov,
    t_mean,
)
from emkit.checks import (
    at_least,
    category_count,
    category_limit,
    finite_array,
    named_labels,
    nonnegative_integers,
    squares_finite,
)
from emkit.distributions.categorical import Categorical
from emkit.distributions.gaussian import GaussianStats
from emkit.distributions.linear_gaussian import LinearGaussian
from emkit.distributions.priors import niw_update


def dirichlet_categorical(x, alpha=1.0, n_categories: int | None = None) -> Posterior:
    r"""Posterior of category probabilities under a Dirichlet(alpha) prior.

    Posterior :math:`\mathrm{Dir}(\alpha_k + N_k)`; MAP
    :math:`(\alpha'_k - 1)/\sum_j(\alpha'_j - 1)` (all :math:`\alpha'_k \ge 1`; components with
    :math:`\alpha'_k < 1` have mode 0). The default alpha = 1 is flat: its MAP is the MLE.

    Parameters
    ----------
    x : array of shape (n,) of integer labels 0, ..., K - 1; or of names (strings), the K
        categories being the distinct names in sorted order, as :func:`emkit.mle.categorical`;
        or a pandas ``Categorical`` (or Series of dtype ``category``), whose declared
        categories, in their order, are the K categories, observed or not.
    alpha : float or array of shape (K,), prior pseudo-counts >= 0, in the order of the
        categories.
    n_categories : K, a positive integer; from ``alpha`` when it is an array, else
        ``max(x) + 1`` (for names, the number of categories). With no data (x empty) K must
        come from one of the two, and the posterior is the prior.

    Returns
    -------
    Posterior ``probs`` of shape (K,), with ``cov`` (K, K) and ``categories``, the category of
    each entry (the labels 0, ..., K - 1 or the names); ``predictive()`` is the next label, a
    categorical distribution with probabilities :math:`\alpha'/\sum\alpha'` (its ``mean`` and
    ``sd`` are those of the one-hot vector, ``pmf(k)`` is that of ``categories[k]``;
    ``sample(n)`` gives n labels or names, shape (n,)).

    Examples
    --------
    >>> from emkit import bayes
    >>> post = bayes.dirichlet_categorical([0, 2, 1, 2, 2, 0, 2, 1], alpha=2.0)
    >>> post.mean.round(4)
    array([0.2857, 0.2857, 0.4286])
    >>> post.map.round(4)
    array([0.2727, 0.2727, 0.4545])
    >>> post.predictive().mean.round(4)
    array([0.2857, 0.2857, 0.4286])
    >>> named = bayes.dirichlet_categorical(["red", "blue", "red", "red"])
    >>> named.categories, named.mean.round(4)
    (('blue', 'red'), array([0.3333, 0.6667]))
    >>> named.predictive().sample(4, random_state=0)
    array(['red', 'blue', 'blue', 'blue'], dtype='<U4')
    """
    if n_categories is not None:
        n_categories = category_count(n_categories)
    named = named_labels(x)
    if named is None:
        codes = finite_array(x, "x", 1, "bayes.dirichlet_categorical")
        nonnegative_integers(codes, "labels", "dirichlet_categorical")
    else:
        codes, categories = named[0].astype(np.float64), named[1]
        if n_categories is not None and n_categories != len(categories):
            raise ValueError(
                f"n_categories={n_categories!r}, but x names {len(categories)} categories: leave "
                "n_categories out (declare unobserved ones with pd.Categorical(x, "
                "categories=[...]))"
            )
        n_categories = len(categories)
    alpha = hyperparameter("alpha", alpha, 0.0)
    if np.ndim(alpha) > 1:
        raise ValueError(f"alpha must be one number or of shape (K,), got shape {alpha.shape}")
    if n_categories is None and not np.ndim(alpha) and codes.size == 0:
        raise ValueError(
            "dirichlet_categorical got no data, so its posterior is the prior, but the number "
            "of categories is unknown: give n_categories, or alpha of shape (K,)"
        )
    if named is None and n_categories is None and not np.ndim(alpha):
        category_limit(codes.max() + 1.0, codes, "bayes.dirichlet_categorical", False)
    elif named is None and n_categories is not None:
        category_limit(n_categories, codes, "bayes.dirichlet_categorical", True)
    if n_categories is None:
        K = alpha.size if np.ndim(alpha) else int(codes.max()) + 1
    else:
        K = n_categories
    if named is None:
        categories = list(range(K))
    if np.ndim(alpha) and alpha.shape != (K,):
        order = (
            " (n_categories)"
            if named is None
            else f" ({', '.join(map(str, categories))}, in this order)"
        )
        raise ValueError(
            f"alpha has shape {alpha.shape} but there are {K} categories{order}: give "
            f"alpha of shape ({K},), one pseudo-count per category, or one number"
        )
    if codes.size and codes.max() >= K:
        raise ValueError(
            f"dirichlet_categorical: label {codes.max():g} is not below {K} categories"
        )
    prior = np.broadcast_to(alpha, (K,))
    family = Categorical(K)
    data = family.suff_stats(codes[:, None], np.ones(codes.size))
    a = family.conjugate_update(data, {"concentration": prior})["concentration"][0]  # (K,)
    if (a <= 0).any():
        empty = categories[int(np.argmax(a <= 0))]
        raise ValueError(
            f"posterior alpha must be positive: category {empty} has neither prior (alpha 0) "
            "nor data, so the posterior is improper; give alpha > 0"
        )
    a0 = a.sum()
    mean = a / a0
    cov = (np.diag(mean) - np.outer(mean, mean)) / (a0 + 1)
    excess = np.maximum(a - 1, 0)
    mode = excess / excess.sum() if excess.sum() > 0 else np.full(K, np.nan)

    def interval(level: float) -> tuple:
        # each p_k ~ Beta(a_k, a0 - a_k); a category holding all the mass (one category:
        # a0 - a_k = 0) has p_k = 1 for certain, where the Beta's parameters give NaN
        rest = a0 - a
        low, high = stats.beta(a, np.where(rest > 0, rest, 1.0)).interval(level)
        certain = rest <= 0
        return np.where(certain, 1.0, low), np.where(certain, 1.0, high)

    def predictive() -> Predictive:
        dist = stats.rv_discrete(values=(np.arange(K), mean))

        labels = np.asarray(categories)  # (K,)

        def sample(size: int, rng: np.random.Generator) -> np.ndarray:
            return labels[np.asarray(dist.rvs(size=size, random_state=rng)).reshape(size)]

        def interval(level: float) -> tuple:
            raise ValueError(
                "categories have no order, so the next label has no interval: use pmf(k) or "
                "mean, the probability of each category"
            )

        return Predictive(
            dist,
            mean,
            np.sqrt(mean * (1 - mean)),
            np.diag(mean) - np.outer(mean, mean),
            sample,
            interval,
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
        categories=tuple(_plain(c) for c in categories),
    )


def _scale_matrix(psi0, d: int) -> np.ndarray:
    """``psi0`` as a finite symmetric positive semi-definite (d, d) array, or a ValueError.

    A matrix symmetric up to rounding (a relative gap of 1e-8) is symmetrised; a clearly
    asymmetric one is refused, since the posterior would keep its asymmetry.
    """
    psi0 = np.asarray(hyperparameter("psi0", psi0))
    if psi0.shape != (d, d):
        raise ValueError(
            f"psi0 must have shape ({d}, {d}), a row and a column per column of X; "
            f"got shape {psi0.shape}"
        )
    gap = np.abs(psi0 - psi0.T)  # (d, d)
    if gap.max() > 1e-8 * np.abs(psi0).max():
        i, j = np.unravel_index(np.argmax(gap), gap.shape)
        raise ValueError(
            f"psi0 must be symmetric: psi0[{i}, {j}] = {psi0[i, j]:g} but psi0[{j}, {i}] = "
            f"{psi0[j, i]:g}; pass (psi0 + psi0.T) / 2 if that is the matrix you mean"
        )
    psi0 = 0.5 * psi0 + 0.5 * psi0.T
    eig = np.linalg.eigvalsh(psi0)  # (d,); rounding leaves a singular matrix's zeros at ~eps
    if eig.min() < -10 * d * np.finfo(np.float64).eps * np.abs(eig).max():
        raise ValueError(
            f"psi0 must be positive semi-definite; its smallest eigenvalue is {eig.min():g}"
        )
    return psi0


def normal_inverse_wishart(
    X, mu0=None, kappa0: float = 0.0, nu0: float | None = None, psi0=None
) -> JointPosterior:
    r"""Joint posterior of a multivariate normal mean and covariance under a NIW prior.

    Prior :math:`\Sigma \sim \mathrm{IW}(\nu_0, \Psi_0)` and, when :math:`\kappa_0 > 0`,
    :math:`\mu \mid \Sigma \sim N(\mu_0, \Sigma/\kappa_0)`; ``kappa0=0`` leaves the mean flat (as
    :class:`~emkit.NormalInverseWishart` with ``shrinkage=0``). Posterior: :math:`\kappa_n =
    \kappa_0 + N`, :math:`\mu_n = (\kappa_0\mu_0 + N\bar x)/\kappa_n`, :math:`\nu_n = \nu_0 + N
    - 1 + t` with :math:`t = [\kappa_0 > 0]` (a flat mean costs the covariance one row),
    :math:`\Psi_n = \Psi_0 + S + \frac{\kappa_0 N}{\kappa_n}(\bar x-\mu_0)(\bar x-\mu_0)^\top`,
    S the scatter matrix. Marginals: :math:`\mu \sim t_{\nu_n-d+1}(\mu_n,
    \Psi_n/(\kappa_n(\nu_n-d+1)))`, :math:`\Sigma \sim \mathrm{IW}(\nu_n, \Psi_n)`; joint mode
    :math:`(\mu_n, \Psi_n/(\nu_n + d + 2))`. With :math:`\nu_n - d + 1 \le 1` the t's mean and
    covariance are undefined (NaN); with :math:`\le 2` its covariance is infinite.

    The defaults ``kappa0=0, nu0=0, psi0=0`` are the reference prior
    :math:`p(\mu,\Sigma) \propto |\Sigma|^{-(d+1)/2}`; ``nu0=-(d+1)`` is the flat prior, whose
    MAP is the MLE :math:`(\bar x, S/N)`. In one dimension this is :func:`normal_inverse_gamma`
    with :math:`\alpha_0 = \nu_0/2`, :math:`\beta_0 = \Psi_0/2`.

    Parameters
    ----------
    X : array of shape (n, d) (shape (n,) is one column); n = 0 gives the prior, proper when
        kappa0 > 0, nu0 > d - 1 and psi0 is positive definite.
    mu0 : array of shape (d,), the prior mean; zeros by default.
    kappa0 : float >= 0, the prior mean's weight in observations; 0 by default.
    nu0 : prior degrees of freedom, >= -(d + 1), the flat prior (>= -(d + 2) when
        kappa0 > 0, the prior flat in the covariance); 0 by default.
    psi0 : array of shape (d, d), symmetric positive semi-definite (symmetric up to rounding,
        a relative 1e-8, is symmetrised); zeros by default.

    Returns
    -------
    JointPosterior with marginals ``mean`` (d,) and ``covariance`` (d, d); ``predictive()`` is
    the multivariate t :math:`t_{\nu_n-d+1}(\mu_n, \Psi_n(\kappa_n+1)/(\kappa_n(\nu_n-d+1)))`,
    whose ``interval`` gives each coordinate's own interval from its marginal t (as for the
    mean: together they hold a new observation less often than ``level``). The credible
    interval of an off-diagonal covariance has no closed form and is NaN: use ``sample``.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import bayes
    >>> X = np.random.default_rng(0).multivariate_normal([0, 1], [[1, 0.5], [0.5, 2]], size=100)
    >>> post = bayes.normal_inverse_wishart(X)
    >>> post.mean["mean"].round(3)
    array([0.043, 0.868])
    >>> post.map["covariance"].round(3)
    array([[0.997, 0.585],
           [0.585, 1.706]])
    """
    X = finite_array(X, "X", 2, "bayes.normal_inverse_wishart")
    n, d = X.shape
    mu0 = np.zeros(d) if mu0 is None else hyperparameter("mu0", mu0)
    if np.ndim(mu0) and np.shape(mu0) != (d,):
        raise ValueError(
            f"mu0 must have shape ({d},), a value per column of X, or be one number; "
            f"got shape {np.shape(mu0)}"
        )
    mu0 = np.broadcast_to(mu0, (d,))
    psi0 = np.zeros((d, d)) if psi0 is None else _scale_matrix(psi0, d)
    (kappa0,) = nonnegative(kappa0=kappa0)
    mean_power = int(kappa0 > 0)  # t: the prior's density carries the mean's |Sigma|^(-1/2)
    # the flat prior: |Sigma|^0 in the flat mean's case, |Sigma|^(-1/2) otherwise
    nu0 = 0.0 if nu0 is None else hyperparameter("nu0", nu0, -(d + 1 + mean_power), scalar=True)
    if n == 0:
        improper = [f"kappa0 = {kappa0:g}"] if kappa0 == 0 else []
        improper += [f"nu0 = {nu0:g} <= d - 1 = {d - 1}"] if nu0 <= d - 1 else []
        if np.linalg.eigvalsh(psi0)[0] <= 0:
            improper.append("psi0 singular")
        fix = f"kappa0 > 0, nu0 > {d - 1} and psi0 positive definite"
        no_data("normal_inverse_wishart", "NIW(mu0, kappa0, nu0, psi0)", improper, fix)
    # The Gaussian family's statistics and the one normal-inverse-Wishart update.
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below
        data = GaussianStats.from_data(X, np.ones((n, 1)), diagonal=False)
        means, scales = niw_update(data, mu0, kappa0, psi0)
    squares_finite(scales, [X, mu0], "normal_inverse_wishart", "the posterior scale matrix")
    m_n, psi_n = means[0], scales[0]  # (d,), (d, d)
    psi_n = 0.5 * psi_n + 0.5 * psi_n.T  # the scatter's rounding leaves psi_n asymmetric by ulps
    k_n = kappa0 + n
    nu_n = nu0 + n - 1 + mean_power
    if nu_n <= d - 1:
        rule = "nu0 + N" if kappa0 > 0 else "nu0 + N - 1, the mean flat with kappa0 = 0,"
        raise ValueError(
            f"normal_inverse_wishart: the posterior nu ({rule} = {nu_n:g}) must exceed "
            f"d - 1 = {d - 1}: give more rows, or nu0 > {d - n - mean_power:g}"
        )
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
    mean_cov = t_cov(df, shape)
    t_marg = stats.t(df, loc=m_n, scale=np.sqrt(np.diag(shape)))
    mean_post = Posterior(
        "mean",
        mean_dist,
        t_mean(df, m_n),
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
        pcov = t_cov(df, pshape)
        dist = stats.multivariate_t(loc=m_n, shape=pshape, df=df)
        # each coordinate of a multivariate t is a univariate t with the same df
        marginal = stats.t(df, loc=m_n, scale=np.sqrt(np.diag(pshape)))

        def sample(size: int, rng: np.random.Generator) -> np.ndarray:
            return np.asarray(dist.rvs(size=size, random_state=rng)).reshape(size, d)

        return Predictive(
            dist,
            t_mean(df, m_n),
            np.sqrt(np.diag(pcov)),
            pcov,
            sample,
            lambda level: marginal.interval(level),
        )

    return JointPosterior(
        {"mean": mean_post, "covariance": cov_post},
        {"mean": m_n, "covariance": psi_n / (nu_n + d + 2)},
        hyper,
        sample,
        predictive,
    )


@dataclass(frozen=True, eq=False)
class RidgePosterior(Posterior):
    r"""Posterior of ridge regression coefficients, with the intercept and noise variance used.

    Attributes
    ----------
    name, dist, mean, sd, map, hyper, cov, categories : as for :class:`Posterior`, of the
        coefficients ``coef``.
    intercept : float, the intercept used (0 without ``fit_intercept``).
    variance : float, the noise variance :math:`\sigma^2` used.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import bayes
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2))
    >>> y = 1 + X @ [2.0, -1.0] + rng.normal(0, 0.5, size=40)
    >>> post = bayes.ridge(X, y, alpha=1.0)
    >>> post.mean.round(3), round(post.intercept, 3), round(post.variance, 3)
    (array([ 1.89 , -0.952]), 1.0, 0.218)
    """

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
    X : array of shape (n, p) (shape (n,) is one column).
    y : array of shape (n,).
    alpha : float >= 0 (0 needs X of full column rank).
    fit_intercept : estimate an unpenalised intercept.
    variance : the noise variance :math:`\sigma^2`; when None, the plug-in RSS / N at the MAP.

    Returns
    -------
    RidgePosterior ``coef`` of shape (p,), with ``cov`` (p, p), ``intercept`` and ``variance``;
    ``predictive(X_new)`` is normal with mean :math:`b + X_{new}\beta` and the variance of the
    noise plus that of the fitted line, elementwise over the rows of ``X_new`` (m rows:
    ``sample(n)`` has shape (n, m)).

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import bayes
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 2))
    >>> y = 1 + X @ [2.0, -1.0] + rng.normal(0, 0.5, size=40)
    >>> post = bayes.ridge(X, y, alpha=10.0)  # prior variance of each coefficient: sigma^2 / 10
    >>> post.map.round(3), post.sd.round(3)
    (array([ 1.503, -0.712]), array([0.096, 0.097]))
    >>> pred = post.predictive(np.array([[0.0, 0.0], [1.0, 1.0]]))
    >>> pred.mean.round(3)
    array([0.984, 1.774])
    """
    X = finite_array(X, "X", 2, "bayes.ridge")
    y = finite_array(y, "y", 1, "bayes.ridge")
    if X.shape[0] != y.size:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.size} values")
    (alpha,) = nonnegative(alpha=alpha)
    n, p = X.shape
    at_least(n, 2, "ridge")
    moments = LinearGaussian(fit_intercept).suff_stats(np.column_stack([X, y]), np.ones(n))
    mean, scatter = moments.mean[0], moments.scatter[0]  # (p + 1,), (p + 1, p + 1)
    if not fit_intercept:  # moments about the origin
        scatter = scatter + n * np.outer(mean, mean)
        mean = np.zeros(p + 1)
    x_mean, y_mean = mean[:p], mean[p]
    A = scatter[:p, :p] + alpha * np.eye(p)  # (p, p), the posterior precision times sigma^2
    # scipy's multivariate normal takes a covariance whose eigenvalues spread more than
    # 1 / (1e6 eps) for singular; A with collinear columns passes Cholesky on rounding alone.
    spectrum = np.linalg.eigvalsh(A)
    try:
        if not spectrum[0] > 1e6 * np.finfo(float).eps * spectrum[-1]:
            raise np.linalg.LinAlgError
        L = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        condition = spectrum[-1] / spectrum[0] if spectrum[0] > 0 else np.inf
        raise ValueError(
            f"ridge: X^T X + alpha I is singular or nearly so (condition number {condition:.3g},"
            f" alpha = {alpha:g}): columns of X are collinear (or there are fewer rows than "
            "columns); use a larger alpha > 0, or drop the redundant columns"
        ) from None
    A_inv = np.linalg.solve(L.T, np.linalg.solve(L, np.eye(p)))
    coef = A_inv @ scatter[:p, p]  # (p,)
    intercept = float(y_mean - x_mean @ coef)
    if variance is None:
        resid = y - intercept - X @ coef
        variance = float(resid @ resid / n)
    (variance,) = positive(variance=variance)
    cov = variance * A_inv

    def predictive(X_new) -> Predictive:
        X_new = finite_array(X_new, "X_new", 2, "bayes.ridge")
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
