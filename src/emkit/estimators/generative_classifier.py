"""``GenerativeClassifier``: Gaussian class densities from labelled and unlabelled rows."""

from __future__ import annotations

from functools import partial
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d

from emkit.backend.column_kinds import na_as_nan
from emkit.backend.dask_source import (
    DaskSource,
    aligned_array,
    counted_for,
    dask_value_counts,
    frame_index,
    is_dask_collection,
    is_pandas,
)
from emkit.backend.inputs import start_rows
from emkit.backend.integers import refuse_rounded_target
from emkit.backend.namespace import is_device_array, namespace_of
from emkit.backend.sources import array_source, feature_names
from emkit.backend.threads import blas_for_rows
from emkit.distributions.gaussian import ALIASES, COVARIANCES, GaussianStats, covariance_structure
from emkit.distributions.regularization import Regularization
from emkit.em import fit_known, fit_starts
from emkit.estimators._device import check_device_rows, placement, resolution
from emkit.estimators._inputs import INIT_ROWS, dask_fit_source, joined_rows, per_row
from emkit.estimators._mixture_api import (
    aic_from,
    bic_from,
    criteria_from_sums,
    warn_if_ridge_outweighs,
    warn_unless_converged,
)
from emkit.estimators._state import restores_on_error
from emkit.estimators._validation import (
    MISSING_EM_HINT,
    check_incomplete_rows,
    check_magnitude,
    check_observed,
    check_rows,
    check_weights,
    numeric_input,
    observed_together,
    paired_rows,
    reject_nan,
    validate,
    weighted_total,
)
from emkit.estimators.persist import ModelFileMixin
from emkit.exceptions import DegenerateFitWarning, warn_user
from emkit.init import components_from_responsibilities
from emkit.models.missing import MissingMixture, fill_column_means
from emkit.models.mixture import (
    LABELLED,
    UNLABELLED,
    Mixture,
    MixtureStats,
    log_posterior,
    most_probable,
)


class GenerativeClassifier(ModelFileMixin, ClassifierMixin, BaseEstimator):
    r"""Classifier with Gaussian class-conditional densities and class priors.

    With every row labelled this is quadratic (``"full"``) or linear (``"tied"``) discriminant
    analysis, fitted in closed form. Rows labelled ``-1`` (scikit-learn's semi-supervised
    convention; with string or boolean classes the number -1 in an object array, see
    :meth:`fit`) are unlabelled: EM then climbs

    .. math::

        \ell(\theta) = \sum_{i\ \text{labelled}} w_i \log \pi_{y_i}\mathcal N(x_i \mid
        \mu_{y_i}, \Sigma_{y_i}) + \sum_{j\ \text{unlabelled}} w_j \log \sum_k \pi_k
        \mathcal N(x_j \mid \mu_k, \Sigma_k),

    the labelled rows' responsibilities fixed, starting from the fit to the labelled rows
    (a class whose labelled rows cannot estimate its covariance, one row say, starts at
    their mean with the covariance of every row, labelled or not).

    The string ``"-1"`` is never read as unlabelled, in memory or on Dask: it may name a
    class (scikit-learn's ``SelfTrainingClassifier`` refuses string arrays outright), and
    fit's error shows the recode, ``y = y.astype(object).mask(y == "-1", -1)`` for a pandas
    or Dask Series. A Dask DataFrame made or read with Dask's default
    ``dataframe.convert-string`` stores the number -1 of a column of text as that string, so
    such a column needs the recode (or ``dask.config.set({"dataframe.convert-string":
    False})`` before it is read). Missing labels are errors too, marked unlabelled by
    ``y = y.astype(object).where(y.notnull(), -1)`` for a Series of any dtype (numbers,
    booleans, text, categories). Label errors count rows, on Dask as in memory.

    Parameters
    ----------
    covariance_type : {"full", "tied", "diag", "spherical"} or any of mclust's 14 names
        ("EII" ... "VVV", :class:`GaussianMixture`'s); with every row labelled the fit is
        mclust's ``MclustDA(modelType = "EDDA")`` for that model.
    priors : array-like of shape (n_classes,) or None. Class priors, positive and summing to 1,
        in the order of ``classes_``; None estimates them (class proportions). Given priors
        change only the class weights: a shared covariance (``"tied"``) still pools the
        classes' scatter by their rows, its maximum-likelihood estimate, where
        scikit-learn's LinearDiscriminantAnalysis weights each class's covariance by its
        given prior (the two agree where ``priors`` is None).
    reg_covar : float, the ridge :math:`c` of :class:`emkit.GaussianMixture`, in the same
        M-step (every structure): each class covariance is :math:`(S_k + cI)/N_k`, the MAP of
        the prior :math:`-\tfrac c2 \operatorname{tr}\Sigma_k^{-1}`, with :math:`S_k` the
        class's weighted scatter and :math:`N_k` its weight (scikit-learn's GaussianMixture
        adds :math:`c` after dividing by :math:`N_k`). Its pull is therefore relative to the
        data's scale and to the total of ``sample_weight`` (frequency weights: all equal to
        :math:`s` they count each row :math:`s` times); a
        :class:`~emkit.exceptions.ScaleWarning` says where it outweighs the data's variance.
        0 gives the maximum-likelihood fit, as QuadraticDiscriminantAnalysis with
        ``reg_param=0``, whatever the data's or the weights' scale, where it exists. Where a
        class covariance is singular at this ridge (with ``reg_covar=0``: a constant column
        within a class, duplicate rows, a class on fewer rows than dimensions) no maximum
        exists: the M-step raises the ridge tenfold, from 1e-12 of the largest covariance
        entry (of the data's largest variance where every class is on one point), until the
        covariance is positive definite, a DegenerateFitWarning names the class, and its
        probabilities, ``log_likelihood_`` and :meth:`bic` rest on that ridge.
    tol : float, EM's convergence threshold on the gain in mean log-likelihood per row.
    max_iter : int, EM iterations at most.
    missing : {"error", "em"}. "em" takes NaN in ``X`` as values missing at random: densities
        are marginals over each row's observed coordinates, and EM fills in the rest. A
        column observed in no row of positive weight is an error; a DegenerateFitWarning
        names two columns never observed in one row (of the whole data, or of a class's rows
        labelled so or unlabelled, where classes have covariances of their own) and a class
        whose rows never observe a column: the likelihood does not depend on what those
        leave, whose fitted value is EM's, not the data's. A labelled row with no observed
        value adds :math:`w_i \log \pi_{y_i}`: it counts toward the estimated priors (with
        ``priors`` given it carries nothing and is an error, as is an unlabelled one, whose
        :math:`\sum_k \pi_k` is 1).
    callback : callable receiving an :class:`emkit.em.EMProgress` after every EM iteration.
    device : None (NumPy), or "cpu", "cuda", "cuda:1" or a ``torch.device``: EM's E-steps
        run there on the PyTorch backend (``pip install "emkit[torch]"``); fitted attributes
        stay NumPy arrays, and predict_proba, predict_log_proba and predict (numeric classes)
        answer a tensor with a tensor.
    unlabelled : {"warn", -1, None}. -1: rows labelled -1 are unlabelled (scikit-learn's
        semi-supervised convention, see :meth:`fit`) and EM fits them; "warn" (default): the
        same, with a UserWarning naming how many rows that is, where there are any (labels
        {-1, 0, 1} would otherwise lose their class -1 without a word); None: every label is
        a class, -1 included (as ``QuadraticDiscriminantAnalysis`` reads it).

    Attributes
    ----------
    classes_ : array of shape (k,), the labels seen (without -1), at least two.
    priors_ : array of shape (k,).
    means_ : array of shape (k, d).
    covariances_ : full (k, d, d), tied (d, d), diag (k, d), spherical (k,).
    precisions_cholesky_ : same layout; U with Sigma^{-1} = U U^T.
    log_likelihood_ : float, the objective above (weighted) at the fitted parameters.
    history_ : array, the objective plus the ridge prior's log-density before the first and
        after every M-step; for the closed form, its one value at the fit.
    n_iter_ : int, M-steps taken (1 for the closed form: one M-step from the labels).
    converged_ : bool.
    n_features_in_ : int.
    feature_names_in_ : array of str of shape (d,), the column names of ``X``;
        only where ``X`` was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import GenerativeClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal([0, 0], 1, (100, 2)), rng.normal([3, 3], 1, (100, 2))])
    >>> y = np.repeat([0, 1], 100)
    >>> qda = GenerativeClassifier().fit(X, y)  # every row labelled: QDA in closed form
    >>> qda.predict(np.array([[0.0, 0.0], [3.0, 3.0]]))
    array([0, 1])
    >>> y_semi = y.copy()
    >>> y_semi[rng.uniform(size=200) < 0.9] = -1  # 90% unlabelled: EM uses them too
    >>> semi = GenerativeClassifier(unlabelled=-1).fit(X, y_semi)
    >>> semi.classes_
    array([0, 1])
    >>> semi.means_.round(2)
    array([[-0.09,  0.11],
           [ 2.88,  2.92]])
    >>> round(semi.score(X, y), 3)
    0.985
    """

    _parameter_constraints: dict = {
        "covariance_type": [StrOptions(set(COVARIANCES) | set(ALIASES))],
        "priors": ["array-like", None],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "missing": [StrOptions({"error", "em"})],
        "callback": [callable, None],
        "device": "no_validation",
        "unlabelled": [StrOptions({"warn"}), Options(Integral, {-1}), None],
    }
    _fitted_attributes = (
        "classes_",
        "priors_",
        "means_",
        "covariances_",
        "precisions_cholesky_",
        "log_likelihood_",
        "history_",
        "n_iter_",
        "converged_",
        "n_features_in_",
    )

    def __init__(
        self,
        covariance_type="full",
        *,
        priors=None,
        reg_covar=1e-6,
        tol=1e-8,
        max_iter=1000,
        missing="error",
        callback=None,
        device=None,
        unlabelled="warn",
    ):
        self.covariance_type = covariance_type
        self.priors = priors
        self.reg_covar = reg_covar
        self.tol = tol
        self.max_iter = max_iter
        self.missing = missing
        self.callback = callback
        self.device = device
        self.unlabelled = unlabelled

    @restores_on_error
    @paired_rows("sample_weight")
    def fit(self, X, y, sample_weight=None):
        """Fit class densities and priors; rows with ``y == -1`` are unlabelled.

        Parameters
        ----------
        X : array-like of shape (n, d), or a list of chunks (2-D arrays or DataFrames with
            the same columns) read as their rows joined in order, as every method taking
            ``X`` reads one; NaN allowed with ``missing="em"``.
        y : array-like of shape (n,), class labels, at least two classes; one array for a
            list of chunks too, a label per row of the chunks in order. Unlabelled rows
            follow scikit-learn's semi-supervised convention: -1 in integer or float labels
            (recode a class named -1), and the number -1 in an object array whose classes are
            strings (``SelfTrainingClassifier``'s) or booleans (classes ``[False, True]``, as
            of a bool array). A string array may not hold "-1" (it would silently become a
            class: ``SelfTrainingClassifier`` refuses string arrays outright; on Dask see the
            class docstring), and a missing label (NaN, None, pd.NA, as in a pandas
            Categorical or Int64 column) is an error, as in scikit-learn, whose message shows
            how to mark those rows with -1.
        sample_weight : array-like of shape (n,), non-negative; a weight of m counts a row m
            times, so with ``reg_covar > 0`` their overall scale sets the ridge's share (see
            ``reg_covar``).
        """
        self._validate_params()
        place = placement(self.device, X)
        if is_device_array(X):
            X = namespace_of(X).to_numpy(X)
        if is_device_array(y):
            y = namespace_of(y).to_numpy(y)
        data, x, labels, w = self._data(X, y, sample_weight)
        k = self.classes_.size
        structure = covariance_structure(self.covariance_type)
        em = self.missing == "em"
        totals = data.map_reduce(partial(_label_totals, k, em))
        counts, unlabelled, incomplete, seen, empty_rows, featureless = totals
        if empty_rows.any():  # rows with no observed value (missing="em")
            self._check_empty_rows(empty_rows, x, labels, X)
            data, x, labels, w = _without_empty_rows(data, x, labels, w)
        if not np.all(counts > 0):
            empty = self.classes_[counts <= 0].tolist()
            raise ValueError(
                f"classes {empty} have no labelled row with positive weight and an observed "
                "value; every class needs at least one. Drop those labels or give their rows a "
                "positive sample_weight."
            )
        if incomplete:
            self._check_observed(data, seen, structure)
        priors = self._checked_priors(k)
        closed_form = unlabelled == 0 and not incomplete
        if closed_form:
            stats = data.map_reduce(partial(_class_stats, k, structure.diagonal_stats))
            components = structure.from_stats(stats, Regularization(self.reg_covar))
        else:
            # Start from the labelled rows (NaN filled by column means): EM then uses them all.
            # A class too few of them estimate starts with the covariance of every row of
            # positive weight (labelled or not), as a cluster does (init.py).
            labelled = labels != UNLABELLED
            onehot = np.eye(k)[labels[labelled]]  # (n_labelled, k)
            if w is not None:
                onehot *= w[labelled, None]
            start_x = fill_column_means(x[labelled], None if w is None else w[labelled])
            every = x if w is None else x[w > 0]
            _, components = components_from_responsibilities(
                structure,
                start_x,
                onehot,
                self.reg_covar,
                data=fill_column_means(every, None),
            )
        # A labelled row with no observed value adds w log pi_y to the objective: the
        # Dirichlet term (alpha - 1) log pi of the weights, with alpha - 1 their weight.
        model = MissingMixture(
            (counts + featureless) / (counts + featureless).sum() if priors is None else priors,
            components,
            max(self.reg_covar, components.ridge),
            assignment=LABELLED,
            weight_concentration=1.0 + featureless,
            fixed_weights=priors is not None,
        )
        fit = None
        if closed_form:
            # The closed form is the fit itself; the classes' statistics give its objective
            # (but where a covariance is nearly singular: the driver evaluates it then).
            known = MixtureStats(stats.weight, stats)
            fit = fit_known(model, known, model.known_log_likelihood(known))
        if fit is None:
            if place is not None:  # rows in memory: on the device
                data = place.resident(x, w, labels)
            fit = fit_starts(
                [model],
                data,
                tol=self.tol,
                max_iter=0 if closed_form else self.max_iter,
                callback=self.callback,
                resolution=resolution(place),
            )
        result = fit.best
        if fit.degenerate.any():
            raised = " the M-step raised from reg_covar=0 (see reg_covar)" * (self.reg_covar == 0)
            warn_user(
                f"classes {self.classes_[fit.degenerate].tolist()} have covariances singular "
                "but for regularisation (fewer rows than the covariance has directions, "
                "duplicate rows or a constant column): their probabilities and the "
                f"log-likelihood rest on the ridge{raised}. "
                f"{_degenerate_advice(structure, k, x.shape[1])}",
                DegenerateFitWarning,
            )
        self.priors_ = result.model.weights
        self.means_ = result.model.components.means
        self.covariances_ = result.model.components.covariances
        self.precisions_cholesky_ = result.model.components.precisions_cholesky
        # the driver counts the Dirichlet term as a prior: it is these rows' log-likelihood
        self.log_likelihood_ = result.log_likelihood + float(
            featureless @ np.log(result.model.weights)
        )
        self.history_ = result.history
        self.n_iter_ = 1 if closed_form else result.n_iter
        self.converged_ = closed_form or result.converged
        warn_unless_converged(self)
        warn_if_ridge_outweighs(self.reg_covar, getattr(result.stats, "components", None))
        return self

    def _check_empty_rows(self, empty_rows: np.ndarray, x: np.ndarray, labels, X) -> None:
        """ValueError for rows with no observed value that add nothing to the fit: ``empty_rows``
        counts them, labelled and unlabelled (:func:`_label_totals`); ``x`` and ``labels`` are
        every row in memory (a sample of a Dask collection), which name the first. A labelled
        one adds log pi_y to the objective: it counts toward priors estimated, not given. An
        unlabelled one adds log sum_k pi_k = 0."""
        in_memory = not is_dask_collection(X)
        empty = np.isnan(x).all(axis=1)

        def first(rows: np.ndarray) -> str:
            return f"; the first is row {int(np.argmax(rows))}" if in_memory else ""

        unlabelled = labels == UNLABELLED
        if empty_rows[1]:
            raise ValueError(
                f"{int(empty_rows[1])} unlabelled rows (y == -1) have no observed value (every "
                f"entry is NaN{first(empty & unlabelled)}). Their likelihood, sum_k pi_k, is 1 "
                "whatever the parameters, so they carry no information; drop them first, e.g. "
                "keep = ~(np.isnan(X).all(axis=1) & (y == -1)); X, y = X[keep], y[keep]."
            )
        if self.priors is not None:
            raise ValueError(
                f"{int(empty_rows[0])} labelled rows have no observed value (every entry is "
                f"NaN{first(empty & ~unlabelled)}). Such a row informs only the class priors, "
                "and priors are given, so they carry no information; drop them first, e.g. "
                "keep = ~np.isnan(X).all(axis=1); X, y = X[keep], y[keep]. With priors=None "
                "they count toward the estimated priors_."
            )

    def _check_observed(self, data, seen: np.ndarray, structure) -> None:
        """:func:`~emkit.estimators._validation.check_observed` of the whole data, then of
        each class's rows (labelled so, or unlabelled), from ``seen``, the weight of each
        class's rows observing each column and, last, of the unlabelled rows (k + 1, d)
        (:func:`_label_totals`): a class whose rows never observe a column leaves its mean
        there to EM's start. Where the model has covariances, the weight of the rows that
        observe each pair of columns, one more pass over ``data``: per class (k + 1, d, d)
        where the classes have covariances of their own (one whose rows never observe two
        columns together leaves its covariance there to EM's start), else of all the rows.
        Pairs that no row observes are reported once, for the whole data."""
        names = getattr(self, "feature_names_in_", None)
        k, d = seen.shape[0] - 1, seen.shape[1]
        own = structure.n_covariance_parameters(k, d) > structure.n_covariance_parameters(1, d)
        by_class = seen  # (k + 1, d), or (k + 1, d, d) where classes have covariances
        if structure.diagonal_stats:
            whole = seen.sum(axis=0)  # (d,)
        elif own:
            by_class = data.map_reduce(partial(_class_pairs, k))
            whole = by_class.sum(axis=0)  # (d, d)
        else:
            whole = data.map_reduce(_pairs)  # (d, d)
        check_observed(whole, names)
        # what the whole data leave unobserved is reported once, above
        observed = np.diag(whole) if whole.ndim > by_class.ndim - 1 else whole
        for c, name in enumerate(self.classes_.tolist()):
            check_observed(
                np.where(observed > 0, by_class[c] + by_class[k], 1.0),
                names,
                where=f" in the rows of class {name!r} (labelled so, or unlabelled)",
            )

    def _data(self, X, y, sample_weight):
        """The source of labelled chunks ``(x, labels)`` to fit, and the rows to start EM
        from: ``x``, their class indices (UNLABELLED where ``y == -1``) and weights. Sets
        ``classes_``. In memory every row; a Dask collection a sample drawn on its workers
        (all rows where there are at most 100 000)."""
        if not is_dask_collection(X):
            given = y
            x, y = self._validated(X, y)
            w = check_weights(sample_weight, x)
            labels = self._encode(y, given=given)
            return array_source(x, w, labels=labels), x, labels, w
        em = self.missing == "em"
        source = dask_fit_source(self, X, sample_weight, y, allow_nan=em, nan_hint=MISSING_EM_HINT)
        # the labels of a column of the DataFrame X came from are found as its rows are
        # counted, in the same read; those of another collection in a read of their own
        # (with the rows holding each, which label errors report)
        values, rows = source.labels if source.labels is not None else dask_value_counts(y)
        self._encode(values, rows, given=y)
        # rows with no observed value are kept: fit counts them (and refuses those that carry
        # nothing) from the labels, then leaves them out (:func:`_without_empty_rows`)
        data = source.checked(
            source.n_features,
            allow_nan=em,
            keep_empty_rows=em,
            nan_hint=MISSING_EM_HINT,
            make=partial(_labelled_chunk, self.classes_, self._marker()),
        )
        (x, labels), w = start_rows(data, INIT_ROWS, np.random.RandomState(0))
        return data, x, labels, w

    def _validated(self, X, y):
        em = self.missing == "em"
        X = joined_rows(X, y)  # a list of chunks: their rows, in order
        # Before scikit-learn's own check, which calls a missing label "NaN in the input".
        if y is not None:
            _refuse_missing_labels(np.ravel(np.asarray(y)), given=y)
            # read as float64 below, as scikit-learn reads them
            refuse_rounded_target(y, type(self).__name__)
        X = na_as_nan(X)  # pd.NA in object columns: NaN, as in a Float64 column
        with numeric_input(self, X):
            x, y = validate(
                self,
                X,
                y,
                reset=True,
                dtype=[np.float64, np.float32],
                ensure_all_finite="allow-nan",
            )
        check_magnitude(x)
        if not em:
            reject_nan(x, MISSING_EM_HINT, feature_names(X))
        return x.astype(np.float64, copy=False), y

    def _encode(self, y, rows: np.ndarray | None = None, given=None) -> np.ndarray:
        """Class indices (n,), UNLABELLED where ``y`` marks a row unlabelled (:func:`_unlabelled`);
        sets ``classes_``. ``y`` the labels of every row, or (a Dask target) the distinct
        labels and ``rows`` the rows holding each; ``given`` the target as passed to fit, whose
        type the advice of a label error fits."""
        marker = self._marker()
        unlabelled = _unlabelled(y, rows, given, marker)
        if unlabelled.any() and self.unlabelled == "warn":
            warn_user(
                f"{_rows(unlabelled, rows)} rows labelled -1 are unlabelled (scikit-learn's "
                "semi-supervised convention): EM fits them without a class. Pass "
                "unlabelled=-1 to say so, or unlabelled=None where -1 is a class.",
                UserWarning,
            )
        if unlabelled.all():
            raise ValueError(
                "every row is unlabelled (y == -1); a generative classifier needs labelled rows "
                "of each class. To cluster unlabelled data, use GaussianMixture."
            )
        labelled = _plain_labels(y[~unlabelled])
        try:
            check_classification_targets(labelled)
        except TypeError:  # NumPy's sort of text and numbers ("'<' not supported")
            _refuse_mixed_labels(labelled)
            raise
        classes = np.unique(labelled)
        if classes.size < 2:
            found = f"y holds one class, {classes.tolist()}"
            if unlabelled.any():
                raise ValueError(
                    f"{found}, and rows labelled -1, which mark unlabelled rows (scikit-learn's "
                    "semi-supervised convention); a classifier needs labelled rows of at least "
                    "two classes. If -1 is a class, pass unlabelled=None."
                )
            raise ValueError(f"{found}; a classifier needs at least two classes.")
        self.classes_ = classes
        return encode_labels(classes, y, marker)

    def _marker(self) -> int | None:
        """The label of an unlabelled row (-1), or None where every label is a class."""
        return None if self.unlabelled is None else -1

    def _checked_priors(self, k: int) -> np.ndarray | None:
        if self.priors is None:
            return None
        try:
            priors = np.asarray(self.priors, dtype=np.float64)
        except (TypeError, ValueError):  # a dict, text: not numbers
            priors = np.full(1, np.nan)
        if priors.shape != (k,) or not np.all(priors > 0) or not np.isclose(priors.sum(), 1.0):
            raise ValueError(
                f"priors must be {k} positive numbers summing to 1, one per class in the order "
                f"of classes_ {self.classes_.tolist()}; got {self.priors!r}"
            )
        return priors / priors.sum()

    def _model(self) -> Mixture:
        """The fitted model; rows that may lack values (``missing="em"``) get marginals."""
        structure = covariance_structure(self.covariance_type)
        components = structure(self.means_, self.covariances_, self.precisions_cholesky_)
        kind = MissingMixture if self.missing == "em" else Mixture
        return kind(self.priors_, components, self.reg_covar, LABELLED)

    def _rows(self, X):
        """``X`` checked against the fit: NumPy float64 rows (n, d), or a tensor's."""
        check_is_fitted(self)
        if is_device_array(X):
            return check_device_rows(
                self, X, reset=False, allow_nan=self.missing == "em", nan_hint=MISSING_EM_HINT
            )
        if self.missing == "em":
            x = check_incomplete_rows(self, X, reset=False, allow_empty_rows=True)
        else:
            x = check_rows(self, X, reset=False, nan_hint=MISSING_EM_HINT)
        return x.astype(np.float64, copy=False)

    def _log_joint(self, X) -> np.ndarray:
        x = self._rows(X)  # first: NotFittedError before the fitted attributes are read
        with blas_for_rows(x):
            return self._model().log_joint(x)  # (n, k), on x's device

    def _scores(self, X) -> np.ndarray:
        """:meth:`_log_joint` up to a term each row shares among the classes, (n, k)."""
        x = self._rows(X)  # first: NotFittedError before the fitted attributes are read
        with blas_for_rows(x):
            return self._model().discriminant(x)

    @per_row(width=lambda self: self.classes_.size)
    def predict_log_proba(self, X) -> np.ndarray:
        """Log posterior probability of each class for each row, shape (n, k)."""
        return log_posterior(self._scores(X))[0]

    def decision_function(self, X) -> np.ndarray:
        r"""Class scores, as scikit-learn's discriminant analyses give them.

        With two classes the log-odds of the second, :math:`\log p(c_2 \mid x) - \log
        p(c_1 \mid x)`, shape (n,), positive where :meth:`predict` gives ``classes_[1]``;
        with more, the log posterior of each class (:meth:`predict_log_proba`), shape (n, k),
        which scikit-learn's ``LinearDiscriminantAnalysis`` gives up to a constant per row.
        Lazy on a Dask collection, a tensor for a tensor."""
        check_is_fitted(self)
        if self.classes_.size == 2:
            return self._log_odds(X)
        return self.predict_log_proba(X)

    @per_row()
    def _log_odds(self, X) -> np.ndarray:
        scores = self._scores(X)  # (n, 2)
        return scores[:, 1] - scores[:, 0]

    def predict_proba(self, X) -> np.ndarray:
        """Posterior probability of each class for each row, shape (n, k)."""
        log_proba = self.predict_log_proba(X)
        return namespace_of(log_proba).exp(log_proba)

    @per_row(dtype=lambda self: self.classes_.dtype)
    def predict(self, X) -> np.ndarray:
        """Most probable class of each row, shape (n,)."""
        best = most_probable(self._scores(X))  # first: NotFittedError before classes_
        if not is_device_array(best):
            return self.classes_[best]
        xp = namespace_of(best)
        labels = self.classes_[xp.to_numpy(best)]
        return xp.asarray(labels, like=best) if labels.dtype.kind in "iuf" else labels

    @per_row()
    def log_prob(self, X, y=None) -> np.ndarray:
        r"""Log-likelihood of each row under the fitted model, shape (n,): the joint
        :math:`\log \pi_{y_n} \mathcal N(x_n \mid \mu_{y_n}, \Sigma_{y_n})` where ``y_n``
        is a class, and the marginal :math:`\log \sum_k \pi_k \mathcal N(x_n \mid \mu_k,
        \Sigma_k)` where it is -1 (unlabelled) or ``y`` is None: the terms of the objective
        :meth:`fit` climbs (see the class docstring). With ``missing="em"``, densities of each
        row's observed coordinates. Lazy on a Dask collection, a tensor for a tensor."""
        log_joint = self._log_joint(X)  # (n, k); first: NotFittedError before classes_
        xp = namespace_of(log_joint)
        if y is None:
            return xp.logsumexp(log_joint, axis=1)
        if is_device_array(y):
            y = namespace_of(y).to_numpy(y)
        labels = self._row_labels(y, log_joint.shape[0])
        # A row's own class where labelled, every class where not: one logsumexp gives both.
        counted = np.eye(self.classes_.size, dtype=bool)[labels]  # (n, k)
        counted[labels == UNLABELLED] = True
        counted = xp.asarray(counted, like=log_joint)
        return xp.logsumexp(xp.where(counted, log_joint, log_joint - np.inf), axis=1)

    def _row_labels(self, y, n: int) -> np.ndarray:
        """Class indices (n,) of labels ``y`` for :meth:`log_prob`, UNLABELLED where -1."""
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:  # a column, as fit reads it: with its warning
            y = column_or_1d(y, warn=True)
        if y.ndim != 1 or y.shape[0] != n:
            raise ValueError(
                f"y must hold one label per row of X ({n}), as a 1-D array; got shape {y.shape}"
            )
        # refuses NaN, None and pd.NA (and, -1 marking unlabelled rows, the string "-1")
        unlabelled = _unlabelled(y, marker=self._marker())
        unknown = ~unlabelled & ~np.isin(y, self.classes_)
        if unknown.any():
            raise ValueError(
                f"y holds labels {np.unique(y[unknown]).tolist()} that are not among the "
                f"classes the model was fitted to, {self.classes_.tolist()}; mark a row whose "
                "class is unknown with -1 (it is then counted by its marginal density)"
            )
        return encode_labels(self.classes_, y, self._marker())

    def n_parameters(self) -> int:
        """Free parameters of the fitted model: k - 1 class priors (none where ``priors``
        was given), k d means and the structure's covariance parameters. mclust counts the
        same (``MclustDA``'s ``df`` from mclust 6.1.1, and ``MclustSSC``'s); ``MclustDA`` in
        mclust up to 6.0.1 left the k - 1 priors out."""
        check_is_fitted(self)
        k, d = self.means_.shape
        priors = k - 1 if self.priors is None else 0
        return (
            priors
            + k * d
            + covariance_structure(self.covariance_type).n_covariance_parameters(k, d)
        )

    @paired_rows("sample_weight")
    def bic(self, X, y=None, sample_weight=None) -> float:
        """Bayesian information criterion, -2 sum_n log p_n + p log n (lower is better), with
        log p_n from :meth:`log_prob` and p from :meth:`n_parameters`; n counts every row,
        labelled or not.

        With ``y`` (-1 for unlabelled rows) the log-likelihood is the fit's objective; on
        the training rows, ``-2 log_likelihood_ + p log n`` (unweighted fits). mclust's
        ``MclustSSC`` reports the same number with the opposite sign. Without ``y``, every
        row counts by its marginal density under the mixture of class densities: that is
        ``MclustDA``'s ``loglik``, and ``bic(X)`` is ``-MclustDA(...)$bic`` from mclust 6.1.1
        on, ``-MclustDA(...)$bic + (k - 1) log n`` with mclust 6.0.x (whose ``df`` lacked the
        priors). To choose a covariance structure on labelled data, compare ``bic(X, y)`` of
        the candidates.

        With ``sample_weight`` (frequency weights, as in :meth:`fit`), log p_n counts
        w_n times and n is sum_n w_n: the BIC of the rows repeated, ``-2 log_likelihood_ +
        p log n`` of a weighted fit on its training rows.
        """
        if sample_weight is None:
            return bic_from(self.log_prob(X, y), self.n_parameters())
        total, n = weighted_total(self.log_prob(X, y), sample_weight, X)
        return criteria_from_sums(total, n, 0.0, self.n_parameters())["bic"]

    @paired_rows("sample_weight")
    def aic(self, X, y=None, sample_weight=None) -> float:
        """Akaike information criterion, -2 sum_n log p_n + 2 p (lower is better); the
        log-likelihood (weighted by ``sample_weight``) and p as in :meth:`bic`."""
        if sample_weight is None:
            return aic_from(self.log_prob(X, y), self.n_parameters())
        total, n = weighted_total(self.log_prob(X, y), sample_weight, X)
        return criteria_from_sums(total, n, 0.0, self.n_parameters())["aic"]

    @paired_rows("sample_weight")
    def score(self, X, y, sample_weight=None) -> float:
        """Mean accuracy of :meth:`predict` on ``X`` against ``y`` (weighted by
        ``sample_weight``) over the labelled rows: a row labelled -1 (unlabelled, unless
        ``unlabelled=None``) has no class to be right or wrong about and is left out, as
        :meth:`fit` leaves it out of the class counts. So ``cross_val_score`` on
        semi-supervised labels scores the rows whose class is known; scikit-learn's
        ``ClassifierMixin.score`` would count every unlabelled row as a miss. On a Dask
        collection (``y`` and the weights a dask Array or Series partitioned as ``X``, or
        arrays split as ``X`` is) the hits are counted on the workers; only the two sums
        come back.

        Raises
        ------
        ValueError
            Where every row of ``y`` is unlabelled.
        """
        if is_dask_collection(X):
            return self._dask_score(X, y, sample_weight)
        marker = self._marker()
        truth = namespace_of(y).to_numpy(y) if is_device_array(y) else np.asarray(y)
        if marker is None or truth.ndim != 1:
            return super().score(X, y, sample_weight)
        labelled = ~_unlabelled(truth, marker=marker)
        if labelled.all():
            return super().score(X, y, sample_weight)
        if not labelled.any():
            raise ValueError(_NOTHING_TO_SCORE)
        predicted = self.predict(X)
        if is_device_array(predicted):
            predicted = namespace_of(predicted).to_numpy(predicted)
        w = None if sample_weight is None else np.asarray(sample_weight)
        check_consistent_length(predicted, truth, w)  # before y's rows select theirs
        w = None if w is None else w[labelled]
        return float(accuracy_score(truth[labelled], predicted[labelled], sample_weight=w))

    def _dask_score(self, X, y, sample_weight) -> float:
        import dask

        # pandas y or weights must have the index of a Dask DataFrame X, as in fit
        index = frame_index(X) if any(is_pandas(v) for v in (y, sample_weight)) else None
        # lazy (n,), the partitions of X, their rows counted where y or weights in memory
        # must be split as they are (as fit counts them)
        predicted = counted_for(self.predict(X), y, sample_weight)
        truth = aligned_array(y, predicted.chunks[0], "y", index)
        marker = self._marker()
        labelled = truth.map_blocks(
            lambda block: ~_unlabelled(np.asarray(block), marker=marker), dtype=bool
        ).astype(np.float64)
        hits = (predicted == truth).astype(np.float64) * labelled
        w = (
            labelled
            if sample_weight is None
            else labelled
            * aligned_array(sample_weight, predicted.chunks[0], "sample_weight", index)
        )
        right, total, scored = dask.compute((hits * w).sum(), w.sum(), labelled.sum())
        if scored == 0:
            raise ValueError(_NOTHING_TO_SCORE)
        return float(right / total)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing == "em"
        return tags


_NOTHING_TO_SCORE = (
    "score: every row of y is unlabelled (-1), so there is no class to compare predict with; "
    "score rows whose class is known, or pass unlabelled=None where -1 is a class"
)


def _degenerate_advice(structure, k: int, d: int) -> str:
    """What to do about classes whose covariance is singular but for reg_covar, for a fit
    with ``structure`` (k classes, d columns): a structure other than this one that needs
    fewer rows of a class. One covariance shared by the classes takes any class size (a
    diagonal one where the structure is diagonal); a diagonal covariance of its own takes a
    class of two distinct rows, where this structure has more than a diagonal."""
    if structure.n_covariance_parameters(k, d) == structure.n_covariance_parameters(1, d):
        return "Give those classes more rows, or raise reg_covar."
    if structure.diagonal_stats:
        other = "covariance_type='EEI' (one diagonal covariance for all classes) or 'tied'"
    else:
        other = (
            "covariance_type='tied' (one covariance for all classes), or 'diag' where each "
            "class has two distinct rows or more"
        )
    return f"Give those classes more rows, or use {other}, or raise reg_covar."


def _unlabelled(
    y: np.ndarray, rows: np.ndarray | None = None, given=None, marker: int | None = -1
) -> np.ndarray:
    """Rows marked unlabelled, bool (n,), by scikit-learn's semi-supervised convention: -1 in
    numeric labels, and the number -1 in an object array whose classes are strings (as
    :class:`~sklearn.semi_supervised.SelfTrainingClassifier` asks). A missing label (NaN,
    None, pd.NA) or the string "-1" is an error: neither is taken as a class. ``rows`` the
    rows each entry of ``y`` stands for (distinct labels of a Dask target), which the error
    counts; ``given`` the target as passed, whose type the error's advice fits."""
    _refuse_missing_labels(y, rows, given)
    if marker is None:  # every label a class, -1 and "-1" too
        return np.zeros(y.shape, dtype=bool)
    kind = y.dtype.kind
    if kind in "iuf":
        return y == -1
    if kind in "US":
        text = y == ("-1" if kind == "U" else b"-1")
    elif kind == "O":
        text = np.fromiter((_is_text_minus_one(v) for v in y), bool, y.shape[0])
    else:
        return np.zeros(y.shape, dtype=bool)
    if text.any():
        raise ValueError(
            f'y holds the string "-1" in {_rows(text, rows)} rows. scikit-learn\'s '
            "semi-supervised convention marks an unlabelled row by the number -1: with string "
            f"classes, in an object array ({_text_recipe(given)}), as SelfTrainingClassifier "
            'asks. A string "-1" is not taken as a class; if it is one, rename it.'
        )
    if kind != "O":
        return np.zeros(y.shape, dtype=bool)
    return np.fromiter((_is_number_minus_one(v) for v in y), bool, y.shape[0])


def _rows(found: np.ndarray, rows: np.ndarray | None) -> int:
    """The rows of the entries ``found`` (bool): their number, or the sum of their ``rows``."""
    return int(found.sum() if rows is None else rows[found].sum())


def _container(given) -> str:
    """What a target is, for the recipe that recodes it: "series" (pandas or Dask, which
    share ``astype``, ``where`` and ``mask``), "dask array" or "array" (NumPy, a list)."""
    if is_pandas(given) or (is_dask_collection(given) and hasattr(given, "index")):
        return "series"
    return "dask array" if is_dask_collection(given) else "array"


def _text_recipe(given) -> str:
    """How to recode the string "-1" of ``given`` as the number -1 in an object array."""
    container = _container(given)
    if container == "series":
        recipe = 'y = y.astype(object).mask(y == "-1", -1)'
        if is_dask_collection(given):  # dask.config "dataframe.convert-string", on by default
            recipe += (
                '; Dask stores the number -1 of a column of text as the string "-1" unless '
                'dask.config.set({"dataframe.convert-string": False}) is set before it is read'
            )
        return recipe
    if container == "dask array":
        return 'y = da.where(y == "-1", -1, y.astype(object))'
    return 'y = np.asarray(y, dtype=object); y[y == "-1"] = -1'


def _missing_recipe(given) -> str:
    """How to mark the missing labels of ``given`` with the number -1, for any dtype."""
    container = _container(given)
    if container == "series":
        return "y = y.astype(object).where(y.notnull(), -1)"
    if container == "dask array":
        if given.dtype.kind == "f":
            return "y = da.where(da.isnan(y), -1, y)"
        return "y = y.map_blocks(lambda b: np.where(pd.isna(b), -1, b))"
    return "y = np.where(pd.isna(y), -1, y)"


def _plain_labels(labels: np.ndarray) -> np.ndarray:
    """Class labels (no -1) of an object array that are all booleans, or all numbers, as a
    NumPy array of booleans or numbers, as scikit-learn reads the same labels in a bool or
    numeric array (its ``type_of_target`` calls an object array of them "unknown"): the
    object array ``y.astype(object).where(y.notnull(), -1)`` makes of a boolean or Int64
    Series. Other labels as they are."""
    if labels.dtype.kind != "O" or labels.size == 0:
        return labels
    if all(isinstance(v, (bool, np.bool_)) for v in labels):
        return labels.astype(bool)
    if all(isinstance(v, Real) and not isinstance(v, (bool, np.bool_)) for v in labels):
        numbers = np.array(labels.tolist())
        return numbers if numbers.dtype.kind in "iuf" else labels
    return labels


def _refuse_mixed_labels(labels: np.ndarray) -> None:
    """A ValueError where an object array of class labels mixes text and numbers, which
    cannot be ordered into ``classes_`` (NumPy's sort raised "'<' not supported"; where the
    first label is a number scikit-learn's "Unknown label type: unknown" comes first)."""
    if labels.dtype.kind != "O":
        return
    kinds = np.array([_label_kind(v) for v in labels])
    found = [kind for kind in ("text", "bytes", "numbers") if (kinds == kind).any()]
    if len(found) > 1:
        examples = " and ".join(repr(labels[kinds == kind][0]) for kind in found)
        raise ValueError(
            f"y mixes {' and '.join(found)} as class labels (e.g. {examples}), which cannot be "
            "ordered into classes_; give every class a label of one kind, all text or all "
            "numbers (unlabelled rows keep the number -1)"
        )


def _label_kind(value) -> str:
    """What kind of class label ``value`` is: text, bytes or a number (sortable together)."""
    if isinstance(value, str):
        return "text"
    return "bytes" if isinstance(value, bytes) else "numbers"


def _is_text_minus_one(value) -> bool:
    return isinstance(value, (str, bytes)) and value in ("-1", b"-1")


def _is_number_minus_one(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and value == -1


def _refuse_missing_labels(y: np.ndarray, rows: np.ndarray | None = None, given=None) -> None:
    """Raise where ``y`` (n,) holds NaN, None or pd.NA, saying how to mark unlabelled rows
    (``rows`` and ``given`` as in :func:`_unlabelled`)."""
    if y.dtype.kind not in "fO":
        return
    missing = np.asarray(pd.isna(y), dtype=bool)
    if not missing.any():
        return
    raise ValueError(
        f"y has {_rows(missing, rows)} missing labels (NaN, None or pd.NA). As in scikit-learn's "
        "semi-supervised estimators, an unlabelled row is marked by -1 (the number), not by a "
        f"missing value: {_missing_recipe(given)} (for labels of any kind: numbers, booleans, "
        "strings, categories)."
    )


def encode_labels(classes: np.ndarray, y: np.ndarray, marker: int | None = -1) -> np.ndarray:
    """Index of each ``y`` in ``classes`` (n,), UNLABELLED where ``y == -1`` (``marker`` -1;
    None: -1 is a class)."""
    unlabelled = _unlabelled(y, marker=marker)
    labels = np.full(y.shape[0], UNLABELLED, dtype=np.intp)
    labels[~unlabelled] = np.searchsorted(classes, _plain_labels(y[~unlabelled]))
    return labels


def _labelled_chunk(classes: np.ndarray, marker: int | None, x: np.ndarray, y: np.ndarray) -> tuple:
    """A partition as the labelled assignment reads it: ``(x, class indices)``."""
    unknown = ~np.isin(y, classes) & ~_unlabelled(y, marker=marker)
    if unknown.any():
        raise ValueError(f"y holds labels {np.unique(y[unknown]).tolist()} not among the classes")
    return np.asarray(x, dtype=np.float64), encode_labels(classes, y, marker)


def _label_totals(k: int, columns: bool, chunk: tuple, w: np.ndarray | None) -> _Totals:
    """Over the rows with some observed value: the weight of each class's labelled rows (k,),
    the number of unlabelled rows, whether any value is NaN and, where ``columns``, the
    weight of each class's labelled rows and, last, of the unlabelled rows that observe each
    column, (k + 1, d) (else (k + 1, 0)). Then, of the rows with no observed value: their
    number, labelled and unlabelled (2,), and the weight of each class's labelled ones (k,)."""
    x, labels = chunk
    # without ``columns`` (missing="error") NaN were refused where the rows came in
    missing = np.isnan(x) if columns else np.zeros((0, x.shape[1]), dtype=bool)  # (m, d)
    empty = missing.all(axis=1) if columns else np.zeros(labels.shape[0], dtype=bool)
    labelled = labels != UNLABELLED
    weight = np.ones(labels.shape[0]) if w is None else w
    kept = labelled & ~empty
    counts = np.bincount(labels[kept], weights=weight[kept], minlength=k)
    featureless = np.bincount(
        labels[labelled & empty], weights=weight[labelled & empty], minlength=k
    )
    empty_rows = np.array([int((labelled & empty).sum()), int((~labelled & empty).sum())])
    seen = np.zeros((k + 1, x.shape[1] if columns else 0))
    if columns:  # sum_n [group_n = c] w_n [x_nj observed], the unlabelled rows group k
        groups = np.where(labelled, labels, k)  # (m,)
        onehot = np.eye(k + 1)[groups] * weight[:, None]  # (m, k + 1)
        seen = onehot.T @ (~missing).astype(np.float64)
    return _Totals(
        (
            counts,
            int((~labelled & ~empty).sum()),
            columns and bool(missing[~empty].any()),
            seen,
            empty_rows,
            featureless,
        )
    )


def _without_empty_rows(data, x: np.ndarray, labels: np.ndarray, w: np.ndarray | None) -> tuple:
    """``data`` and the start rows ``x``, ``labels``, ``w`` (:meth:`GenerativeClassifier._data`)
    without their rows with no observed value, which add nothing but log pi_y (counted apart)."""
    keep = ~np.isnan(x).all(axis=1)
    x, labels, w = x[keep], labels[keep], None if w is None else w[keep]
    if isinstance(data, DaskSource):
        checks = data.checks
        data = data.checked(
            checks.columns,
            allow_nan=True,
            drop_empty_rows=True,
            nan_hint=checks.nan_hint,
            make=checks.make,
        )
        return data, x, labels, w
    return array_source(x, w, labels=labels), x, labels, w


def _class_pairs(k: int, chunk: tuple, w: np.ndarray | None) -> np.ndarray:
    """:func:`~emkit.estimators._validation.observed_together` of each class's labelled rows
    and, last, of the unlabelled rows, shape (k + 1, d, d)."""
    x, labels = chunk
    groups = np.where(labels == UNLABELLED, k, labels)  # (m,)
    weight = np.ones(labels.shape[0]) if w is None else w
    return np.stack([observed_together(x, weight * (groups == c)) for c in range(k + 1)])


def _pairs(chunk: tuple, w: np.ndarray | None) -> np.ndarray:
    """:func:`~emkit.estimators._validation.observed_together` of every row, (d, d)."""
    return observed_together(chunk[0], w)


def _class_stats(k: int, diagonal: bool, chunk: tuple, w: np.ndarray | None) -> GaussianStats:
    """Statistics of each class's rows (every row labelled)."""
    x, labels = chunk
    return GaussianStats.from_labels(x, labels, k, w, diagonal)


class _Totals(tuple):
    """A tuple of partial sums that adds element by element (``or`` for flags)."""

    def __add__(self, other):
        return _Totals(
            a | b if isinstance(a, bool) else a + b for a, b in zip(self, other, strict=True)
        )
