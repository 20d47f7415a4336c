"""The ``emkit`` command line: one module per subcommand, each with ``register(subparsers)``.

The subcommand modules import only argparse at load time; NumPy, pandas, SciPy and the
estimators are imported when a command runs, so ``emkit --help`` answers at once.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import NoReturn

from emkit.exceptions import DataError


def build_parser() -> argparse.ArgumentParser:
    from emkit import __version__
    from emkit.cli import demo, fit, mle, predict

    parser = argparse.ArgumentParser(
        prog="emkit", description="Fit statistical models by MLE, MAP and EM."
    )
    parser.add_argument("--version", action="version", version=f"emkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (fit, predict, demo, mle):
        module.register(sub)
    return parser


class WarningLines:
    """Show each distinct warning once, as one ``emkit: warning: ...`` line on stderr, and at
    most :attr:`most` warnings that differ only in their numbers (one per EM iteration, say),
    then one line saying that more were left out.

    Replaces :func:`warnings.showwarning` while a command runs, so that no library warning
    reaches the user as a raw Python warning (file, line number and source line).
    """

    most = 3
    NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.shapes: dict[tuple[type, str], int] = {}

    def __call__(self, message, category, filename, lineno, file=None, line=None) -> None:
        text = " ".join(str(message).split())
        if text in self.seen:
            return
        self.seen.add(text)
        shape = (category, self.NUMBER.sub("#", text))
        count = self.shapes[shape] = self.shapes.get(shape, 0) + 1
        if count > self.most:
            if count == self.most + 1:
                print(
                    f"emkit: warning: more warnings like the {self.most} above are not shown",
                    file=sys.stderr,
                )
            return
        kind = category.__name__
        where = "" if category.__module__.startswith("emkit") else f" ({kind})"
        print(f"emkit: warning: {text}{where}", file=sys.stderr)


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C while the block runs and raise it as KeyboardInterrupt when it ends.

    For the loading of the scientific stack: the module initialisation of a C extension
    (NumPy's, pandas') can clear or convert an exception raised inside it, so that a
    KeyboardInterrupt landing there was lost and the command ran on to its end. Held, the
    signal is only noted, and raised once the modules are in. (Signal handlers can be set only
    in the main thread; elsewhere the block runs as it is, as it does where SIGINT is ignored:
    a process started so keeps ignoring it.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        # started with Ctrl-C ignored (``trap '' INT``, a background job of a shell without
        # job control, nohup-like launchers): it stays ignored, as Unix tools leave it
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if caught:
        raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        with interrupts_held():
            for name in getattr(args, "modules", ()):  # what the subcommand will use
                importlib.import_module(name)
    except KeyboardInterrupt:  # Ctrl-C while the subcommands' modules load
        print("emkit: interrupted", file=sys.stderr)
        return 130
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # each distinct warning once (WarningLines dedupes)
        # Python hides ResourceWarning by default: it is a developer's diagnostic (e.g. a module
        # file left open when Ctrl-C lands inside an import), not news for the user
        warnings.simplefilter("ignore", ResourceWarning)
        # Likewise DeprecationWarning, which one library gives another's developers (e.g.
        # pandas to dask, inside dask's Parquet reader): the user can do nothing about it.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.showwarning = WarningLines()
        output = StandardOutput()
        _run.output = output  # what this thread's command prints goes through it (out())
        try:
            status = int(args.func(args) or 0)
            output.flush()  # here, where a reader gone is caught, not at the exit
            if output.failed:  # noted where the command went on (its files written)
                raise StandardOutputError(output.failed)
            return status
        except DataError as exc:
            print(f"emkit: error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            # Ctrl-C: one line, the shell's status for SIGINT; nothing half-written stays
            # behind (outputs are written to temporary names and renamed, see emkit.atomic).
            print("emkit: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            # The reader (e.g. `| head`) went away: stop quietly, as Unix tools do.
            reader_gone()
            return 0
        finally:
            _run.output = None


class StandardOutputError(DataError):
    """Standard output cannot be written (a full disk, a file size limit): not the output
    folder's fault, nor a reader gone (``| head``, a BrokenPipeError, ends quietly)."""

    def __init__(self, why: str) -> None:
        super().__init__(f"cannot write to standard output: {why}")


class StandardOutput:
    """One command's standard output: what the command prints goes through :func:`out`, whose
    write or flush failing other than on a reader gone (a BrokenPipeError, left to the
    caller) raises :class:`StandardOutputError` (an OSError would be blamed on the output
    folder being written, or end as a traceback), after sending what is still printed to the
    null device (:func:`reader_gone`), which Python's last flush at the exit then writes
    without failing. Standard output closed (``>&-``: ``sys.stdout`` is None) cannot be
    written either. ``failed`` keeps why, for a command that goes on (``emkit fit`` writes
    its files) to end with it; the rest it is given is dropped.

    ``sys.stdout`` itself is left as it is, read at each write (a test's redirection is
    followed), so that commands run at once in threads of one process do not see each
    other's failures."""

    def __init__(self) -> None:
        self.failed = ""

    def write(self, text: str) -> None:
        if not self.failed:
            self._guard("write", text)

    def flush(self) -> None:
        if not self.failed:
            self._guard("flush")

    def _guard(self, method: str, *args: str) -> None:
        stream = sys.stdout
        if stream is None:
            self._fail("it is closed")
        try:
            getattr(stream, method)(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            self._fail(exc.strerror or str(exc))

    def _fail(self, why: str) -> NoReturn:
        self.failed = why
        reader_gone()
        raise StandardOutputError(why)


_run = threading.local()  # .output: the StandardOutput of the command this thread runs


def out(text: str = "", *, end: str = "\n", flush: bool = False) -> None:
    """Print ``text`` and ``end`` on standard output for the command running in this thread (see
    :class:`StandardOutput`); outside :func:`main`, with a guard of its own."""
    output = getattr(_run, "output", None) or StandardOutput()
    output.write(text + end)
    if flush:
        output.flush()


def reader_gone() -> None:
    """Send what is still printed on standard output to the null device, its reader (e.g.
    ``| head``) having gone: no further print fails, nor Python's last flush at the exit.
    Nothing to do where standard output is not a file (a test's StringIO), nor outside the
    main thread: there the command is not the process (one of several run at once), whose
    standard output is left to it."""
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
