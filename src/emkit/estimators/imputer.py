"""``GaussianImputer``: a multivariate normal fitted by EM to rows with missing values."""

from __future__ import annotations

from functools import partial
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._set_output import _get_output_config, _wrap_data_with_container
from sklearn.utils.validation import check_is_fitted

from emkit.backend.dask_source import is_dask_collection
from emkit.backend.inputs import as_source, checked
from emkit.backend.namespace import is_device_array, namespace_of
from emkit.backend.sources import DataSource, array_source
from emkit.distributions.gaussian import FullGaussian
from emkit.distributions.regularization import Regularization
from emkit.em import fit_starts
from emkit.estimators._device import (
    check_device_rows,
    placement,
    refuse_dask_device,
    resolution,
)
from emkit.estimators._inputs import (
    by_chunk,
    per_row,
    queried_array,
    transform_output,
    weighted_source,
)
from emkit.estimators._mixture_api import warn_if_ridge_outweighs, warn_unless_converged
from emkit.estimators._state import restores_on_error
from emkit.estimators._validation import (
    check_feature_names,
    check_incomplete_rows,
    check_observed,
    check_weights,
    names_checked,
    observed_together,
    paired_rows,
    rows_from_file,
    weighted_total,
)
from emkit.estimators.persist import ModelFileMixin
from emkit.exceptions import DegenerateFitWarning, warn_user
from emkit.models.missing import MissingMixture, complete


def _degenerate_message(reg_covar: float, ridge: float, result: Any) -> str:
    """The DegenerateFitWarning's text: with ``reg_covar`` 0, that the likelihood has no
    maximum and where the M-step had to raise the ridge (to ``ridge``) to go on."""
    cause = (
        "the data lie on or near a lower-dimensional set (a constant column, a column that "
        "is a linear function of others, or too few rows observing some columns together)"
    )
    if reg_covar > 0:
        return (
            f"the covariance is singular but for regularisation: {cause}, and along it the "
            "imputations follow the ridge reg_covar, not the data; see degenerate_. Drop the "
            "redundant columns."
        )
    raised = ""
    if ridge > 0:
        at = ", ".join(str(i) for i in result.structure_changes) or "?"
        raised = (
            f"; the M-step raised the ridge to {ridge:.3g} to keep it positive definite "
            f"(iteration {at}, where the objective in history_ changes and may drop)"
        )
    return (
        f"the covariance is singular: {cause}, so with reg_covar=0 the likelihood has no "
        f"maximum and EM ran toward a singular covariance{raised}. The imputations along it "
        "are not determined by the data; see degenerate_. Drop the redundant columns or set "
        "reg_covar > 0 (the default is 1e-6)."
    )


class GaussianImputer(OneToOneFeatureMixin, TransformerMixin, ModelFileMixin, BaseEstimator):
    r"""Multivariate normal fitted by EM to data with values missing at random (NaN).

    EM climbs the observed-data log-likelihood
    :math:`\ell(\mu, \Sigma) = \sum_n w_n \log \mathcal N(x_{n,o_n} \mid \mu_{o_n},
    \Sigma_{o_n o_n})`, where :math:`o_n` are row n's observed coordinates (Little and Rubin);
    each E-step fills a row's missing coordinates with their conditional mean and adds their
    conditional covariance to the scatter. ``transform`` then imputes from the fitted normal:
    conditional means, or copies drawn from the conditional distribution: by default under
    each copy's own parameters, EM's fit to a bootstrap resample of the rows (proper multiple
    imputation, Amelia's EMB); or, with ``parameters="fitted"``, under the fitted ones.

    Parameters
    ----------
    tol : float, convergence threshold on the gain in mean log-likelihood per row of one plain
        EM step. Missing values slow EM down (its rate is the fraction of information
        missing), and near the optimum the gain shrinks as the square of the distance to it:
        the default 1e-12 puts mean and covariance within about 1e-6 of the maximiser.
    reg_covar : float, the ridge :math:`c`: the covariance is :math:`(S + cI)/N` for the
        expected scatter S of N rows (the MAP of a prior, see ``history_``); 0 gives the
        maximum-likelihood estimate. A
        :class:`~emkit.exceptions.ScaleWarning` says where it outweighs the data's variance
        (as in :class:`emkit.GaussianMixture`).
    max_iter : int, EM iterations at most; 0 keeps the start (the observed values' column
        means and variances, plus the ridge, no correlation) with ``converged_`` False and no
        ConvergenceWarning, as ``max_iter=0`` in :class:`emkit.GaussianMixture` and
        scikit-learn's, which take it as asking for the start alone.
    callback : callable receiving an :class:`emkit.em.EMProgress` after every iteration.
    accelerate : "squarem" (default) or None, as in :class:`emkit.GaussianMixture`: SQUAREM
        extrapolates the EM map (:mod:`emkit.accel`) and never lowers the objective.
    device : None (NumPy), or "cpu", "cuda", "cuda:1" or a ``torch.device``: the E-step runs
        there on the PyTorch backend, as in :class:`emkit.GaussianMixture` (rows with no
        observed value are left out before the rows go to the device); a tensor passed to
        ``fit`` runs on its own device, and ``transform`` and ``score_samples`` answer a tensor
        with a tensor.

    Attributes
    ----------
    mean_ : array of shape (d,).
    covariance_ : array of shape (d, d).
    log_likelihood_ : float, observed-data log-likelihood (weighted) at ``mean_``, ``covariance_``.
    history_ : array, the objective before the first and after every accepted step: the
        log-likelihood plus the ridge prior's log-density -reg_covar/2 tr(Sigma^{-1}).
    n_iter_ : int, accepted steps: M-steps of plain EM, SQUAREM cycles (about three M-steps
        each; ``max_iter`` bounds the M-steps either way).
    converged_ : bool.
    weighted_ : bool, True where ``fit`` was given a ``sample_weight`` other than all ones
        (on the rows with an observed value): the bootstrap copies of ``transform`` then need
        the rows' weights.
    degenerate_ : bool, True where the covariance is singular but for regularisation (the
        data lie on a lower-dimensional set, or too few rows observe some columns together),
        judged as :meth:`emkit.models.missing.MissingMixture.degenerate` does for
        :class:`emkit.GaussianMixture` with ``missing="em"``; a
        :class:`~emkit.DegenerateFitWarning` says so.
    n_features_in_ : int.
    feature_names_in_ : array of str of shape (d,), the column names of ``X``;
        only where ``X`` was a DataFrame with string column names.

    Notes
    -----
    Rows with no observed value carry no information and are left out of the fit (the
    maximiser is the same with them); ``transform`` fills them with ``mean_``. A column with no
    observed value is an error.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import GaussianImputer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.multivariate_normal([0, 1], [[1, 0.8], [0.8, 1]], size=200)
    >>> X[rng.uniform(size=200) < 0.3, 1] = np.nan  # 30% of the second column missing
    >>> imp = GaussianImputer().fit(X)
    >>> imp.mean_.round(3)
    array([0.085, 1.087])
    >>> imp.covariance_.round(3)
    array([[0.996, 0.746],
           [0.746, 0.944]])
    >>> imp.transform(np.array([[1.0, np.nan]])).round(3)  # the conditional mean
    array([[1.   , 1.771]])
    """

    _parameter_constraints: dict = {
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "callback": [callable, None],
        "accelerate": [StrOptions({"squarem"}), None],
        "device": "no_validation",
    }
    _fitted_attributes = (
        "mean_",
        "covariance_",
        "log_likelihood_",
        "history_",
        "n_iter_",
        "converged_",
        "degenerate_",
        "n_features_in_",
    )

    def __init__(
        self,
        *,
        tol=1e-12,
        reg_covar=1e-6,
        max_iter=1000,
        callback=None,
        accelerate="squarem",
        device=None,
    ):
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.callback = callback
        self.accelerate = accelerate
        self.device = device

    @restores_on_error
    @paired_rows("sample_weight")
    def fit(self, X, y=None, sample_weight=None):
        """Fit mean and covariance by EM on the observed values.

        Parameters
        ----------
        X : array-like of shape (n, d), NaN where a value is missing (inf is an error); or data
            read chunk by chunk, with memory that does not grow with n: a path to a ``.npy`` or
            Parquet file, a ``np.memmap``, or a re-iterable of 2-D arrays (as
            :meth:`emkit.GaussianMixture.fit`). Each chunk is checked as it is read.
        y : ignored.
        sample_weight : array-like of shape (n,), non-negative.
        """
        self._validate_params()
        refuse_dask_device(type(self).__name__, self.device, X)
        place = placement(self.device, X)
        if place is not None and is_device_array(X):
            rows = check_device_rows(self, place.rows(X), reset=True, allow_nan=True)
            X = np.asarray(namespace_of(rows).to_numpy(rows), dtype=np.float64)
        data, x, w = self._data(X, sample_weight)
        start, total_weight, weighted = self._start(data)
        if place is not None and x is not None:
            held = ~np.isnan(x).all(axis=1)  # rows with an observed value
            data = place.hold(data, x[held], None if w is None else w[held])
        elif place is not None:
            data = place.stream(data)
        fit = fit_starts(
            [start],
            data,
            tol=self.tol,
            max_iter=self.max_iter,
            callback=self.callback,
            accelerate=self.accelerate,
            total_weight=total_weight,
            resolution=resolution(place),
        )
        result = fit.best
        components = result.model.components
        self.mean_ = components.means[0]
        self.covariance_ = components.covariances[0]
        self.log_likelihood_ = result.log_likelihood
        self.history_ = result.history
        self.n_iter_ = result.n_iter
        self.converged_ = result.converged
        self.degenerate_ = bool(fit.degenerate.any())
        self.weighted_ = weighted
        warn_unless_converged(self)
        if self.degenerate_:
            warn_user(
                _degenerate_message(self.reg_covar, result.model.reg_covar, result),
                DegenerateFitWarning,
            )
        warn_if_ridge_outweighs(self.reg_covar, getattr(result.stats, "components", None))
        return self

    def _data(self, X, sample_weight) -> tuple[DataSource, np.ndarray | None, Any]:
        """The chunk source to fit, rows with no observed value left out as they are read;
        and the validated rows and weights where ``X`` is in memory (else None, None)."""
        source = as_source(X)
        if source is None:
            x = check_incomplete_rows(self, X, reset=True, allow_empty_rows=True)
            w = check_weights(sample_weight, x)
            rows = checked(array_source(x, w), x.shape[1], allow_nan=True, drop_empty_rows=True)
            return rows, x, w
        self.n_features_in_ = source.n_features
        check_feature_names(self, source.feature_names, reset=True)
        if self.n_features_in_ < 1:
            raise ValueError(
                f"GaussianImputer needs 2-D data with at least one column; got "
                f"{self.n_features_in_} columns"
            )
        # Checked before its rows are counted: a Dask source of unknown partition sizes counts
        # them in the pass that checks them (NaN allowed), and splits NumPy weights only then.
        options = {"allow_nan": True, "drop_empty_rows": True}
        return weighted_source(X, source, sample_weight, self.n_features_in_, **options), None, None

    def _start(self, data) -> tuple[MissingMixture, float, bool]:
        """Observed column means and variances, zero correlations (two passes over ``data``);
        the total weight of the rows fitted, and whether a weight of theirs is not 1."""
        d = self.n_features_in_
        try:
            totals, sums, total_weight, together, reweighted = data.map_reduce(_observed_sums)
        except ValueError as exc:
            # Every row was empty, so the checked source yields no chunk.
            if "no chunk" not in str(exc):
                raise
            totals, sums, total_weight, together = np.zeros(d), np.zeros(d), 0.0, None
            reweighted = 0
        if not totals.any():
            raise ValueError(
                "GaussianImputer needs at least one row with an observed value and a positive "
                "weight; every row is entirely NaN (or has zero weight)."
            )
        check_observed(together, getattr(self, "feature_names_in_", None))
        mean = sums / totals
        squares = data.map_reduce(partial(_squares, mean))
        # The ridge's MAP variances (S + c)/N, as the M-step reads reg_covar (Regularization).
        var = Regularization(self.reg_covar).covariance(squares[None], totals[None])[0]
        # A column observed once (or constant) without a ridge has no spread to start from.
        var = np.where(var > 0, var, 1.0)
        components = FullGaussian.from_covariances(mean[None], np.diag(var)[None])
        weighted = reweighted > 0
        return MissingMixture(np.ones(1), components, self.reg_covar), total_weight, weighted

    def _model(self) -> MissingMixture:
        components = FullGaussian.from_covariances(self.mean_[None], self.covariance_[None])
        return MissingMixture(np.ones(1), components, self.reg_covar)

    @restores_on_error
    @paired_rows("sample_weight")
    def fit_transform(self, X, y=None, sample_weight=None) -> Any:
        """Fit, then fill the NaN of ``X``: ``transform(X)``; a path to a ``.npy`` or Parquet
        file, or a re-iterable of chunks, is filled chunk by chunk as :meth:`fit` reads it
        (its rows in order, into one array allocated up front: memory for one chunk besides
        the result)."""
        self.fit(X, sample_weight=sample_weight)
        filled = by_chunk(X, self._transform)
        if filled is None:
            return self.transform(X)
        return transform_output(self, filled, X)

    def transform(
        self, X, n_draws=None, random_state=None, parameters="bootstrap", sample_weight=None
    ) -> Any:
        r"""Fill the NaN of ``X`` from the fitted normal, given each row's observed values.

        Parameters
        ----------
        X : array-like of shape (n, d), NaN where a value is missing; a path to a ``.npy`` or
            Parquet file is read into memory (as :meth:`emkit.GaussianMixture.predict` reads
            it; :meth:`fit_transform` fills it chunk by chunk).
        n_draws : int or None. None fills each NaN with its conditional mean
            E[x_m | x_o] under ``mean_``, ``covariance_``; an int m returns m completed copies
            whose missing values are drawn from N(E[x_m | x_o], Cov[x_m | x_o]) under the
            parameters ``parameters`` says.
        random_state : int, RandomState or None, for the draws (resamples and values).
        parameters : {"bootstrap", "fitted"}, the parameters each copy draws from (with
            ``n_draws`` only).

            - "bootstrap" (proper multiple imputation, Amelia's EMB: Honaker, King and
              Blackwell 2011): copy j draws from :math:`(\mu_j, \Sigma_j)`, EM's fit (from
              ``mean_``, ``covariance_``, with this imputer's ``tol``, ``max_iter``,
              ``reg_covar``) to a bootstrap resample of the rows of ``X``, n rows drawn with
              replacement (as multinomial row weights); with ``sample_weight``, the rows the
              weights stand for, round(sum of the weights) drawn with replacement
              (multinomial counts proportional to the weights), as :func:`emkit.bootstrap`
              resamples frequency weights. The copies then vary with the parameters'
              sampling error too, so that Rubin's rules give intervals of the stated
              coverage. ``X`` should be the data the imputer was fitted to (or rows like
              them), with the weights it was fitted with: the resample stands for the sample
              the parameters came from. It needs more rows with an observed value than
              columns, in memory.
            - "fitted": every copy draws from ``mean_``, ``covariance_`` (Rubin's improper
              imputation): the copies leave out the parameters' uncertainty, and Rubin's
              intervals are too short where the sample is small (95% intervals for a mean
              covered 88% of the time, the bootstrap's 94%, with 40 rows, 60% of a column
              missing; see ``benchmarks/imputer_coverage.py``). For imputing a few new rows
              given the fitted model, or a Dask collection.
        sample_weight : array-like of shape (n,), non-negative, or None: the weights of the
            rows of ``X``, frequency weights as :meth:`fit` reads them (a weight of m counts
            a row m times). Only the bootstrap reads them (a row's conditional mean and draws
            under given parameters do not depend on the other rows). Where the imputer was
            fitted with weights (``weighted_``), bootstrap copies without them are refused:
            they would be drawn around the unweighted fit.

        Returns
        -------
        array of shape (n, d), or (n_draws, n, d) when ``n_draws`` is given. Observed values
        are returned unchanged. After ``set_output(transform="pandas")`` (or "polars"): a
        DataFrame, or with ``n_draws`` a list of ``n_draws`` DataFrames (one per completed
        copy, with the columns and index of ``X``), since a DataFrame cannot be 3-D. On a
        Dask collection: a lazy dask Array with the partitions of ``X``; after
        ``set_output(transform="pandas")`` a lazy Dask DataFrame instead, with the feature
        names as columns and, for a Dask DataFrame ``X``, its index and divisions (rows of a
        dask Array numbered from 0, as pandas numbers an array's). "polars" has no lazy Dask
        form: the lazy dask Array again. With ``n_draws``: a lazy dask Array of the draws
        whatever the output setting (``parameters="fitted"`` only); each partition then
        draws from its own seed (all taken from ``random_state``), so the draws are not those
        of the same rows in memory, but they repeat for the same ``random_state`` and
        partitions.
        """
        if n_draws is not None and (
            isinstance(n_draws, bool) or not isinstance(n_draws, Integral) or n_draws < 1
        ):
            raise ValueError(f"n_draws must be None or a positive integer; got {n_draws!r}")
        if parameters not in ("bootstrap", "fitted"):
            raise ValueError(f'parameters must be "bootstrap" or "fitted"; got {parameters!r}')
        bootstrap = n_draws is not None and parameters == "bootstrap"
        if bootstrap and sample_weight is None and getattr(self, "weighted_", False):
            raise ValueError(
                'transform(n_draws=..., parameters="bootstrap") refits the normal to a '
                "bootstrap resample of the rows of X, and this imputer was fitted with "
                "sample_weight (weighted_ is True): pass the rows' weights, "
                "transform(X, n_draws=..., sample_weight=w), so that the copies are drawn "
                'around the weighted fit, or parameters="fitted" to draw every copy from '
                "mean_ and covariance_ (improper: no parameter uncertainty)"
            )
        if n_draws is not None and is_dask_collection(X):
            if parameters == "bootstrap":
                raise ValueError(
                    'transform(n_draws=..., parameters="bootstrap") refits the normal to a '
                    "bootstrap resample of the rows in memory, not on a Dask collection: "
                    "compute the rows first (X.compute()) for proper multiple imputation, or "
                    'pass parameters="fitted" to draw every copy from mean_ and covariance_ '
                    "(improper: no parameter uncertainty, negligible only for many rows)"
                )
            x = queried_array(self, X)
            seeds = check_random_state(random_state).randint(
                np.iinfo(np.int32).max, size=x.numblocks[0]
            )
            return x.map_blocks(
                partial(_draw_block, self, int(n_draws), seeds),
                new_axis=0,
                chunks=((int(n_draws),), x.chunks[0], x.chunks[1]),
                dtype=np.float64,
                meta=np.empty((0, 0, 0)),
            )
        out = self._transform(X, n_draws, random_state, parameters == "bootstrap", sample_weight)
        if n_draws is None or _get_output_config("transform", self)["dense"] == "default":
            return transform_output(self, out, X)  # on a Dask collection lazy, never computed
        return [_wrap_data_with_container("transform", draw, X, self) for draw in out]

    @per_row(width=lambda self: self.n_features_in_)
    def _transform(
        self, X, n_draws=None, random_state=None, bootstrap=False, sample_weight=None
    ) -> np.ndarray:
        """:meth:`transform` of rows in memory or on a device (of each block of a Dask
        collection, without draws or with ``bootstrap`` False)."""
        check_is_fitted(self)
        X = rows_from_file(X, getattr(self, "feature_names_in_", None))
        if is_device_array(X):
            rows = check_device_rows(self, X, reset=False, allow_nan=True)
            filled = self._transform(
                namespace_of(rows).to_numpy(rows), n_draws, random_state, bootstrap, sample_weight
            )
            return namespace_of(rows).asarray(filled, like=rows)
        x = check_incomplete_rows(self, X, reset=False, allow_empty_rows=True)
        x = x.astype(np.float64, copy=False)
        w = check_weights(sample_weight, x)
        if n_draws is None:
            return _draws(self._model().components, x, None, None)
        rng = check_random_state(random_state)
        if not bootstrap:
            return _draws(self._model().components, x, int(n_draws), rng)
        fitted = ~np.isnan(x).all(axis=1)
        if w is not None:
            fitted &= w > 0
        if fitted.sum() <= x.shape[1]:
            raise ValueError(
                f'transform(n_draws=..., parameters="bootstrap") refits the normal to a '
                f"bootstrap resample of the rows of X, and X has {int(fitted.sum())} rows with "
                f"an observed value (and a positive weight) for {x.shape[1]} columns: pass the "
                'data the imputer was fitted to (or rows like them), or parameters="fitted" '
                "to impute these rows given mean_ and covariance_ (improper: no parameter "
                "uncertainty)"
            )
        # Frequency weights (a row of weight m is m rows), as emkit.bootstrap reads them:
        # draw the rows they stand for, round(sum w) with replacement.
        total = x.shape[0] if w is None else float(w.sum())
        drawn = int(round(total))
        if drawn <= x.shape[1]:
            raise ValueError(
                f"sample_weight sums to {total:.6g}: as frequency weights (a weight of m "
                f"counts a row m times) they stand for {drawn} rows, too few for the bootstrap "
                f"to refit {x.shape[1]} columns. Pass the weights the imputer was fitted with, "
                "scaled to the number of rows they stand for"
            )
        share = np.full(x.shape[0], 1.0 / x.shape[0]) if w is None else w / w.sum()
        copies = []
        unsettled = 0
        for _ in range(int(n_draws)):
            counts = rng.multinomial(drawn, share)
            components, settled = self._resample_fit(x, counts.astype(np.float64))
            unsettled += not settled
            copies.append(_draws(components, x, 1, rng)[0])
        if unsettled:
            warn_user(
                f"{unsettled} of the {int(n_draws)} bootstrap refits stopped at max_iter or "
                "have a singular covariance but for reg_covar (a resample repeating few rows "
                "observing some columns): their copies draw from those fits. Raise max_iter, "
                "or impute more rows.",
                DegenerateFitWarning,
            )
        return np.stack(copies)  # (m, n, d)

    def _resample_fit(self, x: np.ndarray, counts: np.ndarray) -> tuple[Any, bool]:
        """EM's fit to the rows ``x`` (n, d) weighted by their bootstrap ``counts`` (n,), from
        ``mean_``, ``covariance_``: the components, and whether it converged regular."""
        data = checked(array_source(x, counts), x.shape[1], allow_nan=True, drop_empty_rows=True)
        fit = fit_starts(
            [self._model()],
            data,
            tol=self.tol,
            max_iter=self.max_iter,
            accelerate=self.accelerate,
        )
        result = fit.best
        return result.model.components, bool(result.converged and not fit.degenerate.any())

    @per_row()
    def score_samples(self, X) -> np.ndarray:
        """Log density of each row's observed values, log N(x_o | mu_o, Sigma_oo), shape (n,)."""
        check_is_fitted(self)
        X = rows_from_file(X, getattr(self, "feature_names_in_", None))
        if is_device_array(X):
            x = check_device_rows(self, X, reset=False, allow_nan=True)
            return self._model().log_resp(x)[1]
        x = check_incomplete_rows(self, X, reset=False, allow_empty_rows=True)
        return self._model().log_resp(x.astype(np.float64, copy=False))[1]

    @paired_rows("sample_weight")
    def score(self, X, y=None, sample_weight=None) -> float:
        """Mean observed-data log-likelihood per row; with ``sample_weight`` (frequency
        weights, as in :meth:`fit`: a weight of m counts a row m times) sum_n w_n log p_n /
        sum_n w_n, the score of the rows repeated. On a Dask collection the weights are a dask
        Array or Series partitioned as ``X``, or an array split as ``X`` is (a pandas Series
        with the index of a Dask DataFrame ``X``); only the sums come back."""
        if sample_weight is None:
            return float(self.score_samples(X).mean())
        total, n = weighted_total(self.score_samples(X), sample_weight, X)
        return total / n

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


# scikit-learn wraps what transform returns in one DataFrame, which the (n_draws, n, d) draws
# cannot be, and computes a lazy Dask result into one with a new index: transform and
# fit_transform wrap their own output (transform_output, _wrap_data_with_container) instead.
GaussianImputer.transform = GaussianImputer.transform.__wrapped__  # type: ignore[attr-defined, method-assign]
GaussianImputer.fit_transform = GaussianImputer.fit_transform.__wrapped__  # type: ignore[attr-defined, method-assign]


def _draw_block(
    imputer: GaussianImputer, n_draws: int, seeds: np.ndarray, block: np.ndarray, block_id=None
) -> np.ndarray:
    """``n_draws`` completed copies of one partition (n_draws, m, d), from its own seed; the
    names of the collection were checked where it was queried."""
    with names_checked():
        return imputer._transform(block, n_draws, int(seeds[block_id[1]]), False)


def _draws(
    components: Any, x: np.ndarray, m: int | None, rng: np.random.RandomState | None
) -> np.ndarray:
    """``x`` (n, d) with its NaN filled from the normal ``components``: conditional means
    (n, d) where ``m`` is None, else ``m`` copies (m, n, d) of draws from the conditional
    distributions."""
    completion = complete(components, x)
    filled = x.copy() if completion.completed is None else completion.completed[0]
    if m is None:
        return filled
    assert rng is not None
    draws = np.repeat(filled[None], m, axis=0)  # (m, n, d)
    for pattern in completion.patterns:
        # Eigen-factor of the conditional covariance: PSD even where it is singular.
        eigval, eigvec = np.linalg.eigh(pattern.covariance[0])
        factor = eigvec * np.sqrt(np.clip(eigval, 0.0, None))  # (m_p, m_p)
        noise = rng.standard_normal((m, pattern.rows.size, eigval.size))
        index = np.ix_(np.arange(m), pattern.rows, np.flatnonzero(pattern.missing))
        draws[index] += noise @ factor.T
    return draws


def _observed_sums(x: np.ndarray, w: np.ndarray | None) -> tuple:
    """Observed weight per column (d,), weighted sums of the observed values (d,), total
    weight, the weight of the rows that observe each pair of columns together (d, d), and the
    number of rows whose weight is not 1 (all five add up over partitions)."""
    weights = ~np.isnan(x) * (1.0 if w is None else w[:, None])  # (m, d)
    total = x.shape[0] if w is None else float(w.sum())
    together = observed_together(x, w)  # (d, d)
    reweighted = 0 if w is None else int(np.count_nonzero(w != 1.0))
    sums = (weights.sum(axis=0), (weights * np.nan_to_num(x)).sum(axis=0), total, together)
    return _Sums((*sums, reweighted))


def _squares(mean: np.ndarray, x: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Weighted sums of squared deviations from ``mean`` of the observed values, shape (d,)."""
    weights = ~np.isnan(x) * (1.0 if w is None else w[:, None])  # (m, d)
    return (weights * np.nan_to_num(x - mean) ** 2).sum(axis=0)


class _Sums(tuple):
    """A tuple of partial sums that adds element by element."""

    def __add__(self, other):
        return _Sums(a + b for a, b in zip(self, other, strict=True))
