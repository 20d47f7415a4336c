"""Standard errors of Gaussian mixtures: Louis' observed information against a numerical
Hessian of the observed log-likelihood (scipy densities, central differences) and against the
bootstrap; ``emkit.bootstrap`` itself."""

from __future__ import annotations

import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import logsumexp

import emkit
from emkit import GaussianMixture
from emkit.distributions.gaussian import MCLUST_MODELS, covariance_structure
from emkit.information import _chart
from emkit.mle.estimate import hessian, jacobian, step_sizes

FAITHFUL = pd.read_csv(resources.files("emkit") / "data/faithful.csv").to_numpy()


def _simulated(n: int = 190, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    skew = np.array([[1.0, 0.4], [0.0, 1.0]])
    return np.vstack(
        [
            rng.normal([0, 0], [1, 0.5], (n * 8 // 19, 2)),
            rng.normal([3, 2], [0.6, 1.2], (n * 6 // 19, 2)) @ skew,
            rng.normal([-2, 3], 0.7, (n - n * 8 // 19 - n * 6 // 19, 2)),
        ]
    )


def _fit(x, k, cov, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianMixture(
            k, covariance_type=cov, reg_covar=0, tol=1e-13, init_params="hc", **params
        ).fit(x)


def _observed_loglik(x, weights, means, covariances):
    """sum_n log sum_k pi_k N(x_n | mu_k, Sigma_k) by scipy's densities."""
    logs = np.column_stack(
        [
            np.log(w) + stats.multivariate_normal(m, c).logpdf(x)
            for w, m, c in zip(weights, means, covariances, strict=True)
        ]
    )
    return float(logsumexp(logs, axis=1).sum())


def _delta_covariance(loglik, theta, outputs):
    """Inverse negative numerical Hessian of ``loglik`` at ``theta``, carried to ``outputs``."""
    info = -hessian(loglik, theta, step_sizes(theta, 1 / 4))
    J = jacobian(outputs, theta)
    return J @ np.linalg.inv(info) @ J.T


def _flat(est_params):
    return np.concatenate([np.ravel(v) for v in est_params.values()])


def test_vvv_standard_errors_match_a_numerical_hessian_on_old_faithful():
    """Free parameters pi_1, the means and the distinct entries of each covariance: the
    inverse of the numerical Hessian of scipy's log-likelihood gives the same errors."""
    gm = _fit(FAITHFUL, 2, "full")
    k, d = gm.means_.shape
    rows, cols = np.triu_indices(d)

    def unpack(theta):
        weights = np.array([theta[0], 1 - theta[0]])
        means = theta[1 : 1 + k * d].reshape(k, d)
        covs = np.zeros((k, d, d))
        covs[:, rows, cols] = theta[1 + k * d :].reshape(k, -1)
        covs[:, cols, rows] = theta[1 + k * d :].reshape(k, -1)
        return weights, means, covs

    theta = np.concatenate(
        [gm.weights_[:1], gm.means_.ravel(), gm.covariances_[:, rows, cols].ravel()]
    )
    cov = _delta_covariance(
        lambda t: _observed_loglik(FAITHFUL, *unpack(t)),
        theta,
        lambda t: np.concatenate([np.ravel(a) for a in unpack(t)]),
    )
    est = gm.estimate(FAITHFUL)
    np.testing.assert_allclose(_flat(est.stderr), np.sqrt(np.diag(cov)), rtol=1e-3)
    np.testing.assert_allclose(est.cov, cov, rtol=1e-3, atol=1e-6 * np.abs(cov).max())
    assert est.loglik == pytest.approx(gm.log_likelihood_, abs=1e-8)
    assert est.n == FAITHFUL.shape[0]


def test_vev_errors_match_a_hessian_in_volume_shape_angle_coordinates():
    """A nonlinear model in coordinates of its own (log-volumes, one log-shape, two angles),
    none of them the chart emkit uses: the errors of the fitted covariances agree."""
    x = _simulated()
    gm = _fit(x, 2, "VEV")

    def unpack(theta):
        weights = np.array([theta[0], 1 - theta[0]])
        means = theta[1:5].reshape(2, 2)
        covs = []
        for j in range(2):
            log_volume, angle = theta[5 + 2 * j], theta[6 + 2 * j]
            r = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            covs.append(np.exp(log_volume) * r @ np.diag(np.exp([theta[9], -theta[9]])) @ r.T)
        return weights, means, np.array(covs)

    coordinates = []
    for s in gm.covariances_:
        values, vectors = np.linalg.eigh(s)  # ascending: the long axis is the second
        coordinates += [0.5 * np.log(values.prod()), np.arctan2(vectors[1, 1], vectors[0, 1])]
    values = np.linalg.eigvalsh(gm.covariances_[0])
    theta = np.concatenate(
        [gm.weights_[:1], gm.means_.ravel(), coordinates, [0.5 * np.log(values[1] / values[0])]]
    )
    np.testing.assert_allclose(unpack(theta)[2], gm.covariances_, rtol=1e-6)
    cov = _delta_covariance(
        lambda t: _observed_loglik(x, *unpack(t)),
        theta,
        lambda t: np.concatenate([np.ravel(a) for a in unpack(t)]),
    )
    est = gm.estimate(x)
    np.testing.assert_allclose(_flat(est.stderr), np.sqrt(np.diag(cov)), rtol=1e-3)


@pytest.mark.parametrize("cov", MCLUST_MODELS)
def test_every_structure_matches_the_numerical_hessian_in_its_chart(cov):
    """Each of the 14: the inverse of the numerical Hessian of scipy's observed log-likelihood,
    as a function of the weights, the means and the structure's free covariance parameters,
    carried to the fitted layouts, equals Louis' covariance."""
    x = _simulated()
    gm = _fit(x, 2, cov)
    k, d = gm.means_.shape
    structure = covariance_structure(cov)
    components = gm._mixture().components
    chart = _chart(structure.alias, components.full_covariances())

    def unpack(theta):
        weights = np.array([theta[0], 1 - theta[0]])
        means = theta[1 : 1 + k * d].reshape(k, d)
        eta = theta[1 + k * d :]
        covs = np.array([chart.sigma[j](eta[chart.index[j]]) for j in range(k)])
        return weights, means, covs

    def layout(covs):
        return structure.from_covariances(
            np.zeros((k, d)), _to_layout(covs, gm.covariances_.shape, structure)
        ).covariances

    theta = np.concatenate([gm.weights_[:1], gm.means_.ravel(), chart.base])
    cov_ref = _delta_covariance(
        lambda t: _observed_loglik(x, *unpack(t)),
        theta,
        lambda t: np.concatenate(
            [unpack(t)[0], unpack(t)[1].ravel(), np.ravel(layout(unpack(t)[2]))]
        ),
    )
    est = gm.estimate(x)
    assert est.params["covariances"].shape == gm.covariances_.shape
    np.testing.assert_allclose(_flat(est.stderr), np.sqrt(np.diag(cov_ref)), rtol=1e-3)


def _to_layout(covs, shape, structure):
    if not structure.per_component:
        return covs[0]
    if len(shape) == 3:
        return covs
    if len(shape) == 2:
        return np.diagonal(covs, axis1=1, axis2=2).copy()
    return covs[:, 0, 0].copy()


def _nearly_singular() -> np.ndarray:
    """Two clusters, one within 1e-3 of a line (x2 = 2 x1): eigenvalues near 1e-4 and 2e3."""
    rng = np.random.default_rng(2)
    a = rng.normal(0, 1, 200)
    line = np.column_stack([a, 2 * a + 1e-3 * rng.normal(size=200)])
    return np.vstack([line, rng.normal([4, -3], 1, (150, 2))])


def _axes_chart(code: str, covariances: np.ndarray, means: np.ndarray):
    """Coordinates of a 2-D eigen structure, none of them emkit's, scaled to the data: each
    component's mean moved along its fitted axes, and Sigma_k = exp(v_k) R(t_k)
    diag(exp(a_k), exp(-a_k)) R(t_k)^T, each of v, a, t one per component or shared (``code``).
    The long and short axis of a nearly singular component are informed 1e7 times apart,
    which no raw coordinate separates. Returns theta at the fit and theta -> (means, list of
    (v, a, t, R(t)) per component)."""
    k = covariances.shape[0]
    axes = np.linalg.eigh(covariances)[1]
    angles = np.arctan2(axes[:, 1, 0], axes[:, 0, 0])
    if code[2] == "E":
        angles = np.full(k, angles[0])

    def rotation(t):
        return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])

    along = np.array(
        [np.diag(rotation(t).T @ c @ rotation(t)) for t, c in zip(angles, covariances, strict=True)]
    )
    v, a = 0.5 * np.log(along.prod(axis=1)), 0.5 * np.log(along[:, 0] / along[:, 1])
    chosen = [x[:1] if letter == "E" else x for letter, x in zip(code, (v, a, angles), strict=True)]
    sizes = np.cumsum([x.size for x in chosen])[:2]

    def unpack(theta):
        moved = means + np.einsum("kab,kb->ka", axes, theta[: 2 * k].reshape(k, 2))
        v, a, t = np.split(theta[2 * k :], sizes)  # one entry where shared
        own = [(v[j % v.size], a[j % a.size], t[j % t.size]) for j in range(k)]
        return moved, [(vj, aj, tj, rotation(tj)) for vj, aj, tj in own]

    return np.concatenate([np.zeros(2 * k), *chosen]), unpack


def _richardson_covariance(loglik, outputs, theta, h):
    """Inverse negative Hessian of ``loglik`` at ``theta`` carried to ``outputs``: central
    differences with steps h and h / 2 combined by Richardson's rule, in coordinates scaled so
    that each moves the log-likelihood by about 1 per unit."""
    p = theta.size
    f0 = loglik(theta)
    scale = np.full(p, 1e-3)
    for _ in range(4):
        fall = [2 * f0 - loglik(theta + e) - loglik(theta - e) for e in np.diag(scale)]
        scale = scale / np.sqrt(np.abs(fall))

    def hess(step):
        e = np.eye(p) * step * scale
        H = np.empty((p, p))
        for i in range(p):
            H[i, i] = (loglik(theta + e[i]) - 2 * f0 + loglik(theta - e[i])) / step**2
            for j in range(i):
                H[i, j] = H[j, i] = (
                    loglik(theta + e[i] + e[j])
                    - loglik(theta + e[i] - e[j])
                    - loglik(theta - e[i] + e[j])
                    + loglik(theta - e[i] - e[j])
                ) / (4 * step**2)
        return H

    def jac(step):
        e = np.eye(p) * step * scale
        return np.column_stack(
            [(outputs(theta + e[i]) - outputs(theta - e[i])) / (2 * step) for i in range(p)]
        )

    H = (4 * hess(h / 2) - hess(h)) / 3
    J = (4 * jac(h / 2) - jac(h)) / 3
    return J @ np.linalg.inv(-H) @ J.T


@pytest.mark.parametrize("cov", ["EVV", "VEV", "EVE", "VVE", "VEE"])
def test_eigen_structures_with_a_nearly_singular_component(cov):
    """A component within 1e-3 of a line: the errors equal those of a Richardson-extrapolated
    numerical Hessian in coordinates of the component's own axes, to 1e-6. The chart's second
    derivatives by differences times the component's score (its precision, 1e4, times the
    rows) gave errors 87% off for EVV, 2.7% VEV, 1% VEE, 0.5% VVE, and NaN with a spurious
    "not positive definite" warning for EVE."""
    x = _nearly_singular()
    gm = _fit(x, 2, cov, max_iter=20000)
    k = 2
    theta_c, unpack = _axes_chart(cov, gm._mixture().components.full_covariances(), gm.means_)
    theta = np.concatenate([gm.weights_[:1], theta_c])

    def loglik(t):
        weights = np.array([t[0], 1 - t[0]])
        means, comps = unpack(t[1:])
        logs = []
        for j, (v, a, _, r) in enumerate(comps):
            y = (x - means[j]) @ r  # along the component's axes: no precision of 1e4
            var = np.exp(v + np.array([a, -a]))
            logs.append(np.log(weights[j]) - 0.5 * (y**2 / var).sum(axis=1) - v - np.log(2 * np.pi))
        return float(logsumexp(np.column_stack(logs), axis=1).sum())

    def outputs(t):
        means, comps = unpack(t[1:])
        covs = np.array([np.exp(v) * (r * np.exp([a, -a])) @ r.T for v, a, _, r in comps])
        return np.concatenate([[t[0], 1 - t[0]], means.ravel(), covs.ravel()])

    np.testing.assert_allclose(outputs(theta)[k + 2 * k :], gm.covariances_.ravel(), rtol=1e-9)
    references = [
        np.sqrt(np.diag(_richardson_covariance(loglik, outputs, theta, h))) for h in (0.1, 0.05)
    ]
    # converged: the error of Richardson's rule falls as h^4, 16 times from one to the other
    np.testing.assert_allclose(references[0], references[1], rtol=2e-6)
    est = gm.estimate(x)
    np.testing.assert_allclose(_flat(est.stderr), references[1], rtol=1e-6)


def _bootstrap_error(replicates: np.ndarray) -> np.ndarray:
    """Monte Carlo standard error of the bootstrap's standard deviation, per entry: from the
    variance of s^2 over B replicates, (m4 - s^4 (B - 3)/(B - 1)) / B, by the delta method."""
    b = replicates.shape[0]
    centred = replicates - replicates.mean(axis=0)
    s2 = (centred**2).sum(axis=0) / (b - 1)
    m4 = (centred**4).mean(axis=0)
    var_s2 = np.maximum(m4 - s2**2 * (b - 3) / (b - 1), 0) / b
    return np.sqrt(var_s2) / (2 * np.sqrt(s2))


def _well_separated(n: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.multivariate_normal([0, 0], [[1.0, 0.5], [0.5, 1.5]], int(0.6 * n))
    b = rng.multivariate_normal([6, 1], [[0.8, -0.3], [-0.3, 0.6]], n - int(0.6 * n))
    return np.vstack([a, b])


def _check_against_bootstrap(n_rows: int, n_boot: int, kind: str, slack: float) -> None:
    """Louis' errors lie within ``slack`` Monte Carlo errors of the bootstrap's, where the
    slack also absorbs the bootstrap's own finite-sample bias (of order 1/n)."""
    x = _well_separated(n_rows)
    gm = GaussianMixture(2, random_state=0).fit(x)
    louis = gm.standard_errors(x)
    boot = emkit.bootstrap(gm, x, kind=kind, n_boot=n_boot, random_state=0)
    assert boot.n_failed == 0 and boot.n_boot == n_boot
    for name in ("weights", "means", "covariances"):
        error = _bootstrap_error(boot.replicates[name])
        gap = np.abs(boot.standard_errors[name] - louis[name])
        assert np.all(gap <= slack * error + 0.02 * louis[name]), (name, gap / error)


@pytest.mark.parametrize("kind", ["nonparametric", "parametric", "weighted"])
def test_louis_errors_agree_with_a_small_bootstrap(kind):
    _check_against_bootstrap(n_rows=400, n_boot=100, kind=kind, slack=3.5)


@pytest.mark.slow
def test_louis_errors_agree_with_2000_bootstrap_replicates():
    _check_against_bootstrap(n_rows=1000, n_boot=2000, kind="nonparametric", slack=3.0)


def test_bootstrap_matches_components_through_label_switching():
    """A replicate whose components come back in the other order is put back: the spread of
    the means is that of each cluster, not the distance between the clusters."""
    x = _well_separated(300)
    gm = GaussianMixture(2, random_state=0).fit(x)

    class Swapped(GaussianMixture):
        def fit(self, X, y=None, sample_weight=None, checkpoint=None):
            super().fit(X, sample_weight=sample_weight)
            self.weights_ = self.weights_[::-1]
            self.means_ = self.means_[::-1]
            self.covariances_ = self.covariances_[::-1]
            self.precisions_cholesky_ = self.precisions_cholesky_[::-1]
            return self

    swapped = Swapped(**gm.get_params())
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "n_features_in_"):
        setattr(swapped, name, getattr(gm, name))
    boot = emkit.bootstrap(swapped, x, n_boot=40, random_state=1)
    assert np.all(boot.standard_errors["means"] < 0.3)
    np.testing.assert_allclose(boot.replicates["means"].mean(axis=0), gm.means_, atol=0.3)


def test_bootstrap_of_kmeans_and_bad_arguments():
    x = _well_separated(200)
    km = emkit.KMeans(2, random_state=0).fit(x)
    boot = emkit.bootstrap(km, x, n_boot=20, random_state=0)
    assert set(boot.replicates) == {"cluster_centers"}
    # the centre of a cluster of about 80 points with variance ~0.7 moves by ~0.1
    assert np.all(boot.standard_errors["cluster_centers"] < 0.25)
    with pytest.raises(ValueError, match="kind must be one of"):
        emkit.bootstrap(km, x, kind="jackknife")
    with pytest.raises(ValueError, match="no fitted attribute"):
        emkit.bootstrap(km, x, parameters=["means_"])
    # k-means is no generative model: nothing to draw parametric replicates from
    with pytest.raises(ValueError, match="KMeans has no sample method.*'nonparametric'"):
        emkit.bootstrap(km, x, kind="parametric", n_boot=5)


def test_weighted_bootstrap_needs_a_fit_that_takes_weights():
    class Unweighted(emkit.KMeans):
        def fit(self, X, y=None):
            return super().fit(X)

    x = _well_separated(100)
    model = Unweighted(2, random_state=0).fit(x)
    with pytest.raises(ValueError, match="sample_weight, which Unweighted.fit does not take"):
        emkit.bootstrap(model, x, kind="weighted", n_boot=5)


def test_bootstrap_checks_x_against_the_fit_and_says_why_refits_fail():
    x = _well_separated(200)
    gm = GaussianMixture(2, random_state=0).fit(x)
    # as the model's own methods refuse it
    with pytest.raises(ValueError, match="X has 1 features, but GaussianMixture is expecting 2"):
        gm.predict(x[:, :1])
    for kind in ("nonparametric", "parametric", "weighted"):
        with pytest.raises(ValueError, match="X has 1 features, but the model was fitted on 2"):
            emkit.bootstrap(gm, x[:, :1], kind=kind, n_boot=3, random_state=0)
    # Refits that all fail report the first failure's reason.
    with pytest.raises(ValueError, match="0 of 3 .* first failure: .*max_iter"):
        emkit.bootstrap(gm, x, n_boot=3, params={"max_iter": -1}, random_state=0)


def test_bootstrap_says_the_third_argument_is_y():
    # bootstrap(gm, X, 5) took 5 as y and failed in NumPy's indexing (IndexError: too many
    # indices for array: array is 0-dimensional); y of the wrong length failed likewise.
    x = _well_separated(100)
    gm = GaussianMixture(2, random_state=0).fit(x)
    with pytest.raises(ValueError, match=r"got 5\. The third argument is y.*n_boot=5\)"):
        emkit.bootstrap(gm, x, 5)
    with pytest.raises(ValueError, match="got 10 values for 100 rows of X"):
        emkit.bootstrap(gm, x, np.zeros(10), n_boot=3)


def test_same_seed_same_replicates():
    x = _well_separated(150)
    gm = GaussianMixture(2, random_state=0).fit(x)
    a = emkit.bootstrap(gm, x, n_boot=5, random_state=7)
    from joblib import parallel_config

    with parallel_config(backend="threading"):  # the seeding, without starting processes
        b = emkit.bootstrap(gm, x, n_boot=5, random_state=7, n_jobs=2)
    np.testing.assert_array_equal(a.replicates["means"], b.replicates["means"])


def test_estimate_refuses_missing_data_and_hard_fits():
    x = _well_separated(100)
    gm = GaussianMixture(2, assignment="hard", random_state=0).fit(x)
    with pytest.raises(ValueError, match="soft-assignment fit"):
        gm.estimate(x)


def test_sample_weights_count_rows():
    """A weight of 2 counts a row twice: the errors are those of the data with the row
    repeated."""
    x = _well_separated(120)
    w = np.ones(x.shape[0])
    w[:30] = 2.0
    repeated = np.vstack([x, x[:30]])
    gm = _fit(repeated, 2, "VVV")
    a = gm.estimate(x, sample_weight=w)
    b = gm.estimate(repeated)
    np.testing.assert_allclose(a.cov, b.cov, rtol=1e-9, atol=1e-15)
    assert a.n == b.n == repeated.shape[0]


def test_a_collapsed_component_warns_and_gives_nan():
    """One component on a single repeated point: the information is singular there."""
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(size=(60, 2)), np.repeat([[4.0, 4.0]], 3, axis=0)])
    gm = GaussianMixture(2, covariance_type="spherical", random_state=0, reg_covar=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(x)
    with pytest.warns(emkit.mle.HessianWarning):
        se = gm.standard_errors(x)
    assert np.isnan(se["means"]).all()


MCLUST_BOOTSTRAP = Path(__file__).parent / "data" / "mclust" / "faithful_EEE3_bootstrap.csv"
KIND_CODES = {"nonparametric": "bs", "parametric": "pb", "weighted": "wlbs"}


def _against_mclust_bootstrap(kind: str, n_boot: int) -> None:
    """emkit.bootstrap of Old Faithful EEE-3 against R mclust 6.0.0's MclustBootstrap (1000
    replicates of the same kind): each standard error within 3.5 Monte Carlo errors of the
    difference (emkit's from its replicates, mclust's taken as that times sqrt(n_boot / 1000)).

    The replicates stop as mclust's do: plain EM until the gain is 1e-5 of the log-likelihood
    (``me``, for bs and pb) or 1e-5 in all (``me.weighted``, for wlbs). Run to convergence, the
    nonparametric replicates' weights of the two overlapping components vary more (about 0.054
    and 0.058 against mclust's 0.047 and 0.053): mclust's stop early, near the fit they start
    from."""
    ref = pd.read_csv(MCLUST_BOOTSTRAP)
    ref = ref[ref["type"] == KIND_CODES[kind]]
    gm = GaussianMixture(3, covariance_type="EEE", init_params="hc").fit(FAITHFUL)
    means = ref[ref["parameter"] == "means"]
    mclust_means = means.pivot(index="component", columns="i", values="estimate").to_numpy()
    np.testing.assert_allclose(gm.means_, mclust_means, rtol=0.02)  # same optimum, same order
    expected = {
        "weights": ref[ref["parameter"] == "weights"]["se"].to_numpy(),
        "means": means.pivot(index="component", columns="i", values="se").to_numpy(),
        "covariances": ref[(ref["parameter"] == "covariances") & (ref["component"] == 0)]
        .pivot(index="i", columns="j", values="se")
        .to_numpy(),
    }
    gain = 1e-5 if kind == "weighted" else 1e-5 * abs(gm.log_likelihood_)
    mclust_stop = {"tol": gain / FAITHFUL.shape[0], "accelerate": None}
    boot = emkit.bootstrap(
        gm, FAITHFUL, kind=kind, n_boot=n_boot, random_state=0, params=mclust_stop
    )
    for name, value in expected.items():
        error = _bootstrap_error(boot.replicates[name]) * np.sqrt(1 + n_boot / 1000)
        z = (boot.standard_errors[name] - value) / error
        assert np.all(np.abs(z) < 3.5), (name, z)


def test_bootstrap_agrees_with_mclust_bootstrap():
    _against_mclust_bootstrap("nonparametric", n_boot=100)


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KIND_CODES))
def test_bootstrap_agrees_with_mclust_bootstrap_1000(kind):
    _against_mclust_bootstrap(kind, n_boot=1000)


def test_bootstrap_of_a_regression_mixture_resamples_rows_with_their_targets():
    """Two well-separated lines: each slope's bootstrap error is about the least-squares
    sigma / sqrt(sum (x - mean x)^2) over that line's rows (the memberships are all but known)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 300)
    first = rng.random(300) < 0.5
    y = np.where(first, 1 + 2 * x, 8 - 0.5 * x) + rng.normal(0, 0.5, 300)
    model = emkit.MixtureOfRegressions(2, random_state=0).fit(x[:, None], y)
    boot = emkit.bootstrap(model, x[:, None], y, n_boot=40, params={"n_init": 1}, random_state=0)
    assert set(boot.replicates) == {"weights", "coef", "intercept", "sigmas"}
    for j in range(2):
        rows = first if model.coef_[j, 0] > 1 else ~first
        spread = np.sqrt(np.sum((x[rows] - x[rows].mean()) ** 2))
        expected = model.sigmas_[j] / spread
        assert boot.standard_errors["coef"][j, 0] == pytest.approx(expected, rel=0.35)
    with pytest.raises(ValueError, match="cannot draw y"):
        emkit.bootstrap(model, x[:, None], y, kind="parametric")
