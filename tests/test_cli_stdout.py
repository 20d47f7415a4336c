"""Standard output whose reader goes away (``emkit fit ... | head -1``): the fit's files are
still written, and the command ends quietly with status 0, as Unix tools do."""

import contextlib
import io

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


def run_closed(argv) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(ClosedPipe()), contextlib.redirect_stderr(err):
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


def test_a_reader_gone_on_a_cluster_keeps_the_files(two_groups, tmp_path):
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    path, x = two_groups
    out = tmp_path / "o"
    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        argv = ["fit", path, *FAST, "--out", out, "--scheduler", client.scheduler.address]
        status, err = run_closed(argv)
    assert status == 0, err
    assert "error" not in err
    labels = pd.read_parquet(out / "assignments")["label"].to_numpy()
    assert len(set(labels[:40])) == len(set(labels[40:])) == 1 and labels[0] != labels[40]
    model = emkit.load(out / "model.json")
    means = np.asarray(model.means_)[[labels[0], labels[40]]]
    np.testing.assert_allclose(means, [x[:40].mean(axis=0), x[40:].mean(axis=0)], atol=1e-5)
