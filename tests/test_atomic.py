"""Where emkit writes (emkit.atomic): special destinations, errors that name them, and output
folders shared with the user's own files.

Every path here is under tmp_path (fifos by os.mkfifo, links by os.symlink): an atomic replace
of a device node would turn it into a regular file.
"""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import emkit
from cli_run import run_main as run_cli
from emkit.atomic import MANIFEST, atomic_write, folder_lock, output_folder, write_text
from emkit.exceptions import ModelFileError


def blobs(n=60, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return np.r_[rng.normal(0, 1, (n // 2, d)), rng.normal(6, 1, (n - n // 2, d))]


@pytest.fixture(scope="module")
def model():
    return emkit.GaussianMixture(2, random_state=0).fit(blobs())


def visible(folder: Path) -> dict[str, str]:
    """The text of each file in ``folder`` but dot files (a folder: "<folder>")."""
    return {
        p.name: "<folder>" if p.is_dir() else p.read_text()
        for p in folder.iterdir()
        if not p.name.startswith(".")
    }


# ---- special destinations --------------------------------------------------------------


def test_a_named_pipe_is_written_through_not_replaced(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as f:  # blocks until the writer opens the pipe
            received.append(f.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    writer = threading.Thread(target=write_text, args=(fifo, "a,b\n1,2\n"), daemon=True)
    writer.start()
    writer.join(20)
    thread.join(20)
    assert not writer.is_alive() and not thread.is_alive(), "writing to a fifo hangs"
    assert received == [b"a,b\n1,2\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a pipe, not a regular file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]  # no temporary left


def test_a_dev_fd_path_is_written_through(tmp_path):
    # what a shell's --out >(wc -l) hands over: /dev/fd/N, a link to a pipe
    r, w = os.pipe()
    try:
        write_text(f"/dev/fd/{w}", "x\n" * 100)
        os.close(w)
        w = -1
        with os.fdopen(r, "rb") as f:
            r = -1
            assert f.read() == b"x\n" * 100
    finally:
        for fd in (r, w):
            if fd >= 0:
                os.close(fd)


def test_predict_out_to_a_named_pipe(tmp_path, model):
    model.save(tmp_path / "m.json")
    pd.DataFrame(blobs(), columns=["x0", "x1"]).to_csv(tmp_path / "d.csv", index=False)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as f:
            received.append(f.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    outcome: list = []
    cli = threading.Thread(
        target=lambda: outcome.append(
            run_cli(["predict", tmp_path / "m.json", tmp_path / "d.csv", "--out", fifo])
        ),
        daemon=True,
    )
    cli.start()
    cli.join(60)
    thread.join(20)
    assert outcome and not thread.is_alive(), "predict into a fifo hangs"
    assert outcome[0][0] == 0, outcome[0][2]
    table = pd.read_csv(io.BytesIO(received[0]))
    assert len(table) == 60 and list(table.columns[:2]) == ["label", "probability"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_save_through_a_symlink_replaces_its_target(tmp_path, model):
    target = tmp_path / "real" / "model.json"
    target.parent.mkdir()
    target.write_text("old")
    os.chmod(target, 0o640)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    np.testing.assert_array_equal(emkit.load(target).means_, model.means_)
    assert target.stat().st_mode & 0o777 == 0o640  # the target keeps its permissions
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.json"]


def test_a_dangling_symlink_gets_its_target_made(tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to("made.txt")
    write_text(link, "new")
    assert link.is_symlink() and (tmp_path / "made.txt").read_text() == "new"


def test_a_folder_is_refused_naming_it(tmp_path, model):
    folder = tmp_path / "adir"
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as caught:
        model.save(folder)
    assert caught.value.filename == str(folder) and "folder" in str(caught.value)
    assert ".tmp" not in str(caught.value)
    assert folder.is_dir() and list(folder.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir"]  # no temporary left


def test_a_socket_is_refused(tmp_path):
    path = tmp_path / "s"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
    except OSError:  # a tmp_path too long for a socket address
        pytest.skip("cannot bind a socket under tmp_path")
    try:
        with pytest.raises(OSError, match="socket"):
            write_text(path, "x")
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
    finally:
        server.close()


# ---- errors name the destination -------------------------------------------------------


def test_save_makes_missing_folders_as_checkpoints_do(tmp_path, model):
    path = tmp_path / "no" / "such" / "dir" / "g.json"
    model.save(path)
    np.testing.assert_array_equal(emkit.load(path).means_, model.means_)


def test_a_missing_folder_is_named_not_the_temporary_file(tmp_path):
    path = tmp_path / "nodir" / "x.csv"
    with pytest.raises(FileNotFoundError) as caught:
        write_text(path, "x")
    assert caught.value.filename == str(path)
    assert "nodir does not exist" in caught.value.strerror and ".tmp" not in str(caught.value)


def test_predict_out_in_a_missing_folder_names_it(tmp_path, model):
    model.save(tmp_path / "m.json")
    pd.DataFrame(blobs(), columns=["x0", "x1"]).to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "nodir" / "p.csv"
    status, _, err = run_cli(["predict", tmp_path / "m.json", tmp_path / "d.csv", "--out", out])
    assert status == 2
    assert f"cannot write {out}: the folder {out.parent} does not exist" in err
    assert ".tmp" not in err


def test_an_empty_path_is_refused(tmp_path, model, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="path is empty"):
        model.save("")
    with pytest.raises(ValueError, match="path is empty"):
        write_text("", "x")
    with pytest.raises(ModelFileError, match="path is empty"):
        emkit.load("")
    assert list(tmp_path.iterdir()) == []


def test_a_file_in_the_way_of_a_folder_is_named(tmp_path, model):
    (tmp_path / "f").write_text("x")
    path = tmp_path / "f" / "g.json"
    with pytest.raises(NotADirectoryError) as caught:
        model.save(path)
    assert caught.value.filename == str(path) and ".tmp" not in str(caught.value)


def test_a_failed_write_through_a_link_keeps_the_target(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    link = tmp_path / "l.txt"
    link.symlink_to(target)
    with pytest.raises(RuntimeError), atomic_write(link) as f:
        f.write("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old" and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.txt", "t.txt"]


# ---- output folders shared with the user's files ---------------------------------------


def run(out: Path, files: dict[str, str], folders: dict[str, dict[str, str]] | None = None):
    with output_folder(out) as staging:
        for name, text in files.items():
            write_text(staging / name, text)
        for name, content in (folders or {}).items():
            (staging / name).mkdir()
            for inner, text in content.items():
                write_text(staging / name / inner, text)


def test_a_shared_folder_loses_the_earlier_runs_other_outputs(tmp_path):
    out = tmp_path / "o3"
    run(out, {"model.json": "k2", "assignments.csv": "k2", "report.html": "k2"})
    (out / "notes.txt").write_text("mine")
    run(out, {"model.json": "k3", "assignments.csv": "k3"})  # --no-report
    assert visible(out) == {"model.json": "k3", "assignments.csv": "k3", "notes.txt": "mine"}
    assert json.loads((out / MANIFEST).read_text()) == ["assignments.csv", "model.json"]
    run(out, {"model.json": "k4", "report.html": "k4"}, {"assignments": {"part.0.parquet": "4"}})
    run(out, {"model.json": "k5", "assignments.csv": "k5"})  # the Dask run's folder goes too
    assert visible(out) == {"model.json": "k5", "assignments.csv": "k5", "notes.txt": "mine"}
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [MANIFEST]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o3"]  # no lock file left


def test_fewer_partitions_into_a_shared_folder_leave_no_stale_ones(tmp_path):
    (tmp_path / "data.csv").write_text("keep")
    run(tmp_path, {f"part.{i}.parquet": "a" for i in range(4)})
    run(tmp_path, {f"part.{i}.parquet": "b" for i in range(2)})
    assert visible(tmp_path) == {"data.csv": "keep", "part.0.parquet": "b", "part.1.parquet": "b"}


def test_files_emkit_never_wrote_are_kept_whatever_their_names(tmp_path):
    # a folder of the user's that no emkit run has written (no manifest): its report.html
    # is theirs
    (tmp_path / "data.csv").write_text("keep")
    (tmp_path / "report.html").write_text("mine")
    (tmp_path / "assignments").mkdir()
    run(tmp_path, {"model.json": "m"})
    assert visible(tmp_path) == {
        "data.csv": "keep",
        "report.html": "mine",
        "assignments": "<folder>",
        "model.json": "m",
    }
    # a manifest naming a path or a dot file is not followed out of the folder
    (tmp_path / MANIFEST).write_text(json.dumps(["../x", ".y", "/z", "model.json"]))
    (tmp_path.parent / "x").mkdir(exist_ok=True)
    run(tmp_path, {"assignments.csv": "a"})
    assert (tmp_path.parent / "x").is_dir()
    assert visible(tmp_path) == {
        "data.csv": "keep",
        "report.html": "mine",
        "assignments": "<folder>",
        "assignments.csv": "a",
    }


def test_an_earlier_output_replaced_by_a_link_loses_the_link_not_its_target(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    run(tmp_path, {"model.json": "m", "report.html": "r"})
    elsewhere = tmp_path / "keep"
    elsewhere.mkdir()
    (elsewhere / "r.html").write_text("theirs")
    os.unlink(tmp_path / "report.html")
    (tmp_path / "report.html").symlink_to(elsewhere)
    run(tmp_path, {"model.json": "m2"})
    assert not os.path.lexists(tmp_path / "report.html")
    assert (elsewhere / "r.html").read_text() == "theirs"


def test_cli_fit_into_a_folder_with_the_users_notes(tmp_path):
    data = tmp_path / "d.csv"
    pd.DataFrame(blobs(40), columns=["u", "v"]).to_csv(data, index=False)
    out = tmp_path / "o3"
    args = ["fit", data, "--covariance", "full", "--out", out, "--quiet"]
    status, _, err = run_cli([*args, "-k", "2"])
    assert status == 0, err
    assert (out / "report.html").exists()
    (out / "notes.txt").write_text("mine")
    status, _, err = run_cli([*args, "-k", "3", "--no-report"])
    assert status == 0, err
    assert sorted(visible(out)) == ["assignments.csv", "model.json", "notes.txt"]
    assert emkit.load(out / "model.json").n_components == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "o3"]


# ---- the lock ----------------------------------------------------------------------------


def test_the_lock_is_held_by_one_run_at_a_time_though_its_file_is_removed(tmp_path):
    out = tmp_path / "out"
    inside = [0]
    overlaps = [0]
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(30):
                with folder_lock(out):
                    inside[0] += 1
                    if inside[0] > 1:
                        overlaps[0] += 1
                    time.sleep(0.0005)
                    inside[0] -= 1
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and not any(t.is_alive() for t in threads)
    assert overlaps[0] == 0
    assert list(tmp_path.iterdir()) == []  # the last holder removed the lock file
