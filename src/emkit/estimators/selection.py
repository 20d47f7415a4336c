"""``select_mixture``: fit a grid of Gaussian mixtures and keep the best by BIC, AIC or ICL."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import check_array

from emkit.backend.dask_source import as_dask_array, is_dask_collection
from emkit.backend.namespace import is_device_array
from emkit.distributions.gaussian import covariance_structure
from emkit.estimators._device import placement
from emkit.estimators.gaussian_mixture import GaussianMixture
from emkit.exceptions import DegenerateFitWarning

CRITERIA = ("bic", "aic", "icl")


@dataclass
class MixtureSelection:
    """Result of :func:`select_mixture`.

    Attributes
    ----------
    best_ : GaussianMixture, the fitted model with the lowest criterion among non-degenerate fits.
    table_ : DataFrame with one row per (n_components, covariance_type): log_likelihood,
        n_parameters, bic, aic, icl (scikit-learn's sign: lower is better), degenerate, and
        converged. Degenerate fits keep their row, like mclust's NA entries, but are never chosen.
    criterion : the column ``best_`` minimises.
    models_ : dict mapping (n_components, covariance_type) to each fitted estimator.

    Examples
    --------
    >>> import numpy as np
    >>> import emkit
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal([0, 0], 1, (100, 2)), rng.normal([5, 5], 0.5, (50, 2))])
    >>> sel = emkit.select_mixture(X, [1, 2, 3], covariance_types=["full", "spherical"])
    >>> sel.best_.n_components, sel.best_.covariance_type, sel.criterion
    (2, 'spherical', 'bic')
    >>> table = sel.table_.sort_values("bic").head(3)
    >>> print(table[["n_components", "covariance_type", "bic"]].round(1).to_string(index=False))
     n_components covariance_type   bic
                2       spherical 939.5
                3       spherical 949.0
                2            full 956.6
    >>> sel.models_[1, "full"].n_components
    1
    """

    best_: GaussianMixture
    table_: pd.DataFrame
    criterion: str
    models_: dict

    def __repr__(self) -> str:
        best = self.best_
        table = self.table_
        row = (table.n_components == best.n_components) & (
            table.covariance_type == covariance_structure(best.covariance_type).name
        )
        score = float(table.loc[row, self.criterion].iloc[0])
        return (
            f"MixtureSelection(best: {best.n_components} components, "
            f"{best.covariance_type!r}, {self.criterion}={score:.4f})"
        )


def select_mixture(
    X,
    n_components: Iterable[int] = range(1, 10),
    covariance_types: Iterable[str] = ("spherical", "diag", "tied", "full"),
    criterion: str = "bic",
    *,
    estimator: GaussianMixture | None = None,
    callback: Callable[[int, int, GaussianMixture], object] | None = None,
    device: Any = None,
    on_cluster: bool = False,
    **params,
) -> MixtureSelection:
    """Fit a Gaussian mixture for every number of components and covariance type; pick the best.

    Parameters
    ----------
    X : array-like of shape (n, d).
    n_components : numbers of components to try.
    covariance_types : structures to try (full, tied, diag, spherical, or mclust's names).
    criterion : {"bic", "aic", "icl"}, minimised (scikit-learn's sign).
    estimator : template GaussianMixture whose other parameters every fit uses.
    callback : called as ``callback(done, total, fitted)`` after each fit, for progress reports.
    device : None (NumPy), or "cpu", "cuda", "cuda:1" or a ``torch.device``: every fit's E-step
        runs there (:class:`GaussianMixture`'s ``device``); ``X`` in memory is copied to the
        device once for all the fits.
    on_cluster : run the fits as tasks on the active ``dask.distributed`` client (Dask's
        local scheduler without one), ``X`` in memory sent to the workers once; ``callback``
        is then called as the results come back. A dask Array or DataFrame ``X`` needs no
        flag: every fit's EM runs on its workers.
    **params : parameters for the template, e.g. ``n_init=5, random_state=0``.

    Returns
    -------
    MixtureSelection with ``best_`` and ``table_``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from importlib import resources
    >>> import emkit
    >>> X = pd.read_csv(resources.files("emkit") / "data/faithful.csv")
    >>> sel = emkit.select_mixture(X, n_components=range(1, 5), covariance_types=["tied", "full"])
    >>> sel
    MixtureSelection(best: 3 components, 'tied', bic=2314.2957)
    >>> sel.best_.weights_.round(3)
    array([0.168, 0.356, 0.475])
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}; got {criterion!r}")
    template = clone(estimator) if estimator is not None else GaussianMixture(random_state=0)
    template.set_params(**params)
    if device is not None:
        template.set_params(device=device)
    X = _on_device(X, template)
    ks = sorted({int(k) for k in n_components})
    types = [covariance_structure(t).name for t in covariance_types]
    if not ks or not types:
        raise ValueError("n_components and covariance_types must each name at least one choice")
    if is_dask_collection(X):
        X = as_dask_array(X)  # partition sizes counted once for all the fits
    n_rows = (
        X.shape[0]
        if is_device_array(X) or is_dask_collection(X)
        else check_array(X, dtype=None, ensure_all_finite=False).shape[0]
    )
    ks = [k for k in ks if k <= n_rows] or ks[:1]
    rows, models = [], {}
    grid = [(k, cov) for cov in types for k in ks]
    fits: Iterable[tuple[GaussianMixture, dict]] = (
        _fits_on_cluster(template, grid, X)
        if on_cluster
        else (_fit_one(template, k, cov, X) for k, cov in grid)
    )
    for (k, cov), (model, row) in zip(grid, fits, strict=True):
        models[(k, cov)] = model
        rows.append(row)
        if callback is not None:
            callback(len(rows), len(grid), model)
    table = pd.DataFrame(rows)
    eligible = table[~table["degenerate"]]
    if eligible.empty:
        raise ValueError(
            "every fit is degenerate (singular but for regularisation): the data may have a "
            "constant column or many duplicate rows; drop constant columns or raise reg_covar"
        )
    best_row = eligible.loc[eligible[criterion].idxmin()]
    best = models[(int(best_row["n_components"]), best_row["covariance_type"])]
    return MixtureSelection(best, table, criterion, models)


def _fit_one(template: GaussianMixture, k: int, cov: str, X) -> tuple[GaussianMixture, dict]:
    """The template fitted with ``k`` components of structure ``cov``, and its table row."""
    model = clone(template).set_params(n_components=k, covariance_type=cov)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateFitWarning)
        model.fit(X)
    row = {
        "n_components": k,
        "covariance_type": cov,
        "log_likelihood": model.log_likelihood_,
        "n_parameters": model.n_parameters(),
        "bic": model.bic(X),
        "aic": model.aic(X),
        "icl": model.icl(X),
        "degenerate": model.degenerate_,
        "converged": model.converged_,
    }
    return model, row


def _fits_on_cluster(template: GaussianMixture, grid: list, X) -> list:
    """:func:`_fit_one` of every (k, cov) of ``grid``, each a Dask task; ``X`` shipped once."""
    if is_dask_collection(X) or is_device_array(X):
        raise ValueError(
            "on_cluster=True runs the fits of an in-memory X as Dask tasks; with a Dask "
            "collection every fit already runs on its workers, and device= keeps X elsewhere"
        )
    try:
        import dask
    except ImportError:
        raise ImportError('on_cluster=True needs Dask: pip install "emkit[dask]"') from None
    template = clone(template).set_params(callback=None)  # a progress bar stays here
    data = dask.delayed(X, traverse=False)
    tasks = [dask.delayed(_fit_one, pure=True)(template, k, cov, data) for k, cov in grid]
    return list(dask.compute(*tasks))


def _on_device(X, template: GaussianMixture):
    """``X`` copied once to the template's device (rows in memory), else as it is."""
    place = placement(template.device, X, template.dtype)
    if place is None or is_device_array(X):
        return X
    missing = "allow-nan" if template.missing == "em" else True
    return place.rows(check_array(X, dtype=[np.float64, np.float32], ensure_all_finite=missing))
