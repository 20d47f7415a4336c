"""Where SQUAREM's fit ends degenerate and plain EM's from the same start does not,
``select_mixture`` (and ``emkit fit``) keep plain EM's fit: mclust's.

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


def test_squarem_alone_collapses_the_synthetic_cell():
    """The premise: from one start, SQUAREM ends degenerate, plain EM regular."""
    x = synthetic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = emkit.GaussianMixture(5, covariance_type="VVV", init_params="hc").fit(x)
        plain = emkit.GaussianMixture(
            5, covariance_type="VVV", init_params="hc", accelerate=None
        ).fit(x)
    assert fast.degenerate_ and not plain.degenerate_
    assert plain.log_likelihood_ == pytest.approx(SYNTHETIC_LOGLIK, abs=1e-4)


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
    SQUAREM fit stays, as ``GaussianMixture.fit`` makes it."""
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
        alone.fit(x)
    assert model.log_likelihood_ == alone.log_likelihood_


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
