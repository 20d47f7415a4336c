"""Fit a Gaussian mixture to a .npy file larger than the memory the fit may use.

Usage::

    python benchmarks/out_of_core.py [--gigabytes 4] [--path /tmp/emkit-big.npy] [--keep]

Writes a float64 file of the given size (10 columns, 5 clusters) block by block, then, in a fresh
process, fits ``GaussianMixture(5)`` to the path with a few EM iterations and prints the peak
resident memory of that process (VmHWM) next to the size of the file. The file is deleted
afterwards unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

COLUMNS, CLUSTERS, BLOCK = 10, 5, 1_000_000

FIT = """
import sys, time
from emkit import GaussianMixture
tic = time.perf_counter()
model = GaussianMixture({k}, random_state=0, max_iter={iters}).fit(sys.argv[1])
seconds = time.perf_counter() - tic
with open("/proc/self/status") as f:
    peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
print(f"{{seconds:.1f}} {{peak:.0f}} {{model.n_iter_}} {{model.log_likelihood_:.6f}}")
"""


def write(path: Path, gigabytes: float) -> int:
    rows = int(gigabytes * 2**30 / (8 * COLUMNS))
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=3.0, size=(CLUSTERS, COLUMNS))
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(rows, COLUMNS))
    for start in range(0, rows, BLOCK):
        m = min(BLOCK, rows - start)
        out[start : start + m] = centres[rng.integers(CLUSTERS, size=m)] + rng.normal(
            size=(m, COLUMNS)
        )
        out.flush()
    del out
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gigabytes", type=float, default=4.0)
    parser.add_argument("--path", default="/tmp/emkit-big.npy")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    path = Path(args.path)
    tic = time.perf_counter()
    rows = write(path, args.gigabytes)
    print(
        f"wrote {path} ({path.stat().st_size / 2**30:.2f} GiB, {rows} rows) in "
        f"{time.perf_counter() - tic:.0f} s",
        flush=True,
    )
    try:
        script = FIT.format(k=CLUSTERS, iters=args.iterations)
        out = subprocess.run(
            [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
        )
        seconds, peak, n_iter, loglik = out.stdout.split()
        print(
            f"fit of {path.stat().st_size / 2**30:.2f} GiB: {seconds} s for {n_iter} EM steps, "
            f"peak resident memory {peak} MB, log-likelihood {loglik}"
        )
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
