"""scikit-learn's ``verbose`` printout of EM, for starts that run together (``n_init``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from emkit.em import EMProgress, FitResult
from emkit.init import CentreShift


class VerbosePrinter:
    """Prints, as scikit-learn's mixtures do, each start's beginning and every
    ``interval``-th iteration (``level`` 2: with the time since its last line and the change
    of the log-likelihood per unit of weight); :func:`print_ends` then says how each start
    ended. With several starts, which run in lockstep, each line names its start. ``then``
    is the user's own callback, called after the printout."""

    def __init__(
        self,
        level: int,
        interval: int,
        total_weight: float,
        n_starts: int,
        then: Callable[[EMProgress], Any] | None = None,
    ):
        self.level, self.interval, self.then = level, interval, then
        self.weight = total_weight if total_weight > 0 else 1.0
        self.named = n_starts > 1
        self.began = time.perf_counter()  # the starts run together: one beginning
        self.tic = [self.began] * n_starts
        for start in range(n_starts):
            print(f"Initialization {start}")

    def __call__(self, progress: EMProgress) -> None:
        if progress.iteration % self.interval == 0:
            head = f"  Initialization {progress.start}," if self.named else " "
            line = f"{head} Iteration {progress.iteration}"
            if self.level >= 2:
                now = time.perf_counter()
                lapse, self.tic[progress.start] = now - self.tic[progress.start], now
                line += (
                    f"\t time lapse {lapse:.5f}s\t ll change {progress.change / self.weight:.5f}"
                )
            print(line)
        if self.then is not None:
            self.then(progress)


def print_ends(fit: FitResult, level: int, began: float | None = None) -> None:
    """Whether each start of ``fit`` converged (``level`` 2: with the time since ``began``,
    the :class:`VerbosePrinter`'s ``began``, where given, and its lower bound, the
    log-likelihood per unit of weight), after the iterations the printer printed."""
    for start, run in enumerate(fit.runs):
        name = f"Initialization {start}" if len(fit.runs) > 1 else "Initialization"
        line = f"{name} {'converged' if run.converged else 'did not converge'}."
        if level >= 2:
            weight = float(np.sum(run.stats.resp_sum))
            bound = run.log_likelihood / weight if weight > 0 else float("nan")
            if began is not None:
                line += f" time lapse {time.perf_counter() - began:.5f}s"
            line += f"\t lower bound {bound:.5f}."
        print(line)


class InertiaPrinter:
    """scikit-learn's ``KMeans(verbose=...)`` printout: each start's initialisation, then
    every iteration's inertia, -2 (objective - ``const``) times ``scale`` (the fit's objective
    is const - inertia / 2 on rows divided by the square root of ``scale``); with several
    starts each line names its start. As scikit-learn's, iteration i is the inertia of the
    centres after i M-steps, printed as the next M-step is taken: from 0 (the start) to
    ``n_iter_`` - 1."""

    def __init__(self, const: float, scale: float, n_starts: int):
        self.const, self.scale, self.named = const, scale, n_starts > 1
        for start in range(n_starts):
            print(f"Initialization {start} complete" if self.named else "Initialization complete")

    def __call__(self, progress: EMProgress) -> None:
        before = progress.objective - progress.change  # the centres the step moved from
        inertia = -2.0 * (before - self.const) * self.scale
        head = f"Initialization {progress.start}, iteration" if self.named else "Iteration"
        print(f"{head} {progress.iteration - 1}, inertia {inertia}.")


def print_kmeans_ends(fit: FitResult, rule: CentreShift, scale: float = 1.0) -> None:
    """How each start of a k-means fit ended, as scikit-learn words it: its iteration index
    (0-based, the M-steps less one) and, where the centres still moved, their squared shift
    against the tolerance (``rule``'s, in the data's units: times ``scale``)."""
    for start, run in enumerate(fit.runs):
        head = f"Initialization {start}: " if len(fit.runs) > 1 else ""
        shift = rule.shifts.get(id(run.model))
        if not run.converged or shift is None:
            print(f"{head}Did not converge in {run.n_iter} iterations.")
        elif shift == 0.0:
            print(f"{head}Converged at iteration {run.n_iter - 1}: strict convergence.")
        else:
            print(
                f"{head}Converged at iteration {run.n_iter - 1}: center shift "
                f"{shift * scale} within tolerance {rule.tol * scale}."
            )
