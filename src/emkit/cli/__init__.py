"""The ``emkit`` command line: one module per subcommand, each with ``register(subparsers)``."""

from __future__ import annotations

import argparse
import sys

from emkit.exceptions import DataError


def build_parser() -> argparse.ArgumentParser:
    from emkit.cli import demo, fit, mle, predict

    parser = argparse.ArgumentParser(
        prog="emkit", description="Fit statistical models by MLE, MAP and EM."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (fit, predict, demo, mle):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DataError as exc:
        print(f"emkit: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
