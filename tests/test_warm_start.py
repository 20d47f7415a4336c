"""warm_start of MixtureModel, ZeroInflatedPoisson and MixtureOfRegressions, with the semantics of
scikit-learn's GaussianMixture: a second fit continues the stored one (n_init ignored), a fit
cut in two is the uninterrupted fit, a change of model or features is refused, clone() starts
afresh; and emkit.bootstrap starts its replicates from the fit, as mclust's MclustBootstrap."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

import emkit
from emkit import (
    Exponential,
    MixtureModel,
    MixtureOfRegressions,
    Normal,
    ZeroInflatedPoisson,
)


def _normals():
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(0.0, 1.0, 300), rng.normal(2.0, 1.5, 200)])[:, None]


def _counts():
    rng = np.random.default_rng(1)
    return np.where(rng.uniform(size=500) < 0.3, 0, rng.poisson(2.5, size=500))[:, None]


def _lines(n=300, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, (n, 1))
    y = np.where(rng.random(n) < 0.5, 1 + 1.0 * x[:, 0], 4 + 0.4 * x[:, 0])
    return x, y + rng.normal(0, 0.8, n)


# (estimator, fit arguments, fitted arrays); accelerate=None: plain EM, whose steps do not
# depend on where a fit was cut (SQUAREM's cycles and step bound do).
CASES = {
    "mixture": (
        lambda **o: MixtureModel([Normal(), Normal()], random_state=0, **o),
        lambda: (_normals(),),
        ("weights_", "component_params_"),
    ),
    "mixed": (
        lambda **o: MixtureModel([Normal(), Exponential()], random_state=0, **o),
        lambda: (np.abs(_normals()) + 0.1,),
        ("weights_", "component_params_"),
    ),
    "zip": (
        lambda **o: ZeroInflatedPoisson(**o),
        lambda: (_counts(),),
        ("zero_inflation_", "rate_", "weights_"),
    ),
    "regressions": (
        lambda **o: MixtureOfRegressions(2, n_init=1, random_state=0, **o),
        _lines,
        ("weights_", "coef_", "intercept_", "sigmas_"),
    ),
}


def _fit(model, args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args)


def _same(a, b, name, exact):
    a, b = getattr(a, name), getattr(b, name)
    if name == "component_params_":
        a = [v for spec in a for k, v in spec.items() if k != "family"]
        b = [v for spec in b for k, v in spec.items() if k != "family"]
    if exact:
        np.testing.assert_array_equal(np.asarray(a, float), np.asarray(b, float), err_msg=name)
    else:
        np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_a_fit_continued_is_the_uninterrupted_fit(case):
    make, data, fitted = CASES[case]
    args = data()
    options = dict(accelerate=None, tol=0.0)
    whole = _fit(make(max_iter=7, **options), args)
    cut = _fit(make(max_iter=3, warm_start=True, **options), args)
    first = cut.history_.copy()
    _fit(cut.set_params(max_iter=4), args)
    # scikit-learn's semantics: n_iter_ and history_ are the continued fit's own
    assert cut.n_iter_ == 4 and first.shape == (4,)
    # bit for bit where the stored parameters are those EM holds; the regressions store
    # sigmas_, square roots of the variances, so theirs agree to rounding
    exact = case != "regressions"
    joined = np.r_[first, cut.history_[1:]]
    if exact:
        np.testing.assert_array_equal(joined, whole.history_)
    else:
        np.testing.assert_allclose(joined, whole.history_, rtol=1e-14)
    assert whole.history_[-1] > whole.history_[3] + 1e-3  # the continuation climbed
    for name in fitted:
        _same(cut, whole, name, exact)


@pytest.mark.parametrize("case", CASES)
def test_a_warm_fit_starts_from_the_stored_one_and_clone_starts_afresh(case):
    make, data, fitted = CASES[case]
    args = data()
    # SQUAREM, and n_init > 1 where the estimator has it: ignored once fitted
    model = _fit(make(warm_start=True), args)
    cold = _fit(make(), args)
    objective = model.history_[-1]
    if "n_init" in model.get_params():
        model.set_params(n_init=5)
    _fit(model, args)
    # from the maximum already reached: one step, no climb
    assert model.n_iter_ <= 2
    np.testing.assert_allclose(model.history_[0], objective, rtol=1e-12)
    assert 0.0 <= model.history_[-1] - objective < 1e-4
    # clone() keeps the parameters, warm_start=True included, but not the fit: its first fit
    # is the cold one
    again = _fit(
        clone(model).set_params(**({"n_init": 1} if "n_init" in model.get_params() else {})), args
    )
    np.testing.assert_array_equal(again.history_, cold.history_)
    for name in fitted:
        _same(again, cold, name, True)


def test_a_warm_start_refuses_another_model_or_other_features(tmp_path):
    x = _normals()
    wide = np.hstack([x, x])

    def mixture():
        return _fit(MixtureModel([Normal(), Normal()], warm_start=True, random_state=0), (x,))

    for components, differs in [
        ([Normal(), Normal(), Normal()], r"\[normal, normal, normal\] where .* \[normal, normal\]"),
        ([Normal(), Exponential()], r"\[normal, exponential\] where .* \[normal, normal\]"),
    ]:
        with pytest.raises(ValueError, match=differs + ".*Set warm_start=False"):
            mixture().set_params(components=components).fit(np.abs(x))
    with pytest.raises(ValueError, match="X has 2 features where the stored fit has 1"):
        mixture().fit(wide)
    # A model read from a file: its components tell its families.
    mixture().save(tmp_path / "mixture.json")
    with pytest.raises(ValueError, match=r"\[normal, normal, normal\] where"):
        emkit.load(tmp_path / "mixture.json").set_params(components=[Normal()] * 3).fit(x)

    counts = _counts()
    zip_fit = ZeroInflatedPoisson(warm_start=True).fit(counts)
    with pytest.raises(ValueError, match="X has 2 features where the stored fit has 1"):
        zip_fit.fit(np.hstack([counts, counts]))
    assert zip_fit.rate_.shape == (1,)  # the refused fit left the stored one as it was

    xr, y = _lines()

    def regressions():
        return _fit(MixtureOfRegressions(2, n_init=1, warm_start=True, random_state=0), (xr, y))

    for change, differs in [
        ({"n_components": 3}, "n_components is 3 where the stored fit has 2"),
        ({"fit_intercept": False}, "fit_intercept is False where the stored fit's is True"),
        ({"equal_variance": True}, "equal_variance is True where the stored fit's is False"),
    ]:
        with pytest.raises(ValueError, match=differs + ".*Set warm_start=False"):
            regressions().set_params(**change).fit(xr, y)
    with pytest.raises(ValueError, match="X has 2 features where the stored fit has 1"):
        regressions().fit(np.hstack([xr, xr]), y)
    regressions().save(tmp_path / "regressions.json")
    with pytest.raises(ValueError, match="n_components is 3 where the stored fit has 2"):
        emkit.load(tmp_path / "regressions.json").set_params(n_components=3).fit(xr, y)
    with pytest.raises(ValueError, match="equal_variance is True where the stored fit's is"):
        emkit.load(tmp_path / "regressions.json").set_params(equal_variance=True).fit(xr, y)


@pytest.mark.parametrize("case", CASES)
def test_a_model_loaded_from_a_file_continues_as_the_stored_one(case, tmp_path):
    make, data, fitted = CASES[case]
    args = data()
    model = _fit(make(max_iter=3, warm_start=True, accelerate=None, tol=0.0), args)
    model.save(tmp_path / "model.json")
    loaded = emkit.load(tmp_path / "model.json")
    assert loaded.get_params()["warm_start"] is True
    _fit(model, args)
    _fit(loaded, args)
    np.testing.assert_array_equal(loaded.history_, model.history_)
    for name in fitted:
        _same(loaded, model, name, True)


def test_a_warm_start_is_part_of_a_mixture_models_checkpoint_key(tmp_path):
    # As GaussianMixture's (test_hostile): a warm fit with the parameters of the fit it
    # continues must not resume that fit's finished run from its checkpoint.
    from emkit.checkpoint import CheckpointError

    x = _normals()
    options = dict(warm_start=True, max_iter=3, random_state=0, tol=0.0, accelerate=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = MixtureModel([Normal(), Normal()], **options).fit(x).fit(x)
        model = MixtureModel([Normal(), Normal()], **options)
        model.fit(x, checkpoint=tmp_path / "first.json")
        with pytest.raises(CheckpointError, match="warm start from another model"):
            model.fit(x, checkpoint=tmp_path / "first.json")
        model.fit(x, checkpoint=tmp_path / "second.json")
    np.testing.assert_array_equal(model.history_, plain.history_)
    assert model.history_[0] == model.history_[0] and model.history_[-1] > model.history_[0]


@pytest.mark.parametrize("case", CASES)
def test_bootstrap_replicates_start_from_the_fit(case):
    # With no EM step allowed, a replicate warm-started from the fit returns the fit itself:
    # every replicate equals the estimate. From a fresh start it would not.
    make, data, _ = CASES[case]
    args = data()
    model = _fit(make(), args)
    boot = emkit.bootstrap(model, *args, n_boot=5, params={"max_iter": 0}, random_state=0)
    assert boot.n_failed == 0
    for name, values in boot.replicates.items():
        np.testing.assert_array_equal(values, np.broadcast_to(boot.estimates[name], values.shape))
    cold = emkit.bootstrap(
        model, *args, n_boot=5, params={"max_iter": 0, "warm_start": False}, random_state=0
    )
    assert any(
        not np.array_equal(cold.replicates[name][0], boot.estimates[name])
        for name in cold.replicates
    )


def test_warm_bootstrap_standard_errors_match_the_observed_information():
    # Two lines crossing near x = 5, one random start (n_init=1): restarted at random, many
    # replicates reach another maximum (lines through both regimes), and the bootstrap spread
    # of the slopes is four to five times the observed-information standard error. Started from
    # the fit, as mclust's MclustBootstrap, the replicates stay at the fit's maximum and the
    # spread is the sampling one: within Monte-Carlo error (about 1 / sqrt(2 n_boot) = 5%
    # relative for a standard error from 200 replicates) and the information's own
    # small-sample error of it.
    x, y = _lines()
    model = MixtureOfRegressions(2, n_init=1, random_state=3).fit(x, y)
    observed = model.standard_errors(x, y)
    warm = emkit.bootstrap(model, x, y, n_boot=200, random_state=0)
    for name in ("coef", "intercept"):
        np.testing.assert_allclose(
            warm.standard_errors[name].ravel(), observed[name].ravel(), rtol=0.2, err_msg=name
        )
    cold = emkit.bootstrap(model, x, y, n_boot=40, random_state=0, params={"warm_start": False})
    assert np.all(cold.standard_errors["coef"].ravel() > 2.5 * observed["coef"].ravel())


def test_a_pruned_fit_continues_where_its_components_priors_are_known():
    from emkit.distributions.priors import NormalInverseGamma

    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 1, 300), rng.normal(6, 1, 300)][:, None]
    options = dict(prune_weight=0.2, random_state=0, warm_start=True)
    # the ridges of reg_covar are alike for every Normal: each kept component has its own
    model = _fit(MixtureModel([Normal()] * 4, **options), (x,))
    objective = model.history_[-1]
    assert model.weights_.shape == (2,)
    _fit(model, (x,))
    assert model.weights_.shape == (2,) and model.n_iter_ <= 2
    assert 0.0 <= model.history_[-1] - objective < 1e-4
    # priors that differ by position: which one a kept component had is not recorded
    low, high = NormalInverseGamma(0.0, 0.01, 2.0, 1.0), NormalInverseGamma(5.0, 0.01, 2.0, 1.0)
    model = _fit(MixtureModel([Normal()] * 4, priors=[low, high, low, high], **options), (x,))
    assert model.weights_.shape == (2,)
    with pytest.raises(ValueError, match="dropped components of family 'normal', whose listed"):
        model.fit(x)


def test_lines_fitted_without_intercepts_keep_that_setting_loaded_or_reset(tmp_path):
    # A loaded model has no record of its fit's settings: lines through the origin (all
    # intercepts 0) continue with fit_intercept=False, and fitted intercepts refuse it.
    x, y = _lines()
    through_origin = _fit(
        MixtureOfRegressions(2, n_init=1, fit_intercept=False, warm_start=True, random_state=0),
        (x, y),
    )
    through_origin.save(tmp_path / "origin.json")
    loaded = emkit.load(tmp_path / "origin.json")
    _fit(loaded, (x, y))  # continues (it was refused: "the stored fit's is True")
    np.testing.assert_array_equal(loaded.intercept_, 0.0)
    boot = emkit.bootstrap(loaded, x, y=y, n_boot=3, random_state=0)
    assert boot.n_failed == 0
    _fit(MixtureOfRegressions(2, n_init=1, random_state=0), (x, y)).save(tmp_path / "lines.json")
    with pytest.raises(ValueError, match="fit_intercept is False where the stored fit's is True"):
        loaded = emkit.load(tmp_path / "lines.json")
        loaded.set_params(fit_intercept=False, warm_start=True).fit(x, y)
    # Setting fit_intercept after the fit leaves the fitted model's count and information:
    # flexmix's count, (k - 1) + k p + k with p = 1 coefficient and no intercepts.
    estimate = through_origin.estimate(x, y)
    through_origin.set_params(fit_intercept=True)
    assert through_origin.n_parameters() == 1 + 2 * 1 + 2
    again = through_origin.estimate(x, y)
    assert set(again.params) == set(estimate.params)
    np.testing.assert_array_equal(again.stderr["coef"], estimate.stderr["coef"])
