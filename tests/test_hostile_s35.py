"""A demanding new user's probes (session 35): each reproduces a defect that was found, and
now passes."""

from __future__ import annotations

import numpy as np
import pytest

import emkit


def blobs(n=60, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return np.r_[rng.normal(0, 1, (n // 2, d)), rng.normal(6, 1, (n - n // 2, d))]


# ---- save writes only a file that load reads back -------------------------------------


@pytest.mark.parametrize(
    ("make", "change"),
    [
        (lambda x: emkit.GaussianMixture(2, random_state=0).fit(x), {"covariance_type": "diag"}),
        (lambda x: emkit.GaussianMixture(2, random_state=0).fit(x), {"covariance_type": "VEV"}),
        (lambda x: emkit.GaussianMixture(2, random_state=0).fit(x), {"n_components": 3}),
        (lambda x: emkit.KMeans(2, random_state=0).fit(x), {"n_clusters": 3}),
        (
            lambda x: emkit.MixtureModel([emkit.Normal(), emkit.Normal()], random_state=0).fit(
                x[:, :1]
            ),
            {"components": [emkit.Gamma(), emkit.Gamma()]},
        ),
    ],
    ids=["gm-diag", "gm-VEV", "gm-k", "kmeans-k", "mixture-families"],
)
def test_save_refuses_a_model_whose_parameters_changed_after_fit(tmp_path, make, change):
    # set_params after fit changed what the parameters say without refitting: save wrote the
    # file, and emkit.load then refused it as "a damaged or hand-edited model file".
    model = make(blobs())
    path = tmp_path / "model.json"
    model.save(path)
    before = path.read_bytes()
    model.set_params(**change)
    with pytest.raises(ValueError, match=r"set_params.*fit again") as caught:
        model.save(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == before  # the good file is kept, nothing half-written
    with pytest.raises(ValueError, match="fit again"):
        model.save(tmp_path / "other.json")
    assert not (tmp_path / "other.json").exists()
    emkit.load(path)  # the file written before the change still loads


def test_a_refit_after_set_params_saves_and_loads(tmp_path):
    x = blobs()
    model = emkit.GaussianMixture(2, random_state=0).fit(x)
    model.set_params(covariance_type="diag").fit(x)
    model.save(tmp_path / "model.json")
    loaded = emkit.load(tmp_path / "model.json")
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
