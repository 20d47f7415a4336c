"""The written-down interfaces of component families: one component, and K at once.

A single family (``Normal``, ``Poisson``, ``LinearGaussian``, ...) implements :class:`Family`;
:class:`~emkit.models.component_list.ComponentList` batches K of them, and the Gaussian
covariance structures (:mod:`emkit.distributions.gaussian`) hold K Gaussians natively; both
implement :class:`Components`, the interface a mixture model uses. Adding a family is one new
file implementing :class:`Family` plus one line in :mod:`emkit.distributions.registry`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np


class Stats(Protocol):
    """Sufficient statistics of a chunk: a value that adds up over chunks (a monoid).

    Members
    -------
    weight : float, or array of shape (k,) or (1,)
        Total weight (sum of responsibilities times sample weights) the statistics hold.
    __add__(other) -> Stats
        The statistics of both chunks together; exact up to rounding (centred moments merge
        with Chan's update).
    """

    weight: Any

    def __add__(self, other: Any) -> Any: ...


_OFFERS: dict[tuple[type, Any], bool] = {}


def offers(kind: type, protocol: Any) -> bool:
    """Whether instances of ``kind`` meet ``protocol`` (runtime-checkable, methods only):
    the answer of ``isinstance``, which inspects every member on every call (tens of
    microseconds, on every E-step and EM step), found once per class."""
    key = (kind, protocol)
    answer = _OFFERS.get(key)
    if answer is None:
        answer = _OFFERS[key] = issubclass(kind, protocol)
    return answer


@runtime_checkable
class Family(Protocol):
    """One component of a mixture: log densities, additive statistics and an M-step.

    Families are immutable values; an unfitted family has its parameters set to None.

    Members
    -------
    name : ClassVar[str]
        Key in :data:`~emkit.distributions.registry.FAMILIES` and in ``to_dict``.
    prior_type : ClassVar[type]
        The conjugate prior ``from_stats`` accepts (``type(None)``: none).
    fitted : bool
        True when every parameter is set (the family can give densities).
    for_data(x) -> Family
        This family made ready for data ``x`` of shape (n, d) before fitting (Categorical takes
        its number of categories from the data); every other family returns itself.
    in_support(x) -> array of bool, shape (n,)
        Rows of ``x`` (n, d) with positive density.
    check_support(x) -> None
        Raise ``ValueError`` saying what to do where ``x`` (n, d) is data the family cannot
        model at all (negative counts, non-integer codes, too few columns).
    log_prob(x) -> array of shape (n,)
        Log density of each row of ``x`` (n, d); -inf outside the support.
    suff_stats(x, w) -> Stats
        Statistics of rows ``x`` (n, d) with weights ``w`` (n,).
    from_stats(stats, prior=None) -> Family
        The M-step: maximum-likelihood (or, with a ``prior_type`` prior, MAP) parameters from
        ``stats``. Statistics of zero weight without a prior return the family unchanged.
    log_prior(prior) -> float
        Log density of the parameters under ``prior`` (up to a constant).
    degenerate(stats, prior=None, pooled=None) -> bool
        True where the fit to ``stats`` has collapsed (no weight, a variance at 0 or at a
        vanishing share of the data's, a rate at infinity), as mclust reports singular fits.
        ``pooled``: statistics of the same type over all the rows, the data's scale (the sum
        of the statistics of the mixture's components of this family), or None; families
        whose likelihood grows without bound as a spread shrinks (Normal, LinearGaussian)
        judge that spread against the pooled one, so the verdict does not change when the
        data are rescaled. None: the component is judged on its own statistics.
    n_parameters(n_features) -> int
        Free parameters for data of ``n_features`` columns.
    parameter_widths() -> dict[str, int]
        For each parameter that is set, the number of columns of data it is for (a Normal's
        mean of shape (d,): d; a LinearGaussian's coef of shape (p,): p + 1, the response
        included); empty where none is set or every width fits (a point mass). A mixture
        refuses given parameters whose width is not its data's.
    sample(n, rng, n_features=None) -> array of shape (n, d)
        ``n`` rows drawn with ``rng`` (a ``numpy.random.Generator``); ``n_features`` sets d
        where the family has no parameter of its own (a point mass).
    to_dict() -> dict
        Plain values with the key ``"family"`` (``name``); the registry's
        :func:`~emkit.distributions.registry.family_from_dict` reads it back.

    Optional member, for input checks
    -----------------------------------
    fixed_support : ClassVar[bool]
        True where ``in_support`` and ``check_support`` do not depend on the parameters
        (every member of the family has the same support) and ``check_support`` accepts
        exactly the data whose every row lies in the support: a mixture then checks its data
        once per such family, not once per component, and needs no ``in_support``.

    Optional member, for model files (:func:`emkit.load`)
    -----------------------------------------------------
    model_domains : ClassVar[dict[str, str]]
        For a parameter whose M-step may reach an edge of its domain that no fitted model
        holds (a Normal's variance of 0), the narrower domain a model file must keep, a key of
        :data:`~emkit.distributions.base.DOMAINS`; absent or empty where there is none.

    Optional member, for ``estimate()``'s check of its rows
    -------------------------------------------------------
    row_moments(stats, n_features) -> (weight, mean, scatter or None)
        What ``stats`` (of rows with ``n_features`` columns) say of the rows themselves: their
        weight, each column's weighted mean (d,), and each column's centred scatter
        sum_n w_n (x_nj - mean_j)^2 (d,), or None where the statistics do not
        hold it (Poisson, Exponential, Gamma). A row's responsibilities add up to its weight,
        so the components' moments merged are the rows' own, with no pass of their own.

    Optional members, for the mixture E-step and SQUAREM (every family but LinearGaussian)
    -------------------------------------------------------------------------------------
    kernel(members) -> FamilyKernel or None
        Class method: K fitted members of this family at once (:class:`FamilyKernel`), or
        None where their parameters need the members' own ``log_prob`` (a rate of 0, a
        probability of 1); :class:`~emkit.models.component_list.ComponentList` then uses
        :class:`~emkit.distributions.batched.EachKernel`.
    to_vector() -> array of shape (p,)
        The parameters as one unconstrained vector (log rates, logits, ...).
    from_vector(vector) -> Family
        The family at ``to_vector``'s layout; ``ValueError`` where invalid.

    Optional members, for a mixture's observed information (``MixtureModel.estimate``): closed
    forms (Normal, Poisson, Exponential, Bernoulli, Gamma); a family without them gets central
    differences of ``log_prob`` in ``to_vector``'s coordinates
    -------------------------------------------------------------------------------------------
    local_scores(x, w) -> (array of shape (n, p), array of shape (p, p))
        Each row's gradient of ``log_prob`` at these parameters, for rows ``x`` (n, d) in the
        support, and the Hessian of sum_n w_n log p(x_n) (``w`` (n,)), in local
        coordinates of the p free parameters laid out as ``to_vector`` (log rates, logits),
        chosen orthogonal at the fit where the family allows (Normal: the mean counted from
        the fitted one in fitted standard deviations; Gamma: log shape at a fixed mean, log
        mean), so that data far from 0 or a tight gamma keep the information well
        conditioned. Where ``to_vector`` is infinite (a rate of 0) that coordinate is unused.
    local_jacobian() -> array of shape (q, p)
        Jacobian of the ``to_dict`` parameters, raveled in ``params`` order (q entries), with
        respect to ``local_scores``' coordinates.

    Optional members, for :mod:`emkit.mle` and :mod:`emkit.bayes` (families with a closed-form
    MLE and a proper conjugate prior: Normal, Poisson, Bernoulli, Categorical, Exponential)
    -------------------------------------------------------------------------------------
    asymptotic_covariance(scale=None) -> array of shape (p, p)
        Inverse Fisher information of one row at these parameters, raveled in ``to_dict``
        order; divide by N for the MLE's covariance. Given ``scale`` (p,), divided by
        ``outer(scale, scale)`` without leaving float64's range on the way (the variance of
        a rate of 1e200 is 1e400; in units of the rate it is 1).
    conjugate_update(stats, hyper) -> dict
        Posterior hyperparameters of ``prior_type`` (keyed by its fields) from prior ones
        ``hyper`` and ``stats``; its mode is ``from_stats(stats, prior)``.
    """

    name: ClassVar[str]
    prior_type: ClassVar[type]

    @property
    def fitted(self) -> bool: ...

    def for_data(self, x: np.ndarray) -> Any: ...

    def in_support(self, x: np.ndarray) -> np.ndarray: ...

    def check_support(self, x: np.ndarray) -> None: ...

    def log_prob(self, x: np.ndarray) -> np.ndarray: ...

    def suff_stats(self, x: np.ndarray, w: np.ndarray) -> Any: ...

    def from_stats(self, stats: Any, prior: Any = None) -> Any: ...

    def log_prior(self, prior: Any) -> float: ...

    def degenerate(self, stats: Any, prior: Any = None, pooled: Any = None) -> bool: ...

    def n_parameters(self, n_features: int) -> int: ...

    def parameter_widths(self) -> dict[str, int]: ...

    def sample(
        self, n: int, rng: np.random.Generator, n_features: int | None = None
    ) -> np.ndarray: ...

    def to_dict(self) -> dict: ...


@runtime_checkable
class FamilyKernel(Protocol):
    """K components of one family kind on blocks of rows (:mod:`emkit.distributions.batched`).

    Arrays are component-major: ``resp`` and the log densities have shape (k, m).

    Members
    -------
    log_density(x, cache) -> array of shape (k, m)
        Log density of each row of ``x`` (m, d) under each component; -inf outside the
        support. ``cache`` is a dict shared by the kernels evaluated on the same block: the
        rows' own statistics are computed once there for every mixture.
    sums(x, resp, cache) -> value that adds
        The statistics' sums of rows ``x`` under weighted responsibilities ``resp`` (k, m).
    stats(weight, sums) -> tuple of K Stats
        Each component's statistics from its weight (k,) and the added ``sums``.
    """

    def log_density(self, x: np.ndarray, cache: dict) -> np.ndarray: ...

    def sums(self, x: np.ndarray, resp: np.ndarray, cache: dict) -> Any: ...

    def stats(self, weight: np.ndarray, sums: Any) -> tuple: ...


@runtime_checkable
class Components(Protocol):
    """K components of a mixture at once: what :class:`~emkit.models.mixture.Mixture` uses.

    Implemented by :class:`~emkit.models.component_list.ComponentList` (K :class:`Family`
    values, kinds mixed freely) and by the Gaussian covariance structures
    (:class:`~emkit.distributions.gaussian.GaussianComponents`). The ``prior`` of the Gaussian
    structures is a :class:`~emkit.distributions.regularization.Regularization`; a
    ``ComponentList`` carries one prior per family and ignores it.

    Members
    -------
    n_components : int
        K.
    ridge : float
        The covariance ridge the M-step that made these components used: it rises above the
        requested ``reg_covar`` where a collapsed component needed more to stay non-singular,
        and the objective EM climbs changes with it. 0 for components without one.
    log_prob(x) -> array of shape (n, k)
        Log density of each row of ``x`` (n, d) under each component.
    suff_stats(x, resp) -> Stats
        Statistics of rows ``x`` (n, d) with responsibilities ``resp`` (n, k); weight (k,).
    m_step(stats, prior) -> Components
        Each component's (MAP) estimate from its statistics; a component whose weight has
        vanished keeps its previous parameters.
    log_prior(prior) -> float
        Log prior density of the components (up to a constant).
    degenerate(stats, prior) -> array of bool, shape (k,)
        Components that have collapsed or emptied.
    take(keep) -> Components
        The components at indices ``keep`` (pruning).
    n_parameters(n_features) -> int
        Free parameters of the K components.
    sample(counts, rng, n_features) -> array of shape (sum(counts), d)
        ``counts[k]`` rows from component k, stacked in component order.

    Optional: :class:`FusedComponents` (a one-pass E-step) and :class:`VectorComponents`
    (a parameter vector for SQUAREM), offered by the Gaussian structures and by ``ComponentList``.
    """

    @property
    def n_components(self) -> int: ...

    @property
    def ridge(self) -> float: ...

    def log_prob(self, x: np.ndarray) -> np.ndarray: ...

    def suff_stats(self, x: np.ndarray, resp: np.ndarray) -> Any: ...

    def m_step(self, stats: Any, prior: Any) -> Any: ...

    def log_prior(self, prior: Any) -> float: ...

    def degenerate(self, stats: Any, prior: Any) -> np.ndarray: ...

    def take(self, keep: np.ndarray) -> Any: ...

    def n_parameters(self, n_features: int) -> int: ...

    def sample(
        self, counts: np.ndarray, rng: np.random.Generator, n_features: int
    ) -> np.ndarray: ...


@runtime_checkable
class FusedComponents(Protocol):
    """Components whose E-step statistics come from one fused pass over a chunk.

    Members
    -------
    fused_e_step(x, log_weights, sample_weight) -> (Stats, float) or None
        Statistics and log-likelihood of chunk ``x`` (n, d) under the mixture with log weights
        ``log_weights`` (k,) in one pass (:mod:`emkit.backend.kernels`); None where the fused
        form would be inexact, and the mixture then takes ``log_prob`` and ``suff_stats``.
    fused_e_step_many(components, log_weights, x, sample_weight) -> list or None
        Static: the same for several mixtures of one structure on one chunk (batched restarts).
    """

    def fused_e_step(
        self, x: np.ndarray, log_weights: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> tuple[Any, float] | None: ...

    @staticmethod
    def fused_e_step_many(
        components: list[Any],
        log_weights: list[np.ndarray],
        x: np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> list[tuple[Any, float]] | None: ...


@runtime_checkable
class VectorComponents(Protocol):
    """Components with an unconstrained parameter vector, for extrapolation (SQUAREM).

    Members
    -------
    to_vector() -> array of shape (p,), or None
        The parameters as one unconstrained vector; None where some component has no vector
        form (a ``ComponentList`` holding a LinearGaussian).
    from_vector(vector) -> Components
        Components of the same kind and size at ``vector``; LinAlgError where invalid.
    """

    def to_vector(self) -> np.ndarray: ...

    def from_vector(self, vector: np.ndarray) -> Any: ...
