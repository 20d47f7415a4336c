"""``emkit predict MODEL DATA``: labels and component probabilities for new rows."""

from __future__ import annotations

import argparse

from emkit.atomic import atomic_write
from emkit.cli.cluster import add_options as add_cluster_options
from emkit.cli.cluster import on_cluster
from emkit.cli.fit import (
    add_table_options,
    assignment_rows,
    carried_names,
    check_folder,
    note,
    parse_list,
    probability_table,
    read_features,
    table_options,
)
from emkit.exceptions import DataError

# The model files whose rows the command labels: each has predict_proba of X alone, or, for
# k-means, distances to its centres.
PREDICTABLE = (
    "GaussianMixture",
    "MixtureModel",
    "ZeroInflatedPoisson",
    "KMeans",
    "GenerativeClassifier",
    "BayesianMixture",  # its posterior-averaged probabilities
)
# What --out is written as, by its suffix (a file with none, /dev/stdout say, is CSV).
OUT_FORMATS = {
    "": "csv",
    ".csv": "csv",
    ".txt": "csv",
    ".gz": "gzip",
    ".parquet": "parquet",
    ".pq": "parquet",
}
# What the command uses, loaded while Ctrl-C is held (emkit.cli.main).
MODULES = ("numpy", "pandas", "pyarrow.csv", "emkit.estimators")


def register(subparsers) -> None:
    """Add the ``predict`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "predict",
        help="label new rows with a model written by emkit fit",
        description="Load a model file and write, for each row of the data, its id (when the "
        "table has one), its most probable component (label), that component's probability, "
        "and p0..p{K-1}, as CSV (for a k-means model: the distance to the nearest centre and "
        "d0..d{K-1}; for a classifier: the class and p_<class> for each class). The model's "
        "own columns are read by name, in any order.",
    )
    parser.add_argument("model", help="a model.json written by emkit fit (or model.save)")
    parser.add_argument(
        "data",
        help="a .csv (any delimiter) or .parquet file with a header row, or a folder of "
        ".parquet files",
    )
    parser.add_argument(
        "--columns",
        help="comma-separated columns, in the model's order, to read instead of the model's "
        "own column names (default: the model's names; for a model without names, the numeric "
        "columns)",
    )
    add_table_options(parser, fitting=False)
    parser.add_argument(
        "--out",
        help="file to write: CSV (.csv, .txt, .csv.gz) or Parquet (.parquet, .pq) by its suffix "
        "(default: "
        "CSV on standard output); with --scheduler or --workers a folder, into which the "
        "workers write Parquet files, one per partition",
    )
    add_cluster_options(parser, action="label the rows", data="data")
    parser.set_defaults(func=run, modules=MODULES)


def run(args: argparse.Namespace) -> int:
    """Run ``emkit predict`` from parsed arguments."""
    from emkit.cli.table import check_not_stdin
    from emkit.estimators import load

    cluster = on_cluster(args)  # its options checked before the model is read
    check_not_stdin(args.model, "model")
    check_not_stdin(args.data)
    if not cluster:
        check_out_apart(args)
    try:
        model = load(args.model)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    kind = type(model).__name__
    if kind not in PREDICTABLE:
        raise DataError(
            f"{args.model}: emkit predict labels rows with a clustering or classification model "
            f"({', '.join(PREDICTABLE)}); a {kind} model is used from Python: "
            f"emkit.load({str(args.model)!r}) and its methods"
        )
    n_features = int(model.n_features_in_)
    names = getattr(model, "feature_names_in_", None)
    columns = parse_list(args.columns, "--columns")
    if columns is None and names is not None:
        columns = [str(name) for name in names]  # the columns the model was fitted on, by name
    options = table_options(args)
    if not hasattr(model, "missing"):  # no E-step over missing entries: NaN cannot be scored
        if args.missing == "em":
            raise DataError(
                f"--missing em: a {kind} model cannot score rows with missing values (a "
                "GaussianMixture or GenerativeClassifier can); drop or fill those rows and "
                "leave out --missing em"
            )
        options["missing"] = "unsupported"
    else:
        # By default the model's own setting: a model fitted with --missing em scores rows
        # with missing values as it was fitted on them.
        options["missing"] = model.missing if args.missing is None else args.missing
        if options["missing"] == "em":
            # the same parameters; the E-step integrates each row over its missing entries
            model.set_params(missing="em")
    if cluster:
        return predict_on_cluster(args, model, columns, options)
    # a row with no value keeps its line: probabilities the model's weights, as in Python
    table = read_features(
        args.data,
        columns=columns,
        drop_constant=False,
        excludable=False,
        keep_empty_rows=True,
        **options,
    )
    frame = table.features
    check_width(args, n_features, [str(c) for c in frame.columns])
    if names is None and columns is None:
        note(by_position(table.names))
    if names is not None:
        frame.columns = list(names)  # --columns may name others; the model reads its own
    rows = frame if names is not None else frame.to_numpy()
    if table.ids is not None:
        _, renamed = carried_names([str(table.ids.name)], model)
        if renamed:
            note(renamed)
    try:
        result = probability_table(model, rows, table.ids)
    except ValueError as exc:  # rows the model cannot score, e.g. outside its support
        raise DataError(f"{args.data}: {exc}") from None
    if args.out:
        write_table(result, args.out)
        note(f"wrote {len(result)} rows to {args.out}")
    else:
        from emkit.cli import out

        out(result.to_csv(index=False), end="")
    return 0


def predict_on_cluster(
    args: argparse.Namespace, model, columns: list[str] | None, options: dict
) -> int:
    """``emkit predict`` with ``--scheduler`` or ``--workers``: the rows read (by the reading
    ``options``), checked and labelled on the workers, which write the id, label, probability
    and p0..p{K-1} of each row to the folder ``--out`` (Parquet, one file per partition)."""
    import functools
    from contextlib import ExitStack
    from pathlib import Path

    from emkit.atomic import output_folder
    from emkit.cli import cluster

    if not args.out:
        raise DataError(
            "--out: name a folder for the Parquet files the workers write (with --scheduler "
            "or --workers the predictions do not come back to this process)"
        )
    out = Path(args.out)
    check_folder(out, "--out", "to write into")
    n_features = int(model.n_features_in_)
    with ExitStack() as stack:
        cluster.connect(args, stack)
        table = cluster.read_features(
            args.data,
            columns=columns,
            drop_constant=False,
            excludable=False,
            keep_empty_rows=True,
            **options,
        )
        for line in table.notes:
            note(line)
        check_width(args, n_features, table.names)
        if getattr(model, "feature_names_in_", None) is None and columns is None:
            note(by_position(table.names))
        read = [*([table.ids] if table.ids else []), *table.names]
        if table.ids:
            _, renamed = carried_names([table.ids], model)
            if renamed:
                note(renamed)
        assign = functools.partial(
            assignment_rows, model=model, names=table.names, ident=table.ids, values=False
        )
        try:
            with output_folder(out) as staging:
                cluster.write_assignments(table.frame[read], staging, assign)
        except OSError as exc:
            raise DataError(f"cannot write to {out}: {exc.strerror or exc}") from None
        except ValueError as exc:  # rows the model cannot score, raised on a worker
            raise DataError(f"{args.data}: {exc}") from None
    note(f"wrote {table.summary.n_rows} rows to {out}/ (Parquet, one file per partition)")
    return 0


def out_format(path: str) -> str:
    """How ``--out`` is written, by its suffix: "parquet" (``.parquet``, ``.pq``), "gzip"
    (``.csv.gz``, ``.txt.gz`` or ``.gz``: gzip-compressed CSV) or "csv" (``.csv``, ``.txt`` or
    none).

    Raises
    ------
    DataError
        For another suffix (``.xlsx``, ``.json``, ``.parquet.gz``, ...), which would get CSV
        text under a name that says otherwise.
    """
    from pathlib import Path

    suffixes = [suffix.lower() for suffix in Path(path).suffixes]
    suffix = suffixes[-1] if suffixes else ""
    inner = suffixes[-2] if len(suffixes) > 1 else ""
    if suffix in OUT_FORMATS and (suffix != ".gz" or OUT_FORMATS.get(inner) == "csv"):
        return OUT_FORMATS[suffix]
    raise DataError(
        f"--out {path}: emkit predict writes CSV (.csv, .txt, .csv.gz) or Parquet (.parquet, "
        f".pq), not {''.join(suffixes[-2:]) if suffix == '.gz' else suffix} files; give the "
        "file one of those suffixes"
    )


def write_table(result, path: str) -> None:
    """Write the predictions ``result`` (a DataFrame) to ``path`` whole or not at all, in the
    format of its suffix (:func:`out_format`)."""
    kind = out_format(path)
    try:
        if kind == "csv":
            with atomic_write(path, newline="") as f:
                result.to_csv(f, index=False)
        else:
            with atomic_write(path, "wb") as f:
                if kind == "gzip":
                    result.to_csv(f, index=False, compression={"method": "gzip", "mtime": 0})
                else:
                    result.to_parquet(f, index=False)
    except OSError as exc:
        raise DataError(f"cannot write {path}: {exc.strerror or exc}") from None


def check_out_apart(args: argparse.Namespace) -> None:
    """DataError where ``--out`` is empty, has a suffix of no format the command writes
    (:func:`out_format`), or is the model file or the data file: writing the predictions there
    would replace what they were computed from."""
    import os

    if args.out == "":
        raise DataError(
            "--out '': the path is empty; name the CSV file to write, or leave --out out to "
            "write to standard output"
        )
    if not args.out:
        return
    for flag, path in (("the model", args.model), ("the data", args.data)):
        if os.path.exists(args.out) and os.path.exists(path) and os.path.samefile(args.out, path):
            raise DataError(
                f"--out {args.out} is {flag} file; writing the predictions there would replace "
                "it: choose another file"
            )
    out_format(args.out)


def by_position(names: list[str]) -> str:
    """The note that a model without column names reads the file's columns ``names`` by
    position."""
    from emkit.cli.table import listed

    return (
        f"the model has no column names: its {len(names)} columns were taken by position from "
        f"the file's numeric columns {listed(names)}; --columns names them in the model's order"
    )


def check_width(args: argparse.Namespace, n_features: int, names: list[str]) -> None:
    """DataError where the columns read (``names``) are not the model's ``n_features``."""
    if len(names) != n_features:
        from emkit.cli.table import listed

        how = "with --columns" if args.columns else "with --columns (or --id for an id column)"
        raise DataError(
            f"{args.data}: the model needs {n_features} columns, got {len(names)} "
            f"({listed(names)}); choose {n_features} {how}"
        )
