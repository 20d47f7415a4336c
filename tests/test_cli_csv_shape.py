"""``emkit fit`` / ``predict`` / ``mle`` on CSV files whose shape is off: rows longer than the
header (never read with the first field as the row index and the rest shifted), a one-column
file of decimal-comma numbers, header names with spaces after the commas, and a model without
column names reading a file's columns by position."""

import io
import json

import numpy as np
import pandas as pd
import pytest

import emkit
from cli_run import run_main

FAST = ["-k", "1", "--covariance", "diag", "--quiet", "--no-report"]
LONG = "line 2 has 3 fields but the header has 2"


def one_component_means(folder) -> dict:
    """The fitted mean of each column of a one-component model (the column means)."""
    model = emkit.load(folder / "model.json")
    return dict(zip(model.feature_names_in_, model.means_[0], strict=True))


@pytest.fixture
def model(tmp_path):
    """A model file fitted on a clean two-column table (a, b)."""
    path = tmp_path / "clean.csv"
    path.write_text("a,b\n1,2\n3,4\n5,7\n6,1\n")
    status, _, _ = run_main(["fit", path, "--out", tmp_path / "m", *FAST])
    assert status == 0
    return tmp_path / "m" / "model.json"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        # a delimiter at the end of every data row: pandas made 'a' the index, fitted b as a
        ("a,b\n1,2,\n3,4,\n5,7,\n6,1,\n", LONG + " (delimiter ',')"),
        # the same with semicolons, which no delimiter splits evenly on every line
        ("a;b\n1;2;\n3;4;\n5;7;\n6;1;\n", LONG + " (delimiter ';')"),
        # one long row later in the file (pyarrow refuses it, pandas reads the file)
        ("a,b\n1,2\n3,4\n5,7,8\n6,1\n", "line 4 has 3 fields but the header has 2"),
        # blank lines before the first data row count in the line number
        ("a,b\n\n1,2,\n3,4,\n5,7,\n6,1,\n", "line 3 has 3 fields but the header has 2"),
    ],
)
def test_rows_longer_than_the_header_are_one_line_naming_the_first(tmp_path, model, text, where):
    path = tmp_path / "t.csv"
    path.write_text(text)
    commands = [
        ["fit", path, "--out", tmp_path / "o", *FAST],
        ["predict", model, path],
        ["mle", "normal", path, "--column", "a"],
    ]
    for argv in commands:
        status, out, err = run_main(argv)
        assert status == 2, argv
        assert out == ""
        assert err.startswith(f"emkit: error: {path}: {where}")
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_one_column_of_decimal_commas_is_refused_then_read_with_decimal(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("weight\n1,5\n2,25\n3,7\n10,1\n4,5\n")
    status, _, err = run_main(["fit", path, "--out", tmp_path / "o", *FAST])
    assert status == 2
    assert "line 2 has 2 fields but the header has 1" in err
    assert "if the comma is the decimal mark (1,5 for 1.5), give --decimal ," in err
    # --decimal , alone is a working way: no delimiter splits the lines, so one column
    status, _, err = run_main(["fit", path, "--decimal", ",", "--out", tmp_path / "o", *FAST])
    assert status == 0, err
    weights = [1.5, 2.25, 3.7, 10.1, 4.5]
    assigned = pd.read_csv(tmp_path / "o" / "assignments.csv")
    np.testing.assert_allclose(assigned["weight"], weights)
    np.testing.assert_allclose(one_component_means(tmp_path / "o")["weight"], np.mean(weights))
    status, out, err = run_main(["predict", tmp_path / "o" / "model.json", path, "--decimal", ","])
    assert status == 0, err
    assert len(pd.read_csv(io.StringIO(out))) == 5


def test_a_comma_delimited_file_with_decimal_comma_is_still_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3,4\n5,7\n")
    status, _, err = run_main(["fit", path, "--decimal", ",", "--out", tmp_path / "o", *FAST])
    assert status == 2
    assert "',' cannot be both the delimiter and the decimal mark" in err


def test_names_after_a_comma_and_space_match_columns_exclude_and_id(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("name, a, b\nx, 1, 2\ny, 3, 4\nz, 5, 7\nw, 6, 1\n")
    status, _, err = run_main(
        ["fit", path, "--columns", "b", "--id", "name", "--out", tmp_path / "o", *FAST]
    )
    assert status == 0, err
    assert one_component_means(tmp_path / "o") == pytest.approx({" b": np.mean([2, 4, 7, 1])})
    status, _, err = run_main(["fit", path, "--exclude", "a", "--out", tmp_path / "e", *FAST])
    assert status == 0, err
    assert list(one_component_means(tmp_path / "e")) == [" b"]
    # a model fitted on ' b' reads the column 'b' of a file written without the spaces
    other = tmp_path / "n.csv"
    other.write_text("b,name\n2,x\n8,y\n")
    status, out, err = run_main(["predict", tmp_path / "o" / "model.json", other])
    assert status == 0, err
    assert list(pd.read_csv(io.StringIO(out))["name"]) == ["x", "y"]


def test_a_name_matching_none_or_several_is_one_line_with_the_names(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("a, b,b \n1,2,3\n3,4,5\n5,7,8\n")
    status, _, err = run_main(["fit", path, "--columns", "zz", "--out", tmp_path / "o", *FAST])
    assert status == 2
    assert err == f"emkit: error: {path}: no column 'zz'; columns are a, ' b', 'b '\n"
    status, _, err = run_main(["fit", path, "--columns", "b", "--out", tmp_path / "o", *FAST])
    assert status == 2
    assert "'b' names several columns" in err and "(' b', 'b ')" in err
    assert len(err.strip().splitlines()) == 1
    status, _, err = run_main(["fit", path, "--columns", "a", "--out", tmp_path / "o", *FAST])
    assert status == 0, err  # a name equal to the header's still matches it alone


def test_predict_says_a_model_without_names_reads_columns_by_position(tmp_path):
    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(0.0, 1.0, 60), rng.normal(10.0, 2.0, 60)]  # (n, 2) without names
    emkit.GaussianMixture(2, random_state=0).fit(x).save(tmp_path / "m.json")
    assert "feature_names_in_" not in json.loads((tmp_path / "m.json").read_text())["attributes"]
    path = tmp_path / "t.csv"
    pd.DataFrame({"id": ["r0", "r1"], "y": [10.0, 0.0], "x": [0.0, 10.0]}).to_csv(path, index=False)
    status, out, err = run_main(["predict", tmp_path / "m.json", path])
    assert status == 0
    assert (
        "the model has no column names: its 2 columns were taken by position from the file's "
        "numeric columns y, x; --columns names them in the model's order" in err
    )
    model = emkit.load(tmp_path / "m.json")
    got = pd.read_csv(io.StringIO(out))
    np.testing.assert_allclose(got[["p0", "p1"]], model.predict_proba([[10.0, 0.0], [0.0, 10.0]]))
    status, out, err = run_main(["predict", tmp_path / "m.json", path, "--columns", "x,y"])
    assert status == 0 and "by position" not in err
    got = pd.read_csv(io.StringIO(out))
    np.testing.assert_allclose(got[["p0", "p1"]], model.predict_proba([[0.0, 10.0], [10.0, 0.0]]))


SPACED = "a, b, n\n1, 2.5, 3\n2, 3.5, 4\n3, 1.5, 5\n4, 2.0, 7\n"


def coefficient(out: str, label: str) -> float:
    """The estimate on the row ``label`` of an ``emkit mle`` table."""
    row = next(line for line in out.splitlines() if line.split()[:1] == [label])
    return float(row.split()[1])


@pytest.mark.parametrize(
    ("argv", "label", "expected"),
    [
        # closed forms: the sample mean; successes over trials; least squares
        (["normal", "--column", "b"], "mean", np.mean([2.5, 3.5, 1.5, 2.0])),
        (["binomial", "--column", "a", "--trials", "n"], "p", 10 / 19),
        (["multivariate_normal", "--columns", "a,b"], "mean[b]", 2.375),
        (
            ["linear", "--y", "b", "--x", "a"],
            "a",
            np.polyfit([1, 2, 3, 4], [2.5, 3.5, 1.5, 2], 1)[0],
        ),
    ],
)
def test_mle_names_match_header_names_with_spaces(tmp_path, argv, label, expected):
    path = tmp_path / "t.csv"
    path.write_text(SPACED)
    status, out, err = run_main(["mle", argv[0], path, *argv[1:]])
    assert status == 0, err
    assert coefficient(out, label) == pytest.approx(expected, rel=1e-4)


def test_mle_lists_names_with_spaces_quoted(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(SPACED)
    status, _, err = run_main(["mle", "normal", path, "--column", "c"])
    assert status == 2
    assert err.strip() == f"emkit: error: {path}: no column 'c'; columns are a, ' b', ' n'"


@pytest.mark.parametrize(
    "encoding, name, mark",
    [
        ("utf-16", "utf-16", "ff fe"),
        ("utf-16-be", "utf-16", "fe ff"),
        ("utf-32", "utf-32", "ff fe 00 00"),
    ],
)
@pytest.mark.parametrize("command", [["mle", "multivariate_normal"], ["fit"]])
def test_utf16_and_utf32_files_are_named_with_the_conversion(
    tmp_path, encoding, name, mark, command
):
    """Not told to convert from latin1: the byte order mark says what the file is."""
    path = tmp_path / "u.csv"
    text = "x,y\n1,2\n3,4\n5,7\n"
    path.write_bytes(
        ("\ufeff" if encoding == "utf-16-be" else "").encode(encoding) + text.encode(encoding)
    )
    status, _, err = run_main(
        [*command, path, "--out", tmp_path / "o"] if command == ["fit"] else [*command, path]
    )
    assert status == 2
    assert f"UTF-{name[4:]} text (it begins with the byte order mark {mark})" in err
    assert f"iconv -f {name} -t utf-8 u.csv > utf8.csv" in err
    # which, done, reads the file
    converted = tmp_path / "utf8.csv"
    converted.write_text(path.read_bytes().decode(encoding).lstrip("\ufeff"), encoding="utf-8")
    status, out, err = run_main(["mle", "multivariate_normal", converted])
    assert status == 0, err
