"""What more cores can give a pass made of NumPy calls on blocks of rows: the calls of the Gamma
family pass (two components, the pair form of ``emkit.backend.family_pass``) on threads of one
process and on processes, at several block sizes.

Usage::

    python benchmarks/handoffs.py [--rows 1000000] [--blocks 16384,65536] [--workers 1,2]
        [--rounds 30]

Each NumPy call releases the GIL for its loop and takes it back after it. Threads then run
their calls at once but hand the GIL over between them; where a waiting thread is slow to
wake (a virtual CPU that went idle), the hand-overs cost more than the calls of a small block
save. Processes have a GIL each and hand nothing over, but a block must fit in a core's cache
for two cores to gain (otherwise both stream the rows from memory). The script times one pass
over ``--rows`` rows (a copy of the statistics into a block, the log-ratio as a product, its
``exp2``, the totals, their inverse, the products of pairs of totals and their log, the
responsibilities, their products with the statistics and their totals: eleven calls a block)
on each worker count, on threads (``sys.setswitchinterval(0.001)``, as emkit's kernel threads
run) and on forked processes (the rows shared, the caller doing the first share), and prints
the minimum over ``--rounds`` and the speed-up over one worker. BLAS runs on one thread.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np

ROWS: np.ndarray | None = None  # (2, n): log x and x, shared with forked workers


def one_pass(lo: int, hi: int, block: int) -> float:
    """The Gamma pair pass's calls over rows ``lo:hi`` in blocks of ``block`` rows."""
    assert ROWS is not None
    joint = np.empty((2, block))
    joint[0] = 1.0
    others, total, copied = joint[1:], np.empty(block), np.empty((2, block))
    products, sums, totals = np.empty(block // 2), np.empty((2, 2)), np.empty(2)
    coef = np.array([[0.3, -0.2]])
    acc = 0.0
    for start in range(lo, hi - block + 1, block):
        np.copyto(copied, ROWS[:, start : start + block])
        np.dot(coef, copied, out=others)
        np.exp2(others, out=others)
        np.add(joint[1], 1.5, out=total)
        np.divide(1.0, total, out=joint[0])
        np.multiply(total[::2], total[1::2], out=products)
        np.log(products, out=products)
        acc += float(np.add.reduce(products))
        np.multiply(others, joint[0], out=others)
        np.dot(joint, copied.T, out=sums)
        np.add.reduce(joint, axis=1, out=totals)
    return acc


def shares(n: int, block: int, workers: int) -> list[tuple[int, int]]:
    blocks = n // block
    edges = [i * blocks // workers * block for i in range(workers + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def on_threads(n: int, block: int, workers: int) -> None:
    spans = shares(n, block, workers)
    helpers = [threading.Thread(target=one_pass, args=(*s, block)) for s in spans[1:]]
    for helper in helpers:
        helper.start()
    one_pass(*spans[0], block)
    for helper in helpers:
        helper.join()


def on_processes(pool: ProcessPoolExecutor | None, n: int, block: int, workers: int) -> None:
    spans = shares(n, block, workers)
    futures = [] if pool is None else [pool.submit(one_pass, *s, block) for s in spans[1:]]
    one_pass(*spans[0], block)
    for future in futures:
        future.result()


def main(argv: list[str] | None = None) -> int:
    global ROWS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--blocks", default="16384,65536")
    cores = os.cpu_count() or 1
    parser.add_argument("--workers", default=",".join(str(w) for w in sorted({1, 2, cores})))
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    rng = np.random.default_rng(0)
    x = rng.gamma(3.0, 1.0, args.rows)
    ROWS = np.stack([np.log(x), x])
    counts = [int(w) for w in args.workers.split(",")]
    print(f"# {' '.join(sys.argv)}; {cores} CPUs; load {os.getloadavg()}")
    print("block rows | workers | threads ms (speed-up) | processes ms (speed-up)")
    sys.setswitchinterval(0.001)
    for block in [int(b) for b in args.blocks.split(",")]:
        base: dict[str, float] = {}
        for workers in counts:
            pool = None
            if workers > 1:
                pool = ProcessPoolExecutor(workers - 1, mp_context=get_context("fork"))
                on_processes(pool, args.rows, block, workers)  # the workers started
            best = {"threads": np.inf, "processes": np.inf}
            for _ in range(args.rounds):  # the two kinds alternating
                tic = time.perf_counter()
                on_threads(args.rows, block, workers)
                best["threads"] = min(best["threads"], time.perf_counter() - tic)
                tic = time.perf_counter()
                on_processes(pool, args.rows, block, workers)
                best["processes"] = min(best["processes"], time.perf_counter() - tic)
            if pool is not None:
                pool.shutdown()
            base = base or dict(best)
            cells = [f"{best[k] * 1e3:.2f} ({base[k] / best[k]:.2f}x)" for k in best]
            print(f"{block} | {workers} | {cells[0]} | {cells[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
