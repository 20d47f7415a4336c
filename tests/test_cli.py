"""``emkit fit``, ``predict`` and ``demo``: in process and through the console script."""

import io
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import emkit
from cli_run import run_main
from emkit.cli.fit import parse_components, parse_covariances
from emkit.cli.progress import ProgressBar
from emkit.distributions.gaussian import MCLUST_MODELS, covariance_structure
from emkit.exceptions import DataError

FAITHFUL = Path(str(resources.files("emkit").joinpath("data/faithful.csv")))


def emkit_command() -> list[str]:
    script = shutil.which("emkit") or str(Path(sys.executable).with_name("emkit"))
    return [script] if Path(script).exists() else [sys.executable, "-m", "emkit.cli"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """``emkit demo`` run once in process; its output folder, printed text and stderr."""
    out_dir = tmp_path_factory.mktemp("demo")
    status, out, err = run_main(["demo", "--out", out_dir, "--quiet"])
    assert status == 0, err
    return out_dir, out, err


@pytest.fixture(scope="module")
def demo(demo_run):
    """``emkit demo``'s output folder and printed text."""
    return demo_run[:2]


def test_demo_advice_names_what_the_user_can_run(demo_run):
    """The grid's warning of a lower local maximum advised ``n_init``, a Python parameter
    that ``emkit demo`` has no option for; it names ``emkit fit``'s ``--n-init``."""
    err = demo_run[2]
    assert "lower local maximum" in err  # Old Faithful: a larger K ends lower for some type
    assert "emkit fit with --n-init adds k-means++ restarts" in err
    assert "n_init" not in err


def test_one_model_fitted_is_said_plainly(tmp_path):
    """``-k 3 --covariance VVV`` fits one model: the summary said "Chosen by BIC among 1
    fits"; it is the one model, as ``GaussianMixture(3, covariance_type="VVV")`` fits it."""
    argv = ["fit", FAITHFUL, "-k", "3", "--covariance", "VVV", "--quiet", "--no-report"]
    status, out, err = run_main([*argv, "--out", tmp_path / "o"])
    assert status == 0, err
    assert "One model fitted, so none chosen by BIC." in out
    assert "among 1 fits" not in out
    model = emkit.load(tmp_path / "o" / "model.json")
    assert model.n_components == 3 and model.covariance_type == "full"  # mclust VVV
    # two fits still say how the one shown was chosen
    argv = ["fit", FAITHFUL, "-k", "2-3", "--covariance", "VVV", "--quiet", "--no-report"]
    status, out, err = run_main([*argv, "--out", tmp_path / "p"])
    assert status == 0 and "Chosen by BIC among 2 fits." in out


def test_demo_writes_every_file(demo):
    out_dir, _ = demo
    # the report is one file: its figures are inside it
    assert sorted(p.name for p in out_dir.iterdir()) == [
        ".emkit-outputs.json",  # the names of the run's outputs
        "assignments.csv",
        "model.json",
        "report.html",
    ]
    page = (out_dir / "report.html").read_text()
    assert page.count('<img src="data:image/png;base64,') == 4
    assert "<table>" in page and "tied" in page
    assert "bootstrap standard errors" in page


def test_demo_summary_names_mclust_choice(demo):
    # mclust chooses EEE with 3 components on Old Faithful
    _, out = demo
    assert "Gaussian mixture, 3 components, covariance 'tied' (mclust EEE)" in out.splitlines()[0]
    assert "mclust BIC" in out and "lower is better" in out
    assert "Top 3 models by BIC" in out
    assert str(demo[0]) in out


def test_demo_summary_numbers_match_model(demo, faithful):
    out_dir, out = demo
    model = emkit.load(out_dir / "model.json")
    bic = model.bic(faithful)
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["n", "df"])
    values = lines[header + 1].split()
    assert int(values[0]) == 272
    assert int(values[1]) == model.n_parameters() == 11
    assert float(values[3]) == pytest.approx(bic, abs=1e-3)
    assert float(values[4]) == pytest.approx(-bic, abs=1e-3)
    sizes = next(line for line in lines if line.startswith("size")).split()[1:]
    assert sorted(map(int, sizes)) == sorted(np.bincount(model.predict(faithful)).tolist())


def test_assignments_agree_with_model_file(demo, faithful):
    out_dir, _ = demo
    model = emkit.load(out_dir / "model.json")
    table = pd.read_csv(out_dir / "assignments.csv")
    k = model.n_components
    assert list(table.columns) == ["eruptions", "waiting", "label", "probability"] + [
        f"p{j}" for j in range(k)
    ]
    np.testing.assert_array_equal(table[["eruptions", "waiting"]].to_numpy(), faithful)
    np.testing.assert_array_equal(table["label"].to_numpy(), model.predict(faithful))
    proba = table[[f"p{j}" for j in range(k)]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(proba, model.predict_proba(faithful), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(table["probability"].to_numpy(), proba.max(axis=1))


def test_predict_in_process_to_file(demo, tmp_path):
    out_dir, _ = demo
    target = tmp_path / "labels.csv"
    status, out, err = run_main(["predict", out_dir / "model.json", FAITHFUL, "--out", target])
    assert status == 0, err
    predicted = pd.read_csv(target)
    assigned = pd.read_csv(out_dir / "assignments.csv")
    np.testing.assert_array_equal(predicted["label"], assigned["label"])
    np.testing.assert_allclose(predicted["p0"], assigned["p0"], rtol=1e-12, atol=1e-15)


def test_predict_reads_the_models_columns_by_name(demo, faithful, tmp_path):
    out_dir, _ = demo
    path = tmp_path / "wide.csv"
    wide = pd.DataFrame({"id": np.arange(len(faithful)), "waiting": faithful[:, 1]})
    wide["name"] = [f"e{i}" for i in range(len(faithful))]
    wide["eruptions"] = faithful[:, 0]
    wide["extra"] = 1.0
    wide.to_csv(path, index=False)
    status, out, err = run_main(["predict", out_dir / "model.json", path])
    assert status == 0, err
    predicted = pd.read_csv(io.StringIO(out))
    model = emkit.load(out_dir / "model.json")
    np.testing.assert_array_equal(predicted["label"], model.predict(faithful))
    status, out, err = run_main(
        ["predict", out_dir / "model.json", path, "--columns", "waiting,extra"]
    )
    assert status == 0, err
    assert len(pd.read_csv(io.StringIO(out))) == len(faithful)


def test_console_script_fit_then_predict(tmp_path):
    out_dir = tmp_path / "fit"
    command = emkit_command()
    fitted = subprocess.run(
        [
            *command,
            "fit",
            str(FAITHFUL),
            "-k",
            "2-3",
            "--covariance",
            "tied,VVV",
            "--criterion",
            "icl",
            "--out",
            str(out_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fitted.returncode == 0, fitted.stderr
    assert "Top 3 models by ICL" in fitted.stdout
    assert "Traceback" not in fitted.stderr
    predicted = subprocess.run(
        [*command, "predict", str(out_dir / "model.json"), str(FAITHFUL)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert predicted.returncode == 0, predicted.stderr
    labels = pd.read_csv(io.StringIO(predicted.stdout))["label"]
    np.testing.assert_array_equal(labels, pd.read_csv(out_dir / "assignments.csv")["label"])


def test_fit_one_column_parquet(tmp_path, faithful):
    path = tmp_path / "one.parquet"
    pd.DataFrame({"waiting": faithful[:, 1], "other": faithful[:, 0]}).to_parquet(path)
    status, out, err = run_main(
        [
            "fit",
            path,
            "--columns",
            "waiting",
            "-k",
            "1,2",
            "--covariance",
            "full",
            "--out",
            tmp_path / "out",
            "--seed",
            "3",
        ]
    )
    assert status == 0, err
    assert "2 components" in out.splitlines()[0]
    assert list(pd.read_csv(tmp_path / "out" / "assignments.csv").columns[:2]) == [
        "waiting",
        "label",
    ]


@pytest.fixture
def bad_files(tmp_path):
    def write(name, text):
        path = tmp_path / name
        path.write_text(text)
        return path

    return {
        "text": write("text.csv", "a,b\n1,x\n2,y\n3,3\n"),
        "empty": write("empty.csv", "a,b\n"),
        "nan": write("nan.csv", "a,b\n1,2\n,3\n4,5\n"),
        "inf": write("inf.csv", "a,b\n1,2\ninf,3\n4,5\n"),
        "headerless": write("headerless.csv", "1,2\n3,4\n5,6\n"),
        "good": write("good.csv", "a,b\n1,2\n3,4\n5,7\n2,2\n"),
        "not_model": write("not_model.json", '{"format": "other"}'),
    }


BAD_INPUT = [
    (["fit", "{missing}"], "no such file"),
    (["fit", "{text}", "--columns", "a,b"], "column 'b' is not numeric"),
    (["fit", "{empty}"], "empty"),
    (["fit", "{nan}"], "column 'a' has 1 missing"),
    (["fit", "{inf}"], "column 'a' has 1 infinite"),
    (["fit", "{headerless}"], "add a header row"),
    (["fit", "{good}", "--columns", "a,zz"], "no column 'zz'"),
    (["fit", "{good}", "-k", "0"], "-k '0'"),
    (["fit", "{good}", "-k", "3-1"], "-k '3-1'"),
    (["fit", "{good}", "-k", "two"], "-k 'two'"),
    (["fit", "{good}", "-k", "1-2-3"], "-k '1-2-3'"),
    (["fit", "{good}", "-k", ""], "-k ''"),
    (["fit", "{good}", "--covariance", "round"], "--covariance 'round'"),
    (["fit", "{good}", "--n-init", "0"], "--n-init"),
    # was scikit-learn's random_state message as an error of the data file, after reading it
    (["fit", "{good}", "--seed", "-1"], "--seed must be an integer from 0 to 4294967295; got -1"),
    (["fit", "{good}", "--out", "{good}"], "is not a folder"),
    (["fit", "{good}", "--out", "{good}/sub"], "good.csv is not a folder"),
    (["fit", "{good}", "--checkpoint", "{good}"], "--checkpoint names a folder"),
    (["fit", "{good}", "--checkpoint", "{good}/sub"], "good.csv is not a folder"),
    (["fit", "{good}", "--sep", "::"], "--sep '::': the delimiter must be one character"),
    (["predict", "{not_model}", "{good}"], "not an emkit model file"),
    (["predict", "{missing}", "{good}"], "not a readable emkit model file"),
]


@pytest.mark.parametrize("argv, message", BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_and_status_2(bad_files, tmp_path, argv, message):
    files = {**bad_files, "missing": tmp_path / "missing.csv"}
    argv = [a.format(**files) for a in argv] + (["--quiet"] if argv[0] == "fit" else [])
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    status, out, err = run_main(argv)
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("emkit: error: ")
    assert message in lines[0]
    assert "Traceback" not in err


def test_predict_with_too_few_columns(demo, bad_files, tmp_path):
    path = tmp_path / "one.csv"
    pd.DataFrame({"a": [1.0, 2.0], "s": ["x", "y"], "t": ["u", "v"]}).to_csv(path, index=False)
    status, _, err = run_main(["predict", demo[0] / "model.json", path])
    assert status == 2  # the model's own columns are looked up by name
    assert "no column 'eruptions', 'waiting'" in err and len(err.strip().splitlines()) == 1


def test_predict_with_wrong_column_count(demo, faithful, tmp_path):
    status, _, err = run_main(["predict", demo[0] / "model.json", FAITHFUL, "--columns", "waiting"])
    assert status == 2
    assert "the model needs 2 columns, got 1 (waiting)" in err


def test_console_script_bad_input_has_no_traceback(tmp_path):
    result = subprocess.run(
        [*emkit_command(), "fit", str(tmp_path / "nothing.csv"), "-k", "1-2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"emkit: error: {tmp_path / 'nothing.csv'}: no such file"
    ]


def test_fit_without_a_report_loads_no_matplotlib(tmp_path):
    # --no-report saves the figures' time: matplotlib was loaded anyway, for the summary
    code = (
        "import sys; from emkit.cli import main; "
        f"status = main(['fit', {str(FAITHFUL)!r}, '-k', '2', '--covariance', 'full', "
        f"'--no-report', '--quiet', '--out', {str(tmp_path / 'out')!r}]); "
        "print(status, 'matplotlib' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.stdout.split()[-2:] == ["0", "False"], result.stderr


@pytest.mark.parametrize(
    "spec, expected",
    [("1-9", list(range(1, 10))), ("3", [3]), ("2,3,5", [2, 3, 5]), ("5,1-3", [1, 2, 3, 5])],
)
def test_parse_components(spec, expected):
    assert parse_components(spec) == expected


def test_parse_covariances():
    # "all" is select_mixture's default: mclust's 14 models, in mclust's order
    assert [covariance_structure(t).alias for t in parse_covariances("all")] == list(MCLUST_MODELS)
    assert parse_covariances("sklearn") == ["spherical", "diag", "tied", "full"]
    assert parse_covariances("EEE, vvv,tied") == ["tied", "full"]
    assert parse_covariances("vev,EII") == ["VEV", "EII"]
    with pytest.raises(DataError, match="unknown"):
        parse_covariances("VVX")


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_progress_bar_waits_then_draws_and_erases():
    clock, stream = FakeClock(), io.StringIO()
    bar = ProgressBar(total=36, stream=stream, delay=1.0, force=True, clock=clock)
    bar.models(1, 36)
    assert stream.getvalue() == ""  # within the first second nothing is drawn
    clock.now = 1.5
    bar.models(17, 36)
    assert stream.getvalue().startswith("\rfitting 17/36 models [")
    step = SimpleNamespace(iteration=42)  # the one field of emkit.em.EMProgress the bar reads
    bar.em_iteration(step)
    assert "EM iteration" not in stream.getvalue()  # redraws are at least 0.1 s apart
    clock.now = 1.7
    bar.em_iteration(step)
    assert "EM iteration 42" in stream.getvalue()
    bar.close()
    assert stream.getvalue().endswith("\r")
    assert "\n" not in stream.getvalue()


def test_progress_bar_silent_when_quiet_or_not_a_terminal():
    clock = FakeClock()
    clock.now = 10.0
    for bar in (
        ProgressBar(stream=io.StringIO(), delay=0.0, clock=clock),  # StringIO is no terminal
        ProgressBar(stream=io.StringIO(), delay=0.0, enabled=False, force=True, clock=clock),
    ):
        bar.models(1, 2)
        bar.close()
        assert bar.stream.getvalue() == ""


def test_fit_writes_everything_for_names_with_dollars(tmp_path):
    # matplotlib read these names as mathtext: the second failed to draw, and the run wrote
    # nothing at all (model.json lost though the fits had finished)
    names = ["cost $5 or $6", r"a$\frac$b"]
    data = tmp_path / "dollar.csv"
    pd.read_csv(FAITHFUL).set_axis(names, axis=1).to_csv(data, index=False)
    out_dir = tmp_path / "out"
    status, out, err = run_main(
        ["fit", data, "--out", out_dir, "--quiet", "-k", "2", "--covariance", "VVV"]
    )
    assert status == 0, err
    assert {"model.json", "assignments.csv", "report.html"} <= {p.name for p in out_dir.iterdir()}
    assert list(emkit.load(out_dir / "model.json").feature_names_in_) == names
    assert list(pd.read_csv(out_dir / "assignments.csv").columns[:2]) == names


def test_a_report_that_cannot_be_drawn_keeps_the_fit(tmp_path, monkeypatch):
    import emkit.report.figures

    def broken(*args, **kwargs):
        raise RuntimeError("no canvas for this figure")

    monkeypatch.setattr(emkit.report.figures, "clusters_figure", broken)
    out_dir = tmp_path / "out"
    status, out, err = run_main(["fit", FAITHFUL, "--out", out_dir, "--quiet", "-k", "2"])
    assert status == 1
    assert "the fit succeeded and model.json and assignments.csv were written" in err
    assert "report.html could not be drawn (RuntimeError: no canvas for this figure)" in err
    written = {p.name for p in out_dir.iterdir()}
    assert {"model.json", "assignments.csv"} <= written and "report.html" not in written
    assert "model.json" in out and "report.html" not in out
    fitted = emkit.load(out_dir / "model.json")
    assert len(pd.read_csv(out_dir / "assignments.csv")) == len(pd.read_csv(FAITHFUL))
    assert fitted.n_components == 2


def test_fit_names_the_checkpoint_written_for_other_data(tmp_path):
    frame = pd.read_csv(FAITHFUL)
    first, other = tmp_path / "first.csv", tmp_path / "other.csv"
    frame.to_csv(first, index=False)
    # the same rows, columns and total weight (the checkpoints' key), other values
    frame.iloc[:, ::-1].set_axis(frame.columns, axis=1).to_csv(other, index=False)
    folder = tmp_path / "ck"
    common = ["--quiet", "--no-report", "-k", "2", "--covariance", "VVV", "--checkpoint", folder]
    status, _, err = run_main(["fit", first, "--out", tmp_path / "a", *common])
    assert status == 0, err
    status, _, err = run_main(["fit", other, "--out", tmp_path / "b", *common])
    assert status == 2
    assert "it was written for other data" in err
    files = [p for p in folder.iterdir() if p.suffix == ".json"]
    assert any(f"{p}: the checkpoint's model has objective" in err for p in files), err


@pytest.mark.parametrize("flags, expected", [([], False), (["--give-up"], True)])
def test_fit_passes_give_up_to_the_selection(monkeypatch, tmp_path, flags, expected):
    """``emkit fit --give-up`` asks select_mixture to give up far-behind fits; off otherwise."""
    import emkit.estimators as estimators

    seen = []
    real = estimators.select_mixture

    def spy(*args, **kwargs):
        seen.append(kwargs.get("give_up"))
        return real(*args, **kwargs)

    monkeypatch.setattr(estimators, "select_mixture", spy)
    argv = ["fit", FAITHFUL, "-k", "1-2", "--covariance", "VVV", "--no-report", "--quiet"]
    status, _, _ = run_main([*argv, *flags, "--out", tmp_path / "out"])
    assert status == 0 and seen == [expected]
