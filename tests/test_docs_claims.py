"""Behaviours that docstrings and the user guide state, checked as stated."""

import warnings
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from emkit import Exponential, Gamma, GaussianMixture, MixtureModel
from emkit.exceptions import DegenerateFitWarning, MonotonicityWarning

FAITHFUL = pd.read_csv(resources.files("emkit") / "data/faithful.csv").to_numpy()


def test_a_raised_ridge_lowers_history_by_half_the_weight_per_flat_direction():
    # GaussianMixture's reg_covar: with reg_covar=0 and a constant column, the M-step raises
    # the ridge c; its prior term -c/2 tr(Sigma_k^-1) is -N_k/2 in the flat direction.
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=(200, 2)), np.full(200, 3.0)]
    X[100:, :2] += 5
    w = rng.integers(1, 3, size=200).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MonotonicityWarning)
        warnings.simplefilter("ignore", DegenerateFitWarning)
        gm = GaussianMixture(2, covariance_type="VVV", reg_covar=0.0, random_state=0)
        gm.fit(X, sample_weight=w)
    assert tuple(gm.structure_changes_) == (1,)
    # the fall at step 1: N / 2, less what the step gained in log-likelihood
    assert gm.history_[0] - gm.history_[1] == pytest.approx(w.sum() / 2, rel=1e-3)
    assert gm.log_likelihood_ - gm.history_[-1] == pytest.approx(w.sum() / 2, rel=1e-6)


@pytest.mark.parametrize(
    "option",
    [
        {"covariance_prior": "mclust"},
        {"weight_concentration": 0.5},
        {"assignment": "hard"},
        {"prune_weight": 0.1},
    ],
)
def test_missing_em_refuses_map_and_classification_options(option):
    X = np.random.default_rng(0).normal(size=(50, 2))
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="missing='em' supports maximum likelihood"):
        GaussianMixture(2, missing="em", random_state=0, **option).fit(X)


def test_gamma_support_excludes_zero():
    assert Gamma(shape=[0.5], rate=[1.0]).log_prob(np.array([[0.0]]))[0] == -np.inf
    rng = np.random.default_rng(0)
    X = np.r_[rng.gamma(0.5, 1, (100, 1)), rng.exponential(3, (100, 1))]
    X[0, 0] = 0.0
    mixed = MixtureModel([Gamma(), Exponential()], random_state=0).fit(X)
    assert mixed.predict_proba(X[:1])[0].tolist() == [0.0, 1.0]  # the Exponential takes it
    with pytest.raises(ValueError, match="Zeros in data: a Gamma component"):
        MixtureModel([Gamma(), Gamma()], random_state=0).fit(X)
    gammas = MixtureModel([Gamma(), Gamma()], random_state=0).fit(X[1:])
    assert gammas.score_samples(X[:1])[0] == -np.inf
    with pytest.raises(ValueError, match="outside the support of every component"):
        gammas.predict(X[:1])


@pytest.mark.parametrize("init", ["k-means++", "kmeans", "random", "random_from_data"])
def test_random_starts_differ_between_weights_and_repeated_rows(init):
    # GaussianMixture's init_params: "random" and "random_from_data" draw per row as given.
    w = np.random.default_rng(0).integers(0, 4, len(FAITHFUL))
    repeated = np.repeat(FAITHFUL, w, axis=0)
    kw = {"init_params": init, "random_state": 0, "max_iter": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = GaussianMixture(3, **kw).fit(FAITHFUL, sample_weight=w)
        b = GaussianMixture(3, **kw).fit(repeated)
    same = np.allclose(np.sort(a.means_, axis=0), np.sort(b.means_, axis=0), rtol=1e-10)
    assert same == (init in ("k-means++", "kmeans"))
