"""``emkit fit`` / ``predict`` against hostile inputs: compressed tables, odd Parquet columns,
hand-edited model files, very wide tables and runaway warnings."""

import io
import json
import re

import numpy as np
import pandas as pd
import pytest

import emkit
from cli_run import run_main
from emkit.cli.fit import read_features
from emkit.cli.table import sniff


def two_clusters(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = np.arange(n) % 2
    values = rng.normal(size=(n, 2)) + 6.0 * group[:, None]
    return pd.DataFrame(values.round(4), columns=["length", "width"])


FAST = ["-k", "2", "--covariance", "VVV", "--quiet", "--no-report"]
COMPRESSIONS = ["gz", "bz2", "xz", "zip"]


@pytest.mark.parametrize("suffix", COMPRESSIONS)
@pytest.mark.parametrize(("sep", "decimal"), [(";", ","), ("\t", "."), (",", ".")])
def test_a_compressed_csv_is_sniffed_in_its_decompressed_text(tmp_path, suffix, sep, decimal):
    frame = two_clusters()
    path = tmp_path / f"table.csv.{suffix}"
    frame.to_csv(path, sep=sep, decimal=decimal, index=False)  # pandas compresses by suffix
    assert sniff(path) == (sep, decimal)
    table = read_features(path)
    reference = pd.read_csv(path, sep=sep, decimal=decimal)  # pandas, told the format
    assert table.names == ["length", "width"]
    np.testing.assert_array_equal(table.values, reference.to_numpy())


def test_fit_and_predict_read_a_compressed_semicolon_csv(tmp_path):
    frame = two_clusters()
    plain, packed = tmp_path / "t.csv", tmp_path / "t.csv.gz"
    frame.to_csv(plain, index=False)
    frame.to_csv(packed, sep=";", decimal=",", index=False)
    for path, out in ((plain, "plain"), (packed, "packed")):
        status, _, err = run_main(["fit", path, "--out", tmp_path / out, *FAST])
        assert status == 0, err
    plain_model = emkit.load(tmp_path / "plain" / "model.json")
    packed_model = emkit.load(tmp_path / "packed" / "model.json")
    np.testing.assert_allclose(packed_model.means_, plain_model.means_, rtol=1e-12)
    status, text, err = run_main(["predict", tmp_path / "plain" / "model.json", packed])
    assert status == 0, err
    labels = pd.read_csv(io.StringIO(text))["label"].to_numpy()
    np.testing.assert_array_equal(labels, plain_model.predict(frame))


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"hello", "Not a gzipped file"), (None, "ended before the end-of-stream")],
)
def test_a_damaged_gzip_csv_is_one_clear_error(tmp_path, content, expected):
    path = tmp_path / "t.csv.gz"
    two_clusters().to_csv(path, sep=";", index=False)
    path.write_bytes(content if content is not None else path.read_bytes()[:200])
    status, _, err = run_main(["fit", path, "--out", tmp_path / "out", *FAST])
    assert status == 2
    assert err.startswith(f"emkit: error: {path}: cannot be read as a table") and expected in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


@pytest.fixture
def nested_parquet(tmp_path):
    """Two numeric columns beside a list, a record and a map column (Parquet's nested types)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = two_clusters()
    n = len(frame)
    table = pa.table(
        {
            "length": frame["length"],
            "values": pa.array([[1.0, float(i)] for i in range(n)]),
            "width": frame["width"],
            "record": pa.array([{"u": i, "v": "x"} for i in range(n)]),
            "tags": pa.array([[("k", i)] for i in range(n)], pa.map_(pa.string(), pa.int64())),
        }
    )
    path = tmp_path / "nested.parquet"
    pq.write_table(table, path)
    return path, frame


def test_nested_parquet_columns_are_skipped_not_taken_as_ids(tmp_path, nested_parquet):
    path, frame = nested_parquet
    status, _, err = run_main(["fit", path, "--out", tmp_path / "out", *FAST])
    assert status == 0, err
    assert "skipped 3 non-numeric columns: values (lists or records), record (lists or " in err
    assert "id column" not in err and "Traceback" not in err
    assigned = pd.read_csv(tmp_path / "out" / "assignments.csv")
    assert list(assigned.columns[:3]) == ["length", "width", "label"]
    model = emkit.load(tmp_path / "out" / "model.json")
    reference = emkit.GaussianMixture(2, covariance_type="VVV", init_params="hc").fit(frame)
    np.testing.assert_allclose(model.means_, reference.means_, rtol=1e-10)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--id", "values"], "--id 'values': the column holds lists or records"),
        (["--columns", "length,record"], "column 'record' holds lists or records, not numbers"),
    ],
)
def test_naming_a_nested_column_is_one_clear_error(tmp_path, nested_parquet, flags, expected):
    path, _ = nested_parquet
    status, _, err = run_main(["fit", path, "--out", tmp_path / "out", *flags, *FAST])
    assert status == 2 and expected in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.fixture
def model_document(tmp_path):
    """A GaussianMixture model file written by ``emkit fit``, and its data file."""
    data = tmp_path / "t.csv"
    two_clusters().to_csv(data, index=False)
    status, _, err = run_main(["fit", data, "--out", tmp_path / "fit", *FAST])
    assert status == 0, err
    return json.loads((tmp_path / "fit" / "model.json").read_text()), data


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("feature_names_in_", ["length", "length"], "names 'length' twice"),
        ("log_likelihood_", "high", "must be a number; got 'high'"),
        ("lower_bound_", [1, 2], "must be a number"),
        ("history_", 5, "must be a numeric array"),
        ("weights_", [1.1, -0.1], "must be non-negative; has -0.1"),
        ("weights_", [0.5, 0.6], "must sum to 1; sums to 1.1"),
    ],
)
def test_a_hand_edited_model_file_is_refused_by_field(
    tmp_path, model_document, field, value, expected
):
    document, data = model_document
    attribute = document["attributes"][field]
    if isinstance(attribute, dict) and isinstance(value, list):
        attribute["data"] = value  # an array field: its values edited
    else:
        document["attributes"][field] = value
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(document))
    with pytest.raises(emkit.ModelFileError, match=f"field 'attributes.{field}'"):
        emkit.load(path)
    status, text, err = run_main(["predict", path, data])
    assert status == 2 and text == ""
    assert err.startswith(f"emkit: error: {path}: field 'attributes.{field}'") and expected in err


def test_a_kmeans_file_with_a_text_inertia_is_refused_not_a_type_error(tmp_path):
    path = tmp_path / "km.json"
    emkit.KMeans(2, random_state=0).fit(two_clusters()).save(path)
    document = json.loads(path.read_text())
    document["attributes"]["inertia_"] = "small"
    path.write_text(json.dumps(document))
    with pytest.raises(emkit.ModelFileError, match="field 'attributes.inertia_': must be a number"):
        emkit.load(path)


def test_a_wide_tables_report_leaves_out_the_covariance_matrices(tmp_path):
    from emkit.report import summarize, write_report

    rng = np.random.default_rng(0)
    d = 60
    columns = [f"gene{j}" for j in range(d)]
    x = rng.normal(size=(80, d)) + 5.0 * (np.arange(80) % 2)[:, None]
    selection = emkit.select_mixture(x, [2], ["VVI"])
    summary = summarize(selection, x, columns)
    assert "(gene0, gene1, gene2, gene3, gene4, gene5, ..., gene54, " in summary
    assert "gene30" not in summary
    page = write_report(selection, x, columns, tmp_path)["report"].read_text()
    assert "The 2 covariance matrices (60 x 60) are not shown" in page
    # the component table (mean and sd per column) stays; no d x d matrix is written
    assert page.count("<td>") < 2 * (3 + 2 * d) + 200
    narrow = emkit.select_mixture(x[:, :3], [2], ["VVI"])
    narrow = write_report(narrow, x[:, :3], columns[:3], tmp_path / "narrow")
    assert "<details><summary>The covariance matrices (2)" in narrow["report"].read_text()


def test_warnings_that_differ_only_in_numbers_are_shown_three_times(capsys):
    from emkit.cli import WarningLines
    from emkit.exceptions import MonotonicityWarning

    show = WarningLines()
    for it in range(1, 501):  # one per EM iteration, as a fit that falls every step gives
        show(f"EM objective decreased by 3.4e+10 at iteration {it}", MonotonicityWarning, "", 0)
    show("a different warning", UserWarning, "", 0)
    show("a different warning", UserWarning, "", 0)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "emkit: warning: EM objective decreased by 3.4e+10 at iteration 1",
        "emkit: warning: EM objective decreased by 3.4e+10 at iteration 2",
        "emkit: warning: EM objective decreased by 3.4e+10 at iteration 3",
        "emkit: warning: more warnings like the 3 above are not shown",
        "emkit: warning: a different warning (UserWarning)",
    ]


@pytest.mark.parametrize("where", ["header", "value"])
def test_a_latin1_csv_is_one_clear_error(tmp_path, where, model_document):
    header, row = ("température,width", "1,2") if where == "header" else ("a,b,name", "1,2,café")
    body = "\n".join(
        [header, row, *[f"{i},{i % 3}" + (",x" * (where == "value")) for i in range(9)]]
    )
    path = tmp_path / "latin1.csv"
    path.write_bytes(body.encode("latin-1"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    (tmp_path / "m").write_text(json.dumps(model_document[0]))
    columns = ["--columns", "a,b"] if where == "value" else []  # the model reads length, width
    for argv in (
        ["fit", path, "--out", tmp_path / "out", *FAST],
        ["predict", tmp_path / "m", path, *columns],
    ):
        status, text, err = run_main(argv)
        assert status == 2 and text == "" and "Traceback" not in err
        assert err.startswith(f"emkit: error: {path}: not UTF-8 text (it holds the byte 0xe9")


@pytest.fixture
def table_with_id(tmp_path):
    frame = two_clusters()
    frame.insert(0, "id", np.arange(len(frame)) * 7)  # numeric, unique: an id by its name
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    return path, frame


def test_a_column_named_in_columns_is_never_also_the_found_id(tmp_path, table_with_id):
    path, frame = table_with_id
    status, _, err = run_main(
        ["fit", path, "--columns", "id,length", "--out", tmp_path / "o", *FAST]
    )
    assert status == 0, err
    assert "id column" not in err
    header = (tmp_path / "o" / "assignments.csv").read_text().splitlines()[0].split(",")
    assert header == ["id", "length", "label", "probability", *header[4:]]
    assert len(set(header)) == len(header)
    # without --columns the id is found, and carried once
    status, _, err = run_main(["fit", path, "--out", tmp_path / "p", *FAST])
    assert status == 0 and "id column 'id'" in err
    assigned = pd.read_csv(tmp_path / "p" / "assignments.csv")
    assert list(assigned.columns[:3]) == ["id", "length", "width"]
    np.testing.assert_array_equal(assigned["id"], frame["id"])


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--id", "id", "--columns", "id,length"], "--id 'id' is also in --columns"),
        (["--columns", "id,length", "--exclude", "length"], "--columns and --exclude both name"),
    ],
)
def test_contradictory_column_flags_are_refused(tmp_path, table_with_id, flags, expected):
    path, _ = table_with_id
    status, _, err = run_main(["fit", path, *flags, "--out", tmp_path / "o", "--quiet"])
    assert status == 2 and expected in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_integers_float64_cannot_hold_are_refused(tmp_path, suffix):
    # They were read as float64 with a note, and fitted: 2 distinct values of the 200, as
    # the estimators refuse them (the library's message, with the command's advice; 2**60
    # itself is exact)
    frame = two_clusters(200)
    frame["account"] = np.arange(len(frame), dtype=np.int64) + 2**60  # 200 distinct numbers
    path = tmp_path / f"t.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    assert len(np.unique(frame["account"].to_numpy(np.float64))) == 2
    refused = (
        r"column 'account' holds 199 integer\(s\) beyond 2\*\*53 that float64 cannot hold "
        r"exactly \(such as 1152921504606846977, which float64 stores as 1152921504606846976\)"
    )
    with pytest.raises(emkit.exceptions.DataError, match=refused):
        read_features(path, columns=["length", "account"])
    status, _, err = run_main(
        ["fit", path, "--columns", "length,account", "--out", tmp_path / "o", "--quiet"]
    )
    assert status == 2 and "If it names rows, use --id or --exclude" in err
    assert re.search(refused, " ".join(err.split()))
    assert not (tmp_path / "o").exists()
    small = read_features(path, columns=["length", "width"])
    assert not any("2**53" in n for n in small.notes)
    # integers float64 holds (multiples of its spacing, 256, there) are fitted
    frame["account"] = np.arange(len(frame), dtype=np.int64) * 256 + 2**60
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    table = read_features(path, columns=["length", "account"])
    np.testing.assert_array_equal(table.values[:, 1], frame["account"].to_numpy(np.float64))


@pytest.mark.parametrize("kind", ["parquet-nulls", "csv-nulls", "csv-beyond-int64"])
def test_integers_read_as_floats_that_float64_cannot_hold_are_refused(tmp_path, kind):
    # A Parquet integer column with nulls was read as float64 and fitted rounded without a
    # word, a CSV one with a warning only, and a CSV column of integers beyond int64 (read
    # as float64) without a word: 200 distinct numbers as 2 (as 1, a constant, left out)
    frame = two_clusters(200)
    big = 10**20 if kind == "csv-beyond-int64" else 2**60
    account = [big + i for i in range(len(frame))]
    if kind == "csv-beyond-int64":
        frame["account"] = pd.Series(account, dtype=object)
    else:
        frame["account"] = pd.array(account, dtype="Int64")
        frame.loc[5, "account"] = pd.NA
    path = tmp_path / ("t.parquet" if kind == "parquet-nulls" else "t.csv")
    frame.to_csv(path, index=False) if kind.startswith("csv") else frame.to_parquet(path)
    if kind == "parquet-nulls":  # as a file another tool wrote: no pandas metadata (Int64)
        import pyarrow.parquet as pq

        pq.write_table(pq.read_table(path).replace_schema_metadata(None), path)
        assert pd.read_parquet(path)["account"].dtype == np.float64
    example = f"such as {big + 1}, which float64 stores as {int(float(big + 1))}"
    flags = ["--columns", "length,account", "--missing", "em"]
    with pytest.raises(emkit.exceptions.DataError, match="integer") as caught:
        read_features(path, columns=["length", "account"], missing="em")
    assert "beyond 2**53 that float64 cannot hold exactly" in str(caught.value)
    assert example in str(caught.value)
    status, _, err = run_main(["fit", path, *flags, "--out", tmp_path / "o", "--quiet"])
    assert status == 2 and "If it names rows, use --id or --exclude" in err
    assert not (tmp_path / "o").exists()
    # integers float64 holds (multiples of its spacing there) are fitted, pd.NA missing
    step = 2**14 if kind == "csv-beyond-int64" else 256
    exact = [big + i * step for i in range(len(frame))]
    frame["account"] = pd.Series(exact, dtype=object if kind == "csv-beyond-int64" else "Int64")
    if kind != "csv-beyond-int64":
        frame.loc[5, "account"] = pd.NA
    frame.to_csv(path, index=False) if kind.startswith("csv") else frame.to_parquet(path)
    table = read_features(path, columns=["length", "account"], missing="em")
    want = frame["account"].astype(object).where(frame["account"].notna(), np.nan)
    np.testing.assert_array_equal(table.values[:, 1], want.to_numpy(np.float64))
    assert not any("2**53" in n for n in table.notes)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
@pytest.mark.parametrize("nulls", [False, True])
def test_integers_float64_cannot_hold_are_refused_on_a_cluster(tmp_path, suffix, nulls):
    # The reading for --workers (Dask's) converted them to float64 without a word (with
    # nulls, Dask's int64 column is float64 in the partitions that hold them)
    dask = pytest.importorskip("dask")
    from emkit.cli import cluster

    frame = two_clusters(200)
    frame["account"] = pd.array(np.arange(200) + 2**60, dtype="Int64")
    if nulls:
        frame.loc[3, "account"] = pd.NA  # among the rows Dask infers the types from
    path = tmp_path / f"t.{suffix}"
    if suffix == "csv":
        frame.to_csv(path, index=False)
    else:  # as a file another tool wrote: no pandas metadata (Int64)
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(
            pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None), path
        )
    refused = (
        r"column 'account' holds \d+ integer\(s\) beyond 2\*\*53 that float64 cannot hold "
        r"exactly \(such as 11529215046068469\d\d, which float64 stores as 1152921504606846976\)"
    )
    with (
        dask.config.set(scheduler="sync"),
        pytest.raises(emkit.exceptions.DataError, match=refused),
    ):
        cluster.read_features(str(path), columns=["length", "account"], missing="em")
    # integers float64 holds (multiples of its spacing there) are read as in memory
    frame["account"] = pd.array(np.arange(200) * 256 + 2**60, dtype="Int64")
    if nulls:
        frame.loc[3, "account"] = pd.NA  # among the rows Dask infers the types from
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    with dask.config.set(scheduler="sync"):
        table = cluster.read_features(str(path), columns=["length", "account"], missing="em")
        got = table.values.compute()["account"].to_numpy()
    want = read_features(path, columns=["length", "account"], missing="em").values[:, 1]
    np.testing.assert_array_equal(got, want)


def test_a_compressed_csv_on_a_dask_cluster_fits_as_in_memory(tmp_path):
    pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    path = tmp_path / "t.csv.gz"
    two_clusters().to_csv(path, sep=";", decimal=",", index=False)
    status, _, err = run_main(["fit", path, "--out", tmp_path / "memory", *FAST])
    assert status == 0, err
    with (
        distributed.LocalCluster(
            n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        argv = ["fit", path, "--scheduler", cluster.scheduler_address, *FAST]
        status, _, err = run_main([*argv, "--out", tmp_path / "cluster"])
    assert status == 0, err
    assert "warning" not in err  # dask's notice that a gzip file is one block
    memory = emkit.load(tmp_path / "memory" / "model.json")
    on_cluster = emkit.load(tmp_path / "cluster" / "model.json")
    np.testing.assert_allclose(on_cluster.means_, memory.means_, rtol=1e-10)


def test_data_columns_named_like_emkits_output_are_written_apart(tmp_path):
    frame = two_clusters().rename(columns={"width": "p0"})
    frame.insert(0, "label", [f"row{i}" for i in range(len(frame))])  # the id (unique)
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    status, _, err = run_main(["fit", path, "--out", tmp_path / "o", *FAST])
    assert status == 0, err
    assert "'label' as 'label_data', 'p0' as 'p0_data'" in err
    header = (tmp_path / "o" / "assignments.csv").read_text().splitlines()[0].split(",")
    assert header == ["label_data", "length", "p0_data", "label", "probability", "p0", "p1"]
    assigned = pd.read_csv(tmp_path / "o" / "assignments.csv")
    model = emkit.load(tmp_path / "o" / "model.json")
    np.testing.assert_array_equal(assigned["label_data"], frame["label"])
    np.testing.assert_array_equal(assigned["p0_data"], frame["p0"])
    np.testing.assert_array_equal(assigned["label"], model.predict(frame[["length", "p0"]]))
    np.testing.assert_allclose(assigned["p0"], model.predict_proba(frame[["length", "p0"]])[:, 0])
    # predict carries the id beside its own label instead of overwriting it
    status, text, err = run_main(["predict", tmp_path / "o" / "model.json", path])
    assert status == 0 and "'label' as 'label_data'" in err
    predicted = pd.read_csv(io.StringIO(text))
    assert list(predicted.columns) == ["label_data", "label", "probability", "p0", "p1"]
    np.testing.assert_array_equal(predicted["label_data"], frame["label"])
    np.testing.assert_array_equal(predicted["label"], assigned["label"])


@pytest.mark.parametrize("flags", [["--decimal", ","], ["--sep", ",", "--decimal", ","]])
def test_one_character_as_delimiter_and_decimal_mark_is_refused(tmp_path, flags):
    path = tmp_path / "t.csv"
    two_clusters().to_csv(path, index=False)  # delimiter ',' (sniffed), decimal '.'
    status, _, err = run_main(["fit", path, *flags, "--out", tmp_path / "o", *FAST])
    assert status == 2
    assert err == (
        f"emkit: error: {path}: ',' cannot be both the delimiter and the decimal mark; give the "
        "delimiter with --sep (e.g. --sep ';' for numbers like 3,14) or the mark with --decimal\n"
    )


def test_empty_and_repeated_header_names_are_named_as_read(tmp_path):
    values = np.hstack([two_clusters(seed=1), two_clusters(seed=2)])  # (60, 4)
    path = tmp_path / "t.csv"
    rows = [",".join(map(str, row)) for row in values]
    path.write_text("\n".join(["x,x,,y", *rows]) + "\n")
    names = list(pd.read_csv(path).columns)  # pandas' own renaming
    assert names == ["x", "x.1", "Unnamed: 2", "y"]
    status, _, err = run_main(["fit", path, "--out", tmp_path / "o", *FAST])
    assert status == 0, err
    assert "read 'x' as 'x.1', '' as 'Unnamed: 2' (name them so in --columns)" in err
    assigned = pd.read_csv(tmp_path / "o" / "assignments.csv")
    assert list(assigned.columns[:4]) == names


@pytest.mark.parametrize("target", ["model", "data"])
def test_predict_never_writes_over_its_own_inputs(tmp_path, model_document, target):
    document, data = model_document
    model = tmp_path / "m.json"
    model.write_text(json.dumps(document))
    before = {path: path.read_bytes() for path in (model, data)}
    out = model if target == "model" else data
    status, _, err = run_main(["predict", model, data, "--out", out])
    assert status == 2 and f"--out {out} is the {target} file" in err
    assert {path: path.read_bytes() for path in (model, data)} == before


def test_the_cap_on_k_names_each_model_once_by_mclusts_name():
    from emkit.cli.capping import capped

    def distinct(prefix):
        return 200

    # 200 rows x 2 columns: EII has 3K parameters (K - 1 + 2K + 1) < 400 -> 133; VVV 6K - 1 -> 66
    _, message = capped([2, 500], ["EII", "full"], (200, 2), 400, distinct)
    assert "identify at most K = 133 (EII), 66 (VVV) components" in message
    assert message.endswith("fitting K = 2,66")
    _, message = capped([1, 2, 3], ["EII", "spherical"], (4, 1), 4, lambda prefix: 4)
    assert "4 rows x 1 column (4 numbers" in message
    assert "identify at most 1 component in every model" in message


@pytest.mark.parametrize("kind", ["parquet-nulls", "csv-nulls"])
def test_a_column_whose_largest_integer_float64_rounds_down_to_2_53_is_refused(tmp_path, kind):
    # 2**53 + 1 is read as float64 2**53, which is not beyond 2**53: where it was the
    # column's largest value, the column was never looked at again and fitted rounded
    frame = two_clusters(200)
    frame["account"] = pd.array(np.where(np.arange(200) % 2, 2**53 + 1, 7), dtype="Int64")
    frame.loc[5, "account"] = pd.NA
    path = tmp_path / ("t.parquet" if kind == "parquet-nulls" else "t.csv")
    if kind == "parquet-nulls":  # as a file another tool wrote: no pandas metadata (Int64)
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
        pq.write_table(table, path)
    else:
        frame.to_csv(path, index=False)
    refused = "such as 9007199254740993, which float64 stores as 9007199254740992"
    with pytest.raises(emkit.exceptions.DataError, match=refused):
        read_features(path, columns=["length", "account"], missing="em")


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_column_whose_largest_integer_float64_rounds_down_to_2_53_is_refused_on_a_cluster(
    tmp_path, suffix
):
    dask = pytest.importorskip("dask")
    from emkit.cli import cluster

    frame = two_clusters(200)
    frame["account"] = pd.array(np.where(np.arange(200) % 2, 2**53 + 1, 7), dtype="Int64")
    frame.loc[3, "account"] = pd.NA  # among the rows Dask infers the types from: float64
    path = tmp_path / f"t.{suffix}"
    if suffix == "csv":
        frame.to_csv(path, index=False)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
        pq.write_table(table, path)
    refused = "such as 9007199254740993, which float64 stores as 9007199254740992"
    with (
        dask.config.set(scheduler="sync"),
        pytest.raises(emkit.exceptions.DataError, match=refused),
    ):
        cluster.read_features(str(path), columns=["length", "account"], missing="em")


def _account_csv(path, account, sep=","):
    """Two clusters' length and width, and an account column of the given text (one row
    missing), as a CSV."""
    frame = two_clusters(200)
    lines = [sep.join(["length", "width", "account"])]
    for i, (length, width) in enumerate(zip(frame["length"], frame["width"], strict=True)):
        lines.append(sep.join([f"{length:.4f}", f"{width:.4f}", "" if i == 5 else account(i)]))
    path.write_text("\n".join(lines) + "\n")


def test_integers_with_thousands_separators_float64_cannot_hold_are_refused(tmp_path):
    # with a missing value the column is float64, judged by its text: "9,007,199,254,740,993"
    # was no integer to it, and the column was fitted rounded without a word
    path = tmp_path / "t.csv"
    _account_csv(path, lambda i: "9,007,199,254,740,993" if i % 2 else "7", sep=";")
    refused = "such as 9007199254740993, which float64 stores as 9007199254740992"
    with pytest.raises(emkit.exceptions.DataError, match=refused):
        read_features(path, columns=["length", "account"], missing="em", sep=";", thousands=",")
    # integers float64 holds are read with their separators
    _account_csv(path, lambda i: "9,007,199,254,740,994" if i % 2 else "7", sep=";")
    table = read_features(path, columns=["length", "account"], missing="em", sep=";", thousands=",")
    assert table.values[1, 1] == 2**53 + 2
