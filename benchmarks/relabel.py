"""BayesianMixture's Stephens relabelling (``relabel=True``) against its sampling, in one run.

Fits the default sampler (4 chains x 1000 draws after 500 tuning sweeps) to n rows drawn from K
unit-variance normals 2.5 apart (1-D, or 2-D with ``--features 2``) and times the two parts of
``fit``: the relabelling (``_relabel``, timed where ``fit`` calls it) and the rest (sampling,
checks). Prints the median of ``--repeats`` fits of each and their ratio, and the
relabelling's CPU seconds (all threads), which a shared machine moves less than wall-clock.

    python benchmarks/relabel.py                       # 1500 rows, K = 3 (the defaults)
    python benchmarks/relabel.py --rows 5000 --components 4
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import emkit.estimators.bayesian_mixture as bayesian_mixture
from emkit import BayesianMixture


def data(rows: int, k: int, features: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.integers(k, size=rows)
    return rng.normal(2.5 * np.arange(k)[z, None], 1.0, size=(rows, features))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--components", type=int, default=3)
    parser.add_argument("--features", type=int, default=1)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    x = data(args.rows, args.components, args.features, seed=0)
    relabel = bayesian_mixture._relabel
    spent: list[tuple[float, float]] = []

    def timed(*a, **kw):
        start, cpu = time.perf_counter(), time.process_time()
        out = relabel(*a, **kw)
        spent.append((time.perf_counter() - start, time.process_time() - cpu))
        return out

    bayesian_mixture._relabel = timed  # type: ignore[assignment]
    fits, relabels, cpus = [], [], []
    try:
        for repeat in range(args.repeats):
            model = BayesianMixture(
                args.components, chains=args.chains, draws=args.draws, random_state=repeat
            )
            start = time.perf_counter()
            model.fit(x)
            fits.append(time.perf_counter() - start)
            wall, cpu = spent.pop()
            relabels.append(wall)
            cpus.append(cpu)
    finally:
        bayesian_mixture._relabel = relabel
    whole, part, cpu = (float(np.median(t)) for t in (fits, relabels, cpus))
    print(
        f"{args.rows} rows x {args.features} features, K = {args.components}, "
        f"{args.chains} x {args.draws} draws, median of {args.repeats}: fit {whole:.2f} s, "
        f"of which relabelling {part:.2f} s ({part / (whole - part):.2f} x the rest; "
        f"{cpu:.2f} s CPU)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
