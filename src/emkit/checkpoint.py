"""Checkpoints of a running fit: the state of every EM run, saved every few steps, so that a fit
that was killed resumes where it stopped and ends with the answer of an uninterrupted fit with
the same checkpoint, bit for bit. Its starts run one after another, where a fit without a
checkpoint runs them in lockstep (one pass for all; the Gaussian kernels then centre every
start's rows on the first start's mean): the two reach the same maximum to rounding, not to the
last bit. A lockstep fit cannot be resumed bit for bit: a start's arithmetic there depends on
which others share its passes, and a resumed run's partners are not the interrupted one's.

A checkpoint is a JSON file written whole (:mod:`emkit.atomic`). Models are immutable values
(frozen dataclasses of arrays), written field by field with every float in its shortest
round-trip form, so a resumed run starts from bit-for-bit the same parameters. Only dataclasses
defined inside emkit are rebuilt, from plain values: a checkpoint cannot run code.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emkit.atomic import write_text
from emkit.exceptions import CheckpointError
from emkit.filecheck import read_regular_bytes

FORMAT = "emkit-checkpoint"
FORMAT_VERSION = 1
MAX_BYTES = 1 << 30
DEFAULT_EVERY = 5  # accepted EM steps between saves
# Parameters that change what a fit reports on the way, not its answer: a fit resumed with
# other values of them is the same fit.
UNKEYED = frozenset({"callback", "verbose", "verbose_interval"})


@dataclass(frozen=True)
class RunState:
    """Where one EM run stands after an accepted step.

    Attributes
    ----------
    model : the model of the last accepted step (a :class:`~emkit.em.LatentModel`).
    history : objectives so far, the last one the model's.
    changes : iterations where the model's structure changed.
    maps : M-steps taken.
    policy : the step policy (its state, e.g. SQUAREM's step bound).
    done : True where the run has ended; ``converged`` says how.
    converged : bool.
    """

    model: Any
    history: tuple[float, ...]
    changes: tuple[int, ...]
    maps: int
    policy: Any
    done: bool = False
    converged: bool = False


def encode(value: Any) -> Any:
    """``value`` as plain JSON values; emkit dataclasses and arrays are tagged."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        if not cls.__module__.startswith("emkit."):
            raise TypeError(f"cannot checkpoint {cls.__module__}.{cls.__qualname__}")
        return {
            "__dataclass__": f"{cls.__module__}:{cls.__qualname__}",
            "fields": {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)},
        }
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiub":
            raise TypeError(f"cannot checkpoint an array of dtype {value.dtype}")
        return {
            "__array__": value.dtype.str,
            "shape": list(value.shape),
            "data": value.ravel().tolist(),
        }
    if isinstance(value, np.generic):
        return {"__scalar__": value.dtype.str, "value": value.item()}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("cannot checkpoint a dict with keys that are not strings")
        return {"__dict__": {k: encode(v) for k, v in value.items()}}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot checkpoint a {type(value).__name__}")


def _no_default(field: dataclasses.Field) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def decode(value: Any, depth: int = 0) -> Any:
    """The value :func:`encode` wrote; ``CheckpointError`` where it is not such a value."""
    if depth > 64:
        raise CheckpointError("nested too deeply")
    if isinstance(value, list):
        return [decode(v, depth + 1) for v in value]
    if not isinstance(value, dict):
        return value
    if "__dataclass__" in value:
        module_name, _, qualname = str(value["__dataclass__"]).partition(":")
        if not module_name.startswith("emkit.") or not qualname.isidentifier():
            raise CheckpointError(f"not an emkit class: {value['__dataclass__']!r}")
        # Only modules already imported (those of the model being fitted): importing one a
        # file names would run its code (emkit.cli.__main__ runs the command line).
        module = sys.modules.get(module_name)
        cls = getattr(module, qualname, None) if module is not None else None
        if cls is None:
            raise CheckpointError(f"no class {value['__dataclass__']!r} in emkit's loaded modules")
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise CheckpointError(f"{value['__dataclass__']!r} is not a model value")
        fields = value.get("fields")
        known = {f.name: f for f in dataclasses.fields(cls)}
        if not isinstance(fields, dict) or not set(fields) <= set(known):
            raise CheckpointError(f"the fields of {qualname} do not match")
        # A field added since the file was written (SQUAREM's gains) starts at its default.
        added = [known[name] for name in known if name not in fields]
        if any(_no_default(f) for f in added):
            raise CheckpointError(f"the fields of {qualname} do not match")
        # Rebuilt as stored, without __post_init__: the values are those a model held.
        obj = object.__new__(cls)
        for name, field_value in fields.items():
            object.__setattr__(obj, name, decode(field_value, depth + 1))
        for f in added:
            factory = f.default_factory
            default = f.default if factory is dataclasses.MISSING else factory()
            object.__setattr__(obj, f.name, default)
        return obj
    if "__array__" in value:
        dtype = np.dtype(str(value["__array__"]))
        shape, data = value.get("shape"), value.get("data")
        if dtype.kind not in "fiub" or not isinstance(data, list) or not isinstance(shape, list):
            raise CheckpointError("a damaged array")
        if len(data) != math.prod(shape):
            raise CheckpointError("an array's shape does not match its data")
        return np.asarray(data, dtype=dtype).reshape(shape)
    if "__scalar__" in value:
        dtype, number = np.dtype(str(value["__scalar__"])), value.get("value")
        if dtype.kind not in "fiub" or not isinstance(number, (bool, int, float)):
            raise CheckpointError(f"a damaged number ({value['__scalar__']!r}: {number!r})")
        return dtype.type(number)
    if "__tuple__" in value:
        return tuple(decode(v, depth + 1) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: decode(v, depth + 1) for k, v in value["__dict__"].items()}
    raise CheckpointError("an object of unknown kind")


def _make_folder(path: Path) -> None:
    """Create the folders on the way to ``path``; ``NotADirectoryError`` naming ``path``, as
    a model's ``save`` does, where a file stands in the way (before the fit spends a step)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        files = [p for p in reversed(path.parents) if p.exists() and not p.is_dir()]
        blocking = files[0] if files else path.parent
        raise NotADirectoryError(
            errno.ENOTDIR,
            f"cannot write a checkpoint there ({blocking} is a file, not a folder); give "
            "another checkpoint path",
            str(path),
        ) from None


def _fingerprint(value: Any) -> Any:
    """A parameter as a checkpoint's key holds it: plain values as they are; arrays (a start's
    means, say), emkit values (a family with its starting parameters) and random states by a
    digest of their values, since their repr elides the middle of a large array and shows a
    random state's address; anything else by its repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        numbers = np.asarray(value) if value else None
        if numbers is not None and numbers.dtype.kind in "biuf":  # a list of rows
            return {"array": _digest(numbers)}
        return [_fingerprint(item) for item in value]
    if isinstance(value, (np.random.RandomState, np.random.Generator)):
        state: Any = (
            value.get_state(legacy=False)
            if isinstance(value, np.random.RandomState)
            else value.bit_generator.state
        )
        text = json.dumps(state, sort_keys=True, default=lambda a: np.asarray(a).tolist())
        return {"random_state": hashlib.sha256(text.encode()).hexdigest()}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return {"array": _digest(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # A family or prior given with its parameters: its repr elides large arrays too.
        try:
            text = json.dumps(encode(value), sort_keys=True)
        except TypeError:  # not a value a checkpoint holds
            return repr(value)
        return {"value": hashlib.sha256(text.encode()).hexdigest()}
    return repr(value)


def _digest(*arrays: np.ndarray) -> str:
    """SHA-256 of arrays' dtypes, shapes and values."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _same_fit(saved: Any, expected: Any) -> bool:
    """Whether the key ``saved`` in a checkpoint is the key ``expected`` (both as JSON holds
    them): equal, but for the data's total weight, which may differ in its last bits: weights
    added in another order (a Dask cluster's partitions, a file's chunks, the rows in memory)
    round differently, and the data are the same."""
    try:
        saved_fields, expected_fields = dict(saved["__dict__"]), dict(expected["__dict__"])
        saved_data, expected_data = saved_fields.pop("data"), expected_fields.pop("data")
        return (
            saved_fields == expected_fields
            and saved_data[:2] == expected_data[:2]
            and math.isclose(saved_data[2], expected_data[2], rel_tol=1e-12)
        )
    except (KeyError, TypeError, IndexError, ValueError):
        return False


def _whole(run: Any) -> bool:
    """Whether ``run`` is a :class:`RunState` whose fields hold what a run saves: a model
    value, a non-empty history of numbers, the iterations of its changes, the M-steps taken
    and two flags (a file edited by hand or damaged in place may hold anything)."""
    if not isinstance(run, RunState):
        return False
    history, changes = run.history, run.changes
    return (
        dataclasses.is_dataclass(run.model)
        and hasattr(run.model, "e_step")
        and isinstance(history, tuple)
        and len(history) > 0
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in history)
        and isinstance(changes, tuple)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in changes)
        and isinstance(run.maps, int)
        and not isinstance(run.maps, bool)
        and run.maps >= 0
        and isinstance(run.done, bool)
        and isinstance(run.converged, bool)
        and (run.policy is None or dataclasses.is_dataclass(run.policy))
    )


@dataclass
class Checkpoint:
    """A checkpoint file for one fit.

    Attributes
    ----------
    path : the file; written whole every ``every`` accepted steps and at the end of each run.
    key : what identifies the fit (estimator, parameters, data shape); a checkpoint with
        another key is refused rather than resumed.
    every : accepted EM steps between saves.
    """

    path: Path
    key: Any
    every: int = DEFAULT_EVERY

    @classmethod
    def for_fit(
        cls,
        path: str | Path | None,
        estimator: Any,
        data: Any,
        every: int = DEFAULT_EVERY,
        warm: Any = None,
    ) -> Checkpoint | None:
        """The checkpoint of ``estimator.fit`` on the source ``data``; None where no path.

        Its key is the estimator's class and parameters (arrays and random states by a digest
        of their values; :data:`UNKEYED` ones left out), the data's number of rows, features
        and total weight, and ``warm``: the model a warm start continues from (by a digest of
        its values), which the parameters do not name. A folder in ``path`` that does not
        exist is created.
        """
        if path is None:
            return None
        params = {
            name: _fingerprint(value)
            for name, value in estimator.get_params(deep=False).items()
            if name not in UNKEYED
        }
        key = {
            "class": type(estimator).__name__,
            "params": params,
            "data": [int(data.n_rows), int(data.n_features), float(data.total_weight)],
        }
        if warm is not None:
            text = json.dumps(encode(warm), sort_keys=True)
            key["warm_start"] = hashlib.sha256(text.encode()).hexdigest()
        _make_folder(Path(path))
        return cls(Path(path), key, every)

    def load(self) -> list[RunState] | None:
        """The saved runs, or None where no checkpoint exists yet."""
        if not self.path.exists():
            return None
        try:
            document = json.loads(read_regular_bytes(self.path, MAX_BYTES, "checkpoint"))
        except (OSError, ValueError, RecursionError) as exc:
            raise CheckpointError(f"{self.path}: not a readable checkpoint ({exc})") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise CheckpointError(f"{self.path}: not an emkit checkpoint")
        if document.get("version") != FORMAT_VERSION:
            raise CheckpointError(
                f"{self.path}: checkpoint version {document.get('version')!r} is not supported "
                f"(this emkit reads version {FORMAT_VERSION}); delete it to start the fit afresh"
            )
        if not _same_fit(document.get("key"), json.loads(json.dumps(encode(self.key)))):
            raise CheckpointError(
                f"{self.path}: a checkpoint of another fit (other data or parameters, or a "
                "warm start from another model); delete it, or give another checkpoint (a file for "
                "a fit, a folder for select_mixture)"
            )
        afresh = "delete it to start the fit afresh"
        try:
            runs = decode(document.get("runs"))
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise CheckpointError(f"{self.path}: a damaged checkpoint ({exc}); {afresh}") from None
        if not isinstance(runs, list) or not all(_whole(r) for r in runs):
            raise CheckpointError(f"{self.path}: a damaged checkpoint; {afresh}")
        # A file written before the digest has none; one that has it must match it: a model
        # edited in place (a covariance, a weight, a run marked done) would otherwise resume
        # as a fit, or fail in a numerical step that names the data.
        written = document.get("digest")
        if written is not None and written != _runs_digest(document.get("runs")):
            raise CheckpointError(
                f"{self.path}: a damaged or edited checkpoint (its runs do not match the digest "
                f"written with them); {afresh}"
            )
        return runs

    def save(self, runs: list[RunState]) -> None:
        """Write the state of every run, and a digest of it, replacing the file whole."""
        encoded = encode(list(runs))
        document = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "key": encode(self.key),
            "runs": encoded,
            "digest": _runs_digest(encoded),
        }
        write_text(self.path, json.dumps(document))


def _runs_digest(runs: Any) -> str:
    """SHA-256 of the encoded runs as JSON with sorted keys (the same text before writing and
    after reading: every float is written in its shortest round-trip form)."""
    return hashlib.sha256(json.dumps(runs, sort_keys=True).encode()).hexdigest()
