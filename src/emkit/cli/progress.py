"""A one-line progress bar on stderr for model-selection runs, with no dependency."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from emkit.em import EMProgress


class ProgressBar:
    """Draw ``fitting 17/36 models [#####-----]`` on one terminal line, redrawn with ``\\r``.

    Nothing is drawn until ``delay`` seconds have passed, so quick fits stay silent, and
    nothing at all when ``stream`` is not a terminal (logs and pipes get no ``\\r`` noise)
    unless ``force`` is set.

    Parameters
    ----------
    total : number of fits expected (corrected by the first ``models`` call).
    stream : where to draw; ``sys.stderr`` when None.
    delay : seconds to wait before the first drawing.
    interval : least seconds between two redraws for EM iterations.
    width : characters in the bar itself.
    enabled : False draws nothing (``--quiet``).
    force : draw even when ``stream`` is not a terminal.
    clock : the time source, ``time.monotonic`` by default (tests pass their own).
    """

    def __init__(
        self,
        total: int = 0,
        stream: TextIO | None = None,
        *,
        delay: float = 1.0,
        interval: float = 0.1,
        width: int = 24,
        enabled: bool = True,
        force: bool = False,
        clock=time.monotonic,
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.delay = delay
        self.interval = interval
        self._drawn_at = -float("inf")
        self.width = width
        self.clock = clock
        self.start = clock()
        self.done = 0
        self.total = total
        self.iteration = 0
        self.shown = False
        is_tty = getattr(self.stream, "isatty", lambda: False)()
        self.enabled = enabled and (force or is_tty)
        self._last_length = 0

    def models(self, done: int, total: int, fitted=None) -> None:
        """Callback for :func:`emkit.select_mixture`: ``done`` of ``total`` fits finished."""
        self.done, self.total, self.iteration = done, total, 0
        self._draw(always=True)

    def em_iteration(self, progress: EMProgress) -> None:
        """Callback for an estimator's EM loop: redraws the iteration of the current fit."""
        self.iteration = progress.iteration
        self._draw()

    def text(self) -> str:
        """The line as it would be drawn now."""
        total = max(self.total, 1)
        filled = int(round(self.width * min(self.done, total) / total))
        line = (
            f"fitting {self.done}/{self.total} models [{'#' * filled}{'-' * (self.width - filled)}]"
        )
        if self.iteration:
            line += f" EM iteration {self.iteration}"
        return line

    def _draw(self, always: bool = False) -> None:
        now = self.clock()
        if not self.enabled or now - self.start < self.delay:
            return
        if not always and now - self._drawn_at < self.interval:
            return
        self._drawn_at = now
        line = self.text()
        # pad with spaces so a shorter line fully covers the previous one
        self.stream.write("\r" + line.ljust(self._last_length))
        self.stream.flush()
        self._last_length = len(line)
        self.shown = True

    def close(self) -> None:
        """Erase the bar, leaving the cursor at the start of a clean line."""
        if self.shown:
            self.stream.write("\r" + " " * self._last_length + "\r")
            self.stream.flush()
            self.shown = False

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
