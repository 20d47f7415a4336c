"""Probe 18: times of day and intervals refused by name, pyarrow Tables' dates refused."""

import datetime

import numpy as np
import pandas as pd
import pytest

import emkit
from cli_run import run_main

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


# --- estimate() checks that it is given the rows the model was fitted to -------------------


def two_groups(n: int = 400, seed: int = 0, offset: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(0, 1, (n // 2, 2)), rng.normal(5, 1, (n - n // 2, 2))]) + offset


def test_estimate_on_other_rows_is_refused_where_it_was_silently_wrong():
    # One component: the fit is the sample mean and covariance, whose standard errors are
    # closed forms of the rows fitted, sqrt(diag(S) / n). estimate() on half the rows gave
    # sqrt(2) times larger errors without a word; on the right rows it is the closed form.
    x = two_groups(offset=3.0)
    gm = emkit.GaussianMixture(1, covariance_type="diag", reg_covar=0).fit(x)
    closed = np.sqrt(x.var(axis=0) / len(x))
    np.testing.assert_allclose(gm.estimate(x).stderr["means"][0], closed, rtol=1e-9)
    for other, what in [
        (x[:200], "total weight of 200"),
        (two_groups(seed=1, offset=3.0), "column 0 has mean"),
        ((x - x.mean(0)) / x.std(0), "column 0 has mean"),  # standardised rows
        (x.mean(0) + (x - x.mean(0)) * [1.0, 1.01], "column 1 has variance"),
    ]:
        with pytest.raises(ValueError, match=f"estimate\\(\\) needs the rows.*{what}"):
            gm.estimate(other)
    with pytest.raises(ValueError, match="total weight of 800 where the fit's was 400"):
        gm.estimate(x, sample_weight=np.full(len(x), 2.0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_estimate_takes_the_fitted_rows_in_any_order_chunks_or_backend(dtype):
    x = two_groups(offset=1e3)
    gm = emkit.GaussianMixture(2, random_state=0, dtype=dtype).fit(x)
    expected = gm.estimate(x).stderr["means"]
    torch = pytest.importorskip("torch")
    da = pytest.importorskip("dask.array")
    order = np.random.default_rng(1).permutation(len(x))
    for rows in [x[order], x.astype(np.float32), torch.tensor(x), da.from_array(x, chunks=77)]:
        np.testing.assert_allclose(gm.estimate(rows).stderr["means"], expected, rtol=1e-4)
    # integer weights are rows repeated that often (the fit's log-likelihood is the same)
    w = np.random.default_rng(2).integers(1, 4, len(x)).astype(float)
    weighted = emkit.GaussianMixture(2, random_state=0).fit(x, sample_weight=w)
    repeated = np.repeat(x, w.astype(int), axis=0)
    np.testing.assert_allclose(
        weighted.estimate(repeated).stderr["means"],
        weighted.estimate(x, w).stderr["means"],
        rtol=1e-8,
    )


def test_mixture_model_and_regression_estimate_refuse_other_rows():
    # Poisson, one component: the rate's standard error is sqrt(mean / n) of the fitted rows.
    rng = np.random.default_rng(0)
    counts = rng.poisson(4.0, size=(300, 1))
    mm = emkit.MixtureModel([emkit.Poisson()]).fit(counts)
    se = mm.estimate(counts).stderr["rate"].ravel()[0]
    assert se == pytest.approx(np.sqrt(counts.mean() / len(counts)), rel=1e-6)
    with pytest.raises(ValueError, match="estimate\\(\\) needs the rows"):
        mm.estimate(rng.poisson(4.0, size=(300, 1)))
    x = rng.uniform(0, 10, (200, 1))
    y = np.where(rng.uniform(size=200) < 0.5, 1 + 2 * x[:, 0], 8 - 0.5 * x[:, 0])
    y = y + rng.normal(0, 0.5, 200)
    lines = emkit.MixtureOfRegressions(2, random_state=0).fit(x, y)
    lines.estimate(x, y)
    with pytest.raises(ValueError, match="column 1 has mean"):
        lines.estimate(x, y + 1.0)


def test_summary_of_a_weighted_fit_leaves_out_errors_it_cannot_give():
    # summary(X) takes no sample_weight: for a weighted fit it printed Louis' errors of the
    # unweighted rows, not the fit's; now it prints the parameters without them.
    x = two_groups()
    w = np.random.default_rng(3).uniform(0.5, 2.0, len(x))
    gm = emkit.GaussianMixture(2, random_state=0).fit(x, sample_weight=w)
    assert "Standard errors of the means" not in gm.summary(x, parameters=True)
    plain = emkit.GaussianMixture(2, random_state=0).fit(x)
    assert "Standard errors of the means" in plain.summary(x, parameters=True)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag"])
def test_estimate_accepts_its_own_rows_with_a_constant_column(covariance_type):
    # A constant column's scatter, merged over the components, rounded to -1e-42: its square
    # root was NaN and the fit's own rows were refused ("mean 3 where the fit's rows had 3").
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(size=(300, 2)), np.full(300, 3.0)])
    x[:150, 0] += 4
    gm = emkit.GaussianMixture(2, covariance_type=covariance_type, reg_covar=1e-6, random_state=0)
    gm.fit(x)
    assert gm.estimate(x).n == 300


def test_regression_estimate_accepts_an_explicit_intercept_column():
    # statsmodels' add_constant habit: a column of ones in X (refused in 3 of these 20 fits)
    for seed in range(20):
        rng = np.random.default_rng(seed)
        x = rng.uniform(0, 10, 200)
        y = np.where(rng.uniform(size=200) < 0.5, 1 + 2 * x, 8 - 0.5 * x) + rng.normal(0, 0.5, 200)
        ones_and_x = np.column_stack([np.ones(200), x])
        fit = emkit.MixtureOfRegressions(2, random_state=0).fit(ones_and_x, y)
        assert fit.estimate(ones_and_x, y).n == 200
