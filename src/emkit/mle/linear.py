"""Linear regression by column-pivoted QR, accurate on ill-conditioned designs (NIST StRD)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from scipy import linalg

from emkit.checks import at_least, finite_array, rows_aligned
from emkit.exceptions import warn_user
from emkit.mle.estimate import (
    CONDITION_WARN,
    ConditionWarning,
    RegressionEstimate,
    warn_exact_fit,
)

_EPS = np.finfo(np.float64).eps


def column_names(X: Any, p: int) -> list[str]:
    """The names of the p columns of ``X``: a DataFrame's column names, else ``X[:, j]``."""
    columns = getattr(X, "columns", None)
    if columns is not None and len(columns) == p:
        return [str(c) for c in columns]
    return [f"X[:, {j}]" for j in range(p)]


def column_norms(A: np.ndarray) -> np.ndarray:
    """2-norms of the columns of ``A`` (n, p), shape (p,), taken in units of each column's
    largest magnitude so that columns of 1e-200 or 1e200 neither under- nor overflow."""
    peak = np.max(np.abs(A), axis=0) if A.shape[0] else np.zeros(A.shape[1])
    unit = np.where(peak > 0, peak, 1.0)
    return peak * np.linalg.norm(A / unit, axis=0)


def power_of_two(x: float) -> float:
    """The power of two nearest above ``|x|`` (1 for 0): a scale that divides exactly."""
    return float(np.ldexp(1.0, int(np.frexp(abs(x))[1]))) if x != 0 else 1.0


def _scaled_qr(A: np.ndarray, rcond: float | None):
    """Householder QR with column pivoting of ``A`` (n, p) with its columns scaled to unit
    length: ``Q, R, perm, scale, rank`` with ``A[:, perm] / scale[perm] = Q R`` and the rank at
    relative tolerance ``rcond`` on the diagonal of R (default ``max(n, p) * eps``)."""
    n, p = A.shape
    scale = column_norms(A)  # (p,)
    As = A / np.where(scale > 0, scale, 1.0)
    Q, R, perm = linalg.qr(As, mode="economic", pivoting=True)  # As[:, perm] = Q R
    diag = np.abs(np.diag(R))
    tol = (max(n, p) * _EPS) if rcond is None else rcond
    rank = int(np.sum(diag > tol * diag[0])) if p else 0
    return Q, R, perm, scale, rank


def _dependence(perm: np.ndarray, rank: int, labels: list[str]) -> str:
    """The columns past ``rank`` in the pivot order ``perm`` are linear combinations of those
    before: a sentence naming them, ending in what to do."""
    dependent = [labels[j] for j in perm[rank:]]
    basis = [labels[j] for j in sorted(perm[:rank])]
    one = len(dependent) == 1
    return (
        f"(rank {rank} < {perm.size}): {', '.join(dependent)} "
        f"{'is a linear combination' if one else 'are linear combinations'} of "
        f"{', '.join(basis)}; drop {'it' if one else 'them'}"
    )


def design_r(
    x: np.ndarray, intercept: bool, keep: np.ndarray | None = None, block_rows: int = 1 << 15
) -> np.ndarray:
    """The R factor (p, p) of the QR of the design of ``x`` (n, d): a column of ones first
    where ``intercept``, then its columns, of the rows where ``keep`` (all where None); built
    block by block (R of each block stacked under the R so far), so that no copy of the whole
    design is made. Its columns have the design's norms, and :func:`dependent_columns` of it
    (at the design's ``rcond``) finds the design's dependent columns."""
    p = x.shape[1] + int(intercept)
    r = np.zeros((0, p))
    for start in range(0, x.shape[0], block_rows):
        part = x[start : start + block_rows]
        if keep is not None:
            part = part[keep[start : start + block_rows]]
        if intercept:
            part = np.column_stack([np.ones(part.shape[0]), part])
        r = np.asarray(np.linalg.qr(np.vstack([r, part]), mode="r"))
    return r


def dependent_columns(A: np.ndarray, labels: list[str], rcond: float | None = None) -> str | None:
    """Which columns of ``A`` (n, p), named ``labels``, are linear combinations of the others,
    as a sentence ending in what to do; None when they are linearly independent at the
    relative tolerance ``rcond`` (see :func:`linear_regression`)."""
    zero = np.flatnonzero(column_norms(A) == 0)
    if zero.size:
        return f"column(s) {', '.join(labels[j] for j in zero)} are all zero; drop them"
    _, _, perm, _, rank = _scaled_qr(A, rcond)
    if rank == A.shape[1]:
        return None
    return "the columns are linearly dependent " + _dependence(perm, rank, labels)


def _refine(
    A: np.ndarray, y: np.ndarray, beta: np.ndarray, R: np.ndarray, perm: np.ndarray, scale
) -> np.ndarray:
    """One step of iterative refinement by corrected semi-normal equations (Bjorck).

    The residual and the gradient :math:`A^\\top r` are accumulated in extended precision
    (``np.longdouble``: 80-bit on x86, plain double elsewhere) on the original design, not its
    rounded scaled copy, and divided by the column scales before rounding to double (so that
    columns of 1e200 do not overflow it); the correction then solves
    :math:`R^\\top R\\,\\delta = A^\\top r` with the R of the scaled, pivoted QR. This
    recovers the digits that rounding the residual to double loses on large-residual problems
    (Wampler4, Wampler5).
    """
    Al = A.astype(np.longdouble)
    r = y.astype(np.longdouble) - Al @ beta.astype(np.longdouble)
    g = np.asarray((Al.T @ r) / scale.astype(np.longdouble), dtype=np.float64)[perm]
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

    The system is solved in units of a power of two of y and of unit-length columns, and the
    covariance kept in units of the standard errors, so that estimates and standard errors of
    data at 1e-200 or 1e200 are those at 1, rescaled; a coefficient or noise variance beyond
    float64's range is refused. Intervals of the coefficients are plain Wald intervals (as
    statsmodels'), that of the variance is taken on the log scale (see
    :meth:`Estimate.conf_int`).

    Parameters
    ----------
    X : array of shape (n, d) or (n,); a DataFrame's column names label the rows of
        :meth:`~Estimate.summary` and name the columns in messages. d may be 0: with
        ``fit_intercept=False`` the model is then :math:`y \sim N(0, \sigma^2)`.
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
    DegenerateFitWarning
        When the residuals are all 0 up to rounding (their norm below 16 eps of y's): y is
        then an exact linear function of the columns (NIST's Wampler1), the noise variance MLE
        is 0 and the standard errors and log-likelihood say nothing.

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
    named = getattr(X, "columns", None) is not None
    names = column_names(X, np.shape(X)[1] if np.ndim(X) == 2 else 1)
    rows_aligned("mle.linear_regression", X=X, y=y)
    X = finite_array(X, "X", 2, "mle.linear_regression")
    y = finite_array(y, "y", 1, "mle.linear_regression")
    if X.shape[0] != y.size:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.size} values")
    if variance not in ("mle", "unbiased"):
        raise ValueError(f"variance must be 'mle' or 'unbiased', got {variance!r}")
    n, d = X.shape
    A = np.hstack([np.ones((n, 1)), X]) if fit_intercept else X  # (n, p)
    # a column named as a parameter (intercept, variance) keeps its name, in backticks
    names = [f"`{name}`" if name in ("intercept", "variance") else name for name in names]
    labels = (["intercept"] if fit_intercept else []) + names
    p = A.shape[1]
    at_least(n, p + 1, f"linear_regression with {p} coefficients")

    # Solve for y in units of a power of two (exact), with columns of unit length: results
    # at 1e-200 or 1e200 are then those at 1, rescaled.
    unit_y = np.float64(power_of_two(np.max(np.abs(y))))
    ys = y / unit_y
    if p:
        zero = np.flatnonzero(column_norms(A) == 0)
        if zero.size:
            raise ValueError(
                f"linear_regression: column(s) {', '.join(labels[j] for j in zero)} are all "
                "zero and the columns of the design matrix are linearly dependent; drop them"
            )
        Q, R, perm, scale, rank = _scaled_qr(A, rcond)
        if rank < p:
            raise ValueError(
                "linear_regression: the columns of the design matrix are linearly dependent "
                + _dependence(perm, rank, labels)
            )
        sv = linalg.svdvals(R)
        cond = float(sv[0] / sv[-1])
    else:  # no coefficients: y ~ N(0, sigma^2)
        Q, R, perm, scale = np.zeros((n, 0)), np.zeros((0, 0)), np.zeros(0, int), np.ones(0)
        cond = np.nan
    if cond > CONDITION_WARN:
        warn_user(
            f"linear_regression: the design matrix is ill-conditioned (condition number "
            f"{cond:.2g} with unit-length columns); the coefficients may have only about "
            f"{max(0.0, 16 - np.log10(cond)):.0f} correct digits (fewer where the residuals are "
            "large); centre or rescale X, or use orthogonal polynomials",
            ConditionWarning,
        )

    beta = np.empty(p)  # coefficients of ys
    beta[perm] = linalg.solve_triangular(R, Q.T @ ys) / scale[perm]
    if p:
        for _ in range(2):
            beta = _refine(A, ys, beta, R, perm, scale)
    resid = ys.astype(np.longdouble) - A.astype(np.longdouble) @ beta.astype(np.longdouble)
    rss_s = float(resid @ resid)  # RSS / unit_y**2
    exact = "a linear function of the columns" if p else "0"
    warn_exact_fit("linear_regression", np.sqrt(rss_s), float(np.linalg.norm(ys)), exact)

    df = n - p
    m = n if variance == "mle" else df
    var_s = rss_s / m
    with np.errstate(over="ignore", under="ignore"):
        coef = beta * unit_y
        var = var_s * unit_y * unit_y
    if not np.isfinite(coef).all():
        raise ValueError(
            "linear_regression: coefficients beyond float64's range (about 1.8e308); "
            "rescale X or y first"
        )
    if not np.isfinite(var) or (var_s > 0 and var < np.finfo(np.float64).tiny):
        raise ValueError(
            f"linear_regression: the noise variance, about {var_s:.3g} * {unit_y:.3g}**2 with y "
            f"as large as {np.max(np.abs(y)):.3g}, is outside float64's range; rescale y first"
        )
    R_inv = linalg.solve_triangular(R, np.eye(p))
    cov_g = np.empty((p, p))
    cov_g[np.ix_(perm, perm)] = R_inv @ R_inv.T  # (As^T As)^{-1}, As the scaled design
    # The covariance sigma^2 (A^T A)^{-1} in units of the standard errors (a correlation
    # matrix) and Var(sigma^2) = 2 sigma^4 / m in units of sigma^2: either may leave float64's
    # range where the standard errors do not.
    root = np.sqrt(np.diag(cov_g))  # (p,)
    cov = np.zeros((p + 1, p + 1))
    cov_scale = np.ones(p + 1)
    if var_s > 0:
        cov[:p, :p] = cov_g / root[:, None] / root[None, :]
        cov[p, p] = 2 / m
        with np.errstate(over="ignore", under="ignore"):
            cov_scale[:p] = np.sqrt(var_s) * root * unit_y / scale
        cov_scale[p] = var
        if not (np.isfinite(cov_scale).all() and (cov_scale > 0).all()):
            raise ValueError(
                "linear_regression: standard errors beyond float64's range; rescale X or y first"
            )

    # R^2 about the mean when the model has an intercept or a constant column, else about zero
    centred = fit_intercept or bool(np.any(np.ptp(X, axis=0) == 0))
    fitted = ys - np.asarray(resid, dtype=np.float64)
    base = ys.mean() if centred else 0.0
    tss = float(np.sum((ys - base) ** 2))
    ess = float(np.sum((fitted - base) ** 2))
    # 1 - RSS/TSS cancels when R^2 is small; ESS/TSS is exact for least squares there
    r2 = (1 - rss_s / tss if rss_s < ess else ess / tss) if tss > 0 else np.nan
    if centred and tss > 0 and bool(np.all(np.ptp(X, axis=0) == 0)):
        r2 = 0.0  # the mean alone: its fitted values' rounding (1e-34) is no explained variance
    dof_total = n - 1 if centred else n
    adj_r2 = 1 - (1 - r2) * dof_total / df

    params: dict[str, Any] = {"intercept": coef[0]} if fit_intercept else {}
    params.update(coef=coef[1:] if fit_intercept else coef, variance=var)
    with np.errstate(divide="ignore"):
        loglik = -0.5 * n * (np.log(2 * np.pi * rss_s / n) + 2 * np.log(unit_y) + 1)
    method = "Linear regression maximum likelihood" + (
        " (variance RSS/(N - p))" if variance == "unbiased" else ""
    )
    bounds = np.array([(-np.inf, np.inf)] * p + [(0.0, np.inf)])
    return RegressionEstimate(
        params,
        cov,
        loglik,
        n,
        method,
        labels=(*labels, "variance") if named else None,
        bounds=bounds,
        cov_scale=cov_scale,
        rss=float(rss_s * unit_y * unit_y),
        df_resid=df,
        r2=r2,
        adj_r2=adj_r2,
        condition_number=cond,
        converged=True,
        message="column-pivoted QR with two steps of iterative refinement",
        unbiased=variance == "unbiased",
    )
