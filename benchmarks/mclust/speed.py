"""select_mixture with its defaults against R's Mclust with its defaults, in one run.

Both get the same data (three Gaussian clusters in five dimensions, written to a CSV file);
R's time covers Mclust(X) only (the CSV read is outside the timer), emkit's the call to
select_mixture(X). Prints each side's choice, log-likelihood and seconds, and the ratio.

    python benchmarks/mclust/speed.py --n 100000        # the issue's size
    python benchmarks/mclust/speed.py --n 10000 --models VVV,EEE,VVI,VII
    python benchmarks/mclust/speed.py --data wine     # scikit-learn's wine (178 x 13)

Needs R with mclust on the PATH (Rscript). Not a test: timings are never asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import emkit
from emkit.distributions.gaussian import MCLUST_MODELS, covariance_structure

R_SCRIPT = """
suppressPackageStartupMessages(library(mclust))
args <- commandArgs(trailingOnly = TRUE)
x <- as.matrix(read.csv(args[1]))
models <- strsplit(args[2], ",")[[1]]
t <- system.time(fit <- Mclust(x, modelNames = models, verbose = FALSE))[["elapsed"]]
cat(sprintf('{"model": "%s", "G": %d, "loglik": %.6f, "seconds": %.3f}',
            fit$modelName, fit$G, fit$loglik, t))
"""


def data(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0] * 5, [4.0] * 5, [0.0, 5.0, -3.0, 2.0, 0.0]])
    labels = rng.integers(0, 3, n)
    scales = rng.uniform(0.5, 1.5, size=(3, 5))
    return centres[labels] + rng.normal(size=(n, 5)) * scales[labels]


def bundled(name: str) -> np.ndarray:
    """One of scikit-learn's bundled data sets (no download): iris (150 x 4), wine (178 x 13),
    breast_cancer (569 x 30)."""
    import sklearn.datasets

    return getattr(sklearn.datasets, f"load_{name}")().data.astype(float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--models", default=",".join(MCLUST_MODELS))
    parser.add_argument(
        "--data",
        choices=["blobs", "iris", "wine", "breast_cancer"],
        default="blobs",
        help="blobs: three clusters in five dimensions, --n rows; else scikit-learn's data set",
    )
    args = parser.parse_args()
    models = args.models.split(",")
    x = data(args.n) if args.data == "blobs" else bundled(args.data)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.csv"
        header = ",".join(f"x{j}" for j in range(x.shape[1]))
        np.savetxt(path, x, delimiter=",", header=header, comments="")
        script = Path(folder) / "mclust.R"
        script.write_text(R_SCRIPT)
        out = subprocess.run(
            ["Rscript", str(script), str(path), ",".join(models)],
            capture_output=True,
            text=True,
            check=True,
        )
    mclust = json.loads(out.stdout.strip().splitlines()[-1])
    select_mixture = emkit.select_mixture  # imported before the timer, as R's library(mclust)
    start = time.perf_counter()
    cpu = time.process_time()
    selection = select_mixture(x, covariance_types=models)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    best = selection.best_
    name = covariance_structure(best.covariance_type).alias
    same = selection.models_.get((mclust["G"], covariance_structure(mclust["model"]).name))
    print(f"{args.data}: n = {x.shape[0]}, d = {x.shape[1]}, {len(models)} models, K = 1..9")
    print(
        f"mclust: {mclust['model']},{mclust['G']}  log L {mclust['loglik']:.3f}  "
        f"{mclust['seconds']:.1f} s"
    )
    print(
        f"emkit:  {name},{best.n_components}  log L {best.log_likelihood_:.3f}  {seconds:.1f} s "
        f"({cpu:.1f} CPU s)"
    )
    if same is not None:
        print(f"emkit's fit of mclust's choice: log L {same.log_likelihood_:.3f}")
    print(f"time ratio emkit / mclust: {seconds / mclust['seconds']:.2f}")


if __name__ == "__main__":
    main()
