"""Input checks at the estimator boundary: once, with messages that say what to do."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
from scipy.sparse import issparse
from sklearn import config_context
from sklearn.utils import get_tags
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    _check_sample_weight,
    check_array,
    check_X_y,
)

from emkit.backend.column_kinds import na_as_nan, time_kind_of
from emkit.backend.dask_source import aligned_array, is_dask_collection
from emkit.backend.idle_rows import without_idle
from emkit.backend.integers import refuse_inexact_integers
from emkit.backend.namespace import is_device_array, namespace_of
from emkit.backend.sources import feature_names, masked_as_nan, npy_refusal
from emkit.backend.threads import ONE_BLAS_THREAD_VALUES, one_blas_thread
from emkit.backend.validation import (
    MAX_MAGNITUDE,
    MIN_MAGNITUDE,
    check_weight_total,
    inf_refusal,
    largest_magnitude,
    magnitude_refusal,
    nan_report,
)
from emkit.checks import rows_aligned
from emkit.exceptions import DegenerateFitWarning, warn_user

# What to do about NaN, for the estimators that offer missing="em".
MISSING_EM_HINT = (
    'pass missing="em" to fit NaN as values missing at random, fill them first with '
    "emkit.GaussianImputer, or drop those rows"
)
# ... and for the others.
NAN_HINT = (
    "this estimator needs complete rows: drop those rows, or fill them first (e.g. with "
    "emkit.GaussianImputer)"
)


# True within names_checked(): the rows queried were taken from data whose names were checked.
_NAMES_CHECKED = contextvars.ContextVar("emkit_names_checked", default=False)


# True within warm_fit(): the fit continues from the stored one (warm_start).
_WARM_FIT = contextvars.ContextVar("emkit_warm_fit", default=False)


@contextlib.contextmanager
def warm_fit(warm: bool = True) -> Iterator[None]:
    """Within it (where ``warm``), a fit that continues from the stored one validates its
    data against the stored fit (``reset=False``) but takes the feature names of its ``X``,
    as every scikit-learn fit does (:func:`check_feature_names`)."""
    token = _WARM_FIT.set(warm)
    try:
        yield
    finally:
        _WARM_FIT.reset(token)


def paired_rows(*names: str) -> Callable[[Callable], Callable]:
    """Decorate a method ``method(self, X, ...)`` whose arguments ``names`` (``"sample_weight"``,
    ``"labels"``) go row by row with ``X``: where two of them are pandas
    objects whose indexes differ (the same labels in another order included), refuse them
    with :func:`emkit.checks.rows_aligned`, as :mod:`emkit.mle` does, rather than pair their
    rows by position. Objects of other lengths are left to the length check, whose message
    says so; a Dask ``X`` to its own check
    (:func:`~emkit.backend.dask_source.aligned_array`).

    A target ``y`` is paired by position, as scikit-learn pairs it: its
    ``permutation_test_score`` shuffles ``y`` with its index (``y.iloc[permutation]``) and
    splits it as ``X``, so that a training fold's ``y`` holds other labels than its ``X``
    (the weights it splits as ``X``)."""

    def decorate(method: Callable) -> Callable:
        signature = inspect.signature(method)

        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                given = signature.bind_partial(self, *args, **kwargs).arguments
            except TypeError:  # the method's own TypeError names what is wrong
                return method(self, *args, **kwargs)
            paired = {
                name: given[name]
                for name in ("X", *names)
                if isinstance(given.get(name), (pd.Series, pd.DataFrame))
            }
            if len(paired) > 1 and len({len(v) for v in paired.values()}) == 1:
                # (another length is refused as such where the rows are read)
                rows_aligned(f"{type(self).__name__}.{method.__name__}", **paired)
            return method(self, *args, **kwargs)

        return wrapper

    return decorate


def check_feature_names(estimator, names: np.ndarray | None, *, reset: bool) -> None:
    """Set or check the estimator's ``feature_names_in_`` from ``names``, those of the data
    (:func:`~emkit.backend.sources.feature_names` of ``X``, or a data source's
    ``feature_names``): scikit-learn's own rules (``_check_feature_names``), the same for
    every kind of input.

    ``reset`` (a fit) sets them, or deletes them where the data have none. A query raises a
    ValueError where the names differ from the fitted ones (others, or another order), and
    warns (UserWarning) where only one of the two has names; within :func:`names_checked` it
    checks nothing. Within :func:`warm_fit` (``reset`` False for a warm start) the names
    follow the data where either the data or the stored fit has none (set, or deleted, as
    scikit-learn's refit does); names other than the stored fit's are refused.
    """
    if not reset:
        if _NAMES_CHECKED.get():
            return
        fitted = getattr(estimator, "feature_names_in_", None)
        if _WARM_FIT.get() and (fitted is None or names is None):
            reset = True
        if fitted is None and names is None:
            return
        if fitted is not None and names is not None and np.array_equal(fitted, names):
            return  # as scikit-learn passes them, without building the table below
    # scikit-learn reads the names of a table: an empty DataFrame with these columns
    _check_feature_names(
        estimator, None if names is None else pd.DataFrame(columns=names), reset=reset
    )


@contextlib.contextmanager
def names_checked() -> Iterator[None]:
    """Within it, queries leave the feature names unchecked (:func:`check_feature_names`):
    their rows were taken from data whose names were checked where they were taken (the
    blocks of a Dask collection on its workers, the rows of a report), and have none."""
    token = _NAMES_CHECKED.set(True)
    try:
        yield
    finally:
        _NAMES_CHECKED.reset(token)


def validate(estimator, X, y="no_validation", *, reset: bool, **check_params):
    """scikit-learn's ``validate_data`` of ``X`` (and ``y``, where given), step by step, but
    that the feature names are set or checked by :func:`check_feature_names`: ``check_array``
    (``check_X_y``) with ``check_params``, then ``n_features_in_`` set (``reset``) or
    checked. Tensors are read as NumPy arrays (:func:`host_rows`).

    The rows come back C-contiguous (a copy where they are not: a Fortran-ordered array, as
    a DataFrame's ``to_numpy()`` often is, or a strided view): BLAS sums a product's terms
    in another order on another layout, and the last bits that differ grow over EM's
    iterations into another fit (EuroUnemployment, EVV K=7 from mclust's start: log-likelihood
    -146.69 from the Fortran-ordered array, -145.19 from the same rows C-ordered)."""
    check_params.setdefault("order", "C")
    X, y = host_rows(X), host_rows(y)
    # before check_array converts them to float64, which rounds integers beyond 2**53
    refuse_inexact_integers(X, "X", type(estimator).__name__)
    X = masked_as_nan(X)
    refuse_masked(y, "y", "a label or response")
    check_feature_names(estimator, feature_names(X), reset=reset)
    if y is None and get_tags(estimator).target_tags.required:
        raise ValueError(
            f"This {type(estimator).__name__} estimator requires y to be passed, but the "
            "target y is None."
        )
    if y is None or (isinstance(y, str) and y == "no_validation"):
        x = out = check_array(X, input_name="X", estimator=estimator, **check_params)
    else:
        x, y = out = check_X_y(X, y, estimator=estimator, **check_params)
    _check_n_features(estimator, x, reset=reset)
    return out


def check_rows(
    estimator,
    x,
    *,
    reset: bool,
    min_rows: int = 1,
    allow_nan: bool = False,
    nan_hint: str | None = None,
    checked: bool = False,
) -> np.ndarray:
    """Validate ``x`` as a 2-D float array with at least ``min_rows`` rows.

    Values must be finite; with ``allow_nan``, NaN marks a missing value (inf stays an error).
    Otherwise NaN is a ValueError that says which rows and columns hold NaN and what to do
    instead: ``nan_hint`` (such as :data:`MISSING_EM_HINT`), else :data:`NAN_HINT`.
    ``checked`` says that ``x`` is an array this function already returned with the same
    options (the fits of a model-selection grid share one): its values are not read again,
    only the estimator's ``n_features_in_`` is set or checked. Its ``feature_names_in_`` is
    then the caller's to set or check (:func:`check_feature_names`) from the data as given
    (``x`` has no column names). A list of chunks (2-D arrays or DataFrames, as
    ``GaussianMixture.fit`` reads them one at a time) is their rows, joined in order.
    """
    from emkit.backend.sources import chunk_list, join_chunks

    given = x  # the data as given, whose column names a NaN refusal gives
    if checked:
        _check_n_features(estimator, x, reset=reset)
    else:
        if (chunks := chunk_list(x)) is not None:
            x = join_chunks(chunks)
        x = given = na_as_nan(host_rows(x))
        with numeric_input(estimator, x), config_context(assume_finite=True):
            # the values are checked below, in one pass where they are all finite and moderate
            x = validate(
                estimator, x, reset=reset, dtype=[np.float64, np.float32], ensure_min_samples=1
            )
    if not checked and not finite_and_moderate(x, fitting=reset):
        reject_inf(x, feature_names(given), allow_nan=allow_nan)
        if not allow_nan:
            check_complete(estimator, x, nan_hint or NAN_HINT, feature_names(given))
        check_magnitude(x, fitting=reset, variances=_fits_variances(estimator))
    if x.shape[0] < min_rows:
        raise ValueError(
            f"{type(estimator).__name__} needs at least {min_rows} rows (samples) here; "
            f"got n_samples = {x.shape[0]}. Use fewer components or more data."
        )
    return x


def _fits_variances(estimator) -> bool:
    """Whether fitting ``estimator`` forms variances from the values (their squares): True
    unless its ``_fits_variances()`` says not (``MixtureModel``: by its families)."""
    says = getattr(estimator, "_fits_variances", None)
    return True if says is None else bool(says())


@contextlib.contextmanager
def numeric_input(estimator, x) -> Iterator[None]:
    """Around scikit-learn's validation of ``x``: one clear ValueError where ``x`` is not a
    table of numbers (a dict, a string, text or categories) instead of NumPy's conversion
    error."""
    name = type(estimator).__name__
    if (isinstance(x, (dict, set, str, bytes, os.PathLike)) and not issparse(x)) or x is None:
        path = isinstance(x, (str, os.PathLike))
        raise ValueError(
            f"{name} needs X as a 2-D array of numbers (rows x features): an array, a list of "
            f"rows or a DataFrame; got a {type(x).__name__}"
            + (
                f". {name} does not read files: load it first (numpy.load, "
                "pandas.read_parquet). Only GaussianMixture, GaussianImputer, select_mixture "
                "and bootstrap take a path to a .npy or Parquet file: GaussianMixture.fit and "
                "fit_predict, GaussianImputer.fit and fit_transform, and select_mixture read "
                "it chunk by chunk; the other methods of GaussianMixture and GaussianImputer "
                "(predict, transform, score, ...) and bootstrap read it into memory"
                if path
                else ""
            )
        )
    refuse_times_and_complex(name, x)
    if chunk_iterable(x):
        raise ValueError(
            f"{name} needs X as a 2-D array of numbers (rows x features) here; got a "
            f"{type(x).__name__}, an iterable of chunks, which only GaussianMixture.fit and "
            "fit_predict, GaussianImputer.fit and fit_transform, and select_mixture read one "
            "at a time (bootstrap stacks the chunks in memory): pass list(X), the list of its "
            "chunks, which is read as their rows"
        )
    try:
        yield
    except ValueError as exc:  # a TypeError (objects in an array) stays scikit-learn's
        if "could not convert" in str(exc):
            raise ValueError(
                f"{name} needs numeric data, but X holds values that are not numbers "
                f"({exc}); encode text or categories as numbers first (e.g. with "
                "pandas.get_dummies or Series.cat.codes) or drop those columns"
            ) from None
        raise


def _not_real(dtype, column=None) -> str | None:
    """What a column of ``dtype`` holds where it is not real numbers: dates, durations,
    times of day, intervals (NumPy casts the first two to float silently, as counts of the
    unit the dtype names, and fails on the others with a bare TypeError) or complex numbers;
    else None. ``column`` (a pandas Series of objects) shows its first present value."""
    first = None
    if column is not None and getattr(dtype, "kind", None) == "O":
        at = column.first_valid_index()
        first = None if at is None else column.loc[at]
        first = first.iloc[0] if isinstance(first, pd.Series) else first  # a repeated label
    kind = time_kind_of(dtype, first)
    if kind is None and getattr(dtype, "kind", None) == "c":
        return "complex numbers"
    return kind


def refuse_times_and_complex(name: str, x, label: str = "X") -> None:
    """A ValueError naming the columns of ``x`` that hold dates, durations, times of day,
    intervals or complex numbers. ``label`` names ``x`` where it has no column names: "X", or
    "y" for a response (which is converted, not dropped).

    NumPy casts datetime64 and timedelta64 to float as counts of their unit (days since 1970,
    seconds), so a date column would be fitted silently in whatever unit it was stored in;
    a DataFrame mixing them with numbers failed with NumPy's DTypePromotionError, and a
    pyarrow Table converted its dates without a word. Times of day and intervals (Arrow's
    time32, time64 and month_day_nano_interval) failed with a bare ``float()`` TypeError."""
    schema = getattr(x, "schema", None)
    if schema is not None and hasattr(schema, "types"):  # a pyarrow Table or RecordBatch
        columns = [(str(f.name), _not_real(f.type)) for f in schema]
    elif hasattr(x, "columns") and hasattr(x, "dtypes") and getattr(x, "ndim", 2) == 2:
        # a DataFrame: one dtype per column (a Dask Series has columns too, and one dtype)
        columns = [
            (str(c), _not_real(t, x.iloc[:, j] if isinstance(x, pd.DataFrame) else None))
            for j, (c, t) in enumerate(zip(x.columns, x.dtypes, strict=True))
        ]
    else:  # an array or a Series (a pyarrow Array or ChunkedArray: its type)
        arrow = type(x).__module__.startswith("pyarrow")
        dtype = getattr(x, "type", None) if arrow else getattr(x, "dtype", None)
        columns = [(label, _not_real(dtype, x if isinstance(x, pd.Series) else None))]
    found = [(c, what) for c, what in columns if what is not None]
    if found:
        listed = ", ".join(f"{c} ({what})" for c, what in found)
        kinds = {what for _, what in found}
        advice = []
        if kinds & {"dates", "durations"}:
            advice.append(
                "convert dates and durations to numbers in a unit of your choice (e.g. "
                "(t - t.min()) / pd.Timedelta(days=1))"
            )
        if kinds & {"times of day", "intervals"}:
            advice.append(
                "convert times of day and intervals to numbers in a unit of your choice "
                "(e.g. hours since midnight, days)"
            )
        if "complex numbers" in kinds:
            advice.append("take the real part or the modulus of complex values")
        # scikit-learn's words first: check_estimator looks for them
        complex_first = "Complex data not supported: " if "complex numbers" in kinds else ""
        if label == "X":
            advice.append(f"drop {'it' if len(found) == 1 else 'them'}")
        raise ValueError(
            f"{complex_first}{name} needs real numbers, but {listed} "
            f"{'is' if len(found) == 1 else 'are'} not: {', or '.join(advice)}"
        )


def chunk_iterable(x) -> bool:
    """Whether ``x`` is an iterable that is not a table: a re-iterable of chunks, or a
    generator (NumPy would fail to read it with a ``float()`` TypeError)."""
    from emkit.backend.sources import _is_array_like

    return (
        hasattr(x, "__iter__")
        and not isinstance(x, (list, tuple, range, pd.DataFrame, pd.Series))
        and not _is_array_like(x)
    )


def check_magnitude(
    x: np.ndarray, name: str = "X", fitting: bool = True, variances: bool = True
) -> None:
    """ValueError where a value of ``x`` is so large that its square overflows float64, or,
    for rows to fit (``fitting``), where its values, not all 0, are all so small that their
    squares underflow; ``variances``: the fit's variances come from them (else the message
    gives the reason that holds without variances: the start and the fit's record of its rows
    square the values too). The chunks of data read out of memory are checked alike, as they
    are read (:class:`~emkit.backend.validation.CheckedChunks`)."""
    if x.size == 0:
        return
    refusal = magnitude_refusal(largest_magnitude(x), name, fitting, variances)
    if refusal:
        raise ValueError(refusal)


def finite_and_moderate(x: np.ndarray, fitting: bool = True) -> bool:
    """True where every value of ``x`` is finite and at most :data:`MAX_MAGNITUDE` in size,
    and (for rows to fit) some at least :data:`MIN_MAGNITUDE`, from one pass over it (the sum
    of squares); False where that sum does not show it (the values are then checked one by
    one)."""
    if x.flags.c_contiguous:
        flat = x.reshape(-1)
    elif x.flags.f_contiguous:
        flat = x.T.reshape(-1)
    else:
        return False
    # BLAS on one thread for large inputs (see one_blas_thread); entering the limit costs ~20
    # us, more than the whole sum of a few rows (a predict on one row), so smaller inputs take
    # einsum's loop: BLAS would run its dot product on every thread from 10,000 values, and
    # where another process holds a core it waited milliseconds for it (a third of a KMeans
    # predict on 1e4 rows while the test suite ran).
    with np.errstate(over="ignore", invalid="ignore"):
        if flat.shape[0] >= ONE_BLAS_THREAD_VALUES:
            with one_blas_thread():
                squares = float(flat @ flat)
        else:
            squares = float(np.einsum("i,i->", flat, flat))
    # Sums of non-negative terms never round below their largest term, nor above their count
    # times it.
    floor = flat.shape[0] * MIN_MAGNITUDE**2 if fitting else 0.0
    return floor <= squares < 0.5 * MAX_MAGNITUDE**2


def check_complete(estimator, x: np.ndarray, hint: str = NAN_HINT, names=None) -> None:
    """ValueError where ``x`` (n, d) holds an infinity, or NaN: which rows and columns, and
    ``hint``, what to do instead. ``names``: the columns' names, as for :func:`reject_nan`."""
    reject_inf(x, names, allow_nan=False)
    reject_nan(x, hint, names)


def reject_inf(x: np.ndarray, names=None, *, allow_nan: bool) -> None:
    """ValueError saying where the infinities of ``x`` (n, d) are and what to do
    (:func:`~emkit.backend.validation.inf_refusal`), if there are any."""
    if np.isinf(x).any():
        raise ValueError(inf_refusal(x, names, allow_nan=allow_nan) + ".")


def reject_nan(x: np.ndarray, hint: str, names=None) -> None:
    """ValueError saying where the NaN of ``x`` (n, d) are and ``hint``, if there are any.

    ``names``: the columns' names (:func:`~emkit.backend.sources.feature_names` of the data
    as given, e.g. a DataFrame's), which the message gives: "columns ['income']"; None (an
    array) gives their positions, "columns [1]"."""
    if np.isnan(x).any():
        raise ValueError(f"Input X contains {nan_report(x, names)}; {hint}.")


def host_rows(x):
    """A tensor (on any device, requiring grad or not) as a NumPy array; anything else as it
    is. Estimators that compute in NumPy read tensors so (NumPy's ``asarray`` refuses one that
    requires grad or lives on a GPU)."""
    return namespace_of(x).to_numpy(x) if is_device_array(x) else x


def refuse_chunked(value, name: str, what: str, chunks: int | None = None) -> None:
    """ValueError where ``value`` (``y`` or ``sample_weight``, named ``name``) is given in
    chunks, as a list or tuple of arrays, where it must be one array of ``what``, one per row
    of X in order: NumPy would refuse the list with an "inhomogeneous shape", or read chunks of
    equal sizes as a 2-D array. ``chunks``: the number of chunks X is given in, where known.
    """
    if not (isinstance(value, (list, tuple)) and any(np.ndim(v) >= 1 for v in value)):
        return
    if chunks is None:
        given, rows = f"{name} is a list of {len(value)} arrays", "X (of all its chunks, in order)"
    else:
        given, rows = f"X is a list of {chunks} chunks, and so is {name}", "the chunks in order"
    raise ValueError(
        f"{given}: {name} must be one array of {what}, one per row of {rows} "
        f"(np.concatenate({name}))"
    )


def refuse_masked(value, name: str, what: str) -> None:
    """ValueError where ``value`` is a NumPy masked array with masked entries: a row's
    ``what`` cannot be missing (NumPy's conversion would read the value under the mask)."""
    if isinstance(value, np.ma.MaskedArray) and np.ma.count_masked(value):
        raise ValueError(
            f"{name} is a masked array with {np.ma.count_masked(value)} masked entries: every "
            f"row needs {what}; drop the rows whose {name} is masked, or fill it "
            f"({name}.filled(...))"
        )


def check_weights(sample_weight, x: np.ndarray) -> np.ndarray | None:
    """Validate sample weights: one array (:func:`refuse_chunked`), finite, non-negative, one
    per row, not all zero."""
    if sample_weight is None:
        return None
    refuse_chunked(sample_weight, "sample_weight", "weights")
    refuse_masked(sample_weight, "sample_weight", "a weight (0 leaves it out)")
    try:
        w = _check_sample_weight(host_rows(sample_weight), x, dtype=np.float64)
    except ValueError as exc:
        if "at least one non-zero" not in str(exc):
            raise
        raise ValueError(
            f"{exc} Every weight is 0, which leaves no row to fit: give the rows to fit a "
            "positive weight (a weight of m counts its row m times)"
        ) from None
    negative = w < 0
    if negative.any():  # scikit-learn's words first, then which and what to do
        raise ValueError(
            f"Negative values in data passed to `sample_weight`: {int(negative.sum())} of "
            f"{w.shape[0]} weight(s) negative (such as {w[negative][0]:g}, row "
            f"{int(np.argmax(negative))}). A weight counts its row (m times; 0 leaves it "
            "out): correct those weights, or set them to 0 to leave their rows out"
        )
    with np.errstate(over="ignore"):  # a sum beyond float64 is refused as such
        check_weight_total(float(w.sum()))
    return w


def weighted_total(values, sample_weight, X=None) -> tuple[float, float]:
    r""":math:`\sum_n w_n v_n` and :math:`\sum_n w_n` from per-row values (n,), such as log
    densities, and the rows' frequency weights (n,): a weight of m counts a row m times, so a
    criterion from these sums is that of the data with each row repeated. ``values`` may be a
    tensor (brought to the host) or a lazy dask Array, ``sample_weight`` then an array, dask
    Array or Series partitioned as it (summed on the workers). A row of weight 0 counts for
    nothing, even where its log density is -inf.

    ``X``: the collection ``values`` are of. Where it is a Dask DataFrame of known divisions,
    a pandas ``sample_weight`` must have its index (one read of it), as in a fit: split by
    position, other weights would go to its rows
    (:func:`~emkit.backend.dask_source.aligned_array`)."""
    if is_dask_collection(values):
        import dask

        from emkit.backend.dask_source import frame_index, is_pandas

        index = frame_index(X) if X is not None and is_pandas(sample_weight) else None
        w = aligned_array(sample_weight, values.chunks[0], "sample_weight", index)
        terms = values.map_blocks(_weighted_terms, w, dtype=np.float64)
        valid = ((w >= 0) & (w < np.inf)).all()  # False for NaN too
        total, n, ok = dask.compute(_quiet_sum(terms), _quiet_sum(w), valid)
        if not ok:
            raise ValueError("sample_weight holds negative, NaN or infinite values")
        check_weight_total(float(n))
        return float(total), float(n)
    values = np.asarray(namespace_of(values).to_numpy(values), dtype=np.float64)
    w = check_weights(sample_weight, np.broadcast_to(0.0, (values.shape[0], 1)))
    assert w is not None  # sample_weight is not None
    return float(_weighted_terms(values, w).sum()), float(w.sum())


def _quiet_sum(values: Any) -> Any:
    """The sum of the dask Array ``values`` (n,) of weights or weighted terms, without numpy's
    RuntimeWarning where it overflows: :func:`check_weight_total` refuses such weights."""
    import dask.array as da

    return da.reduction(values, _sum_quietly, _sum_quietly, dtype=np.float64)


def _sum_quietly(values: np.ndarray, axis: Any = None, keepdims: bool = False, **_: Any):
    """``np.sum`` of one block (or of the blocks' sums) for :func:`_quiet_sum`."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.sum(values, axis=axis, keepdims=keepdims)


def _weighted_terms(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """w_n v_n (n,), 0 for the rows of weight 0 (:func:`~emkit.backend.idle_rows.without_idle`)."""
    with np.errstate(over="ignore"):  # weights that large are refused (check_weight_total)
        return w * without_idle(values, w)


def check_incomplete_rows(
    estimator,
    x,
    *,
    reset: bool,
    min_rows: int = 1,
    allow_empty_rows: bool = False,
    checked: bool = False,
) -> np.ndarray:
    """Validate ``x`` as a 2-D float array whose missing values are NaN (never inf).

    Unless ``allow_empty_rows``, a row with no observed value is an error: it says nothing
    about the parameters, and the message counts such rows and says how to drop them.
    ``checked`` as for :func:`check_rows` (the values were checked with the same options).
    """
    x = check_rows(estimator, x, reset=reset, min_rows=min_rows, allow_nan=True, checked=checked)
    if not allow_empty_rows and not checked:
        check_no_empty_rows(x)
    return x


def observed_columns(x, w) -> np.ndarray:
    """Weight of the rows of ``x`` (m, d; NaN where missing, an array or a tensor) that
    observe each column, (d,) float64 on the host: the diagonal of :func:`observed_together`
    at O(m d), all that :func:`check_observed` reads for a model without covariances."""
    xp = namespace_of(x)
    weighted, _ = _seen(x, w)
    return np.asarray(xp.to_numpy(xp.einsum("nd->d", weighted)), dtype=np.float64)


def observed_together(x, w) -> np.ndarray:
    """Weight of the rows of ``x`` (m, d; NaN where missing, an array or a tensor) that
    observe each pair of columns together, (d, d) float64 on the host; its diagonal is
    :func:`observed_columns`. A row of weight 0 observes nothing. Added over chunks, this is
    what :func:`check_observed` reads for a model with covariances (O(m d^2))."""
    xp = namespace_of(x)
    weighted, seen = _seen(x, w)
    return np.asarray(xp.to_numpy(xp.einsum("nd,ne->de", weighted, seen)), dtype=np.float64)


def _seen(x, w) -> tuple:
    """1 where ``x`` (m, d) is observed, 0 where NaN, (m, d): times the weights ``w`` (m,)
    or None, and as it is."""
    xp = namespace_of(x)
    zeros = xp.zeros_like(x)
    seen = xp.where(xp.isnan(x), zeros, zeros + 1.0)  # (m, d)
    return (seen if w is None else seen * w[:, None]), seen


def check_observed(observed: np.ndarray, names=None, *, where: str = "") -> None:
    """Check that the data of a missing-data fit identify what it estimates, from the
    weight of the rows that observe each column, (d,) (:func:`observed_columns`: a model
    without covariances), or each pair of columns, (d, d) (:func:`observed_together`).

    A column with no observed value in a row of positive weight is a ValueError (nothing
    says where its mean is). Given pairs (the model has off-diagonal covariances), two
    columns never observed in one row of positive weight are a
    :class:`~emkit.exceptions.DegenerateFitWarning`: the observed-data likelihood does not
    depend on their covariance, which EM leaves where its start and the other columns put it,
    not where the data do. ``where`` names a subset of the rows (a class: " in the rows of
    class 'a' ..."): its unseen columns are then warned about as well, not refused.
    ``names`` are the columns' names (``feature_names_in_``) or None (their indices).
    """
    label = (lambda a: repr(str(names[a]))) if names is not None else str
    together = observed if observed.ndim == 2 else None
    seen = (observed if together is None else np.diag(observed)) > 0  # (d,)
    if not seen.all():
        columns = f"[{', '.join(label(a) for a in np.flatnonzero(~seen).tolist())}]"
        if not where:
            raise ValueError(
                f"columns {columns} have no observed value in a row of positive weight "
                "(every entry is NaN, or its row has sample_weight 0), so their mean and "
                "variance cannot be estimated; drop those columns first."
            )
        warn_user(
            f"columns {columns} have no observed value{where}, "
            "so the data say nothing about their mean and variance there: the fitted values "
            "are EM's start and what the other columns carry. Observe them in those rows, or "
            "drop the columns.",
            DegenerateFitWarning,
        )
    if together is None:
        return
    i, j = np.nonzero(np.triu(~(together > 0), 1) & seen[:, None] & seen[None, :])
    if i.size == 0:
        return
    pairs = ", ".join(f"({label(a)}, {label(b)})" for a, b in zip(i[:5], j[:5], strict=True))
    more = f" and {i.size - 5} more" if i.size > 5 else ""
    warn_user(
        f"columns {pairs}{more} are never observed in the same row{where}, so the data say "
        "nothing about their covariance: the fitted covariance holds a value the likelihood "
        "does not depend on (EM's start, 0, or what the other columns carry), and imputing "
        "one from the other rests on it. Observe some rows of both, or impute them "
        "separately.",
        DegenerateFitWarning,
    )


def refuse_rows(x: np.ndarray, kept: Any, why: str, families: list, note: str = "") -> None:
    """A ValueError naming the rows of ``x`` not ``kept`` (n,), which ``why`` (e.g. "lie outside
    the support of every component"), under the mixture of ``families`` (one per component),
    so that they have no component probabilities; ``note`` ends the message."""
    if kept.all():
        return
    i = int(np.argmin(kept))
    names = ", ".join(type(family).__name__ for family in families)
    raise ValueError(
        f"{int((~kept).sum())} rows of X {why} ({names}; the first is row {i}: "
        f"{x[i].tolist()}), so they have no component probabilities{note}"
    )


def check_no_empty_rows(x: np.ndarray) -> None:
    """ValueError counting the rows of ``x`` (n, d) that are entirely NaN, if there are any."""
    empty = np.isnan(x).all(axis=1)
    if empty.any():
        raise ValueError(
            f"{int(empty.sum())} of {x.shape[0]} rows have no observed value (every entry "
            f"is NaN; the first is row {int(np.argmax(empty))}). They carry no information; "
            "drop them first, e.g. X = X[~np.isnan(X).all(axis=1)]."
        )


def rows_from_file(x, fitted_names=None):
    """``x`` itself, or the rows of the ``.npy`` file, Parquet file or folder of Parquet files
    that ``x`` names.

    Parquet is read as a DataFrame (n, d), whose names the estimator checks as any
    DataFrame's: of the columns ``fitted_names`` (a fit's ``feature_names_in_``), by name,
    where every file has them all (in any order, beside others); else of the columns a fit
    reads (all but an index pandas stored). A folder's files are read in the order a fit
    reads them.
    """
    if not isinstance(x, (str, os.PathLike)):
        return x
    from emkit.backend.sources import (
        PARQUET_SUFFIXES,
        parquet_columns,
        parquet_features,
        parquet_files,
    )

    path = Path(x)
    if path.is_dir() or (path.is_file() and path.suffix in PARQUET_SUFFIXES):
        files = parquet_files(path)
        wanted = set() if fitted_names is None else set(fitted_names)
        if fitted_names is not None and all(wanted <= set(parquet_columns([f])) for f in files):
            columns = [str(c) for c in fitted_names]
        else:
            columns = parquet_features(files, path)
        frames = [pd.read_parquet(f, columns=columns) for f in files]
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if not path.is_file():
        raise ValueError(f"no such file or folder: {path}")
    if path.suffix == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise ValueError(npy_refusal(path, exc)) from None
    raise ValueError(
        f"{path}: a file to read rows from must be .npy or Parquet "
        f"({', '.join(PARQUET_SUFFIXES)}), or a folder of Parquet files; load other formats "
        "into an array first"
    )


def refuse_warm_start(differs: str) -> NoReturn:
    """The ValueError of a warm start that cannot continue the stored fit, ``differs`` saying
    how the asked-for fit differs from it (as ``GaussianMixture``'s refusal reads)."""
    raise ValueError(
        f"warm_start=True continues the stored fit, but {differs}. Set warm_start=False "
        "to fit afresh, or fit with the parameters and data of the stored fit."
    )


def warm_features(estimator, X) -> list[str]:
    """What a warm start's ``X`` changes: its number of features where it has a shape (arrays,
    data frames, tensors) and that differs from the stored fit's; a Dask collection's count is
    checked when its source is read (:func:`emkit.estimators._inputs.dask_fit_source`)."""
    shape = getattr(X, "shape", None)
    fitted = estimator.n_features_in_
    if shape is not None and len(shape) == 2 and shape[1] != fitted:
        return [f"X has {shape[1]} features where the stored fit has {fitted}"]
    return []
