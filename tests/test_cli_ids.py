"""The id column ``emkit fit`` and ``emkit predict`` carry into their output, whatever holds
it: a CSV read in several blocks, a Parquet file of several row groups, a folder of Parquet
files (pandas keeps such text in chunked Arrow arrays); and how to carry none."""

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import emkit
import emkit.cli.table
from cli_run import run_main
from emkit.cli.fit import read_features

FAST = ["-k", "2", "--covariance", "full", "--quiet", "--no-report"]


def named_rows(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """A text column of distinct names, then two numeric columns in two clusters."""
    rng = np.random.default_rng(seed)
    group = np.arange(n) % 2
    return pd.DataFrame(
        {
            "name": [f"r{i}" for i in range(n)],
            "x": rng.normal(size=n) + 5.0 * group,
            "y": rng.normal(size=n) - 5.0 * group,
        }
    )


def several_chunks(ids: pd.Series) -> bool:
    column = pa.array(ids, from_pandas=True)
    return isinstance(column, pa.ChunkedArray) and column.num_chunks > 1


@pytest.fixture
def small_blocks(monkeypatch):
    """pyarrow reads a CSV in 4 KiB blocks, so that a small file gives a chunked id column."""
    monkeypatch.setattr(emkit.cli.table, "ARROW_BLOCK_BYTES", 4096)


def csv_file(tmp_path, frame):
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    return path


def parquet_file(tmp_path, frame):
    path = tmp_path / "rows.parquet"
    frame.to_parquet(path, row_group_size=200)
    return path


def parquet_folder(tmp_path, frame):
    folder = tmp_path / "parts"
    folder.mkdir()
    frame.iloc[:700].to_parquet(folder / "part-0.parquet")
    frame.iloc[700:].to_parquet(folder / "part-1.parquet")
    return folder


@pytest.mark.parametrize("source", [csv_file, parquet_file, parquet_folder])
def test_fit_and_predict_write_chunked_ids_with_their_rows(tmp_path, small_blocks, source):
    frame = named_rows()
    data = source(tmp_path, frame)
    assert several_chunks(read_features(data).ids)  # the case this test is about
    out = tmp_path / "out"
    status, stdout, err = run_main(["fit", data, *FAST, "--out", out])
    assert status == 0
    assert "id column 'name'" in err and "assignments.csv  name, " in stdout
    written = pd.read_csv(out / "assignments.csv")
    assert list(written.columns[:3]) == ["name", "x", "y"]
    assert written["name"].tolist() == frame["name"].tolist()
    np.testing.assert_array_equal(written[["x", "y"]], frame[["x", "y"]])
    model = emkit.load(out / "model.json")
    expected = model.predict(frame[["x", "y"]])
    np.testing.assert_array_equal(written["label"], expected)
    assert np.bincount(expected).tolist() == [750, 750]  # clusters 5 sd apart: every row right

    predicted = tmp_path / "predicted.csv"
    status, _, _ = run_main(["predict", out / "model.json", data, "--out", predicted])
    assert status == 0
    rows = pd.read_csv(predicted)
    assert rows["name"].tolist() == frame["name"].tolist()
    np.testing.assert_array_equal(rows["label"], expected)
    np.testing.assert_allclose(rows[["p0", "p1"]], model.predict_proba(frame[["x", "y"]]))


def test_exclude_carries_no_id_and_the_note_says_how(tmp_path):
    data = csv_file(tmp_path, named_rows(200))
    out = tmp_path / "out"
    status, stdout, err = run_main(["fit", data, *FAST, "--columns", "x,y", "--out", out])
    assert status == 0
    assert "id column 'name' (the first id-like or text column of unique values)" in err
    assert "--exclude name carries none" in err
    assert pd.read_csv(out / "assignments.csv").columns[0] == "name"

    argv = ["fit", data, *FAST, "--columns", "x,y", "--exclude", "name", "--out", out]
    status, stdout, err = run_main(argv)
    assert status == 0 and "id column" not in err
    assert list(pd.read_csv(out / "assignments.csv").columns[:3]) == ["x", "y", "label"]
    assert "assignments.csv  the data's columns, label" in stdout
    # --id still names the column --exclude keeps out of the model
    argv = ["fit", data, *FAST, "--exclude", "name", "--id", "name", "--out", out]
    status, _, err = run_main(argv)
    assert status == 0 and "id column 'name' (--id)" in err
    assert pd.read_csv(out / "assignments.csv").columns[0] == "name"


def test_predict_suggests_only_flags_it_takes(tmp_path):
    """``emkit predict`` has no --exclude: its note on the id column must not offer one."""
    data = csv_file(tmp_path, named_rows(200))
    out = tmp_path / "out"
    assert run_main(["fit", data, *FAST, "--columns", "x,y", "--out", out])[0] == 0
    argv = ["predict", out / "model.json", data, "--out", tmp_path / "p.csv"]
    status, _, err = run_main(argv)
    assert status == 0
    assert "id column 'name'" in err and "--id names another" in err
    assert "--exclude" not in err
    with pytest.raises(SystemExit):  # argparse: the flag the note named before
        run_main([*argv, "--exclude", "name"])


def test_a_text_column_of_repeated_values_is_no_id(tmp_path):
    """A two-level ``group`` column named the rows of ``assignments.csv`` and of ``emkit predict``
    (the first text column was the id whatever its values); only a text column of unique values
    is found as the id, else the rows are numbered as where no text column is."""
    frame = named_rows(200).drop(columns="name")
    frame.insert(0, "group", np.where(np.arange(200) % 2 == 0, "a", "b"))
    data = csv_file(tmp_path, frame)
    out = tmp_path / "out"
    status, _, err = run_main(["fit", data, *FAST, "--out", out])
    assert status == 0
    assert "id column" not in err and "skipped 1 non-numeric column: group" in err
    rows = pd.read_csv(out / "assignments.csv")
    assert list(rows.columns[:3]) == ["x", "y", "label"] and len(rows) == 200
    predicted = tmp_path / "p.csv"
    status, _, err = run_main(["predict", out / "model.json", data, "--out", predicted])
    assert status == 0 and "id column" not in err
    assert "group" not in pd.read_csv(predicted).columns

    # a later text column of unique values is the id; the group column is skipped
    frame.insert(1, "name", [f"r{i}" for i in range(200)])
    data = csv_file(tmp_path, frame)
    status, _, err = run_main(["fit", data, *FAST, "--out", out])
    assert status == 0 and "id column 'name'" in err
    rows = pd.read_csv(out / "assignments.csv")
    assert rows.columns[0] == "name"
    assert rows["name"].tolist() == frame["name"].tolist()
    # --id still takes a column of repeated values where asked
    status, _, err = run_main(["fit", data, *FAST, "--id", "group", "--out", out])
    assert status == 0 and "id column 'group' (--id)" in err
    assert pd.read_csv(out / "assignments.csv")["group"].tolist() == frame["group"].tolist()


@pytest.mark.parametrize(
    "written, plain",
    [
        (lambda i: f"{i:05d}", False),  # zip codes, account numbers
        (lambda i: f"{i}.10", False),
        (lambda i: f"+{i}", False),
        (lambda i: str(i), True),  # plain integers stay numbers
        (lambda i: f"{i}.5", True),
    ],
)
@pytest.mark.parametrize("reader", ["pyarrow", "pandas"])
def test_ids_of_numbers_are_written_as_the_file_holds_them(tmp_path, written, plain, reader):
    # "00012" was read as the number 12 and written so: the key the rows are joined on lost.
    frame = named_rows(200).rename(columns={"name": "id"})
    frame["id"] = [written(i) for i in range(200)]
    path = tmp_path / ("rows.csv" if reader == "pyarrow" else "rows.csv.xz")  # pandas reads xz
    frame.to_csv(path, index=False)
    opened = emkit.cli.table.open_columns(path)
    assert type(opened).__name__ == ("CsvColumns" if reader == "pyarrow" else "FrameColumns")
    table = read_features(path)
    assert table.ids.tolist() == (
        pd.to_numeric(frame["id"]).tolist() if plain else frame["id"].tolist()
    )
    out = tmp_path / "out"
    status, _, err = run_main(["fit", path, *FAST, "--out", out])
    assert status == 0 and "id column 'id'" in err
    again = pd.read_csv(out / "assignments.csv", dtype={"id": str}, keep_default_na=False)
    expected = [str(x) for x in pd.to_numeric(frame["id"])] if plain else frame["id"].tolist()
    assert again["id"].tolist() == expected
    status, text, _ = run_main(["predict", out / "model.json", path])
    assert status == 0
    rows = pd.read_csv(io.StringIO(text), dtype={"id": str}, keep_default_na=False)
    assert rows["id"].tolist() == expected


@pytest.mark.parametrize("codes", [True, False])
def test_ids_of_numbers_on_a_cluster_are_written_as_the_file_holds_them(tmp_path, codes):
    # The reading for --workers (Dask's): the id column's text is kept where the numbers
    # would be written otherwise, found in the pass that counts the columns; else numbers.
    from emkit.cli import cluster

    frame = named_rows(300).rename(columns={"name": "id"})
    frame["id"] = [f"{i:05d}" if codes else str(i) for i in range(300)]
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    import dask

    with dask.config.set(scheduler="sync"):
        table = cluster.read_features(str(path), drop_constant=False)
        ids = table.frame[table.ids].compute()
    expected = read_features(path).ids
    assert ids.tolist() == expected.tolist()
    assert ids.tolist() == (frame["id"].tolist() if codes else list(range(300)))


def test_a_column_named_like_an_id_that_is_used_as_a_feature_is_named(tmp_path):
    # customer_id with repeated values is no id: it was fitted as a feature without a word.
    frame = named_rows(200).drop(columns="name")
    frame.insert(0, "customer_id", np.arange(200) % 50)
    path = csv_file(tmp_path, frame)
    status, out, err = run_main(["fit", path, *FAST, "--out", tmp_path / "out"])
    assert status == 0 and "x 3 columns (customer_id, x, y)" in out
    assert "column customer_id, named like an id but with repeated or missing values, is " in err
    assert "--exclude customer_id if it names rows" in err
    status, out, err = run_main(
        ["fit", path, *FAST, "--out", tmp_path / "out", "--exclude", "customer_id"]
    )
    assert status == 0 and "x 2 columns (x, y)" in out and "named like an id" not in err


@pytest.mark.parametrize("columns", [["x"], ["x", "y"]])
def test_a_report_on_a_cluster_draws_its_rows_without_a_feature_names_warning(
    tmp_path, dask_cluster, columns
):
    # On a cluster the model is fitted on the Dask frame's named columns, and the report's
    # figures predict on a NumPy sample of the rows: scikit-learn warned "X does not have valid
    # feature names" (an in-memory fit, on NumPy rows, never did). One column draws the
    # density curve (score_samples), both the clusters and the uncertainty (predict, predict_proba).
    path = tmp_path / "named.parquet"
    named_rows(400)[["name", *columns]].to_parquet(path)
    out = tmp_path / "out"
    status, _, err = run_main(
        [
            "fit",
            str(path),
            "-k",
            "2",
            "--covariance",
            "full",
            "--id",
            "name",
            "--scheduler",
            dask_cluster.scheduler_address,
            "--out",
            str(out),
        ]
    )
    assert status == 0, err
    assert "feature names" not in err
    assert (out / "report.html").is_file()
