"""Rows with more fields than the header, read by the library's :func:`emkit.io.read_table`
and by the Dask side of ``emkit fit`` (:func:`emkit.cli.cluster.read`): refused naming the
row, never read with the first field of each row as the row index and the rest shifted left."""

import functools

import numpy as np
import pytest

from emkit.exceptions import DataError
from emkit.io import read_table

LONG = "has 3 fields but the header has 2 (delimiter ',')"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        # pandas made the first column the index and read b's values as a's
        ("a,b\n1.5,2.5,9\n3.5,4.5,9\n", "line 2"),
        ("a,b\n\n1.5,2.5,9\n3.5,4.5\n", "line 3"),
        ("a,b\n1.5,2.5\n3.5,4.5,9\n", "line 3"),
    ],
)
def test_read_table_refuses_a_row_longer_than_the_header(tmp_path, text, where):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        read_table(path)
    assert str(info.value).startswith(f"{path}: {where} {LONG}")


@pytest.mark.parametrize(
    "text",
    [
        "a,b\n1.5,2.5\n3.5,4.5\n",
        # an empty field after a delimiter at the end of each row: dropped (pandas' index_col=False)
        "a,b\n1.5,2.5,\n3.5,4.5,\n",
    ],
)
def test_read_table_reads_a_clean_file_as_written(tmp_path, text):
    path = tmp_path / "t.csv"
    path.write_text(text)
    frame = read_table(path)
    np.testing.assert_array_equal(frame.to_numpy(), [[1.5, 2.5], [3.5, 4.5]])
    assert list(frame.columns) == ["a", "b"]


# 8 bytes a row after a 4-byte header: Dask cuts 804 bytes read in blocks of 402 after the
# newline at byte 403, so the second block begins with data row 51 (0-based 50)
ROWS = [f"{i / 10:03.1f},{i + 1:03d}" for i in range(100)]


def small_blocks(monkeypatch):
    """Dask's CSV reader with 402-byte blocks, so that a short file has two."""
    from dask.dataframe.io import csv

    monkeypatch.setattr(csv, "read_pandas", functools.partial(csv.read_pandas, blocksize=402))


@pytest.mark.parametrize("row", [50, 70])
def test_cluster_read_refuses_a_long_row_in_a_later_block(tmp_path, monkeypatch, row):
    pytest.importorskip("dask.dataframe")
    from emkit.cli.cluster import read

    rows = list(ROWS)
    rows[row] = "5.0,5,51"  # 8 bytes too: at the start of the second block, or inside it
    path = tmp_path / "t.csv"
    path.write_text("a,b\n" + "\n".join(rows) + "\n")
    small_blocks(monkeypatch)
    raw = read(str(path))
    assert raw.frame.npartitions == 2
    with pytest.raises(DataError) as info:
        raw.frame.compute(scheduler="sync")
    assert str(info.value).startswith(f"{path}: a row {LONG}")


def test_cluster_read_of_clean_blocks_is_the_file(tmp_path, monkeypatch):
    pytest.importorskip("dask.dataframe")
    from emkit.cli.cluster import read

    path = tmp_path / "t.csv"
    path.write_text("a,b\n" + "\n".join(ROWS) + "\n")
    small_blocks(monkeypatch)
    raw = read(str(path))
    assert raw.frame.npartitions == 2
    frame = raw.frame.compute(scheduler="sync")
    np.testing.assert_allclose(frame["a"], np.arange(100) / 10)
    np.testing.assert_array_equal(frame["b"], np.arange(1, 101))
