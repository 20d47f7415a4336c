"""GaussianMixture against scikit-learn, brute force and its own contracts."""

import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

import emkit
from emkit import DegenerateFitWarning, GaussianMixture

TYPES = ["full", "tied", "diag", "spherical"]


def _expected_failures(estimator):
    if estimator.init_params != "hc":
        return {}
    return {
        "check_sample_weight_equivalence_on_dense_data": (
            "hierarchical starts ignore sample_weight, as mclust's hc does: the tree of the "
            "weighted rows is not that of the repeated rows, so EM may start, and end, elsewhere"
        )
    }


@parametrize_with_checks(
    [GaussianMixture(covariance_type=t) for t in TYPES]
    + [GaussianMixture(covariance_prior="mclust"), GaussianMixture(2, init_params="hc")],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateFitWarning)
        check(estimator)


def _sklearn_precisions(name, covariances):
    return np.linalg.inv(covariances) if name in ("full", "tied") else 1.0 / covariances


@pytest.mark.parametrize("name", TYPES)
def test_equals_sklearn_from_the_same_start(faithful, name):
    rng = np.random.default_rng(0)
    weights = np.array([0.3, 0.3, 0.4])
    means = faithful[rng.choice(len(faithful), 3, replace=False)]
    covariances = {
        "full": np.repeat(np.cov(faithful.T)[None], 3, axis=0) / 4,
        "tied": np.cov(faithful.T) / 4,
        "diag": np.repeat(faithful.var(axis=0)[None], 3, axis=0) / 4,
        "spherical": np.full(3, faithful.var(axis=0).mean() / 4),
    }[name]
    start = dict(
        weights_init=weights,
        means_init=means,
        precisions_init=_sklearn_precisions(name, covariances),
        reg_covar=0.0,
    )
    ours = GaussianMixture(3, covariance_type=name, tol=0.0, max_iter=3000, **start).fit(faithful)
    # scikit-learn's 3000 steps on one BLAS thread: its triangular solves of 272 rows waited
    # on a second thread (12 s on the shared two-core machine, 1 s on one thread)
    with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):
        warnings.simplefilter("ignore")  # scikit-learn warns that it did not converge at tol=0
        theirs = SklearnGaussianMixture(
            3, covariance_type=name, tol=0.0, max_iter=3000, **start
        ).fit(faithful)
    assert ours.log_likelihood_ == pytest.approx(theirs.score(faithful) * len(faithful), abs=1e-6)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-6)
    np.testing.assert_allclose(ours.weights_, theirs.weights_, rtol=1e-6)
    np.testing.assert_allclose(ours.covariances_, theirs.covariances_, rtol=1e-6)
    assert ours.bic(faithful) == pytest.approx(theirs.bic(faithful), abs=1e-5)
    assert ours.aic(faithful) == pytest.approx(theirs.aic(faithful), abs=1e-5)
    np.testing.assert_allclose(
        ours.predict_proba(faithful), theirs.predict_proba(faithful), atol=1e-6
    )


def test_default_tolerance_reaches_the_optimum(faithful):
    ours = GaussianMixture(2, random_state=0).fit(faithful)
    tight = GaussianMixture(2, random_state=0, tol=0.0, max_iter=5000).fit(faithful)
    sklearn_default = SklearnGaussianMixture(2, random_state=0).fit(faithful)
    assert tight.log_likelihood_ - ours.log_likelihood_ < 1e-4
    assert ours.log_likelihood_ >= sklearn_default.score(faithful) * len(faithful) - 1e-9
    assert ours.converged_


@pytest.mark.parametrize("name", TYPES)
@pytest.mark.parametrize("k", [2, 4, 7])
@pytest.mark.parametrize("init", ["k-means++", "kmeans", "random", "random_from_data"])
def test_history_never_decreases(faithful, name, k, init):
    # pytest turns MonotonicityWarning into an error; this also checks the recorded values.
    model = GaussianMixture(k, covariance_type=name, init_params=init, random_state=k).fit(faithful)
    history = model.history_
    assert len(history) == model.n_iter_ + 1
    assert np.all(np.diff(history) >= -1e-10 * np.abs(history[:-1]))
    assert history[-1] == pytest.approx(model.log_likelihood_ + model._mixture().log_prior())


def test_predict_proba_equals_brute_force_bayes():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(6, 2)) * 2
    model = GaussianMixture(2, random_state=0, max_iter=3).fit(x)
    densities = np.column_stack(
        [
            model.weights_[k]
            * stats.multivariate_normal(model.means_[k], model.covariances_[k]).pdf(x)
            for k in range(2)
        ]
    )
    np.testing.assert_allclose(model.predict_proba(x), densities / densities.sum(1, keepdims=True))
    np.testing.assert_allclose(model.score_samples(x), np.log(densities.sum(1)), rtol=1e-12)
    assert model.score(x) == pytest.approx(np.log(densities.sum(1)).mean())
    np.testing.assert_array_equal(model.predict(x), densities.argmax(1))


@pytest.mark.parametrize("name", ["full", "tied", "diag", "spherical"])
def test_predict_is_the_first_largest_log_joint_as_scipy_gives_it(name):
    """predict takes the largest log pi_k + log p_k(x) without normalising (scikit-learn's
    predict), on rows far from the origin and in blocks of rows (diag and spherical: 9,000
    rows of 20 features and 3 components are 17 blocks), against scipy's log densities; a row
    tied between two mirror-image components goes to the first, as argmax gives it."""
    rng = np.random.default_rng(7)
    centres = 1e6 + 3.0 * rng.normal(size=(3, 20))
    x = np.vstack([c + rng.normal(size=(3000, 20)) * (1 + j) for j, c in enumerate(centres)])
    model = GaussianMixture(3, covariance_type=name, random_state=0).fit(x)
    covariances = [np.atleast_2d(c) for c in _full_covariances_of(model)]
    joints = np.column_stack(
        [
            np.log(w) + stats.multivariate_normal(m, c).logpdf(x)
            for w, m, c in zip(model.weights_, model.means_, covariances, strict=True)
        ]
    )
    np.testing.assert_allclose(model.score_samples(x), logsumexp(joints, axis=1), rtol=1e-12)
    np.testing.assert_array_equal(model.predict(x), joints.argmax(axis=1))
    tie = GaussianMixture(2, covariance_type=name, means_init=[[-1.0, 0.0], [1.0, 0.0]])
    tie.fit(np.array([[-1.0, 0.5], [-1.0, -0.5], [1.0, 0.5], [1.0, -0.5], [-1.5, 0], [1.5, 0]]))
    assert tie.weights_[0] == tie.weights_[1]
    np.testing.assert_array_equal(tie.predict(np.array([[0.0, 0.3], [0.0, -2.0]])), [0, 0])


def _full_covariances_of(model):
    from emkit.report.fitted import full_covariances

    return full_covariances(model)


def test_full_equals_diag_on_axis_aligned_data():
    # Each cluster is symmetric under reflection of either axis about its centre, so its
    # weighted cross-covariance is exactly zero and full must find the diagonal solution.
    grid = np.array([(a, b) for a in (-1.5, -0.5, 0.5, 1.5) for b in (-1.0, 1.0)])
    x = np.vstack([grid * [1.0, 3.0], grid * [2.0, 0.5] + [40.0, 40.0]])
    start = dict(weights_init=[0.5, 0.5], means_init=[[0.5, 0.2], [39.0, 40.5]], reg_covar=0)
    full = GaussianMixture(2, covariance_type="full", **start).fit(x)
    diag = GaussianMixture(2, covariance_type="diag", **start).fit(x)
    assert full.log_likelihood_ == pytest.approx(diag.log_likelihood_, rel=1e-10)
    np.testing.assert_allclose(np.diagonal(full.covariances_, axis1=1, axis2=2), diag.covariances_)
    np.testing.assert_allclose(full.covariances_[:, 0, 1], 0.0, atol=1e-10)


@pytest.mark.parametrize("name", TYPES)
def test_save_load_round_trip_is_exact(tmp_path, faithful, name):
    model = GaussianMixture(3, covariance_type=name, random_state=1).fit(faithful)
    path = tmp_path / "model.json"
    model.save(path)
    loaded = emkit.load(path)
    assert type(loaded) is GaussianMixture
    assert loaded.get_params() == {**model.get_params(), "callback": None}
    for attribute in GaussianMixture._fitted_attributes:
        a, b = getattr(model, attribute), getattr(loaded, attribute)
        np.testing.assert_array_equal(a, b)
        assert np.asarray(a).dtype == np.asarray(b).dtype
    np.testing.assert_array_equal(loaded.predict_proba(faithful), model.predict_proba(faithful))


def test_model_file_cannot_name_arbitrary_classes(tmp_path):
    path = tmp_path / "evil.json"
    path.write_text('{"format": "emkit-model", "class": "os.system", "params": {}}')
    with pytest.raises(ValueError, match="unknown model class"):
        emkit.load(path)
    path.write_text('{"format": "emkit-model", "class": "GaussianMixture", "params": {"bogus": 1}}')
    with pytest.raises(ValueError, match="damaged GaussianMixture model file"):
        emkit.load(path)
    path.write_text('{"format": "emkit-model", "class": "GaussianMixture", "params": {}}')
    with pytest.raises(ValueError, match="no weights_"):
        emkit.load(path)
    path.write_text("not json")
    with pytest.raises(ValueError, match="not a readable emkit model file"):
        emkit.load(path)


@pytest.mark.parametrize(
    "x, message",
    [
        (np.array([[1.0, np.nan], [2.0, 3.0], [3.0, 1.0]]), "NaN"),
        (np.array([[1.0, np.inf], [2.0, 3.0], [3.0, 1.0]]), "infinity"),
        (np.array([[1.0, 2.0]]), "at least 2 rows"),
        (np.arange(6.0), "2D array"),
        (np.array([["a", "b"], ["c", "d"]]), "could not convert"),
    ],
)
def test_bad_input_gets_a_clear_error(x, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixture(2).fit(x)


@pytest.mark.parametrize("name", ["full", "tied", "diag", "spherical"])
def test_sample_draws_sklearns_rows_from_the_same_seed(name):
    # Both fitted to the same maximum (parameters equal to ~1e-7), then sampled with the same
    # random_state: the same labels and the same rows to that precision.
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (300, 3)), rng.normal(3, [1, 2, 0.5], (200, 3))])
    x[:, 1] += 0.5 * x[:, 0]
    options = dict(covariance_type=name, random_state=1, tol=1e-12, max_iter=2000)
    options["means_init"] = [[0, 0, 0], [3, 4, 3]]
    ours = GaussianMixture(2, **options).fit(x)
    theirs = SklearnGaussianMixture(2, **options).fit(x)
    np.testing.assert_allclose(ours.means_, theirs.means_, atol=1e-6)
    drawn, labels = ours.sample(50)
    expected, expected_labels = theirs.sample(50)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(drawn, expected, atol=1e-4)


def test_bad_parameters_and_starts_get_clear_errors(faithful):
    with pytest.raises(ValueError, match="n_components"):
        GaussianMixture(0).fit(faithful)
    with pytest.raises(ValueError, match="covariance_type"):
        GaussianMixture(covariance_type="banana").fit(faithful)
    with pytest.raises(ValueError, match=r"means_init must have shape \(2, 2\)"):
        GaussianMixture(2, means_init=[[0, 0]]).fit(faithful)
    with pytest.raises(ValueError, match="sum to 1"):
        GaussianMixture(2, weights_init=[0.2, 0.2]).fit(faithful)
    # scikit-learn's tolerance on the sum: 1e-8, so 1 + 1e-6 is refused by both
    for library in (GaussianMixture, SklearnGaussianMixture):
        with pytest.raises(ValueError):
            library(2, weights_init=[0.5, 0.5 + 1e-6]).fit(faithful)
    GaussianMixture(2, weights_init=[0.5, 0.5 + 1e-9], max_iter=2).fit(faithful)
    # a float32 fit's weights sum to 1 + 9e-8: scikit-learn allows 1e-6 for float32 weights
    single = np.array(
        [
            0.2728695273399353,
            0.2103247195482254,
            0.15475383400917053,
            0.20661160349845886,
            0.15544040501117706,
        ],
        np.float32,
    )
    assert abs(float(single.astype(np.float64).sum()) - 1.0) > 1e-8
    x5 = np.random.default_rng(1).normal(size=(300, 2))
    for library in (GaussianMixture, SklearnGaussianMixture):
        library(5, weights_init=single, max_iter=2).fit(x5)
        with pytest.raises(ValueError):
            library(5, weights_init=single * np.float32(1 + 3e-6), max_iter=2).fit(x5)
    with pytest.raises(ValueError, match="sum to 1"):
        GaussianMixture(2, weights_init=[0.5, 0.5 + 1e-6], means_init=[[2, 60], [4, 80]]).fit(
            faithful
        )
    model = GaussianMixture(2, random_state=0).fit(faithful)
    with pytest.raises(ValueError, match="features"):
        model.predict(np.ones((3, 3)))
    with pytest.raises(ValueError, match="sample_weight"):
        GaussianMixture(2).fit(faithful, sample_weight=-np.ones(len(faithful)))


@pytest.mark.parametrize("name", TYPES)
def test_duplicate_rows_and_constant_columns_fit_and_are_flagged(faithful, name):
    duplicated = np.vstack([faithful, np.repeat(faithful[:3], 50, axis=0)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateFitWarning)
        model = GaussianMixture(5, covariance_type=name, random_state=0).fit(duplicated)
    assert np.isfinite(model.log_likelihood_)
    assert model.degenerate_components_.shape == (5,)

    constant = np.column_stack([faithful, np.full(len(faithful), 3.0)])
    if name == "spherical":  # one variance per component: the other columns keep it positive
        model = GaussianMixture(2, covariance_type=name, random_state=0).fit(constant)
        assert not model.degenerate_
    else:
        with pytest.warns(DegenerateFitWarning, match="constant column"):
            model = GaussianMixture(2, covariance_type=name, random_state=0).fit(constant)
        assert model.degenerate_
    assert np.all(np.isfinite(model.predict_proba(constant)))

    points = np.repeat(faithful[:5], 20, axis=0)  # five distinct rows, three components
    with pytest.warns(DegenerateFitWarning):
        model = GaussianMixture(3, covariance_type="full", random_state=0).fit(points)
    assert model.degenerate_


def test_sklearn_fails_where_we_flag(faithful):
    constant = np.column_stack([faithful, np.full(len(faithful), 3.0)])
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        SklearnGaussianMixture(2, reg_covar=0, random_state=0).fit(constant)
    with pytest.warns(DegenerateFitWarning):
        model = GaussianMixture(2, reg_covar=0, random_state=0).fit(constant)
    assert model.degenerate_
    assert np.all(np.isfinite(model.score_samples(constant)))


def test_restarts_keep_the_best(faithful):
    single = [GaussianMixture(4, random_state=s).fit(faithful).log_likelihood_ for s in range(5)]
    best = GaussianMixture(4, n_init=5, random_state=0).fit(faithful)
    assert best.log_likelihood_ >= max(single) - 1e-6 or best.log_likelihood_ == pytest.approx(
        max(single), abs=1e-3
    )


def test_sample_weights_count_rows(faithful):
    counts = np.random.default_rng(5).integers(0, 3, size=len(faithful))
    start = dict(weights_init=[0.5, 0.5], means_init=faithful[[0, 1]], tol=1e-12)
    weighted = GaussianMixture(2, **start).fit(faithful, sample_weight=counts)
    repeated = GaussianMixture(2, **start).fit(np.repeat(faithful, counts, axis=0))
    assert weighted.log_likelihood_ == pytest.approx(repeated.log_likelihood_, rel=1e-9)
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=1e-8)


def test_sample_moments(faithful):
    model = GaussianMixture(2, random_state=0).fit(faithful)
    x, labels = model.sample(20000)
    assert x.shape == (20000, 2) and labels.shape == (20000,)
    np.testing.assert_allclose(np.bincount(labels) / 20000, model.weights_, atol=0.02)
    for k in range(2):
        np.testing.assert_allclose(x[labels == k].mean(0), model.means_[k], rtol=0.02)


def test_callback_warm_start_and_sklearn_tools(faithful):
    seen = []
    model = GaussianMixture(2, random_state=0, callback=seen.append).fit(faithful)
    assert [p.iteration for p in seen] == list(range(1, model.n_iter_ + 1))
    assert seen[-1].objective == model.history_[-1]
    model.set_params(warm_start=True, callback=None).fit(faithful)
    assert model.n_iter_ <= 2
    pipe = make_pipeline(StandardScaler(), GaussianMixture(2, random_state=0)).fit(faithful)
    assert pipe.predict(faithful).shape == (len(faithful),)
    search = GridSearchCV(GaussianMixture(random_state=0), {"n_components": [1, 2, 3]}, cv=3).fit(
        faithful
    )
    assert search.best_params_["n_components"] >= 2
    assert clone(model).get_params()["n_components"] == 2


def test_warm_start_refuses_a_stored_fit_of_another_shape(faithful, tmp_path):
    def warm():
        return GaussianMixture(2, warm_start=True, random_state=0).fit(faithful)

    for change, differs in [
        ({"covariance_type": "tied"}, "covariance_type is 'tied' where the stored fit's is 'full'"),
        ({"covariance_type": "VEV"}, "covariance_type is 'VEV' where the stored fit's is 'full'"),
        ({"n_components": 3}, "n_components is 3 where the stored fit has 2"),
    ]:
        with pytest.raises(ValueError, match=differs + ".*Set warm_start=False"):
            warm().set_params(**change).fit(faithful)
    wider = np.hstack([faithful, faithful[:, :1]])
    for data in (wider, [wider]):  # an array, and a list of chunks read as a source
        with pytest.raises(ValueError, match="X has 3 features where the stored fit has 2"):
            warm().fit(data)
    # A model read from a file: its arrays tell its size and its covariances' layout.
    warm().save(tmp_path / "model.json")
    for change, differs in [
        ({"covariance_type": "diag"}, r"covariances of shape \(2, 2\) where .* \(2, 2, 2\)"),
        ({"n_components": 3}, "n_components is 3 where the stored fit has 2"),
    ]:
        with pytest.raises(ValueError, match=differs):
            emkit.load(tmp_path / "model.json").set_params(**change).fit(faithful)
    # An alias of the stored structure continues the fit, as scikit-learn's warm start does.
    model = warm()
    means = model.means_
    model.set_params(covariance_type="VVV").fit(faithful)
    assert model.n_iter_ <= 2
    np.testing.assert_allclose(model.means_, means, rtol=1e-6)


def test_icl_adds_twice_the_entropy(faithful):
    model = GaussianMixture(2, random_state=0).fit(faithful)
    resp = model.predict_proba(faithful)
    entropy = -np.sum(resp * np.log(np.clip(resp, 1e-300, None)))
    assert model.icl(faithful, kind="soft") == pytest.approx(model.bic(faithful) + 2 * entropy)
    # The default is mclust's: the log of each row's largest responsibility (hard labels).
    hard = -np.sum(np.log(resp.max(axis=1)))
    assert model.icl(faithful) == pytest.approx(model.bic(faithful) + 2 * hard)
    n_par = 1 + 2 * 2 + 2 * 3
    assert model.n_parameters() == n_par
    assert model.bic(faithful) == pytest.approx(
        -2 * model.log_likelihood_ + n_par * np.log(len(faithful))
    )


@pytest.mark.parametrize("name", TYPES)
@pytest.mark.parametrize(
    "options",
    [
        {"covariance_prior": "mclust"},
        {"weight_concentration": 0.5, "n_components": 6},
        {"assignment": "hard"},
        {"prune_weight": 0.05, "n_components": 10},
    ],
    ids=["mclust-prior", "dirichlet", "hard", "prune"],
)
def test_map_hard_and_pruning_options_climb(faithful, name, options):
    params = {"n_components": 3, "covariance_type": name, "random_state": 0, **options}
    model = GaussianMixture(**params).fit(faithful)  # MonotonicityWarning is an error here
    steps = np.diff(model.history_)
    allowed = np.zeros(steps.size, dtype=bool)
    allowed[[i - 1 for i in model.structure_changes_]] = True
    assert np.all((steps >= -1e-9 * np.abs(model.history_[1:])) | allowed)
    assert model.weights_.sum() == pytest.approx(1.0)
    if "prune_weight" in options:
        assert len(model.weights_) < 10 and model.weights_.min() >= 0.05
        assert model.structure_changes_


def test_hard_assignment_means_are_cluster_means(faithful):
    model = GaussianMixture(3, assignment="hard", random_state=0).fit(faithful)
    labels = model.predict(faithful)
    for k in range(3):
        np.testing.assert_allclose(model.means_[k], faithful[labels == k].mean(axis=0))
    np.testing.assert_allclose(model.weights_, np.bincount(labels, minlength=3) / len(faithful))


def test_mclust_prior_keeps_duplicates_from_collapsing(faithful):
    duplicated = np.vstack([faithful, np.repeat(faithful[:3], 50, axis=0)])
    model = GaussianMixture(5, covariance_prior="mclust", random_state=0).fit(duplicated)
    assert not model.degenerate_
    # Without the prior these components shrink onto the copies (eigenvalues ~ 1e-8).
    assert np.linalg.eigvalsh(model.covariances_).min() > 1e-4


def test_options_rejected_with_missing_values(faithful):
    with pytest.raises(ValueError, match="missing='em' supports"):
        GaussianMixture(2, missing="em", assignment="hard").fit(faithful)


def test_stopping_at_max_iter_warns(faithful):
    from sklearn.exceptions import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        model = GaussianMixture(3, max_iter=2, random_state=0).fit(faithful)
    assert not model.converged_ and model.n_iter_ == 2


def test_lower_bound_is_the_mean_log_likelihood_as_in_sklearn(faithful):
    x = np.asarray(faithful)
    ours = GaussianMixture(2, tol=1e-10, max_iter=500, random_state=0).fit(x)
    ref = SklearnGaussianMixture(2, tol=1e-10, max_iter=500, random_state=0).fit(x)
    np.testing.assert_allclose(ours.lower_bound_, ref.score(x), rtol=1e-7)
    np.testing.assert_allclose(ours.lower_bound_, ours.score(x), rtol=1e-12)
    weights = np.random.default_rng(0).integers(1, 4, size=x.shape[0]).astype(float)
    weighted = GaussianMixture(2, random_state=0).fit(x, sample_weight=weights)
    np.testing.assert_allclose(
        weighted.lower_bound_, weighted.log_likelihood_ / weights.sum(), rtol=1e-12
    )


@pytest.mark.parametrize("covariance", ["full", "tied", "diag", "spherical", "VEV", "EEI"])
def test_precisions_are_the_inverse_covariances(faithful, covariance):
    # scikit-learn's precisions_, in its layouts (the mclust structures in full's or diag's)
    model = GaussianMixture(3, covariance_type=covariance, random_state=0).fit(faithful)
    cov, prec = model.covariances_, model.precisions_
    assert prec.shape == cov.shape
    if covariance in ("full", "tied", "VEV"):
        np.testing.assert_allclose(prec, np.linalg.inv(cov), rtol=1e-10)
    else:
        np.testing.assert_allclose(prec, 1.0 / cov, rtol=1e-12)


def test_verbose_prints_sklearns_lines_for_every_start(faithful, capsys):
    x = np.asarray(faithful)
    model = GaussianMixture(2, random_state=0, verbose=2, verbose_interval=2, n_init=2).fit(x)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["Initialization 0", "Initialization 1"]
    steps = [line for line in lines if "Iteration" in line]
    assert steps and all("time lapse" in line and "ll change" in line for line in steps)
    ends = [line for line in lines if " lower bound " in line]
    assert [line.split(" converged.")[0] for line in ends] == [
        "Initialization 0",
        "Initialization 1",
    ]
    bounds = [float(line.rsplit(" ", 1)[1].rstrip(".")) for line in ends]
    assert max(bounds) == pytest.approx(model.lower_bound_, abs=5e-6)
    # level 1, one start: scikit-learn's own lines, and a user's callback still called
    seen = []
    GaussianMixture(2, random_state=0, verbose=1, callback=seen.append).fit(x)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Initialization 0" and lines[-1] == "Initialization converged."
    assert len(seen) >= 1 and all(p.start == 0 for p in seen)


def test_mclust_prior_on_fewer_rows_than_columns_and_one_row():
    from emkit.distributions.priors import NormalInverseWishart

    rng = np.random.default_rng(0)
    # The covariance of 5 rows in 10 columns is singular; round-off made an eigenvalue of
    # -1e-17 and the prior refused it as "not positive semi-definite". mclust's defaultPrior
    # takes the column variances where n <= d.
    x = rng.normal(size=(5, 10))
    gm = GaussianMixture(2, covariance_prior="mclust", random_state=0).fit(x)
    assert np.all(np.isfinite(gm.means_))
    prior = NormalInverseWishart.mclust(x, 2)
    np.testing.assert_allclose(prior.scale, np.diag(x.var(axis=0, ddof=1)) / 2 ** (2 / 10))
    # One row has no covariance: a message about the rows, not about the scale's shape.
    with pytest.raises(ValueError, match="n_samples = 1"):
        GaussianMixture(1, covariance_prior="mclust").fit(rng.uniform(size=(1, 10)))
    with pytest.raises(ValueError, match="n_samples = 1"):
        emkit.BayesianMixture(1, covariance_type="full", chains=1, draws=5).fit(x[:1])


def test_normal_inverse_wishart_accepts_a_rank_deficient_scale_up_to_round_off():
    from emkit.distributions.priors import NormalInverseWishart

    for seed in range(20):  # each smallest eigenvalue is round-off, here below 0
        x = np.random.default_rng(seed).normal(size=(5, 10))
        scale = np.cov(x, rowvar=False)
        prior = NormalInverseWishart(np.zeros(10), 0.01, 12.0, scale)
        np.testing.assert_array_equal(prior.scale, scale)
    with pytest.raises(ValueError, match="positive semi-definite"):
        NormalInverseWishart(np.zeros(2), 0.01, 4.0, np.diag([1.0, -1e-6]))
    with pytest.raises(ValueError, match="finite"):
        NormalInverseWishart(np.zeros(2), 0.01, 4.0, np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="symmetric"):
        NormalInverseWishart(np.zeros(2), 0.01, 4.0, np.array([[1.0, 0.5], [0.0, 1.0]]))


@pytest.mark.parametrize("covariance", TYPES)
def test_lower_bounds_follow_sklearns_iterates(faithful, covariance, tmp_path):
    # scikit-learn (1.6+) records the mean log-likelihood of every iteration in lower_bounds_;
    # from the same start and with plain EM ours are its entries one step later.
    x = np.asarray(faithful)
    start = SklearnGaussianMixture(2, covariance_type=covariance, max_iter=1, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: one step only
        start.fit(x)
    given = {
        "weights_init": start.weights_,
        "means_init": start.means_,
        "precisions_init": start.precisions_,
    }
    options = {"covariance_type": covariance, "reg_covar": 0.0, "tol": 0.0, "max_iter": 8}
    ref = SklearnGaussianMixture(2, **given, **options)
    ours = GaussianMixture(2, **given, **options, accelerate=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # neither converges in 8 steps at tol 0
        ref.fit(x)
        ours.fit(x)
    assert ours.lower_bounds_.shape == (ours.n_iter_,) == (ref.n_iter_,)
    np.testing.assert_allclose(ours.lower_bounds_[:-1], ref.lower_bounds_[1:], rtol=1e-9)
    assert ours.lower_bounds_[-1] == pytest.approx(ours.lower_bound_, rel=1e-12)
    assert np.all(np.diff(ours.lower_bounds_) >= -1e-12)
    ours.save(tmp_path / "gm.json")
    np.testing.assert_array_equal(
        emkit.load(tmp_path / "gm.json").lower_bounds_, ours.lower_bounds_
    )


def test_verbose_end_line_is_sklearns(faithful, capsys):
    # verbose=2 ends each start with scikit-learn's line: time lapse, then the lower bound
    import re

    x = np.asarray(faithful)
    end = re.compile(r"Initialization converged\. time lapse \d+\.\d{5}s\t lower bound (\S+)\.")
    SklearnGaussianMixture(2, random_state=0, verbose=2, tol=1e-6, max_iter=500).fit(x)
    theirs = capsys.readouterr().out.splitlines()[-1]
    model = GaussianMixture(2, random_state=0, verbose=2).fit(x)
    ours = capsys.readouterr().out.splitlines()[-1]
    assert end.fullmatch(theirs) and end.fullmatch(ours), (theirs, ours)
    assert float(end.fullmatch(ours)[1]) == pytest.approx(model.lower_bound_, abs=5e-6)
    assert float(end.fullmatch(ours)[1]) == pytest.approx(float(end.fullmatch(theirs)[1]), abs=1e-4)


@pytest.mark.parametrize(
    "make",
    [
        lambda: GaussianMixture(3, covariance_type="tied", random_state=0),
        lambda: GaussianMixture(3, covariance_type="EII", random_state=0),
        lambda: emkit.BayesianMixture(
            3, covariance_type="tied", chains=1, draws=50, tune=50, random_state=0
        ),
    ],
    ids=["tied", "EII", "bayesian-tied"],
)
def test_posterior_of_a_far_row_sums_to_one(make):
    # Far from the data the log joint passes 1e41, where log p(x) rounds to the row's
    # maximum: the components tied there each got posterior 1 (rows summing to 3).
    from sklearn.datasets import load_iris

    x = load_iris().data
    model = make().fit(x)
    for s in [1e20, 1e100]:
        row = np.array([[-s, s, 0.0, 0.0]])
        proba = model.predict_proba(row)
        assert abs(proba.sum() - 1.0) < 1e-12
        assert model.predict(row)[0] == proba.argmax()
    if isinstance(model, GaussianMixture):  # ordinary rows: Bayes' rule from scipy
        tied = model.covariances_.ndim == 2  # one matrix; EII: one variance per component
        covariances = [
            model.covariances_ if tied else model.covariances_[k] * np.eye(x.shape[1])
            for k in range(3)
        ]
        log_joint = np.column_stack(
            [
                np.log(model.weights_[k])
                + stats.multivariate_normal(model.means_[k], cov).logpdf(x)
                for k, cov in enumerate(covariances)
            ]
        )
        expected = np.exp(log_joint - log_joint.max(1, keepdims=True))
        expected /= expected.sum(1, keepdims=True)
        np.testing.assert_allclose(model.predict_proba(x), expected, atol=1e-12)
        np.testing.assert_allclose(
            model.score_samples(x), np.log(np.exp(log_joint).sum(1)), rtol=1e-12
        )


def _rotation(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


@pytest.mark.parametrize(
    ("covariance_type", "precisions", "constraint"),
    [
        ("EII", np.array([1.0, 9.0]), "one volume"),
        ("EEI", np.array([[1.0, 4.0], [1.0, 4.4]]), "one volume"),
        ("VEI", np.array([[1.0, 4.0], [2.0, 9.0]]), "one shape"),
        ("EEV", np.array([np.eye(2), np.diag([2.0, 1.0])]), "one volume"),
        (
            "EVE",
            np.array([np.diag([1.0, 4.0]), _rotation(0.5) @ np.diag([1.0, 4.0]) @ _rotation(-0.5)]),
            "one orientation",
        ),
        (
            "VVE",
            np.array([np.diag([1.0, 4.0]), _rotation(0.5) @ np.diag([3.0, 5.0]) @ _rotation(-0.5)]),
            "one orientation",
        ),
    ],
)
def test_starting_precisions_outside_the_structure_are_refused(
    covariance_type, precisions, constraint
):
    # An EII start with variances 1 and 1/9 was accepted: the first E-step scored a model
    # outside the structure, and the first M-step replaced it silently.
    x = np.random.default_rng(0).normal(size=(100, 2))
    model = GaussianMixture(
        2, covariance_type=covariance_type, means_init=x[:2], precisions_init=precisions
    )
    with pytest.raises(ValueError, match=f"precisions_init: .*'{covariance_type}' asks for "
                       f"{constraint}.*give starting precisions of that structure"):  # fmt: skip
        model.fit(x)


@pytest.mark.parametrize("covariance_type", ["EII", "EEI", "VEI", "EEV", "EVE", "VVE", "VEV"])
def test_a_fitted_models_precisions_restart_it(covariance_type):
    x = np.r_[
        np.random.default_rng(1).normal(size=(150, 2)) @ [[2.0, 0.6], [0.0, 0.5]],
        np.random.default_rng(2).normal(size=(150, 2)) * [0.4, 1.5] + [4.0, 1.0],
    ]
    fitted = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(x)
    again = GaussianMixture(
        2,
        covariance_type=covariance_type,
        weights_init=fitted.weights_,
        means_init=fitted.means_,
        precisions_init=fitted.precisions_,
        max_iter=0,
    ).fit(x)
    np.testing.assert_allclose(again.score(x), fitted.score(x), rtol=1e-10)
