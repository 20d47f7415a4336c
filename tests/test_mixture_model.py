"""MixtureModel: any list of families on one EM engine, against outside references."""

import json
import warnings

import numpy as np
import pytest
from scipy import optimize, stats
from scipy.special import digamma, expit, logsumexp
from sklearn.mixture import GaussianMixture as SkGaussianMixture
from sklearn.utils.estimator_checks import parametrize_with_checks

from emkit.distributions.bernoulli import Bernoulli
from emkit.distributions.categorical import Categorical
from emkit.distributions.exponential import Exponential
from emkit.distributions.gamma import Gamma
from emkit.distributions.normal import Normal
from emkit.distributions.point_mass import PointMass
from emkit.distributions.poisson import Poisson
from emkit.distributions.priors import DirichletPrior, GammaPrior, NormalInverseGamma
from emkit.estimators.mixture_model import MixtureModel
from emkit.estimators.persist import load
from emkit.estimators.zero_inflated import ZeroInflatedPoisson
from emkit.exceptions import DegenerateFitWarning


@parametrize_with_checks(
    [
        MixtureModel(random_state=0),
        MixtureModel([Poisson(), PointMass(0)], random_state=0),
        MixtureModel(assignment="hard", random_state=0),
        # positive support: scikit-learn's positive_only tag and its "Negative values" words
        MixtureModel([Gamma(), Exponential()], random_state=0),
        MixtureModel([Exponential(), Exponential()], random_state=0),
        MixtureModel([Poisson(), Poisson()], random_state=0),
    ],
    expected_failed_checks=lambda e: (
        {
            "check_sample_weight_equivalence_on_dense_data": (
                "the check draws non-integer X (it ignores the categorical tag), which a "
                "Poisson refuses"
            )
        }
        if any(isinstance(c, Poisson) for c in e.components or [])
        else {}
    ),
)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateFitWarning)
        check(estimator)


def _zip_data(n=3000, pi=0.3, rate=2.5, seed=0):
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < pi, 0, rng.poisson(rate, n))
    return y.astype(float)[:, None]


def test_poisson_with_point_mass_recovers_zero_inflation():
    y = _zip_data()
    model = MixtureModel([Poisson(), PointMass(0)], tol=1e-12, random_state=0).fit(y)
    assert np.all(np.diff(model.history_) >= -1e-9 * abs(model.history_[-1]))
    np.testing.assert_allclose(model.weights_[1], 0.3, atol=0.03)
    np.testing.assert_allclose(model.components_[0].rate, 2.5, rtol=0.05)

    def nll(theta):
        pi, lam = expit(theta[0]), np.exp(theta[1])
        p0 = np.log(pi + (1 - pi) * np.exp(-lam))
        pos = np.log1p(-pi) + stats.poisson.logpmf(y[:, 0], lam)
        return -np.sum(np.where(y[:, 0] == 0, p0, pos))

    direct = optimize.minimize(nll, [0.0, 0.0], method="BFGS", options={"gtol": 1e-9})
    np.testing.assert_allclose(model.log_likelihood_, -direct.fun, rtol=1e-9)


def test_normal_plus_exponential_matches_direct_optimisation():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(-1.0, 0.7, 400), rng.exponential(2.0, 600)])[:, None]
    model = MixtureModel(
        [Normal(), Exponential()], reg_covar=0, tol=1e-12, n_init=3, random_state=0
    ).fit(x)
    assert np.all(np.diff(model.history_) >= -1e-9 * abs(model.history_[-1]))

    def nll(t):
        w = expit(t[0])
        a = np.log(w) + stats.norm.logpdf(x[:, 0], t[1], np.exp(t[2]))
        b = np.log1p(-w) + np.where(
            x[:, 0] >= 0, stats.expon.logpdf(x[:, 0], scale=np.exp(-t[3])), -np.inf
        )
        return -logsumexp(np.column_stack([a, b]), axis=1).sum()

    normal, expo = model.components_
    em = [
        np.log(model.weights_[0] / model.weights_[1]),
        normal.mean[0],
        0.5 * np.log(normal.variance[0]),
        np.log(expo.rate[0]),
    ]
    best = min(
        (
            optimize.minimize(
                nll,
                s,
                method="Nelder-Mead",
                options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 20000},
            )
            for s in (em, [0.0, -1.0, 0.0, -0.5], [1.0, 0.0, 0.5, 0.0])
        ),
        key=lambda r: r.fun,
    )
    assert model.log_likelihood_ >= -best.fun - 1e-6
    np.testing.assert_allclose(em, best.x, atol=1e-4)


def test_mixed_families_find_the_good_optimum_from_one_start():
    """k-means++ clusters used to go to the families in listed order: the Normal took the
    exponential bulk (mean 0.45, log-likelihood -2453) and one start never left it."""
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(10, 1, 300), rng.exponential(2, 700)][:, None]
    model = MixtureModel([Normal(), Exponential()], random_state=0).fit(x)

    def nll(t):
        w = expit(t[0])
        a = np.log(w) + stats.norm.logpdf(x[:, 0], t[1], np.exp(t[2]))
        b = np.log1p(-w) + stats.expon.logpdf(x[:, 0], scale=np.exp(-t[3]))
        return -logsumexp(np.column_stack([a, b]), axis=1).sum()

    # Direct maximisation started at the truth (weight 0.3, N(10, 1), rate 0.5).
    direct = optimize.minimize(
        nll,
        [np.log(0.3 / 0.7), 10.0, 0.0, np.log(0.5)],
        method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-9, "maxiter": 20000},
    )
    np.testing.assert_allclose(model.log_likelihood_, -direct.fun, rtol=1e-6)
    normal, expo = model.components_
    np.testing.assert_allclose(normal.mean, direct.x[1], rtol=1e-4)
    np.testing.assert_allclose(expo.rate, np.exp(direct.x[3]), rtol=1e-3)


def test_normal_components_match_sklearn_diag_gaussian_mixture(faithful):
    model = MixtureModel(
        [Normal(), Normal()], reg_covar=0, tol=1e-12, n_init=5, random_state=0
    ).fit(faithful)
    ref = SkGaussianMixture(
        2, covariance_type="diag", reg_covar=0, tol=1e-12, max_iter=10000, n_init=5, random_state=0
    ).fit(faithful)
    np.testing.assert_allclose(model.score(faithful), ref.score(faithful), rtol=1e-8)
    order = np.argsort(ref.means_[:, 0])
    np.testing.assert_allclose([c.mean for c in model.components_], ref.means_[order], rtol=1e-5)
    np.testing.assert_allclose(model.weights_, ref.weights_[order], rtol=1e-5)


def test_latent_class_model_posteriors_by_brute_force():
    rng = np.random.default_rng(2)
    z = rng.random(500) < 0.4
    p = np.where(z[:, None], [0.9, 0.8, 0.1, 0.7], [0.2, 0.1, 0.7, 0.3])
    x = (rng.random((500, 4)) < p).astype(float)
    model = MixtureModel([Bernoulli(), Bernoulli()], n_init=3, random_state=0).fit(x)
    assert np.all(np.diff(model.history_) >= -1e-9 * abs(model.history_[-1]))
    probs = np.array([c.probs for c in model.components_])  # (2, 4)
    joint = (
        np.log(model.weights_)
        + np.array([stats.bernoulli.logpmf(x, q).sum(axis=1) for q in probs]).T
    )
    expected = np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
    np.testing.assert_allclose(model.predict_proba(x), expected, rtol=1e-10)


def test_hard_assignment_climbs_the_classification_likelihood(faithful):
    model = MixtureModel(assignment="hard", random_state=0).fit(faithful)
    assert np.all(np.diff(model.history_) >= 0)
    normals = model.components_
    joint = np.log(model.weights_) + np.column_stack([c.log_prob(faithful) for c in normals])
    prior = sum(-0.5e-6 * (1.0 / c.variance).sum() for c in normals)
    np.testing.assert_allclose(model.history_[-1], joint.max(axis=1).sum() + prior, rtol=1e-12)


def test_hard_assignment_with_emptied_components_keeps_a_finite_fixed_point():
    # Six components on two clusters: hard EM empties some of them in most starts.
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 1, 200), rng.normal(4, 1, 200)][:, None]
    for seed in range(10):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            warnings.simplefilter("ignore", DegenerateFitWarning)  # a one-row component
            model = MixtureModel(
                [Normal() for _ in range(6)], assignment="hard", random_state=seed
            ).fit(x)
        assert np.all(np.diff(model.history_) >= 0)
        assert np.isfinite(model.log_likelihood_)
        # Empty components are dropped; each survivor is the ridge-MAP fit to its own rows.
        labels = model.predict(x)
        assert np.all(model.weights_ > 0)
        np.testing.assert_allclose(model.weights_, np.bincount(labels) / x.shape[0])
        for k, c in enumerate(model.components_):
            rows = x[labels == k, 0]
            np.testing.assert_allclose(c.mean, rows.mean(), rtol=1e-10)
            np.testing.assert_allclose(c.variance, rows.var() + 1e-6 / rows.size, rtol=1e-8)


def test_priors_make_the_history_a_log_posterior():
    y = _zip_data(500)
    model = MixtureModel(
        [Poisson(), Poisson()],
        priors=[GammaPrior(2.0, 1.0)] * 2,
        weight_concentration=2.0,
        random_state=0,
    ).fit(y)
    assert np.all(np.diff(model.history_) >= -1e-9 * abs(model.history_[-1]))
    rates = [c.rate[0] for c in model.components_]
    loglik = model.score_samples(y).sum()
    log_prior = sum(np.log(r) - r for r in rates) + np.log(model.weights_).sum()
    np.testing.assert_allclose(model.log_likelihood_, loglik, rtol=1e-12)
    np.testing.assert_allclose(model.history_[-1], loglik + log_prior, rtol=1e-12)


def test_save_load_round_trip(tmp_path):
    y = _zip_data(300)
    model = MixtureModel(
        [Poisson(), PointMass(0)], priors=[GammaPrior(2.0, 1.0), None], random_state=0
    ).fit(y)
    model.save(tmp_path / "m.json")
    again = load(tmp_path / "m.json")
    np.testing.assert_array_equal(again.predict_proba(y), model.predict_proba(y))
    np.testing.assert_array_equal(again.history_, model.history_)
    # the components and priors as they were given (they came back as dicts), so that the
    # loaded model reads and clones as the saved one
    for name in ("components", "priors"):
        assert repr(again.get_params()[name]) == repr(model.get_params()[name])
    assert isinstance(again.get_params()["components"][1], PointMass)
    assert repr(again) == repr(model)


def test_sample_bic_aic():
    y = _zip_data(400)
    model = MixtureModel([Poisson(), PointMass(0)], random_state=0).fit(y)
    x, labels = model.sample(1000)
    assert x.shape == (1000, 1) and np.all(x[labels == 1] == 0)
    n, ll = y.shape[0], model.score_samples(y).sum()
    assert model.n_parameters() == 2
    np.testing.assert_allclose(model.bic(y), -2 * ll + 2 * np.log(n))
    np.testing.assert_allclose(model.aic(y), -2 * ll + 4)


def test_bad_input_says_what_to_do():
    with pytest.raises(ValueError, match="Negative values"):
        MixtureModel([Poisson(), Poisson()]).fit(np.array([[-1.0], [2.0], [3.0]]))
    with pytest.raises(ValueError, match="outside the support of every component"):
        MixtureModel([Poisson(), PointMass(0)]).fit(np.array([[-1.0], [0.0], [3.0]]))
    with pytest.raises(ValueError, match="takes a GammaPrior"):
        MixtureModel([Poisson()], priors=[NormalInverseGamma()]).fit(np.array([[1.0], [2.0]]))
    with pytest.raises(ValueError, match="one prior"):
        MixtureModel([Poisson()], priors=[None, None]).fit(np.array([[1.0], [2.0]]))


def test_exponential_on_exact_zeros_collapses_with_a_warning_not_an_error():
    # Zeros and exponential values: the MLE puts a component of infinite rate on the zeros
    # (an unbounded likelihood). The ridge keeps its rate finite, W / c; the other component
    # is then the exponential MLE of the positive rows, 1 / their mean (up to the zeros'
    # responsibilities to it, about its rate over the collapsed one's, 2e-8).
    rng = np.random.default_rng(1)
    positive = rng.exponential(2.0, size=40)
    x = np.r_[np.zeros(30), positive][:, None]
    with pytest.warns(DegenerateFitWarning, match="collapsed"):
        model = MixtureModel([Exponential(), Exponential()], tol=1e-12, random_state=0).fit(x)
    assert np.isfinite(model.log_likelihood_)
    collapsed = int(np.flatnonzero(model.degenerate_components_)[0])
    assert model.degenerate_components_.tolist().count(True) == 1
    ridge = 1e-6 * np.abs(x).mean()
    np.testing.assert_allclose(model.weights_[collapsed], 30 / 70, rtol=1e-6)
    np.testing.assert_allclose(model.components_[collapsed].rate, 30 / ridge, rtol=1e-6)
    # The ridge moves the other rate by 1e-6 * mean / sum(positive), far below this tolerance.
    np.testing.assert_allclose(
        model.components_[1 - collapsed].rate, 1 / positive.mean(), rtol=1e-7
    )
    # Without the ridge the log-likelihood is unbounded: a clear error, not a wrong one.
    with pytest.raises(ValueError, match="unbounded log-likelihood.*reg_covar > 0"):
        MixtureModel([Exponential(), Exponential()], reg_covar=0.0, random_state=0).fit(x)


@pytest.mark.parametrize("family", [Normal, Exponential], ids=["normal", "exponential"])
def test_constant_data_fit_with_a_warning(family):
    # One value repeated: every component collapses onto it. The start's M-step, under the
    # ridge as EM's own, keeps the parameters finite (it gave NaN before).
    x = np.zeros((10, 1))
    with pytest.warns(DegenerateFitWarning, match="collapsed"):
        model = MixtureModel([family(), family()], random_state=0).fit(x)
    assert model.degenerate_components_.all()
    assert np.isfinite(model.log_likelihood_)
    np.testing.assert_allclose(model.predict_proba(x).sum(axis=1), 1.0)


def _two_categorical_columns(n=400, seed=0):
    """Codes 0..3 in the first column and 0..1 in the second, from two latent classes."""
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 2, n)
    first = np.where(
        z, rng.choice(4, n, p=[0.7, 0.1, 0.1, 0.1]), rng.choice(4, n, p=[0.1] * 3 + [0.7])
    )
    second = np.where(z, rng.random(n) < 0.8, rng.random(n) < 0.3)
    return np.column_stack([first, second]).astype(float)


def _categorical_log_likelihood(fit, x):
    codes = x.astype(int)
    joint = np.column_stack(
        [
            np.log(w) + sum(np.log(c.probs[j, codes[:, j]]) for j in range(x.shape[1]))
            for w, c in zip(fit.weights_, fit.components_, strict=True)
        ]
    )
    return float(logsumexp(joint, axis=1).sum())


def test_categorical_squarem_raises_no_float_warning_and_lands_where_plain_em_does():
    # Categories with probability 0 have log p = -inf: SQUAREM's differences were NaN there,
    # a RuntimeWarning that fails a fit under -W error, and every extrapolation was refused.
    x = _two_categorical_columns()
    options = dict(random_state=0, tol=1e-10, max_iter=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fast = MixtureModel([Categorical(), Categorical()], **options).fit(x)
        plain = MixtureModel([Categorical(), Categorical()], accelerate=None, **options).fit(x)
    assert fast.log_likelihood_ == pytest.approx(_categorical_log_likelihood(fast, x), rel=1e-12)
    assert fast.log_likelihood_ == pytest.approx(plain.log_likelihood_, rel=1e-10)
    np.testing.assert_allclose(fast.weights_, plain.weights_, atol=1e-5)


def test_categorical_parameters_are_counted_per_feature():
    # Columns of 4 and 2 categories: each component has (4 - 1) + (2 - 1) = 4 free
    # probabilities, and K = 2 components one free weight: 9. One count C = 4 for both columns
    # made it 13, and BIC and AIC charged the second column for codes it never takes.
    x = _two_categorical_columns()
    fit = MixtureModel([Categorical(), Categorical()], random_state=0).fit(x)
    assert [c.n_categories for c in fit.components_] == [(4, 2), (4, 2)]
    assert fit.n_parameters() == 9
    log_likelihood = _categorical_log_likelihood(fit, x)
    n = x.shape[0]
    assert fit.bic(x) == pytest.approx(-2.0 * log_likelihood + 9 * np.log(n), rel=1e-12)
    assert fit.aic(x) == pytest.approx(-2.0 * log_likelihood + 2 * 9, rel=1e-12)


@pytest.mark.parametrize("concentration", [None, 1.0, 2.0, 5.0])
def test_categorical_fit_is_each_features_frequencies(concentration):
    # One component: the weighted frequencies of each column's own codes, plus alpha - 1
    # pseudo-counts under a Dirichlet prior on those codes only (n_jc + a - 1) / (W + C_j (a - 1)),
    # and probability 0 at codes beyond them.
    x = _two_categorical_columns()
    w = np.random.default_rng(1).uniform(0.5, 2.0, x.shape[0])
    priors = None if concentration is None else [DirichletPrior(concentration)]
    fit = MixtureModel([Categorical()], priors=priors).fit(x, sample_weight=w)
    assert fit.components_[0].n_categories == (4, 2)
    probs = fit.components_[0].probs
    extra = 0.0 if concentration is None else concentration - 1.0
    for j, c in enumerate((4, 2)):
        counts = np.bincount(x[:, j].astype(int), weights=w, minlength=c)
        np.testing.assert_allclose(probs[j, :c], (counts + extra) / (w.sum() + c * extra))
        assert (probs[j, c:] == 0).all()
    # From known responsibilities: the M-step is the responsibility-weighted frequencies.
    resp = np.random.default_rng(2).random(x.shape[0])
    family = Categorical().for_data(x)
    step = family.from_stats(family.suff_stats(x, resp))
    for j, c in enumerate((4, 2)):
        counts = np.bincount(x[:, j].astype(int), weights=resp, minlength=c)
        np.testing.assert_allclose(step.probs[j, :c], counts / resp.sum(), rtol=1e-12)


def test_categorical_codes_beyond_a_features_categories_are_outside_the_support():
    # Code 2 in the second column (categories 0 and 1): outside the support of every
    # component, as for every family, refused by predict and of density 0 in score_samples.
    x = _two_categorical_columns()
    fit = MixtureModel([Categorical(), Categorical()], random_state=0).fit(x)
    stray = np.array([[3.0, 1.0], [0.0, 2.0]])
    with pytest.raises(ValueError, match="outside the support of every component"):
        fit.predict(stray)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no -inf - -inf in a density
        scores = fit.score_samples(stray)
    assert np.isfinite(scores[0]) and scores[1] == -np.inf
    sampled, _ = fit.sample(5000)
    assert sampled.min() >= 0 and (sampled.max(axis=0) <= [3, 1]).all()


def test_categorical_model_files_old_and_new(tmp_path):
    # A file holds the categories per feature; a file of the earlier format (one count for
    # every feature, probabilities of shape (d, C)) loads and gives the same answers.
    x = _two_categorical_columns()
    fit = MixtureModel([Categorical(), Categorical()], random_state=0).fit(x)
    fit.save(tmp_path / "new.json")
    document = json.loads((tmp_path / "new.json").read_text())
    assert [c["n_categories"] for c in document["attributes"]["component_params_"]] == [
        [4, 2],
        [4, 2],
    ]
    again = load(tmp_path / "new.json")
    assert again.n_parameters() == 9
    np.testing.assert_array_equal(again.score_samples(x), fit.score_samples(x))
    for spec in document["attributes"]["component_params_"]:
        spec["n_categories"] = 4
    (tmp_path / "old.json").write_text(json.dumps(document))
    old = load(tmp_path / "old.json")
    np.testing.assert_array_equal(old.score_samples(x), fit.score_samples(x))
    np.testing.assert_array_equal(old.predict_proba(x), fit.predict_proba(x))
    np.testing.assert_array_equal(old.predict(x), fit.predict(x))
    # The old file says 4 categories in both columns: it is counted as it says.
    assert old.n_parameters() == 13


def _duplicates_beside_a_bulk():
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(0, 1, 200), np.full(40, 5.0)])[:, None]


def test_a_prior_on_one_component_leaves_the_others_collapse_flagged():
    """A prior on component 0 used to switch degeneracy off for every component: the one on
    40 duplicates (variance 2.5e-8, as without priors) went unreported."""
    x = _duplicates_beside_a_bulk()
    with pytest.warns(DegenerateFitWarning):
        plain = MixtureModel([Normal(), Normal()], random_state=0).fit(x)
    prior = NormalInverseGamma(0.0, 0.0, 2.0, 1.0)
    with pytest.warns(DegenerateFitWarning):
        model = MixtureModel([Normal(), Normal()], priors=[prior, None], random_state=0).fit(x)
    collapsed = [abs(float(c.mean[0]) - 5.0) < 1e-9 for c in model.components_]
    np.testing.assert_array_equal(model.degenerate_components_, collapsed)
    np.testing.assert_array_equal(
        sorted(model.degenerate_components_), sorted(plain.degenerate_components_)
    )
    assert model.degenerate_ and sum(collapsed) == 1


def test_only_a_prior_with_an_interior_mode_exempts_its_component():
    """A proper inverse-gamma on the variance gives the duplicates the closed-form mode
    2b / (W + 2a + 2); the ridge's own form (shape -1) stops the variance only at 0."""
    x = _duplicates_beside_a_bulk()
    proper = NormalInverseGamma(0.0, 0.0, 2.0, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateFitWarning)
        model = MixtureModel([Normal(), Normal()], priors=[proper, proper], random_state=0).fit(x)
    at_five = [c for c in model.components_ if abs(float(c.mean[0]) - 5.0) < 1e-6]
    np.testing.assert_allclose(at_five[0].variance, 2.0 / (40 + 2 * 2.0 + 2), rtol=1e-3)
    assert not model.degenerate_
    ridge = NormalInverseGamma(0.0, 0.0, -1.0, 1e-9)
    with pytest.warns(DegenerateFitWarning):
        model = MixtureModel([Normal(), Normal()], priors=[ridge, ridge], random_state=0).fit(x)
    assert model.degenerate_components_.sum() == 1


def _two_normals():
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(-5, 1, 300), rng.normal(5, 1, 100)])[:, None]


def test_priors_stay_with_the_components_they_were_given_to():
    """Component j is fitted under priors[j]: the components used to be re-sorted after the
    fit, so component 0 (prior mean +5, strong) came back at -4.96, fitted under prior 1."""
    x = _two_normals()
    strong = [NormalInverseGamma(5.0, 1000.0, 2.0, 1.0), NormalInverseGamma(-5.0, 1000.0, 2.0, 1.0)]
    model = MixtureModel([Normal(), Normal()], priors=strong, random_state=0).fit(x)
    right, left = x[x[:, 0] > 0, 0], x[x[:, 0] < 0, 0]
    # The conjugate mode of the mean, (kappa m + W xbar) / (kappa + W), on each cluster's rows.
    for c, prior, rows in zip(model.components_, strong, (right, left), strict=True):
        expected = (prior.shrinkage * prior.mean + rows.sum()) / (prior.shrinkage + rows.size)
        np.testing.assert_allclose(c.mean, [expected], rtol=1e-4)
    np.testing.assert_allclose(model.weights_, [0.25, 0.75], atol=1e-3)
    counts = np.array([[0.0] * 50 + [10.0] * 50]).T + np.random.default_rng(0).poisson(
        0.5, (100, 1)
    )
    priors = [GammaPrior(1000.0, 100.0), GammaPrior(100.0, 100.0)]  # rates near 10 and near 1
    fit = MixtureModel([Poisson(), Poisson()], priors=priors, random_state=0).fit(counts)
    assert fit.components_[0].rate[0] > fit.components_[1].rate[0]


def test_starting_parameters_keep_their_order_as_gaussian_mixture_means_init():
    x = _two_normals()
    start = [Normal([5.0], [1.0]), Normal([-5.0], [1.0])]
    model = MixtureModel(start, random_state=0).fit(x)
    ref = SkGaussianMixture(2, covariance_type="diag", means_init=[[5.0], [-5.0]], tol=1e-10)
    ref.fit(x)
    np.testing.assert_allclose([c.mean for c in model.components_], ref.means_, rtol=1e-4)
    np.testing.assert_allclose(model.weights_, ref.weights_, rtol=1e-4)
    # Nothing ties the components: sorted by their parameters, whatever the start.
    means = [
        float(MixtureModel(random_state=seed).fit(x).components_[0].mean[0]) for seed in range(3)
    ]
    np.testing.assert_allclose(means, means[0])
    assert means[0] < 0


def test_ridge_outweighing_small_scale_data_warns_as_gaussian_mixture_does():
    """reg_covar's ridge raised the variance of data of scale 1e-4 by 24% over the MLE
    without a word; GaussianMixture warns with a ScaleWarning on the same rows."""
    from emkit import GaussianMixture, ScaleWarning

    x = np.random.default_rng(1).normal(0, 1e-4, (500, 1))
    with pytest.warns(ScaleWarning, match="reg_covar=1e-06 is .* times the data's total scatter"):
        GaussianMixture(1, covariance_type="diag").fit(x)
    with pytest.warns(ScaleWarning, match="reg_covar=1e-06 is .* times the data's total scatter"):
        model = MixtureModel([Normal()]).fit(x)
    # The ridge's MAP (S + c) / W against the MLE S / W, which reg_covar=0 gives.
    np.testing.assert_allclose(model.components_[0].variance, x.var() + 1e-6 / 500, rtol=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScaleWarning)
        exact = MixtureModel([Normal()], reg_covar=0.0).fit(x)
        MixtureModel([Normal()]).fit(x * 1e4)  # unit scale: the ridge is negligible
        # A prior of the user's replaces the ridge: nothing of reg_covar's to warn about.
        MixtureModel([Normal()], priors=[NormalInverseGamma(0.0, 0.0, 1.0, 1e-9)]).fit(x)
    np.testing.assert_allclose(exact.components_[0].variance, x.var(), rtol=1e-9)
    # A prior with array fields beside a ridged component: the ridge was found by ==, which
    # raised "truth value of an array is ambiguous" after EM had finished.
    two = np.c_[x, x[::-1]]
    per_feature = NormalInverseGamma(np.zeros(2), 0.01, 3.0, np.full(2, 1e-9))
    with pytest.warns(ScaleWarning):
        fit = MixtureModel([Normal(), Normal()], priors=[per_feature, None]).fit(two)
    np.testing.assert_allclose(fit.weights_.sum(), 1.0)


def test_linear_gaussian_is_not_mixed_with_joint_densities():
    """p(y | x) and p(x, y) are not comparable: the fit of such a mixture changed with the
    units of x. It is refused, saying what to use; all LinearGaussian still fits."""
    from emkit.distributions.linear_gaussian import LinearGaussian

    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, 200)
    rows = np.c_[x, 2 * x + rng.normal(0, 0.1, 200)]
    for components in ([LinearGaussian(), Normal()], [Poisson(), LinearGaussian()]):
        with pytest.raises(ValueError, match="not comparable.*MixtureOfRegressions"):
            MixtureModel(components, random_state=0).fit(np.abs(np.round(rows)))
    model = MixtureModel([LinearGaussian()], random_state=0).fit(rows)
    coef = np.linalg.lstsq(np.c_[x, np.ones(200)], rows[:, 1], rcond=None)[0]
    np.testing.assert_allclose(model.components_[0].coef, coef[:1], rtol=1e-8)


def test_support_errors_use_scikit_learns_words_for_negative_values():
    # check_positive_only_tag_during_fit looks for "Negative values in data"; Gamma's message
    # ("a Gamma component needs strictly positive values") failed it beside an Exponential.
    x = np.array([[-1.0], [2.0], [3.0]])
    for components in (
        [Gamma(), Exponential()],
        [Gamma()],
        [Exponential()],
        [Poisson()],
        [Bernoulli()],
        [Categorical()],
    ):
        with pytest.raises(ValueError, match="Negative values in data"):
            MixtureModel(components, random_state=0).fit(x)
    with pytest.raises(ValueError, match="Zeros in data: a Gamma component"):
        MixtureModel([Gamma()], random_state=0).fit(np.array([[0.0], [2.0], [3.0]]))


def _counts_and_gamma_values() -> np.ndarray:
    """100 Poisson(6) counts and 100 Gamma(20, 1) values, shape (200, 1)."""
    rng = np.random.default_rng(0)
    return np.r_[rng.poisson(6, (100, 1)), rng.gamma(20, 1, (100, 1))].astype(float)


def test_each_row_needs_some_components_support_not_one_family_all_rows():
    # A zero among counts and Gamma values: Poisson refused the non-integers and Gamma the zero,
    # so the data were refused, though every row lies in one of the two supports (without the
    # zero, Poisson's refusal alone stood aside and the data fitted).
    x = np.r_[_counts_and_gamma_values(), [[0.0]], [[0.0]]]
    model = MixtureModel([Poisson(), Gamma()], tol=1e-12, random_state=0).fit(x)
    poisson, gamma = model.components_
    assert (type(poisson), type(gamma)) == (Poisson, Gamma)
    rate, shape, gamma_rate = poisson.rate[0], gamma.shape[0], gamma.rate[0]
    log_joint = (
        np.log(model.weights_)
        + np.c_[
            stats.poisson.logpmf(x[:, 0], rate),
            stats.gamma.logpdf(x[:, 0], shape, scale=1 / gamma_rate),
        ]
    )  # (n, 2); -inf where a row is outside a component's support
    np.testing.assert_allclose(model.score_samples(x), logsumexp(log_joint, axis=1), rtol=1e-12)
    resp = np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))
    proba = model.predict_proba(x)
    np.testing.assert_allclose(proba, resp, atol=1e-12)
    assert (proba[-2:] == [1.0, 0.0]).all()  # the zeros: Gamma's density is 0 there
    non_integer = x[:, 0] != np.round(x[:, 0])
    assert (proba[non_integer] == [0.0, 1.0]).all()
    # A fixed point of EM, from scipy's responsibilities: the weights, the Poisson rate (the
    # weighted mean) and the Gamma's weighted MLE (log a - digamma(a) = log mean - mean log).
    np.testing.assert_allclose(model.weights_, resp.mean(axis=0), rtol=1e-7)
    np.testing.assert_allclose(rate, resp[:, 0] @ x[:, 0] / resp[:, 0].sum(), rtol=1e-7)
    w, values = resp[x[:, 0] > 0, 1], x[x[:, 0] > 0, 0]
    mean, mean_log = w @ values / w.sum(), w @ np.log(values) / w.sum()
    target = np.log(mean) - mean_log
    a = optimize.brentq(lambda a: np.log(a) - digamma(a) - target, 1e-3, 1e4, xtol=1e-14)
    np.testing.assert_allclose([shape, gamma_rate], [a, a / mean], rtol=1e-6)


def test_a_row_in_no_components_support_is_named_with_each_familys_reason():
    x = np.r_[_counts_and_gamma_values(), [[0.0]], [[-1.0]]]
    with pytest.raises(ValueError) as raised:
        MixtureModel([Poisson(), Gamma()], random_state=0).fit(x)
    text = str(raised.value)
    assert text.startswith("row 201 ([-1.0]) lies outside the support of every component")
    assert "Poisson: Negative values in data" in text and "Gamma: Negative values in data" in text
    # one family: its own words; a refusal of a kind of data (not of rows) stands
    with pytest.raises(ValueError, match="^Non-integer values in data"):
        MixtureModel([Poisson(), Poisson()], random_state=0).fit(x[x[:, 0] >= 0])
    from emkit.distributions.linear_gaussian import LinearGaussian

    with pytest.raises(ValueError, match="at least 2 columns; got 1"):
        MixtureModel([LinearGaussian()] * 2, random_state=0).fit(x[x[:, 0] >= 0])


def test_a_point_mass_no_row_takes_is_fitted_at_weight_zero_and_flagged():
    """[Poisson(), PointMass(99)] on Poisson(3) counts (no 99): the fit returned weight 0
    silently (degenerate_components_ all False) and estimate() leaked numpy's divide-by-zero
    and log-of-0 RuntimeWarnings. The boundary MLE stays (the one-Poisson fit), with one
    DegenerateFitWarning naming the component, its value and what to do; estimate() gives
    NaN for the weights and the Poisson's closed-form error."""
    from emkit.mle.estimate import HessianWarning

    x = np.random.default_rng(0).poisson(3, 300)[:, None].astype(float)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = MixtureModel([Poisson(), PointMass(99)], random_state=0).fit(x)
    assert [w.category for w in caught] == [DegenerateFitWarning]
    message = str(caught[0].message)
    for words in ("component 1 (PointMass(99.0))", "no row equals 99", "boundary 0", "Wald"):
        assert words in message
    assert "drop that component" in message and "likelihood-ratio test" in message
    np.testing.assert_array_equal(model.weights_, [1.0, 0.0])
    # a boundary estimate, not a collapse: not flagged (a bootstrap keeps such replicates)
    assert not model.degenerate_ and not model.degenerate_components_.any()
    alone = MixtureModel([Poisson()]).fit(x)
    np.testing.assert_allclose(model.components_[0].rate, x.mean(), rtol=1e-10)
    np.testing.assert_allclose(model.log_likelihood_, alone.log_likelihood_, rtol=1e-12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = model.estimate(x)
    # one warning of emkit's saying why the weights are NaN; no raw RuntimeWarning of numpy's
    assert [w.category for w in caught] == [HessianWarning]
    assert "boundary 0" in str(caught[0].message)
    assert np.isnan(est.stderr["weights"]).all()
    np.testing.assert_allclose(est.stderr["rate_0"], np.sqrt(x.mean() / x.size), rtol=1e-6)
    # a single point mass with no row at all is refused, naming a row no component holds
    with pytest.raises(ValueError, match=r"row 0 \(\[2.0\]\) lies outside the support.*99"):
        MixtureModel([PointMass(99)]).fit(x)
    # a family with parameters to fit and no row in its support still cannot start
    with pytest.raises(ValueError, match="component 1 \\(Exponential\\) has no row"):
        MixtureModel([Normal(), Exponential()], random_state=0).fit(-x - 1.0)


def test_a_point_mass_at_zero_on_zero_free_counts_is_the_zero_inflated_poisson():
    """[Poisson(), PointMass(0)] on counts with no zero is ZeroInflatedPoisson's boundary fit:
    the same weights, rate, log-likelihood, flags and standard errors (NaN for the weight)."""
    y = np.random.default_rng(1).poisson(3, 400)
    y = y[y > 0][:, None].astype(float)
    with pytest.warns(DegenerateFitWarning, match=r"PointMass\(0.0\).*boundary 0"):
        model = MixtureModel([Poisson(), PointMass(0)], random_state=0).fit(y)
    with pytest.warns(DegenerateFitWarning, match="boundary 0"):
        zip_fit = ZeroInflatedPoisson().fit(y)
    np.testing.assert_array_equal(model.weights_, zip_fit.weights_[::-1])
    np.testing.assert_allclose(model.components_[0].rate, zip_fit.rate_, rtol=1e-10)
    np.testing.assert_allclose(model.log_likelihood_, zip_fit.log_likelihood_, rtol=1e-12)
    np.testing.assert_array_equal(
        model.degenerate_components_, zip_fit.degenerate_components_[::-1]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.filterwarnings("ignore", "component 1 .* holds no row", RuntimeWarning)
        est = model.estimate(y)
    assert np.isnan(est.stderr["weights"]).all() and np.isnan(zip_fit.stderr_[0])
    np.testing.assert_allclose(est.stderr["rate_0"], zip_fit.stderr_[1:], rtol=1e-6)


@pytest.mark.parametrize("continuous", [Normal(), Exponential(), Gamma()])
def test_point_mass_is_not_mixed_with_a_density(continuous):
    """A probability on one value against a density: the fit depended on the units. On 100
    zeros and 300 N(0.5, 1) rows, [PointMass(0), Normal()] gave the point mass a weight of
    5e-12 (the Normal took the zeros), and 0.25 on the same rows times 1000. Refused, saying
    what to do; PointMass with a discrete family still fits."""
    rng = np.random.default_rng(0)
    x = np.r_[np.zeros(100), rng.gamma(2.0, 1.0, 300)][:, None]
    for scale in (1.0, 1000.0):
        with pytest.raises(ValueError, match="PointMass cannot be mixed with.*hurdle"):
            MixtureModel([PointMass(0.0), continuous], random_state=0).fit(scale * x)
    counts = np.round(x)
    fit = MixtureModel([PointMass(0.0), Poisson()], tol=1e-12, random_state=0).fit(counts)
    zip_fit = ZeroInflatedPoisson().fit(counts)
    np.testing.assert_allclose(fit.log_likelihood_, zip_fit.log_likelihood_, rtol=1e-10)
    np.testing.assert_allclose(fit.weights_[0], zip_fit.zero_inflation_, rtol=1e-4)


MIXED_KIND_CASES = {
    # (component counts and draws, the families, the true parameters)
    "poisson2+normal1000": (
        lambda rng: np.r_[rng.poisson(2, 100), np.round(rng.normal(1000, 1, 100))],
        [Poisson(), Normal()],
        [Poisson([2.0]), Normal([1000.0], [1.0])],
    ),
    "poisson3+normal60": (
        lambda rng: np.r_[rng.poisson(3, 200), np.round(rng.normal(60, 4, 200))],
        [Poisson(), Normal()],
        [Poisson([3.0]), Normal([60.0], [16.0])],
    ),
    "poisson1+poisson30+normal200": (
        lambda rng: np.r_[
            rng.poisson(1, 100), rng.poisson(30, 100), np.round(rng.normal(200, 3, 100))
        ],
        [Poisson(), Poisson(), Normal()],
        [Poisson([1.0]), Poisson([30.0]), Normal([200.0], [9.0])],
    ),
}


@pytest.mark.parametrize("case", sorted(MIXED_KIND_CASES))
@pytest.mark.parametrize("n_init", [1, 10])
def test_mixed_kinds_start_from_their_own_clusters(case, n_init):
    """Families of different kinds reach the maximum that the fit from the true parameters
    reaches. The arrangements of clusters over families were scored on starts spread over
    every row (20% of each row to every component): on Poisson(2) counts beside rounded
    N(1000, 1) rows the Poisson started at a rate near 100, the swapped arrangement scored
    higher, and every start ended at rate 1000.01, mean 2.3 (log-likelihood -763.87 against
    -456.25)."""
    draw, families, truth = MIXED_KIND_CASES[case]
    x = draw(np.random.default_rng(0)).astype(float)[:, None]
    auto = MixtureModel(families, n_init=n_init, random_state=0).fit(x)
    best = MixtureModel(truth, random_state=0).fit(x)
    np.testing.assert_allclose(auto.log_likelihood_, best.log_likelihood_, rtol=1e-9)
    for got, want in zip(auto.components_, best.components_, strict=True):
        for name, value in want.to_dict().items():
            if name != "family":
                np.testing.assert_allclose(got.to_dict()[name], value, rtol=1e-5)


def test_poisson_log_likelihood_of_huge_counts_matches_mpmath_and_mle():
    """Counts near 1e12: x log(rate) - rate - log x! cancels terms of 3e13 and lost 0.004 a
    row (log-likelihood -764.25 of 50 rows against -764.41383). Loader's form, as
    emkit.mle.poisson, keeps the digits, in the fit and in score_samples."""
    mp = pytest.importorskip("mpmath")
    from emkit.mle import poisson

    mp.mp.dps = 50
    x = np.random.default_rng(0).poisson(1e12, (50, 1)).astype(float)
    fit = MixtureModel([Poisson()]).fit(x)
    rate = fit.components_[0].rate[0]
    exact = [float(k * mp.log(rate) - rate - mp.loggamma(mp.mpf(k) + 1)) for k in x[:, 0]]
    np.testing.assert_allclose(fit.score_samples(x), exact, rtol=1e-14, atol=0)
    np.testing.assert_allclose(fit.log_likelihood_, sum(exact), rtol=1e-14)
    np.testing.assert_allclose(fit.log_likelihood_, poisson(x[:, 0]).loglik, rtol=1e-14)
    # two components, one near 1e12 and one of small counts: the fit's kernel gives way
    two = np.r_[x, np.random.default_rng(1).poisson(3.0, (50, 1)).astype(float)]
    mixed = MixtureModel([Poisson(), Poisson()], random_state=0).fit(two)
    small, large = mixed.components_
    reference = (
        sum(
            float(k * mp.log(large.rate[0]) - large.rate[0] - mp.loggamma(mp.mpf(k) + 1))
            for k in x[:, 0]
        )
        + poisson(two[50:, 0]).loglik
    )
    np.testing.assert_allclose(mixed.log_likelihood_ - 100 * np.log(0.5), reference, rtol=1e-12)


def test_magnitude_check_follows_the_families():
    """Exponential and Poisson components fit no variance, but the start standardises the rows
    and the fit's record of them squares them: below 1e-150 a two-component start could not
    tell the components apart (equal rates, weights 0.1/0.9, converged, no warning) and
    estimate() refused the fit's own rows. Data at 1e-140 fit as at scale 1; below 1e-150 they
    are refused with the reason that holds for the families; beyond 1e150 likewise."""
    rng = np.random.default_rng(0)
    rows = np.vstack([rng.exponential(1.0, (150, 1)), rng.exponential(10.0, (150, 1))])
    plain = MixtureModel([Exponential(), Exponential()], random_state=0).fit(rows)
    tiny = MixtureModel([Exponential(), Exponential()], random_state=0).fit(rows * 1e-140)
    np.testing.assert_allclose(
        np.sort([c.rate[0] for c in tiny.components_]) * 1e-140,
        np.sort([c.rate[0] for c in plain.components_]),
        rtol=1e-6,
    )
    assert tiny.estimate(rows * 1e-140) is not None  # its own rows are recognised
    for families in ([Exponential(), Exponential()], [Poisson()]):
        with pytest.raises(ValueError, match=r"underflow float64 \(the start standardises.* alike"):
            MixtureModel(families, random_state=0).fit(rows * 1e-200)
    for families in ([Normal()], [Exponential(), Normal()]):
        with pytest.raises(ValueError, match="squares underflow float64 and the variances"):
            MixtureModel(families, random_state=0).fit(rows * 1e-200)
    huge = rng.exponential(1e200, (50, 1))
    with pytest.raises(ValueError, match=r"overflow float64 \(the start standardises") as raised:
        MixtureModel([Exponential()]).fit(huge)
    assert "variances" not in str(raised.value)
    with pytest.raises(ValueError, match=r"squares overflow float64 and the fit would be inf"):
        MixtureModel([Exponential(), Normal()]).fit(huge)


def test_mixed_kinds_start_does_not_take_a_collapsed_normal():
    """200 zeros and 100 rounded N(50, 3) counts: the arrangement that starts the Normal on the
    zeros (variance at the ridge, a density there that outscores every other) was chosen, and
    the fit ended degenerate at a Normal on 0 and a Poisson on the counts. The maximum is the
    Poisson on the zeros (rate 0) and the Normal's MLE on the counts: in closed form."""
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    counts = rng.normal(50, 3, 100).round()
    x = np.r_[np.zeros(200), counts][:, None]
    fit = MixtureModel([Poisson(), Normal()], random_state=0).fit(x)
    assert not fit.degenerate_
    poisson, normal = fit.components_
    assert poisson.rate[0] == 0.0
    np.testing.assert_allclose(normal.mean[0], counts.mean(), rtol=1e-9)
    np.testing.assert_allclose(normal.variance[0], counts.var(), rtol=1e-6)
    expected = 200 * np.log(2 / 3) + 100 * np.log(1 / 3)
    expected += norm.logpdf(counts, counts.mean(), counts.std()).sum()
    np.testing.assert_allclose(fit.log_likelihood_, expected, rtol=1e-7)


def test_categorical_reads_codes_and_refuses_what_is_not_codes():
    # Codes 0..C-1: the MLE is the sample frequencies, so the BIC is the closed form
    # -2 sum n_c log(n_c / n) + (C - 1) log n. A pandas category column (categories 10, 20,
    # 30) was read as its values (31 categories, 30 parameters: BIC 768 for 609), and codes
    # 1..C (poLCA's numbering) as C + 1 categories, one with no row (BIC 614 for 609).
    import pandas as pd

    codes = np.random.default_rng(41).choice(3, p=[0.2, 0.3, 0.5], size=300)
    counts = np.bincount(codes)
    closed = -2 * np.sum(counts * np.log(counts / 300)) + 2 * np.log(300)
    plain = pd.DataFrame({"a": codes})
    fit = MixtureModel([Categorical()], random_state=0).fit(plain)
    assert fit.n_parameters() == 2
    np.testing.assert_allclose(fit.bic(plain), closed, rtol=1e-10)
    as_codes = pd.DataFrame({"a": pd.Categorical.from_codes(codes, [0, 1, 2])})
    np.testing.assert_allclose(MixtureModel([Categorical()]).fit(as_codes).bic(as_codes), closed)
    for categories in ([10, 20, 30], ["low", "mid", "high"]):
        table = pd.DataFrame({"a": pd.Categorical.from_codes(codes, categories)})
        with pytest.raises(ValueError, match=r"category column.*\.cat\.codes"):
            MixtureModel([Categorical()]).fit(table)
        with pytest.raises(ValueError, match=r"category column.*\.cat\.codes"):
            fit.predict(table)
    with pytest.raises(ValueError, match=r"from 1 to 3, with no 0.*x - 1"):
        MixtureModel([Categorical()]).fit(codes[:, None] + 1)
    # Declared categories count as parameters whether or not a row takes them.
    declared = MixtureModel([Categorical(4)]).fit(codes[:, None] + 1)
    assert declared.n_parameters() == 3


def test_given_parameters_of_another_width_than_x_are_refused():
    # Means of shape (2,) on one column broadcast over it: each row counted twice
    # (log-likelihood -18.03), n_features_in_ 1 while sample() drew 2 columns.
    X = np.array([[0.0], [1.0], [2.0], [3.0], [5.0], [1.0]])
    wide = [
        Normal(mean=[1.0, 2.0], variance=[1.0, 1.0]),
        Normal(mean=[3.0, 4.0], variance=[1.0, 1.0]),
    ]
    with pytest.raises(
        ValueError,
        match=r"component 0 \(Normal\) has 2 features \(its mean\), X has 1 column: give "
        r"parameters of X's width",
    ):
        MixtureModel(wide).fit(X)
    with pytest.raises(ValueError, match="component 0"):
        MixtureModel(wide, max_iter=0).fit(X)
    # The same starts of X's width: scikit-learn's diagonal GaussianMixture from them.
    narrow = [Normal(mean=[1.0], variance=[1.0]), Normal(mean=[3.0], variance=[1.0])]
    mm = MixtureModel(narrow, reg_covar=0.0, tol=1e-12, max_iter=5000).fit(X)
    sk = SkGaussianMixture(
        2,
        covariance_type="diag",
        weights_init=[0.5, 0.5],
        means_init=[[1.0], [3.0]],
        precisions_init=[[1.0], [1.0]],
        reg_covar=0.0,
        tol=1e-14,
        max_iter=100000,
    ).fit(X)
    assert mm.log_likelihood_ == pytest.approx(sk.score(X) * 6, rel=1e-9)
    assert mm.log_likelihood_ == pytest.approx(-10.6447, abs=1e-4)
    np.testing.assert_allclose(mm.weights_, sk.weights_, rtol=1e-4)
    np.testing.assert_allclose([c.mean[0] for c in mm.components_], sk.means_[:, 0], rtol=1e-4)
    assert mm.sample(3)[0].shape == (3, 1)
    assert mm.n_parameters() == 5


@pytest.mark.parametrize(
    ("components", "X", "words"),
    [
        # crashed in the family pass with numpy's "matmul: ... mismatch in its core dimension"
        (
            [Poisson(rate=[1.0, 2.0]), Poisson(rate=[3.0, 4.0])],
            [[0.0], [1.0], [3.0]],
            r"0 \(Poisson\) has 2 features \(its rate\), X has 1 column",
        ),
        (
            [Poisson(), Poisson(rate=[3.0])],
            [[0.0, 1.0], [1.0, 2.0], [3.0, 1.0]],
            r"1 \(Poisson\) has 1 feature \(its rate\), X has 2 columns",
        ),
        (
            [Exponential(rate=[1.0, 1.0, 1.0]), Gamma()],
            [[1.0, 2.0], [2.0, 1.0], [3.0, 1.0]],
            r"0 \(Exponential\) has 3 features \(its rate\), X has 2",
        ),
        (
            [Bernoulli(probs=[0.5, 0.5]), Bernoulli()],
            [[0.0], [1.0], [1.0]],
            r"0 \(Bernoulli\) has 2 features \(its probs\)",
        ),
        (
            [Categorical(probs=[[0.5, 0.5], [0.5, 0.5]]), Categorical()],
            [[0.0], [1.0], [1.0]],
            r"0 \(Categorical\) has 2 features \(its probs\)",
        ),
        # a variance of another length than the mean's
        (
            [Normal(mean=[0.0, 1.0], variance=[1.0]), Normal()],
            [[0.0, 1.0], [1.0, 2.0], [3.0, 1.0]],
            r"0 \(Normal\) has 1 feature \(its variance\), X has 2",
        ),
    ],
)
def test_every_family_refuses_given_parameters_of_another_width(components, X, words):
    with pytest.raises(ValueError, match=words):
        MixtureModel(components, random_state=0).fit(np.asarray(X))


def test_a_linear_gaussian_coef_is_for_the_covariates_beside_the_response():
    from emkit.distributions.linear_gaussian import LinearGaussian

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 60)
    rows = np.column_stack([x, 1 + 2 * x + rng.normal(0, 0.5, 60)])
    start = [LinearGaussian(coef=[2.0, 0.0], variance=1.0), LinearGaussian()]
    with pytest.raises(
        ValueError, match=r"0 \(LinearGaussian\) has 3 features \(its coef\), X has 2"
    ):
        MixtureModel(start).fit(rows)
    assert LinearGaussian(coef=[2.0], variance=1.0).parameter_widths() == {"coef": 2}


def _two_poissons_mle(x):
    """The two-Poisson mixture's MLE by scipy: (weight of the low one, low rate, high rate)."""

    def nll(theta):
        w = expit(theta[0])
        rates = np.exp(theta[1:])
        parts = np.log([w, 1 - w])[:, None] + stats.poisson.logpmf(x[:, 0], rates[:, None])
        return -logsumexp(parts, axis=0).sum()

    res = optimize.minimize(
        nll,
        [0.0, np.log(1.5), np.log(12.0)],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
    )
    return expit(res.x[0]), np.exp(res.x[1]), np.exp(res.x[2]), -res.fun


def test_components_given_for_some_are_kept_and_the_others_start_from_the_data():
    # Poisson(rate=100) beside an unset Poisson was discarded: the first start had rates 2.68
    # and 10.79, both from the data.
    rng = np.random.default_rng(9)
    x = np.r_[rng.poisson(2, 300), rng.poisson(9, 200)][:, None].astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateFitWarning)
        far = MixtureModel([Poisson(rate=[100.0]), Poisson()], max_iter=0, random_state=0).fit(x)
    assert far.components_[0].rate.tolist() == [100.0]
    # the unset one takes the cluster that, beside the rate of 100, fits best: the low counts
    assert far.components_[1].rate[0] < 4.0
    # A given rate of 9 takes the cluster of the high counts, the unset one the low ones;
    # the weights are the clusters' shares of the rows.
    start = MixtureModel([Poisson(rate=[9.0]), Poisson()], max_iter=0, random_state=0).fit(x)
    assert start.components_[0].rate.tolist() == [9.0]
    low = start.components_[1].rate[0]
    assert low < 4.0
    assert start.weights_.sum() == pytest.approx(1.0, rel=1e-12)
    # On one column a cluster of the nearest seed is a run of sorted values: the unset one's
    # rate is the mean of the n_low smallest counts, n_low its weight's share of the rows.
    n_low = round(start.weights_[1] * x.shape[0])
    assert start.weights_[1] * x.shape[0] == pytest.approx(n_low, abs=1e-9)
    assert low == pytest.approx(np.sort(x[:, 0])[:n_low].mean(), rel=1e-12)
    # Fitted from that start, EM reaches the MLE (scipy's optimiser on the log-likelihood).
    fit = MixtureModel([Poisson(rate=[9.0]), Poisson()], random_state=0).fit(x)
    w_low, rate_low, rate_high, loglik = _two_poissons_mle(x)
    # the given component is tied to its position: component 0 stays the high one
    assert fit.components_[0].rate[0] == pytest.approx(rate_high, rel=1e-5)
    assert fit.components_[1].rate[0] == pytest.approx(rate_low, rel=1e-5)
    assert fit.weights_[1] == pytest.approx(w_low, rel=1e-5)
    assert fit.log_likelihood_ == pytest.approx(loglik, rel=1e-10)


def test_a_given_component_of_another_kind_is_kept_in_the_first_start():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(10, 1, 200), rng.exponential(2, 200)])[:, None]
    given = Normal(mean=[9.0], variance=[2.0])
    mm = MixtureModel([given, Exponential()], max_iter=0, random_state=0).fit(x)
    assert mm.components_[0].to_dict() == given.to_dict()
    assert 0.0 < mm.weights_[0] < 1.0
    # n_init > 1: the other starts are from the data alone; the best of them is kept
    many = MixtureModel([given, Exponential()], n_init=3, random_state=0).fit(x)
    single = MixtureModel([Normal(), Exponential()], random_state=0).fit(x)
    assert many.log_likelihood_ == pytest.approx(single.log_likelihood_, rel=1e-9)


def test_weight_concentration_is_documented_as_the_check_takes_it():
    with pytest.raises(ValueError, match="weight_concentration"):
        MixtureModel(weight_concentration=0.0).fit(np.arange(6.0)[:, None])
    assert "weight_concentration : float > 0," in MixtureModel.__doc__
