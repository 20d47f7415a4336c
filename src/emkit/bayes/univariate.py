"""Conjugate posteriors of one-dimensional models: Bernoulli, Poisson, normal.

Each posterior is the family's statistics of the data with unit weights, then the family's
``conjugate_update`` of the prior's hyperparameters (the update whose mode the family's
``from_stats(stats, prior)`` returns as its MAP estimate).
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from emkit.bayes.posterior import (
    JointPosterior,
    Posterior,
    hyperparameter,
    no_data,
    nonnegative,
    positive,
    scalar_predictive,
    t_mean,
    univariate,
)
from emkit.checks import (
    HUGE_COUNTS,
    finite_array,
    nonnegative_integers,
    squares_finite,
    unit_stats,
)
from emkit.distributions.bernoulli import Bernoulli
from emkit.distributions.normal import Normal, NormalStats
from emkit.distributions.poisson import Poisson


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

    Examples
    --------
    >>> from emkit import bayes
    >>> post = bayes.beta_bernoulli([1] * 379 + [0] * 621, a=2, b=2)
    >>> print(f"mean {post.mean:.4f}, MAP {post.map:.4f}")
    mean 0.3795, MAP 0.3792
    >>> print("95%% interval (%.4f, %.4f)" % post.interval(0.95))
    95% interval (0.3497, 0.4097)
    """
    x = finite_array(x, "x", 1, "bayes.beta_bernoulli")
    if ((x != 0) & (x != 1)).any():
        raise ValueError("beta_bernoulli needs values 0 and 1 only")
    a, b = nonnegative(a=a, b=b)
    if x.size == 0:
        zero = [f"{name} = 0" for name, value in (("a", a), ("b", b)) if value == 0]
        no_data("beta_bernoulli", f"Beta({a:g}, {b:g})", zero, "a > 0 and b > 0")
    family = Bernoulli()
    posterior = family.conjugate_update(unit_stats(family, x, "beta_bernoulli"), {"a": a, "b": b})
    a_n, b_n = posterior["a"][0], posterior["b"][0]
    positive(**{"posterior a (a + successes)": a_n, "posterior b (b + failures)": b_n})
    if a_n >= 1 and b_n >= 1 and a_n + b_n > 2:
        mode = (a_n - 1) / (a_n + b_n - 2)
    else:  # the density is unbounded at an end, or flat: the mode is that end (or undefined)
        mode = 0.0 if a_n < b_n else 1.0 if b_n < a_n else np.nan
    return univariate(
        "p",
        stats.beta(a_n, b_n),
        mode,
        {"a": a_n, "b": b_n},
        lambda: scalar_predictive(stats.betabinom(1, a_n, b_n)),
    )


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

    Examples
    --------
    >>> from emkit import bayes
    >>> post = bayes.gamma_poisson([5, 0, 1, 1, 0, 3, 2, 3, 4, 1])  # flat prior
    >>> round(post.map, 4), round(post.mean, 4)
    (2.0, 2.1)
    >>> pred = post.predictive()  # the next count: negative binomial
    >>> round(float(pred.pmf(0)), 4)
    0.1351
    """
    x = finite_array(x, "x", 1, "bayes.gamma_poisson")
    nonnegative_integers(x, "counts", "gamma_poisson")
    shape, rate = nonnegative(shape=shape, rate=rate)
    if x.size == 0:
        zero = [f"{name} = 0" for name, value in (("shape", shape), ("rate", rate)) if value == 0]
        no_data("gamma_poisson", f"Gamma({shape:g}, {rate:g})", zero, "shape > 0 and rate > 0")
    family = Poisson()
    data = unit_stats(family, x, "gamma_poisson", "the total count", HUGE_COUNTS)
    posterior = family.conjugate_update(data, {"shape": shape, "rate": rate})
    a_n, b_n = posterior["shape"][0], float(posterior["rate"][0])
    positive(**{"posterior shape": a_n})
    return univariate(
        "rate",
        stats.gamma(a_n, scale=1 / b_n),
        max(a_n - 1, 0.0) / b_n,
        {"shape": a_n, "rate": b_n},
        lambda: scalar_predictive(stats.nbinom(a_n, b_n / (b_n + 1))),
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

    Examples
    --------
    >>> from emkit import bayes
    >>> x = [9.8, 10.4, 10.1]
    >>> post = bayes.normal_known_variance(x, sigma=0.5, prior_mean=9.0, prior_sd=1.0)
    >>> round(post.mean, 4), round(post.sd, 4)
    (10.0154, 0.2774)
    >>> round(post.predictive().sd, 4)
    0.5718
    """
    x = finite_array(x, "x", 1, "bayes.normal_known_variance")
    (sigma,) = positive(sigma=sigma)
    prior_mean = hyperparameter("prior_mean", prior_mean, scalar=True)
    prior_sd = hyperparameter("prior_sd", prior_sd, 0.0, strict=True, flat=True, scalar=True)
    if x.size == 0:
        flat = ["prior_sd = inf, flat"] if prior_sd == np.inf else []
        no_data(
            "normal_known_variance", f"N({prior_mean:g}, {prior_sd:g}^2)", flat, "prior_sd < inf"
        )
    data: NormalStats = unit_stats(
        Normal(), x, "normal_known_variance", "the mean", used=("weight", "mean")
    )
    n, xbar = float(data.weight), float(data.mean[0])
    # The data's share of the precision, w = (N/sigma^2) / precision, from the log of the
    # ratio of the precisions, so that neither sigma^2 nor prior_sd^2 over- or underflows: a
    # vague prior (prior_sd 1e155) or a tiny sigma (1e-200) gives the limit, xbar.
    with np.errstate(divide="ignore", over="ignore"):  # sigma / prior_sd of 0 or inf: limits
        log_ratio = 2 * np.log(sigma / prior_sd) - np.log(n)  # prior / data precision
    w, prior_share = special.expit(-log_ratio), special.expit(log_ratio)
    mean = float(w * xbar + prior_share * prior_mean)
    # 1 / precision = (sigma^2 / N) w = prior_sd^2 (1 - w): take the larger share
    sd = float(sigma / np.sqrt(n) * np.sqrt(w) if w >= 0.5 else prior_sd * np.sqrt(prior_share))
    pred_sd = float(np.hypot(sd, sigma))
    return univariate(  # scipy's sd squares the scale: give it ours
        "mean",
        stats.norm(mean, sd),
        mean,
        {"mean": mean, "sd": sd},
        lambda: scalar_predictive(stats.norm(mean, pred_sd), sd=pred_sd),
        sd=sd,
    )


def normal_inverse_gamma(
    x, mu0: float = 0.0, kappa0: float = 0.0, alpha0: float = 0.0, beta0: float = 0.0
) -> JointPosterior:
    r"""Joint posterior of a normal mean and variance under a normal-inverse-gamma prior.

    Prior :math:`\sigma^2 \sim \mathrm{IG}(\alpha_0, \beta_0)` and, when :math:`\kappa_0 > 0`,
    :math:`\mu \mid \sigma^2 \sim N(\mu_0, \sigma^2/\kappa_0)`, i.e. the density
    :math:`\propto (\sigma^2)^{-(\alpha_0 + 1 + t/2)}
    \exp(-(2\beta_0 + \kappa_0(\mu-\mu_0)^2)/(2\sigma^2))` with :math:`t = [\kappa_0 > 0]`;
    ``kappa0=0`` leaves the mean flat (as :class:`~emkit.NormalInverseGamma` with
    ``shrinkage=0``).
    Posterior: :math:`\kappa_n = \kappa_0 + N`, :math:`\mu_n = (\kappa_0\mu_0 + N\bar x)/\kappa_n`,
    :math:`\alpha_n = \alpha_0 + (N - 1 + t)/2`, :math:`\beta_n = \beta_0 + S/2 +
    \kappa_0 N(\bar x - \mu_0)^2/(2\kappa_n)` with :math:`S = \sum(x_i - \bar x)^2` (a flat
    mean costs the variance one value).
    Marginals: :math:`\mu \sim t_{2\alpha_n}(\mu_n, \beta_n/(\alpha_n\kappa_n))`,
    :math:`\sigma^2 \sim \mathrm{IG}(\alpha_n, \beta_n)`; joint mode
    :math:`(\mu_n, \beta_n/(\alpha_n + 3/2))`. A t with one degree of freedom or fewer (two
    values under the reference prior) is Cauchy-like: its ``mean`` and ``sd`` are NaN,
    undefined; its mode and intervals exist.

    The default ``kappa0=0, alpha0=0, beta0=0`` is the reference prior
    :math:`p(\mu, \sigma^2) \propto 1/\sigma^2`, whose credible interval for the mean is the
    classical t interval. ``alpha0=-1`` (with kappa0 = beta0 = 0) is the flat prior, whose MAP
    is the MLE :math:`(\bar x, S/N)`.

    Parameters
    ----------
    x : array of shape (n,); n >= 2 under the default prior (n > 1 - t - 2 alpha0, and values
        not all equal where beta0 = 0); n = 0 gives the prior, proper when kappa0, alpha0 and
        beta0 are > 0.
    mu0, kappa0 : prior mean and its weight in observations (kappa0 >= 0; 0: a flat mean).
    alpha0, beta0 : prior shape and scale (>= 0) of the variance; alpha0 >= -1, the flat
        prior (>= -3/2 when kappa0 > 0, the prior flat in the variance).

    Returns
    -------
    JointPosterior with marginals ``mean`` and ``variance``; ``predictive()`` is
    :math:`t_{2\alpha_n}(\mu_n, \beta_n(\kappa_n + 1)/(\alpha_n\kappa_n))`.

    Examples
    --------
    >>> from emkit import bayes
    >>> x = [4.9, 5.1, 5.3, 4.7, 5.0]
    >>> post = bayes.normal_inverse_gamma(x)  # reference prior
    >>> print("(%.4f, %.4f)" % post["mean"].interval(0.95))  # the t interval
    (4.7224, 5.2776)
    >>> flat = bayes.normal_inverse_gamma(x, alpha0=-1)  # flat prior: MAP = MLE
    >>> {name: round(value, 4) for name, value in flat.map.items()}
    {'mean': 5.0, 'variance': 0.04}
    """
    x = finite_array(x, "x", 1, "bayes.normal_inverse_gamma")
    mu0 = hyperparameter("mu0", mu0, scalar=True)
    kappa0, beta0 = nonnegative(kappa0=kappa0, beta0=beta0)
    mean_power = float(kappa0 > 0)  # t: the prior's density carries the mean's (sigma^2)^(-1/2)
    # the flat prior: (sigma^2)^0 in the flat mean's case, (sigma^2)^(-1/2) otherwise
    alpha0 = hyperparameter("alpha0", alpha0, -1.0 - mean_power / 2, scalar=True)
    n = x.size
    if n == 0:
        improper = [f"kappa0 = {kappa0:g}"] if kappa0 == 0 else []
        improper += [f"alpha0 = {alpha0:g}"] if alpha0 <= 0 else []
        improper += [f"beta0 = {beta0:g}"] if beta0 == 0 else []
        prior_text = f"NIG(mu0={mu0:g}, kappa0={kappa0:g}, alpha0={alpha0:g}, beta0={beta0:g})"
        no_data("normal_inverse_gamma", prior_text, improper, "kappa0, alpha0 and beta0 > 0")
    elif alpha0 + (n - 1 + mean_power) / 2 <= 0:
        # the variance's marginal IG(alpha_n, beta_n) needs alpha_n = alpha0 + (N - 1 + t)/2 > 0
        least = 1 - mean_power - 2 * alpha0
        rule = "1 - 2 alpha0" if kappa0 == 0 else "-2 alpha0"
        posterior_alpha = f"alpha0 + (N - 1)/2 = {alpha0:g} + ({n} - 1)/2"
        if kappa0 > 0:
            posterior_alpha = f"alpha0 + N/2 = {alpha0:g} + {n}/2"
        raise ValueError(
            f"normal_inverse_gamma: the posterior {posterior_alpha} is not > 0, "
            f"so the posterior of the variance is improper: with alpha0 = {alpha0:g} it needs "
            f"at least {int(np.floor(least)) + 1} values (N > {rule} = {least:g}), got {n}; "
            f"give more values, or alpha0 > {(1 - mean_power - n) / 2:g}"
        )
    family = Normal()
    data: NormalStats = unit_stats(family, x, "normal_inverse_gamma", "the mean or the scatter")
    prior = {"mean": mu0, "shrinkage": kappa0, "shape": alpha0}
    with np.errstate(over="ignore", invalid="ignore"):
        posterior = family.conjugate_update(data, {**prior, "scale": beta0})
    squares_finite(posterior["scale"], [x, mu0], "normal_inverse_gamma", "the posterior beta")
    k_n, m_n = float(posterior["shrinkage"][0]), posterior["mean"][0]
    a_n, b_n = float(posterior["shape"][0]), posterior["scale"][0]
    if b_n == 0:  # beta0 = 0, no scatter, and no pull of the data's mean from mu0
        if np.ptp(x) > 0:
            raise ValueError(
                f"normal_inverse_gamma: values no larger than {np.abs(x).max():.3g} underflow "
                "float64 when squared (the posterior beta comes out 0); rescale the data first"
            )
        values = f"the {n} values are all equal ({x[0]:g}): they have" if n > 1 else "one value has"
        raise ValueError(
            f"normal_inverse_gamma: {values} no scatter, so with beta0 = 0 the posterior of "
            "the variance is improper "
            "(beta_n = 0, all its mass at variance 0); give a prior with beta0 > 0, which makes "
            "the posterior proper, or values that are not all equal"
        )
    hyper = {"mu": m_n, "kappa": k_n, "alpha": a_n, "beta": b_n}
    variance = stats.invgamma(a_n, scale=b_n)
    mean = stats.t(2 * a_n, loc=m_n, scale=np.sqrt(b_n / (a_n * k_n)))
    marginals = {
        "mean": univariate("mean", mean, m_n, hyper, None, t_mean(2 * a_n, m_n)),
        "variance": univariate("variance", variance, b_n / (a_n + 1), hyper, None),
    }

    def sample(size: int, rng: np.random.Generator) -> dict:
        var = variance.rvs(size=size, random_state=rng)
        return {"mean": rng.normal(m_n, np.sqrt(var / k_n)), "variance": var}

    return JointPosterior(
        marginals,
        {"mean": m_n, "variance": b_n / (a_n + 1.5)},
        hyper,
        sample,
        lambda: scalar_predictive(
            stats.t(2 * a_n, loc=m_n, scale=np.sqrt(b_n * (k_n + 1) / (a_n * k_n))),
            t_mean(2 * a_n, m_n),
        ),
    )
