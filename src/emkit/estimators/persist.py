"""Model files: JSON holding parameters and fitted arrays, read back bit for bit, no pickle.

Floats are written with Python's shortest round-trip repr, so every float64 comes back
exactly; arrays carry their dtype and shape. Loading builds only registered estimator
classes from plain values: a model file cannot run code.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "emkit-model"
FORMAT_VERSION = 1
MODEL_CLASSES: dict[str, Any] = {}  # class name -> estimator class
OPTIONAL_ATTRIBUTES = ("feature_names_in_",)


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


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and value.get("__array__") and value["dtype"] == "str":
        return np.asarray(value["data"], dtype=object).reshape(value["shape"])
    if isinstance(value, dict) and value.get("__array__"):
        return np.asarray(value["data"], dtype=np.dtype(value["dtype"])).reshape(value["shape"])
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


class ModelFileMixin:
    """``save(path)`` for estimators that list their ``_fitted_attributes``."""

    _fitted_attributes: tuple[str, ...] = ()
    get_params: Callable[..., dict[str, Any]]  # scikit-learn's BaseEstimator provides it

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        MODEL_CLASSES[cls.__name__] = cls

    def save(self, path: str | Path) -> None:
        """Write the fitted model to ``path`` as JSON (see :func:`emkit.load`)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        params = {k: v for k, v in self.get_params(deep=False).items() if k not in ("callback",)}
        if not (params.get("random_state") is None or isinstance(params["random_state"], int)):
            params["random_state"] = None
        if params.get("device") is not None:  # a torch.device is written as its name
            params["device"] = str(params["device"])
        if params.get("dtype") is not None:
            params["dtype"] = np.dtype(params["dtype"]).name
        document = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "class": type(self).__name__,
            "params": _encode(params),
            "attributes": {
                a: _encode(getattr(self, a))
                for a in self._fitted_attributes + OPTIONAL_ATTRIBUTES
                if hasattr(self, a)
            },
        }
        Path(path).write_text(json.dumps(document, indent=1))


def load(path: str | Path):
    """Read a model written by ``save``; returns the fitted estimator.

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
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable emkit model file ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{path}: not an emkit model file")
    cls = MODEL_CLASSES.get(str(document.get("class")))
    if cls is None:
        raise ValueError(f"{path}: unknown model class {document.get('class')!r}")
    try:
        estimator = cls(**_decode(document.get("params", {})))
        estimator.set_params()  # nothing to set: a cheap way to fail on a malformed document
        for name, value in _decode(document.get("attributes", {})).items():
            setattr(estimator, name, value)
        missing = [a for a in cls._fitted_attributes if not hasattr(estimator, a)]
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: a damaged {cls.__name__} model file ({exc})") from None
    if missing:
        raise ValueError(f"{path}: a damaged model file: no {', '.join(missing)}")
    return estimator
