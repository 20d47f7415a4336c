"""Running the command line in the tests' process, its output captured."""

from __future__ import annotations

import contextlib
import io

from emkit.cli import main


def run_main(argv) -> tuple[int, str, str]:
    """``emkit ARGV...`` in this process: its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()
