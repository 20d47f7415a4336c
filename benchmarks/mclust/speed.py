"""select_mixture with its defaults against R's Mclust with its defaults, in one run.

Both get the same data (three Gaussian clusters in five dimensions, written to a CSV file);
R's time covers Mclust(X) only (the CSV read is outside the timer), emkit's the call to
select_mixture(X). Prints each side's choice, log-likelihood and seconds, and the ratio.

    python benchmarks/mclust/speed.py --n 100000        # the issue's size
    python benchmarks/mclust/speed.py --n 10000 --models VVV,EEE,VVI,VII
    python benchmarks/mclust/speed.py --data wine     # scikit-learn's wine (178 x 13)
    python benchmarks/mclust/speed.py --data iris --repeats 5   # small data: best of 5 each

``--repeats N`` times N calls on each side in the same sitting (R's in one R process, emkit's in
this one, after a first call that loads what each loads lazily) and reports the fastest wall
and CPU seconds of each: on a few hundred rows one call takes about a second, and a shared
machine moves single readings by more than the difference between two versions.

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
repeats <- as.integer(args[3])
if (repeats > 1) invisible(Mclust(x, modelNames = models, verbose = FALSE))  # warm-up
wall <- cpu <- numeric(repeats)
for (i in seq_len(repeats)) {
  t <- system.time(fit <- Mclust(x, modelNames = models, verbose = FALSE))
  wall[i] <- t[["elapsed"]]
  cpu[i] <- t[["user.self"]] + t[["sys.self"]]
}
cat(sprintf('{"model": "%s", "G": %d, "loglik": %.6f, "seconds": %.3f, "cpu": %.3f}',
            fit$modelName, fit$G, fit$loglik, min(wall), min(cpu)))
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


def faithful() -> np.ndarray:
    """Old Faithful (272 x 2), emkit's bundled copy (R's ``faithful``)."""
    from importlib import resources

    import pandas as pd

    return pd.read_csv(resources.files("emkit") / "data/faithful.csv").to_numpy(float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--models", default=",".join(MCLUST_MODELS))
    parser.add_argument(
        "--data",
        choices=["blobs", "iris", "wine", "breast_cancer", "faithful"],
        default="blobs",
        help="blobs: three clusters in five dimensions, --n rows; faithful: emkit's copy of "
        "Old Faithful; else scikit-learn's data set",
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="calls timed on each side; the fastest is reported"
    )
    args = parser.parse_args()
    models = args.models.split(",")
    if args.data == "blobs":
        x = data(args.n)
    else:
        x = faithful() if args.data == "faithful" else bundled(args.data)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.csv"
        header = ",".join(f"x{j}" for j in range(x.shape[1]))
        np.savetxt(path, x, delimiter=",", header=header, comments="")
        script = Path(folder) / "mclust.R"
        script.write_text(R_SCRIPT)
        out = subprocess.run(
            ["Rscript", str(script), str(path), ",".join(models), str(args.repeats)],
            capture_output=True,
            text=True,
            check=True,
        )
    mclust = json.loads(out.stdout.strip().splitlines()[-1])
    select_mixture = emkit.select_mixture  # imported before the timer, as R's library(mclust)
    if args.repeats > 1:  # warm-up, as R's
        select_mixture(x, covariance_types=models)
    seconds = cpu = np.inf
    for _ in range(args.repeats):
        start = time.perf_counter()
        began = time.process_time()
        selection = select_mixture(x, covariance_types=models)
        seconds = min(seconds, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - began)
    best = selection.best_
    name = covariance_structure(best.covariance_type).alias
    same = selection.models_.get((mclust["G"], covariance_structure(mclust["model"]).name))
    print(f"{args.data}: n = {x.shape[0]}, d = {x.shape[1]}, {len(models)} models, K = 1..9")
    digits = 2 if seconds < 10 else 1
    print(
        f"mclust: {mclust['model']},{mclust['G']}  log L {mclust['loglik']:.3f}  "
        f"{mclust['seconds']:.{digits}f} s ({mclust['cpu']:.{digits}f} CPU s)"
    )
    print(
        f"emkit:  {name},{best.n_components}  log L {best.log_likelihood_:.3f}  "
        f"{seconds:.{digits}f} s ({cpu:.{digits}f} CPU s)"
    )
    if same is not None:
        print(f"emkit's fit of mclust's choice: log L {same.log_likelihood_:.3f}")
    print(
        f"time ratio emkit / mclust: {seconds / mclust['seconds']:.2f} "
        f"(CPU {cpu / max(mclust['cpu'], 1e-3):.2f})"
    )


if __name__ == "__main__":
    main()
