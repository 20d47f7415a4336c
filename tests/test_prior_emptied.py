"""A component that empties under ``covariance_prior="mclust"`` (iris, VEV, K = 4).

mclust (``mclustBIC(iris[, 1:4], G = 4, modelNames = "VEV", prior = priorControl())``) gives NA
with return code -3, "mixing proportion estimated as zero". VEV's prior gives the volumes no
power (mclust's ``mevevp``), so the emptied component's covariance has no mode: its volume
tr(B_k A^-1) / (d N_k) grows without bound as N_k falls. emkit keeps the component's previous
covariance, reports it as emptied and leaves the fit out of model selection.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris

import emkit
from emkit.distributions.gaussian import covariance_structure
from emkit.distributions.gaussian.constrained import _START
from emkit.exceptions import DegenerateFitWarning

X_IRIS = load_iris().data


def test_emptied_vev_component_keeps_a_finite_covariance():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("error", RuntimeWarning)  # NumPy's, from the M- or E-step
        warnings.simplefilter("always", DegenerateFitWarning)  # a RuntimeWarning too
        gm = emkit.GaussianMixture(
            4, covariance_type="VEV", init_params="hc", covariance_prior="mclust", random_state=0
        ).fit(X_IRIS)
    empty = gm.weights_ <= 1e-10
    assert empty.sum() == 1  # mclust's "mixing proportion estimated as zero"
    np.testing.assert_array_equal(gm.degenerate_components_, empty)
    # Every covariance finite and of the data's scale (the largest data variance is 3.1):
    # before, the emptied one reached an eigenvalue of 1e128.
    eigenvalues = np.linalg.eigvalsh(gm.covariances_)
    assert np.all(np.isfinite(eigenvalues)) and eigenvalues.min() > 0
    assert eigenvalues.max() < 1e6
    assert np.isfinite(gm.log_likelihood_)
    messages = [str(w.message) for w in caught if issubclass(w.category, DegenerateFitWarning)]
    assert len(messages) == 1
    assert "1 of 4 components emptied" in messages[0]
    assert "mixing proportion estimated as zero" in messages[0]
    assert "constant column" not in messages[0] and "collapsed" not in messages[0]


def test_select_mixture_leaves_the_emptied_fit_out():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", DegenerateFitWarning)
        with pytest.raises(ValueError, match="emptied a component") as raised:
            emkit.select_mixture(
                X_IRIS, n_components=[4], covariance_types=["VEV"], covariance_prior="mclust"
            )
        assert "constant column" not in str(raised.value)
        assert "no covariance_prior" in str(raised.value)
        selection = emkit.select_mixture(
            X_IRIS, n_components=[3, 4], covariance_types=["VEV"], covariance_prior="mclust"
        )
    table = selection.table_.set_index("n_components")
    assert table.loc[4, "degenerate"] and not table.loc[3, "degenerate"]  # mclust: NA at 4
    assert selection.best_.n_components == 3


def test_vev_mode_of_an_emptied_component_is_the_limit():
    """Held components: the solver's answer with the emptied one dropped, the limit as its
    m_k -> 0 (its share B_k / lambda_k of the shape vanishes); emptied: the previous one."""
    rng = np.random.default_rng(0)
    k, d = 3, 3
    a = rng.normal(size=(k, d, d))
    numerators = a @ np.swapaxes(a, 1, 2) + np.eye(d)
    previous = np.stack([np.eye(d) * (j + 1.0) for j in range(k)])
    structure = covariance_structure("VEV", d)
    m = np.array([40.0, 1e-13, 25.0])
    token = _START.set(previous)
    try:
        got = structure.niw_covariances(numerators, m)
        held = structure.niw_covariances(numerators[[0, 2]], m[[0, 2]])
        near = structure.niw_covariances(numerators, np.array([40.0, 1e-7, 25.0]))
    finally:
        _START.reset(token)
    np.testing.assert_array_equal(got[1], previous[1])
    np.testing.assert_allclose(got[[0, 2]], held, rtol=1e-7)
    np.testing.assert_allclose(near[[0, 2]], held, rtol=1e-5)  # the limit it stands for
