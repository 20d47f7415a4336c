"""Reading the files people have on the command line: thousands separators that read as
decimal commas, header rows that are data, files that are not text tables, column names
with commas, space-separated files, and a few small refusals."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import emkit
from cli_run import run_main
from emkit.cli import cluster
from emkit.cli.table import read_raw
from emkit.exceptions import DataError

ONE_VVV = ["-k", "1", "--covariance", "VVV", "--no-report", "--quiet"]


def fitted_means(tmp_path, path, *options) -> np.ndarray:
    """The means of a one-component fit of ``path`` by ``emkit fit``."""
    status, _, err = run_main(["fit", path, *ONE_VVV, "--out", tmp_path / "o", *options])
    assert status == 0, err
    return emkit.load(tmp_path / "o" / "model.json").means_[0]


# -- thousands separators in a file whose delimiter is not a comma -----------------------------


def test_thousands_separators_are_not_read_as_decimal_commas(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("income\tage\n70,850\t35\n86,013\t55\n52,300\t41\n61,250\t29\n48,900\t63\n")
    as_thousands = pd.read_csv(path, sep="\t", thousands=",").mean().to_numpy()
    assert as_thousands[0] == pytest.approx(63862.6)  # what the file means, read by pandas
    for argv in (
        ["fit", path, *ONE_VVV, "--out", tmp_path / "o"],
        ["mle", "normal", path, "--column", "income"],
    ):
        status, text, err = run_main(argv)
        assert status == 2 and text == "", err
        assert "column 'income' holds numbers written with thousands separators" in err
        assert "'70,850': 70850 or 70.850" in err and "--decimal ," in err
        assert "thousands=','" in err and "sep='\\t'" in err
    with pytest.raises(DataError, match="column 'income'"):
        cluster.read(str(path))  # --workers and --scheduler read it so too
    # where the comma is the decimal mark, --decimal , says so
    as_decimals = pd.read_csv(path, sep="\t", decimal=",").mean().to_numpy()
    np.testing.assert_allclose(fitted_means(tmp_path, path, "--decimal", ","), as_decimals)


def test_decimal_commas_that_only_a_decimal_mark_writes_are_read_as_such(tmp_path):
    # "1,5" and "2,25" are no thousands; "70,850" beside them is 70.85 (one file, one mark)
    path = tmp_path / "e.csv"
    path.write_text("a;b\n1,5;70,850\n2,25;3\n0,125;86,013\n4;5\n")
    expected = pd.read_csv(path, sep=";", decimal=",")
    pd.testing.assert_frame_equal(read_raw(path), expected)
    np.testing.assert_allclose(fitted_means(tmp_path, path), expected.mean().to_numpy())


# -- a header row that is a row of data --------------------------------------------------------

ROWS = "10.38,-2.16\n8.95,-2.81\n9.17,-2.67\n5.12,-2.59\n13.6,-4.01\n7.0,-3.1\n"


def test_a_data_row_as_header_is_refused_on_every_path(tmp_path):
    plain = tmp_path / "noheader.csv"
    plain.write_text(ROWS)
    with_id = tmp_path / "noheader_id.csv"
    with_id.write_text("".join(f"s{i},{line}\n" for i, line in enumerate(ROWS.splitlines())))
    repeated = tmp_path / "repeated.csv"  # pandas reads the names 1.5 and 1.5.1
    repeated.write_text("1.5,1.5\n" + ROWS)
    for argv in (
        ["fit", repeated, *ONE_VVV, "--out", tmp_path / "o"],
        ["fit", with_id, *ONE_VVV, "--out", tmp_path / "o"],  # the text id is left out
        ["fit", plain, "--columns", "10.38,-2.16", *ONE_VVV, "--out", tmp_path / "o"],
        ["mle", "multivariate_normal", plain],
        ["mle", "normal", plain, "--column", "10.38"],
        ["mle", "categorical", with_id, "--column", "s0"],  # a text column: names, never data
    ):
        status, text, err = run_main(argv)
        if argv[1] == "categorical":
            assert status == 0, err
            continue
        assert status == 2 and text == "", err
        assert "looks like data, not column names" in err and "add a header row" in err
    with pytest.raises(DataError, match=r"the first row \(10.38, -2.16\) looks like data"):
        cluster.read_features(str(plain))  # --workers and --scheduler


def test_whole_number_names_over_fractions_are_a_header(tmp_path):
    # years, or the names pandas writes for an array's columns: a header, every row kept
    values = np.array([[1.5, 2.25], [3.5, 1.0], [2.0, 7.5], [4.5, 3.0], [0.25, 1.75]])
    for names in (["2019", "2020"], ["0", "1"]):
        path = tmp_path / "years.csv"
        pd.DataFrame(values, columns=names).to_csv(path, index=False)
        np.testing.assert_allclose(fitted_means(tmp_path, path), values.mean(axis=0))
        table = cluster.read_features(str(path))
        assert table.names == names and table.summary.n_rows == len(values)
    # over whole numbers they cannot be told from a row of counts: refused, with the way out
    counts = tmp_path / "counts.csv"
    counts.write_text("2019,2020\n3,5\n4,1\n6,2\n")
    status, _, err = run_main(["fit", counts, *ONE_VVV, "--out", tmp_path / "o"])
    assert status == 2 and "looks like data" in err and "(y2019, not 2019)" in err


# -- files that are not text tables ------------------------------------------------------------


def test_binary_files_get_advice_for_what_they_are(tmp_path):
    x = np.random.default_rng(0).normal(size=(20, 2))
    np.save(tmp_path / "x.npy", x)
    pd.DataFrame(x, columns=["a", "b"]).to_feather(tmp_path / "x.feather")
    pd.DataFrame(x, columns=["a", "b"]).to_parquet(tmp_path / "x.dat")
    (tmp_path / "x.xls").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + bytes(500))
    with zipfile.ZipFile(tmp_path / "x.xlsx", "w") as book:  # a workbook is a zip archive
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("xl/workbook.xml", "<workbook/>")
    expected = {
        "x.npy": "a NumPy array file, not a table: the library reads it",
        "x.feather": "a Feather (Arrow IPC) file",
        "x.dat": "a Parquet file: give it the suffix .parquet",
        "x.xls": "an Excel workbook",
        "x.xlsx": "an Excel workbook",
    }
    for name, what in expected.items():
        status, _, err = run_main(["fit", tmp_path / name, *ONE_VVV, "--out", tmp_path / "o"])
        assert status == 2 and what in err and "iconv" not in err, err
        status, _, err = run_main(["mle", "normal", tmp_path / name, "--column", "a"])
        assert status == 2 and what in err, err
    # the library reads the .npy file it names
    np.testing.assert_allclose(
        emkit.GaussianMixture(1).fit(tmp_path / "x.npy").means_[0], x.mean(axis=0)
    )


def test_a_compressed_table_not_in_utf8_gets_a_command_that_decompresses_first(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    with gzip.open("l.csv.gz", "wb") as f:
        f.write("café,b\n1,2\n3,4\n5,7\n".encode("latin-1"))
    status, _, err = run_main(["fit", "l.csv.gz", *ONE_VVV, "--out", "o"])
    assert status == 2
    command = "gunzip -c l.csv.gz | iconv -f latin1 -t utf-8 > utf8.csv"
    assert command in err
    if shutil.which("gunzip") and shutil.which("iconv"):  # the advice, followed, reads
        subprocess.run(command, shell=True, check=True)
        expected = pd.read_csv("l.csv.gz", encoding="latin-1")
        pd.testing.assert_frame_equal(read_raw("utf8.csv"), expected)


# -- column names with a comma -----------------------------------------------------------------


def test_a_column_name_with_a_comma_is_chosen_in_quotes(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text('"income, net",y,z\n1,2,3\n2,4,1\n3,3,3\n4,1,0\n5,7,2\n')
    frame = pd.read_csv(path)
    means = fitted_means(tmp_path, path, "--columns", '"income, net",y')
    np.testing.assert_allclose(means, frame[["income, net", "y"]].mean().to_numpy())
    means = fitted_means(tmp_path, path, "--exclude", '"income, net"')
    np.testing.assert_allclose(means, frame[["y", "z"]].mean().to_numpy())
    status, _, err = run_main(["fit", path, "--columns", "income, net,y", *ONE_VVV])
    assert status == 2
    assert 'columns are "income, net", y, z' in err and "in double quotes" in err
    status, text, err = run_main(
        ["mle", "multivariate_normal", path, "--columns", '"income, net",z']
    )
    assert status == 0, err
    assert text.startswith(f'{path}: columns "income, net", z')
    status, _, err = run_main(["fit", path, "--columns", '"income, net,y', *ONE_VVV])
    assert status == 2 and "a quote is not closed" in err


# -- space-separated files ---------------------------------------------------------------------


def test_a_savetxt_file_says_it_is_space_separated_and_how_to_read_it(tmp_path):
    x = np.random.default_rng(0).normal(size=(20, 2))
    path = tmp_path / "x.txt"
    np.savetxt(path, x)
    status, _, err = run_main(["fit", path, *ONE_VVV, "--out", tmp_path / "o"])
    assert status == 2
    assert "separated by spaces" in err and "with no header row" in err
    assert "--sep ' '" in err and "add a header row" in err
    # the advice, followed, reads every row
    headed = tmp_path / "h.txt"
    headed.write_text("a b\n" + path.read_text())
    np.testing.assert_allclose(fitted_means(tmp_path, headed, "--sep", " "), x.mean(axis=0))
    # padded columns: the conversion named reads them
    padded = tmp_path / "w.txt"
    np.savetxt(padded, x, fmt="%10.4f")
    status, _, err = run_main(["mle", "multivariate_normal", padded])
    assert status == 2 and "pandas.read_csv('w.txt', sep=r'\\s+', header=None)" in err
    np.testing.assert_allclose(
        pd.read_csv(padded, sep=r"\s+", header=None).to_numpy(), x.round(4), atol=1e-12
    )


# -- small refusals ----------------------------------------------------------------------------


def test_an_empty_out_is_refused_and_the_current_folder_kept(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"x": [1.5, 2.0, 3.5, 0.5], "y": [1.0, 4.0, 2.5, 3.0]}).to_csv(
        "d.csv", index=False
    )
    before = sorted(p.name for p in tmp_path.iterdir())
    status, _, err = run_main(["fit", "d.csv", *ONE_VVV, "--out", ""])
    assert status == 2 and "--out '': the path is empty" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    status, _, _ = run_main(["fit", "d.csv", *ONE_VVV, "--out", "o"])
    assert status == 0
    status, text, err = run_main(["predict", "o/model.json", "d.csv", "--out", ""])
    assert status == 2 and text == "" and "--out '': the path is empty" in err


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_out_nothing_can_be_written_into_is_refused_before_the_fit(tmp_path):
    # /proc/...: its parent exists and is a folder, so the check of the path let it by, and
    # the whole grid ran before the write failed (root passes os.access there). The data
    # named do not exist: the refusal comes before they are read.
    data = tmp_path / "absent.csv"
    for flag in ("--out", "--checkpoint"):
        out = "/proc/emkit-out" if flag == "--out" else tmp_path / "o"
        checkpoint = ["--checkpoint", "/proc/emkit-out"] if flag == "--checkpoint" else []
        status, text, err = run_main(["fit", data, *ONE_VVV, "--out", out, *checkpoint])
        assert status == 2 and text == "", err
        assert f"{flag} /proc/emkit-out: cannot write into /proc" in err
    assert list(tmp_path.iterdir()) == []


def test_predicts_missing_value_advice_and_a_one_row_table(tmp_path):
    data = tmp_path / "d.csv"
    pd.DataFrame({"x": [1.5, 2.0, 3.5, 0.5], "y": [1.0, 4.0, 2.5, 3.0]}).to_csv(data, index=False)
    status, _, err = run_main(["fit", data, *ONE_VVV, "--out", tmp_path / "o"])
    assert status == 0, err
    holes = tmp_path / "holes.csv"
    holes.write_text("x,y\n1.5,\n2,3\n")
    status, _, err = run_main(["predict", tmp_path / "o" / "model.json", holes])
    assert status == 2 and "to label those rows as missing at random" in err
    assert "to fit them" not in err
    one = tmp_path / "one.csv"
    one.write_text("x,y\n1,2\n")
    status, _, err = run_main(["fit", one, *ONE_VVV, "--out", tmp_path / "o"])
    assert status == 2 and "only one row" in err and "constant" not in err


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_empty_lines_of_a_one_column_file_are_named_when_skipped(tmp_path, newline):
    # pandas and pyarrow skip empty lines; in a one-column file each may be a row whose value
    # is missing (an empty cell), and it was dropped from the count without a word.
    lines = ["x", "1", "", "3", "2", "", "4", "5", ""]  # two inside, one at the end
    one = tmp_path / "one.csv"
    one.write_text(newline.join(lines) + newline, newline="")
    status, out, err = run_main(["mle", "poisson", one, "--column", "x"])
    assert status == 0 and "No. observations: 5 " in out
    assert "skipped 3 empty lines" in err and "write NA there" in err
    status, out, err = run_main(["fit", one, "-k", "1", "--out", tmp_path / "o", "--quiet"])
    assert status == 0 and "skipped 3 empty lines" in err
    packed = tmp_path / "one.csv.xz"  # read by pandas
    packed.write_bytes(__import__("lzma").compress(one.read_bytes()))
    status, _, err = run_main(["mle", "poisson", packed, "--column", "x"])
    assert status == 0 and "skipped 3 empty lines" in err
    for text in ("x\n1\n3\n", "x,y\n1,2\n\n3,4\n"):  # none; several columns: no row
        other = tmp_path / "other.csv"
        other.write_text(text)
        status, _, err = run_main(["mle", "poisson", other, "--column", "x"])
        assert status == 0 and "empty line" not in err
