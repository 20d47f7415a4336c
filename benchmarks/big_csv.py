"""The big-CSV command-line run: generate a ~197 MB CSV and time ``emkit fit`` on it.

Usage::

    unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
    python benchmarks/big_csv.py [--csv /tmp/emkit-big.csv] [--rows 3600000] [--default]
        [--give-up] [--no-k2] [--threads 1]

The CSV has 3.6 M rows x 3 float columns (x, y, z) drawn from a 3-component Gaussian mixture,
written with 16 significant digits (about 200 MB). It is written once (block by block, so the
generator itself needs little memory) and reused when it exists. Each ``emkit fit`` runs in a
fresh process under ``/usr/bin/time -v`` (or with psutil polling the child when GNU time is
missing); the script prints seconds and peak resident memory (RSS) per run, and the load
average (``uptime``) before and after.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROWS = 3_600_000
BLOCK = 400_000
MEANS = np.array([[0.0, 0.0, 0.0], [4.0, 1.0, -2.0], [-3.0, 5.0, 2.0]])
SCALES = np.array([1.0, 0.7, 1.5])
WEIGHTS = np.array([0.5, 0.3, 0.2])


def write_csv(path: Path, rows: int = ROWS, seed: int = 0) -> None:
    """Write ``rows`` rows of the 3-component mixture to ``path`` (header ``x,y,z``)."""
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".part")
    with open(tmp, "w") as f:
        f.write("x,y,z\n")
        left = rows
        while left:
            n = min(BLOCK, left)
            labels = rng.choice(3, size=n, p=WEIGHTS)
            block = MEANS[labels] + SCALES[labels, None] * rng.standard_normal((n, 3))
            np.savetxt(f, block, delimiter=",", fmt="%.16g")
            left -= n
    os.replace(tmp, path)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def timed(command: list[str]) -> tuple[float, float, int, float]:
    """Wall seconds, peak RSS (MB), exit status and CPU seconds (user + system, all threads;
    NaN without GNU time) of ``command`` run in a fresh process. On a shared machine the CPU
    seconds change less with the load than the wall seconds."""
    gnu_time = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    start = time.perf_counter()
    if gnu_time:
        done = subprocess.run([gnu_time, "-v", *command], capture_output=True, text=True)
        seconds = time.perf_counter() - start
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
        peak = int(found.group(1)) / 1024 if found else float("nan")
        cpu = sum(
            float(m.group(1))
            for m in re.finditer(r"(?:User|System) time \(seconds\): ([0-9.]+)", done.stderr)
        )
        if done.returncode:
            sys.stderr.write(done.stderr[-2000:])
        return seconds, peak, done.returncode, cpu
    import psutil

    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc = psutil.Process(child.pid)
    peak = 0.0
    while child.poll() is None:
        try:
            peak = max(peak, proc.memory_info().rss / 2**20)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    return time.perf_counter() - start, peak, child.returncode, float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", default=str(Path(tempfile.gettempdir()) / "emkit-big.csv"))
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--default", action="store_true", help="also time the default run")
    parser.add_argument("--no-k2", action="store_true", help="skip the -k 2 --covariance full run")
    parser.add_argument(
        "--give-up", action="store_true", help="also time the default run with --give-up"
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="EMKIT_NUM_THREADS for the runs (1: the one-thread CPU reading that load distorts "
        "least); default: emkit's own choice",
    )
    args = parser.parse_args(argv)
    path = Path(args.csv)
    if not path.exists():
        start = time.perf_counter()
        write_csv(path, args.rows)
        print(f"wrote {path} in {time.perf_counter() - start:.1f} s")
    print(f"{path}: {path.stat().st_size / 1e6:.0f} MB")
    runs = [] if args.no_k2 else [["-k", "2", "--covariance", "full"]]
    if args.default:
        runs.append([])
    if args.give_up:
        runs.append(["--give-up"])
    if args.threads is not None:
        os.environ["EMKIT_NUM_THREADS"] = str(args.threads)  # the child processes inherit it
    print(f"EMKIT_NUM_THREADS={os.environ.get('EMKIT_NUM_THREADS', '(unset)')}")
    print(f"load average before: {uptime()}")
    for flags in runs:
        with tempfile.TemporaryDirectory() as out:
            command = [sys.executable, "-m", "emkit.cli", "fit", str(path), *flags, "--out", out]
            seconds, peak, status, cpu = timed(command)
        shown = " ".join(["emkit fit", path.name, *flags])
        print(
            f"{shown}: {seconds:.1f} s, CPU {cpu:.1f} s (user + system), peak RSS {peak:.0f} MB, "
            f"exit {status}; load average then: {uptime().split('load average: ')[-1]}"
        )
    print(f"load average after: {uptime()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
