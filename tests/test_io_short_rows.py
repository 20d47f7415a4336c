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


# ---- files pandas reads whole, which are no short rows ----------------------------------

BIG_FIELD = "x" * 200_000  # over the csv module's field size limit (131072), which pandas reads


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a line of spaces or tabs: pandas skips it as it skips an empty line
        ("a,b\n1,2\n   \n3,\n", [[1.0, 2.0], [3.0, np.nan]]),
        ("a,b\r\n1,2\r\n\t \r\n3,\r\n", [[1.0, 2.0], [3.0, np.nan]]),
        ("a,b\n1,2\n3,\n  ", [[1.0, 2.0], [3.0, np.nan]]),
        ("  \na,b\n1,2\n3,\n4\n", None),  # before the header: the short row is still found
        # a header ending in a delimiter: its unnamed column is missing in every row
        ("a,b,\n1,2\n3,4\n", [[1.0, 2.0, np.nan], [3.0, 4.0, np.nan]]),
        ("a,b,\n1,2,\n3,4\n", [[1.0, 2.0, np.nan], [3.0, 4.0, np.nan]]),
    ],
    ids=["spaces", "tab-crlf", "spaces-last", "spaces-first", "header-comma", "mixed-commas"],
)
def test_lines_pandas_skips_and_a_headers_unnamed_column_are_no_short_rows(
    tmp_path, text, expected
):
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode())
    if expected is None:
        with pytest.raises(DataError, match=f"{path}: line 5 has 1 field but the header has 2"):
            read_csv(path)
        return
    frame = read_csv(path)
    # what pandas reads the file as, with nothing refused
    np.testing.assert_array_equal(frame.to_numpy(dtype=float), expected)


def test_a_header_ending_in_a_delimiter_still_finds_a_row_short_of_its_named_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,\n1,2\n3\n")
    with pytest.raises(DataError, match=f"{path}: line 3 has 1 field but the header has 3"):
        read_csv(path)


def test_a_field_over_the_csv_modules_limit_is_read_as_pandas_reads_it(tmp_path):
    # csv.reader raised "field larger than field limit (131072)": the file was refused
    path = tmp_path / "t.csv"
    path.write_text(f"id,a,b\n{BIG_FIELD},1.5,2.5\nr2,3.5,\n")
    frame = read_csv(path)
    assert frame.shape == (2, 3)
    assert frame["id"][0] == BIG_FIELD
    assert np.isnan(frame["b"][1])


@pytest.mark.parametrize("case", ["spaces", "header-comma", "big-field"])
def test_emkit_fit_with_workers_reads_what_pandas_reads(tmp_path, monkeypatch, case, request):
    # The Dask reading (that of --workers and --scheduler alike) on worker processes: one
    # case through --workers itself, the others on the session's cluster (each --workers
    # started one, most of such a test's time).
    pytest.importorskip("dask.dataframe")
    monkeypatch.chdir(tmp_path)
    rows = list(ROWS[:60])
    rows[45] = rows[45].split(",")[0] + ","  # a missing value in the last column
    header = "a,b"
    if case == "spaces":
        rows.insert(30, "   ")
    elif case == "header-comma":
        header = "a,b,"
    else:
        header = "id,a,b"
        rows = [f"{BIG_FIELD if i == 3 else f'r{i}'},{row}" for i, row in enumerate(rows)]
    path = tmp_path / "t.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    args = ["fit", path, "-k", "1", "--covariance", "diag", "--missing", "em", "--no-report"]
    if case == "spaces":
        where = ["--workers", "1"]
    else:
        where = ["--scheduler", request.getfixturevalue("dask_cluster").scheduler_address]
    status, _, err = run_main([*args, *where])
    assert status == 0, err
    status, _, err = run_main([*args, "--out", tmp_path / "memory"])
    assert status == 0, err


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_a_tar_archive_is_read_as_pandas_reads_it(tmp_path, mode):
    # pandas reads the one file of a .tar (.tar.gz, ...); the check read the archive's bytes
    # (gunzipped only), and its padding of NUL bytes after the last line was a short row
    import io
    import tarfile

    import pandas as pd

    data = b"a,b\n1.5,2.5\n3.5,\n"
    suffix = {"w": ".tar", "w:gz": ".tar.gz", "w:bz2": ".tar.bz2", "w:xz": ".tar.xz"}[mode]
    path = tmp_path / f"t.csv{suffix}"
    with tarfile.open(path, mode) as archive:
        member = tarfile.TarInfo("t.csv")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))
    pd.testing.assert_frame_equal(read_csv(path), pd.read_csv(path))
    np.testing.assert_array_equal(read_csv(path).to_numpy(), [[1.5, 2.5], [3.5, np.nan]])


@pytest.mark.parametrize("block", [1 << 24, 5])
def test_the_bytewise_count_agrees_with_the_csv_modules_rows(monkeypatch, block):
    # no_short_rows (NumPy, on the bytes) clears a file only where the csv module finds no
    # short row, and clears every unquoted file it finds none in (else it saves nothing);
    # blocks of 5 bytes put lines across blocks
    import io
    import random

    from emkit import io as emkit_io
    from emkit.io import first_short_row, no_short_rows

    monkeypatch.setattr(emkit_io, "SCAN_BYTES", block)

    rng = random.Random(0)
    lines = ["1,2,3", "4,,6", ",,", "7,8", "9", "", "   ", "\t", "1,2,3,4", " 5 , 6 ,7"]
    cleared = 0
    for case in range(1500):
        sep = rng.choice([",", ";", "\t"])
        header = rng.choice(["a,b,c", "a,b,c,", "a,b", ",a,b", ",,"]).replace(",", sep)
        rows = [rng.choice(lines).replace(",", sep) for _ in range(rng.randrange(0, 8))]
        newline = rng.choice(["\n", "\r\n"])
        text = rng.choice(["", "\n", " \n"]) + newline.join([header, *rows])
        text += rng.choice(["", newline])
        fields = len(header.split(sep))
        exact = first_short_row(io.StringIO(text, newline=""), sep, fields)
        fast = no_short_rows(io.BytesIO(text.encode()), sep)
        assert fast == (exact is None), (case, text)
        cleared += fast
    assert 250 < cleared < 1450  # both kinds of file were drawn


def test_the_bytewise_count_leaves_quotes_and_lone_returns_to_the_csv_module():
    import io

    from emkit.io import no_short_rows

    for text in ['a,b\n"1,2"\n', 'a,b\n"1\n2",3\n', "a,b\r1\r2,3\r"]:
        assert not no_short_rows(io.BytesIO(text.encode()), ",")
    assert no_short_rows(io.BytesIO(b"\xef\xbb\xbfa,b\n1,2\n\n3,4"), ",")
