"""A column of numbers with a stray entry ('?') is named with that entry and how many there
are, by ``emkit fit`` (where it skips the column, takes it as the id, or is told to use it)
and by ``emkit mle``, in one wording."""

import pandas as pd
import pytest

from cli_run import run_main

FAST = ["-k", "1", "--covariance", "EII", "--quiet", "--no-report"]
ONE = "1 value is not a number: '?'"


@pytest.fixture
def stray(tmp_path):
    """x holds numbers and one '?'; y and z are numbers; name is text."""
    path = tmp_path / "q.csv"
    pd.DataFrame(
        {
            "name": list("abcdefgh"),
            "x": ["1.5", "2.5", "?", "3.0", "4.1", "0.5", "2.0", "1.0"],
            "y": [1.0, 2.0, 3.0, 4.0, 5.0, 2.5, 1.5, 0.5],
            "z": [2.0, 3.0, 1.0, 5.0, 3.0, 4.5, 0.5, 2.5],
        }
    ).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["mle", "normal", "{path}", "--column", "x"],
        ["mle", "linear", "{path}", "--formula", "y ~ x"],
        ["mle", "multivariate_normal", "{path}", "--columns", "x,y"],
        ["fit", "{path}", "--columns", "x,y", *FAST, "--out", "{out}"],
    ],
)
def test_a_named_column_with_a_stray_value_names_it(stray, tmp_path, argv):
    argv = [str(a).format(path=stray, out=tmp_path / "o") for a in argv]
    status, _, err = run_main(argv)
    assert status != 0
    assert f"column 'x' is not numeric ({ONE}); correct those values, or empty their" in err


def test_fit_says_why_it_skips_a_column_of_numbers(stray, tmp_path):
    status, _, err = run_main(["fit", stray, *FAST, "--out", tmp_path / "o"])
    assert status == 0
    assert f"skipped 1 non-numeric column: x (text: {ONE});" in err


def test_fit_says_why_a_column_of_numbers_is_the_id(stray, tmp_path):
    status, _, err = run_main(["fit", stray, *FAST, "--exclude", "name", "--out", tmp_path / "o"])
    assert status == 0
    assert f"id column 'x' (the first id-like or text column; {ONE})" in err


def test_many_stray_values_are_counted_and_text_stays_text(tmp_path):
    path = tmp_path / "q.csv"
    frame = pd.DataFrame(
        {
            "x": ["1.5", "?", "2.5", "n/k", "3.0", "?", "4.1", "0.5", "2.0"],
            "word": ["a", "b", "1", "c", "d", "e", "f", "g", "h"],  # mostly text
            "y": [1.0, 2.0, 3.0, 4.0, 5.0, 2.5, 1.5, 0.5, 3.5],
        }
    )
    frame.to_csv(path, index=False)
    status, _, err = run_main(["fit", path, *FAST, "--id", "word", "--out", tmp_path / "o"])
    assert status == 0
    assert "x (text: 3 values are not numbers, such as '?')" in err
    status, _, err = run_main(["fit", path, *FAST, "--id", "x", "--out", tmp_path / "o"])
    assert status == 0
    assert "skipped 1 non-numeric column: word (text);" in err
    status, _, err = run_main(["mle", "normal", path, "--column", "word"])
    assert "column 'word' is not numeric (8 values are not numbers, such as 'a'); normal" in err


def test_a_stray_value_past_the_first_values_is_read_and_judged_once(tmp_path, monkeypatch):
    """A skipped column of numbers with a stray entry after its first 1000 values (which are
    all numbers, so it is read whole for a hint about numbers written with separators) is read
    whole once: that read serves the message too; and its values are judged plain numbers or
    not once for the message (not again to tell it is mostly numbers)."""
    import numpy as np

    from emkit.cli import table

    n = 1500
    x = (np.arange(n) / 8).astype(str).astype(object)
    x[1200] = "?"
    path = tmp_path / "q.csv"
    y = np.sin(np.arange(n))
    pd.DataFrame({"name": [f"r{i}" for i in range(n)], "x": x, "y": y}).to_csv(path, index=False)
    reads, judged = [], []
    series, not_plain = table.CsvColumns.series, table.not_plain_numbers

    def counted_series(self, name):
        reads.append(name)
        return series(self, name)

    def counted_not_plain(column):
        if len(column) == n:  # the whole column, not its first values
            judged.append(column.name)
        return not_plain(column)

    monkeypatch.setattr(table.CsvColumns, "series", counted_series)
    monkeypatch.setattr(table, "not_plain_numbers", counted_not_plain)
    status, _, err = run_main(["fit", path, "--id", "name", "--out", tmp_path / "o", *FAST])
    assert status == 0, err
    assert f"skipped 1 non-numeric column: x (text: {ONE});" in err
    assert reads.count("x") == 1
    assert judged.count("x") == 1
    np.testing.assert_allclose(pd.read_csv(tmp_path / "o" / "assignments.csv")["y"], y)
