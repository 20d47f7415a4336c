"""Threads for the passes over the rows on the CPU, and the cache size their blocks are cut to.

The passes (:mod:`emkit.backend.gaussian_pass`, :mod:`emkit.backend.nearest_pass`,
:mod:`emkit.backend.family_pass`) cut the rows
into parts that kernel threads take as they come free (:func:`over_threads`): NumPy and BLAS
release the GIL, each kernel thread runs single-threaded BLAS, and while they run a thread
waiting for the GIL asks for it within ``KERNEL_SWITCH_INTERVAL``. A pass adds its blocks up in
fixed groups of rows (:func:`row_groups`), then the groups in row order, so that its sums are
the same to the last bit on any number of threads; the thread count of a pass that gains little
from a second core can then be chosen by timing it (:class:`TimedThreads`) without moving a bit.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any, ClassVar

import numpy as np

# Fewer rows than this per thread and threads cost more than they save.
MIN_ROWS_PER_THREAD = 16_384
# Rows per part at least, where a pass cuts more parts than threads (parts_per_thread).
MIN_ROWS_PER_PART = 32_768
# Groups of rows a pass adds up one by one, then in order (row_groups).
GROUPS_PER_PASS = 64
# Calls of a kind of pass timed on all the threads and on one, by turns, and the latest
# timings of each count kept; one call in REVISIT_CALLS runs on the count not chosen
# (TimedThreads).
TIMED_CALLS = 3
REVISIT_CALLS = 16
# TimedThreads.run revisits one thread this many times less often where all the threads are
# chosen and clearly the faster: each call on them is timed, so a load that slows them moves
# the choice by itself; the revisits only refresh one thread's record. KMeans at (1e6, 10,
# 10) on the EPYC VM: 16.1 ms per iteration timed against 15.1 on two threads untimed (a pass
# on one thread takes 21 ms, on two 12).
DECIDED_REVISIT_FACTOR = 4
# Where one count's first call took this many times the other's, the timing stops there: the
# slower count's further calls cost more than they could tell ((2e5, 50, 20) full took 0.6 s
# per pass on two threads and 0.95 on one).
DECISIVE_RATIO = 1.25
# The share of a pass's rows that a call timing the thread count runs on the count it probes,
# the rest on the count chosen so far (TimedThreads.run_split): a 3-iteration fit at (2e5, 50,
# 20) full spent a whole pass of its four on the slower count (0.94 s per iteration against
# 0.73 untimed on the EPYC VM).
PROBE_SHARE = 1 / 8
# While kernel threads run, a thread waiting for the GIL asks the holder for it after this many
# seconds at most (sys.setswitchinterval; Python's default is 5 ms). The passes release the
# GIL in each NumPy call and take it back within microseconds, before a thread woken on the
# other vCPU can take it (~20-100 us on the EPYC VM): there the waiting thread got it only
# when it asked, and two threads ran one at a time for 5 ms each, slower than one thread; once
# a thread sleeps that long its vCPU is slow to wake, so the threads stayed that way. At
# (1e6, 10, 10) full, two threads took 120-171 ns per row, as often as 67-83, against 117-122
# for one; at 1 ms, 67-83 each time.
KERNEL_SWITCH_INTERVAL = 0.001

# Bytes of scratch buffers a thread keeps between passes at most (scratch): a k-means pass's
# batch buffers (about NEAREST_BATCH_BYTES each, four in a recording pass), not buffers of
# every row of a large chunk, which every kernel thread would then hold for good.
SCRATCH_BYTES_MOST = 8 << 20

_pool: tuple[int, ThreadPoolExecutor] | None = None
_LOCAL = threading.local()


def _forget_pool_in_child() -> None:
    """A child of ``os.fork`` has none of the pool's threads: it starts its own (a pass
    waited forever on tasks that no thread would take)."""
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)
_controller = None
# Set by kernel_threads() for the calling thread only (a Dask task, say).
_threads_here: ContextVar[int | None] = ContextVar("emkit_kernel_threads", default=None)


def num_threads() -> int:
    """Kernel threads: those of :func:`kernel_threads` in this thread if set, else
    ``EMKIT_NUM_THREADS`` if set, else the cores this process may use."""
    here = _threads_here.get()
    if here is not None:
        return here
    env = os.environ.get("EMKIT_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        return max(1, os.cpu_count() or 1)


@contextmanager
def kernel_threads(threads: int) -> Iterator[None]:
    """Run the kernels called from this thread on ``threads`` threads (e.g. 1 inside a task of
    a scheduler that already runs one task per core)."""
    token = _threads_here.set(max(1, int(threads)))
    try:
        yield
    finally:
        _threads_here.reset(token)


def scratch(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """This thread's float64 buffer ``name`` as an array of ``shape``, its values left from
    whatever used it last, kept for the next pass (``SCRATCH_BYTES_MOST`` in all at most).

    A pass's buffers of a few MiB, freshly allocated, come back from the system as new pages
    each pass (glibc returns freed memory at the top of the heap): on the 2-vCPU AMD EPYC VM
    under load, faulting in 2 MiB took 2-3 ms, as long as the whole k-means pass over
    (1e5, 2, 5) rows. Names are per use within one pass (a pass holds each once at a time,
    and passes do not nest in a thread); nothing a pass returns may be such a buffer."""
    kept = getattr(_LOCAL, "scratch", None)
    if kept is None:
        kept = _LOCAL.scratch = {}
    size = math.prod(shape)
    found = kept.get(name)
    if found is None or found.shape[0] < size:
        found = np.empty(size)
        held = sum(a.nbytes for key, a in kept.items() if key != name)
        if held + found.nbytes <= SCRATCH_BYTES_MOST:
            kept[name] = found
        else:
            kept.pop(name, None)
    return found[:size].reshape(shape)


def _l2_cache_file(name: str) -> str | None:
    """The text of the file ``name`` of cpu0's L2 cache (Linux sysfs), or None where it cannot
    be read."""
    root = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for index in sorted(os.listdir(root)):
            with open(os.path.join(root, index, "level")) as f:
                if f.read().strip() != "2":
                    continue
            with open(os.path.join(root, index, name)) as f:
                return f.read()
    except OSError:
        pass
    return None


@cache
def l2_cache_sharers() -> int:
    """CPUs that share cpu0's L2 cache (sysfs ``shared_cpu_list``: two where a core's
    hyperthreads, or two vCPUs on one core, share it), or 1 where it cannot be read."""
    listed = _l2_cache_file("shared_cpu_list")
    try:
        return 1 if listed is None else max(1, cpu_list_size(listed))
    except ValueError:
        return 1


def cpu_list_size(listed: str) -> int:
    """CPUs in a Linux CPU list such as ``0-3,8-11`` (8)."""
    count = 0
    for span in listed.strip().split(","):
        low, _, high = span.partition("-")
        count += int(high or low) - int(low) + 1
    return count


@cache
def l2_cache_bytes() -> int:
    """Bytes of a core's L2 cache (sysfs ``size``), or 1 MiB where it cannot be read."""
    size = (_l2_cache_file("size") or "").strip().upper()
    try:
        return int(size.rstrip("KM")) * {"K": 1 << 10, "M": 1 << 20}.get(size[-1:], 1)
    except ValueError:
        return 1 << 20


def over_threads(
    x: Any,
    weights: np.ndarray | None,
    fn: Callable,
    parts_per_thread: int = 1,
    min_rows_per_thread: int | None = None,
    part_rows: int | None = None,
    align: int = 1,
) -> list:
    """``fn(rows, weights, start)`` of contiguous parts of ``x`` (anything sliced by rows with
    a ``shape``: an array, :class:`~emkit.backend.nearest_pass.ShiftedRows`), each with one
    BLAS thread,
    the parts shared by the kernel threads as they come free; the results in row order.

    ``parts_per_thread`` above 1 cuts more parts than threads, so that a thread the machine
    slows down holds up less work; the parts depend only on the rows and the thread count,
    never on scheduling. No thread gets fewer than ``min_rows_per_thread`` rows
    (``MIN_ROWS_PER_THREAD`` where None; fewer threads then). ``part_rows`` instead cuts parts
    of that many rows (the last shorter) whatever the thread count, so that the results, added
    in order, are the same to the last bit on any number of threads. ``align`` puts every
    part's first row at a multiple of it (for passes that add up fixed groups of rows
    themselves, :func:`row_groups`).
    """
    global _pool
    least = MIN_ROWS_PER_THREAD if min_rows_per_thread is None else min_rows_per_thread
    threads = max(1, min(num_threads(), x.shape[0] // max(1, least)))
    if part_rows is not None:
        edges = [*range(0, x.shape[0], part_rows), x.shape[0]] if x.shape[0] else [0, 0]
        parts = len(edges) - 1
        threads = min(threads, parts)
    else:  # one thread reads the rows whole
        share = max(1, min(parts_per_thread, x.shape[0] // (threads * MIN_ROWS_PER_PART)))
        parts = 1 if threads == 1 else threads * share
        edges = [i * x.shape[0] // parts for i in range(parts + 1)]
        if align > 1:  # to the nearest multiple: the parts within half a group of equal
            edges = sorted({min(x.shape[0], round(edge / align) * align) for edge in edges})
            edges[-1] = x.shape[0]
            parts = max(1, len(edges) - 1)
            threads = min(threads, parts)
    if threads > 1 and (_pool is None or _pool[0] != threads):
        _pool = (threads, ThreadPoolExecutor(threads, thread_name_prefix="emkit-kernel"))
    # Threaded BLAS on these tall, skinny products is slower than one thread, and collapses
    # when other processes share the cores: one BLAS thread per kernel thread.
    with one_blas_thread():
        if parts == 1:
            return [fn(x, weights, 0)]

        def part(i: int) -> Any:
            rows = slice(edges[i], edges[i + 1])
            return fn(x[rows], None if weights is None else weights[rows], int(edges[i]))

        if threads == 1 or _pool is None:
            return [part(i) for i in range(parts)]
        with _SHORT_SWITCH.held():
            if part_rows is not None:
                return _pulled(_pool[1], part, parts, threads)
            return list(_pool[1].map(part, range(parts)))


def _pulled(pool: ThreadPoolExecutor, part: Callable[[int], Any], parts: int, threads: int) -> list:
    """``[part(i) for i in range(parts)]`` on the calling thread and ``threads - 1`` pool
    threads, each taking the next part as it comes free. One pool task per helping thread,
    not one per part: with a task per part the caller slept on each part's result and woke to
    take the GIL from the kernel threads, and on the 2-vCPU VM each wake-up of a thread on
    the other vCPU costs ~20 us (~30 us of CPU). The Gamma family pass of 1e6 rows in 16
    parts on two otherwise idle vCPUs: 89-107 context switches per pass against 62-77, 3.8-5.4
    ms against 3.5-4.0 (one thread: 3.8-4.0). After a part raises, no other part starts; the
    first error is raised."""
    out: list[Any] = [None] * parts
    lock = threading.Lock()
    state = [0, False]  # the next part, whether a part raised

    def work() -> None:
        while True:
            with lock:
                i = state[0]
                if i >= parts or state[1]:
                    return
                state[0] = i + 1
            try:
                out[i] = part(i)
            except BaseException:
                state[1] = True
                raise

    helpers = [pool.submit(work) for _ in range(threads - 1)]
    try:
        work()
    finally:
        wait(helpers)
    for helper in helpers:
        helper.result()
    return out


class SharedSetting:
    """A process-wide setting held by contexts that may nest or overlap from several threads:
    the first in applies it (``apply()``, which returns a function that restores what it
    found), the last out restores it. Separate settings, each restoring what it found when it
    began, left the setting applied for good where two overlapped.

    A child of ``os.fork`` has only the thread that forked: the holds of the parent's other
    threads, and a lock one of them held, are dropped there (:func:`_settings_in_child`)."""

    _all: ClassVar[weakref.WeakSet[SharedSetting]] = weakref.WeakSet()

    def __init__(self, apply: Callable[[], Callable[[], Any]]) -> None:
        self._apply = apply
        self._lock = threading.Lock()
        self._holders: dict[int, int] = {}  # nested holds of each thread (by its ident)
        self._restore: Callable[[], Any] | None = None
        SharedSetting._all.add(self)

    @contextmanager
    def held(self) -> Iterator[None]:
        """The setting applied for the body of the ``with``."""
        holder = threading.get_ident()
        with self._lock:
            if not self._holders:
                self._restore = self._apply()
            self._holders[holder] = self._holders.get(holder, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._release(holder)

    def _release(self, holder: int) -> None:
        """One hold of the thread ``holder`` ends (the lock held); the last restores."""
        left = self._holders.pop(holder, 0) - 1
        if left > 0:
            self._holders[holder] = left
        if not self._holders and self._restore is not None:
            restore, self._restore = self._restore, None
            restore()

    def _in_child(self) -> None:
        """After ``os.fork``, in the child: a new lock (the parent's may have been held by a
        thread the child does not have, which would never release it), only the forking
        thread's holds kept, and the setting restored where none is left (the parent's BLAS
        limit, say, would otherwise stay on in the child for good)."""
        self._lock = threading.Lock()
        here = self._holders.get(threading.get_ident(), 0)
        self._holders = {threading.get_ident(): here} if here else {}
        if not self._holders and self._restore is not None:
            restore, self._restore = self._restore, None
            restore()


def _settings_in_child() -> None:
    for setting in list(SharedSetting._all):
        setting._in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_settings_in_child)


def _blas_on_one_thread() -> Callable[[], Any]:
    """Limit BLAS to one thread (threadpoolctl, its controller made once); returns the undo."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas").restore_original_limits


def _short_switch_interval() -> Callable[[], None]:
    """Set the GIL's switch interval to at most ``KERNEL_SWITCH_INTERVAL``; returns the undo,
    which leaves alone an interval someone else set meanwhile."""
    found = sys.getswitchinterval()
    sys.setswitchinterval(min(found, KERNEL_SWITCH_INTERVAL))
    ours = sys.getswitchinterval()

    def undo() -> None:
        if sys.getswitchinterval() == ours:
            sys.setswitchinterval(found)

    return undo


_ONE_BLAS_THREAD = SharedSetting(_blas_on_one_thread)
_SHORT_SWITCH = SharedSetting(_short_switch_interval)


def one_blas_thread() -> AbstractContextManager[None]:
    """A context in which BLAS runs on one thread.

    For memory-bound reductions over all the rows outside :func:`over_threads` (a dot product
    of the rows with themselves, their mean as a product with ones, a start's moments):
    OpenBLAS's threads gain nothing there, wait for a core where
    other processes hold one (a sum of squares of 1e6 values took 4-12 ms on two threads on
    the 2-vCPU VM under load, 0.2 ms on one), and then spin on a core for a while after the
    call, slowing the passes that follow. Contexts entered from several threads at once share
    one limit (:class:`SharedSetting`).
    """
    return _ONE_BLAS_THREAD.held()


# Values from which a product over rows runs BLAS on one thread (blas_for_rows, the input
# check's sum of squares): below, entering threadpoolctl's limit (~20 us) costs more than it
# saves.
ONE_BLAS_THREAD_VALUES = 1 << 16


def blas_for_rows(x: Any, values: int = ONE_BLAS_THREAD_VALUES) -> AbstractContextManager[None]:
    """:func:`one_blas_thread` for a query over NumPy rows ``x`` of at least ``values``
    values (a predict, a posterior): their products are tall and skinny, which BLAS's threads
    do not speed up and, where another process holds a core, slowed (a full covariance's
    predict of 1e5 x 10 rows with the test suite alongside: 0.153 s, 0.067 on one thread).
    Below, no limit: entering one costs ~20 us; a device's arrays, none."""
    if isinstance(x, np.ndarray) and x.size >= values:
        return one_blas_thread()
    return contextlib.nullcontext()


class TimedThreads:
    """The thread count of a kind of pass, chosen by timing it in this process.

    The first ``TIMED_CALLS`` calls of each kind (a key the caller gives) alternate between
    all the kernel threads and one, fewer where one count is clearly the faster (by
    ``DECISIVE_RATIO``); later calls take the count whose last ``TIMED_CALLS``
    calls were the fastest, and every ``REVISIT_CALLS``-th call runs on the other count, so
    that the choice follows the machine when its load changes (a choice made while another
    process held the cores no longer sticks for the life of the process); :meth:`run`
    revisits one thread ``DECIDED_REVISIT_FACTOR`` times less often where all the threads are
    clearly the faster, since it times every call on them. For passes whose
    answer does not depend on the thread count (:func:`over_threads` with ``part_rows``, or
    passes that add fixed groups of rows), so that the choice moves only the time. Where the
    machine gives a memory-bound pass little from a second core (two vCPUs sharing one, as on
    the machine this was measured on: MixtureModel's Exponential pass on 1e6 rows took 5.7 ms
    per iteration on one thread and 8.5 on two), one thread is kept; where cores are real,
    all of them. :meth:`run_split` times a share of a pass's rows instead of whole calls.
    """

    def __init__(self) -> None:
        self._seconds: dict[Any, dict[int, deque[float]]] = {}
        self._calls: dict[Any, int] = {}
        self._probes: dict[Any, int] = {}

    def run(self, key: Any, fn: Callable[[], Any]) -> Any:
        """``fn()``, on the thread count chosen for ``key``."""
        full = num_threads()
        if full == 1:
            return fn()
        kind = (key, full)
        seconds = self._seconds.setdefault(
            kind, {1: deque(maxlen=TIMED_CALLS), full: deque(maxlen=TIMED_CALLS)}
        )
        calls = self._calls[kind] = self._calls.get(kind, 0) + 1
        if min(len(times) for times in seconds.values()) < TIMED_CALLS and not _decided(seconds):
            threads = full if len(seconds[full]) <= len(seconds[1]) else 1
        else:
            threads = min(seconds, key=lambda count: min(seconds[count]))
            sure = threads == full and _decided(seconds)
            if calls % (REVISIT_CALLS * (DECIDED_REVISIT_FACTOR if sure else 1)) == 0:
                threads = 1 if threads == full else full
        tic = time.perf_counter()
        with kernel_threads(threads):
            out = fn()
        seconds[threads].append(time.perf_counter() - tic)
        return out

    def run_as(self, key: Any, fn: Callable[[], Any]) -> Any:
        """``fn()``, untimed, on the thread count ``key``'s timings favour (all the threads
        before any): for a rare variant of a timed kind of pass, whose own few calls would
        each be a timing call, half of them on the slower count."""
        full = num_threads()
        seconds = self._seconds.get((key, full))
        threads = full
        if full > 1 and seconds is not None and all(seconds.values()):
            threads = min(seconds, key=lambda count: min(seconds[count]))
        with kernel_threads(threads):
            return fn()

    def run_split(
        self,
        key: Any,
        fn: Callable[[int, int], list],
        rows: int,
        unit: int,
        min_rows: int = MIN_ROWS_PER_THREAD,
        probe_rows: int = 0,
    ) -> list:
        """``fn(0, rows)``: a list of results of the rows' groups of ``unit`` rows, in order,
        on the thread count chosen for ``key``.

        A call that times the counts runs two slices of the same whole number of units, a
        share (``PROBE_SHARE``) of the rows, one on each count, and the rest of the rows on the
        count chosen so far: ``fn(0, h) + fn(h, 2h) + fn(2h, rows)``, so that timing costs a
        share of one pass on the slower count, not whole passes, and the counts are compared
        on slices alike (a short slice costs more per row than a whole pass). Each slice holds
        at least ``min_rows`` rows and one unit per thread, so that ``fn`` really runs it on
        all the threads (:func:`over_threads` takes fewer threads for fewer rows), and at
        least ``probe_rows`` rows per thread: where each row costs little, a short slice times
        the threads' start and their hand-overs of the GIL more than their work. Where the
        rows are too few for that, whole calls alternate and are timed as in :meth:`run`.
        For passes whose results per unit do not depend on how the rows are cut at unit
        boundaries or on the thread count.
        """
        full = num_threads()
        if full == 1 or rows < 2 * min_rows:  # one thread whatever the count: nothing to time
            return fn(0, rows)
        kind = (key, full)
        seconds = self._seconds.setdefault(
            kind, {1: deque(maxlen=TIMED_CALLS), full: deque(maxlen=TIMED_CALLS)}
        )
        calls = self._calls[kind] = self._calls.get(kind, 0) + 1
        timing = min(len(times) for times in seconds.values()) < TIMED_CALLS
        timing = timing and not _decided(seconds)
        probing = timing or calls % REVISIT_CALLS == 0
        if all(seconds.values()):
            chosen = min(seconds, key=lambda count: min(seconds[count]))
        else:
            chosen = full
        other = 1 if chosen == full else full
        units = -(-rows // unit)
        # probe_rows no further than two slices leave room for (longer ones: whole calls)
        per_thread = max(min_rows, min(probe_rows, rows // (2 * full)))
        h = unit * max(round(PROBE_SHARE * units), full, -(-full * per_thread // unit))
        if 2 * h > rows:  # too few rows for two such whole slices: whole calls, as run() times
            if probing:
                if timing:
                    chosen = full if len(seconds[full]) <= len(seconds[1]) else 1
                else:
                    chosen = other
            return self._timed(fn, 0, rows, chosen, seconds)
        if not probing:
            with kernel_threads(chosen):
                return fn(0, rows)
        # which count goes first alternates from probe to probe (the first slice may find
        # colder caches)
        probes = self._probes[kind] = self._probes.get(kind, 0) + 1
        first, second = (other, chosen) if probes % 2 else (chosen, other)
        out = self._timed(fn, 0, h, first, seconds) + self._timed(fn, h, 2 * h, second, seconds)
        if 2 * h == rows:
            return out
        with kernel_threads(chosen):
            return out + fn(2 * h, rows)

    @staticmethod
    def _timed(fn: Callable[[int, int], list], lo: int, hi: int, threads: int, seconds) -> list:
        """``fn(lo, hi)`` on ``threads`` threads, its seconds per row added to ``seconds``."""
        tic = time.perf_counter()
        with kernel_threads(threads):
            out = fn(lo, hi)
        seconds[threads].append((time.perf_counter() - tic) / max(1, hi - lo))
        return out


def _decided(seconds: dict[int, deque[float]]) -> bool:
    """Whether each count has been timed and the slower's best took ``DECISIVE_RATIO`` times
    the faster's."""
    best = [min(times) for times in seconds.values() if times]
    return len(best) == len(seconds) and max(best) >= DECISIVE_RATIO * min(best)


def row_groups(rows: int, block: int) -> int:
    """Rows per group of a pass over ``rows`` rows in blocks of ``block``: a whole number of
    blocks, about ``GROUPS_PER_PASS`` groups but none under ``MIN_ROWS_PER_THREAD`` rows. A
    pass adds its blocks up group by group and the groups in order, each group from its own
    zero, with the threads' parts starting at group boundaries (``over_threads``' ``align``):
    the sums are then the same to the last bit on any number of threads. Groups of a share of
    the rows keep the parts within a group of equal (two threads on 13 groups: 7 against 6);
    the floor keeps each group's own work (its zeros and totals, about 15 us) small against its
    rows' (3e5 rows of 3 features in groups of one 4599-row block: 7% slower than whole)."""
    least = -(-MIN_ROWS_PER_THREAD // block)
    return block * max(least, rows // (GROUPS_PER_PASS * block))
