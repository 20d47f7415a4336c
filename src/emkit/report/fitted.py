"""What a report reads off a fitted Gaussian mixture, whatever its covariance type. Apart
from the figures, so that a summary without a report does not load matplotlib."""

from __future__ import annotations

import numpy as np


def fitted_components(model) -> int:
    """The number of components the fitted model holds, ``len(model.weights_)``: fewer than
    its ``n_components`` parameter where EM dropped some (``prune_weight``, or a
    ``weight_concentration`` below 1 emptying a component)."""
    return int(np.shape(model.weights_)[0])


def full_covariances(model) -> np.ndarray:
    """Each component's covariance matrix, shape (k, d, d), whatever the covariance type.

    The structure's own expansion where the registry knows the type; otherwise (``covariances_``
    already (k, d, d), as mclust's models store them) the array itself.
    """
    from emkit.distributions.gaussian import covariance_structure

    try:
        structure = covariance_structure(model.covariance_type)
        return structure.from_covariances(model.means_, model.covariances_).full_covariances()
    except (ValueError, AttributeError, NotImplementedError):
        cov = np.asarray(model.covariances_, dtype=float)
        k, d = model.means_.shape
        if cov.shape == (k, d, d):
            return cov
        raise
