"""Effective samples per second for the component means: emkit's Gibbs sampler against PyMC.

The model is the issue's two-component normal mixture on Old Faithful's waiting times
(``tests/reference/faithful_pymc.py`` defines it for PyMC; ``BayesianMixture`` with
``UniformSDNormal`` priors, ordered means and a minimum weight of 0.1 is the same model here):
PyMC samples the marginalised mixture (``NormalMixture``) with NUTS, emkit runs blocked Gibbs
on the latent labels (its default: the means drawn by overrelaxation, ``overrelaxation=-0.7``;
``--overrelaxation 0`` for plain Gibbs draws). n = 272 is the data; larger n are drawn from
the mixture at the posterior means of the 272, in whole minutes as the waiting times are
recorded (or unrounded with ``--continuous``). emkit's sampler takes equal rows once, with
their count (the labels of m equal rows are one multinomial draw), where rows repeat 20 times
or more on average, so on recorded data at large n its cost per sweep follows the number of
distinct values, not n; on continuous data every row is distinct. One run per size, single
process (PyMC ``cores=1``: its chains run one after the other; emkit's run vectorised in one
E-step, so ``--emkit-chains 16`` costs little more than 4). Each row records the load average
(``os.getloadavg``) before each library's run: on a shared machine timings follow the load.

Effective sample size is arviz's bulk ESS over all chains; the rate divides it by wall-clock
seconds: emkit's whole ``fit``, PyMC's ``sampling_time`` (the sampling alone, without building
and compiling the model, which is reported too). The ratio is emkit's rate over PyMC's for
the worse-mixing mean of each.

    python benchmarks/bayes.py                     # n = 272 and 100000
    python benchmarks/bayes.py --n 100000 --continuous --pymc-from earlier.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from emkit import BayesianMixture, Normal, UniformSDNormal

ROOT = Path(__file__).resolve().parent.parent
# benchmarks/dask.py would shadow the dask package that PyMC's xarray imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
REFERENCE = ROOT / "tests" / "reference" / "faithful_pymc.py"


def reference_module():
    if importlib.util.find_spec("pymc") is None:
        raise SystemExit(
            f"benchmarks/bayes.py needs PyMC: {REFERENCE.relative_to(ROOT)} defines the model "
            "with it (also with --pymc-from). Install it with `pip install pymc`."
        )
    spec = importlib.util.spec_from_file_location("faithful_pymc", REFERENCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def data(n: int, ref, minutes: bool) -> np.ndarray:
    """Old Faithful's waiting times (n = 272), or n drawn from the mixture at the 272's
    posterior means: rounded to whole minutes as the waiting times are recorded
    (``minutes``), or unrounded."""
    waiting, _ = ref.faithful()
    if n == waiting.size:
        return waiting
    rng = np.random.default_rng(n)
    # The posterior means of the 272 (tests/reference/faithful_pymc.json).
    weight, means, sds = 0.362, np.array([54.64, 80.08]), np.array([6.02, 5.96])
    z = (rng.random(n) >= weight).astype(int)
    x = rng.normal(means[z], sds[z])
    return np.round(x) if minutes else x


def ess_bulk(draws: np.ndarray) -> float:
    import arviz as az

    return float(az.ess(draws, method="bulk"))


def run_emkit(
    x: np.ndarray, ref, chains: int, draws: int, tune: int, overrelaxation: float = -0.7
) -> dict:
    prior = ref.PRIOR
    priors = [
        UniformSDNormal(m, s, prior["sd_upper"])
        for m, s in zip(prior["means"], prior["means_sd"], strict=True)
    ]
    model = BayesianMixture(
        [Normal(), Normal()],
        priors=priors,
        constraints={"ordered": True, "min_weight": prior["min_weight"]},
        chains=chains,
        draws=draws,
        tune=tune,
        overrelaxation=overrelaxation,
        random_state=0,
    )
    load = os.getloadavg()[0]
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(x[:, None])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    means = model.samples_["mean"][..., 0]  # (chains, draws, 2)
    ess = [ess_bulk(means[..., k]) for k in range(2)]
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "load": load,
        "ess": ess,
        "posterior_mean": means.mean(axis=(0, 1)).tolist(),
    }


def run_pymc(x: np.ndarray, ref, chains: int, draws: int, tune: int) -> dict:
    import pymc as pm

    load = os.getloadavg()[0]
    start = time.perf_counter()
    with ref.model(x):
        idata = pm.sample(
            draws, tune=tune, chains=chains, cores=1, random_seed=0, progressbar=False
        )
    total = time.perf_counter() - start
    seconds = float(idata.sample_stats.attrs["sampling_time"])
    means = idata.posterior["means"].values  # (chains, draws, 2)
    ess = [ess_bulk(means[..., k]) for k in range(2)]
    return {
        "seconds": seconds,
        "seconds_with_compile": total,
        "load": load,
        "ess": ess,
        "posterior_mean": means.mean(axis=(0, 1)).tolist(),
        "divergences": int(idata.sample_stats["diverging"].sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[272, 100_000])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--emkit-chains", type=int, default=None, help="default: --chains")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--pymc-draws", type=int, default=None, help="default: --draws")
    parser.add_argument("--overrelaxation", type=float, default=-0.7, help="emkit's (0: Gibbs)")
    parser.add_argument(
        "--continuous",
        action="store_true",
        help="simulated waiting times unrounded (default: whole minutes, as recorded)",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument(
        "--pymc-from",
        type=Path,
        default=None,
        help="take PyMC's results from this --json file of an earlier run (same n) instead "
        "of sampling again (PyMC at n = 1e5 takes long)",
    )
    args = parser.parse_args()
    ref = reference_module()
    earlier = {}
    if args.pymc_from is not None:
        earlier = {r["n"]: r["pymc"] for r in json.loads(args.pymc_from.read_text())}
    rows = []
    for n in args.n:
        x = data(n, ref, minutes=not args.continuous)
        mine = run_emkit(
            x, ref, args.emkit_chains or args.chains, args.draws, args.tune, args.overrelaxation
        )
        print(f"n = {n}: emkit {json.dumps(mine)}", flush=True)
        if n in earlier:
            theirs = earlier[n]
        else:
            theirs = run_pymc(x, ref, args.chains, args.pymc_draws or args.draws, args.tune)
        rate_mine = min(mine["ess"]) / mine["seconds"]
        rate_theirs = min(theirs["ess"]) / theirs["seconds"]
        row = {
            "n": n,
            "data": "continuous" if args.continuous else "minutes",
            "distinct": int(np.unique(x).size),
            "emkit_chains": args.emkit_chains or args.chains,
            "emkit": mine,
            "pymc": theirs,
            "ess_per_s_emkit": rate_mine,
            "ess_per_s_pymc": rate_theirs,
            "ratio": rate_mine / rate_theirs,
        }
        rows.append(row)
        print(json.dumps(row, indent=1), flush=True)
    print(
        "\n| n | emkit s (load) | emkit ESS | emkit ESS/s | PyMC s (load) | PyMC ESS "
        "| PyMC ESS/s | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        e, p = r["emkit"], r["pymc"]
        theirs_load = f"{p['load']:.1f}" if "load" in p else "?"
        print(
            f"| {r['n']} | {e['seconds']:.2f} ({e['load']:.1f}) | {min(e['ess']):.0f} "
            f"| {r['ess_per_s_emkit']:.0f} | {p['seconds']:.1f} ({theirs_load}) "
            f"| {min(p['ess']):.0f} | {r['ess_per_s_pymc']:.1f} | {r['ratio']:.1f}x |"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
