"""What every fitted mixture estimator answers: posteriors, densities and criteria."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import replace
from functools import partial
from typing import Any, overload

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from emkit.backend.dask_source import is_dask_collection
from emkit.backend.namespace import namespace_of
from emkit.backend.sources import DataSource
from emkit.backend.threads import blas_for_rows
from emkit.backend.validation import add_weighted_sums, check_weight_total
from emkit.em import FitResult, e_step_many
from emkit.estimators._inputs import dask_total, per_row
from emkit.estimators._validation import check_weights, paired_rows
from emkit.exceptions import PrunedWarning, ScaleWarning, warn_user

# reg_covar is an absolute variance (GaussianMixture) or scatter (MixtureModel's Normals). Past
# this share of the data's total scatter along its narrowest feature (weight times variance) it
# sets the covariances of any component holding under a tenth of the rows and spread over under
# a hundredth of that feature's variance: the fit then describes the ridge, not the data
# (micro-scale units, e.g. metres for micrometres).
RIDGE_SHARE = 1e-3
CONSTANT_SPREAD = 1e-10


class MixtureQueries:
    """predict_proba, predict, score_samples, score, bic, aic and icl of a fitted mixture.

    The estimator provides the three methods below.
    """

    def _checked_rows(self, X) -> np.ndarray:
        """Validated rows of ``X`` (NotFittedError before a fit)."""
        raise NotImplementedError

    def _mixture(self) -> Any:
        """The fitted model; ``log_resp(x)`` gives log responsibilities (n, k) and log p(x) (n,)."""
        raise NotImplementedError

    def n_parameters(self) -> int:
        """Number of free parameters of the fitted model."""
        raise NotImplementedError

    @per_row(width=lambda self: self.weights_.shape[0])
    def predict_proba(self, X) -> np.ndarray:
        """Posterior probability of each component for each row, shape (n, k)."""
        x = self._checked_rows(X)  # first: raises NotFittedError before the model is built
        with blas_for_rows(x):
            return self._proba_of(x)

    def _proba_of(self, x: Any) -> Any:
        """:meth:`predict_proba` of rows already checked by ``_checked_rows``."""
        log_resp, _ = self._mixture().log_resp(x)
        return namespace_of(log_resp).exp(log_resp)  # a tensor answers a tensor

    @per_row(dtype=np.intp)
    def predict(self, X) -> np.ndarray:
        """Most probable component of each row, shape (n,)."""
        x = self._checked_rows(X)
        with blas_for_rows(x):
            return self._labels_of(x)

    def _labels_of(self, x: Any) -> Any:
        """:meth:`predict` of rows already checked by ``_checked_rows``."""
        return self._mixture().predict(x)

    @per_row()
    def score_samples(self, X) -> np.ndarray:
        """Log density (or probability) log p(x_n) of each row, shape (n,)."""
        x = self._checked_rows(X)
        with blas_for_rows(x):
            return self._mixture().log_density(x)

    @paired_rows("sample_weight")
    def score(self, X, y=None, sample_weight=None) -> float:
        """Mean log-likelihood per row (scikit-learn's convention); with ``sample_weight``
        (frequency weights, as in ``fit``) the weighted mean: that of the rows repeated."""
        if sample_weight is None and not is_dask_collection(X):
            return float(self.score_samples(X).mean())
        total, n, _ = self._weighted_sums(X, sample_weight, "hard")
        return total / n

    @paired_rows("sample_weight")
    def bic(self, X, sample_weight=None) -> float:
        """Bayesian information criterion, -2 log L + p log n (lower is better). With
        ``sample_weight`` (frequency weights, as in ``fit``), log L = sum_n w_n log p(x_n) and
        n = sum_n w_n: the BIC of the rows repeated."""
        if sample_weight is None and not is_dask_collection(X):
            return bic_from(self.score_samples(X), self.n_parameters())
        total, n, _ = self._weighted_sums(X, sample_weight, "hard")
        return criteria_from_sums(total, n, 0.0, self.n_parameters())["bic"]

    @paired_rows("sample_weight")
    def aic(self, X, sample_weight=None) -> float:
        """Akaike information criterion, -2 log L + 2 p (lower is better); with
        ``sample_weight``, log L as in :meth:`bic`."""
        if sample_weight is None and not is_dask_collection(X):
            return aic_from(self.score_samples(X), self.n_parameters())
        total, n, _ = self._weighted_sums(X, sample_weight, "hard")
        return criteria_from_sums(total, n, 0.0, self.n_parameters())["aic"]

    @paired_rows("sample_weight")
    def icl(self, X, kind: str = "hard", sample_weight=None) -> float:
        """Integrated completed likelihood (Biernacki, Celeux and Govaert, 2000), lower is better.

        ``kind="hard"`` (default) is mclust's: BIC - 2 sum_n log max_k r_nk, the classification
        log-likelihood of the most probable labels (mclust prints -ICL, higher is better).
        ``kind="soft"`` is BIC + 2 x the entropy of the responsibilities (McLachlan and Peel,
        2000), never smaller than the hard form. With ``sample_weight`` (frequency weights)
        every sum over rows is weighted and n = sum_n w_n, as in :meth:`bic`.
        """
        if sample_weight is not None:
            _check_icl_kind(kind)
            total, n, term = self._weighted_sums(X, sample_weight, kind)
            return _icl_value(total, n, term, self.n_parameters())
        if is_dask_collection(X):
            return fit_numbers(self, X, kind)[2]  # one E-step per partition
        return icl_of(self.predict_proba(X), self.score_samples(X), self.n_parameters(), kind)

    def _weighted_sums(self, X, sample_weight, kind: str) -> tuple[float, float, float]:
        """sum_n w_n log p(x_n), sum_n w_n and the weighted sum of ICL's row terms
        (:func:`_row_terms` of ``kind``), from one E-step over ``X`` (on a Dask collection, on
        the workers with its weights partitioned alike, in one read of each partition), the
        weights checked as a fit checks them (``sample_weight`` None: each row once). A row
        of weight 0 counts for nothing, even one of probability 0."""
        if is_dask_collection(X):
            check_is_fitted(self)
            numbers = partial(_weighted_row_sums, self._mixture(), kind)
            em = getattr(self, "missing", None) == "em"
            sums = dask_total(
                self, X, numbers, sample_weight, allow_nan=em, combine=add_weighted_sums
            )
            check_weight_total(float(sums[1]))  # as check_weights in memory
        else:
            x = self._checked_rows(X)
            w = check_weights(sample_weight, np.broadcast_to(0.0, (x.shape[0], 1)))
            sums = _weighted_row_sums(self._mixture(), kind, x, w)
        return float(sums[0]), float(sums[1]), float(sums[2])


def _weighted_row_sums(mixture: Any, kind: str, x: Any, w: np.ndarray | None) -> np.ndarray:
    """[sum_n w_n log p(x_n), sum_n w_n, sum_n w_n t_n] of rows ``x`` under ``mixture``, t_n
    ICL's row term (:func:`_row_terms`); rows of weight 0 left out."""
    log_resp, log_density = _host_log_resp(mixture, x)
    return _weighted_sums_of(log_resp, log_density, kind, w)


def _host_log_resp(mixture: Any, x: Any) -> tuple[np.ndarray, np.ndarray]:
    """Log responsibilities (n, k) and log p(x_n) (n,) of rows ``x`` under ``mixture``, one
    E-step, as float64 NumPy arrays (a tensor's brought to the host)."""
    log_resp, log_density = mixture.log_resp(x)
    ns = namespace_of(log_resp)
    log_resp = np.asarray(ns.to_numpy(log_resp), dtype=np.float64)
    return log_resp, np.asarray(namespace_of(log_density).to_numpy(log_density), dtype=np.float64)


def _weighted_sums_of(
    log_resp: np.ndarray, log_density: np.ndarray, kind: str, w: np.ndarray | None
) -> np.ndarray:
    """[sum_n w_n log p(x_n), sum_n w_n, sum_n w_n t_n] from one E-step's log responsibilities
    and log densities (:func:`_weighted_row_sums`); ``w`` None: every row counts once."""
    if w is None:
        w = np.ones(log_density.shape[0])
    keep = w > 0
    terms = _row_terms(log_resp[keep], kind)
    # weights whose total overflows are refused by the caller (check_weight_total: before
    # this in memory, after the pass on Dask), without numpy's RuntimeWarning first
    with np.errstate(over="ignore", invalid="ignore"):
        return np.array([w[keep] @ log_density[keep], w.sum(), w[keep] @ terms])


def observed_fit(fit: FitResult, data: DataSource) -> FitResult:
    r"""``fit`` whose kept run's ``log_likelihood`` and ``stats`` are those of one soft E-step
    over ``data`` at its parameters, where the run climbed the classification log-likelihood
    (hard assignment, :meth:`~emkit.models.mixture.Mixture.observed`): its log-likelihood is
    then the observed-data :math:`\sum_n w_n \log p(x_n)`, as a soft fit's. The run's
    ``history`` (the objective it climbed) and ``degenerate`` (from its own assignments) stay.
    A fit whose model's objective is already that is returned as it is, with no pass.
    """
    model = fit.best.model
    observed = model.observed()
    if observed is model:
        return fit
    ((stats, objective),) = e_step_many([observed], data)
    return with_final_pass(fit, observed, stats, objective)


def with_final_pass(fit: FitResult, model: Any, stats: Any, objective: float) -> FitResult:
    """``fit`` whose kept run's ``stats`` and ``log_likelihood`` are those of one E-step of
    ``model`` (its model, or :meth:`~emkit.models.mixture.Mixture.observed` of it) at its
    parameters: the objective less the model's log-prior."""
    best = replace(fit.best, stats=stats, log_likelihood=objective - model.log_prior())
    return replace(fit, best=best)


def bic_from(log_density: Any, n_parameters: int) -> float:
    """BIC, -2 sum_n log p(x_n) + p log n, from the rows' log densities (n,): an array, a
    tensor or a lazy dask Array (summed on the workers in one pass)."""
    total, n = _total_and_rows(log_density)
    return float(-2.0 * total) + n_parameters * float(np.log(n))


def aic_from(log_density: Any, n_parameters: int) -> float:
    """AIC, -2 sum_n log p(x_n) + 2 p, from the rows' log densities (n,), as :func:`bic_from`."""
    total, _ = _total_and_rows(log_density)
    return float(-2.0 * total) + 2.0 * n_parameters


def icl_of(proba: Any, log_density: Any, n_parameters: int, kind: str) -> float:
    """ICL (scikit-learn's sign) from posterior probabilities (n, k) and log densities (n,):
    arrays, tensors (brought to the host) or lazy dask Arrays (summed on the workers)."""
    _check_icl_kind(kind)
    if is_dask_collection(log_density):
        import dask

        total, n, term = dask.compute(*_icl_sums(_log_resp_of(proba), log_density, kind))
    else:
        log_density = np.asarray(namespace_of(log_density).to_numpy(log_density))
        total, n, term = _icl_sums(_log_resp_of(proba), log_density, kind)
    return _icl_value(total, n, term, n_parameters)


def _log_resp_of(proba: Any) -> Any:
    """Log posterior probabilities (n, k), floored at the smallest normal number, of an array,
    a tensor (brought to the host) or a dask Array (lazily)."""
    if not is_dask_collection(proba):
        proba = np.asarray(namespace_of(proba).to_numpy(proba))
    return np.log(np.clip(proba, np.finfo(float).tiny, None))


def _total_and_rows(log_density: Any) -> tuple[float, float]:
    """sum_n log p(x_n) and n; on a dask Array both in one computation on the workers."""
    if is_dask_collection(log_density):
        import dask

        total, n = dask.compute(log_density.sum(), _n_rows(log_density))
    else:
        total, n = log_density.sum(), log_density.shape[0]
    return float(total), float(n)


@overload
def fit_numbers(
    model, X, kind: str = "hard", sample_weight: None = None
) -> tuple[float, int, float, np.ndarray]: ...
@overload
def fit_numbers(
    model, X, kind: str, sample_weight: Any
) -> tuple[float, int | float, float, np.ndarray]: ...
def fit_numbers(
    model, X, kind: str = "hard", sample_weight=None
) -> tuple[float, int | float, float, np.ndarray]:
    """What a summary of a fitted mixture on ``X`` prints: the log-likelihood, the number of
    rows, the ICL (:meth:`MixtureQueries.icl`) and the rows of each most probable component
    (k,). On a Dask collection all four are taken on the workers in one pass, one E-step per
    partition (checked as a fit checks it), ``sample_weight`` partitioned alike.

    With ``sample_weight`` (frequency weights, as in ``fit``, checked as a fit checks them)
    every sum is weighted: the log-likelihood is sum_n w_n log p(x_n), n = sum_n w_n and each
    component counts the weight of its rows, as :meth:`MixtureQueries.bic` and ``icl`` with the
    same weights: the numbers of the rows repeated. n and the counts are integers where they
    are whole numbers (always without weights), floats otherwise.
    """
    _check_icl_kind(kind)
    k = int(model.weights_.shape[0])
    numbers = partition_numbers(model._mixture(), kind, k)
    if is_dask_collection(X):
        em = getattr(model, "missing", None) == "em"
        sums = dask_total(model, X, numbers, sample_weight, allow_nan=em, combine=add_weighted_sums)
        check_weight_total(float(sums[1]))  # as check_weights in memory
    else:
        x = model._checked_rows(X)
        sums = numbers(x, check_weights(sample_weight, np.broadcast_to(0.0, (x.shape[0], 1))))
    total, n, term, counts = sums[0], sums[1], sums[2], np.asarray(sums[3:])
    icl = _icl_value(total, n, term, model.n_parameters())
    whole = bool(np.all(counts == np.round(counts)))
    return float(total), _whole(n), icl, counts.astype(np.int64 if whole else np.float64)


def sample_count(n_samples: Any) -> int:
    """``sample``'s ``n_samples`` as an int: an integer (a NumPy one too) of at least 1. A
    fraction, a float, a bool or text is refused, never truncated (numpy's multinomial drew 2
    rows for 2.9)."""
    from numbers import Integral

    if not isinstance(n_samples, Integral) or isinstance(n_samples, bool) or n_samples < 1:
        raise ValueError(f"n_samples must be an integer of at least 1; got {n_samples!r}")
    return int(n_samples)


def _whole(value: float) -> int | float:
    """``value`` as an int where it is a whole number (a count of rows), else a float."""
    return int(value) if float(value).is_integer() else float(value)


def partition_numbers(mixture: Any, kind: str, k: int) -> Callable:
    """``fn(x, w)``: [sum_n w_n log p(x_n), sum_n w_n, the weighted sum of ICL's row terms
    (:func:`_weighted_row_sums`), the weight of the rows of each most probable component (k)]
    of rows ``x`` with weights ``w`` (None: each row once) under ``mixture``, one E-step; what
    a Dask collection's partitions add up for :func:`fit_numbers` and a selection's criteria.
    A row of weight 0 counts for nothing."""

    def numbers(x: Any, w: np.ndarray | None) -> np.ndarray:
        log_resp, log_density = _host_log_resp(mixture, x)
        labels = log_resp.argmax(axis=1)
        if w is None:
            counts = np.bincount(labels, minlength=k)
            return np.concatenate([np.array(_icl_sums(log_resp, log_density, kind)), counts])
        keep = w > 0
        counts = np.bincount(labels[keep], weights=w[keep], minlength=k)
        return np.concatenate([_weighted_sums_of(log_resp, log_density, kind, w), counts])

    return numbers


def criteria_from_sums(
    log_likelihood: float, n_rows: float, term: float, n_parameters: int
) -> dict[str, float]:
    """BIC, AIC and ICL (scikit-learn's sign) from the log-likelihood, the rows and ICL's
    classification term (:func:`_icl_sums`)."""
    bic = -2.0 * float(log_likelihood) + n_parameters * float(np.log(n_rows))
    return {
        "bic": bic,
        "aic": -2.0 * float(log_likelihood) + 2.0 * n_parameters,
        "icl": _icl_value(log_likelihood, n_rows, term, n_parameters),
    }


def icl_from(log_resp: np.ndarray, log_density: np.ndarray, n_parameters: int, kind: str) -> float:
    """ICL (scikit-learn's sign) from log responsibilities (n, k) and log p(x_n) (n,)."""
    _check_icl_kind(kind)
    total, n, term = _icl_sums(log_resp, log_density, kind)
    return _icl_value(total, n, term, n_parameters)


def _check_icl_kind(kind: str) -> None:
    if kind not in ("hard", "soft"):
        raise ValueError(f"ICL kind must be 'hard' (mclust's) or 'soft' (entropy); got {kind!r}")


def _icl_sums(log_resp: Any, log_density: Any, kind: str) -> tuple[Any, Any, Any]:
    """The sums ICL needs: sum_n log p(x_n), n, and the classification term
    (:func:`_row_terms` summed). Lazy for dask arrays: taken by partition."""
    return log_density.sum(), _n_rows(log_density), _row_terms(log_resp, kind).sum()


def _row_terms(log_resp: Any, kind: str) -> Any:
    """Each row's part of ICL's classification term (n,): hard, log max_k r_nk; soft,
    sum_k r_nk log r_nk."""
    if kind == "hard":
        return log_resp.max(axis=1)
    return (np.exp(log_resp) * np.maximum(log_resp, np.log(np.finfo(float).tiny))).sum(axis=1)


def _n_rows(values: Any) -> Any:
    """Rows of ``values`` (n,); counted by partition for a dask Array of unknown partitions."""
    n = values.shape[0]
    if np.isnan(n):
        return values.map_blocks(np.ones_like, dtype=np.float64).sum()
    return n


def _icl_value(log_likelihood: float, n_rows: float, term: float, n_parameters: int) -> float:
    bic = -2.0 * float(log_likelihood) + n_parameters * np.log(float(n_rows))
    return float(bic - 2.0 * float(term))


def warn_unless_converged(estimator) -> None:
    """ConvergenceWarning (scikit-learn's) when the kept fit stopped at ``max_iter`` (which
    bounds the M-steps; ``n_iter_`` counts the accepted steps, three M-steps each under
    SQUAREM)."""
    if not estimator.converged_ and estimator.max_iter > 0:
        n_iter = getattr(estimator, "n_iter_", None)
        steps = "" if n_iter is None else f" ({n_iter} accepted iterations, n_iter_)"
        warn_user(
            f"{type(estimator).__name__} stopped after max_iter={estimator.max_iter} M-steps"
            f"{steps} before the gain per iteration fell below tol={estimator.tol}: raise "
            "max_iter, or check the data scale. The result is the best point EM reached.",
            ConvergenceWarning,
        )


def warn_if_pruned(estimator, asked: int, hard_empties: bool = False) -> None:
    """A :class:`PrunedWarning` where this fit of ``estimator`` removed components and holds
    fewer than the ``asked`` ones: how many, when, and which of its settings (``prune_weight``,
    ``weight_concentration`` below 1, and where ``hard_empties`` a hard assignment) removes
    components and how to keep them. Nothing where this fit removed none (a warm start that
    continued a fit that had: that fit warned)."""
    kept = len(estimator.weights_)
    steps = ", ".join(str(int(i)) for i in np.asarray(estimator.structure_changes_))
    if kept >= asked or not steps:
        return
    prune = float(getattr(estimator, "prune_weight", 0.0))
    alpha = np.asarray(getattr(estimator, "weight_concentration", 1.0), dtype=float)
    reasons, advice = [], []
    if prune > 0:
        room = int(np.floor(1.0 / prune + 1e-9))
        reasons.append(
            f"a component whose weight falls below prune_weight={prune:g}"
            + (
                f" (the weights sum to 1: at most {room} of {asked} stay, and where every "
                "component falls below it at once only the heaviest is kept)"
                if room < asked
                else ""
            )
        )
        advice.append("lower prune_weight (0 removes none)")
    if np.any(alpha < 1.0):
        reasons.append(
            "a component whose expected count falls to 1 - weight_concentration or below "
            f"(weight_concentration={np.array2string(alpha) if alpha.ndim else f'{alpha:g}'})"
        )
        advice.append("raise weight_concentration to 1")
    if hard_empties:
        reasons.append('a component that assignment="hard" empties')
        advice.append('fit with assignment="soft"')
    warn_user(
        f"{type(estimator).__name__}: EM removed {asked - kept} of the {asked} components asked "
        f"for; the fit holds {kept} (len(weights_)). EM removes {' or '.join(reasons)}; "
        f"structure_changes_ lists the iterations where the model changed: [{steps}]. To keep "
        f"them, {', or '.join(advice)}; else ask for fewer components.",
        PrunedWarning,
    )


# Where set (ridge_warnings_held), the ScaleWarnings of warn_if_ridge_outweighs are kept here
# instead of given: a model-selection grid gives one for all its fits.
_held_ridge_warnings: ContextVar[list[str] | None] = ContextVar("held_ridge_warnings", default=None)


@contextlib.contextmanager
def ridge_warnings_held() -> Iterator[list[str]]:
    """The messages of the ScaleWarnings that :func:`warn_if_ridge_outweighs` would give
    within the block, in order, instead of the warnings."""
    held: list[str] = []
    token = _held_ridge_warnings.set(held)
    try:
        yield held
    finally:
        _held_ridge_warnings.reset(token)


def warn_if_ridge_outweighs(reg_covar: float, stats: Any) -> None:
    """A :class:`ScaleWarning` where ``reg_covar`` exceeds ``RIDGE_SHARE`` of the data's total
    scatter along its narrowest feature (from the components' statistics of the fit's final
    E-step, ``stats``; nothing where they do not hold the data's variances)."""
    if not reg_covar or not hasattr(stats, "feature_variances"):
        return
    variances = stats.feature_variances()
    weight = float(np.sum(stats.weight))
    mean = stats.weight @ stats.mean / weight if weight > 0 else np.zeros_like(variances)
    # A column whose spread is below 1e-10 of its magnitude is constant but for rounding: the
    # ridge's work there is to keep it non-singular (a DegenerateFitWarning says so).
    varying = variances > (CONSTANT_SPREAD * mean) ** 2
    if not varying.any():
        return
    narrowest = float(variances[varying].min())
    scatter = narrowest * weight
    if not reg_covar > RIDGE_SHARE * scatter:
        return
    share = reg_covar / scatter
    added = f"{share:.2%} of" if share < 10 else f"{share:.3g} times"
    message = (
        f"reg_covar={reg_covar:g} is {share:.3g} times the data's total scatter along its "
        f"narrowest feature (variance {narrowest:.3g} over a weight of {weight:.6g}): it adds "
        f"{added} the variance there, and more to that of a component holding a share of the "
        "rows, so the ridge, not the data alone, shapes the covariances. Rescale the data "
        "(standardise the columns; `emkit fit --standardize`), scale sample_weight up where "
        "it totals less than the rows (a weight of m counts a row m times), or lower "
        "reg_covar (0 fits the data's own scale)."
    )
    held = _held_ridge_warnings.get()
    if held is not None:
        held.append(message)
    else:
        warn_user(message, ScaleWarning)
