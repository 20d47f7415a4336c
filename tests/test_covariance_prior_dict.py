"""GaussianMixture's ``covariance_prior`` dict against the documented one-step MAP update.

Each dict either gives the full-covariance normal-inverse-Wishart M-step of
:class:`~emkit.distributions.priors.NormalInverseWishart`, computed here by hand from the
E-step of a fixed start,

    mu_k = (N_k xbar_k + kappa mu_0) / (N_k + kappa),
    Sigma_k = (Lambda + S_k + kappa N_k / (kappa + N_k) (xbar_k - mu_0)(xbar_k - mu_0)^T)
              / (N_k + nu + d + 1 + [kappa > 0]),

with the keys it leaves out taken from mclust's data-based prior (data mean, 0.01, d + 2,
data covariance / K^(2/d)), or is refused with a ValueError naming the key, its shape and d.
"""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from emkit import GaussianMixture, NormalInverseWishart

X = pd.read_csv(Path(__file__).parent / "data" / "mclust" / "iris.csv").to_numpy(dtype=float)
N, D = X.shape
K = 3
MEANS0 = X[[0, 60, 120]]
WEIGHTS0 = np.array([0.3, 0.3, 0.4])
COV0 = np.array([np.cov(X.T)] * K)


def _estep():
    """Responsibility totals N_k (k,), weighted means (k, d) and centred scatters (k, d, d)."""
    log = np.column_stack(
        [np.log(WEIGHTS0[k]) + multivariate_normal(MEANS0[k], COV0[k]).logpdf(X) for k in range(K)]
    )
    resp = np.exp(log - logsumexp(log, axis=1, keepdims=True))  # (n, k)
    nk = resp.sum(axis=0)
    xbar = resp.T @ X / nk[:, None]
    scatter = np.array([(resp[:, k, None] * (X - xbar[k])).T @ (X - xbar[k]) for k in range(K)])
    return nk, xbar, scatter


def _closed_form(mean, shrinkage, dof, scale):
    nk, xbar, scatter = _estep()
    means = (nk[:, None] * xbar + shrinkage * mean) / (nk + shrinkage)[:, None]
    gap = xbar - mean
    shrink = shrinkage * nk / (shrinkage + nk)
    b = scale + scatter + shrink[:, None, None] * gap[:, :, None] * gap[:, None, :]
    t = 1.0 if shrinkage > 0 else 0.0
    return means, b / (nk + dof + D + 1 + t)[:, None, None]


def _one_step(prior):
    gm = GaussianMixture(
        K,
        reg_covar=0.0,
        max_iter=1,
        accelerate=None,
        covariance_prior=prior,
        weights_init=WEIGHTS0,
        means_init=MEANS0,
        precisions_init=np.linalg.inv(COV0),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one iteration does not converge
        return gm.fit(X)


DATA_MEAN = X.mean(axis=0)
MCLUST_SCALE = np.cov(X.T) / K ** (2 / D)  # mclust's full-covariance default scale
MU0 = np.array([5.0, 3.0, 4.0, 1.0])

# (dict, the (mean, shrinkage, dof, scale) it stands for)
ACCEPTED = {
    "every-key": (
        {"mean": MU0, "shrinkage": 0.3, "dof": 6.0, "scale": 2 * np.eye(D)},
        (MU0, 0.3, 6.0, 2 * np.eye(D)),
    ),
    "scalar-scale": (
        {"mean": list(MU0), "shrinkage": 0.0, "dof": 6.0, "scale": 2.0},
        (MU0, 0.0, 6.0, 2 * np.eye(D)),
    ),
    "scale-only": ({"scale": 2.0}, (DATA_MEAN, 0.01, D + 2.0, 2 * np.eye(D))),
    "dof-only": ({"dof": 6.0}, (DATA_MEAN, 0.01, 6.0, MCLUST_SCALE)),
    "shrinkage-0-dof": ({"shrinkage": 0.0, "dof": 6.0}, (DATA_MEAN, 0.0, 6.0, MCLUST_SCALE)),
    "empty": ({}, (DATA_MEAN, 0.01, D + 2.0, MCLUST_SCALE)),
    "dof-just-above-d-1": (
        {"mean": MU0, "shrinkage": 0.1, "dof": D - 1 + 1e-3, "scale": np.eye(D)},
        (MU0, 0.1, D - 1 + 1e-3, np.eye(D)),
    ),
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_dict_prior_is_the_closed_form_update(name):
    spec, values = ACCEPTED[name]
    gm = _one_step(spec)
    means, covariances = _closed_form(*values)
    np.testing.assert_allclose(gm.means_, means, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gm.covariances_, covariances, rtol=0, atol=1e-12)


def test_empty_dict_is_mclusts_prior():
    a, b = _one_step({}), _one_step("mclust")
    np.testing.assert_array_equal(a.covariances_, b.covariances_)
    np.testing.assert_array_equal(a.means_, b.means_)


REFUSED = {
    # the QA report's 1 x 1 scale on 4-D data, silently read as a rank-one all-2 matrix
    "scale-1x1": ({"shrinkage": 0.0, "dof": 6.0, "scale": [[2.0]]}, r"\['scale'\].*\(1, 1\)"),
    "mean-and-scale-2d": (
        {"mean": [5, 3], "scale": np.eye(2)},
        r"\['mean'\] has shape \(2,\)",
    ),
    "scale-2x2": ({"mean": MU0, "scale": np.eye(2)}, r"\['scale'\] has shape \(2, 2\)"),
    "mean-scalar": ({"mean": 5.0}, r"\['mean'\] has shape \(\)"),
    "mean-5": ({"mean": np.zeros(5)}, r"\['mean'\] has shape \(5,\)"),
    "scale-vector": ({"scale": np.ones(D)}, r"\['scale'\] has shape \(4,\)"),
    "dof-vector": ({"dof": [6.0, 6.0]}, r"\['dof'\] has shape \(2,\)"),
    "dof-d-1": ({"dof": D - 1.0}, r"dof must be > d - 1 = 3 for d = 4"),
    "dof-below": ({"dof": 0.5, "scale": 1.0}, r"dof must be > d - 1 = 3 for d = 4"),
    "unknown-key": ({"df": 6.0}, r"unknown keys \['df'\]"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_dict_prior_that_does_not_fit_is_refused(name):
    spec, message = REFUSED[name]
    with pytest.raises(ValueError, match=message) as raised:
        GaussianMixture(K, covariance_prior=spec, random_state=0).fit(X)
    text = str(raised.value)
    assert "broadcast" not in text
    if "shape" in message:
        assert "d = 4 features" in text


def test_niw_refuses_dof_at_or_below_d_minus_one():
    for d in (1, 3):
        with pytest.raises(ValueError, match=rf"dof must be > d - 1 = {d - 1} for d = {d}"):
            NormalInverseWishart(np.zeros(d), 0.0, d - 1.0, np.eye(d))
        assert NormalInverseWishart(np.zeros(d), 0.0, d - 0.999, np.eye(d)).dof == d - 0.999
