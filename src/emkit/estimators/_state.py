"""A fit that raises leaves its estimator as it found it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def restores_on_error(method: F) -> F:
    """Decorate a method that sets fitted attributes (``fit``, ``fit_predict``): where it
    raises (any exception, ``KeyboardInterrupt`` from a callback included), the instance's
    attributes are put back as they were before the call. A failed refit then keeps the
    previous fit (a warm start included) and a failed first fit leaves the estimator
    unfitted, as in scikit-learn, instead of a mix of the two (``n_features_in_`` of the new
    rows beside ``means_`` of the old).

    The snapshot is a shallow copy of ``__dict__``: a fit replaces its attributes rather than
    writing into them (models are values), so the old arrays are kept, never copied. What the
    fit wrote outside the estimator (a checkpoint file, a ``RandomState`` passed as
    ``random_state``) is left as it is."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        before = dict(vars(self))
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            state = vars(self)
            state.clear()
            state.update(before)
            raise

    return wrapper  # type: ignore[return-value]
