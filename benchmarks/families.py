"""Benchmark emkit's MixtureModel families against pomegranate and emkit's own GaussianMixture.

Usage::

    python benchmarks/families.py [--rows 1000000] [--iters 10] [--repeats 3]
        [--threads N] [--marginal] [--out benchmarks/RESULTS.md]

Each configuration is a two-component mixture of one family on ``--rows`` one-dimensional rows
drawn from such a mixture. Every library fits the same data from the same starting parameters
for a fixed number of plain EM iterations (emkit with ``accelerate=None``); the libraries
alternate within one run and the median of ``--repeats`` is kept. Seconds per iteration are
the fit's wall time divided by the iterations run (validation included, as in
``benchmarks/run.py``), with the CPU seconds of the whole process (all threads) per iteration
next to them: on a shared machine CPU seconds compare better than wall seconds. With
``--marginal`` each library also fits one iteration per repeat, and an iteration's marginal
seconds (the fit less its fixed costs: validation, a family's row statistics, the first pass)
are printed beside the whole fit's. ``--threads N``
runs every library on N threads (``EMKIT_NUM_THREADS``, ``torch.set_num_threads``, and BLAS
and OpenMP through threadpoolctl). For two
Normal components emkit's ``GaussianMixture(2)`` fits the same data from the same start, the
acceptance reference of issue 16 (within 1.5x); the other families are compared with
pomegranate (at least 10x faster).

pomegranate needs torch (and ``pip install --no-deps pomegranate apricot-select==0.6.0 tqdm``);
it is optional and skipped when it cannot be imported. The results go to their own section of
``--out``, between markers, leaving the rest of the file as it is.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- families: begin -->", "<!-- families: end -->"


def make_data(family: str, n: int, seed: int = 0) -> tuple[np.ndarray, dict]:
    """Rows (n, 1) from a two-component mixture of ``family``, and a start (per-component
    parameters, equal weights) away from the truth."""
    rng = np.random.default_rng(seed)
    first = rng.uniform(size=n) < 0.4
    if family == "normal":
        x = np.where(first, rng.normal(-2.0, 1.0, n), rng.normal(3.0, 0.5, n))
        start = {"mean": [[-1.0], [1.0]], "variance": [[2.0], [2.0]]}
    elif family == "poisson":
        x = np.where(first, rng.poisson(1.0, n), rng.poisson(8.0, n)).astype(float)
        start = {"rate": [[2.0], [5.0]]}
    elif family == "bernoulli":
        x = (rng.uniform(size=n) < np.where(first, 0.2, 0.7)).astype(float)
        start = {"probs": [[0.3], [0.6]]}
    elif family == "exponential":
        x = np.where(first, rng.exponential(1.0, n), rng.exponential(8.0, n))
        start = {"rate": [[2.0], [0.3]]}
    elif family == "gamma":
        x = np.where(first, rng.gamma(2.0, 1.0, n), rng.gamma(9.0, 1.0, n))
        start = {"shape": [[1.5], [5.0]], "rate": [[1.0], [0.8]]}
    else:
        raise ValueError(family)
    return x[:, None], start


FAMILIES = ["normal", "poisson", "bernoulli", "exponential", "gamma"]


class Emkit:
    name = "emkit MixtureModel"

    @staticmethod
    def fixed(x, family, start, iters) -> int:
        import emkit

        cls = {
            "normal": emkit.Normal,
            "poisson": emkit.Poisson,
            "bernoulli": emkit.Bernoulli,
            "exponential": emkit.Exponential,
            "gamma": emkit.Gamma,
        }[family]
        components = [cls(**{key: value[k] for key, value in start.items()}) for k in range(2)]
        model = emkit.MixtureModel(
            components, reg_covar=0.0, tol=0.0, max_iter=iters, accelerate=None
        ).fit(x)
        return model.n_iter_


class EmkitGaussian:
    name = "emkit GaussianMixture(2)"

    @staticmethod
    def fixed(x, family, start, iters) -> int:
        import emkit

        model = emkit.GaussianMixture(  # the default covariance ("full"; d = 1)
            2,
            reg_covar=0.0,
            tol=0.0,
            max_iter=iters,
            accelerate=None,
            weights_init=[0.5, 0.5],
            means_init=np.asarray(start["mean"]),
            precisions_init=1.0 / np.asarray(start["variance"])[:, :, None],
        ).fit(x)
        return model.n_iter_


class Pomegranate:
    name = "pomegranate"
    _tensor: tuple = (None, None)

    @staticmethod
    def available() -> bool:
        try:
            import pomegranate.gmm  # noqa: F401
            import torch  # noqa: F401
        except Exception:  # ImportError, or a broken install of its dependencies
            return False
        return True

    @staticmethod
    def fixed(x, family, start, iters) -> int:
        import torch
        from pomegranate import distributions as pd
        from pomegranate.gmm import GeneralMixtureModel

        if Pomegranate._tensor[0] is not x:
            Pomegranate._tensor = (x, torch.from_numpy(x))  # shares memory with x
        data = Pomegranate._tensor[1]

        def t(v):
            return torch.tensor(v, dtype=torch.float64)

        dists = []
        for k in range(2):
            p = {key: value[k] for key, value in start.items()}
            if family == "normal":
                dists.append(pd.Normal(t(p["mean"]), t(p["variance"]), covariance_type="diag"))
            elif family == "poisson":
                dists.append(pd.Poisson(t(p["rate"])))
            elif family == "bernoulli":
                dists.append(pd.Bernoulli(t(p["probs"])))
            elif family == "exponential":
                dists.append(pd.Exponential(t([1.0 / r for r in p["rate"]])))
            else:
                dists.append(pd.Gamma(t(p["shape"]), t(p["rate"])))
        model = GeneralMixtureModel(
            dists, priors=t([0.5, 0.5]), max_iter=iters, tol=-np.inf, verbose=False
        )
        calls = [0]
        summarize = model.summarize

        def counted(*args, **kwargs):
            calls[0] += 1
            return summarize(*args, **kwargs)

        model.summarize = counted
        model.fit(data)
        return calls[0]


def per_iteration(runner, x, family, start, iters) -> tuple[float, float]:
    """Wall and CPU (all threads) seconds per iteration of one fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tic, cpu = time.perf_counter(), time.process_time()
        n_iter = runner.fixed(x, family, start, iters)
        wall, cpu = time.perf_counter() - tic, time.process_time() - cpu
        return wall / max(n_iter, 1), cpu / max(n_iter, 1)


def fmt(value: float) -> str:
    if value != value:
        return "-"
    return f"{value:.3g}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--iters", type=int, default=10, help="EM iterations per timed fit")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=FAMILIES, help="families to run")
    parser.add_argument("--threads", type=int, default=None, help="threads of every library")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    parser.add_argument(
        "--marginal",
        action="store_true",
        help="also time fits of one iteration: an iteration's cost without a fit's fixed ones",
    )
    args = parser.parse_args(argv)
    command = "python " + " ".join(
        ["benchmarks/families.py", *(argv if argv is not None else sys.argv[1:])]
    )
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        os.environ["EMKIT_NUM_THREADS"] = str(args.threads)
        threadpool_limits(args.threads)  # BLAS and OpenMP pools too (their idle threads spin)
    peer = Pomegranate.available()
    if peer and args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    load_start = os.getloadavg()
    print(f"# {command}; pomegranate {'found' if peer else 'missing'}; load {load_start}")
    rows = []
    for family in args.only:
        x, start = make_data(family, args.rows)
        runners = [Emkit] + ([EmkitGaussian] if family == "normal" else [])
        runners += [Pomegranate] if peer else []
        times: dict[str, list[tuple[float, float]]] = {r.name: [] for r in runners}
        ones: dict[str, list[float]] = {r.name: [] for r in runners}  # one-iteration fits
        for runner in runners:  # untimed warm-up: imports, first-touch of the data
            per_iteration(runner, x[:1000], family, start, 1)
        for rep in range(args.repeats):
            order = runners[rep % len(runners) :] + runners[: rep % len(runners)]
            for runner in order:
                times[runner.name].append(per_iteration(runner, x, family, start, args.iters))
                if args.marginal:
                    ones[runner.name].append(per_iteration(runner, x, family, start, 1)[0])
        median = {name: float(np.median([t[0] for t in v])) for name, v in times.items()}
        cpu = {name: float(np.median([t[1] for t in v])) for name, v in times.items()}
        # an iteration's marginal seconds: (fit of iters - fit of one) / (iters - 1)
        marginal = {
            name: (args.iters * median[name] - float(np.median(v))) / (args.iters - 1)
            if v and args.iters > 1
            else float("nan")
            for name, v in ones.items()
        }
        ours = median[Emkit.name]
        row = {
            "family": family,
            "emkit": ours,
            "gaussian": median.get(EmkitGaussian.name, float("nan")),
            "pomegranate": median.get(Pomegranate.name, float("nan")),
            "emkit_cpu": cpu[Emkit.name],
            "gaussian_cpu": cpu.get(EmkitGaussian.name, float("nan")),
            "pomegranate_cpu": cpu.get(Pomegranate.name, float("nan")),
            "emkit_marginal": marginal[Emkit.name],
            "pomegranate_marginal": marginal.get(Pomegranate.name, float("nan")),
        }
        rows.append(row)
        print(
            f"{family:12s} emkit {fmt(ours)} s/iter (CPU {fmt(row['emkit_cpu'])}); "
            f"GaussianMixture {fmt(row['gaussian'])} (emkit x{fmt(ours / row['gaussian'])}); "
            f"pomegranate {fmt(row['pomegranate'])} (CPU {fmt(row['pomegranate_cpu'])}; "
            f"{fmt(row['pomegranate'] / ours)}x slower than emkit, CPU "
            f"{fmt(row['pomegranate_cpu'] / row['emkit_cpu'])}x)"
            + (
                f"; marginal emkit {fmt(row['emkit_marginal'])}, pomegranate "
                f"{fmt(row['pomegranate_marginal'])} "
                f"({fmt(row['pomegranate_marginal'] / row['emkit_marginal'])}x)"
                if args.marginal
                else ""
            ),
            flush=True,
        )
    load_end = os.getloadavg()
    write_section(Path(args.out), rows, command, args, load_start, load_end)
    print(f"# load average at the end {load_end}; written {args.out}")
    return 0


def write_section(path, rows, command, args, load_start, load_end) -> None:
    from importlib.metadata import PackageNotFoundError, version

    names = []
    for name in ("emkit", "numpy", "scipy", "pomegranate", "torch"):
        try:
            names.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            pass
    lines = [
        BEGIN,
        "## MixtureModel families: seconds per EM iteration (plain EM)",
        "",
        f"Command: `unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; {command}`; load average "
        f"{tuple(round(v, 2) for v in load_start)} at the start, "
        f"{tuple(round(v, 2) for v in load_end)} at the end (2 cores shared by other jobs). "
        f"Versions: {', '.join(names)}.",
        "",
        f"Two components of each family on {args.rows:.0e} x 1 rows, the same start for every "
        f"library, {args.iters} iterations per fit (validation included), median of "
        f"{args.repeats} alternating repeats, "
        + ("default threads" if args.threads is None else f"{args.threads} thread(s) each")
        + ". Seconds per iteration: wall (CPU seconds of all threads). Ratios by wall and by "
        "CPU: emkit / GaussianMixture(2) (issue 16: at most 1.5) and pomegranate / emkit "
        "(issue 16: at least 10)."
        + (
            " Marginal: an iteration's wall seconds without the fit's fixed costs, (fit of "
            f"{args.iters} iterations - fit of one) / {args.iters - 1}, medians."
            if args.marginal
            else ""
        ),
        "",
        "| family | emkit MixtureModel | emkit GaussianMixture(2) | pomegranate "
        "| emkit / GaussianMixture | pomegranate / emkit |"
        + (" marginal emkit | marginal pomegranate / emkit |" if args.marginal else ""),
        "|---|---|---|---|---|---|" + ("---|---|" if args.marginal else ""),
    ]
    for r in rows:
        lines.append(
            f"| {r['family']} | {fmt(r['emkit'])} ({fmt(r['emkit_cpu'])}) "
            f"| {fmt(r['gaussian'])} ({fmt(r['gaussian_cpu'])}) "
            f"| {fmt(r['pomegranate'])} ({fmt(r['pomegranate_cpu'])}) "
            f"| {fmt(r['emkit'] / r['gaussian'])} ({fmt(r['emkit_cpu'] / r['gaussian_cpu'])}) "
            f"| {fmt(r['pomegranate'] / r['emkit'])} "
            f"({fmt(r['pomegranate_cpu'] / r['emkit_cpu'])}) |"
            + (
                f" {fmt(r['emkit_marginal'])} "
                f"| {fmt(r['pomegranate_marginal'] / r['emkit_marginal'])} |"
                if args.marginal
                else ""
            )
        )
    lines.append(END)
    section = "\n".join(lines)
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    raise SystemExit(main())
