"""Checks a data source applies to its chunks as they are read."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emkit.backend.sources import SourceOf

# Beyond this magnitude the squares and sums the statistics are made of overflow float64;
# data all below the smaller one have squares that underflow (to subnormals, then 0): their
# variances come out 0 and every fit collapses (GaussianMixture on data times 1e-170 put both
# components on one mean).
MAX_MAGNITUDE = 1e150
MIN_MAGNITUDE = 1e-150
# Frequency weights multiply the squares the statistics sum (and the log densities): a total
# weight beyond this leaves float64 no room for squares beyond 1e8 (40 weights of 1e306,
# total 4e307, made GaussianMixture's covariances inf). Weights are rescaled at no cost.
MAX_TOTAL_WEIGHT = 1e300


@dataclass(frozen=True)
class CheckedChunks(SourceOf):
    """A source whose every chunk is checked once per pass: 2-D, ``n_features`` wide, finite.

    Attributes
    ----------
    source : the chunk source checked.
    columns : columns every chunk must have (``n_features``).
    allow_nan : NaN marks a missing value (inf stays an error). A row with no observed value
        is then an error, or, with ``drop_empty_rows``, left out with its weight (it carries
        no information); ``total_weight`` and ``n_rows`` still count it.
    drop_empty_rows : see ``allow_nan``.
    nan_hint : where NaN is an error, what the message suggests instead.

    The first pass also checks the values' magnitude, as a fit in memory does
    (:func:`magnitude_refusal`): a chunk with a value beyond :data:`MAX_MAGNITUDE` is refused
    as it is read, data all below :data:`MIN_MAGNITUDE` at the end of that pass (before EM
    starts: the pass that draws its starting rows reads every chunk).
    """

    source: Any
    columns: int
    allow_nan: bool = False
    drop_empty_rows: bool = False
    nan_hint: str = "drop or impute them before fitting"
    # set once a whole pass has had its magnitudes checked
    _magnitude_checked: list = field(default_factory=list, repr=False, compare=False)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        row = 0
        check = not self._magnitude_checked
        largest = 0.0
        for x, w in self.source:
            if x.ndim != 2 or x.shape[1] != self.n_features:
                raise ValueError(
                    f"the chunk at row {row} has shape {x.shape}; every chunk must be 2-D with "
                    f"{self.n_features} columns (features)"
                )
            start, row = row, row + x.shape[0]
            if check and x.size:
                chunk_largest = largest_magnitude(x)
                if MAX_MAGNITUDE < chunk_largest < np.inf:  # inf: refused as such below
                    refusal = magnitude_refusal(chunk_largest, f"the chunk at row {start}")
                    raise ValueError(refusal)
                largest = max(largest, chunk_largest)
            if np.isfinite(x).all():
                yield x, w
                continue
            if np.isinf(x).any():
                where = f"the chunk at row {start}"
                raise ValueError(
                    inf_refusal(
                        x,
                        self.source.feature_names,
                        allow_nan=self.allow_nan,
                        where=where,
                        first=start,
                    )
                )
            if not self.allow_nan:
                raise ValueError(
                    f"the chunk at row {start} contains "
                    f"{nan_report(x, self.source.feature_names)}; {self.nan_hint}"
                )
            empty = np.isnan(x).all(axis=1)  # (m,)
            if empty.any() and not self.drop_empty_rows:
                raise ValueError(
                    f"{int(empty.sum())} rows of the chunk at row {start} have no observed value "
                    f"(every entry is NaN; the first is row {start + int(np.argmax(empty))}). "
                    "They carry no information; drop them first."
                )
            if empty.any():
                x, w = x[~empty], None if w is None else w[~empty]
            if x.shape[0]:
                yield x, w
        if check:
            refusal = magnitude_refusal(largest, "X")
            if refusal:
                raise ValueError(refusal)
            self._magnitude_checked.append(True)

    @property
    def n_features(self) -> int:
        return self.columns


def largest_magnitude(x: np.ndarray) -> float:
    """The largest absolute value of ``x`` (not empty), NaN skipped (0 where all are NaN)."""
    # fmax / fmin skip NaN (missing values) and need no temporary the size of x.
    extremes = np.abs([np.fmax.reduce(x, axis=None), np.fmin.reduce(x, axis=None)])
    return float(np.fmax.reduce(extremes)) if not np.isnan(extremes).all() else 0.0


def magnitude_refusal(
    largest: float, name: str = "X", fitting: bool = True, variances: bool = True
) -> str | None:
    """Why data ``name`` whose largest absolute value is ``largest`` cannot be fitted, or
    None: a value so large that its square overflows float64, or, for rows to fit
    (``fitting``), values, not all 0, all so small that their squares underflow;
    ``variances``: the fit's variances come from them (else the message gives the reason
    that holds without variances: the start and the fit's record of its rows square the
    values too)."""
    # Without variances the squares are still formed, by the start (which standardises the
    # rows: underflowed, it cannot tell components apart) and the fit's record of its rows.
    why = (
        ""
        if variances
        else " (the start standardises the rows, and the fit keeps their spread to "
        "recognise them in estimate())"
    )
    if largest > MAX_MAGNITUDE:
        return (
            f"{name} holds values as large as {largest:.3g}; beyond {MAX_MAGNITUDE:.0e} their "
            f"squares overflow float64{why} and the fit would be inf or NaN. Rescale the data "
            f"first (e.g. divide by {largest:.0e}, or use sklearn.preprocessing.StandardScaler)"
        )
    if fitting and 0.0 < largest < MIN_MAGNITUDE:
        result = "the variances would be 0" if variances else "the components would start alike"
        return (
            f"{name} holds values no larger than {largest:.3g}; below {MIN_MAGNITUDE:.0e} their "
            f"squares underflow float64{why} and {result}. Rescale the data first (e.g. "
            f"multiply by {_factor(largest)}, or use sklearn.preprocessing.StandardScaler)"
        )
    return None


def _factor(small: float) -> str:
    """About 1 / ``small`` as text: two powers of ten where the reciprocal overflows."""
    with np.errstate(over="ignore", divide="ignore"):
        inverse = 1.0 / small
    if np.isfinite(inverse):
        return f"{inverse:.0e}"
    return f"1e+300, then by 1e+{-math.floor(math.log10(small)) - 300}"


def check_weight_total(total: float) -> None:
    """Raise the ValueError for frequency weights (``sample_weight``) that sum to ``total``,
    each already checked finite and non-negative: a sum of zero, or one beyond
    :data:`MAX_TOTAL_WEIGHT` (40 weights of 1e307 sum to inf)."""
    if not total <= MAX_TOTAL_WEIGHT:
        overflow = (
            "inf: each weight is finite, but their sum overflows float64"
            if total == np.inf
            else f"{total:.3g}, beyond {MAX_TOTAL_WEIGHT:.0e}: the fit's statistics, the "
            "weights times the data's squares, would overflow float64"
        )
        raise ValueError(
            f"sample_weight sums to {overflow}. Divide the weights by a common factor (e.g. "
            "sample_weight / sample_weight.max()): the fitted parameters depend on their "
            "ratios alone, except that their total counts as the number of rows against "
            "reg_covar or a prior, and in the log-likelihood, the criteria and the standard "
            "errors"
        )
    if not total > 0:
        raise ValueError("sample_weight sums to zero: at least one row needs a positive weight")


def add_weighted_sums(a: Any, b: Any) -> Any:
    """``a + b``, two partitions' sums weighted by ``sample_weight`` (one of them the
    weights' own sum), without numpy's RuntimeWarning where they overflow: the caller
    refuses such weights with :func:`check_weight_total` once every partition is added."""
    with np.errstate(over="ignore", invalid="ignore"):  # inf - inf: the same weights
        return a + b


def nan_report(x: np.ndarray, names: Any = None) -> str:
    """Where the NaN of ``x`` (n, d) are: "NaN in 3 of 100 rows (columns [0, 2])", or with
    the columns' ``names`` (a DataFrame's), "(columns ['income', 'debt'])"."""
    nan = np.isnan(x)
    at = np.flatnonzero(nan.any(axis=0)).tolist()
    columns = [str(j) if names is None else repr(str(names[j])) for j in at]
    shown = ", ".join(columns[:10]) + (", ..." if len(columns) > 10 else "")
    return f"NaN in {int(nan.any(axis=1).sum())} of {x.shape[0]} rows (columns [{shown}])"


def inf_refusal(
    x: np.ndarray,
    names: Any = None,
    *,
    allow_nan: bool,
    where: str = "Input X",
    first: int = 0,
    rows_of: str = "rows",
) -> str:
    """What a ValueError says where ``x`` (n, d) holds an infinity: in which rows (numbered
    from ``first``; ``rows_of`` "its rows" where they are numbered within a part of ``X``)
    and columns (by ``names`` where given, as :func:`nan_report`), and what to do: where NaN
    marks a missing value (``allow_nan``), that inf does not."""
    inf = np.isinf(x)
    rows = (np.flatnonzero(inf.any(axis=1)) + first).tolist()
    at = np.flatnonzero(inf.any(axis=0)).tolist()
    columns = [str(j) if names is None else repr(str(names[j])) for j in at]

    def listed(items: list) -> str:
        return ", ".join(map(str, items[:10])) + (", ..." if len(items) > 10 else "")

    todo = (
        "inf is not a missing value (NaN is): set them to NaN to impute them "
        "(X[np.isinf(X)] = np.nan), or drop those rows"
        if allow_nan
        else "drop those rows, or replace the values with finite ones"
    )
    return (
        f"{where} contains infinity: infinite values in {len(rows)} of {x.shape[0]} rows "
        f"({rows_of} [{listed(rows)}]; columns [{listed(columns)}]); {todo}"
    )
