"""Rows with fewer fields than the header (a file cut short, delimiters missing): pandas fills
the fields they lack with NaN, as if the values were missing, and pyarrow refuses them (emkit
then read the file by pandas). Refused naming the row by :func:`emkit.io.read_table`, by
``emkit fit`` in memory and on Dask's blocks; empty fields ("3,") stay missing values."""

import gzip

import numpy as np
import pytest

from cli_run import run_main
from emkit.exceptions import DataError
from emkit.io import read_csv, read_table
from test_io_long_rows import ROWS, small_blocks

SHORT = "has 1 field but the header has 2 ('4'): a row cut short"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("a,b\n1.5,2.5\n3.5,4.5\n4\n", "line 4"),  # the last line cut off
        ("a,b\n1.5,2.5\n\n4\n3.5,4.5\n", "line 4"),  # an empty line before it: pandas skips it
        ('a,b\n"1\n5",2.5\n4\n', "line 4"),  # a quoted field spans lines 2 and 3
    ],
)
def test_read_table_refuses_a_row_shorter_than_the_header(tmp_path, text, where):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        read_table(path)
    assert str(info.value).startswith(f"{path}: {where} {SHORT}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a,b\n1.5,2.5\n4,\n", [[1.5, 2.5], [4.0, np.nan]]),  # an empty field: missing
        ('a,b\n1.5,2.5\n"4",""\n', [[1.5, 2.5], [4.0, np.nan]]),
        ("a,b\n1.5,2.5\n,\n3,4\n", [[1.5, 2.5], [np.nan, np.nan], [3.0, 4.0]]),
        ('a,b\n"1,5",2.5\n', [["1,5", 2.5]]),  # a quoted delimiter is no field
    ],
)
def test_read_table_reads_every_field_written_empty_as_missing(tmp_path, text, expected):
    path = tmp_path / "t.csv"
    path.write_text(text)
    frame = read_csv(path)
    assert frame.shape == (len(expected), 2)
    for got, want in zip(frame.to_numpy().tolist(), expected, strict=True):
        assert [str(v) for v in got] == [str(v) for v in want]


def test_a_one_column_files_empty_lines_are_no_short_rows(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a\n1\n\n2\n")
    np.testing.assert_array_equal(read_table(path)["a"], [1, 2])


@pytest.mark.parametrize("missing", [[], ["--missing", "em"]])
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_emkit_fit_refuses_a_file_cut_short(tmp_path, monkeypatch, missing, suffix):
    # with --missing em the cut-off row was fitted as a row whose b is missing; without it the
    # error blamed a missing value the file does not show
    monkeypatch.chdir(tmp_path)
    text = "a,b\n" + "\n".join(ROWS[:40]) + "\n4"
    path = tmp_path / f"t{suffix}"
    if suffix.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    status, _, err = run_main(["fit", path, "-k", "1", "--covariance", "diag", *missing])
    assert status != 0
    assert f"{path}: line 42 {SHORT}" in err
    assert not (tmp_path / "emkit-out").exists()


@pytest.mark.parametrize("row", [50, 70])
def test_cluster_read_refuses_a_short_row_in_a_later_block(tmp_path, monkeypatch, row):
    pytest.importorskip("dask.dataframe")
    from emkit.cli.cluster import read

    rows = list(ROWS)
    rows[row] = "4"
    path = tmp_path / "t.csv"
    path.write_text("a,b\n" + "\n".join(rows) + "\n")
    small_blocks(monkeypatch)
    with pytest.raises(DataError) as info:  # in the first rows read, or a later block
        raw = read(str(path))
        assert raw.frame.npartitions == 2
        raw.frame.compute(scheduler="sync")
    assert str(info.value).startswith(f"{path}: a row {SHORT}")
