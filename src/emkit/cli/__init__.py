"""The ``emkit`` command line: one module per subcommand, each with ``register(subparsers)``."""

from __future__ import annotations

import argparse
import os
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
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
