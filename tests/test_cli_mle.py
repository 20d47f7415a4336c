"""``emkit mle``: through its own parser, and end to end through ``emkit.cli.main``."""

import argparse
import importlib.util
import sys
import types

import numpy as np
import pandas as pd
import pytest

import emkit.cli
from emkit.cli import mle as cli_mle
from emkit.exceptions import DataError


def run_mle(argv):
    parser = argparse.ArgumentParser(prog="emkit")
    cli_mle.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["mle", *argv])
    return args.func(args)


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "data.csv"
    pd.DataFrame(
        {
            "x": [5, 0, 1, 1, 0, 3, 2, 3, 4, 1],
            "coin": [1, 0, 0, 1, 1, 0, 1, 0, 0, 0],
            "z": np.linspace(-1, 2, 10) ** 2,
            "neg": [-1, 0, 1, 1, 0, 3, 2, 3, 4, 1],
        }
    ).to_csv(path, index=False)
    return path


def test_poisson_table(table, capsys):
    assert run_mle(["poisson", str(table), "--column", "x"]) == 0
    out = capsys.readouterr().out
    assert "Poisson maximum likelihood" in out
    row = next(line for line in out.splitlines() if line.startswith("rate"))
    values = [float(v) for v in row.split()[1:]]
    assert values[0] == 2
    assert values[1] == pytest.approx(np.sqrt(0.2), abs=5e-4)  # printed with 3 decimals


@pytest.mark.parametrize(
    "family, column",
    [("bernoulli", "coin"), ("exponential", "z"), ("normal", "z"), ("categorical", "x")],
)
def test_each_one_column_family(table, capsys, family, column):
    assert run_mle([family, str(table), "--column", column]) == 0
    assert "std err" in capsys.readouterr().out


def test_multivariate_normal_columns(table, capsys):
    assert run_mle(["multivariate_normal", str(table), "--columns", "x,z", "--level", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "covariance[x,z]" in out and "mean[z]" in out


def test_bad_data_become_data_errors(table):
    with pytest.raises(DataError, match="'neg'.*non-negative integer"):
        run_mle(["poisson", str(table), "--column", "neg"])
    with pytest.raises(DataError, match="0 and 1"):
        run_mle(["bernoulli", str(table), "--column", "x"])
    with pytest.raises(DataError, match="choose one with --column"):
        run_mle(["poisson", str(table)])
    with pytest.raises(DataError, match="no column"):
        run_mle(["poisson", str(table), "--column", "nope"])


@pytest.fixture
def other_subcommands(monkeypatch):
    """Stand-ins for the dispatcher's other subcommand modules while they are not written."""
    for name in ("fit", "predict", "demo"):
        if importlib.util.find_spec(f"emkit.cli.{name}") is None:
            stub = types.ModuleType(f"emkit.cli.{name}")
            stub.register = lambda subparsers: None
            monkeypatch.setitem(sys.modules, f"emkit.cli.{name}", stub)
            monkeypatch.setattr(emkit.cli, name, stub, raising=False)


def test_end_to_end_through_main(table, capsys, other_subcommands):
    from emkit.cli import main

    assert main(["mle", "poisson", str(table), "--column", "x"]) == 0
    assert "rate" in capsys.readouterr().out
    assert main(["mle", "poisson", str(table), "--column", "neg"]) == 2
    assert "non-negative integer" in capsys.readouterr().err
    assert main(["mle", "poisson", str(table.parent / "missing.csv"), "--column", "x"]) == 2


# ---- every family, the regressions, names and statsmodels' number format ---------------------


def table_rows(out: str) -> dict[str, list[float]]:
    """The parameter rows of a printed report: name -> coef, std err, z, p, ci low, ci high."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("---"))
    rows = {}
    for line in lines[start + 1 :]:
        if line.startswith("==="):
            break
        name, *values = line.split()
        rows[name] = [float(v) for v in values]
    return rows


@pytest.fixture
def real(tmp_path):
    """Semicolons, decimal commas, an id and a text column, and one missing value."""
    rng = np.random.default_rng(3)
    n = 80
    t = np.linspace(0, 5, n)
    frame = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(n)],
            "t": t,
            "y": 3 * np.exp(-0.7 * t) + rng.normal(0, 0.05, n),
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "species": rng.choice(["setosa", "versicolor", "virginica"], n),
            "k": rng.binomial(10, 0.3, n),
            "trials": rng.integers(10, 20, n),
            "g": rng.gamma(3.0, 0.5, n),
        }
    )
    frame["z"] = 1 + 2 * frame["x1"] - frame["x2"] + rng.normal(size=n)
    frame.loc[3, "x1"] = np.nan
    path = tmp_path / "real.csv"
    frame.to_csv(path, sep=";", decimal=",", index=False)
    return path, frame


def test_categorical_names_rows_by_category(real, capsys):
    path, frame = real
    assert run_mle(["categorical", str(path), "--column", "species"]) == 0
    rows = table_rows(capsys.readouterr().out)
    shares = frame["species"].value_counts(normalize=True)
    assert list(rows) == [f"probs[{c}]" for c in sorted(shares.index)]
    for c in shares.index:
        assert rows[f"probs[{c}]"][0] == pytest.approx(shares[c], abs=5e-5)


def test_library_categorical_takes_names():
    from emkit import mle

    named = mle.categorical(["b", "a", "b", "c", "b"])
    coded = mle.categorical([1, 0, 1, 2, 1])
    np.testing.assert_array_equal(named.params["probs"], coded.params["probs"])
    np.testing.assert_array_equal(named.cov, coded.cov)
    assert named.summary().index.tolist() == ["probs[a]", "probs[b]", "probs[c]"]
    with pytest.raises(ValueError, match="missing"):
        mle.categorical(["a", None])


def test_report_prints_numbers_as_statsmodels():
    summary = pytest.importorskip("statsmodels.iolib.summary")
    from emkit import mle

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    est = mle.linear_regression(x, x @ [1.0, 2e-6] + rng.normal(size=40) * 1e-3)
    table = est.summary()
    rows = [line.split() for line in str(est).splitlines()[5:9]]
    for row, (_, r) in zip(rows, table.iterrows(), strict=True):
        assert row[1] == summary.forg(r["estimate"], prec=4).strip()
        assert row[2:4] == [summary.forg(r["std_err"]).strip(), summary.forg(r["z"]).strip()]
        assert row[4] == f"{r['p_value']:#6.3f}".strip()
        assert row[5:] == [summary.forg(r["ci_low"]).strip(), summary.forg(r["ci_high"]).strip()]
    assert "e-" in rows[0][1] and "[0.025" in str(est)


def test_linear_formula_agrees_with_statsmodels(real, capsys):
    sm = pytest.importorskip("statsmodels.api")
    path, frame = real
    assert run_mle(["linear", str(path), "--formula", "z ~ x1 + x2"]) == 0
    out = capsys.readouterr()
    assert "left out 1 rows with a missing value" in out.err
    rows = table_rows(out.out)
    assert list(rows) == ["intercept", "x1", "x2", "variance"]
    data = frame[["z", "x1", "x2"]].dropna()
    ols = sm.OLS(data["z"], sm.add_constant(data[["x1", "x2"]])).fit()
    n, p = len(data), 3
    for name, ref in zip(["intercept", "x1", "x2"], ["const", "x1", "x2"], strict=True):
        assert rows[name][0] == pytest.approx(ols.params[ref], abs=5e-5)
        # the MLE of the variance divides by n, OLS by n - p
        assert rows[name][1] == pytest.approx(ols.bse[ref] * np.sqrt((n - p) / n), abs=5e-4)
    assert run_mle(["linear", str(path), "--y", "z", "--x", "x1,x2"]) == 0
    assert table_rows(capsys.readouterr().out) == rows
    assert run_mle(["linear", str(path), "--formula", "z ~ x2 + 0"]) == 0
    assert list(table_rows(capsys.readouterr().out)) == ["x2", "variance"]


def test_linear_formula_terms_transform_columns_as_statsmodels_does(real, capsys):
    sm = pytest.importorskip("statsmodels.api")
    path, frame = real
    formula = "z ~ x2 + log(g) + I(x2**2) + sqrt(t+1)"
    assert run_mle(["linear", str(path), "--formula", formula]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert list(rows) == ["intercept", "x2", "log(g)", "I(x2**2)", "sqrt(t+1)", "variance"]
    design = np.column_stack(
        [frame["x2"], np.log(frame["g"]), frame["x2"] ** 2, np.sqrt(frame["t"] + 1)]
    )
    ols = sm.OLS(frame["z"].to_numpy(), sm.add_constant(design)).fit()
    n, p = len(frame), 5
    for j, name in enumerate(["intercept", "x2", "log(g)", "I(x2**2)", "sqrt(t+1)"]):
        assert rows[name][0] == pytest.approx(ols.params[j], abs=5e-5)
        assert rows[name][1] == pytest.approx(ols.bse[j] * np.sqrt((n - p) / n), abs=5e-4)


def test_formula_names_dotted_or_in_backticks_as_in_r(tmp_path, capsys):
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "Petal.Width": rng.uniform(0.1, 2.5, 60),
            "sepal-len": rng.uniform(4, 8, 60),
            "sepal length (cm)": rng.uniform(4, 8, 60),
            "y-1": rng.normal(size=60),
        }
    )
    path = tmp_path / "iris.csv"
    frame.to_csv(path, index=False)
    formula = "`y-1` ~ log(Petal.Width) + sqrt(`sepal-len`) + Petal.Width"
    assert run_mle(["linear", str(path), "--formula", formula]) == 0
    rows = table_rows(capsys.readouterr().out)
    names = ["intercept", "log(Petal.Width)", "sqrt(`sepal-len`)", "Petal.Width"]
    assert list(rows) == [*names, "variance"]
    design = np.column_stack(
        [np.log(frame["Petal.Width"]), np.sqrt(frame["sepal-len"]), frame["Petal.Width"]]
    )
    ols = sm.OLS(frame["y-1"].to_numpy(), sm.add_constant(design)).fit()
    for j, name in enumerate(names):
        assert rows[name][0] == pytest.approx(ols.params[j], abs=5e-5)
    # a nonlinear formula over a name with spaces
    argv = ["nonlinear", str(path), "--formula", "`y-1` ~ a * `sepal length (cm)` + b"]
    assert run_mle([*argv, "--start", "a=1,b=0"]) == 0
    fitted = table_rows(capsys.readouterr().out)
    line = sm.OLS(frame["y-1"].to_numpy(), sm.add_constant(frame["sepal length (cm)"])).fit()
    assert fitted["a"][0] == pytest.approx(line.params.iloc[1], abs=5e-5)
    assert fitted["b"][0] == pytest.approx(line.params.iloc[0], abs=5e-5)


def test_linear_formula_terms_that_cannot_be_read_say_why(real):
    path, _ = real
    cases = {
        "z ~ x2 ^ 2": r"R's crossing \(x\^2 is x\); write I\(x \*\* 2\)",
        "z ~ x2 + log(t)": r"log\(t\) is not finite on 1 row\(s\) \(the first where t = 0\)",
        "z ~ x2:log(t)": r"log\(t\) is not finite on 1 row\(s\)",
        "z ~ open(x2)": "not one of the functions",
        "z ~ log(q)": "no column 'q'",
        "z ~ x2:species": "'species' is not numeric.*code the categories as 0/1",
        "z ~ x1 * x2 - t": "'- t' removes no term",
        "z ~ 2:x2": "the number 2 is not a term",
        "z ~ (x1 + x2": "a parenthesis is not closed",
        "z ~ x1:1": r"0 and 1 \(the intercept\) can be added or removed, not crossed",
        "log(t) ~ x2": r"the response log\(t\) is not finite on 1 row\(s\)",
        "`z-1` ~ x2": "no column 'z-1'",
    }
    for formula, message in cases.items():
        with pytest.raises(DataError, match=message):
            run_mle(["linear", str(path), "--formula", formula])


def fit_formula(path, formula: str) -> tuple[dict[str, tuple[float, float]], str]:
    """Each coefficient's estimate and standard error (RSS/(N - p), as OLS) at full precision,
    by the row's name, and the header naming the model."""
    parser = argparse.ArgumentParser(prog="emkit")
    cli_mle.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["mle", "linear", str(path), "--formula", formula])
    args.variance = "unbiased"
    frame = pd.read_csv(path, sep=";", decimal=",")
    estimate, where = cli_mle.regression(args, frame)
    values = [
        v
        for k in ("intercept", "coef")
        if k in estimate.params
        for v in np.ravel(estimate.params[k])
    ]
    errors = [
        v
        for k in ("intercept", "coef")
        if k in estimate.stderr
        for v in np.ravel(estimate.stderr[k])
    ]
    names = [n for n in estimate.labels if n != "variance"]
    return dict(zip(names, zip(values, errors, strict=True), strict=True)), where


def assert_like_statsmodels(fitted, ols, rename=lambda name: name):
    """The coefficients and errors of ``fitted`` those of the statsmodels fit ``ols``, a
    term matched whatever the order of its factors (patsy keeps them as written)."""
    ours = {frozenset(n.split(":")) if n != "intercept" else "": v for n, v in fitted.items()}
    for name in ols.params.index:
        key = "" if name == "Intercept" else frozenset(rename(name).split(":"))
        coef, se = ours.pop(key)
        assert coef == pytest.approx(ols.params[name], rel=1e-10, abs=1e-12)
        assert se == pytest.approx(ols.bse[name], rel=1e-10)
    assert not ours


# The coefficients R's lm names (R 4, numeric columns): terms by number of factors, each
# term's factors in the order the formula first names them, a term named twice kept once.
R_NAMES = {
    "z ~ x1:x2": ["x1:x2"],
    "z ~ x1*x2": ["x1", "x2", "x1:x2"],
    "z ~ x2:x1 + x1": ["x1", "x2:x1"],
    "z ~ x1 + x2:x1 + x1:x2": ["x1", "x1:x2"],
    "z ~ x1:x1 + t": ["x1", "t"],
    "z ~ (x1 + x2)*t": ["x1", "x2", "t", "x1:t", "x2:t"],
    "z ~ t:(x1 + x2) + x2": ["x2", "t:x1", "t:x2"],
    "z ~ x1*x2*t - x1:x2:t": ["x1", "x2", "t", "x1:x2", "x1:t", "x2:t"],
    "z ~ log(g):x2 + x1*x2 - 1": ["x1", "x2", "log(g):x2", "x2:x1"],
}


@pytest.mark.parametrize("formula", list(R_NAMES))
def test_linear_formula_interactions_as_r_and_statsmodels(real, formula):
    smf = pytest.importorskip("statsmodels.formula.api")
    path, frame = real
    fitted, where = fit_formula(path, formula)
    names = R_NAMES[formula]
    assert list(fitted) == (names if "- 1" in formula else ["intercept", *names])
    assert where.endswith(f"z ~ {' + '.join(names)}{' + 0' if '- 1' in formula else ''}")
    data = frame.dropna(subset=["x1"])
    ols = smf.ols(formula.replace("log(", "np.log("), data).fit()
    assert_like_statsmodels(fitted, ols, lambda name: name.replace("np.log(", "log("))


@pytest.mark.parametrize(
    "formula, patsy",
    [
        ("log(g) ~ x1 + x2", "np.log(g) ~ x1 + x2"),
        ("sqrt(`g`) ~ x1:x2", "np.sqrt(g) ~ x1:x2"),
        ("I(g ** 2) ~ x1 * t", "I(g ** 2) ~ x1 * t"),
        ("z - 1 ~ x1", "I(z - 1) ~ x1"),  # R reads the left side as arithmetic
    ],
)
def test_a_transformed_response_is_fitted_as_statsmodels_does(real, formula, patsy):
    smf = pytest.importorskip("statsmodels.formula.api")
    path, frame = real
    fitted, where = fit_formula(path, formula)
    assert where.split(": ", 1)[1].startswith(formula.split(" ~ ")[0] + " ~ ")
    assert_like_statsmodels(fitted, smf.ols(patsy, frame.dropna(subset=["x1"])).fit())


def test_the_response_cannot_be_a_term(real):
    path, _ = real
    for formula in ("z ~ x1 + z", "z ~ `z`", "log(g) ~ x1 + log( g )"):
        with pytest.raises(DataError, match="is also a term on the right-hand side"):
            run_mle(["linear", str(path), "--formula", formula])
    with pytest.raises(DataError, match="--x names the response 'z'"):
        run_mle(["linear", str(path), "--y", "z", "--x", "x1,z"])


def test_unbiased_variance_prints_the_ols_table(real, capsys):
    sm = pytest.importorskip("statsmodels.api")
    path, frame = real
    argv = ["linear", str(path), "--formula", "z ~ x1 + x2", "--variance", "unbiased"]
    assert run_mle(argv) == 0
    out = capsys.readouterr().out
    assert "P>|t|" in out
    rows = table_rows(out)
    data = frame[["z", "x1", "x2"]].dropna()
    ols = sm.OLS(data["z"], sm.add_constant(data[["x1", "x2"]])).fit()
    low, high = ols.conf_int(0.05).T.to_numpy()
    for j, (name, ref) in enumerate(
        zip(["intercept", "x1", "x2"], ["const", "x1", "x2"], strict=True)
    ):
        _, se, t, p, ci_low, ci_high = rows[name]
        assert se == pytest.approx(ols.bse[ref], abs=5e-4)
        assert t == pytest.approx(ols.tvalues[ref], rel=1e-3)
        assert p == pytest.approx(ols.pvalues[ref], abs=5e-4)
        assert [ci_low, ci_high] == pytest.approx([low[j], high[j]], abs=5e-4)
    with pytest.raises(DataError, match="--variance applies to the regressions"):
        run_mle(["poisson", str(path), "--column", "k", "--variance", "unbiased"])


def test_nonlinear_formula_agrees_with_curve_fit(real, capsys):
    from scipy.optimize import curve_fit

    path, frame = real
    argv = ["nonlinear", str(path), "--formula", "y ~ a * exp(-k * t)", "--start", "a=1,k=1"]
    assert run_mle(argv) == 0
    rows = table_rows(capsys.readouterr().out)
    assert list(rows) == ["a", "k", "variance"]
    popt, pcov = curve_fit(lambda t, a, k: a * np.exp(-k * t), frame["t"], frame["y"], p0=[1, 1])
    n = len(frame)
    se = np.sqrt(np.diag(pcov) * (n - 2) / n)  # curve_fit divides the RSS by n - 2
    for j, name in enumerate(["a", "k"]):
        assert rows[name][0] == pytest.approx(popt[j], abs=5e-5)
        assert rows[name][1] == pytest.approx(se[j], abs=5e-4)


def test_r_powers_read_as_powers(tmp_path, capsys):
    """``^`` is R's power in nls's ``a * x^b`` and in ``I(x^2)`` (it was refused as "not
    understood"); precedence as R's: ``-x^2+1`` is ``1 - x**2``, ``2^x^2`` is ``2^(x^2)``."""
    from scipy.optimize import curve_fit

    rng = np.random.default_rng(0)
    x = rng.uniform(1, 2, 60)
    y = 2 * x**1.5 + rng.normal(0, 0.3, 60)
    path = tmp_path / "pow.csv"
    pd.DataFrame({"x": x, "y": y}).to_csv(path, index=False)
    argv = ["nonlinear", str(path), "--formula", "y ~ a * x^b", "--start", "a=1,b=1"]
    assert run_mle(argv) == 0
    rows = table_rows(capsys.readouterr().out)
    popt, _ = curve_fit(lambda x, a, b: a * x**b, x, y, p0=[1, 1])
    assert [rows["a"][0], rows["b"][0]] == pytest.approx(popt, abs=5e-5)
    for term, column in (("I(x^2)", x**2), ("I(-x^2+1)", 1 - x**2), ("I(2^x^2)", 2 ** (x**2))):
        assert run_mle(["linear", str(path), "--formula", f"y ~ {term}"]) == 0
        rows = table_rows(capsys.readouterr().out)
        slope = np.polyfit(column, y, 1)[0]
        assert rows[term][0] == pytest.approx(slope, rel=1e-4)


def test_gamma_agrees_with_scipy_and_the_fisher_information(real, capsys):
    from scipy import special, stats

    path, frame = real
    assert run_mle(["gamma", str(path), "--column", "g"]) == 0
    rows = table_rows(capsys.readouterr().out)
    x = frame["g"].to_numpy()
    a, _, scale = stats.gamma.fit(x, floc=0)
    b = 1 / scale
    assert rows["shape"][0] == pytest.approx(a, rel=1e-4)
    assert rows["rate"][0] == pytest.approx(b, rel=1e-4)
    info = len(x) * np.array([[special.polygamma(1, a), -1 / b], [-1 / b, a / b**2]])
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    assert rows["shape"][1] == pytest.approx(se[0], abs=5e-4)
    assert rows["rate"][1] == pytest.approx(se[1], abs=5e-4)


def test_binomial_with_a_trials_column_and_a_number(real, capsys):
    path, frame = real
    assert run_mle(["binomial", str(path), "--column", "k", "--trials", "trials"]) == 0
    p = table_rows(capsys.readouterr().out)["p"]
    share = frame["k"].sum() / frame["trials"].sum()
    assert p[0] == pytest.approx(share, abs=5e-5)
    assert p[1] == pytest.approx(np.sqrt(share * (1 - share) / frame["trials"].sum()), abs=5e-4)
    assert run_mle(["binomial", str(path), "--column", "k", "--trials", "10"]) == 0
    assert table_rows(capsys.readouterr().out)["p"][0] == pytest.approx(
        frame["k"].sum() / (10 * len(frame)), abs=5e-5
    )


def test_multivariate_normal_rows_named_by_column(real, capsys):
    path, frame = real
    assert run_mle(["multivariate_normal", str(path), "--columns", "x1,x2"]) == 0
    rows = table_rows(capsys.readouterr().out)
    data = frame[["x1", "x2"]].dropna().to_numpy()
    assert rows["mean[x2]"][0] == pytest.approx(data[:, 1].mean(), abs=5e-5)
    assert rows["covariance[x1,x2]"][0] == pytest.approx(np.cov(data.T, bias=True)[0, 1], abs=5e-5)


def test_a_column_named_twice_is_refused(real):
    path, _ = real
    for argv, flag in (
        (["multivariate_normal", str(path), "--columns", "x1,x2,x1"], "--columns"),
        (["linear", str(path), "--y", "z", "--x", "x1,x1"], "--x"),
    ):
        with pytest.raises(DataError, match=f"{flag} .* names 'x1' more than once"):
            run_mle(argv)


def test_a_nonlinear_name_without_a_start_asks_for_one(real):
    path, _ = real
    argv = ["nonlinear", str(path), "--formula", "y ~ a * exp(-r * t)", "--start", "a=1"]
    with pytest.raises(DataError, match="'r' is neither a column .* --start a=1,r=1"):
        run_mle(argv)


def test_formulas_run_no_code(real):
    path, _ = real
    for formula in ("y ~ a * __import__('os')", "y ~ a * t[0]", "y ~ 'a'", "y ~ a * t.real()"):
        with pytest.raises(DataError, match="--formula"):
            run_mle(["nonlinear", str(path), "--formula", formula, "--start", "a=1"])
    # a dotted name is a column's name (R's Petal.Width), never an attribute
    with pytest.raises(DataError, match="'t.real' is neither a column"):
        run_mle(["nonlinear", str(path), "--formula", "y ~ a * t.real", "--start", "a=1"])
    from emkit.cli.formula import linear_terms

    assert linear_terms("y ~ x1 + x2 - 1") == ("y", [("x1",), ("x2",)], False)
    assert linear_terms("y ~ log(x - 1) - 1") == ("y", [("log(x - 1)",)], False)
    with pytest.raises(DataError):
        linear_terms("y ~ x1 * x2 - x3")
    # nor through a response or an interaction
    for formula in ("__import__('os') ~ t", "z ~ t:__import__('os')", "z ~ t:x1[0]"):
        with pytest.raises(DataError, match="--formula"):
            run_mle(["linear", str(path), "--formula", formula])
    with pytest.raises(DataError, match="no column 'z.__class__'"):
        run_mle(["linear", str(path), "--formula", "z.__class__ ~ t"])


# ---- extreme scales, names, options that do not apply ----------------------------------------


def test_gamma_of_tiny_values_has_the_fisher_errors(tmp_path, capsys):
    from scipy import special, stats

    path = tmp_path / "tiny.csv"
    x = np.array([1.0, 2.0, 3.0, 5.0])
    pd.DataFrame({"x": x * 1e-100}).to_csv(path, index=False)
    assert run_mle(["gamma", str(path)]) == 0  # the errors were NaN with a HessianWarning
    rows = table_rows(capsys.readouterr().out)
    a, _, scale = stats.gamma.fit(x, floc=0)  # at scale 1; the rate scales by 1e100
    b = 1 / scale
    info = 4 * np.array([[special.polygamma(1, a), -1 / b], [-1 / b, a / b**2]])
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    assert rows["shape"][:2] == pytest.approx([a, se[0]], rel=5e-4)  # 3.257, 2.195
    assert rows["rate"][:2] == pytest.approx([b * 1e100, se[1] * 1e100], rel=5e-4)


def test_gamma_far_from_zero_has_the_fisher_errors(tmp_path, capsys):
    # a shape of ~5e9: a numerical Hessian of the textbook log-likelihood gave the errors from
    # rounding noise; the table shows mle.gamma's closed-form information
    from emkit import mle

    path = tmp_path / "far.csv"
    x = 1e5 + np.random.default_rng(4).normal(size=40)
    pd.DataFrame({"x": x}).to_csv(path, index=False)
    assert run_mle(["gamma", str(path)]) == 0
    rows = table_rows(capsys.readouterr().out)
    est = mle.gamma(pd.read_csv(path)["x"].to_numpy())
    assert rows["shape"][:2] == pytest.approx([est.params["shape"], est.stderr["shape"]], rel=3e-3)
    assert rows["rate"][:2] == pytest.approx([est.params["rate"], est.stderr["rate"]], rel=3e-3)


def test_linear_names_dependent_terms_by_the_formula(real):
    path, _ = real
    with pytest.raises(DataError, match=r"I\(2 \* x2\) is a linear combination of intercept, x2"):
        run_mle(["linear", str(path), "--formula", "z ~ x2 + I(2 * x2)"])


def test_a_text_regressor_gets_advice_for_regressions(real):
    path, _ = real
    with pytest.raises(DataError, match="'species' is not numeric.*code the categories as 0/1"):
        run_mle(["linear", str(path), "--formula", "z ~ species"])
    with pytest.raises(DataError, match="'species' is not numeric.*categorical takes names"):
        run_mle(["poisson", str(path), "--column", "species"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["poisson", "--column", "k", "--trials", "3"],
            "--trials applies to binomial, not poisson",
        ),
        (["normal", "--column", "t", "--formula", "y ~ t"], "--formula applies to the regressions"),
        (["linear", "--formula", "z ~ x2", "--start", "a=1"], "--start applies to nonlinear"),
        (["linear", "--formula", "z ~ x2", "--y", "z", "--x", "t"], "--formula or --y and --x"),
        (["poisson", "--columns", "k,t"], "--columns applies to multivariate_normal"),
        (["nonlinear", "--formula", "y ~ a*t", "--start", "a=1", "--x", "t"], "linear, not non"),
        (["gamma", "--column", "g", "--variance", "mle"], "--variance applies to the regressions"),
    ],
)
def test_options_that_do_not_apply_are_refused(real, argv, message):
    path, _ = real
    family, *rest = argv
    with pytest.raises(DataError, match=message) as caught:
        run_mle([family, str(path), *rest])
    if "takes" in str(caught.value) and family == "poisson":
        assert str(caught.value).endswith("poisson takes --column")


def test_multivariate_normal_names_a_constant_column(tmp_path):
    path = tmp_path / "c.csv"
    pd.DataFrame({"x": [1.0, 2.0, 4.0], "n": [1, 1, 1]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"column\(s\) n are constant"):
        run_mle(["multivariate_normal", str(path)])


def test_whole_numbers_with_a_missing_value_name_categories_as_integers(tmp_path, capsys):
    path = tmp_path / "g.csv"
    path.write_text("g,h\n1,a\n2,b\n,c\n2,d\n")  # read as float: 1.0, 2.0, NaN, 2.0
    assert run_mle(["categorical", str(path), "--column", "g"]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert list(rows) == ["probs[1]", "probs[2]"]
    assert rows["probs[1]"][0] == pytest.approx(1 / 3, abs=1e-4)


@pytest.mark.parametrize(
    "formula, header, names",
    [("z ~ 1", "z ~ 1", ["intercept", "variance"]), ("z ~ 0", "z ~ 0", ["variance"])],
)
def test_formulas_without_terms(real, capsys, formula, header, names):
    path, frame = real
    assert run_mle(["linear", str(path), "--formula", formula]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith(f": {header}")
    rows = table_rows(out)
    assert list(rows) == names
    z = frame["z"].to_numpy()
    mean = z.mean() if "intercept" in names else 0.0
    assert rows["variance"][0] == pytest.approx(np.mean((z - mean) ** 2), abs=5e-5)


def _row(out: str, label: str) -> float:
    """The estimate printed on the row ``label`` of a table."""
    return float(next(line for line in out.splitlines() if line.startswith(label)).split()[1])


def test_default_columns_name_what_they_leave_out(tmp_path):
    """Columns ``emkit mle`` chooses itself (no --column/--columns) are chosen as ``emkit fit``
    chooses them: numbers with thousands separators named and left out (with the hint), a
    column of numbers with a stray '?' refused, never left out without a word."""
    from cli_run import run_main

    y = [1.2, 0.7, 2.2, 1.9, 0.4]
    path = tmp_path / "thousands.csv"
    path.write_text(
        'x,y\n"1,037.5",1.2\n"1,210.0",0.7\n"990.25",2.2\n"1,100.0",1.9\n"1,050.0",0.4\n'
    )
    for family in ("multivariate_normal", "normal"):
        status, out, err = run_main(["mle", family, path])
        assert status == 0, err
        assert "skipped 1 non-numeric column: x (text)" in err
        assert "column 'x' holds numbers written with thousands separators" in err
        label = "mean[y]" if family == "multivariate_normal" else "mean"
        assert _row(out, label) == pytest.approx(np.mean(y), abs=5e-5)
    path = tmp_path / "stray.csv"
    path.write_text("x,y\n1.5,1.2\n?,0.7\n2.5,2.2\n1.0,1.9\n3.0,0.4\n")
    for family in ("multivariate_normal", "normal"):
        status, _, err = run_main(["mle", family, path])
        assert status == 2
        assert "column 'x' is not numeric (1 value is not a number: '?'); correct" in err


def test_a_delimiter_at_the_end_of_every_line_is_left_out(tmp_path):
    """The empty column after a trailing delimiter (Excel) is left out with a note, and the
    estimate is that of the other columns: their means and covariance (divisor n)."""
    from cli_run import run_main

    x, y = np.array([1.5, 2.0, 2.5, 1.0, 3.0]), np.array([1.2, 0.7, 2.2, 1.9, 0.4])
    path = tmp_path / "trail.csv"
    path.write_text("x,y,\n" + "".join(f"{a},{b},\n" for a, b in zip(x, y, strict=True)))
    status, out, err = run_main(["mle", "multivariate_normal", path])
    assert status == 0, err
    assert "left out 1 column with no value (Unnamed: 2)" in err
    cov = np.cov(x, y, bias=True)
    assert _row(out, "mean[x]") == pytest.approx(x.mean(), abs=5e-5)
    assert _row(out, "covariance[x,y]") == pytest.approx(cov[0, 1], abs=5e-5)
    assert _row(out, "covariance[y,y]") == pytest.approx(cov[1, 1], abs=5e-5)


def test_binomial_counts_rows_as_observations_as_statsmodels(tmp_path):
    """No. observations is the rows (statsmodels' GLM Binomial nobs), not the trials."""
    sm = pytest.importorskip("statsmodels.api")
    from cli_run import run_main

    k = np.array([3, 4, 2, 5])
    path = tmp_path / "k.csv"
    pd.DataFrame({"k": k}).to_csv(path, index=False)
    status, out, err = run_main(["mle", "binomial", path, "--column", "k", "--trials", "10"])
    assert status == 0, err
    glm = sm.GLM(np.column_stack([k, 10 - k]), np.ones((4, 1)), family=sm.families.Binomial())
    result = glm.fit()
    assert f"No. observations: {int(result.nobs)} " in out
    assert "(40 trials)" in out
    assert _row(out, "p") == pytest.approx(1 / (1 + np.exp(-result.params[0])), abs=5e-5)


# ---- formulas nested deeply, '.' beside a named column, I() on the left ----------------------


def test_a_formula_nested_too_deeply_is_refused_in_one_line(real):
    path, _ = real
    deep = {
        "z ~ " + "(" * 400 + "x2" + ")" * 400: r"nested too deeply \(over 100 parentheses\)",
        "z ~ I(" + "x2 + " * 3000 + "x2)": "nested too deeply",
        "z ~ log(" + "(" * 400 + "g" + ")" * 400 + ")": "too many nested parentheses",
    }
    for formula, message in deep.items():
        with pytest.raises(DataError, match=message):
            run_mle(["linear", str(path), "--formula", formula])
    argv = ["nonlinear", str(path), "--start", "a=1", "--formula"]
    with pytest.raises(DataError, match="nested too deeply"):
        run_mle([*argv, "y ~ a * " + "-" * 3000 + "t"])
    # 100 parentheses are still read
    fitted, _ = fit_formula(path, "z ~ " + "(" * 100 + "x2" + ")" * 100)
    assert list(fitted) == ["intercept", "x2"]


def test_dot_keeps_a_column_named_in_backticks_once(tmp_path):
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "a b", "c"])
    frame.insert(0, "y", frame @ [1.0, -2.0, 0.5] + rng.normal(size=60))
    path = tmp_path / "d.csv"
    frame.to_csv(path, sep=";", decimal=",", index=False)
    ols = sm.OLS(frame["y"], sm.add_constant(frame[["a", "a b", "c"]])).fit()
    for formula in ("y ~ . + `a b`", "y ~ `a b` + .", "y ~ . + a"):
        fitted, _ = fit_formula(path, formula)
        rename = {"`a b`": "a b", "intercept": "const"}
        assert sorted(rename.get(n, n) for n in fitted) == sorted(ols.params.index)
        for name, (coef, se) in fitted.items():
            assert coef == pytest.approx(ols.params[rename.get(name, name)], rel=1e-10)
            assert se == pytest.approx(ols.bse[rename.get(name, name)], rel=1e-10)


def test_i_is_the_identity_on_either_side(real):
    smf = pytest.importorskip("statsmodels.formula.api")
    path, frame = real
    data = frame.dropna(subset=["x1"])
    cases = {
        "I(z) - I(x1) ~ x2": "I(z - x1) ~ x2",
        "I(z) ~ I(x1) + I(x2 ** 2)": "z ~ x1 + I(x2 ** 2)",
        "log(I(g)) ~ x1": "np.log(g) ~ x1",
    }
    for formula, patsy in cases.items():
        fitted, _ = fit_formula(path, formula)
        ols = smf.ols(patsy, data).fit()
        assert [v[0] for v in fitted.values()] == pytest.approx(list(ols.params), rel=1e-10)
        assert [v[1] for v in fitted.values()] == pytest.approx(list(ols.bse), rel=1e-10)


def test_a_column_named_like_a_function_is_read_as_the_column(tmp_path):
    # A column "log" inside a call or arithmetic ("log(log)", "I(exp + 1)") raised a raw
    # KeyError: the name was taken for the function. R reads it as the column, and so does
    # emkit now wherever the name is not called.
    smf = pytest.importorskip("statsmodels.formula.api")
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"y": rng.normal(size=30) + 5, "log": rng.normal(size=30) + 3, "exp": rng.normal(size=30)}
    )
    path = tmp_path / "named.csv"
    frame.to_csv(path, sep=";", decimal=",", index=False)
    renamed = frame.rename(columns={"log": "u", "exp": "v"})
    for formula, patsy in {
        "y ~ log(log)": "y ~ np.log(u)",
        "y ~ I(exp + 1)": "y ~ I(v + 1)",
    }.items():
        fitted, _ = fit_formula(path, formula)
        ols = smf.ols(patsy, renamed).fit()
        assert [v[0] for v in fitted.values()] == pytest.approx(list(ols.params), rel=1e-10)


def test_a_crossing_of_many_columns_is_refused_before_it_expands(tmp_path):
    # a*b*...*v (22 columns) expanded to 2^22 terms before any check: minutes, then a
    # 262 KB message. It stops at 1000 terms, naming the way out.
    from emkit.cli.formula import linear_terms

    columns = [chr(ord("a") + j) for j in range(22)]
    with pytest.raises(DataError, match="crosses into more than 1000 terms"):
        linear_terms("y ~ " + "*".join(columns))
    response, terms, intercept = linear_terms("y ~ a*b*c")
    assert len(terms) == 7 and intercept


def test_advice_names_the_command_on_the_command_line(tmp_path, capsys):
    """``emkit mle gamma`` of data with a 0 advised ``mle.exponential``, the Python function;
    the command line names its command, which fits the data (rate 1 / mean, closed form), and
    the Python API keeps its own name."""
    from emkit import mle

    path = tmp_path / "z0.csv"
    x = np.array([0.0, 1.5, 2.0, 0.5, 3.0])
    pd.DataFrame({"k": x}).to_csv(path, index=False)
    with pytest.raises(DataError, match="use emkit mle exponential for waiting") as refused:
        run_mle(["gamma", str(path), "--column", "k"])
    assert "mle.exponential" not in str(refused.value)
    with pytest.raises(ValueError, match=r"use mle\.exponential for waiting"):
        mle.gamma(x)
    assert run_mle(["exponential", str(path), "--column", "k"]) == 0
    assert table_rows(capsys.readouterr().out)["rate"][0] == pytest.approx(1 / x.mean(), rel=1e-3)
    assert cli_mle.as_command("mle.linear_regression: X") == "emkit mle linear: X"
    assert cli_mle.as_command("see mle.something_else") == "see mle.something_else"


def test_the_log_likelihood_of_all_zero_counts_is_written_as_0(tmp_path):
    # -0.0 (a sum of zeros negated) was written "Log-likelihood: -0".
    from cli_run import run_main

    data = tmp_path / "zeros.csv"
    data.write_text("x\n0\n0\n0\n")
    status, out, err = run_main(["mle", "poisson", data, "--column", "x"])
    assert status == 0
    assert "Log-likelihood: 0\n" in out
