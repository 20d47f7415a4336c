"""Files written whole or not at all, and a folder of outputs replaced as one set.

Every file emkit writes goes through :func:`atomic_write`: the bytes go to a temporary file in
the destination's folder, are flushed to disk (``fsync``), and the temporary file is renamed onto
the destination, so a reader (or a crash, a full disk, ``kill -9``) sees either the old file or
the new one, never a part (a named pipe or a character device, which cannot be replaced, is
written through; a symbolic link keeps pointing at its file, which is replaced).
:func:`output_folder` does the same for a set of files: they are written into a private folder
beside the destination, which is then swapped in, while a lock file serialises the runs that
write into one destination; a manifest in the folder names the run's outputs, so that a folder
shared with the user's own files loses the earlier run's outputs and keeps the user's.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import IO, Any

# The files of a run's output folder (assignments: the Parquet folder of a run on a Dask
# cluster): a folder holding only these may be replaced whole.
OUTPUT_NAMES = frozenset({"model.json", "assignments.csv", "assignments", "report.html"})
# A partition's file as Dask's to_parquet names it (emkit predict --out on a cluster).
_PARTITION_FILE = re.compile(r"part\.[0-9]+\.parquet")
MANIFEST = ".emkit-outputs.json"  # in an output folder: the names of the run's outputs
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


def _kind(mode: int) -> str:
    """A file type in words, for a message."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def _target(path: Path) -> tuple[Path, bool]:
    """Where the bytes for ``path`` go, and whether they are written through (not replaced).

    A symbolic link stands for its target, which is replaced (the link stays a link); a pipe
    or a character device (``/dev/stdout``, ``>(cmd)``) is written through; anything else
    that is not a regular file is refused with an :class:`OSError` naming ``path``.
    """
    try:
        st = os.stat(path)  # follows links: the type of what a write would reach
    except FileNotFoundError:
        st = None
    except OSError as exc:  # a loop of links, a file used as a folder
        raise type(exc)(exc.errno, f"cannot write there ({exc.strerror})", str(path)) from None
    if st is not None and (stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode)):
        return path, True
    if st is not None and not stat.S_ISREG(st.st_mode):
        error = IsADirectoryError if stat.S_ISDIR(st.st_mode) else OSError
        code = errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EINVAL
        raise error(code, f"{_kind(st.st_mode)}, not a file; name a file to write", str(path))
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    if not target.parent.is_dir():
        raise FileNotFoundError(
            errno.ENOENT, f"the folder {target.parent} does not exist (create it first)", str(path)
        )
    return target, False


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path`` whole.

    Parameters
    ----------
    path : the file to write. A symbolic link stays a link: the file it points to is
        replaced whole (the temporary file is made beside that file). A named pipe or a
        character device (``/dev/stdout``, a shell's ``>(command)``) cannot be replaced and
        is written through instead, as ``open`` would: a reader there may see part of the
        bytes where the block raises. A folder, a socket or a block device is refused.
    mode : ``"w"`` (text) or ``"wb"`` (bytes).
    **open_kwargs : passed to :func:`open` (``encoding``, ``newline``).

    Yields
    ------
    The open temporary file. Where the block raises (a full disk, an error), the temporary
    file is removed and ``path`` keeps its old content.

    Raises
    ------
    ValueError
        ``path`` is empty.
    OSError
        naming ``path`` (never the temporary file): ``FileNotFoundError`` where its folder does
        not exist, ``IsADirectoryError`` where it is a folder.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes with mode 'w' or 'wb'; got {mode!r}")
    if not os.fspath(path):
        raise ValueError("no file to write: the path is empty")
    path = Path(path)
    target, through = _target(path)
    if through:
        with open(path, mode, **open_kwargs) as f:
            yield f
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with open(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode(target))  # mkstemp's 0600 would hide the file from others
        try:
            os.replace(tmp, target)
        except OSError as exc:  # e.g. made a folder while we wrote: name the destination
            raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(target.parent)


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


def _open_lock(out: Path) -> tuple[Path, int]:
    lock = out.parent / f".{out.name}.lock"
    try:
        return lock, os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except PermissionError:  # e.g. --out . in a folder whose parent is not ours
        lock = out / ".emkit.lock"
        return lock, os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)


@contextlib.contextmanager
def folder_lock(out: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the lock of output folder ``out``: an exclusive ``flock`` on ``.<name>.lock`` beside it
    (inside it, ``.emkit.lock``, where its parent cannot be written).

    The operating system releases the lock when its holder exits, even by ``kill -9``.
    ``timeout`` None waits as long as it takes; a number of seconds raises
    :class:`FolderBusy` after that long. The holder removes the lock file before letting go
    (so none is left beside the folder); a run that was waiting on the removed file then
    finds its lock is on a file no longer there and takes the lock on a new one.
    """
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        lock, fd = _open_lock(out)
        try:
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
            try:  # the file this lock is on is still the one at the lock's path
                held = os.path.samestat(os.fstat(fd), os.stat(lock))
            except FileNotFoundError:
                held = False
        except BaseException:
            os.close(fd)
            raise
        if held:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # removed while held: no run can be on it
            os.unlink(lock)
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


def _remove_stale(out: Path, home: Path, names: Collection[str] = ()) -> None:
    """Remove staging and retired folders of ``out`` (in ``home``), and retired folders of
    the outputs ``names`` (in a shared ``out``), left by runs that died."""
    patterns = [f".{out.name}.new-*", f".{out.name}.old-*", *(f".{n}.old-*" for n in names)]
    for pattern in patterns:
        for path in home.glob(pattern):
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


def _listed(out: Path) -> set[str]:
    """The names ``out``'s manifest lists as an earlier run's outputs; none where it has no
    readable manifest (a folder never written by emkit, or by a version without manifests).
    Only plain names inside ``out`` are taken, never a path, a dot file or ``..``."""
    path = out / MANIFEST
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode) or os.lstat(path).st_size > 1 << 20:
            return set()
        names = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(names, list):
        return set()
    return {
        n
        for n in names
        if isinstance(n, str) and n and not n.startswith(".") and "/" not in n and "\0" not in n
    }


def _write_manifest(folder: Path, names: set[str]) -> None:
    write_text(folder / MANIFEST, json.dumps(sorted(names)) + "\n")


def _remove(path: Path) -> None:
    """Remove an earlier run's output ``path`` (a file, or a folder of outputs, made to
    disappear in one rename before its files are removed); a link itself, never its target."""
    if path.is_dir() and not path.is_symlink():
        retired = path.parent / f".{path.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
        os.rename(path, retired)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


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
    never a mix and never a part. A manifest (``.emkit-outputs.json``) lists the outputs.
    Where ``out`` holds files of its own (anything but an earlier run's outputs, e.g. ``--out
    .``), the folder cannot be swapped without taking the user's files along; the earlier run's
    outputs (those its manifest lists) that this run does not write are removed, then the new
    files are renamed into it one by one, each whole: a reader during those few renames may
    see some of the new files beside some of the old, or an output missing, but never a
    part of a file and never the old set's files once the call returns; the user's files are
    never touched. Where the block raises, the staging folder is removed and ``out`` is
    untouched.
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
        written = {p.name for p in staging.iterdir() if not p.name.startswith(".")}
        if not shared:
            _write_manifest(staging, written)
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
                earlier = _listed(out)
                _remove_stale(out, out, earlier | written)
                # first every output of either run, so that a run killed part-way leaves
                # a manifest naming whatever of emkit's is in the folder
                _write_manifest(out, earlier | written)
                for name in sorted(earlier - written):
                    _remove(out / name)
                for name in sorted(written):
                    path = staging / name
                    if path.is_dir():  # a folder of outputs (assignments/), whole
                        _swap_in(path, out / name)
                    else:
                        os.replace(path, out / name)
                _write_manifest(out, written)
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
