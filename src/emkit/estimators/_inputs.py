"""The data an estimator fits and predicts on: an array validated in memory, or a Dask
collection left on its workers (:mod:`emkit.backend.dask_source`)."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from emkit.backend.dask_source import DaskSource, as_dask_array, dask_source, is_dask_collection
from emkit.backend.inputs import start_rows
from emkit.backend.sources import DataSource, array_source
from emkit.estimators._validation import check_rows, check_weights

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
) -> tuple[DataSource, np.ndarray, np.ndarray | None]:
    """The source to fit, and the rows (and weights) to start from.

    In memory: ``X`` validated (:func:`~emkit.estimators._validation.check_rows`), read in
    blocks, and all of it to start from. A Dask collection: its partitions checked on the
    workers (finite, then ``check(x)``), and a sample of at most :data:`INIT_ROWS` rows drawn
    there (all rows where there are no more, so that the start is the in-memory one).
    """
    if not is_dask_collection(X):
        x = check_rows(estimator, X, reset=True, min_rows=min_rows, nan_hint=nan_hint)
        w = check_weights(sample_weight, x)
        return array_source(x, w), x, w
    source = dask_fit_source(estimator, X, sample_weight, nan_hint=nan_hint, check=check)
    if source.n_rows < min_rows:
        raise ValueError(
            f"{type(estimator).__name__} needs at least {min_rows} rows (samples) here; "
            f"got n_samples = {source.n_rows}. Use fewer components or more data."
        )
    x, w = start_rows(source, INIT_ROWS, rng)
    return source, x, w


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
) -> DaskSource:
    """The checked source of a Dask collection ``X`` (and ``y``, weights partitioned alike);
    sets ``n_features_in_``."""
    if getattr(estimator, "device", None) is not None:
        raise ValueError(
            f"{type(estimator).__name__}(device={estimator.device!r}) cannot fit a Dask "
            "collection: its partitions stay on the Dask workers. Leave device=None."
        )
    source = dask_source(X, sample_weight, y)
    estimator.n_features_in_ = source.n_features
    if hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    hint = nan_hint or "drop or impute them before fitting"
    return source.checked(
        source.n_features, allow_nan=allow_nan, nan_hint=hint, check=check, make=make
    )


def per_row(
    width: Callable[[Any], int] | None = None,
    dtype: Any = np.float64,
) -> Callable:
    """Decorate ``method(self, X, ...)``, whose result has one row per row of ``X``, so that on
    a Dask collection it returns a lazy dask Array with the partitions of ``X``.

    Parameters
    ----------
    width : None for a result of shape (n,), else ``width(self)`` its columns.
    dtype : the result's dtype, or a callable ``dtype(self)``.
    """

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(self, X, *args, **kwargs):
            if not is_dask_collection(X):
                return method(self, X, *args, **kwargs)
            check_is_fitted(self)
            x = as_dask_array(X)
            if x.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {x.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input."
                )
            out = np.dtype(dtype if isinstance(dtype, (type, np.dtype, str)) else dtype(self))
            fn = functools.partial(_on_block, method, _shippable(self), args, kwargs)
            if width is None:
                return x.map_blocks(fn, drop_axis=1, dtype=out, meta=np.empty((0,), out))
            chunks = (x.chunks[0], (int(width(self)),))
            return x.map_blocks(fn, chunks=chunks, dtype=out, meta=np.empty((0, 0), out))

        return wrapper

    return decorate


def _on_block(method: Callable, estimator, args: tuple, kwargs: dict, block: np.ndarray):
    return method(estimator, block, *args, **kwargs)


def _shippable(estimator):
    """A shallow copy of ``estimator`` to send to the workers, without attributes that are
    themselves Dask collections (a lazy ``labels_``, whose graph would hold the estimator)."""
    plain = copy.copy(estimator)
    for name, value in list(vars(plain).items()):
        if is_dask_collection(value):
            delattr(plain, name)
    return plain
