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


def test_eev_one_row_component_is_oriented_equivariantly():
    """A one-row component's scatter is zero and f does not depend on its orientation; EEV
    orients it by the rows about its mean, so rotating the data rotates every covariance of
    the M-step, and f is the closed form's. Before, it took eigh's basis of a zero matrix,
    the coordinate axes whatever the rotation (a plateau EM never left: hd50 below)."""
    rng = np.random.default_rng(5)
    d = 6
    x = rng.normal(size=(40, d)) * np.geomspace(3, 0.3, d)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    cls = covariance_structure("EEV", d)
    stats = _one_row_stats(x, cls)
    rotated = _one_row_stats(x @ q.T, cls)
    assert np.trace(stats.exact_scatter()[2]) == 0.0  # the case
    covariances = cls._covariances_from_stats(stats, 0.0)
    expected = q @ covariances @ q.T
    scale = np.abs(covariances).max()
    np.testing.assert_allclose(
        cls._covariances_from_stats(rotated, 0.0), expected, atol=1e-10 * scale, rtol=0
    )
    from emkit.distributions.gaussian import eigen

    b, m = stats.exact_scatter(), stats.weight
    closed = eigen.objective(eigen.eev(b, m), b, m)
    np.testing.assert_allclose(eigen.objective(covariances, b, m), closed, rtol=1e-12)


def test_eev_hc_leaves_the_one_row_plateau():
    """150 x 50 rows (three normal clusters), EEV from the hc partition, which holds two
    one-row clusters. mclust's EEV (Mclust(G = 3), the same partition) reaches -9927.51;
    emkit stopped at -11518.45, converged, one component holding its single row. It now
    takes rows (a higher local maximum, -10241.77: mclust's path orients the one-row
    components by its E-step's tiny responsibilities, which emkit's statistics round away)."""
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
    assert gm.log_likelihood_ > -10300
