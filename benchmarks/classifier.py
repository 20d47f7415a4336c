"""emkit's GenerativeClassifier against scikit-learn's discriminant analyses, fully labelled.

Usage::

    python benchmarks/classifier.py [--quick] [--repeats 7]

For each (N, D, K) both libraries fit the same labelled rows (:func:`make_data`: standard
normal columns shifted by the class index, K classes drawn uniformly) and predict on them:
``covariance_type="tied"`` against ``LinearDiscriminantAnalysis(solver="lsqr")`` and
``"full"`` against ``QuadraticDiscriminantAnalysis()`` (``reg_covar=0``, the maximum-likelihood
fit both make). Each call (``fit``, ``predict``, ``predict_proba``, ``predict_log_proba``,
``decision_function``) alternates between the two libraries within one run and is timed as
the median of ``--repeats``. It prints a Markdown table with the seconds of each, the ratio
emkit / scikit-learn (below 1: emkit faster), and the agreement: whether the predicted
classes are the same and the largest relative difference of the probabilities.

Run it with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset, and note the load average
(``uptime``): the machine's other work moves the timings, most of all a BLAS product split over
threads of which one waits for a core. ``--one-thread`` runs both libraries on one thread
(``EMKIT_NUM_THREADS=1``; BLAS and OpenMP limited by threadpoolctl) and times CPU seconds
(``time.process_time``), which other processes move far less.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

import numpy as np
from one_thread import one_thread

FULL = [(1_000, 5, 3), (10_000, 10, 5), (100_000, 10, 5)]
QUICK = [(1_000, 5, 3), (100_000, 10, 5)]
METHODS = ("fit", "predict", "predict_proba", "predict_log_proba", "decision_function")
PEERS = {"tied": "LinearDiscriminantAnalysis", "full": "QuadraticDiscriminantAnalysis"}


def make_data(n: int, d: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n rows of d standard normal columns, each shifted by its class (k classes, uniform)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(k, size=n)
    return rng.standard_normal((n, d)) + y[:, None], y


def emkit_model(covariance_type: str):
    from emkit import GenerativeClassifier

    return GenerativeClassifier(covariance_type, reg_covar=0.0)


def sklearn_model(covariance_type: str):
    from sklearn.discriminant_analysis import (
        LinearDiscriminantAnalysis,
        QuadraticDiscriminantAnalysis,
    )

    if covariance_type == "tied":
        return LinearDiscriminantAnalysis(solver="lsqr")
    return QuadraticDiscriminantAnalysis()


CLOCK = time.perf_counter


def timed(fn, *args) -> tuple[float, object]:
    tic = CLOCK()
    out = fn(*args)
    return CLOCK() - tic, out


def measure(covariance_type: str, n: int, d: int, k: int, repeats: int) -> dict:
    x, y = make_data(n, d, k)
    models = {"emkit": emkit_model(covariance_type), "sklearn": sklearn_model(covariance_type)}
    for model in models.values():  # imports and thread pools outside the timings
        model.fit(x[:1000], y[:1000]).predict_proba(x[:1000])
    seconds: dict = {(lib, m): [] for lib in models for m in METHODS}
    results: dict = {}
    for _ in range(repeats):
        for method in METHODS:
            for lib, model in models.items():
                args = (x, y) if method == "fit" else (x,)
                took, results[lib, method] = timed(getattr(model, method), *args)
                seconds[lib, method].append(took)
    row: dict = {"type": covariance_type, "n": n, "d": d, "k": k}
    for method in METHODS:
        ours, theirs = (float(np.median(seconds[lib, method])) for lib in models)
        row[method] = (ours, theirs)
    row["same"] = bool(np.array_equal(results["emkit", "predict"], results["sklearn", "predict"]))
    p, q = results["emkit", "predict_proba"], results["sklearn", "predict_proba"]
    row["proba_rel"] = float(np.max(np.abs(p - q) / np.maximum(np.abs(q), 1e-300)))
    return row


def fmt(value: float) -> str:
    return f"{value:.3g}"


def table(rows: list[dict]) -> str:
    lines = [
        "| model (peer) | (N, D, K) | call | emkit s | sklearn s | ratio | same predict "
        "| proba rel. diff. |",
        "|" + "---|" * 8,
    ]
    for r in rows:
        for method in METHODS:
            ours, theirs = r[method]
            lines.append(
                f"| {r['type']} ({PEERS[r['type']]}) | {r['n']:.0e}, {r['d']}, {r['k']} "
                f"| {method} | {fmt(ours)} | {fmt(theirs)} | {fmt(ours / theirs)} "
                f"| {'yes' if r['same'] else 'no'} | {r['proba_rel']:.1e} |"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e3 and 1e5 rows only")
    parser.add_argument("--repeats", type=int, default=7, help="timings per call (median)")
    parser.add_argument(
        "--type", choices=sorted(PEERS), action="append", help="covariance types (both)"
    )
    parser.add_argument(
        "--one-thread", action="store_true", help="one thread each, CPU seconds (process_time)"
    )
    args = parser.parse_args(argv)
    global CLOCK
    limits = contextlib.nullcontext()
    if args.one_thread:
        CLOCK, limits = one_thread("sklearn.discriminant_analysis")
    load = os.getloadavg()
    rows = []
    with limits:
        for covariance_type in args.type or ["tied", "full"]:
            for n, d, k in QUICK if args.quick else FULL:
                rows.append(measure(covariance_type, n, d, k, args.repeats))
                print(table(rows[-1:]), flush=True)
    print()
    print(table(rows))
    clock = "CPU seconds, one thread each" if args.one_thread else "wall-clock seconds"
    print(f"\n{clock}; load average {load} at the start, {os.getloadavg()} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
