r"""A finite mixture of K components of one (batched) family, with pluggable assignment.

The E-step of every mixture is written once, in :meth:`Mixture.e_step`:

.. math::

    \log p(x_n, z_n = k) = \log \pi_k + \log p_k(x_n) \quad (n, k)
    \;\to\; r_{nk},\ \ell_n \;\to\; \Big(\textstyle\sum_n w_n r_{nk},\
    S_k(w r),\ \sum_n w_n \ell_n\Big).

Two things vary, each behind a protocol: what the components say about a chunk
(:class:`Evidence`: log densities and statistics; complete rows here, rows with NaN in
:mod:`emkit.models.missing`), and how rows are shared among the components
(:class:`Assignment`: soft, hard, or labelled rows). Weighting by sample weights, the
statistics, the log-likelihood and the M-step are common to all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from emkit.backend.idle_rows import idle_rows, without_idle
from emkit.backend.namespace import namespace_of
from emkit.distributions.family import FusedComponents, VectorComponents, offers
from emkit.distributions.gaussian.base import GaussianComponents
from emkit.distributions.regularization import Regularization

UNLABELLED = -1  # the label of a row whose component is unknown
# The most rounding (nats) the ascent check allows per row of a nearly singular covariance
# (:meth:`Mixture.rounding`): a fall of more than twice this per row (the two models
# compared) is reported whatever the conditioning.
ROW_ROUNDING = 1e-3


def log_posterior(log_joint: Any) -> tuple[Any, Any]:
    r"""Log posterior :math:`\log p(z_n = k \mid x_n)` (n, k) and :math:`\log p(x_n)` (n,)
    from the log joint (n, k), in its namespace.

    Each row is shifted by its maximum before it is normalised:
    :math:`a_{nk} - m_n - \log \sum_j e^{a_{nj} - m_n}`, not :math:`a_{nk} - \log p(x_n)`.
    Far from the data the log joint reaches 1e41 and more (a tied Gaussian at 1e20 from its
    means), where :math:`\log p(x_n) = m_n + \log \sum_j e^{a_{nj} - m_n}` rounds to
    :math:`m_n`: every class at the maximum then got log posterior 0 (probabilities that
    summed to k). Shifted first, the rows sum to 1 (classes tied at the maximum get
    :math:`-\log k` each) and :math:`\log p(x_n)` is the same number as ever (the NumPy
    backend's logsumexp shifts by the same maximum). A row with no finite maximum (all -inf,
    or NaN) gets NaN, as before.
    """
    xp = namespace_of(log_joint)
    k = log_joint.shape[1]
    # Each row's maximum and sum a column at a time: NumPy reduces the few entries of each
    # row of an (n, k) array row by row, some ten times slower than k passes over columns.
    # A row holding NaN gets NaN below whatever its maximum (and did with argmax's NaN).
    top = log_joint[:, 0]  # (n,)
    for j in range(1, k):
        top = xp.where(log_joint[:, j] > top, log_joint[:, j], top)
    top = xp.where(xp.isfinite(top), top, 0.0)  # as logsumexp's own shift
    shifted = log_joint - top[:, None]
    # logsumexp of rows whose maximum is 0 (or shifted by 0): its own shift is 0
    terms = xp.exp(shifted)  # (n, k)
    total = terms[:, 0]
    for j in range(1, k):
        total = total + terms[:, j]
    with np.errstate(divide="ignore"):  # a row of -inf gives log(0) = -inf, as it should
        log_sum = xp.log(total)  # (n,)
    shifted -= log_sum[:, None]  # in place: a fresh array
    return shifted, log_sum + top


def most_probable(scores: Any) -> Any:
    """Index of each row's largest score (n,) of scores (n, k), as ``argmax(axis=1)``: the
    first of ties, the first NaN of a row holding one. NumPy's argmax goes row by row; where
    the columns are contiguous (scores laid out component by component), a pass over each
    column is faster for a few components."""
    if not (isinstance(scores, np.ndarray) and scores.flags.f_contiguous) or scores.shape[1] > 16:
        return namespace_of(scores).argmax(scores, axis=1)
    n, k = scores.shape
    top = scores[:, 0].copy()  # (n,)
    for j in range(1, k):
        np.maximum(top, scores[:, j], out=top)  # NaN wins
    if np.isnan(top).any():
        return scores.argmax(axis=1)
    # the first column at the maximum, j, by the largest k - 1 - j among them (0: the last)
    first = np.zeros(n, dtype=np.uint8)
    for j in range(k - 1):
        np.maximum(first, (scores[:, j] == top) * np.uint8(k - 1 - j), out=first)
    return (k - 1) - first.astype(np.intp)


@dataclass(frozen=True)
class MixtureStats:
    """Responsibility totals (k,) and the components' own statistics; adds up over chunks."""

    resp_sum: np.ndarray
    components: Any

    def __add__(self, other: MixtureStats) -> MixtureStats:
        return MixtureStats(self.resp_sum + other.resp_sum, self.components + other.components)


@runtime_checkable
class Evidence(Protocol):
    """What K components say about one chunk: the E-step's input besides the weights.

    Attributes
    ----------
    log_prob : array of shape (n, k), log density of each row under each component (for
        rows with missing values, of their observed coordinates).

    Methods
    -------
    suff_stats(resp) -> statistics
        The components' (expected complete-data) statistics under weighted responsibilities
        ``resp`` of shape (n, k); they add up over chunks.
    """

    @property
    def log_prob(self) -> np.ndarray: ...

    def suff_stats(self, resp: np.ndarray) -> Any: ...


@dataclass(frozen=True, eq=False)
class Observed:
    """Complete rows: the components' own log densities and statistics.

    Attributes
    ----------
    x : array of shape (n, d), the chunk.
    components : the batched components.
    log_prob : array of shape (n, k), ``components.log_prob(x)``.
    """

    x: np.ndarray
    components: Any
    log_prob: np.ndarray

    def suff_stats(self, resp: np.ndarray) -> Any:
        return self.components.suff_stats(self.x, resp)


@runtime_checkable
class Assignment(Protocol):
    r"""How the E-step shares each row of a chunk among the components.

    Attributes
    ----------
    name : str, the key in :data:`ASSIGNMENTS`.
    posterior : bool, True where the responsibilities are the posteriors
        :math:`p(z_n = k \mid x_n)` and the per-row objective is :math:`\log p(x_n)` (plain
        EM). Only then may the components' fused E-step (rows to statistics in one pass)
        replace the explicit ending, and only then has extrapolation (SQUAREM) a smooth map.

    Methods
    -------
    rows(data) -> (x, labels)
        The chunk's rows, array of shape (n, d), and its labels, int array of shape (n,)
        holding a component index or ``UNLABELLED``; None where the assignment reads none.
    assign(log_joint, labels) -> (resp, per_row)
        From :math:`\log \pi_k + \log p_k(x_n)` of shape (n, k), responsibilities of shape
        (n, k) (each row summing to 1, a fresh array the caller may scale) and each row's
        contribution to the objective, shape (n,).
    """

    @property
    def name(self) -> str: ...

    @property
    def posterior(self) -> bool: ...

    def rows(self, data: Any) -> tuple[np.ndarray, np.ndarray | None]: ...

    def assign(
        self, log_joint: np.ndarray, labels: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class Soft:
    r"""EM: :math:`r_{nk} = p(z_n = k \mid x_n)`; the objective is :math:`\log p(x_n)`."""

    name: ClassVar[str] = "soft"
    posterior: ClassVar[bool] = True

    def rows(self, data: np.ndarray) -> tuple[np.ndarray, None]:
        return data, None

    def assign(
        self, log_joint: np.ndarray, labels: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        xp = namespace_of(log_joint)
        log_norm = xp.logsumexp(log_joint, axis=1)  # (n,)
        return xp.exp_normal(log_joint - log_norm[:, None]), log_norm  # (n, k), (n,)


@dataclass(frozen=True)
class Hard:
    r"""Classification EM: each row wholly to its most probable component.

    EM then climbs the classification log-likelihood
    :math:`\sum_n \max_k \log \pi_k p_k(x_n)`.
    """

    name: ClassVar[str] = "hard"
    posterior: ClassVar[bool] = False

    def rows(self, data: np.ndarray) -> tuple[np.ndarray, None]:
        return data, None

    def assign(
        self, log_joint: np.ndarray, labels: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        xp = namespace_of(log_joint)
        rows = xp.arange(log_joint.shape[0], like=log_joint)
        best = xp.argmax(log_joint, axis=1)  # (n,)
        resp = xp.zeros_like(log_joint)  # (n, k)
        resp[rows, best] = 1.0
        return resp, log_joint[rows, best]


@dataclass(frozen=True)
class Labelled:
    r"""Rows with a known component keep it; the others are shared as in EM.

    With labels :math:`z_i` on rows :math:`i \in L` and none on rows :math:`j \in U`, EM
    climbs (Nigam et al., 2000)

    .. math::

        \ell(\theta) = \sum_{i \in L} w_i \log \pi_{z_i} p_{z_i}(x_i)
                     + \sum_{j \in U} w_j \log \sum_k \pi_k p_k(x_j).

    Chunks are ``(x, labels)``, labels holding a component index or ``UNLABELLED``.
    """

    name: ClassVar[str] = "labelled"
    posterior: ClassVar[bool] = False

    def rows(self, data: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        x, labels = data
        return x, labels

    def assign(
        self, log_joint: np.ndarray, labels: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        resp, per_row = SOFT.assign(log_joint)
        if labels is None:  # no row labelled
            return resp, per_row
        labelled = namespace_of(labels).flatnonzero(labels != UNLABELLED)
        known = labels[labelled]
        resp[labelled] = 0.0
        resp[labelled, known] = 1.0
        per_row[labelled] = log_joint[labelled, known]
        return resp, per_row


SOFT, HARD, LABELLED = Soft(), Hard(), Labelled()
ASSIGNMENTS: dict[str, Assignment] = {a.name: a for a in (SOFT, HARD, LABELLED)}


@dataclass(frozen=True, eq=False)
class Mixture:
    r"""Mixture model :math:`p(x) = \sum_k \pi_k p_k(x)`; an immutable value.

    With the defaults EM climbs the log-likelihood. ``weight_concentration`` :math:`\alpha` puts
    a Dirichlet prior :math:`\sum_k(\alpha - 1)\log\pi_k` on the weights, whose mode is
    :math:`\pi_k \propto N_k + \alpha - 1`; a component whose :math:`N_k + \alpha - 1` is not
    positive (possible for :math:`\alpha < 1`) is removed. ``component_prior`` makes the
    component M-step a MAP step. ``assignment`` says how rows are shared among the components
    (:class:`Soft`, :class:`Hard` or :class:`Labelled`), and with it which objective EM climbs.
    ``prune_weight`` drops components whose weight falls below it;
    :func:`~emkit.em.em_iterations` records those steps.

    Attributes
    ----------
    weights : array of shape (k,), mixing proportions summing to 1.
    components : :class:`~emkit.distributions.family.Components`.
    reg_covar : ridge the Gaussian M-step adds to covariance diagonals (see
        :class:`~emkit.distributions.regularization.Regularization`).
    assignment : an :class:`Assignment`, or its name in :data:`ASSIGNMENTS` ("soft": EM,
        "hard": classification EM, "labelled": rows with known components).
    weight_concentration : float or array of shape (k,), Dirichlet :math:`\alpha > 0`.
    component_prior : None, or a
        :class:`~emkit.distributions.regularization.CovariancePrior` (a normal-inverse-Wishart).
    prune_weight : components whose weight falls below it are dropped (0: never); where all
        fall below it at once, the heaviest is kept.
    fixed_weights : keep ``weights`` as they are (k-means holds them equal; given class priors).
    complete_rows : class constant; True where chunks hold no NaN, so that the components'
        fused E-step may stand in for the soft ending (False for rows with missing values).
    """

    complete_rows: ClassVar[bool] = True

    weights: np.ndarray
    components: Any
    reg_covar: float = 0.0
    assignment: Assignment = SOFT
    weight_concentration: Any = 1.0
    component_prior: Any = None
    prune_weight: float = 0.0
    fixed_weights: bool = False

    def __post_init__(self):
        if isinstance(self.assignment, str):
            object.__setattr__(self, "assignment", ASSIGNMENTS[self.assignment])

    @property
    def n_components(self) -> int:
        return self.weights.shape[0]

    def evidence(self, x: np.ndarray) -> Evidence:
        """What the components say about chunk ``x`` of shape (n, d); variants override it."""
        return Observed(x, self.components, self.components.log_prob(x))

    def observed(self) -> Mixture:
        r"""The mixture whose E-step's objective is the observed-data log-likelihood
        :math:`\sum_n w_n \log p(x_n)`: this one with soft assignment where it assigns rows
        hard (classification EM climbs :math:`\sum_n w_n \max_k \log \pi_k p_k(x_n)`
        instead), else itself. Tested by class: a checkpoint rebuilds the assignment as a new
        instance, not :data:`HARD` itself."""
        return replace(self, assignment=SOFT) if isinstance(self.assignment, Hard) else self

    def log_weights(self) -> np.ndarray:
        """log pi_k, shape (k,) (-inf for a weight of 0)."""
        if self.weights.all():  # no log(0) to silence: errstate costs more than the log here
            return np.log(self.weights)
        with np.errstate(divide="ignore"):
            return np.log(self.weights)

    def log_joint(self, x: np.ndarray) -> np.ndarray:
        """log pi_k + log p_k(x_n), shape (n, k)."""
        log_prob = self.evidence(x).log_prob
        return log_prob + namespace_of(log_prob).asarray(self.log_weights(), like=log_prob)

    def discriminant(self, x: np.ndarray) -> np.ndarray:
        """:meth:`log_joint` of rows ``x`` (n, d) up to a term that each row shares among the
        components, shape (n, k): all that the posterior over the components and the most
        probable one read. Gaussian components give their ``discriminant`` (for one
        covariance shared, a linear function of the rows); other families the log joint."""
        if isinstance(self.components, GaussianComponents):
            return self.components.discriminant(x, self.log_weights())
        return self.log_joint(x)

    def known_log_likelihood(self, stats: MixtureStats) -> float:
        r"""The log-likelihood of rows whose components are all known (every row labelled),
        from their statistics alone, no pass over the rows:
        :math:`\sum_k N_k \log \pi_k + \sum_n w_n \log p_{z_n}(x_n)`, the second term the
        components' ``expected_log_prob`` (Gaussian components)."""
        components = self.components.expected_log_prob(stats.components)  # (k,)
        return float(stats.resp_sum @ self.log_weights() + components.sum())

    def log_density(self, x: np.ndarray) -> np.ndarray:
        """log p(x_n), shape (n,): -inf for a row outside every component's support."""
        log_joint = self.log_joint(x)
        log_density = namespace_of(log_joint).logsumexp(log_joint, axis=1)
        return self._narrow_rows_in_float64(x, log_density)[1]

    def log_resp(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log responsibilities (n, k) and log p(x_n) (n,)."""
        log_resp, log_density = log_posterior(self.log_joint(x))
        return self._narrow_rows_in_float64(x, log_density, log_resp)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The most probable component of each row, shape (n,): the first largest log joint
        (the posterior's normaliser is the same for every component, so it is not computed;
        the log joint, not the :meth:`discriminant`, so that the label is the largest of
        :meth:`log_resp`'s, ties included, where the log joint rounds the components to a tie
        far from the data). Rows of float32 whose log joints are all -inf (far from every
        mean: see :meth:`_narrow_rows_in_float64`) are labelled from their float64 ones."""
        xp = namespace_of(x)
        log_joint = self.log_joint(x)
        labels = most_probable(log_joint)
        if x.dtype == xp.float64:
            return labels
        top = log_joint[xp.arange(x.shape[0], like=log_joint), labels]
        rows = xp.flatnonzero(~xp.isfinite(top))
        if rows.shape[0]:
            again = self.log_joint(xp.asarray(x[rows], dtype=xp.float64))
            labels[rows] = xp.asarray(most_probable(again), like=labels)
        return labels

    def _narrow_rows_in_float64(
        self, x: Any, log_density: Any, log_resp: Any = None
    ) -> tuple[Any, Any]:
        """``(log_resp, log_density)`` with the rows of a float32 ``x`` whose log density is
        not finite recomputed in float64 and rounded back to float32.

        A float32 row far from the means (a torch tensor at 1e25, or at 2e19 from a unit
        variance) overflows its squared distances, 3.4e38 at most: every log joint is then
        -inf, the log density -inf and the responsibilities NaN (-inf - -inf), where float64
        gives a log density of -2e38 (which float32 holds) or -5e49 (which it rounds to
        -inf) and responsibilities [1, 0]. Float64 rows, and every row whose log density is
        finite, are left as they are; a row outside every component's support stays -inf.
        """
        xp = namespace_of(x)
        if x.dtype == xp.float64:
            return log_resp, log_density
        rows = xp.flatnonzero(~xp.isfinite(log_density))
        if rows.shape[0] == 0:
            return log_resp, log_density
        resp, density = log_posterior(self.log_joint(xp.asarray(x[rows], dtype=xp.float64)))
        log_density[rows] = xp.asarray(density, dtype=log_density.dtype)
        if log_resp is not None:
            log_resp[rows] = xp.asarray(resp, dtype=log_resp.dtype)
        return log_resp, log_density

    def e_step(
        self, data: Any, sample_weight: np.ndarray | None = None
    ) -> tuple[MixtureStats, float]:
        r"""Statistics of one chunk and its contribution to the objective.

        Parameters
        ----------
        data : the chunk as the assignment reads it: rows ``x`` of shape (n, d), or
            ``(x, labels)`` for :class:`Labelled`.
        sample_weight : array of shape (n,) or None.

        Returns
        -------
        (MixtureStats, float): the weighted statistics and :math:`\sum_n w_n \ell_n`, with
        :math:`\ell_n` the assignment's per-row objective.
        """
        x, labels = self.assignment.rows(data)
        if self.assignment.posterior and self.complete_rows:
            fused = self._fused_e_step(x, sample_weight)
            if fused is not None:
                return fused
        evidence = self.evidence(x)
        xp = namespace_of(evidence.log_prob)
        log_weights = xp.asarray(self.log_weights(), like=evidence.log_prob)
        resp, per_row = self.assignment.assign(evidence.log_prob + log_weights, labels)
        if sample_weight is not None:
            loglik = float(sample_weight @ per_row)
            if not math.isfinite(loglik):
                resp[idle_rows(sample_weight, per_row)] = 0.0
                loglik = float(sample_weight @ without_idle(per_row, sample_weight))
            resp *= sample_weight[:, None]
        else:
            loglik = float(per_row.sum())
        resp_sum = xp.to_numpy(resp.sum(axis=0, dtype=xp.float64))  # (k,)
        return MixtureStats(resp_sum, evidence.suff_stats(resp)), loglik

    def _fused_e_step(self, x: np.ndarray, sample_weight: np.ndarray | None):
        """The components' one-pass E-step (backend.kernels) where they offer one, else None."""
        if not offers(type(self.components), FusedComponents):
            return None
        out = self.components.fused_e_step(x, self.log_weights(), sample_weight)
        if out is None:
            return None
        stats, loglik = out
        return MixtureStats(stats.weight, stats), loglik

    @staticmethod
    def e_step_many(models: list[Mixture], x: np.ndarray, sample_weight: np.ndarray | None):
        """``e_step`` of several soft mixtures, those with components of one class in one
        fused pass (batched restarts, a model-selection grid), or None where some mixture
        has no fused E-step."""
        if any(not (m.assignment.posterior and m.complete_rows) for m in models):
            return None
        kinds: dict[Any, list[int]] = {}
        for i, m in enumerate(models):
            kinds.setdefault(type(m.components), []).append(i)
        # One protocol check per class of components.
        if not all(offers(kind, FusedComponents) for kind in kinds):
            return None
        out: list[Any] = [None] * len(models)
        for kind, index in kinds.items():
            group = [models[i] for i in index]
            fused = (
                kind.fused_e_step_many(
                    [m.components for m in group],
                    [m.log_weights() for m in group],
                    x,
                    sample_weight,
                )
                if len(group) > 1
                else None
            )
            answers = (
                [m.e_step(x, sample_weight) for m in group]
                if fused is None
                else [(MixtureStats(stats.weight, stats), loglik) for stats, loglik in fused]
            )
            for i, answer in zip(index, answers, strict=True):
                out[i] = answer
        return out

    def to_vector(self) -> np.ndarray | None:
        """Unconstrained parameters for extrapolation (SQUAREM): log-weights, then components.

        None where extrapolation has no meaning here (assignments other than plain EM's, or
        components without a vector form).
        """
        if not self.assignment.posterior or not offers(type(self.components), VectorComponents):
            return None
        # Kept with the (frozen) mixture, read-only: a SQUAREM cycle reads the vector of the
        # point it starts from, which is often the end of the cycle before (a Cholesky
        # factorisation per read otherwise). Into the instance's dict, not __setattr__.
        kept = self.__dict__.get("_vector")
        if kept is not None:
            return kept
        components = self.components.to_vector()
        if components is None:  # some component without a vector form
            return None
        parts = [components]
        if not self.fixed_weights:
            tiny = np.finfo(float).tiny
            parts.insert(0, np.log(np.maximum(self.weights, tiny)))
        vector = np.concatenate(parts)
        vector.setflags(write=False)
        self.__dict__["_vector"] = vector
        return vector

    def from_vector(self, vector: np.ndarray) -> Mixture:
        """The mixture at ``to_vector``'s layout (weights by softmax); LinAlgError if invalid."""
        k = self.n_components
        weights = self.weights
        if not self.fixed_weights:
            logits = vector[:k] - vector[:k].max()
            weights = np.exp(logits) / np.exp(logits).sum()
            vector = vector[k:]
        return replace(self, weights=weights, components=self.components.from_vector(vector))

    @property
    def structure(self) -> tuple[int, float]:
        """Size and ridge: pruning changes the first, a raised ridge the objective."""
        return self.n_components, self.reg_covar

    def rounding(self, stats: MixtureStats) -> float:
        r"""A bound on the absolute rounding of the objective at this model, evaluated with
        statistics ``stats`` (:class:`emkit.em.ObjectiveRounding`):
        :math:`\sum_k N_k\rho_k + \max_k\rho_k\,|\log p(\theta)|`, with
        :math:`\rho_k = \min(\epsilon\kappa_k, r)` and :math:`r` = :data:`ROW_ROUNDING`.

        Every (marginal) density comes from the Cholesky factor of :math:`\Sigma_k`, which
        is that of :math:`\Sigma_k` perturbed by :math:`\epsilon` relative to its entries,
        and every M-step's :math:`\Sigma_k` from statistics rounded as much; each row's log
        density then moves by about :math:`\kappa_k\epsilon` nats, with :math:`\kappa_k`
        the condition number of :math:`\Sigma_k` scaled to unit diagonal (at most
        :math:`1/\epsilon`), and the ridge's log prior (:math:`\operatorname{tr}
        \Sigma_k^{-1}`) by :math:`\kappa_k\epsilon` of itself. 0 for components other
        than Gaussian ones. Negligible next to
        :data:`emkit.em.ROUNDING` of the objective for a well-conditioned covariance; on data
        that lie on a plane (d = 3), with values missing and held up by a ridge
        (:math:`\kappa` about 2e13), evaluations differed from the exact objective (mpmath)
        by up to a tenth of :math:`\epsilon\sum_k N_k\kappa_k` at n = 200 to 2,000 and a
        thirtieth at 20,000: no factor d is seen. On complete rows the evaluation is exact to
        1e-13 (mpmath) but EM's M-steps fall: EuroUnemployment (n = 31, d = 3), EVV with 7
        components, three held up by the ridge (:math:`\kappa` about 1e9), fell by up to 5e-7
        a step, within this bound (9.1e-7 a model). Each row's share is capped at
        :data:`ROW_ROUNDING` nats (the log prior's at that fraction of it), so that a fall of
        more than about twice that per row is always reported, however ill-conditioned the
        covariance (:math:`\kappa` near
        :math:`1/\epsilon` would otherwise allow about a nat per row).
        """
        if not isinstance(self.components, GaussianComponents):
            return 0.0
        covariances = self.components.full_covariances()  # (k, d, d)
        scale = np.sqrt(np.diagonal(covariances, axis1=1, axis2=2))  # (k, d)
        if not (np.isfinite(covariances).all() and (scale > 0).all()):
            return 0.0
        eps = np.finfo(np.float64).eps
        spectra = np.linalg.eigvalsh(covariances / (scale[:, :, None] * scale[:, None, :]))
        condition = spectra[:, -1] / np.maximum(spectra[:, 0], eps * spectra[:, -1])  # (k,)
        weights = np.asarray(stats.resp_sum, dtype=np.float64)
        relative = np.minimum(eps * condition, ROW_ROUNDING)  # (k,)
        return float(weights @ relative + relative.max() * abs(self.log_prior()))

    def collapse_screen(self, stats: MixtureStats) -> Callable[[MixtureStats], bool] | None:
        """A cheap test of later statistics, made from ``stats`` (:class:`emkit.em.
        CollapseScreen`): Gaussian components' screen (:meth:`~emkit.distributions.gaussian.
        base.GaussianComponents.collapse_screen`), an emptied component alone under a
        component prior; None for other components."""
        if not isinstance(self.components, GaussianComponents):
            return None
        if self.component_prior is not None:
            return lambda later: bool(self.components.empty(later.components).any())
        screen = self.components.collapse_screen(stats.components)
        if screen is None:
            return None
        return lambda later: screen(later.components)

    def degenerate(self, stats: MixtureStats) -> np.ndarray:
        """Collapsed components, bool (k,): the components' own test under this model's
        regularisation (a component prior keeps covariances from collapsing: only emptied)."""
        prior = Regularization(self.reg_covar, self.component_prior)
        return self.components.degenerate(stats.components, prior)

    def m_step(self, stats: MixtureStats) -> Mixture:
        alpha = self._alpha()
        if self.fixed_weights:
            weights = self.weights
        else:
            counts = np.maximum(stats.resp_sum + (alpha - 1.0), 0.0)
            weights = counts / counts.sum()
        prior = Regularization(self.reg_covar, self.component_prior)
        components = self.components.m_step(stats.components, prior)
        # The M-step may have had to raise the ridge to keep a collapsed component non-singular.
        reg_covar = max(self.reg_covar, components.ridge)
        keep = weights >= self.prune_weight
        if (alpha < 1.0).any():
            keep &= weights > 0
        if keep.all():
            return replace(self, weights=weights, components=components, reg_covar=reg_covar)
        kept = np.flatnonzero(keep) if keep.any() else np.array([np.argmax(weights)])
        return replace(
            self,
            weights=weights[kept] / weights[kept].sum(),
            components=components.take(kept),
            reg_covar=reg_covar,
            weight_concentration=alpha[kept],
        )

    def _alpha(self) -> np.ndarray:
        alpha = np.asarray(self.weight_concentration, dtype=float)
        if alpha.ndim == 0:  # one concentration (the default 1): np.full, not broadcast_to's
            return np.full(self.weights.shape, alpha)  # Python layers, every M-step
        return np.broadcast_to(alpha, self.weights.shape)

    def log_prior(self) -> float:
        """Log prior density (up to a constant): weights, then components (and the ridge)."""
        alpha = self._alpha()
        out = 0.0
        if np.any(alpha != 1.0) and not self.fixed_weights:
            out += float(np.sum((alpha - 1.0) * np.log(self.weights)))
        prior = Regularization(self.reg_covar, self.component_prior)
        return out + self.components.log_prior(prior)
