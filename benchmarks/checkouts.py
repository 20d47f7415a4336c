"""Time emkit from two source trees against each other on the benchmark's configurations.

Usage::

    python benchmarks/checkouts.py OLD_SRC NEW_SRC [--quick] [--rounds 3]

OLD_SRC and NEW_SRC are ``src`` folders of two checkouts (``git worktree add`` one at the old
commit). For each configuration of ``run.py`` the data and the starting parameters are made
once, then each tree fits them in a fresh process, the two trees alternating for ``--rounds``
rounds: seconds per plain EM iteration (``accelerate=None``, fixed iterations) and seconds to
convergence as shipped (SQUAREM, tol 1e-8). Prints the minimum over rounds of each and the
ratio new / old (above 1: the new tree is slower). The final log-likelihoods of the two trees
are printed too: a refactoring must not change them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import (  # noqa: E402
    FULL_CONFIGS,
    MAX_ITER_CONVERGE,
    QUICK_CONFIGS,
    TOL,
    make_data,
    starting_point,
)

# Runs in a fresh interpreter with PYTHONPATH set to one tree's src: times one fit kind.
CHILD = """
import json, sys, time
import numpy as np
sys.path.insert(0, {bench!r})
from peers import Emkit
data = np.load({data!r})
x = data["x"]
start = {{"weights": data["weights"], "means": data["means"],
          "covariances": data["covariances"]}}
cov, iters, tol, max_iter = {cov!r}, {iters}, {tol}, {max_iter}
Emkit.fixed(x[:2000], start, cov, 1)  # imports and first-call costs, untimed
t = time.perf_counter()
fit = Emkit.fixed(x, start, cov, iters)
per_iter = (time.perf_counter() - t) / fit.n_iter
t = time.perf_counter()
conv = Emkit.converge(x, start, cov, tol, max_iter)
seconds = time.perf_counter() - t
import emkit
model = emkit.GaussianMixture(len(start["weights"]), covariance_type=cov,
    weights_init=conv.params["weights"], means_init=conv.params["means"],
    precisions_init=(np.linalg.inv(conv.params["covariances"]) if cov == "full"
                     else 1.0 / conv.params["covariances"]), max_iter=0).fit(x[:10])
print(json.dumps({{"per_iter": per_iter, "converge": seconds, "n_iter": conv.n_iter,
                   "loglik": float(model.score_samples(x).sum())}}))
"""


def run_tree(src: str, data: str, cov: str, iters: int, max_iter: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(Path(src).resolve()))
    code = CHILD.format(
        bench=str(HERE), data=data, cov=cov, iters=iters, tol=TOL, max_iter=max_iter
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old_src")
    parser.add_argument("new_src")
    parser.add_argument("--quick", action="store_true", help="run.py's quick configurations")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    configs = QUICK_CONFIGS if args.quick else FULL_CONFIGS
    max_iter = MAX_ITER_CONVERGE // 3 if args.quick else MAX_ITER_CONVERGE
    print(f"# load average {os.getloadavg()}")
    print(
        "| (N, D, K), covariance | s/iter old | s/iter new | new/old | converge old (s) "
        "| converge new (s) | new/old | log-lik old | log-lik new |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for n, d, k, cov in configs:
            x = make_data(n, d, k)
            start = starting_point(x, k, cov)
            path = str(Path(tmp) / "data.npz")
            np.savez(path, x=x, **start)
            heavy = n * d * d * k >= 1e8
            iters = 3 if heavy else 15
            results: dict[str, list[dict]] = {"old": [], "new": []}
            for r in range(args.rounds):
                order = ("old", "new") if r % 2 == 0 else ("new", "old")
                for name in order:
                    src = args.old_src if name == "old" else args.new_src
                    results[name].append(run_tree(src, path, cov, iters, max_iter))
            best = {
                name: {key: min(r[key] for r in rows) for key in ("per_iter", "converge")}
                for name, rows in results.items()
            }
            ratio_iter = best["new"]["per_iter"] / best["old"]["per_iter"]
            ratio_conv = best["new"]["converge"] / best["old"]["converge"]
            worst = max(worst, ratio_iter, ratio_conv)
            print(
                f"| {n:.0e}, {d}, {k}, {cov} | {best['old']['per_iter']:.4g} "
                f"| {best['new']['per_iter']:.4g} | {ratio_iter:.3f} "
                f"| {best['old']['converge']:.4g} | {best['new']['converge']:.4g} "
                f"| {ratio_conv:.3f} | {results['old'][0]['loglik']:.10g} "
                f"| {results['new'][0]['loglik']:.10g} |",
                flush=True,
            )
    print(f"# worst ratio new/old {worst:.3f}; load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
