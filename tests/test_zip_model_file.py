"""A ZeroInflatedPoisson file's Wald block: ``stderr_`` must be the square roots of the
diagonal of ``covariance_``, which must be an inverse information (symmetric, positive
definite, NaN only in whole rows and columns of parameters on their boundary)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import emkit
from emkit.exceptions import ModelFileError


def _saved(model, tmp_path, edit=None):
    path = tmp_path / "zip.json"
    model.save(path)
    if edit is not None:
        document = json.loads(path.read_text())
        edit(document["attributes"])
        path.write_text(json.dumps(document))
    return path


def _array(values):
    values = np.asarray(values, dtype=float)
    data = values.ravel().tolist()  # NaN as JSON's NaN, as save writes it
    return {"__array__": True, "dtype": "<f8", "shape": list(values.shape), "data": data}


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    counts = np.where(rng.uniform(size=500) < 0.3, 0, rng.poisson(2.5, 500))
    return emkit.ZeroInflatedPoisson().fit(counts[:, None])


def test_standard_errors_that_disagree_with_the_covariance_are_refused(fitted, tmp_path):
    """stderr_ of [5, 7] loaded beside a covariance_ whose diagonal gives [0.024, 0.092]."""

    def edit(attributes):
        attributes["stderr_"] = _array([5.0, 7.0])

    with pytest.raises(ModelFileError, match=r"'attributes.stderr_'.*square roots"):
        emkit.load(_saved(fitted, tmp_path, edit))


@pytest.mark.parametrize(
    ("covariance", "message"),
    [
        ([[-1.0, 0.5], [0.2, -3.0]], "not symmetric"),
        ([[1.0, 2.0], [2.0, 1.0]], "not positive definite"),
        ([[np.nan, 0.1], [0.1, 1.0]], "whole rows and columns"),
    ],
    ids=["asymmetric", "indefinite", "partial_nan"],
)
def test_a_covariance_that_is_no_inverse_information_is_refused(
    fitted, tmp_path, covariance, message
):
    def edit(attributes):
        attributes["covariance_"] = _array(covariance)
        diagonal = np.diagonal(np.asarray(covariance))
        attributes["stderr_"] = _array(np.sqrt(np.abs(diagonal)))

    with pytest.raises(ModelFileError, match=f"'attributes.covariance_'.*{message}"):
        emkit.load(_saved(fitted, tmp_path, edit))


def test_a_boundary_fit_with_nan_rows_loads_back_as_saved(tmp_path):
    """No more zeros than a Poisson expects: pi's row and column are NaN, the rate's block
    that of the Poisson alone, rate / n; such a file loads, with the same values."""
    counts = np.random.default_rng(1).poisson(3.0, (400, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = emkit.ZeroInflatedPoisson().fit(counts)
    assert np.isnan(model.stderr_[0])
    assert model.stderr_[1] == pytest.approx(np.sqrt(model.rate_[0] / 400), rel=1e-12)
    loaded = emkit.load(_saved(model, tmp_path))
    np.testing.assert_array_equal(loaded.covariance_, model.covariance_)
    np.testing.assert_array_equal(loaded.stderr_, model.stderr_)


def test_a_column_without_a_positive_count_loads_back_as_saved(tmp_path):
    """A column of zeros has the rate 0 (its MLE, on the boundary: NaN in the Wald block);
    the file such a fit saves was refused ('rate_ holds a value that is not positive').
    Loaded, it scores as the fit does; a negative rate is still refused."""
    rng = np.random.default_rng(0)
    counts = np.where(rng.uniform(size=300) < 0.3, 0, rng.poisson(2.0, 300))
    x = np.column_stack([counts, np.zeros(300)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = emkit.ZeroInflatedPoisson().fit(x)
    assert model.rate_[1] == 0.0 and np.isnan(model.stderr_[2])
    loaded = emkit.load(_saved(model, tmp_path))
    np.testing.assert_array_equal(loaded.rate_, model.rate_)
    np.testing.assert_array_equal(loaded.stderr_, model.stderr_)
    np.testing.assert_array_equal(loaded.score_samples(x), model.score_samples(x))

    def edit(attributes):
        attributes["rate_"] = _array([model.rate_[0], -1.0])

    with pytest.raises(ModelFileError, match=r"'attributes.rate_'.*negative"):
        emkit.load(_saved(model, tmp_path, edit))


def test_a_point_mass_moved_off_zero_is_refused(fitted, tmp_path):
    emkit.load(_saved(fitted, tmp_path))  # as saved, it loads

    def moved(attributes):
        attributes["component_params_"][0]["value"] = 1.0

    with pytest.raises(ModelFileError, match=r"'attributes.component_params_\[0\]'.*'value': 0"):
        emkit.load(_saved(fitted, tmp_path, moved))
