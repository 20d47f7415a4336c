"""A demanding new user's probes (session 35): each reproduces a defect that was found, and
now passes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emkit
from cli_run import run_main


def blobs(n=60, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return np.r_[rng.normal(0, 1, (n // 2, d)), rng.normal(6, 1, (n - n // 2, d))]


# ---- save writes only a file that load reads back -------------------------------------


@pytest.mark.parametrize(
    ("make", "change"),
    [
        (lambda x: emkit.GaussianMixture(2, random_state=0).fit(x), {"covariance_type": "diag"}),
        (lambda x: emkit.GaussianMixture(2, random_state=0).fit(x), {"covariance_type": "VEV"}),
        (lambda x: emkit.GaussianMixture(2, random_state=0).fit(x), {"n_components": 3}),
        (lambda x: emkit.KMeans(2, random_state=0).fit(x), {"n_clusters": 3}),
        (
            lambda x: emkit.MixtureModel([emkit.Normal(), emkit.Normal()], random_state=0).fit(
                x[:, :1]
            ),
            {"components": [emkit.Gamma(), emkit.Gamma()]},
        ),
    ],
    ids=["gm-diag", "gm-VEV", "gm-k", "kmeans-k", "mixture-families"],
)
def test_save_refuses_a_model_whose_parameters_changed_after_fit(tmp_path, make, change):
    # set_params after fit changed what the parameters say without refitting: save wrote the
    # file, and emkit.load then refused it as "a damaged or hand-edited model file".
    model = make(blobs())
    path = tmp_path / "model.json"
    model.save(path)
    before = path.read_bytes()
    model.set_params(**change)
    with pytest.raises(ValueError, match=r"set_params.*fit again") as caught:
        model.save(path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == before  # the good file is kept, nothing half-written
    with pytest.raises(ValueError, match="fit again"):
        model.save(tmp_path / "other.json")
    assert not (tmp_path / "other.json").exists()
    emkit.load(path)  # the file written before the change still loads


def test_a_refit_after_set_params_saves_and_loads(tmp_path):
    x = blobs()
    model = emkit.GaussianMixture(2, random_state=0).fit(x)
    model.set_params(covariance_type="diag").fit(x)
    model.save(tmp_path / "model.json")
    loaded = emkit.load(tmp_path / "model.json")
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


# ---- a Parquet column of numbers stored as strings --------------------------------------


FAST = ["-k", "1", "--covariance", "diag", "--quiet", "--no-report"]


def test_numbers_stored_as_text_in_parquet_are_named_so_with_what_to_do(tmp_path):
    # A Parquet string column whose every value is a number: every command said "column 'a'
    # is not numeric (such as '0.5'); correct those values, or empty their cells", naming a
    # value that is a number and asking to correct values that are right.
    x = np.random.default_rng(0).normal(size=(40, 2))
    numbers = pd.DataFrame({"a": x[:, 0], "b": x[:, 1]})
    (tmp_path / "m").mkdir()
    numbers.to_parquet(tmp_path / "m" / "n.parquet")
    assert run_main(["fit", tmp_path / "m" / "n.parquet", "--out", tmp_path / "o", *FAST])[0] == 0
    model = tmp_path / "o" / "model.json"
    path = tmp_path / "t.parquet"
    numbers.assign(a=numbers["a"].astype(str)).to_parquet(path)
    stored = f"column 'a' holds numbers stored as text (such as '{numbers['a'].astype(str)[0]}')"
    to_numeric = "store it as numbers in the file (with pandas: df['a'] = pd.to_numeric(df['a'])"
    commands = [
        ["fit", path, "--out", tmp_path / "f", *FAST],
        ["fit", path, "--columns", "a,b", "--out", tmp_path / "f", *FAST],
        ["predict", model, path],
        ["mle", "normal", path, "--column", "a"],
    ]
    for argv in commands:
        status, out, err = run_main(argv)
        assert status == 2, argv
        assert out == ""
        assert err.startswith(f"emkit: error: {path}: {stored}, not as a numeric column; "), err
        assert to_numeric in err
        assert "correct those values" not in err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "f").exists()
    # the advice works: the column stored as numbers is read
    numbers.to_parquet(path)
    status, out, err = run_main(["predict", model, path])
    assert status == 0, err


# ---- starting parameters no model holds --------------------------------------------------


@pytest.mark.parametrize(
    ("start", "data", "expected"),
    [
        # "Gamma shape must be positive; got [nan]" from inside the first M-step
        (emkit.Gamma(shape=np.inf, rate=1.0), "positive", r"shape \[inf\].*not finite"),
        # fitted: a component of rate inf and weight 0 in the model, which save then refused
        (emkit.Gamma(shape=1.0, rate=np.inf), "positive", r"rate \[inf\].*not finite"),
        # "Poisson rate must be non-negative; got [nan]"
        (emkit.Poisson(rate=np.inf), "counts", r"rate \[inf\].*not finite"),
        # "Exponential rate must be positive; got [nan]"
        (emkit.Exponential(rate=np.inf), "positive", r"rate \[inf\].*not finite"),
        # "every start ended with an unbounded log-likelihood: a component collapsed onto a
        # single value ... keep reg_covar > 0", which it was
        (emkit.Normal(mean=0.0, variance=0.0), "real", r"variance \[0.0\].*must be positive"),
        (emkit.Normal(mean=0.0, variance=np.inf), "real", r"variance \[inf\].*not finite"),
    ],
    ids=["gamma-shape", "gamma-rate", "poisson", "exponential", "normal-0", "normal-inf"],
)
def test_a_start_no_model_holds_is_refused_naming_the_component(start, data, expected):
    rng = np.random.default_rng(0)
    x = {
        "positive": rng.gamma(2.0, 1.0, (100, 1)),
        "counts": rng.poisson(3.0, (100, 1)),
        "real": rng.normal(0.0, 1.0, (100, 1)),
    }[data]
    kind = type(start).__name__
    model = emkit.MixtureModel([getattr(emkit, kind)(), start], random_state=0)
    with pytest.raises(ValueError, match=rf"component 1 \({kind}\) starts from {expected}") as e:
        model.fit(x)
    assert f"leave it unset ({kind}())" in str(e.value)
    assert not hasattr(model, "weights_")


def test_starts_on_the_domains_edge_that_models_hold_still_fit():
    # a Poisson of rate 0 (a structural zero) and a Bernoulli of probability 0 or 1 are models
    rng = np.random.default_rng(0)
    counts = np.where(rng.uniform(size=(200, 1)) < 0.3, 0, rng.poisson(3.0, (200, 1)))
    fitted = emkit.MixtureModel([emkit.Poisson(rate=0.0), emkit.Poisson()], random_state=0)
    fitted.fit(counts)
    assert fitted.weights_[0] > 0.1
    binary = rng.integers(0, 2, (200, 1))
    emkit.MixtureModel([emkit.Bernoulli(probs=[1.0]), emkit.Bernoulli()], random_state=0).fit(
        binary
    )


# ---- sample(n_samples) takes whole numbers ----------------------------------------------


@pytest.mark.parametrize("n_samples", [2.9, 2.5, True, "3", np.float64(3.0), 0, -1])
@pytest.mark.parametrize("kind", ["gaussian", "mixture", "zip"])
def test_sample_refuses_a_count_that_is_not_a_whole_number(kind, n_samples):
    # sample(2.9) drew 2 rows (numpy's multinomial truncates), sample(True) 1, and
    # sample("3") raised a bare TypeError from the comparison.
    x = np.abs(np.round(blobs(60)))
    model = {
        "gaussian": lambda: emkit.GaussianMixture(2, random_state=0).fit(x),
        "mixture": lambda: emkit.MixtureModel([emkit.Poisson()] * 2, random_state=0).fit(x),
        "zip": lambda: emkit.ZeroInflatedPoisson(random_state=0).fit(x[:, :1]),
    }[kind]()
    with pytest.raises(ValueError, match="n_samples must be an integer of at least 1") as e:
        model.sample(n_samples)
    assert str(e.value).endswith(f"got {n_samples!r}")
    rows, labels = model.sample(np.int64(3))
    assert rows.shape[0] == labels.shape[0] == 3


# ---- GenerativeClassifier.score with rows that do not pair ------------------------------


def test_classifier_score_on_semi_supervised_labels_refuses_lengths_that_differ():
    # with unlabelled rows (-1) in y, score masked the predictions with y's rows: an X, y
    # or sample_weight of another length raised numpy's bare IndexError ("boolean index did
    # not match indexed array"), where fully labelled y gets scikit-learn's message.
    x = blobs(60)
    y = np.repeat([0, 1], 30)
    model = emkit.GenerativeClassifier().fit(x, y)
    semi = y.copy()
    semi[:10] = -1
    w = np.linspace(0.5, 2.0, 60)
    inconsistent = "Found input variables with inconsistent numbers of samples"
    for args in [(x, semi[:50]), (x[:50], semi), (x, semi, w[:10]), (x, y, w[:10])]:
        with pytest.raises(ValueError, match=inconsistent):
            model.score(*args)
    from sklearn.metrics import accuracy_score

    expected = accuracy_score(y[10:], model.predict(x[10:]), sample_weight=w[10:])
    assert model.score(x, semi, w) == expected


# ---- NaN refused in the same words on a device --------------------------------------------


def test_a_tensor_with_nan_is_refused_in_the_words_of_an_array():
    # KMeans with device= said "drop or impute them before fitting", from predict too; the
    # NumPy path says what to do in every method: "this estimator needs complete rows: ..."
    torch = pytest.importorskip("torch")
    x = blobs(60)
    rows = np.r_[x[:3], [[np.nan, 1.0]]]
    on_host = emkit.KMeans(2, random_state=0).fit(x)
    on_device = emkit.KMeans(2, random_state=0, device="cpu").fit(torch.tensor(x))
    for method in ("predict", "transform", "score"):
        with pytest.raises(ValueError) as host:
            getattr(on_host, method)(rows)
        with pytest.raises(ValueError) as device:
            getattr(on_device, method)(torch.tensor(rows))
        assert str(device.value) == str(host.value)
        assert "before fitting" not in str(device.value)
    with pytest.raises(ValueError) as host:
        emkit.KMeans(2, random_state=0).fit(rows)
    with pytest.raises(ValueError) as device:
        emkit.KMeans(2, random_state=0, device="cpu").fit(torch.tensor(rows))
    assert str(device.value) == str(host.value)
