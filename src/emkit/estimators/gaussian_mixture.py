"""``GaussianMixture``: the scikit-learn estimator over the EM engine."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from emkit.backend.dask_source import is_dask_collection
from emkit.backend.inputs import as_source, checked, start_rows
from emkit.backend.namespace import is_device_array
from emkit.backend.sampling import sample_indices
from emkit.backend.sources import DataSource, array_source, feature_names
from emkit.checkpoint import Checkpoint
from emkit.distributions.base import refuse_booleans
from emkit.distributions.gaussian import ALIASES, COVARIANCES, covariance_structure
from emkit.distributions.gaussian.diag import DiagGaussian
from emkit.distributions.priors import NormalInverseWishart
from emkit.em import FitResult, fit_starts
from emkit.estimators._device import (
    check_device_rows,
    float_dtype,
    memory_message,
    placement,
    refuse_dask_device,
    refuse_single_rounding,
    resolution,
    sample_host_rows,
)
from emkit.estimators._fingerprint import DataFingerprint, check_same_rows
from emkit.estimators._inputs import (
    by_chunk,
    dask_sample,
    dask_total,
    queried_array,
    weighted_source,
)
from emkit.estimators._mixture_api import (
    MixtureQueries,
    observed_fit,
    sample_count,
    warn_if_pruned,
    warn_if_ridge_outweighs,
    warn_unless_converged,
)
from emkit.estimators._state import restores_on_error
from emkit.estimators._validation import (
    MISSING_EM_HINT,
    check_feature_names,
    check_incomplete_rows,
    check_observed,
    check_rows,
    check_weights,
    names_checked,
    observed_columns,
    observed_together,
    paired_rows,
    refuse_warm_start,
    rows_from_file,
    warm_fit,
)
from emkit.estimators._verbose import VerbosePrinter, print_ends
from emkit.estimators.model_check import check_structure
from emkit.estimators.persist import ModelFileMixin
from emkit.exceptions import DegenerateFitWarning, warn_user
from emkit.init import INIT_METHODS, components_from_responsibilities, initial_responsibilities
from emkit.models.component_list import EMPTY_WEIGHT
from emkit.models.missing import MissingMixture, fill_column_means
from emkit.models.mixture import Mixture

MODELS = {"error": Mixture, "em": MissingMixture}  # by ``missing``


# GaussianMixture._get_param_names, per class
_PARAM_NAMES: dict[type, tuple[str, ...]] = {}


@dataclass(frozen=True)
class FitPlan:
    """What ``GaussianMixture.fit`` hands the fit driver: the data source, the starts
    (:class:`~emkit.models.mixture.Mixture`), the driver's options (tol, max_iter, callback,
    accelerate, resolution) and the device placement (None: NumPy)."""

    data: DataSource
    starts: list
    options: dict
    place: Any


@dataclass
class SharedStarts:
    """What the plans of several fits to the same rows (a model-selection grid) share: the
    validated rows, the start rows drawn from them, each start's responsibilities and their
    moments. A piece is reused only where the fit would compute it from the same inputs (the
    same array, the same random state before the draw), so each plan is the plan that fit
    makes alone; a reused draw leaves the fit's random state where its own draw would."""

    rows: tuple | None = None  # (X as given, missing, the array check_rows returned)
    samples: dict = field(default_factory=dict)  # (rows, random state) -> start rows
    starts: dict = field(default_factory=dict)  # (rows, k, method, random state) -> resp
    moments: dict = field(default_factory=dict)  # for components_from_responsibilities
    # pairs (bool) -> ((X, sample_weight) as given, their observed weights): missing="em"
    observed: dict = field(default_factory=dict)

    def recall(self, table: dict, rows: np.ndarray, options: tuple, rng, compute) -> np.ndarray:
        """``compute()``, an array drawn from ``rows`` with ``rng``: kept in ``table`` (read
        only) under ``rows``, ``options`` and ``rng``'s state, and taken from there by a later
        plan whose ``rng`` is in the same state, which is then left where ``compute`` leaves
        it."""
        key = (id(rows), *options, _state_key(rng))
        found = table.get(key)
        if found is not None and found[0] is rows:  # not another array at a reused address
            rng.set_state(found[2])
            return found[1]
        value = compute()
        value.flags.writeable = False
        table[key] = (rows, value, rng.get_state())
        return value


def _state_key(rng) -> tuple:
    """A hashable copy of the state of a ``RandomState``."""
    name, keys, pos, has_gauss, cached = rng.get_state()
    return (name, keys.tobytes(), pos, has_gauss, cached)


# Starting values come from at most this many rows (a uniform sample, the same in memory and
# out of core): k-means++ and k-means then cost the same for any n.
INIT_ROWS = 100_000


def _observed_weights(
    data: DataSource, pairs: bool, given: tuple, shared: SharedStarts | None
) -> np.ndarray:
    """Weight of the rows of ``data`` that observe each column (d,), or each pair of columns
    (d, d) where ``pairs`` (:func:`~emkit.estimators._validation.check_observed` reads
    them). One pass over the data; where the plans sharing ``shared`` read the same
    ``given`` (X and sample_weight as given), one pass for all of them: a plan that needs
    columns only reads them off the pairs of one before it."""
    table = {} if shared is None else shared.observed
    for stored in (True,) if pairs else (False, True):
        found = table.get(stored)
        if found is not None and all(a is b for a, b in zip(found[0], given, strict=True)):
            return found[1] if stored == pairs else np.diag(found[1])
    value = data.map_reduce(observed_together if pairs else observed_columns)
    table[pairs] = (given, value)
    return value


def _start_sample(x: np.ndarray, rng) -> np.ndarray:
    """``INIT_ROWS`` rows of ``x`` drawn uniformly with ``rng``, as float64."""
    return np.asarray(x[sample_indices(x.shape[0], INIT_ROWS, rng)], dtype=np.float64)


PLOT_ROWS = 10_000  # rows a figure of a Dask collection draws


class GaussianMixture(MixtureQueries, ModelFileMixin, DensityMixin, BaseEstimator):
    r"""Gaussian mixture fitted by EM, a drop-in for scikit-learn's ``GaussianMixture``.

    EM climbs the observed-data log-likelihood
    :math:`\ell(\theta) = \sum_n w_n \log \sum_k \pi_k \mathcal N(x_n \mid \mu_k, \Sigma_k)`
    until its per-sample gain falls below ``tol``; every iteration's value is in ``history_``.

    Parameters
    ----------
    n_components : int, number of mixture components.
    covariance_type : {"full", "tied", "diag", "spherical"} or one of mclust's 14 models "EII",
        "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV"
        (the first four are aliases of VVV, EEE, VVI, VII; "E" and "V" name EII and VII for
        one-dimensional data). See :mod:`emkit.distributions.gaussian.eigen` for their M-steps.
    tol : float, convergence threshold on the gain in mean log-likelihood per sample
        (default 1e-8: tight enough to reach the optimum; scikit-learn's 1e-3 stops short).
        Plain EM stops at the first step that gains less; SQUAREM (``accelerate``) stops where
        the gain still to come, estimated from its steps, is below it.
    reg_covar : float, the ridge :math:`c` that keeps components non-singular: each covariance
        is :math:`(S_k + cI)/N_k`, the MAP of the prior :math:`-\tfrac c2 \operatorname{tr}
        \Sigma_k^{-1}` (scikit-learn adds :math:`c` after dividing by :math:`N_k`); 0 gives the
        maximum-likelihood fit. A :class:`~emkit.exceptions.ScaleWarning` says where it
        outweighs the data's variance. Where a covariance is singular at this ridge (with
        ``reg_covar=0``: a constant column, duplicate rows, a component on fewer rows than
        dimensions), each M-step where it is raises the ridge tenfold, from 1e-12 of the largest
        covariance entry (of the data's largest variance where every component is on one
        point), until every covariance is positive definite, and ``history_`` then
        holds this ridge's prior term: about :math:`-N_k/2` for each direction in which
        component :math:`k` has no spread, so ``history_`` falls at the first such step
        (listed in ``structure_changes_``; no MonotonicityWarning) and stays below
        ``log_likelihood_``.
    max_iter : int, EM iterations per start at most.
    n_init : int, number of starts; the best objective (``history_[-1]``: the log-likelihood
        plus the ridge's and any prior's log density, which is what EM climbs) among the
        non-degenerate fits is kept.
    init_params : {"k-means++", "kmeans", "random", "random_from_data", "hc"}. "hc" starts
        from mclust's model-based hierarchical clustering (:mod:`emkit.hierarchical`),
        deterministic; with ``n_init > 1`` the further starts are k-means++ restarts. Its
        tree is built on the rows of positive ``sample_weight``, each read once whatever its
        weight (mclust's ``hc`` takes no weights); rows of weight 0 are left out of it.
        "random" draws responsibilities for each row as given and "random_from_data" draws
        rows uniformly, both whatever their weights: a weighted fit then starts elsewhere
        than the fit of its rows repeated, and may end at another optimum.
    weights_init, means_init, precisions_init : optional starting values (scikit-learn layouts).
    random_state : int, RandomState or None.
    warm_start : bool, start from the previous fit's parameters.
    callback : callable receiving an :class:`emkit.em.EMProgress` after every iteration.
    verbose : int, scikit-learn's printout of EM on stdout: 0 none; 1 each start (its index
        when ``n_init`` > 1) and every ``verbose_interval``-th iteration, then whether it
        converged; 2 also the time since the start's last line, the change of the
        log-likelihood per row and its final lower bound (``lower_bound_``'s units).
    verbose_interval : int, iterations between two printed lines.
    missing : {"error", "em"}, what NaN in ``X`` means. "error" rejects it; "em" takes NaN as
        values missing at random (Ghahramani and Jordan, 1994): each row's E-step uses its
        observed coordinates, the statistics carry the conditional second moments, and the
        log-likelihood is that of the observed values. predict, predict_proba and
        score_samples then accept NaN too. A row with no observed value is an error in fit,
        as is a column observed in no row of positive weight; two columns never observed in
        one such row get a DegenerateFitWarning (the likelihood does not depend on their
        covariance, whose fitted value is then EM's, not the data's). With "em" the fit is
        maximum likelihood (with the ``reg_covar`` ridge) by soft EM only: fit refuses
        ``covariance_prior``, ``weight_concentration`` other than 1, ``assignment="hard"`` and
        ``prune_weight`` above 0 with a ValueError.
    accelerate : "squarem" (default) or None. SQUAREM (Varadhan and Roland, 2008, see
        :mod:`emkit.accel`) extrapolates the EM map, falling back to plain EM steps where that
        does not pay, so the objective never decreases; None runs plain EM. Where the fit
        SQUAREM keeps (of the ``n_init`` starts) is degenerate, ``fit`` runs plain EM from the
        same starts and keeps that fit instead where it is regular: extrapolation can
        overshoot into a collapsed component that plain EM's path, mclust's, never reaches
        (mclust's ``cross`` data, VEV K=4 from the hierarchical start: -2778.49 with a
        component on one row, against plain EM's and mclust's regular -2787.17). Only such
        fits pay for the second fit; the parameter keeps its value. Hard assignment and
        ``prune_weight`` above 0 always run plain EM.
    dtype : None, float32 or float64 (a NumPy or torch dtype, or its name): the dtype the
        data are kept, read and computed in (None: float64, or float32 on a CUDA device).
        Statistics are always accumulated in float64; float32 halves the memory and the bytes
        read. A fit in float32 refuses integers beyond 2**24, which float32 rounds; queries
        (``predict``, ``score_samples``, ...) read their rows in float64 whatever ``dtype``,
        so such integers are read exactly there.
    weight_concentration : float, Dirichlet prior :math:`\alpha` on the weights (MAP: EM then
        climbs the log-posterior). 1 is flat; below 1 favours few components, and a component
        whose :math:`N_k + \alpha - 1` is not positive is removed (a UserWarning then says how
        many, as for ``prune_weight``).
    covariance_prior : None, "mclust" (Fraley and Raftery's default conjugate prior, as mclust's
        ``priorControl()``), or a dict with any of the keys ``mean`` (shape (d,)), ``shrinkage``
        (:math:`\kappa \ge 0`), ``dof`` (:math:`\nu > d - 1`) and ``scale`` (shape (d, d),
        or a number c for :math:`cI`) of a normal-inverse-Wishart prior on each component's
        mean and covariance; it keeps covariances from collapsing. A key left out takes
        "mclust"'s data-based value, as mclust's ``priorControl(dof = ...)`` does: mean the
        data mean, shrinkage 0.01, dof d + 2, scale as
        :meth:`~emkit.distributions.priors.NormalInverseWishart.mclust` (so ``{}`` is
        "mclust"); a mean or scale whose shape does not fit X's d features is a ValueError.
        Each model reads it as mclust's EM does, which has no prior for VEE, EVE, VVE and EVV
        (they take VVV's), and whose EEI leaves the means unshrunk where emkit's MAP shrinks
        them (see :class:`~emkit.distributions.priors.NormalInverseWishart`).
    assignment : "soft" (EM) or "hard" (classification EM: each row wholly to its most
        probable component; the objective, in ``history_``, is the classification
        log-likelihood :math:`\sum_n w_n \max_k \log \pi_k \mathcal N(x_n \mid \mu_k, \Sigma_k)`).
    prune_weight : float in [0, 1); components whose weight falls below it during EM are
        dropped (iterations listed in ``structure_changes_``, where the objective may drop);
        where every component falls below it at once, only the heaviest is kept, so a
        ``prune_weight`` above ``1 / n_components`` may leave one. A fit that ends with fewer
        components than ``n_components`` (``len(weights_)`` of them) warns (UserWarning) how
        many EM removed and why.
    device : None (NumPy on the host), or "cpu", "cuda", "cuda:1" or a ``torch.device``: the
        E-step runs there on the PyTorch backend (``pip install "emkit[torch]"``); a torch
        tensor passed to ``fit`` runs on its own device. Rows are copied to the device once,
        or streamed chunk by chunk from a file or memory map; fitted attributes stay NumPy
        arrays, and predict, predict_proba and score_samples answer a tensor with a tensor on
        its device.

    Attributes
    ----------
    weights_ : array of shape (k,).
    means_ : array of shape (k, d).
    covariances_ : full (k, d, d), tied (d, d), diag (k, d), spherical (k,).
    precisions_cholesky_ : same layout; U with Sigma^{-1} = U U^T.
    precisions_ : same layout; Sigma^{-1} (computed from ``precisions_cholesky_``).
    converged_ : bool.
    n_iter_ : int, accepted steps in the kept start: M-steps of plain EM; with SQUAREM each
        is one cycle of about three M-steps (``max_iter`` bounds the M-steps either way).
    log_likelihood_ : float, total (weighted) log-likelihood at the returned parameters (the
        observed-data one, ``score_samples(X) @ sample_weight``, for a hard fit too: one more
        pass over the rows at the end).
    lower_bound_ : float, ``log_likelihood_`` per row (per unit of sample weight), under
        scikit-learn's name for it.
    lower_bounds_ : array of shape (``n_iter_``,), ``history_`` after each accepted step per row
        (per unit of sample weight), as scikit-learn's (1.6+): the mean log-likelihood plus the
        ridge prior's share, so with ``reg_covar=0`` and soft assignments the last entry is
        ``lower_bound_``. scikit-learn's entries are one step behind: its i-th is at the
        parameters before its i-th M-step, and its ``lower_bound_`` is its last entry.
    history_ : array, the objective EM climbs, before the first and after every accepted step: the
        log-likelihood plus the ridge prior's log-density, -c/2 sum_k tr(Sigma_k^{-1}) with
        c the ridge the step used (the M-step is this MAP); c is ``reg_covar``, or higher
        where the M-step raised it (see ``reg_covar``), so with reg_covar=0 it is the
        log-likelihood until a ridge is raised. With ``assignment="hard"`` the classification
        log-likelihood in place of the log-likelihood.
    degenerate_ : bool, True if any component is singular but for regularisation (with
        ``missing="em"``, judged on the rows as completed and, where values are missing,
        against the ridge too: :meth:`emkit.models.missing.MissingMixture.degenerate`).
    degenerate_components_ : bool array of shape (k,).
    structure_changes_ : tuple of the iterations where pruning (or a raised ridge) changed the
        model or its objective; ``history_`` may fall only there.
    n_features_in_ : int.
    feature_names_in_ : array of str of shape (d,), the column names of ``X``;
        only where ``X`` was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import GaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal([0, 0], 1, (100, 2)), rng.normal([5, 5], 0.5, (50, 2))])
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> gm.weights_.round(3)
    array([0.667, 0.333])
    >>> gm.means_.round(2)
    array([[-0.07,  0.1 ],
           [ 4.82,  5.04]])
    >>> gm.converged_, round(gm.log_likelihood_, 2)
    (True, -450.76)
    >>> gm.predict(np.array([[0.0, 0.0], [5.0, 5.0]]))
    array([0, 1])
    >>> round(float(gm.bic(X)), 2)
    956.63
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions(set(COVARIANCES) | set(ALIASES))],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions(set(INIT_METHODS))],
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "callback": [callable, None],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
        "missing": [StrOptions({"error", "em"})],
        "accelerate": [StrOptions({"squarem"}), None],
        "weight_concentration": [Interval(Real, 0.0, None, closed="neither")],
        "covariance_prior": [StrOptions({"mclust"}), dict, None],
        "assignment": [StrOptions({"soft", "hard"})],
        "prune_weight": [Interval(Real, 0.0, 1.0, closed="left")],
        "dtype": "no_validation",
        "device": "no_validation",
    }
    _fitted_attributes = (
        "weights_",
        "means_",
        "covariances_",
        "precisions_cholesky_",
        "converged_",
        "n_iter_",
        "log_likelihood_",
        "history_",
        "degenerate_",
        "degenerate_components_",
        "structure_changes_",
        "n_features_in_",
    )

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """scikit-learn's constructor parameters of ``cls``, read from ``__init__``'s signature
        once per class: scikit-learn reads it at every ``get_params`` (``clone``,
        ``set_params``, the parameter check of every fit), some five times per fit of a
        ``select_mixture`` grid (4% of its time on iris)."""
        names = _PARAM_NAMES.get(cls)
        if names is None:
            names = _PARAM_NAMES[cls] = tuple(super()._get_param_names())
        return list(names)

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-8,
        reg_covar=1e-6,
        max_iter=1000,
        n_init=1,
        init_params="k-means++",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        callback=None,
        missing="error",
        accelerate="squarem",
        dtype=None,
        weight_concentration=1.0,
        covariance_prior=None,
        assignment="soft",
        prune_weight=0.0,
        device=None,
        verbose=0,
        verbose_interval=10,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.callback = callback
        self.missing = missing
        self.accelerate = accelerate
        self.dtype = dtype
        self.weight_concentration = weight_concentration
        self.covariance_prior = covariance_prior
        self.assignment = assignment
        self.prune_weight = prune_weight
        self.device = device
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    # --- fitting ------------------------------------------------------------------------
    @restores_on_error
    @paired_rows("sample_weight")
    def fit(self, X, y=None, sample_weight=None, checkpoint=None):
        """Fit by EM from ``n_init`` starts; keep the best non-degenerate one.

        Parameters
        ----------
        X : array-like of shape (n, d), finite (NaN where missing with ``missing="em"``); or
            data read chunk by chunk, with memory that does not grow with n: a path to a
            ``.npy`` or Parquet file, a ``np.memmap``, or a re-iterable of 2-D arrays (a list of
            arrays, or an object whose ``__iter__`` starts over). Each chunk is checked as it
            is read. Or a dask Array or DataFrame: EM then runs on the active
            ``dask.distributed`` client (Dask's local scheduler without one), the partitions
            staying on the workers (:mod:`emkit.backend.dask_source`).
        y : ignored.
        sample_weight : array-like of shape (n,), non-negative; a weight of m counts a row m
            times (the fit of the rows repeated, but from another start with
            ``init_params`` "random", "random_from_data" or "hc": see there).
        checkpoint : path of a checkpoint file, or None. The state of the fit is saved there
            every few EM steps (written whole); a fit killed on the way and started again with
            the same data, parameters and file continues from it and ends with the answer of
            an uninterrupted fit with the same checkpoint, bit for bit (:mod:`emkit.checkpoint`).
            The starts then run one after another, each alone, where a fit without a checkpoint
            runs its ``n_init`` starts in lockstep (sharing each pass): the two reach the same
            maximum to rounding, not to the last bit (``n_init=2``: means 2e-14 apart), and
            where that rounding moves SQUAREM's stop by a cycle (a flat likelihood: ``tied``
            K=4 on three clusters), both stop within about ``tol`` times the rows of it.
            Plain EM's fit after a degenerate SQUAREM fit (see ``accelerate``) keeps its own
            file beside it, ``-plain`` added to the name (``fit.json``: ``fit-plain.json``).

        Returns
        -------
        GaussianMixture
            The fitted estimator, ``self``.

        Notes
        -----
        The ``n_init`` starts run together: one pass over the data per round serves every start
        still running (for Gaussian components, the quadratic features of each row are built
        once for all of them).
        """
        warm = self.warm_start and hasattr(self, "weights_")
        plan = self._fit_plan(X, sample_weight)
        # A warm start continues from the fitted model: that model is part of the fit's key.
        saved = Checkpoint.for_fit(checkpoint, self, plan.data, warm=plan.starts if warm else None)
        with memory_message(plan.place, plan.data):
            fit = fit_starts(plan.starts, plan.data, **plan.options, checkpoint=saved)
            fit = observed_fit(fit, plan.data)
            plain = self._plain_fit(fit, plan, saved)
        # the fit kept is plain EM's (accelerate=None), read by select_mixture; not saved
        self._plain_em = plain is not None
        return self._fitted(fit if plain is None else plain, plan.options["callback"])

    def _plain_fit(
        self, fit: FitResult, plan: FitPlan, saved: Checkpoint | None
    ) -> FitResult | None:
        """Where SQUAREM's ``fit`` ends degenerate, plain EM's fit from the same starts (the
        plan's, under its options but ``accelerate=None``; its checkpoint beside ``saved``,
        with ``-plain`` added to its name) if that one is regular, else None. Extrapolation
        can overshoot into a collapsed component that EM's path, mclust's, never reaches
        (mclust's ``cross`` data, VEV K=4)."""
        if plan.options["accelerate"] is None or not np.any(fit.degenerate):
            return None
        if self.verbose:
            print("SQUAREM's fit is degenerate: plain EM from the same starts")
        options = {**plan.options, "accelerate": None}
        plain = fit_starts(plan.starts, plan.data, **options, checkpoint=_plain_checkpoint(saved))
        plain = observed_fit(plain, plan.data)
        return None if np.any(plain.degenerate) else plain

    def _fit_plan(self, X, sample_weight=None, shared: SharedStarts | None = None) -> FitPlan:
        """Everything ``fit`` hands the driver (:func:`emkit.em.fit_starts`): the data source,
        the starts and the options; :func:`emkit.select_mixture` hands the plans of a whole
        grid to :func:`emkit.em.fit_groups` at once, their common work in ``shared``."""
        self._validate_params()
        warm = self.warm_start and hasattr(self, "weights_")
        if warm:
            self._check_warm_start(X)
        rng = check_random_state(self.random_state)
        refuse_dask_device(type(self).__name__, self.device, X)
        place = placement(self.device, X, self.dtype)
        with warm_fit(warm):
            data, x, w = self._data(
                X, sample_weight, reset=not warm, rng=rng, place=place, shared=shared
            )
        structure = covariance_structure(self.covariance_type, data.n_features)
        self._check_options()
        if self.missing == "em":  # what the observed values leave undetermined
            pairs = not structure.diagonal_stats  # a diagonal structure reads columns only
            observed = _observed_weights(data, pairs, (X, sample_weight), shared)
            check_observed(observed, getattr(self, "feature_names_in_", None))
        prior = self._covariance_prior(x, w, structure)
        starts = (
            [self._mixture()]
            if warm
            else [
                self._initial_mixture(
                    x, w, structure, rng, first=i == 0, shared=shared, prior=prior
                )
                for i in range(self.n_init)
            ]
        )
        starts = [self._with_options(start, prior) for start in starts]
        # Extrapolation needs a fixed parameter space and a smooth objective.
        plain = self.assignment == "hard" or self.prune_weight > 0
        callback = self.callback
        if self.verbose:
            weight = data.total_weight
            callback = VerbosePrinter(
                int(self.verbose), self.verbose_interval, weight, len(starts), then=callback
            )
        options = {
            "tol": self.tol,
            "max_iter": self.max_iter,
            "callback": callback,
            "accelerate": None if plain else self.accelerate,
            "resolution": resolution(place),
        }
        return FitPlan(data, starts, options, place)

    def _fitted(self, fit: FitResult, printer: Any = None):
        """Set the fitted attributes from the driver's result; warn where the kept start did
        not converge or has degenerate components. ``printer``: the fit's callback (a
        :class:`~emkit.estimators._verbose.VerbosePrinter` where ``verbose``)."""
        result, degenerate = fit.best, fit.degenerate
        if self.verbose:
            print_ends(fit, int(self.verbose), getattr(printer, "began", None))
        self._set_fitted(result, degenerate)
        self.structure_changes_ = result.structure_changes
        warn_unless_converged(self)
        warn_if_pruned(self, self.n_components)
        emptied = degenerate & (np.asarray(self.weights_, dtype=float) <= EMPTY_WEIGHT)
        if emptied.any():
            warn_user(
                f"{int(emptied.sum())} of {degenerate.size} components emptied (mixing "
                "proportion estimated as zero, as mclust reports it: no row belongs to them); "
                "see degenerate_components_. Use fewer components or another covariance_type"
                + (", or fit without covariance_prior." if self.covariance_prior else "."),
                DegenerateFitWarning,
            )
        if (degenerate & ~emptied).any():
            warn_user(
                f"{int((degenerate & ~emptied).sum())} of {degenerate.size} components are "
                "singular but for regularisation (collapsed onto a point or a lower-dimensional "
                "set: duplicate rows, a constant column, or too many components); see "
                "degenerate_components_. Use fewer components, drop constant columns, or raise "
                "reg_covar.",
                DegenerateFitWarning,
            )
        warn_if_ridge_outweighs(self.reg_covar, getattr(result.stats, "components", None))
        return self

    def _data(self, X, sample_weight, *, reset: bool, rng, place=None, shared=None):
        """The chunk source to fit, and the rows (and weights) to start EM from."""
        dtype = float_dtype(self.dtype)
        if place is not None and is_device_array(X):
            x_dev = check_device_rows(
                self,
                place.rows(X),
                reset=reset,
                min_rows=self.n_components,
                allow_nan=self.missing == "em",
                nan_hint=MISSING_EM_HINT,
                allow_empty_rows=False,
            )
            w = check_weights(sample_weight, np.broadcast_to(0.0, (x_dev.shape[0], 1)))
            x, w_init = sample_host_rows(x_dev, w, INIT_ROWS, rng)
            return place.xp.resident_source(x_dev, place.weights(w)), x, w_init
        source = as_source(X, dtype=dtype)
        if source is None:
            if dtype == np.float32 and place is None:  # (a placement refused them)
                refuse_single_rounding(X, type(self).__name__)
            x = self._checked_fit_rows(X, reset, shared)
            w = check_weights(sample_weight, x)
            x = x.astype(dtype, copy=False) if dtype == np.float32 else x
            read_as = x.dtype if dtype == np.float32 else np.float64
            data: DataSource = array_source(x, w, dtype=read_as)
            if place is not None:
                data = place.hold(data, x, w)
            if x.shape[0] > INIT_ROWS and not self._start_given():
                if shared is not None and w is None:
                    draw = functools.partial(_start_sample, x, rng)
                    return data, shared.recall(shared.samples, x, (), rng, draw), None
                keep = sample_indices(x.shape[0], INIT_ROWS, rng)
                return data, np.asarray(x[keep], dtype=np.float64), None if w is None else w[keep]
            return data, x, w
        d = source.n_features
        if reset:
            self.n_features_in_ = d
        elif d != self.n_features_in_:  # not reset: a warm start
            refuse_warm_start(f"X has {d} features where the stored fit has {self.n_features_in_}")
        check_feature_names(self, source.feature_names, reset=reset)
        if d < 1:
            raise ValueError(f"{type(self).__name__} needs at least one column; got {d}")
        # Checked before its rows are counted: a Dask source of unknown partition sizes counts
        # them in the pass that checks them (NaN allowed where missing="em").
        data = weighted_source(
            X,
            source,
            sample_weight,
            d,
            dtype=dtype,
            allow_nan=self.missing == "em",
            nan_hint=MISSING_EM_HINT,
        )
        n = data.n_rows
        if n < max(self.n_components, 1):
            raise ValueError(
                f"{type(self).__name__} needs at least {self.n_components} rows and one column; "
                f"got {n} rows of {d} columns"
            )
        x, w = start_rows(data, INIT_ROWS, rng)
        return (data if place is None else place.stream(data)), x, w

    def _check_warm_start(self, X) -> None:
        """Refuse to continue a stored fit whose parameters do not have the shape asked for:
        another ``n_components``, covariance structure or number of features."""
        structure = covariance_structure(self.covariance_type)
        # (n_components, structure) of the stored fit. A model loaded from a file has no
        # record: its arrays tell its size (a pruned fit: fewer than it started from) and,
        # up to structures of one layout, its structure.
        fitted = (self.weights_.shape[0], None)
        fitted_k, fitted_name = getattr(self, "_fitted_setting", fitted)
        differs = []
        if fitted_k != self.n_components:
            differs.append(
                f"n_components is {self.n_components} where the stored fit has {fitted_k}"
            )
        if fitted_name is None:
            layout = structure.parameter_shape(self.weights_.shape[0], self.n_features_in_)
            if self.covariances_.shape != layout:
                differs.append(
                    f"covariance_type {self.covariance_type!r} has covariances of shape "
                    f"{layout} where the stored fit's have {self.covariances_.shape}"
                )
        elif fitted_name != structure.name:
            differs.append(
                f"covariance_type is {self.covariance_type!r} where the stored fit's is "
                f"{fitted_name!r}"
            )
        shape = getattr(X, "shape", None)  # arrays, data frames, tensors; others: in _data
        if shape is not None and len(shape) == 2 and shape[1] != self.n_features_in_:
            differs.append(
                f"X has {shape[1]} features where the stored fit has {self.n_features_in_}"
            )
        if differs:
            refuse_warm_start("; ".join(differs))

    def _checked_fit_rows(self, X, reset: bool, shared: SharedStarts | None) -> np.ndarray:
        """``X`` validated for a fit; once for all the plans that share ``shared``."""
        if shared is not None and shared.rows is not None:
            given, missing, rows = shared.rows
            if given is X and missing == self.missing:
                # the names of X as given (a DataFrame's columns), as the first plan's check
                check_feature_names(self, feature_names(X), reset=reset)
                return self._rows(
                    rows, reset=reset, min_rows=self.n_components, fitting=True, checked=True
                )
        rows = self._rows(X, reset=reset, min_rows=self.n_components, fitting=True)
        if shared is not None:
            shared.rows = (X, self.missing, rows)
        return rows

    def _dask_source(self, X) -> DataSource:
        """The checked source ``fit`` reads for the Dask collection ``X``. The fits of a
        selection share it, so that its partitions are checked and persisted once."""
        dtype = float_dtype(self.dtype)
        source = as_source(X, dtype=dtype)
        assert source is not None
        return checked(
            source, source.n_features, allow_nan=self.missing == "em", nan_hint=MISSING_EM_HINT
        )

    @restores_on_error
    @paired_rows("sample_weight")
    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the label of each row of ``X`` (``predict(X)``). What :meth:`fit`
        reads chunk by chunk, a path to a ``.npy`` or Parquet file or a re-iterable of chunks
        (which ``predict`` does not take), is labelled chunk by chunk as ``fit`` reads it,
        into one array of labels (``predict`` of a path reads the whole file into memory)."""
        self.fit(X, sample_weight=sample_weight)
        labels = by_chunk(X, self.predict)
        return self.predict(X) if labels is None else labels

    def _start_given(self) -> bool:
        """Every starting value is given and no prior looks at the rows: the fit needs no
        sample of rows to start from (their shape only)."""
        given = (self.weights_init, self.means_init, self.precisions_init)
        return all(value is not None for value in given) and self.covariance_prior is None

    def _initial_mixture(
        self,
        x,
        w,
        structure,
        rng,
        first: bool = True,
        shared: SharedStarts | None = None,
        prior: NormalInverseWishart | None = None,
    ) -> Mixture:
        """The start from the rows ``x`` (weights ``w``): the structure's M-step (MAP under
        ``prior``, as mclust's ``mstep`` with a prior) from the initial clusters, with the
        starting values given in place of what it estimates."""
        k = self.n_components
        # The hierarchical start is deterministic: further starts are k-means++ restarts.
        method = "k-means++" if self.init_params == "hc" and not first else self.init_params
        given = (self.weights_init, self.means_init, self.precisions_init)
        if all(value is not None for value in given):
            # Every starting value is given: no clustering pass over the data is needed.
            return self._given_mixture(x.shape[1], structure)
        if self.missing == "em":
            x = fill_column_means(x, w)  # a start only: k-means++ needs complete rows
        start = functools.partial(initial_responsibilities, x, k, method, rng, w)
        if shared is not None and w is None:
            resp = shared.recall(shared.starts, x, (k, method), rng, start)
        else:
            resp = start()
        if w is not None:
            resp = resp * w[:, None]
        weights, components = components_from_responsibilities(
            structure,
            x,
            resp,
            self.reg_covar,
            None if shared is None else shared.moments,
            component_prior=prior,
        )
        means = components.means
        if self.weights_init is not None:
            weights = _checked_weights(self.weights_init, k)
        if self.means_init is not None:
            means = _checked(self.means_init, (k, x.shape[1]), "means_init")
        if self.precisions_init is not None:
            components = _start_components(means, self.precisions_init, structure)
        elif self.means_init is not None:
            components = structure.from_covariances(means, components.covariances)
        return MODELS[self.missing](weights, components, self.reg_covar)

    def _check_options(self) -> None:
        uses_options = (
            self.assignment != "soft"
            or self.prune_weight > 0
            or self.covariance_prior is not None
            or self.weight_concentration != 1.0
        )
        if self.missing == "em" and uses_options:
            raise ValueError(
                "missing='em' supports maximum likelihood with soft assignments only: leave "
                "weight_concentration, covariance_prior, assignment and prune_weight at defaults"
            )

    def _covariance_prior(self, x, w, structure):
        """The normal-inverse-Wishart the M-step uses, or None (see ``covariance_prior``);
        mclust's from the rows ``x`` with weights ``w`` (those the starts are drawn from), whose
        values fill the keys a dict leaves out. A key whose shape does not fit the data's d
        features is refused here, before it could broadcast."""
        spec = self.covariance_prior
        if spec is None:
            return None
        if isinstance(spec, str):  # "mclust": Fraley and Raftery's default
            return NormalInverseWishart.mclust(x, self.n_components, structure.name, w)
        keys = ("mean", "shrinkage", "dof", "scale")
        unknown = sorted(set(spec) - set(keys))
        if unknown:
            raise ValueError(
                f"covariance_prior has unknown keys {unknown}; a dict takes any of "
                f"{', '.join(keys)} (mclust's data-based values fill the others)"
            )
        d = x.shape[1]
        given = {key: spec[key] for key in keys if key in spec}
        for key, shapes, words in (
            ("mean", [(d,)], f"({d},), one value per feature"),
            ("shrinkage", [()], "(), a number"),
            ("dof", [()], "(), a number"),
            ("scale", [(), (d, d)], f"({d}, {d}), or a number c for c * I"),
        ):
            if key in given and np.shape(given[key]) not in shapes:
                raise ValueError(
                    f"covariance_prior[{key!r}] has shape {np.shape(given[key])}, but X has "
                    f"d = {d} features: give shape {words}"
                )
        if len(given) < len(keys):  # mclust's defaultPrior(data, G, model, ...) does the same
            default = NormalInverseWishart.mclust(x, self.n_components, structure.name, w)
            given = {key: given.get(key, getattr(default, key)) for key in keys}
        try:
            return NormalInverseWishart(**given)
        except ValueError as exc:
            raise ValueError(f"covariance_prior: {exc}") from None

    def _with_options(self, model, prior):
        if self.missing == "em":
            return model
        return replace(
            model,
            assignment=self.assignment,
            weight_concentration=self.weight_concentration,
            component_prior=prior,
            prune_weight=self.prune_weight,
        )

    def _given_mixture(self, d: int, structure) -> Mixture:
        k = self.n_components
        weights = _checked_weights(self.weights_init, k)
        means = _checked(self.means_init, (k, d), "means_init")
        components = _start_components(means, self.precisions_init, structure)
        return MODELS[self.missing](weights, components, self.reg_covar)

    def _set_fitted(self, result, degenerate) -> None:
        model = result.model
        self.weights_ = model.weights
        self.means_ = model.components.means
        self.covariances_ = model.components.covariances
        self.precisions_cholesky_ = model.components.precisions_cholesky
        self.converged_ = result.converged
        self.n_iter_ = result.n_iter
        self.log_likelihood_ = result.log_likelihood
        # per unit of weight: the total weight is that of the last E-step's responsibilities
        total = float(np.sum(result.stats.resp_sum))
        self.lower_bound_ = result.log_likelihood / total if total > 0 else float("nan")
        self.history_ = result.history
        with np.errstate(invalid="ignore", divide="ignore"):  # no weight: NaN, as lower_bound_
            self.lower_bounds_ = result.history[1:] / (total if total > 0 else np.nan)
        self.degenerate_components_ = degenerate
        self.degenerate_ = bool(degenerate.any())
        # what a warm start must match (_check_warm_start); aliases by their canonical name
        self._fitted_setting = (self.n_components, covariance_structure(self.covariance_type).name)
        # the statistics of the last E-step, at exactly the returned parameters: model
        # selection reads its criteria from them (emkit.estimators.selection)
        self._final_stats = result.stats
        # the rows' weight, means and variances, which estimate() asks its rows to match
        components = getattr(result.stats, "components", None)
        self._fit_data = (
            DataFingerprint.of_gaussian_stats(components) if self.missing != "em" else None
        )

    @property
    def precisions_(self) -> np.ndarray:
        """Precisions (inverse covariances) in the layout of ``covariances_``, as
        scikit-learn's: U U^T of ``precisions_cholesky_`` U, its square for the diagonal
        layouts."""
        check_is_fitted(self)
        u = self.precisions_cholesky_
        if issubclass(covariance_structure(self.covariance_type), DiagGaussian):
            return u**2
        return u @ np.swapaxes(u, -1, -2)

    def _mixture(self) -> Mixture:
        structure = covariance_structure(self.covariance_type)
        components = structure(self.means_, self.covariances_, self.precisions_cholesky_)
        return MODELS[self.missing](self.weights_, components, self.reg_covar)

    # --- using a fit --------------------------------------------------------------------
    def _checked_rows(self, X) -> np.ndarray:
        check_is_fitted(self)
        if is_device_array(X):
            return check_device_rows(
                self, X, reset=False, allow_nan=self.missing == "em", nan_hint=MISSING_EM_HINT
            )
        return self._rows(rows_from_file(X, getattr(self, "feature_names_in_", None)), reset=False)

    def _rows(
        self, X, *, reset: bool, min_rows: int = 1, fitting: bool = False, checked: bool = False
    ) -> np.ndarray:
        if self.missing == "em":
            return check_incomplete_rows(
                self,
                X,
                reset=reset,
                min_rows=min_rows,
                allow_empty_rows=not fitting,
                checked=checked,
            )
        return check_rows(
            self, X, reset=reset, min_rows=min_rows, nan_hint=MISSING_EM_HINT, checked=checked
        )

    def sample(self, n_samples=1):
        """Draw ``n_samples`` rows; returns (X of shape (n, d), component labels of shape (n,))."""
        check_is_fitted(self)
        n_samples = sample_count(n_samples)
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_)
        x = self._mixture().components.sample(counts, rng)
        labels = np.repeat(np.arange(self.weights_.shape[0]), counts)  # fewer if pruned
        return x, labels

    # --- uncertainty of the fitted parameters -------------------------------------------
    @paired_rows("sample_weight")
    def estimate(self, X, sample_weight=None):
        r"""The fitted weights, means and covariances with their asymptotic covariance.

        The covariance is the inverse of the observed information at the fit, computed by
        Louis' method (:mod:`emkit.information`): the complete-data information less the
        information of the missing labels, from each row's scores. All 14 covariance
        structures are covered (their free parameters, mapped to the fitted layouts by the
        delta method). With ``reg_covar`` or a ``covariance_prior`` the fit is a MAP estimate
        and the information is that of the likelihood at it. A fit with ``missing="em"`` (even
        of complete data) or ``assignment="hard"`` is refused with a ValueError: refit with
        ``missing="error"`` and soft assignment, or use :func:`emkit.bootstrap`.

        Parameters
        ----------
        X : array-like of shape (n, d), the data the model was fitted to (in any order or
            chunks, on any backend). Other rows are refused: the information is that at the
            maximum of the fitted rows' likelihood, and another sample's would give wrong
            errors without a sign. The fit keeps the rows' total weight and each column's
            mean and variance, which ``X`` must match to 1e-5 (a model read from a file keeps
            none, and is not checked).
        sample_weight : array-like of shape (n,), the fit's weights, or None (rows repeated
            as often as an integer weight count as that weight).

        Returns
        -------
        :class:`emkit.mle.Estimate` with ``weights`` (k,), ``means`` (k, d) and
        ``covariances`` (the layout of ``covariances_``): ``stderr``, ``conf_int(level)``,
        ``summary()`` and ``transform(g, name)`` (the delta method). A
        :class:`emkit.mle.HessianWarning` and NaN where the information is not positive
        definite (an empty or collapsed component).

        Examples
        --------
        >>> import numpy as np
        >>> from emkit import GaussianMixture
        >>> rng = np.random.default_rng(0)
        >>> X = np.vstack([rng.normal(0, 1, (150, 2)), rng.normal(4, 1, (100, 2))])
        >>> gm = GaussianMixture(2, covariance_type="spherical", random_state=0).fit(X)
        >>> est = gm.estimate(X)
        >>> est.stderr["weights"].round(3)
        array([0.031, 0.031])
        >>> print(est.summary().loc["means[0,0]"].round(3).to_string())
        estimate   -0.165
        std_err     0.085
        z          -1.951
        p_value     0.051
        ci_low     -0.331
        ci_high     0.001
        """
        from emkit.information import louis_estimate, louis_information

        if self.missing == "em" or self.assignment != "soft":
            raise ValueError(
                "estimate() needs a soft-assignment fit of complete data (missing='error', "
                "assignment='soft'); refit with those settings, or use emkit.bootstrap"
            )
        if is_dask_collection(X):  # the sums are taken on the workers, one pass
            check_is_fitted(self)
            map_reduce = functools.partial(
                dask_total, self, X, sample_weight=sample_weight, nan_hint=MISSING_EM_HINT
            )
        else:
            x = self._checked_rows(X)
            if is_device_array(x):
                x = np.asarray(x.detach().cpu().numpy(), dtype=np.float64)
            w = None if sample_weight is None else check_weights(sample_weight, x)
            map_reduce = array_source(x, w).map_reduce
        mixture = self._mixture()
        alias = covariance_structure(self.covariance_type).alias
        k = self.weights_.shape[0]
        information, G, loglik, total, sums = louis_information(mixture, alias, map_reduce)
        # the rows' fingerprint from Louis' sums (whose checks name rows that cannot be read
        # first), checked before the information is inverted
        centres = np.asarray(mixture.components.means, dtype=np.float64)
        given = DataFingerprint.of_centred_sums(sums.weight, centres, sums.first, sums.second)
        check_same_rows(self, given)
        return louis_estimate(mixture, information, G, loglik, total, f"({alias}, {k} components)")

    @paired_rows("sample_weight")
    def standard_errors(self, X, sample_weight=None) -> dict:
        """Standard errors of ``weights``, ``means`` and ``covariances`` (the fitted layouts)
        from the observed information (:meth:`estimate`), as a dict of arrays. A fit with
        ``missing="em"`` (even of complete data) or ``assignment="hard"`` is refused with a
        ValueError: refit with ``missing="error"`` and soft assignment, or use
        :func:`emkit.bootstrap`.

        Examples
        --------
        >>> import numpy as np
        >>> from emkit import GaussianMixture
        >>> rng = np.random.default_rng(0)
        >>> X = np.vstack([rng.normal(0, 1, (150, 2)), rng.normal(4, 1, (100, 2))])
        >>> gm = GaussianMixture(2, covariance_type="tied", random_state=0).fit(X)
        >>> gm.standard_errors(X)["means"].round(3)
        array([[0.082, 0.086],
               [0.103, 0.105]])
        """
        return self.estimate(X, sample_weight).stderr

    @paired_rows("sample_weight")
    def conf_int(self, X, level: float = 0.95, sample_weight=None) -> dict:
        """Wald intervals of ``weights``, ``means`` and ``covariances``: a dict of (low, high)
        arrays shaped like the fitted attributes. ``estimate -+ z std_err`` for the means and
        the covariances off the diagonal; for the weights and the variances the same interval
        on the logit and log scales, mapped back, so that it stays in (0, 1) and (0, inf)
        (see :meth:`emkit.mle.Estimate.conf_int`). A fit with ``missing="em"`` (even of complete
        data) or ``assignment="hard"`` is refused with a ValueError: refit with
        ``missing="error"`` and soft assignment, or use :func:`emkit.bootstrap`.

        Examples
        --------
        >>> import numpy as np
        >>> from emkit import GaussianMixture
        >>> rng = np.random.default_rng(0)
        >>> X = np.vstack([rng.normal(0, 1, (150, 2)), rng.normal(4, 1, (100, 2))])
        >>> gm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
        >>> low, high = gm.conf_int(X, level=0.9)["weights"]
        >>> low.round(3), high.round(3)
        (array([0.548, 0.349]), array([0.651, 0.452]))
        """
        return self.estimate(X, sample_weight).conf_int(level)

    # --- mclust-style reports ------------------------------------------------------------
    @paired_rows("sample_weight")
    def summary(self, X, parameters: bool = False, icl: str = "hard", sample_weight=None) -> str:
        """R mclust's ``summary()``: model, log-likelihood, n, df, BIC and ICL (mclust's sign),
        the clustering table, and with ``parameters=True`` the weights, means and variances.

        Parameters
        ----------
        X : array-like of shape (n, d), the data the model was fitted to.
        parameters : print the parameters too.
        icl : "hard" (mclust's ICL, default) or "soft"; the text says which.
        sample_weight : array-like of shape (n,), the frequency weights the model was fitted
            with, or None. Every number is then weighted as :meth:`bic`, :meth:`icl` and
            :meth:`score` with the same weights: n is the total weight, the clustering table
            the weight of each component's rows (the summary of the rows repeated), and the
            standard errors those of :meth:`standard_errors` with the weights.
        """
        from emkit.report.mclust import model_summary

        rows = self._report_rows(X, sample=False)
        if sample_weight is not None and is_dask_collection(X):
            rows = X  # its names checked above; weights partitioned as in a fit, by index
        with names_checked():  # where the rows were taken
            return model_summary(self, rows, parameters, icl, sample_weight)

    def plot(self, X, what: str = "classification"):
        """A matplotlib Figure of the fit on ``X`` (n, d): ``what`` is "classification" (points
        by most probable component, with ellipses), "uncertainty" (1 - max posterior) or
        "density" (the fitted density; contours on the first two axes). On a Dask collection
        the figure draws a uniform sample of at most 10 000 rows, drawn on the workers."""
        from emkit.report.mclust_plots import plot_model

        rows = self._report_rows(X, sample=True)
        with names_checked():  # where the rows were taken
            return plot_model(self, rows, what)

    def _report_rows(self, X, *, sample: bool):
        """The rows a report reads (its queries then within :func:`names_checked`): ``X``
        validated, its names checked; for a Dask collection, the collection itself (its sums
        are taken on the workers) or, with ``sample``, a uniform sample of at most
        :data:`PLOT_ROWS` rows drawn on the workers (checked as a fit checks them)."""
        if not is_dask_collection(X):
            return self._checked_rows(X)
        em = self.missing == "em"
        if sample:
            rng = check_random_state(self.random_state)
            return dask_sample(self, X, PLOT_ROWS, rng, nan_hint=MISSING_EM_HINT, allow_nan=em)
        return queried_array(self, X)

    # --- model selection ----------------------------------------------------------------
    def n_parameters(self) -> int:
        """Free parameters: (k - 1) weights, k d means, and the covariance parameters."""
        check_is_fitted(self)
        k, d = self.means_.shape
        structure = covariance_structure(self.covariance_type)
        return (k - 1) + k * d + structure.n_covariance_parameters(k, d)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing == "em"
        return tags


def _plain_checkpoint(saved: Checkpoint | None) -> Checkpoint | None:
    """The checkpoint of the plain EM refit of the fit ``saved`` checkpoints: its file beside
    (``fit.json``: ``fit-plain.json``), its key the fit's with ``accelerate=None``, the key
    of a fit of the estimator with that parameter."""
    if saved is None:
        return None
    path = saved.path.with_name(f"{saved.path.stem}-plain{saved.path.suffix}")
    key = {**saved.key, "params": {**saved.key["params"], "accelerate": None}}
    return replace(saved, path=path, key=key)


def _start_components(means: np.ndarray, precisions_init, structure):
    """The starting components of ``means`` and ``precisions_init``, checked: the
    structure's layout, symmetric, positive definite and holding the structure's
    constraints (an EII start with unequal variances would score its first E-step with a
    model outside the structure, whose likelihood EM does not then climb from)."""
    k, d = means.shape
    precisions = _checked(precisions_init, structure.parameter_shape(k, d), "precisions_init")
    _check_symmetric(precisions, structure)
    try:
        components = structure.from_precisions(means, precisions)
    except np.linalg.LinAlgError:
        raise ValueError("precisions_init must be positive definite") from None
    check_structure(
        components.covariances,
        structure,
        np.ones(k, dtype=bool),
        name=f"precisions_init: the covariance_type {structure.alias!r}",
        remedy="give starting precisions of that structure, such as precisions_ of a model "
        "fitted with it",
    )
    return components


def _check_symmetric(precisions: np.ndarray, structure) -> None:
    """ValueError where matrices of ``precisions_init`` (full or tied layouts) are not
    symmetric: a Cholesky factorisation would read one triangle and ignore the other."""
    if precisions.ndim == 3 or structure.name == "tied":
        gap = np.abs(precisions - np.swapaxes(precisions, -1, -2))
        if not np.all(gap <= 1e-10 * np.abs(precisions).max(initial=0.0)):
            raise ValueError(
                f"precisions_init must be symmetric; its matrices differ from their transposes "
                f"by up to {gap.max():.3g}"
            )


def _checked(values, shape, name) -> np.ndarray:
    refuse_booleans(values, name)
    array = np.asarray(values, dtype=np.float64)
    if array.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}; got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _checked_weights(values, k: int) -> np.ndarray:
    """``weights_init`` checked as scikit-learn checks it: non-negative and summing to 1
    within 1e-8 (``np.isclose``'s relative 1e-5 let 1 + 1e-6 through), or 1e-6 where they
    are float32 (a float32 fit's weights sum to 1 + 9e-8)."""
    weights = _checked(values, (k,), "weights_init")
    tolerance = 1e-6 if getattr(values, "dtype", None) == np.float32 else 1e-8
    total = float(weights.sum())
    if np.any(weights < 0) or abs(total - 1.0) > tolerance:
        raise ValueError(
            f"weights_init must be non-negative and sum to 1; got minimum {weights.min():.6g} "
            f"and sum {total:.17g}. Divide the weights by their sum."
        )
    return weights
