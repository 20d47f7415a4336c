"""emkit's KMeans against scikit-learn's Lloyd k-means, from the same start.

Usage::

    python benchmarks/kmeans.py [--quick | --small | --sizes N,D,K ...] [--iters 20] [--repeats 3]
        [--converge] [--one-thread]
    python benchmarks/kmeans.py --random-starts 10 [--quick] [--repeats 3]

For each (N, D, K) both libraries fit the same data (:func:`make_data`: K overlapping unit
Gaussian clusters, on which Lloyd takes more than ``--iters`` iterations) from the same
starting centres (emkit's k-means++ seeds, passed to both as ``init=array``, ``n_init=1``,
``tol=0``, scikit-learn with ``algorithm="lloyd"``), alternating within one run, each timing
the median of ``--repeats``; with ``--converge`` both run to scikit-learn's default ``tol``
(1e-4 of the data's mean variance), as a user's fit does, where emkit's passes compute only
the rows near a boundary once the centres move little. ``--random-starts N`` instead times
whole fits from N random starts each (``init="random"``, ``n_init=N``, default ``tol``; each
library its own draws), the starts emkit runs in lockstep. It prints a Markdown table with:

- seconds per iteration: the whole ``fit`` divided by the iterations run (``--iters`` at
  most), as the issue measures it, and the marginal cost of an iteration,
  ``(fit(iters) - fit(1)) / (iterations - 1)``, which leaves out each library's fixed costs
  (validation, copies, the final labelling pass);
- the relative difference of the two inertias (same start, same iterations);
- k-means++ seeding: ``emkit.init.kmeans_plusplus`` against
  ``sklearn.cluster.kmeans_plusplus`` with the same number of local trials (2 + log K), each
  its own draws;
- emkit / scikit-learn ratios (below 1: emkit faster).

Run it with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset, and note the load average
(``uptime``): the machine's other work moves the timings. ``--one-thread`` runs both libraries
on one thread (``EMKIT_NUM_THREADS=1``; scikit-learn's OpenMP and BLAS limited by threadpoolctl)
and times CPU seconds (``time.process_time``), which other processes on the machine move far
less than wall-clock seconds (how threads share loaded cores does not enter).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

import numpy as np
from one_thread import one_thread

FULL = [(1_000_000, 10, 10), (1_000_000, 2, 5)]
QUICK = [(200_000, 10, 10), (200_000, 2, 5)]
# what a user's first fits meet: fixed costs per pass and per fit weigh most here
SMALL = [(1_000, 2, 3), (10_000, 5, 3), (10_000, 5, 10), (100_000, 10, 10)]


def make_data(n: int, d: int, k: int, seed: int = 0) -> np.ndarray:
    """n rows from K unit-variance Gaussian clusters with standard normal centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))
    return centres[rng.integers(k, size=n)] + rng.standard_normal((n, d))


def emkit_fit(x: np.ndarray, start: np.ndarray, iters: int, tol: float = 0.0):
    from emkit import KMeans

    return KMeans(start.shape[0], init=start, n_init=1, max_iter=iters, tol=tol).fit(x)


def sklearn_fit(x: np.ndarray, start: np.ndarray, iters: int, tol: float = 0.0):
    from sklearn.cluster import KMeans

    return KMeans(
        start.shape[0], init=start, n_init=1, max_iter=iters, tol=tol, algorithm="lloyd"
    ).fit(x)


def emkit_seed(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    from emkit.init import kmeans_plusplus

    return kmeans_plusplus(x, k, np.random.RandomState(seed))


def sklearn_seed(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import kmeans_plusplus

    return kmeans_plusplus(x, k, random_state=seed, n_local_trials=2 + int(np.log(k)))[0]


CLOCK = time.perf_counter


def timed(fn, *args) -> tuple[float, object]:
    tic = CLOCK()
    out = fn(*args)
    return CLOCK() - tic, out


def median_times(runs: dict, repeats: int) -> dict:
    """Median seconds of each named call, the calls alternating within every repeat."""
    seconds: dict = {name: [] for name in runs}
    results: dict = {}
    for _ in range(repeats):
        for name, (fn, args) in runs.items():
            took, results[name] = timed(fn, *args)
            seconds[name].append(took)
    return {name: (float(np.median(s)), results[name]) for name, s in seconds.items()}


def measure(n: int, d: int, k: int, iters: int, repeats: int, tol: float = 0.0) -> dict:
    x = make_data(n, d, k)
    start = emkit_seed(x, k, 0)
    emkit_fit(x[:1000], start, 2)  # imports and thread pools outside the timings
    sklearn_fit(x[:1000], start, 2)
    # The fits alternate among themselves and the seedings after them: scikit-learn's seeding
    # runs products on OpenBLAS's threads, which spin ~0.1 s after it, and the fit timed next
    # (emkit's, when the seedings were in the same round) shared the cores with them: its
    # first three passes took 20-22 ms against 12.
    got = median_times(
        {
            "emkit": (emkit_fit, (x, start, iters, tol)),
            "sklearn": (sklearn_fit, (x, start, iters, tol)),
            "emkit1": (emkit_fit, (x, start, 1)),
            "sklearn1": (sklearn_fit, (x, start, 1)),
        },
        repeats,
    )
    got |= median_times(
        {"emkit_seed": (emkit_seed, (x, k, 1)), "sklearn_seed": (sklearn_seed, (x, k, 1))},
        repeats,
    )
    ours, theirs = got["emkit"][1], got["sklearn"][1]
    row = {"n": n, "d": d, "k": k, "iters": (ours.n_iter_, theirs.n_iter_)}
    for name, fit in (("emkit", ours), ("sklearn", theirs)):
        row[f"{name}_per_iter"] = got[name][0] / fit.n_iter_
        row[f"{name}_marginal"] = (got[name][0] - got[name + "1"][0]) / max(fit.n_iter_ - 1, 1)
        row[f"{name}_seed"] = got[name + "_seed"][0]
    row["inertia_rel"] = abs(ours.inertia_ - theirs.inertia_) / theirs.inertia_
    row["same_labels"] = bool(np.array_equal(ours.labels_, theirs.labels_))
    return row


def measure_starts(n: int, d: int, k: int, starts: int, repeats: int) -> dict:
    """Whole fits from ``starts`` random starts each, both libraries alternating."""
    from sklearn.cluster import KMeans as SklearnKMeans

    from emkit import KMeans

    x = make_data(n, d, k)
    options = dict(init="random", n_init=starts, random_state=0)
    KMeans(k, **options).fit(x[:1000])  # imports and thread pools outside the timings
    got = median_times(
        {
            "emkit": (lambda: KMeans(k, **options).fit(x), ()),
            "sklearn": (lambda: SklearnKMeans(k, algorithm="lloyd", **options).fit(x), ()),
        },
        repeats,
    )
    ours, theirs = got["emkit"][1], got["sklearn"][1]
    return {
        "n": n,
        "d": d,
        "k": k,
        "starts": starts,
        "emkit": got["emkit"][0],
        "sklearn": got["sklearn"][0],
        "inertia": (ours.inertia_, theirs.inertia_),
    }


def starts_table(rows: list[dict]) -> str:
    lines = [
        "| (N, D, K) | starts | emkit s | sklearn s | ratio | emkit inertia | sklearn inertia |",
        "|" + "---|" * 7,
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:.0e}, {r['d']}, {r['k']} | {r['starts']} | {fmt(r['emkit'])} "
            f"| {fmt(r['sklearn'])} | {fmt(r['emkit'] / r['sklearn'])} "
            f"| {r['inertia'][0]:.8g} | {r['inertia'][1]:.8g} |"
        )
    return "\n".join(lines)


def fmt(value: float) -> str:
    return f"{value:.3g}"


def table(rows: list[dict]) -> str:
    head = (
        "| (N, D, K) | iterations (emkit, sklearn) | emkit s/iter | sklearn s/iter | ratio "
        "| emkit marginal | sklearn marginal | ratio | inertia rel. diff. | same labels "
        "| emkit seeding s | sklearn seeding s | ratio |"
    )
    lines = [head, "|" + "---|" * 13]
    for r in rows:
        lines.append(
            f"| {r['n']:.0e}, {r['d']}, {r['k']} | {r['iters'][0]}, {r['iters'][1]} "
            f"| {fmt(r['emkit_per_iter'])} | {fmt(r['sklearn_per_iter'])} "
            f"| {fmt(r['emkit_per_iter'] / r['sklearn_per_iter'])} "
            f"| {fmt(r['emkit_marginal'])} | {fmt(r['sklearn_marginal'])} "
            f"| {fmt(r['emkit_marginal'] / r['sklearn_marginal'])} "
            f"| {r['inertia_rel']:.1e} | {'yes' if r['same_labels'] else 'no'} "
            f"| {fmt(r['emkit_seed'])} | {fmt(r['sklearn_seed'])} "
            f"| {fmt(r['emkit_seed'] / r['sklearn_seed'])} |"
        )
    return "\n".join(lines)


def _size(text: str) -> tuple[int, int, int]:
    """``N,D,K`` (N may be written 1e5) as three ints."""
    try:
        n, d, k = (int(float(part)) for part in text.split(","))
    except ValueError:
        message = f"expected N,D,K such as 100000,10,10; got {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    return n, d, k


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2e5 rows instead of 1e6")
    parser.add_argument(
        "--small", action="store_true", help="1e3 to 1e5 rows (SMALL) instead of 1e6"
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=_size,
        metavar="N,D,K",
        help="these (rows, features, clusters) instead, e.g. 100000,10,10 100000,2,5",
    )
    parser.add_argument("--iters", type=int, default=20, help="iterations per fit at most")
    parser.add_argument("--repeats", type=int, default=3, help="timings per call (median)")
    parser.add_argument(
        "--one-thread", action="store_true", help="one thread each, CPU seconds (process_time)"
    )
    parser.add_argument(
        "--converge",
        action="store_true",
        help="fits run to scikit-learn's default tol (1e-4), 300 iterations at most",
    )
    parser.add_argument(
        "--random-starts",
        type=int,
        default=0,
        help="whole fits from this many random starts each (n_init), not one given start",
    )
    args = parser.parse_args(argv)
    iters, tol = (300, 1e-4) if args.converge else (args.iters, 0.0)
    global CLOCK
    limits = contextlib.nullcontext()
    if args.one_thread:
        CLOCK, limits = one_thread("sklearn.cluster")
    load = os.getloadavg()
    rows = []
    shown = starts_table if args.random_starts else table
    with limits:
        sizes = args.sizes or (SMALL if args.small else QUICK if args.quick else FULL)
        for n, d, k in sizes:
            if args.random_starts:
                rows.append(measure_starts(n, d, k, args.random_starts, args.repeats))
            else:
                rows.append(measure(n, d, k, iters, args.repeats, tol))
            print(shown(rows[-1:]), flush=True)
    print()
    print(shown(rows))
    clock = "CPU seconds, one thread each" if args.one_thread else "wall-clock seconds"
    print(f"\n{clock}; load average {load} at the start, {os.getloadavg()} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
