"""A pass's groups of rows on worker processes, for fits on many cores.

The kernel threads of a pass (:mod:`emkit.backend.threads`) share one interpreter, and each of
the pass's NumPy calls holds the GIL for its Python work: at (1e6, 10, 10) full a one-thread
iteration held it for 10-24% of its time (``benchmarks/threads.py --gil``), so 16 threads
could gain at most 3.5-6x however many cores they had. Worker processes have a GIL each.
Within :func:`row_processes` (a fit of rows held in memory), the rows and their weights are
written once to a file in shared memory that every worker maps read-only; each pass then
hands each worker a message naming a run of whole groups of rows and the model, and computes
the first run itself; the first chunk's pass names the runs of every chunk after it too, so
that a pass over the rows costs one round of messages, not one a chunk. The parts are the
groups the threads would compute, by the same function on one BLAS thread, so the statistics
are the same to the last bit as on threads.

The workers start with the first fit that wants them (loky's processes, which do not run the
caller's ``__main__`` again) and serve the fits after it; they leave after ``IDLE_SECONDS``
without a fit, or with this process.
"""

from __future__ import annotations

import atexit
import os
import pickle
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from emkit.backend.processes import NoWorkers, in_worker_process, worker_count, written_arrays
from emkit.backend.sources import ArrayChunks
from emkit.backend.threads import one_blas_thread

# EMKIT_PASS_PROCESSES: "auto" (the default: worker processes where a fit's passes have at
# least PROCESS_MIN_THREADS threads and its rows PROCESS_MIN_VALUES values), "1" (wherever the
# passes have two threads or more) or "0" (never).
MODE_VARIABLE = "EMKIT_PASS_PROCESSES"
MODES = ("auto", "1", "0")
# From this many threads the GIL costs a pass more than the workers' messages do: with a
# share s of 10-24% held, t threads gain at most 1 / (s + (1 - s) / t), 2.6-3.1x on 4.
PROCESS_MIN_THREADS = 4
# Rows (times columns) below which a fit keeps its threads: writing the rows costs a pass.
PROCESS_MIN_VALUES = 1 << 22
# Seconds without a fit after which the workers leave (their memory goes back to the system).
IDLE_SECONDS = 60.0
# Passes whose chunks computed ahead are kept at once, at most (RowFiles.ahead): several
# passes go through the chunks together where a round's models take the pass in groups
# (em.e_step_many: one call per group and chunk), and a pass left after its first chunk
# leaves its later ones unread; the oldest are dropped.
AHEAD_PASSES = 16  # a model-selection round's 14 covariance structures, and more


@dataclass(frozen=True)
class RowFiles:
    """The rows of the fit running in this thread (its :class:`ArrayChunks`' ``x`` and
    ``sample_weight``, read in chunks of ``chunk_rows``), as the workers map them from
    ``rows_path`` and ``weights_path``."""

    rows: np.ndarray
    weights: np.ndarray | None
    rows_path: str
    weights_path: str | None
    pool: _Pool
    chunk_rows: int = 0
    # The groups of the chunks after the first of a pass, computed in its round of messages:
    # (fn, first row, rows) -> [(args, groups)] of up to AHEAD_PASSES passes, oldest first,
    # each taken by its pass's call for that chunk.
    ahead: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def workers(self) -> int:
        return self.pool.size

    def offset(self, x: np.ndarray, weights: np.ndarray | None) -> int | None:
        """The first row of ``x`` (a pass's rows) in :attr:`rows`, and of ``weights`` in
        :attr:`weights`; None where they are not views of them (a copy, other rows)."""
        start = _row_offset(self.rows, x)
        if start is None or (weights is None) != (self.weights is None):
            return None
        if weights is not None and self.weights is not None:
            return start if _row_offset(self.weights, weights) == start else None
        return start

    def run(
        self,
        fn: Callable[..., list],
        x: np.ndarray,
        weights: np.ndarray | None,
        start: int,
        group: int,
        least: int,
        args: tuple,
    ) -> list:
        """``fn(rows, weights, *args)`` of runs of whole groups of ``group`` rows of ``x``
        (rows ``start`` on of :attr:`rows`), the first here and one on each worker, each of
        ``least`` rows at least (fewer workers then), each returning a list (one item per
        group): the lists joined in row order."""
        (out,) = self._rounds(fn, [(start, start + x.shape[0], group, ())], least, args)
        return out

    def chunk_groups(
        self,
        fn: Callable[..., list],
        x: np.ndarray,
        weights: np.ndarray | None,
        start: int,
        group_of: Callable[[int], int],
        least: int,
        args: tuple,
    ) -> list:
        """:meth:`run` of the chunk ``x`` (rows ``start`` on) with ``fn(rows, weights, *args,
        group)``, ``group = group_of(rows in the chunk)``. Where ``x`` is the first chunk of a
        pass over the rows (those from ``start`` read in chunks of :attr:`chunk_rows`), the
        chunks after it are computed in the same round of messages, one to each worker for
        the whole pass rather than one a chunk, and handed to the pass's calls for them that
        name the same ``fn`` and ``args``; those of other passes going through the chunks
        alongside (a round's groups of models) are kept for them. Each chunk's groups, and so
        its sums, are those of a round of its own: the same bits as on threads."""
        n = x.shape[0]
        kept = self.ahead.get((fn, start, n), [])
        for i, (their_args, groups) in enumerate(kept):
            if _same_args(their_args, args):
                del kept[i]
                return groups
        chunks = [(start, start + n)]
        # ahead only from the first chunk: a later one missed (its pass's kept chunks
        # dropped for newer passes') is computed alone, as each was before, never again
        # with every chunk after it (the work would grow with the square of the chunks)
        if self.chunk_rows and start == 0:
            total = self.rows.shape[0]
            if n == min(self.chunk_rows, total - start):
                chunks += [
                    (lo, min(lo + self.chunk_rows, total))
                    for lo in range(start + n, total, self.chunk_rows)
                ]
        spans = []
        for lo, hi in chunks:
            group = group_of(hi - lo)
            spans.append((lo, hi, group, (group,)))
        out = self._rounds(fn, spans, least, args)
        for (lo, hi, _, _), groups in zip(spans[1:], out[1:], strict=True):
            passes = self.ahead.setdefault((fn, lo, hi - lo), [])
            passes[:] = [kept for kept in passes if not _same_args(kept[0], args)]
            passes.append((args, groups))
            del passes[:-AHEAD_PASSES]
        return out[0]

    def _rounds(
        self,
        fn: Callable[..., list],
        spans: list[tuple[int, int, int, tuple]],
        least: int,
        args: tuple,
    ) -> list[list]:
        """Each span's groups (``fn(rows, weights, *args, *tail)``, a list) for ``spans``
        ``(first row, end, group, tail)`` of :attr:`rows`: their groups of ``group`` rows split
        in runs of whole groups, the first run here and one on each worker (``least`` rows
        each at least), in one round of messages."""
        # every span's groups, in row order: (span, first row, end)
        units = [
            (i, g, min(hi, g + group))
            for i, (lo, hi, group, _) in enumerate(spans)
            for g in range(lo, hi, group)
        ]
        rows = spans[-1][1] - spans[0][0]
        parts = max(1, min(self.workers + 1, len(units), rows // max(least, 1)))
        edges = [i * len(units) // parts for i in range(parts + 1)]
        runs = [_segments(units[a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]
        messages = []
        if len(runs) > 1:  # the pass's model pickled once, not once a worker (0.2-0.5 MB)
            task = pickle.dumps(
                (self.rows_path, self.weights_path, fn, args, np.geterr()),
                pickle.HIGHEST_PROTOCOL,
            )
            messages = [([(lo, hi, spans[i][3]) for i, lo, hi in run], task) for run in runs[1:]]

        def here(run: list[tuple[int, int, int]]) -> list[tuple[int, list]]:
            # the rows are the pass's own (its chunks are views of them)
            w = self.weights
            return [
                (i, fn(self.rows[lo:hi], None if w is None else w[lo:hi], *args, *spans[i][3]))
                for i, lo, hi in run
            ]

        try:
            sent = self.pool.send(messages)
            parts_done = [here(runs[0])]
        except BaseException:  # an answer left unread would be read by the next pass
            self.pool.close()  # the fit's other passes run here (the next fit starts workers)
            raise
        answers = self.pool.receive(sent)
        for run, answer in zip(runs[1:], answers, strict=True):
            if answer is None:  # the worker is gone: its part here
                parts_done.append(here(run))
            else:
                parts_done.append([(i, got) for (i, _, _), got in zip(run, answer, strict=True)])
        out: list[list] = [[] for _ in spans]
        for done in parts_done:
            for i, groups in done:
                out[i].extend(groups)
        return out


def _segments(units: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Consecutive groups ``(span, first row, end)`` joined span by span."""
    out: list[tuple[int, int, int]] = []
    for i, lo, hi in units:
        if out and out[-1][0] == i:
            out[-1] = (i, out[-1][1], hi)
        else:
            out.append((i, lo, hi))
    return out


def _same_args(a: tuple, b: tuple) -> bool:
    """Whether two passes' ``args`` are the same: the same objects or values of the same bits
    (:func:`_same_value`; the items of lists of them, such as a pass's forms), or equal
    numbers and flags."""
    if len(a) != len(b):
        return False
    for p, q in zip(a, b, strict=True):
        if isinstance(p, list) and isinstance(q, list):
            if len(p) != len(q) or not all(map(_same_value, p, q)):
                return False
        elif not _same_value(p, q):
            return False
    return True


def _same_value(p: Any, q: Any) -> bool:
    """Whether ``p`` and ``q`` give a pass the same results: the same object, equal numbers
    and flags, arrays of the same bits, or frozen dataclasses of one type (a pass's forms)
    whose fields are. A form made again from the same parameters is another object (its
    components keep their last form only: a group's form made between, where batched
    restarts fall back to each mixture's own pass), yet of the same bits."""
    if p is q:
        return True
    if isinstance(p, (bool, int, float)):
        return type(p) is type(q) and p == q
    if isinstance(p, np.ndarray):
        return (
            isinstance(q, np.ndarray)
            and p.dtype == q.dtype
            and p.shape == q.shape
            and p.tobytes() == q.tobytes()
        )
    params = getattr(type(p), "__dataclass_params__", None)  # a dataclass's
    if type(p) is type(q) and params is not None and params.frozen:
        return all(_same_value(getattr(p, f.name), getattr(q, f.name)) for f in fields(p))
    return False


_active: ContextVar[RowFiles | None] = ContextVar("emkit_row_files", default=None)


def current() -> RowFiles | None:
    """The rows of the fit running in this thread as the workers map them; None where its
    passes run on threads."""
    return _active.get()


@contextmanager
def row_processes(data: Any) -> Iterator[None]:
    """The passes of the fit over ``data`` (a source) in this thread on worker processes,
    where ``EMKIT_PASS_PROCESSES`` and the machine say so (:data:`MODE_VARIABLE`) and the rows
    are an array in memory; on threads otherwise, or where the workers or the file cannot be
    had. Raises ValueError for a value of ``EMKIT_PASS_PROCESSES`` other than ``auto``, ``1``
    or ``0``."""
    workers = _workers_for(data)
    if not workers or _active.get() is not None:
        yield
        return
    try:
        pool = _pool_of(workers)
    except NoWorkers:
        pool = None
    if pool is None:  # no workers, or another thread's fit has them
        yield
        return
    arrays = {"rows": data.x}
    if data.sample_weight is not None:
        arrays["weights"] = data.sample_weight
    try:
        with ExitStack() as written:
            try:
                paths = written.enter_context(written_arrays(arrays))
            except NoWorkers:  # no room for the rows: the passes on threads
                paths = None
            if paths is None:
                yield
                return
            weights = paths.get("weights")
            files = RowFiles(
                data.x,
                data.sample_weight,
                str(paths["rows"]),
                None if weights is None else str(weights),
                pool,
                data.chunk_rows,
            )
            token = _active.set(files)
            try:
                yield
            finally:
                _active.reset(token)
                pool.forget()  # the workers' maps of the files, before they go
    finally:
        _release(pool)


def _workers_for(data: Any) -> int:
    """Worker processes for the passes over ``data``: the passes' threads less the calling
    one, where :data:`MODE_VARIABLE` asks for them; 0 for none."""
    mode = os.environ.get(MODE_VARIABLE, "auto").strip().lower() or "auto"
    if mode not in MODES:
        raise ValueError(
            f"{MODE_VARIABLE}={os.environ[MODE_VARIABLE]!r}: use auto (worker processes where "
            f"the passes have at least {PROCESS_MIN_THREADS} threads), 1 (always) or 0 (never)"
        )
    if mode == "0" or not isinstance(data, ArrayChunks) or data.labels is not None:
        return 0
    if in_worker_process():  # a grid's task, say: no workers of its own (EMKIT_NUM_THREADS
        return 0  # set for the whole run would otherwise start a pool in every task)
    x = data.x
    # the rows a pass reads are views of x only where x is C-ordered in the pass's dtype
    if type(x) is not np.ndarray or not x.flags.c_contiguous or x.dtype != np.dtype(data.dtype):
        return 0
    if mode == "auto" and x.size < PROCESS_MIN_VALUES:  # before the count: it reads the system
        return 0
    threads = worker_count()  # 1 in a worker process: its siblings hold the cores
    if mode == "auto" and threads < PROCESS_MIN_THREADS:
        return 0
    return threads - 1 if threads >= 2 else 0


def _row_offset(base: np.ndarray, part: np.ndarray) -> int | None:
    """The index in ``base`` of the first row of ``part`` where ``part`` is a run of its rows
    (a view: same dtype, strides and trailing shape), else None."""
    if (
        part.dtype != base.dtype
        or part.shape[1:] != base.shape[1:]
        or part.strides[1:] != base.strides[1:]
        or (part.shape[0] > 1 and part.strides[0] != base.strides[0])
    ):
        return None
    step = base.strides[0]
    gap = part.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    if step <= 0 or gap % step:
        return None
    first = gap // step
    return first if 0 <= first and first + part.shape[0] <= base.shape[0] else None


class _Pool:
    """Worker processes, each behind a pipe: a message out, an answer back."""

    def __init__(self, size: int) -> None:
        from joblib.externals.loky.backend import get_context

        context = get_context("loky")
        self.size = size
        self.in_use = threading.Lock()  # held by the fit whose passes it serves
        self.round = 0  # the number of the last messages sent (send), which answers carry
        self.pipes: list[Any] = []
        self.processes: list[Any] = []
        try:
            for _ in range(size):
                here, there = context.Pipe()
                process = context.Process(target=_serve, args=(there,), daemon=True)
                process.start()
                there.close()
                self.pipes.append(here)
                self.processes.append(process)
        except Exception as error:  # noqa: BLE001 - whatever stops a process starting
            self.close()
            raise NoWorkers(f"{type(error).__name__}: {error}") from error

    def alive(self) -> bool:
        """Every worker running (none where the pool was closed)."""
        return bool(self.processes) and all(process.is_alive() for process in self.processes)

    def send(self, messages: list) -> list[bool]:
        """One message to each of the first workers, numbered as this round's (the answers
        carry the number back: :meth:`receive` reads past those of an earlier round); whether
        each went."""
        self.round += 1
        sent = []
        for i, message in enumerate(messages):
            try:
                self.pipes[i].send((self.round, message))
                sent.append(True)
            except (IndexError, OSError, EOFError):  # closed, or the worker is gone
                sent.append(False)
        return sent

    def receive(self, sent: list[bool]) -> list[Any]:
        """The answers to :meth:`send`'s messages, in order: a worker's result, None where
        it is gone; a worker's warnings are raised here, and its exception after every
        answer is read."""
        answers: list[Any] = []
        failure: BaseException | None = None
        replies = []
        try:
            for pipe, went in zip(self.pipes, sent, strict=False):
                try:
                    replies.append(self._answer_of_round(pipe) if went else None)
                except (OSError, EOFError):
                    replies.append(None)
        except BaseException:  # an interrupt: the answers left unread go with the workers
            self.close()
            raise
        for reply in replies:
            if reply is None:
                answers.append(None)
                continue
            kind, value, caught = reply
            for message, category in caught:
                warnings.warn(message, category, stacklevel=4)
            if kind == "error" and failure is None:
                failure = value
            answers.append(value)
        answers += [None] * (len(sent) - len(answers))  # closed: no pipes
        if failure is not None:
            raise failure
        return answers

    def _answer_of_round(self, pipe: Any) -> tuple:
        """The answer down ``pipe`` to this round's message: answers of an earlier round
        (left unread where the round was interrupted) are read and dropped, never taken for
        this round's part."""
        while True:
            number, *reply = pipe.recv()
            if number == self.round:
                return tuple(reply)
            if number > self.round:  # pragma: no cover - a round this process never sent
                raise RuntimeError(
                    f"a pass worker answered round {number} while round {self.round} is the "
                    "last sent: its pipe is out of step"
                )

    def forget(self) -> None:
        """Each worker drops its maps of the rows (their files are about to go)."""
        try:
            self.receive(self.send([("forget",)] * self.size))
        except BaseException:  # an interrupt between sends: an answer left unread
            self.close()
            raise

    def close(self) -> None:
        for pipe in self.pipes:
            try:
                pipe.send(None)
            except (OSError, EOFError):
                pass
        deadline = time.monotonic() + 1.0  # one second for them all, then terminated
        for process in self.processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.terminate()
        for pipe in self.pipes:
            pipe.close()
        self.pipes, self.processes = [], []


def _serve(pipe: Any) -> None:
    """A worker's loop: map the rows a message names, compute its part on one BLAS thread,
    send the result (or the exception) back with the warnings it raised."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the calling process stops the workers
    maps: dict[str, np.ndarray] = {}
    with one_blas_thread():
        while True:
            try:
                message = pipe.recv()
            except (EOFError, OSError):
                return
            if message is None:
                return
            number, message = message  # the round's number, sent back with the answer
            if message == ("forget",):
                maps.clear()
                pipe.send((number, "ok", [], []))
                continue
            reply, notes = _answer(maps, message)
            try:
                pipe.send((number, *reply, notes))
            except Exception as error:  # noqa: BLE001 - an answer that cannot be pickled
                failed = RuntimeError(f"{type(error).__name__}: {error}")
                pipe.send((number, "error", failed, notes))
            del reply  # no view of the maps kept to the next message (forget drops them all)


def _answer(maps: dict[str, np.ndarray], message: tuple) -> tuple[tuple, list]:
    """A worker's reply to a message naming runs of rows (one result each), and the warnings
    it raised. The
    views of the maps are this call's locals (and no traceback is kept), so that after
    ``("forget",)`` nothing maps a rows file that the calling process then deletes: its
    shared memory goes back to the system (on Windows, the file can be deleted at all)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            segments, task = message
            # from the calling process, down its own pipe
            rows_path, weights_path, fn, args, errors = pickle.loads(task)
            rows = _mapped(maps, rows_path)
            weights = None if weights_path is None else _mapped(maps, weights_path)
            with np.errstate(**errors):
                reply: tuple = (
                    "ok",
                    [
                        fn(rows[lo:hi], None if weights is None else weights[lo:hi], *args, *tail)
                        for lo, hi, tail in segments
                    ],
                )
        except Exception as error:  # noqa: BLE001 - raised in the calling process
            reply = ("error", error.with_traceback(None))
    return reply, [(str(note.message), note.category) for note in caught]


def _mapped(maps: dict[str, np.ndarray], path: str) -> np.ndarray:
    if path not in maps:
        # a plain array over the map (no np.memmap: slicing one makes memmaps)
        maps[path] = np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)
    return maps[path]


_lock = threading.Lock()
_pool: _Pool | None = None
_idle: threading.Timer | None = None


def _pool_of(size: int) -> _Pool | None:
    """The workers, ``size`` of them (started where they are not, or not all, running),
    held for this thread's fit; None where another thread's fit holds them."""
    global _pool
    with _lock:
        if _idle is not None:
            _idle.cancel()
        if _pool is not None and not _pool.in_use.acquire(blocking=False):
            return None
        if _pool is not None and (_pool.size != size or not _pool.alive()):
            _pool.close()
            _pool = None
        if _pool is None:
            _pool = _Pool(size)
            _pool.in_use.acquire()
        return _pool


def _release(pool: _Pool) -> None:
    """The end of a fit on ``pool``: free for the next, and stopped after ``IDLE_SECONDS``
    without one."""
    global _idle
    with _lock:
        pool.in_use.release()
        if _idle is not None:
            _idle.cancel()
        _idle = threading.Timer(IDLE_SECONDS, shutdown)
        _idle.daemon = True
        _idle.start()


def shutdown() -> None:
    """Stop the workers unless a fit holds them (the next fit that wants them starts them
    again)."""
    global _pool
    with _lock:
        if _pool is not None and _pool.in_use.acquire(blocking=False):
            _pool.close()
            _pool = None


def _forget_workers_in_child() -> None:
    """A child of ``os.fork`` leaves the parent's workers to the parent: it drops its copies
    of their pipes (sending nothing) and starts its own where it wants them."""
    global _pool, _idle, _lock
    if _pool is not None:
        for pipe in _pool.pipes:
            pipe.close()
        # nor may multiprocessing's exit in the child terminate and join them (its registry
        # of children was copied with the parent's memory)
        from multiprocessing import process as mp_process

        children: set[Any] = getattr(mp_process, "_children", set())  # private: read with care
        for worker in _pool.processes:
            children.discard(worker)
        # a fit in the child that began in the parent (a fork from a callback) computes its
        # parts itself and closes nothing of the parent's
        _pool.pipes, _pool.processes = [], []
    _pool, _idle, _lock = None, None, threading.Lock()


atexit.register(shutdown)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers_in_child)
