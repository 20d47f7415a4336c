"""Where SQUAREM's fit ends degenerate and plain EM's from the same start does not,
``GaussianMixture.fit``, ``select_mixture`` and ``emkit fit`` keep plain EM's fit: mclust's.

References are R's mclust 6.0.0: ``me()`` from the hierarchical start, run to a tight
tolerance (written out with each test), and ``mclustBIC``'s table.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

import emkit
from cli_run import run_main
from emkit.em import collapse_stops, fit_starts
from emkit.estimators import selection as selection_module

CROSS = Path(__file__).parent / "data" / "mclust" / "cross.csv"  # mclust's data(cross)


def synthetic() -> np.ndarray:
    """72 rows, two clusters, rounded to one decimal (ties): SQUAREM's VVV K=5 from the
    hierarchical start collapses a component (log-likelihood -157.89), plain EM's does not."""
    rng = np.random.default_rng(11)
    n, d = int(rng.integers(60, 150)), 2
    k = int(rng.integers(2, 4))
    blocks = [
        rng.normal(rng.normal(0, 3, d), rng.uniform(0.3, 2, d), (n // k, d)) for _ in range(k)
    ]
    return np.round(np.vstack(blocks), 1)


# mclust 6.0.0 on synthetic() (np.savetxt to syn.csv with header "a,b"):
#   X <- as.matrix(read.csv("syn.csv")); h <- hc(X, modelName = "VVV", use = "SVD")
#   f <- me(data = X, modelName = "VVV", z = unmap(hclass(h, 5)),
#           control = emControl(tol = c(1e-12, sqrt(.Machine$double.eps)), itmax = c(1e5, 1e5)))
#   f$loglik; bic("VVV", f$loglik, nrow(X), ncol(X), 5); sort(f$parameters$pro * nrow(X))
#   -169.690838  -463.404994  3.793 3.984 13.024 21.570 29.631
#   mclustBIC(X, G = 5, modelNames = "VVV")[1, 1]  # -463.4061 (its default tolerance)
SYNTHETIC_LOGLIK = -169.690838
SYNTHETIC_BIC = 463.404994
SYNTHETIC_SIZES = [3.793, 3.984, 13.024, 21.570, 29.631]


def _quiet_select(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return emkit.select_mixture(*args, **kwargs)


def _driver_fits(model, x):
    """SQUAREM's fit of ``model``'s starts and plain EM's from the same starts, by the fit
    driver alone (no fallback): what ``GaussianMixture.fit`` chooses between."""
    plan = model._fit_plan(x)
    fast = fit_starts(plan.starts, plan.data, **plan.options)
    plain = fit_starts(plan.starts, plan.data, **{**plan.options, "accelerate": None})
    return fast, plain


def test_squarem_alone_collapses_the_synthetic_cell():
    """The premise: from one start, SQUAREM ends degenerate, plain EM regular; ``fit`` keeps
    plain EM's fit, the estimator's ``accelerate`` left as it was."""
    x = synthetic()
    model = emkit.GaussianMixture(5, covariance_type="VVV", init_params="hc")
    fast, plain = _driver_fits(model, x)
    assert fast.degenerate.any() and not plain.degenerate.any()
    assert plain.best.log_likelihood == pytest.approx(SYNTHETIC_LOGLIK, abs=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the collapsed fit's DegenerateFitWarning is not given
        model.fit(x)
    assert not model.degenerate_ and model.accelerate == "squarem"
    assert model.log_likelihood_ == plain.best.log_likelihood


@pytest.mark.parametrize("n_init", [1, 2])
@pytest.mark.parametrize("saved", [False, True])
def test_gaussian_mixture_fit_keeps_plain_em_on_cross(n_init, saved, tmp_path):
    """``GaussianMixture.fit`` as ``select_mixture``: cross VEV K=4 from the hierarchical start
    was SQUAREM's -2778.49 (a component on one row); now mclust's -2787.174499 (R in
    :func:`test_cross_vev4_as_mclust`). With n_init=2 (random_state 19) SQUAREM's k-means++
    start collapses too (-2777.08); plain EM's from it ends regular above mclust's, and the
    fit is plain EM's from both starts. A checkpoint keeps the plain fit beside its own, and a
    fit started again with them resumes both to the same answer."""
    x = pd.read_csv(CROSS)
    params = {"covariance_type": "VEV", "init_params": "hc", "n_init": n_init, "random_state": 19}
    model = emkit.GaussianMixture(4, **params)
    before = model.get_params()
    path = tmp_path / "fit.json" if saved else None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: the kept fit is regular and converged
        model.fit(x, checkpoint=path)
    assert not model.degenerate_
    assert model.get_params() == before  # accelerate stays "squarem": fit sets no parameter
    # plain EM's fit alone, its starts also one after another where checkpointed
    reference = tmp_path / "plain" / "fit.json" if saved else None
    plain = emkit.GaussianMixture(4, **params, accelerate=None).fit(x, checkpoint=reference)
    assert model.log_likelihood_ == plain.log_likelihood_
    np.testing.assert_array_equal(model.means_, plain.means_)
    np.testing.assert_array_equal(model.covariances_, plain.covariances_)
    assert model.n_iter_ == plain.n_iter_
    if n_init == 1:
        assert model.log_likelihood_ == pytest.approx(-2787.174499, abs=1e-3)
    else:
        assert model.log_likelihood_ > -2787.174499 + 0.5  # -2784.59, from k-means++
    if saved:
        assert sorted(p.name for p in tmp_path.glob("*.json")) == ["fit-plain.json", "fit.json"]
        again = emkit.GaussianMixture(4, **params).fit(x, checkpoint=path)
        assert again.log_likelihood_ == model.log_likelihood_
        np.testing.assert_array_equal(again.means_, model.means_)


def test_regular_squarem_fit_is_unchanged():
    """A SQUAREM fit that ends regular is kept as the driver makes it, though plain EM's from
    the same start is elsewhere (iris VVV K=5: -153.66 against plain EM's -152.90)."""
    x = load_iris().data
    model = emkit.GaussianMixture(5, covariance_type="VVV", init_params="hc")
    fast, plain = _driver_fits(model, x)
    assert not fast.degenerate.any()
    assert fast.best.log_likelihood < plain.best.log_likelihood - 0.5
    model.fit(x)
    assert model.log_likelihood_ == fast.best.log_likelihood
    np.testing.assert_array_equal(model.means_, fast.best.model.components.means)
    assert model.n_iter_ == fast.best.n_iter


def test_degenerate_squarem_fit_stays_where_plain_em_collapses_too():
    """A plane in 3-D: every VVV fit of 2 components is singular; ``fit`` keeps SQUAREM's."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=60), rng.normal(size=60)
    x = np.c_[a, b, a + b]
    model = emkit.GaussianMixture(2, covariance_type="VVV", init_params="hc", random_state=0)
    fast, plain = _driver_fits(model, x)
    assert fast.degenerate.any() and plain.degenerate.any()
    with pytest.warns(emkit.DegenerateFitWarning):
        model.fit(x)
    assert model.degenerate_ and model.log_likelihood_ == fast.best.log_likelihood


@pytest.mark.parametrize("path", ["lockstep", "one by one"])
def test_select_mixture_keeps_plain_em_where_squarem_collapses(path, tmp_path):
    """Before: "every fit is degenerate" (ValueError). Now mclust's fit, marked as plain EM's;
    ``checkpoint`` fits the cells one by one (``_fit``), the plain refit beside the first."""
    x = synthetic()
    kwargs = {"checkpoint": tmp_path} if path == "one by one" else {}
    sel = _quiet_select(x, n_components=[5], covariance_types=["VVV"], **kwargs)
    row = sel.table_.iloc[0]
    assert not row["degenerate"]
    assert row["log_likelihood"] == pytest.approx(SYNTHETIC_LOGLIK, abs=1e-4)
    assert row["bic"] == pytest.approx(SYNTHETIC_BIC, abs=2e-4)
    model = sel.best_
    assert model.accelerate is None  # the fit says which EM made it
    # the likelihood is flat along the weights there: both stop within 4e-3 rows of each other
    np.testing.assert_allclose(np.sort(model.weights_ * len(x)), SYNTHETIC_SIZES, atol=5e-3)
    if path == "one by one":
        assert sorted(p.name for p in tmp_path.iterdir()) == ["full-5-plain.json", "full-5.json"]


def test_screened_grid_refines_the_plain_em_fit():
    """In a grid large enough to be screened, the cell is screened by plain EM's fit and
    refined by plain EM (the refinement's plans mix SQUAREM and plain EM)."""
    x = synthetic()
    sel = _quiet_select(x, n_components=[2, 3, 4, 5], covariance_types=["VVV"], criterion="aic")
    table = sel.table_.set_index("n_components")
    assert not table["degenerate"].any()
    refined = sel.table_.nsmallest(selection_module.REFINE, "aic")["n_components"].tolist()
    assert 5 in refined  # the best by AIC: refined to tol, by plain EM
    assert table.at[5, "log_likelihood"] == pytest.approx(SYNTHETIC_LOGLIK, abs=1e-4)
    assert table.at[5, "bic"] == pytest.approx(SYNTHETIC_BIC, abs=2e-4)
    assert sel.models_[5, "full"].accelerate is None
    assert sel.models_[2, "full"].accelerate == "squarem"  # a regular fit is left as it was


def test_squarem_fit_is_kept_where_plain_em_collapses_too():
    """A plane in 3-D: every VVV fit of 2 components is singular, by either EM; the
    SQUAREM fit stays, as ``GaussianMixture.fit`` makes it where it too stops at its first
    degenerate model (``collapse_stops``, as the grid's fits do)."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=60), rng.normal(size=60)
    x = np.c_[a, b, a + b]
    with pytest.raises(ValueError, match="every fit is degenerate"):
        _quiet_select(x, n_components=[2], covariance_types=["VVV"])
    sel = _quiet_select(x, n_components=[2], covariance_types=["VVV", "EII"])
    model = sel.models_[2, "full"]
    assert model.degenerate_ and model.accelerate == "squarem"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alone = emkit.GaussianMixture(2, covariance_type="VVV", init_params="hc", random_state=0)
        with collapse_stops():
            alone.fit(x)
    assert model.log_likelihood_ == alone.log_likelihood_
    assert alone.accelerate == "squarem" and alone.degenerate_


def test_cross_vev4_as_mclust():
    """mclust's ``cross`` data, VEV K=4: SQUAREM ended degenerate (-2778.49, one row in a
    component) and the grid refused the data. mclust 6.0.0:
    X <- as.matrix(read.csv("cross.csv")); h <- hc(X, modelName = "VVV", use = "SVD")
    f <- me(data = X, modelName = "VEV", z = unmap(hclass(h, 4)),
            control = emControl(tol = c(1e-12, sqrt(.Machine$double.eps)), itmax = c(1e5, 1e5)))
    f$loglik; bic("VEV", f$loglik, nrow(X), ncol(X), 4)  # -2787.174499  -5698.641159"""
    x = pd.read_csv(CROSS)
    sel = _quiet_select(x, n_components=[4], covariance_types=["VEV"])
    row = sel.table_.iloc[0]
    assert not row["degenerate"]
    assert row["log_likelihood"] == pytest.approx(-2787.174499, abs=1e-3)
    assert row["bic"] == pytest.approx(5698.641159, abs=2e-3)


def test_cli_fit_keeps_plain_em_and_takes_accelerate_none(tmp_path):
    """``emkit fit`` on the synthetic cell exits 0 with mclust's fit (it exited 2), and
    ``--accelerate none`` runs plain EM: iris VVV K=5 is then mclust's maximum (SQUAREM's path
    ends at -153.66). mclust 6.0.0, as above on iris[, 1:4] with G = 5: -152.903735."""
    path = tmp_path / "syn.csv"
    np.savetxt(path, synthetic(), delimiter=",", header="a,b", comments="", fmt="%.1f")
    status, out, err = run_main(
        [
            "fit",
            path,
            "-k",
            "5",
            "--covariance",
            "VVV",
            "--out",
            tmp_path / "o",
            "--quiet",
            "--no-report",
        ]
    )
    assert status == 0, err
    model = emkit.load(tmp_path / "o" / "model.json")
    x = pd.DataFrame(synthetic(), columns=["a", "b"])
    assert model.score(x) * len(x) == pytest.approx(SYNTHETIC_LOGLIK, abs=1e-4)

    iris = tmp_path / "iris.csv"
    frame = pd.DataFrame(load_iris().data, columns=list("abcd"))
    frame.to_csv(iris, index=False)
    lls = {}
    for acc in ("squarem", "none"):
        out_dir = tmp_path / acc
        status, out, err = run_main(
            [
                "fit",
                iris,
                "-k",
                "5",
                "--covariance",
                "VVV",
                "--accelerate",
                acc,
                "--out",
                out_dir,
                "--quiet",
                "--no-report",
            ]
        )
        assert status == 0, err
        lls[acc] = emkit.load(out_dir / "model.json").score(frame) * 150
        assert json.loads((out_dir / "model.json").read_text())  # a model file
    assert lls["none"] == pytest.approx(-152.903735, abs=1e-4)
    assert lls["squarem"] < lls["none"] - 0.5
