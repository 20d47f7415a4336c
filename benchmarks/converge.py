"""Time to the optimum at (N, D, K) = (1e6, 10, 10), full covariance: emkit against scikit-learn.

Usage::

    python benchmarks/converge.py [--n 1000000] [--budget 1500]

Both start from the same parameters (run.py's data and k-means++ start). emkit runs as shipped
(SQUAREM, tol 1e-8 per sample). scikit-learn runs plain EM in blocks of iterations (warm start)
until its log-likelihood reaches emkit's final value to within 1e-7 per sample, or until the
time budget is spent; only its fitting time is counted. Prints both times and their ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from peers import REG_COVAR, Emkit, _precisions  # noqa: E402
from run import log_likelihood, make_data, starting_point  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--budget", type=float, default=1500.0, help="seconds for scikit-learn")
    parser.add_argument("--block", type=int, default=10, help="scikit-learn iterations a block")
    args = parser.parse_args(argv)
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

    n, d, k, cov = args.n, 10, 10, "full"
    x = make_data(n, d, k)
    start = starting_point(x, k, cov)
    print(f"# (N, D, K) = ({n}, {d}, {k}) {cov}; load {os.getloadavg()}", flush=True)

    begin = time.perf_counter()
    ours, params = Emkit._fit(x, start, cov, max_iter=5000)  # as shipped: SQUAREM, tol 1e-8
    ours_seconds = time.perf_counter() - begin
    target = log_likelihood(x, params, cov)
    print(f"emkit: {ours_seconds:.1f} s, {ours.n_iter_} steps, loglik {target:.6f}", flush=True)

    theirs = SklearnGaussianMixture(
        k,
        covariance_type=cov,
        reg_covar=REG_COVAR,
        tol=0.0,
        max_iter=args.block,
        weights_init=start["weights"],
        means_init=start["means"],
        precisions_init=_precisions(start, cov),
        warm_start=True,
    )
    spent, iterations, reached = 0.0, 0, -float("inf")
    while spent < args.budget:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            begin = time.perf_counter()
            theirs.fit(x)
            spent += time.perf_counter() - begin
        iterations += args.block
        fitted = {
            "weights": theirs.weights_,
            "means": theirs.means_,
            "covariances": theirs.covariances_,
        }
        reached = log_likelihood(x, fitted, cov)
        print(
            f"scikit-learn: {spent:.1f} s, {iterations} iterations, loglik {reached:.6f}",
            flush=True,
        )
        if reached >= target - 1e-7 * n:
            break
    done = reached >= target - 1e-7 * n
    verdict = "reached emkit's optimum" if done else "stopped by the budget below emkit's optimum"
    bound = "" if done else " (at most)"
    print(
        f"scikit-learn {verdict} after {spent:.1f} s; emkit / scikit-learn = "
        f"{ours_seconds / spent:.3f}{bound}; load {os.getloadavg()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
