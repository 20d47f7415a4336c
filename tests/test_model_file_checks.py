"""What ``emkit.load`` refuses of a model file's fitted values: a null where a fit always has a
value, covariances that break the structure ``covariance_type`` names (equal volumes, shapes,
orientations), flags and counts of the wrong JSON type, and what ``set_output`` may ask; and
what it keeps: every structure's genuine file, and ``set_output``'s container."""

from __future__ import annotations

import contextlib
import io
import json
import warnings

import numpy as np
import pandas as pd
import pytest

import emkit
from emkit.distributions.gaussian import MCLUST_MODELS
from emkit.exceptions import ModelFileError


def _faithful() -> pd.DataFrame:
    from importlib.resources import files

    return pd.read_csv(files("emkit") / "data" / "faithful.csv")


X_DF = _faithful()
X = X_DF.to_numpy(float)


def _edited(model, tmp_path, edit):
    """``model`` saved, its document passed through ``edit``, written back; the path."""
    path = tmp_path / "model.json"
    model.save(path)
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))
    return path


def _set(section, name, value):
    def edit(document):
        document[section][name] = value

    return edit


@pytest.fixture(scope="module")
def gaussian_mixture():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return emkit.GaussianMixture(2, random_state=0).fit(X_DF)


@pytest.fixture(scope="module")
def classifier():
    return emkit.GenerativeClassifier().fit(X, (X[:, 0] > 3).astype(int))


# ---- nulls and types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "which, name",
    [
        ("gaussian_mixture", "covariances_"),
        ("gaussian_mixture", "precisions_cholesky_"),
        ("gaussian_mixture", "feature_names_in_"),
        ("gaussian_mixture", "structure_changes_"),
        ("classifier", "covariances_"),
        ("classifier", "precisions_cholesky_"),
    ],
)
def test_a_null_fitted_attribute_is_refused_by_name(request, tmp_path, which, name):
    model = request.getfixturevalue(which)
    path = _edited(model, tmp_path, _set("attributes", name, None))
    with pytest.raises(ModelFileError, match=f"'attributes.{name}': is null"):
        emkit.load(path)


@pytest.mark.parametrize("value", ["x", {}, 1.5, True, 2, [1.5], [True], [0], [2, 1], [1, 1]])
def test_structure_changes_that_are_no_list_of_steps_are_refused(gaussian_mixture, tmp_path, value):
    path = _edited(gaussian_mixture, tmp_path, _set("attributes", "structure_changes_", value))
    with pytest.raises(ModelFileError, match="'attributes.structure_changes_'"):
        emkit.load(path)


def test_structure_changes_past_the_last_step_are_refused(gaussian_mixture, tmp_path):
    steps = gaussian_mixture.n_iter_
    path = _edited(
        gaussian_mixture, tmp_path, _set("attributes", "structure_changes_", [steps + 1])
    )
    with pytest.raises(ModelFileError, match=f"steps 1 to {steps}"):
        emkit.load(path)


def test_a_pruned_fit_keeps_its_structure_changes(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = emkit.GaussianMixture(8, prune_weight=0.1, random_state=0).fit(X)
        mixture = emkit.MixtureModel([emkit.Normal()] * 8, prune_weight=0.1, random_state=0).fit(
            X[:, :1]
        )
    assert len(model.structure_changes_) > 0 and len(mixture.structure_changes_) > 0
    for fitted in (model, mixture):
        fitted.save(tmp_path / "pruned.json")
        again = emkit.load(tmp_path / "pruned.json")
        assert list(again.structure_changes_) == list(fitted.structure_changes_)


def test_kmeans_labels_with_fewer_rows_than_clusters_are_refused(tmp_path):
    model = emkit.KMeans(3, random_state=0).fit(X)
    empty = {"__array__": True, "dtype": "<i4", "shape": [0], "data": []}
    path = _edited(model, tmp_path, _set("attributes", "labels_", empty))
    with pytest.raises(ModelFileError, match="'attributes.labels_': 0 training rows"):
        emkit.load(path)


@pytest.mark.parametrize(
    "name, value",
    [
        ("equal_variance_", "no"),
        ("equal_variance_", 1),
        ("equal_variance_", None),
        ("n_reseeds_", {"a": 1}),
        ("n_reseeds_", -1),
        ("n_reseeds_", 1.5),
        ("n_reseeds_", True),
        ("n_reseeds_", "3"),
    ],
)
def test_regression_mixture_flags_of_the_wrong_type_are_refused(tmp_path, name, value):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 1))
    y = np.where(rng.random(300) < 0.5, 1 + 2 * x[:, 0], -1 - x[:, 0]) + rng.normal(0, 0.3, 300)
    model = emkit.MixtureOfRegressions(2, random_state=0).fit(x, y)
    emkit.load(_edited(model, tmp_path, lambda document: None))  # as saved, it loads
    path = _edited(model, tmp_path, _set("attributes", name, value))
    with pytest.raises(ModelFileError, match=f"'attributes.{name}'"):
        emkit.load(path)


# ---- covariance structures ---------------------------------------------------------------


@pytest.mark.parametrize(
    "fitted, edited, broken",
    [
        ("VII", "EII", "one volume"),
        ("VVI", "EEI", "one volume"),
        ("VVI", "EVI", "one volume"),
        ("VVI", "VEI", "one shape"),
        ("VVV", "EEV", "one volume"),
        ("VVV", "VEV", "one shape"),
        ("VVV", "EVV", "one volume"),
        ("VVV", "VEE", "one shape and orientation"),
        ("VVV", "VVE", "one orientation"),
        ("EEV", "EEE", None),  # another layout: refused by its shape
    ],
)
def test_covariances_that_break_the_named_structure_are_refused(tmp_path, fitted, edited, broken):
    model = emkit.GaussianMixture(3, covariance_type=fitted, random_state=0).fit(X)
    path = _edited(model, tmp_path, _set("params", "covariance_type", edited))
    expected = "shape .* where .* was expected" if broken is None else broken
    with pytest.raises(ModelFileError, match=f"'attributes.covariances_': .*{expected}"):
        emkit.load(path)


@pytest.mark.parametrize("covariance_type", MCLUST_MODELS)
def test_every_structure_loads_back_with_and_without_a_prior(tmp_path, covariance_type):
    for options in ({}, {"covariance_prior": "mclust"}):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = emkit.GaussianMixture(
                3, covariance_type=covariance_type, random_state=0, **options
            ).fit(X)
        model.save(tmp_path / "model.json")
        again = emkit.load(tmp_path / "model.json")
        assert again.bic(X) == model.bic(X)


def test_a_missing_data_and_a_classifier_fit_of_each_oriented_structure_load(tmp_path):
    gappy = X.copy()
    gappy[::7, 0] = np.nan
    labels = (X[:, 0] > 3).astype(int)
    for covariance_type in ("EVE", "VVE", "EEV", "VEV", "VEE", "VEI", "EVI"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            models = [
                emkit.GaussianMixture(
                    3, covariance_type=covariance_type, missing="em", random_state=0
                ).fit(gappy),
                emkit.GenerativeClassifier(covariance_type=covariance_type).fit(X, labels),
            ]
        for model in models:
            model.save(tmp_path / "model.json")
            emkit.load(tmp_path / "model.json")


# ---- set_output --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "estimator",
    [emkit.GaussianImputer(), emkit.KMeans(2, random_state=0)],
    ids=lambda e: type(e).__name__,
)
def test_set_output_survives_save_and_load(tmp_path, estimator):
    model = estimator.set_output(transform="pandas").fit(X_DF)
    model.save(tmp_path / "model.json")
    again = emkit.load(tmp_path / "model.json")
    out = again.transform(X_DF)
    assert isinstance(out, pd.DataFrame)
    pd.testing.assert_frame_equal(out, model.transform(X_DF))


def test_a_model_without_set_output_loads_with_arrays_out(tmp_path):
    model = emkit.KMeans(2, random_state=0).fit(X_DF)
    model.save(tmp_path / "model.json")
    assert "output" not in json.loads((tmp_path / "model.json").read_text())
    assert isinstance(emkit.load(tmp_path / "model.json").transform(X_DF), np.ndarray)


@pytest.mark.parametrize(
    "output, field",
    [
        ({"transform": "evil"}, "output.transform"),
        ({"transform": None}, "output.transform"),
        ({"transform": ["pandas"]}, "output.transform"),
        ({"fit": "pandas"}, "output.fit"),
        (["pandas"], "output"),
        ("pandas", "output"),
    ],
)
def test_a_set_output_entry_outside_the_whitelist_is_refused(tmp_path, output, field):
    model = emkit.KMeans(2, random_state=0).set_output(transform="pandas").fit(X_DF)
    path = _edited(model, tmp_path, lambda document: document.__setitem__("output", output))
    with pytest.raises(ModelFileError, match=f"field '{field}'"):
        emkit.load(path)


def test_set_output_on_an_estimator_without_it_is_refused(gaussian_mixture, tmp_path):
    path = _edited(
        gaussian_mixture, tmp_path, lambda document: document.update(output={"transform": "pandas"})
    )
    with pytest.raises(ModelFileError, match="field 'output': a GaussianMixture has no set_output"):
        emkit.load(path)


# ---- JSON Python cannot read --------------------------------------------------------------


def test_an_integer_of_too_many_digits_is_a_model_file_error(gaussian_mixture, tmp_path):
    """Python converts integers of at most 4300 digits from text (sys.int_info): a longer one
    is a ModelFileError naming the file, from emkit.load and from emkit predict."""
    from emkit.cli import main

    path = tmp_path / "model.json"
    gaussian_mixture.save(path)
    text = path.read_text().replace('"n_iter_": ', '"n_iter_": 1' + "0" * 5000 + ', "_": ', 1)
    path.write_text(text)
    with pytest.raises(ModelFileError, match="not a readable emkit model file") as caught:
        emkit.load(path)
    assert str(caught.value).startswith(f"{path}: ")
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = main(["predict", str(path), str(tmp_path / "absent.csv")])
    assert status == 2
    assert err.getvalue().startswith(f"emkit: error: {path}: not a readable emkit model file")


# ---- components of a mixture of families ---------------------------------------------------


def _component(index, **values):
    def edit(document):
        document["attributes"]["component_params_"][index].update(values)

    return edit


@pytest.fixture(scope="module")
def normal_mixture():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (150, 2)), rng.normal(4, 1, (150, 2))])
    return emkit.MixtureModel([emkit.Normal(), emkit.Normal()], random_state=0).fit(x), x


@pytest.mark.parametrize(
    "values, says",
    [
        ({"variance": [1.0, 1.0, 1.0]}, "variance is for 3 feature"),
        ({"mean": [1.0]}, "mean is for 1 feature"),
        ({"variance": [0.0, 1.0]}, "variance must be positive"),
    ],
)
def test_normal_components_of_another_width_or_no_spread_are_refused(
    normal_mixture, tmp_path, values, says
):
    model, x = normal_mixture
    again = emkit.load(_edited(model, tmp_path, lambda document: None))
    # as saved it loads, and predicts as scipy's densities at its parameters do
    from scipy.stats import norm

    joint = np.column_stack(
        [
            np.log(w) + norm(c.mean, np.sqrt(c.variance)).logpdf(x).sum(axis=1)
            for w, c in zip(model.weights_, model.components_, strict=True)
        ]
    )
    np.testing.assert_array_equal(again.predict(x), joint.argmax(axis=1))
    path = _edited(model, tmp_path, _component(0, **values))
    with pytest.raises(ModelFileError, match=rf"'attributes.component_params_\[0\]': .*{says}"):
        emkit.load(path)


def test_a_poisson_rate_of_another_width_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    counts = np.concatenate([rng.poisson(1, 200), rng.poisson(6, 200)])[:, None]
    model = emkit.MixtureModel([emkit.Poisson(), emkit.Poisson()], random_state=0).fit(counts)
    emkit.load(_edited(model, tmp_path, lambda document: None))
    path = _edited(model, tmp_path, _component(1, rate=[3.0, 3.0]))
    with pytest.raises(ModelFileError, match=r"component_params_\[1\]'.*rate is for 2 feature"):
        emkit.load(path)


def _fits_of_every_family():
    rng = np.random.default_rng(0)
    n = 300
    half = rng.random(n) < 0.5
    counts = np.where(half, rng.poisson(1, n), rng.poisson(7, n))[:, None].astype(float)
    positive = np.where(half, rng.exponential(1, n), rng.gamma(9, 1, n))[:, None]
    binary = (rng.random((n, 3)) < np.where(half[:, None], 0.2, 0.8)).astype(float)
    codes = np.where(half[:, None], rng.choice(3, (n, 2)), 2).astype(float)
    x = rng.uniform(0, 10, n)
    rows = np.column_stack([x, np.where(half, 1 + 2 * x, 8 - x) + rng.normal(0, 0.5, n)])
    E = emkit
    return [
        (E.MixtureModel([E.Poisson(), E.Poisson()], random_state=0), counts),
        (E.MixtureModel([E.PointMass(0), E.Poisson()], random_state=0), counts),
        (E.MixtureModel([E.Exponential(), E.Gamma()], random_state=0), positive),
        (E.MixtureModel([E.Bernoulli(), E.Bernoulli()], random_state=0), binary),
        (E.MixtureModel([E.Categorical(), E.Categorical()], random_state=0), codes),
        (E.MixtureModel([E.LinearGaussian(), E.LinearGaussian()], random_state=0), rows),
    ]


@pytest.mark.parametrize("index", range(6))
def test_a_fit_of_every_family_loads_back_as_saved(tmp_path, index):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, x = _fits_of_every_family()[index]
        model.fit(x)
    again = emkit.load(_edited(model, tmp_path, lambda document: None))
    np.testing.assert_array_equal(again.score_samples(x), model.score_samples(x))


def test_equal_variance_with_unequal_sigmas_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 1))
    y = np.where(rng.random(300) < 0.5, 1 + 2 * x[:, 0], -1 - x[:, 0]) + rng.normal(0, 0.3, 300)
    model = emkit.MixtureOfRegressions(2, random_state=0).fit(x, y)
    assert model.sigmas_[0] != model.sigmas_[1]
    path = _edited(model, tmp_path, _set("attributes", "equal_variance_", True))
    with pytest.raises(ModelFileError, match="'attributes.sigmas_': .* differ where equal_var"):
        emkit.load(path)
    equal = emkit.MixtureOfRegressions(2, equal_variance=True, random_state=0).fit(x, y)
    again = emkit.load(_edited(equal, tmp_path, lambda document: None))
    np.testing.assert_array_equal(again.sigmas_, equal.sigmas_)
    path = _edited(equal, tmp_path, _set("attributes", "equal_variance_", False))
    with pytest.raises(ModelFileError, match="'attributes.equal_variance_': false where"):
        emkit.load(path)


def test_an_intercept_without_fit_intercept_is_refused(tmp_path):
    """A mixture of regressions fitted with fit_intercept=False predicts through the origin
    (intercepts exactly 0); a file that holds an intercept beside the flag is refused, not
    loaded to predict with it."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 1))
    y = np.where(rng.random(300) < 0.5, 2 * x[:, 0], -x[:, 0]) + rng.normal(0, 0.3, 300)
    model = emkit.MixtureOfRegressions(2, fit_intercept=False, random_state=0).fit(x, y)
    np.testing.assert_array_equal(model.intercept_, [0.0, 0.0])
    again = emkit.load(_edited(model, tmp_path, lambda document: None))
    np.testing.assert_array_equal(again.predict(x), model.predict(x))

    def shifted(document):
        document["attributes"]["intercept_"]["data"] = [0.0, 1.5]

    with pytest.raises(ModelFileError, match=r"intercept_': \[0.0, 1.5\] where the parameter fit"):
        emkit.load(_edited(model, tmp_path, shifted))
