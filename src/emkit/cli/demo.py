"""``emkit demo``: ``emkit fit`` with its defaults on the Old Faithful data shipped with emkit."""

from __future__ import annotations

import argparse

from emkit.cli.fit import DEFAULT_OUT, MODULES, fit_and_report


def register(subparsers) -> None:
    """Add the ``demo`` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "demo",
        help="cluster the Old Faithful geyser data and write a report",
        description="Run emkit fit with its defaults on Old Faithful (272 eruptions: duration "
        "and waiting time, in minutes), shipped with emkit.",
    )
    parser.add_argument(
        "--out", default=DEFAULT_OUT, help=f"output folder (default ./{DEFAULT_OUT})"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run, modules=MODULES)


def run(args: argparse.Namespace) -> int:
    """Run ``emkit demo`` from parsed arguments."""
    from importlib import resources

    data = resources.files("emkit").joinpath("data/faithful.csv")
    with resources.as_file(data) as path:
        return fit_and_report(
            path,
            out=args.out,
            quiet=args.quiet,
            title="emkit demo: Old Faithful eruptions",
            source="Old Faithful geyser, 272 eruptions (emkit/data/faithful.csv)",
            starts="emkit fit with --n-init",  # demo has no options for the fit
        )
