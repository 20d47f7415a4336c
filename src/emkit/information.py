r"""Observed information of fitted mixtures by Louis' method, and their standard errors:
Gaussian mixtures (:func:`louis_estimate`), mixtures of linear regressions
(:func:`regression_louis_estimate`) and mixtures of any families with a vector of free
parameters (:func:`family_louis_estimate`). What follows is the Gaussian case.

Louis (1982) writes the observed information of incomplete data as the complete-data
information less the information the missing labels carry:

.. math::

    I(\hat\theta) = \sum_n \mathrm E\bigl[-\nabla^2 \log p(x_n, z_n \mid \theta) \mid x_n\bigr]
    - \sum_n \operatorname{Cov}\bigl[\nabla \log p(x_n, z_n \mid \theta) \mid x_n\bigr],

both expectations over the responsibilities :math:`z_{nk}`. The first sum needs only each
component's weighted statistics; the second is built from the per-row scores
:math:`s_{nk} = \nabla[\log\pi_k + \log\mathcal N(x_n \mid \mu_k, \Sigma_k)]`, so the whole
information adds up over chunks of rows.

Coordinates. The weights are :math:`\pi_1 \dots \pi_{K-1}` (:math:`\pi_K = 1 - \sum`), the
means are free, and each covariance structure is a chart :math:`\eta \mapsto (\Sigma_k)`:
VVV and EEE the distinct entries of each (or the one) covariance, the other twelve mclust's
eigen-decomposition :math:`\Sigma_k = \lambda_k D_k A_k D_k^\top` around the fit,
:math:`\lambda_k = \hat\lambda_k e^{v_k}`, :math:`A_k = \hat A_k e^{C a_k}` (C a basis of
contrasts, so :math:`\det A_k = 1`) and :math:`D_k = \hat D_k \exp(S_k)` (S skew-symmetric),
each of v, a, S one per component (V) or shared (E) or absent (I). Scores go to the chart by its
Jacobian; the chart's curvature times the score adds to the complete-data information where the
chart is not linear. Both derivatives are in closed form, and the complete-data information is
taken in each component's eigenframe, where a nearly singular component's precision is
diagonal. The covariance of the fitted weights, means and covariances (in the estimator's
layouts) is then :math:`G I^{-1} G^\top` with G the chart's Jacobian (delta method).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import expm, null_space

from emkit.exceptions import warn_user
from emkit.mle.estimate import (
    Estimate,
    HessianWarning,
    flatten,
    hessian,
    jacobian,
    row_labels,
    step_sizes,
)

_RIDGE = 1e-10  # scaled eigenvalue of the information below which a direction is not identified
_BLOCK = 2_000_000  # floats of per-row scores held at once (rows x components x parameters)


@dataclass(frozen=True)
class _Chart:
    r"""Covariances as a function of free parameters, component by component, with their first
    and second derivatives at the fit in closed form.

    ``index[k]`` are the entries of the parameter vector that component k's covariance depends
    on, ``sigma[k](eta[index[k]])`` is that covariance (d, d), ``base`` the fitted point.
    ``frames[k]`` (d, d) is an orthogonal frame F of component k and ``first[k]`` (p_k, d, d) the
    derivatives of its covariance at ``base`` in that frame, :math:`F^\top \partial_i\Sigma_k F`.
    Eigen-decomposition charts (``linear`` False) also give ``values[k]`` (d,), the eigenvalues of
    the fitted covariance along F (the frame diagonalises it), and ``curvature[k](y)`` (p_k, p_k),
    :math:`\operatorname{tr}(F^\top \partial_i\partial_j\Sigma_k F\, Y)` for a symmetric (d, d)
    Y in that frame: the second derivatives contracted with what multiplies them.
    """

    base: np.ndarray
    index: list[np.ndarray]
    sigma: list[Callable[[np.ndarray], np.ndarray]]
    linear: bool
    frames: np.ndarray
    first: list[np.ndarray]
    values: np.ndarray | None = None
    curvature: list[Callable[[np.ndarray], np.ndarray]] | None = None


def _vech_indices(d: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(d)


def _chart(code: str, covariances: np.ndarray) -> _Chart:
    """The chart of structure ``code`` (mclust's three letters) at covariances (k, d, d)."""
    k, d, _ = covariances.shape
    rows, cols = _vech_indices(d)
    q = rows.size
    if code in ("VVV", "EEE"):

        def unvech(eta: np.ndarray) -> np.ndarray:
            sigma = np.zeros((d, d))
            sigma[rows, cols] = eta
            sigma[cols, rows] = eta
            return sigma

        if code == "VVV":
            base = covariances[:, rows, cols].ravel()
            index = [np.arange(j * q, (j + 1) * q) for j in range(k)]
        else:
            base = covariances[0, rows, cols]
            index = [np.arange(q)] * k
        basis = np.zeros((q, d, d))  # the chart is linear: each entry's derivative is its E_ab
        basis[np.arange(q), rows, cols] = 1.0
        basis[np.arange(q), cols, rows] = 1.0
        frames = np.broadcast_to(np.eye(d), (k, d, d))
        return _Chart(base, index, [unvech] * k, True, frames, [basis] * k)

    volume, shape, orientation = code[0], code[1], code[2]
    if orientation == "I":
        frames = np.broadcast_to(np.eye(d), (k, d, d))
    elif orientation == "E":
        frames = np.broadcast_to(np.linalg.eigh(covariances[0])[1], (k, d, d))
    else:
        frames = np.linalg.eigh(covariances)[1]
    eigenvalues = np.einsum("kai,kab,kbi->ki", frames, covariances, frames)  # (k, d)
    contrasts = null_space(np.ones((1, d)))  # (d, d - 1): log-shapes summing to zero
    upper = np.triu_indices(d, 1)
    m = upper[0].size
    sizes = {"E": 1, "V": k, "I": 0}
    n_vol = sizes[volume]
    n_shape = sizes[shape] * (d - 1)
    n_orient = sizes[orientation] * m
    # S = sum_e s_e K_e with K_e = E_pq - E_qp for each pair p < q of ``upper``
    skews = np.zeros((m, d, d))
    skews[np.arange(m), upper[0], upper[1]] = 1.0
    skews[np.arange(m), upper[1], upper[0]] = -1.0

    def own(letter: str, width: int, offset: int, j: int) -> np.ndarray:
        if letter == "I":
            return np.arange(0)
        start = offset + (j * width if letter == "V" else 0)
        return np.arange(start, start + width)

    index, sigma, first, curvature = [], [], [], []
    for j in range(k):
        parts = (
            own(volume, 1, 0, j),
            own(shape, d - 1, n_vol, j),
            own(orientation, m, n_vol + n_shape, j),
        )
        index.append(np.concatenate(parts))
        sizes_j = [p.size for p in parts]

        def make(frame=frames[j], values=eigenvalues[j], sizes_j=sizes_j):
            def sigma_j(eta: np.ndarray) -> np.ndarray:
                v, a, s = np.split(eta, np.cumsum(sizes_j)[:2])
                rotation = frame
                if s.size:
                    skew = np.zeros((d, d))
                    skew[upper] = s
                    rotation = frame @ expm(skew - skew.T)
                scaled = values * np.exp(contrasts @ a) if a.size else values
                if v.size:
                    scaled = scaled * np.exp(v[0])
                return (rotation * scaled) @ rotation.T

            return sigma_j

        sigma.append(make())
        # In the frame, Sigma = expm(S) diag(values exp(c)) expm(S)^T with c = v 1 + C a linear
        # in (v, a): each of v, a_i scales the eigenvalues by exp of a direction ``scales``.
        scales = np.vstack([np.ones((sizes_j[0], d)), contrasts.T[: sizes_j[1]]])  # (n_va, d)
        lam = eigenvalues[j]
        n_va = scales.shape[0]
        turns = skews[: sizes_j[2]]  # (n_s, d, d)
        d_scale = np.zeros((n_va, d, d))
        d_scale[:, np.arange(d), np.arange(d)] = scales * lam
        # d/ds_e at S = 0: K_e L - L K_e, L = diag(values)
        d_turn = turns * lam[None, None, :] - lam[None, :, None] * turns
        first.append(np.concatenate([d_scale, d_turn]))
        curvature.append(_eigen_curvature(lam, scales, turns))
    base = np.zeros(n_vol + n_shape + n_orient)
    return _Chart(base, index, sigma, False, np.asarray(frames), first, eigenvalues, curvature)


def _eigen_curvature(
    lam: np.ndarray, scales: np.ndarray, turns: np.ndarray
) -> Callable[[np.ndarray], np.ndarray]:
    r"""``y -> tr(N_ij y)`` (p, p) for the second derivatives :math:`N_{ij}` at 0 of
    :math:`\exp(S)\,\mathrm{diag}(\lambda e^{c})\exp(S)^\top`, c = scales^T (v, a) and
    :math:`S = \sum_e s_e K_e` (``turns`` the K_e, (m, d, d)):

    - two scales x, y: :math:`\mathrm{diag}(\lambda c_x c_y)`;
    - a scale x and a turn e: :math:`K_e D_x - D_x K_e`,
      :math:`D_x = \mathrm{diag}(\lambda c_x)`;
    - two turns: :math:`\tfrac12\{K_e,K_f\}L + \tfrac12 L\{K_e,K_f\} - K_e L K_f - K_f L K_e`
      (the terms of second order in S of :math:`(1 + S + S^2/2) L (1 - S + S^2/2)`).

    Exact, where differences of the chart times a nearly singular component's score (entries of
    its precision, 1e4 for an eigenvalue of 1e-4, times the rows) drowned the information.
    """
    n_va, m = scales.shape[0], turns.shape[0]

    def curvature(y: np.ndarray) -> np.ndarray:
        out = np.zeros((n_va + m, n_va + m))
        out[:n_va, :n_va] = (scales * (lam * np.diag(y))) @ scales.T
        if m:
            # tr((K_e D - D K_e) y) = tr(K_e (D y - y D)); D y - y D has entries (D_a - D_b) y_ab
            commutator = (scales * lam)[:, :, None] - (scales * lam)[:, None, :]  # (n_va, d, d)
            commutator = commutator * y
            mixed = np.einsum("eab,xba->xe", turns, commutator)
            out[:n_va, n_va:] = mixed
            out[n_va:, :n_va] = mixed.T
            # tr({K_e, K_f} (L y + y L)) / 2 = tr(K_e K_f X) for X = L y + y L symmetric, and
            # tr(K_e L K_f y) = tr(K_f L K_e y)
            x = lam[:, None] * y + y * lam[None, :]
            right_x = turns @ x  # (m, d, d): K_f X
            right_ly = (lam[:, None] * turns) @ y  # L K_f y
            flat = turns.reshape(m, -1)
            out[n_va:, n_va:] = flat @ np.swapaxes(right_x, 1, 2).reshape(m, -1).T - 2 * (
                flat @ np.swapaxes(right_ly, 1, 2).reshape(m, -1).T
            )
        return (out + out.T) / 2

    return curvature


@dataclass(frozen=True)
class LouisSums:
    """What Louis' information adds up over rows: a monoid (``a + b`` merges two chunks).

    Attributes
    ----------
    missing : (p, p), sum_n of the covariance of the complete-data score given x_n.
    weight : (k,), sum_n w_n z_nk.
    first : (k, d), sum_n w_n z_nk (x_n - mu_k).
    second : (k, d, d), sum_n w_n z_nk (x_n - mu_k)(x_n - mu_k)^T.
    log_likelihood : sum_n w_n log p(x_n).
    total_weight : sum_n w_n.
    """

    missing: np.ndarray
    weight: np.ndarray
    first: np.ndarray
    second: np.ndarray
    log_likelihood: float
    total_weight: float

    def __add__(self, other: LouisSums) -> LouisSums:
        return LouisSums(
            self.missing + other.missing,
            self.weight + other.weight,
            self.first + other.first,
            self.second + other.second,
            self.log_likelihood + other.log_likelihood,
            self.total_weight + other.total_weight,
        )


@dataclass(frozen=True)
class RowScores:
    """The per-row scores of a fitted mixture in a chart, as a function of a chunk of rows:
    ``scores(x, w) -> LouisSums``. Plain arrays and the mixture, so that it can be sent to
    where the rows are (a Dask worker).

    Attributes
    ----------
    mixture : the fitted Gaussian mixture (its ``log_resp`` gives the responsibilities).
    means : (k, d).
    precisions : (k, d, d), inverse covariances.
    weight_scores : (k, k - 1), the score of log pi_k with respect to pi_1 .. pi_{k-1}.
    jac : per component, (q, p_k) the Jacobian of its covariance's distinct entries with
        respect to its chart parameters.
    index : per component, (p_k,) where those chart parameters sit in the parameter vector.
    n_parameters : p, the length of the parameter vector.
    """

    mixture: Any
    means: np.ndarray
    precisions: np.ndarray
    weight_scores: np.ndarray
    jac: tuple
    index: tuple
    n_parameters: int

    def __call__(self, x_all, w_all) -> LouisSums:
        """The sums of the rows ``x_all`` (m, d) with weights ``w_all`` (m,) or None."""
        k, d = self.means.shape
        n_w = k - 1
        p = self.n_parameters
        rows, cols = _vech_indices(d)
        twice = np.where(rows == cols, 1.0, 2.0)  # an off-diagonal entry counts both halves
        missing = np.zeros((p, p))
        weight_k = np.zeros(k)
        first = np.zeros((k, d))
        second = np.zeros((k, d, d))
        loglik = 0.0
        total = 0.0
        x_all = np.asarray(x_all, dtype=np.float64)
        block = max(1, _BLOCK // (k * p))
        for start in range(0, x_all.shape[0], block):
            x = x_all[start : start + block]
            w = None if w_all is None else np.asarray(w_all[start : start + block], np.float64)
            wt = np.ones(x.shape[0]) if w is None else w
            log_resp, log_density = self.mixture.log_resp(x)
            z = np.exp(np.asarray(log_resp, dtype=np.float64))  # (m, k)
            loglik += float(wt @ np.asarray(log_density, dtype=np.float64))
            total += float(wt.sum())
            scores = np.zeros((x.shape[0], k, p))  # (m, k, p)
            scores[:, :, :n_w] = self.weight_scores
            wz = wt[:, None] * z
            for j in range(k):
                r = x - self.means[j]  # (m, d)
                prec = self.precisions[j]
                u = r @ prec
                scores[:, j, n_w + j * d : n_w + (j + 1) * d] = u
                g = 0.5 * twice * (u[:, rows] * u[:, cols] - prec[rows, cols])  # (m, q)
                scores[:, j, self.index[j]] += g @ self.jac[j]
                weight_k[j] += wz[:, j].sum()
                first[j] += wz[:, j] @ r
                second[j] += (r * wz[:, j, None]).T @ r
            spread = np.sqrt(wz)[:, :, None] * scores
            spread = spread.reshape(-1, p)
            mean_score = np.einsum("mk,mkp->mp", z, scores) * np.sqrt(wt)[:, None]
            missing += spread.T @ spread - mean_score.T @ mean_score
        return LouisSums(missing, weight_k, first, second, loglik, total)


def louis_information(mixture, code: str, map_reduce: Callable[[RowScores], LouisSums]):
    """Observed information of ``mixture`` on the data in the chart of ``code``.

    Parameters
    ----------
    mixture : a fitted :class:`emkit.models.mixture.Mixture` of Gaussian components.
    code : mclust's three-letter name of the covariance structure.
    map_reduce : ``map_reduce(fn)`` adds ``fn(x, w)`` (a :class:`LouisSums`) over the chunks
        of the data, rows (m, d) and weights (m,) or None: the ``map_reduce`` of a
        :class:`~emkit.backend.sources.DataSource`, or a pass over a Dask collection's
        partitions on the workers (only the sums come back).

    Returns
    -------
    (information (p, p), G (q_out, p) the Jacobian of weights, means and covariance layouts
    with respect to the chart, log-likelihood, total weight, the :class:`LouisSums`)
    """
    weights = np.asarray(mixture.weights, dtype=np.float64)
    comps = mixture.components
    means = np.asarray(comps.means, dtype=np.float64)
    covariances = np.asarray(comps.full_covariances(), dtype=np.float64)
    k, d = means.shape
    chart = _chart(code, covariances)
    rows, cols = _vech_indices(d)
    n_w, n_mu = k - 1, k * d
    p = n_w + n_mu + chart.base.size
    off_cov = n_w + n_mu
    precisions = np.linalg.inv(covariances)
    precisions = (precisions + np.swapaxes(precisions, 1, 2)) / 2

    # derivatives of each covariance's distinct entries, (q, p_k): F dSigma F^T
    jac = [
        np.einsum("ab,ibc,dc->iad", chart.frames[j], chart.first[j], chart.frames[j])[
            :, rows, cols
        ].T
        for j in range(k)
    ]
    # score of log pi_k with respect to pi_1 .. pi_{K-1}
    a = np.zeros((k, n_w))
    a[np.arange(n_w), np.arange(n_w)] = 1.0 / weights[:n_w]
    if n_w:
        a[k - 1] = -1.0 / weights[k - 1]
    scores = RowScores(
        mixture,
        means,
        precisions,
        a,
        tuple(jac),
        tuple(off_cov + chart.index[j] for j in range(k)),
        p,
    )
    sums = map_reduce(scores)
    weight_k, first, second = sums.weight, sums.first, sums.second

    complete = np.zeros((p, p))
    for j in range(k):
        if n_w:
            complete[:n_w, :n_w] += weight_k[j] * np.outer(a[j], a[j])
        mu = slice(n_w + j * d, n_w + (j + 1) * d)
        idx = off_cov + chart.index[j]
        complete[mu, mu] += weight_k[j] * precisions[j]
        # The covariance's blocks in the chart's frame F (the eigenvectors of an eigen chart,
        # where the precision is diag(1 / values)): with P the precision, m = sum z (x - mu),
        # S = sum z (x - mu)(x - mu)^T and Sigma_i, Sigma_ij its chart's derivatives,
        #   -d2/dmu d_i = P Sigma_i P m,
        #   -d2/d_i d_j = -W/2 tr(P Sigma_i P Sigma_j) + tr(P Sigma_i P Sigma_j P S)
        #                 + 1/2 tr(Sigma_ij (W P - P S P)).
        # Products of the derivatives with P are taken first: for a nearly singular component
        # (eigenvalues 1e-4 and 2e3) sums over entries of P (1e4) times entries of Sigma_i
        # (1e3) twice over cancel to O(1) and lose the information to rounding.
        frame = chart.frames[j]
        if chart.values is None:
            prec = frame.T @ precisions[j] @ frame
        else:
            prec = np.diag(1.0 / chart.values[j])
        times = prec @ chart.first[j]  # (p_k, d, d): P Sigma_i
        cross = frame @ (times @ (prec @ (frame.T @ first[j]))).T  # (d, p_k)
        complete[mu, idx] += cross
        complete[idx, mu] += cross.T
        spread = prec @ (frame.T @ second[j] @ frame)  # P S
        flat = times.reshape(times.shape[0], -1)
        swapped = np.swapaxes(times, 1, 2).reshape(times.shape[0], -1)
        own = -0.5 * weight_k[j] * flat @ swapped.T
        own += flat @ np.swapaxes(times @ spread, 1, 2).reshape(times.shape[0], -1).T
        if chart.curvature is not None:
            own += 0.5 * chart.curvature[j](weight_k[j] * prec - spread @ prec)
        complete[np.ix_(idx, idx)] += (own + own.T) / 2
    information = complete - sums.missing
    information = (information + information.T) / 2
    G = _output_jacobian(comps, chart, jac, k, d)
    return information, G, sums.log_likelihood, sums.total_weight, sums


def _output_jacobian(comps, chart: _Chart, jac, k: int, d: int) -> np.ndarray:
    """Jacobian of (weights (k,), means (k, d), covariances in the structure's layout) with
    respect to (pi_1 .. pi_{k-1}, means, chart), shape (k + k d + layout size, p)."""
    rows, cols = _vech_indices(d)
    n_w, n_mu = k - 1, k * d
    p = n_w + n_mu + chart.base.size
    dsigma = np.zeros((k, d, d, p))  # derivative of each full covariance
    for j in range(k):
        idx = n_w + n_mu + chart.index[j]
        full = np.zeros((d, d, idx.size))
        full[rows, cols] = jac[j]
        full[cols, rows] = jac[j]
        dsigma[j][:, :, idx] += full
    layout = np.ndim(comps.covariances)  # k may equal d: the rank and sharing tell layouts
    if not comps.per_component:  # tied: one (d, d)
        dcov = dsigma[0].reshape(-1, p)
    elif layout == 3:  # (k, d, d)
        dcov = dsigma.reshape(-1, p)
    elif layout == 2:  # (k, d) diagonals
        dcov = dsigma[:, np.arange(d), np.arange(d)].reshape(-1, p)
    else:  # (k,): one variance per component
        dcov = dsigma[:, 0, 0]
    dw = np.zeros((k, p))
    dw[np.arange(n_w), np.arange(n_w)] = 1.0
    dw[k - 1, :n_w] = -1.0
    dmu = np.zeros((n_mu, p))
    dmu[:, n_w : n_w + n_mu] = np.eye(n_mu)
    return np.vstack([dw, dmu, dcov])


def louis_estimate(
    mixture,
    information: np.ndarray,
    G: np.ndarray,
    loglik: float,
    total: float,
    description: str = "",
) -> Estimate:
    """The fitted weights, means and covariances with the inverse of Louis' observed information.

    Parameters
    ----------
    mixture : fitted Gaussian :class:`emkit.models.mixture.Mixture`.
    information, G, loglik, total : what :func:`louis_information` returns for ``mixture``.
    description : the model, for the Estimate's header.

    Returns
    -------
    :class:`emkit.mle.Estimate` with ``weights`` (k,), ``means`` (k, d) and ``covariances`` (the
    estimator's layout); its ``cov`` is singular where parameters are tied (weights summing to
    one, the two halves of a symmetric matrix). A :class:`emkit.mle.HessianWarning` and a NaN
    covariance where the information is not positive definite (a degenerate or unidentified
    fit: an empty component, a shape with equal axes whose orientation the data cannot tell).
    """
    cov = G @ _inverse_information(information) @ G.T
    comps = mixture.components
    params: dict[str, float | np.ndarray] = {
        "weights": np.asarray(mixture.weights, dtype=np.float64),
        "means": np.asarray(comps.means, dtype=np.float64),
        "covariances": np.asarray(comps.covariances, dtype=np.float64),
    }
    method = "Gaussian mixture" + (f" {description}" if description else "")
    return Estimate(
        params,
        cov,
        loglik,
        int(round(total)),
        method + ": standard errors from the observed information (Louis' method)",
        bounds=_parameter_space(comps, *np.shape(comps.means)),
    )


def _inverse_information(information: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric information (p, p); NaN, with a :class:`HessianWarning`
    (attributed to the caller of the estimator's method), where it is not positive definite."""
    diag = np.diag(information)
    p = diag.size
    if p and (diag > 0).all() and np.isfinite(information).all():
        scaled = information / np.sqrt(np.outer(diag, diag))
        eig = np.linalg.eigvalsh(scaled)
    else:
        eig = np.array([np.nan])
    if not (eig > _RIDGE).all():
        smallest = f"smallest scaled eigenvalue {np.min(eig):.3g}"
        if np.isfinite(diag).all() and not (diag > 0).all():
            smallest = "a parameter has no information"
        warn_user(
            f"the observed information of this mixture is not positive definite ({smallest}): "
            "a component is empty or degenerate, or a "
            "parameter is not identified by the data; its standard errors are not valid",
            HessianWarning,
        )
        return np.full((p, p), np.nan)
    inverse = np.linalg.inv(information)
    return (inverse + inverse.T) / 2


def regression_louis_estimate(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    weights: np.ndarray,
    coef: np.ndarray,
    intercept: np.ndarray,
    variances: np.ndarray,
    fit_intercept: bool,
    equal_variance: bool,
    origin: tuple[np.ndarray, np.ndarray] | None = None,
) -> Estimate:
    r"""A mixture of linear regressions' weights, coefficients, intercepts and residual standard
    deviations with the inverse of Louis' observed information of
    :math:`\sum_n w_n \log \sum_k \pi_k N(y_n \mid x_n^\top\beta_k + \beta_{0k}, v_k)`.

    Coordinates: :math:`\pi_1 \dots \pi_{K-1}`, each line's (intercept, coefficients) and the
    variances :math:`v_k` (one shared where ``equal_variance``); sigma = sqrt(v) by the delta
    method. Component k's complete-data score of row n is
    :math:`(a_k, \tilde x_n r_{nk} / v_k, -1/(2v_k) + r_{nk}^2/(2v_k^2))` with
    :math:`\tilde x = (1, x)`, :math:`r = y - \tilde x^\top\tilde\beta_k`.

    Parameters
    ----------
    x : (n, q) covariates; y : (n,) responses; w : (n,) row weights or None.
    weights : (k,); coef : (k, q); intercept : (k,); variances : (k,).
    fit_intercept, equal_variance : the fitted model's settings.
    origin : None, or ``(point (q + 1,), reported (k,))`` where ``x`` and ``y`` are the rows
        less ``point`` (x's, then y's; a fit far from 0 taken about the rows' mean) and
        ``intercept`` the lines' intercepts for them: the intercepts reported, with their
        covariance, are then ``reported``, the lines' for the rows themselves
        (``intercept + point[-1] - coef @ point[:-1]``).

    Returns
    -------
    :class:`emkit.mle.Estimate` with ``weights`` (k,), ``coef`` (k, q), ``intercept`` (k,;
    only with ``fit_intercept``) and ``sigmas`` (k,); NaN and a
    :class:`emkit.mle.HessianWarning` where the information is not positive definite.
    """
    k, q = coef.shape
    m = q + int(fit_intercept)  # free entries of one line
    n_w = k - 1
    n_v = 1 if equal_variance else k
    p = n_w + k * m + n_v
    lines = np.column_stack([intercept, coef]) if fit_intercept else coef  # (k, m)
    a = np.zeros((k, n_w))  # score of log pi_k with respect to pi_1 .. pi_{K-1}
    a[np.arange(n_w), np.arange(n_w)] = 1.0 / weights[:n_w]
    if n_w:
        a[k - 1] = -1.0 / weights[k - 1]
    variance_at = n_w + k * m + (np.zeros(k, dtype=int) if equal_variance else np.arange(k))
    # With an intercept the information is taken in covariates centred at their weighted mean,
    # each line's intercept then its height there: in raw covariates far from 0 (x + 1e6) the
    # intercept and slope columns correlate to 1 - 1e-11, below the identifiability test's
    # ridge, though both are identified. The delta method below carries the covariance back.
    centre = np.average(x, axis=0, weights=w) if fit_intercept and x.shape[0] else np.zeros(q)
    complete = np.zeros((p, p))
    missing = np.zeros((p, p))
    loglik = 0.0
    block = max(1, _BLOCK // (k * p))
    for start in range(0, x.shape[0], block):
        xt = x[start : start + block]
        raw = np.column_stack([np.ones(xt.shape[0]), xt]) if fit_intercept else xt  # (b, m)
        design = np.column_stack([raw[:, :1], xt - centre]) if fit_intercept else xt
        wt = np.ones(xt.shape[0]) if w is None else w[start : start + block]
        resid = y[start : start + block, None] - raw @ lines.T  # (b, k)
        log_joint = np.log(weights) - 0.5 * (np.log(2 * np.pi * variances) + resid**2 / variances)
        log_density = np.logaddexp.reduce(log_joint, axis=1)
        loglik += float(wt @ log_density)
        z = np.exp(log_joint - log_density[:, None])  # (b, k)
        wz = wt[:, None] * z
        scores = np.zeros((xt.shape[0], k, p))  # (b, k, p)
        scores[:, :, :n_w] = a
        for j in range(k):
            line = slice(n_w + j * m, n_w + (j + 1) * m)
            v, r, u = variances[j], resid[:, j], wz[:, j]
            scores[:, j, line] = design * (r / v)[:, None]
            scores[:, j, variance_at[j]] = -0.5 / v + 0.5 * r**2 / v**2
            # minus the complete-data Hessian of log N(y | design beta_j, v_j), weighted
            complete[:n_w, :n_w] += u.sum() * np.outer(a[j], a[j])
            complete[line, line] += (design * u[:, None]).T @ design / v
            cross = (design * (u * r)[:, None]).sum(axis=0) / v**2
            complete[line, variance_at[j]] += cross
            complete[variance_at[j], line] += cross
            complete[variance_at[j], variance_at[j]] += u @ (-0.5 / v**2 + r**2 / v**3)
        spread = (np.sqrt(wz)[:, :, None] * scores).reshape(-1, p)
        mean_score = np.einsum("bk,bkp->bp", z, scores) * np.sqrt(wt)[:, None]
        missing += spread.T @ spread - mean_score.T @ mean_score
    information = complete - missing
    cov_eta = _inverse_information((information + information.T) / 2)
    sigmas = np.sqrt(variances)
    dw = np.zeros((k, p))
    dw[np.arange(n_w), np.arange(n_w)] = 1.0
    dw[k - 1, :n_w] = -1.0
    dlines = np.zeros((k, m, p))
    dlines.reshape(k * m, p)[:, n_w : n_w + k * m] = np.eye(k * m)
    if origin is not None:  # the rows themselves: their centre, their intercepts
        centre, intercept = centre + origin[0][:-1], origin[1]
    if fit_intercept:  # intercept = height at the centre - coef' centre
        dlines[:, 0] -= np.einsum("j,kjp->kp", centre, dlines[:, 1:])
    dsigma = np.zeros((k, p))
    dsigma[np.arange(k), variance_at] = 0.5 / sigmas
    blocks = [dw, dlines[:, int(fit_intercept) :].reshape(k * q, p)]
    params: dict[str, float | np.ndarray] = {"weights": weights, "coef": coef}
    bounds = [np.tile([0.0, 1.0] if k > 1 else [-np.inf, np.inf], (k, 1))]
    bounds.append(np.tile([-np.inf, np.inf], (k * q, 1)))
    if fit_intercept:
        blocks.append(dlines[:, 0])
        params["intercept"] = intercept
        bounds.append(np.tile([-np.inf, np.inf], (k, 1)))
    blocks.append(dsigma)
    params["sigmas"] = sigmas
    bounds.append(np.tile([0.0, np.inf], (k, 1)))
    G = np.vstack(blocks)
    total = float(x.shape[0] if w is None else w.sum())
    return Estimate(
        params,
        G @ cov_eta @ G.T,
        loglik,
        int(round(total)),
        f"Mixture of {k} linear regressions: standard errors from the observed information "
        "(Louis' method)",
        bounds=np.vstack(bounds),
    )


def family_louis_estimate(
    weights: np.ndarray,
    families: list,
    names: list[dict[str, str]],
    stacked: bool,
    x: np.ndarray,
    w: np.ndarray | None,
    description: str,
) -> Estimate:
    r"""A mixture of families' weights and parameters with the inverse of Louis' observed
    information of :math:`\sum_n w_n \log \sum_k \pi_k f_k(x_n \mid \theta_k)`.

    Coordinates: :math:`\pi_1 \dots \pi_{K-1}` and each family's ``to_vector`` (its
    unconstrained parameters: log rates, log variances). Each component's per-row scores and
    the Hessian of its complete-data log-likelihood are central differences of its
    ``log_prob`` in those coordinates (steps of :func:`~emkit.mle.estimate.step_sizes`); the
    reported parameters (each family's float entries of ``to_dict``) get the covariance by
    the delta method.

    Parameters
    ----------
    weights : (k,); families : the k fitted families.
    names : per component, {entry of ``to_dict``: name of the output parameter}.
    stacked : whether the components share their names (one family), each name then an
        array over the components (k, ...), or each has names of its own.
    x : (n, d) rows; w : (n,) row weights or None.
    description : the model, for the Estimate's header.

    Returns
    -------
    :class:`emkit.mle.Estimate` with ``weights`` (k,) and the families' parameters; NaN and
    a :class:`emkit.mle.HessianWarning` where the information is not positive definite, and
    for the parameters of a coordinate on the boundary (its rows' squared scores adding up
    to under ``1 / _BOUNDARY_SE**2``: a rate whose component holds no positive count), the
    others' covariance then that of the model with it held there. A HessianWarning, with
    the numbers kept, for a bounded parameter whose standard error on its interval's log or
    logit scale exceeds ``_BOUNDARY_SE`` (the same rule on the observed information).
    """
    k, d = len(families), x.shape[1]
    plain = [f for f in families if not callable(getattr(f, "to_vector", None))]
    if plain:
        raise ValueError(
            f"{type(plain[0]).__name__} components have no vector of free parameters for the "
            "observed information; use emkit.bootstrap for their standard errors (for lines, "
            "MixtureOfRegressions.estimate)"
        )
    vectors = [np.asarray(f.to_vector(), dtype=np.float64) for f in families]
    for family, vector in zip(families, vectors, strict=True):
        if vector.size != family.n_parameters(d):
            raise ValueError(
                f"{type(family).__name__} components have {vector.size} coordinates for "
                f"{family.n_parameters(d)} free parameters (a constrained parametrisation), "
                "where the observed information needs free ones; use emkit.bootstrap for "
                "their standard errors"
            )
    if not (weights > 0).all():
        return _with_empty_components(weights, families, names, stacked, x, w, description)
    n_w = k - 1
    offsets = n_w + np.concatenate([[0], np.cumsum([v.size for v in vectors])])
    p = int(offsets[-1])
    a = np.zeros((k, n_w))  # score of log pi_k with respect to pi_1 .. pi_{K-1}
    a[np.arange(n_w), np.arange(n_w)] = 1.0 / weights[:n_w]
    if n_w:
        a[k - 1] = -1.0 / weights[k - 1]
    # Families with closed forms (``local_scores``) give their scores and Hessians in local
    # coordinates of their own, orthogonal at the fit where they can be (a mean counted from
    # the fitted one in fitted sds): differences of ``to_vector``'s mean / sd at a mean of 1e6
    # sd move the variance too, and drown it.
    exact = [callable(getattr(f, "local_scores", None)) for f in families]
    # The others' coordinates are unitless (log rates, logits): steps relative to max(|v|, 1), as a
    # step relative to a coordinate near 0 would drown its differences in rounding.
    steps = [step_sizes(np.maximum(np.abs(v), 1.0), 1 / 3) for v in vectors]
    complete = np.zeros((p, p))
    missing = np.zeros((p, p))
    held = np.zeros(p)  # sum_n w_n sum_k z_nk s_nk^2: what the rows say about each coordinate
    mass = np.zeros(k)  # sum_n w_n z_nk
    loglik = 0.0
    block = max(1, _BLOCK // (k * max(p, 1)))
    for start in range(0, x.shape[0], block):
        xt = x[start : start + block]
        wt = np.ones(xt.shape[0]) if w is None else w[start : start + block]
        log_joint = np.log(weights) + np.column_stack([f.log_prob(xt) for f in families])
        log_density = np.logaddexp.reduce(log_joint, axis=1)
        loglik += float(wt @ log_density)
        z = np.exp(log_joint - log_density[:, None])  # (b, k)
        mass += wt @ z
        scores = np.zeros((xt.shape[0], k, p))  # (b, k, p)
        scores[:, :, :n_w] = a
        for j, (family, vector) in enumerate(zip(families, vectors, strict=True)):
            complete[:n_w, :n_w] += (wt @ z[:, j]) * np.outer(a[j], a[j])
            # A coordinate at its end (a rate of exactly 0: log rate -inf) is held there; rows
            # the component cannot hold (z = 0: a positive count under a rate 0, log_prob
            # -inf) add nothing.
            free = np.isfinite(vector)
            if not free.any():
                continue
            own = offsets[j] + np.flatnonzero(free)
            wzj = wt * z[:, j]
            held_rows = wzj > 0
            if exact[j]:
                row_scores, row_hessian = family.local_scores(xt[held_rows], wzj[held_rows])
                scores[np.ix_(held_rows, [j], own)] = row_scores[:, None, free]
                complete[np.ix_(own, own)] -= row_hessian[np.ix_(free, free)]
                continue

            def log_prob(v: np.ndarray, family=family, xt=xt, at=vector, free=free):
                full = at.copy()
                full[free] = v
                return family.from_vector(full).log_prob(xt)

            def complete_loglik(v: np.ndarray, wz=wzj, rows=held_rows, log_prob=log_prob):
                return float(wz[rows] @ log_prob(v)[rows])

            with np.errstate(invalid="ignore"):  # -inf - -inf in rows it cannot hold
                row_scores = jacobian(log_prob, vector[free], steps[j][free])
            scores[:, j, own] = np.where(held_rows[:, None], row_scores, 0.0)
            complete[np.ix_(own, own)] -= hessian(
                complete_loglik,
                vector[free],
                step_sizes(np.maximum(np.abs(vector[free]), 1.0), 1 / 4),
            )
        spread = (np.sqrt(wt[:, None] * z)[:, :, None] * scores).reshape(xt.shape[0] * k, p)
        mean_score = np.einsum("bk,bkp->bp", z, scores) * np.sqrt(wt)[:, None]
        missing += spread.T @ spread - mean_score.T @ mean_score
        held += (spread**2).sum(axis=0)
    information = complete - missing
    information = (information + information.T) / 2
    # A coordinate the rows say next to nothing about (a log rate whose component holds no
    # positive count, a logit probability of a feature its component never shows) lies on
    # the boundary: EM leaves it at 1e-12 rather than 0, and its information is rounding.
    # It is left out of the inverse (the others' covariance is that of the model with it
    # held there) and the parameters it moves get NaN. A component that holds next to no
    # rows at all is empty, its weight on the boundary too: no error is valid then.
    weak = np.zeros(p, dtype=bool)
    if (mass >= 1.0 / _BOUNDARY_SE**2).all():
        weak[n_w:] = ~(held[n_w:] >= 1.0 / _BOUNDARY_SE**2)
    keep = np.flatnonzero(~weak)
    # no coordinate at all (point masses, one of them holding every row): nothing to invert
    cov_eta = _inverse_information(information[np.ix_(keep, keep)]) if keep.size else information

    def parameters(theta: np.ndarray, dicts: list[dict] | None = None) -> dict[str, np.ndarray]:
        if dicts is None:
            dicts = [
                family.from_vector(theta[offsets[j] : offsets[j + 1]]).to_dict()
                for j, family in enumerate(families)
            ]
        return _laid_out(np.r_[theta[:n_w], 1.0 - theta[:n_w].sum()], dicts, names, stacked)

    theta = np.concatenate([weights[:n_w], *vectors])
    params = parameters(theta)
    values = flatten(params)
    finite = np.isfinite(theta)

    def outputs(t: np.ndarray, at: np.ndarray) -> np.ndarray:
        full = theta.copy()
        full[at] = t
        return flatten(parameters(full))

    G = np.zeros((values.size, p))
    local = np.zeros(p, dtype=bool)
    for c in np.flatnonzero(exact):
        local[offsets[c] : offsets[c + 1]] = True
    numeric = finite & ~local
    if numeric.any():
        G[:, numeric] = jacobian(lambda t: outputs(t, numeric), theta[numeric])
    _place_local_jacobians(G, families, exact, offsets, parameters, n_w)
    # the parameters each coordinate moves: those G says, and for a coordinate at its end
    # (-inf), those that change when it leaves it
    moves = G != 0
    for i in np.flatnonzero(~finite):
        inside = theta.copy()
        inside[i] = 0.0
        moves[:, i] = flatten(parameters(inside)) != values
    bounds = _domain_bounds(params, families, names)
    total = float(x.shape[0] if w is None else w.sum())
    cov = G[:, keep] @ cov_eta @ G[:, keep].T
    if weak.any():
        moved = np.flatnonzero(moves[:, weak].any(axis=1))
        cov[moved, :] = cov[:, moved] = np.nan
        labels = row_labels(params)
        named = ", ".join(f"{labels[i]} = {values[i]:.3g}" for i in moved[:5])
        more = f" and {moved.size - 5} more" if moved.size > 5 else ""
        warn_user(
            f"on the boundary of the parameter space: {named}{more} (their component holds "
            "next to no rows that inform them: a rate with no positive count, a probability "
            "with no event), where a Wald standard error is not valid: NaN, and the others' "
            "are those of the model with them held there; test them by a likelihood ratio, "
            "or leave that component or feature out",
            HessianWarning,
        )
    _warn_uninformative(values, cov, bounds, row_labels(params))
    return Estimate(
        params,  # type: ignore[arg-type]
        cov,
        loglik,
        int(round(total)),
        f"{description}: standard errors from the observed information (Louis' method)",
        bounds=bounds,
    )


def _laid_out(
    weights: np.ndarray, dicts: list[dict], names: list[dict[str, str]], stacked: bool
) -> dict[str, np.ndarray]:
    """The output parameters of :func:`family_louis_estimate`: ``weights`` (k,), then each
    component's entries of ``dicts`` (its ``to_dict``) under ``names``, stacked over the
    components where they share them."""
    out: dict[str, list] = {}
    for entries, named in zip(dicts, names, strict=True):
        for entry, name in named.items():
            out.setdefault(name, []).append(np.asarray(entries[entry], dtype=np.float64))
    return {"weights": weights} | {
        name: np.stack(v) if stacked else v[0] for name, v in out.items()
    }


def _domain_bounds(params: dict, families: list, names: list[dict[str, str]]) -> np.ndarray:
    """(low, high) of each entry of ``params`` (as :func:`_laid_out` lays them out), shape
    (q, 2): a weight in (0, 1) (a single one is fixed at 1), a family parameter in its
    family's ``domains``."""
    space = {"weights": DOMAIN_BOUNDS["unit" if len(families) > 1 else "real"]}
    for j, family in enumerate(families):
        domains = getattr(family, "domains", {})
        for entry, name in names[j].items():
            space[name] = DOMAIN_BOUNDS[domains.get(entry, "real")]
    return np.vstack([np.tile(space[name], (np.size(params[name]), 1)) for name in params])


def _with_empty_components(
    weights: np.ndarray,
    families: list,
    names: list[dict[str, str]],
    stacked: bool,
    x: np.ndarray,
    w: np.ndarray | None,
    description: str,
) -> Estimate:
    """:func:`family_louis_estimate` of a fit with components of weight exactly 0: no row
    with positive weight in their support (a ``PointMass`` whose value no row takes), their
    weights the boundary MLE. No Wald error holds there: those weights, and the weight that
    is 1 less them where one component alone holds rows, get NaN, as do the empty
    components' own parameters, with a :class:`HessianWarning`; the others' covariance is
    that of the mixture without the empty components (they change no row's likelihood), as
    :class:`emkit.ZeroInflatedPoisson` gives its rate the Poisson's alone."""
    empty = ~(weights > 0)
    kept = np.flatnonzero(~empty)
    sub = family_louis_estimate(
        weights[kept],
        [families[j] for j in kept],
        [names[j] for j in kept],
        stacked,
        x,
        w,
        description,
    )
    # Each output entry's position, found by laying out distinct tags as the values are.
    k, ids = len(families), float(len(families))
    tags = []
    for family, named in zip(families, names, strict=True):
        entries = family.to_dict()
        tagged = {}
        for entry in named:
            shape = np.shape(entries[entry])
            tagged[entry] = ids + np.arange(np.prod(shape, dtype=int), dtype=float).reshape(shape)
            ids += tagged[entry].size
        tags.append(tagged)
    weight_tags = np.arange(k, dtype=np.float64)
    full = flatten(_laid_out(weight_tags, tags, names, stacked))
    held = flatten(
        _laid_out(weight_tags[kept], [tags[j] for j in kept], [names[j] for j in kept], stacked)
    )
    position = {tag: i for i, tag in enumerate(full)}
    at = np.array([position[tag] for tag in held], dtype=int)
    params = _laid_out(weights, [f.to_dict() for f in families], names, stacked)
    values = flatten(params)
    cov = np.full((values.size, values.size), np.nan)
    cov[np.ix_(at, at)] = sub.cov
    if kept.size == 1:  # its weight is 1 less the empty ones': fixed only with them held
        cov[kept[0], :] = cov[:, kept[0]] = np.nan
    labels = row_labels(params)
    nan = np.flatnonzero(np.isnan(np.diag(cov)))
    listed = ", ".join(f"{labels[i]} = {values[i]:.3g}" for i in nan[:5])
    more = f" and {nan.size - 5} more" if nan.size > 5 else ""
    which = ", ".join(f"{j} ({_component_label(families[j])})" for j in np.flatnonzero(empty))
    one = int(empty.sum()) == 1
    warn_user(
        f"{'component' if one else 'components'} {which} "
        f"{'holds' if one else 'hold'} no row (none with positive weight lies in "
        f"{'its' if one else 'their'} support): {'its weight lies' if one else 'their weights lie'}"
        f" on the boundary 0, where a Wald standard error is not valid: NaN for {listed}{more}, "
        f"and the others' are those of the mixture without {'it' if one else 'them'}; drop "
        f"{'that component' if one else 'those components'}, or test "
        f"{'it' if one else 'them'} by a likelihood ratio",
        HessianWarning,
    )
    return Estimate(
        params,  # type: ignore[arg-type]
        cov,
        sub.loglik,
        sub.n,
        sub.method,
        bounds=_domain_bounds(params, families, names),
    )


def _component_label(family) -> str:
    """``Poisson``, or ``PointMass(99.0)`` for a family whose support is its parameter."""
    value = getattr(family, "value", None)
    return type(family).__name__ if value is None else f"{type(family).__name__}({value})"


def _warn_uninformative(
    values: np.ndarray, cov: np.ndarray, bounds: np.ndarray, labels: list[str]
) -> None:
    """A :class:`HessianWarning` naming the bounded entries (``bounds`` (q, 2)) whose standard
    error on the scale of their Wald interval (the log of the distance from a bound, the logit
    between two) exceeds ``_BOUNDARY_SE``: the rule that takes a coordinate to lie on its bound
    when its information had the labels been known is that small, applied to the observed
    information of an estimate EM has not (yet) taken to the bound (a rate of 1e-3 with a
    standard error of 0.04: a 95% interval from 1e-32 to 1e26)."""
    lo, hi = bounds[:, 0], bounds[:, 1]
    se = np.sqrt(np.diag(cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (values - lo) / (hi - lo)
        scale = np.where(
            np.isfinite(hi),
            se / ((hi - lo) * u * (1 - u)),
            se / (values - lo),
        )
    bounded = (np.isfinite(lo) | np.isfinite(hi)) & (lo != hi)
    wide = np.flatnonzero(bounded & (scale > _BOUNDARY_SE))
    if not wide.size:
        return
    named = ", ".join(
        f"{labels[i]} = {values[i]:.3g} (standard error {se[i]:.3g})" for i in wide[:5]
    )
    more = f" and {wide.size - 5} more" if wide.size > 5 else ""
    warn_user(
        f"the Wald intervals of {named}{more} are not informative: their standard error on "
        f"the log or logit scale, where the interval is taken, exceeds {_BOUNDARY_SE:g} (a 95% "
        "interval spanning a factor of over 1e34). The estimate is likely near its bound (a "
        "rate EM takes slowly towards 0), where a Wald error is not valid; test it by a "
        "likelihood ratio, fit with a smaller tol, or leave that component or feature out",
        HessianWarning,
    )


def _place_local_jacobians(G, families, exact, offsets, parameters, n_w) -> None:
    """Write into G (outputs, p) the columns of the families with ``local_jacobian``: its rows
    are the ``to_dict`` parameters raveled in ``params`` order, found among the outputs by
    laying out their positions (distinct negative numbers) as ``parameters`` lays out the values."""
    dicts, ids = [], 0.0
    for family, closed in zip(families, exact, strict=True):
        entries = {}
        for entry, value in family.to_dict().items():
            if closed and entry in family.params:
                size = np.size(value)
                entries[entry] = -(ids + 1.0 + np.arange(size))  # the weights are NaN or 1
                ids += size
            elif not isinstance(value, str):
                entries[entry] = np.full(np.shape(value), np.nan)
        dicts.append(entries)
    placed = flatten(parameters(np.full(n_w, np.nan), dicts))
    for j in np.flatnonzero(exact):
        jac = families[j].local_jacobian()  # (q, p_j)
        tags = np.concatenate([dicts[j][attr] for attr in families[j].params])
        for row, tag in enumerate(tags):
            at = np.flatnonzero(placed == tag)
            G[at, offsets[j] : offsets[j + 1]] = jac[row]


# The (low, high) of a family parameter's domain (the families' ``domains``), where its Wald
# interval is taken on the log or logit scale: a variance on its bound 0 has no interval.
DOMAIN_BOUNDS = {
    "real": (-np.inf, np.inf),
    "positive": (0.0, np.inf),
    "nonnegative": (0.0, np.inf),
    "unit": (0.0, 1.0),
}


# A coordinate of a family whose rows' scores add up to under 1 / _BOUNDARY_SE^2 (their
# sum_n w_n z_nk s_nk^2, its information were the labels known) is taken to lie on a bound:
# its standard error on the log or logit scale would exceed 20, a 95% interval spanning a
# factor of e^78 (1e34). A Poisson rate whose component holds no positive count comes out of
# EM at 1e-12, not 0, with an information of rounding size; one event in 400 is the limit.
# The same limit on the observed standard error of a parameter EM has left short of its bound
# (a rate of 1e-3) says its interval is not informative (``_warn_uninformative``).
_BOUNDARY_SE = 20.0


def _parameter_space(comps, k: int, d: int) -> np.ndarray:
    """(low, high) of each entry of weights, means and covariances (the structure's layout),
    shape (k + k d + layout size, 2): a weight lies in (0, 1) (a single one is fixed at 1), a
    variance in (0, inf), a mean or a covariance off the diagonal anywhere."""
    unbounded = [-np.inf, np.inf]
    weights = np.tile([0.0, 1.0] if k > 1 else unbounded, (k, 1))
    means = np.tile(unbounded, (k * d, 1))
    layout = np.asarray(comps.covariances)
    if not comps.per_component or layout.ndim == 3:  # (d, d) or (k, d, d): the diagonals
        variance = np.broadcast_to(np.eye(d, dtype=bool), layout.shape).ravel()
    else:  # (k, d) diagonals or (k,) spherical variances
        variance = np.ones(layout.size, dtype=bool)
    covariances = np.where(variance[:, None], [0.0, np.inf], unbounded)
    return np.vstack([weights, means, covariances])
