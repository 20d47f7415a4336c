"""The objective never falls: EM on many awkward data sets per family and covariance structure.

Usage::

    python benchmarks/monotonicity.py [--datasets 1000] [--seed 0] [--only gamma,full]

Each data set is drawn from a seed: a mixture of two or three clusters of 20 to 200 rows in the
family's support, then made awkward by one of: nothing, rounding (ties), duplicated rows, a
constant column, a duplicated column, a far outlier, a cluster on a single value, or a scale of
1e-6 or 1e6. Every fit runs with MonotonicityWarning raised as an error; the script counts
data sets that raised it (or whose history fell beyond rounding), and fits that failed in any
other way (each with its seed, to reproduce), and prints the time per configuration.
tests/test_hostile.py runs the same configurations (a few data sets each; all 1,000 with
``--runslow``).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

import emkit  # noqa: E402

KINDS = (
    "plain",
    "rounded",
    "duplicated rows",
    "constant column",
    "duplicated column",
    "outlier",
    "point cluster",
    "tiny",
    "huge",
)


def _clusters(rng: np.random.Generator, d: int, support: str) -> np.ndarray:
    k = int(rng.integers(2, 4))
    blocks = []
    for _ in range(k):
        m = int(rng.integers(20, 200))
        centre = rng.normal(0, 5, d)
        spread = rng.uniform(0.2, 3.0, d)
        if support == "real":
            blocks.append(centre + spread * rng.standard_normal((m, d)))
        elif support == "positive":
            blocks.append(rng.gamma(rng.uniform(0.5, 8, d), spread, (m, d)))
        elif support == "count":
            blocks.append(rng.poisson(rng.uniform(0.2, 15, d), (m, d)).astype(float))
        elif support == "binary":
            blocks.append((rng.uniform(size=(m, d)) < rng.uniform(0.05, 0.95, d)).astype(float))
        else:  # categorical codes 0..3
            blocks.append(rng.integers(0, 4, (m, d)).astype(float))
    return np.concatenate(blocks)


def make_data(seed: int, d: int, support: str) -> tuple[np.ndarray, str]:
    """An awkward data set in ``support`` ("real", "positive", "count", "binary", "code")."""
    rng = np.random.default_rng(seed)
    x = _clusters(rng, d, support)
    kind = KINDS[seed % len(KINDS)]
    scalable = support in ("real", "positive")
    if kind == "rounded" and scalable:
        x = np.round(x) + (1.0 if support == "positive" else 0.0)
        x = np.where(x > 0, x, 1.0) if support == "positive" else x
    elif kind == "duplicated rows":
        x = np.concatenate([x, x[: len(x) // 3]])
    elif kind == "constant column" and d > 1:
        x[:, -1] = x[0, -1]
    elif kind == "duplicated column" and d > 1:
        x[:, -1] = x[:, 0]
    elif kind == "outlier" and scalable:
        x[0] = x[0] * 1e3 if support == "positive" else x[0] + 1e4
    elif kind == "point cluster":
        x = np.concatenate([x, np.repeat(x[:1], 40, axis=0)])
    elif kind == "tiny" and scalable:
        x = x * 1e-6
    elif kind == "huge" and scalable:
        x = x * 1e6
    return np.ascontiguousarray(x), kind


def _gm(cov: str) -> Callable[[np.ndarray, int], object]:
    def fit(x: np.ndarray, seed: int) -> object:
        # reg_covar in the data's units, so that tiny and huge data sets are the same problem
        scale = float(np.mean(np.var(x, axis=0))) or 1.0
        model = emkit.GaussianMixture(
            int(2 + seed % 2), covariance_type=cov, random_state=seed, reg_covar=1e-6 * scale
        )
        return model.fit(x)

    return fit


def _mm(family: Callable[[], object]) -> Callable[[np.ndarray, int], object]:
    def fit(x: np.ndarray, seed: int) -> object:
        return emkit.MixtureModel([family(), family()], random_state=seed).fit(x)

    return fit


# name: (features, support, fit)
CONFIGS: dict[str, tuple[int, str, Callable[[np.ndarray, int], object]]] = {
    "full": (3, "real", _gm("full")),
    "tied": (3, "real", _gm("tied")),
    "diag": (3, "real", _gm("diag")),
    "spherical": (3, "real", _gm("spherical")),
    "normal": (1, "real", _mm(emkit.Normal)),
    "gamma": (1, "positive", _mm(emkit.Gamma)),
    "exponential": (1, "positive", _mm(emkit.Exponential)),
    "poisson": (2, "count", _mm(emkit.Poisson)),
    "bernoulli": (4, "binary", _mm(emkit.Bernoulli)),
    "categorical": (2, "code", _mm(emkit.Categorical)),
    "zero-inflated poisson": (1, "count", lambda x, seed: emkit.ZeroInflatedPoisson().fit(x)),
    "kmeans": (3, "real", lambda x, seed: emkit.KMeans(3, random_state=seed).fit(x)),
}


def check(name: str, seed: int) -> str | None:
    """None where the fit's objective never fell; else what went wrong."""
    d, support, fit = CONFIGS[name]
    x, kind = make_data(seed, d, support)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", emkit.MonotonicityWarning)
        try:
            model = fit(x, seed)
        except emkit.MonotonicityWarning as warning:
            return f"{kind}: {warning}"
        except ValueError as exc:  # a clear refusal (e.g. a support) is not a fall
            return None if "support" in str(exc) or "rows" in str(exc) else f"{kind}: {exc!r}"
    history = np.asarray(model.history_)  # type: ignore[attr-defined]
    drops = np.diff(history)
    allowed = -1e-10 * np.maximum(1.0, np.abs(history[1:]))
    changes = set(getattr(model, "structure_changes_", ()))
    bad = [i + 1 for i in np.flatnonzero(drops < allowed) if i + 1 not in changes]
    return f"{kind}: history fell at iterations {bad[:5]}" if bad else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help="comma-separated configuration names")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(CONFIGS)
    failures = 0
    for name in names:
        start = time.perf_counter()
        problems = [
            (seed, p)
            for seed in range(args.seed, args.seed + args.datasets)
            if (p := check(name, seed)) is not None
        ]
        failures += len(problems)
        elapsed = time.perf_counter() - start
        print(f"{name:<22} {args.datasets} data sets  {len(problems)} falls  {elapsed:7.1f} s")
        for seed, problem in problems[:5]:
            print(f"    seed {seed}: {problem}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
