"""``emkit.bootstrap``: replicates matched to the original components by the rows they hold,
degenerate replicates left out, sample weights, and the parameters of a mixture of families;
against R mclust's ``MclustBootstrap``, statsmodels and closed forms."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from scipy.special import logsumexp

import emkit
from emkit.distributions.poisson import Poisson
from emkit.mle.estimate import hessian, step_sizes

REFERENCE = Path(__file__).parent / "reference"


def _bootstrap_error(replicates: np.ndarray) -> np.ndarray:
    """Monte Carlo standard error of the bootstrap's standard deviation, per entry (the delta
    method on the variance of s^2 over B replicates)."""
    b = replicates.shape[0]
    centred = replicates - replicates.mean(axis=0)
    s2 = (centred**2).sum(axis=0) / (b - 1)
    m4 = (centred**4).mean(axis=0)
    var_s2 = np.maximum(m4 - s2**2 * (b - 3) / (b - 1), 0) / b
    return np.sqrt(var_s2) / (2 * np.sqrt(s2))


@pytest.mark.parametrize("kind", ["nonparametric", "weighted"])
def test_scale_mixture_replicates_keep_their_components_as_mclust_does(kind):
    """Two normals with nearly equal means and variances 1 and 25: matched on their means, a
    third of the replicates swapped the components (the weights' error came out 0.17 and the
    narrow variance's 12.5). mclust's MclustBootstrap (model V, 1000 replicates, EM started
    from the fit's responsibilities) gives 0.028 and 0.082: each error agrees within 3.5 Monte
    Carlo errors."""
    x = pd.read_csv(REFERENCE / "scale_mixture.csv").to_numpy()
    ref = pd.read_csv(REFERENCE / "mclust_scale_bootstrap.csv")
    ref = ref[ref["type"] == {"nonparametric": "bs", "weighted": "wlbs"}[kind]]
    gm = emkit.GaussianMixture(2, covariance_type="V", n_init=5, random_state=0).fit(x)
    # mclust lists the wide component first, emkit the narrow one
    order = np.argsort(-gm.covariances_)
    fitted = {"weights": gm.weights_[order], "means": gm.means_[order, 0]}
    fitted["variances"] = gm.covariances_[order]
    for name, value in fitted.items():
        expected = ref[ref["parameter"] == name]["estimate"].to_numpy()
        np.testing.assert_allclose(value, expected, rtol=5e-3, atol=2e-3)  # mclust stops early
    # mclust's EM stops at a relative gain of 1e-5 (me) or 1e-5 in all (me.weighted)
    gain = 1e-5 if kind == "weighted" else 1e-5 * abs(gm.log_likelihood_)
    stop = {"tol": gain / x.shape[0], "accelerate": None}
    n_boot = 200
    boot = emkit.bootstrap(gm, x, kind=kind, n_boot=n_boot, params=stop, random_state=0)
    replicates = {
        "weights": boot.replicates["weights"][:, order],
        "means": boot.replicates["means"][:, order, 0],
        "variances": boot.replicates["covariances"][:, order],
    }
    for name, values in replicates.items():
        expected = ref[ref["parameter"] == name]["se"].to_numpy()
        error = _bootstrap_error(values) * np.sqrt(1 + n_boot / 1000)
        z = (values.std(axis=0, ddof=1) - expected) / error
        assert np.all(np.abs(z) < 3.5), (name, z)


def test_parallel_regression_lines_keep_their_intercepts():
    """Two parallel lines 3 apart (6 residual sds): matched on their slopes alone, a third of
    the replicates swapped the lines and the intercepts' errors came out 1.3 for 0.08. The
    rows are all but certain of their line, so each line's errors are statsmodels' OLS errors
    on its own rows."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 300)
    first = rng.random(300) < 0.5
    y = np.where(first, 1 + 0.5 * x, 4 + 0.5 * x) + rng.normal(0, 0.5, 300)
    model = emkit.MixtureOfRegressions(2, random_state=0).fit(x[:, None], y)
    boot = emkit.bootstrap(model, x[:, None], y, n_boot=60, random_state=0)
    for j in range(2):
        rows = first if model.intercept_[j] < 2.5 else ~first
        ols = sm.OLS(y[rows], sm.add_constant(x[rows])).fit()
        assert boot.standard_errors["intercept"][j] == pytest.approx(ols.bse[0], rel=0.35)
        assert boot.standard_errors["coef"][j, 0] == pytest.approx(ols.bse[1], rel=0.35)


def test_a_classifiers_classes_are_never_relabelled():
    """Classes are labelled by y: two classes with means 0.02 apart and variances 1 and 9 were
    matched on their means, and the replicates that swapped them spread each class's variance
    over both. Each class's errors are those of its sample moments: sd / sqrt(n) for a mean,
    sqrt((m4 - s^4) / n) for a variance."""
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (150, 2)), rng.normal(0.02, 3, (150, 2))])
    y = np.repeat([0, 1], 150)
    model = emkit.GenerativeClassifier().fit(x, y)
    boot = emkit.bootstrap(model, x, y, n_boot=200, random_state=0)
    rows = [x[y == c] for c in (0, 1)]
    means = np.array([r.std(axis=0) / np.sqrt(150) for r in rows])
    centred = [r - r.mean(axis=0) for r in rows]
    variances = np.array(
        [np.sqrt(((c**4).mean(axis=0) - (c**2).mean(axis=0) ** 2) / 150) for c in centred]
    )
    np.testing.assert_allclose(boot.standard_errors["means"], means, rtol=0.2)
    diagonals = np.diagonal(boot.replicates["covariances"], axis1=2, axis2=3)
    np.testing.assert_allclose(diagonals.std(axis=0, ddof=1), variances, rtol=0.2)
    assert boot.standard_errors["priors"][0] == pytest.approx(0.5 / np.sqrt(300), rel=0.2)


def test_a_poisson_mixture_records_its_rates_with_the_errors_of_a_numerical_hessian():
    """A mixture of Poissons recorded only its weights; its rates are recorded too, (k, d), and
    their errors agree with the inverse of the central-difference Hessian of the observed
    log-likelihood in (pi_1, rate_1, rate_2) within 3.5 Monte Carlo errors."""
    rng = np.random.default_rng(0)
    x = np.r_[rng.poisson(2, 300), rng.poisson(9, 200)][:, None]
    model = emkit.MixtureModel([Poisson(), Poisson()], random_state=0).fit(x)
    rates = np.array([c["rate"][0] for c in model.component_params_])

    def loglik(theta):
        logs = np.log([theta[0], 1 - theta[0]]) + stats.poisson.logpmf(x, theta[1:])
        return float(logsumexp(logs, axis=1).sum())

    theta = np.r_[model.weights_[0], rates]
    wald = np.sqrt(np.diag(np.linalg.inv(-hessian(loglik, theta, step_sizes(theta, 1 / 4)))))
    boot = emkit.bootstrap(model, x, n_boot=150, random_state=0)
    assert set(boot.replicates) == {"weights", "rate"}
    assert boot.replicates["rate"].shape == (150, 2, 1)
    np.testing.assert_allclose(boot.estimates["rate"][:, 0], rates)
    for name, values, expected in (
        ("weights", boot.replicates["weights"][:, 0], wald[0]),
        ("rate", boot.replicates["rate"][:, :, 0], wald[1:]),
    ):
        z = (values.std(axis=0, ddof=1) - expected) / _bootstrap_error(values)
        assert np.all(np.abs(z) < 3.5), (name, z)


def test_degenerate_and_pruned_replicates_are_left_out_and_counted():
    """Thirteen rows in two clusters: some resamples repeat a row enough that a component
    collapses onto it (a covariance with determinant 1e-13 was kept, as if estimated). As
    mclust's MclustBootstrap leaves out singular fits, they are left out and counted; a
    replicate that pruned a component (prune_weight) no longer stops the bootstrap with a
    shape error."""
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(0, 1, (8, 2)), rng.normal(5, 1, (5, 2))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = emkit.GaussianMixture(2, random_state=0).fit(x)
    boot = emkit.bootstrap(gm, x, n_boot=60, random_state=0)
    assert 0 < boot.n_failed < 60 and boot.n_boot == 60 - boot.n_failed
    # a collapsed component keeps only the ridge reg_covar, 1e-6 of the data's scale
    smallest = np.linalg.eigvalsh(boot.replicates["covariances"]).min()
    assert smallest > 1e-5 * np.linalg.eigvalsh(np.cov(x.T)).min()

    x = np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(3, 1, (12, 2))])
    gm = emkit.GaussianMixture(2, random_state=0, prune_weight=0.05).fit(x)
    boot = emkit.bootstrap(gm, x, n_boot=30, random_state=0)
    assert boot.n_failed > 0 and boot.replicates["means"].shape == (boot.n_boot, 2, 2)


@pytest.mark.parametrize("kind", ["nonparametric", "weighted"])
def test_sample_weights_count_rows(kind):
    """The fit reads a weight of m as m rows; the bootstrap kept each drawn row's weight
    (nonparametric) or multiplied it by one Dirichlet share (weighted), so a fit to distinct
    values with their counts had the sandwich error sqrt(sum w^2 (x - m)^2) / sum w of a
    weighted mean, here 1.7 times the error of the rows written out. Both bootstraps of a mean
    of N rows have the error sqrt(sum w (x - m)^2) / N (the weighted one times
    sqrt(N / (N + 1)))."""
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (400, 1))
    w = np.where(x[:, 0] > 0, 4.0, 1.0)
    gm = emkit.GaussianMixture(1).fit(x, sample_weight=w)
    total = w.sum()
    mean = w @ x[:, 0] / total
    assert gm.means_[0, 0] == pytest.approx(mean)
    boot = emkit.bootstrap(gm, x, sample_weight=w, kind=kind, n_boot=300, random_state=0)
    expected = np.sqrt(w @ (x[:, 0] - mean) ** 2) / total
    if kind == "weighted":
        expected *= np.sqrt(total / (total + 1))
    values = boot.replicates["means"][:, 0, 0]
    z = (values.std(ddof=1) - expected) / _bootstrap_error(values)
    assert abs(z) < 3.5
    assert values.mean() == pytest.approx(mean, abs=4 * expected / np.sqrt(300))
    with pytest.raises(ValueError, match=r"one weight per row of X, \(400,\)"):
        emkit.bootstrap(gm, x, sample_weight=w[:10], n_boot=5)
    with pytest.raises(ValueError, match="finite and non-negative"):
        emkit.bootstrap(gm, x, sample_weight=-w, n_boot=5)
    with pytest.raises(ValueError, match=r"add up to under one row \(0\)"):
        emkit.bootstrap(gm, x, sample_weight=w / total / 4, n_boot=5, kind="nonparametric")


def test_counts_of_distinct_rows_bootstrap_as_the_rows_written_out():
    """Two components fitted to 85 distinct values with their counts (600 rounded draws):
    the nonparametric bootstrap's errors of the means were 4.5 times those of the same fit to
    the 600 rows; now both agree with each other and with Louis' observed information within
    Monte Carlo error."""
    rng = np.random.default_rng(5)
    raw = np.r_[rng.normal(0, 1, 400), rng.normal(4, 1, 200)].round(1)
    values, counts = np.unique(raw, return_counts=True)
    x, w = values[:, None], counts.astype(float)
    gm = emkit.GaussianMixture(2, random_state=0, tol=1e-10).fit(x, sample_weight=w)
    louis = gm.standard_errors(x, w)["means"][:, 0]
    boot = emkit.bootstrap(gm, x, sample_weight=w, n_boot=200, random_state=1)
    replicates = boot.replicates["means"][:, :, 0]
    errors = replicates.std(axis=0, ddof=1)
    z = (errors - louis) / _bootstrap_error(replicates)
    assert np.all(np.abs(z) < 4), z
    np.testing.assert_allclose(errors, louis, rtol=0.2)


def test_parametric_replicates_keep_the_missing_values_of_the_data():
    """Half of the second coordinate missing completely at random: the parametric replicates
    were drawn complete, and the error of its mean came out that of complete data. The MLE's
    variance is sigma_22 ((1 - rho^2) / m + rho^2 / n) with m of the n rows complete (Little
    and Rubin, monotone bivariate normal)."""
    rng = np.random.default_rng(0)
    n, rho = 400, 0.3
    x = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], n)
    x[rng.permutation(n)[: n // 2], 1] = np.nan
    gm = emkit.GaussianMixture(1, missing="em").fit(x)
    boot = emkit.bootstrap(gm, x, kind="parametric", n_boot=200, random_state=0)
    sigma = gm.covariances_[0]
    r = sigma[0, 1] / np.sqrt(sigma[0, 0] * sigma[1, 1])
    expected = np.sqrt(sigma[1, 1] * ((1 - r**2) / (n // 2) + r**2 / n))
    values = boot.replicates["means"][:, 0, 1]
    z = (values.std(ddof=1) - expected) / _bootstrap_error(values)
    assert abs(z) < 3.5, z


def test_bad_counts_seeds_and_names_are_refused_with_what_to_do():
    """n_boot=5.7 ran 5 replicates and random_state=1.5 seeded with 1, silently; a negative
    seed got numpy's 'expected non-negative integer'; a name without its '_' was reported as
    an unfitted model."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    gm = emkit.GaussianMixture(2, random_state=0).fit(x)
    for n_boot in (5.7, "10", True):
        with pytest.raises(ValueError, match="n_boot must be an integer of at least 2"):
            emkit.bootstrap(gm, x, n_boot=n_boot)
    for seed in (-1, 1.5):
        with pytest.raises(ValueError, match="random_state must be None, a non-negative"):
            emkit.bootstrap(gm, x, n_boot=3, random_state=seed)
    with pytest.raises(ValueError, match=r"no fitted attribute\(s\) \['weights'\] \(it has"):
        emkit.bootstrap(gm, x, n_boot=3, parameters=["weights"])
    seeded = emkit.bootstrap(gm, x, n_boot=3, random_state=np.int64(4))
    assert seeded.n_boot == 3


IRIS = Path(__file__).parent / "data" / "mclust" / "iris.csv"


@pytest.mark.parametrize("kind", ["nonparametric", "weighted"])
def test_iris_vev_errors_agree_with_mclust_bootstrap(kind):
    """Iris, mclust's BIC choice VEV with two components: each standard error of the weights,
    means and covariances within 3.5 Monte Carlo errors of MclustBootstrap's (1000 replicates
    of type bs / wlbs, R script and output in tests/reference)."""
    x = pd.read_csv(IRIS).to_numpy()
    ref = pd.read_csv(REFERENCE / "mclust_iris_bootstrap.csv")
    ref = ref[ref["type"] == {"nonparametric": "bs", "weighted": "wlbs"}[kind]]
    gm = emkit.GaussianMixture(2, covariance_type="VEV", init_params="hc").fit(x)

    def table(column, parameter, shape):
        rows = ref[ref["parameter"] == parameter].sort_values(["component", "j", "i"])
        return rows[column].to_numpy().reshape(shape)

    # the components in mclust's order (setosa, the smaller, first)
    order = np.argsort(gm.weights_)
    fitted = {"weights": gm.weights_, "means": gm.means_, "covariances": gm.covariances_}
    shapes = {"weights": (2,), "means": (2, 4), "covariances": (2, 4, 4)}
    for name, value in fitted.items():
        expected = table("estimate", name, shapes[name])
        np.testing.assert_allclose(value[order], expected, rtol=1e-3, atol=1e-4)
    gain = 1e-5 if kind == "weighted" else 1e-5 * abs(gm.log_likelihood_)
    stop = {"tol": gain / x.shape[0], "accelerate": None}
    n_boot = 100
    boot = emkit.bootstrap(gm, x, kind=kind, n_boot=n_boot, params=stop, random_state=0)
    assert boot.n_failed == 0
    for name in fitted:
        values = boot.replicates[name][:, order]
        error = _bootstrap_error(values) * np.sqrt(1 + n_boot / 1000)
        z = (values.std(axis=0, ddof=1) - table("se", name, shapes[name])) / error
        assert np.all(np.abs(z) < 3.5), (name, z)


def test_a_degenerate_fit_is_refused_before_its_replicates():
    """Four copies of one row hold a component of their own: the fit is degenerate, and all
    its replicates were refitted before a message named a private exception class."""
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(size=(30, 2)), np.repeat([[5.0, 5.0]], 4, axis=0)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = emkit.GaussianMixture(2, random_state=0).fit(x)
    assert gm.degenerate_
    with pytest.raises(ValueError, match="fit is degenerate .* refit it with fewer components"):
        emkit.bootstrap(gm, x, n_boot=10, random_state=0)


def test_a_supervised_fit_without_its_targets_is_refused():
    """MixtureOfRegressions bootstrapped without y stopped on Python's 'fit() missing 1
    required positional argument'."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, (100, 1))
    y = np.where(rng.random(100) < 0.5, 1 + 2 * x[:, 0], 8 - x[:, 0]) + rng.normal(0, 0.3, 100)
    model = emkit.MixtureOfRegressions(2, random_state=0).fit(x, y)
    with pytest.raises(ValueError, match=r"fitted to targets: pass them as bootstrap\(model, X, y"):
        emkit.bootstrap(model, x, n_boot=3)
    with pytest.raises(ValueError, match="fitted to targets"):
        emkit.bootstrap(emkit.GenerativeClassifier().fit(x, y > 5), x, n_boot=3)


def test_summary_is_one_row_per_entry_labelled_as_the_louis_estimate():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (120, 2)), rng.normal(4, 1, (80, 2))])
    gm = emkit.GaussianMixture(2, covariance_type="diag", random_state=0).fit(x)
    boot = emkit.bootstrap(gm, x, n_boot=30, random_state=0)
    table = boot.summary(level=0.8)
    assert list(table.index) == list(gm.estimate(x).summary().index)
    row = table.loc["covariances[1,0]"]
    values = boot.replicates["covariances"][:, 1, 0]
    assert row["estimate"] == gm.covariances_[1, 0]
    assert row["std_err"] == pytest.approx(values.std(ddof=1))
    assert row["mean"] == pytest.approx(values.mean())
    assert row["ci_low"] == pytest.approx(np.quantile(values, 0.1))
    assert row["ci_high"] == pytest.approx(np.quantile(values, 0.9))
    assert table.attrs["n_boot"] == 30 and table.attrs["kind"] == "nonparametric"


def test_zero_inflated_rates_per_feature_are_never_reordered():
    """Two count columns beside the two components (point mass, Poisson): rate_ has shape
    (2,) as the components do, and is one rate per column, whatever the matching does. Each
    rate's error agrees with the closed-form stderr_ within 3.5 Monte Carlo errors."""
    rng = np.random.default_rng(0)
    counts = np.column_stack([rng.poisson(1.0, 600), rng.poisson(6.0, 600)])
    counts[rng.uniform(size=600) < 0.3] = 0
    model = emkit.ZeroInflatedPoisson().fit(counts)
    boot = emkit.bootstrap(model, counts, n_boot=150, random_state=0)
    assert boot.estimates["rate"].tolist() == model.rate_.tolist()
    values = boot.replicates["rate"]
    assert np.all(np.abs(values.mean(axis=0) - model.rate_) < 5 * model.stderr_[1:])
    z = (values.std(axis=0, ddof=1) - model.stderr_[1:]) / _bootstrap_error(values)
    assert np.all(np.abs(z) < 3.5), z


def test_replicates_failing_for_a_reason_not_of_the_model_are_not_blamed_on_its_size():
    x = np.random.default_rng(0).normal(size=(60, 2))
    model = emkit.GaussianMixture(1, random_state=0).fit(x)
    with pytest.raises(ValueError) as raised:
        emkit.bootstrap(model, x, n_boot=3, params={"max_iter": -1}, random_state=0)
    message = str(raised.value)
    assert "only 0 of 3 bootstrap fits succeeded. The first failure:" in message
    assert "max_iter" in message and "too complex" not in message


def test_a_mixture_of_several_families_records_their_parameters():
    """A Normal and an Exponential component: the bootstrap recorded only the weights (the
    parameters were recorded for one family alone); now each parameter, named as
    ``estimate()`` names it, with errors that agree with Louis' within Monte Carlo error."""
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(10, 1, 200), rng.exponential(2, 250)][:, None]
    model = emkit.MixtureModel(
        [emkit.Normal(), emkit.Exponential()], reg_covar=0, tol=1e-10, random_state=0
    ).fit(x)
    louis = model.estimate(x).stderr
    boot = emkit.bootstrap(model, x, n_boot=150, random_state=0)
    assert list(boot.replicates) == ["weights", "mean_0", "variance_0", "rate_1"]
    assert boot.replicates["rate_1"].shape == (150, 1)
    assert boot.estimates["mean_0"] == pytest.approx(model.components_[0].mean)
    for name, expected in louis.items():
        values = boot.replicates[name]
        z = (values.std(axis=0, ddof=1) - expected) / _bootstrap_error(values)
        assert np.all(np.abs(z) < 4), (name, z)
        np.testing.assert_allclose(values.std(axis=0, ddof=1), expected, rtol=0.25)


def _two_lines(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, (n, 1))
    y = np.where(rng.uniform(size=n) < 0.5, 1 + x[:, 0], 3 + 0.6 * x[:, 0]) + rng.normal(0, 1, n)
    return x, y


def test_random_state_fixes_the_refits_whatever_the_models_own():
    """With the model's random_state None (the default) each refit drew its starts from the
    OS: two bootstraps with random_state=0 differed (KMeans centres by 0.12, regression
    intercepts by 3.5). Now every fit's random_state is drawn from the replicate's seed: the
    same replicates twice, with one or two jobs, whatever the model's own seed was."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(3, 1, (100, 2))])
    km = emkit.KMeans(2).fit(X)
    first = emkit.bootstrap(km, X, n_boot=20, random_state=0)
    again = emkit.bootstrap(km, X, n_boot=20, random_state=0)
    parallel = emkit.bootstrap(km, X, n_boot=20, random_state=0, n_jobs=2)
    seeded = emkit.bootstrap(km.set_params(random_state=7), X, n_boot=20, random_state=0)
    for other in (again, parallel, seeded):
        np.testing.assert_array_equal(
            other.replicates["cluster_centers"], first.replicates["cluster_centers"]
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, y = _two_lines(40, 5)
        mr = emkit.MixtureOfRegressions(2, random_state=0).fit(x, y).set_params(random_state=None)
        one = emkit.bootstrap(mr, x, y, n_boot=30, random_state=0)
        two = emkit.bootstrap(mr, x, y, n_boot=30, random_state=0, n_jobs=2)
    for name, values in one.replicates.items():
        np.testing.assert_array_equal(two.replicates[name], values)


def test_a_replicate_fallen_back_to_one_shared_variance_is_left_out():
    """Fifteen rows on two lines: a few resamples collapse a line at every start, and the fit
    falls back to one shared residual variance with a DegenerateFitWarning (equal_variance_
    True). Those replicates were kept among the per-component-variance ones, with n_failed
    0. Now they are left out and counted, as a hand-written loop over the same seeds finds
    them."""
    import copy

    x, y = _two_lines(15, 5)
    model = emkit.MixtureOfRegressions(2, random_state=0).fit(x, y)
    assert not model.equal_variance_
    boot = emkit.bootstrap(model, x, y, n_boot=40, random_state=0)
    kept, fallen = [], 0
    for seed in np.random.SeedSequence(0).spawn(41)[:40]:
        rng = np.random.default_rng(seed)
        rows = rng.integers(0, 15, 15)
        fit = copy.deepcopy(model).set_params(
            warm_start=True, random_state=int(rng.integers(2**31 - 1))
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit.fit(x[rows], y[rows])
        if any(issubclass(w.category, emkit.DegenerateFitWarning) for w in caught):
            assert fit.equal_variance_
            fallen += 1
        else:
            kept.append(np.sort(fit.sigmas_))
    assert fallen > 0
    assert boot.n_failed == fallen and boot.n_boot == 40 - fallen
    np.testing.assert_allclose(np.sort(boot.replicates["sigmas"], axis=1), kept, rtol=1e-12)


def test_a_warning_the_data_give_themselves_leaves_no_replicate_out():
    """Two columns never observed in one row warn a DegenerateFitWarning at every fit, the
    original's included: it says something of the data, not of a replicate, and leaves none
    out."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 3))
    X[:60, 0] = np.nan
    X[60:, 1] = np.nan
    with pytest.warns(emkit.DegenerateFitWarning, match="never"):
        gm = emkit.GaussianMixture(1, missing="em", random_state=0).fit(X)
    boot = emkit.bootstrap(gm, X, n_boot=10, random_state=0)
    assert boot.n_failed == 0 and boot.n_boot == 10


def test_one_parameter_name_as_a_string():
    """parameters="coef_" was read as the names 'c', 'o', 'e', 'f', '_'."""
    x, y = _two_lines(100, 0)
    model = emkit.MixtureOfRegressions(2, random_state=0).fit(x, y)
    one = emkit.bootstrap(model, x, y, n_boot=5, parameters="coef_", random_state=0)
    listed = emkit.bootstrap(model, x, y, n_boot=5, parameters=["coef_"], random_state=0)
    assert list(one.replicates) == ["coef"]
    np.testing.assert_array_equal(one.replicates["coef"], listed.replicates["coef"])


def test_weights_the_refits_cannot_use_are_refused_up_front():
    """All-zero weights with kind="weighted" divided 0 by 0 and failed every refit on NaN
    weights; sample_weight with an estimator whose fit takes none (scikit-learn's
    GaussianMixture) raised a raw TypeError from the first refit."""
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 1))
    gm = emkit.GaussianMixture(1).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="sample weights are all 0"):
            emkit.bootstrap(gm, X, kind="weighted", n_boot=5, sample_weight=np.zeros(50))
    sk = GaussianMixture(1, random_state=0).fit(X)
    with pytest.raises(ValueError, match="GaussianMixture.fit does not take; write the rows"):
        emkit.bootstrap(sk, X, n_boot=5, random_state=0, sample_weight=np.ones(50))


def test_a_fit_without_intercepts_reports_none():
    """fit_intercept=False: the summary had intercept[k] rows of 0 +- 0, which estimate()
    leaves out."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, (200, 1))
    y = np.where(rng.uniform(size=200) < 0.5, 2 * x[:, 0], -0.5 * x[:, 0])
    y = y + rng.normal(0, 0.5, 200)
    model = emkit.MixtureOfRegressions(2, fit_intercept=False, random_state=0).fit(x, y)
    boot = emkit.bootstrap(model, x, y, n_boot=10, random_state=0)
    assert "intercept" not in boot.replicates
    assert list(boot.summary().index) == list(model.estimate(x, y).summary().index)


def test_a_random_state_in_params_is_every_replicates():
    """params={"random_state": 3} starts every refit from seed 3, as a hand-written loop over
    the replicates' rows does; the replicates' own seeds are drawn only without it."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(3, 1, (60, 2))])
    km = emkit.KMeans(2, n_init=1, init="random").fit(X)
    boot = emkit.bootstrap(km, X, n_boot=8, random_state=0, params={"random_state": 3})
    for seed, centres in zip(
        np.random.SeedSequence(0).spawn(9)[:8], boot.replicates["cluster_centers"], strict=True
    ):
        rows = np.random.default_rng(seed).integers(0, 120, 120)
        hand = emkit.KMeans(2, n_init=1, init="random", random_state=3).fit(X[rows])
        np.testing.assert_allclose(
            np.sort(centres, axis=0), np.sort(hand.cluster_centers_, axis=0), rtol=1e-12
        )


def test_summary_leaves_out_the_padding_of_categorical_probs():
    """Features of 3, 4 and 2 categories: probs is (k, 3, 4), its codes past a feature's
    count 0 in every fit. They are no parameters, and the summary listed them with
    estimate 0 and std_err 0."""
    rng = np.random.default_rng(19)
    z = rng.uniform(size=300) < 0.5
    x = np.c_[
        np.where(z, rng.choice(3, 300, p=[0.7, 0.2, 0.1]), rng.choice(3, 300, p=[0.1, 0.2, 0.7])),
        np.where(
            z, rng.choice(4, 300, p=[0.6, 0.2, 0.1, 0.1]), rng.choice(4, 300, p=[0.1] * 3 + [0.7])
        ),
        np.where(z, rng.choice(2, 300, p=[0.8, 0.2]), rng.choice(2, 300, p=[0.2, 0.8])),
    ].astype(float)
    model = emkit.MixtureModel([emkit.Categorical(), emkit.Categorical()], random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x)
        boot = emkit.bootstrap(model, x, n_boot=10, random_state=0)
    assert boot.replicates["probs"].shape[1:] == (2, 3, 4)
    table = boot.summary()
    expected = ["weights[0]", "weights[1]"] + [
        f"probs[{j},{f},{c}]" for j in range(2) for f, n in enumerate((3, 4, 2)) for c in range(n)
    ]
    assert list(table.index) == expected
    # the entries kept are the replicates' own: standard deviations by NumPy
    probs = boot.replicates["probs"]
    assert table.loc["probs[1,2,1]", "std_err"] == pytest.approx(np.std(probs[:, 1, 2, 1], ddof=1))
    assert table.loc["probs[0,1,3]", "estimate"] == model.components_[0].probs[1, 3]
    assert (table["std_err"] > 0).all()


def test_components_of_several_families_with_as_many_features_as_components():
    """[Categorical(), Poisson()] on two columns: probs_0 is (2, 3), its first axis as long
    as the components, and was taken for one running over them (a KeyError). Its padding
    (the second feature has 2 codes) is left out of the summary."""
    rng = np.random.default_rng(0)
    z = rng.uniform(size=300) < 0.5
    x = np.c_[
        np.where(z, rng.choice(3, 300, p=[0.7, 0.2, 0.1]), rng.poisson(1.5, 300) % 3),
        np.where(z, rng.choice(2, 300, p=[0.8, 0.2]), rng.poisson(0.5, 300) % 2),
    ].astype(float)
    model = emkit.MixtureModel([emkit.Categorical(), Poisson()], random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x)
        boot = emkit.bootstrap(model, x, n_boot=10, random_state=0)
    assert boot.replicates["probs_0"].shape == (10, 2, 3)
    np.testing.assert_array_equal(boot.estimates["probs_0"], model.components_[0].probs)
    table = boot.summary()
    probs = [i for i in table.index if i.startswith("probs_0")]
    assert probs == ["probs_0[0,0]", "probs_0[0,1]", "probs_0[0,2]", "probs_0[1,0]", "probs_0[1,1]"]
    assert "rate_1[1]" in table.index


class _Chunks:
    """A re-iterable of chunks (not a list), as GaussianMixture.fit reads one."""

    def __init__(self, chunks):
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)


@pytest.mark.parametrize(
    "form", ["npy", "chunks", "parquet", "frame chunks", "re-iterable", "frame re-iterable"]
)
def test_data_read_from_a_file_or_in_chunks_bootstrap_as_in_memory(tmp_path, form):
    # A fit to a path or to chunks is read chunk by chunk; its bootstrap reads the rows into
    # memory (as predict does) and draws the replicates of the array, where it raised a bare
    # IndexError (a path, a re-iterable of chunks) or failed (a list of chunks).
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(4, 1, (40, 2))])
    frame = pd.DataFrame(x, columns=["a", "b"])
    if form == "npy":
        data, memory = tmp_path / "x.npy", x
        np.save(data, x)
    elif form == "parquet":
        pytest.importorskip("pyarrow")
        data, memory = str(tmp_path / "x.parquet"), frame
        frame.to_parquet(data)
    elif form == "chunks":
        data, memory = [x[:30], x[30:75], x[75:]], x
    elif form == "re-iterable":
        data, memory = _Chunks([x[:30], x[30:75], x[75:]]), x
    elif form == "frame re-iterable":
        data, memory = _Chunks([frame.iloc[:50], frame.iloc[50:]]), frame
    else:
        data, memory = [frame.iloc[:50], frame.iloc[50:]], frame
    gm = emkit.GaussianMixture(2, random_state=0).fit(data)
    for kind in ("nonparametric", "weighted"):
        boot = emkit.bootstrap(gm, data, n_boot=3, kind=kind, random_state=1)
        again = emkit.bootstrap(gm, memory, n_boot=3, kind=kind, random_state=1)
        assert boot.n_failed == again.n_failed == 0
        for name, values in again.replicates.items():
            np.testing.assert_allclose(boot.replicates[name], values, rtol=1e-12, err_msg=name)


def test_a_selection_bootstraps_its_chosen_model():
    """As MclustBootstrap takes what Mclust returns, ``bootstrap(select_mixture(X), X)``
    refits the chosen model (``best_``); it stopped on "'MixtureSelection' object has no
    attribute 'fit'"."""
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (120, 2)), rng.normal(5, 1, (80, 2))])
    sel = emkit.select_mixture(x, [1, 2], covariance_types=["VVV", "EII"])
    boot = emkit.bootstrap(sel, x, n_boot=20, random_state=0)
    chosen = emkit.bootstrap(sel.best_, x, n_boot=20, random_state=0)
    assert boot.estimates.keys() == chosen.estimates.keys()
    for name, value in chosen.replicates.items():
        np.testing.assert_array_equal(boot.replicates[name], value)
