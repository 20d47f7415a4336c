"""Files written whole or not at all, and a folder of outputs replaced as one set.

Every file emkit writes goes through :func:`atomic_write`: the bytes go to a temporary file in
the destination's folder, are flushed to disk (``fsync``), and the temporary file is renamed onto
the destination, so a reader (or a crash, a full disk, ``kill -9``) sees either the old file or
the new one, never a part. :func:`output_folder` does the same for a set of files: they are
written into a private folder beside the destination, which is then swapped in, while a lock
file serialises the runs that write into one destination.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

# The files of a run's output folder (assignments: the Parquet folder of a run on a Dask
# cluster): a folder holding only these may be replaced whole.
OUTPUT_NAMES = frozenset({"model.json", "assignments.csv", "assignments", "report.html"})
# A partition's file as Dask's to_parquet names it (emkit predict --out on a cluster).
_PARTITION_FILE = re.compile(r"part\.[0-9]+\.parquet")
RENAME_EXCHANGE = 2  # linux/fs.h: swap two paths in one step


def _file_mode(path: Path) -> int:
    """The permissions ``path`` keeps if it exists, else those a plain ``open`` would give."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        pass
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no other way to read it; set back at once
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform allows opening a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path`` whole.

    Parameters
    ----------
    path : the file to write.
    mode : ``"w"`` (text) or ``"wb"`` (bytes).
    **open_kwargs : passed to :func:`open` (``encoding``, ``newline``).

    Yields
    ------
    The open temporary file. Where the block raises (a full disk, an error), the temporary
    file is removed and ``path`` keeps its old content.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes with mode 'w' or 'wb'; got {mode!r}")
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with open(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode(path))  # mkstemp's 0600 would hide the file from others
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(path.parent)


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (:func:`atomic_write`)."""
    with atomic_write(path, "w", encoding=encoding) as f:
        f.write(text)


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_write`)."""
    with atomic_write(path, "wb") as f:
        f.write(data)


class FolderBusy(OSError):
    """Another run holds the lock of an output folder and did not let go in time."""


@contextlib.contextmanager
def folder_lock(out: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the lock of output folder ``out``: an exclusive ``flock`` on ``.<name>.lock`` beside it
    (inside it, ``.emkit.lock``, where its parent cannot be written).

    The operating system releases the lock when its holder exits, even by ``kill -9``.
    ``timeout`` None waits as long as it takes; a number of seconds raises
    :class:`FolderBusy` after that long.
    """
    import time

    try:
        fd = os.open(out.parent / f".{out.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except PermissionError:  # e.g. --out . in a folder whose parent is not ours
        fd = os.open(out / ".emkit.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() > deadline:
                    raise FolderBusy(
                        errno.EBUSY, f"another emkit run is writing to {out}; try again later"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _exchange(a: Path, b: Path) -> bool:
    """Swap paths ``a`` and ``b`` in one step (Linux ``renameat2``); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # the running program's C library
    except OSError:
        return False
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), RENAME_EXCHANGE)
    return result == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(out: Path, home: Path) -> None:
    """Remove staging and retired folders of ``out`` (in ``home``) left by runs that died."""
    for kind in ("new", "old"):
        for path in home.glob(f".{out.name}.{kind}-*"):
            pid = path.name.rsplit("-", 2)[-2]
            if pid.isdigit() and not _pid_alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)


def _replaceable(out: Path) -> bool:
    """True where ``out`` may be replaced whole: it holds nothing but an earlier run's outputs
    (the files emkit writes, the Parquet files of ``emkit predict`` on a cluster, figures of
    older versions, locks and temporaries of its own). A folder of predictions must be: files
    left from a run over more partitions would be read back with the new ones as one table."""
    return all(
        p.name in OUTPUT_NAMES
        or p.suffix == ".png"
        or p.name.startswith(".emkit")
        or _PARTITION_FILE.fullmatch(p.name)
        for p in out.iterdir()
    )


@contextlib.contextmanager
def output_folder(out: str | Path, lock_timeout: float | None = None) -> Iterator[Path]:
    """Write a run's outputs into a fresh private folder, then put it in place as ``out``.

    Parameters
    ----------
    out : the output folder; created if missing.
    lock_timeout : seconds to wait for another run writing to ``out``; None waits.

    Yields
    ------
    The staging folder to write every output into. On a clean exit, under ``out``'s lock
    (:func:`folder_lock`), it replaces ``out``: a reader sees the old set or the new set,
    never a mix and never a part. Where ``out`` holds files of its own (anything but an
    earlier run's outputs, e.g. ``--out .``), the staging folder is made inside it and the new
    files are renamed into it one by one instead, each whole. Where the block raises, the
    staging folder is removed and ``out`` is untouched.
    """
    out = Path(os.path.abspath(out))  # "." has no name to put a staging folder beside
    if out.is_symlink():
        out = out.resolve()
    shared = out.is_dir() and not _replaceable(out)
    home = out if shared else out.parent
    home.mkdir(parents=True, exist_ok=True)
    staging = home / f".{out.name}.new-{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        yield staging
        for path in staging.iterdir():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_folder(staging)
        with folder_lock(out, lock_timeout):
            _remove_stale(out, home)
            if shared:
                for path in staging.iterdir():
                    if path.is_dir():  # a folder of outputs (assignments/), whole
                        _swap_in(path, out / path.name)
                    else:
                        os.replace(path, out / path.name)
            else:
                _swap_in(staging, out)
            _fsync_folder(home)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _swap_in(staging: Path, out: Path) -> None:
    """Put the folder ``staging`` at ``out``, replacing an earlier set in one step."""
    if not out.exists():
        os.rename(staging, out)
    elif _exchange(staging, out):
        shutil.rmtree(staging, ignore_errors=True)  # now the old outputs
    else:
        retired = out.parent / f".{out.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
        os.rename(out, retired)
        os.rename(staging, out)
        shutil.rmtree(retired, ignore_errors=True)
