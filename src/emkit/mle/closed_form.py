"""Maximum likelihood in closed form, with standard errors from the Fisher information.

Each estimate is the engine's own M-step: the family's statistics of the data with unit weights,
then ``from_stats`` without a prior; its covariance is the family's ``asymptotic_covariance``
(the inverse Fisher information of one observation) over N, and its log-likelihood the sum of
the family's ``log_prob``. Every function validates its input (finite, right shape, inside the
family's support, enough observations) and raises a ``ValueError`` that says what is wrong.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from emkit.backend.integers import exact_integers
from emkit.checks import (
    HUGE_COUNTS,
    at_least,
    category_count,
    category_limit,
    finite_array,
    named_labels,
    nonnegative_integers,
    real_numbers,
    rows_aligned,
    squares_finite,
    unit_stats,
)
from emkit.distributions.base import LOG_2PI
from emkit.distributions.bernoulli import Bernoulli, BernoulliStats
from emkit.distributions.categorical import Categorical
from emkit.distributions.exponential import Exponential
from emkit.distributions.gamma import MAX_SHAPE, Gamma
from emkit.distributions.gaussian import GaussianStats
from emkit.distributions.normal import Normal
from emkit.distributions.poisson import Poisson, bd0, stirlerr
from emkit.exceptions import DegenerateFitWarning, warn_user
from emkit.mle.estimate import Estimate
from emkit.mle.linear import (
    column_names,
    dependent_columns,
    linear_regression,  # noqa: F401  (was defined here)
)


def _fit(family: Any, x: np.ndarray, *checks: Any) -> Any:
    """The family's MLE from the values ``x`` (n,), one feature: ``from_stats`` of unit-weight
    statistics, checked before the fit (:func:`~emkit.checks.unit_stats` with ``checks``:
    what to name, the statistics, the advice)."""
    return family.from_stats(unit_stats(family, x, *checks))


def _estimate(
    fit: Any,
    x: np.ndarray,
    params: dict,
    method: str,
    bounds: list[tuple[float, float]],
    scale: np.ndarray | None = None,
    loglik: float | None = None,
) -> Estimate:
    """The :class:`Estimate` of ``fit`` on ``x`` (n,): covariance ``asymptotic_covariance / N``
    (in units of ``scale`` (k,) where given, so that it may leave float64's range while the
    standard errors do not), the log-likelihood summed from ``log_prob`` unless given, and
    the parameter space ``bounds``, one (low, high) per scalar entry."""
    n = x.size
    if loglik is None:
        loglik = fit.log_prob(x[:, None]).sum()
    cov = fit.asymptotic_covariance(scale) / n
    return Estimate(params, cov, loglik, n, method, bounds=np.array(bounds), cov_scale=scale)


# Parameter spaces of the scalar entries, for intervals that stay inside them.
REAL = (-np.inf, np.inf)
POSITIVE = (0.0, np.inf)
UNIT = (0.0, 1.0)


def _poisson_loglik(x: np.ndarray, rate: float) -> float:
    r"""Log-likelihood of counts ``x`` (n,) under a Poisson ``rate``, accurate for any count.

    :math:`\log p(k) = -\tfrac12\log 2\pi k - \mathrm{stirlerr}(k) - \mathrm{bd0}(k,
    \lambda)` for k > 0 and :math:`-\lambda` at 0 (Loader's saddle-point form, as R's
    ``dpois``): :math:`k\log\lambda - \lambda - \log k!` subtracts terms of 4e19 at k = 2**60
    and keeps none of the -21.7 they differ by.
    """
    k = x[x > 0]
    zeros = x.size - k.size
    if k.size == 0:
        return float(-zeros * rate)
    pos = -0.5 * (LOG_2PI + np.log(k)) - stirlerr(k) - bd0(k, rate)
    return float(-zeros * rate + pos.sum())


def _binomial_loglik(k: np.ndarray, n: np.ndarray, p: float) -> float:
    r"""Log-likelihood of ``k`` successes in ``n`` trials (each (m,)) at probability ``p``,
    accurate for any n (Loader's saddle-point form, as R's ``dbinom``):
    :math:`\log\binom nk p^k q^{n-k}` = stirlerr(n) - stirlerr(k) - stirlerr(n - k) -
    bd0(k, np) - bd0(n - k, nq) - ½ log(2π k (n - k)/n) for 0 < k < n, and
    :math:`n\log(1 - p)` (:math:`n\log p`) at k = 0 (k = n)."""
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    q = 1.0 - p
    with np.errstate(divide="ignore"):
        edge = np.where(k == 0, n * np.log1p(-p), n * np.log(p))  # log1p: p below 1e-16
    inner = (k > 0) & (k < n)
    ki, ni = k[inner], n[inner]
    values = (
        stirlerr(ni)
        - stirlerr(ki)
        - stirlerr(ni - ki)
        - bd0(ki, ni * p)
        - bd0(ni - ki, ni * q)
        - 0.5 * (LOG_2PI + np.log(ki) + np.log1p(-ki / ni))
    )
    edges = edge[~inner & (n > 0)]
    return float(values.sum() + edges.sum())


def _boundary(est: Estimate, at: np.ndarray, what: Callable[[], str]) -> Estimate:
    """``est`` with NaN variances for the scalar parameters ``at`` (bool, one per row of its
    covariance) that lie on the boundary of their space, where the Fisher information gives a
    standard error of 0 and a Wald interval of one point, neither valid; a
    DegenerateFitWarning says ``what()`` (which estimate, and the exact interval to use),
    composed only then."""
    if not at.any():
        return est
    cov = np.array(est.cov, dtype=float, copy=True)
    cov[at, :] = np.nan
    cov[:, at] = np.nan
    warn_user(
        f"{what()}: on the boundary of the parameter space its Wald standard error (0) and "
        "interval are not valid, so they are NaN",
        DegenerateFitWarning,
    )
    return dataclasses.replace(est, cov=cov)


def _exact_proportion(k: float, n: float) -> str:
    """Clopper-Pearson 95% interval of ``k`` successes in ``n`` trials, as text."""
    ci = stats.binomtest(int(k), int(n)).proportion_ci(0.95)
    interval = f"[{ci.low:.4g}, {ci.high:.4g}]"
    return f"the exact 95% interval (Clopper-Pearson, scipy.stats.binomtest) is {interval}"


# What to do about counts of successes or trials that float64 cannot hold exactly.
_ROUNDED_COUNTS = (
    "Counts cannot be shifted by an offset without changing the model: convert k and n to "
    "float yourself (np.asarray(k, dtype=float)) if rounding them to 16 significant digits is "
    "acceptable (p then moves by about 1e-16 of itself)"
)


def bernoulli(x) -> Estimate:
    r"""MLE of a success probability from 0/1 outcomes.

    :math:`\hat p = \bar x`, :math:`\operatorname{Var}\hat p = p(1-p)/N`.

    Parameters
    ----------
    x : array of shape (n,) with values 0 and 1.

    Returns
    -------
    Estimate with parameter ``p``.

    Examples
    --------
    >>> from emkit import mle
    >>> est = mle.bernoulli([1, 0, 0, 1, 1, 1, 0, 1])
    >>> est.params["p"], round(est.stderr["p"], 4)
    (0.625, 0.1712)
    """
    x = finite_array(x, "x", 1, "mle.bernoulli")
    at_least(x.size, 1, "bernoulli")
    bad = (x != 0) & (x != 1)
    if bad.any():
        raise ValueError(
            f"bernoulli needs values 0 and 1 only; got {int(bad.sum())} other value(s) "
            f"such as {x[bad][0]:g}"
        )
    fit = _fit(Bernoulli(), x, "bernoulli")
    est = _estimate(fit, x, {"p": fit.probs[0]}, "Bernoulli maximum likelihood", [UNIT])
    p, k = fit.probs[0], float(x.sum())
    return _boundary(
        est,
        np.array([p in (0.0, 1.0)]),
        lambda: f"p = {p:g} (all {x.size} outcomes are {int(p)}); {_exact_proportion(k, x.size)}",
    )


def binomial(k, n) -> Estimate:
    r"""MLE of a success probability from ``k`` successes in ``n`` trials.

    :math:`\hat p = \sum k_i / \sum n_i`, :math:`\operatorname{Var}\hat p = p(1-p)/\sum n_i`.

    Parameters
    ----------
    k : int or array of shape (m,), successes in each batch.
    n : int or array of shape (m,), trials in each batch (broadcast against ``k``).

    Returns
    -------
    Estimate with parameter ``p``; its ``n`` is the total number of trials.

    Examples
    --------
    >>> from emkit import mle
    >>> est = mle.binomial(k=[3, 5, 4], n=10)  # three batches of ten trials
    >>> est.params["p"], est.n, round(est.stderr["p"], 4)
    (0.4, 30, 0.0894)
    """
    real_numbers(k, "k", "mle.binomial")
    real_numbers(n, "n", "mle.binomial")
    rows_aligned("mle.binomial", k=k, n=n)
    k, n = np.atleast_1d(k), np.atleast_1d(n)
    # before the conversion to float64 below, which rounds counts beyond 2**53; an offset
    # cannot be subtracted from counts, so the message does not suggest one
    for name, counts in (("k", k), ("n", n)):
        exact_integers(counts, name, "mle.binomial", _ROUNDED_COUNTS)
    try:
        k, n = np.broadcast_arrays(k.astype(np.float64), n)
    except ValueError:
        raise ValueError(
            f"binomial: k has shape {k.shape} and n has shape {n.shape}; give n as one number "
            "(the same trials in every batch) or one per value of k"
        ) from None
    k = finite_array(k, "k", 1, "mle.binomial")
    n = finite_array(n, "n", 1, "mle.binomial")
    nonnegative_integers(k, "k", "binomial")
    nonnegative_integers(n, "n", "binomial")
    if (k > n).any():
        raise ValueError("binomial needs k <= n: more successes than trials")
    with np.errstate(over="ignore"):  # reported below
        total, successes = n.sum(), k.sum()
    squares_finite([total, successes], [n], "binomial", "the total of n", HUGE_COUNTS)
    if total < 1:
        raise ValueError("binomial needs at least one trial")
    # k successes in n trials are the Bernoulli statistics of the trials.
    fit: Any = Bernoulli().from_stats(BernoulliStats(float(total), np.array([successes])))
    p = fit.probs[0]
    loglik = _binomial_loglik(k, n, p)
    cov = fit.asymptotic_covariance() / total
    est = Estimate(
        {"p": p}, cov, loglik, total, "Binomial maximum likelihood", bounds=np.array([UNIT])
    )
    successes = f"{k.sum():g} successes in {total:g} trials"
    return _boundary(
        est,
        np.array([p in (0.0, 1.0)]),
        lambda: f"p = {p:g} ({successes}); {_exact_proportion(k.sum(), total)}",
    )


def poisson(x) -> Estimate:
    r"""MLE of a Poisson rate from counts.

    :math:`\hat\lambda = \bar x`, :math:`\operatorname{Var}\hat\lambda = \lambda/N`.

    Parameters
    ----------
    x : array of shape (n,) of non-negative integers.

    Returns
    -------
    Estimate with parameter ``rate``.

    Examples
    --------
    >>> from emkit import mle
    >>> est = mle.poisson([5, 0, 1, 1, 0, 3, 2, 3, 4, 1])
    >>> est.params["rate"], round(est.stderr["rate"], 4)
    (2.0, 0.4472)
    >>> low, high = est.conf_int(0.95)["rate"]  # Wald on the log scale: inside (0, inf)
    >>> print(f"95% interval ({low:.3f}, {high:.3f})")
    95% interval (1.290, 3.100)
    """
    x = finite_array(x, "x", 1, "mle.poisson")
    at_least(x.size, 1, "poisson")
    nonnegative_integers(x, "counts", "poisson")
    fit = _fit(Poisson(), x, "poisson", "the total count", HUGE_COUNTS)
    rate = fit.rate[0]
    loglik = _poisson_loglik(x, rate)
    est = _estimate(fit, x, {"rate": rate}, "Poisson maximum likelihood", [POSITIVE], None, loglik)
    high = stats.chi2.ppf(0.975, 2) / (2 * x.size)  # the exact (Garwood) bound at 0 counts
    return _boundary(
        est,
        np.array([fit.rate[0] == 0.0]),
        lambda: f"rate = 0 (all {x.size} counts are 0); the exact 95% interval is [0, {high:.4g}]",
    )


def exponential(x) -> Estimate:
    r"""MLE of an exponential rate from waiting times.

    :math:`\hat\lambda = 1/\bar x`, :math:`\operatorname{Var}\hat\lambda = \lambda^2/N`.

    Parameters
    ----------
    x : array of shape (n,) of non-negative values, not all zero.

    Returns
    -------
    Estimate with parameter ``rate``.

    Examples
    --------
    >>> from emkit import mle
    >>> est = mle.exponential([0.5, 1.2, 0.3, 2.0, 0.9, 1.1])
    >>> round(est.params["rate"], 4), round(est.stderr["rate"], 4)
    (1.0, 0.4082)
    """
    x = finite_array(x, "x", 1, "mle.exponential")
    at_least(x.size, 1, "exponential")
    if (x < 0).any():
        raise ValueError(
            f"exponential needs non-negative values; got {int((x < 0).sum())} negative"
        )
    if x.max() == 0:
        raise ValueError("exponential needs at least one positive value (all are zero)")
    with np.errstate(over="ignore", divide="ignore"):  # reported below
        fit = _fit(Exponential(), x, "exponential", "the sum")
    rate = fit.rate[0]
    if not np.isfinite(rate):
        raise ValueError(
            f"exponential: values no larger than {x.max():.3g} give a rate beyond float64 "
            f"(1 / mean > {np.finfo(np.float64).max:.3g}); rescale the data first"
        )
    if rate < np.finfo(np.float64).tiny:
        raise ValueError(
            f"exponential: values as large as {x.max():.3g} overflow float64 when summed (or "
            "give a rate below its smallest normal number); rescale the data first"
        )
    method = "Exponential maximum likelihood"
    # in units of the rate: Var = rate^2 / N leaves float64's range beyond rates of 1e154
    return _estimate(fit, x, {"rate": rate}, method, [POSITIVE], np.array([rate]))


def gamma(x) -> Estimate:
    r"""MLE of a gamma distribution's shape and rate.

    The shape maximises the profile log-likelihood (Newton's method on
    :math:`\log\alpha - \psi(\alpha) = \log\bar x - \overline{\log x}`, written without
    cancellation, so data far from 0 relative to their spread keep their digits), the rate is
    :math:`\hat\alpha/\bar x`; the covariance is the inverse Fisher information over N (for
    the gamma the observed information equals it), with :math:`g = \alpha\psi'(\alpha) - 1`:
    :math:`\operatorname{Var}\hat\alpha = \alpha/(Ng)`, :math:`\operatorname{Var}\hat\beta
    = \beta^2\psi'(\alpha)/(Ng)`, :math:`\operatorname{Cov} = \beta/(Ng)`.

    Parameters
    ----------
    x : array of shape (n,) of positive values, at least two of them different.

    Returns
    -------
    Estimate with parameters ``shape`` and ``rate`` (the mean is shape / rate).

    Examples
    --------
    >>> from emkit import mle
    >>> est = mle.gamma([0.8, 1.9, 1.2, 3.1, 0.6, 2.2, 1.5, 0.9])
    >>> round(est.params["shape"], 3), round(est.params["rate"], 3)
    (3.912, 2.565)
    >>> round(est.stderr["shape"], 3), round(est.stderr["rate"], 3)
    (1.879, 1.314)
    """
    x = finite_array(x, "x", 1, "mle.gamma")
    at_least(x.size, 2, "gamma")
    if not (x > 0).all():
        raise ValueError(
            f"gamma needs strictly positive values (it uses log x); got {int((x <= 0).sum())} "
            "zero or negative: shift the data, or use mle.exponential for waiting times with zeros"
        )
    if (x == x[0]).all():
        raise ValueError("gamma: all values are equal, so the shape has no finite MLE")
    with np.errstate(over="ignore", divide="ignore"):  # reported below
        fit = _fit(Gamma(), x, "gamma", "the mean")
    shape, rate = float(fit.shape[0]), float(fit.rate[0])
    if not shape < MAX_SHAPE:
        raise ValueError(
            f"gamma: the values differ only at float64's rounding (spread {np.ptp(x):.3g} about "
            f"a mean of {x.mean():.3g}), so the shape has no finite MLE; if they are meant to "
            "differ, subtract a constant first"
        )
    if not (np.isfinite(rate) and rate >= np.finfo(np.float64).tiny):
        raise ValueError(
            f"gamma: values from {x.min():.3g} to {x.max():.3g} give a rate of {rate:.3g}, "
            "outside float64's normal range; rescale the data first"
        )
    method = "Gamma maximum likelihood"
    # in units of (shape, rate): the rate's variance leaves float64's range beyond rates of 1e154
    return _estimate(
        fit,
        x,
        {"shape": shape, "rate": rate},
        method,
        [POSITIVE, POSITIVE],
        np.array([shape, rate]),
    )


def normal(x) -> Estimate:
    r"""MLE of a normal mean and variance.

    :math:`\hat\mu = \bar x`, :math:`\hat\sigma^2 = \frac1N\sum(x_i-\bar x)^2` (divides by N, not
    N - 1); :math:`\operatorname{Var}\hat\mu = \sigma^2/N`, :math:`\operatorname{Var}\hat\sigma^2 =
    2\sigma^4/N`, uncorrelated.

    Parameters
    ----------
    x : array of shape (n,), not all equal.

    Returns
    -------
    Estimate with parameters ``mean`` and ``variance``.

    Examples
    --------
    >>> from emkit import mle
    >>> est = mle.normal([4.9, 5.1, 5.3, 4.7, 5.0])
    >>> round(est.params["mean"], 4), round(est.params["variance"], 4)  # variance divides by N
    (5.0, 0.04)
    >>> round(est.stderr["mean"], 4)
    0.0894
    """
    x = finite_array(x, "x", 1, "mle.normal")
    at_least(x.size, 2, "normal")
    # values near float64's limit overflow the deviations' sums as well as their squares
    fit = _fit(Normal(), x, "normal", "the mean or the variance")
    if fit.variance[0] == 0:
        if np.ptp(x) > 0:  # not all equal, but too small to square in float64
            raise ValueError(
                f"normal: values no larger than {np.abs(x).max():.3g} underflow float64 when "
                "squared (the variance comes out 0); rescale the data first"
            )
        raise ValueError("normal needs values that are not all equal (the variance MLE is 0)")
    params = {"mean": fit.mean[0], "variance": fit.variance[0]}
    # in units of (sd, variance): Var(variance) = 2 variance^2 / N overflows beyond 1e154
    scale = np.array([np.sqrt(fit.variance[0]), fit.variance[0]])
    # at the MLE the squared deviations sum to N variance: the closed form, as
    # multivariate_normal's (summing log_prob loses digits to x - mean for data far from 0)
    loglik = -0.5 * x.size * (LOG_2PI + np.log(fit.variance[0]) + 1)
    return _estimate(fit, x, params, "Normal maximum likelihood", [REAL, POSITIVE], scale, loglik)


def multivariate_normal(X) -> Estimate:
    r"""MLE of a multivariate normal mean and covariance.

    :math:`\hat\Sigma = \frac1N\sum(x_i-\bar x)(x_i-\bar x)^\top`;
    :math:`\operatorname{Cov}\hat\mu = \Sigma/N` and
    :math:`\operatorname{Cov}(\hat\Sigma_{ij}, \hat\Sigma_{kl}) = (\Sigma_{ik}\Sigma_{jl} +
    \Sigma_{il}\Sigma_{jk})/N`, uncorrelated with the mean. The covariance of the estimate is over
    all d * d entries of ``covariance``, so it is singular (entries ij and ji are equal).

    Parameters
    ----------
    X : array of shape (n, d) with n > d and linearly independent columns (an array of
        shape (n,) is one column, d = 1, as in every :mod:`emkit.mle` and :mod:`emkit.bayes`
        function taking X; :func:`normal` gives the same estimate); a DataFrame's
        column names name the rows of :meth:`~Estimate.summary` (``mean[height]``,
        ``covariance[height,weight]``) and the columns in messages.

    Returns
    -------
    Estimate with parameters ``mean`` of shape (d,) and ``covariance`` of shape (d, d).

    Raises
    ------
    ValueError
        When the sample covariance is singular: the message names the constant columns, or
        those that are linear combinations of others.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import mle
    >>> X = np.random.default_rng(0).multivariate_normal([0, 1], [[1, 0.5], [0.5, 2]], size=200)
    >>> est = mle.multivariate_normal(X)
    >>> est.params["mean"].round(2)
    array([-0.04,  0.86])
    >>> est.params["covariance"].round(2)
    array([[1.05, 0.51],
           [0.51, 1.88]])
    >>> est.stderr["mean"].round(3)
    array([0.072, 0.097])
    """
    named = getattr(X, "columns", None) is not None
    names = column_names(X, np.shape(X)[1] if np.ndim(X) == 2 else 1)
    X = finite_array(X, "X", 2, "mle.multivariate_normal")
    n, d = X.shape
    if d == 0:
        raise ValueError(f"multivariate_normal: X needs at least 1 column, got shape ({n}, 0)")
    at_least(n, d + 1, f"multivariate_normal in {d} dimensions")
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below
        moments = GaussianStats.from_data(X, np.ones((n, 1)), diagonal=False)
        mean, S = moments.mean[0], moments.covariance()[0]  # (d,), (d, d)
    sd = np.sqrt(np.diag(S))  # (d,)
    squares_finite(S, [X], "multivariate_normal", "the covariance")
    constant = np.flatnonzero(sd == 0)
    if constant.size:
        raise ValueError(
            "multivariate_normal: the sample covariance is singular: column(s) "
            f"{', '.join(names[j] for j in constant)} are constant; drop them"
        )
    # In units of the standard deviations: the correlation matrix and its Cholesky factor,
    # so that covariances beyond 1e154 (whose products leave float64) keep their errors.
    with np.errstate(under="ignore"):
        corr = S / sd[:, None] / sd[None, :]
    try:
        L = np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        L = None
    # a conditional variance below d * eps of the column's own is singular to working accuracy
    tol = np.sqrt(d * np.finfo(np.float64).eps)
    if L is None or np.min(np.diag(L)) < tol:
        dependence = dependent_columns((X - mean) / sd, names, rcond=tol)
        raise ValueError(
            "multivariate_normal: the sample covariance is singular: "
            f"{dependence or 'the columns are linearly dependent'}"
        )
    logdet = 2 * (np.log(sd).sum() + np.log(np.diag(L)).sum())
    loglik = -0.5 * n * (d * LOG_2PI + logdet + d)
    cov_S = (np.einsum("ik,jl->ijkl", corr, corr) + np.einsum("il,jk->ijkl", corr, corr)) / n
    cov = np.zeros((d + d * d, d + d * d))
    cov[:d, :d] = corr / n
    cov[d:, d:] = cov_S.reshape(d * d, d * d)
    scale = np.concatenate([sd, np.outer(sd, sd).ravel()])
    diagonal = np.eye(d, dtype=bool).ravel()
    bounds = np.array([REAL] * d + [POSITIVE if on else REAL for on in diagonal])
    labels = None
    if named:
        labels = tuple(
            [f"mean[{a}]" for a in names] + [f"covariance[{a},{b}]" for a in names for b in names]
        )
    return Estimate(
        {"mean": mean, "covariance": S},
        cov,
        loglik,
        n,
        "Multivariate normal maximum likelihood",
        labels=labels,
        bounds=bounds,
        cov_scale=scale,
    )


def categorical(x, n_categories: int | None = None) -> Estimate:
    r"""MLE of category probabilities from integer labels, names or a pandas categorical.

    :math:`\hat p_k = N_k / N`,
    :math:`\operatorname{Cov}\hat p = (\operatorname{diag} p - pp^\top)/N`
    (singular: the probabilities sum to one).

    Parameters
    ----------
    x : array of shape (n,) of integer labels 0, 1, ..., K - 1; or of names (strings), the K
        categories being the distinct names in sorted order; or a pandas ``Categorical`` (or
        Series of dtype ``category``), whose declared categories, in their order, are the K
        categories, observed or not. Missing values (None, NaN, ``pd.NA``) are refused.
    n_categories : K, a positive integer; ``max(x) + 1`` when None (integer labels only; for
        a pandas categorical it must equal the number of its categories).

    Returns
    -------
    Estimate with parameter ``probs`` of shape (K,); its rows are named ``probs[name]`` for
    named categories. A category never observed has the estimate 0, on the boundary of the
    parameter space: its Wald error is NaN, and a DegenerateFitWarning gives its exact
    interval (as for the estimate 1 of the one category observed among K >= 2). With K = 1
    the probability is 1 by definition: standard error 0, interval [1, 1], no warning.

    Examples
    --------
    >>> from emkit import mle
    >>> est = mle.categorical([0, 2, 1, 2, 2, 0, 2, 1])
    >>> est.params["probs"]
    array([0.25, 0.25, 0.5 ])
    >>> est.stderr["probs"].round(4)
    array([0.1531, 0.1531, 0.1768])
    >>> mle.categorical(["red", "blue", "red", "red"]).summary().index.tolist()
    ['probs[blue]', 'probs[red]']
    """
    if n_categories is not None:
        n_categories = category_count(n_categories)
    named = named_labels(x)
    if named is not None:
        codes, categories = named[0], [str(c) for c in named[1]]
        if n_categories is not None and n_categories != len(categories):
            raise ValueError(
                f"n_categories={n_categories!r}, but x declares {len(categories)} categories "
                f"({', '.join(categories)}); leave n_categories out, or set the categories "
                "with pd.Categorical(x, categories=[...])"
            )
        return _named_categorical(codes, categories)
    x = finite_array(x, "x", 1, "mle.categorical")
    at_least(x.size, 1, "categorical")
    nonnegative_integers(x, "labels (0, 1, ..., K - 1)", "categorical")
    if n_categories is None:
        category_limit(x.max() + 1.0, x, "mle.categorical", False)
    else:
        category_limit(n_categories, x, "mle.categorical", True)
    K = int(x.max()) + 1 if n_categories is None else n_categories
    if x.max() >= K:
        raise ValueError(f"categorical: label {x.max():g} is not below n_categories={K}")
    fit = _fit(Categorical(K), x, "categorical")
    method = "Categorical maximum likelihood"
    est = _estimate(fit, x, {"probs": fit.probs[0]}, method, [UNIT] * K)
    return _categorical_boundary(est, fit.probs[0], x.size, list(range(K)))


def _named_categorical(codes: np.ndarray, categories: list[str]) -> Estimate:
    """The categorical estimate of integer ``codes`` (n,) into ``categories``, its rows named
    ``probs[name]``."""
    at_least(codes.size, 1, "categorical")
    codes = np.asarray(codes, dtype=np.float64).ravel()
    K = len(categories)
    fit = _fit(Categorical(K), codes, "categorical")
    method = "Categorical maximum likelihood"
    est = _estimate(fit, codes, {"probs": fit.probs[0]}, method, [UNIT] * K)
    named = dataclasses.replace(est, labels=tuple(f"probs[{c}]" for c in categories))
    return _categorical_boundary(named, fit.probs[0], codes.size, categories)


def _categorical_boundary(est: Estimate, probs: np.ndarray, n: int, names: list) -> Estimate:
    """:func:`_boundary` for the categories whose probability is 0 or 1; with one category
    its probability is 1 by definition, not an estimate on the boundary: standard error 0,
    interval [1, 1], no warning."""
    if probs.size == 1:
        return dataclasses.replace(est, bounds=np.array([[1.0, 1.0]]))
    at = (probs == 0.0) | (probs == 1.0)
    parts = [
        f"probs[{names[j]}] = {probs[j]:g}: {_exact_proportion(round(probs[j] * n), n)}"
        for j in np.flatnonzero(at)
    ]
    return _boundary(est, at, lambda: "; ".join(parts))
