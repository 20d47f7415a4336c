"""``emkit fit --standardize``: fit to z-scores, write the model back in the data's units.

Only the standard library is imported at module level: ``emkit --help`` must not wait.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


def standardize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z-scores of ``x`` (n, d; NaN kept), with the centre and scale (d,) used."""
    import numpy as np

    centre = np.nanmean(x, axis=0)
    scale = nonzero_scale(np.nanstd(x, axis=0))
    return (x - centre) / scale, centre, scale


def nonzero_scale(std: np.ndarray) -> np.ndarray:
    """The columns' standard deviations (population, ddof 0) with 1 for a constant column."""
    import numpy as np

    return np.where(std > 0, std, 1.0)


# The structure that holds a z-score fit's covariances in the data's units, where it is another:
# z = (x - centre) / scale maps a covariance C to S C S (S = diag(scale)). That keeps diagonal
# matrices diagonal and equal volumes equal (each determinant gains det(S)^2), a common matrix
# common, and a common shape and orientation common up to volume (VEE); it keeps neither
# roundness nor a shape or an orientation shared apart from the rest. A round covariance
# lambda_k I becomes lambda_k S^2: one shape, S^2 over its volume, for every component (VEI).
IN_DATA_UNITS = {
    "EII": "EEI",
    "spherical": "VEI",
    "EVE": "EVV",
    "EEV": "EVV",
    "VEV": "full",
    "VVE": "full",
}


def in_data_units(model, centre: np.ndarray, scale: np.ndarray, x: Any):
    """The mixture fitted to z-scores, written for data in its own units (``x``: the rows,
    (n, d), in memory or a Dask collection, on which the rebuilt model is evaluated).

    The map z = (x - centre) / scale is affine, so component k becomes N(centre + scale *
    mean_k, S Sigma_k S) with S = diag(scale): the same posteriors for every row. Where the
    structure does not hold S Sigma_k S (:data:`IN_DATA_UNITS`: a round covariance is not
    round in the data's units, a shared orientation is not shared) the model comes back in
    the smallest mclust structure that does (with more parameters: see
    :func:`structure_note`). The model is rebuilt with those parameters and no EM step
    (``max_iter=0``).
    """
    import numpy as np

    from emkit.distributions.gaussian import covariance_structure

    structure = covariance_structure(model.covariance_type)
    full = structure.from_covariances(model.means_, model.covariances_).full_covariances()
    full = full * scale[None, :, None] * scale[None, None, :]  # (k, d, d)
    k, d = model.means_.shape
    covariance_type = (
        structure.name if d == 1 else IN_DATA_UNITS.get(structure.name, structure.name)
    )
    target = covariance_structure(covariance_type, d)
    layout = target.parameter_shape(k, d)  # (d, d) tied, (k, d, d), (k, d) diagonal, (k,) round
    if target.name == "tied":
        precisions = np.linalg.inv(full[0])
    elif len(layout) == 3:
        precisions = np.linalg.inv(full)
    elif len(layout) == 2:
        precisions = 1.0 / np.diagonal(full, axis1=1, axis2=2)
    else:  # one dimension, where a variance is a 1 x 1 matrix
        precisions = 1.0 / full[:, 0, 0]
    max_iter = model.max_iter
    rebuilt = copy.deepcopy(model).set_params(
        covariance_type=covariance_type,
        weights_init=model.weights_,
        means_init=centre + scale * model.means_,
        precisions_init=precisions,
        max_iter=0,
        callback=None,
    )
    rebuilt.fit(x)
    return rebuilt.set_params(
        weights_init=None, means_init=None, precisions_init=None, max_iter=max_iter
    )


def structure_note(fitted, written) -> str:
    """A line for a fit to z-scores whose model file holds another structure
    (:func:`in_data_units`), or "" where it holds the fitted one."""
    from emkit.distributions.gaussian import covariance_structure

    was = covariance_structure(fitted.covariance_type).name
    now = covariance_structure(written.covariance_type).name
    if was == now:
        return ""
    more = written.n_parameters() - fitted.n_parameters()
    return (
        f"model.json holds the {was!r} fit as {now!r}: its covariances in the data's units are "
        f"not {was!r} ones. The same densities; its bic(X) and aic(X) count {more} parameter"
        f"{'s' if more != 1 else ''} more than the figures above."
    )


def log_jacobian(observed: np.ndarray, scale: np.ndarray) -> float:
    """``sum_j observed_j * log(scale_j)``: what the log-likelihood of z-scores exceeds that of
    the same rows in the data's units by, for ``observed`` (d,) values seen in each column
    (n each where none is missing) and the columns' ``scale`` (d,): the density of a row is
    that of its z-scores divided by the product of the scales of its observed entries."""
    import numpy as np

    return float(np.asarray(observed, dtype=np.float64) @ np.log(scale))


def selection_in_data_units(selection, jacobian: float):
    """``selection`` (:class:`emkit.MixtureSelection` of a fit to z-scores) with the
    log-likelihoods, BIC, AIC and ICL of its table and best model in the data's units:
    log-likelihoods less ``jacobian`` (:func:`log_jacobian`), criteria (-2 log L + penalty)
    plus twice it, so that they compare with a fit to the data as they are and with the
    model file. The differences between fits, and so the choice, do not change."""
    import dataclasses

    import numpy as np

    table = selection.table_.copy()
    table["log_likelihood"] = table["log_likelihood"] - jacobian
    for criterion in ("bic", "aic", "icl"):
        table[criterion] = table[criterion] + 2.0 * jacobian
    best = copy.copy(selection.best_)
    best.log_likelihood_ = best.log_likelihood_ - jacobian
    best.history_ = np.asarray(best.history_, dtype=np.float64) - jacobian
    return dataclasses.replace(selection, best_=best, table_=table)
