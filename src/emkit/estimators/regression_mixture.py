r"""``MixtureOfRegressions``: K linear regressions, each row drawn from one of them, fitted by EM.

.. math:: p(y \mid x) = \sum_k \pi_k\, N(y \mid x^\top\beta_k + \beta_{0k}, \sigma_k^2)

EM alternates responsibilities and weighted least squares per component on the one engine
(rows :math:`(x, y)` are one array, the response last). A component whose residual variance
collapses onto a few points (the likelihood is unbounded there) is re-seeded at a fresh random
line inside the EM run (:class:`~emkit.models.regression_mixture.RegressionMixture`), as
mixtools restarts; it is never returned. Collapsed means fewer effective rows than the line's
free parameters + 1 (coefficients, intercept and sigma), a sigma below ``SIGMA_RATIO`` of
the largest component's on fewer than a few times that many rows
(:data:`~emkit.models.regression_mixture.NARROW_ROWS`), or a line its rows follow exactly
(``EXACT_SHARE``).
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from numbers import Integral, Real

import numpy as np
import pandas as pd
from pandas.api.types import is_string_dtype
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_y, check_is_fitted

from emkit.backend.dask_source import is_dask_collection
from emkit.backend.inputs import start_rows
from emkit.backend.integers import refuse_inexact_integers
from emkit.backend.sources import MovedChunks, array_source, feature_names
from emkit.distributions.base import merge_centred
from emkit.em import fit_starts
from emkit.estimators._fingerprint import DataFingerprint, check_same_rows
from emkit.estimators._inputs import INIT_ROWS, dask_fit_source, joined_rows, per_row
from emkit.estimators._mixture_api import (
    _check_icl_kind,
    _icl_value,
    _log_resp_of,
    _row_terms,
    aic_from,
    bic_from,
    criteria_from_sums,
    icl_of,
    warn_unless_converged,
)
from emkit.estimators._state import restores_on_error
from emkit.estimators._validation import (
    check_complete,
    check_magnitude,
    check_weights,
    host_rows,
    numeric_input,
    paired_rows,
    refuse_masked,
    refuse_times_and_complex,
    refuse_warm_start,
    validate,
    warm_features,
    warm_fit,
    weighted_total,
)
from emkit.estimators.persist import ModelFileMixin
from emkit.exceptions import DegenerateFitWarning, warn_user
from emkit.init import canonical_rows, draw_rows
from emkit.mle.linear import dependent_columns, design_r
from emkit.models.mixture import Mixture
from emkit.models.regression_mixture import LinearRegressions, RegressionMixture

# A line whose residual sum of squares is at most this share of its response's scatter fits
# its rows exactly: R^2 within 1e-12 of 1, some 4500 roundings of the scatter (the sum of
# squares from the statistics, syy - beta' sxy, is exact to a few of them). Precise data are
# not collapses: two lines with noise 1e-4 on a response of spread 5 (a share of 5e-10) were
# re-seeded as collapsed under the former floor of 1e-8 var(y) and ended as one line.
EXACT_SHARE = 1e-12
# The shared-variance fallback's ridge c, in (RSS + c) / W, as a share of the response's total
# scatter: it keeps the pooled variance at least 1e-8 var(y), far above the rounding of RSS
# (a smaller ridge let rounding lower the objective where lines fit every row exactly).
FALLBACK_RIDGE = 1e-8
# A component sigma below this fraction of the largest has collapsed onto a few rows that
# happen to lie near a line (Hathaway 1985 bounds the ratio of scales to make the likelihood
# bounded); with sigma_k / sigma_j >= c the maximum likelihood estimate is consistent.
SIGMA_RATIO = 0.05
# Rows whose mean lies more than this many standard deviations from 0 (in any column) are
# fitted about their mean (MixtureOfRegressions._origin): a residual's rounding, eps times
# the size of the terms that cancel in it, is then below 1e-12 of the rows' own spread. Rows
# nearer the origin are fitted as they are, as before.
FAR_MEAN = 1e3
# Re-seeds allowed per start, per component, before the start is ranked degenerate.
MAX_RESEEDS = 20


class MixtureOfRegressions(ModelFileMixin, BaseEstimator):
    """Mixture of linear regressions (latent-class regression), fitted by EM.

    Not a scikit-learn regressor: it models the whole conditional law p(y | x), gives
    ``predict_proba(X, y)`` over components, and ``score`` is the mean conditional
    log-likelihood (use ``sklearn.metrics.r2_score(y, model.predict(X))`` for R^2).

    Parameters
    ----------
    n_components : int, number of regression lines (or planes).
    fit_intercept : bool, each component has its own intercept.
    equal_variance : bool, one residual variance for all components (a bounded likelihood).
    n_init : int, number of random starts; the best non-degenerate log-likelihood is kept
        (:func:`emkit.em.fit_starts`).
    tol : float, convergence threshold on the log-likelihood per sample: as in
        :class:`emkit.ZeroInflatedPoisson`, plain EM stops on a step's gain and SQUAREM where
        the projected gain still to come is below it; it bounds the log-likelihood, and the
        estimates are off by about its square root over the information (an intercept 2.5e-6
        relative at the default 1e-8 on 300 rows; within 1e-7 with ``tol=1e-12``).
    max_iter : int, EM iterations per start at most.
    random_state : int, RandomState or None.
    accelerate : "squarem" (default) or None, as in :class:`emkit.GaussianMixture`: SQUAREM
        extrapolates the EM map (a re-seed ends a cycle); None runs plain EM.
    warm_start : bool, as scikit-learn's ``GaussianMixture``: once fitted, ``fit`` starts from
        the stored lines (``n_init`` is then ignored). With ``accelerate=None`` and no re-seed,
        a fit continued for m more iterations takes the steps of one fit run for all of them,
        to rounding (``sigmas_`` holds square roots of the variances). Another
        ``n_components``, ``fit_intercept`` or ``equal_variance``, or another number of
        features, is refused.

    Attributes
    ----------
    weights_ : array of shape (k,), mixing proportions.
    coef_ : array of shape (k, p).
    intercept_ : array of shape (k,).
    origin_ : array of shape (p + 1,), the point (x's, then y's) the lines were fitted about:
        the rows' mean where a column's lies far from 0 for its spread (``FAR_MEAN``), else
        zeros. Every query (``predict``, ``score``, ``estimate``...) takes its residuals
        about it, as the fit did: far from 0 (x in Unix seconds) a residual y - x'beta - b is
        the difference of numbers near 1e9, rounded to 1e-6.
    origin_intercept_ : array of shape (k,), the intercepts for the rows less ``origin_``,
        as the fit estimated them: ``y - origin_[-1] = (x - origin_[:-1])' coef_ +
        origin_intercept_`` on each line; ``intercept_`` is them moved to the rows
        themselves (equal where ``origin_`` is zeros).
    sigmas_ : array of shape (k,), residual standard deviations.
    log_likelihood_ : float, conditional log-likelihood sum_n log p(y_n | x_n).
    history_ : array, the log-likelihood of the kept start before the first and after every
        accepted step since its last re-seed (a re-seed starts the climb over).
    n_iter_ : int, accepted steps in ``history_``: M-steps of plain EM, SQUAREM cycles (about
        three M-steps each).
    converged_ : bool.
    equal_variance_ : bool, whether the kept fit has one residual variance for all components:
        ``equal_variance``, or the fallback when every start collapsed a component.
    n_reseeds_ : int, collapsed components re-seeded over all starts.
    n_features_in_ : int.
    feature_names_in_ : array of str of shape (p,), the column names of ``X``;
        only where ``X`` was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import MixtureOfRegressions
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 10, size=(200, 1))
    >>> y = np.where(rng.uniform(size=200) < 0.5, 1 + 2 * x[:, 0], 8 - 0.5 * x[:, 0])
    >>> y = y + rng.normal(0, 0.5, 200)
    >>> mr = MixtureOfRegressions(2, random_state=0).fit(x, y)
    >>> mr.coef_.ravel().round(2), mr.intercept_.round(2)
    (array([-0.51,  2.01]), array([8.1 , 0.91]))
    >>> mr.sigmas_.round(2), mr.weights_.round(2)
    (array([0.45, 0.53]), array([0.54, 0.46]))
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "fit_intercept": ["boolean"],
        "equal_variance": ["boolean"],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
        "accelerate": [StrOptions({"squarem"}), None],
        "warm_start": ["boolean"],
    }
    _fitted_attributes = (
        "weights_",
        "coef_",
        "intercept_",
        "origin_",
        "origin_intercept_",
        "sigmas_",
        "log_likelihood_",
        "history_",
        "n_iter_",
        "converged_",
        "equal_variance_",
        "n_reseeds_",
        "n_features_in_",
    )
    # files written before the origin was kept hold neither: _restore_fitted reads them as
    # fits about 0 (which those were where x and y lay near it)
    _later_attributes = ("origin_", "origin_intercept_")

    def __init__(
        self,
        n_components=2,
        *,
        fit_intercept=True,
        equal_variance=False,
        n_init=10,
        tol=1e-8,
        max_iter=1000,
        random_state=None,
        accelerate="squarem",
        warm_start=False,
    ):
        self.n_components = n_components
        self.fit_intercept = fit_intercept
        self.equal_variance = equal_variance
        self.n_init = n_init
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.accelerate = accelerate
        self.warm_start = warm_start

    def _warn_if_dependent(self, x: np.ndarray, w: np.ndarray | None, names) -> None:
        """A DegenerateFitWarning where some predictors (the intercept among them, where
        fitted) are linear combinations of the others on the rows of positive weight: their
        coefficients are not identified (a component's least squares splits them among the
        columns) and :meth:`estimate` has no standard errors to give."""
        keep = None if w is None else w > 0
        n = x.shape[0] if keep is None else int(np.count_nonzero(keep))
        labels = [str(c) for c in names] if names is not None else None
        labels = labels or [f"X[:, {j}]" for j in range(x.shape[1])]
        if self.fit_intercept:
            labels = ["intercept", *labels]
        if n < len(labels):  # fewer rows than coefficients: _check_enough_rows says so
            return
        # the design's R, not the design: the QR of (n, p) rows at the rcond OLS refuses at
        r = design_r(x, self.fit_intercept, keep)
        rcond = max(n, len(labels)) * float(np.finfo(np.float64).eps)
        dependence = dependent_columns(r, labels, rcond=rcond)
        if dependence is not None:
            warn_user(
                f"MixtureOfRegressions: {dependence}. Until then the coefficients of such "
                "columns are not identified (each component's least squares splits them among "
                "the columns) and estimate() gives no standard errors.",
                DegenerateFitWarning,
            )

    @restores_on_error
    @paired_rows("sample_weight")
    def fit(self, X, y, sample_weight=None):
        """Fit by EM from ``n_init`` random starts.

        Parameters
        ----------
        X : array-like of shape (n, p), covariates, or a list of chunks of rows (joined in
            order).
        y : array-like of shape (n,), response (one array for all the chunks).
        sample_weight : array-like of shape (n,), non-negative.
        """
        self._validate_params()
        X = joined_rows(X, y, what="responses")  # a list of chunks: their rows, in order
        refuse_times_and_complex(type(self).__name__, y, label="y")
        y = _response(y)
        warm = self.warm_start and hasattr(self, "coef_")
        if warm:
            self._check_warm_start(X)
        rng = check_random_state(self.random_state)
        if is_dask_collection(X):
            with warm_fit(warm):
                data = dask_fit_source(
                    self,
                    X,
                    sample_weight,
                    y,
                    make=_stacked,
                    summary=_offset_moments if self.fit_intercept else None,
                    reset=not warm,
                )
            z, w = start_rows(data, INIT_ROWS, rng)
            n, weighed = data.n_rows, ""
            # the partitions' moments, as in memory, from the pass that checked them; their
            # rows are moved as each E-step reads them
            origin = self._origin_of(data.summaries, z.shape[1])
            if origin.any():
                z, data = z - origin, MovedChunks(data, origin)
        else:
            with numeric_input(self, X), warm_fit(warm):
                x, y = validate(
                    self,
                    X,
                    y,
                    reset=not warm,
                    y_numeric=True,
                    dtype=[np.float64, np.float32],
                    ensure_all_finite=False,
                )
            check_complete(self, x, names=feature_names(X))
            check_magnitude(x)
            x, y = np.asarray(x, dtype=np.float64), _numeric_y(y)
            check_magnitude(y[:, None], "y")
            w = check_weights(sample_weight, x)
            self._warn_if_dependent(x, w, feature_names(X))
            z = np.column_stack([x, y])
            origin = self._origin(z, w)
            if origin.any():
                z = z - origin
            data = array_source(z, w)
            # Rows of weight 0 are not data: the same rows left out are refused alike.
            n = data.n_rows if w is None else int(np.count_nonzero(w))
            weighed = "" if w is None else f" of positive weight (of {data.n_rows})"
        self._check_enough_rows(n, z.shape[1] - 1, weighed)
        weight = np.ones(z.shape[0]) if w is None else w
        y = z[:, -1]
        spread = float(weight @ (y - np.average(y, weights=weight)) ** 2 / weight.sum())
        if not spread > 0:
            held = y[weight > 0]
            raise ValueError(
                f"y takes the one value {held[0] + origin[-1]:g} on every row (of positive "
                "weight): every line through it fits exactly with residual variance 0, so the "
                "likelihood has no maximum; a mixture of regressions needs a response that "
                "varies"
            )
        ridge = FALLBACK_RIDGE * spread * float(weight.sum())
        if warm:
            # The stored fit's variance model: a fallback fit goes on with its shared variance.
            fallback = self.equal_variance_ and not self.equal_variance
            settings = (-1.0, True, ridge) if fallback else (EXACT_SHARE, self.equal_variance_, 0.0)
            fit = self._fit_starts(z, w, data, rng, *settings, warm=origin)
            equal_variance = self.equal_variance_
        else:
            fit = self._fit_starts(z, w, data, rng, EXACT_SHARE, self.equal_variance, 0.0)
            equal_variance = self.equal_variance
        self.equal_variance_ = bool(equal_variance)
        self.n_reseeds_ = sum(run.model.n_reseeds for run in fit.runs)
        exhausted = any(run.model.exhausted for run in fit.runs)
        if exhausted or fit.degenerate.any() or not np.isfinite(fit.best.history[-1]):
            # No start kept a variance per component, or some start collapsed a line again
            # after every re-seed (the data hold too few rows per line, or lines that rows
            # follow exactly, which the other starts missed by merging lines). One shared
            # variance, kept positive by a ridge prior, bounds the likelihood.
            fit = self._fit_starts(z, w, data, rng, -1.0, True, ridge)
            self.equal_variance_ = True
            warn_user(
                "the starts kept collapsing a component (onto a few rows, or onto a line that "
                "its rows follow exactly), so the fit uses one shared residual variance "
                f"(equal_variance=True); {self._collapse_advice(sample_weight, data)}",
                DegenerateFitWarning,
            )
        best = fit.best
        model = best.model.mixture
        coef = model.components.coef
        intercept = _shifted_intercepts(coef, model.components.intercept, origin)
        order = np.lexsort(np.column_stack([coef, intercept]).T[::-1])
        self.weights_ = model.weights[order]
        self.coef_ = coef[order]
        self.intercept_ = intercept[order]
        self.origin_ = origin
        self.origin_intercept_ = model.components.intercept[order]
        self.sigmas_ = np.sqrt(model.components.variances[order])
        self.log_likelihood_ = best.log_likelihood
        # What estimate() checks its rows against: the components' statistics of z = (x, y)
        # merged (a row's responsibilities add up to its weight), with no pass of its own.
        stats = best.stats.components
        self._fit_data = DataFingerprint.of_gaussian_stats(replace(stats, mean=stats.mean + origin))
        # A re-seed restarts the climb: history_ starts at the last one.
        self.history_ = best.history[max(best.structure_changes, default=0) :]
        self.n_iter_ = len(self.history_) - 1
        self.converged_ = best.converged
        # what a warm start must match (_check_warm_start)
        self._fitted_setting = (self.n_components, self.fit_intercept, self.equal_variance)
        warn_unless_converged(self)
        return self

    def _origin(self, z: np.ndarray, w: np.ndarray | None) -> np.ndarray:
        """The point (p + 1,) the rows ``z`` (n, p + 1) of weights ``w`` (n,) or None are
        fitted about (:meth:`_origin_of`)."""
        return self._origin_of([_offset_moments(z, w)] if self.fit_intercept else [], z.shape[1])

    def _origin_of(self, parts, width: int) -> np.ndarray:
        """The point (``width``,) the lines are fitted about, from ``parts``, the
        :func:`_offset_moments` of the rows' chunks in order (a Dask collection's from the
        pass that checks its partitions): the rows' mean where lines have intercepts and a
        column's mean lies more than ``FAR_MEAN`` of its standard deviations from 0, else 0
        (the likelihood is the same: a shift of x by c moves the intercepts by -coef c, of y
        by c). Far from the origin a residual y - x'beta - b is the difference of large
        numbers: x in Unix seconds (1.7e9 + a few units) rounded residuals to 1e-6, EM's
        objective fell by that and never met its stop."""
        origin = np.zeros(width)
        if not self.fit_intercept:
            return origin  # lines through the origin: shifting the rows changes the model
        first, weight, step, scatter = _merged_offsets(parts)
        spread = np.sqrt(scatter / weight)
        mean = first + step
        far = (spread > 0) & (np.abs(mean) > FAR_MEAN * spread)  # constant columns aside
        return mean if far.any() else origin

    def _check_enough_rows(self, n: int, p: int, weighed: str) -> None:
        """Refuse fewer than k (q + 1) rows, q = p + fit_intercept coefficients per line.

        A line needs more rows than coefficients for a residual variance (OLS's n > q: on q
        rows or fewer it passes through them all with sigma 0, and on fewer than q its
        coefficients are not identified), so k lines need k (q + 1) rows; with fewer, every
        fit has a line with sigma 0 and an unbounded likelihood. Rows in excess of that can
        still collapse a line (the model re-seeds it).
        """
        k = self.n_components
        q = p + int(self.fit_intercept)
        needed = k * (q + 1)
        if n >= needed:
            return
        fewer = "fewer components or features" if k > 1 else "fewer features"
        intercept = " and an intercept" if self.fit_intercept else ""
        raise ValueError(
            f"MixtureOfRegressions with {k} component{'s' * (k > 1)} needs at least {needed} "
            f"rows (samples); got n_samples = {n}{weighed}. Each line has {q} coefficients "
            f"({p} feature{'s' * (p != 1)}{intercept}) and needs a row more for its residual "
            f"variance ({q + 1} rows per line): on fewer rows, a line passes through its rows "
            f"with sigma 0 and the likelihood has no maximum. Use {fewer}, or more rows."
        )

    def _collapse_advice(self, sample_weight, data) -> str:
        """What to do where the starts kept collapsing: fewer lines or more data, or, where the
        weights sum to fewer rows than the lines need (normalised weights, summing to 1),
        weights that count rows."""
        k, p = self.n_components, data.n_features - 1
        needed = k * (p + int(self.fit_intercept) + 2.0)  # LinearRegressions.min_rows each
        total = float(data.total_weight)
        if sample_weight is None or total >= needed:
            fewer = "fewer components or features" if k > 1 else "fewer features"
            return f"use {fewer}, or more data"
        return (
            f"sample_weight sums to {total:.3g}: frequency weights, each the number of rows it "
            f"stands for, and {k} line{'s' * (k > 1)} need{'s' * (k == 1)} rows of total weight "
            f"{needed:g} at least; scale them to counts (e.g. w * n / w.sum(), which leaves "
            "the maximum likelihood estimates as they are)"
        )

    def _check_warm_start(self, X) -> None:
        """Refuse to continue a stored fit whose lines are not those asked for: another
        ``n_components``, ``fit_intercept`` or ``equal_variance``, or number of features."""
        # The settings of the stored fit. A model loaded from a file has no record: its
        # arrays tell its size, and its intercepts and variances what they can.
        k, fit_intercept, equal_variance = getattr(
            self, "_fitted_setting", (self.coef_.shape[0], None, None)
        )
        differs = []
        if k != self.n_components:
            differs.append(f"n_components is {self.n_components} where the stored fit has {k}")
        if fit_intercept is None:
            fit_intercept = self._fitted_intercept
        if fit_intercept != self.fit_intercept:
            differs.append(
                f"fit_intercept is {self.fit_intercept} where the stored fit's is {fit_intercept}"
            )
        if equal_variance is None:
            # one variance stored: set by the user or by the fallback, either continues
            equal_variance = self.equal_variance if self.equal_variance_ else False
        if equal_variance != self.equal_variance:
            differs.append(
                f"equal_variance is {self.equal_variance} where the stored fit's is "
                f"{equal_variance}"
            )
        differs += warm_features(self, X)
        if differs:
            refuse_warm_start("; ".join(differs))

    def _fit_starts(self, z, w, data, rng, exact_share, equal_variance, ridge, warm=None):
        """EM from ``n_init`` random starts in lockstep (one pass over the data per round for
        all of them), collapsed components re-seeded; ``warm``: from the stored fit alone, its
        lines moved to the rows ``z``, which are the data less ``warm``, shape (p + 1,).

        Each start draws its starting lines and its re-seeds from its own generator, seeded
        from ``rng``, so that the local maximum a ``random_state`` finds does not depend on
        how the runs interleave.
        """
        rows = canonical_rows(z, w)
        starts = []
        for seed in rng.randint(np.iinfo(np.int32).max, size=self.n_init if warm is None else 1):
            own = np.random.RandomState(seed)
            start = (
                self._stored_start(exact_share, equal_variance, ridge, warm)
                if warm is not None
                else self._random_start(z, w, own, exact_share, equal_variance, ridge, rows)
            )
            starts.append(
                RegressionMixture(
                    start,
                    partial(self._seed_component, z, w, own, rows),
                    MAX_RESEEDS * self.n_components,
                )
            )
        return fit_starts(
            starts, data, tol=self.tol, max_iter=self.max_iter, accelerate=self.accelerate
        )

    def _seed_component(self, z, w, rng, canonical=None) -> tuple[np.ndarray, float, float]:
        """A line through a few random rows: (coef (p,), intercept, variance); ``canonical``
        is ``canonical_rows(z, w)`` where the caller has it.

        The variance is that of the rows nearest the line holding a k-th of the weight (those
        it would claim), so that a line through one regime starts with that regime's spread.
        """
        p = z.shape[1] - 1
        ordered, mass = canonical_rows(z, w) if canonical is None else canonical
        rows = np.unique(draw_rows(mass, p + 1 + int(self.fit_intercept), rng))
        zs = ordered[rows]
        design = (
            np.column_stack([zs[:, :p], np.ones(len(rows))]) if self.fit_intercept else zs[:, :p]
        )
        beta = np.linalg.lstsq(design, zs[:, p], rcond=None)[0]
        coef, intercept = beta[:p], (beta[p] if self.fit_intercept else 0.0)
        squared = (z[:, p] - z[:, :p] @ coef - intercept) ** 2  # (n,)
        weight = np.ones(z.shape[0]) if w is None else w
        # The spread of every row about the line (the former start) gave a line through one
        # of two regimes apart in x the other's residuals: it started wide, lost its rows to
        # a wrong narrow line, and 50 starts never found the regimes that mixtools' starts
        # (each line's variance from its own rows) found in 4 of 10.
        order = np.argsort(squared)
        held = np.cumsum(weight[order])
        nearest = order[: int(np.searchsorted(held, held[-1] / self.n_components)) + 1]
        variance = float(weight[nearest] @ squared[nearest] / weight[nearest].sum())
        # Rows the line passes through exactly (k + 1 rows: the nearest are the seed rows)
        # gave a variance of 0 or rounding, and the other rows' squared residuals over it
        # overflowed in log_density (as did coef / sigma in SQUAREM's step). A line exact to
        # EXACT_SHARE of the spread of every row about it, or of y's, starts there instead:
        # the M-step then judges it on its rows.
        y = z[:, p]
        spread = max(weight @ squared, weight @ (y - weight @ y / weight.sum()) ** 2)
        floor = EXACT_SHARE * float(spread) / float(weight.sum())
        return coef, intercept, max(variance, floor, np.finfo(float).tiny)

    def _random_start(
        self, z, w, rng, exact_share, equal_variance, ridge, canonical=None
    ) -> Mixture:
        k = self.n_components
        seeds = [self._seed_component(z, w, rng, canonical) for _ in range(k)]
        variances = np.array([s[2] for s in seeds])
        if equal_variance:
            variances = np.full(k, variances.mean())
        components = LinearRegressions(
            np.array([s[0] for s in seeds]),
            np.array([s[1] for s in seeds], dtype=float),
            variances,
            self.fit_intercept,
            equal_variance,
            exact_share,
            ridge,
            0.0 if equal_variance else SIGMA_RATIO,
        )
        return Mixture(np.full(k, 1.0 / k), components)

    def _stored_start(self, exact_share, equal_variance, ridge, origin) -> Mixture:
        """The stored fit as a start, under the variance model a fit with these settings has,
        for rows less ``origin`` (p + 1,): its intercepts about ``origin_`` moved by the
        difference of the two points (by 0 exactly on the same rows, so that a continued fit
        takes the steps of one run on)."""
        coef = np.asarray(self.coef_, dtype=np.float64)
        moved = np.asarray(self.origin_, dtype=np.float64) - origin
        components = LinearRegressions(
            coef,
            _shifted_intercepts(coef, np.asarray(self.origin_intercept_, dtype=np.float64), moved),
            np.asarray(self.sigmas_, dtype=np.float64) ** 2,
            self.fit_intercept,
            equal_variance,
            exact_share,
            ridge,
            0.0 if equal_variance else SIGMA_RATIO,
        )
        return Mixture(np.asarray(self.weights_, dtype=np.float64), components)

    # --- using a fit --------------------------------------------------------------------
    @property
    def _fitted_intercept(self) -> bool:
        """Whether the stored lines have intercepts: the fit's setting, whatever
        ``fit_intercept`` has been set to since. A model loaded from a file has no record of
        it: intercepts other than 0 were fitted, and all 0 read as the setting it was saved
        with (``fit_intercept``)."""
        setting = getattr(self, "_fitted_setting", None)
        if setting is not None:
            return bool(setting[1])
        return bool(np.any(np.asarray(self.intercept_) != 0)) or bool(self.fit_intercept)

    def _components(self) -> LinearRegressions:
        """The stored lines for rows less ``origin_`` (:meth:`_moved`), as the fit read them."""
        return LinearRegressions(
            self.coef_, self.origin_intercept_, self.sigmas_**2, self._fitted_intercept
        )

    def _moved(self, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """The rows ``x`` (n, p), with their responses ``y`` (n,) where given (then (n, p +
        1)), less ``origin_``: what the fit computed on, and :meth:`_components` reads."""
        origin = self.origin_ if y is not None else self.origin_[:-1]
        z = x if y is None else np.column_stack([x, y])
        return z - origin if origin.any() else z

    def _restore_fitted(self) -> None:
        """A file written before ``origin_`` was kept: a fit about 0 (``origin_`` zeros,
        ``origin_intercept_`` the intercepts)."""
        if not hasattr(self, "origin_"):
            self.origin_ = np.zeros(self.coef_.shape[1] + 1)
            self.origin_intercept_ = np.array(self.intercept_, dtype=np.float64)

    def _checked(self, X, y=None):
        check_is_fitted(self)
        X = joined_rows(X, y, what="responses")
        if y is not None:
            refuse_times_and_complex(type(self).__name__, y, label="y")
        with numeric_input(self, X):
            x = validate(
                self, X, reset=False, dtype=[np.float64, np.float32], ensure_all_finite=False
            )
        check_complete(self, x, names=feature_names(X))
        # as fit checks them: a square of such values overflows (NaN posteriors, inf means)
        check_magnitude(x, fitting=False)
        x = np.asarray(x, dtype=np.float64)
        if y is None:
            return x, None
        # y as fit reads it (scikit-learn's check of y in check_X_y): 1-D, or a column (n, 1)
        # with a DataConversionWarning; another 2-D y is refused, where ravelling it paired
        # the rows with other rows' responses.
        refuse_masked(y, "y", "a response")
        y = _numeric_y(_check_y(host_rows(_response(y)), y_numeric=True, estimator=self))
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"y must be {x.shape[0]} finite values, one per row of X")
        check_magnitude(y[:, None], "y", fitting=False)
        return x, y

    @per_row()
    def predict(self, X) -> np.ndarray:
        """Mixture mean E[y | x] = sum_k pi_k (x' beta_k + b_k), shape (n,), taken about
        ``origin_`` as the fit's residuals were."""
        x, _ = self._checked(X)
        return self._components().means(self._moved(x)) @ self.weights_ + self.origin_[-1]

    @per_row(width=lambda self: self.weights_.shape[0])
    def predict_proba(self, X, y=None) -> np.ndarray:
        """Posterior probability of each component, shape (n, k).

        Given ``y`` it is p(k | x, y); without ``y`` the component does not depend on x in this
        model, so every row gets the weights. On a Dask collection (``y`` partitioned as
        ``X``, or an array split as ``X`` is): a lazy dask Array with the partitions of ``X``.
        """
        x, y = self._checked(X, y)
        if y is None:
            return np.tile(self.weights_, (x.shape[0], 1))
        mixture = Mixture(self.weights_, self._components())
        return np.exp(mixture.log_resp(self._moved(x, y))[0])

    def predict_component(self, X, y) -> np.ndarray:
        """Most probable regression line for each (x, y) row, shape (n,)."""
        return self.predict_proba(X, y).argmax(axis=1)

    @paired_rows("sample_weight")
    def score(self, X, y, sample_weight=None) -> float:
        """Mean conditional log-likelihood per row, mean_n log p(y_n | x_n); with
        ``sample_weight`` (frequency weights, as in :meth:`fit`) the weighted mean: that of the
        rows repeated."""
        if sample_weight is None:
            return float(self.log_prob(X, y).mean())
        total, n = weighted_total(self.log_prob(X, y), sample_weight, X)
        return total / n

    def log_prob(self, X, y) -> np.ndarray:
        """Conditional log density log p(y_n | x_n) of each row, shape (n,) (lazy on a Dask
        collection, as :meth:`predict_proba`)."""
        if y is None:  # before a Dask collection's blocks are read; score, bic... read it here
            raise ValueError(
                "MixtureOfRegressions' log_prob, score, bic, aic and icl need the responses y: "
                "the model is the law of y given x, so its likelihood is of (X, y) rows; pass "
                "y, one response per row of X"
            )
        return self._log_prob(X, y)

    @per_row()
    def _log_prob(self, X, y) -> np.ndarray:
        x, y = self._checked(X, y)
        mixture = Mixture(self.weights_, self._components())
        return mixture.log_density(self._moved(x, y))

    # --- uncertainty of the fitted parameters -------------------------------------------
    @paired_rows("sample_weight")
    def estimate(self, X, y, sample_weight=None):
        """The fitted weights, coefficients, intercepts and sigmas with their asymptotic
        covariance: the inverse of the observed information of the conditional likelihood at
        the fit, by Louis' method (:func:`emkit.information.regression_louis_estimate`), as
        flexmix's ``refit`` gives it by a numerical Hessian.

        Parameters
        ----------
        X : array-like of shape (n, p), the covariates the model was fitted to.
        y : array-like of shape (n,), their responses; other rows are refused, as
            :meth:`GaussianMixture.estimate` says.
        sample_weight : array-like of shape (n,), the fit's weights, or None.

        Returns
        -------
        :class:`emkit.mle.Estimate` with ``weights`` (k,), ``coef`` (k, p), ``intercept``
        (k,; with ``fit_intercept``) and ``sigmas`` (k,): ``stderr``, ``conf_int(level)``
        (inside (0, 1) for a weight and (0, inf) for a sigma), ``summary()``. A
        :class:`emkit.mle.HessianWarning` and NaN where the information is not positive
        definite.

        Examples
        --------
        >>> import numpy as np
        >>> from emkit import MixtureOfRegressions
        >>> rng = np.random.default_rng(0)
        >>> x = rng.uniform(0, 10, (300, 1))
        >>> y = np.where(rng.random(300) < 0.5, 1 + 2 * x[:, 0], 8 - 0.5 * x[:, 0])
        >>> y = y + rng.normal(0, 0.5, 300)
        >>> model = MixtureOfRegressions(2, random_state=0).fit(x, y)
        >>> model.estimate(x, y).stderr["coef"].round(3)
        array([[0.014],
               [0.012]])
        """
        from emkit.information import regression_louis_estimate

        if is_dask_collection(X):
            raise ValueError(
                "estimate() reads the rows into memory: pass X and y as NumPy arrays or "
                "DataFrames (the rows of a Dask collection: X.compute())"
            )
        x, y = self._checked(X, y)
        if y is None:
            raise ValueError("estimate() needs the responses y the model was fitted to")
        w = check_weights(sample_weight, x)
        given = np.column_stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)])
        check_same_rows(self, DataFingerprint.of_chunk(given, w))
        moved = self._moved(given[:, :-1], given[:, -1])  # the residuals the fit took
        return regression_louis_estimate(
            moved[:, :-1],
            moved[:, -1],
            None if w is None else np.asarray(w, dtype=np.float64),
            np.asarray(self.weights_, dtype=np.float64),
            np.asarray(self.coef_, dtype=np.float64),
            np.asarray(self.origin_intercept_, dtype=np.float64),
            np.asarray(self.sigmas_, dtype=np.float64) ** 2,
            self._fitted_intercept,
            self.equal_variance_,
            origin=(np.asarray(self.origin_, dtype=np.float64), self.intercept_),
        )

    @paired_rows("sample_weight")
    def standard_errors(self, X, y, sample_weight=None) -> dict:
        """Standard errors of ``weights``, ``coef``, ``intercept`` and ``sigmas`` from the
        observed information (:meth:`estimate`), as a dict of arrays."""
        return self.estimate(X, y, sample_weight).stderr

    @paired_rows("sample_weight")
    def conf_int(self, X, y, level: float = 0.95, sample_weight=None) -> dict:
        """Wald intervals of ``weights``, ``coef``, ``intercept`` and ``sigmas`` from
        :meth:`estimate` (inside (0, 1) for a weight and (0, inf) for a sigma): a dict of
        (low, high) arrays shaped like the fitted attributes."""
        return self.estimate(X, y, sample_weight).conf_int(level)

    def n_parameters(self) -> int:
        """Free parameters of the fitted model: k - 1 weights, the coefficients and intercept
        of each line, and one residual variance per line (one in all when ``equal_variance_``),
        counted as flexmix counts them."""
        check_is_fitted(self)
        k, p = self.coef_.shape
        variances = 1 if self.equal_variance_ else k
        return (k - 1) + k * (p + int(self._fitted_intercept)) + variances

    @paired_rows("sample_weight")
    def bic(self, X, y, sample_weight=None) -> float:
        """Bayesian information criterion of the conditional law, -2 sum_n log p(y_n | x_n) +
        p log n (lower is better; R's ``BIC`` on a flexmix fit gives the same number).
        Compare numbers of lines on the same rows with it. With ``sample_weight`` (frequency
        weights, as in :meth:`fit`), log p counts w_n times and n = sum_n w_n: the BIC of the
        rows repeated, ``-2 log_likelihood_ + p log n`` of a weighted fit on its rows."""
        if sample_weight is None:
            return bic_from(self.log_prob(X, y), self.n_parameters())
        total, n = weighted_total(self.log_prob(X, y), sample_weight, X)
        return criteria_from_sums(total, n, 0.0, self.n_parameters())["bic"]

    @paired_rows("sample_weight")
    def aic(self, X, y, sample_weight=None) -> float:
        """Akaike information criterion, -2 sum_n log p(y_n | x_n) + 2 p (lower is better);
        with ``sample_weight``, the log-likelihood as in :meth:`bic`."""
        if sample_weight is None:
            return aic_from(self.log_prob(X, y), self.n_parameters())
        total, n = weighted_total(self.log_prob(X, y), sample_weight, X)
        return criteria_from_sums(total, n, 0.0, self.n_parameters())["aic"]

    @paired_rows("sample_weight")
    def icl(self, X, y, kind: str = "hard", sample_weight=None) -> float:
        """Integrated completed likelihood, lower is better: BIC - 2 sum_n log max_k p(k | x_n,
        y_n) (``kind="hard"``, as R's ``ICL`` on a flexmix fit), or BIC + 2 x the entropy of
        the posteriors (``kind="soft"``); see :meth:`emkit.GaussianMixture.icl`. With
        ``sample_weight`` (frequency weights) every sum over rows is weighted and n = sum_n
        w_n, as in :meth:`bic`."""
        if sample_weight is None:
            return icl_of(self.predict_proba(X, y), self.log_prob(X, y), self.n_parameters(), kind)
        _check_icl_kind(kind)
        total, n = weighted_total(self.log_prob(X, y), sample_weight, X)
        terms = _row_terms(_log_resp_of(self.predict_proba(X, y)), kind)
        term, _ = weighted_total(terms, sample_weight, X)
        return _icl_value(total, n, term, self.n_parameters())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.target_tags.required = True
        return tags


def _response(y):
    """``y`` read as numbers where it holds objects or text (a list, an object or text array,
    Series or DataFrame column), missing values (None, ``pd.NA``) as NaN, which scikit-learn's
    check of y then refuses as it refuses NaN; any other ``y`` as given.

    scikit-learn's check reads None as a number that becomes NaN after the check, fails on
    ``pd.NA`` with a bare TypeError, and converts text inside the check of X, whose error
    named X. Integers that float64 would round are refused first (a nullable column's with
    ``pd.NA`` too, which the check of y makes float64)."""
    refuse_inexact_integers(y, "y", "MixtureOfRegressions")
    if isinstance(y, (list, tuple)):
        y = np.asarray(y, dtype=object)
    elif isinstance(y, (pd.Series, pd.DataFrame)):
        dtypes = [y.dtype] if isinstance(y, pd.Series) else list(y.dtypes)
        if not any(is_string_dtype(t) for t in dtypes):  # object columns among them
            return y
        y = y.to_numpy(dtype=object)
    elif type(y) is not np.ndarray or y.dtype.kind not in "OUS":
        return y  # numbers, a masked array (refused as such), a tensor or a Dask collection
    return _numeric_y(y)


def _shifted_intercepts(coef: np.ndarray, intercept: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """The intercepts (k,) of the lines ``coef`` (k, p), ``intercept`` (k,) fitted to rows
    less ``origin`` (p + 1,: x's, then y's), for the rows themselves."""
    return intercept + origin[-1] - coef @ origin[:-1]


def _offset_moments(z: np.ndarray, w: np.ndarray | None) -> tuple:
    """The rows ``z`` (m, d) of weights ``w`` (m,) or None about their first row: ``(first
    (d,), weight, mean (d,), scatter (d,))``, the weighted mean of ``z - first`` and its sum
    of squares about that mean, so that a constant column's spread is exactly 0 (about its
    rounded mean, some ulps of the mean). Chunks' merge with :func:`_merged_offsets`."""
    first = z[0].copy()
    offsets = z - first  # the one copy of the rows this takes, squared in place
    weight = float(z.shape[0]) if w is None else float(w.sum())
    if not weight > 0:  # a partition of rows of weight 0: no rows of the fit
        return first, 0.0, np.zeros_like(first), np.zeros_like(first)
    step = np.average(offsets, axis=0, weights=w)
    offsets -= step
    np.square(offsets, out=offsets)
    if w is not None:
        offsets *= w[:, None]
    return first, weight, step, offsets.sum(axis=0)


def _merged_offsets(parts) -> tuple:
    """:func:`_offset_moments` of the rows of chunks ``parts`` (in order; None for a chunk
    without rows) together, about the first chunk's first row: each chunk's mean moved to
    that row (by 0 exactly in a constant column) and merged by Chan's update. One chunk's
    come back as they are."""
    held = [part for part in parts if part is not None]
    first = held[0][0]
    weight, mean, scatter = 0.0, np.zeros_like(first), np.zeros_like(first)
    for own, w, step, spread in held:
        weight, mean, scatter = merge_centred(
            (weight, mean, scatter), (w, (own - first) + step, spread)
        )
    return first, weight, mean, scatter


def _numeric_y(y) -> np.ndarray:
    """``y`` as float64, text of numbers read as numbers (as ``X``'s) and missing values
    (None, ``pd.NA``) of objects as NaN; other text, and integers that float64 would round
    (beyond 2**53), refused."""
    if getattr(getattr(y, "dtype", None), "kind", None) == "O":
        y = np.asarray(y, dtype=object)
        y = np.where(pd.isna(y), np.nan, y)
    refuse_inexact_integers(y, "y", "MixtureOfRegressions")
    try:
        return np.asarray(y, dtype=np.float64)
    except ValueError as exc:
        if "could not convert" not in str(exc):
            raise
        raise ValueError(
            f"MixtureOfRegressions needs a numeric response, but y holds values that are not "
            f"numbers ({exc}); convert y to numbers first (e.g. pandas.to_numeric) or drop "
            "those rows"
        ) from None


def _stacked(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A partition as the model reads it: covariates and response side by side, (m, p + 1)."""
    y = _numeric_y(y)
    if not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinite values; drop those rows first")
    return np.column_stack([x, y])
