"""``--one-thread`` of the benchmarks that compare emkit with a peer call by call: both
libraries on one thread, timed in CPU seconds, which other processes on the machine move far
less than wall-clock seconds."""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager


def one_thread(peer_module: str) -> tuple[Callable[[], float], AbstractContextManager]:
    """The clock (``time.process_time``) and the limits to run under: ``EMKIT_NUM_THREADS=1``
    and threadpoolctl's one thread for BLAS and OpenMP. threadpoolctl limits only the
    libraries loaded when the limit is set, so ``peer_module`` (scikit-learn's estimator
    module: its OpenMP runtime and BLAS) and emkit are imported first."""
    from threadpoolctl import threadpool_limits

    importlib.import_module(peer_module)
    importlib.import_module("emkit")
    os.environ["EMKIT_NUM_THREADS"] = "1"
    return time.process_time, threadpool_limits(1)
