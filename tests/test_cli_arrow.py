"""The CLI's pyarrow CSV reader gives the arrays pandas gives, and falls back to pandas where
pyarrow would read a file otherwise; assignments are written block by block."""

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emkit.cli.fit import read_features, write_assignments
from emkit.cli.table import CsvColumns, FrameColumns, open_columns, read_raw, select_features
from emkit.estimators import GaussianMixture
from emkit.exceptions import DataError

FAITHFUL = Path(str(resources.files("emkit").joinpath("data/faithful.csv")))
MCLUST = Path(__file__).parent / "data" / "mclust"


def mixed(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """An id, numbers (ints, floats, NaN), a boolean, a text and a date column."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "sample_id": [f"s{i:03d}" for i in range(n)],
            "length": rng.normal(size=n).round(4),
            "count": rng.integers(0, 9, n),
            "flag": rng.random(n) > 0.5,
            "species": np.where(np.arange(n) % 2, "setosa", "virginica"),
            "day": pd.date_range("2020-01-01", periods=n).astype(str),
            "width": rng.normal(5, 2, n),
        }
    )
    frame.loc[[3, 17], "width"] = np.nan
    return frame


def both(path, **options):
    """The table read by pyarrow (which must be the reader used) and by pandas."""
    raw = open_columns(path, options.pop("sep", None), options.pop("decimal", None))
    assert isinstance(raw, CsvColumns)
    arrow = select_features(raw, path, **options)
    sep, decimal = raw.sep, raw.decimal
    pandas = select_features(FrameColumns(read_raw(path, sep, decimal)), path, **options)
    return arrow, pandas


def assert_same(arrow, pandas) -> None:
    np.testing.assert_array_equal(arrow.values, pandas.values)  # NaN where NaN
    assert arrow.values.dtype == np.float64 and arrow.values.flags.c_contiguous
    assert arrow.names == pandas.names
    assert arrow.notes == pandas.notes
    if pandas.ids is None:
        assert arrow.ids is None
    else:
        assert arrow.ids.name == pandas.ids.name
        assert arrow.ids.tolist() == pandas.ids.tolist()


@pytest.mark.parametrize(
    "path", [FAITHFUL, *(MCLUST / f"{n}.csv" for n in ("acidity", "banknote", "diabetes"))]
)
def test_arrow_reader_gives_pandas_arrays_on_the_fixtures(path):
    assert_same(*both(path, missing="em"))


@pytest.mark.parametrize("sep,decimal", [(",", "."), (";", ","), ("\t", ".")])
def test_arrow_reader_on_ids_text_booleans_dates_and_nan(tmp_path, sep, decimal):
    frame = mixed()
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, sep=sep, decimal=decimal, index=False)
    arrow, pandas = both(path, missing="em")
    assert_same(arrow, pandas)
    assert arrow.names == ["length", "count", "width"]
    assert arrow.ids.tolist() == frame["sample_id"].tolist()
    np.testing.assert_array_equal(arrow.values[:, 1], frame["count"])
    # --columns with a boolean (0/1), --exclude, --id
    assert_same(*both(path, columns=["flag", "length"], missing="em"))
    assert_same(*both(path, exclude=["count"], id_column="species", missing="em"))


def test_a_text_value_late_in_a_column_falls_back_to_pandas(tmp_path):
    # pyarrow infers each column's type from its first block; pandas reads the whole column
    n = 120_000
    frame = pd.DataFrame({"a": np.arange(n, dtype=float), "b": np.ones(n), "c": np.arange(n) % 7})
    frame["b"] = frame["b"].astype(object)
    frame.loc[n - 1, "b"] = "oops"
    path = tmp_path / "late.csv"
    frame.to_csv(path, index=False)
    # pandas reads b whole: numbers but for its last value, refused rather than the id found
    with pytest.raises(
        DataError, match="column 'b' is not numeric \\(1 value is not a number: 'oops'\\)"
    ):
        read_features(path)
    table = read_features(path, id_column="b")
    assert table.names == ["a", "c"]
    assert table.ids is not None and table.ids.name == "b"
    np.testing.assert_array_equal(table.values[:, 0], frame["a"])


def test_duplicate_column_names_are_read_as_pandas_reads_them(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("a,a,b\n1,2,3\n4,5,7\n2,2,9\n")
    table = read_features(path)
    assert table.names == ["a", "a.1", "b"]
    np.testing.assert_array_equal(table.values, [[1, 2, 3], [4, 5, 7], [2, 2, 9]])


def test_assignments_written_in_blocks_equal_one_pass(tmp_path, faithful):
    gm = GaussianMixture(3, random_state=0).fit(faithful)
    ids = pd.Series([f"r{i}" for i in range(len(faithful))], name="row")
    path = tmp_path / "a.csv"
    # several blocks, the last one short
    sizes = write_assignments(path, gm, faithful, ["eruptions", "waiting"], ids, rows=50)
    table = pd.read_csv(path)
    assert list(table.columns) == ["row", "eruptions", "waiting", "label", "probability"] + [
        "p0",
        "p1",
        "p2",
    ]
    proba = gm.predict_proba(faithful)
    np.testing.assert_array_equal(table["row"], ids)
    np.testing.assert_array_equal(table[["eruptions", "waiting"]], faithful)
    np.testing.assert_array_equal(table[["p0", "p1", "p2"]], proba)  # shortest repr round-trips
    np.testing.assert_array_equal(table["label"], proba.argmax(axis=1))
    np.testing.assert_array_equal(sizes, np.bincount(proba.argmax(axis=1), minlength=3))


@pytest.mark.parametrize("decimal_type", ["decimal128", "decimal256"])
def test_fit_uses_parquet_decimal_columns_as_numbers(tmp_path, decimal_type):
    """A decimal column is numbers (float64, as the library's Parquet source reads it), not a
    text column silently left out of the fit."""
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    import emkit
    from emkit.cli import main

    prices = ["1.25", "3.50", "2.00", "7.75", "4.10", "0.35"]
    weights = [1.0, 2.0, 3.0, 4.0, 5.5, 0.5]
    kind = getattr(pa, decimal_type)(12, 2)
    table = pa.table({"price": pa.array([decimal.Decimal(p) for p in prices], kind), "w": weights})
    path = tmp_path / "x.parquet"
    pq.write_table(table, path)
    argv = ["fit", str(path), "-k", "1", "--covariance", "diag", "--quiet", "--no-report"]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 0
    model = emkit.load(tmp_path / "o" / "model.json")
    assert list(model.feature_names_in_) == ["price", "w"]
    np.testing.assert_allclose(
        model.means_[0], [np.mean([float(p) for p in prices]), np.mean(weights)]
    )


def test_read_raw_reads_parquet_decimal_nulls_as_nan(tmp_path):
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    from emkit.cli.table import read_raw

    values = [decimal.Decimal("1.5"), None, decimal.Decimal("-2.25")]
    pq.write_table(pa.table({"d": pa.array(values, pa.decimal128(5, 2))}), tmp_path / "d.pq")
    column = read_raw(tmp_path / "d.pq")["d"]
    assert column.dtype == np.float64
    np.testing.assert_array_equal(column, [1.5, np.nan, -2.25])
