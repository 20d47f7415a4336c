"""Using a fitted model: emkit's predict, predict_proba, score_samples and transform against
scikit-learn's on the same parameters.

Usage::

    python benchmarks/inference.py [--quick] [--repeats 7]

For each (N, D, K), a ``GaussianMixture`` of each covariance type is fitted by emkit and its
parameters (weights, means, covariances, precision factors) are set on a scikit-learn
``GaussianMixture``; a ``KMeans`` is fitted by emkit and its centres set on scikit-learn's.
Both then answer the same rows, alternating within one run; each time is the median of
``--repeats`` calls. The table gives seconds per call, the ratio emkit / scikit-learn (below 1:
emkit faster) and the agreement: the share of equal labels, the largest difference of the
probabilities, the largest relative difference of the log densities or distances.

Run it with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset, and note the load average
(``uptime``): the machine's other work moves the timings.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

FULL = [(10_000, 5, 3), (100_000, 10, 5), (1_000_000, 10, 10)]
QUICK = [(10_000, 5, 3), (100_000, 10, 5)]
TYPES = ["full", "tied", "diag", "spherical"]


def make_data(n: int, d: int, k: int, seed: int = 0) -> np.ndarray:
    """n rows from K unit-variance Gaussian clusters with standard normal centres times 3."""
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.normal(size=(k, d))
    return centres[rng.integers(k, size=n)] + rng.standard_normal((n, d))


def median_times(calls: list, repeats: int) -> list[float]:
    """Median seconds of each of ``calls``, run alternately ``repeats`` times after one warm-up
    call each."""
    for call in calls:
        call()
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(repeats):
        for call, kept in zip(calls, times, strict=True):
            start = time.perf_counter()
            call()
            kept.append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times]


def agreement(ours: np.ndarray, theirs: np.ndarray) -> str:
    """Equal labels as a share, else the largest absolute (probabilities) or relative
    difference."""
    if ours.dtype.kind in "iu":
        return f"{np.mean(ours == theirs):.6f} equal"
    if np.all((theirs >= 0) & (theirs <= 1)) and ours.ndim == 2:
        return f"{np.max(np.abs(ours - theirs)):.1e} abs"
    return f"{np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-300)):.1e} rel"


def mixture_rows(x: np.ndarray, k: int, repeats: int) -> list[tuple]:
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    from emkit import GaussianMixture

    rows = []
    for covariance_type in TYPES:
        ours = GaussianMixture(k, covariance_type=covariance_type, random_state=0).fit(x)
        theirs = SkGaussianMixture(k, covariance_type=covariance_type, max_iter=1)
        theirs.fit(x[: 50 * k])  # then the same parameters as ours
        theirs.weights_ = ours.weights_.copy()
        theirs.means_ = ours.means_.copy()
        theirs.covariances_ = ours.covariances_.copy()
        theirs.precisions_cholesky_ = ours.precisions_cholesky_.copy()
        for method in ("predict", "predict_proba", "score_samples"):
            a, b = getattr(ours, method), getattr(theirs, method)
            t_ours, t_theirs = median_times([lambda a=a: a(x), lambda b=b: b(x)], repeats)
            rows.append(
                (f"GaussianMixture {covariance_type}", method, t_ours, t_theirs, a(x), b(x))
            )
    return rows


def kmeans_rows(x: np.ndarray, k: int, repeats: int) -> list[tuple]:
    from sklearn.cluster import KMeans as SkKMeans

    from emkit import KMeans

    ours = KMeans(k, random_state=0).fit(x)
    theirs = SkKMeans(k, init=ours.cluster_centers_, n_init=1, max_iter=1).fit(x[: 50 * k])
    theirs.cluster_centers_ = ours.cluster_centers_.copy()
    rows = []
    for method in ("predict", "transform"):
        a, b = getattr(ours, method), getattr(theirs, method)
        t_ours, t_theirs = median_times([lambda a=a: a(x), lambda b=b: b(x)], repeats)
        rows.append(("KMeans", method, t_ours, t_theirs, a(x), b(x)))
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="up to 1e5 rows")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # convergence warnings of the one-step scikit-learn fits
    print(f"load average {os.getloadavg()} at the start")
    print()
    print("| (N, D, K) | model | method | emkit s | sklearn s | ratio | agreement |")
    print("|---|---|---|---|---|---|---|")
    for n, d, k in QUICK if args.quick else FULL:
        x = make_data(n, d, k)
        for model, method, t_ours, t_theirs, a, b in mixture_rows(x, k, args.repeats) + (
            kmeans_rows(x, k, args.repeats)
        ):
            print(
                f"| {n:.0e}, {d}, {k} | {model} | {method} | {t_ours:.3g} | {t_theirs:.3g} | "
                f"{t_ours / t_theirs:.2f} | {agreement(np.asarray(a), np.asarray(b))} |"
            )
    print()
    print(f"load average {os.getloadavg()} at the end")


if __name__ == "__main__":
    main()
