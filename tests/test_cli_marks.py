"""The command line and the numbers and names people write: '.' between thousands beside a
decimal comma, column names that differ by a space, names in suggested commands, the format
of ``emkit predict --out``, standard input, a delimiter at the end of a line and Ctrl-C
ignored by the shell that started emkit."""

from __future__ import annotations

import gzip
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import emkit
from cli_run import run_main
from emkit.cli import cluster
from emkit.cli.fit import parse_list
from emkit.cli.table import read_raw, sniff
from emkit.exceptions import DataError

ONE_VVV = ["-k", "1", "--covariance", "VVV", "--no-report", "--quiet"]
SRC = str(Path(emkit.__file__).resolve().parents[1])


def german_table(path: Path, extra: str = "", value=lambda i: "") -> Path:
    """A ';' table as German spreadsheets export it: heights with a decimal comma, incomes
    and rents with '.' between thousands (``3.427`` is 3427), the QA finding's file."""
    rng = np.random.default_rng(0)
    lines = ["groesse;einkommen;miete" + extra]
    for i in range(100):
        g = rng.normal(170, 10) + 20 * (i < 50)
        e, m = int(rng.uniform(1000, 9999)), int(rng.uniform(1000, 2999))
        lines.append(
            f"{g:.1f}".replace(".", ",")
            + f";{e // 1000}.{e % 1000:03d};{m // 1000}.{m % 1000:03d}"
            + value(i)
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def fitted_means(tmp_path, path, *options) -> np.ndarray:
    status, _, err = run_main(["fit", path, *ONE_VVV, "--out", tmp_path / "o", *options])
    assert status == 0, err
    return emkit.load(tmp_path / "o" / "model.json").means_[0]


# -- 1. '.' between thousands beside a decimal comma ----------------------------------------


def test_dot_thousands_beside_a_decimal_comma_are_read_as_thousands(tmp_path):
    path = german_table(tmp_path / "g.csv")
    truth = pd.read_csv(path, sep=";", decimal=",", thousands=".")  # what the file means
    assert truth["einkommen"].iloc[0] == 3427 and truth["miete"].iloc[0] == 1081
    assert sniff(path) == (";", ",")  # 3.427 casts no vote for a decimal point
    for options in ([], ["--decimal", ","], ["--decimal", ",", "--thousands", "."]):
        status, _, err = run_main(["fit", path, *ONE_VVV, "--out", tmp_path / "o", *options])
        assert status == 0, err
        model = emkit.load(tmp_path / "o" / "model.json")
        assert list(model.feature_names_in_) == ["groesse", "einkommen", "miete"]
        np.testing.assert_allclose(model.means_[0], truth.mean().to_numpy(), rtol=1e-12)
        assert "'einkommen', 'miete' read with '.' as the thousands separator" in err
        assert "'3.427' as 3427" in err
    status, text, err = run_main(["mle", "normal", path, "--column", "miete"])
    assert status == 0, err
    assert f"{truth['miete'].mean():.4g}" in text.replace(",", "")


def test_only_columns_written_so_throughout_are_read_with_thousands(tmp_path):
    """pandas' thousands='.' drops every point (a date 01.02.2020 becomes 1022020): only a
    column whose every value is a number with groups of three digits is converted."""
    path = german_table(tmp_path / "g.csv", ";datum", lambda i: f";{i % 28 + 1:02d}.02.2020")
    lax = pd.read_csv(path, sep=";", decimal=",", thousands=".")
    assert lax["datum"].iloc[0] == 1022020  # pandas' reading: a date as a number
    frame = read_raw(path)
    assert pd.api.types.is_string_dtype(frame["datum"]) and frame["datum"].iloc[0] == "01.02.2020"
    np.testing.assert_array_equal(frame["einkommen"], lax["einkommen"])
    assert frame.attrs["notes"] == [
        "columns 'einkommen', 'miete' read with '.' as the thousands separator (such as "
        "'3.427' as 3427)"
    ]
    means = fitted_means(tmp_path, path)  # the dates skipped, as text
    np.testing.assert_allclose(means, lax[["groesse", "einkommen", "miete"]].mean(), rtol=1e-12)


def test_a_decimal_point_elsewhere_leaves_thousands_to_the_user(tmp_path):
    """Where a value such as 1.5 has a decimal point, '.' is not taken for a thousands
    separator: the message names --thousands, which reads the grouped column."""
    path = german_table(tmp_path / "g.csv", ";note", lambda i: ";1.5" if i == 0 else ";2")
    status, _, err = run_main(["fit", path, *ONE_VVV, "--out", tmp_path / "o", "--columns",
                               "groesse,miete"])  # fmt: skip
    assert status == 2
    assert "column 'miete' is not numeric" in err
    assert "('1.081' for 1081), give --thousands ." in err
    truth = pd.read_csv(path, sep=";", decimal=",", thousands=".")
    means = fitted_means(tmp_path, path, "--columns", "groesse,miete", "--thousands", ".")
    np.testing.assert_allclose(means, truth[["groesse", "miete"]].mean(), rtol=1e-12)


def test_thousands_given_wrongly_and_on_a_cluster_are_refused(tmp_path):
    path = german_table(tmp_path / "g.csv")
    for mark, why in ((";", "also the delimiter"), (",", "also the decimal mark"),
                      ("1", "one character that is not a digit")):  # fmt: skip
        status, _, err = run_main(["fit", path, *ONE_VVV, "--out", tmp_path / "o",
                                   "--decimal", ",", "--thousands", mark])  # fmt: skip
        assert status == 2 and why in err, err
    with pytest.raises(DataError, match="read in memory only"):
        cluster.read(str(path))


def test_hints_name_thousands_for_dot_grouped_decimal_comma_numbers():
    from emkit.io import number_format_hint

    hint = number_format_hint(pd.Series(["1.234,50", "999,5"], name="x"), cli=True)
    assert "thousands='.', decimal=','" in hint and "--decimal , --thousands ." in hint


# -- 2. names that differ only by spaces around them -----------------------------------------


@pytest.fixture
def spaced(tmp_path):
    """A table with 'size' and 'size ' (different data), its model, and the file with the
    names stripped ('size', 'size.1' as pandas reads the repeat)."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"size": rng.normal(0, 1, 60), "size ": rng.normal(50, 5, 60),
                          "income": rng.normal(9, 2, 60)})  # fmt: skip
    path = tmp_path / "spaced.csv"
    frame.to_csv(path, index=False)
    status, _, err = run_main(["fit", path, *ONE_VVV, "--out", tmp_path / "m"])
    assert status == 0, err
    stripped = tmp_path / "stripped.csv"
    frame.rename(columns=str.strip).to_csv(stripped, index=False)
    return frame, path, tmp_path / "m" / "model.json", stripped


def test_predict_refuses_two_model_columns_read_from_one(spaced, tmp_path):
    frame, _, model, stripped = spaced
    status, text, err = run_main(["predict", model, stripped, "--out", tmp_path / "p.csv"])
    assert status == 2 and text == "" and not (tmp_path / "p.csv").exists()
    assert "'size' and 'size ' both mean the column 'size'" in err


def test_columns_keep_a_quoted_name_as_written(spaced, tmp_path):
    frame, path, _, _ = spaced
    means = fitted_means(tmp_path, path, "--columns", '"size ",income')
    np.testing.assert_allclose(means, frame[["size ", "income"]].mean(), rtol=1e-12)
    means = fitted_means(tmp_path, path, "--columns", "size ,income")  # unquoted: stripped
    np.testing.assert_allclose(means, frame[["size", "income"]].mean(), rtol=1e-12)
    means = fitted_means(tmp_path, path, "--exclude", '"size "')
    np.testing.assert_allclose(means, frame[["size", "income"]].mean(), rtol=1e-12)
    assert parse_list('"a ""b"", c", d ,"e "', "--columns") == ['a "b", c', "d", "e "]
    for bad in ('"a', 'a"b', '"a"b'):
        with pytest.raises(DataError, match="a quote is not closed"):
            parse_list(bad, "--columns")


# -- 3. column names in suggested commands, quoted for the shell -----------------------------


def test_suggested_options_quote_column_names_for_the_shell(tmp_path):
    path = tmp_path / "q.csv"
    rows = [f"c{i},{'?' if i == 3 else i * 1.5},{i % 7},{(i * 37) % 11}" for i in range(40)]
    path.write_text("customer id,Größe (cm),a,b\n" + "\n".join(rows) + "\n")
    status, _, err = run_main(["fit", path, *ONE_VVV, "--out", tmp_path / "o"])
    assert status == 2
    assert "leave the column out with --exclude 'Größe (cm)'" in err
    suggested = err.split("--exclude ", 1)[1].split(" ")[0:2]
    assert parse_list(shlex.split(" ".join(suggested))[0], "--exclude") == ["Größe (cm)"]
    status, _, err = run_main(["fit", path, *ONE_VVV, "--out", tmp_path / "o",
                               "--exclude", "Größe (cm)"])  # fmt: skip
    assert status == 0, err
    assert "--exclude 'customer id' carries none" in err


# -- 4. emkit predict --out in the format its suffix names ------------------------------------


def test_predict_writes_the_format_its_out_suffix_names(spaced, tmp_path):
    frame, path, model, _ = spaced
    status, csv_text, err = run_main(["predict", model, path])
    assert status == 0, err
    expected = pd.read_csv(pd.io.common.StringIO(csv_text))
    for name, read in (("p.parquet", pd.read_parquet), ("p.csv.gz", pd.read_csv),
                       ("p.csv", pd.read_csv)):  # fmt: skip
        status, _, err = run_main(["predict", model, path, "--out", tmp_path / name])
        assert status == 0, err
        pd.testing.assert_frame_equal(read(tmp_path / name), expected)
    with gzip.open(tmp_path / "p.csv.gz", "rt") as f:
        assert f.readline().startswith("label,")
    for name, named in (("p.xlsx", "not .xlsx files"), ("p.parquet.gz", "not .parquet.gz files")):
        status, _, err = run_main(["predict", model, path, "--out", tmp_path / name])
        assert status == 2 and "writes CSV (.csv, .txt, .csv.gz) or Parquet" in err
        assert named in err
        assert not (tmp_path / name).exists()


# -- 5. standard input -------------------------------------------------------------------------


def test_standard_input_is_refused_with_what_to_do(spaced, tmp_path):
    _, path, model, _ = spaced
    for argv in (["fit", "-", *ONE_VVV, "--out", tmp_path / "o"], ["predict", model, "-"],
                 ["predict", "-", path], ["mle", "normal", "-"]):  # fmt: skip
        status, _, err = run_main(argv)
        assert status == 2 and "'-': standard input is not read; save the" in err, err


# -- 6. a delimiter at the end of one line ------------------------------------------------------


def test_a_trailing_delimiter_does_not_hide_the_delimiter(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a;b\n1;2\n3;4\n5;6;\n")
    assert sniff(path) == (";", ".")
    status, _, err = run_main(["fit", path, *ONE_VVV, "--out", tmp_path / "o"])
    assert status == 2
    assert "line 4 has 3 fields but the header has 2 (delimiter ';')" in err
    path.write_text("a;b\n1;2\n3;\n5;6\n")  # an empty last cell is a missing value
    assert sniff(path) == (";", ".")


# -- 7. Ctrl-C ignored from the start stays ignored --------------------------------------------


def test_sigint_ignored_at_start_stays_ignored(tmp_path):
    """A command started with SIGINT ignored (``trap '' INT``, a background job) runs to its
    end through SIGINTs sent while it imports, reads (pyarrow) and fits."""
    rng = np.random.default_rng(2)
    path = tmp_path / "big.csv"
    pd.DataFrame(rng.normal(size=(200_000, 3)), columns=["a", "b", "c"]).to_csv(path, index=False)
    env = {**os.environ, "PYTHONPATH": SRC}
    argv = [sys.executable, "-m", "emkit.cli", "fit", path, *ONE_VVV, "--out", tmp_path / "o"]
    process = subprocess.Popen(
        [str(a) for a in argv],
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    sent = 0
    while process.poll() is None:
        process.send_signal(signal.SIGINT)
        sent += 1
        time.sleep(0.02)
    err = process.stderr.read().decode()
    assert process.returncode == 0, err
    assert sent > 10 and "interrupted" not in err
    means = emkit.load(tmp_path / "o" / "model.json").means_[0]
    np.testing.assert_allclose(means, pd.read_csv(path).mean(), rtol=1e-12)
