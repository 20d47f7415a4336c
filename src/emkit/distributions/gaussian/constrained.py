"""What mclust's constrained covariance structures share: an M-step through ``eigen``'s solvers.

Each structure (``axis_aligned.py``, ``oriented.py``) names one solver of
:mod:`~emkit.distributions.gaussian.eigen`. Its maximum-likelihood M-step under the ridge
solves :math:`B_k = S_k + cI`, :math:`m_k = N_k`; under a normal-inverse-Wishart prior
(:class:`~emkit.distributions.priors.NormalInverseWishart`, read as mclust's EM reads it for
the model) :math:`B_k` is the prior's numerator and :math:`m_k = N_k + a_k`. The
iterative solvers start from the parameters the M-step replaces, so every M-step lowers
their objective and EM keeps climbing.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from emkit.distributions.gaussian.stats import GaussianStats

# The covariances the M-step in progress replaces: the start of an iterative solver.
_START: ContextVar[np.ndarray | None] = ContextVar("constrained_start", default=None)
# The latest iterative solves, by a digest of their solver and inputs: their answers. One per
# fit in progress (starts of n_init and a selection grid run in lockstep, each its own M-step).
_SOLVED: ContextVar[OrderedDict | None] = ContextVar("constrained_solved", default=None)
SOLVES_KEPT = 256
EMPTY_SHARE = 1e-10  # a component's share of the weight at or below which it has emptied
TINY = np.finfo(float).tiny


class Constrained:
    """Mixin over a Gaussian structure class: M-steps by ``solver(b, m[, start])``.

    Class attributes
    ----------------
    solver : a function of :mod:`eigen`, taking scatter-like ``b`` in the layout's statistics
        ((k, d) for diagonal, (k, d, d) for full) and ``m`` (k,), returning covariances in the
        layout of ``covariances``.
    iterative : the solver takes ``start`` (the previous covariances).
    counts_per_feature : the solver's ``m`` counts each feature (EII: m_k = d N_k).
    takes_own : the maximum-likelihood solve passes the statistics' scatter (k, d, d), no
        ridge, nothing rounded away, as ``own`` (EEV orients a component of zero scatter by
        the rows of tiny responsibility it holds).
    """

    solver: ClassVar[Any]
    iterative: ClassVar[bool] = False
    counts_per_feature: ClassVar[bool] = False
    takes_own: ClassVar[bool] = False
    means: np.ndarray
    covariances: np.ndarray

    @classmethod
    def _solve(cls, b: np.ndarray, m: np.ndarray, **extra: Any) -> np.ndarray:
        if cls.counts_per_feature:
            m = m * b.shape[1]
        start = _START.get()
        if not (cls.iterative and start is not None and np.isfinite(start).all()):
            return cls.solver(b, m, **extra)
        # Started at its own answer for the same statistics (EM whose responsibilities no
        # longer change), a solver returns that answer: iterated again, it would end within
        # its tolerance of it but not on it, and where the covariances are ill-conditioned
        # (a singular scatter held up by a small ridge) the log-likelihood would move by
        # their rounding at every step, never meeting EM's tolerance.
        digest = hashlib.blake2b(digest_size=16)
        for part in (b, m, *extra.values()):
            digest.update(np.ascontiguousarray(part, dtype=float).tobytes())
        key = (cls.solver, b.shape, digest.digest())
        solved = _SOLVED.get()
        if solved is None:  # a fresh context (a new thread): its own record
            solved = OrderedDict()
            _SOLVED.set(solved)
        last = solved.get(key)
        if last is not None and np.array_equal(last, start):
            solved.move_to_end(key)
            return np.array(start, dtype=float)
        covariances = cls.solver(b, m, start, **extra)
        solved[key] = covariances.copy()
        if len(solved) > SOLVES_KEPT:
            solved.popitem(last=False)
        return covariances

    @classmethod
    def _covariances_from_stats(cls, stats: GaussianStats, reg: float) -> np.ndarray:
        """The solver's covariances, or NaN where it finds none: on singular scatter without
        a ridge the likelihood of VEE and VEV is unbounded, and their iterations meet a singular
        shared matrix or a shape that overflows. ``from_stats`` then raises the ridge, and
        ``spectra`` counts such covariances singular (mclust's NA)."""
        scatter = stats.exact_scatter()
        ridge = reg if scatter.ndim == 2 else reg * np.eye(scatter.shape[-1])
        k, d = stats.mean.shape
        if not np.any(scatter) and reg == 0:
            # Every component on one point: the solvers would floor each variance at float64's
            # smallest number, a ridge of none; NaN has from_stats raise the ridge.
            return np.full(cls.parameter_shape(k, d), np.nan)  # type: ignore[attr-defined]
        try:
            with np.errstate(all="ignore"):
                extra = {"own": stats.scatter} if cls.takes_own else {}
                return cls._solve(scatter + ridge, stats.weight, **extra)
        except np.linalg.LinAlgError:
            return np.full(cls.parameter_shape(k, d), np.nan)  # type: ignore[attr-defined]

    @classmethod
    def _ridge_scale(cls, stats: GaussianStats) -> float:
        # The unconstrained covariances' scale: the same order as the model's, without a solve.
        return float(np.abs(stats.covariance(0.0)).max())

    @classmethod
    def niw_covariances(cls, numerators: np.ndarray, m: np.ndarray) -> np.ndarray:
        r"""The solver's covariances; an emptied component whose prior gives no power
        (:math:`m_k = N_k + a_k` at most 1e-10 of the total, VEV's volumes) has no mode, its
        volume :math:`\operatorname{tr}(B_k A^{-1})/(d m_k)` grows without bound: it keeps the
        covariance the M-step replaces, as an emptied component does without a prior, and
        the others are solved without it (its share of a shared shape or orientation,
        :math:`B_k/\lambda_k`, vanishes in the limit). Without a previous covariance its
        :math:`m_k` is raised to the smallest held one, which keeps it finite and in the model.
        """
        held = m > EMPTY_SHARE * max(float(m.sum()), TINY)
        if held.all() or not held.any() or not cls.per_component:  # type: ignore[attr-defined]
            return cls._solve(numerators, m)
        start = _START.get()
        if start is None or not np.all(np.isfinite(start)):
            return cls._solve(numerators, np.where(held, m, m[held].min()))
        covariances = np.array(start, dtype=float)
        token = _START.set(start[held])
        try:
            covariances[held] = cls._solve(numerators[held], m[held])
        finally:
            _START.reset(token)
        return covariances

    def from_vector(self, vector: np.ndarray) -> Any:
        """The structure's components nearest (in the solver's sense, as if each covariance
        were a scatter of unit weight) to ``to_vector``'s unconstrained layout, so that an
        extrapolated point (SQUAREM) stays in the model."""
        free = super().from_vector(vector)  # type: ignore[misc]
        covariances = np.asarray(free.covariances)
        b = covariances
        if b.ndim == 1:  # spherical layout: one variance per component, for each feature
            b = np.repeat(b[:, None], free.means.shape[1], axis=1)
        structure: Any = type(self)
        token = _START.set(covariances)  # an iterative solver starts where the point is
        try:
            projected = structure._solve(b, np.ones(b.shape[0]))
        finally:
            _START.reset(token)
        return replace(structure.from_covariances(free.means, projected), ridge=free.ridge)

    def m_step(self, stats: GaussianStats, prior: Any) -> Any:
        token = _START.set(np.asarray(self.covariances))
        try:
            if prior.prior is not None:
                # All K components go to niw_covariances, which keeps the covariance of an
                # emptied one (in _START's rows) itself: the prior's own rule for a component
                # of no power would pass it the others alone, out of line with _START.
                return prior.prior.mode(type(self), stats, prior.reg_covar, self.means)
            return super().m_step(stats, prior)  # type: ignore[misc]
        finally:
            _START.reset(token)
