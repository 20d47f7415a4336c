"""``emkit fit`` / ``predict`` on the files people have: ids, text columns, semicolons and
decimal commas, NaN, constant and boolean columns, too many components, warnings, --help."""

import contextlib
import io
import itertools
import json
import re
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import emkit
from cli_run import run_main
from emkit.cli import main
from emkit.cli.capping import cap
from emkit.cli.fit import probability_table
from emkit.cli.table import read_raw, sniff


def two_clusters(n: int = 80, seed: int = 0) -> pd.DataFrame:
    """Two separated clusters in three numeric columns, with an id and a species column."""
    rng = np.random.default_rng(seed)
    group = np.arange(n) % 2
    values = rng.normal(size=(n, 3)) + 6.0 * group[:, None]
    frame = pd.DataFrame(values.round(3), columns=["length", "width", "depth"])
    frame.insert(0, "id", [f"s{i:03d}" for i in range(n)])
    frame["species"] = np.where(group == 1, "virginica", "setosa")
    return frame


FAST = ["-k", "1-2", "--covariance", "tied,full", "--quiet", "--no-report"]


@pytest.fixture
def european(tmp_path):
    """A CSV with an id, a species column, semicolons, decimal commas and some NaN."""
    frame = two_clusters()
    frame.loc[[3, 10, 41], "width"] = np.nan
    frame.loc[[7], "depth"] = np.nan
    path = tmp_path / "samples.csv"
    frame.to_csv(path, sep=";", decimal=",", index=False)
    return path, frame


def test_sniff_delimiter_and_decimal_mark(tmp_path, european):
    path, frame = european
    assert "6,105;" in path.read_text()
    assert sniff(path) == (";", ",")
    tsv = tmp_path / "t.tsv"
    frame.to_csv(tsv, sep="\t", index=False)
    assert sniff(tsv) == ("\t", ".")
    comma = tmp_path / "c.csv"
    frame.to_csv(comma, index=False)
    assert sniff(comma) == (",", ".")
    for file in (path, tsv, comma):
        pd.testing.assert_frame_equal(read_raw(file), frame)
    # given explicitly, the flags win over detection
    assert not pd.api.types.is_numeric_dtype(read_raw(path, sep=";", decimal=".")["length"])


def test_acceptance_european_csv_with_ids_and_nan(tmp_path, european):
    path, frame = european
    out = tmp_path / "out"
    status, text, err = run_main(["fit", path, "--missing", "em", "--out", out, *FAST])
    assert status == 0, err
    assert "skipped 1 non-numeric column: species (text)" in err
    assert "id column 'id'" in err
    assert "Traceback" not in err and "Warning:" not in err
    assigned = pd.read_csv(out / "assignments.csv")
    assert list(assigned.columns[:4]) == ["id", "length", "width", "depth"]
    assert assigned["id"].tolist() == frame["id"].tolist()
    # the two clusters are found, rows with NaN included
    truth = (frame["species"] == "virginica").to_numpy()
    labels = assigned["label"].to_numpy()
    assert len(set(zip(truth, labels, strict=True))) == 2
    # a new file: columns in another order, rows shuffled, still semicolons and commas
    new = frame[["species", "depth", "id", "width", "length"]].sample(frac=1.0, random_state=1)
    new_path = tmp_path / "new.csv"
    new.to_csv(new_path, sep=";", decimal=",", index=False)
    status, text, err = run_main(["predict", out / "model.json", new_path, "--missing", "em"])
    assert status == 0, err
    predicted = pd.read_csv(io.StringIO(text))
    assert list(predicted.columns[:2]) == ["id", "label"]
    merged = predicted.merge(assigned, on="id", suffixes=("_new", "_fit"))
    assert len(merged) == len(frame)
    np.testing.assert_array_equal(merged["label_new"], merged["label_fit"])
    np.testing.assert_allclose(merged["p0_new"], merged["p0_fit"], rtol=1e-9, atol=1e-12)


def test_nan_without_missing_em_says_what_to_do(european, tmp_path):
    path, _ = european
    status, _, err = run_main(["fit", path, "--out", tmp_path / "o", *FAST])
    assert status == 2
    assert "column 'width' has 3 missing (NaN)" in err and "--missing em" in err


def test_predict_with_model_files_of_every_mixture_and_kmeans(tmp_path, faithful):
    """emkit predict on files saved by MixtureModel, ZeroInflatedPoisson, KMeans and
    BayesianMixture (fitted on DataFrames): the posteriors, or for k-means the distances to
    the centres, and no warning about feature names (the model reads the file's columns by
    its own names)."""
    frame = pd.DataFrame(faithful, columns=["eruptions", "waiting"])
    frame["count"] = np.round(frame["waiting"] / 10.0) * (frame["eruptions"] > 3)
    data = tmp_path / "f.csv"
    frame.to_csv(data, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fits' own convergence notes
        models = {
            "mm": emkit.MixtureModel(random_state=0).fit(frame[["eruptions", "waiting"]]),
            "zip": emkit.ZeroInflatedPoisson().fit(frame[["count"]]),
            "km": emkit.KMeans(3, random_state=0).fit(frame[["eruptions", "waiting"]]),
            "bm": emkit.BayesianMixture(2, chains=2, draws=50, tune=20, random_state=0).fit(
                frame[["eruptions", "waiting"]]
            ),
        }
    # a classifier's rows get its classes; models that need more than X are refused
    classes = np.where(frame["eruptions"] > 3, "long", "short")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        emkit.GenerativeClassifier().fit(frame[["waiting"]], classes).save(tmp_path / "gc.json")
        imputer = emkit.GaussianImputer().fit(frame[["eruptions", "waiting"]])
    status, text, err = run_main(["predict", tmp_path / "gc.json", data])
    assert status == 0, err
    got = pd.read_csv(io.StringIO(text))
    assert list(got.columns) == ["label", "probability", "p_long", "p_short"]
    assert set(got["label"]) == {"long", "short"}
    imputer.save(tmp_path / "imp.json")
    status, _, err = run_main(["predict", tmp_path / "imp.json", data])
    assert status == 2 and "a GaussianImputer model is used from Python" in err
    for name, model in models.items():
        model.save(tmp_path / f"{name}.json")
        status, text, err = run_main(["predict", tmp_path / f"{name}.json", data])
        assert status == 0 and "feature names" not in err, err
        got = pd.read_csv(io.StringIO(text))
        x = frame[list(model.feature_names_in_)]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no feature-name warning in the API either
            if name == "km":
                dist = model.transform(x)
                np.testing.assert_allclose(got[["d0", "d1", "d2"]], dist, rtol=1e-12)
                np.testing.assert_array_equal(got["label"], model.predict(x))
                np.testing.assert_allclose(got["distance"], dist.min(axis=1), rtol=1e-12)
            else:
                proba = model.predict_proba(x)
                np.testing.assert_allclose(got[["p0", "p1"]], proba, rtol=1e-12)
                np.testing.assert_array_equal(got["label"], model.predict(x))


def test_predict_missing_em_integrates_out_the_missing_value(tmp_path, faithful):
    """p(k | eruptions only) under the fitted mixture, by hand with scipy.stats.norm."""
    data = tmp_path / "f.csv"
    pd.DataFrame(faithful, columns=["eruptions", "waiting"]).to_csv(data, index=False)
    status, _, err = run_main(
        [
            "fit",
            data,
            "-k",
            "2",
            "--covariance",
            "full",
            "--out",
            tmp_path / "o",
            "--quiet",
            "--no-report",
        ]
    )
    assert status == 0, err
    model = emkit.load(tmp_path / "o" / "model.json")
    rows = pd.DataFrame({"waiting": [np.nan, 80.0], "eruptions": [2.0, np.nan]})
    rows.to_csv(tmp_path / "new.csv", index=False)
    status, text, err = run_main(
        ["predict", tmp_path / "o" / "model.json", tmp_path / "new.csv", "--missing", "em"]
    )
    assert status == 0, err
    proba = pd.read_csv(io.StringIO(text))[["p0", "p1"]].to_numpy()
    for row, (j, value) in enumerate([(0, 2.0), (1, 80.0)]):
        sd = np.sqrt(model.covariances_[:, j, j])
        joint = model.weights_ * stats.norm.pdf(value, model.means_[:, j], sd)
        np.testing.assert_allclose(proba[row], joint / joint.sum(), rtol=1e-9)
    status, _, err = run_main(["predict", tmp_path / "o" / "model.json", tmp_path / "new.csv"])
    assert status == 2 and "--missing em" in err


def test_predict_missing_em_gives_a_row_with_no_value_the_prior(tmp_path, faithful):
    """A row with no value keeps its line, with the model's weights (a classifier's priors)
    as its probabilities, as predict_proba gives them, and a note; a fit refuses it, as
    GaussianMixture.fit does (it carries no information there)."""
    frame = pd.DataFrame(faithful, columns=["eruptions", "waiting"])
    data = tmp_path / "f.csv"
    frame.to_csv(data, index=False)
    fit = ["fit", data, "-k", "2", "--covariance", "full", "--quiet", "--no-report"]
    status, _, err = run_main([*fit, "--out", tmp_path / "o"])
    assert status == 0, err
    mixture = emkit.load(tmp_path / "o" / "model.json").set_params(missing="em")  # as --missing em
    classifier = emkit.GenerativeClassifier(missing="em").fit(frame, frame["eruptions"] > 3)
    classifier.save(tmp_path / "gc.json")
    rows = pd.DataFrame({"eruptions": [2.0, np.nan, np.nan], "waiting": [np.nan, np.nan, 80.0]})
    rows.to_csv(tmp_path / "new.csv", index=False)
    answers = []
    for model, file, prior in (
        (mixture, tmp_path / "o" / "model.json", mixture.weights_),
        (classifier, tmp_path / "gc.json", classifier.priors_),
    ):
        status, text, err = run_main(["predict", file, tmp_path / "new.csv", "--missing", "em"])
        assert status == 0, err
        assert "1 rows have no value in any column used (the first is data row 2)" in err
        proba = pd.read_csv(io.StringIO(text)).iloc[:, 2:].to_numpy()
        assert proba.shape == (3, 2)
        np.testing.assert_allclose(proba[1], prior, rtol=1e-12)
        np.testing.assert_allclose(proba, model.predict_proba(rows), rtol=1e-12)
        answers.append(proba)
    # p(k | eruptions = 2) of the first row, by hand with scipy.stats.norm
    sd = np.sqrt(mixture.covariances_[:, 0, 0])
    joint = mixture.weights_ * stats.norm.pdf(2.0, mixture.means_[:, 0], sd)
    np.testing.assert_allclose(answers[0][0], joint / joint.sum(), rtol=1e-9)
    frame.loc[4] = np.nan
    frame.to_csv(data, index=False)
    status, _, err = run_main([*fit, "--missing", "em", "--out", tmp_path / "o2"])
    assert (
        status == 2 and "1 rows have no value in any column used (the first is data row 5)" in err
    )
    assert "carry no information for the fit: drop them first" in err
    with pytest.raises(ValueError, match="1 of 272 rows have no observed value"):
        emkit.GaussianMixture(2, missing="em").fit(frame)


def count_models(tmp_path) -> dict:
    """ZeroInflatedPoisson, Poisson-mixture and KMeans files fitted on counts in column a."""
    counts = pd.DataFrame({"a": [0, 1, 2, 0, 3] * 20})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fits' own convergence notes
        models = {
            "zip": emkit.ZeroInflatedPoisson().fit(counts),
            "mm": emkit.MixtureModel([emkit.Poisson(), emkit.Poisson()]).fit(counts),
            "km": emkit.KMeans(2, random_state=0).fit(counts),
        }
    for name, model in models.items():
        model.save(tmp_path / f"{name}.json")
    return models


def test_predict_rows_outside_every_components_support_is_one_line(tmp_path):
    """Rows a count model cannot score are a data error (status 2) carrying the model's own
    message, not a traceback."""
    models = count_models(tmp_path)
    data = tmp_path / "ab.csv"
    data.write_text("a\n0.5\n1.2\n")
    for name in ("zip", "mm"):
        with pytest.raises(ValueError, match="outside the support") as raised:
            models[name].predict_proba(pd.read_csv(data))
        status, text, err = run_main(["predict", tmp_path / f"{name}.json", data])
        assert status == 2 and text == ""
        assert err.splitlines() == [f"emkit: error: {data}: {raised.value}"]


def test_predict_missing_em_is_refused_for_models_without_it(tmp_path):
    """KMeans, MixtureModel and ZeroInflatedPoisson have no E-step over missing entries:
    --missing em is refused, and NaN is an error that does not point to --missing em."""
    count_models(tmp_path)
    data = tmp_path / "nan.csv"
    data.write_text("a\n1\nNA\n2\n")
    for name, kind in (("km", "KMeans"), ("mm", "MixtureModel"), ("zip", "ZeroInflatedPoisson")):
        model = tmp_path / f"{name}.json"
        status, _, err = run_main(["predict", model, data, "--missing", "em"])
        assert status == 2 and len(err.splitlines()) == 1, err
        assert f"--missing em: a {kind} model cannot score rows with missing values" in err
        status, _, err = run_main(["predict", model, data])
        assert status == 2 and len(err.splitlines()) == 1, err
        assert "column 'a' has 1 missing (NaN) value(s); the model cannot use rows" in err


def test_infinite_values_are_refused_saying_what_to_do(tmp_path):
    """fit, predict and mle refuse 'inf' (or 1e999) saying how many and what to do: the
    message stopped at "column 'b' has 1 infinite value(s)"."""
    count_models(tmp_path)
    data = tmp_path / "inf.csv"
    data.write_text("a,b\n1,2\ninf,3\n2,1e999\n3,4\n")
    for argv in (["fit", data, "--out", tmp_path / "o"], ["predict", tmp_path / "km.json", data]):
        status, _, err = run_main(argv)
        assert status == 2 and len(err.splitlines()) == 1, err
        assert "column 'a' has 1 infinite value(s) ('inf', or a number beyond" in err
        assert "correct those values or drop their rows" in err
    status, _, err = run_main(["mle", "normal", data, "--column", "b"])
    assert status == 2 and "has 1 infinite value(s); correct them or drop them first" in err


def test_exclude_columns_and_booleans(tmp_path):
    frame = two_clusters()
    frame["flag"] = frame["length"] > 3
    path = tmp_path / "b.csv"
    frame.to_csv(path, index=False)
    status, out, err = run_main(["fit", path, "--exclude", "depth", "--out", tmp_path / "o", *FAST])
    assert status == 0, err
    assert "species (text), flag (boolean)" in err
    assert "np.True_" not in err
    assert "2 columns (length, width)" in out
    status, out, err = run_main(
        ["fit", path, "--columns", "length,flag", "--out", tmp_path / "o2", *FAST]
    )
    assert status == 0, err
    model = json.loads((tmp_path / "o2" / "model.json").read_text())
    assert model["attributes"]["feature_names_in_"]["data"] == ["length", "flag"]
    assigned = pd.read_csv(tmp_path / "o2" / "assignments.csv")
    np.testing.assert_array_equal(assigned["flag"], frame["flag"].astype(float))


def test_date_and_duration_columns_of_parquet_are_named_as_such(tmp_path):
    # They were called "text", and --columns naming one said "not numeric (0 rows such as
    # '2020-01-01 00:00:00')": pandas converts every date to a number, so none counted as bad.
    # (A CSV's dates are text, as pandas reads them: "80 rows such as '2020-01-01'".)
    frame = two_clusters()
    frame["when"] = pd.date_range("2020-01-01", periods=len(frame))
    frame["took"] = pd.to_timedelta(np.arange(len(frame)), unit="s")
    path = tmp_path / "d.parquet"
    frame.to_parquet(path)
    status, out, err = run_main(["fit", path, "--out", tmp_path / "o", *FAST])
    assert status == 0, err
    assert "species (text), when (dates), took (durations)" in err
    assert "3 columns (length, width, depth)" in out
    for column, kind in [("when", "dates"), ("took", "durations")]:
        status, out, err = run_main(
            ["fit", path, "--columns", f"length,{column}", "--out", tmp_path / "o2", *FAST]
        )
        assert status == 2
        assert f"column '{column}' holds {kind}, not numbers; convert it to numbers" in err


def test_constant_column_is_named_and_left_out(tmp_path, faithful):
    """Old Faithful plus a constant column gives Old Faithful's answer, and says so."""
    frame = pd.DataFrame(faithful, columns=["eruptions", "waiting"])
    plain, constant = tmp_path / "plain.csv", tmp_path / "constant.csv"
    frame.to_csv(plain, index=False)
    frame.assign(site=7.0).to_csv(constant, index=False)
    args = ["-k", "2-3", "--covariance", "spherical,tied", "--quiet", "--no-report"]
    status, reference, _ = run_main(["fit", plain, "--out", tmp_path / "a", *args])
    assert status == 0
    status, out, err = run_main(["fit", constant, "--out", tmp_path / "b", *args])
    assert status == 0, err
    assert "left out 1 constant column (site = 7)" in err
    assert out.splitlines()[0] == reference.splitlines()[0]
    assert "degenerate" not in out.splitlines()[3]
    status, _, err = run_main(
        ["fit", constant, "--columns", "site", "--out", tmp_path / "c", *args]
    )
    assert status == 2 and "every column used is constant (site)" in err


def test_a_folder_of_parquet_files_is_one_table(tmp_path, faithful):
    """A Parquet data set as Spark or Dask write it (a folder of parts) reads as the table it
    holds."""
    frame = pd.DataFrame(faithful, columns=["eruptions", "waiting"])
    frame.to_csv(tmp_path / "whole.csv", index=False)
    (tmp_path / "parts").mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[rows].to_parquet(tmp_path / "parts" / f"part.{i}.parquet")
    args = ["-k", "2-3", "--covariance", "VVV", "--no-report"]
    status, reference, _ = run_main(["fit", tmp_path / "whole.csv", "--out", tmp_path / "a", *args])
    assert status == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # main's own filters apply inside it
        status, out, err = run_main(["fit", tmp_path / "parts", "--out", tmp_path / "b", *args])
    assert status == 0 and err == ""
    assert out.split("Wrote to")[0] == reference.split("Wrote to")[0]
    (tmp_path / "empty").mkdir()
    status, _, err = run_main(["fit", tmp_path / "empty", "--out", tmp_path / "c"])
    assert status == 2 and "a folder with no Parquet file in it" in err


@pytest.mark.parametrize("change", ["extra", "renamed"])
def test_a_folder_of_parquet_files_with_other_columns_is_refused(tmp_path, faithful, change):
    """pandas and Dask read a data set with its first file's columns: a later file's extra
    column was left out (`mle --column extra`: no such column), a renamed one filled with
    missing values (and with --missing em fitted as missing); with --workers a KeyError's
    traceback. Refused, naming the file and the columns."""
    from emkit.cli import cluster

    frame = pd.DataFrame(faithful, columns=["eruptions", "waiting"])
    later = frame.iloc[136:].copy()
    if change == "extra":
        later["extra"] = np.arange(len(later), dtype=float)
    else:
        later = later.rename(columns={"waiting": "wait"})
    (tmp_path / "parts").mkdir()
    frame.iloc[:136].to_parquet(tmp_path / "parts" / "part.0.parquet", index=False)
    later.to_parquet(tmp_path / "parts" / "part.1.parquet")  # with its index, as pandas writes
    how = "it has extra, which the first lacks" if change == "extra" else "it lacks waiting"
    expected = f"part.1.parquet differs from {tmp_path / 'parts' / 'part.0.parquet'} ({how}"
    for command in (
        ["fit", tmp_path / "parts", "--out", tmp_path / "out", "--missing", "em"],
        ["mle", "normal", tmp_path / "parts", "--column", "eruptions"],
    ):
        status, out, err = run_main(command)
        assert status == 2 and out == "" and expected in err, err
    assert not (tmp_path / "out").exists()
    for data in (str(tmp_path / "parts"), str(tmp_path / "parts" / "*.parquet")):
        with pytest.raises(emkit.DataError, match=re.escape(expected)):
            cluster.read(data)
    later.iloc[:, :2].set_axis(["waiting", "eruptions"], axis=1).to_parquet(
        tmp_path / "parts" / "part.1.parquet"
    )  # the same columns in another order: one table
    assert read_raw(tmp_path / "parts").shape == frame.shape


def test_parquet_index_is_a_column_and_its_names_are_not_a_header(tmp_path):
    """A named index pandas stored in a Parquet file is a column (as pyarrow lists it, and as
    the same frame written to CSV has it): --id finds it and the ids reach the output; a
    Parquet file's column names are metadata, so numeric-looking ones are not taken for a
    header row of data."""
    frame = two_clusters()[["length", "width"]]
    indexed = frame.set_index(pd.Index([f"r{i}" for i in range(len(frame))], name="rowid"))
    indexed.to_parquet(tmp_path / "p.parquet")
    indexed.to_csv(tmp_path / "p.csv")  # the index as its first column
    outputs = {}
    for name in ("p.csv", "p.parquet"):
        out = tmp_path / name.replace(".", "_")
        status, text, err = run_main(["fit", tmp_path / name, "--id", "rowid", "--out", out, *FAST])
        assert status == 0, err
        outputs[name] = text.split("Wrote to")[0], pd.read_csv(out / "assignments.csv")
        status, text, err = run_main(["predict", out / "model.json", tmp_path / name])
        assert status == 0, err
        assert pd.read_csv(io.StringIO(text))["rowid"].tolist() == indexed.index.tolist()
    assert outputs["p.parquet"][0] == outputs["p.csv"][0]
    pd.testing.assert_frame_equal(outputs["p.parquet"][1], outputs["p.csv"][1])
    assert outputs["p.parquet"][1]["rowid"].tolist() == indexed.index.tolist()

    numbered = frame.set_axis(["1", "2"], axis=1)
    numbered.to_parquet(tmp_path / "n.parquet")
    numbered.to_csv(tmp_path / "n.csv", index=False)
    status, reference, err = run_main(
        ["fit", tmp_path / "n.csv", "--columns", "1,2", "--out", tmp_path / "nc", *FAST]
    )
    assert status == 0, err
    status, text, err = run_main(["fit", tmp_path / "n.parquet", "--out", tmp_path / "np", *FAST])
    assert status == 0, err
    assert text.split("Wrote to")[0] == reference.split("Wrote to")[0]
    status, text, err = run_main(
        ["predict", tmp_path / "np" / "model.json", tmp_path / "n.parquet"]
    )
    assert status == 0, err
    predicted = pd.read_csv(io.StringIO(text))
    assigned = pd.read_csv(tmp_path / "np" / "assignments.csv")
    np.testing.assert_array_equal(predicted["label"], assigned["label"])


def test_the_grids_warnings_follow_the_summary(tmp_path):
    """`emkit demo` opened with a warning about fits at lower local maxima, before the result;
    now the summary comes first, then the warning, then the files written."""
    from importlib import resources

    data = resources.files("emkit").joinpath("data/faithful.csv")
    both = io.StringIO()  # stdout and stderr in the order a terminal shows them
    with contextlib.redirect_stdout(both), contextlib.redirect_stderr(both):
        status = main(
            ["fit", str(data), "--covariance", "tied", "-k", "1-6", "--no-report"]
            + ["--out", str(tmp_path / "out"), "--quiet"]
        )
    assert status == 0
    lines = both.getvalue().splitlines()
    warned = [i for i, line in enumerate(lines) if "lower local maximum" in line]
    # From mclust's start, EEE with 5 components ends below 4 and 3, in mclust too:
    # Mclust(faithful, G = 5, modelNames = "EEE") has log L -1132.68, G = 4 -1126.37.
    assert len(warned) == 1 and "(tied K=5)" in lines[warned[0]]
    assert lines[0].startswith("Gaussian mixture, 3 components")
    top = lines.index("Top 3 models by BIC:")
    wrote = next(i for i, line in enumerate(lines) if line.startswith("Wrote to"))
    assert top < warned[0] < wrote


def test_components_capped_at_what_the_data_identify(tmp_path, faithful):
    path = tmp_path / "small.csv"
    pd.DataFrame(faithful[:30], columns=["eruptions", "waiting"]).to_csv(path, index=False)
    status, out, err = run_main(
        [
            "fit",
            path,
            "-k",
            "1-200",
            "--covariance",
            "full,spherical",
            "--out",
            tmp_path / "o",
            "--quiet",
            "--no-report",
        ]
    )
    assert status == 0, err
    assert "-k capped" in err and "60 numbers" in err
    # full: K - 1 + 2K + 3K = 6K - 1 < 60  ->  K <= 10
    assert cap("full", 2, 60, 30) == 10
    assert cap("spherical", 2, 60, 30) == 15  # 4K - 1 < 60
    assert cap("spherical", 2, 60, 4) == 4  # never more components than distinct rows
    assert "fitting K = 1-10" in err
    assert "among 20 fits" in out
    model = emkit.load(tmp_path / "o" / "model.json")
    assert model.n_parameters() < 60


def test_probability_table_for_many_components_warns_nothing():
    class Uniform:
        def predict_proba(self, x):
            return np.full((len(x), 300), 1 / 300)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = probability_table(Uniform(), np.zeros((5, 2)), pd.Series(list("abcde"), name="id"))
    assert list(table.columns[:3]) == ["id", "label", "probability"] and table.shape == (5, 303)


def test_library_warnings_become_one_line(monkeypatch, tmp_path):
    from emkit.cli import fit

    def noisy(*args, **kwargs):
        for _ in range(3):
            warnings.warn("overflow encountered in exp", RuntimeWarning, stacklevel=1)
        warnings.warn("a degenerate fit", emkit.DegenerateFitWarning, stacklevel=1)
        # one library to another's developers (pandas to dask): not the user's news
        warnings.warn("the inplace keyword is deprecated", DeprecationWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(fit, "fit_and_report", noisy)
    status, _, err = run_main(["fit", "whatever.csv"])
    assert status == 0
    assert err.splitlines() == [
        "emkit: warning: overflow encountered in exp (RuntimeWarning)",
        "emkit: warning: a degenerate fit",
    ]


def test_standardize_writes_the_model_in_data_units(tmp_path, faithful):
    """A spherical fit to z-scores is a VEI mixture in minutes (lambda_k S^2): same posteriors."""
    path = tmp_path / "f.csv"
    pd.DataFrame(faithful, columns=["eruptions", "waiting"]).to_csv(path, index=False)
    status, out, err = run_main(
        [
            "fit",
            path,
            "--standardize",
            "-k",
            "2",
            "--covariance",
            "spherical",
            "--out",
            tmp_path / "o",
            "--quiet",
            "--no-report",
        ]
    )
    assert status == 0, err
    assert "eruptions (z-score)" in out
    z_scale = faithful.std(axis=0)
    z = (faithful - faithful.mean(axis=0)) / z_scale
    reference = emkit.GaussianMixture(
        2, covariance_type="spherical", init_params="hc", random_state=0
    ).fit(z)
    model = emkit.load(tmp_path / "o" / "model.json")
    assert model.covariance_type == "VEI"  # lambda_k S^2: one shape for all
    faithful = pd.DataFrame(faithful, columns=["eruptions", "waiting"])
    np.testing.assert_allclose(
        model.predict_proba(faithful), reference.predict_proba(z), rtol=1e-7, atol=1e-12
    )
    # the density changes by the Jacobian of the map only
    np.testing.assert_allclose(
        model.score_samples(faithful),
        reference.score_samples(z) - np.log(z_scale).sum(),
        rtol=1e-10,
    )
    assigned = pd.read_csv(tmp_path / "o" / "assignments.csv")
    np.testing.assert_array_equal(assigned["label"], reference.predict(z))


def test_version_and_help():
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(["--version"])
    assert out.getvalue().strip() == f"emkit {emkit.__version__}"


def test_help_and_import_load_no_scientific_stack():
    """``emkit --help`` answers without importing NumPy, pandas or SciPy (measured: ~0.07 s)."""
    code = (
        "import sys, contextlib, io\n"
        "import emkit\n"
        "assert 'scipy.stats' not in sys.modules and 'pandas' not in sys.modules\n"
        "from emkit.cli import build_parser\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        build_parser().parse_args(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = [m for m in ('numpy', 'pandas', 'scipy', 'sklearn', 'matplotlib') "
        "if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", (
        "emkit --help imported the scientific stack; import it inside the command's function "
        "(or add the name to emkit._LAZY)"
    )


def test_lazy_names_resolve():
    for name in emkit.__all__:
        assert getattr(emkit, name) is not None, name
    assert set(emkit.__all__) <= set(dir(emkit))
    # tab completion offers the public names, not the helpers __init__ imports
    assert not {"Any", "TYPE_CHECKING", "annotations", "importlib"} & set(dir(emkit))
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        emkit.nonsense  # noqa: B018


def test_predict_follows_the_models_missing_setting(tmp_path, faithful):
    # A model fitted with --missing em refused rows with NaN in emkit predict unless
    # --missing em was passed again ("column 'waiting' has 2 missing (NaN) value(s)").
    frame = pd.DataFrame(faithful, columns=["eruptions", "waiting"])
    frame.loc[[3, 10], "waiting"] = np.nan
    frame.loc[[5], "eruptions"] = np.nan
    data = tmp_path / "f.csv"
    frame.to_csv(data, index=False)
    fit = ["fit", data, "-k", "2", "--covariance", "full", "--missing", "em", "--quiet"]
    status, _, err = run_main([*fit, "--out", tmp_path / "o", "--no-report"])
    assert status == 0, err
    model_file = tmp_path / "o" / "model.json"
    model = emkit.load(model_file)
    assert model.missing == "em"
    status, text, err = run_main(["predict", model_file, data])
    assert status == 0, err
    proba = pd.read_csv(io.StringIO(text))[["p0", "p1"]].to_numpy()
    np.testing.assert_allclose(proba, model.predict_proba(frame), rtol=1e-9, atol=1e-12)
    # p(k | the one value observed), by hand with scipy.stats.norm
    for row, j in ((3, 0), (10, 0), (5, 1)):
        value = frame.iloc[row, j]
        sd = np.sqrt(model.covariances_[:, j, j])
        joint = model.weights_ * stats.norm.pdf(value, model.means_[:, j], sd)
        np.testing.assert_allclose(proba[row], joint / joint.sum(), rtol=1e-9)
    # --missing error, given, still refuses them
    status, _, err = run_main(["predict", model_file, data, "--missing", "error"])
    assert status == 2 and "column 'eruptions' has 1 missing" in err


# Columns of numbers as people write them, and what the hint names them (None: no hint).
SEPARATED = [
    (["1,234.5", "12,000", "-1,000,000", "7"], "thousands separators"),
    (["12 345", "1 000", "3.5"], "thousands separators"),
    (["1'234.5", "2'000"], "thousands separators"),
    (["3,14", "-2,5", ",5"], "a decimal comma"),
    (["1,234", "x"], None),  # not all numbers: plain text
    (["setosa", "virginica"], None),
    (["1,23,4"], None),
    (["0,125", "1,500", "-0,250"], "a decimal comma"),  # no thousands start with 0
    (["1,500", "2,250"], "thousands separators or a decimal comma"),  # either
    (["1.234,5", "3,5", "12"], "'.' thousands separators and a decimal comma"),
    (["5"] * 20_000 + ["12,345.5"], "thousands separators"),  # the whole column is read
    (["12,345"] * 20_000 + ["abc"], None),
    (["$1,234", "$12.50", "-$3.50"], "a currency symbol and thousands separators"),
    (["12%", "3.5%"], "a percent sign"),
    (
        ["(1,234)", "$5"],
        "a currency symbol, parentheses for negatives and thousands separators or a decimal comma",
    ),
    (["$5%"], None),  # a symbol on each side
    (["$", "12"], None),
    (["-($5)"], None),
    (["USD 5"], None),  # currency codes are not read as symbols
    (["1 234,5", "12,5"], "thousands separators and a decimal comma"),
    (["1 234", "12,5"], "thousands separators and a decimal comma"),
    (["1 234,5", "1,500,000"], None),  # a decimal comma or separating thousands
    (["1 234 €", "12,50 €"], "a currency symbol, thousands separators and a decimal comma"),
    (["1 234,5 €", "1,500,000 €"], None),
    # "1,500" beside "1 234": 1500 or 1.5, as beside "1 234 €" (it was read as 1.5)
    (["1 234", "1,500"], "thousands separators or a decimal comma"),
    (["1 234", "1,500", "1,234,567"], "thousands separators"),  # settled: thousands
    (["1,500", "12.50"], "thousands separators"),  # the point is the decimal one
    (["1 234,50", "5\u00a0678,00"], "thousands separators and a decimal comma"),  # two spaces
    (
        ["1.234.567", "2.5"],
        "'.' thousands separators in some values and a decimal point in others",
    ),
    (["3,5", "1.234"], "'.' thousands separators and a decimal comma"),  # 1234, as beside "1.234,5"
]


@pytest.mark.parametrize(("values", "kind"), SEPARATED)
def test_numbers_written_with_separators_are_named(values, kind):
    from emkit.io import number_format_hint

    hint = number_format_hint(pd.Series(values))
    assert (hint is None) if kind is None else (f"numbers written with {kind} (" in hint)


def fits_with_text_column(tmp_path, name: str, values: list[str]) -> tuple[str, str]:
    """stderr of `emkit fit` on two clusters beside a text column ``name`` of ``values``
    (it fits without the column), and of the same naming it in --columns (refused)."""
    frame = two_clusters(len(values))
    frame[name] = values
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    status, _, fitted = run_main(["fit", path, "--out", tmp_path / f"{name}-out", *FAST])
    assert status == 0, fitted
    status, _, refused = run_main(["fit", path, "--columns", f"length,{name}", *FAST])
    assert status != 0
    return fitted, refused


def test_a_csv_of_numbers_with_thousands_separators_says_so(tmp_path):
    # Quoted "1,234.5" is text to a CSV reader: every column was skipped with "no numeric
    # column to use" and no word of why. The error now names the columns and the way out,
    # and the way out reads the numbers (pandas' own reader).
    frame = two_clusters(40)[["length", "width"]] * 1000
    path = tmp_path / "big.csv"
    with open(path, "w") as f:
        f.write("length,width\n")
        for a, b in frame.to_numpy():
            f.write(f'"{a:,.3f}","{b:,.3f}"\n')
    status, _, err = run_main(["fit", path, "--id", "length", "--out", tmp_path / "o", *FAST])
    assert status != 0
    assert "no numeric column to use" in err
    assert "column 'width' holds numbers written with thousands separators" in err
    assert "Traceback" not in err
    back = pd.read_csv(path, thousands=",")
    np.testing.assert_allclose(back.to_numpy(), frame.to_numpy(), rtol=1e-12)
    # one such column among numeric ones: fitted without it, and the note says why; named
    # in --columns: refused with the same words
    fitted, refused = fits_with_text_column(
        tmp_path, "weight", [f"{1000 + 7 * i:,}" for i in range(40)]
    )
    assert "weight (text)" in fitted
    assert "column 'weight' holds numbers written with thousands separators or a" in fitted
    assert "column 'weight' holds numbers written with thousands" in refused
    with pytest.raises(emkit.DataError, match="thousands separators"):
        emkit.io.read_table(tmp_path / "weight.csv", columns=["weight"])


def test_emkit_mle_names_numbers_written_with_a_decimal_comma(tmp_path):
    path = tmp_path / "counts.csv"
    path.write_text('x\n"3,5"\n"2,25"\n"4,0"\n')
    status, _, err = run_main(["mle", "normal", path])
    assert status != 0 and "column 'x' holds numbers written with a decimal comma" in err
    back = pd.read_csv(path, decimal=",")  # the way out the message gives
    np.testing.assert_allclose(back["x"], [3.5, 2.25, 4.0])


def test_a_decimal_comma_with_three_decimals_is_not_called_thousands(tmp_path):
    # "0,261" matched the thousands pattern, and its advice (thousands=",") read 261.
    path = tmp_path / "q.csv"
    path.write_text('a,c\n1,"0,261"\n2,"1,500"\n3,"0,875"\n')
    status, _, err = run_main(["fit", path, "--columns", "a,c", *FAST])
    assert status != 0 and "column 'c' holds numbers written with a decimal comma" in err
    np.testing.assert_allclose(pd.read_csv(path, decimal=",")["c"], [0.261, 1.5, 0.875])


def test_a_column_of_names_is_not_read_again_for_number_hints(tmp_path, monkeypatch):
    # Looking for numbers written with separators read every text column whole once more
    # (0.6 s a column of a 3.6 M-row CSV with pyarrow, a gather of the column with Dask):
    # a column whose first values are names is now left at those.
    from emkit.cli import table

    frame = two_clusters(60)
    frame["weight"] = [f"{1000 + 7 * i:,}.5" for i in range(60)]
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    read = []
    whole = table.CsvColumns.series

    def counted(self, name):
        read.append(name)
        return whole(self, name)

    monkeypatch.setattr(table.CsvColumns, "series", counted)
    status, _, err = run_main(["fit", path, "--out", tmp_path / "o", *FAST])
    assert status == 0, err
    assert "species" not in read and "weight" in read
    assert "column 'weight' holds numbers written with thousands separators (" in err
    assert "skipped 2 non-numeric columns: species (text), weight (text)" in err


# The hint's pandas line(s) for numbers with currency symbols, percent signs or accounting
# parentheses (the whole assignment, as the user would paste it).
ADVICE = re.compile(r"(df\[[^\]]+\] = pd\.to_numeric\(.*?\))(?= where|$| \(this)")


MARKED = [
    (
        ["$1,234", "$12.50", "-$3.50", "$-7", "$0.99"],
        "a currency symbol and thousands separators (",
        [[1234, 12.5, -3.5, -7, 0.99]],
    ),
    (
        ["€12,50", "€3,00", "-€0,75"],
        "a currency symbol and a decimal comma (",
        [[12.5, 3.0, -0.75]],
    ),
    (
        ["1 234 €", "12 €", "1\u202f000\u202f000 €"],
        "a currency symbol and thousands separators (",
        [[1234, 12, 1e6]],
    ),
    (["12%", "3.5%", "-1%"], "a percent sign (", [[12, 3.5, -1]]),
    (["12,5 %", "3 %"], "a percent sign and a decimal comma (", [[12.5, 3]]),
    (
        ["£1,234.50", "(£1,234.50)", "(£7)", "£0"],
        "a currency symbol, parentheses for negatives and thousands separators (",
        [[1234.5, -1234.5, -7, 0]],
    ),
    (
        ["(1,234)", "567", "(12)"],
        "parentheses for negatives and thousands separators or a decimal comma (",
        [[-1234, 567, -12], [-1.234, 567, -12]],
    ),
    (
        ["€1.234,50", "€2", "2.345.678,9 €"],
        "a currency symbol, '.' thousands separators and a decimal comma (",
        [[1234.5, 2, 2345678.9]],
    ),
    (["1'234 CHF", "5 CHF"], None, None),  # not a symbol: no hint
    # French and much of Europe: spaced thousands (no-break ones too), a decimal comma
    (
        ["1 234 €", "12,50 €", "-3,5 €"],
        "a currency symbol, thousands separators and a decimal comma (",
        [[1234, 12.5, -3.5]],
    ),
    (
        ["1 234,50 €", "1\u202f000\u202f000,05 €", "1\u00a0234,5 €", "7 €"],
        "a currency symbol, thousands separators and a decimal comma (",
        [[1234.5, 1000000.05, 1234.5, 7]],
    ),
    (
        ["1.234,50 €", "12,5 €"],
        "a currency symbol, '.' thousands separators and a decimal comma (",
        [[1234.5, 12.5]],
    ),
    (
        ["€ 1.234,50", "€ 3", "-€ 0,5"],
        "a currency symbol, '.' thousands separators and a decimal comma (",
        [[1234.5, 3, -0.5]],
    ),
    (  # "1,500" beside spaced thousands: separating them too, or a decimal comma
        ["1 234 €", "1,500 €"],
        "a currency symbol and thousands separators or a decimal comma (",
        [[1234, 1500], [1234, 1.5]],
    ),
    (["1 234,5 €", "1,500,000 €"], None, None),  # no one way to read both
    (  # "1.234" beside "€3,5": 1234, as beside "3,5" or "€1.234,5"
        ["€3,5", "1.234"],
        "a currency symbol, '.' thousands separators and a decimal comma (",
        [[3.5, 1234]],
    ),
]


@pytest.mark.parametrize(("values", "kind", "numbers"), MARKED)
def test_numbers_with_currency_or_percent_signs_get_a_pandas_line_that_reads_them(
    tmp_path, values, kind, numbers
):
    # "$1,234", "12%" or "(1,234)" were "not numeric (rows such as '$1,234')" with no word of
    # why. The hint now says what they are and gives the pandas line(s) that convert them:
    # each is run here on the column pandas' own reader gives, and reads the numbers.
    assert_pandas_lines_read(tmp_path, values, kind, numbers)


def assert_pandas_lines_read(tmp_path, values, kind, numbers):
    """The hint for a column of ``values`` names them ``kind`` (None: no hint) and gives one
    pandas line for each list in ``numbers``, which converts the column pandas' own reader
    gives to those numbers."""
    from emkit.io import number_format_hint

    path = tmp_path / "money.csv"
    pd.DataFrame({"amount": values}).to_csv(path, index=False)
    df = pd.read_csv(path)
    hint = number_format_hint(df["amount"])
    if kind is None:
        assert hint is None
        return
    assert hint.startswith(f"numbers written with {kind}")
    assert repr(values[0]) in hint
    lines = pandas_lines(hint)
    assert len(lines) == len(numbers), hint
    for line, expected in zip(lines, numbers, strict=True):
        column = read_by(path, line)["amount"]
        assert column.dtype == np.float64 or np.issubdtype(column.dtype, np.integer)
        np.testing.assert_allclose(column, expected, rtol=1e-12)
    assert ("divide by 100" in hint) == ("%" in "".join(values))


# The options of the hints' read_csv calls ("pandas.read_csv(..., thousands=',') or
# (..., decimal=',')")
READ_CSV = re.compile(r"\(\.\.\., ([^()]*)\)")


def pandas_lines(hint: str) -> list[str]:
    """The pandas lines ``hint`` gives, as code that sets ``df`` from the file at ``path``
    (those after pandas' own read of it)."""
    reads = [f"df = pd.read_csv(path, {options})" for options in READ_CSV.findall(hint)]
    return ADVICE.findall(hint) + reads


def read_by(path, line: str) -> pd.DataFrame:
    """The table at ``path`` read by pandas, then ``line`` (of :func:`pandas_lines`) run."""
    space = {"pd": pd, "df": pd.read_csv(path), "path": path}
    exec(line, space)
    return space["df"]


def test_the_cli_names_a_column_of_amounts_in_dollars(tmp_path):
    # The first-values gate (written_as_numbers) let only separators through: a column of
    # "$1,234.50" was skipped as text with no word of why.
    prices = [f"${1000 + 7.25 * i:,.2f}" for i in range(40)]
    fitted, refused = fits_with_text_column(tmp_path, "price", prices)
    assert "column 'price' holds numbers written with a currency symbol and thousands" in fitted
    assert "column 'price' holds numbers written with a currency symbol and thousands" in refused
    path = tmp_path / "price.csv"  # as fits_with_text_column wrote it
    with pytest.raises(emkit.DataError, match="a currency symbol and thousands separators"):
        emkit.io.read_table(path, columns=["price"])
    # alone in the file: "no numeric column to use", and why
    pd.DataFrame({"price": prices}).to_csv(path, index=False)
    status, _, err = run_main(["fit", path, "--out", tmp_path / "p", *FAST])
    assert status != 0 and "no numeric column to use" in err
    assert "column 'price' holds numbers written with a currency symbol" in err
    (line,) = ADVICE.findall(err.strip().splitlines()[-1])
    df = pd.read_csv(path)
    exec(line, {"pd": pd, "df": df})
    np.testing.assert_allclose(df["price"], 1000 + 7.25 * np.arange(40), rtol=1e-12)


# Numbers with no marks whose separators no one read_csv call reads (a space beside a no-break
# one or a comma), or whose commas may be either: the pandas line(s) the marked ones get.
UNMARKED = [
    (
        ["1 234", "1,500"],
        "thousands separators or a decimal comma (",
        [[1234, 1500], [1234, 1.5]],
    ),
    (["1 234", "1,500", "1,234,567"], "thousands separators (", [[1234, 1500, 1234567]]),
    (["1 234", "1,500", "2.5"], "thousands separators (", [[1234, 1500, 2.5]]),
    (
        ["1 234,50", "5\u00a0678,00", "12"],
        "thousands separators and a decimal comma (",
        [[1234.5, 5678, 12]],
    ),
    (
        ["1\u202f234,5", "-2 000 000,25", "3,5"],
        "thousands separators and a decimal comma (",
        [[1234.5, -2000000.25, 3.5]],
    ),
    (["1 234", "5\u00a0678"], "thousands separators (", [[1234, 5678]]),
    (["1,234", "5'678.5"], "thousands separators (", [[1234, 5678.5]]),
]


@pytest.mark.parametrize(("values", "kind", "numbers"), UNMARKED)
def test_numbers_with_mixed_separators_get_a_pandas_line_that_reads_them(
    tmp_path, values, kind, numbers
):
    # "1 234,50" beside "5\xa0678,00" got no hint (read_csv takes one thousands separator),
    # "1 234" beside "5\xa0678" or "1,500" got a read_csv call that left one of them text
    assert_pandas_lines_read(tmp_path, values, kind, numbers)


@pytest.mark.parametrize(
    "values",
    [
        ["1 234", "1,500"],
        ["1,500", "2,250"],
        ["1 234", "1,500", "12,5"],
        ["1 234", "1,500", "1 234,50"],
        ["1 234", "1,500", "1,234,567"],
        ["1 234", "1,500", "2.5"],
        ["1,500", "12.50"],
        ["1 234,50", "5\u00a0678,00"],
    ],
)
def test_a_currency_symbol_does_not_change_how_the_numbers_are_read(values):
    # "1,500" beside "1 234" was a decimal comma (1.5), beside "1 234 €" either 1500 or 1.5
    from emkit.io import number_format_hint

    def reading(values):
        hint = number_format_hint(pd.Series(values, name="a"))
        (words,) = re.findall(r"^numbers written with (.*?) \(such as", hint)
        return re.sub(r"^a currency symbol(, | and )", "", words)

    assert reading(values) == reading([f"{v} €" for v in values])


# Ways of writing a number, each with what it means under its writer's convention; a pair is
# a number whose separator may be read two ways: (1,234 where it separates thousands, 1.234
# where it is the decimal one), for a comma or a point ("1.234" beside "1.234,5" is 1234).
SPELLINGS = {
    "2.5": 2.5,
    "12.50": 12.5,
    "0.125": 0.125,
    "12": 12,
    "3,5": 3.5,
    "-0,125": -0.125,
    "1,234": (",", 1234, 1.234),
    "1,234,567": 1234567,
    "1,234.5": 1234.5,
    "1.234": (".", 1234, 1.234),
    "1.234,5": 1234.5,
    "1.234.567": 1234567,
    "1 234": 1234,
    "1 234,50": 1234.5,
    "1\u00a0234,5": 1234.5,
    "1'234.5": 1234.5,
    "$1,500": (",", 1500, 1.5),
    "€3,5": 3.5,
    "€2.5": 2.5,
    "1 234 €": 1234,
    "12,5 %": 12.5,
    "2.5 %": 2.5,
    "(1,234)": (",", -1234, -1.234),
}


def readings(values: tuple[str, ...]) -> list[list[float]]:
    """The numbers ``values`` may mean, one list for each way of reading a comma and a point
    (as separating thousands or as the decimal one) throughout the column."""
    ways = []
    for comma, point in itertools.product([True, False], repeat=2):
        thousands = {",": comma, ".": point}
        ways.append(
            [
                (v[1] if thousands[v[0]] else v[2]) if isinstance(v, tuple) else v
                for v in map(SPELLINGS.get, values)
            ]
        )
    return ways


def test_every_pandas_line_of_a_hint_reads_each_value_as_its_number(tmp_path):
    # Columns of two and three of SPELLINGS: each pandas line a hint gives (read_csv's options
    # or a line that converts the column) reads every value as its number. A value that may
    # be read two ways ("1,234") may be read either, as long as the line reads every comma
    # one way and every point one way (the hint says where it is either). A column that
    # mixes a decimal comma and a decimal point got lines that read "2.5" as 25 (beside
    # "€3,5", "12,5 %" or "1.234,5") or left it text (beside "3,5").
    from emkit.io import number_format_hint

    path = tmp_path / "a.csv"
    columns = [  # every pair both ways, every fourth triple: 949 columns
        *itertools.permutations(SPELLINGS, 2),
        *itertools.islice(itertools.combinations(SPELLINGS, 3), 0, None, 4),
    ]
    wrong = []
    for values in columns:
        pd.DataFrame({"a": values}).to_csv(path, index=False)
        hint = number_format_hint(pd.read_csv(path)["a"])
        for line in pandas_lines(hint or ""):
            try:
                read = read_by(path, line)["a"]
            except ValueError as exc:  # "Unable to parse string"
                wrong.append((values, line, str(exc)))
                continue
            numeric = pd.api.types.is_numeric_dtype(read)
            if not numeric or not any(np.allclose(read, r, rtol=1e-12) for r in readings(values)):
                wrong.append((values, line, list(read)))
    assert not wrong, f"{len(wrong)} of {len(columns)}: {wrong[:5]}"


# Numbers with a decimal comma (or '.' between thousands) in some values and a decimal point in
# others: no read_csv call reads both; a pandas line where no comma or point separates thousands
MIXED = [
    (["€3,5", "€2.5"], [[3.5, 2.5]]),
    (["12,5 %", "2.5 %"], [[12.5, 2.5]]),
    (["3,5", "2.5", "1 234,50"], [[3.5, 2.5, 1234.5]]),
    (["(0,75)", "1'234.5", "12.50"], [[-0.75, 1234.5, 12.5]]),
    (["1.234,5", "2.5"], []),
    (["3,5", "2.5", "1,234"], []),  # 1.234 or 1234
    (["3,5", "2.5", "1.234"], []),  # 1.234 or 1234 (as "1.234" beside "3,5" alone)
    (["1.234,5", "1,234.5"], []),
]


@pytest.mark.parametrize(("values", "numbers"), MIXED)
def test_numbers_with_a_decimal_comma_and_a_decimal_point_name_both(tmp_path, values, numbers):
    # Beside "€3,5", "12,5 %" or "1.234,5" the pandas line read "2.5" as 25; beside "3,5",
    # read_csv(decimal=',') left it text
    kind = "a decimal comma in some values and a decimal point in others ("
    assert_pandas_lines_read(tmp_path, values, kind, numbers)
    from emkit.io import number_format_hint

    assert f"(such as {values[0]!r} and {values[1]!r}): write them one way" in (
        number_format_hint(pd.Series(values))
    )


def test_the_cli_names_amounts_with_two_kinds_of_space(tmp_path):
    # "1 234,50" beside "5\xa0678,00" got no hint: the column was skipped as text, no word why
    amounts = [f"{1000 + 7.25 * i:,.2f}".replace(",", " ").replace(".", ",") for i in range(40)]
    amounts[1::2] = [a.replace(" ", "\u00a0") for a in amounts[1::2]]
    numbers = 1000 + 7.25 * np.arange(40)
    fitted, refused = fits_with_text_column(tmp_path, "amount", amounts)
    words = "column 'amount' holds numbers written with thousands separators and a decimal comma"
    assert words in fitted and words in refused
    path = tmp_path / "amount.csv"  # as fits_with_text_column wrote it
    with pytest.raises(emkit.DataError, match="thousands separators and a decimal comma"):
        emkit.io.read_table(path, columns=["amount"])
    pd.DataFrame({"amount": amounts}).to_csv(path, index=False)
    status, _, err = run_main(["fit", path, "--out", tmp_path / "p", *FAST])
    assert status != 0 and "no numeric column to use" in err and words in err
    (line,) = ADVICE.findall(err.strip().splitlines()[-1])
    df = pd.read_csv(path)
    exec(line, {"pd": pd, "df": df})
    np.testing.assert_allclose(df["amount"], numbers, rtol=1e-12)


def test_emkit_mle_names_percentages(tmp_path):
    path = tmp_path / "rates.csv"
    path.write_text('rate\n12%\n"3,5 %"\n7 %\n')
    status, _, err = run_main(["mle", "normal", path])
    assert status != 0
    assert "column 'rate' holds numbers written with a percent sign and a decimal comma" in err
    assert "divide by 100" in err and "Traceback" not in err
    (line,) = ADVICE.findall(err.strip().splitlines()[-1])
    df = pd.read_csv(path)
    exec(line, {"pd": pd, "df": df})
    np.testing.assert_allclose(df["rate"], [12, 3.5, 7], rtol=1e-12)


def test_every_unicode_currency_symbol_is_read_as_one():
    import unicodedata

    from emkit.io import written_as_numbers

    symbols = [chr(i) for i in range(0x30000) if unicodedata.category(chr(i)) == "Sc"]
    assert len(symbols) > 60
    assert all(written_as_numbers(pd.Series([f"{s}1,234.5", f"7 {s}"])) for s in symbols)


@pytest.mark.parametrize(
    ("values", "numbers"),
    [
        (["1 234,50", "12,5", "1 000 000"], [1234.5, 12.5, 1e6]),
        (["1\u00a0234,50", "12,5", "1\u00a0000\u00a0000"], [1234.5, 12.5, 1e6]),
        (["1\u202f234,50", "12,5", "1\u202f000\u202f000"], [1234.5, 12.5, 1e6]),
        (["1 234", "3,75"], [1234, 3.75]),
        (["1\u00a0234", "5\u00a0678\u00a0901.5"], [1234, 5678901.5]),  # pandas' C parser: text
        (["1\u202f234", "5\u202f678"], [1234, 5678]),
    ],
)
def test_numbers_with_spaced_thousands_get_a_read_csv_call_that_reads_them(
    tmp_path, values, numbers
):
    # "1 234,50" (French: spaced thousands, a decimal comma) was no number the hint knew; and
    # thousands='\xa0' is lost on pandas' C parser, which leaves "1\xa0234" as text.
    from emkit.io import number_format_hint

    path = tmp_path / "amounts.csv"
    pd.DataFrame({"a": values}).to_csv(path, index=False)
    hint = number_format_hint(pd.read_csv(path)["a"])
    (options,) = re.findall(r"pandas\.read_csv\(\.\.\., (.*?)\) and save it again", hint)
    back = eval(f"pd.read_csv(path, {options})", {"pd": pd, "path": path})
    assert back["a"].dtype == np.float64 or np.issubdtype(back["a"].dtype, np.integer)
    np.testing.assert_allclose(back["a"], numbers, rtol=1e-12)


@pytest.mark.parametrize(
    "values",
    [v for v, *_ in SEPARATED + MARKED + UNMARKED + MIXED]
    + [["1 234,5", "12"], ["1 234", "12,5 €"]],
)
def test_a_column_let_through_by_its_first_values_gets_a_hint(values):
    # The gate let "1 234 €" beside "12,50 €" through (each alone is a number it knows), the
    # column was read whole, and the hint, looking for one way to read them all, found none.
    from emkit.io import number_format_hint, written_as_numbers

    column = pd.Series(values)
    plain = pd.to_numeric(column, errors="coerce").notna().all()
    if written_as_numbers(column):
        assert plain or number_format_hint(column) is not None
    else:
        assert not plain and number_format_hint(column) is None
