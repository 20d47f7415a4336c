"""Benchmark emkit's Gaussian mixture EM against scikit-learn, pomegranate and gmmx.

Usage::

    python benchmarks/run.py [--quick] [--only I ...] [--repeats R] [--peers NAME ...]
        [--section NAME] [--out benchmarks/RESULTS.md] [--no-converge] [--marginal]

Every configuration fits the same data from the same starting parameters with each library that
is installed, the libraries alternating within one run (timings on a shared machine swing; the
ratios within one run are what to read). For each it prints and writes:

- seconds per EM iteration: plain EM (emkit with ``accelerate=None``), a fixed number of
  iterations, total fit time divided by the iterations run; with ``--marginal`` also the
  marginal cost of an iteration, ``(fit(iters) - fit(1)) / (iters - 1)`` from two further fits
  after the timed one (as ``benchmarks/kmeans.py``), which leaves out each library's fixed
  costs (validation, the start's and the final pass, emkit's timing of its thread count);
- time to convergence from the same start, iterations, and the final log-likelihood (every
  library's final parameters evaluated by the same float64 code), with each library's own
  tolerance set to the same per-sample gain (1e-8) as emkit's default; emkit runs as shipped
  (SQUAREM);
- peak memory the fit adds: peak resident memory during the fit minus resident memory just
  before it (Linux: the peak is reset through /proc/self/clear_refs);
- emkit's ratio to each peer.

``python benchmarks/run.py SUITE [ARGS ...]`` runs one of the other benchmarks instead
(``kmeans``, ``families``, ``threads``, ``big_csv``, ``dask``, ``gpu``, ``bayes``,
``relabel``, ``inference``, ``classifier``: the scripts of this folder, with their own
options).

The results replace only this script's own section of ``--out``, between the markers
``<!-- run.py NAME: begin -->`` and ``<!-- run.py NAME: end -->`` (NAME from ``--section``,
"main" by default: the file's opening tables); the rest of the file stays as it is. A partial
run (``--only``, ``--peers``) should go to a section of its own, so that it does not replace
the full tables.

pomegranate needs ``torch`` (install ``torch==2.13.0`` first), gmmx needs JAX (it runs in
float32). Peers are optional: a library that is not installed is skipped.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# This folder on the import path for peers.py only: it holds dask.py, which would shadow Dask in
# the worker processes that `run.py dask` spawns (they run this file again as __mp_main__).
sys.path.insert(0, str(HERE))
from peers import PEERS, available  # noqa: E402

sys.path.remove(str(HERE))

FULL_CONFIGS = [
    (100_000, 2, 3, "full"),
    (1_000_000, 10, 10, "full"),
    (200_000, 50, 20, "full"),
    (1_000_000, 2, 5, "full"),
    (100_000, 2, 3, "diag"),
    (1_000_000, 10, 10, "diag"),
    (1_000_000, 2, 5, "diag"),
]
QUICK_CONFIGS = [
    (100_000, 2, 3, "full"),
    (200_000, 10, 10, "full"),
    (100_000, 2, 3, "diag"),
    (200_000, 10, 10, "diag"),
]
# Convergence runs (time to the optimum) only where every peer finishes in reasonable time.
# (At (1e6, 10, 10) this data set needs hundreds of plain EM iterations: tens of minutes for
# the peers on a shared two-core machine.)
CONVERGE_FULL = {(100_000, 2, 3), (1_000_000, 2, 5)}
TOL = 1e-8  # per-sample gain of the log-likelihood, emkit's default
SPREAD = {2: 4.0}  # scale of the cluster centres by D (default 3): clusters overlap a little
MAX_ITER_CONVERGE = 300


@dataclass
class Measurement:
    seconds: float
    n_iter: int
    peak_mb: float
    log_likelihood: float


def make_data(n: int, d: int, k: int, seed: int = 0) -> np.ndarray:
    """K Gaussian clusters with random centres and random full covariances."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=SPREAD.get(d, 3.0), size=(k, d))
    factors = rng.normal(scale=0.5, size=(k, d, d)) / np.sqrt(d) + np.eye(d)
    weights = rng.dirichlet(np.full(k, 5.0))
    labels = rng.choice(k, size=n, p=weights)
    x = np.empty((n, d))
    for j in range(k):
        rows = labels == j
        x[rows] = centres[j] + rng.standard_normal((int(rows.sum()), d)) @ factors[j].T
    return x


def starting_point(x: np.ndarray, k: int, cov: str) -> dict:
    """Weights, means and covariances from emkit's k-means++ start (the same for everybody)."""
    from emkit import GaussianMixture

    start = GaussianMixture(k, covariance_type=cov, random_state=0, max_iter=0).fit(x)
    return {"weights": start.weights_, "means": start.means_, "covariances": start.covariances_}


def log_likelihood(x: np.ndarray, params: dict, cov: str) -> float:
    """Total log-likelihood of float64 ``x`` at ``params``, by emkit's float64 code."""
    from emkit.distributions.gaussian import covariance_structure
    from emkit.models.mixture import Mixture

    structure = covariance_structure(cov)
    weights = np.asarray(params["weights"], dtype=np.float64)
    components = structure.from_covariances(
        np.asarray(params["means"], dtype=np.float64),
        np.asarray(params["covariances"], dtype=np.float64),
    )
    model = Mixture(weights / weights.sum(), components)
    total = 0.0
    for start in range(0, x.shape[0], 65_536):
        total += float(model.log_resp(x[start : start + 65_536])[1].sum())
    return total


def _rss_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def measure(run, *args) -> tuple[float, float, float, object]:
    """Seconds, CPU seconds (all threads), peak added memory (MB) and the result of
    ``run(*args)``."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak resident set size (VmHWM)
        before = _rss_mb("VmRSS")
    except OSError:
        before = float("nan")
    tic, cpu = time.perf_counter(), time.process_time()
    out = run(*args)
    seconds, cpu = time.perf_counter() - tic, time.process_time() - cpu
    peak = _rss_mb("VmHWM") - before
    return seconds, cpu, peak, out


def machine() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                info["cpu"] = line.split(":", 1)[1].strip()
    except OSError:
        pass
    info["cores"] = str(len(os.sched_getaffinity(0)))
    return info


def versions(names: list[str]) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ["emkit", "numpy", "scipy", *names, "torch", "jax"]:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def fmt(value: float, digits: int = 3) -> str:
    if value != value:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


# The other benchmarks, each its own script in this folder: ``run.py SUITE [ARGS ...]`` runs
# ``SUITE.py``'s main with ARGS (its own options; ``run.py SUITE --help`` lists them).
SUITES = {
    "kmeans": "KMeans against scikit-learn's Lloyd, same start (issue 16)",
    "families": "MixtureModel families against pomegranate and GaussianMixture (issue 16)",
    "threads": "the Gaussian pass's seconds per iteration on 1, 2, ... threads (issue 16)",
    "big_csv": "emkit fit on a 197 MB CSV: seconds and peak memory (issue 16)",
    "dask": "EM on a Dask LocalCluster against the in-process fit of the same data",
    "gpu": "seconds per EM iteration on a GPU: emkit's torch backend against gmmx, pomegranate",
    "bayes": "BayesianMixture's effective samples per second against PyMC",
    "relabel": "BayesianMixture's Stephens relabelling against its sampling, in one fit",
    "inference": "predict, predict_proba, score_samples, transform against scikit-learn",
    "classifier": "GenerativeClassifier against LinearDiscriminantAnalysis and QDA, labelled rows",
}


def run_suite(name: str, argv: list[str]) -> int:
    """``name``.py's main with ``argv`` (this folder on the import path; loaded from its file,
    since ``dask`` is also the library's name)."""
    import importlib.util

    sys.path.insert(0, str(HERE))
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.argv = [f"benchmarks/{name}.py", *argv]
    # bayes.py and dask.py read sys.argv themselves
    result = module.main() if name in ("bayes", "dask") else module.main(argv)
    return int(result or 0)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUITES:
        return run_suite(argv[0], argv[1:])
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="Other benchmarks: run.py SUITE [ARGS ...] with SUITE one of "
        + "; ".join(f"{name} ({what})" for name, what in SUITES.items()),
    )
    parser.add_argument("--quick", action="store_true", help="small configurations (< 2 min)")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"), help="results file")
    parser.add_argument("--repeats", type=int, default=None, help="timing repeats")
    parser.add_argument(
        "--only", type=int, nargs="*", default=None, help="indices of the configurations to run"
    )
    parser.add_argument(
        "--peers", nargs="*", default=None, help="peers to compare (default: all installed)"
    )
    parser.add_argument(
        "--section", default="main", help="the section of --out to replace (default: main)"
    )
    parser.add_argument(
        "--no-converge", action="store_true", help="seconds per iteration and memory only"
    )
    parser.add_argument(
        "--marginal",
        action="store_true",
        help="also the marginal seconds per iteration, (fit(iters) - fit(1)) / (iters - 1)",
    )
    parser.add_argument(
        "--iters",
        type=int,
        help="EM iterations of each timed fit (default: 3 where N D^2 K >= 1e8, else 15)",
    )
    args = parser.parse_args(argv)
    if args.iters is not None and args.iters < 2:
        parser.error("--iters must be at least 2")
    configs = QUICK_CONFIGS if args.quick else FULL_CONFIGS
    if args.only is not None:
        configs = [configs[i] for i in args.only]
    peers = [name for name in PEERS if name != "emkit"] if args.peers is None else args.peers
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        parser.error(f"unknown peers {unknown}; known: {', '.join(PEERS)}")
    libs = ["emkit"] + [name for name in peers if name != "emkit" and available(name)]
    load_start = os.getloadavg()
    command = "python " + shlex.join(["benchmarks/run.py", *argv])
    print(f"# {command}: libraries {', '.join(libs)}; load average {load_start}", flush=True)
    rows = []
    for n, d, k, cov in configs:
        x = make_data(n, d, k)
        start = starting_point(x, k, cov)
        heavy = n * d * d * k >= 1e8
        per_iter_iters = args.iters or (3 if heavy else 15)
        repeats = args.repeats or (1 if heavy else 3)
        per_iter: dict[str, list[float]] = {lib: [] for lib in libs}
        cpu_iter: dict[str, list[float]] = {lib: [] for lib in libs}
        marginal: dict[str, list[float]] = {lib: [] for lib in libs}
        memory: dict[str, float] = {}
        loads = []
        for rep in range(repeats):
            order = libs[rep % len(libs) :] + libs[: rep % len(libs)]
            for lib in order:
                runner = PEERS[lib]
                runner.warm_up(x, start, cov)
                getattr(runner, "prepare_fixed", lambda *a: None)(x, start, cov, per_iter_iters)
                seconds, cpu, peak, out = measure(runner.fixed, x, start, cov, per_iter_iters)
                per_iter[lib].append(seconds / out.n_iter)
                cpu_iter[lib].append(cpu / out.n_iter)
                memory[lib] = max(memory.get(lib, 0.0), peak)
                if args.marginal:
                    getattr(runner, "prepare_fixed", lambda *a: None)(x, start, cov, 1)
                    one = measure(runner.fixed, x, start, cov, 1)
                    again = measure(runner.fixed, x, start, cov, per_iter_iters)
                    steps = max(again[3].n_iter - one[3].n_iter, 1)
                    marginal[lib].append((again[0] - one[0]) / steps)
            loads.append(os.getloadavg()[0])
            print(
                f"  repeat {rep + 1}: "
                + ", ".join(
                    f"{lib} {fmt(per_iter[lib][-1])} (CPU {fmt(cpu_iter[lib][-1])}"
                    + (f", marginal {fmt(marginal[lib][-1])}" if marginal[lib] else "")
                    + ")"
                    for lib in libs
                )
                + f" s/iter; load {loads[-1]:.2f}",
                flush=True,
            )
        converge: dict[str, Measurement] = {}
        if not args.no_converge and (args.quick or (n, d, k) in CONVERGE_FULL):
            for lib in libs:
                runner = PEERS[lib]
                runner.warm_up(x, start, cov)
                prepare = getattr(runner, "prepare_converge", lambda *a: None)
                max_iter = MAX_ITER_CONVERGE // 3 if args.quick else MAX_ITER_CONVERGE
                prepare(x, start, cov, TOL, max_iter)
                seconds, _, peak, out = measure(runner.converge, x, start, cov, TOL, max_iter)
                converge[lib] = Measurement(
                    seconds, out.n_iter, peak, log_likelihood(x, out.params, cov)
                )
                memory[lib] = max(memory[lib], peak)
        row = {
            "config": (n, d, k, cov),
            "per_iter": {lib: float(np.median(v)) for lib, v in per_iter.items()},
            "repeats": per_iter,
            "cpu": cpu_iter,
            "marginal": {lib: float(np.median(v)) for lib, v in marginal.items() if v},
            "loads": loads,
            "memory": memory,
            "converge": converge,
        }
        rows.append(row)
        print_row(row, libs)
        write_results(
            Path(args.out), args.section, rows, libs, command, load_start, os.getloadavg()
        )
        del x
        gc.collect()
    load_end = os.getloadavg()
    write_results(Path(args.out), args.section, rows, libs, command, load_start, load_end)
    print(f"# load average at the end {load_end}; written {args.out}")
    return 0


def print_row(row: dict, libs: list[str]) -> None:
    n, d, k, cov = row["config"]
    print(f"\n({n:.0e}, {d}, {k}) {cov}")
    ours = row["per_iter"]["emkit"]
    for lib in libs:
        line = f"  {lib:12s} s/iter {fmt(row['per_iter'][lib])}"
        if lib != "emkit":
            line += f" (emkit x{fmt(ours / row['per_iter'][lib], 2)})"
        if lib in row["marginal"]:
            line += f"  marginal {fmt(row['marginal'][lib])}"
        line += f"  peak +{fmt(row['memory'][lib])} MB"
        if lib in row["converge"]:
            m = row["converge"][lib]
            line += f"  converge {fmt(m.seconds)} s, {m.n_iter} it, loglik {m.log_likelihood:.6f}"
        print(line, flush=True)


def markers(section: str) -> tuple[str, str]:
    """The comments around ``section``'s text in the results file."""
    return f"<!-- run.py {section}: begin -->", f"<!-- run.py {section}: end -->"


def write_results(path, section, rows, libs, command, load_start, load_end) -> None:
    """Replace ``section``'s text in ``path`` (appended where the file has none), leaving the
    rest of the file as it is; the file is written whole or not at all."""
    text = path.read_text() if path.exists() else ""
    begin, end = markers(section)
    body = "\n".join([begin, results_text(section, rows, libs, command, load_start, load_end), end])
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + body + rest.split(end, 1)[1]
    else:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + body + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _ratio_table(rows: list[dict], libs: list[str], field: str) -> list[str]:
    """Markdown lines of a table of ``row[field]`` (seconds per library) and emkit's ratios."""
    lines = [
        "| (N, D, K), covariance | "
        + " | ".join(libs)
        + " | "
        + " | ".join(f"emkit / {lib}" for lib in libs if lib != "emkit")
        + " |",
        "|" + "---|" * (2 * len(libs)),
    ]
    for row in rows:
        n, d, k, cov = row["config"]
        per = row[field]
        cells = [fmt(per[lib]) for lib in libs]
        ratios = [fmt(per["emkit"] / per[lib], 2) for lib in libs if lib != "emkit"]
        lines.append(f"| {n:.0e}, {d}, {k}, {cov} | " + " | ".join(cells + ratios) + " |")
    return lines


def results_text(section, rows, libs, command, load_start, load_end) -> str:
    """The tables of one run; the main section opens the file (its title is the file's)."""
    info = machine()
    h1, h2 = ("#", "##") if section == "main" else ("##", "###")
    title = "Benchmark results" if section == "main" else f"Gaussian mixtures: {section}"
    lines = [
        f"{h1} {title}",
        "",
        f"Command: `{command}` (with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset).",
        "",
        "Machine: "
        + ", ".join(f"{key} {value}" for key, value in info.items())
        + f"; load average {tuple(round(v, 2) for v in load_start)} at the start, "
        + f"{tuple(round(v, 2) for v in load_end)} at the end (a shared machine).",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions(libs).items()) + ".",
        "",
        "All libraries fit the same data from the same starting parameters, alternating within",
        "one run; float64 except gmmx (JAX, float32). Ratios are emkit / peer (below 1: emkit",
        "faster or smaller).",
        "",
        f"{h2} Seconds per EM iteration (plain EM)",
        "",
        *_ratio_table(rows, libs, "per_iter"),
    ]
    if any(row.get("marginal") for row in rows):
        lines += [
            "",
            "Marginal seconds per iteration, (fit(iters) - fit(1)) / (iters - 1), from two fits",
            "after the timed one (median over the repeats):",
            "",
            *_ratio_table(rows, libs, "marginal"),
        ]
    if any(len(row["loads"]) > 1 for row in rows):
        lines += [
            "",
            "Each repeat: seconds per iteration (CPU seconds of all threads per iteration); "
            "load average after the repeat:",
            "",
        ]
        for row in rows:
            n, d, k, cov = row["config"]
            reps = [
                ", ".join(
                    f"{lib} {fmt(row['repeats'][lib][i])} ({fmt(row['cpu'][lib][i])})"
                    for lib in libs
                )
                + f" (load {row['loads'][i]:.2f})"
                for i in range(len(row["loads"]))
            ]
            lines.append(f"- {n:.0e}, {d}, {k}, {cov}: " + "; ".join(reps))
    lines += [
        "",
        f"{h2} Peak memory added by the fit (MB, beyond the loaded data)",
        "",
        "| (N, D, K), covariance | data MB | " + " | ".join(libs) + " |",
        "|" + "---|" * (len(libs) + 2),
    ]
    for row in rows:
        n, d, k, cov = row["config"]
        cells = [fmt(row["memory"][lib]) for lib in libs]
        lines.append(
            f"| {n:.0e}, {d}, {k}, {cov} | {n * d * 8 / 2**20:.0f} | " + " | ".join(cells) + " |"
        )
    if not any(row["converge"] for row in rows):
        return "\n".join(lines)
    lines += [
        "",
        f"{h2} Time to convergence from the same start (tolerance 1e-8 per sample for everyone)",
        "",
        "emkit as shipped (SQUAREM); peers plain EM. Log-likelihood of each library's final",
        "parameters evaluated in float64 by the same code.",
        "",
        "| (N, D, K), covariance | library | seconds | iterations | log-likelihood "
        "| emkit time ratio |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        n, d, k, cov = row["config"]
        conv = row["converge"]
        for lib in libs:
            if lib not in conv:
                continue
            m = conv[lib]
            ratio = fmt(conv["emkit"].seconds / m.seconds, 2) if lib != "emkit" else ""
            lines.append(
                f"| {n:.0e}, {d}, {k}, {cov} | {lib} | {fmt(m.seconds)} | {m.n_iter} | "
                f"{m.log_likelihood:.6f} | {ratio} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
