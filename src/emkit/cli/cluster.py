"""``emkit fit DATA --scheduler ADDRESS`` or ``--workers N``: model selection on a Dask cluster.

The data (one Parquet or CSV file, or a glob of them) are read as a dask DataFrame and never
gathered: every EM round runs on the workers (:mod:`emkit.backend.dask_source`). What comes
back is the selection table, the chosen model (``model.json``) and, written by the workers,
each row's label and probabilities (``assignments/``, Parquet, one file per partition).
"""

from __future__ import annotations

import argparse
import copy
import os
from contextlib import ExitStack
from pathlib import Path

from emkit.exceptions import DataError


def add_options(parser: argparse.ArgumentParser) -> None:
    """The cluster options of ``emkit fit``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--scheduler",
        help="address of a running Dask scheduler (tcp://host:8786): fit on that cluster; "
        "DATA may then be a glob such as 'data/*.parquet' larger than this machine's memory",
    )
    group.add_argument(
        "--workers",
        type=int,
        help="fit on a local Dask cluster of this many single-threaded worker processes",
    )
    parser.add_argument(
        "--memory-limit",
        default="auto",
        help="with --workers: memory per worker, e.g. 2GB (default: a share of this machine's)",
    )


def on_cluster(args: argparse.Namespace) -> bool:
    """Whether ``emkit fit`` was asked to run on a Dask cluster."""
    return (
        getattr(args, "scheduler", None) is not None or getattr(args, "workers", None) is not None
    )


def read(data: str, columns: list[str] | None):
    """A dask DataFrame of the numeric columns of ``data`` (a file or a glob)."""
    import dask.dataframe as dd

    suffix = Path(data.rstrip("*/")).suffix.lower() or Path(data).suffix.lower()
    try:
        frame = dd.read_csv(data) if suffix in (".csv", ".txt") else dd.read_parquet(data)
    except (OSError, ValueError) as exc:
        raise DataError(f"{data}: cannot be read as a table ({exc})") from None
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(
                f"{data}: no column {', '.join(map(repr, missing))}; "
                f"columns are {', '.join(map(str, frame.columns))}"
            )
        frame = frame[columns]
    return frame


def fit_on_cluster(
    args: argparse.Namespace, ks: list[int], types: list[str], columns: list[str] | None
) -> int:
    """Run ``emkit fit`` with ``--scheduler`` or ``--workers``; returns the exit status.

    ``ks``, ``types`` and ``columns`` are the parsed ``-k``, ``--covariance`` and
    ``--columns``. Options that need the rows in this process (``--standardize``,
    ``--device``, ``--id``) are refused."""
    for option, value in (
        ("--standardize", getattr(args, "standardize", False)),
        ("--device", getattr(args, "device", None)),
        ("--id", getattr(args, "id_column", None)),
    ):
        if value:
            raise DataError(f"{option} cannot be combined with --scheduler or --workers")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise DataError(
            'fitting on a Dask cluster needs dask.distributed: pip install "emkit[dask]"'
        ) from None
    import numpy as np

    from emkit.estimators import GaussianMixture, select_mixture

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: exists and is not a folder; name a folder to write into")
    with ExitStack() as stack:
        if args.scheduler is not None:
            client = stack.enter_context(Client(args.scheduler))
        else:
            if args.workers < 1:
                raise DataError(f"--workers must be at least 1; got {args.workers}")
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=args.workers,
                    threads_per_worker=1,
                    memory_limit=args.memory_limit,
                    dashboard_address=None,
                )
            )
            client = stack.enter_context(Client(cluster))
        frame = read(args.data, columns)
        names = [str(c) for c in frame.columns]
        if len(names) == 1 and str(args.covariance).strip().lower() == "all":
            types = ["EII", "spherical"]  # mclust's E and V, as in memory
        # mclust's hierarchical start, as in memory: the tree is cut on the rows of the
        # starting sample drawn on the workers (all rows up to 100 000, of which the tree
        # reads a fixed subset of 2000, as mclust does), so the start is the in-memory one.
        template = GaussianMixture(
            init_params="hc",
            n_init=args.n_init,
            random_state=args.seed,
            missing=getattr(args, "missing", "error"),
        )
        try:
            selection = select_mixture(frame, ks, types, args.criterion, estimator=template)
        except ValueError as exc:
            raise DataError(f"{args.data}: {exc}") from None
        best = selection.best_
        table = selection.table_.sort_values(args.criterion)
        print(
            f"Chosen by {args.criterion.upper()}: {best.n_components} components, "
            f"{best.covariance_type!r}; fitted on {len(client.scheduler_info()['workers'])} "
            "Dask workers"
        )
        print(table.to_string(index=False))
        out.mkdir(parents=True, exist_ok=True)
        named = copy.copy(best)
        named.feature_names_in_ = np.asarray(names, dtype=object)
        named.save(out / "model.json")
        _write_assignments(best, frame, out / "assignments")
    print()
    print(f"Wrote to {out}{os.sep}")
    print(f"  {'model.json':<16} the fitted model (emkit.load, emkit predict)")
    print(
        f"  {'assignments/':<16} label, probability, p0.. per row (Parquet, one file per partition)"
    )
    return 0


def _write_assignments(model, frame, folder: Path) -> None:
    """Each row's label, its probability and every component's, written by the workers."""
    import dask.array as da
    import dask.dataframe as dd

    proba = model.predict_proba(frame)  # lazy (n, k), frame's partitions
    labels = proba.argmax(axis=1)
    table = da.concatenate(
        [labels[:, None].astype(float), proba.max(axis=1)[:, None], proba], axis=1
    )
    names = ["label", "probability", *[f"p{j}" for j in range(proba.shape[1])]]
    dd.from_dask_array(table, columns=names).to_parquet(folder, write_index=False)
