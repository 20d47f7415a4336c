"""Warnings and errors emkit raises."""

from __future__ import annotations

import os
import sys
import warnings

# emkit's own files: a warning is attributed to the first frame outside them (and scikit-learn's).
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _library_frame(filename: str) -> bool:
    """True for a frame in emkit's package, scikit-learn's (whose wrappers, ``fit_transform``
    or ``_fit_context``, call emkit's methods) or joblib's (through which ``cross_val_score``
    and ``GridSearchCV`` call them)."""
    if filename.startswith(_PACKAGE_DIR):
        return True
    for name in ("sklearn", "joblib"):
        where = getattr(sys.modules.get(name), "__file__", None)
        if where is not None and filename.startswith(os.path.dirname(where) + os.sep):
            return True
    return False


def warn_user(message: str, category: type[Warning]) -> None:
    """Issue ``category`` attributed to the user's line: the first caller outside emkit,
    scikit-learn and joblib, however deep inside them the warning arises (``fit``,
    ``fit_transform``, ``fit_predict``, ``cross_val_score`` and the fit functions nest
    differently), so the printed line and filters by module point at the user's code. In a
    worker thread or process that line is the first frame outside them there (the pool's own
    code), or the outermost frame where there is none."""
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and _library_frame(frame.f_code.co_filename):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level + 1)


class MonotonicityWarning(RuntimeWarning):
    """The objective EM climbs went down between two iterations: a numerical or model bug.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> import emkit
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", emkit.MonotonicityWarning)  # a decrease would raise
    ...     gm = emkit.GaussianMixture(2, random_state=0).fit(X)
    ...
    >>> bool(np.all(np.diff(gm.history_) >= -1e-9 * abs(gm.history_[-1])))
    True
    """


class DegenerateFitWarning(RuntimeWarning):
    """A fitted component is (nearly) singular even after regularisation or re-seeding.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> import emkit
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(60, 2)), np.repeat([[3.0, 3.0]], 8, axis=0)])  # 8 copies
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     gm = emkit.GaussianMixture(2, reg_covar=0, random_state=0).fit(X)
    ...
    >>> gm.degenerate_, gm.degenerate_components_
    (True, array([False,  True]))
    >>> [w.category.__name__ for w in caught]
    ['DegenerateFitWarning']
    """


class ScaleWarning(RuntimeWarning):
    """The data's scale makes the ridge ``reg_covar``, an absolute variance, outweigh the data:
    the covariances it gives are mostly the ridge. Rescale the data (standardise the columns)
    or lower ``reg_covar``.

    Examples
    --------
    >>> from warnings import catch_warnings, simplefilter
    >>> from sklearn.datasets import make_blobs
    >>> from emkit import GaussianMixture, ScaleWarning
    >>> X, _ = make_blobs(200, 2, centers=2, random_state=0)
    >>> micro = X * 1e-6  # micrometres written in metres
    >>> with catch_warnings(record=True) as caught:
    ...     simplefilter("always")
    ...     ridged = GaussianMixture(2, random_state=0).fit(micro)  # reg_covar=1e-6
    ...
    >>> sorted(w.category.__name__ for w in caught)
    ['DegenerateFitWarning', 'ScaleWarning']
    >>> [str(w.message).split(" the data")[0] for w in caught if w.category is ScaleWarning]
    ['reg_covar=1e-06 is 4.18e+03 times']
    >>> ridged.weights_.round(3)  # the ridge merged the clusters and emptied a component
    array([0., 1.])
    >>> with catch_warnings():
    ...     simplefilter("error")  # any warning would raise
    ...     gm = GaussianMixture(2, reg_covar=0.0, random_state=0).fit(micro)
    ...
    >>> gm.weights_.round(3)
    array([0.507, 0.493])
    """


class DataError(ValueError):
    """Input data that emkit cannot use; the message says what is wrong and what to do.

    Examples
    --------
    >>> import emkit
    >>> try:
    ...     raise emkit.DataError("column 'species' is not numeric; choose columns with --columns")
    ... except ValueError as err:  # a DataError is a ValueError
    ...     print(err)
    ...
    column 'species' is not numeric; choose columns with --columns
    """


class PrunedWarning(UserWarning):
    """EM removed components the fit asked for (``prune_weight``, ``weight_concentration``
    below 1, or a hard assignment that emptied them): the fit holds ``len(weights_)``.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> import emkit
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (150, 2)), rng.normal(6, 1, (150, 2))])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     gm = emkit.GaussianMixture(4, prune_weight=0.2, random_state=0).fit(X)
    ...
    >>> len(gm.weights_), any(issubclass(w.category, emkit.PrunedWarning) for w in caught)
    (2, True)
    """


class LocalMaximumWarning(RuntimeWarning):
    """A fit stopped at a lower local maximum than a simpler model of the same family reached
    (a larger K of one structure with a lower log-likelihood than a smaller K).

    :func:`emkit.select_mixture` issues it; more starts (``n_init``) may reach a higher maximum.
    A fit the selection screened (stopped at a gain of ``SCREEN_TOL`` per row, about mclust's
    stop, and not refined) may instead be on a slow climb that a fit of that K alone continues.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> import emkit
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(5, 1, (100, 2))])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     sel = emkit.select_mixture(  # EM stopped at its k-means starts: no iteration
    ...         X, n_components=[2, 3], covariance_types=["spherical"], init_params="kmeans",
    ...         max_iter=0, random_state=0,
    ...     )
    ...
    >>> sel.table_["log_likelihood"].round(1).tolist()
    [-702.3, -708.9]
    >>> [w.category.__name__ for w in caught if w.category is emkit.LocalMaximumWarning]
    ['LocalMaximumWarning']
    """


class ModelFileError(ValueError):
    """A model file that cannot be loaded; the message names the file and the field.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import emkit
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "model.json"
    ...     _ = path.write_text('{"format": "emkit-model", "class": "KMeans", "version": 2}')
    ...     try:
    ...         emkit.load(path)
    ...     except emkit.ModelFileError as err:  # a ModelFileError is a ValueError
    ...         print(str(err).replace(str(path), "model.json"))
    ...
    model.json: field 'version': 2 is not supported (this emkit reads 1)
    """


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed (``fit(checkpoint=...)``, ``select_mixture``,
    ``emkit fit --checkpoint``): damaged, or written by another fit or for other data; the
    message names the file and says what to do.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import emkit
    >>> X = np.random.default_rng(0).normal([[0, 0]] * 100 + [[5, 1]] * 100)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "gmm.json"
    ...     _ = emkit.GaussianMixture(2, random_state=0).fit(X, checkpoint=path)
    ...     try:  # other data: the columns swapped
    ...         emkit.GaussianMixture(2, random_state=0).fit(X[:, ::-1].copy(), checkpoint=path)
    ...     except emkit.CheckpointError as err:  # a CheckpointError is a ValueError
    ...         print(str(err).rsplit("; ", 1)[-1])
    ...
    delete it to start afresh
    """
