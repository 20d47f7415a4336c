"""Independent tasks on worker processes: the work that the passes' threads cannot spread.

The passes' kernel threads share one interpreter, and each of the ~30 NumPy calls on a block
of rows takes the GIL back: two threads gained 1.1-1.4x on L2-sized blocks where two
processes gain 2x (a model-selection grid on 3 columns of 3.6 M rows). Fits that need
nothing from one another (a grid's) run instead as tasks on worker processes (loky's, as
joblib runs them: no re-run of the caller's ``__main__``), each on its share of the cores.
The rows are written once to a ``.npy`` file, in shared memory where the system has it, that
every worker maps read-only (:class:`SharedRows`): no copy per task or per worker. What a task
reports on the way (an estimator's per-step ``callback``) is relayed through a queue to a
callable here, called from the thread that waits on the tasks.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Any

import numpy as np

from emkit.backend.sources import ArrayChunks
from emkit.backend.threads import num_threads

# Seconds at most between looks at the tasks while reports are relayed (a worker whose task
# ended waits that long at most for its next).
RELAY_INTERVAL = 0.02
# Where the rows file goes: shared memory (Linux's tmpfs) where it exists, so that the
# workers' maps read RAM, not a disk.
SHARED_MEMORY = Path("/dev/shm")


class NoWorkers(RuntimeError):
    """The worker processes could not be given the rows or started (no room for the rows'
    file, no semaphores, a sandbox): no task ran."""


@dataclass(frozen=True)
class SharedRows:
    """An :class:`~emkit.backend.sources.ArrayChunks` whose rows lie in a ``.npy`` file, for
    a task in another process: :meth:`chunks` maps the file read-only (no copy) and gives the
    same blocks, in the same dtype, as the source it was written from."""

    path: Path
    chunk_rows: int
    dtype: Any

    def chunks(self) -> ArrayChunks:
        # a plain array over the map: ArrayChunks drops a np.memmap's pages after each
        # block, and every pass of every fit would then fault the whole file back in
        x = np.load(self.path, mmap_mode="r", allow_pickle=False).view(np.ndarray)
        return ArrayChunks(x, chunk_rows=self.chunk_rows, dtype=self.dtype)


@contextmanager
def shared_rows(data: ArrayChunks) -> Iterator[SharedRows]:
    """``data``'s rows written to a temporary ``.npy`` file for the length of the context (in
    shared memory where the system has it), as a :class:`SharedRows` for tasks to map; raises
    :class:`NoWorkers` where the file cannot be written."""
    if data.sample_weight is not None or data.labels is not None:
        raise ValueError("shared_rows carries rows only, not sample weights or labels")
    with written_arrays({"rows": data.x}) as paths:
        yield SharedRows(paths["rows"], data.chunk_rows, data.dtype)


@contextmanager
def written_arrays(arrays: dict[str, np.ndarray]) -> Iterator[dict[str, Path]]:
    """``arrays`` written to temporary ``.npy`` files (``name.npy`` for each name) for the
    length of the context, in shared memory where the system has room for them, for worker
    processes to map; their paths by name. Raises :class:`NoWorkers` where they cannot be
    written."""
    from joblib.externals.loky.backend import resource_tracker

    nbytes = sum(array.nbytes for array in arrays.values())
    try:
        folder = Path(tempfile.mkdtemp(prefix="emkit-rows-", dir=_rows_folder(nbytes)))
    except OSError as error:
        raise NoWorkers(f"the rows could not be written for the workers: {error}") from error
    # loky's tracker removes the folder should this process die before the context ends
    resource_tracker.register(str(folder), "folder")
    owner = os.getpid()  # a child forked inside the context leaves the folder to its parent
    try:
        paths = {name: folder / f"{name}.npy" for name in arrays}
        for name, array in arrays.items():
            try:
                np.save(paths[name], array, allow_pickle=False)
            except OSError as error:  # no room: the disk or the shared memory is full
                raise NoWorkers(
                    f"the rows could not be written for the workers: {error}"
                ) from error
        yield paths
    finally:
        if os.getpid() == owner:
            shutil.rmtree(folder, ignore_errors=True)
            resource_tracker.unregister(str(folder), "folder")


def _rows_folder(nbytes: int) -> Path | None:
    """:data:`SHARED_MEMORY` where it is writable with room for twice ``nbytes`` (a
    container's is often 64 MB), else None: the system's temporary folder."""
    try:
        if os.access(SHARED_MEMORY, os.W_OK) and shutil.disk_usage(SHARED_MEMORY).free > 2 * nbytes:
            return SHARED_MEMORY
    except OSError:
        pass
    return None


def worker_count() -> int:
    """Worker processes emkit may start: ``EMKIT_NUM_THREADS`` where set, else one per core
    this process may use (loky's count, which reads a container's CPU quota too); 1 (none:
    tasks run here) in a process that ``multiprocessing`` or a pool started (a joblib,
    ``ProcessPoolExecutor`` or Dask worker), whose siblings already hold the cores, unless
    ``EMKIT_NUM_THREADS`` says otherwise."""
    if os.environ.get("EMKIT_NUM_THREADS"):
        return num_threads()
    if in_worker_process():
        return 1
    from joblib.externals.loky import cpu_count

    return max(1, min(num_threads(), cpu_count()))


def in_worker_process() -> bool:
    """Whether ``multiprocessing`` or a pool started this process (a joblib, loky,
    ``ProcessPoolExecutor`` or Dask worker, or emkit's own)."""
    return multiprocessing.parent_process() is not None or multiprocessing.current_process().daemon


def run_apart(
    task: Callable[..., Any],
    arguments: Sequence[tuple],
    on_result: Callable[[int, Any], Any],
    *,
    workers: int,
    relayed: Callable[[Any], Any] | None = None,
) -> None:
    """``task(*arguments[i], report)`` for every i on ``workers`` loky worker processes,
    ``on_result(i, result)`` called here as each returns (in the order they end).

    ``report`` is a callable the task may call with anything picklable: each value reaches
    ``relayed`` here, in the order it was sent, before the result of the task that sent it;
    None where ``relayed`` is None. A task that raises (or a ``KeyboardInterrupt`` here)
    stops the run: the workers are stopped and the exception is raised here. Raises
    :class:`NoWorkers` where the processes cannot be started, before any task runs.
    """
    from joblib.externals.loky import get_reusable_executor
    from joblib.externals.loky.backend import get_context

    try:
        with _started_ignoring_interrupts():
            manager = get_context("loky").Manager() if relayed is not None else None
    except Exception as error:  # noqa: BLE001 - whatever stops a process starting
        raise NoWorkers(f"{type(error).__name__}: {error}") from error
    try:
        reports = manager.Queue() if manager is not None else None
        report = reports.put if reports is not None else None
        try:
            with _started_ignoring_interrupts():
                executor = get_reusable_executor(max_workers=workers, initializer=_leave_interrupts)
        except Exception as error:  # noqa: BLE001
            raise NoWorkers(f"{type(error).__name__}: {error}") from error
        # One task a worker at a time, the next handed out as one ends: none waits in loky's
        # queues, so that stopping the run kills running tasks only (loky's manager thread
        # can fail on a queued task that a shutdown removes, and then leaves the workers).
        waiting = iter(enumerate(arguments))
        pending: dict[Future, int] = {}

        def hand_out() -> None:
            for i, args in waiting:
                pending[executor.submit(task, *args, report)] = i
                if len(pending) >= workers:
                    return

        with _started_ignoring_interrupts():  # loky starts the workers on the first tasks
            hand_out()
        try:
            while pending:
                if reports is None:
                    finished = wait(pending, return_when=FIRST_COMPLETED).done
                else:  # a report as it comes (one call to the queue), else a look at the tasks
                    try:
                        relayed(reports.get(timeout=RELAY_INTERVAL))  # type: ignore[misc]
                    except Empty:
                        pass
                    finished = {future for future in pending if future.done()}
                    if finished:  # their reports are all queued: each was sent before it ended
                        _drain(reports, relayed)
                results = [(pending.pop(future), future.result()) for future in finished]
                hand_out()
                for i, result in results:
                    on_result(i, result)
        finally:
            if pending:  # stopped on the way: no task of this run left holding a worker
                executor.shutdown(wait=False, kill_workers=True)
    finally:
        if manager is not None:
            manager.shutdown()


@contextmanager
def _started_ignoring_interrupts() -> Iterator[None]:
    """Processes started within the block ignore SIGINT from their start (it stays ignored
    through ``exec``, and Python keeps an ignored SIGINT ignored), so that a Ctrl-C while a
    worker still imports its modules prints no traceback of its own; this process ignores it
    meanwhile (from the main thread only, where signal handlers are set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:  # None: a handler set outside Python, which cannot be put back: the default
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def _leave_interrupts() -> None:
    """In a worker: ignore SIGINT. A terminal's Ctrl-C reaches every process of its group;
    the caller's process alone stops the run (:func:`run_apart` stops the workers), rather
    than each worker breaking off its task while loky's threads are handing tasks out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _drain(reports: Any, relayed: Callable[[Any], Any] | None) -> None:
    """Hand every report queued so far to ``relayed``."""
    if reports is None or relayed is None:
        return
    while True:
        try:
            value = reports.get_nowait()
        except Empty:
            return
        relayed(value)
