"""Linear regression by column-pivoted QR, accurate on ill-conditioned designs (NIST StRD)."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
from scipy import linalg

from emkit.checks import at_least, finite_array
from emkit.mle.estimate import CONDITION_WARN, ConditionWarning, RegressionEstimate

_EPS = np.finfo(np.float64).eps


def _column_names(X: Any, p: int) -> list[str]:
    columns = getattr(X, "columns", None)
    if columns is not None and len(columns) == p:
        return [str(c) for c in columns]
    return [f"X[:, {j}]" for j in range(p)]


def _refine(
    A: np.ndarray, y: np.ndarray, beta: np.ndarray, R: np.ndarray, perm: np.ndarray, scale
) -> np.ndarray:
    """One step of iterative refinement by corrected semi-normal equations (Bjorck).

    The residual and the gradient :math:`A^\\top r` are accumulated in extended precision
    (``np.longdouble``: 80-bit on x86, plain double elsewhere) on the original design, not its
    rounded scaled copy; the correction then solves :math:`R^\\top R\\,\\delta = A^\\top r`
    with the R of the scaled, pivoted QR. This recovers the digits that rounding the residual
    to double loses on large-residual problems (Wampler4, Wampler5).
    """
    Al = A.astype(np.longdouble)
    r = y.astype(np.longdouble) - Al @ beta.astype(np.longdouble)
    g = np.asarray(Al.T @ r, dtype=np.float64)[perm] / scale[perm]
    z = linalg.solve_triangular(R, g, trans="T")
    step = np.empty_like(beta)
    step[perm] = linalg.solve_triangular(R, z) / scale[perm]
    return beta + step


def linear_regression(
    X,
    y,
    fit_intercept: bool = True,
    *,
    variance: Literal["mle", "unbiased"] = "mle",
    rcond: float | None = None,
) -> RegressionEstimate:
    r"""MLE of a linear regression with Gaussian noise.

    :math:`y = b + X\beta + \varepsilon`, :math:`\varepsilon \sim N(0, \sigma^2)`. The coefficients
    are least squares, computed by Householder QR with column pivoting of the design matrix A
    (with a column of ones when ``fit_intercept``) after scaling its columns to unit length,
    then two steps of iterative refinement; this reaches NIST's certified values on every StRD
    linear problem, Filip and Wampler5 included. The covariance of the coefficients is
    :math:`\hat\sigma^2 (A^\top A)^{-1}`.

    :math:`\hat\sigma^2` is RSS/N, the MLE, by default; ``variance="unbiased"`` gives RSS/(N - p)
    with p the columns of A, the convention of statsmodels' OLS, R's ``lm`` and NIST, whose
    standard errors are the default ones times :math:`\sqrt{N/(N-p)}`. The coefficients are
    the same either way.

    Parameters
    ----------
    X : array of shape (n, d) or (n,); a DataFrame's column names are used in messages.
    y : array of shape (n,).
    fit_intercept : whether to estimate an intercept. When False there is no ``intercept``
        parameter.
    variance : ``"mle"`` (RSS/N) or ``"unbiased"`` (RSS/(N - p)), the :math:`\hat\sigma^2` of
        the parameter ``variance`` and of the standard errors.
    rcond : relative rank tolerance on the diagonal of R of the column-scaled design; a column
        whose pivot is below ``rcond`` times the largest is linearly dependent on the others.
        Default ``max(n, p) * eps``, about 1e-14.

    Returns
    -------
    RegressionEstimate
        Parameters ``intercept`` (float), ``coef`` of shape (d,) and ``variance``, with ``rss``,
        ``residual_sd``, ``r2``, ``adj_r2`` and ``condition_number``.

    Raises
    ------
    ValueError
        When columns are linearly dependent (the message names them), on bad shapes, NaN or
        infinite values, or too few rows.

    Warns
    -----
    ConditionWarning
        When the scaled condition number exceeds 1e7: some coefficients may then be accurate
        to only a few digits (Filip, NIST's hardest problem, has 5e9 and keeps about 8).

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import mle
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 10, size=50)
    >>> y = 1.5 + 0.8 * x + rng.normal(0, 1, size=50)
    >>> est = mle.linear_regression(x[:, None], y)
    >>> round(est.params["intercept"], 3), est.params["coef"].round(3)
    (1.257, array([0.852]))
    >>> print(est.summary().round(3)[["estimate", "std_err"]].to_string())
               estimate  std_err
    parameter
    intercept     1.257    0.291
    coef[0]       0.852    0.048
    variance      0.993    0.199
    >>> round(est.r2, 4), round(est.residual_sd, 4)
    (0.8613, 1.0172)
    >>> ols = mle.linear_regression(x[:, None], y, variance="unbiased")  # as statsmodels' OLS
    >>> print(round(ols.stderr["coef"][0], 4))
    0.0494
    """
    names = _column_names(X, np.shape(X)[1] if np.ndim(X) == 2 else 1)
    X = finite_array(X, "X", 2)
    y = finite_array(y, "y", 1)
    if X.shape[0] != y.size:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.size} values")
    if variance not in ("mle", "unbiased"):
        raise ValueError(f"variance must be 'mle' or 'unbiased', got {variance!r}")
    n, d = X.shape
    A = np.hstack([np.ones((n, 1)), X]) if fit_intercept else X  # (n, p)
    labels = (["intercept"] if fit_intercept else []) + names
    p = A.shape[1]
    at_least(n, p + 1, f"linear_regression with {p} coefficients")

    scale = np.linalg.norm(A, axis=0)  # (p,)
    zero = np.flatnonzero(scale == 0)
    if zero.size:
        raise ValueError(
            f"linear_regression: column(s) {', '.join(labels[j] for j in zero)} are all zero "
            "and the columns of the design matrix are linearly dependent; drop them"
        )
    As = A / scale
    Q, R, perm = linalg.qr(As, mode="economic", pivoting=True)  # As[:, perm] = Q R
    diag = np.abs(np.diag(R))
    tol = (max(n, p) * _EPS) if rcond is None else rcond
    rank = int(np.sum(diag > tol * diag[0]))
    if rank < p:
        dependent = [labels[j] for j in perm[rank:]]
        basis = [labels[j] for j in sorted(perm[:rank])]
        raise ValueError(
            f"linear_regression: the columns of the design matrix are linearly dependent "
            f"(rank {rank} < {p}): {', '.join(dependent)} "
            f"{'is a linear combination' if len(dependent) == 1 else 'are linear combinations'}"
            f" of {', '.join(basis)}; drop {'it' if len(dependent) == 1 else 'them'}"
        )
    sv = linalg.svdvals(R)
    cond = float(sv[0] / sv[-1])
    if cond > CONDITION_WARN:
        warnings.warn(
            f"linear_regression: the design matrix is ill-conditioned (condition number "
            f"{cond:.2g} with unit-length columns); the coefficients may have only about "
            f"{max(0.0, 16 - np.log10(cond)):.0f} correct digits (fewer where the residuals are "
            "large); centre or rescale X, or use orthogonal polynomials",
            ConditionWarning,
            stacklevel=2,
        )

    beta = np.empty(p)
    beta[perm] = linalg.solve_triangular(R, Q.T @ y) / scale[perm]
    for _ in range(2):
        beta = _refine(A, y, beta, R, perm, scale)
    resid = y.astype(np.longdouble) - A.astype(np.longdouble) @ beta.astype(np.longdouble)
    rss = float(resid @ resid)

    df = n - p
    var = rss / (n if variance == "mle" else df)
    R_inv = linalg.solve_triangular(R, np.eye(p))
    cov_g = R_inv @ R_inv.T  # (Ap^T Ap)^{-1}
    cov = np.zeros((p + 1, p + 1))
    unscaled = np.empty((p, p))
    unscaled[np.ix_(perm, perm)] = cov_g
    cov[:p, :p] = var * unscaled / np.outer(scale, scale)  # sigma^2 (A^T A)^{-1}
    cov[p, p] = 2 * var**2 / (n if variance == "mle" else df)

    # R^2 about the mean when the model has an intercept or a constant column, else about zero
    centred = fit_intercept or bool(np.any(np.ptp(X, axis=0) == 0))
    fitted = y - np.asarray(resid, dtype=np.float64)
    base = y.mean() if centred else 0.0
    tss = float(np.sum((y - base) ** 2))
    ess = float(np.sum((fitted - base) ** 2))
    # 1 - RSS/TSS cancels when R^2 is small; ESS/TSS is exact for least squares there
    r2 = (1 - rss / tss if rss < ess else ess / tss) if tss > 0 else np.nan
    dof_total = n - 1 if centred else n
    adj_r2 = 1 - (1 - r2) * dof_total / df

    params: dict[str, Any] = {"intercept": beta[0]} if fit_intercept else {}
    params.update(coef=beta[1:] if fit_intercept else beta, variance=var)
    with np.errstate(divide="ignore"):
        loglik = -0.5 * n * (np.log(2 * np.pi * rss / n) + 1)
    method = "Linear regression maximum likelihood" + (
        " (variance RSS/(N - p))" if variance == "unbiased" else ""
    )
    return RegressionEstimate(
        params,
        cov,
        loglik,
        n,
        method,
        rss=rss,
        df_resid=df,
        r2=r2,
        adj_r2=adj_r2,
        condition_number=cond,
        converged=True,
        message="column-pivoted QR with two steps of iterative refinement",
        unbiased=variance == "unbiased",
    )
