"""Standard output whose reader goes away (``emkit fit ... | head -1``): the fit's files are
still written, and the command ends quietly with status 0, as Unix tools do. Standard output
that cannot be written (a full disk, ``> /dev/full``): the files are still written, and the
command ends with one error line naming standard output, status 2."""

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import emkit
from emkit.cli import main

FAST = ["-k", "2", "--covariance", "VVV", "--quiet", "--no-report"]


class ClosedPipe(io.StringIO):
    """Standard output whose reader has gone: every write fails as a closed pipe's does."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


class FullDisk(io.StringIO):
    """Standard output on a full disk: every write fails as /dev/full's do."""

    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")


FULL = "emkit: error: cannot write to standard output: No space left on device\n"


def run_closed(argv, stdout=ClosedPipe) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(stdout()), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, err.getvalue()


@pytest.fixture
def two_groups(tmp_path):
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (40, 2)), rng.normal(6, 1, (40, 2))])
    path = tmp_path / "d.csv"
    pd.DataFrame(x, columns=["a", "b"]).to_csv(path, index=False)
    return path, x


def check_written(out, x) -> None:
    """``out`` holds the fit of ``x`` (two separated groups of 40 rows): each group one label,
    and the model's means the groups' sample means (to EM's stopping tolerance)."""
    labels = pd.read_csv(out / "assignments.csv")["label"].to_numpy()
    assert len(set(labels[:40])) == len(set(labels[40:])) == 1 and labels[0] != labels[40]
    model = emkit.load(out / "model.json")
    means = np.asarray(model.means_)[[labels[0], labels[40]]]
    np.testing.assert_allclose(means, [x[:40].mean(axis=0), x[40:].mean(axis=0)], atol=1e-5)


def test_a_reader_gone_keeps_the_files_and_the_status(two_groups, tmp_path):
    path, x = two_groups
    out = tmp_path / "o"
    status, err = run_closed(["fit", path, *FAST, "--out", out])
    assert status == 0, err
    assert "error" not in err
    check_written(out, x)


def test_a_full_disk_keeps_the_files_and_names_standard_output(two_groups, tmp_path):
    path, x = two_groups
    out = tmp_path / "o"
    status, err = run_closed(["fit", path, *FAST, "--out", out], stdout=FullDisk)
    assert (status, err) == (2, FULL)
    check_written(out, x)


@pytest.mark.parametrize(
    "stdout, expected", [(None, (0, "")), (FullDisk, (2, FULL))], ids=["reader-gone", "full-disk"]
)
def test_standard_output_on_a_cluster_keeps_the_files(two_groups, tmp_path, stdout, expected):
    """A reader gone (status 0, no error) or a full disk (status 2, one line) on the cluster
    path: the workers' assignments and the model are written, the means those of the groups."""
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    path, x = two_groups
    out = tmp_path / "o"
    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        argv = ["fit", path, *FAST, "--out", out, "--scheduler", client.scheduler.address]
        status, err = run_closed(argv) if stdout is None else run_closed(argv, stdout=stdout)
    assert (status, "error" in err) == (expected[0], bool(expected[1])), err
    if expected[1]:
        assert err == expected[1]
    labels = pd.read_parquet(out / "assignments")["label"].to_numpy()
    assert len(set(labels[:40])) == len(set(labels[40:])) == 1 and labels[0] != labels[40]
    model = emkit.load(out / "model.json")
    means = np.asarray(model.means_)[[labels[0], labels[40]]]
    np.testing.assert_allclose(means, [x[:40].mean(axis=0), x[40:].mean(axis=0)], atol=1e-5)


def test_predict_and_mle_on_a_full_disk_say_so(two_groups, tmp_path):
    path, _ = two_groups
    model = tmp_path / "m.json"
    emkit.GaussianMixture(2, random_state=0).fit(pd.read_csv(path)).save(model)
    assert run_closed(["predict", model, path], stdout=FullDisk) == (2, FULL)
    assert run_closed(["mle", "normal", path, "--column", "a"], stdout=FullDisk) == (2, FULL)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_dev_full_as_standard_output(two_groups, tmp_path):
    """A real full device: what Python still holds to print is not flushed at the exit into
    a second error (status 120), and the fit's files are written."""
    path, x = two_groups
    out = tmp_path / "o"
    src = str(Path(emkit.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": src, "MPLCONFIGDIR": str(tmp_path)}
    command = [sys.executable, "-m", "emkit.cli"]
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*command, *map(str, ["fit", path, *FAST, "--out", out])],
            stdout=full,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            timeout=120,
        )
    assert (done.returncode, done.stderr) == (2, FULL)
    check_written(out, x)


CLOSED = "emkit: error: cannot write to standard output: it is closed\n"


def test_closed_standard_output_is_one_that_cannot_be_written(two_groups, tmp_path):
    """``>&-``: Python's sys.stdout is None; the fit's files are still written."""
    path, x = two_groups
    out = tmp_path / "o"
    assert run_closed(["fit", path, *FAST, "--out", out], stdout=lambda: None) == (2, CLOSED)
    check_written(out, x)
    model = tmp_path / "m.json"
    emkit.GaussianMixture(2, random_state=0).fit(pd.read_csv(path)).save(model)
    assert run_closed(["predict", model, path], stdout=lambda: None) == (2, CLOSED)
    argv = ["mle", "normal", path, "--column", "a"]
    assert run_closed(argv, stdout=lambda: None) == (2, CLOSED)


def test_commands_run_at_once_in_threads_leave_standard_output_alone(two_groups, monkeypatch):
    """Two commands in threads, the first to start ending first: sys.stdout is as it was
    after both, and each printed its table there."""
    import threading

    from emkit.cli import mle as cli_mle

    path, x = two_groups
    argv = ["mle", "normal", str(path), "--column", "a"]
    alone = io.StringIO()
    with contextlib.redirect_stdout(alone):
        assert main(argv) == 0
    assert f"{x[:, 0].mean():.4f}" in alone.getvalue()

    started = {"first": threading.Event(), "second": threading.Event()}
    first_done = threading.Event()
    run = cli_mle.run

    def in_turn(args):
        started[threading.current_thread().name].set()
        if threading.current_thread().name == "first":
            assert started["second"].wait(60)  # the second started while the first runs
        else:
            assert first_done.wait(60)  # and ends after it
        return run(args)

    monkeypatch.setattr(cli_mle, "run", in_turn)
    printed = io.StringIO()
    statuses = []
    with contextlib.redirect_stdout(printed):
        threads = {
            name: threading.Thread(target=lambda: statuses.append(main(argv)), name=name)
            for name in started
        }
        threads["first"].start()
        assert started["first"].wait(60)
        threads["second"].start()
        threads["first"].join(60)
        first_done.set()
        threads["second"].join(60)
        assert sys.stdout is printed
    assert statuses == [0, 0]
    assert printed.getvalue() == alone.getvalue() * 2
