"""A CSV's integer column read by Dask (``emkit fit --workers`` / ``--scheduler``) whose first
missing value, or first value that is not an integer, lies past the rows Dask takes the
column's type from (it reads 10 rows of the first 256 kB of the file).

Dask typed the column int64 and failed at compute time with its own "Mismatched dtypes"
ValueError ("provide assume_missing=True ..."), which tells an emkit user nothing. The column
is now read as nullable integers: a missing value is missing as in memory, and the in-memory
run's refusals (missing values without --missing em, integers beyond 2**53) are the same.
"""

import re

import numpy as np
import pandas as pd
import pytest

from cli_run import run_main
from emkit.cli.fit import read_features
from emkit.exceptions import DataError

dask = pytest.importorskip("dask")
pytest.importorskip("dask.dataframe")
from emkit.cli import cluster  # noqa: E402  (after the skip: it reads with Dask)

SAMPLE = 256_000  # the bytes of the file Dask samples (read_csv's sample=)


def late_table(n: int = 24_000, seed: int = 0) -> pd.DataFrame:
    """Two groups; ``count`` holds integers (a range of 10**6), ``length`` decimals."""
    rng = np.random.default_rng(seed)
    group = np.arange(n) % 2
    count = rng.integers(0, 10**6, n) + 3 * 10**6 * group
    length = (rng.normal(size=n) + 6.0 * group).round(4)
    return pd.DataFrame({"count": pd.array(count, dtype="Int64"), "length": length})


def write_late(
    frame: pd.DataFrame, path, column: str = "count", value=pd.NA, sep: str = ",", **options
) -> int:
    """Write ``frame`` as a CSV (``sep``, ``options`` of ``to_csv``) with ``value`` (missing:
    an empty field) in ``column`` of the first row that starts past Dask's sample; return
    that row."""
    frame.to_csv(path, index=False, sep=sep, **options)
    starts = np.cumsum([len(line) + 1 for line in path.read_text().splitlines()])
    row = int(np.searchsorted(starts, SAMPLE)) + 5  # past the header and the sample
    frame = frame.astype({column: object})
    frame.loc[row, column] = value
    frame.to_csv(path, index=False, sep=sep, **options)
    lines = path.read_text().splitlines()  # the header, then row i on line i + 1
    assert sum(len(line) + 1 for line in lines[: row + 1]) > SAMPLE
    assert all(line.split(sep)[0].isdigit() for line in lines[1 : row + 1])
    return row


@pytest.fixture
def small_blocks(monkeypatch):
    """Dask's blocks of 64 kB (its default is a share of memory): several partitions."""
    monkeypatch.setattr("dask.dataframe.io.csv.AUTO_BLOCKSIZE", 2**16)


def on_cluster(path, **options):
    """:func:`emkit.cli.cluster.read_features` of ``path`` and its model columns, computed
    (sync scheduler)."""
    with dask.config.set(scheduler="sync"):
        table = cluster.read_features(str(path), **options)
        return table, table.values.compute()


def test_late_missing_value_reads_as_in_memory(tmp_path, small_blocks):
    path = tmp_path / "late.csv"
    row = write_late(late_table(), path)
    memory = read_features(path, missing="em")
    table, values = on_cluster(path, missing="em")
    assert table.frame.npartitions > 1
    assert table.names == memory.names == ["count", "length"]
    np.testing.assert_array_equal(values.to_numpy(), memory.values)
    assert np.isnan(values["count"].to_numpy()[row])
    assert np.count_nonzero(np.isnan(memory.values)) == 1
    # without --missing em both refuse it, in the same words
    with pytest.raises(DataError) as in_memory:
        read_features(path)
    with pytest.raises(DataError) as on_dask:
        on_cluster(path)
    assert "column 'count' has 1 missing (NaN) value(s); pass --missing em" in str(on_dask.value)
    assert str(on_dask.value) == str(in_memory.value)


def test_late_missing_value_keeps_the_integer_refusal(tmp_path, small_blocks):
    # Read as float64 (assume_missing), 2**60 + 1 would be rounded to 2**60 without a word;
    # both runs refuse it, as the integers float64 cannot hold
    frame = late_table()
    frame["count"] = pd.array(np.arange(len(frame)) + 2**60 + 1, dtype="Int64")
    path = tmp_path / "big.csv"
    write_late(frame, path)
    # (the example: the first of the partition that refuses first)
    refused = (
        r"column 'count' holds \d+ integer\(s\) beyond 2\*\*53 that float64 cannot hold "
        r"exactly \(such as 11529215046068\d+, which float64 stores as \d+\).*"
        + re.escape("If it names rows, use --id or --exclude")
    )
    with pytest.raises(DataError, match=refused):
        read_features(path, missing="em")
    with pytest.raises(DataError, match=refused):
        on_cluster(path, missing="em")
    # integers float64 holds (multiples of its spacing there) are read exactly
    frame["count"] = pd.array(np.arange(len(frame)) * 256 + 2**60, dtype="Int64")
    write_late(frame, path)
    _, values = on_cluster(path, missing="em")
    np.testing.assert_array_equal(values.to_numpy(), read_features(path, missing="em").values)


@pytest.mark.parametrize(
    ("value", "options", "refused"),
    [
        ("2.5", {}, None),  # a fraction: the column is numbers
        ("2,5", {"sep": ";", "decimal": ","}, None),  # the same, with a decimal comma
        ("inf", {}, "column 'count' has 1 infinite value(s)"),
        # beyond 64 bits, which float64 rounds
        ("99999999999999999999", {}, "column 'count' holds 1 integer(s) beyond 2**53"),
        # text: a column that is not numeric
        ("n/a?", {}, "column 'count' is not numeric (1 value is not a number: 'n/a?')"),
    ],
)
def test_late_value_no_integer_column_holds_reads_as_in_memory(
    tmp_path, small_blocks, value, options, refused
):
    # Dask's int64 column (then Int64) cannot hold it: the column is read again as the
    # in-memory run reads it (float64, or text), and the outcome is the in-memory one
    path = tmp_path / "odd.csv"
    write_late(late_table(), path, value=value, **options)
    if refused:
        with pytest.raises(DataError) as in_memory:
            read_features(path, missing="em")
        with pytest.raises(DataError) as on_dask:
            on_cluster(path, missing="em")
        assert refused in str(in_memory.value)
        assert str(on_dask.value) == str(in_memory.value)
        return
    memory = read_features(path, missing="em")
    table, values = on_cluster(path, missing="em")
    assert table.names == memory.names == ["count", "length"]
    np.testing.assert_array_equal(values.to_numpy(), memory.values)
    assert values["count"].to_numpy()[np.isin(values["count"], 2.5)].size == 1


@pytest.mark.parametrize(
    "blocks",
    [
        (["1", "2"], ["3", ""]),
        (["1", ""], ["2.5", "7"]),
        (["", ""], ["NAN", "4"]),
        (["1", "2"], ["x", "3"]),
        (["1.5", "True"], ["2", "3"]),
        (["True", ""], ["false", "TRUE"]),
        (["True", "1"], ["0", "1"]),
        (["", ""], ["", ""]),
        (["99999999999999999999", "1"], ["2", "3"]),
    ],
)
def test_the_blocks_types_combine_as_pyarrow_infers_the_whole_column(blocks):
    # the type of a column is found block by block (each as pyarrow infers it, with the
    # in-memory reading's options) and combined: as pyarrow infers it over the whole column
    import io

    from pyarrow import csv

    from emkit.cli.table import arrow_conversion

    def inferred(rows):
        data = ("a,b\n" + "".join(f"{v},0\n" for v in rows)).encode()
        table = csv.read_csv(io.BytesIO(data), convert_options=arrow_conversion("."))
        kind = str(table.schema.field("a").type)
        return kind if kind in cluster.ARROW_TYPES else "string"

    combined = "null"
    for rows in blocks:
        combined = cluster.common_type(combined, inferred(rows))
    assert combined == inferred([v for rows in blocks for v in rows])


def test_cli_fit_with_workers_matches_memory(tmp_path):
    pytest.importorskip("distributed")
    # a late missing value in one integer column, a late fraction in another (found on a
    # worker process, the column is read again as float64)
    frame = late_table()
    frame["visits"] = pd.Series(np.arange(len(frame)) % 50 + 60 * (np.arange(len(frame)) % 2))
    frame["visits"] = frame["visits"].astype(object)
    frame.loc[len(frame) - 10, "visits"] = 12.5
    path = tmp_path / "late.csv"
    write_late(frame, path)
    fast = ["-k", "2", "--covariance", "VVV", "--quiet", "--no-report", "--missing", "em"]
    status, _, err = run_main(["fit", path, *fast, "--out", tmp_path / "m"])
    assert status == 0, err
    status, _, err = run_main(["fit", path, *fast, "--out", tmp_path / "d", "--workers", "1"])
    assert status == 0, err
    import emkit

    memory, dask_fit = (
        emkit.load(tmp_path / "m" / "model.json"),
        emkit.load(tmp_path / "d" / "model.json"),
    )
    assert list(dask_fit.feature_names_in_) == ["count", "length", "visits"]
    np.testing.assert_allclose(dask_fit.means_, memory.means_, rtol=1e-9)
    np.testing.assert_allclose(dask_fit.weights_, memory.weights_, rtol=1e-9)
    assert dask_fit.log_likelihood_ == pytest.approx(memory.log_likelihood_, rel=1e-12)


@pytest.mark.parametrize("late", ["count", "id"])
def test_integer_ids_are_carried_as_in_memory(tmp_path, small_blocks, late):
    # complete integer ids stay int64 (where a model column has the late missing value);
    # with a missing id of their own they are kept as the text the file holds, as in memory
    frame = late_table()
    frame.insert(0, "id", pd.array(np.arange(len(frame)) * 7 + 1000, dtype="Int64"))
    path = tmp_path / "ids.csv"
    write_late(frame, path, column=late)
    memory = read_features(path, id_column="id", missing="em")
    table, values = on_cluster(path, id_column="id", missing="em")
    np.testing.assert_array_equal(values.to_numpy(), memory.values)
    with dask.config.set(scheduler="sync"):
        ids = table.frame[table.ids].compute()
    if late == "count":
        assert ids.dtype == np.int64
        np.testing.assert_array_equal(ids.to_numpy(), memory.ids.to_numpy())
    else:
        assert ids.dtype.kind not in "iuf" and ids.isna().sum() == 1  # the text, "1000"
        assert ids.dropna().str.fullmatch(r"\d+").all()
        np.testing.assert_array_equal(pd.to_numeric(ids).to_numpy(np.float64), memory.ids)


def write_rows(frame: pd.DataFrame, path, fields: dict, sep: str = ",", **options) -> None:
    """Write ``frame`` as a CSV with ``fields`` ({(column, row): text}) put in."""
    frame = frame.astype({column: object for column, _ in fields})
    for (column, row), value in fields.items():
        frame.loc[row, column] = value
    frame.to_csv(path, index=False, sep=sep, **options)


def assert_same_refusal(path, **options):
    with pytest.raises(DataError) as in_memory:
        read_features(path, **options)
    with pytest.raises(DataError) as on_dask:
        on_cluster(path, **options)
    assert str(on_dask.value) == str(in_memory.value)
    return str(in_memory.value)


@pytest.mark.parametrize(
    "fields",
    [
        {("count", 20_000): "2.5", ("count", 20_010): "hello"},  # one block, fraction first
        {("count", 15_000): "hello", ("count", 22_000): "2.5"},  # text, then a later block
        {("count", 15_000): "2.5", ("count", 22_000): "hello"},
    ],
)
def test_text_after_a_fraction_is_refused_as_in_memory(tmp_path, small_blocks, fields):
    # the column is text in memory, whatever number came before the text: on Dask the
    # fraction had it read again as float64, which the text then failed with pandas'
    # "could not convert string to float" ValueError, a traceback
    path = tmp_path / "mixed.csv"
    write_rows(late_table(), path, fields)
    refusal = assert_same_refusal(path, missing="em")
    assert "column 'count' is not numeric (1 value is not a number: 'hello')" in refusal


@pytest.mark.parametrize(
    ("value", "options"),
    [
        ("\u0661\u0662", {}),  # Arabic-Indic digits: text to pandas, digits to Python's \d
        ("2.5", {"sep": ";", "decimal": ","}),  # a decimal point where the mark is a comma
        ("1.234", {"sep": ";", "decimal": ","}),
    ],
)
def test_late_text_that_looks_like_a_number_is_refused_as_in_memory(
    tmp_path, small_blocks, value, options
):
    # neither is a number pandas reads in the file: it escaped as pandas' own ValueError
    path = tmp_path / "odd.csv"
    write_rows(late_table(), path, {("count", 20_000): value}, **options)
    assert "column 'count' is not numeric" in assert_same_refusal(path, missing="em")


@pytest.mark.parametrize("value", ["2.5", "abc", "99999999999999999999"])
def test_late_ids_no_integer_holds_are_carried_as_in_memory(tmp_path, small_blocks, value):
    # an integer id column with a later fraction was carried as int64, 2.5 as 2; text and
    # integers beyond 64 bits escaped as tracebacks. They are carried as the text the file
    # holds, as in memory (where the column is float64 or text, written as the file writes it)
    frame = late_table()
    frame.insert(0, "id", np.arange(len(frame)) * 7 + 1000)
    path = tmp_path / "ids.csv"
    write_rows(frame, path, {("id", 20_000): value})
    memory = read_features(path, id_column="id", missing="em")
    table, values = on_cluster(path, id_column="id", missing="em")
    np.testing.assert_array_equal(values.to_numpy(), memory.values)
    with dask.config.set(scheduler="sync"):
        ids = table.frame[table.ids].compute()
    assert table.frame.npartitions > 1 and ids.iloc[20_000] == value
    assert ids.iloc[0] == "1000" and str(memory.ids.iloc[20_000]) == value


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        # float64 from the first rows
        ({("count", 3): "2.5", ("count", 20_000): "hello"}, "1 value is not a number: 'hello'"),
        (
            {("count", 3): "2.5", ("count", 20_000): "2.5", ("count", 20_010): "hello"},
            "1 value is not a number: 'hello'",
        ),
        # in a column of text 'NAN' is not a number, in memory too
        ({("count", 3): "NAN", ("count", 20_000): "hello"}, "2 values are not numbers"),
    ],
)
def test_text_in_a_float_column_is_refused_as_in_memory(tmp_path, small_blocks, fields, why):
    # Dask typed the column float64 from its first rows; the text escaped as Dask's
    # "Mismatched dtypes" ValueError, a traceback
    path = tmp_path / "floats.csv"
    write_rows(late_table(), path, fields)
    refusal = assert_same_refusal(path, missing="em")
    assert f"column 'count' is not numeric ({why}" in refusal


@pytest.mark.parametrize("value", ["1_000", "\u0661\u0662"])
def test_late_text_float_reads_as_a_number_is_text_as_in_memory(tmp_path, small_blocks, value):
    # Python's float() reads both (Dask's astype(float64) read them as 1000 and 12); the
    # in-memory read, and pandas, read them as text: the column is text (skipped with a
    # note on '1_000', refused for one stray value)
    path = tmp_path / "floats.csv"
    write_rows(late_table(), path, {("count", 3): "2.5", ("count", 20_000): value})
    try:
        memory = read_features(path, missing="em")
    except DataError:
        refusal = assert_same_refusal(path, missing="em")
        assert f"column 'count' is not numeric (1 value is not a number: {value!r})" in refusal
        return
    table, values = on_cluster(path, missing="em")
    assert table.names == memory.names == ["length"]
    np.testing.assert_array_equal(values.to_numpy(), memory.values)


@pytest.mark.parametrize("spelling", ["NAN", "Nan", "+nan", "-nAn", " NaN "])
@pytest.mark.parametrize("first", [None, "2.5", "NAN"])
def test_nan_spellings_are_missing_as_in_memory(tmp_path, small_blocks, spelling, first):
    # NumPy's float() and the in-memory read take any case of 'nan' for a missing value;
    # pandas reads only some ('nan', 'NaN', '-NaN') so, and the Dask run refused the others
    # as text, late in an integer column or in its first rows (Dask typed the column text)
    fields = {("count", 20_000): spelling, ("count", 20_005): spelling.strip().lower()}
    if first is not None:
        fields[("count", 3)] = first
    path = tmp_path / "nan.csv"
    write_rows(late_table(), path, fields)
    memory = read_features(path, missing="em")
    table, values = on_cluster(path, missing="em")
    assert table.names == memory.names == ["count", "length"]
    np.testing.assert_array_equal(values.to_numpy(), memory.values)
    missing = np.flatnonzero(np.isnan(values["count"].to_numpy()))
    assert set(missing) == {20_000, 20_005} | ({3} if first == "NAN" else set())
    # without --missing em both refuse them as the missing values they are
    refusal = assert_same_refusal(path)
    assert f"column 'count' has {len(missing)} missing (NaN) value(s)" in refusal


def test_late_columns_of_every_block_are_found_in_one_pass(tmp_path, small_blocks, monkeypatch):
    # three integer columns, each with its late value in another block: each read again
    # found one, and the file was read k + 1 times; one pass over every block finds the
    # types of them all, before the columns are read
    frame = late_table()
    frame["visits"] = np.arange(len(frame)) % 50
    frame["stays"] = np.arange(len(frame)) % 7
    path = tmp_path / "late.csv"
    fields = {("count", 12_000): "2.5", ("visits", 17_000): "7.5", ("stays", 22_000): "1e30"}
    write_rows(frame, path, {**fields, ("stays", 23_000): "1.5"})
    surveyed = []
    survey = cluster.block_types
    monkeypatch.setattr(
        cluster, "block_types", lambda *a, **o: surveyed.append(o.get("nrows")) or survey(*a, **o)
    )
    memory = read_features(path, missing="em", columns=["count", "length", "visits", "stays"])
    table, values = on_cluster(path, missing="em", columns=["count", "length", "visits", "stays"])
    np.testing.assert_array_equal(values.to_numpy(), memory.values)
    assert table.frame.npartitions > 3
    # Dask's sample, then each block once
    assert [n for n in surveyed if n is None] == [None] * table.frame.npartitions
    assert table.frame.dtypes[["count", "visits", "stays"]].tolist() == [np.float64] * 3


@pytest.mark.parametrize("first", [["NAN", ""], ["", "nan"], ["-NaN", "NAN"]])
def test_first_rows_of_nan_spellings_and_empty_cells_read_as_in_memory(
    tmp_path, small_blocks, first
):
    # Dask took the column's type from its first rows, which hold no number: text (skipped
    # with a note), where in memory the column is numbers with those values missing
    fields = {("count", row): first[row % 2] for row in range(12)}
    path = tmp_path / "nan.csv"
    write_rows(late_table(), path, fields)
    memory = read_features(path, missing="em")
    table, values = on_cluster(path, missing="em")
    assert table.names == memory.names == ["count", "length"]
    assert table.notes == memory.notes
    np.testing.assert_array_equal(values.to_numpy(), memory.values)
    assert np.isnan(values["count"].to_numpy()[:12]).all()


@pytest.mark.parametrize(
    "late", ["1152921504606846977.0", "1.152921504606846977e18", "9007199254740993.0"]
)
def test_late_whole_numbers_written_as_floats_beyond_2_53_read_as_in_memory(
    tmp_path, small_blocks, late
):
    # integers float64 holds exactly (multiples of its spacing beyond 2**60), and late in
    # the column a whole number written as a float that float64 rounds: the outcome
    # (values, or refusal) is the in-memory one
    frame = late_table()
    frame["count"] = pd.array(np.arange(len(frame)) * 256 + 2**60, dtype="Int64")
    path = tmp_path / "big.csv"
    write_rows(frame, path, {("count", 20_000): late})
    try:
        memory = read_features(path, missing="em")
    except DataError:
        assert_same_refusal(path, missing="em")
        return
    _, values = on_cluster(path, missing="em")
    np.testing.assert_array_equal(values.to_numpy(), memory.values)


def test_booleans_with_a_missing_value_read_as_in_memory(tmp_path):
    # pandas read the column as objects (text), which the Dask run refused when named
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=200), "flag": rng.random(200) < 0.5})
    path = tmp_path / "flags.csv"
    write_rows(frame, path, {("flag", 5): ""})
    memory = read_features(path, missing="em", columns=["x", "flag"])
    table, values = on_cluster(path, missing="em", columns=["x", "flag"])
    assert table.names == memory.names == ["x", "flag"]
    np.testing.assert_array_equal(values.to_numpy(), memory.values)
    assert np.isnan(values["flag"].to_numpy()[5])
