"""Input checks shared by the closed-form estimators of :mod:`emkit.mle` and :mod:`emkit.bayes`.

Each raises a ``ValueError`` that says what is wrong with the data and, where it can, what to do.
"""

from __future__ import annotations

import dataclasses
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from emkit.backend.integers import EXACT_INTEGERS, refuse_inexact_integers


def real_numbers(x: Any, name: str, what: str) -> None:
    """Raise the estimators' ValueError where ``x`` holds complex numbers, dates, durations or
    times (:func:`~emkit.estimators._validation.refuse_times_and_complex`), which NumPy's
    conversion to float would keep as their real part (with a ComplexWarning) or as counts of
    their unit. ``what`` names the function, ``name`` the argument."""
    from emkit.estimators._validation import refuse_times_and_complex

    typed = any(hasattr(x, a) for a in ("dtype", "dtypes", "schema"))
    refuse_times_and_complex(what, x if typed else np.asarray(x), label=name)


def finite_array(x: Any, name: str, ndim: int, what: str | None = None) -> np.ndarray:
    """``x`` as a finite float64 array of ``ndim`` dimensions (1 or 2).

    A column (n, 1) is accepted where a vector is asked for, and a vector (n,) where a matrix is
    (as n rows of one column).

    Parameters
    ----------
    x : array-like.
    name : the argument's name, for the error message.
    ndim : 1 or 2.
    what : the function's name, for the error message (complex data, dates).

    Returns
    -------
    array of shape (n,) or (n, d), dtype float64.
    """
    real_numbers(x, name, what or name)
    refuse_inexact_integers(x, name, what or name)
    try:
        if isinstance(x, (pd.DataFrame, pd.Series)):  # pd.NA of nullable columns: missing
            arr = x.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must hold numbers; {exc}. Convert it to a numeric array first (for text "
            "columns, pd.to_numeric or a mapping of categories to codes)"
        ) from None
    if ndim == 1 and arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if ndim == 2 and arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    n_nan = int(np.isnan(arr).sum())
    if n_nan:
        raise ValueError(f"{name} has {n_nan} NaN value(s); drop or impute them first")
    n_inf = int(np.isinf(arr).sum())
    if n_inf:
        raise ValueError(f"{name} has {n_inf} infinite value(s); correct them or drop them first")
    return arr


def rows_aligned(what: str, **values: Any) -> None:
    """Raise where two or more of ``values`` are pandas objects whose indexes differ: their
    rows are paired by position, as arrays', which pairs the wrong rows where the indexes
    say otherwise (statsmodels refuses the same)."""
    indexed = [
        (name, v.index)
        for name, v in values.items()
        if hasattr(getattr(v, "index", None), "equals")
    ]  # a list's .index is a method
    for name, index in indexed[1:]:
        first, first_index = indexed[0]
        if first_index.equals(index):
            continue
        if permuted(first_index, index):
            raise ValueError(
                f"{what}: {first} and {name} are pandas objects whose indexes differ (the "
                "same labels in another order), and rows are paired by position: align them "
                f"first (e.g. {name} = {name}.loc[{first}.index]), or pass arrays"
            )
        raise ValueError(
            f"{what}: {first} and {name} are pandas objects whose indexes differ (they hold "
            f"other labels), and rows are paired by position: where {name}'s rows are "
            f"already {first}'s in order (an index reset on one of them), pass "
            f"{name}.to_numpy(); else select the rows that belong together first (e.g. by a "
            "shared key)"
        )


def permuted(a: Any, b: Any) -> bool:
    """Whether the pandas indexes ``a`` and ``b`` hold the same labels in some order (each
    label as often); False where they cannot be sorted (labels of mixed types)."""
    if len(a) != len(b):
        return False
    try:
        return bool(a.sort_values().equals(b.sort_values()))
    except TypeError:
        return False


def at_least(n: int, minimum: int, what: str) -> None:
    """Raise unless there are at least ``minimum`` observations (``what`` names the estimator)."""
    if n < minimum:
        raise ValueError(f"{what} needs at least {minimum} observation(s), got {n}")


def check_level(level: Any) -> None:
    """Raise unless ``level``, an interval's coverage, is a number strictly between 0 and 1
    (text such as "0.9" is refused, not compared)."""
    if not isinstance(level, Real) or isinstance(level, (bool, np.bool_)):
        raise ValueError(
            f"level must be a number strictly between 0 and 1, such as 0.9; got "
            f"{type(level).__name__} {level!r}"
        )
    if not 0 < float(level) < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")


def category_count(n_categories: Any) -> int:
    """``n_categories`` (K) as an int, or a ValueError unless it is a positive integer (a
    float such as 3.0 is read as 3; 2.7, 0, -3, True and text are refused)."""
    number = isinstance(n_categories, Real) and not isinstance(n_categories, (bool, np.bool_))
    if not (number and n_categories >= 1 and n_categories % 1 == 0):
        raise ValueError(f"n_categories must be a positive integer, got {n_categories!r}")
    return int(n_categories)


# Categories a categorical estimate or posterior takes at most: its covariance is K x K
# (128 MiB at this K), and integer labels far beyond the rows' count are ids or values, not
# codes.
MAX_CATEGORIES = 4096


def category_limit(count: float, labels: np.ndarray, what: str, given: bool) -> None:
    """Raise where ``count`` categories (K: ``n_categories`` where ``given``, else the largest
    of the integer ``labels`` (n,) plus one) are more than :data:`MAX_CATEGORIES`, saying how
    many distinct labels there are and how to recode them; ``what`` names the function."""
    if count <= MAX_CATEGORIES:
        return
    largest = f"{int(count) - 1}" if count < EXACT_INTEGERS else f"{count - 1:.6g}"
    source = (
        f"n_categories={int(count)}"
        if given
        else f"labels up to {largest} make K = max + 1 categories"
    )
    raise ValueError(
        f"{what}: {source}, with {np.unique(labels).size} distinct label(s) observed; it takes "
        f"at most {MAX_CATEGORIES} categories (its covariance is K x K). Labels are codes 0, "
        "1, ..., K - 1: recode other numbers (ids, measured values) with "
        "np.unique(x, return_inverse=True)[1], or pass them as text, whose distinct values "
        "name the categories"
    )


def nonnegative_integers(x: np.ndarray, name: str, what: str) -> None:
    """Raise unless every value of ``x`` is a non-negative integer (counts, labels)."""
    bad = (x < 0) | (x != np.round(x))
    if bad.any():
        raise ValueError(
            f"{what} needs non-negative integer {name}; got {int(bad.sum())} value(s) "
            f"such as {x[bad][0]:g}"
        )


def named_labels(x: Any) -> tuple[np.ndarray, list] | None:
    """Codes (n,) of named labels and the categories they index; None for numbers.

    A pandas ``Categorical`` (or Series of dtype ``category``) declares its categories, in
    their order, observed or not; strings name theirs, the distinct names sorted. Missing
    values (None, NaN, ``pd.NA``) are refused.
    """
    if isinstance(getattr(x, "dtype", None), pd.CategoricalDtype):
        declared = pd.Categorical(x)
        codes = np.asarray(declared.codes)
        missing = codes < 0
        categories = declared.categories.tolist()
    else:
        names = np.asarray(x)
        if names.dtype.kind not in "OUS":
            return None
        names = names.ravel() if names.ndim == 2 and names.shape[1] == 1 else names
        if names.ndim != 1:
            raise ValueError(f"x must be 1-dimensional, got shape {names.shape}")
        missing = np.asarray(pd.isna(names))
        if not missing.any():
            unique, codes = np.unique(names.astype(str), return_inverse=True)
            categories = unique.tolist()
    if missing.any():
        raise ValueError(
            f"x has {int(missing.sum())} missing value(s) (None, NaN or pd.NA); drop them first"
        )
    return codes, categories


def squares_finite(
    result: Any, values: Any, what: str, quantity: str, advice: str = "rescale the data first"
) -> None:
    """Raise where ``result`` (a variance, a scatter, a posterior scale: a float or an array,
    or a list of them) is not finite because the largest of ``values`` (the data, and a prior
    mean) overflow float64 when squared or summed; ``quantity`` names ``result`` in the
    message, ``advice`` says what to do (for data that a factor may not rescale: counts)."""
    if not all(
        np.all(np.isfinite(part)) for part in (result if isinstance(result, list) else [result])
    ):
        largest = max(float(np.max(np.abs(v), initial=0.0)) for v in values)
        raise ValueError(
            f"{what}: values as large as {largest:.3g} overflow float64 when squared or summed "
            f"({quantity} is not finite); {advice}"
        )


# What to do about counts whose sum overflows float64: a factor would change the model.
HUGE_COUNTS = (
    "counts this large are far beyond 2**53, up to which float64 holds integers exactly, so "
    "they are measurements more than counts: rescale them and fit a continuous family "
    "(mle.normal or mle.gamma)"
)


def unit_stats(
    family: Any,
    x: np.ndarray,
    what: str,
    quantity: str = "the statistics",
    advice: str = "rescale the data first",
    used: tuple[str, ...] | None = None,
) -> Any:
    """The family's statistics of the values ``x`` (n,), one feature, with unit weights,
    checked (:func:`squares_finite`: ``what`` names the estimator, ``quantity`` the
    statistics, ``advice`` says what to do): values near float64's limit overflow their sums,
    and the family would blame a parameter instead ("rate must be positive; got [0.0]") or
    give NaN. ``used``: the statistics' fields the caller reads (all where None); another
    one that overflows is not the caller's concern (the scatter of a mean's posterior)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # reported below
        data = family.suff_stats(x[:, None], np.ones(x.size))
    names = used or [f.name for f in dataclasses.fields(data)]
    fields = [getattr(data, name) for name in names]
    squares_finite(fields, [x], what, quantity, advice)
    return data
