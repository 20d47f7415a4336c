"""Checks a model file passes before :func:`emkit.load` builds an estimator from it.

Reading (a regular file of bounded size, UTF-8 JSON), the document's schema (format, version,
class, allowed fields, array dtypes and shapes) and the fitted values (finite, weights on the
simplex, positive-definite covariances and precisions, shapes that agree). Every failure is
one :class:`~emkit.exceptions.ModelFileError` naming the file and the field.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from emkit.exceptions import ModelFileError
from emkit.filecheck import read_regular_bytes

FORMAT = "emkit-model"
FORMAT_VERSION = 1
MAX_DEPTH = 16  # nesting of a model document's values
MAX_STRING = 4096  # characters of one fixed-width string element
MAX_NDIM = 8
# set_output's methods and the containers a model file may ask of them
OUTPUT_METHODS = ("transform",)
OUTPUT_CONTAINERS = ("default", "pandas", "polars")
# numpy dtype strings a model file may declare, and the kinds of values their data may hold.
NUMERIC_DTYPES = {
    **{f"<f{n}": "fib" for n in (2, 4, 8)},
    **{f"<i{n}": "iu" for n in (2, 4, 8)},
    **{f"<u{n}": "iu" for n in (2, 4, 8)},
    "|i1": "iu",
    "|u1": "iu",
    "|b1": "b",
}
# Fitted values that may legitimately be NaN: the Wald block of a zero-inflation on its boundary.
NAN_ALLOWED = {("ZeroInflatedPoisson", "covariance_"), ("ZeroInflatedPoisson", "stderr_")}
SIMPLEX_TOL = 1e-6
# A value a model holds twice (ZeroInflatedPoisson's zero_inflation_ and weights_[0]) is one
# float written twice, read back exactly: the copies may differ by a writer's rounding only.
COPY_RTOL = 1e-12
# precisions_cholesky_ recomputed from covariances_ (Cholesky, then a triangular inverse) may
# differ from the stored factors by rounding, amplified by the condition number of the
# covariance's correlation matrix (rescaling the features scales the factors' rows exactly):
# on that scale they must agree to max(PRECISION_RTOL, PRECISION_ULPS * eps * cond) of the
# factor's largest entry, per component. Factors scaled by 3 differ by 2 of their size: refused
# wherever cond < 1e14 (cholesky refuses a feature left with under 1e-13 of its variance).
PRECISION_RTOL = 1e-8
PRECISION_ULPS = 64
# A structure's constraints (equal volumes, shapes, orientations) hold on stored covariances to
# max(STRUCTURE_RTOL, PRECISION_ULPS * eps * cond) of their size: the solvers write them
# exactly up to rounding, which eigenvalues carry as eps times the largest.
STRUCTURE_RTOL = 1e-8
# A component of at most this weight has emptied: it keeps an earlier M-step's covariance,
# which the structure's shared volume, shape or orientation has since moved away from.
EMPTIED_WEIGHT = 1e-8


def _fail(path: Path, field: str, message: str) -> ModelFileError:
    return ModelFileError(f"{path}: field {field!r}: {message}")


def read_document(path: Path, max_bytes: int) -> Any:
    """The JSON value in ``path``, a regular UTF-8 file of at most ``max_bytes`` bytes."""
    try:
        raw = read_regular_bytes(path, max_bytes, what="model file")
    except OSError as exc:
        text = str(exc) if str(path) in str(exc) else f"{path}: {exc.strerror or exc}"
        raise ModelFileError(f"{text} (not a readable emkit model file)") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelFileError(
            f"{path}: not UTF-8 text (byte {exc.start}); not an emkit model file"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError(
            f"{path}: not a readable emkit model file (invalid JSON: {exc})"
        ) from None
    except RecursionError:
        raise ModelFileError(f"{path}: not an emkit model file (JSON nested too deeply)") from None
    except ValueError as exc:  # an integer of more digits than Python converts (4300)
        raise ModelFileError(f"{path}: not a readable emkit model file ({exc})") from None


def check_document(
    path: Path, document: Any, classes: dict[str, Any], optional: tuple[str, ...]
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The estimator class, decoded parameters and decoded attributes of a model document."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f'{path}: not an emkit model file (no "format": "{FORMAT}")')
    name = document.get("class")
    cls = classes.get(name) if isinstance(name, str) else None
    if cls is None:
        raise _fail(path, "class", f"unknown model class {name!r}")
    version = document.get("version", FORMAT_VERSION)
    if type(version) is not int or version != FORMAT_VERSION:
        raise _fail(
            path, "version", f"{version!r} is not supported (this emkit reads {FORMAT_VERSION})"
        )
    params = document.get("params", {})
    if not isinstance(params, dict):
        raise _fail(path, "params", f"must be an object; got {type(params).__name__}")
    attributes = document.get("attributes", {})
    if not isinstance(attributes, dict):
        raise _fail(path, "attributes", f"must be an object; got {type(attributes).__name__}")
    allowed = set(cls._fitted_attributes) | set(optional)
    unknown = sorted(set(attributes) - allowed)
    if unknown:
        raise _fail(path, f"attributes.{unknown[0]}", f"is not a {name} attribute")
    # a per-row attribute (KMeans' labels_) is absent where the fit left it lazy (on Dask),
    # one added later (MixtureOfRegressions' origin_) in a file written before it
    absent = (*getattr(cls, "_per_row_attributes", ()), *getattr(cls, "_later_attributes", ()))
    missing = [a for a in cls._fitted_attributes if a not in attributes and a not in absent]
    if missing:
        raise _fail(
            path, f"attributes.{missing[0]}", f"no {missing[0]}: a damaged {name} model file"
        )
    decoded_params = {k: decode(path, v, f"params.{k}") for k, v in params.items()}
    decoded = {k: decode(path, v, f"attributes.{k}") for k, v in attributes.items()}
    return cls, decoded_params, decoded


def check_output(path: Path, document: dict, estimator: Any) -> dict[str, str]:
    """The ``set_output`` configuration a model document records (``"output"``, absent in
    files written before it was kept): a container among :data:`OUTPUT_CONTAINERS` for each
    of :data:`OUTPUT_METHODS`, on an estimator that has ``set_output``."""
    output = document.get("output", {})
    if not isinstance(output, dict):
        raise _fail(path, "output", f"must be an object; got {type(output).__name__}")
    if output and not hasattr(estimator, "set_output"):
        raise _fail(path, "output", f"a {type(estimator).__name__} has no set_output")
    for method, container in output.items():
        if method not in OUTPUT_METHODS:
            raise _fail(path, f"output.{method}", f"set_output configures {OUTPUT_METHODS}")
        if container not in OUTPUT_CONTAINERS:
            raise _fail(
                path, f"output.{method}", f"{container!r} is not one of {OUTPUT_CONTAINERS}"
            )
    return output


def decode(path: Path, value: Any, field: str, depth: int = 0) -> Any:
    """A model document's value with its arrays rebuilt, after checking dtype, shape and data."""
    if depth > MAX_DEPTH:
        raise _fail(path, field, "nested too deeply")
    if isinstance(value, dict) and value.get("__array__"):
        return _decode_array(path, value, field)
    if isinstance(value, dict):
        return {k: decode(path, v, f"{field}.{k}", depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(path, v, f"{field}[{i}]", depth + 1) for i, v in enumerate(value)]
    return value


def _decode_array(path: Path, value: dict, field: str) -> np.ndarray:
    dtype, shape, data = value.get("dtype"), value.get("shape"), value.get("data")
    if not isinstance(shape, list) or len(shape) > MAX_NDIM:
        raise _fail(path, field, f"shape must be a list of at most {MAX_NDIM} sizes")
    if not all(type(n) is int and n >= 0 for n in shape):
        raise _fail(path, field, f"shape {shape!r} must hold non-negative integers")
    if not isinstance(data, list) or len(data) != math.prod(shape):
        size = len(data) if isinstance(data, list) else type(data).__name__
        raise _fail(path, field, f"shape {shape} does not match its data ({size} values)")
    if dtype == "str" or (isinstance(dtype, str) and re.fullmatch(r"<U\d{1,9}", dtype)):
        if not all(isinstance(v, str) for v in data):
            raise _fail(path, field, "a string array holds a value that is not a string")
        if dtype == "str":
            return np.asarray(data, dtype=object).reshape(shape)
        width = int(dtype[2:])
        longest = max((len(v) for v in data), default=0)
        if width > max(MAX_STRING, longest) or longest > width:
            raise _fail(path, field, f"dtype {dtype!r} does not fit its strings")
        return np.asarray(data, dtype=dtype).reshape(shape)
    if dtype not in NUMERIC_DTYPES:
        raise _fail(
            path,
            field,
            f"dtype {dtype!r} is not allowed; model files hold float, integer, bool and "
            "string arrays",
        )
    raw = np.asarray(data) if data else np.zeros(0, dtype=dtype)
    if raw.ndim != 1 or raw.dtype.kind not in NUMERIC_DTYPES[dtype]:
        raise _fail(path, field, f"data are not all {np.dtype(dtype).name} values")
    return raw.astype(dtype).reshape(shape)


# ---- fitted values ---------------------------------------------------------------------


def check_fitted(path: Path, estimator: Any) -> None:
    """Check the fitted attributes of a freshly loaded ``estimator``."""
    cls = type(estimator).__name__
    names = [a for a in vars(estimator) if a.endswith("_") and not a.startswith("_")]
    for name in names:
        if getattr(estimator, name) is None:  # no fit leaves a fitted attribute without a value
            raise _fail(path, f"attributes.{name}", f"is null: a damaged {cls} model file")
        if (cls, name) not in NAN_ALLOWED:
            _check_finite(path, f"attributes.{name}", getattr(estimator, name))
    try:
        _check_values(estimator)
    except ValueError as exc:
        raise field_error(path, exc) from None


def field_error(path: Path, exc: ValueError) -> ModelFileError:
    """The :class:`ModelFileError` of a check's ``ValueError("attribute: what is wrong")``
    (``"params.name: ..."`` for a parameter)."""
    field, _, message = str(exc).partition(": ")
    where = field if field.startswith("params.") else f"attributes.{field}"
    return _fail(path, where, message)


def _check_finite(path: Path, field: str, value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(path, field, f"{value!r} is not finite")
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.isfinite(value).all():
        raise _fail(path, field, "holds NaN or infinite values")
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_finite(path, f"{field}[{i}]", v)
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(path, f"{field}.{k}", v)


def _array(est: Any, name: str, ndim: int, kinds: str = "fiu") -> np.ndarray | None:
    if not hasattr(est, name):
        return None
    value = getattr(est, name)
    if not isinstance(value, np.ndarray) or value.dtype.kind not in kinds:
        raise ValueError(f"{name}: must be a numeric array; got {type(value).__name__}")
    if value.ndim != ndim:
        raise ValueError(f"{name}: must have {ndim} dimension(s); got shape {value.shape}")
    return value


def _integer(est: Any, name: str, low: int) -> int | None:
    if not hasattr(est, name):
        return None
    value = getattr(est, name)
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name}: must be an integer of at least {low}; got {value!r}")
    return int(value)


def _shape(name: str, value: np.ndarray, expected: tuple[int, ...]) -> None:
    if value.shape != expected:
        raise ValueError(f"{name}: shape {value.shape} where {expected} was expected")


def check_positive_definite(name: str, matrices: np.ndarray) -> None:
    """Square symmetric positive-definite matrices in the last two axes."""
    if matrices.shape[-1] != matrices.shape[-2]:
        raise ValueError(f"{name}: matrices of shape {matrices.shape[-2:]} are not square")
    if not np.allclose(matrices, np.swapaxes(matrices, -1, -2), rtol=1e-8, atol=0):
        raise ValueError(f"{name}: a matrix is not symmetric")
    try:
        np.linalg.cholesky(matrices)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name}: a matrix is not positive definite") from None


def _check_gaussian(est: Any, k: int, d: int) -> None:
    """Covariances and precision factors of K Gaussians in their structure's layout
    (``parameter_shape``): matrices positive definite (factors with a positive diagonal),
    per-feature or per-component variances positive."""
    from emkit.distributions.gaussian import covariance_structure

    structure = covariance_structure(getattr(est, "covariance_type", "full"))
    expected = tuple(structure.parameter_shape(k, d))
    matrix = not structure.diagonal_stats and expected[-2:] == (d, d)
    for name in ("covariances_", "precisions_cholesky_"):
        value = getattr(est, name)
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise ValueError(f"{name}: must be a float array")
        _shape(name, value, expected)
        if matrix and name == "covariances_":
            check_positive_definite(name, value)
        elif matrix:
            if not (np.diagonal(value, axis1=-2, axis2=-1) > 0).all():
                raise ValueError(f"{name}: a factor has a diagonal entry that is not positive")
        elif not (value > 0).all():
            raise ValueError(f"{name}: holds a value that is not positive")
    _check_structure(est, structure, k, d)
    _check_precisions_agree(
        est.covariances_, est.precisions_cholesky_, matrix, per_component=len(expected) > 2
    )


def _check_structure(est: Any, structure: Any, k: int, d: int) -> None:
    """Covariances that hold their structure's constraints (:func:`check_structure`). A file
    whose ``covariance_type`` names a narrower structure than its covariances hold is
    refused: the model would score with the covariances and count (``bic``,
    ``n_parameters``) the structure's parameters. The layout is already checked.

    An emptied component (weight at most :data:`EMPTIED_WEIGHT`, or flagged in
    ``degenerate_components_``) keeps the covariance of an earlier M-step and is left out.
    """
    weights = getattr(est, "weights_", getattr(est, "priors_", None))
    held = np.ones(k, dtype=bool) if weights is None else weights > EMPTIED_WEIGHT
    flags = getattr(est, "degenerate_components_", None)
    if isinstance(flags, np.ndarray) and flags.shape == (k,):
        held &= ~flags.astype(bool)
    check_structure(
        est.covariances_,
        structure,
        held,
        name=f"covariances_: the covariance_type {est.covariance_type!r}",
        remedy="covariances of another structure: a damaged or hand-edited model file",
    )


def check_structure(
    covariances: np.ndarray, structure: Any, held: np.ndarray, name: str, remedy: str
) -> None:
    """ValueError unless ``covariances`` (in ``structure``'s layout) hold its constraints,
    read from its mclust name: volume, shape and orientation, each E (equal across
    components), V (varying) or I (the identity). Only the components where ``held`` is
    True are compared. The message reads "{name} asks for ...; components i and j differ by
    g of their size ({remedy})".
    """
    if not structure.per_component or len(held) < 2:
        return  # one covariance (tied, EEE) holds its structure whatever it is
    volume, shape, orientation = structure.alias
    eps = float(np.finfo(covariances.dtype).eps)
    covariances = np.asarray(covariances, dtype=np.float64)[held]
    if covariances.shape[0] < 2:
        return
    d = 1 if covariances.ndim == 1 else covariances.shape[1]
    if covariances.ndim == 1:  # one variance per component, the same for every feature
        values = np.repeat(covariances[:, None], d, axis=1)  # (h, d)
    elif covariances.ndim == 2:  # axis-aligned: the variances are the eigenvalues, in place
        values = covariances
    else:  # eigenvalues, largest first (mclust pairs a shape's entries so)
        values = np.linalg.eigvalsh(covariances)[:, ::-1]
    # eigenvalues carry rounding of eps times the largest: on a volume's and a shape's
    # scale, eps times the condition number (infinite where one rounds to 0 or below: such
    # a component is then compared to nothing)
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = values.max(axis=1) / values.min(axis=1)  # (h,)
        log_volume = np.log(values).mean(axis=1)  # (h,) log |Sigma_k|^(1/d)
    tolerance = np.maximum(STRUCTURE_RTOL, PRECISION_ULPS * eps * cond)  # (h,)
    tolerance = np.maximum(tolerance, tolerance[0])
    kept = np.flatnonzero(held)

    def refuse(what: str, j: int, gap: float) -> ValueError:
        return ValueError(
            f"{name} asks for {what}; components {kept[0]} and {kept[j]} differ by "
            f"{gap:.3g} of their size ({remedy})"
        )

    if volume == "E":
        gap = np.abs(np.expm1(log_volume - log_volume[0]))
        if (gap > tolerance).any():
            j = int(np.argmax(gap / tolerance))
            raise refuse("one volume |Sigma_k|^(1/d) for all components", j, float(gap[j]))
    scaled = covariances / np.exp(log_volume).reshape(-1, *[1] * (covariances.ndim - 1))
    if shape == "E" and orientation == "E" and covariances.ndim == 3:
        # one shape and orientation: the matrices are proportional
        size = np.abs(scaled[0]).max()
        gap = np.abs(scaled - scaled[0]).max(axis=(1, 2)) / size
        if (gap > tolerance).any():
            j = int(np.argmax(gap / tolerance))
            raise refuse("one shape and orientation for all components", j, float(gap[j]))
    elif shape == "E":
        # one shape: the eigenvalues over the volume agree (in place where axis-aligned)
        shapes = values / np.exp(log_volume)[:, None]
        gap = np.abs(shapes - shapes[0]).max(axis=1) / shapes[0].max()
        if (gap > tolerance).any():
            j = int(np.argmax(gap / tolerance))
            raise refuse("one shape for all components", j, float(gap[j]))
    if orientation == "E" and covariances.ndim == 3:
        # one orientation: symmetric matrices share their eigenvectors where they commute
        product = np.einsum("ij,kjl->kil", scaled[0], scaled)
        commutator = product - np.swapaxes(product, 1, 2)  # A B - B A, both symmetric
        norms = np.linalg.norm(scaled, axis=(1, 2))
        gap = np.abs(commutator).max(axis=(1, 2)) / (norms[0] * norms)
        if (gap > tolerance).any():
            j = int(np.argmax(gap / tolerance))
            raise refuse("one orientation for all components", j, float(gap[j]))


def _check_precisions_agree(
    covariances: np.ndarray, factors: np.ndarray, matrix: bool, per_component: bool
) -> None:
    """``precisions_cholesky_`` (U with Sigma^{-1} = U U^T; 1/sigma for the diagonal layouts)
    must be the factors of ``covariances_``: the model scores with the first and reports the
    second. Both in one layout, already checked positive (definite)."""
    from emkit.backend.linalg import precision_cholesky

    eps = float(np.finfo(np.result_type(covariances, factors)).eps)
    if matrix:
        # (k, d, d) for full and the oriented mclust models, one (d, d) for tied and EEE
        sigma = covariances if per_component else covariances[None]
        stored = factors if per_component else factors[None]
        # Sigma = S C S with S the standard deviations: U = S^-1 U_C, so S U is the factor
        # of the correlation matrix C, on one scale whatever the features' units
        sd = np.sqrt(np.diagonal(sigma, axis1=-2, axis2=-1))[..., None]  # (k, d, 1)
        chol = np.linalg.cholesky(sigma / sd / np.swapaxes(sd, -1, -2))  # L_C
        expected = precision_cholesky(chol)  # U_C
        stored = sd * stored
        # cond(C) = (|L_C| |L_C^-1|)^2, here in the Frobenius norm (an upper bound)
        cond = (np.linalg.norm(chol, axis=(-2, -1)) * np.linalg.norm(expected, axis=(-2, -1))) ** 2
        error = np.abs(stored - expected).max(axis=(-2, -1))
        scale = np.abs(expected).max(axis=(-2, -1))
    else:
        # diag (k, d) and spherical (k,) layouts, and their mclust models: U = 1 / sigma
        expected = 1.0 / np.sqrt(covariances)
        cond = np.ones(expected.shape)
        error, scale = np.abs(factors - expected), expected
    tolerance = np.maximum(PRECISION_RTOL, PRECISION_ULPS * eps * cond) * scale
    if (error > tolerance).any():
        worst = float(np.max(error / scale))
        raise ValueError(
            "precisions_cholesky_: does not match covariances_ (the factors of their inverses "
            f"differ by {worst:.3g} of their size); a damaged model file"
        )


def _expected_components(est: Any) -> tuple[str, int, bool] | None:
    """The parameter that sets the number of components, its value, and whether a fit may
    hold fewer (EM drops components under a prune_weight, a Dirichlet weight_concentration
    below 1, and, in a mixture of families, hard assignments that empty one); None where the
    estimator has no such parameter (its components are its classes)."""
    options = est._mixture_options() if hasattr(est, "_mixture_options") else {}
    prune = options.get("prune_weight", getattr(est, "prune_weight", 0.0)) > 0
    prune |= getattr(est, "weight_concentration", 1.0) < 1.0
    if hasattr(est, "n_clusters"):
        return "n_clusters", est.n_clusters, False
    if hasattr(est, "n_components"):
        return "n_components", est.n_components, prune
    if hasattr(est, "_families"):
        try:
            return "components", len(est._families()), prune
        except ValueError as exc:  # MixtureModel(components=[])
            raise ValueError(f"params.components: {exc}") from None
    return None


def _check_component_count(est: Any, name: str, k: int) -> None:
    """``k`` components (the rows of ``name``) where the parameters ask for them."""
    expected = _expected_components(est)
    if expected is None:
        return
    parameter, n, may_prune = expected
    if k == n or (may_prune and 1 <= k < n):
        return
    wanted = f"the model lists {n}" if parameter == "components" else f"{parameter} is {n}"
    if k > n:
        why = " (pruning leaves fewer, never more)" if may_prune else ""
    else:
        why = " (only pruning leaves fewer, and this model does not prune)"
    raise ValueError(f"{name}: {k} components where {wanted}{why}")


def _check_values(est: Any) -> None:
    """Raise ``ValueError("attribute: what is wrong")`` at the first inconsistent value
    (``"params.name: ..."`` where a parameter cannot hold with the fitted values)."""
    d = _integer(est, "n_features_in_", 1)
    _integer(est, "n_iter_", 0)
    _integer(est, "n_reseeds_", 0)
    for flag in ("converged_", "degenerate_", "equal_variance_", "weighted_"):
        if hasattr(est, flag) and not isinstance(getattr(est, flag), (bool, np.bool_)):
            raise ValueError(f"{flag}: must be true or false")
    names = getattr(est, "feature_names_in_", None)
    if names is not None and d is not None:
        if not isinstance(names, np.ndarray) or names.dtype.kind not in "OU":
            raise ValueError("feature_names_in_: must be an array of strings")
        _shape("feature_names_in_", names, (d,))
        twice = sorted({str(c) for c in names.tolist() if names.tolist().count(c) > 1})
        if twice:
            raise ValueError(f"feature_names_in_: names {', '.join(map(repr, twice))} twice")
    for name in ("log_likelihood_", "lower_bound_", "inertia_"):
        # as the fit set it: never a property that computes an array (BayesianMixture's)
        value = vars(est).get(name, 0.0)
        if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
            raise ValueError(f"{name}: must be a number; got {value!r}")
    history = _array(est, "history_", 1, "f")
    _array(est, "lower_bounds_", 1, "f")
    if hasattr(est, "structure_changes_"):
        _check_structure_changes(est.structure_changes_, history)
    k = None
    for name in ("weights_", "priors_"):
        w = _array(est, name, 1, "f")
        if w is not None:
            if (w < 0).any():
                raise ValueError(f"{name}: must be non-negative; has {float(w.min())!r}")
            if abs(w.sum() - 1.0) > SIMPLEX_TOL:
                raise ValueError(f"{name}: must sum to 1; sums to {float(w.sum())!r}")
            k = w.shape[0]
            _check_component_count(est, name, k)
    for name in ("means_", "cluster_centers_"):
        m = _array(est, name, 2)
        if m is not None:
            if k is None:
                k = m.shape[0]
                _check_component_count(est, name, k)
            _shape(name, m, (k, d or m.shape[1]))
    if hasattr(est, "classes_"):
        _check_classes(est.classes_, k)
    if k is not None and d is not None and hasattr(est, "covariances_") and hasattr(est, "means_"):
        _check_gaussian(est, k, d)
    labels = _array(est, "labels_", 1, "iu")
    if labels is not None and k is not None and ((labels < 0) | (labels >= k)).any():
        raise ValueError(f"labels_: must lie in 0..{k - 1}")
    if labels is not None and k is not None and labels.shape[0] < k:
        raise ValueError(
            f"labels_: {labels.shape[0]} training rows where a fit of {k} clusters has at "
            "least one row per cluster"
        )
    flags = _array(est, "degenerate_components_", 1, "b")
    if flags is not None and k is not None:
        _shape("degenerate_components_", flags, (k,))
    if hasattr(est, "mean_") and d is not None:
        _shape("mean_", _array(est, "mean_", 1), (d,))  # type: ignore[arg-type]
        covariance = _array(est, "covariance_", 2, "f")
        assert covariance is not None
        _shape("covariance_", covariance, (d, d))
        check_positive_definite("covariance_", covariance)
    coef = _array(est, "coef_", 2, "f")
    if coef is not None and k is not None:
        _shape("coef_", coef, (k, d or coef.shape[1]))
        intercept = _array(est, "intercept_", 1, "f")
        _shape("intercept_", intercept, (k,))  # type: ignore[arg-type]
        no_intercept = getattr(est, "fit_intercept", True) is False
        if no_intercept and intercept is not None and np.any(intercept != 0):
            raise ValueError(
                f"intercept_: {intercept.tolist()} where the parameter fit_intercept is false "
                "(a fit without intercepts keeps them at 0)"
            )
        _check_origin(est, coef, intercept)  # type: ignore[arg-type]
    # a sigma is positive; a rate may be 0, the MLE of a column without a positive count
    for name, size, low in (("sigmas_", k, "positive"), ("rate_", d, "nonnegative")):
        value = _array(est, name, 1, "f")
        if value is not None and size is not None:
            _shape(name, value, (size,))
        if value is not None and low == "positive" and not (value > 0).all():
            raise ValueError(f"{name}: holds a value that is not positive")
        if value is not None and low == "nonnegative" and (value < 0).any():
            raise ValueError(f"{name}: holds a negative value, {float(value.min())!r}")
    for name in ("inertia_",):
        if hasattr(est, name) and not getattr(est, name) >= 0:
            raise ValueError(f"{name}: must be non-negative")
    if hasattr(est, "zero_inflation_"):
        pi = est.zero_inflation_
        if not isinstance(pi, (int, float)) or isinstance(pi, bool) or not 0.0 <= pi <= 1.0:
            raise ValueError(f"zero_inflation_: must be a number in [0, 1]; got {pi!r}")
    if hasattr(est, "component_params_"):
        _check_components(est, k, d)
    if hasattr(est, "zero_inflation_") and hasattr(est, "component_params_"):
        _check_zero_inflation(est, d)
    if hasattr(est, "equal_variance_") and hasattr(est, "sigmas_"):
        _check_equal_variance(est)


def _check_origin(est: Any, coef: np.ndarray, intercept: np.ndarray) -> None:
    """A mixture of regressions' ``origin_`` (p + 1,), the point its lines were fitted about
    (zeros for lines through 0), and ``origin_intercept_`` (k,), their intercepts there, from
    which ``intercept_`` was computed: it is the same lines' to rounding (``COPY_RTOL`` of the
    terms added). A file written before they were kept has neither."""
    origin = _array(est, "origin_", 1, "f")
    shifted = _array(est, "origin_intercept_", 1, "f")
    if origin is None and shifted is None:
        return
    if origin is None or shifted is None:
        absent, given = ("origin_", "origin_intercept_")
        if shifted is None:
            absent, given = given, absent
        raise ValueError(f"{absent}: absent where {given} is given (a model file has both)")
    _shape("origin_", origin, (coef.shape[1] + 1,))
    _shape("origin_intercept_", shifted, intercept.shape)
    if getattr(est, "fit_intercept", True) is False and origin.any():
        raise ValueError(
            f"origin_: {origin.tolist()} where the parameter fit_intercept is false (lines "
            "through 0 are fitted about it)"
        )
    moved = shifted + origin[-1] - coef @ origin[:-1]
    size = np.abs(shifted) + abs(origin[-1]) + np.abs(coef) @ np.abs(origin[:-1])
    if (np.abs(moved - intercept) > COPY_RTOL * size).any():
        raise ValueError(
            "origin_intercept_: not the lines of intercept_ (the intercepts for the rows less "
            "origin_, moved back to the rows, differ from intercept_)"
        )


def _check_structure_changes(changes: Any, history: np.ndarray | None) -> None:
    """The iterations where a fit's structure changed (``em_iterations``' ``changes``):
    distinct integers, increasing, each an accepted step of ``history_`` (1 to its length
    less one)."""
    if isinstance(changes, np.ndarray):
        if changes.ndim != 1 or (changes.size and changes.dtype.kind not in "iu"):
            raise ValueError("structure_changes_: must be a list of iteration numbers")
        changes = changes.tolist()
    if not isinstance(changes, (list, tuple)) or not all(type(c) is int for c in changes):
        raise ValueError(
            f"structure_changes_: must be a list of iteration numbers; got {changes!r}"
        )
    last = None if history is None else history.shape[0] - 1
    if any(b <= a for a, b in zip(changes[:-1], changes[1:], strict=True)):
        raise ValueError(f"structure_changes_: must increase; got {changes}")
    if any(c < 1 or (last is not None and c > last) for c in changes):
        raise ValueError(
            f"structure_changes_: iterations {changes} where history_ records steps 1 to {last}"
        )


def _check_classes(classes: Any, k: int | None) -> None:
    """One label per class, distinct and sorted (``np.unique`` of the training labels: the
    order ``searchsorted`` encodes labels by), as many as priors and means."""
    if not isinstance(classes, np.ndarray) or classes.ndim != 1:
        raise ValueError("classes_: must be a 1-dimensional array of labels")
    if k is not None and classes.shape[0] != k:
        raise ValueError(f"classes_: lists {classes.shape[0]} classes where priors_ has {k}")
    try:
        ordered = np.unique(classes)
    except TypeError:
        raise ValueError("classes_: labels of kinds that cannot be ordered") from None
    if ordered.shape != classes.shape or not (ordered == classes).all():
        raise ValueError(f"classes_: must be distinct and sorted; got {classes.tolist()}")


def _check_components(est: Any, k: int | None, d: int | None) -> None:
    """Each fitted component a family of the model's list, in order, whose parameters are for
    ``d`` columns (``parameter_widths``) and lie where a model's do (``model_domains``: a
    Normal's variance above 0); a family without free parameters (a point mass) as listed."""
    from emkit.distributions.base import check_domain
    from emkit.distributions.registry import family_from_dict

    specs = est.component_params_
    if not isinstance(specs, list) or (k is not None and len(specs) != k):
        raise ValueError(f"component_params_: must list {k} components")
    families = []
    for j, spec in enumerate(specs):
        try:
            family = family_from_dict(spec)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"component_params_[{j}]: {exc}") from None
        if not family.fitted:
            raise ValueError(f"component_params_[{j}]: the component has no fitted parameters")
        families.append(family)
    # EM keeps each component's family and its place among the listed families (a pruned
    # fit: some of them, in order).
    listed = [family_from_dict(f) for f in est._families()]
    names = [f.name for f in listed]
    position = 0
    for j, family in enumerate(families):
        where = f"component_params_[{j}]"
        while position < len(listed) and listed[position].name != family.name:
            position += 1
        if position == len(listed):
            raise ValueError(
                f"{where}: a {family.name} component out of place; the model lists "
                f"{names}, a fit keeps them in that order"
            )
        given = listed[position]
        position += 1
        kind = type(family).__name__
        for attr, width in family.parameter_widths().items():
            if d is not None and width != d:
                raise ValueError(
                    f"{where}: the {kind}'s {attr} is for {width} feature(s) where "
                    f"n_features_in_ is {d}"
                )
        for attr, domain in getattr(family, "model_domains", {}).items():
            try:
                check_domain(kind, attr, np.asarray(getattr(family, attr), float), domain)
            except ValueError as exc:
                raise ValueError(f"{where}: {exc} in a fitted model") from None
        if d is not None and family.n_parameters(d) == 0 and family.to_dict() != given.to_dict():
            raise ValueError(
                f"{where}: {family.to_dict()} where the model lists {given.to_dict()}, a "
                "family with no free parameter, which a fit keeps as listed"
            )


def _check_zero_inflation(est: Any, d: int | None) -> None:
    """ZeroInflatedPoisson holds pi and the rates twice: ``zero_inflation_`` and ``rate_``,
    and ``weights_[0]`` and the Poisson component (which predict and score use). The copies
    must agree."""
    pi = est.weights_[0]
    if not math.isclose(est.zero_inflation_, pi, rel_tol=COPY_RTOL, abs_tol=0.0):
        raise ValueError(
            f"zero_inflation_: {est.zero_inflation_!r} where weights_[0], the model's "
            f"probability of a structural zero, is {float(pi)!r}"
        )
    # component 1 is the Poisson (_check_components matched the families to _families()),
    # its dict already read by family_from_dict
    rate = np.atleast_1d(np.asarray(est.component_params_[1]["rate"], dtype=float))
    if rate.shape != (d,):
        raise ValueError(
            f"component_params_[1]: the Poisson has {rate.size} rates where n_features_in_ is {d}"
        )
    if not np.allclose(est.rate_, rate, rtol=COPY_RTOL, atol=0.0):
        raise ValueError(
            f"rate_: {est.rate_.tolist()} where the Poisson component's rates, which the "
            f"model scores with, are {rate.tolist()}"
        )
    _check_wald(est, 1 + rate.size)


def _check_equal_variance(est: Any) -> None:
    """A mixture of regressions fitted with one residual variance (``equal_variance_``, which
    ``equal_variance`` asks for) holds one sigma, written once per component."""
    if est.equal_variance and not est.equal_variance_:
        raise ValueError(
            "equal_variance_: false where the parameter equal_variance is true (a fit with it "
            "keeps one residual variance)"
        )
    sigmas = est.sigmas_
    one = sigmas.size == 0 or np.allclose(sigmas, sigmas[0], rtol=COPY_RTOL, atol=0.0)
    if est.equal_variance_ and not one:
        raise ValueError(
            f"sigmas_: {sigmas.tolist()} differ where equal_variance_ is true (one residual "
            "variance for every component)"
        )


def _check_wald(est: Any, p: int) -> None:
    """``covariance_`` (p, p), the inverse of the observed information: NaN in whole rows and
    columns (a parameter on its boundary) and a symmetric positive-definite matrix elsewhere;
    ``stderr_`` (p,) the square roots of its diagonal."""
    covariance = _array(est, "covariance_", 2, "f")
    stderr = _array(est, "stderr_", 1, "f")
    if covariance is None or stderr is None:
        return
    _shape("covariance_", covariance, (p, p))
    _shape("stderr_", stderr, (p,))
    kept = np.flatnonzero(~np.isnan(np.diagonal(covariance)))
    block = covariance[np.ix_(kept, kept)]
    nan = np.ones((p, p), dtype=bool)
    nan[np.ix_(kept, kept)] = False
    if not (np.isnan(covariance) == nan).all():
        raise ValueError(
            "covariance_: NaN must fill whole rows and columns (a parameter on its boundary)"
        )
    check_positive_definite("covariance_", block)
    expected = np.full(p, np.nan)
    expected[kept] = np.sqrt(np.diagonal(block))
    if not np.allclose(stderr, expected, rtol=COPY_RTOL, atol=0.0, equal_nan=True):
        raise ValueError(
            f"stderr_: {stderr.tolist()} where the square roots of the diagonal of "
            f"covariance_ are {expected.tolist()}"
        )
