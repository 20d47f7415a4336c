"""The data an estimator fits and predicts on: an array validated in memory, or a Dask
collection left on its workers (:mod:`emkit.backend.dask_source`)."""

from __future__ import annotations

import copy
import functools
import inspect
import operator
import os
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.utils._set_output import _get_output_config, _wrap_data_with_container
from sklearn.utils.validation import check_is_fitted

from emkit.backend.dask_source import (
    DaskSource,
    aligned_array,
    as_dask_array,
    dask_source,
    frame_index,
    is_dask_collection,
    is_pandas,
    partition_name,
)
from emkit.backend.inputs import as_source, checked, start_rows
from emkit.backend.sources import (
    DataSource,
    IterableChunks,
    NpyChunks,
    ParquetChunks,
    array_source,
    chunk_list,
    feature_names,
    join_chunks,
)
from emkit.estimators._device import refuse_dask_device
from emkit.estimators._validation import (
    check_feature_names,
    check_rows,
    check_weights,
    chunk_iterable,
    names_checked,
    refuse_chunked,
    refuse_warm_start,
)

# Starting values come from at most this many rows (a uniform sample, the same in memory, out of
# core and on a cluster): k-means++ and k-means then cost the same for any n.
INIT_ROWS = 100_000


def fit_rows(
    estimator,
    X,
    sample_weight=None,
    *,
    rng: np.random.RandomState,
    min_rows: int = 1,
    nan_hint: str | None = None,
    check: Callable[[np.ndarray], None] | None = None,
    reset: bool = True,
) -> tuple[DataSource, np.ndarray, np.ndarray | None]:
    """The source to fit, and the rows (and weights) to start from.

    In memory: ``X`` validated (:func:`~emkit.estimators._validation.check_rows`), read in
    blocks, and all of it to start from. A Dask collection: its partitions checked on the
    workers (finite, then ``check(x)``), and a sample of at most :data:`INIT_ROWS` rows drawn
    there (all rows where there are no more, so that the start is the in-memory one).
    ``reset`` False (a warm start): the features must be those of the stored fit.
    """
    if not is_dask_collection(X):
        x = check_rows(estimator, X, reset=reset, min_rows=min_rows, nan_hint=nan_hint)
        w = check_weights(sample_weight, x)
        return array_source(x, w), x, w
    source = dask_fit_source(
        estimator, X, sample_weight, nan_hint=nan_hint, check=check, reset=reset
    )
    if source.n_rows < min_rows:
        raise ValueError(
            f"{type(estimator).__name__} needs at least {min_rows} rows (samples) here; "
            f"got n_samples = {source.n_rows}. Use fewer components or more data."
        )
    x, w = start_rows(source, INIT_ROWS, rng)
    return source, x, w


def by_chunk(X, method: Callable[[np.ndarray], np.ndarray]) -> np.ndarray | None:
    """``method`` (``predict``, ``transform``) of each chunk of ``X`` in order, written into
    one result allocated up front, where ``X`` is what ``fit`` reads chunk by chunk: a path
    to a ``.npy`` or Parquet file or folder, or a re-iterable of chunks (not a list). Memory
    for one chunk and its result besides the whole result; None for any other ``X``, which
    the methods read into memory.

    Each chunk is read as ``fit`` reads it (:func:`~emkit.backend.inputs.as_source`: a
    Parquet file's columns, a re-iterable's masked entries NaN) and checked by ``method``;
    the names of a Parquet file or of a re-iterable of DataFrames were checked by ``fit``,
    which also refuses a chunk with other columns.

    Raises
    ------
    ValueError
        A re-iterable whose pass yields more rows than its first (fewer: the source says so).
    """
    if is_dask_collection(X):
        return None
    if not isinstance(X, (str, os.PathLike)) and not chunk_iterable(X):
        return None
    source = as_source(X)
    if not isinstance(source, (NpyChunks, ParquetChunks, IterableChunks)):
        return None
    n = source.n_rows
    out: np.ndarray | None = None
    start = 0
    with names_checked():
        for x, _ in source:
            if x.shape[0] == 0:  # an empty batch or chunk: no rows to add, nothing to check
                continue
            part = np.asarray(method(x))
            stop = start + part.shape[0]
            if stop > n:
                raise ValueError(
                    f"the chunks of X yielded more rows on this pass than the {n} of the "
                    "first: every pass must yield the same rows"
                )
            if out is None:
                out = np.empty((n, *part.shape[1:]), dtype=part.dtype)
            out[start:stop] = part
            start = stop
    return out


def joined_rows(X, y, *, what: str = "labels") -> Any:
    """``X`` as one table where it is a list of chunks (:func:`~emkit.backend.sources.chunk_list`:
    their rows joined in order, as :func:`~emkit.estimators._validation.check_rows` joins
    them), else ``X`` as given, for an estimator fitted to ``X`` and ``y``.

    ``y`` stays one array of ``what``, one per row of all the chunks, in order; its length is
    checked here against their total, where NumPy would refuse the list with an
    "inhomogeneous shape".

    Raises
    ------
    ValueError
        ``y`` given as a list of chunks, or of another length than the chunks' rows.
    """
    chunks = chunk_list(X)
    if chunks is None:
        return X
    rows = [int(np.shape(c)[0]) for c in chunks]
    if y is None:
        return join_chunks(chunks)
    refuse_chunked(y, "y", what, chunks=len(rows))
    n_y = np.shape(y)[0] if np.ndim(y) >= 1 else 0
    if n_y != sum(rows):
        sizes = " + ".join(map(str, rows)) if len(rows) <= 8 else "..."
        raise ValueError(
            f"y has {n_y} {what}, but X has {sum(rows)} rows in {len(rows)} chunks ({sizes}): "
            f"y must be one array of {what}, one per row of the chunks in order"
        )
    return join_chunks(chunks)


def dask_fit_source(
    estimator,
    X,
    sample_weight=None,
    y=None,
    *,
    nan_hint: str | None = None,
    allow_nan: bool = False,
    check: Callable[[np.ndarray], None] | None = None,
    make: Callable[[np.ndarray, Any], Any] | None = None,
    summary: Callable[[Any, np.ndarray | None], Any] | None = None,
    reset: bool = True,
) -> DaskSource:
    """The checked source of a Dask collection ``X`` (and ``y``, weights partitioned alike);
    sets ``n_features_in_``, and ``feature_names_in_`` from a DataFrame's columns as the fit of
    the same pandas DataFrame in memory does. ``reset`` False (a warm start) checks them
    against the stored fit's instead. ``make`` and ``summary`` as
    :class:`~emkit.backend.dask_source.Checks` has them."""
    refuse_dask_device(type(estimator).__name__, getattr(estimator, "device", None), X)
    source = dask_source(X, sample_weight, y)
    if reset:
        estimator.n_features_in_ = source.n_features
    elif source.n_features != estimator.n_features_in_:
        refuse_warm_start(
            f"X has {source.n_features} features where the stored fit has "
            f"{estimator.n_features_in_}"
        )
    check_feature_names(estimator, source.feature_names, reset=reset)
    hint = nan_hint or "drop or impute them before fitting"
    return source.checked(
        source.n_features,
        allow_nan=allow_nan,
        nan_hint=hint,
        check=check,
        make=make,
        summary=summary,
    )


def per_row(
    width: Callable[[Any], int] | None = None,
    dtype: Any = np.float64,
) -> Callable:
    """Decorate ``method(self, X, ...)``, whose result has one row per row of ``X``, so that on
    a Dask collection it returns a lazy dask Array with the partitions of ``X``.

    Further arguments of one value per row (``y``: a dask Array or Series partitioned as
    ``X``, or an array or Series split as ``X`` is) go with ``X``: each block of ``X`` gets its
    own rows of them.

    Parameters
    ----------
    width : None for a result of shape (n,), else ``width(self)`` its columns.
    dtype : the result's dtype, or a callable ``dtype(self)``.
    """

    def decorate(method: Callable) -> Callable:
        names = list(inspect.signature(method).parameters)[2:]  # after self and X

        @functools.wraps(method)
        def wrapper(self, X, *args, **kwargs):
            if not is_dask_collection(X):
                return method(self, X, *args, **kwargs)
            out = np.dtype(dtype if isinstance(dtype, (type, np.dtype, str)) else dtype(self))
            where = [i for i, a in enumerate(args) if _by_row(a)]
            where += [k for k, v in kwargs.items() if _by_row(v)]
            given = [args[at] if isinstance(at, int) else kwargs[at] for at in where]
            # a pandas argument must have the index of a Dask DataFrame X (read as its rows
            # are counted)
            check_is_fitted(self)  # before X is read
            index = frame_index(X) if any(is_pandas(v) for v in given) else None
            x = queried_array(self, X, None if index is None else tuple(map(len, index)))
            columns = [
                aligned_array(
                    value,
                    x.chunks[0],
                    names[at] if isinstance(at, int) and at < len(names) else str(at),
                    index,
                )[:, None]
                for at, value in zip(where, given, strict=True)
            ]
            tail = () if width is None else (int(width(self)),)
            fn = functools.partial(
                _on_block, method, _shippable(self), args, kwargs, where, np.empty((0, *tail), out)
            )
            if width is None:
                return x.map_blocks(fn, *columns, drop_axis=1, dtype=out, meta=np.empty((0,), out))
            chunks = (x.chunks[0], tail)
            return x.map_blocks(fn, *columns, chunks=chunks, dtype=out, meta=np.empty((0, 0), out))

        return wrapper

    return decorate


def dask_total(
    estimator,
    X,
    fn: Callable[[np.ndarray, np.ndarray | None], Any],
    sample_weight=None,
    *,
    nan_hint: str | None = None,
    allow_nan: bool = False,
    combine: Callable[[Any, Any], Any] = operator.add,
) -> Any:
    """``fn(x, w)`` of every partition of the Dask collection ``X`` (with ``sample_weight``
    partitioned alike), checked as a fit checks them, added on the workers with ``combine``:
    one pass, and only the sum comes back. ``allow_nan``: NaN is a missing value (rows with
    nothing observed are kept, as in memory).

    Raises
    ------
    NotFittedError, or ValueError for another number of features or a partition that fails
    the checks (named, as in a fit).
    """
    return _checked_partitions(
        estimator, X, sample_weight, nan_hint=nan_hint, allow_nan=allow_nan
    ).total(fn, combine)


def dask_sample(
    estimator,
    X,
    size: int,
    rng: np.random.RandomState,
    *,
    nan_hint: str | None = None,
    allow_nan: bool = False,
) -> np.ndarray:
    """A uniform sample of at most ``size`` rows (m, d) of the Dask collection ``X``, in
    partition order, drawn on the workers: the partitions are checked as a fit checks them
    (rows with nothing observed kept where ``allow_nan``, as in memory) and nothing is
    persisted; only the sample comes back.

    Raises
    ------
    NotFittedError, or ValueError for another number of features or a partition that fails
    the checks (named, as in a fit).
    """
    checked = _checked_partitions(
        estimator, X, persist=False, nan_hint=nan_hint, allow_nan=allow_nan
    )
    x, _ = checked.sample_rows(size, rng)
    return x


def _checked_partitions(
    estimator,
    X,
    sample_weight=None,
    *,
    persist: bool | None = None,
    nan_hint: str | None = None,
    allow_nan: bool = False,
):
    """The Dask collection ``X`` a fitted ``estimator`` is asked about, as a source whose
    partitions are checked as a fit checks them, but for rows with nothing observed, which are
    kept where ``allow_nan`` (a query in memory takes them: they add 0 to the log-likelihood
    and count as rows; they used to be left out here, so that n, BIC and score differed)."""
    check_is_fitted(estimator)
    # the rows of a DataFrame's partitions are counted in the pass that reads them, not in
    # one of their own (a query reads its data once)
    source = dask_source(X, sample_weight, persist=persist, count_rows=False)
    check_feature_names(estimator, source.feature_names, reset=False)
    check_n_features(estimator, source.n_features)
    return source.checked(
        source.n_features,
        allow_nan=allow_nan,
        keep_empty_rows=allow_nan,
        nan_hint=nan_hint or "drop or impute them first",
    )


def queried_array(estimator, X, lengths: tuple | None = None) -> Any:
    """The Dask collection ``X`` a fitted ``estimator`` is asked about, as a dask Array of
    shape (n, d), checked as scikit-learn checks the same data in memory: a DataFrame's column
    names against ``feature_names_in_`` (another order is refused), its width against
    ``n_features_in_``. ``lengths``: the rows of each partition of a DataFrame, where known."""
    check_is_fitted(estimator)
    x = as_dask_array(X, lengths)
    check_feature_names(estimator, feature_names(X), reset=False)
    check_n_features(estimator, x.shape[1])
    return x


def transform_output(estimator, out: Any, X) -> Any:
    """``out``, what ``estimator.transform(X)`` computed (one row per row of ``X``), in the
    container ``set_output(transform=...)`` asks for: in memory as scikit-learn wraps it; for a
    Dask collection ``X`` (``out`` a lazy dask Array with its partitions), with "pandas", a
    lazy Dask DataFrame with ``get_feature_names_out()`` as columns and the index and
    divisions of a Dask DataFrame ``X`` (scikit-learn would compute it into a pandas DataFrame
    numbered from 0, a new index that misaligns on a join), the rows of a dask Array ``X``
    numbered from 0 across its partitions (of unknown lengths too), otherwise the dask Array
    itself ("polars" has no lazy Dask form). The estimator's ``transform`` and ``fit_transform`` are
    then left unwrapped by scikit-learn (their ``__wrapped__``)."""
    if not is_dask_collection(X):
        return _wrap_data_with_container("transform", out, X, estimator)
    if _get_output_config("transform", estimator)["dense"] != "pandas":
        return out
    import dask.dataframe as dd

    columns = [str(c) for c in estimator.get_feature_names_out()]
    if isinstance(X, dd.DataFrame):
        return dd.from_dask_array(out, columns=columns, index=X.index)
    if any(np.isnan(n) for n in out.chunks[0]):
        return _numbered_frame(out, columns)
    return dd.from_dask_array(out, columns=columns)


def _numbered_frame(out: Any, columns: list[str]) -> Any:
    """The dask Array ``out`` of unknown block lengths (e.g. rows chosen by a boolean mask) as
    a lazy Dask DataFrame whose rows are numbered from 0 across its partitions, as pandas
    numbers an array's (``dd.from_dask_array`` would number each partition from 0 again).

    Each partition's first number is the sum of the lengths of the blocks before it, a chain
    of small tasks beside the blocks themselves: nothing is computed here, and a computation
    computes each block once (no pass of its own to count the rows); the divisions are
    unknown, as the blocks' lengths are."""
    import dask.dataframe as dd
    import pandas as pd
    from dask import delayed

    blocks = out.rechunk({1: -1}).to_delayed().ravel()
    meta = pd.DataFrame(np.empty((0, len(columns)), out.dtype), columns=columns)
    parts, start = [], 0
    for block in blocks:
        parts.append(delayed(_numbered_block, pure=True)(block, start, columns))
        start = delayed(_rows_after, pure=True)(start, block)
    return dd.from_delayed(parts, meta=meta, verify_meta=False)


def _numbered_block(block: np.ndarray, start: int, columns: list[str]) -> Any:
    """One block of rows as a DataFrame whose index runs from ``start``."""
    import pandas as pd

    index = pd.RangeIndex(start, start + block.shape[0])
    return pd.DataFrame(block, columns=columns, index=index)


def _rows_after(start: int, block: np.ndarray) -> int:
    """Where the rows after ``block``, whose first is ``start``, begin."""
    return start + block.shape[0]


def check_n_features(estimator, n_features: int) -> None:
    """ValueError where ``n_features`` differs from the fitted ``n_features_in_``."""
    if n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )


def _by_row(value: Any) -> bool:
    """True for an argument holding one value per row (a Dask collection, an array, a Series)."""
    if is_dask_collection(value):
        return True
    return hasattr(value, "__array__") and np.ndim(value) >= 1


def _on_block(
    method: Callable,
    estimator,
    args: tuple,
    kwargs: dict,
    where: list,
    empty: np.ndarray,
    block,
    *columns,
    block_info: dict | None = None,
):
    """``method`` of one block of ``X``, the arguments at ``where`` (positions or keywords)
    replaced by their blocks ``columns`` (each of shape (m, 1)); the names of ``X`` were
    checked where it was queried. A ValueError (bad input) names the partition, as a fit
    does; ``block_info`` is Dask's (where the block lies). A block without rows (an empty
    partition, e.g. of a filtered DataFrame) has the result ``empty``, of no rows: in memory
    its rows are simply not there, while ``method`` would refuse an array of 0 rows."""
    if block.shape[0] == 0:
        return empty
    given, named = list(args), dict(kwargs)
    for at, column in zip(where, columns, strict=True):
        if isinstance(at, int):
            given[at] = column[:, 0]
        else:
            named[at] = column[:, 0]
    try:
        with names_checked():
            return method(estimator, block, *given, **named)
    except ValueError as exc:
        if not block_info or 0 not in block_info:
            raise
        info = block_info[0]
        part, n_parts = info["chunk-location"][0], info["num-chunks"][0]
        start, stop = info["array-location"][0]
        raise ValueError(f"{partition_name(part, n_parts, start, stop)} of X: {exc}") from None


def _shippable(estimator):
    """A shallow copy of ``estimator`` to send to the workers, without attributes that are
    themselves Dask collections (a lazy ``labels_``, whose graph would hold the estimator)."""
    plain = copy.copy(estimator)
    for name, value in list(vars(plain).items()):
        if is_dask_collection(value):
            delattr(plain, name)
    return plain


def weighted_source(
    X,
    source: DataSource,
    sample_weight,
    columns: int,
    *,
    dtype: Any = np.float64,
    **options: Any,
) -> DataSource:
    """``source`` (of ``X`` out of memory: a file, chunks or a Dask collection) with
    ``sample_weight``, every chunk checked as it is read (:func:`~emkit.backend.inputs.checked`
    with ``options``), and checked before its rows are counted: a Dask source of unknown
    partition sizes counts them in the pass that checks them, with the options given (NaN
    allowed where asked), and refuses weights of another length there, naming both lengths.

    Weights of a Dask collection, or an array of them with a Dask ``X``, are split as ``X`` is
    and checked on the workers (a pandas Series against the index of a Dask DataFrame ``X``);
    other weights are checked here against the rows counted.
    """
    if sample_weight is not None:
        w = sample_weight
        on_workers = isinstance(source, DaskSource) and np.ndim(w) == 1
        if not (is_dask_collection(w) or on_workers):
            n = checked(source, columns, **options).n_rows
            w = check_weights(sample_weight, np.broadcast_to(0.0, (n, 1)))
        if isinstance(source, DaskSource) and source.known_rows is not None and not is_pandas(w):
            # split as X's counted partitions are (without counting them again)
            source = source.with_weights(w)
        else:
            weighted = as_source(X, sample_weight=w, dtype=dtype)
            assert weighted is not None  # as ``source``: X is not in memory
            source = weighted
    return checked(source, columns, **options)
