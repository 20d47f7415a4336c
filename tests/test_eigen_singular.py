"""The iterative mclust structures (EVE, VVE, VEE, VEV) on singular scatter without a ridge.

R's mclust 6 (``me(modelName = m, data = x, z = unmap(kmeans(x, 2)$cluster))``) gives NA
(return code -1, singular covariance) for every one of them on both data sets below, as for
VVV and EEE; its VEV, EEV and EVV stop with LAPACK's DGESVD error -13 on the 30-column rows.
emkit raises the ridge as ``from_stats`` says for VVV (tenfold from 1e-12 of the data's scale
until every covariance is positive definite) and marks the fit degenerate.
"""

import warnings

import numpy as np
import pytest

import emkit
from emkit.distributions.gaussian import covariance_structure
from emkit.distributions.gaussian.stats import GaussianStats
from emkit.exceptions import DegenerateFitWarning, MonotonicityWarning

ITERATIVE = ["EVE", "VVE", "VEE", "VEV"]

# Two clusters in three columns and a constant fourth column.
_rng = np.random.default_rng(0)
CONSTANT = np.c_[np.r_[_rng.normal(0, 1, (100, 3)), _rng.normal(4, 1, (100, 3))], np.ones(200)]

# scikit-learn's check_sample_weight_equivalence data: 15 distinct rows of 30 columns, each
# repeated by an integer weight (27 rows of rank 15).
_state = np.random.RandomState(42)
_x15 = _state.rand(15, 30)
_state.randint(0, 3, size=15)
FEW_ROWS = _x15.repeat(_state.randint(0, 5, size=15), axis=0)


def fit_strict(structure, x, **options):
    """A fit in which a MonotonicityWarning (or any other but the degenerate verdict) fails."""
    gm = emkit.GaussianMixture(
        2, covariance_type=structure, reg_covar=0.0, random_state=0, **options
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", DegenerateFitWarning)
        return gm.fit(x)


@pytest.mark.parametrize("structure", ITERATIVE + ["EEV", "EVV"])
def test_constant_column_raises_the_ridge(structure):
    """Variances of about 1 in the three real columns and the ridge's alone in the constant
    one, as VVV's and EEE's. Before, EVE's solver settled on its 1e-250 floor in every
    direction (eigenvalues 7.8e-251, log-likelihood -3.8e252) and VVE's on it in the
    constant column."""
    gm = fit_strict(structure, CONSTANT)
    assert gm.degenerate_ and gm.degenerate_components_.all()  # mclust: NA
    eigenvalues = np.linalg.eigvalsh(gm.covariances_[:, :3, :3])
    assert np.all((eigenvalues > 0.5) & (eigenvalues < 2.0))
    assert np.all((gm.covariances_[:, 3, 3] > 0) & (gm.covariances_[:, 3, 3] < 1e-9))
    np.testing.assert_allclose(gm.covariances_[:, :3, 3], 0.0, atol=1e-9)
    assert 0 < gm.log_likelihood_ < 1e4  # the ridge's objective, as VVV's: large, finite
    if structure in ("VVE", "EEV"):
        # Nothing shared across the columns but the orientation (VVE) or the whole matrix
        # (EEV): the real columns' covariances are the structure's fit on them alone, to
        # EM's tolerance (the weights are not exactly 1/2).
        alone = fit_strict(structure, CONSTANT[:, :3])
        np.testing.assert_allclose(gm.covariances_[:, :3, :3], alone.covariances_, rtol=1e-4)


@pytest.mark.parametrize("structure", ITERATIVE)
def test_singular_scatter_gives_no_unregularised_covariances(structure):
    """Without a ridge the solvers find no covariances (NaN, counted singular), or singular
    ones, rather than positive definite ones at a floor."""
    cls = covariance_structure(structure, 4)
    labels = np.repeat([0, 1], 100)
    resp = np.eye(2)[labels]
    stats = GaussianStats.from_data(CONSTANT, resp, cls.diagonal_stats)
    covariances = cls._covariances_from_stats(stats, 0.0)
    finite = np.isfinite(covariances).all(axis=(1, 2))
    spectra = np.linalg.eigvalsh(np.where(finite[:, None, None], covariances, 0.0))
    assert np.all(spectra[:, 0] <= 1e-12 * spectra[:, -1])  # NaN, or singular as VVV's
    regularised = cls._covariances_from_stats(stats, 1e-8)
    assert np.all(np.linalg.eigvalsh(regularised) > 0)


@pytest.mark.parametrize("n_init", [1, 3])
@pytest.mark.parametrize("structure", ["EVE", "VVE", "VEE", "VEV", "VVV"])
def test_fewer_rows_than_columns_stop_at_once(structure, n_init):
    """Rows of rank 15 in 30 columns: the ridge rises, EM stops within a few steps and never
    lowers its objective. Before, EVE's and VEE's inner iterations ran to their cap at every
    M-step (1 s each) and the log-likelihood went up and down by 0.005; with starts in
    lockstep (n_init=3) each start's solve must be recognised as its own (a record of one
    solve served none of them: 51 iterations and MonotonicityWarnings)."""
    gm = fit_strict(structure, FEW_ROWS, max_iter=100, n_init=n_init)
    assert gm.converged_ and gm.n_iter_ <= 5
    assert gm.degenerate_
    assert np.all(np.diff(gm.history_[1:]) >= 0)


@pytest.mark.parametrize("structure", ["EVE", "VVE", "VEE"])
def test_solvers_settle_on_an_ill_conditioned_scatter(structure):
    """Scatters of rank 1 and 6 in 30 columns held up by a ridge of 1e-13 of their scale:
    warm started at its own answer, a solver returns it to 1e-8 on the well-determined part
    (the covariances' largest entries). Before, the rotated scatters' variances across the
    null space carried a relative error of 1e-4 from rounding, new at every pass, and EVE's
    and VEE's answers moved by 1e-4 of their largest entry from one call to the next."""
    rng = np.random.default_rng(1)
    d = 30
    rows = [rng.normal(size=(2, d)), rng.normal(size=(7, d))]
    scatter = np.stack([(r - r.mean(0)).T @ (r - r.mean(0)) for r in rows])
    b = scatter + 1e-13 * np.trace(scatter, axis1=1, axis2=2).max() * np.eye(d)
    m = np.array([2.0, 7.0])
    solver = covariance_structure(structure, d).solver
    first = solver(b, m)
    again = solver(b, m, first)
    scale = np.abs(first).max()
    np.testing.assert_allclose(again, first, atol=1e-8 * scale, rtol=0)


def test_check_estimator_sample_weight_equivalence_eve():
    """scikit-learn's check, which ran for minutes with EVE and reg_covar=0."""
    from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_sample_weight_equivalence_on_dense_data(
            "GaussianMixture",
            emkit.GaussianMixture(2, covariance_type="EVE", reg_covar=0.0, random_state=0),
        )


# VEV under mclust's prior gives an emptied component no power; these fits emptied one
# while another was nearly empty, and stopped with numpy's IndexError ("boolean index did
# not match") where the prior's rule and the structure's each dropped emptied components.
def _mixed_scales(seed, n):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)) * np.array([1, 10, 0.1, 100, 1])
    x[: n // 3] += 3
    return x


@pytest.mark.parametrize(("seed", "n", "k"), [(1, 40, 8), (4, 40, 9), (0, 200, 7)])
def test_vev_mclust_prior_with_an_emptied_component(seed, n, k):
    x = _mixed_scales(seed, n)
    gm = emkit.GaussianMixture(k, covariance_type="VEV", covariance_prior="mclust", random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gm.fit(x)
    categories = {w.category for w in caught}
    assert MonotonicityWarning not in categories
    empty = gm.weights_ <= 1e-10
    assert empty.any()  # the case: a component emptied
    assert gm.degenerate_components_[empty].all()
    eigenvalues = np.linalg.eigvalsh(gm.covariances_)
    assert np.all(np.isfinite(eigenvalues)) and eigenvalues.min() > 0
    assert np.isfinite(gm.log_likelihood_)


# 60 rows of one cluster in 5 columns and one row far from it, its own component from the start.
_rng_one = np.random.default_rng(3)
ONE_ROW = np.r_[_rng_one.normal(0, 1, (60, 5)), np.full((1, 5), 8.0)]


def test_vee_one_row_component_raises_the_ridge():
    """A component holding one row has a zero scatter: VEE's objective falls without bound as
    its volume goes to 0, so the solver finds none (NaN) and the ridge rises (listed in
    structure_changes_), as for EVE and VVE. Before, the volume sat at the solver's 1e-250
    floor and EM's objective fell at the next step (a MonotonicityWarning; mclust: NA)."""
    cls = covariance_structure("VEE", 5)
    resp = np.eye(2)[np.r_[np.zeros(60, int), 1]]
    stats = GaussianStats.from_data(ONE_ROW, resp, cls.diagonal_stats)
    covariances = cls._covariances_from_stats(stats, 0.0)
    assert np.isfinite(covariances[0]).all() and np.isnan(covariances[1]).all()
    gm = fit_strict(
        "VEE", ONE_ROW, means_init=ONE_ROW[[0, 60]], weights_init=[60 / 61, 1 / 61], max_iter=20
    )
    assert gm.structure_changes_ and gm.degenerate_components_[1]
    assert np.all(np.diff(gm.history_) >= -1e-12 * np.abs(gm.history_[1:]))


def _one_row_stats(x, cls):
    """Statistics of three hard clusters of ``x``: its rows in two halves and its last row."""
    n = len(x)
    labels = np.r_[np.zeros(n // 2, int), np.ones(n - n // 2 - 1, int), 2]
    return GaussianStats.from_data(x, np.eye(3)[labels], cls.diagonal_stats)


# R's EuroUnemployment (mclust 6), 31 countries x (TUR, YUR, LUR).
EURO = np.array(
    [
        [8.5, 23.2, 4.3], [11.4, 23.8, 6.9], [6.1, 15.9, 2.7], [6.6, 12.6, 1.7],
        [5.0, 7.7, 2.2], [7.4, 15.0, 3.3], [11.3, 23.9, 6.7], [26.5, 52.4, 19.5],
        [24.5, 53.2, 12.9], [10.3, 24.1, 4.4], [17.3, 45.5, 10.1], [12.7, 42.7, 7.8],
        [16.1, 35.9, 7.7], [10.8, 19.6, 4.7], [10.7, 19.3, 4.8], [5.9, 21.2, 1.6],
        [7.7, 20.4, 3.7], [5.9, 11.8, 2.7], [7.4, 12.7, 3.0], [5.6, 10.3, 1.5],
        [9.0, 23.9, 3.8], [14.1, 34.7, 8.4], [6.8, 24.0, 2.8], [9.7, 20.2, 5.3],
        [13.2, 29.7, 9.3], [8.7, 20.5, 1.9], [7.9, 22.9, 1.5], [6.1, 16.9, 2.2],
        [5.0, 10.0, 0.6], [3.5, 7.9, 0.8], [9.9, 18.0, 2.0],
    ]
)  # fmt: skip
# hclass(hc(x, modelName = "VVV", use = "SVD"), 7): clusters 4 and 5 hold one row each.
EURO_HC7 = np.array(
    [1, 2, 1, 3, 3, 3, 2, 4, 5, 1, 6, 6, 6, 2, 2, 1, 1, 3, 3, 3, 1, 6, 1, 2, 6, 7, 7, 1, 3, 3, 7]
)
# c(mstep(x, modelName = "EEV", z = unmap(EURO_HC7))$parameters$variance$sigma)
EURO_MSTEP_SIGMA = np.array(
    [
        2.06483311247,
        3.46597182314,
        1.09378222511,
        3.46597182314,
        9.59302956529,
        1.77620404412,
        1.09378222511,
        1.77620404412,
        0.813269042668,
        1.28811601816,
        1.75970146461,
        0.662986490931,
        1.75970146461,
        9.1394829924,
        4.07688495034,
        0.662986490931,
        4.07688495034,
        2.04353270987,
        2.39886451488,
        4.0979245133,
        1.49482682109,
        4.0979245133,
        8.59447993322,
        2.21597879638,
        1.49482682109,
        2.21597879638,
        1.47778727233,
        11.3460984605,
        0,
        0,
        0,
        0.957991312009,
        0,
        0,
        0,
        0.167041947953,
        11.3460984605,
        0,
        0,
        0,
        0.957991312009,
        0,
        0,
        0,
        0.167041947953,
        1.10500976207,
        1.47101854536,
        0.260892687758,
        1.47101854536,
        11.1249565203,
        0.293099479459,
        0.260892687758,
        0.293099479459,
        0.241165438099,
        2.13253292377,
        -3.76818843734,
        0.0153434469437,
        -3.76818843734,
        9.69538882446,
        -1.07672220253,
        0.0153434469437,
        -1.07672220253,
        0.643209972197,
    ]
).reshape(7, 3, 3)  # R's column-major d x d x K: each slice is symmetric


def test_eev_one_row_component_is_oriented_as_mclust():
    """A one-row component's scatter is zero and f does not depend on its orientation.
    mclust's meeev takes LAPACK's SVD of the zero matrix: the coordinate axes, largest
    shared variance first; every covariance of mclust's M-step from its hc partition of
    EuroUnemployment, with the ridge or without. Before, emkit oriented such a component by
    the second moment of all the rows about its mean (or eigh's basis of the ridge), and EM
    from there stopped at -183.79 (below)."""
    cls = covariance_structure("EEV", 3)
    stats = GaussianStats.from_data(EURO, np.eye(7)[EURO_HC7 - 1], cls.diagonal_stats)
    assert np.trace(stats.exact_scatter()[3]) == np.trace(stats.exact_scatter()[4]) == 0.0
    np.testing.assert_allclose(
        cls._covariances_from_stats(stats, 0.0), EURO_MSTEP_SIGMA, rtol=1e-9, atol=1e-9
    )
    ridged = cls._covariances_from_stats(stats, 1e-6)
    np.testing.assert_allclose(ridged[3], np.diag(np.diag(ridged[3])), atol=0)
    assert np.all(np.diff(np.diag(ridged[3])) < 0)


def test_eev_one_row_component_follows_its_tiny_responsibilities():
    """After an E-step, a one-row component holds other rows with responsibilities below
    rounding (1e-57 here); mclust orients it by them, which is where it can take a row. The
    statistics of the direct pass keep that scatter (the fused pass's rounding, 1e-16 of the
    data's, would hide it) and the M-step orients the component along it."""
    cls = covariance_structure("EEV", 3)
    resp = np.eye(7)[EURO_HC7 - 1]
    resp[9, 3] = 1e-57  # row 10 of component 4, whose own row is row 8
    stats = GaussianStats.from_data(EURO, resp, cls.diagonal_stats)
    assert np.trace(stats.exact_scatter()[3]) == 0.0 < np.trace(stats.scatter[3])
    covariance = cls._covariances_from_stats(stats, 1e-6)[3]
    gap = EURO[9] - EURO[7]
    top = np.linalg.eigh(covariance)[1][:, -1]
    np.testing.assert_allclose(abs(top @ gap) / np.linalg.norm(gap), 1.0, rtol=1e-12)
    assert cls.fused_stats_fall_short(stats)  # the fused pass defers to the direct one


@pytest.mark.parametrize("accelerate", [None, "squarem"])
def test_eev_hc_reaches_mclusts_optimum_on_euro_unemployment(accelerate):
    """EEV, K = 7, from mclust's hc partition (two one-row clusters). R, mclust 6:
    ``Mclust(as.matrix(EuroUnemployment), G = 7, modelNames = "EEV")$loglik`` is
    -165.742636232. emkit stopped at -183.79 (plain EM), the one-row components holding
    their rows, as oriented by the second moment of all the rows (or the ridge's basis)."""
    gm = emkit.GaussianMixture(7, covariance_type="EEV", init_params="hc", accelerate=accelerate)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gm.fit(EURO)
    assert gm.converged_ and not gm.degenerate_
    np.testing.assert_allclose(gm.log_likelihood_, -165.742636232, rtol=0, atol=1e-5)


def test_eev_hc_leaves_the_one_row_plateau():
    """150 x 50 rows (three normal clusters), EEV from the hc partition, which holds two
    one-row clusters. mclust's EEV (Mclust(G = 3), the same partition) reaches -9927.51;
    emkit stopped at -11518.45, converged, one component holding its single row; oriented by
    the second moment of all the rows, at -10241.77. Oriented as mclust orients them (the
    coordinate axes at the hard start, then the E-step's tiny responsibilities), -10045.07
    (mclust's path parts from emkit's later; not traced)."""
    rng = np.random.default_rng(1)
    d = 50
    x = np.vstack(
        [rng.normal(0, 1, (50, d)), rng.normal(1, 1, (50, d)), rng.normal(-1, 2, (50, d))]
    )
    gm = emkit.GaussianMixture(3, covariance_type="EEV", reg_covar=0.0, init_params="hc")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gm.fit(x)
    assert gm.converged_ and not gm.degenerate_
    assert gm.weights_.min() > 0.1
    assert gm.log_likelihood_ > -10100
