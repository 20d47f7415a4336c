"""BayesianMixture model files: ``save`` and ``emkit.load`` give back the posterior bit for bit
(draws, fitted rows, every query and the ArviZ export), refuse a damaged file naming the field,
and refuse to save an unfitted estimator, as for the other estimators."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

import emkit
from emkit import Bernoulli, Categorical, Normal, Poisson
from emkit.bayes.priors import SemiConjugateNormal, UniformSDNormal
from emkit.distributions.priors import NormalInverseGamma, NormalInverseWishart
from emkit.estimators import persist
from emkit.estimators.bayesian_mixture import BayesianMixture
from emkit.exceptions import ModelFileError

FAST = dict(chains=2, draws=30, tune=10, random_state=0)
RNG = np.random.default_rng(0)
X = np.vstack([RNG.normal(0.0, 1.0, (40, 2)), RNG.normal(4.0, 1.0, (40, 2))])
COUNTS = RNG.poisson(np.repeat([[1.0, 2.0], [6.0, 8.0]], 40, axis=0)).astype(float)
CODES = np.column_stack([RNG.integers(0, 3, 80), RNG.integers(0, 2, 80)]).astype(float)
SEMI = np.r_[[0] * 5, [-1] * 70, [1] * 5]


def _case(name):
    """(estimator, X, fit keywords) of each kind of model a file holds."""
    if name == "normal":
        return BayesianMixture(2, **FAST), X, {}
    if name in ("full", "tied", "diag", "spherical"):
        return BayesianMixture(2, covariance_type=name, **FAST), X, {}
    if name == "niw-prior-frame":  # a given prior, column names, float32 in Fortran order
        prior = NormalInverseWishart(np.zeros(2), 0.1, 4.0, np.eye(2))
        frame = pd.DataFrame(np.asfortranarray(X, dtype=np.float32), columns=["a", "b"])
        return BayesianMixture(2, covariance_type="VVV", priors=prior, **FAST), frame, {}
    if name == "semi-conjugate-semi-supervised":
        prior = SemiConjugateNormal(0.0, 10.0, 2.0, 1.0)
        return BayesianMixture([Normal(), Normal()], priors=prior, **FAST), X, {"labels": SEMI}
    if name == "uniform-sd-ordered":
        model = BayesianMixture(
            [Normal(), Normal()],
            priors=[UniformSDNormal(0.0, 10.0, 5.0)] * 2,
            constraints={"ordered": True, "min_weight": 0.1},
            weight_prior=np.array([2.0, 2.0]),
            **FAST,
        )
        return model, X[:, :1], {}
    if name == "supervised-weighted":
        model = BayesianMixture([Normal(), Normal()], priors=NormalInverseGamma(0, 0.1, 2, 1))
        weights = RNG.integers(0, 3, 80).astype(float)
        return (
            model.set_params(**FAST),
            X,
            {"labels": np.repeat([0, 1], 40), "sample_weight": weights},
        )
    if name == "poisson":
        return BayesianMixture([Poisson(), Poisson()], **FAST), COUNTS, {}
    if name == "categorical":  # features of 3 and 2 categories: probs padded to 3
        return BayesianMixture([Categorical(), Categorical()], **FAST), CODES, {}
    if name == "bernoulli":
        return BayesianMixture([Bernoulli(), Bernoulli()], **FAST), (CODES > 0) * 1.0, {}
    raise AssertionError(name)


CASES = [
    "normal",
    "full",
    "tied",
    "diag",
    "spherical",
    "niw-prior-frame",
    "semi-conjugate-semi-supervised",
    "uniform-sd-ordered",
    "supervised-weighted",
    "poisson",
    "categorical",
    "bernoulli",
]


def _same(a, b) -> bool:
    """Equal bit for bit: arrays by dtype, shape and bytes."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _fitted(name):
    model, x, fit = _case(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short chains' convergence and relabelling notes
        model.fit(x, **fit)
    return model, x


@pytest.mark.parametrize("name", CASES)
def test_a_loaded_posterior_answers_every_query_bit_for_bit(tmp_path, name):
    model, x = _fitted(name)
    path = tmp_path / "posterior.json"
    model.save(path)
    loaded = emkit.load(path)
    assert type(loaded) is BayesianMixture
    params, again = model.get_params(), loaded.get_params()
    assert params.keys() == again.keys()
    for key in ("components", "priors"):  # families and priors by their dict forms
        assert persist.plain_value(again.pop(key)) == persist.plain_value(params.pop(key))
    assert repr(again) == repr(params)
    assert sorted(loaded.samples_) == sorted(model.samples_)
    for key, value in model.samples_.items():
        assert _same(loaded.samples_[key], value), key
    for attribute in ("weights_", "n_features_in_", "fit_type_", "exact_"):
        assert _same(getattr(loaded, attribute), getattr(model, attribute)), attribute
    if hasattr(model, "feature_names_in_"):
        assert _same(loaded.feature_names_in_, model.feature_names_in_)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warning from either
        for method in ("predict", "predict_proba", "score_samples"):
            assert _same(getattr(loaded, method)(x), getattr(model, method)(x)), method
        for a, b in zip(loaded.predict_proba(x, True), model.predict_proba(x, True), strict=True):
            assert _same(a, b)
        assert loaded.score(x) == model.score(x)
    assert _same(loaded.log_likelihood_, model.log_likelihood_)


@pytest.mark.parametrize(
    "name", ["normal", "full", "semi-conjugate-semi-supervised", "categorical"]
)
@pytest.mark.parametrize("pointwise", ["auto", False])
def test_a_loaded_posterior_exports_the_same_inference_data(tmp_path, name, pointwise):
    az = pytest.importorskip("arviz")
    model, _ = _fitted(name)
    model.set_params(log_likelihood=pointwise)
    model.save(tmp_path / "posterior.json")
    loaded = emkit.load(tmp_path / "posterior.json")
    saved, again = model.posterior_, loaded.posterior_
    assert again.groups() == saved.groups()
    assert ("log_likelihood" in again.groups()) == (pointwise == "auto")
    for group in saved.groups():
        assert again[group].equals(saved[group]), group
        for name, value in saved[group].data_vars.items():
            assert _same(again[group][name].values, value.values), (group, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arviz's note on the padded categories' NaN
        pd.testing.assert_frame_equal(az.summary(again), az.summary(saved), check_exact=True)


def test_saving_an_unfitted_posterior_is_refused(tmp_path):
    with pytest.raises(NotFittedError):
        BayesianMixture(2).save(tmp_path / "model.json")
    assert not (tmp_path / "model.json").exists()


@pytest.fixture(scope="module")
def saved_text(tmp_path_factory):
    """The text of a full-covariance posterior's model file."""
    model, _ = _fitted("full")
    path = tmp_path_factory.mktemp("posterior") / "model.json"
    model.save(path)
    return path.read_text()


def _edited(text, tmp_path, edit):
    document = json.loads(text)
    edit(document)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(document))
    return path


def test_a_truncated_posterior_file_is_refused(saved_text, tmp_path):
    path = tmp_path / "model.json"
    path.write_text(saved_text[: len(saved_text) // 2])
    with pytest.raises(ModelFileError, match="not a readable emkit model file") as caught:
        emkit.load(path)
    assert str(caught.value).startswith(f"{path}: ")


def _samples(name, change):
    def edit(document):
        entry = document["attributes"]["samples_"][name]
        entry.update(change(entry))

    return edit


def _attribute(name, value):
    def edit(document):
        document["attributes"][name] = value

    return edit


def _negated_first(entry):
    data = list(entry["data"])
    data[0] = -abs(data[0])
    return {"data": data}


def _without_draw(entry):
    shape = [entry["shape"][0], entry["shape"][1] - 1, *entry["shape"][2:]]
    return {"shape": shape, "data": entry["data"][: int(np.prod(shape))]}


def _rows_of_width_one(document):
    rows = document["attributes"]["_observed"][0]
    rows["shape"] = [rows["shape"][0] * 2, 1]


@pytest.mark.parametrize(
    "edit, field, says",
    [
        (_attribute("samples_", None), "attributes.samples_", "is null"),
        (_attribute("_observed", None), "attributes._observed", "must list the fitted rows"),
        (_samples("covariance", _without_draw), "attributes.samples_.covariance", "shape"),
        (_samples("covariance", _negated_first), "attributes.samples_.covariance", "positive"),
        (_samples("weights", _negated_first), "attributes.samples_.weights", "simplex"),
        (_attribute("fit_type_", "supervised"), "attributes.fit_type_", "'unsupervised'"),
        (_rows_of_width_one, "attributes._observed", r"shape \(n, 2\)"),
        (
            lambda d: d["attributes"]["samples_"].pop("mean"),
            "attributes.samples_",
            "must hold the draws",
        ),
        (lambda d: d["params"].update(draws=31), "attributes.samples_.weights", "shape"),
        (
            lambda d: d["params"].update(priors={"prior": "pickle", "mean": 0}),
            "params",
            "a prior must be one of",
        ),
    ],
)
def test_a_tampered_posterior_file_is_refused_naming_the_field(
    saved_text, tmp_path, edit, field, says
):
    path = _edited(saved_text, tmp_path, edit)
    with pytest.raises(ModelFileError, match=rf"field '{field}'.*{says}") as caught:
        emkit.load(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_weights_that_are_not_the_draws_mean_are_refused(saved_text, tmp_path):
    def edit(document):
        data = document["attributes"]["weights_"]["data"]
        data[0], data[1] = data[1], data[0]

    path = _edited(saved_text, tmp_path, edit)
    with pytest.raises(ModelFileError, match="'attributes.weights_': not the mean"):
        emkit.load(path)


def test_a_file_above_the_read_limit_is_written_with_a_warning_and_read_when_asked(
    tmp_path, monkeypatch
):
    """A posterior whose file exceeds what emkit.load reads by default is written whole, with
    a warning naming max_bytes, never cut short; load refuses it by default and reads it with
    max_bytes."""
    model, x = _fitted("normal")
    saved = _dump(model, tmp_path)
    monkeypatch.setattr(persist, "MAX_FILE_BYTES", len(saved) // 2)
    with pytest.warns(UserWarning, match=rf"emkit.load\(path, max_bytes={len(saved)}\)"):
        model.save(tmp_path / "big.json")
    assert (tmp_path / "big.json").read_text() == saved
    with pytest.raises(ModelFileError, match="more than the"):
        emkit.load(tmp_path / "big.json", max_bytes=len(saved) // 2)
    loaded = emkit.load(tmp_path / "big.json", max_bytes=len(saved))
    assert _same(loaded.predict_proba(x), model.predict_proba(x))


def _dump(model, tmp_path) -> str:
    model.save(tmp_path / "plain.json")
    return (tmp_path / "plain.json").read_text()
