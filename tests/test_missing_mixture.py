"""GaussianMixture(missing="em") against brute force, scipy and the complete-data fit."""

import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats
from scipy.special import logsumexp, softmax
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

import emkit
from emkit import DegenerateFitWarning, GaussianMixture
from emkit.distributions.gaussian import COVARIANCES
from emkit.models.missing import MissingMixture, fill_column_means

TYPES = ["full", "tied", "diag", "spherical"]


@parametrize_with_checks([GaussianMixture(missing="em", covariance_type=t) for t in TYPES[::2]])
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateFitWarning)
        check(estimator)


def _clusters(n=600, fraction=0.2, seed=0):
    """Three well separated, correlated clusters in 4-D, values removed completely at random."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0, 0, 0], [4, 4, 0, 0], [0, 4, 4, -3]])
    base = np.array([[1.0, 0.5, 0.2, 0.0], [0.5, 1.0, 0.3, 0.1], [0.2, 0.3, 1.0, 0.4]])
    cov = base.T @ base + 0.3 * np.eye(4)
    labels = rng.integers(0, 3, size=n)
    x = centres[labels] + rng.multivariate_normal(np.zeros(4), cov, size=n)
    holes = x.copy()
    holes[rng.random(x.shape) < fraction] = np.nan
    keep = ~np.isnan(holes).all(axis=1)
    return x[keep], holes[keep], labels[keep]


def _brute_force(x, weights, means, covariances):
    """log pi_k + log N(x_o | mu_o, Sigma_oo) with scipy.stats, pattern by pattern, (n, k)."""
    out = np.empty((x.shape[0], len(weights)))
    patterns, inverse = np.unique(~np.isnan(x), axis=0, return_inverse=True)
    for p, o in enumerate(patterns):
        rows = inverse.ravel() == p
        for k in range(len(weights)):
            dist = stats.multivariate_normal(means[k][o], covariances[k][np.ix_(o, o)])
            out[rows, k] = np.log(weights[k]) + dist.logpdf(x[rows][:, o])
    return out


@pytest.mark.parametrize("name", TYPES)
def test_log_likelihood_and_posteriors_are_the_observed_marginals(name):
    _, x, _ = _clusters(n=120, seed=1)
    gm = GaussianMixture(3, covariance_type=name, missing="em", random_state=0).fit(x)
    covariances = gm._mixture().components.full_covariances()
    log_joint = _brute_force(x, gm.weights_, gm.means_, covariances)
    assert gm.log_likelihood_ == pytest.approx(logsumexp(log_joint, axis=1).sum(), rel=1e-10)
    np.testing.assert_allclose(gm.score_samples(x), logsumexp(log_joint, axis=1), rtol=1e-10)
    np.testing.assert_allclose(gm.predict_proba(x), softmax(log_joint, axis=1), atol=1e-10)
    assert np.all(np.diff(gm.history_) >= -1e-9 * np.abs(gm.history_[1:]))


@pytest.mark.parametrize("name", TYPES)
def test_recovers_clusters_with_a_fifth_of_values_missing(name):
    x, holes, labels = _clusters()
    assert 0.15 < np.isnan(holes).mean() < 0.25
    complete = GaussianMixture(3, covariance_type=name, n_init=3, random_state=0).fit(x)
    missing = GaussianMixture(3, covariance_type=name, missing="em", n_init=3, random_state=0)
    missing.fit(holes)
    ari_complete = adjusted_rand_score(labels, complete.predict(x))
    ari_missing = adjusted_rand_score(labels, missing.predict(holes))
    filled = fill_column_means(holes)
    imputed = GaussianMixture(3, covariance_type=name, n_init=3, random_state=0).fit(filled)
    ari_imputed = adjusted_rand_score(labels, imputed.predict(filled))
    assert ari_complete > 0.9
    assert ari_missing > ari_complete - 0.1
    assert ari_missing > ari_imputed  # EM beats filling in column means
    assert np.all(np.diff(missing.history_) >= -1e-9 * np.abs(missing.history_[1:]))
    assert missing.converged_


def test_em_fit_is_a_maximum_of_the_observed_likelihood():
    """scipy, started at EM's answer, finds nothing better nearby (full, k = 2, d = 3)."""
    _, x, _ = _clusters(n=150, fraction=0.25, seed=2)
    x = x[:, :3][~np.isnan(x[:, :3]).all(axis=1)]
    gm = GaussianMixture(2, missing="em", reg_covar=0.0, tol=1e-13, random_state=0).fit(x)
    d, tril = 3, np.tril_indices(3)
    diag = tril[0] == tril[1]

    def unpack(theta):
        weights = softmax([0.0, theta[0]])
        means = theta[1 : 1 + 2 * d].reshape(2, d)
        covs = []
        for values in theta[1 + 2 * d :].reshape(2, -1):
            chol = np.zeros((d, d))
            values = values.copy()
            values[diag] = np.exp(values[diag])
            chol[tril] = values
            covs.append(chol @ chol.T)
        return weights, means, np.array(covs)

    def pack(weights, means, covs):
        chols = np.linalg.cholesky(covs)[:, tril[0], tril[1]]
        chols[:, diag] = np.log(chols[:, diag])
        return np.concatenate([[np.log(weights[1] / weights[0])], means.ravel(), chols.ravel()])

    def negative_loglik(theta):
        return -logsumexp(_brute_force(x, *unpack(theta)), axis=1).sum()

    start = pack(gm.weights_, gm.means_, gm.covariances_)
    assert -negative_loglik(start) == pytest.approx(gm.log_likelihood_, abs=1e-8)
    result = optimize.minimize(negative_loglik, start, method="BFGS", options={"gtol": 1e-6})
    assert -result.fun - gm.log_likelihood_ < 1e-6
    weights, means, covs = unpack(result.x)
    np.testing.assert_allclose(means, gm.means_, atol=1e-4)
    np.testing.assert_allclose(covs, gm.covariances_, atol=1e-4)


@pytest.mark.parametrize("name", TYPES)
def test_complete_data_gives_the_ordinary_fit(faithful, name):
    plain = GaussianMixture(2, covariance_type=name, random_state=0).fit(faithful)
    em = GaussianMixture(2, covariance_type=name, missing="em", random_state=0).fit(faithful)
    np.testing.assert_allclose(em.means_, plain.means_, rtol=1e-12)
    np.testing.assert_allclose(em.covariances_, plain.covariances_, rtol=1e-12)
    assert em.log_likelihood_ == pytest.approx(plain.log_likelihood_, rel=1e-12)


@pytest.mark.parametrize("name", TYPES)
def test_statistics_add_up_over_chunks(name):
    _, x, _ = _clusters(n=90, seed=3)
    rng = np.random.default_rng(0)
    structure = COVARIANCES[name]
    start = GaussianMixture(3, covariance_type=name, max_iter=0, random_state=0)
    start.set_params(missing="em").fit(x)
    model = start._mixture()
    assert type(model) is MissingMixture and isinstance(model.components, structure)
    w = rng.uniform(0.5, 2.0, size=len(x))
    whole, ll = model.e_step(x, w)
    a, ll_a = model.e_step(x[:35], w[:35])
    b, ll_b = model.e_step(x[35:], w[35:])
    merged = a + b
    assert ll_a + ll_b == pytest.approx(ll, rel=1e-13)
    np.testing.assert_allclose(merged.resp_sum, whole.resp_sum, rtol=1e-12)
    np.testing.assert_allclose(merged.components.mean, whole.components.mean, rtol=1e-10)
    np.testing.assert_allclose(merged.components.scatter, whole.components.scatter, rtol=1e-10)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    split=st.integers(1, 59),
    fraction=st.floats(0.0, 0.6),
    name=st.sampled_from(TYPES),
)
def test_statistics_add_up_for_any_split_and_missingness(seed, split, fraction, name):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, 3)) * [1.0, 10.0, 0.1] + [0.0, 100.0, -5.0]
    x[rng.random(x.shape) < fraction] = np.nan
    structure = COVARIANCES[name]
    means = rng.normal(size=(2, 3)) + [0.0, 100.0, -5.0]
    variances = rng.uniform(0.5, 2.0, size=(2, 3))
    covariances = {
        "full": np.einsum("kd,de->kde", variances, np.eye(3)),
        "tied": np.diag(variances[0]),
        "diag": variances,
        "spherical": variances[:, 0],
    }[name]
    model = MissingMixture(np.array([0.3, 0.7]), structure.from_covariances(means, covariances))
    w = rng.uniform(0.0, 2.0, size=60)
    whole, ll = model.e_step(x, w)
    a, ll_a = model.e_step(x[:split], w[:split])
    b, ll_b = model.e_step(x[split:], w[split:])
    merged = a + b
    assert ll_a + ll_b == pytest.approx(ll, rel=1e-12)
    np.testing.assert_allclose(merged.resp_sum, whole.resp_sum, rtol=1e-12)
    np.testing.assert_allclose(merged.components.mean, whole.components.mean, rtol=1e-10)
    np.testing.assert_allclose(
        merged.components.scatter, whole.components.scatter, rtol=1e-9, atol=1e-9
    )


def test_sample_weight_counts_rows():
    _, holes, _ = _clusters(n=150, seed=5)
    weights = np.random.default_rng(0).integers(0, 3, size=len(holes))
    weighted = GaussianMixture(3, missing="em", tol=1e-12, random_state=0)
    weighted.fit(holes, sample_weight=weights)
    repeated = GaussianMixture(3, missing="em", tol=1e-12, random_state=0)
    repeated.fit(np.repeat(holes, weights, axis=0))
    np.testing.assert_allclose(weighted.means_, repeated.means_, atol=1e-6)
    np.testing.assert_allclose(weighted.covariances_, repeated.covariances_, atol=1e-6)
    assert weighted.log_likelihood_ == pytest.approx(repeated.log_likelihood_, rel=1e-9)


def test_nan_needs_the_flag_and_rows_need_a_value():
    _, holes, _ = _clusters(n=100)
    rows = int(np.isnan(holes).any(axis=1).sum())
    columns = np.flatnonzero(np.isnan(holes).any(axis=0)).tolist()
    where = rf"NaN in {rows} of 100 rows \(columns {re.escape(str(columns))}\)"
    hint = r'; pass missing="em" .*GaussianImputer'
    with pytest.raises(ValueError, match="Input X contains " + where + hint):
        GaussianMixture(2).fit(holes)
    with pytest.raises(ValueError, match="the chunk at row 0 contains " + where + hint):
        GaussianMixture(2).fit([holes])
    fitted = GaussianMixture(2, random_state=0).fit(np.nan_to_num(holes))
    with pytest.raises(ValueError, match=where + hint):
        fitted.predict(holes)
    with pytest.raises(ValueError, match="inf"):
        GaussianMixture(2, missing="em").fit(np.where(np.isnan(holes), np.inf, holes))
    empty = holes.copy()
    empty[[3, 7]] = np.nan
    with pytest.raises(ValueError, match="2 of 100 rows have no observed value"):
        GaussianMixture(2, missing="em").fit(empty)


def test_predict_on_rows_with_nan_and_file_round_trip(tmp_path):
    x, holes, _ = _clusters(n=200)
    gm = GaussianMixture(3, missing="em", random_state=0).fit(holes)
    proba = gm.predict_proba(holes)
    assert proba.shape == (len(holes), 3) and np.allclose(proba.sum(axis=1), 1.0)
    # A row with nothing observed gets the mixing weights, and log density 0.
    np.testing.assert_allclose(gm.predict_proba([[np.nan] * 4])[0], gm.weights_)
    assert gm.score_samples([[np.nan] * 4])[0] == pytest.approx(0.0, abs=1e-12)
    assert gm.predict(x).shape == (len(x),)
    gm.save(tmp_path / "gm.json")
    loaded = emkit.load(tmp_path / "gm.json")
    np.testing.assert_array_equal(loaded.predict_proba(holes), proba)
    with pytest.raises(ValueError, match="NaN"):
        GaussianMixture(3, random_state=0).fit(x).predict(holes)


def _on_a_plane(scale=1.0, seed=5):
    """Rows whose third column is 2 x the second + 1, a quarter of the values missing; and the
    plane's unit normal."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(40, 3))
    x[:, 2] = 2 * x[:, 1] + 1
    x[rng.uniform(size=x.shape) < 0.25] = np.nan
    return scale * x[~np.isnan(x).all(axis=1)], np.array([0.0, -2.0, 1.0]) / np.sqrt(5.0)


@pytest.mark.parametrize("scale", [1e-2, 1.0, 10.0])
@pytest.mark.parametrize("name", TYPES[:2])
def test_data_on_a_plane_are_degenerate_with_missing_values_as_without(scale, name):
    # The verdict read a scatter holding conditional covariances computed under the ridged
    # covariance, so the ridge itself kept it off zero: degenerate_ was False, silently.
    x, normal = _on_a_plane(scale)
    complete = x[~np.isnan(x).any(axis=1)]
    with pytest.warns(DegenerateFitWarning):
        reference = GaussianMixture(1, covariance_type=name).fit(complete)
    with pytest.warns(DegenerateFitWarning, match="singular but for regularisation"):
        gm = GaussianMixture(1, covariance_type=name, missing="em").fit(x)
    assert reference.degenerate_ and gm.degenerate_
    # numpy's eigen-decomposition: the narrowest direction is the plane's normal.
    cov = gm.covariances_[0] if name == "full" else gm.covariances_
    vectors = np.linalg.eigh(cov)[1]
    assert abs(vectors[:, 0] @ normal) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_healthy_data_with_missing_values_are_not_degenerate(scale):
    _, x, _ = _clusters(n=300, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateFitWarning)
        warnings.simplefilter("ignore", emkit.ScaleWarning)
        gm = GaussianMixture(3, missing="em", random_state=0).fit(scale * x)
        imp = emkit.GaussianImputer().fit(scale * x)
    assert not gm.degenerate_ and not imp.degenerate_


@pytest.mark.parametrize("scale", [1e-5, 1e-6])
def test_data_of_a_tiny_scale_are_degenerate_with_missing_values_as_without(scale):
    # Correlated healthy data the ridge outweighs (a ScaleWarning): one Gaussian fitted to the
    # complete rows is not degenerate, and with 5% of the values missing it was (the ridge
    # doubled every variance, and that alone made the verdict).
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3)) @ np.array([[1, 0.5, 0.2], [0, 1, 0.3], [0, 0, 1]]) * scale
    gaps = x.copy()
    gaps[rng.random(x.shape) < 0.05] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emkit.ScaleWarning)
        complete = GaussianMixture(1).fit(x)
        gm = GaussianMixture(1, missing="em").fit(gaps)
        imp = emkit.GaussianImputer().fit(gaps)
    assert not complete.degenerate_
    assert not gm.degenerate_ and not imp.degenerate_


@pytest.mark.parametrize("scale", [1e-2, 1.0, 1e2])
def test_a_component_too_small_for_its_missing_values_is_degenerate_at_any_scale(scale):
    # Eleven rows, a third of their values missing, do not fix a 3-D covariance: from the
    # fitted parameters, EM without a ridge collapses that component (its smallest eigenvalue
    # falls to rounding). With the default ridge it was not flagged.
    rng = np.random.default_rng(1)
    x = rng.multivariate_normal([0, 1, 2], [[1, 0.8, 0.3], [0.8, 1, 0.5], [0.3, 0.5, 1]], 60)
    x[rng.uniform(size=x.shape) < 0.3] = np.nan
    x = scale * x[~np.isnan(x).all(axis=1)]
    with pytest.warns(DegenerateFitWarning):
        gm = GaussianMixture(3, missing="em", random_state=0).fit(x)
    start = {"weights_init": gm.weights_, "means_init": gm.means_}
    with pytest.warns(DegenerateFitWarning), warnings.catch_warnings():
        # The reference climbs an unbounded likelihood to where rounding is all that is left.
        warnings.simplefilter("ignore", emkit.MonotonicityWarning)
        bare = GaussianMixture(
            3, missing="em", reg_covar=0, precisions_init=gm.precisions_, max_iter=3000, **start
        ).fit(x)
    spectra = np.linalg.eigvalsh(bare.covariances_)  # numpy's eigenvalues, (3, 3)
    collapsed = spectra[:, 0] < 1e-10 * spectra[:, -1]
    assert collapsed.sum() == 1
    assert list(gm.degenerate_components_) == list(collapsed)
