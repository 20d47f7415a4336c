r"""``KMeans``: k-means as hard (classification) EM on the mixture engine.

k-means is classification EM for a mixture of K Gaussians with equal weights and the identity
covariance: the C-step gives each row to its nearest centre, the M-step moves each centre to the
weighted mean of its rows, and the classification log-likelihood EM climbs is

.. math:: \sum_n w_n \max_k \log \tfrac1K N(x_n \mid \mu_k, I)
          = \mathrm{const} - \tfrac12 \sum_n w_n \min_k \lVert x_n - \mu_k\rVert^2,

so ``history_`` is minus half the inertia plus a constant and never decreases.
"""

from __future__ import annotations

from functools import partial
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from emkit.backend.dask_source import is_dask_collection
from emkit.backend.namespace import is_device_array, namespace_of
from emkit.backend.nearest import (
    ShiftedSource,
    fit_source,
    nearest_form,
    nearest_labels,
    rescale_source,
)
from emkit.backend.sources import array_source
from emkit.backend.validation import add_weighted_sums, check_weight_total
from emkit.distributions.base import refuse_booleans
from emkit.em import fit_starts
from emkit.estimators._device import (
    FloatDtypes,
    check_device_rows,
    float_dtype,
    memory_message,
    placement,
    resolution,
)
from emkit.estimators._inputs import dask_total, fit_rows, per_row, transform_output
from emkit.estimators._state import restores_on_error
from emkit.estimators._validation import check_rows, check_weights, paired_rows
from emkit.estimators._verbose import InertiaPrinter, print_kmeans_ends
from emkit.estimators.persist import ModelFileMixin
from emkit.exceptions import warn_user
from emkit.init import (
    CentreShift,
    canonical_order,
    centroid_mixture,
    column_moments,
    kmeans_plusplus,
    random_rows,
    squared_distances,
)


class KMeans(
    ModelFileMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator
):
    """k-means clustering as hard EM, a drop-in for scikit-learn's ``KMeans``.

    Parameters
    ----------
    n_clusters : int, number of clusters.
    init : {"k-means++", "random"}, callable or array of shape (n_clusters, d), the starting
        centres ("random": rows drawn in proportion to their weight; a repeated draw leaves a
        cluster empty, and hard EM moves it onto the row farthest from its centre; a callable,
        as scikit-learn's, is called as ``init(X, n_clusters, random_state=random_state)``
        with the rows as given, not centred, and a ``numpy.random.RandomState``, and returns
        the centres).
    n_init : int or "auto", number of starts; the lowest inertia is kept. "auto" (the default,
        as scikit-learn's): 1 start from k-means++ or given centres, 10 from random rows or a
        callable.
    max_iter : int, hard-EM iterations per start at most.
    tol : float, scikit-learn's: a start stops once the squared shifts of the centres in one
        iteration sum to at most ``tol`` times the mean (unweighted) variance of the data's
        columns, or when no row changes cluster (strict convergence; with ``tol=0`` only
        then). From the same starting centres, ``n_iter_``, ``labels_`` and ``inertia_`` are
        scikit-learn's, but where a cluster empties with rows of ``sample_weight`` 0 present:
        a weight of 0 is a row left out, so an emptied cluster is never moved onto such a row
        (scikit-learn may move it there, and then onto the heaviest cluster's centre);
        and with ``tol=0`` where the centres of two iterations differ by rounding alone (as
        after an emptied cluster was moved onto a row): whether such a shift is 0 depends on
        the order of each library's sums, so ``n_iter_`` may then differ by one (the
        centres agree to rounding, ``labels_`` exactly). A row exactly as near two centres
        (integer data, centres halfway between them) goes to whichever the rounding of the
        distances' sums makes nearer, in both libraries but not alike, so such rows'
        ``labels_`` may differ from scikit-learn's even from the same start; ``predict``
        measures distances from the centres' mean by products over blocks of rows, so the
        label of such a row may even depend on which other rows are predicted with it.
    random_state : int, RandomState or None.
    device : None (NumPy), or "cpu", "cuda", "cuda:1" or a ``torch.device``: the assignment
        steps run there on the PyTorch backend (``pip install "emkit[torch]"``); a torch tensor
        passed to ``fit`` runs on its own device. Fitted attributes stay NumPy arrays;
        ``predict`` and ``transform`` answer a tensor with a tensor.
    dtype : None, float32 or float64 (a NumPy or torch dtype, or its name): the dtype of
        ``cluster_centers_`` (None: that of ``X``, float32 for float32 rows and float64 for
        others, as scikit-learn's), and on a device the dtype the rows are held and compared
        in there (None: float32 on CUDA, float64 elsewhere). The centres are summed in
        float64 in every case, and queries (``predict``, ``transform``, ``score``) read their
        rows in float64 whatever ``dtype``.
    algorithm : {"lloyd", "elkan"}, scikit-learn's choice of how to run Lloyd's iterations;
        both name the same iterates (Elkan's triangle-inequality bounds only skip distances
        that cannot change an assignment), which emkit computes its own way, so both give
        the same fit: in memory on the host it computes, once the centres move little, only
        the rows near a cluster boundary (Hamerly's bound; on 262,144 rows or more, or where
        each row's distances take k (d + 1) >= 200 multiply-adds), whichever is named.
    copy_x : bool, scikit-learn's leave to centre ``X`` in place when False; emkit never
        writes to ``X``, so both leave it as it was.
    verbose : int, above 0 prints scikit-learn's lines on stdout: each start's
        initialisation, every iteration's inertia, and how each start ended.

    Attributes
    ----------
    cluster_centers_ : array of shape (n_clusters, d).
    labels_ : array of shape (n,), cluster of each training row; after a fit on a Dask
        collection a lazy dask Array, which ``save`` does not compute into the model file:
        the model loaded from such a file has no ``labels_`` (``predict`` gives them).
    inertia_ : float, weighted sum of squared distances to the nearest centre.
    n_iter_ : int.
    history_ : array, the classification log-likelihood (const - inertia / 2) per iteration.
    converged_ : bool.
    n_features_in_ : int.
    feature_names_in_ : array of str of shape (d,), the column names of ``X``;
        only where ``X`` was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from emkit import KMeans
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal([0, 0], 0.5, (50, 2)), rng.normal([4, 4], 0.5, (50, 2))])
    >>> km = KMeans(2, random_state=0).fit(X)
    >>> km.cluster_centers_.round(2)
    array([[ 3.94,  4.01],
           [-0.01,  0.09]])
    >>> round(km.inertia_, 2), km.converged_
    (45.6, True)
    >>> km.predict(np.array([[0.0, 0.5], [4.0, 3.5]]))
    array([1, 0], dtype=int32)
    """

    _parameter_constraints: dict = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means++", "random"}), callable, "array-like"],
        "n_init": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "random_state": ["random_state"],
        "device": "no_validation",
        "dtype": [FloatDtypes()],
        "algorithm": [StrOptions({"lloyd", "elkan"})],
        "copy_x": ["boolean"],
        "verbose": ["verbose"],
    }
    _fitted_attributes = (
        "cluster_centers_",
        "labels_",
        "inertia_",
        "n_iter_",
        "history_",
        "converged_",
        "n_features_in_",
    )
    _per_row_attributes = ("labels_",)  # lazy after a fit on Dask: not in a model file

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        random_state=None,
        device=None,
        dtype=None,
        algorithm="lloyd",
        copy_x=True,
        verbose=0,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.device = device
        self.dtype = dtype
        self.algorithm = algorithm
        self.copy_x = copy_x
        self.verbose = verbose

    @restores_on_error
    @paired_rows("sample_weight")
    def fit(self, X, y=None, sample_weight=None):
        """Cluster ``X`` (n, d) from ``n_init`` starts; keep the lowest inertia.

        Parameters
        ----------
        X : array-like of shape (n, d), finite; or a dask Array or DataFrame, clustered on
            its workers (starts from a sample of at most 100 000 rows drawn there, and
            ``labels_`` a lazy dask Array).
        y : ignored.
        sample_weight : array-like of shape (n,), non-negative.
        """
        self._validate_params()
        explicit = not (isinstance(self.init, str) or callable(self.init))
        if explicit and self.n_init not in ("auto", 1):  # scikit-learn's warning
            warn_user(
                "Explicit initial center position passed: performing only one init in "
                f"{type(self).__name__} instead of n_init={self.n_init}.",
                RuntimeWarning,
            )
        rng = check_random_state(self.random_state)
        place = placement(self.device, X, self.dtype)
        # The centres are float32 where dtype=float32 is asked for, or (dtype=None) where the
        # rows are float32, as scikit-learn's (an array, a tensor, or a DataFrame of float32
        # columns: the validated rows' dtype); the fit's sums run in float64 either way.
        if is_dask_collection(X):
            single = _single(self.dtype, X)
            data, x, w = fit_rows(self, X, sample_weight, rng=rng, min_rows=1)
            scale = 1.0  # x: the rows sampled for the starts
        elif place is not None and is_device_array(X):
            single = _single(self.dtype, X)
            rows = check_device_rows(self, place.rows(X), reset=True, min_rows=1)
            x = np.asarray(namespace_of(rows).to_numpy(rows), dtype=np.float64)
        else:
            x = check_rows(self, X, reset=True, min_rows=1)
            single = _single(self.dtype, x)
        n_rows = data.n_rows if is_dask_collection(X) else x.shape[0]
        if n_rows < self.n_clusters:
            raise ValueError(
                f"{type(self).__name__} needs at least {self.n_clusters} rows (samples), one "
                f"per cluster; got n_samples = {n_rows}. Use fewer clusters or more data."
            )
        if not is_dask_collection(X):
            w = check_weights(sample_weight, x)
        if place is None and not is_dask_collection(X):
            # In memory on the host the rows are laid out once, shifted and feature-major, in
            # the pass that gives their moments (after the starts: k-means++ lays out its own
            # copy, and the two never coexist). The objective is -inertia / 2 + const: at a
            # tiny data scale the constant (the unit Gaussian's normaliser) would swallow the
            # inertia and stop EM at once, so the fit runs on x / scale, a power of two near
            # the data's spread: rescaling is exact and the result is the same at every scale.
            centres = self._starts(x, w, rng)
            data, _, spread = fit_source(x, w)
            scale = _power_of_two_scale(np.array([spread]))
            data = rescale_source(data, scale)
            # Distances are taken from a point near the data (see emkit.backend.nearest).
            starts = [centroid_mixture(c / scale, data.rows.shift) for c in centres]
            rule = CentreShift(self.tol * spread / scale**2)
        else:
            scale = 1.0
            mean, variance = column_moments(x)
            starts = [centroid_mixture(c, mean) for c in self._starts(x, w, rng)]
            if not is_dask_collection(X):
                data = place.hold(array_source(x, w), x, w)
            elif self.tol > 0:  # x: the rows sampled for the starts; tol's scale is all rows'
                variance = _column_variances(data, mean)
            rule = CentreShift(self.tol * float(np.mean(variance)))
        # The objective is const - inertia / 2 (on the rows divided by scale).
        normaliser = _log_normaliser(data.total_weight, x.shape[1], self.n_clusters)
        printer = None
        if self.verbose:
            printer = InertiaPrinter(starts[0].log_prior() + normaliser, scale**2, len(starts))
        # Rows laid out on the host are labelled in the run's last pass where one start runs
        # (with several, only the best start's are needed: one pass after the fit).
        laid_out = isinstance(data, ShiftedSource)
        with memory_message(place, data):
            fit = fit_starts(
                starts,
                data,
                tol=0.0,
                max_iter=self.max_iter,
                resolution=resolution(place),
                callback=printer,
                convergence=rule,
                last_pass=laid_out and len(starts) == 1,
            )
        if self.verbose:
            print_kmeans_ends(fit, rule, scale**2)
        result = fit.best
        centres = result.model.components.means * scale  # float64
        self.cluster_centers_ = centres.astype(np.float32) if single else centres
        if is_dask_collection(X):
            self.labels_ = self.predict(X)
            self.inertia_ = data.map_reduce(partial(_inertia, self.cluster_centers_))
        else:
            if place is not None and isinstance(data, place.xp.resident_source):  # on the device
                # from the float64 centres, as the rows laid out on the host are labelled
                labels, self.inertia_ = _assign(data.x, centres, data.sample_weight)
            elif laid_out:  # the rows x / scale laid out for the fit
                final = result.stats.components  # the last evaluation's: labelled, or not
                if final.labels is not None:
                    labels, inertia = final.labels, _weighted_total(final.nearest, w)
                else:
                    means = result.model.components.means
                    labels, inertia = _assign(data.rows, means, w, data.rows.shift)
                self.inertia_ = inertia * scale**2  # exact: scale is a power of two
            else:
                labels, self.inertia_ = _assign(x, centres, w)
            self.labels_ = np.asarray(namespace_of(labels).to_numpy(labels), dtype=np.int32)
        self.n_iter_ = max(result.n_iter, 1)
        self.history_ = result.history
        if scale != 1.0:  # history_ in the data's own units: const - inertia / 2
            const = result.model.log_prior() + normaliser
            self.history_ = const + (result.history - const) * scale**2
        self.converged_ = result.converged
        if is_dask_collection(X):  # labels_ is lazy: the clusters that hold weight
            distinct = int(np.count_nonzero(result.stats.resp_sum > 0))
        else:
            # labels in [0, n_clusters): a count, not np.unique's sort or hash (27 ms of
            # 1e6 labels)
            counts = np.bincount(self.labels_, minlength=self.n_clusters)
            distinct = int(np.count_nonzero(counts))
        if distinct < self.n_clusters:
            warn_user(
                f"Number of distinct clusters ({distinct}) found smaller than n_clusters "
                f"({self.n_clusters}). Possibly due to duplicate points in X.",
                ConvergenceWarning,
            )
        return self

    def _n_starts(self) -> int:
        if not (isinstance(self.init, str) or callable(self.init)):
            return 1  # given centres
        if self.n_init == "auto":  # scikit-learn's: 10 for random or callable starts
            return 1 if self.init == "k-means++" else 10
        return int(self.n_init)

    def _starts(self, x, w, rng) -> list[np.ndarray]:
        """The starts' centres, in turn from ``rng`` (random rows: the rows sorted once, for
        all of them)."""
        order = canonical_order(x) if isinstance(self.init, str) and self.init == "random" else None
        return [self._start(x, w, rng, order) for _ in range(self._n_starts())]

    def _start(self, x, w, rng, order=None) -> np.ndarray:
        if not isinstance(self.init, str):
            given = (
                self.init(x, self.n_clusters, random_state=rng)
                if callable(self.init)
                else self.init
            )
            refuse_booleans(given, "init")
            centres = np.asarray(given, dtype=float)
            if centres.shape != (self.n_clusters, x.shape[1]) or not np.all(np.isfinite(centres)):
                found = (
                    "NaN or inf"
                    if centres.shape == (self.n_clusters, x.shape[1])
                    else f"shape {centres.shape}"
                )
                raise ValueError(
                    f"init must be 'k-means++', 'random' or a finite array of shape "
                    f"({self.n_clusters}, {x.shape[1]}); got {found}"
                )
            return centres
        if self.init == "random":
            return random_rows(x, self.n_clusters, rng, w, order)
        return kmeans_plusplus(x, self.n_clusters, rng, w)

    def _checked_rows(self, X) -> np.ndarray:
        check_is_fitted(self)
        if is_device_array(X):
            return check_device_rows(self, X, reset=False)
        return check_rows(self, X, reset=False)

    @per_row(dtype=np.int32)
    def predict(self, X) -> np.ndarray:
        """Nearest centre of each row, shape (n,), int32 as scikit-learn's."""
        x = self._checked_rows(X)  # first: raises NotFittedError before the centres are read
        centres = self.cluster_centers_
        labels = nearest_labels(x, nearest_form(centres, centres.mean(axis=0)), False)[0]
        return labels.astype(np.int32) if isinstance(labels, np.ndarray) else labels

    @property
    def _n_features_out(self) -> int:
        """Columns of ``transform`` (one distance per centre), which
        ``get_feature_names_out`` names kmeans0, kmeans1, ... as scikit-learn's KMeans."""
        return int(self.cluster_centers_.shape[0])

    @paired_rows("sample_weight")
    def fit_transform(self, X, y=None, sample_weight=None) -> Any:
        """Fit, then :meth:`transform` ``X``."""
        self.fit(X, sample_weight=sample_weight)
        return transform_output(self, self._transform(X), X)

    def transform(self, X) -> Any:
        """Euclidean distance of each row to each centre, shape (n, n_clusters); float32
        where both ``X`` and the fitted centres are (a fit on float32 rows), else float64, as
        scikit-learn's. On a Dask collection: a lazy dask Array with the
        partitions of ``X``; after ``set_output(transform="pandas")`` a lazy Dask DataFrame
        instead, with columns kmeans0, kmeans1, ... and, for a Dask DataFrame ``X``, its
        index and divisions (rows of a dask Array numbered from 0, as pandas numbers an
        array's)."""
        return transform_output(self, self._transform(X), X)

    @per_row(width=lambda self: self.cluster_centers_.shape[0])
    def _transform(self, X) -> Any:
        """:meth:`transform` of rows in memory or on a device (of each block of a Dask
        collection)."""
        x = self._checked_rows(X)
        d2 = squared_distances(x, self.cluster_centers_)
        # in place on the CPU: a second n x k array costs more to fault in than to fill
        out = np.sqrt(d2, out=d2) if isinstance(d2, np.ndarray) else namespace_of(d2).sqrt(d2)
        single = _is_float32(x) and self.cluster_centers_.dtype == np.float32
        return out.astype(np.float32) if single and isinstance(out, np.ndarray) else out

    @paired_rows("sample_weight")
    def score(self, X, y=None, sample_weight=None) -> float:
        """Minus the inertia of ``X`` against the fitted centres (on a Dask collection: summed
        on its workers)."""
        if is_dask_collection(X):
            inertia, weight = dask_total(
                self,
                X,
                partial(_inertia_and_weight, self.cluster_centers_),
                sample_weight,
                combine=add_weighted_sums,
            )
            check_weight_total(float(weight))  # as check_weights in memory
            return -float(inertia)
        x = self._checked_rows(X)
        w = check_weights(sample_weight, np.broadcast_to(0.0, (x.shape[0], 1)))
        if w is not None and is_device_array(x):
            w = namespace_of(x).asarray(w, like=x)
        return -_assign(x, self.cluster_centers_, w)[1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


# scikit-learn computes a lazy Dask result of transform into a pandas DataFrame numbered from 0
# (a new index): transform and fit_transform wrap their own output (transform_output) instead.
KMeans.transform = KMeans.transform.__wrapped__  # type: ignore[attr-defined, method-assign]
KMeans.fit_transform = KMeans.fit_transform.__wrapped__  # type: ignore[attr-defined, method-assign]


def _single(dtype: Any, X) -> bool:
    """Whether a fit with ``dtype=`` on rows ``X`` returns float32 centres: ``dtype`` where
    given, else whether ``X`` is float32 (:func:`_is_float32`), as scikit-learn's."""
    return _is_float32(X) if dtype is None else float_dtype(dtype) == np.float32


def _is_float32(X) -> bool:
    """``X`` is an array of float32 (scikit-learn then returns float32): rows as validated
    (a DataFrame is float32 where all its columns are), a dask Array or a torch tensor."""
    dtype = getattr(X, "dtype", None)
    if type(dtype).__module__ == "torch":  # read without importing torch
        return str(dtype) == "torch.float32"
    return isinstance(dtype, np.dtype) and dtype == np.float32


def _power_of_two_scale(variance: np.ndarray) -> float:
    """A power of two within a factor 2 of the root mean of the columns' ``variance`` (1 for
    constant data)."""
    spread = float(np.sqrt(np.mean(variance)))
    if not np.isfinite(spread) or spread <= 0:
        return 1.0
    return float(2.0 ** np.round(np.log2(spread)))


def _log_normaliser(total: float, d: int, k: int) -> float:
    """The constant of the objective for rows of ``total`` weight in ``d`` features and ``k``
    clusters: total weight times (log(1/k) - d log(2 pi) / 2)."""
    return total * (-np.log(k) - 0.5 * d * np.log(2 * np.pi))


def _assign(
    x: Any, centres: np.ndarray, w: np.ndarray | None, shift: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Nearest centre of each row of ``x`` (n, d), in ``x``'s namespace, and the inertia;
    distances taken from ``shift`` (d,), which rows laid out once (ShiftedRows) must give
    as theirs (None: the centres' mean)."""
    shift = centres.mean(axis=0) if shift is None else shift
    labels, nearest = nearest_labels(x, nearest_form(centres, shift))
    return labels, _weighted_total(nearest, w)


def _weighted_total(nearest: Any, w: np.ndarray | None) -> float:
    """The inertia of rows at squared distances ``nearest`` (n,) with weights ``w`` (n,)."""
    if w is not None:
        nearest = nearest * namespace_of(nearest).asarray(w, like=nearest)
    return float(nearest.sum())


def _column_variances(data, shift: np.ndarray) -> np.ndarray:
    """The (unweighted, population) variance of each column over every row of ``data``, as
    scikit-learn's tolerance reads it: one pass, in deviations from ``shift`` (a mean near the
    data's, so that the sums of squares do not cancel)."""
    sums = data.map_reduce(partial(_deviation_sums, shift))
    first = sums[1] / sums[0]
    return np.maximum(sums[2] / sums[0] - first**2, 0.0)


def _deviation_sums(shift: np.ndarray, x: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Rows, and sums of deviations from ``shift`` and of their squares, per column: (3, d)."""
    diff = x - shift
    return np.stack(
        [np.full(x.shape[1], float(x.shape[0])), diff.sum(axis=0), (diff**2).sum(axis=0)]
    )


def _inertia(centres: np.ndarray, x: np.ndarray, w: np.ndarray | None) -> float:
    return _assign(x, centres, w)[1]


def _inertia_and_weight(centres: np.ndarray, x: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """The inertia of one partition's rows ``x`` with weights ``w`` and their total weight;
    weights whose total overflows are refused after the pass (check_weight_total), without
    numpy's RuntimeWarning first."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.array([_inertia(centres, x, w), x.shape[0] if w is None else w.sum()])
