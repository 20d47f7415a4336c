"""Every mclust structure on singular data: no LinAlgError, the collapse flagged, as mclust's NA.

The references are R's mclust 6 on the same data (``mclustBIC(X)``; written out below). Data
that lie in a plane (a "total" column), on a line (a duplicated column) or on a few integer
points make every full covariance singular; the iterative M-steps (VEE, VEV) then have no
unregularised solution, and the fit must be marked degenerate rather than crash.
"""

import warnings

import numpy as np
import pytest

import emkit
from emkit.cli import main
from emkit.distributions.gaussian import covariance_structure
from emkit.distributions.gaussian.stats import GaussianStats
from emkit.distributions.regularization import Regularization
from emkit.exceptions import DegenerateFitWarning

STRUCTURES = "EII VII EEI VEI EVI VVI EEE VEE EVE VVE EEV VEV EVV VVV".split()
DIAGONAL = {"EII", "VII", "EEI", "VEI", "EVI", "VVI"}

_rng = np.random.default_rng(0)
_a, _b = _rng.normal(size=60), _rng.normal(size=60)
TOTAL = np.c_[_a, _b, _a + _b]  # exactly singular: the third column is the sum
_z = np.random.default_rng(0).normal(size=50)
DUPLICATE = np.c_[_z, _z]
LATTICE = np.array(
    [
        [-2, 0, 0],
        [-2, 0, 2],
        [0, -1, 0],
        [1, 0, 0],
        [-1, 1, 0],
        [1, 1, 1],
        [-2, -1, -1],
        [0, -1, 1],
    ],
    dtype=float,
)
SIX = np.random.default_rng(0).normal(size=(6, 2))

CASES = {
    "total": (TOTAL, {"n_components": 4, "init_params": "hc"}),
    "duplicate": (DUPLICATE, {"n_components": 6, "random_state": 0}),
    "lattice": (LATTICE, {"n_components": 5, "random_state": 1}),
}


# The models R's mclust 6 reports NA (singular) on each case's rows with its G components:
#   library(mclust)
#   x <- as.matrix(read.csv("lattice.csv", header = FALSE))  # np.savetxt of LATTICE (TOTAL)
#   bic <- mclustBIC(x, G = 5)  # G = 4 on TOTAL
#   colnames(bic)[is.na(bic[1, ])]
# On LATTICE only the models that pool one covariance shape and volume over the components
# (EII, EEI, EEE) are fitted. DUPLICATE is left to the rows: mclust's hierarchical start
# splits the line evenly, emkit's random start leaves a component on one row.
MCLUST_NA = {
    "total": set("EEE VEE EVE VVE EEV VEV EVV VVV".split()),
    "lattice": set("VII VEI EVI VVI VEE EVE VVE EEV VEV EVV VVV".split()),
}
# Diagonal structures whose components have volumes of their own: a VII or VEI component
# (a shape shared or none) is singular exactly where its rows have no spread at all, a VVI
# one where they have none along some feature (at most 1e-12 of the data's variance,
# Regularization.TOLERANCE).
OWN_VOLUME = {"VII", "VEI", "VVI"}


def spread_collapsed(gm, x, structure) -> np.ndarray:
    """Components whose rows (the fit's responsibilities) have no spread, as OWN_VOLUME says,
    computed with NumPy from the data, in units of the data's variances; bool (k,)."""
    resp = gm.predict_proba(x)  # (n, k)
    weight = resp.sum(axis=0)  # (k,)
    centred = x[:, None, :] - gm.means_[None]  # (n, k, d)
    variances = np.einsum("nk,nkd->kd", resp, centred**2) / weight[:, None]  # (k, d)
    scaled = variances / x.var(axis=0)
    if structure == "VEI" and (scaled <= 1e-12).all(axis=0).any():
        # No component's rows spread along some feature: the shape they share is singular
        # there, and with it every component (mclust's NA; the start decides whether EM goes
        # there: on LATTICE from a start with two 2-row clusters).
        return np.ones(scaled.shape[0], dtype=bool)
    spread = scaled.min(axis=1) if structure == "VVI" else scaled.max(axis=1)
    return spread <= 1e-12


def fit_recording(estimator, *args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(*args)
    return estimator, [w.category for w in caught]


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("structure", STRUCTURES)
@pytest.mark.parametrize("reg_covar", [1e-6, 0.0])
def test_structure_fits_singular_data(structure, case, reg_covar):
    x, options = CASES[case]
    gm = emkit.GaussianMixture(covariance_type=structure, reg_covar=reg_covar, **options)
    gm, categories = fit_recording(gm, x)
    assert np.isfinite(gm.score(x))
    assert (DegenerateFitWarning in categories) == gm.degenerate_
    if case in MCLUST_NA:
        assert gm.degenerate_ == (structure in MCLUST_NA[case])
    if case in ("total", "duplicate") and structure not in DIAGONAL:
        # Every full covariance of data in a plane (on a line) is singular: mclust's NA.
        assert gm.degenerate_components_.all()
    if structure in OWN_VOLUME:
        np.testing.assert_array_equal(gm.degenerate_components_, spread_collapsed(gm, x, structure))
    elif structure in ("EII", "EEI"):  # one variance per feature pooled over all the rows
        assert not gm.degenerate_


@pytest.mark.parametrize("structure", STRUCTURES)
def test_structure_fits_singular_data_with_missing_values(structure):
    """The missing-data fit judges the completed rows' covariances with and without the ridge."""
    x = TOTAL.copy()
    x[::7, 0] = np.nan
    gm = emkit.GaussianMixture(4, covariance_type=structure, init_params="hc", missing="em")
    gm, categories = fit_recording(gm, x)
    assert np.isfinite(gm.score(x))
    assert (DegenerateFitWarning in categories) == gm.degenerate_
    # The rows' observed values still lie in TOTAL's plane: the models mclust finds singular
    # on the complete rows, and those alone.
    assert gm.degenerate_ == (structure in MCLUST_NA["total"])
    if structure in ("VEE", "VEV", "VVV", "EEE"):
        assert gm.degenerate_components_.all()


def test_iterative_solvers_flag_singular_scatter_as_vvv_does():
    """VEE and VEV give the verdict VVV and EEE give on the same fit's statistics."""
    for structure in ("VEE", "VEV"):
        gm, categories = fit_recording(
            emkit.GaussianMixture(4, covariance_type=structure, init_params="hc"), TOTAL
        )
        assert DegenerateFitWarning in categories
        assert gm.degenerate_components_.tolist() == [True] * 4


@pytest.mark.parametrize("structure", STRUCTURES)
def test_statistics_on_one_axis_are_degenerate(structure):
    """Every component spread along the first feature only (VEV's scatter on LATTICE): the
    unregularised VEI and VEV shapes overflow, VEE's shared matrix is singular. Every
    structure with axes of their own calls all components degenerate, silently, and the
    ridge makes a fit."""
    values = np.array([[0.9, 0, 0], [1.0, 0, 0], [0.28, 0, 0], [0.019, 0, 0], [0.5, 0, 0]])
    weight = np.array([1.83, 2.0, 1.16, 1.0, 2.0])
    mean = np.random.default_rng(0).normal(size=(5, 3))
    cls = covariance_structure(structure, 3)
    scatter = values if cls.diagonal_stats else np.einsum("kd,de->kde", values, np.eye(3))
    stats = GaussianStats(weight, mean, scatter)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        components = cls.from_stats(stats, Regularization(0.0))
        verdict = components.degenerate(stats)
    # A sphere's variance is the features' average: not singular.
    assert verdict.all() != (structure in ("EII", "VII"))
    assert np.all(np.isfinite(components.covariances))
    assert np.all(np.isfinite(components.log_prob(mean)))


@pytest.mark.parametrize("structure", ["VEV", "VEI"])
def test_covariances_without_a_solution_count_singular(structure):
    """Non-finite covariances (what a solver returns where it finds none) have eigenvalue 0."""
    cls = covariance_structure(structure, 2)
    covariances = np.full(cls.parameter_shape(3, 2), 1.0)
    if covariances.ndim == 3:
        covariances[:] = np.eye(2)
    covariances[1] = np.nan
    covariances[2] = np.inf
    spectra = cls.spectra(covariances, 3, np.ones(2))
    assert Regularization().singular(spectra).tolist() == [False, True, True]


# mclustBIC(X) on TOTAL: NA for every full model from 2 components on, and for VII at 7; the
# diagonal models are fitted. (mclust's 1-component full models are not NA there, with a BIC
# of 3704.443 from a singular covariance; emkit flags them.) Its best fitted model is EII with
# 6 components, BIC -516.2431.
MCLUST_TOTAL_NA_VII = 7


def test_select_mixture_leaves_singular_models_out_as_mclust():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        selection = emkit.select_mixture(TOTAL)
    table = selection.table_
    names = {"full": "VVV", "tied": "EEE", "diag": "VVI", "spherical": "VII"}
    model = table["covariance_type"].map(lambda name: names.get(name, name))
    na = (~model.isin(list(DIAGONAL)) & (table["n_components"] >= 2)) | (
        (model == "VII") & (table["n_components"] == MCLUST_TOTAL_NA_VII)
    )
    fitted = ~na & ((table["n_components"] >= 2) | model.isin(list(DIAGONAL)))
    assert table.loc[na, "degenerate"].all()
    assert not table.loc[fitted, "degenerate"].any()
    best = table.loc[~table["degenerate"]].nsmallest(1, "bic").iloc[0]
    assert (best["covariance_type"], best["n_components"]) == ("EII", 6)
    # mclust stops at a relative change of 1e-5 in the log-likelihood: BICs agree to ~1e-4.
    assert best["bic"] == pytest.approx(516.2431, abs=0.05)
    assert selection.best_.covariance_type == "EII"


def test_select_mixture_on_six_rows_matches_mclust():
    """mclustBIC on 6 rows picks EEI with 5 components, BIC -8.750202."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        selection = emkit.select_mixture(SIX)
    assert selection.best_.covariance_type == "EEI"
    assert selection.best_.n_components == 5
    best = selection.table_.loc[~selection.table_["degenerate"]].nsmallest(1, "bic").iloc[0]
    assert best["bic"] == pytest.approx(8.750202, abs=1e-4)


@pytest.mark.parametrize("x", [DUPLICATE, LATTICE], ids=["duplicate", "lattice"])
def test_select_mixture_picks_a_model_on_singular_data(x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        selection = emkit.select_mixture(x)
    chosen = selection.table_.loc[~selection.table_["degenerate"]]
    assert len(chosen) > 0
    assert not selection.best_.degenerate_


@pytest.mark.parametrize("structure", STRUCTURES)
def test_generative_classifier_on_singular_data(structure):
    y = (_a > 0).astype(int) + (_b > 0)
    for labels in (y, np.where(np.arange(60) % 3 == 0, -1, y)):  # supervised, semi-supervised
        clf, categories = fit_recording(emkit.GenerativeClassifier(structure), TOTAL, labels)
        assert np.all(np.isfinite(clf.predict_proba(TOTAL)))
        if structure not in DIAGONAL:
            assert DegenerateFitWarning in categories


def test_cli_fit_picks_a_model_on_a_total_column(tmp_path, capsys):
    data = tmp_path / "total.csv"
    np.savetxt(data, TOTAL, delimiter=",", header="a,b,total", comments="")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        status = main(
            [
                "fit",
                str(data),
                "-k",
                "4-6",
                "--out",
                str(tmp_path / "out"),
                "--no-report",
                "--quiet",
            ]
        )
    assert status == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "model.json").exists()


@pytest.mark.parametrize("structure", ["VVE", "EVE"])
def test_only_the_collapsed_component_is_flagged(structure):
    """Three clusters of 150 rows and one of 3 rows in 3 dimensions (a plane): the shared-
    orientation models' unregularised solve fails for all K, but only the 3-row component
    has collapsed. The verdict and the warning name it alone, as numpy's eigenvalues of each
    component's own rows say (the smallest in units of the data's variances)."""
    rng = np.random.default_rng(0)
    plane = np.array([[4.0, 4.0, 8.0], [4.5, 4.0, 8.5], [4.0, 4.7, 8.2]])
    x = np.vstack(
        [
            rng.normal([0, 0, 0], 1, (150, 3)),
            rng.normal([8, 0, 0], 1, (150, 3)),
            rng.normal([0, 8, 0], [1, 2, 0.5], (150, 3)),
            plane,
        ]
    )
    means = np.array([[0, 0, 0], [8, 0, 0], [0, 8, 0], plane.mean(axis=0)])
    gm = emkit.GaussianMixture(
        4, covariance_type=structure, means_init=means, accelerate=None, random_state=0
    )
    with pytest.warns(DegenerateFitWarning, match="1 of 4 components are singular"):
        gm.fit(x)
    labels = gm.predict(x)
    root = np.sqrt(x.var(axis=0))
    scale = np.outer(root, root)
    smallest = [
        np.linalg.eigvalsh(np.cov(x[labels == k], rowvar=False, bias=True) / scale)[0]
        for k in range(4)
    ]
    expected = np.asarray(smallest) <= 1e-12
    assert expected.tolist() == [False, False, False, True]
    assert gm.degenerate_components_.tolist() == expected.tolist()
