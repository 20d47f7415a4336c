"""Seconds per plain EM iteration on a GPU: emkit (PyTorch backend) against gmmx and pomegranate.

Usage::

    python benchmarks/gpu.py [--device cuda] [--quick] [--iters 10] [--stream ROWS]
    python benchmarks/gpu.py --device cpu --quick   # proves the script without a GPU

For each configuration of issue 10's table the data (``run.make_data``) and the start (emkit's
k-means++, ``run.starting_point``) are made once; then every library runs the same number of
plain EM iterations from that start, and the seconds per iteration are printed and written:
emkit on the device in float32 and float64 (data already on the device, as for the peers),
gmmx (JAX, float32, on JAX's default device), pomegranate (PyTorch, float32, on the device),
and emkit (NumPy, float64) and scikit-learn on the CPU where the configuration is small enough.
Each library's final parameters are evaluated by the same float64 code; the table shows the
relative difference of emkit's float32 device fit from emkit's float64 CPU fit (or, where the
CPU is skipped, from its float64 device fit). Peers that are not installed are skipped.

``--stream ROWS`` adds the streaming measurement: a memory-mapped ``.npy`` of ROWS x 10
float32 rows fitted with the data left on the host (chunks copied to the device each
iteration), against the time of one host-to-device copy of the whole array.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from peers import PEERS, REG_COVAR, available  # noqa: E402
from run import log_likelihood, machine, make_data, starting_point  # noqa: E402

FULL_CONFIGS = [
    (1_000_000, 10, 10, "full"),
    (1_000_000, 2, 5, "full"),
    (200_000, 50, 20, "full"),
    (1_000_000, 10, 10, "diag"),
    (10_000_000, 10, 10, "full"),
    (10_000_000, 50, 20, "full"),
]
QUICK_CONFIGS = [
    (20_000, 10, 10, "full"),
    (20_000, 2, 5, "full"),
    (5_000, 20, 8, "full"),
    (20_000, 10, 10, "diag"),
]
# Above this many row-features-components the CPU libraries are left out (minutes per run).
CPU_LIMIT = 3e8


def _sync(device) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _precisions(start: dict, cov: str) -> np.ndarray:
    return np.linalg.inv(start["covariances"]) if cov == "full" else 1.0 / start["covariances"]


def emkit_device(x_dev, start, cov, iters, device, dtype) -> tuple[float, dict]:
    """Seconds per iteration and final parameters of emkit's plain EM on ``device``."""
    from emkit import GaussianMixture

    def fit(n_iter):
        return GaussianMixture(
            start["weights"].shape[0],
            covariance_type=cov,
            reg_covar=REG_COVAR,
            weights_init=start["weights"],
            means_init=start["means"],
            precisions_init=_precisions(start, cov),
            tol=0.0,
            max_iter=n_iter,
            accelerate=None,
            device=device,
            dtype=dtype,
        ).fit(x_dev)

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(1)  # first-call costs (CUDA context, kernels), untimed
        _sync(device)
        tic = time.perf_counter()
        model = fit(iters)
        _sync(device)
        seconds = time.perf_counter() - tic
    params = {"weights": model.weights_, "means": model.means_, "covariances": model.covariances_}
    return seconds / max(model.n_iter_, 1), params


def pomegranate_device(x, start, cov, iters, device) -> float | None:
    """Seconds per iteration of pomegranate's EM in float32 on ``device`` (None if absent)."""
    if not available("pomegranate"):
        return None
    import torch
    from pomegranate.distributions import Normal
    from pomegranate.gmm import GeneralMixtureModel

    data = torch.as_tensor(x, dtype=torch.float32, device=device)

    def fit(n_iter):
        dists = [
            Normal(
                means=torch.tensor(m, dtype=torch.float32, device=device),
                covs=torch.tensor(c, dtype=torch.float32, device=device),
                covariance_type=cov,
            )
            for m, c in zip(start["means"], start["covariances"], strict=True)
        ]
        model = GeneralMixtureModel(
            dists,
            priors=torch.tensor(start["weights"], dtype=torch.float32, device=device),
            max_iter=n_iter,
            tol=-np.inf,
            verbose=False,
        ).to(device)
        model.fit(data)

    try:
        fit(1)
        _sync(device)
        tic = time.perf_counter()
        fit(iters)
        _sync(device)
        return (time.perf_counter() - tic) / iters
    except Exception as exc:  # a peer's failure is reported, not fatal
        print(f"  pomegranate failed: {type(exc).__name__}: {exc}")
        return None


def gmmx_seconds(x, start, cov, iters) -> float | None:
    if not available("gmmx"):
        return None
    gmmx = PEERS["gmmx"]
    try:
        gmmx.warm_up(x, start, cov)
        gmmx.prepare_fixed(x, start, cov, iters)
        gmmx.fixed(x, start, cov, iters)  # compiled; first run untimed
        tic = time.perf_counter()
        fit = gmmx.fixed(x, start, cov, iters)
        return (time.perf_counter() - tic) / max(fit.n_iter, 1)
    except Exception as exc:
        print(f"  gmmx failed: {type(exc).__name__}: {exc}")
        return None


def cpu_seconds(name, x, start, cov, iters) -> tuple[float | None, dict | None]:
    if name != "emkit" and not available(name):
        return None, None
    peer = PEERS[name]
    peer.warm_up(x, start, cov)
    tic = time.perf_counter()
    fit = peer.fixed(x, start, cov, iters)
    return (time.perf_counter() - tic) / max(fit.n_iter, 1), fit.params


def stream(rows: int, device, iters: int) -> dict:
    """A memory-mapped float32 .npy of ``rows`` x 10 fitted from the host, against one copy."""
    import torch

    from emkit import GaussianMixture

    d, k = 10, 10
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "rows.npy")
        data = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, d))
        rng = np.random.default_rng(0)
        centres = rng.normal(scale=3.0, size=(k, d)).astype(np.float32)
        step = 1 << 22
        for start in range(0, rows, step):
            m = min(step, rows - start)
            data[start : start + m] = centres[rng.integers(0, k, m)] + rng.standard_normal(
                (m, d), dtype=np.float32
            )
        data.flush()
        del data
        mapped = np.load(path, mmap_mode="r")
        # One host-to-device copy of the whole array, chunk by chunk through pinned memory.
        chunk = 1 << 22
        buffer = torch.empty((chunk, d), dtype=torch.float32)
        if torch.device(device).type == "cuda":
            buffer = buffer.pin_memory()
        target = torch.empty((chunk, d), dtype=torch.float32, device=device)
        tic = time.perf_counter()
        for start in range(0, rows, chunk):
            m = min(chunk, rows - start)
            buffer[:m].copy_(torch.from_numpy(np.ascontiguousarray(mapped[start : start + m])))
            target[:m].copy_(buffer[:m], non_blocking=True)
            _sync(device)
        copy = time.perf_counter() - tic
        sample = np.asarray(mapped[: min(rows, 100_000)], dtype=np.float64)
        start_params = starting_point(sample, k, "full")
        model_kwargs = dict(
            covariance_type="full",
            weights_init=start_params["weights"],
            means_init=start_params["means"],
            precisions_init=np.linalg.inv(start_params["covariances"]),
            tol=0.0,
            accelerate=None,
            device=device,
            dtype=np.float32,
        )
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tic = time.perf_counter()
            model = GaussianMixture(k, max_iter=iters, **model_kwargs).fit(path)
            _sync(device)
            seconds = (time.perf_counter() - tic) / max(model.n_iter_, 1)
    return {"rows": rows, "per_iter": seconds, "copy": copy, "ratio": seconds / copy}


def device_name(device) -> str:
    import torch

    where = torch.device(device)
    if where.type == "cuda":
        props = torch.cuda.get_device_properties(where)
        return f"{props.name} ({props.total_memory / 2**30:.0f} GiB), torch {torch.__version__}"
    return f"CPU via PyTorch {torch.__version__} ({torch.get_num_threads()} threads)"


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--stream", type=int, default=0, help="rows of the streaming test")
    parser.add_argument("--out", default=str(HERE / "RESULTS-gpu.md"))
    args = parser.parse_args(argv)
    configs = QUICK_CONFIGS if args.quick else FULL_CONFIGS
    rows = []
    for n, d, k, cov in configs:
        print(f"(N, D, K) = ({n:.0e}, {d}, {k}), {cov}", flush=True)
        import torch

        x = make_data(n, d, k)
        start = starting_point(x[: min(n, 100_000)], k, cov)
        out: dict = {"config": (n, d, k, cov)}
        x32 = torch.as_tensor(x, dtype=torch.float32, device=args.device)
        out["f32"], p32 = emkit_device(x32, start, cov, args.iters, args.device, np.float32)
        del x32
        try:
            x64 = torch.as_tensor(x, dtype=torch.float64, device=args.device)
            out["f64"], p64 = emkit_device(x64, start, cov, args.iters, args.device, np.float64)
            del x64
        except torch.cuda.OutOfMemoryError:
            out["f64"], p64 = None, None
            print("  float64: out of memory")
        out["gmmx"] = gmmx_seconds(x, start, cov, args.iters)
        out["pomegranate"] = pomegranate_device(x, start, cov, args.iters, args.device)
        reference = p64
        if n * d * k <= CPU_LIMIT:
            out["cpu"], reference = cpu_seconds("emkit", x, start, cov, args.iters)
            out["sklearn"] = cpu_seconds("scikit-learn", x, start, cov, args.iters)[0]
        if reference is not None:
            ll32 = log_likelihood(x, p32, cov)
            ll_ref = log_likelihood(x, reference, cov)
            out["rel"] = abs(ll32 - ll_ref) / abs(ll_ref)
        print("  " + ", ".join(f"{key} {fmt(v)}" for key, v in out.items() if key != "config"))
        rows.append(out)
        if torch.device(args.device).type == "cuda":
            torch.cuda.empty_cache()
    streamed = stream(args.stream, args.device, 3) if args.stream else None
    write(args, rows, streamed)
    return 0


def write(args, rows, streamed) -> None:
    info = machine()
    lines = [
        "# emkit on a GPU: seconds per plain EM iteration",
        "",
        f"Command: `python benchmarks/gpu.py {' '.join(sys.argv[1:])}`  ",
        f"Device: {device_name(args.device)}  ",
        f"Host: {info.get('cpu', '?')}, {info['cores']} cores, Python {info['python']}  ",
        f"{args.iters} plain EM iterations from the same k-means++ start, one run.",
        "",
    ]
    if not str(args.device).startswith("cuda"):
        lines += [
            "**No GPU: this run is on the CPU through PyTorch (`--device cpu`), to show the "
            "script works; issue 10's GPU numbers are still to be measured with "
            "`python benchmarks/gpu.py --device cuda`.**",
            "",
        ]
    lines += [
        "| (N, D, K), covariance | emkit device f32 | emkit device f64 | f64 / f32 | gmmx f32 "
        "| pomegranate device f32 | emkit CPU f64 | scikit-learn CPU | emkit f32 vs f64 log-lik "
        "(rel.) | emkit f32 / gmmx |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for out in rows:
        n, d, k, cov = out["config"]
        f32, f64, gmmx = out.get("f32"), out.get("f64"), out.get("gmmx")
        lines.append(
            f"| {n:.0e}, {d}, {k}, {cov} | {fmt(f32)} | {fmt(f64)} | "
            f"{fmt(None if f64 is None else f64 / f32)} | {fmt(gmmx)} | "
            f"{fmt(out.get('pomegranate'))} | {fmt(out.get('cpu'))} | {fmt(out.get('sklearn'))} | "
            f"{fmt(out.get('rel'))} | {fmt(None if gmmx is None else f32 / gmmx)} |"
        )
    if streamed is not None:
        lines += [
            "",
            f"Streaming: a memory-mapped .npy of {streamed['rows']:.0e} x 10 float32 rows fitted "
            f"from the host: {streamed['per_iter']:.3g} s per iteration; one host-to-device "
            f"copy of the array {streamed['copy']:.3g} s; ratio {streamed['ratio']:.2f}.",
        ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    raise SystemExit(main())
