"""``emkit fit DATA``: choose a Gaussian mixture by BIC/AIC/ICL, print a summary, write a report."""

from __future__ import annotations

import argparse
import copy
import os
from pathlib import Path

import numpy as np
import pandas as pd

from emkit.cli.progress import ProgressBar
from emkit.distributions.gaussian import ALIASES, COVARIANCES
from emkit.estimators import GaussianMixture, select_mixture
from emkit.estimators.selection import CRITERIA
from emkit.exceptions import DataError
from emkit.io import read_table

DEFAULT_COMPONENTS = "1-9"
DEFAULT_COVARIANCE = "all"
DEFAULT_OUT = "emkit-out"


def register(subparsers) -> None:
    """Add the ``fit`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "fit",
        help="choose and fit a Gaussian mixture (clustering) by BIC, AIC or ICL",
        description="Fit Gaussian mixtures for every number of components and covariance "
        "type, keep the best by the criterion, print a summary and write model.json, "
        "assignments.csv and report.html (with PNG figures) to the output folder.",
    )
    parser.add_argument("data", help="a .csv or .parquet file with a header row")
    parser.add_argument(
        "-k",
        "--components",
        default=DEFAULT_COMPONENTS,
        help="numbers of components: a range 1-9, one number 3, or a list 2,3,5 (default 1-9)",
    )
    parser.add_argument(
        "--covariance",
        default=DEFAULT_COVARIANCE,
        help="all, or a comma list of full, tied, diag, spherical "
        "(or mclust's VVV, EEE, VVI, VII); default all",
    )
    parser.add_argument("--columns", help="comma-separated columns to use (default: all)")
    parser.add_argument(
        "--out", default=DEFAULT_OUT, help=f"output folder (default ./{DEFAULT_OUT})"
    )
    parser.add_argument("--criterion", choices=CRITERIA, default="bic", help="default bic")
    parser.add_argument(
        "--n-init", type=int, default=1, help="EM starts per model; the best is kept (default 1)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def parse_components(spec: str) -> list[int]:
    """Numbers of components from ``"1-9"``, ``"3"``, ``"2,3,5"`` or a mix like ``"1-3,6"``.

    Raises
    ------
    DataError
        When the spec is not made of positive integers and increasing ranges.
    """
    usage = (
        f"-k {spec!r} is not a valid number of components; use a number (3), "
        "a range (1-9) or a comma list (2,3,5) of positive integers"
    )
    ks: set[int] = set()
    for part in spec.split(","):
        bounds = part.strip().split("-")
        if len(bounds) > 2 or not all(b.strip().isdigit() for b in bounds):
            raise DataError(usage)
        low, high = int(bounds[0]), int(bounds[-1])
        if low < 1 or high < low:
            raise DataError(usage)
        ks.update(range(low, high + 1))
    return sorted(ks)


def parse_covariances(spec: str) -> list[str]:
    """Covariance types from ``"all"`` or a comma list of names (mclust's names too, any case).

    Raises
    ------
    DataError
        When a name is unknown.
    """
    if spec.strip().lower() == "all":
        return ["spherical", "diag", "tied", "full"]
    names = []
    for part in spec.split(","):
        name = part.strip()
        if name.lower() in COVARIANCES:
            names.append(name.lower())
        elif name.upper() in ALIASES:
            names.append(ALIASES[name.upper()])
        else:
            choices = ", ".join(["all", *COVARIANCES, *ALIASES])
            raise DataError(f"--covariance {name!r} is unknown; choose from {choices}")
    return list(dict.fromkeys(names))


def parse_columns(spec: str | None) -> list[str] | None:
    """``"a,b"`` -> ``["a", "b"]``; None stays None (all columns)."""
    if spec is None:
        return None
    columns = [c.strip() for c in spec.split(",") if c.strip()]
    if not columns:
        raise DataError(f"--columns {spec!r} names no column")
    return columns


def read_data(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """:func:`emkit.io.read_table`, refusing a file whose header row looks like data.

    A CSV without a header would silently lose its first row to column names.
    """
    frame = read_table(path, columns)
    if columns is None and all(_is_number(c) for c in frame.columns):
        raise DataError(
            f"{path}: the first row ({', '.join(map(str, frame.columns))}) looks like data, "
            "not column names; add a header row"
        )
    return frame


def _is_number(text) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return True


def probability_table(model, x: np.ndarray) -> pd.DataFrame:
    """Label, probability of that label, and p0..p{K-1} for each row of ``x`` (shape (n, d))."""
    proba = model.predict_proba(x)  # (n, k)
    labels = proba.argmax(axis=1)
    table = pd.DataFrame({"label": labels, "probability": proba[np.arange(len(labels)), labels]})
    for j in range(proba.shape[1]):
        table[f"p{j}"] = proba[:, j]
    return table


def run(args: argparse.Namespace) -> int:
    """Run ``emkit fit`` from parsed arguments."""
    return fit_and_report(
        args.data,
        components=args.components,
        covariance=args.covariance,
        columns=parse_columns(args.columns),
        out=args.out,
        criterion=args.criterion,
        n_init=args.n_init,
        seed=args.seed,
        quiet=args.quiet,
    )


def fit_and_report(
    data: str | Path,
    *,
    components: str = DEFAULT_COMPONENTS,
    covariance: str = DEFAULT_COVARIANCE,
    columns: list[str] | None = None,
    out: str | Path = DEFAULT_OUT,
    criterion: str = "bic",
    n_init: int = 1,
    seed: int = 0,
    quiet: bool = False,
    title: str | None = None,
    source: str | None = None,
) -> int:
    """Select a Gaussian mixture for a table, print its summary, write model, assignments, report.

    Parameters
    ----------
    data : path to a .csv or .parquet file.
    components : the ``-k`` spec, e.g. "1-9".
    covariance : the ``--covariance`` spec, e.g. "all" or "tied,VVV".
    columns : columns to use; all when None.
    out : output folder, created if missing.
    criterion : "bic", "aic" or "icl".
    n_init : EM starts per model.
    seed : random seed.
    quiet : no progress bar.
    title : heading of the HTML report.
    source : how to name the data in the report; ``data`` when None.

    Returns
    -------
    0, the exit status. Bad input raises :class:`emkit.DataError`.
    """
    from emkit.report import summarize, write_report

    ks = parse_components(components)
    types = parse_covariances(covariance)
    if n_init < 1:
        raise DataError(f"--n-init must be at least 1; got {n_init}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: exists and is not a folder; name a folder to write into")
    frame = read_data(data, columns)
    names = [str(c) for c in frame.columns]
    x = frame.to_numpy(dtype=np.float64)
    bar = ProgressBar(total=len(ks) * len(types), enabled=not quiet)

    def on_iteration(progress) -> None:
        bar.em_iteration(progress)

    template = GaussianMixture(n_init=n_init, random_state=seed, callback=on_iteration)
    try:
        with bar:
            selection = select_mixture(
                x, ks, types, criterion, estimator=template, callback=bar.models
            )
    except ValueError as exc:
        raise DataError(f"{data}: {exc}") from None
    selection.best_.set_params(callback=None)
    summary = summarize(selection, x, names)
    print(summary)

    try:
        out.mkdir(parents=True, exist_ok=True)
        model_path = out / "model.json"
        named = copy.copy(selection.best_)  # the file records the columns, for emkit predict
        named.feature_names_in_ = np.asarray(names, dtype=object)
        named.save(model_path)
        assignments_path = out / "assignments.csv"
        assignments = pd.concat(
            [frame.reset_index(drop=True), probability_table(selection.best_, x)], axis=1
        )
        assignments.to_csv(assignments_path, index=False)
        paths = write_report(
            selection,
            x,
            names,
            out,
            title=title or f"emkit report: {Path(data).name}",
            source=source or str(data),
            summary=summary,
        )
    except OSError as exc:
        raise DataError(f"cannot write to {out}: {exc.strerror or exc}") from None
    figures = ", ".join(p.name for key, p in paths.items() if key != "report")
    k = selection.best_.n_components
    columns_written = "p0" if k == 1 else f"p0..p{k - 1}"
    print()
    print(f"Wrote to {out}{os.sep}")
    for path, what in (
        (model_path, "the fitted model (emkit.load, emkit predict)"),
        (assignments_path, f"label, probability, {columns_written} per row"),
        (paths["report"], f"summary, table and figures: {figures}"),
    ):
        print(f"  {path.name:<16} {what}")
    return 0
