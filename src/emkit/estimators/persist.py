"""Model files: JSON holding parameters and fitted arrays, read back bit for bit, no pickle.

Floats are written with Python's shortest round-trip repr, so every float64 comes back
exactly; arrays carry their dtype and shape. Loading builds only registered estimator
classes from plain values: a model file cannot run code.
"""

from __future__ import annotations

import functools
import json
import numbers
import os
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from emkit.atomic import write_text
from emkit.estimators._device import float_dtype
from emkit.estimators.model_check import (
    FORMAT,
    FORMAT_VERSION,
    check_document,
    check_fitted,
    check_output,
    field_error,
    read_document,
)
from emkit.exceptions import ModelFileError, warn_user

MAX_FILE_BYTES = 1 << 30  # a model file larger than 1 GiB is refused unless asked for
MODEL_CLASSES: dict[str, Any] = {}  # class name -> estimator class
# Fitted attributes a model may not have (feature_names_in_: fitted on an array) or a file
# may lack (lower_bound_, lower_bounds_, GaussianImputer's weighted_: files written before
# they existed).
# Parameters that are code (a KMeans init function), which a model file never holds.
FUNCTIONS = (types.FunctionType, types.MethodType, types.BuiltinFunctionType, functools.partial)
OPTIONAL_ATTRIBUTES = ("feature_names_in_", "lower_bound_", "lower_bounds_", "weighted_")


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype == object:
        return {
            "__array__": True,
            "dtype": "str",
            "shape": list(value.shape),
            "data": [str(v) for v in value.ravel()],
        }
    if isinstance(value, np.ndarray):
        return {
            "__array__": True,
            "dtype": value.dtype.str,
            "shape": list(value.shape),
            "data": value.ravel().tolist(),
        }
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot write {type(value).__name__} to a model file")


class ModelFileMixin:
    """``save(path)`` for estimators that list their ``_fitted_attributes``."""

    _fitted_attributes: tuple[str, ...] = ()
    # Fitted attributes with one value per training row (KMeans' labels_): results of the
    # fit, not the model. Written where they are in memory; left out where the fit on a Dask
    # collection left them lazy (a file that holds the model, not a pass over all the rows
    # and one label each), and then absent from the loaded model.
    _per_row_attributes: tuple[str, ...] = ()
    # Fitted attributes added after the class's model files were first written: a file
    # written before lacks them, and ``_restore_fitted`` gives them the values its fit had.
    _later_attributes: tuple[str, ...] = ()
    get_params: Callable[..., dict[str, Any]]  # scikit-learn's BaseEstimator provides it

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        MODEL_CLASSES[cls.__name__] = cls

    @classmethod
    def _params_from_file(cls, params: dict[str, Any]) -> dict[str, Any]:
        """The constructor's parameters from those ``save`` wrote: as written."""
        return params

    @classmethod
    def _params_to_file(cls, params: dict[str, Any]) -> dict[str, Any]:
        """The constructor's parameters as ``save`` writes them: as they are."""
        return params

    def _restore_fitted(self) -> None:
        """Rebuild, after :func:`load` has set and checked the fitted attributes, what a fit
        keeps beside them (caches, objects derived from them); nothing by default. Raises
        ``ValueError("attribute: what is wrong")`` where the file's values cannot hold
        together."""

    def _validate_params(self) -> None:
        """scikit-learn's parameter validation, refusing too a bool where a number is asked
        (``n_components=True`` is an int to Python, never what the user meant)."""
        from sklearn.utils._param_validation import Interval, InvalidParameterError

        super()._validate_params()  # type: ignore[misc]
        for name, constraints in getattr(self, "_parameter_constraints", {}).items():
            value = getattr(self, name, None)
            if not isinstance(value, (bool, np.bool_)) or not isinstance(constraints, list):
                continue
            if "boolean" not in constraints and any(isinstance(c, Interval) for c in constraints):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {type(self).__name__} must be a number, not "
                    f"the bool {value!r}"
                )

    def save(self, path: str | Path) -> None:
        """Write the fitted model to ``path`` as JSON (see :func:`emkit.load`), whole
        (:func:`emkit.atomic.atomic_write`).

        The file holds the model: its parameters and fitted values. A per-row attribute that
        a fit on a Dask collection left lazy (KMeans' ``labels_``, a dask Array with one label
        per training row) is not computed into it: the model loaded from the file has no
        such attribute (``predict`` on the training rows gives the labels).

        Missing folders on the way are created, as ``fit(checkpoint=...)`` and ``emkit fit
        --out`` create theirs. A symbolic link keeps pointing at the file, which is replaced;
        an empty path or a folder is refused (``ValueError``, ``IsADirectoryError``).

        The file is checked as :func:`emkit.load` checks it before it is written: a model it
        would refuse (parameters changed by ``set_params`` after ``fit``, so that they no
        longer describe the fitted values) raises ``ValueError`` and nothing is written.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        if not os.fspath(path):
            raise ValueError(
                f"{type(self).__name__}.save: name a file to write (the path is empty)"
            )
        params = {k: v for k, v in self.get_params(deep=False).items() if k not in ("callback",)}
        params = self._params_to_file(params)
        for name, value in params.items():
            if isinstance(value, FUNCTIONS):  # a model file never holds code
                raise TypeError(
                    f"{type(self).__name__}.save: the parameter {name} is a function, which a "
                    f"model file cannot hold (files hold values, never code); set_params({name}="
                    "...) to a value before saving"
                )
        if "random_state" in params:
            params["random_state"] = _file_seed(type(self).__name__, params["random_state"])
        if params.get("device") is not None:  # a torch.device is written as its name
            params["device"] = str(params["device"])
        if params.get("dtype") is not None:  # a torch dtype too is written as NumPy's name
            params["dtype"] = float_dtype(params["dtype"]).name
        document = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "class": type(self).__name__,
            "params": _encode(params),
            # set_output's container per method, as pickle and sklearn.clone keep it
            **({"output": dict(output)} if (output := _output_config(self)) else {}),
            "attributes": {
                a: _encode(getattr(self, a))
                for a in self._fitted_attributes + OPTIONAL_ATTRIBUTES
                if hasattr(self, a) and not _lazy_per_row(self, a)
            },
        }
        # the checks load makes, on the values the file will hold (JSON gives them back
        # exactly), before writing: never a file that load refuses. Per-row results of the
        # fit (KMeans' labels_) are left out of the check, the bulk of a large model's file.
        attributes = document["attributes"]
        checked = {a: v for a, v in attributes.items() if a not in self._per_row_attributes}
        try:
            _from_document(Path(path), {**document, "attributes": checked})
        except ModelFileError as exc:
            problem = str(exc).removeprefix(f"{Path(path)}: ")
            raise ValueError(
                f"{type(self).__name__}.save: nothing written to {path}: emkit.load would "
                f"refuse the file ({problem}). Where set_params changed the parameters after "
                "fit, they no longer describe the fitted values: fit again, or set them back, "
                "before saving."
            ) from None
        text = json.dumps(document, indent=1)
        if len(text) > MAX_FILE_BYTES:  # ASCII (json.dumps escapes the rest): one byte each
            warn_user(
                f"{type(self).__name__}.save: the model file is {len(text) / 2**30:.2f} GiB, "
                f"above the {MAX_FILE_BYTES / 2**30:.0f} GiB emkit.load reads by default: read "
                f"it with emkit.load(path, max_bytes={len(text)}) (it holds the "
                "parameters and fitted arrays whole, never a part of them)",
                UserWarning,
            )
        folder = Path(os.path.realpath(path)).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):  # a file in the way: atomic_write says
            pass
        write_text(path, text)


def plain_value(value: Any) -> Any:
    """A parameter as a model file writes it: a family or a prior as its ``to_dict`` form,
    a list of them as a list of those forms; other values as they are."""
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    return value.to_dict() if hasattr(value, "to_dict") else value


def _file_seed(name: str, seed: Any) -> int | None:
    """``random_state`` as a model file holds it: an integer (a NumPy one too) as a Python
    int; a ``RandomState`` or ``Generator``, whose state a file does not hold, as None, with
    a warning that the loaded model's refit will not repeat this one's draws."""
    if seed is None:
        return None
    if isinstance(seed, numbers.Integral):
        return int(seed)
    warn_user(
        f"{name}.save: random_state is a {type(seed).__name__}, whose state a model file "
        "does not hold; it is written as None, so a refit of the loaded model will not "
        "repeat this fit's random draws. Pass an int random_state to make it repeatable.",
        UserWarning,
    )
    return None


def load(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES):
    """Read a model written by ``save``; returns the fitted estimator.

    The file is checked before anything is built from it: only a regular file of at most
    ``max_bytes`` bytes is read (never a pipe or a device), it must be UTF-8 JSON in emkit's
    format and version, every array must have an allowed dtype and a shape that matches its
    data, parameters must pass the estimator's own validation, and fitted values must be
    present (never null), finite and consistent (weights on the simplex, positive-definite
    covariances and precisions that hold the structure ``covariance_type`` names, shapes
    matching ``n_components`` and ``n_features_in_``, components of the listed families with
    parameters for ``n_features_in_`` columns inside their domains). A ``set_output`` container
    ("default", "pandas" or "polars" for ``transform``) is kept.

    Parameters
    ----------
    path : str or Path, a file written by the estimator's ``save``.
    max_bytes : int, the largest file read, in bytes (1 GiB by default).

    Returns
    -------
    estimator
        The fitted estimator, of the class that saved the file.

    Raises
    ------
    ModelFileError
        (a ``ValueError``) naming the file and the first field that is wrong.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import emkit
    >>> X = np.random.default_rng(0).normal(size=(100, 2))
    >>> gm = emkit.GaussianMixture(2, random_state=0).fit(X)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     gm.save(Path(tmp) / "model.json")  # plain JSON: no pickle
    ...     again = emkit.load(Path(tmp) / "model.json")
    ...
    >>> np.array_equal(again.means_, gm.means_), np.array_equal(again.predict(X), gm.predict(X))
    (True, True)
    """
    if not os.fspath(path):
        raise ModelFileError("no model file named (the path is empty)")
    path = Path(path)
    return _from_document(path, read_document(path, max_bytes))


def _from_document(path: Path, document: Any) -> Any:
    """The fitted estimator a model document holds, checked as :func:`load` describes;
    ``path`` names the file in the errors."""
    cls, params, attributes = check_document(path, document, MODEL_CLASSES, OPTIONAL_ATTRIBUTES)
    try:
        estimator = cls(**cls._params_from_file(params))
        estimator._validate_params()
    except (TypeError, ValueError) as exc:
        raise ModelFileError(
            f"{path}: field 'params': a damaged {cls.__name__} model file ({exc})"
        ) from None
    for name, value in attributes.items():
        setattr(estimator, name, value)
    check_fitted(path, estimator)
    try:
        estimator._restore_fitted()
    except ValueError as exc:
        raise field_error(path, exc) from None
    for method, container in check_output(path, document, estimator).items():
        estimator.set_output(**{method: container})
    return estimator


def _lazy_per_row(estimator: ModelFileMixin, name: str) -> bool:
    """``name`` is a per-row attribute of ``estimator`` that its fit left lazy (a Dask
    collection), which a model file leaves out."""
    from emkit.backend.dask_source import is_dask_collection

    return name in estimator._per_row_attributes and is_dask_collection(getattr(estimator, name))


def _output_config(estimator: Any) -> dict[str, str]:
    """``set_output``'s configuration of ``estimator`` (scikit-learn keeps it in
    ``_sklearn_output_config``): the container of each method's output."""
    config = getattr(estimator, "_sklearn_output_config", None)
    return {k: v for k, v in config.items() if isinstance(v, str)} if config else {}
