"""Dask collections as a data source: the same EM on a Dask cluster.

One EM round on a cluster is: ship the parameters (the E-step function), map it over the
partitions where they live, add the statistics in a tree of tasks on the workers, and take
the M-step on the client with the tree's root. Statistics add up, so the answer is the
in-memory one. The collection's partitions are prepared once (converted to the fit's dtype
and checked on the workers, with the same errors as in memory, naming the partition), then
persisted on the workers when they fit in the workers' memory and re-read from their source
on every pass when they do not. A lost worker costs only the recomputation of its
partitions: every partition's statistics are one task of the graph, so none is counted twice
or left out.

Dask is imported here only when a Dask collection arrives (``import emkit`` never imports it).
"""

from __future__ import annotations

import functools
import heapq
import operator
import os
import pickle
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np

from emkit.backend.column_kinds import na_as_nan, time_kind_of
from emkit.backend.integers import (
    exact_integers,
    refuse_inexact_integers,
    refuse_rounded_target,
)
from emkit.backend.sampling import sample_indices
from emkit.backend.sources import DEFAULT_CHUNK_ROWS, feature_names
from emkit.backend.validation import check_weight_total, inf_refusal, nan_report

T = TypeVar("T")

# Rows per E-step call within a partition (as in-memory arrays are read).
BLOCK_ROWS = DEFAULT_CHUNK_ROWS
# Partitions are persisted where their bytes are at most this share of the workers' memory.
PERSIST_SHARE = 0.5
DEFAULT_NAN_HINT = "drop or impute them before fitting"


def is_dask_collection(data: Any) -> bool:
    """True for a Dask Array, DataFrame or Series (without importing Dask if it is not)."""
    dask = sys.modules.get("dask")
    if dask is None or not dask.is_dask_collection(data):
        return False
    import dask.array as da
    import dask.dataframe as dd

    return isinstance(data, (da.Array, dd.DataFrame, dd.Series))


@dataclass(frozen=True)
class Checks:
    """What every partition must satisfy, and what a prepared partition holds.

    Attributes
    ----------
    columns : features every partition has.
    dtype : dtype of the prepared blocks.
    allow_nan : NaN marks a missing value (inf stays an error).
    drop_empty_rows : rows with no observed value are left out (else they are an error).
    keep_empty_rows : rows with no observed value are kept (a fitted model's queries take them
        as in memory: they add 0 to the log-likelihood and count as rows).
    nan_hint : where NaN is an error, what the message suggests instead.
    check : an extra check of each partition's rows, ``check(x)`` raising ValueError.
    make : builds the chunk the model reads from ``(x, y)`` (default: ``x`` alone).
    summary : what the check pass also gives of each prepared partition,
        ``summary(chunk, sample_weight)`` (:attr:`Prepared.summaries`), so that a fit needing
        a few sums of the rows before its first E-step takes no pass of its own for them.
    names : the columns' names (a DataFrame's), which a refusal of NaN gives; None: their
        positions.
    """

    columns: int
    dtype: Any = np.float64
    allow_nan: bool = False
    drop_empty_rows: bool = False
    keep_empty_rows: bool = False
    nan_hint: str = DEFAULT_NAN_HINT
    check: Callable[[np.ndarray], None] | None = None
    make: Callable[[np.ndarray, Any], Any] | None = None
    summary: Callable[[Any, np.ndarray | None], Any] | None = None
    names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Prepared:
    """A source's partitions once prepared: the Delayed of each, and what the check pass
    counted; ``summaries`` holds ``Checks.summary`` of each partition in order (None for a
    partition without rows), or is empty where there is no ``Checks.summary``."""

    blocks: tuple
    counts: np.ndarray
    n_rows: int
    total_weight: float
    persisted: bool
    summaries: tuple = ()


@dataclass(frozen=True, eq=False)
class DaskSource:
    """The partitions of a Dask collection, as the EM loop reads them (a
    :class:`~emkit.backend.sources.DataSource`).

    Build it with :func:`dask_source`. The partitions are prepared, checked and (where they
    fit) persisted on first use: one pass, which raises the first partition's error. Each
    prepared partition is ``(chunk, sample_weight)``: ``chunk`` an array of shape
    (m, n_features) (or what ``Checks.make`` builds from it and ``y``), the weights of shape
    (m,) or None.

    Attributes
    ----------
    raw : the collection's own partitions ``(x, w, y)``, each a Dask Delayed (or None).
    checks : what every partition must satisfy and how it is prepared.
    persist : as :func:`dask_source`.
    nbytes : bytes of the prepared data where the partition sizes are known, else NaN.
    row_chunks : rows of each partition (NaN where unknown).
    feature_names : a DataFrame's column names as scikit-learn reads those of the same
        DataFrame in memory (:func:`~emkit.backend.sources.feature_names`), else None.
    sizes : bytes of the last pass's statistics (``"pass"``), which tell where the next
        pass adds them (:func:`_on_workers`).
    frame : the Dask DataFrame ``X`` (its columns as numbers) where it is one, else None:
        weights of the same source are read with it (:meth:`with_weights`).
    labels : the distinct values of ``y`` and the rows holding each, ``(values, rows)`` (as
        :func:`dask_value_counts` finds them), where they were found in the pass that counted
        the rows, else None.
    """

    raw: tuple
    checks: Checks
    persist: bool | None
    nbytes: float
    row_chunks: tuple
    feature_names: np.ndarray | None = None
    sizes: dict = field(default_factory=dict, compare=False, repr=False)
    frame: Any = field(default=None, compare=False, repr=False)
    labels: tuple[np.ndarray, np.ndarray] | None = field(default=None, compare=False, repr=False)

    @property
    def known_rows(self) -> int | None:
        """Rows of the collection where its partition sizes are known, else None."""
        rows = float(np.sum(self.row_chunks))
        return None if np.isnan(rows) else int(rows)

    @functools.cached_property
    def prepared(self) -> Prepared:
        """The partitions prepared and checked on the workers (persisted where they fit)."""
        return _prepared(self.raw, self.checks, self.persist, self.nbytes, self.row_chunks)

    @property
    def n_rows(self) -> int:
        if self.known_rows is not None and "prepared" not in self.__dict__:
            return self.known_rows
        return self.prepared.n_rows

    @property
    def n_features(self) -> int:
        return self.checks.columns

    @property
    def total_weight(self) -> float:
        return self.prepared.total_weight

    @property
    def n_partitions(self) -> int:
        return len(self.raw)

    @property
    def summaries(self) -> tuple:
        """``Checks.summary`` of each partition (None for one without rows), from the check
        pass: :attr:`Prepared.summaries`."""
        return self.prepared.summaries

    @property
    def persisted(self) -> bool:
        return self.prepared.persisted

    def __iter__(self) -> Iterator[tuple[Any, np.ndarray | None]]:
        """The prepared partitions, each brought to the client in turn (for small data)."""
        for block in self.prepared.blocks:
            chunk, w, _ = block.compute()
            yield chunk, w

    def map_reduce(
        self,
        fn: Callable[[Any, np.ndarray | None], T],
        combine: Callable[[T, T], T] = operator.add,
    ) -> T:
        """``fn`` of every partition on the workers, added with ``combine``; only the sums come
        back.

        Partitions persisted on a ``dask.distributed`` cluster are read by a few tasks per
        worker thread (one per range of :data:`FAN_IN` partitions it holds some of), and the
        workers add them in the tree of the partitions' order (:func:`_pairwise`), the tree
        the local scheduler adds, so that the sum does not depend on where the partitions
        live (they are placed anew by every persist); only the root comes to the client, one
        set of statistics per pass however many partitions there are, unless a pass's
        statistics together are small (:data:`CLIENT_BYTES`): the client then adds them
        itself, a scheduler round trip sooner (:func:`_on_workers`). That is a few tasks
        per thread and per range instead of one
        per partition and one per addition, each costing the scheduler and the worker a few
        milliseconds. A worker lost mid-pass only moves its tasks: each partition is in
        exactly one task, and a task's partitions are recomputed from their source where it
        runs.

        Otherwise (partitions re-read on every pass, or Dask's local scheduler) each partition
        is a task, added in a tree; ``fn`` (with the parameters it closes over) is one task
        that every partition's task depends on, so it is sent to each worker once.
        """
        import dask
        from dask import delayed

        futures = _futures(self.prepared.blocks)
        if futures is not None:
            return _present(_on_workers(futures, fn, combine, self.sizes))
        shipped = delayed(fn, pure=False)
        parts = [
            delayed(_apply, pure=False)(shipped, combine, block) for block in self.prepared.blocks
        ]
        (total,) = dask.compute(_tree(parts, combine), optimize_graph=False)
        return _present(total)

    def total(
        self,
        fn: Callable[[Any, np.ndarray | None], T],
        combine: Callable[[T, T], T] = operator.add,
    ) -> T:
        """``fn`` of every partition, prepared and checked as it is read, added in a tree on
        the workers: one pass that persists nothing (for a score of new data). Errors are
        those of the check pass of a fit."""
        import dask
        from dask import delayed

        if "prepared" in self.__dict__:
            return self.map_reduce(fn, combine)
        prepare = functools.partial(_prepare, checks=self.checks)
        starts = np.concatenate([[0.0], np.cumsum(self.row_chunks)])
        shipped = delayed(fn, pure=False)
        parts = [
            delayed(_apply, pure=False)(
                shipped,
                combine,
                delayed(prepare)(
                    x, w, y, partition_name(i, len(self.raw), starts[i], starts[i + 1])
                ),
            )
            for i, (x, w, y) in enumerate(self.raw)
        ]
        (out,) = dask.compute(_tree(parts, combine), optimize_graph=False)
        return _present(out)

    def checked(
        self,
        columns: int,
        *,
        allow_nan: bool = False,
        drop_empty_rows: bool = False,
        keep_empty_rows: bool = False,
        nan_hint: str = DEFAULT_NAN_HINT,
        check: Callable[[np.ndarray], None] | None = None,
        make: Callable[[np.ndarray, Any], Any] | None = None,
        summary: Callable[[Any, np.ndarray | None], Any] | None = None,
    ) -> DaskSource:
        """This source with every partition checked on the workers (as
        :class:`~emkit.backend.validation.CheckedChunks` checks chunks): 2-D, ``columns``
        wide, finite (NaN allowed where ``allow_nan``), then ``check(x)``; ``make(x, y)``
        builds the chunk the model reads, and the check pass gives ``summary(chunk, w)`` of
        each (:attr:`Prepared.summaries`)."""
        checks = replace(
            self.checks,
            columns=columns,
            allow_nan=allow_nan,
            drop_empty_rows=drop_empty_rows,
            keep_empty_rows=keep_empty_rows,
            nan_hint=nan_hint,
            check=check,
            make=make,
            summary=summary,
        )
        if checks == self.checks:  # as it is: keep what was prepared
            return self
        return replace(self, checks=checks)

    def with_weights(self, sample_weight: Any) -> DaskSource:
        """This source with ``sample_weight`` (shape (n,), an array or a Dask collection
        partitioned as the data), checked on the workers."""
        _refuse_2d_weights(sample_weight)
        if (
            self.frame is not None
            and _read_with(self.frame, sample_weight)
            and all(y is None for _, _, y in self.raw)
        ):
            # a column of the DataFrame X came from: read with X, in the same tasks
            xs, (ws,) = _read_together(self.frame, [sample_weight])
            return replace(self, raw=tuple((x, w, None) for x, w in zip(xs, ws, strict=True)))
        ws = _aligned(sample_weight, self.row_chunks, "sample_weight")
        raw = tuple((x, w, y) for (x, _, y), w in zip(self.raw, ws, strict=True))
        return replace(self, raw=raw)

    def sample_rows(self, size: int, rng: np.random.RandomState) -> tuple[Any, Any]:
        """A uniform random subset of ``size`` rows (all rows where there are no more), in
        partition order, and their weights: drawn on the workers, only the sample comes back.

        The indices are those :func:`~emkit.backend.sampling.sample_indices` draws for an
        in-memory array of the same rows, so the sample, and the start made from it, are the
        same as in memory.
        """
        import dask

        counts = self.prepared.counts
        n = int(counts.sum())
        keep = sample_indices(n, size, rng) if size < n else None
        offsets = np.concatenate([[0], np.cumsum(counts)])
        takes = []
        for i, block in enumerate(self.prepared.blocks):
            if keep is None:
                takes.append(dask.delayed(_take)(block, None))
                continue
            lo, hi = np.searchsorted(keep, offsets[i : i + 2])
            if hi > lo:
                takes.append(dask.delayed(_take)(block, keep[lo:hi] - offsets[i]))
        parts = dask.compute(*takes)
        chunks = [c for c, _ in parts]
        weights = [w for _, w in parts if w is not None]
        w = np.concatenate(weights) if weights else None
        if isinstance(chunks[0], tuple):
            return tuple(np.concatenate(c) for c in zip(*chunks, strict=True)), w
        return np.concatenate(chunks), w


def dask_source(
    X: Any,
    sample_weight: Any = None,
    y: Any = None,
    *,
    dtype: Any = np.float64,
    persist: bool | None = None,
    count_rows: bool = True,
) -> DaskSource:
    """The source of a Dask collection; its partitions are read, checked and (where they fit)
    persisted on the workers when EM first needs them.

    Weights and a target that come from the same source as a Dask DataFrame ``X`` (columns
    of the DataFrame it came from, e.g. ``ddf["w"]`` with ``X = ddf[columns]``) are read with
    ``X``: one read of each partition gives all three, so that a fit with them reads its
    source as often as one without (once to count the rows, once to persist them).

    Parameters
    ----------
    X : dask Array of shape (n, d), or dask DataFrame of numeric columns.
    sample_weight : None, an array of shape (n,), or a dask Array or Series partitioned as
        ``X`` (non-negative, finite).
    y : None, or a target partitioned as ``X`` (a dask Array or Series, or an array of shape
        (n,) that is split as ``X`` is).
    dtype : dtype of the prepared blocks (float64 or float32).
    persist : True keeps the prepared partitions in the workers' memory, False re-reads them
        from the collection's source on every pass, None (default) persists where they take
        at most half of the workers' memory (of this machine's, on Dask's local scheduler);
        where the partition sizes are unknown, that is decided once the first pass has
        counted the rows.
    count_rows : False leaves the partition sizes of a Dask DataFrame ``X`` unknown where
        nothing needs them (a query reads the partitions once instead of twice); they are
        still counted where weights or a target must be split as ``X`` is.

    Raises
    ------
    ValueError
        Not 2-D, non-numeric columns, or partitions of ``y`` or the weights that do not match
        those of ``X``. The partitions themselves are checked when first read.
    """
    _refuse_2d_weights(sample_weight)
    index = None
    if any(is_pandas(v) for v in (sample_weight, y)):
        index = frame_index(X)  # read in the pass that counts the rows of X
    lengths = None if index is None else tuple(map(len, index))
    frame = numeric_frame(X, dtype)
    if frame is None:
        x = as_dask_array(X)
        x = counted_for(x, sample_weight, y)
        d = int(x.shape[1])
        xs = list(x.to_delayed().ravel())
        row_chunks = tuple(x.chunks[0])
        ws = _aligned(sample_weight, row_chunks, "sample_weight", index)
        ys = _aligned(y, row_chunks, "y", index)
        raw = tuple(zip(xs, ws, ys, strict=True))
        nbytes = float(x.shape[0]) * d * np.dtype(dtype).itemsize  # NaN where rows are unknown
        return DaskSource(
            raw,
            Checks(d, dtype=dtype, names=_names(X)),
            persist,
            nbytes,
            row_chunks,
            feature_names(X),
        )
    # A DataFrame: weights and a target from its source are read in the same tasks as X.
    import dask
    from dask import delayed

    d = len(frame.columns)
    given = {"sample_weight": sample_weight, "y": y}
    together = [name for name, v in given.items() if _read_with(frame, v)]
    xs, columns = _read_together(frame, [given[name] for name in together], y)
    read = dict(zip(together, columns, strict=True))
    rest = [v for name, v in given.items() if v is not None and name not in read]
    labels = None
    if lengths is None and (count_rows or rest):
        # one pass over the partitions counts their rows (and the rows of each label of y)
        ys_read = read.get("y", [None] * len(xs))
        counts = dask.compute(
            *[delayed(_counted_rows)(x, y_i) for x, y_i in zip(xs, ys_read, strict=True)]
        )
        lengths = tuple(rows for rows, _ in counts)
        if "y" in read:
            labels = _sorted_tally(_merged_tallies([found for _, found in counts]))
    row_chunks = tuple(lengths) if lengths is not None else (np.nan,) * len(xs)
    ws = (
        read["sample_weight"]
        if "sample_weight" in read
        else _aligned(sample_weight, row_chunks, "sample_weight", index)
    )
    ys = read["y"] if "y" in read else _aligned(y, row_chunks, "y", index)
    raw = tuple(zip(xs, ws, ys, strict=True))
    nbytes = float(np.sum(row_chunks)) * d * np.dtype(dtype).itemsize  # NaN where unknown
    return DaskSource(
        raw,
        Checks(d, dtype=dtype, names=_names(X)),
        persist,
        nbytes,
        row_chunks,
        feature_names(X),
        frame=frame,
        labels=labels,
    )


def _refuse_2d_weights(sample_weight: Any) -> None:
    """Refuse weights of more than one dimension, a column included (a (n, 1) array, a Dask
    DataFrame of one column), as scikit-learn refuses them in memory ("Sample weights must be
    1D"); a target of one column is taken, as in memory."""
    ndim = getattr(sample_weight, "ndim", None)
    if sample_weight is None or ndim is None or ndim <= 1:
        return
    shape = "" if ndim != 2 else " (one column)" * (_columns(sample_weight) == 1)
    raise ValueError(
        f"sample_weight must be 1-D, one weight per row of X; got a {ndim}-D "
        f"{type(sample_weight).__name__}{shape}, which a fit in memory refuses too. Pass its "
        "column: w[:, 0] for an array, ddf['w'] (a Series) for a DataFrame"
    )


def _columns(values: Any) -> int | None:
    """The columns of the 2-D ``values`` (an array's shape[1], a DataFrame's columns)."""
    columns = getattr(values, "columns", None)
    if columns is not None:
        return len(columns)
    width = values.shape[1]
    return None if width is None or width != width else int(width)


def _names(X: Any) -> tuple[str, ...] | None:
    """The column names of ``X`` as a refusal of NaN gives them (a DataFrame's), else None."""
    names = feature_names(X)
    return None if names is None else tuple(map(str, names))


def _prepared(
    raw: tuple, checks: Checks, persist: bool | None, nbytes: float, row_chunks: tuple
) -> Prepared:
    import dask
    from dask import delayed

    prepare = functools.partial(_prepare, checks=checks)
    starts = np.concatenate([[0.0], np.cumsum(row_chunks)])
    blocks = [
        delayed(prepare)(x, w, y, partition_name(i, len(raw), starts[i], starts[i + 1]))
        for i, (x, w, y) in enumerate(raw)
    ]
    keep = _should_persist(persist, nbytes)
    if keep:
        blocks = list(dask.persist(*blocks))
    infos = dask.compute(*[delayed(_info)(b, checks.summary) for b in blocks])
    counts = np.array([kept for kept, _, _, _ in infos], dtype=np.int64)
    n_rows = int(sum(rows for _, rows, _, _ in infos))
    weights = [weight for _, _, weight, _ in infos]
    summaries = () if checks.summary is None else tuple(summary for *_, summary in infos)
    if n_rows == 0:
        raise ValueError("the Dask collection has no rows")
    if any(weight is not None for weight in weights):
        total = float(sum(weight for weight in weights if weight is not None))
        check_weight_total(total)
    else:
        total = float(n_rows)
    if persist is None and np.isnan(nbytes):
        # Partition sizes unknown until this pass counted the rows: persisted under the same
        # rule as known sizes (one more read now instead of one per pass).
        keep = _should_persist(None, n_rows * checks.columns * np.dtype(checks.dtype).itemsize)
        if keep:
            blocks = list(dask.persist(*blocks))
    return Prepared(tuple(blocks), counts, n_rows, total, keep, summaries)


def _should_persist(persist: bool | None, nbytes: float) -> bool:
    """``persist`` where given, else whether ``nbytes`` of prepared data take at most
    :data:`PERSIST_SHARE` of the workers' memory (False where the size is not known yet)."""
    if persist is not None:
        return persist
    if not np.isfinite(nbytes):
        return False
    return nbytes <= PERSIST_SHARE * _worker_memory()


def _worker_memory() -> float:
    """Memory of the active client's workers together, or this machine's available memory."""
    try:
        from distributed import get_client

        client = get_client()
    except (ImportError, ValueError):
        client = None
    if client is not None:
        workers = client.scheduler_info(n_workers=-1)["workers"].values()
        return float(sum(w.get("memory_limit", 0) or 0 for w in workers))
    try:
        import psutil

        return float(psutil.virtual_memory().available)
    except ImportError:
        return 0.0


def as_dask_array(X: Any, lengths: tuple | None = None, dtype: Any = np.float64) -> Any:
    """``X`` as a dask Array of shape (n, d) with one block of columns; ``lengths``: the rows
    of each partition of a DataFrame ``X`` where they are known (else counted); ``dtype``,
    the float type its rows are fitted in (:func:`numeric_frame`)."""
    import dask.array as da
    import dask.dataframe as dd

    if isinstance(X, dd.Series):
        raise ValueError(
            "X must be 2-D (rows by features); got a dask Series. Use series.to_frame()."
        )
    frame = numeric_frame(X, dtype)
    if frame is not None:
        # Partition sizes known: the rows are counted, and in-memory weights split alike.
        X = frame.to_dask_array(lengths=True if lengths is None else lengths)
    if not isinstance(X, da.Array):
        raise ValueError(f"expected a dask Array or DataFrame; got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(
            f"X must be 2-D (rows by features); got a dask Array of shape {X.shape}. "
            "Reshape it, e.g. X.reshape(-1, 1) for a single feature."
        )
    if X.dtype.kind not in "biuf":
        # Complex values would lose their imaginary part when cast to the fit's dtype, and
        # timedeltas count as integers to NumPy: both are refused, as in memory.
        raise ValueError(
            f"X must hold real numbers (float, integer or boolean); got dtype {X.dtype}. "
            "Convert the values first; complex data are not supported"
        )
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    return X


def numeric_frame(X: Any, dtype: Any = np.float64) -> Any:
    """The Dask DataFrame ``X`` with columns of real numbers as NumPy reads them (nullable,
    pyarrow-backed and bool columns as float64, pd.NA as NaN, as in memory); None where ``X``
    is not a Dask DataFrame.

    Columns of text, objects or categories are read as numbers where they hold numbers, as
    in memory (Dask makes an object column of numbers text, and pd.NA in it is NaN): each
    partition is converted where it is read (:func:`_numbers`), in the same task, so that
    the data are read no more often; values that are not numbers are refused then, naming
    the column and the partition, and so are integers that ``dtype`` (the float type the
    rows are fitted in) would round.

    Raises
    ------
    ValueError
        A column of times or complex numbers (named); when a partition is read, text or
        objects that are not numbers.
    """
    import dask.dataframe as dd

    if not isinstance(X, dd.DataFrame):
        return None
    from pandas.api.types import is_bool_dtype, is_complex_dtype, is_numeric_dtype

    # a time kind first: pandas' dtype tests raise NotImplementedError on an Arrow
    # interval column (month_day_nano_interval)
    times = {str(c): time_kind_of(t) for c, t in X.dtypes.items()}
    odd = [str(c) for c, t in X.dtypes.items() if times[str(c)] or is_complex_dtype(t)]
    if odd:
        named = [f"{c} ({times[c]})" if times[c] else c for c in odd]
        raise ValueError(
            f"every column of X must hold real numbers; columns {named} are not (times or "
            "complex numbers). Select the numeric columns or encode the others first (times "
            "as numbers in a unit of your choice, complex values as their real part or "
            "modulus)."
        )
    read = [j for j, t in enumerate(X.dtypes) if not (is_numeric_dtype(t) or is_bool_dtype(t))]
    if read:
        # text, objects or categories: converted in each partition as it is read
        convert = functools.partial(_numbers, columns=tuple(read), parts=X.npartitions, dtype=dtype)
        X = X.map_partitions(convert, meta=convert(X._meta), partition_info=True)
    if not all(isinstance(t, np.dtype) and t.kind in "fiu" for t in X.dtypes):
        # Nullable (Float64, Int64, boolean), pyarrow-backed and bool columns, or a mix
        # of them, would be an array of objects: float64 as in memory, pd.NA as NaN, their
        # integers checked first (float64 rounds those beyond 2**53)
        convert = functools.partial(_float64, parts=X.npartitions, dtype=dtype)
        X = X.map_partitions(convert, meta=X._meta.astype(np.float64), partition_info=True)
    return X


def _float64(
    part: Any, *, parts: int, dtype: Any = np.float64, partition_info: dict | None = None
) -> Any:
    """The partition ``part`` (a pandas DataFrame) of a Dask DataFrame of ``parts``
    partitions as float64, pd.NA as NaN, once its integers are checked
    (:func:`~emkit.backend.integers.refuse_inexact_integers`, the present values of a
    nullable column; those ``dtype``, float32, rounds where the fit is in float32)."""
    number = None if partition_info is None else partition_info.get("number")
    where = None if number is None else partition_name(number, parts, np.nan, np.nan)
    refuse_inexact_integers(part, "X", where, dtype)
    return part.astype(np.float64)


def _numbers(
    part: Any,
    *,
    columns: tuple,
    parts: int,
    dtype: Any = np.float64,
    partition_info: dict | None = None,
) -> Any:
    """The partition ``part`` (a pandas DataFrame) of a Dask DataFrame of ``parts``
    partitions, its ``columns`` (positions: text, objects or categories) as float64, read as
    a fit in memory reads them: each column as objects, pd.NA as NaN
    (:func:`~emkit.backend.column_kinds.na_as_nan`), then NumPy's conversion (that of
    scikit-learn's validation), so that text of numbers is read as the numbers it writes and a
    category column as its categories' values.

    Raises
    ------
    ValueError
        Values that are not numbers, or dates and times as objects (the column and the
        partition named).
    """
    import pandas as pd

    number = None if partition_info is None else partition_info.get("number")
    where = "X" if number is None else f"{partition_name(number, parts, np.nan, np.nan)} of X"
    part = part.copy(deep=False)  # columns replaced, not written to
    for j in columns:
        column = part.iloc[:, j]
        values = na_as_nan(column.to_numpy(dtype=object))  # (m,), NaN where missing
        present = values[~np.asarray(pd.isna(values), dtype=bool)]
        kind = time_kind_of(np.dtype(object), present[0]) if present.size else None
        if kind:
            raise ValueError(
                f"every column of X must hold real numbers; column {column.name!r} of {where} "
                f"holds {kind}. Convert them to numbers first (in a unit of your choice), or "
                "select the numeric columns"
            )
        exact_integers(values, "X", where, dtype=dtype)  # Python integers it would round
        try:
            part.isetitem(j, np.asarray(values, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            words = {"True", "False"}.intersection(present.tolist())
            # Dask's dataframe.convert-string makes an object column of bools, which a fit
            # in memory reads as 1 and 0, the text "True" and "False"
            dask_text = (
                f" (Dask made it text: {sorted(words)}; read the column as numbers first, "
                "e.g. .astype(float) on the pandas frame, or set "
                "dask.config.set({'dataframe.convert-string': False}) before making the Dask "
                "frame)"
                if words
                else ""
            )
            raise ValueError(
                f"column {column.name!r} of {where} holds values that are not numbers ({exc})"
                f"{dask_text}; encode text or categories as numbers first (e.g. with "
                "pandas.get_dummies or Series.cat.codes) or drop those columns"
            ) from None
    return part


def _read_with(frame: Any, values: Any) -> bool:
    """Whether ``values`` (weights or a target) can be read in the tasks that read the Dask
    DataFrame ``frame``: a Dask Series (or DataFrame of one column) of the same source and
    partitions (Dask's ``are_co_aligned``: the same inputs, up to partition-wise steps), so
    that partition ``i`` of each holds the same rows (their counts are compared as each is
    read)."""
    import dask.dataframe as dd

    if isinstance(values, dd.DataFrame):
        if len(values.columns) != 1:
            return False
    elif not isinstance(values, dd.Series):
        return False
    if values.npartitions != frame.npartitions:
        return False
    try:
        from dask.dataframe.dask_expr._expr import are_co_aligned
    except ImportError:  # another Dask: its columns are read as before, on their own
        return False
    return bool(are_co_aligned(frame.expr, values.expr))


def _read_together(frame: Any, values: list, target: Any = None) -> tuple[list, list[list]]:
    """The partitions of the Dask DataFrame ``frame`` (arrays of shape (m, d)) and of each of
    ``values`` (Series of the same source, arrays of shape (m,)), each a Dask Delayed, from
    one graph optimised for them together, as ``dask.compute`` optimises them: Dask reads the
    columns of all of them in one task per partition. Optimised one by one (as
    ``to_delayed`` does), a source that reads only the columns asked for (Parquet, a
    ``from_map`` reader taking ``columns=``) would be read once for each of them, and the
    tasks of a source that reads every column would not be shared where the optimiser names
    them apart."""
    from dask import delayed
    from dask.base import collections_to_expr
    from dask.delayed import Delayed
    from dask.highlevelgraph import HighLevelGraph

    collections = [frame, *(_plain_numbers(v, v is target) for v in values)]
    expr = collections_to_expr(collections).optimize()
    layer = f"emkit-read-{expr._name}"
    graph = HighLevelGraph.from_collections(layer, expr.__dask_graph__(), dependencies=())
    parts = [[Delayed(key, graph, layer=layer) for key in keys] for keys in expr.__dask_keys__()]
    xs = [delayed(_frame_values)(p) for p in parts[0]]
    columns = [[delayed(_column_values)(p) for p in ps] for ps in parts[1:]]
    return xs, columns


def _frame_values(part: Any) -> np.ndarray:
    """A partition of a DataFrame as the array ``to_dask_array`` makes of it."""
    from dask.dataframe.methods import values

    return values(part)


def _column_values(part: Any) -> np.ndarray:
    """A partition of a Series (or DataFrame of one column) as an array of shape (m,)."""
    out = _frame_values(part)
    return out[:, 0] if out.ndim == 2 else out


def _counted_rows(x: np.ndarray, y: np.ndarray | None) -> tuple[int, tuple | None]:
    """Rows of a partition, and the distinct values of its ``y`` with the rows holding each
    (:func:`_tally`; None without ``y``)."""
    return int(np.shape(x)[0]), None if y is None else _tally(y)


def counted_for(array: Any, *values: Any) -> Any:
    """The dask ``array`` (rows in its first axis), its partition sizes counted (one read of
    it) where they are unknown and some of ``values`` (weights or a target, None where not
    given) are to be split as it is and need them (:func:`_needs_row_counts`)."""
    if _unknown(array.chunks[0]) and any(_needs_row_counts(v) for v in values):
        return _counted(array)
    return array


def _needs_row_counts(values: Any) -> bool:
    """Whether ``values`` (weights or a target), to be split as X is, need the size of each
    partition of X: an in-memory array, or a dask Array of known partition sizes."""
    import dask.array as da

    if values is None:
        return False
    if isinstance(values, da.Array):
        return not _unknown(values.chunks[0])
    return not is_dask_collection(values)


def _aligned(values: Any, row_chunks: tuple, name: str, index: list | None = None) -> list:
    """One block of ``values`` (weights or a target, shape (n,)) per partition, the partitions
    having ``row_chunks`` rows (NaN where unknown) and the ``index`` (as
    :func:`aligned_array`)."""
    if values is None:
        return [None] * len(row_chunks)
    return list(aligned_array(values, row_chunks, name, index).to_delayed().ravel())


def is_pandas(values: Any) -> bool:
    """Whether ``values`` is a pandas Series or DataFrame (without importing pandas)."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(values, (pd.Series, pd.DataFrame))


def frame_index(X: Any) -> list | None:
    """The index of each partition of ``X`` where it is a Dask DataFrame of known divisions
    (its rows are then labelled by it: one read of the index), else None."""
    import dask
    import dask.dataframe as dd

    if not isinstance(X, dd.DataFrame) or not X.known_divisions:
        return None
    return list(dask.compute(*X.index.to_delayed()))


def _check_index(values: Any, index: list, name: str) -> None:
    """Refuse the pandas ``values`` (as many rows as X) whose index is not ``index``, that of
    the Dask DataFrame X partition by partition: split by position, they would pair rows of X
    with other rows' values."""
    start = 0
    for part, labels in enumerate(index):
        theirs = values.index[start : start + len(labels)]
        if not theirs.equals(labels):
            differ = np.flatnonzero(np.asarray(theirs != labels))
            row = start + int(differ[0]) if differ.size else start
            raise ValueError(
                f"{name} is a pandas {type(values).__name__} whose index differs from that of "
                f"X, a Dask DataFrame (first at row {row}, in partition {part}: label "
                f"{_label(theirs[row - start])} of {name} against {_label(labels[row - start])} "
                "of X); "
                f"split by position it would give rows of X other rows' {name}. Pass a Dask "
                f"Series of the same DataFrame (e.g. ddf[column]), or align {name} with X "
                f"first ({name}.loc[X.index.compute()] or .reindex)"
            )
        start += len(labels)


def _label(value: Any) -> str:
    """An index label as an error names it (a NumPy scalar as the Python value it holds)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def aligned_array(values: Any, row_chunks: tuple, name: str, index: list | None = None) -> Any:
    """``values`` (weights or a target, shape (n,): an array, or a dask Array or Series) as a
    1-D dask Array in partitions of ``row_chunks`` rows (NaN where unknown).

    A pandas Series (or DataFrame) of as many rows as X, where ``index`` is the index of each
    partition of X (:func:`frame_index`: a Dask DataFrame of known divisions), must have that
    index: it is split by position, as an array is.

    Values of another partitioning but as many rows are repartitioned; a dask Array whose
    partition sizes are unknown has them counted (one read of ``values``) where those of X
    are known. Where the sizes of X are unknown, ``values`` must be a dask collection of
    as many partitions, also of unknown sizes (e.g. a column of the DataFrame X came from):
    each partition's rows are then compared with those of X when it is read.

    Raises
    ------
    ValueError
        Not 1-D, another number of rows, partitions that cannot be matched, or another index;
        the message says the lengths and what to do.
    """
    import dask.array as da
    import dask.dataframe as dd

    unknown = _unknown(row_chunks)
    if index is not None and is_pandas(values) and len(values) == sum(map(len, index)):
        _check_index(values, index, name)
    if isinstance(values, (dd.Series, dd.DataFrame)):
        values = _plain_numbers(values, target=name == "y").to_dask_array(lengths=not unknown)
    if not isinstance(values, da.Array):
        values = np.asarray(values)
        if values.ndim != 1:
            raise ValueError(f"{name} must be 1-D; got shape {values.shape}")
        if unknown:
            raise ValueError(
                f"{name} is an in-memory array of {values.shape[0]} entries, but the "
                f"partition sizes of X are unknown (NaN in X.chunks), so {name} cannot be "
                f"split as X is. Call X = X.compute_chunk_sizes() first, or pass {name} as a "
                "dask Array or Series partitioned as X"
            )
        n = values.shape[0]
        values = da.from_array(values, chunks=(row_chunks if n == sum(row_chunks) else (n,),))
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {values.shape}")
    if _same_chunks(values.chunks[0], row_chunks):
        return values
    if not unknown and _unknown(values.chunks[0]):
        values = _counted(values)  # one column: cheap beside X
    theirs = values.chunks[0]
    if unknown:
        why = (
            f"{name} has {len(theirs)} partitions where X has {len(row_chunks)}"
            if _unknown(theirs)
            else f"those of {name} are known"
        )
        raise ValueError(
            f"the partition sizes of X are unknown (NaN in X.chunks) and {why}, so {name} "
            f"cannot be split as X is. Call X = X.compute_chunk_sizes() first, or pass "
            f"{name} partitioned as X (e.g. a column of the same DataFrame)"
        )
    if sum(theirs) != sum(row_chunks):
        ours = np.cumsum(row_chunks)
        first = int(np.argmax(np.cumsum(theirs)[: len(ours)] != ours[: len(theirs)]))
        where = (
            f"; their partitions first differ at partition {first}: {int(theirs[first])} "
            f"entries of {name} against {int(row_chunks[first])} rows of X"
            if len(theirs) == len(row_chunks)
            else ""
        )
        raise ValueError(
            f"{name} has {int(sum(theirs))} entries but X has {int(sum(row_chunks))} rows"
            f"{where}. Pass one entry of {name} per row of X"
        )
    return values.rechunk((tuple(row_chunks),))


def _unknown(chunks: tuple) -> bool:
    """Whether any of the partition sizes ``chunks`` is unknown (NaN)."""
    return any(np.isnan(c) for c in chunks)


def _counted(array: Any) -> Any:
    """The dask ``array`` with its partition sizes known: its partitions are computed once
    and counted. A copy: ``compute_chunk_sizes`` would set them on the caller's array."""
    return array.copy().compute_chunk_sizes()


def _same_chunks(a: tuple, b: tuple) -> bool:
    """Whether the partition sizes ``a`` and ``b`` are the same, unknown (NaN) sizes where
    both are unknown."""
    return len(a) == len(b) and all(
        x == y or (np.isnan(x) and np.isnan(y)) for x, y in zip(a, b, strict=True)
    )


def partition_name(part: int, n_parts: int, start: float, stop: float) -> str:
    """How an error names a partition: its index, and its rows ``start`` to ``stop`` (end
    excluded; NaN where unknown)."""
    if np.isnan(stop):
        return f"partition {part} (of {n_parts})"
    if stop <= start:
        return f"partition {part} (of {n_parts}; no rows, after row {int(start) - 1})"
    return f"partition {part} (of {n_parts}; rows {int(start)} to {int(stop) - 1})"


def _prepare(x: Any, w: Any, y: Any, where: str, *, checks: Checks):
    """One partition as the model reads it, checked: ``(chunk, sample_weight, (rows,
    weight))``, the last its rows and their weight before any empty row was dropped."""
    # before float64 (or float32) rounds them (a DataFrame's too)
    refuse_inexact_integers(x, "X", where, checks.dtype)
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != checks.columns:
        raise ValueError(
            f"{where} of X has shape {x.shape}; every partition must be 2-D with "
            f"{checks.columns} columns (features)"
        )
    # C order, as in memory (a DataFrame partition's values are often Fortran-ordered)
    x = np.asarray(x, dtype=checks.dtype, order="C")
    if w is not None:
        w = np.asarray(w, dtype=np.float64)
        if w.shape != (x.shape[0],):
            raise ValueError(
                f"{where} of sample_weight has {w.shape[0]} rows but X has {x.shape[0]}"
                f"{_unmatched('sample_weight')}"
            )
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError(
                f"{where} of sample_weight has negative or non-finite weights; weights must be "
                "finite and non-negative"
            )
    if y is not None:
        y = np.asarray(y)
        if y.shape != (x.shape[0],):
            raise ValueError(
                f"{where} of y has {y.shape[0]} rows but X has {x.shape[0]}{_unmatched('y')}"
            )
    # a total beyond float64 is refused as such once every partition is read
    # (check_weight_total), without numpy's RuntimeWarning first
    with np.errstate(over="ignore"):
        rows = (x.shape[0], None if w is None else float(w.sum()))
    if not np.isfinite(x).all():
        if np.isinf(x).any():
            raise ValueError(
                inf_refusal(
                    x,
                    checks.names,
                    allow_nan=checks.allow_nan,
                    where=f"{where} of X",
                    rows_of="its rows",
                )
            )
        if not checks.allow_nan:
            raise ValueError(
                f"{where} of X contains {nan_report(x, checks.names)}; {checks.nan_hint}"
            )
        empty = np.isnan(x).all(axis=1)  # (m,)
        if checks.keep_empty_rows:
            empty[:] = False
        if empty.any() and not checks.drop_empty_rows:
            raise ValueError(
                f"{int(empty.sum())} rows of {where} of X have no observed value (every entry "
                f"is NaN; the first is its row {int(np.argmax(empty))}). They carry no "
                "information; drop them first."
            )
        if empty.any():
            x, w = x[~empty], None if w is None else w[~empty]
            y = None if y is None else y[~empty]
    if checks.check is not None:
        try:
            checks.check(x)
        except ValueError as exc:
            raise ValueError(f"{where} of X: {exc}") from None
    try:
        chunk = x if checks.make is None else checks.make(x, y)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    # Rows before any were dropped, and their weight: totals count dropped rows, as in memory.
    return chunk, w, rows


def _unmatched(name: str) -> str:
    """What to do where a partition of ``name`` has another number of rows than X's."""
    return (
        f": {name} needs one entry per row of X, partitioned as X. Pass a column of the "
        f"DataFrame X came from (e.g. ddf[column] where X is ddf[columns] or ddf.values), or "
        f"call X = X.compute_chunk_sizes() and pass {name} as an array of one entry per row"
    )


def _info(block, summary: Callable | None = None) -> tuple[int, int, float | None, Any]:
    """Rows the partition keeps, rows it had, their weight (None without weights), and
    ``summary(chunk, w)`` of the rows it keeps (None without ``summary`` or rows)."""
    chunk, w, (rows, weight) = block
    x = chunk[0] if isinstance(chunk, tuple) else chunk
    kept = int(x.shape[0])
    found = None if summary is None or kept == 0 else summary(chunk, w)
    return kept, rows, weight, found


def _apply(fn: Callable, combine: Callable, block) -> Any:
    """``fn`` of a partition's row blocks of at most :data:`BLOCK_ROWS`, added left to right
    (as an in-memory array is read): the E-step's temporaries stay small for any partition.
    None for a partition without rows (an empty one, or one whose rows were all left out):
    it adds nothing, as an empty chunk in memory is skipped (:func:`_add_present`).

    The kernels run on one thread: the scheduler already runs one task per worker thread, and
    kernel threads on top of them would oversubscribe the cores. Their temporaries are reused
    (:func:`reused_memory`).
    """
    from emkit.backend.threads import kernel_threads

    chunk, w, _ = block
    x = chunk[0] if isinstance(chunk, tuple) else chunk
    out = None
    with kernel_threads(1), reused_memory():
        for start in range(0, x.shape[0], BLOCK_ROWS):
            rows = slice(start, start + BLOCK_ROWS)
            part = tuple(c[rows] for c in chunk) if isinstance(chunk, tuple) else chunk[rows]
            value = fn(part, None if w is None else w[rows])
            out = value if out is None else combine(out, value)
    return out


def _add_present(combine: Callable, a: Any, b: Any) -> Any:
    """``combine(a, b)``, where None (a partition without rows) adds nothing."""
    if a is None:
        return b
    return a if b is None else combine(a, b)


def _present(total: Any) -> Any:
    """The sum over the partitions; ValueError where none of them had a row."""
    if total is None:
        raise ValueError(
            "no partition of the Dask collection has a row to read (every one is empty, or "
            "its rows were all left out); pass data with rows"
        )
    return total


@contextmanager
def reused_memory() -> Iterator[None]:
    """While it is open, freed temporaries are reused instead of returned to the system
    (glibc on Linux, in a process started with ``MALLOC_TRIM_THRESHOLD_``; elsewhere nothing).

    Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_`` (64 KiB), and glibc then
    also fixes its mmap threshold at 128 KiB: every larger temporary of the E-step (a block's
    (m, k) log joints, its feature buffer) is mapped afresh and its pages faulted in, about
    30 000 page faults and a sixth more CPU per million rows (10 features, K = 10). While a
    task runs, both thresholds are raised so that the temporaries come from the heap; when the
    last such task ends they are set back to the environment's values and the free memory is
    returned to the system, as the nanny intends.
    """
    global _reusing
    settings = _allocator_settings()
    if settings is None:
        yield
        return
    libc, trim, mmap = settings
    with _reuse_lock:
        _reusing += 1
        if _reusing == 1:
            libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
            libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_WHILE_REUSING)
    try:
        yield
    finally:
        with _reuse_lock:
            _reusing -= 1
            if _reusing == 0:
                libc.mallopt(_M_TRIM_THRESHOLD, trim)
                libc.mallopt(_M_MMAP_THRESHOLD, mmap)
                libc.malloc_trim(0)


# glibc's mallopt parameters (malloc.h), its largest mmap threshold on 64-bit systems and its
# default one, and the trim threshold while temporaries are reused.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX, _MMAP_THRESHOLD_DEFAULT = 32 << 20, 128 << 10
_TRIM_WHILE_REUSING = 1 << 30
_reuse_lock = threading.Lock()
_reusing = 0


def _allocator_settings() -> tuple[Any, int, int] | None:
    """glibc and the trim and mmap thresholds this process was started with, where the trim
    threshold was set (``MALLOC_TRIM_THRESHOLD_``: glibc's own dynamic thresholds are then
    off, so that setting them and back changes nothing else); else None."""
    env = os.environ
    if "MALLOC_TRIM_THRESHOLD_" not in env or "glibc.malloc" in env.get("GLIBC_TUNABLES", ""):
        return None
    libc = _libc()
    if libc is None:
        return None
    try:
        trim = int(env["MALLOC_TRIM_THRESHOLD_"])
        mmap = int(env.get("MALLOC_MMAP_THRESHOLD_", _MMAP_THRESHOLD_DEFAULT))
    except ValueError:
        return None
    return libc, trim, mmap


@functools.cache
def _libc() -> Any:
    """glibc through ctypes, or None (another C library or system)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


def _futures(blocks: tuple) -> list | None:
    """The ``distributed`` futures of persisted partitions (Delayed), or None where they are
    not persisted on a ``dask.distributed`` cluster."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    out = []
    for block in blocks:
        futures = distributed.futures_of(block)
        if len(futures) != 1:
            return None
        out.append(futures[0])
    return out


def _on_workers(futures: list, fn: Callable, combine: Callable, sizes: dict) -> Any:
    """``fn`` of the partitions behind ``futures``, added in :func:`_pairwise`'s tree of the
    partitions' order whichever worker holds them.

    The tasks (:func:`_add_plan`): each worker thread reads a contiguous run of the partitions
    its worker holds, in one task per range of at most :data:`FAN_IN` partitions of the tree
    (:func:`_apply_tree`), and returns the largest subtrees of that range it holds whole; a
    task per range adds those (:func:`_add_tree`), and tasks of at most :data:`FAN_IN` inputs
    add the ranges up to the root, which alone comes to the client. Where the last pass's
    statistics of every partition together took at most :data:`CLIENT_BYTES` (``sizes``,
    the source's record of them), the threads' tasks read the whole tree instead and the
    client adds what they return: one scheduler round trip less per pass. Every sum is one
    node of the same tree either way, so where the partitions live, and in which order the
    tasks run, changes no bit of it.
    """
    client = futures[0].client
    holders = client.who_has(futures)
    threads = client.nthreads()
    owners = tuple(_owners([sorted(holders.get(f.key) or ()) for f in futures], threads))
    few = sizes.get("pass", np.inf) <= CLIENT_BYTES
    plan = _add_plan(owners, None if few else FAN_IN)
    here = few and plan[-1].blocks is None  # the client adds the last sums
    add = functools.partial(_add_present, combine)
    done: list[Any] = []
    for task in plan[:-1] if here else plan:
        if task.blocks is not None:
            inputs = [futures[i] for i in task.blocks]
            done.append(client.submit(_apply_tree, fn, combine, task.specs, *inputs, pure=False))
        else:
            inputs = [done[j] for j in task.inputs]
            done.append(client.submit(_add_tree, add, task.specs, *inputs, pure=False))
    if here:
        (total,) = _add_tree(add, plan[-1].specs, *client.gather(done))
    else:
        (total,) = client.gather(done[-1])
    # One measure on both paths (a partition's statistics are the size of their sum), so that
    # the choice does not depend on which path the last pass took.
    sizes["pass"] = _nbytes(total) * len(futures)
    return total


# Most sums one task adds: the tree's ranges of partitions, and the inputs of the tasks above
# them (a task's inputs travel to its worker).
FAN_IN = 32
# Bytes of a pass's statistics (of every partition together) up to which the client adds them
# (their transfer costs less than the scheduler's round trip to a task adding them).
CLIENT_BYTES = 1 << 20


def _nbytes(value: Any) -> float:
    """Bytes of ``value`` pickled (its arrays' buffers counted, not copied); inf where it
    cannot be pickled."""
    buffers: list[pickle.PickleBuffer] = []
    try:
        head = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    except (pickle.PicklingError, TypeError, AttributeError):
        return np.inf
    return float(len(head) + sum(b.raw().nbytes for b in buffers))


def _owners(holders: list[list[str]], threads: dict[str, int]) -> list[tuple]:
    """The thread that reads each partition: ``(worker, slot)``, each worker's partitions in
    contiguous runs (in the partitions' order) of one slot per thread; ``("", i)`` for a
    partition no worker holds (being recomputed after its worker was lost: a task of its
    own)."""
    held: dict[str, list[int]] = {}
    owners: list[tuple] = [("", i) for i in range(len(holders))]
    for i, where in enumerate(holders):
        if where:
            held.setdefault(where[0], []).append(i)
    for worker, parts in held.items():
        slots = max(1, threads.get(worker, 1))
        for j, i in enumerate(parts):
            owners[i] = (worker, j * slots // len(parts))
    return owners


@dataclass(frozen=True)
class _Node:
    """A node of :func:`_pairwise`'s tree: the sum of partitions ``lo`` to ``hi - 1``, and
    the thread that reads them all (None where more than one does)."""

    lo: int
    hi: int
    owner: tuple | None
    left: _Node | None = None
    right: _Node | None = None

    @property
    def size(self) -> int:
        return self.hi - self.lo


@dataclass(frozen=True)
class _Task:
    """One task of :func:`_add_plan`: ``blocks`` (the partitions it reads, for
    :func:`_apply_tree`) or ``inputs`` (earlier tasks whose values it adds, for
    :func:`_add_tree`), and ``specs``: the sums it returns, each an index into its values or
    a pair of specs to add."""

    specs: tuple
    blocks: tuple[int, ...] | None = None
    inputs: tuple[int, ...] = ()


@functools.lru_cache(maxsize=8)
def _add_plan(owners: tuple[tuple, ...], fan_in: int | None = FAN_IN) -> tuple[_Task, ...]:
    """The tasks that add the partitions in :func:`_pairwise`'s tree, where partition ``i``
    is read by the thread ``owners[i]``: each after those whose values it adds, the root's
    last (it returns the root alone).

    The tree is cut into ranges of at most ``fan_in`` partitions (None: the whole tree is one
    range). A range's partitions that one thread reads are one task, which adds the largest
    subtrees of the range that it reads whole; where one task reads the whole range it
    returns the range's sum, else a task adds the range from those subtrees. Above the
    ranges, tasks of at most ``fan_in`` inputs add up to the root. Planned once for each
    placement of the partitions (the passes of a fit find them where they were).
    """
    most = np.inf if fan_in is None else fan_in
    root = _pairwise([_Node(i, i + 1, owner) for i, owner in enumerate(owners)], _join)
    tasks: list[_Task] = []
    made: dict[tuple[int, int], tuple[int, int]] = {}  # node -> (its task, its value's index)
    for part in _cut(root, lambda node: node.size <= most, most=np.inf):
        cells: dict[tuple | None, list[_Node]] = {}  # each node's owner is a thread
        for node in _cut(part, lambda node: node.owner is not None, most=np.inf):
            cells.setdefault(node.owner, []).append(node)
        for whole in cells.values():
            blocks = [i for node in whole for i in range(node.lo, node.hi)]
            position = {(i, i + 1): k for k, i in enumerate(blocks)}
            tasks.append(_Task(tuple(_spec(n, position) for n in whole), blocks=tuple(blocks)))
            made.update({(n.lo, n.hi): (len(tasks) - 1, k) for k, n in enumerate(whole)})
        _reach(part, made, tasks, most)
    _reach(root, made, tasks, most)
    assert made[root.lo, root.hi] == (len(tasks) - 1, 0) and len(tasks[-1].specs) == 1
    return tuple(tasks)


def _join(a: _Node, b: _Node) -> _Node:
    return _Node(a.lo, b.hi, a.owner if a.owner == b.owner else None, a, b)


def _cut(node: _Node, stop: Callable[[_Node], bool], most: float) -> list[_Node]:
    """Nodes under ``node`` that add up to it, in order: ``node`` split (the largest first,
    then the first) until each is a partition or ``stop``s, or there are ``most`` of them."""
    if most == np.inf:  # every node that stops, at once
        out: list[_Node] = []
        stack = [node]
        while stack:
            n = stack.pop()
            if n.left is None or n.right is None or stop(n):
                out.append(n)
            else:
                stack += [n.right, n.left]
        return out
    done: list[_Node] = []
    heap = [(-node.size, node.lo, node)]
    while heap and len(done) + len(heap) < most:
        _, _, n = heapq.heappop(heap)
        if n.left is None or n.right is None or stop(n):
            done.append(n)
            continue
        for child in (n.left, n.right):
            heapq.heappush(heap, (-child.size, child.lo, child))
    return sorted(done + [n for _, _, n in heap], key=lambda n: n.lo)


def _spec(node: _Node, index: dict[tuple[int, int], int]) -> Any:
    """How ``node`` is added from the values of the nodes in ``index`` (node -> the index of
    its value): that index, or the pair of its children's specs."""
    if (node.lo, node.hi) in index:
        return index[node.lo, node.hi]
    assert node.left is not None and node.right is not None
    return (_spec(node.left, index), _spec(node.right, index))


def _reach(
    node: _Node, made: dict[tuple[int, int], tuple[int, int]], tasks: list, most: float
) -> None:
    """Add to ``tasks`` those that add ``node`` from the values already ``made`` (node ->
    (task, index of its value)), of at most ``most`` inputs each."""
    if (node.lo, node.hi) in made:
        return
    parts = _cut(node, lambda n: (n.lo, n.hi) in made, most)
    for part in parts:
        _reach(part, made, tasks, most)
    inputs = tuple(dict.fromkeys(made[n.lo, n.hi][0] for n in parts))
    # The task's values are its inputs' values one after another.
    widths = [len(tasks[j].specs) for j in inputs]
    offsets = dict(zip(inputs, np.cumsum([0, *widths[:-1]]).tolist(), strict=True))
    index = {(n.lo, n.hi): offsets[made[n.lo, n.hi][0]] + made[n.lo, n.hi][1] for n in parts}
    tasks.append(_Task((_spec(node, index),), inputs=inputs))
    made[node.lo, node.hi] = (len(tasks) - 1, 0)


def _apply_tree(fn: Callable, combine: Callable, specs: tuple, *blocks) -> tuple:
    """:func:`_apply` of each of ``blocks`` (partitions one worker holds), then the sums
    ``specs`` of them (:func:`_evaluate`)."""
    with reused_memory():
        values = [_apply(fn, combine, block) for block in blocks]
    add = functools.partial(_add_present, combine)
    return tuple(_evaluate(spec, values, add) for spec in specs)


def _add_tree(add: Callable, specs: tuple, *inputs: tuple) -> tuple:
    """The sums ``specs`` of the values of ``inputs`` (earlier tasks' values, one after
    another)."""
    values = [value for values in inputs for value in values]
    return tuple(_evaluate(spec, values, add) for spec in specs)


def _evaluate(spec: Any, values: list, add: Callable) -> Any:
    """The sum ``spec`` of ``values``: ``values[spec]``, or ``add`` of a pair of sums."""
    if isinstance(spec, int):
        return values[spec]
    left, right = spec
    return add(_evaluate(left, values, add), _evaluate(right, values, add))


def _take(block, rows: np.ndarray | None):
    chunk, w, _ = block
    if rows is None:
        return (chunk if isinstance(chunk, tuple) else np.asarray(chunk, dtype=np.float64)), w
    weights = None if w is None else w[rows]
    if isinstance(chunk, tuple):
        return tuple(np.asarray(c)[rows] for c in chunk), weights
    return np.asarray(chunk[rows], dtype=np.float64), weights


def _tree(parts: list, combine: Callable) -> Any:
    """Add ``parts`` (Delayed) in :func:`_pairwise`'s tree, as tasks (a None, from a
    partition without rows, adds nothing)."""
    from dask import delayed

    return _pairwise(parts, delayed(functools.partial(_add_present, combine), pure=False))


def _pairwise(parts: list, add: Callable) -> Any:
    """``parts`` added pairwise in a balanced tree, keeping their order: the one order in
    which a Dask collection's partitions are added, by any scheduler (:func:`_tree`,
    :func:`_add_plan`)."""
    if not parts:
        raise ValueError("the data source has no partition")
    while len(parts) > 1:
        pairs = [add(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
    return parts[0]


def dask_value_counts(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of a target (a dask Array or Series, or an array) and the rows
    holding each, ``(values, rows)``, counted on the workers in one read; only they come
    back. Sorted where the values can be ordered; values that cannot be ordered (strings
    mixed with numbers, or with None) come back unsorted, in order of appearance, so that
    the caller's label checks refuse them as scikit-learn refuses the same labels in memory
    (``check_classification_targets``), instead of a sort failing on a worker."""
    import dask.dataframe as dd

    if isinstance(values, (dd.Series, dd.DataFrame)):
        values = _plain_numbers(values, target=True).to_dask_array()
    if is_dask_collection(values):
        import dask

        blocks = values.ravel().to_delayed().ravel()
        tally = _merged_tallies(dask.compute(*[dask.delayed(_tally)(block) for block in blocks]))
    else:
        tally = _tally(np.asarray(values).ravel())
    return _sorted_tally(tally)


def _sorted_tally(tally: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(values, rows)`` in the order of ``values`` where they can be ordered, else as is."""
    values, rows = tally
    try:
        order = np.argsort(values, kind="stable")
    except TypeError:
        return values, rows
    return values[order], rows[order]


def _plain_numbers(values: Any, target: bool = False) -> Any:
    """A Dask Series (or DataFrame) of nullable or pyarrow-backed numbers or booleans (Int64,
    Float64, boolean, int64[pyarrow]) as float64, pd.NA as NaN, as scikit-learn reads the same
    column in memory; their arrays would otherwise be of objects (labels of an unknown type).
    Other columns as they are. A ``target`` (y) of integers that float64 rounds is refused
    as each partition is read (:func:`~emkit.backend.integers.refuse_rounded_target`)."""
    from pandas.api.types import is_bool_dtype, is_extension_array_dtype, is_numeric_dtype

    dtypes = [values.dtype] if values.ndim == 1 else list(values.dtypes)
    if dtypes and all(
        is_extension_array_dtype(t) and (is_numeric_dtype(t) or is_bool_dtype(t)) for t in dtypes
    ):
        if target and values.ndim == 1:
            values = values.map_partitions(refuse_rounded_target, "a partition", meta=values._meta)
        return values.astype(np.float64)
    return values


def _tally(values: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The distinct entries of ``values`` (1-D) in order of first appearance, without
    comparing them by order (``pandas.factorize``: NaN, None and pd.NA counted as one), and
    the rows holding each: of ``values``, or the sum of ``rows`` (one count per entry) where
    given. Strings (which pandas would turn into objects) sorted, as ``numpy.unique``."""
    import pandas as pd

    values = np.asarray(values).ravel()
    if values.dtype.kind not in "biufcmMO":
        distinct, codes = np.unique(values, return_inverse=True)
    else:
        codes, distinct = pd.factorize(values, use_na_sentinel=False)
        distinct = np.asarray(distinct)
    counts = np.bincount(np.ravel(codes), weights=rows, minlength=distinct.shape[0])
    return distinct, counts.astype(np.int64)


def _merged_tallies(tallies: Any) -> tuple[np.ndarray, np.ndarray]:
    """One :func:`_tally` of the rows of several (e.g. of each partition)."""
    tallies = list(tallies)
    if not tallies:
        return np.empty(0), np.zeros(0, dtype=np.int64)
    values = np.concatenate([values for values, _ in tallies])
    return _tally(values, np.concatenate([rows for _, rows in tallies]))
