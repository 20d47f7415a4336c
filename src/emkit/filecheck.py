"""Input files are read only when they are regular files: a pipe, a device or a folder named as
data would block forever or never end (``mkfifo f.csv``, ``/dev/zero``)."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def check_regular_file(path: str | Path, what: str = "file") -> Path:
    """``path`` as a Path where it names an existing regular file; ``OSError`` otherwise.

    Symbolic links are followed. ``stat`` never blocks, even on a FIFO.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such {what}") from None
    if not stat.S_ISREG(mode):
        kind = (
            "a folder"
            if stat.S_ISDIR(mode)
            else "a pipe (FIFO)"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "not a regular file"
        )
        raise OSError(f"{path}: is {kind}, not a regular {what}; emkit reads only regular files")
    return path


def read_regular_bytes(path: str | Path, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``, refused (``OSError``) beyond ``max_bytes``.

    The file is opened without blocking and checked on the open descriptor, so a FIFO
    swapped in after a check is refused too.
    """
    path = Path(path)
    check_regular_file(path, what)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path}: is not a regular {what}; emkit reads only regular files")
        if info.st_size > max_bytes:
            raise OSError(
                f"{path}: {info.st_size} bytes, more than the {max_bytes} a {what} may have"
            )
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:  # the file grew while being read
                raise OSError(f"{path}: more than the {max_bytes} bytes a {what} may have")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
