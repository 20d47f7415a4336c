"""``emkit fit --standardize`` prints the log-likelihood, BIC, ICL and AIC in the data's units:
those of the model file on the data as they are (the z-scores' plus the scaling's Jacobian,
the sum over observed values of log sd_j), comparable with a fit without --standardize."""

import warnings

import numpy as np
import pandas as pd
import pytest

import emkit
from cli_run import run_main
from emkit.cli.zscores import in_data_units, standardize, structure_note
from emkit.distributions.gaussian import MCLUST_MODELS, covariance_structure

FAST = ["-k", "2-3", "--covariance", "tied,full", "--quiet", "--no-report"]


def fit_statistics(out: str) -> dict[str, float]:
    """The row under the summary's "n  df log-likelihood  BIC ..." header."""
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if "log-likelihood" in line and "BIC" in line)
    names = lines[at].replace("mclust BIC", "mclust_BIC").split()
    return dict(zip(names, map(float, lines[at + 1].split()), strict=True))


def ranking(out: str) -> pd.DataFrame:
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("Top "))
    end = next(i for i in range(at, len(lines) + 1) if i == len(lines) or not lines[i].strip())
    rows = [line.split() for line in lines[at + 2 : end]]
    return pd.DataFrame({"bic": [float(r[-2]) for r in rows], "diff": [float(r[-1]) for r in rows]})


@pytest.mark.parametrize("missing", [False, True])
def test_printed_figures_are_the_model_files_on_the_raw_data(tmp_path, faithful, missing):
    x = faithful.copy()
    if missing:  # the Jacobian counts the observed values of each column
        x[[3, 10, 50], 1] = np.nan
        x[7, 0] = np.nan
    path = tmp_path / "faithful.csv"
    pd.DataFrame(x, columns=["eruptions", "waiting"]).to_csv(path, index=False)
    flags = ["--missing", "em"] if missing else []
    status, out, _ = run_main(
        ["fit", path, *FAST, *flags, "--standardize", "--out", tmp_path / "z"]
    )
    assert status == 0
    assert "in the data's units (as model.json's)" in out
    printed = fit_statistics(out)
    model = emkit.load(tmp_path / "z" / "model.json")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # fitted with feature names
        loglik = model.score(x) * len(x)
        bic = model.bic(x)
        icl = model.icl(x)
    assert model.covariance_type in ("tied", "full")  # the same parameters in either unit
    assert printed["log-likelihood"] == pytest.approx(loglik, abs=1e-3)
    assert printed["BIC"] == pytest.approx(bic, abs=1e-3)
    assert printed["mclust_BIC"] == pytest.approx(-bic, abs=1e-3)
    assert printed["ICL"] == pytest.approx(icl, abs=1e-3)
    assert icl > bic  # ICL adds the entropy of the classification to BIC
    assert printed["AIC"] == pytest.approx(
        bic - model.n_parameters() * (np.log(len(x)) - 2), abs=1e-3
    )
    ranked = ranking(out)  # every fit's BIC moved by the one Jacobian: the differences stay
    assert len(ranked) == 3
    assert ranked["bic"].iloc[0] == pytest.approx(bic, abs=1e-3)
    np.testing.assert_allclose(ranked["diff"], ranked["bic"] - ranked["bic"].iloc[0], atol=2e-3)


def test_standardized_and_plain_fits_print_comparable_figures(tmp_path, faithful):
    path = tmp_path / "faithful.csv"
    pd.DataFrame(faithful, columns=["eruptions", "waiting"]).to_csv(path, index=False)
    argv = ["fit", path, "-k", "3", "--covariance", "tied", "--quiet", "--no-report"]
    _, plain, _ = run_main([*argv, "--out", tmp_path / "plain"])
    _, scaled, _ = run_main([*argv, "--standardize", "--out", tmp_path / "z"])
    # EM from a start in each unit reaches the same maximum: the same model, the same figures
    for name in ("log-likelihood", "BIC", "AIC"):
        assert fit_statistics(scaled)[name] == pytest.approx(fit_statistics(plain)[name], abs=0.01)


SCALES = np.array([0.5, 40.0, 3.0])  # columns in units far apart, so that S Sigma S changes shape


@pytest.fixture(scope="module")
def three_clusters() -> np.ndarray:
    rng = np.random.default_rng(7)
    blocks = [
        rng.multivariate_normal(mean, cov, 120)
        for mean, cov in [
            ([0, 0, 0], [[1, 0.6, 0.2], [0.6, 1, 0.3], [0.2, 0.3, 1]]),
            ([4, 1, -2], [[2, -0.5, 0], [-0.5, 0.5, 0.1], [0, 0.1, 1]]),
        ]
    ]
    return np.vstack(blocks) * SCALES


@pytest.mark.parametrize("structure", MCLUST_MODELS)
def test_model_in_data_units_has_the_z_score_fits_densities(three_clusters, structure):
    """Every mclust structure fitted to z-scores is written as a model whose densities are the
    fit's under the change of variables: N(centre + s * mu_k, S Sigma_k S), by scipy."""
    from scipy.stats import multivariate_normal

    x = three_clusters
    z, centre, scale = standardize(x)
    fitted = emkit.GaussianMixture(
        2, covariance_type=structure, init_params="hc", random_state=0
    ).fit(z)
    written = in_data_units(fitted, centre, scale, x)
    full = (
        covariance_structure(structure)
        .from_covariances(fitted.means_, fitted.covariances_)
        .full_covariances()
    )
    density = sum(
        w * multivariate_normal(centre + scale * mu, np.outer(scale, scale) * cov).pdf(x)
        for w, mu, cov in zip(fitted.weights_, fitted.means_, full, strict=True)
    )
    np.testing.assert_allclose(written.score_samples(x), np.log(density), rtol=1e-10)
    # the structure written holds the fitted one's covariances, no larger than it must be
    expected = {"EII": "EEI", "VII": "VEI", "EVE": "EVV", "EEV": "EVV", "VEV": "full"}
    expected["VVE"] = "full"
    kept = covariance_structure(expected.get(structure, structure)).name
    assert covariance_structure(written.covariance_type).name == kept
    note = structure_note(fitted, written)
    if kept == covariance_structure(structure).name:
        assert note == ""
    else:
        more = written.n_parameters() - fitted.n_parameters()
        assert more > 0 and f"count {more} parameter" in note


def test_printed_log_likelihood_is_the_model_files_for_a_vev_fit(tmp_path, three_clusters):
    """A VEV fit to z-scores was written as 'diag', dropping its correlations: the model file's
    log-likelihood was not the printed one."""
    path = tmp_path / "x.csv"
    pd.DataFrame(three_clusters, columns=["a", "b", "c"]).to_csv(path, index=False)
    argv = ["fit", path, "-k", "2", "--covariance", "VEV", "--quiet", "--no-report"]
    status, out, err = run_main([*argv, "--standardize", "--out", tmp_path / "z"])
    assert status == 0, err
    model = emkit.load(tmp_path / "z" / "model.json")
    frame = pd.DataFrame(three_clusters, columns=["a", "b", "c"])
    printed = fit_statistics(out)
    assert model.covariance_type == "full"
    assert printed["log-likelihood"] == pytest.approx(model.score(frame) * len(frame), abs=1e-3)
    # the file counts the full structure's parameters: the note says by how many more
    more = model.n_parameters() - int(printed["df"])
    assert more == 2
    assert "model.json holds the 'VEV' fit as 'full'" in out
    assert f"count {more} parameters more" in out
    assert model.bic(frame) == pytest.approx(printed["BIC"] + more * np.log(len(frame)), abs=1e-3)
