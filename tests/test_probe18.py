"""Probe 18: times of day and intervals refused by name, pyarrow Tables' dates refused."""

import contextlib
import datetime
import io

import numpy as np
import pandas as pd
import pytest

import emkit
from emkit.cli import main

pa = pytest.importorskip("pyarrow")

N = 40


def arrow_columns() -> dict:
    """One column of each Arrow time type, N rows."""
    return {
        "ts": (pa.array(pd.date_range("2020-01-01", periods=N), pa.timestamp("ns")), "dates"),
        "day": (pa.array([datetime.date(2020, 1, 1 + i % 28) for i in range(N)]), "dates"),
        "took": (pa.array([datetime.timedelta(seconds=i) for i in range(N)]), "durations"),
        "t64": (
            pa.array([datetime.time(1, 2, i % 60) for i in range(N)], pa.time64("us")),
            "times of day",
        ),
        "t32": (
            pa.array([datetime.time(3, i % 60) for i in range(N)], pa.time32("s")),
            "times of day",
        ),
        "span": (
            pa.array([(1, i, 3) for i in range(N)], pa.month_day_nano_interval()),
            "intervals",
        ),
    }


def table(column: str):
    values, _ = arrow_columns()[column]
    x = np.random.default_rng(0).normal(size=N)
    return pa.table({"a": x, column: values})


@pytest.mark.parametrize("column", list(arrow_columns()))
@pytest.mark.parametrize("form", ["Table", "ArrowDtype", "objects"])
@pytest.mark.parametrize("estimator", ["GaussianMixture", "KMeans", "MixtureModel"])
def test_arrow_time_columns_are_refused_by_name(column, form, estimator):
    # A pyarrow Table's dates and durations were fitted as counts of their unit without a
    # word; times of day and intervals (in every form) failed with NumPy's bare
    # "float() argument must be ... not 'datetime.time'" TypeError.
    t = table(column)
    x = {
        "Table": t,
        "ArrowDtype": t.to_pandas(types_mapper=pd.ArrowDtype),
        "objects": t.to_pandas(),
    }[form]
    kind = arrow_columns()[column][1]
    model = {
        "GaussianMixture": emkit.GaussianMixture(2, random_state=0),
        "KMeans": emkit.KMeans(2, random_state=0),
        "MixtureModel": emkit.MixtureModel([emkit.Normal(), emkit.Normal()], random_state=0),
    }[estimator]
    with pytest.raises(ValueError, match=rf"needs real numbers, but {column} \({kind}\) is not"):
        model.fit(x)


@pytest.mark.parametrize("column", ["t64", "span", "took"])
def test_dask_frame_time_columns_are_named(column):
    # An Arrow interval column raised pandas' NotImplementedError(month_day_nano_interval).
    dd = pytest.importorskip("dask.dataframe")
    frame = dd.from_pandas(table(column).to_pandas(types_mapper=pd.ArrowDtype), npartitions=2)
    kind = arrow_columns()[column][1]
    with pytest.raises(ValueError, match=rf"columns \['{column} \({kind}\)'\] are not"):
        emkit.GaussianMixture(2, random_state=0).fit(frame)


def run_main(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("workers", [[], ["--workers", "1"]], ids=["memory", "dask"])
def test_cli_names_parquet_times_of_day(tmp_path, workers):
    # They were "text": --columns naming one said "is not numeric (40 rows such as
    # '01:02:00'); ... encode this one as numbers".
    if workers:
        pytest.importorskip("distributed")
    t = table("t64").append_column("b", pa.array(np.arange(N) % 2 * 5.0))
    path = tmp_path / "t.parquet"
    import pyarrow.parquet as pq

    pq.write_table(t, path)
    fast = ["-k", "1", "--covariance", "full", "--quiet", "--no-report", *workers]
    status, _, err = run_main(["fit", path, "--columns", "a,t64", "--out", tmp_path / "o", *fast])
    assert status == 2
    assert "column 't64' holds times of day, not numbers; convert it" in err
