"""More components than distinct rows: every structure fits, as scikit-learn does, and warns.

Two points repeated 50 times each and K = 3 or 4: the starting clusters beyond two get no rows,
and the covariance of all the data, which would stand in for theirs, is singular (the points lie
on a line). A structure whose clusters own their covariance (VVV, VVI, VII) then had none,
(S + cI) / 0, and the ridge rose to 1e34 before a LinAlgError blamed non-finite data.
"""

import itertools
import warnings

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SklearnMixture

from emkit import GaussianMixture
from emkit.exceptions import DegenerateFitWarning

STRUCTURES = "EII VII EEI VEI EVI VVI EEE VEE EVE VVE EEV VEV EVV VVV".split()
DIAGONAL_LINE = np.repeat([[0.0, 0.0], [1.0, 1.0]], 50, axis=0)
CONSTANT_COLUMN = np.repeat([[0.0, 5.0], [1.0, 5.0]], 50, axis=0)  # diagonal pooled singular
POINTS = {"line": DIAGONAL_LINE, "constant column": CONSTANT_COLUMN}


def _sklearn_weights(x, k, covariance_type):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its ConvergenceWarning on collapsed components
        fit = SklearnMixture(k, covariance_type=covariance_type, random_state=0).fit(x)
    return np.sort(fit.weights_)


def _fit(x, k, **options):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = GaussianMixture(k, random_state=0, **options).fit(x)
    messages = [str(w.message) for w in caught if issubclass(w.category, DegenerateFitWarning)]
    return fit, messages


def _check_two_points(fit, x, k, messages):
    """Half the weight on each of the two points, the other K - 2 components emptied, flagged
    and named in the warning."""
    points = np.unique(x, axis=0)
    held = fit.weights_ > 1e-8
    assert held.sum() == 2
    at = np.abs(fit.means_[held][:, None, :] - points[None]).max(axis=2).argmin(axis=1)
    assert sorted(at) == [0, 1]
    np.testing.assert_allclose(fit.weights_[held], 0.5, atol=1e-8)
    assert fit.degenerate_components_[~held].all()
    assert any(f"{k - 2} of {k} components emptied" in m for m in messages), messages


@pytest.mark.parametrize(
    ("k", "reg_covar", "accelerate", "init_params"),
    list(
        itertools.product(
            (3, 4), (1e-6, 0.0), ("squarem", None), ("k-means++", "kmeans", "random_from_data")
        )
    ),
)
def test_full_with_more_components_than_points_matches_sklearn(
    k, reg_covar, accelerate, init_params
):
    fit, messages = _fit(
        DIAGONAL_LINE, k, reg_covar=reg_covar, accelerate=accelerate, init_params=init_params
    )
    np.testing.assert_allclose(
        np.sort(fit.weights_), _sklearn_weights(DIAGONAL_LINE, k, "full"), atol=1e-8
    )
    _check_two_points(fit, DIAGONAL_LINE, k, messages)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
@pytest.mark.parametrize("points", sorted(POINTS))
def test_sklearn_names_with_more_components_than_points(covariance_type, points):
    x = POINTS[points]
    fit, messages = _fit(x, 3, covariance_type=covariance_type)
    np.testing.assert_allclose(
        np.sort(fit.weights_), _sklearn_weights(x, 3, covariance_type), atol=1e-8
    )
    assert fit.degenerate_components_.any() and messages


@pytest.mark.parametrize("points", sorted(POINTS))
@pytest.mark.parametrize("structure", STRUCTURES)
def test_every_structure_fits_more_components_than_points(structure, points):
    x = POINTS[points]
    fit, messages = _fit(x, 3, covariance_type=structure)
    held = fit.weights_ > 1e-8
    # The equal-volume structures may split one point between two identical components (the
    # same likelihood); the weight at each point is still one half.
    points_of = np.abs(fit.means_[held][:, None, :] - np.unique(x, axis=0)[None]).max(axis=2)
    assert points_of.min(axis=1).max() < 1e-6
    at = points_of.argmin(axis=1)
    np.testing.assert_allclose(np.bincount(at, fit.weights_[held], minlength=2), 0.5, atol=1e-8)
    assert fit.degenerate_components_.any() and messages
    assert np.isfinite(fit.score(x))


def test_full_user_means_with_more_components_than_points():
    fit, messages = _fit(
        DIAGONAL_LINE,
        3,
        weights_init=[0.4, 0.4, 0.2],
        means_init=[[0.0, 0.0], [1.0, 1.0], [0.5, 0.5]],
    )
    np.testing.assert_allclose(
        np.sort(fit.weights_), _sklearn_weights(DIAGONAL_LINE, 3, "full"), atol=1e-8
    )
    _check_two_points(fit, DIAGONAL_LINE, 3, messages)


def test_full_on_torch_cpu_with_more_components_than_points():
    pytest.importorskip("torch")
    fit, messages = _fit(DIAGONAL_LINE, 3, device="cpu")
    np.testing.assert_allclose(
        np.sort(fit.weights_), _sklearn_weights(DIAGONAL_LINE, 3, "full"), atol=1e-8
    )
    _check_two_points(fit, DIAGONAL_LINE, 3, messages)
