r"""The one EM loop every latent-variable model runs, and the one driver every estimator fits with.

Each iteration computes, for the current parameters :math:`\theta_t`, the statistics of every
chunk and the observed-data objective

.. math:: \ell(\theta_t) = \sum_n w_n \log p(x_n \mid \theta_t) + \log p(\theta_t),

then sets :math:`\theta_{t+1} = M(\sum_{chunks} S)`. By Dempster, Laird and Rubin (1977),
:math:`\ell` never decreases; the decreases beyond rounding are reported once a fit, at its
end, as one :class:`~emkit.MonotonicityWarning` naming their iterations (:func:`warn_falls`).

How a run moves from one accepted point to the next is a step policy: :class:`PlainEM` (one
M-step) or :class:`Squarem` (an extrapolated cycle, :mod:`emkit.accel`). The loop alone keeps
the history, calls the callback, applies the stop test, checks ascent and records the steps
that changed the model's structure; :func:`fit_starts` runs several starts in lockstep and
keeps the best by one rule.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Generator, Hashable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from emkit.accel import VectorForm, contraction, extrapolate, model_at, next_step_max
from emkit.backend import pass_processes, threads
from emkit.backend.sources import DataSource
from emkit.checkpoint import Checkpoint, RunState
from emkit.distributions.family import offers
from emkit.exceptions import CheckpointError, MonotonicityWarning, warn_user

# A decrease smaller than this fraction of |loglik| is floating-point rounding, not a bug.
ROUNDING = 1e-10
# Accepted steps over which a float32 objective's rise is judged against its rounding
# (EMMap.stops): its error is that of the two ends, however many steps lie between.
FLOOR_STEPS = 4
# Share of the rounding resolution within which two starts' objectives tie (_keep_best).
TIE_SHARE = 0.01

# A stopping rule on two consecutive accepted models, (old, new) -> True where the run has
# converged, in place of the test on the objective's gain (k-means' shift of the centres,
# scikit-learn's rule: emkit.init.CentreShift).
ConvergenceRule = Callable[[Any, Any], bool]


@runtime_checkable
class LatentModel(Protocol):
    """A latent-variable model the loop runs and the driver ranks; an immutable value.

    Members
    -------
    n_components : int
        Number of components (pruning may lower it during EM).
    structure : hashable
        Changes exactly where an M-step changed the model's size or the objective itself
        (pruning, a ridge raised to keep a component non-singular, a re-seeded component);
        the loop lists those steps in ``structure_changes`` and skips their ascent check.
    e_step(x, sample_weight) -> (stats, loglik)
        Statistics of one chunk (they add up over chunks with ``+``) and its observed-data
        log-likelihood; ``x`` is whatever the data source yields, ``sample_weight`` of
        shape (m,) or None.
    m_step(stats) -> model
        The next model from the statistics summed over all chunks.
    log_prior() -> float
        Log prior density of the parameters (0 for maximum likelihood); the objective EM
        climbs is the log-likelihood plus ``log_prior()``.
    degenerate(stats) -> bool array of shape (k,)
        Components that collapsed (singular but for regularisation, emptied, a line through a
        few rows), judged from the statistics at the model; the driver ranks starts by it.

    Optional: :class:`BatchedEStep` (several models' E-steps in one pass),
    :class:`emkit.accel.VectorForm` (a parameter vector, for SQUAREM) and :class:`LastPass`
    (outputs of the final pass, from the run's last evaluation).
    """

    @property
    def n_components(self) -> int: ...

    @property
    def structure(self) -> Hashable: ...

    def e_step(self, x: Any, sample_weight: np.ndarray | None = None) -> tuple[Any, float]: ...

    def m_step(self, stats: Any) -> Any: ...

    def log_prior(self) -> float: ...

    def degenerate(self, stats: Any) -> np.ndarray: ...


@runtime_checkable
class BatchedEStep(Protocol):
    """A model whose class computes the E-steps of several of its models in one pass.

    Members
    -------
    e_step_many(models, x, sample_weight) -> list of (stats, loglik), or None
        Static: ``e_step`` of each of ``models`` on chunk ``x``, sharing the work (the fused
        Gaussian kernel builds each row's quadratic features once for all of them); None where
        these models cannot be batched, and each then runs its own ``e_step``.
    """

    @staticmethod
    def e_step_many(
        models: list[Any], x: Any, sample_weight: np.ndarray | None
    ) -> list[tuple[Any, float]] | None: ...


@runtime_checkable
class LastPass(Protocol):
    """A model whose run's last evaluation can also give what its estimator would otherwise
    read in one more pass over the data at the final model.

    Members
    -------
    last_pass() -> model
        This model for the evaluation expected to end its run (``last_pass`` of
        :func:`fit_starts`): its E-step gives the same statistics and objective, the
        statistics also holding those outputs (k-means: each row's cluster and distance).
    """

    def last_pass(self) -> Any: ...


@runtime_checkable
class ObjectiveRounding(Protocol):
    """A model whose objective can carry more rounding than ``resolution`` of it: one whose
    covariances are nearly singular computes each row's log density to its condition
    number times the machine epsilon (missing values held up by a ridge).

    Members
    -------
    rounding(stats) -> float
        A bound on the absolute rounding of the objective at this model, ``stats`` being
        the statistics its evaluation gave; the ascent check allows it on top of
        ``resolution`` (:func:`check_ascent`), and SQUAREM's stop counts a plain step that
        gains no more than it as no gain (:class:`Squarem`).
    """

    def rounding(self, stats: Any) -> float: ...


@runtime_checkable
class CollapseScreen(Protocol):
    """A model that can tell cheaply where it cannot be degenerate, so that a run within
    :func:`collapse_stops` reads its ``degenerate`` (which may cost an M-step's solve) only
    where it can be.

    Members
    -------
    collapse_screen(stats) -> callable or None
        Made once a run, from the statistics of its start (the data's scales): a test of
        later statistics, False only where ``degenerate`` of them has no component to flag
        that an emptied component or a collapse onto fewer rows than dimensions would make;
        None where the model offers none (the run then never stops on a collapse).
    """

    def collapse_screen(self, stats: Any) -> Callable[[Any], bool] | None: ...


@dataclass(frozen=True)
class EMProgress:
    """What an estimator's ``callback`` receives after each accepted EM step (the
    ``callback`` of GaussianMixture, MixtureModel, ZeroInflatedPoisson, GaussianImputer and
    GenerativeClassifier).

    Attributes
    ----------
    iteration : int, the accepted steps so far in this start (1 after the first).
    objective : float, the objective after the step, as recorded in ``history_``: the
        log-likelihood plus the log-prior (the ridge ``reg_covar``'s too).
    change : float, the objective's gain over the previous accepted step (a total, not per
        row; ``tol`` bounds it divided by the number of rows or the summed weights).
    max_iter : int, the estimator's ``max_iter``, which bounds the M-steps.
    start : int, the index of the start (of ``n_init``) the step belongs to, as the starts
        run together.

    Examples
    --------
    >>> import numpy as np
    >>> import emkit
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> steps = []
    >>> gm = emkit.GaussianMixture(2, accelerate=None, random_state=0, callback=steps.append)
    >>> gm = gm.fit(X)
    >>> steps[0].iteration, len(steps) == gm.n_iter_
    (1, True)
    >>> [round(s.objective, 6) for s in steps[-2:]] == list(gm.history_[-2:].round(6))
    True
    >>> bool(np.allclose([s.change for s in steps], np.diff(gm.history_)))
    True
    """

    iteration: int
    objective: float  # log-likelihood plus log-prior, as recorded in history
    change: float
    max_iter: int
    start: int = 0


def _for_start(callback: Callable[[EMProgress], Any] | None, start: int):
    """``callback`` told which start its steps belong to."""
    if callback is None or start == 0:
        return callback
    return lambda progress: callback(dataclasses.replace(progress, start=start))


@dataclass(frozen=True)
class Fall:
    """An M-step that lowered the objective beyond its rounding: the accepted step's index
    ``iteration`` (as in ``history``), the objective before and after."""

    iteration: int
    old: float
    new: float

    @property
    def size(self) -> float:
        return self.old - self.new


@dataclass(frozen=True)
class EMResult:
    model: Any
    log_likelihood: float
    history: np.ndarray
    n_iter: int
    converged: bool
    stats: Any
    structure_changes: tuple[int, ...] = ()
    falls: tuple[Fall, ...] = ()
    given_up: bool = False


@dataclass(frozen=True)
class FitResult:
    """The start :func:`fit_starts` kept, its degenerate components, and every start's run.

    Attributes
    ----------
    best : EMResult of the kept start.
    degenerate : bool array of shape (k,), ``best.model.degenerate(best.stats)``.
    runs : tuple of every start's EMResult, in the order of the starts.
    """

    best: EMResult
    degenerate: np.ndarray
    runs: tuple[EMResult, ...]


@dataclass(frozen=True)
class Point:
    """A model the loop evaluated: its summed statistics and its objective.

    ``changed`` is True where the M-step that produced the model changed its structure.
    """

    model: Any
    stats: Any
    objective: float
    changed: bool = False


@dataclass(frozen=True)
class Mapped:
    """A model one M-step made from ``parent``, not yet evaluated."""

    parent: Point
    model: Any
    changed: bool


class StepPolicy(Protocol):
    """How a run moves from one accepted point to the next.

    Members
    -------
    step(point, em) -> generator returning the next accepted :class:`Point`
        Builds candidates with ``em.m_step(point)`` (one M-step, counted against
        ``max_iter``) and evaluates them with ``yield from em.evaluate(candidate)``; may
        consult ``em.stops(old, new)``, ``em.structure_changed(a, b)``, ``em.maps`` and
        ``em.max_iter``. One policy object serves one run and may keep state across steps.
    """

    def step(self, point: Point, em: EMMap) -> Generator[Any, tuple[Any, float], Point]: ...


@dataclass
class EMMap:
    """The loop's side of a step: M-steps counted, evaluations ascent-checked.

    Attributes
    ----------
    resolution : relative rounding of the objective (:data:`ROUNDING` for float64; larger
        where the rows are computed in float32): a decrease within it is rounding, and a rise
        within a tenth of it over several steps cannot be told from none (:meth:`stops`).
    tol_total : the stop test's threshold on the change of the objective (tol times the
        total weight).
    max_iter : M-steps allowed in the run.
    maps : M-steps taken so far.
    iteration : index the next accepted step will have in ``history``.
    convergence : None, or a :data:`ConvergenceRule` that replaces the test on the objective.
    last_pass : evaluate a model expected to end the run (:meth:`expects_end`) as its
        :class:`LastPass` variant.
    verdict : the step policy's own stop verdict on the step it is taking (SQUAREM's, from
        its plain step), or None: the loop then applies :meth:`stops` to the accepted step.
    since : the objective :data:`FLOOR_STEPS` accepted steps before the current point (None
        in a run's first steps), for the float32 stop test (:meth:`stops`).
    falls : the M-steps that lowered the objective beyond its rounding (:func:`check_ascent`),
        reported once, at the end of the fit (:func:`warn_falls`).
    given_up : a screening's standings gave the run up behind the others (:class:`Standings`):
        it stops there, not converged.
    collapsed : within :func:`collapse_stops`, the test of a model's collapse (the run
        stops at a degenerate model); None outside.
    """

    tol_total: float
    max_iter: int
    maps: int = 0
    iteration: int = 0
    resolution: float = ROUNDING
    convergence: ConvergenceRule | None = None
    last_pass: bool = False
    verdict: bool | None = None
    since: float | None = None
    falls: list[Fall] = dataclasses.field(default_factory=list)
    given_up: bool = False
    collapsed: Callable[[Point], bool] | None = None

    def m_step(self, point: Point) -> Mapped:
        """One M-step from ``point``."""
        self.maps += 1
        model = point.model.m_step(point.stats)
        return Mapped(point, model, structure_changed(point.model, model))

    def evaluate(self, candidate: Any) -> Generator[Any, tuple[Any, float], Point]:
        """Statistics and objective of ``candidate`` (a model, or a :class:`Mapped`); an
        M-step's result that kept the structure is checked not to have lowered the objective."""
        if not isinstance(candidate, Mapped):
            stats, objective = yield self._asked(candidate, None)
            return Point(candidate, stats, objective)
        stats, objective = yield self._asked(candidate.model, candidate)
        point = Point(candidate.model, stats, objective, candidate.changed)
        if not candidate.changed:
            parent = candidate.parent
            # The models' own rounding (a nearly singular covariance's), read only on a fall.
            slack = _rounding(parent) + _rounding(point) if objective < parent.objective else 0.0
            if check_ascent(parent.objective, objective, self.resolution, slack):
                self.falls.append(Fall(self.iteration, parent.objective, objective))
        return point

    def expects_end(self, candidate: Mapped | None) -> bool:
        """Whether the run is expected to end at the model of ``candidate`` (None: the start),
        before it is evaluated: the M-steps are spent, or the ``convergence`` rule (which
        reads the models alone) holds between it and the model it was mapped from. A guess
        where a step evaluates several models (SQUAREM) and blind to an objective that will
        not be finite: it only says where to ask for the :class:`LastPass` outputs."""
        if self.maps >= self.max_iter:
            return True
        rule = self.convergence
        if candidate is None or rule is None:
            return False
        return bool(rule(candidate.parent.model, candidate.model))

    def _asked(self, model: Any, candidate: Mapped | None) -> Any:
        """The model to evaluate for ``model`` (that of ``candidate``; None: the start): its
        :class:`LastPass` variant where the run asks for one and expects to end there."""
        if self.last_pass and offers(type(model), LastPass) and self.expects_end(candidate):
            return model.last_pass()
        return model

    def stops(self, old: Point, new: Point, rate: float = 0.0) -> bool:
        r"""The stop test on one plain EM step from ``old`` to ``new``: what is left to gain
        from ``old`` is below ``tol_total`` (or, with a ``convergence`` rule, the rule holds
        for the two models), or the objective is not finite.

        ``rate`` is EM's rate of convergence :math:`\rho` at ``old``
        (:func:`emkit.accel.contraction`; 0: unknown, the step's gain alone is judged): EM's
        gains then shrink by :math:`\rho^2` a step, and a step that gained :math:`g` leaves
        :math:`g / (1 - \rho^2)` in all from ``old``; at :math:`\rho \geq 1` the run is not
        yet converging linearly and goes on.

        Where the objective is computed in float32 (``resolution`` above :data:`ROUNDING`),
        its rounding moves from one pass to the next by more than EM's late gains (the
        coefficients are rounded to float32 once per pass), so that neither a step's gain nor
        a rate read from it can be trusted there. The run then also stops where the objective
        rose by less than a tenth of its rounding over the last :data:`FLOOR_STEPS` accepted
        steps and this one (``since``): the error of a rise over several steps is that of
        its two ends, while its size adds up, and a fit still climbing goes on."""
        if self.convergence is not None:
            return self.convergence(old.model, new.model) or not np.isfinite(new.objective)
        if not np.isfinite(new.objective):
            return True
        if _left(abs(new.objective - old.objective), rate) < self.tol_total:
            return True
        if self.resolution <= ROUNDING or self.since is None:
            return False
        return bool(new.objective - self.since < 0.1 * self.resolution * abs(old.objective))

    @staticmethod
    def structure_changed(old: Any, new: Any) -> bool:
        return structure_changed(old, new)


def _left(gain: float, rate: float) -> float:
    """What is left to gain from a point whose plain EM step gained ``gain``, at the rate of
    convergence ``rate`` (0: unknown, ``gain`` itself; at least 1: infinite)."""
    if rate <= 0.0:
        return gain
    return gain / (1.0 - rate * rate) if rate < 1.0 else np.inf


class PlainEM:
    """One M-step per accepted step."""

    def step(self, point: Point, em: EMMap) -> Generator[Any, tuple[Any, float], Point]:
        return (yield from em.evaluate(em.m_step(point)))


# Cycles before the current one whose rates of convergence the stop test also reads (Squarem).
# On slow fits EM's slow direction shows only in some cycles' rates (three components on two
# clusters: 0.998 between readings of 0.79 to 0.96). On flat likelihoods (more components than
# the data hold) a reading near the slow rate comes every 5 to 40 cycles: over 8 cycles such
# fits stopped up to 8,500 times tol_total below their maximum (1.7 of log-likelihood on 20,000
# rows), over 48 cycles at most 1.8 times it, at 0 to 12% more iterations on fits that converge
# at a steady rate and none on quick ones (tests/test_em_stop.py).
RATE_CYCLES = 48
# A model-selection screening's stop (:func:`screening_stops`): its fits only rank the
# candidates, and the chosen are continued to ``tol``. It reads the rates below 1 of the last
# 9 cycles, as every run did before the flat likelihoods were measured: over 49 cycles the
# flat cells of a default grid (K up to 9 on 20,000 rows of two clusters) ran to max_iter,
# twice the grid's time, for a ranking that mclust's stop (a relative gain of 1e-5) gives too.
SCREEN_RATE_CYCLES = 8
_screening: ContextVar[bool] = ContextVar("screening", default=False)
# A screened fit is given up where BEHIND_MARGIN times what EM's rate projects is left to
# gain (:func:`_left` at :func:`_slowest`'s rate, which reads 1 or more, never giving up, while
# EM is not yet converging linearly) would not lift it to where others already are
# (:class:`Standings`); judged from BEHIND_READINGS cycles' rates on. The projection is not a
# bound (the selection continues a fit given up where those ahead end degenerate). On the
# big-CSV benchmark's data (3e5 rows, K 1 to 9 by the 14 models) 59 of the 126 fits were given
# up, each at least 264 of BIC behind the sixth best where the screening's own stop left it;
# the ten best rows and the choice stayed to the last bit, the grid's EM steps fell from 1,573
# to 634 and its time from 31 to 12 s. The equal-volume fits at K 5 to 9 there climb 7,000 to
# 20,000 more in 20 to 117 steps after reading gains of 1 to 5 per step: no stop on the gain
# alone ranks them. Off by default (select_mixture's give_up): on 1 of 33 one-column mixtures
# of 140,000 rows a fit that sat on a plateau, then climbed 1,800 more, was given up below
# where it would have been chosen.
BEHIND_MARGIN = 10.0
BEHIND_READINGS = 4


class Standings(Protocol):
    """Where the fits of a screening stand against each other (:func:`screening_stops`)."""

    def record(self, model: Any, log_likelihood: float) -> None:
        """Note that a fit reached ``model``, of log-likelihood ``log_likelihood``."""
        ...

    def behind(self, model: Any, ceiling: float) -> bool:
        """True where a fit of ``model``'s kind whose log-likelihood reaches at most
        ``ceiling`` could not be among those the screening chooses."""
        ...


_standings: ContextVar[Standings | None] = ContextVar("standings", default=None)


@contextlib.contextmanager
def screening_stops(standings: Standings | None = None) -> Iterator[None]:
    """Within the block, SQUAREM runs stop as a screening's (:data:`SCREEN_RATE_CYCLES`
    cycles' rates below 1), not on :func:`_slowest` (fits of a screening, which the chosen
    continue from); with ``standings``, also where a fit has fallen behind the others for
    good (:data:`BEHIND_MARGIN`)."""
    token = _screening.set(True)
    placed = _standings.set(standings)
    try:
        yield
    finally:
        _standings.reset(placed)
        _screening.reset(token)


# Runs within :func:`collapse_stops` stop at the first accepted model that is degenerate.
_collapse: ContextVar[bool] = ContextVar("collapse", default=False)


@contextlib.contextmanager
def collapse_stops() -> Iterator[None]:
    """Within the block, an EM run stops at its first accepted model (its start included)
    that is degenerate (the model's ``degenerate`` on the statistics of its evaluation: a
    component singular but for regularisation, or emptied), not converged, as mclust stops a
    fit whose covariance becomes singular and reports it as NA. Only for models that offer
    :class:`CollapseScreen` and objectives computed in float64 (``resolution`` at most
    :data:`ROUNDING`): a verdict read from float32 sums is that of their rounding.

    A collapsing component makes EM climb without end towards an unbounded likelihood, held
    only by the ridge, and the iterative M-steps of EVE and VVE (:mod:`emkit.distributions.
    gaussian.eigen`) spend their whole inner budget on every step there (wine, K = 7 to 9:
    285 solves of 500 sweeps; the default grid took 42 CPU s, 4.0 with this stop). No fit of
    iris, wine or Old Faithful that became degenerate came back: every such fit ended
    degenerate."""
    token = _collapse.set(True)
    try:
        yield
    finally:
        _collapse.reset(token)


def in_collapse_stops() -> bool:
    """Whether this thread runs within :func:`collapse_stops` (for a task that carries the
    stop to another process)."""
    return _collapse.get()


def _collapse_test(point: Point) -> Callable[[Point], bool] | None:
    """The test of a run from ``point`` (its start) within :func:`collapse_stops`: whether an
    accepted point's model is degenerate at its statistics, read only where the model's
    :class:`CollapseScreen`, made here once, says it may be; None outside them, or where the
    model has no screen."""
    model = point.model
    if not (_collapse.get() and offers(type(model), CollapseScreen)):
        return None
    screen = model.collapse_screen(point.stats)
    if screen is None:
        return None

    last: list[Any] = [None, False]  # the point last tested and its verdict

    def collapsed(at: Point) -> bool:
        # SQUAREM's step tests its plain step, which the run's loop then tests again where it
        # is accepted: EVE's and VVE's test is a solve at its cap on a collapsing fit
        if at is not last[0]:
            last[:] = [at, bool(screen(at.stats) and np.any(at.model.degenerate(at.stats)))]
        return bool(last[1])

    return collapsed


def in_screening() -> bool:
    """Whether this thread runs within :func:`screening_stops` (for a task that carries the
    screening's stop to another process)."""
    return _screening.get()


@dataclass
class Squarem:
    r"""SQUAREM's safeguarded cycle (:mod:`emkit.accel`) as a step policy.

    Each cycle takes a plain step :math:`\theta_1`; it ends there where that step changed the
    model's structure, made a degenerate model within :func:`collapse_stops` (the run ends
    there; an extrapolation from it would cost two more M-steps at the inner solvers' cap,
    EVE and VVE on wine), no room is left in ``max_iter`` for a cycle's three M-steps (the stop
    test then reads the rates of the cycles before: a run that ends on its budget has not
    converged unless it passes), or the run has converged:
    the stop test (:meth:`EMMap.stops`) on the plain step, at the slowest rate of convergence
    (:func:`emkit.accel.contraction`) of this cycle and the :data:`RATE_CYCLES` before
    (:func:`_slowest`), so that the run stops where about ``tol_total`` is left to gain. (A
    cycle that starts from an extrapolated point moves mostly along EM's fast directions and
    reads a rate well below the slow one that governs what is left, which shows only every
    few cycles on a flat likelihood. A reading of 1 or more says that EM is not yet converging
    linearly, unless it comes from a step at the objective's rounding or from an earlier
    phase of the run, or from a step within the models' own rounding,
    :class:`ObjectiveRounding`.) A plain step that gains no more than that rounding (where rows
    are computed in float32, also a hundredth of the objective's ``resolution``), or falls, is
    judged by its gain alone, as plain EM judges it. The run never
    stops on a whole cycle's gain: an extrapolation that overshoots the maximum lands barely
    above where it started, at a point that depends on the rounding of the step length, and such
    stops put the fits of one problem on NumPy, torch and Dask 1e-3 apart, 300 times
    ``tol_total`` below the maximum.

    Otherwise the cycle extrapolates from :math:`\theta_0, \theta_1, \theta_2` and accepts the
    EM step from :math:`\theta'` where :math:`\theta'` is a valid model whose objective, and
    that of its EM step, are at least :math:`\ell(\theta_0)`; else it accepts :math:`\theta_2`.
    Every accepted step therefore has an objective at least that of the one before.

    Attributes
    ----------
    step_max : the bound on the step length, carried from cycle to cycle.
    rates : the rates of convergence the last cycles measured (:data:`RATE_CYCLES` + 1).
    gains : the gains of those cycles' plain steps, in the same order.
    screening : stop as a screening's fits (:func:`screening_stops`).
    """

    step_max: float = 1.0
    rates: tuple[float, ...] = ()
    gains: tuple[float, ...] = ()
    screening: bool = False

    def step(self, point: Point, em: EMMap) -> Generator[Any, tuple[Any, float], Point]:
        em.verdict = None
        first = yield from em.evaluate(em.m_step(point))
        if first.changed or not np.isfinite(first.objective):
            return first
        if em.collapsed is not None and em.collapsed(first):
            # the run ends at its plain step (collapse_stops): no cycle from a collapsed model
            return first
        if em.maps + 2 > em.max_iter:
            # No room for a cycle: the plain step is judged at the rates the cycles before
            # read, as a cycle's would be. Judged on its gain alone, a slow fit's plain step
            # passed where the budget ran out (0.005 below the maximum on 3,000 rows of one
            # cluster, with no ConvergenceWarning).
            if em.convergence is None:
                em.verdict = self._judge(point, first, em)
            return first
        second = em.m_step(first)
        if second.changed:
            return first
        start, middle, end = (p.model.to_vector() for p in (point, first, second))
        if em.convergence is None:
            em.verdict = self._judge(point, first, em, contraction(start, middle, end))
            if em.verdict:
                return first
        alpha, target = extrapolate(start, middle, end, self.step_max)
        accepted = None
        if target is not None:
            jump = model_at(point.model, target)
            if jump is not None and not em.structure_changed(point.model, jump):
                jumped = yield from em.evaluate(jump)
                if np.isfinite(jumped.objective) and jumped.objective >= point.objective:
                    settled = em.m_step(jumped)
                    if not settled.changed:
                        landed = yield from em.evaluate(settled)
                        if landed.objective >= point.objective:
                            accepted = landed
        self.step_max = next_step_max(
            self.step_max, alpha, extrapolated=target is not None, accepted=accepted is not None
        )
        if accepted is None:
            accepted = yield from em.evaluate(second)
        return accepted

    def _judge(self, point: Point, first: Point, em: EMMap, rate: float | None = None) -> bool:
        """The stop test on the plain step from ``point`` to ``first``, at the slowest rate of
        the last cycles (:func:`_slowest`) and ``rate``, this cycle's reading (None: none was
        taken, the budget left no room for it)."""
        gain = first.objective - point.objective
        gains = (0.0,) * (len(self.rates) - len(self.gains)) + self.gains  # an older state
        if rate is not None:
            cycles = SCREEN_RATE_CYCLES if self.screening else RATE_CYCLES
            self.rates = (self.rates + (rate,))[-cycles - 1 :]
            gains = (gains + (gain,))[-cycles - 1 :]
        self.gains = gains
        # A plain step that falls, or gains no more than the objective's rounding, reads any
        # rate: its gain is judged alone, as plain EM judges it, and its rate never keeps the
        # run going. That rounding is the models' own (ridge-held covariances) and, where rows
        # are computed in float32, the share TIE_SHARE of ``resolution``. In float64 that
        # share (1e-12 of the objective) is far above the sums' rounding and a step below it
        # still reads EM's rate: a zero-inflated Poisson's plain step gained 3e-11 of 87 at
        # the rate 0.9998 its cycles had read, and judged alone it stopped 4 times tol_total
        # below the maximum (its rate projected that gap), 56 times on 18,072 rows, and a tol
        # below that share was not heeded (tests/test_zip.py).
        # The models' rounding (eigenvalues of every covariance) is read only where it can
        # decide: a step the gain-alone test stops, or a reading of 1 or more to sift.
        share = TIE_SHARE * em.resolution * abs(point.objective)
        alone = em.stops(point, first)
        own = 0.0
        if alone or any(r >= 1.0 for r in self.rates):
            own = _rounding(point) + _rounding(first)
        if alone and gain <= own + (share if em.resolution > ROUNDING else 0.0):
            return True
        floor = share + own
        if not self.screening:
            return em.stops(point, first, _slowest(self.rates, self.gains, gain, floor))
        if em.stops(point, first, max((r for r in self.rates if r < 1.0), default=0.0)):
            standings = _standings.get()
            if standings is not None:  # where it stopped: a value others are measured by
                standings.record(first.model, first.objective - first.model.log_prior())
            return True
        return self._behind(point, first, em, gain, floor)

    def _behind(self, point: Point, first: Point, em: EMMap, gain: float, floor: float) -> bool:
        """Whether the screening's standings give the run up (:data:`BEHIND_MARGIN`) at its
        plain step from ``point`` to ``first``, which they record in any case; sets
        ``em.given_up``. The standings read log-likelihoods: the objective less the models'
        log-prior (their ridge's term)."""
        standings = _standings.get()
        if standings is None:
            return False
        standings.record(first.model, first.objective - first.model.log_prior())
        if len(self.rates) < BEHIND_READINGS:
            return False
        # a step that fell (float32 rounding) projects nothing left, not less than nothing
        left = _left(max(gain, 0.0), _slowest(self.rates, self.gains, gain, floor))
        ceiling = point.objective - point.model.log_prior() + BEHIND_MARGIN * left
        em.given_up = standings.behind(first.model, ceiling)
        return em.given_up


# A rate of 1 or more read where the plain step gained more than this many times the current
# one's comes from an earlier phase of the run (far from the maximum), not from this one.
PHASE_GAINS = 100.0


def _slowest(
    rates: tuple[float, ...], gains: tuple[float, ...], gain: float, floor: float
) -> float:
    """The rate the stop test projects by (:meth:`EMMap.stops`), from the last cycles' ``rates``
    and their plain steps' ``gains``, ``gain`` that of the current cycle's.

    The largest reading below 1; or 1 or more (EM not yet converging linearly: the run goes
    on) where a reading of 1 or more came from a plain step that gained more than ``floor``
    (the objective's rounding: a step at the parameters' rounding reads any ratio) and at
    most :data:`PHASE_GAINS` times ``gain``.
    """
    slowest = 0.0
    for rate, gained in zip(rates, gains, strict=True):
        if rate < 1.0 or (floor < gained <= PHASE_GAINS * abs(gain)):
            slowest = max(slowest, rate)
    return slowest


STEPS: dict[str | None, Callable[[], StepPolicy]] = {None: PlainEM, "squarem": Squarem}


def step_policy(accelerate: str | None, model: Any) -> StepPolicy:
    """A fresh policy for one run: ``accelerate`` None is plain EM, "squarem" SQUAREM where
    the model has a vector form (:class:`emkit.accel.VectorForm`), plain EM elsewhere."""
    if accelerate not in STEPS:
        raise ValueError(f"accelerate must be None or 'squarem'; got {accelerate!r}")
    if accelerate is not None and not (
        offers(type(model), VectorForm) and model.to_vector() is not None
    ):
        return PlainEM()
    if accelerate == "squarem" and _screening.get():
        return Squarem(screening=True)
    return STEPS[accelerate]()


def em_iterations(
    model: Any,
    *,
    tol: float,
    max_iter: int,
    total_weight: float,
    callback: Callable[[EMProgress], Any] | None = None,
    accelerate: str | None = None,
    resolution: float = ROUNDING,
    resume: RunState | None = None,
    on_step: Callable[[RunState], Any] | None = None,
    convergence: ConvergenceRule | None = None,
    last_pass: bool = False,
) -> Generator[Any, tuple[Any, float], EMResult]:
    """EM as a coroutine: yields each model to evaluate, receives ``(stats, objective)``.

    Parameters
    ----------
    model : a :class:`LatentModel`, the start.
    tol : convergence threshold on the change of the objective divided by ``total_weight``.
    max_iter : number of M-steps at most.
    total_weight : number of rows (or sum of sample weights), the scale of ``tol``.
    callback : called with an :class:`EMProgress` after every accepted step.
    accelerate : None for plain EM, or "squarem" (see :func:`step_policy`).
    resolution : relative rounding of the objective: :data:`ROUNDING` where rows are
        computed in float64; about 1e-6 where a backend computes them in float32 (see
        :class:`EMMap`).
    resume : a :class:`~emkit.checkpoint.RunState` to continue from instead of ``model``: its
        model is evaluated again (its objective must be the one recorded, else the state is of
        other data: ``CheckpointError``) and the run goes on as it would have.
    on_step : called with the run's :class:`~emkit.checkpoint.RunState` after every accepted
        step and, with ``done`` True, at the end (for checkpoints).
    convergence : None (stop on the objective's gain, ``tol``), or a rule on the last two
        accepted models that says when the run has converged (``tol`` is then unused).
    last_pass : where the model is a :class:`LastPass`, evaluate the model expected to end
        the run (:meth:`EMMap.expects_end`) as its ``last_pass()`` variant, so that the
        result's ``stats`` hold its outputs where the guess was right.

    Returns
    -------
    EMResult whose ``model`` is the last parameters evaluated; ``history`` holds the objective
    (log-likelihood plus log-prior) before the first and after every accepted step, and
    ``log_likelihood`` is the log-likelihood alone at exactly the returned parameters.
    Iterations where the model's structure changed (pruning, a raised ridge, a re-seeded
    component) are listed in ``structure_changes``; the ascent check skips them. With SQUAREM
    ``n_iter`` counts accepted steps (cycles) while ``max_iter`` bounds the M-steps. Within
    :func:`collapse_stops` the run also ends, not converged, at its first accepted model
    (its start included) that is degenerate.

    :func:`run_batch` answers the yields of several runs from one pass over the data.
    """
    policy = step_policy(accelerate, model if resume is None else resume.model)
    em = EMMap(
        tol * total_weight,
        max_iter,
        resolution=resolution,
        convergence=convergence,
        last_pass=last_pass,
    )
    if resume is None:
        point = yield from em.evaluate(model)
        history = [point.objective]
        changes: list[int] = []
        converged = False
    else:
        point = yield from em.evaluate(resume.model)
        history, changes = list(resume.history), list(resume.changes)
        _check_resumed(history[-1], point.objective)
        em.maps, converged = resume.maps, resume.converged
        if type(resume.policy) is type(policy):
            policy = resume.policy
    done = resume is not None and resume.done
    # a collapse ends the run (collapse_stops), read on float64 objectives only
    collapsed = em.collapsed = _collapse_test(point) if resolution <= ROUNDING else None
    stopped = resume is None and collapsed is not None and collapsed(point)
    while em.maps < max_iter and not done and not stopped:
        em.iteration = len(history)
        em.since = history[-FLOOR_STEPS - 1] if len(history) > FLOOR_STEPS else None
        new = yield from policy.step(point, em)
        if new.changed:
            # Pruning, a raised ridge or a re-seeded component changes the model or the
            # objective: no ascent guarantee across that step.
            changes.append(em.iteration)
        # SQUAREM's verdict reads its plain step; a cycle that lands on an objective that is
        # not finite (an unbounded likelihood: a component collapsed) ends the run there.
        stop = em.stops(point, new) if em.verdict is None else em.verdict
        stop = stop or not np.isfinite(new.objective)
        change = new.objective - point.objective
        point = new
        history.append(point.objective)
        if callback is not None:
            callback(EMProgress(em.iteration, point.objective, change, max_iter))
        if stop:
            converged = bool(np.isfinite(point.objective))
            break
        if collapsed is not None and collapsed(point):
            break
        if on_step is not None:
            on_step(RunState(point.model, tuple(history), tuple(changes), em.maps, _state(policy)))
    if on_step is not None and not done:
        state = RunState(point.model, tuple(history), tuple(changes), em.maps, _state(policy))
        on_step(dataclasses.replace(state, done=True, converged=converged))
    log_likelihood = point.objective - point.model.log_prior()
    return EMResult(
        point.model,
        log_likelihood,
        np.asarray(history),
        len(history) - 1,
        converged and not em.given_up,
        point.stats,
        tuple(changes),
        tuple(em.falls),
        em.given_up,
    )


def run_em(
    model: Any,
    data: DataSource,
    *,
    tol: float,
    max_iter: int,
    total_weight: float,
    callback: Callable[[EMProgress], Any] | None = None,
    accelerate: str | None = None,
) -> EMResult:
    """Run EM from ``model`` on the source ``data``; see
    :func:`em_iterations` for the parameters and the result."""
    steps = em_iterations(
        model,
        tol=tol,
        max_iter=max_iter,
        total_weight=total_weight,
        callback=callback,
        accelerate=accelerate,
    )
    result = run_batch([steps], data)[0]
    warn_falls([result])
    return result


def run_batch(
    runs: list[Generator[Any, tuple[Any, float], EMResult]],
    data: DataSource,
    on_done: Callable[[int, EMResult], Any] | None = None,
) -> list[EMResult]:
    """Drive several EM runs (from :func:`em_iterations`) in lockstep over one pass per round.

    Each run yields the model whose statistics it needs next; every round reads the data once
    for all runs still going (batched restarts: one pass, and shared work where the models are
    a :class:`BatchedEStep`). ``on_done(i, result)`` is called as run ``i`` ends.
    """
    results: list[EMResult | None] = [None] * len(runs)
    pending: dict[int, Any] = {}
    # BLAS on one thread for all the rounds, as every pass asks (threads.over_threads): set
    # and restored once, not around each pass (threadpoolctl, some 60 us each, a tenth of a
    # round on a thousand rows); the M-steps' small products gain nothing from BLAS threads.
    # On many cores the passes' groups of rows go to worker processes (pass_processes).
    with threads.one_blas_thread(), pass_processes.row_processes(data):
        for i, run in enumerate(runs):
            _advance(run, None, i, pending, results, on_done)
        while pending:
            order = list(pending)
            answers = e_step_many([pending[i] for i in order], data)
            for i, answer in zip(order, answers, strict=True):
                _advance(runs[i], answer, i, pending, results, on_done)
    return results  # type: ignore[return-value]


def _advance(
    run: Generator[Any, tuple[Any, float], EMResult],
    answer: Any,
    i: int,
    pending: dict,
    results: list,
    on_done: Callable[[int, EMResult], Any] | None = None,
) -> None:
    try:
        pending[i] = next(run) if answer is None else run.send(answer)
    except StopIteration as stop:
        pending.pop(i, None)
        results[i] = stop.value
        if on_done is not None:
            on_done(i, stop.value)


def e_step_many(models: list[Any], data: DataSource) -> list[tuple[Any, float]]:
    """Statistics summed over every chunk, and each objective, for several models in one
    pass over ``data`` (its ``map_reduce``).

    Models of one class that is a :class:`BatchedEStep` share the work on each chunk (one
    ``e_step_many`` per class); every other model runs its own ``e_step`` on the chunk.
    """
    groups: dict[Any, list[int]] = {}
    for i, model in enumerate(models):
        key = type(model) if offers(type(model), BatchedEStep) else ("alone", i)
        groups.setdefault(key, []).append(i)

    def e_steps(x: Any, w: np.ndarray | None) -> list[tuple[Any, float]]:
        out: list[Any] = [None] * len(models)
        for index in groups.values():
            group = [models[i] for i in index]
            answers = type(group[0]).e_step_many(group, x, w) if len(group) > 1 else None
            if answers is None:
                answers = [m.e_step(x, w) for m in group]
            for i, answer in zip(index, answers, strict=True):
                out[i] = answer
        return out

    totals = data.map_reduce(e_steps, _add_pairs)
    return [
        (stats, float(loglik) + model.log_prior())
        for model, (stats, loglik) in zip(models, totals, strict=True)
    ]


def _add_pairs(a: list[tuple[Any, float]], b: list[tuple[Any, float]]) -> list[tuple[Any, float]]:
    """Add two lists of (statistics, log-likelihood), pair by pair."""
    return [(sa + sb, la + lb) for (sa, la), (sb, lb) in zip(a, b, strict=True)]


def fit_starts(
    starts: Iterable[Any],
    data: DataSource,
    *,
    tol: float,
    max_iter: int,
    callback: Callable[[EMProgress], Any] | None = None,
    accelerate: str | None = None,
    total_weight: float | None = None,
    lockstep: bool = True,
    resolution: float = ROUNDING,
    checkpoint: Checkpoint | None = None,
    convergence: ConvergenceRule | None = None,
    last_pass: bool = False,
) -> FitResult:
    """Run EM from every start and keep the best: the one fit driver.

    The rule, the same for every estimator: a start whose final objective is finite beats one
    whose is not; then a start with no degenerate component (the model's ``degenerate``) beats
    one with some; then the higher final objective (``history[-1]``) wins, the earlier start
    on a tie (objectives within a hundredth of ``resolution``, relative, tie: 1e-12 in
    float64, below which they differ by the order of their sums' additions).

    Parameters
    ----------
    starts : iterable of :class:`LatentModel`, the starting values.
    data : the :class:`~emkit.backend.sources.DataSource`; every round maps the E-step of
        all running starts over it once.
    tol, max_iter, callback, accelerate, resolution, convergence, last_pass : as
        :func:`em_iterations`, for every start.
    total_weight : scale of ``tol``; default ``data.total_weight``.
    lockstep : True runs the starts together, one pass over the data per round for all of
        them (:func:`run_batch`). False runs them one after another, drawing each start from
        ``starts`` only when the one before has finished: for models whose M-step draws
        random numbers (a re-seed), so that a start's draws follow the previous run's.
    checkpoint : a :class:`~emkit.checkpoint.Checkpoint`: the runs' states are saved to it
        every ``checkpoint.every`` accepted steps and at the end of each run, and a fit that
        finds one continues from it, ending bit for bit where the uninterrupted checkpointed
        fit would. The starts then run one after another (as ``lockstep=False``), so that
        each run's arithmetic is the same whether or not it was interrupted; a lockstep fit
        (no checkpoint) reaches the same maximum to rounding only.

    Returns
    -------
    FitResult
    """
    if checkpoint is None and lockstep:
        return fit_groups(
            [starts],
            data,
            tol=tol,
            max_iter=max_iter,
            callback=callback,
            accelerate=accelerate,
            total_weight=total_weight,
            resolution=resolution,
            convergence=convergence,
            last_pass=last_pass,
        )[0]
    weight = data.total_weight if total_weight is None else total_weight

    def run(start: Any, index: int, **resuming: Any) -> Generator[Any, tuple[Any, float], EMResult]:
        return em_iterations(
            start,
            tol=tol,
            max_iter=max_iter,
            total_weight=weight,
            callback=_for_start(callback, index),
            accelerate=accelerate,
            resolution=resolution,
            convergence=convergence,
            last_pass=last_pass,
            **resuming,
        )

    if checkpoint is not None:
        results = _fit_with_checkpoint(starts, data, run, checkpoint)
    else:
        results = [run_batch([run(start, i)], data)[0] for i, start in enumerate(starts)]
    warn_falls(results)
    return _keep_best(results, resolution)


def fit_known(model: Any, stats: Any, log_likelihood: float) -> FitResult | None:
    """The fit that ends at its start ``model``, whose statistics ``stats`` and log-likelihood
    are known without a pass over the rows (a closed form: the M-step of labelled rows, whose
    statistics are those the model was made from): what :func:`fit_starts` with
    ``max_iter=0`` returns, its one evaluation read from the statistics.

    None where the model's rounding (:class:`ObjectiveRounding`: a nearly singular
    covariance's) passes :data:`ROUNDING` of the objective: read from the statistics, a trace
    of the precision times the scatter, it is then that far from the sum of the rows' log
    densities (1e-5 to 2e-4 of it where the ridge holds up a class on a plane), which
    :func:`fit_starts` with ``max_iter=0`` evaluates instead."""
    objective = log_likelihood + model.log_prior()
    if offers(type(model), ObjectiveRounding) and model.rounding(stats) > ROUNDING * max(
        1.0, abs(objective)
    ):
        return None
    return _keep_best([EMResult(model, log_likelihood, np.array([objective]), 0, False, stats)])


def fit_groups(
    groups: Iterable[Iterable[Any]],
    data: DataSource,
    *,
    tol: float,
    max_iter: int,
    callback: Callable[[EMProgress], Any] | None = None,
    accelerate: str | None = None,
    total_weight: float | None = None,
    resolution: float = ROUNDING,
    on_fit: Callable[[int, FitResult], Any] | None = None,
    convergence: ConvergenceRule | None = None,
    last_pass: bool = False,
) -> list[FitResult]:
    """:func:`fit_starts` of several fits at once (a model-selection grid), all in lockstep.

    Every start of every group runs in one :func:`run_batch`: each round is one pass over
    the data for all runs still going, however many fits they belong to (and the work on a
    chunk is shared among models of one class, :class:`BatchedEStep`). Each run is the run
    :func:`fit_starts` would make from its start, and each group keeps its best start by
    :func:`fit_starts`' rule.

    Parameters
    ----------
    groups : iterable of iterables of :class:`LatentModel`, the starts of each fit.
    data, tol, max_iter, callback, accelerate, total_weight, resolution, convergence,
    last_pass : as :func:`fit_starts`, for every run.
    on_fit : called as ``on_fit(g, fit)`` when the last run of group ``g`` ends.

    Returns
    -------
    list of FitResult, one per group, in order.
    """
    weight = data.total_weight if total_weight is None else total_weight
    runs: list[Generator[Any, tuple[Any, float], EMResult]] = []
    owner: list[int] = []
    size: list[int] = []
    for g, starts in enumerate(groups):
        before = len(runs)
        for i, start in enumerate(starts):
            runs.append(
                em_iterations(
                    start,
                    tol=tol,
                    max_iter=max_iter,
                    total_weight=weight,
                    callback=_for_start(callback, i),
                    accelerate=accelerate,
                    resolution=resolution,
                    convergence=convergence,
                    last_pass=last_pass,
                )
            )
            owner.append(g)
        size.append(len(runs) - before)
        if size[-1] == 0:
            raise ValueError("fit_starts needs at least one start")
    ended: list[list[tuple[int, EMResult]]] = [[] for _ in size]
    fits: list[FitResult | None] = [None] * len(size)

    def done(i: int, result: EMResult) -> None:
        g = owner[i]
        ended[g].append((i, result))
        if len(ended[g]) == size[g]:
            results = [r for _, r in sorted(ended[g], key=lambda pair: pair[0])]
            warn_falls(results)
            fits[g] = _keep_best(results, resolution)
            if on_fit is not None:
                on_fit(g, fits[g])  # type: ignore[arg-type]

    run_batch(runs, data, on_done=done)
    return fits  # type: ignore[return-value]


def _keep_best(results: list[EMResult], resolution: float = ROUNDING) -> FitResult:
    """The start to keep by :func:`fit_starts`' rule, with every start's run.

    Objectives within :data:`TIE_SHARE` of ``resolution`` (relative) tie: starts that reach
    one maximum differ there only by the rounding of their sums, which the order of the
    additions decides (chunks, Dask partitions), so the earlier start is kept whatever that
    order.
    """
    if not results:
        raise ValueError("fit_starts needs at least one start")
    best = None
    for result in results:
        degenerate = np.asarray(result.model.degenerate(result.stats), dtype=bool)
        objective = float(result.history[-1])
        key = (bool(np.isfinite(objective)), not degenerate.any())
        if best is None or key > best[0] or (key == best[0] and objective > best[1]):
            floor = objective + TIE_SHARE * resolution * max(1.0, abs(objective))
            best = (key, floor if np.isfinite(floor) else objective, result, degenerate)
    _, _, result, degenerate = best  # type: ignore[misc]
    return FitResult(result, degenerate, tuple(results))


def _state(policy: StepPolicy) -> StepPolicy | None:
    """The policy where it carries state from step to step (a dataclass, e.g. SQUAREM's step
    bound), for a checkpoint; None for a stateless one."""
    return policy if dataclasses.is_dataclass(policy) else None


def _check_resumed(recorded: float, objective: float) -> None:
    """A resumed model must have the objective its checkpoint recorded (same data)."""
    if not (
        recorded == objective
        or abs(recorded - objective) <= 1e-9 * max(1.0, abs(recorded))
        or (np.isnan(recorded) and np.isnan(objective))
    ):
        raise CheckpointError(
            f"the checkpoint's model has objective {objective!r} on this data, not the "
            f"{recorded!r} it recorded: it was written for other data; delete it to start afresh"
        )


def _fit_with_checkpoint(
    starts: Iterable[Any], data: DataSource, run: Callable[..., Any], checkpoint: Checkpoint
) -> list[EMResult]:
    """Run the starts one after another, saving and resuming their states (``fit_starts``)."""
    saved = checkpoint.load() or []
    states: list[RunState] = []
    steps_since_save = 0

    def record(i: int, state: RunState) -> None:
        nonlocal steps_since_save
        del states[i:]
        states.append(state)
        steps_since_save += 1
        if state.done or steps_since_save >= checkpoint.every:
            checkpoint.save(states)
            steps_since_save = 0

    results = []
    for i, start in enumerate(starts):
        resume = saved[i] if i < len(saved) else None
        if resume is not None:
            states.append(resume)

        def on_step(state: RunState, i: int = i) -> None:
            record(i, state)

        try:
            results.append(run_batch([run(start, i, resume=resume, on_step=on_step)], data)[0])
        except CheckpointError as exc:  # a resumed state not of this data: name its file
            raise CheckpointError(f"{checkpoint.path}: {exc}") from None
    return results


def check_ascent(old: float, new: float, resolution: float = ROUNDING, slack: float = 0.0) -> bool:
    """Whether an EM step from objective ``old`` to ``new`` lowered it beyond rounding
    (``resolution`` relative to it, plus ``slack``: the two models' own rounding in absolute
    terms, :class:`ObjectiveRounding`)."""
    return bool(new - old < -(resolution * max(1.0, abs(old)) + slack))


def warn_falls(results: Sequence[EMResult], label: str = "") -> None:
    """One MonotonicityWarning for the falls of a fit's runs (its starts), if any: how many,
    the largest with its iteration and values, and the first's iteration (the start each
    was in, where the fit had several); ``label`` (a grid's "VVV K=3") leads the message."""
    falls = [(i, fall) for i, result in enumerate(results) for fall in result.falls]
    if not falls:
        return
    several = len(results) > 1

    def where(i: int, fall: Fall) -> str:
        return f"iteration {fall.iteration}" + (f" of start {i}" if several else "")

    i, largest = max(falls, key=lambda pair: pair[1].size)
    message = (
        f"EM objective decreased by {largest.size:.3g} at {where(i, largest)} "
        f"({largest.old:.10g} -> {largest.new:.10g})"
    )
    if len(falls) > 1:
        message += f", the largest of {len(falls)} falls, the first at {where(*falls[0])}"
    warn_user(f"{label}: {message}" if label else message, MonotonicityWarning)


def _rounding(point: Point) -> float:
    """The absolute rounding of ``point``'s objective its model declares
    (:class:`ObjectiveRounding`); 0 for models that declare none."""
    if offers(type(point.model), ObjectiveRounding):
        return float(point.model.rounding(point.stats))
    return 0.0


def structure_changed(old: Any, new: Any) -> bool:
    """True where a step changed the model's size or the objective itself (``structure``)."""
    return bool(old.structure != new.structure)
