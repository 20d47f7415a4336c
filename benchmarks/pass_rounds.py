"""Rounds of messages and seconds per Gaussian pass on worker processes, for one or more
source trees in alternation.

Usage::

    python benchmarks/pass_rounds.py SRC [SRC ...] [--threads 8] [--rows 1000000] [--rounds 2]

Each SRC is the ``src`` folder of a checkout (``git worktree add`` one at the old commit). In
a fresh process per tree and round, a ``GaussianMixture(10, covariance_type="full")`` is
fitted to the same rows (``--rows`` x 10, four in-memory chunks at 1e6) with
``EMKIT_PASS_PROCESSES=1`` and ``EMKIT_NUM_THREADS=--threads`` (the calling process and
``threads - 1`` workers), after a first fit that starts the workers. Prints, per tree, the
passes (one a chunk), the rounds of messages to the workers (``_Pool.send`` calls that carry
tasks), and the seconds the passes took (the fastest round). On a machine with fewer cores
than threads the seconds say little; the rounds are what the calling process pays for in
messages.
Timings are never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = """
import json, time
import numpy as np
import emkit
from emkit.backend import gaussian_pass, pass_processes

rng = np.random.default_rng(0)
x = rng.standard_normal(({rows}, 10)) + rng.integers(0, 5, size=({rows}, 1))
means = x[rng.choice(len(x), 10, replace=False)]
counts = {{"passes": 0, "rounds": 0, "seconds": 0.0}}
threaded, send = gaussian_pass._threaded, pass_processes._Pool.send

def timed_pass(*args):
    start = time.perf_counter()
    try:
        return threaded(*args)
    finally:
        counts["passes"] += 1
        counts["seconds"] += time.perf_counter() - start

def counted_send(self, messages):
    counts["rounds"] += bool(messages) and messages[0] != ("forget",)
    return send(self, messages)

gaussian_pass._threaded = timed_pass
pass_processes._Pool.send = counted_send

def fit(iterations):
    emkit.GaussianMixture(
        10, covariance_type="full", max_iter=iterations, tol=0, means_init=means,
        accelerate=None, random_state=0,
    ).fit(x)

import warnings
warnings.simplefilter("ignore")
fit(2)  # the workers start
for key in counts:
    counts[key] = 0
fit(10)
print(json.dumps(counts))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", help="src folders of the checkouts to compare")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    env = dict(os.environ, EMKIT_PASS_PROCESSES="1", EMKIT_NUM_THREADS=str(args.threads))
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(name, None)
    best: dict[str, dict] = {}
    for _ in range(args.rounds):
        for source in args.sources:
            done = subprocess.run(
                [sys.executable, "-c", CHILD.format(rows=args.rows)],
                env=dict(env, PYTHONPATH=source),
                capture_output=True,
                text=True,
                check=True,
            )
            counts = json.loads(done.stdout.strip().splitlines()[-1])
            if source not in best or counts["seconds"] < best[source]["seconds"]:
                best[source] = counts
    print(f"# {os.cpu_count()} cores, EMKIT_NUM_THREADS={args.threads}, {args.rows} x 10 rows")
    print("| source | chunk passes | rounds of messages | seconds in the passes | per chunk pass |")
    print("|---|---|---|---|---|")
    for source, counts in best.items():
        per_pass = counts["seconds"] / max(counts["passes"], 1)
        print(
            f"| {source} | {counts['passes']} | {counts['rounds']} | "
            f"{counts['seconds']:.3f} | {per_pass:.4f} |"
        )


if __name__ == "__main__":
    main()
