"""A hostile user's probes (issue 13): each reproduces a failure that was found, and now passes.

Outputs are written whole (emkit.atomic), model files are checked before use, reads are bounded,
the objective never falls, Ctrl-C ends cleanly. The numbers in comments are the issue's items.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

import emkit
from emkit.atomic import atomic_write, output_folder, write_text
from emkit.cli import main
from emkit.distributions.gaussian import COVARIANCES
from emkit.exceptions import CheckpointError, ModelFileError

SRC = Path(emkit.__file__).resolve().parents[1]


def blobs(n=60, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return np.r_[rng.normal(0, 1, (n // 2, d)), rng.normal(6, 1, (n - n // 2, d))]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "gm.json"
    emkit.GaussianMixture(2, random_state=0).fit(blobs()).save(path)
    return path


def run_cli(args, tmp_path=None):
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


def finishes(fn, seconds=20.0):
    """Run ``fn`` in a thread; the exception it raised, failing the test if it hangs."""
    outcome: list = []

    def target():
        try:
            fn()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still running after {seconds} s (it hangs)"
    return outcome[0]


# ---- 1. outputs are written whole ------------------------------------------------------


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "a.txt"
    write_text(path, "old")
    with pytest.raises(RuntimeError), atomic_write(path) as f:
        f.write("half of the new")
        raise RuntimeError("disk full")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]  # no temporary left


def test_files_written_whole_get_the_usual_permissions(tmp_path):
    write_text(tmp_path / "new.txt", "x")
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert (tmp_path / "new.txt").stat().st_mode == plain.stat().st_mode
    os.chmod(plain, 0o640)
    write_text(plain, "y")  # an existing file keeps its permissions
    assert plain.stat().st_mode & 0o777 == 0o640


def test_save_on_a_full_disk_never_replaces_a_good_model(model_file, tmp_path):
    # 1: model.save with RLIMIT_FSIZE=1000 used to leave a 1,000-byte file that no longer loads.
    path = tmp_path / "m.json"
    path.write_bytes(model_file.read_bytes())
    good = path.read_bytes()
    assert len(good) > 1000
    model = emkit.load(path)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, hard))
        with pytest.raises(OSError):
            model.save(path)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]
    np.testing.assert_array_equal(emkit.load(path).means_, model.means_)


def test_output_folder_is_replaced_as_one_set(tmp_path):
    out = tmp_path / "out"
    with output_folder(out) as staging:
        write_text(staging / "model.json", "run 1")
        write_text(staging / "only-in-run-1.png", "x")
    with output_folder(out) as staging:
        write_text(staging / "model.json", "run 2")
        assert (out / "model.json").read_text() == "run 1"  # nothing visible before the swap
    assert (out / "model.json").read_text() == "run 2"
    assert not (out / "only-in-run-1.png").exists()  # the set is run 2's alone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no lock file left


def test_a_run_that_dies_while_writing_leaves_the_previous_set(tmp_path):
    # 1: kill -9 while writing used to leave a new model.json beside the old report.
    out = tmp_path / "out"
    with output_folder(out) as staging:
        write_text(staging / "model.json", "old")
        write_text(staging / "report.html", "old")
    with pytest.raises(KeyboardInterrupt), output_folder(out) as staging:
        write_text(staging / "model.json", "new")
        raise KeyboardInterrupt
    assert {p.name: p.read_text() for p in out.iterdir() if not p.name.startswith(".")} == {
        "model.json": "old",
        "report.html": "old",
    }


def test_a_folder_with_the_users_own_files_keeps_them(tmp_path):
    (tmp_path / "data.csv").write_text("keep me")
    with output_folder(tmp_path) as staging:
        write_text(staging / "model.json", "m")
    assert (tmp_path / "data.csv").read_text() == "keep me"
    assert (tmp_path / "model.json").read_text() == "m"


def test_concurrent_writers_into_one_folder_never_mix(tmp_path):
    # 1: two runs into one --out used to interleave assignments.csv and mix model and report.
    out = tmp_path / "out"
    seen: list[set[str]] = []
    stop = threading.Event()

    def writer(tag: str) -> None:
        for i in range(15):
            with output_folder(out) as staging:
                for name in ("model.json", "assignments.csv", "report.html"):
                    write_text(staging / name, f"{tag}-{i}\n" * 2000)

    def reader() -> None:
        # Reads one snapshot of the folder: its files through one open handle of it, so that
        # a swap during the reading cannot hand over files of two folders.
        while not stop.is_set():
            try:
                folder = os.open(out, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                texts = set()
                for name in os.listdir(folder):
                    if not name.startswith("."):
                        fd = os.open(name, os.O_RDONLY, dir_fd=folder)
                        with open(fd) as f:
                            texts.add(f.read())
                seen.append(texts)
            except FileNotFoundError:  # the old set was removed while being read
                pass
            finally:
                os.close(folder)

    threads = [threading.Thread(target=writer, args=(t,)) for t in "ab"]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    assert seen and all(len(texts) <= 1 for texts in seen)  # one run's files at every look
    assert len({p.read_text() for p in out.iterdir() if not p.name.startswith(".")}) == 1


def test_cli_fit_output_is_one_runs_set(tmp_path):
    data = tmp_path / "a.csv"
    pd.DataFrame(blobs(40), columns=["u", "v"]).to_csv(data, index=False)
    out = tmp_path / "out"
    args = ["fit", data, "--covariance", "full", "--out", out, "--quiet"]
    status, _, _ = run_cli([*args, "-k", "2", "--checkpoint", tmp_path / "ck"])
    assert status == 0
    assert [p.name for p in (tmp_path / "ck").iterdir()] == ["full-2.json"]
    first = emkit.load(out / "model.json")
    stale = out / "clusters.png"  # an older emkit's figure: the folder is replaced whole
    stale.write_text("x")
    status, _, err = run_cli([*args, "-k", "1"])
    assert status == 0, err
    assert not stale.exists()
    second = emkit.load(out / "model.json")
    assert first.n_components == 2 and second.n_components == 1
    table = pd.read_csv(out / "assignments.csv")
    assert len(table) == 40 and list(table.columns) == ["u", "v", "label", "probability", "p0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "ck", "out"]


# ---- 2, 3. bounded reads ---------------------------------------------------------------


def test_k_range_is_bounded_before_anything_is_built(tmp_path):
    data = tmp_path / "small.csv"
    pd.DataFrame(blobs(20), columns=["u", "v"]).to_csv(data, index=False)
    status, _, err = run_cli(["fit", data, "-k", "1-1000000000", "--out", tmp_path / "o"])
    assert status == 2
    assert "1000000000 components" in err and "at most 1000" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_not_waited_on(tmp_path, model_file):
    fifo = tmp_path / "f.csv"
    os.mkfifo(fifo)
    status: list = []
    assert finishes(lambda: status.append(run_cli(["fit", fifo, "--out", tmp_path / "o"]))) is None
    assert status[0][0] == 2 and "pipe (FIFO)" in status[0][2]
    error = finishes(lambda: emkit.load(fifo))
    assert isinstance(error, ModelFileError) and "pipe (FIFO)" in str(error)


def test_a_device_is_refused_not_read_forever():
    error = finishes(lambda: emkit.load("/dev/zero"))
    assert isinstance(error, ModelFileError) and "device" in str(error)


def test_a_model_file_larger_than_the_cap_is_refused(model_file):
    with pytest.raises(ModelFileError, match="more than the 100 a model file may have"):
        emkit.load(model_file, max_bytes=100)


# ---- 5. model files are checked on load ------------------------------------------------


def corrupt(document: dict, where: str, value) -> dict:
    """A copy of ``document`` with the value at dotted path ``where`` replaced."""
    document = json.loads(json.dumps(document))
    *parents, last = where.split(".")
    node = document
    for key in parents:
        node = node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return document


DELETE = object()
NAN_ROW = [float("nan"), 0.5]

# (what is changed, new value, the field the error must name)
DAMAGED = [
    ("attributes.weights_.data", NAN_ROW, "attributes.weights_"),
    ("attributes.means_.data", [float("inf"), 0, 1, 2], "attributes.means_"),
    ("attributes.weights_.data", [-0.5, 1.5], "attributes.weights_"),
    ("attributes.weights_.data", [5.0, 5.0], "attributes.weights_"),
    ("attributes.precisions_cholesky_.data", [0.0] * 8, "attributes.precisions_cholesky_"),
    ("attributes.covariances_.data", [1, 2, 2, 1, 1, 0, 0, 1], "attributes.covariances_"),
    ("attributes.covariances_.data", [1, 0.5, 0, 1, 1, 0, 0, 1], "attributes.covariances_"),
    ("attributes.means_.shape", [4, 1], "attributes.means_"),
    ("attributes.means_.shape", [2, 3], "attributes.means_"),
    ("attributes.n_features_in_", 3, "attributes.means_"),
    ("attributes.n_iter_", "many", "attributes.n_iter_"),
    ("version", 999, "version"),
    ("version", True, "version"),
    ("attributes.weights_.dtype", "|O", "attributes.weights_"),
    ("attributes.weights_.dtype", "<c16", "attributes.weights_"),
    ("attributes.weights_.dtype", "<U100000000", "attributes.weights_"),
    ("attributes.weights_.data", ["a", "b"], "attributes.weights_"),
    ("attributes.weights_.data", [[1], [2]], "attributes.weights_"),
    ("params.n_components", "two", "params"),
    ("params.tol", -1, "params"),
    ("params.no_such_parameter", 1, "params"),
    ("attributes", [], "attributes"),
    ("attributes.predict", 1, "attributes.predict"),
    ("attributes.means_", DELETE, "attributes.means_"),
    ("class", "os.system", "class"),
]


@pytest.mark.parametrize(("where", "value", "field"), DAMAGED, ids=[d[0] for d in DAMAGED])
def test_a_damaged_model_file_gives_one_clear_error(model_file, tmp_path, where, value, field):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(corrupt(json.loads(model_file.read_text()), where, value)))
    with pytest.raises(ModelFileError) as caught:
        emkit.load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: field '{field}") or (
        field == "params" and message.startswith(f"{path}: field 'params")
    ), message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xff\xfe not utf-8", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b"{", "invalid JSON"),
        (b"[]", "not an emkit model file"),
        (b"", "invalid JSON"),
    ],
    ids=["bytes", "deep", "cut", "list", "empty"],
)
def test_a_file_that_is_not_a_model_gives_one_clear_error(tmp_path, content, expected):
    path = tmp_path / "m.json"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=expected) as caught:
        emkit.load(path)
    assert str(caught.value).startswith(str(path))


def test_a_bad_family_parameter_in_a_model_file_is_refused(tmp_path):
    x = np.random.default_rng(0).poisson(3, (50, 1)).astype(float)
    model = emkit.MixtureModel([emkit.Poisson(), emkit.Poisson()], random_state=0).fit(x)
    path = tmp_path / "p.json"
    model.save(path)
    document = json.loads(path.read_text())
    document["attributes"]["component_params_"][0]["rate"] = [-1.0]
    path.write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="component_params_.0.*rate must be non-negative"):
        emkit.load(path)


def test_predict_with_a_damaged_model_fails_instead_of_writing_empty_rows(model_file, tmp_path):
    # 5: `emkit predict m_nan.json good.csv` used to exit 0 writing rows like "0,,,".
    document = corrupt(json.loads(model_file.read_text()), "attributes.means_.data", [np.nan] * 4)
    bad = tmp_path / "m_nan.json"
    bad.write_text(json.dumps(document))
    data = tmp_path / "good.csv"
    pd.DataFrame(blobs(10), columns=["u", "v"]).to_csv(data, index=False)
    status, out, err = run_cli(["predict", bad, data])
    assert status == 2 and out == ""
    assert "attributes.means_" in err and "NaN" in err


def test_every_estimator_round_trips_through_the_checks(tmp_path):
    x = np.abs(np.round(blobs(60, seed=1)))
    y = (x[:, 0] > 3).astype(int)
    fitted = [
        emkit.GaussianMixture(2, covariance_type=c, random_state=0).fit(x)
        for c in ("full", "tied", "diag", "spherical")
    ] + [
        emkit.MixtureModel([emkit.Poisson(), emkit.Normal()], random_state=0).fit(x[:, :1]),
        emkit.ZeroInflatedPoisson().fit(x[:, :1]),
        emkit.KMeans(2, random_state=0).fit(x),
        emkit.GaussianImputer().fit(x),
        emkit.GenerativeClassifier().fit(x, y),
        emkit.MixtureOfRegressions(2, random_state=0).fit(x[:, :1], x[:, 1]),
    ]
    for i, model in enumerate(fitted):
        path = tmp_path / f"{i}.json"
        model.save(path)
        loaded = emkit.load(path)
        assert type(loaded) is type(model)
        for name in model._fitted_attributes:
            np.testing.assert_array_equal(
                np.asarray(getattr(loaded, name)), np.asarray(getattr(model, name))
            )


def refused(tmp_path, model, edit) -> str:
    """The message of the ModelFileError that loading ``model``'s file, after ``edit`` changed
    its document, raises; the genuine file loads."""
    path = tmp_path / "genuine.json"
    model.save(path)
    emkit.load(path)
    document = json.loads(path.read_text())
    edit(document)
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(document))
    with pytest.raises(ModelFileError) as caught:
        emkit.load(bad)
    message = str(caught.value)
    assert message.startswith(f"{bad}: field '"), message
    return message


def array(values, dtype="<f8") -> dict:
    values = np.asarray(values)
    return {
        "__array__": True,
        "dtype": dtype,
        "shape": list(values.shape),
        "data": values.ravel().tolist(),
    }


def setting(where: str, value):
    """An edit that sets the value at dotted path ``where`` of a model document."""

    def edit(document):
        *parents, last = where.split(".")
        node = document
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value

    return edit


@pytest.fixture(scope="module")
def zip_model():
    x = np.where(np.random.default_rng(0).uniform(size=200) < 0.3, 0, np.arange(200) % 7)
    return emkit.ZeroInflatedPoisson().fit(x[:, None])


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (setting("attributes.zero_inflation_", 0.9), "zero_inflation_"),
        (setting("attributes.rate_", array([50.0])), "rate_"),
        (setting("attributes.rate_", array([1.0, 2.0, 3.0])), "rate_"),
        (setting("attributes.component_params_.1.rate", [1.0, 2.0, 3.0]), "component_params_[1]"),
    ],
    ids=["zero_inflation", "rate", "rate_of_3_features", "poisson_of_3_features"],
)
def test_zero_inflated_poisson_copies_of_pi_and_rate_must_agree(zip_model, tmp_path, edit, field):
    # zero_inflation_ and rate_ repeat weights_[0] and the Poisson component, which predict and
    # score use: a file where they differ loaded, and the attributes misreported the model.
    message = refused(tmp_path, zip_model, edit)
    assert f"field 'attributes.{field}'" in message, message


def lines(n=80, seed=0):
    """Rows x of shape (n, 1) and responses y (n,) on two regression lines."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, (n, 1))
    y = np.where(rng.uniform(size=n) < 0.5, 1 + 2 * x[:, 0], 8 - x[:, 0])
    return x, y + rng.normal(0, 0.3, n)


FITS = {
    "regressions": lambda: emkit.MixtureOfRegressions(2, random_state=0).fit(*lines()),
    "gaussian_mixture": lambda: emkit.GaussianMixture(2, random_state=0).fit(blobs()),
    "kmeans": lambda: emkit.KMeans(2, random_state=0).fit(blobs()),
    "classifier": lambda: emkit.GenerativeClassifier().fit(blobs(), np.arange(60) >= 30),
    "imputer": lambda: emkit.GaussianImputer().fit(pd.DataFrame(blobs(), columns=["u", "v"])),
    "mixture_model": lambda: emkit.MixtureModel(random_state=0).fit(blobs()[:, :1]),
}
# (fitted model, what is changed, the field the error must name)
MISSIZED = [
    ("regressions", setting("params.n_components", 5), "weights_"),
    ("regressions", setting("attributes.coef_", array(np.ones((2, 3)))), "coef_"),
    ("regressions", setting("attributes.intercept_", array([1.0, 2.0, 3.0])), "intercept_"),
    ("regressions", setting("attributes.sigmas_", array([1.0])), "sigmas_"),
    ("gaussian_mixture", setting("params.n_components", 4), "weights_"),
    ("kmeans", setting("params.n_clusters", 7), "cluster_centers_"),
    ("classifier", setting("attributes.classes_", array([0, 1, 2], "<i8")), "classes_"),
    ("classifier", setting("attributes.classes_", array([1, 1], "<i8")), "classes_"),
    (
        "imputer",
        setting("attributes.feature_names_in_", array(["u", "v", "w"], "str")),
        "feature_names_in_",
    ),
    ("mixture_model", setting("params.components", [{"family": "normal"}] * 3), "weights_"),
]


@pytest.mark.parametrize(
    ("fit", "edit", "field"),
    MISSIZED,
    ids=[f"{m[0]}-{m[2]}" for m in MISSIZED],
)
def test_sizes_must_agree_with_the_parameters_and_each_other(tmp_path, fit, edit, field):
    # Each loaded: predict then failed with a raw numpy error, or answered 2 columns for 3
    # classes, or with the wrong number of components.
    message = refused(tmp_path, FITS[fit](), edit)
    assert f"field 'attributes.{field}'" in message, message


def test_a_pruned_gaussian_mixture_loads_with_fewer_components_than_it_started(tmp_path):
    # Fewer components than n_components is what pruning leaves; without pruning it is damage.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = emkit.GaussianMixture(6, prune_weight=0.2, random_state=0).fit(blobs())
    assert model.weights_.shape[0] < 6
    message = refused(tmp_path, model, setting("params.prune_weight", 0.0))
    assert "field 'attributes.weights_'" in message and "n_components is 6" in message


@pytest.mark.parametrize("covariance_type", sorted(COVARIANCES))
@pytest.mark.parametrize("factor", [3.0, 1.001])
def test_precision_factors_must_be_those_of_the_covariances(tmp_path, covariance_type, factor):
    # predict and score use precisions_cholesky_, covariances_ report the model: a file with
    # the factors multiplied by 3 loaded and scored with them.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = emkit.GaussianMixture(2, covariance_type=covariance_type, random_state=0)
        model.fit(blobs(80, 3))

    def scaled(document):
        values = document["attributes"]["precisions_cholesky_"]["data"]
        document["attributes"]["precisions_cholesky_"]["data"] = [v * factor for v in values]

    message = refused(tmp_path, model, scaled)
    assert "field 'attributes.precisions_cholesky_'" in message and "covariances_" in message


def test_a_classifiers_precision_factors_must_be_those_of_its_covariances(tmp_path):
    model = emkit.GenerativeClassifier("diag").fit(blobs(), np.arange(60) >= 30)

    def scaled(document):
        document["attributes"]["covariances_"]["data"][0] *= 2.0

    message = refused(tmp_path, model, scaled)
    assert "field 'attributes.precisions_cholesky_'" in message, message


# ---- 6. Ctrl-C ------------------------------------------------------------------------


def test_ctrl_c_ends_with_status_130_and_one_line(monkeypatch, capsys):
    import emkit.cli.fit as fit_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(fit_module, "fit_and_report", interrupted)
    assert main(["fit", "data.csv"]) == 130
    assert capsys.readouterr().err == "emkit: interrupted\n"


def test_ctrl_c_while_pyarrow_reads_the_csv(tmp_path, monkeypatch, capsys):
    # pyarrow turns a SIGINT during its read into ArrowCancelled, an ArrowException: read as
    # "pyarrow cannot read this file" it sent the read to pandas and the fit went on.
    import pyarrow as pa
    from pyarrow import csv

    data = tmp_path / "small.csv"
    pd.DataFrame(np.random.default_rng(0).normal(size=(50, 2)), columns=list("ab")).to_csv(
        data, index=False
    )

    def cancelled(*args, **kwargs):
        raise pa.lib.ArrowCancelled("Operation cancelled. Detail: received signal 2")

    monkeypatch.setattr(csv, "open_csv", cancelled)
    assert main(["fit", str(data), "-k", "2", "--out", str(tmp_path / "out")]) == 130
    assert capsys.readouterr().err == "emkit: interrupted\n"
    assert not (tmp_path / "out").exists()


def test_sigint_during_a_real_fit(tmp_path):
    # 6: Ctrl-C during `emkit fit` used to print a 44-line traceback.
    data = tmp_path / "big.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.normal(size=(100_000, 3)), columns=list("abc")).to_csv(data, index=False)
    out = tmp_path / "out"
    script = (
        "import os, signal, sys, threading\n"
        "from emkit.cli import main\n"
        # The modules `emkit fit` loads first, so that the signal lands in the read or the fit
        # (a signal while they load is held: test_ctrl_c_while_modules_load_is_held_not_lost).
        "import matplotlib.pyplot, pyarrow.csv, scipy.stats, sklearn.base\n"
        "import emkit.cli.fit, emkit.estimators.selection\n"
        "threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
        f"sys.exit(main(['fit', {str(data)!r}, '-k', '1-9', '--out', {str(out)!r}, '--quiet']))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    # Ctrl-C as from a terminal: a run started with SIGINT ignored (a background job, as this
    # suite may itself be run) keeps ignoring it, as Unix tools do (test_cli_marks.py)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert done.returncode == 130, done.stderr
    assert done.stderr == "emkit: interrupted\n"
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["big.csv"]


def test_ctrl_c_while_modules_load_is_held_not_lost(tmp_path, monkeypatch, capsys):
    # A KeyboardInterrupt raised inside a C extension's module initialisation (NumPy's,
    # pandas') was cleared there: the import went on, and so did the whole fit (exit 0).
    # The stand-in module swallows it as such an initialisation does.
    from emkit.cli import fit, main

    (tmp_path / "swallows_interrupt.py").write_text(
        "import os, signal, time\n"
        "try:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(0.5)  # the handler runs here\n"
        "except BaseException:\n"
        "    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "swallows_interrupt", raising=False)
    monkeypatch.setattr(fit, "MODULES", (*fit.MODULES, "swallows_interrupt"))
    data = tmp_path / "data.csv"
    pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1.0, 0.0, 2.0, 5.0]}).to_csv(data, index=False)
    # Ctrl-C as from a terminal, even where this suite runs with SIGINT ignored (a background
    # job), which emkit then leaves ignored
    found = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        status = main(["fit", str(data), "-k", "1", "--out", str(tmp_path / "out"), "--quiet"])
        handler_after = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, found)
    assert status == 130
    assert capsys.readouterr().err == "emkit: interrupted\n"
    assert not (tmp_path / "out").exists()
    assert handler_after is signal.default_int_handler


# ---- 4. the objective never falls -------------------------------------------------------


def fit_without_falls(model, x):
    with warnings.catch_warnings():
        warnings.simplefilter("error", emkit.MonotonicityWarning)
        warnings.simplefilter("ignore", emkit.DegenerateFitWarning)
        model.fit(x)
    assert np.all(np.diff(model.history_) >= -1e-10 * np.abs(model.history_[1:]))
    return model


def test_gamma_component_collapsing_onto_a_value_is_flagged_not_falling():
    # 4: 637 MonotonicityWarnings, history_ dropping by 73.4, degenerate_ False.
    rng = np.random.default_rng(0)
    x = np.r_[np.ones(50), rng.gamma(3, 2, 150)][:, None]
    model = fit_without_falls(emkit.MixtureModel([emkit.Gamma(), emkit.Gamma()], random_state=0), x)
    assert model.degenerate_
    spike = int(np.argmax([p["shape"][0] for p in model.component_params_]))
    assert model.weights_[spike] == pytest.approx(0.25, abs=1e-3)


@pytest.mark.parametrize("seed", range(3))
def test_gamma_on_rounded_data_climbs_and_fits(seed):
    # 4: rounded data used to fall by 107, then "every start reached -inf".
    rng = np.random.default_rng(seed)
    x = np.round(rng.gamma(2, 1.5, (200, 1))) + 1
    model = emkit.MixtureModel([emkit.Gamma(), emkit.Gamma()], random_state=0, max_iter=150)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit_without_falls(model, x)


def test_gamma_on_constant_data_is_degenerate_not_unsupported():
    model = fit_without_falls(
        emkit.MixtureModel([emkit.Gamma(), emkit.Gamma()], random_state=0), np.full((40, 1), 3.0)
    )
    assert model.degenerate_


def test_gamma_density_is_accurate_at_a_huge_shape():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    shape, rate = 3e9, 1.5e9
    x = np.array([[1.99999], [2.0], [2.00003]])
    ours = emkit.Gamma([shape], [rate]).log_prob(x)
    for xi, value in zip(x[:, 0], ours, strict=True):
        a, b, xv = mpmath.mpf(shape), mpmath.mpf(rate), mpmath.mpf(float(xi))
        exact = a * mpmath.log(b) - mpmath.loggamma(a) + (a - 1) * mpmath.log(xv) - b * xv
        assert value == pytest.approx(float(exact), abs=1e-6)


def test_full_covariance_on_a_duplicated_column_never_falls():
    # 4: full covariances on rank-deficient data fell by up to 1.2e-5.
    for seed, k in ((7, 3), (8, 2), (22, 2)):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(200, 3)) * [1, 10, 100]
        x = np.c_[x, x[:, 1]]
        for accelerate in ("squarem", None):
            fit_without_falls(emkit.GaussianMixture(k, random_state=seed, accelerate=accelerate), x)


# ---- checkpoints: a killed fit resumes to the uninterrupted answer ----------------------

CHILD = """
import sys
import numpy as np
import emkit
x = np.load(sys.argv[1])
print("ready", flush=True)
model = emkit.GaussianMixture(3, n_init=2, random_state=0, tol=0, max_iter=150)
model.fit(x, checkpoint=sys.argv[2])
model.save(sys.argv[3])
"""


def kill_and_resume(tmp_path, trials: int, seed: int = 0) -> None:
    """Kill a checkpointed fit with SIGKILL at random moments; every file left is whole, and
    the resumed fit equals the uninterrupted one."""
    import time
    import warnings as w

    from emkit.checkpoint import Checkpoint

    x = blobs(600, seed=3)
    np.save(tmp_path / "x.npy", x)
    with w.catch_warnings():
        w.simplefilter("ignore", ConvergenceWarning)
        # With a checkpoint the starts run one after another (not in lockstep); the
        # uninterrupted answer is that of the same call, never stopped.
        reference = emkit.GaussianMixture(3, n_init=2, random_state=0, tol=0, max_iter=150)
        reference.fit(x, checkpoint=tmp_path / "reference.json")
    rng = np.random.default_rng(seed)
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONWARNINGS": "ignore"}
    for trial in range(trials):
        ck, out = tmp_path / f"ck{trial}.json", tmp_path / f"m{trial}.json"
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path / "x.npy"), str(ck), str(out)],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.8))
        child.kill()
        child.wait()
        if out.exists():  # the fit ended before the kill: its model file is whole
            np.testing.assert_array_equal(emkit.load(out).means_, reference.means_)
        if ck.exists():  # whatever moment the kill came, the checkpoint is whole
            assert json.loads(ck.read_text())["format"] == "emkit-checkpoint"
            assert Checkpoint(ck, None).path == ck
        model = emkit.GaussianMixture(3, n_init=2, random_state=0, tol=0, max_iter=150)
        with w.catch_warnings():
            w.simplefilter("ignore", ConvergenceWarning)
            model.fit(x, checkpoint=ck)
        for name in ("weights_", "means_", "covariances_", "history_"):
            np.testing.assert_allclose(
                getattr(model, name), getattr(reference, name), rtol=1e-10, atol=1e-12
            )
        assert model.n_iter_ == reference.n_iter_


def test_a_killed_fit_resumes_to_the_uninterrupted_answer(tmp_path):
    kill_and_resume(tmp_path, trials=2)


@pytest.mark.slow
def test_a_killed_fit_resumes_to_the_uninterrupted_answer_20_trials(tmp_path):
    kill_and_resume(tmp_path, trials=20, seed=1)


def test_a_checkpointed_fit_agrees_with_a_plain_one(tmp_path):
    x = blobs(300, seed=4)
    plain = emkit.GaussianMixture(2, n_init=3, random_state=0).fit(x)
    saved = emkit.GaussianMixture(2, n_init=3, random_state=0)
    saved.fit(x, checkpoint=tmp_path / "ck.json")
    order = np.argsort(saved.means_[:, 0]), np.argsort(plain.means_[:, 0])  # labels may swap
    np.testing.assert_allclose(saved.means_[order[0]], plain.means_[order[1]], rtol=1e-7)
    assert saved.log_likelihood_ == pytest.approx(plain.log_likelihood_, rel=1e-12)


@pytest.mark.parametrize("accelerate", [None, "squarem"])
def test_resuming_at_every_moment_gives_the_same_fit(tmp_path, accelerate):
    class Stop(Exception):
        pass

    x = blobs(200, seed=5)
    ck = tmp_path / "ck.json"

    def make(callback=None):
        return emkit.MixtureModel(
            [emkit.Normal(), emkit.Normal()],
            random_state=0,
            n_init=2,
            tol=1e-12,
            callback=callback,
            accelerate=accelerate,
        )

    counted = [0]
    reference = make(lambda progress: counted.__setitem__(0, counted[0] + 1)).fit(x[:, :1])
    total = counted[0]  # callbacks of both starts (SQUAREM: their step counts differ)
    for stop_at in sorted({s for s in (1, 4, 11, total // 2, total - 2) if 1 <= s <= total}):
        ck.unlink(missing_ok=True)
        calls = [0]

        def stop(progress, calls=calls, stop_at=stop_at):
            calls[0] += 1
            if calls[0] == stop_at:
                raise Stop

        with pytest.raises(Stop):
            make(stop).fit(x[:, :1], checkpoint=ck)
        resumed = make().fit(x[:, :1], checkpoint=ck)
        np.testing.assert_array_equal(resumed.history_, reference.history_)
        np.testing.assert_array_equal(resumed.weights_, reference.weights_)


def test_a_checkpoint_of_other_data_is_refused(tmp_path):
    from emkit.checkpoint import CheckpointError

    ck = tmp_path / "ck.json"
    emkit.GaussianMixture(2, random_state=0).fit(blobs(), checkpoint=ck)
    with pytest.raises(CheckpointError, match="other data"):
        emkit.GaussianMixture(2, random_state=0).fit(blobs() * 2, checkpoint=ck)
    with pytest.raises(CheckpointError, match="another fit"):
        emkit.GaussianMixture(3, random_state=0).fit(blobs(), checkpoint=ck)
    ck.write_text('{"format": "emkit-checkpoint", "version": 1, "key": 1, "runs": []}')
    with pytest.raises(CheckpointError):
        emkit.GaussianMixture(2, random_state=0).fit(blobs(), checkpoint=ck)


def test_a_checkpoint_keys_arrays_and_random_states_by_their_values(tmp_path):
    # The key held repr(value): NumPy elides the middle of a large array, so two starts that
    # differ only there shared a key and the second fit silently resumed the first's result;
    # a RandomState's repr shows its address, so such a fit could never resume.
    from emkit.checkpoint import CheckpointError

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 501))
    first = np.vstack([x[:100].mean(axis=0), x[100:].mean(axis=0)])
    second = first.copy()
    second[:, 250] += 5.0  # an elided column
    assert repr(first) == repr(second)
    ck = tmp_path / "ck.json"
    options = dict(covariance_type="spherical", max_iter=5, tol=0.0)
    emkit.GaussianMixture(2, means_init=first, **options).fit(x, checkpoint=ck)
    with pytest.raises(CheckpointError, match="another fit"):
        emkit.GaussianMixture(2, means_init=second, **options).fit(x, checkpoint=ck)
    seeded = tmp_path / "nested" / "seeded.json"  # a folder that does not exist is created
    state = np.random.RandomState(3)
    again = np.random.RandomState(3)  # another object, the same state: the same fit
    fit = emkit.GaussianMixture(2, random_state=state).fit(blobs(), checkpoint=seeded)
    resumed = emkit.GaussianMixture(2, random_state=again).fit(blobs(), checkpoint=seeded)
    np.testing.assert_array_equal(resumed.means_, fit.means_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_checkpoint_keys_families_by_their_values(tmp_path):
    # Families given with starting parameters were keyed by their repr, which elides the
    # middle of a large array: two starts that differ only there shared a key, and the second
    # fit resumed the first's run.
    from emkit.checkpoint import CheckpointError

    rng = np.random.default_rng(0)
    first, other = rng.dirichlet(np.ones(2000)), rng.dirichlet(np.ones(2000))
    second = first.copy()
    second[[1000, 1001]] = second[[1001, 1000]]
    families = [emkit.Categorical(probs=first), emkit.Categorical(probs=other)]
    swapped = [emkit.Categorical(probs=second), emkit.Categorical(probs=other)]
    assert repr(families) == repr(swapped)
    x = rng.integers(0, 2000, (3000, 1))
    ck = tmp_path / "ck.json"
    fitted = emkit.MixtureModel(families, max_iter=3, tol=0.0).fit(x, checkpoint=ck)
    with pytest.raises(CheckpointError, match="another fit"):
        emkit.MixtureModel(swapped, max_iter=3, tol=0.0).fit(x, checkpoint=ck)
    same = [emkit.Categorical(probs=first.copy()), emkit.Categorical(probs=other.copy())]
    resumed = emkit.MixtureModel(same, max_iter=3, tol=0.0).fit(x, checkpoint=ck)
    np.testing.assert_array_equal(resumed.history_, fitted.history_)


def test_a_checkpoint_rebuilds_only_emkit_values(tmp_path):
    from emkit.checkpoint import CheckpointError, decode

    with pytest.raises(CheckpointError, match="not an emkit class"):
        decode({"__dataclass__": "subprocess:Popen", "fields": {}})
    with pytest.raises(CheckpointError, match="not a model value"):
        decode({"__dataclass__": "emkit.atomic:write_text", "fields": {}})
    # A module the file names is never imported: importing emkit.cli.__main__ runs the command
    # line (it raised SystemExit from inside decode).
    import sys

    sys.modules.pop("emkit.cli.__main__", None)
    with pytest.raises(CheckpointError, match="loaded modules"):
        decode({"__dataclass__": "emkit.cli.__main__:main", "fields": {}})
    assert "emkit.cli.__main__" not in sys.modules


class _Stop(Exception):
    pass


def _stop_at(step: int):
    """A callback that interrupts a fit (as a kill would) at its ``step``-th accepted step."""
    calls = [0]

    def stop(progress):
        calls[0] += 1
        if calls[0] == step:
            raise _Stop

    return stop


def test_a_warm_start_is_part_of_a_checkpoint_key(tmp_path):
    # The key held the estimator's parameters only: a warm-started fit has the parameters of
    # the fit it continues, so it resumed that fit's finished run and returned its answer
    # (log-likelihood -1369.77 where the warm start reaches -1367.05), not its own.
    from emkit.checkpoint import CheckpointError

    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0.0, 1.0, (200, 2)), rng.normal(2.5, 1.0, (200, 2))])
    options = dict(warm_start=True, max_iter=3, random_state=0, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = emkit.GaussianMixture(2, **options).fit(x).fit(x)  # uninterrupted
        model = emkit.GaussianMixture(2, **options).fit(x, checkpoint=tmp_path / "first.json")
        first = model.log_likelihood_
        with pytest.raises(CheckpointError, match="warm start from another model"):
            model.fit(x, checkpoint=tmp_path / "first.json")
        model.fit(x, checkpoint=tmp_path / "second.json")
    assert model.log_likelihood_ > first + 1.0  # the warm start went on climbing
    np.testing.assert_array_equal(model.history_, plain.history_)
    np.testing.assert_array_equal(model.means_, plain.means_)


def test_verbose_output_does_not_change_a_checkpoint_key(tmp_path, capsys):
    # verbose was part of the key: a fit resumed with progress printing was refused as
    # "a checkpoint of another fit".
    x = blobs(300, seed=8)
    options = dict(n_init=2, random_state=0, tol=1e-10)
    plain = emkit.GaussianMixture(3, **options).fit(x, checkpoint=tmp_path / "uninterrupted")
    with pytest.raises(_Stop):
        emkit.GaussianMixture(3, callback=_stop_at(7), **options).fit(x, checkpoint=tmp_path / "c")
    assert (tmp_path / "c").exists()  # saved after 5 steps
    resumed = emkit.GaussianMixture(3, verbose=2, verbose_interval=1, **options)
    resumed.fit(x, checkpoint=tmp_path / "c")
    assert "Initialization 1" in capsys.readouterr().out
    np.testing.assert_array_equal(resumed.history_, plain.history_)
    assert resumed.n_iter_ == plain.n_iter_


@pytest.mark.parametrize(
    "field, value",
    [
        ("history", {"__tuple__": []}),
        ("history", 3),
        ("maps", "x"),
        ("model", None),
        ("changes", {"__tuple__": ["a"]}),
        ("done", 1),
        ("policy", {"__dict__": 5}),
    ],
)
def test_a_damaged_checkpoint_is_refused_not_crashed(tmp_path, field, value):
    # Fields of the wrong kind in a checkpoint that still parses as JSON crashed the resumed
    # fit with IndexError, TypeError or AttributeError from inside EM.
    from emkit.checkpoint import CheckpointError

    x = blobs(100, seed=9)
    ck = tmp_path / "ck.json"
    emkit.GaussianMixture(2, random_state=0).fit(x, checkpoint=ck)
    document = json.loads(ck.read_text())
    document["runs"][0]["fields"][field] = value
    ck.write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match="a damaged checkpoint.*delete it"):
        emkit.GaussianMixture(2, random_state=0).fit(x, checkpoint=ck)


def test_select_mixture_with_checkpoints_resumes(tmp_path):
    x = blobs(40)
    first = emkit.select_mixture(x, [1, 2], ["full", "diag"], checkpoint=tmp_path / "ck")
    names = {p.name for p in (tmp_path / "ck").iterdir()}
    assert {"diag-1.json", "diag-2.json", "full-1.json", "full-2.json"} <= names
    second = emkit.select_mixture(x, [1, 2], ["full", "diag"], checkpoint=tmp_path / "ck")
    np.testing.assert_array_equal(first.best_.means_, second.best_.means_)
    pd.testing.assert_frame_equal(first.table_, second.table_)


# ---- 8, 12. bad input across every public estimator: one clear error ------------------

_RNG = np.random.default_rng(0)
COUNTS = np.abs(np.round(_RNG.normal(3, 1, (40, 2))))
CLASSES = (COUNTS[:, 0] > 3).astype(int)

ESTIMATORS = {
    "GaussianMixture": lambda x: emkit.GaussianMixture(2, random_state=0).fit(x),
    "MixtureModel": lambda x: emkit.MixtureModel(
        [emkit.Normal(), emkit.Normal()], random_state=0
    ).fit(x),
    "ZeroInflatedPoisson": lambda x: emkit.ZeroInflatedPoisson().fit(x),
    "KMeans": lambda x: emkit.KMeans(2, random_state=0).fit(x),
    "GaussianImputer": lambda x: emkit.GaussianImputer().fit(x),
    "GenerativeClassifier": lambda x: emkit.GenerativeClassifier().fit(x, CLASSES),
    "MixtureOfRegressions": lambda x: emkit.MixtureOfRegressions(2, random_state=0).fit(
        x, CLASSES.astype(float)
    ),
}
BAD_INPUT = {
    "strings": (np.array([["a", "b"]] * 40), "needs numeric data"),
    "categories": (
        pd.DataFrame({"a": pd.Categorical(["x", "y"] * 20), "b": np.arange(40.0)}),
        "needs numeric data",
    ),
    "a dict": ({"a": [1, 2]}, "got a dict"),
    # NumPy's DTypePromotionError where dates sat beside numbers in a DataFrame
    "dates": (
        pd.DataFrame({"a": np.arange(40.0), "when": pd.date_range("2020-01-01", periods=40)}),
        r"when \(dates\) is not: convert dates",
    ),
    "durations": (
        pd.DataFrame({"a": np.arange(40.0), "took": pd.to_timedelta(np.arange(40), unit="s")}),
        r"took \(durations\) is not",
    ),
    # fitted silently as days since 1970
    "datetime64": (
        np.arange(80).astype("datetime64[D]").reshape(40, 2),
        r"X \(dates\) is not",
    ),
    "complex": (COUNTS + 1j, r"X \(complex numbers\) is not: take the real part"),
    # pandas' extension dtypes: periods say kind "O"; a Series' dtypes is not a list of them
    "periods": (
        pd.DataFrame({"a": np.arange(40.0), "p": pd.period_range("2020-01", periods=40)}),
        r"p \(dates\) is not",
    ),
    "time-zone dates": (
        pd.DataFrame({"when": pd.date_range("2020-01-01", periods=40, tz="UTC")}),
        r"when \(dates\) is not",
    ),
    "a Series of Int64": (pd.Series(np.arange(40), dtype="Int64"), "2-dimensional"),
    "1e300": (COUNTS * 1e300, "overflow float64"),  # 8: KMeans gave inertia_ = inf
    # variances of 0: GaussianMixture put both components on one mean, KMeans gave inertia 0
    "1e-170": (COUNTS * 1e-170, "underflow float64"),
    "inf": (np.r_[COUNTS[:-1], [[np.inf, 1]]], "infinity"),
    "no rows": (np.zeros((0, 2)), "0 sample"),
    "3-D": (COUNTS[None], "dim 3"),
}


@pytest.mark.parametrize("estimator", list(ESTIMATORS))
@pytest.mark.parametrize("bad", list(BAD_INPUT))
def test_bad_input_gets_one_clear_error(estimator, bad):
    x, expected = BAD_INPUT[bad]
    with pytest.raises(ValueError, match=expected):
        ESTIMATORS[estimator](x)


@pytest.mark.parametrize("bad", ["dates", "durations", "datetime64", "complex"])
def test_select_mixture_names_columns_that_are_not_real_numbers(bad):
    x, expected = BAD_INPUT[bad]
    with pytest.raises(ValueError, match="select_mixture needs real numbers, but " + expected):
        emkit.select_mixture(x, [1, 2], ["full"])


@pytest.mark.parametrize(
    "estimator", ["MixtureModel", "ZeroInflatedPoisson", "KMeans", "MixtureOfRegressions"]
)
def test_nan_gets_emkits_message_where_missing_em_is_not_offered(estimator):
    # These estimators passed scikit-learn's "consider HistGradientBoostingClassifier"
    # message; GaussianMixture's already said where the NaN are and what to do.
    x = COUNTS.copy()
    x[7, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN in 1 of 40 rows \(columns \[1\]\).*complete rows"):
        ESTIMATORS[estimator](x)


def test_a_bool_is_not_a_number_of_components():
    # 12: n_components=True used to fail deep inside with "an integer is required".
    with pytest.raises(ValueError, match="must be a number, not the bool True"):
        emkit.GaussianMixture(True).fit(COUNTS)


def test_select_mixture_takes_a_path_like_fit(tmp_path):
    # 12: select_mixture("x.npy") said "Expected 2D array" although fit takes paths.
    x = blobs(60)
    np.save(tmp_path / "x.npy", x)
    from_file = emkit.select_mixture(tmp_path / "x.npy", [1, 2], ["full"])
    in_memory = emkit.select_mixture(x, [1, 2], ["full"])
    pd.testing.assert_frame_equal(from_file.table_, in_memory.table_)


# ---- 9, 10, 13. what fit refuses, predict and starts refuse too ------------------------


@pytest.mark.parametrize(
    ("model", "x", "row"),
    [
        (lambda: emkit.ZeroInflatedPoisson(), [[0], [1], [2], [0], [3]], [[-1]]),
        (
            lambda: emkit.MixtureModel([emkit.Poisson()] * 2, random_state=0),
            [[0], [1], [4]],
            [[-3]],
        ),
        (
            lambda: emkit.MixtureModel([emkit.Bernoulli()] * 2, random_state=0),
            [[0, 1], [1, 1], [0, 0]],
            [[2, 0]],
        ),
    ],
    ids=["zip", "poisson", "bernoulli"],
)
def test_predicting_outside_the_support_is_refused(model, x, row):
    fitted = model().fit(np.asarray(x, dtype=float))
    with pytest.raises(ValueError, match="outside the support of every component"):
        fitted.predict_proba(np.asarray(row, dtype=float))
    assert fitted.score_samples(np.asarray(row, dtype=float))[0] == -np.inf


def test_missing_em_refuses_a_column_with_no_observed_value():
    # 10: GaussianMixture(missing="em") fitted an all-NaN column (mean 0, variance 7e-5).
    x = np.c_[blobs(40)[:, :1], np.full(40, np.nan)]
    with pytest.raises(ValueError, match=r"columns \[1\] have no observed value"):
        emkit.GaussianMixture(2, missing="em").fit(x)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: emkit.Normal(variance=-1), "variance must be non-negative"),
        (lambda: emkit.Normal(mean=np.inf), "mean must be finite"),
        (lambda: emkit.Poisson(rate=-1), "rate must be non-negative"),
        (lambda: emkit.Gamma(shape=[np.nan], rate=[1]), "shape must be positive"),
        (lambda: emkit.Bernoulli(probs=[1.5]), r"probs must be in \[0, 1\]"),
        (lambda: emkit.Categorical(probs=[[0.5, 0.6]]), "rows summing to 1"),
        (
            lambda: emkit.GaussianMixture(1, precisions_init=[[[1, 0.5], [0, 1]]]).fit(blobs()),
            "precisions_init must be symmetric",
        ),
    ],
    ids=["normal", "normal-mean", "poisson", "gamma", "bernoulli", "categorical", "precisions"],
)
def test_bad_starting_values_are_refused(make, expected):
    # 13: Normal(variance=-1), Poisson(rate=-1) and a non-symmetric precisions_init were used.
    with pytest.raises(ValueError, match=expected):
        make()


# ---- 11. files read by fit ---------------------------------------------------------------


def _write_bad_files(folder: Path) -> dict[str, Path]:
    x = blobs(40)
    np.save(folder / "complex.npy", x.astype(complex))
    np.save(folder / "dates.npy", np.arange(80).astype("datetime64[D]").reshape(40, 2))
    np.save(folder / "ok.npy", x)
    (folder / "cut.npy").write_bytes((folder / "ok.npy").read_bytes()[:300])
    (folder / "random.npy").write_bytes(np.random.default_rng(0).bytes(500))
    pd.DataFrame({"a": ["x", "y"] * 20, "b": np.arange(40.0)}).to_parquet(folder / "text.parquet")
    pd.DataFrame({"a": [[1, 2]] * 40, "b": np.arange(40.0)}).to_parquet(folder / "list.parquet")
    return {p.stem: p for p in folder.iterdir()}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("complex", "complex128.*complex, date and text values are not data"),
        ("dates", "datetime64"),
        ("cut", "not a readable .npy file of 300 bytes.*mmap length"),
        ("random", "not a readable .npy file of 500 bytes.*no .npy header"),
        ("text", r"columns a \(large_string\) do not hold numbers"),
        ("list", r"columns a \(list<element: int64>\) do not hold numbers"),
    ],
)
def test_a_file_fit_cannot_use_gets_one_clear_error(tmp_path, name, expected):
    path = _write_bad_files(tmp_path)[name]
    with pytest.raises(ValueError, match=expected) as caught:
        emkit.GaussianMixture(2).fit(path)
    assert "allow_pickle" not in str(caught.value)


def test_chunks_that_shrink_between_passes_are_refused():
    x = blobs(50)

    class Shrinking:
        """Yields 10 rows fewer once it has been read in full (the probes of its first chunk,
        for its columns, do not count)."""

        read_whole = False

        def __iter__(self):
            yield x[:30] if self.read_whole else x[:40]
            yield x[40:]
            self.read_whole = True

    with pytest.raises(ValueError, match="yielded 40 rows on this pass but 50 on the first"):
        emkit.GaussianMixture(2).fit(Shrinking())


# ---- 7. scale invariance ------------------------------------------------------------------
# reg_covar is the MAP ridge (S + c I) / N in the data's units, so a fit of X * s equals the
# fit of X rescaled when reg_covar is rescaled with it (c s^2); that is what is tested. The
# degeneracy test, the stop test (per-row change of the log-likelihood, which only shifts by
# -d log s) and the starts (k-means++ on distances) are scale-free.

SCALES = (1e-8, 1e-4, 1e4, 1e8)
TWO_BLOBS = np.r_[
    np.random.default_rng(0).normal([0, 0], [1, 2], (100, 2)),
    np.random.default_rng(1).normal([5, 3], [1, 0.5], (100, 2)),
]


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_gaussian_mixture_is_scale_equivariant(covariance_type):
    # 7: two clean clusters scaled by 1e-4 (or 1e-8) collapsed into one, flagged degenerate.
    # tol=1e-12: fits of X and X * s stop within rounding of the same optimum (each takes
    # its own SQUAREM path; at the default tol they agree to about 1e-5).
    base = emkit.GaussianMixture(2, covariance_type=covariance_type, random_state=0, tol=1e-12)
    base.fit(TWO_BLOBS)
    for s in SCALES:
        model = emkit.GaussianMixture(
            2, covariance_type=covariance_type, random_state=0, reg_covar=1e-6 * s**2, tol=1e-12
        ).fit(TWO_BLOBS * s)
        assert not model.degenerate_
        np.testing.assert_array_equal(model.predict(TWO_BLOBS * s), base.predict(TWO_BLOBS))
        np.testing.assert_allclose(model.means_ / s, base.means_, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(
            model.covariances_ / s**2, base.covariances_, rtol=1e-6, atol=1e-7
        )
        assert model.log_likelihood_ == pytest.approx(
            base.log_likelihood_ - TWO_BLOBS.size * np.log(s), rel=1e-9
        )


def test_gaussian_mixture_without_ridge_is_scale_equivariant_with_columns_apart():
    x = TWO_BLOBS * [1e-8, 1e8]  # columns eight orders of magnitude from 1, either way
    base = emkit.GaussianMixture(2, random_state=0, reg_covar=0).fit(TWO_BLOBS)
    model = emkit.GaussianMixture(2, random_state=0, reg_covar=0).fit(x)
    assert not model.degenerate_
    np.testing.assert_array_equal(model.predict(x), base.predict(TWO_BLOBS))
    np.testing.assert_allclose(model.means_ / [1e-8, 1e8], base.means_, rtol=1e-6)


@pytest.mark.parametrize("covariance", ["full", "tied", "diag", "VVI", "EEE", "EEI", "VVV"])
def test_em_is_scale_equivariant_with_columns_apart(covariance):
    # From the same start (k-means, like scikit-learn's, weighs columns by their scale, so the
    # default start is not column-equivariant), structures closed under rescaling a column
    # climb to the same maximum on columns 1e16 apart. The whole start is given: with the
    # means alone the covariances would come from a k-means++ clustering drawn at random.
    scale = np.array([1e-8, 1e8])
    fit = {"reg_covar": 0, "covariance_type": covariance, "tol": 1e-10}
    first = emkit.GaussianMixture(
        2, means_init=[[0.0, 0.0], [5.0, 3.0]], random_state=0, max_iter=1, **fit
    )
    with pytest.warns(ConvergenceWarning):
        first.fit(TWO_BLOBS)
    cov = first.covariances_
    if covariance in ("diag", "VVI", "EEI"):  # per-feature layouts
        precisions, scaled = 1.0 / cov, 1.0 / (cov * scale**2)
    else:
        precisions = np.linalg.inv(cov)
        scaled = precisions / np.outer(scale, scale)
    start = {"weights_init": first.weights_, "max_iter": 500, **fit}
    base = emkit.GaussianMixture(
        2, means_init=first.means_, precisions_init=precisions, **start
    ).fit(TWO_BLOBS)
    model = emkit.GaussianMixture(
        2, means_init=first.means_ * scale, precisions_init=scaled, **start
    ).fit(TWO_BLOBS * scale)
    assert not model.degenerate_
    np.testing.assert_array_equal(model.predict(TWO_BLOBS * scale), base.predict(TWO_BLOBS))
    np.testing.assert_allclose(model.means_ / scale, base.means_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.log_likelihood_, base.log_likelihood_, rtol=1e-10)


@pytest.mark.parametrize("covariance", ["spherical", "EII", "VEV", "EVE"])
def test_columns_apart_are_not_degenerate_in_any_structure(covariance):
    # These structures are not closed under rescaling one column (one variance for both, or a
    # shape shared across orientations): another model, but no collapsed component.
    x = TWO_BLOBS * [1e-8, 1e8]
    model = emkit.GaussianMixture(2, covariance_type=covariance, reg_covar=0, random_state=0)
    assert not model.fit(x).degenerate_


def test_kmeans_is_scale_equivariant():
    base = emkit.KMeans(2, random_state=0).fit(TWO_BLOBS)
    for s in SCALES:
        model = emkit.KMeans(2, random_state=0).fit(TWO_BLOBS * s)
        np.testing.assert_array_equal(model.labels_, base.labels_)
        np.testing.assert_allclose(model.cluster_centers_ / s, base.cluster_centers_, rtol=1e-12)
        assert model.inertia_ / s**2 == pytest.approx(base.inertia_, rel=1e-12)


@pytest.mark.parametrize(
    ("families", "scaled"),
    [
        ([emkit.Gamma(), emkit.Gamma()], {"rate": -1}),
        ([emkit.Exponential(), emkit.Exponential()], {"rate": -1}),
        ([emkit.Normal(), emkit.Normal()], {"mean": 1, "variance": 2}),
    ],
    ids=["gamma", "exponential", "normal"],
)
def test_scale_families_are_scale_equivariant(families, scaled):
    y = np.abs(TWO_BLOBS[:, :1]) + 0.5
    base = emkit.MixtureModel(families, random_state=0, tol=1e-12).fit(y)
    for s in SCALES:
        model = emkit.MixtureModel(families, random_state=0, reg_covar=1e-6 * s**2, tol=1e-12)
        model.fit(y * s)
        np.testing.assert_allclose(model.weights_, base.weights_, rtol=1e-7)
        for got, want in zip(model.component_params_, base.component_params_, strict=True):
            for name, power in scaled.items():
                np.testing.assert_allclose(np.asarray(got[name]) / s**power, want[name], rtol=1e-6)


# ---- 4. no MonotonicityWarning on awkward data, every family and structure ---------------


def _monotonicity():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "monotonicity.py"
    spec = importlib.util.spec_from_file_location("emkit_monotonicity_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


MONOTONICITY = _monotonicity()


@pytest.mark.parametrize("name", list(MONOTONICITY.CONFIGS))
def test_the_objective_never_falls_on_awkward_data(name):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(
        max_examples=4, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(seed=st.integers(0, 2**31 - 1))
    def probe(seed):
        assert MONOTONICITY.check(name, seed) is None

    probe()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MONOTONICITY.CONFIGS))
def test_the_objective_never_falls_on_1000_awkward_data_sets(name):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
    @given(seed=st.integers(0, 2**31 - 1))
    def probe(seed):
        assert MONOTONICITY.check(name, seed) is None

    probe()


def test_mle_normal_refuses_values_whose_squares_overflow():
    # 8: mle.normal([1e300, -1e300]) gave variance inf (and `emkit mle` exit 0).
    from emkit import mle

    with pytest.raises(ValueError, match="overflow float64 when squared"):
        mle.normal([1e300, -1e300])
    assert mle.normal([1e50, -1e50]).params["variance"] == pytest.approx(1e100)
    # values too small to square said "values that are not all equal" although they are not
    with pytest.raises(ValueError, match="underflow float64 when squared"):
        mle.normal([1e-200, -1e-200, 3e-200])
    assert mle.normal([1e-140, -1e-140]).params["variance"] == pytest.approx(1e-280)


class _RunsCode:
    """Unpickling this calls ``touch`` on a file: the proof that a load ran code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.path}",))


def test_npy_files_of_python_objects_are_refused_unread(tmp_path):
    # A .npy of Python objects is a pickle: loading it may run any code. Fitting or predicting
    # from such a file names the reason and runs nothing (checked with a payload).
    proof = tmp_path / "ran"
    path = tmp_path / "objects.npy"
    np.save(path, np.array([_RunsCode(proof), 1.0], dtype=object), allow_pickle=True)
    model = emkit.GaussianMixture(2, random_state=0).fit(blobs(60))
    for call in (
        lambda: emkit.GaussianMixture(2).fit(path),
        lambda: emkit.GaussianImputer().fit(path),
        lambda: model.predict(path),
    ):
        with pytest.raises(ValueError, match="holds Python objects .pickled., which emkit never"):
            call()
    assert not proof.exists()


@pytest.mark.parametrize("name", ["model.json", "model.pkl", "model.joblib"])
def test_a_pickled_model_file_is_refused_without_running_it(tmp_path, name):
    # Model files are JSON, rebuilt into emkit's own classes: a pickle passed as one (by
    # whatever name, as joblib.dump or pickle.dump write them) is refused, and its payload
    # never runs; the same for emkit predict and a checkpoint to resume from.
    import pickle

    proof = tmp_path / "ran"
    path = tmp_path / name
    path.write_bytes(pickle.dumps(_RunsCode(proof)))
    with pytest.raises(ModelFileError):
        emkit.load(path)
    data = tmp_path / "rows.csv"
    pd.DataFrame(blobs(20), columns=["a", "b"]).to_csv(data, index=False)
    assert main(["predict", str(path), str(data)]) == 2
    checkpoint = tmp_path / "fit.ckpt"
    checkpoint.write_bytes(pickle.dumps(_RunsCode(proof)))
    with pytest.raises(CheckpointError):
        emkit.GaussianMixture(2, random_state=0).fit(blobs(60), checkpoint=checkpoint)
    assert not proof.exists()
