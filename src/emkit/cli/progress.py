"""A one-line progress bar on stderr for model-selection runs, with no dependency."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from emkit.em import EMProgress


class ProgressBar:
    """Draw ``fitting 17/36 models [#####-----] 0:45 elapsed, about 1:10 left`` on one
    terminal line, redrawn with ``\\r``.

    Nothing is drawn until ``delay`` seconds have passed, so quick fits stay silent, and
    nothing at all when ``stream`` is not a terminal (logs and pipes get no ``\\r`` noise)
    unless ``force`` is set; ``lines`` writes one line per finished fit instead (``emkit fit
    --progress`` into a log).

    The time left is the time so far scaled by the work left over the work done, each fit's
    work taken as ``costs[i]`` (its number of components: an E-step's work grows with it), or
    the same for every fit.

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
    costs : relative work of each fit, in the grid's order, or None (all alike): each
        fit's number of components for ``emkit fit``'s grid, so that a fit reported with its
        model (``models(done, total, fitted)``) counts for its own K, in whatever order the
        fits end (from worker processes, larger K first).
    lines : write one line per finished fit (no ``\\r``), from the first one.
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
        costs: list[float] | None = None,
        lines: bool = False,
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
        self.enabled = enabled and (force or is_tty or lines)
        self._last_length = 0
        self.costs = None if costs is None else [float(c) for c in costs]
        self._work_done = 0.0
        self.lines = lines

    @property
    def draws_iterations(self) -> bool:
        """Whether :meth:`em_iteration` draws anything (a bar on a terminal, not lines)."""
        return self.enabled and not self.lines

    @classmethod
    def for_grid(
        cls, ks: list[int], types: list[str], quiet: bool = False, progress: bool = False
    ) -> ProgressBar:
        """The bar of ``emkit fit``'s grid of ``ks`` by ``types``: none with ``quiet``; one
        line per fit with ``progress`` where stderr is not a terminal."""
        on_terminal = getattr(sys.stderr, "isatty", lambda: False)()
        return cls(
            total=len(ks) * len(types),
            enabled=not quiet,
            costs=[k for _ in types for k in ks],  # select_mixture's order: by type, then K
            lines=progress and not on_terminal,
            delay=0.0 if progress else 1.0,
        )

    def models(self, done: int, total: int, fitted=None) -> None:
        """Callback for :func:`emkit.select_mixture`: ``done`` of ``total`` fits finished."""
        self.done, self.total, self.iteration = done, total, 0
        if fitted is not None and hasattr(fitted, "n_components"):
            self._work_done += float(fitted.n_components)  # fits end in any order (apart)
        if self.lines:
            if self.enabled:
                self.stream.write(f"emkit: {self.text()}\n")
                self.stream.flush()
            return
        self._draw(always=True)

    def em_iteration(self, progress: EMProgress) -> None:
        """Callback for an estimator's EM loop: redraws the iteration of the current fit."""
        self.iteration = progress.iteration
        if not self.lines:
            self._draw()

    def time_left(self) -> float | None:
        """Seconds left by the work done so far, or None before the first fit ends."""
        if self.done < 1 or self.done >= self.total:
            return None
        costs = self.costs if self.costs is not None and len(self.costs) == self.total else None
        if costs and self._work_done:  # the fits reported with their models: their own K
            done, left = self._work_done, sum(costs) - self._work_done
        else:
            done = sum(costs[: self.done]) if costs else float(self.done)
            left = sum(costs[self.done :]) if costs else float(self.total - self.done)
        return (self.clock() - self.start) * left / max(done, 1e-12)

    def text(self) -> str:
        """The line as it would be drawn now."""
        total = max(self.total, 1)
        filled = int(round(self.width * min(self.done, total) / total))
        verb = "fitted" if self.lines else "fitting"
        bar = f"[{'#' * filled}{'-' * (self.width - filled)}]"
        line = f"{verb} {self.done}/{self.total} models {bar}"
        if self.iteration:
            line += f" EM iteration {self.iteration}"
        if self.done:
            line += f", {_clock(self.clock() - self.start)} elapsed"
            left = self.time_left()
            if left is not None:
                line += f", about {_clock(left)} left"
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


def _clock(seconds: float) -> str:
    """``1:05`` for 65 seconds, ``1:02:03`` beyond an hour."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
