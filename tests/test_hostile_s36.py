"""A hostile user's probes (session 36): each reproduces a defect that was found, and now
passes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emkit

# ---- pandas rows paired by their index, not by position -----------------------------------


def _frame(n=40, seed=0):
    """X (n, 2) indexed 100.., and labels, a response and weights of the same index."""
    rng = np.random.default_rng(seed)
    a = np.r_[rng.normal(0, 1, n // 2), rng.normal(6, 1, n - n // 2)]
    x = pd.DataFrame({"a": a, "b": rng.normal(size=n)}, index=pd.RangeIndex(100, 100 + n))
    return {
        "X": x,
        "y": pd.Series(np.repeat([0, 1], [n // 2, n - n // 2]), index=x.index),
        "labels": pd.Series(np.repeat([0, -1, 1], [5, n - 10, 5]), index=x.index),
        "response": 2 * x["a"] + rng.normal(size=n),
        "sample_weight": pd.Series(rng.uniform(0.5, 2.0, n), index=x.index),
    }


GM = emkit.GaussianMixture(2, random_state=0)
MM = emkit.MixtureModel([emkit.Normal(), emkit.Normal()], random_state=0)
KM = emkit.KMeans(2, random_state=0)
GC = emkit.GenerativeClassifier()
MR = emkit.MixtureOfRegressions(2, random_state=0)
ZIP = emkit.ZeroInflatedPoisson(random_state=0)
IMP = emkit.GaussianImputer()
BM = emkit.BayesianMixture(2, chains=1, draws=20, tune=10, random_state=0)

# (estimator, fitted first on (X, target) or not, method, the target, the argument moved)
CASES = {
    "gm-fit": (GM, None, "fit", None, "sample_weight"),
    "gm-fit_predict": (GM, None, "fit_predict", None, "sample_weight"),
    "gm-score": (GM, "X", "score", None, "sample_weight"),
    "gm-bic": (GM, "X", "bic", None, "sample_weight"),
    "gm-aic": (GM, "X", "aic", None, "sample_weight"),
    "gm-icl": (GM, "X", "icl", None, "sample_weight"),
    "mm-fit": (MM, None, "fit", None, "sample_weight"),
    "mm-score": (MM, "X", "score", None, "sample_weight"),
    "km-fit": (KM, None, "fit", None, "sample_weight"),
    "km-score": (KM, "X", "score", None, "sample_weight"),
    "gc-fit-w": (GC, None, "fit", "y", "sample_weight"),
    "gc-score": (GC, "X", "score", "y", "sample_weight"),
    "gc-bic": (GC, "X", "bic", "y", "sample_weight"),
    "mr-fit-w": (MR, None, "fit", "response", "sample_weight"),
    "mr-score": (MR, "X", "score", "response", "sample_weight"),
    "mr-bic": (MR, "X", "bic", "response", "sample_weight"),
    "zip-fit": (ZIP, None, "fit", None, "sample_weight"),
    "imputer-fit": (IMP, None, "fit", None, "sample_weight"),
    "bayes-fit": (BM, None, "fit", "labels", "labels"),
}


def _rows(estimator, x):
    if estimator in (MM, ZIP):
        x = x[["a"]] if isinstance(x, pd.DataFrame) else x[:, :1]
    return np.round(np.abs(x)) if estimator is ZIP else x


def _model(estimator, fitted_on, target, arrays=False):
    """A clone of ``estimator``, fitted first (where asked) on _frame() (as arrays)."""
    from sklearn.base import clone

    model = clone(estimator)
    if fitted_on:
        rows = {k: v.to_numpy() if arrays else v for k, v in _frame().items()}
        model.fit(_rows(estimator, rows["X"]), *([] if target is None else [rows[target]]))
    return model


def _call(model, estimator, method, target, data):
    """``method`` of ``model`` on ``data``."""
    x = _rows(estimator, data["X"])
    args = [] if target in (None, "labels") else [data[target]]
    kwargs = {"labels": data["labels"]} if target == "labels" else {}
    if method in ("fit", "fit_predict", "score", "bic", "aic", "icl") and target != "labels":
        kwargs["sample_weight"] = data["sample_weight"]
    return getattr(model, method)(x, *args, **kwargs)


@pytest.mark.parametrize("case", list(CASES))
def test_pandas_rows_whose_indexes_differ_are_refused_as_by_mle(case):
    # a pandas X was paired with a pandas y or sample_weight by position, the same rows in
    # another order included, where emkit.mle and the Dask path refuse them
    estimator, fitted_on, method, target, moved = CASES[case]
    moved = moved or target
    data = _frame()
    model = _model(estimator, fitted_on, target)
    shuffled = data["X"].index[np.random.default_rng(1).permutation(40)]
    name = "y" if moved == "response" else moved
    for other in ("order", "labels"):
        given = dict(data)
        given[moved] = (
            data[moved].loc[shuffled] if other == "order" else data[moved].set_axis(range(40))
        )
        with pytest.raises(ValueError, match="pandas objects whose indexes differ") as e:
            _call(model, estimator, method, target, given)
        said = str(e.value)
        assert said.startswith(f"{type(estimator).__name__}.{method}: X and {name} ")
        advice = (
            f"align them first (e.g. {name} = {name}.loc[X.index]), or pass arrays"
            if other == "order"
            else f"pass {name}.to_numpy()"
        )
        assert advice in said
    # equal indexes keep working: the same rows realigned give what arrays give
    realigned = dict(data)
    realigned[moved] = data[moved].loc[shuffled].loc[data["X"].index]
    got = _call(model, estimator, method, target, realigned)
    if method != "fit":
        arrays = {k: v.to_numpy() for k, v in data.items()}
        expected = _call(
            _model(estimator, fitted_on, target, True), estimator, method, target, arrays
        )
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


def test_pandas_rows_of_another_length_keep_the_length_message():
    data = _frame()
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        emkit.GenerativeClassifier().fit(data["X"], data["y"].iloc[:-1])


# ---- booleans given as starting values ----------------------------------------------------


def _blobs(n=40, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return np.r_[rng.normal(0, 1, (n // 2, d)), rng.normal(6, 1, (n - n // 2, d))]


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("weights_init", lambda: emkit.GaussianMixture(2, weights_init=[True, False])),
        ("weights_init", lambda: emkit.GaussianMixture(2, weights_init=np.array([True, False]))),
        ("means_init", lambda: emkit.GaussianMixture(2, means_init=[[True, 0.5], [0.0, 6.0]])),
        (
            "precisions_init",
            lambda: emkit.GaussianMixture(
                2, covariance_type="spherical", precisions_init=[True, 1]
            ),
        ),
        (
            "precisions_init",
            lambda: emkit.GaussianMixture(
                2, covariance_type="diag", precisions_init=np.ones((2, 2), dtype=bool)
            ),
        ),
        ("init", lambda: emkit.KMeans(2, init=[[True, False], [False, True]])),
        ("init", lambda: emkit.KMeans(2, init=lambda x, k, random_state: x[:k] > 0)),
    ],
)
def test_boolean_starting_values_are_refused(name, make):
    # GaussianMixture(weights_init=[True, False]) started from weights [1, 0], and KMeans
    # from centres of 0 and 1, without a word
    with pytest.raises(ValueError, match=rf"^{name} holds booleans \(True/False\)") as e:
        make().fit(_blobs())
    assert "give it as numbers" in str(e.value)
    assert np.asarray(True, dtype=np.float64) == 1.0  # what the conversion made of them


@pytest.mark.parametrize(
    ("family", "params", "name"),
    [
        (emkit.Normal, {"mean": True}, "Normal mean"),
        (emkit.Normal, {"mean": [0.0], "variance": np.array([True])}, "Normal variance"),
        (emkit.Poisson, {"rate": [True]}, "Poisson rate"),
        (emkit.Bernoulli, {"probs": [True]}, "Bernoulli probs"),
        (emkit.Categorical, {"probs": [[True, False]]}, "Categorical probs"),
        (emkit.PointMass, {"value": True}, "PointMass value"),
        (emkit.LinearGaussian, {"coef": [True]}, "LinearGaussian coef"),
    ],
)
def test_boolean_family_parameters_are_refused(family, params, name):
    with pytest.raises(ValueError, match=rf"^{name} holds booleans \(True/False\)"):
        family(**params)
    numbers = {k: np.asarray(v, dtype=float) for k, v in params.items()}
    family(**numbers)  # the same values as numbers are taken


def test_numeric_starting_values_still_fit_as_given():
    x = _blobs()
    given = emkit.GaussianMixture(2, weights_init=[0.5, 0.5], means_init=[[0.0, 0.0], [6, 6]])
    assert given.fit(x).converged_
    ints = emkit.KMeans(2, init=np.array([[0, 0], [6, 6]])).fit(x)
    np.testing.assert_allclose(
        np.sort(ints.cluster_centers_[:, 0]), [x[:20, 0].mean(), x[20:, 0].mean()]
    )


# ---- an empty name in a comma list of columns ---------------------------------------------


@pytest.mark.parametrize(
    ("spec", "position", "of"),
    [(",a", 1, 2), ("a,,b", 2, 3), ("a,b,", 3, 3), ("a, ,b", 2, 3)],
)
def test_an_empty_column_name_is_refused_naming_its_position(tmp_path, spec, position, of):
    # `emkit fit --columns ,a` fitted column a alone, the stray comma dropped without a word
    from cli_run import run_main

    rng = np.random.default_rng(0)
    path = tmp_path / "d.csv"
    pd.DataFrame(rng.normal(size=(30, 3)), columns=["a", "b", "c"]).to_csv(path, index=False)
    assert (
        run_main(["fit", path, "--out", tmp_path / "m", "-k", "1", "--quiet", "--no-report"])[0]
        == 0
    )
    model = tmp_path / "m" / "model.json"
    fast = ["-k", "1", "--quiet", "--no-report"]
    commands = [
        (["fit", path, "--columns", spec, "--out", tmp_path / "f", *fast], "--columns"),
        (["fit", path, "--exclude", spec, "--out", tmp_path / "f", *fast], "--exclude"),
        (["predict", model, path, "--columns", spec], "--columns"),
        (["mle", "multivariate_normal", path, "--columns", spec], "--columns"),
        (["mle", "linear", path, "--y", "c", "--x", spec], "--x"),
    ]
    for argv, flag in commands:
        status, out, err = run_main(argv)
        assert status == 2, (argv, err)
        assert out == ""
        said = f"emkit: error: {flag} {spec!r} has an empty name at position {position} of {of}"
        assert err.startswith(said), err
        assert "remove the stray comma" in err
    assert not (tmp_path / "f").exists()
    # the list without the stray comma is read
    names = ",".join(n for n in spec.replace(" ", "").split(",") if n)
    status, _, err = run_main(["mle", "multivariate_normal", path, "--columns", names])
    assert status == 0, err


# ---- emkit mle on integers that float64 cannot hold exactly -------------------------------


@pytest.mark.parametrize(
    ("values", "example", "stored"),
    [
        # beyond int64: pandas reads the column as text, and mle called it "not numeric"
        (
            ["12345678901234567890123456", "22345678901234567890123456", "3"],
            "12345678901234567890123456",
            int(float(12345678901234567890123456)),
        ),
        # int64 beyond 2**53: mle estimated the rounded values ("normal needs values that
        # are not all equal", a Poisson rate from them) without a word
        ([str(2**60 + 1), str(2**60 + 3), str(2**60 + 14)], str(2**60 + 1), 2**60),
    ],
    ids=["beyond-int64", "int64"],
)
def test_mle_explains_integers_beyond_2_53_as_fit_does(tmp_path, values, example, stored):
    from cli_run import run_main

    path = tmp_path / "big.csv"
    pd.DataFrame({"a": values, "b": [1.0, 2.5, 3.0]}).to_csv(path, index=False)
    beyond = (
        f"emkit: error: {path}: column 'a' holds 3 integer(s) beyond 2**53 that float64 "
        f"cannot hold exactly (such as {example}, which float64 stores as {stored}): they "
        "would round to 16 significant digits"
    )
    if values[-1] == "3":
        beyond = beyond.replace("holds 3 integer(s)", "holds 2 integer(s)")
    status, _, fit_err = run_main(
        [
            "fit",
            path,
            "--columns",
            "a",
            "-k",
            "1",
            "--quiet",
            "--no-report",
            "--out",
            tmp_path / "o",
        ]
    )
    assert status == 2 and fit_err.startswith(beyond), fit_err
    commands = [
        ["mle", "normal", path, "--column", "a"],
        ["mle", "poisson", path, "--column", "a"],
        ["mle", "multivariate_normal", path],
        ["mle", "multivariate_normal", path, "--columns", "a,b"],
        ["mle", "linear", path, "--y", "b", "--x", "a"],
        ["mle", "linear", path, "--formula", "b ~ a"],
    ]
    for argv in commands:
        status, out, err = run_main(argv)
        assert status == 2, (argv, out, err)
        assert err.startswith(beyond), (argv, err)
        assert "If it names rows, it is no variable to estimate: choose another column" in err
        assert "subtract a common integer offset" in err
    # the file's other column is estimated (only the column that would round is refused)
    status, out, err = run_main(["mle", "normal", path, "--column", "b"])
    assert status == 0, err
    assert "mean" in out


# ---- emkit mle on a header with a repeated name -------------------------------------------


def test_mle_notes_a_repeated_column_name_as_fit_does(tmp_path):
    # `a,a`: pandas reads the second as 'a.1'; `emkit fit` says so, `emkit mle normal
    # --column a` estimated the first 'a' without a word
    from cli_run import run_main

    path = tmp_path / "dup.csv"
    path.write_text("a,a\n1,20\n3,40\n5,60\n7,85\n")
    said = "emkit: the header has empty or repeated column names; read 'a' as 'a.1'"
    _, _, fit_err = run_main(
        ["fit", path, "-k", "1", "--quiet", "--no-report", "--out", tmp_path / "o"]
    )
    assert said in fit_err
    for column, mean in (("a", 4.0), ("a.1", 51.25)):
        status, out, err = run_main(["mle", "normal", path, "--column", column])
        assert status == 0, err
        assert err.startswith(said), err
        assert f"mean {mean:10.4f}".replace(" ", "") in out.replace(" ", "")
    plain = tmp_path / "plain.csv"
    plain.write_text("a,b\n1,20\n3,40\n5,60\n7,85\n")
    assert run_main(["mle", "normal", plain, "--column", "a"])[2] == ""


def test_mle_names_its_own_flags_for_a_renamed_column(tmp_path):
    # the note said "name them so in --columns", a flag `emkit mle normal` has not: its
    # column is --column
    from cli_run import run_main

    path = tmp_path / "dup.csv"
    path.write_text("a,a\n1,20\n3,40\n5,60\n7,85\n")
    err = run_main(["mle", "normal", path, "--column", "a.1"])[2]
    assert "(name them so in --column, --columns, --y, --x or --formula)" in err, err
    assert "(name them so in --columns)" not in err


# ---- sample weights that leave nothing to fit, or count a row negatively ------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: emkit.GaussianMixture(2, random_state=0),
        lambda: emkit.KMeans(2, random_state=0),
        lambda: emkit.GaussianImputer(),
        lambda: emkit.GenerativeClassifier(),
    ],
    ids=["gm", "kmeans", "imputer", "classifier"],
)
def test_bad_sample_weights_say_which_and_what_to_do(make):
    # scikit-learn's "Negative values in data passed to `sample_weight`." said neither which
    # weights nor what to do, and "must contain at least one non-zero number" no remedy
    x = _blobs()
    y = np.repeat([0, 1], 20)
    args = (x, y) if isinstance(make(), emkit.GenerativeClassifier) else (x,)
    weights = np.ones(40)
    weights[[3, 7]] = [-0.5, -2.0]
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`") as e:
        make().fit(*args, sample_weight=weights)
    assert "2 of 40 weight(s) negative (such as -0.5, row 3)" in str(e.value)
    assert "set them to 0 to leave their rows out" in str(e.value)
    with pytest.raises(ValueError, match="at least one non-zero number") as e:
        make().fit(*args, sample_weight=np.zeros(40))
    assert "give the rows to fit a positive weight" in str(e.value)
    # the advice works: weights of 0 leave their rows out, as if they were not given
    weights[[3, 7]] = 0.0
    kept = np.ones(40, dtype=bool)
    kept[[3, 7]] = False
    if not isinstance(make(), emkit.GenerativeClassifier):
        a = make().fit(*args, sample_weight=weights)
        b = make().fit(x[kept])
        assert a.score(x[kept]) == pytest.approx(b.score(x[kept]), rel=1e-9)


# ---- emkit mle nonlinear --start with a nameless or repeated parameter --------------------


def test_mle_start_refuses_a_nameless_or_repeated_parameter(tmp_path):
    # "--start =1" said "--start names , which the formula does not use", and
    # "--start c=1,c=5" started from c = 5 without a word
    from cli_run import run_main

    rng = np.random.default_rng(0)
    a = rng.uniform(1, 5, 30)
    path = tmp_path / "d.csv"
    pd.DataFrame({"a": a, "b": 2.0 * a + rng.normal(0, 0.1, 30)}).to_csv(path, index=False)
    base = ["mle", "nonlinear", path, "--formula", "b ~ c * a"]
    for start, said in [
        ("=1", "--start '=1': write name=value pairs, e.g. a=1,k=0.5"),
        ("c=1,=2", "--start 'c=1,=2': write name=value pairs"),
        ("c=1,c=5", "--start 'c=1,c=5' gives c twice: give each one value"),
    ]:
        status, out, err = run_main([*base, "--start", start])
        assert status == 2 and out == ""
        assert err.startswith(f"emkit: error: {said}"), err
    status, out, err = run_main([*base, "--start", "c=1"])
    assert status == 0, err


# ---- a Parquet file with two columns of one name ------------------------------------------


def test_a_parquet_file_repeating_a_column_name_is_refused_saying_so(tmp_path):
    # every command said "cannot be read as a table (Multiple matches for FieldRef.Name(a)
    # in a: double a: double __fragment_index: int32 ...)", pyarrow's dump of its scan
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cli_run import run_main

    x = np.random.default_rng(0).normal(size=(30, 3))
    path = tmp_path / "dup.parquet"
    pq.write_table(pa.table([x[:, 0], x[:, 1], x[:, 2]], names=["a", "b", "a"]), path)
    said = (
        f"emkit: error: {path}: the Parquet file has more than one column named a; columns are "
        "read by name: write the file with unique column names"
    )
    for argv in (
        ["fit", path, "-k", "1", "--quiet", "--no-report", "--out", tmp_path / "o"],
        ["mle", "normal", path, "--column", "b"],
    ):
        status, out, err = run_main(argv)
        assert status == 2 and out == ""
        assert err.startswith(said), err
    # the advice works
    pq.write_table(pa.table([x[:, 0], x[:, 1], x[:, 2]], names=["a", "b", "a2"]), path)
    status, _, err = run_main(["mle", "normal", path, "--column", "b"])
    assert status == 0, err


# ---- a DataFrame with two columns of one name ---------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: emkit.GaussianMixture(1),
        lambda: emkit.KMeans(2, random_state=0),
        lambda: emkit.GaussianImputer(),
        lambda: emkit.MixtureModel([emkit.Normal()] * 2, random_state=0),
    ],
    ids=["gm", "kmeans", "imputer", "mixture"],
)
def test_a_dataframe_repeating_a_column_name_is_refused_saying_what_to_do(make):
    # narwhals' "Expected unique column names, got: - 'a' 2 times" said nothing to do
    x = pd.DataFrame(_blobs(40, 3), columns=["a", "b", "a"])
    with pytest.raises(ValueError, match=r"^X has more than one column named 'a'; ") as e:
        make().fit(x)
    assert "X.loc[:, ~X.columns.duplicated()]" in str(e.value)
    kept = x.loc[:, ~x.columns.duplicated()]
    assert list(make().fit(kept).feature_names_in_) == ["a", "b"]


def test_repeated_integer_column_names_are_named_as_they_are():
    # pd.concat of two frames of default names: columns 0, 1, 0, 1, were called '0', '1'
    x = pd.concat([pd.DataFrame(_blobs(40, 2)), pd.DataFrame(_blobs(40, 2, seed=1))], axis=1)
    with pytest.raises(ValueError, match=r"^X has more than one column named 0, 1; "):
        emkit.GaussianMixture(1).fit(x)
