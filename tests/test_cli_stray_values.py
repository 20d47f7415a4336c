"""A column of numbers with a stray entry ('?') is named with that entry and how many there
are, by ``emkit fit`` (which refuses it, never leaves it out nor takes it as the id for a
few cells) and by ``emkit mle``, in one wording."""

import pandas as pd
import pytest

import emkit
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


REFUSED = f"column 'x' is not numeric ({ONE}); correct those values, or empty their cells"


def test_fit_refuses_a_column_of_numbers_with_a_stray_value(stray, tmp_path):
    """Not left out of the model for one cell (it was, with exit status 0)."""
    status, _, err = run_main(["fit", stray, *FAST, "--out", tmp_path / "o"])
    assert status == 2
    assert REFUSED in err and "--exclude x" in err
    assert not (tmp_path / "o").exists()


def test_fit_refuses_to_take_a_column_of_numbers_as_the_id(stray, tmp_path):
    """Not the id found for want of a text column (it was, with exit status 0)."""
    status, _, err = run_main(["fit", stray, *FAST, "--exclude", "name", "--out", tmp_path / "o"])
    assert status == 2
    assert REFUSED in err and "--id x" in err


def test_what_the_refusal_says_reads_the_file(stray, tmp_path):
    """Each way out the message gives runs, and the fit with the cell emptied is the fit of
    the other rows' values there (EM on missing data: the column's mean over its 7 values)."""
    status, _, err = run_main(["fit", stray, *FAST, "--exclude", "x", "--out", tmp_path / "a"])
    assert status == 0, err
    assert "x" not in pd.read_csv(tmp_path / "a" / "assignments.csv").columns
    status, _, err = run_main(["fit", stray, *FAST, "--id", "x", "--out", tmp_path / "b"])
    assert status == 0, err
    assert "skipped 1 non-numeric column: name (text);" in err
    emptied = tmp_path / "e.csv"
    frame = pd.read_csv(stray)
    frame["x"] = pd.to_numeric(frame["x"], errors="coerce")
    frame.to_csv(emptied, index=False)
    argv = ["fit", emptied, *FAST, "--missing", "em", "--out", tmp_path / "c"]
    status, _, err = run_main(argv)
    assert status == 0, err
    model = emkit.load(tmp_path / "c" / "model.json")
    names = list(model.feature_names_in_)
    assert model.means_[0][names.index("x")] == pytest.approx(frame["x"].mean(), rel=1e-6)


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
    assert status == 2
    assert "column 'x' is not numeric (3 values are not numbers, such as '?')" in err
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
    assert status == 2, err
    assert REFUSED in err
    assert reads.count("x") == 1
    assert judged.count("x") == 1


def test_a_stray_value_deep_in_a_big_file_gets_one_error_line(tmp_path):
    """pandas reads a big file in blocks, and a column of numbers that turns text in a late
    block gave its DtypeWarning ("mixed types ... set low_memory=False"), advice for pandas
    users, before emkit's own error; now only the error."""
    lines = ["a,b"] + [f"{i * 0.5},{i * 0.25}" for i in range(300_000)]
    lines[250_000] = "abc,1.0"
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n")
    status, _, err = run_main(["fit", path, *FAST, "--out", tmp_path / "o"])
    assert status == 2
    assert "column 'a' is not numeric (1 value is not a number: 'abc')" in err
    assert "mixed types" not in err and "low_memory" not in err
