"""How the Gaussian mixture kernel scales with threads: seconds per EM iteration against
``EMKIT_NUM_THREADS``.

Usage::

    python benchmarks/threads.py [--threads 1,2,4,8,16] [--rounds 3] [--quick]
        [--passes auto|threads|processes] [--write-results]
    python benchmarks/threads.py --gil [--quick]

For each configuration the data and the starting parameters are made once (as in ``run.py``);
then each thread count fits them in a fresh process (``EMKIT_NUM_THREADS`` is read at start),
plain EM for a fixed number of iterations, the thread counts alternating for ``--rounds``
rounds. Prints the minimum over rounds of the seconds per iteration and the speed-up over one
thread: the whole fit's time over its iterations and, in brackets, an iteration's marginal
cost (the fit less a fit of one iteration, so less its fixed costs: validation, and with worker
processes the rows' copy to shared memory). The default thread counts are the powers of two
up to the machine's cores (and the core count itself). Issue 16 asks for 16 threads at least
8x faster than one at (1e6, 10, 10) and (2e5, 50, 20) full, on a 16-core machine.

``--gil`` measures what a machine with fewer cores can tell about many: the kernel threads
run the pass's NumPy calls, which release the GIL, but the Python between them and each call's
own setup hold it, and only one thread at a time can. py-spy samples one-thread fits twice,
all samples and those taken while the GIL was held, of many iterations and of one (their
difference: the iterations alone); with a share s held, t threads run at most
1 / (s + (1 - s) / t) times faster than one (Amdahl), before the hand-overs of the GIL cost
anything. Needs ``pip install py-spy``.

``--passes`` sets ``EMKIT_PASS_PROCESSES`` for the fits: ``threads`` keeps every pass on
kernel threads, ``processes`` hands the Gaussian pass's groups of rows to worker processes
(:mod:`emkit.backend.pass_processes`, a GIL each) from two threads on, and ``auto`` (the
default) is emkit's own choice, processes from four threads. On a machine of many cores run
the sweep with ``threads`` and with ``processes``.

``--write-results`` replaces the section between ``<!-- threads: begin -->`` and
``<!-- threads: end -->`` of ``benchmarks/RESULTS.md`` (appending it the first time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import make_data, starting_point  # noqa: E402

CONFIGS = [(1_000_000, 10, 10, "full"), (200_000, 50, 20, "full")]
QUICK_CONFIGS = [(200_000, 10, 10, "full"), (50_000, 50, 20, "full")]
BEGIN, END = "<!-- threads: begin -->", "<!-- threads: end -->"

# Runs in a fresh interpreter with EMKIT_NUM_THREADS set: seconds per plain EM iteration.
CHILD = """
import json, sys, time, warnings
import numpy as np
sys.path.insert(0, {bench!r})
from peers import Emkit
warnings.simplefilter("ignore")
data = np.load({data!r})
x = data["x"]
start = {{"weights": data["weights"], "means": data["means"],
          "covariances": data["covariances"]}}
Emkit.fixed(x, start, {cov!r}, 1)  # imports, first calls and worker processes, untimed


def timed_fit():  # named: --gil counts the profiler's samples inside it
    t = time.perf_counter()
    fit = Emkit.fixed(x, start, {cov!r}, {iters})
    return time.perf_counter() - t, fit.n_iter


whole, n = timed_fit()
marginal = None
if {marginal} and n > 1:  # less a fit of one iteration: the fit's fixed costs left out
    t = time.perf_counter()
    Emkit.fixed(x, start, {cov!r}, 1)
    marginal = (whole - (time.perf_counter() - t)) / (n - 1)
print(json.dumps({{"per_iter": whole / n, "marginal": marginal}}))
"""


def default_threads() -> list[int]:
    cores = os.cpu_count() or 1
    counts = [1]
    while counts[-1] * 2 <= cores:
        counts.append(counts[-1] * 2)
    if counts[-1] != cores:
        counts.append(cores)
    return counts


# --passes: EMKIT_PASS_PROCESSES for the fits (emkit.backend.pass_processes)
PASSES = {"auto": "auto", "threads": "0", "processes": "1"}


def per_iteration(
    threads: int, data: str, cov: str, iters: int, passes: str = "auto"
) -> tuple[float, float]:
    """Seconds per iteration of a fit of ``iters`` iterations on ``threads`` threads: the
    whole fit's share, and the marginal cost of an iteration (its fixed costs left out)."""
    env = dict(os.environ, EMKIT_NUM_THREADS=str(threads), EMKIT_PASS_PROCESSES=PASSES[passes])
    code = CHILD.format(bench=str(HERE), data=data, cov=cov, iters=iters, marginal=True)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    times = json.loads(out.stdout.strip().splitlines()[-1])
    return float(times["per_iter"]), float(times["marginal"])


def gil_samples(data: str, cov: str, iters: int, gil: bool) -> int:
    """py-spy's samples inside the child's timed fit on one thread: all of them, or (``gil``)
    those taken while the thread held the GIL."""
    env = dict(os.environ, EMKIT_NUM_THREADS="1")
    code = CHILD.format(bench=str(HERE), data=data, cov=cov, iters=iters, marginal=False)
    with tempfile.TemporaryDirectory() as tmp:
        script, raw = Path(tmp) / "child.py", Path(tmp) / "samples.txt"
        script.write_text(code)
        command = ["py-spy", "record", "--rate", "400", "--format", "raw", "--output", str(raw)]
        command += ["--gil"] if gil else []
        subprocess.run(
            [*command, "--", sys.executable, str(script)],
            env=env,
            capture_output=True,
            check=True,
        )
        total = 0
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if "timed_fit (" in stack:
                total += int(count)
    return total


def gil_shares(configs, iters_scale: int) -> list[str]:
    """Per configuration, the share of one thread's EM iterations spent holding the GIL (the
    samples of a fit of many iterations less those of a fit of one: the fit's setup and last
    pass left out) and the most that t threads could then gain (Amdahl: 1 / (s + (1 - s) /
    t))."""
    lines = [
        "| (N, D, K), covariance | iterations | samples | holding the GIL | share | "
        "at most, 8 threads | at most, 16 threads |",
        "|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for n, d, k, cov in configs:
            x = make_data(n, d, k)
            path = str(Path(tmp) / "data.npz")
            np.savez(path, x=x, **starting_point(x, k, cov))
            iters = iters_scale * (3 if n * d * d * k >= 1e8 else 10)
            every, held = (
                gil_samples(path, cov, iters, gil) - gil_samples(path, cov, 1, gil)
                for gil in (False, True)
            )
            share = held / max(every, 1)
            bound = [1.0 / (share + (1.0 - share) / t) for t in (8, 16)]
            row = (
                f"| {n:.0e}, {d}, {k}, {cov} | {iters - 1} | {every} | {held} | {share:.3f} | "
                f"{bound[0]:.1f} | {bound[1]:.1f} |"
            )
            print(row, flush=True)
            lines.append(row)
    return lines


def sweep(configs, counts: list[int], rounds: int, passes: str = "auto") -> list[str]:
    """Per configuration, seconds per iteration on each thread count (the whole fit's share,
    and in brackets an iteration's marginal cost) and the speed-ups over the first count."""
    lines = [
        "| (N, D, K), covariance | "
        + " | ".join(f"{t} thread{'s' if t > 1 else ''}" for t in counts)
        + " | "
        + " | ".join(f"speed-up at {t}" for t in counts[1:])
        + " |",
        "|---|" + "---|" * (2 * len(counts) - 1),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for n, d, k, cov in configs:
            x = make_data(n, d, k)
            path = str(Path(tmp) / "data.npz")
            np.savez(path, x=x, **starting_point(x, k, cov))
            iters = 3 if n * d * d * k >= 1e8 else 10
            times: dict[int, list[tuple[float, float]]] = {t: [] for t in counts}
            for r in range(rounds):
                for t in counts if r % 2 == 0 else counts[::-1]:
                    times[t].append(per_iteration(t, path, cov, iters, passes))
            whole = {t: min(a for a, _ in v) for t, v in times.items()}
            marginal = {t: min(b for _, b in v) for t, v in times.items()}
            first = counts[0]
            row = (
                f"| {n:.0e}, {d}, {k}, {cov} | "
                + " | ".join(f"{whole[t]:.3g} ({marginal[t]:.3g})" for t in counts)
                + " | "
                + " | ".join(
                    f"{whole[first] / whole[t]:.2f} ({marginal[first] / marginal[t]:.2f})"
                    for t in counts[1:]
                )
                + " |"
            )
            print(row, flush=True)
            lines.append(row)
    return lines


def write_results(section: str, path: Path) -> None:
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", help="comma-separated thread counts (default: powers of 2)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller data, for a first look")
    parser.add_argument(
        "--passes",
        choices=sorted(PASSES),
        default="auto",
        help="the passes' parts on kernel threads, on worker processes, or as emkit chooses "
        "(EMKIT_PASS_PROCESSES; default auto: processes from 4 threads)",
    )
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument(
        "--gil",
        action="store_true",
        help="instead of the sweep (--threads, --rounds and --write-results unused): the share "
        "of a one-thread fit that holds the GIL, by py-spy's samples (needs py-spy), and the "
        "speed-up it leaves room for",
    )
    args = parser.parse_args(argv)
    if args.gil:
        if shutil.which("py-spy") is None:
            parser.error("--gil samples the fits with py-spy: pip install py-spy")
        gil_shares(QUICK_CONFIGS if args.quick else CONFIGS, iters_scale=10)
        return 0
    counts = [int(t) for t in args.threads.split(",")] if args.threads else default_threads()
    configs = QUICK_CONFIGS if args.quick else CONFIGS
    start_load = os.getloadavg()
    print(f"# {os.cpu_count()} cores, load average {start_load}")
    lines = sweep(configs, counts, args.rounds, args.passes)
    end_load = os.getloadavg()
    print(f"# load average at the end {end_load}")
    if args.write_results:
        command = "python benchmarks/threads.py " + " ".join(argv or sys.argv[1:])
        section = "\n".join(
            [
                BEGIN,
                "## Threads: seconds per EM iteration against `EMKIT_NUM_THREADS` "
                "(`benchmarks/threads.py`)",
                "",
                f"Command: `{command.strip()}` (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset; "
                f"passes on {args.passes}). "
                f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
                f"load average {tuple(round(v, 2) for v in start_load)} at the start, "
                f"{tuple(round(v, 2) for v in end_load)} at the end. Plain EM from the same "
                f"start, each thread count in a fresh process, minimum over {args.rounds} "
                "alternating rounds; seconds per iteration of the whole fit and (in brackets) "
                "an iteration's marginal cost; speed-up = seconds at one thread / seconds at t.",
                "",
                *lines,
                END,
            ]
        )
        write_results(section, HERE / "RESULTS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
