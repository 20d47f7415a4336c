"""EM on a Dask LocalCluster against the in-process fit of the same data.

Usage::

    python benchmarks/dask.py [--rows 1e7] [--features 10] [--k 10] [--covariance full]
                              [--iters 4] [--workers 1,2] [--write-results]
    python benchmarks/dask.py --parquet-rows 1e8 --parquet-dir /tmp/emkit-1e8 \\
                              --memory-limit 2GB --k 10 --iters 2 --write-results

The first form times seconds per plain EM iteration (``accelerate=None``, ``tol=0``, from
the same given start, so every fit runs the same passes): in one process with two BLAS
threads, and on LocalClusters of single-threaded worker processes with the data persisted
on the workers. An iteration's time is the gap between the callbacks of consecutive
iterations (one M-step and one pass over the data); the median gap, best of two fits.
The log-likelihoods of the fits are printed too: they must agree to 1e-10 relative.

``--selection`` instead times ``select_mixture`` over a grid (``--grid-k`` by
``--grid-covariance``) of the same rows as a dask DataFrame on a LocalCluster of two workers:
its fits in lockstep (the default) against one after another (what a checkpoint folder makes
it do), and in process; the tables must agree.

The second form writes a Parquet data set of ``--parquet-rows`` rows on the workers (never
through this process), then fits it on a LocalCluster of two workers with ``--memory-limit``
each: too large to persist, the partitions are read from disk on every pass.

``--write-results`` adds (or replaces) the section of ``benchmarks/RESULTS.md``.
Run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import time
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent

import numpy as np  # noqa: E402

_spec = importlib.util.spec_from_file_location("emkit_bench_run", HERE / "run.py")
_run = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _run
_spec.loader.exec_module(_run)
make_data = _run.make_data
# This file is named dask.py: its folder stays off the import path, so ``import dask`` finds Dask.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

SECTION = "## Dask: seconds per EM iteration on a LocalCluster (benchmarks/dask.py)"
BIG_SECTION = "## Dask: a Parquet data set larger than the workers' memory (benchmarks/dask.py)"


def given_start(x: np.ndarray, k: int, cov: str) -> dict:
    """Starting parameters from a k-means++ start on the first 100 000 rows (for everybody)."""
    from emkit import GaussianMixture

    start = GaussianMixture(k, covariance_type=cov, random_state=0, max_iter=0).fit(x[:100_000])
    return {
        "weights_init": start.weights_,
        "means_init": start.means_,
        "precisions_init": _precisions(start.covariances_, cov),
    }


def _precisions(cov_, cov: str):
    if cov == "full":
        return np.linalg.inv(cov_)
    if cov == "tied":
        return np.linalg.inv(cov_)
    return 1.0 / cov_


def per_iteration(data, k: int, cov: str, start: dict, iters: int, rounds: int = 2):
    """Seconds per plain-EM iteration from ``start`` (the median gap between the callbacks of
    consecutive iterations: set-up and the first pass excluded), best of ``rounds``; and the
    model of the last fit."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from emkit import GaussianMixture

    best, model = np.inf, None
    for _ in range(rounds):
        stamps: list[float] = []
        model = GaussianMixture(
            k,
            covariance_type=cov,
            max_iter=iters,
            tol=0.0,
            accelerate=None,
            callback=partial(_stamp, stamps),
            **start,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(data)
        best = min(best, float(np.median(np.diff(stamps))))
    model.set_params(callback=None)
    return best, model


def _stamp(stamps: list, progress) -> None:
    stamps.append(time.perf_counter())


def in_process(x, k, cov, start, iters, threads=2):
    from threadpoolctl import threadpool_limits

    from emkit.backend.threads import kernel_threads

    with threadpool_limits(threads), kernel_threads(threads):
        return per_iteration(x, k, cov, start, iters)


def on_cluster(x, k, cov, start, iters, workers, partitions, profile=True):
    """Seconds per iteration on a LocalCluster of ``workers`` single-threaded processes
    holding ``x`` in ``partitions``; ``profile=False`` turns off Dask's statistical profiler
    on the workers (``distributed.worker.profile.enabled``), which samples every task's stack
    every 10 ms."""
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster

    with (
        dask.config.set({"distributed.worker.profile.enabled": profile}),
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(workers)
        rows = -(-x.shape[0] // partitions)
        blocks = [x[i : i + rows] for i in range(0, x.shape[0], rows)]
        futures = client.scatter(blocks)  # the data on the workers, as a user's persisted array
        lazy = da.concatenate(
            [
                da.from_delayed(f, b.shape, dtype=b.dtype)
                for f, b in zip(futures, blocks, strict=True)
            ]
        )
        seconds, model = per_iteration(lazy, k, cov, start, iters)
        del lazy, futures
    return seconds, model


def small_runs(args) -> list[dict]:
    n, d, k, cov = int(float(args.rows)), args.features, args.k, args.covariance
    x = make_data(n, d, k)
    start = given_start(x, k, cov)
    # Rounds alternate in-process and cluster fits, so that a change of the machine's load
    # during the run touches both sides; each side keeps its fastest round.
    sides = [("in process, 2 threads", None, True)]
    for workers in (int(w) for w in args.workers.split(",")):
        name = f"LocalCluster, {workers} worker{'s' if workers > 1 else ''} x 1 thread"
        sides.append((name, workers, True))
        if args.profiler_off:
            sides.append((name + ", profiler off", workers, False))
    runs: dict[str, list] = {name: [] for name, _, _ in sides}
    for r in range(args.rounds):
        for name, workers, profile in sides:
            before = os.getloadavg()[0]
            if workers is None:
                seconds, model = in_process(x, k, cov, start, args.iters)
            else:
                seconds, model = on_cluster(
                    x, k, cov, start, args.iters, workers, args.partitions, profile
                )
            load = (before, os.getloadavg()[0])
            runs[name].append((seconds, model, load))
            print(
                f"round {r + 1}: {name}: {seconds:.3g} s/iteration "
                f"(load {load[0]:.2f} -> {load[1]:.2f})",
                flush=True,
            )
    rows = []
    reference = min(runs[sides[0][0]], key=lambda run: run[0])[1]
    for name, _, _ in sides:
        seconds, model, load = min(runs[name], key=lambda run: run[0])
        ll = model.log_likelihood_
        row = {"where": name, "seconds": seconds, "ll": ll, "load": load}
        if model is not reference:
            row["rel"] = abs(ll - reference.log_likelihood_) / abs(reference.log_likelihood_)
        rows.append(row)
        print(f"best: {name}: {seconds:.3g} s/iteration, log-likelihood {ll!r}")
    return rows


def selection_run(args) -> None:
    """``select_mixture`` on a dask DataFrame: in lockstep, one fit after another, in process."""
    import tempfile

    import dask.dataframe as dd
    import pandas as pd
    from distributed import Client, LocalCluster

    from emkit import select_mixture

    x = make_data(int(float(args.rows)), args.features, args.k)
    grid = dict(
        n_components=[int(k) for k in args.grid_k.split(",")],
        covariance_types=args.grid_covariance.split(","),
    )
    tables = {}
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster),
    ):
        frame = dd.from_pandas(pd.DataFrame(x), npartitions=args.partitions).persist()
        select_mixture(frame, n_components=[1], covariance_types=["VII"])  # warm-up
        ways = [
            ("LocalCluster, 2 workers, lockstep", {}),
            ("LocalCluster, 2 workers, one fit after another", {"checkpoint": True}),
        ]
        for r in range(args.rounds):  # alternating, the best of each kept
            for name, options in ways if r % 2 == 0 else ways[::-1]:
                folder = {"checkpoint": tempfile.mkdtemp()} if options else {}
                tic = time.perf_counter()
                tables[name] = select_mixture(frame, **grid, **folder).table_
                print(f"round {r + 1}: {name}: {time.perf_counter() - tic:.3g} s", flush=True)
    tic = time.perf_counter()
    tables["in process"] = select_mixture(x, **grid).table_
    print(f"in process: {time.perf_counter() - tic:.3g} s")
    reference = tables["in process"]["bic"].to_numpy()
    for name, table in tables.items():
        gap = np.max(np.abs(table["bic"].to_numpy() - reference) / np.abs(reference))
        print(f"{name}: largest BIC difference from in process {gap:.2g} (relative)")


def big_run(args) -> dict:
    import dask
    import dask.array as da
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    n, d, k = int(float(args.parquet_rows)), args.features, args.k
    folder = Path(args.parquet_dir)
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit=args.memory_limit,
            dashboard_address=None,
        ) as cluster,
        Client(cluster),
    ):
        written = 0.0
        if not (folder / "_done").exists():
            rows = 1_000_000
            blocks = [
                dask.delayed(_block)(min(rows, n - s), d, k, i)
                for i, s in enumerate(range(0, n, rows))
            ]
            parts = [
                da.from_delayed(b, (min(rows, n - s), d), dtype=float)
                for b, s in zip(blocks, range(0, n, rows), strict=True)
            ]
            frame = dd.from_dask_array(da.concatenate(parts), columns=[f"x{j}" for j in range(d)])
            t = time.perf_counter()
            frame.to_parquet(folder, write_index=False)
            written = time.perf_counter() - t
            (folder / "_done").write_text("ok\n")
        size = sum(p.stat().st_size for p in folder.glob("*.parquet")) / 1e9
        from emkit import GaussianMixture

        frame = dd.read_parquet(str(folder))
        model = GaussianMixture(
            k,
            covariance_type=args.covariance,
            max_iter=args.iters,
            tol=0.0,
            accelerate=None,
            random_state=0,
        )
        t = time.perf_counter()
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(frame)
        seconds = time.perf_counter() - t
    out = {
        "rows": n,
        "features": d,
        "k": k,
        "gb": size,
        "write_s": written,
        "fit_s": seconds,
        "iters": model.n_iter_,
        "ll": model.log_likelihood_,
        "partitions": frame.npartitions,
        "memory_limit": args.memory_limit,
    }
    print(out)
    return out


def _block(m: int, d: int, k: int, seed: int) -> np.ndarray:
    """One partition of K clusters (the same centres in every partition; its own draws)."""
    return _clusters(m, d, k, seed)


def _clusters(m: int, d: int, k: int, seed: int) -> np.ndarray:
    centres = np.random.default_rng(12345).normal(scale=3.0, size=(k, d))
    rng = np.random.default_rng(seed)
    return centres[rng.integers(0, k, m)] + rng.standard_normal((m, d))


def machine() -> str:
    return (
        f"python {platform.python_version()}, {platform.platform()}, cores {os.cpu_count()}; "
        f"load average {tuple(round(v, 2) for v in os.getloadavg())} at the end (a shared machine)"
    )


def write_section(path: Path, title: str, body: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    start = text.find(title)
    if start >= 0:
        end = text.find("\n## ", start + len(title))
        text = text[:start] + text[end + 1 :] if end >= 0 else text[:start]
    text = text.rstrip("\n") + "\n\n" + title + "\n\n" + body.rstrip("\n") + "\n"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def small_body(args, rows) -> str:
    base = rows[0]["seconds"]
    lines = [
        f"Command: `python benchmarks/dask.py --rows {args.rows} --features {args.features} "
        f"--k {args.k} --covariance {args.covariance} --iters {args.iters} --workers "
        f"{args.workers} --partitions {args.partitions} --rounds {args.rounds}"
        f"{' --profiler-off' if args.profiler_off else ''} --write-results` "
        "(OPENBLAS_CORETYPE "
        "and OPENBLAS_L2_SIZE unset).",
        "",
        f"Machine: {machine()}.",
        "",
        "Plain EM from the same given start; seconds per iteration = median gap between the "
        "callbacks of consecutive iterations, best of two fits, and the best of the rounds, "
        "which alternate in-process and cluster fits; the cluster's data persisted on its "
        "workers. Ratio: against the in-process fit (above 1: slower). Load: the 1-minute "
        "load average before and after the round kept.",
        "",
        "| where | s / iteration | ratio | load | log-likelihood | relative difference |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        rel = f"{row['rel']:.1e}" if "rel" in row else ""
        load = "{:.2f} -> {:.2f}".format(*row["load"])
        lines.append(
            f"| {row['where']} | {row['seconds']:.3g} | {row['seconds'] / base:.2f} | {load} | "
            f"{row['ll']:.17g} | {rel} |"
        )
    return "\n".join(lines)


def big_body(args, out) -> str:
    return "\n".join(
        [
            f"Command: `python benchmarks/dask.py --parquet-rows {args.parquet_rows} "
            f"--parquet-dir {args.parquet_dir} --memory-limit {args.memory_limit} --features "
            f"{args.features} --k {args.k} --covariance {args.covariance} --iters {args.iters} "
            "--write-results`.",
            "",
            f"Machine: {machine()}.",
            "",
            f"{out['rows']:.0e} rows x {out['features']} columns, {out['gb']:.1f} GB of Parquet "
            f"in {out['partitions']} partitions, written by the workers in {out['write_s']:.0f} s "
            "(0: already on disk). LocalCluster of 2 single-threaded workers with "
            f"{out['memory_limit']} each: too large to persist, so every pass reads the files. "
            f"GaussianMixture({out['k']}, {args.covariance!r}), plain EM, {out['iters']} "
            f"M-steps (checking pass, starting sample drawn on the workers, {out['iters'] + 1} "
            f"E-steps): {out['fit_s']:.0f} s in all, log-likelihood {out['ll']:.10g}.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1e6")
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--covariance", default="full")
    parser.add_argument("--iters", type=int, default=4)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--partitions", type=int, default=20)
    parser.add_argument("--parquet-rows")
    parser.add_argument("--parquet-dir", default="/tmp/emkit-dask-parquet")
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds (best kept)")
    parser.add_argument(
        "--profiler-off",
        action="store_true",
        help="also time clusters whose workers run without Dask's statistical profiler",
    )
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument("--selection", action="store_true", help="time select_mixture instead")
    parser.add_argument("--grid-k", default="1,2,3,4,5")
    parser.add_argument("--grid-covariance", default="VVV,VII,EEE")
    args = parser.parse_args()
    results = HERE / "RESULTS.md"
    if args.selection:
        selection_run(args)
        return
    if args.parquet_rows:
        out = big_run(args)
        if args.write_results:
            write_section(results, BIG_SECTION, big_body(args, out))
        return
    rows = small_runs(args)
    if args.write_results:
        write_section(results, SECTION, small_body(args, rows))


if __name__ == "__main__":
    main()
