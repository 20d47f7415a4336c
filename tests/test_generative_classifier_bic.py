"""``GenerativeClassifier``'s criteria (``log_prob``, ``n_parameters``, ``bic``, ``aic``)
against R's mclust 6.0.0, stored by ``tests/reference/mclustda_bic.R``: ``MclustDA(modelType =
"EDDA")`` on iris and thyroid for each of the 14 models, and ``MclustSSC`` (the semi-supervised
fit) on iris with a fifth of the rows labelled, and with three or four. mclust's BIC is 2
loglik - df log n (higher is better); emkit's is scikit-learn's, -2 loglik + df log n."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.exceptions import NotFittedError

import emkit
from emkit.distributions.gaussian import MCLUST_MODELS, covariance_structure

HERE = Path(__file__).parent
REFERENCE = pd.read_csv(HERE / "reference" / "mclustda_bic.csv")
DATA = {
    "iris": (
        pd.read_csv(HERE / "data" / "mclust" / "iris.csv").to_numpy(dtype=float),
        np.repeat([0, 1, 2], 50),
    ),
    "thyroid": (  # Normal, Hyper, Hypo in the data's order: unequal class proportions
        pd.read_csv(HERE / "data" / "mclust" / "thyroid.csv").to_numpy(dtype=float),
        np.repeat([0, 1, 2], [150, 35, 30]),
    ),
}
# mclust's M-steps of VEE and EVE iterate to a relative change of sqrt(eps); its VVE's stops
# short of the maximum (tests/test_generative_classifier_mclust.py). The other models' fits are
# closed forms (or, VEI and VEV, iterations run to agreement) and agree to rounding.
RTOL = {"VEE": 1e-5, "EVE": 1e-5}


def _r(data: str, kind: str, model: str, what: str) -> float:
    row = REFERENCE[
        (REFERENCE.data == data)
        & (REFERENCE.type == kind)
        & (REFERENCE.model == model)
        & (REFERENCE.what == what)
    ]
    return float(row.value.iloc[0])


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("model", MCLUST_MODELS)
def test_criteria_are_mclustda_edda(data, model):
    X, y = DATA[data]
    n, d = X.shape
    fit = emkit.GenerativeClassifier(model, reg_covar=0.0).fit(X, y)
    # mclust 6.0.0's df: d k means and the covariance parameters; 6.1.1 added the k - 1 class
    # proportions ("Corrected computation of df"), as emkit counts and MclustSSC always did.
    df = round(_r(data, "EDDA", model, "df"))
    assert fit.n_parameters() == df + 2
    assert fit.n_parameters() == 2 + 3 * d + covariance_structure(model).n_covariance_parameters(
        3, d
    )
    loglik, bic = _r(data, "EDDA", model, "loglik"), _r(data, "EDDA", model, "bic")
    joint = _r(data, "EDDA", model, "joint")  # sum_n log prop_y f_y(x_n) by R's dens()
    ours_joint = fit.log_prob(X, y).sum()
    if model == "VVE":  # emkit's fit climbs higher than mclust's: its criteria are better
        assert ours_joint > joint + 0.4
        assert fit.bic(X, y) < -2 * joint + fit.n_parameters() * np.log(n) - 0.8
        return
    rtol = RTOL.get(model, 1e-9)
    # Without y: MclustDA's loglik, the mixture of the class densities; its bic with the
    # priors counted (6.1.1's df), sign flipped.
    assert fit.log_prob(X).sum() == pytest.approx(loglik, rel=rtol)
    assert fit.bic(X) == pytest.approx(-bic + 2 * np.log(n), rel=rtol)
    assert fit.aic(X) == pytest.approx(-2 * loglik + 2 * (df + 2), rel=rtol)
    # With y: the joint log-likelihood, the fit's own objective.
    assert ours_joint == pytest.approx(joint, rel=rtol)
    assert ours_joint == pytest.approx(fit.log_likelihood_, rel=1e-12)
    assert fit.bic(X, y) == pytest.approx(-2 * joint + (df + 2) * np.log(n), rel=rtol)
    assert fit.aic(X, y) == pytest.approx(-2 * joint + 2 * (df + 2), rel=rtol)


@pytest.mark.parametrize("data", DATA)
@pytest.mark.parametrize("labelled", [False, True])
def test_bic_chooses_mclustda_edda_model(data, labelled):
    """mclust's EDDA picks VEV for iris and VVI for thyroid from the 14; so does emkit's BIC,
    with y (joint) or without (MclustDA's mixture log-likelihood)."""
    X, y = DATA[data]
    scores = [
        emkit.GenerativeClassifier(model, reg_covar=0.0).fit(X, y).bic(X, y if labelled else None)
        for model in MCLUST_MODELS
    ]
    chosen = REFERENCE[(REFERENCE.data == data) & (REFERENCE.what == "chosen")].model.iloc[0]
    assert MCLUST_MODELS[int(np.argmin(scores))] == chosen


@pytest.mark.parametrize("model", ["EII", "VII", "EEI", "VVI", "EEE", "VVV"])
def test_semi_supervised_criteria_are_mclustssc(model):
    """Rows 1, 6, 11, ... of iris labelled, the rest -1: MclustSSC's loglik counts labelled rows
    by log prop_y f_y(x) and unlabelled ones by log sum_k prop_k f_k(x), its df the priors, means
    and covariance parameters, and its n every row; emkit's bic(X, y) is the same number."""
    X, y = DATA["iris"]
    semi = np.where(np.arange(150) % 5 == 0, y, -1)
    fit = emkit.GenerativeClassifier(model, reg_covar=0.0, tol=1e-13).fit(X, semi)
    assert fit.converged_
    assert fit.n_parameters() == round(_r("iris", "SSC", model, "df"))
    loglik = _r("iris", "SSC", model, "loglik")
    # mclust stops at an absolute gain of 1e-12 from a different start; emkit is at or above.
    assert fit.log_likelihood_ == pytest.approx(loglik, rel=1e-6)
    assert fit.log_likelihood_ >= loglik - 1e-9
    assert fit.log_prob(X, semi).sum() == pytest.approx(fit.log_likelihood_, rel=1e-12)
    assert fit.bic(X, semi) == pytest.approx(-_r("iris", "SSC", model, "bic"), rel=1e-6)
    # Every row unlabelled: the mixture log-likelihood, as without y.
    assert fit.bic(X, np.full(150, -1)) == pytest.approx(fit.bic(X), rel=1e-14)


@pytest.mark.parametrize("labelled", [(0, 50, 100), (0, 1, 50, 100)])
@pytest.mark.parametrize("model", ["EII", "VII", "EEI", "VVI", "EEE", "VVV"])
def test_semi_supervised_fit_from_at_most_d_plus_one_labelled_rows_is_mclustssc(labelled, model):
    """One labelled row per class (and a second of the first class) of iris, d = 4: a class of
    one row cannot estimate its covariance, and with no more than d + 1 labelled rows its start
    kept a variance of reg_covar (EM then stuck near the row, or with reg_covar=0 raised a
    LinAlgError). Its start now has the covariance of every row, and EM reaches MclustSSC's
    fit (started from the M-step of every row, unlabelled ones at 1/G), or a higher one."""
    X, y = DATA["iris"]
    semi = np.full(150, -1)
    semi[list(labelled)] = y[list(labelled)]
    loglik = _r("iris", f"SSC{len(labelled)}", model, "loglik")
    fit = emkit.GenerativeClassifier(model, reg_covar=0.0, tol=1e-13).fit(X, semi)
    assert fit.converged_
    assert fit.log_likelihood_ >= loglik - 1e-9
    if (model, len(labelled)) == ("VVI", 3):
        # mclust's start climbs to a lower maximum here (-307.511 against -307.220)
        assert fit.log_likelihood_ > loglik + 0.25
    else:
        assert fit.log_likelihood_ == pytest.approx(loglik, rel=1e-7)
    default = emkit.GenerativeClassifier(model).fit(X, semi)  # reg_covar=1e-6
    assert default.log_likelihood_ == pytest.approx(fit.log_likelihood_, rel=1e-5)


def test_log_prob_by_scipy_with_string_classes_and_unlabelled_rows():
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(0, 1, (40, 2)), rng.normal(2, 1.5, (60, 2))])
    y = np.repeat(np.array(["a", "b"], dtype=object), [40, 60])
    fit = emkit.GenerativeClassifier("full").fit(X, y)
    log_joint = np.column_stack(
        [
            np.log(fit.priors_[k])
            + multivariate_normal(fit.means_[k], fit.covariances_[k]).logpdf(X)
            for k in range(2)
        ]
    )
    query = y.copy()
    query[::3] = -1
    expected = np.where(
        query == -1, logsumexp(log_joint, axis=1), log_joint[np.arange(100), (y == "b").astype(int)]
    )
    np.testing.assert_allclose(fit.log_prob(X, query), expected, rtol=1e-12)
    np.testing.assert_allclose(fit.log_prob(X), logsumexp(log_joint, axis=1), rtol=1e-12)


def test_given_priors_are_not_counted():
    X, y = DATA["iris"]
    estimated = emkit.GenerativeClassifier("VVV").fit(X, y)
    given = emkit.GenerativeClassifier("VVV", priors=[1 / 3] * 3).fit(X, y)
    assert given.n_parameters() == estimated.n_parameters() - 2 == 42
    assert given.bic(X, y) == pytest.approx(estimated.bic(X, y) - 2 * np.log(150), rel=1e-12)


def test_criteria_refuse_bad_labels():
    X, y = DATA["iris"]
    fit = emkit.GenerativeClassifier("EEE").fit(X, y)
    with pytest.raises(ValueError, match=r"labels \[7\] that are not among the classes"):
        fit.bic(X, np.where(np.arange(150) == 4, 7, y))
    with pytest.raises(ValueError, match=r"one label per row of X \(150\)"):
        fit.aic(X, y[:-1])
    with pytest.raises(ValueError, match="missing labels"):
        fit.log_prob(X, np.where(np.arange(150) == 0, np.nan, y))
    with pytest.raises(NotFittedError):
        emkit.GenerativeClassifier().bic(X, y)
    with pytest.raises(NotFittedError):
        emkit.GenerativeClassifier().n_parameters()


def test_bic_on_dask_matches_memory():
    da = pytest.importorskip("dask.array")
    X, y = DATA["thyroid"]
    fit = emkit.GenerativeClassifier("VVI").fit(X, y)
    lazy_x, lazy_y = da.from_array(X, chunks=(50, 5)), da.from_array(y, chunks=50)
    assert fit.bic(lazy_x, lazy_y) == pytest.approx(fit.bic(X, y), rel=1e-12)
    assert fit.bic(lazy_x) == pytest.approx(fit.bic(X), rel=1e-12)


def test_bic_on_torch_matches_numpy():
    torch = pytest.importorskip("torch")
    X, y = DATA["iris"]
    fit = emkit.GenerativeClassifier("VEV").fit(X, y)
    semi = np.where(np.arange(150) % 2 == 0, y, -1)
    rows = fit.log_prob(torch.as_tensor(X), torch.as_tensor(semi))
    assert isinstance(rows, torch.Tensor)
    np.testing.assert_allclose(rows.numpy(), fit.log_prob(X, semi), rtol=1e-12)
    assert fit.bic(torch.as_tensor(X), semi) == pytest.approx(fit.bic(X, semi), rel=1e-12)


def test_log_prob_of_incomplete_rows_is_their_observed_coordinates():
    """missing="em": a row with NaN counts by the density of its observed coordinates, the
    marginal normal (scipy) of the class, or the mixture of those where unlabelled."""
    X, y = DATA["iris"]
    fit = emkit.GenerativeClassifier("VVV", missing="em").fit(X, y)
    query = X[[0, 60, 120]].copy()
    query[:, [1, 3]] = np.nan
    observed = [0, 2]
    log_joint = np.column_stack(
        [
            np.log(fit.priors_[k])
            + multivariate_normal(
                fit.means_[k, observed], fit.covariances_[k][np.ix_(observed, observed)]
            ).logpdf(query[:, observed])
            for k in range(3)
        ]
    )
    labels = np.array([0, -1, 2])
    expected = [log_joint[0, 0], logsumexp(log_joint[1]), log_joint[2, 2]]
    np.testing.assert_allclose(fit.log_prob(query, labels), expected, rtol=1e-12)
